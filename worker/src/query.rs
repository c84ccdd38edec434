//! The hashes a client sends to `/v1/confirm` (and each line of `/v1/check`), and the verdict
//! JSON every check answers with.

use schoon_core::set::{HashKind, Match, PdqQuery, Query, VARIANT_NAMES, Verdict};
use schoon_core::{Md5, PdqHash, Sha1, Sha256};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::subject::Subject;

/// Longest object id (`id`) a check may carry, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// The JSON body of `/v1/confirm`: any subset of the hashes `schoon hash --dihedral` prints,
/// and optionally what the hashes are of (`id`, `url`).
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
    /// The 8 dihedral PDQ hashes (original, rot90, rot180, rot270, flipx, flipy, flipplus1,
    /// flipminus1).
    #[serde(default)]
    pub pdq_dihedral: Option<Vec<String>>,
    /// PDQ hashes of the upload's query windows that the client's filter flagged against
    /// region hashes (`schoon_core::regions`), at most [`MAX_WINDOWS`]; looked up in the
    /// index's region hashes when plain PDQ finds nothing.
    #[serde(default)]
    pub windows: Option<Vec<String>>,
    /// The caller's own id of the object, 1 to [`MAX_ID_BYTES`] bytes; stored with the
    /// receipts as their subject.
    #[serde(default)]
    pub id: Option<String>,
    /// Where the object is served (a public `http`/`https` URL, see [`crate::url::public_url`]);
    /// stored with the receipts so a follow-up can fetch it again.
    #[serde(default)]
    pub url: Option<String>,
}

/// The most window hashes one confirmation may carry (an upload has 108 windows; 128 hex
/// hashes fit the default 16 KiB body limit).
pub const MAX_WINDOWS: usize = 128;

/// Parses a JSON body: syntax errors are 400, well-formed bodies with wrong fields 422.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Invalid(format!("invalid request: {e}")),
        _ => ApiError::BadRequest(format!("malformed JSON: {e}")),
    })
}

fn field<T: std::str::FromStr<Err = schoon_core::Error>>(
    name: &str,
    value: &Option<String>,
) -> Result<Option<T>, ApiError> {
    value
        .as_deref()
        .map(|v| v.parse().map_err(|e| ApiError::Invalid(format!("{name}: {e}"))))
        .transpose()
}

impl HashesIn {
    /// The core query.
    pub fn to_query(&self) -> Result<Query, ApiError> {
        let md5: Option<Md5> = field("md5", &self.md5)?;
        let sha1: Option<Sha1> = field("sha1", &self.sha1)?;
        let sha256: Option<Sha256> = field("sha256", &self.sha256)?;
        let pdq: Option<PdqHash> = field("pdq", &self.pdq)?;
        if let Some(q) = self.quality
            && q > 100
        {
            return Err(ApiError::Invalid(format!("quality {q} is not between 0 and 100")));
        }
        let variants = match &self.pdq_dihedral {
            Some(list) => {
                if list.len() != 8 {
                    return Err(ApiError::Invalid(format!(
                        "pdq_dihedral has {} hashes, expected 8 ({})",
                        list.len(),
                        VARIANT_NAMES.join(", ")
                    )));
                }
                let mut hashes = Vec::with_capacity(8);
                for (i, h) in list.iter().enumerate() {
                    let parsed: PdqHash = h
                        .parse()
                        .map_err(|e| ApiError::Invalid(format!("pdq_dihedral[{i}]: {e}")))?;
                    hashes.push(parsed);
                }
                if let (Some(p), Some(first)) = (pdq, hashes.first())
                    && p != *first
                {
                    return Err(ApiError::Invalid(
                        "pdq differs from pdq_dihedral[0] (the original orientation)".into(),
                    ));
                }
                Some(hashes)
            }
            None => pdq.map(|p| vec![p]),
        };
        if self.quality.is_some() && variants.is_none() {
            return Err(ApiError::Invalid("quality given without pdq".into()));
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
            return Err(ApiError::Invalid(
                "no hash given: send any of md5, sha1, sha256, pdq, pdq_dihedral, windows".into(),
            ));
        }
        Ok(query)
    }

