//! `schoon hash`: NDJSON hashes of files.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use schoon_core::wire::{self, FieldValue};
use schoon_core::{Algo, ErrorKind, ExactHashes, HashOptions, PdqMode};
use serde_json::{Map, Value};

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
    /// Why the image did not hash, when the core said so (not for files that could not be
    /// read).
    pub error_kind: Option<ErrorKind>,
}

/// Reads and hashes one input (never panics, never fails: errors are part of the result).
pub fn hash_input(input: &Input, options: &HashOptions) -> Hashed {
    let path = input.path().to_path_buf();
    let failed = |path, exact, message: String, kind| Hashed {
        path,
        exact,
        image: Err(message),
        error_kind: kind,
    };
    let file = match input {
        Input::Unlistable(_, why) => return failed(path, None, why.clone(), None),
        Input::File(p) => files::read(p, &options.limits),
    };
    match file {
        Err(e) => failed(path, None, files::io_message(&e), None),
        Ok(data) => {
            let image = match &data.bytes {
                Some(bytes) => schoon_core::hash_image(bytes, options),
                None => Err(schoon_core::Error::Limit(schoon_core::LimitExceeded {
                    kind: schoon_core::LimitKind::InputBytes,
                    value: data.exact.bytes,
                    max: options.limits.max_input_bytes,
                })),
            };
            match image {
                Ok(image) => {
                    Hashed { path, exact: Some(data.exact), image: Ok(image), error_kind: None }
                }
                Err(e) => failed(path, Some(data.exact), e.to_string(), Some(e.kind())),
            }
        }
    }
}

/// The NDJSON object of one input: `path`, then the core's report fields
/// (`schoon_core::wire::report_fields`), with `pdq_dihedral` and `windows` when asked.
pub fn to_json(h: &Hashed, dihedral: bool, windows: bool) -> Map<String, Value> {
    let mut fields = vec![("path", FieldValue::Text(h.path.to_string_lossy().into_owned()))];
    if let Some(e) = &h.exact {
        fields.extend(wire::exact_fields(e));
    }
    fields.extend(match &h.image {
        Ok(img) => {
            let mut f = wire::image_fields(img, dihedral);
            if windows {
                f.push(wire::windows_field(img));
            }
            f
        }
        Err(e) => wire::error_fields(e.clone(), h.error_kind),
    });
    wire::fields_json(fields)
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
            let o = to_json(&h, args.dihedral, args.windows);
            serde_json::to_writer(&mut out, &o)?;
            out.write_all(b"\n")?;
            Ok(())
        },
    )?;
    out.flush()?;
    Ok(all_ok)
}
