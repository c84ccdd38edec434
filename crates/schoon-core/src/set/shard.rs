//! Sharded indexes: one set version split into `count` index files (shards) and a signed
//! manifest that binds them, for lists that no single host should hold (a worker isolate keeps
//! at most tens of megabytes).
//!
//! ```
//! use schoon_core::set::{
//!     merge_answers, BuildInfo, ListInfo, MatchOptions, Query, SetBuilder, ShardManifest, Trust,
//! };
//! use schoon_core::ExactHashes;
//!
//! let mut builder = SetBuilder::new();
//! let list = builder.add_list(ListInfo::new("demo", "test", "docs"))?;
//! builder.add_sha256(list, ExactHashes::of(b"listed").sha256);
//! let mut files = Vec::new();
//! let manifest = builder.build_shards(&BuildInfo { set_version: 1, ..Default::default() }, 4, |_, bytes| {
//!     files.push(bytes);
//!     Ok(())
//! })?;
//! let manifest = ShardManifest::from_bytes(&manifest, &Trust::unsigned())?;
//!
//! // A query goes to the shards that can hold its hashes, and their answers are merged.
//! let query = Query::from_exact(&ExactHashes::of(b"listed"));
//! let mut answers = Vec::new();
//! for n in manifest.shards_for(&query, false) {
//!     let shard = manifest.open(n, files[n as usize].clone(), &Trust::unsigned())?;
//!     answers.push(shard.shard_answer(&query, &[], false, &MatchOptions::default()));
//! }
//! let (matches, _) = merge_answers(answers);
//! assert_eq!(matches.len(), 1);
//! # Ok::<(), schoon_core::Error>(())
//! ```
//!
//! **Partition.** Exact records go to the shard of their digest's first 16 bits
//! ([`exact_shard`]), so an exact-only query needs at most three shards (MD5, SHA-1, SHA-256).
//! PDQ records (whole-image and region hashes) go to the shard of a mix of their 256 bits
//! ([`pdq_shard`]): a near neighbour can lie in any shard, so a PDQ query asks every shard in
//! parallel and each searches a `1/count` share with its own multi-index tables. Every shard
//! carries the set's whole allow-list and list table, so each answers by the same rules as
//! the whole index, and [`merge_answers`] gives exactly the single index's answer.
//!
//! **Integrity.** The manifest is a signed set file (artifact 4) with one 56-byte record per
//! shard: the shard file's SHA-256 checksum (the one in its trailer, which its signature
//! covers), its length and its record counts. [`ShardManifest::open`] refuses a shard whose
//! length, checksum, version or position differs from the manifest: a missing, stale,
//! foreign or modified shard never answers.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::allow::{AllowCounts, Allowed};
use super::container::{self, Artifact, Header, Trust};
use super::index::Index;
use super::index::VARIANT_NAMES;
use super::meta::{ListMeta, ShardOf};
use super::types::{HashKind, Match, MatchOptions, PdqQuery, Query};
use crate::digest::{Md5, Sha1, Sha256};
use crate::error::{BadInput, Error};
use crate::pdq::PdqHash;
use crate::regions::Scheme;

/// Most shards a manifest may name.
pub const MAX_SHARDS: u32 = 4096;

/// The manifest's file name in a directory of shards (`schoon build --out-shards`).
pub const SHARD_MANIFEST_FILE: &str = "manifest.schoon";

/// Shard `number`'s file name in a directory of shards: `shard-0003.schoon`.
pub fn shard_file_name(number: u32) -> String {
    format!("shard-{number:04}.schoon")
}

pub(crate) const TAG_SHARDS: [u8; 4] = *b"SHRD";
const SHARD_RECORD: usize = 56;

/// The shard of an exact digest: its first 16 bits scaled to `count`.
pub fn exact_shard(digest: &[u8], count: u32) -> u32 {
    let top = match digest {
        [a, b, ..] => u32::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    };
    (top * count.max(1)) >> 16
}

/// The shard of a PDQ hash: a mix (splitmix64) of the XOR of its four 64-bit words, scaled to
/// `count`. PDQ bits are not uniform one by one; the mix spreads any bias over the shards.
pub fn pdq_shard(hash: &PdqHash, count: u32) -> u32 {
    let mut x = 0u64;
    for w in hash.0.chunks_exact(8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        x ^= u64::from_be_bytes(b);
    }
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((u128::from(x) * u128::from(count.max(1))) >> 64) as u32
}

