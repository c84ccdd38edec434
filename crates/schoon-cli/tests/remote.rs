//! `schoon scan --remote` against a small HTTP server in the test: it serves the filter routes
//! with real signed set files made by `schoon build`, answers `/v1/check` from the real core
//! `Index` (the wire format of the worker's route), and records every request.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

mod util;

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schoon_core::set::{Index, MatchOptions, PdqQuery, Query, Trust, Verdict};
use schoon_core::{Md5, PdqHash, PublicKey, Sha1, Sha256};
use serde_json::{Map, Value, json};
use util::{root, schoon, stdout_lines};

const KEY: &str = "sk_test_server_key";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One recorded request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the server serves and how it misbehaves.
#[derive(Default)]
struct State {
    /// Published filters (version, bytes); the last is current.
    filters: Vec<(u64, Vec<u8>)>,
    index: Option<Index>,
    /// Statuses to answer the next `/v1/check` requests with (with `Retry-After: 1`).
    inject: VecDeque<u16>,
    /// Answer every `/v1/check` with this status.
    always: Option<u16>,
    /// Wait this long before answering `/v1/check`.
    delay: Duration,
    seen: Vec<Seen>,
    receipts: u64,
}

struct Server {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start(state: State) -> Server {
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

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn clear(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    fn checks(&self) -> Vec<Seen> {
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
struct Sets {
    dir: tempfile::TempDir,
}

impl Sets {
    fn new() -> Sets {
        let dir = tempfile::tempdir().unwrap();
        let out = schoon(&["keygen", "--out", s(&dir.path().join("key"))]);
        assert_eq!(out.status.code(), Some(0));
        Sets { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn public_key(&self) -> String {
        s(&self.path("key.pub")).to_owned()
    }
    /// Builds version `version` from the images in `listed`; returns (index, filter) paths.
    fn build(&self, listed: &Path, version: u64) -> (PathBuf, PathBuf) {
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
    fn state(&self, listed: &Path, version: u64) -> State {
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

fn remote(server: &Server, sets: &Sets, cache: &Path, extra: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_schoon"));
    cmd.args(["scan", "--remote", &server.url, "--public-key", &sets.public_key()])
        .args(["--cache-dir", s(cache), "--stats", "--backoff-ms", "20"])
        .args(extra)
        .args(paths.iter().map(|p| s(p)))
        .env("SCHOON_API_KEY", KEY);
    cmd.output().unwrap()
}

fn stats(out: &Output) -> Value {
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_else(|| panic!("no stats line"));
    serde_json::from_str(last).unwrap_or_else(|_| panic!("no stats in {err}"))
}

/// Verdicts by path, and the (list, kind) of each file's matches.
type Verdicts = Vec<(String, String, BTreeSet<(String, String)>)>;

fn verdicts(lines: &[Value]) -> Verdicts {
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

fn examples() -> PathBuf {
    root().join("examples")
}

/// The examples' listed pictures as a list of their own.
fn listed_examples(dir: &Path) -> PathBuf {
    let listed = dir.join("listed");
    std::fs::create_dir_all(&listed).unwrap();
    for e in std::fs::read_dir(examples().join("listed")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), listed.join(e.file_name())).unwrap();
    }
    listed
}

#[test]
fn remote_verdicts_equal_a_local_index_scan_and_only_candidates_are_sent() {
    let sets = Sets::new();
    let listed = listed_examples(sets.dir.path());
    let server = Server::start(sets.state(&listed, 5));
    let cache = sets.path("cache");
    let ex = examples();
    let out = remote(&server, &sets, &cache, &["--batch", "2"], &[&ex]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);

    let local = schoon(&[
        "scan",
        "--index",
        s(&sets.path("v5.index")),
        "--public-key",
        &sets.public_key(),
        s(&ex),
    ]);
    assert_eq!(local.status.code(), Some(1));
    let local_lines = stdout_lines(&local);
    assert_eq!(verdicts(&lines), verdicts(&local_lines));
    // Both skip examples/README.md, a file found in a directory that is not an image.
    assert!(lines.iter().all(|l| !l["path"].as_str().unwrap().ends_with("README.md")));
    assert!(lines.iter().any(|l| l["verdict"] == "match"));
    assert!(lines.iter().any(|l| l["verdict"] == "clean"));
    for l in lines.iter().filter(|l| l["verdict"] == "match") {
        for m in l["matches"].as_array().unwrap() {
            assert!(m["receipt_id"].is_string(), "{l}");
        }
    }

    // Only the filter's candidates were sent: no hash of a filter miss is in any request.
    let filtered = schoon(&[
        "scan",
        "--filter",
        s(&sets.path("v5.filter")),
        "--public-key",
        &sets.public_key(),
        s(&ex),
    ]);
    let candidates: HashSet<String> = stdout_lines(&filtered)
        .iter()
        .filter(|l| l["verdict"] == "candidate")
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    let hashes = stdout_lines(&schoon(&["hash", "--dihedral", s(&ex)]));
    let bodies: String =
        server.checks().iter().map(|r| String::from_utf8(r.body.clone()).unwrap()).collect();
    let mut innocent = 0;
    for h in &hashes {
        let path = h["path"].as_str().unwrap();
        let sent_id = bodies.contains(&format!("\"id\":{}", json!(path)));
        assert_eq!(sent_id, candidates.contains(path), "{path}");
        if candidates.contains(path) {
            continue;
        }
        innocent += 1;
        for k in ["md5", "sha1", "sha256", "pdq"] {
            if let Some(v) = h[k].as_str() {
                assert!(!bodies.contains(v), "the {k} of innocent {path} was sent");
            }
        }
        for d in h["pdq_dihedral"].as_array().into_iter().flatten() {
            assert!(!bodies.contains(d.as_str().unwrap()), "a dihedral hash of {path} was sent");
        }
    }
    assert!(innocent >= 4, "the examples have innocent pictures");
    let st = stats(&out);
    assert_eq!(st["candidates"], candidates.len());
    assert_eq!(st["filter"], "downloaded");
    // Batches of at most 2 lines.
    for r in server.checks() {
        let n = r.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
        assert!((1..=2).contains(&n));
        assert_eq!(r.header("authorization"), Some(&*format!("Bearer {KEY}")));
    }
    assert_eq!(server.checks().len(), candidates.len().div_ceil(2));

    // --summary prints a local scan's summary line (and is refused with --stats).
    let summarised = Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(["scan", "--remote", &server.url, "--public-key", &sets.public_key()])
        .args(["--cache-dir", s(&cache), "--summary", s(&ex)])
        .env("SCHOON_API_KEY", KEY)
        .output()
        .unwrap();
    let index = sets.path("v5.index");
    let key = sets.public_key();
    let local = schoon(&["scan", "--index", s(&index), "--public-key", &key, "--summary", s(&ex)]);
    assert_eq!(verdicts(&stdout_lines(&summarised)), verdicts(&lines));
    let summary = String::from_utf8(summarised.stderr).unwrap();
    assert_eq!(summary, String::from_utf8(local.stderr).unwrap());
    assert!(summary.ends_with(" 0 error; 1 skipped (not an image)\n"), "{summary}");
    let both = remote(&server, &sets, &cache, &["--summary"], &[&ex]);
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
}

#[test]
fn the_filter_is_cached_revalidated_and_never_goes_back() {
    let sets = Sets::new();
    let listed = listed_examples(sets.dir.path());
    let server = Server::start(sets.state(&listed, 5));
    let cache = sets.path("cache");
    let innocent = examples().join("innocent");
    let out = remote(&server, &sets, &cache, &[], &[&innocent]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stats(&out)["filter"], "downloaded");
    assert!(server.checks().is_empty(), "nothing innocent is sent");
    let got: Vec<u16> =
        server.seen().iter().filter(|r| r.path == "/v1/filter/5").map(|r| r.status).collect();
    assert_eq!(got, [200]);

    // Second run: revalidated with If-None-Match, 304, no download.
    server.clear();
    let again = remote(&server, &sets, &cache, &[], &[&innocent]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(stats(&again)["filter"], "cached");
    let seen: Vec<Seen> = server.seen().into_iter().filter(|r| r.path == "/v1/filter/5").collect();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].status, 304);
    assert!(seen[0].header("if-none-match").unwrap().starts_with('"'));
    assert_eq!(stdout_lines(&out), stdout_lines(&again));

    // A newer version replaces it.
    let (_, v7) = sets.build(&listed, 7);
    server.state.lock().unwrap().filters.push((7, std::fs::read(v7).unwrap()));
    let newer = remote(&server, &sets, &cache, &[], &[&innocent]);
    assert_eq!(newer.status.code(), Some(0));
    assert_eq!(stats(&newer)["filter_version"], 7);

    // The worker goes back to version 5 (a replayed older, validly signed filter): refused.
    let v5 = server.state.lock().unwrap().filters[0].clone();
    server.state.lock().unwrap().filters.push(v5);
    let back = remote(&server, &sets, &cache, &[], &[&innocent]);
    assert_eq!(back.status.code(), Some(2));
    let err = String::from_utf8_lossy(&back.stderr);
    assert!(err.contains("older than the cached version 7"), "{err}");
    assert!(back.stdout.is_empty());

    // A tampered filter does not verify (fresh cache, so it would be downloaded).
    let (_, v9) = sets.build(&listed, 9);
    let mut bytes = std::fs::read(v9).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    server.state.lock().unwrap().filters.push((9, bytes));
    let fresh = sets.path("fresh-cache");
    let tampered = remote(&server, &sets, &fresh, &[], &[&innocent]);
    assert_eq!(tampered.status.code(), Some(2));
    let err = String::from_utf8_lossy(&tampered.stderr);
    assert!(err.contains("does not verify"), "{err}");
    assert!(
        !fresh.join("filters").exists()
            || std::fs::read_dir(fresh.join("filters")).unwrap().all(|d| !d
                .unwrap()
                .path()
                .join("filter")
                .exists())
    );
}

#[test]
fn busy_answers_are_retried_with_backoff_then_succeed() {
    let sets = Sets::new();
    let listed = listed_examples(sets.dir.path());
    let mut state = sets.state(&listed, 5);
    state.inject = VecDeque::from([429, 503]);
    let server = Server::start(state);
    let cache = sets.path("cache");
    let out = remote(&server, &sets, &cache, &[], &[&listed]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    assert!(lines.iter().all(|l| l["verdict"] == "match"), "{lines:?}");
    let checks = server.checks();
    let statuses: Vec<u16> = checks.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 503, 200]);
    for w in checks.windows(2) {
        // Retry-After: 1 is honoured (the backoff alone would be 20-40 ms).
        assert!(w[1].at.duration_since(w[0].at) >= Duration::from_millis(950));
    }
    assert_eq!(checks[0].body, checks[2].body);
    assert_eq!(stats(&out)["retries"], 2);
}

#[test]
fn exhausted_retries_give_error_lines_and_a_checkpoint_retries_them() {
    let sets = Sets::new();
    let listed = listed_examples(sets.dir.path());
    let mut state = sets.state(&listed, 5);
    state.always = Some(503);
    let server = Server::start(state);
    let cache = sets.path("cache");
    let journal = sets.path("run.journal");
    let innocent = examples().join("innocent");
    let paths: [&Path; 2] = [&innocent, &listed];
    // Retry-After (1 s) is honoured; 2 retries keep this short.
    let args = ["--retries", "2", "--checkpoint", s(&journal)];
    let out = remote(&server, &sets, &cache, &args, &paths);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 7);
    for l in &lines[..4] {
        assert_eq!(l["verdict"], "clean");
    }
    for l in &lines[4..] {
        assert_eq!(l["verdict"], "error");
        let e = l["error"].as_str().unwrap();
        assert!(e.contains("http 503") && e.contains("attempt 3 of 3"), "{e}");
    }
    assert_eq!(server.checks().len(), 3);

    // The journal holds the final results only (the 4 clean ones); once the worker is back, a
    // re-run with the checkpoint replays them and confirms the rest.
    server.state.lock().unwrap().always = None;
    server.clear();
    let again = remote(&server, &sets, &cache, &args, &paths);
    assert_eq!(again.status.code(), Some(1));
    let lines = stdout_lines(&again);
    assert_eq!(lines.len(), 7);
    assert!(lines[4..].iter().all(|l| l["verdict"] == "match"));
    assert_eq!(stats(&again)["replayed"], 4);
    let journaled = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(journaled.lines().count(), 8);
}

#[test]
fn a_checkpoint_of_another_input_list_or_remote_is_refused() {
    let sets = Sets::new();
    let listed = listed_examples(sets.dir.path());
    let server = Server::start(sets.state(&listed, 5));
    let cache = sets.path("cache");
    let journal = sets.path("run.journal");
    let innocent = examples().join("innocent");
    let args = ["--checkpoint", s(&journal)];
    let out = remote(&server, &sets, &cache, &args, &[&innocent]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let other = remote(&server, &sets, &cache, &args, &[&listed]);
    assert_eq!(other.status.code(), Some(2));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("another input list, remote or options"), "{err}");
    let other_remote = Server::start(sets.state(&listed, 6));
    let out = remote(&other_remote, &sets, &cache, &args, &[&innocent]);
    assert_eq!(out.status.code(), Some(2));
    // A file that is no checkpoint is not overwritten.
    let not = sets.path("notes.txt");
    std::fs::write(&not, "my notes\n").unwrap();
    let out = remote(&server, &sets, &cache, &["--checkpoint", s(&not)], &[&innocent]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&not).unwrap(), "my notes\n");
    // Without a key: a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(["scan", "--remote", &server.url, "--public-key", &sets.public_key()])
        .args(["--cache-dir", s(&cache), s(&innocent)])
        .env_remove("SCHOON_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCHOON_API_KEY"));
}

/// Small distinct images numbered `start..start + count` (PNG, 48x48, a pattern seeded by the
/// number), named `img-NNNNNN.png`.
fn make_images(dir: &Path, start: usize, count: usize) {
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

fn without_receipts(text: &str) -> Vec<Value> {
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

#[test]
fn a_killed_run_resumes_from_its_checkpoint() {
    let sets = Sets::new();
    let images = sets.path("images");
    make_images(&images, 0, 2000);
    let listed = sets.path("listed");
    std::fs::create_dir_all(&listed).unwrap();
    for i in (7..2000).step_by(100) {
        let name = format!("img-{i:06}.png");
        std::fs::copy(images.join(&name), listed.join(&name)).unwrap();
    }
    let mut state = sets.state(&listed, 5);
    state.delay = Duration::from_millis(150);
    let server = Server::start(state);
    let cache = sets.path("cache");
    // Whole-image matching only: region windows cost ~0.2 s per image in a debug build.
    let base = ["--batch", "2", "--jobs", "2", "--no-regions"];

    // The uninterrupted run.
    let started = Instant::now();
    let full = remote(&server, &sets, &cache, &base, &[&images]);
    let took = started.elapsed();
    assert_eq!(full.status.code(), Some(1), "{}", String::from_utf8_lossy(&full.stderr));
    let full_text = String::from_utf8(full.stdout.clone()).unwrap();
    assert_eq!(full_text.lines().count(), 2000);
    let expected = without_receipts(&full_text);
    assert!(expected.iter().filter(|l| l["verdict"] == "match").count() >= 20);

    // Kill runs at random points (SIGKILL), then finish with the checkpoint.
    let journal = sets.path("run.journal");
    let mut seed = std::process::id() as u64 ^ took.as_nanos() as u64;
    for round in 0..3 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let at = took.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0 * 0.9);
        let mut child = Command::new(env!("CARGO_BIN_EXE_schoon"))
            .args(["scan", "--remote", &server.url, "--public-key", &sets.public_key()])
            .args(["--cache-dir", s(&cache), "--checkpoint", s(&journal)])
            .args(base)
            .arg(s(&images))
            .env("SCHOON_API_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let journaled = std::fs::read_to_string(&journal).map(|t| t.lines().count()).unwrap_or(0);
        eprintln!("round {round}: killed after {at:?}, {journaled} journal lines");
    }
    let fin = remote(
        &server,
        &sets,
        &cache,
        &["--checkpoint", s(&journal), "--batch", "2", "--no-regions"],
        &[&images],
    );
    assert_eq!(fin.status.code(), Some(1), "{}", String::from_utf8_lossy(&fin.stderr));
    let text = String::from_utf8(fin.stdout.clone()).unwrap();
    assert_eq!(without_receipts(&text), expected);
    eprintln!("final run: {}", stats(&fin));
    // Every object exactly once in the journal too.
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    let body: String = journal_text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert_eq!(without_receipts(&body), expected);
}

/// For `scripts/bench-remote-scan`: makes `SCHOON_BENCH_COUNT` small images in
/// `SCHOON_BENCH_DIR/images` and copies every 100th to `SCHOON_BENCH_DIR/listed`.
#[test]
#[ignore = "a helper of scripts/bench-remote-scan"]
fn bench_make_images() {
    let dir = PathBuf::from(std::env::var("SCHOON_BENCH_DIR").unwrap());
    let count: usize = std::env::var("SCHOON_BENCH_COUNT").unwrap().parse().unwrap();
    let images = dir.join("images");
    // Directories of 1000 files (as real storage would have them).
    for chunk in 0..count.div_ceil(1000) {
        let sub = images.join(format!("{chunk:03}"));
        make_images(&sub, chunk * 1000, 1000.min(count - chunk * 1000));
    }
    let listed = dir.join("listed");
    std::fs::create_dir_all(&listed).unwrap();
    for i in (0..count).step_by(100) {
        let name = format!("img-{i:06}.png");
        let from = images.join(format!("{:03}", i / 1000)).join(&name);
        std::fs::copy(from, listed.join(&name)).unwrap();
    }
}

/// For `scripts/bench-remote-scan`: serves `SCHOON_BENCH_DIR/set.{index,filter}` (key
/// `SCHOON_BENCH_DIR/key.pub`) as the worker would, writes its URL to
/// `SCHOON_BENCH_DIR/server.url`, and runs until killed.
#[test]
#[ignore = "a helper of scripts/bench-remote-scan"]
fn bench_serve() {
    let dir = PathBuf::from(std::env::var("SCHOON_BENCH_DIR").unwrap());
    let key = PublicKey::from_text(&std::fs::read_to_string(dir.join("key.pub")).unwrap()).unwrap();
    let index =
        Index::from_bytes(std::fs::read(dir.join("set.index")).unwrap(), &Trust::key(key)).unwrap();
    let filter = std::fs::read(dir.join("set.filter")).unwrap();
    let version = index.header().set_version;
    let server = Server::start(State {
        filters: vec![(version, filter)],
        index: Some(index),
        ..Default::default()
    });
    std::fs::write(dir.join("server.url"), &server.url).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
