//! Conversions between JavaScript values and the core's types, in one place.
//!
//! Objects are built with `Reflect.set` on plain objects rather than through serde: the
//! results are a handful of strings and numbers, and this keeps serde's machinery out of the
//! module (see README.md for what that saves).

use js_sys::{Array, Object, Reflect};
use schoon_core::wire::{self, FieldValue};
use schoon_core::{
    BadInput, CallerError, Error, ExactHashes, HashOptions, ImageHashes, PdqMode, Report, pdq::Pdq,
};
use wasm_bindgen::JsValue;

/// Sets `obj[key] = value`.
pub(crate) fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Cannot fail: `obj` is an ordinary extensible object we just created (or a fresh `Error`),
    // and `key` names no accessor or frozen property, so `Reflect.set` defines a data property.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

/// A caller error (invalid argument or option).
pub(crate) fn caller(message: String) -> Error {
    Error::Caller(CallerError { message })
}

/// The core's error as a JavaScript `Error` named `SchoonError`, with the core's message and
/// its kind (`'bad_input'`, `'limit'`, `'unsupported'`, `'caller'`) as `err.kind`.
/// Set errors also carry a `code`: `'set'` (malformed, truncated, tampered), `'signature'`
/// (unsigned, invalid, another key's) or `'stale'` (not newer than the version held).
pub(crate) fn js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("SchoonError");
    set(&err, "kind", e.kind().as_str());
    let code = match e {
        Error::BadInput(BadInput::Set { .. }) => Some("set"),
        Error::BadInput(BadInput::Signature { .. }) => Some("signature"),
        Error::BadInput(BadInput::Stale { .. }) => Some("stale"),
        _ => None,
    };
    if let Some(code) = code {
        set(&err, "code", code);
    }
    err.into()
}

/// The own enumerable properties of an options object whose value is not `undefined`;
/// `undefined` and `null` give none, anything but an object is a caller error.
pub(crate) fn entries(value: &JsValue, what: &str) -> Result<Vec<(String, JsValue)>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(caller(format!("{what} must be an object")));
    }
    let obj = Object::from(value.clone());
    let mut out = Vec::new();
    for key in Object::keys(&obj) {
        let Some(name) = key.as_string() else { continue };
        // Cannot fail: `obj` is an object and `key` one of its own enumerable keys.
        let v = Reflect::get(&obj, &key).unwrap_or(JsValue::UNDEFINED);
        if !v.is_undefined() {
            out.push((name, v));
        }
    }
    Ok(out)
}

/// A string option.
pub(crate) fn string_of(name: &str, v: &JsValue) -> Result<String, Error> {
    v.as_string().ok_or_else(|| caller(not_a(name, "string")))
}

/// A boolean option.
pub(crate) fn bool_of(name: &str, v: &JsValue) -> Result<bool, Error> {
    v.as_bool().ok_or_else(|| caller(not_a(name, "boolean")))
}

/// Sets the core's wire fields on `obj` under their JavaScript names (`pdq_dihedral` is
/// `pdqDihedral`): the bindings return what `schoon_core::wire` reports, never their own copy.
pub(crate) fn set_fields(obj: &Object, fields: Vec<wire::Field>) {
    for (name, value) in fields {
        let value = match value {
            FieldValue::Text(s) => JsValue::from(s),
            FieldValue::Number(n) => JsValue::from(n as f64),
            FieldValue::Texts(v) => v.into_iter().map(JsValue::from).collect::<Array>().into(),
        };
        set(obj, &wire::js_name(name), value);
    }
}

fn object_of(fields: Vec<wire::Field>) -> Object {
    let o = Object::new();
    set_fields(&o, fields);
    o
}

/// The exact hashes as `{ bytes, md5, sha1, sha256 }`.
pub(crate) fn exact_object(e: &ExactHashes) -> Object {
    object_of(wire::exact_fields(e))
}

/// A PDQ result as `{ pdq, quality, pdqDihedral }`.
pub(crate) fn pdq_object(p: &Pdq) -> Object {
    object_of(wire::pdq_fields(p, true))
}

