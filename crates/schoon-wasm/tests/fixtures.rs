//! The shared fixtures (`tests/fixtures/`, expected values in `expected.csv`) through the
//! bindings, exactly as JavaScript sees them: one test per row, both PDQ modes.
//!
//! The same tests run in Node (`wasm-pack test --node`) and in headless Chromium
//! (`WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome`); nothing here calls
//! `wasm_bindgen_test_configure!`, so the runner's environment picks where they run.

#![cfg(target_arch = "wasm32")]
// Test code: a failed unwrap is a failed test (clippy.toml allows this in `#[test]`s only, and
// these are `#[wasm_bindgen_test]`s and their helpers).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use js_sys::{Array, Object, Reflect};
use schoon_core::PdqHash;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const EXPECTED: &str = include_str!("../../../tests/fixtures/expected.csv");

macro_rules! fixtures {
    ($($test:ident => $file:literal,)*) => {
        /// Every fixture that has a row in expected.csv, embedded.
        const FILES: &[(&str, &[u8])] =
            &[$(($file, include_bytes!(concat!("../../../tests/fixtures/", $file)))),*];
        $(
            #[wasm_bindgen_test]
            fn $test() {
                check_row($file);
            }
        )*
    };
}

fixtures! {
    scene_baseline_420 => "scene-baseline-420.jpg",
    scene_baseline_444 => "scene-baseline-444.jpg",
    scene_baseline_422_restart => "scene-baseline-422-restart.jpg",
    scene_progressive => "scene-progressive.jpg",
    scene_cmyk => "scene-cmyk.jpg",
    scene_grey => "scene-grey.jpg",
    scene_rgb_png => "scene-rgb.png",
    scene_rgba_png => "scene-rgba.png",
    scene_grey16_png => "scene-grey16.png",
    scene_palette_png => "scene-palette.png",
    scene_lossless_webp => "scene-lossless.webp",
    scene_lossy_webp => "scene-lossy.webp",
    scene_gif => "scene.gif",
    small_160x120_bmp => "small-160x120.bmp",
    odd_size_251x187 => "odd-size-251x187.jpg",
    large_1600x1200 => "large-1600x1200.jpg",
    tiny_4x4_png => "tiny-4x4.png",
    flat_grey_png => "flat-grey.png",
}

const TRUNCATED: &[u8] = include_bytes!("../../../tests/fixtures/truncated.jpg");
const NOT_AN_IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/not-an-image.jpg");

/// One row of expected.csv.
struct Row<'a> {
    bytes: f64,
    md5: &'a str,
    sha1: &'a str,
    sha256: &'a str,
    width: f64,
    height: f64,
    pdq_reference: &'a str,
    quality_reference: f64,
    pdq_fast: &'a str,
    quality_fast: f64,
}

fn rows() -> impl Iterator<Item = (&'static str, Row<'static>)> {
    EXPECTED.lines().filter(|l| !l.starts_with('#') && !l.starts_with("file,")).map(|line| {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 11, "bad row {line}");
        let n = |i: usize| f[i].parse::<f64>().unwrap();
        let row = Row {
            bytes: n(1),
            md5: f[2],
            sha1: f[3],
            sha256: f[4],
            width: n(5),
            height: n(6),
            pdq_reference: f[7],
            quality_reference: n(8),
            pdq_fast: f[9],
            quality_fast: n(10),
        };
        (f[0], row)
    })
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

fn string(obj: &JsValue, key: &str) -> String {
    get(obj, key).as_string().unwrap_or_else(|| panic!("{key} is not a string"))
}

