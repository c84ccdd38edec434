//! WebAssembly bindings of [`schoon_core`] for browsers, Web Workers and Node.
//!
//! This crate is glue: it converts JavaScript arguments into the core's types and the core's
//! results and errors into plain JavaScript objects and `Error`s. Hashing, decoding and limits
//! live in the core, so identical bytes give identical hashes natively and here.
//!
//! Built with `cargo xtask wasm` (see `wasm-pack.toml` at the repository root) into the npm
//! package in `www/`. From JavaScript:
//!
//! ```js
//! import init, { hashBytes } from './pkg/web/schoon.js';
//! await init();
//! const bytes = new Uint8Array(await file.arrayBuffer());
//! const r = hashBytes(bytes, { mode: 'fast', dihedral: true });
//! if (r.error) console.log(r.sha256, 'does not decode:', r.error, r.errorKind);
//! else console.log(r.sha256, r.pdq, r.quality, r.width, r.height);
//! ```
//!
//! Sets: `Filter` (verify a signed filter, then check exact hashes and PDQ where the DCT
//! coefficients are, e.g. `filter.checkImage(bytes)`) and, with the `index` feature (the
//! Node build), `Index` (the authoritative lookup a server confirms candidates with).
//!
//! Every exported function is also an ordinary Rust function (the tests call them), returning
//! `Result<JsValue, JsValue>`: the error is a JavaScript `Error` named `SchoonError` whose `kind`
//! property is the core's [`ErrorKind`](schoon_core::ErrorKind) (`'bad_input'`, `'limit'`,
//! `'unsupported'`, `'caller'`).

mod convert;
#[cfg(feature = "index")]
mod index;
mod set;

use schoon_core::{ExactHashes, Format, decode, pdq};
use wasm_bindgen::prelude::*;

#[cfg(feature = "index")]
pub use crate::index::JsIndex;
#[cfg(feature = "split")]
pub use crate::set::{FileBytes, ImageHead, jpeg_tail};
pub use crate::set::{JsFilter, md5, sha1, sha256};

use crate::convert::{
    block_means_pdq, exact_object, js_error, parse_hash_options, pdq_object, report_object,
    set_image_fields,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Who is at fault when something fails (the core's `ErrorKind`). */
export type ErrorKind = 'bad_input' | 'limit' | 'unsupported' | 'caller';

/** The image formats schoon knows; `formats()` says which this build decodes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp';

/**
 * The `Error` every schoon function throws: `name` is `'SchoonError'`, `message` the core's
 * message, `kind` who is at fault (`'caller'` for invalid arguments or options).
 */
export interface SchoonError extends Error {
  name: 'SchoonError';
  kind: ErrorKind;
}

/** Options of `hashBytes`. Limits default to the core's `Limits::default()`. */
export interface HashOptions {
  /**
   * `'fast'` (default): DCT-scaled luma-only JPEG decoding and block means, within a few bits
   * of the reference. `'reference'`: full-size decode, bit-exact with Meta's C++ PDQ.
   */
  mode?: 'fast' | 'reference';
  /** Also return the 8 dihedral PDQ hashes as `pdqDihedral` (default `false`). */
  dihedral?: boolean;
  /**
   * `filter.checkImage` / `checkPixels` only: also check the image's region windows against
   * the filter's region hashes (crops, small turns, captions) when the whole-image PDQ misses.
   * Default `true`; either way only when the filter holds region hashes.
   */
  regions?: boolean;
  /** Maximum image width in pixels (default 16384). */
  maxWidth?: number;
  /** Maximum image height in pixels (default 16384). */
  maxHeight?: number;
  /** Maximum pixel count, width x height (default 100 000 000). */
  maxPixels?: number;
  /** Maximum memory one decode and hash may allocate, in bytes (default 512 MiB). */
  maxAlloc?: number;
  /** Maximum input size in bytes (default 256 MiB). */
  maxInputBytes?: number;
}

/** Exact hashes of a byte string; digests are lowercase hex. */
export interface ExactHashes {
  /** Number of bytes hashed. */
  bytes: number;
  md5: string;
  sha1: string;
  sha256: string;
}

/** A PDQ hash (64 hex digits), its quality (0..=100; under 50 is unreliable) and variants. */
export interface PdqResult {
  pdq: string;
  quality: number;
  /**
   * The 8 dihedral hashes: original, rot90, rot180, rot270, flipX, flipY, flipPlus1,
   * flipMinus1. `pdqDihedral[0] === pdq`.
   */
  pdqDihedral: string[];
}

/** The perceptual hashes of an image file (`hashImage`, and part of `hashBytes`). */
export interface ImageHashes {
  format: ImageFormat;
  /** Stored width (EXIF orientation is not applied). */
  width: number;
  /** Stored height. */
  height: number;
  pdq: string;
  quality: number;
  /** Only when `dihedral: true` was asked. */
  pdqDihedral?: string[];
}

/** `hashBytes` on bytes that decode. */
export interface HashedImage extends ExactHashes, ImageHashes {
  error?: undefined;
}

/** `hashBytes` on bytes that do not decode: the exact hashes and why there is no PDQ. */
export interface UndecodedFile extends ExactHashes {
  /** The core's message, e.g. `'malformed jpeg image: truncated: ...'`. */
  error: string;
  errorKind: ErrorKind;
  pdq?: undefined;
}

/** What `hashBytes` returns: test `'error' in r` or `r.error` to tell the two apart. */
export type HashResult = HashedImage | UndecodedFile;
"#;

/// Exact hashes (MD5, SHA-1, SHA-256) of a file's bytes and, when they decode, its PDQ hash.
///
/// Never throws because of the bytes: if they do not decode (not an image, truncated, a
/// format this build lacks, a limit reached) the result carries the exact hashes plus `error`
/// and `errorKind`, as a line of `schoon hash` does. Throws a `SchoonError` of kind `'caller'`
/// only for invalid `options`.
#[wasm_bindgen(js_name = hashBytes, unchecked_return_type = "HashResult")]
pub fn hash_bytes(
    #[wasm_bindgen(param_description = "the file's bytes")] bytes: &[u8],
    #[wasm_bindgen(
        unchecked_optional_param_type = "HashOptions",
        param_description = "mode, dihedral and limits"
    )]
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let (options, dihedral) = parse_hash_options(&options).map_err(|e| js_error(&e))?;
    let report = schoon_core::hash_bytes(bytes, &options);
    Ok(report_object(&report, dihedral).into())
}

