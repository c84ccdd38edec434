//! The 256-bit PDQ hash value.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A 256-bit PDQ hash.
///
/// Bit `k` (0..256) is DCT coefficient `(k / 16, k % 16)` of the 16x16 block. The hex form is
/// the one the reference implementation prints: 64 lowercase digits, most significant 16-bit
/// word first, so bit `k` is bit `k % 8` of byte `31 - k / 8` of [`PdqHash::0`].
///
/// ```
/// use schoon_core::PdqHash;
/// let a: PdqHash = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".parse()?;
/// let b: PdqHash = "f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22".parse()?;
/// assert_eq!(a.distance(&b), 2);
/// assert!(a.bit(0) == false && a.bit(1) == true);
/// # Ok::<(), schoon_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PdqHash(pub [u8; 32]);

impl PdqHash {
    /// The all-zero hash (what the reference returns for images under 5 pixels a side).
    pub const ZERO: PdqHash = PdqHash([0; 32]);

    /// The value of bit `k` (`k` is taken modulo 256).
    pub fn bit(&self, k: usize) -> bool {
        let k = k & 255;
        (self.0[31 - k / 8] >> (k % 8)) & 1 == 1
    }

    /// Sets bit `k` (`k` is taken modulo 256).
    pub fn set_bit(&mut self, k: usize) {
        let k = k & 255;
        self.0[31 - k / 8] |= 1 << (k % 8);
    }

    /// Flips bit `k` (`k` is taken modulo 256).
    pub fn flip_bit(&mut self, k: usize) {
        let k = k & 255;
        self.0[31 - k / 8] ^= 1 << (k % 8);
    }

    /// The hash as four 64-bit words (for fast Hamming distances and indexing).
    pub fn words(&self) -> [u64; 4] {
        let mut w = [0u64; 4];
        for (i, chunk) in self.0.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w[i] = u64::from_be_bytes(b);
        }
        w
    }

    /// Hamming distance (number of differing bits, 0..=256).
    pub fn distance(&self, other: &PdqHash) -> u32 {
        let (a, b) = (self.words(), other.words());
        (a[0] ^ b[0]).count_ones()
            + (a[1] ^ b[1]).count_ones()
            + (a[2] ^ b[2]).count_ones()
            + (a[3] ^ b[3]).count_ones()
    }

    /// Number of set bits.
    pub fn ones(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }

    /// Lowercase hex, 64 digits, as the reference prints it.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({})", self.to_hex())
    }
}

impl FromStr for PdqHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        crate::hex::decode_array(s.trim(), "pdq").map(PdqHash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_layout_matches_reference_words() {
        // Reference: setBit(k) sets bit k%16 of 16-bit word k/16; words print from 15 down to 0.
        let mut h = PdqHash::ZERO;
        h.set_bit(0);
        assert_eq!(h.to_hex(), format!("{}0001", "0".repeat(60)));
        let mut h = PdqHash::ZERO;
        h.set_bit(255);
        assert_eq!(h.to_hex(), format!("8000{}", "0".repeat(60)));
        let mut h = PdqHash::ZERO;
        h.set_bit(17);
        assert_eq!(h.to_hex(), format!("{}00020000", "0".repeat(56)));
        assert!(h.bit(17) && !h.bit(16));
        h.flip_bit(17);
        assert_eq!(h, PdqHash::ZERO);
    }

    #[test]
    fn parse_errors_name_the_value() {
        let e = "xyz".parse::<PdqHash>().unwrap_err();
        assert!(e.to_string().contains("'xyz'"), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::Caller);
    }
}
