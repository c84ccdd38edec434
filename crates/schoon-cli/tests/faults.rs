//! Faults at scale: `schoon scan` over a tree of 10,000 files, some broken, some unreadable,
//! some not images, continues, reports every image and unreadable file in order, skips the
//! others, and exits 2 (errors, nothing found).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // tests

mod util;

use util::{fixture, schoon, stdout_lines};

#[test]
fn a_tree_of_ten_thousand_files_with_broken_and_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("tiny-4x4.png")).unwrap();
    let jpeg = std::fs::read(fixture("odd-size-251x187.jpg")).unwrap();
    let mut expected_errors = 0;
    let mut not_images = 0;
    for i in 0..10_000u32 {
        let sub = dir.path().join(format!("d{:02}", i % 50));
        std::fs::create_dir_all(&sub).unwrap();
        let path = sub.join(format!("f{i:05}.img"));
        match i % 20 {
            0 => {
                std::fs::write(&path, &jpeg[..jpeg.len() / 3]).unwrap(); // truncated
                expected_errors += 1;
            }
            1 => {
                std::fs::write(&path, format!("not an image {i}")).unwrap(); // skipped
                not_images += 1;
            }
            2 => {
                std::os::unix::fs::symlink(sub.join("missing-target"), &path).unwrap(); // dangling
                expected_errors += 1;
            }
            3 => {
                std::os::unix::fs::symlink(&path, &path).unwrap(); // a loop
                expected_errors += 1;
            }
            4 => std::fs::write(&path, &jpeg).unwrap(),
            _ => {
                let mut bytes = good.clone();
                bytes.extend_from_slice(&i.to_le_bytes()); // distinct files, trailing bytes
                std::fs::write(&path, &bytes).unwrap();
            }
        }
    }
    let start = std::time::Instant::now();
    let out = schoon(&["scan", "-j", "2", "--summary", dir.path().to_str().unwrap()]);
    eprintln!("scanned 10,000 files in {:?}", start.elapsed());
    assert_eq!(out.status.code(), Some(2), "errors, nothing found");
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 10_000 - not_images);
    let errors: Vec<_> = lines.iter().filter(|l| l["verdict"] == "error").collect();
    assert_eq!(errors.len(), expected_errors);
    assert!(errors.iter().all(|l| l["error"].as_str().is_some_and(|e| !e.is_empty())));
    let clean = lines.iter().filter(|l| l["verdict"] == "clean").count();
    assert_eq!(clean, 10_000 - not_images - expected_errors);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "schoon: 10000 files: 0 match, {clean} clean, {expected_errors} error; {not_images} \
             skipped (not an image)\n"
        )
    );
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "deterministic order");
    let looped =
        lines.iter().find(|l| l["path"].as_str().unwrap().ends_with("f00003.img")).unwrap();
    assert!(looped["error"].as_str().unwrap().contains("symbolic links"), "{looped}");
}
