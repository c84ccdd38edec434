//! Hashing an image file's bytes: exact hashes always, PDQ (and optional secondary hashes) when
//! the bytes decode.

use crate::decode::{self, ImageInfo};
use crate::digest::ExactHashes;
use crate::error::{Error, Format};
use crate::limits::{Limits, checked_vec};
use crate::pdq::{self, Pdq};
use crate::regions::LumaPlane;
use crate::secondary::Algo;

/// How PDQ reaches its 64x64 buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PdqMode {
    /// As fast as possible: DCT-domain scaled, luma-only JPEG decoding and block means, with the
    /// reference filter's weights applied per block. Within a few bits of `Reference`.
    #[default]
    Fast,
    /// The full-size decoded pixels through the reference pipeline: bit-exact with the C++ core.
    Reference,
}

impl PdqMode {
    /// `"fast"` or `"reference"`.
    pub fn name(self) -> &'static str {
        match self {
            PdqMode::Fast => "fast",
            PdqMode::Reference => "reference",
        }
    }
}

/// Options for [`hash_image`] and [`hash_bytes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashOptions {
    /// Fast (default) or reference PDQ.
    pub mode: PdqMode,
    /// Secondary perceptual hashes to compute as well (each needs a full decode).
    pub algos: Vec<Algo>,
    /// Resource limits.
    pub limits: Limits,
    /// Also keep a small luma plane (about 100 pixels a side) for region hashes
    /// ([`crate::regions`]): the listed side of an index with regions, and queries that plain
    /// PDQ does not match. Cheap: it is taken from the pixels or block means PDQ reads anyway.
    pub regions: bool,
}

/// How the PDQ input was obtained (for diagnostics and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdqPath {
    /// Full-size decode, reference pipeline.
    Full,
    /// A plane of `n x n` block means (DCT-scaled JPEG decode or box-downsampled pixels).
    Blocks(u8),
}

/// The perceptual hashes of one decoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHashes {
    /// Format and stored dimensions.
    pub info: ImageInfo,
    /// PDQ hash, quality and dihedral variants.
    pub pdq: Pdq,
    /// How PDQ's input was obtained.
    pub path: PdqPath,
    /// The requested secondary hashes, in request order.
    pub extra: Vec<(Algo, Vec<u8>)>,
    /// The luma plane for region hashes, when [`HashOptions::regions`] asked for it.
    pub plane: Option<LumaPlane>,
}

/// Exact hashes of the bytes, and the perceptual hashes or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Always computed, whatever the decoder says.
    pub exact: ExactHashes,
    /// The perceptual hashes, or the decoding error.
    pub image: Result<ImageHashes, Error>,
}

/// Exact and perceptual hashes of a file's bytes.
///
/// ```
/// use schoon_core::{hash_bytes, HashOptions};
/// let report = hash_bytes(b"definitely not an image", &HashOptions::default());
/// assert_eq!(report.exact.bytes, 23);
/// assert!(report.image.is_err());
/// ```
pub fn hash_bytes(bytes: &[u8], options: &HashOptions) -> Report {
    Report { exact: ExactHashes::of(bytes), image: hash_image(bytes, options) }
}

/// The smallest filter window (reference tent, in pixels) per pixel of block size for which the
/// fast path replaces pixels by block means. Measured on the corpus: see the crate README.
const WINDOW_PER_BLOCK: usize = 2;

/// The block size the fast path uses for an image of this size: the largest of 8, 4, 2 whose
/// blocks stay small against the reference filter window, or 1 (full size).
pub fn fast_block_size(width: u32, height: u32) -> u8 {
    let window = pdq_window(width.min(height) as usize);
    [8u8, 4, 2].into_iter().find(|&b| window >= WINDOW_PER_BLOCK * usize::from(b)).unwrap_or(1)
}

fn pdq_window(n: usize) -> usize {
    n.div_ceil(128)
}

/// Perceptual hashes of an image file's bytes.
///
/// In [`PdqMode::Fast`], an image whose block-mean estimate is unreliable (fine periodic
/// textures, see [`pdq::hash_block_means_checked`]) is hashed from its full-size pixels
/// instead, through the reference pipeline ([`PdqPath::Full`]).
pub fn hash_image(bytes: &[u8], options: &HashOptions) -> Result<ImageHashes, Error> {
    hash_image_as(bytes, options, false)
}

