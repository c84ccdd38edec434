//! Bucket scanning on Cloudflare Queues: the hosting provider's uploads bucket (`SCHOON_UPLOADS`,
//! named by `UPLOADS_BUCKET`) sends object-create event notifications to the scan queue; the
//! queue consumer checks each object with the same size and decoding limits as `/v1/scan`, and
//! issues receipts (subject: bucket and key) for `BUCKET_TENANT` when it matches.
//!
//! A message is one of
//!
//! - an R2 event notification, `{"account", "action": "PutObject", "bucket", "object": {"key",
//!   "size", "eTag"}, "eventTime"}` (actions `PutObject`, `CopyObject` and
//!   `CompleteMultipartUpload` are checked; `DeleteObject` and `LifecycleDeletion` are recorded
//!   as skipped);
//! - a [`Task`] of this worker (`"schoon": "object"` or `"schoon": "list"`), sent by a
//!   backfill.
//!
//! Every object's outcome is recorded in KV under `scan:{bucket}:{sha256 of the key}`
//! ([`ObjectRecord`]): `checked` (clean or match, with the receipt ids), `failed` with a reason
//! that no retry can change (`corrupt`, `unsupported`, `too_large`), `retrying` (storage or
//! index unavailable: the message is retried with a delay of `SCAN_RETRY_SECONDS` doubled per
//! attempt, at most an hour), `dead_lettered` (the queue gave up after its `max_retries` and the
//! dead-letter queue's consumer recorded the last reason), or `skipped` (`deleted`,
//! `unknown_bucket`, `gone`: the object was deleted before it was read; `unknown_action`,
//! `bad_message`). A message for an object already checked or failed with the same etag is
//! acknowledged without a second check, so redelivered messages issue no second receipt.
//!
//! A **backfill** (`POST /v1/admin/backfill {"prefix": "..."}`) lists the existing bucket page
//! by page through the queue: a `list` task reads one page of objects, sends one `object` task
//! per object with one batch send, then sends the `list` task of the next page (see
//! [`crate::backfill`]).
//!
//! Everything here is platform-free: the adapter turns each queue message into its JSON text,
//! calls [`Scanner::handle`] and acknowledges or retries as told.
//!
//! Over 600 lines on purpose: this is one state machine (message, job, check, record, and
//! acknowledge, retry or dead-letter), whose steps share the record, retry and counting types;
//! split further, each part would need the others. Backfills are in `backfill.rs`.
//!
//! ```
//! use schoon_worker::bucket::{parse, Job};
//!
//! let job = parse(r#"{"account": "a", "action": "PutObject", "bucket": "uploads",
//!     "object": {"key": "a.jpg", "size": 3, "eTag": "e"}, "eventTime": "2026-12-04T00:00:00Z"}"#);
//! let key = "a.jpg".to_owned();
//! assert_eq!(job, Job::Check { bucket: "uploads".into(), key, etag: Some("e".into()), backfill: None });
//! assert!(matches!(parse("{\"action\": \"DeleteObject\", \"bucket\": \"uploads\", \"object\": {\"key\": \"a.jpg\"}}"),
//!     Job::Skip { reason: "deleted", .. }));
//! ```

use futures_util::StreamExt;
use futures_util::lock::Mutex;
use schoon_core::ErrorKind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth;
use crate::backend::{Backend, ObjectRead};
use crate::config::{BucketConfig, Config};
use crate::counters::Counts;
use crate::error::ApiError;
use crate::http::Deferred;
use crate::isolate::Isolate;
use crate::keys;
use crate::receipts;
use crate::sets;
use crate::subject::Subject;
use crate::tenant::TenantRecord;
use crate::time;

/// Longest delay between retries, in seconds.
pub const MAX_RETRY_DELAY: u32 = 3600;

/// Messages of one batch handled at a time: their storage calls overlap.
pub const BATCH_CONCURRENCY: usize = 16;

/// Bytes of objects a batch holds in memory at most: objects are read and hashed
/// `READ_BUDGET / SCAN_MAX_BYTES` at a time (at least one, at most [`BATCH_CONCURRENCY`]), so
/// with the default 25 MiB limit one at a time.
pub const READ_BUDGET: u64 = 32 << 20;

