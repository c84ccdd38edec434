//! Per-isolate token buckets, keyed by tenant (or by client address in gate mode).
//!
//! A bucket holds up to `burst` tokens and refills at `rate_per_minute`; a request takes one.
//! Each isolate keeps its own buckets, so the limit holds per isolate: Cloudflare may run a
//! tenant's traffic on several isolates at once, each allowing the full rate. The Workers
//! rate-limit binding (when bound, see `wrangler.toml`) adds a shared per-location ceiling on
//! top; see the README.

use std::collections::HashMap;

/// The most buckets an isolate keeps; full buckets are dropped first when it is reached.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    tokens: f64,
    updated_ms: u64,
}

/// The buckets of one isolate.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: HashMap<String, Bucket>,
}

impl Buckets {
    /// Takes a token from `key`'s bucket, or says how many seconds until one is available.
    /// A rate of 0 means unlimited.
    pub fn take(
        &mut self,
        key: &str,
        now_ms: u64,
        rate_per_minute: u32,
        burst: u32,
    ) -> Result<(), u64> {
        if rate_per_minute == 0 {
            return Ok(());
        }
        let burst = f64::from(burst.max(1));
        let per_ms = f64::from(rate_per_minute) / 60_000.0;
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(key) {
            self.evict(now_ms, per_ms, burst);
        }
        let b = self
            .buckets
            .entry(key.to_owned())
            .or_insert(Bucket { tokens: burst, updated_ms: now_ms });
        let elapsed = now_ms.saturating_sub(b.updated_ms) as f64;
        b.tokens = (b.tokens + elapsed * per_ms).min(burst);
        b.updated_ms = b.updated_ms.max(now_ms);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = (1.0 - b.tokens) / per_ms;
            Err((wait_ms / 1000.0).ceil().max(1.0) as u64)
        }
    }

    /// Drops the buckets that are full again (they behave like new ones), or all if none is.
    fn evict(&mut self, now_ms: u64, per_ms: f64, burst: f64) {
        self.buckets
            .retain(|_, b| b.tokens + now_ms.saturating_sub(b.updated_ms) as f64 * per_ms < burst);
        if self.buckets.len() >= MAX_BUCKETS {
            self.buckets.clear();
        }
    }

    /// Number of buckets held.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut b = Buckets::default();
        for _ in 0..3 {
            b.take("t", 0, 60, 3).unwrap();
        }
        assert_eq!(b.take("t", 0, 60, 3), Err(1));
        assert_eq!(b.take("t", 500, 60, 3), Err(1));
        b.take("t", 1000, 60, 3).unwrap();
        assert!(b.take("t", 1000, 60, 3).is_err());
        // Other keys are independent; rate 0 is unlimited.
        b.take("u", 1000, 60, 3).unwrap();
        for _ in 0..100 {
            b.take("free", 0, 0, 0).unwrap();
        }
        // A slow rate says how long to wait.
        b.take("slow", 0, 1, 1).unwrap();
        assert_eq!(b.take("slow", 0, 1, 1), Err(60));
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut b = Buckets::default();
        for i in 0..(MAX_BUCKETS + 10) {
            b.take(&format!("k{i}"), 0, 60, 5).unwrap();
        }
        assert!(b.len() <= MAX_BUCKETS);
        // A clock that goes backwards does not panic or add tokens.
        b.take("k", 10_000, 60, 1).unwrap();
        assert!(b.take("k", 0, 60, 1).is_err());
    }
}
