//! Reduced-size luma decoding of JPEG images in the DCT domain.
//!
//! PDQ only looks at a ~64x64 luma image after a tent-filter blur, so fully
//! decoding a 12-megapixel photo is mostly wasted work. This crate decodes a
//! JPEG straight to a *reduced* luma plane, the way libjpeg's `scale_denom`
//! does, but computing exact box means of the full-resolution luma:
//!
//! * [`Scale::Eighth`]: each 8x8 block becomes its DC value (the block mean);
//!   the AC coefficients are only skipped, never reconstructed.
//! * [`Scale::Quarter`]: each 8x8 block becomes the 2x2 means of its four 4x4
//!   quadrants (a reduced inverse DCT).
//! * [`Scale::Half`]: each 8x8 block becomes the 4x4 means of its 2x2 cells.
//!
//! Only the luma component is reconstructed (for RGB-coded JPEGs, the three
//! reduced planes are combined as `0.299 R + 0.587 G + 0.114 B`); chroma
//! entropy data is skipped as cheaply as the format allows.
//!
//! Supported: baseline (SOF0), extended Huffman 8-bit (SOF1) and progressive
//! Huffman (SOF2) frames with one (grey) or three (YCbCr or RGB) components,
//! any sampling factors 1..=4, restart intervals, multi-scan sequential files.
//! Everything else (arithmetic coding, lossless, hierarchical, 12/16-bit,
//! CMYK/YCCK) returns [`Error::Unsupported`] so that the caller can fall back
//! to a full decoder.
//!
//! # Two-part decoding
//!
//! A large photo's first scan can be decoded by two threads (or two browser workers):
//! [`decode_head`] from the start, [`decode_tail`] from a byte in the middle, joined by
//! [`decode_luma_joined`] into exactly the plane [`decode_luma`] gives. The tail falls into
//! step with the real sequence of Huffman codes within a few MCUs; from the first MCU start
//! both parts share, its DC differences are those of one pass.
//!
//! # Damaged data
//!
//! Truncated or corrupt *entropy-coded* data is not an error, as in libjpeg:
//! the decoder uses what is there, and blocks whose data is missing keep zero
//! coefficients (sequential files: mid-grey 128; progressive files: whatever
//! the earlier scans gave). A file that ends before its first scan, or whose
//! marker segments are malformed, is an error. Decoding never panics and
//! never loops forever; all allocations are bounded by the reduced output size
//! plus the per-block coefficient storage actually needed, after the declared
//! size has passed [`Limits`].
//!
//! # Example
//!
//! ```
//! use schoon_jpeg::{decode_luma, read_header, Limits, Scale};
//!
//! // A tiny 16x8 greyscale JPEG: the left 8x8 block is black, the right one white.
//! let jpeg: &[u8] = &[
//!     0xFF, 0xD8, // SOI
//!     0xFF, 0xDB, 0x00, 0x43, 0x00, // DQT, table 0, all quantisers 1
//!     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
//!     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
//!     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
//!     0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x08, 0x00, 0x10, 1, 1, 0x11, 0, // SOF0 16x8, 1 component
//!     // DHT DC table 0: one 4-bit code (0000) for category 11
//!     0xFF, 0xC4, 0x00, 0x14, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
//!     // DHT AC table 0: one 1-bit code (0) for EOB
//!     0xFF, 0xC4, 0x00, 0x14, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00,
//!     0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0, // SOS
//!     // block 1: DC diff -1024 (mean -128 -> 0), EOB; block 2: DC diff +2040 (mean +127 -> 255), EOB
//!     0x07, 0xFE, 0x0F, 0xF0,
//!     0xFF, 0xD9, // EOI
//! ];
//! let header = read_header(jpeg)?;
//! assert_eq!((header.width, header.height, header.components), (16, 8, 1));
//!
//! let luma = decode_luma(jpeg, Scale::Eighth, &Limits::default())?;
//! assert_eq!((luma.width, luma.height), (2, 1));
//! assert_eq!(luma.pixels, vec![0.0, 255.0]);
//! # Ok::<(), schoon_jpeg::Error>(())
//! ```

#![forbid(unsafe_code)]

mod bits;
mod decode;
mod exif;
mod huffman;
mod markers;
mod project;

use core::fmt;

/// Output scale of [`decode_luma`], relative to the declared image size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scale {
    /// `ceil(W/2) x ceil(H/2)`: 4x4 outputs per 8x8 block.
    Half,
    /// `ceil(W/4) x ceil(H/4)`: 2x2 outputs per 8x8 block.
    Quarter,
    /// `ceil(W/8) x ceil(H/8)`: one output (the DC mean) per 8x8 block.
    Eighth,
}

impl Scale {
    /// The linear reduction factor: 2, 4 or 8.
    pub const fn factor(self) -> u32 {
        match self {
            Scale::Half => 2,
            Scale::Quarter => 4,
            Scale::Eighth => 8,
        }
    }

