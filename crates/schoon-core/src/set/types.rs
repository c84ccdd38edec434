//! The shared vocabulary of sets: hash kinds, list descriptions, queries, matches and
//! verdicts (used by the index, the filter, the allow-list and the builder alike).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::{ExactHashes, Md5, Sha1, Sha256};
use crate::error::Error;
use crate::hashing::ImageHashes;
use crate::pdq::{Coefficients, Pdq, PdqHash};

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
