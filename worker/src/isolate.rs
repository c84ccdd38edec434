//! What one isolate keeps between requests: the set pointer and the loaded index, cached API
//! key lookups, rate-limit buckets and counters.
//!
//! Requests of one isolate interleave at every `await`, so no borrow of this state is ever held
//! across one: each method borrows, reads or writes, and returns. Borrows use `try_borrow*` so
//! that even a mistake there degrades (a cache miss) instead of panicking.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::artifact::{IndexLoad, LoadedIndex, Pointer};
use crate::counters::{Counters, Counts};
use crate::http::Deferred;
use crate::ratelimit::Buckets;
use crate::tenant::Principal;

/// An index load running longer than this is taken as abandoned and started again.
pub const LOAD_TIMEOUT_MS: u64 = 60_000;

/// The most cached key lookups.
const MAX_CACHED_KEYS: usize = 10_000;

/// The state of one isolate.
#[derive(Default)]
pub struct Isolate {
    /// A random id naming this isolate's counter shards.
    pub id: String,
    pointer: RefCell<Option<(u64, Rc<Pointer>)>>,
    index: RefCell<Option<Rc<LoadedIndex>>>,
    loading: RefCell<Option<(u64, u64, IndexLoad)>>,
    keys: RefCell<HashMap<String, (u64, Option<Principal>)>>,
    buckets: RefCell<Buckets>,
    counters: RefCell<Counters>,
}

impl std::fmt::Debug for Isolate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Isolate").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Isolate {
    /// A fresh isolate state with this id.
    pub fn new(id: String) -> Isolate {
        Isolate { id, ..Isolate::default() }
    }

    /// The cached pointer and when it was read.
    pub fn cached_pointer(&self) -> Option<(u64, Rc<Pointer>)> {
        self.pointer.try_borrow().ok()?.clone()
    }

    /// Caches the pointer read at `now_ms`.
    pub fn cache_pointer(&self, now_ms: u64, pointer: Rc<Pointer>) {
        if let Ok(mut p) = self.pointer.try_borrow_mut() {
            *p = Some((now_ms, pointer));
        }
    }

    /// The index held, if any.
    pub fn index(&self) -> Option<Rc<LoadedIndex>> {
        self.index.try_borrow().ok()?.clone()
    }

    /// Holds `loaded` unless a newer index is held already.
    pub fn install_index(&self, loaded: Rc<LoadedIndex>) {
        if let Ok(mut i) = self.index.try_borrow_mut()
            && i.as_ref().is_none_or(|held| held.meta.version <= loaded.meta.version)
        {
            *i = Some(loaded);
        }
    }

    /// Drops the index held (requests using it keep it until they finish).
    pub fn drop_index(&self) {
        if let Ok(mut i) = self.index.try_borrow_mut() {
            *i = None;
        }
    }

    /// The in-flight load of `version`, if one started less than [`LOAD_TIMEOUT_MS`] ago (an
    /// older one counts as abandoned: the request driving it may have been cancelled).
    pub fn loading(&self, version: u64, now_ms: u64) -> Option<IndexLoad> {
        let l = self.loading.try_borrow().ok()?;
        l.as_ref()
            .filter(|(v, started, _)| {
                *v == version && now_ms.saturating_sub(*started) < LOAD_TIMEOUT_MS
            })
            .map(|(_, _, load)| load.clone())
    }

    /// Records the in-flight load of `version`, started at `now_ms`.
    pub fn set_loading(&self, version: u64, now_ms: u64, load: IndexLoad) {
        if let Ok(mut l) = self.loading.try_borrow_mut() {
            *l = Some((version, now_ms, load));
        }
    }

    /// Forgets the load of `version` once it finished.
    pub fn finish_loading(&self, version: u64) {
        if let Ok(mut l) = self.loading.try_borrow_mut()
            && l.as_ref().is_some_and(|(v, _, _)| *v == version)
        {
            *l = None;
        }
    }

    /// A cached key lookup (by the key's SHA-256 hex) that has not expired.
    pub fn cached_key(&self, key_hash: &str, now_ms: u64) -> Option<Option<Principal>> {
        let keys = self.keys.try_borrow().ok()?;
        keys.get(key_hash).filter(|(expires, _)| *expires > now_ms).map(|(_, p)| p.clone())
    }

    /// Caches a key lookup until `expires_ms`.
    pub fn cache_key(&self, key_hash: &str, expires_ms: u64, principal: Option<Principal>) {
        if let Ok(mut keys) = self.keys.try_borrow_mut() {
            if keys.len() >= MAX_CACHED_KEYS {
                keys.clear();
            }
            keys.insert(key_hash.to_owned(), (expires_ms, principal));
        }
    }

    /// Forgets every cached key lookup (after a revocation through this isolate).
    pub fn forget_keys(&self) {
        if let Ok(mut keys) = self.keys.try_borrow_mut() {
            keys.clear();
        }
    }

    /// Takes a rate-limit token (see [`Buckets::take`]).
    pub fn take_token(&self, key: &str, now_ms: u64, rate: u32, burst: u32) -> Result<(), u64> {
        match self.buckets.try_borrow_mut() {
            Ok(mut b) => b.take(key, now_ms, rate, burst),
            Err(_) => Ok(()),
        }
    }

    /// Adds to a tenant's counters of `day`; returns the flush to schedule.
    pub fn count(&self, tenant: &str, day: &str, delta: &Counts, now_ms: u64) -> Option<Deferred> {
        let mut c = self.counters.try_borrow_mut().ok()?;
        c.prune(day);
        c.bump(tenant, day, delta, now_ms)
    }

    /// Starts a scheduled flush: the counts to write.
    pub fn take_flush(&self, tenant: &str, day: &str, now_ms: u64) -> Option<Counts> {
        self.counters.try_borrow_mut().ok()?.take_flush(tenant, day, now_ms)
    }

    /// This isolate's counts of a tenant, by day.
    pub fn counts_of(&self, tenant: &str) -> Vec<(String, Counts)> {
        self.counters.try_borrow().map(|c| c.of(tenant)).unwrap_or_default()
    }
}
