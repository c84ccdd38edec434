//! `cargo xtask lists DIR N`: synthetic hash lists at a list owner's scale, for
//! `scripts/bench-scale`: `pdq.txt` (N PDQ hashes), `md5.txt`, `sha1.txt` and `sha256.txt`
//! (N each, so 3N exact hashes), one hex value per line.
//!
//! The PDQ model: a PDQ hash thresholds 256 DCT coefficients at their median, so every hash has
//! 128 one bits (ties aside); lists hold several copies of popular pictures, so 20 % of the
//! hashes are near-duplicates of an earlier one (3 to 30 bits away, as re-encodes, resizes and
//! crops are). Exact hashes are uniform. Seeded: the same lists on every machine.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Result;

/// splitmix64: seeded, fast, good enough for synthetic data.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// A hash with exactly 128 one bits: a random permutation's first half.
fn balanced(rng: &mut Mix) -> [u8; 32] {
    let mut bits: [u16; 256] = std::array::from_fn(|i| i as u16);
    for i in 0..128 {
        let j = i + rng.below(256 - i as u64) as usize;
        bits.swap(i, j);
    }
    let mut h = [0u8; 32];
    for &b in &bits[..128] {
        h[usize::from(b / 8)] |= 0x80 >> (b % 8);
    }
    h
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_line(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(bytes.len() * 2 + 1);
    for b in bytes {
        line.push(HEX[usize::from(b >> 4)]);
        line.push(HEX[usize::from(b & 15)]);
    }
    line.push(b'\n');
    out.write_all(&line)
}

pub fn run(dir: &Path, n: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Mix(0x5ca1e);
    let mut pdq = BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("pdq.txt"))?);
    // Near-duplicates pick among the last 4096 distinct hashes (a list's copies sit anywhere;
    // where does not matter to the index).
    let mut recent: Vec<[u8; 32]> = Vec::with_capacity(4096);
    for i in 0..n {
        let h = if rng.below(5) == 0 && !recent.is_empty() {
            let mut h = recent[rng.below(recent.len() as u64) as usize];
            for _ in 0..3 + rng.below(28) {
                let b = rng.below(256) as usize;
                h[b / 8] ^= 0x80 >> (b % 8);
            }
            h
        } else {
            let h = balanced(&mut rng);
            if recent.len() < 4096 {
                recent.push(h);
            } else {
                recent[(i % 4096) as usize] = h;
            }
            h
        };
        hex_line(&mut pdq, &h)?;
    }
    pdq.flush()?;
    for (name, len) in [("md5.txt", 16), ("sha1.txt", 20), ("sha256.txt", 32)] {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join(name))?);
        let mut d = [0u8; 32];
        for _ in 0..n {
            for c in d.chunks_mut(8) {
                c.copy_from_slice(&rng.next().to_le_bytes());
            }
            hex_line(&mut out, &d[..len])?;
        }
        out.flush()?;
    }
    println!("{}: {n} pdq, {n} md5, {n} sha1, {n} sha256", dir.display());
    Ok(())
}
