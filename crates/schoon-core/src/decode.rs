//! Decoding from bytes (never from paths) under [`Limits`].

// Without any format feature no decoder is ever opened: `open` only refuses.
#![cfg_attr(
    not(any(
        feature = "jpeg",
        feature = "png",
        feature = "webp",
        feature = "gif",
        feature = "bmp"
    )),
    allow(dead_code, unused_variables)
)]

use std::borrow::Cow;
use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError};

use crate::error::{BadInput, Error, Format, LimitKind, Unsupported};
use crate::limits::{Limits, exceeded};

/// What the header of an image says, read without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// The container format.
    pub format: Format,
    /// Width in pixels, as stored (EXIF orientation is not applied).
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
}

/// Identifies the format from the first bytes.
///
/// ```
/// use schoon_core::{decode::sniff, Format};
/// assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....")?, Format::Png);
/// assert!(sniff(b"").is_err());
/// # Ok::<(), schoon_core::Error>(())
/// ```
pub fn sniff(bytes: &[u8]) -> Result<Format, Error> {
    if bytes.is_empty() {
        return Err(Error::BadInput(BadInput::Empty));
    }
    let Some(name) = format_name(bytes) else {
        let magic = crate::hex::encode(&bytes[..bytes.len().min(8)]);
        return Err(Error::BadInput(BadInput::UnknownFormat { magic }));
    };
    [Format::Jpeg, Format::Png, Format::Gif, Format::Webp, Format::Bmp]
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| Error::Unsupported(Unsupported::Format { name: name.to_owned() }))
}

/// The lowercase name of the image format the first bytes announce, whether or not schoon
/// decodes it (`"jpeg"`, `"png"`, `"gif"`, `"webp"`, `"bmp"`, and `"avif"`, `"heif"`,
/// `"tiff"`, `"jpeg xl"`, `"qoi"`, `"ico"`); `None` for bytes that are no known image. The one
/// signature table: [`sniff`] and the browser guard (`sniffFormat`) both read it.
///
/// ```
/// use schoon_core::decode::format_name;
/// assert_eq!(format_name(b"GIF89a..."), Some("gif"));
/// assert_eq!(format_name(b"\0\0\0\x1cftypavif"), Some("avif"));
/// assert_eq!(format_name(b"# README"), None);
/// ```
pub fn format_name(bytes: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("gif")
    } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("webp")
    } else if starts(b"BM") {
        Some("bmp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("tiff")
    } else if bytes.get(4..8) == Some(b"ftyp") {
        match bytes.get(8..12) {
            Some(b"avif") | Some(b"avis") => Some("avif"),
            Some(b"heic") | Some(b"heix") | Some(b"mif1") | Some(b"msf1") => Some("heif"),
            _ => None,
        }
    } else if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL ") {
        Some("jpeg xl")
    } else if starts(b"qoif") {
        Some("qoi")
    } else if starts(&[0, 0, 1, 0]) {
        Some("ico")
    } else {
        None
    }
}

/// Whether this build decodes `format` (the core's `jpeg`, `png`, `webp`, `gif` and `bmp`
/// features, all on by default). The JPEG fast path does not depend on it.
///
/// ```
/// assert!(schoon_core::decode::is_compiled(schoon_core::Format::Png) == cfg!(feature = "png"));
/// ```
pub fn is_compiled(format: Format) -> bool {
    match format {
        #[cfg(feature = "jpeg")]
        Format::Jpeg => true,
        #[cfg(feature = "png")]
        Format::Png => true,
        #[cfg(feature = "webp")]
        Format::Webp => true,
        #[cfg(feature = "gif")]
        Format::Gif => true,
        #[cfg(feature = "bmp")]
        Format::Bmp => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Refuses a format whose decoder is not compiled into this build.
fn check_compiled(format: Format) -> Result<(), Error> {
    if is_compiled(format) {
        return Ok(());
    }
    Err(not_compiled(format))
}

fn not_compiled(format: Format) -> Error {
    Error::Unsupported(Unsupported::Format { name: format!("{format} (not in this build)") })
}

fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    // Dimensions are checked by `Limits::check_dimensions` right after the header is read, with
    // a message naming the value; the decoders enforce the allocation budget themselves.
    l.max_image_width = None;
    l.max_image_height = None;
    l.max_alloc = Some(limits.max_alloc);
    l
}

/// Maps an `image` error onto the core's groups.
fn map_error(format: Format, e: ImageError, limits: &Limits) -> Error {
    match e {
        // The decoders report no value: 0 stands for "unknown".
        ImageError::Limits(_) => exceeded(LimitKind::Alloc, 0, limits.max_alloc),
        ImageError::Unsupported(u) => Error::Unsupported(Unsupported::Feature {
            format,
            what: lowercase_first(&u.to_string()),
        }),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::image(format, "truncated: unexpected end of data")
        }
        other => Error::image(format, lowercase_first(&other.to_string())),
    }
}

