//! `schoon hash`: the NDJSON contract other tools rely on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

mod util;

use util::{expected, fixture, fixtures, schoon, stdout_lines};

#[test]
fn files_hash_to_the_expected_values_and_exit_zero() {
    let rows = expected();
    let paths: Vec<String> =
        rows.iter().map(|r| fixture(&r["file"]).to_string_lossy().into_owned()).collect();
    let mut args = vec!["hash"];
    args.extend(paths.iter().map(String::as_str));
    let out = schoon(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), rows.len());
    for (line, row) in lines.iter().zip(&rows) {
        let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            // The core wire module's order, as the worker's `/v1/scan` and the browser write it.
            [
                "path", "bytes", "md5", "sha1", "sha256", "format", "width", "height", "pdq",
                "quality"
            ]
        );
        assert!(line["path"].as_str().unwrap().ends_with(&row["file"]));
        for k in ["md5", "sha1", "sha256"] {
            assert_eq!(line[k], row[k].as_str(), "{} {k}", row["file"]);
        }
        assert_eq!(line["bytes"].to_string(), row["bytes"]);
        assert_eq!(line["pdq"], row["pdq_fast"].as_str(), "{}", row["file"]);
        assert_eq!(line["quality"].to_string(), row["quality_fast"]);
        assert_eq!(line["width"].to_string(), row["width"]);
        assert_eq!(line["height"].to_string(), row["height"]);
        assert!(["jpeg", "png", "webp", "gif", "bmp"].contains(&line["format"].as_str().unwrap()));
    }
}

#[test]
fn windows_are_printed_on_request() {
    let f = format!("{}/../../examples/edited/known-1-captioned.jpg", env!("CARGO_MANIFEST_DIR"));
    let line = stdout_lines(&schoon(&["hash", "--windows", &f])).remove(0);
    let windows = line["windows"].as_array().unwrap();
    assert!((50..=256).contains(&windows.len()), "{}", windows.len());
    assert!(windows.iter().all(|w| w.as_str().is_some_and(|h| h.len() == 64)));
    let plain = stdout_lines(&schoon(&["hash", &f])).remove(0);
    assert!(plain.get("windows").is_none());
    assert_eq!(plain["pdq"], line["pdq"]);
}

#[test]
fn reference_mode_and_dihedral() {
    let f = fixture("large-1600x1200.jpg");
    let out = schoon(&["hash", "--reference", "--dihedral", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let line = &stdout_lines(&out)[0];
    let row = expected().into_iter().find(|r| r["file"] == "large-1600x1200.jpg").unwrap();
    assert_eq!(line["pdq"], row["pdq_reference"].as_str());
    let dihedral = line["pdq_dihedral"].as_array().unwrap();
    assert_eq!(dihedral.len(), 8);
    assert_eq!(dihedral[0], line["pdq"]);
    assert_ne!(dihedral[1], dihedral[0]);
}

#[test]
fn algorithms_add_one_field_each() {
    let f = fixture("scene-rgb.png");
    let out = schoon(&[
        "hash",
        "--algo",
        "dhash",
        "--algo",
        "blockhash",
        "--algo",
        "phash",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let line = &stdout_lines(&out)[0];
    for k in ["dhash", "blockhash", "phash"] {
        assert_eq!(line[k].as_str().unwrap().len(), 16, "{k}");
    }
    let bad = schoon(&["hash", "--algo", "md6", f.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown algorithm 'md6'"));
}

#[test]
fn directories_recurse_in_sorted_order_and_failures_continue() {
    let dir = fixtures();
    let out = schoon(&["hash", "-j", "2", dir.to_str().unwrap(), "/no/such/file.jpg"]);
    assert_eq!(out.status.code(), Some(2), "some inputs are not images");
    let lines = stdout_lines(&out);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    let mut sorted = paths[..paths.len() - 1].to_vec();
    sorted.sort();
    assert_eq!(&paths[..paths.len() - 1], &sorted[..], "directory entries sorted");
    assert_eq!(*paths.last().unwrap(), "/no/such/file.jpg");
    let missing = lines.last().unwrap();
    assert_eq!(missing["error"], "no such file or directory");
    assert!(missing.get("sha256").is_none());
    let text =
        lines.iter().find(|l| l["path"].as_str().unwrap().ends_with("not-an-image.jpg")).unwrap();
    assert!(text["error"].as_str().unwrap().starts_with("not a supported image"));
    assert_eq!(text["sha256"].as_str().unwrap().len(), 64, "exact hashes of unreadable images");
    let truncated =
        lines.iter().find(|l| l["path"].as_str().unwrap().ends_with("truncated.jpg")).unwrap();
    assert!(truncated["error"].as_str().unwrap().contains("truncated"));
    assert!(lines.iter().filter(|l| l.get("pdq").is_some()).count() >= 15);
}

#[test]
fn output_is_identical_whatever_the_parallelism() {
    let dir = fixtures();
    let one = schoon(&["hash", "-j", "1", dir.to_str().unwrap()]);
    let two = schoon(&["hash", "-j", "2", dir.to_str().unwrap()]);
    let four = schoon(&["hash", "-j", "4", dir.to_str().unwrap()]);
    assert_eq!(one.stdout, two.stdout);
    assert_eq!(one.stdout, four.stdout);
}

#[test]
fn usage_errors_exit_two() {
    let out = schoon(&["hash"]);
    assert_eq!(out.status.code(), Some(2));
    let out = schoon(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}
