//! Known-hash sets: the private, authoritative [`Index`] and the public, compact, signed
//! [`Filter`], their one binary format, and matching.
//!
//! ```
//! use schoon_core::set::{BuildInfo, FilterParams, Filter, Index, ListInfo, MatchOptions, Query,
//!     SetBuilder, Trust, Verdict};
//! use schoon_core::{ExactHashes, SigningKey};
//!
//! // The list owner builds both artifacts from a list and signs them.
//! let key = SigningKey::from_seed([42; 32]);
//! let mut builder = SetBuilder::new();
//! let list = builder.add_list(ListInfo::new("demo", "test", "docs"))?;
//! let listed = ExactHashes::of(b"a listed file");
//! builder.add_sha256(list, listed.sha256);
//! let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
//! let index_bytes = builder.build_index(&info, None)?;
//! let filter_bytes = builder.build_filter(&FilterParams { salt: 7, ..Default::default() }, &info)?;
//!
//! // A client holding only the public key and the filter checks locally.
//! let filter = Filter::from_bytes(&filter_bytes, &Trust::key(key.public_key()))?;
//! let query = Query::from_exact(&ExactHashes::of(b"a listed file"));
//! assert!(filter.check(&query, &MatchOptions::default()).is_candidate());
//! let clean = Query::from_exact(&ExactHashes::of(b"something else"));
//! assert!(!filter.check(&clean, &MatchOptions::default()).is_candidate());
//!
//! // Whoever holds the index confirms.
//! let index = Index::from_bytes(index_bytes, &Trust::key(key.public_key()))?;
//! let matches = index.lookup(&query, &MatchOptions::default());
//! assert_eq!(Verdict::of_matches(&matches), Verdict::Match);
//! assert_eq!(matches[0].list, "demo");
//! # Ok::<(), schoon_core::Error>(())
//! ```
//!
//! # Allow-list
//!
//! A set may carry an allow-list: hashes of images confirmed innocent (a disputed entry, a stock
//! picture that collided with a listed hash), at most [`MAX_ALLOW_ENTRIES`]. Every lookup
//! applies one rule, so the CLI, the browser and the worker agree without doing anything:
//!
//! * **exact**: a query whose MD5, SHA-1 or SHA-256 equals an allow-listed hash has no matches
//!   at all ([`Index::lookup`] and the region lookups) and is no filter candidate
//!   ([`Filter::check`], [`check_hashed`]);
//! * **PDQ and regions, index**: a match at Hamming distance `d` between a query variant (or a
//!   region window) and a listed hash is suppressed when the same variant lies within `d` of
//!   an allow-listed PDQ hash: the upload is at least as near a known innocent image as the
//!   listed one (a listed hash that is itself allow-listed never matches). When every
//!   whole-image PDQ match was suppressed, the region windows are not tried;
//! * **PDQ and regions, filter**: the filter cannot know `d`, and its miss must stay final (a
//!   client that finds nothing sends nothing), so it drops only a variant or window *equal* to
//!   an allow-listed PDQ hash, whose every index match the rule above suppresses anyway.
//!
//! The index holds the allow-listed hashes, the filter only salted digests of them. A filter
//! delta carries its version's whole allow-list. [`Index::lookup_allowed`] and its siblings
//! also say what the allow-list took out of an answer ([`Allowed`]).
//!
//! ```
//! use schoon_core::set::{BuildInfo, FilterParams, Filter, Index, ListInfo, MatchOptions, Query,
//!     SetBuilder, Trust};
//! use schoon_core::{ExactHashes, SigningKey};
//!
//! let key = SigningKey::from_seed([42; 32]);
//! let mut builder = SetBuilder::new();
//! let list = builder.add_list(ListInfo::new("demo", "test", "docs"))?;
//! let stock = ExactHashes::of(b"a stock picture wrongly listed");
//! builder.add_sha256(list, stock.sha256);
//! builder.allow_md5(stock.md5); // confirmed innocent
//! let info = BuildInfo { set_version: 1, created: 0, signing_key: Some(&key) };
//! let (index, filter) = builder.build_both(&FilterParams::default(), &info)?;
//! let trust = Trust::key(key.public_key());
//! let (index, filter) = (Index::from_bytes(index, &trust)?, Filter::from_bytes(&filter, &trust)?);
//!
//! let query = Query::from_exact(&stock);
//! assert!(index.lookup(&query, &MatchOptions::default()).is_empty());
//! assert!(!filter.check(&query, &MatchOptions::default()).is_candidate());
//! assert_eq!(index.allow_counts().md5, 1);
//! # Ok::<(), schoon_core::Error>(())
//! ```

