//! Deviation of the fast path from the reference over the shared corpus (that part skipped
//! without it) and over synthetic fine textures generated here (always).
//!
//! The budget (issue: "fast mode"): over images of reference quality >= 50, p95 <= 6 bits and
//! max <= 12 bits from the reference hash. Release builds hash the full synthetic set (about
//! 1,400 images up to 4032x3024); debug builds a smaller one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use std::collections::BTreeMap;

use schoon_core::{HashOptions, PdqMode, hash_image};

mod common;
mod textures;

use common::{corpus, images};

/// Deviations (bits) of images of reference quality >= 50, by fast-path route.
#[derive(Default)]
struct Tally {
    distances: Vec<u32>,
    by_path: BTreeMap<String, Vec<u32>>,
    /// Images the fast path hashed from full-size pixels although their size asks for blocks.
    fell_back: usize,
    /// Images whose size asks for blocks (the fall-back rate's denominator).
    blocked: usize,
    worst: Option<(u32, String)>,
}

impl Tally {
    fn add(&mut self, name: &str, bytes: &[u8]) {
        let reference = HashOptions { mode: PdqMode::Reference, ..Default::default() };
        let (Ok(r), Ok(q)) =
            (hash_image(bytes, &reference), hash_image(bytes, &Default::default()))
        else {
            return;
        };
        if schoon_core::fast_block_size(r.info.width, r.info.height) > 1 {
            self.blocked += 1;
            if q.path == schoon_core::PdqPath::Full {
                self.fell_back += 1;
            }
        }
        if r.pdq.quality < 50 {
            return;
        }
        let d = r.pdq.hash.distance(&q.pdq.hash);
        let block = schoon_core::fast_block_size(r.info.width, r.info.height);
        self.by_path.entry(format!("{:?}", q.path)).or_default().push(d);
        if d > 6 {
            eprintln!(
                "  {name}: {d} bits ({:?}, blocks of {block} for {}x{}, quality {})",
                q.path, r.info.width, r.info.height, r.pdq.quality
            );
        }
        if self.worst.as_ref().is_none_or(|(w, _)| d > *w) {
            self.worst = Some((d, name.to_owned()));
        }
        self.distances.push(d);
    }

    /// Prints the figures; returns (p95, max).
    fn report(&self, what: &str) -> (u32, u32) {
        let mut d = self.distances.clone();
        d.sort_unstable();
        let n = d.len();
        if n == 0 {
            eprintln!("{what}: no images of quality >= 50");
            return (0, 0);
        }
        let p95 = d[(n * 95).div_ceil(100) - 1];
        let max = d[n - 1];
        let mean = d.iter().sum::<u32>() as f64 / n as f64;
        eprintln!(
            "{what}: fast vs reference over {n} images of quality >= 50: mean {mean:.2}, p95 \
             {p95}, max {max} (worst: {}); full-size fall-back on {} of {} images sized for blocks",
            self.worst.as_ref().map_or("-", |(_, w)| w.as_str()),
            self.fell_back,
            self.blocked
        );
        for (path, d) in &self.by_path {
            let mut d = d.clone();
            d.sort_unstable();
            eprintln!(
                "  {path}: {} images, median {}, max {}",
                d.len(),
                d[d.len() / 2],
                d[d.len() - 1]
            );
        }
        (p95, max)
    }

    fn merge(&mut self, other: Tally) {
        self.distances.extend(other.distances);
        for (k, v) in other.by_path {
            self.by_path.entry(k).or_default().extend(v);
        }
        self.fell_back += other.fell_back;
        self.blocked += other.blocked;
        if let Some((d, w)) = other.worst
            && self.worst.as_ref().is_none_or(|(x, _)| d > *x)
        {
            self.worst = Some((d, w));
        }
    }
}

fn corpus_tally() -> Option<Tally> {
    let root = corpus(".")?;
    let mut files = Vec::new();
    images(&root, &mut files);
    let mut tally = Tally::default();
    eprintln!("corpus ({} files):", files.len());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        tally.add(&name, &bytes);
    }
    Some(tally)
}

fn synthetic_tally() -> Tally {
    // (size, periods): every period at the common sizes, the ones near the blocks at 12 MP.
    let all = &textures::PERIODS[..];
    let near = &[3.5, 4.5, 7.5, 8.5, 9.0, 16.0][..];
    let sets: &[((u32, u32), &[f32])] = if cfg!(debug_assertions) {
        &[((640, 480), near), ((1024, 768), near)]
    } else {
        &[((1600, 1600), all), ((1024, 768), all), ((640, 480), all), ((4032, 3024), near)]
    };
    let mut tally = Tally::default();
    for &((w, h), periods) in sets {
        let set = textures::textures(w, h, periods);
        eprintln!("synthetic {w}x{h} ({} images):", set.len());
        for t in set {
            tally.add(&t.name, &t.bytes);
        }
    }
    tally
}

#[test]
fn fast_path_stays_within_the_deviation_budget() {
    let mut all = synthetic_tally();
    all.report("synthetic textures");
    if let Some(corpus) = corpus_tally() {
        corpus.report("corpus");
        all.merge(corpus);
    }
    let (p95, max) = all.report("corpus + synthetic");
    assert!(p95 <= 6, "p95 {p95} > 6");
    assert!(max <= 12, "max {max} > 12");
}
