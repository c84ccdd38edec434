//! Procedural photo-like scenes: deterministic from a seed, free of any licence question.
//!
//! A scene is a sky gradient, layered hills, a sun or moon, buildings and trees, all textured
//! with multi-octave value noise so that PDQ sees the kind of structure real photos have.

use image::{Rgb, RgbImage};

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f()
    }
}

fn lattice(seed: u64, x: i64, y: i64) -> f32 {
    let mut h = seed
        ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Smooth value noise in [0, 1).
fn value_noise(seed: u64, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (ix, iy) = (x0 as i64, y0 as i64);
    let a = lattice(seed, ix, iy);
    let b = lattice(seed, ix + 1, iy);
    let c = lattice(seed, ix, iy + 1);
    let d = lattice(seed, ix + 1, iy + 1);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Fractal noise in about [0, 1).
fn fbm(seed: u64, x: f32, y: f32, octaves: u32) -> f32 {
    let (mut sum, mut amp, mut freq, mut norm) = (0.0, 1.0, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * value_noise(seed.wrapping_add(u64::from(o) * 1013), x * freq, y * freq);
        norm += amp;
        amp *= 0.5;
        freq *= 2.0;
    }
    sum / norm
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

fn colour(rng: &mut Rng, lo: f32, hi: f32) -> [f32; 3] {
    [rng.range(lo, hi), rng.range(lo, hi), rng.range(lo, hi)]
}

enum Shape {
    Disc { cx: f32, cy: f32, r: f32, c: [f32; 3] },
    Building { x0: f32, x1: f32, top: f32, c: [f32; 3], windows: bool },
    Tree { cx: f32, base: f32, h: f32, c: [f32; 3] },
}

/// Renders scene `seed` at `width x height`.
pub fn render(seed: u64, width: u32, height: u32) -> RgbImage {
    let mut rng = Rng::new(seed);
    let sky_top = colour(&mut rng, 20.0, 140.0);
    let sky_bottom = mix(colour(&mut rng, 150.0, 255.0), sky_top, 0.2);
    let hills: Vec<([f32; 3], f32, f32, f32, f32)> = (0..3)
        .map(|i| {
            let base = 0.45 + 0.15 * i as f32 + rng.range(-0.05, 0.05);
            (
                colour(&mut rng, 20.0, 160.0),
                base,
                rng.range(0.03, 0.12),
                rng.range(2.0, 7.0),
                rng.range(0.0, 6.3),
            )
        })
        .collect();
    let mut shapes = Vec::new();
    shapes.push(Shape::Disc {
        cx: rng.range(0.1, 0.9),
        cy: rng.range(0.08, 0.3),
        r: rng.range(0.04, 0.1),
        c: colour(&mut rng, 200.0, 255.0),
    });
    for _ in 0..(3 + rng.next_u64() % 5) {
        let x0 = rng.range(0.0, 0.9);
        shapes.push(Shape::Building {
            x0,
            x1: x0 + rng.range(0.05, 0.2),
            top: rng.range(0.25, 0.6),
            c: colour(&mut rng, 40.0, 220.0),
            windows: rng.f() < 0.7,
        });
    }
    for _ in 0..(2 + rng.next_u64() % 6) {
        shapes.push(Shape::Tree {
            cx: rng.range(0.0, 1.0),
            base: rng.range(0.7, 0.98),
            h: rng.range(0.1, 0.3),
            c: colour(&mut rng, 10.0, 120.0),
        });
    }
    let noise_seed = rng.next_u64();
    let aspect = width as f32 / height as f32;
    RgbImage::from_fn(width, height, |px, py| {
        let (x, y) = (px as f32 / width as f32, py as f32 / height as f32);
        let grain = fbm(noise_seed, x * 40.0 * aspect, y * 40.0, 4) - 0.5;
        let clouds = fbm(noise_seed ^ 77, x * 4.0 * aspect, y * 8.0, 5);
        let mut c = mix(sky_top, sky_bottom, y.min(1.0));
        c = mix(c, [245.0, 245.0, 250.0], ((clouds - 0.55) * 3.0).clamp(0.0, 0.8) * (1.0 - y));
        for shape in &shapes {
            match *shape {
                Shape::Disc { cx, cy, r, c: sc } => {
                    let d = ((x - cx) * aspect).hypot(y - cy);
                    if d < r {
                        c = mix(c, sc, 1.0 - (d / r).powi(6));
                    }
                }
                Shape::Building { x0, x1, top, c: bc, windows } => {
                    if x >= x0 && x < x1 && y > top {
                        c = bc;
                        if windows {
                            let wx = ((x - x0) * 120.0).fract();
                            let wy = ((y - top) * 60.0).fract();
                            if wx > 0.35 && wx < 0.75 && wy > 0.3 && wy < 0.8 {
                                c = mix(bc, [250.0, 230.0, 150.0], 0.7);
                            }
                        }
                    }
                }
                Shape::Tree { .. } => {}
            }
        }
        for &(hc, base, amp, freq, phase) in &hills {
            let ridge = base
                + amp * (x * freq + phase).sin()
                + 0.04 * (fbm(noise_seed ^ 5, x * 10.0, base * 10.0, 3) - 0.5);
            if y > ridge {
                let shade = 0.75 + 0.5 * fbm(noise_seed ^ 9, x * 20.0, y * 20.0, 4);
                c = [hc[0] * shade, hc[1] * shade, hc[2] * shade];
            }
        }
        for shape in &shapes {
            if let Shape::Tree { cx, base, h, c: tc } = *shape {
                let dx = (x - cx).abs() * aspect;
                let rel = (base - y) / h;
                if (0.0..1.0).contains(&rel) && dx < 0.06 * (1.0 - rel) + 0.004 {
                    let leaf = 0.6 + 0.8 * fbm(noise_seed ^ 13, x * 60.0, y * 60.0, 2);
                    c = [tc[0] * leaf, tc[1] * leaf + 30.0, tc[2] * leaf];
                }
            }
        }
        let g = grain * 26.0;
        Rgb([
            (c[0] + g).clamp(0.0, 255.0) as u8,
            (c[1] + g).clamp(0.0, 255.0) as u8,
            (c[2] + g).clamp(0.0, 255.0) as u8,
        ])
    })
}
