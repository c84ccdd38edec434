//! What the handler needs from the platform: a key-value store (KV), an object store (R2), an
//! optional shared rate limiter, a clock and randomness. The Workers adapter implements it over
//! the bindings; [`MemoryBackend`] implements it in memory for native tests and fuzzing.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// A storage operation failed (the binding threw, the network failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a KV listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvPage {
    /// Keys in lexicographic order, with their metadata (JSON text) if they have any.
    pub keys: Vec<(String, Option<String>)>,
    /// Where the next page starts, when there is one.
    pub cursor: Option<String>,
}

/// The platform around one request.
///
/// The futures need not be `Send`: a Workers isolate runs one thread. The backend is cloned into
/// the index loader, which outlives the request that started it.
#[allow(async_fn_in_trait)] // single-threaded runtime: no Send bounds wanted
pub trait Backend: Clone + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), StoreError>;
    /// Reads a KV value.
    async fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes a KV value with optional metadata (JSON text, at most 1024 bytes).
    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Deletes a KV value.
    async fn kv_delete(&self, key: &str) -> Result<(), StoreError>;
    /// Lists KV keys with a prefix, at most `limit` (at most 1000) per page.
    async fn kv_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KvPage, StoreError>;
    /// Reads an object.
    async fn blob_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes an object.
    async fn blob_put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// Asks the shared rate limiter (the Workers rate-limit binding) about `key`: `None` when
    /// no limiter is bound, else whether the request may proceed.
    async fn rate_limit(&self, key: &str) -> Result<Option<bool>, StoreError>;
}

#[derive(Debug, Default, Clone)]
struct Memory {
    kv: BTreeMap<String, (String, Option<String>)>,
    blobs: BTreeMap<String, Vec<u8>>,
}

/// An in-memory backend with a settable clock and deterministic randomness.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    memory: Rc<RefCell<Memory>>,
    now: Rc<Cell<u64>>,
    counter: Rc<Cell<u64>>,
    /// When set, the shared limiter refuses every request.
    pub limiter_refuses: Rc<Cell<bool>>,
    /// When set, every storage call fails.
    pub broken: Rc<Cell<bool>>,
}

impl MemoryBackend {
    /// An empty store at time `now_ms`.
    pub fn new(now_ms: u64) -> MemoryBackend {
        let b = MemoryBackend::default();
        b.now.set(now_ms);
        b
    }

    /// An independent copy of the store, clock and randomness (a clone shares them): a
    /// prepared state that each fuzz input or test case starts from.
    pub fn snapshot(&self) -> MemoryBackend {
        let memory = self.memory.try_borrow().map(|m| m.clone()).unwrap_or_default();
        MemoryBackend {
            memory: Rc::new(RefCell::new(memory)),
            now: Rc::new(Cell::new(self.now.get())),
            counter: Rc::new(Cell::new(self.counter.get())),
            limiter_refuses: Rc::new(Cell::new(self.limiter_refuses.get())),
            broken: Rc::new(Cell::new(self.broken.get())),
        }
    }

    /// Moves the clock.
    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }

    /// A KV value, for tests.
    pub fn kv_value(&self, key: &str) -> Option<String> {
        self.memory.try_borrow().ok()?.kv.get(key).map(|(v, _)| v.clone())
    }

    /// Overwrites a KV value directly (to simulate tampering in tests).
    pub fn kv_set(&self, key: &str, value: &str) {
        if let Ok(mut m) = self.memory.try_borrow_mut() {
            m.kv.insert(key.to_owned(), (value.to_owned(), None));
        }
    }

    /// Object keys, for tests.
    pub fn blob_keys(&self) -> Vec<String> {
        self.memory.try_borrow().map(|m| m.blobs.keys().cloned().collect()).unwrap_or_default()
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.broken.get() { Err(StoreError("storage is broken (test)".into())) } else { Ok(()) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> Result<T, StoreError> {
        self.check()?;
        let mut m =
            self.memory.try_borrow_mut().map_err(|_| StoreError("store busy".to_owned()))?;
        Ok(f(&mut m))
    }
}

impl Backend for MemoryBackend {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), StoreError> {
        // Deterministic: a counter through SHA-256 (tests only need uniqueness).
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let mut block = schoon_core::sha256(&n.to_le_bytes()).0.to_vec();
        while block.len() < buf.len() {
            let next = schoon_core::sha256(&block).0;
            block.extend_from_slice(&next);
        }
        for (o, b) in buf.iter_mut().zip(block) {
            *o = b;
        }
        Ok(())
    }

    async fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(|m| m.kv.get(key).map(|(v, _)| v.clone()))
    }

    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
    ) -> Result<(), StoreError> {
        self.with(|m| {
            m.kv.insert(key.to_owned(), (value.to_owned(), metadata.map(str::to_owned)));
        })
    }

    async fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.with(|m| {
            m.kv.remove(key);
        })
    }

    async fn kv_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KvPage, StoreError> {
        self.with(|m| {
            let start = cursor.unwrap_or(prefix).to_owned();
            let mut keys: Vec<(String, Option<String>)> =
                m.kv.range(start..)
                    .filter(|(k, _)| cursor.is_none_or(|c| k.as_str() > c))
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .take(limit as usize + 1)
                    .map(|(k, (_, meta))| (k.clone(), meta.clone()))
                    .collect();
            let cursor = if keys.len() > limit as usize {
                keys.truncate(limit as usize);
                keys.last().map(|(k, _)| k.clone())
            } else {
                None
            };
            KvPage { keys, cursor }
        })
    }

    async fn blob_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|m| m.blobs.get(key).cloned())
    }

    async fn blob_put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.with(|m| {
            m.blobs.insert(key.to_owned(), bytes.to_vec());
        })
    }

    async fn rate_limit(&self, _key: &str) -> Result<Option<bool>, StoreError> {
        self.check()?;
        Ok(self.limiter_refuses.get().then_some(false))
    }
}

/// Runs a future that never waits on anything outside itself (every [`MemoryBackend`] call is
/// ready at once) to completion, for tests and fuzzing; `None` if it is still pending after
/// 10000 polls (it waits on something that will never come).
pub fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    (0..10_000).find_map(|_| match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_independent() {
        let a = MemoryBackend::new(5);
        a.kv_set("k", "1");
        let b = a.snapshot();
        b.kv_set("k", "2");
        b.advance(10);
        assert_eq!((a.kv_value("k"), b.kv_value("k")), (Some("1".into()), Some("2".into())));
        assert_eq!((a.now.get(), b.now.get()), (5, 15));
    }

    #[test]
    fn listing_pages() {
        let b = MemoryBackend::new(0);
        block_on(async {
            for i in 0..5 {
                b.kv_put(&format!("p:{i}"), "v", Some("{}")).await.unwrap();
            }
            b.kv_put("q:0", "v", None).await.unwrap();
            let first = b.kv_list("p:", None, 2).await.unwrap();
            assert_eq!(first.keys.len(), 2);
            let c = first.cursor.unwrap();
            let second = b.kv_list("p:", Some(&c), 10).await.unwrap();
            assert_eq!(
                second.keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
                ["p:2", "p:3", "p:4"]
            );
            assert!(second.cursor.is_none());
        })
        .unwrap();
        let mut a = [0u8; 40];
        let mut c = [0u8; 40];
        b.fill_random(&mut a).unwrap();
        b.fill_random(&mut c).unwrap();
        assert_ne!(a, c);
    }
}
