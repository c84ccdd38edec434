//! The allow-list: storage in index and filter, the suppression rule (exact, PDQ, regions,
//! the filter's equality rule), sets without it, tampering, limits and deltas.
//!
//! Over 600 lines: one behaviour, the allow-list, tested through every path that must agree on it
//! (index, filter, regions, deltas, limits, tampering).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use schoon_core::regions::Scheme;
use schoon_core::set::{
    AllowCounts, BuildInfo, Filter, FilterKind, FilterParams, HashKind, Index, ListInfo,
    MAX_ALLOW_ENTRIES, MatchOptions, PdqQuery, Query, SetBuilder, Trust, check_hashed, inspect,
    lookup_hashed, lookup_hashed_allowed,
};
use schoon_core::{
    ErrorKind, ExactHashes, HashOptions, LimitKind, PdqHash, Sha256, SigningKey, hash_bytes,
};

mod common;
use common::Rng;

fn flip(h: &PdqHash, bits: impl IntoIterator<Item = usize>) -> PdqHash {
    let mut x = *h;
    for b in bits {
        x.flip_bit(b);
    }
    x
}

fn key() -> SigningKey {
    SigningKey::from_seed([23; 32])
}

fn info(version: u64, k: &SigningKey) -> BuildInfo<'_> {
    BuildInfo { set_version: version, created: 1_800_000_000, signing_key: Some(k) }
}

fn trust() -> Trust {
    Trust::key(key().public_key())
}

fn params(kind: FilterKind) -> FilterParams {
    FilterParams { kind, salt: 0x5eed, ..Default::default() }
}

fn built(b: &mut SetBuilder, version: u64) -> (Index, Filter) {
    let k = key();
    let (index, filter) = b.build_both(&params(FilterKind::Fuse), &info(version, &k)).unwrap();
    (Index::from_bytes(index, &trust()).unwrap(), Filter::from_bytes(&filter, &trust()).unwrap())
}

