//! The one binary framing of every set file (index, filter, filter delta).
//!
//! ```text
//! offset  size  field
//!      0     8  magic "\x89SCHOON\n" (the \x89 and \n catch text-mode transfers)
//!      8     2  format version (1), little-endian like every integer here
//!     10     1  artifact: 1 index, 2 filter, 3 filter delta, 4 shard manifest, 5 exact buckets
//!     11     1  flags: bit 0 = signed
//!     12     4  metadata length M
//!     16     8  set version (monotonic)
//!     24     8  base version (a delta applies to exactly this version; 0 otherwise)
//!     32     8  created, unix seconds
//!     40     4  section count S (at most 64)
//!     44     4  reserved, 0
//!     48    16  key id of the signer (first 16 bytes of SHA-256 of the public key; 0 if unsigned)
//!     64     M  metadata, UTF-8 JSON
//!      …        zero padding to a multiple of 8
//!      …  S*24  section table: tag (4 ASCII bytes), reserved (4), offset (8), length (8)
//!      …        sections, each starting at a multiple of 8
//!  end-96   32  SHA-256 of every byte before it
//!  end-64   64  Ed25519 signature (zeros if unsigned) of the message
//!               "schoon set signature v1\0" + the 64 header bytes + the SHA-256 above
//! ```
//!
//! The signature covers the checksum, which covers every byte, so verifying costs one SHA-256
//! pass over the file plus one Ed25519 verification of 120 bytes, whatever the set's size.
//!
//! Readers check, in order: size, magic, version, the checksum, the signature against a pinned
//! public key (or an explicit permission to accept unsigned sets), then the header fields. Only
//! then are the sections handed out, as slices of the original bytes: nothing is parsed per
//! entry, so loading is proportional to the header, not to the set.

use super::sign::{PublicKey, SigningKey};
use crate::error::{BadInput, Error, Unsupported};

pub(crate) const MAGIC: [u8; 8] = *b"\x89SCHOON\n";
const SIGNATURE_CONTEXT: &[u8; 24] = b"schoon set signature v1\0";
pub(crate) const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 64;
const TRAILER_LEN: usize = 96;
const MAX_SECTIONS: usize = 64;

/// Which artifact a set file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// The private, authoritative index.
    Index,
    /// The public filter.
    Filter,
    /// Additions to a filter of an earlier version.
    FilterDelta,
    /// The manifest of a sharded index: which shard files make up one version.
    ShardManifest,
    /// The exact-hash buckets of a budgeted filter, fetched one at a time by clients.
    ExactBuckets,
}

impl Artifact {
    fn tag(self) -> u8 {
        match self {
            Artifact::Index => 1,
            Artifact::Filter => 2,
            Artifact::FilterDelta => 3,
            Artifact::ShardManifest => 4,
            Artifact::ExactBuckets => 5,
        }
    }

    fn from_tag(t: u8) -> Option<Self> {
        match t {
            1 => Some(Artifact::Index),
            2 => Some(Artifact::Filter),
            3 => Some(Artifact::FilterDelta),
            4 => Some(Artifact::ShardManifest),
            5 => Some(Artifact::ExactBuckets),
            _ => None,
        }
    }

    /// `"index"`, `"filter"`, `"filter delta"`, `"shard manifest"` or `"exact buckets"`.
    pub fn name(self) -> &'static str {
        match self {
            Artifact::Index => "index",
            Artifact::Filter => "filter",
            Artifact::FilterDelta => "filter delta",
            Artifact::ShardManifest => "shard manifest",
            Artifact::ExactBuckets => "exact buckets",
        }
    }
}

/// Whose signature a reader accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trust {
    /// The pinned public key. Signed sets must verify with it.
    pub public_key: Option<PublicKey>,
    /// Accept sets without a signature (for local experiments and tests; never in production).
    pub allow_unsigned: bool,
}

impl Trust {
    /// Trust exactly this key.
    pub fn key(public_key: PublicKey) -> Self {
        Trust { public_key: Some(public_key), allow_unsigned: false }
    }

