//! Backfills of bucket scanning: `POST /v1/admin/backfill` lists the existing bucket page by
//! page through the scan queue (see [`crate::bucket`]): a `list` task reads one page of
//! [`LIST_PAGE`] objects, sends one `object` task per object with one batch send, then sends the
//! `list` task of the next page. Its progress is kept in `backfill:{id}` ([`Backfill`]) and in
//! the counters of the pseudo tenant `~backfill.{id}`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::bucket::{Scanner, Task, to_text};
use crate::config::Config;
use crate::counters::{self, Counts};
use crate::error::ApiError;
use crate::isolate::Isolate;
use crate::keys;
use crate::time;

/// Objects listed per backfill page (one queue batch send carries at most 100 messages).
pub const LIST_PAGE: u32 = 100;

/// Most backfills shown in the statistics (the newest).
pub const MAX_BACKFILLS_SHOWN: u32 = 20;

/// A backfill's progress (`backfill:{id}` in KV).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    /// The id (16 hex digits).
    pub id: String,
    /// The key prefix listed.
    pub prefix: String,
    /// When it started, unix milliseconds.
    pub started_ms: u64,
    /// Objects listed so far.
    pub listed: u64,
    /// Object tasks enqueued so far.
    pub enqueued: u64,
    /// Pages listed so far.
    pub pages: u64,
    /// The cursor of the page to list next (`None` with `listing_done`: the end).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Whether the last page has been listed.
    pub listing_done: bool,
    /// When the listing finished, unix milliseconds.
    #[serde(default)]
    pub finished_ms: Option<u64>,
    /// Why the listing stopped early (its page message was dead-lettered).
    #[serde(default)]
    pub failed: Option<String>,
}

impl<B: Backend> Scanner<'_, B> {
    pub(crate) async fn load_backfill(&self, id: &str) -> Result<Option<Backfill>, ApiError> {
        match self.backend.kv_get(&keys::backfill(id)).await.map_err(ApiError::storage)? {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                ApiError::Internal(format!("stored backfill {id} is unreadable: {e}"))
            }),
        }
    }

    pub(crate) async fn update_backfill(
        &self,
        id: &str,
        f: impl FnOnce(&mut Backfill),
    ) -> Result<Option<Backfill>, ApiError> {
        let Some(mut b) = self.load_backfill(id).await? else { return Ok(None) };
        f(&mut b);
        save_backfill(self.backend, &b).await?;
        Ok(Some(b))
    }

    /// Lists one backfill page, enqueues its objects and the next page, records the progress.
    /// A page that is not the one the backfill expects next (a redelivery) is ignored.
    pub(crate) async fn list_page(
        &self,
        id: &str,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(), ApiError> {
        let Some(backfill) = self.load_backfill(id).await? else { return Ok(()) };
        if backfill.listing_done || backfill.cursor != cursor || backfill.failed.is_some() {
            return Ok(());
        }
        let Some(bucket) = &self.config.bucket else { return Ok(()) };
        let page = self
            .backend
            .uploads_list(prefix, cursor.as_deref(), LIST_PAGE)
            .await
            .map_err(ApiError::storage)?;
        let tasks: Vec<String> = page
            .objects
            .iter()
            .map(|o| {
                to_text(&Task::Object {
                    bucket: bucket.name.clone(),
                    key: o.key.clone(),
                    etag: Some(o.etag.clone()),
                    backfill: Some(id.to_owned()),
                })
            })
            .collect::<Result<_, _>>()?;
        if !tasks.is_empty() {
            self.backend.queue_send(&tasks, 0).await.map_err(ApiError::storage)?;
        }
        if let Some(next) = &page.cursor {
            let task = Task::List {
                backfill: id.to_owned(),
                prefix: prefix.to_owned(),
                cursor: Some(next.clone()),
            };
            self.backend.queue_send(&[to_text(&task)?], 0).await.map_err(ApiError::storage)?;
        }
        let n = page.objects.len() as u64;
        let now = self.backend.now_ms();
        let mut b = backfill;
        b.listed += n;
        b.enqueued += tasks.len() as u64;
        b.pages += 1;
        b.cursor = page.cursor.clone();
        if page.cursor.is_none() {
            b.listing_done = true;
            b.finished_ms = Some(now);
        }
        save_backfill(self.backend, &b).await
    }
}

