//! The test worker of `schoon scan --remote`: a small HTTP server that serves the filter
//! routes with real signed set files made by `schoon build`, answers `/v1/check` from the real
//! core `Index` (the wire format of the worker's route), and records every request.

#![allow(dead_code)] // each test file uses a part

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schoon_core::set::{Index, MatchOptions, PdqQuery, Query, Trust, Verdict};
use schoon_core::{Md5, PdqHash, PublicKey, Sha1, Sha256};
use serde_json::{Map, Value, json};

use crate::util::{root, schoon};

pub const KEY: &str = "sk_test_server_key";

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the server serves and how it misbehaves.
#[derive(Default)]
pub struct State {
    /// Published filters (version, bytes); the last is current.
    pub filters: Vec<(u64, Vec<u8>)>,
    pub index: Option<Index>,
    /// Statuses to answer the next `/v1/check` requests with (with `Retry-After: 1`).
    pub inject: VecDeque<u16>,
    /// Answer every `/v1/check` with this status.
    pub always: Option<u16>,
    /// Wait this long before answering `/v1/check`.
    pub delay: Duration,
    pub seen: Vec<Seen>,
    pub receipts: u64,
}

pub struct Server {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start(state: State) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let st = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &st);
                });
            }
        });
        Server { url, state }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    pub fn checks(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|r| r.path == "/v1/check").collect()
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len: usize =
        headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let mut seen = Seen { method, path, headers, body, status: 0, at: Instant::now() };
    let (status, extra, answer) = route(&seen, state);
    seen.status = status;
    state.lock().unwrap().seen.push(seen);
    let mut head =
        format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", answer.len());
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&answer)?;
    stream.flush()
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn route(req: &Seen, state: &Mutex<State>) -> Answer {
    let h = |k: &str, v: String| (k.to_owned(), v);
    if req.method == "GET" && req.path == "/v1/filter" {
        let st = state.lock().unwrap();
        let (v, _) = st.filters.last().unwrap();
        return (302, vec![h("location", format!("/v1/filter/{v}"))], Vec::new());
    }
    if req.method == "GET"
        && let Some(v) = req.path.strip_prefix("/v1/filter/")
    {
        let st = state.lock().unwrap();
        let Some((_, bytes)) = st.filters.iter().find(|(x, _)| x.to_string() == v) else {
            return (404, vec![], b"{}".to_vec());
        };
        let etag = format!("\"{}\"", schoon_core::sha256(bytes).to_hex());
        if req.header("if-none-match") == Some(etag.as_str()) {
            return (304, vec![h("etag", etag)], Vec::new());
        }
        return (200, vec![h("etag", etag)], bytes.clone());
    }
    if req.method == "POST" && req.path == "/v1/check" {
        let delay = state.lock().unwrap().delay;
        std::thread::sleep(delay);
        let mut st = state.lock().unwrap();
        if let Some(code) = st.always.or_else(|| st.inject.pop_front()) {
            let body = json!({"error": {"status": code, "code": "busy", "message": "try later"}});
            return (code, vec![h("retry-after", "1".into())], body.to_string().into_bytes());
        }
        if req.header("authorization") != Some(&format!("Bearer {KEY}")) {
            return (
                401,
                vec![],
                b"{\"error\":{\"status\":401,\"code\":\"unauthorized\",\"message\":\"bad key\"}}"
                    .to_vec(),
            );
        }
        assert_eq!(req.header("content-type"), Some("application/x-ndjson"));
        let text = String::from_utf8(req.body.clone()).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() <= 1000 && req.body.len() <= 1 << 20, "over the worker's limits");
        let mut out = String::new();
        let receipts = st.receipts;
        let index = st.index.as_ref().unwrap();
        let mut issued = 0;
        for (i, l) in lines.iter().enumerate() {
            let v: Map<String, Value> = serde_json::from_str(l).unwrap();
            let answer = check_line(index, i + 1, &v, receipts + issued);
            issued += 1;
            out.push_str(&answer.to_string());
            out.push('\n');
        }
        st.receipts += issued;
        let version = st.filters.last().unwrap().0;
        return (
            200,
            vec![
                h("content-type", "application/x-ndjson".into()),
                h("x-schoon-set-version", version.to_string()),
            ],
            out.into_bytes(),
        );
    }
    (404, vec![], b"{}".to_vec())
}

fn hex<const N: usize>(v: &Value) -> [u8; N] {
    schoon_core::hex::decode_array::<N>(v.as_str().unwrap(), "hash").unwrap()
}

/// The worker's `/v1/check` answer for one line, from the real core index.
fn check_line(index: &Index, line: usize, v: &Map<String, Value>, receipt: u64) -> Value {
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut q = Query::default();
    let mut windows = Vec::new();
    for (k, x) in v {
        match k.as_str() {
            "id" | "quality" | "pdq" => {}
            "md5" => q.md5 = Some(Md5(hex(x))),
            "sha1" => q.sha1 = Some(Sha1(hex(x))),
            "sha256" => q.sha256 = Some(Sha256(hex(x))),
            "pdq_dihedral" => {
                let variants = x.as_array().unwrap().iter().map(|h| PdqHash(hex(h))).collect();
                let quality = v.get("quality").and_then(Value::as_u64).map(|q| q as u8);
                q.pdq = Some(PdqQuery { variants, quality, coefficients: None });
            }
            "windows" => windows = x.as_array().unwrap().iter().map(|h| PdqHash(hex(h))).collect(),
            other => {
                return json!({"line": line, "id": id, "verdict": "error",
                    "error": {"status": 422, "code": "invalid", "message": format!("unknown field {other}")}});
            }
        }
    }
    let matches = index.lookup_with_windows(&q, &windows, &MatchOptions::default());
    let verdict = Verdict::of_matches(&matches);
    let matches: Vec<Value> = matches
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let mut o = json!({"list": m.list, "category": m.category, "kind": m.kind.name(),
                "distance": m.distance, "receipt_id": format!("r{receipt}-{k}")});
            if let Some(variant) = m.variant {
                o["variant"] = json!(variant);
            }
            if let Some(region) = &m.region {
                o["region"] = json!(region);
            }
            o
        })
        .collect();
    json!({"line": line, "id": id, "verdict": verdict.name(), "set_version": index.header().set_version, "matches": matches})
}

