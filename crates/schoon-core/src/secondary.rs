//! Secondary perceptual hashes from `image_hasher`, for comparison with PDQ.

use std::fmt;
use std::str::FromStr;

use image::DynamicImage;
#[cfg(feature = "perceptual")]
use image_hasher::{HashAlg, HasherConfig};

use crate::error::Error;

/// A secondary perceptual hash algorithm (64-bit hashes from `image_hasher`).
///
/// ```
/// use schoon_core::Algo;
/// let a: Algo = "dhash".parse()?;
/// assert_eq!(a, Algo::Dhash);
/// assert_eq!(a.name(), "dhash");
/// assert!("md6".parse::<Algo>().is_err());
/// # Ok::<(), schoon_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algo {
    /// Mean (average) hash.
    Ahash,
    /// Median hash.
    Median,
    /// Horizontal gradient (difference) hash.
    Dhash,
    /// Vertical gradient hash.
    DhashVertical,
    /// Horizontal and vertical gradient hash.
    DhashDouble,
    /// Blockhash.io's algorithm.
    Blockhash,
    /// Mean hash of the DCT (pHash-like).
    Phash,
    /// Median hash of the DCT.
    MedianDct,
}

impl Algo {
    /// Every algorithm, in a stable order.
    pub const ALL: [Algo; 8] = [
        Algo::Ahash,
        Algo::Median,
        Algo::Dhash,
        Algo::DhashVertical,
        Algo::DhashDouble,
        Algo::Blockhash,
        Algo::Phash,
        Algo::MedianDct,
    ];

    /// The name used on the command line and as the JSON field.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Ahash => "ahash",
            Algo::Median => "median",
            Algo::Dhash => "dhash",
            Algo::DhashVertical => "dhash_vertical",
            Algo::DhashDouble => "dhash_double",
            Algo::Blockhash => "blockhash",
            Algo::Phash => "phash",
            Algo::MedianDct => "median_dct",
        }
    }

    /// Computes this hash of a decoded image (64 bits, 8 bytes).
    ///
    /// Builds without the `perceptual` feature return [`Error::Unsupported`].
    #[cfg(not(feature = "perceptual"))]
    pub fn hash(self, _image: &DynamicImage) -> Result<Vec<u8>, Error> {
        Err(Error::Unsupported(crate::error::Unsupported::Format {
            name: format!("{} (this build has no secondary perceptual hashes)", self.name()),
        }))
    }

    /// Computes this hash of a decoded image (64 bits, 8 bytes).
    #[cfg(feature = "perceptual")]
    pub fn hash(self, image: &DynamicImage) -> Result<Vec<u8>, Error> {
        let (alg, dct) = match self {
            Algo::Ahash => (HashAlg::Mean, false),
            Algo::Median => (HashAlg::Median, false),
            Algo::Dhash => (HashAlg::Gradient, false),
            Algo::DhashVertical => (HashAlg::VertGradient, false),
            Algo::DhashDouble => (HashAlg::DoubleGradient, false),
            Algo::Blockhash => (HashAlg::Blockhash, false),
            Algo::Phash => (HashAlg::Mean, true),
            Algo::MedianDct => (HashAlg::Median, true),
        };
        let mut config = HasherConfig::new().hash_alg(alg).hash_size(8, 8);
        if dct {
            config = config.preproc_dct();
        }
        Ok(config.to_hasher().hash_image(image).as_bytes().to_vec())
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algo {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Algo::ALL.into_iter().find(|a| a.name() == wanted).ok_or_else(|| {
            let names: Vec<&str> = Algo::ALL.iter().map(|a| a.name()).collect();
            Error::caller(format!("unknown algorithm '{s}': expected one of {}", names.join(", ")))
        })
    }
}
