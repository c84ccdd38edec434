//! The wire format every adapter speaks: the hashes a client sends for a confirmation (the
//! worker's `/v1/confirm` body and each `/v1/check` line, the JavaScript `Index.lookup`
//! query), checked once here, and a match as JSON, built once here.
//!
//! ```
//! use schoon_core::wire::{HashesIn, MAX_WINDOWS};
//!
//! let pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
//! let hashes = HashesIn { pdq: Some(pdq.into()), quality: Some(80), ..HashesIn::default() };
//! let query = hashes.query()?;
//! assert_eq!(query.pdq.map(|p| p.variants.len()), Some(1));
//!
//! let too_many = HashesIn { windows: Some(vec![pdq.into(); MAX_WINDOWS + 1]), ..HashesIn::default() };
//! assert_eq!(
//!     too_many.window_hashes().unwrap_err().to_string(),
//!     "windows has 129 hashes, at most 128 are accepted"
//! );
//! # Ok::<(), schoon_core::Error>(())
//! ```
//!
//! Names on the wire are `snake_case` (`pdq_dihedral`, `receipt_id`); the JavaScript bindings
//! also accept the camelCase spelling of a field and then hand the same values to this module.
//! Every refusal is an [`Error::Caller`] whose message names the field and the bad value; the
//! worker answers it with 422, the bindings throw it.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::regions::{MIN_QUALITY, Scheme};
use crate::set::{HashKind, Match, PdqQuery, Query, VARIANT_NAMES};
use crate::{ExactHashes, ImageHashes, Md5, Pdq, PdqHash, Report, Sha1, Sha256};

/// The most window hashes one confirmation may carry (an upload has 108 windows; 128 hex
/// hashes fit the worker's default 16 KiB body limit).
pub const MAX_WINDOWS: usize = 128;

/// Longest object id (`id`) a check may carry, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// The hashes of one confirmation, as text, before checking: any subset of what
/// `schoon hash --dihedral` prints, the region windows a filter flagged, and optionally what
/// the hashes are of (`id`, `url`; the worker checks `url` against its own rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashesIn {
    /// MD5 of the file, hex.
    #[serde(default)]
    pub md5: Option<String>,
    /// SHA-1 of the file, hex.
    #[serde(default)]
    pub sha1: Option<String>,
    /// SHA-256 of the file, hex.
    #[serde(default)]
    pub sha256: Option<String>,
    /// PDQ hash, 64 hex digits.
    #[serde(default)]
    pub pdq: Option<String>,
    /// PDQ quality, 0 to 100.
    #[serde(default)]
    pub quality: Option<u8>,
    /// The 8 dihedral PDQ hashes, in the order of [`VARIANT_NAMES`].
    #[serde(default)]
    pub pdq_dihedral: Option<Vec<String>>,
    /// PDQ hashes of the upload's query windows that the client's filter flagged against
    /// region hashes ([`crate::regions`]), at most [`MAX_WINDOWS`]; looked up in the index's
    /// region hashes when plain PDQ finds nothing.
    #[serde(default)]
    pub windows: Option<Vec<String>>,
    /// The caller's own id of the object, 1 to [`MAX_ID_BYTES`] bytes.
    #[serde(default)]
    pub id: Option<String>,
    /// Where the object is served.
    #[serde(default)]
    pub url: Option<String>,
}

fn field<T: std::str::FromStr<Err = Error>>(
    name: &str,
    value: Option<&str>,
) -> Result<Option<T>, Error> {
    value.map(|v| v.parse().map_err(|e| Error::caller(format!("{name}: {e}")))).transpose()
}

impl HashesIn {
    /// The checked query: hex of the right length, `quality` at most 100 and only with a PDQ
    /// hash, exactly 8 dihedral hashes whose first equals `pdq`, and at least one hash (or
    /// window) given.
    pub fn query(&self) -> Result<Query, Error> {
        let md5: Option<Md5> = field("md5", self.md5.as_deref())?;
        let sha1: Option<Sha1> = field("sha1", self.sha1.as_deref())?;
        let sha256: Option<Sha256> = field("sha256", self.sha256.as_deref())?;
        let pdq: Option<PdqHash> = field("pdq", self.pdq.as_deref())?;
        if let Some(q) = self.quality
            && q > 100
        {
            return Err(Error::caller(format!("quality {q} is not between 0 and 100")));
        }
        let variants = match &self.pdq_dihedral {
            Some(list) => {
                if list.len() != VARIANT_NAMES.len() {
                    return Err(Error::caller(format!(
                        "pdq_dihedral has {} hashes, expected 8 ({})",
                        list.len(),
                        VARIANT_NAMES.join(", ")
                    )));
                }
                let hashes = list
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        field::<PdqHash>(&format!("pdq_dihedral[{i}]"), Some(h))
                            .map(Option::unwrap_or_default)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if let (Some(p), Some(first)) = (pdq, hashes.first())
                    && p != *first
                {
                    return Err(Error::caller(
                        "pdq differs from pdq_dihedral[0] (the original orientation)",
                    ));
                }
                Some(hashes)
            }
            None => pdq.map(|p| vec![p]),
        };
        if self.quality.is_some() && variants.is_none() {
            return Err(Error::caller("quality given without pdq"));
        }
        let query = Query {
            md5,
            sha1,
            sha256,
            pdq: variants.map(|v| PdqQuery {
                variants: v,
                quality: self.quality,
                coefficients: None,
            }),
        };
        if query == Query::default() && self.windows.as_ref().is_none_or(Vec::is_empty) {
            return Err(Error::caller(
                "no hash given: send any of md5, sha1, sha256, pdq, pdq_dihedral, windows",
            ));
        }
        Ok(query)
    }