    /// Accept unsigned sets (and signed ones without checking who signed them).
    pub fn unsigned() -> Self {
        Trust { public_key: None, allow_unsigned: true }
    }
}

/// How a set's signature was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Signed, and verified with the pinned key.
    Verified,
    /// Signed, not verified (no key was pinned and unsigned sets were allowed).
    NotChecked,
    /// Not signed (accepted because unsigned sets were allowed).
    Unsigned,
}

impl SignatureStatus {
    /// `"verified"`, `"signed, not checked"` or `"unsigned"`.
    pub fn name(self) -> &'static str {
        match self {
            SignatureStatus::Verified => "verified",
            SignatureStatus::NotChecked => "signed, not checked",
            SignatureStatus::Unsigned => "unsigned",
        }
    }
}

/// The header fields of a set file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// What the file holds.
    pub artifact: Artifact,
    /// The set version (monotonic).
    pub set_version: u64,
    /// For a delta: the version it applies to.
    pub base_version: u64,
    /// Creation time, unix seconds.
    pub created: u64,
    /// Signer key id (hex), if signed.
    pub key_id: Option<String>,
    /// How the signature was checked.
    pub signature: SignatureStatus,
}

/// A verified set file, with its sections as byte ranges.
#[derive(Debug, Clone)]
pub(crate) struct Parsed<'a> {
    pub header: Header,
    pub metadata: &'a str,
    pub sections: Vec<([u8; 4], &'a [u8])>,
}

impl Parsed<'_> {
    pub(crate) fn section(&self, tag: &[u8; 4]) -> Option<&[u8]> {
        self.sections.iter().find(|(t, _)| t == tag).map(|(_, s)| *s)
    }
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadInput(BadInput::Set { detail: detail.into() })
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut x = [0u8; 2];
    x.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(x)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// What a writer puts in the header.
pub(crate) struct WriteHeader<'k> {
    pub artifact: Artifact,
    pub set_version: u64,
    pub base_version: u64,
    pub created: u64,
    pub signing_key: Option<&'k SigningKey>,
}

/// Serialises a set file.
pub(crate) fn write(h: &WriteHeader<'_>, metadata: &str, sections: &[([u8; 4], &[u8])]) -> Vec<u8> {
    let pad8 = |n: usize| n.div_ceil(8) * 8;
    let table_at = pad8(HEADER_LEN + metadata.len());
    let mut at = table_at + sections.len() * 24;
    let mut placed = Vec::with_capacity(sections.len());
    for (_, data) in sections {
        placed.push(at);
        at = pad8(at + data.len());
    }
    let mut out = Vec::with_capacity(at + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(h.artifact.tag());
    out.push(u8::from(h.signing_key.is_some()));
    out.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
    out.extend_from_slice(&h.set_version.to_le_bytes());
    out.extend_from_slice(&h.base_version.to_le_bytes());
    out.extend_from_slice(&h.created.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&h.signing_key.map(|k| k.public_key().key_id()).unwrap_or([0; 16]));
    out.extend_from_slice(metadata.as_bytes());
    out.resize(table_at, 0);
    for ((tag, data), &offset) in sections.iter().zip(&placed) {
        out.extend_from_slice(tag);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    }
    for ((_, data), &offset) in sections.iter().zip(&placed) {
        out.resize(offset, 0);
        out.extend_from_slice(data);
    }
    out.resize(at, 0);
    let checksum = crate::digest::sha256(&out).0;
    out.extend_from_slice(&checksum);
    let message = signed_message(&out[..HEADER_LEN], &checksum);
    let signature = h.signing_key.map(|k| k.sign(&message)).unwrap_or([0; 64]);
    out.extend_from_slice(&signature);
    out
}

/// The SHA-256 checksum a set file carries in its trailer (checked by [`parse`]).
pub(crate) fn checksum_of(bytes: &[u8]) -> Option<[u8; 32]> {
    let at = bytes.len().checked_sub(TRAILER_LEN)?;
    let mut c = [0u8; 32];
    c.copy_from_slice(bytes.get(at..at + 32)?);
    Some(c)
}

fn signed_message(header: &[u8], checksum: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + HEADER_LEN + 32);
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(header);
    m.extend_from_slice(checksum);
    m
}

