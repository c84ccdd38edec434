//! `POST /v1/check` (bulk NDJSON checks), receipt subjects and per-tenant list policies,
//! natively against the in-memory backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use schoon_core::set::{BuildInfo, FilterParams, ListInfo, SetBuilder};
use schoon_core::{ExactHashes, HashOptions, Pdq, PdqHash};
use schoon_worker::backend::block_on;
use schoon_worker::http::{Head, Method, Outcome, Reply};
use serde_json::{Value, json};

mod common;
use common::{ADMIN, Env, NOW, fixture};

/// Listed in `alpha` (category `csam`) as a whole-image PDQ hash.
fn alpha_pdq() -> PdqHash {
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".parse().unwrap()
}

/// Listed in `beta` (category `test`) as a region hash only.
fn beta_region() -> PdqHash {
    "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f".parse().unwrap()
}

fn near(hash: PdqHash, bits: usize) -> PdqHash {
    let mut h = hash;
    for bit in 0..bits {
        h.flip_bit(bit * 7);
    }
    h
}

fn sha256_of(bytes: &[u8]) -> String {
    ExactHashes::of(bytes).sha256.to_hex()
}

fn md5_of(bytes: &[u8]) -> String {
    ExactHashes::of(bytes).md5.to_hex()
}

impl Env {
    /// Posts an NDJSON body to /v1/check: the status, the answer lines (or the error body as
    /// one line) and the reply.
    fn check_with(&self, key: &str, body: &str, media: &str) -> (u16, Vec<Value>, Reply) {
        let head = Head::new(Method::Post, "/v1/check")
            .with_header("authorization", &format!("Bearer {key}"))
            .with_header("content-type", media);
        let reply = self.send(head, body.as_bytes().to_vec());
        let r = reply.outcome.response().unwrap();
        let text = String::from_utf8(r.body.clone()).unwrap();
        let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (r.status, lines, reply)
    }

    fn check(&self, key: &str, lines: &[Value]) -> Vec<Value> {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let (status, answer, reply) = self.check_with(key, &body, "application/x-ndjson");
        assert_eq!(status, 200, "{answer:?}");
        let r = reply.outcome.response().unwrap();
        assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
        answer
    }

    fn upload(&self, path: &str, bytes: Vec<u8>) -> u16 {
        let head = Head::new(Method::Put, path)
            .with_header("authorization", &format!("Bearer {ADMIN}"))
            .with_header("content-type", "application/octet-stream");
        self.send(head, bytes).outcome.response().unwrap().status
    }

    /// Publishes version `version` of the set: `alpha` (category csam: a SHA-256, a PDQ hash,
    /// the PDQ hash of the scene fixture) and, when `with_beta`, `beta` (category test: an
    /// MD5, a region hash, the region hashes of the scene fixture).
    fn publish(&self, version: u64, with_beta: bool) {
        let mut b = SetBuilder::new();
        let alpha = b.add_list(ListInfo::new("alpha", "csam", "tests/check.rs")).unwrap();
        b.add_sha256(alpha, ExactHashes::of(b"listed file").sha256);
        b.add_pdq(alpha, alpha_pdq(), Some(100));
        let scene = fixture("scene-baseline-420.jpg");
        let hashed =
            schoon_core::hash_bytes(&scene, &HashOptions { regions: true, ..Default::default() });
        let image = hashed.image.unwrap();
        b.add_pdq(alpha, image.pdq.hash, Some(image.pdq.quality));
        if with_beta {
            let beta = b.add_list(ListInfo::new("beta", "test", "tests/check.rs")).unwrap();
            b.add_md5(beta, ExactHashes::of(b"beta file").md5);
            let region = Pdq { hash: beta_region(), quality: 100, ..Pdq::EMPTY };
            b.add_regions(beta, &[(1, region)]);
            let plane = image.plane.as_ref().unwrap();
            b.add_regions(beta, &schoon_core::regions::Scheme::standard().listed_variants(plane));
        }
        let info = BuildInfo {
            set_version: version,
            created: NOW / 1000,
            signing_key: Some(&self.set_key),
        };
        let (index, filter) =
            b.build_both(&FilterParams { salt: 3, ..Default::default() }, &info).unwrap();
        assert_eq!(self.upload("/v1/admin/index", index), 201);
        assert_eq!(self.upload("/v1/admin/filter", filter), 201);
    }

