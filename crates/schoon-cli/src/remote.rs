//! `schoon scan --remote`: hash locally, check every file against the worker's public filter
//! locally, and send only the filter's candidates to the worker's `POST /v1/check`, in batches.
//!
//! Innocent files (filter misses) never leave the machine, not even as hashes. The filter is
//! downloaded once (`GET /v1/filter`, a 302 to `/v1/filter/{version}`), verified with the
//! list owner's public key and cached with its version and ETag; a later run revalidates it
//! with `If-None-Match` and refuses a version older than the one cached.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use schoon_core::set::{Filter, HashKind, MatchOptions, Trust, check_hashed};
use schoon_core::{ExactHashes, HashOptions, ImageHashes};
use serde_json::{Map, Value, json};
use ureq::http::Response;

use crate::cmd::hash::{hash_input, window_hashes};
use crate::files::{self, Input};
use crate::summary::Tally;

/// The worker's documented `CHECK_MAX_LINES` default: the most lines one request may carry.
pub const CHECK_MAX_LINES: usize = 1000;
/// The worker's documented `CHECK_MAX_BYTES` default: the largest request body.
pub const CHECK_MAX_BYTES: usize = 1 << 20;
/// The largest filter accepted from a worker (a 10^7-entry filter is about 50 MB).
pub const MAX_FILTER_BYTES: u64 = 512 << 20;
/// The largest `/v1/check` answer read (a line per candidate, receipts included).
const MAX_ANSWER_BYTES: u64 = 64 << 20;
/// Results waiting behind an unanswered candidate before its batch is sent anyway.
const MAX_PENDING: usize = 4096;
/// The longest wait between two attempts (also caps `Retry-After`).
const MAX_WAIT: Duration = Duration::from_secs(120);
/// The checkpoint format's version (first line of the journal).
const CHECKPOINT_VERSION: u64 = 1;

/// The `--remote` options of `schoon scan`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Remote scan (--remote)")]
pub struct RemoteArgs {
    /// Base URL of a schoon worker (https://…; plain http only for 127.0.0.1, ::1 or
    /// localhost). Files are hashed and checked against the worker's public filter here; only
    /// the filter's candidates are sent to its `/v1/check`, so innocent hashes never leave the
    /// machine. Needs --public-key (the list owner's key the filter must be signed with).
    #[arg(long, value_name = "URL", conflicts_with_all = ["index", "filter"])]
    pub remote: Option<String>,
    /// A server-scope tenant key for `/v1/check`. Better taken from the environment variable
    /// SCHOON_API_KEY than from the command line (where other users can see it).
    #[arg(long = "api-key", value_name = "KEY", env = "SCHOON_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Where the downloaded filter is cached with its version and ETag (default: schoon in the
    /// user's cache directory, $XDG_CACHE_HOME/schoon or ~/.cache/schoon).
    #[arg(long = "cache-dir", value_name = "DIR", requires = "remote")]
    pub cache_dir: Option<PathBuf>,
    /// Candidates per `/v1/check` request (1..=1000, the worker's CHECK_MAX_LINES; requests are
    /// also kept under its 1 MiB CHECK_MAX_BYTES).
    #[arg(long, value_name = "N", default_value_t = 250,
          value_parser = clap::value_parser!(u32).range(1..=CHECK_MAX_LINES as i64))]
    pub batch: u32,
    /// Journal finished results to FILE (append-only, in input order). Re-running with the same
    /// FILE prints the journaled results without hashing or sending them again and continues
    /// with the rest. A journal of another input list, remote or options is refused.
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub checkpoint: Option<PathBuf>,
    /// Retries of a request after 429, 5xx or a connection failure (exponential backoff with
    /// jitter, at least the worker's Retry-After); then the batch's files get error verdicts.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,
    /// The first retry's backoff in milliseconds (doubled per retry, at most 120 s).
    #[arg(long = "backoff-ms", value_name = "MS", default_value_t = 500)]
    pub backoff_ms: u64,
    /// Timeout of one request in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout: u64,
    /// Print a summary to stderr at the end: files, candidates sent, requests, retries and the
    /// filter version (one JSON object).
    #[arg(long, requires = "remote")]
    pub stats: bool,
}

