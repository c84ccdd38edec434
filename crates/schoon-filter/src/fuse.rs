//! Binary fuse filters (Graf & Lemire, "Binary Fuse Filters: Fast and Smaller Than Xor
//! Filters", 2022), 3-wise, with 8-, 16- or 32-bit fingerprints.
//!
//! Construction is delegated to `xorf`; the lookup here reads the fingerprints straight from the
//! serialized little-endian bytes and answers exactly as `xorf`'s `contains` does for the same
//! filter (tested). A key `k` built with seed `s` is handed to `xorf` as `k + s`; the header
//! stores `s + xorf's internal seed`, so a lookup hashes `mix64(k + stored seed)`, which is what
//! `xorf` computes for `k + s`.

use xorf::{BinaryFuse8, BinaryFuse16, BinaryFuse32, Descriptor};

use crate::bloom::mix64;
use crate::{Error, Kind};

/// The largest segment length `xorf` produces (and this code accepts).
pub(crate) const MAX_SEGMENT_LENGTH: u32 = 1 << 18;
/// The most distinct keys a binary fuse filter is built from (keeps `xorf`'s `u32` arithmetic,
/// about `1.13 n` slots plus two segments, well inside `u32`).
pub(crate) const MAX_KEYS: u64 = 1 << 31;

/// Lookup parameters of a binary fuse filter (from the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) seed: u64,
    pub(crate) segment_length: u32,
    pub(crate) segment_count_length: u32,
}

/// A fingerprint as stored: `W` little-endian bytes.
pub(crate) trait Lane: Copy {
    /// Mask of the fingerprint bits in a `u32`.
    const MASK: u32;
    /// The fingerprint, zero-extended.
    fn word(self) -> u32;
}

impl Lane for [u8; 1] {
    const MASK: u32 = 0xff;
    #[inline(always)]
    fn word(self) -> u32 {
        u32::from(u8::from_le_bytes(self))
    }
}

impl Lane for [u8; 2] {
    const MASK: u32 = 0xffff;
    #[inline(always)]
    fn word(self) -> u32 {
        u32::from(u16::from_le_bytes(self))
    }
}

impl Lane for [u8; 4] {
    const MASK: u32 = u32::MAX;
    #[inline(always)]
    fn word(self) -> u32 {
        u32::from_le_bytes(self)
    }
}

/// The three slots of a hash (binary fuse "hash of hash"); all are `< scl + 2 * length` when
/// `length` is a power of two and `scl` a multiple of it (checked when parsing).
#[inline(always)]
fn slots(hash: u64, p: &Params) -> [usize; 3] {
    let mask = p.segment_length.wrapping_sub(1);
    let h0 = ((u128::from(hash) * u128::from(p.segment_count_length)) >> 64) as u32;
    let h1 = h0.wrapping_add(p.segment_length) ^ ((hash >> 18) as u32 & mask);
    let h2 = h0.wrapping_add(p.segment_length.wrapping_mul(2)) ^ (hash as u32 & mask);
    [h0 as usize, h1 as usize, h2 as usize]
}

#[inline(always)]
fn fingerprint(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

/// Whether `key` is (probably) in the filter. An out-of-range slot cannot happen after parsing
/// and would read as zero.
#[inline(always)]
pub(crate) fn contains<L: Lane>(fingerprints: &[L], p: &Params, key: u64) -> bool {
    let hash = mix64(key.wrapping_add(p.seed));
    let [a, b, c] = slots(hash, p).map(|i| fingerprints.get(i).map_or(0, |f| f.word()));
    (fingerprint(hash) & L::MASK) ^ a ^ b ^ c == 0
}

/// A built filter: lookup parameters and the little-endian fingerprint bytes.
pub(crate) struct Built {
    pub(crate) params: Params,
    pub(crate) num_keys: u64,
    pub(crate) payload: Vec<u8>,
}

/// Builds a binary fuse filter of `kind` (not Bloom) from `keys` (duplicates allowed).
///
/// The keys are sorted and deduplicated first, so the result depends only on the key *set* and
/// the seed; `xorf`'s own seed sequence is fixed, so the bytes are reproducible.
pub(crate) fn build(kind: Kind, keys: &[u64], seed: u64) -> Result<Built, Error> {
    let mut distinct = keys.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let count = distinct.len() as u64;
    if count > MAX_KEYS {
        return Err(Error::TooManyKeys { kind, count, max: MAX_KEYS });
    }
    let shifted = distinct.iter().map(|k| k.wrapping_add(seed));
    let fail = |reason| Error::Construction { kind, reason };
    let (descriptor, payload) = match kind {
        Kind::BinaryFuse8 => {
            let mut f = BinaryFuse8::try_from_iterator(shifted).map_err(fail)?;
            let payload = finish(&f.descriptor, &mut f.fingerprints, &distinct, seed);
            (f.descriptor, payload)
        }
        Kind::BinaryFuse16 => {
            let mut f = BinaryFuse16::try_from_iterator(shifted).map_err(fail)?;
            let payload = finish(&f.descriptor, &mut f.fingerprints, &distinct, seed);
            (f.descriptor, payload)
        }
        Kind::BinaryFuse32 => {
            let mut f = BinaryFuse32::try_from_iterator(shifted).map_err(fail)?;
            let payload = finish(&f.descriptor, &mut f.fingerprints, &distinct, seed);
            (f.descriptor, payload)
        }
        Kind::SplitBlockBloom => return Err(fail("not a binary fuse kind")),
    };
    Ok(Built {
        params: Params {
            seed: descriptor.seed.wrapping_add(seed),
            segment_length: descriptor.segment_length,
            segment_count_length: descriptor.segment_count_length,
        },
        num_keys: count,
        payload,
    })
}

/// Fingerprint types `xorf` produces.
trait Fingerprint: Copy + Default {
    fn put(self, out: &mut Vec<u8>);
}

impl Fingerprint for u8 {
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

impl Fingerprint for u16 {
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Fingerprint for u32 {
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Zeroes the slots no key uses (`xorf` leaves them zero unless its `uniform-random` feature is
/// switched on somewhere in the build, which would make the bytes differ from run to run), then
/// serializes little-endian.
fn finish<T: Fingerprint>(
    descriptor: &Descriptor,
    fingerprints: &mut [T],
    keys: &[u64],
    seed: u64,
) -> Vec<u8> {
    let params = Params {
        seed: descriptor.seed.wrapping_add(seed),
        segment_length: descriptor.segment_length,
        segment_count_length: descriptor.segment_count_length,
    };
    let mut used = vec![false; fingerprints.len()];
    for &key in keys {
        for i in slots(mix64(key.wrapping_add(params.seed)), &params) {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
        }
    }
    for (f, used) in fingerprints.iter_mut().zip(used) {
        if !used {
            *f = T::default();
        }
    }
    let mut out = Vec::with_capacity(size_of_val(fingerprints));
    for &f in fingerprints.iter() {
        f.put(&mut out);
    }
    out
}
