//! The allow-list: hashes of images confirmed innocent (disputed entries, stock pictures that
//! collided with a listed hash), and the one suppression rule every lookup applies.
//!
//! The rule (the index, the filter, and through them the CLI, the browser and the worker):
//!
//! * **Exact.** A query whose MD5, SHA-1 or SHA-256 equals an allow-listed hash has no matches
//!   at all (no exact, PDQ or region match) and is no filter candidate.
//! * **PDQ and regions, index.** A match at Hamming distance `d` between a query variant (one of
//!   the 8 dihedral hashes, or one region window) and a listed hash is suppressed when the same
//!   variant lies within distance `d` of an allow-listed PDQ hash: the upload is at least as
//!   close to a known innocent image as to the listed one. A listed hash that is itself
//!   allow-listed is covered (its allowed distance equals its listed distance). A listed entry
//!   still matches through any variant whose match is not suppressed, at that variant's
//!   distance. When every whole-image PDQ match was suppressed, the region windows are not
//!   tried: the upload was recognised as the innocent image, which is an answer, not a miss.
//! * **PDQ and regions, filter.** The filter cannot know `d` (it holds no hash values), and a
//!   filter miss must stay final: a client that calls an upload clean sends nothing, so the
//!   index must never match it. The filter therefore drops a query variant (or a region
//!   window) only when it is *equal* to an allow-listed PDQ hash: its allowed distance is 0, so
//!   the index suppresses every match that variant could make, whatever `d`. Every other
//!   variant is probed as before, so whatever the index would still match, the filter still
//!   flags.
//!
//! The index stores the allow-listed hashes themselves (it is private). The public filter stores
//! only salted 128-bit digests of them (section `ALOW`): equality can be tested, distances
//! cannot, and nothing near a listed hash is published.

use serde::{Deserialize, Serialize};

use super::types::{HashKind, Query};
use crate::digest::{Md5, Sha1, Sha256};
use crate::error::{BadInput, Error, LimitKind};
use crate::limits::exceeded;
use crate::pdq::PdqHash;

/// The most allow-listed hashes (all kinds together) a set may hold. Building a larger
/// allow-list, or loading a set that claims one, is a [`LimitKind::AllowEntries`] error. At the
/// limit the filter's `ALOW` section is 1 MiB and an index lookup that found a PDQ match scans
/// the allow-listed PDQ hashes once per query variant.
pub const MAX_ALLOW_ENTRIES: usize = 65_536;

pub(crate) const TAG_ALLOW_MD5: [u8; 4] = *b"AMD5";
pub(crate) const TAG_ALLOW_SHA1: [u8; 4] = *b"ASH1";
pub(crate) const TAG_ALLOW_SHA256: [u8; 4] = *b"A256";
pub(crate) const TAG_ALLOW_PDQ: [u8; 4] = *b"APDQ";
/// The filter's allow-list: sorted salted digests of [`DIGEST_LEN`] bytes.
pub(crate) const TAG_ALLOW_KEYS: [u8; 4] = *b"ALOW";
/// Bytes of a filter allow-list digest.
pub(crate) const DIGEST_LEN: usize = 16;
const DIGEST_CONTEXT: &[u8; 16] = b"schoon allow v1\0";

/// How many hashes of each kind an allow-list holds (set metadata field `allow`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowCounts {
    /// Allow-listed MD5 digests.
    pub md5: u64,
    /// Allow-listed SHA-1 digests.
    pub sha1: u64,
    /// Allow-listed SHA-256 digests.
    pub sha256: u64,
    /// Allow-listed PDQ hashes.
    pub pdq: u64,
}

impl AllowCounts {
    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.md5.saturating_add(self.sha1).saturating_add(self.sha256).saturating_add(self.pdq)
    }

    /// Whether the allow-list is empty.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    fn check_limit(&self) -> Result<(), Error> {
        if self.total() > MAX_ALLOW_ENTRIES as u64 {
            return Err(exceeded(LimitKind::AllowEntries, self.total(), MAX_ALLOW_ENTRIES as u64));
        }
        Ok(())
    }
}

/// What the allow-list took out of an answer (for adapters that want to report it, e.g. as an
/// `allowed` flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Allowed {
    /// The query's hash of this exact kind is allow-listed: the query has no matches at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<HashKind>,
    /// Listed PDQ entries (whole-image or region) that were within the threshold and whose
    /// every match was suppressed because the upload lies at least as near an allow-listed
    /// PDQ hash.
    pub pdq: u32,
}

