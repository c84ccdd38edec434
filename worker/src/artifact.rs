//! The published set as records: an artifact's metadata, the pointer to what is current, and an
//! index loaded in an isolate. Plain data: storing, loading and publishing are in `sets`.

use std::rc::Rc;

use futures_util::future::{LocalBoxFuture, Shared};
use schoon_core::set::{Index, ListMeta, ShardManifest};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A published artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// The set version.
    pub version: u64,
    /// For a delta, the version it applies to (0 otherwise).
    #[serde(default)]
    pub base_version: u64,
    /// The R2 object key.
    pub object: String,
    /// SHA-256 of the whole file, hex (the strong ETag).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The set's creation time, unix seconds (from its header).
    pub created: u64,
    /// When this worker published it, unix milliseconds.
    pub published_ms: u64,
    /// The signer's key id, if signed.
    pub key_id: Option<String>,
    /// How the signature was checked (`verified`, `unsigned`, ...).
    pub signature: String,
    /// For a sharded index: how many shards (`object` is then its manifest; see `shards`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shards: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What is current.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// The current index.
    pub index: Option<ArtifactMeta>,
    /// The current filter.
    pub filter: Option<ArtifactMeta>,
    /// Deltas between published filter versions (newest last).
    #[serde(default)]
    pub deltas: Vec<ArtifactMeta>,
}

/// What an isolate holds of the current index: all of it, or the manifest of a sharded index
/// whose shards the `IndexShard` Durable Objects hold (see `shards`).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per isolate: boxing would save nothing
pub enum Held {
    /// The whole index.
    Whole(Index),
    /// A sharded index's manifest.
    Sharded(ShardManifest),
}

/// An index loaded in this isolate.
#[derive(Debug)]
pub struct LoadedIndex {
    /// The index, or its manifest.
    pub held: Held,
    /// What was published.
    pub meta: ArtifactMeta,
}

impl LoadedIndex {
    /// The lists and their entry counts.
    pub fn lists(&self) -> &[ListMeta] {
        match &self.held {
            Held::Whole(i) => i.lists(),
            Held::Sharded(m) => m.lists(),
        }
    }

    /// Whether the set holds region hashes.
    pub fn has_regions(&self) -> bool {
        match &self.held {
            Held::Whole(i) => i.has_regions(),
            Held::Sharded(m) => m.has_regions(),
        }
    }

    /// The whole index, when this isolate holds it.
    pub fn whole(&self) -> Option<&Index> {
        match &self.held {
            Held::Whole(i) => Some(i),
            Held::Sharded(_) => None,
        }
    }

    /// Bytes this isolate holds for it.
    pub fn memory_bytes(&self) -> usize {
        match &self.held {
            Held::Whole(i) => i.memory_bytes(),
            Held::Sharded(m) => m.entries().len() * 64,
        }
    }
}

/// The in-flight load of an index version, shared by every request that waits for it.
pub type IndexLoad = Shared<LocalBoxFuture<'static, Result<Rc<LoadedIndex>, ApiError>>>;
