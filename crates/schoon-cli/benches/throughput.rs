//! `schoon hash` throughput over the 300 BSDS500 photos at -j 1 and -j 2 (printed, not
//! asserted): `cargo bench -p schoon-cli --bench throughput`. Runs alternate between the two
//! settings; medians of 7 runs. Needs the corpus (`../shared/corpus` or `SCHOON_CORPUS`).

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

fn main() {
    let corpus = std::env::var_os("SCHOON_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("bsds500");
    if !corpus.is_dir() {
        eprintln!("SKIPPED: corpus not found at {}", corpus.display());
        return;
    }
    let files = ["train", "val"]
        .iter()
        .map(|d| std::fs::read_dir(corpus.join(d)).map(|r| r.count()).unwrap_or(0))
        .sum::<usize>();
    let run = |jobs: &str| {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_schoon"))
            .args(["hash", "-j", jobs])
            .arg(&corpus)
            .output()
            .unwrap();
        assert!(out.status.success() || out.status.code() == Some(2));
        t.elapsed().as_secs_f64()
    };
    run("2"); // warm the page cache
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        one.push(run("1"));
        two.push(run("2"));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(one), median(two));
    println!("\n`schoon hash` over {files} BSDS500 photos (481x321 JPEG), median of 7 runs\n");
    println!("| threads | seconds | images/s |\n|---|---|---|");
    println!("| -j 1 | {a:.3} | {:.0} |", files as f64 / a);
    println!("| -j 2 | {b:.3} | {:.0} |", files as f64 / b);
    println!("\nspeed-up with 2 threads: {:.2}x", a / b);
}
