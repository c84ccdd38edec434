//! A large JPEG hashed in two parts (`jpeg_head` + `jpeg_tail`, joined by
//! `hash_image_joined`) gives exactly `hash_image`'s answer, wherever the split falls, with or
//! without the tail, and for files the split does not apply to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // tests

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};
use schoon_core::{HashOptions, PdqMode, hash_image, hash_image_joined, jpeg_head, jpeg_tail};

/// A 2400x2000 photo-like JPEG (gradients, edges and noise, so that the entropy-coded data
/// has codes of every length), large enough for the 1/8-scale fast path.
fn photo(seed: u32, grey: bool) -> Vec<u8> {
    let (w, h) = (2400u32, 2000u32);
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 41) as i32 - 20
    };
    let channels = if grey { 1 } else { 3 };
    let mut px = Vec::with_capacity((w * h) as usize * channels);
    for y in 0..h {
        for x in 0..w {
            let base = ((x / 7 + y / 5) % 256) as i32
                + if (x / 300 + y / 250) % 2 == 0 { 40 } else { -40 };
            for c in 0..channels {
                let v = base + noise() + c as i32 * 30 * ((x / 400) as i32 % 2);
                px.push(v.clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    let color = if grey { ExtendedColorType::L8 } else { ExtendedColorType::Rgb8 };
    JpegEncoder::new_with_quality(&mut out, 88).write_image(&px, w, h, color).expect("encodes");
    out
}

fn splits(len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (1..20).map(|k| len * k / 20).collect();
    v.extend([0, 1, 700, len - 1, len, len + 10]);
    v
}

#[test]
fn joined_equals_hash_image_at_every_split() {
    let options = HashOptions::default();
    let with_regions = HashOptions { regions: true, ..HashOptions::default() };
    for (seed, grey) in [(1, false), (2, true)] {
        let jpeg = photo(seed, grey);
        let whole = hash_image(&jpeg, &options).expect("hashes");
        let whole_regions = hash_image(&jpeg, &with_regions).expect("hashes");
        for split in splits(jpeg.len()) {
            let tail = jpeg_tail(&jpeg, split, &options);
            let head = jpeg_head(&jpeg, split, &options).expect("splits a large baseline jpeg");
            if split < jpeg.len() - 2048 {
                // The tail really takes over (the join is not the head decoding everything).
                assert!(
                    head.meets(tail.as_ref().expect("a tail"), &jpeg),
                    "seed {seed} split {split}"
                );
            }
            let joined = hash_image_joined(&jpeg, &options, head, tail.as_ref()).expect("joins");
            assert_eq!(joined, whole, "seed {seed} split {split}");
            // Without the tail the head decodes the rest itself.
            let head = jpeg_head(&jpeg, split, &options).expect("splits");
            assert_eq!(hash_image_joined(&jpeg, &options, head, None).expect("joins"), whole);
            // The tail survives its byte encoding (how it travels between workers).
            let tail = tail.expect("a tail");
            let bytes = tail.to_bytes();
            let back = schoon_core::JpegTail::from_bytes(&bytes).expect("decodes");
            assert_eq!(back, tail);
            let head = jpeg_head(&jpeg, split, &with_regions).expect("splits");
            let joined = hash_image_joined(&jpeg, &with_regions, head, Some(&back)).expect("joins");
            assert_eq!(joined, whole_regions, "regions, split {split}");
        }
    }
}

#[test]
fn a_tail_of_other_bytes_changes_nothing() {
    let options = HashOptions::default();
    let a = photo(3, false);
    let b = photo(4, false);
    let tail_b = jpeg_tail(&b, b.len() / 2, &options).expect("a tail");
    let head = jpeg_head(&a, a.len() / 2, &options).expect("splits");
    let joined = hash_image_joined(&a, &options, head, Some(&tail_b)).expect("joins");
    assert_eq!(joined, hash_image(&a, &options).expect("hashes"));
    // A head of other bytes: the answer for the bytes given.
    let head_b = jpeg_head(&b, b.len() / 2, &options).expect("splits");
    let joined = hash_image_joined(&a, &options, head_b, None).expect("hashes");
    assert_eq!(joined, hash_image(&a, &options).expect("hashes"));
    // Garbage is not a tail.
    assert!(schoon_core::JpegTail::from_bytes(b"SJT1 not a tail").is_none());
    let mut bytes = tail_b.to_bytes();
    bytes.pop();
    assert!(schoon_core::JpegTail::from_bytes(&bytes).is_none());
}

#[test]
fn no_split_where_the_fast_path_does_not_apply() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
    let reference = HashOptions { mode: PdqMode::Reference, ..HashOptions::default() };
    let large = photo(5, false);
    assert!(jpeg_head(&large, 1000, &reference).is_none(), "reference mode is never split");
    assert!(jpeg_tail(&large, 1000, &reference).is_none());
    assert!(jpeg_head(&large[..large.len() / 2], 1000, &HashOptions::default()).is_none());
    for name in [
        "large-1600x1200.jpg",
        "scene-progressive.jpg",
        "scene-baseline-420.jpg",
        "flat-grey.png",
        "not-an-image.jpg",
        "truncated.jpg",
    ] {
        let bytes = std::fs::read(format!("{fixtures}/{name}")).expect("fixture");
        assert!(jpeg_head(&bytes, bytes.len() / 2, &HashOptions::default()).is_none(), "{name}");
        assert!(jpeg_tail(&bytes, bytes.len() / 2, &HashOptions::default()).is_none(), "{name}");
    }
}

/// The corpus's 12 MP phone photos and every large JPEG of it, split at several points.
#[test]
fn corpus_photos_join_exactly() {
    let root =
        std::env::var_os("SCHOON_CORPUS").map(std::path::PathBuf::from).unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let dir = root.join("pdq-reference/reg-test-input");
    if !dir.is_dir() {
        eprintln!("SKIPPED: evaluation corpus not found at {}", root.display());
        return;
    }
    let options = HashOptions::default();
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jpg" || x == "jpeg") {
                files.push(p);
            }
        }
    }
    let mut split_files = 0;
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        let Ok(whole) = hash_image(&bytes, &options) else { continue };
        for k in [3, 9, 14] {
            let split = bytes.len() * k / 20;
            let Some(head) = jpeg_head(&bytes, split, &options) else { continue };
            let tail = jpeg_tail(&bytes, split, &options);
            assert!(head.meets(tail.as_ref().expect("a tail"), &bytes), "{path:?} split {split}");
            let joined = hash_image_joined(&bytes, &options, head, tail.as_ref()).expect("joins");
            assert_eq!(joined, whole, "{path:?} split {split}");
            split_files += 1;
        }
    }
    eprintln!("{split_files} corpus splits joined exactly");
    assert!(split_files >= 12, "the 12 MP photos split");
}

