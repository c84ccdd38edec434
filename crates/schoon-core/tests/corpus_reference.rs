//! Bit-exactness against Meta's C++ PDQ core, on the shared evaluation corpus.
//!
//! The corpus lives outside the repository (`../shared/corpus` beside the checkout, or the
//! directory in `SCHOON_CORPUS`); without it these tests print why and pass.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use std::path::PathBuf;

use schoon_core::{HashOptions, PdqHash, PdqMode, hash_image};

mod common;

use common::corpus;

/// `pdq/data/<dir>/<name>` with `/` written as `__`, plus prefixes for the two other sources.
fn resolve(root: &std::path::Path, name: &str) -> PathBuf {
    root.join("pdq-reference").join(name.replace("__", "/"))
}

fn reference() -> HashOptions {
    HashOptions { mode: PdqMode::Reference, ..Default::default() }
}

#[test]
fn all_reference_rows_match_bit_for_bit() {
    let Some(root) = corpus("pdq-reference") else { return };
    let csv =
        std::fs::read_to_string(root.join("pdq-reference/ref-fullsize-cpp-core.csv")).unwrap();
    let mut checked = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for line in csv.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let (hex, quality, dims, name) = (cols[0], cols[1], cols[2], cols[3]);
        let path = resolve(&root, name);
        let Ok(bytes) = std::fs::read(&path) else {
            skipped.push(name.to_owned());
            continue;
        };
        let got = hash_image(&bytes, &reference()).unwrap();
        let expected: PdqHash = hex.parse().unwrap();
        let want_q: u8 = quality.parse().unwrap();
        let got_dims = format!("{}x{}", got.info.width, got.info.height);
        if got.pdq.hash != expected || got.pdq.quality != want_q || got_dims != dims {
            failures.push(format!(
                "{name}: got {} q{} {got_dims}, want {hex} q{quality} {dims} (distance {})",
                got.pdq.hash,
                got.pdq.quality,
                got.pdq.hash.distance(&expected)
            ));
        }
        checked += 1;
    }
    eprintln!("checked {checked} reference rows; files not present: {skipped:?}");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn dihedral_hashes_of_the_bridge_match() {
    let Some(root) = corpus("pdq-reference") else { return };
    let txt =
        std::fs::read_to_string(root.join("pdq-reference/ref-fullsize-dihedral-bridge-1.txt"))
            .unwrap();
    let bytes =
        std::fs::read(root.join("pdq-reference/reg-test-input/dih/bridge-1-original.jpg")).unwrap();
    let got = hash_image(&bytes, &reference()).unwrap().pdq;
    let names = ["r90", "r180", "r270", "flipx", "flipy", "flipp", "flipm"];
    for (i, name) in names.iter().enumerate() {
        let key = format!("{name}=");
        let hex = txt.split_whitespace().find_map(|t| t.strip_prefix(&key)).unwrap();
        assert_eq!(got.dihedral[i + 1].to_hex(), hex, "{name}");
    }
}