fn example(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../examples/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn regions() -> HashOptions {
    HashOptions { regions: true, ..Default::default() }
}

fn opts() -> MatchOptions {
    MatchOptions::default()
}

/// A query with just these PDQ variants (no coefficients, quality 100).
fn variants(v: &[PdqHash]) -> Query {
    Query {
        pdq: Some(PdqQuery { variants: v.to_vec(), quality: Some(100), coefficients: None }),
        ..Default::default()
    }
}

#[test]
fn an_allow_listed_exact_hash_has_no_matches_at_all() {
    let file = ExactHashes::of(b"a stock picture that collided");
    let mut rng = Rng(1);
    let p = rng.hash();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
    b.add_sha256(l, file.sha256);
    b.add_md5(l, file.md5);
    b.add_pdq(l, p, None);
    let (index, filter) = built(&mut b.clone(), 1);
    let mut query = Query::from_exact(&file);
    query.pdq = Query::from_pdq(flip(&p, [3, 9]), Some(90)).pdq;
    assert_eq!(index.lookup(&query, &opts()).len(), 3);
    assert!(filter.check(&query, &opts()).is_candidate());

    // Only its SHA-1 is allow-listed: that is enough, for every kind, PDQ included.
    b.allow_sha1(file.sha1);
    let (index, filter) = built(&mut b, 2);
    assert_eq!(index.allow_counts(), AllowCounts { sha1: 1, ..Default::default() });
    assert_eq!(filter.allow_counts(), index.allow_counts());
    let (m, allowed) = index.lookup_allowed(&query, &opts());
    assert!(m.is_empty(), "{m:?}");
    assert_eq!(allowed.exact, Some(HashKind::Sha1));
    assert!(allowed.any());
    assert!(index.lookup_with_windows(&query, &[p], &opts()).is_empty());
    assert_eq!(index.allowed_exact(&query), Some(HashKind::Sha1));
    let hits = filter.check(&query, &opts());
    assert!(!hits.is_candidate(), "{hits:?}");
    assert_eq!(filter.allowed_exact(&query), Some(HashKind::Sha1));
    let (hits, windows) = check_hashed(&filter, &file, None, &opts());
    assert!(!hits.is_candidate() && windows.is_empty());
    // Without the exact hashes, the same PDQ is still listed (and a candidate).
    let pdq_only = Query { pdq: query.pdq.clone(), ..Default::default() };
    assert_eq!(index.lookup(&pdq_only, &opts()).len(), 1);
    assert!(filter.check(&pdq_only, &opts()).is_candidate());
    // Another file is not affected.
    let other = Query::from_exact(&ExactHashes::of(b"other"));
    assert_eq!(index.allowed_exact(&other), None);
    assert_eq!(filter.allowed_exact(&other), None);
}

#[test]
fn a_pdq_match_is_suppressed_when_the_upload_is_at_least_as_near_an_allowed_hash() {
    let mut rng = Rng(2);
    let listed = rng.hash();
    // The innocent image lies 10 bits from the listed one (bits 0..10).
    let innocent = flip(&listed, 0..10);
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
    b.add_pdq(l, listed, None);
    b.allow_pdq(innocent);
    let (index, filter) = built(&mut b, 1);
    assert_eq!(index.allow_counts().pdq, 1);

    let cases = [
        // (query, distance to listed, distance to innocent, matches)
        (flip(&listed, 0..6), 6, 4, false), // nearer the innocent image
        (flip(&listed, 0..5), 5, 5, false), // as near: suppressed
        (flip(&listed, [0, 1, 2, 100, 101]), 5, 9, true), // nearer the listed one
        (innocent, 10, 0, false),           // the innocent image itself
        (flip(&listed, [200, 201, 202]), 3, 13, true), // a plain edit of the listed one
    ];
    for (q, dl, da, matches) in cases {
        assert_eq!((q.distance(&listed), q.distance(&innocent)), (dl, da));
        let (m, allowed) = index.lookup_allowed(&Query::from_pdq(q, Some(90)), &opts());
        assert_eq!(!m.is_empty(), matches, "d_listed {dl} d_allowed {da}: {m:?}");
        assert_eq!(allowed.pdq, u32::from(!matches));
        if matches {
            assert_eq!(m[0].distance, dl);
        }
        // The filter drops only a variant equal to the allowed hash; every other query is
        // still a candidate (the index decides), so a filter miss stays final.
        let hits = filter.check(&Query::from_pdq(q, Some(90)), &opts());
        assert_eq!(hits.is_candidate(), da != 0, "d_allowed {da}");
        assert_eq!(filter.allowed_pdq(&q), da == 0);
    }
}

#[test]
fn a_listed_hash_that_is_itself_allowed_never_matches_by_pdq() {
    let mut rng = Rng(3);
    let listed = rng.hash();
    let other = rng.hash();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
    b.add_pdq(l, listed, None);
    b.add_pdq(l, other, None);
    b.allow_pdq(listed);
    let (index, filter) = built(&mut b, 1);
    for bits in [vec![], vec![7], vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]] {
        let q = Query::from_pdq(flip(&listed, bits.iter().copied()), Some(90));
        let (m, allowed) = index.lookup_allowed(&q, &opts());
        assert!(m.is_empty(), "{bits:?}: {m:?}");
        assert_eq!(allowed.pdq, 1);
    }
    // The exact listed hash is no candidate either; the other listed hash still is.
    assert!(!filter.check(&Query::from_pdq(listed, Some(90)), &opts()).is_candidate());
    assert!(filter.check(&Query::from_pdq(other, Some(90)), &opts()).is_candidate());
    assert_eq!(index.lookup(&Query::from_pdq(other, Some(90)), &opts()).len(), 1);
}

#[test]
fn suppression_is_per_variant_in_index_and_filter() {
    let mut rng = Rng(4);
    let (a, c) = (rng.hash(), rng.hash());
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
    b.add_pdq(l, a, None);
    b.add_pdq(l, c, None);
    b.allow_pdq(a);
    let (index, filter) = built(&mut b, 1);
    // Variant 0 is the allowed (and listed) hash, variant 1 an edit of the other listed one.
    let q = variants(&[a, flip(&c, [5, 6])]);
    let (m, allowed) = index.lookup_allowed(&q, &opts());
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!((m[0].distance, m[0].variant, &m[0].value), (2, Some("rot90"), &c.to_hex()));
    assert_eq!(allowed.pdq, 1);
    assert!(filter.check(&q, &opts()).is_candidate(), "variant 1 is still probed");
    // Only the allowed variant: no match, no candidate.
    let q = variants(&[a, flip(&a, [1])]);
    assert!(index.lookup(&q, &opts()).is_empty());
    let q = variants(&[a]);
    assert!(!filter.check(&q, &opts()).is_candidate());
    // One listed entry reached by two variants: the allowed one's distance is not used.
    let q = variants(&[a, flip(&a, 100..104)]);
    let m = index.lookup(&q, &opts());
    assert!(m.is_empty(), "variant 1 is 4 bits from the allowed hash, as from the listed: {m:?}");
}

