//! Crop-, rotation- and overlay-tolerant PDQ matching with region hashes.
//!
//! Plain PDQ hashes the whole frame, so cutting 10 % off one side, turning the picture by a
//! few degrees or putting a caption over it moves or hides enough of the content to flip many
//! bits. This module adds PDQ hashes of *regions*:
//!
//! * the **listed** side stores, next to the ordinary hash, the hashes of three regions of the
//!   original ([`Scheme::listed_regions`]): the centred 80 % and 60 % (they survive crops and
//!   small rotations) and the middle band, full width and 40 % of the height (it survives
//!   captions, watermarks and logos at the top or bottom);
//! * the **query** side hashes the windows of the upload where those regions would be if the
//!   upload were a crop, a bordered copy or a small rotation of the original
//!   ([`Scheme::query_regions`]: about a hundred windows);
//! * a query matches a listed image when plain PDQ matches, or when a listed region hash is
//!   within [`EXTRA_THRESHOLD`] of any dihedral hash of any query window, both of quality at
//!   least [`MIN_QUALITY`] ([`extra_distance`], and the index's region lookup).
//!
//! Regions are hashed from a [`LumaPlane`]: the image's luma box-reduced to about
//! [`PLANE_SIDE`] pixels; each region is resampled (bilinear) straight into PDQ's 64x64 buffer,
//! then PDQ's DCT, median and quality run as usual. Both sides use the same resampling, so a
//! region hashes alike in the original and in an edited copy. The windows are computed only
//! when plain PDQ finds nothing (about 16 ms per image natively). The scheme and its measured
//! recall and false-match margin are in `docs/eval/README.md`.
//!
//! ```
//! use schoon_core::regions::{LumaPlane, Scheme, extra_distance, EXTRA_THRESHOLD};
//! let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(300, 200, |x, y| {
//!     let v = ((x as f32 / 9.0).sin() * (y as f32 / 13.0).cos() * 100.0 + 128.0) as u8;
//!     image::Rgb([v, (x / 2) as u8, (y + x / 3) as u8])
//! }));
//! let scheme = Scheme::standard();
//! let listed = scheme.listed_variants(&LumaPlane::from_image(&img));
//! let cropped = img.crop_imm(0, 0, 270, 200); // 10 % off the right
//! let query = scheme.query_variants(&LumaPlane::from_image(&cropped));
//! let best = extra_distance(&listed, &query).unwrap();
//! assert!(best.distance <= EXTRA_THRESHOLD);
//! ```
//!
//! Over 600 lines: the scheme (listed regions, query windows, their geometry) is about 460 lines;
//! the rest are tests of that geometry.

use image::DynamicImage;

use crate::Limits;
use crate::pdq::{self, Pdq};

/// The largest number of extra hashes [`Scheme::listed_variants`] returns per listed image.
pub const MAX_LISTED: usize = 3;

/// Region hashes of lower quality are neither stored nor compared.
pub const MIN_QUALITY: u8 = 50;

/// The threshold for listed-region against query-region comparisons.
pub const EXTRA_THRESHOLD: u32 = 31;

/// A rectangle of an image, possibly turned, in coordinates relative to the image: the centre
/// at `(cx * width, cy * height)`, a size of `w * width` by `h * height` pixels before turning,
/// turned by `degrees` counter-clockwise on screen about its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Centre, as a fraction of the width.
    pub cx: f32,
    /// Centre, as a fraction of the height.
    pub cy: f32,
    /// Width, as a fraction of the image width.
    pub w: f32,
    /// Height, as a fraction of the image height.
    pub h: f32,
    /// Counter-clockwise turn in degrees.
    pub degrees: f32,
}

impl Region {
    /// The whole image.
    pub const FULL: Region = Region { cx: 0.5, cy: 0.5, w: 1.0, h: 1.0, degrees: 0.0 };

    /// The centred region that leaves `margin` of each dimension out on every side.
    pub fn centre(margin: f32) -> Region {
        let s = 1.0 - 2.0 * margin;
        Region { cx: 0.5, cy: 0.5, w: s, h: s, degrees: 0.0 }
    }

