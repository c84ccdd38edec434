//! Measures an index of many PDQ entries natively, the way the worker holds it (file bytes
//! only, linear scan) and with multi-index tables: memory and lookup time.
//!
//! `cargo run --release -p schoon-worker --example index_bench -- INDEX [PUBLIC_KEY_FILE]`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use schoon_core::PdqHash;
use schoon_core::set::{HashKind, Index, MatchOptions, PdqQuery, Query, Trust};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: index_bench INDEX [KEY.pub]")?;
    let trust = match args.next() {
        Some(k) => Trust::key(schoon_core::PublicKey::from_text(&std::fs::read_to_string(k)?)?),
        None => Trust::unsigned(),
    };
    let bytes = std::fs::read(&path)?;
    let t = Instant::now();
    let mut index = Index::from_bytes_linear(bytes, &trust)?;
    let load = t.elapsed();
    let n = index.count(HashKind::Pdq);
    let query = |variants: usize| Query {
        pdq: Some(PdqQuery {
            variants: (0..variants).map(|i| PdqHash([i as u8 * 37 + 1; 32])).collect(),
            quality: Some(90),
            coefficients: None,
        }),
        ..Query::default()
    };
    let time = |index: &Index, q: &Query| {
        let runs = 10;
        let t = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(index.lookup(q, &MatchOptions::default()));
        }
        t.elapsed().as_secs_f64() * 1000.0 / runs as f64
    };
    println!(
        "{n} pdq entries; linear: load+verify {:.0} ms, {} MB, lookup 1 variant {:.1} ms, 8 variants {:.1} ms",
        load.as_secs_f64() * 1000.0,
        index.memory_bytes() / 1_000_000,
        time(&index, &query(1)),
        time(&index, &query(8))
    );
    let t = Instant::now();
    index.set_multi_index(true);
    println!(
        "multi-index: build {:.0} ms, {} MB, lookup 1 variant {:.2} ms, 8 variants {:.2} ms",
        t.elapsed().as_secs_f64() * 1000.0,
        index.memory_bytes() / 1_000_000,
        time(&index, &query(1)),
        time(&index, &query(8))
    );
    Ok(())
}
