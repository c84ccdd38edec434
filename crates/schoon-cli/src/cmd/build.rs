//! `schoon build`: an index and a filter from hash lists and images.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use schoon_core::set::{
    AllowCounts, BandParams, BuildInfo, FilterKind, FilterParams, HashKind, Index, ListInfo,
    ListOptions, ListParser, ParsedList, SHARD_MANIFEST_FILE, SetBuilder, ShardManifest, Trust,
    shard_file_name,
};
use schoon_core::{HashOptions, PdqMode, SigningKey};

use crate::cmd::hash::hash_input;
use crate::files;
use crate::run;

/// Filter structure, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Binary fuse: the most compact (default).
    Fuse,
    /// Split-block Bloom: takes additions in place.
    Bloom,
}

/// Arguments of `schoon build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// A list of MD5 digests (hex lines, CSV with a header, or NDJSON); repeatable.
    #[arg(long, value_name = "FILE")]
    pub md5: Vec<PathBuf>,
    /// A list of SHA-1 digests; repeatable.
    #[arg(long, value_name = "FILE")]
    pub sha1: Vec<PathBuf>,
    /// A list of SHA-256 digests; repeatable.
    #[arg(long, value_name = "FILE")]
    pub sha256: Vec<PathBuf>,
    /// A list of PDQ hashes (`hash` or `hash,quality` lines, CSV, NDJSON); repeatable.
    #[arg(long, value_name = "FILE")]
    pub pdq: Vec<PathBuf>,
    /// NDJSON as `schoon hash` prints it (every hash kind on a line is taken); repeatable.
    #[arg(long, value_name = "NDJSON")]
    pub hashes: Vec<PathBuf>,
    /// Images (or directories of images) to hash and list; repeatable.
    #[arg(long, value_name = "DIR")]
    pub images: Vec<PathBuf>,
    /// An allow-list of hashes of images confirmed innocent (hex lines, CSV with a header or
    /// NDJSON as `schoon hash` prints it; kinds as for `--hashes`, so name PDQ hashes in a CSV
    /// header or NDJSON field): a file with an allow-listed exact hash never matches, and a
    /// PDQ match is suppressed where the upload is at least as near an allow-listed PDQ hash.
    /// Stored in the index and the filter (kept by --base-index); repeatable.
    #[arg(long, value_name = "FILE")]
    pub allow: Vec<PathBuf>,
    /// Name of the list these inputs form.
    #[arg(long, default_value = "list")]
    pub name: String,
    /// Category of the list (e.g. csam).
    #[arg(long, default_value = "unspecified")]
    pub category: String,
    /// Source of the list (supplier); defaults to the input file names.
    #[arg(long)]
    pub source: Option<String>,
    /// Add to the lists and entries of an existing index (to publish several lists together).
    #[arg(long, value_name = "INDEX")]
    pub base_index: Option<PathBuf>,
    /// Target false-positive rate of the filter per lookup.
    #[arg(long, default_value_t = 1e-4)]
    pub fpr: f64,
    /// Filter structure.
    #[arg(long, value_enum, default_value_t = KindArg::Fuse)]
    pub kind: KindArg,
    /// Leave the PDQ prefilter out of the filter (exact hashes only; see SECURITY.md: the
    /// prefilter is an offline oracle an uploader could use to test edits).
    #[arg(long)]
    pub no_pdq_filter: bool,
    /// PDQ prefilter: bands per listed hash.
    #[arg(long, default_value_t = BandParams::default().bands)]
    pub pdq_bands: u8,
    /// PDQ prefilter: bits per band.
    #[arg(long, default_value_t = BandParams::default().bits)]
    pub pdq_band_bits: u8,
    /// PDQ prefilter: least reliable bits flipped per band at query time.
    #[arg(long, default_value_t = BandParams::default().flips)]
    pub pdq_flips: u8,
    /// PDQ prefilter: fingerprint bits per band key (8, 16, 24 or 32).
    #[arg(long, default_value_t = BandParams::default().fingerprint)]
    pub pdq_fingerprint: u8,
    /// Sign with this key (from `schoon keygen`).
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "unsigned",
        conflicts_with = "unsigned"
    )]
    pub signing_key: Option<PathBuf>,
    /// Write unsigned sets (readers refuse them unless told to accept unsigned sets).
    #[arg(long)]
    pub unsigned: bool,
    /// Set version (monotonic); default: the current unix time.
    #[arg(long)]
    pub set_version: Option<u64>,
    /// Where to write the index (optional with --out-shards).
    #[arg(long, value_name = "INDEX", required_unless_present = "out_shards")]
    pub out_index: Option<PathBuf>,
    /// Also write the index as shards for hosts that must not hold all of it (the worker's
    /// Durable Objects): a directory with `manifest.schoon` and `shard-NNNN.schoon` files (see
    /// docs/formats.md, "Sharded index"). Created if missing; must not hold another set's shards.
    #[arg(long, value_name = "DIR")]
    pub out_shards: Option<PathBuf>,
    /// Shards of --out-shards (1 to 4096). Each holds about 1/N of the index; a worker isolate
    /// should hold at most 64 MB, about 100 bytes per PDQ record and 30 per exact one once
    /// loaded with its search tables.
    #[arg(long, value_name = "N", default_value_t = 16, requires = "out_shards")]
    pub shards: u32,
    /// Where to write the filter.
    #[arg(long, value_name = "FILTER")]
    pub out_filter: PathBuf,
    /// Write a filter of at most this size (e.g. 2MB, 512KiB, 2000000) for browsers that cannot
    /// download the whole list: the head filter (--out-filter) holds the hot tier of whole-image
    /// PDQ hashes (see --hot), and every exact hash goes into signed buckets fetched one at a time
    /// (--out-buckets). Prints what it covers. See docs/formats.md, "Budgeted filter".
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "delta_from")]
    pub filter_budget: Option<u64>,
    /// PDQ hashes in order of prevalence, most often met first (e.g. the worker's hit counts):
    /// the hot tier of --filter-budget is taken in this order; without it, in no particular
    /// order.
    #[arg(long, value_name = "FILE", requires = "filter_budget")]
    pub hot: Option<PathBuf>,
    /// Where to write the exact buckets of --filter-budget (default: the filter's path with
    /// `.buckets` added).
    #[arg(long, value_name = "FILE", requires = "filter_budget")]
    pub out_buckets: Option<PathBuf>,
    /// Also write a filter delta from this older index's version to the new one.
    #[arg(long, value_name = "OLD_INDEX", requires = "out_delta")]
    pub delta_from: Option<PathBuf>,
    /// Where to write the delta.
    #[arg(long, value_name = "DELTA", requires = "delta_from")]
    pub out_delta: Option<PathBuf>,
    /// Skip invalid list lines (and report how many) instead of stopping at the first.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Hash images with the reference PDQ pipeline.
    #[arg(long)]
    pub reference: bool,
    /// Do not store region hashes for images (they make matching tolerant of crops, small
    /// rotations and captions; 3 extra PDQ entries per image in the index).
    #[arg(long)]
    pub no_regions: bool,
    /// Worker threads for hashing images (default: all cores).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 0)]
    pub jobs: usize,
}

