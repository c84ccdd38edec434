//! Budgeted filters: the head filter fits its budget and holds the hot PDQ tier in the order
//! given; the exact buckets hold every listed digest (a miss is final), stay near their target
//! size, and a bucket that is modified, of another prefix, kind or version, or unsigned is
//! refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use schoon_core::set::{
    BUCKET_TARGET_BYTES, BucketSpec, BuildInfo, ExactBuckets, Filter, FilterParams, HashKind,
    ListInfo, MatchOptions, Query, SetBuilder, Trust, open_bucket,
};
use schoon_core::{ErrorKind, ExactHashes, PdqHash, SigningKey};

mod common;
use common::Rng;

fn key() -> SigningKey {
    SigningKey::from_seed([77; 32])
}

fn trust() -> Trust {
    Trust::key(key().public_key())
}

struct Set {
    builder: SetBuilder,
    files: Vec<ExactHashes>,
    pdq: Vec<PdqHash>,
}

fn set(exact: u32, pdq: usize) -> Set {
    let mut rng = Rng(0xb0d9e7);
    let mut builder = SetBuilder::new();
    let l = builder.add_list(ListInfo::new("l", "csam", "test")).unwrap();
    let files: Vec<ExactHashes> = (0..exact).map(|i| ExactHashes::of(&i.to_le_bytes())).collect();
    for f in &files {
        builder.add_md5(l, f.md5);
        builder.add_sha1(l, f.sha1);
        builder.add_sha256(l, f.sha256);
    }
    let pdq: Vec<PdqHash> = (0..pdq).map(|_| rng.hash()).collect();
    for h in &pdq {
        builder.add_pdq(l, *h, Some(90));
    }
    Set { builder, files, pdq }
}

fn params() -> FilterParams {
    FilterParams { salt: 0x1234_5678, ..Default::default() }
}

fn pdq_query(h: &PdqHash) -> Query {
    Query::from_pdq(*h, Some(90))
}

#[test]
fn the_head_fits_the_budget_and_holds_the_hot_tier_first() {
    let k = key();
    let info = BuildInfo { set_version: 3, created: 0, signing_key: Some(&k) };
    let mut s = set(2_000, 20_000);
    // The hot order: the last listed hashes first.
    let hot: Vec<PdqHash> = s.pdq.iter().rev().copied().collect();
    let budget = 48 << 10;
    let (head, _, report) = s.builder.build_budgeted(&params(), &info, budget, Some(&hot)).unwrap();
    assert!(head.len() as u64 <= budget, "{} > {budget}", head.len());
    assert_eq!(report.head_bytes, head.len() as u64);
    assert_eq!(report.pdq_listed, 20_000);
    assert!(report.pdq_hot > 1_000 && report.pdq_hot < 20_000, "{report:?}");
    // The head should use most of its budget.
    assert!(head.len() as u64 > budget * 8 / 10, "{} of {budget}", head.len());
    assert!(report.pdq_share_zipf > report.pdq_share_uniform, "{report:?}");
    let uniform = report.pdq_hot as f64 / 20_000.0;
    assert!((report.pdq_share_uniform - uniform).abs() < 1e-12);

    let filter = Filter::from_bytes(&head, &trust()).unwrap();
    let o = MatchOptions::default();
    // Every hot hash is a candidate; exact hashes are not in the head.
    for h in hot.iter().take(report.pdq_hot as usize) {
        assert!(filter.check(&pdq_query(h), &o).is_candidate());
    }
    let cold = &hot[hot.len() - 1];
    assert!(!filter.check(&pdq_query(cold), &o).is_candidate() || report.pdq_hot == 20_000);
    assert!(!filter.check(&Query::from_exact(&s.files[0]), &o).is_candidate());

    // Too small a budget is the caller's mistake, naming the sizes.
    let e = s.builder.build_budgeted(&params(), &info, 100, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Caller);
    assert!(e.to_string().contains("budget of 100 bytes"), "{e}");
}

