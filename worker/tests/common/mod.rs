//! What the native worker tests share: the request handling over the in-memory backend, with
//! test keys and a configuration made of a few variables.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses a part

use std::path::PathBuf;

use schoon_core::SigningKey;
use schoon_worker::app::App;
use schoon_worker::backend::{MemoryBackend, block_on};
use schoon_worker::config::Config;
use schoon_worker::http::{Deferred, Head, Method, Reply};
use schoon_worker::isolate::Isolate;
use serde_json::Value;

/// The admin key (its SHA-256 is configured).
pub const ADMIN: &str = "admin";
/// The backend's clock at the start, unix milliseconds.
pub const NOW: u64 = 1_764_400_000_000;

/// A file of `tests/fixtures` at the repository root.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name);
    std::fs::read(path).unwrap()
}

/// The configuration: the set key's public half, a receipt key, the admin key, no set
/// caching; then `extra`, which overrides those (an empty value removes a variable).
pub fn config(set_key: &SigningKey, extra: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vec![
        ("SET_PUBLIC_KEY".into(), set_key.public_key().to_hex()),
        ("RECEIPT_SIGNING_KEY".into(), "05".repeat(32)),
        ("ADMIN_KEY_SHA256".into(), schoon_core::sha256(ADMIN.as_bytes()).to_hex()),
        ("SET_REFRESH_SECONDS".into(), "0".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(n, _)| n != k);
        if !v.is_empty() {
            vars.push((k.to_string(), v.to_string()));
        }
    }
    Config::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
}

/// One isolate of the worker over an in-memory store.
pub struct Env {
    pub config: Config,
    pub backend: MemoryBackend,
    pub isolate: Isolate,
    pub set_key: SigningKey,
}

impl Env {
    /// A worker configured by [`config`] with `extra`, at time [`NOW`].
    pub fn new(extra: &[(&str, &str)]) -> Env {
        let set_key = SigningKey::from_seed([9; 32]);
        Env {
            config: config(&set_key, extra),
            backend: MemoryBackend::new(NOW),
            isolate: Isolate::new("isolate-a".into()),
            set_key,
        }
    }

    pub fn app(&self) -> App<'_, MemoryBackend> {
        App { config: &self.config, isolate: &self.isolate, backend: &self.backend }
    }

    /// One request, as the worker answers it (deferred work not run).
    pub fn send(&self, head: Head, body: Vec<u8>) -> Reply {
        block_on(self.app().serve(&head, body)).unwrap()
    }

    /// Runs deferred work (counter flushes) now.
    pub fn flush(&self, deferred: &[Deferred]) {
        for d in deferred {
            block_on(self.app().run_deferred(d)).unwrap().unwrap();
        }
    }

    /// A request with an optional key and JSON body: the status and the body (JSON, or the
    /// text of a CSV answer as a JSON string). Deferred work is not run.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let reply = self.call_reply(method, path, key, body);
        let r = reply.outcome.response().unwrap();
        let body = if r.header("content-type").is_some_and(|c| c.starts_with("text/csv")) {
            Value::String(String::from_utf8(r.body.clone()).unwrap())
        } else {
            r.json_body()
        };
        (r.status, body)
    }

    /// [`Env::call`]'s request, answered whole.
    pub fn call_reply(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut head = Head::new(method, path);
        if let Some(k) = key {
            head = head.with_header("authorization", &format!("Bearer {k}"));
        }
        let bytes = match body {
            Some(v) => {
                head = head.with_header("content-type", "application/json");
                v.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        self.send(head, bytes)
    }
}
