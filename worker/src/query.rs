//! The hashes a client sends to `/v1/confirm` (and each line of `/v1/check`), and the verdict
//! JSON every check answers with.

use schoon_core::PdqHash;
use schoon_core::set::{Match, Query, Verdict};
use schoon_core::wire::{self, ListedValue};
pub use schoon_core::wire::{MAX_ID_BYTES, MAX_WINDOWS, checked_value};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::subject::Subject;

/// The JSON body of `/v1/confirm` (and each line of `/v1/check`): the core's wire form
/// ([`wire::HashesIn`]), whose refusals the worker answers with 422.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct HashesIn(pub wire::HashesIn);

/// Parses a JSON body: syntax errors are 400, well-formed bodies with wrong fields 422.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Invalid(format!("invalid request: {e}")),
        _ => ApiError::BadRequest(format!("malformed JSON: {e}")),
    })
}

fn invalid(e: schoon_core::Error) -> ApiError {
    ApiError::Invalid(e.to_string())
}

impl HashesIn {
    /// The core query ([`wire::HashesIn::query`]).
    pub fn to_query(&self) -> Result<Query, ApiError> {
        self.0.query().map_err(invalid)
    }

    /// The window hashes, parsed and bounded ([`wire::HashesIn::window_hashes`]).
    pub fn windows(&self) -> Result<Vec<PdqHash>, ApiError> {
        self.0.window_hashes().map_err(invalid)
    }

    /// The receipt subject: `id` and `url`, checked.
    pub fn subject(&self) -> Result<Subject, ApiError> {
        subject(self.0.id.as_deref(), self.0.url.as_deref())
    }
}

/// Checks an object id: 1 to [`MAX_ID_BYTES`] bytes. `field` names where it came from.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    wire::check_id(field, id).map_err(invalid)
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

/// A match as answered ([`wire::match_json`]): never the listed value, which stays private
/// to the index.
pub fn match_json(m: &Match, receipt_id: Option<&str>) -> Value {
    wire::match_json(m, ListedValue::Hidden, receipt_id)
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
