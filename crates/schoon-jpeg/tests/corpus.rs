//! Corpus check: every `*.jpg` under `pdq-reference/` and `bsds500/` of the
//! shared corpus (env `SCHOON_CORPUS`, default `../shared/corpus` beside the
//! workspace) is decoded at all three scales and compared with the `image`
//! crate's full decode. Skipped, with a message, when the corpus is absent.
//! The corpus files are never copied into the repository.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};

use common::{Stats, compare_with, reference_luma, scales};
use schoon_jpeg::{ColorKind, Error, Limits, Unsupported, decode_luma, read_header};

fn corpus_dir() -> PathBuf {
    std::env::var_os("SCHOON_CORPUS").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus")),
        PathBuf::from,
    )
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        {
            out.push(p);
        }
    }
}

#[test]
fn corpus_matches_reference() {
    let root = corpus_dir();
    if !root.is_dir() {
        println!("SKIPPED corpus check: {} not found (set SCHOON_CORPUS)", root.display());
        return;
    }
    let mut files = Vec::new();
    collect(&root.join("pdq-reference"), &mut files);
    collect(&root.join("bsds500"), &mut files);
    if files.is_empty() {
        println!("SKIPPED corpus check: no jpg files under {}", root.display());
        return;
    }
    // Per scale: aggregated stats over complete cells (sum of means weighted by files).
    let mut agg: [(usize, f64, f64, String); 3] = Default::default();
    let mut unsupported = 0;
    let mut failures: Vec<String> = Vec::new();
    let mut progressive = 0;
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let name = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        let header = read_header(&data);
        let is_cmyk = matches!(
            header,
            Ok(h) if matches!(h.color, ColorKind::Cmyk | ColorKind::Ycck)
        );
        if is_cmyk {
            let e = decode_luma(&data, schoon_jpeg::Scale::Eighth, &Limits::default());
            assert!(
                matches!(e, Err(Error::Unsupported(Unsupported::Cmyk | Unsupported::Ycck))),
                "{name}: cmyk must be unsupported, got {e:?}"
            );
            unsupported += 1;
            println!("{name}: cmyk -> unsupported (as required)");
            continue;
        }
        let header = header.unwrap_or_else(|e| panic!("{name}: header: {e}"));
        if header.progressive {
            progressive += 1;
        }
        let (w, h, full) =
            reference_luma(&data).unwrap_or_else(|| panic!("{name}: reference failed"));
        for (i, scale) in scales().into_iter().enumerate() {
            let luma = decode_luma(&data, scale, &Limits::default())
                .unwrap_or_else(|e| panic!("{name} {scale:?}: {e}"));
            let st: Stats = compare_with(&luma, w, h, &full, scale)
                .unwrap_or_else(|e| panic!("{name} {scale:?}: {e}"));
            // Natural photos: box means of the exact IDCT vs the reference's
            // integer IDCT, per-pixel clamping and YCbCr->RGB->luma round trip
            // (saturated colours clamp in RGB). Typical files are far below.
            let (mean_tol, max_tol) = match scale {
                schoon_jpeg::Scale::Eighth => (0.6, 6.0),
                schoon_jpeg::Scale::Quarter => (0.8, 10.0),
                schoon_jpeg::Scale::Half => (0.8, 20.0),
            };
            if std::env::var_os("CORPUS_VERBOSE").is_some() {
                println!(
                    "FILE {:.4} {:.2} {name} {scale:?} {:?} prog={}",
                    st.mean_abs, st.max_abs, header.color, header.progressive
                );
            }
            if st.mean_abs > mean_tol || st.max_abs > max_tol {
                failures.push(format!(
                    "{name} {scale:?} ({w}x{h}, {:?}, progressive {}): {st}",
                    header.color, header.progressive
                ));
            }
            let a = &mut agg[i];
            a.0 += 1;
            a.1 += st.mean_abs;
            if st.max_abs > a.2 {
                a.2 = st.max_abs;
                a.3 = name.clone();
            }
        }
    }
    println!(
        "corpus: {} files ({} progressive, {} cmyk/unsupported)",
        files.len(),
        progressive,
        unsupported
    );
    for (s, a) in scales().iter().zip(&agg) {
        println!(
            "corpus {s:?}: mean abs error {:.4} (average over files), max abs error {:.2} ({})",
            a.1 / a.0.max(1) as f64,
            a.2,
            a.3
        );
    }
    assert!(failures.is_empty(), "{} over tolerance:\n{}", failures.len(), failures.join("\n"));
}
