//! `schoon build --allow` with the real binary and real files: an allow-listed picture scans
//! clean through the index and the filter, the others as without the allow-list.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use util::{root, schoon, stdout_lines};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn examples() -> Vec<PathBuf> {
    ["edited", "innocent", "listed"].iter().map(|d| root().join("examples").join(d)).collect()
}

/// Builds an index and a filter from the listed example pictures, with `extra` arguments.
fn build(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (index, filter) = (dir.join(format!("{name}.index")), dir.join(format!("{name}.filter")));
    let listed = root().join("examples/listed");
    let key = dir.join("key");
    let mut args = vec![
        "build",
        "--images",
        s(&listed),
        "--name",
        "demo",
        "--category",
        "test",
        "--signing-key",
        s(&key),
        "--out-index",
        s(&index),
        "--out-filter",
        s(&filter),
        "--set-version",
        "7",
    ];
    args.extend_from_slice(extra);
    ok(&schoon(&args));
    (index, filter)
}

/// `schoon scan` of the example pictures: file name -> its output line.
fn scan(dir: &Path, set: &str, file: &Path) -> BTreeMap<String, serde_json::Value> {
    let key = dir.join("key.pub");
    let mut args = vec!["scan", set, s(file), "--public-key", s(&key)];
    let dirs = examples();
    args.extend(dirs.iter().map(|d| s(d)));
    let out = schoon(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    stdout_lines(&out)
        .into_iter()
        .map(|l| {
            let path = PathBuf::from(l["path"].as_str().unwrap());
            (path.file_name().unwrap().to_str().unwrap().to_owned(), l)
        })
        .collect()
}

/// A match only by PDQ at a distance (a near-duplicate, not the listed picture itself): the
/// filter flags it when it shares a band with the listed hash, which is likely, not certain.
fn near_duplicate(line: &serde_json::Value) -> bool {
    let matches = line["matches"].as_array().map(Vec::as_slice).unwrap_or_default();
    !matches.is_empty() && matches.iter().all(|m| m["kind"] == "pdq" && m["distance"] != 0)
}

fn verdict(lines: &BTreeMap<String, serde_json::Value>, name: &str) -> String {
    lines[name]["verdict"].as_str().unwrap().to_owned()
}

#[test]
fn an_allow_listed_picture_scans_clean_and_the_others_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&schoon(&["keygen", "--out", s(&d.join("key"))]));
    // The allow-list: `schoon hash` of one listed picture (as a hotline would confirm a
    // disputed entry innocent).
    let picture = root().join("examples/listed/known-2.jpg");
    let hashed = schoon(&["hash", s(&picture)]);
    ok(&hashed);
    let allow = d.join("allow.ndjson");
    std::fs::write(&allow, &hashed.stdout).unwrap();

    let (plain_index, plain_filter) = build(d, "plain", &[]);
    let (index, filter) = build(d, "allow", &["--allow", s(&allow)]);

    // inspect shows the counts, for the index and the filter.
    for file in [&index, &filter] {
        let out = schoon(&["inspect", s(file), "--public-key", s(&d.join("key.pub"))]);
        ok(&out);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["signature"], "verified");
        assert_eq!(v["allow"], serde_json::json!({"md5": 1, "sha1": 1, "sha256": 1, "pdq": 1}));
    }
    let out = schoon(&["inspect", s(&plain_index)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allow"], serde_json::json!({"md5": 0, "sha1": 0, "sha256": 0, "pdq": 0}));

    let before_index = scan(d, "--index", &plain_index);
    let before_filter = scan(d, "--filter", &plain_filter);
    let after_index = scan(d, "--index", &index);
    let after_filter = scan(d, "--filter", &filter);
    assert_eq!(before_index.len(), 15);

    // The allowed picture: clean through the index and the filter (its exact hashes).
    assert_eq!(verdict(&before_index, "known-2.jpg"), "match");
    assert_eq!(verdict(&before_filter, "known-2.jpg"), "candidate");
    assert_eq!(verdict(&after_index, "known-2.jpg"), "clean");
    assert_eq!(verdict(&after_filter, "known-2.jpg"), "clean");
    // Its edited copies are as near the allowed picture as the listed one: the index
    // suppresses their PDQ matches; the filter cannot know the distances and still sends
    // them for confirmation.
    for copy in ["known-2-greyscale.png", "known-2-resized-50pct.jpg"] {
        assert_eq!(verdict(&before_index, copy), "match");
        assert_eq!(verdict(&after_index, copy), "clean", "{copy}");
        assert_eq!(verdict(&after_filter, copy), "candidate", "{copy}");
    }
    // Every other picture: the very same output lines. The filter's PDQ bands are drawn per
    // set from its salt, so whether a near-duplicate (a PDQ match at a distance) shares a band
    // with the listed hash can differ between two builds: only those may change.
    for (name, line) in &before_index {
        if !name.starts_with("known-2") {
            assert_eq!(&after_index[name], line, "{name}");
            if !near_duplicate(line) {
                assert_eq!(&after_filter[name], &before_filter[name], "{name}");
            }
        }
    }
    assert!(before_index.keys().any(|n| verdict(&after_index, n) == "match"));
    // A filter miss stays final for exact and identical-PDQ matches: nothing the filter calls
    // clean matches them in the index.
    for (name, line) in &after_filter {
        if line["verdict"] == "clean" && !near_duplicate(&after_index[name]) {
            assert_eq!(verdict(&after_index, name), "clean", "{name}");
        }
    }

    // The next version built on this index keeps the allow-list.
    let more = d.join("more.md5");
    std::fs::write(&more, "0123456789abcdef0123456789abcdef\n").unwrap();
    let (next_index, next_filter) = (d.join("next.index"), d.join("next.filter"));
    ok(&schoon(&[
        "build",
        "--base-index",
        s(&index),
        "--md5",
        s(&more),
        "--signing-key",
        s(&d.join("key")),
        "--out-index",
        s(&next_index),
        "--out-filter",
        s(&next_filter),
        "--set-version",
        "8",
    ]));
    let next = scan(d, "--index", &next_index);
    assert_eq!(verdict(&next, "known-2.jpg"), "clean");
    assert_eq!(verdict(&next, "known-1.jpg"), "match");
    assert_eq!(verdict(&scan(d, "--filter", &next_filter), "known-2.jpg"), "clean");
}

#[test]
fn allow_lists_take_the_list_formats_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&schoon(&["keygen", "--out", s(&d.join("key"))]));
    let hashed = schoon(&["hash", s(&root().join("examples/listed/known-3.jpg"))]);
    let line: serde_json::Value = serde_json::from_slice(&hashed.stdout).unwrap();
    // Hex lines with comments (kinds from the digit count) and a CSV naming the PDQ column.
    let hex = d.join("allow.txt");
    std::fs::write(
        &hex,
        format!("# disputed, confirmed innocent\n\n{}\n", line["sha256"]).replace('"', ""),
    )
    .unwrap();
    let csv = d.join("allow.csv");
    std::fs::write(&csv, format!("pdq,note\n{},stock picture\n", line["pdq"]).replace('"', ""))
        .unwrap();
    let (index, _) = build(d, "a", &["--allow", s(&hex), "--allow", s(&csv)]);
    let out = schoon(&["inspect", s(&index)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allow"], serde_json::json!({"md5": 0, "sha1": 0, "sha256": 1, "pdq": 1}));
    let lines = scan(d, "--index", &index);
    assert_eq!(verdict(&lines, "known-3.jpg"), "clean");
    assert_eq!(verdict(&lines, "known-3-mirrored.jpg"), "clean", "mirrored: pdq at distance 0");
    assert_eq!(verdict(&lines, "known-1.jpg"), "match");

    // A bad line names the file and line; --skip-invalid reports and continues.
    let bad = d.join("bad.txt");
    std::fs::write(&bad, format!("{}\nnot-a-hash\n", line["md5"]).replace('"', "")).unwrap();
    let listed = root().join("examples/listed");
    let args = |extra: &'static [&'static str]| {
        let mut a: Vec<String> = [
            "build",
            "--images",
            s(&listed),
            "--allow",
            s(&bad),
            "--unsigned",
            "--out-index",
            s(&d.join("b.index")),
            "--out-filter",
            s(&d.join("b.filter")),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let run = |a: Vec<String>| schoon(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(&[]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.txt:2: cannot tell the hash kind of 'not-a-hash'"), "{err}");
    let out = run(args(&["--skip-invalid"]));
    let err = ok(&out);
    assert!(err.contains("bad.txt: skipped 1 invalid lines"), "{err}");
    assert!(err.contains("allow-list: 1 md5, 0 sha1, 0 sha256, 0 pdq"), "{err}");

    // An over-long allow-list is a limit error.
    let long = d.join("long.txt");
    let text: String = (0..=65_536u32).map(|i| format!("{i:032x}\n")).collect();
    std::fs::write(&long, text).unwrap();
    let out = schoon(&[
        "build",
        "--allow",
        s(&long),
        "--unsigned",
        "--out-index",
        s(&d.join("l.index")),
        "--out-filter",
        s(&d.join("l.filter")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow-list entry count 65537 exceeds the limit of 65536"), "{err}");
}