mod allow;
mod bands;
mod container;
mod filter;
mod index;
mod keys;
mod lists;
mod sign;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use allow::{AllowCounts, Allowed, MAX_ALLOW_ENTRIES};
pub use bands::BandParams;
pub use container::{Artifact, Header, SignatureStatus, Trust};
pub use filter::{
    Filter, FilterHits, FilterKind, FilterMeta, FilterParams, FilterStats, REGION_FLIPS,
    RegionHits, check_hashed,
};
pub use index::{Index, ListMeta, MIH_MIN_ENTRIES, VARIANT_NAMES};
pub use lists::{ListOptions, ListParser, ParsedList, parse_list};
pub use sign::{PublicKey, SigningKey};

use crate::digest::{ExactHashes, Md5, Sha1, Sha256};
use crate::error::{Error, LimitKind};
use crate::hashing::ImageHashes;
use crate::limits::exceeded;
use crate::pdq::{Coefficients, Pdq, PdqHash};
use crate::regions::Scheme;

/// The kinds of hash a set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashKind {
    /// MD5 of the file bytes.
    Md5,
    /// SHA-1 of the file bytes.
    Sha1,
    /// SHA-256 of the file bytes.
    Sha256,
    /// PDQ perceptual hash.
    Pdq,
}

impl HashKind {
    /// Every kind.
    pub const ALL: [HashKind; 4] = [HashKind::Md5, HashKind::Sha1, HashKind::Sha256, HashKind::Pdq];

    /// `"md5"`, `"sha1"`, `"sha256"` or `"pdq"`.
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Md5 => "md5",
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
            HashKind::Pdq => "pdq",
        }
    }

    /// Bytes of a value of this kind.
    pub fn len(self) -> usize {
        match self {
            HashKind::Md5 => 16,
            HashKind::Sha1 => 20,
            HashKind::Sha256 | HashKind::Pdq => 32,
        }
    }

    /// Never true: every kind has a length (for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }
}

impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim().to_ascii_lowercase().replace('-', "");
        HashKind::ALL.into_iter().find(|k| k.name() == t).ok_or_else(|| {
            Error::caller(format!("unknown hash kind '{s}': expected md5, sha1, sha256 or pdq"))
        })
    }
}

/// A list's name, category and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInfo {
    /// Short name, e.g. `"eokm-2026-11"`.
    pub name: String,
    /// Category, e.g. `"csam"` or `"demo"`.
    pub category: String,
    /// Where the list came from (supplier, file).
    pub source: String,
}

impl ListInfo {
    /// A list description.
    pub fn new(
        name: impl Into<String>,
        category: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        ListInfo { name: name.into(), category: category.into(), source: source.into() }
    }
}

/// Matching parameters (ThreatExchange's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchOptions {
    /// Largest PDQ Hamming distance that counts as a match. Default 31.
    pub threshold: u32,
    /// Smallest query quality for PDQ matching. Default 50.
    pub min_quality: u8,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions { threshold: 31, min_quality: 50 }
    }
}

/// The PDQ part of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdqQuery {
    /// The hash and its dihedral variants (one element when only the hash is known).
    pub variants: Vec<PdqHash>,
    /// The quality, when known.
    pub quality: Option<u8>,
    /// The DCT coefficients, when the query was hashed here (enables multi-probing).
    pub coefficients: Option<Coefficients>,
}

impl PdqQuery {
    /// The hashes to try.
    pub fn variants(&self) -> &[PdqHash] {
        &self.variants
    }
}

