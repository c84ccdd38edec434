//! Sharded indexes at the edge: lists that no isolate should hold whole (10^7 PDQ hashes with
//! their region hashes and 3x10^7 exact hashes are gigabytes; an isolate has 128 MB).
//!
//! `schoon build --out-shards DIR --shards N` writes N shard files and a signed manifest (see
//! `schoon_core::set::ShardManifest`). They are published with `PUT /v1/admin/shards/{n}`
//! (each shard, stored in R2 under its version) and then `PUT /v1/admin/shards/manifest`,
//! which checks that every shard the manifest names was uploaded with the checksum it records
//! and only then makes the version current, with one write of the set pointer: a request sees
//! the old version or the new one, never parts of both.
//!
//! The front isolate holds only the manifest. A query goes to the `IndexShard` Durable Objects
//! it needs (every shard for PDQ, at most three for exact hashes), one object per shard and
//! version (`v{version}-shard-{n}`), each loading its shard from R2 once, checking it against
//! the manifest (length, checksum, signature, version, position) and answering from its own
//! multi-index tables; the front merges the answers into exactly the whole index's answer
//! (`schoon_core::set::merge_answers_with`, under the tenant's policy). A shard that is missing,
//! stale, of another build or modified makes the request 503, never a wrong "clean".

use schoon_core::PdqHash;
use schoon_core::set::{
    Index, Match, MatchOptions, Query, ShardAnswer, ShardManifest, ShardQuery, merge_answers_with,
    scan_windows,
};
use schoon_core::{HashOptions, PdqMode, Report};
use serde_json::{Value, json};

use crate::artifact::{Held, LoadedIndex};
use crate::backend::Backend;
use crate::config::Config;
use crate::error::ApiError;
use crate::isolate::Isolate;
use crate::keys;
use crate::policy::{self, ListPolicy};
use crate::sets;
use crate::tenant::TenantRecord;

fn unavailable(reason: String) -> ApiError {
    ApiError::Unavailable { reason, retry_after: Some(5) }
}

fn hex(bytes: &[u8]) -> String {
    schoon_core::hex::encode(bytes)
}

/// A confirmation's matches for a tenant (`/v1/confirm`, `/v1/check`): the whole index's
/// [`policy::lookup`], or the shards' merged answers.
pub async fn lookup<B: Backend>(
    backend: &B,
    loaded: &LoadedIndex,
    policy: &ListPolicy,
    query: &Query,
    windows: &[PdqHash],
    options: &MatchOptions,
) -> Result<Vec<Match>, ApiError> {
    match &loaded.held {
        Held::Whole(index) => Ok(policy::lookup(policy, index, query, windows, options)),
        Held::Sharded(manifest) => {
            let q = ShardQuery { query: query.clone(), windows: windows.to_vec(), dihedral: false };
            ask(backend, manifest, policy, &q).await
        }
    }
}

/// An upload's hashes and matches for a tenant (`/v1/scan`, gate mode, the bucket consumer):
/// [`check_whole`] on the whole index, or the same hashing with the query and the
/// scan's region windows sent to the shards.
pub async fn check_bytes<B: Backend>(
    backend: &B,
    config: &Config,
    loaded: &LoadedIndex,
    tenant: &TenantRecord,
    bytes: &[u8],
) -> Result<Hashed, ApiError> {
    let manifest = match &loaded.held {
        Held::Whole(index) => return Ok(check_whole(config, index, tenant, bytes)),
        Held::Sharded(m) => m,
    };
    let (report, query) = hash_upload(config, manifest.has_regions(), bytes);
    let image = report.image.as_ref().ok();
    let windows = scan_windows(image, &config.match_options);
    let q = ShardQuery { query: query.clone(), windows, dihedral: true };
    let matches = ask(backend, manifest, &tenant.policy, &q).await?;
    Ok(Hashed { report, query, matches })
}

/// The result of hashing and matching one object or download.
pub struct Hashed {
    /// The hashes.
    pub report: Report,
    /// The query made of them.
    pub query: Query,
    /// What matched.
    pub matches: Vec<Match>,
}

