//! Split-block Bloom filter (Putze, Sanders & Singler 2007; the layout of Impala and Parquet).
//!
//! The payload is an array of 32-byte blocks, each eight little-endian `u32` lanes. A key is
//! hashed to 64 bits; the high 32 bits pick a block by multiply-shift, the low 32 bits times
//! eight odd salts pick one bit in each lane. Insertion sets the eight bits, a query checks them:
//! one cache line per key, no branches inside the block.

use crate::{Error, Kind};

/// Bytes per block: 8 lanes of 32 bits.
pub(crate) const BLOCK_BYTES: usize = 32;

/// The largest number of keys per block considered when sizing (beyond it every query matches).
const MAX_KEYS_PER_BLOCK: f64 = 600.0;
/// The smallest number of keys per block considered when sizing (below it the filter is absurd).
const MIN_KEYS_PER_BLOCK: f64 = 1e-4;

/// The eight odd multipliers of the Parquet specification.
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// MurmurHash3's 64-bit finaliser: a bijection whose output bits all depend on all input bits.
#[inline(always)]
pub(crate) const fn mix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The hash that places `key` (block from the high half, bits from the low half).
#[inline(always)]
fn hash(key: u64, seed: u64) -> u64 {
    // A different odd constant than the fuse filter's `key + seed`, so the two kinds built from
    // the same keys and seed do not share false positives.
    mix64(key.wrapping_add(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[inline(always)]
fn block_index(h: u64, num_blocks: usize) -> usize {
    // Multiply-shift ("fastrange"): uniform in 0..num_blocks; num_blocks < 2^32.
    (((h >> 32) * num_blocks as u64) >> 32) as usize
}

/// The eight one-bit masks of a key inside its block.
#[inline(always)]
fn masks(h: u64) -> [u32; 8] {
    let x = h as u32;
    SALT.map(|s| 1u32 << (x.wrapping_mul(s) >> 27))
}

/// Whether all eight bits of `key` are set. `blocks` must not be empty (a parsed filter has at
/// least one block); an out-of-range block cannot happen and would answer `false`.
#[inline(always)]
pub(crate) fn contains(blocks: &[[u8; BLOCK_BYTES]], seed: u64, key: u64) -> bool {
    let h = hash(key, seed);
    let Some(block) = blocks.get(block_index(h, blocks.len())) else {
        return false;
    };
    let (lanes, _) = block.as_chunks::<4>();
    let mut missing = 0u32;
    for (lane, mask) in lanes.iter().zip(masks(h)) {
        missing |= mask & !u32::from_le_bytes(*lane);
    }
    missing == 0
}

/// Sets the eight bits of `key`.
#[inline]
pub(crate) fn insert(blocks: &mut [[u8; BLOCK_BYTES]], seed: u64, key: u64) {
    let h = hash(key, seed);
    let n = blocks.len();
    if let Some(block) = blocks.get_mut(block_index(h, n)) {
        let (lanes, _) = block.as_chunks_mut::<4>();
        for (lane, mask) in lanes.iter_mut().zip(masks(h)) {
            *lane = (u32::from_le_bytes(*lane) | mask).to_le_bytes();
        }
    }
}

/// The false-positive rate of a split-block Bloom filter holding on average `lambda` keys per
/// block.
///
/// Keys fall into blocks as a Poisson process of rate `λ = n / blocks`. A block holding `j`
/// keys has in each 32-bit lane `j` bits set at random (with repetition), so one given bit is
/// set with probability `1 − (31/32)^j`; a non-member matches if its bit is set in all eight
/// lanes. Hence
///
/// ```text
/// ε(λ) = Σ_{j ≥ 0}  e^{−λ} λ^j / j!  ·  (1 − (31/32)^j)^8
/// ```
///
/// This is *not* the classic Bloom formula `(1 − e^{−kn/m})^k`: the uneven load of the blocks
/// costs space (about 10.5 bits per key at 1 %, 16.9 at 0.1 %, where a classic Bloom filter
/// needs 9.6 and 14.4), the price of touching one cache line per query.
pub(crate) fn fpr_at_load(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0.0;
    }
    let lambda = lambda.min(MAX_KEYS_PER_BLOCK);
    // Terms past λ + 12√λ + 40 are below 1e-25 of the total.
    let last = (lambda + 12.0 * lambda.sqrt() + 40.0).ceil() as u32;
    let mut poisson = (-lambda).exp(); // P(j = 0)
    let mut unset = 1.0f64; // (31/32)^j
    let mut total = 0.0f64;
    for j in 0..=last {
        if j > 0 {
            poisson *= lambda / f64::from(j);
            unset *= 31.0 / 32.0;
        }
        total += poisson * (1.0 - unset).powi(8);
    }
    total.clamp(0.0, 1.0)
}

/// The theoretical false-positive rate of a split-block Bloom filter with `num_keys` keys in
/// `num_blocks` 256-bit blocks (see [`bloom_num_blocks`] for the formula).
///
/// [`bloom_num_blocks`]: crate::bloom_num_blocks
pub fn bloom_false_positive_rate(num_keys: u64, num_blocks: u32) -> f64 {
    if num_blocks == 0 {
        return 1.0;
    }
    fpr_at_load(num_keys as f64 / f64::from(num_blocks))
}

/// The number of 256-bit blocks a split-block Bloom filter needs so that `num_keys` keys give a
/// false-positive rate of at most `target_fpr`.
///
/// The rate of a split-block Bloom filter with `λ = n / blocks` keys per block is
///
/// ```text
/// ε(λ) = Σ_{j ≥ 0}  e^{−λ} λ^j / j!  ·  (1 − (31/32)^j)^8
/// ```
///
/// (Poisson-distributed block loads; in a block with `j` keys each lane has a given bit set with
/// probability `1 − (31/32)^j`, and a non-member needs its bit in all eight lanes). It is
/// decreasing in `λ`; this function finds the largest `λ` with `ε(λ) ≤ target` by bisection and
/// returns `max(1, ⌈n / λ⌉)`. Bits per key = `256 / λ`: about 10.5 at 1e-2, 16.9 at 1e-3,
/// 26.4 at 1e-4 and 41 at 1e-5 (the figures published with the Parquet format).
pub fn bloom_num_blocks(num_keys: u64, target_fpr: f64) -> Result<u32, Error> {
    check_target(target_fpr)?;
    let lambda = max_load_for(target_fpr)?;
    if num_keys == 0 {
        return Ok(1);
    }
    let blocks = (num_keys as f64 / lambda).ceil().max(1.0);
    if blocks > f64::from(u32::MAX) {
        return Err(Error::TooManyKeys {
            kind: Kind::SplitBlockBloom,
            count: num_keys,
            max: (f64::from(u32::MAX) * lambda) as u64,
        });
    }
    Ok(blocks as u32)
}

/// The largest load `λ` (keys per block) with `ε(λ) ≤ target`.
fn max_load_for(target: f64) -> Result<f64, Error> {
    let (mut lo, mut hi) = (MIN_KEYS_PER_BLOCK, MAX_KEYS_PER_BLOCK);
    if fpr_at_load(hi) <= target {
        return Ok(hi);
    }
    let best = fpr_at_load(lo);
    if best > target {
        return Err(Error::TargetNotMet { kind: Kind::SplitBlockBloom, target, best });
    }
    // Invariant: ε(lo) ≤ target < ε(hi).
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if fpr_at_load(mid) <= target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= lo * 1e-12 {
            break;
        }
    }
    Ok(lo)
}

/// Refuses targets that are not strictly between 0 and 1 (NaN included).
pub(crate) fn check_target(target: f64) -> Result<(), Error> {
    if target > 0.0 && target < 1.0 { Ok(()) } else { Err(Error::InvalidTarget { target }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_matches_the_published_parquet_figures() {
        // (bits per key, false-positive rate) from the Parquet Bloom filter specification.
        for (bits, fpr) in [(10.5, 1e-2), (16.9, 1e-3), (26.4, 1e-4), (41.0, 1e-5)] {
            let got = fpr_at_load(256.0 / bits);
            assert!((got / fpr - 1.0).abs() < 0.08, "{bits} bits per key: {got} vs {fpr}");
        }
    }

    #[test]
    fn sizing_meets_the_target_and_is_tight() {
        for target in [0.5, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-9] {
            let n = 1_000_000;
            let blocks = bloom_num_blocks(n, target).unwrap();
            let got = bloom_false_positive_rate(n, blocks);
            assert!(got <= target, "{target}: {got}");
            // One block fewer would miss the target.
            assert!(bloom_false_positive_rate(n, blocks - 1) > target, "{target}");
        }
        assert_eq!(bloom_num_blocks(0, 1e-3).unwrap(), 1);
        assert_eq!(bloom_num_blocks(1, 1e-3).unwrap(), 1);
    }

    #[test]
    fn formula_is_monotone() {
        let mut last = 0.0;
        for i in 1..2000 {
            let lambda = f64::from(i) * 0.3;
            let e = fpr_at_load(lambda);
            assert!(e >= last, "{lambda}");
            last = e;
        }
        assert_eq!(fpr_at_load(0.0), 0.0);
        assert_eq!(fpr_at_load(f64::NAN), 0.0);
        assert!(fpr_at_load(1e9) <= 1.0);
    }

    #[test]
    fn bad_targets_are_refused() {
        for t in [0.0, 1.0, -0.5, 2.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(bloom_num_blocks(10, t), Err(Error::InvalidTarget { .. })));
        }
        assert!(matches!(bloom_num_blocks(10, 1e-300), Err(Error::TargetNotMet { .. })));
    }
}