/// What a remote scan needs besides the remote options.
pub struct ScanSetup<'a> {
    pub trust: Trust,
    pub match_options: MatchOptions,
    pub hash_options: HashOptions,
    pub no_regions: bool,
    pub jobs: usize,
    pub paths: &'a [PathBuf],
    /// Print the human summary at the end (never together with `--stats`).
    pub summary: bool,
}

/// A failed request, as a lowercase message.
#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// The worker's address, key and retry policy.
struct Client {
    base: String,
    origin: String,
    api_key: String,
    agent: ureq::Agent,
    retries: u32,
    backoff: Duration,
    requests: u64,
    retried: u64,
}

/// Splits `http(s)://host[:port][/prefix]` into the base (no trailing slash) and the origin,
/// refusing plain http except to the loopback host.
fn parse_base(url: &str) -> Result<(String, String)> {
    let base = url.trim_end_matches('/');
    let (scheme, rest) = match base.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {
            (s.to_ascii_lowercase(), r)
        }
        _ => bail!("--remote {url}: not an http or https URL"),
    };
    if rest.contains(['?', '#']) {
        bail!("--remote {url}: a base URL has no query or fragment");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        bail!("--remote {url}: no host (or credentials in the URL)");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "::1";
    if scheme == "http" && !loopback {
        bail!("--remote {url}: plain http would send the API key in the clear; use https");
    }
    Ok((format!("{scheme}://{rest}"), format!("{scheme}://{authority}")))
}

/// The `Retry-After` of an answer, when it is a number of seconds.
fn retry_after(resp: &Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A random point in [d/2, d] (jitter spreads the retries of many clients).
fn jitter(d: Duration) -> Duration {
    let r = getrandom::u64().unwrap_or(0) % 1_000_001;
    let half = d / 2;
    half + Duration::from_nanos((half.as_nanos() as u64).saturating_mul(r) / 1_000_000)
}

/// The message of a worker's error body (`{"error": {"code", "message"}}`), if it has one.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
    let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
    Some(format!("{code}: {message}"))
}

impl Client {
    fn new(url: &str, api_key: String, args: &RemoteArgs) -> Result<Client> {
        let (base, origin) = parse_base(url)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(args.timeout.max(1))))
            .user_agent(concat!("schoon/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            base,
            origin,
            api_key,
            agent: config.into(),
            retries: args.retries,
            backoff: Duration::from_millis(args.backoff_ms),
            requests: 0,
            retried: 0,
        })
    }

    /// A path or URL from the worker (a `Location`) made absolute.
    fn absolute(&self, location: &str) -> String {
        if location.starts_with("https://") || location.starts_with("http://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// Runs `call` until it answers with something other than 429 or 5xx and without a
    /// connection failure, at most `1 + retries` times.
    fn with_retries(
        &mut self,
        what: &str,
        mut call: impl FnMut(&ureq::Agent) -> std::result::Result<Response<ureq::Body>, ureq::Error>,
    ) -> std::result::Result<Response<ureq::Body>, Failure> {
        let attempts = self.retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests += 1;
            let (why, after) = match call(&self.agent) {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    if s != 429 && !(500..=599).contains(&s) {
                        return Ok(resp);
                    }
                    let after = retry_after(&resp);
                    let mut resp = resp;
                    let body = resp.body_mut().with_config().limit(64 << 10).read_to_vec();
                    let detail = body.ok().and_then(|b| error_message(&b));
                    let why = match detail {
                        Some(d) => format!("http {s} ({d})"),
                        None => format!("http {s}"),
                    };
                    (why, after)
                }
                Err(e) if retryable(&e) => (format!("{e}").to_lowercase(), None),
                Err(e) => return Err(Failure(format!("{what}: {}", e.to_string().to_lowercase()))),
            };
            if attempt >= attempts {
                return Err(Failure(format!("{what}: {why} (attempt {attempt} of {attempts})")));
            }
            self.retried += 1;
            let backoff = self.backoff.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_WAIT);
            let wait = jitter(backoff).max(after.unwrap_or_default()).min(MAX_WAIT);
            std::thread::sleep(wait);
        }
    }
}

