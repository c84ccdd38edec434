//! Image edits for robustness evaluation: the everyday changes a picture goes through between
//! the copy on a hash list and the copy someone uploads (re-compression, resizing, crops,
//! rotations, colour changes, overlays, screenshots).
//!
//! Over 600 lines: one catalogue, the [`Edit`] enum with its names and rendering, and the pixel
//! functions that each serve one edit, plus their tests (about 230 lines).
//!
//! Every edit is a pure, deterministic function of the pixels and a per-image `seed` (used by
//! noise, and by one-side crops to pick the side), and ends in a real file format:
//! [`Edit::render`] returns the bytes of a JPEG (quality 95 unless the edit is itself a JPEG
//! quality) or, for screenshot-like edits, a PNG. Those bytes go through the same path as
//! `schoon hash` (`schoon_core::hash_image`).
//!
//! ```
//! use schoon_eval::edits::Edit;
//! let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
//!     image::Rgb([(x * 4) as u8, (y * 5) as u8, 100])
//! }));
//! let edit = Edit::CropAllSides(0.1);
//! assert_eq!(edit.name(), "crop 10% all sides");
//! let out = edit.apply(&img, 7);
//! assert_eq!((out.width(), out.height()), (52, 38));
//! let jpeg = edit.render(&img, 7)?;
//! assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
//! # Ok::<(), image::ImageError>(())
//! ```

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageError, ImageFormat, Rgb, RgbImage};

/// The JPEG quality every edit is saved with unless it sets its own.
pub const DEFAULT_JPEG_QUALITY: u8 = 95;

/// An edge of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left edge.
    Left,
    /// The right edge.
    Right,
    /// The top edge.
    Top,
    /// The bottom edge.
    Bottom,
}

impl Side {
    /// All four sides; a one-side crop with no fixed side uses `ALL[seed % 4]`.
    pub const ALL: [Side; 4] = [Side::Right, Side::Left, Side::Bottom, Side::Top];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
            Side::Top => "top",
            Side::Bottom => "bottom",
        }
    }
}

/// What a small rotation does with the corners that leave the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corners {
    /// Same canvas size; the corners uncovered by the rotation are filled with black.
    Fill,
    /// Cropped to the largest centred rectangle of the original aspect ratio that holds only
    /// image content (what the "straighten" tool of photo editors does); not resized back.
    Crop,
}

/// How an overlay looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayStyle {
    /// A caption: the word "SAMPLE" in white block letters with a black outline, its bounding
    /// box 5:1 and centred near the bottom (4 % margin), drawn straight on the picture.
    Text,
    /// An opaque white 2:1 label with the word in black, in the bottom-right corner (2 %
    /// margin): a sticker or a logo plate, which hides everything under it.
    Label,
    /// A watermark: the caption's letters in white at 40 % opacity, no outline, centred.
    Watermark,
}

/// The file format an edit is saved in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Baseline JPEG at this quality (1..=100), 4:2:0 as the `image` crate writes it.
    Jpeg(u8),
    /// Lossless PNG.
    Png,
}

/// One edit, or a chain of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// No pixel change: re-encoded as JPEG quality 95.
    Reencode,
    /// Re-encoded as JPEG at this quality (no pixel change before).
    Jpeg(u8),
    /// Both sides scaled by this factor (Catmull-Rom).
    Resize(f32),
    /// The width scaled by this factor, the height kept (aspect-ratio change).
    Aspect(f32),
    /// This fraction of the width (left or right) or height (top or bottom) cut off one edge;
    /// `None` picks the side from the seed: [`Side::ALL`]`[seed % 4]`.
    CropOneSide {
        /// Fraction of the dimension removed, 0..1.
        fraction: f32,
        /// The edge, or `None` for one chosen by the seed.
        side: Option<Side>,
    },
    /// This fraction of the width cut off the left and again off the right, and of the height
    /// off the top and off the bottom (0.1 keeps the central 80 % x 80 %).
    CropAllSides(f32),
    /// Turned 90 degrees clockwise.
    Rotate90,
    /// Turned 180 degrees.
    Rotate180,
    /// Turned 270 degrees clockwise (90 counter-clockwise).
    Rotate270,
    /// Left-right mirror.
    MirrorHorizontal,
    /// Upside-down mirror.
    MirrorVertical,
    /// Rotated about the centre by this many degrees (positive: counter-clockwise on screen),
    /// bilinear; the corners are filled or cropped.
    Rotate {
        /// Angle in degrees.
        degrees: f32,
        /// Corner handling.
        corners: Corners,
    },
    /// Converted to 8-bit greyscale (saved as a greyscale JPEG).
    Greyscale,
    /// Every channel multiplied by `1 + amount` (PIL's `ImageEnhance.Brightness`).
    Brightness(f32),
    /// Every channel moved away from (or towards) the mean grey by `1 + amount`
    /// (PIL's `ImageEnhance.Contrast`).
    Contrast(f32),
    /// `255 * (v / 255) ^ gamma` per channel.
    Gamma(f32),
    /// Gaussian blur with this sigma in pixels.
    Blur(f32),
    /// Unsharp mask, sigma 1, amount 1.
    Sharpen,
    /// Additive Gaussian noise with this sigma (in 8-bit levels) per channel, seeded.
    Noise(f32),
    /// Text or a label over this fraction of the area (see [`OverlayStyle`]).
    Overlay {
        /// Fraction of the image area covered by the text's bounding box or the label.
        fraction: f32,
        /// Caption text or opaque label.
        style: OverlayStyle,
    },
    /// A white border; the canvas grows by this fraction of each dimension, half on each side.
    Border(f32),
    /// Screenshot-like: scaled to 75 %, placed on a white page below a dark status bar with
    /// margins, saved as PNG.
    Screenshot,
    /// These edits in order. A JPEG quality in the chain sets the quality of the final save.
    Chain(Vec<Edit>),
}

