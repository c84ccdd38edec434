//! A browser filter within a size budget, for lists too large to send whole (10^7 exact hashes
//! make a 40 MB filter, 10^7 PDQ hashes a 290 MB prefilter): two tiers instead of one file.
//!
//! * **Exact hashes, whole and on demand** (`ExactBuckets`, artifact 5): for each kind, the
//!   listed digests' 32-bit salted fingerprints grouped into `2^p` buckets by the first `p` bits
//!   of the raw digest, `p` chosen so a bucket stays near [`BUCKET_TARGET_BYTES`]. A client
//!   fetches the one bucket of each of its file's digests (the server learns `p` bits of each,
//!   shared by one file in `2^p`), checks the list owner's signature on it (bound to the set
//!   version, the kind and the prefix) and looks the fingerprint up: a miss is final for the
//!   whole list, a hit is a candidate (false positives one in about `2^32 / entries-per-bucket`).
//! * **PDQ, a hot tier**: an ordinary signed [`crate::set::Filter`] of the whole-image PDQ
//!   hashes most likely to be met (the order of `hot`, most prevalent first, else list order),
//!   as many as fit the budget. A miss there is *not* final: the rest of the list, and every
//!   region hash, is checked at the edge (the worker's gate or scan).
//!
//! ```
//! use schoon_core::set::{BuildInfo, ExactBuckets, FilterParams, HashKind, ListInfo, SetBuilder, Trust};
//! use schoon_core::ExactHashes;
//!
//! let mut b = SetBuilder::new();
//! let list = b.add_list(ListInfo::new("demo", "test", "docs"))?;
//! b.add_sha256(list, ExactHashes::of(b"listed").sha256);
//! let info = BuildInfo { set_version: 1, ..Default::default() };
//! let (head, buckets, report) = b.build_budgeted(&FilterParams::default(), &info, 2 << 20, None)?;
//! assert!(head.len() as u64 <= report.budget_bytes);
//!
//! // The server hands out one bucket; the client verifies it and looks its digest up.
//! let buckets = ExactBuckets::from_bytes(&buckets, &Trust::unsigned())?;
//! let digest = ExactHashes::of(b"listed").sha256.0;
//! let prefix = buckets.prefix_of(HashKind::Sha256, &digest).unwrap();
//! let (bytes, signature) = buckets.bucket(HashKind::Sha256, prefix).unwrap();
//! let bucket = buckets.open_bucket(HashKind::Sha256, prefix, bytes, &signature, &Trust::unsigned())?;
//! assert!(bucket.contains(&digest));
//! # Ok::<(), schoon_core::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::container::{self, Artifact, Header, Trust};
use super::filter;
use super::sign::PublicKey;
use super::types::HashKind;
use crate::error::{BadInput, Error};

/// The size a bucket aims at (each later check fetches at most three: about 48 KB).
pub const BUCKET_TARGET_BYTES: usize = 16 << 10;

/// At least this many prefix bits' worth of buckets is never made smaller (k-anonymity: fewer
/// bits tell the server less), and at most 16 bits are used.
const MAX_PREFIX_BITS: u8 = 16;

const BUCKET_CONTEXT: &[u8] = b"schoon exact bucket v1\0";

pub(crate) fn section_tags(kind: HashKind) -> Option<([u8; 4], [u8; 4])> {
    tags(kind)
}

/// The largest bucket of a kind's data, bytes.
pub(crate) fn largest_bucket(data: &[u8], bits: u8) -> u64 {
    let buckets = 1usize << bits;
    let table = (buckets + 1) * 4;
    (0..buckets)
        .filter_map(|b| bucket_slice(data, table, b))
        .map(|s| s.len() as u64)
        .max()
        .unwrap_or(0)
}

fn tags(kind: HashKind) -> Option<([u8; 4], [u8; 4])> {
    match kind {
        HashKind::Md5 => Some((*b"XMD5", *b"GMD5")),
        HashKind::Sha1 => Some((*b"XSH1", *b"GSH1")),
        HashKind::Sha256 => Some((*b"X256", *b"G256")),
        HashKind::Pdq => None,
    }
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}

