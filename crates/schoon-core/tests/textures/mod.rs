//! Synthetic fine textures for the fast-path deviation tests, generated here (no fixtures):
//! stripes (vertical, horizontal, diagonal) and checkerboards with periods around the 8x8
//! block size, integer and not, alone ("wallpaper") or over a scene of large shapes, plus
//! noise and a text-like pattern, at several sizes, encoded as baseline JPEG (quality 90) and
//! PNG.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

/// One synthetic image: a name for reports and its encoded bytes.
pub struct Texture {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    Vertical,
    Horizontal,
    Diagonal,
    Checker,
    /// Thin dark lines (one pixel in `period`) on a light ground, vertical.
    ThinLines,
}

/// Large, smooth shapes: what gives the hash something to see besides the texture.
fn scene(x: f32, y: f32, w: f32, h: f32) -> f32 {
    let (u, v) = (x / w, y / h);
    let disc = if (u - 0.62).powi(2) + (v - 0.38).powi(2) < 0.05 { 50.0 } else { -20.0 };
    let bar = if (0.15..0.35).contains(&u) && v > 0.5 { -45.0 } else { 0.0 };
    128.0 + 40.0 * (u * 5.0 + v * 2.0).sin() + disc + bar
}

/// The texture in [-1, 1] at pixel (x, y).
fn pattern(p: Pattern, period: f32, x: f32, y: f32) -> f32 {
    use std::f32::consts::TAU;
    let sq = |t: f32| if (t / period).rem_euclid(1.0) < 0.5 { 1.0 } else { -1.0 };
    match p {
        Pattern::Vertical => sq(x),
        Pattern::Horizontal => sq(y),
        Pattern::Diagonal => (TAU * (x + y) / (period * std::f32::consts::SQRT_2)).cos(),
        Pattern::Checker => sq(x) * sq(y),
        Pattern::ThinLines => {
            if (x / period).rem_euclid(1.0) < 1.0 / period {
                -1.0
            } else {
                0.3
            }
        }
    }
}

fn encode(grey: &[u8], w: u32, h: u32, name: String, out: &mut Vec<Texture>) {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(grey, w, h, ExtendedColorType::L8)
        .expect("encodes");
    out.push(Texture { name: format!("{name}.jpg"), bytes: jpeg });
    let mut png = Vec::new();
    PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(grey, w, h, ExtendedColorType::L8)
    .expect("encodes");
    out.push(Texture { name: format!("{name}.png"), bytes: png });
}

/// Periods (in pixels) around the 2, 4 and 8 pixel blocks of the fast path.
pub const PERIODS: [f32; 16] =
    [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 7.5, 8.0, 8.5, 9.0, 12.0, 16.0, 24.0];

/// Every synthetic texture at `w x h`: each pattern at each period as a wallpaper and over a
/// scene, then noise and text-like patterns over the scene.
pub fn textures(w: u32, h: u32, periods: &[f32]) -> Vec<Texture> {
    let mut out = Vec::new();
    let (wf, hf) = (w as f32, h as f32);
    let patterns = [
        Pattern::Vertical,
        Pattern::Horizontal,
        Pattern::Diagonal,
        Pattern::Checker,
        Pattern::ThinLines,
    ];
    for &p in &patterns {
        for &period in periods {
            for over_scene in [false, true] {
                let mut px = Vec::with_capacity((w * h) as usize);
                for y in 0..h {
                    for x in 0..w {
                        let (xf, yf) = (x as f32, y as f32);
                        let t = pattern(p, period, xf, yf);
                        let v = if over_scene {
                            scene(xf, yf, wf, hf) + 60.0 * t
                        } else {
                            128.0 + 100.0 * t
                        };
                        px.push(v.clamp(0.0, 255.0) as u8);
                    }
                }
                let kind = if over_scene { "scene" } else { "wall" };
                encode(&px, w, h, format!("{w}x{h}-{kind}-{p:?}-{period}"), &mut out);
            }
        }
    }
    // Natural-photo-like: white noise, and a text-like grid of small glyphs, over the scene.
    let mut state = 0x2545_f491_u32 ^ w ^ (h << 16);
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 201) as f32 - 100.0
    };
    let mut px = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            px.push((scene(x as f32, y as f32, wf, hf) + 0.5 * noise()).clamp(0.0, 255.0) as u8);
        }
    }
    encode(&px, w, h, format!("{w}x{h}-noise"), &mut out);
    for pitch in [5u32, 7, 9, 11] {
        let mut px = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                // Glyph cells of pitch x (2 * pitch): strokes where a hash of the cell says so.
                let (cx, cy) = (x / pitch, y / (2 * pitch));
                let (ix, iy) = (x % pitch, y % (2 * pitch));
                let code = cx.wrapping_mul(2_654_435_761) ^ cy.wrapping_mul(40_503);
                let stroke = ix > 0
                    && iy > 1
                    && ((ix == 1 && code & 1 == 1)
                        || (iy == pitch && code & 2 == 2)
                        || (iy == 2 && code & 4 == 4)
                        || (ix == pitch - 1 && code & 8 == 8));
                let v = scene(x as f32, y as f32, wf, hf) + if stroke { -90.0 } else { 40.0 };
                px.push(v.clamp(0.0, 255.0) as u8);
            }
        }
        encode(&px, w, h, format!("{w}x{h}-text-{pitch}"), &mut out);
    }
    out
}
