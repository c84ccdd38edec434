//! The known-hash sets for JavaScript: the public `Filter` (browsers, workers, Node); the
//! private `Index` is in `index` (the Node build). Queries given as hex are read into
//! `schoon_core::wire::HashesIn` and checked there, as the Worker checks its requests.
//!
//! Glue only: arguments become the core's [`Trust`], [`Query`] and options, results become
//! plain objects, errors become `SchoonError`s (see `convert`). Verification, matching and
//! multi-probing are the core's.

use js_sys::{Array, Object};
use schoon_core::pdq;
use schoon_core::regions::LumaPlane;
use schoon_core::set::{
    Filter, FilterHits, HashKind, ListMeta, MatchOptions, Query, SignatureStatus, Trust,
    VARIANT_NAMES,
};
use schoon_core::wire::{HashesIn, MAX_WINDOWS};
use wasm_bindgen::prelude::*;

use crate::convert::{
    block_means_pdq, bool_of, caller, entries, integer, js_error, parse_hash_options, pdq_object,
    set, set_image_fields, string_of,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_SET_TYPES: &'static str = r#"
/** The hash kinds a set holds. */
export type HashKind = 'md5' | 'sha1' | 'sha256' | 'pdq';

/** How a set's signature was checked. */
export type SignatureStatus = 'verified' | 'unsigned' | 'not_checked';

/** Whose signature a set must carry. */
export interface TrustOptions {
  /**
   * The pinned Ed25519 public key of the list owner: 64 hex digits, or the text of a `.pub`
   * file from `schoon keygen` (comment lines allowed). Required unless `allowUnsigned`.
   */
  publicKey?: string;
  /**
   * Accept unsigned sets (and signed ones without checking the signer when no key is given).
   * For tests and local experiments only. Default `false`.
   */
  allowUnsigned?: boolean;
}

/** Options of `new Filter()`. */
export interface FilterOptions extends TrustOptions {
  /** The set version already held: refuse this filter unless it is newer (a replay of an
   * older, validly signed filter). */
  newerThan?: number;
}

/** One list of a set, with its entry counts per hash kind. */
export interface ListInfo {
  name: string;
  category: string;
  source: string;
  md5: number;
  sha1: number;
  sha256: number;
  pdq: number;
}

/** The exact hashes of a file, hex (any subset). */
export interface ExactQuery {
  md5?: string;
  sha1?: string;
  sha256?: string;
}

/** A PDQ hash known only as hex (no DCT coefficients: no multi-probing). */
export interface PdqQuery {
  pdq: string;
  quality?: number;
  /** The 8 dihedral hashes; `pdqDihedral[0]` must equal `pdq`. */
  pdqDihedral?: string[];
}

/** What a filter says: a candidate is not a match, it must be confirmed by an index. A miss
 * is final (filters have no false negatives). */
export interface FilterCheck {
  candidate: boolean;
  /** The kinds that hit. */
  kinds: HashKind[];
  /** Filter lookups made. */
  probes: number;
  /**
   * `checkExact` only: the kind of the first given exact hash that is on the set's allow-list
   * of known innocent images (then `candidate` is false, and the file is clean whatever its
   * PDQ hits: the index gives an allow-listed file no matches of any kind).
   */
  allowed?: HashKind;
}

/** What `checkImage` and `checkPixels` add: the region windows that hit. */
export interface RegionCheck {
  /**
   * PDQ hashes of the image's region windows that hit the filter's region hashes (then
   * `kinds` holds `'pdq'`): send them as `windows` with the confirmation. Empty when the
   * whole-image PDQ hit, the filter holds no region hashes or `regions: false` was given.
   */
  windows: string[];
}

/** `filter.checkImage()`: the image's PDQ (with dihedral variants) and the filter's answer. */
export interface ImageCheck extends FilterCheck, RegionCheck {
  format: ImageFormat;
  width: number;
  height: number;
  pdq: string;
  quality: number;
  pdqDihedral: string[];
}

/** `filter.checkPixels()` / `filter.checkBlockMeans()`. */
export interface PdqCheck extends FilterCheck, PdqResult, RegionCheck {}
"#;

/// Reads `{ publicKey?, allowUnsigned? }` plus any extra keys `extra` accepts.
pub(crate) fn parse_trust(
    value: &JsValue,
    mut extra: impl FnMut(&str, &JsValue) -> Result<bool, schoon_core::Error>,
) -> Result<Trust, schoon_core::Error> {
    let mut trust = Trust::default();
    for (name, v) in entries(value, "options")? {
        match name.as_str() {
            "publicKey" => {
                trust.public_key = Some(schoon_core::PublicKey::from_text(&string_of(&name, &v)?)?)
            }
            "allowUnsigned" => trust.allow_unsigned = bool_of(&name, &v)?,
            _ => {
                if !extra(&name, &v)? {
                    return Err(caller(format!("unknown option '{name}'")));
                }
            }
        }
    }
    if trust.public_key.is_none() && !trust.allow_unsigned {
        return Err(caller(
            "no publicKey given: pin the list owner's public key (or allowUnsigned for tests)"
                .to_owned(),
        ));
    }
    Ok(trust)
}

pub(crate) fn signature_name(s: SignatureStatus) -> &'static str {
    match s {
        SignatureStatus::Verified => "verified",
        SignatureStatus::NotChecked => "not_checked",
        SignatureStatus::Unsigned => "unsigned",
    }
}