/// Transport failures worth another attempt (not bad URLs or TLS misconfiguration).
fn retryable(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

/// The default cache directory.
fn default_cache_dir() -> Result<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("XDG_CACHE_HOME") {
        return Ok(d.join("schoon"));
    }
    if let Some(d) = var("LOCALAPPDATA") {
        return Ok(d.join("schoon"));
    }
    if let Some(h) = var("HOME") {
        return Ok(h.join(".cache").join("schoon"));
    }
    bail!("no cache directory (set XDG_CACHE_HOME or HOME, or pass --cache-dir)")
}

/// What the cache holds for one remote.
struct Cached {
    version: u64,
    etag: Option<String>,
    bytes: Option<Vec<u8>>,
}

/// The cache of one remote: `<cache-dir>/filters/<first 32 hex of sha256(base URL)>/`, holding
/// `filter` (the signed bytes) and `filter.json` (`{remote, version, etag, sha256}`).
struct Cache {
    dir: PathBuf,
}

impl Cache {
    fn new(root: &Path, base: &str) -> Cache {
        let id = schoon_core::sha256(base.as_bytes()).to_hex();
        Cache { dir: root.join("filters").join(id.get(..32).unwrap_or(&id)) }
    }

    fn load(&self) -> Result<Option<Cached>> {
        let meta = match std::fs::read(self.dir.join("filter.json")) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context(format!("reading {}", self.dir.display())),
        };
        let meta: Value = serde_json::from_slice(&meta)
            .with_context(|| format!("the filter cache in {} is damaged", self.dir.display()))?;
        let Some(version) = meta.get("version").and_then(Value::as_u64) else {
            bail!("the filter cache in {} has no version", self.dir.display());
        };
        let etag = meta.get("etag").and_then(Value::as_str).map(str::to_owned);
        let sha = meta.get("sha256").and_then(Value::as_str).unwrap_or_default();
        // Bytes that do not match the recorded digest are not used (the version still counts).
        let bytes = std::fs::read(self.dir.join("filter"))
            .ok()
            .filter(|b| schoon_core::sha256(b).to_hex() == sha);
        Ok(Some(Cached { version, etag, bytes }))
    }

    fn store(&self, base: &str, version: u64, etag: Option<&str>, bytes: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let write = |name: &str, data: &[u8]| -> Result<()> {
            let tmp = self.dir.join(format!("{name}.tmp{}", std::process::id()));
            std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, self.dir.join(name))
                .with_context(|| format!("writing {}", self.dir.display()))
        };
        let meta = json!({
            "remote": base,
            "version": version,
            "etag": etag,
            "sha256": schoon_core::sha256(bytes).to_hex(),
        });
        write("filter", bytes)?;
        write("filter.json", meta.to_string().as_bytes())
    }
}

/// How the filter was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterSource {
    Downloaded,
    Revalidated,
}

