//! The platform-free core of schoon: decoding under limits, exact hashes (MD5, SHA-1, SHA-256),
//! PDQ perceptual hashes, and (in later modules) known-hash sets and matching.
//!
//! The same code runs natively in the CLI, as WebAssembly in the browser and in a Cloudflare
//! Worker, so identical bytes give identical hashes everywhere. Nothing here touches files,
//! threads, the network or a JavaScript engine: adapters do that.
//!
//! ```
//! use schoon_core::{hash_bytes, HashOptions, PdqMode};
//!
//! // A small PNG made on the spot (any JPEG, PNG, WebP, GIF or BMP file's bytes will do).
//! let mut png = Vec::new();
//! let img = image::RgbImage::from_fn(96, 64, |x, y| image::Rgb([(x * 2) as u8, (y * 3) as u8, 90]));
//! img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
//!
//! let report = hash_bytes(&png, &HashOptions { mode: PdqMode::Reference, ..Default::default() });
//! println!("sha256 {}", report.exact.sha256);
//! let hashes = report.image?;
//! println!("pdq {} quality {}", hashes.pdq.hash, hashes.pdq.quality);
//! assert_eq!((hashes.info.width, hashes.info.height), (96, 64));
//! # Ok::<(), schoon_core::Error>(())
//! ```
//!
//! Errors are [`Error`]s grouped by who is at fault ([`ErrorKind`]); resource limits
//! ([`Limits`]) are checked before large allocations; no input can make the core panic.

pub mod decode;
mod digest;
mod error;
mod hashing;
pub mod hex;
mod limits;
pub mod pdq;
pub mod receipt;
pub mod regions;
mod secondary;
pub mod set;
pub mod wire;

pub use decode::ImageInfo;
pub use digest::{ExactHasher, ExactHashes, Md5, Sha1, Sha256, md5, sha1, sha256};
pub use error::{
    BadInput, CallerError, Error, ErrorKind, Format, LimitExceeded, LimitKind, Unsupported,
};
pub use hashing::{
    HashOptions, ImageHashes, JpegHead, JpegTail, PdqMode, PdqPath, Report, fast_block_size,
    hash_bytes, hash_image, hash_image_joined, jpeg_head, jpeg_tail, pdq_of_pixels,
};
pub use limits::Limits;
pub use pdq::{Coefficients, Pdq, PdqHash};
pub use secondary::Algo;
pub use set::{PublicKey, SigningKey};

/// The `image` crate this core decodes with, re-exported so adapters use the same version.
pub use image;