impl Edit {
    /// A short human name, used as the row label in the report.
    pub fn name(&self) -> String {
        let pct = |f: f32| format!("{}%", fmt_num(f * 100.0));
        match self {
            Edit::Reencode => "re-encode q95".into(),
            Edit::Jpeg(q) => format!("jpeg q{q}"),
            Edit::Resize(f) => format!("resize {}", fmt_num(*f)),
            Edit::Aspect(f) => format!("aspect x{}", fmt_num(*f)),
            Edit::CropOneSide { fraction, side: None } => {
                format!("crop {} one side", pct(*fraction))
            }
            Edit::CropOneSide { fraction, side: Some(s) } => {
                format!("crop {} {}", pct(*fraction), s.name())
            }
            Edit::CropAllSides(f) => format!("crop {} all sides", pct(*f)),
            Edit::Rotate90 => "rotate 90".into(),
            Edit::Rotate180 => "rotate 180".into(),
            Edit::Rotate270 => "rotate 270".into(),
            Edit::MirrorHorizontal => "mirror horizontal".into(),
            Edit::MirrorVertical => "mirror vertical".into(),
            Edit::Rotate { degrees, corners } => format!(
                "rotate {}{}° {}",
                if *degrees > 0.0 { "+" } else { "" },
                fmt_num(*degrees),
                match corners {
                    Corners::Fill => "fill",
                    Corners::Crop => "crop",
                }
            ),
            Edit::Greyscale => "greyscale".into(),
            Edit::Brightness(a) => format!("brightness {}{}", sign(*a), pct(a.abs())),
            Edit::Contrast(a) => format!("contrast {}{}", sign(*a), pct(a.abs())),
            Edit::Gamma(g) => format!("gamma {}", fmt_num(*g)),
            Edit::Blur(s) => format!("blur σ{}", fmt_num(*s)),
            Edit::Sharpen => "sharpen".into(),
            Edit::Noise(s) => format!("noise σ{}", fmt_num(*s)),
            Edit::Overlay { fraction, style } => format!(
                "{} {}",
                match style {
                    OverlayStyle::Text => "text overlay",
                    OverlayStyle::Label => "opaque label",
                    OverlayStyle::Watermark => "watermark",
                },
                pct(*fraction)
            ),
            Edit::Border(f) => format!("border {}", pct(*f)),
            Edit::Screenshot => "screenshot".into(),
            Edit::Chain(edits) => edits.iter().map(Edit::name).collect::<Vec<_>>().join(" + "),
        }
    }

    /// The format [`Edit::render`] saves in.
    pub fn encoding(&self) -> Encoding {
        match self {
            Edit::Jpeg(q) => Encoding::Jpeg((*q).clamp(1, 100)),
            Edit::Screenshot => Encoding::Png,
            Edit::Chain(edits) => edits
                .iter()
                .map(Edit::encoding)
                .rfind(|e| *e != Encoding::Jpeg(DEFAULT_JPEG_QUALITY))
                .unwrap_or(Encoding::Jpeg(DEFAULT_JPEG_QUALITY)),
            _ => Encoding::Jpeg(DEFAULT_JPEG_QUALITY),
        }
    }

