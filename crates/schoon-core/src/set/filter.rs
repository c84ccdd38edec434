//! The filter: the public, compact, signed form of a set.
//!
//! It holds approximate membership of salted 64-bit keys (see `keys`) for the exact hashes
//! (section `EXCT`) and, optionally, for bands of PDQ bits (section `PDQB`, see `bands`), each a
//! [`schoon_filter`] structure queried straight from the downloaded bytes. It cannot be turned
//! back into the list: it stores no hash values, only fingerprints of salted keys.
//!
//! A hit is a *candidate*, to be confirmed against the index by whoever holds it. A miss is
//! final: filters have no false negatives, so a client may say "clean" without sending anything.
//!
//! Updates: a filter delta (artifact 3) holds only the keys added since version `base`; a client
//! holding version `base` applies it with [`Filter::apply_delta`] and holds the delta's version.
//! Split-block Bloom deltas with the base's parameters are OR-merged in place; binary fuse
//! deltas are kept beside the base and queried too. Removals need a new full filter.

use schoon_filter::{FilterBuf, FilterRef, Kind, Membership};
use serde::{Deserialize, Serialize};

use super::bands::{BandParams, BandScheme};
use super::container::{self, Artifact, Header, Trust};
use super::index::ListMeta;
use super::keys::{DOMAIN_MD5, DOMAIN_SHA1, DOMAIN_SHA256, key};
use super::{HashKind, MatchOptions, Query};
use crate::error::{BadInput, Error};

pub(crate) const TAG_EXACT: [u8; 4] = *b"EXCT";
pub(crate) const TAG_PDQ_BANDS: [u8; 4] = *b"PDQB";
/// The second stage of 24-bit PDQ fingerprints: a binary fuse 8 over remixed band keys.
pub(crate) const TAG_PDQ_BANDS_2: [u8; 4] = *b"PDQC";

/// The key of the second stage: independent of the first stage's fingerprint.
#[inline]
fn remix(key: u64) -> u64 {
    super::keys::fmix64(key ^ 0x2545_f491_4f6c_dd1d)
}

/// Which approximate-membership structure a filter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterKind {
    /// Binary fuse (8, 16 or 32-bit fingerprints, chosen from the target rate): about 1.13x the
    /// information-theoretic minimum size. The default.
    #[default]
    Fuse,
    /// Split-block Bloom: one cache line per lookup, takes additions in place; 1.6x to 3x the
    /// minimum size.
    Bloom,
}

impl FilterKind {
    /// `"fuse"` or `"bloom"`.
    pub fn name(self) -> &'static str {
        match self {
            FilterKind::Fuse => "fuse",
            FilterKind::Bloom => "bloom",
        }
    }
}

/// How to build a filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterParams {
    /// The structure.
    pub kind: FilterKind,
    /// Target false-positive rate per key lookup.
    pub fpr: f64,
    /// The PDQ prefilter's band scheme, or `None` to build the filter without it.
    pub pdq: Option<BandParams>,
    /// The salt of the keys (public; random per set).
    pub salt: u64,
}

impl Default for FilterParams {
    fn default() -> Self {
        FilterParams {
            kind: FilterKind::Fuse,
            fpr: 1e-4,
            pdq: Some(BandParams::default()),
            salt: 0,
        }
    }
}

/// Filter parameters as recorded in set metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterMeta {
    /// `"fuse"` or `"bloom"`.
    pub kind: String,
    /// Target false-positive rate per lookup.
    pub target_fpr: f64,
    /// Key salt, 16 hex digits.
    pub salt: String,
    /// The PDQ band scheme, if the filter has a PDQ prefilter.
    pub pdq: Option<BandParams>,
    /// Split-block Bloom only: blocks of the exact and PDQ sections of the base filter, so that
    /// deltas are built to the same shape and merge in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_blocks: Option<(u32, u32)>,
}

impl FilterMeta {
    pub(crate) fn from_params(p: &FilterParams) -> Self {
        FilterMeta {
            kind: p.kind.name().into(),
            target_fpr: p.fpr,
            salt: format!("{:016x}", p.salt),
            pdq: p.pdq,
            bloom_blocks: None,
        }
    }