/// Downloads (or revalidates the cached copy of) the worker's current filter and verifies it.
fn fetch_filter(
    client: &mut Client,
    cache: &Cache,
    trust: &Trust,
) -> Result<(Filter, FilterSource)> {
    let cached = cache.load()?;
    let held = cached.as_ref().map_or(0, |c| c.version);
    let current = format!("{}/v1/filter", client.base);
    let mut resp = client.with_retries("get /v1/filter", |a| a.get(&current).call())?;
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
    let _ = resp.body_mut().with_config().limit(64 << 10).read_to_vec();
    let Some(location) = location.filter(|_| (300..400).contains(&status)) else {
        bail!("get {current}: expected a redirect to the current filter, got http {status}");
    };
    let url = client.absolute(&location);
    let version =
        url.rsplit('/').next().and_then(|v| v.parse::<u64>().ok()).with_context(|| {
            format!("get {current}: no filter version in the redirect to {url}")
        })?;
    if version < held {
        bail!(
            "the worker serves filter version {version}, older than the cached version {held}: \
             refusing to go back (an older filter may miss newly listed images)"
        );
    }
    let etag = cached.as_ref().filter(|c| c.bytes.is_some()).and_then(|c| c.etag.clone());
    let mut resp = client.with_retries("get the filter", |a| {
        let mut req = a.get(&url).header("accept", "application/octet-stream");
        if let Some(tag) = &etag {
            req = req.header("if-none-match", tag);
        }
        req.call()
    })?;
    let status = resp.status().as_u16();
    let (bytes, source, new_etag) = match status {
        304 => match cached.and_then(|c| c.bytes.map(|b| (b, c.etag))) {
            Some((b, tag)) => (b, FilterSource::Revalidated, tag),
            None => bail!("get {url}: 304 without a cached filter"),
        },
        200 => {
            let tag = resp.headers().get("etag").and_then(|t| t.to_str().ok()).map(str::to_owned);
            let b = resp.body_mut().with_config().limit(MAX_FILTER_BYTES).read_to_vec().map_err(
                |e| match e {
                    ureq::Error::BodyExceedsLimit(_) => {
                        anyhow::anyhow!(
                            "get {url}: the filter is larger than {MAX_FILTER_BYTES} bytes"
                        )
                    }
                    e => anyhow::anyhow!("get {url}: {}", e.to_string().to_lowercase()),
                },
            )?;
            (b, FilterSource::Downloaded, tag)
        }
        s => bail!("get {url}: http {s}"),
    };
    let filter = Filter::from_bytes(&bytes, trust)
        .with_context(|| format!("the filter from {url} does not verify"))?;
    if filter.version() != version {
        bail!("the filter from {url} is version {}, not {version}", filter.version());
    }
    if source == FilterSource::Downloaded {
        cache.store(&client.base, version, new_etag.as_deref(), &bytes)?;
    }
    Ok((filter, source))
}

/// One input after hashing and the local filter check.
enum Prepared {
    /// A final result (a filter miss, or a file that could not be read).
    Done(Map<String, Value>),
    /// A filter candidate to confirm at the worker.
    Candidate {
        /// The output line so far (`path`).
        path: String,
        /// The `/v1/check` line without `id`.
        line: Map<String, Value>,
        /// Why PDQ could not be computed, when the exact hashes alone were flagged.
        image_error: Option<String>,
    },
}

/// The `/v1/check` line of a filter candidate: only the hashes of the kinds the filter flagged:
/// each flagged exact digest, and for a PDQ candidate (whole image, or region windows after a
/// whole-image miss) `pdq`, `quality`, `pdq_dihedral` and the hashes of *all* its region
/// windows, so that the worker decides a candidate as a local `scan --index` would (the filter
/// flags a window only when it shares a band with a listed region; the index also finds
/// windows within the distance that share none). `None` when nothing was flagged.
pub fn candidate_line(
    filter: &Filter,
    exact: &ExactHashes,
    image: Option<&ImageHashes>,
    options: &MatchOptions,
) -> Option<Map<String, Value>> {
    let (hits, windows) = check_hashed(filter, exact, image, options);
    if !hits.is_candidate() && windows.is_empty() {
        return None;
    }
    let mut line = Map::new();
    let mut pdq = !windows.is_empty();
    for kind in &hits.kinds {
        match kind {
            HashKind::Md5 => line.insert("md5".into(), json!(exact.md5.to_hex())),
            HashKind::Sha1 => line.insert("sha1".into(), json!(exact.sha1.to_hex())),
            HashKind::Sha256 => line.insert("sha256".into(), json!(exact.sha256.to_hex())),
            HashKind::Pdq => {
                pdq = true;
                None
            }
        };
    }
    if let (true, Some(image)) = (pdq, image) {
        line.insert("pdq".into(), json!(image.pdq.hash.to_hex()));
        line.insert("quality".into(), json!(image.pdq.quality));
        let all: Vec<String> = image.pdq.dihedral.iter().map(|d| d.to_hex()).collect();
        line.insert("pdq_dihedral".into(), json!(all));
        let all = window_hashes(image);
        if !all.is_empty() {
            line.insert("windows".into(), json!(all));
        }
    }
    Some(line)
}

