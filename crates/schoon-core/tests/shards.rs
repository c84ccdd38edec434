//! Sharded indexes: the merged answer of the shards equals the whole index's answer (exact,
//! PDQ, regions, the allow-list, confirmation and scan windows), and a shard that is not the
//! manifest's (wrong length, modified, of another version, another position, unsigned) or a
//! manifest that is not valid is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use schoon_core::set::{
    Allowed, BuildInfo, HashKind, Index, ListInfo, MAX_SHARDS, Match, MatchOptions, PdqQuery,
    Query, SetBuilder, ShardAnswer, ShardManifest, ShardQuery, Trust, exact_shard,
    lookup_hashed_allowed, merge_answers, pdq_shard, scan_windows,
};
use schoon_core::{
    ErrorKind, ExactHashes, HashOptions, Md5, PdqHash, Sha1, Sha256, SigningKey, hash_bytes,
};

mod common;
use common::Rng;

fn key() -> SigningKey {
    SigningKey::from_seed([41; 32])
}

fn info(version: u64, k: &SigningKey) -> BuildInfo<'_> {
    BuildInfo { set_version: version, created: 1_800_000_000, signing_key: Some(k) }
}

fn trust() -> Trust {
    Trust::key(key().public_key())
}

fn flip(h: &PdqHash, rng: &mut Rng, bits: usize) -> PdqHash {
    let mut x = *h;
    for _ in 0..bits {
        x.flip_bit((rng.next() % 256) as usize);
    }
    x
}

struct Sharded {
    manifest: ShardManifest,
    shards: Vec<Index>,
}

impl Sharded {
    fn build(b: SetBuilder, count: u32, version: u64) -> (Sharded, Vec<Vec<u8>>, Vec<u8>) {
        let k = key();
        let mut files = Vec::new();
        let manifest_bytes = b
            .build_shards(&info(version, &k), count, |n, bytes| {
                assert_eq!(n as usize, files.len());
                files.push(bytes);
                Ok(())
            })
            .unwrap();
        let manifest = ShardManifest::from_bytes(&manifest_bytes, &trust()).unwrap();
        let shards = (0..count)
            .map(|n| manifest.open(n, files[n as usize].clone(), &trust()).unwrap())
            .collect();
        (Sharded { manifest, shards }, files, manifest_bytes)
    }

    fn answer(&self, q: &Query, windows: &[PdqHash], dihedral: bool) -> (Vec<Match>, Allowed) {
        let o = MatchOptions::default();
        let asked = self.manifest.shards_for(q, !windows.is_empty());
        // Through the JSON of the hop to a shard host and back, as the worker sends it.
        let sent = ShardQuery { query: q.clone(), windows: windows.to_vec(), dihedral };
        let got = ShardQuery::from_json(&sent.to_json()).unwrap();
        assert_eq!(got.windows, sent.windows);
        assert_eq!(got.dihedral, dihedral || windows.is_empty() && got.dihedral);
        merge_answers(asked.iter().map(|&n| {
            let a =
                self.shards[n as usize].shard_answer(&got.query, &got.windows, got.dihedral, &o);
            let back = ShardAnswer::from_json(&a.to_json()).unwrap();
            assert_eq!(back, a);
            back
        }))
    }
}

fn whole(b: &SetBuilder) -> Index {
    let k = key();
    Index::from_bytes(b.clone().build_index(&info(7, &k), None).unwrap(), &trust()).unwrap()
}