    /// Outputs per 8 input samples along one axis: 4, 2 or 1.
    pub(crate) const fn per_block(self) -> usize {
        match self {
            Scale::Half => 4,
            Scale::Quarter => 2,
            Scale::Eighth => 1,
        }
    }
}

/// Colour model of the coded components, as a decoder would interpret it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColorKind {
    /// One component.
    Grey,
    /// Three components, Y'CbCr (JFIF, or Adobe transform 1, or the default).
    YCbCr,
    /// Three components coded as R, G, B (Adobe transform 0, or component ids 'R','G','B' without JFIF).
    Rgb,
    /// Four components, CMYK (Adobe transform 0 or no Adobe marker).
    Cmyk,
    /// Four components, YCCK (Adobe transform 2).
    Ycck,
    /// Any other number of components (the value is the count).
    Other(u8),
}

/// What [`read_header`] reports about a JPEG file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Declared width in pixels (never 0).
    pub width: u32,
    /// Declared height in pixels (never 0).
    pub height: u32,
    /// Number of components in the frame.
    pub components: u8,
    /// Whether the frame is progressive (SOF2).
    pub progressive: bool,
    /// Colour model of the components.
    pub color: ColorKind,
    /// EXIF orientation (1..=8) from the APP1 Exif segment, if present and valid.
    /// The decoder never rotates; this is for the caller.
    pub exif_orientation: Option<u8>,
}

/// Limits on the *declared* (full-size) image, checked before any allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest accepted width in pixels.
    pub max_width: u32,
    /// Largest accepted height in pixels.
    pub max_height: u32,
    /// Largest accepted `width * height`.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_width: 16384, max_height: 16384, max_pixels: 100_000_000 }
    }
}

/// A reduced-size luma plane.
#[derive(Clone, Debug, PartialEq)]
pub struct Luma {
    /// Width of the plane: `ceil(full_width / scale)`.
    pub width: u32,
    /// Height of the plane: `ceil(full_height / scale)`.
    pub height: u32,
    /// Declared width of the JPEG image.
    pub full_width: u32,
    /// Declared height of the JPEG image.
    pub full_height: u32,
    /// Row-major luma (Y' as in JFIF), each value clamped to `[0, 255]`.
    ///
    /// Each value is the mean of the full-resolution luma over its
    /// `scale x scale` cell. In the last column or row of a partial block the
    /// cell extends past the image edge, and the mean then includes the
    /// encoder's padding samples (usually a replica of the edge pixels).
    pub pixels: Vec<f32>,
}

/// A JPEG feature that this crate does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unsupported {
    /// Arithmetic entropy coding (SOF9..SOF15).
    Arithmetic,
    /// Lossless process (SOF3).
    Lossless,
    /// Hierarchical process (SOF5..SOF7, DHP, EXP).
    Hierarchical,
    /// Sample precision other than 8 bits (the value is the precision).
    Precision(u8),
    /// CMYK (4 components).
    Cmyk,
    /// YCCK (4 components, Adobe transform 2).
    Ycck,
    /// A component count other than 1 or 3 (the value is the count).
    Components(u8),
    /// An unknown or reserved start-of-frame marker (the value is the marker byte).
    Marker(u8),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Arithmetic => f.write_str("arithmetic coding"),
            Unsupported::Lossless => f.write_str("lossless jpeg"),
            Unsupported::Hierarchical => f.write_str("hierarchical jpeg"),
            Unsupported::Precision(p) => write!(f, "{p}-bit sample precision"),
            Unsupported::Cmyk => f.write_str("cmyk (4 components)"),
            Unsupported::Ycck => f.write_str("ycck (4 components)"),
            Unsupported::Components(n) => write!(f, "{n} components"),
            Unsupported::Marker(m) => write!(f, "frame marker 0xff{m:02x}"),
        }
    }
}

