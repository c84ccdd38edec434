//! Timing of `decode_luma` at each scale against the `image` crate's full RGB
//! decode of the same file, single-threaded.
//!
//! ```text
//! cargo run --release -p schoon-jpeg --example bench -- FILES...
//! ```
//!
//! Prints, per file, the median over `RUNS` runs (default 15, env `RUNS`).
//! With env `ONLY=eighth|quarter|half` only that scale is run (no peer), for
//! profiling.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use schoon_jpeg::{Limits, Scale, decode_luma};

fn median_ms(runs: usize, mut f: impl FnMut() -> bool) -> Option<f64> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        if !f() {
            return None;
        }
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied()
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "   error".to_string(), |v| format!("{v:8.2}"))
}

fn main() {
    let runs: usize = std::env::var("RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: bench FILES...  (env RUNS, default 15)");
        return;
    }
    println!(
        "{:<28} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "file (median ms)", "size", "eighth", "quarter", "half", "image", "img/8th"
    );
    let limits = Limits::default();
    let only = std::env::var("ONLY").ok();
    if let Some(only) = only {
        let scale = match only.as_str() {
            "quarter" => Scale::Quarter,
            "half" => Scale::Half,
            _ => Scale::Eighth,
        };
        for path in &files {
            let Ok(data) = std::fs::read(path) else {
                continue;
            };
            let t = median_ms(runs, || {
                decode_luma(std::hint::black_box(&data), scale, &limits).is_ok()
            });
            println!("{path} {scale:?} {}", fmt(t));
        }
        return;
    }
    for path in files {
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let dims = schoon_jpeg::read_header(&data)
            .map(|h| format!("{}x{}", h.width, h.height))
            .unwrap_or_else(|e| e.to_string());
        let mut t = Vec::new();
        for scale in [Scale::Eighth, Scale::Quarter, Scale::Half] {
            t.push(median_ms(runs, || {
                std::hint::black_box(decode_luma(std::hint::black_box(&data), scale, &limits))
                    .is_ok()
            }));
        }
        let peer = median_ms(runs, || {
            image::load_from_memory_with_format(
                std::hint::black_box(&data),
                image::ImageFormat::Jpeg,
            )
            .map(|i| std::hint::black_box(i.to_rgb8()))
            .is_ok()
        });
        let ratio = match (peer, t.first().copied().flatten()) {
            (Some(p), Some(e)) if e > 0.0 => format!("{:7.1}x", p / e),
            _ => "       -".to_string(),
        };
        let name = std::path::Path::new(&path)
            .file_name()
            .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        println!(
            "{:<28} {:>11} {} {} {} {} {}",
            name,
            dims,
            fmt(t.first().copied().flatten()),
            fmt(t.get(1).copied().flatten()),
            fmt(t.get(2).copied().flatten()),
            fmt(peer),
            ratio
        );
    }
}
