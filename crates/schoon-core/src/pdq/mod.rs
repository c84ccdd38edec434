//! PDQ, Meta's 256-bit perceptual hash, implemented from the published algorithm.
//!
//! Pipeline: luma (`0.299 R + 0.587 G + 0.114 B` in `f32`) → two passes of a Jarosz box filter
//! along rows and columns (a tent) → decimation to 64x64 → the 16x16 low-frequency block of a
//! DCT, without the DC row and column → one bit per coefficient: strictly greater than the
//! (Torben) median. The quality metric (0..=100) counts significant gradients of the 64x64
//! buffer. The 8 dihedral hashes (rotations and mirrors of the image) come from sign changes and
//! transposition of the DCT block, without hashing again.
//!
//! Two ways to reach the 64x64 buffer:
//! * [`hash_luma`] is the reference pipeline: the same luma gives the same bits and quality as
//!   the C++ core, bit for bit.
//! * the *fast* path ([`hash_block_means`]) starts from a reduced plane of block means (a
//!   DCT-scaled JPEG decode or a box-downsampled image) and applies, per block, the exact weights
//!   the reference tent filter would give to the pixels of that block. It differs from the
//!   reference only by the luma variation inside blocks.
//!
//! ```
//! use schoon_core::pdq;
//! // A 64x48 synthetic luma image: a bright diagonal band.
//! let (w, h) = (64usize, 48usize);
//! let luma: Vec<f32> = (0..w * h)
//!     .map(|i| if (i % w + i / w) % 40 < 12 { 230.0 } else { 20.0 })
//!     .collect();
//! let out = pdq::hash_luma(luma, w, h, &schoon_core::Limits::default())?;
//! assert_eq!(out.hash.to_hex().len(), 64);
//! assert!(out.quality > 50);
//! assert_eq!(out.dihedral[0], out.hash);
//! # Ok::<(), schoon_core::Error>(())
//! ```

mod dct;
#[rustfmt::skip]
mod dct_table;
mod fast;
mod hash;
mod tent;

pub use fast::{hash_block_means, hash_block_means_checked};
pub use hash::PdqHash;

use crate::error::Error;
use crate::limits::{Limits, checked_vec};

/// Images with a side under this many pixels hash to zero with quality 0, as in the reference.
pub const MIN_HASHABLE_DIM: usize = 5;

/// The 16x16 DCT coefficients behind a PDQ hash (row `i`, column `j` give bit `16 i + j`).
///
/// They tell which bits are reliable: a coefficient far from the median keeps its bit under
/// edits, one close to it flips easily. The PDQ prefilter probes the least reliable bits.
#[derive(Debug, Clone, Copy)]
pub struct Coefficients(pub [[f32; 16]; 16]);

impl Coefficients {
    /// For dihedral variant `variant` (0..8, order of [`Pdq::dihedral`]), the distance of each
    /// bit's coefficient from the variant's median, indexed by bit.
    pub fn margins(&self, variant: usize) -> [f32; 256] {
        dct::margins(&self.0, variant & 7)
    }

    /// The hash of dihedral variant `variant` (0..8): the bits these coefficients give.
    pub fn hash(&self, variant: usize) -> PdqHash {
        dct::to_bits(&dct::transform(&self.0, variant & 7))
    }
}

impl PartialEq for Coefficients {
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .flatten()
            .zip(other.0.iter().flatten())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for Coefficients {}

/// The result of hashing one image with PDQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdq {
    /// The hash of the image as given.
    pub hash: PdqHash,
    /// The quality metric, 0..=100. Hashes of quality under 50 are not reliable for matching.
    pub quality: u8,
    /// The hashes of the 8 dihedral variants, in the reference's order: original, rot90,
    /// rot180, rot270, flipX, flipY, flipPlus1, flipMinus1. `dihedral[0] == hash`.
    ///
    /// `rot90` is the hash of the image turned 90 degrees counter-clockwise, `flipX` of the
    /// image turned upside down, `flipY` of its left-right mirror, `flipPlus1` of its transpose.
    pub dihedral: [PdqHash; 8],
    /// The DCT coefficients the bits come from.
    pub coefficients: Coefficients,
}

impl Pdq {
    /// What the reference returns for images too small to hash.
    pub const EMPTY: Pdq = Pdq {
        hash: PdqHash::ZERO,
        quality: 0,
        dihedral: [PdqHash::ZERO; 8],
        coefficients: Coefficients([[0.0; 16]; 16]),
    };

    /// Finishes a hash from the 64x64 downsampled luma.
    pub(crate) fn from_64x64(buf: &[[f32; 64]; 64]) -> Pdq {
        let quality = dct::quality(buf);
        let coefficients = dct::dct64_to_16(buf);
        let dihedral = dct::dihedral(&coefficients);
        Pdq { hash: dihedral[0], quality, dihedral, coefficients: Coefficients(coefficients) }
    }
}

/// The reference luma of one RGB pixel, in the reference's operation order.
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> f32 {
    0.299f32 * f32::from(r) + 0.587f32 * f32::from(g) + 0.114f32 * f32::from(b)
}

/// Hashes a full-size luma image (`width x height`, row-major) with the reference pipeline.
///
/// The buffer is filtered in place; a second buffer of the same size is allocated (checked
/// against [`Limits::max_alloc`]).
pub fn hash_luma(
    mut luma: Vec<f32>,
    width: usize,
    height: usize,
    limits: &Limits,
) -> Result<Pdq, Error> {
    let n = width.checked_mul(height).ok_or_else(|| Error::caller("image size overflows"))?;
    if luma.len() != n {
        return Err(Error::caller(format!(
            "luma buffer has {} values, expected {width}x{height} = {n}",
            luma.len()
        )));
    }
    if width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM {
        return Ok(Pdq::EMPTY);
    }
    let mut scratch = checked_vec::<f32>(n, limits)?;
    let mut sums = vec![0f32; width];
    tent::jarosz(&mut luma, &mut scratch, height, width, &mut sums);
    let mut buf = [[0f32; 64]; 64];
    tent::decimate(&luma, height, width, &mut buf);
    Ok(Pdq::from_64x64(&buf))
}

