//! The filter: downloaded from the worker (or revalidated), verified and cached per remote.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use schoon_core::set::{Filter, Trust};
use serde_json::{Value, json};

use super::client::Client;

/// The largest filter accepted from a worker (a 10^7-entry filter is about 50 MB).
pub const MAX_FILTER_BYTES: u64 = 512 << 20;

/// The default cache directory.
pub fn default_cache_dir() -> Result<PathBuf> {
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
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache of the remote `base` below `root`.
    pub fn new(root: &Path, base: &str) -> Cache {
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
pub enum FilterSource {
    Downloaded,
    Revalidated,
}

/// Downloads (or revalidates the cached copy of) the worker's current filter and verifies it.
pub fn fetch_filter(
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