/// What is known about a file: any of its exact hashes and its PDQ hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// MD5 of the bytes.
    pub md5: Option<Md5>,
    /// SHA-1 of the bytes.
    pub sha1: Option<Sha1>,
    /// SHA-256 of the bytes.
    pub sha256: Option<Sha256>,
    /// PDQ.
    pub pdq: Option<PdqQuery>,
}

impl Query {
    /// A query with the exact hashes of a file.
    pub fn from_exact(exact: &ExactHashes) -> Self {
        Query {
            md5: Some(exact.md5),
            sha1: Some(exact.sha1),
            sha256: Some(exact.sha256),
            pdq: None,
        }
    }

    /// A query with everything hashing a file gave (exact hashes, and PDQ with its dihedral
    /// variants and coefficients when the image decoded).
    pub fn from_hashes(exact: &ExactHashes, image: Option<&ImageHashes>) -> Self {
        let mut q = Query::from_exact(exact);
        q.pdq = image.map(|i| Self::pdq_of(&i.pdq));
        q
    }

    /// The PDQ part of a query from a computed hash.
    pub fn pdq_of(pdq: &Pdq) -> PdqQuery {
        PdqQuery {
            variants: pdq.dihedral.to_vec(),
            quality: Some(pdq.quality),
            coefficients: Some(pdq.coefficients),
        }
    }

    /// A query for a PDQ hash supplied as is (no dihedral variants, quality optional).
    pub fn from_pdq(hash: PdqHash, quality: Option<u8>) -> Self {
        Query {
            pdq: Some(PdqQuery { variants: vec![hash], quality, coefficients: None }),
            ..Default::default()
        }
    }
}

/// One list entry a query matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The list's name.
    pub list: String,
    /// The list's category.
    pub category: String,
    /// Which kind of hash matched.
    pub kind: HashKind,
    /// Hamming distance (0 for exact hashes).
    pub distance: u32,
    /// The listed value that matched (hex).
    pub value: String,
    /// For PDQ: which dihedral variant of the query matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<&'static str>,
    /// For a region match ([`crate::regions`]): the listed region that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The verdict on a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Confirmed by an index.
    Match,
    /// A filter hit, not confirmed.
    Candidate,
    /// Nothing found.
    Clean,
}

impl Verdict {
    /// `Match` when there are matches, else `Clean`.
    pub fn of_matches(matches: &[Match]) -> Verdict {
        if matches.is_empty() { Verdict::Clean } else { Verdict::Match }
    }

    /// `"match"`, `"candidate"` or `"clean"`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Candidate => "candidate",
            Verdict::Clean => "clean",
        }
    }
}

/// Header values of a build.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildInfo<'k> {
    /// The set version (monotonic; unix time is a good choice).
    pub set_version: u64,
    /// Creation time, unix seconds.
    pub created: u64,
    /// Sign with this key (`None` builds unsigned sets, which readers refuse by default).
    pub signing_key: Option<&'k SigningKey>,
}

/// A listed PDQ hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PdqEntry {
    hash: PdqHash,
    list: u16,
    quality: u8,
    region: u8,
}

/// Collects list entries and writes index and filter files.
#[derive(Debug, Clone, Default)]
pub struct SetBuilder {
    lists: Vec<ListInfo>,
    md5: Vec<([u8; 16], u16)>,
    sha1: Vec<([u8; 20], u16)>,
    sha256: Vec<([u8; 32], u16)>,
    pdq: Vec<PdqEntry>,
    allow: allow::AllowHashes,
}

/// A list id within a builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListId(u16);

fn generator() -> String {
    format!("schoon {}", env!("CARGO_PKG_VERSION"))
}

