//! `schoon hash`: NDJSON hashes of files.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use schoon_core::{Algo, ExactHashes, HashOptions, PdqMode};
use serde_json::{Map, Value, json};

use crate::files::{self, Input};
use crate::run;

/// Arguments of `schoon hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash the full-size pixels exactly as Meta's C++ PDQ core does (slower; bit-exact).
    #[arg(long)]
    pub reference: bool,
    /// Also print the 8 dihedral PDQ hashes (original, rot90, rot180, rot270, flipX, flipY,
    /// flipPlus1, flipMinus1).
    #[arg(long)]
    pub dihedral: bool,
    /// Also print `windows`: the PDQ hashes of the region query windows of quality 50 or more
    /// (crops, small turns and bands of the image; what a client sends to `/v1/confirm` as
    /// `windows` when its filter flags them).
    #[arg(long)]
    pub windows: bool,
    /// Also compute a secondary perceptual hash: ahash, median, dhash, dhash_vertical,
    /// dhash_double, blockhash, phash, median_dct (repeatable).
    #[arg(long = "algo", value_name = "NAME")]
    pub algos: Vec<Algo>,
    /// Worker threads (default: all cores; 1 = single-threaded).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Files or directories (recursed, entries sorted by name).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// What happened to one input.
pub struct Hashed {
    pub path: PathBuf,
    pub exact: Option<ExactHashes>,
    pub image: Result<schoon_core::ImageHashes, String>,
}

/// Reads and hashes one input (never panics, never fails: errors are part of the result).
pub fn hash_input(input: &Input, options: &HashOptions) -> Hashed {
    let path = input.path().to_path_buf();
    let file = match input {
        Input::Unlistable(_, why) => {
            return Hashed { path, exact: None, image: Err(why.clone()) };
        }
        Input::File(p) => files::read(p, &options.limits),
    };
    match file {
        Err(e) => Hashed { path, exact: None, image: Err(files::io_message(&e)) },
        Ok(data) => {
            let image = match &data.bytes {
                Some(bytes) => schoon_core::hash_image(bytes, options).map_err(|e| e.to_string()),
                None => Err(schoon_core::Error::Limit(schoon_core::LimitExceeded {
                    kind: schoon_core::LimitKind::InputBytes,
                    value: data.exact.bytes,
                    max: options.limits.max_input_bytes,
                })
                .to_string()),
            };
            Hashed { path, exact: Some(data.exact), image }
        }
    }
}

/// The NDJSON object of one input.
pub fn to_json(h: &Hashed, dihedral: bool) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("path".into(), json!(h.path.to_string_lossy()));
    if let Some(e) = &h.exact {
        o.insert("bytes".into(), json!(e.bytes));
        o.insert("md5".into(), json!(e.md5.to_hex()));
        o.insert("sha1".into(), json!(e.sha1.to_hex()));
        o.insert("sha256".into(), json!(e.sha256.to_hex()));
    }
    match &h.image {
        Ok(img) => {
            o.insert("pdq".into(), json!(img.pdq.hash.to_hex()));
            o.insert("quality".into(), json!(img.pdq.quality));
            o.insert("width".into(), json!(img.info.width));
            o.insert("height".into(), json!(img.info.height));
            if dihedral {
                let all: Vec<String> = img.pdq.dihedral.iter().map(|d| d.to_hex()).collect();
                o.insert("pdq_dihedral".into(), json!(all));
            }
            for (algo, bytes) in &img.extra {
                o.insert(algo.name().into(), json!(schoon_core::hex::encode(bytes)));
            }
        }
        Err(e) => {
            o.insert("error".into(), json!(e));
        }
    }
    o
}

/// The hashes of the region query windows of quality 50 or more (needs the plane of
/// `HashOptions::regions`).
pub(crate) fn window_hashes(img: &schoon_core::ImageHashes) -> Vec<String> {
    use schoon_core::regions::{MIN_QUALITY, Scheme};
    let windows = img.plane.as_ref().map(|p| Scheme::standard().query_variants(p));
    windows
        .unwrap_or_default()
        .iter()
        .filter(|(_, p)| p.quality >= MIN_QUALITY)
        .map(|(_, p)| p.hash.to_hex())
        .collect()
}

/// Runs `schoon hash`; returns whether every file hashed.
pub fn run(args: HashArgs) -> anyhow::Result<bool> {
    let options = HashOptions {
        mode: if args.reference { PdqMode::Reference } else { PdqMode::Fast },
        algos: args.algos,
        regions: args.windows,
        ..Default::default()
    };
    let inputs = files::expand(&args.paths);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all_ok = true;
    run::ordered(
        &inputs,
        args.jobs,
        |input| hash_input(input, &options),
        |h| {
            all_ok &= h.image.is_ok();
            let mut o = to_json(&h, args.dihedral);
            if let (true, Ok(img)) = (args.windows, &h.image) {
                o.insert("windows".into(), json!(window_hashes(img)));
            }
            serde_json::to_writer(&mut out, &o)?;
            out.write_all(b"\n")?;
            Ok(())
        },
    )?;
    out.flush()?;
    Ok(all_ok)
}