pub(crate) fn lists_array(lists: &[ListMeta]) -> Array {
    lists
        .iter()
        .map(|l| {
            let o = Object::new();
            set(&o, "name", l.info.name.as_str());
            set(&o, "category", l.info.category.as_str());
            set(&o, "source", l.info.source.as_str());
            set(&o, "md5", l.md5 as f64);
            set(&o, "sha1", l.sha1 as f64);
            set(&o, "sha256", l.sha256 as f64);
            set(&o, "pdq", l.pdq as f64);
            JsValue::from(o)
        })
        .collect()
}

fn kinds_array(kinds: &[HashKind]) -> Array {
    kinds.iter().map(|k| JsValue::from_str(k.name())).collect()
}

fn set_hits(o: &Object, hits: &FilterHits) {
    set(o, "candidate", hits.is_candidate());
    set(o, "kinds", kinds_array(&hits.kinds));
    set(o, "probes", hits.probes);
}

/// Reads a query object into the wire form ([`HashesIn`]), so that the bindings check hashes
/// exactly as the Worker does: only the fields in `accept` (wire names; `pdqDihedral` is read as
/// `pdq_dihedral`), anything else is refused. Arrays are bounded before they are copied.
pub(crate) fn hashes_in(value: &JsValue, accept: &[&str]) -> Result<HashesIn, schoon_core::Error> {
    let mut h = HashesIn::default();
    for (name, v) in entries(value, "query")? {
        let field = if name == "pdqDihedral" { "pdq_dihedral" } else { name.as_str() };
        if !accept.contains(&field) {
            return Err(caller(format!("unknown query field '{name}'")));
        }
        match field {
            "md5" => h.md5 = Some(string_of(&name, &v)?),
            "sha1" => h.sha1 = Some(string_of(&name, &v)?),
            "sha256" => h.sha256 = Some(string_of(&name, &v)?),
            "pdq" => h.pdq = Some(string_of(&name, &v)?),
            "quality" => h.quality = Some(integer(&name, &v, 100)? as u8),
            "pdq_dihedral" => h.pdq_dihedral = Some(strings(&name, &v, VARIANT_NAMES.len())?),
            "windows" => h.windows = Some(strings(&name, &v, MAX_WINDOWS)?),
            _ => return Err(caller(format!("unknown query field '{name}'"))),
        }
    }
    Ok(h)
}