/// Lowercases the first letter of a decoder's message (ASCII only: the decoders' messages are
/// English, and Unicode case tables would cost the WASM module 6 KB).
fn lowercase_first(s: &str) -> String {
    let mut out = s.trim_end_matches('.').to_owned();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    out
}

/// PNG chunks that never change the stored pixels but that the `png` decoder would inflate:
/// colour profiles, compressed and international text, and EXIF. A few hundred bytes of
/// `iCCP` can inflate to hundreds of megabytes, so they are removed before decoding.
const PNG_DROPPED_CHUNKS: [&[u8; 4]; 5] = [b"iCCP", b"zTXt", b"iTXt", b"tEXt", b"eXIf"];

/// Returns the PNG without the chunks in [`PNG_DROPPED_CHUNKS`] (borrowed when it has none).
/// A malformed chunk structure is left as it is for the decoder to report.
pub(crate) fn strip_png_ancillary(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut keep: Vec<(usize, usize)> = Vec::new();
    let mut pos = 8usize;
    let mut run_start = 0usize;
    let mut dropped = false;
    while let Some(header) = bytes.get(pos..pos + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let Some(end) = pos.checked_add(12).and_then(|e| e.checked_add(len)) else {
            break;
        };
        if end > bytes.len() {
            break;
        }
        if PNG_DROPPED_CHUNKS.iter().any(|k| &header[4..8] == *k) {
            keep.push((run_start, pos));
            run_start = end;
            dropped = true;
        }
        if &header[4..8] == b"IEND" {
            break;
        }
        pos = end;
    }
    if !dropped {
        return Cow::Borrowed(bytes);
    }
    keep.push((run_start, bytes.len()));
    let mut out = Vec::with_capacity(bytes.len());
    for (a, b) in keep {
        out.extend_from_slice(&bytes[a..b]);
    }
    Cow::Owned(out)
}

/// Opens the format's decoder as `image::ImageReader::into_decoder` does (the decoder's own
/// constructor, then `set_limits`) and hands it to `then` with its concrete type. Through the
/// reader's boxed `dyn ImageDecoder`, every decoder's metadata readers (EXIF, XMP, IPTC, ICC)
/// and the reader's format hooks stayed in the WebAssembly module, unused.
fn open<T: Then>(bytes: &[u8], format: Format, limits: &Limits, then: T) -> Result<T::Out, Error> {
    #[allow(unused_imports)]
    use image::codecs;
    fn set_limits<D: ImageDecoder>(
        decoder: image::ImageResult<D>,
        limits: &Limits,
    ) -> image::ImageResult<D> {
        let mut decoder = decoder?;
        decoder.set_limits(image_limits(limits))?;
        Ok(decoder)
    }
    let r = Cursor::new(bytes);
    let e = |e| map_error(format, e, limits);
    match format {
        #[cfg(feature = "jpeg")]
        Format::Jpeg => {
            then.then(set_limits(codecs::jpeg::JpegDecoder::new(r), limits).map_err(e)?, format)
        }
        #[cfg(feature = "png")]
        Format::Png => then.then(
            set_limits(codecs::png::PngDecoder::with_limits(r, image_limits(limits)), limits)
                .map_err(e)?,
            format,
        ),
        #[cfg(feature = "webp")]
        Format::Webp => {
            then.then(set_limits(codecs::webp::WebPDecoder::new(r), limits).map_err(e)?, format)
        }
        #[cfg(feature = "gif")]
        Format::Gif => {
            then.then(set_limits(codecs::gif::GifDecoder::new(r), limits).map_err(e)?, format)
        }
        #[cfg(feature = "bmp")]
        Format::Bmp => {
            then.then(set_limits(codecs::bmp::BmpDecoder::new(r), limits).map_err(e)?, format)
        }
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(format)),
    }
}

