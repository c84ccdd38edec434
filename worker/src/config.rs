//! The worker's configuration: every variable, its default and its check, in one place.
//!
//! Values come from `wrangler.toml` `[vars]` and from secrets (`wrangler secret put`); the
//! adapter passes a lookup function, tests pass a map. An invalid value makes every route
//! answer 503 naming the variable: a misconfigured worker must not look healthy.

use schoon_core::set::{MatchOptions, Trust};
use schoon_core::{Limits, PublicKey, SigningKey};

use crate::error::ApiError;

/// What to do with an upload the gate cannot fully check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Fail closed: answer with an error and forward nothing.
    Reject,
    /// Fail open: forward it, marked `x-schoon-verdict: unchecked`.
    Forward,
}

/// Gate mode: uploads under a path prefix are checked before they reach the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    /// Requests whose path starts with this go through the gate (`GATE_PREFIX`, e.g. `/upload`).
    pub prefix: String,
    /// Where clean uploads go (`ORIGIN_URL`, scheme and authority, e.g. `https://origin.example`).
    pub origin: String,
    /// The tenant receipts and counters of gate checks belong to (`GATE_TENANT`, default `gate`).
    pub tenant: String,
    /// Largest upload the gate reads (`GATE_MAX_BYTES`, default 25 MiB).
    pub max_bytes: u64,
    /// Uploads over `max_bytes` (`GATE_OVERSIZED`, default `reject`: 413).
    pub oversized: Policy,
    /// Uploads whose image does not decode, or that are not images (`GATE_UNDECODABLE`,
    /// default `forward`: their exact hashes were checked, PDQ could not be).
    pub undecodable: Policy,
    /// Uploads arriving while no set is loaded (`GATE_UNAVAILABLE`, default `reject`: 503).
    pub unavailable: Policy,
    /// Requests per minute per client address (`GATE_RATE_PER_MINUTE`, default 120).
    pub rate_per_minute: u32,
    /// Sent to the origin as `x-schoon-origin-secret` with every forwarded request, so that
    /// the origin can refuse uploads that bypassed the gate (secret `ORIGIN_SECRET`, optional).
    pub origin_secret: Option<String>,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The pinned public key sets must be signed with (`SET_PUBLIC_KEY`, 64 hex digits).
    pub set_public_key: Option<PublicKey>,
    /// Accept unsigned sets (`ALLOW_UNSIGNED_SETS`, default `false`; never in production).
    pub allow_unsigned_sets: bool,
    /// The key receipts are signed with (secret `RECEIPT_SIGNING_KEY`: 64 hex digits, or the
    /// text of a `schoon keygen` key file).
    pub receipt_key: SigningKey,
    /// SHA-256 of the admin key (`ADMIN_KEY_SHA256`, 64 hex digits); admin routes are off
    /// without it.
    pub admin_key_sha256: Option<[u8; 32]>,
    /// A set older than this (by its creation time) makes `/v1/health` answer 503
    /// (`MAX_SET_AGE_SECONDS`, default 7 days).
    pub max_set_age_seconds: u64,
    /// How often an isolate checks KV for a newer set (`SET_REFRESH_SECONDS`, default 30).
    pub set_refresh_seconds: u64,
    /// Body limit of `/v1/confirm` (`CONFIRM_MAX_BYTES`, default 16 KiB).
    pub confirm_max_bytes: u64,
    /// Body limit of `/v1/scan` (`SCAN_MAX_BYTES`, default 25 MiB).
    pub scan_max_bytes: u64,
    /// Body limit of `/v1/check` (`CHECK_MAX_BYTES`, default 1 MiB); a longer body is refused
    /// whole with 413.
    pub check_max_bytes: u64,
    /// Most non-empty lines of one `/v1/check` (`CHECK_MAX_LINES`, default 1000); more are
    /// refused whole with 413. Each line costs a lookup (tens of ms of CPU for a PDQ hash in
    /// a linearly scanned index of 10^6) and, when it matches, two KV writes per receipt.
    pub check_max_lines: usize,
    /// Body limit of set uploads (`ADMIN_MAX_BYTES`, default 100 MiB, Cloudflare's request cap
    /// on most plans).
    pub admin_max_bytes: u64,
    /// Decoding limits (`MAX_IMAGE_PIXELS`, default 50 M; `MAX_DECODE_BYTES`, default 64 MiB).
    pub limits: Limits,
    /// Default tenant rate (`RATE_PER_MINUTE`, default 600; a tenant record may override it).
    pub rate_per_minute: u32,
    /// Default tenant burst (`RATE_BURST`, default 60).
    pub rate_burst: u32,
    /// How long an isolate caches an API key lookup (`TENANT_CACHE_SECONDS`, default 60; also
    /// how long a revoked key may still work in an isolate that saw it).
    pub tenant_cache_seconds: u64,
    /// Indexes with at most this many PDQ entries get multi-index tables (fast lookups, about
    /// 100 bytes per entry more); larger ones are scanned linearly to stay within an isolate's
    /// 128 MB (`MULTI_INDEX_MAX_ENTRIES`, default 250000).
    pub multi_index_max: usize,
    /// The most bytes one shard of a sharded index may hold in its Durable Object once loaded
    /// (`SHARD_MAX_BYTES`, default 64 MiB): a larger shard is refused at upload.
    pub shard_max_bytes: u64,
    /// PDQ matching (`MATCH_THRESHOLD`, default 31; `MIN_QUALITY`, default 50).
    pub match_options: MatchOptions,
    /// A receipt without follow-up older than this is overdue (`OPEN_RECEIPT_SECONDS`,
    /// default 7 days).
    pub open_receipt_seconds: u64,
    /// Origins allowed to call `/v1/confirm` and `/v1/scan` from a page (`CORS_ORIGINS`,
    /// comma-separated or `*`; default none). The filter is always readable from any origin.
    pub cors_origins: Vec<String>,
    /// Gate mode, when `GATE_PREFIX` is set.
    pub gate: Option<GateConfig>,
    /// Bucket scanning (the queue consumer and `/v1/admin/backfill`), when `UPLOADS_BUCKET`
    /// is set.
    pub bucket: Option<BucketConfig>,
    /// Follow-up verification (the scheduled re-check of overdue receipts).
    pub followup: FollowupConfig,
}

