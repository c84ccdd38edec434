//! The published set: where it is stored, how an isolate loads and refreshes its index, and
//! how the admin routes publish new versions.
//!
//! Storage: the artifacts are R2 objects (`index/{version}.idx`, `filter/{version}.flt`,
//! `filter/delta/{base}-{version}.dlt`, versions zero-padded to 20 digits); KV holds the
//! pointer `set:current` (which index, filter and deltas are current, with their SHA-256) and
//! one `filter:v:{version}` record per published filter so older versions stay servable under
//! their immutable URLs.
//!
//! Loading: an isolate reads the pointer at most every `SET_REFRESH_SECONDS`, and when it names
//! a newer index, loads it from R2 once (one load per isolate however many requests wait;
//! requests that arrive meanwhile keep using the previous index if there is one), verifies its
//! checksum and signature against the pinned key, and keeps only the file bytes when the index
//! is larger than `MULTI_INDEX_MAX_ENTRIES` PDQ entries.

use std::rc::Rc;

use futures_util::FutureExt;
use schoon_core::set::{Artifact, Filter, HashKind, Index, ShardManifest};
use serde_json::{Value, json};

use crate::artifact::{ArtifactMeta, Held, IndexLoad, LoadedIndex, Pointer};
use crate::backend::Backend;
use crate::config::Config;
use crate::error::ApiError;
use crate::isolate::Isolate;
use crate::keys;

/// Above this many bytes for the held and the uploaded index together, an isolate drops the
/// held one before verifying an upload.
const ROOM: usize = 48 << 20;

/// How many deltas the pointer lists (the newest).
const MAX_DELTAS: usize = 32;

/// Reads the pointer from KV (no cache).
pub async fn read_pointer<B: Backend>(backend: &B) -> Result<Pointer, ApiError> {
    let text = backend.kv_get(keys::SET_POINTER).await.map_err(ApiError::storage)?;
    match text {
        None => Ok(Pointer::default()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| ApiError::Internal(format!("stored set pointer is unreadable: {e}"))),
    }
}

/// The pointer, from the isolate's cache when it is fresh enough.
pub async fn pointer<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
) -> Result<Rc<Pointer>, ApiError> {
    let now = backend.now_ms();
    let cached = isolate.cached_pointer();
    if let Some((checked, p)) = &cached
        && now.saturating_sub(*checked) < config.set_refresh_seconds.saturating_mul(1000)
    {
        return Ok(p.clone());
    }
    match read_pointer(backend).await {
        Ok(p) => {
            let p = Rc::new(p);
            isolate.cache_pointer(now, p.clone());
            Ok(p)
        }
        // Storage hiccup: keep serving what we know.
        Err(e) => cached.map(|(_, p)| p).ok_or(e),
    }
}

fn unavailable(reason: impl Into<String>) -> ApiError {
    ApiError::Unavailable { reason: reason.into(), retry_after: Some(5) }
}

/// Verifies and loads index bytes, building multi-index tables only for small indexes.
pub fn load_index(bytes: Vec<u8>, config: &Config) -> Result<Index, ApiError> {
    let mut index = Index::from_bytes_linear(bytes, &config.trust())?;
    if index.count(HashKind::Pdq) <= config.multi_index_max {
        index.set_multi_index(true);
    }
    Ok(index)
}

async fn fetch_index<B: Backend>(
    backend: B,
    config: Config,
    meta: ArtifactMeta,
) -> Result<Rc<LoadedIndex>, ApiError> {
    let bytes =
        backend.blob_get(&meta.object).await.map_err(ApiError::storage)?.ok_or_else(|| {
            ApiError::Internal(format!("index object {} is missing", meta.object))
        })?;
    let (held, version) = if meta.shards > 0 {
        let manifest = ShardManifest::from_bytes(&bytes, &config.trust())?;
        let version = manifest.version();
        (Held::Sharded(manifest), version)
    } else {
        let index = load_index(bytes, &config)?;
        let version = index.header().set_version;
        (Held::Whole(index), version)
    };
    if version != meta.version {
        return Err(ApiError::Internal(format!(
            "index object {} holds version {version}, the pointer says {}",
            meta.object, meta.version
        )));
    }
    Ok(Rc::new(LoadedIndex { held, meta }))
}

