//! The fast path: the reference tent filter applied to a plane of block means.
//!
//! The reference filter is linear and separable: every sample of the 64x64 buffer is a weighted
//! sum of the full-size luma, with weights `V_i(y) * H_j(x)` that depend only on the image size.
//! Given only the mean of each `bw x bh` block (what a DCT-scaled JPEG decode yields for free),
//! the best estimate gives each block the sum of the weights of its pixels. The estimate differs
//! from the reference only where luma varies inside a block *and* the weights vary across it.

use super::Pdq;
use super::tent::{box_range, decimation_index, window_size};
use crate::error::Error;

/// The weights of one decimated sample over a run of consecutive blocks.
struct Taps {
    first_block: usize,
    weights: Vec<f32>,
}

/// For a dimension of `n` pixels split into blocks of `block` pixels, the block weights of each
/// of the 64 decimated samples of the reference filter (two box passes, then decimation).
fn block_taps(n: usize, block: usize) -> Vec<Taps> {
    let w = window_size(n, 64);
    (0..64)
        .map(|c| {
            let center = decimation_index(c, n);
            // Second pass: sample `center` averages first-pass outputs lo..=hi.
            let (lo, hi) = box_range(center, n, w);
            let inv2 = 1.0 / (hi - lo + 1) as f64;
            let start = box_range(lo, n, w).0;
            let end = box_range(hi, n, w).1;
            // Pixel weights via a difference array over [start, end].
            let mut diff = vec![0f64; end - start + 2];
            for m in lo..=hi {
                let (a, b) = box_range(m, n, w);
                let v = inv2 / (b - a + 1) as f64;
                diff[a - start] += v;
                diff[b - start + 1] -= v;
            }
            let first_block = start / block;
            let last_block = end / block;
            let mut weights = vec![0f64; last_block - first_block + 1];
            let mut running = 0f64;
            for (k, d) in diff.iter().take(end - start + 1).enumerate() {
                running += d;
                weights[(start + k) / block - first_block] += running;
            }
            Taps { first_block, weights: weights.into_iter().map(|v| v as f32).collect() }
        })
        .collect()
}

/// Hashes an image of `full_width x full_height` pixels given only the means of its
/// `block_width x block_height` blocks (`plane`, row-major, `ceil(full / block)` per side).
///
/// With blocks of 1x1 this is the reference filter up to floating-point rounding; the larger the
/// blocks relative to the filter window (`full / 128` pixels), the larger the deviation.
///
/// ```
/// use schoon_core::pdq;
/// // A 1024x768 image known only by its 8x8 block means (128x96 of them).
/// let plane: Vec<f32> = (0..128 * 96).map(|i| ((i % 128) * 2) as f32).collect();
/// let out = pdq::hash_block_means(&plane, 8, 8, 1024, 768)?;
/// assert!(out.quality > 0);
/// # Ok::<(), schoon_core::Error>(())
/// ```
pub fn hash_block_means(
    plane: &[f32],
    block_width: usize,
    block_height: usize,
    full_width: usize,
    full_height: usize,
) -> Result<Pdq, Error> {
    let buf = downsampled(plane, block_width, block_height, full_width, full_height)?;
    Ok(buf.map_or(Pdq::EMPTY, |buf| Pdq::from_64x64(&buf)))
}

