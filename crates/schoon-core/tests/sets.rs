//! Index and filter: building, matching, signatures, tampering, deltas.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use schoon_core::set::{
    BandParams, BuildInfo, Filter, FilterKind, FilterParams, HashKind, Index, ListInfo,
    MIH_MIN_ENTRIES, MatchOptions, Query, SetBuilder, Trust, Verdict,
};
use schoon_core::{ErrorKind, ExactHashes, HashOptions, PdqHash, SigningKey, hash_bytes};

mod common;
use common::Rng;

fn flip(h: &PdqHash, bits: &[usize]) -> PdqHash {
    let mut x = *h;
    for &b in bits {
        x.flip_bit(b);
    }
    x
}

fn key() -> SigningKey {
    SigningKey::from_seed([11; 32])
}

fn info(version: u64, k: &SigningKey) -> BuildInfo<'_> {
    BuildInfo { set_version: version, created: 1_800_000_000, signing_key: Some(k) }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn exact_and_pdq_matching_through_the_index() {
    let k = key();
    let mut b = SetBuilder::new();
    let a = b.add_list(ListInfo::new("list-a", "csam", "hotline a")).unwrap();
    let c = b.add_list(ListInfo::new("list-b", "terror", "hotline b")).unwrap();
    let file = ExactHashes::of(b"listed bytes");
    b.add_md5(a, file.md5);
    b.add_sha1(c, file.sha1);
    let mut rng = Rng(5);
    let p = rng.hash();
    b.add_pdq(a, p, Some(90));
    b.add_pdq(c, p, Some(90));
    let (index, _filter) =
        b.build_both(&FilterParams { salt: 1, ..Default::default() }, &info(3, &k)).unwrap();
    let index = Index::from_bytes(index, &Trust::key(k.public_key())).unwrap();
    assert_eq!(index.header().set_version, 3);
    assert_eq!(index.count(HashKind::Md5), 1);

    let m = index.lookup(&Query::from_exact(&file), &MatchOptions::default());
    assert_eq!(m.len(), 2);
    assert!(m.iter().any(|x| x.list == "list-a" && x.kind == HashKind::Md5 && x.distance == 0));
    assert!(
        m.iter().any(|x| x.list == "list-b" && x.category == "terror" && x.kind == HashKind::Sha1)
    );

    let near = flip(&p, &[1, 50, 99, 200]);
    let m = index.lookup(&Query::from_pdq(near, Some(80)), &MatchOptions::default());
    assert_eq!(m.len(), 2, "one match per list");
    assert!(m.iter().all(|x| x.kind == HashKind::Pdq && x.distance == 4 && x.value == p.to_hex()));

    let far: Vec<usize> = (0..32).map(|i| i * 7).collect();
    let m = index.lookup(&Query::from_pdq(flip(&p, &far), Some(80)), &MatchOptions::default());
    assert!(m.is_empty(), "distance 32 is beyond 31");
    let m = index.lookup(
        &Query::from_pdq(flip(&p, &far), Some(80)),
        &MatchOptions { threshold: 32, ..Default::default() },
    );
    assert_eq!(m.len(), 2);
    let m = index.lookup(&Query::from_pdq(near, Some(49)), &MatchOptions::default());
    assert!(m.is_empty(), "quality below 50 does not match");
    assert_eq!(Verdict::of_matches(&m), Verdict::Clean);
}

#[test]
fn dihedral_variants_match_rotated_uploads() {
    // List the reference-hashed fixture; query a mirrored re-encode of it.
    let k = key();
    let bytes = fixture("scene-rgb.png");
    let original = hash_bytes(&bytes, &HashOptions::default());
    let img = image::load_from_memory(&bytes).unwrap().fliph().rotate90();
    let mut edited = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut edited), image::ImageFormat::Jpeg).unwrap();
    let query = hash_bytes(&edited, &HashOptions::default());
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("demo", "demo", "test")).unwrap();
    b.add_image(l, &original.exact, original.image.as_ref().ok());
    let (index, filter) =
        b.build_both(&FilterParams { salt: 3, ..Default::default() }, &info(1, &k)).unwrap();
    let index = Index::from_bytes(index, &Trust::key(k.public_key())).unwrap();
    let q = Query::from_hashes(&query.exact, query.image.as_ref().ok());
    let m = index.lookup(&q, &MatchOptions::default());
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].kind, HashKind::Pdq);
    assert!(m[0].distance <= 31);
    assert_ne!(m[0].variant, Some("original"));
    let filter = Filter::from_bytes(&filter, &Trust::key(k.public_key())).unwrap();
    let hits = filter.check(&q, &MatchOptions::default());
    assert_eq!(hits.kinds, vec![HashKind::Pdq]);
    assert_eq!(hits.probes, 3 + 512);
}