impl Allowed {
    /// Whether the allow-list changed the answer.
    pub fn any(&self) -> bool {
        self.exact.is_some() || self.pdq > 0
    }
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}

/// The allow-listed hashes themselves, sorted and de-duplicated: what a builder collects and
/// what the index holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowHashes {
    pub md5: Vec<[u8; 16]>,
    pub sha1: Vec<[u8; 20]>,
    pub sha256: Vec<[u8; 32]>,
    pub pdq: Vec<PdqHash>,
}

impl AllowHashes {
    pub(crate) fn counts(&self) -> AllowCounts {
        AllowCounts {
            md5: self.md5.len() as u64,
            sha1: self.sha1.len() as u64,
            sha256: self.sha256.len() as u64,
            pdq: self.pdq.len() as u64,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.counts().is_empty()
    }

    /// Sorts, de-duplicates and checks the size limit (before writing).
    pub(crate) fn normalize(&mut self) -> Result<(), Error> {
        self.md5.sort_unstable();
        self.md5.dedup();
        self.sha1.sort_unstable();
        self.sha1.dedup();
        self.sha256.sort_unstable();
        self.sha256.dedup();
        self.pdq.sort_unstable();
        self.pdq.dedup();
        self.counts().check_limit()
    }

    /// The index sections (only those with entries).
    pub(crate) fn sections(&self) -> Vec<([u8; 4], Vec<u8>)> {
        fn flat<const N: usize>(v: &[[u8; N]]) -> Vec<u8> {
            v.iter().flat_map(|d| d.iter().copied()).collect()
        }
        let pdq: Vec<[u8; 32]> = self.pdq.iter().map(|h| h.0).collect();
        [
            (TAG_ALLOW_MD5, flat(&self.md5)),
            (TAG_ALLOW_SHA1, flat(&self.sha1)),
            (TAG_ALLOW_SHA256, flat(&self.sha256)),
            (TAG_ALLOW_PDQ, flat(&pdq)),
        ]
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .collect()
    }

    /// Reads the index sections (`section(tag)` gives a section's bytes), checking record
    /// sizes, order, the size limit and the metadata's counts (`None`: the set has none).
    pub(crate) fn from_sections<'a>(
        section: impl Fn(&[u8; 4]) -> Option<&'a [u8]>,
        declared: Option<AllowCounts>,
    ) -> Result<AllowHashes, Error> {
        fn records<const N: usize>(
            kind: &str,
            bytes: Option<&[u8]>,
            limit: &mut u64,
        ) -> Result<Vec<[u8; N]>, Error> {
            let bytes = bytes.unwrap_or_default();
            if !bytes.len().is_multiple_of(N) {
                return Err(bad(format!(
                    "allow-list {kind} section of {} bytes is not a whole number of {N}-byte records",
                    bytes.len()
                )));
            }
            let n = (bytes.len() / N) as u64;
            if n > *limit {
                return Err(exceeded(LimitKind::AllowEntries, n, MAX_ALLOW_ENTRIES as u64));
            }
            *limit -= n;
            let out: Vec<[u8; N]> = bytes
                .chunks_exact(N)
                .map(|c| {
                    let mut r = [0u8; N];
                    r.copy_from_slice(c);
                    r
                })
                .collect();
            if out.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad(format!("allow-list {kind} section is not sorted")));
            }
            Ok(out)
        }
        let mut limit = MAX_ALLOW_ENTRIES as u64;
        let hashes = AllowHashes {
            md5: records("md5", section(&TAG_ALLOW_MD5), &mut limit)?,
            sha1: records("sha1", section(&TAG_ALLOW_SHA1), &mut limit)?,
            sha256: records("sha256", section(&TAG_ALLOW_SHA256), &mut limit)?,
            pdq: records::<32>("pdq", section(&TAG_ALLOW_PDQ), &mut limit)?
                .into_iter()
                .map(PdqHash)
                .collect(),
        };
        check_declared(hashes.counts(), declared)?;
        Ok(hashes)
    }

    /// The salted digests of the filter's `ALOW` section, sorted.
    pub(crate) fn filter_section(&self, salt: u64) -> Vec<u8> {
        let mut digests: Vec<[u8; DIGEST_LEN]> = Vec::with_capacity(self.counts().total() as usize);
        digests.extend(self.md5.iter().map(|d| digest(salt, HashKind::Md5, d)));
        digests.extend(self.sha1.iter().map(|d| digest(salt, HashKind::Sha1, d)));
        digests.extend(self.sha256.iter().map(|d| digest(salt, HashKind::Sha256, d)));
        digests.extend(self.pdq.iter().map(|h| digest(salt, HashKind::Pdq, &h.0)));
        digests.sort_unstable();
        digests.dedup();
        digests.concat()
    }

    fn contains(&self, kind: HashKind, value: &[u8]) -> bool {
        match kind {
            HashKind::Md5 => self.md5.binary_search_by(|d| d[..].cmp(value)).is_ok(),
            HashKind::Sha1 => self.sha1.binary_search_by(|d| d[..].cmp(value)).is_ok(),
            HashKind::Sha256 => self.sha256.binary_search_by(|d| d[..].cmp(value)).is_ok(),
            HashKind::Pdq => self.pdq.binary_search_by(|h| h.0[..].cmp(value)).is_ok(),
        }
    }

    /// The exact rule: the first exact kind of `query` that is allow-listed.
    pub(crate) fn exact(&self, query: &Query) -> Option<HashKind> {
        exact_rule(query, |kind, value| self.contains(kind, value))
    }

    /// The index's PDQ rule for a batch of query variants (or windows): the largest distance at
    /// which each may still match a listed hash, `None` where it may match nothing. A match at
    /// distance `d` survives only below the variant's distance to the nearest allow-listed
    /// PDQ hash (`d < d_A`), and within `threshold`.
    pub(crate) fn pdq_limits(&self, queries: &[PdqHash], threshold: u32) -> Vec<Option<u32>> {
        queries
            .iter()
            .map(|q| {
                let q = q.words();
                let nearest = self
                    .pdq
                    .iter()
                    .map(|a| {
                        let a = a.words();
                        (a[0] ^ q[0]).count_ones()
                            + (a[1] ^ q[1]).count_ones()
                            + (a[2] ^ q[2]).count_ones()
                            + (a[3] ^ q[3]).count_ones()
                    })
                    .min();
                match nearest {
                    None => Some(threshold),
                    Some(0) => None,
                    Some(d) => Some(threshold.min(d - 1)),
                }
            })
            .collect()
    }
}