    /// The window hashes, parsed and bounded by [`MAX_WINDOWS`].
    pub fn window_hashes(&self) -> Result<Vec<PdqHash>, Error> {
        let Some(list) = &self.windows else { return Ok(Vec::new()) };
        if list.len() > MAX_WINDOWS {
            return Err(Error::caller(format!(
                "windows has {} hashes, at most {MAX_WINDOWS} are accepted",
                list.len()
            )));
        }
        list.iter()
            .enumerate()
            .map(|(i, h)| {
                field::<PdqHash>(&format!("windows[{i}]"), Some(h)).map(Option::unwrap_or_default)
            })
            .collect()
    }
}

/// Checks an object id: 1 to [`MAX_ID_BYTES`] bytes. `field` names where it came from.
pub fn check_id(field: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::caller(format!("{field} is empty (1 to {MAX_ID_BYTES} bytes)")));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::caller(format!(
            "{field} has {} bytes, at most {MAX_ID_BYTES} are accepted",
            id.len()
        )));
    }
    Ok(())
}

/// The checked value of a kind in a query, hex (what a receipt records).
pub fn checked_value(query: &Query, kind: HashKind) -> Option<String> {
    match kind {
        HashKind::Md5 => query.md5.map(|d| d.to_hex()),
        HashKind::Sha1 => query.sha1.map(|d| d.to_hex()),
        HashKind::Sha256 => query.sha256.map(|d| d.to_hex()),
        HashKind::Pdq => query.pdq.as_ref().and_then(|p| p.variants.first()).map(PdqHash::to_hex),
    }
}

/// Whether a match's listed value goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedValue {
    /// Shown: the caller holds the index itself (the CLI).
    Shown,
    /// Kept private to the index (the worker's answers).
    Hidden,
}

/// The value of one field of a report or match. Each adapter converts it: to JSON (the CLI, the
/// worker, with [`fields_json`]) or to a JavaScript value under [`js_name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A string (hex hashes, names, messages).
    Text(String),
    /// An unsigned integer.
    Number(u64),
    /// A list of strings (the dihedral hashes, window hashes).
    Texts(Vec<String>),
}

