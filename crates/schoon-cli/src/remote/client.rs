//! The worker's HTTP client: base URL checks, retries with backoff, and the `/v1/check`
//! request.

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;
use ureq::http::Response;

/// The worker's documented `CHECK_MAX_LINES` default: the most lines one request may carry.
pub const CHECK_MAX_LINES: usize = 1000;
/// The worker's documented `CHECK_MAX_BYTES` default: the largest request body.
pub const CHECK_MAX_BYTES: usize = 1 << 20;
/// The largest `/v1/check` answer read (a line per candidate, receipts included).
const MAX_ANSWER_BYTES: u64 = 64 << 20;
/// The longest wait between two attempts (also caps `Retry-After`).
const MAX_WAIT: Duration = Duration::from_secs(120);

/// A failed request, as a lowercase message.
#[derive(Debug)]
pub struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// The worker's address, key and retry policy.
pub struct Client {
    /// The base URL, without a trailing slash.
    pub base: String,
    origin: String,
    api_key: String,
    agent: ureq::Agent,
    retries: u32,
    backoff: Duration,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Retries sent.
    pub retried: u64,
}

/// Splits `http(s)://host[:port][/prefix]` into the base (no trailing slash) and the origin,
/// refusing plain http except to the loopback host.
fn parse_base(url: &str) -> Result<(String, String)> {
    let base = url.trim_end_matches('/');
    let (scheme, rest) = match base.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {
            (s.to_ascii_lowercase(), r)
        }
        _ => bail!("--remote {url}: not an http or https URL"),
    };
    if rest.contains(['?', '#']) {
        bail!("--remote {url}: a base URL has no query or fragment");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        bail!("--remote {url}: no host (or credentials in the URL)");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "::1";
    if scheme == "http" && !loopback {
        bail!("--remote {url}: plain http would send the API key in the clear; use https");
    }
    Ok((format!("{scheme}://{rest}"), format!("{scheme}://{authority}")))
}

/// The `Retry-After` of an answer, when it is a number of seconds.
fn retry_after(resp: &Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A random point in [d/2, d] (jitter spreads the retries of many clients).
fn jitter(d: Duration) -> Duration {
    let r = getrandom::u64().unwrap_or(0) % 1_000_001;
    let half = d / 2;
    half + Duration::from_nanos((half.as_nanos() as u64).saturating_mul(r) / 1_000_000)
}

/// The message of a worker's error body (`{"error": {"code", "message"}}`), if it has one.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
    let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
    Some(format!("{code}: {message}"))
}

impl Client {
    /// A client of the worker at `url`: `retries` more attempts after the first, from a
    /// `backoff` doubled per retry; `timeout` for one request.
    pub fn new(
        url: &str,
        api_key: String,
        retries: u32,
        backoff: Duration,
        timeout: Duration,
    ) -> Result<Client> {
        let (base, origin) = parse_base(url)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(timeout.max(Duration::from_secs(1))))
            .user_agent(concat!("schoon/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            base,
            origin,
            api_key,
            agent: config.into(),
            retries,
            backoff,
            requests: 0,
            retried: 0,
        })
    }

    /// A path or URL from the worker (a `Location`) made absolute.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("https://") || location.starts_with("http://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// Runs `call` until it answers with something other than 429 or 5xx and without a
    /// connection failure, at most `1 + retries` times.
    pub fn with_retries(
        &mut self,
        what: &str,
        mut call: impl FnMut(&ureq::Agent) -> std::result::Result<Response<ureq::Body>, ureq::Error>,
    ) -> std::result::Result<Response<ureq::Body>, Failure> {
        let attempts = self.retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests += 1;
            let (why, after) = match call(&self.agent) {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    if s != 429 && !(500..=599).contains(&s) {
                        return Ok(resp);
                    }
                    let after = retry_after(&resp);
                    let mut resp = resp;
                    let body = resp.body_mut().with_config().limit(64 << 10).read_to_vec();
                    let detail = body.ok().and_then(|b| error_message(&b));
                    let why = match detail {
                        Some(d) => format!("http {s} ({d})"),
                        None => format!("http {s}"),
                    };
                    (why, after)
                }
                Err(e) if retryable(&e) => (format!("{e}").to_lowercase(), None),
                Err(e) => return Err(Failure(format!("{what}: {}", e.to_string().to_lowercase()))),
            };
            if attempt >= attempts {
                return Err(Failure(format!("{what}: {why} (attempt {attempt} of {attempts})")));
            }
            self.retried += 1;
            let backoff = self.backoff.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_WAIT);
            let wait = jitter(backoff).max(after.unwrap_or_default()).min(MAX_WAIT);
            std::thread::sleep(wait);
        }
    }

    /// One `/v1/check` request: the answer line for each request line, in order.
    /// `body` holds `lines` request lines.
    pub fn check(
        &mut self,
        body: &[u8],
        lines: usize,
    ) -> std::result::Result<Vec<std::result::Result<Value, String>>, Failure> {
        let url = format!("{}/v1/check", self.base);
        let auth = format!("Bearer {}", self.api_key);
        let mut resp = self.with_retries("post /v1/check", |a| {
            a.post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/x-ndjson")
                .header("accept", "application/x-ndjson")
                .send(body)
        })?;
        let status = resp.status().as_u16();
        let text =
            resp.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_vec().map_err(|e| {
                Failure(format!("post /v1/check: {}", e.to_string().to_lowercase()))
            })?;
        if status != 200 {
            let detail = error_message(&text).map(|d| format!(" ({d})")).unwrap_or_default();
            return Err(Failure(format!("post /v1/check: http {status}{detail}")));
        }
        let mut out: Vec<std::result::Result<Value, String>> =
            vec![Err("the worker did not answer this line".to_owned()); lines];
        for raw in text.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
            let v: Value = serde_json::from_slice(raw)
                .map_err(|e| Failure(format!("post /v1/check: an answer line is not json: {e}")))?;
            let line = v.get("line").and_then(Value::as_u64).unwrap_or(0) as usize;
            if let Some(slot) = line.checked_sub(1).and_then(|i| out.get_mut(i)) {
                *slot = Ok(v);
            }
        }
        Ok(out)
    }
}

/// Transport failures worth another attempt (not bad URLs or TLS misconfiguration).
fn retryable(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base("https://w.example/pre/").unwrap(),
            ("https://w.example/pre".to_owned(), "https://w.example".to_owned())
        );
        assert!(parse_base("http://127.0.0.1:8787").is_ok());
        assert!(parse_base("http://[::1]:8787").is_ok());
        assert!(parse_base("http://w.example").is_err());
        assert!(parse_base("ftp://w.example").is_err());
        assert!(parse_base("https://u:p@w.example").is_err());
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j <= Duration::from_millis(1000));
        }
    }
}
