//! The 64x64 -> 16x16 partial DCT, the median and the bits, in the reference's operation order.

use super::dct_table::DCT_MATRIX;
use super::hash::PdqHash;

/// Row `i` (0..16), column `j` (0..64) of the reference DCT matrix: the `(i + 1)`-th DCT-II basis
/// vector (the DC row is skipped), scaled by `sqrt(2 / 64)`.
///
/// The reference computes the scale in single precision and the product in double precision,
/// then rounds to single precision. The values are generated once and frozen in a table so every
/// platform (whatever its `cos`) uses the same bits; a test recomputes them.
pub(crate) fn dct_matrix() -> &'static [[f32; 64]; 16] {
    &DCT_MATRIX
}

#[cfg(test)]
pub(crate) fn compute_dct_matrix() -> [[f32; 64]; 16] {
    let scale = (2.0f64 / 64.0).sqrt() as f32;
    let mut m = [[0f32; 64]; 16];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let angle = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
            *v = (f64::from(scale) * angle.cos()) as f32;
        }
    }
    m
}

/// `B = D A D^T` for the 16x64 matrix `D`, summing in the reference's order.
pub(crate) fn dct64_to_16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for (t_row, d_row) in t.iter_mut().zip(d) {
        // T[i][j] = sum_k D[i][k] * A[k][j], k ascending, one accumulator per (i, j).
        for (&dik, a_row) in d_row.iter().zip(a) {
            for (acc, &akj) in t_row.iter_mut().zip(a_row) {
                *acc += dik * akj;
            }
        }
    }
    let mut b = [[0f32; 16]; 16];
    for (b_row, t_row) in b.iter_mut().zip(&t) {
        for (bij, d_row) in b_row.iter_mut().zip(d) {
            let mut sum = 0f32;
            for (&tik, &djk) in t_row.iter().zip(d_row) {
                sum += tik * djk;
            }
            *bij = sum;
        }
    }
    b
}

/// Torben's median of the 256 coefficients, exactly as the reference computes it.
pub(crate) fn torben(m: &[f32; 256]) -> f32 {
    let n = m.len();
    let mut min = m[0];
    let mut max = m[0];
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let half = n.div_ceil(2);
    // The loop halves [min, max] each round; 200 rounds is far beyond what finite f32 needs and
    // guarantees termination even for NaN input.
    let (mut less, mut equal, mut guess, mut maxlt, mut mingt) = (0, 0, 0.0, min, max);
    for _ in 0..200 {
        guess = (min + max) / 2.0;
        less = 0;
        let mut greater = 0;
        equal = 0;
        maxlt = min;
        mingt = max;
        for &v in m {
            if v < guess {
                less += 1;
                if v > maxlt {
                    maxlt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < mingt {
                    mingt = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            break;
        } else if less > greater {
            max = maxlt;
        } else {
            min = mingt;
        }
    }
    if less >= half {
        maxlt
    } else if less + equal >= half {
        guess
    } else {
        mingt
    }
}

/// Bit `i * 16 + j` is set when coefficient `(i, j)` is strictly greater than the median.
pub(crate) fn to_bits(b: &[[f32; 16]; 16]) -> PdqHash {
    let mut flat = [0f32; 256];
    for (k, v) in b.iter().flatten().enumerate() {
        flat[k] = *v;
    }
    let median = torben(&flat);
    let mut h = PdqHash::ZERO;
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            h.set_bit(k);
        }
    }
    h
}

/// The reference's image-domain quality metric (0..=100) on the 64x64 buffer.
pub(crate) fn quality(buf: &[[f32; 64]; 64]) -> u8 {
    let mut gradient_sum: i64 = 0;
    let step = |u: f32, v: f32| -> i64 {
        let d = ((u - v) * 100.0f32) / 255.0f32;
        i64::from((d as i32).unsigned_abs())
    };
    for (upper, lower) in buf.iter().zip(&buf[1..]) {
        for (&u, &v) in upper.iter().zip(lower) {
            gradient_sum += step(u, v);
        }
    }
    for row in buf {
        for j in 0..63 {
            gradient_sum += step(row[j], row[j + 1]);
        }
    }
    (gradient_sum / 90).min(100) as u8
}

/// The coefficients of dihedral variant `t` (0..8, in the reference's order; see [`dihedral`]).
pub(crate) fn transform(b: &[[f32; 16]; 16], t: usize) -> [[f32; 16]; 16] {
    let mut aux = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let a = b[i][j];
            let (odd_i, odd_j, odd_sum) = (i & 1 == 1, j & 1 == 1, (i + j) & 1 == 1);
            match t {
                0 => aux[i][j] = a,
                1 => aux[j][i] = if odd_j { a } else { -a },
                2 => aux[i][j] = if odd_sum { -a } else { a },
                3 => aux[j][i] = if odd_i { a } else { -a },
                4 => aux[i][j] = if odd_i { a } else { -a },
                5 => aux[i][j] = if odd_j { a } else { -a },
                6 => aux[j][i] = a,
                _ => aux[j][i] = if odd_sum { -a } else { a },
            }
        }
    }
    aux
}

/// The dihedral transforms of the image, expressed on the DCT coefficients. Order: original,
/// rot90, rot180, rot270, flipX, flipY, flipPlus1 (transpose), flipMinus1 (anti-transpose).
pub(crate) fn dihedral(b: &[[f32; 16]; 16]) -> [PdqHash; 8] {
    let mut out = [PdqHash::ZERO; 8];
    for (t, slot) in out.iter_mut().enumerate() {
        *slot = to_bits(&transform(b, t));
    }
    out
}

/// How far each coefficient of variant `t` lies from that variant's median: small margins mark
/// the bits most likely to flip under an edit.
pub(crate) fn margins(b: &[[f32; 16]; 16], t: usize) -> [f32; 256] {
    let mut flat = [0f32; 256];
    for (k, v) in transform(b, t).iter().flatten().enumerate() {
        flat[k] = *v;
    }
    // The same order statistic Torben's method returns (the lower median), found by selection.
    let mut scratch = flat;
    let (_, &mut median, _) = scratch.select_nth_unstable_by(127, f32::total_cmp);
    flat.map(|v| (v - median).abs())
}