#[test]
fn multi_index_and_linear_scan_agree() {
    let k = key();
    let mut rng = Rng(77);
    let n = MIH_MIN_ENTRIES + 500;
    let listed: Vec<PdqHash> = (0..n).map(|_| rng.hash()).collect();
    let build = |entries: &[PdqHash]| {
        let mut b = SetBuilder::new();
        let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
        for h in entries {
            b.add_pdq(l, *h, None);
        }
        Index::from_bytes(b.build_index(&info(1, &k), None).unwrap(), &Trust::key(k.public_key()))
            .unwrap()
    };
    let big = build(&listed);
    assert!(big.uses_mih());
    // Queries at distances 0..=40 from listed hashes, plus random ones.
    for t in [15u32, 31, 40] {
        for i in 0..60usize {
            let base = listed[(i * 331) % n];
            let d = (i * 7) % 42;
            let bits: Vec<usize> = (0..d)
                .map(|j| (j * 37 + i) % 256)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let q = flip(&base, &bits);
            let opts = MatchOptions { threshold: t, min_quality: 0 };
            let got = big.lookup(&Query::from_pdq(q, None), &opts);
            let brute = listed.iter().map(|h| h.distance(&q)).filter(|&x| x <= t).min();
            assert_eq!(got.first().map(|m| m.distance), brute, "threshold {t}, query {i}");
        }
    }
}

#[test]
fn filter_has_no_false_negatives_and_few_false_positives() {
    let k = key();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    let files: Vec<ExactHashes> = (0..5000u32).map(|i| ExactHashes::of(&i.to_le_bytes())).collect();
    for f in &files {
        b.add_sha256(l, f.sha256);
        b.add_md5(l, f.md5);
    }
    for kind in [FilterKind::Fuse, FilterKind::Bloom] {
        let params = FilterParams { kind, fpr: 1e-3, pdq: None, salt: 99 };
        let bytes = b.build_filter(&params, &info(1, &k)).unwrap();
        let f = Filter::from_bytes(&bytes, &Trust::key(k.public_key())).unwrap();
        for file in &files {
            let hits = f.check(&Query::from_exact(file), &MatchOptions::default());
            assert!(hits.kinds.contains(&HashKind::Sha256) && hits.kinds.contains(&HashKind::Md5));
        }
        let fp = (10_000u32..30_000)
            .filter(|i| {
                f.check(
                    &Query::from_exact(&ExactHashes::of(&i.to_le_bytes())),
                    &MatchOptions::default(),
                )
                .is_candidate()
            })
            .count();
        assert!(fp < 200, "{kind:?}: {fp} false candidates of 20000");
        assert!(!f.has_pdq());
    }
}

#[test]
fn tampered_truncated_unsigned_and_foreign_sets_are_refused() {
    let k = key();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_sha256(l, ExactHashes::of(b"x").sha256);
    let (index, filter) = b.build_both(&FilterParams::default(), &info(9, &k)).unwrap();
    let trust = Trust::key(k.public_key());
    for bytes in [&index, &filter] {
        let mut flipped = bytes.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x10;
        let e = Filter::from_bytes(&flipped, &trust).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(Index::from_bytes(flipped, &trust).is_err());
        for len in [0, 10, 100, bytes.len() - 1] {
            assert!(Filter::from_bytes(&bytes[..len], &trust).is_err());
        }
    }
    let other = SigningKey::from_seed([12; 32]).public_key();
    let e = Filter::from_bytes(&filter, &Trust::key(other)).unwrap_err();
    assert!(e.to_string().starts_with("set signature refused"), "{e}");
    let e = Filter::from_bytes(&index, &trust).unwrap_err();
    assert_eq!(e.to_string(), "malformed set: expected a filter, found a index");
    let unsigned = b
        .build_filter(
            &FilterParams::default(),
            &BuildInfo { set_version: 9, created: 0, signing_key: None },
        )
        .unwrap();
    let e = Filter::from_bytes(&unsigned, &trust).unwrap_err();
    assert!(e.to_string().contains("not signed"), "{e}");
    assert!(Filter::from_bytes(&unsigned, &Trust::unsigned()).is_ok());
    let f = Filter::from_bytes(&filter, &trust).unwrap();
    assert!(f.ensure_newer_than(8).is_ok());
    let e = f.ensure_newer_than(9).unwrap_err();
    assert_eq!(e.to_string(), "set version 9 is not newer than the version 9 already held");
}