/// A size: bytes, or with a unit (k, KB, KiB, M, MB, MiB, G, GB, GiB; case-insensitive).
fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("'{text}' is not a size (e.g. 2MB)"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1_048_576.0,
        "g" | "gb" => 1e9,
        "gib" => 1_073_741_824.0,
        u => return Err(format!("unknown size unit '{u}' in '{text}' (use KB, MB, MiB, ...)")),
    };
    Ok((n * factor) as u64)
}

/// Reads a list in blocks of whole lines; once its shape is known, each block is parsed on all
/// cores (lines are independent), keeping the order and the line numbers of errors.
fn read_list(path: &Path, kind: Option<HashKind>, skip_invalid: bool) -> Result<ParsedList> {
    use rayon::prelude::*;
    const BLOCK: usize = 16 << 20;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut parser =
        ListParser::new(&path.display().to_string(), ListOptions { kind, skip_invalid });
    let mut out = ParsedList::default();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut block = Vec::with_capacity(BLOCK + 4096);
    loop {
        block.clear();
        // Fill a block, then complete its last line.
        let mut chunk = std::io::Read::take(&mut reader, BLOCK as u64);
        std::io::Read::read_to_end(&mut chunk, &mut block)?;
        if block.is_empty() {
            break;
        }
        if block.last() != Some(&b'\n') {
            reader.read_until(b'\n', &mut block)?;
        }
        let text = std::str::from_utf8(&block)
            .with_context(|| format!("{} is not utf-8 text", path.display()))?;
        let mut lines: Vec<&str> = text.lines().collect();
        // The first lines go through the sequential parser until the shape is known.
        let mut consumed = 0;
        while !parser.shape_known() && consumed < lines.len() {
            parser.line(lines[consumed], &mut out)?;
            consumed += 1;
        }
        lines.drain(..consumed);
        let first = parser.lines_seen() + 1;
        let per = lines.len().div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
        let parts: Vec<Result<ParsedList, schoon_core::Error>> = lines
            .par_chunks(per)
            .enumerate()
            .map(|(i, chunk)| {
                let mut p = ParsedList::default();
                parser.lines_at(first + i * per, chunk.iter().copied(), &mut p).map(|()| p)
            })
            .collect();
        for p in parts {
            out.append(p?);
        }
        parser.skip_lines(lines.len());
    }
    Ok(out)
}

