//! Hit receipts as the worker stores them, their follow-ups, listings and hotline reports.
//!
//! KV layout: `receipt:{id}` holds the [`Record`] (the signed receipt, its follow-up status and
//! history); `receipts:{tenant}:{issued ms, 13 digits}:{id}` is an empty value whose metadata
//! ([`IndexEntry`]) lets one list call read up to 1000 receipts of a tenant in issue order.
//!
//! Beside the tenant's own follow-ups, a record keeps the worker's own **verification history**
//! ([`Verification`]): what the scheduled re-check (`crate::followup`) found when it looked at
//! the receipt's subject again (`verified_removed`, `still_present`, `unreachable`). Records and
//! listing entries written before these fields existed still load (every new field has a
//! default).

use schoon_core::receipt::Receipt;
use schoon_core::set::{HashKind, Match, Query};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::config::Config;
use crate::error::ApiError;
use crate::keys;
use crate::query::checked_value;
use crate::subject::Subject;
use crate::time::rfc3339;

/// Most receipts issued for one check (one per matching list and hash kind).
pub const MAX_RECEIPTS_PER_CHECK: usize = 16;

/// Longest follow-up note, in bytes.
pub const MAX_NOTE: usize = 2000;

/// A receipt's follow-up status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No follow-up yet.
    Open,
    /// The tenant removed the content.
    Removed,
    /// The tenant disputes the match.
    Disputed,
}

impl Status {
    /// `open`, `removed` or `disputed`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Removed => "removed",
            Status::Disputed => "disputed",
        }
    }
}

/// One follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The new status.
    pub status: Status,
    /// The tenant's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When, unix milliseconds.
    pub time_ms: u64,
}

/// What a re-check of a receipt's subject found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verified {
    /// The object is gone, or the URL no longer serves the image (404, 410, another image).
    VerifiedRemoved,
    /// The object or URL still serves a matching image.
    StillPresent,
    /// The URL could not be checked (timeout, refused, private address, server error, too
    /// large, too many redirects).
    Unreachable,
}

impl Verified {
    /// `verified_removed`, `still_present` or `unreachable`.
    pub fn name(self) -> &'static str {
        match self {
            Verified::VerifiedRemoved => "verified_removed",
            Verified::StillPresent => "still_present",
            Verified::Unreachable => "unreachable",
        }
    }

    /// Parses a name as [`Verified::name`] gives it.
    pub fn parse(s: &str) -> Option<Verified> {
        match s {
            "verified_removed" => Some(Verified::VerifiedRemoved),
            "still_present" => Some(Verified::StillPresent),
            "unreachable" => Some(Verified::Unreachable),
            _ => None,
        }
    }
}

/// One entry of a receipt's verification history: a run of re-checks that found the same
/// status (a repeated finding updates the entry instead of adding one, so re-running a check is
/// idempotent and the history stays short).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// What was found.
    pub status: Verified,
    /// When it was first found (in this run of equal findings), unix milliseconds.
    pub first_ms: u64,
    /// When it was last found, unix milliseconds.
    pub time_ms: u64,
    /// How many checks found it in a row.
    pub checks: u32,
    /// Why, in a few words (`http 404`, `object gone`, `timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Most entries kept in a verification history (the oldest are dropped).
pub const MAX_VERIFICATIONS: usize = 50;

/// A stored receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The signed receipt.
    pub receipt: Receipt,
    /// The current status.
    pub status: Status,
    /// Every follow-up, oldest first.
    #[serde(default)]
    pub follow_ups: Vec<FollowUp>,
    /// What the receipt is about, when the check said.
    #[serde(default, skip_serializing_if = "Subject::is_empty")]
    pub subject: Subject,
    /// The worker's re-checks of the subject, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verifications: Vec<Verification>,
}

impl Record {
    /// The latest verification, if any.
    pub fn verified(&self) -> Option<&Verification> {
        self.verifications.last()
    }

