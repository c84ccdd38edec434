//! `schoon keygen / build / scan / check / inspect` with real files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

mod util;

use std::path::Path;

use util::{fixture, root, schoon, stdout_lines};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Built {
    dir: tempfile::TempDir,
}

impl Built {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
    fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }
}

/// Keys, a list from fixture images plus an MD5 list, and the index and filter.
fn build(extra: &[&str]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    let out = schoon(&["keygen", "--out", s(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let images = dir.path().join("listed");
    std::fs::create_dir(&images).unwrap();
    std::fs::copy(fixture("scene-rgb.png"), images.join("scene-rgb.png")).unwrap();
    std::fs::copy(fixture("large-1600x1200.jpg"), images.join("large.jpg")).unwrap();
    let md5 = dir.path().join("md5.txt");
    std::fs::write(&md5, "# a hotline's md5 list\n0123456789abcdef0123456789abcdef\n\n").unwrap();
    let idx = dir.path().join("set.index");
    let flt = dir.path().join("set.filter");
    let mut args: Vec<String> = [
        "build",
        "--images",
        s(&images),
        "--md5",
        s(&md5),
        "--name",
        "test-list",
        "--category",
        "test",
        "--signing-key",
        s(&key),
        "--out-index",
        s(&idx),
        "--out-filter",
        s(&flt),
        "--set-version",
        "5",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    args.extend(extra.iter().map(|x| x.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = schoon(&argv);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    Built { dir }
}

fn edited_copy(dir: &Path) -> std::path::PathBuf {
    let img = image::open(fixture("large-1600x1200.jpg")).unwrap().fliph().resize(
        800,
        600,
        image::imageops::FilterType::Triangle,
    );
    let p = dir.join("edited.jpg");
    img.save(&p).unwrap();
    p
}

#[test]
fn keygen_refuses_to_overwrite() {
    let b = build(&[]);
    let out = schoon(&["keygen", "--out", &b.p("key")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    let secret = std::fs::read_to_string(b.path("key")).unwrap();
    assert!(secret.contains("keep this file secret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(b.path("key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn scan_with_index_and_filter() {
    let b = build(&[]);
    let edited = edited_copy(b.dir.path());
    let innocent = fixture("odd-size-251x187.jpg");
    let listed = fixture("scene-rgb.png");
    let paths = [s(&listed), s(&edited), s(&innocent)];

    let (index, public) = (b.p("set.index"), b.p("key.pub"));
    let mut args = vec!["scan", "--index", &index, "--public-key", &public];
    args.extend(paths);
    let out = schoon(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    assert_eq!(lines[0]["verdict"], "match");
    let kinds: Vec<&str> = lines[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["md5", "sha1", "sha256", "pdq"]);
    assert_eq!(lines[1]["verdict"], "match");
    let m = &lines[1]["matches"][0];
    assert_eq!(
        (m["list"].as_str(), m["category"].as_str(), m["kind"].as_str()),
        (Some("test-list"), Some("test"), Some("pdq"))
    );
    assert!(m["distance"].as_u64().unwrap() <= 31);
    assert_eq!(m["variant"], "flipy");
    assert_eq!(lines[2]["verdict"], "clean");
    assert_eq!(lines[2]["matches"], serde_json::json!([]));

    let filter = b.p("set.filter");
    let mut args = vec!["scan", "--filter", &filter, "--public-key", &public];
    args.extend(paths);
    let out = schoon(&args);
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    let verdicts: Vec<&str> = lines.iter().map(|l| l["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["candidate", "candidate", "clean"]);
    assert_eq!(lines[1]["matches"][0]["kind"], "pdq");

    // Clean only: exit 0.
    let out = schoon(&[
        "scan",
        "--filter",
        &b.p("set.filter"),
        "--public-key",
        &b.p("key.pub"),
        s(&innocent),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn sets_are_verified() {
    let b = build(&[]);
    // No key: refused with a hint; a foreign key: refused; a flipped byte: refused.
    let out = schoon(&["scan", "--index", &b.p("set.index"), s(&fixture("scene-rgb.png"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-key"));
    let other = b.path("other");
    schoon(&["keygen", "--out", s(&other)]);
    let other_pub = format!("{}.pub", s(&other));
    let out = schoon(&[
        "scan",
        "--filter",
        &b.p("set.filter"),
        "--public-key",
        &other_pub,
        s(&fixture("scene-rgb.png")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set signature refused"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = std::fs::read(b.path("set.filter")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(b.path("tampered.filter"), &bytes).unwrap();
    let out = schoon(&[
        "scan",
        "--filter",
        &b.p("tampered.filter"),
        "--public-key",
        &b.p("key.pub"),
        s(&fixture("scene-rgb.png")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
}

#[test]
fn check_hashes_users_already_have() {
    let b = build(&[]);
    let list = b.path("query.txt");
    std::fs::write(&list, "0123456789ABCDEF0123456789abcdef\nffffffffffffffffffffffffffffffff\n")
        .unwrap();
    let out = schoon(&[
        "check",
        "--index",
        &b.p("set.index"),
        "--public-key",
        &b.p("key.pub"),
        "--md5",
        s(&list),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    assert_eq!(lines[0]["verdict"], "match");
    assert_eq!(lines[0]["kind"], "md5");
    assert_eq!(lines[1]["verdict"], "clean");

    // NDJSON from `schoon hash` is checked file by file.
    let hashed =
        schoon(&["hash", s(&fixture("scene-rgb.png")), s(&fixture("odd-size-251x187.jpg"))]);
    let nd = b.path("hashes.ndjson");
    std::fs::write(&nd, &hashed.stdout).unwrap();
    let out = schoon(&[
        "check",
        "--filter",
        &b.p("set.filter"),
        "--public-key",
        &b.p("key.pub"),
        "--hashes",
        s(&nd),
    ]);
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "candidate");
    assert!(lines[0]["path"].as_str().unwrap().ends_with("scene-rgb.png"));
    assert_eq!(lines[1]["verdict"], "clean");

    let bad = b.path("bad.txt");
    std::fs::write(&bad, "0123456789abcdef0123456789abcdef\nnot-a-hash\n").unwrap();
    let out = schoon(&[
        "check",
        "--index",
        &b.p("set.index"),
        "--public-key",
        &b.p("key.pub"),
        "--md5",
        s(&bad),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.txt:2: invalid md5 hash 'not-a-hash'")
    );
}

#[test]
fn build_reports_bad_lines_and_can_skip_them() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pdq.csv");
    std::fs::write(&list, "pdq,quality\nf8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100\nxyz,3\n").unwrap();
    let idx = dir.path().join("i");
    let flt = dir.path().join("f");
    let out = schoon(&[
        "build",
        "--pdq",
        s(&list),
        "--unsigned",
        "--out-index",
        s(&idx),
        "--out-filter",
        s(&flt),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pdq.csv:3: invalid pdq hash 'xyz'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = schoon(&[
        "build",
        "--pdq",
        s(&list),
        "--unsigned",
        "--skip-invalid",
        "--out-index",
        s(&idx),
        "--out-filter",
        s(&flt),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped 1 invalid lines"), "{err}");
    assert!(err.contains("unsigned"), "{err}");
    // Unsigned sets are refused unless allowed.
    let q = dir.path().join("q.txt");
    std::fs::write(&q, "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\n")
        .unwrap();
    let out = schoon(&["check", "--index", s(&idx), "--pdq", s(&q)]);
    assert_eq!(out.status.code(), Some(2));
    let out = schoon(&["check", "--index", s(&idx), "--allow-unsigned", "--pdq", s(&q)]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn inspect_shows_kind_version_counts_and_signature() {
    let b = build(&["--kind", "bloom", "--fpr", "0.001"]);
    let out = schoon(&["inspect", &b.p("set.filter"), "--public-key", &b.p("key.pub")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "filter");
    assert_eq!(v["set_version"], 5);
    assert_eq!(v["signature"], "verified");
    assert_eq!(v["metadata"]["filter"]["kind"], "bloom");
    assert_eq!(v["metadata"]["lists"][0]["name"], "test-list");
    assert_eq!(v["metadata"]["lists"][0]["md5"], 3);
    let out = schoon(&["inspect", &b.p("set.index")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "index");
    assert_eq!(v["signature"], "signed, not checked");
    let out = schoon(&["inspect", s(&fixture("scene-rgb.png"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a schoon set file"));
}

#[test]
fn deltas_from_the_command_line() {
    let b = build(&[]);
    let more = b.path("more.txt");
    std::fs::write(&more, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n")
        .unwrap();
    let out = schoon(&[
        "build",
        "--base-index",
        &b.p("set.index"),
        "--sha256",
        s(&more),
        "--name",
        "second",
        "--signing-key",
        &b.p("key"),
        "--set-version",
        "6",
        "--out-index",
        &b.p("v6.index"),
        "--out-filter",
        &b.p("v6.filter"),
        "--delta-from",
        &b.p("set.index"),
        "--out-delta",
        &b.p("v5-v6.delta"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = schoon(&["inspect", &b.p("v5-v6.delta"), "--public-key", &b.p("key.pub")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["set_version"].as_u64(), v["base_version"].as_u64()),
        (Some("filter delta"), Some(6), Some(5))
    );
    let out = schoon(&["inspect", &b.p("v6.index")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["metadata"]["lists"].as_array().unwrap().len(), 2, "both lists in the new index");
}

#[test]
fn the_embedded_default_set_finds_the_examples() {
    let examples = root().join("examples");
    let out = schoon(&["scan", s(&examples)]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    for l in &lines {
        let path = l["path"].as_str().unwrap();
        let verdict = l["verdict"].as_str().unwrap();
        if path.contains("/listed/") {
            assert_eq!(verdict, "match", "{path}");
            assert_eq!(l["matches"][0]["distance"], 0);
        } else if path.contains("/innocent/") {
            assert_eq!(verdict, "clean", "{path}");
        }
    }
    let near: Vec<u64> = lines
        .iter()
        .filter(|l| l["path"].as_str().unwrap().contains("/edited/") && l["verdict"] == "match")
        .map(|l| l["matches"][0]["distance"].as_u64().unwrap())
        .collect();
    assert!(near.len() >= 5, "{near:?}");
    assert!(near.iter().any(|&d| d > 0), "near-duplicates with distances: {near:?}");
}

#[test]
fn large_lists_report_the_right_line_when_parsed_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("big.txt");
    let mut text = String::from("# generated\n");
    for i in 0..60_000u32 {
        if i == 40_000 {
            text.push_str("oops\n");
        } else {
            text.push_str(&format!("{:032x}\n", u128::from(i) * 0x9E37_79B9_7F4A_7C15));
        }
    }
    std::fs::write(&list, text).unwrap();
    let (i, f) = (dir.path().join("i"), dir.path().join("f"));
    let out = schoon(&[
        "build",
        "--md5",
        s(&list),
        "--unsigned",
        "--out-index",
        s(&i),
        "--out-filter",
        s(&f),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("big.txt:40002: invalid md5 hash 'oops'"), "{err}");
    let out = schoon(&[
        "build",
        "--md5",
        s(&list),
        "--unsigned",
        "--skip-invalid",
        "--out-index",
        s(&i),
        "--out-filter",
        s(&f),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("59999 md5"));
}

#[test]
fn sharded_builds_write_shards_and_a_manifest_that_inspect_reads() {
    let b = build(&[]);
    let dir = b.path("shards");
    let out = schoon(&[
        "build",
        "--md5",
        s(&fixture("expected.csv")),
        "--skip-invalid",
        "--signing-key",
        &b.p("key"),
        "--set-version",
        "9",
        "--out-filter",
        &b.p("sharded.filter"),
        "--out-shards",
        s(&dir),
        "--shards",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("shards: 3 in"), "{stderr}");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["manifest.schoon", "shard-0000.schoon", "shard-0001.schoon", "shard-0002.schoon"]
    );
    let out =
        schoon(&["inspect", s(&dir.join("manifest.schoon")), "--public-key", &b.p("key.pub")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "shard manifest");
    assert_eq!(v["set_version"], 9);
    assert_eq!(v["signature"], "verified");
    assert_eq!(v["metadata"]["shards"], 3);
    let out = schoon(&["inspect", s(&dir.join("shard-0001.schoon"))]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "index");
    assert_eq!(v["metadata"]["shard"]["number"], 1);

    // Out of range, and neither output.
    let out = schoon(&[
        "build",
        "--md5",
        s(&fixture("expected.csv")),
        "--skip-invalid",
        "--unsigned",
        "--out-filter",
        &b.p("x.filter"),
        "--out-shards",
        s(&dir),
        "--shards",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 shards"));
    let out = schoon(&[
        "build",
        "--md5",
        s(&fixture("expected.csv")),
        "--unsigned",
        "--out-filter",
        &b.p("x.filter"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out-index"));
}

#[test]
fn budgeted_filters_fit_and_report_what_they_cover() {
    let b = build(&[]);
    let pdq = b.path("pdq.txt");
    let md5 = b.path("md5.txt");
    let mut pdq_lines = String::new();
    let mut md5_lines = String::new();
    for i in 0..3000u32 {
        let d = schoon_core::sha256(&i.to_le_bytes()).0;
        pdq_lines.push_str(&format!("{}\n", schoon_core::hex::encode(&d)));
        md5_lines.push_str(&format!("{}\n", schoon_core::md5(&i.to_le_bytes()).to_hex()));
    }
    std::fs::write(&pdq, &pdq_lines).unwrap();
    std::fs::write(&md5, &md5_lines).unwrap();
    let out = schoon(&[
        "build",
        "--pdq",
        s(&pdq),
        "--md5",
        s(&md5),
        "--hot",
        s(&pdq),
        "--filter-budget",
        "8KiB",
        "--signing-key",
        &b.p("key"),
        "--out-index",
        &b.p("budget.index"),
        "--out-filter",
        &b.p("budget.filter"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(std::fs::metadata(b.path("budget.filter")).unwrap().len() <= 8192);
    assert!(stderr.contains("filter budget 8192 bytes"), "{stderr}");
    let report: serde_json::Value = stderr
        .lines()
        .find_map(|l| {
            serde_json::from_str(l).ok().filter(|v: &serde_json::Value| v["budget_bytes"].is_u64())
        })
        .unwrap();
    assert_eq!(report["pdq_listed"], 3000);
    assert!(report["pdq_hot"].as_u64().unwrap() < 3000);
    assert_eq!(report["exact"][0]["kind"], "md5");
    let out = schoon(&["inspect", &b.p("budget.filter.buckets"), "--public-key", &b.p("key.pub")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "exact buckets");
    assert_eq!(v["signature"], "verified");
    // The head filter alone would call listed exact files clean: scan refuses it.
    let out = schoon(&[
        "scan",
        "--filter",
        &b.p("budget.filter"),
        "--public-key",
        &b.p("key.pub"),
        s(&fixture("scene-rgb.png")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("head filter of a budgeted build"));
    // Units, and a budget nothing fits in.
    for (size, ok) in [("1.5kb", true), ("100", false), ("2 MB", true), ("3 parsecs", false)] {
        let out = schoon(&[
            "build",
            "--pdq",
            s(&pdq),
            "--filter-budget",
            size,
            "--unsigned",
            "--out-index",
            &b.p("x.index"),
            "--out-filter",
            &b.p("x.filter"),
        ]);
        assert_eq!(
            out.status.code() == Some(0),
            ok,
            "{size}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