impl SetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a list (at most 65535 per set); entries are added under its id.
    pub fn add_list(&mut self, info: ListInfo) -> Result<ListId, Error> {
        if let Some(i) = self.lists.iter().position(|l| l == &info) {
            return Ok(ListId(i as u16));
        }
        if self.lists.len() >= usize::from(u16::MAX) {
            return Err(exceeded(LimitKind::Entries, self.lists.len() as u64 + 1, u16::MAX.into()));
        }
        self.lists.push(info);
        Ok(ListId((self.lists.len() - 1) as u16))
    }

    /// Adds an MD5 digest.
    pub fn add_md5(&mut self, list: ListId, d: Md5) {
        self.md5.push((d.0, list.0));
    }

    /// Adds a SHA-1 digest.
    pub fn add_sha1(&mut self, list: ListId, d: Sha1) {
        self.sha1.push((d.0, list.0));
    }

    /// Adds a SHA-256 digest.
    pub fn add_sha256(&mut self, list: ListId, d: Sha256) {
        self.sha256.push((d.0, list.0));
    }

    /// Adds a PDQ hash (quality 100 when unknown).
    pub fn add_pdq(&mut self, list: ListId, hash: PdqHash, quality: Option<u8>) {
        self.pdq.push(PdqEntry { hash, list: list.0, quality: quality.unwrap_or(100), region: 0 });
    }

    /// Adds the region hashes of a listed image ([`crate::regions`]); region ids start at 1.
    pub fn add_regions(&mut self, list: ListId, regions: &[(u8, Pdq)]) {
        for (id, p) in regions.iter().filter(|(id, _)| *id > 0) {
            self.pdq.push(PdqEntry { hash: p.hash, list: list.0, quality: p.quality, region: *id });
        }
    }

    /// Adds everything of a parsed list.
    pub fn add_parsed(&mut self, list: ListId, parsed: &ParsedList) {
        parsed.md5.iter().for_each(|d| self.add_md5(list, *d));
        parsed.sha1.iter().for_each(|d| self.add_sha1(list, *d));
        parsed.sha256.iter().for_each(|d| self.add_sha256(list, *d));
        parsed.pdq.iter().for_each(|(h, q)| self.add_pdq(list, *h, *q));
    }

    /// Adds an image's hashes: its exact hashes, and its PDQ hash when it decoded.
    pub fn add_image(&mut self, list: ListId, exact: &ExactHashes, image: Option<&ImageHashes>) {
        self.add_md5(list, exact.md5);
        self.add_sha1(list, exact.sha1);
        self.add_sha256(list, exact.sha256);
        if let Some(i) = image {
            self.add_pdq(list, i.pdq.hash, Some(i.pdq.quality));
            if let Some(plane) = &i.plane {
                self.add_regions(list, &crate::regions::Scheme::standard().listed_variants(plane));
            }
        }
    }

    /// Allow-lists an MD5 digest: a file with it has no matches (the allow-list rule of
    /// [`crate::set`]).
    pub fn allow_md5(&mut self, d: Md5) {
        self.allow.md5.push(d.0);
    }

    /// Allow-lists a SHA-1 digest.
    pub fn allow_sha1(&mut self, d: Sha1) {
        self.allow.sha1.push(d.0);
    }

    /// Allow-lists a SHA-256 digest.
    pub fn allow_sha256(&mut self, d: Sha256) {
        self.allow.sha256.push(d.0);
    }

    /// Allow-lists a PDQ hash: a PDQ or region match at distance `d` is suppressed where the
    /// same query variant lies within `d` of it.
    pub fn allow_pdq(&mut self, hash: PdqHash) {
        self.allow.pdq.push(hash);
    }

    /// Allow-lists every hash of a parsed list (PDQ qualities are not kept).
    pub fn allow_parsed(&mut self, parsed: &ParsedList) {
        parsed.md5.iter().for_each(|d| self.allow_md5(*d));
        parsed.sha1.iter().for_each(|d| self.allow_sha1(*d));
        parsed.sha256.iter().for_each(|d| self.allow_sha256(*d));
        parsed.pdq.iter().for_each(|(h, _)| self.allow_pdq(*h));
    }

    /// Allow-lists an image: its exact hashes, and its PDQ hash when it decoded.
    pub fn allow_image(&mut self, exact: &ExactHashes, image: Option<&ImageHashes>) {
        self.allow_md5(exact.md5);
        self.allow_sha1(exact.sha1);
        self.allow_sha256(exact.sha256);
        if let Some(i) = image {
            self.allow_pdq(i.pdq.hash);
        }
    }

    /// Removes every allow-listed hash (e.g. those taken over from an index by
    /// [`SetBuilder::from_index`], to publish a version with another allow-list).
    pub fn clear_allow(&mut self) {
        self.allow = allow::AllowHashes::default();
    }

    /// Allow-listed hashes per kind, before de-duplication. Building fails with a
    /// [`LimitKind::AllowEntries`] error when more than [`MAX_ALLOW_ENTRIES`] remain after it.
    pub fn allow_counts(&self) -> AllowCounts {
        self.allow.counts()
    }

    /// Entries per kind, before de-duplication (allow-listed hashes not counted).
    pub fn len(&self) -> usize {
        self.md5.len() + self.sha1.len() + self.sha256.len() + self.pdq.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn normalize(&mut self) {
        self.md5.sort_unstable();
        self.md5.dedup();
        self.sha1.sort_unstable();
        self.sha1.dedup();
        self.sha256.sort_unstable();
        self.sha256.dedup();
        self.pdq.sort_unstable();
        self.pdq.dedup_by(|a, b| a.hash == b.hash && a.list == b.list && a.region == b.region);
    }

    fn list_meta(&self) -> Vec<ListMeta> {
        let mut metas: Vec<ListMeta> = self
            .lists
            .iter()
            .map(|info| ListMeta {
                info: info.clone(),
                md5: 0,
                sha1: 0,
                sha256: 0,
                pdq: 0,
                regions: 0,
            })
            .collect();
        let mut bump = |list: u16, f: fn(&mut ListMeta) -> &mut u64| {
            if let Some(m) = metas.get_mut(usize::from(list)) {
                *f(m) += 1;
            }
        };
        self.md5.iter().for_each(|e| bump(e.1, |m| &mut m.md5));
        self.sha1.iter().for_each(|e| bump(e.1, |m| &mut m.sha1));
        self.sha256.iter().for_each(|e| bump(e.1, |m| &mut m.sha256));
        self.pdq.iter().filter(|e| e.region == 0).for_each(|e| bump(e.list, |m| &mut m.pdq));
        self.pdq.iter().filter(|e| e.region != 0).for_each(|e| bump(e.list, |m| &mut m.regions));
        metas
    }

    /// Writes the index alone. `filter` records the parameters of a filter built alongside,
    /// so that a later delta can reuse them (prefer [`SetBuilder::build_both`]).
    pub fn build_index(
        &mut self,
        info: &BuildInfo<'_>,
        filter: Option<&FilterParams>,
    ) -> Result<Vec<u8>, Error> {
        self.build_index_with(info, filter.map(FilterMeta::from_params))
    }

    fn build_index_with(
        &mut self,
        info: &BuildInfo<'_>,
        filter: Option<FilterMeta>,
    ) -> Result<Vec<u8>, Error> {
        self.normalize();
        self.allow.normalize()?;
        let allow_counts = self.allow.counts();
        let meta = index::IndexMeta {
            lists: self.list_meta(),
            filter,
            generator: generator(),
            allow: (!allow_counts.is_empty()).then_some(allow_counts),
        };
        let meta = serde_json::to_string(&meta).map_err(|e| Error::caller(e.to_string()))?;
        fn records<const N: usize>(v: &[([u8; N], u16)]) -> Vec<u8> {
            let mut out = Vec::with_capacity(v.len() * (N + 2));
            for (d, l) in v {
                out.extend_from_slice(d);
                out.extend_from_slice(&l.to_le_bytes());
            }
            out
        }
        let mut pdq = Vec::with_capacity(self.pdq.len() * index::PDQ_RECORD);
        for e in &self.pdq {
            pdq.extend_from_slice(&e.hash.0);
            pdq.extend_from_slice(&e.list.to_le_bytes());
            pdq.push(e.quality);
            pdq.push(e.region);
        }
        let (m, s1, s2) = (records(&self.md5), records(&self.sha1), records(&self.sha256));
        let allow_sections = self.allow.sections();
        let mut sections: Vec<([u8; 4], &[u8])> = vec![
            (index::TAG_MD5, &m),
            (index::TAG_SHA1, &s1),
            (index::TAG_SHA256, &s2),
            (index::TAG_PDQ, &pdq),
        ];
        sections.extend(allow_sections.iter().map(|(t, s)| (*t, &s[..])));
        let header = container::WriteHeader {
            artifact: Artifact::Index,
            set_version: info.set_version,
            base_version: 0,
            created: info.created,
            signing_key: info.signing_key,
        };
        Ok(container::write(&header, &meta, &sections))
    }

    fn keys(&self, params: &FilterParams) -> Result<(Vec<u64>, Option<Vec<u64>>), Error> {
        let mut exact = Vec::with_capacity(self.md5.len() + self.sha1.len() + self.sha256.len());
        exact
            .extend(self.md5.iter().map(|(d, _)| filter::exact_key(params.salt, HashKind::Md5, d)));
        exact.extend(
            self.sha1.iter().map(|(d, _)| filter::exact_key(params.salt, HashKind::Sha1, d)),
        );
        exact.extend(
            self.sha256.iter().map(|(d, _)| filter::exact_key(params.salt, HashKind::Sha256, d)),
        );
        let pdq = match filter::scheme_for(params)? {
            Some(scheme) => {
                let mut keys = Vec::with_capacity(self.pdq.len() * 8);
                // Region hashes under their own scheme (positions and key domain).
                let regions = filter::region_scheme_for(params, 0)?;
                for e in &self.pdq {
                    match (&regions, e.region) {
                        (_, 0) => scheme.listed_keys(&e.hash, &mut keys),
                        (Some(r), _) => r.listed_keys(&e.hash, &mut keys),
                        (None, _) => {}
                    }
                }
                Some(keys)
            }
            None => None,
        };
        Ok((exact, pdq))
    }

    fn write_filter(
        &mut self,
        params: &FilterParams,
        info: &BuildInfo<'_>,
        artifact: Artifact,
        base: u64,
        bloom_blocks: Option<(u32, u32)>,
    ) -> Result<(Vec<u8>, FilterMeta), Error> {
        self.normalize();
        self.allow.normalize()?;
        let (exact, pdq) = self.keys(params)?;
        let exact_section = match bloom_blocks {
            Some((eb, _)) => filter::build_bloom_blocks(params, &exact, eb)?,
            None => filter::build_section(params, &exact)?,
        };
        let (pdq_section, pdq_section_2) = match (&pdq, &params.pdq) {
            (Some(keys), Some(bands)) => {
                let (a, b) = filter::build_pdq_sections(
                    params,
                    bands,
                    keys,
                    bloom_blocks.map(|(_, pb)| pb),
                )?;
                (Some(a), b)
            }
            _ => (None, None),
        };
        let mut filter_meta = FilterMeta::from_params(params);
        if params.kind == FilterKind::Bloom {
            filter_meta.bloom_blocks = Some((
                filter::bloom_blocks_of(&exact_section).unwrap_or(0),
                pdq_section.as_deref().and_then(filter::bloom_blocks_of).unwrap_or(0),
            ));
        }
        let meta = filter::FilterFileMeta {
            lists: self.list_meta(),
            filter: filter_meta.clone(),
            exact_keys: exact.len() as u64,
            pdq_keys: pdq.as_ref().map_or(0, |k| k.len() as u64),
            generator: generator(),
            allow: (!self.allow.is_empty()).then(|| self.allow.counts()),
        };
        let meta = serde_json::to_string(&meta).map_err(|e| Error::caller(e.to_string()))?;
        let mut sections: Vec<([u8; 4], &[u8])> = vec![(filter::TAG_EXACT, &exact_section)];
        if let Some(p) = &pdq_section {
            sections.push((filter::TAG_PDQ_BANDS, p));
        }
        if let Some(p) = &pdq_section_2 {
            sections.push((filter::TAG_PDQ_BANDS_2, p));
        }
        // The allow-list of this version, whole (also in deltas: applying one replaces it).
        let allow_section = self.allow.filter_section(params.salt);
        if !allow_section.is_empty() {
            sections.push((allow::TAG_ALLOW_KEYS, &allow_section));
        }
        let header = container::WriteHeader {
            artifact,
            set_version: info.set_version,
            base_version: base,
            created: info.created,
            signing_key: info.signing_key,
        };
        Ok((container::write(&header, &meta, &sections), filter_meta))
    }

    /// Writes the public filter.
    pub fn build_filter(
        &mut self,
        params: &FilterParams,
        info: &BuildInfo<'_>,
    ) -> Result<Vec<u8>, Error> {
        self.write_filter(params, info, Artifact::Filter, 0, None).map(|(bytes, _)| bytes)
    }

    /// Writes the public filter and the index together; the index records the filter's
    /// parameters (and for Bloom filters their shape) so later versions can ship as deltas.
    pub fn build_both(
        &mut self,
        params: &FilterParams,
        info: &BuildInfo<'_>,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let (filter, meta) = self.write_filter(params, info, Artifact::Filter, 0, None)?;
        let index = self.build_index_with(info, Some(meta))?;
        Ok((index, filter))
    }

    /// Writes a filter delta: the entries of this builder that `old` does not have, with the
    /// filter parameters recorded in `old` (so a client holding `old`'s filter can apply it),
    /// and this builder's whole allow-list (applying the delta replaces the client's).
    pub fn build_filter_delta(
        &mut self,
        old: &Index,
        info: &BuildInfo<'_>,
    ) -> Result<Vec<u8>, Error> {
        let old_meta = old.filter_meta().ok_or_else(|| {
            Error::caller("the old index records no filter parameters: build a full filter")
        })?;
        let params = old_meta.params()?;
        if info.set_version <= old.header().set_version {
            return Err(Error::caller(format!(
                "delta version {} must be newer than the old version {}",
                info.set_version,
                old.header().set_version
            )));
        }
        let mut added = self.difference(old);
        let blocks = if params.kind == FilterKind::Bloom { old_meta.bloom_blocks } else { None };
        let (bytes, _) = added.write_filter(
            &params,
            info,
            Artifact::FilterDelta,
            old.header().set_version,
            blocks,
        )?;
        Ok(bytes)
    }

    /// The entries of this builder that `old` does not hold (same lists, and this builder's
    /// whole allow-list).
    pub fn difference(&self, old: &Index) -> SetBuilder {
        let mut seen = std::collections::HashSet::new();
        for (kind, value, _, _, _) in old.entries() {
            seen.insert((kind, value));
        }
        let mut out = SetBuilder {
            lists: self.lists.clone(),
            allow: self.allow.clone(),
            ..Default::default()
        };
        out.md5 = self
            .md5
            .iter()
            .filter(|(d, _)| !seen.contains(&(HashKind::Md5, d.to_vec())))
            .copied()
            .collect();
        out.sha1 = self
            .sha1
            .iter()
            .filter(|(d, _)| !seen.contains(&(HashKind::Sha1, d.to_vec())))
            .copied()
            .collect();
        out.sha256 = self
            .sha256
            .iter()
            .filter(|(d, _)| !seen.contains(&(HashKind::Sha256, d.to_vec())))
            .copied()
            .collect();
        out.pdq = self
            .pdq
            .iter()
            .filter(|e| !seen.contains(&(HashKind::Pdq, e.hash.0.to_vec())))
            .copied()
            .collect();
        out
    }

    /// A builder holding everything of an index, its allow-list included (to extend it and
    /// build the next version).
    pub fn from_index(index: &Index) -> SetBuilder {
        let mut b = SetBuilder {
            lists: index.lists().iter().map(|l| l.info.clone()).collect(),
            allow: index.allow_hashes().clone(),
            ..Default::default()
        };
        for (kind, v, list, quality, region) in index.entries() {
            match kind {
                HashKind::Md5 => b.md5.extend(<[u8; 16]>::try_from(&v[..]).ok().map(|d| (d, list))),
                HashKind::Sha1 => {
                    b.sha1.extend(<[u8; 20]>::try_from(&v[..]).ok().map(|d| (d, list)))
                }
                HashKind::Sha256 => {
                    b.sha256.extend(<[u8; 32]>::try_from(&v[..]).ok().map(|d| (d, list)))
                }
                HashKind::Pdq => {
                    b.pdq.extend(<[u8; 32]>::try_from(&v[..]).ok().map(|h| PdqEntry {
                        hash: PdqHash(h),
                        list,
                        quality,
                        region,
                    }))
                }
            }
        }
        b
    }
}

