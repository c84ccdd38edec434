//! Writes the JPEGs `scripts/bench.sh` times `/v1/scan` with: procedural scenes of 0.3 MP
//! (640x480) and 2 MP (1632x1224), encoded with the `image` crate the core decodes with.
//!
//! `cargo run --release -p schoon-worker --example bench_images -- OUT_DIR`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use schoon_core::image::codecs::jpeg::JpegEncoder;
use schoon_core::image::{Rgb, RgbImage};

/// Smooth gradients, circles and stripes: a photo-like spread of frequencies for PDQ.
fn scene(width: u32, height: u32, seed: u32) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let circles: Vec<(f32, f32, f32)> = (0..12u32)
        .map(|i| {
            let k = (i * 2654435761u32.wrapping_add(seed)) as f32 / u32::MAX as f32;
            let j = ((i + 7) * 40503u32.wrapping_mul(seed + 1)) as f32 / u32::MAX as f32;
            (k * w, j * h, (0.05 + 0.2 * ((k + j) % 1.0)) * w.min(h))
        })
        .collect();
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / w, y as f32 / h);
        let mut v = [90.0 + 120.0 * fx, 60.0 + 150.0 * fy, 200.0 - 140.0 * fx * fy];
        for (i, (cx, cy, r)) in circles.iter().enumerate() {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d < *r {
                v[i % 3] = (v[i % 3] + 90.0) % 255.0;
            }
        }
        if ((fx * 40.0).sin() * (fy * 25.0).cos()) > 0.7 {
            v[1] *= 0.6;
        }
        Rgb([v[0] as u8, v[1] as u8, v[2] as u8])
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: bench_images OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    for (name, w, h) in [("scene-0.3mp.jpg", 640, 480), ("scene-2mp.jpg", 1632, 1224)] {
        let img = scene(w, h, w + h);
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&img)?;
        std::fs::write(out.join(name), &bytes)?;
        println!("{} {}x{} {} bytes", out.join(name).display(), w, h, bytes.len());
    }
    Ok(())
}
