//! Automatic follow-up verification: a scheduled job re-checks open receipts past the deadline
//! (`OPEN_RECEIPT_SECONDS`) and records what it found in the receipt's verification history
//! (`crate::receipts::Verification`), and the per-tenant figures a hosting monitor reports.
//!
//! For a receipt whose subject names a bucket and key, the job reads the object again from the
//! uploads bucket: gone is `verified_removed`, still matching is `still_present`, replaced by
//! something that no longer matches is `verified_removed`. For a subject with a URL it fetches
//! the URL with GET (at most `FOLLOWUP_MAX_BYTES`, `FOLLOWUP_TIMEOUT_SECONDS` per request, no
//! automatic redirects: at most [`MAX_REDIRECTS`] are followed by hand, every hop through
//! [`crate::url::public_url`] so nothing reaches a private address): 404 or 410, or an image
//! that no longer matches, is `verified_removed`; a matching image is `still_present`; a
//! timeout, a refused or private address, any other status, a body over the limit or too many
//! redirects is `unreachable`. A receipt the tenant marked `removed` or `disputed`, or that was
//! verified removed, is not checked again.
//!
//! Work per run is bounded: at most `FOLLOWUP_PER_RUN` receipts (default 50) and
//! [`MAX_PAGES_PER_RUN`] listing pages; the next run resumes after the last receipt examined
//! (the cursor is `followup:cursor` in KV) and a pass that reaches the end starts over. A
//! repeated finding updates the latest history entry instead of adding one, so running the job
//! twice changes nothing but the times. Each run's summary is kept in `followup:last`.

use std::collections::BTreeMap;

use schoon_core::receipt::Receipt;
use schoon_core::set::{HashKind, Index};
use schoon_core::{HashOptions, PdqHash, PdqMode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::backend::{Backend, ObjectRead};
use crate::config::Config;
use crate::error::ApiError;
use crate::isolate::Isolate;
use crate::keys;
use crate::receipts::{self, IndexEntry, Record, Status, Verified};
use crate::sets;
use crate::shards::check_whole;
use crate::tenant::TenantRecord;
use crate::time;

/// Redirects followed at most per URL check.
pub const MAX_REDIRECTS: usize = 3;

/// Listing pages (of 1000 receipts) read at most per run.
pub const MAX_PAGES_PER_RUN: usize = 10;

/// Where the next run resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The listing cursor of the page being worked through (`None`: the first page).
    #[serde(default)]
    pub page: Option<String>,
    /// The last key examined on that page.
    #[serde(default)]
    pub after: Option<String>,
    /// Completed passes over all receipts.
    #[serde(default)]
    pub passes: u64,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// When it ran, unix milliseconds.
    pub time_ms: u64,
    /// Receipts re-checked.
    pub checked: u32,
    /// Of them, found removed.
    pub verified_removed: u32,
    /// Of them, found still present.
    pub still_present: u32,
    /// Of them, not reachable.
    pub unreachable: u32,
    /// Due receipts without a bucket object or URL to check.
    pub no_subject: u32,
    /// Listing pages read.
    pub pages: u32,
    /// Whether this run finished a pass over all receipts.
    pub pass_done: bool,
    /// Why the run stopped early (storage failure), if it did.
    #[serde(default)]
    pub stopped: Option<String>,
}

/// A re-check's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The status.
    pub status: Verified,
    /// Why.
    pub detail: String,
}

fn found(status: Verified, detail: impl Into<String>) -> Finding {
    Finding { status, detail: detail.into() }
}

/// Whether a listing entry is due for a re-check at `now_ms`: open (no follow-up from the
/// tenant), past the deadline, and not verified removed yet.
pub fn due(config: &Config, e: &IndexEntry, now_ms: u64) -> bool {
    e.status == Status::Open
        && now_ms.saturating_sub(e.issued) > config.open_receipt_seconds.saturating_mul(1000)
        && e.verified != Some(Verified::VerifiedRemoved)
}