/// Damaged files (changed bytes, cut files, stray markers, missing runs) split anywhere: the
/// joined decode equals the one-pass decode, error for error, and nothing panics.
#[test]
fn damaged_files_join_as_one_pass() {
    use schoon_jpeg::{Limits, Scale, decode_head, decode_luma, decode_luma_joined, decode_tail};
    let original = photo(6, false);
    let limits = Limits::default();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut applied = 0;
    for case in 0..48 {
        let mut b = original.clone();
        let at = |r: u64, len: usize| (r as usize) % len.max(1);
        match case % 4 {
            0 => {
                for _ in 0..1 + rnd() % 20 {
                    let i = at(rnd(), b.len());
                    b[i] = rnd() as u8;
                }
            }
            1 => b.truncate(at(rnd(), b.len()).max(1)),
            2 => {
                let i = at(rnd(), b.len());
                b.splice(i..i, [0xFF, 0xD0 + (rnd() % 10) as u8]);
            }
            _ => {
                let i = at(rnd(), b.len());
                let j = (i + at(rnd(), 5000)).min(b.len());
                b.drain(i..j);
            }
        }
        let one = decode_luma(&b, Scale::Eighth, &limits);
        let split = at(rnd(), b.len() + 1);
        let tail = decode_tail(&b, split, Scale::Eighth, &limits);
        let Ok(Some(head)) = decode_head(&b, split, Scale::Eighth, &limits) else { continue };
        applied += 1;
        let tail = tail.expect("the head's headers parsed, so do the tail's");
        let joined = decode_luma_joined(&b, Scale::Eighth, &limits, head, tail.as_ref());
        match (&one, &joined) {
            (Ok(a), Ok(j)) => assert!(a == j, "case {case}, split {split}"),
            (Err(a), Err(j)) => assert_eq!(a.to_string(), j.to_string(), "case {case}"),
            _ => panic!("case {case}, split {split}: {one:?} vs {joined:?}"),
        }
    }
    assert!(applied >= 24, "only {applied} damaged files were split");
}
