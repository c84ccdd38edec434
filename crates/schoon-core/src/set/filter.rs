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
//! Region hashes ([`crate::regions`]) go into the PDQ band sections too, under their own band
//! positions and key domain (the set's salt tweaked by [`REGION_SALT`]), so a plain query never
//! hits them; [`Filter::check_regions`] probes the query windows of an upload against them.
//!
//! Updates: a filter delta (artifact 3) holds only the keys added since version `base`; a client
//! holding version `base` applies it with [`Filter::apply_delta`] and holds the delta's version.
//! Split-block Bloom deltas with the base's parameters are OR-merged in place; binary fuse
//! deltas are kept beside the base and queried too. Removals need a new full filter.
//!
//! The allow-list (section `ALOW`, see [`crate::set`] for the rule): salted digests of the
//! allow-listed hashes, so the filter drops a query whose exact hash, or a query variant or
//! region window whose PDQ hash, *equals* an allow-listed one. A delta carries its version's
//! whole allow-list and applying it replaces the one held.

use schoon_filter::{FilterBuf, FilterRef, Kind, Membership};
use serde::{Deserialize, Serialize};

use super::allow::{AllowCounts, AllowDigests, TAG_ALLOW_KEYS};
use super::bands::{BandParams, BandScheme};
use super::container::{self, Artifact, Header, Trust};
use super::index::ListMeta;
use super::keys::{DOMAIN_MD5, DOMAIN_SHA1, DOMAIN_SHA256, key};
use super::{HashKind, MatchOptions, Query};
use crate::error::{BadInput, Error};
use crate::pdq::Pdq;
use crate::regions::{LumaPlane, Region, Scheme};
use crate::{ExactHashes, ImageHashes};

pub(crate) const TAG_EXACT: [u8; 4] = *b"EXCT";
pub(crate) const TAG_PDQ_BANDS: [u8; 4] = *b"PDQB";
/// The second stage of 24-bit PDQ fingerprints: a binary fuse 8 over remixed band keys.
pub(crate) const TAG_PDQ_BANDS_2: [u8; 4] = *b"PDQC";

/// Tweaks the set's salt for the band scheme of region hashes (positions and keys of their own).
pub(crate) const REGION_SALT: u64 = 0x5245_4749_4f4e_5321; // "REGIONS!"

/// Least reliable bits flipped per band when probing region windows: windows are many (~100
/// per upload), so fewer flips than for the whole image keep the false candidates down
/// (`cargo bench -p schoon-core --bench prefilter`, "regions").
pub const REGION_FLIPS: u8 = 1;

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
    /// The allow-list's counts (absent: no allow-list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<AllowCounts>,
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
    /// The band scheme of region hashes (with [`REGION_FLIPS`] for probing).
    region_scheme: Option<BandScheme>,
    parts: Vec<Part>,
    /// The allow-list of the version held.
    allow: AllowDigests,
}