fn number(obj: &JsValue, key: &str) -> f64 {
    get(obj, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}

/// `{ mode, dihedral: true, ...extra }` as a JS object.
fn options(mode: &str, extra: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"mode".into(), &mode.into()).unwrap();
    Reflect::set(&o, &"dihedral".into(), &true.into()).unwrap();
    for (k, v) in extra {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn hash(bytes: &[u8], options: JsValue) -> JsValue {
    schoon_wasm::hash_bytes(bytes, options).unwrap()
}

fn distance(a: &str, b: &str) -> u32 {
    a.parse::<PdqHash>().unwrap().distance(&b.parse::<PdqHash>().unwrap())
}

fn assert_exact(r: &JsValue, row: &Row<'_>, file: &str) {
    assert_eq!(number(r, "bytes"), row.bytes, "{file} bytes");
    assert_eq!(string(r, "md5"), row.md5, "{file} md5");
    assert_eq!(string(r, "sha1"), row.sha1, "{file} sha1");
    assert_eq!(string(r, "sha256"), row.sha256, "{file} sha256");
}

fn check_row(file: &str) {
    let (_, row) = rows().find(|(f, _)| *f == file).unwrap_or_else(|| panic!("no row {file}"));
    let bytes = FILES.iter().find(|(f, _)| *f == file).unwrap().1;
    assert_exact(&schoon_wasm::exact_hashes(bytes), &row, file);

    let format = schoon_core::decode::sniff(bytes).unwrap();
    let compiled = schoon_wasm::formats().iter().any(|f| f == format.name());
    for (mode, pdq, quality) in [
        ("fast", row.pdq_fast, row.quality_fast),
        ("reference", row.pdq_reference, row.quality_reference),
    ] {
        let r = hash(bytes, options(mode, &[]));
        assert_exact(&r, &row, file);
        let image = schoon_wasm::hash_image(bytes, options(mode, &[]));
        if !compiled {
            // A format this build leaves out: exact hashes, and an error saying so.
            let (_, kind, _) = thrown(image);
            assert_eq!(kind, "unsupported", "{file} {mode}");
            assert_eq!(string(&r, "errorKind"), "unsupported", "{file} {mode}");
            assert!(string(&r, "error").contains("not in this build"), "{file} {mode}");
            assert!(get(&r, "pdq").is_undefined());
            continue;
        }
        assert!(get(&r, "error").is_undefined(), "{file} {mode}: {:?}", get(&r, "error"));
        assert_eq!(string(&r, "format"), format.name(), "{file} {mode}");
        assert_eq!(number(&r, "width"), row.width, "{file} {mode} width");
        assert_eq!(number(&r, "height"), row.height, "{file} {mode} height");
        assert_eq!(string(&r, "pdq"), pdq, "{file} {mode} pdq");
        assert_eq!(number(&r, "quality"), quality, "{file} {mode} quality");
        // hashImage: the same fields, without the exact hashes.
        let image = image.unwrap();
        for key in ["format", "width", "height", "pdq", "quality"] {
            assert_eq!(get(&image, key), get(&r, key), "{file} {mode} hashImage {key}");
        }
        assert!(get(&image, "sha256").is_undefined());
        let dihedral = Array::from(&get(&r, "pdqDihedral"));
        assert_eq!(dihedral.length(), 8, "{file} {mode}");
        assert_eq!(dihedral.get(0).as_string().unwrap(), pdq, "{file} {mode} dihedral[0]");
    }
}

#[wasm_bindgen_test]
fn every_row_has_a_test_and_every_test_a_row() {
    let names: Vec<&str> = rows().map(|(f, _)| f).collect();
    let files: Vec<&str> = FILES.iter().map(|(f, _)| *f).collect();
    assert_eq!(names, files);
}

#[wasm_bindgen_test]
fn version_and_formats() {
    assert_eq!(schoon_wasm::version(), env!("CARGO_PKG_VERSION"));
    // The default features of this crate: the browser build's decoders.
    let expected: &[&str] = if cfg!(feature = "bmp") {
        &["jpeg", "png", "webp", "gif", "bmp"]
    } else {
        &["jpeg", "png", "webp", "gif"]
    };
    assert_eq!(schoon_wasm::formats(), expected);
}

#[wasm_bindgen_test]
fn dihedral_is_only_returned_when_asked() {
    let r = hash(FILES[0].1, JsValue::UNDEFINED);
    assert!(get(&r, "pdqDihedral").is_undefined());
    assert_eq!(string(&r, "pdq").len(), 64);
}

/// A result that carries the exact hashes and an error, as the CLI's NDJSON does.
fn assert_undecoded(r: &JsValue, bytes: &[u8], kind: &str, message: &str) {
    let exact = schoon_core::ExactHashes::of(bytes);
    assert_eq!(number(r, "bytes"), bytes.len() as f64);
    assert_eq!(string(r, "sha256"), exact.sha256.to_hex());
    assert_eq!(string(r, "md5"), exact.md5.to_hex());
    assert_eq!(string(r, "errorKind"), kind, "{:?}", get(r, "error"));
    let error = string(r, "error");
    assert!(error.contains(message), "{error:?} does not contain {message:?}");
    for key in ["pdq", "quality", "width", "height", "format"] {
        assert!(get(r, key).is_undefined(), "{key} set on an error result");
    }
}

#[wasm_bindgen_test]
fn truncated_jpeg() {
    assert_eq!(
        schoon_core::ExactHashes::of(TRUNCATED).sha256.to_hex(),
        "dd9e3c7a9350591bc54bd2add1edc8a883e8e7bb510498682218c8990e2836bb"
    );
    for mode in ["fast", "reference"] {
        let r = hash(TRUNCATED, options(mode, &[]));
        assert_undecoded(&r, TRUNCATED, "bad_input", "truncated");
        let (name, kind, message) = thrown(schoon_wasm::hash_image(TRUNCATED, options(mode, &[])));
        assert_eq!((name.as_str(), kind.as_str()), ("SchoonError", "bad_input"));
        assert_eq!(message, string(&r, "error"));
    }
}

#[wasm_bindgen_test]
fn not_an_image() {
    for mode in ["fast", "reference"] {
        let r = hash(NOT_AN_IMAGE, options(mode, &[]));
        // "this is " in hex.
        assert_undecoded(&r, NOT_AN_IMAGE, "bad_input", "unknown signature 7468697320697320");
    }
    assert_undecoded(&hash(b"", JsValue::UNDEFINED), b"", "bad_input", "empty input");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG signature and IHDR declaring 65535x65535 RGB, then an empty IDAT and IEND.
fn huge_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&65535u32.to_be_bytes());
    ihdr.extend_from_slice(&65535u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[]);
    chunk(b"IEND", &[]);
    png
}

/// A baseline JPEG header declaring 65535x65535 (SOI, SOF0, a DQT, a DHT-less SOS, EOI).
fn huge_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    // DQT: one table of 64 ones.
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend_from_slice(&[1u8; 64]);
    // SOF0: 8-bit, 65535 lines, 65535 samples per line, one component.
    j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    j.extend_from_slice(&[0x01, 0x11, 0x00]);
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    j.extend_from_slice(&[0x00, 0x00, 0xFF, 0xD9]);
    j
}

