//! Hit receipts: signed evidence that a check matched a listed hash.
//!
//! Whoever confirms a match against an index (the worker) issues one receipt per match, signed
//! with its own Ed25519 key (not the set key). A receipt names the tenant that asked, the hash
//! kind and value that was checked, the list and category it matched, the PDQ distance and the
//! set version. A hotline or an auditor holding the issuer's public key checks it offline.
//!
//! The signed message is `"schoon receipt v1\0"` followed by the receipt's canonical form: the
//! JSON object of every field except `signature`, with keys in lexicographic order, no
//! whitespace, integers in plain decimal and strings escaped as RFC 8785 (JCS) prescribes (only
//! `"`, `\` and U+0000..U+001F; `\b \t \n \f \r` in short form, the rest as `\u00xx`). For this
//! shape (strings, integers below 2^53 and `null`) that is exactly the RFC 8785 canonical JSON,
//! so a verifier in any language with a JCS library reproduces the bytes.
//!
//! ```
//! use schoon_core::receipt::Receipt;
//! use schoon_core::set::HashKind;
//! use schoon_core::SigningKey;
//!
//! let key = SigningKey::from_seed([5; 32]);
//! let mut receipt = Receipt {
//!     id: "0123456789abcdef0123456789abcdef".into(),
//!     issued: 1_764_400_000_000,
//!     tenant: "acme".into(),
//!     kind: HashKind::Sha256,
//!     value: "ab".repeat(32),
//!     list: "demo".into(),
//!     category: "test".into(),
//!     set_version: 7,
//!     ..Receipt::default()
//! };
//! receipt.sign(&key)?;
//! receipt.verify(&key.public_key())?;
//!
//! // Any change breaks the signature.
//! receipt.distance = 3;
//! assert!(receipt.verify(&key.public_key()).is_err());
//! # Ok::<(), schoon_core::Error>(())
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{BadInput, Error};
use crate::set::{HashKind, PublicKey, SigningKey};

/// The receipt format version this module writes and reads.
pub const RECEIPT_VERSION: u32 = 1;

/// Prefix of the signed message (domain separation from set signatures).
const CONTEXT: &[u8] = b"schoon receipt v1\0";

/// Largest integer JSON carries exactly (RFC 8785 numbers are IEEE doubles).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Longest string field, in bytes.
const MAX_FIELD: usize = 256;

/// A hit receipt. Fields are public; [`Receipt::sign`] fills `key_id` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Format version, [`RECEIPT_VERSION`].
    pub v: u32,
    /// Unique id: 32 lowercase hex digits (128 random bits).
    pub id: String,
    /// When it was issued, unix milliseconds.
    pub issued: u64,
    /// The tenant whose check matched.
    pub tenant: String,
    /// The kind of hash that matched.
    pub kind: HashKind,
    /// The checked hash (the uploaded file's, not the listed one), lowercase hex.
    pub value: String,
    /// For PDQ: the dihedral variant of the checked hash that matched (`"rot90"`, ...).
    pub variant: Option<String>,
    /// The list that matched.
    pub list: String,
    /// That list's category.
    pub category: String,
    /// Hamming distance (0 for exact hashes).
    pub distance: u32,
    /// The version of the set that confirmed the match.
    pub set_version: u64,
    /// The issuer key's id: first 16 bytes of SHA-256 of its public key, hex.
    pub key_id: String,
    /// Ed25519 signature of the canonical form, 128 hex digits.
    pub signature: String,
}

impl Default for Receipt {
    fn default() -> Self {
        Receipt {
            v: RECEIPT_VERSION,
            id: String::new(),
            issued: 0,
            tenant: String::new(),
            kind: HashKind::Sha256,
            value: String::new(),
            variant: None,
            list: String::new(),
            category: String::new(),
            distance: 0,
            set_version: 0,
            key_id: String::new(),
            signature: String::new(),
        }
    }
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Receipt { detail: detail.into() })
}