/// One kind's buckets, as the metadata records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketKind {
    /// The hash kind.
    pub kind: HashKind,
    /// Bits of the digest that pick the bucket.
    pub prefix_bits: u8,
    /// Listed digests of this kind.
    pub entries: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BucketsMeta {
    pub salt: String,
    pub kinds: Vec<BucketKind>,
    pub generator: String,
}

/// The prefix bits for `entries` fingerprints: buckets near [`BUCKET_TARGET_BYTES`].
pub(crate) fn prefix_bits(entries: usize) -> u8 {
    let per = BUCKET_TARGET_BYTES / 4;
    let mut bits = 0u8;
    while bits < MAX_PREFIX_BITS && (entries >> bits) > per {
        bits += 1;
    }
    bits
}

fn prefix(digest: &[u8], bits: u8) -> u32 {
    let top = match digest {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    };
    let bits = u32::from(bits.min(32));
    if bits == 0 { 0 } else { top >> (32 - bits) }
}

fn fingerprint(salt: u64, kind: HashKind, digest: &[u8]) -> u32 {
    (filter::exact_key(salt, kind, digest) >> 32) as u32
}

fn signed_message(version: u64, tag: [u8; 4], prefix: u32, bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUCKET_CONTEXT.len() + 48);
    m.extend_from_slice(BUCKET_CONTEXT);
    m.extend_from_slice(&version.to_le_bytes());
    m.extend_from_slice(&tag);
    m.extend_from_slice(&prefix.to_le_bytes());
    m.extend_from_slice(&crate::digest::sha256(bytes).0);
    m
}

/// Writes one kind's sections: offsets and fingerprints, and one signature per bucket.
pub(crate) fn kind_sections(
    kind: HashKind,
    digests: &mut dyn Iterator<Item = &[u8]>,
    salt: u64,
    version: u64,
    key: Option<&super::sign::SigningKey>,
) -> Option<(BucketKind, Vec<u8>, Vec<u8>)> {
    let (tag, _) = tags(kind)?;
    let mut keyed: Vec<(u32, u32)> =
        digests.map(|d| (prefix(d, 32), fingerprint(salt, kind, d))).collect();
    let bits = prefix_bits(keyed.len());
    for k in &mut keyed {
        k.0 = if bits == 0 { 0 } else { k.0 >> (32 - u32::from(bits)) };
    }
    keyed.sort_unstable();
    keyed.dedup();
    let buckets = 1usize << bits;
    let mut data = Vec::with_capacity((buckets + 1) * 4 + keyed.len() * 4);
    let mut at = 0usize;
    for b in 0..=buckets {
        while at < keyed.len() && (keyed[at].0 as usize) < b {
            at += 1;
        }
        data.extend_from_slice(&(at as u32).to_le_bytes());
    }
    let table = data.len();
    for (_, f) in &keyed {
        data.extend_from_slice(&f.to_le_bytes());
    }
    let mut signatures = Vec::with_capacity(buckets * 64);
    for b in 0..buckets {
        let bytes = bucket_slice(&data, table, b).unwrap_or_default();
        let sig = key.map(|k| k.sign(&signed_message(version, tag, b as u32, bytes)));
        signatures.extend_from_slice(&sig.unwrap_or([0; 64]));
    }
    let meta = BucketKind { kind, prefix_bits: bits, entries: keyed.len() as u64 };
    Some((meta, data, signatures))
}

fn bucket_slice(data: &[u8], table: usize, b: usize) -> Option<&[u8]> {
    let off = |i: usize| -> Option<usize> {
        let w = data.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
    };
    let (from, to) = (off(b)?, off(b + 1)?);
    data.get(table + from * 4..table + to * 4)
}

/// The exact-hash buckets of a budgeted filter (artifact 5), as the server holds them.
#[derive(Debug, Clone)]
pub struct ExactBuckets<'a> {
    header: Header,
    salt: u64,
    kinds: Vec<(BucketKind, &'a [u8], &'a [u8])>,
}

