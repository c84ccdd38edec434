//! `POST /v1/check`: many hash checks in one request, for hosting providers that hash their
//! own objects (`schoon hash --dihedral --windows`) and check them in batches.
//!
//! The body is NDJSON: each non-empty line is one JSON object with any subset of the hashes
//! `/v1/confirm` takes, the caller's object `id` (1 to [`MAX_ID_BYTES`] bytes; without it the
//! `path` that `schoon hash` prints serves) and optionally the `url` the object is served at.
//! The other fields `schoon hash` prints ([`IGNORED_FIELDS`]) are accepted and ignored; any
//! other field is an error of that line. The answer has exactly one NDJSON line per non-empty
//! input line, in input order: the verdict of the line, or its error; one bad line never
//! fails the others. A body over `CHECK_MAX_BYTES` or with more than `CHECK_MAX_LINES`
//! non-empty lines is refused whole (413) before anything is checked or counted.
//!
//! ```
//! use schoon_worker::bulk::{non_empty_lines, parse_line};
//!
//! let body = b"{\"id\":\"a.jpg\",\"md5\":\"00000000000000000000000000000000\"}\n\n{\"id\":\"b\",\"md5\":\"xyz\"}\n";
//! let lines: Vec<_> = non_empty_lines(body).collect();
//! assert_eq!(lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 3]);
//! let first = parse_line(lines[0].1);
//! assert_eq!(first.id.as_deref(), Some("a.jpg"));
//! assert!(first.parsed.is_ok());
//! let second = parse_line(lines[1].1);
//! assert_eq!(second.id.as_deref(), Some("b"));
//! assert!(second.parsed.unwrap_err().to_string().starts_with("md5: invalid md5 hash 'xyz'"));
//! ```

use futures_util::{StreamExt, stream};
use schoon_core::PdqHash;
use schoon_core::set::Query;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::{App, VerdictBody};
use crate::artifact::LoadedIndex;
use crate::auth::{self, Need};
use crate::backend::Backend;
use crate::error::{ApiError, ErrorBody};
use crate::http::NDJSON;
use crate::http::{Deferred, Head, Outcome, Reply, Response};
pub use crate::query::MAX_ID_BYTES;
use crate::query::{self, HashesIn};
use crate::sets;
use crate::shards;
use crate::subject::Subject;
use crate::tenant::{Principal, Scope, TenantRecord};

/// Fields of `schoon hash` output that a line may carry and the check ignores (the file's
/// path, size, dimensions, format, region, a hashing error, and the secondary perceptual
/// hashes of `--algo`).
pub const IGNORED_FIELDS: &[&str] = &[
    "path",
    "bytes",
    "width",
    "height",
    "format",
    "region",
    "error",
    "ahash",
    "median",
    "dhash",
    "dhash_vertical",
    "dhash_double",
    "blockhash",
    "phash",
    "median_dct",
];

/// How many lines' receipts are written at once: the Workers runtime keeps at most six
/// connections (KV included) open per request, more would only wait.
pub const CONCURRENT_LINES: usize = 6;

/// A line ready to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkable {
    /// The hashes.
    pub query: Query,
    /// Region window hashes (looked up when no whole-image PDQ match stands).
    pub windows: Vec<PdqHash>,
    /// The receipt subject: the line's id and URL.
    pub subject: Subject,
}

/// One line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// The line's id (its `id`, else its `path`) when it could be read, also for a bad line.
    pub id: Option<String>,
    /// What to look up, or why the line cannot be checked.
    pub parsed: Result<Checkable, ApiError>,
}

/// The non-empty lines of a body (whitespace-only lines are empty), with their 1-based line
/// numbers in the body.
pub fn non_empty_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_ascii()))
        .filter(|(_, line)| !line.is_empty())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field of a line: absent, or a string (anything else is an error naming it).
fn text_field(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::Invalid(format!(
            "{name} must be a string, got {} {other}",
            kind_of(&other)
        ))),
    }
}

