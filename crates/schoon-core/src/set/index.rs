//! The index: the private, authoritative form of a set.
//!
//! Sections (see `container` for the framing):
//! * `MD5 `, `SHA1`, `S256`: records of `digest, list id (u16 LE)`, sorted, for binary search
//!   straight from the file bytes;
//! * `PDQ `: records of `hash (32), list id (u16 LE), quality (u8), region (u8)`, sorted by hash;
//! * optionally the allow-list (see `allow`): `AMD5`, `ASH1`, `A256`, `APDQ`, the allow-listed
//!   values themselves, sorted.
//!
//! PDQ matching is a Hamming-distance search over the query's 8 dihedral variants. Small sets
//! are scanned linearly; from [`MIH_MIN_ENTRIES`] entries on, a multi-index hash (16 tables,
//! one per 16-bit word of the hash; by the pigeonhole principle a hash within distance `t` has
//! a word within `t / 16` of the query's) narrows the candidates. Both give identical answers.
//!
//! Over 600 lines: one type, the index, with its loading checks, the multi-index tables and the
//! lookups (exact, PDQ, regions, windows, allow-list), each a short method over the same records;
//! splitting them would spread one file format over several files.

use std::collections::HashMap;

use super::allow::{AllowCounts, AllowHashes, Allowed};
use super::container::{self, Artifact, Header, Trust};
use super::meta::{FilterMeta, IndexMeta, ListMeta};
use super::types::{HashKind, Match, MatchOptions, Query};
use crate::error::{BadInput, Error, LimitKind};
use crate::limits::exceeded;
use crate::pdq::{Pdq, PdqHash};
use crate::regions::{Region, Scheme};

pub(crate) const TAG_MD5: [u8; 4] = *b"MD5 ";
pub(crate) const TAG_SHA1: [u8; 4] = *b"SHA1";
pub(crate) const TAG_SHA256: [u8; 4] = *b"S256";
pub(crate) const TAG_PDQ: [u8; 4] = *b"PDQ ";
pub(crate) const PDQ_RECORD: usize = 36;

/// From this many PDQ entries on, the index builds multi-index tables at load (about 64 bytes
/// per entry plus 4 MiB); below it a linear scan is as fast. Measured: `cargo bench --bench sets`.
pub const MIH_MIN_ENTRIES: usize = 1_000;

/// Bytes an index file of `file_bytes` with `pdq` PDQ records holds once loaded by
/// [`Index::from_bytes`]: the file, and the multi-index tables when it gets them (16 tables of
/// 65 537 offsets, and 16 ids per PDQ record).
pub(crate) fn loaded_bytes(file_bytes: usize, pdq: usize) -> usize {
    let tables = if pdq >= MIH_MIN_ENTRIES { 16 * 65_537 * 4 + 16 * 4 * pdq } else { 0 };
    file_bytes + tables
}

/// The names of the dihedral variants, in hash order.
pub const VARIANT_NAMES: [&str; 8] =
    ["original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"];

/// Multi-index tables over the 16 words of the PDQ hashes.
#[derive(Debug, Clone)]
struct Mih {
    /// For word `w`, entry ids whose word `w` equals `v` are
    /// `ids[w][offsets[w][v]..offsets[w][v + 1]]`.
    offsets: Vec<Vec<u32>>,
    ids: Vec<Vec<u32>>,
}

fn word16(h: &[u64; 4], w: usize) -> u16 {
    (h[w / 4] >> (16 * (3 - w % 4))) as u16
}

impl Mih {
    fn build(words: &[[u64; 4]]) -> Mih {
        let mut offsets = Vec::with_capacity(16);
        let mut ids = Vec::with_capacity(16);
        for w in 0..16 {
            let mut counts = vec![0u32; 65_537];
            for h in words {
                counts[usize::from(word16(h, w)) + 1] += 1;
            }
            for v in 1..counts.len() {
                counts[v] += counts[v - 1];
            }
            let mut fill = counts.clone();
            let mut table = vec![0u32; words.len()];
            for (id, h) in words.iter().enumerate() {
                let slot = &mut fill[usize::from(word16(h, w))];
                table[*slot as usize] = id as u32;
                *slot += 1;
            }
            offsets.push(counts);
            ids.push(table);
        }
        Mih { offsets, ids }
    }