/// An array of at most `max` strings.
fn strings(name: &str, v: &JsValue, max: usize) -> Result<Vec<String>, schoon_core::Error> {
    if !Array::is_array(v) {
        return Err(caller(format!("{name} must be an array of hex strings")));
    }
    let list = Array::from(v);
    let n = list.length() as usize;
    if n > max {
        return Err(caller(format!("{name} has {n} hashes, at most {max} are accepted")));
    }
    list.iter().enumerate().map(|(i, h)| string_of(&format!("{name}[{i}]"), &h)).collect()
}

/// A verified filter: the public, compact, signed form of a known-hash set.
///
/// ```js
/// const filter = new Filter(bytes, { publicKey: '6992b9aa…' }); // throws if not verified
/// filter.kinds;                      // ['md5', 'sha1', 'sha256', 'pdq']: what to compute
/// filter.checkExact({ sha256 });     // { candidate, kinds, probes }
/// filter.checkImage(imageBytes);     // PDQ (fast mode) + the PDQ prefilter's answer
/// ```
#[wasm_bindgen(js_name = Filter)]
pub struct JsFilter(Filter);

#[wasm_bindgen(js_class = Filter)]
impl JsFilter {
    /// Verifies and loads a filter: checksum, then the signature against `publicKey`, then
    /// (with `newerThan`) that its version is newer than the one held. Throws a `SchoonError`:
    /// kind `'bad_input'` with `code` `'set'` (malformed, tampered), `'signature'` (unsigned,
    /// invalid or another key's) or `'stale'` (not newer); kind `'caller'` for bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(param_description = "the filter file's bytes")] bytes: &[u8],
        #[wasm_bindgen(unchecked_param_type = "FilterOptions")] options: JsValue,
    ) -> Result<JsFilter, JsValue> {
        let mut newer_than = None;
        let trust = parse_trust(&options, |name, v| {
            if name != "newerThan" {
                return Ok(false);
            }
            newer_than = Some(integer(name, v, crate::convert::MAX_SAFE)?);
            Ok(true)
        })
        .map_err(|e| js_error(&e))?;
        let filter = Filter::from_bytes(bytes, &trust).map_err(|e| js_error(&e))?;
        if let Some(held) = newer_than {
            filter.ensure_newer_than(held).map_err(|e| js_error(&e))?;
        }
        Ok(JsFilter(filter))
    }

    /// The set version held (the base's, or the last applied delta's).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.0.version() as f64
    }

    /// Creation time of the version held, unix seconds.
    #[wasm_bindgen(getter)]
    pub fn created(&self) -> f64 {
        self.0.header().created as f64
    }

    /// How the signature was checked.
    #[wasm_bindgen(getter, unchecked_return_type = "SignatureStatus")]
    pub fn signature(&self) -> String {
        signature_name(self.0.header().signature).to_owned()
    }

    /// The signer's key id (hex), if signed.
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> Option<String> {
        self.0.header().key_id.clone()
    }

    /// The lists the filter was built from, with entry counts.
    #[wasm_bindgen(getter, unchecked_return_type = "ListInfo[]")]
    pub fn lists(&self) -> JsValue {
        lists_array(self.0.lists()).into()
    }

    /// The hash kinds the filter can flag (compute only these).
    #[wasm_bindgen(getter, unchecked_return_type = "HashKind[]")]
    pub fn kinds(&self) -> JsValue {
        kinds_array(&self.0.kinds()).into()
    }

    /// Throws a `SchoonError` (code `'stale'`) unless the version is newer than `held`.
    #[wasm_bindgen(js_name = ensureNewerThan)]
    pub fn ensure_newer_than(&self, held: f64) -> Result<(), JsValue> {
        let held = integer("held", &JsValue::from(held), crate::convert::MAX_SAFE)
            .map_err(|e| js_error(&e))?;
        self.0.ensure_newer_than(held).map_err(|e| js_error(&e))
    }

    /// Applies a verified delta made for exactly the version held; the filter then holds the
    /// delta's version. Throws (and changes nothing) otherwise.
    #[wasm_bindgen(js_name = applyDelta)]
    pub fn apply_delta(
        &mut self,
        bytes: &[u8],
        #[wasm_bindgen(unchecked_param_type = "TrustOptions")] options: JsValue,
    ) -> Result<(), JsValue> {
        let trust = parse_trust(&options, |_, _| Ok(false)).map_err(|e| js_error(&e))?;
        self.0.apply_delta(bytes, &trust).map_err(|e| js_error(&e))
    }

    /// Checks exact hashes (hex) computed elsewhere, e.g. with `crypto.subtle.digest`.
    #[wasm_bindgen(js_name = checkExact, unchecked_return_type = "FilterCheck")]
    pub fn check_exact(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ExactQuery")] hashes: JsValue,
    ) -> Result<JsValue, JsValue> {
        let hashes = hashes_in(&hashes, &["md5", "sha1", "sha256"]).map_err(|e| js_error(&e))?;
        let query = if hashes == HashesIn::default() {
            Query::default()
        } else {
            hashes.query().map_err(|e| js_error(&e))?
        };
        let o = self.hits(&query);
        if let Some(kind) = self.0.allowed_exact(&query) {
            set(&o, "allowed", kind.name());
        }
        Ok(o.into())
    }

    /// Checks a PDQ hash given as hex. Without the DCT coefficients the filter cannot
    /// multi-probe, so prefer `checkImage`, `checkPixels` or `checkBlockMeans`, which hash
    /// and check in one call.
    #[wasm_bindgen(js_name = checkPdq, unchecked_return_type = "FilterCheck")]
    pub fn check_pdq(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PdqQuery")] query: JsValue,
    ) -> Result<JsValue, JsValue> {
        let hashes =
            hashes_in(&query, &["pdq", "quality", "pdq_dihedral"]).map_err(|e| js_error(&e))?;
        if hashes == HashesIn::default() {
            return Err(js_error(&caller("no pdq given".to_owned())));
        }
        let pdq = hashes.query().map_err(|e| js_error(&e))?.pdq;
        Ok(self.hits(&Query { pdq, ..Default::default() }).into())
    }

    /// Hashes an image file's bytes with PDQ (fast mode unless `options.mode` says otherwise)
    /// and checks the hash, its 8 dihedral variants and their least reliable bits against
    /// the PDQ prefilter. Returns the hashes (for a confirmation request) with the answer.
    /// Throws a `SchoonError` when the bytes do not decode, like `hashImage`.
    #[wasm_bindgen(js_name = checkImage, unchecked_return_type = "ImageCheck")]
    pub fn check_image(
        &self,
        bytes: &[u8],
        #[wasm_bindgen(unchecked_optional_param_type = "HashOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let options = self.check_options(&options)?;
        let image = schoon_core::hash_image(bytes, &options).map_err(|e| js_error(&e))?;
        Ok(self.image_check(&image))
    }

    /// The first part of `checkImage` for a large JPEG whose decoding can be split in two
    /// (see `jpegTail`): decodes the first scan of `file` from the start to a little past
    /// byte `split`. Pass the result to `finishImage`. Where the split does not apply (small
    /// images, progressive or restart-coded JPEGs, other formats) nothing is decoded yet,
    /// `head.split` is false and `finishImage` does all the work. Throws a `SchoonError` of
    /// kind `'caller'` for invalid options.
    #[cfg(feature = "split")]
    #[wasm_bindgen(js_name = startImage)]
    pub fn start_image(
        &self,
        file: &FileBytes,
        split: u32,
        #[wasm_bindgen(unchecked_optional_param_type = "HashOptions")] options: JsValue,
    ) -> Result<ImageHead, JsValue> {
        let options = self.check_options(&options)?;
        let head = schoon_core::jpeg_head(&file.bytes, split as usize, &options);
        Ok(ImageHead { head, options })
    }

    /// Finishes `startImage` for the same `file`: joins its part with the `tail` that
    /// `jpegTail` decoded from the same split point (in another worker, meanwhile), and
    /// answers as `checkImage` answers for these bytes, bit for bit. Without a tail, or with
    /// one of other bytes, the rest is decoded here.
    #[cfg(feature = "split")]
    #[wasm_bindgen(js_name = finishImage, unchecked_return_type = "ImageCheck")]
    pub fn finish_image(
        &self,
        head: ImageHead,
        file: &FileBytes,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array")] tail: Option<Vec<u8>>,
    ) -> Result<JsValue, JsValue> {
        let ImageHead { head, options } = head;
        let bytes = &file.bytes;
        let image = match head {
            Some(head) => {
                let tail = tail.as_deref().and_then(schoon_core::JpegTail::from_bytes);
                schoon_core::hash_image_joined(bytes, &options, head, tail.as_ref())
            }
            None => schoon_core::hash_image(bytes, &options),
        }
        .map_err(|e| js_error(&e))?;
        Ok(self.image_check(&image))
    }

    /// `checkImage` for pixels the platform decoded (`channels` 1 to 4; a canvas or an
    /// `ImageDecoder` frame gives RGBA, 4), hashed as the core hashes a decoded image of that
    /// size (fast mode: block means). Throws a `SchoonError` of kind `'caller'` for a buffer
    /// of the wrong size.
    #[wasm_bindgen(js_name = checkPixels, unchecked_return_type = "PdqCheck")]
    pub fn check_pixels(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | Uint8ClampedArray")] pixels: &[u8],
        width: u32,
        height: u32,
        channels: u32,
        #[wasm_bindgen(unchecked_optional_param_type = "HashOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let options = self.check_options(&options)?;
        let (pdq, _) = schoon_core::pdq_of_pixels(
            pixels,
            width,
            height,
            channels as usize,
            options.mode,
            &options.limits,
        )
        .map_err(|e| js_error(&e))?;
        let plane = options
            .regions
            .then(|| LumaPlane::from_pixels(pixels, channels as usize, width, height));
        Ok(self.pdq_check(&pdq, plane.as_ref()).into())
    }

    /// `checkImage` for a plane of block means (see `pdqFromBlockMeans`), whole image only
    /// (no region windows).
    #[wasm_bindgen(js_name = checkBlockMeans, unchecked_return_type = "PdqCheck")]
    pub fn check_block_means(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array")] plane: &[f32],
        #[wasm_bindgen(js_name = blockWidth)] block_width: u32,
        #[wasm_bindgen(js_name = blockHeight)] block_height: u32,
        #[wasm_bindgen(js_name = fullWidth)] full_width: u32,
        #[wasm_bindgen(js_name = fullHeight)] full_height: u32,
    ) -> Result<JsValue, JsValue> {
        let pdq = block_means_pdq(plane, [block_width, block_height, full_width, full_height])?;
        Ok(self.pdq_check(&pdq, None).into())
    }
}

