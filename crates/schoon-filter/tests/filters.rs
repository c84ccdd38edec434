//! Behaviour of the public API: no false negatives, false-positive rates, in-place updates,
//! round trips, and refusal of hostile bytes.

use std::collections::HashSet;

use schoon_filter::{
    Error, FilterBuf, FilterRef, HEADER_LEN, Kind, Membership, bloom_false_positive_rate,
    bloom_num_blocks, build, choose_kind,
};
use xorf::Filter as _;

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn keys(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// A target every kind meets (fuse widths are fixed; Bloom is sized for it).
fn target_for(kind: Kind) -> f64 {
    match kind {
        Kind::SplitBlockBloom => 1e-3,
        _ => 1e-2,
    }
}

fn build_for(kind: Kind, keys: &[u64], seed: u64) -> Result<FilterBuf, Error> {
    build(kind, keys, target_for(kind), seed)
}

fn non_members(rng: &mut Rng, members: &[u64], n: usize) -> Vec<u64> {
    let set: HashSet<u64> = members.iter().copied().collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let k = rng.next();
        if !set.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// FNV-1a 64, as the header check.
fn fnv(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Writes `value` at `at` in a header and recomputes the check, as a forger would.
fn forge(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
    let check = fnv(&bytes[..40]);
    bytes[40..48].copy_from_slice(&check.to_le_bytes());
}

#[test]
fn no_false_negatives() {
    let mut rng = Rng::new(1);
    for n in [0usize, 1, 2, 1000, 100_000] {
        let keys = rng.keys(n);
        for kind in Kind::ALL {
            let filter = build_for(kind, &keys, 99).unwrap();
            let view = FilterRef::parse(filter.as_bytes()).unwrap();
            assert_eq!(view.kind(), kind);
            assert_eq!(view.num_keys(), n as u64, "{kind} n={n}");
            for &k in &keys {
                assert!(view.contains(k), "{kind} n={n} lost {k:#x}");
                assert!(filter.contains(k));
            }
        }
    }
}

#[test]
fn duplicate_heavy_key_sets() {
    let mut rng = Rng::new(2);
    let pool = rng.keys(1000);
    let draws: Vec<u64> = (0..100_000).map(|_| pool[(rng.next() % 1000) as usize]).collect();
    let same = vec![0xdead_beef_u64; 1000];
    let edges = vec![0, u64::MAX, 0, u64::MAX, 1, 1];
    for keys in [&draws, &same, &edges] {
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        for kind in Kind::ALL {
            let filter = build_for(kind, keys, 5).unwrap();
            assert!(keys.iter().all(|&k| filter.contains(k)), "{kind}");
            if kind == Kind::SplitBlockBloom {
                assert_eq!(filter.num_keys(), keys.len() as u64);
            } else {
                assert_eq!(filter.num_keys(), distinct.len() as u64);
                // Duplicates change nothing: same bytes as the distinct set.
                assert_eq!(filter, build_for(kind, &distinct, 5).unwrap(), "{kind}");
            }
        }
    }
}

#[test]
fn false_positive_rates_match_theory() {
    let mut rng = Rng::new(3);
    let keys = rng.keys(100_000);
    let probes = non_members(&mut rng, &keys, 1_000_000);
    let cases = [
        (Kind::SplitBlockBloom, 1e-2),
        (Kind::SplitBlockBloom, 1e-3),
        (Kind::SplitBlockBloom, 1e-4),
        (Kind::BinaryFuse8, 1e-2),
        (Kind::BinaryFuse16, 1e-4),
        (Kind::BinaryFuse32, 1e-6),
    ];
    for (kind, target) in cases {
        let filter = build(kind, &keys, target, 11).unwrap();
        let view = filter.view();
        let theory = view.false_positive_rate();
        assert!(theory <= target, "{kind}: theory {theory} above target {target}");
        let hits = probes.iter().filter(|&&k| view.contains(k)).count() as f64;
        let expected = theory * probes.len() as f64;
        let band = 6.0 * expected.sqrt() + 0.1 * expected + 3.0;
        assert!(
            (hits - expected).abs() <= band,
            "{kind} at {target}: {hits} false positives, expected {expected:.1} ± {band:.1}"
        );
    }
}

#[test]
fn bloom_insert_in_place_equals_build() {
    let mut rng = Rng::new(4);
    let a = rng.keys(30_000);
    let b = rng.keys(20_000);
    let union: Vec<u64> = a.iter().chain(&b).copied().collect();
    let built = build(Kind::SplitBlockBloom, &union, 1e-3, 8).unwrap();

    let blocks = bloom_num_blocks(union.len() as u64, 1e-3).unwrap();
    let mut grown = FilterBuf::empty_bloom(blocks, 8).unwrap();
    grown.insert_all(&a).unwrap();
    for &k in &b {
        grown.insert(k).unwrap();
    }
    assert_eq!(grown, built);
    assert_eq!(grown.as_bytes(), built.as_bytes());
}

#[test]
fn bloom_merge_equals_union() {
    let mut rng = Rng::new(5);
    let a = rng.keys(40_000);
    let b = rng.keys(25_000);
    let union: Vec<u64> = a.iter().chain(&b).copied().collect();
    let built = build(Kind::SplitBlockBloom, &union, 1e-2, 3).unwrap();
    let blocks = built.view().num_blocks().unwrap();

    let mut fa = FilterBuf::empty_bloom(blocks, 3).unwrap();
    fa.insert_all(&a).unwrap();
    let mut fb = FilterBuf::empty_bloom(blocks, 3).unwrap();
    fb.insert_all(&b).unwrap();

    let mut ab = fa.clone();
    ab.merge(&fb.view()).unwrap();
    assert_eq!(ab, built);
    let mut ba = fb.clone();
    ba.merge(&FilterRef::parse(fa.as_bytes()).unwrap()).unwrap();
    assert_eq!(ba, built);
    assert!(union.iter().all(|&k| ab.contains(k)));
    assert_eq!(ab.num_keys(), union.len() as u64);
}

#[test]
fn merge_and_insert_refuse_what_they_cannot_do() {
    let keys = Rng::new(6).keys(100);
    let mut bloom = FilterBuf::empty_bloom(16, 1).unwrap();
    let other_blocks = FilterBuf::empty_bloom(17, 1).unwrap();
    let other_seed = FilterBuf::empty_bloom(16, 2).unwrap();
    let mut fuse = build(Kind::BinaryFuse8, &keys, 0.01, 1).unwrap();

    assert!(matches!(
        bloom.merge(&other_blocks.view()),
        Err(Error::Mismatch { what: "num_blocks", ours: 16, theirs: 17 })
    ));
    assert!(matches!(
        bloom.merge(&other_seed.view()),
        Err(Error::Mismatch { what: "seed", ours: 1, theirs: 2 })
    ));
    assert!(matches!(bloom.merge(&fuse.view()), Err(Error::Immutable { kind: Kind::BinaryFuse8 })));
    let before = fuse.clone();
    assert!(matches!(fuse.insert(1), Err(Error::Immutable { .. })));
    assert!(matches!(fuse.merge(&bloom.view()), Err(Error::Immutable { .. })));
    assert_eq!(fuse, before);
    assert!(matches!(
        FilterBuf::empty_bloom(0, 0),
        Err(Error::InvalidHeader { field: "num_blocks", .. })
    ));
}

#[test]
fn parse_and_serialize_round_trip() {
    let mut rng = Rng::new(7);
    let keys = rng.keys(5000);
    let probes = rng.keys(20_000);
    for kind in Kind::ALL {
        let filter = build_for(kind, &keys, 1234).unwrap();
        let view = FilterRef::parse(filter.as_bytes()).unwrap();
        assert_eq!(view.kind(), filter.kind());
        assert_eq!(view.num_keys(), filter.num_keys());
        assert_eq!(view.size_bytes(), filter.as_bytes().len());
        assert_eq!(view.false_positive_rate(), filter.false_positive_rate());
        assert_eq!(view.as_bytes(), filter.as_bytes());
        for &k in keys.iter().chain(&probes) {
            assert_eq!(view.contains(k), filter.contains(k));
        }
        let again = FilterBuf::from_bytes(filter.as_bytes().to_vec()).unwrap();
        assert_eq!(again, filter);
        assert_eq!(again.into_bytes(), filter.clone().into_bytes());
        assert!(format!("{view:?}").contains("num_keys: 5000"));
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let keys = Rng::new(8).keys(10);
    for kind in Kind::ALL {
        let filter = build_for(kind, &keys, 0).unwrap();
        let bytes = filter.as_bytes();
        for len in 0..bytes.len() {
            let err = FilterRef::parse(&bytes[..len]).unwrap_err();
            if len < HEADER_LEN {
                assert_eq!(err, Error::TooShort { len, header_len: HEADER_LEN });
            } else {
                assert!(matches!(err, Error::PayloadLength { .. }), "{kind} {len}: {err}");
            }
            assert!(FilterBuf::from_bytes(bytes[..len].to_vec()).is_err());
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(matches!(FilterRef::parse(&longer), Err(Error::PayloadLength { .. })));
    }
}

#[test]
fn every_flipped_header_bit_is_refused() {
    let keys = Rng::new(9).keys(50);
    for kind in Kind::ALL {
        let bytes = build_for(kind, &keys, 77).unwrap().into_bytes();
        for bit in 0..HEADER_LEN * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(FilterRef::parse(&bad).is_err(), "{kind}: bit {bit} accepted");
        }
    }
}

#[test]
fn flipped_payload_bits_parse_and_do_not_panic() {
    // The payload is authenticated by the container, not here: any payload of the right length
    // is a filter. Lookups over it must still be safe.
    let mut rng = Rng::new(10);
    let keys = rng.keys(200);
    for kind in Kind::ALL {
        let bytes = build_for(kind, &keys, 1).unwrap().into_bytes();
        for i in HEADER_LEN..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x5a;
            let view = FilterRef::parse(&bad).unwrap();
            for _ in 0..8 {
                let _ = view.contains(rng.next());
            }
        }
    }
}

#[test]
fn absurd_declared_sizes_are_refused_without_allocating() {
    // Ten hostile bytes.
    assert_eq!(
        FilterRef::parse(b"SCHF\x01\x00\x01\x00\xff\xff").unwrap_err(),
        Error::TooShort { len: 10, header_len: HEADER_LEN }
    );
    assert!(FilterRef::parse(&[]).is_err());

    let bloom = FilterBuf::empty_bloom(2, 0).unwrap().into_bytes();
    let fuse = build(Kind::BinaryFuse16, &[1, 2, 3], 0.01, 0).unwrap().into_bytes();
    let cases: Vec<(&[u8], usize, Vec<u8>)> = vec![
        // Payload length u64::MAX.
        (&bloom, 32, u64::MAX.to_le_bytes().to_vec()),
        // 2^32 - 1 blocks, with the matching payload length: the real payload is 64 bytes.
        (&bloom, 24, u32::MAX.to_le_bytes().to_vec()),
        // Zero blocks.
        (&bloom, 24, 0u32.to_le_bytes().to_vec()),
        // Non-zero second parameter for Bloom.
        (&bloom, 28, 1u32.to_le_bytes().to_vec()),
        // Segment length 2^31, not a power of two, zero.
        (&fuse, 24, (1u32 << 31).to_le_bytes().to_vec()),
        (&fuse, 24, 3u32.to_le_bytes().to_vec()),
        (&fuse, 24, 0u32.to_le_bytes().to_vec()),
        // Segment count length u32::MAX, zero.
        (&fuse, 28, u32::MAX.to_le_bytes().to_vec()),
        (&fuse, 28, 0u32.to_le_bytes().to_vec()),
        // More keys than slots.
        (&fuse, 8, u64::MAX.to_le_bytes().to_vec()),
        // Unknown kind, reserved byte, version, magic.
        (&fuse, 6, vec![9]),
        (&fuse, 6, vec![0]),
        (&fuse, 7, vec![1]),
        (&fuse, 4, vec![2, 0]),
        (&fuse, 0, b"XCHF".to_vec()),
    ];
    for (original, at, value) in cases {
        let mut bad = original.to_vec();
        forge(&mut bad, at, &value);
        let err = FilterRef::parse(&bad).unwrap_err();
        assert!(
            !matches!(err, Error::HeaderCheck { .. }),
            "forged header at {at} {value:?} should fail on its content: {err}"
        );
        // The same header with the payload length fixed up still fails.
        if at == 24 && original == bloom.as_slice() {
            let blocks = u32::from_le_bytes(value[..4].try_into().unwrap());
            forge(&mut bad, 32, &(u64::from(blocks) * 32).to_le_bytes());
            let err = FilterRef::parse(&bad).unwrap_err();
            assert!(!matches!(err, Error::HeaderCheck { .. }), "{err}");
        }
    }
    let mut huge = bloom.clone();
    forge(&mut huge, 24, &u32::MAX.to_le_bytes());
    forge(&mut huge, 32, &(u64::from(u32::MAX) * 32).to_le_bytes());
    assert_eq!(
        FilterRef::parse(&huge).unwrap_err(),
        Error::PayloadLength { actual: 64, declared: u64::from(u32::MAX) * 32 }
    );
}

#[test]
fn builds_are_deterministic_and_seeded() {
    let mut rng = Rng::new(11);
    let keys = rng.keys(20_000);
    let mut shuffled = keys.clone();
    shuffled.reverse();
    shuffled.rotate_left(777);
    for kind in Kind::ALL {
        let a = build_for(kind, &keys, 42).unwrap();
        let b = build_for(kind, &keys, 42).unwrap();
        assert_eq!(a, b, "{kind}");
        assert_eq!(a, build_for(kind, &shuffled, 42).unwrap(), "{kind} depends on key order");
        let c = build_for(kind, &keys, 43).unwrap();
        assert_ne!(a.as_bytes(), c.as_bytes(), "{kind}: seed ignored");
        assert!(keys.iter().all(|&k| c.contains(k)));
        assert_ne!(c.view().seed(), a.view().seed());
    }
}

#[test]
fn fuse_lookup_answers_exactly_like_xorf() {
    let mut rng = Rng::new(12);
    for n in [0usize, 1, 3, 100, 10_000, 200_000] {
        let mut keys = rng.keys(n);
        keys.extend_from_within(..n / 10); // duplicates
        let seed = rng.next();
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let shifted = || distinct.iter().map(|k| k.wrapping_add(seed));
        let probes: Vec<u64> = rng.keys(200_000).into_iter().chain(keys.iter().copied()).collect();

        macro_rules! compare {
            ($kind:expr, $xorf:ty, $width:expr) => {{
                let ours = build($kind, &keys, 0.5, seed).unwrap();
                let theirs = <$xorf>::try_from_iterator(shifted()).unwrap();
                let view = ours.view();
                assert_eq!(view.seed(), theirs.descriptor.seed.wrapping_add(seed));
                let payload = &ours.as_bytes()[HEADER_LEN..];
                let expected: Vec<u8> =
                    theirs.fingerprints.iter().flat_map(|f| f.to_le_bytes()).collect();
                assert_eq!(payload, expected.as_slice(), "{} n={n}: fingerprints differ", $kind);
                assert_eq!(payload.len(), theirs.len() * $width);
                let mut positives = 0;
                for &k in &probes {
                    let x = theirs.contains(&k.wrapping_add(seed));
                    assert_eq!(view.contains(k), x, "{} n={n} key {k:#x}", $kind);
                    positives += usize::from(x);
                }
                assert!(positives >= distinct.len());
            }};
        }
        compare!(Kind::BinaryFuse8, xorf::BinaryFuse8, 1);
        compare!(Kind::BinaryFuse16, xorf::BinaryFuse16, 2);
        compare!(Kind::BinaryFuse32, xorf::BinaryFuse32, 4);
    }
}

#[test]
fn choose_kind_picks_the_smallest_sufficient_width() {
    let cases = [
        (0.5, Kind::BinaryFuse8),
        (1e-2, Kind::BinaryFuse8),
        (1.0 / 256.0, Kind::BinaryFuse8),
        (1.0 / 257.0, Kind::BinaryFuse16),
        (1e-3, Kind::BinaryFuse16),
        (1e-4, Kind::BinaryFuse16),
        (1e-5, Kind::BinaryFuse32),
        (1e-6, Kind::BinaryFuse32),
        (1e-9, Kind::BinaryFuse32),
    ];
    for (target, kind) in cases {
        assert_eq!(choose_kind(target).unwrap(), kind, "{target}");
    }
    assert!(matches!(choose_kind(1e-12), Err(Error::TargetNotMet { .. })));
    for bad in [0.0, 1.0, -1.0, f64::NAN] {
        assert!(matches!(choose_kind(bad), Err(Error::InvalidTarget { .. })));
        assert!(matches!(
            build(Kind::SplitBlockBloom, &[1], bad, 0),
            Err(Error::InvalidTarget { .. })
        ));
    }
    // A fixed width that cannot meet the target is refused rather than silently weaker.
    assert!(matches!(
        build(Kind::BinaryFuse8, &[1, 2], 1e-3, 0),
        Err(Error::TargetNotMet { kind: Kind::BinaryFuse8, .. })
    ));
}

#[test]
fn sizes_are_compact() {
    let keys = Rng::new(13).keys(100_000);
    let bits = |f: &FilterBuf| f.size_bytes() as f64 * 8.0 / keys.len() as f64;
    let fuse8 = build(Kind::BinaryFuse8, &keys, 0.01, 0).unwrap();
    assert!(bits(&fuse8) < 8.0 * 1.2, "{}", bits(&fuse8));
    let fuse16 = build(Kind::BinaryFuse16, &keys, 0.01, 0).unwrap();
    assert!(bits(&fuse16) < 16.0 * 1.2, "{}", bits(&fuse16));
    let bloom = build(Kind::SplitBlockBloom, &keys, 1e-2, 0).unwrap();
    assert!((10.0..11.0).contains(&bits(&bloom)), "{}", bits(&bloom));
    let blocks = bloom.view().num_blocks().unwrap();
    assert_eq!(bloom.false_positive_rate(), bloom_false_positive_rate(100_000, blocks));
}

#[test]
fn error_messages_are_lowercase_and_name_the_values() {
    let e = Error::PayloadLength { actual: 1000, declared: 4096 };
    assert_eq!(e.to_string(), "filter payload is 1000 bytes, header says 4096");
    let mut samples: Vec<Error> = vec![e];
    samples.push(FilterRef::parse(&[0; 10]).unwrap_err());
    samples.push(FilterRef::parse(&[0; 60]).unwrap_err());
    samples.push(choose_kind(2.0).unwrap_err());
    samples.push(choose_kind(1e-15).unwrap_err());
    samples.push(build(Kind::BinaryFuse8, &[1], 1e-3, 0).unwrap_err());
    let mut bloom = FilterBuf::empty_bloom(1, 0).unwrap().into_bytes();
    bloom[20] ^= 1;
    samples.push(FilterRef::parse(&bloom).unwrap_err());
    let mut fuse = build(Kind::BinaryFuse8, &[1], 0.1, 0).unwrap();
    samples.push(fuse.insert(3).unwrap_err());
    for e in &samples {
        let text = e.to_string();
        let first = text.chars().next().unwrap();
        assert!(first.is_lowercase(), "{text}");
        let _: &dyn std::error::Error = e;
    }
    assert!(samples[1].to_string().contains("10 bytes"));
    assert!(samples[3].to_string().contains('2'));
    assert!(samples[5].to_string().contains("binary fuse 8"));
}

#[test]
fn header_layout_is_as_documented() {
    let mut bloom = FilterBuf::empty_bloom(3, 0x1122_3344_5566_7788).unwrap();
    bloom.insert_all(&[1, 2]).unwrap();
    let b = bloom.as_bytes();
    assert_eq!(b.len(), HEADER_LEN + 3 * 32);
    assert_eq!(&b[0..4], b"SCHF");
    assert_eq!(&b[4..6], &[1, 0]); // version 1
    assert_eq!(&b[6..8], &[1, 0]); // kind tag, reserved
    assert_eq!(&b[8..16], &2u64.to_le_bytes()); // keys
    assert_eq!(&b[16..24], &0x1122_3344_5566_7788u64.to_le_bytes()); // seed
    assert_eq!(&b[24..28], &3u32.to_le_bytes()); // blocks
    assert_eq!(&b[28..32], &[0; 4]);
    assert_eq!(&b[32..40], &96u64.to_le_bytes()); // payload length
    assert_eq!(&b[40..48], &fnv(&b[..40]).to_le_bytes());
    // Two keys set at most 16 bits, at least 8 (one per lane of their block).
    let ones: u32 = b[HEADER_LEN..].iter().map(|x| x.count_ones()).sum();
    assert!((8..=16).contains(&ones), "{ones}");

    let fuse = build(Kind::BinaryFuse32, &[5, 6, 7], 0.5, 9).unwrap();
    let f = fuse.as_bytes();
    assert_eq!(f[6], 4);
    let length = u32::from_le_bytes(f[24..28].try_into().unwrap());
    let scl = u32::from_le_bytes(f[28..32].try_into().unwrap());
    assert!(length.is_power_of_two() && scl % length == 0);
    let payload = u64::from_le_bytes(f[32..40].try_into().unwrap());
    assert_eq!(payload, (u64::from(scl) + 2 * u64::from(length)) * 4);
    assert_eq!(f.len() as u64, HEADER_LEN as u64 + payload);
}