#[test]
fn multi_index_and_linear_scan_apply_the_same_rule() {
    let mut rng = Rng(5);
    let listed: Vec<PdqHash> = (0..1500).map(|_| rng.hash()).collect();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    for h in &listed {
        b.add_pdq(l, *h, None);
    }
    // Every third listed hash has an innocent image 6 bits away, on the bits the queries flip.
    for h in listed.iter().step_by(3) {
        b.allow_pdq(flip(h, (0..6).map(|k| k * 17)));
    }
    let (mut index, _) = built(&mut b, 1);
    assert!(index.uses_mih());
    let queries: Vec<Query> = listed
        .iter()
        .take(300)
        .enumerate()
        .map(|(i, h)| Query::from_pdq(flip(h, (0..i % 14).map(|k| k * 17 % 256)), Some(90)))
        .collect();
    let with: Vec<_> = queries.iter().map(|q| index.lookup_allowed(q, &opts())).collect();
    index.set_multi_index(false);
    let without: Vec<_> = queries.iter().map(|q| index.lookup_allowed(q, &opts())).collect();
    assert_eq!(with, without);
    assert!(with.iter().any(|(m, a)| m.is_empty() && a.pdq > 0));
    assert!(with.iter().any(|(m, _)| !m.is_empty()));
}

#[test]
fn region_matches_follow_the_same_rule() {
    let listed = hash_bytes(&example("listed/known-1.jpg"), &regions());
    let crop = hash_bytes(&example("edited/known-1-cropped-5pct.jpg"), &regions());
    let crop_image = crop.image.as_ref().unwrap();
    let windows = Scheme::standard().query_variants(crop_image.plane.as_ref().unwrap());
    let build = |allow: &[PdqHash]| {
        let mut b = SetBuilder::new();
        let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
        b.add_image(l, &listed.exact, listed.image.as_ref().ok());
        for h in allow {
            b.allow_pdq(*h);
        }
        built(&mut b, 1)
    };
    let (index, filter) = build(&[]);
    let m = lookup_hashed(&index, &crop.exact, Some(crop_image), &opts());
    assert!(m.iter().any(|m| m.region.is_some()), "{m:?}");
    // The windows that match a listed region, each on its own (as a client sends them).
    let matching: Vec<(PdqHash, u32)> = windows
        .iter()
        .filter_map(|(_, p)| {
            let m = index.lookup_region_hashes(&[p.hash], &opts());
            m.first().map(|m| (p.hash, m.distance))
        })
        .collect();
    let &(w, d) = matching.iter().find(|(_, d)| *d > 0).expect("a window at distance > 0");

    // An allowed hash d bits from the window suppresses its match; d + 1 bits away does not.
    let (index, _) = build(&[flip(&w, 0..d as usize)]);
    assert!(index.lookup_region_hashes(&[w], &opts()).is_empty());
    let (index, _) = build(&[flip(&w, 0..d as usize + 1)]);
    assert_eq!(index.lookup_region_hashes(&[w], &opts())[0].distance, d);

    // Allowing every window hash of the upload: scan's region lookup (all 8 variants of each
    // window) suppresses at least the matches of the original variants.
    let all: Vec<PdqHash> = windows.iter().map(|(_, p)| p.hash).collect();
    let (index_all, _) = build(&all);
    assert!(index_all.lookup_region_hashes(&all, &opts()).is_empty());
    let (m, allowed) = index_all.lookup_regions_allowed(&windows, &opts());
    assert!(m.iter().all(|m| m.variant != Some("original")), "{m:?}");
    assert!(allowed.pdq > 0);
    let (m, _) = lookup_hashed_allowed(&index_all, &crop.exact, Some(crop_image), &opts());
    assert!(m.iter().all(|m| m.variant != Some("original")), "{m:?}");

    // The filter: windows equal to an allowed hash are not flagged, the others still are.
    let flagged = filter.check_regions(&windows, &opts());
    assert!(flagged.is_candidate());
    let first = windows[flagged.windows[0]].1.hash;
    let (_, filter_one) = build(&[first]);
    let flagged_one = filter_one.check_regions(&windows, &opts());
    let expect: Vec<usize> =
        flagged.windows.iter().copied().filter(|&i| windows[i].1.hash != first).collect();
    assert_eq!(flagged_one.windows, expect);
    // With every window the filter flags allowed, none is flagged; and since each is equal
    // to an allowed hash, the index would match none of them either.
    let flagged_hashes: Vec<PdqHash> = flagged.windows.iter().map(|&i| windows[i].1.hash).collect();
    let (index_f, filter_f) = build(&flagged_hashes);
    assert!(!filter_f.check_regions(&windows, &opts()).is_candidate());
    assert!(index_f.lookup_region_hashes(&flagged_hashes, &opts()).is_empty());
}