/// Hashes interleaved 8-bit pixels with `channels` samples per pixel (1 = grey, 2 = grey+alpha,
/// 3 = RGB, 4 = RGBA) with the reference pipeline. Alpha is dropped, as the ThreatExchange
/// Python hasher does (it converts to RGB); grey is replicated to R, G and B.
///
/// This is the entry point for pixels decoded by a platform (a browser canvas gives RGBA).
///
/// ```
/// let rgba = vec![128u8; 16 * 16 * 4];
/// let out = schoon_core::pdq::hash_pixels(&rgba, 16, 16, 4, &Default::default())?;
/// assert_eq!(out.quality, 0); // a flat image has no gradients
/// # Ok::<(), schoon_core::Error>(())
/// ```
pub fn hash_pixels(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    limits: &Limits,
) -> Result<Pdq, Error> {
    let luma = luma_from_pixels(pixels, width, height, channels, limits)?;
    hash_luma(luma, width, height, limits)
}

/// The reference luma of interleaved 8-bit pixels (see [`hash_pixels`] for `channels`).
pub fn luma_from_pixels(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    limits: &Limits,
) -> Result<Vec<f32>, Error> {
    if !(1..=4).contains(&channels) {
        return Err(Error::caller(format!(
            "unsupported channel count {channels}: expected 1 to 4"
        )));
    }
    let n = width.checked_mul(height).ok_or_else(|| Error::caller("image size overflows"))?;
    let expected = n.checked_mul(channels).ok_or_else(|| Error::caller("image size overflows"))?;
    if pixels.len() != expected {
        return Err(Error::caller(format!(
            "pixel buffer has {} bytes, expected {width}x{height}x{channels} = {expected}",
            pixels.len()
        )));
    }
    let mut luma = checked_vec::<f32>(n, limits)?;
    fill_luma(pixels, channels, &mut luma);
    Ok(luma)
}

/// Writes the luma of interleaved pixels into `out` (one value per pixel).
pub(crate) fn fill_luma(pixels: &[u8], channels: usize, out: &mut [f32]) {
    match channels {
        1 | 2 => {
            for (o, p) in out.iter_mut().zip(pixels.chunks_exact(channels)) {
                *o = luma(p[0], p[0], p[0]);
            }
        }
        _ => {
            for (o, p) in out.iter_mut().zip(pixels.chunks_exact(channels)) {
                *o = luma(p[0], p[1], p[2]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_table_matches_the_formula() {
        let computed = dct::compute_dct_matrix();
        for (a, b) in computed.iter().flatten().zip(dct_table::DCT_MATRIX.iter().flatten()) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn tiny_images_hash_to_zero() {
        let out = hash_luma(vec![1.0; 4 * 100], 4, 100, &Limits::default()).unwrap();
        assert_eq!(out, Pdq::EMPTY);
        let out = hash_luma(vec![1.0; 5 * 5], 5, 5, &Limits::default()).unwrap();
        assert_eq!(out.quality, 0);
    }

    #[test]
    fn wrong_buffer_sizes_are_caller_errors() {
        let e = hash_luma(vec![0.0; 10], 4, 4, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Caller);
        let e = hash_pixels(&[0; 10], 2, 2, 3, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("2x2x3"), "{e}");
        let e = hash_pixels(&[0; 10], 2, 2, 7, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains('7'), "{e}");
    }

    #[test]
    fn dihedral_hashes_equal_hashes_of_transformed_images() {
        // Transforming the pixels and hashing again gives the DCT-derived variant when the image
        // is 64x64 (decimation then maps the sample grid onto itself).
        let n = 64usize;
        let img: Vec<f32> = (0..n * n)
            .map(|i| {
                let (y, x) = ((i / n) as f32 / n as f32, (i % n) as f32 / n as f32);
                let disc = if (x - 0.7).powi(2) + (y - 0.3).powi(2) < 0.02 { 60.0 } else { 0.0 };
                128.0
                    + 70.0 * (x * 7.0 + y * 3.0).sin() * (y * 5.0 - x * 2.0).cos()
                    + disc
                    + x * 30.0
            })
            .collect();
        let at = |x: usize, y: usize| img[y * n + x];
        let transforms: [&dyn Fn(usize, usize) -> f32; 8] = [
            &|x, y| at(x, y),
            &|x, y| at(n - 1 - y, x),         // rot90: counter-clockwise
            &|x, y| at(n - 1 - x, n - 1 - y), // rot180
            &|x, y| at(y, n - 1 - x),         // rot270: clockwise
            &|x, y| at(x, n - 1 - y),         // flipX: upside down
            &|x, y| at(n - 1 - x, y),         // flipY: left-right
            &|x, y| at(y, x),                 // flipPlus1: transpose
            &|x, y| at(n - 1 - y, n - 1 - x), // flipMinus1
        ];
        let base = hash_luma(img.clone(), n, n, &Limits::default()).unwrap();
        for (t, f) in transforms.iter().enumerate() {
            let moved: Vec<f32> = (0..n * n).map(|i| f(i % n, i / n)).collect();
            let h = hash_luma(moved, n, n, &Limits::default()).unwrap().hash;
            let d = h.distance(&base.dihedral[t]);
            assert!(d <= 2, "transform {t}: distance {d}");
        }
    }
}