#[test]
fn deltas_bring_a_client_from_n_to_n_plus_one() {
    let k = key();
    let trust = Trust::key(k.public_key());
    for kind in [FilterKind::Fuse, FilterKind::Bloom] {
        let params = FilterParams { kind, fpr: 1e-4, pdq: Some(BandParams::default()), salt: 5 };
        let mut v1 = SetBuilder::new();
        let l = v1.add_list(ListInfo::new("l", "c", "s")).unwrap();
        let old: Vec<ExactHashes> =
            (0..1000u32).map(|i| ExactHashes::of(&i.to_be_bytes())).collect();
        old.iter().for_each(|f| v1.add_sha256(l, f.sha256));
        let (index1, filter1) = v1.build_both(&params, &info(100, &k)).unwrap();
        let index1 = Index::from_bytes(index1, &trust).unwrap();

        let mut v2 = SetBuilder::from_index(&index1);
        let new: Vec<ExactHashes> =
            (5000..5010u32).map(|i| ExactHashes::of(&i.to_be_bytes())).collect();
        new.iter().for_each(|f| v2.add_sha256(l, f.sha256));
        let mut rng = Rng(3);
        let p = rng.hash();
        v2.add_pdq(l, p, Some(100));
        let delta = v2.build_filter_delta(&index1, &info(101, &k)).unwrap();
        let (_, full2) = v2.build_both(&params, &info(101, &k)).unwrap();
        assert!(
            delta.len() < full2.len() / 2 || kind == FilterKind::Bloom,
            "{} vs {}",
            delta.len(),
            full2.len()
        );

        let mut client = Filter::from_bytes(&filter1, &trust).unwrap();
        assert!(
            !client.check(&Query::from_exact(&new[0]), &MatchOptions::default()).is_candidate()
        );
        client.apply_delta(&delta, &trust).unwrap();
        assert_eq!(client.version(), 101);
        for f in old.iter().chain(&new) {
            assert!(client.check(&Query::from_exact(f), &MatchOptions::default()).is_candidate());
        }
        assert!(client.check(&Query::from_pdq(p, None), &MatchOptions::default()).is_candidate());
        let expected_parts = if kind == FilterKind::Bloom { 1 } else { 2 };
        assert_eq!(client.stats().parts, expected_parts, "{kind:?}");
        // The same delta again (replay) and a delta for another base are refused.
        let e = client.apply_delta(&delta, &trust).unwrap_err();
        assert!(e.to_string().contains("applies to version 100"), "{e}");
    }
}

#[test]
fn filter_kinds_name_what_its_lists_hold() {
    let k = key();
    let trust = Trust::key(k.public_key());
    let params = FilterParams { salt: 9, ..Default::default() };
    let mut v1 = SetBuilder::new();
    let l = v1.add_list(ListInfo::new("l", "c", "s")).unwrap();
    let file = ExactHashes::of(b"listed");
    v1.add_md5(l, file.md5);
    v1.add_sha256(l, file.sha256);
    let (index1, filter1) = v1.build_both(&params, &info(10, &k)).unwrap();
    let client = Filter::from_bytes(&filter1, &trust).unwrap();
    // A PDQ prefilter without PDQ entries could only miss: not a kind to compute.
    assert!(client.has_pdq());
    assert_eq!(client.kinds(), [HashKind::Md5, HashKind::Sha256]);

    let index1 = Index::from_bytes(index1, &trust).unwrap();
    let mut v2 = SetBuilder::from_index(&index1);
    v2.add_pdq(l, Rng(7).hash(), Some(100));
    v2.add_sha1(l, file.sha1);
    let delta = v2.build_filter_delta(&index1, &info(11, &k)).unwrap();
    let mut client = client;
    client.apply_delta(&delta, &trust).unwrap();
    assert_eq!(client.kinds(), HashKind::ALL);

    let no_pdq = FilterParams { pdq: None, ..params };
    let mut v3 = SetBuilder::from_index(&index1);
    v3.add_pdq(l, Rng(8).hash(), Some(100));
    let filter3 = v3.build_filter(&no_pdq, &info(12, &k)).unwrap();
    let client = Filter::from_bytes(&filter3, &trust).unwrap();
    assert_eq!(client.kinds(), [HashKind::Md5, HashKind::Sha256]);
}

