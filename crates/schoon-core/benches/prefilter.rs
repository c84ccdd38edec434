//! The PDQ prefilter, measured (printed, not asserted): `cargo bench -p schoon-core --bench prefilter`.
//!
//! Listed: half of the corpus photos (BSDS500, 150 images) plus random background hashes up to
//! 10^5 and 10^6 listed hashes. Queries: edited copies of the listed photos (relative recall:
//! of the copies the full index matches, the share the filter flags) and the other 150 photos
//! with their edited copies (false candidates: filter hits the index does not confirm).
//! Needs the corpus (`../shared/corpus` or `SCHOON_CORPUS`).

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::path::PathBuf;

use image::{DynamicImage, ImageFormat, imageops};
use schoon_core::set::{
    BandParams, BuildInfo, Filter, FilterParams, Index, ListInfo, MatchOptions, Query, SetBuilder,
    Trust,
};
use schoon_core::{HashOptions, PdqHash, hash_image};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SCHOON_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
    });
    dir.join("bsds500").is_dir().then_some(dir)
}

fn jpeg(img: &DynamicImage, q: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q);
    img.to_rgb8().write_with_encoder(enc).unwrap();
    out
}

fn png(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
    out
}

/// Benign edits (the evaluation crate has the full set; these cover the usual kinds).
fn edits(img: &DynamicImage) -> Vec<(&'static str, Vec<u8>)> {
    let (w, h) = (img.width(), img.height());
    let bright = {
        let mut b = img.to_rgb8();
        b.pixels_mut().for_each(|p| p.0 = p.0.map(|v| (f32::from(v) * 1.3).min(255.0) as u8));
        DynamicImage::ImageRgb8(b)
    };
    vec![
        ("jpeg q50", jpeg(img, 50)),
        ("jpeg q30", jpeg(img, 30)),
        ("resize 0.5", jpeg(&img.resize_exact(w / 2, h / 2, imageops::FilterType::Triangle), 90)),
        ("resize 0.25", png(&img.resize_exact(w / 4, h / 4, imageops::FilterType::Triangle))),
        ("mirror", jpeg(&img.fliph(), 90)),
        ("rotate 90", jpeg(&img.rotate90(), 90)),
        ("greyscale", png(&img.grayscale())),
        ("brightness +30%", jpeg(&bright, 90)),
        ("blur 1", jpeg(&img.blur(1.0), 90)),
        ("crop 5%", jpeg(&img.crop_imm(w / 40, h / 40, w - w / 20, h - h / 20), 90)),
    ]
}

#[path = "../tests/common/mod.rs"]
mod common;
use common::Rng;

