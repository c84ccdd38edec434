//! The demo images in `examples/` and the embedded default set built from them.
//!
//! Every picture is a procedural scene rendered by `scene.rs` (no third-party content): three
//! "listed" pictures stand in for known images, edited copies of them show near-duplicate
//! matching, and other scenes are innocent.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use image::{DynamicImage, ImageFormat, RgbImage, imageops};
use schoon_core::set::{BuildInfo, FilterParams, Index, ListInfo, MatchOptions, SetBuilder, Trust};
use schoon_core::{HashOptions, SigningKey, hash_bytes};

use crate::encode;
use crate::scene;

fn jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    encode::jpeg(img, &encode::Jpeg { quality, ..encode::Jpeg::default() })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Turned counter-clockwise by `degrees` about the centre, same canvas, corners black.
fn turn(img: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - w / 2.0, y as f32 + 0.5 - h / 2.0);
        let (u, v) = (dx * cos - dy * sin + w / 2.0, dx * sin + dy * cos + h / 2.0);
        if u >= 0.0 && v >= 0.0 && u < w && v < h {
            *img.get_pixel(u as u32, v as u32)
        } else {
            image::Rgb([0, 0, 0])
        }
    })
}

/// A meme-style caption: a black-outlined white bar of blocky "letters" across the bottom,
/// its bounding box 10 % of the picture.
fn caption(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    let (w, h) = (img.width(), img.height());
    let (bw, bh) = (w * 7 / 10, h / 7);
    let (x0, y0) = ((w - bw) / 2, h - bh - h / 25);
    for y in y0..y0 + bh {
        for x in x0..x0 + bw {
            let (cx, cy) = ((x - x0) * 24 / bw, (y - y0) * 5 / bh);
            let lit = cx % 4 != 3 && (cy == 0 || cy == 4 || (cx + cy) % 3 == 0);
            let edge = y < y0 + 2 || y + 2 >= y0 + bh;
            let c = if lit && !edge { [255, 255, 255] } else { [0, 0, 0] };
            out.put_pixel(x, y, image::Rgb(c));
        }
    }
    out
}

pub fn run(root: &Path) -> Result<()> {
    let ex = root.join("examples");
    for d in ["listed", "edited", "innocent"] {
        let dir = ex.join(d);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
    }
    let (w, h) = (800u32, 600u32);
    let listed: Vec<RgbImage> = [11u64, 12, 13].iter().map(|&s| scene::render(s, w, h)).collect();
    for (i, img) in listed.iter().enumerate() {
        write(&ex.join(format!("listed/known-{}.jpg", i + 1)), &jpeg(img, 90)?)?;
    }
    let k1 = &listed[0];
    let k2 = &listed[1];
    let k3 = &listed[2];
    let crop = |img: &RgbImage, frac: f32| {
        let dx = (img.width() as f32 * frac) as u32;
        imageops::crop_imm(img, dx, 0, img.width() - dx, img.height()).to_image()
    };
    let edits: Vec<(&str, Vec<u8>)> = vec![
        ("known-1-reencoded-q50.jpg", jpeg(k1, 50)?),
        ("known-1-cropped-5pct.jpg", jpeg(&crop(k1, 0.05), 90)?),
        (
            "known-2-resized-50pct.jpg",
            jpeg(&imageops::resize(k2, w / 2, h / 2, imageops::FilterType::Triangle), 85)?,
        ),
        ("known-2-greyscale.png", {
            let grey = DynamicImage::ImageLuma8(imageops::grayscale(k2));
            let mut out = Vec::new();
            grey.write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)?;
            out
        }),
        ("known-3-mirrored.jpg", jpeg(&imageops::flip_horizontal(k3), 88)?),
        ("known-3-rotated-90.webp", encode::webp_lossy(&imageops::rotate90(k3), 75.0)),
        ("known-3-turned-5deg.jpg", jpeg(&turn(k3, 5.0), 88)?),
        ("known-1-captioned.jpg", jpeg(&caption(k1), 88)?),
    ];
    for (name, bytes) in &edits {
        write(&ex.join("edited").join(name), bytes)?;
    }
    for (i, seed) in [21u64, 22, 23, 24].iter().enumerate() {
        let img = scene::render(*seed, w, h);
        let name = format!("innocent/scene-{}.{}", i + 1, if i % 2 == 0 { "jpg" } else { "png" });
        let bytes = if i % 2 == 0 { jpeg(&img, 88)? } else { encode::png_rgb(&img)? };
        write(&ex.join(name), &bytes)?;
    }

    // The demo set: the listed images, signed with a throwaway key (only the public key is kept).
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let key = SigningKey::from_seed(seed);
    let mut builder = SetBuilder::new();
    let list = builder.add_list(ListInfo::new(
        "schoon-demo",
        "demo",
        "examples/listed (generated scenes)",
    ))?;
    for entry in std::fs::read_dir(ex.join("listed"))? {
        let bytes = std::fs::read(entry?.path())?;
        let r = hash_bytes(&bytes, &HashOptions { regions: true, ..HashOptions::default() });
        builder.add_image(list, &r.exact, r.image.as_ref().ok());
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let info = BuildInfo { set_version: now, created: now, signing_key: Some(&key) };
    let mut salt = [0u8; 8];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let params = FilterParams { salt: u64::from_le_bytes(salt), ..FilterParams::default() };
    let (index, filter) = builder.build_both(&params, &info)?;
    let assets = root.join("crates/schoon-cli/assets");
    std::fs::create_dir_all(&assets)?;
    write(&assets.join("default.index"), &index)?;
    write(&assets.join("default.filter"), &filter)?;
    write(&assets.join("default.pub"), key.public_key().to_text().as_bytes())?;

    // Show what `schoon scan examples/` will say.
    let index = Index::from_bytes(index, &Trust::key(key.public_key()))?;
    for dir in ["listed", "edited", "innocent"] {
        let mut names: Vec<_> = std::fs::read_dir(ex.join(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for p in names {
            let bytes = std::fs::read(&p)?;
            let r = hash_bytes(&bytes, &HashOptions { regions: true, ..HashOptions::default() });
            let m = schoon_core::set::lookup_hashed(
                &index,
                &r.exact,
                r.image.as_ref().ok(),
                &MatchOptions::default(),
            );
            let best = m
                .iter()
                .map(|m| format!("{}:{}", m.kind, m.distance))
                .collect::<Vec<_>>()
                .join(" ");
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "{:45} {}",
                    p.strip_prefix(root).unwrap_or(&p).display(),
                    if best.is_empty() { "clean".into() } else { best }
                );
            }
        }
    }
    Ok(())
}