    /// The edited pixels (before saving). Deterministic: the same image and seed give the same
    /// pixels. Never returns an empty image (sizes are at least 1x1).
    pub fn apply(&self, img: &DynamicImage, seed: u64) -> DynamicImage {
        match self {
            Edit::Reencode | Edit::Jpeg(_) => img.clone(),
            Edit::Resize(f) => {
                let (w, h) = (scaled(img.width(), *f), scaled(img.height(), *f));
                img.resize_exact(w, h, FilterType::CatmullRom)
            }
            Edit::Aspect(f) => {
                img.resize_exact(scaled(img.width(), *f), img.height(), FilterType::CatmullRom)
            }
            Edit::CropOneSide { fraction, side } => {
                let side = side.unwrap_or(Side::ALL[(seed % 4) as usize]);
                crop_one_side(img, *fraction, side)
            }
            Edit::CropAllSides(f) => {
                let (w, h) = (img.width(), img.height());
                let (dx, dy) = (cut(w, *f), cut(h, *f));
                let (nw, nh) = (w.saturating_sub(2 * dx).max(1), h.saturating_sub(2 * dy).max(1));
                img.crop_imm(dx.min(w - 1), dy.min(h - 1), nw, nh)
            }
            Edit::Rotate90 => img.rotate90(),
            Edit::Rotate180 => img.rotate180(),
            Edit::Rotate270 => img.rotate270(),
            Edit::MirrorHorizontal => img.fliph(),
            Edit::MirrorVertical => img.flipv(),
            Edit::Rotate { degrees, corners } => {
                DynamicImage::ImageRgb8(rotate(&img.to_rgb8(), *degrees, *corners))
            }
            Edit::Greyscale => DynamicImage::ImageLuma8(img.to_luma8()),
            Edit::Brightness(a) => map_channels(img, |v| f32::from(v) * (1.0 + a)),
            Edit::Contrast(a) => {
                // PIL: blend with a flat image of the mean grey (rounded luma mean).
                let grey = img.to_luma8();
                let n = u64::from(grey.width()) * u64::from(grey.height());
                let sum: u64 = grey.pixels().map(|p| u64::from(p.0[0])).sum();
                let mean = (sum as f64 / n.max(1) as f64 + 0.5).floor() as f32;
                map_channels(img, |v| mean + (f32::from(v) - mean) * (1.0 + a))
            }
            Edit::Gamma(g) => map_channels(img, |v| 255.0 * (f32::from(v) / 255.0).powf(*g)),
            Edit::Blur(s) => DynamicImage::ImageRgb8(imageops::blur(&img.to_rgb8(), *s)),
            Edit::Sharpen => DynamicImage::ImageRgb8(imageops::unsharpen(&img.to_rgb8(), 1.0, 0)),
            Edit::Noise(s) => {
                let mut rng = Rng::new(seed);
                let mut out = img.to_rgb8();
                for v in out.iter_mut() {
                    *v = clamp_u8(f32::from(*v) + s * rng.gaussian());
                }
                DynamicImage::ImageRgb8(out)
            }
            Edit::Overlay { fraction, style: OverlayStyle::Label } => {
                DynamicImage::ImageRgb8(label(&img.to_rgb8(), *fraction))
            }
            Edit::Overlay { fraction, style: OverlayStyle::Text } => {
                DynamicImage::ImageRgb8(caption(&img.to_rgb8(), *fraction, false))
            }
            Edit::Overlay { fraction, style: OverlayStyle::Watermark } => {
                DynamicImage::ImageRgb8(caption(&img.to_rgb8(), *fraction, true))
            }
            Edit::Border(f) => DynamicImage::ImageRgb8(border(&img.to_rgb8(), *f)),
            Edit::Screenshot => DynamicImage::ImageRgb8(screenshot(&img.to_rgb8())),
            Edit::Chain(edits) => {
                let mut cur = img.clone();
                for e in edits {
                    cur = e.apply(&cur, seed);
                }
                cur
            }
        }
    }

    /// The edited image saved in its [`Edit::encoding`]: the bytes of a real file.
    pub fn render(&self, img: &DynamicImage, seed: u64) -> Result<Vec<u8>, ImageError> {
        encode(&self.apply(img, seed), self.encoding())
    }
}

/// Saves pixels in a format: JPEG (greyscale images stay greyscale, anything else is saved as
/// RGB) or PNG.
pub fn encode(img: &DynamicImage, encoding: Encoding) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    match encoding {
        Encoding::Jpeg(q) => {
            let mut enc = JpegEncoder::new_with_quality(&mut out, q.clamp(1, 100));
            match img {
                DynamicImage::ImageLuma8(g) => enc.encode_image(g)?,
                other => enc.encode_image(&other.to_rgb8())?,
            }
        }
        Encoding::Png => img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)?,
    }
    Ok(out)
}

fn sign(a: f32) -> &'static str {
    if a < 0.0 { "-" } else { "+" }
}

/// `1.5`, `0.25`, `10`: no trailing zeros.
fn fmt_num(v: f32) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn scaled(n: u32, f: f32) -> u32 {
    ((n as f32 * f).round() as u32).max(1)
}

/// Pixels cut for a fraction of a dimension (rounded).
fn cut(n: u32, f: f32) -> u32 {
    (n as f32 * f.clamp(0.0, 1.0)).round() as u32
}

fn clamp_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

