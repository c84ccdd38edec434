//! The error type of the crate.

use core::fmt;

use crate::Kind;

/// Everything that can go wrong building, parsing or updating a filter.
///
/// Messages are lowercase and name the offending value, e.g.
/// `filter payload is 1000 bytes, header says 4096`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The input is shorter than the fixed header.
    TooShort {
        /// Length of the input in bytes.
        len: usize,
        /// Length of the header in bytes.
        header_len: usize,
    },
    /// The input does not start with the filter magic bytes.
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The header has a format version this code does not read.
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
    /// The header's check value does not match its contents (a flipped or edited header byte).
    HeaderCheck {
        /// The check value stored in the header.
        stored: u64,
        /// The check value computed over the header.
        computed: u64,
    },
    /// The kind tag is not one of [`Kind`]'s.
    UnknownKind {
        /// The tag found.
        tag: u8,
    },
    /// A header field has a value that no filter of its kind can have.
    InvalidHeader {
        /// Name of the field.
        field: &'static str,
        /// The value found.
        value: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The payload is not as long as the header says.
    PayloadLength {
        /// Bytes after the header.
        actual: u64,
        /// Bytes the header declares.
        declared: u64,
    },
    /// The target false-positive rate is not a number strictly between 0 and 1.
    InvalidTarget {
        /// The target given.
        target: f64,
    },
    /// The requested kind cannot reach the target false-positive rate.
    TargetNotMet {
        /// The kind asked for (or the best one available).
        kind: Kind,
        /// The target given.
        target: f64,
        /// The best rate that kind offers.
        best: f64,
    },
    /// More keys than a filter of this kind can hold.
    TooManyKeys {
        /// The kind asked for.
        kind: Kind,
        /// Number of (distinct) keys given.
        count: u64,
        /// The largest number accepted.
        max: u64,
    },
    /// The filter would not fit in this platform's memory.
    TooLarge {
        /// Bytes the filter would need.
        bytes: u64,
    },
    /// Binary fuse construction failed (should not happen with distinct keys).
    Construction {
        /// The kind being built.
        kind: Kind,
        /// The reason reported by the constructor.
        reason: &'static str,
    },
    /// The filter kind cannot take insertions or merges.
    Immutable {
        /// The kind of the filter.
        kind: Kind,
    },
    /// Two filters cannot be merged because a parameter differs.
    Mismatch {
        /// Name of the parameter.
        what: &'static str,
        /// Its value in the filter being updated.
        ours: u64,
        /// Its value in the other filter.
        theirs: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooShort { len, header_len } => {
                write!(f, "filter is {len} bytes, shorter than its {header_len}-byte header")
            }
            Error::BadMagic { found } => write!(
                f,
                "not a schoon filter: starts with \"{}\", expected \"{}\"",
                found.escape_ascii(),
                crate::format::MAGIC.escape_ascii()
            ),
            Error::UnsupportedVersion { version } => write!(
                f,
                "filter format version {version} is not supported (this code reads version {})",
                crate::format::VERSION
            ),
            Error::HeaderCheck { stored, computed } => write!(
                f,
                "filter header check is {stored:#018x}, its contents give {computed:#018x}"
            ),
            Error::UnknownKind { tag } => write!(f, "unknown filter kind tag {tag}"),
            Error::InvalidHeader { field, value, reason } => {
                write!(f, "filter header field {field} is {value}: {reason}")
            }
            Error::PayloadLength { actual, declared } => {
                write!(f, "filter payload is {actual} bytes, header says {declared}")
            }
            Error::InvalidTarget { target } => {
                write!(f, "target false-positive rate {target} is not strictly between 0 and 1")
            }
            Error::TargetNotMet { kind, target, best } => write!(
                f,
                "{kind} filters reach a false-positive rate of {best:e} at best, above the target {target:e}"
            ),
            Error::TooManyKeys { kind, count, max } => {
                write!(f, "{count} keys are too many for a {kind} filter (at most {max})")
            }
            Error::TooLarge { bytes } => {
                write!(f, "filter would need {bytes} bytes, more than this platform can hold")
            }
            Error::Construction { kind, reason } => {
                write!(f, "{kind} construction failed: {}", reason.to_lowercase())
            }
            Error::Immutable { kind } => write!(
                f,
                "{kind} filters cannot take insertions or merges; rebuild from the keys instead"
            ),
            Error::Mismatch { what, ours, theirs } => write!(
                f,
                "cannot merge filters: {what} is {ours} here and {theirs} in the other filter"
            ),
        }
    }
}

impl std::error::Error for Error {}
