//! CRC-32 with the polynomial of zlib, gzip and PNG (IEEE 802.3, reflected, 0xEDB88320), with
//! the public API of the `crc32fast` crate. The root `Cargo.toml` patches crates.io's
//! `crc32fast` with this crate; its users in the workspace are `png` (every chunk of every
//! PNG) and `flate2`.
//!
//! Why: `crc32fast` ships its slicing-by-16 lookup tables as static data. In a WebAssembly
//! module that is 16 KB of incompressible download: the largest single item in the npm
//! package's decoder builds. Here the same tables are computed on first use (4,096 entries,
//! microseconds) and the loop is the same slicing-by-16, so WebAssembly throughput is
//! unchanged. Native builds lose `crc32fast`'s PCLMULQDQ and ARMv8 CRC paths, which PNG
//! decoding does not notice next to inflating and unfiltering the same bytes.

use std::sync::OnceLock;

/// The reflected CRC-32 (IEEE) polynomial.
const POLY: u32 = 0xEDB8_8320;

/// Slicing-by-16 tables: `T[0]` is the byte-at-a-time table, `T[k][i]` is `T[k - 1][i]` run
/// through one more zero byte.
type Tables = [[u32; 256]; 16];

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Box<Tables>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t: Box<Tables> = Box::new([[0; 256]; 16]);
        for (i, entry) in t[0].iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *entry = c;
        }
        for k in 1..16 {
            for i in 0..256 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            }
        }
        t
    })
}

/// Continues the CRC `prev` (a finished CRC value, 0 for none) over `buf`.
fn update(prev: u32, buf: &[u8]) -> u32 {
    let t = tables();
    let mut crc = !prev;
    let mut blocks = buf.chunks_exact(16);
    for b in &mut blocks {
        let w = crc ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        crc = t[15][(w & 0xff) as usize]
            ^ t[14][((w >> 8) & 0xff) as usize]
            ^ t[13][((w >> 16) & 0xff) as usize]
            ^ t[12][(w >> 24) as usize]
            ^ t[11][usize::from(b[4])]
            ^ t[10][usize::from(b[5])]
            ^ t[9][usize::from(b[6])]
            ^ t[8][usize::from(b[7])]
            ^ t[7][usize::from(b[8])]
            ^ t[6][usize::from(b[9])]
            ^ t[5][usize::from(b[10])]
            ^ t[4][usize::from(b[11])]
            ^ t[3][usize::from(b[12])]
            ^ t[2][usize::from(b[13])]
            ^ t[1][usize::from(b[14])]
            ^ t[0][usize::from(b[15])];
    }
    for &byte in blocks.remainder() {
        crc = t[0][usize::from(crc as u8 ^ byte)] ^ (crc >> 8);
    }
    !crc
}

/// `a * b` modulo the polynomial, both in the reflected representation (bit 31 is `x^0`).
fn mul_mod(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    for i in 0..32 {
        if a & (0x8000_0000 >> i) != 0 {
            product ^= b;
        }
        b = if b & 1 == 1 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    product
}

/// `x^(8 * bytes)` modulo the polynomial: what appending `bytes` bytes multiplies a CRC by.
fn shift_of(mut bytes: u64) -> u32 {
    let mut result = 0x8000_0000; // 1
    let mut square = 0x0080_0000; // x^8
    while bytes != 0 {
        if bytes & 1 == 1 {
            result = mul_mod(result, square);
        }
        square = mul_mod(square, square);
        bytes >>= 1;
    }
    result
}

/// The CRC of `A` followed by `B`, from the CRCs of `A` and `B` and the length of `B`.
fn combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    mul_mod(shift_of(len_b), crc_a) ^ crc_b
}

/// The CRC-32 of `buf`.
///
/// ```
/// assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
/// ```
pub fn hash(buf: &[u8]) -> u32 {
    let mut h = Hasher::new();
    h.update(buf);
    h.finalize()
}

/// A CRC-32 computed incrementally.
#[derive(Clone)]
pub struct Hasher {
    amount: u64,
    state: u32,
}