    /// Calls `f` for every entry whose some word is within `radius` (0..=2) of the query's.
    fn candidates(&self, q: &[u64; 4], radius: u32, f: &mut impl FnMut(u32)) {
        for w in 0..16 {
            let v = word16(q, w);
            let mut probe = |x: u16| {
                let lo = self.offsets[w][usize::from(x)] as usize;
                let hi = self.offsets[w][usize::from(x) + 1] as usize;
                for &id in &self.ids[w][lo..hi] {
                    f(id);
                }
            };
            probe(v);
            if radius >= 1 {
                for a in 0..16 {
                    probe(v ^ (1 << a));
                    if radius >= 2 {
                        for b in a + 1..16 {
                            probe(v ^ (1 << a) ^ (1 << b));
                        }
                    }
                }
            }
        }
    }
}

/// A loaded, verified index.
#[derive(Debug, Clone)]
pub struct Index {
    bytes: Vec<u8>,
    header: Header,
    meta: IndexMeta,
    exact: [(HashKind, std::ops::Range<usize>); 3],
    /// The PDQ records, read in place from `bytes`.
    pdq: std::ops::Range<usize>,
    /// How many of them are region hashes (region id > 0).
    region_entries: usize,
    mih: Option<Mih>,
    /// The allow-listed hashes (empty for sets without an allow-list).
    allow: AllowHashes,
}

/// One PDQ record of the index file.
struct PdqRecord<'a>(&'a [u8]);

impl PdqRecord<'_> {
    #[inline]
    fn words(&self) -> [u64; 4] {
        let w = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
            u64::from_be_bytes(b)
        };
        [w(0), w(1), w(2), w(3)]
    }
    fn hash(&self) -> PdqHash {
        let mut h = [0u8; 32];
        h.copy_from_slice(&self.0[..32]);
        PdqHash(h)
    }
    fn list(&self) -> u16 {
        u16::from_le_bytes([self.0[32], self.0[33]])
    }
    fn quality(&self) -> u8 {
        self.0[34]
    }
    fn region(&self) -> u8 {
        self.0[35]
    }
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}

fn range_of(bytes: &[u8], section: &[u8]) -> std::ops::Range<usize> {
    let start = section.as_ptr() as usize - bytes.as_ptr() as usize;
    start..start + section.len()
}

impl Index {
    /// Verifies and loads an index (see [`Trust`] for the signature rules). Indexes of at least
    /// [`MIH_MIN_ENTRIES`] PDQ entries get multi-index tables.
    pub fn from_bytes(bytes: Vec<u8>, trust: &Trust) -> Result<Index, Error> {
        let mut index = Self::from_bytes_linear(bytes, trust)?;
        if index.count(HashKind::Pdq) >= MIH_MIN_ENTRIES {
            index.set_multi_index(true);
        }
        Ok(index)
    }

    /// Verifies and loads an index like [`Index::from_bytes`], without multi-index tables
    /// whatever its size: memory stays the file's bytes (36 per PDQ entry) and PDQ lookups scan
    /// linearly. For hosts where memory is scarcer than time (a worker isolate), which would
    /// otherwise hold the tables (and a copy of the hashes while building them) at their peak.
    pub fn from_bytes_linear(bytes: Vec<u8>, trust: &Trust) -> Result<Index, Error> {
        let (header, meta, exact, pdq_section, allow) = {
            let parsed = container::parse(&bytes, trust, &[Artifact::Index])?;
            let meta = IndexMeta::from_json(parsed.metadata)?;
            if meta.lists.len() > usize::from(u16::MAX) {
                return Err(exceeded(LimitKind::Entries, meta.lists.len() as u64, u16::MAX.into()));
            }
            let mut exact =
                [(HashKind::Md5, 0..0), (HashKind::Sha1, 0..0), (HashKind::Sha256, 0..0)];
            for (slot, tag) in exact.iter_mut().zip([TAG_MD5, TAG_SHA1, TAG_SHA256]) {
                if let Some(s) = parsed.section(&tag) {
                    let rec = slot.0.len() + 2;
                    if s.len() % rec != 0 {
                        return Err(bad(format!(
                            "{} section of {} bytes is not a whole number of {rec}-byte records",
                            slot.0.name(),
                            s.len()
                        )));
                    }
                    slot.1 = range_of(&bytes, s);
                }
            }
            let pdq = parsed.section(&TAG_PDQ).map(|s| range_of(&bytes, s)).unwrap_or(0..0);
            let allow = AllowHashes::from_sections(|tag| parsed.section(tag), meta.allow)?;
            (parsed.header, meta, exact, pdq, allow)
        };
        let pdq = &bytes[pdq_section.clone()];
        if !pdq.len().is_multiple_of(PDQ_RECORD) {
            return Err(bad(format!(
                "pdq section of {} bytes is not a whole number of records",
                pdq.len()
            )));
        }
        let lists = meta.lists.len();
        let mut region_entries = 0;
        for rec in pdq.chunks_exact(PDQ_RECORD) {
            let list = PdqRecord(rec).list();
            if usize::from(list) >= lists {
                return Err(bad(format!("pdq entry names list {list}, the index has {lists}")));
            }
            region_entries += usize::from(PdqRecord(rec).region() != 0);
        }
        for (kind, r) in &exact {
            for rec in bytes[r.clone()].chunks_exact(kind.len() + 2) {
                let list = u16::from_le_bytes([rec[kind.len()], rec[kind.len() + 1]]);
                if usize::from(list) >= lists {
                    return Err(bad(format!(
                        "{} entry names list {list}, the index has {lists}",
                        kind.name()
                    )));
                }
            }
        }
        Ok(Index { bytes, header, meta, exact, pdq: pdq_section, region_entries, mih: None, allow })
    }