fn load_part(
    bytes: &[u8],
    trust: &Trust,
    expect: Artifact,
) -> Result<(Header, FilterFileMeta, Part, AllowDigests), Error> {
    let parsed = container::parse(bytes, trust, &[expect])?;
    let meta = meta_json::parse(parsed.metadata)?;
    let allow = AllowDigests::from_section(
        parsed.section(&TAG_ALLOW_KEYS),
        meta.allow,
        meta.filter.params()?.salt,
    )?;
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
    Ok((parsed.header.clone(), meta, part, allow))
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
        let (header, meta, part, allow) = load_part(bytes, trust, Artifact::Filter)?;
        let params = meta.filter.params()?;
        let scheme = match (params.pdq, &part.pdq) {
            (Some(p), Some(_)) => Some(BandScheme::new(p, params.salt)?),
            (None, None) => None,
            _ => return Err(bad("pdq band parameters and section disagree")),
        };
        let region_scheme = region_scheme_for(&params, REGION_FLIPS)?;
        Ok(Filter { header, meta, params, scheme, region_scheme, parts: vec![part], allow })
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

    /// How many hashes of each kind the allow-list of the version held covers (all zero
    /// without one).
    pub fn allow_counts(&self) -> AllowCounts {
        self.allow.counts()
    }

    /// The allow-list's exact rule alone: the first of the query's MD5, SHA-1 and SHA-256 that
    /// is allow-listed (such a query is no candidate, and the index gives it no matches).
    pub fn allowed_exact(&self, query: &Query) -> Option<HashKind> {
        self.allow.exact(query)
    }

    /// Whether a PDQ hash (a query variant or a region window) equals an allow-listed one:
    /// the filter does not probe it, as the index suppresses every match it could make.
    pub fn allowed_pdq(&self, hash: &crate::PdqHash) -> bool {
        self.allow.pdq_equal(hash)
    }

    /// Whether the filter has a PDQ prefilter.
    pub fn has_pdq(&self) -> bool {
        self.scheme.is_some()
    }

    /// Sets how many least reliable bits per band [`Filter::check_regions`] flips (default
    /// [`REGION_FLIPS`]; at most the filter's PDQ flips): more flips find more edited copies
    /// and flag more innocent uploads.
    pub fn set_region_flips(&mut self, flips: u8) -> Result<(), Error> {
        self.region_scheme = region_scheme_for(&self.params, flips)?;
        Ok(())
    }

    /// Whether the filter holds region hashes ([`crate::regions`]): then uploads that miss
    /// should also have their windows checked ([`Filter::check_regions`], [`check_hashed`]).
    pub fn has_regions(&self) -> bool {
        self.region_scheme.is_some() && self.meta.lists.iter().any(|l| l.regions > 0)
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

    /// Applies a verified delta for exactly the held version. The delta's allow-list replaces
    /// the one held (a delta carries its version's whole allow-list).
    pub fn apply_delta(&mut self, bytes: &[u8], trust: &Trust) -> Result<(), Error> {
        let (header, meta, part, allow) = load_part(bytes, trust, Artifact::FilterDelta)?;
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
                    l.regions += added.regions;
                }
                None => self.meta.lists.push(added),
            }
        }
        self.meta.allow = meta.allow;
        self.allow = allow;
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
    ///
    /// The allow-list applies (see [`crate::set`]): a query whose exact hash is allow-listed
    /// is no candidate, and PDQ variants equal to an allow-listed PDQ hash are not probed.
    pub fn check(&self, query: &Query, options: &MatchOptions) -> FilterHits {
        let salt = self.params.salt;
        let mut keys: Vec<u64> = Vec::with_capacity(4);
        let mut hits = FilterHits::default();
        if self.allow.exact(query).is_some() {
            return hits;
        }
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
            let variants = pdq.variants();
            let keep = |v: usize| variants.get(v).is_some_and(|h| !self.allow.pdq_equal(h));
            scheme.probe_keys_where(variants, pdq.coefficients.as_ref(), keep, &mut keys);
            hits.probes += (keys.len() * self.parts.len()) as u32;
            if keys.iter().any(|&k| self.parts.iter().any(|p| p.has_pdq_key(k))) {
                hits.kinds.push(HashKind::Pdq);
            }
        }
        hits
    }

    /// Checks the query windows of an upload ([`crate::regions::Scheme::query_variants`])
    /// against the filter's region hashes: windows of quality under `options.min_quality` are
    /// skipped, each other window's hash is probed band by band with its [`REGION_FLIPS`] least
    /// reliable bits flipped. Returns the windows that hit (candidates, to be confirmed with
    /// [`crate::set::Index::lookup_regions`]), in order, and the probes made. Windows whose
    /// hash equals an allow-listed PDQ hash are not probed (the allow-list rule).
    pub fn check_regions(&self, windows: &[(Region, Pdq)], options: &MatchOptions) -> RegionHits {
        let mut out = RegionHits::default();
        let Some(scheme) = self.region_scheme.as_ref().filter(|_| self.has_regions()) else {
            return out;
        };
        let mut keys = Vec::new();
        for (i, (_, p)) in windows.iter().enumerate() {
            if p.quality < options.min_quality {
                continue;
            }
            keys.clear();
            scheme.probe_keys(&p.dihedral[..1], Some(&p.coefficients), &mut keys);
            out.probes += (keys.len() * self.parts.len()) as u32;
            // The allow-list is asked only about windows that hit (one digest each).
            if keys.iter().any(|&k| self.parts.iter().any(|p| p.has_pdq_key(k)))
                && !self.allow.pdq_equal(&p.hash)
            {
                out.windows.push(i);
            }
        }
        out
    }
}

/// What a filter says about the windows of an upload ([`Filter::check_regions`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionHits {
    /// Positions of the windows that hit (candidates).
    pub windows: Vec<usize>,
    /// Filter probes made.
    pub probes: u32,
}

impl RegionHits {
    /// Whether any window hit.
    pub fn is_candidate(&self) -> bool {
        !self.windows.is_empty()
    }
}

