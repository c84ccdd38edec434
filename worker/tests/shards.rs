//! Sharded indexes through the worker's request handling (in-memory store, in-memory shard
//! hosts running the Durable Object's load and answer): publishing shard by shard and then the
//! manifest, confirm, check and scan answering as the whole index does, tenant policies, and
//! 503 for a missing, stale or modified shard. The same on workerd: `test/shards.test.mjs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use schoon_core::set::{BuildInfo, ListInfo, SetBuilder};
use schoon_core::{ExactHashes, HashOptions, PdqHash, hash_bytes};
use std::rc::Rc;

use schoon_worker::backend::{ShardHost, StoreError, block_on};
use schoon_worker::http::{Head, Method};
use schoon_worker::shards;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, Env, NOW};

fn example(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../examples/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn listed_pdq() -> PdqHash {
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".parse().unwrap()
}

fn upload(env: &Env, path: &str, bytes: Vec<u8>) -> (u16, Value) {
    let head = Head::new(Method::Put, path)
        .with_header("authorization", &format!("Bearer {ADMIN}"))
        .with_header("content-type", "application/octet-stream");
    let reply = env.send(head, bytes);
    let r = reply.outcome.response().unwrap();
    (r.status, r.json_body())
}

fn tenant(env: &Env, id: &str, settings: Value) -> String {
    let (s, _) =
        env.call(Method::Put, &format!("/v1/admin/tenants/{id}"), Some(ADMIN), Some(settings));
    assert!(s == 200 || s == 201);
    let (s, v) = env.call(
        Method::Post,
        &format!("/v1/admin/tenants/{id}/keys"),
        Some(ADMIN),
        Some(json!({"scope": "server"})),
    );
    assert_eq!(s, 201, "{v}");
    v["api_key"].as_str().unwrap().to_owned()
}

/// Two lists: exact hashes and a PDQ hash in one, the fixture image with its region hashes in
/// the other, and many random entries so that every shard holds something.
fn builder() -> SetBuilder {
    let mut b = SetBuilder::new();
    let police = b.add_list(ListInfo::new("police", "csam", "test")).unwrap();
    let ngo = b.add_list(ListInfo::new("ngo", "csam", "test")).unwrap();
    b.add_sha256(police, ExactHashes::of(b"listed file").sha256);
    b.add_md5(police, ExactHashes::of(b"listed md5").md5);
    b.add_pdq(police, listed_pdq(), Some(100));
    for i in 0..2000u32 {
        b.add_sha256(ngo, ExactHashes::of(&i.to_le_bytes()).sha256);
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&i.to_be_bytes());
        h[4..8].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        b.add_pdq(ngo, PdqHash(schoon_core::sha256(&h).0), Some(90));
    }
    let image = hash_bytes(
        &example("listed/known-1.jpg"),
        &HashOptions { regions: true, ..Default::default() },
    );
    b.add_image(ngo, &image.exact, image.image.as_ref().ok());
    b
}

/// Builds version `version` in `count` shards: (shard files, manifest).
fn build(env: &Env, version: u64, count: u32) -> (Vec<Vec<u8>>, Vec<u8>) {
    let info =
        BuildInfo { set_version: version, created: NOW / 1000, signing_key: Some(&env.set_key) };
    let mut files = Vec::new();
    let manifest = builder()
        .build_shards(&info, count, |_, f| {
            files.push(f);
            Ok(())
        })
        .unwrap();
    (files, manifest)
}

fn publish(env: &Env, version: u64, count: u32) -> Vec<Vec<u8>> {
    let (files, manifest) = build(env, version, count);
    for (n, f) in files.iter().enumerate() {
        let (s, v) = upload(env, &format!("/v1/admin/shards/{n}"), f.clone());
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["shard"], n);
    }
    let (s, v) = upload(env, "/v1/admin/shards/manifest", manifest.clone());
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["shards"], count);
    assert_eq!(v["entries"]["pdq"], 2002);
    assert_eq!(v["entries"]["regions"], 3);
    // Publishing the same manifest again changes nothing.
    assert_eq!(upload(env, "/v1/admin/shards/manifest", manifest).0, 200);
    files
}

/// A worker whose in-memory shard hosts load and answer as the Durable Objects do (each query
/// loads its shard afresh), verifying with the worker's own configuration.
fn sharded_env() -> Env {
    let env = Env::new(&[]);
    let (backend, config) = (env.backend.clone(), env.config.clone());
    let host = ShardHost(Rc::new(move |version, n, query| {
        let loaded = block_on(shards::load_shard(&backend, &config, version, n))
            .ok_or_else(|| StoreError("shard load did not finish".into()))?;
        loaded
            .and_then(|index| shards::answer(&index, query, &config.match_options))
            .map_err(|e| StoreError(e.to_string()))
    }));
    *env.backend.shard_host.borrow_mut() = Some(host);
    env
}

fn whole_env() -> Env {
    let env = Env::new(&[]);
    let info = BuildInfo { set_version: 5, created: NOW / 1000, signing_key: Some(&env.set_key) };
    let index = builder().build_index(&info, None).unwrap();
    assert_eq!(upload(&env, "/v1/admin/index", index).0, 201);
    env
}