/// The perceptual hashes of an image file's bytes, without the exact hashes: for callers that
/// hash the bytes elsewhere (e.g. `crypto.subtle.digest` running meanwhile).
///
/// Unlike `hashBytes` it throws when the bytes do not decode: a `SchoonError` whose `kind` is
/// `'bad_input'`, `'limit'`, `'unsupported'` or (for invalid options) `'caller'`.
#[wasm_bindgen(js_name = hashImage, unchecked_return_type = "ImageHashes")]
pub fn hash_image(
    #[wasm_bindgen(param_description = "the file's bytes")] bytes: &[u8],
    #[wasm_bindgen(
        unchecked_optional_param_type = "HashOptions",
        param_description = "mode, dihedral and limits"
    )]
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let (options, dihedral) = parse_hash_options(&options).map_err(|e| js_error(&e))?;
    let image = schoon_core::hash_image(bytes, &options).map_err(|e| js_error(&e))?;
    let o = js_sys::Object::new();
    set_image_fields(&o, &image, dihedral);
    Ok(o.into())
}

/// MD5, SHA-1 and SHA-256 of the bytes, without decoding them.
#[wasm_bindgen(js_name = exactHashes, unchecked_return_type = "ExactHashes")]
pub fn exact_hashes(bytes: &[u8]) -> JsValue {
    exact_object(&ExactHashes::of(bytes)).into()
}

/// PDQ of pixels decoded by the platform (e.g. a canvas's `getImageData().data`, RGBA), with
/// the reference pipeline: the same pixels give the same bits as Meta's C++ PDQ.
///
/// `channels` is 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA); alpha is ignored.
/// Throws a `SchoonError` of kind `'caller'` when the buffer is not `width * height *
/// channels` bytes, or `'limit'` when its working memory would exceed the default limit.
#[wasm_bindgen(js_name = pdqFromPixels, unchecked_return_type = "PdqResult")]
pub fn pdq_from_pixels(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | Uint8ClampedArray")] pixels: &[u8],
    width: u32,
    height: u32,
    channels: u32,
) -> Result<JsValue, JsValue> {
    let limits = schoon_core::Limits::default();
    let out = pdq::hash_pixels(pixels, width as usize, height as usize, channels as usize, &limits)
        .map_err(|e| js_error(&e))?;
    Ok(pdq_object(&out).into())
}

/// PDQ of a `fullWidth x fullHeight` image known only by the luma means of its
/// `blockWidth x blockHeight` blocks (`plane`, row-major, `ceil(full / block)` per side), for
/// platforms that decode at reduced size (e.g. the Y plane of a JPEG decoded at 1/8 scale).
///
/// This is the core's fast path: the reference filter's exact weights per block. Luma is
/// `0.299 R + 0.587 G + 0.114 B` on a 0..255 scale (JPEG's Y is the same weighting).
#[wasm_bindgen(js_name = pdqFromBlockMeans, unchecked_return_type = "PdqResult")]
pub fn pdq_from_block_means(
    #[wasm_bindgen(unchecked_param_type = "Float32Array")] plane: &[f32],
    #[wasm_bindgen(js_name = blockWidth)] block_width: u32,
    #[wasm_bindgen(js_name = blockHeight)] block_height: u32,
    #[wasm_bindgen(js_name = fullWidth)] full_width: u32,
    #[wasm_bindgen(js_name = fullHeight)] full_height: u32,
) -> Result<JsValue, JsValue> {
    let out = block_means_pdq(plane, [block_width, block_height, full_width, full_height])?;
    Ok(pdq_object(&out).into())
}

/// The version of schoon this module was built from.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The image format the first bytes announce (`'jpeg'`, `'png'`, `'webp'`, `'gif'`, `'bmp'`,
/// or a format schoon leaves to the platform such as `'avif'`), from the core's one signature
/// table; `undefined` for bytes that are no known image.
#[wasm_bindgen(js_name = sniffFormat)]
pub fn sniff_format(bytes: &[u8]) -> Option<String> {
    decode::format_name(bytes).map(str::to_owned)
}

/// The image formats this build decodes (`hashBytes` refuses the others with `errorKind`
/// `'unsupported'`; large JPEGs hash in fast mode even without the JPEG decoder).
#[wasm_bindgen(unchecked_return_type = "ImageFormat[]")]
pub fn formats() -> Vec<String> {
    [Format::Jpeg, Format::Png, Format::Webp, Format::Gif, Format::Bmp]
        .into_iter()
        .filter(|&f| decode::is_compiled(f))
        .map(|f| f.name().to_owned())
        .collect()
}