#[test]
fn a_suppressed_whole_image_match_is_an_answer_not_a_miss() {
    let listed = hash_bytes(&example("listed/known-1.jpg"), &regions());
    let image = listed.image.as_ref().unwrap();
    let windows = Scheme::standard().query_variants(image.plane.as_ref().unwrap());
    let window_hashes: Vec<PdqHash> = windows.iter().map(|(_, p)| p.hash).collect();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
    b.add_image(l, &listed.exact, Some(image));
    let (index, _) = built(&mut b.clone(), 1);
    assert!(!index.lookup_region_hashes(&window_hashes, &opts()).is_empty());
    // The listed picture's PDQ is allowed (a wrongly listed stock picture): its whole-image
    // match is suppressed, and its windows are then not tried (by a client's request, or by
    // scan).
    b.allow_pdq(image.pdq.hash);
    let (index, _) = built(&mut b, 2);
    let pdq = Query { pdq: Some(Query::pdq_of(&image.pdq)), ..Default::default() };
    let (m, allowed) = index.lookup_with_windows_allowed(&pdq, &window_hashes, &opts());
    assert!(m.is_empty(), "{m:?}");
    assert_eq!(allowed.pdq, 1);
    let other = ExactHashes::of(b"re-encoded bytes");
    let (m, allowed) = lookup_hashed_allowed(&index, &other, Some(image), &opts());
    assert!(m.is_empty(), "{m:?}");
    assert!(allowed.any());
}

#[test]
fn sets_without_an_allow_list_load_and_answer_as_before() {
    // The demo set embedded in the CLI was built before allow-lists existed.
    let dir = format!("{}/../schoon-cli/assets", env!("CARGO_MANIFEST_DIR"));
    let index = Index::from_bytes(
        std::fs::read(format!("{dir}/default.index")).unwrap(),
        &Trust::unsigned(),
    )
    .unwrap();
    let filter = Filter::from_bytes(
        &std::fs::read(format!("{dir}/default.filter")).unwrap(),
        &Trust::unsigned(),
    )
    .unwrap();
    assert!(index.allow_counts().is_empty() && filter.allow_counts().is_empty());
    let known = hash_bytes(&example("listed/known-1.jpg"), &regions());
    let q = Query::from_hashes(&known.exact, known.image.as_ref().ok());
    assert_eq!(index.lookup(&q, &opts()).len(), 4);
    assert!(filter.check(&q, &opts()).is_candidate());
    assert_eq!(index.allowed_exact(&q), None);

    // A set built without an allow-list writes neither the sections nor the metadata field.
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_sha256(l, Sha256([1; 32]));
    let k = key();
    let (index, filter) = b.build_both(&params(FilterKind::Fuse), &info(1, &k)).unwrap();
    for bytes in [&index, &filter] {
        let i = inspect(bytes, &trust()).unwrap();
        assert!(i.metadata.get("allow").is_none(), "{}", i.metadata);
        let tags: Vec<&str> = i.sections.iter().map(|(t, _)| t.as_str()).collect();
        assert!(!tags.iter().any(|t| ["AMD5", "ASH1", "A256", "APDQ", "ALOW"].contains(t)));
    }
    // With one, both carry it.
    b.allow_sha256(Sha256([2; 32]));
    b.allow_pdq(PdqHash([3; 32]));
    let (index, filter) = b.build_both(&params(FilterKind::Fuse), &info(2, &k)).unwrap();
    let i = inspect(&index, &trust()).unwrap();
    assert_eq!(i.metadata["allow"], serde_json::json!({"md5":0,"sha1":0,"sha256":1,"pdq":1}));
    assert!(i.sections.iter().any(|(t, n)| t == "A256" && *n == 32));
    assert!(i.sections.iter().any(|(t, n)| t == "APDQ" && *n == 32));
    let f = inspect(&filter, &trust()).unwrap();
    assert_eq!(f.metadata["allow"], i.metadata["allow"]);
    assert!(f.sections.iter().any(|(t, n)| t == "ALOW" && *n == 32));
    // The filter holds no allow-listed value, only salted digests.
    assert!(!filter.windows(32).any(|w| w == [2; 32] || w == [3; 32]));
}

