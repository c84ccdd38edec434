//! Resource limits: part of the API, checked before any large allocation.

use crate::error::{Error, LimitExceeded, LimitKind};

/// Resource limits applied to every decode.
///
/// Declared dimensions are checked against these limits from the image header, before the
/// decoder allocates anything proportional to them, so a 1 KB file that declares 65535x65535
/// pixels is refused at once.
///
/// ```
/// use schoon_core::Limits;
/// let strict = Limits { max_pixels: 20_000_000, ..Limits::default() };
/// assert!(strict.max_pixels < Limits::default().max_pixels);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum image width in pixels. Default 16384.
    pub max_width: u32,
    /// Maximum image height in pixels. Default 16384.
    pub max_height: u32,
    /// Maximum pixel count (width x height). Default 100 million.
    pub max_pixels: u64,
    /// Maximum memory a single decode and hash may allocate, in bytes. Default 512 MiB.
    pub max_alloc: u64,
    /// Maximum input size in bytes (files and uploads). Default 256 MiB.
    pub max_input_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_width: 16_384,
            max_height: 16_384,
            max_pixels: 100_000_000,
            max_alloc: 512 * 1024 * 1024,
            max_input_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Checks declared dimensions against the width, height and pixel limits.
    pub fn check_dimensions(&self, width: u32, height: u32) -> Result<(), Error> {
        if width > self.max_width {
            return Err(exceeded(LimitKind::Width, width.into(), self.max_width.into()));
        }
        if height > self.max_height {
            return Err(exceeded(LimitKind::Height, height.into(), self.max_height.into()));
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(exceeded(LimitKind::Pixels, pixels, self.max_pixels));
        }
        Ok(())
    }

    /// Checks a planned allocation (in bytes) against [`Limits::max_alloc`].
    pub fn check_alloc(&self, bytes: u64) -> Result<(), Error> {
        if bytes > self.max_alloc {
            return Err(exceeded(LimitKind::Alloc, bytes, self.max_alloc));
        }
        Ok(())
    }

    /// Checks an input size against [`Limits::max_input_bytes`].
    pub fn check_input(&self, bytes: u64) -> Result<(), Error> {
        if bytes > self.max_input_bytes {
            return Err(exceeded(LimitKind::InputBytes, bytes, self.max_input_bytes));
        }
        Ok(())
    }
}

pub(crate) fn exceeded(kind: LimitKind, value: u64, max: u64) -> Error {
    Error::Limit(LimitExceeded { kind, value, max })
}

/// Allocates a zeroed `Vec` of `len` elements after checking the byte size against the limit.
pub(crate) fn checked_vec<T: Clone + Default>(
    len: usize,
    limits: &Limits,
) -> Result<Vec<T>, Error> {
    let bytes = (len as u64).saturating_mul(std::mem::size_of::<T>() as u64);
    limits.check_alloc(bytes)?;
    Ok(vec![T::default(); len])
}
