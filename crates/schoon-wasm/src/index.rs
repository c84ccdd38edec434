//! The private `Index` for JavaScript (the Node build's `index` feature): a server confirming
//! filter candidates looks them up here, with the queries and answers of the Worker's
//! `/v1/confirm` (see `schoon_core::wire`).

use js_sys::{Array, Object};
use schoon_core::set::{Index, MatchOptions, Verdict};
use schoon_core::wire::{self, ListedValue};
use wasm_bindgen::prelude::*;

use crate::convert::{caller, entries, integer, js_error, set, set_fields, string_of};
use crate::set::{hashes_in, lists_array, parse_trust, signature_name};

/// What `Index.lookup` reads: every hash of a confirmation (not its `id` or `url`).
const LOOKUP_FIELDS: [&str; 7] =
    ["md5", "sha1", "sha256", "pdq", "quality", "pdq_dihedral", "windows"];

#[wasm_bindgen(typescript_custom_section)]
const TS_INDEX_TYPES: &'static str = r#"
/** A lookup in an index: any subset of a file's hashes, hex. The `/v1/confirm` body can be
 * passed as is (`pdq_dihedral` is accepted for `pdqDihedral`). */
export interface LookupQuery extends ExactQuery {
  /** Region window hashes a filter flagged (`checkImage().windows`), at most 128. */
  windows?: string[];
  pdq?: string;
  quality?: number;
  pdqDihedral?: string[];
  pdq_dihedral?: string[];
}

/** Matching parameters (ThreatExchange's defaults). */
export interface LookupOptions {
  /** Largest PDQ Hamming distance that counts as a match. Default 31. */
  threshold?: number;
  /** Smallest query quality for PDQ matching. Default 50. */
  minQuality?: number;
}

/** One list entry a query matched (never the listed value itself). */
export interface IndexMatch {
  list: string;
  category: string;
  kind: HashKind;
  /** Hamming distance for PDQ, 0 for exact hashes. */
  distance: number;
  /** For PDQ: the dihedral variant of the query that matched. */
  variant?: string;
  /** For a region match: the listed region that matched (`'centre 80%x80%'`, ...). */
  region?: string;
}

/** The authoritative answer, in the shape of the Worker's `/v1/confirm`. */
export interface LookupResult {
  verdict: 'match' | 'clean';
  matches: IndexMatch[];
}

/** Options of `new Index()`. */
export interface IndexOptions extends TrustOptions {
  /** Multi-index tables for PDQ: `'auto'` (default: from 1000 PDQ entries), `'on'`, `'off'`. */
  multiIndex?: 'auto' | 'on' | 'off';
}
"#;

/// A verified index: the private, authoritative form of a set (for a server that confirms
/// filter candidates, e.g. a Node backend's `/v1/confirm`).
///
/// ```js
/// const index = new Index(readFileSync('lists.index'), { publicKey });
/// index.lookup(await request.json()); // { verdict: 'match' | 'clean', matches }
/// ```
#[wasm_bindgen(js_name = Index)]
pub struct JsIndex(Index);

#[wasm_bindgen(js_class = Index)]
impl JsIndex {
    /// Verifies and loads an index (see `new Filter()` for the errors).
    #[wasm_bindgen(constructor)]
    pub fn new(
        bytes: Vec<u8>,
        #[wasm_bindgen(unchecked_param_type = "IndexOptions")] options: JsValue,
    ) -> Result<JsIndex, JsValue> {
        let mut multi = None;
        let trust = parse_trust(&options, |name, v| {
            if name != "multiIndex" {
                return Ok(false);
            }
            multi = match string_of(name, v)?.as_str() {
                "auto" => None,
                "on" => Some(true),
                "off" => Some(false),
                other => {
                    return Err(caller(format!(
                        "option multiIndex must be 'auto', 'on' or 'off', got '{other}'"
                    )));
                }
            };
            Ok(true)
        })
        .map_err(|e| js_error(&e))?;
        let mut index = match multi {
            Some(false) => Index::from_bytes_linear(bytes, &trust),
            _ => Index::from_bytes(bytes, &trust),
        }
        .map_err(|e| js_error(&e))?;
        if multi == Some(true) && !index.uses_mih() {
            index.set_multi_index(true);
        }
        Ok(JsIndex(index))
    }

    /// The set version.
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.0.header().set_version as f64
    }

    /// Creation time, unix seconds.
    #[wasm_bindgen(getter)]
    pub fn created(&self) -> f64 {
        self.0.header().created as f64
    }

    /// How the signature was checked.
    #[wasm_bindgen(getter, unchecked_return_type = "SignatureStatus")]
    pub fn signature(&self) -> String {
        signature_name(self.0.header().signature).to_owned()
    }

    /// The lists and their entry counts.
    #[wasm_bindgen(getter, unchecked_return_type = "ListInfo[]")]
    pub fn lists(&self) -> JsValue {
        lists_array(self.0.lists()).into()
    }

    /// Every match of a query, best first: exact hashes by equality, PDQ by Hamming
    /// distance over the query's dihedral variants (only for quality ≥ `minQuality`).
    #[wasm_bindgen(unchecked_return_type = "LookupResult")]
    pub fn lookup(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LookupQuery")] query: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "LookupOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let hashes = hashes_in(&query, &LOOKUP_FIELDS).map_err(|e| js_error(&e))?;
        let q = hashes.query().map_err(|e| js_error(&e))?;
        let windows = hashes.window_hashes().map_err(|e| js_error(&e))?;
        let mut opts = MatchOptions::default();
        for (name, v) in entries(&options, "options").map_err(|e| js_error(&e))? {
            match name.as_str() {
                "threshold" => {
                    opts.threshold = integer(&name, &v, 256).map_err(|e| js_error(&e))? as u32
                }
                "minQuality" => {
                    opts.min_quality = integer(&name, &v, 100).map_err(|e| js_error(&e))? as u8
                }
                _ => return Err(js_error(&caller(format!("unknown option '{name}'")))),
            }
        }
        // As the Worker's `/v1/confirm`: windows only after a whole-image PDQ miss.
        let matches = self.0.lookup_with_windows(&q, &windows, &opts);
        let o = Object::new();
        set(&o, "verdict", Verdict::of_matches(&matches).name());
        let list: Array = matches
            .iter()
            .map(|m| {
                let x = Object::new();
                set_fields(&x, wire::match_fields(m, ListedValue::Hidden));
                JsValue::from(x)
            })
            .collect();
        set(&o, "matches", list);
        Ok(o.into())
    }
}
