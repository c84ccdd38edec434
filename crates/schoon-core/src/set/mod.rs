//! Known-hash sets: the private, authoritative [`Index`] and the public, compact, signed
//! [`Filter`], their one binary format, and matching.
//!
//! ```
//! use schoon_core::set::{BuildInfo, FilterParams, Filter, Index, ListInfo, MatchOptions, Query,
//!     SetBuilder, Trust, Verdict};
//! use schoon_core::{ExactHashes, SigningKey};
//!
//! // The list owner builds both artifacts from a list and signs them.
//! let key = SigningKey::from_seed([42; 32]);
//! let mut builder = SetBuilder::new();
//! let list = builder.add_list(ListInfo::new("demo", "test", "docs"))?;
//! let listed = ExactHashes::of(b"a listed file");
//! builder.add_sha256(list, listed.sha256);
//! let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
//! let index_bytes = builder.build_index(&info, None)?;
//! let filter_bytes = builder.build_filter(&FilterParams { salt: 7, ..Default::default() }, &info)?;
//!
//! // A client holding only the public key and the filter checks locally.
//! let filter = Filter::from_bytes(&filter_bytes, &Trust::key(key.public_key()))?;
//! let query = Query::from_exact(&ExactHashes::of(b"a listed file"));
//! assert!(filter.check(&query, &MatchOptions::default()).is_candidate());
//! let clean = Query::from_exact(&ExactHashes::of(b"something else"));
//! assert!(!filter.check(&clean, &MatchOptions::default()).is_candidate());
//!
//! // Whoever holds the index confirms.
//! let index = Index::from_bytes(index_bytes, &Trust::key(key.public_key()))?;
//! let matches = index.lookup(&query, &MatchOptions::default());
//! assert_eq!(Verdict::of_matches(&matches), Verdict::Match);
//! assert_eq!(matches[0].list, "demo");
//! # Ok::<(), schoon_core::Error>(())
//! ```
//!
//! # Allow-list
//!
//! A set may carry an allow-list: hashes of images confirmed innocent (a disputed entry, a stock
//! picture that collided with a listed hash), at most [`MAX_ALLOW_ENTRIES`]. Every lookup
//! applies one rule, so the CLI, the browser and the worker agree without doing anything:
//!
//! * **exact**: a query whose MD5, SHA-1 or SHA-256 equals an allow-listed hash has no matches
//!   at all ([`Index::lookup`] and the region lookups) and is no filter candidate
//!   ([`Filter::check`], [`check_hashed`]);
//! * **PDQ and regions, index**: a match at Hamming distance `d` between a query variant (or a
//!   region window) and a listed hash is suppressed when the same variant lies within `d` of
//!   an allow-listed PDQ hash: the upload is at least as near a known innocent image as the
//!   listed one (a listed hash that is itself allow-listed never matches). When every
//!   whole-image PDQ match was suppressed, the region windows are not tried;
//! * **PDQ and regions, filter**: the filter cannot know `d`, and its miss must stay final (a
//!   client that finds nothing sends nothing), so it drops only a variant or window *equal* to
//!   an allow-listed PDQ hash, whose every index match the rule above suppresses anyway.
//!
//! The index holds the allow-listed hashes, the filter only salted digests of them. A filter
//! delta carries its version's whole allow-list. [`Index::lookup_allowed`] and its siblings
//! also say what the allow-list took out of an answer ([`Allowed`]).
//!
//! ```
//! use schoon_core::set::{BuildInfo, FilterParams, Filter, Index, ListInfo, MatchOptions, Query,
//!     SetBuilder, Trust};
//! use schoon_core::{ExactHashes, SigningKey};
//!
//! let key = SigningKey::from_seed([42; 32]);
//! let mut builder = SetBuilder::new();
//! let list = builder.add_list(ListInfo::new("demo", "test", "docs"))?;
//! let stock = ExactHashes::of(b"a stock picture wrongly listed");
//! builder.add_sha256(list, stock.sha256);
//! builder.allow_md5(stock.md5); // confirmed innocent
//! let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
//! let (index, filter) = builder.build_both(&FilterParams::default(), &info)?;
//! let trust = Trust::key(key.public_key());
//! let (index, filter) = (Index::from_bytes(index, &trust)?, Filter::from_bytes(&filter, &trust)?);
//!
//! let query = Query::from_exact(&stock);
//! assert!(index.lookup(&query, &MatchOptions::default()).is_empty());
//! assert!(!filter.check(&query, &MatchOptions::default()).is_candidate());
//! assert_eq!(index.allow_counts().md5, 1);
//! # Ok::<(), schoon_core::Error>(())
//! ```

mod allow;
mod bands;
mod build;
mod container;
mod filter;
mod index;
mod inspect;
mod keys;
mod lists;
mod lookup;
mod meta;
mod meta_json;
mod shard;
mod sign;
mod tiers;
mod types;

pub use allow::{AllowCounts, Allowed, MAX_ALLOW_ENTRIES};
pub use bands::BandParams;
pub use build::{BuildInfo, ListId, SetBuilder};
pub use container::{Artifact, Header, SignatureStatus, Trust};
pub use filter::{Filter, FilterHits, FilterStats, REGION_FLIPS, RegionHits, check_hashed};
pub use index::{Index, MIH_MIN_ENTRIES, VARIANT_NAMES};
pub use inspect::{Inspection, inspect, partial_filter};
pub use lists::{ListOptions, ListParser, ParsedList, parse_list};
pub use lookup::{lookup_hashed, lookup_hashed_allowed, scan_windows};
pub use meta::{FilterKind, FilterMeta, FilterParams, ListMeta};
pub use shard::{
    MAX_SHARD_WINDOWS, MAX_SHARDS, SHARD_MANIFEST_FILE, ShardAnswer, ShardEntry, ShardManifest,
    ShardQuery, exact_shard, merge_answers, merge_answers_with, pdq_shard, shard_file_name,
};
pub use sign::{PublicKey, SigningKey};
pub use tiers::{
    BUCKET_TARGET_BYTES, BucketKind, BucketSpec, ExactBucket, ExactBuckets, TierReport, open_bucket,
};
pub use types::{HashKind, ListInfo, Match, MatchOptions, PdqQuery, Query, Verdict};