#[wasm_bindgen_test]
fn huge_headers_are_refused_by_limits() {
    for (name, bytes) in [("png", huge_png()), ("jpeg", huge_jpeg())] {
        for mode in ["fast", "reference"] {
            let r = hash(&bytes, options(mode, &[]));
            assert_eq!(string(&r, "errorKind"), "limit", "{name} {mode}: {:?}", get(&r, "error"));
            // The PNG decoder refuses the allocation before the core sees the dimensions, so
            // only the JPEG message names them (the same natively).
            if name == "jpeg" {
                assert!(string(&r, "error").contains("65535"), "{mode}: {:?}", get(&r, "error"));
            }
            assert_eq!(string(&r, "sha256"), schoon_core::sha256(&bytes).to_hex());
        }
    }
}

#[wasm_bindgen_test]
fn limits_from_options() {
    let (file, bytes) = FILES[0];
    for mode in ["fast", "reference"] {
        let r = hash(bytes, options(mode, &[("maxPixels", 1000.into())]));
        assert_undecoded(&r, bytes, "limit", "pixel count 76800 exceeds the limit of 1000");
        let r = hash(bytes, options(mode, &[("maxInputBytes", 100.into())]));
        assert_undecoded(&r, bytes, "limit", "input size (bytes)");
        let r = hash(bytes, options(mode, &[("maxWidth", 320.into()), ("maxHeight", 240.into())]));
        assert!(get(&r, "error").is_undefined(), "{file} {mode} at the limit");
    }
}

/// The `SchoonError` thrown by a call, as JS would catch it.
fn thrown(result: Result<JsValue, JsValue>) -> (String, String, String) {
    let err = result.expect_err("expected a throw");
    let e: js_sys::Error = err.clone().dyn_into().expect("an Error");
    (e.name().into(), string(&err, "kind"), e.message().into())
}

