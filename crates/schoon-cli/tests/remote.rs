//! `schoon scan --remote` against the test worker (`remote_server`): verdicts as a local scan's,
//! only candidates sent, the filter cache; and the helpers of `scripts/bench-remote-scan`.
//! Retries and checkpoints are in `remote_checkpoint.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // tests

mod remote_server;
mod util;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use remote_server::*;
use schoon_core::PublicKey;
use schoon_core::set::{Index, Trust};
use serde_json::json;
use util::{schoon, stdout_lines};

#[test]
fn remote_verdicts_equal_a_local_index_scan_and_only_candidates_are_sent() {
    let (sets, _, server, cache) = start_examples();
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
    let (sets, listed, server, cache) = start_examples();
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
