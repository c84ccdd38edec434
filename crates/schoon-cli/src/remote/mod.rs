//! `schoon scan --remote`: hash locally, check every file against the worker's public filter
//! locally, and send only the filter's candidates to the worker's `POST /v1/check`, in batches.
//!
//! Innocent files (filter misses) never leave the machine, not even as hashes. The filter is
//! downloaded once (`GET /v1/filter`, a 302 to `/v1/filter/{version}`), verified with the
//! list owner's public key and cached with its version and ETag; a later run revalidates it
//! with `If-None-Match` and refuses a version older than the one cached.
//!
//! Here: the options, the `/v1/check` line of a candidate and the run; `client` speaks HTTP
//! (retries), `cache` fetches and caches the filter, `journal` is `--checkpoint`, `pipeline`
//! orders the results and batches the candidates.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use schoon_core::set::{Filter, HashKind, MatchOptions, Trust, check_hashed};
use schoon_core::{ExactHashes, HashOptions, ImageHashes, wire};
use serde_json::{Map, Value, json};

use crate::cmd::hash::hash_input;
use crate::files::{self, Input};

mod cache;
mod client;
mod journal;
mod pipeline;

use cache::{Cache, FilterSource, default_cache_dir, fetch_filter};
use client::{CHECK_MAX_LINES, Client};
use journal::{Journal, journal_header};
use pipeline::{Pipeline, Prepared};

/// The `--remote` options of `schoon scan`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Remote scan (--remote)")]
pub struct RemoteArgs {
    /// Base URL of a schoon worker (https://…; plain http only for 127.0.0.1, ::1 or
    /// localhost). Files are hashed and checked against the worker's public filter here; only
    /// the filter's candidates are sent to its `/v1/check`, so innocent hashes never leave the
    /// machine. Needs --public-key (the list owner's key the filter must be signed with).
    #[arg(long, value_name = "URL", conflicts_with_all = ["index", "filter"])]
    pub remote: Option<String>,
    /// A server-scope tenant key for `/v1/check`. Better taken from the environment variable
    /// SCHOON_API_KEY than from the command line (where other users can see it).
    #[arg(long = "api-key", value_name = "KEY", env = "SCHOON_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Where the downloaded filter is cached with its version and ETag (default: schoon in the
    /// user's cache directory, $XDG_CACHE_HOME/schoon or ~/.cache/schoon).
    #[arg(long = "cache-dir", value_name = "DIR", requires = "remote")]
    pub cache_dir: Option<PathBuf>,
    /// Candidates per `/v1/check` request (1..=1000, the worker's CHECK_MAX_LINES; requests are
    /// also kept under its 1 MiB CHECK_MAX_BYTES).
    #[arg(long, value_name = "N", default_value_t = 250,
          value_parser = clap::value_parser!(u32).range(1..=CHECK_MAX_LINES as i64))]
    pub batch: u32,
    /// Journal finished results to FILE (append-only, in input order). Re-running with the same
    /// FILE prints the journaled results without hashing or sending them again and continues
    /// with the rest. A journal of another input list, remote or options is refused.
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub checkpoint: Option<PathBuf>,
    /// Retries of a request after 429, 5xx or a connection failure (exponential backoff with
    /// jitter, at least the worker's Retry-After); then the batch's files get error verdicts.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,
    /// The first retry's backoff in milliseconds (doubled per retry, at most 120 s).
    #[arg(long = "backoff-ms", value_name = "MS", default_value_t = 500)]
    pub backoff_ms: u64,
    /// Timeout of one request in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout: u64,
    /// Print a summary to stderr at the end: files, candidates sent, requests, retries and the
    /// filter version (one JSON object).
    #[arg(long, requires = "remote")]
    pub stats: bool,
}

/// What a remote scan needs besides the remote options.
pub struct ScanSetup<'a> {
    pub trust: Trust,
    pub match_options: MatchOptions,
    pub hash_options: HashOptions,
    pub no_regions: bool,
    pub jobs: usize,
    pub paths: &'a [PathBuf],
    /// Print the human summary at the end (never together with `--stats`).
    pub summary: bool,
}