/// [`hash_block_means`], and whether its estimate can be trusted to land within the fast
/// path's budget of the reference (`true`), or the image needs the full-size pixels (`false`).
///
/// Block means lose the luma variation inside blocks. On photos that loss moves a few bits at
/// most; on fine periodic textures (stripes, checkerboards, thin lines tiling the image) the
/// 64x64 buffer is dominated by a pattern that the 16x16 DCT, without its DC row and column,
/// barely sees: most coefficients sit next to the median, so tiny errors flip their bits at
/// random. Such a hash is recognised by its margins: the 17th smallest distance of a
/// coefficient from the median is under 2 % of the buffer's standard deviation (photos of the
/// evaluation corpus: 5 % or more; textures that miss the budget: under 1 %). A flat buffer
/// (deviation under a hundredth of a grey level) is accepted.
///
/// ```
/// use schoon_core::pdq;
/// // Vertical stripes 9 pixels wide over a 1600x1600 image, known by 4x4 block means.
/// let (w, b) = (1600usize, 4usize);
/// let column = |x: usize| if (x / 9) % 2 == 0 { 228.0 } else { 28.0 };
/// let row: Vec<f32> = (0..w / b).map(|bx| (bx * b..bx * b + b).map(column).sum::<f32>() / 4.0).collect();
/// let plane: Vec<f32> = row.iter().copied().cycle().take(row.len() * (w / b)).collect();
/// let (_, reliable) = pdq::hash_block_means_checked(&plane, b, b, w, w)?;
/// assert!(!reliable);
/// # Ok::<(), schoon_core::Error>(())
/// ```
pub fn hash_block_means_checked(
    plane: &[f32],
    block_width: usize,
    block_height: usize,
    full_width: usize,
    full_height: usize,
) -> Result<(Pdq, bool), Error> {
    let Some(buf) = downsampled(plane, block_width, block_height, full_width, full_height)? else {
        return Ok((Pdq::EMPTY, true));
    };
    let pdq = Pdq::from_64x64(&buf);
    Ok((pdq, reliable(&buf, &pdq)))
}

/// The 64x64 buffer of the reference filter estimated from block means; `None` for images too
/// small to hash.
fn downsampled(
    plane: &[f32],
    block_width: usize,
    block_height: usize,
    full_width: usize,
    full_height: usize,
) -> Result<Option<[[f32; 64]; 64]>, Error> {
    if block_width == 0 || block_height == 0 {
        return Err(Error::caller("block size must be at least 1x1"));
    }
    let pw = full_width.div_ceil(block_width);
    let ph = full_height.div_ceil(block_height);
    if pw.checked_mul(ph) != Some(plane.len()) {
        return Err(Error::caller(format!(
            "plane has {} values, expected {pw}x{ph} for a {full_width}x{full_height} image in \
             {block_width}x{block_height} blocks",
            plane.len()
        )));
    }
    if full_width < super::MIN_HASHABLE_DIM || full_height < super::MIN_HASHABLE_DIM {
        return Ok(None);
    }
    let h_taps = block_taps(full_width, block_width);
    let v_taps = block_taps(full_height, block_height);
    // Horizontal: every plane row reduced to the 64 column samples.
    let mut rows64 = vec![[0f32; 64]; ph];
    for (row, out) in plane.chunks_exact(pw).zip(rows64.iter_mut()) {
        for (o, taps) in out.iter_mut().zip(&h_taps) {
            let span = row.get(taps.first_block..).unwrap_or(&[]);
            *o = span.iter().zip(&taps.weights).map(|(a, b)| a * b).sum();
        }
    }
    // Vertical.
    let mut buf = [[0f32; 64]; 64];
    for (out_row, taps) in buf.iter_mut().zip(&v_taps) {
        let span = rows64.get(taps.first_block..).unwrap_or(&[]);
        for (r, &wgt) in span.iter().zip(&taps.weights) {
            for (o, v) in out_row.iter_mut().zip(r) {
                *o += wgt * v;
            }
        }
    }
    Ok(Some(buf))
}

/// Which smallest margin ([`super::Coefficients::margins`], sorted) is compared: 16 bits may
/// flip before it (the budget is 12).
const MARGIN_RANK: usize = 16;
/// The smallest accepted ratio of that margin to the 64x64 buffer's standard deviation.
const MIN_MARGIN_PER_SD: f64 = 0.02;
/// A buffer deviating less than this (grey levels) is flat: nothing for block means to miss.
const FLAT_SD: f64 = 0.01;

/// Whether the hash of this buffer keeps its bits under the small errors of block means
/// (see [`hash_block_means_checked`]). Deterministic: the same buffer gives the same answer.
fn reliable(buf: &[[f32; 64]; 64], pdq: &Pdq) -> bool {
    let n = 4096.0;
    let mean = buf.iter().flatten().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = buf.iter().flatten().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    let mut margins = pdq.coefficients.margins(0);
    margins.sort_unstable_by(f32::total_cmp);
    let margin = margins.get(MARGIN_RANK).copied().unwrap_or(0.0);
    let sd = var.sqrt();
    sd < FLAT_SD || f64::from(margin) >= MIN_MARGIN_PER_SD * sd
}