    pub(crate) fn params(&self) -> Result<FilterParams, Error> {
        let kind = match self.kind.as_str() {
            "fuse" => FilterKind::Fuse,
            "bloom" => FilterKind::Bloom,
            other => return Err(bad(format!("unknown filter kind '{other}'"))),
        };
        let salt = u64::from_str_radix(&self.salt, 16)
            .map_err(|_| bad(format!("invalid salt '{}'", self.salt)))?;
        Ok(FilterParams { kind, fpr: self.target_fpr, pdq: self.pdq, salt })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FilterFileMeta {
    pub lists: Vec<ListMeta>,
    pub filter: FilterMeta,
    pub exact_keys: u64,
    pub pdq_keys: u64,
    pub generator: String,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}

fn filter_error(e: schoon_filter::Error) -> Error {
    bad(format!("filter section: {e}"))
}

/// One file's worth of filter sections (the base, or an applied delta), validated once and
/// kept as the verified bytes of each section.
#[derive(Debug, Clone)]
struct Part {
    exact: Option<FilterBuf>,
    pdq: Option<FilterBuf>,
    pdq2: Option<FilterBuf>,
}

impl Part {
    fn exact(&self) -> Option<FilterRef<'_>> {
        self.exact.as_ref().map(FilterBuf::view)
    }
    fn pdq(&self) -> Option<FilterRef<'_>> {
        self.pdq.as_ref().map(FilterBuf::view)
    }

    /// Whether a PDQ band key is in this part (both stages).
    #[inline]
    fn has_pdq_key(&self, key: u64) -> bool {
        self.pdq.as_ref().is_some_and(|f| f.view().contains(key))
            && self.pdq2.as_ref().is_none_or(|f| f.view().contains(remix(key)))
    }
}

/// What a filter says about a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterHits {
    /// The hash kinds that hit (each is a candidate, never a confirmation).
    pub kinds: Vec<HashKind>,
    /// Filter probes made.
    pub probes: u32,
}

impl FilterHits {
    /// Whether anything hit.
    pub fn is_candidate(&self) -> bool {
        !self.kinds.is_empty()
    }
}

/// A loaded, verified filter (with any deltas applied).
///
/// Loading verifies the checksum and signature over the downloaded bytes, then keeps each
/// filter section as one block of bytes that is queried in place.
#[derive(Debug, Clone)]
pub struct Filter {
    header: Header,
    meta: FilterFileMeta,
    params: FilterParams,
    scheme: Option<BandScheme>,
    parts: Vec<Part>,
}

fn load_part(
    bytes: &[u8],
    trust: &Trust,
    expect: Artifact,
) -> Result<(Header, FilterFileMeta, Part), Error> {
    let parsed = container::parse(bytes, trust, &[expect])?;
    let meta: FilterFileMeta =
        serde_json::from_str(parsed.metadata).map_err(|e| bad(format!("filter metadata: {e}")))?;
    let section = |tag: &[u8; 4]| -> Result<Option<FilterBuf>, Error> {
        parsed
            .section(tag)
            .map(|s| FilterBuf::from_bytes(s.to_vec()).map_err(filter_error))
            .transpose()
    };
    let part = Part {
        exact: section(&TAG_EXACT)?,
        pdq: section(&TAG_PDQ_BANDS)?,
        pdq2: section(&TAG_PDQ_BANDS_2)?,
    };
    Ok((parsed.header.clone(), meta, part))
}

impl Filter {
    /// Verifies and loads a filter. Cost: one SHA-256 pass and one signature check over the
    /// bytes, then constant time: nothing is parsed per entry.
    ///
    /// ```no_run
    /// # fn demo(bytes: Vec<u8>, key: schoon_core::PublicKey) -> Result<(), schoon_core::Error> {
    /// use schoon_core::set::{Filter, Trust};
    /// let filter = Filter::from_bytes(&bytes, &Trust::key(key))?;
    /// println!("filter version {}", filter.version());
    /// # Ok(()) }
    /// ```
    pub fn from_bytes(bytes: &[u8], trust: &Trust) -> Result<Filter, Error> {
        let (header, meta, part) = load_part(bytes, trust, Artifact::Filter)?;
        let params = meta.filter.params()?;
        let scheme = match (params.pdq, &part.pdq) {
            (Some(p), Some(_)) => Some(BandScheme::new(p, params.salt)?),
            (None, None) => None,
            _ => return Err(bad("pdq band parameters and section disagree")),
        };
        Ok(Filter { header, meta, params, scheme, parts: vec![part] })
    }

    /// The set version currently held (the base's, or the last applied delta's).
    pub fn version(&self) -> u64 {
        self.header.set_version
    }

    /// The header of the base file (or of the last applied delta).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The lists the filter was built from.
    pub fn lists(&self) -> &[ListMeta] {
        &self.meta.lists
    }

    /// The build parameters.
    pub fn params(&self) -> &FilterParams {
        &self.params
    }

    /// Whether the filter has a PDQ prefilter.
    pub fn has_pdq(&self) -> bool {
        self.scheme.is_some()
    }