/// The `/v1/check` line of a filter candidate: only the hashes of the kinds the filter flagged:
/// each flagged exact digest, and for a PDQ candidate (whole image, or region windows after a
/// whole-image miss) `pdq`, `quality`, `pdq_dihedral` and the hashes of *all* its region
/// windows, so that the worker decides a candidate as a local `scan --index` would (the filter
/// flags a window only when it shares a band with a listed region; the index also finds
/// windows within the distance that share none). `None` when nothing was flagged.
pub fn candidate_line(
    filter: &Filter,
    exact: &ExactHashes,
    image: Option<&ImageHashes>,
    options: &MatchOptions,
) -> Option<Map<String, Value>> {
    let (hits, windows) = check_hashed(filter, exact, image, options);
    if !hits.is_candidate() && windows.is_empty() {
        return None;
    }
    let mut line = Map::new();
    let mut pdq = !windows.is_empty();
    for kind in &hits.kinds {
        match kind {
            HashKind::Md5 => line.insert("md5".into(), json!(exact.md5.to_hex())),
            HashKind::Sha1 => line.insert("sha1".into(), json!(exact.sha1.to_hex())),
            HashKind::Sha256 => line.insert("sha256".into(), json!(exact.sha256.to_hex())),
            HashKind::Pdq => {
                pdq = true;
                None
            }
        };
    }
    if let (true, Some(image)) = (pdq, image) {
        line.extend(wire::fields_json(wire::pdq_fields(&image.pdq, true)));
        let all = wire::window_hashes(image);
        if !all.is_empty() {
            line.insert("windows".into(), json!(all));
        }
    }
    Some(line)
}

fn prepare(
    input: &Input,
    filter: &Filter,
    hash_options: &HashOptions,
    options: &MatchOptions,
) -> Prepared {
    let h = hash_input(input, hash_options);
    let path = h.path.to_string_lossy().into_owned();
    let mut o = Map::new();
    o.insert("path".into(), json!(path));
    let Some(exact) = h.exact else {
        o.insert("verdict".into(), json!("error"));
        o.insert("matches".into(), json!([]));
        o.insert("error".into(), json!(h.image.as_ref().err()));
        return Prepared::Done(o);
    };
    match candidate_line(filter, &exact, h.image.as_ref().ok(), options) {
        Some(line) => Prepared::Candidate { path, line, image_error: h.image.err() },
        None => {
            // As a local scan: a file whose image could not be decoded is an error, not clean.
            match &h.image {
                Ok(_) => o.insert("verdict".into(), json!("clean")),
                Err(_) => o.insert("verdict".into(), json!("error")),
            };
            o.insert("matches".into(), json!([]));
            if let Err(e) = &h.image {
                o.insert("error".into(), json!(e));
            }
            Prepared::Done(o)
        }
    }
}

/// Runs `schoon scan --remote`.
pub fn run(args: &RemoteArgs, url: &str, setup: ScanSetup<'_>) -> Result<u8> {
    let Some(key) = args.api_key.clone().filter(|k| !k.is_empty()) else {
        bail!("--remote needs an api key: pass --api-key KEY or set SCHOON_API_KEY");
    };
    let mut client = Client::new(
        url,
        key,
        args.retries,
        Duration::from_millis(args.backoff_ms),
        Duration::from_secs(args.timeout),
    )?;
    let root = match &args.cache_dir {
        Some(d) => d.clone(),
        None => default_cache_dir()?,
    };
    let cache = Cache::new(&root, &client.base);
    let (filter, source) = fetch_filter(&mut client, &cache, &setup.trust)?;
    let hash_options =
        HashOptions { regions: filter.has_regions() && !setup.no_regions, ..setup.hash_options };
    let listing = files::expand_images(setup.paths, setup.jobs)?;
    let inputs = listing.inputs;
    let options_text = format!(
        "threshold={},min_quality={},regions={},mode={:?}",
        setup.match_options.threshold,
        setup.match_options.min_quality,
        !setup.no_regions,
        hash_options.mode
    );
    let journal = match &args.checkpoint {
        Some(path) => {
            let header = journal_header(&client.base, &inputs, &options_text);
            Some(Journal::open(path, &header, &inputs)?)
        }
        None => None,
    };
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    let mut pipeline = Pipeline::new(&mut client, args.batch as usize, out, listing.skipped);
    let mut done = 0;
    if let Some((journal, lines)) = journal {
        pipeline.resume(journal, &lines)?;
        done = lines.len();
    }
    let rest = inputs.get(done..).unwrap_or_default();
    let options = setup.match_options;
    let mut position = done;
    crate::run::ordered(
        rest,
        setup.jobs,
        |input| prepare(input, &filter, &hash_options, &options),
        |p| {
            position += 1;
            pipeline.push(position - 1, p)
        },
    )?;
    pipeline.finish()?;
    let (found, errors) = pipeline.outcome();
    if args.stats {
        let s = pipeline.stats();
        let summary = json!({
            "files": s.files,
            "replayed": s.replayed,
            "candidates": s.candidates,
            "failed": s.failed,
            "requests": pipeline.client().requests,
            "retries": pipeline.client().retried,
            "filter_version": filter.version(),
            "filter": match source { FilterSource::Downloaded => "downloaded", FilterSource::Revalidated => "cached" },
        });
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{summary}");
        }
    }
    pipeline.tally().print(setup.summary);
    Ok(crate::sets::exit_code(found, errors))
}