/// A message of this worker on the scan queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "schoon", rename_all = "snake_case")]
pub enum Task {
    /// Check one object (sent by a backfill page).
    Object {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// The etag the listing saw.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        /// The backfill that listed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backfill: Option<String>,
    },
    /// List one page of the bucket and enqueue its objects and the next page.
    List {
        /// The backfill id.
        backfill: String,
        /// Only keys with this prefix.
        prefix: String,
        /// Where the page starts (`None`: the first page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct Notification {
    action: String,
    bucket: String,
    object: NotifiedObject,
}

#[derive(Debug, Deserialize)]
struct NotifiedObject {
    key: String,
    #[serde(default, rename = "eTag")]
    etag: Option<String>,
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Check an object.
    Check {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The etag, when the message had one.
        etag: Option<String>,
        /// The backfill that listed it.
        backfill: Option<String>,
    },
    /// Record an object as skipped without reading it.
    Skip {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Why (`deleted`, `unknown_action`).
        reason: &'static str,
    },
    /// A backfill page.
    List {
        /// The backfill id.
        backfill: String,
        /// The prefix.
        prefix: String,
        /// The page's cursor.
        cursor: Option<String>,
    },
    /// A message that is neither a notification nor a task.
    Invalid(String),
}

/// Reads a message body (JSON text).
pub fn parse(text: &str) -> Job {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Job::Invalid(format!("message is not JSON: {e}")),
    };
    if value.get("schoon").is_some() {
        return match serde_json::from_value::<Task>(value) {
            Ok(Task::Object { bucket, key, etag, backfill }) => {
                Job::Check { bucket, key, etag, backfill }
            }
            Ok(Task::List { backfill, prefix, cursor }) => Job::List { backfill, prefix, cursor },
            Err(e) => Job::Invalid(format!("task: {e}")),
        };
    }
    match serde_json::from_value::<Notification>(value) {
        Ok(n) => match n.action.as_str() {
            "PutObject" | "CopyObject" | "CompleteMultipartUpload" => Job::Check {
                bucket: n.bucket,
                key: n.object.key,
                etag: n.object.etag,
                backfill: None,
            },
            "DeleteObject" | "LifecycleDeletion" => {
                Job::Skip { bucket: n.bucket, key: n.object.key, reason: "deleted" }
            }
            _ => Job::Skip { bucket: n.bucket, key: n.object.key, reason: "unknown_action" },
        },
        Err(e) => Job::Invalid(format!("notification: {e}")),
    }
}

/// What the adapter does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Acknowledge it: its outcome is recorded.
    Ack,
    /// Retry it after this many seconds (0: at once); the queue dead-letters it after its
    /// `max_retries`.
    Retry(u32),
}

/// An object's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Hashed and matched against the index.
    Checked,
    /// Cannot be checked, for good.
    Failed,
    /// Waiting for a retry.
    Retrying,
    /// The queue gave up.
    DeadLettered,
    /// Acknowledged without a check.
    Skipped,
}

impl State {
    /// Whether the state is an outcome (nothing more will happen to this version).
    pub fn is_final(self) -> bool {
        !matches!(self, State::Retrying)
    }
}

/// The recorded outcome of one object (`scan:{bucket}:{sha256 of key}` in KV; the listing
/// metadata is `{"state", "reason"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The etag of the version checked, when known.
    #[serde(default)]
    pub etag: Option<String>,
    /// The state.
    pub state: State,
    /// `clean` or `match`, once checked.
    #[serde(default)]
    pub verdict: Option<String>,
    /// Receipts issued for it.
    #[serde(default)]
    pub receipts: Vec<String>,
    /// Why it failed, is retried, was dead-lettered or skipped (a short code).
    #[serde(default)]
    pub reason: Option<String>,
    /// The error's message, when there was one.
    #[serde(default)]
    pub detail: Option<String>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// When this was recorded, unix milliseconds.
    pub time_ms: u64,
    /// The backfill that listed it.
    #[serde(default)]
    pub backfill: Option<String>,
}