/// Bucket scanning: the hosting provider's uploads bucket sends object-create notifications to
/// the scan queue; the consumer checks each object (see `crate::bucket`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// The name of the bucket bound as `SCHOON_UPLOADS` (`UPLOADS_BUCKET`); notifications of
    /// other buckets are acknowledged and recorded as skipped.
    pub name: String,
    /// The tenant receipts and counters of bucket checks belong to (`BUCKET_TENANT`, default
    /// `uploads`).
    pub tenant: String,
    /// The scan queue's name (`SCAN_QUEUE`, default `schoon-scan`).
    pub queue: String,
    /// The dead-letter queue's name (`SCAN_DEAD_LETTER_QUEUE`, default `schoon-scan-dlq`).
    pub dead_letter_queue: String,
    /// First retry delay after a storage or index failure, doubled with every attempt up to an
    /// hour (`SCAN_RETRY_SECONDS`, default 30; 0 retries at once).
    pub retry_seconds: u32,
}

/// Follow-up verification: the scheduled job re-checks open receipts past the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupConfig {
    /// Receipts re-checked per run at most (`FOLLOWUP_PER_RUN`, default 50); the next run
    /// resumes after the last one.
    pub per_run: u32,
    /// Largest body read from a URL (`FOLLOWUP_MAX_BYTES`, default `SCAN_MAX_BYTES`).
    pub max_bytes: u64,
    /// Time allowed for each URL fetch, redirects each counting anew
    /// (`FOLLOWUP_TIMEOUT_SECONDS`, default 10).
    pub timeout_ms: u64,
}

fn invalid(name: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable {
        reason: format!("worker misconfigured: {name} {detail}"),
        retry_after: None,
    }
}

fn hex32(name: &str, value: &str) -> Result<[u8; 32], ApiError> {
    schoon_core::hex::decode_array::<32>(value.trim(), name)
        .map_err(|_| invalid(name, "must be 64 hex digits"))
}

struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| invalid(name, format!("'{v}' is not a number"))),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name).as_deref() {
            None | Some("false" | "0" | "no") => Ok(false),
            Some("true" | "1" | "yes") => Ok(true),
            Some(v) => Err(invalid(name, format!("'{v}' is not true or false"))),
        }
    }

    fn policy(&self, name: &str, default: Policy) -> Result<Policy, ApiError> {
        match self.get(name).as_deref() {
            None => Ok(default),
            Some("reject") => Ok(Policy::Reject),
            Some("forward") => Ok(Policy::Forward),
            Some(v) => Err(invalid(name, format!("'{v}' is not reject or forward"))),
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// Whether a tenant id is acceptable: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or
/// digit (it is part of KV keys and CSV cells).
pub fn valid_tenant(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.first().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'_' || c == b'-'
        })
}