/// [`hash_image`]; `full` skips the block means (the fast path found them unreliable).
fn hash_image_as(bytes: &[u8], options: &HashOptions, full: bool) -> Result<ImageHashes, Error> {
    let limits = &options.limits;
    limits.check_input(bytes.len() as u64)?;
    let format = decode::sniff(bytes)?;
    let mut full = full || options.mode == PdqMode::Reference;
    if !full && options.algos.is_empty() && format == Format::Jpeg {
        match fast_jpeg(bytes, limits, options.regions)? {
            FastJpeg::Done(done) => return Ok(*done),
            FastJpeg::Unreliable => full = true,
            FastJpeg::NotApplicable => {}
        }
    }
    let (info, image) = decode::decode(bytes, limits)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let pixels = decode::as_8bit(&image, info.format, limits)?;
    let (samples, channels) = pixels.samples();
    let mut block = if full { 1 } else { fast_block_size(info.width, info.height) };
    let mut pdq = None;
    if block > 1 {
        let plane = block_means_from_pixels(samples, channels, w, h, usize::from(block), limits)?;
        let b = usize::from(block);
        let (estimate, reliable) = pdq::hash_block_means_checked(&plane, b, b, w, h)?;
        if reliable {
            pdq = Some(estimate);
        } else {
            block = 1;
        }
    }
    let pdq = match pdq {
        Some(pdq) => pdq,
        None => {
            // Luma plus the filter's scratch buffer, both full size.
            limits
                .check_alloc((image.as_bytes().len() as u64).saturating_add(8 * (w * h) as u64))?;
            let luma = pdq::luma_from_pixels(samples, w, h, channels, limits)?;
            pdq::hash_luma(luma, w, h, limits)?
        }
    };
    let extra =
        options.algos.iter().map(|&a| Ok((a, a.hash(&image)?))).collect::<Result<_, Error>>()?;
    let path = if block == 1 { PdqPath::Full } else { PdqPath::Blocks(block) };
    let plane =
        options.regions.then(|| LumaPlane::from_pixels(samples, channels, info.width, info.height));
    Ok(ImageHashes { info, pdq, path, extra, plane })
}