/// Says on stderr how many lines of `path` `--skip-invalid` passed over; returns the count.
#[allow(clippy::print_stderr)] // the build's own report
fn report_skipped(path: &Path, parsed: &ParsedList) -> u64 {
    if parsed.skipped > 0 {
        eprintln!(
            "{}: skipped {} invalid lines (first: {})",
            path.display(),
            parsed.skipped,
            parsed.first_skipped.as_deref().unwrap_or("")
        );
    }
    parsed.skipped
}

fn load_index(path: &Path, trust: &Trust) -> Result<Index> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Index::from_bytes(bytes, trust).with_context(|| format!("index {}", path.display()))
}

#[allow(clippy::print_stderr)]
pub fn run(args: BuildArgs) -> Result<u8> {
    let start = Instant::now();
    let key = match &args.signing_key {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                SigningKey::from_text(&text)
                    .with_context(|| format!("signing key {}", p.display()))?,
            )
        }
        None => None,
    };
    let trust = match &key {
        Some(k) => Trust::key(k.public_key()),
        None => Trust::unsigned(),
    };
    let mut builder = match &args.base_index {
        Some(p) => SetBuilder::from_index(&load_index(p, &trust)?),
        None => SetBuilder::new(),
    };
    let inputs: Vec<&PathBuf> = args
        .md5
        .iter()
        .chain(&args.sha1)
        .chain(&args.sha256)
        .chain(&args.pdq)
        .chain(&args.hashes)
        .chain(&args.images)
        .collect();
    if inputs.is_empty() && args.allow.is_empty() {
        bail!("nothing to build from: give --md5, --sha1, --sha256, --pdq, --hashes or --images");
    }
    let source = args.source.clone().unwrap_or_else(|| {
        inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    });
    // An allow-list alone (e.g. added to a --base-index) adds no list.
    let list = match inputs.is_empty() {
        true => None,
        false => Some(builder.add_list(ListInfo::new(&args.name, &args.category, source))?),
    };

    let mut skipped = 0u64;
    for p in &args.allow {
        let parsed = read_list(p, None, args.skip_invalid)?;
        skipped += report_skipped(p, &parsed);
        builder.allow_parsed(&parsed);
    }
    let Some(list) = list else {
        return write_sets(&args, builder, key.as_ref(), &trust, start, skipped);
    };
    let lists: [(&Vec<PathBuf>, Option<HashKind>); 5] = [
        (&args.md5, Some(HashKind::Md5)),
        (&args.sha1, Some(HashKind::Sha1)),
        (&args.sha256, Some(HashKind::Sha256)),
        (&args.pdq, Some(HashKind::Pdq)),
        (&args.hashes, None),
    ];
    for (paths, kind) in lists {
        for p in paths {
            let parsed = read_list(p, kind, args.skip_invalid)?;
            skipped += report_skipped(p, &parsed);
            builder.add_parsed(list, &parsed);
            eprintln!(
                "read {}: {} entries ({:.1} s)",
                p.display(),
                parsed.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }

    if !args.images.is_empty() {
        let options = HashOptions {
            mode: if args.reference { PdqMode::Reference } else { PdqMode::Fast },
            regions: !args.no_regions,
            ..Default::default()
        };
        let inputs = files::expand(&args.images);
        let mut failed = Vec::new();
        run::ordered(
            &inputs,
            args.jobs,
            |i| hash_input(i, &options),
            |h| {
                match (&h.exact, &h.image) {
                    (Some(exact), image) => {
                        builder.add_image(list, exact, image.as_ref().ok());
                        if let Err(e) = image {
                            failed.push(format!("{}: {e} (exact hashes listed)", h.path.display()));
                        }
                    }
                    (None, Err(e)) => failed.push(format!("{}: {e}", h.path.display())),
                    (None, Ok(_)) => {}
                }
                Ok(())
            },
        )?;
        for f in &failed {
            eprintln!("{f}");
        }
        if !failed.is_empty() && !args.skip_invalid {
            bail!(
                "{} images could not be hashed (use --skip-invalid to build anyway)",
                failed.len()
            );
        }
    }

    write_sets(&args, builder, key.as_ref(), &trust, start, skipped)
}

/// Writes the shards and then the manifest into `dir` (the manifest last: a directory with a
/// manifest is complete), saying on stderr how far it is.
#[allow(clippy::print_stderr)]
fn write_shards(
    dir: &Path,
    builder: SetBuilder,
    count: u32,
    info: &BuildInfo<'_>,
) -> Result<Vec<u8>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let manifest_path = dir.join(SHARD_MANIFEST_FILE);
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path)
            .with_context(|| format!("removing the old {}", manifest_path.display()))?;
    }
    let mut bytes = 0u64;
    let mut largest = 0u64;
    let manifest = builder
        .build_shards(info, count, |n, shard| {
            let path = dir.join(shard_file_name(n));
            std::fs::write(&path, &shard).map_err(|e| {
                schoon_core::Error::Caller(schoon_core::CallerError {
                    message: format!("writing {}: {e}", path.display()),
                })
            })?;
            bytes += shard.len() as u64;
            largest = largest.max(shard.len() as u64);
            eprint!("\rshards: {}/{count}", n + 1);
            Ok(())
        })
        .context("building the shards")?;
    eprintln!();
    // What the largest shard's host will hold once loaded (file and search tables), from the
    // manifest's counts.
    let held = ShardManifest::from_bytes(&manifest, &Trust::unsigned())
        .map(|m| m.entries().iter().map(|e| e.loaded_bytes()).max().unwrap_or(0))
        .unwrap_or(0);
    std::fs::write(&manifest_path, &manifest)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    eprintln!(
        "shards: {count} in {} ({} bytes, largest {} bytes, at most {} bytes held once loaded; \
         manifest {} bytes)",
        dir.display(),
        bytes,
        largest,
        held,
        manifest.len()
    );
    if held > 64 << 20 {
        eprintln!(
            "warning: a shard holds {held} bytes once loaded, over the worker's default \
             SHARD_MAX_BYTES (64 MiB): use more --shards"
        );
    }
    Ok(manifest)
}

