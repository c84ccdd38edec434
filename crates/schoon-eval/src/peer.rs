//! The optional peer: Python's `imagehash` (pHash and dHash, 64 bits) over the same files.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The environment variable naming the Python to use: an interpreter or a virtualenv folder.
pub const PYTHON_ENV: &str = "SCHOON_PEER_PYTHON";

/// Reads one path per line on stdin; prints `phash dhash decode_s phash_s dhash_s` per line
/// (or `error ...`), in order.
const SCRIPT: &str = r#"
import sys, time
from PIL import Image
import imagehash
out = sys.stdout
for line in sys.stdin:
    path = line.rstrip("\n")
    if not path:
        continue
    try:
        t0 = time.perf_counter()
        im = Image.open(path)
        im.load()
        t1 = time.perf_counter()
        p = imagehash.phash(im)
        t2 = time.perf_counter()
        d = imagehash.dhash(im)
        t3 = time.perf_counter()
        out.write(f"{p} {d} {t1 - t0:.7f} {t2 - t1:.7f} {t3 - t2:.7f}\n")
    except Exception as e:
        out.write(f"error {type(e).__name__}\n")
out.flush()
"#;

/// The peer's hashes of one file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerHash {
    /// pHash and dHash, 64 bits each.
    pub hashes: [u64; 2],
    /// Seconds to open and decode.
    pub decode: f64,
    /// Seconds of pHash and of dHash.
    pub seconds: [f64; 2],
}

/// One entry per file, `None` when the peer could not hash it.
pub type PeerHashes = Vec<Option<PeerHash>>;

/// The Python to use: `$SCHOON_PEER_PYTHON` (an interpreter, or a virtualenv folder whose
/// `bin/python3` is used), else `python3`; `Err` says why there is none.
pub fn find_python() -> Result<PathBuf, String> {
    let (python, from_env) = match std::env::var_os(PYTHON_ENV) {
        Some(v) => {
            let p = PathBuf::from(v);
            (if p.is_dir() { p.join("bin").join("python3") } else { p }, true)
        }
        None => (PathBuf::from("python3"), false),
    };
    let ok = Command::new(&python)
        .args(["-c", "import imagehash, PIL"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(python)
    } else if from_env {
        Err(format!("{} (from ${PYTHON_ENV}) cannot import imagehash and PIL", python.display()))
    } else {
        Err(format!(
            "python3 cannot import imagehash and PIL (pip install imagehash pillow, or set \
             ${PYTHON_ENV} to a virtualenv that has them)"
        ))
    }
}

/// Parses one output line of the script.
pub fn parse_line(line: &str) -> Option<PeerHash> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 5 {
        return None;
    }
    let hex = |s: &str| (s.len() == 16).then(|| u64::from_str_radix(s, 16).ok()).flatten();
    let num = |s: &str| s.parse::<f64>().ok();
    Some(PeerHash {
        hashes: [hex(f[0])?, hex(f[1])?],
        decode: num(f[2])?,
        seconds: [num(f[3])?, num(f[4])?],
    })
}

/// Hashes `files` with the peer, in order.
pub fn run(python: &Path, files: &[PathBuf]) -> Result<PeerHashes> {
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let list: String = files.iter().map(|p| format!("{}\n", p.display())).collect();
    // Write on another thread so that neither pipe can fill up and block the other.
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let mut out = Vec::with_capacity(files.len());
    for line in BufReader::new(stdout).lines() {
        out.push(parse_line(&line?));
    }
    writer.join().map_err(|_| anyhow::anyhow!("writer thread failed"))??;
    let status = child.wait()?;
    if !status.success() || out.len() != files.len() {
        bail!(
            "{} exited with {status} after {} of {} files",
            python.display(),
            out.len(),
            files.len()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_script_lines() {
        let h = parse_line("c3a0f0b0e0c08f0f 0e1c3870e0c08001 0.0012 0.0020 0.0003").unwrap();
        assert_eq!(h.hashes[0], 0xc3a0_f0b0_e0c0_8f0f);
        assert!((h.seconds[1] - 0.0003).abs() < 1e-12);
        assert!(parse_line("error OSError").is_none());
        assert!(parse_line("zz 00 1 2 3").is_none());
    }
}