fn prepare(
    input: &Input,
    filter: &Filter,
    hash_options: &HashOptions,
    options: &MatchOptions,
) -> Prepared {
    let h = hash_input(input, hash_options);
    let path = h.path.to_string_lossy().into_owned();
    let mut o = Map::new();
    o.insert("path".into(), json!(path));
    let Some(exact) = h.exact else {
        o.insert("verdict".into(), json!("error"));
        o.insert("matches".into(), json!([]));
        o.insert("error".into(), json!(h.image.as_ref().err()));
        return Prepared::Done(o);
    };
    match candidate_line(filter, &exact, h.image.as_ref().ok(), options) {
        Some(line) => Prepared::Candidate { path, line, image_error: h.image.err() },
        None => {
            // As a local scan: a file whose image could not be decoded is an error, not clean.
            match &h.image {
                Ok(_) => o.insert("verdict".into(), json!("clean")),
                Err(_) => o.insert("verdict".into(), json!("error")),
            };
            o.insert("matches".into(), json!([]));
            if let Err(e) = &h.image {
                o.insert("error".into(), json!(e));
            }
            Prepared::Done(o)
        }
    }
}

/// The id sent for a candidate: its path when that fits the worker's 1..=512 bytes, else its
/// position in the input list.
fn object_id(path: &str, position: usize) -> String {
    if !path.is_empty() && path.len() <= 512 { path.to_owned() } else { format!("#{position}") }
}

/// The append-only journal of `--checkpoint`.
///
/// Line 1 is a header naming the run: `{"schoon_checkpoint": 1, "remote", "inputs",
/// "inputs_sha256", "options"}`; then the output lines, exactly as printed, in input order.
/// A torn last line (no newline) is dropped when the journal is reopened.
struct Journal {
    file: std::io::BufWriter<File>,
}

/// The header of a journal for this run.
fn journal_header(base: &str, inputs: &[Input], options: &str) -> Value {
    let mut list = Vec::new();
    for i in inputs {
        list.extend_from_slice(i.path().as_os_str().as_encoded_bytes());
        list.push(b'\n');
    }
    json!({
        "schoon_checkpoint": CHECKPOINT_VERSION,
        "remote": base,
        "inputs": inputs.len(),
        "inputs_sha256": schoon_core::sha256(&list).to_hex(),
        "options": options,
    })
}

impl Journal {
    /// Opens (or creates) the journal; returns it and the journaled output lines.
    fn open(path: &Path, header: &Value, inputs: &[Input]) -> Result<(Journal, Vec<String>)> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening the checkpoint {shown}"))?;
        let mut lines = Vec::new();
        let mut keep = 0u64;
        {
            let mut reader = BufReader::new(&mut file);
            let mut first = true;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader
                    .by_ref()
                    .take(1 << 24)
                    .read_until(b'\n', &mut buf)
                    .with_context(|| format!("reading the checkpoint {shown}"))?;
                if n == 0 || buf.last() != Some(&b'\n') {
                    break; // the end, or a torn last line
                }
                let text = std::str::from_utf8(&buf[..n - 1])
                    .ok()
                    .filter(|t| !t.is_empty())
                    .with_context(|| format!("the checkpoint {shown} is damaged"))?;
                if first {
                    let found: Value = serde_json::from_str(text)
                        .with_context(|| format!("{shown} is not a schoon checkpoint"))?;
                    if found.get("schoon_checkpoint").is_none() {
                        bail!("{shown} is not a schoon checkpoint");
                    }
                    if &found != header {
                        bail!(
                            "the checkpoint {shown} was written for another input list, remote \
                             or options ({found}); use another --checkpoint file or delete it"
                        );
                    }
                    first = false;
                } else {
                    let v: Value = serde_json::from_str(text)
                        .with_context(|| format!("the checkpoint {shown} is damaged"))?;
                    let i = lines.len();
                    let expected = inputs.get(i).map(|i| i.path().to_string_lossy());
                    if v.get("path").and_then(Value::as_str) != expected.as_deref() {
                        bail!(
                            "the checkpoint {shown} does not follow the input list at line {}",
                            i + 2
                        );
                    }
                    lines.push(text.to_owned());
                }
                keep += n as u64;
            }
            if first {
                keep = 0;
            }
        }
        file.set_len(keep).with_context(|| format!("truncating the checkpoint {shown}"))?;
        file.seek(SeekFrom::Start(keep))?;
        let mut journal = Journal { file: std::io::BufWriter::new(file) };
        if keep == 0 {
            journal.file.write_all(header.to_string().as_bytes())?;
            journal.file.write_all(b"\n")?;
            journal.file.flush()?;
        }
        Ok((journal, lines))
    }
}