    /// A short description such as `centre 80%x80%` or `x 0.56±0.44 y 0.50±0.40 rot +5°`.
    pub fn describe(&self) -> String {
        let rot =
            if self.degrees == 0.0 { String::new() } else { format!(" rot {:+}°", self.degrees) };
        if (self.cx - 0.5).abs() < 1e-4 && (self.cy - 0.5).abs() < 1e-4 {
            format!("centre {:.0}%x{:.0}%{rot}", self.w * 100.0, self.h * 100.0)
        } else {
            format!(
                "x {:.3}..{:.3} y {:.3}..{:.3}{rot}",
                self.cx - self.w / 2.0,
                self.cx + self.w / 2.0,
                self.cy - self.h / 2.0,
                self.cy + self.h / 2.0
            )
        }
    }
}

/// Which regions a scheme stores and which windows it searches on the query side.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    /// Margins of the centred listed regions (each leaves this fraction out on every side).
    pub listed_margins: Vec<f32>,
    /// Step of the crop hypotheses: for a listed region of margin `m`, the query side tries
    /// cuts of `k * crop_step` (`k >= 1`, up to `m`) off one edge (each of the 4) and off all
    /// edges, plus no cut.
    pub crop_step: f32,
    /// Padding hypotheses: borders of `k * crop_step` of each dimension on every side
    /// (`k >= 1`, up to this fraction), searched for every listed region.
    pub max_border: f32,
    /// Rotation hypotheses in degrees, each tried with filled and with cropped corners.
    pub angles: Vec<f32>,
    /// Margins of the listed regions searched under the rotation hypotheses.
    pub rotation_margins: Vec<f32>,
    /// Whether the query's whole frame is one of the query windows.
    pub full_frame: bool,
    /// Listed regions that are not centred (e.g. a band that leaves out the bottom, where
    /// captions and logos go); the query side searches them under the same crop and border
    /// hypotheses, keeping windows that stay inside the frame.
    pub extra_listed: Vec<Region>,
}

impl Scheme {
    /// The scheme the index uses: listed regions centre 80 %, centre 60 % and the middle band
    /// (full width, 40 % of the height); crops in steps of 2.5 %, borders up to 10 %, turns of
    /// up to 7.5 degrees. Listed region `k` (0-based) is stored as region id `k + 1`.
    pub fn standard() -> Scheme {
        Scheme {
            listed_margins: vec![0.1, 0.2],
            crop_step: 0.025,
            max_border: 0.1,
            angles: vec![-7.5, -6.0, -4.5, -3.0, -1.5, 1.5, 3.0, 4.5, 6.0, 7.5],
            rotation_margins: vec![0.1],
            full_frame: true,
            extra_listed: vec![Region { cx: 0.5, cy: 0.5, w: 1.0, h: 0.4, degrees: 0.0 }],
        }
    }

    /// The listed regions.
    pub fn listed_regions(&self) -> Vec<Region> {
        let mut out: Vec<Region> = self.listed_margins.iter().map(|&m| Region::centre(m)).collect();
        out.extend(self.extra_listed.iter().copied());
        out
    }