/// Replaces the bytes of section `tag` with `f(bytes)` and recomputes the checksum, leaving
/// the signature as it was (a publisher's signature over other content).
fn tamper(file: &[u8], tag: &[u8; 4], f: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut b = file.to_vec();
    let meta = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(b[40..44].try_into().unwrap()) as usize;
    let table = (64 + meta).div_ceil(8) * 8;
    let entry = (0..count).map(|i| table + i * 24).find(|&e| &b[e..e + 4] == tag).unwrap();
    let offset = u64::from_le_bytes(b[entry + 8..entry + 16].try_into().unwrap()) as usize;
    let len = u64::from_le_bytes(b[entry + 16..entry + 24].try_into().unwrap()) as usize;
    f(&mut b[offset..offset + len]);
    let body = b.len() - 96;
    let sum = schoon_core::sha256(&b[..body]).0;
    b[body..body + 32].copy_from_slice(&sum);
    b
}

#[test]
fn a_tampered_allow_list_is_refused_by_the_signature() {
    let k = key();
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_sha256(l, Sha256([1; 32]));
    b.allow_sha256(Sha256([2; 32]));
    b.allow_pdq(PdqHash([9; 32]));
    let (index, filter) = b.build_both(&params(FilterKind::Fuse), &info(1, &k)).unwrap();
    for (file, tag) in [(&filter, b"ALOW"), (&index, b"A256"), (&index, b"APDQ")] {
        let bad = tamper(file, tag, |s| s[0] ^= 1);
        let e = match tag {
            b"ALOW" => Filter::from_bytes(&bad, &trust()).unwrap_err(),
            _ => Index::from_bytes(bad.clone(), &trust()).unwrap_err(),
        };
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.to_string().contains("signature"), "{e}");
        // A flipped bit without the checksum fixed is refused by the checksum.
        let mut raw = file.clone();
        let at = raw.len() - 200;
        raw[at] ^= 1;
        assert!(Filter::from_bytes(&raw, &trust()).is_err());
        assert!(Index::from_bytes(raw, &trust()).is_err());
    }
}

#[test]
fn malformed_allow_lists_in_unsigned_sets_are_refused_without_panics() {
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_sha256(l, Sha256([1; 32]));
    b.allow_sha256(Sha256([2; 32]));
    b.allow_sha256(Sha256([4; 32]));
    b.allow_md5(schoon_core::Md5([5; 16]));
    let unsigned = BuildInfo { set_version: 1, created: 0, signing_key: None };
    let (index, filter) = b.build_both(&params(FilterKind::Fuse), &unsigned).unwrap();
    let t = Trust::unsigned();
    // Out of order.
    let bad = tamper(&index, b"A256", |s| s.swap(0, 32));
    let e = Index::from_bytes(bad, &t).unwrap_err();
    assert!(e.to_string().contains("not sorted"), "{e}");
    let bad = tamper(&filter, b"ALOW", |s| {
        let (a, c) = s.split_at_mut(16);
        a.swap_with_slice(&mut c[..16]);
    });
    assert!(Filter::from_bytes(&bad, &t).unwrap_err().to_string().contains("not sorted"));
    // Sections that disagree with the metadata's counts.
    let bad = tamper(&index, b"AMD5", |s| s[0..4].copy_from_slice(b"xxxx"));
    assert!(Index::from_bytes(bad, &t).is_ok(), "a changed value is still a value");
    let renamed = {
        let mut v = index.clone();
        let at = v.windows(4).position(|w| w == b"AMD5").unwrap();
        v[at..at + 4].copy_from_slice(b"XMD5");
        tamper(&v, b"XMD5", |_| {})
    };
    let e = Index::from_bytes(renamed, &t).unwrap_err();
    assert!(e.to_string().contains("metadata declares"), "{e}");
    let renamed = {
        let mut v = filter.clone();
        let at = v.windows(4).position(|w| w == b"ALOW").unwrap();
        v[at..at + 4].copy_from_slice(b"XLOW");
        tamper(&v, b"XLOW", |_| {})
    };
    let e = Filter::from_bytes(&renamed, &t).unwrap_err();
    assert!(e.to_string().contains("metadata declares"), "{e}");
}

