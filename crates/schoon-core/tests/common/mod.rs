//! What the core's tests and benchmarks share: a seeded generator and the evaluation corpus.
//! Each test binary (and each bench, through `#[path]`) uses part of it.

#![allow(dead_code, clippy::print_stderr)] // each binary uses only part; a skip is said on stderr

use std::path::{Path, PathBuf};

use schoon_core::PdqHash;

/// A xorshift generator: the same values for the same seed on every machine.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 32 random bytes (a SHA-256 or a PDQ hash).
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for c in b.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        b
    }

    /// A random PDQ hash (every bit independent, as in a large list).
    pub fn hash(&mut self) -> PdqHash {
        PdqHash(self.bytes32())
    }
}

/// The evaluation corpus (`../shared/corpus` beside the checkout, or `SCHOON_CORPUS`) when
/// `needs` exists inside it; otherwise `None`, after saying on stderr what is skipped.
pub fn corpus(needs: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("SCHOON_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
    });
    if dir.join(needs).is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: evaluation corpus not found at {} (set SCHOON_CORPUS to run these checks)",
            dir.join(needs).display()
        );
        None
    }
}

/// The image files below `dir` (by extension), in sorted order.
pub fn images(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            images(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
            Some("jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp")
        ) {
            out.push(p);
        }
    }
}
