//! `schoon`: find known images by exact and perceptual hashes.
//!
//! This binary is glue: argument parsing, files, threads and output. The work is done by
//! `schoon-core`.

mod cmd;
mod files;
mod run;

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
    /// Print exact and perceptual hashes of image files as NDJSON.
    Hash(cmd::hash::HashArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash(args) => cmd::hash::run(args).map(|ok| if ok { 0 } else { 2 }),
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
