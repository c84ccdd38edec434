//! The worker's request handling as a pure function: `App::serve` over the in-memory backend
//! (the code the Cloudflare Worker runs, minus the Workers adapter), with a published signed
//! set, a tenant and its key. Input: a method byte, then `path\n`, `name: value\n` header lines
//! up to an empty line, then the body. `{key}` in the text becomes the tenant's API key and
//! `{admin}` the admin key, so authenticated routes are reached.
//!
//! Checks: no panic, and no 500 (a 500 means a bug: every bad request is a 4xx).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use schoon_core::set::{BuildInfo, FilterParams, ListInfo, SetBuilder};
use schoon_core::{ExactHashes, PdqHash, SigningKey};
use schoon_worker::app::App;
use schoon_worker::backend::{MemoryBackend, block_on};
use schoon_worker::config::Config;
use schoon_worker::http::{Head, Method};
use schoon_worker::state::Isolate;

const ADMIN: &str = "fuzz-admin";
const NOW: u64 = 1_764_400_000_000;

/// A signed index and filter (built once).
fn set() -> &'static (Vec<u8>, Vec<u8>, SigningKey) {
    static SET: OnceLock<(Vec<u8>, Vec<u8>, SigningKey)> = OnceLock::new();
    SET.get_or_init(|| {
        let key = SigningKey::from_seed([9; 32]);
        let mut b = SetBuilder::new();
        let list = b.add_list(ListInfo::new("fuzz", "test", "fuzz")).expect("list");
        b.add_sha256(list, ExactHashes::of(b"listed file").sha256);
        let pdq: PdqHash =
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".parse().expect("pdq");
        b.add_pdq(list, pdq, Some(100));
        let info = BuildInfo { set_version: 5, created: NOW / 1000, signing_key: Some(&key) };
        let (index, filter) =
            b.build_both(&FilterParams { salt: 3, ..Default::default() }, &info).expect("build");
        (index, filter, key)
    })
}

fn send(app: &App<'_, MemoryBackend>, head: Head, body: Vec<u8>) -> (u16, Vec<u8>) {
    let Some(reply) = block_on(app.serve(&head, body)) else { return (0, Vec::new()) };
    match reply.outcome.response() {
        Some(r) => (r.status, r.body.clone()),
        None => (0, Vec::new()),
    }
}

/// The prepared state: configuration, an isolate (its index cache stays warm across inputs),
/// and two stores to start from: with a published set, or with nothing published; both hold a
/// tenant `acme` with a server key.
struct Prepared {
    config: &'static Config,
    isolate: &'static Isolate,
    /// A second isolate for the empty store (the first caches the published index).
    isolate_empty: &'static Isolate,
    published: MemoryBackend,
    empty: MemoryBackend,
    key: String,
}

fn prepare() -> Prepared {
    let (index, filter, set_key) = set();
    let admin_hash = schoon_core::sha256(ADMIN.as_bytes()).to_hex();
    let vars: Vec<(&str, String)> = vec![
        ("SET_PUBLIC_KEY", set_key.public_key().to_hex()),
        ("RECEIPT_SIGNING_KEY", "05".repeat(32)),
        ("ADMIN_KEY_SHA256", admin_hash),
        ("SET_REFRESH_SECONDS", "3600".into()),
        ("SCAN_MAX_BYTES", "100000".into()),
    ];
    let config: &'static Config = Box::leak(Box::new(
        Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .expect("config"),
    ));
    let isolate: &'static Isolate = Box::leak(Box::new(Isolate::new("fuzz".into())));
    let empty = MemoryBackend::new(NOW);
    let key = {
        let app = App { config, isolate, backend: &empty };
        let (s, _) = admin(&app, Method::Put, "/v1/admin/tenants/acme", b"{}".to_vec(), true);
        assert_eq!(s, 201);
        let (s, body) = admin(
            &app,
            Method::Post,
            "/v1/admin/tenants/acme/keys",
            br#"{"scope":"server"}"#.to_vec(),
            true,
        );
        assert_eq!(s, 201);
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["api_key"].as_str().map(str::to_owned))
            .expect("api key")
    };
    let published = empty.snapshot();
    let app = App { config, isolate, backend: &published };
    assert_eq!(admin(&app, Method::Put, "/v1/admin/index", index.clone(), false).0, 201);
    assert_eq!(admin(&app, Method::Put, "/v1/admin/filter", filter.clone(), false).0, 201);
    let isolate_empty: &'static Isolate = Box::leak(Box::new(Isolate::new("fuzz-empty".into())));
    Prepared { config, isolate, isolate_empty, published, empty, key }
}

fn admin(
    app: &App<'_, MemoryBackend>,
    method: Method,
    path: &str,
    body: Vec<u8>,
    json: bool,
) -> (u16, Vec<u8>) {
    let head = Head::new(method, path)
        .with_header("authorization", &format!("Bearer {ADMIN}"))
        .with_header(
            "content-type",
            if json { "application/json" } else { "application/octet-stream" },
        );
    send(app, head, body)
}

thread_local! {
    static PREPARED: Prepared = prepare();
}

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else { return };
    PREPARED.with(|p| one(p, m, rest));
});

fn one(p: &Prepared, m: u8, rest: &[u8]) {
    // The high bit of the first byte starts from the store with nothing published.
    let (backend, isolate) = if m & 0x80 == 0 {
        (p.published.snapshot(), p.isolate)
    } else {
        (p.empty.snapshot(), p.isolate_empty)
    };
    let app = App { config: p.config, isolate, backend: &backend };
    let key = &p.key;

    // The fuzzed request.
    let split = rest.windows(2).position(|w| w == b"\n\n").unwrap_or(rest.len());
    let (head_bytes, body) = rest.split_at(split);
    let body = body.get(2..).unwrap_or_default().to_vec();
    let text = String::from_utf8_lossy(head_bytes)
        .replace("{key}", key)
        .replace("{admin}", ADMIN);
    let mut lines = text.split('\n');
    let path = lines.next().unwrap_or("/");
    let method = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
        Method::Other,
    ][usize::from(m & 7)];
    let mut head = Head::new(method, path);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            head = head.with_header(name.trim(), value.trim());
        }
    }
    // The in-memory backend never waits: a request that does not finish is a bug.
    let reply = block_on(app.serve(&head, body)).expect("request finished");
    if let Some(r) = reply.outcome.response() {
        assert_ne!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
    }
    for d in &reply.deferred {
        let _ = block_on(app.run_deferred(d));
    }
}