/// What [`open`] does with a decoder: [`probe`] reads its header, [`decode`] its pixels.
trait Then {
    type Out;
    fn then<D: ImageDecoder>(self, decoder: D, format: Format) -> Result<Self::Out, Error>;
}

/// Whether a JPEG has an end-of-image marker after its first scan. Decoders fill a cut-off
/// scan with grey and report success; a hash of half an image must not pass for the image's
/// hash, so a missing EOI is reported as truncation.
pub(crate) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut pos = 2usize;
    // Walk marker segments up to the first start-of-scan.
    loop {
        let Some(&[0xFF, marker]) = bytes.get(pos..pos + 2) else {
            return false;
        };
        match marker {
            0xFF => pos += 1, // fill byte
            0xDA => break,
            0xD0..=0xD7 | 0x01 => pos += 2,
            _ => {
                let Some(&[hi, lo]) = bytes.get(pos + 2..pos + 4) else {
                    return false;
                };
                pos += 2 + usize::from(u16::from_be_bytes([hi, lo]));
            }
        }
    }
    // Entropy-coded data never contains 0xFF 0xD9: stuffing turns data 0xFF into 0xFF 0x00.
    // The marker is normally at the very end, so search backwards.
    bytes.get(pos..).is_some_and(|rest| rest.windows(2).rev().any(|w| w == [0xFF, 0xD9]))
}

/// The dimensions a file's header declares, read directly so that the limits are checked (with
/// the values in the message) before any decoder sees the file. `None` when the header is too
/// short or of a layout not covered here; the decoder then reads it.
pub(crate) fn header_dimensions(format: Format, b: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
    let le16 = |at: usize| b.get(at..at + 2).map(|x| u32::from(u16::from_le_bytes([x[0], x[1]])));
    let le24 = |at: usize| b.get(at..at + 3).map(|x| u32::from_le_bytes([x[0], x[1], x[2], 0]));
    let le32 = |at: usize| b.get(at..at + 4).map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]));
    match format {
        Format::Png if b.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        Format::Gif => Some((le16(6)?, le16(8)?)),
        Format::Bmp => match le32(14)? {
            12 => Some((le16(18)?, le16(20)?)),
            n if n >= 40 => {
                let w = le32(18)? as i32;
                let h = le32(22)? as i32;
                Some((w.unsigned_abs(), h.unsigned_abs()))
            }
            _ => None,
        },
        Format::Webp => match b.get(12..16)? {
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let bits = le32(21)?;
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            _ => None,
        },
        Format::Jpeg => schoon_jpeg::read_header(b).ok().map(|h| (h.width, h.height)),
        _ => None,
    }
}

fn sanitized(bytes: &[u8], format: Format) -> Cow<'_, [u8]> {
    match format {
        Format::Png => strip_png_ancillary(bytes),
        _ => Cow::Borrowed(bytes),
    }
}

/// Reads the format and dimensions from the header, checking them against the limits.
///
/// ```
/// let err = schoon_core::decode::probe(b"not an image", &Default::default()).unwrap_err();
/// assert_eq!(err.to_string(), "not a supported image: unknown signature 6e6f7420616e2069");
/// ```
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<ImageInfo, Error> {
    limits.check_input(bytes.len() as u64)?;
    let format = sniff(bytes)?;
    if let Some((w, h)) = header_dimensions(format, bytes) {
        limits.check_dimensions(w, h)?;
    }
    check_compiled(format)?;
    struct Header<'a>(&'a Limits);
    impl Then for Header<'_> {
        type Out = ImageInfo;
        fn then<D: ImageDecoder>(self, decoder: D, format: Format) -> Result<ImageInfo, Error> {
            let (width, height) = decoder.dimensions();
            self.0.check_dimensions(width, height)?;
            Ok(ImageInfo { format, width, height })
        }
    }
    open(&sanitized(bytes, format), format, limits, Header(limits))
}

