//! `schoon check`: verdicts for hashes a user already has.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use schoon_core::set::{HashKind, ListOptions, ListParser, ParsedList, Query, Verdict};
use serde_json::{Map, Value, json};

use crate::sets::{SetArgs, exit_code};

/// Arguments of `schoon check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub set: SetArgs,
    /// MD5 digests to check (a list file, or - for standard input); repeatable.
    #[arg(long, value_name = "FILE")]
    pub md5: Vec<PathBuf>,
    /// SHA-1 digests to check.
    #[arg(long, value_name = "FILE")]
    pub sha1: Vec<PathBuf>,
    /// SHA-256 digests to check.
    #[arg(long, value_name = "FILE")]
    pub sha256: Vec<PathBuf>,
    /// PDQ hashes to check (`hash` or `hash,quality` lines).
    #[arg(long, value_name = "FILE")]
    pub pdq: Vec<PathBuf>,
    /// NDJSON as `schoon hash` prints it: each line is checked as one file.
    #[arg(long, value_name = "NDJSON")]
    pub hashes: Vec<PathBuf>,
    /// Skip invalid lines instead of stopping at the first.
    #[arg(long)]
    pub skip_invalid: bool,
}

fn lines(path: &PathBuf) -> Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Box::new(std::io::BufReader::new(f)))
}

pub fn run(args: CheckArgs) -> Result<u8> {
    let set = args.set.load()?;
    let options = args.set.options();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = false;
    let mut emit = |query: Query, shown: Map<String, Value>| -> Result<()> {
        let outcome = set.check(&query, &options);
        found |= outcome.verdict != Verdict::Clean;
        let mut o = shown;
        o.insert("verdict".into(), json!(outcome.verdict.name()));
        o.insert("matches".into(), Value::Array(outcome.matches));
        serde_json::to_writer(&mut out, &o)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    let kinds: [(&Vec<PathBuf>, Option<HashKind>); 5] = [
        (&args.md5, Some(HashKind::Md5)),
        (&args.sha1, Some(HashKind::Sha1)),
        (&args.sha256, Some(HashKind::Sha256)),
        (&args.pdq, Some(HashKind::Pdq)),
        (&args.hashes, None),
    ];
    if kinds.iter().all(|(p, _)| p.is_empty()) {
        bail!("nothing to check: give --md5, --sha1, --sha256, --pdq or --hashes");
    }
    let mut skipped = 0;
    for (paths, kind) in kinds {
        for path in paths {
            let mut parser = ListParser::new(
                &path.display().to_string(),
                ListOptions { kind, skip_invalid: args.skip_invalid },
            );
            for line in lines(path)?.lines() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                let mut parsed = ParsedList::default();
                parser.line(&line, &mut parsed)?;
                skipped += parsed.skipped;
                if kind.is_none() && !parsed.is_empty() {
                    // One `schoon hash` line is one file: all its hashes form one query.
                    let mut q = Query {
                        md5: parsed.md5.first().copied(),
                        sha1: parsed.sha1.first().copied(),
                        sha256: parsed.sha256.first().copied(),
                        pdq: None,
                    };
                    if let Some((h, quality)) = parsed.pdq.first() {
                        q.pdq = Query::from_pdq(*h, *quality).pdq;
                    }
                    let mut shown = Map::new();
                    if let Ok(Value::Object(v)) = serde_json::from_str::<Value>(&line)
                        && let Some(p) = v.get("path")
                    {
                        shown.insert("path".into(), p.clone());
                    }
                    emit(q, shown)?;
                    continue;
                }
                for d in parsed.md5 {
                    emit(Query { md5: Some(d), ..Default::default() }, shown("md5", d.to_hex()))?;
                }
                for d in parsed.sha1 {
                    emit(Query { sha1: Some(d), ..Default::default() }, shown("sha1", d.to_hex()))?;
                }
                for d in parsed.sha256 {
                    emit(
                        Query { sha256: Some(d), ..Default::default() },
                        shown("sha256", d.to_hex()),
                    )?;
                }
                for (h, q) in parsed.pdq {
                    emit(Query::from_pdq(h, q), shown("pdq", h.to_hex()))?;
                }
            }
        }
    }
    out.flush()?;
    Ok(exit_code(found, skipped > 0))
}

fn shown(kind: &str, hash: String) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), json!(kind));
    m.insert("hash".into(), json!(hash));
    m
}