#[wasm_bindgen_test]
fn invalid_options_throw_caller_errors() {
    let bytes = FILES[0].1;
    let cases: Vec<(JsValue, &str)> = vec![
        (options("bogus", &[]), "option mode must be 'fast' or 'reference', got 'bogus'"),
        (options("fast", &[("maxPixel", 10.into())]), "unknown option 'maxPixel'"),
        (options("fast", &[("maxPixels", (-1).into())]), "option maxPixels must be an integer"),
        (options("fast", &[("maxWidth", 1.5.into())]), "option maxWidth must be an integer"),
        (options("fast", &[("maxWidth", 5e9.into())]), "from 0 to 4294967295"),
        (options("fast", &[("dihedral", "yes".into())]), "option dihedral must be a boolean"),
        (JsValue::from(5), "options must be an object"),
    ];
    for (opts, message) in cases {
        let (name, kind, got) = thrown(schoon_wasm::hash_bytes(bytes, opts));
        assert_eq!((name.as_str(), kind.as_str()), ("SchoonError", "caller"));
        assert!(got.contains(message), "{got:?} does not contain {message:?}");
    }
    // `undefined` values are as good as absent; `null` options are the defaults.
    let r = hash(bytes, options("fast", &[("maxPixels", JsValue::UNDEFINED)]));
    assert!(get(&r, "error").is_undefined());
    assert!(get(&hash(bytes, JsValue::NULL), "error").is_undefined());
}

fn row(file: &str) -> Row<'static> {
    rows().find(|(f, _)| *f == file).unwrap().1
}

fn fixture(file: &str) -> &'static [u8] {
    FILES.iter().find(|(f, _)| *f == file).unwrap().1
}

fn decoded(file: &str) -> schoon_core::image::DynamicImage {
    schoon_core::image::load_from_memory(fixture(file)).unwrap()
}

#[wasm_bindgen_test]
fn pdq_from_pixels_matches_the_reference() {
    let rgb = decoded("scene-rgb.png").to_rgb8();
    let (w, h) = rgb.dimensions();
    let expected = row("scene-rgb.png");
    let rgba = decoded("scene-rgb.png").to_rgba8();
    for (pixels, channels) in [(rgb.as_raw(), 3), (rgba.as_raw(), 4)] {
        let r = schoon_wasm::pdq_from_pixels(pixels, w, h, channels).unwrap();
        assert_eq!(string(&r, "pdq"), expected.pdq_reference, "{channels} channels");
        assert_eq!(number(&r, "quality"), expected.quality_reference);
        assert_eq!(Array::from(&get(&r, "pdqDihedral")).length(), 8);
    }
    let grey = decoded("scene-grey.jpg").to_luma8();
    let r = schoon_wasm::pdq_from_pixels(grey.as_raw(), w, h, 1).unwrap();
    assert_eq!(string(&r, "pdq"), row("scene-grey.jpg").pdq_reference);

    let (name, kind, message) = thrown(schoon_wasm::pdq_from_pixels(rgb.as_raw(), w, h, 4));
    assert_eq!((name.as_str(), kind.as_str()), ("SchoonError", "caller"));
    assert!(message.contains("320x240x4"), "{message}");
    let (_, kind, _) = thrown(schoon_wasm::pdq_from_pixels(rgb.as_raw(), w, h, 7));
    assert_eq!(kind, "caller");
}

#[wasm_bindgen_test]
fn pdq_from_block_means_is_within_the_fast_budget() {
    // The large fixture's luma, averaged over 4x4 blocks (what the fast path uses there).
    let rgb = decoded("large-1600x1200.jpg").to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (pw, ph) = (w.div_ceil(4), h.div_ceil(4));
    let mut plane = vec![0f32; pw * ph];
    for (i, p) in rgb.pixels().enumerate() {
        let (x, y) = (i % w, i / w);
        plane[(y / 4) * pw + x / 4] += schoon_core::pdq::luma(p[0], p[1], p[2]) / 16.0;
    }
    let r = schoon_wasm::pdq_from_block_means(&plane, 4, 4, w as u32, h as u32).unwrap();
    let expected = row("large-1600x1200.jpg");
    let d = distance(&string(&r, "pdq"), expected.pdq_reference);
    assert!(d <= 12, "{d} bits from the reference");

    let (_, kind, message) = thrown(schoon_wasm::pdq_from_block_means(&plane, 8, 8, 1600, 1200));
    assert_eq!(kind, "caller");
    assert!(message.contains("plane has"), "{message}");
}