    /// The query windows for a query of `width x height` pixels: where each listed region
    /// would be under each hypothesis (duplicates removed).
    pub fn query_regions(&self, width: u32, height: u32) -> Vec<Region> {
        let mut out: Vec<Region> = Vec::new();
        let mut push = |r: Region| {
            let same = |a: &Region| {
                (a.cx - r.cx).abs() < 1e-3
                    && (a.cy - r.cy).abs() < 1e-3
                    && (a.w - r.w).abs() < 1e-3
                    && (a.h - r.h).abs() < 1e-3
                    && (a.degrees - r.degrees).abs() < 1e-3
            };
            if !out.iter().any(same) {
                out.push(r);
            }
        };
        if self.full_frame {
            push(Region::FULL);
        }
        for &m in &self.listed_margins {
            let a = 1.0 - 2.0 * m;
            let steps = if self.crop_step > 0.0 { (m / self.crop_step + 1e-3) as usize } else { 0 };
            let pad = if self.crop_step > 0.0 {
                (self.max_border / self.crop_step + 1e-3) as usize
            } else {
                0
            };
            for k in -(pad as i64)..=steps as i64 {
                // The original's [m, 1-m] inside the kept [p, 1-p] (a border when p < 0).
                let p = k as f32 * self.crop_step;
                let s = a / (1.0 - 2.0 * p);
                push(Region { cx: 0.5, cy: 0.5, w: s, h: s, degrees: 0.0 });
            }
            for k in 1..=steps {
                let p = k as f32 * self.crop_step;
                let s = a / (1.0 - p);
                // Kept [0, 1-p] (cut at the far edge) or [p, 1] (cut at the near edge).
                for c in [0.5 / (1.0 - p), (0.5 - p) / (1.0 - p)] {
                    push(Region { cx: c, cy: 0.5, w: s, h: a, degrees: 0.0 });
                    push(Region { cx: 0.5, cy: c, w: a, h: s, degrees: 0.0 });
                }
            }
            if !self.rotation_margins.iter().any(|&r| (r - m).abs() < 1e-6) {
                continue;
            }
            for &t in &self.angles {
                push(Region { cx: 0.5, cy: 0.5, w: a, h: a, degrees: t });
                let s = a / inscribed_scale(width, height, t);
                push(Region { cx: 0.5, cy: 0.5, w: s, h: s, degrees: t });
            }
        }
        // Non-centred listed regions: the kept part of the original is [x0, x1] x [y0, y1]
        // (a crop) or larger than the frame (a border); the region moves accordingly.
        let steps = if self.crop_step > 0.0 { (0.2 / self.crop_step + 1e-3) as usize } else { 0 };
        let pad = if self.crop_step > 0.0 {
            (self.max_border / self.crop_step + 1e-3) as usize
        } else {
            0
        };
        for r in &self.extra_listed {
            let mut kept: Vec<(f32, f32, f32, f32)> = vec![(0.0, 1.0, 0.0, 1.0)];
            for k in 1..=steps {
                let p = k as f32 * self.crop_step;
                kept.extend([
                    (p, 1.0, 0.0, 1.0),
                    (0.0, 1.0 - p, 0.0, 1.0),
                    (0.0, 1.0, p, 1.0),
                    (0.0, 1.0, 0.0, 1.0 - p),
                    (p, 1.0 - p, p, 1.0 - p),
                ]);
            }
            for k in 1..=pad {
                let p = k as f32 * self.crop_step;
                kept.push((-p, 1.0 + p, -p, 1.0 + p));
            }
            for (x0, x1, y0, y1) in kept {
                let (kw, kh) = (x1 - x0, y1 - y0);
                let q = Region {
                    cx: (r.cx - x0) / kw,
                    cy: (r.cy - y0) / kh,
                    w: r.w / kw,
                    h: r.h / kh,
                    degrees: r.degrees,
                };
                let inside = q.cx - q.w / 2.0 >= -0.02
                    && q.cx + q.w / 2.0 <= 1.02
                    && q.cy - q.h / 2.0 >= -0.02
                    && q.cy + q.h / 2.0 <= 1.02;
                if inside {
                    push(q);
                }
            }
        }
        out
    }

    /// Region hashes of the listed regions, with their region ids (1-based position in
    /// [`Scheme::listed_regions`]); those of quality under [`MIN_QUALITY`] are left out.
    pub fn listed_variants(&self, plane: &LumaPlane) -> Vec<(u8, Pdq)> {
        self.listed_regions()
            .into_iter()
            .enumerate()
            .map(|(k, r)| ((k + 1) as u8, plane.hash(&r)))
            .filter(|(_, p)| p.quality >= MIN_QUALITY)
            .collect()
    }