impl JsFilter {
    fn hits(&self, query: &Query) -> Object {
        let o = Object::new();
        set_hits(&o, &self.0.check(query, &Default::default()));
        o
    }

    /// Hash options for `checkImage` / `checkPixels`: `regions` is on unless `false` is given,
    /// and only when the filter holds region hashes.
    fn check_options(&self, value: &JsValue) -> Result<schoon_core::HashOptions, JsValue> {
        let (mut options, _) = parse_hash_options(value).map_err(|e| js_error(&e))?;
        let given =
            value.is_object() && js_sys::Reflect::has(value, &"regions".into()).unwrap_or(false);
        // Windows need region hashes to probe: without them the plane is not even made.
        options.regions = (options.regions || !given) && self.0.has_regions();
        Ok(options)
    }

    /// The whole-image check, then (after a PDQ miss, with a plane) the region windows.
    /// `checkImage`'s answer for a hashed image: the probe's answer with the image's hashes.
    fn image_check(&self, image: &schoon_core::ImageHashes) -> JsValue {
        let o = self.pdq_check(&image.pdq, image.plane.as_ref());
        set_image_fields(&o, image, true);
        o.into()
    }

    fn pdq_check(&self, pdq: &pdq::Pdq, plane: Option<&LumaPlane>) -> Object {
        let o = pdq_object(pdq);
        let (mut hits, flagged) = self.0.check_pdq(pdq, plane, &MatchOptions::default());
        // A window hit is a PDQ candidate (confirmed with the windows).
        if !flagged.is_empty() {
            hits.kinds.push(HashKind::Pdq);
        }
        let windows: Array = flagged.iter().map(|(_, p)| JsValue::from(p.hash.to_hex())).collect();
        set_hits(&o, &hits);
        set(&o, "windows", windows);
        o
    }
}