    fn put_tenant(&self, id: &str, settings: Value) -> (u16, Value) {
        self.call(Method::Put, &format!("/v1/admin/tenants/{id}"), Some(ADMIN), Some(settings))
    }

    fn key(&self, id: &str, scope: &str) -> String {
        let (s, v) = self.call(
            Method::Post,
            &format!("/v1/admin/tenants/{id}/keys"),
            Some(ADMIN),
            Some(json!({"scope": scope})),
        );
        assert_eq!(s, 201, "{v}");
        v["api_key"].as_str().unwrap().to_owned()
    }

    fn tenant(&self, id: &str, settings: Value) -> String {
        let (s, v) = self.put_tenant(id, settings);
        assert!(s == 200 || s == 201, "{s} {v}");
        self.key(id, "server")
    }

    fn stats(&self, key: &str) -> Value {
        let (s, v) = self.call(Method::Get, "/v1/stats", Some(key), None);
        assert_eq!(s, 200, "{v}");
        v["counters"].clone()
    }

    fn receipt_count(&self) -> usize {
        let page = block_on(schoon_worker::backend::Backend::kv_list(
            &self.backend,
            "receipt:",
            None,
            1000,
        ))
        .unwrap()
        .unwrap();
        page.keys.len()
    }
}

fn verdicts(answer: &[Value]) -> Vec<&str> {
    answer.iter().map(|l| l["verdict"].as_str().unwrap()).collect()
}

fn lists_of(line: &Value) -> Vec<&str> {
    line["matches"].as_array().unwrap().iter().map(|m| m["list"].as_str().unwrap()).collect()
}