    /// The window hashes, parsed and bounded.
    pub fn windows(&self) -> Result<Vec<PdqHash>, ApiError> {
        let Some(list) = &self.windows else { return Ok(Vec::new()) };
        if list.len() > MAX_WINDOWS {
            return Err(ApiError::Invalid(format!(
                "windows has {} hashes, at most {MAX_WINDOWS} are accepted",
                list.len()
            )));
        }
        list.iter()
            .enumerate()
            .map(|(i, h)| h.parse().map_err(|e| ApiError::Invalid(format!("windows[{i}]: {e}"))))
            .collect()
    }

    /// The receipt subject: `id` and `url`, checked.
    pub fn subject(&self) -> Result<Subject, ApiError> {
        subject(self.id.as_deref(), self.url.as_deref())
    }
}

/// Checks an object id: 1 to [`MAX_ID_BYTES`] bytes. `field` names where it came from.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::Invalid(format!("{field} is empty (1 to {MAX_ID_BYTES} bytes)")));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(ApiError::Invalid(format!(
            "{field} has {} bytes, at most {MAX_ID_BYTES} are accepted",
            id.len()
        )));
    }
    Ok(())
}

/// The receipt subject of a check: the object id and the URL (checked by
/// [`crate::url::public_url`] and stored as `fetch` would read it).
pub fn subject(id: Option<&str>, url: Option<&str>) -> Result<Subject, ApiError> {
    if let Some(id) = id {
        check_id("id", id)?;
    }
    let url = url.map(crate::url::public_url).transpose()?;
    Ok(Subject {
        object_id: id.map(str::to_owned),
        url: url.map(|u| u.to_string()),
        ..Subject::default()
    })
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

/// A match as answered: list, category, kind, distance (and the PDQ variant); never the listed
/// value, which stays private to the index.
pub fn match_json(m: &Match, receipt_id: Option<&str>) -> Value {
    let mut v = json!({ "list": m.list, "category": m.category, "kind": m.kind.name(), "distance": m.distance });
    if let Some(obj) = v.as_object_mut() {
        if let Some(variant) = m.variant {
            obj.insert("variant".into(), json!(variant));
        }
        if let Some(region) = &m.region {
            obj.insert("region".into(), json!(region));
        }
        if let Some(id) = receipt_id {
            obj.insert("receipt_id".into(), json!(id));
        }
    }
    v
}

/// The verdict name.
pub fn verdict_of(matches: &[Match]) -> &'static str {
    Verdict::of_matches(matches).name()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn subsets_parse() {
        let q: HashesIn = parse_json(
            br#"{"sha256":"00000000000000000000000000000000000000000000000000000000000000AA"}"#,
        )
        .unwrap();
        let q = q.to_query().unwrap();
        assert!(q.sha256.is_some() && q.md5.is_none() && q.pdq.is_none());
        let body = format!(r#"{{"pdq":"{PDQ}","quality":80}}"#);
        let q = parse_json::<HashesIn>(body.as_bytes()).unwrap().to_query().unwrap();
        assert_eq!(q.pdq.as_ref().map(|p| (p.variants.len(), p.quality)), Some((1, Some(80))));
        let body = format!(
            r#"{{"pdq":"{PDQ}","pdq_dihedral":[{}]}}"#,
            vec![format!("\"{PDQ}\""); 8].join(",")
        );
        let q = parse_json::<HashesIn>(body.as_bytes()).unwrap().to_query().unwrap();
        assert_eq!(q.pdq.map(|p| p.variants.len()), Some(8));
        // Windows alone are a query; they are parsed apart from the hashes.
        let body = format!(r#"{{"windows":["{PDQ}","{PDQ}"]}}"#);
        let h = parse_json::<HashesIn>(body.as_bytes()).unwrap();
        assert_eq!(h.to_query().unwrap(), Query::default());
        assert_eq!(h.windows().unwrap().len(), 2);
    }

    #[test]
    fn windows_are_bounded_and_checked() {
        let many = vec![format!("\"{PDQ}\""); MAX_WINDOWS + 1].join(",");
        let h = parse_json::<HashesIn>(format!(r#"{{"windows":[{many}]}}"#).as_bytes()).unwrap();
        let e = h.windows().unwrap_err();
        assert_eq!(
            (crate::error::status_for(&e), e.to_string()),
            (
                422,
                format!(
                    "windows has {} hashes, at most {MAX_WINDOWS} are accepted",
                    MAX_WINDOWS + 1
                )
            )
        );
        let h =
            parse_json::<HashesIn>(format!(r#"{{"windows":["{PDQ}","zz"]}}"#).as_bytes()).unwrap();
        assert!(h.windows().unwrap_err().to_string().starts_with("windows[1]: "));
        let h = parse_json::<HashesIn>(br#"{"windows":[]}"#).unwrap();
        assert!(h.to_query().unwrap_err().to_string().starts_with("no hash given"));
    }

    #[test]
    fn id_and_url_make_the_subject() {
        let h: HashesIn = parse_json(
            br#"{"md5":"00000000000000000000000000000000","id":"a/b.jpg","url":"https://EXAMPLE.com/a b.jpg"}"#,
        )
        .unwrap();
        let s = h.subject().unwrap();
        assert_eq!(s.object_id.as_deref(), Some("a/b.jpg"));
        assert_eq!(s.url.as_deref(), Some("https://example.com/a%20b.jpg"));
        assert!(HashesIn::default().subject().unwrap().is_empty());
        let bad = |id: &str, url: Option<&str>| subject(Some(id), url).unwrap_err().to_string();
        assert_eq!(bad("", None), "id is empty (1 to 512 bytes)");
        assert_eq!(bad(&"x".repeat(513), None), "id has 513 bytes, at most 512 are accepted");
        assert!(
            bad("a", Some("http://10.0.0.1/x")).contains("'http://10.0.0.1/x' names a private")
        );
    }

    #[test]
    fn errors_are_400_for_syntax_and_422_for_values() {
        let status = |body: &str| {
            let e = parse_json::<HashesIn>(body.as_bytes()).and_then(|h| h.to_query()).unwrap_err();
            (crate::error::status_for(&e), e.to_string())
        };
        assert_eq!(status("{").0, 400);
        assert_eq!(status("").0, 400);
        assert_eq!(status("not json").0, 400);
        assert_eq!(status("[]").0, 422);
        assert_eq!(
            status("{}"),
            (
                422,
                "no hash given: send any of md5, sha1, sha256, pdq, pdq_dihedral, windows".into()
            )
        );
        assert!(status(r#"{"sha265":"00"}"#).1.contains("unknown field `sha265`"));
        assert!(status(r#"{"md5":"xyz"}"#).1.starts_with("md5: invalid md5 hash 'xyz'"));
        assert_eq!(status(r#"{"md5":5}"#).0, 422);
        assert!(status(&format!(r#"{{"pdq":"{PDQ}","quality":101}}"#)).1.contains("quality 101"));
        assert!(status(&format!(r#"{{"pdq":"{PDQ}","quality":-1}}"#)).1.contains("invalid value"));
        assert!(status(r#"{"quality":50}"#).1.contains("quality given without pdq"));
        assert!(status(&format!(r#"{{"pdq_dihedral":["{PDQ}"]}}"#)).1.contains("has 1 hashes"));
        let other = PDQ.replace('f', "0");
        let body = format!(
            r#"{{"pdq":"{other}","pdq_dihedral":[{}]}}"#,
            vec![format!("\"{PDQ}\""); 8].join(",")
        );
        assert!(status(&body).1.contains("differs"));
    }
}