/// A file's bytes held in the module's memory, for `Filter.startImage` and
/// `Filter.finishImage`: once they are here, the caller's copy may go elsewhere (to the worker
/// that decodes the second part) without a copy.
#[cfg(feature = "split")]
#[wasm_bindgen]
pub struct FileBytes {
    bytes: Vec<u8>,
}

#[cfg(feature = "split")]
#[wasm_bindgen]
impl FileBytes {
    /// Copies `bytes` into the module's memory.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: Vec<u8>) -> FileBytes {
        FileBytes { bytes }
    }

    /// The number of bytes.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.bytes.len()
    }

    /// A copy of the bytes, as a `Uint8Array`.
    #[wasm_bindgen(js_name = toBytes, unchecked_return_type = "Uint8Array")]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// The first part of a split JPEG decode (`Filter.startImage`); pass it to
/// `Filter.finishImage`, which consumes it.
#[cfg(feature = "split")]
#[wasm_bindgen]
pub struct ImageHead {
    head: Option<schoon_core::JpegHead>,
    options: schoon_core::HashOptions,
}

#[cfg(feature = "split")]
#[wasm_bindgen]
impl ImageHead {
    /// Whether the file is decoded in two parts: a tail from `jpegTail` can supply the
    /// second. False where the split does not apply (`finishImage` then decodes it all).
    #[wasm_bindgen(getter)]
    pub fn split(&self) -> bool {
        self.head.is_some()
    }
}