/// Whether `bytes` still show the receipt's content: a match against the index (when one is
/// loaded) or the receipt's own hash (exact equality, PDQ within the threshold).
pub fn still_matches(
    config: &Config,
    index: Option<&Index>,
    receipt: &Receipt,
    bytes: &[u8],
) -> bool {
    let report = match index {
        Some(index) => {
            // Whether the receipt's content is still there, whatever lists the tenant has
            // chosen since: every list of the set.
            let everything =
                TenantRecord { tenant: receipt.tenant.clone(), ..TenantRecord::default() };
            let hashed = check_whole(config, index, &everything, bytes);
            if !hashed.matches.is_empty() {
                return true;
            }
            hashed.report
        }
        None => {
            let options = HashOptions {
                mode: PdqMode::Fast,
                algos: Vec::new(),
                limits: config.limits,
                regions: false,
            };
            schoon_core::hash_bytes(bytes, &options)
        }
    };
    let e = &report.exact;
    match receipt.kind {
        HashKind::Md5 => e.md5.to_hex() == receipt.value,
        HashKind::Sha1 => e.sha1.to_hex() == receipt.value,
        HashKind::Sha256 => e.sha256.to_hex() == receipt.value,
        HashKind::Pdq => match (report.image.as_ref(), receipt.value.parse::<PdqHash>()) {
            (Ok(image), Ok(listed)) => {
                image.pdq.hash.distance(&listed) <= config.match_options.threshold
            }
            _ => false,
        },
    }
}

/// Re-checks a URL: GET without automatic redirects, at most [`MAX_REDIRECTS`] followed by
/// hand, each hop checked by [`crate::url::public_url`].
pub async fn check_url<B: Backend>(
    backend: &B,
    config: &Config,
    index: Option<&Index>,
    receipt: &Receipt,
    url: &str,
) -> Finding {
    let mut current = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let parsed = match crate::url::public_url(&current) {
            Ok(u) => u,
            Err(e) => return found(Verified::Unreachable, e.to_string()),
        };
        let f = &config.followup;
        let answer = match backend.fetch_url(parsed.as_str(), f.max_bytes, f.timeout_ms).await {
            Ok(a) => a,
            Err(e) => return found(Verified::Unreachable, format!("fetch {parsed}: {e}")),
        };
        match answer.status {
            200..=299 if answer.too_large => {
                return found(
                    Verified::Unreachable,
                    format!("body over the limit of {} bytes", f.max_bytes),
                );
            }
            200..=299 => {
                return if still_matches(config, index, receipt, &answer.body) {
                    found(Verified::StillPresent, format!("http {} serves a match", answer.status))
                } else {
                    found(Verified::VerifiedRemoved, "serves other content")
                };
            }
            301 | 302 | 303 | 307 | 308 => {
                let Some(location) = answer.location else {
                    return found(Verified::Unreachable, "redirect without a location");
                };
                match parsed.join(&location) {
                    Ok(next) => current = next.to_string(),
                    Err(e) => {
                        return found(Verified::Unreachable, format!("bad redirect target: {e}"));
                    }
                }
            }
            404 | 410 => {
                return found(Verified::VerifiedRemoved, format!("http {}", answer.status));
            }
            s => return found(Verified::Unreachable, format!("http {s}")),
        }
    }
    found(Verified::Unreachable, format!("more than {MAX_REDIRECTS} redirects"))
}