#[test]
fn an_over_long_allow_list_is_a_limit_error() {
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_sha256(l, Sha256([1; 32]));
    for i in 0..=MAX_ALLOW_ENTRIES as u32 {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&i.to_be_bytes());
        b.allow_sha256(Sha256(d));
    }
    // Duplicates do not count.
    b.allow_sha256(Sha256([0; 32]));
    let k = key();
    for e in [
        b.clone().build_index(&info(1, &k), None).unwrap_err(),
        b.clone().build_filter(&params(FilterKind::Fuse), &info(1, &k)).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Limit);
        match e {
            schoon_core::Error::Limit(l) => {
                assert_eq!(l.kind, LimitKind::AllowEntries);
                assert_eq!((l.value, l.max), (MAX_ALLOW_ENTRIES as u64 + 1, 65_536));
            }
            other => panic!("{other:?}"),
        }
    }
    let mut at_limit = SetBuilder::new();
    at_limit.allow_parsed(&schoon_core::set::ParsedList {
        sha256: (0..MAX_ALLOW_ENTRIES as u32)
            .map(|i| {
                let mut d = [0u8; 32];
                d[..4].copy_from_slice(&i.to_be_bytes());
                Sha256(d)
            })
            .collect(),
        ..Default::default()
    });
    let (index, filter) = built(&mut at_limit, 1);
    assert_eq!(index.allow_counts().total(), MAX_ALLOW_ENTRIES as u64);
    assert_eq!(filter.allow_counts().total(), MAX_ALLOW_ENTRIES as u64);
}

#[test]
fn the_allow_list_survives_a_rebuild_from_the_index() {
    let mut rng = Rng(6);
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "c", "s")).unwrap();
    b.add_pdq(l, rng.hash(), None);
    let file = ExactHashes::of(b"innocent");
    b.allow_image(&file, None);
    b.allow_pdq(rng.hash());
    let (index, _) = built(&mut b, 1);
    let mut next = SetBuilder::from_index(&index);
    next.allow_md5(ExactHashes::of(b"another").md5);
    let (index2, filter2) = built(&mut next, 2);
    assert_eq!(index2.allow_counts(), AllowCounts { md5: 2, sha1: 1, sha256: 1, pdq: 1 });
    assert_eq!(filter2.allow_counts(), index2.allow_counts());
    assert_eq!(index2.allowed_exact(&Query::from_exact(&file)), Some(HashKind::Md5));
}

/// What a filter says about each query (and its allow-list counts and list counts).
fn answers(f: &Filter, queries: &[Query]) -> (Vec<Vec<HashKind>>, AllowCounts, Vec<u64>) {
    (
        queries.iter().map(|q| f.check(q, &opts()).kinds).collect(),
        f.allow_counts(),
        f.lists().iter().map(|l| l.md5 + l.sha1 + l.sha256 + l.pdq).collect(),
    )
}