/// A set of three lists: exact hashes, PDQ hashes with region hashes, near neighbours of each
/// other (so that several shards answer one query), and an allow-list.
fn random_set(rng: &mut Rng) -> (SetBuilder, Vec<PdqHash>, Vec<ExactHashes>) {
    let mut b = SetBuilder::new();
    let lists: Vec<_> = ["police", "hotline", "ngo"]
        .iter()
        .map(|n| b.add_list(ListInfo::new(*n, "csam", "test")).unwrap())
        .collect();
    let mut pdq = Vec::new();
    let mut files = Vec::new();
    for i in 0..3000u32 {
        let l = lists[(i % 3) as usize];
        let f = ExactHashes::of(&i.to_le_bytes());
        match i % 4 {
            0 => b.add_md5(l, f.md5),
            1 => b.add_sha1(l, f.sha1),
            _ => b.add_sha256(l, f.sha256),
        }
        files.push(f);
        let h = if i % 5 == 0 && !pdq.is_empty() {
            // A near neighbour of an earlier hash, usually in another shard.
            flip(&pdq[(rng.next() % pdq.len() as u64) as usize], rng, 6)
        } else {
            rng.hash()
        };
        b.add_pdq(l, h, Some(90));
        if i % 3 == 0 {
            let region = schoon_core::Pdq {
                hash: flip(&h, rng, 40),
                quality: 80,
                dihedral: [flip(&h, rng, 40); 8],
                coefficients: schoon_core::Coefficients([[0.0; 16]; 16]),
            };
            b.add_regions(l, &[(1 + ((i / 3) % 3) as u8, region)]);
        }
        pdq.push(h);
    }
    // Allow-listed: one exact hash and a PDQ hash near a listed one.
    b.allow_sha256(files[10].sha256);
    b.allow_pdq(flip(&pdq[20], rng, 3));
    (b, pdq, files)
}

#[test]
fn merged_shard_answers_equal_the_whole_index() {
    let mut rng = Rng(0x5ca1e);
    let (b, pdq, files) = random_set(&mut rng);
    let index = whole(&b);
    for count in [1, 3, 16] {
        let (sharded, _, _) = Sharded::build(b.clone(), count, 7);
        assert_eq!(sharded.manifest.lists(), index.lists());
        for kind in HashKind::ALL {
            assert_eq!(sharded.manifest.count_of(kind), index.count(kind) as u64, "{kind}");
        }
        assert_eq!(sharded.manifest.region_count(), index.region_count() as u64);
        assert_eq!(sharded.manifest.allow_counts(), index.allow_counts());
        let per_shard: u64 = sharded.manifest.entries().iter().map(|e| e.pdq).sum();
        assert_eq!(per_shard as usize, index.count(HashKind::Pdq));
        let mut hits = 0;
        for i in 0..600usize {
            let f = &files[(rng.next() % files.len() as u64) as usize];
            let base = pdq[(rng.next() % pdq.len() as u64) as usize];
            let mut q = match i % 4 {
                0 => Query::from_exact(f),
                1 => Query { sha256: Some(f.sha256), ..Default::default() },
                _ => Query::default(),
            };
            if i % 4 != 1 {
                let variants: Vec<PdqHash> = (0..if i % 2 == 0 { 8 } else { 1 })
                    .map(|v| flip(&base, &mut rng, if v == 0 { i % 40 } else { 100 }))
                    .collect();
                q.pdq = Some(PdqQuery { variants, quality: Some(90), coefficients: None });
            }
            if i % 7 == 0 {
                q.md5 = Some(Md5([i as u8; 16]));
                q.sha1 = Some(Sha1([i as u8; 20]));
            }
            let windows: Vec<PdqHash> = (0..(i % 3) * 4)
                .map(|_| flip(&pdq[(rng.next() % pdq.len() as u64) as usize], &mut rng, 35 + i % 8))
                .collect();
            let want = index.lookup_with_windows_allowed(&q, &windows, &MatchOptions::default());
            let got = sharded.answer(&q, &windows, false);
            assert_eq!(got, want, "query {i} over {count} shards: {q:?}");
            hits += usize::from(!want.0.is_empty());
        }
        assert!(hits > 200, "only {hits} of 600 queries matched anything");
    }
}

