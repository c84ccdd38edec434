//! `schoon-eval`: measures recall and false matches of schoon's matchers over a folder of
//! distinct images and writes the report (Markdown, CSV, SVG and PNG plots).
//!
//! ```text
//! schoon-eval [--corpus DIR] [--out DIR] [--limit N]
//! ```
//!
//! Defaults: `--corpus ../shared/corpus/bsds500` and `--out docs/eval`, both relative to the
//! repository root. See the crate README.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use schoon_eval::{eval, peer, report};

const USAGE: &str = "usage: schoon-eval [--corpus DIR] [--out DIR] [--limit N]

Hashes every image of DIR (default ../shared/corpus/bsds500 beside the repository) and ~100
edits of each with PDQ (fast and reference), the image_hasher algorithms and, when Python has
imagehash ($SCHOON_PEER_PYTHON: an interpreter or a virtualenv), imagehash's pHash and dHash;
writes the report to --out (default docs/eval in the repository).";

struct Args {
    corpus: Option<PathBuf>,
    out: Option<PathBuf>,
    limit: Option<usize>,
}

fn parse(args: &[String]) -> Result<Option<Args>> {
    let mut out = Args { corpus: None, out: None, limit: None };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().cloned().with_context(|| format!("{key} needs a value")),
            }
        };
        match key {
            "-h" | "--help" => return Ok(None),
            "--corpus" => out.corpus = Some(PathBuf::from(value()?)),
            "--out" => out.out = Some(PathBuf::from(value()?)),
            "--limit" => {
                let v = value()?;
                let n: usize = v.parse().with_context(|| format!("--limit {v}: not a number"))?;
                if n < 2 {
                    bail!("--limit must be at least 2");
                }
                out.limit = Some(n);
            }
            other => bail!("unknown argument '{other}'\n\n{USAGE}"),
        }
    }
    Ok(Some(out))
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("schoon-eval: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(args, &argv) {
        Ok(path) => {
            println!("report written to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("schoon-eval: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args, argv: &[String]) -> Result<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let corpus = args.corpus.unwrap_or_else(|| root.join("../shared/corpus/bsds500"));
    let out = args.out.unwrap_or_else(|| root.join("docs/eval"));
    let peer = peer::find_python();
    let mut command = String::new();
    if std::env::var_os(peer::PYTHON_ENV).is_some() {
        // Not the interpreter's path: that belongs to the machine the report was made on.
        command.push_str(&format!("{}=<python with imagehash> ", peer::PYTHON_ENV));
    }
    command.push_str("cargo run --release -p schoon-eval");
    if !argv.is_empty() {
        command.push_str(" -- ");
        command.push_str(&argv.join(" "));
    }
    let config = eval::Config { corpus, out, limit: args.limit, command, peer };
    let run = eval::run(config)?;
    report::write(&run)
}