    /// Region hashes of the query windows (all of them, whatever their quality).
    pub fn query_variants(&self, plane: &LumaPlane) -> Vec<(Region, Pdq)> {
        self.query_regions(plane.full.0, plane.full.1)
            .into_iter()
            .map(|r| (r, plane.hash(&r)))
            .collect()
    }

    /// The name of listed region id `id` (`"centre 80%x80%"`, ...), for match reports.
    pub fn region_name(&self, id: u8) -> Option<String> {
        let k = usize::from(id).checked_sub(1)?;
        self.listed_regions().get(k).map(|r| {
            if (r.w - 1.0).abs() < 1e-4 {
                format!("middle band {:.0}%", r.h * 100.0)
            } else {
                r.describe()
            }
        })
    }
}

/// The best extra comparison between a listed image's region hashes and a query's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraMatch {
    /// The smallest Hamming distance found.
    pub distance: u32,
    /// Index into the listed variants.
    pub listed: usize,
    /// Index into the query variants.
    pub query: usize,
    /// The dihedral variant of the query region (0..8, order of [`Pdq::dihedral`]).
    pub dihedral: usize,
}

/// The smallest distance between any listed region hash and any dihedral hash of any query
/// region hash, both of quality at least [`MIN_QUALITY`]; `None` when no pair qualifies.
/// Every listed x query x 8 combination is one comparison.
pub fn extra_distance<L>(listed: &[(L, Pdq)], query: &[(Region, Pdq)]) -> Option<ExtraMatch> {
    let mut best: Option<ExtraMatch> = None;
    for (li, (_, l)) in listed.iter().enumerate().filter(|(_, (_, l))| l.quality >= MIN_QUALITY) {
        for (qi, (_, q)) in query.iter().enumerate().filter(|(_, (_, q))| q.quality >= MIN_QUALITY)
        {
            for (d, h) in q.dihedral.iter().enumerate() {
                let distance = l.hash.distance(h);
                if best.is_none_or(|b| distance < b.distance) {
                    best = Some(ExtraMatch { distance, listed: li, query: qi, dihedral: d });
                }
            }
        }
    }
    best
}

/// The scale of the largest centred rectangle of an image's aspect ratio that fits inside the
/// image turned by `degrees` (1 at 0 degrees).
pub fn inscribed_scale(width: u32, height: u32, degrees: f32) -> f32 {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let (s, c) = (s.abs(), c.abs());
    (w / (w * c + h * s)).min(h / (w * s + h * c))
}

/// An image's PDQ luma (`0.299 R + 0.587 G + 0.114 B`), box-reduced by a whole factor so that
/// the longer side is at most about [`PLANE_SIDE`] pixels; regions are sampled from it.
#[derive(Debug, Clone)]
pub struct LumaPlane {
    width: usize,
    height: usize,
    /// The original size.
    full: (u32, u32),
    /// Original pixels per plane pixel.
    factor: usize,
    data: Vec<f32>,
}