fn scan(env: &Env, key: &str, bytes: Vec<u8>) -> (u16, Value) {
    let head = Head::new(Method::Post, "/v1/scan")
        .with_header("authorization", &format!("Bearer {key}"))
        .with_header("content-type", "image/*");
    let r = env.send(head, bytes);
    let r = r.outcome.response().unwrap();
    (r.status, r.json_body())
}

/// The matches of an answer without what differs between two workers (receipt ids, times).
fn matches(v: &Value) -> Value {
    let list = v["matches"].as_array().cloned().unwrap_or_default();
    Value::Array(
        list.into_iter()
            .map(|mut m| {
                if let Some(o) = m.as_object_mut() {
                    o.retain(|k, _| !k.starts_with("receipt"));
                }
                m
            })
            .collect(),
    )
}

#[test]
fn sharded_answers_equal_the_whole_index() {
    let sharded = sharded_env();
    publish(&sharded, 5, 6);
    let whole = whole_env();
    let ks = tenant(&sharded, "acme", json!({}));
    let kw = tenant(&whole, "acme", json!({}));
    let mut near = listed_pdq();
    for bit in 0..12 {
        near.flip_bit(bit * 11);
    }
    let queries = [
        json!({ "sha256": ExactHashes::of(b"listed file").sha256.to_hex() }),
        json!({ "md5": ExactHashes::of(b"listed md5").md5.to_hex() }),
        json!({ "sha256": ExactHashes::of(&7u32.to_le_bytes()).sha256.to_hex() }),
        json!({ "sha256": ExactHashes::of(b"not listed").sha256.to_hex() }),
        json!({ "pdq": near.to_hex(), "quality": 90 }),
        json!({ "pdq": PdqHash([0x5a; 32]).to_hex() }),
    ];
    for q in &queries {
        let (s1, a) = sharded.call(Method::Post, "/v1/confirm", Some(&ks), Some(q.clone()));
        let (s2, b) = whole.call(Method::Post, "/v1/confirm", Some(&kw), Some(q.clone()));
        assert_eq!((s1, s2), (200, 200), "{q}: {a} / {b}");
        assert_eq!(a["verdict"], b["verdict"], "{q}");
        assert_eq!(matches(&a), matches(&b), "{q}");
    }
    // Scans: the listed photo, a crop that only region hashes find, and an unlisted picture.
    let photo = example("listed/known-1.jpg");
    for bytes in
        [photo.clone(), example("edited/known-1-cropped-5pct.jpg"), example("innocent/scene-1.jpg")]
    {
        let (s1, a) = scan(&sharded, &ks, bytes.clone());
        let (s2, b) = scan(&whole, &kw, bytes);
        assert_eq!(s1, s2, "{a} / {b}");
        assert_eq!(a["verdict"], b["verdict"]);
        assert_eq!(matches(&a), matches(&b));
    }
    let (_, a) = scan(&sharded, &ks, photo);
    assert_eq!(a["verdict"], "match", "{a}");
    let (_, a) = scan(&sharded, &ks, example("edited/known-1-cropped-5pct.jpg"));
    assert!(a["matches"].as_array().unwrap().iter().any(|m| m["region"].is_string()), "{a}");
}

#[test]
fn a_tenant_policy_applies_to_sharded_answers() {
    let env = sharded_env();
    publish(&env, 5, 4);
    let police_only = tenant(&env, "p", json!({ "lists": ["police"] }));
    let ngo_only = tenant(&env, "n", json!({ "lists": ["ngo"] }));
    let q = json!({ "sha256": ExactHashes::of(b"listed file").sha256.to_hex() });
    let (_, v) = env.call(Method::Post, "/v1/confirm", Some(&police_only), Some(q.clone()));
    assert_eq!(v["verdict"], "match", "{v}");
    let (_, v) = env.call(Method::Post, "/v1/confirm", Some(&ngo_only), Some(q));
    assert_eq!(v["verdict"], "clean", "{v}");
    // The policy is checked against the manifest's lists.
    let (s, v) = env.call(
        Method::Put,
        "/v1/admin/tenants/x",
        Some(ADMIN),
        Some(json!({ "lists": ["nope"] })),
    );
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("nope"), "{v}");
}