/// What the manifest records of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardEntry {
    /// The SHA-256 checksum in the shard file's trailer.
    pub checksum: [u8; 32],
    /// The shard file's length in bytes.
    pub bytes: u64,
    /// PDQ records (whole-image and region hashes).
    pub pdq: u64,
    /// Exact records (MD5, SHA-1 and SHA-256 together).
    pub exact: u64,
}

impl ShardEntry {
    /// Bytes the shard holds once loaded ([`Index::loaded_bytes`] of the shard file).
    pub fn loaded_bytes(&self) -> u64 {
        super::index::loaded_bytes(self.bytes as usize, self.pdq as usize) as u64
    }

    pub(crate) fn to_record(self) -> [u8; SHARD_RECORD] {
        let mut r = [0u8; SHARD_RECORD];
        r[..32].copy_from_slice(&self.checksum);
        r[32..40].copy_from_slice(&self.bytes.to_le_bytes());
        r[40..48].copy_from_slice(&self.pdq.to_le_bytes());
        r[48..56].copy_from_slice(&self.exact.to_le_bytes());
        r
    }

    fn from_record(r: &[u8]) -> ShardEntry {
        let u = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&r[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut checksum = [0u8; 32];
        checksum.copy_from_slice(&r[..32]);
        ShardEntry { checksum, bytes: u(32), pdq: u(40), exact: u(48) }
    }
}

/// The manifest's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ManifestMeta {
    /// The lists with their counts over all shards.
    pub lists: Vec<ListMeta>,
    /// How many shards.
    pub shards: u32,
    /// The partition rule, `"schoon-shard-1"` (see the module documentation).
    pub partition: String,
    pub generator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<AllowCounts>,
}

pub(crate) const PARTITION: &str = "schoon-shard-1";

fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}

/// A verified shard manifest: which shard files make up one version of a sharded index.
#[derive(Debug, Clone)]
pub struct ShardManifest {
    header: Header,
    meta: ManifestMeta,
    entries: Vec<ShardEntry>,
}

impl ShardManifest {
    /// Verifies and reads a manifest (the signature rules of [`Trust`]).
    pub fn from_bytes(bytes: &[u8], trust: &Trust) -> Result<ShardManifest, Error> {
        let parsed = container::parse(bytes, trust, &[Artifact::ShardManifest])?;
        let meta: ManifestMeta = serde_json::from_str(parsed.metadata)
            .map_err(|e| bad(format!("shard manifest metadata: {e}")))?;
        if meta.partition != PARTITION {
            return Err(bad(format!(
                "unknown shard partition '{}' (this build reads {PARTITION})",
                meta.partition
            )));
        }
        if meta.shards == 0 || meta.shards > MAX_SHARDS {
            return Err(bad(format!("{} shards (1 to {MAX_SHARDS} are allowed)", meta.shards)));
        }
        let table = parsed.section(&TAG_SHARDS).unwrap_or_default();
        let want = meta.shards as usize * SHARD_RECORD;
        if table.len() != want {
            return Err(bad(format!(
                "shard table of {} bytes, {} shards need {want}",
                table.len(),
                meta.shards
            )));
        }
        let entries = table.chunks_exact(SHARD_RECORD).map(ShardEntry::from_record).collect();
        Ok(ShardManifest { header: parsed.header, meta, entries })
    }

    /// The header (the version all shards must carry, signature status).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The set version.
    pub fn version(&self) -> u64 {
        self.header.set_version
    }

    /// How many shards.
    pub fn count(&self) -> u32 {
        self.meta.shards
    }

    /// What the manifest records of each shard, in shard order.
    pub fn entries(&self) -> &[ShardEntry] {
        &self.entries
    }

    /// The lists with their counts over all shards.
    pub fn lists(&self) -> &[ListMeta] {
        &self.meta.lists
    }

    /// The allow-list's counts (each shard holds all of it).
    pub fn allow_counts(&self) -> AllowCounts {
        self.meta.allow.unwrap_or_default()
    }

    /// Records of a kind over all shards, as [`Index::count`] counts them (for PDQ: whole-image
    /// and region records, see [`ShardManifest::region_count`]).
    pub fn count_of(&self, kind: HashKind) -> u64 {
        self.meta
            .lists
            .iter()
            .map(|l| match kind {
                HashKind::Md5 => l.md5,
                HashKind::Sha1 => l.sha1,
                HashKind::Sha256 => l.sha256,
                HashKind::Pdq => l.pdq + l.regions,
            })
            .sum()
    }

