//! Ed25519 keys for signing sets, in a plain hex text form.
//!
//! A signing key file holds the 32-byte secret seed as 64 hex digits; a public key file holds
//! the 32-byte public key the same way. Lines starting with `#` are comments. Hex keeps keys easy
//! to pin in configuration (`publicKey: "3b6a..."`).

use std::fmt;

use ed25519_dalek::{Signer, Verifier};

use crate::error::{BadInput, Error};

/// A public key that verifies set signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

/// A secret key that signs sets.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

fn hex_line(text: &str, what: &str) -> Result<[u8; 32], Error> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| Error::caller(format!("{what} is empty")))?;
    crate::hex::decode_array::<32>(line, what)
}

impl PublicKey {
    /// Parses 64 hex digits (comment lines allowed).
    ///
    /// ```
    /// let key = schoon_core::SigningKey::from_seed([7; 32]);
    /// let public = schoon_core::PublicKey::from_text(&key.public_key().to_text())?;
    /// assert_eq!(public, key.public_key());
    /// # Ok::<(), schoon_core::Error>(())
    /// ```
    pub fn from_text(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&hex_line(text, "public key")?)
    }

    /// From the 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| Error::caller(format!("invalid public key {}", crate::hex::encode(bytes))))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// 64 hex digits.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.to_bytes())
    }

    /// The file form: a comment line and the hex key.
    pub fn to_text(&self) -> String {
        format!("# schoon public key (ed25519)\n{}\n", self.to_hex())
    }

    /// A short identifier: the first 16 bytes of the key's SHA-256.
    pub fn key_id(&self) -> [u8; 16] {
        let digest = crate::digest::sha256(&self.to_bytes()).0;
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id
    }

    /// Verifies an Ed25519 signature of `message` (sets, receipts).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), Error> {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify(message, &sig).map_err(|_| {
            Error::BadInput(BadInput::Signature {
                detail: format!("signature does not verify with public key {}", self.to_hex()),
            })
        })
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl SigningKey {
    /// From a 32-byte secret seed (generate it with an OS random source).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses the key file form (64 hex digits, comment lines allowed).
    pub fn from_text(text: &str) -> Result<Self, Error> {
        Ok(Self::from_seed(hex_line(text, "signing key")?))
    }

    /// The key file form. Keep it secret.
    pub fn to_text(&self) -> String {
        format!(
            "# schoon signing key (ed25519 secret seed): keep this file secret\n{}\n",
            crate::hex::encode(&self.0.to_bytes())
        )
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` (Ed25519).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key().to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let k = SigningKey::from_seed([1; 32]);
        let sig = k.sign(b"hello");
        k.public_key().verify(b"hello", &sig).unwrap();
        let e = k.public_key().verify(b"hellp", &sig).unwrap_err();
        assert!(e.to_string().starts_with("set signature refused"), "{e}");
        let other = SigningKey::from_seed([2; 32]).public_key();
        assert!(other.verify(b"hello", &sig).is_err());
    }

    #[test]
    fn text_round_trip_and_errors() {
        let k = SigningKey::from_seed([3; 32]);
        let back = SigningKey::from_text(&k.to_text()).unwrap();
        assert_eq!(back.public_key(), k.public_key());
        assert!(PublicKey::from_text("# nothing\n").is_err());
        let e = PublicKey::from_text("abc").unwrap_err();
        assert!(e.to_string().contains("'abc'"), "{e}");
    }
}
