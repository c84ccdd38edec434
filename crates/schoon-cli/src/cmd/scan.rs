//! `schoon scan`: verdicts for files.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use schoon_core::set::Verdict;
use schoon_core::{HashOptions, PdqMode};
use serde_json::{Map, Value, json};

use crate::cmd::hash::{Hashed, hash_input};
use crate::files;
use crate::remote::{self, RemoteArgs, ScanSetup};
use crate::run;
use crate::sets::{SetArgs, exit_code};
use crate::summary::{self, Tally};

/// Arguments of `schoon scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub set: SetArgs,
    /// Hash with the reference PDQ pipeline (slower, bit-exact with Meta's C++ core).
    #[arg(long)]
    pub reference: bool,
    /// Whole-image matching only: skip the region windows (crops, small turns, captions) that
    /// are otherwise checked when the set holds region hashes and plain PDQ finds nothing.
    #[arg(long)]
    pub no_regions: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Print a one-line summary to stderr at the end (files per verdict, files skipped); the
    /// default when stderr is a terminal.
    #[arg(long, conflicts_with = "stats")]
    pub summary: bool,
    /// Files or directories (recursed, entries sorted by name; files found in a directory that
    /// are not images are skipped, a file named here is always scanned).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

pub fn run(args: ScanArgs) -> Result<u8> {
    let show_summary = summary::wanted(args.summary, args.remote.stats);
    if let Some(url) = &args.remote.remote {
        let setup = ScanSetup {
            trust: args.set.trust()?,
            match_options: args.set.options(),
            hash_options: HashOptions {
                mode: if args.reference { PdqMode::Reference } else { PdqMode::Fast },
                ..Default::default()
            },
            no_regions: args.no_regions,
            jobs: args.jobs,
            paths: &args.paths,
            summary: show_summary,
        };
        return remote::run(&args.remote, url, setup);
    }
    let set = args.set.load()?;
    let match_options = args.set.options();
    let options = HashOptions {
        mode: if args.reference { PdqMode::Reference } else { PdqMode::Fast },
        regions: set.wants_regions() && !args.no_regions,
        ..Default::default()
    };
    let listing = files::expand_images(&args.paths, args.jobs)?;
    let mut tally = Tally::skipping(listing.skipped);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut found, mut errors) = (false, false);
    run::ordered(
        &listing.inputs,
        args.jobs,
        |input| {
            let h: Hashed = hash_input(input, &options);
            let verdict = h
                .exact
                .map(|exact| set.check_hashed(&exact, h.image.as_ref().ok(), &match_options));
            (h, verdict)
        },
        |(h, outcome)| {
            let mut o = Map::new();
            o.insert("path".into(), json!(h.path.to_string_lossy()));
            match outcome {
                Some(outcome) => {
                    // The exact hashes were checked. A hit stands; otherwise a file whose image
                    // could not be decoded (so PDQ could not be checked) is an error, not clean.
                    let verdict = match (&h.image, outcome.verdict) {
                        (Err(_), Verdict::Clean) => "error",
                        (_, v) => v.name(),
                    };
                    found |= outcome.verdict != Verdict::Clean;
                    tally.count(verdict);
                    o.insert("verdict".into(), json!(verdict));
                    o.insert("matches".into(), Value::Array(outcome.matches));
                    if let Err(e) = &h.image {
                        errors = true;
                        o.insert("error".into(), json!(e));
                    }
                }
                None => {
                    errors = true;
                    tally.count("error");
                    o.insert("verdict".into(), json!("error"));
                    o.insert("matches".into(), json!([]));
                    o.insert("error".into(), json!(h.image.as_ref().err()));
                }
            }
            serde_json::to_writer(&mut out, &o)?;
            out.write_all(b"\n")?;
            Ok(())
        },
    )?;
    out.flush()?;
    tally.print(show_summary);
    Ok(exit_code(found, errors))
}