/// Re-checks a receipt's subject: `None` when it names neither a bucket object nor a URL;
/// `Err` on a storage failure of the uploads bucket (nothing is recorded then).
pub async fn check_record<B: Backend>(
    backend: &B,
    config: &Config,
    index: Option<&Index>,
    record: &Record,
) -> Result<Option<Finding>, ApiError> {
    let s = &record.subject;
    if let (Some(bucket), Some(key)) = (&s.bucket, &s.key) {
        if config.bucket.as_ref().is_none_or(|b| &b.name != bucket) {
            return Ok(Some(found(
                Verified::Unreachable,
                format!("bucket '{bucket}' is not bound (UPLOADS_BUCKET)"),
            )));
        }
        let read =
            backend.uploads_get(key, config.scan_max_bytes).await.map_err(ApiError::storage)?;
        return Ok(Some(match read {
            ObjectRead::Missing => found(Verified::VerifiedRemoved, "object gone"),
            ObjectRead::TooLarge(info) => found(
                Verified::Unreachable,
                format!("object of {} bytes over the limit", info.size),
            ),
            ObjectRead::Bytes(_, bytes) => {
                if still_matches(config, index, &record.receipt, &bytes) {
                    found(Verified::StillPresent, "object matches")
                } else {
                    found(Verified::VerifiedRemoved, "object replaced")
                }
            }
        }));
    }
    if let Some(url) = &s.url {
        return Ok(Some(check_url(backend, config, index, &record.receipt, url).await));
    }
    Ok(None)
}

async fn save_cursor<B: Backend>(backend: &B, cursor: &Cursor) -> Result<(), ApiError> {
    let text = serde_json::to_string(cursor).map_err(|e| ApiError::Internal(e.to_string()))?;
    backend.kv_put(keys::FOLLOWUP_CURSOR, &text, None).await.map_err(ApiError::storage)
}

/// One run of the scheduled job (see the module docs).
pub async fn run<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
) -> Result<RunReport, ApiError> {
    let now = backend.now_ms();
    let mut cursor: Cursor =
        match backend.kv_get(keys::FOLLOWUP_CURSOR).await.map_err(ApiError::storage)? {
            Some(t) => serde_json::from_str(&t).unwrap_or_default(),
            None => Cursor::default(),
        };
    // Without an index, the receipts' own hashes still decide.
    let loaded = sets::current_index(backend, config, isolate).await.ok();
    // A sharded index is not held here: the receipts' own hashes decide, as without an index.
    let index = loaded.as_ref().and_then(|l| l.whole());
    let mut report = RunReport { time_ms: now, ..RunReport::default() };
    let budget = config.followup.per_run;
    'pages: for _ in 0..MAX_PAGES_PER_RUN {
        let page = backend
            .kv_list(keys::RECEIPT_INDEX_PREFIX, cursor.page.as_deref(), 1000)
            .await
            .map_err(ApiError::storage)?;
        report.pages += 1;
        for (key, meta) in &page.keys {
            if cursor.after.as_deref().is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            if report.checked + report.no_subject >= budget {
                break 'pages;
            }
            let Some(entry) =
                meta.as_deref().and_then(|m| serde_json::from_str::<IndexEntry>(m).ok())
            else {
                cursor.after = Some(key.clone());
                continue;
            };
            if !due(config, &entry, now) {
                cursor.after = Some(key.clone());
                continue;
            }
            let record = match receipts::load(backend, &entry.id).await {
                Ok(r) => r,
                Err(e) if crate::error::status_for(&e) == 503 => {
                    report.stopped = Some(e.to_string());
                    break 'pages;
                }
                // Unreadable: nothing to check.
                Err(_) => None,
            };
            let Some(record) = record else {
                cursor.after = Some(key.clone());
                continue;
            };
            let finding = match check_record(backend, config, index, &record).await {
                Ok(f) => f,
                Err(e) => {
                    report.stopped = Some(e.to_string());
                    break 'pages;
                }
            };
            match finding {
                None => report.no_subject += 1,
                Some(f) => {
                    report.checked += 1;
                    match f.status {
                        Verified::VerifiedRemoved => report.verified_removed += 1,
                        Verified::StillPresent => report.still_present += 1,
                        Verified::Unreachable => report.unreachable += 1,
                    }
                    receipts::record_verification(backend, record, f.status, Some(f.detail), now)
                        .await?;
                }
            }
            cursor.after = Some(key.clone());
        }
        match page.cursor {
            Some(next) => {
                cursor.page = Some(next);
                cursor.after = None;
            }
            None => {
                cursor = Cursor { passes: cursor.passes + 1, ..Cursor::default() };
                report.pass_done = true;
                break;
            }
        }
    }
    save_cursor(backend, &cursor).await?;
    let text = serde_json::to_string(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    backend.kv_put(keys::FOLLOWUP_LAST_RUN, &text, None).await.map_err(ApiError::storage)?;
    Ok(report)
}