#[test]
fn buckets_hold_every_listed_digest_and_stay_small() {
    let k = key();
    let info = BuildInfo { set_version: 3, created: 0, signing_key: Some(&k) };
    let mut s = set(40_000, 100);
    let (_, bytes, report) = s.builder.build_budgeted(&params(), &info, 1 << 20, None).unwrap();
    let buckets = ExactBuckets::from_bytes(&bytes, &trust()).unwrap();
    assert_eq!(buckets.kinds().len(), 3);
    for kind in buckets.kinds() {
        assert_eq!(kind.entries, 40_000);
        // 40 000 fingerprints of 4 bytes in buckets near the target.
        assert_eq!(kind.prefix_bits, 4, "{kind:?}");
    }
    assert!(report.largest_bucket_bytes < 2 * BUCKET_TARGET_BYTES as u64, "{report:?}");
    let open = |kind: HashKind, digest: &[u8]| {
        let prefix = buckets.prefix_of(kind, digest).unwrap();
        let (b, sig) = buckets.bucket(kind, prefix).unwrap();
        buckets.open_bucket(kind, prefix, b, &sig, &trust()).unwrap()
    };
    for f in s.files.iter().step_by(37) {
        assert!(open(HashKind::Md5, &f.md5.0).contains(&f.md5.0));
        assert!(open(HashKind::Sha1, &f.sha1.0).contains(&f.sha1.0));
        assert!(open(HashKind::Sha256, &f.sha256.0).contains(&f.sha256.0));
    }
    let mut false_hits = 0;
    for i in 0..20_000u32 {
        let other = ExactHashes::of(format!("not listed {i}").as_bytes());
        false_hits +=
            usize::from(open(HashKind::Sha256, &other.sha256.0).contains(&other.sha256.0));
    }
    assert!(false_hits <= 1, "{false_hits} false hits in 20 000");
}

#[test]
fn a_bucket_not_signed_for_its_place_is_refused() {
    let k = key();
    let info = BuildInfo { set_version: 3, created: 0, signing_key: Some(&k) };
    let mut s = set(40_000, 10);
    let (_, bytes, _) = s.builder.build_budgeted(&params(), &info, 1 << 20, None).unwrap();
    let buckets = ExactBuckets::from_bytes(&bytes, &trust()).unwrap();
    let kind = HashKind::Sha256;
    let (b1, sig1) = buckets.bucket(kind, 1).unwrap();
    assert!(buckets.open_bucket(kind, 1, b1, &sig1, &trust()).is_ok());
    let signature_error = |e: schoon_core::Error| {
        assert_eq!(e.kind(), ErrorKind::BadInput, "{e}");
        assert!(e.to_string().contains("signature"), "{e}");
    };
    // Modified.
    let mut changed = b1.to_vec();
    changed[0] ^= 1;
    signature_error(buckets.open_bucket(kind, 1, &changed, &sig1, &trust()).unwrap_err());
    // Another prefix's bucket sent for prefix 2, or another kind's.
    signature_error(buckets.open_bucket(kind, 2, b1, &sig1, &trust()).unwrap_err());
    signature_error(buckets.open_bucket(HashKind::Md5, 1, b1, &sig1, &trust()).unwrap_err());
    // Another version.
    let spec = BucketSpec {
        version: 4,
        salt: params().salt,
        bucket: buckets.kinds().into_iter().find(|k| k.kind == kind).unwrap(),
    };
    signature_error(open_bucket(spec, 1, b1, &sig1, &trust()).unwrap_err());
    // Another key.
    let other = Trust::key(SigningKey::from_seed([78; 32]).public_key());
    signature_error(buckets.open_bucket(kind, 1, b1, &sig1, &other).unwrap_err());
    // Out of range, and the file itself modified or unsigned.
    assert!(buckets.bucket(kind, 16).is_none());
    let mut file = bytes.clone();
    let at = file.len() / 2;
    file[at] ^= 1;
    assert!(ExactBuckets::from_bytes(&file, &trust()).is_err());
    let unsigned = BuildInfo { set_version: 3, created: 0, signing_key: None };
    let (_, bytes, _) = s.builder.build_budgeted(&params(), &unsigned, 1 << 20, None).unwrap();
    assert!(ExactBuckets::from_bytes(&bytes, &trust()).is_err());
    let b = ExactBuckets::from_bytes(&bytes, &Trust::unsigned()).unwrap();
    let (b1, sig1) = b.bucket(kind, 1).unwrap();
    assert!(b.open_bucket(kind, 1, b1, &sig1, &trust()).is_err());
}