/// Counters for `--stats`.
#[derive(Default)]
struct Stats {
    files: u64,
    replayed: u64,
    candidates: u64,
    failed: u64,
}

/// Orders results: final ones go out as soon as every earlier one has, candidates wait for
/// their batch's answer.
struct Pipeline<'a, W: Write> {
    client: &'a mut Client,
    batch: usize,
    queue: VecDeque<(usize, Prepared)>,
    waiting: usize,
    out: W,
    journal: Option<Journal>,
    found: bool,
    errors: bool,
    stats: Stats,
    tally: Tally,
}

impl<W: Write> Pipeline<'_, W> {
    fn emit_line(&mut self, line: &str, journal: bool) -> Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        if let (true, Some(j)) = (journal, &mut self.journal) {
            j.file.write_all(line.as_bytes())?;
            j.file.write_all(b"\n")?;
        }
        Ok(())
    }

    fn note(&mut self, o: &Map<String, Value>) {
        self.tally.count(o.get("verdict").and_then(Value::as_str).unwrap_or("error"));
        if let Some("match" | "candidate") = o.get("verdict").and_then(Value::as_str) {
            self.found = true;
        }
        if o.contains_key("error") || o.get("verdict").and_then(Value::as_str) == Some("error") {
            self.errors = true;
        }
    }

    /// Prints the final results at the front of the queue.
    fn drain(&mut self) -> Result<()> {
        let mut any = false;
        while let Some((_, Prepared::Done(_))) = self.queue.front() {
            let Some((_, Prepared::Done(o))) = self.queue.pop_front() else { break };
            self.note(&o);
            self.stats.files += 1;
            // A result whose batch failed at the worker is not final: the journal stops
            // before it, so a re-run with the checkpoint tries it (and what follows) again.
            let failed = o.contains_key("remote_error");
            let mut o = o;
            o.remove("remote_error");
            if failed && self.journal.is_some() {
                if let Some(j) = &mut self.journal {
                    j.file.flush()?;
                }
                self.journal = None;
            }
            self.emit_line(&Value::Object(o).to_string(), !failed)?;
            any = true;
        }
        if any {
            if let Some(j) = &mut self.journal {
                j.file.flush()?;
            }
            self.out.flush()?;
        }
        Ok(())
    }

    fn push(&mut self, position: usize, p: Prepared) -> Result<()> {
        if matches!(p, Prepared::Candidate { .. }) {
            self.waiting += 1;
        }
        self.queue.push_back((position, p));
        self.drain()?;
        if self.waiting >= self.batch || (self.waiting > 0 && self.queue.len() >= MAX_PENDING) {
            self.send_waiting()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.waiting > 0 {
            self.send_waiting()?;
        }
        self.drain()?;
        if let Some(j) = &mut self.journal {
            j.file.flush()?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// Sends every waiting candidate (in requests of at most `batch` lines and
    /// [`CHECK_MAX_BYTES`]) and turns each into a final result.
    fn send_waiting(&mut self) -> Result<()> {
        // (queue slot, request line bytes)
        let mut pending: Vec<(usize, Vec<u8>)> = Vec::new();
        for (slot, (position, p)) in self.queue.iter().enumerate() {
            if let Prepared::Candidate { path, line, .. } = p {
                let mut l = Map::new();
                l.insert("id".into(), json!(object_id(path, *position)));
                l.extend(line.clone());
                pending.push((slot, Value::Object(l).to_string().into_bytes()));
            }
        }
        let mut start = 0;
        while start < pending.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < pending.len() && end - start < self.batch {
                let n = pending.get(end).map_or(0, |(_, b)| b.len() + 1);
                if end > start && bytes + n > CHECK_MAX_BYTES {
                    break;
                }
                bytes += n;
                end += 1;
            }
            let chunk = pending.get(start..end).unwrap_or_default();
            let answers = self.check(chunk);
            for (k, (slot, _)) in chunk.iter().enumerate() {
                let answer = match &answers {
                    Ok(a) => a
                        .get(k)
                        .cloned()
                        .unwrap_or_else(|| Err("the worker did not answer this line".to_owned())),
                    Err(f) => Err(f.to_string()),
                };
                self.resolve(*slot, answer, answers.is_err());
            }
            start = end;
        }
        self.waiting = 0;
        self.drain()
    }

    /// Replaces the candidate in `slot` by its final result.
    fn resolve(&mut self, slot: usize, answer: std::result::Result<Value, String>, failed: bool) {
        let Some((_, p)) = self.queue.get_mut(slot) else { return };
        let Prepared::Candidate { path, image_error, .. } = p else { return };
        let mut o = Map::new();
        o.insert("path".into(), json!(path));
        self.stats.candidates += 1;
        match answer {
            Ok(a) => match a.get("verdict").and_then(Value::as_str) {
                Some("match") => {
                    o.insert("verdict".into(), json!("match"));
                    o.insert("matches".into(), a.get("matches").cloned().unwrap_or(json!([])));
                    if let Some(e) = image_error {
                        o.insert("error".into(), json!(e));
                    }
                }
                Some("clean") => {
                    let v = if image_error.is_some() { "error" } else { "clean" };
                    o.insert("verdict".into(), json!(v));
                    o.insert("matches".into(), json!([]));
                    if let Some(e) = image_error {
                        o.insert("error".into(), json!(e));
                    }
                }
                _ => {
                    let e = a.get("error");
                    let msg = e.and_then(|e| e.get("message")).and_then(Value::as_str);
                    let code = e.and_then(|e| e.get("code")).and_then(Value::as_str);
                    let status = e.and_then(|e| e.get("status")).and_then(Value::as_u64);
                    o.insert("verdict".into(), json!("error"));
                    o.insert("matches".into(), json!([]));
                    o.insert(
                        "error".into(),
                        json!(format!(
                            "the worker refused the line: {} {}: {}",
                            status.map_or("?".to_owned(), |s| s.to_string()),
                            code.unwrap_or("error"),
                            msg.unwrap_or("no message")
                        )),
                    );
                }
            },
            Err(why) => {
                o.insert("verdict".into(), json!("error"));
                o.insert("matches".into(), json!([]));
                o.insert("error".into(), json!(format!("remote check failed: {why}")));
                if failed {
                    self.stats.failed += 1;
                    o.insert("remote_error".into(), json!(true));
                }
            }
        }
        *p = Prepared::Done(o);
    }

    /// One `/v1/check` request: the answer line for each request line, in order.
    fn check(
        &mut self,
        chunk: &[(usize, Vec<u8>)],
    ) -> std::result::Result<Vec<std::result::Result<Value, String>>, Failure> {
        let mut body = Vec::new();
        for (_, line) in chunk {
            body.extend_from_slice(line);
            body.push(b'\n');
        }
        let url = format!("{}/v1/check", self.client.base);
        let auth = format!("Bearer {}", self.client.api_key);
        let mut resp = self.client.with_retries("post /v1/check", |a| {
            a.post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/x-ndjson")
                .header("accept", "application/x-ndjson")
                .send(&body[..])
        })?;
        let status = resp.status().as_u16();
        let text =
            resp.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_vec().map_err(|e| {
                Failure(format!("post /v1/check: {}", e.to_string().to_lowercase()))
            })?;
        if status != 200 {
            let detail = error_message(&text).map(|d| format!(" ({d})")).unwrap_or_default();
            return Err(Failure(format!("post /v1/check: http {status}{detail}")));
        }
        let mut out: Vec<std::result::Result<Value, String>> =
            vec![Err("the worker did not answer this line".to_owned()); chunk.len()];
        for raw in text.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
            let v: Value = serde_json::from_slice(raw)
                .map_err(|e| Failure(format!("post /v1/check: an answer line is not json: {e}")))?;
            let line = v.get("line").and_then(Value::as_u64).unwrap_or(0) as usize;
            if let Some(slot) = line.checked_sub(1).and_then(|i| out.get_mut(i)) {
                *slot = Ok(v);
            }
        }
        Ok(out)
    }
}

