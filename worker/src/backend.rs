//! What the handler needs from the platform: a key-value store (KV), an object store (R2), an
//! optional shared rate limiter, a clock and randomness; for bucket scanning and follow-up
//! verification also the hosting provider's uploads bucket, the scan queue and outbound
//! `fetch`. The Workers adapter implements it over the bindings; [`MemoryBackend`] implements it
//! in memory for native tests and fuzzing.

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

/// An object of the uploads bucket as a listing or a head request describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The entity tag (R2's `etag`, without quotes).
    pub etag: String,
}

/// One page of an uploads bucket listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPage {
    /// Objects in key order.
    pub objects: Vec<ObjectInfo>,
    /// Where the next page starts, when there is one.
    pub cursor: Option<String>,
}

/// The answer to reading an object of the uploads bucket with a size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRead {
    /// No such object.
    Missing,
    /// The object is larger than the limit; its body was not read.
    TooLarge(ObjectInfo),
    /// The object and its bytes.
    Bytes(ObjectInfo, Vec<u8>),
}

/// What an outbound request answered (redirects are not followed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The `Location` header, for a redirect.
    pub location: Option<String>,
    /// The body of a 2xx answer (empty otherwise).
    pub body: Vec<u8>,
    /// The 2xx body was longer than the limit and was not kept.
    pub too_large: bool,
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
    /// Describes an object of the uploads bucket (`SCHOON_UPLOADS`) without reading it.
    async fn uploads_head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError>;
    /// Reads an object of the uploads bucket unless it is larger than `max_bytes`.
    async fn uploads_get(&self, key: &str, max_bytes: u64) -> Result<ObjectRead, StoreError>;
    /// Lists the uploads bucket under `prefix`, at most `limit` (at most 1000) per page.
    async fn uploads_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, StoreError>;
    /// Sends messages (JSON texts, each at most 128 KB, at most 100) to the scan queue
    /// (`SCHOON_SCAN`) in one batch, delivered after `delay_seconds`.
    async fn queue_send(&self, messages: &[String], delay_seconds: u32) -> Result<(), StoreError>;
    /// Sends `query` (a `ShardQuery` as JSON) to the hosts of `shards` of index `version` (the
    /// `IndexShard` Durable Objects) at once; their answers (`ShardAnswer` JSON) or why not,
    /// one per shard in order.
    async fn ask_shards(
        &self,
        version: u64,
        shards: &[u32],
        query: &str,
    ) -> Vec<Result<String, StoreError>>;
    /// Fetches `url` with GET, without following redirects, keeping at most `max_bytes` of a
    /// 2xx body, giving up after `timeout_ms` (an error names the timeout).
    async fn fetch_url(
        &self,
        url: &str,
        max_bytes: u64,
        timeout_ms: u64,
    ) -> Result<Fetched, StoreError>;
}

#[derive(Debug, Default, Clone)]
struct Memory {
    kv: BTreeMap<String, (String, Option<String>)>,
    blobs: BTreeMap<String, Vec<u8>>,
    uploads: BTreeMap<String, (Vec<u8>, String)>,
    queue: Vec<(String, u32)>,
    web: BTreeMap<String, Result<Fetched, String>>,
    fetched: Vec<String>,
}

/// An in-memory shard host: `(version, shard, query)` to the answer's JSON text or why not.
#[derive(Clone)]
#[allow(clippy::type_complexity)] // one closure type, named here
pub struct ShardHost(pub Rc<dyn Fn(u64, u32, &str) -> Result<String, StoreError>>);

