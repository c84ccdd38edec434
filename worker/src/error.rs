//! Every error the worker answers with, and the one place that maps errors to HTTP statuses.
//!
//! | error | status | code |
//! |---|---|---|
//! | malformed request (bad JSON syntax, bad header) | 400 | `bad_request` |
//! | well-formed but invalid values (bad hex, unknown field, no hash) | 422 | `invalid` |
//! | core [`ErrorKind::BadInput`] (corrupt image, tampered or malformed set, bad receipt) | 422 | `bad_input` |
//! | core stale set (not newer than the one held) | 409 | `stale` |
//! | conflict (filter newer than the index, same version with other bytes) | 409 | `conflict` |
//! | body over the route's limit (bytes or items), core [`ErrorKind::Limit`] | 413 | `too_large` / `limit` |
//! | wrong `Content-Type`, core [`ErrorKind::Unsupported`] | 415 | `unsupported_media` / `unsupported` |
//! | core [`ErrorKind::Caller`] | 400 | `caller` |
//! | no or unknown credentials | 401 | `unauthorized` |
//! | credentials without the right (scope, disabled tenant, admin off) | 403 | `forbidden` |
//! | no such route or object | 404 | `not_found` |
//! | route exists, method does not | 405 | `method_not_allowed` |
//! | rate limited | 429 | `rate_limited` |
//! | a match in gate mode | 451 | (a verdict, not an error) |
//! | origin unreachable (gate) | 502 | `bad_gateway` |
//! | no set published, set stale, storage unavailable, configuration invalid | 503 | `unavailable` |
//! | a bug | 500 | `internal` |
//!
//! The body is always `{"error": {"status", "code", "message"}}`.

use std::fmt;

use schoon_core::{BadInput, ErrorKind};
use serde_json::json;

use crate::http::{Method, Response};

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request is malformed (400).
    BadRequest(String),
    /// The request is well-formed but its values are invalid (422).
    Invalid(String),
    /// The body exceeds the route's limit (413).
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit in bytes.
        max: u64,
    },
    /// The body holds more items than the route takes (413).
    TooMany {
        /// What was too large (`"check body"`).
        what: &'static str,
        /// What was counted, plural (`"non-empty lines"`).
        items: &'static str,
        /// How many the body holds.
        count: u64,
        /// The most accepted.
        max: u64,
        /// The setting that holds the limit.
        setting: &'static str,
    },
    /// The body's media type is not accepted by the route (415).
    UnsupportedMedia(String),
    /// Credentials are missing or unknown (401).
    Unauthorized(String),
    /// Credentials do not allow this (403).
    Forbidden(String),
    /// Nothing here (404).
    NotFound(String),
    /// The route exists with other methods (405).
    MethodNotAllowed(&'static [Method]),
    /// The request conflicts with the current state (409).
    Conflict(String),
    /// Too many requests (429).
    RateLimited {
        /// Seconds until a request may succeed.
        retry_after: u64,
    },
    /// The origin did not answer (502).
    BadGateway(String),
    /// The service cannot answer now (503).
    Unavailable {
        /// Why.
        reason: String,
        /// Seconds after which to retry, when known.
        retry_after: Option<u64>,
    },
    /// A bug or an unexpected runtime failure (500).
    Internal(String),
    /// An error of the core, mapped by its kind.
    Core(schoon_core::Error),
}