/// PDQ of 8-bit pixels a platform decoded (interleaved, `channels` 1 = grey, 2 = grey and
/// alpha, 3 = RGB, 4 = RGBA; alpha is dropped), hashed as [`hash_image`] hashes a decoded
/// image of that size: in [`PdqMode::Fast`] through the block means of [`fast_block_size`]
/// (or the reference pipeline where they are unreliable, as in [`hash_image`]), in
/// [`PdqMode::Reference`] through the reference pipeline. The same pixels give the same hash
/// as decoding the file here (a browser's `ImageDecoder` output, for instance).
///
/// ```
/// use schoon_core::{PdqMode, PdqPath, pdq_of_pixels};
/// let rgba = vec![90u8; 1024 * 768 * 4];
/// let (pdq, path) = pdq_of_pixels(&rgba, 1024, 768, 4, PdqMode::Fast, &Default::default())?;
/// assert_eq!((pdq.quality, path), (0, PdqPath::Blocks(2)));
/// # Ok::<(), schoon_core::Error>(())
/// ```
pub fn pdq_of_pixels(
    samples: &[u8],
    width: u32,
    height: u32,
    channels: usize,
    mode: PdqMode,
    limits: &Limits,
) -> Result<(Pdq, PdqPath), Error> {
    limits.check_dimensions(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let block = match mode {
        PdqMode::Fast => fast_block_size(width, height),
        PdqMode::Reference => 1,
    };
    let full = |limits: &Limits| -> Result<(Pdq, PdqPath), Error> {
        limits.check_alloc((samples.len() as u64).saturating_add(8 * (w * h) as u64))?;
        let luma = pdq::luma_from_pixels(samples, w, h, channels, limits)?;
        Ok((pdq::hash_luma(luma, w, h, limits)?, PdqPath::Full))
    };
    if block == 1 {
        return full(limits);
    }
    // The buffer checks of the reference entry point, without its full-size luma buffer.
    if !(1..=4).contains(&channels) {
        return Err(Error::caller(format!(
            "unsupported channel count {channels}: expected 1 to 4"
        )));
    }
    if Some(samples.len()) != w.checked_mul(h).and_then(|n| n.checked_mul(channels)) {
        return Err(Error::caller(format!(
            "pixel buffer has {} bytes, expected {w}x{h}x{channels}",
            samples.len()
        )));
    }
    let b = usize::from(block);
    let plane = block_means_from_pixels(samples, channels, w, h, b, limits)?;
    match pdq::hash_block_means_checked(&plane, b, b, w, h)? {
        (pdq, true) => Ok((pdq, PdqPath::Blocks(block))),
        (_, false) => full(limits),
    }
}

/// What the JPEG fast path made of a file.
enum FastJpeg {
    /// Hashed from block means.
    Done(Box<ImageHashes>),
    /// Decoded, but the block-mean estimate is unreliable: hash the full-size pixels.
    Unreliable,
    /// Not for the fast path: the full decoder decides.
    NotApplicable,
}

/// The JPEG fast path: DCT-domain scaled, luma-only decoding straight to block means.
/// `NotApplicable` when this file needs the full decoder (small images, CMYK, arithmetic
/// coding, or anything the reduced decoder refuses).
fn fast_jpeg(bytes: &[u8], limits: &Limits, regions: bool) -> Result<FastJpeg, Error> {
    let Ok(header) = schoon_jpeg::read_header(bytes) else { return Ok(FastJpeg::NotApplicable) };
    limits.check_dimensions(header.width, header.height)?;
    let block = fast_block_size(header.width, header.height);
    let scale = match block {
        8 => schoon_jpeg::Scale::Eighth,
        4 => schoon_jpeg::Scale::Quarter,
        2 => schoon_jpeg::Scale::Half,
        _ => return Ok(FastJpeg::NotApplicable),
    };
    if !decode::jpeg_is_complete(bytes) {
        return Err(Error::image(
            Format::Jpeg,
            "truncated: no end-of-image marker after the scan data",
        ));
    }
    let Ok(luma) = schoon_jpeg::decode_luma(bytes, scale, &jpeg_limits(limits)) else {
        return Ok(FastJpeg::NotApplicable);
    };
    fast_from_luma(&luma, block, regions)
}

/// The fast path's answer from the reduced luma plane of `block`-pixel block means.
fn fast_from_luma(luma: &schoon_jpeg::Luma, block: u8, regions: bool) -> Result<FastJpeg, Error> {
    let (width, height) = (luma.full_width, luma.full_height);
    let b = usize::from(block);
    let (pdq, reliable) =
        pdq::hash_block_means_checked(&luma.pixels, b, b, width as usize, height as usize)?;
    if !reliable {
        return Ok(FastJpeg::Unreliable);
    }
    let info = ImageInfo { format: Format::Jpeg, width, height };
    let plane = regions.then(|| LumaPlane::from_block_means(&luma.pixels, b, width, height));
    Ok(FastJpeg::Done(Box::new(ImageHashes {
        info,
        pdq,
        path: PdqPath::Blocks(block),
        extra: Vec::new(),
        plane,
    })))
}

fn jpeg_limits(limits: &Limits) -> schoon_jpeg::Limits {
    schoon_jpeg::Limits {
        max_width: limits.max_width,
        max_height: limits.max_height,
        max_pixels: limits.max_pixels,
    }
}

/// Whether [`hash_image`] would take the fast path at 1/8 scale for these bytes: the case
/// [`jpeg_head`] and [`jpeg_tail`] split.
fn splits(bytes: &[u8], options: &HashOptions) -> bool {
    let limits = &options.limits;
    options.mode == PdqMode::Fast
        && options.algos.is_empty()
        && limits.check_input(bytes.len() as u64).is_ok()
        && decode::sniff(bytes).is_ok_and(|f| f == Format::Jpeg)
        && schoon_jpeg::read_header(bytes).is_ok_and(|h| {
            limits.check_dimensions(h.width, h.height).is_ok()
                && fast_block_size(h.width, h.height) == 8
        })
        && decode::jpeg_is_complete(bytes)
}

/// The second part of a large JPEG's fast-path decode (see [`jpeg_head`]): the image's
/// first scan decoded from about byte `split` to its end on its own.
pub use schoon_jpeg::Tail as JpegTail;

/// The first part of a large JPEG's fast-path decode, from the start to a little past byte
/// `split`, kept until [`hash_image_joined`] joins it with the [`JpegTail`] that
/// [`jpeg_tail`] decodes meanwhile (on another thread or worker: two cores hash one photo
/// in about half the time). `None` when [`hash_image`] would not decode these bytes on the
/// 1/8-scale fast path (small images, progressive or restart-coded files, other formats,
/// reference mode, extra algorithms, bad input): call [`hash_image`] then.
///
/// ```
/// use schoon_core::{HashOptions, hash_image, hash_image_joined, jpeg_head, jpeg_tail};
/// # let photo = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/listed/known-1.jpg"))?;
/// let options = HashOptions::default();
/// let split = photo.len() / 2;
/// let tail = jpeg_tail(&photo, split, &options); // elsewhere, at the same time
/// let hashes = match jpeg_head(&photo, split, &options) {
///     Some(head) => hash_image_joined(&photo, &options, head, tail.as_ref())?,
///     None => hash_image(&photo, &options)?,
/// };
/// assert_eq!(hashes, hash_image(&photo, &options)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn jpeg_head(bytes: &[u8], split: usize, options: &HashOptions) -> Option<JpegHead> {
    if !splits(bytes, options) {
        return None;
    }
    let limits = jpeg_limits(&options.limits);
    let head =
        schoon_jpeg::decode_head(bytes, split, schoon_jpeg::Scale::Eighth, &limits).ok()??;
    Some(JpegHead { head, len: bytes.len() })
}

