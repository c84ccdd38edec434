//! Building sets: [`SetBuilder`] collects list entries and allow-listed hashes and writes the
//! index, the filter and filter deltas.

use super::allow::{self, AllowCounts};
use super::container::{self, Artifact};
use super::filter;
use super::index::{self, Index};
use super::lists::ParsedList;
use super::meta::{
    self, FilterFileMeta, FilterKind, FilterMeta, FilterParams, IndexMeta, ListMeta, ShardOf,
};
use super::shard::{self, MAX_SHARDS, ManifestMeta, ShardEntry, exact_shard, pdq_shard};
use super::sign::SigningKey;
use super::tiers::{self, TierReport};
use super::types::{HashKind, ListInfo};
use crate::digest::{ExactHashes, Md5, Sha1, Sha256};
use crate::error::{Error, LimitKind};
use crate::hashing::ImageHashes;
use crate::limits::exceeded;
use crate::pdq::{Pdq, PdqHash};

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
    /// Set on the head filter of a budgeted build: what it leaves out.
    partial: Option<String>,
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
    /// [`LimitKind::AllowEntries`] error when more than [`MAX_ALLOW_ENTRIES`](super::MAX_ALLOW_ENTRIES) remain after it.
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
        self.build_index_with(info, filter.map(FilterMeta::from_params), None)
    }

    /// Writes a sharded index (see [`crate::set::ShardManifest`]): `count` shard files, each
    /// handed to `sink` with its number as soon as it is written, so that one shard's bytes at a
    /// time are in memory beside the records; returns the manifest that binds them. Consumes
    /// the builder: its records move into the shards without a copy.
    pub fn build_shards(
        mut self,
        info: &BuildInfo<'_>,
        count: u32,
        mut sink: impl FnMut(u32, Vec<u8>) -> Result<(), Error>,
    ) -> Result<Vec<u8>, Error> {
        if count == 0 || count > MAX_SHARDS {
            return Err(Error::caller(format!(
                "{count} shards: a sharded index has 1 to {MAX_SHARDS}"
            )));
        }
        self.allow.normalize()?;
        let empty = SetBuilder {
            lists: self.lists.clone(),
            allow: self.allow.clone(),
            ..SetBuilder::default()
        };
        let mut parts = vec![empty; count as usize];
        type Records<const N: usize> = Vec<([u8; N], u16)>;
        fn spread<const N: usize>(
            records: Records<N>,
            parts: &mut [SetBuilder],
            count: u32,
            field: fn(&mut SetBuilder) -> &mut Records<N>,
        ) {
            for r in records {
                if let Some(p) = parts.get_mut(exact_shard(&r.0, count) as usize) {
                    field(p).push(r);
                }
            }
        }
        spread(std::mem::take(&mut self.md5), &mut parts, count, |b| &mut b.md5);
        spread(std::mem::take(&mut self.sha1), &mut parts, count, |b| &mut b.sha1);
        spread(std::mem::take(&mut self.sha256), &mut parts, count, |b| &mut b.sha256);
        for e in std::mem::take(&mut self.pdq) {
            if let Some(p) = parts.get_mut(pdq_shard(&e.hash, count) as usize) {
                p.pdq.push(e);
            }
        }
        let mut lists = self.list_meta();
        let mut table = Vec::with_capacity(parts.len() * 56);
        for (number, mut part) in (0u32..).zip(parts) {
            let of = ShardOf { number, count };
            let bytes = part.build_index_with(info, None, Some(of))?;
            for (total, m) in lists.iter_mut().zip(part.list_meta()) {
                total.md5 += m.md5;
                total.sha1 += m.sha1;
                total.sha256 += m.sha256;
                total.pdq += m.pdq;
                total.regions += m.regions;
            }
            let entry = ShardEntry {
                checksum: container::checksum_of(&bytes).unwrap_or_default(),
                bytes: bytes.len() as u64,
                pdq: part.pdq.len() as u64,
                exact: (part.md5.len() + part.sha1.len() + part.sha256.len()) as u64,
            };
            table.extend_from_slice(&entry.to_record());
            drop(part);
            sink(number, bytes)?;
        }
        let allow_counts = self.allow.counts();
        let meta = ManifestMeta {
            lists,
            shards: count,
            partition: shard::PARTITION.into(),
            generator: generator(),
            allow: (!allow_counts.is_empty()).then_some(allow_counts),
        };
        let header = container::WriteHeader {
            artifact: Artifact::ShardManifest,
            set_version: info.set_version,
            base_version: 0,
            created: info.created,
            signing_key: info.signing_key,
        };
        Ok(container::write(&header, &meta::to_json(&meta)?, &[(shard::TAG_SHARDS, &table)]))
    }

    /// Writes a filter within `budget` bytes and the exact buckets beside it (see
    /// [`crate::set::ExactBuckets`]): the head filter holds the whole-image PDQ hashes of the hot
    /// tier (in `hot`'s order, most prevalent first; hashes `hot` does not name follow in no
    /// particular order), as many as fit; every exact hash goes into the signed buckets. Returns
    /// the head filter, the bucket file and what they cover.
    pub fn build_budgeted(
        &mut self,
        params: &FilterParams,
        info: &BuildInfo<'_>,
        budget: u64,
        hot: Option<&[PdqHash]>,
    ) -> Result<(Vec<u8>, Vec<u8>, TierReport), Error> {
        self.normalize();
        self.allow.normalize()?;
        // The exact buckets.
        let mut kinds = Vec::new();
        let mut sections: Vec<([u8; 4], Vec<u8>)> = Vec::new();
        let exact: [(HashKind, Vec<&[u8]>); 3] = [
            (HashKind::Md5, self.md5.iter().map(|(d, _)| &d[..]).collect()),
            (HashKind::Sha1, self.sha1.iter().map(|(d, _)| &d[..]).collect()),
            (HashKind::Sha256, self.sha256.iter().map(|(d, _)| &d[..]).collect()),
        ];
        let mut largest = 0u64;
        for (kind, digests) in exact {
            if digests.is_empty() {
                continue;
            }
            let mut it = digests.into_iter();
            let Some((k, data, sigs)) = tiers::kind_sections(
                kind,
                &mut it,
                params.salt,
                info.set_version,
                info.signing_key,
            ) else {
                continue;
            };
            largest = largest.max(tiers::largest_bucket(&data, k.prefix_bits) + 64);
            if let Some((tag, sig_tag)) = tiers::section_tags(kind) {
                sections.push((tag, data));
                sections.push((sig_tag, sigs));
            }
            kinds.push(k);
        }
        let meta = tiers::BucketsMeta {
            salt: format!("{:016x}", params.salt),
            kinds: kinds.clone(),
            generator: generator(),
        };
        let header = container::WriteHeader {
            artifact: Artifact::ExactBuckets,
            set_version: info.set_version,
            base_version: 0,
            created: info.created,
            signing_key: info.signing_key,
        };
        let refs: Vec<([u8; 4], &[u8])> = sections.iter().map(|(t, d)| (*t, &d[..])).collect();
        let buckets = container::write(&header, &meta::to_json(&meta)?, &refs);

        // The hot tier: whole-image PDQ hashes in `hot`'s order, then the rest.
        let mut whole: Vec<PdqEntry> = self.pdq.iter().filter(|e| e.region == 0).copied().collect();
        if let Some(hot) = hot {
            let rank: std::collections::HashMap<PdqHash, usize> =
                hot.iter().enumerate().rev().map(|(i, h)| (*h, i)).collect();
            whole.sort_by_key(|e| rank.get(&e.hash).copied().unwrap_or(usize::MAX));
        }
        let head_of = |n: usize| -> Result<Vec<u8>, Error> {
            let mut head = SetBuilder {
                lists: self.lists.clone(),
                allow: self.allow.clone(),
                pdq: whole.iter().take(n).copied().collect(),
                partial: Some(format!(
                    "hot tier: {n} of {} whole-image pdq hashes; exact hashes in the exact \
                     buckets; other pdq and region hashes at the edge",
                    whole.len()
                )),
                ..SetBuilder::default()
            };
            head.build_filter(params, info)
        };
        let empty = head_of(0)?.len() as u64;
        if empty > budget {
            return Err(Error::caller(format!(
                "filter budget of {budget} bytes is below the {empty} bytes of an empty filter"
            )));
        }
        let sample = whole.len().min(50_000);
        let per = if sample == 0 {
            1.0
        } else {
            (head_of(sample)?.len() as u64).saturating_sub(empty).max(1) as f64 / sample as f64
        };
        let mut n = (((budget - empty) as f64 / per) * 0.97) as usize;
        n = n.min(whole.len());
        let mut head = head_of(n)?;
        let mut tries = 0;
        while head.len() as u64 > budget && n > 0 && tries < 40 {
            n = n * 95 / 100;
            head = head_of(n)?;
            tries += 1;
        }
        if head.len() as u64 > budget {
            return Err(Error::caller(format!(
                "no filter of {budget} bytes could be built (smallest tried: {} bytes)",
                head.len()
            )));
        }
        let (m, h) = (whole.len() as u64, n as u64);
        let report = TierReport {
            budget_bytes: budget,
            head_bytes: head.len() as u64,
            pdq_listed: m,
            pdq_hot: h,
            pdq_share_zipf: if m == 0 { 1.0 } else { tiers::harmonic(h) / tiers::harmonic(m) },
            pdq_share_uniform: if m == 0 { 1.0 } else { h as f64 / m as f64 },
            regions_at_edge: self.pdq.iter().filter(|e| e.region != 0).count() as u64,
            exact: kinds,
            largest_bucket_bytes: largest,
            buckets_bytes: buckets.len() as u64,
        };
        Ok((head, buckets, report))
    }

    fn build_index_with(
        &mut self,
        info: &BuildInfo<'_>,
        filter: Option<FilterMeta>,
        shard: Option<ShardOf>,
    ) -> Result<Vec<u8>, Error> {
        self.normalize();
        self.allow.normalize()?;
        let allow_counts = self.allow.counts();
        let meta = IndexMeta {
            lists: self.list_meta(),
            filter,
            generator: generator(),
            allow: (!allow_counts.is_empty()).then_some(allow_counts),
            shard,
        };
        let meta = meta::to_json(&meta)?;
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
        let meta = FilterFileMeta {
            lists: self.list_meta(),
            filter: filter_meta.clone(),
            exact_keys: exact.len() as u64,
            pdq_keys: pdq.as_ref().map_or(0, |k| k.len() as u64),
            generator: generator(),
            allow: (!self.allow.is_empty()).then(|| self.allow.counts()),
            partial: self.partial.clone(),
        };
        let meta = meta::to_json(&meta)?;
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
        let index = self.build_index_with(info, Some(meta), None)?;
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