    /// The header (version, creation time, signature status).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// For a shard of a sharded index (see [`crate::set::ShardManifest`]): which one.
    pub(crate) fn shard_of(&self) -> Option<super::meta::ShardOf> {
        self.meta.shard
    }

    /// For a shard of a sharded index: `(number, count)`; `None` for a whole index.
    pub fn shard_position(&self) -> Option<(u32, u32)> {
        self.meta.shard.map(|s| (s.number, s.count))
    }

    /// The SHA-256 checksum in the file's trailer (verified at load; what a shard manifest
    /// records of each shard).
    pub fn file_checksum(&self) -> [u8; 32] {
        super::container::checksum_of(&self.bytes).unwrap_or_default()
    }

    /// The lists and their entry counts.
    pub fn lists(&self) -> &[ListMeta] {
        &self.meta.lists
    }

    /// The serialized file.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of records of a kind (for PDQ: whole-image and region records, see
    /// [`Index::region_count`]).
    pub fn count(&self, kind: HashKind) -> usize {
        match kind {
            HashKind::Pdq => self.pdq.len() / PDQ_RECORD,
            k => self
                .exact
                .iter()
                .find(|(x, _)| *x == k)
                .map(|(_, r)| r.len() / (k.len() + 2))
                .unwrap_or(0),
        }
    }

    /// Region hash records among [`Index::count`]`(HashKind::Pdq)` (which counts every PDQ
    /// record, whole-image and region).
    pub fn region_count(&self) -> usize {
        self.region_entries
    }

    /// How many hashes of each kind the set's allow-list holds (all zero without one).
    pub fn allow_counts(&self) -> AllowCounts {
        self.allow.counts()
    }

    /// The allow-list's exact rule alone: the first of the query's MD5, SHA-1 and SHA-256 that
    /// is allow-listed (such a query has no matches at all).
    pub fn allowed_exact(&self, query: &Query) -> Option<HashKind> {
        self.allow.exact(query)
    }

    pub(crate) fn allow_hashes(&self) -> &AllowHashes {
        &self.allow
    }

    /// Whether multi-index tables are in use for PDQ.
    pub fn uses_mih(&self) -> bool {
        self.mih.is_some()
    }

    /// Builds (or drops) the multi-index tables regardless of the set size: drop them where
    /// memory is scarcer than time (a worker isolate), force them for benchmarks.
    pub fn set_multi_index(&mut self, enabled: bool) {
        self.mih = enabled.then(|| {
            let words: Vec<[u64; 4]> = self.pdq_records().map(|r| r.words()).collect();
            Mih::build(&words)
        });
    }

    /// Bytes of memory the loaded index holds (file bytes, PDQ table, multi-index tables).
    pub fn memory_bytes(&self) -> usize {
        let mih = self.mih.as_ref().map_or(0, |m| {
            m.offsets.iter().map(|o| o.len() * 4).sum::<usize>()
                + m.ids.iter().map(|i| i.len() * 4).sum::<usize>()
        });
        self.bytes.len() + mih
    }

    /// Bytes this index holds once loaded by [`Index::from_bytes`]: the file, and the
    /// multi-index tables when it gets them (16 tables of 65 537 offsets, and 16 ids per PDQ
    /// record). What a shard host needs, known before building the tables.
    pub fn loaded_bytes(&self) -> usize {
        loaded_bytes(self.bytes.len(), self.count(HashKind::Pdq))
    }