    /// When the content was first known to be gone: the tenant's `removed` follow-up or the
    /// first `verified_removed` re-check of the current run, whichever is earlier; `None` while
    /// the receipt is neither removed nor verified removed.
    pub fn removed_ms(&self) -> Option<u64> {
        let by_tenant = (self.status == Status::Removed)
            .then(|| self.follow_ups.iter().rev().find(|f| f.status == Status::Removed))
            .flatten()
            .map(|f| f.time_ms);
        let by_check =
            self.verified().filter(|v| v.status == Verified::VerifiedRemoved).map(|v| v.first_ms);
        match (by_tenant, by_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The listing metadata of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The receipt id.
    pub id: String,
    /// Issued, unix milliseconds.
    pub issued: u64,
    /// Current status.
    pub status: Status,
    /// Hash kind that matched.
    pub kind: HashKind,
    /// The list.
    pub list: String,
    /// The distance.
    pub distance: u32,
    /// The latest re-check's finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
    /// When the latest re-check ran, unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_ms: Option<u64>,
    /// See [`Record::removed_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_ms: Option<u64>,
}

/// Whether `id` looks like a receipt id (so path segments never reach KV unchecked).
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn to_text<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(e.to_string()))
}

async fn store<B: Backend>(backend: &B, record: &Record) -> Result<(), ApiError> {
    let r = &record.receipt;
    let entry = IndexEntry {
        id: r.id.clone(),
        issued: r.issued,
        status: record.status,
        kind: r.kind,
        list: r.list.clone(),
        distance: r.distance,
        verified: record.verified().map(|v| v.status),
        verified_ms: record.verified().map(|v| v.time_ms),
        removed_ms: record.removed_ms(),
    };
    backend
        .kv_put(&keys::receipt(&r.id), &to_text(record)?, None)
        .await
        .map_err(ApiError::storage)?;
    backend
        .kv_put(&keys::receipt_index(&r.tenant, r.issued, &r.id), "", Some(&to_text(&entry)?))
        .await
        .map_err(ApiError::storage)
}

/// Issues, signs and stores one receipt per match (at most [`MAX_RECEIPTS_PER_CHECK`]).
pub async fn issue<B: Backend>(
    backend: &B,
    config: &Config,
    tenant: &str,
    query: &Query,
    matches: &[Match],
    set_version: u64,
    subject: &Subject,
) -> Result<Vec<Receipt>, ApiError> {
    let mut out = Vec::new();
    for m in matches.iter().take(MAX_RECEIPTS_PER_CHECK) {
        let Some(value) = checked_value(query, m.kind) else { continue };
        let mut id = [0u8; 16];
        backend
            .fill_random(&mut id)
            .map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
        let mut receipt = Receipt {
            id: schoon_core::hex::encode(&id),
            issued: backend.now_ms(),
            tenant: tenant.to_owned(),
            kind: m.kind,
            value,
            variant: m.variant.map(str::to_owned),
            list: m.list.clone(),
            category: m.category.clone(),
            distance: m.distance,
            set_version,
            ..Receipt::default()
        };
        receipt.sign(&config.receipt_key)?;
        let record = Record {
            receipt,
            status: Status::Open,
            follow_ups: Vec::new(),
            subject: subject.clone(),
            verifications: Vec::new(),
        };
        store(backend, &record).await?;
        out.push(record.receipt);
    }
    Ok(out)
}

/// Reads a receipt record.
pub async fn load<B: Backend>(backend: &B, id: &str) -> Result<Option<Record>, ApiError> {
    if !valid_id(id) {
        return Ok(None);
    }
    match backend.kv_get(&keys::receipt(id)).await.map_err(ApiError::storage)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ApiError::Internal(format!("stored receipt {id} is unreadable: {e}"))),
    }
}

/// The body of `POST /v1/receipts/{id}/follow-up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpIn {
    /// `removed` or `disputed`.
    pub status: Status,
    /// A note (at most 2000 bytes).
    #[serde(default)]
    pub note: Option<String>,
}

/// Records a follow-up and returns the updated record.
pub async fn follow_up<B: Backend>(
    backend: &B,
    mut record: Record,
    input: FollowUpIn,
) -> Result<Record, ApiError> {
    if input.status == Status::Open {
        return Err(ApiError::Invalid("a follow-up status is removed or disputed".into()));
    }
    if let Some(note) = &input.note
        && note.len() > MAX_NOTE
    {
        return Err(ApiError::Invalid(format!(
            "note of {} bytes (at most {MAX_NOTE})",
            note.len()
        )));
    }
    if record.follow_ups.len() >= 100 {
        return Err(ApiError::Conflict("this receipt has 100 follow-ups already".into()));
    }
    record.status = input.status;
    record.follow_ups.push(FollowUp {
        status: input.status,
        note: input.note,
        time_ms: backend.now_ms(),
    });
    store(backend, &record).await?;
    Ok(record)
}