/// Hashes `bytes` as `/v1/scan` does (fast PDQ, the configured decoding limits, region windows
/// when the index has region hashes) and matches them against `index` under `tenant`'s list
/// policy: the one place uploads, bucket objects and follow-up downloads are hashed and matched.
pub fn check_whole(config: &Config, index: &Index, tenant: &TenantRecord, bytes: &[u8]) -> Hashed {
    let (report, query) = hash_upload(config, index.has_regions(), bytes);
    let image = report.image.as_ref().ok();
    let matches =
        policy::lookup_hashed(&tenant.policy, index, &report.exact, image, &config.match_options);
    Hashed { report, query, matches }
}

/// The hashes of an upload as `/v1/scan` takes them (fast PDQ, the configured decoding limits,
/// the luma plane for region windows when the set has region hashes) and the query made of them.
fn hash_upload(config: &Config, regions: bool, bytes: &[u8]) -> (Report, Query) {
    let options =
        HashOptions { mode: PdqMode::Fast, algos: Vec::new(), limits: config.limits, regions };
    let report = schoon_core::hash_bytes(bytes, &options);
    let query = Query::from_hashes(&report.exact, report.image.as_ref().ok());
    (report, query)
}

async fn ask<B: Backend>(
    backend: &B,
    manifest: &ShardManifest,
    policy: &ListPolicy,
    q: &ShardQuery,
) -> Result<Vec<Match>, ApiError> {
    let version = manifest.version();
    let shards = manifest.shards_for(&q.query, !q.windows.is_empty());
    let answers = backend.ask_shards(version, &shards, &q.to_json()).await;
    let mut parsed = Vec::with_capacity(answers.len());
    for (n, answer) in shards.iter().zip(answers) {
        // The hosts' own errors name the shard; the backend names it for transport errors.
        let text = answer.map_err(|e| unavailable(e.0))?;
        parsed.push(ShardAnswer::from_json(&text).map_err(|e| {
            unavailable(format!("index shard {n} of version {version} answered badly: {e}"))
        })?);
    }
    if parsed.len() != shards.len() {
        return Err(unavailable(format!(
            "{} of {} index shards of version {version} answered",
            parsed.len(),
            shards.len()
        )));
    }
    Ok(merge_answers_with(parsed, |m| policy.allows(m)).0)
}

/// A shard host's load (the `IndexShard` Durable Object's, once per object): the manifest of
/// `version` and shard `number` from R2, checked against each other and the pinned key. Every
/// failure is 503 naming the shard: missing, stale, of another build, modified.
pub async fn load_shard<B: Backend>(
    backend: &B,
    config: &Config,
    version: u64,
    number: u32,
) -> Result<Index, ApiError> {
    let key = keys::manifest_object(version);
    let bytes = backend.blob_get(&key).await.map_err(ApiError::storage)?.ok_or_else(|| {
        unavailable(format!("the manifest of index version {version} is missing ({key})"))
    })?;
    let manifest = ShardManifest::from_bytes(&bytes, &config.trust()).map_err(|e| {
        unavailable(format!("the manifest of index version {version} is refused: {e}"))
    })?;
    let key = keys::shard_object(version, number);
    let bytes = backend.blob_get(&key).await.map_err(ApiError::storage)?.ok_or_else(|| {
        unavailable(format!("index shard {number} of version {version} is missing ({key})"))
    })?;
    manifest.open(number, bytes, &config.trust()).map_err(|e| {
        unavailable(format!("index shard {number} of version {version} is refused: {e}"))
    })
}

/// A shard host's answer to one query (JSON text in and out).
pub fn answer(index: &Index, query: &str, options: &MatchOptions) -> Result<String, ApiError> {
    let q = ShardQuery::from_json(query)?;
    Ok(index.shard_answer(&q.query, &q.windows, q.dihedral, options).to_json())
}

