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
//!
//! Over 600 lines: one type, the filter, with its loading checks, deltas, and the probes of exact
//! keys, PDQ bands and region windows; they share the salted key rules and the part layout, so
//! they stay together.

use super::allow::{AllowCounts, AllowDigests, TAG_ALLOW_KEYS};
use super::bands::{BandParams, BandScheme};
use super::container::{self, Artifact, Header, Trust};
use super::keys::{DOMAIN_MD5, DOMAIN_SHA1, DOMAIN_SHA256, key};
use super::meta::{FilterFileMeta, FilterKind, FilterParams, ListMeta, bad};
use super::meta_json;
use super::types::{HashKind, MatchOptions, Query};
use crate::error::{BadInput, Error};
use crate::pdq::Pdq;
use crate::regions::{LumaPlane, Region, Scheme};
use crate::{ExactHashes, ImageHashes};
use schoon_filter::{FilterBuf, FilterRef, Kind, Membership};

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
