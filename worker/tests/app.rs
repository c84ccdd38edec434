//! The whole request handling, natively, against the in-memory backend: the same code the
//! worker runs, minus the Workers adapter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use schoon_core::set::{BuildInfo, FilterParams, ListInfo, SetBuilder};
use schoon_core::{ExactHashes, PdqHash};
use schoon_worker::app::App;
use schoon_worker::backend::block_on;
use schoon_worker::http::{Deferred, Head, Method, Outcome, Reply};
use schoon_worker::isolate::Isolate;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, Env, NOW};

fn listed_pdq() -> PdqHash {
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".parse().unwrap()
}

impl Env {
    fn upload(&self, path: &str, bytes: Vec<u8>) -> (u16, Value) {
        let head = Head::new(Method::Put, path)
            .with_header("authorization", &format!("Bearer {ADMIN}"))
            .with_header("content-type", "application/octet-stream");
        let reply = self.send(head, bytes);
        let r = reply.outcome.response().unwrap();
        (r.status, r.json_body())
    }

    fn build(&self, version: u64, extra_sha256: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut b = SetBuilder::new();
        let list = b.add_list(ListInfo::new("native", "test", "tests/app.rs")).unwrap();
        b.add_sha256(list, ExactHashes::of(b"listed file").sha256);
        for extra in extra_sha256 {
            b.add_sha256(list, ExactHashes::of(extra).sha256);
        }
        b.add_pdq(list, listed_pdq(), Some(100));
        let info = BuildInfo {
            set_version: version,
            created: NOW / 1000,
            signing_key: Some(&self.set_key),
        };
        b.build_both(&FilterParams { salt: 3, ..Default::default() }, &info).unwrap()
    }

    fn publish(&self, version: u64) {
        let (index, filter) = self.build(version, &[]);
        assert_eq!(self.upload("/v1/admin/index", index).0, 201);
        assert_eq!(self.upload("/v1/admin/filter", filter).0, 201);
    }

    fn tenant(&self, id: &str, settings: Value, scope: &str) -> String {
        let (s, _) =
            self.call(Method::Put, &format!("/v1/admin/tenants/{id}"), Some(ADMIN), Some(settings));
        assert!(s == 200 || s == 201);
        let (s, v) = self.call(
            Method::Post,
            &format!("/v1/admin/tenants/{id}/keys"),
            Some(ADMIN),
            Some(json!({"scope": scope})),
        );
        assert_eq!(s, 201);
        v["api_key"].as_str().unwrap().to_owned()
    }

    fn run_deferred(&self, reply: &Reply) {
        for d in &reply.deferred {
            block_on(self.app().run_deferred(d)).unwrap().unwrap();
        }
    }
}

#[test]
fn publish_confirm_receipt_follow_up() {
    let env = Env::new(&[]);
    env.publish(7);
    let key = env.tenant("acme", json!({}), "server");
    let listed = ExactHashes::of(b"listed file").sha256.to_hex();
    let (s, v) =
        env.call(Method::Post, "/v1/confirm", Some(&key), Some(json!({ "sha256": listed })));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["verdict"], "match");
    let receipt = &v["receipts"][0];
    assert_eq!(receipt["tenant"], "acme");
    assert_eq!(receipt["set_version"], 7);
    let id = receipt["id"].as_str().unwrap();

    let (s, v) = env.call(
        Method::Post,
        &format!("/v1/receipts/{id}/follow-up"),
        Some(&key),
        Some(json!({"status": "removed"})),
    );
    assert_eq!((s, v["status"].as_str()), (200, Some("removed")));

    // Tampering with the stored receipt is caught when it is read back.
    let stored = env.backend.kv_value(&format!("receipt:{id}")).unwrap();
    env.backend
        .kv_set(&format!("receipt:{id}"), &stored.replace("\"distance\":0", "\"distance\":1"));
    let (s, v) = env.call(Method::Get, &format!("/v1/receipts/{id}"), Some(&key), None);
    assert_eq!(s, 200);
    assert_eq!(v["valid"], false, "{v}");
}