#[test]
fn exact_only_queries_ask_only_their_shards() {
    let mut rng = Rng(3);
    let (b, _, files) = random_set(&mut rng);
    let (sharded, _, _) = Sharded::build(b, 64, 1);
    let f = &files[5];
    let q = Query::from_exact(f);
    let asked = sharded.manifest.shards_for(&q, false);
    let mut expect =
        vec![exact_shard(&f.md5.0, 64), exact_shard(&f.sha1.0, 64), exact_shard(&f.sha256.0, 64)];
    expect.sort_unstable();
    expect.dedup();
    assert_eq!(asked, expect);
    assert_eq!(sharded.manifest.shards_for(&q, true).len(), 64);
    let pdq = Query::from_pdq(PdqHash([1; 32]), None);
    assert_eq!(sharded.manifest.shards_for(&pdq, false).len(), 64);
    // Partition rules: every shard in range, and all of them used.
    let mut seen = [false; 64];
    for _ in 0..10_000 {
        let h = rng.hash();
        seen[pdq_shard(&h, 64) as usize] = true;
        seen[exact_shard(&h.0, 64) as usize] = true;
    }
    assert!(seen.iter().all(|s| *s));
    assert_eq!(exact_shard(&[0xff, 0xff], MAX_SHARDS), MAX_SHARDS - 1);
}