#[test]
fn builder_rejects_stale_delta_versions() {
    let k = key();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_md5(l, ExactHashes::of(b"a").md5);
    let (index, _) = b.build_both(&FilterParams::default(), &info(10, &k)).unwrap();
    let index = Index::from_bytes(index, &Trust::key(k.public_key())).unwrap();
    let e = b.build_filter_delta(&index, &info(10, &k)).unwrap_err();
    assert!(e.to_string().contains("must be newer"), "{e}");
}

fn example(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn region_hashes_reach_crops_and_captions_through_filter_and_index() {
    use schoon_core::set::{check_hashed, lookup_hashed};
    let k = key();
    let opts = HashOptions { regions: true, ..Default::default() };
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("demo", "test", "examples")).unwrap();
    for f in ["listed/known-1.jpg", "listed/known-2.jpg", "listed/known-3.jpg"] {
        let r = hash_bytes(&example(f), &opts);
        b.add_image(l, &r.exact, r.image.as_ref().ok());
    }
    let params = FilterParams { salt: 5, ..FilterParams::default() };
    let (index, filter) = b.build_both(&params, &info(1, &k)).unwrap();
    let trust = Trust::key(k.public_key());
    let index = Index::from_bytes(index, &trust).unwrap();
    let filter = Filter::from_bytes(&filter, &trust).unwrap();
    assert!(index.has_regions() && filter.has_regions());
    assert!(filter.lists()[0].regions >= 6, "{:?}", filter.lists());
    let m = MatchOptions::default();
    for f in ["edited/known-1-cropped-5pct.jpg", "edited/known-1-captioned.jpg"] {
        let r = hash_bytes(&example(f), &opts);
        let image = r.image.as_ref().ok();
        // Plain PDQ misses; the filter flags windows and the index confirms them.
        let (hits, windows) = check_hashed(&filter, &r.exact, image, &m);
        assert!(!hits.kinds.contains(&HashKind::Pdq), "{f}: {hits:?}");
        assert!(!windows.is_empty(), "{f}: no window flagged");
        let confirmed = index.lookup_regions(&windows, &m);
        assert_eq!(confirmed.len(), 1, "{f}");
        assert!(confirmed[0].region.is_some() && confirmed[0].distance <= 31, "{confirmed:?}");
        let scanned = lookup_hashed(&index, &r.exact, image, &m);
        assert_eq!(scanned.len(), 1, "{f}");
        assert!(scanned[0].distance <= confirmed[0].distance && scanned[0].region.is_some());
        // What a client sends for confirmation: the flagged windows' hashes alone.
        let hashes: Vec<PdqHash> = windows.iter().map(|(_, p)| p.hash).collect();
        let by_hash = index.lookup_region_hashes(&hashes, &m);
        assert_eq!(by_hash.len(), 1, "{f}");
        assert!(by_hash[0].variant.is_none() && by_hash[0].region.is_some(), "{by_hash:?}");
        // Without the plane there are no windows, and a plain query never hits region keys.
        let plain = hash_bytes(&example(f), &HashOptions::default());
        let (hits, windows) = check_hashed(&filter, &plain.exact, plain.image.as_ref().ok(), &m);
        assert!(!hits.is_candidate() && windows.is_empty(), "{f}");
    }
    // Innocent images: neither filter nor index.
    for f in ["innocent/scene-1.jpg", "innocent/scene-2.png", "innocent/scene-3.jpg"] {
        let r = hash_bytes(&example(f), &opts);
        let (hits, windows) = check_hashed(&filter, &r.exact, r.image.as_ref().ok(), &m);
        assert!(!hits.is_candidate() && windows.is_empty(), "{f}");
        assert!(lookup_hashed(&index, &r.exact, r.image.as_ref().ok(), &m).is_empty(), "{f}");
    }
    // A filter built without region hashes has none to probe.
    let mut plain = SetBuilder::new();
    let l = plain.add_list(ListInfo::new("demo", "test", "examples")).unwrap();
    let r = hash_bytes(&example("listed/known-1.jpg"), &HashOptions::default());
    plain.add_image(l, &r.exact, r.image.as_ref().ok());
    let f =
        Filter::from_bytes(&plain.build_filter(&params, &info(1, &k)).unwrap(), &trust).unwrap();
    assert!(!f.has_regions());
}
