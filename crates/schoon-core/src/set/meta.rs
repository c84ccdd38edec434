//! Set metadata: the JSON text a set file carries beside its sections (lists and their counts,
//! the filter's parameters, the allow-list's counts), and the filter parameters it records.
//! Written with serde_json; the index reads it with serde_json too, the filter with the
//! smaller reader of `meta_json`.

use serde::{Deserialize, Serialize};

use super::allow::AllowCounts;
use super::bands::BandParams;
use super::types::ListInfo;
use crate::error::{BadInput, Error};

/// Which approximate-membership structure a filter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterKind {
    /// Binary fuse (8, 16 or 32-bit fingerprints, chosen from the target rate): about 1.13x the
    /// information-theoretic minimum size. The default.
    #[default]
    Fuse,
    /// Split-block Bloom: one cache line per lookup, takes additions in place; 1.6x to 3x the
    /// minimum size.
    Bloom,
}

impl FilterKind {
    /// `"fuse"` or `"bloom"`.
    pub fn name(self) -> &'static str {
        match self {
            FilterKind::Fuse => "fuse",
            FilterKind::Bloom => "bloom",
        }
    }
}

/// How to build a filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterParams {
    /// The structure.
    pub kind: FilterKind,
    /// Target false-positive rate per key lookup.
    pub fpr: f64,
    /// The PDQ prefilter's band scheme, or `None` to build the filter without it.
    pub pdq: Option<BandParams>,
    /// The salt of the keys (public; random per set).
    pub salt: u64,
}

impl Default for FilterParams {
    fn default() -> Self {
        FilterParams {
            kind: FilterKind::Fuse,
            fpr: 1e-4,
            pdq: Some(BandParams::default()),
            salt: 0,
        }
    }
}

/// Filter parameters as recorded in set metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterMeta {
    /// `"fuse"` or `"bloom"`.
    pub kind: String,
    /// Target false-positive rate per lookup.
    pub target_fpr: f64,
    /// Key salt, 16 hex digits.
    pub salt: String,
    /// The PDQ band scheme, if the filter has a PDQ prefilter.
    pub pdq: Option<BandParams>,
    /// Split-block Bloom only: blocks of the exact and PDQ sections of the base filter, so that
    /// deltas are built to the same shape and merge in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_blocks: Option<(u32, u32)>,
}

impl FilterMeta {
    pub(crate) fn from_params(p: &FilterParams) -> Self {
        FilterMeta {
            kind: p.kind.name().into(),
            target_fpr: p.fpr,
            salt: format!("{:016x}", p.salt),
            pdq: p.pdq,
            bloom_blocks: None,
        }
    }

    pub(crate) fn params(&self) -> Result<FilterParams, Error> {
        let kind = match self.kind.as_str() {
            "fuse" => FilterKind::Fuse,
            "bloom" => FilterKind::Bloom,
            other => return Err(bad(format!("unknown filter kind '{other}'"))),
        };
        let salt = u64::from_str_radix(&self.salt, 16)
            .map_err(|_| bad(format!("invalid salt '{}'", self.salt)))?;
        Ok(FilterParams { kind, fpr: self.target_fpr, pdq: self.pdq, salt })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FilterFileMeta {
    pub lists: Vec<ListMeta>,
    pub filter: FilterMeta,
    pub exact_keys: u64,
    pub pdq_keys: u64,
    pub generator: String,
    /// The allow-list's counts (absent: no allow-list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<AllowCounts>,
    /// For the head filter of a budgeted build: what it leaves out (a miss against it is not
    /// final for the whole list). Absent for a whole filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

/// Per-list metadata stored in the index and the filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMeta {
    /// Name, category and source.
    #[serde(flatten)]
    pub info: ListInfo,
    /// Entries per hash kind.
    pub md5: u64,
    /// SHA-1 entries.
    pub sha1: u64,
    /// SHA-256 entries.
    pub sha256: u64,
    /// PDQ entries (whole images).
    pub pdq: u64,
    /// PDQ region hashes (see [`crate::regions`]): crop-, rotation- and overlay-tolerant
    /// matching for images listed from their pixels.
    #[serde(default)]
    pub regions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IndexMeta {
    pub lists: Vec<ListMeta>,
    /// The parameters of the filter built alongside (for deltas).
    #[serde(default)]
    pub filter: Option<FilterMeta>,
    pub generator: String,
    /// The allow-list's counts (absent: no allow-list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<AllowCounts>,
    /// For one shard of a sharded index (see `shard`): which one, of how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardOf>,
}

/// Which shard of a sharded index a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardOf {
    pub number: u32,
    pub count: u32,
}

impl IndexMeta {
    /// Reads an index's metadata.
    pub(crate) fn from_json(text: &str) -> Result<IndexMeta, Error> {
        serde_json::from_str(text).map_err(|e| bad(format!("index metadata: {e}")))
    }
}

/// Writes metadata as the JSON text of a set file.
pub(crate) fn to_json(meta: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(meta).map_err(|e| Error::caller(e.to_string()))
}

pub(crate) fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}