/// Verifies and frames a set file. `expect` restricts the artifact kinds accepted.
pub(crate) fn parse<'a>(
    bytes: &'a [u8],
    trust: &Trust,
    expect: &[Artifact],
) -> Result<Parsed<'a>, Error> {
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(bad(format!("{} bytes is too short for a set file", bytes.len())));
    }
    if bytes[..8] != MAGIC {
        return Err(bad(format!(
            "not a schoon set file: starts with {}",
            crate::hex::encode(&bytes[..8])
        )));
    }
    let version = u16_at(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(Error::Unsupported(Unsupported::SetVersion { found: version }));
    }
    let body_end = bytes.len() - TRAILER_LEN;
    let checksum = &bytes[body_end..body_end + 32];
    if crate::digest::sha256(&bytes[..body_end]).0 != checksum {
        return Err(bad("checksum mismatch: the file is corrupt or was modified"));
    }
    let signed = bytes[11] & 1 == 1;
    if bytes[11] & !1 != 0 {
        return Err(bad(format!("unknown flags {:#04x}", bytes[11])));
    }
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&bytes[body_end + 32..]);
    let key_id: [u8; 16] = {
        let mut k = [0u8; 16];
        k.copy_from_slice(&bytes[48..64]);
        k
    };
    let signature = match (signed, trust.public_key) {
        (true, Some(key)) => {
            if key.key_id() != key_id {
                return Err(Error::BadInput(BadInput::Signature {
                    detail: format!(
                        "signed by key id {}, but the pinned public key {} has id {}",
                        crate::hex::encode(&key_id),
                        key.to_hex(),
                        crate::hex::encode(&key.key_id())
                    ),
                }));
            }
            key.verify(&signed_message(&bytes[..HEADER_LEN], checksum), &sig)?;
            SignatureStatus::Verified
        }
        (true, None) if trust.allow_unsigned => SignatureStatus::NotChecked,
        (true, None) => {
            return Err(Error::BadInput(BadInput::Signature {
                detail: "no public key to verify the signature with".into(),
            }));
        }
        (false, _) if trust.allow_unsigned => SignatureStatus::Unsigned,
        (false, _) => {
            return Err(Error::BadInput(BadInput::Signature {
                detail:
                    "the set is not signed (accepting unsigned sets must be enabled explicitly)"
                        .into(),
            }));
        }
    };
    let artifact = Artifact::from_tag(bytes[10])
        .ok_or_else(|| bad(format!("unknown artifact type {}", bytes[10])))?;
    if !expect.contains(&artifact) {
        let wanted: Vec<&str> = expect.iter().map(|a| a.name()).collect();
        return Err(bad(format!(
            "expected a {}, found a {}",
            wanted.join(" or "),
            artifact.name()
        )));
    }
    let meta_len = u32_at(bytes, 12) as usize;
    let count = u32_at(bytes, 40) as usize;
    if count > MAX_SECTIONS {
        return Err(bad(format!("{count} sections (at most {MAX_SECTIONS})")));
    }
    let meta_end = HEADER_LEN
        .checked_add(meta_len)
        .filter(|&e| e <= body_end)
        .ok_or_else(|| bad(format!("metadata length {meta_len} exceeds the file")))?;
    let metadata = std::str::from_utf8(&bytes[HEADER_LEN..meta_end])
        .map_err(|_| bad("metadata is not utf-8"))?;
    let table_at = meta_end.div_ceil(8) * 8;
    let table_end = table_at + count * 24;
    if table_end > body_end {
        return Err(bad(format!("section table of {count} entries exceeds the file")));
    }
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let e = table_at + i * 24;
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&bytes[e..e + 4]);
        let offset = u64_at(bytes, e + 8);
        let len = u64_at(bytes, e + 16);
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= body_end as u64 && offset >= table_end as u64);
        let Some(end) = end else {
            return Err(bad(format!(
                "section {} at offset {offset} with length {len} lies outside the file",
                String::from_utf8_lossy(&tag)
            )));
        };
        sections.push((tag, &bytes[offset as usize..end as usize]));
    }
    let header = Header {
        artifact,
        set_version: u64_at(bytes, 16),
        base_version: u64_at(bytes, 24),
        created: u64_at(bytes, 32),
        key_id: signed.then(|| crate::hex::encode(&key_id)),
        signature,
    };
    Ok(Parsed { header, metadata, sections })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: Option<&SigningKey>) -> Vec<u8> {
        let h = WriteHeader {
            artifact: Artifact::Filter,
            set_version: 7,
            base_version: 0,
            created: 1_700_000_000,
            signing_key: key,
        };
        write(
            &h,
            "{\"lists\":[]}",
            &[(*b"AAAA", b"hello"), (*b"BBBB", &[1, 2, 3, 4, 5, 6, 7, 8, 9])],
        )
    }

    #[test]
    fn round_trip_signed() {
        let key = SigningKey::from_seed([9; 32]);
        let bytes = sample(Some(&key));
        let p = parse(&bytes, &Trust::key(key.public_key()), &[Artifact::Filter]).unwrap();
        assert_eq!(p.header.set_version, 7);
        assert_eq!(p.header.signature, SignatureStatus::Verified);
        assert_eq!(p.section(b"AAAA"), Some(&b"hello"[..]));
        assert_eq!(p.section(b"BBBB").map(<[u8]>::len), Some(9));
        assert_eq!(p.metadata, "{\"lists\":[]}");
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_refused() {
        let key = SigningKey::from_seed([9; 32]);
        let bytes = sample(Some(&key));
        let trust = Trust::key(key.public_key());
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(parse(&b, &trust, &[Artifact::Filter]).is_err(), "bit {i}");
        }
        for len in 0..bytes.len() {
            assert!(parse(&bytes[..len], &trust, &[Artifact::Filter]).is_err(), "len {len}");
        }
    }

    #[test]
    fn other_format_versions_are_unsupported() {
        let key = SigningKey::from_seed([9; 32]);
        let mut bytes = sample(Some(&key));
        bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
        let e = parse(&bytes, &Trust::key(key.public_key()), &[Artifact::Filter]).unwrap_err();
        assert_eq!(e.to_string(), "unsupported set format version 2");
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
    }

    #[test]
    fn trust_rules() {
        let key = SigningKey::from_seed([9; 32]);
        let other = SigningKey::from_seed([8; 32]).public_key();
        let signed = sample(Some(&key));
        let unsigned = sample(None);
        let e = parse(&signed, &Trust::key(other), &[Artifact::Filter]).unwrap_err();
        assert!(e.to_string().contains("key id"), "{e}");
        let e = parse(&unsigned, &Trust::key(key.public_key()), &[Artifact::Filter]).unwrap_err();
        assert!(e.to_string().contains("not signed"), "{e}");
        let e = parse(&signed, &Trust::default(), &[Artifact::Filter]).unwrap_err();
        assert!(e.to_string().contains("no public key"), "{e}");
        let p = parse(&unsigned, &Trust::unsigned(), &[Artifact::Filter]).unwrap();
        assert_eq!(p.header.signature, SignatureStatus::Unsigned);
        let e = parse(&unsigned, &Trust::unsigned(), &[Artifact::Index]).unwrap_err();
        assert_eq!(e.to_string(), "malformed set: expected a index, found a filter");
    }

    #[test]
    fn a_resigned_file_with_a_forged_key_id_fails() {
        // An attacker re-signs with their own key but keeps the legitimate key id.
        let key = SigningKey::from_seed([9; 32]);
        let attacker = SigningKey::from_seed([6; 32]);
        let mut forged = sample(Some(&attacker));
        forged[48..64].copy_from_slice(&key.public_key().key_id());
        let body = forged.len() - 96;
        let sum = crate::digest::sha256(&forged[..body]).0;
        forged[body..body + 32].copy_from_slice(&sum);
        let sig = attacker.sign(&signed_message(&forged[..HEADER_LEN], &sum));
        forged[body + 32..].copy_from_slice(&sig);
        assert!(parse(&forged, &Trust::key(key.public_key()), &[Artifact::Filter]).is_err());
    }
}