/// The checkable form of a line's object, whose id (`field`: `id` or `path`) was taken out.
fn checkable(
    field: &str,
    raw: Option<Value>,
    mut map: Map<String, Value>,
) -> Result<Checkable, ApiError> {
    let id = match raw {
        None => {
            return Err(ApiError::Invalid(
                "missing id: give each line an \"id\" (or the \"path\" schoon hash prints)".into(),
            ));
        }
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "{field} must be a string, got {} {other}",
                kind_of(&other)
            )));
        }
    };
    query::check_id(field, &id)?;
    let url = text_field(&mut map, "url")?;
    for name in IGNORED_FIELDS {
        map.remove(*name);
    }
    let hashes: HashesIn =
        serde_json::from_value(Value::Object(map)).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let query = hashes.to_query()?;
    let windows = hashes.windows()?;
    let subject = query::subject(Some(&id), url.as_deref())?;
    Ok(Checkable { query, windows, subject })
}

/// Parses one line: a JSON object of hashes with its id (see the module documentation).
pub fn parse_line(line: &[u8]) -> ParsedLine {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return ParsedLine {
                id: None,
                parsed: Err(ApiError::BadRequest(format!("malformed JSON: {e}"))),
            };
        }
    };
    let Value::Object(mut map) = value else {
        let got = kind_of(&value);
        return ParsedLine {
            id: None,
            parsed: Err(ApiError::Invalid(format!("a line must be a JSON object, got {got}"))),
        };
    };
    // The id: `id`, else `path`; readable (echoed in the answer) when it is a valid id.
    let path = map.remove("path");
    let (field, raw) = match map.remove("id") {
        Some(id) => ("id", Some(id)),
        None => ("path (the id when there is none)", path),
    };
    let readable = raw
        .as_ref()
        .and_then(Value::as_str)
        .filter(|s| query::check_id(field, s).is_ok())
        .map(str::to_owned);
    let parsed = checkable(field, raw, map);
    ParsedLine { id: readable, parsed }
}

/// One line of a `/v1/check` answer: the input line's number and id, then its verdict or
/// its error.
#[derive(Debug, Serialize)]
pub(crate) struct LineAnswer {
    /// The line's number in the request body (from 1, empty lines counted).
    pub(crate) line: usize,
    /// The caller's `id` (or `path`); `null` on a verdict line without one, left out on an
    /// error line without one.
    #[serde(skip_serializing_if = "Id::is_absent")]
    pub(crate) id: Id,
    /// The verdict, or `error` with the reason.
    #[serde(flatten)]
    pub(crate) outcome: LineOutcome,
}

/// A line's id as answered (see [`LineAnswer::id`]).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Id {
    /// Written as the caller gave it, or `null`.
    Given(Option<String>),
    /// Left out.
    #[serde(skip)]
    Absent,
}

impl Id {
    fn is_absent(&self) -> bool {
        matches!(self, Id::Absent)
    }
}

/// What a line came to.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum LineOutcome {
    /// Checked: `match` (with receipts) or `clean`.
    Verdict(VerdictBody),
    /// Not checked: `{"verdict": "error", "error": {status, code, message}}`.
    Error {
        /// Always `error`.
        verdict: &'static str,
        /// Why.
        error: ErrorBody,
    },
}

/// The answer line of a line that could not be checked.
pub(crate) fn error_line(number: usize, id: Option<&str>, error: &ApiError) -> LineAnswer {
    LineAnswer {
        line: number,
        id: id.map_or(Id::Absent, |id| Id::Given(Some(id.to_owned()))),
        outcome: LineOutcome::Error { verdict: "error", error: error.body() },
    }
}