#[test]
fn every_line_is_answered_in_order_with_per_line_errors() {
    let env = Env::new(&[]);
    env.publish(7, true);
    let key = env.tenant("acme", json!({}));
    let md5 = md5_of(b"clean");
    let long_id = "i".repeat(513);
    let body = [
        json!({"id": "a/listed.jpg", "sha256": sha256_of(b"listed file"), "url": "https://cdn.example.com/a/listed.jpg"}).to_string(),
        json!({"id": "clean.jpg", "md5": md5, "bytes": 5, "width": 1, "height": 1, "format": "jpeg"}).to_string(),
        String::new(),
        json!({"id": "bad-hex", "md5": "xyz"}).to_string(),
        json!({"id": "typo", "sha265": sha256_of(b"x")}).to_string(),
        json!({"md5": md5}).to_string(),
        json!({"id": long_id, "md5": md5}).to_string(),
        json!({"id": "private", "md5": md5, "url": "http://169.254.169.254/latest"}).to_string(),
        "{\"id\": \"broken\", ".to_owned(),
        "   ".to_owned(),
        json!({"path": "dir/near.jpg", "pdq": near(alpha_pdq(), 20).to_hex(), "quality": 90}).to_string(),
        json!({"id": "beta", "md5": md5_of(b"beta file"), "sha256": sha256_of(b"listed file")}).to_string(),
    ]
    .join("\n");
    let (status, answer, reply) = env.check_with(&key, &body, "application/x-ndjson");
    assert_eq!(status, 200, "{answer:?}");
    let r = reply.outcome.response().unwrap();
    assert_eq!(r.header("x-schoon-set-version"), Some("7"));
    let numbers: Vec<u64> = answer.iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(
        numbers,
        [1, 2, 4, 5, 6, 7, 8, 9, 11, 12],
        "one answer per non-empty line, in order"
    );
    assert_eq!(
        verdicts(&answer),
        ["match", "clean", "error", "error", "error", "error", "error", "error", "match", "match"]
    );
    let ids: Vec<Option<&str>> = answer.iter().map(|l| l["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            Some("a/listed.jpg"),
            Some("clean.jpg"),
            Some("bad-hex"),
            Some("typo"),
            None,
            None,
            Some("private"),
            None,
            Some("dir/near.jpg"),
            Some("beta")
        ]
    );
    let error = |i: usize| {
        let e = &answer[i]["error"];
        (e["status"].as_u64().unwrap(), e["message"].as_str().unwrap().to_owned())
    };
    assert_eq!(error(2).0, 422);
    assert!(error(2).1.starts_with("md5: invalid md5 hash 'xyz'"), "{}", error(2).1);
    assert!(error(3).1.contains("unknown field `sha265`"), "{}", error(3).1);
    assert!(error(4).1.starts_with("missing id"), "{}", error(4).1);
    assert_eq!(error(5).1, "id has 513 bytes, at most 512 are accepted");
    assert!(
        error(6).1.contains("'http://169.254.169.254/latest' names a private"),
        "{}",
        error(6).1
    );
    assert_eq!(error(7).0, 400);
    assert!(error(7).1.starts_with("malformed JSON"), "{}", error(7).1);
    assert_eq!(answer[2]["error"]["code"], "invalid");

    // A clean line has no receipts; a match has one per list and kind, with its receipt id.
    assert_eq!(
        answer[1],
        json!({"line": 2, "id": "clean.jpg", "verdict": "clean", "set_version": 7, "matches": []})
    );
    let first = &answer[0];
    assert_eq!(first["set_version"], 7);
    assert_eq!(lists_of(first), ["alpha"]);
    let receipt = &first["receipts"][0];
    assert_eq!(first["matches"][0]["receipt_id"], receipt["id"]);
    assert_eq!(
        (receipt["tenant"].as_str(), receipt["kind"].as_str()),
        (Some("acme"), Some("sha256"))
    );
    assert_eq!(answer[8]["matches"][0]["distance"], 20);
    assert_eq!(lists_of(&answer[9]), ["alpha", "beta"]);
    assert_eq!(answer[9]["receipts"].as_array().unwrap().len(), 2);

    // Receipts verify, are stored, and carry the line's id and URL as their subject.
    let (s, v) = env.call(Method::Post, "/v1/receipts/verify", None, Some(receipt.clone()));
    assert_eq!((s, &v["valid"], &v["stored"]), (200, &json!(true), &json!(true)), "{v}");
    let id = receipt["id"].as_str().unwrap();
    let (_, v) = env.call(Method::Get, &format!("/v1/receipts/{id}"), Some(&key), None);
    assert_eq!(
        v["subject"],
        json!({"object_id": "a/listed.jpg", "url": "https://cdn.example.com/a/listed.jpg"})
    );
    let id = answer[8]["receipts"][0]["id"].as_str().unwrap();
    let (_, v) = env.call(Method::Get, &format!("/v1/receipts/{id}"), Some(&key), None);
    assert_eq!(v["subject"], json!({"object_id": "dir/near.jpg"}), "path serves as the id");

    // Counters count the checked lines, not the bad ones, nor the request.
    let c = env.stats(&key);
    assert_eq!(
        (c["checks"].as_u64(), c["matches"].as_u64(), c["receipts"].as_u64()),
        (Some(4), Some(3), Some(4))
    );
}