/// One verified bucket, as a client holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactBucket {
    kind: HashKind,
    prefix_bits: u8,
    prefix: u32,
    salt: u64,
    fingerprints: Vec<u32>,
}

impl<'a> ExactBuckets<'a> {
    /// Verifies the bucket file (checksum, signature with [`Trust`]) and reads its layout.
    pub fn from_bytes(bytes: &'a [u8], trust: &Trust) -> Result<ExactBuckets<'a>, Error> {
        let parsed = container::parse(bytes, trust, &[Artifact::ExactBuckets])?;
        let meta: BucketsMeta = serde_json::from_str(parsed.metadata)
            .map_err(|e| bad(format!("bucket metadata: {e}")))?;
        let salt = u64::from_str_radix(&meta.salt, 16)
            .map_err(|_| bad(format!("bucket salt '{}' is not 16 hex digits", meta.salt)))?;
        let mut kinds = Vec::new();
        for k in &meta.kinds {
            let Some((tag, sig_tag)) = tags(k.kind) else {
                return Err(bad("pdq has no exact buckets"));
            };
            if k.prefix_bits > MAX_PREFIX_BITS {
                return Err(bad(format!(
                    "{} prefix bits (at most {MAX_PREFIX_BITS})",
                    k.prefix_bits
                )));
            }
            let find = |t: [u8; 4]| -> &'a [u8] {
                parsed.sections.iter().find(|(x, _)| *x == t).map_or(&[][..], |(_, s)| *s)
            };
            let (data, sigs) = (find(tag), find(sig_tag));
            let buckets = 1usize << k.prefix_bits;
            let table = (buckets + 1) * 4;
            if data.len() < table
                || usize::try_from(k.entries).ok().and_then(|e| e.checked_mul(4))
                    != Some(data.len() - table)
                || sigs.len() != buckets * 64
            {
                return Err(bad(format!(
                    "{} buckets: {} bytes of data and {} of signatures do not fit {} entries in {buckets} buckets",
                    k.kind,
                    data.len(),
                    sigs.len(),
                    k.entries
                )));
            }
            kinds.push((*k, data, sigs));
        }
        Ok(ExactBuckets { header: parsed.header, salt, kinds })
    }

    /// The header (set version, signature status).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The kinds and their bucket layout.
    pub fn kinds(&self) -> Vec<BucketKind> {
        self.kinds.iter().map(|k| k.0).collect()
    }

    fn kind(&self, kind: HashKind) -> Option<&(BucketKind, &'a [u8], &'a [u8])> {
        self.kinds.iter().find(|k| k.0.kind == kind)
    }

    /// The bucket a digest of `kind` falls in, or `None` when the set has no such kind.
    pub fn prefix_of(&self, kind: HashKind, digest: &[u8]) -> Option<u32> {
        self.kind(kind).map(|k| prefix(digest, k.0.prefix_bits))
    }

    /// Bucket `prefix` of `kind`: its bytes and the list owner's signature (what the server
    /// sends), or `None` for a kind or prefix the file does not have.
    pub fn bucket(&self, kind: HashKind, prefix: u32) -> Option<(&'a [u8], [u8; 64])> {
        let (k, data, sigs) = self.kind(kind)?;
        let b = prefix as usize;
        if b >= 1usize << k.prefix_bits {
            return None;
        }
        let bytes = bucket_slice(data, (1usize << k.prefix_bits) * 4 + 4, b)?;
        let mut sig = [0u8; 64];
        sig.copy_from_slice(sigs.get(b * 64..b * 64 + 64)?);
        Some((bytes, sig))
    }

    /// A client's check of a bucket it was sent: the signature must be the list owner's for
    /// this version, kind and prefix (so a bucket of another prefix, kind or version is
    /// refused), then its fingerprints are read.
    pub fn open_bucket(
        &self,
        kind: HashKind,
        prefix: u32,
        bytes: &[u8],
        signature: &[u8; 64],
        trust: &Trust,
    ) -> Result<ExactBucket, Error> {
        let (k, _, _) = self
            .kind(kind)
            .ok_or_else(|| Error::caller(format!("the set has no {kind} buckets")))?;
        open_bucket(
            BucketSpec { version: self.header.set_version, salt: self.salt, bucket: *k },
            prefix,
            bytes,
            signature,
            trust,
        )
    }
}