#[test]
fn a_delta_to_a_version_with_another_allow_list_equals_a_full_download() {
    let k = key();
    let mut rng = Rng(7);
    let (x, y, z) = (ExactHashes::of(b"x"), ExactHashes::of(b"y"), ExactHashes::of(b"z"));
    let (p1, p2, pa, pb) = (rng.hash(), rng.hash(), rng.hash(), rng.hash());
    for kind in [FilterKind::Fuse, FilterKind::Bloom] {
        let params = params(kind);
        // v1: lists x, y and p1; allows x's SHA-1 and pa.
        let mut v1 = SetBuilder::new();
        let l = v1.add_list(ListInfo::new("l", "c", "s")).unwrap();
        for f in [&x, &y] {
            v1.add_sha256(l, f.sha256);
        }
        v1.add_pdq(l, p1, None);
        v1.add_pdq(l, pa, None);
        v1.allow_sha1(x.sha1);
        v1.allow_pdq(pa);
        let (i1, f1) = v1.build_both(&params, &info(1, &k)).unwrap();
        let i1 = Index::from_bytes(i1, &trust()).unwrap();
        // v2: adds z and p2 and pb; allows y instead of x, pb instead of pa.
        let mut v2 = SetBuilder::from_index(&i1);
        v2.clear_allow();
        v2.add_sha256(l, z.sha256);
        v2.add_pdq(l, p2, None);
        v2.add_pdq(l, pb, None);
        v2.allow_md5(y.md5);
        v2.allow_pdq(pb);
        let (i2, f2) = v2.build_both(&params, &info(2, &k)).unwrap();
        let delta = v2.build_filter_delta(&i1, &info(2, &k)).unwrap();
        let i2 = Index::from_bytes(i2, &trust()).unwrap();
        // v3: no allow-list at all.
        let mut v3 = SetBuilder::from_index(&i2);
        v3.clear_allow();
        let (_, f3) = v3.build_both(&params, &info(3, &k)).unwrap();
        let delta3 = v3.build_filter_delta(&i2, &info(3, &k)).unwrap();

        let queries: Vec<Query> = [&x, &y, &z]
            .iter()
            .map(|f| Query::from_exact(f))
            .chain([p1, p2, pa, pb, rng.hash()].iter().map(|p| Query::from_pdq(*p, Some(90))))
            .collect();
        let mut held = Filter::from_bytes(&f1, &trust()).unwrap();
        let a1 = answers(&held, &queries);
        assert!(a1.0[0].is_empty() && !a1.0[1].is_empty(), "v1 allows x, not y: {:?}", a1.0);
        assert!(a1.0[5].is_empty() && !a1.0[3].is_empty(), "v1 allows pa: {:?}", a1.0);
        held.apply_delta(&delta, &trust()).unwrap();
        let full2 = Filter::from_bytes(&f2, &trust()).unwrap();
        assert_eq!(answers(&held, &queries), answers(&full2, &queries), "{kind:?}");
        assert!(!answers(&held, &queries).0[0].is_empty(), "x no longer allowed");
        assert!(answers(&held, &queries).0[1].is_empty(), "y allowed");
        assert_eq!(held.allow_counts(), AllowCounts { md5: 1, pdq: 1, ..Default::default() });
        held.apply_delta(&delta3, &trust()).unwrap();
        let full3 = Filter::from_bytes(&f3, &trust()).unwrap();
        assert_eq!(answers(&held, &queries), answers(&full3, &queries), "{kind:?}");
        assert!(held.allow_counts().is_empty());
        // The index agrees with the filter on what it allows.
        assert!(i2.lookup(&queries[1], &opts()).is_empty());
        assert!(!i2.lookup(&queries[0], &opts()).is_empty());
    }
}

#[test]
fn an_image_allowed_by_all_its_hashes_is_clean_where_pdq_is_checked_alone() {
    // The browser guard checks the picture without its exact hashes (`checkImage`) and sends
    // only the flagged kinds: with the picture's own PDQ allowed too, what the worker confirms
    // is clean, and a filter miss stays a miss.
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("l", "csam", "s")).unwrap();
    let mut hashed = Vec::new();
    for name in ["known-1", "known-2", "known-3"] {
        let h = hash_bytes(&example(&format!("listed/{name}.jpg")), &regions());
        b.add_image(l, &h.exact, h.image.as_ref().ok());
        hashed.push(h);
    }
    let allowed = &hashed[1];
    b.allow_image(&allowed.exact, allowed.image.as_ref().ok());
    let (index, filter) = built(&mut b, 1);
    for (i, h) in hashed.iter().enumerate() {
        let image = h.image.as_ref().unwrap();
        let (hits, windows) = filter.check_pdq(&image.pdq, image.plane.as_ref(), &opts());
        let pdq = Query { pdq: Some(Query::pdq_of(&image.pdq)), ..Default::default() };
        let window_hashes: Vec<PdqHash> = windows.iter().map(|(_, p)| p.hash).collect();
        let (m, why) = index.lookup_with_windows_allowed(&pdq, &window_hashes, &opts());
        if i == 1 {
            assert!(!hits.kinds.contains(&HashKind::Pdq), "its own PDQ is not probed");
            assert!(m.is_empty(), "{m:?}");
            assert_eq!(why.pdq, 1);
        } else {
            assert!(hits.is_candidate());
            assert!(!m.is_empty());
        }
        // Whatever the filter does not flag, the index does not match.
        if !hits.is_candidate() && windows.is_empty() {
            assert!(index.lookup(&pdq, &opts()).is_empty());
        }
    }
}