#[test]
fn limits_media_type_and_keys_refuse_the_whole_request() {
    let env = Env::new(&[("CHECK_MAX_LINES", "3"), ("CHECK_MAX_BYTES", "400")]);
    env.publish(1, true);
    let key = env.tenant("acme", json!({}));
    let line = json!({"id": "x", "sha256": sha256_of(b"listed file")}).to_string();
    let lines = |n: usize| vec![line.clone(); n].join("\n");

    // Three lines (and blank ones) are fine; four are refused whole, nothing is checked.
    let (status, answer, _) =
        env.check_with(&key, &format!("\n{}\n\n", lines(3)), "application/x-ndjson");
    assert_eq!((status, answer.len()), (200, 3));
    let receipts = env.receipt_count();
    assert_eq!(receipts, 3);
    let before = env.stats(&key);
    let (status, answer, _) = env.check_with(&key, &lines(4), "application/x-ndjson");
    assert_eq!(status, 413);
    assert_eq!(answer[0]["error"]["code"], "too_large");
    assert_eq!(
        answer[0]["error"]["message"],
        "check body has 4 non-empty lines, at most 3 are accepted (CHECK_MAX_LINES)"
    );
    // Over the byte limit: declared, or found while reading.
    let long = format!("{{\"id\":\"{}\",\"md5\":\"{}\"}}", "x".repeat(400), md5_of(b"a"));
    let (status, answer, _) = env.check_with(&key, &long, "application/x-ndjson");
    assert_eq!(status, 413);
    assert!(answer[0]["error"]["message"].as_str().unwrap().contains("400"), "{answer:?}");
    let head = Head::new(Method::Post, "/v1/check")
        .with_header("authorization", &format!("Bearer {key}"))
        .with_header("content-type", "application/x-ndjson")
        .with_header("content-length", "401");
    assert_eq!(env.send(head, Vec::new()).outcome.response().unwrap().status, 413);
    assert_eq!(env.stats(&key), before, "nothing counted");
    assert_eq!(env.receipt_count(), receipts, "nothing issued");

    // Media type, method, keys.
    let (status, answer, _) = env.check_with(&key, &line, "application/json");
    assert_eq!(status, 415);
    assert!(answer[0]["error"]["message"].as_str().unwrap().contains("application/x-ndjson"));
    let (status, ..) = env.check_with(&key, &line, "application/x-ndjson; charset=utf-8");
    assert_eq!(status, 200);
    let (s, _) = env.call(Method::Get, "/v1/check", Some(&key), None);
    assert_eq!(s, 405);
    let browser = env.key("acme", "browser");
    let (status, answer, _) = env.check_with(&browser, &line, "application/x-ndjson");
    assert_eq!(status, 403);
    assert!(answer[0]["error"]["message"].as_str().unwrap().contains("server key"));
    assert_eq!(env.check_with(ADMIN, &line, "application/x-ndjson").0, 403);
    assert_eq!(env.check_with("sk_unknown", &line, "application/x-ndjson").0, 401);
}

#[test]
fn no_index_is_503_and_the_rate_limit_counts_requests() {
    let env = Env::new(&[]);
    let key = env.tenant("acme", json!({"rate_per_minute": 1, "burst": 1}));
    let line = json!({"id": "x", "md5": md5_of(b"a")}).to_string();
    let body = vec![line; 5].join("\n");
    let (status, ..) = env.check_with(&key, &body, "application/x-ndjson");
    assert_eq!(status, 503, "no index published yet");
    env.publish(1, true);
    let key = env.tenant("bulk", json!({"rate_per_minute": 1, "burst": 1}));
    let (status, answer, _) = env.check_with(&key, &body, "application/x-ndjson");
    assert_eq!((status, answer.len()), (200, 5), "five lines take one token");
    let (status, ..) = env.check_with(&key, &body, "application/x-ndjson");
    assert_eq!(status, 429);
    let (_, v) = env.call(Method::Get, "/v1/stats?tenant=bulk", Some(ADMIN), None);
    assert_eq!(v["counters"]["checks"], 5, "{v}");
}

