//! Hashing speed, printed (not asserted): `cargo bench -p schoon-core --bench hashing`.
//!
//! Per file, medians over interleaved runs (one thread, bytes in memory):
//! * schoon fast: SHA-256 + PDQ (the default path),
//! * schoon reference: PDQ on the full-size decode,
//! * the `image` crate's full RGB decode alone,
//! * the peers a hotline engineer uses today: Pillow + PyPI `pdqhash` (Meta's C++ core), with
//!   and without Pillow's `draft()` DCT scaling, run in the same process tree in the same run.
//!
//! The corpus (`../shared/corpus` or `SCHOON_CORPUS`) supplies the files; without it the bench
//! says so and uses the shipped fixtures only.
//!
//! A second table prices the fast path's reliability check (the fall-back to full-size pixels
//! for fine textures): the block-mean hash with and without it, interleaved on the same plane,
//! against the whole fast hash of the file, and which route the file took.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use schoon_core::{HashOptions, PdqMode, PdqPath, hash_image, pdq, sha256};

const RUNS: usize = 15;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> f64 {
    let t = Instant::now();
    std::hint::black_box(f());
    t.elapsed().as_secs_f64() * 1000.0
}

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SCHOON_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
    });
    dir.is_dir().then_some(dir)
}

struct Row {
    name: String,
    dims: String,
    fast: f64,
    reference: f64,
    decode: f64,
    peer_full: Option<f64>,
    peer_draft: Option<f64>,
    fast_vs_ref_bits: u32,
}

fn peers(files: &[PathBuf]) -> Vec<Option<(f64, f64)>> {
    let python = std::env::var("SCHOON_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peer_pdq.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(RUNS.to_string())
        .args(files)
        .env("OMP_NUM_THREADS", "1")
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let mut rows = Vec::new();
            for line in text.lines() {
                let get = |key: &str| -> Option<f64> {
                    let at = line.find(&format!("\"{key}\": "))? + key.len() + 4;
                    line[at..].split([',', '}']).next()?.trim().parse().ok()
                };
                rows.push(get("full_ms").zip(get("draft_ms")));
            }
            rows
        }
        Ok(o) => {
            eprintln!(
                "peer skipped: {python} {} failed (needs pillow, numpy, pdqhash: scripts/bench installs them): {}",
                script.display(),
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            );
            vec![None; files.len()]
        }
        Err(e) => {
            eprintln!("peer skipped: cannot run {python}: {e}");
            vec![None; files.len()]
        }
    }
}

fn bench_file(path: &Path) -> Row {
    let bytes = std::fs::read(path).unwrap();
    let fast = HashOptions::default();
    let reference = HashOptions { mode: PdqMode::Reference, ..Default::default() };
    let (mut tf, mut tr, mut td) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        tf.push(time(|| (sha256(&bytes), hash_image(&bytes, &fast).unwrap())));
        tr.push(time(|| hash_image(&bytes, &reference).unwrap()));
        td.push(time(|| image::load_from_memory(&bytes).unwrap().to_rgb8()));
    }
    let f = hash_image(&bytes, &fast).unwrap();
    let r = hash_image(&bytes, &reference).unwrap();
    Row {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        dims: format!("{}x{}", r.info.width, r.info.height),
        fast: median(tf),
        reference: median(tr),
        decode: median(td),
        peer_full: None,
        peer_draft: None,
        fast_vs_ref_bits: f.pdq.hash.distance(&r.pdq.hash),
    }
}

/// The reliability check's cost on one file: (unchecked ms, checked ms, fast route), for files
/// the fast path decodes to block means.
fn check_cost(path: &Path) -> Option<(f64, f64, PdqPath)> {
    let bytes = std::fs::read(path).unwrap();
    let header = schoon_jpeg::read_header(&bytes).ok()?;
    let (block, scale) = match schoon_core::fast_block_size(header.width, header.height) {
        8 => (8, schoon_jpeg::Scale::Eighth),
        4 => (4, schoon_jpeg::Scale::Quarter),
        2 => (2, schoon_jpeg::Scale::Half),
        _ => return None,
    };
    let luma = schoon_jpeg::decode_luma(&bytes, scale, &Default::default()).ok()?;
    let (w, h) = (luma.full_width as usize, luma.full_height as usize);
    let (mut plain, mut checked) = (Vec::new(), Vec::new());
    for _ in 0..RUNS * 4 {
        plain.push(time(|| pdq::hash_block_means(&luma.pixels, block, block, w, h).unwrap()));
        checked.push(time(|| {
            pdq::hash_block_means_checked(&luma.pixels, block, block, w, h).unwrap()
        }));
    }
    let route = hash_image(&bytes, &HashOptions::default()).unwrap().path;
    Some((median(plain), median(checked), route))
}

fn main() {
    let mut files = Vec::new();
    match corpus() {
        Some(c) => {
            let rotn = c.join("pdq-reference/reg-test-input/exif-rotn");
            let mut big: Vec<PathBuf> =
                std::fs::read_dir(&rotn).unwrap().map(|e| e.unwrap().path()).collect();
            big.sort();
            files.extend(big);
            files.push(c.join("pdq-reference/bridge-mods/aaa-orig.jpg"));
            files.push(c.join("bsds500/train/100075.jpg"));
        }
        None => eprintln!("corpus not found: benchmarking the shipped fixtures only"),
    }
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    files.push(fixtures.join("large-1600x1200.jpg"));
    files.push(fixtures.join("scene-rgb.png"));

    let mut rows: Vec<Row> = files.iter().map(|f| bench_file(f)).collect();
    for (row, peer) in rows.iter_mut().zip(peers(&files)) {
        if let Some((full, draft)) = peer {
            row.peer_full = Some(full);
            row.peer_draft = Some(draft);
        }
    }
    println!("\nPDQ hashing, one thread, median of {RUNS} runs (ms); bytes in memory\n");
    println!(
        "| file | size | schoon fast (SHA-256 + PDQ) | schoon reference | image full decode | Pillow + pdqhash | Pillow draft + pdqhash | best peer / fast | fast vs reference (bits) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
    for r in &rows {
        let best = match (r.peer_full, r.peer_draft) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
            r.name,
            r.dims,
            r.fast,
            r.reference,
            r.decode,
            fmt(r.peer_full),
            fmt(r.peer_draft),
            best.map(|b| format!("{:.2}x", b / r.fast)).unwrap_or_else(|| "-".into()),
            r.fast_vs_ref_bits
        );
    }
    println!("\nThe fast path's reliability check, median of {} interleaved runs (ms)\n", RUNS * 4);
    println!("| file | block-mean hash | with the check | check / whole fast hash | fast route |");
    println!("|---|---|---|---|---|");
    for (r, f) in rows.iter().zip(&files) {
        if let Some((plain, checked, route)) = check_cost(f) {
            println!(
                "| {} | {plain:.3} | {checked:.3} | {:.2} % | {route:?} |",
                r.name,
                100.0 * (checked - plain) / r.fast
            );
        }
    }
    let twelve: Vec<f64> = rows.iter().filter(|r| r.dims == "4032x3024").map(|r| r.fast).collect();
    if !twelve.is_empty() {
        println!(
            "\n12 MP JPEG to SHA-256 + PDQ (fast): median {:.1} ms over {} files",
            median(twelve),
            rows.iter().filter(|r| r.dims == "4032x3024").count()
        );
    }
}