    fn pdq_records(&self) -> impl Iterator<Item = PdqRecord<'_>> + '_ {
        self.bytes[self.pdq.clone()].chunks_exact(PDQ_RECORD).map(PdqRecord)
    }

    fn pdq_record(&self, id: usize) -> Option<PdqRecord<'_>> {
        let start = self.pdq.start + id * PDQ_RECORD;
        self.bytes
            .get(start..start + PDQ_RECORD)
            .filter(|_| start + PDQ_RECORD <= self.pdq.end)
            .map(PdqRecord)
    }

    pub(crate) fn filter_meta(&self) -> Option<&FilterMeta> {
        self.meta.filter.as_ref()
    }

    /// Every entry, for rebuilding and diffing: `(kind, value bytes, list id, quality, region)`.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (HashKind, Vec<u8>, u16, u8, u8)> + '_ {
        let exact = self.exact.iter().flat_map(move |(kind, r)| {
            self.bytes[r.clone()].chunks_exact(kind.len() + 2).map(move |rec| {
                let l = kind.len();
                (*kind, rec[..l].to_vec(), u16::from_le_bytes([rec[l], rec[l + 1]]), 0, 0)
            })
        });
        let pdq = self
            .pdq_records()
            .map(|r| (HashKind::Pdq, r.0[..32].to_vec(), r.list(), r.quality(), r.region()));
        exact.chain(pdq)
    }

    fn exact_lists(&self, kind: HashKind, digest: &[u8]) -> Vec<u16> {
        let Some((_, r)) = self.exact.iter().find(|(k, _)| *k == kind) else { return Vec::new() };
        let rec = kind.len() + 2;
        let data = &self.bytes[r.clone()];
        let n = data.len() / rec;
        let at = |i: usize| &data[i * rec..i * rec + kind.len()];
        // Lower bound.
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if at(mid) < digest {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut out = Vec::new();
        while lo < n && at(lo) == digest {
            let r = &data[lo * rec + kind.len()..(lo + 1) * rec];
            out.push(u16::from_le_bytes([r[0], r[1]]));
            lo += 1;
        }
        out
    }

    /// PDQ entries near any of `queries`: whole-image entries, or with `regions` the region
    /// entries. Query `i` counts within `limits[i]` (`None`: not at all). Returns entry id ->
    /// (best distance, index of the query).
    fn pdq_near(
        &self,
        queries: &[PdqHash],
        limits: &[Option<u32>],
        regions: bool,
    ) -> HashMap<u32, (u32, usize)> {
        let mut best: HashMap<u32, (u32, usize)> = HashMap::new();
        let qs: Vec<([u64; 4], u32)> =
            queries.iter().zip(limits).filter_map(|(q, l)| l.map(|l| (q.words(), l))).collect();
        // Query positions, for the variant names.
        let at: Vec<usize> =
            limits.iter().enumerate().filter(|(_, l)| l.is_some()).map(|(i, _)| i).collect();
        let consider = |id: u32,
                        e: &[u64; 4],
                        v: usize,
                        (q, limit): &([u64; 4], u32),
                        best: &mut HashMap<u32, (u32, usize)>| {
            let d = (e[0] ^ q[0]).count_ones()
                + (e[1] ^ q[1]).count_ones()
                + (e[2] ^ q[2]).count_ones()
                + (e[3] ^ q[3]).count_ones();
            if d <= *limit {
                let slot = best.entry(id).or_insert((d, v));
                if d < slot.0 {
                    *slot = (d, v);
                }
            }
        };
        let radius = qs.iter().map(|(_, l)| l / 16).max().unwrap_or(0);
        match &self.mih {
            Some(mih) if radius <= 2 => {
                for (q, &v) in qs.iter().zip(&at) {
                    mih.candidates(&q.0, q.1 / 16, &mut |id| {
                        if let Some(r) = self.pdq_record(id as usize)
                            && (r.region() != 0) == regions
                        {
                            consider(id, &r.words(), v, q, &mut best);
                        }
                    });
                }
            }
            _ => {
                for (id, r) in self.pdq_records().enumerate() {
                    if (r.region() != 0) != regions {
                        continue;
                    }
                    let e = r.words();
                    for (q, &v) in qs.iter().zip(&at) {
                        consider(id as u32, &e, v, q, &mut best);
                    }
                }
            }
        }
        best
    }

    /// [`Index::pdq_near`] at `threshold`, then the allow-list's PDQ rule: when anything was
    /// found and allow-listed PDQ hashes exist, the search is repeated with each query's
    /// limit lowered below its distance to the nearest of them. Returns the kept entries and
    /// how many entries were found before and not after (suppressed).
    fn pdq_near_allowed(
        &self,
        queries: &[PdqHash],
        threshold: u32,
        regions: bool,
    ) -> (HashMap<u32, (u32, usize)>, u32) {
        let near = self.pdq_near(queries, &vec![Some(threshold); queries.len()], regions);
        if near.is_empty() || self.allow.pdq.is_empty() {
            return (near, 0);
        }
        let kept = self.pdq_near(queries, &self.allow.pdq_limits(queries, threshold), regions);
        let suppressed = near.keys().filter(|id| !kept.contains_key(id)).count() as u32;
        (kept, suppressed)
    }

    /// Whether the index holds region hashes (see [`crate::regions`]).
    pub fn has_regions(&self) -> bool {
        self.region_entries > 0
    }

    /// Region matches: listed region hashes within `options.threshold` of any dihedral hash of
    /// any query window (windows of quality under `options.min_quality` are skipped). Callers
    /// ask only when [`Index::lookup`] found no PDQ match; [`crate::set::lookup_hashed`] does.
    pub fn lookup_regions(&self, windows: &[(Region, Pdq)], options: &MatchOptions) -> Vec<Match> {
        self.lookup_regions_allowed(windows, options).0
    }

    /// [`Index::lookup_regions`], and what the allow-list suppressed (a region match at
    /// distance `d` is suppressed where the same window variant lies within `d` of an
    /// allow-listed PDQ hash).
    pub fn lookup_regions_allowed(
        &self,
        windows: &[(Region, Pdq)],
        options: &MatchOptions,
    ) -> (Vec<Match>, Allowed) {
        let queries: Vec<PdqHash> = windows
            .iter()
            .filter(|(_, p)| p.quality >= options.min_quality)
            .flat_map(|(_, p)| p.dihedral)
            .collect();
        self.region_matches(&queries, true, options)
    }

    /// Region matches for window hashes known only as hashes (a client's confirmation
    /// request: the windows its filter flagged); each hash is matched as given, no variants.
    pub fn lookup_region_hashes(&self, queries: &[PdqHash], options: &MatchOptions) -> Vec<Match> {
        self.region_matches(queries, false, options).0
    }

    /// A confirmation request's answer: [`Index::lookup`] of the hashes, then, only when no PDQ
    /// entry matched, the region windows a client's filter flagged
    /// ([`Index::lookup_region_hashes`]): the rule of the worker's `/v1/confirm`.
    pub fn lookup_with_windows(
        &self,
        query: &Query,
        windows: &[PdqHash],
        options: &MatchOptions,
    ) -> Vec<Match> {
        self.lookup_with_windows_allowed(query, windows, options).0
    }

    /// [`Index::lookup_with_windows`], and what the allow-list took out of the answer. The
    /// windows are not tried when the query's exact hash is allow-listed or when every
    /// whole-image PDQ match was suppressed (see [`crate::set`]'s allow-list rule).
    pub fn lookup_with_windows_allowed(
        &self,
        query: &Query,
        windows: &[PdqHash],
        options: &MatchOptions,
    ) -> (Vec<Match>, Allowed) {
        let (mut matches, mut allowed) = self.lookup_allowed(query, options);
        if !windows.is_empty() && !allowed.any() && !matches.iter().any(|m| m.kind == HashKind::Pdq)
        {
            let (found, suppressed) = self.region_matches(windows, false, options);
            matches.extend(found);
            allowed.pdq += suppressed.pdq;
        }
        (matches, allowed)
    }

    /// `queries` are groups of 8 dihedral variants when `dihedral`.
    pub(crate) fn region_matches(
        &self,
        queries: &[PdqHash],
        dihedral: bool,
        options: &MatchOptions,
    ) -> (Vec<Match>, Allowed) {
        let scheme = Scheme::standard();
        let mut out: Vec<Match> = Vec::new();
        // Per match: (distance, region id, listed hash), the order that picks the best entry,
        // so ties go the same way whatever order the search (linear or multi-index) found them.
        let mut best: Vec<(u32, u8, [u8; 32])> = Vec::new();
        let (near, suppressed) = self.pdq_near_allowed(queries, options.threshold, true);
        for (id, (d, v)) in near {
            let Some(r) = self.pdq_record(id as usize) else { continue };
            let Some(meta) = self.meta.lists.get(usize::from(r.list())) else { continue };
            let rank = (d, r.region(), r.hash().0);
            let found = Match {
                list: meta.info.name.clone(),
                category: meta.info.category.clone(),
                kind: HashKind::Pdq,
                distance: d,
                value: r.hash().to_hex(),
                variant: dihedral.then(|| VARIANT_NAMES[v & 7]),
                region: scheme.region_name(r.region()),
            };
            match out.iter().position(|m| m.list == meta.info.name) {
                Some(i) => {
                    if let (Some(b), Some(m)) = (best.get_mut(i), out.get_mut(i))
                        && rank < *b
                    {
                        *b = rank;
                        *m = found;
                    }
                }
                None => {
                    out.push(found);
                    best.push(rank);
                }
            }
        }
        out.sort_by(|a, b| a.distance.cmp(&b.distance).then_with(|| a.list.cmp(&b.list)));
        (out, Allowed { exact: None, pdq: suppressed })
    }

    /// The authoritative answer for a query: every list entry it matches, best distance first.
    ///
    /// Exact hashes match by equality. PDQ matches when the Hamming distance of any of the
    /// query's dihedral variants to a listed hash is at most `options.threshold`, and only when
    /// the query's quality is at least `options.min_quality` (hashes of featureless images are
    /// unreliable).
    ///
    /// The set's allow-list applies (see [`crate::set`]): a query whose exact hash is
    /// allow-listed has no matches, and a PDQ match at distance `d` is suppressed where the
    /// same variant lies within `d` of an allow-listed PDQ hash.
    pub fn lookup(&self, query: &Query, options: &MatchOptions) -> Vec<Match> {
        self.lookup_allowed(query, options).0
    }

    /// [`Index::lookup`], and what the allow-list took out of the answer.
    pub fn lookup_allowed(&self, query: &Query, options: &MatchOptions) -> (Vec<Match>, Allowed) {
        if let Some(kind) = self.allow.exact(query) {
            return (Vec::new(), Allowed { exact: Some(kind), pdq: 0 });
        }
        let mut suppressed = 0;
        let mut out: Vec<Match> = Vec::new();
        let mut push = |list: u16,
                        kind: HashKind,
                        distance: u32,
                        value: String,
                        variant: Option<&'static str>| {
            let Some(meta) = self.meta.lists.get(usize::from(list)) else { return };
            if let Some(m) = out.iter_mut().find(|m| m.list == meta.info.name && m.kind == kind) {
                // Ties go to the smaller listed value, whatever order the search found them
                // in (the rule a sharded index's merge applies too).
                if (distance, &value) < (m.distance, &m.value) {
                    m.distance = distance;
                    m.value = value;
                    m.variant = variant;
                }
                return;
            }
            out.push(Match {
                list: meta.info.name.clone(),
                category: meta.info.category.clone(),
                kind,
                distance,
                value,
                variant,
                region: None,
            });
        };
        let exact: [(HashKind, Option<Vec<u8>>); 3] = [
            (HashKind::Md5, query.md5.map(|d| d.0.to_vec())),
            (HashKind::Sha1, query.sha1.map(|d| d.0.to_vec())),
            (HashKind::Sha256, query.sha256.map(|d| d.0.to_vec())),
        ];
        for (kind, digest) in exact {
            if let Some(d) = digest {
                for list in self.exact_lists(kind, &d) {
                    push(list, kind, 0, crate::hex::encode(&d), None);
                }
            }
        }
        if let Some(pdq) = &query.pdq
            && pdq.quality.is_none_or(|q| q >= options.min_quality)
        {
            let variants = pdq.variants();
            let (near, s) = self.pdq_near_allowed(variants, options.threshold, false);
            suppressed = s;
            for (id, (d, v)) in near {
                let Some(r) = self.pdq_record(id as usize) else { continue };
                let variant = (variants.len() > 1).then(|| VARIANT_NAMES[v & 7]);
                push(r.list(), HashKind::Pdq, d, r.hash().to_hex(), variant);
            }
        }
        out.sort_by(|a, b| a.distance.cmp(&b.distance).then_with(|| a.list.cmp(&b.list)));
        (out, Allowed { exact: None, pdq: suppressed })
    }
}