/// The second part of a large JPEG's decoding, from about byte `split` to the end, for
/// `Filter.finishImage` in another worker: two cores hash one photo in about half the time.
/// Returns `undefined` where the split does not apply (where `Filter.startImage` gives a head
/// whose `split` is false). The bytes it returns are an opaque encoding of the part.
#[cfg(feature = "split")]
#[wasm_bindgen(js_name = jpegTail)]
pub fn jpeg_tail(
    bytes: &[u8],
    split: u32,
    #[wasm_bindgen(unchecked_optional_param_type = "HashOptions")] options: JsValue,
) -> Result<Option<Vec<u8>>, JsValue> {
    let (options, _) = parse_hash_options(&options).map_err(|e| js_error(&e))?;
    Ok(schoon_core::jpeg_tail(bytes, split as usize, &options).map(|t| t.to_bytes()))
}

/// MD5 of the bytes, hex (browsers' `crypto.subtle` has no MD5).
#[wasm_bindgen]
pub fn md5(bytes: &[u8]) -> String {
    schoon_core::md5(bytes).to_hex()
}

/// SHA-1 of the bytes, hex (where `crypto.subtle` is missing).
#[wasm_bindgen]
pub fn sha1(bytes: &[u8]) -> String {
    schoon_core::sha1(bytes).to_hex()
}

/// SHA-256 of the bytes, hex (where `crypto.subtle` is missing).
#[wasm_bindgen]
pub fn sha256(bytes: &[u8]) -> String {
    schoon_core::sha256(bytes).to_hex()
}