fn map_channels(img: &DynamicImage, f: impl Fn(u8) -> f32) -> DynamicImage {
    let lut: Vec<u8> = (0..=255u8).map(|v| clamp_u8(f(v))).collect();
    match img {
        DynamicImage::ImageLuma8(g) => {
            let mut g = g.clone();
            g.iter_mut().for_each(|v| *v = lut[usize::from(*v)]);
            DynamicImage::ImageLuma8(g)
        }
        other => {
            let mut rgb = other.to_rgb8();
            rgb.iter_mut().for_each(|v| *v = lut[usize::from(*v)]);
            DynamicImage::ImageRgb8(rgb)
        }
    }
}

fn crop_one_side(img: &DynamicImage, fraction: f32, side: Side) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    match side {
        Side::Left | Side::Right => {
            let c = cut(w, fraction).min(w - 1);
            let x = if side == Side::Left { c } else { 0 };
            img.crop_imm(x, 0, w - c, h)
        }
        Side::Top | Side::Bottom => {
            let c = cut(h, fraction).min(h - 1);
            let y = if side == Side::Top { c } else { 0 };
            img.crop_imm(0, y, w, h - c)
        }
    }
}

/// Bilinear sample with a black outside; `None` when the point is outside the image.
fn bilinear(img: &RgbImage, x: f32, y: f32) -> Option<[f32; 3]> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    // Pixel centres are at integer + 0.5.
    let (fx, fy) = (x - 0.5, y - 0.5);
    if fx < -0.5 || fy < -0.5 || fx > w - 0.5 || fy > h - 0.5 {
        return None;
    }
    let fx = fx.clamp(0.0, w - 1.0);
    let fy = fy.clamp(0.0, h - 1.0);
    let (x0, y0) = (fx.floor() as u32, fy.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(img.width() - 1), (y0 + 1).min(img.height() - 1));
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let p = |x: u32, y: u32| img.get_pixel(x, y).0;
    let (p00, p10, p01, p11) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut out = [0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = f32::from(p00[c]) * (1.0 - ax) + f32::from(p10[c]) * ax;
        let bottom = f32::from(p01[c]) * (1.0 - ax) + f32::from(p11[c]) * ax;
        *o = top * (1.0 - ay) + bottom * ay;
    }
    Some(out)
}

/// The scale of the largest centred rectangle of the image's aspect ratio inside the image
/// rotated by `degrees` (1 at 0 degrees).
pub fn inscribed_scale(width: u32, height: u32, degrees: f32) -> f32 {
    let (w, h) = (width as f32, height as f32);
    let t = degrees.to_radians();
    let (c, s) = (t.cos().abs(), t.sin().abs());
    (w / (w * c + h * s)).min(h / (w * s + h * c))
}

fn rotate(img: &RgbImage, degrees: f32, corners: Corners) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let (ow, oh) = match corners {
        Corners::Fill => (w, h),
        Corners::Crop => {
            let s = inscribed_scale(w, h, degrees);
            // Floor: the kept rectangle must stay inside the rotated content.
            (((w as f32 * s).floor() as u32).max(1), ((h as f32 * s).floor() as u32).max(1))
        }
    };
    let t = degrees.to_radians();
    let (sin, cos) = t.sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (ocx, ocy) = (ow as f32 / 2.0, oh as f32 / 2.0);
    RgbImage::from_fn(ow, oh, |x, y| {
        // Output offset from the centre (y down); a counter-clockwise turn on screen maps a
        // source offset (u, v) to (u cos + v sin, -u sin + v cos), so invert that.
        let (dx, dy) = (x as f32 + 0.5 - ocx, y as f32 + 0.5 - ocy);
        let u = dx * cos - dy * sin;
        let v = dx * sin + dy * cos;
        match bilinear(img, cx + u, cy + v) {
            Some(p) => Rgb([clamp_u8(p[0]), clamp_u8(p[1]), clamp_u8(p[2])]),
            None => Rgb([0, 0, 0]),
        }
    })
}

