//! The evaluation run: hash every original and every edit once (in parallel), then derive the
//! distances, thresholds, recall and speed of each algorithm.
//!
//! Over 600 lines: the run's types (which the report reads), the run itself and the
//! per-algorithm results derived from the same hashes belong together; the tests are about 25
//! lines.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use image::DynamicImage;
use rayon::prelude::*;
use schoon_core::{Algo, HashOptions, Pdq, PdqHash, PdqMode, hash_image};

use crate::peer::{self, PeerHashes};
use crate::plan::{Case, cases};
use crate::robust;
use crate::stats::{self, TailFit};

/// PDQ's standard matching threshold.
pub const PDQ_THRESHOLD: u32 = 31;
/// PDQ queries of lower quality are not matched.
pub const PDQ_MIN_QUALITY: u8 = 50;
/// Images timed for the speed table (the first ones of the corpus).
pub const SPEED_IMAGES: usize = 100;
/// Runs per image in the speed table; the fastest counts (the machine is shared).
pub const SPEED_RUNS: usize = 3;

/// The median over images of the fastest of [`SPEED_RUNS`] runs of `f`, after one warm-up run.
fn best_of<T>(items: &[T], f: &dyn Fn(&T)) -> Option<f64> {
    if let Some(first) = items.first() {
        f(first);
    }
    median_of(
        items
            .iter()
            .map(|x| {
                (0..SPEED_RUNS)
                    .map(|_| {
                        let t = Instant::now();
                        f(x);
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect(),
    )
}

/// What the run is asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of distinct images.
    pub corpus: PathBuf,
    /// Output folder of the report.
    pub out: PathBuf,
    /// Only the first `limit` images.
    pub limit: Option<usize>,
    /// The command line, for the report.
    pub command: String,
    /// Python interpreter for the imagehash peer, or why there is none.
    pub peer: Result<PathBuf, String>,
}

/// A PDQ result without its coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdq8 {
    /// The hash.
    pub hash: PdqHash,
    /// Quality 0..=100.
    pub quality: u8,
    /// The 8 dihedral hashes.
    pub dihedral: [PdqHash; 8],
}

impl From<&Pdq> for Pdq8 {
    fn from(p: &Pdq) -> Pdq8 {
        Pdq8 { hash: p.hash, quality: p.quality, dihedral: p.dihedral }
    }
}

impl Pdq8 {
    /// The dihedral rule: the smallest distance between any of this query's 8 hashes and the
    /// listed hash; `None` when the query's quality is under [`PDQ_MIN_QUALITY`].
    pub fn query_distance(&self, listed: &PdqHash) -> Option<u32> {
        (self.quality >= PDQ_MIN_QUALITY)
            .then(|| self.dihedral.iter().map(|h| h.distance(listed)).min().unwrap_or(256))
    }
}

/// The hashes of one original image.
#[derive(Debug, Clone)]
pub struct Original {
    /// Path relative to the corpus.
    pub name: String,
    /// Absolute path.
    pub path: PathBuf,
    /// PDQ, fast mode.
    pub fast: Pdq8,
    /// How the fast mode reached its 64x64 buffer.
    pub fast_path: schoon_core::PdqPath,
    /// PDQ, reference mode.
    pub reference: Pdq8,
    /// `image_hasher` hashes in [`Algo::ALL`] order (64 bits each).
    pub algos: Vec<u64>,
    /// The robust listed variants (region id, hash).
    pub listed: Vec<(u8, Pdq)>,
    /// The robust query variants' dihedral hashes (quality at least 50 only), flattened.
    pub query_hashes: Vec<[u64; 4]>,
    /// Number of robust query variants computed.
    pub query_count: usize,
}

/// The hashes of one edited image.
#[derive(Debug, Clone, Default)]
pub struct Edited {
    /// PDQ fast.
    pub fast: Option<Pdq8>,
    /// PDQ reference (table edits only).
    pub reference: Option<Pdq8>,
    /// `image_hasher` hashes (table edits only).
    pub algos: Option<Vec<u64>>,
    /// Smallest robust extra distance to its original's listed variants, computed only when
    /// plain PDQ fast does not match at 31.
    pub extra: Option<u32>,
    /// Where the file was written for the peer.
    pub peer_file: Option<PathBuf>,
    /// Bytes of the edited file.
    pub bytes: usize,
}

/// An algorithm row of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgoId {
    /// PDQ fast, dihedral rule, quality at least 50 (the default matcher).
    PdqFast,
    /// PDQ reference, dihedral rule, quality at least 50.
    PdqReference,
    /// PDQ fast plus the robust extra hashes.
    PdqRobust,
    /// An `image_hasher` algorithm.
    Secondary(Algo),
    /// Python imagehash's pHash.
    PeerPhash,
    /// Python imagehash's dHash.
    PeerDhash,
}

impl AlgoId {
    /// Row label.
    pub fn name(self) -> String {
        match self {
            AlgoId::PdqFast => "PDQ fast (dihedral, q≥50)".into(),
            AlgoId::PdqReference => "PDQ reference (dihedral, q≥50)".into(),
            AlgoId::PdqRobust => "PDQ fast + robust regions".into(),
            AlgoId::Secondary(a) => format!("image_hasher {}", a.name()),
            AlgoId::PeerPhash => "imagehash phash (Python)".into(),
            AlgoId::PeerDhash => "imagehash dhash (Python)".into(),
        }
    }

    /// Short label for plots and file names.
    pub fn short(self) -> String {
        match self {
            AlgoId::PdqFast => "pdq-fast".into(),
            AlgoId::PdqReference => "pdq-reference".into(),
            AlgoId::PdqRobust => "pdq-robust".into(),
            AlgoId::Secondary(a) => a.name().replace('_', "-"),
            AlgoId::PeerPhash => "py-phash".into(),
            AlgoId::PeerDhash => "py-dhash".into(),
        }
    }

    /// Hash length in bits.
    pub fn bits(self) -> u32 {
        match self {
            AlgoId::PdqFast | AlgoId::PdqReference | AlgoId::PdqRobust => 256,
            _ => 64,
        }
    }
}

/// Everything measured for one algorithm.
#[derive(Debug, Clone)]
pub struct AlgoResult {
    /// Which algorithm.
    pub id: AlgoId,
    /// Distances of the distinct pairs that have one (unordered pairs, min over directions).
    pub distinct: Vec<u32>,
    /// Number of distinct pairs (with or without a distance).
    pub distinct_total: usize,
    /// Hash comparisons made over all distinct pairs.
    pub comparisons: u64,
    /// `same[case][image]`: distance between the edit and its original (`None`: no match
    /// possible, e.g. low quality, or not computed for this case).
    pub same: Vec<Vec<Option<u32>>>,
    /// Whether the case was evaluated for this algorithm.
    pub evaluated: Vec<bool>,
    /// Tail fit of the distinct distances.
    pub fit: TailFit,
    /// One under the smallest distinct distance.
    pub zero_fp: Option<u32>,
    /// The fixed operating threshold (31 for the PDQ rows).
    pub fixed: Option<u32>,
    /// Median single-threaded time per image, seconds.
    pub seconds: Option<f64>,
}

impl AlgoResult {
    /// Recall of one case at threshold `t` (`None` when not evaluated).
    pub fn recall(&self, case: usize, t: u32) -> Option<f64> {
        if !self.evaluated.get(case).copied().unwrap_or(false) {
            return None;
        }
        let s = &self.same[case];
        Some(s.iter().filter(|d| d.is_some_and(|d| d <= t)).count() as f64 / s.len().max(1) as f64)
    }

    /// Distinct pairs matching at `t`.
    pub fn false_matches(&self, t: u32) -> usize {
        self.distinct.iter().filter(|&&d| d <= t).count()
    }
}

/// Speed measurements beyond the per-algorithm rows.
#[derive(Debug, Clone, Default)]
pub struct Speeds {
    /// Median seconds to decode an original with `image`.
    pub decode: Option<f64>,
    /// Median seconds of [`robust::listed_variants`] (decoded image given).
    pub listed: Option<f64>,
    /// Median seconds of [`robust::query_variants`] (decoded image given).
    pub query: Option<f64>,
}

/// The whole measured state of a run.
#[derive(Debug)]
pub struct Run {
    /// The configuration.
    pub config: Config,
    /// Originals in corpus order.
    pub originals: Vec<Original>,
    /// The edits.
    pub cases: Vec<Case>,
    /// `edited[case][image]`.
    pub edited: Vec<Vec<Edited>>,
    /// Per-algorithm results, in report order.
    pub algos: Vec<AlgoResult>,
    /// Speeds of the robust scheme.
    pub speeds: Speeds,
    /// Why the peer was skipped, or its hashes.
    pub peer_status: Result<usize, String>,
    /// Wall-clock seconds of the hashing phase.
    pub hashing_seconds: f64,
    /// Robust query windows per query image (for a corpus-sized image).
    pub query_windows: usize,
}

/// The images of a corpus folder (recursively; JPEG, PNG, WebP, GIF, BMP), sorted by path.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp"
                )
            }) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn options(mode: PdqMode, algos: Vec<Algo>) -> HashOptions {
    HashOptions { mode, algos, ..Default::default() }
}

