//! The authoritative answer for a hashed file: the index, then the region windows.

use super::allow::Allowed;
use super::index::Index;
use super::types::{HashKind, Match, MatchOptions, Query};
use crate::digest::ExactHashes;
use crate::hashing::ImageHashes;
use crate::pdq::PdqHash;
use crate::regions::Scheme;

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
    let windows = scan_windows(image, options);
    if !windows.is_empty() {
        let (found, suppressed) = index.region_matches(&windows, true, options);
        matches.extend(found);
        allowed.pdq += suppressed.pdq;
    }
    (matches, allowed)
}

/// The region windows a scan matches when plain PDQ finds nothing, as groups of 8 dihedral
/// hashes: those of the upload's query windows ([`Scheme::query_variants`]) of quality at least
/// `options.min_quality`, and none for an upload under that quality (featureless uploads have
/// no reliable windows either; this also spares the ~16 ms of windows for tiny and flat
/// images) or hashed without its luma plane. The rule of [`lookup_hashed_allowed`], and what a
/// sharded index's scan sends to its shards ([`crate::set::ShardAnswer`]).
pub fn scan_windows(image: Option<&ImageHashes>, options: &MatchOptions) -> Vec<PdqHash> {
    let Some(image) = image.filter(|i| i.pdq.quality >= options.min_quality) else {
        return Vec::new();
    };
    let Some(plane) = &image.plane else { return Vec::new() };
    Scheme::standard()
        .query_variants(plane)
        .iter()
        .filter(|(_, p)| p.quality >= options.min_quality)
        .flat_map(|(_, p)| p.dihedral)
        .collect()
}
