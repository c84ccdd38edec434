//! Per-tenant counters of checks, matches, receipts and follow-ups, kept in KV without losing
//! increments.
//!
//! KV allows one write per key and second and has no atomic increment, so concurrent isolates
//! cannot share one counter key. Each isolate counts in memory and writes its own shard,
//! `count:{tenant}:{day}:{isolate}`, holding its cumulative counts of that UTC day, at most once
//! a second (a write is deferred past the response with `waitUntil`). The export lists a
//! tenant's shards (the counts ride in the key metadata, so one list call reads 1000 shards)
//! and sums them, replacing the exporting isolate's own shards by its in-memory counts, which
//! are never behind. A finished day's shards never change again, so they can be folded into one
//! key by a scheduled job (see the README).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::http::Deferred;
use crate::keys;

/// Counts of one tenant (per day, per isolate, or summed). Shards written before a field
/// existed read it as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Checks made (confirm, scan, gate uploads; one per request).
    pub checks: u64,
    /// Checks that matched.
    pub matches: u64,
    /// Receipts issued (one per matching list and hash kind).
    pub receipts: u64,
    /// Follow-ups recorded as `removed`.
    pub removed: u64,
    /// Follow-ups recorded as `disputed`.
    pub disputed: u64,
    /// Bucket objects checked (clean or match; see `crate::bucket`).
    pub objects_checked: u64,
    /// Bucket objects that failed for good (corrupt, unsupported, too large).
    pub objects_failed: u64,
    /// Bucket objects whose messages were dead-lettered after the queue's retries.
    pub objects_dead_lettered: u64,
    /// Bucket events acknowledged without a check (deleted objects, unknown buckets, objects
    /// gone before the check).
    pub objects_skipped: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.checks += other.checks;
        self.matches += other.matches;
        self.receipts += other.receipts;
        self.removed += other.removed;
        self.disputed += other.disputed;
        self.objects_checked += other.objects_checked;
        self.objects_failed += other.objects_failed;
        self.objects_dead_lettered += other.objects_dead_lettered;
        self.objects_skipped += other.objects_skipped;
    }
}

/// Pages of 1000 shards read at most by [`total`].
pub const MAX_TOTAL_PAGES: usize = 10;

/// The counts of a counter key (a tenant, or a pseudo-tenant such as `backfill:{id}`) summed
/// over days and isolates: every other isolate's shards from KV, this isolate's from memory.
/// The flag says whether shards were left unread (more than [`MAX_TOTAL_PAGES`] pages).
pub async fn total<B: crate::backend::Backend>(
    backend: &B,
    isolate_id: &str,
    local: &[(String, Counts)],
    tenant: &str,
) -> Result<(Counts, bool), crate::error::ApiError> {
    let mut sum = Counts::default();
    let mut cursor: Option<String> = None;
    let mut truncated = false;
    for page_no in 0..MAX_TOTAL_PAGES {
        let page = backend
            .kv_list(&keys::count_prefix(tenant), cursor.as_deref(), 1000)
            .await
            .map_err(crate::error::ApiError::storage)?;
        for (key, meta) in &page.keys {
            let Some((_, shard_isolate)) = keys::parse_count_shard(tenant, key) else { continue };
            if shard_isolate == isolate_id {
                continue;
            }
            if let Some(c) = meta.as_deref().and_then(|m| serde_json::from_str::<Counts>(m).ok()) {
                sum.add(&c);
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
        truncated = page_no + 1 == MAX_TOTAL_PAGES;
    }
    for (_, c) in local {
        sum.add(c);
    }
    Ok((sum, truncated))
}

#[derive(Debug, Default)]
struct Shard {
    counts: Counts,
    last_flush_ms: Option<u64>,
    scheduled: bool,
}

/// The counts of one isolate, by tenant and day.
#[derive(Debug, Default)]
pub struct Counters {
    shards: HashMap<(String, String), Shard>,
}

/// The smallest interval between two writes of one KV key.
pub const FLUSH_INTERVAL_MS: u64 = 1000;

impl Counters {
    /// Adds to a tenant's counts of `day`; returns the flush to schedule, unless one is pending.
    pub fn bump(
        &mut self,
        tenant: &str,
        day: &str,
        delta: &Counts,
        now_ms: u64,
    ) -> Option<Deferred> {
        let shard = self.shards.entry((tenant.to_owned(), day.to_owned())).or_default();
        shard.counts.add(delta);
        if shard.scheduled {
            return None;
        }
        shard.scheduled = true;
        let after_ms = match shard.last_flush_ms {
            Some(last) => FLUSH_INTERVAL_MS.saturating_sub(now_ms.saturating_sub(last)),
            None => 0,
        };
        Some(Deferred::FlushCounters { tenant: tenant.to_owned(), day: day.to_owned(), after_ms })
    }

    /// Marks a scheduled flush as running and returns the counts to write.
    pub fn take_flush(&mut self, tenant: &str, day: &str, now_ms: u64) -> Option<Counts> {
        let shard = self.shards.get_mut(&(tenant.to_owned(), day.to_owned()))?;
        shard.scheduled = false;
        shard.last_flush_ms = Some(now_ms);
        Some(shard.counts)
    }

    /// This isolate's counts of a tenant, by day.
    pub fn of(&self, tenant: &str) -> Vec<(String, Counts)> {
        let mut out: Vec<(String, Counts)> = self
            .shards
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|((_, d), s)| (d.clone(), s.counts))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Forgets shards of days before `today` that have been written (bounded memory).
    pub fn prune(&mut self, today: &str) {
        self.shards.retain(|(_, day), s| day.as_str() >= today || s.scheduled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_check() -> Counts {
        Counts { checks: 1, ..Counts::default() }
    }

    #[test]
    fn at_most_one_write_per_second_and_nothing_lost() {
        let mut c = Counters::default();
        let d = "2026-11-29";
        let first = c.bump("acme", d, &one_check(), 10_000);
        assert_eq!(
            first,
            Some(Deferred::FlushCounters { tenant: "acme".into(), day: d.into(), after_ms: 0 })
        );
        // Pending: further bumps schedule nothing.
        assert_eq!(c.bump("acme", d, &one_check(), 10_001), None);
        assert_eq!(c.take_flush("acme", d, 10_002).map(|x| x.checks), Some(2));
        // The next bump waits out the second since the last write.
        let next = c.bump("acme", d, &one_check(), 10_300);
        assert_eq!(
            next,
            Some(Deferred::FlushCounters { tenant: "acme".into(), day: d.into(), after_ms: 702 })
        );
        assert_eq!(c.take_flush("acme", d, 11_002).map(|x| x.checks), Some(3));
        assert_eq!(c.of("acme"), vec![(d.to_owned(), Counts { checks: 3, ..Counts::default() })]);
        assert!(c.of("other").is_empty());
        c.prune("2026-11-30");
        assert!(c.of("acme").is_empty());
    }
}
