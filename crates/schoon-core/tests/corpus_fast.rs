//! Deviation of the fast path from the reference over the shared corpus (skipped without it).
//!
//! The budget (issue: "fast mode"): over corpus images of quality >= 50, p95 <= 6 bits and
//! max <= 12 bits from the reference hash.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use std::path::{Path, PathBuf};

use schoon_core::{HashOptions, PdqMode, hash_image};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SCHOON_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
    });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: evaluation corpus not found at {}", dir.display());
        None
    }
}

fn images(dir: &Path, out: &mut Vec<PathBuf>) {
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

#[test]
fn fast_path_stays_within_the_deviation_budget() {
    let Some(root) = corpus() else { return };
    let mut files = Vec::new();
    images(&root, &mut files);
    let reference = HashOptions { mode: PdqMode::Reference, ..Default::default() };
    let fast = HashOptions::default();
    let mut distances = Vec::new();
    let mut by_path = std::collections::BTreeMap::<String, Vec<u32>>::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let (Ok(r), Ok(q)) = (hash_image(&bytes, &reference), hash_image(&bytes, &fast)) else {
            continue;
        };
        if r.pdq.quality < 50 {
            continue;
        }
        let d = r.pdq.hash.distance(&q.pdq.hash);
        by_path.entry(format!("{:?}", q.path)).or_default().push(d);
        if d > 6 {
            eprintln!(
                "{}: {d} bits ({:?}, {}x{})",
                f.display(),
                q.path,
                r.info.width,
                r.info.height
            );
        }
        distances.push(d);
    }
    distances.sort_unstable();
    let n = distances.len();
    assert!(n > 0);
    let p95 = distances[(n * 95).div_ceil(100) - 1];
    let max = distances[n - 1];
    let mean = distances.iter().sum::<u32>() as f64 / n as f64;
    eprintln!(
        "fast vs reference over {n} images of quality >= 50: mean {mean:.2}, p95 {p95}, max {max}"
    );
    for (path, mut d) in by_path {
        d.sort_unstable();
        eprintln!(
            "  {path}: {} images, median {}, max {}",
            d.len(),
            d[d.len() / 2],
            d[d.len() - 1]
        );
    }
    assert!(p95 <= 6, "p95 {p95} > 6");
    assert!(max <= 12, "max {max} > 12");
}