#[test]
fn scans_through_shards_equal_the_whole_index() {
    let read = |p: &str| {
        std::fs::read(format!("{}/../../examples/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let options = HashOptions { regions: true, ..Default::default() };
    let mut b = SetBuilder::new();
    let l = b.add_list(ListInfo::new("demo", "csam", "examples")).unwrap();
    for p in ["listed/known-1.jpg", "listed/known-2.jpg", "listed/known-3.jpg"] {
        let r = hash_bytes(&read(p), &options);
        b.add_image(l, &r.exact, r.image.as_ref().ok());
    }
    let index = whole(&b);
    let (sharded, _, _) = Sharded::build(b, 5, 7);
    let o = MatchOptions::default();
    let mut regions = 0;
    for p in [
        "listed/known-1.jpg",
        "edited/known-1-captioned.jpg",
        "edited/known-1-cropped-5pct.jpg",
        "edited/known-3-turned-5deg.jpg",
        "edited/known-2-greyscale.png",
        "innocent/scene-1.jpg",
        "innocent/scene-2.png",
    ] {
        let r = hash_bytes(&read(p), &options);
        let image = r.image.as_ref().ok();
        let want = lookup_hashed_allowed(&index, &r.exact, image, &o);
        let q = Query::from_hashes(&r.exact, image);
        // As a scan does: the windows go along only when plain matching may miss; the merge
        // decides, so they can always be sent.
        let got = sharded.answer(&q, &scan_windows(image, &o), true);
        assert_eq!(got, want, "{p}");
        regions += want.0.iter().filter(|m| m.region.is_some()).count();
    }
    assert!(regions >= 2, "the captioned and cropped copies match through regions");
}

fn bad_input(e: schoon_core::Error) -> String {
    assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");
    e.to_string()
}

#[test]
fn a_shard_that_is_not_the_manifests_is_refused() {
    let mut rng = Rng(11);
    let (b, _, _) = random_set(&mut rng);
    let (v7, files, manifest_bytes) = Sharded::build(b.clone(), 4, 7);
    let m = &v7.manifest;
    assert_eq!(m.version(), 7);

    // Modified: one byte flipped inside the records.
    let mut tampered = files[2].clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let e = bad_input(m.open(2, tampered, &trust()).unwrap_err());
    assert!(e.contains("checksum"), "{e}");

    // Cut short or padded.
    let e = bad_input(m.open(1, files[1][..files[1].len() - 8].to_vec(), &trust()).unwrap_err());
    assert!(e.contains("shard 1 has") && e.contains("the manifest of version 7"), "{e}");

    // Another position: shard 3's file offered as shard 0 (same length made up by a set of
    // equal shards: a single-shard build offered as shard 0 of this one).
    let e = m.open(0, files[3].clone(), &trust()).unwrap_err();
    assert!(e.to_string().contains("shard 0"), "{e}");

    // Stale: the same shard of version 6 (same records, other header).
    let (_, old_files, _) = Sharded::build(b.clone(), 4, 6);
    let mut stale = old_files[2].clone();
    stale.resize(files[2].len(), 0); // lengths agree; the version is what differs
    let e = m.open(2, old_files[2].clone(), &trust()).unwrap_err();
    assert!(e.to_string().contains("version 6") || e.to_string().contains("bytes"), "{e}");
    if old_files[2].len() == files[2].len() {
        let e = bad_input(m.open(2, old_files[2].clone(), &trust()).unwrap_err());
        assert!(e.contains("shard 2 is of set version 6, the manifest is of version 7"), "{e}");
    }

    // A different build of the same version (one more entry): same version, other checksum.
    let mut more = b.clone();
    let l = more.add_list(ListInfo::new("late", "csam", "test")).unwrap();
    more.add_sha256(l, Sha256([0x80; 32]));
    let (_, other_files, _) = Sharded::build(more, 4, 7);
    let n = exact_shard(&[0x80, 0x80], 4);
    let e = m.open(n, other_files[n as usize].clone(), &trust()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");

    // A whole index is not a shard.
    let whole_bytes = b.clone().build_index(&info(7, &key()), None).unwrap();
    let whole_len = whole_bytes.len();
    let e = m.open(0, whole_bytes, &trust()).unwrap_err();
    assert!(e.to_string().contains("shard 0"), "{e} ({whole_len} bytes)");

    // Out of range is the caller's mistake.
    let e = m.open(4, files[0].clone(), &trust()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Caller);
    assert!(e.to_string().contains("shard 4 does not exist: the set has 4"), "{e}");

    // The manifest itself: modified, unsigned, or not a manifest.
    let mut bad_manifest = manifest_bytes.clone();
    let at = bad_manifest.len() - 200;
    bad_manifest[at] ^= 1;
    assert!(ShardManifest::from_bytes(&bad_manifest, &trust()).is_err());
    assert!(ShardManifest::from_bytes(&files[0], &trust()).is_err());
    let other_key = SigningKey::from_seed([42; 32]);
    assert!(
        ShardManifest::from_bytes(&manifest_bytes, &Trust::key(other_key.public_key())).is_err()
    );
    let mut unsigned_files = Vec::new();
    let unsigned = b
        .clone()
        .build_shards(&BuildInfo { set_version: 7, ..Default::default() }, 4, |_, f| {
            unsigned_files.push(f);
            Ok(())
        })
        .unwrap();
    assert!(ShardManifest::from_bytes(&unsigned, &trust()).is_err());
    // A signed manifest does not make an unsigned shard acceptable.
    assert!(m.open(0, unsigned_files[0].clone(), &trust()).is_err());
}

#[test]
fn shard_counts_are_bounded() {
    for count in [0, MAX_SHARDS + 1] {
        let e = SetBuilder::new()
            .build_shards(&BuildInfo::default(), count, |_, _| Ok(()))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Caller);
        assert!(e.to_string().contains(&format!("{count} shards")), "{e}");
    }
    // A sink's error stops the build and is returned as is.
    let e = SetBuilder::new()
        .build_shards(&BuildInfo::default(), 3, |n, _| {
            if n == 1 {
                Err(schoon_core::Error::Caller(schoon_core::CallerError {
                    message: "disk full".into(),
                }))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "disk full");
}

#[test]
fn shard_queries_and_answers_refuse_bad_json() {
    for (text, needle) in [
        ("{", "shard query"),
        (r#"{"md5":"zz"}"#, "md5"),
        (r#"{"pdq":[]}"#, "1 to 8"),
        (r#"{"sha256":"00","extra":1}"#, "unknown field"),
    ] {
        let e = ShardQuery::from_json(text).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Caller, "{text}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
    let many =
        format!(r#"{{"windows":[{}]}}"#, vec![format!("\"{}\"", "0".repeat(64)); 2049].join(","));
    let e = ShardQuery::from_json(&many).unwrap_err();
    assert!(e.to_string().contains("2049 windows"), "{e}");
    let e = ShardAnswer::from_json(
        r#"{"matches":[{"list":"l","category":"c","kind":"pdq","distance":1,"value":"","variant":"sideways"}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(e.to_string().contains("sideways"), "{e}");
}
