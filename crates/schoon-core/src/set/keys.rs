//! Filter keys: 64-bit keys derived from hash values with a per-set salt.
//!
//! A filter never stores hash values, only membership of these keys; the salt makes keys of one
//! set useless for another.

/// Key domains: one per exact hash kind, and one per PDQ band (`PDQ_BAND + band`).
pub(crate) const DOMAIN_MD5: u8 = 1;
pub(crate) const DOMAIN_SHA1: u8 = 2;
pub(crate) const DOMAIN_SHA256: u8 = 3;
pub(crate) const DOMAIN_PDQ_BAND: u8 = 0x40;

/// The finaliser of MurmurHash3: a bijective 64-bit mixer with full avalanche.
#[inline]
pub(crate) fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The filter key of `data` in `domain` under `salt`.
pub(crate) fn key(salt: u64, domain: u8, data: &[u8]) -> u64 {
    let mut h = fmix64(salt ^ (u64::from(domain) << 56) ^ data.len() as u64);
    for chunk in data.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = fmix64(h ^ u64::from_le_bytes(word)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    }
    fmix64(h)
}

/// SplitMix64: a small deterministic generator for salts-derived parameters.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        fmix64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_salt_domain_and_data() {
        let a = key(1, DOMAIN_MD5, b"0123456789abcdef");
        assert_ne!(a, key(2, DOMAIN_MD5, b"0123456789abcdef"));
        assert_ne!(a, key(1, DOMAIN_SHA1, b"0123456789abcdef"));
        assert_ne!(a, key(1, DOMAIN_MD5, b"0123456789abcdeg"));
        assert_ne!(key(1, DOMAIN_MD5, b"ab"), key(1, DOMAIN_MD5, b"ab\0"));
        assert_eq!(a, key(1, DOMAIN_MD5, b"0123456789abcdef"));
    }
}
