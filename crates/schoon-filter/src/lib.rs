//! Compact approximate-membership filters for 64-bit keys, queried straight from their
//! serialized bytes.
//!
//! schoon hands every browser and edge worker a public filter of known hashes. The keys are
//! already well-mixed 64-bit hashes (of MD5/SHA-1/SHA-256 values, of bands of PDQ bits); the
//! caller derives them. A filter answers "maybe present" (with a small, known false-positive
//! rate) or "certainly absent" (never a false negative). Loading one validates a 48-byte header
//! and slices the payload: no per-entry parsing, no copy.
//!
//! Two kinds sit behind one trait, [`Membership`]:
//!
//! * [`Kind::SplitBlockBloom`]: 256-bit blocks (as in Parquet and Impala), one cache line per
//!   query, takes insertions in place and merges by OR ([`FilterBuf::insert_all`],
//!   [`FilterBuf::merge`]). Sized from the target rate by [`bloom_num_blocks`].
//! * [`Kind::BinaryFuse8`], [`Kind::BinaryFuse16`], [`Kind::BinaryFuse32`]: binary fuse filters
//!   (Graf & Lemire 2022), immutable, about 1.13 × the information-theoretic minimum for a few
//!   hundred thousand keys or more, false-positive rate 2^-bits. [`choose_kind`] picks the
//!   smallest width that meets a target; it is the default.
//!
//! ```
//! use schoon_filter::{Error, FilterBuf, FilterRef, Kind, Membership, bloom_num_blocks, build, choose_kind};
//!
//! # fn main() -> Result<(), Error> {
//! // Keys are already mixed 64-bit hashes; here, a stand-in.
//! let keys: Vec<u64> = (1..=1000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
//!
//! // The default: a binary fuse filter, the smallest width meeting the target.
//! let kind = choose_kind(1e-3)?;
//! assert_eq!(kind, Kind::BinaryFuse16);
//! let filter: FilterBuf = build(kind, &keys, 1e-3, 42)?;
//!
//! // Ship the bytes; the receiver validates the header and queries the bytes in place.
//! let bytes: &[u8] = filter.as_bytes();
//! let view = FilterRef::parse(bytes)?;
//! assert!(keys.iter().all(|&k| view.contains(k)));
//! assert_eq!(view.num_keys(), 1000);
//! assert!(view.false_positive_rate() < 1e-3);
//! assert!(FilterRef::parse(&bytes[..bytes.len() - 1]).is_err());
//!
//! // A split-block Bloom filter takes additions in place and merges by OR.
//! let blocks = bloom_num_blocks(2000, 1e-2)?;
//! let mut a = FilterBuf::empty_bloom(blocks, 7)?;
//! a.insert_all(&keys[..500])?;
//! let mut b = FilterBuf::empty_bloom(blocks, 7)?;
//! b.insert_all(&keys[500..])?;
//! a.merge(&b.view())?;
//! assert!(keys.iter().all(|&k| a.contains(k)));
//! # Ok(())
//! # }
//! ```
//!
//! # Serialized layout
//!
//! A 48-byte little-endian header, then the payload:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 4 | magic `SCHF` |
//! | 4  | 2 | layout version, `1` |
//! | 6  | 1 | kind tag: 1 split-block Bloom, 2/3/4 binary fuse 8/16/32 |
//! | 7  | 1 | reserved, `0` |
//! | 8  | 8 | number of keys (Bloom: insertions, an upper bound on distinct keys) |
//! | 16 | 8 | hash seed |
//! | 24 | 4 | Bloom: number of 256-bit blocks; fuse: segment length (power of two ≤ 2^18) |
//! | 28 | 4 | Bloom: `0`; fuse: segment count × segment length |
//! | 32 | 8 | payload length in bytes |
//! | 40 | 8 | header check: FNV-1a 64 of bytes 0..40 |
//! | 48 | … | payload |
//!
//! Bloom payload: `blocks × 32` bytes, each block eight `u32` lanes. Fuse payload:
//! `(segment count + 2) × segment length` fingerprints of 1, 2 or 4 bytes. The parser checks
//! every field and that the payload is exactly as long as declared. Signatures, checksums of the
//! payload, versions of the key set and metadata belong to the container that wraps these bytes.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod bloom;
mod error;
mod format;
mod fuse;

use core::fmt;

pub use bloom::{bloom_false_positive_rate, bloom_num_blocks};
pub use error::Error;
pub use format::{FilterBuf, FilterRef, HEADER_LEN, MAGIC, VERSION};

/// The kinds of filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Split-block Bloom filter: 256-bit blocks, eight bits per key, one per 32-bit lane.
    SplitBlockBloom,
    /// Binary fuse filter with 8-bit fingerprints (false-positive rate 2^-8 ≈ 0.39 %).
    BinaryFuse8,
    /// Binary fuse filter with 16-bit fingerprints (2^-16 ≈ 0.0015 %).
    BinaryFuse16,
    /// Binary fuse filter with 32-bit fingerprints (2^-32 ≈ 2.3e-10).
    BinaryFuse32,
}

