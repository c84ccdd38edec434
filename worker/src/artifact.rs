//! The published set as records: an artifact's metadata, the pointer to what is current, and an
//! index loaded in an isolate. Plain data: storing, loading and publishing are in `sets`.

use std::rc::Rc;

use futures_util::future::{LocalBoxFuture, Shared};
use schoon_core::set::Index;
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

/// An index loaded in this isolate.
#[derive(Debug)]
pub struct LoadedIndex {
    /// The index.
    pub index: Index,
    /// What was published.
    pub meta: ArtifactMeta,
}

/// The in-flight load of an index version, shared by every request that waits for it.
pub type IndexLoad = Shared<LocalBoxFuture<'static, Result<Rc<LoadedIndex>, ApiError>>>;