/// 5x7 bitmap glyphs for the overlay text, one row per byte (low 5 bits, bit 4 = left).
const GLYPHS: [(char, [u8; 7]); 6] = [
    ('S', [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]),
    ('A', [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    ('M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    ('P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    ('L', [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]),
    ('E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]),
];

/// Draws "SAMPLE" with its top-left corner at `(x0, y0)` in square cells of `cell` pixels.
fn draw_word(out: &mut RgbImage, x0: u32, y0: u32, cell: u32, colour: Rgb<u8>) {
    for (i, (_, rows)) in GLYPHS.iter().enumerate() {
        for (r, bits) in rows.iter().enumerate() {
            for c in 0..5u32 {
                if bits >> (4 - c) & 1 == 0 {
                    continue;
                }
                let x = x0 + (i as u32 * 6 + c) * cell;
                let y = y0 + r as u32 * cell;
                for yy in y..y + cell {
                    for xx in x..x + cell {
                        if xx < out.width() && yy < out.height() {
                            out.put_pixel(xx, yy, colour);
                        }
                    }
                }
            }
        }
    }
}

/// A box of `fraction` of the image area with this aspect ratio (width / height), narrowed to
/// 96 % of the width if needed.
fn overlay_box(img: &RgbImage, fraction: f32, aspect: f32) -> (u32, u32) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let area = fraction.clamp(0.0, 1.0) * w * h;
    let mut bw = (aspect * area).sqrt();
    let mut bh = bw / aspect;
    if bw > w * 0.96 {
        bw = w * 0.96;
        bh = area / bw;
    }
    ((bw.round() as u32).clamp(1, img.width()), (bh.round() as u32).clamp(1, img.height()))
}

/// An opaque white 2:1 label of `fraction` of the area with "SAMPLE" in black, bottom-right.
fn label(img: &RgbImage, fraction: f32) -> RgbImage {
    let mut out = img.clone();
    let (lw, lh) = overlay_box(img, fraction, 2.0);
    let mx = (img.width() as f32 * 0.02).round() as u32;
    let my = (img.height() as f32 * 0.02).round() as u32;
    let x0 = img.width().saturating_sub(lw + mx);
    let y0 = img.height().saturating_sub(lh + my);
    let plate = RgbImage::from_pixel(lw, lh, Rgb([255, 255, 255]));
    imageops::replace(&mut out, &plate, x0.into(), y0.into());
    // 6 glyphs of 5 columns and 1 of spacing (35 cells), 7 rows; scaled to fit with padding.
    let cell = ((lw as f32 * 0.9) / 35.0).min(lh as f32 * 0.7 / 7.0).floor().max(1.0) as u32;
    let (tw, th) = (35 * cell, 7 * cell);
    let (tx, ty) = (x0 + lw.saturating_sub(tw) / 2, y0 + lh.saturating_sub(th) / 2);
    draw_word(&mut out, tx, ty, cell, Rgb([0, 0, 0]));
    out
}

/// "SAMPLE" in white block letters with a black outline, its 5:1 bounding box `fraction` of
/// the area, centred horizontally near the bottom; or, as a `watermark`, in 40 % white with no
/// outline, centred.
fn caption(img: &RgbImage, fraction: f32, watermark: bool) -> RgbImage {
    let mut out = img.clone();
    let (bw, bh) = overlay_box(img, fraction, 5.0);
    let outline = if watermark { 0 } else { (bh / 20).max(1) as i64 };
    // The letters fill the box exactly: 35 x 7 cells of (bw / 35) x (bh / 7) pixels.
    let lit = |x: i64, y: i64| -> bool {
        if x < 0 || y < 0 || x >= i64::from(bw) || y >= i64::from(bh) {
            return false;
        }
        let cx = (x * 35 / i64::from(bw)) as usize;
        let cy = (y * 7 / i64::from(bh)) as usize;
        let (glyph, col) = (cx / 6, cx % 6);
        col < 5 && GLYPHS.get(glyph).is_some_and(|(_, rows)| rows[cy] >> (4 - col) & 1 == 1)
    };
    let x0 = i64::from(img.width().saturating_sub(bw) / 2);
    let y0 = if watermark {
        i64::from(img.height().saturating_sub(bh) / 2)
    } else {
        let my = (img.height() as f32 * 0.04).round() as u32;
        i64::from(img.height().saturating_sub(bh + my))
    };
    for y in -outline..i64::from(bh) + outline {
        for x in -outline..i64::from(bw) + outline {
            let (px, py) = (x0 + x, y0 + y);
            if px < 0 || py < 0 || px >= i64::from(img.width()) || py >= i64::from(img.height()) {
                continue;
            }
            let colour = if lit(x, y) && watermark {
                let p = out.get_pixel(px as u32, py as u32).0;
                Rgb(p.map(|v| clamp_u8(0.6 * f32::from(v) + 0.4 * 255.0)))
            } else if lit(x, y) {
                Rgb([255, 255, 255])
            } else if (-outline..=outline)
                .any(|dy| (-outline..=outline).any(|dx| lit(x + dx, y + dy)))
            {
                Rgb([0, 0, 0])
            } else {
                continue;
            };
            out.put_pixel(px as u32, py as u32, colour);
        }
    }
    out
}

fn border(img: &RgbImage, fraction: f32) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let (bx, by) = (cut(w, fraction / 2.0), cut(h, fraction / 2.0));
    let mut out = RgbImage::from_pixel(w + 2 * bx, h + 2 * by, Rgb([255, 255, 255]));
    imageops::replace(&mut out, img, bx.into(), by.into());
    out
}

/// Scaled to 75 %, on a white page with 4 % side margins, a dark status bar (10 % of the page
/// height, with a few light "icons") above and a 6 % margin below.
fn screenshot(img: &RgbImage) -> RgbImage {
    let (sw, sh) = (scaled(img.width(), 0.75), scaled(img.height(), 0.75));
    let small = imageops::resize(img, sw, sh, FilterType::Triangle);
    let margin = cut(sw, 0.04).max(1);
    let bar = cut(sh, 0.12).max(2);
    let bottom = cut(sh, 0.06).max(1);
    let (pw, ph) = (sw + 2 * margin, sh + bar + margin + bottom);
    let mut page = RgbImage::from_pixel(pw, ph, Rgb([250, 250, 250]));
    for y in 0..bar {
        for x in 0..pw {
            page.put_pixel(x, y, Rgb([32, 33, 36]));
        }
    }
    // Status icons: a clock on the left, three on the right.
    let icon = (bar / 3).max(1);
    let iy = bar / 3;
    let icons = [(margin, 4 * icon), (pw - margin - icon, icon), (pw - margin - 3 * icon, icon)];
    for (ix, iw) in icons {
        for y in iy..(iy + icon).min(bar) {
            for x in ix..(ix + iw).min(pw) {
                page.put_pixel(x, y, Rgb([220, 220, 220]));
            }
        }
    }
    imageops::replace(&mut page, &small, margin.into(), (bar + margin).into());
    page
}

/// A small deterministic generator (SplitMix64) with Gaussian samples (Box-Muller).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    spare: Option<f32>,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed ^ 0x5EED_5C00_0E7A_1234, spare: None }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal sample.
    pub fn gaussian(&mut self) -> f32 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        self.spare = Some((r * t.sin()) as f32);
        (r * t.cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            let v = ((x * 7 + y * 3) % 256) as u8;
            Rgb([v, (x * 255 / w) as u8, (y * 255 / h) as u8])
        }))
    }

    fn dims(e: &Edit, img: &DynamicImage, seed: u64) -> (u32, u32) {
        let out = e.apply(img, seed);
        (out.width(), out.height())
    }

    #[test]
    fn names_are_readable() {
        assert_eq!(Edit::Jpeg(30).name(), "jpeg q30");
        assert_eq!(Edit::Resize(0.25).name(), "resize 0.25");
        assert_eq!(
            Edit::Rotate { degrees: -3.0, corners: Corners::Fill }.name(),
            "rotate -3° fill"
        );
        assert_eq!(Edit::Rotate { degrees: 5.0, corners: Corners::Crop }.name(), "rotate +5° crop");
        assert_eq!(Edit::Brightness(-0.3).name(), "brightness -30%");
        assert_eq!(Edit::Blur(1.0).name(), "blur σ1");
        assert_eq!(Edit::CropOneSide { fraction: 0.05, side: None }.name(), "crop 5% one side");
        let chain = Edit::Chain(vec![Edit::Resize(0.5), Edit::Jpeg(50)]);
        assert_eq!(chain.name(), "resize 0.5 + jpeg q50");
    }

    #[test]
    fn encodings() {
        assert_eq!(Edit::Sharpen.encoding(), Encoding::Jpeg(95));
        assert_eq!(Edit::Jpeg(15).encoding(), Encoding::Jpeg(15));
        assert_eq!(Edit::Screenshot.encoding(), Encoding::Png);
        let chain = Edit::Chain(vec![Edit::Jpeg(50), Edit::Greyscale]);
        assert_eq!(chain.encoding(), Encoding::Jpeg(50));
        let img = sample(40, 30);
        let png = Edit::Screenshot.render(&img, 0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let jpeg = Edit::Jpeg(15).render(&img, 0).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (40, 30));
        let grey = Edit::Greyscale.render(&img, 0).unwrap();
        assert!(matches!(image::load_from_memory(&grey).unwrap(), DynamicImage::ImageLuma8(_)));
    }

    #[test]
    fn dimensions() {
        let img = sample(200, 100);
        assert_eq!(dims(&Edit::Reencode, &img, 0), (200, 100));
        assert_eq!(dims(&Edit::Resize(0.25), &img, 0), (50, 25));
        assert_eq!(dims(&Edit::Resize(1.5), &img, 0), (300, 150));
        assert_eq!(dims(&Edit::Aspect(1.2), &img, 0), (240, 100));
        for seed in 0..4 {
            let (w, h) = dims(&Edit::CropOneSide { fraction: 0.1, side: None }, &img, seed);
            assert!((w, h) == (180, 100) || (w, h) == (200, 90), "{w}x{h}");
        }
        assert_eq!(dims(&Edit::CropAllSides(0.2), &img, 0), (120, 60));
        assert_eq!(dims(&Edit::Rotate90, &img, 0), (100, 200));
        assert_eq!(dims(&Edit::Rotate180, &img, 0), (200, 100));
        let fill = Edit::Rotate { degrees: 5.0, corners: Corners::Fill };
        assert_eq!(dims(&fill, &img, 0), (200, 100));
        let crop = Edit::Rotate { degrees: 5.0, corners: Corners::Crop };
        let (w, h) = dims(&crop, &img, 0);
        let s = inscribed_scale(200, 100, 5.0);
        assert!(s > 0.8 && s < 0.95, "{s}");
        assert_eq!((w, h), ((200.0 * s).floor() as u32, (100.0 * s).floor() as u32));
        assert_eq!(dims(&Edit::Border(0.1), &img, 0), (220, 110));
        let text = Edit::Overlay { fraction: 0.1, style: OverlayStyle::Text };
        assert_eq!(dims(&text, &img, 0), (200, 100));
        let (w, h) = dims(&Edit::Screenshot, &img, 0);
        assert!(w > 150 && w < 200 && h > 75 && h < 110, "{w}x{h}");
        // Degenerate inputs never give empty images.
        let tiny = sample(2, 2);
        assert_eq!(dims(&Edit::Resize(0.1), &tiny, 0), (1, 1));
        assert_eq!(dims(&Edit::CropAllSides(0.6), &tiny, 0), (1, 1));
        assert_eq!(
            dims(&Edit::CropOneSide { fraction: 1.0, side: Some(Side::Top) }, &tiny, 0),
            (2, 1)
        );
    }

    #[test]
    fn crops_take_the_right_pixels() {
        let img = sample(100, 50);
        let rgb = img.to_rgb8();
        let left = Edit::CropOneSide { fraction: 0.1, side: Some(Side::Left) }.apply(&img, 0);
        assert_eq!(left.to_rgb8().get_pixel(0, 0), rgb.get_pixel(10, 0));
        let top = Edit::CropOneSide { fraction: 0.2, side: Some(Side::Top) }.apply(&img, 0);
        assert_eq!(top.to_rgb8().get_pixel(3, 0), rgb.get_pixel(3, 10));
        let right = Edit::CropOneSide { fraction: 0.1, side: Some(Side::Right) }.apply(&img, 0);
        assert_eq!(right.to_rgb8().get_pixel(0, 0), rgb.get_pixel(0, 0));
        let all = Edit::CropAllSides(0.1).apply(&img, 0);
        assert_eq!(all.to_rgb8().get_pixel(0, 0), rgb.get_pixel(10, 5));
    }

    #[test]
    fn involutions_and_inverses_are_identities() {
        let img = sample(64, 40);
        let twice = |e: &Edit| e.apply(&e.apply(&img, 0), 0);
        assert_eq!(twice(&Edit::MirrorHorizontal), img);
        assert_eq!(twice(&Edit::MirrorVertical), img);
        assert_eq!(twice(&Edit::Rotate180), img);
        assert_eq!(Edit::Rotate270.apply(&Edit::Rotate90.apply(&img, 0), 0), img);
        let four = (0..4).fold(img.clone(), |acc, _| Edit::Rotate90.apply(&acc, 0));
        assert_eq!(four, img);
        // A zero rotation resamples at pixel centres: no change.
        let zero = Edit::Rotate { degrees: 0.0, corners: Corners::Fill }.apply(&img, 0);
        assert_eq!(zero.to_rgb8(), img.to_rgb8());
        // Mirror then rotate 180 is the vertical mirror.
        let a = Edit::Chain(vec![Edit::MirrorHorizontal, Edit::Rotate180]).apply(&img, 0);
        assert_eq!(a, Edit::MirrorVertical.apply(&img, 0));
    }

    #[test]
    fn edits_are_deterministic() {
        let img = sample(80, 60);
        let all = [
            Edit::Noise(10.0),
            Edit::Blur(2.0),
            Edit::Sharpen,
            Edit::Rotate { degrees: 3.0, corners: Corners::Crop },
            Edit::Overlay { fraction: 0.1, style: OverlayStyle::Text },
            Edit::Overlay { fraction: 0.1, style: OverlayStyle::Label },
            Edit::Screenshot,
            Edit::Contrast(0.3),
        ];
        for e in &all {
            assert_eq!(e.render(&img, 42).unwrap(), e.render(&img, 42).unwrap(), "{}", e.name());
        }
        // The noise depends on the seed, and has about the requested sigma.
        let flat = DynamicImage::ImageRgb8(RgbImage::from_pixel(100, 100, Rgb([128, 128, 128])));
        let a = Edit::Noise(10.0).apply(&flat, 1).to_rgb8();
        let b = Edit::Noise(10.0).apply(&flat, 2).to_rgb8();
        assert_ne!(a, b);
        let n = a.as_raw().len() as f64;
        let var = a.iter().map(|&v| (f64::from(v) - 128.0).powi(2)).sum::<f64>() / n;
        assert!((var.sqrt() - 10.0).abs() < 0.5, "sigma {}", var.sqrt());
    }

    #[test]
    fn colour_edits() {
        let img = sample(50, 50);
        let rgb = img.to_rgb8();
        let up = Edit::Brightness(0.3).apply(&img, 0).to_rgb8();
        let down = Edit::Brightness(-0.3).apply(&img, 0).to_rgb8();
        for ((a, b), c) in rgb.iter().zip(up.iter()).zip(down.iter()) {
            assert_eq!(*b, clamp_u8(f32::from(*a) * 1.3));
            assert_eq!(*c, clamp_u8(f32::from(*a) * 0.7));
        }
        let g = Edit::Gamma(1.4).apply(&img, 0).to_rgb8();
        assert!(g.iter().zip(rgb.iter()).all(|(x, y)| x <= y));
        let grey = Edit::Greyscale.apply(&img, 0);
        assert!(matches!(grey, DynamicImage::ImageLuma8(_)));
        // Contrast keeps the mean grey level roughly where it was.
        let mean = |i: &RgbImage| i.iter().map(|&v| f64::from(v)).sum::<f64>() / i.len() as f64;
        let c = Edit::Contrast(-0.3).apply(&img, 0).to_rgb8();
        assert!((mean(&c) - mean(&rgb)).abs() < 8.0);
        // Blur lowers the variation between neighbours; sharpen raises it.
        let tv = |i: &RgbImage| {
            i.as_raw().windows(4).map(|w| (i32::from(w[0]) - i32::from(w[3])).abs()).sum::<i32>()
        };
        let noisy = Edit::Noise(20.0).apply(&img, 3);
        let n = noisy.to_rgb8();
        assert!(tv(&Edit::Blur(1.0).apply(&noisy, 0).to_rgb8()) < tv(&n));
        assert!(tv(&Edit::Sharpen.apply(&img, 0).to_rgb8()) >= tv(&rgb));
    }

    #[test]
    fn overlay_covers_the_requested_area() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 200, Rgb([10, 200, 10])));
        let label = Edit::Overlay { fraction: 0.1, style: OverlayStyle::Label };
        assert_eq!(label.name(), "opaque label 10%");
        let out = label.apply(&img, 0).to_rgb8();
        let changed = out.pixels().filter(|p| p.0 != [10, 200, 10]).count() as f64;
        let frac = changed / 60_000.0;
        assert!((frac - 0.1).abs() < 0.01, "{frac}");
        assert_eq!(out.get_pixel(0, 0).0, [10, 200, 10]);
        assert!(out.pixels().any(|p| p.0 == [0, 0, 0]), "has text");
        // The caption changes only the letters and their outline, inside a box of 10 %.
        let text = Edit::Overlay { fraction: 0.1, style: OverlayStyle::Text };
        assert_eq!(text.name(), "text overlay 10%");
        let out = text.apply(&img, 0).to_rgb8();
        let changed: Vec<(u32, u32)> =
            out.enumerate_pixels().filter(|p| p.2.0 != [10, 200, 10]).map(|p| (p.0, p.1)).collect();
        let (x0, x1) = (
            changed.iter().map(|p| p.0).min().unwrap(),
            changed.iter().map(|p| p.0).max().unwrap(),
        );
        let (y0, y1) = (
            changed.iter().map(|p| p.1).min().unwrap(),
            changed.iter().map(|p| p.1).max().unwrap(),
        );
        let bbox = f64::from((x1 - x0 + 1) * (y1 - y0 + 1)) / 60_000.0;
        assert!(bbox > 0.08 && bbox < 0.12, "{bbox}");
        assert!((changed.len() as f64) < 0.75 * bbox * 60_000.0, "not a filled box");
        assert!(out.pixels().any(|p| p.0 == [255, 255, 255]));
        // The watermark lightens the letters only, with no outline.
        let wm = Edit::Overlay { fraction: 0.1, style: OverlayStyle::Watermark };
        assert_eq!(wm.name(), "watermark 10%");
        let out = wm.apply(&img, 0).to_rgb8();
        let light = [
            clamp_u8(0.6 * 10.0 + 102.0),
            clamp_u8(0.6 * 200.0 + 102.0),
            clamp_u8(0.6 * 10.0 + 102.0),
        ];
        assert!(out.pixels().all(|p| p.0 == [10, 200, 10] || p.0 == light));
        assert!(out.pixels().any(|p| p.0 == light));
    }

    #[test]
    fn rotation_fills_or_crops_the_corners() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(120, 80, Rgb([200, 200, 200])));
        let fill = Edit::Rotate { degrees: 5.0, corners: Corners::Fill }.apply(&img, 0).to_rgb8();
        assert_eq!(fill.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(fill.get_pixel(60, 40).0, [200, 200, 200]);
        let crop = Edit::Rotate { degrees: -5.0, corners: Corners::Crop }.apply(&img, 0).to_rgb8();
        assert!(crop.pixels().all(|p| p.0[0] > 150), "no black corner left");
    }

    #[test]
    fn rng_is_reproducible() {
        let mut a = Rng::new(9);
        let mut b = Rng::new(9);
        assert_eq!(a.next_u64(), b.next_u64());
        let mean = (0..10_000).map(|_| f64::from(a.gaussian())).sum::<f64>() / 10_000.0;
        assert!(mean.abs() < 0.05);
    }
}