/// A signing key, and a set (index + filter) built from `listed` at `version`.
pub struct Sets {
    pub dir: tempfile::TempDir,
}

impl Sets {
    pub fn new() -> Sets {
        let dir = tempfile::tempdir().unwrap();
        let out = schoon(&["keygen", "--out", s(&dir.path().join("key"))]);
        assert_eq!(out.status.code(), Some(0));
        Sets { dir }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn public_key(&self) -> String {
        s(&self.path("key.pub")).to_owned()
    }
    /// Builds version `version` from the images in `listed`; returns (index, filter) paths.
    pub fn build(&self, listed: &Path, version: u64) -> (PathBuf, PathBuf) {
        let idx = self.path(&format!("v{version}.index"));
        let flt = self.path(&format!("v{version}.filter"));
        let out = schoon(&[
            "build",
            "--images",
            s(listed),
            "--name",
            "test-list",
            "--category",
            "test",
            "--signing-key",
            s(&self.path("key")),
            "--out-index",
            s(&idx),
            "--out-filter",
            s(&flt),
            "--set-version",
            &version.to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        (idx, flt)
    }
    pub fn state(&self, listed: &Path, version: u64) -> State {
        let (idx, flt) = self.build(listed, version);
        let key =
            PublicKey::from_text(&std::fs::read_to_string(self.public_key()).unwrap()).unwrap();
        let index = Index::from_bytes(std::fs::read(idx).unwrap(), &Trust::key(key)).unwrap();
        State {
            filters: vec![(version, std::fs::read(flt).unwrap())],
            index: Some(index),
            ..Default::default()
        }
    }
}

pub fn remote(
    server: &Server,
    sets: &Sets,
    cache: &Path,
    extra: &[&str],
    paths: &[&Path],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_schoon"));
    cmd.args(["scan", "--remote", &server.url, "--public-key", &sets.public_key()])
        .args(["--cache-dir", s(cache), "--stats", "--backoff-ms", "20"])
        .args(extra)
        .args(paths.iter().map(|p| s(p)))
        .env("SCHOON_API_KEY", KEY);
    cmd.output().unwrap()
}

pub fn stats(out: &Output) -> Value {
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_else(|| panic!("no stats line"));
    serde_json::from_str(last).unwrap_or_else(|_| panic!("no stats in {err}"))
}

/// Verdicts by path, and the (list, kind) of each file's matches.
pub type Verdicts = Vec<(String, String, BTreeSet<(String, String)>)>;

pub fn verdicts(lines: &[Value]) -> Verdicts {
    lines
        .iter()
        .map(|l| {
            let kinds = l["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (m["list"].to_string(), m["kind"].as_str().unwrap().to_owned()))
                .collect();
            (
                l["path"].as_str().unwrap().to_owned(),
                l["verdict"].as_str().unwrap().to_owned(),
                kinds,
            )
        })
        .collect()
}

pub fn examples() -> PathBuf {
    root().join("examples")
}

/// The examples' listed pictures as a list of their own.
pub fn listed_examples(dir: &Path) -> PathBuf {
    let listed = dir.join("listed");
    std::fs::create_dir_all(&listed).unwrap();
    for e in std::fs::read_dir(examples().join("listed")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), listed.join(e.file_name())).unwrap();
    }
    listed
}

/// A fresh key, a set of the examples' listed pictures at version 5 served by a new server,
/// and a cache directory: (sets, listed, server, cache).
pub fn start_examples() -> (Sets, PathBuf, Server, PathBuf) {
    let sets = Sets::new();
    let listed = listed_examples(sets.dir.path());
    let server = Server::start(sets.state(&listed, 5));
    let cache = sets.path("cache");
    (sets, listed, server, cache)
}

/// Small distinct images numbered `start..start + count` (PNG, 48x48, a pattern seeded by the
/// number), named `img-NNNNNN.png`.
pub fn make_images(dir: &Path, start: usize, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in start..start + count {
        // An 8x8 grid of random cells: unrelated images have unrelated PDQ hashes.
        let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let cells: Vec<[u8; 3]> = (0..64)
            .map(|_| {
                let r = next();
                [r as u8, (r >> 8) as u8, (r >> 16) as u8]
            })
            .collect();
        let img = image::RgbImage::from_fn(48, 48, |px, py| {
            image::Rgb(cells[(py / 6 * 8 + px / 6) as usize])
        });
        img.save(dir.join(format!("img-{i:06}.png"))).unwrap();
    }
}

pub fn without_receipts(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for m in v["matches"].as_array_mut().unwrap() {
                m.as_object_mut().unwrap().remove("receipt_id");
            }
            v
        })
        .collect()
}
