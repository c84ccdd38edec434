//! The error type of the crate.

use core::fmt::{self, Write as _};

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
                write!(
                    f,
                    "target false-positive rate {} is not strictly between 0 and 1",
                    Rate(*target)
                )
            }
            Error::TargetNotMet { kind, target, best } => write!(
                f,
                "{kind} filters reach a false-positive rate of {} at best, above the target {}",
                Rate(*best),
                Rate(*target)
            ),
            Error::TooManyKeys { kind, count, max } => {
                write!(f, "{count} keys are too many for a {kind} filter (at most {max})")
            }
            Error::TooLarge { bytes } => {
                write!(f, "filter would need {bytes} bytes, more than this platform can hold")
            }
            Error::Construction { kind, reason } => {
                write!(f, "{kind} construction failed: ")?;
                // ASCII only: Unicode case tables would cost a WebAssembly module 12 KB.
                reason.chars().try_for_each(|c| f.write_char(c.to_ascii_lowercase()))
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

/// A rate in messages: three significant digits in scientific notation (`3.91e-3`, `1e-4`).
///
/// Written by hand because Rust's float formatting (shortest round trip, `{:e}`) would add
/// about 7 KB gzip to a WebAssembly module that holds this error type only to read filters.
struct Rate(f64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() || x.is_infinite() || x == 0.0 {
            // Never a valid rate; spelt as Rust would.
            return f.write_str(if x.is_nan() {
                "NaN"
            } else if x == 0.0 {
                "0"
            } else if x > 0.0 {
                "inf"
            } else {
                "-inf"
            });
        }
        if x < 0.0 {
            f.write_char('-')?;
        }
        let (mut m, mut e) = (x.abs(), 0i32);
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        let mut d = (m * 100.0 + 0.5) as u32; // 100..=1000
        if d >= 1000 {
            d /= 10;
            e += 1;
        }
        write!(f, "{}", d / 100)?;
        let frac = d % 100;
        if frac != 0 {
            let frac = if frac.is_multiple_of(10) { frac / 10 } else { frac };
            write!(f, ".{}{frac}", if d % 100 < 10 { "0" } else { "" })?;
        }
        write!(f, "e{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_messages() {
        let shown = |x: f64| Rate(x).to_string();
        assert_eq!(shown(1e-4), "1e-4");
        assert_eq!(shown(0.5f64.powi(8)), "3.91e-3");
        assert_eq!(shown(0.5f64.powi(32)), "2.33e-10");
        assert_eq!(shown(1.5), "1.5e0");
        assert_eq!(shown(0.0105), "1.05e-2");
        assert_eq!(shown(9.996e-7), "1e-6");
        assert_eq!(shown(-2.0), "-2e0");
        assert_eq!(shown(1e-300), "1e-300");
        assert_eq!(shown(f64::NAN), "NaN");
        assert_eq!(shown(0.0), "0");
        assert_eq!(shown(f64::INFINITY), "inf");
        let e = Error::TargetNotMet { kind: Kind::BinaryFuse8, target: 1e-3, best: 0.5f64.powi(8) };
        assert!(e.to_string().ends_with("rate of 3.91e-3 at best, above the target 1e-3"), "{e}");
        let e = Error::Construction { kind: Kind::BinaryFuse8, reason: "Too Many Iterations" };
        assert!(e.to_string().ends_with("failed: too many iterations"), "{e}");
    }
}
