//! A scan of a directory skips the files in it that are not images (decided by their first
//! bytes, not their names), counts them, and tells a person how the scan went.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // tests

mod util;

use std::path::Path;

use util::{fixture, schoon, stdout_lines};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A directory with a text file, a picture under a text name, a picture, an image format
/// schoon does not decode and a broken JPEG.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-notes.md"), "# notes\n\nnot a picture\n").unwrap();
    std::fs::copy(fixture("scene-rgb.png"), dir.path().join("b-picture.txt")).unwrap();
    std::fs::copy(fixture("scene-baseline-420.jpg"), dir.path().join("c-photo.jpg")).unwrap();
    std::fs::write(dir.path().join("d-scan.tif"), b"II*\0\x08\0\0\0 a tiff header").unwrap();
    std::fs::copy(fixture("truncated.jpg"), dir.path().join("e-broken.jpg")).unwrap();
    dir
}

#[test]
fn a_directory_scan_skips_files_that_are_not_images() {
    let dir = tree();
    let out = schoon(&["scan", s(dir.path())]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = stdout_lines(&out);
    let names: Vec<&str> =
        lines.iter().map(|l| l["path"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["b-picture.txt", "c-photo.jpg", "d-scan.tif", "e-broken.jpg"]);
    let verdicts: Vec<&str> = lines.iter().map(|l| l["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["clean", "clean", "error", "error"]);
    // Not a terminal and no --summary: nothing on stderr.
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_file_named_on_the_command_line_is_scanned_whatever_it_holds() {
    let dir = tree();
    let notes = dir.path().join("a-notes.md");
    let out = schoon(&["scan", s(&notes)]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["verdict"], "error");
    assert!(lines[0]["error"].as_str().unwrap().contains("unknown signature"), "{}", lines[0]);
    // Named next to its directory, it is scanned once as named and skipped in the walk.
    let both = stdout_lines(&schoon(&["scan", s(&notes), s(dir.path())]));
    assert_eq!(both.len(), 5);
    assert_eq!(both[0]["verdict"], "error");
}

#[test]
fn the_summary_counts_verdicts_and_skipped_files() {
    let dir = tree();
    let out = schoon(&["scan", "--summary", s(dir.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "schoon: 5 files: 0 match, 2 clean, 2 error; 1 skipped (not an image)\n"
    );
    // The output lines are those of a scan without the summary.
    assert_eq!(out.stdout, schoon(&["scan", s(dir.path())]).stdout);

    let examples = util::root().join("examples");
    let out = schoon(&["scan", "--summary", s(&examples)]);
    let lines = stdout_lines(&out);
    assert!(lines.iter().all(|l| !l["path"].as_str().unwrap().ends_with("README.md")));
    let matched = lines.iter().filter(|l| l["verdict"] == "match").count();
    let clean = lines.iter().filter(|l| l["verdict"] == "clean").count();
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "schoon: {} files: {matched} match, {clean} clean, 0 error; 1 skipped (not an image)\n",
            lines.len() + 1
        )
    );
}

#[test]
fn hash_still_lists_every_file_of_a_directory() {
    let dir = tree();
    let lines = stdout_lines(&schoon(&["hash", s(dir.path())]));
    assert_eq!(lines.len(), 5);
}
