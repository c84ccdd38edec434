//! Errors, grouped by who is at fault.
//!
//! Every fallible function of the core returns [`Error`]. Its four variants say who has to act:
//!
//! | variant | at fault | typical HTTP status |
//! |---|---|---|
//! | [`Error::BadInput`] | whoever supplied the bytes (uploader, list supplier, set publisher) | 400 / 422 |
//! | [`Error::Limit`] | nobody: a configured resource limit was reached | 413 |
//! | [`Error::Unsupported`] | nobody: valid input schoon does not handle | 415 |
//! | [`Error::Caller`] | the program calling the API (bad argument) | 400 |
//!
//! Messages are lowercase, have no trailing period and name the offending value.

use std::fmt;

/// The image container formats schoon decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JPEG (baseline, progressive; grey, YCbCr, RGB, CMYK/YCCK).
    Jpeg,
    /// PNG (1 to 16 bit, grey, palette, alpha).
    Png,
    /// WebP (lossy and lossless).
    Webp,
    /// GIF (first frame).
    Gif,
    /// Windows bitmap.
    Bmp,
}

impl Format {
    /// The lowercase name used in messages and JSON (`"jpeg"`, `"png"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who is at fault for an [`Error`]; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The supplied bytes are malformed.
    BadInput,
    /// A resource limit was reached.
    Limit,
    /// Valid input that schoon does not handle.
    Unsupported,
    /// The calling program passed an invalid argument.
    Caller,
}

impl ErrorKind {
    /// A stable lowercase identifier (`"bad_input"`, `"limit"`, `"unsupported"`, `"caller"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::Limit => "limit",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Caller => "caller",
        }
    }
}

/// The error type of the core.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The supplied bytes are malformed (not an image, truncated, corrupt, tampered).
    BadInput(BadInput),
    /// A resource limit was reached before any large allocation.
    Limit(LimitExceeded),
    /// Valid input that schoon does not handle.
    Unsupported(Unsupported),
    /// The calling program passed an invalid argument.
    Caller(CallerError),
}

impl Error {
    /// Who is at fault.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadInput(_) => ErrorKind::BadInput,
            Error::Limit(_) => ErrorKind::Limit,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Caller(_) => ErrorKind::Caller,
        }
    }

    pub(crate) fn image(format: Format, detail: impl Into<String>) -> Self {
        Error::BadInput(BadInput::Image { format, detail: detail.into() })
    }

    pub(crate) fn caller(message: impl Into<String>) -> Self {
        Error::Caller(CallerError { message: message.into() })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadInput(e) => e.fmt(f),
            Error::Limit(e) => e.fmt(f),
            Error::Unsupported(e) => e.fmt(f),
            Error::Caller(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Malformed input; see [`Error::BadInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadInput {
    /// Zero bytes.
    Empty,
    /// The bytes start with no known image signature.
    UnknownFormat {
        /// The first bytes, in hex.
        magic: String,
    },
    /// The image data is malformed or truncated.
    Image {
        /// The container format.
        format: Format,
        /// What the decoder reported.
        detail: String,
    },
    /// A set (index or filter) file is malformed, truncated or fails its checksum.
    Set {
        /// What is wrong, naming the offending field or offset.
        detail: String,
    },
    /// A set's signature is missing, invalid, or made with another key.
    Signature {
        /// What is wrong.
        detail: String,
    },
    /// A set is older than the one already held (a replay).
    Stale {
        /// The version offered.
        offered: u64,
        /// The version already held.
        held: u64,
    },
    /// A hit receipt is malformed, or its signature does not verify (see [`crate::receipt`]).
    Receipt {
        /// What is wrong.
        detail: String,
    },
    /// A line of a hash list could not be parsed.
    HashList {
        /// The list's name (usually its path).
        source: String,
        /// The 1-based line number.
        line: u64,
        /// What is wrong, naming the bad value.
        detail: String,
    },
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadInput::Empty => f.write_str("empty input: 0 bytes"),
            BadInput::UnknownFormat { magic } => {
                write!(f, "not a supported image: unknown signature {magic}")
            }
            BadInput::Image { format, detail } => write!(f, "malformed {format} image: {detail}"),
            BadInput::Set { detail } => write!(f, "malformed set: {detail}"),
            BadInput::Signature { detail } => write!(f, "set signature refused: {detail}"),
            BadInput::Stale { offered, held } => {
                write!(f, "set version {offered} is not newer than the version {held} already held")
            }
            BadInput::Receipt { detail } => write!(f, "invalid receipt: {detail}"),
            BadInput::HashList { source, line, detail } => {
                write!(f, "{source}:{line}: {detail}")
            }
        }
    }
}

/// Which limit of [`crate::Limits`] was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`crate::Limits::max_width`].
    Width,
    /// [`crate::Limits::max_height`].
    Height,
    /// [`crate::Limits::max_pixels`].
    Pixels,
    /// [`crate::Limits::max_alloc`].
    Alloc,
    /// [`crate::Limits::max_input_bytes`].
    InputBytes,
    /// A count inside a set or list (entries, lists, metadata).
    Entries,
    /// Allow-listed hashes of a set ([`crate::set::MAX_ALLOW_ENTRIES`]).
    AllowEntries,
}

impl LimitKind {
    fn describe(self) -> &'static str {
        match self {
            LimitKind::Width => "image width",
            LimitKind::Height => "image height",
            LimitKind::Pixels => "pixel count",
            LimitKind::Alloc => "memory needed (bytes)",
            LimitKind::InputBytes => "input size (bytes)",
            LimitKind::Entries => "entry count",
            LimitKind::AllowEntries => "allow-list entry count",
        }
    }
}

/// A resource limit was reached; see [`Error::Limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded {
    /// Which limit.
    pub kind: LimitKind,
    /// The value the input asked for (0 when the decoder did not say).
    pub value: u64,
    /// The configured maximum.
    pub max: u64,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value == 0 {
            // The decoder did not say how much it wanted.
            return write!(f, "{} exceeds the limit of {}", self.kind.describe(), self.max);
        }
        write!(f, "{} {} exceeds the limit of {}", self.kind.describe(), self.value, self.max)
    }
}

/// Valid input that schoon does not handle; see [`Error::Unsupported`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// A container format schoon does not decode (TIFF, HEIC, AVIF, ...).
    Format {
        /// The format's name.
        name: String,
    },
    /// A feature of a supported format (e.g. arithmetic-coded JPEG).
    Feature {
        /// The container format.
        format: Format,
        /// What is not supported.
        what: String,
    },
    /// A set file of a format version this build does not read.
    SetVersion {
        /// The version found.
        found: u16,
    },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Format { name } => write!(f, "unsupported image format {name}"),
            Unsupported::Feature { format, what } => {
                write!(f, "unsupported {format} feature: {what}")
            }
            Unsupported::SetVersion { found } => {
                write!(f, "unsupported set format version {found}")
            }
        }
    }
}

/// The calling program passed an invalid argument; see [`Error::Caller`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerError {
    /// What is wrong, naming the bad value.
    pub message: String,
}

impl fmt::Display for CallerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
