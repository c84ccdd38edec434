//! Set figures, printed (not asserted): `cargo bench -p schoon-core --bench sets`.
//!
//! * building 10 M SHA-256 + 1 M PDQ hashes: time and peak memory (`SCHOON_BENCH_SCALE=0.1`
//!   for a tenth of that);
//! * filter lookups per second and the whole probe set of one image;
//! * PDQ index query time, linear scan against multi-index hashing, from 10^3 to 10^6 entries.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use schoon_core::set::{
    BuildInfo, Filter, FilterParams, Index, ListInfo, MatchOptions, Query, SetBuilder, Trust,
};
use schoon_core::{HashOptions, PdqHash, Sha256, SigningKey, hash_bytes};

#[path = "../tests/common/mod.rs"]
mod common;
use common::Rng;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let scale: f64 =
        std::env::var("SCHOON_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let key = SigningKey::from_seed([1; 32]);
    let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
    let trust = Trust::key(key.public_key());
    let mut rng = Rng(0x1234_5678);

    // 1. Build.
    let n_sha = (10_000_000.0 * scale) as usize;
    let n_pdq = (1_000_000.0 * scale) as usize;
    let t = Instant::now();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("bench", "bench", "random")).unwrap();
    for _ in 0..n_sha {
        b.add_sha256(l, Sha256(rng.bytes32()));
    }
    for _ in 0..n_pdq {
        b.add_pdq(l, PdqHash(rng.bytes32()), Some(100));
    }
    let generated = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (index_bytes, filter_bytes) =
        b.build_both(&FilterParams { salt: 42, ..Default::default() }, &info).unwrap();
    let build = t.elapsed().as_secs_f64();
    drop(b);
    println!("\n## Build ({n_sha} SHA-256 + {n_pdq} PDQ)\n");
    println!("| step | seconds |\n|---|---|");
    println!("| generate entries | {generated:.2} |");
    println!("| sort, index, filter, sign (build_both) | {build:.2} |");
    println!(
        "index {:.1} MB, filter {:.1} MB ({:.2} bytes per listed hash), peak RSS {:.0} MB",
        index_bytes.len() as f64 / 1e6,
        filter_bytes.len() as f64 / 1e6,
        filter_bytes.len() as f64 / (n_sha + n_pdq) as f64,
        peak_rss_mb()
    );

    // 2. Filter load and lookups.
    let t = Instant::now();
    let filter = Filter::from_bytes(&filter_bytes, &trust).unwrap();
    let load = t.elapsed().as_secs_f64() * 1000.0;
    let stats = filter.stats();
    println!("\n## Filter\n");
    println!(
        "load and verify {:.1} MB: {load:.1} ms (SHA-256 + Ed25519 over the bytes; no per-entry parsing)",
        filter_bytes.len() as f64 / 1e6
    );
    println!(
        "exact section: {} keys, {:.2} bits/key, {:?}; pdq section: {} keys, {:.2} bits/key",
        stats.exact_keys,
        stats.exact_bytes as f64 * 8.0 / stats.exact_keys.max(1) as f64,
        stats.exact_kind,
        stats.pdq_keys,
        stats.pdq_bytes as f64 * 8.0 / stats.pdq_keys.max(1) as f64
    );
    let queries: Vec<Query> = (0..200_000)
        .map(|_| Query { sha256: Some(Sha256(rng.bytes32())), ..Default::default() })
        .collect();
    let opts = MatchOptions::default();
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut hits = 0usize;
        for q in &queries {
            hits += usize::from(filter.check(q, &opts).is_candidate());
        }
        std::hint::black_box(hits);
        rates.push(queries.len() as f64 / t.elapsed().as_secs_f64() / 1e6);
    }
    println!("exact checks (key derivation + lookup): {:.1} M/s median", median(rates));

    // The probe set of one real image (8 variants x 8 bands x 8 flips + 3 exact).
    let fixture =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/scene-rgb.png"))
            .unwrap();
    let report = hash_bytes(&fixture, &HashOptions::default());
    let q = Query::from_hashes(&report.exact, report.image.as_ref().ok());
    let mut times = Vec::new();
    let mut probes = 0;
    for _ in 0..2000 {
        let t = Instant::now();
        let h = std::hint::black_box(filter.check(&q, &opts));
        times.push(t.elapsed().as_secs_f64() * 1e6);
        probes = h.probes;
    }
    println!("whole probe set of one image ({probes} probes): {:.1} µs median", median(times));

    // 3. PDQ index: linear scan vs multi-index.
    println!("\n## PDQ index query (8 dihedral variants, threshold 31), median µs\n");
    println!(
        "| listed PDQ | linear scan | multi-index | memory linear (MB) | memory multi-index (MB) |\n|---|---|---|---|---|"
    );
    let sizes: Vec<usize> = [1_000usize, 10_000, 30_000, 100_000, 300_000, 1_000_000]
        .into_iter()
        .map(|n| ((n as f64) * scale.clamp(0.1, 1.0)) as usize)
        .collect();
    for n in sizes {
        let mut b = SetBuilder::new();
        let l = b.add_list(ListInfo::new("bench", "bench", "random")).unwrap();
        let listed: Vec<PdqHash> = (0..n).map(|_| PdqHash(rng.bytes32())).collect();
        listed.iter().for_each(|h| b.add_pdq(l, *h, Some(100)));
        let mut index = Index::from_bytes(b.build_index(&info, None).unwrap(), &trust).unwrap();
        let qs: Vec<Query> = (0..40)
            .map(|i| {
                let mut h = listed[(i * 7919) % n];
                for k in 0..(i % 30) {
                    h.flip_bit(k * 9);
                }
                let mut variants = vec![h];
                variants.extend((0..7).map(|_| PdqHash(rng.bytes32())));
                let mut q = Query::from_pdq(h, Some(100));
                if let Some(p) = q.pdq.as_mut() {
                    p.variants = variants;
                }
                q
            })
            .collect();
        let measure = |index: &Index| {
            let mut t = Vec::new();
            for q in &qs {
                let s = Instant::now();
                std::hint::black_box(index.lookup(q, &opts));
                t.push(s.elapsed().as_secs_f64() * 1e6);
            }
            median(t)
        };
        index.set_multi_index(false);
        let lin = measure(&index);
        let mem_lin = index.memory_bytes() as f64 / 1e6;
        index.set_multi_index(true);
        let mih = measure(&index);
        let mem_mih = index.memory_bytes() as f64 / 1e6;
        println!("| {n} | {lin:.0} | {mih:.0} | {mem_lin:.1} | {mem_mih:.1} |");
    }
}