#[test]
fn policy_filters_every_check_path() {
    let env = Env::new(&[("GATE_PREFIX", "/upload"), ("ORIGIN_URL", "http://127.0.0.1:9")]);
    env.publish(1, true);
    let all = env.tenant("all", json!({}));
    let only_beta = env.tenant("only-beta", json!({"lists": ["beta"]}));
    let only_csam = env.tenant("only-csam", json!({"categories": ["csam"]}));
    let both = env.tenant("both", json!({"lists": ["beta"], "categories": ["csam"]}));
    let tight = env.tenant("tight", json!({"thresholds": {"alpha": 10}}));
    let line = json!({"id": "x", "md5": md5_of(b"beta file"), "sha256": sha256_of(b"listed file")});
    let near_line = json!({"id": "n", "pdq": near(alpha_pdq(), 20).to_hex()});
    let closer_line = json!({"id": "c", "pdq": near(alpha_pdq(), 8).to_hex()});
    let check = |key: &str| {
        let answer = env.check(key, &[line.clone(), near_line.clone(), closer_line.clone()]);
        answer.iter().map(|l| lists_of(l).join("+")).collect::<Vec<_>>()
    };
    assert_eq!(check(&all), ["alpha+beta", "alpha", "alpha"]);
    assert_eq!(check(&only_beta), ["beta", "", ""]);
    assert_eq!(check(&only_csam), ["alpha", "alpha", "alpha"]);
    assert_eq!(check(&both), ["", "", ""], "a match must be in both");
    assert_eq!(check(&tight), ["alpha+beta", "", "alpha"], "exact hashes ignore thresholds");
    // Receipts follow the policy: one per kept match.
    let answer = env.check(&only_beta, std::slice::from_ref(&line));
    assert_eq!(answer[0]["receipts"].as_array().unwrap().len(), 1);
    assert_eq!(answer[0]["receipts"][0]["list"], "beta");

    // /v1/confirm.
    let confirm = |key: &str, body: Value| {
        let (s, v) = env.call(Method::Post, "/v1/confirm", Some(key), Some(body));
        assert_eq!(s, 200, "{v}");
        (v["verdict"].as_str().unwrap().to_owned(), lists_of(&v).join("+"))
    };
    let exact = json!({"sha256": sha256_of(b"listed file")});
    assert_eq!(confirm(&all, exact.clone()).0, "match");
    assert_eq!(confirm(&only_beta, exact.clone()), ("clean".into(), String::new()));
    // A whole-image match in a list the tenant did not choose does not hide a region match in
    // one it did.
    let windows = json!({"pdq": alpha_pdq().to_hex(), "windows": [beta_region().to_hex()]});
    assert_eq!(confirm(&all, windows.clone()).1, "alpha");
    assert_eq!(confirm(&only_beta, windows).1, "beta");

    // /v1/scan: the scene fixture's PDQ is in alpha, its regions in beta.
    let scan = |key: &str, body: Vec<u8>| {
        let head = Head::new(Method::Post, "/v1/scan")
            .with_header("authorization", &format!("Bearer {key}"))
            .with_header("content-type", "image/jpeg");
        let r = env.send(head, body);
        let r = r.outcome.response().unwrap();
        let v = r.json_body();
        (v["verdict"].as_str().unwrap().to_owned(), lists_of(&v).join("+"))
    };
    let scene = fixture("scene-baseline-420.jpg");
    assert_eq!(scan(&all, scene.clone()).1, "alpha");
    let (verdict, lists) = scan(&only_beta, scene.clone());
    assert_eq!((verdict.as_str(), lists.as_str()), ("match", "beta"), "regions, after the policy");
    assert_eq!(scan(&only_csam, scene.clone()).1, "alpha");
    assert_eq!(scan(&both, scene.clone()).0, "clean");

    // Gate mode: the gate tenant's record carries the policy.
    let gate = |body: Vec<u8>| {
        let head = Head::new(Method::Post, "/upload/x").with_header("content-type", "image/jpeg");
        let reply = env.send(head, body);
        match &reply.outcome {
            Outcome::Respond(r) => r.status,
            Outcome::Forward { .. } => 200,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(gate(b"listed file".to_vec()), 451);
    env.tenant("gate", json!({"lists": ["beta"]}));
    assert_eq!(gate(b"listed file".to_vec()), 200, "alpha is not the gate tenant's list");
    assert_eq!(gate(b"beta file".to_vec()), 451);
}

#[test]
fn policy_names_are_checked_against_the_current_set() {
    let env = Env::new(&[]);
    let (s, v) = env.put_tenant("acme", json!({"lists": ["alpha"]}));
    assert_eq!(s, 503, "no set to check the names against: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("no index published"), "{v}");
    assert_eq!(
        env.put_tenant("acme", json!({"rate_per_minute": 5})).0,
        201,
        "no policy, no set needed"
    );
    env.publish(1, true);
    for (settings, message) in [
        (
            json!({"lists": ["alpha", "gamma"]}),
            "unknown list 'gamma': the current set has 'alpha', 'beta'",
        ),
        (
            json!({"categories": ["cats"]}),
            "unknown category 'cats': the current set has 'csam', 'test'",
        ),
        (
            json!({"thresholds": {"delta": 3}}),
            "thresholds: unknown list 'delta': the current set has 'alpha', 'beta'",
        ),
        (
            json!({"thresholds": {"alpha": 32}}),
            "thresholds: list 'alpha' has 32, over MATCH_THRESHOLD 31",
        ),
        (json!({"lists": []}), "lists is empty"),
        (json!({"lists": "alpha"}), "invalid type"),
    ] {
        let (s, v) = env.put_tenant("acme", settings.clone());
        assert_eq!(s, 422, "{settings}: {v}");
        let got = v["error"]["message"].as_str().unwrap();
        assert!(got.contains(message), "{settings}: {got}");
    }
    let (s, v) = env.put_tenant(
        "acme",
        json!({"lists": ["beta", "alpha", "beta"], "categories": ["test"], "thresholds": {"alpha": 0}}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["lists"], json!(["alpha", "beta"]));
    assert_eq!(v["thresholds"], json!({"alpha": 0}));
    // PUT replaces the record: without the fields, the tenant matches every list again.
    let (_, v) = env.put_tenant("acme", json!({}));
    assert!(v.get("lists").is_none() && v.get("thresholds").is_none(), "{v}");

    // A later set without `beta`: the tenant that chose it matches nothing, and its record
    // says what the set lacks.
    let key = env.tenant("betas", json!({"lists": ["beta"], "thresholds": {"beta": 5}}));
    let line = json!({"id": "x", "md5": md5_of(b"beta file"), "sha256": sha256_of(b"listed file")});
    assert_eq!(lists_of(&env.check(&key, std::slice::from_ref(&line))[0]), ["beta"]);
    let (s, v) = env.call(Method::Get, "/v1/admin/tenants/betas", Some(ADMIN), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["policy_missing"], json!({"lists": [], "categories": [], "thresholds": []}));
    env.publish(2, false);
    let answer = env.check(&key, &[line]);
    assert_eq!(
        (answer[0]["verdict"].as_str(), answer[0]["set_version"].as_u64()),
        (Some("clean"), Some(2))
    );
    let (_, v) = env.call(Method::Get, "/v1/admin/tenants/betas", Some(ADMIN), None);
    assert_eq!(
        v["policy_missing"],
        json!({"lists": ["beta"], "categories": [], "thresholds": ["beta"]})
    );
    assert_eq!((v["set_version"].as_u64(), v["lists"].clone()), (Some(2), json!(["beta"])));
    assert_eq!(env.call(Method::Get, "/v1/admin/tenants/nobody", Some(ADMIN), None).0, 404);
    assert_eq!(env.call(Method::Get, "/v1/admin/tenants/betas", Some(&key), None).0, 403);
}

#[test]
fn old_tenant_records_still_load() {
    let env = Env::new(&[]);
    env.publish(1, true);
    env.backend.kv_set(
        "tenant:old",
        r#"{"tenant":"old","rate_per_minute":null,"burst":null,"disabled":false,"created_ms":1}"#,
    );
    let key = env.key("old", "server");
    let line = json!({"id": "x", "md5": md5_of(b"beta file"), "sha256": sha256_of(b"listed file")});
    assert_eq!(lists_of(&env.check(&key, &[line])[0]), ["alpha", "beta"]);
    let (s, v) = env.call(Method::Get, "/v1/admin/tenants/old", Some(ADMIN), None);
    assert_eq!((s, &v["created_ms"]), (200, &json!(1)), "{v}");
    assert!(v.get("lists").is_none(), "{v}");
    // Updating it keeps its creation time.
    let (s, v) = env.put_tenant("old", json!({"categories": ["test"]}));
    assert_eq!((s, &v["created_ms"], &v["categories"]), (200, &json!(1), &json!(["test"])));
}

#[test]
fn confirm_and_scan_carry_a_subject() {
    let env = Env::new(&[]);
    env.publish(1, true);
    let key = env.tenant("acme", json!({}));
    let listed = sha256_of(b"listed file");
    let (s, v) = env.call(
        Method::Post,
        "/v1/confirm",
        Some(&key),
        Some(json!({"sha256": listed, "id": "obj-1", "url": "https://img.example.net/1.jpg"})),
    );
    assert_eq!(s, 200, "{v}");
    let id = v["receipts"][0]["id"].as_str().unwrap();
    let (_, r) = env.call(Method::Get, &format!("/v1/receipts/{id}"), Some(&key), None);
    assert_eq!(r["subject"], json!({"object_id": "obj-1", "url": "https://img.example.net/1.jpg"}));
    for (body, message) in [
        (json!({"sha256": listed, "url": "http://localhost/x"}), "names a private"),
        (json!({"sha256": listed, "id": ""}), "id is empty"),
        (json!({"sha256": listed, "url": "ftp://example.com/x"}), "scheme 'ftp'"),
    ] {
        let (s, v) = env.call(Method::Post, "/v1/confirm", Some(&key), Some(body));
        assert_eq!(s, 422, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(message), "{v}");
    }
    let scan = |url: &str| {
        let head = Head::new(Method::Post, "/v1/scan")
            .with_header("authorization", &format!("Bearer {key}"))
            .with_header("content-type", "application/octet-stream")
            .with_header("x-schoon-url", url);
        let reply = env.send(head, b"listed file".to_vec());
        let r = reply.outcome.response().unwrap();
        (r.status, r.json_body())
    };
    let (s, v) = scan("https://files.example.org/f");
    assert_eq!((s, v["verdict"].as_str()), (200, Some("match")), "{v}");
    let id = v["receipts"][0]["id"].as_str().unwrap();
    let (_, r) = env.call(Method::Get, &format!("/v1/receipts/{id}"), Some(&key), None);
    assert_eq!(r["subject"], json!({"url": "https://files.example.org/f"}));
    let (s, v) = scan("http://10.0.0.7/f");
    assert_eq!(s, 422, "{v}");
}

#[test]
fn odd_bodies_are_answered_line_by_line_without_panics() {
    // A small deterministic fuzz: every non-empty line gets exactly one answer line, never a
    // 5xx, whatever the bytes.
    let env = Env::new(&[]);
    env.publish(1, true);
    let key = env.tenant("acme", json!({}));
    let pieces: [&[u8]; 14] = [
        b"{}",
        b"null",
        b"\"text\"",
        b"\xff\xfe\x00",
        b"{\"id\":\"\xc3\x28\"}",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]",
        b"{\"id\":\"a\",\"pdq\":\"00\",\"quality\":500}",
        b"{\"id\":\"a\",\"windows\":[\"zz\"]}",
        b"{\"id\":\"a\",\"md5\":null}",
        b"{\"id\":\"a\",\"url\":\"https://a.example/\",\"url\":5}",
        b"{\"id\":{\"x\":1},\"md5\":\"00\"}",
        b"{\"id\":\"a\",\"pdq_dihedral\":[],\"sha1\":\"00\"}",
        b"\r",
        b"{\"path\":\"p\",\"md5\":\"00000000000000000000000000000000\",\"region\":\"x\",\"dhash\":\"1\"}",
    ];
    for seed in 0..60usize {
        let mut body = Vec::new();
        let mut expected = 0;
        for i in 0..(seed % 7 + 1) {
            let piece = pieces[(seed * 5 + i * 3) % pieces.len()];
            expected += usize::from(!piece.trim_ascii().is_empty());
            body.extend_from_slice(piece);
            body.push(b'\n');
        }
        let head = Head::new(Method::Post, "/v1/check")
            .with_header("authorization", &format!("Bearer {key}"))
            .with_header("content-type", "application/x-ndjson");
        let reply = env.send(head, body.clone());
        let r = reply.outcome.response().unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&body));
        let text = String::from_utf8(r.body.clone()).unwrap();
        let answers: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(answers.len(), expected, "{}", String::from_utf8_lossy(&body));
        for a in &answers {
            let status = a["error"]["status"].as_u64().unwrap_or(200);
            assert!(status < 500, "{a}");
        }
    }
}
