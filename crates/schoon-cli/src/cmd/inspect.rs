//! `schoon inspect`: what a set file is, and whether its signature holds.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use schoon_core::PublicKey;
use schoon_core::set::{AllowCounts, Trust, inspect};
use serde_json::json;

/// Arguments of `schoon inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// An index, filter or filter delta.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Verify the signature with this public key (without it the signature is not checked).
    #[arg(long = "public-key", value_name = "KEY.pub")]
    pub public_key: Option<PathBuf>,
}

#[allow(clippy::print_stdout)]
pub fn run(args: InspectArgs) -> Result<u8> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let trust = match &args.public_key {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Trust { public_key: Some(PublicKey::from_text(&text)?), allow_unsigned: true }
        }
        None => Trust::unsigned(),
    };
    let i = inspect(&bytes, &trust).with_context(|| format!("{}", args.file.display()))?;
    let sections: serde_json::Map<String, serde_json::Value> =
        i.sections.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
    let out = json!({
        "file": args.file.to_string_lossy(),
        "kind": i.header.artifact.name(),
        "set_version": i.header.set_version,
        "base_version": (i.header.base_version != 0).then_some(i.header.base_version),
        "created": i.header.created,
        "signature": i.header.signature.name(),
        "key_id": i.header.key_id,
        "bytes": i.bytes,
        "sections": sections,
        // The allow-list's counts (zeros for sets without one).
        "allow": i.metadata.get("allow").filter(|a| !a.is_null()).cloned()
            .unwrap_or_else(|| json!(AllowCounts::default())),
        "metadata": i.metadata,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}
