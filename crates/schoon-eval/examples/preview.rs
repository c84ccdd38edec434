//! Writes every edit of the evaluation applied to one image into a folder, to look at them:
//! `cargo run --release -p schoon-eval --example preview -- IMAGE OUT_DIR`.
#![allow(clippy::print_stdout)]

use anyhow::{Context, Result};
use schoon_eval::edits::Encoding;
use schoon_eval::plan::cases;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let input = args.next().context("usage: preview IMAGE OUT_DIR")?;
    let out = std::path::PathBuf::from(args.next().context("usage: preview IMAGE OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    let img = image::open(&input).with_context(|| format!("opening {input}"))?;
    for (i, case) in cases().iter().enumerate().filter(|(_, c)| c.table) {
        let bytes = case.edit.render(&img, 0)?;
        let ext = if case.edit.encoding() == Encoding::Png { "png" } else { "jpg" };
        let name: String = case
            .edit
            .name()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = out.join(format!("{i:02}-{name}.{ext}"));
        std::fs::write(&path, bytes)?;
        println!("{}", path.display());
    }
    Ok(())
}