/// See [`jpeg_head`]: `None` where it does not apply.
pub fn jpeg_tail(bytes: &[u8], split: usize, options: &HashOptions) -> Option<JpegTail> {
    if !splits(bytes, options) {
        return None;
    }
    let limits = jpeg_limits(&options.limits);
    schoon_jpeg::decode_tail(bytes, split, schoon_jpeg::Scale::Eighth, &limits).ok()?
}

/// The first part of a split fast-path decode ([`jpeg_head`]).
#[derive(Debug)]
pub struct JpegHead {
    head: schoon_jpeg::Head,
    len: usize,
}

impl JpegHead {
    /// Whether `tail`, decoded from the same `bytes` and split point, falls into step with
    /// this head, so that [`hash_image_joined`] takes the rest of the scan from it (and does
    /// not decode it again).
    pub fn meets(&self, tail: &JpegTail, bytes: &[u8]) -> bool {
        self.head.meets(tail, bytes).is_some()
    }
}

/// [`hash_image`] of `bytes` from the two parts of a split decode: the same answer, bit for
/// bit. A tail of other bytes, or none, costs time, never correctness: the rest of the
/// scan is then decoded here. `head` must come from [`jpeg_head`] on the same bytes and
/// options (otherwise this is [`hash_image`]).
pub fn hash_image_joined(
    bytes: &[u8],
    options: &HashOptions,
    head: JpegHead,
    tail: Option<&JpegTail>,
) -> Result<ImageHashes, Error> {
    if head.len != bytes.len() || !splits(bytes, options) {
        return hash_image(bytes, options);
    }
    let limits = jpeg_limits(&options.limits);
    match schoon_jpeg::decode_luma_joined(
        bytes,
        schoon_jpeg::Scale::Eighth,
        &limits,
        head.head,
        tail,
    ) {
        // The joined plane is the one-pass plane, bit for bit: the same verdict on it.
        Ok(luma) => match fast_from_luma(&luma, 8, options.regions)? {
            FastJpeg::Done(done) => Ok(*done),
            _ => hash_image_as(bytes, options, true),
        },
        // What the fast path does with a file it cannot decode: the full decoder.
        Err(_) => hash_image(bytes, options),
    }
}

/// Block means of the luma of interleaved 8-bit pixels, one image row at a time.
fn block_means_from_pixels(
    samples: &[u8],
    channels: usize,
    width: usize,
    height: usize,
    block: usize,
    limits: &Limits,
) -> Result<Vec<f32>, Error> {
    let pw = width.div_ceil(block);
    let ph = height.div_ceil(block);
    let mut plane = checked_vec::<f32>(pw * ph, limits)?;
    let mut row = vec![0f32; width];
    let stride = width * channels;
    for (y, src) in samples.chunks_exact(stride).take(height).enumerate() {
        pdq::fill_luma(src, channels, &mut row);
        let out = plane.chunks_exact_mut(pw).nth(y / block).unwrap_or_default();
        for (o, chunk) in out.iter_mut().zip(row.chunks(block)) {
            *o += chunk.iter().sum::<f32>();
        }
    }
    for (by, out) in plane.chunks_exact_mut(pw).enumerate() {
        let bh = block.min(height - by * block);
        for (bx, o) in out.iter_mut().enumerate() {
            let bw = block.min(width - bx * block);
            *o /= (bw * bh) as f32;
        }
    }
    Ok(plane)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_pixels_hash_like_a_decode_here() {
        let img = image::RgbImage::from_fn(1100, 830, |x, y| {
            let v = ((x * 7 + y * 3) % 251) as u8;
            image::Rgb([v, ((x / 40 + y / 30) % 2 * 200) as u8, (y % 256) as u8])
        });
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        for mode in [PdqMode::Fast, PdqMode::Reference] {
            let options = HashOptions { mode, ..Default::default() };
            let decoded = hash_image(&png, &options).unwrap();
            let (pdq, path) =
                pdq_of_pixels(img.as_raw(), 1100, 830, 3, mode, &Limits::default()).unwrap();
            assert_eq!((pdq, path), (decoded.pdq, decoded.path), "{mode:?}");
        }
        let e = pdq_of_pixels(&[0; 10], 1100, 830, 3, PdqMode::Fast, &Limits::default());
        assert_eq!(e.unwrap_err().kind(), crate::ErrorKind::Caller);
        let e = pdq_of_pixels(&[0; 10], 1100, 830, 5, PdqMode::Fast, &Limits::default());
        assert!(e.unwrap_err().to_string().contains("channel count 5"));
    }
}