/// Records a re-check's finding at `now_ms` (a repeat of the latest finding updates it) and
/// stores the record.
pub async fn record_verification<B: Backend>(
    backend: &B,
    mut record: Record,
    status: Verified,
    detail: Option<String>,
    now_ms: u64,
) -> Result<Record, ApiError> {
    match record.verifications.last_mut() {
        Some(last) if last.status == status => {
            last.time_ms = now_ms;
            last.checks = last.checks.saturating_add(1);
            last.detail = detail;
        }
        _ => {
            record.verifications.push(Verification {
                status,
                first_ms: now_ms,
                time_ms: now_ms,
                checks: 1,
                detail,
            });
            let excess = record.verifications.len().saturating_sub(MAX_VERIFICATIONS);
            record.verifications.drain(..excess);
        }
    }
    store(backend, &record).await?;
    Ok(record)
}

/// The issuer's public key as JSON.
pub fn issuer_json(config: &Config) -> Value {
    let public = config.receipt_key.public_key();
    json!({
        "algorithm": "Ed25519",
        "public_key": public.to_hex(),
        "key_id": schoon_core::hex::encode(&public.key_id()),
        "message": "UTF-8 \"schoon receipt v1\" and a NUL byte, then the receipt without \"signature\" as RFC 8785 canonical JSON",
    })
}

/// Whether a receipt verifies with this worker's key, and why not.
pub fn verification(config: &Config, receipt: &Receipt) -> Value {
    match receipt.verify(&config.receipt_key.public_key()) {
        Ok(()) => json!({ "valid": true }),
        Err(e) => json!({ "valid": false, "reason": e.to_string() }),
    }
}

fn follow_ups_json(record: &Record) -> Value {
    Value::Array(
        record
            .follow_ups
            .iter()
            .map(|f| json!({ "status": f.status.name(), "note": f.note, "time": rfc3339(f.time_ms) }))
            .collect(),
    )
}

fn verifications_json(record: &Record) -> Value {
    Value::Array(
        record
            .verifications
            .iter()
            .map(|v| {
                json!({ "status": v.status.name(), "first": rfc3339(v.first_ms), "time": rfc3339(v.time_ms), "checks": v.checks, "detail": v.detail })
            })
            .collect(),
    )
}

/// A stored receipt as `GET /v1/receipts/{id}` answers it.
pub fn record_json(config: &Config, record: &Record, now_ms: u64) -> Value {
    let mut v = verification(config, &record.receipt);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("receipt".into(), json!(record.receipt));
        obj.insert("status".into(), json!(record.status.name()));
        obj.insert("follow_ups".into(), follow_ups_json(record));
        obj.insert("verification".into(), json!(record.verified().map(|v| v.status.name())));
        obj.insert("verifications".into(), verifications_json(record));
        if !record.subject.is_empty() {
            obj.insert("subject".into(), json!(record.subject));
        }
        obj.insert("issued".into(), json!(rfc3339(record.receipt.issued)));
        obj.insert(
            "overdue".into(),
            json!(overdue(config, record.status, record.receipt.issued, now_ms, None)),
        );
        obj.insert("issuer".into(), issuer_json(config));
    }
    v
}

/// Whether an open receipt is older than the configured (or given) age.
pub fn overdue(
    config: &Config,
    status: Status,
    issued: u64,
    now_ms: u64,
    older_than_s: Option<u64>,
) -> bool {
    let age = older_than_s.unwrap_or(config.open_receipt_seconds).saturating_mul(1000);
    status == Status::Open && now_ms.saturating_sub(issued) > age
}

/// The hotline report of a hit (schema `schoon.hit-report.v1`, see the README).
pub fn report_json(config: &Config, record: &Record, now_ms: u64) -> Value {
    let r = &record.receipt;
    json!({
        "schema": "schoon.hit-report.v1",
        "generated": rfc3339(now_ms),
        "receipt_id": r.id,
        "reporter": { "tenant": r.tenant },
        "detection": {
            "time": rfc3339(r.issued),
            "hash": { "kind": r.kind.name(), "value": r.value },
            "variant": r.variant,
            "match": {
                "list": r.list,
                "category": r.category,
                "distance": r.distance,
                "threshold": if r.kind == HashKind::Pdq { json!(config.match_options.threshold) } else { json!(0) },
            },
            "set_version": r.set_version,
        },
        "follow_up": { "status": record.status.name(), "history": follow_ups_json(record), "verifications": verifications_json(record) },
        "receipt": r,
        "verification": {
            "valid": r.verify(&config.receipt_key.public_key()).is_ok(),
            "issuer": issuer_json(config),
        },
    })
}