fn is_lower_hex(s: &str, digits: usize) -> bool {
    s.len() == digits && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Appends `s` as an RFC 8785 JSON string.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Receipt {
    /// Checks the fields (not the signature): version, id and value format, lengths, integer
    /// ranges. Signing and verifying call it.
    pub fn validate(&self) -> Result<(), Error> {
        if self.v != RECEIPT_VERSION {
            return Err(invalid(format!(
                "format version {} (this build reads {RECEIPT_VERSION})",
                self.v
            )));
        }
        if !is_lower_hex(&self.id, 32) {
            return Err(invalid(format!("id '{}' is not 32 lowercase hex digits", self.id)));
        }
        if !is_lower_hex(&self.value, self.kind.len() * 2) {
            return Err(invalid(format!(
                "value '{}' is not {} lowercase hex digits of a {} hash",
                self.value,
                self.kind.len() * 2,
                self.kind
            )));
        }
        for (name, value) in [("tenant", &self.tenant), ("list", &self.list)] {
            if value.is_empty() {
                return Err(invalid(format!("{name} is empty")));
            }
        }
        let strings = [
            ("tenant", Some(&self.tenant)),
            ("list", Some(&self.list)),
            ("category", Some(&self.category)),
            ("variant", self.variant.as_ref()),
        ];
        for (name, value) in strings.iter().filter_map(|(n, v)| v.map(|v| (n, v))) {
            if value.len() > MAX_FIELD {
                return Err(invalid(format!(
                    "{name} of {} bytes (at most {MAX_FIELD})",
                    value.len()
                )));
            }
        }
        if self.kind != HashKind::Pdq && (self.distance != 0 || self.variant.is_some()) {
            return Err(invalid(format!(
                "an exact {} match has distance {} and variant {:?}",
                self.kind, self.distance, self.variant
            )));
        }
        if self.distance > 256 {
            return Err(invalid(format!("distance {} exceeds 256 bits", self.distance)));
        }
        for (name, value) in [("issued", self.issued), ("set_version", self.set_version)] {
            if value > MAX_SAFE_INTEGER {
                return Err(invalid(format!("{name} {value} exceeds 2^53 - 1")));
            }
        }
        Ok(())
    }

    /// The canonical form that is signed: RFC 8785 JSON of every field but `signature`.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(512);
        let str_field = |out: &mut String, key: &str, value: &str| {
            push_json_string(out, key);
            out.push(':');
            push_json_string(out, value);
            out.push(',');
        };
        out.push('{');
        str_field(&mut out, "category", &self.category);
        let _ = write!(out, "\"distance\":{},", self.distance);
        str_field(&mut out, "id", &self.id);
        let _ = write!(out, "\"issued\":{},", self.issued);
        str_field(&mut out, "key_id", &self.key_id);
        str_field(&mut out, "kind", self.kind.name());
        str_field(&mut out, "list", &self.list);
        let _ = write!(out, "\"set_version\":{},", self.set_version);
        str_field(&mut out, "tenant", &self.tenant);
        let _ = write!(out, "\"v\":{},", self.v);
        str_field(&mut out, "value", &self.value);
        out.push_str("\"variant\":");
        match &self.variant {
            Some(v) => push_json_string(&mut out, v),
            None => out.push_str("null"),
        }
        out.push('}');
        out
    }

    /// The bytes the signature covers: the context string and the canonical form.
    pub fn signed_message(&self) -> Vec<u8> {
        let canonical = self.canonical();
        let mut m = Vec::with_capacity(CONTEXT.len() + canonical.len());
        m.extend_from_slice(CONTEXT);
        m.extend_from_slice(canonical.as_bytes());
        m
    }

    /// Validates the fields, sets `key_id` to the signer's and signs.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), Error> {
        self.key_id = crate::hex::encode(&key.public_key().key_id());
        self.validate()?;
        self.signature = crate::hex::encode(&key.sign(&self.signed_message()));
        Ok(())
    }

    /// Verifies the fields and the signature with the issuer's public key.
    pub fn verify(&self, key: &PublicKey) -> Result<(), Error> {
        self.validate()?;
        let expected = crate::hex::encode(&key.key_id());
        if self.key_id != expected {
            return Err(invalid(format!(
                "issued by key id '{}', the public key {} has id {expected}",
                self.key_id,
                key.to_hex()
            )));
        }
        if !is_lower_hex(&self.signature, 128) {
            return Err(invalid("signature is not 128 lowercase hex digits"));
        }
        let signature = crate::hex::decode_array::<64>(&self.signature, "signature")?;
        key.verify(&self.signed_message(), &signature)
            .map_err(|_| invalid(format!("signature does not verify with {}", key.to_hex())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        Receipt {
            id: "00112233445566778899aabbccddeeff".into(),
            issued: 1_764_400_000_123,
            tenant: "acme".into(),
            kind: HashKind::Pdq,
            value: "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22".into(),
            variant: Some("rot90".into()),
            list: "demo".into(),
            category: "test".into(),
            distance: 12,
            set_version: 1_764_000_000,
            ..Receipt::default()
        }
    }

    #[test]
    fn canonical_form_is_sorted_compact_jcs() {
        let key = SigningKey::from_seed([1; 32]);
        let mut r = sample();
        r.sign(&key).unwrap();
        let expected = format!(
            concat!(
                r#"{{"category":"test","distance":12,"id":"00112233445566778899aabbccddeeff","#,
                r#""issued":1764400000123,"key_id":"{}","kind":"pdq","list":"demo","#,
                r#""set_version":1764000000,"tenant":"acme","v":1,"#,
                r#""value":"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22","#,
                r#""variant":"rot90"}}"#
            ),
            r.key_id
        );
        assert_eq!(r.canonical(), expected);
        // The canonical form parses back as JSON to the same values.
        let v: serde_json::Value = serde_json::from_str(&r.canonical()).unwrap();
        assert_eq!(v["distance"], 12);
        assert!(v.get("signature").is_none());
    }

    #[test]
    fn escaping_follows_rfc_8785() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é\u{2028}");
        assert_eq!(s, "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}é\u{2028}\"");
        // serde_json reads it back to the same string.
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é\u{2028}");
    }

    #[test]
    fn sign_verify_and_json_round_trip() {
        let key = SigningKey::from_seed([2; 32]);
        let mut r = sample();
        r.sign(&key).unwrap();
        r.verify(&key.public_key()).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        back.verify(&key.public_key()).unwrap();
    }

    type Alteration = Box<dyn Fn(&mut Receipt)>;

    #[test]
    fn every_altered_field_fails() {
        let key = SigningKey::from_seed([3; 32]);
        let mut r = sample();
        r.sign(&key).unwrap();
        let alterations: Vec<Alteration> = vec![
            Box::new(|r| r.id.replace_range(0..1, "1")),
            Box::new(|r| r.issued += 1),
            Box::new(|r| r.tenant.push('x')),
            Box::new(|r| r.value.replace_range(0..1, "0")),
            Box::new(|r| r.variant = None),
            Box::new(|r| r.list = "other".into()),
            Box::new(|r| r.category = "csam".into()),
            Box::new(|r| r.distance = 11),
            Box::new(|r| r.set_version += 1),
            Box::new(|r| r.signature.replace_range(0..2, "00")),
        ];
        for (i, alter) in alterations.iter().enumerate() {
            let mut forged = r.clone();
            alter(&mut forged);
            assert_ne!(forged, r, "alteration {i} changed nothing");
            let e = forged.verify(&key.public_key()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::BadInput, "alteration {i}: {e}");
            assert!(e.to_string().starts_with("invalid receipt: "), "{e}");
        }
    }

    #[test]
    fn another_key_fails_even_with_a_copied_key_id() {
        let key = SigningKey::from_seed([4; 32]);
        let attacker = SigningKey::from_seed([5; 32]);
        let mut forged = sample();
        forged.sign(&attacker).unwrap();
        let e = forged.verify(&key.public_key()).unwrap_err();
        assert!(e.to_string().contains("key id"), "{e}");
        forged.key_id = crate::hex::encode(&key.public_key().key_id());
        let e = forged.verify(&key.public_key()).unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
    }

    #[test]
    fn malformed_fields_are_refused_before_signing() {
        let key = SigningKey::from_seed([6; 32]);
        let cases: Vec<(Alteration, &str)> = vec![
            (Box::new(|r| r.v = 2), "format version 2"),
            (Box::new(|r| r.id = "XYZ".into()), "id 'XYZ'"),
            (Box::new(|r| r.value = "00".into()), "value '00'"),
            (Box::new(|r| r.tenant.clear()), "tenant is empty"),
            (Box::new(|r| r.list = "l".repeat(300)), "list of 300 bytes"),
            (Box::new(|r| r.distance = 300), "distance 300"),
            (Box::new(|r| r.set_version = u64::MAX), "set_version"),
            (
                Box::new(|r| {
                    r.kind = HashKind::Md5;
                    r.value = "00".repeat(16);
                }),
                "exact md5 match has distance 12",
            ),
        ];
        for (alter, message) in cases {
            let mut r = sample();
            alter(&mut r);
            let e = r.sign(&key).unwrap_err();
            assert!(e.to_string().contains(message), "{e} does not contain {message}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_signatures_do_not_parse_or_verify() {
        let key = SigningKey::from_seed([7; 32]);
        let mut r = sample();
        r.sign(&key).unwrap();
        let mut v = serde_json::to_value(&r).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Receipt>(v).is_err());
        let mut short = r.clone();
        short.signature.truncate(10);
        assert!(short.verify(&key.public_key()).is_err());
        let mut upper = r.clone();
        upper.signature = upper.signature.to_uppercase();
        assert!(upper.verify(&key.public_key()).is_err());
    }
}
