//! Loading the set a command checks against: an index, a filter, or the embedded default.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use schoon_core::set::{
    Filter, FilterHits, HashKind, Index, Match, MatchOptions, Query, Trust, Verdict, check_hashed,
    lookup_hashed,
};
use schoon_core::wire::{self, ListedValue};
use schoon_core::{ExactHashes, ImageHashes, PublicKey};
use serde_json::{Value, json};

/// The embedded demo set: built by `cargo xtask examples` from `examples/listed/`.
const DEFAULT_INDEX: &[u8] = include_bytes!("../assets/default.index");
const DEFAULT_PUBLIC_KEY: &str = include_str!("../assets/default.pub");

/// Which set to check against (shared by `scan` and `check`).
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The authoritative index (private): gives verdicts `match` or `clean`.
    #[arg(long, value_name = "INDEX", conflicts_with = "filter")]
    pub index: Option<PathBuf>,
    /// The public filter: gives verdicts `candidate` or `clean`.
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<PathBuf>,
    /// The public key the set must be signed with (a `.pub` file from `schoon keygen`).
    #[arg(long = "public-key", value_name = "KEY.pub")]
    pub public_key: Option<PathBuf>,
    /// Accept an unsigned set (never for production lists).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Largest PDQ Hamming distance that counts as a match.
    #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u32).range(0..=256))]
    pub threshold: u32,
    /// Smallest image quality (0..100) for PDQ matching.
    #[arg(long, default_value_t = 50)]
    pub min_quality: u8,
}

/// A loaded set.
pub enum Set {
    Index(Box<Index>),
    Filter(Box<Filter>),
}

impl SetArgs {
    pub fn options(&self) -> MatchOptions {
        MatchOptions { threshold: self.threshold, min_quality: self.min_quality }
    }

    /// The trust a set is loaded with: `--public-key`, or `--allow-unsigned`.
    pub fn trust(&self) -> Result<Trust> {
        match &self.public_key {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                let key = PublicKey::from_text(&text)
                    .with_context(|| format!("public key {}", p.display()))?;
                Ok(Trust { public_key: Some(key), allow_unsigned: self.allow_unsigned })
            }
            None if self.allow_unsigned => Ok(Trust::unsigned()),
            None => bail!(
                "pass --public-key KEY.pub to verify the set's signature (or --allow-unsigned)"
            ),
        }
    }

    /// Loads the chosen set (the embedded demo set when neither --index nor --filter is given).
    pub fn load(&self) -> Result<Set> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        if let Some(p) = &self.index {
            let index = Index::from_bytes(read(p)?, &self.trust()?)
                .with_context(|| format!("index {}", p.display()))?;
            return Ok(Set::Index(Box::new(index)));
        }
        if let Some(p) = &self.filter {
            let bytes = read(p)?;
            let filter = Filter::from_bytes(&bytes, &self.trust()?)
                .with_context(|| format!("filter {}", p.display()))?;
            // A budgeted head filter leaves exact hashes to its buckets: alone it would call
            // listed files clean.
            if let Some(partial) = schoon_core::set::partial_filter(&bytes, &self.trust()?)? {
                anyhow::bail!(
                    "filter {} is the head filter of a budgeted build ({partial}): scan with the \
                     index or a whole filter",
                    p.display()
                );
            }
            return Ok(Set::Filter(Box::new(filter)));
        }
        let key = PublicKey::from_text(DEFAULT_PUBLIC_KEY).context("embedded public key")?;
        let index = Index::from_bytes(DEFAULT_INDEX.to_vec(), &Trust::key(key))
            .context("embedded default set")?;
        Ok(Set::Index(Box::new(index)))
    }
}

/// A verdict with its matches as JSON.
pub struct Outcome {
    pub verdict: Verdict,
    pub matches: Vec<Value>,
}

/// A match as the CLI prints it: the core's wire form, with the listed value (the CLI holds
/// the index itself).
fn match_json(m: &Match) -> Value {
    wire::match_json(m, ListedValue::Shown, None)
}

impl Set {
    /// Whether hashing should keep the luma plane for region matching.
    pub fn wants_regions(&self) -> bool {
        match self {
            Set::Index(index) => index.has_regions(),
            Set::Filter(filter) => filter.has_regions(),
        }
    }

    /// Checks a hashed file: for an index as `schoon scan` decides (plain PDQ, then region
    /// windows when the index has region hashes), for a filter by its probes.
    pub fn check_hashed(
        &self,
        exact: &ExactHashes,
        image: Option<&ImageHashes>,
        options: &MatchOptions,
    ) -> Outcome {
        match self {
            Set::Index(index) => {
                let matches = lookup_hashed(index, exact, image, options);
                Outcome {
                    verdict: Verdict::of_matches(&matches),
                    matches: matches.iter().map(match_json).collect(),
                }
            }
            Set::Filter(filter) => {
                let (hits, windows) = check_hashed(filter, exact, image, options);
                filter_outcome(filter, &hits.kinds, !windows.is_empty())
            }
        }
    }

    /// Checks one query.
    pub fn check(&self, query: &Query, options: &MatchOptions) -> Outcome {
        match self {
            Set::Index(index) => {
                let matches = index.lookup(query, options);
                Outcome {
                    verdict: Verdict::of_matches(&matches),
                    matches: matches.iter().map(match_json).collect(),
                }
            }
            Set::Filter(filter) => {
                let FilterHits { kinds, .. } = filter.check(query, options);
                filter_outcome(filter, &kinds, false)
            }
        }
    }
}

/// A filter's answer: one candidate per kind that hit (a region window hit counts as PDQ).
fn filter_outcome(filter: &Filter, kinds: &[HashKind], windows: bool) -> Outcome {
    // A filter cannot tell which list a hit comes from unless it has only one.
    let (list, category) = match filter.lists() {
        [only] => (json!(only.info.name), json!(only.info.category)),
        _ => (Value::Null, Value::Null),
    };
    let mut kinds = kinds.to_vec();
    if windows && !kinds.contains(&HashKind::Pdq) {
        kinds.push(HashKind::Pdq);
    }
    let matches: Vec<Value> = kinds
        .iter()
        .map(|k| json!({ "list": list, "category": category, "kind": k.name(), "distance": Value::Null }))
        .collect();
    let verdict = if matches.is_empty() { Verdict::Clean } else { Verdict::Candidate };
    Outcome { verdict, matches }
}

/// The process exit status for a run: 1 if anything matched or was a candidate, else 2 if
/// anything failed, else 0 (clamscan's convention; a finding outranks an error).
pub fn exit_code(found: bool, errors: bool) -> u8 {
    if found {
        1
    } else if errors {
        2
    } else {
        0
    }
}