/// The failure code of an image that did not decode: `too_large`, `unsupported` or `corrupt`.
pub fn failure_code(e: &schoon_core::Error) -> &'static str {
    match e.kind() {
        ErrorKind::Limit => "too_large",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::BadInput | ErrorKind::Caller => "corrupt",
    }
}

pub(crate) fn to_text<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The queue consumer with everything it works with.
#[derive(Debug, Clone, Copy)]
pub struct Scanner<'a, B: Backend> {
    /// The configuration.
    pub config: &'a Config,
    /// This isolate's state (index, counters).
    pub isolate: &'a Isolate,
    /// The platform.
    pub backend: &'a B,
}

/// A retry: why, and the error text.
struct Retry {
    reason: &'static str,
    detail: String,
}

impl<B: Backend> Scanner<'_, B> {
    /// Handles one message of `queue` (the scan queue or its dead-letter queue); returns what
    /// to do with it and the counter writes to run after.
    pub async fn handle(&self, queue: &str, body: &str) -> (Ack, Vec<Deferred>) {
        let (ack, deferred) = self.handle_one(queue, body, &Mutex::new(())).await;
        (ack, relative(deferred, self.backend.now_ms()))
    }

    /// Handles a batch: [`BATCH_CONCURRENCY`] messages at a time, objects read and hashed
    /// within [`READ_BUDGET`]; the answers are in the order of `bodies`.
    pub async fn handle_batch(&self, queue: &str, bodies: &[String]) -> (Vec<Ack>, Vec<Deferred>) {
        let slots =
            (READ_BUDGET / self.config.scan_max_bytes.max(1)).clamp(1, BATCH_CONCURRENCY as u64);
        let reading: Vec<Mutex<()>> = (0..slots).map(|_| Mutex::new(())).collect();
        let spare = Mutex::new(());
        let results: Vec<(Ack, Vec<Deferred>)> =
            futures_util::stream::iter(bodies.iter().enumerate())
                .map(|(i, body)| {
                    let slot = reading.get(i % reading.len()).unwrap_or(&spare);
                    self.handle_one(queue, body, slot)
                })
                .buffered(BATCH_CONCURRENCY)
                .collect()
                .await;
        let mut deferred = Vec::new();
        let acks = results
            .into_iter()
            .map(|(ack, d)| {
                deferred.extend(d);
                ack
            })
            .collect();
        (acks, relative(deferred, self.backend.now_ms()))
    }

    async fn handle_one(
        &self,
        queue: &str,
        body: &str,
        reading: &Mutex<()>,
    ) -> (Ack, Vec<Deferred>) {
        let Some(bucket) = &self.config.bucket else {
            // Scanning is off: nothing to record against.
            return (Ack::Ack, Vec::new());
        };
        let mut deferred = Vec::new();
        let job = parse(body);
        let ack = if queue == bucket.dead_letter_queue {
            self.dead_letter(bucket, job, &mut deferred).await
        } else {
            self.scan(bucket, job, &mut deferred, reading).await
        };
        (ack, deferred)
    }

    /// Counts, and collects the counter flushes to schedule with their due time (absolute,
    /// unix milliseconds, until [`relative`] turns it back into a delay when the batch ends).
    fn count(&self, tenant: &str, backfill: Option<&str>, delta: Counts, out: &mut Vec<Deferred>) {
        let now = self.backend.now_ms();
        let day = time::date(now);
        let absolute = |d: Deferred| match d {
            Deferred::FlushCounters { tenant, day, after_ms } => {
                Deferred::FlushCounters { tenant, day, after_ms: now.saturating_add(after_ms) }
            }
        };
        out.extend(self.isolate.count(tenant, &day, &delta, now).map(absolute));
        if let Some(id) = backfill {
            out.extend(
                self.isolate.count(&keys::backfill_counter(id), &day, &delta, now).map(absolute),
            );
        }
    }

    async fn load(&self, key: &str) -> Result<Option<ObjectRecord>, ApiError> {
        match self.backend.kv_get(key).await.map_err(ApiError::storage)? {
            None => Ok(None),
            // An unreadable record is treated as none (it is rewritten).
            Some(t) => Ok(serde_json::from_str(&t).ok()),
        }
    }

    async fn save(&self, record: &ObjectRecord) -> Result<(), ApiError> {
        let meta = json!({ "state": record.state, "reason": record.reason }).to_string();
        self.backend
            .kv_put(&keys::scan_object(&record.bucket, &record.key), &to_text(record)?, Some(&meta))
            .await
            .map_err(ApiError::storage)
    }

    fn delay(&self, bucket: &BucketConfig, attempts: u32) -> u32 {
        let doubled = 1u32.checked_shl(attempts.saturating_sub(1).min(16)).unwrap_or(u32::MAX);
        bucket.retry_seconds.saturating_mul(doubled).min(MAX_RETRY_DELAY)
    }

    async fn scan(
        &self,
        bucket: &BucketConfig,
        job: Job,
        out: &mut Vec<Deferred>,
        reading: &Mutex<()>,
    ) -> Ack {
        let now = self.backend.now_ms();
        let skip = |b: String, key: String, reason: &str, backfill: Option<String>| ObjectRecord {
            bucket: b,
            key,
            etag: None,
            state: State::Skipped,
            verdict: None,
            receipts: Vec::new(),
            reason: Some(reason.to_owned()),
            detail: None,
            attempts: 0,
            time_ms: now,
            backfill,
        };
        match job {
            Job::Invalid(detail) => {
                log(&format!("scan queue: dropped a message: {detail}"));
                self.count(&bucket.tenant, None, skipped(), out);
                Ack::Ack
            }
            Job::List { backfill, prefix, cursor } => {
                match self.list_page(&backfill, &prefix, cursor).await {
                    Ok(()) => Ack::Ack,
                    Err(e) => {
                        log(&format!("backfill {backfill}: {e}"));
                        Ack::Retry(self.delay(bucket, 1))
                    }
                }
            }
            Job::Skip { bucket: b, key, reason } => {
                let reason = if b == bucket.name { reason } else { "unknown_bucket" };
                let mut record = skip(b, key, reason, None);
                // A deleted object keeps what its check found.
                if let Ok(Some(old)) =
                    self.load(&keys::scan_object(&record.bucket, &record.key)).await
                {
                    record.verdict = old.verdict;
                    record.receipts = old.receipts;
                    record.etag = old.etag;
                }
                match self.save(&record).await {
                    Ok(()) => {
                        self.count(&bucket.tenant, None, skipped(), out);
                        Ack::Ack
                    }
                    Err(_) => Ack::Retry(self.delay(bucket, 1)),
                }
            }
            Job::Check { bucket: b, key, etag, backfill } => {
                if b != bucket.name {
                    let record = skip(b, key, "unknown_bucket", backfill.clone());
                    return match self.save(&record).await {
                        Ok(()) => {
                            self.count(&bucket.tenant, backfill.as_deref(), skipped(), out);
                            Ack::Ack
                        }
                        Err(_) => Ack::Retry(self.delay(bucket, 1)),
                    };
                }
                self.check(bucket, key, etag, backfill, out, reading).await
            }
        }
    }

    async fn check(
        &self,
        bucket: &BucketConfig,
        key: String,
        etag: Option<String>,
        backfill: Option<String>,
        out: &mut Vec<Deferred>,
        reading: &Mutex<()>,
    ) -> Ack {
        let record_key = keys::scan_object(&bucket.name, &key);
        let old = match self.load(&record_key).await {
            Ok(o) => o,
            Err(e) => return Ack::Retry(self.retry_delay(bucket, None, &key, &backfill, e).await),
        };
        if let Some(old) = &old
            && matches!(old.state, State::Checked | State::Failed)
            && etag.is_some()
            && old.etag == etag
        {
            return Ack::Ack; // a redelivery: already recorded
        }
        match self.check_object(bucket, &key, &backfill, out, reading).await {
            Ok(mut record) => {
                if record.etag.is_none() {
                    record.etag = etag;
                }
                let failed = record.state == State::Failed;
                let skipped_now = record.state == State::Skipped;
                match self.save(&record).await {
                    Ok(()) => {
                        let delta = if failed {
                            Counts { objects_failed: 1, ..Counts::default() }
                        } else if skipped_now {
                            skipped()
                        } else {
                            Counts { objects_checked: 1, ..Counts::default() }
                        };
                        self.count(&bucket.tenant, backfill.as_deref(), delta, out);
                        Ack::Ack
                    }
                    Err(e) => {
                        let retry = Retry { reason: "storage", detail: e.to_string() };
                        Ack::Retry(self.retry_delay(bucket, old, &key, &backfill, retry).await)
                    }
                }
            }
            Err(retry) => Ack::Retry(self.retry_delay(bucket, old, &key, &backfill, retry).await),
        }
    }

    /// Records a retry (best effort) and returns its delay.
    async fn retry_delay(
        &self,
        bucket: &BucketConfig,
        old: Option<ObjectRecord>,
        key: &str,
        backfill: &Option<String>,
        retry: impl Into<RetryOf>,
    ) -> u32 {
        let RetryOf(retry) = retry.into();
        let attempts = old.as_ref().map_or(0, |o| o.attempts).saturating_add(1);
        let record = ObjectRecord {
            bucket: bucket.name.clone(),
            key: key.to_owned(),
            etag: old.as_ref().and_then(|o| o.etag.clone()),
            state: State::Retrying,
            verdict: None,
            receipts: Vec::new(),
            reason: Some(retry.reason.to_owned()),
            detail: Some(retry.detail),
            attempts,
            time_ms: self.backend.now_ms(),
            backfill: backfill.clone(),
        };
        if let Err(e) = self.save(&record).await {
            log(&format!("scan queue: recording a retry of {key}: {e}"));
        }
        self.delay(bucket, attempts)
    }

    /// Reads, hashes and matches one object: its record, or why to retry.
    async fn check_object(
        &self,
        bucket: &BucketConfig,
        key: &str,
        backfill: &Option<String>,
        out: &mut Vec<Deferred>,
        reading: &Mutex<()>,
    ) -> Result<ObjectRecord, Retry> {
        let loaded = sets::current_index(self.backend, self.config, self.isolate)
            .await
            .map_err(|e| Retry { reason: "index", detail: e.to_string() })?;
        // The bucket tenant's list policy, when it has a tenant record (none: every list).
        let tenant = auth::tenant_record(&bucket.tenant, self.config, self.isolate, self.backend)
            .await
            .map_err(|e| Retry { reason: "storage", detail: e.to_string() })?
            .unwrap_or_else(|| TenantRecord {
                tenant: bucket.tenant.clone(),
                ..TenantRecord::default()
            });
        // One object's bytes at a time: read, hash, drop.
        let guard = reading.lock().await;
        let read = self
            .backend
            .uploads_get(key, self.config.scan_max_bytes)
            .await
            .map_err(|e| Retry { reason: "storage", detail: e.to_string() })?;
        let mut record = ObjectRecord {
            bucket: bucket.name.clone(),
            key: key.to_owned(),
            etag: None,
            state: State::Checked,
            verdict: None,
            receipts: Vec::new(),
            reason: None,
            detail: None,
            attempts: 0,
            time_ms: self.backend.now_ms(),
            backfill: backfill.clone(),
        };
        let (info, bytes) = match read {
            ObjectRead::Missing => {
                record.state = State::Skipped;
                record.reason = Some("gone".into());
                return Ok(record);
            }
            ObjectRead::TooLarge(info) => {
                record.etag = Some(info.etag);
                record.state = State::Failed;
                record.reason = Some("too_large".into());
                record.detail = Some(format!(
                    "object of {} bytes exceeds the limit of {} bytes",
                    info.size, self.config.scan_max_bytes
                ));
                return Ok(record);
            }
            ObjectRead::Bytes(info, bytes) => (info, bytes),
        };
        record.etag = Some(info.etag);
        let hashed =
            crate::shards::check_bytes(self.backend, self.config, &loaded, &tenant, &bytes)
                .await
                .map_err(|e| Retry { reason: "index", detail: e.to_string() })?;
        drop(bytes);
        drop(guard);
        let subject = Subject {
            bucket: Some(bucket.name.clone()),
            key: Some(key.to_owned()),
            ..Subject::default()
        };
        let issued = receipts::issue(
            self.backend,
            self.config,
            &bucket.tenant,
            &hashed.query,
            &hashed.matches,
            loaded.meta.version,
            &subject,
        )
        .await
        .map_err(|e| Retry { reason: "storage", detail: e.to_string() })?;
        let matched = !hashed.matches.is_empty();
        self.count(
            &bucket.tenant,
            None,
            Counts {
                checks: 1,
                matches: u64::from(matched),
                receipts: issued.len() as u64,
                ..Counts::default()
            },
            out,
        );
        record.receipts = issued.into_iter().map(|r| r.id).collect();
        match (&hashed.report.image, matched) {
            (Err(e), false) => {
                // The exact hashes were checked and did not match; PDQ could not be.
                record.state = State::Failed;
                record.verdict = Some("clean".into());
                record.reason = Some(failure_code(e).into());
                record.detail = Some(e.to_string());
            }
            _ => record.verdict = Some(if matched { "match" } else { "clean" }.into()),
        }
        Ok(record)
    }

    async fn dead_letter(&self, bucket: &BucketConfig, job: Job, out: &mut Vec<Deferred>) -> Ack {
        match job {
            Job::Check { bucket: b, key, backfill, etag } => {
                let old = match self.load(&keys::scan_object(&b, &key)).await {
                    Ok(o) => o,
                    Err(_) => return Ack::Retry(self.delay(bucket, 1)),
                };
                if old.as_ref().is_some_and(|o| o.state.is_final()) {
                    return Ack::Ack; // a later delivery succeeded
                }
                let record = ObjectRecord {
                    bucket: b,
                    key,
                    etag: old.as_ref().and_then(|o| o.etag.clone()).or(etag),
                    state: State::DeadLettered,
                    verdict: None,
                    receipts: Vec::new(),
                    reason: Some(
                        old.as_ref()
                            .and_then(|o| o.reason.clone())
                            .unwrap_or_else(|| "retries_exhausted".into()),
                    ),
                    detail: old.as_ref().and_then(|o| o.detail.clone()),
                    attempts: old.as_ref().map_or(0, |o| o.attempts),
                    time_ms: self.backend.now_ms(),
                    backfill: backfill.clone(),
                };
                match self.save(&record).await {
                    Ok(()) => {
                        let delta = Counts { objects_dead_lettered: 1, ..Counts::default() };
                        self.count(&bucket.tenant, backfill.as_deref(), delta, out);
                        Ack::Ack
                    }
                    Err(_) => Ack::Retry(self.delay(bucket, 1)),
                }
            }
            Job::List { backfill, .. } => {
                match self
                    .update_backfill(&backfill, |b| {
                        b.failed = Some("a page message was dead-lettered".into());
                    })
                    .await
                {
                    Ok(_) => Ack::Ack,
                    Err(_) => Ack::Retry(self.delay(bucket, 1)),
                }
            }
            Job::Skip { .. } | Job::Invalid(_) => Ack::Ack,
        }
    }
}

/// Turns the due times [`Scanner::count`] collected into delays from `now_ms`: a flush
/// scheduled early in a long batch is not held back a second time after it.
fn relative(deferred: Vec<Deferred>, now_ms: u64) -> Vec<Deferred> {
    deferred
        .into_iter()
        .map(|d| match d {
            Deferred::FlushCounters { tenant, day, after_ms } => {
                Deferred::FlushCounters { tenant, day, after_ms: after_ms.saturating_sub(now_ms) }
            }
        })
        .collect()
}

/// A retry reason from a storage error or an explicit retry.
struct RetryOf(Retry);

impl From<Retry> for RetryOf {
    fn from(r: Retry) -> Self {
        RetryOf(r)
    }
}

impl From<ApiError> for RetryOf {
    fn from(e: ApiError) -> Self {
        RetryOf(Retry { reason: "storage", detail: e.to_string() })
    }
}

/// Writes a line to the worker's log (the console on Workers; nothing natively).
pub fn log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_log!("{message}");
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

fn skipped() -> Counts {
    Counts { objects_skipped: 1, ..Counts::default() }
}