/// One field: its wire name (`snake_case`) and value.
pub type Field = (&'static str, FieldValue);

fn text(name: &'static str, value: impl Into<String>) -> Field {
    (name, FieldValue::Text(value.into()))
}

fn number(name: &'static str, value: impl Into<u64>) -> Field {
    (name, FieldValue::Number(value.into()))
}

/// A file's exact hashes: `bytes`, `md5`, `sha1`, `sha256`.
pub fn exact_fields(e: &ExactHashes) -> Vec<Field> {
    vec![
        number("bytes", e.bytes),
        text("md5", e.md5.to_hex()),
        text("sha1", e.sha1.to_hex()),
        text("sha256", e.sha256.to_hex()),
    ]
}

/// A PDQ result: `pdq`, `quality` and, when asked, `pdq_dihedral`.
pub fn pdq_fields(p: &Pdq, dihedral: bool) -> Vec<Field> {
    let mut out = vec![text("pdq", p.hash.to_hex()), number("quality", p.quality)];
    if dihedral {
        let all = p.dihedral.iter().map(PdqHash::to_hex).collect();
        out.push(("pdq_dihedral", FieldValue::Texts(all)));
    }
    out
}

/// A decoded image: `format`, `width`, `height`, the [`pdq_fields`] (with `pdq_dihedral` when
/// `dihedral`) and the secondary hashes under their names (`phash`, ...; when computed). A
/// caller that reports region windows adds [`windows_field`] after them (a separate function,
/// so modules that never report windows do not link the region code).
pub fn image_fields(img: &ImageHashes, dihedral: bool) -> Vec<Field> {
    let mut out = vec![
        text("format", img.info.format.name()),
        number("width", img.info.width),
        number("height", img.info.height),
    ];
    out.extend(pdq_fields(&img.pdq, dihedral));
    for (algo, bytes) in &img.extra {
        out.push(text(algo.name(), crate::hex::encode(bytes)));
    }
    out
}

/// `windows`: the hashes of the image's region query windows ([`window_hashes`]).
pub fn windows_field(img: &ImageHashes) -> Field {
    ("windows", FieldValue::Texts(window_hashes(img)))
}

/// A file that did not hash: `error` (the message) and, when the core said why, `error_kind`
/// (`bad_input`, `limit`, `unsupported`, `caller`).
pub fn error_fields(message: String, kind: Option<ErrorKind>) -> Vec<Field> {
    let mut out = vec![text("error", message)];
    if let Some(kind) = kind {
        out.push(text("error_kind", kind.as_str()));
    }
    out
}

/// The hash report of one file, as `schoon hash` prints it (after its `path`) and
/// `hashBytes` returns it: [`exact_fields`], then [`image_fields`] or [`error_fields`].
pub fn report_fields(report: &Report, dihedral: bool) -> Vec<Field> {
    let mut out = exact_fields(&report.exact);
    out.extend(match &report.image {
        Ok(img) => image_fields(img, dihedral),
        Err(e) => error_fields(e.to_string(), Some(e.kind())),
    });
    out
}

/// The hashes of an image's region query windows of quality [`MIN_QUALITY`] or more, hex
/// (empty unless it was hashed with `HashOptions::regions`, which keeps the plane).
pub fn window_hashes(img: &ImageHashes) -> Vec<String> {
    let windows = img.plane.as_ref().map(|p| Scheme::standard().query_variants(p));
    windows
        .unwrap_or_default()
        .iter()
        .filter(|(_, p)| p.quality >= MIN_QUALITY)
        .map(|(_, p)| p.hash.to_hex())
        .collect()
}

/// A match: `list`, `category`, `kind`, `distance`, then `value` (when
/// [`ListedValue::Shown`]), `variant` and `region` when known.
pub fn match_fields(m: &Match, value: ListedValue) -> Vec<Field> {
    let mut out = vec![
        text("list", m.list.as_str()),
        text("category", m.category.as_str()),
        text("kind", m.kind.name()),
        number("distance", m.distance),
    ];
    if value == ListedValue::Shown {
        out.push(text("value", m.value.as_str()));
    }
    if let Some(variant) = m.variant {
        out.push(text("variant", variant));
    }
    if let Some(region) = &m.region {
        out.push(text("region", region.as_str()));
    }
    out
}

/// Fields as a JSON object, in order.
pub fn fields_json(fields: Vec<Field>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                FieldValue::Text(s) => Value::String(s),
                FieldValue::Number(n) => Value::from(n),
                FieldValue::Texts(v) => Value::from(v),
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// The JavaScript spelling of a wire name: camelCase (`pdq_dihedral` is `pdqDihedral`,
/// `error_kind` is `errorKind`). Wire names are ASCII, so no Unicode case tables are linked.
///
/// ```
/// assert_eq!(schoon_core::wire::js_name("pdq_dihedral"), "pdqDihedral");
/// assert_eq!(schoon_core::wire::js_name("sha256"), "sha256");
/// ```
pub fn js_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A match as JSON ([`match_fields`]), with `receipt_id` when given.
pub fn match_json(m: &Match, value: ListedValue, receipt_id: Option<&str>) -> Value {
    let mut o = fields_json(match_fields(m, value));
    if let Some(id) = receipt_id {
        o.insert("receipt_id".into(), Value::from(id));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    fn parse(body: &str) -> Result<Query, String> {
        serde_json::from_str::<HashesIn>(body)
            .map_err(|e| e.to_string())
            .and_then(|h| h.query().map_err(|e| e.to_string()))
    }

    #[test]
    fn subsets_parse() {
        let q = parse(
            r#"{"sha256":"00000000000000000000000000000000000000000000000000000000000000AA"}"#,
        )
        .unwrap();
        assert!(q.sha256.is_some() && q.md5.is_none() && q.pdq.is_none());
        let q = parse(&format!(r#"{{"pdq":"{PDQ}","quality":80}}"#)).unwrap();
        assert_eq!(q.pdq.as_ref().map(|p| (p.variants.len(), p.quality)), Some((1, Some(80))));
        let eight = vec![format!("\"{PDQ}\""); 8].join(",");
        let q = parse(&format!(r#"{{"pdq":"{PDQ}","pdq_dihedral":[{eight}]}}"#)).unwrap();
        assert_eq!(q.pdq.map(|p| p.variants.len()), Some(8));
        // Windows alone are a query; they are parsed apart from the hashes.
        let h = HashesIn { windows: Some(vec![PDQ.into(); 2]), ..HashesIn::default() };
        assert_eq!(h.query().unwrap(), Query::default());
        assert_eq!(h.window_hashes().unwrap().len(), 2);
    }

    #[test]
    fn refusals_name_the_field_and_value() {
        let err = |body: &str| parse(body).unwrap_err();
        assert_eq!(
            err("{}"),
            "no hash given: send any of md5, sha1, sha256, pdq, pdq_dihedral, windows"
        );
        assert!(err(r#"{"sha265":"00"}"#).contains("unknown field `sha265`"));
        assert!(err(r#"{"md5":"xyz"}"#).starts_with("md5: invalid md5 hash 'xyz'"));
        assert!(err(&format!(r#"{{"pdq":"{PDQ}","quality":101}}"#)).contains("quality 101"));
        assert!(err(r#"{"quality":50}"#).contains("quality given without pdq"));
        assert!(err(&format!(r#"{{"pdq_dihedral":["{PDQ}"]}}"#)).contains("has 1 hashes"));
        let eight = vec![format!("\"{PDQ}\""); 8].join(",");
        let other = PDQ.replace('f', "0");
        assert!(
            err(&format!(r#"{{"pdq":"{other}","pdq_dihedral":[{eight}]}}"#)).contains("differs")
        );
        let bad = HashesIn { windows: Some(vec![PDQ.into(), "zz".into()]), ..HashesIn::default() };
        assert!(bad.window_hashes().unwrap_err().to_string().starts_with("windows[1]: "));
        let many =
            HashesIn { windows: Some(vec![PDQ.into(); MAX_WINDOWS + 1]), ..HashesIn::default() };
        assert_eq!(many.window_hashes().unwrap_err().kind(), crate::ErrorKind::Caller);
        assert_eq!(check_id("id", "").unwrap_err().to_string(), "id is empty (1 to 512 bytes)");
        assert_eq!(
            check_id("id", &"x".repeat(513)).unwrap_err().to_string(),
            "id has 513 bytes, at most 512 are accepted"
        );
    }

    #[test]
    fn matches_hide_listed_values_when_asked() {
        let m = Match {
            list: "l".into(),
            category: "c".into(),
            kind: HashKind::Pdq,
            distance: 3,
            value: PDQ.into(),
            variant: Some("rot90"),
            region: Some("centre".into()),
        };
        let shown = match_json(&m, ListedValue::Shown, None);
        let expected = format!(
            r#"{{"list":"l","category":"c","kind":"pdq","distance":3,"value":"{PDQ}","variant":"rot90","region":"centre"}}"#
        );
        assert_eq!(shown, serde_json::from_str::<Value>(&expected).unwrap());
        let hidden = match_json(&m, ListedValue::Hidden, Some("ab"));
        assert_eq!(hidden.get("value"), None);
        assert_eq!(hidden.get("receipt_id"), Some(&Value::from("ab")));
        let js: Vec<String> =
            match_fields(&m, ListedValue::Hidden).iter().map(|(n, _)| js_name(n)).collect();
        assert_eq!(js, ["list", "category", "kind", "distance", "variant", "region"]);
    }

    #[cfg(feature = "png")]
    #[test]
    fn reports_have_one_shape() {
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let options = crate::HashOptions { regions: true, ..Default::default() };
        let report = crate::hash_bytes(&png, &options);
        let mut all = report_fields(&report, true);
        all.extend(report.image.as_ref().map(windows_field));
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "bytes",
                "md5",
                "sha1",
                "sha256",
                "format",
                "width",
                "height",
                "pdq",
                "quality",
                "pdq_dihedral",
                "windows"
            ]
        );
        let json = fields_json(report_fields(&report, false));
        assert_eq!(json.get("format"), Some(&Value::from("png")));
        assert_eq!(json.get("width"), Some(&Value::from(64)));
        assert_eq!(json.get("pdq_dihedral"), None);

        let broken = crate::hash_bytes(&png[..40], &options);
        let json = fields_json(report_fields(&broken, true));
        assert_eq!(json.get("bytes"), Some(&Value::from(40)));
        assert_eq!(json.get("error_kind"), Some(&Value::from("bad_input")));
        assert!(json.get("error").is_some_and(Value::is_string));
        assert_eq!(json.get("pdq"), None);
        assert_eq!(js_name("error_kind"), "errorKind");
    }
}