/// The filter's answer for a hashed file, as a client decides what to confirm: the exact and
/// whole-image PDQ hits of [`Filter::check`], then, when PDQ did not hit, the filter holds
/// region hashes and the upload has a luma plane ([`crate::HashOptions::regions`]) and quality
/// at least `min_quality`, the windows that hit ([`Filter::check_regions`]), with their hashes.
/// A file whose exact hash is allow-listed gets neither hits nor windows.
///
/// ```
/// # fn demo(filter: &schoon_core::set::Filter, bytes: &[u8]) {
/// use schoon_core::{hash_bytes, HashOptions};
/// use schoon_core::set::{check_hashed, MatchOptions};
/// let report = hash_bytes(bytes, &HashOptions { regions: filter.has_regions(), ..Default::default() });
/// let (hits, windows) = check_hashed(filter, &report.exact, report.image.as_ref().ok(), &MatchOptions::default());
/// if hits.is_candidate() || !windows.is_empty() {
///     // Send the flagged hashes (and the windows) for confirmation.
/// }
/// # }
/// ```
pub fn check_hashed(
    filter: &Filter,
    exact: &ExactHashes,
    image: Option<&ImageHashes>,
    options: &MatchOptions,
) -> (FilterHits, Vec<(Region, Pdq)>) {
    let exact = Query::from_exact(exact);
    if filter.allowed_exact(&exact).is_some() {
        return (FilterHits::default(), Vec::new());
    }
    let mut hits = filter.check(&exact, options);
    let Some(image) = image else { return (hits, Vec::new()) };
    let (pdq_hits, windows) = filter.check_pdq(&image.pdq, image.plane.as_ref(), options);
    hits.kinds.extend(pdq_hits.kinds);
    hits.probes += pdq_hits.probes;
    (hits, windows)
}

impl Filter {
    /// A computed PDQ hash against the filter: its dihedral variants and least reliable bits
    /// ([`Filter::check`]), then, after a miss, the region windows of `plane`
    /// ([`Filter::flagged_windows`]). Returns the hits (PDQ only for a whole-image hit) and the
    /// flagged windows.
    pub fn check_pdq(
        &self,
        pdq: &Pdq,
        plane: Option<&LumaPlane>,
        options: &MatchOptions,
    ) -> (FilterHits, Vec<(Region, Pdq)>) {
        let mut hits =
            self.check(&Query { pdq: Some(Query::pdq_of(pdq)), ..Default::default() }, options);
        if hits.kinds.contains(&HashKind::Pdq) {
            return (hits, Vec::new());
        }
        let (windows, probes) = self.flagged_windows(pdq, plane, options);
        hits.probes += probes;
        (hits, windows)
    }

    /// After a whole-image PDQ miss: the query windows of the upload that hit the filter's
    /// region hashes, and the probes made. Nothing when the filter has no region hashes, there
    /// is no plane or the upload's quality is under `options.min_quality` (featureless uploads
    /// have no reliable windows either).
    pub fn flagged_windows(
        &self,
        pdq: &Pdq,
        plane: Option<&LumaPlane>,
        options: &MatchOptions,
    ) -> (Vec<(Region, Pdq)>, u32) {
        let Some(plane) =
            plane.filter(|_| self.has_regions() && pdq.quality >= options.min_quality)
        else {
            return (Vec::new(), 0);
        };
        let windows = Scheme::standard().query_variants(plane);
        let hits = self.check_regions(&windows, options);
        let flagged = hits.windows.iter().filter_map(|&i| windows.get(i).cloned()).collect();
        (flagged, hits.probes)
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

/// The band scheme of region hashes, probing with `flips` flips (the listed keys do not depend
/// on it).
pub(crate) fn region_scheme_for(
    params: &FilterParams,
    flips: u8,
) -> Result<Option<BandScheme>, Error> {
    params
        .pdq
        .map(|p| {
            BandScheme::new(
                BandParams { flips: flips.min(p.flips), ..p },
                params.salt ^ REGION_SALT,
            )
        })
        .transpose()
}

/// The reader of a filter's metadata: a small, strict JSON parser for exactly the fields of
/// [`FilterFileMeta`], instead of `serde_json` and serde's derived deserializers, which cost the
/// browser module about 20 KB gzip (crates/schoon-wasm/README.md, "Size"). Writers still use
/// serde_json; this reader accepts what serde's derive accepts for these structs (fields in any
/// order, unknown fields skipped, `null` or no `pdq` / `bloom_blocks` for none, `fingerprint`
/// 24 when missing) and refuses malformed JSON, duplicate or missing fields and out-of-range
/// integers. `target_fpr` is converted exactly (correctly rounded) for up to 38 significant
/// digits and decimal exponents from -38 to 38 (serde_json writes at most 17 digits); other
/// numbers are refused there (see docs/formats.md).
mod meta_json {
    use super::{AllowCounts, BandParams, FilterFileMeta, FilterMeta, ListMeta, bad};
    use crate::error::Error;
    use crate::set::ListInfo;

    type Res<T> = Result<T, Error>;

    /// A JSON number as written: sign, up to 38 significant digits and a decimal exponent.
    #[derive(Default)]
    struct Number {
        negative: bool,
        digits: u128,
        exponent: i32,
        /// Written as an integer (no fraction, no exponent).
        integer: bool,
        /// Nonzero digits beyond the 38th were dropped.
        inexact: bool,
    }

    struct Reader<'a> {
        text: &'a str,
        s: &'a [u8],
        at: usize,
    }

    impl Reader<'_> {
        fn err(&self, what: &str) -> Error {
            bad(format!("filter metadata: {what} at byte {}", self.at))
        }

        fn peek(&mut self) -> Option<u8> {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.at) {
                self.at += 1;
            }
            self.s.get(self.at).copied()
        }