    /// Region hash records among [`ShardManifest::count_of`]`(HashKind::Pdq)`.
    pub fn region_count(&self) -> u64 {
        self.meta.lists.iter().map(|l| l.regions).sum()
    }

    /// Whether the set holds region hashes.
    pub fn has_regions(&self) -> bool {
        self.meta.lists.iter().any(|l| l.regions > 0)
    }

    /// The shards a query must ask, in ascending order: every shard when it has a PDQ hash or
    /// `windows`, else the shards of its exact digests.
    pub fn shards_for(&self, query: &Query, windows: bool) -> Vec<u32> {
        let count = self.count();
        if query.pdq.is_some() || windows {
            return (0..count).collect();
        }
        let mut out: Vec<u32> = [
            query.md5.map(|d| exact_shard(&d.0, count)),
            query.sha1.map(|d| exact_shard(&d.0, count)),
            query.sha256.map(|d| exact_shard(&d.0, count)),
        ]
        .into_iter()
        .flatten()
        .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Verifies and loads shard `number`: its length, then (while loading, see
    /// [`Index::from_bytes`]) its checksum and signature, then that it is this manifest's shard
    /// `number` of this version with the checksum the manifest records.
    pub fn open(&self, number: u32, bytes: Vec<u8>, trust: &Trust) -> Result<Index, Error> {
        let entry = self.entry(number)?;
        if bytes.len() as u64 != entry.bytes {
            return Err(bad(format!(
                "shard {number} has {} bytes, the manifest of version {} says {}",
                bytes.len(),
                self.version(),
                entry.bytes
            )));
        }
        let checksum = container::checksum_of(&bytes);
        let index = Index::from_bytes(bytes, trust)?;
        let version = index.header().set_version;
        if version != self.version() {
            return Err(bad(format!(
                "shard {number} is of set version {version}, the manifest is of version {}",
                self.version()
            )));
        }
        let of = ShardOf { number, count: self.count() };
        if index.shard_of() != Some(of) {
            return Err(bad(match index.shard_of() {
                Some(s) => format!(
                    "shard file says it is shard {} of {}, expected {number} of {}",
                    s.number,
                    s.count,
                    self.count()
                ),
                None => format!("shard {number} is a whole index, not a shard"),
            }));
        }
        if checksum != Some(entry.checksum) {
            return Err(bad(format!(
                "shard {number} has checksum {}, the manifest of version {} records {} \
                 (a shard of another build, or modified)",
                checksum.map(|c| crate::hex::encode(&c)).unwrap_or_default(),
                self.version(),
                crate::hex::encode(&entry.checksum)
            )));
        }
        Ok(index)
    }

    fn entry(&self, number: u32) -> Result<ShardEntry, Error> {
        self.entries.get(number as usize).copied().ok_or_else(|| {
            Error::caller(format!("shard {number} does not exist: the set has {}", self.count()))
        })
    }
}

/// One shard's answer to a query, before merging: its plain matches (exact and whole-image
/// PDQ) and, when windows were asked, its region matches, each with what the allow-list took
/// out. Which of the two parts counts is decided by [`merge_answers`] over all shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardAnswer {
    /// Plain matches, as [`Index::lookup_allowed`] gives them.
    pub matches: Vec<Match>,
    /// What the allow-list took out of the plain matches.
    pub allowed: Allowed,
    /// Region matches of the windows.
    pub regions: Vec<Match>,
    /// Region entries suppressed by the allow-list.
    pub regions_suppressed: u32,
}

impl Index {
    /// This index's answer as one shard of a sharded index: plain matches of `query` and region
    /// matches of `windows` (groups of 8 dihedral variants when `dihedral`, as a scan computes
    /// them; single hashes as a client's confirmation sends them). [`merge_answers`] over the
    /// answers of all shards a query needs equals [`Index::lookup_with_windows_allowed`] (or,
    /// with the scan's windows, [`crate::set::lookup_hashed_allowed`]) on the whole index.
    pub fn shard_answer(
        &self,
        query: &Query,
        windows: &[PdqHash],
        dihedral: bool,
        options: &MatchOptions,
    ) -> ShardAnswer {
        let (matches, allowed) = self.lookup_allowed(query, options);
        let mut answer = ShardAnswer { matches, allowed, ..ShardAnswer::default() };
        if !windows.is_empty() && self.has_regions() && allowed.exact.is_none() {
            let (regions, suppressed) = self.region_matches(windows, dihedral, options);
            answer.regions = regions;
            answer.regions_suppressed = suppressed.pdq;
        }
        answer
    }
}

/// Region matches rank by distance, then region id, then listed hash (the whole index's
/// order).
fn region_rank(m: &Match, scheme: &Scheme) -> (u32, u8, String) {
    let id = (1..=u8::MAX).find(|&i| scheme.region_name(i) == m.region).unwrap_or(u8::MAX);
    (m.distance, id, m.value.clone())
}

/// The answer of a sharded index: the shards' answers merged into exactly what the whole index
/// answers (one match per list and kind, the nearest; region matches only when no shard found a
/// plain PDQ match and the allow-list took nothing out).
pub fn merge_answers(answers: impl IntoIterator<Item = ShardAnswer>) -> (Vec<Match>, Allowed) {
    merge_answers_with(answers, |_| true)
}

/// [`merge_answers`] under a filter of matches (a tenant's list policy): matches `keep`
/// refuses are dropped before the rule that region matches count only when no whole-image PDQ
/// match stands, so a tenant whose lists have no whole-image match still gets its region
/// matches.
pub fn merge_answers_with(
    answers: impl IntoIterator<Item = ShardAnswer>,
    keep: impl Fn(&Match) -> bool,
) -> (Vec<Match>, Allowed) {
    let scheme = Scheme::standard();
    let mut plain: Vec<Match> = Vec::new();
    let mut regions: Vec<Match> = Vec::new();
    let mut allowed = Allowed::default();
    let mut regions_suppressed = 0u32;
    for a in answers {
        if a.allowed.exact.is_some() {
            allowed.exact = a.allowed.exact;
        }
        allowed.pdq = allowed.pdq.saturating_add(a.allowed.pdq);
        regions_suppressed = regions_suppressed.saturating_add(a.regions_suppressed);
        for m in a.matches {
            match plain.iter_mut().find(|p| p.list == m.list && p.kind == m.kind) {
                Some(p) => {
                    if (m.distance, &m.value) < (p.distance, &p.value) {
                        *p = m;
                    }
                }
                None => plain.push(m),
            }
        }
        for m in a.regions {
            match regions.iter_mut().find(|p| p.list == m.list) {
                Some(p) => {
                    if region_rank(&m, &scheme) < region_rank(p, &scheme) {
                        *p = m;
                    }
                }
                None => regions.push(m),
            }
        }
    }
    if allowed.exact.is_some() {
        return (Vec::new(), Allowed { exact: allowed.exact, pdq: 0 });
    }
    plain.retain(&keep);
    regions.retain(&keep);
    // The whole index's order: distance, list, then kind (one match per list and kind).
    let by_rank =
        |a: &Match, b: &Match| (a.distance, &a.list, a.kind).cmp(&(b.distance, &b.list, b.kind));
    plain.sort_by(by_rank);
    if !allowed.any() && !plain.iter().any(|m| m.kind == HashKind::Pdq) {
        regions.sort_by(by_rank);
        plain.extend(regions);
        allowed.pdq = allowed.pdq.saturating_add(regions_suppressed);
    }
    (plain, allowed)
}

/// Most window hashes one shard query carries: every query window of a scan with its 8
/// dihedral variants.
pub const MAX_SHARD_WINDOWS: usize = 2048;

/// What a front sends to each shard (the worker's hop to its Durable Objects): the query, the
/// window hashes and whether they are groups of 8 dihedral variants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardQuery {
    /// Exact hashes and PDQ variants.
    pub query: Query,
    /// Region window hashes (see [`Index::shard_answer`]).
    pub windows: Vec<PdqHash>,
    /// Whether `windows` are groups of 8 dihedral variants (a scan) or single hashes.
    pub dihedral: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardQueryIn {
    #[serde(default)]
    md5: Option<String>,
    #[serde(default)]
    sha1: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    pdq: Option<Vec<String>>,
    #[serde(default)]
    quality: Option<u8>,
    #[serde(default)]
    windows: Vec<String>,
    #[serde(default)]
    dihedral: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchIn {
    list: String,
    category: String,
    kind: HashKind,
    distance: u32,
    value: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerIn {
    matches: Vec<MatchIn>,
    #[serde(default)]
    allowed_exact: Option<HashKind>,
    #[serde(default)]
    allowed_pdq: u32,
    #[serde(default)]
    regions: Vec<MatchIn>,
    #[serde(default)]
    regions_suppressed: u32,
}

fn caller(detail: String) -> Error {
    Error::caller(detail)
}

fn parse_hex<T: std::str::FromStr<Err = Error>>(name: &str, v: &str) -> Result<T, Error> {
    v.parse().map_err(|e| caller(format!("shard query {name}: {e}")))
}

impl ShardQuery {
    /// The query as JSON text.
    pub fn to_json(&self) -> String {
        let q = &self.query;
        let mut v = json!({});
        let hex = |b: &[u8]| Value::String(crate::hex::encode(b));
        if let Some(obj) = v.as_object_mut() {
            if let Some(d) = q.md5 {
                obj.insert("md5".into(), hex(&d.0));
            }
            if let Some(d) = q.sha1 {
                obj.insert("sha1".into(), hex(&d.0));
            }
            if let Some(d) = q.sha256 {
                obj.insert("sha256".into(), hex(&d.0));
            }
            if let Some(p) = &q.pdq {
                obj.insert("pdq".into(), p.variants.iter().map(|h| hex(&h.0)).collect());
                if let Some(quality) = p.quality {
                    obj.insert("quality".into(), quality.into());
                }
            }
            if !self.windows.is_empty() {
                obj.insert("windows".into(), self.windows.iter().map(|h| hex(&h.0)).collect());
                obj.insert("dihedral".into(), self.dihedral.into());
            }
        }
        v.to_string()
    }

    /// Reads a query written by [`ShardQuery::to_json`]; bounded (at most 8 PDQ variants and
    /// [`MAX_SHARD_WINDOWS`] windows), and a caller error naming the bad field otherwise.
    pub fn from_json(text: &str) -> Result<ShardQuery, Error> {
        let q: ShardQueryIn =
            serde_json::from_str(text).map_err(|e| caller(format!("shard query: {e}")))?;
        let pdq = match q.pdq {
            Some(list) => {
                if list.is_empty() || list.len() > VARIANT_NAMES.len() {
                    return Err(caller(format!(
                        "shard query pdq has {} hashes, 1 to 8 are accepted",
                        list.len()
                    )));
                }
                let variants = list
                    .iter()
                    .map(|h| parse_hex::<PdqHash>("pdq", h))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(PdqQuery { variants, quality: q.quality, coefficients: None })
            }
            None => None,
        };
        if q.windows.len() > MAX_SHARD_WINDOWS {
            return Err(caller(format!(
                "shard query has {} windows, at most {MAX_SHARD_WINDOWS} are accepted",
                q.windows.len()
            )));
        }
        let windows = q
            .windows
            .iter()
            .map(|h| parse_hex::<PdqHash>("windows", h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ShardQuery {
            query: Query {
                md5: q.md5.map(|h| parse_hex::<Md5>("md5", &h)).transpose()?,
                sha1: q.sha1.map(|h| parse_hex::<Sha1>("sha1", &h)).transpose()?,
                sha256: q.sha256.map(|h| parse_hex::<Sha256>("sha256", &h)).transpose()?,
                pdq,
            },
            windows,
            dihedral: q.dihedral,
        })
    }
}

fn match_in(m: MatchIn) -> Result<Match, Error> {
    let variant = match m.variant {
        Some(v) => Some(
            VARIANT_NAMES
                .iter()
                .copied()
                .find(|n| *n == v)
                .ok_or_else(|| bad(format!("shard answer names an unknown variant '{v}'")))?,
        ),
        None => None,
    };
    Ok(Match {
        list: m.list,
        category: m.category,
        kind: m.kind,
        distance: m.distance,
        value: m.value,
        variant,
        region: m.region,
    })
}

impl ShardAnswer {
    /// The answer as JSON text.
    pub fn to_json(&self) -> String {
        json!({
            "matches": self.matches,
            "allowed_exact": self.allowed.exact,
            "allowed_pdq": self.allowed.pdq,
            "regions": self.regions,
            "regions_suppressed": self.regions_suppressed,
        })
        .to_string()
    }

    /// Reads an answer written by [`ShardAnswer::to_json`] (a malformed answer is bad input:
    /// the shard host is not the caller).
    pub fn from_json(text: &str) -> Result<ShardAnswer, Error> {
        let a: AnswerIn =
            serde_json::from_str(text).map_err(|e| bad(format!("shard answer: {e}")))?;
        Ok(ShardAnswer {
            matches: a.matches.into_iter().map(match_in).collect::<Result<_, _>>()?,
            allowed: Allowed { exact: a.allowed_exact, pdq: a.allowed_pdq },
            regions: a.regions.into_iter().map(match_in).collect::<Result<_, _>>()?,
            regions_suppressed: a.regions_suppressed,
        })
    }
}
