//! The filter's side of the region hashes, measured (printed, not asserted): of the edited
//! copies that the index matches as `schoon scan` decides, the share a client holding only the
//! filter flags (relative recall), and the innocent uploads it flags that the index clears
//! (false candidates), per number of flipped bits and listed-set size.
//!
//! ```text
//! cargo run --release -p schoon-eval --example region_filter -- [CORPUS] [STEP]
//! ```
//!
//! Every STEP-th image of CORPUS (default `../shared/corpus/bsds500`, 2); even ones are listed
//! (whole image and region hashes), odd ones are the innocent uploads. Random background
//! entries (one whole-image and three region hashes each) fill the set to 10^5 and 10^6
//! listed images.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use anyhow::{Context, Result};
use rayon::prelude::*;
use schoon_core::set::{
    BuildInfo, Filter, FilterParams, Index, ListInfo, MatchOptions, SetBuilder, Trust,
    check_hashed, lookup_hashed,
};
use schoon_core::{
    Coefficients, ExactHashes, HashOptions, ImageHashes, Pdq, PdqHash, SigningKey, hash_bytes,
};
use schoon_eval::edits::{Corners, Edit, OverlayStyle, Rng};
use schoon_eval::eval::list_images;

struct Hashed {
    exact: ExactHashes,
    image: Option<ImageHashes>,
}

fn hashed(bytes: &[u8]) -> Hashed {
    let r = hash_bytes(bytes, &HashOptions { regions: true, ..Default::default() });
    Hashed { exact: r.exact, image: r.image.ok() }
}

fn random_pdq(rng: &mut Rng) -> Pdq {
    let mut h = PdqHash::ZERO;
    for c in h.0.chunks_mut(8) {
        c.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    Pdq { hash: h, quality: 100, dihedral: [h; 8], coefficients: Coefficients([[0.0; 16]; 16]) }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/corpus/bsds500".into());
    let step: usize = args.next().map_or(Ok(2), |s| s.parse()).context("STEP")?;
    let dir = std::path::Path::new(&dir);
    if !dir.is_dir() {
        eprintln!("SKIPPED: no corpus at {} (give one as the first argument)", dir.display());
        return Ok(());
    }
    let files: Vec<_> = list_images(dir)?.into_iter().step_by(step.max(1)).collect();
    let edits = [
        Edit::CropAllSides(0.05),
        Edit::CropAllSides(0.1),
        Edit::CropOneSide { fraction: 0.2, side: None },
        Edit::Rotate { degrees: 5.0, corners: Corners::Crop },
        Edit::Rotate { degrees: -5.0, corners: Corners::Crop },
        Edit::Overlay { fraction: 0.1, style: OverlayStyle::Text },
        Edit::Overlay { fraction: 0.1, style: OverlayStyle::Label },
    ];
    // (original, edited copies) per image.
    let all: Vec<(Hashed, Vec<Hashed>)> = files
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let bytes = std::fs::read(p).with_context(|| p.display().to_string())?;
            let img = image::load_from_memory(&bytes)?;
            let copies = edits
                .iter()
                .map(|e| Ok(hashed(&e.render(&img, i as u64)?)))
                .collect::<Result<Vec<_>>>()?;
            Ok((hashed(&bytes), copies))
        })
        .collect::<Result<_>>()?;
    let (listed, innocent): (Vec<_>, Vec<_>) =
        all.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    eprintln!(
        "{} listed photos, {} innocent, {} edits each",
        listed.len(),
        innocent.len(),
        edits.len()
    );

    let key = SigningKey::from_seed([9; 32]);
    let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
    let trust = Trust::key(key.public_key());
    let m = MatchOptions::default();
    println!(
        "\n| listed images | region flips | probes/upload (median) | relative recall: crops, turns ±5°, overlays | false candidates (innocent photos and their edits) | filter bytes per listed image |"
    );
    println!("|---|---|---|---|---|---|");
    for total in [listed.len(), 100_000, 1_000_000] {
        let mut b = SetBuilder::new();
        let l = b.add_list(ListInfo::new("bench", "bench", "bsds")).context("list")?;
        for (_, (orig, _)) in &listed {
            b.add_image(l, &orig.exact, orig.image.as_ref());
        }
        let index = Index::from_bytes(b.build_index(&info, None)?, &trust)?;
        let mut rng = Rng::new(99);
        for _ in listed.len()..total {
            let p = random_pdq(&mut rng);
            b.add_pdq(l, p.hash, Some(100));
            let regions: Vec<(u8, Pdq)> = (1..=3).map(|id| (id, random_pdq(&mut rng))).collect();
            b.add_regions(l, &regions);
        }
        let mut filter = Filter::from_bytes(
            &b.build_filter(&FilterParams { salt: 23, ..Default::default() }, &info)?,
            &trust,
        )?;
        let bytes = filter.stats().exact_bytes + filter.stats().pdq_bytes;
        for flips in 0..=3u8 {
            filter.set_region_flips(flips)?;
            let (mut matched, mut found, mut probes) = ([0usize; 3], [0usize; 3], Vec::new());
            for (_, (_, copies)) in &listed {
                for (e, c) in copies.iter().enumerate() {
                    let group = match e {
                        0..3 => 0,
                        3 | 4 => 1,
                        _ => 2,
                    };
                    if lookup_hashed(&index, &c.exact, c.image.as_ref(), &m).is_empty() {
                        continue;
                    }
                    matched[group] += 1;
                    let (hits, windows) = check_hashed(&filter, &c.exact, c.image.as_ref(), &m);
                    found[group] += usize::from(hits.is_candidate() || !windows.is_empty());
                }
            }
            let (mut queries, mut false_cand) = (0usize, 0usize);
            for (_, (orig, copies)) in &innocent {
                for q in std::iter::once(orig).chain(copies) {
                    queries += 1;
                    let (hits, windows) = check_hashed(&filter, &q.exact, q.image.as_ref(), &m);
                    probes.push(hits.probes);
                    if (hits.is_candidate() || !windows.is_empty())
                        && lookup_hashed(&index, &q.exact, q.image.as_ref(), &m).is_empty()
                    {
                        false_cand += 1;
                    }
                }
            }
            probes.sort_unstable();
            let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
            println!(
                "| {total} | {flips} | {} | {:.1} % ({}/{}), {:.1} % ({}/{}), {:.1} % ({}/{}) | {:.2} % ({false_cand}/{queries}) | {:.1} |",
                probes.get(probes.len() / 2).copied().unwrap_or(0),
                pct(found[0], matched[0]),
                found[0],
                matched[0],
                pct(found[1], matched[1]),
                found[1],
                matched[1],
                pct(found[2], matched[2]),
                found[2],
                matched[2],
                pct(false_cand, queries),
                bytes as f64 / total as f64,
            );
        }
    }
    Ok(())
}