/// A tenant's hosting-monitor figures (over receipts, by issue day or in total).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Receipts issued (hits).
    pub hits: u64,
    /// Removed (by the tenant's follow-up or verified) at any time.
    pub removed: u64,
    /// Removed within the deadline (`OPEN_RECEIPT_SECONDS` after issue).
    pub removed_within_deadline: u64,
    /// Latest re-check found the content still present.
    pub still_present: u64,
    /// Latest re-check could not reach the content.
    pub unreachable: u64,
    /// Median seconds from issue to removal, over removed receipts.
    pub median_seconds_to_removal: Option<u64>,
    #[serde(skip)]
    removal_times: Vec<u64>,
}

impl Figures {
    /// Adds one receipt.
    pub fn add(&mut self, e: &IndexEntry, deadline_s: u64) {
        self.hits += 1;
        if let Some(removed) = e.removed_ms {
            let ms = removed.saturating_sub(e.issued);
            self.removed += 1;
            self.removed_within_deadline += u64::from(ms <= deadline_s.saturating_mul(1000));
            self.removal_times.push(ms / 1000);
        }
        match e.verified {
            Some(Verified::StillPresent) => self.still_present += 1,
            Some(Verified::Unreachable) => self.unreachable += 1,
            _ => {}
        }
    }

    /// Computes the median after the last [`Figures::add`].
    pub fn finish(&mut self) {
        self.median_seconds_to_removal = median(&mut self.removal_times);
    }

    /// The CSV cells, in the order of [`CSV_COLUMNS`].
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.hits.to_string(),
            self.removed_within_deadline.to_string(),
            self.still_present.to_string(),
            self.unreachable.to_string(),
            self.median_seconds_to_removal.map(|m| m.to_string()).unwrap_or_default(),
        ]
    }
}

/// The CSV columns the statistics add with `include=followup`.
pub const CSV_COLUMNS: &str =
    "hits,removed_within_deadline,still_present,unreachable,median_seconds_to_removal";

/// The median (the mean of the two middle values for an even count), `None` when empty.
///
/// ```
/// use schoon_worker::followup::median;
/// assert_eq!(median(&mut [300, 60, 7200]), Some(300));
/// assert_eq!(median(&mut [60, 120]), Some(90));
/// ```
pub fn median(values: &mut [u64]) -> Option<u64> {
    values.sort_unstable();
    let n = values.len();
    let mid = n / 2;
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(mid).copied(),
        _ => Some((values.get(mid - 1)?.saturating_add(*values.get(mid)?)) / 2),
    }
}

/// A tenant's figures by issue day and in total, from its receipt listing (at most
/// `max_pages` pages of 1000; the flag says whether more were left unread).
pub async fn tenant_figures<B: Backend>(
    backend: &B,
    config: &Config,
    tenant: &str,
    max_pages: usize,
) -> Result<(BTreeMap<String, Figures>, Figures, bool), ApiError> {
    let mut days: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut cursor: Option<String> = None;
    let mut truncated = false;
    let all = receipts::ListFilter::default();
    for page_no in 0..max_pages {
        let (entries, next) =
            receipts::list(backend, tenant, &all, cursor.as_deref(), 1000).await?;
        for e in &entries {
            days.entry(time::date(e.issued)).or_default().add(e, config.open_receipt_seconds);
            total.add(e, config.open_receipt_seconds);
        }
        cursor = next;
        if cursor.is_none() {
            break;
        }
        truncated = page_no + 1 == max_pages;
    }
    days.values_mut().for_each(Figures::finish);
    total.finish();
    Ok((days, total, truncated))
}

/// The figures as JSON, with the deadline they were measured against.
pub fn figures_json(config: &Config, f: &Figures) -> Value {
    let mut v = json!(f);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("deadline_seconds".into(), json!(config.open_receipt_seconds));
    }
    v
}
