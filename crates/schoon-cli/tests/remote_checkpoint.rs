//! `schoon scan --remote` against the test worker (`remote_server`) when requests fail:
//! retries with backoff, error lines, and `--checkpoint` journals that resume killed runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // tests

mod remote_server;
mod util;

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use remote_server::*;
use util::stdout_lines;

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
    let (sets, listed, server, cache) = start_examples();
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