/// Sets `format`, `width`, `height`, `pdq`, `quality` and, if asked, `pdqDihedral`.
pub(crate) fn set_image_fields(o: &Object, img: &ImageHashes, dihedral: bool) {
    set_fields(o, wire::image_fields(img, dihedral));
}

/// A report as `hashBytes` returns it: the exact hashes, then either the image's format,
/// dimensions and PDQ, or `error` and `errorKind` (the fields of a `schoon hash` line).
pub(crate) fn report_object(r: &Report, dihedral: bool) -> Object {
    object_of(wire::report_fields(r, dihedral))
}

/// `HashOptions` from `{ mode?, dihedral?, maxWidth?, ... }`; `undefined` and `null` give the
/// defaults. Unknown keys are refused so that a misspelt limit is never silently ignored.
/// Returns the options and whether the dihedral hashes were asked for.
pub(crate) fn parse_hash_options(value: &JsValue) -> Result<(HashOptions, bool), Error> {
    let mut options = HashOptions::default();
    let mut dihedral = false;
    for (name, v) in entries(value, "options")? {
        let limits = &mut options.limits;
        match name.as_str() {
            "mode" => options.mode = parse_mode(&v)?,
            "dihedral" => dihedral = bool_of(&name, &v)?,
            "regions" => options.regions = bool_of(&name, &v)?,
            "maxWidth" => limits.max_width = integer(&name, &v, u32::MAX.into())? as u32,
            "maxHeight" => limits.max_height = integer(&name, &v, u32::MAX.into())? as u32,
            "maxPixels" => limits.max_pixels = integer(&name, &v, MAX_SAFE)?,
            "maxAlloc" => limits.max_alloc = integer(&name, &v, MAX_SAFE)?,
            "maxInputBytes" => limits.max_input_bytes = integer(&name, &v, MAX_SAFE)?,
            _ => return Err(caller(format!("unknown option '{name}'"))),
        }
    }
    Ok((options, dihedral))
}

/// `Number.MAX_SAFE_INTEGER`.
pub(crate) const MAX_SAFE: u64 = (1 << 53) - 1;

fn not_a(name: &str, what: &str) -> String {
    format!("option {name} must be a {what}")
}

fn parse_mode(v: &JsValue) -> Result<PdqMode, Error> {
    match v.as_string().as_deref() {
        Some("fast") => Ok(PdqMode::Fast),
        Some("reference") => Ok(PdqMode::Reference),
        Some(other) => {
            Err(caller(format!("option mode must be 'fast' or 'reference', got '{other}'")))
        }
        None => Err(caller(not_a("mode", "string ('fast' or 'reference')"))),
    }
}

/// A non-negative integer no larger than `max`.
pub(crate) fn integer(name: &str, v: &JsValue, max: u64) -> Result<u64, Error> {
    match v.as_f64() {
        Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= max as f64 => Ok(x as u64),
        // The value is not echoed: formatting a float would add Rust's float printing to the
        // module for one message.
        Some(_) => Err(caller(format!("option {name} must be an integer from 0 to {max}"))),
        None => Err(caller(not_a(name, "number"))),
    }
}

/// Limits are plain data: make sure the defaults the TypeScript docs quote stay true.
/// PDQ of a plane of block means (`pdqFromBlockMeans`, `Filter.checkBlockMeans`): `sizes` are
/// the block width and height, then the full image's width and height.
pub(crate) fn block_means_pdq(plane: &[f32], sizes: [u32; 4]) -> Result<Pdq, JsValue> {
    let [bw, bh, fw, fh] = sizes.map(|s| s as usize);
    schoon_core::pdq::hash_block_means(plane, bw, bh, fw, fh).map_err(|e| js_error(&e))
}

#[cfg(test)]
mod tests {
    use schoon_core::Limits;

    #[test]
    fn documented_defaults() {
        let l = Limits::default();
        assert_eq!((l.max_width, l.max_height, l.max_pixels), (16_384, 16_384, 100_000_000));
        assert_eq!((l.max_alloc, l.max_input_bytes), (512 << 20, 256 << 20));
    }
}
