//! The shipped fixtures (`tests/fixtures/`, made by `cargo xtask fixtures`) hash to the values in
//! `expected.csv`: the same table the WASM, Node and worker tests check, so every platform gives
//! identical hashes for identical bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use std::path::PathBuf;

use schoon_core::{ExactHashes, HashOptions, PdqMode, hash_image};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

#[test]
fn fixtures_hash_to_the_expected_values() {
    let csv = std::fs::read_to_string(dir().join("expected.csv")).unwrap();
    let mut rows = 0;
    for line in csv.lines().skip_while(|l| l.starts_with('#')).skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let bytes = std::fs::read(dir().join(c[0])).unwrap();
        let exact = ExactHashes::of(&bytes);
        assert_eq!(exact.bytes.to_string(), c[1], "{}", c[0]);
        assert_eq!(exact.md5.to_hex(), c[2], "{}", c[0]);
        assert_eq!(exact.sha1.to_hex(), c[3], "{}", c[0]);
        assert_eq!(exact.sha256.to_hex(), c[4], "{}", c[0]);
        let r = hash_image(&bytes, &HashOptions { mode: PdqMode::Reference, ..Default::default() })
            .unwrap();
        assert_eq!(r.info.width.to_string(), c[5]);
        assert_eq!(r.info.height.to_string(), c[6]);
        assert_eq!(r.pdq.hash.to_hex(), c[7], "{} reference", c[0]);
        assert_eq!(r.pdq.quality.to_string(), c[8], "{} reference quality", c[0]);
        let f = hash_image(&bytes, &HashOptions::default()).unwrap();
        assert_eq!(f.pdq.hash.to_hex(), c[9], "{} fast", c[0]);
        assert_eq!(f.pdq.quality.to_string(), c[10], "{} fast quality", c[0]);
        rows += 1;
    }
    assert!(rows >= 15, "only {rows} fixtures");
}

#[test]
fn broken_fixtures_give_typed_errors() {
    for (name, want) in
        [("truncated.jpg", "malformed jpeg image"), ("not-an-image.jpg", "not a supported image")]
    {
        let bytes = std::fs::read(dir().join(name)).unwrap();
        let e = hash_image(&bytes, &HashOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with(want), "{name}: {e}");
    }
}