/// What `schoon inspect` shows of any set file.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The verified header.
    pub header: Header,
    /// The metadata (lists, parameters, counts).
    pub metadata: serde_json::Value,
    /// Sections: tag and length in bytes.
    pub sections: Vec<(String, usize)>,
    /// Total file size.
    pub bytes: usize,
}

/// Verifies any set file (index, filter or delta) and describes it.
pub fn inspect(bytes: &[u8], trust: &Trust) -> Result<Inspection, Error> {
    let parsed = container::parse(
        bytes,
        trust,
        &[Artifact::Index, Artifact::Filter, Artifact::FilterDelta],
    )?;
    let metadata = serde_json::from_str(parsed.metadata).map_err(|e| {
        Error::BadInput(crate::error::BadInput::Set { detail: format!("metadata: {e}") })
    })?;
    Ok(Inspection {
        header: parsed.header.clone(),
        metadata,
        sections: parsed
            .sections
            .iter()
            .map(|(t, s)| (String::from_utf8_lossy(t).trim().to_owned(), s.len()))
            .collect(),
        bytes: bytes.len(),
    })
}

/// The authoritative answer for a hashed file, as `schoon scan` decides: exact hashes and plain
/// PDQ through [`Index::lookup`], then, when no PDQ entry matched and the index holds region
/// hashes, the region windows of the upload ([`crate::regions`]; needs the luma plane of
/// [`crate::HashOptions::regions`] and an upload of PDQ quality at least `min_quality`). The
/// allow-list rule applies throughout ([`lookup_hashed_allowed`]).
///
/// ```
/// # fn demo(index: &schoon_core::set::Index, bytes: &[u8]) {
/// use schoon_core::{hash_bytes, HashOptions};
/// use schoon_core::set::{lookup_hashed, MatchOptions};
/// let report = hash_bytes(bytes, &HashOptions { regions: index.has_regions(), ..Default::default() });
/// let matches = lookup_hashed(index, &report.exact, report.image.as_ref().ok(), &MatchOptions::default());
/// # }
/// ```
pub fn lookup_hashed(
    index: &Index,
    exact: &ExactHashes,
    image: Option<&ImageHashes>,
    options: &MatchOptions,
) -> Vec<Match> {
    lookup_hashed_allowed(index, exact, image, options).0
}

