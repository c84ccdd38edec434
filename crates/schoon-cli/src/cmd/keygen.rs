//! `schoon keygen`: a new Ed25519 signing key.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use schoon_core::SigningKey;

/// Arguments of `schoon keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key; the public key goes to the same path plus `.pub`.
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// A fresh key from the operating system's random source.
pub fn random_key() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(SigningKey::from_seed(seed))
}

fn write_new(path: &PathBuf, text: &str, secret: bool, force: bool) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let _ = secret;
    let mut f = opts.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub fn run(args: KeygenArgs) -> Result<u8> {
    let public = PathBuf::from(format!("{}.pub", args.out.display()));
    if !args.force && (args.out.exists() || public.exists()) {
        bail!("{} or {} exists (use --force to overwrite)", args.out.display(), public.display());
    }
    let key = random_key()?;
    write_new(&args.out, &key.to_text(), true, args.force)?;
    write_new(&public, &key.public_key().to_text(), false, args.force)?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "wrote {} (secret) and {} (public key {})",
            args.out.display(),
            public.display(),
            key.public_key().to_hex()
        );
    }
    Ok(0)
}