        fn eat(&mut self, c: u8) -> bool {
            let hit = self.peek() == Some(c);
            self.at += usize::from(hit);
            hit
        }

        fn expect(&mut self, c: u8) -> Res<()> {
            if self.eat(c) { Ok(()) } else { Err(self.err("invalid JSON")) }
        }

        fn next_byte(&mut self) -> Res<u8> {
            let b = self.s.get(self.at).copied().ok_or_else(|| self.err("unexpected end"))?;
            self.at += 1;
            Ok(b)
        }

        /// `"name" :`
        fn key(&mut self) -> Res<String> {
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a field name"));
            }
            let key = self.string()?;
            self.expect(b':')?;
            Ok(key)
        }

        /// An object whose known fields are `keys`: `field(reader, i)` reads the value of
        /// `keys[i]`, other fields are skipped, a repeated known field is refused, and every
        /// field of `required` (a bit per key) must be there. Returns the fields present.
        fn object(
            &mut self,
            keys: &[&str],
            required: u32,
            field: &mut dyn FnMut(&mut Self, usize) -> Res<()>,
        ) -> Res<u32> {
            let mut seen = 0u32;
            self.expect(b'{')?;
            if !self.eat(b'}') {
                loop {
                    let key = self.key()?;
                    match keys.iter().position(|k| *k == key) {
                        Some(i) if seen & 1 << i != 0 => {
                            return Err(self.err(&format!("duplicate field `{key}`")));
                        }
                        Some(i) => {
                            seen |= 1 << i;
                            field(self, i)?;
                        }
                        None => self.skip()?,
                    }
                    if !self.eat(b',') {
                        self.expect(b'}')?;
                        break;
                    }
                }
            }
            if let Some(k) = keys.iter().enumerate().find(|(i, _)| required & !seen & 1 << i != 0) {
                return Err(self.err(&format!("missing field `{}`", k.1)));
            }
            Ok(seen)
        }

        /// `[ value, ... ]`, calling `item` with the reader positioned at each value.
        fn array(&mut self, item: &mut dyn FnMut(&mut Self) -> Res<()>) -> Res<()> {
            self.expect(b'[')?;
            if self.eat(b']') {
                return Ok(());
            }
            loop {
                item(self)?;
                if !self.eat(b',') {
                    return self.expect(b']');
                }
            }
        }

        /// Any value, checked and dropped (unknown fields). Iterative, so nesting costs a byte
        /// of memory per level and no stack (serde_json does not limit it either).
        fn skip(&mut self) -> Res<()> {
            let mut open: Vec<u8> = Vec::new();
            loop {
                match self.peek() {
                    Some(b'{') if !self.eat(b'{') || !self.eat(b'}') => {
                        open.push(b'}');
                        self.key()?;
                        continue;
                    }
                    Some(b'[') if !self.eat(b'[') || !self.eat(b']') => {
                        open.push(b']');
                        continue;
                    }
                    Some(b'{' | b'[') => {}
                    Some(b'"') => drop(self.string()?),
                    Some(b't') => self.word(b"true")?,
                    Some(b'f') => self.word(b"false")?,
                    Some(b'n') => self.word(b"null")?,
                    _ => {
                        self.number()?;
                    }
                }
                // After a value: the next element, or the end of enclosing containers.
                loop {
                    let Some(&close) = open.last() else { return Ok(()) };
                    if self.eat(b',') {
                        if close == b'}' {
                            self.key()?;
                        }
                        break;
                    }
                    self.expect(close)?;
                    open.pop();
                }
            }
        }

        fn word(&mut self, w: &[u8]) -> Res<()> {
            if self.s.get(self.at..self.at + w.len()) == Some(w) {
                self.at += w.len();
                Ok(())
            } else {
                Err(self.err("invalid JSON"))
            }
        }

        /// `null` (consumed) or not.
        fn null(&mut self) -> Res<bool> {
            let null = self.peek() == Some(b'n');
            if null {
                self.word(b"null")?;
            }
            Ok(null)
        }

        fn hex4(&mut self) -> Res<u32> {
            let mut v = 0;
            for _ in 0..4 {
                let d = (self.next_byte()? as char)
                    .to_digit(16)
                    .ok_or_else(|| self.err("invalid \\u escape"))?;
                v = v * 16 + d;
            }
            Ok(v)
        }

        fn string(&mut self) -> Res<String> {
            self.expect(b'"')?;
            let mut out = String::new();
            let mut run = self.at;
            loop {
                let b = self.next_byte()?;
                if b != b'"' && b != b'\\' {
                    if b < 0x20 {
                        return Err(self.err("control character in a string"));
                    }
                    continue;
                }
                // A run starts and ends next to ASCII bytes: at char boundaries of the text.
                out.push_str(self.text.get(run..self.at - 1).unwrap_or_default());
                if b == b'"' {
                    return Ok(out);
                }
                let c = match self.next_byte()? {
                    e @ (b'"' | b'\\' | b'/') => u32::from(e),
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => 10,
                    b'r' => 13,
                    b't' => 9,
                    b'u' => {
                        let c = self.hex4()?;
                        if (0xd800..0xdc00).contains(&c) && self.word(b"\\u").is_ok() {
                            let low = self.hex4()?;
                            0x10000 + ((c - 0xd800) << 10) + low.wrapping_sub(0xdc00)
                        } else {
                            c
                        }
                    }
                    _ => return Err(self.err("invalid escape")),
                };
                // Lone or malformed surrogates are not chars.
                out.push(char::from_u32(c).ok_or_else(|| self.err("lone surrogate"))?);
                run = self.at;
            }
        }

        fn digits(&mut self, n: &mut Number, fraction: bool) -> Res<()> {
            let start = self.at;
            while let Some(&b @ b'0'..=b'9') = self.s.get(self.at) {
                self.at += 1;
                let d = u128::from(b - b'0');
                if n.digits < 10u128.pow(37) {
                    n.digits = n.digits * 10 + d;
                    n.exponent -= i32::from(fraction);
                } else {
                    n.inexact |= d != 0;
                    n.exponent += i32::from(!fraction);
                }
            }
            if self.at == start { Err(self.err("invalid number")) } else { Ok(()) }
        }

        fn number(&mut self) -> Res<Number> {
            let mut n = Number { negative: self.eat(b'-'), integer: true, ..Default::default() };
            if self.s.get(self.at) == Some(&b'0') {
                self.at += 1;
            } else {
                self.digits(&mut n, false)?;
            }
            if self.s.get(self.at) == Some(&b'.') {
                self.at += 1;
                n.integer = false;
                self.digits(&mut n, true)?;
            }
            if let Some(b'e' | b'E') = self.s.get(self.at) {
                self.at += 1;
                n.integer = false;
                let sign = self.s.get(self.at).copied();
                self.at += usize::from(matches!(sign, Some(b'-' | b'+')));
                let mut e = Number::default();
                self.digits(&mut e, false)?;
                let e =
                    if e.exponent != 0 || e.digits > 100_000 { 100_000 } else { e.digits as i32 };
                n.exponent += if sign == Some(b'-') { -e } else { e };
            }
            Ok(n)
        }

        fn unsigned(&mut self, max: u64) -> Res<u64> {
            let n = self.number()?;
            if !n.integer || (n.negative && n.digits != 0) || n.digits > u128::from(max) {
                return Err(self.err("expected an unsigned integer in range"));
            }
            Ok(n.digits as u64)
        }

        fn float(&mut self) -> Res<f64> {
            let n = self.number()?;
            let x = decimal_to_f64(n.digits, n.exponent)
                .filter(|_| !n.inexact)
                .ok_or_else(|| self.err("number out of the supported range"))?;
            Ok(if n.negative { -x } else { x })
        }
    }

    /// `digits x 10^exponent`, correctly rounded, for `digits < 10^38` and results between
    /// 10^-38 and 10^38 (`None` outside).
    pub(super) fn decimal_to_f64(digits: u128, exponent: i32) -> Option<f64> {
        if digits == 0 {
            return Some(0.0);
        }
        let scale = 10u128.checked_pow(exponent.unsigned_abs())?;
        let (num, den) =
            if exponent < 0 { (digits, scale) } else { (digits.checked_mul(scale)?, 1) };
        if num >= 10u128.pow(38) {
            return None;
        }
        // Binary long division to 55 significant bits of num / den, and whether more follow.
        // r < den <= 10^38 < 2^127: doubling it cannot overflow.
        let (mut q, mut r, mut e2, mut sticky) = (0u128, 0u128, 0i32, false);
        for i in (0..128).rev() {
            r = r << 1 | (num >> i & 1);
            q <<= 1;
            if r >= den {
                r -= den;
                q |= 1;
            }
            if q >> 55 != 0 {
                sticky |= q & 1 != 0;
                q >>= 1;
                e2 += 1;
            }
        }
        while q >> 54 == 0 {
            r <<= 1;
            q <<= 1;
            if r >= den {
                r -= den;
                q |= 1;
            }
            e2 -= 1;
        }
        sticky |= r != 0;
        // Round 55 bits to 53, to nearest, ties to even.
        let mut mant = (q >> 2) as u64;
        if q & 2 != 0 && (q & 1 != 0 || sticky || mant & 1 != 0) {
            mant += 1;
        }
        // The value is mant x 2^(e2 + 2), with e2 + 2 well inside the normal range (the value
        // lies between 10^-38 and 10^38): both factors and their product are exact.
        Some(mant as f64 * f64::from_bits(((e2 + 2 + 1023) as u64) << 52))
    }

    const LIST: [&str; 8] =
        ["name", "category", "source", "md5", "sha1", "sha256", "pdq", "regions"];
    const FILTER: [&str; 5] = ["kind", "target_fpr", "salt", "pdq", "bloom_blocks"];
    const BANDS: [&str; 4] = ["bands", "bits", "flips", "fingerprint"];
    const FILE: [&str; 6] = ["lists", "filter", "exact_keys", "pdq_keys", "generator", "allow"];
    const ALLOW: [&str; 4] = ["md5", "sha1", "sha256", "pdq"];

    fn allow_counts(r: &mut Reader<'_>) -> Res<AllowCounts> {
        let mut c = [0u64; 4];
        r.object(&ALLOW, 0b1111, &mut |r, i| {
            c[i] = r.unsigned(u64::MAX)?;
            Ok(())
        })?;
        let [md5, sha1, sha256, pdq] = c;
        Ok(AllowCounts { md5, sha1, sha256, pdq })
    }

    fn list_meta(r: &mut Reader<'_>) -> Res<ListMeta> {
        let mut text: [String; 3] = Default::default();
        let mut counts = [0u64; 5];
        r.object(&LIST, 0x7f, &mut |r, i| {
            match i {
                0..3 => text[i] = r.string()?,
                _ => counts[i - 3] = r.unsigned(u64::MAX)?,
            }
            Ok(())
        })?;
        let [name, category, source] = text;
        let [md5, sha1, sha256, pdq, regions] = counts;
        Ok(ListMeta { info: ListInfo { name, category, source }, md5, sha1, sha256, pdq, regions })
    }

    fn band_params(r: &mut Reader<'_>) -> Res<BandParams> {
        let mut v = [0, 0, 0, 24];
        r.object(&BANDS, 0b111, &mut |r, i| {
            v[i] = r.unsigned(255)? as u8;
            Ok(())
        })?;
        let [bands, bits, flips, fingerprint] = v;
        Ok(BandParams { bands, bits, flips, fingerprint })
    }

    fn filter_meta(r: &mut Reader<'_>) -> Res<FilterMeta> {
        let mut m = FilterMeta {
            kind: String::new(),
            target_fpr: 0.0,
            salt: String::new(),
            pdq: None,
            bloom_blocks: None,
        };
        r.object(&FILTER, 0b111, &mut |r, i| {
            match i {
                0 => m.kind = r.string()?,
                1 => m.target_fpr = r.float()?,
                2 => m.salt = r.string()?,
                3 => m.pdq = if r.null()? { None } else { Some(band_params(r)?) },
                _ if r.null()? => m.bloom_blocks = None,
                _ => {
                    let mut pair = Vec::with_capacity(2);
                    r.array(&mut |r| {
                        pair.push(r.unsigned(u32::MAX.into())? as u32);
                        Ok(())
                    })?;
                    let [a, b] = pair[..] else {
                        return Err(r.err("bloom_blocks must hold 2 numbers"));
                    };
                    m.bloom_blocks = Some((a, b));
                }
            }
            Ok(())
        })?;
        Ok(m)
    }

    /// Parses a filter file's metadata.
    pub(super) fn parse(text: &str) -> Res<FilterFileMeta> {
        let mut r = Reader { text, s: text.as_bytes(), at: 0 };
        let (mut lists, mut filter, mut keys, mut generator) = (Vec::new(), None, [0; 2], None);
        let mut allow = None;
        r.object(&FILE, 0b11111, &mut |r, i| {
            match i {
                0 => r.array(&mut |r| {
                    lists.push(list_meta(r)?);
                    Ok(())
                })?,
                1 => filter = Some(filter_meta(r)?),
                2 | 3 => keys[i - 2] = r.unsigned(u64::MAX)?,
                4 => generator = Some(r.string()?),
                _ => allow = if r.null()? { None } else { Some(allow_counts(r)?) },
            }
            Ok(())
        })?;
        if r.peek().is_some() {
            return Err(r.err("trailing characters"));
        }
        match (filter, generator) {
            (Some(filter), Some(generator)) => Ok(FilterFileMeta {
                lists,
                filter,
                exact_keys: keys[0],
                pdq_keys: keys[1],
                generator,
                allow,
            }),
            _ => Err(r.err("missing field")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::meta_json::{decimal_to_f64, parse};
    use super::*;
    use crate::set::keys::SplitMix;
    use crate::set::{BuildInfo, ListInfo, SetBuilder};

    /// The compact reader and serde_json agree (compared through serde_json's output).
    fn same(text: &str) {
        let ours = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let theirs: FilterFileMeta = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&theirs).unwrap(),
            "{text}"
        );
    }

    fn metadata_of(filter: &[u8]) -> String {
        let len = u32::from_le_bytes(filter[12..16].try_into().unwrap()) as usize;
        String::from_utf8(filter[64..64 + len].to_vec()).unwrap()
    }

    #[test]
    fn reads_what_the_writer_writes() {
        for params in [
            FilterParams { salt: 0x0123_4567_89ab_cdef, ..Default::default() },
            FilterParams { kind: FilterKind::Bloom, fpr: 1e-6, salt: 9, ..Default::default() },
            FilterParams { pdq: None, fpr: 0.003, salt: u64::MAX, ..Default::default() },
        ] {
            let mut b = SetBuilder::new();
            let l = b.add_list(ListInfo::new("a \"list\" \u{e9}\u{1f600}\\", "c\n", "")).unwrap();
            b.add_sha256(l, crate::Sha256([7; 32]));
            b.add_pdq(l, crate::PdqHash([3; 32]), Some(80));
            b.add_list(ListInfo::new("empty", "x", "y")).unwrap();
            if params.kind == FilterKind::Bloom {
                b.allow_sha256(crate::Sha256([8; 32]));
                b.allow_pdq(crate::PdqHash([9; 32]));
            }
            let info = BuildInfo { set_version: 5, created: 6, signing_key: None };
            let (_, filter) = b.build_both(&params, &info).unwrap();
            let text = metadata_of(&filter);
            same(&text);
            let meta = parse(&text).unwrap();
            assert_eq!(meta.filter.params().unwrap(), params);
        }
        let demo = include_bytes!("../../../schoon-cli/assets/default.filter");
        same(&metadata_of(demo));
    }

    #[test]
    fn accepts_what_serde_accepts() {
        let list =
            r#"{"name":"n","category":"c","source":"s","md5":1,"sha1":2,"sha256":3,"pdq":4}"#;
        let filter = r#"{"kind":"fuse","target_fpr":0.0001,"salt":"00ff","pdq":{"bands":8,"bits":37,"flips":3,"fingerprint":16}}"#;
        let base = format!(
            r#"{{"lists":[{list}],"filter":{filter},"exact_keys":1,"pdq_keys":2,"generator":"g"}}"#
        );
        same(&base);
        for text in [
            // Order, whitespace, unknown fields of every type.
            format!(
                " {{ \"generator\" : \"g\" , \"extra\": [1, -2.5e3, {{\"a\": [null, true, false]}}, \"\\u00e9\"],\r\n\t\"pdq_keys\":2,\"exact_keys\":1,\"filter\":{filter},\"lists\":[{list},{list}] }} "
            ),
            base.replace("\"fingerprint\":16", "\"fingerprint\":16,\"x\":{}"),
            base.replace(",\"fingerprint\":16", ""),
            base.replace("{\"bands\":8,\"bits\":37,\"flips\":3,\"fingerprint\":16}", "null"),
            base.replace(",\"pdq\":{\"bands\":8,\"bits\":37,\"flips\":3,\"fingerprint\":16}", ""),
            base.replace("\"salt\"", "\"bloom_blocks\":[4, 0],\"salt\""),
            base.replace("\"salt\"", "\"bloom_blocks\":null,\"salt\""),
            base.replace("\"pdq\":4}", "\"pdq\":4,\"regions\":9}"),
            base.replace(
                "\"generator\"",
                "\"allow\":{\"pdq\":3,\"md5\":1,\"sha1\":0,\"sha256\":2,\"x\":[]},\"generator\"",
            ),
            base.replace("\"generator\"", "\"allow\":null,\"generator\""),
            base.replace("0.0001", "1e-4").replace("\"n\"", "\"\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\""),
            base.replace("0.0001", "1E-04"),
            base.replace("0.0001", "0.30000000000000004"),
            base.replace("0.0001", "-0.0"),
            base.replace("0.0001", "5"),
            base.replace("\"lists\":[{", "\"lists\":[ ] , \"x\":[{")
                .replace("\"lists\":[ ]", "\"lists\":[]"),
        ] {
            same(&text);
        }
        // Deep nesting in a skipped value.
        let deep = format!("{}1{}", "[{\"a\":".repeat(1000), "}]".repeat(1000));
        same(&base.replace("\"generator\"", &format!("\"deep\":{deep},\"generator\"")));
    }

    #[test]
    fn refuses_what_serde_refuses() {
        let base = r#"{"lists":[],"filter":{"kind":"fuse","target_fpr":0.0001,"salt":"00","pdq":{"bands":8,"bits":37,"flips":3}},"exact_keys":1,"pdq_keys":2,"generator":"g"}"#;
        parse(base).unwrap();
        for (from, to) in [
            ("\"generator\":\"g\"", ""),
            ("\"generator\":\"g\"", "\"generator\":\"g\","),
            ("\"exact_keys\":1", "\"exact_keys\":-1"),
            ("\"generator\":\"g\"", "\"allow\":{\"md5\":1},\"generator\":\"g\""),
            ("\"generator\":\"g\"", "\"allow\":[],\"generator\":\"g\""),
            (
                "\"generator\":\"g\"",
                "\"allow\":{\"md5\":1,\"sha1\":0,\"sha256\":2,\"pdq\":-3},\"generator\":\"g\"",
            ),
            ("\"generator\":\"g\"", "\"allow\":null,\"allow\":null,\"generator\":\"g\""),
            ("\"exact_keys\":1", "\"exact_keys\":1.0"),
            ("\"exact_keys\":1", "\"exact_keys\":1e0"),
            ("\"exact_keys\":1", "\"exact_keys\":18446744073709551616"),
            ("\"exact_keys\":1", "\"exact_keys\":01"),
            ("\"exact_keys\":1", "\"exact_keys\":\"1\""),
            ("\"exact_keys\":1", "\"exact_keys\":1,\"exact_keys\":1"),
            ("\"bands\":8", "\"bands\":256"),
            ("\"bands\":8,", ""),
            ("\"target_fpr\":0.0001", "\"target_fpr\":.5"),
            ("\"target_fpr\":0.0001", "\"target_fpr\":1."),
            ("\"target_fpr\":0.0001", "\"target_fpr\":1e"),
            ("\"target_fpr\":0.0001", "\"target_fpr\":-"),
            ("\"target_fpr\":0.0001", "\"target_fpr\":null"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fu\nse\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\ud800\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\udc00x\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\x\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\u12g4\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse"),
            ("\"kind\":\"fuse\"", "\"kind\":fuse"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"x\":tru"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"x\":[1,]"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"bloom_blocks\":[1]"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"bloom_blocks\":[1,2,3]"),
            ("\"kind\":\"fuse\"", "'kind':\"fuse\""),
            ("\"lists\":[]", "\"lists\":[{}]"),
            ("\"lists\":[]", "\"lists\":{}"),
            ("}", "} x"),
            ("}", "}}"),
        ] {
            let text = base.replacen(from, to, 1);
            assert!(parse(&text).is_err(), "accepted {text}");
            assert!(serde_json::from_str::<FilterFileMeta>(&text).is_err(), "serde accepts {text}");
        }
        for text in ["", " ", "[]", "{", "null"] {
            assert!(parse(text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn decimals_convert_exactly() {
        let mut rng = SplitMix(11);
        let check = |text: &str, digits: u128, exponent: i32| {
            let want: f64 = text.parse().unwrap();
            assert_eq!(
                decimal_to_f64(digits, exponent).map(f64::to_bits),
                Some(want.to_bits()),
                "{text}"
            );
        };
        for _ in 0..200_000 {
            let n = 1 + (rng.next_u64() % 38) as i32;
            let mut digits = 0u128;
            let mut text = String::new();
            for _ in 0..n {
                let d = (rng.next_u64() % 10) as u8;
                digits = digits * 10 + u128::from(d);
                text.push(char::from(b'0' + d));
            }
            if digits == 0 {
                continue;
            }
            // digits < 10^n, so the value stays between 10^-38 and 10^37.
            let exponent = -38 + (rng.next_u64() % (76 - n as u64)) as i32;
            check(&format!("{text}e{exponent}"), digits, exponent);
        }
        // Shortest representations (what serde_json writes), and halfway cases.
        for _ in 0..100_000 {
            let x = f64::from_bits(rng.next_u64() >> 2) % 1.0;
            if !(1e-21..1.0).contains(&x) {
                continue;
            }
            let text = format!("{x:e}");
            let (m, e) = text.split_once('e').unwrap();
            let frac = m.split_once('.').map_or("", |p| p.1);
            let digits: u128 = m.replace('.', "").parse().unwrap();
            let exponent = e.parse::<i32>().unwrap() - frac.len() as i32;
            check(&text, digits, exponent);
            assert_eq!(decimal_to_f64(digits, exponent), Some(x));
        }
        check("9007199254740993", 9_007_199_254_740_993, 0);
        check("9007199254740995e-20", 9_007_199_254_740_995, -20);
        check("1e-38", 1, -38);
        check("99999999999999999999999999999999999999", 10u128.pow(38) - 1, 0);
        assert_eq!(decimal_to_f64(1, 38), None);
        assert_eq!(decimal_to_f64(1, -39), None);
        assert_eq!(decimal_to_f64(0, -400), Some(0.0));
    }
}
