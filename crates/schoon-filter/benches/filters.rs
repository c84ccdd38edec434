//! Figures for schoon-filter: build time, size, bits per key against the log2(1/ε) limit,
//! measured false-positive rate, lookups per second, and the time to parse a ~10 MB filter.
//!
//! Run with `cargo bench -p schoon-filter`; prints a Markdown table. Timings are printed, never
//! asserted. `SCHOON_FILTER_BENCH_KEYS=1e5,1e6` and `SCHOON_FILTER_BENCH_TARGETS=1e-2` (comma
//! lists) choose other rows than the default 10^5, 10^6, 10^7 keys × 1e-2, 1e-3, 1e-4, 1e-6.

// A benchmark's output is its table.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use schoon_filter::{FilterBuf, FilterRef, Kind, Membership, build, choose_kind};

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Members have the low bit clear, non-members set: disjoint by construction, still random.
fn member(rng: &mut Rng) -> u64 {
    rng.next() & !1
}

fn non_member(rng: &mut Rng) -> u64 {
    rng.next() | 1
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

fn fmt_bytes(b: usize) -> String {
    let b = b as f64;
    if b >= 1e6 { format!("{:.2} MB", b / 1e6) } else { format!("{:.1} kB", b / 1e3) }
}

/// Lookups per second over `queries` (median of `runs`).
fn lookups_per_second(filter: &FilterRef<'_>, queries: &[u64], runs: usize) -> f64 {
    let rates = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let mut hits = 0usize;
            for &k in queries {
                hits += usize::from(filter.contains(black_box(k)));
            }
            black_box(hits);
            queries.len() as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    median(rates)
}

fn main() -> Result<(), Box<dyn Error>> {
    let list = |name: &str, default: &str| -> Vec<f64> {
        std::env::var(name)
            .unwrap_or_else(|_| default.to_owned())
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect()
    };
    let sizes: Vec<usize> =
        list("SCHOON_FILTER_BENCH_KEYS", "1e5,1e6,1e7").into_iter().map(|n| n as usize).collect();
    let targets = list("SCHOON_FILTER_BENCH_TARGETS", "1e-2,1e-3,1e-4,1e-6");
    let fpr_probes = 10_000_000usize;
    let lookup_queries = 4_000_000usize;

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probes: Vec<u64> = (0..fpr_probes).map(|_| non_member(&mut rng)).collect();

    println!(
        "| keys | kind | target ε | build | size | bits/key | measured ε | log2(1/ε) | bits/key ÷ log2(1/ε) | lookups/s |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");

    let mut big: Vec<FilterBuf> = Vec::new();
    for &n in &sizes {
        let keys: Vec<u64> = (0..n).map(|_| member(&mut rng)).collect();
        // Half members, half non-members, interleaved at random.
        let queries: Vec<u64> = (0..lookup_queries)
            .map(|_| {
                if rng.next() & 1 == 0 {
                    keys.get((rng.next() % n as u64) as usize).copied().unwrap_or(0)
                } else {
                    non_member(&mut rng)
                }
            })
            .collect();
        for &target in &targets {
            for kind in [Kind::SplitBlockBloom, choose_kind(target)?] {
                let build_runs = if n <= 100_000 { 5 } else { 1 };
                let mut times = Vec::new();
                let mut filter = None;
                for _ in 0..build_runs {
                    let start = Instant::now();
                    let f = build(kind, black_box(&keys), target, 0x5eed)?;
                    times.push(start.elapsed().as_secs_f64());
                    filter = Some(f);
                }
                let Some(filter) = filter else { continue };
                let build_time = Duration::from_secs_f64(median(times));
                let view = filter.view();

                let hits = probes.iter().filter(|&&k| view.contains(k)).count();
                let theory = view.false_positive_rate();
                let (measured, shown) = if hits == 0 {
                    (theory, format!("0 of 10^7 (theory {theory:.1e})"))
                } else {
                    let m = hits as f64 / probes.len() as f64;
                    (m, format!("{m:.3e}"))
                };
                let bits = view.size_bytes() as f64 * 8.0 / n as f64;
                let limit = (1.0 / measured).log2();
                let lookups = lookups_per_second(&view, &queries, 7);
                println!(
                    "| 10^{} | {kind} | {target:.0e} | {} | {} | {bits:.2} | {shown} | {limit:.2} | {:.3} | {:.1} M |",
                    (n as f64).log10().round(),
                    fmt_duration(build_time),
                    fmt_bytes(view.size_bytes()),
                    bits / limit,
                    lookups / 1e6,
                );
                if n == 10_000_000 && target == 1e-2 {
                    big.push(filter);
                }
            }
        }
    }

    println!();
    println!("| filter (10^7 keys, target 1e-2) | size | FilterRef::parse |");
    println!("|---|---:|---:|");
    for filter in &big {
        let bytes = filter.as_bytes();
        // Median over 101 batches of 1000 parses.
        let times: Vec<f64> = (0..101)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..1000 {
                    let view = FilterRef::parse(black_box(bytes));
                    black_box(&view);
                }
                start.elapsed().as_secs_f64() / 1000.0
            })
            .collect();
        println!(
            "| {} | {} | {} |",
            filter.kind(),
            fmt_bytes(bytes.len()),
            fmt_duration(Duration::from_secs_f64(median(times)))
        );
    }
    Ok(())
}
