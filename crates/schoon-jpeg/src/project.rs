//! Reduced inverse DCT: exact box means of the 8x8 IDCT output.
//!
//! With `f(x, y) = sum_u sum_v F(u, v) w(x, u) w(y, v)` and
//! `w(x, u) = C(u)/2 cos((2x+1) u pi / 16)` (T.81 A.3.3), the mean of `f`
//! over the cell `X` (of `8/n` samples) along each axis is
//! `sum_u sum_v F(u, v) a(X, u) a(Y, v)` with `a(X, u)` the mean of `w(x, u)`
//! over the cell. For `n = 1` only `F(0, 0)` contributes (`a = 1/(2 sqrt 2)`);
//! for `n = 2` the even `u > 0` vanish; for `n = 4` only `u = 4` does.

/// Projection matrix for `n` outputs per axis (1, 2 or 4).
#[derive(Clone, Debug)]
pub(crate) struct Projection {
    pub(crate) n: usize,
    /// `a[X][u]`, rows beyond `n` unused.
    pub(crate) a: [[f32; 8]; 4],
    /// Bit `u` set if `a[.][u]` is not all zero.
    pub(crate) used: u8,
}

/// `a[X][u]` for n = 1, 2, 4, as `f32` bits: computed once from the formula above (the test
/// `frozen_table_matches_the_formula` recomputes it) so every platform, whatever its `cos`,
/// uses the same weights and the fast path gives identical hashes natively and in WASM.
#[rustfmt::skip]
const FROZEN: [[[u32; 8]; 4]; 3] = [
    [
        [0x3eb504f3, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
        [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
        [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
        [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
    ],
    [
        [0x3eb504f3, 0x3ea406cf, 0x00000000, 0xbde664d7, 0x00000000, 0x3d99f1bd, 0x00000000, 0xbd8281f7],
        [0x3eb504f3, 0xbea406cf, 0x00000000, 0x3de664d7, 0x00000000, 0xbd99f1bd, 0x00000000, 0x3d8281f7],
        [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
        [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
    ],
    [
        [0x3eb504f3, 0x3ee7f7f8, 0x3ea73d75, 0x3e22e9c1, 0x00000000, 0xbdd9b5c9, 0xbe0a8bd4, 0xbdb890d3],
        [0x3eb504f3, 0x3e402b4a, 0xbea73d75, 0xbec4a74c, 0x00000000, 0x3e836651, 0x3e0a8bd4, 0xbd18e635],
        [0x3eb504f3, 0xbe402b4a, 0xbea73d75, 0x3ec4a74c, 0x00000000, 0xbe836651, 0x3e0a8bd4, 0x3d18e635],
        [0x3eb504f3, 0xbee7f7f8, 0x3ea73d75, 0xbe22e9c1, 0x00000000, 0x3dd9b5c9, 0xbe0a8bd4, 0x3db890d3],
    ],
];

impl Projection {
    pub(crate) fn new(n: usize) -> Self {
        let n = n.clamp(1, 4);
        let table = match n {
            1 => &FROZEN[0],
            2 => &FROZEN[1],
            _ => &FROZEN[2],
        };
        let mut a = [[0f32; 8]; 4];
        let mut used = 0u8;
        for (row, bits) in a.iter_mut().zip(table).take(n) {
            for (u, (cell, &b)) in row.iter_mut().zip(bits).enumerate() {
                *cell = f32::from_bits(b);
                if b != 0 {
                    used |= 1 << u;
                }
            }
        }
        Projection { n, a, used }
    }

    /// The formula behind [`FROZEN`], evaluated in `f64` (tests only).
    #[cfg(test)]
    fn computed(n: usize) -> [[f32; 8]; 4] {
        let seg = 8 / n;
        let mut a = [[0f32; 8]; 4];
        for (xo, row) in a.iter_mut().enumerate().take(n) {
            for (u, cell) in row.iter_mut().enumerate() {
                let cu = if u == 0 { core::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
                let mut s = 0f64;
                for x in xo * seg..(xo + 1) * seg {
                    s += cu / 2.0
                        * ((2 * x + 1) as f64 * u as f64 * core::f64::consts::PI / 16.0).cos();
                }
                let v = s / seg as f64;
                if v.abs() > 1e-9 {
                    *cell = v as f32;
                }
            }
        }
        a
    }

    /// True if coefficient at natural index `nat` (row `v`, column `u`) contributes.
    pub(crate) fn needs(&self, nat: usize) -> bool {
        let (v, u) = (nat / 8, nat % 8);
        self.used & (1 << v) != 0 && self.used & (1 << u) != 0
    }

    /// Projects dequantised coefficients `c` (natural order; only rows whose
    /// bit is set in `rows` are read) to `n x n` outputs written to
    /// `out[y * stride + x]` (the caller guarantees `out` is large enough;
    /// out-of-range writes are dropped).
    #[inline]
    pub(crate) fn apply(&self, c: &[f32; 64], rows: u8, out: &mut [f32], stride: usize) {
        let n = self.n;
        // Horizontal pass: t[v][X].
        let mut t = [[0f32; 4]; 8];
        for (v, tv) in t.iter_mut().enumerate() {
            if rows & (1 << v) == 0 {
                continue;
            }
            let r = c.get(v * 8..v * 8 + 8).unwrap_or(&[0.0; 8]);
            for (xo, tx) in tv.iter_mut().enumerate().take(n) {
                let a = &self.a[xo];
                let mut s = 0f32;
                for (cu, au) in r.iter().zip(a) {
                    s += cu * au;
                }
                *tx = s;
            }
        }
        // Vertical pass.
        for yo in 0..n {
            let a = &self.a[yo & 3];
            for xo in 0..n {
                let mut s = 0f32;
                for (v, tv) in t.iter().enumerate() {
                    s += tv[xo & 3] * a[v];
                }
                if let Some(o) = out.get_mut(yo * stride + xo) {
                    *o = s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_table_matches_the_formula() {
        for n in [1usize, 2, 4] {
            let p = Projection::new(n);
            let c = Projection::computed(n);
            for (a, b) in p.a.iter().flatten().zip(c.iter().flatten()) {
                assert_eq!(a.to_bits(), b.to_bits(), "n = {n}");
            }
        }
    }

    /// Reference: full 8x8 IDCT then box means.
    fn reference(c: &[f32; 64], n: usize) -> Vec<f32> {
        let mut f = [0f64; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0f64;
                for v in 0..8 {
                    for u in 0..8 {
                        let cu = if u == 0 { 0.5f64.sqrt() } else { 1.0 };
                        let cv = if v == 0 { 0.5f64.sqrt() } else { 1.0 };
                        s += 0.25
                            * cu
                            * cv
                            * c[v * 8 + u] as f64
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                f[y * 8 + x] = s;
            }
        }
        let seg = 8 / n;
        let mut out = vec![0f32; n * n];
        for yo in 0..n {
            for xo in 0..n {
                let mut s = 0f64;
                for y in 0..seg {
                    for x in 0..seg {
                        s += f[(yo * seg + y) * 8 + xo * seg + x];
                    }
                }
                out[yo * n + xo] = (s / (seg * seg) as f64) as f32;
            }
        }
        out
    }

    #[test]
    fn matches_full_idct_box_means() {
        let mut seed = 12345u32;
        for n in [1usize, 2, 4] {
            let p = Projection::new(n);
            for _ in 0..50 {
                let mut c = [0f32; 64];
                for v in c.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    *v = (seed % 401) as f32 - 200.0;
                }
                let mut out = vec![0f32; 16];
                p.apply(&c, 0xFF, &mut out, n);
                let r = reference(&c, n);
                for i in 0..n * n {
                    let (y, x) = (i / n, i % n);
                    assert!((out[y * n + x] - r[i]).abs() < 1e-2, "n={n} {} vs {}", out[i], r[i]);
                }
            }
        }
    }

    #[test]
    fn used_coefficients() {
        assert_eq!(Projection::new(1).used, 0b0000_0001);
        assert_eq!(Projection::new(2).used, 0b1010_1011);
        assert_eq!(Projection::new(4).used, 0b1110_1111);
    }
}