#[test]
fn pdq_near_matches_and_dihedral_variants() {
    let env = Env::new(&[]);
    env.publish(1);
    let key = env.tenant("acme", json!({}), "browser");
    let mut near = listed_pdq();
    for bit in 0..20 {
        near.flip_bit(bit * 7);
    }
    let (_, v) = env.call(
        Method::Post,
        "/v1/confirm",
        Some(&key),
        Some(json!({"pdq": near.to_hex(), "quality": 80})),
    );
    assert_eq!(v["matches"][0]["distance"], 20);
    let mut far = near;
    for bit in 0..12 {
        far.flip_bit(bit * 7 + 3);
    }
    let (_, v) =
        env.call(Method::Post, "/v1/confirm", Some(&key), Some(json!({"pdq": far.to_hex()})));
    assert_eq!(v["verdict"], "clean", "32 bits away is over the threshold");
}

#[test]
fn counters_survive_isolates_and_merge_in_the_export() {
    let env = Env::new(&[]);
    env.publish(1);
    let key = env.tenant("acme", json!({}), "server");
    let body = json!({"sha256": "00".repeat(32)});
    // Isolate A: three checks. The first schedules an immediate write (run here); the second
    // one a second later (held back, as `waitUntil` would); the third nothing.
    let confirm = || {
        let head = Head::new(Method::Post, "/v1/confirm")
            .with_header("authorization", &format!("Bearer {key}"))
            .with_header("content-type", "application/json");
        env.send(head, body.to_string().into_bytes())
    };
    let first = confirm();
    assert!(matches!(first.deferred.as_slice(), [Deferred::FlushCounters { after_ms: 0, .. }]));
    env.run_deferred(&first);
    env.backend.advance(300);
    let second = confirm();
    assert!(
        matches!(second.deferred.as_slice(), [Deferred::FlushCounters { after_ms: 700, .. }]),
        "{:?}",
        second.deferred
    );
    assert!(confirm().deferred.is_empty(), "a flush is pending already");
    // Isolate B shares the store, not the memory.
    let other = Isolate::new("isolate-b".into());
    let app_b = App { config: &env.config, isolate: &other, backend: &env.backend };
    let head =
        Head::new(Method::Get, "/v1/stats").with_header("authorization", &format!("Bearer {key}"));
    let reply = block_on(app_b.serve(&head, Vec::new())).unwrap();
    let v = reply.outcome.response().unwrap().json_body();
    // The first check was flushed at once; the next two wait for the second flush.
    assert_eq!(v["counters"]["checks"], 1, "{v}");
    env.backend.advance(700);
    env.run_deferred(&second);
    let reply = block_on(app_b.serve(&head, Vec::new())).unwrap();
    let v = reply.outcome.response().unwrap().json_body();
    assert_eq!(v["counters"]["checks"], 3, "{v}");
    // Isolate A itself counts its own memory, never twice.
    let (_, v) = env.call(Method::Get, "/v1/stats", Some(&key), None);
    assert_eq!(v["counters"]["checks"], 3, "{v}");
}