/// [`lookup_hashed`], and what the allow-list took out of the answer. An upload whose exact
/// hash is allow-listed has no matches; when every whole-image PDQ match was suppressed (the
/// upload is at least as near an allow-listed image), the region windows are not tried.
///
/// ```
/// # fn demo(index: &schoon_core::set::Index, bytes: &[u8]) {
/// use schoon_core::{hash_bytes, HashOptions};
/// use schoon_core::set::{lookup_hashed_allowed, MatchOptions};
/// let report = hash_bytes(bytes, &HashOptions { regions: index.has_regions(), ..Default::default() });
/// let image = report.image.as_ref().ok();
/// let (matches, allowed) = lookup_hashed_allowed(index, &report.exact, image, &MatchOptions::default());
/// if matches.is_empty() && allowed.any() {
///     println!("clean: a known innocent image");
/// }
/// # }
/// ```
pub fn lookup_hashed_allowed(
    index: &Index,
    exact: &ExactHashes,
    image: Option<&ImageHashes>,
    options: &MatchOptions,
) -> (Vec<Match>, Allowed) {
    let (mut matches, mut allowed) =
        index.lookup_allowed(&Query::from_hashes(exact, image), options);
    if allowed.any() || matches.iter().any(|m| m.kind == HashKind::Pdq) || !index.has_regions() {
        return (matches, allowed);
    }
    // Featureless uploads (quality under the minimum) have no reliable windows either; this
    // also spares the ~16 ms of windows for tiny and flat images.
    if let Some(image) = image.filter(|i| i.pdq.quality >= options.min_quality)
        && let Some(plane) = &image.plane
    {
        let windows = Scheme::standard().query_variants(plane);
        let (found, suppressed) = index.lookup_regions_allowed(&windows, options);
        matches.extend(found);
        allowed.pdq += suppressed.pdq;
    }
    (matches, allowed)
}