/// Decodes the image (the first frame of an animation) under the limits.
///
/// Dimensions are checked from the header before the pixel buffer is allocated, and the
/// decoded size is checked against [`Limits::max_alloc`].
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<(ImageInfo, DynamicImage), Error> {
    limits.check_input(bytes.len() as u64)?;
    let format = sniff(bytes)?;
    if let Some((w, h)) = header_dimensions(format, bytes) {
        limits.check_dimensions(w, h)?;
    }
    check_compiled(format)?;
    struct Pixels<'a>(&'a [u8], &'a Limits);
    impl Then for Pixels<'_> {
        type Out = (ImageInfo, DynamicImage);
        fn then<D: ImageDecoder>(self, decoder: D, format: Format) -> Result<Self::Out, Error> {
            let Pixels(bytes, limits) = self;
            let (width, height) = decoder.dimensions();
            if format == Format::Jpeg && !jpeg_is_complete(bytes) {
                return Err(Error::image(
                    format,
                    "truncated: no end-of-image marker after the scan data",
                ));
            }
            if width == 0 || height == 0 {
                return Err(Error::image(format, format!("zero-sized image {width}x{height}")));
            }
            limits.check_dimensions(width, height)?;
            limits.check_alloc(decoder.total_bytes())?;
            let image =
                DynamicImage::from_decoder(decoder).map_err(|e| map_error(format, e, limits))?;
            Ok((ImageInfo { format, width, height }, image))
        }
    }
    let bytes = sanitized(bytes, format);
    open(&bytes, format, limits, Pixels(&bytes, limits))
}

/// Converts any decoded image to interleaved 8-bit samples and their channel count (1, 2, 3 or
/// 4) without copying the common 8-bit layouts. Wider samples are converted to RGB as the
/// `image` crate's `to_rgb8` does (see [`wide_to_rgb8`]).
pub(crate) fn as_8bit<'a>(
    image: &'a DynamicImage,
    format: Format,
    limits: &Limits,
) -> Result<Pixels8<'a>, Error> {
    if let Some((samples, channels)) = borrowed_8bit(image) {
        return Ok(Pixels8::Borrowed(samples, channels));
    }
    let n = u64::from(image.width()) * u64::from(image.height()) * 3;
    limits.check_alloc(n.saturating_add(image.as_bytes().len() as u64))?;
    match wide_to_rgb8(image) {
        Some(rgb) => Ok(Pixels8::Owned(rgb, 3)),
        None => Err(Error::Unsupported(Unsupported::Feature {
            format,
            what: format!("pixel layout {:?}", image.color()),
        })),
    }
}

/// The samples and channel count of the 8-bit layouts, as they are.
pub(crate) fn borrowed_8bit(image: &DynamicImage) -> Option<(&[u8], usize)> {
    match image {
        DynamicImage::ImageLuma8(b) => Some((b.as_raw(), 1)),
        DynamicImage::ImageLumaA8(b) => Some((b.as_raw(), 2)),
        DynamicImage::ImageRgb8(b) => Some((b.as_raw(), 3)),
        DynamicImage::ImageRgba8(b) => Some((b.as_raw(), 4)),
        _ => None,
    }
}

/// Interleaved RGB of an image with 16-bit or float samples, exactly as the `image` crate's
/// `to_rgb8` converts them: grey is copied to the three channels, alpha is dropped, 16-bit
/// samples become `round(v / 257)`, float samples are clamped to [0, 1] (NaN to 1) and scaled
/// to 255 with rounding. `None` for the 8-bit layouts and any the `image` crate may add.
///
/// Written out rather than calling `to_rgb8`, whose instantiations for every layout (through
/// f32 for grey) cost the WebAssembly module several kilobytes.
pub(crate) fn wide_to_rgb8(image: &DynamicImage) -> Option<Vec<u8>> {
    fn from_u16(v: u16) -> u8 {
        ((u32::from(v) + 128) / 257) as u8
    }
    fn from_f32(v: f32) -> u8 {
        let clamped = if v < 1.0 { v.max(0.0) } else { 1.0 };
        (clamped * 255.0).round() as u8
    }
    Some(match image {
        DynamicImage::ImageLuma16(b) => to_rgb8(b.as_raw(), 1, from_u16),
        DynamicImage::ImageLumaA16(b) => to_rgb8(b.as_raw(), 2, from_u16),
        DynamicImage::ImageRgb16(b) => to_rgb8(b.as_raw(), 3, from_u16),
        DynamicImage::ImageRgba16(b) => to_rgb8(b.as_raw(), 4, from_u16),
        DynamicImage::ImageRgb32F(b) => to_rgb8(b.as_raw(), 3, from_f32),
        DynamicImage::ImageRgba32F(b) => to_rgb8(b.as_raw(), 4, from_f32),
        _ => return None,
    })
}