impl<B: Backend> App<'_, B> {
    /// The tenant of a `/v1/check`: a server key (a browser key is 403).
    async fn bulk_tenant(&self, head: &Head) -> Result<TenantRecord, ApiError> {
        let p =
            auth::authenticate(head, Need::Check, self.config, self.isolate, self.backend).await?;
        match p {
            Principal::Tenant { tenant, scope: Scope::Server } => Ok(tenant),
            Principal::Tenant { scope: Scope::Browser, .. } => Err(ApiError::Forbidden(
                "a browser key cannot use /v1/check: use a server key".into(),
            )),
            Principal::Admin => Err(ApiError::Forbidden("the admin key cannot make checks".into())),
        }
    }

    /// The answer line of one input line, and the counter flush its check scheduled.
    async fn answer_line(
        &self,
        tenant: &TenantRecord,
        loaded: &LoadedIndex,
        number: usize,
        line: &[u8],
    ) -> (LineAnswer, Vec<Deferred>) {
        let ParsedLine { id, parsed } = parse_line(line);
        let c = match parsed {
            Ok(c) => c,
            Err(e) => return (error_line(number, id.as_deref(), &e), Vec::new()),
        };
        let options = &self.config.match_options;
        let matches = match shards::lookup(
            self.backend,
            loaded,
            &tenant.policy,
            &c.query,
            &c.windows,
            options,
        )
        .await
        {
            Ok(m) => m,
            Err(e) => return (error_line(number, id.as_deref(), &e), Vec::new()),
        };
        let version = loaded.meta.version;
        match self.verdict(&tenant.tenant, &c.query, &matches, version, &c.subject).await {
            Err(e) => (error_line(number, id.as_deref(), &e), Vec::new()),
            Ok(v) => {
                let mut body = v.body;
                if !v.matched {
                    body.receipts = None;
                }
                let answer = LineAnswer {
                    line: number,
                    id: Id::Given(id),
                    outcome: LineOutcome::Verdict(body),
                };
                (answer, v.deferred)
            }
        }
    }

    /// `POST /v1/check`. The tenant's rate limit is taken once for the whole request;
    /// counters and receipts are per line.
    pub(crate) async fn bulk_check(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        let tenant = self.bulk_tenant(head).await?;
        let max = self.config.check_max_lines;
        let count = non_empty_lines(body).count();
        if count > max {
            return Err(ApiError::TooMany {
                what: "check body",
                items: "non-empty lines",
                count: count as u64,
                max: max as u64,
                setting: "CHECK_MAX_LINES",
            });
        }
        auth::rate_limit(&tenant, self.config, self.isolate, self.backend).await?;
        let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
        let version = loaded.meta.version;
        // Lines are answered in order; the receipts of up to CONCURRENT_LINES lines are
        // written at once (clean lines do no I/O at all).
        let answers: Vec<(LineAnswer, Vec<Deferred>)> = stream::iter(non_empty_lines(body))
            .map(|(number, line)| self.answer_line(&tenant, &loaded, number, line))
            .buffered(CONCURRENT_LINES)
            .collect()
            .await;
        let mut out = String::new();
        let mut deferred = Vec::new();
        for (answer, d) in answers {
            let line = serde_json::to_string(&answer).map_err(|e| {
                ApiError::Internal(format!("an answer line did not serialize: {e}"))
            })?;
            out.push_str(&line);
            out.push('\n');
            deferred.extend(d);
        }
        let response = Response::text(200, NDJSON, out)
            .with_header("x-schoon-set-version", &version.to_string());
        Ok(Reply { outcome: Outcome::Respond(response), deferred })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    fn error_of(line: &str) -> (Option<String>, u16, String) {
        let p = parse_line(line.as_bytes());
        let e = p.parsed.unwrap_err();
        (p.id, crate::error::status_for(&e), e.to_string())
    }

    #[test]
    fn lines_are_numbered_in_the_body() {
        let body = b"  \r\n{}\r\n\n\t\n{}";
        let numbers: Vec<usize> = non_empty_lines(body).map(|(n, _)| n).collect();
        assert_eq!(numbers, [2, 5]);
        assert_eq!(non_empty_lines(b"").count(), 0);
    }

    #[test]
    fn schoon_hash_output_is_a_line() {
        let line = json!({
            "path": "dir/a.jpg", "bytes": 5, "md5": "00".repeat(16), "sha1": "00".repeat(20),
            "sha256": "00".repeat(32), "pdq": PDQ, "quality": 90, "width": 4, "height": 3,
            "pdq_dihedral": vec![PDQ; 8], "windows": [PDQ], "phash": "0011223344556677",
        });
        let p = parse_line(line.to_string().as_bytes());
        assert_eq!(p.id.as_deref(), Some("dir/a.jpg"));
        let c = p.parsed.unwrap();
        assert_eq!(c.subject.object_id.as_deref(), Some("dir/a.jpg"));
        assert_eq!(c.windows.len(), 1);
        assert_eq!(c.query.pdq.map(|q| q.variants.len()), Some(8));
        // `id` wins over `path`, and the url is kept as fetch reads it.
        let line =
            json!({"id": "x", "path": "p", "url": "https://Example.com/a", "md5": "00".repeat(16)});
        let c = parse_line(line.to_string().as_bytes()).parsed.unwrap();
        assert_eq!(c.subject.object_id.as_deref(), Some("x"));
        assert_eq!(c.subject.url.as_deref(), Some("https://example.com/a"));
    }

    #[test]
    fn bad_lines_say_why_and_keep_a_readable_id() {
        let md5 = "00".repeat(16);
        assert_eq!(error_of("{").1, 400);
        assert!(error_of("{").2.starts_with("malformed JSON: "));
        assert_eq!(error_of("[1]").2, "a line must be a JSON object, got an array");
        let (id, status, message) = error_of(&format!(r#"{{"id":"a","md5":"{md5}","colour":1}}"#));
        assert_eq!((id.as_deref(), status), (Some("a"), 422));
        assert!(message.contains("unknown field `colour`"), "{message}");
        let (id, _, message) = error_of(&format!(r#"{{"md5":"{md5}"}}"#));
        assert_eq!(id, None);
        assert!(message.starts_with("missing id"), "{message}");
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let (id, _, message) = error_of(&format!(r#"{{"id":"{long}","md5":"{md5}"}}"#));
        assert_eq!(id, None, "an over-long id is not echoed");
        assert_eq!(message, "id has 513 bytes, at most 512 are accepted");
        let (_, _, message) = error_of(&format!(r#"{{"path":"","md5":"{md5}"}}"#));
        assert_eq!(message, "path (the id when there is none) is empty (1 to 512 bytes)");
        let (_, _, message) = error_of(&format!(r#"{{"id":7,"md5":"{md5}"}}"#));
        assert_eq!(message, "id must be a string, got a number 7");
        let (id, _, message) =
            error_of(&format!(r#"{{"id":"b","md5":"{md5}","url":"http://192.168.0.1/x"}}"#));
        assert_eq!(id.as_deref(), Some("b"));
        assert!(message.contains("'http://192.168.0.1/x' names a private"), "{message}");
        let (_, _, message) = error_of(r#"{"id":"c","sha1":"zz"}"#);
        assert!(message.starts_with("sha1: invalid sha1 hash 'zz'"), "{message}");
        let (_, _, message) = error_of(r#"{"id":"d","path":"p.jpg","error":"unreadable"}"#);
        assert!(message.starts_with("no hash given"), "{message}");
    }

    #[test]
    fn error_lines_carry_status_code_and_id() {
        let v =
            serde_json::to_value(error_line(3, Some("d.jpg"), &ApiError::Invalid("bad".into())))
                .unwrap();
        assert_eq!(
            v,
            json!({"line": 3, "id": "d.jpg", "verdict": "error",
                   "error": {"status": 422, "code": "invalid", "message": "bad"}})
        );
        let v = serde_json::to_value(error_line(1, None, &ApiError::Invalid("x".into()))).unwrap();
        assert!(v.get("id").is_none());
    }
}