    /// The hash kinds this filter can flag: each kind its lists hold entries of (after any
    /// applied deltas; PDQ only with a PDQ prefilter). A client need not compute the others:
    /// their lookups could only miss.
    pub fn kinds(&self) -> Vec<HashKind> {
        let lists = &self.meta.lists;
        let held = [
            lists.iter().any(|l| l.md5 > 0),
            lists.iter().any(|l| l.sha1 > 0),
            lists.iter().any(|l| l.sha256 > 0),
            lists.iter().any(|l| l.pdq > 0) && self.has_pdq(),
        ];
        HashKind::ALL.into_iter().zip(held).filter(|&(_, h)| h).map(|(k, _)| k).collect()
    }

    /// Keys in the exact and PDQ sections, and the filter kinds used (for `inspect`).
    pub fn stats(&self) -> FilterStats {
        let mut s = FilterStats::default();
        for p in &self.parts {
            if let Some(f) = p.exact() {
                s.exact_keys += f.num_keys();
                s.exact_bytes += f.size_bytes() as u64;
                s.exact_kind = Some(f.kind());
                s.exact_fpr = f.false_positive_rate();
            }
            if let Some(f) = p.pdq() {
                s.pdq_keys += f.num_keys();
                s.pdq_bytes += f.size_bytes() as u64;
                s.pdq_kind = Some(f.kind());
                s.pdq_fpr = f.false_positive_rate();
            }
            if let Some(f) = p.pdq2.as_ref().map(FilterBuf::view) {
                s.pdq_bytes += f.size_bytes() as u64;
                s.pdq_fpr *= f.false_positive_rate();
            }
        }
        s.parts = self.parts.len();
        s
    }

    /// Refuses a filter that is not newer than the version a client already holds (replay of
    /// an older, validly signed filter).
    pub fn ensure_newer_than(&self, held: u64) -> Result<(), Error> {
        if self.version() <= held {
            return Err(Error::BadInput(BadInput::Stale { offered: self.version(), held }));
        }
        Ok(())
    }

    /// Applies a verified delta for exactly the held version.
    pub fn apply_delta(&mut self, bytes: &[u8], trust: &Trust) -> Result<(), Error> {
        let (header, meta, part) = load_part(bytes, trust, Artifact::FilterDelta)?;
        if header.base_version != self.version() {
            return Err(bad(format!(
                "delta applies to version {}, the filter held is version {}",
                header.base_version,
                self.version()
            )));
        }
        if header.set_version <= header.base_version {
            return Err(Error::BadInput(BadInput::Stale {
                offered: header.set_version,
                held: self.version(),
            }));
        }
        if meta.filter.params()? != self.params {
            return Err(bad("delta was built with other filter parameters than the base"));
        }
        // Split-block Bloom: merge in place when the parameters match.
        let mut merged = false;
        if self.params.kind == FilterKind::Bloom {
            merged = self.merge_bloom(&part)?;
        }
        if !merged {
            self.parts.push(part);
        }
        for added in meta.lists {
            match self.meta.lists.iter_mut().find(|l| l.info == added.info) {
                Some(l) => {
                    l.md5 += added.md5;
                    l.sha1 += added.sha1;
                    l.sha256 += added.sha256;
                    l.pdq += added.pdq;
                }
                None => self.meta.lists.push(added),
            }
        }
        self.header = header;
        Ok(())
    }

    fn merge_bloom(&mut self, delta: &Part) -> Result<bool, Error> {
        let Some(base) = self.parts.first() else { return Ok(false) };
        // Merge into copies first so a mismatch leaves the base untouched.
        let mut merged = base.clone();
        if merged.pdq2.is_some() || delta.pdq2.is_some() {
            return Ok(false);
        }
        for (b, d) in [(&mut merged.exact, &delta.exact), (&mut merged.pdq, &delta.pdq)] {
            match (b, d) {
                (Some(b), Some(d)) => {
                    if b.merge(&d.view()).is_err() {
                        return Ok(false);
                    }
                }
                (None, None) => {}
                _ => return Ok(false),
            }
        }
        self.parts[0] = merged;
        Ok(true)
    }

    /// Checks a query: which hash kinds are candidates.
    pub fn check(&self, query: &Query, options: &MatchOptions) -> FilterHits {
        let salt = self.params.salt;
        let mut keys: Vec<u64> = Vec::with_capacity(4);
        let mut hits = FilterHits::default();
        let exact: [(HashKind, u8, Option<&[u8]>); 3] = [
            (HashKind::Md5, DOMAIN_MD5, query.md5.as_ref().map(|d| &d.0[..])),
            (HashKind::Sha1, DOMAIN_SHA1, query.sha1.as_ref().map(|d| &d.0[..])),
            (HashKind::Sha256, DOMAIN_SHA256, query.sha256.as_ref().map(|d| &d.0[..])),
        ];
        for (kind, domain, digest) in exact {
            let Some(d) = digest else { continue };
            let k = key(salt, domain, d);
            hits.probes += self.parts.len() as u32;
            if self.parts.iter().any(|p| p.exact().is_some_and(|f| f.contains(k))) {
                hits.kinds.push(kind);
            }
        }
        if let (Some(scheme), Some(pdq)) = (&self.scheme, &query.pdq)
            && pdq.quality.is_none_or(|q| q >= options.min_quality)
        {
            keys.clear();
            scheme.probe_keys(pdq.variants(), pdq.coefficients.as_ref(), &mut keys);
            hits.probes += (keys.len() * self.parts.len()) as u32;
            if keys.iter().any(|&k| self.parts.iter().any(|p| p.has_pdq_key(k))) {
                hits.kinds.push(HashKind::Pdq);
            }
        }
        hits
    }
}

