//! `Filter` (and, with the `index` feature, `Index`) through the bindings, on the embedded demo
//! set and the bundled example pictures: the same answers as the CLI's `scan`, in Node and in
//! headless Chromium (see fixtures.rs for how the runner picks the environment).

#![cfg(target_arch = "wasm32")]
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use js_sys::{Array, Object, Reflect};
use schoon_wasm::JsFilter;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

const FILTER: &[u8] = include_bytes!("../../schoon-cli/assets/default.filter");
const PUBLIC_KEY: &str = include_str!("../../schoon-cli/assets/default.pub");
const LISTED: &[u8] = include_bytes!("../../../examples/listed/known-1.jpg");
const MIRRORED: &[u8] = include_bytes!("../../../examples/edited/known-3-mirrored.jpg");
const GREYSCALE: &[u8] = include_bytes!("../../../examples/edited/known-2-greyscale.png");
const INNOCENT: &[u8] = include_bytes!("../../../examples/innocent/scene-2.png");

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn strings(v: &JsValue) -> Vec<String> {
    Array::from(v).iter().map(|x| x.as_string().unwrap()).collect()
}

fn trust() -> JsValue {
    object(&[("publicKey", PUBLIC_KEY.into())])
}

fn load() -> JsFilter {
    JsFilter::new(FILTER, trust()).unwrap()
}

/// `(name, kind, code)` of a thrown `SchoonError`.
fn thrown<T>(r: Result<T, JsValue>) -> (String, String, String) {
    let Err(e) = r else { panic!("expected an error") };
    let s = |k: &str| get(&e, k).as_string().unwrap_or_default();
    (s("name"), s("kind"), s("code"))
}

#[wasm_bindgen_test]
fn loads_verified_and_names_its_kinds() {
    let f = load();
    assert_eq!(f.signature(), "verified");
    assert_eq!(strings(&f.kinds()), ["md5", "sha1", "sha256", "pdq"]);
    assert!(f.version() > 0.0);
    let lists = Array::from(&f.lists());
    assert_eq!(get(&lists.get(0), "name").as_string().unwrap(), "schoon-demo");
    assert_eq!(get(&lists.get(0), "pdq").as_f64(), Some(3.0));
}

#[wasm_bindgen_test]
fn refusals_carry_codes() {
    let mut tampered = FILTER.to_vec();
    tampered[FILTER.len() / 2] ^= 0x10;
    let e = thrown(JsFilter::new(&tampered, trust()));
    assert_eq!(e, ("SchoonError".into(), "bad_input".into(), "set".into()));
    let version = load().version();
    let stale = object(&[("publicKey", PUBLIC_KEY.into()), ("newerThan", version.into())]);
    assert_eq!(thrown(JsFilter::new(FILTER, stale)).2, "stale");
    assert_eq!(thrown(load().ensure_newer_than(version)).2, "stale");
    assert_eq!(thrown(JsFilter::new(FILTER, JsValue::UNDEFINED)).1, "caller");
    let typo = object(&[("publicKey", PUBLIC_KEY.into()), ("allowUnsinged", true.into())]);
    assert_eq!(thrown(JsFilter::new(FILTER, typo)).1, "caller");
}

#[wasm_bindgen_test]
fn exact_hashes_of_a_listed_file_are_candidates() {
    let f = load();
    let e = schoon_core::ExactHashes::of(LISTED);
    let q = object(&[
        ("md5", e.md5.to_hex().into()),
        ("sha1", e.sha1.to_hex().into()),
        ("sha256", e.sha256.to_hex().into()),
    ]);
    let r = f.check_exact(q).unwrap();
    assert_eq!(get(&r, "candidate"), JsValue::TRUE);
    assert_eq!(strings(&get(&r, "kinds")), ["md5", "sha1", "sha256"]);
    let other = schoon_core::ExactHashes::of(INNOCENT);
    let r = f.check_exact(object(&[("sha256", other.sha256.to_hex().into())])).unwrap();
    assert_eq!(get(&r, "candidate"), JsValue::FALSE);
    assert_eq!(schoon_wasm::md5(LISTED), e.md5.to_hex());
    assert_eq!(schoon_wasm::sha1(LISTED), e.sha1.to_hex());
    assert_eq!(schoon_wasm::sha256(LISTED), e.sha256.to_hex());
}

#[wasm_bindgen_test]
fn images_are_hashed_and_probed_where_the_coefficients_are() {
    let f = load();
    for (bytes, candidate) in
        [(LISTED, true), (MIRRORED, true), (GREYSCALE, true), (INNOCENT, false)]
    {
        let r = f.check_image(bytes, JsValue::UNDEFINED).unwrap();
        assert_eq!(get(&r, "candidate").as_bool(), Some(candidate));
        assert_eq!(Array::from(&get(&r, "pdqDihedral")).length(), 8);
        let native = schoon_core::hash_image(bytes, &Default::default()).unwrap();
        assert_eq!(get(&r, "pdq").as_string().unwrap(), native.pdq.hash.to_hex());
    }
    // The same pixels from a platform decoder give the same answer (fast path, block means).
    let img = schoon_core::image::load_from_memory(GREYSCALE).unwrap().to_rgba8();
    let (w, h) = img.dimensions();
    let r = f.check_pixels(img.as_raw(), w, h, 4, JsValue::UNDEFINED).unwrap();
    let native = schoon_core::hash_image(GREYSCALE, &Default::default()).unwrap();
    assert_eq!(get(&r, "pdq").as_string().unwrap(), native.pdq.hash.to_hex());
    assert_eq!(get(&r, "candidate"), JsValue::TRUE);
    let e = thrown(f.check_image(b"not an image", JsValue::UNDEFINED));
    assert_eq!(e.1, "bad_input");
}

#[cfg(feature = "index")]
#[wasm_bindgen_test]
fn the_index_confirms() {
    const INDEX: &[u8] = include_bytes!("../../schoon-cli/assets/default.index");
    let index = schoon_wasm::JsIndex::new(INDEX.to_vec(), trust()).unwrap();
    let h = schoon_core::hash_image(MIRRORED, &Default::default()).unwrap();
    let dihedral: Array = h.pdq.dihedral.iter().map(|d| JsValue::from(d.to_hex())).collect();
    let q = object(&[("pdq_dihedral", dihedral.into()), ("quality", h.pdq.quality.into())]);
    let r = index.lookup(q, JsValue::UNDEFINED).unwrap();
    assert_eq!(get(&r, "verdict").as_string().unwrap(), "match");
    let m = Array::from(&get(&r, "matches")).get(0);
    assert_eq!(get(&m, "variant").as_string().unwrap(), "flipy");
    assert_eq!(get(&m, "value"), JsValue::UNDEFINED);
    let e = schoon_core::ExactHashes::of(INNOCENT);
    let r = index.lookup(object(&[("sha256", e.sha256.to_hex().into())]), JsValue::UNDEFINED);
    assert_eq!(get(&r.unwrap(), "verdict").as_string().unwrap(), "clean");
}