impl Hasher {
    /// A hasher over no bytes yet.
    pub fn new() -> Self {
        Self::new_with_initial(0)
    }

    /// A hasher continuing from the CRC `init`.
    pub fn new_with_initial(init: u32) -> Self {
        Self::new_with_initial_len(init, 0)
    }

    /// A hasher continuing from the CRC `init` of `amount` bytes.
    pub fn new_with_initial_len(init: u32, amount: u64) -> Self {
        Hasher { amount, state: init }
    }

    /// The same as [`Hasher::new_with_initial_len`] (`crc32fast` has several implementations
    /// to choose from; this crate has one).
    #[doc(hidden)]
    pub fn internal_new_baseline(init: u32, amount: u64) -> Self {
        Self::new_with_initial_len(init, amount)
    }

    /// The same as [`Hasher::new_with_initial_len`], never `None`.
    #[doc(hidden)]
    pub fn internal_new_specialized(init: u32, amount: u64) -> Option<Self> {
        Some(Self::new_with_initial_len(init, amount))
    }

    /// Adds bytes.
    pub fn update(&mut self, buf: &[u8]) {
        self.amount += buf.len() as u64;
        self.state = update(self.state, buf);
    }

    /// How many bytes the CRC covers.
    pub fn total_len(&self) -> u64 {
        self.amount
    }

    /// The CRC of the bytes added.
    pub fn finalize(self) -> u32 {
        self.state
    }

    /// Back to no bytes.
    pub fn reset(&mut self) {
        self.state = 0;
        self.amount = 0;
    }

    /// Appends the bytes `other` covers, as if they had been added here.
    pub fn combine(&mut self, other: &Self) {
        self.amount += other.amount;
        self.state = combine(self.state, other.state, other.amount);
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("crc32fast::Hasher").finish()
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl std::hash::Hasher for Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.update(bytes)
    }

    fn finish(&self) -> u64 {
        u64::from(self.clone().finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit at a time, straight from the definition.
    fn reference(buf: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in buf {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
            }
        }
        !crc
    }

    fn bytes(n: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_u32;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn known_values() {
        assert_eq!(hash(b""), 0);
        assert_eq!(hash(b"123456789"), 0xcbf4_3926);
        assert_eq!(hash(b"The quick brown fox jumps over the lazy dog"), 0x414f_a339);
        // A PNG's IEND chunk: the CRC of its type.
        assert_eq!(hash(b"IEND"), 0xae42_6082);
    }

    #[test]
    fn every_length_and_split_agrees_with_the_definition() {
        let data = bytes(300);
        for len in 0..data.len() {
            let want = reference(&data[..len]);
            assert_eq!(hash(&data[..len]), want, "length {len}");
            for split in [0, 1, 7, 15, 16, 17, len / 2, len] {
                let split = split.min(len);
                let mut h = Hasher::new();
                h.update(&data[..split]);
                h.update(&data[split..len]);
                assert_eq!(h.total_len(), len as u64);
                assert_eq!(h.finalize(), want, "length {len}, split {split}");
            }
        }
    }

    #[test]
    fn combine_is_concatenation() {
        let data = bytes(5000);
        for (a, b) in [(0, 0), (0, 10), (10, 0), (1, 1), (100, 4900), (4999, 1), (2500, 17)] {
            let mut first = Hasher::new();
            first.update(&data[..a]);
            let mut second = Hasher::new();
            second.update(&data[a..a + b]);
            first.combine(&second);
            assert_eq!(first.total_len(), (a + b) as u64);
            assert_eq!(first.finalize(), reference(&data[..a + b]), "{a} + {b}");
        }
    }

    #[test]
    fn initial_value_and_reset() {
        let data = bytes(100);
        let mut h = Hasher::new_with_initial(hash(&data[..40]));
        h.update(&data[40..]);
        assert_eq!(h.clone().finalize(), hash(&data));
        h.reset();
        assert_eq!((h.total_len(), h.finalize()), (0, 0));
    }
}