impl Kind {
    /// All kinds, Bloom first then fuse by width.
    pub const ALL: [Kind; 4] =
        [Kind::SplitBlockBloom, Kind::BinaryFuse8, Kind::BinaryFuse16, Kind::BinaryFuse32];

    /// The tag stored in the header.
    pub fn tag(self) -> u8 {
        match self {
            Kind::SplitBlockBloom => 1,
            Kind::BinaryFuse8 => 2,
            Kind::BinaryFuse16 => 3,
            Kind::BinaryFuse32 => 4,
        }
    }

    /// The kind of a header tag.
    pub fn from_tag(tag: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// Fingerprint width in bits of a binary fuse kind; `None` for Bloom.
    pub fn fingerprint_bits(self) -> Option<u32> {
        match self {
            Kind::SplitBlockBloom => None,
            Kind::BinaryFuse8 => Some(8),
            Kind::BinaryFuse16 => Some(16),
            Kind::BinaryFuse32 => Some(32),
        }
    }

    fn fingerprint_bytes(self) -> u64 {
        self.fingerprint_bits().map_or(0, |b| u64::from(b / 8))
    }

    /// 2^-bits for a fuse kind (its false-positive rate), 1 for Bloom.
    fn fingerprint_fpr(self) -> f64 {
        self.fingerprint_bits().map_or(1.0, |b| (-f64::from(b)).exp2())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::SplitBlockBloom => "split-block bloom",
            Kind::BinaryFuse8 => "binary fuse 8",
            Kind::BinaryFuse16 => "binary fuse 16",
            Kind::BinaryFuse32 => "binary fuse 32",
        })
    }
}

/// Approximate membership: no false negatives, false positives at a known rate.
pub trait Membership {
    /// `false` if `key` was certainly not added; `true` if it was, or (rarely) by chance.
    fn contains(&self, key: u64) -> bool;
    /// The kind of filter.
    fn kind(&self) -> Kind;
    /// Keys the filter was built from (distinct for fuse filters; insertions for Bloom).
    fn num_keys(&self) -> u64;
    /// Serialized size in bytes, header included.
    fn size_bytes(&self) -> usize;
    /// The theoretical probability that a key not in the set is reported present.
    fn false_positive_rate(&self) -> f64;
}

/// The default kind for a target false-positive rate: the binary fuse filter with the smallest
/// fingerprint width `bits` such that `2^-bits ≤ target_fpr`.
pub fn choose_kind(target_fpr: f64) -> Result<Kind, Error> {
    bloom::check_target(target_fpr)?;
    [Kind::BinaryFuse8, Kind::BinaryFuse16, Kind::BinaryFuse32]
        .into_iter()
        .find(|k| k.fingerprint_fpr() <= target_fpr)
        .ok_or(Error::TargetNotMet {
            kind: Kind::BinaryFuse32,
            target: target_fpr,
            best: Kind::BinaryFuse32.fingerprint_fpr(),
        })
}

/// Builds a filter of `kind` holding `keys` with a false-positive rate of at most `target_fpr`.
///
/// * Bloom: sized by [`bloom_num_blocks`] for `keys.len()` keys (duplicates are not removed;
///   they only make the filter a little emptier than needed), then every key inserted.
/// * Binary fuse: keys are deduplicated, the width is fixed by the kind, and a kind whose rate
///   2^-bits exceeds the target is refused ([`Error::TargetNotMet`]; see [`choose_kind`]).
///
/// The bytes depend only on the kind, the key set, the target and `seed` (not on the order of
/// the keys, for fuse filters not on duplicates either): rebuilding gives identical bytes.
/// Different seeds give different hash functions, hence different false positives.
pub fn build(kind: Kind, keys: &[u64], target_fpr: f64, seed: u64) -> Result<FilterBuf, Error> {
    bloom::check_target(target_fpr)?;
    match kind {
        Kind::SplitBlockBloom => {
            let blocks = bloom_num_blocks(keys.len() as u64, target_fpr)?;
            let mut filter = FilterBuf::empty_bloom(blocks, seed)?;
            filter.insert_all(keys)?;
            Ok(filter)
        }
        Kind::BinaryFuse8 | Kind::BinaryFuse16 | Kind::BinaryFuse32 => {
            let best = kind.fingerprint_fpr();
            if best > target_fpr {
                return Err(Error::TargetNotMet { kind, target: target_fpr, best });
            }
            let built = fuse::build(kind, keys, seed)?;
            let p = built.params;
            FilterBuf::from_payload(
                kind,
                built.num_keys,
                p.seed,
                (p.segment_length, p.segment_count_length),
                &built.payload,
            )
        }
    }
}
