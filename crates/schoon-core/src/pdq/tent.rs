//! The reference downsampling: two passes of the Jarosz box filter (a tent) along rows and
//! columns, then decimation to 64x64. Floating-point operations happen in exactly the order of
//! the reference implementation, so the same luma gives the same bits.

/// Window size of one box pass for a dimension of `old` pixels going to `new` samples: half the
/// decimation step, rounded up (two passes make a tent covering the whole step).
pub(crate) fn window_size(old: usize, new: usize) -> usize {
    old.div_ceil(2 * new)
}

/// The inclusive input range `[lo, hi]` that output `o` of one box pass averages, for a
/// dimension of `n` samples and window `w` (the reference's four phases in closed form).
pub(crate) fn box_range(o: usize, n: usize, w: usize) -> (usize, usize) {
    let half = (w + 2) / 2;
    let lo = (o + half).saturating_sub(w);
    let hi = (o + half - 1).min(n - 1);
    (lo, hi)
}

/// One box pass along each row of a `rows x cols` row-major image, `input` to `output`.
fn box_rows(input: &[f32], output: &mut [f32], cols: usize, w: usize) {
    for (inp, out) in input.chunks_exact(cols).zip(output.chunks_exact_mut(cols)) {
        box_1d(inp, out, w);
    }
}

/// The reference `box1DFloat` for a contiguous vector.
fn box_1d(inp: &[f32], out: &mut [f32], w: usize) {
    let n = inp.len().min(out.len());
    let half = (w + 2) / 2;
    let p1 = half - 1;
    let p2 = w - half + 1;
    let p3 = n - w;
    let mut sum = 0.0f32;
    let mut cw = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..p1 {
        sum += inp[ri];
        cw += 1;
        ri += 1;
    }
    for _ in 0..p2 {
        sum += inp[ri];
        cw += 1;
        out[oi] = sum / cw as f32;
        ri += 1;
        oi += 1;
    }
    for _ in 0..p3 {
        sum += inp[ri];
        sum -= inp[li];
        out[oi] = sum / cw as f32;
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..p1 {
        sum -= inp[li];
        cw -= 1;
        out[oi] = sum / cw as f32;
        li += 1;
        oi += 1;
    }
}

/// One box pass along each column, computed row by row (cache friendly); every column sees
/// exactly the reference's sequence of operations.
fn box_cols(
    input: &[f32],
    output: &mut [f32],
    rows: usize,
    cols: usize,
    w: usize,
    sums: &mut [f32],
) {
    let half = (w + 2) / 2;
    let p1 = half - 1;
    let p2 = w - half + 1;
    let p3 = rows - w;
    let row = |r: usize| &input[r * cols..(r + 1) * cols];
    sums.iter_mut().for_each(|s| *s = 0.0);
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut cw = 0usize;
    for _ in 0..p1 {
        for (s, &v) in sums.iter_mut().zip(row(ri)) {
            *s += v;
        }
        cw += 1;
        ri += 1;
    }
    for _ in 0..p2 {
        cw += 1;
        let d = cw as f32;
        let out = &mut output[oi * cols..(oi + 1) * cols];
        for ((s, &v), o) in sums.iter_mut().zip(row(ri)).zip(out) {
            *s += v;
            *o = *s / d;
        }
        ri += 1;
        oi += 1;
    }
    let d = cw as f32;
    for _ in 0..p3 {
        let out = &mut output[oi * cols..(oi + 1) * cols];
        for (((s, &a), &b), o) in sums.iter_mut().zip(row(ri)).zip(row(li)).zip(out) {
            *s += a;
            *s -= b;
            *o = *s / d;
        }
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..p1 {
        cw -= 1;
        let d = cw as f32;
        let out = &mut output[oi * cols..(oi + 1) * cols];
        for ((s, &b), o) in sums.iter_mut().zip(row(li)).zip(out) {
            *s -= b;
            *o = *s / d;
        }
        li += 1;
        oi += 1;
    }
}

/// Two passes of (rows, columns) box filtering: `buf1` holds the luma on entry and the
/// filtered image on return; `buf2` is scratch of the same size.
pub(crate) fn jarosz(
    buf1: &mut [f32],
    buf2: &mut [f32],
    rows: usize,
    cols: usize,
    sums: &mut [f32],
) {
    let w_rows = window_size(cols, 64);
    let w_cols = window_size(rows, 64);
    for _ in 0..2 {
        box_rows(buf1, buf2, cols, w_rows);
        box_cols(buf2, buf1, rows, cols, w_cols, sums);
    }
}

/// The row (or column) that decimated sample `i` of 64 reads from a dimension of `n`:
/// the reference computes `(int)(((i + 0.5) * n) / 64)` in double precision.
pub(crate) fn decimation_index(i: usize, n: usize) -> usize {
    (((i as f64 + 0.5) * n as f64) / 64.0) as usize
}

/// Decimates a filtered `rows x cols` image to 64x64.
pub(crate) fn decimate(buf: &[f32], rows: usize, cols: usize, out: &mut [[f32; 64]; 64]) {
    for (i, out_row) in out.iter_mut().enumerate() {
        let r = decimation_index(i, rows);
        let row = &buf[r * cols..(r + 1) * cols];
        for (j, o) in out_row.iter_mut().enumerate() {
            *o = row[decimation_index(j, cols)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_ranges_match_the_phases() {
        for n in 1..300 {
            for w in 1..=n.min(40) {
                let inp: Vec<f32> = (0..n).map(|i| (1u64 << (i % 20)) as f32).collect();
                let mut out = vec![0.0; n];
                box_1d(&inp, &mut out, w);
                for (o, &v) in out.iter().enumerate() {
                    let (lo, hi) = box_range(o, n, w);
                    let exact: f64 = inp[lo..=hi].iter().map(|&x| f64::from(x)).sum::<f64>()
                        / (hi - lo + 1) as f64;
                    assert!(((f64::from(v) - exact) / exact).abs() < 1e-5, "n={n} w={w} o={o}");
                }
            }
        }
    }

    #[test]
    fn columns_equal_rows_of_the_transpose() {
        let (rows, cols) = (37, 23);
        let img: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 255) as f32 * 0.37).collect();
        let mut t = vec![0.0; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = img[r * cols + c];
            }
        }
        let w = 5;
        let mut out_c = vec![0.0; rows * cols];
        let mut sums = vec![0.0; cols];
        box_cols(&img, &mut out_c, rows, cols, w, &mut sums);
        let mut out_t = vec![0.0; rows * cols];
        box_rows(&t, &mut out_t, rows, w);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(out_c[r * cols + c].to_bits(), out_t[c * rows + r].to_bits());
            }
        }
    }
}
