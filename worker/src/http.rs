//! Plain request and response values: what the handler reads and decides, independent of the
//! Workers runtime (the adapter in `glue.rs` converts to and from `worker::Request/Response`).

use serde_json::Value;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// Anything else (refused with 405 where a route exists).
    Other,
}

impl Method {
    /// Parses a method name (case-sensitive, as HTTP defines it).
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }

    /// Whether requests of this method carry an upload (gate mode checks these).
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

/// The parts of a request that are known before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method.
    pub method: Method,
    /// The path, as sent (percent-encoded), starting with `/`.
    pub path: String,
    /// The query string without `?` (may be empty).
    pub query: String,
    /// Header names (any case) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// A request head without headers.
    pub fn new(method: Method, path_and_query: &str) -> Head {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path_and_query, ""),
        };
        Head { method, path: path.to_owned(), query: query.to_owned(), headers: Vec::new() }
    }

    /// Adds a header (builder style, for tests and the adapter).
    pub fn with_header(mut self, name: &str, value: &str) -> Head {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `Content-Length`, when present and a number.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }

    /// The media type of `Content-Type` (`type/subtype`, lowercase, without parameters).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type")
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
    }

    /// A query parameter, percent-decoded (`+` as space). The first occurrence wins.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }

    /// The bearer token of `Authorization`, if any.
    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?.trim();
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
    }
}

/// Decodes `%XX` escapes and `+` (invalid escapes are kept as they are; invalid UTF-8 is
/// replaced).
pub fn percent_decode(s: &str) -> String {
    // `+` first: a `%2B` stays a literal plus.
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The media type of `/v1/check` request and answer bodies (NDJSON, see `bulk`).
pub const NDJSON: &str = "application/x-ndjson";

/// A response decided by the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response.
    pub fn empty(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A JSON response (`application/json; charset=utf-8`, not cacheable).
    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        // The worker's bodies are structs and string-keyed maps, which always serialize; the
        // fallback only keeps a future mistake from panicking the isolate.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| {
            br#"{"error":{"status":500,"code":"internal","message":"the answer did not serialize"}}"#
                .to_vec()
        });
        Response::empty(status)
            .with_header("content-type", "application/json; charset=utf-8")
            .with_header("cache-control", "no-store")
            .with_body(body)
    }

    /// A text response of the given media type.
    pub fn text(status: u16, content_type: &str, text: String) -> Response {
        Response::empty(status)
            .with_header("content-type", content_type)
            .with_header("cache-control", "no-store")
            .with_body(text.into_bytes())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets or replaces a header.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Response {
        self.body = body;
        self
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (`Value::Null` when it is not JSON; for tests and logs).
    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A request to the origin (gate mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Absolute URL at the origin.
    pub url: String,
    /// The original method.
    pub method: Method,
    /// The original headers less hop-by-hop and `x-schoon-*` ones, plus the verdict headers.
    pub headers: Vec<(String, String)>,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answer with this response.
    Respond(Response),
    /// Answer with these status and headers and the bytes of a stored object (the adapter
    /// streams it from R2 without copying it through wasm memory).
    Blob {
        /// The object key.
        key: String,
        /// Status and headers; the body is the object's.
        head: Response,
    },
    /// Send the buffered upload to the origin and answer with the origin's response.
    Forward {
        /// Where and how.
        forward: Forward,
        /// The upload, exactly as received.
        body: Vec<u8>,
    },
    /// Send the request to the origin with its body unread (an oversized upload that the
    /// configuration lets through unchecked).
    ForwardUnread(Forward),
}

impl Outcome {
    /// The response of `Respond` and the head of `Blob` (for tests).
    pub fn response(&self) -> Option<&Response> {
        match self {
            Outcome::Respond(r) | Outcome::Blob { head: r, .. } => Some(r),
            _ => None,
        }
    }
}

/// Work to run after the response is sent (the adapter hands it to `ctx.waitUntil`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// Write this isolate's counter shard of a tenant after a delay (KV takes one write per
    /// key and second).
    FlushCounters {
        /// The tenant.
        tenant: String,
        /// The UTC day (`YYYY-MM-DD`) of the shard.
        day: String,
        /// Milliseconds to wait first.
        after_ms: u64,
    },
}

/// The handler's answer: an outcome and work for later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// What to answer.
    pub outcome: Outcome,
    /// What to do after answering.
    pub deferred: Vec<Deferred>,
}

impl Reply {
    /// A reply with a response and nothing deferred.
    pub fn respond(response: Response) -> Reply {
        Reply { outcome: Outcome::Respond(response), deferred: Vec::new() }
    }
}

/// Header names that describe one connection and are not forwarded (RFC 9110 7.6.1), plus
/// those the runtime sets itself.
pub const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
    "expect",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_headers() {
        let h = Head::new(Method::Get, "/v1/receipts?status=open&older_than=60&x=a%20b+c&bad=%zz")
            .with_header("Authorization", "Bearer  sk_abc ")
            .with_header("Content-Type", "Application/JSON; charset=utf-8");
        assert_eq!(h.path, "/v1/receipts");
        assert_eq!(h.param("status").as_deref(), Some("open"));
        assert_eq!(h.param("x").as_deref(), Some("a b c"));
        assert_eq!(h.param("bad").as_deref(), Some("%zz"));
        assert_eq!(h.param("missing"), None);
        assert_eq!(h.bearer(), Some("sk_abc"));
        assert_eq!(h.media_type().as_deref(), Some("application/json"));
        assert_eq!(
            Head::new(Method::Get, "/").with_header("authorization", "Basic x").bearer(),
            None
        );
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("a+b%2B%zz%4"), "a b+%zz%4");
    }
}