fn as_u64(bytes: &[u8]) -> u64 {
    bytes.iter().take(8).fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn median_of(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    stats::quantile(&v, 0.5)
}

/// Times each algorithm on the first images, one at a time on one thread.
#[allow(clippy::print_stderr)]
fn measure_speed(files: &[(PathBuf, Vec<u8>)]) -> (Vec<(AlgoId, f64)>, Speeds) {
    let take = &files[..files.len().min(SPEED_IMAGES)];
    eprintln!("timing the algorithms on {} images, one thread, best of {SPEED_RUNS}", take.len());
    let bytes: Vec<&[u8]> = take.iter().map(|(_, b)| b.as_slice()).collect();
    let time = |f: &dyn Fn(&[u8])| -> Option<f64> { best_of(&bytes, &|b: &&[u8]| f(b)) };
    let mut out = Vec::new();
    let fast = options(PdqMode::Fast, vec![]);
    let reference = options(PdqMode::Reference, vec![]);
    if let Some(s) = time(&|b| {
        std::hint::black_box(hash_image(b, &fast).ok());
    }) {
        out.push((AlgoId::PdqFast, s));
    }
    if let Some(s) = time(&|b| {
        std::hint::black_box(hash_image(b, &reference).ok());
    }) {
        out.push((AlgoId::PdqReference, s));
    }
    for a in Algo::ALL {
        if let Some(s) = time(&|b| {
            if let Ok(img) = image::load_from_memory(b) {
                std::hint::black_box(a.hash(&img).ok());
            }
        }) {
            out.push((AlgoId::Secondary(a), s));
        }
    }
    let decoded: Vec<DynamicImage> =
        take.iter().filter_map(|(_, b)| image::load_from_memory(b).ok()).collect();
    let time_img = |f: &dyn Fn(&DynamicImage)| -> Option<f64> { best_of(&decoded, f) };
    let speeds = Speeds {
        decode: time(&|b| {
            std::hint::black_box(image::load_from_memory(b).ok());
        }),
        listed: time_img(&|img| {
            std::hint::black_box(robust::listed_variants(img));
        }),
        query: time_img(&|img| {
            std::hint::black_box(robust::query_variants(img));
        }),
    };
    (out, speeds)
}

fn hash_original(name: String, path: PathBuf, bytes: &[u8]) -> Result<Original> {
    // The listed side as `schoon build --images` computes it: the plane comes from the same
    // decode (or DCT-scaled JPEG decode) as the fast PDQ hash.
    let fast = hash_image(bytes, &HashOptions { regions: true, ..options(PdqMode::Fast, vec![]) })
        .with_context(|| format!("hashing {name}"))?;
    let reference = hash_image(bytes, &options(PdqMode::Reference, Algo::ALL.to_vec()))
        .with_context(|| format!("hashing {name}"))?;
    let plane = fast.plane.clone().with_context(|| format!("no luma plane for {name}"))?;
    let listed = robust::Scheme::standard().listed_variants(&plane);
    let query = robust::Scheme::standard().query_variants(&plane);
    let query_hashes = query
        .iter()
        .filter(|(_, p)| p.quality >= robust::MIN_QUALITY)
        .flat_map(|(_, p)| p.dihedral.iter().map(|h| h.words()))
        .collect();
    Ok(Original {
        name,
        path,
        fast: Pdq8::from(&fast.pdq),
        fast_path: fast.path,
        reference: Pdq8::from(&reference.pdq),
        algos: reference.extra.iter().map(|(_, h)| as_u64(h)).collect(),
        listed,
        query_hashes,
        query_count: query.len(),
    })
}

fn hash_edit(
    case: &Case,
    ci: usize,
    ii: usize,
    img: &DynamicImage,
    original: &Original,
    peer_dir: Option<&Path>,
) -> Result<Edited> {
    let bytes = case.edit.render(img, ii as u64)?;
    let mut out = Edited { bytes: bytes.len(), ..Default::default() };
    let fast =
        hash_image(&bytes, &HashOptions { regions: true, ..options(PdqMode::Fast, vec![]) }).ok();
    out.fast = fast.as_ref().map(|h| Pdq8::from(&h.pdq));
    if case.table {
        if let Ok(h) = hash_image(&bytes, &options(PdqMode::Reference, Algo::ALL.to_vec())) {
            out.reference = Some(Pdq8::from(&h.pdq));
            out.algos = Some(h.extra.iter().map(|(_, v)| as_u64(v)).collect());
        }
        if let Some(dir) = peer_dir {
            let ext = match case.edit.encoding() {
                crate::edits::Encoding::Png => "png",
                crate::edits::Encoding::Jpeg(_) => "jpg",
            };
            let path = dir.join(format!("{ci:03}-{ii:04}.{ext}"));
            std::fs::write(&path, &bytes)?;
            out.peer_file = Some(path);
        }
    }
    // As `schoon scan` decides (`schoon_core::set::lookup_hashed`): windows only when plain
    // PDQ misses and the upload's quality is at least the minimum.
    let plain = out.fast.and_then(|q| q.query_distance(&original.fast.hash));
    if plain.is_none_or(|d| d > PDQ_THRESHOLD)
        && let Some(h) = fast.as_ref().filter(|h| h.pdq.quality >= PDQ_MIN_QUALITY)
        && let Some(plane) = &h.plane
    {
        let qv = robust::Scheme::standard().query_variants(plane);
        out.extra = robust::extra_distance(&original.listed, &qv).map(|m| m.distance);
    }
    Ok(out)
}

/// Hashes everything and computes every statistic.
#[allow(clippy::print_stderr)]
pub fn run(config: Config) -> Result<Run> {
    if !config.corpus.is_dir() {
        bail!(
            "no corpus at {}: pass --corpus DIR with a folder of distinct images \
             (the default is ../shared/corpus/bsds500 beside the repository)",
            config.corpus.display()
        );
    }
    let mut paths = list_images(&config.corpus)?;
    if let Some(n) = config.limit {
        paths.truncate(n);
    }
    if paths.len() < 2 {
        bail!("{} holds {} images; at least 2 are needed", config.corpus.display(), paths.len());
    }
    let files: Vec<(PathBuf, Vec<u8>)> = paths
        .iter()
        .map(|p| {
            Ok((p.clone(), std::fs::read(p).with_context(|| format!("reading {}", p.display()))?))
        })
        .collect::<Result<_>>()?;
    eprintln!("{} images from {}", files.len(), config.corpus.display());
    let (speed_rows, speeds) = measure_speed(&files);

    let started = Instant::now();
    let originals: Vec<Original> = files
        .par_iter()
        .map(|(p, b)| {
            let name = p.strip_prefix(&config.corpus).unwrap_or(p).display().to_string();
            hash_original(name, p.clone(), b)
        })
        .collect::<Result<_>>()?;
    let decoded: Vec<DynamicImage> = files
        .par_iter()
        .map(|(p, b)| {
            image::load_from_memory(b).with_context(|| format!("decoding {}", p.display()))
        })
        .collect::<Result<_>>()?;
    let query_windows = originals.first().map_or(0, |o| o.query_count);

    let peer_python = config.peer.clone();
    let peer_dir = match &peer_python {
        Ok(_) => {
            let dir = std::env::temp_dir().join(format!("schoon-eval-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            Some(dir)
        }
        Err(_) => None,
    };
    let cases = cases();
    let n = originals.len();
    let total = cases.len() * n;
    eprintln!("{} edits x {} images = {} edited files", cases.len(), n, total);
    let done = AtomicUsize::new(0);
    let flat: Vec<Edited> = (0..total)
        .into_par_iter()
        .map(|k| {
            let (ci, ii) = (k / n, k % n);
            let r =
                hash_edit(&cases[ci], ci, ii, &decoded[ii], &originals[ii], peer_dir.as_deref());
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_multiple_of((total / 20).max(1)) {
                eprintln!(
                    "  {d}/{total} edited files hashed ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            r.with_context(|| format!("{} of {}", cases[ci].edit.name(), originals[ii].name))
        })
        .collect::<Result<_>>()?;
    let mut edited: Vec<Vec<Edited>> = Vec::with_capacity(cases.len());
    let mut it = flat.into_iter();
    for _ in 0..cases.len() {
        edited.push(it.by_ref().take(n).collect());
    }
    drop(decoded);

    let peer_result: Result<(PeerHashes, PeerHashes), String> = match (&peer_python, &peer_dir) {
        (Ok(python), Some(dir)) => {
            let mut list: Vec<PathBuf> = originals.iter().map(|o| o.path.clone()).collect();
            list.extend(edited.iter().flatten().filter_map(|e| e.peer_file.clone()));
            eprintln!("imagehash peer: {} files through {}", list.len(), python.display());
            let r =
                peer::run(python, &list).map_err(|e| format!("the imagehash peer failed: {e:#}"));
            let _ = std::fs::remove_dir_all(dir);
            r.map(|all| {
                let (orig, rest) = all.split_at(n);
                (orig.to_vec(), rest.to_vec())
            })
        }
        (Err(why), _) => Err(why.clone()),
        _ => Err("no temporary folder".into()),
    };
    let hashing_seconds = started.elapsed().as_secs_f64();
    eprintln!("hashing done in {hashing_seconds:.0} s; computing statistics");

    let mut algos = Vec::new();
    let seconds = |id: AlgoId| speed_rows.iter().find(|(a, _)| *a == id).map(|(_, s)| *s);
    algos.push(pdq_result(AlgoId::PdqFast, &originals, &cases, &edited, seconds(AlgoId::PdqFast)));
    algos.push(pdq_result(
        AlgoId::PdqReference,
        &originals,
        &cases,
        &edited,
        seconds(AlgoId::PdqReference),
    ));
    let robust_seconds = match (seconds(AlgoId::PdqFast), speeds.decode, speeds.query) {
        (Some(a), Some(b), Some(c)) => Some(a + b + c),
        _ => None,
    };
    algos.push(robust_result(&originals, &cases, &edited, robust_seconds));
    for (k, a) in Algo::ALL.iter().enumerate() {
        let id = AlgoId::Secondary(*a);
        let orig: Vec<Option<u64>> = originals.iter().map(|o| o.algos.get(k).copied()).collect();
        let same = |ci: usize, ii: usize| -> Option<u64> {
            edited[ci][ii].algos.as_ref().and_then(|v| v.get(k).copied())
        };
        algos.push(plain_result(id, &orig, &cases, &same, seconds(id)));
    }
    let peer_count = match &peer_result {
        Ok((orig, rest)) => {
            let mut file_index = std::collections::HashMap::new();
            let mut k = 0usize;
            for (ci, row) in edited.iter().enumerate() {
                for (ii, e) in row.iter().enumerate() {
                    if e.peer_file.is_some() {
                        file_index.insert((ci, ii), k);
                        k += 1;
                    }
                }
            }
            for (which, id) in [(0usize, AlgoId::PeerPhash), (1, AlgoId::PeerDhash)] {
                let o: Vec<Option<u64>> = orig.iter().map(|h| h.map(|h| h.hashes[which])).collect();
                let same = |ci: usize, ii: usize| -> Option<u64> {
                    file_index
                        .get(&(ci, ii))
                        .and_then(|&k| rest.get(k).copied().flatten())
                        .map(|h| h.hashes[which])
                };
                let secs = median_of(
                    orig.iter()
                        .take(SPEED_IMAGES)
                        .flatten()
                        .map(|h| h.decode + h.seconds[which])
                        .collect(),
                );
                algos.push(plain_result(id, &o, &cases, &same, secs));
            }
            Ok(orig.len() + rest.len())
        }
        Err(why) => Err(why.clone()),
    };
    Ok(Run {
        config,
        originals,
        cases,
        edited,
        algos,
        speeds,
        peer_status: peer_count,
        hashing_seconds,
        query_windows,
    })
}

fn finish(
    id: AlgoId,
    distinct: Vec<u32>,
    distinct_total: usize,
    comparisons: u64,
    same: Vec<Vec<Option<u32>>>,
    evaluated: Vec<bool>,
    seconds: Option<f64>,
) -> AlgoResult {
    let fit = TailFit::fit(&distinct, id.bits());
    let zero_fp = stats::zero_fp_threshold(&distinct);
    let fixed = matches!(id, AlgoId::PdqFast | AlgoId::PdqReference | AlgoId::PdqRobust)
        .then_some(PDQ_THRESHOLD);
    AlgoResult {
        id,
        distinct,
        distinct_total,
        comparisons,
        same,
        evaluated,
        fit,
        zero_fp,
        fixed,
        seconds,
    }
}

fn pairs(n: usize) -> impl ParallelIterator<Item = (usize, usize)> {
    (0..n).into_par_iter().flat_map_iter(move |i| (i + 1..n).map(move |j| (i, j)))
}

fn pdq_result(
    id: AlgoId,
    originals: &[Original],
    cases: &[Case],
    edited: &[Vec<Edited>],
    seconds: Option<f64>,
) -> AlgoResult {
    let pick = |o: &Original| if id == AlgoId::PdqFast { o.fast } else { o.reference };
    let n = originals.len();
    let distinct: Vec<u32> = pairs(n)
        .filter_map(|(i, j)| {
            let (a, b) = (pick(&originals[i]), pick(&originals[j]));
            match (a.query_distance(&b.hash), b.query_distance(&a.hash)) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            }
        })
        .collect();
    let comparisons = 16 * (n * (n - 1) / 2) as u64;
    let mut evaluated = Vec::new();
    let same = cases
        .iter()
        .enumerate()
        .map(|(ci, case)| {
            let ok = id == AlgoId::PdqFast || case.table;
            evaluated.push(ok);
            (0..n)
                .map(|ii| {
                    let q = if id == AlgoId::PdqFast {
                        edited[ci][ii].fast
                    } else {
                        edited[ci][ii].reference
                    };
                    q.and_then(|q| q.query_distance(&pick(&originals[ii]).hash))
                })
                .collect()
        })
        .collect();
    finish(id, distinct, n * (n - 1) / 2, comparisons, same, evaluated, seconds)
}

/// Smallest distance between any listed region hash of `l` and any query region hash of `q`.
fn extra_between(l: &Original, q: &Original) -> Option<u32> {
    let listed: Vec<[u64; 4]> = l.listed.iter().map(|(_, p)| p.hash.words()).collect();
    let mut best: Option<u32> = None;
    for a in &listed {
        for b in &q.query_hashes {
            let d = (a[0] ^ b[0]).count_ones()
                + (a[1] ^ b[1]).count_ones()
                + (a[2] ^ b[2]).count_ones()
                + (a[3] ^ b[3]).count_ones();
            if best.is_none_or(|x| d < x) {
                best = Some(d);
            }
        }
    }
    best
}

/// The robust row's distance: the plain distance, or the extra distance shifted so that one
/// threshold (31) applies to both rules.
fn robust_combine(plain: Option<u32>, extra: Option<u32>) -> Option<u32> {
    let shift = |e: u32| (e + PDQ_THRESHOLD).saturating_sub(robust::EXTRA_THRESHOLD);
    match (plain, extra.map(shift)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn robust_result(
    originals: &[Original],
    cases: &[Case],
    edited: &[Vec<Edited>],
    seconds: Option<f64>,
) -> AlgoResult {
    let n = originals.len();
    let distinct: Vec<u32> = pairs(n)
        .filter_map(|(i, j)| {
            let (a, b) = (&originals[i], &originals[j]);
            let plain =
                match (a.fast.query_distance(&b.fast.hash), b.fast.query_distance(&a.fast.hash)) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
            let extra = match (extra_between(a, b), extra_between(b, a)) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            robust_combine(plain, extra)
        })
        .collect();
    // Comparisons: 8 plain per direction, plus listed x query variants x 8 per direction.
    let mut comparisons = 0u64;
    for (i, a) in originals.iter().enumerate() {
        for (j, b) in originals.iter().enumerate() {
            if i != j {
                comparisons += 8 + (a.listed.len() * b.query_hashes.len()) as u64;
            }
        }
    }
    let same = cases
        .iter()
        .enumerate()
        .map(|(ci, _)| {
            (0..n)
                .map(|ii| {
                    let e = &edited[ci][ii];
                    let plain = e.fast.and_then(|q| q.query_distance(&originals[ii].fast.hash));
                    robust_combine(plain, e.extra)
                })
                .collect()
        })
        .collect();
    finish(
        AlgoId::PdqRobust,
        distinct,
        n * (n - 1) / 2,
        comparisons,
        same,
        vec![true; cases.len()],
        seconds,
    )
}

fn plain_result(
    id: AlgoId,
    orig: &[Option<u64>],
    cases: &[Case],
    same_hash: &(dyn Fn(usize, usize) -> Option<u64> + Sync),
    seconds: Option<f64>,
) -> AlgoResult {
    let n = orig.len();
    let distinct: Vec<u32> = pairs(n)
        .filter_map(|(i, j)| match (orig[i], orig[j]) {
            (Some(a), Some(b)) => Some((a ^ b).count_ones()),
            _ => None,
        })
        .collect();
    let evaluated: Vec<bool> = cases.iter().map(|c| c.table).collect();
    let same = (0..cases.len())
        .map(|ci| {
            (0..n)
                .map(|ii| match (orig[ii], same_hash(ci, ii)) {
                    (Some(a), Some(b)) if cases[ci].table => Some((a ^ b).count_ones()),
                    _ => None,
                })
                .collect()
        })
        .collect();
    finish(id, distinct, n * (n - 1) / 2, (n * (n - 1) / 2) as u64, same, evaluated, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_combine_shifts_the_extra_distance() {
        assert_eq!(robust_combine(None, None), None);
        assert_eq!(robust_combine(Some(40), None), Some(40));
        let e = robust::EXTRA_THRESHOLD;
        // An extra distance exactly at its threshold lands exactly at 31.
        assert_eq!(robust_combine(None, Some(e)), Some(PDQ_THRESHOLD));
        assert_eq!(robust_combine(Some(10), Some(e)), Some(10));
    }

    #[test]
    fn dihedral_rule_respects_quality() {
        let mut h = PdqHash::ZERO;
        h.set_bit(3);
        let q = Pdq8 { hash: h, quality: 49, dihedral: [h; 8] };
        assert_eq!(q.query_distance(&PdqHash::ZERO), None);
        let mut q = q;
        q.quality = 50;
        q.dihedral[5] = PdqHash::ZERO;
        assert_eq!(q.query_distance(&PdqHash::ZERO), Some(0));
    }
}