/// The current index, loading it when this isolate does not hold it yet.
pub async fn current_index<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
) -> Result<Rc<LoadedIndex>, ApiError> {
    let pointer = pointer(backend, config, isolate).await?;
    let Some(meta) = pointer.index.clone() else {
        return Err(unavailable("no index published yet (PUT /v1/admin/index)"));
    };
    let held = isolate.index();
    if let Some(held) = &held
        && held.meta.version >= meta.version
    {
        return Ok(held.clone());
    }
    let now = backend.now_ms();
    let (load, started) = match isolate.loading(meta.version, now) {
        Some(load) => (load, false),
        None => {
            let load: IndexLoad =
                fetch_index(backend.clone(), config.clone(), meta.clone()).boxed_local().shared();
            isolate.set_loading(meta.version, now, load.clone());
            (load, true)
        }
    };
    // Requests arriving during someone else's load keep the index they had.
    if let (Some(held), false) = (&held, started) {
        return Ok(held.clone());
    }
    let result = load.await;
    isolate.finish_loading(meta.version);
    let loaded = result?;
    isolate.install_index(loaded.clone());
    Ok(loaded)
}

pub(crate) fn checksum(bytes: &[u8]) -> String {
    schoon_core::sha256(bytes).to_hex()
}

pub(crate) fn meta_of(
    header: &schoon_core::set::Header,
    object: String,
    bytes: &[u8],
    now_ms: u64,
) -> ArtifactMeta {
    ArtifactMeta {
        version: header.set_version,
        base_version: header.base_version,
        object,
        sha256: checksum(bytes),
        size: bytes.len() as u64,
        created: header.created,
        published_ms: now_ms,
        key_id: header.key_id.clone(),
        signature: header.signature.name().to_owned(),
        shards: 0,
    }
}

pub(crate) async fn write_pointer<B: Backend>(
    backend: &B,
    pointer: &Pointer,
) -> Result<(), ApiError> {
    let text = serde_json::to_string(pointer).map_err(|e| ApiError::Internal(e.to_string()))?;
    backend.kv_put(keys::SET_POINTER, &text, None).await.map_err(ApiError::storage)
}

pub(crate) fn stale(offered: u64, held: u64) -> ApiError {
    ApiError::Core(schoon_core::Error::BadInput(schoon_core::BadInput::Stale { offered, held }))
}

/// JSON describing a published artifact.
pub fn meta_json(m: &ArtifactMeta) -> Value {
    json!({
        "version": m.version,
        "sha256": m.sha256,
        "size": m.size,
        "created": m.created,
        "published": crate::time::rfc3339(m.published_ms),
        "signature": m.signature,
        "key_id": m.key_id,
    })
}

/// How many hashes of each kind an index holds (`pdq` counts whole images, `regions` their
/// region hashes), as `/v1/admin/publish` and `/v1/admin/status` report them.
pub fn entries_json(loaded: &LoadedIndex) -> Value {
    let (count, regions) = match &loaded.held {
        Held::Whole(i) => (
            [HashKind::Md5, HashKind::Sha1, HashKind::Sha256, HashKind::Pdq]
                .map(|k| i.count(k) as u64),
            i.region_count() as u64,
        ),
        Held::Sharded(m) => (
            [HashKind::Md5, HashKind::Sha1, HashKind::Sha256, HashKind::Pdq].map(|k| m.count_of(k)),
            m.region_count(),
        ),
    };
    let [md5, sha1, sha256, pdq] = count;
    json!({
        "md5": md5,
        "sha1": sha1,
        "sha256": sha256,
        "pdq": pdq - regions,
        "regions": regions,
    })
}