/// `PUT /v1/admin/shards/{n}`: verifies shard `number` (signature, position), refuses a version
/// not newer than the current index, stores it under its version and records its checksum.
pub async fn publish_shard<B: Backend>(
    backend: &B,
    config: &Config,
    number: u32,
    bytes: Vec<u8>,
) -> Result<(bool, Value), ApiError> {
    let index = Index::from_bytes_linear(bytes, &config.trust())?;
    let Some((n, count)) = index.shard_position() else {
        return Err(ApiError::Invalid(
            "this is a whole index, not a shard: publish it with PUT /v1/admin/index".into(),
        ));
    };
    if n != number {
        return Err(ApiError::Invalid(format!(
            "the file is shard {n} of {count}, not shard {number}: PUT it to /v1/admin/shards/{n}"
        )));
    }
    let held = index.loaded_bytes() as u64;
    if held > config.shard_max_bytes {
        return Err(ApiError::Invalid(format!(
            "shard {n} of {count} would hold {held} bytes once loaded, over SHARD_MAX_BYTES \
             ({}): build the index with more shards (schoon build --shards)",
            config.shard_max_bytes
        )));
    }
    let version = index.header().set_version;
    let pointer = sets::read_pointer(backend).await?;
    if let Some(cur) = pointer.index.as_ref().filter(|c| c.version >= version) {
        return Err(sets::stale(version, cur.version));
    }
    let sum = hex(&index.file_checksum());
    let object = keys::shard_object(version, n);
    backend.blob_put(&object, index.as_bytes()).await.map_err(ApiError::storage)?;
    backend.kv_put(&keys::shard_record(version, n), &sum, None).await.map_err(ApiError::storage)?;
    Ok((
        true,
        json!({
            "artifact": "index shard",
            "status": "stored",
            "version": version,
            "shard": n,
            "shards": count,
            "object": object,
            "size": index.as_bytes().len(),
            "loaded_bytes": held,
            "checksum": sum,
        }),
    ))
}

/// `PUT /v1/admin/shards/manifest`: verifies the manifest, requires every shard it names to
/// have been uploaded with the checksum it records (409 naming the first that was not), then
/// makes the version current with one pointer write.
pub async fn publish_manifest<B: Backend>(
    backend: &B,
    config: &Config,
    isolate: &Isolate,
    bytes: Vec<u8>,
) -> Result<(bool, Value), ApiError> {
    let manifest = ShardManifest::from_bytes(&bytes, &config.trust())?;
    let version = manifest.version();
    let mut pointer = sets::read_pointer(backend).await?;
    let sum = sets::checksum(&bytes);
    if let Some(cur) = pointer.index.as_ref().filter(|c| c.sha256 == sum) {
        return Ok((
            false,
            json!({ "artifact": "shard manifest", "status": "unchanged", "index": sets::meta_json(cur) }),
        ));
    }
    if let Some(cur) = pointer.index.as_ref().filter(|c| c.version >= version) {
        return Err(sets::stale(version, cur.version));
    }
    for (n, entry) in (0u32..).zip(manifest.entries()) {
        let record =
            backend.kv_get(&keys::shard_record(version, n)).await.map_err(ApiError::storage)?;
        let want = hex(&entry.checksum);
        match record {
            None => {
                return Err(ApiError::Conflict(format!(
                    "shard {n} of version {version} has not been uploaded \
                     (PUT /v1/admin/shards/{n} first)"
                )));
            }
            Some(got) if got != want => {
                return Err(ApiError::Conflict(format!(
                    "shard {n} of version {version} was uploaded with checksum {got}, \
                     the manifest records {want}"
                )));
            }
            Some(_) => {}
        }
    }
    let object = keys::manifest_object(version);
    backend.blob_put(&object, &bytes).await.map_err(ApiError::storage)?;
    let mut meta = sets::meta_of(manifest.header(), object, &bytes, backend.now_ms());
    meta.shards = manifest.count();
    pointer.index = Some(meta.clone());
    sets::write_pointer(backend, &pointer).await?;
    let loaded = LoadedIndex { held: Held::Sharded(manifest), meta: meta.clone() };
    let entries = sets::entries_json(&loaded);
    isolate.install_index(std::rc::Rc::new(loaded));
    isolate.cache_pointer(backend.now_ms(), std::rc::Rc::new(pointer));
    Ok((
        true,
        json!({
            "artifact": "shard manifest",
            "status": "published",
            "index": sets::meta_json(&meta),
            "entries": entries,
            "shards": meta.shards,
        }),
    ))
}