fn check_declared(found: AllowCounts, declared: Option<AllowCounts>) -> Result<(), Error> {
    if found != declared.unwrap_or_default() {
        return Err(bad(format!(
            "allow-list sections hold {} entries, the metadata declares {}",
            found.total(),
            declared.unwrap_or_default().total()
        )));
    }
    Ok(())
}

/// The exact rule over any membership test.
fn exact_rule(query: &Query, allowed: impl Fn(HashKind, &[u8]) -> bool) -> Option<HashKind> {
    let exact: [(HashKind, Option<&[u8]>); 3] = [
        (HashKind::Md5, query.md5.as_ref().map(|d: &Md5| &d.0[..])),
        (HashKind::Sha1, query.sha1.as_ref().map(|d: &Sha1| &d.0[..])),
        (HashKind::Sha256, query.sha256.as_ref().map(|d: &Sha256| &d.0[..])),
    ];
    exact.into_iter().find_map(|(kind, v)| v.filter(|v| allowed(kind, v)).map(|_| kind))
}

/// The filter's digest of an allow-listed value: the first 16 bytes of
/// SHA-256(`"schoon allow v1\0"` ‖ salt (u64 LE) ‖ kind (1 md5, 2 sha1, 3 sha256, 4 pdq) ‖ value).
fn digest(salt: u64, kind: HashKind, value: &[u8]) -> [u8; DIGEST_LEN] {
    let tag = match kind {
        HashKind::Md5 => 1u8,
        HashKind::Sha1 => 2,
        HashKind::Sha256 => 3,
        HashKind::Pdq => 4,
    };
    let mut message = Vec::with_capacity(DIGEST_CONTEXT.len() + 9 + value.len());
    message.extend_from_slice(DIGEST_CONTEXT);
    message.extend_from_slice(&salt.to_le_bytes());
    message.push(tag);
    message.extend_from_slice(value);
    let full = crate::digest::sha256(&message).0;
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

/// The filter's allow-list: salted digests, sorted; only equality can be tested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowDigests {
    salt: u64,
    digests: Vec<[u8; DIGEST_LEN]>,
    counts: AllowCounts,
}