impl From<schoon_core::Error> for ApiError {
    fn from(e: schoon_core::Error) -> Self {
        ApiError::Core(e)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Invalid(m)
            | ApiError::UnsupportedMedia(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::BadGateway(m)
            | ApiError::Internal(m) => f.write_str(m),
            ApiError::TooLarge { what, max } => {
                write!(f, "{what} exceeds the limit of {max} bytes")
            }
            ApiError::TooMany { what, items, count, max, setting } => {
                write!(f, "{what} has {count} {items}, at most {max} are accepted ({setting})")
            }
            ApiError::MethodNotAllowed(allowed) => {
                let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                write!(f, "method not allowed here; allowed: {}", names.join(", "))
            }
            ApiError::RateLimited { retry_after } => {
                write!(f, "rate limit reached; retry in {retry_after} s")
            }
            ApiError::Unavailable { reason, .. } => f.write_str(reason),
            ApiError::Core(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ApiError {}

/// The HTTP status of an error: the one place statuses are decided.
pub fn status_for(e: &ApiError) -> u16 {
    match e {
        ApiError::BadRequest(_) => 400,
        ApiError::Invalid(_) => 422,
        ApiError::TooLarge { .. } | ApiError::TooMany { .. } => 413,
        ApiError::UnsupportedMedia(_) => 415,
        ApiError::Unauthorized(_) => 401,
        ApiError::Forbidden(_) => 403,
        ApiError::NotFound(_) => 404,
        ApiError::MethodNotAllowed(_) => 405,
        ApiError::Conflict(_) => 409,
        ApiError::RateLimited { .. } => 429,
        ApiError::BadGateway(_) => 502,
        ApiError::Unavailable { .. } => 503,
        ApiError::Internal(_) => 500,
        ApiError::Core(schoon_core::Error::BadInput(BadInput::Stale { .. })) => 409,
        ApiError::Core(c) => match c.kind() {
            ErrorKind::BadInput => 422,
            ErrorKind::Limit => 413,
            ErrorKind::Unsupported => 415,
            ErrorKind::Caller => 400,
        },
    }
}

/// A stable machine-readable code for an error.
pub fn code_for(e: &ApiError) -> &'static str {
    match e {
        ApiError::BadRequest(_) => "bad_request",
        ApiError::Invalid(_) => "invalid",
        ApiError::TooLarge { .. } | ApiError::TooMany { .. } => "too_large",
        ApiError::UnsupportedMedia(_) => "unsupported_media",
        ApiError::Unauthorized(_) => "unauthorized",
        ApiError::Forbidden(_) => "forbidden",
        ApiError::NotFound(_) => "not_found",
        ApiError::MethodNotAllowed(_) => "method_not_allowed",
        ApiError::Conflict(_) => "conflict",
        ApiError::RateLimited { .. } => "rate_limited",
        ApiError::BadGateway(_) => "bad_gateway",
        ApiError::Unavailable { .. } => "unavailable",
        ApiError::Internal(_) => "internal",
        ApiError::Core(schoon_core::Error::BadInput(BadInput::Stale { .. })) => "stale",
        ApiError::Core(c) => c.kind().as_str(),
    }
}

/// The `error` object of every answer that failed: a whole response, a scan that could not
/// hash, one line of `/v1/check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorBody {
    /// The HTTP status the error maps to.
    pub status: u16,
    /// The stable code ([`code_for`]).
    pub code: &'static str,
    /// The lowercase message naming the bad value.
    pub message: String,
}

impl ApiError {
    /// The `{status, code, message}` object of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { status: status_for(self), code: code_for(self), message: self.to_string() }
    }

    /// The error as a JSON response with the headers its status calls for.
    pub fn to_response(&self) -> Response {
        let error = self.body();
        let status = error.status;
        let mut r = Response::json(status, &json!({ "error": error }));
        match self {
            ApiError::Unauthorized(_) => r.set_header("www-authenticate", "Bearer"),
            ApiError::MethodNotAllowed(allowed) => {
                let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                r.set_header("allow", &names.join(", "));
            }
            ApiError::RateLimited { retry_after }
            | ApiError::Unavailable { retry_after: Some(retry_after), .. } => {
                r.set_header("retry-after", &retry_after.to_string());
            }
            _ => {}
        }
        r
    }

    /// A shorthand for a 503 about storage.
    pub fn storage(e: impl fmt::Display) -> ApiError {
        ApiError::Unavailable { reason: format!("storage unavailable: {e}"), retry_after: Some(1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schoon_core::{LimitExceeded, LimitKind, Unsupported};

    #[test]
    fn core_errors_map_by_kind() {
        let core = |e: schoon_core::Error| status_for(&ApiError::Core(e));
        assert_eq!(core(schoon_core::Error::BadInput(BadInput::Empty)), 422);
        assert_eq!(
            core(schoon_core::Error::BadInput(BadInput::Stale { offered: 1, held: 2 })),
            409
        );
        let limit = LimitExceeded { kind: LimitKind::Pixels, value: 9, max: 1 };
        assert_eq!(core(schoon_core::Error::Limit(limit)), 413);
        let unsupported = Unsupported::Format { name: "tiff".into() };
        assert_eq!(core(schoon_core::Error::Unsupported(unsupported)), 415);
        let caller = "zz".parse::<schoon_core::Md5>().unwrap_err();
        assert_eq!(core(caller), 400);
    }

    #[test]
    fn responses_carry_their_headers() {
        let r = ApiError::MethodNotAllowed(&[Method::Get, Method::Head]).to_response();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        let r = ApiError::RateLimited { retry_after: 3 }.to_response();
        assert_eq!((r.status, r.header("retry-after")), (429, Some("3")));
        let r = ApiError::Unauthorized("no key".into()).to_response();
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        let body = r.json_body();
        assert_eq!(body["error"]["code"], "unauthorized");
        assert_eq!(body["error"]["status"], 401);
        assert_eq!(body["error"]["message"], "no key");
    }
}