impl fmt::Debug for ShardHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShardHost")
    }
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
    /// When set, every call on the uploads bucket fails (the other stores still work).
    pub uploads_broken: Rc<Cell<bool>>,
    /// The in-memory shard hosts: answer `(version, shard, query)` as an `IndexShard` Durable
    /// Object would (tests install `shards::load_shard` and `shards::answer`); unset, asking
    /// shards fails.
    pub shard_host: Rc<RefCell<Option<ShardHost>>>,
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
            uploads_broken: Rc::new(Cell::new(self.uploads_broken.get())),
            shard_host: Rc::new(RefCell::new(self.shard_host.borrow().clone())),
        }
    }

    /// Puts an object into the uploads bucket (its etag is the MD5 of the bytes, as R2's for a
    /// single-part upload).
    pub fn put_upload(&self, key: &str, bytes: &[u8]) {
        if let Ok(mut m) = self.memory.try_borrow_mut() {
            let etag = schoon_core::md5(bytes).to_hex();
            m.uploads.insert(key.to_owned(), (bytes.to_vec(), etag));
        }
    }

    /// Deletes an object of the uploads bucket.
    pub fn delete_upload(&self, key: &str) {
        if let Ok(mut m) = self.memory.try_borrow_mut() {
            m.uploads.remove(key);
        }
    }

    /// Takes the messages sent to the scan queue so far, with their delays, oldest first.
    pub fn take_queue(&self) -> Vec<(String, u32)> {
        self.memory.try_borrow_mut().map(|mut m| std::mem::take(&mut m.queue)).unwrap_or_default()
    }

    /// Makes `fetch_url(url)` answer `answer` (`Err` text: the fetch fails with it, e.g. a
    /// timeout). Unknown URLs fail as unreachable.
    pub fn serve_url(&self, url: &str, answer: Result<Fetched, String>) {
        if let Ok(mut m) = self.memory.try_borrow_mut() {
            m.web.insert(url.to_owned(), answer);
        }
    }

    /// The URLs fetched so far, in order.
    pub fn fetched_urls(&self) -> Vec<String> {
        self.memory.try_borrow().map(|m| m.fetched.clone()).unwrap_or_default()
    }

    fn uploads<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> Result<T, StoreError> {
        if self.uploads_broken.get() {
            return Err(StoreError("uploads bucket is broken (test)".into()));
        }
        self.with(f)
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

    /// An R2 object's bytes, if stored.
    pub fn blob_get_sync(&self, key: &str) -> Option<Vec<u8>> {
        self.memory.try_borrow().ok()?.blobs.get(key).cloned()
    }

    /// Replaces an R2 object (a test's storage fault).
    pub fn blob_insert(&self, key: &str, bytes: Vec<u8>) {
        if let Ok(mut m) = self.memory.try_borrow_mut() {
            m.blobs.insert(key.to_owned(), bytes);
        }
    }

    /// Removes an R2 object (a test's storage fault).
    pub fn blob_remove(&self, key: &str) {
        if let Ok(mut m) = self.memory.try_borrow_mut() {
            m.blobs.remove(key);
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

    async fn uploads_head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.uploads(|m| {
            m.uploads.get(key).map(|(b, etag)| ObjectInfo {
                key: key.to_owned(),
                size: b.len() as u64,
                etag: etag.clone(),
            })
        })
    }

    async fn uploads_get(&self, key: &str, max_bytes: u64) -> Result<ObjectRead, StoreError> {
        self.uploads(|m| match m.uploads.get(key) {
            None => ObjectRead::Missing,
            Some((b, etag)) => {
                let info =
                    ObjectInfo { key: key.to_owned(), size: b.len() as u64, etag: etag.clone() };
                if info.size > max_bytes {
                    ObjectRead::TooLarge(info)
                } else {
                    ObjectRead::Bytes(info, b.clone())
                }
            }
        })
    }

    async fn uploads_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, StoreError> {
        self.uploads(|m| {
            let limit = limit.clamp(1, 1000) as usize;
            let mut objects: Vec<ObjectInfo> = m
                .uploads
                .range(cursor.unwrap_or(prefix).to_owned()..)
                .filter(|(k, _)| cursor.is_none_or(|c| k.as_str() > c))
                .take_while(|(k, _)| k.starts_with(prefix))
                .take(limit + 1)
                .map(|(k, (b, etag))| ObjectInfo {
                    key: k.clone(),
                    size: b.len() as u64,
                    etag: etag.clone(),
                })
                .collect();
            let cursor = if objects.len() > limit {
                objects.truncate(limit);
                objects.last().map(|o| o.key.clone())
            } else {
                None
            };
            ObjectPage { objects, cursor }
        })
    }

    async fn queue_send(&self, messages: &[String], delay_seconds: u32) -> Result<(), StoreError> {
        self.with(|m| m.queue.extend(messages.iter().map(|t| (t.clone(), delay_seconds))))
    }

    async fn ask_shards(
        &self,
        version: u64,
        shards: &[u32],
        query: &str,
    ) -> Vec<Result<String, StoreError>> {
        let host = self.shard_host.borrow().clone();
        shards
            .iter()
            .map(|&n| match &host {
                Some(host) => (host.0)(version, n, query),
                None => Err(StoreError(format!(
                    "index shard {n} of version {version} did not answer: no shard hosts in this test"
                ))),
            })
            .collect()
    }

    async fn fetch_url(
        &self,
        url: &str,
        max_bytes: u64,
        _timeout_ms: u64,
    ) -> Result<Fetched, StoreError> {
        let answer = self.with(|m| {
            m.fetched.push(url.to_owned());
            m.web.get(url).cloned()
        })?;
        match answer {
            None => Err(StoreError(format!("{url} is unreachable (test)"))),
            Some(Err(e)) => Err(StoreError(e)),
            Some(Ok(mut f)) => {
                if f.body.len() as u64 > max_bytes {
                    f.body.clear();
                    f.too_large = true;
                }
                Ok(f)
            }
        }
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