async fn save_backfill<B: Backend>(backend: &B, b: &Backfill) -> Result<(), ApiError> {
    let meta = json!({ "started_ms": b.started_ms }).to_string();
    backend
        .kv_put(&keys::backfill(&b.id), &to_text(b)?, Some(&meta))
        .await
        .map_err(ApiError::storage)
}

/// The body of `POST /v1/admin/backfill`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillIn {
    /// Only keys with this prefix (default: the whole bucket).
    #[serde(default)]
    pub prefix: String,
}

/// Starts a backfill: records it and enqueues its first page. Refused (409) while bucket
/// scanning is off.
pub async fn start_backfill<B: Backend>(
    backend: &B,
    config: &Config,
    input: BackfillIn,
) -> Result<Backfill, ApiError> {
    if config.bucket.is_none() {
        return Err(ApiError::Conflict("bucket scanning is off: UPLOADS_BUCKET is not set".into()));
    }
    if input.prefix.len() > 1024 {
        return Err(ApiError::Invalid(format!(
            "prefix of {} bytes (at most 1024)",
            input.prefix.len()
        )));
    }
    let mut id = [0u8; 8];
    backend.fill_random(&mut id).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    let b = Backfill {
        id: schoon_core::hex::encode(&id),
        prefix: input.prefix.clone(),
        started_ms: backend.now_ms(),
        ..Backfill::default()
    };
    save_backfill(backend, &b).await?;
    let task = Task::List { backfill: b.id.clone(), prefix: input.prefix, cursor: None };
    backend.queue_send(&[to_text(&task)?], 0).await.map_err(ApiError::storage)?;
    Ok(b)
}

/// A backfill as the statistics show it: the listing's figures and its objects' outcomes.
pub fn backfill_json(b: &Backfill, outcomes: &Counts) -> Value {
    let accounted = outcomes.objects_checked
        + outcomes.objects_failed
        + outcomes.objects_dead_lettered
        + outcomes.objects_skipped;
    json!({
        "id": b.id,
        "prefix": b.prefix,
        "started": time::rfc3339(b.started_ms),
        "listed": b.listed,
        "enqueued": b.enqueued,
        "pages": b.pages,
        "checked": outcomes.objects_checked,
        "failed": outcomes.objects_failed,
        "dead_lettered": outcomes.objects_dead_lettered,
        "skipped": outcomes.objects_skipped,
        "listing_done": b.listing_done,
        "listing_failed": b.failed,
        "done": b.listing_done && accounted >= b.enqueued,
    })
}

/// The bucket section of the bucket tenant's statistics: the scan's totals and the newest
/// backfills (at most [`MAX_BACKFILLS_SHOWN`]).
pub async fn progress_json<B: Backend>(
    backend: &B,
    isolate: &Isolate,
    config: &Config,
    totals: &Counts,
) -> Result<Option<Value>, ApiError> {
    let Some(bucket) = &config.bucket else { return Ok(None) };
    let page =
        backend.kv_list(keys::BACKFILL_PREFIX, None, 1000).await.map_err(ApiError::storage)?;
    let mut found: Vec<(u64, String)> = page
        .keys
        .iter()
        .filter_map(|(k, meta)| {
            let started = meta
                .as_deref()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .and_then(|v| v.get("started_ms").and_then(Value::as_u64))
                .unwrap_or(0);
            keys::backfill_of(k).map(|id| (started, id.to_owned()))
        })
        .collect();
    found.sort();
    let newest = found.iter().rev().take(MAX_BACKFILLS_SHOWN as usize);
    let mut backfills = Vec::new();
    for (_, id) in newest {
        let Some(text) = backend.kv_get(&keys::backfill(id)).await.map_err(ApiError::storage)?
        else {
            continue;
        };
        let Ok(b) = serde_json::from_str::<Backfill>(&text) else { continue };
        let name = keys::backfill_counter(id);
        let (outcomes, _) =
            counters::total(backend, &isolate.id, &isolate.counts_of(&name), &name).await?;
        backfills.push(backfill_json(&b, &outcomes));
    }
    Ok(Some(json!({
        "bucket": bucket.name,
        "checked": totals.objects_checked,
        "failed": totals.objects_failed,
        "dead_lettered": totals.objects_dead_lettered,
        "skipped": totals.objects_skipped,
        "backfills": backfills,
    })))
}