/// Publishes an index: verifies it, refuses anything not newer than the current one, stores it
/// and makes it current. Returns `(created, description)`; `created` is false for a repeated
/// upload of the current bytes.
pub async fn publish_index<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
    bytes: Vec<u8>,
) -> Result<(bool, Value), ApiError> {
    let sum = checksum(&bytes);
    let mut pointer = read_pointer(backend).await?;
    // The very bytes already published (and verified then): nothing to do.
    if let Some(cur) = pointer.index.as_ref().filter(|c| c.sha256 == sum) {
        return Ok((
            false,
            json!({ "artifact": "index", "status": "unchanged", "index": meta_json(cur) }),
        ));
    }
    // Make room first when both would be large: at 10^6 PDQ entries an isolate cannot hold two
    // indexes and the copy on its way to R2. Requests holding the old one keep it until they
    // finish; the next ones get the new one (or reload the old one if this upload is refused).
    if isolate.index().is_some_and(|held| held.memory_bytes() + bytes.len() > ROOM) {
        isolate.drop_index();
    }
    let index = load_index(bytes, config)?;
    let header = index.header().clone();
    let version = header.set_version;
    if let Some(cur) = pointer.index.as_ref().filter(|c| c.version >= version) {
        return Err(stale(version, cur.version));
    }
    let object = keys::index_object(version);
    backend.blob_put(&object, index.as_bytes()).await.map_err(ApiError::storage)?;
    let meta = meta_of(&header, object, index.as_bytes(), backend.now_ms());
    pointer.index = Some(meta.clone());
    write_pointer(backend, &pointer).await?;
    let multi_index = index.uses_mih();
    let loaded = LoadedIndex { held: Held::Whole(index), meta: meta.clone() };
    let entries = entries_json(&loaded);
    isolate.install_index(Rc::new(loaded));
    isolate.cache_pointer(backend.now_ms(), Rc::new(pointer));
    Ok((
        true,
        json!({ "artifact": "index", "status": "published", "index": meta_json(&meta), "entries": entries, "multi_index": multi_index }),
    ))
}

/// Publishes a filter: verifies it, requires an index at least as new (a browser's candidate
/// must be confirmable) and a version newer than the current filter.
pub async fn publish_filter<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
    bytes: Vec<u8>,
) -> Result<(bool, Value), ApiError> {
    let sum = checksum(&bytes);
    let mut pointer = read_pointer(backend).await?;
    let filter = Filter::from_bytes(&bytes, &config.trust())?;
    // The head filter of a budgeted build leaves exact hashes to buckets this worker does not
    // serve yet: served alone, a browser would call listed files clean.
    if let Some(partial) = schoon_core::set::partial_filter(&bytes, &config.trust())? {
        return Err(ApiError::Invalid(format!(
            "this is the head filter of a budgeted build ({partial}): this worker does not serve \
             exact buckets yet, so browsers would miss listed exact hashes; publish a whole filter"
        )));
    }
    let header = filter.header().clone();
    let version = header.set_version;
    if let Some(cur) = &pointer.filter {
        if cur.version == version && cur.sha256 == sum {
            return Ok((
                false,
                json!({ "artifact": "filter", "status": "unchanged", "filter": meta_json(cur) }),
            ));
        }
        if cur.version >= version {
            return Err(stale(version, cur.version));
        }
    }
    match &pointer.index {
        Some(index) if index.version >= version => {}
        held => {
            return Err(ApiError::Conflict(format!(
                "filter version {version} is newer than the published index ({}): publish the index of version {version} first",
                held.as_ref().map_or("none".to_owned(), |i| i.version.to_string())
            )));
        }
    }
    drop(filter);
    let object = keys::filter_object(version);
    backend.blob_put(&object, &bytes).await.map_err(ApiError::storage)?;
    let meta = meta_of(&header, object, &bytes, backend.now_ms());
    let record = serde_json::to_string(&meta).map_err(|e| ApiError::Internal(e.to_string()))?;
    backend
        .kv_put(&keys::filter_record(version), &record, None)
        .await
        .map_err(ApiError::storage)?;
    pointer.filter = Some(meta.clone());
    write_pointer(backend, &pointer).await?;
    isolate.cache_pointer(backend.now_ms(), Rc::new(pointer));
    Ok((
        true,
        json!({ "artifact": "filter", "status": "published", "filter": meta_json(&meta), "url": format!("/v1/filter/{version}") }),
    ))
}