/// Sizes and counts of a loaded filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterStats {
    /// Keys of exact hashes.
    pub exact_keys: u64,
    /// Bytes of the exact section(s).
    pub exact_bytes: u64,
    /// Structure of the exact section.
    pub exact_kind: Option<Kind>,
    /// Theoretical false-positive rate per exact lookup.
    pub exact_fpr: f64,
    /// Keys of PDQ bands.
    pub pdq_keys: u64,
    /// Bytes of the PDQ section(s).
    pub pdq_bytes: u64,
    /// Structure of the PDQ section.
    pub pdq_kind: Option<Kind>,
    /// Theoretical false-positive rate per PDQ probe.
    pub pdq_fpr: f64,
    /// Files making up the filter (1 + applied fuse deltas).
    pub parts: usize,
}

/// Builds a split-block Bloom section of exactly `blocks` blocks (for deltas that merge in place).
pub(crate) fn build_bloom_blocks(
    params: &FilterParams,
    keys: &[u64],
    blocks: u32,
) -> Result<Vec<u8>, Error> {
    let mut buf = FilterBuf::empty_bloom(blocks, params.salt ^ 0x4b45_5953)
        .map_err(|e| Error::caller(format!("building the filter: {e}")))?;
    buf.insert_all(keys).map_err(|e| Error::caller(format!("building the filter: {e}")))?;
    Ok(buf.into_bytes())
}

/// The block count of a split-block Bloom section.
pub(crate) fn bloom_blocks_of(section: &[u8]) -> Option<u32> {
    FilterRef::parse(section).ok().and_then(|f| f.num_blocks())
}

/// Builds the membership structure for a key set.
pub(crate) fn build_section(params: &FilterParams, keys: &[u64]) -> Result<Vec<u8>, Error> {
    let kind = match params.kind {
        FilterKind::Fuse => schoon_filter::choose_kind(params.fpr),
        FilterKind::Bloom => Ok(Kind::SplitBlockBloom),
    }
    .map_err(|e| Error::caller(format!("filter parameters: {e}")))?;
    schoon_filter::build(kind, keys, params.fpr, params.salt ^ 0x4b45_5953)
        .map(FilterBuf::into_bytes)
        .map_err(|e| Error::caller(format!("building the filter: {e}")))
}

/// Builds the PDQ band sections: one filter, or two stacked filters for 24-bit fingerprints.
pub(crate) fn build_pdq_sections(
    params: &FilterParams,
    bands: &BandParams,
    keys: &[u64],
    bloom_blocks: Option<u32>,
) -> Result<(Vec<u8>, Option<Vec<u8>>), Error> {
    let fpr = |bits: u8| 0.5f64.powi(i32::from(bits));
    if let Some(blocks) = bloom_blocks {
        return Ok((build_bloom_blocks(params, keys, blocks)?, None));
    }
    match (params.kind, bands.fingerprint) {
        (FilterKind::Fuse, 24) => {
            let first = build_section(&FilterParams { fpr: fpr(16), ..*params }, keys)?;
            let remixed: Vec<u64> = keys.iter().map(|&k| remix(k)).collect();
            let second = build_section(&FilterParams { fpr: fpr(8), ..*params }, &remixed)?;
            Ok((first, Some(second)))
        }
        (_, bits) => Ok((build_section(&FilterParams { fpr: fpr(bits), ..*params }, keys)?, None)),
    }
}

/// Keys of exact digests.
pub(crate) fn exact_key(salt: u64, kind: HashKind, digest: &[u8]) -> u64 {
    let domain = match kind {
        HashKind::Md5 => DOMAIN_MD5,
        HashKind::Sha1 => DOMAIN_SHA1,
        _ => DOMAIN_SHA256,
    };
    key(salt, domain, digest)
}

pub(crate) fn scheme_for(params: &FilterParams) -> Result<Option<BandScheme>, Error> {
    params.pdq.map(|p| BandScheme::new(p, params.salt)).transpose()
}