impl AllowDigests {
    /// Reads a filter's (or delta's) `ALOW` section, checking it against the metadata's counts.
    pub(crate) fn from_section(
        section: Option<&[u8]>,
        declared: Option<AllowCounts>,
        salt: u64,
    ) -> Result<AllowDigests, Error> {
        let counts = declared.unwrap_or_default();
        counts.check_limit()?;
        let bytes = section.unwrap_or_default();
        if bytes.len() as u64 != counts.total().saturating_mul(DIGEST_LEN as u64) {
            return Err(bad(format!(
                "allow-list section of {} bytes does not hold the {} entries the metadata declares",
                bytes.len(),
                counts.total()
            )));
        }
        let digests: Vec<[u8; DIGEST_LEN]> = bytes
            .chunks_exact(DIGEST_LEN)
            .map(|c| {
                let mut r = [0u8; DIGEST_LEN];
                r.copy_from_slice(c);
                r
            })
            .collect();
        if digests.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("allow-list section is not sorted"));
        }
        Ok(AllowDigests { salt, digests, counts })
    }

    pub(crate) fn counts(&self) -> AllowCounts {
        self.counts
    }

    fn contains(&self, kind: HashKind, value: &[u8]) -> bool {
        let held = match kind {
            HashKind::Md5 => self.counts.md5,
            HashKind::Sha1 => self.counts.sha1,
            HashKind::Sha256 => self.counts.sha256,
            HashKind::Pdq => self.counts.pdq,
        };
        held > 0 && self.digests.binary_search(&digest(self.salt, kind, value)).is_ok()
    }

    /// The exact rule.
    pub(crate) fn exact(&self, query: &Query) -> Option<HashKind> {
        if self.digests.is_empty() {
            return None;
        }
        exact_rule(query, |kind, value| self.contains(kind, value))
    }

    /// The filter's PDQ rule: whether this variant (or window) equals an allow-listed PDQ hash,
    /// so that the index suppresses every match it could make.
    pub(crate) fn pdq_equal(&self, hash: &PdqHash) -> bool {
        self.contains(HashKind::Pdq, &hash.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_checks_sizes_counts_and_the_limit() {
        let over = AllowCounts { pdq: MAX_ALLOW_ENTRIES as u64 + 1, ..Default::default() };
        let e = AllowDigests::from_section(None, Some(over), 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("allow-list entry count {} exceeds the limit of 65536", MAX_ALLOW_ENTRIES + 1)
        );
        let huge = AllowCounts { md5: u64::MAX, sha1: u64::MAX, ..Default::default() };
        assert!(AllowDigests::from_section(None, Some(huge), 0).is_err());
        let one = AllowCounts { md5: 1, ..Default::default() };
        assert!(AllowDigests::from_section(Some(&[0; 15]), Some(one), 0).is_err());
        assert!(AllowDigests::from_section(Some(&[0; 16]), None, 0).is_err());
        assert!(AllowDigests::from_section(Some(&[0; 16]), Some(one), 0).is_ok());

        let section =
            |bytes: &'static [u8]| move |t: &[u8; 4]| (t == &TAG_ALLOW_MD5).then_some(bytes);
        let e = AllowHashes::from_sections(section(&[1; 17]), Some(one)).unwrap_err();
        assert!(e.to_string().contains("not a whole number of 16-byte records"), "{e}");
        assert!(AllowHashes::from_sections(section(&[1; 16]), Some(one)).is_ok());
        assert!(AllowHashes::from_sections(section(&[1; 16]), None).is_err());
        assert!(AllowHashes::from_sections(section(&[1; 32]), Some(one)).is_err());
    }

    #[test]
    fn digests_depend_on_salt_kind_and_value() {
        let d = digest(1, HashKind::Sha256, &[7; 32]);
        assert_ne!(d, digest(2, HashKind::Sha256, &[7; 32]));
        assert_ne!(d, digest(1, HashKind::Pdq, &[7; 32]));
        assert_ne!(d, digest(1, HashKind::Sha256, &[8; 32]));
        assert_eq!(d, digest(1, HashKind::Sha256, &[7; 32]));
    }

    #[test]
    fn pdq_limits_lower_the_threshold_below_the_allowed_distance() {
        let a = PdqHash([0; 32]);
        let hashes = AllowHashes { pdq: vec![a], ..Default::default() };
        let mut q = a;
        assert_eq!(hashes.pdq_limits(&[q], 31), vec![None]);
        (0..5).for_each(|b| q.flip_bit(b));
        assert_eq!(hashes.pdq_limits(&[q], 31), vec![Some(4)]);
        (5..40).for_each(|b| q.flip_bit(b));
        assert_eq!(hashes.pdq_limits(&[q], 31), vec![Some(31)]);
        assert_eq!(AllowHashes::default().pdq_limits(&[q], 31), vec![Some(31)]);
    }
}