/// Publishes a filter delta from an earlier published filter version to the current one; it
/// is applied to the stored base to prove that clients holding the base can apply it.
pub async fn publish_delta<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
    bytes: Vec<u8>,
) -> Result<(bool, Value), ApiError> {
    let trust = config.trust();
    let inspection = schoon_core::set::inspect(&bytes, &trust)?;
    let header = inspection.header;
    if header.artifact != Artifact::FilterDelta {
        return Err(ApiError::Invalid(format!(
            "expected a filter delta, found a {}",
            header.artifact.name()
        )));
    }
    let (base, version) = (header.base_version, header.set_version);
    let mut pointer = read_pointer(backend).await?;
    let current = pointer.filter.as_ref().map_or(0, |f| f.version);
    if version != current {
        return Err(ApiError::Conflict(format!(
            "delta leads to version {version}, the published filter is version {current}: publish the filter first"
        )));
    }
    if pointer.deltas.iter().any(|d| d.base_version == base && d.version == version) {
        let same =
            pointer.deltas.iter().find(|d| d.base_version == base && d.sha256 == checksum(&bytes));
        return match same {
            Some(d) => Ok((
                false,
                json!({ "artifact": "filter delta", "status": "unchanged", "delta": meta_json(d) }),
            )),
            None => Err(ApiError::Conflict(format!(
                "a different delta {base} -> {version} is already published"
            ))),
        };
    }
    let base_record =
        backend.kv_get(&keys::filter_record(base)).await.map_err(ApiError::storage)?;
    let Some(base_record) = base_record else {
        return Err(ApiError::Conflict(format!("no filter of version {base} was published here")));
    };
    let base_meta: ArtifactMeta = serde_json::from_str(&base_record)
        .map_err(|e| ApiError::Internal(format!("filter record {base}: {e}")))?;
    let base_bytes =
        backend.blob_get(&base_meta.object).await.map_err(ApiError::storage)?.ok_or_else(|| {
            ApiError::Internal(format!("filter object {} is missing", base_meta.object))
        })?;
    let mut filter = Filter::from_bytes(&base_bytes, &trust)?;
    drop(base_bytes);
    filter.apply_delta(&bytes, &trust)?;
    drop(filter);
    let object = keys::delta_object(base, version);
    backend.blob_put(&object, &bytes).await.map_err(ApiError::storage)?;
    let meta = meta_of(&header, object, &bytes, backend.now_ms());
    let record = serde_json::to_string(&meta).map_err(|e| ApiError::Internal(e.to_string()))?;
    backend
        .kv_put(&keys::delta_record(base, version), &record, None)
        .await
        .map_err(ApiError::storage)?;
    pointer.deltas.push(meta.clone());
    let excess = pointer.deltas.len().saturating_sub(MAX_DELTAS);
    pointer.deltas.drain(..excess);
    write_pointer(backend, &pointer).await?;
    isolate.cache_pointer(backend.now_ms(), Rc::new(pointer));
    Ok((
        true,
        json!({ "artifact": "filter delta", "status": "published", "delta": meta_json(&meta), "base_version": base, "url": format!("/v1/filter/delta/{base}/{version}") }),
    ))
}
