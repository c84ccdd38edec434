//! Encoders for fixtures: every layout the core must decode.

use std::io::Cursor;

use anyhow::{Context, Result};
use image::{ImageFormat, RgbImage};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// JPEG options.
pub struct Jpeg {
    pub quality: u8,
    pub progressive: bool,
    pub sampling: SamplingFactor,
    pub restart_interval: u16,
}

impl Default for Jpeg {
    fn default() -> Self {
        Jpeg {
            quality: 88,
            progressive: false,
            sampling: SamplingFactor::F_2_2,
            restart_interval: 0,
        }
    }
}

pub fn jpeg(img: &RgbImage, o: &Jpeg) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, o.quality);
    enc.set_progressive(o.progressive);
    enc.set_sampling_factor(o.sampling);
    if o.restart_interval > 0 {
        enc.set_restart_interval(o.restart_interval);
    }
    enc.encode(img.as_raw(), img.width() as u16, img.height() as u16, ColorType::Rgb)
        .context("jpeg encode")?;
    Ok(out)
}

/// A CMYK JPEG (Adobe, inverted as Photoshop writes it).
pub fn jpeg_cmyk(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut cmyk = Vec::with_capacity(img.as_raw().len() / 3 * 4);
    for p in img.pixels() {
        let [r, g, b] = p.0.map(f32::from);
        let k = 255.0 - r.max(g).max(b);
        let scale = if k >= 255.0 { 0.0 } else { 255.0 / (255.0 - k) };
        let c = (255.0 - r - k) * scale;
        let m = (255.0 - g - k) * scale;
        let y = (255.0 - b - k) * scale;
        cmyk.extend([c, m, y, k].map(|v| v.clamp(0.0, 255.0) as u8));
    }
    let mut out = Vec::new();
    let enc = Encoder::new(&mut out, quality);
    enc.encode(&cmyk, img.width() as u16, img.height() as u16, ColorType::Cmyk)
        .context("cmyk jpeg encode")?;
    Ok(out)
}

pub fn with_image(img: &RgbImage, format: ImageFormat) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format)
        .with_context(|| format!("{format:?} encode"))?;
    Ok(out)
}

fn png_raw(
    width: u32,
    height: u32,
    colour: png::ColorType,
    depth: png::BitDepth,
    palette: Option<Vec<u8>>,
    data: &[u8],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(colour);
        enc.set_depth(depth);
        if let Some(p) = palette {
            enc.set_palette(p);
        }
        let mut w = enc.write_header()?;
        w.write_image_data(data)?;
    }
    Ok(out)
}

pub fn png_rgb(img: &RgbImage) -> Result<Vec<u8>> {
    png_raw(
        img.width(),
        img.height(),
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        None,
        img.as_raw(),
    )
}

/// RGBA with a varying alpha channel (the colour under transparent pixels is kept).
pub fn png_rgba(img: &RgbImage) -> Result<Vec<u8>> {
    let mut data = Vec::with_capacity(img.as_raw().len() / 3 * 4);
    for (x, _y, p) in img.enumerate_pixels() {
        data.extend_from_slice(&p.0);
        data.push(((x * 255) / img.width().max(1)) as u8);
    }
    png_raw(img.width(), img.height(), png::ColorType::Rgba, png::BitDepth::Eight, None, &data)
}

/// 16-bit greyscale.
pub fn png_grey16(img: &RgbImage) -> Result<Vec<u8>> {
    let mut data = Vec::with_capacity(img.as_raw().len() / 3 * 2);
    for p in img.pixels() {
        let [r, g, b] = p.0.map(f32::from);
        let v = ((0.299 * r + 0.587 * g + 0.114 * b) * 257.0).round().clamp(0.0, 65535.0) as u16;
        data.extend_from_slice(&v.to_be_bytes());
    }
    png_raw(
        img.width(),
        img.height(),
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        None,
        &data,
    )
}

/// Palette PNG on a 6x6x6 colour cube.
pub fn png_palette(img: &RgbImage) -> Result<Vec<u8>> {
    let mut palette = Vec::new();
    for r in 0..6u8 {
        for g in 0..6u8 {
            for b in 0..6u8 {
                palette.extend_from_slice(&[r * 51, g * 51, b * 51]);
            }
        }
    }
    let q = |v: u8| (u16::from(v) + 25) / 51;
    let data: Vec<u8> =
        img.pixels().map(|p| (q(p.0[0]) * 36 + q(p.0[1]) * 6 + q(p.0[2])) as u8).collect();
    png_raw(
        img.width(),
        img.height(),
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        Some(palette),
        &data,
    )
}

pub fn webp_lossy(img: &RgbImage, quality: f32) -> Vec<u8> {
    webp::Encoder::from_rgb(img.as_raw(), img.width(), img.height()).encode(quality).to_vec()
}

/// A one-component (greyscale) JPEG.
pub fn jpeg_grey(img: &image::GrayImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let enc = Encoder::new(&mut out, quality);
    enc.encode(img.as_raw(), img.width() as u16, img.height() as u16, ColorType::Luma)
        .context("grey jpeg encode")?;
    Ok(out)
}
