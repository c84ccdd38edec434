//! `schoon`: find known images by exact and perceptual hashes.
//!
//! This binary is glue: argument parsing, files, threads and output. The work is done by
//! `schoon-core`.

mod cmd;
mod files;
mod remote;
mod run;
mod sets;
mod summary;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Detect known images by exact (MD5, SHA-1, SHA-256) and perceptual (PDQ) hashes.
#[derive(Debug, Parser)]
#[command(name = "schoon", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files against a set: NDJSON verdicts (exit 0 clean, 1 found, 2 errors).
    Scan(cmd::scan::ScanArgs),
    /// Print exact and perceptual hashes of image files as NDJSON.
    Hash(cmd::hash::HashArgs),
    /// Check hashes you already have against a set.
    Check(cmd::check::CheckArgs),
    /// Build a signed index and filter from hash lists and images.
    Build(Box<cmd::build::BuildArgs>),
    /// Write a new Ed25519 signing key and its public key.
    Keygen(cmd::keygen::KeygenArgs),
    /// Describe a set file and check its signature.
    Inspect(cmd::inspect::InspectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash(args) => cmd::hash::run(args).map(|ok| if ok { 0 } else { 2 }),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Build(args) => cmd::build::run(*args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A broken pipe (`schoon hash dir | head`) is not an error worth reporting.
            if e.downcast_ref::<std::io::Error>().map(|io| io.kind())
                == Some(std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            #[allow(clippy::print_stderr)]
            {
                eprintln!("schoon: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