fn main() {
    let Some(root) = corpus() else {
        eprintln!(
            "SKIPPED: the prefilter figures need the evaluation corpus (../shared/corpus or SCHOON_CORPUS)"
        );
        return;
    };
    let mut files: Vec<PathBuf> = ["train", "val"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join("bsds500").join(d)).unwrap().map(|e| e.unwrap().path())
        })
        .collect();
    files.sort();
    let opts = HashOptions::default();
    let hashed: Vec<(Query, Vec<Query>)> = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap();
            let img = image::load_from_memory(&bytes).unwrap();
            let q = |b: &[u8]| {
                Query::from_hashes(
                    &schoon_core::ExactHashes::of(b),
                    hash_image(b, &opts).ok().as_ref(),
                )
            };
            (q(&bytes), edits(&img).iter().map(|(_, e)| q(e)).collect())
        })
        .collect();
    let (listed, distinct) = hashed.split_at(hashed.len() / 2);
    eprintln!(
        "{} listed photos with {} edits each, {} distinct photos",
        listed.len(),
        listed[0].1.len(),
        distinct.len()
    );

    let listed_pdq: Vec<(PdqHash, u8)> = listed
        .iter()
        .filter_map(|(q, _)| q.pdq.as_ref().map(|p| (p.variants[0], p.quality.unwrap_or(0))))
        .collect();
    let b = |bands, bits, flips, fingerprint| BandParams { bands, bits, flips, fingerprint };
    let configs = [
        b(8, 40, 3, 16),
        b(8, 36, 3, 16),
        b(8, 40, 3, 24),
        b(8, 38, 3, 24),
        b(8, 37, 3, 24),
        b(8, 36, 3, 24),
        b(8, 34, 3, 24),
        b(8, 40, 4, 24),
        b(7, 36, 3, 24),
    ];
    // Synthetic queries (random coefficients) estimate the filter's own false-positive part
    // with far more samples than there are real photos.
    let mut rng = Rng(7);
    let synthetic: Vec<Query> = (0..20_000)
        .map(|_| {
            let mut c = [[0f32; 16]; 16];
            for v in c.iter_mut().flatten() {
                *v = (rng.next() % 20_000) as f32 / 100.0 - 100.0;
            }
            let coeffs = schoon_core::Coefficients(c);
            let variants: Vec<PdqHash> = (0..8).map(|v| coeffs.hash(v)).collect();
            Query {
                pdq: Some(schoon_core::set::PdqQuery {
                    variants,
                    quality: Some(100),
                    coefficients: Some(coeffs),
                }),
                ..Default::default()
            }
        })
        .collect();
    println!(
        "\n| listed | bands x bits, flips, fingerprint | probes/image | relative recall (edited copies) | false candidates (distinct photos and edits) | false candidates (20,000 synthetic queries) | filter bytes per listed hash |"
    );
    println!("|---|---|---|---|---|---|---|");
    let key = schoon_core::SigningKey::from_seed([3; 32]);
    let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
    let trust = Trust::key(key.public_key());
    let m = MatchOptions::default();
    for total in [100_000usize, 1_000_000] {
        // Index of the real listed hashes only: background hashes are random and never match.
        let mut b = SetBuilder::new();
        let l = b.add_list(ListInfo::new("bench", "bench", "bsds")).unwrap();
        listed_pdq.iter().for_each(|(h, q)| b.add_pdq(l, *h, Some(*q)));
        let index = Index::from_bytes(b.build_index(&info, None).unwrap(), &trust).unwrap();
        let mut rng = Rng(99);
        for _ in listed_pdq.len()..total {
            let mut h = [0u8; 32];
            for c in h.chunks_mut(8) {
                c.copy_from_slice(&rng.next().to_le_bytes());
            }
            b.add_pdq(l, PdqHash(h), Some(100));
        }
        for bands in configs {
            let params = FilterParams { pdq: Some(bands), salt: 17, ..FilterParams::default() };
            let bytes = b.build_filter(&params, &info).unwrap();
            let filter = Filter::from_bytes(&bytes, &trust).unwrap();
            let pdq_bytes = filter.stats().pdq_bytes as f64;
            let pdq_only = |q: &Query| Query { pdq: q.pdq.clone(), ..Default::default() };
            let (mut matched, mut found) = (0usize, 0usize);
            for (_, copies) in listed {
                for c in copies {
                    if !index.lookup(&pdq_only(c), &m).is_empty() {
                        matched += 1;
                        found += usize::from(filter.check(&pdq_only(c), &m).is_candidate());
                    }
                }
            }
            let (mut queries, mut false_cand) = (0usize, 0usize);
            for (orig, copies) in distinct {
                for q in std::iter::once(orig).chain(copies) {
                    let q = pdq_only(q);
                    if q.pdq.as_ref().and_then(|p| p.quality).is_some_and(|x| x < 50) {
                        continue;
                    }
                    queries += 1;
                    if index.lookup(&q, &m).is_empty() && filter.check(&q, &m).is_candidate() {
                        false_cand += 1;
                    }
                }
            }
            let synthetic_hits =
                synthetic.iter().filter(|q| filter.check(q, &m).is_candidate()).count();
            println!(
                "| {total} | {} x {}, {}, {} | {} | {:.1} % ({found}/{matched}) | {:.2} % ({false_cand}/{queries}) | {:.2} % | {:.1} |",
                bands.bands,
                bands.bits,
                bands.flips,
                bands.fingerprint,
                bands.probes_per_image(),
                100.0 * found as f64 / matched.max(1) as f64,
                100.0 * false_cand as f64 / queries.max(1) as f64,
                100.0 * synthetic_hits as f64 / synthetic.len() as f64,
                pdq_bytes / total as f64
            );
        }
    }
}