/// Box-averages a full-size luma image into `block x block` means.
#[cfg(test)]
pub(crate) fn block_means(luma: &[f32], width: usize, height: usize, block: usize) -> Vec<f32> {
    let pw = width.div_ceil(block);
    let ph = height.div_ceil(block);
    let mut sums = vec![0f32; pw * ph];
    for (y, row) in luma.chunks_exact(width).enumerate() {
        let out = &mut sums[(y / block) * pw..(y / block + 1) * pw];
        for (o, chunk) in out.iter_mut().zip(row.chunks(block)) {
            *o += chunk.iter().sum::<f32>();
        }
    }
    for (by, out) in sums.chunks_exact_mut(pw).enumerate() {
        let bh = block.min(height - by * block);
        for (bx, o) in out.iter_mut().enumerate() {
            let bw = block.min(width - bx * block);
            *o /= (bw * bh) as f32;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn scene(w: usize, h: usize) -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
                let v = 128.0
                    + 80.0 * (x * 9.0 + y * 4.0).sin() * (y * 7.0 - x * 3.0).cos()
                    + if (x - 0.6).powi(2) + (y - 0.4).powi(2) < 0.04 { 40.0 } else { -10.0 };
                v.clamp(0.0, 255.0)
            })
            .collect()
    }

    #[test]
    fn unit_blocks_reproduce_the_reference() {
        for (w, h) in [(320usize, 240usize), (1000, 700), (97, 131), (64, 64)] {
            let img = scene(w, h);
            let reference = crate::pdq::hash_luma(img.clone(), w, h, &Limits::default()).unwrap();
            let fast = hash_block_means(&img, 1, 1, w, h).unwrap();
            let d = fast.hash.distance(&reference.hash);
            assert!(d <= 2, "{w}x{h}: distance {d}");
            assert!(fast.quality.abs_diff(reference.quality) <= 1);
        }
    }

    #[test]
    fn block_means_stay_close() {
        let (w, h) = (2000usize, 1500usize);
        let img = scene(w, h);
        let reference = crate::pdq::hash_luma(img.clone(), w, h, &Limits::default()).unwrap();
        for block in [2usize, 4, 8] {
            let plane = block_means(&img, w, h, block);
            let fast = hash_block_means(&plane, block, block, w, h).unwrap();
            let d = fast.hash.distance(&reference.hash);
            assert!(d <= 6, "block {block}: distance {d}");
        }
    }

    #[test]
    fn photos_are_reliable_and_stripe_wallpapers_are_not() {
        let (w, h) = (1600usize, 1600usize);
        let plane = block_means(&scene(w, h), w, h, 4);
        assert!(hash_block_means_checked(&plane, 4, 4, w, h).unwrap().1);
        // Vertical stripes of periods 5 to 24 pixels (quality 66 to 100).
        for period in [5usize, 10, 16, 24] {
            let stripes: Vec<f32> = (0..w * h)
                .map(|i| if (2 * (i % w) / period) % 2 == 0 { 228.0 } else { 28.0 })
                .collect();
            let plane = block_means(&stripes, w, h, 4);
            let (pdq, reliable) = hash_block_means_checked(&plane, 4, 4, w, h).unwrap();
            assert!(pdq.quality >= 50 && !reliable, "period {period}");
        }
        // A flat image has nothing to trust or distrust: accepted.
        let flat = vec![90.0; 200 * 150];
        assert!(hash_block_means_checked(&flat, 4, 4, 800, 600).unwrap().1);
    }

    #[test]
    fn bad_planes_are_refused() {
        assert!(hash_block_means(&[0.0; 10], 8, 8, 100, 100).is_err());
        assert!(hash_block_means(&[0.0; 10], 0, 8, 100, 100).is_err());
        assert_eq!(hash_block_means(&[0.0; 1], 8, 8, 4, 4).unwrap(), Pdq::EMPTY);
    }
}