/// RGB of interleaved samples with `channels` 1 to 4 (grey, grey and alpha, RGB, RGBA).
fn to_rgb8<T: Copy>(samples: &[T], channels: usize, convert: fn(T) -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() / channels * 3);
    for px in samples.chunks_exact(channels) {
        if channels < 3 {
            let grey = convert(px[0]);
            out.extend([grey; 3]);
        } else {
            out.extend([convert(px[0]), convert(px[1]), convert(px[2])]);
        }
    }
    out
}

/// 8-bit interleaved samples with their channel count.
pub(crate) enum Pixels8<'a> {
    Borrowed(&'a [u8], usize),
    Owned(Vec<u8>, usize),
}

impl Pixels8<'_> {
    pub(crate) fn samples(&self) -> (&[u8], usize) {
        match self {
            Pixels8::Borrowed(s, c) => (s, *c),
            Pixels8::Owned(v, c) => (v, *c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageFormat;

    #[test]
    fn wide_samples_convert_as_the_image_crate_does() {
        use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
        // Every 16-bit value, and floats around and outside [0, 1] with NaN and infinities.
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let mut floats: Vec<f32> = (0..=4000).map(|i| i as f32 / 3000.0 - 0.1).collect();
        floats.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.5 / 255.0]);
        floats.truncate(floats.len() / 12 * 12);
        let n = |len: usize, c: usize| (len / c) as u32;
        let images = [
            DynamicImage::ImageLuma16(
                ImageBuffer::<Luma<u16>, _>::from_raw(n(all.len(), 1), 1, all.clone()).unwrap(),
            ),
            DynamicImage::ImageLumaA16(
                ImageBuffer::<LumaA<u16>, _>::from_raw(n(all.len(), 2), 1, all.clone()).unwrap(),
            ),
            DynamicImage::ImageRgb16(
                ImageBuffer::<Rgb<u16>, _>::from_raw(n(all.len() - 1, 3), 1, all[1..].to_vec())
                    .unwrap(),
            ),
            DynamicImage::ImageRgba16(
                ImageBuffer::<Rgba<u16>, _>::from_raw(n(all.len(), 4), 1, all.clone()).unwrap(),
            ),
            DynamicImage::ImageRgb32F(
                ImageBuffer::<Rgb<f32>, _>::from_raw(n(floats.len(), 3), 1, floats.clone())
                    .unwrap(),
            ),
            DynamicImage::ImageRgba32F(
                ImageBuffer::<Rgba<f32>, _>::from_raw(n(floats.len(), 4), 1, floats.clone())
                    .unwrap(),
            ),
        ];
        for img in &images {
            let ours = wide_to_rgb8(img).unwrap();
            assert_eq!(ours, img.to_rgb8().into_raw(), "{:?}", img.color());
            let pixels = as_8bit(img, Format::Png, &Limits::default()).unwrap();
            assert_eq!(pixels.samples(), (&ours[..], 3));
        }
        let rgb8 = DynamicImage::ImageRgb8(image::RgbImage::new(2, 2));
        assert!(wide_to_rgb8(&rgb8).is_none());
        assert_eq!(borrowed_8bit(&rgb8), Some((&[0u8; 12][..], 3)));
    }

    #[test]
    fn header_dimensions_agree_with_the_decoders() {
        let img = image::RgbImage::from_fn(97, 61, |x, y| image::Rgb([x as u8, y as u8, 7]));
        for (format, f) in [
            (Format::Png, ImageFormat::Png),
            (Format::Gif, ImageFormat::Gif),
            (Format::Bmp, ImageFormat::Bmp),
            (Format::Webp, ImageFormat::WebP),
            (Format::Jpeg, ImageFormat::Jpeg),
        ] {
            let mut bytes = Vec::new();
            img.write_to(&mut Cursor::new(&mut bytes), f).unwrap();
            assert_eq!(header_dimensions(format, &bytes), Some((97, 61)), "{format}");
            let (info, _) = decode(&bytes, &Limits::default()).unwrap();
            assert_eq!((info.width, info.height), (97, 61));
            // Truncated headers give None, never a panic.
            for len in 0..40.min(bytes.len()) {
                let _ = header_dimensions(format, &bytes[..len]);
            }
        }
    }
}