impl Config {
    /// Reads the configuration through `lookup` (variable name to value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ApiError> {
        let v = Vars(lookup);
        let set_public_key = match v.get("SET_PUBLIC_KEY") {
            Some(text) => Some(
                PublicKey::from_text(&text)
                    .map_err(|e| invalid("SET_PUBLIC_KEY", format!("is invalid: {e}")))?,
            ),
            None => None,
        };
        let allow_unsigned_sets = v.flag("ALLOW_UNSIGNED_SETS")?;
        if set_public_key.is_none() && !allow_unsigned_sets {
            return Err(invalid(
                "SET_PUBLIC_KEY",
                "is not set (pin the list owner's public key, or set ALLOW_UNSIGNED_SETS=true for tests)",
            ));
        }
        let receipt_key = match v.get("RECEIPT_SIGNING_KEY") {
            Some(text) => SigningKey::from_text(&text).map_err(|_| {
                invalid(
                    "RECEIPT_SIGNING_KEY",
                    "must be 64 hex digits (a `schoon keygen` key file will do)",
                )
            })?,
            None => {
                return Err(invalid(
                    "RECEIPT_SIGNING_KEY",
                    "is not set (wrangler secret put RECEIPT_SIGNING_KEY)",
                ));
            }
        };
        let admin_key_sha256 =
            v.get("ADMIN_KEY_SHA256").map(|h| hex32("ADMIN_KEY_SHA256", &h)).transpose()?;
        let defaults = Limits::default();
        let limits = Limits {
            max_pixels: v.number("MAX_IMAGE_PIXELS", 50_000_000)?,
            max_alloc: v.number("MAX_DECODE_BYTES", 64 * MIB)?,
            max_input_bytes: defaults.max_input_bytes,
            ..defaults
        };
        let match_options = MatchOptions {
            threshold: v.number("MATCH_THRESHOLD", 31u32)?.min(256),
            min_quality: v.number("MIN_QUALITY", 50u8)?,
        };
        let cors_origins = v
            .get("CORS_ORIGINS")
            .map(|s| s.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        let gate = match v.get("GATE_PREFIX") {
            None => None,
            Some(prefix) => {
                if !prefix.starts_with('/') || prefix.starts_with("/v1") || prefix == "/" {
                    return Err(invalid(
                        "GATE_PREFIX",
                        format!("'{prefix}' must start with / and not be / or under /v1"),
                    ));
                }
                let origin = v
                    .get("ORIGIN_URL")
                    .ok_or_else(|| invalid("ORIGIN_URL", "is not set (needed by GATE_PREFIX)"))?;
                if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                    return Err(invalid("ORIGIN_URL", format!("'{origin}' is not an http(s) URL")));
                }
                let tenant = v.get("GATE_TENANT").unwrap_or_else(|| "gate".into());
                if !valid_tenant(&tenant) {
                    return Err(invalid("GATE_TENANT", format!("'{tenant}' is not a tenant id")));
                }
                Some(GateConfig {
                    prefix: prefix.trim_end_matches('/').to_owned(),
                    origin: origin.trim_end_matches('/').to_owned(),
                    tenant,
                    max_bytes: v.number("GATE_MAX_BYTES", 25 * MIB)?,
                    oversized: v.policy("GATE_OVERSIZED", Policy::Reject)?,
                    undecodable: v.policy("GATE_UNDECODABLE", Policy::Forward)?,
                    unavailable: v.policy("GATE_UNAVAILABLE", Policy::Reject)?,
                    rate_per_minute: v.number("GATE_RATE_PER_MINUTE", 120)?,
                    origin_secret: v.get("ORIGIN_SECRET"),
                })
            }
        };
        let scan_max_bytes = v.number("SCAN_MAX_BYTES", 25 * MIB)?;
        let bucket = match v.get("UPLOADS_BUCKET") {
            None => None,
            Some(name) => {
                let tenant = v.get("BUCKET_TENANT").unwrap_or_else(|| "uploads".into());
                if !valid_tenant(&tenant) {
                    return Err(invalid("BUCKET_TENANT", format!("'{tenant}' is not a tenant id")));
                }
                Some(BucketConfig {
                    name,
                    tenant,
                    queue: v.get("SCAN_QUEUE").unwrap_or_else(|| "schoon-scan".into()),
                    dead_letter_queue: v
                        .get("SCAN_DEAD_LETTER_QUEUE")
                        .unwrap_or_else(|| "schoon-scan-dlq".into()),
                    retry_seconds: v.number("SCAN_RETRY_SECONDS", 30)?,
                })
            }
        };
        let followup = FollowupConfig {
            per_run: v.number("FOLLOWUP_PER_RUN", 50)?,
            max_bytes: v.number("FOLLOWUP_MAX_BYTES", scan_max_bytes)?,
            timeout_ms: v.number::<u64>("FOLLOWUP_TIMEOUT_SECONDS", 10)?.saturating_mul(1000),
        };
        Ok(Config {
            set_public_key,
            allow_unsigned_sets,
            receipt_key,
            admin_key_sha256,
            max_set_age_seconds: v.number("MAX_SET_AGE_SECONDS", 7 * 86_400)?,
            set_refresh_seconds: v.number("SET_REFRESH_SECONDS", 30)?,
            confirm_max_bytes: v.number("CONFIRM_MAX_BYTES", 16 * 1024)?,
            scan_max_bytes,
            check_max_bytes: v.number("CHECK_MAX_BYTES", MIB)?,
            check_max_lines: v.number("CHECK_MAX_LINES", 1000)?,
            admin_max_bytes: v.number("ADMIN_MAX_BYTES", 100 * MIB)?,
            limits,
            rate_per_minute: v.number("RATE_PER_MINUTE", 600)?,
            rate_burst: v.number("RATE_BURST", 60)?,
            tenant_cache_seconds: v.number("TENANT_CACHE_SECONDS", 60)?,
            multi_index_max: v.number("MULTI_INDEX_MAX_ENTRIES", 250_000)?,
            shard_max_bytes: v.number("SHARD_MAX_BYTES", 64 * MIB)?,
            match_options,
            open_receipt_seconds: v.number("OPEN_RECEIPT_SECONDS", 7 * 86_400)?,
            cors_origins,
            gate,
            bucket,
            followup,
        })
    }

    /// The trust rules for set uploads and loads.
    pub fn trust(&self) -> Trust {
        Trust { public_key: self.set_public_key, allow_unsigned: self.allow_unsigned_sets }
    }

    /// Whether a page of `origin` may call the tenant API.
    pub fn cors_allows(&self, origin: &str) -> bool {
        self.cors_origins.iter().any(|o| o == "*" || o == origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    #[test]
    fn defaults_and_required_variables() {
        let e = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(e.to_string().contains("SET_PUBLIC_KEY is not set"), "{e}");
        let e = Config::from_lookup(lookup(&[("ALLOW_UNSIGNED_SETS", "true")])).unwrap_err();
        assert!(e.to_string().contains("RECEIPT_SIGNING_KEY"), "{e}");
        let c = Config::from_lookup(lookup(&[
            ("ALLOW_UNSIGNED_SETS", "true"),
            ("RECEIPT_SIGNING_KEY", KEY),
        ]))
        .unwrap();
        assert_eq!(c.confirm_max_bytes, 16 * 1024);
        assert_eq!((c.check_max_bytes, c.check_max_lines), (1024 * 1024, 1000));
        assert_eq!(c.match_options, MatchOptions::default());
        assert!(c.gate.is_none() && c.admin_key_sha256.is_none());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let base = [("ALLOW_UNSIGNED_SETS", "true"), ("RECEIPT_SIGNING_KEY", KEY)];
        for (name, value, message) in [
            ("RATE_PER_MINUTE", "lots", "RATE_PER_MINUTE 'lots' is not a number"),
            ("CHECK_MAX_LINES", "-1", "CHECK_MAX_LINES '-1' is not a number"),
            ("ALLOW_UNSIGNED_SETS", "maybe", "ALLOW_UNSIGNED_SETS 'maybe'"),
            ("ADMIN_KEY_SHA256", "abc", "ADMIN_KEY_SHA256 must be 64 hex digits"),
            ("GATE_PREFIX", "/v1/x", "GATE_PREFIX '/v1/x'"),
            ("GATE_PREFIX", "/upload", "ORIGIN_URL is not set"),
            ("SET_PUBLIC_KEY", "xyz", "SET_PUBLIC_KEY is invalid"),
        ] {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let e = Config::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(e.to_string().contains(message), "{e} lacks {message}");
            assert_eq!(crate::error::status_for(&e), 503);
        }
    }

    #[test]
    fn gate_settings() {
        let c = Config::from_lookup(lookup(&[
            ("ALLOW_UNSIGNED_SETS", "true"),
            ("RECEIPT_SIGNING_KEY", KEY),
            ("GATE_PREFIX", "/upload/"),
            ("ORIGIN_URL", "http://127.0.0.1:9000/"),
            ("GATE_OVERSIZED", "forward"),
            ("CORS_ORIGINS", "https://a.example, https://b.example"),
        ]))
        .unwrap();
        let g = c.gate.clone().unwrap();
        assert_eq!((g.prefix.as_str(), g.origin.as_str()), ("/upload", "http://127.0.0.1:9000"));
        assert_eq!(
            (g.oversized, g.undecodable, g.unavailable),
            (Policy::Forward, Policy::Forward, Policy::Reject)
        );
        assert!(c.cors_allows("https://b.example") && !c.cors_allows("https://c.example"));
    }

    #[test]
    fn tenant_ids() {
        assert!(valid_tenant("acme") && valid_tenant("a-1.b_2"));
        assert!(!valid_tenant("") && !valid_tenant("-x") && !valid_tenant("Acme"));
        assert!(!valid_tenant("a:b") && !valid_tenant(&"a".repeat(65)));
    }
}