/// Why a JPEG could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The data does not start with an SOI marker (`FF D8`).
    NotJpeg,
    /// The data ends inside a marker segment, or before the frame / first scan.
    Truncated {
        /// Byte offset where more data was needed.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A marker segment is malformed.
    Malformed {
        /// Byte offset of the marker (its `0xFF` byte).
        offset: usize,
        /// The marker byte (the one after `0xFF`).
        marker: u8,
        /// What is wrong.
        what: &'static str,
        /// The offending value, where there is one.
        value: u32,
    },
    /// A feature this crate does not decode; fall back to a full decoder.
    Unsupported(Unsupported),
    /// The declared image size exceeds [`Limits`].
    LimitExceeded {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limits that were exceeded.
        limits: Limits,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotJpeg => f.write_str("not a jpeg: missing start-of-image marker"),
            Error::Truncated { offset, what } => {
                write!(f, "truncated jpeg: data ends at offset {offset} while reading {what}")
            }
            Error::Malformed { offset, marker, what, value } => write!(
                f,
                "malformed jpeg: {what} (value {value}) in {} segment at offset {offset}",
                markers::marker_name(*marker)
            ),
            Error::Unsupported(u) => write!(f, "unsupported jpeg: {u}"),
            Error::LimitExceeded { width, height, limits } => write!(
                f,
                "jpeg too large: {width}x{height} exceeds the limits {}x{} / {} pixels",
                limits.max_width, limits.max_height, limits.max_pixels
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Reads the frame header (size, components, progressive flag, colour model)
/// and the EXIF orientation, without decoding any image data.
///
/// Returns [`Error::Unsupported`] for arithmetic, lossless, hierarchical and
/// non-8-bit frames; 4-component frames are reported (as [`ColorKind::Cmyk`]
/// or [`ColorKind::Ycck`]) even though [`decode_luma`] refuses them.
pub fn read_header(data: &[u8]) -> Result<Header, Error> {
    markers::read_header(data)
}

/// Decodes the luma of a JPEG at a reduced `scale`.
///
/// The declared size is checked against `limits` before anything
/// proportional to it is allocated. See the crate documentation for the
/// handling of damaged data.
pub fn decode_luma(data: &[u8], scale: Scale, limits: &Limits) -> Result<Luma, Error> {
    decode::decode_luma(data, scale, limits)
}

pub use decode::{Head, Tail};

/// Decodes the first part of a JPEG's first scan, from its start to a little past byte
/// `split`, for [`decode_luma_joined`]; meanwhile (another thread, another worker)
/// [`decode_tail`] decodes the rest from `split`. Applies to sequential files decoded at
/// [`Scale::Eighth`] without restart intervals, which is what large camera photos are;
/// `Ok(None)` for anything else. Errors are those of [`decode_luma`] for the headers.
///
/// A Huffman-coded stream entered at an arbitrary byte soon falls into step with the real
/// sequence of codes: from the first MCU start the two parts share, the tail's DC
/// differences are exactly those one pass decodes. The joined plane equals
/// [`decode_luma`]'s.
///
/// ```
/// use schoon_jpeg::{decode_head, decode_luma, decode_luma_joined, decode_tail, Limits, Scale};
///
/// // A 64x64 greyscale JPEG whose 64 blocks have DC differences of +8 (every code "0" + 4
/// // bits "1000") and no AC coefficients (EOB "0"): 6 bits per block, 48 bytes.
/// let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00];
/// jpeg.extend([1u8; 64]);
/// jpeg.extend([0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x40, 0x00, 0x40, 1, 1, 0x11, 0]);
/// jpeg.extend([0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
/// jpeg.extend([0xFF, 0xC4, 0x00, 0x14, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
/// jpeg.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
/// jpeg.extend([0b0100_0010, 0b0001_0000, 0b1000_0100].repeat(16));
/// jpeg.extend([0xFF, 0xD9]);
///
/// let limits = Limits::default();
/// let split = jpeg.len() / 2;
/// let tail = decode_tail(&jpeg, split, Scale::Eighth, &limits)?; // on another thread
/// let head = decode_head(&jpeg, split, Scale::Eighth, &limits)?.expect("a sequential scan");
/// let joined = decode_luma_joined(&jpeg, Scale::Eighth, &limits, head, tail.as_ref())?;
/// assert_eq!(joined, decode_luma(&jpeg, Scale::Eighth, &limits)?);
/// # Ok::<(), schoon_jpeg::Error>(())
/// ```
pub fn decode_head(
    data: &[u8],
    split: usize,
    scale: Scale,
    limits: &Limits,
) -> Result<Option<Head>, Error> {
    decode::decode_head(data, split, scale, limits)
}

/// Decodes the second part of a JPEG's first scan on its own, from about byte `split` to the
/// end (see [`decode_head`]). `Ok(None)` where [`decode_head`] does not apply.
pub fn decode_tail(
    data: &[u8],
    split: usize,
    scale: Scale,
    limits: &Limits,
) -> Result<Option<Tail>, Error> {
    decode::decode_tail(data, split, scale, limits)
}

/// [`decode_luma`] with the first scan taken from `head` and `tail` (see [`decode_head`]).
/// The result equals `decode_luma(data, scale, limits)` exactly. Without a tail, or with
/// one that does not meet the head (another file, or no shared MCU start in the head's
/// margin), the rest of the scan is decoded here; a head of other data is ignored.
pub fn decode_luma_joined(
    data: &[u8],
    scale: Scale,
    limits: &Limits,
    head: Head,
    tail: Option<&Tail>,
) -> Result<Luma, Error> {
    decode::decode_from(data, scale, limits, Some((head, tail)))
}