/// Runs `schoon scan --remote`.
pub fn run(args: &RemoteArgs, url: &str, setup: ScanSetup<'_>) -> Result<u8> {
    let Some(key) = args.api_key.clone().filter(|k| !k.is_empty()) else {
        bail!("--remote needs an api key: pass --api-key KEY or set SCHOON_API_KEY");
    };
    let mut client = Client::new(url, key, args)?;
    let root = match &args.cache_dir {
        Some(d) => d.clone(),
        None => default_cache_dir()?,
    };
    let cache = Cache::new(&root, &client.base);
    let (filter, source) = fetch_filter(&mut client, &cache, &setup.trust)?;
    let hash_options =
        HashOptions { regions: filter.has_regions() && !setup.no_regions, ..setup.hash_options };
    let listing = files::expand_images(setup.paths, setup.jobs)?;
    let inputs = listing.inputs;
    let options_text = format!(
        "threshold={},min_quality={},regions={},mode={:?}",
        setup.match_options.threshold,
        setup.match_options.min_quality,
        !setup.no_regions,
        hash_options.mode
    );
    let stdout = std::io::stdout();
    let mut pipeline = Pipeline {
        client: &mut client,
        batch: args.batch as usize,
        queue: VecDeque::new(),
        waiting: 0,
        out: std::io::BufWriter::new(stdout.lock()),
        journal: None,
        found: false,
        errors: false,
        stats: Stats::default(),
        tally: Tally::skipping(listing.skipped),
    };
    let mut done = 0;
    if let Some(path) = &args.checkpoint {
        let header = journal_header(&pipeline.client.base, &inputs, &options_text);
        let (journal, lines) = Journal::open(path, &header, &inputs)?;
        for line in &lines {
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) {
                pipeline.note(&o);
            }
            pipeline.emit_line(line, false)?;
        }
        pipeline.out.flush()?;
        done = lines.len();
        pipeline.stats.replayed = done as u64;
        pipeline.stats.files = done as u64;
        pipeline.journal = Some(journal);
    }
    let rest = inputs.get(done..).unwrap_or_default();
    let options = setup.match_options;
    let mut position = done;
    crate::run::ordered(
        rest,
        setup.jobs,
        |input| prepare(input, &filter, &hash_options, &options),
        |p| {
            position += 1;
            pipeline.push(position - 1, p)
        },
    )?;
    pipeline.finish()?;
    let (found, errors) = (pipeline.found, pipeline.errors);
    if args.stats {
        let s = &pipeline.stats;
        let summary = json!({
            "files": s.files,
            "replayed": s.replayed,
            "candidates": s.candidates,
            "failed": s.failed,
            "requests": pipeline.client.requests,
            "retries": pipeline.client.retried,
            "filter_version": filter.version(),
            "filter": match source { FilterSource::Downloaded => "downloaded", FilterSource::Revalidated => "cached" },
        });
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{summary}");
        }
    }
    pipeline.tally.print(setup.summary);
    Ok(crate::sets::exit_code(found, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base("https://w.example/pre/").unwrap(),
            ("https://w.example/pre".to_owned(), "https://w.example".to_owned())
        );
        assert!(parse_base("http://127.0.0.1:8787").is_ok());
        assert!(parse_base("http://[::1]:8787").is_ok());
        assert!(parse_base("http://w.example").is_err());
        assert!(parse_base("ftp://w.example").is_err());
        assert!(parse_base("https://u:p@w.example").is_err());
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn long_paths_get_positions() {
        assert_eq!(object_id("a.jpg", 3), "a.jpg");
        assert_eq!(object_id(&"x".repeat(513), 3), "#3");
    }
}
