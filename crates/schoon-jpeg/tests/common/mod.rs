//! Shared helpers of the integration tests: synthetic images, the reference
//! decode (the `image` crate) and error statistics.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::print_stdout)]

use schoon_jpeg::{Limits, Scale, decode_luma};

/// Small deterministic xorshift generator.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Kinds of synthetic content.
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    Gradient,
    Noise,
    Shapes,
    Flat,
}

/// An RGB image (3 bytes per pixel).
pub fn rgb_image(w: u32, h: u32, pat: Pattern, seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed | 1);
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    let (wf, hf) = (w.max(2) as f32 - 1.0, h.max(2) as f32 - 1.0);
    for y in 0..h {
        for x in 0..w {
            let (xf, yf) = (x as f32 / wf, y as f32 / hf);
            let px = match pat {
                Pattern::Gradient => {
                    [(xf * 255.0) as u8, (yf * 255.0) as u8, ((1.0 - xf * yf) * 200.0 + 20.0) as u8]
                }
                Pattern::Noise => {
                    let r = rng.next();
                    [r as u8, (r >> 8) as u8, (r >> 16) as u8]
                }
                Pattern::Shapes => {
                    let dx = xf - 0.4;
                    let dy = yf - 0.55;
                    let in_circle = dx * dx + dy * dy < 0.08;
                    let in_rect = (0.6..0.9).contains(&xf) && (0.1..0.5).contains(&yf);
                    let stripes = ((x / 3 + y / 5) % 2) as u8;
                    if in_circle {
                        [230, 40, 30]
                    } else if in_rect {
                        [20, 200, 60]
                    } else {
                        [10 + stripes * 90, 20 + stripes * 60, 120 + stripes * 100]
                    }
                }
                Pattern::Flat => [120, 130, 140],
            };
            v.extend_from_slice(&px);
        }
    }
    v
}

/// Luma of an RGB buffer as the reference computes it.
pub fn rgb_to_luma(rgb: &[u8]) -> Vec<f32> {
    rgb.chunks_exact(3)
        .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
        .collect()
}

/// Full-resolution luma of the `image` crate's decode.
pub fn reference_luma(jpeg: &[u8]) -> Option<(u32, u32, Vec<f32>)> {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).ok()?;
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    Some((w, h, rgb_to_luma(rgb.as_raw())))
}

/// Means over `f x f` cells (partial cells at the edges: mean of the pixels
/// that exist). Also returns whether each cell is complete.
pub fn cell_means(w: u32, h: u32, luma: &[f32], f: u32) -> (u32, u32, Vec<f32>, Vec<bool>) {
    let ow = w.div_ceil(f);
    let oh = h.div_ceil(f);
    let mut out = vec![0f32; (ow * oh) as usize];
    let mut full = vec![false; (ow * oh) as usize];
    for oy in 0..oh {
        for ox in 0..ow {
            let mut s = 0f64;
            let mut n = 0u32;
            for y in oy * f..((oy + 1) * f).min(h) {
                for x in ox * f..((ox + 1) * f).min(w) {
                    s += luma[(y * w + x) as usize] as f64;
                    n += 1;
                }
            }
            out[(oy * ow + ox) as usize] = (s / n as f64) as f32;
            full[(oy * ow + ox) as usize] = n == f * f;
        }
    }
    (ow, oh, out, full)
}

/// Error statistics of one comparison.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Complete cells.
    pub n: usize,
    pub mean_abs: f64,
    pub max_abs: f64,
    /// Partial cells at the right/bottom edge.
    pub n_edge: usize,
    pub mean_abs_edge: f64,
    pub max_abs_edge: f64,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mean {:.3} max {:.2} (n {}), edge mean {:.3} max {:.2} (n {})",
            self.mean_abs, self.max_abs, self.n, self.mean_abs_edge, self.max_abs_edge, self.n_edge
        )
    }
}

pub fn scales() -> [Scale; 3] {
    [Scale::Eighth, Scale::Quarter, Scale::Half]
}

/// Decodes `jpeg` at `scale` and compares with the reference cell means.
pub fn compare(jpeg: &[u8], scale: Scale) -> Result<Stats, String> {
    let luma = decode_luma(jpeg, scale, &Limits::default()).map_err(|e| e.to_string())?;
    let (w, h, full) = reference_luma(jpeg).ok_or("reference decoder failed")?;
    compare_with(&luma, w, h, &full, scale)
}

pub fn compare_with(
    luma: &schoon_jpeg::Luma,
    w: u32,
    h: u32,
    full: &[f32],
    scale: Scale,
) -> Result<Stats, String> {
    if (luma.full_width, luma.full_height) != (w, h) {
        return Err(format!("size {}x{} vs reference {w}x{h}", luma.full_width, luma.full_height));
    }
    let (ow, oh, want, complete) = cell_means(w, h, full, scale.factor());
    if (luma.width, luma.height) != (ow, oh) || luma.pixels.len() != want.len() {
        return Err(format!("output size {}x{} vs {ow}x{oh}", luma.width, luma.height));
    }
    let mut st = Stats::default();
    for ((&a, &b), &c) in luma.pixels.iter().zip(&want).zip(&complete) {
        let d = (a as f64 - b as f64).abs();
        if c {
            st.n += 1;
            st.mean_abs += d;
            st.max_abs = st.max_abs.max(d);
        } else {
            st.n_edge += 1;
            st.mean_abs_edge += d;
            st.max_abs_edge = st.max_abs_edge.max(d);
        }
    }
    st.mean_abs /= st.n.max(1) as f64;
    st.mean_abs_edge /= st.n_edge.max(1) as f64;
    Ok(st)
}
