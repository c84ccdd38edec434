//! Exact hashes of the file bytes: MD5, SHA-1 and SHA-256, computed in one streaming pass.

use std::fmt;
use std::str::FromStr;

use md5::Digest as _;

use crate::error::Error;

macro_rules! digest_type {
    ($(#[$doc:meta])* $name:ident, $len:expr, $label:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// The lowercase name of the hash kind.
            pub const KIND: &'static str = $label;

            /// Lowercase hex, as `md5sum`/`sha1sum`/`sha256sum` print it.
            pub fn to_hex(&self) -> String {
                crate::hex::encode(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            /// Parses hex (either case, surrounding whitespace ignored).
            fn from_str(s: &str) -> Result<Self, Error> {
                crate::hex::decode_array(s.trim(), $label).map($name)
            }
        }
    };
}

digest_type!(
    /// An MD5 digest.
    Md5, 16, "md5"
);
digest_type!(
    /// A SHA-1 digest.
    Sha1, 20, "sha1"
);
digest_type!(
    /// A SHA-256 digest.
    Sha256, 32, "sha256"
);

/// The exact hashes of a byte string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactHashes {
    /// Number of bytes hashed.
    pub bytes: u64,
    /// MD5 of the bytes.
    pub md5: Md5,
    /// SHA-1 of the bytes.
    pub sha1: Sha1,
    /// SHA-256 of the bytes.
    pub sha256: Sha256,
}

impl ExactHashes {
    /// Hashes a complete byte slice.
    ///
    /// ```
    /// let h = schoon_core::ExactHashes::of(b"abc");
    /// assert_eq!(h.md5.to_hex(), "900150983cd24fb0d6963f7d28e17f72");
    /// ```
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = ExactHasher::new();
        hasher.update(bytes);
        hasher.finish()
    }
}

/// Streaming computation of [`ExactHashes`]: feed chunks as they are read.
#[derive(Clone, Default)]
pub struct ExactHasher {
    bytes: u64,
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
}

impl fmt::Debug for ExactHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactHasher").field("bytes", &self.bytes).finish_non_exhaustive()
    }
}

impl ExactHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.md5.update(chunk);
        self.sha1.update(chunk);
        self.sha256.update(chunk);
    }

    /// The hashes of everything fed so far.
    pub fn finish(self) -> ExactHashes {
        ExactHashes {
            bytes: self.bytes,
            md5: Md5(self.md5.finalize().into()),
            sha1: Sha1(self.sha1.finalize().into()),
            sha256: Sha256(self.sha256.finalize().into()),
        }
    }
}

/// SHA-256 alone (used for set checksums and benchmarks).
pub fn sha256(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

/// MD5 alone (for adapters that get SHA-1 and SHA-256 from the platform, e.g. a browser's
/// `crypto.subtle`, which has no MD5).
pub fn md5(bytes: &[u8]) -> Md5 {
    Md5(md5::Md5::digest(bytes).into())
}

/// SHA-1 alone (for adapters without a platform SHA-1).
pub fn sha1(bytes: &[u8]) -> Sha1 {
    Sha1(sha1::Sha1::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let h = ExactHashes::of(b"abc");
        assert_eq!(h.bytes, 3);
        assert_eq!(h.md5.to_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(h.sha1.to_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            h.sha256.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256(b"abc"), h.sha256);
        assert_eq!(md5(b"abc"), h.md5);
        assert_eq!(sha1(b"abc"), h.sha1);
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut s = ExactHasher::new();
        for chunk in data.chunks(4093) {
            s.update(chunk);
        }
        assert_eq!(s.finish(), ExactHashes::of(&data));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = ExactHashes::of(b"");
        let parsed: Sha1 = h.sha1.to_hex().to_uppercase().parse().unwrap();
        assert_eq!(parsed, h.sha1);
        let err = "abc".parse::<Md5>().unwrap_err();
        assert!(err.to_string().contains("'abc'"), "{err}");
        assert!("zz".repeat(16).parse::<Md5>().is_err());
    }
}