#[test]
fn gate_forwards_clean_uploads_and_refuses_matches() {
    let env = Env::new(&[("GATE_PREFIX", "/upload"), ("ORIGIN_URL", "http://127.0.0.1:9")]);
    env.publish(1);
    let upload = |body: &[u8], ct: &str| {
        let head = Head::new(Method::Post, "/upload/a?x=1")
            .with_header("content-type", ct)
            .with_header("x-schoon-verdict", "clean")
            .with_header("x-custom", "kept");
        env.send(head, body.to_vec())
    };
    let reply = upload(b"some bytes", "application/octet-stream");
    let Outcome::Forward { forward, body } = &reply.outcome else { panic!("{reply:?}") };
    assert_eq!(forward.url, "http://127.0.0.1:9/upload/a?x=1");
    assert_eq!(body, b"some bytes");
    let verdicts: Vec<&str> = forward
        .headers
        .iter()
        .filter(|(k, _)| k == "x-schoon-verdict")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        verdicts,
        ["unchecked"],
        "not an image: exact hashes checked, verdict unchecked; the client's header is dropped"
    );
    assert!(forward.headers.iter().any(|(k, v)| k == "x-custom" && v == "kept"));

    let reply = upload(b"listed file", "image/jpeg");
    let r = reply.outcome.response().unwrap();
    assert_eq!(r.status, 451);
    assert_eq!(r.json_body()["receipts"][0]["tenant"], "gate");

    let form = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.jpg\"\r\n\r\nlisted file\r\n--B--\r\n";
    let reply = upload(form, "multipart/form-data; boundary=B");
    assert_eq!(reply.outcome.response().map(|r| r.status), Some(451));
    let reply = upload(b"--B\r\nbroken", "multipart/form-data; boundary=B");
    assert_eq!(reply.outcome.response().map(|r| r.status), Some(400));

    let get = env.send(Head::new(Method::Get, "/upload/list"), Vec::new());
    assert!(
        matches!(get.outcome, Outcome::ForwardUnread(ref f) if f.headers.iter().any(|(k, v)| k == "x-schoon-verdict" && v == "none"))
    );
    let big = Head::new(Method::Post, "/upload/a").with_header("content-length", "999999999");
    assert_eq!(env.send(big, Vec::new()).outcome.response().map(|r| r.status), Some(413));
}

#[test]
fn storage_failures_are_503_not_panics() {
    let env = Env::new(&[]);
    env.publish(1);
    let key = env.tenant("acme", json!({}), "server");
    env.backend.broken.set(true);
    env.isolate.forget_keys();
    let (s, v) =
        env.call(Method::Post, "/v1/confirm", Some(&key), Some(json!({"sha256": "00".repeat(32)})));
    assert_eq!(s, 503, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("storage unavailable"));
}

#[test]
fn arbitrary_requests_never_panic() {
    // A small deterministic fuzz over paths, methods, headers and bodies.
    let env = Env::new(&[("GATE_PREFIX", "/up"), ("ORIGIN_URL", "http://127.0.0.1:9")]);
    env.publish(1);
    let key = env.tenant("acme", json!({}), "server");
    let paths = [
        "/",
        "/v1",
        "/v1/",
        "/v1/confirm",
        "/v1/scan",
        "/v1/filter/",
        "/v1/filter/18446744073709551616",
        "/v1/filter/delta/1/x",
        "/v1/receipts/..%2f",
        "/v1/receipts/%00/report",
        "/v1/admin/keys/zz",
        "/v1/admin/tenants/%E2%82%AC",
        "/v1/stats?format=csv&tenant=x",
        "/v1/receipts?limit=-1&older_than=x",
        "/up",
        "/up/x?y",
        "/v1/receipts/verify",
    ];
    let methods =
        [Method::Get, Method::Post, Method::Put, Method::Delete, Method::Options, Method::Other];
    let bodies: [&[u8]; 6] =
        [b"", b"{", b"{}", b"\xff\xd8\xff", b"--x\r\n", b"{\"status\":\"removed\"}"];
    let types = [
        "application/json",
        "image/jpeg",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "",
    ];
    for (i, path) in paths.iter().enumerate() {
        for (j, m) in methods.iter().enumerate() {
            for (k, body) in bodies.iter().enumerate() {
                let mut head = Head::new(*m, path)
                    .with_header("content-type", types[(i + j + k) % types.len()]);
                match (i + k) % 3 {
                    0 => head = head.with_header("authorization", &format!("Bearer {key}")),
                    1 => head = head.with_header("authorization", &format!("Bearer {ADMIN}")),
                    _ => {}
                }
                let reply = env.send(head, body.to_vec());
                if let Some(r) = reply.outcome.response() {
                    assert!(r.status < 500 || r.status == 503, "{path} {m:?} {body:?}: {r:?}");
                }
            }
        }
    }
}