/// What a client needs to know of one kind's buckets (from the filter's metadata).
#[derive(Debug, Clone, Copy)]
pub struct BucketSpec {
    /// The set version the buckets belong to.
    pub version: u64,
    /// The fingerprint salt.
    pub salt: u64,
    /// The kind and its layout.
    pub bucket: BucketKind,
}

/// Verifies and reads one bucket (see [`ExactBuckets::open_bucket`]).
pub fn open_bucket(
    spec: BucketSpec,
    prefix: u32,
    bytes: &[u8],
    signature: &[u8; 64],
    trust: &Trust,
) -> Result<ExactBucket, Error> {
    let (tag, _) = tags(spec.bucket.kind).ok_or_else(|| Error::caller("pdq has no buckets"))?;
    if !bytes.len().is_multiple_of(4) || bytes.len() > (1 << 24) {
        return Err(bad(format!("a bucket of {} bytes", bytes.len())));
    }
    let message = signed_message(spec.version, tag, prefix, bytes);
    match (trust.public_key, trust.allow_unsigned) {
        (Some(key), _) => verify(&key, &message, signature)?,
        (None, true) => {}
        (None, false) => {
            return Err(Error::BadInput(BadInput::Signature {
                detail: "no public key to verify the bucket with".into(),
            }));
        }
    }
    let fingerprints =
        bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(ExactBucket {
        kind: spec.bucket.kind,
        prefix_bits: spec.bucket.prefix_bits,
        prefix,
        salt: spec.salt,
        fingerprints,
    })
}

fn verify(key: &PublicKey, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
    key.verify(message, signature).map_err(|_| {
        Error::BadInput(BadInput::Signature {
            detail: "the bucket's signature does not verify for this version, kind and prefix"
                .into(),
        })
    })
}

impl ExactBucket {
    /// Whether `digest` may be listed: `false` is final, `true` a candidate. A digest of
    /// another bucket is never in this one.
    pub fn contains(&self, digest: &[u8]) -> bool {
        prefix(digest, self.prefix_bits) == self.prefix
            && self.fingerprints.binary_search(&fingerprint(self.salt, self.kind, digest)).is_ok()
    }

    /// Fingerprints in the bucket.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether the bucket is empty.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
}

/// What a budgeted build covers (printed by `schoon build --filter-budget`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierReport {
    /// The budget.
    pub budget_bytes: u64,
    /// The head filter's size (what a browser downloads first).
    pub head_bytes: u64,
    /// Whole-image PDQ hashes listed.
    pub pdq_listed: u64,
    /// Of them in the head filter (the hot tier).
    pub pdq_hot: u64,
    /// Share of PDQ hits the hot tier answers when hits follow Zipf's law over the hot order
    /// (the k-th most prevalent picture is met in proportion to 1/k).
    pub pdq_share_zipf: f64,
    /// Share when every listed picture is met equally often.
    pub pdq_share_uniform: f64,
    /// Region hashes: checked at the edge only.
    pub regions_at_edge: u64,
    /// The exact buckets per kind.
    pub exact: Vec<BucketKind>,
    /// The largest bucket, bytes (with its 64-byte signature).
    pub largest_bucket_bytes: u64,
    /// The whole bucket file (what the server holds).
    pub buckets_bytes: u64,
}

/// H(n) = 1 + 1/2 + ... + 1/n.
pub(crate) fn harmonic(n: u64) -> f64 {
    if n < 1000 {
        (1..=n).map(|k| 1.0 / k as f64).sum()
    } else {
        let n = n as f64;
        n.ln() + 0.577_215_664_901_532_9 + 1.0 / (2.0 * n) - 1.0 / (12.0 * n * n)
    }
}