/// Builds and writes the index, the filter and any delta, and prints the summary.
#[allow(clippy::print_stderr)]
fn write_sets(
    args: &BuildArgs,
    mut builder: SetBuilder,
    key: Option<&SigningKey>,
    trust: &Trust,
    start: Instant,
    skipped: u64,
) -> Result<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let info =
        BuildInfo { set_version: args.set_version.unwrap_or(now), created: now, signing_key: key };
    let mut salt = [0u8; 8];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let params = FilterParams {
        kind: match args.kind {
            KindArg::Fuse => FilterKind::Fuse,
            KindArg::Bloom => FilterKind::Bloom,
        },
        fpr: args.fpr,
        pdq: (!args.no_pdq_filter).then_some(BandParams {
            bands: args.pdq_bands,
            bits: args.pdq_band_bits,
            flips: args.pdq_flips,
            fingerprint: args.pdq_fingerprint,
        }),
        salt: u64::from_le_bytes(salt),
    };
    let budgeted = match args.filter_budget {
        Some(budget) => {
            let hot = match &args.hot {
                Some(p) => {
                    let parsed = read_list(p, Some(HashKind::Pdq), args.skip_invalid)?;
                    Some(parsed.pdq.iter().map(|(h, _)| *h).collect::<Vec<_>>())
                }
                None => None,
            };
            Some(
                builder
                    .build_budgeted(&params, &info, budget, hot.as_deref())
                    .context("building the budgeted filter")?,
            )
        }
        None => None,
    };
    // Without --out-index (a sharded build), no whole index is written, nor held in memory.
    let (index, filter) = match (&args.out_index, &budgeted) {
        (Some(out), None) => {
            let (index, filter) =
                builder.build_both(&params, &info).context("building the sets")?;
            std::fs::write(out, &index).with_context(|| format!("writing {}", out.display()))?;
            (Some(index), filter)
        }
        (Some(out), Some((head, _, _))) => {
            let index = builder.build_index(&info, None).context("building the index")?;
            std::fs::write(out, &index).with_context(|| format!("writing {}", out.display()))?;
            (Some(index), head.clone())
        }
        (None, Some((head, _, _))) => (None, head.clone()),
        (None, None) => {
            (None, builder.build_filter(&params, &info).context("building the filter")?)
        }
    };
    if let Some((_, buckets, report)) = &budgeted {
        let out = args.out_buckets.clone().unwrap_or_else(|| {
            let mut p = args.out_filter.clone().into_os_string();
            p.push(".buckets");
            PathBuf::from(p)
        });
        std::fs::write(&out, buckets).with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "filter budget {} bytes: head filter {} bytes with {} of {} whole-image PDQ hashes \
             ({:.1} % of PDQ hits if hits follow Zipf's law over the hot order, {:.1} % if every \
             listed picture is met equally); every exact hash in {} ({} bytes, largest bucket {} \
             bytes); {} region hashes and the other PDQ hashes are checked at the edge only",
            report.budget_bytes,
            report.head_bytes,
            report.pdq_hot,
            report.pdq_listed,
            report.pdq_share_zipf * 100.0,
            report.pdq_share_uniform * 100.0,
            out.display(),
            report.buckets_bytes,
            report.largest_bucket_bytes,
            report.regions_at_edge
        );
        eprintln!("{}", serde_json::to_string(report).unwrap_or_default());
    }
    std::fs::write(&args.out_filter, &filter)
        .with_context(|| format!("writing {}", args.out_filter.display()))?;
    if let (Some(old), Some(out)) = (&args.delta_from, &args.out_delta) {
        let old = load_index(old, trust)?;
        let delta = builder.build_filter_delta(&old, &info)?;
        std::fs::write(out, &delta).with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "delta {} -> {}: {} bytes ({})",
            old.header().set_version,
            info.set_version,
            delta.len(),
            out.display()
        );
    }
    let allow = builder.allow_counts();
    let manifest = match &args.out_shards {
        Some(dir) => Some(write_shards(dir, builder, args.shards, &info)?),
        None => None,
    };
    // Summarise from the index (or manifest) just written, without building search tables.
    let (what, written) = match (&index, &manifest) {
        (Some(i), _) => ("index", i),
        (None, Some(m)) => ("manifest", m),
        (None, None) => bail!("nothing written: give --out-index or --out-shards"),
    };
    let summary = schoon_core::set::inspect(written, trust)?;
    let lists: Vec<schoon_core::set::ListMeta> =
        serde_json::from_value(summary.metadata.get("lists").cloned().unwrap_or_default())
            .unwrap_or_default();
    for l in &lists {
        eprintln!(
            "list {} ({}): {} md5, {} sha1, {} sha256, {} pdq, {} pdq regions",
            l.info.name, l.info.category, l.md5, l.sha1, l.sha256, l.pdq, l.regions
        );
    }
    if !allow.is_empty() {
        let kept: AllowCounts = summary
            .metadata
            .get("allow")
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default();
        eprintln!(
            "allow-list: {} md5, {} sha1, {} sha256, {} pdq",
            kept.md5, kept.sha1, kept.sha256, kept.pdq
        );
    }
    eprintln!(
        "version {}: {what} {} bytes, filter {} bytes ({}{}), {} invalid lines skipped, {:.2} s",
        info.set_version,
        written.len(),
        filter.len(),
        args.kind.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default(),
        if args.no_pdq_filter { ", no pdq prefilter" } else { ", with pdq prefilter" },
        skipped,
        start.elapsed().as_secs_f64()
    );
    if key.is_none() {
        eprintln!(
            "warning: the sets are unsigned; readers refuse them unless told to accept unsigned sets"
        );
    }
    Ok(0)
}