impl PartialEq for LumaPlane {
    fn eq(&self, other: &Self) -> bool {
        (self.width, self.height, self.full, self.factor)
            == (other.width, other.height, other.full, other.factor)
            && self.data.iter().zip(&other.data).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for LumaPlane {}

/// The longer side of a [`LumaPlane`] is reduced to between this and twice this many pixels.
/// PDQ keeps only the lowest 16 x 16 DCT frequencies of its 64 x 64 buffer (at most 8 cycles
/// across the region), so a region of a plane this size holds all the detail the hash uses, and
/// one bilinear sample per buffer cell is enough (measured: the same recall and false-match
/// margin as 2x2 or 3x3 area-averaged taps from a 160-pixel plane, at half the time).
pub const PLANE_SIDE: u32 = 100;

impl LumaPlane {
    /// The plane of interleaved 8-bit pixels with `channels` samples each (1 grey, 2 grey +
    /// alpha, 3 RGB, 4 RGBA), as the core decodes them.
    pub fn from_pixels(samples: &[u8], channels: usize, width: u32, height: u32) -> LumaPlane {
        let (fw, fh) = (width as usize, height as usize);
        if fw == 0 || fh == 0 || !(1..=4).contains(&channels) || samples.len() < fw * fh * channels
        {
            return LumaPlane { width: 1, height: 1, full: (1, 1), factor: 1, data: vec![0.0] };
        }
        let factor = (width.max(height) / PLANE_SIDE).max(1) as usize;
        let (w, h) = (fw.div_ceil(factor), fh.div_ceil(factor));
        let mut data = vec![0f32; w * h];
        let mut row_luma = vec![0f32; fw];
        for (y, row) in samples.chunks_exact(channels * fw).take(fh).enumerate() {
            pdq::fill_luma(row, channels, &mut row_luma);
            let out = &mut data[(y / factor) * w..(y / factor + 1) * w];
            for (x, v) in row_luma.iter().enumerate() {
                out[x / factor] += v;
            }
        }
        Self::normalise(&mut data, w, fw, fh, factor);
        LumaPlane { width: w, height: h, full: (width, height), factor, data }
    }

    /// The plane from block means of the full image (`block x block` pixels each, as the fast
    /// path's DCT-scaled JPEG decode yields them).
    pub fn from_block_means(plane: &[f32], block: usize, width: u32, height: u32) -> LumaPlane {
        let (fw, fh) = (width as usize, height as usize);
        let block = block.max(1);
        let (pw, ph) = (fw.div_ceil(block), fh.div_ceil(block));
        if fw == 0 || fh == 0 || plane.len() != pw * ph {
            return LumaPlane { width: 1, height: 1, full: (1, 1), factor: 1, data: vec![0.0] };
        }
        // Whole blocks per plane pixel, so the plane covers at most about PLANE_SIDE pixels.
        let per = (pw.max(ph) / PLANE_SIDE as usize).max(1);
        let (w, h) = (pw.div_ceil(per), ph.div_ceil(per));
        let mut data = vec![0f32; w * h];
        for (y, row) in plane.chunks_exact(pw).enumerate() {
            let out = &mut data[(y / per) * w..(y / per + 1) * w];
            for (x, v) in row.iter().enumerate() {
                out[x / per] += v;
            }
        }
        Self::normalise(&mut data, w, pw, ph, per);
        LumaPlane { width: w, height: h, full: (width, height), factor: per * block, data }
    }

    fn normalise(data: &mut [f32], w: usize, iw: usize, ih: usize, factor: usize) {
        for (by, row) in data.chunks_exact_mut(w).enumerate() {
            let bh = factor.min(ih - by * factor);
            for (bx, v) in row.iter_mut().enumerate() {
                let bw = factor.min(iw - bx * factor);
                *v /= (bw * bh) as f32;
            }
        }
    }

    /// The plane of a decoded image.
    pub fn from_image(img: &DynamicImage) -> LumaPlane {
        let (width, height) = (img.width(), img.height());
        if let Some((samples, channels)) = crate::decode::borrowed_8bit(img) {
            return Self::from_pixels(samples, channels, width, height);
        }
        let rgb = crate::decode::wide_to_rgb8(img).unwrap_or_else(|| img.to_rgb8().into_raw());
        Self::from_pixels(&rgb, 3, width, height)
    }

    /// The size of the image the plane was made from.
    pub fn full_size(&self) -> (u32, u32) {
        self.full
    }

    /// Clamp-to-edge bilinear sample at plane coordinates (pixel centres at +0.5).
    #[inline]
    fn sample(&self, x: f32, y: f32) -> f32 {
        let fx = (x - 0.5).clamp(0.0, (self.width - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (fx as usize, fy as usize);
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let r0 = &self.data[y0 * self.width..];
        let r1 = &self.data[y1 * self.width..];
        let top = r0[x0] + (r0[x1] - r0[x0]) * ax;
        let bottom = r1[x0] + (r1[x1] - r1[x0]) * ax;
        top + (bottom - top) * ay
    }

    /// The PDQ hash of a region: one bilinear sample at the centre of each cell of PDQ's
    /// 64x64 buffer, then PDQ's DCT, median and quality.
    pub fn hash(&self, r: &Region) -> Pdq {
        let f = self.factor as f32;
        let (fw, fh) = (self.full.0 as f32 / f, self.full.1 as f32 / f);
        let (cx, cy) = (r.cx * fw, r.cy * fh);
        let (rw, rh) = (r.w * fw, r.h * fh);
        let (sin, cos) = r.degrees.to_radians().sin_cos();
        let (du, dv) = (rw / 64.0, rh / 64.0);
        let mut buf = vec![0f32; 64 * 64];
        for (i, row) in buf.chunks_exact_mut(64).enumerate() {
            let v = (i as f32 + 0.5) * dv - rh / 2.0;
            // Counter-clockwise on screen with y pointing down.
            let (x0, y0) = (cx + v * sin, cy + v * cos);
            for (j, out) in row.iter_mut().enumerate() {
                let u = (j as f32 + 0.5) * du - rw / 2.0;
                *out = self.sample(x0 + u * cos, y0 - u * sin);
            }
        }
        // A 64x64 input goes through PDQ's filter unchanged (window 1), straight to the DCT.
        pdq::hash_luma(buf, 64, 64, &Limits::default()).unwrap_or(Pdq::EMPTY)
    }
}

/// The PDQ hash of a region of a decoded image (see [`LumaPlane::hash`]).
pub fn region_pdq(img: &DynamicImage, r: &Region) -> Pdq {
    LumaPlane::from_image(img).hash(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn listed_variants(img: &DynamicImage) -> Vec<(u8, Pdq)> {
        Scheme::standard().listed_variants(&LumaPlane::from_image(img))
    }

    fn query_variants(img: &DynamicImage) -> Vec<(Region, Pdq)> {
        Scheme::standard().query_variants(&LumaPlane::from_image(img))
    }

    fn robust_match(l: &[(u8, Pdq)], q: &[(Region, Pdq)]) -> Option<ExtraMatch> {
        extra_distance(l, q).filter(|m| m.distance <= EXTRA_THRESHOLD)
    }

    /// A tiny deterministic generator (64-bit LCG), uniform in [0, 1).
    struct Lcg(u64);

    impl Lcg {
        fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Turned counter-clockwise about the centre, same canvas, black corners (nearest pixel).
    fn turn(img: &DynamicImage, degrees: f32) -> DynamicImage {
        let src = img.to_rgb8();
        let (w, h) = (src.width() as f32, src.height() as f32);
        let (sin, cos) = degrees.to_radians().sin_cos();
        DynamicImage::ImageRgb8(RgbImage::from_fn(src.width(), src.height(), |x, y| {
            let (dx, dy) = (x as f32 + 0.5 - w / 2.0, y as f32 + 0.5 - h / 2.0);
            let (u, v) = (dx * cos - dy * sin + w / 2.0, dx * sin + dy * cos + h / 2.0);
            if u >= 0.0 && v >= 0.0 && u < w && v < h {
                *src.get_pixel(u as u32, v as u32)
            } else {
                Rgb([0, 0, 0])
            }
        }))
    }

    /// A "Mondrian": 60 random overlapping rectangles of random greys, seeded.
    fn textured(w: u32, h: u32, seed: f32) -> DynamicImage {
        let mut rng = Lcg(u64::from(seed.to_bits()));
        let mut img = RgbImage::from_pixel(w, h, Rgb([128, 128, 128]));
        for _ in 0..60 {
            let (x0, y0) =
                ((rng.uniform() * f64::from(w)) as u32, (rng.uniform() * f64::from(h)) as u32);
            let (rw, rh) = (
                (rng.uniform() * f64::from(w) / 3.0) as u32,
                (rng.uniform() * f64::from(h) / 3.0) as u32,
            );
            let v = (rng.uniform() * 255.0) as u8;
            for y in y0..(y0 + rh).min(h) {
                for x in x0..(x0 + rw).min(w) {
                    img.put_pixel(x, y, Rgb([v, v / 2 + 60, 255 - v]));
                }
            }
        }
        DynamicImage::ImageRgb8(img)
    }

    #[test]
    fn region_hash_of_the_full_frame_is_close_to_pdq() {
        let img = textured(320, 240, 1.0);
        let rgb = img.to_rgb8();
        let plain = pdq::hash_pixels(rgb.as_raw(), 320, 240, 3, &Limits::default()).unwrap();
        let region = region_pdq(&img, &Region::FULL);
        assert!(region.hash.distance(&plain.hash) < 24, "{}", region.hash.distance(&plain.hash));
    }

    #[test]
    fn a_region_hashes_alike_after_a_crop() {
        let img = textured(400, 300, 2.0);
        let listed = region_pdq(&img, &Region::centre(0.1));
        // Cut 10 % off every edge: the listed region is now the whole frame.
        let cropped = img.crop_imm(40, 30, 320, 240);
        let d = listed.hash.distance(&region_pdq(&cropped, &Region::FULL).hash);
        assert!(d <= 12, "distance {d}");
    }

    #[test]
    fn query_windows_cover_the_hypotheses() {
        let s = Scheme::standard();
        let q = s.query_regions(481, 321);
        assert!(q.contains(&Region::FULL));
        // The listed centre region seen in an image cut 10 % at the right edge.
        let want = Region { cx: 0.5 / 0.9, cy: 0.5, w: 0.8 / 0.9, h: 0.8, degrees: 0.0 };
        assert!(q.iter().any(|r| (r.cx - want.cx).abs() < 1e-5 && (r.w - want.w).abs() < 1e-5));
        assert!(q.iter().any(|r| r.degrees == 4.5 && r.w > 0.8));
        assert!(q.iter().any(|r| r.degrees == -4.5 && (r.w - 0.8).abs() < 1e-6));
        assert!(s.listed_regions().len() <= MAX_LISTED);
        let mut dedup = q.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), q.len());
    }

    #[test]
    fn distinct_images_do_not_match_and_edits_do() {
        let a = textured(300, 200, 1.0);
        let b = textured(300, 200, 4.0);
        let la = listed_variants(&a);
        assert!(!la.is_empty());
        assert!(robust_match(&la, &query_variants(&b)).is_none());
        let turned = turn(&a, 5.0);
        let m = robust_match(&la, &query_variants(&turned));
        assert!(m.is_some(), "{:?}", extra_distance(&la, &query_variants(&turned)));
    }

    #[test]
    fn empty_and_tiny_images_do_not_panic() {
        let empty = DynamicImage::ImageRgb8(RgbImage::new(0, 0));
        assert!(listed_variants(&empty).is_empty());
        assert_eq!(query_variants(&empty).len(), Scheme::standard().query_regions(0, 0).len());
        let tiny = DynamicImage::ImageRgb8(RgbImage::from_fn(3, 2, |x, y| {
            Rgb([(x * 80) as u8, (y * 120) as u8, 7])
        }));
        let _ = query_variants(&tiny);
        let odd = Region { cx: f32::NAN, cy: f32::INFINITY, w: -1.0, h: 1e30, degrees: f32::NAN };
        let _ = region_pdq(&tiny, &odd);
    }

    #[test]
    fn flat_images_give_no_listed_variants() {
        let flat = DynamicImage::ImageRgb8(RgbImage::from_pixel(100, 100, Rgb([9, 9, 9])));
        assert!(listed_variants(&flat).is_empty());
        assert!(extra_distance::<u8>(&[], &query_variants(&flat)).is_none());
    }

    #[test]
    fn inscribed_scale_is_sane() {
        assert!((inscribed_scale(481, 321, 0.0) - 1.0).abs() < 1e-6);
        let s = inscribed_scale(481, 321, 5.0);
        assert!((s - 0.887).abs() < 0.005, "{s}");
        assert_eq!(inscribed_scale(481, 321, -5.0), s);
    }
}