#[test]
fn a_manifest_is_published_only_over_uploaded_shards() {
    let env = sharded_env();
    let (files, manifest) = build(&env, 5, 3);
    assert_eq!(upload(&env, "/v1/admin/shards/0", files[0].clone()).0, 201);
    let (s, v) = upload(&env, "/v1/admin/shards/manifest", manifest.clone());
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shard 1 of version 5 has not been uploaded"),
        "{v}"
    );
    // A shard under the wrong number, a whole index, a modified shard.
    let (s, v) = upload(&env, "/v1/admin/shards/2", files[1].clone());
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("shard 1 of 3, not shard 2"), "{v}");
    let info = BuildInfo { set_version: 5, created: 0, signing_key: Some(&env.set_key) };
    let whole = builder().build_index(&info, None).unwrap();
    assert_eq!(upload(&env, "/v1/admin/shards/0", whole).0, 422);
    let mut bad = files[1].clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    assert_eq!(upload(&env, "/v1/admin/shards/1", bad).0, 422);
    // No index yet: confirm is 503.
    let key = tenant(&env, "acme", json!({}));
    let (s, _) = env.call(
        Method::Post,
        "/v1/confirm",
        Some(&key),
        Some(json!({"pdq": listed_pdq().to_hex()})),
    );
    assert_eq!(s, 503);
    for (n, f) in files.iter().enumerate().skip(1) {
        assert_eq!(upload(&env, &format!("/v1/admin/shards/{n}"), f.clone()).0, 201);
    }
    assert_eq!(upload(&env, "/v1/admin/shards/manifest", manifest).0, 201);
    let (s, v) = env.call(
        Method::Post,
        "/v1/confirm",
        Some(&key),
        Some(json!({"pdq": listed_pdq().to_hex()})),
    );
    assert_eq!((s, &v["verdict"]), (200, &json!("match")), "{v}");
    // An older version's shards are refused now.
    let (old, _) = build(&env, 4, 3);
    let (s, v) = upload(&env, "/v1/admin/shards/0", old[0].clone());
    assert_eq!(s, 409, "{v}");
}

#[test]
fn a_missing_stale_or_modified_shard_is_503_never_clean() {
    let env = sharded_env();
    let files = publish(&env, 5, 3);
    let key = tenant(&env, "acme", json!({}));
    let pdq = json!({ "pdq": listed_pdq().to_hex() });
    let confirm = |expect: u16, needle: &str| {
        let (s, v) = env.call(Method::Post, "/v1/confirm", Some(&key), Some(pdq.clone()));
        assert_eq!(s, expect, "{v}");
        if expect == 503 {
            let m = v["error"]["message"].as_str().unwrap();
            assert!(m.contains(needle), "{m}");
        }
    };
    confirm(200, "");
    let object = "shards/00000000000000000005/shard-0001.schoon";
    let stored = env.backend.blob_get_sync(object).unwrap();

    // Missing.
    env.backend.blob_remove(object);
    confirm(503, "index shard 1 of version 5 is missing");
    // Modified in storage.
    let mut bad = stored.clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    env.backend.blob_insert(object, bad);
    confirm(503, "index shard 1 of version 5 is refused");
    // Stale: the same shard of an older build.
    let (old, _) = build(&env, 4, 3);
    env.backend.blob_insert(object, old[1].clone());
    confirm(503, "index shard 1 of version 5 is refused");
    // Another shard's file in its place.
    env.backend.blob_insert(object, files[2].clone());
    confirm(503, "index shard 1 of version 5 is refused");
    // Repaired: answers again.
    env.backend.blob_insert(object, stored);
    confirm(200, "");
    // An exact query that needs none of the shards still answers when one is missing.
    env.backend.blob_remove(object);
    let sha = ExactHashes::of(b"listed file").sha256;
    let n = schoon_core::set::exact_shard(&sha.0, 3);
    if n != 1 {
        let (s, v) = env.call(
            Method::Post,
            "/v1/confirm",
            Some(&key),
            Some(json!({"sha256": sha.to_hex()})),
        );
        assert_eq!((s, &v["verdict"]), (200, &json!("match")), "{v}");
    }
    // The manifest itself missing.
    env.backend.blob_remove("shards/00000000000000000005/manifest.schoon");
    confirm(503, "the manifest of index version 5 is missing");
}

#[test]
fn a_shard_larger_than_shard_max_bytes_is_refused() {
    let env = Env::new(&[("SHARD_MAX_BYTES", "50000")]);
    let (files, _) = build(&env, 5, 2);
    let (s, v) = upload(&env, "/v1/admin/shards/0", files[0].clone());
    assert_eq!(s, 422, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("over SHARD_MAX_BYTES (50000)") && m.contains("--shards"), "{m}");
    // Within the default limit, the answer says what it will hold.
    let env = sharded_env();
    let (files, _) = build(&env, 5, 2);
    let (s, v) = upload(&env, "/v1/admin/shards/0", files[0].clone());
    assert_eq!(s, 201, "{v}");
    assert!(v["loaded_bytes"].as_u64().unwrap() >= files[0].len() as u64, "{v}");
}

#[test]
fn a_budgeted_head_filter_is_not_served_alone() {
    let env = sharded_env();
    publish(&env, 5, 2);
    let info = BuildInfo { set_version: 5, created: NOW / 1000, signing_key: Some(&env.set_key) };
    let params = schoon_core::set::FilterParams { salt: 9, ..Default::default() };
    let (head, _, _) = builder().build_budgeted(&params, &info, 64 << 10, None).unwrap();
    let (s, v) = upload(&env, "/v1/admin/filter", head);
    assert_eq!(s, 422, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("head filter of a budgeted build") && m.contains("exact buckets"), "{m}");
}