/// Filters for a receipt listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only receipts older than this many seconds.
    pub older_than_s: Option<u64>,
    /// Only receipts whose latest re-check found this (`Some(None)`: never re-checked).
    pub verified: Option<Option<Verified>>,
}

/// Parses the `verification` filter of `GET /v1/receipts`: `verified_removed`,
/// `still_present`, `unreachable`, `unverified`, or `all`/empty for no filter.
pub fn verified_filter(param: Option<&str>) -> Result<Option<Option<Verified>>, ApiError> {
    match param {
        None | Some("" | "all") => Ok(None),
        Some("unverified") => Ok(Some(None)),
        Some(s) => Verified::parse(s).map(|v| Some(Some(v))).ok_or_else(|| {
            ApiError::Invalid(format!(
                "verification '{s}': expected verified_removed, still_present, unreachable, unverified or all"
            ))
        }),
    }
}

/// A page of a tenant's receipts, oldest first.
pub async fn list<B: Backend>(
    backend: &B,
    tenant: &str,
    filter: &ListFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<(Vec<IndexEntry>, Option<String>), ApiError> {
    let page = backend
        .kv_list(&keys::receipt_index_prefix(tenant), cursor, limit.clamp(1, 1000))
        .await
        .map_err(ApiError::storage)?;
    let now = backend.now_ms();
    let entries = page
        .keys
        .iter()
        .filter_map(|(_, meta)| {
            meta.as_deref().and_then(|m| serde_json::from_str::<IndexEntry>(m).ok())
        })
        .filter(|e| filter.status.is_none_or(|s| s == e.status))
        .filter(|e| filter.verified.is_none_or(|v| v == e.verified))
        .filter(|e| {
            filter
                .older_than_s
                .is_none_or(|s| now.saturating_sub(e.issued) > s.saturating_mul(1000))
        })
        .collect();
    Ok((entries, page.cursor))
}

/// A listing entry as JSON.
pub fn entry_json(config: &Config, e: &IndexEntry, now_ms: u64) -> Value {
    json!({
        "id": e.id,
        "issued": rfc3339(e.issued),
        "status": e.status.name(),
        "kind": e.kind.name(),
        "list": e.list,
        "distance": e.distance,
        "age_seconds": now_ms.saturating_sub(e.issued) / 1000,
        "overdue": overdue(config, e.status, e.issued, now_ms, None),
        "verification": e.verified.map(Verified::name),
        "verified": e.verified_ms.map(rfc3339),
    })
}

/// One CSV cell (RFC 4180 quoting; cells starting with `=`, `+`, `-` or `@` get a leading `'`
/// so spreadsheets do not run them as formulas).
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// The CSV form of a listing; `verification` adds the columns `verification,verified` (the
/// latest re-check's finding and time; `include=followup` on the route).
pub fn entries_csv(
    config: &Config,
    entries: &[IndexEntry],
    now_ms: u64,
    verification: bool,
) -> String {
    let mut out = String::from("id,issued,status,kind,list,distance,age_seconds,overdue");
    out.push_str(if verification { ",verification,verified\r\n" } else { "\r\n" });
    for e in entries {
        let mut row = vec![
            e.id.clone(),
            rfc3339(e.issued),
            e.status.name().to_owned(),
            e.kind.name().to_owned(),
            e.list.clone(),
            e.distance.to_string(),
            (now_ms.saturating_sub(e.issued) / 1000).to_string(),
            overdue(config, e.status, e.issued, now_ms, None).to_string(),
        ];
        if verification {
            row.push(e.verified.map(Verified::name).unwrap_or_default().to_owned());
            row.push(e.verified_ms.map(rfc3339).unwrap_or_default());
        }
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("-1,2"), "\"'-1,2\"");
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_id("../../etc"));
    }
}
