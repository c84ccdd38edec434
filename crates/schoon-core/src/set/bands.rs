//! The PDQ prefilter: locality-sensitive bands of PDQ bits, so a client holding only the public
//! filter finds *candidate* near-duplicates locally.
//!
//! Each listed hash contributes one filter key per band: the values of `bits` hash bits at
//! positions drawn (per set, from the salt) at random. A near-duplicate agrees with the listed
//! hash on most bits, so it likely reproduces at least one band exactly. At query time every
//! band is probed with the query's own bits and with all combinations of its `flips` least
//! reliable bits (those whose DCT coefficient lies closest to the median), for each of the 8
//! dihedral variants: `8 x bands x 2^flips` probes.
//!
//! A hit is only a candidate: the authoritative index decides. The prefilter answers "could be
//! near something listed" for any hash, so it is also an offline oracle an attacker can use to
//! edit an image until it no longer hits; operators who do not want that build filters without
//! it (`FilterParams::pdq = None`).

use serde::{Deserialize, Serialize};

use super::keys::{DOMAIN_PDQ_BAND, SplitMix, key};
use crate::error::Error;
use crate::pdq::{Coefficients, PdqHash};

/// The shape of the band scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandParams {
    /// Number of bands (filter keys per listed hash).
    pub bands: u8,
    /// Hash bits per band (at most 64).
    pub bits: u8,
    /// Least reliable bits flipped per band at query time (`2^flips` probes per band).
    pub flips: u8,
    /// Fingerprint bits per band key in the filter: 8, 16, 24 or 32. The false-positive rate
    /// per probe is `2^-fingerprint` and every image makes `probes_per_image` probes, so 24 bits
    /// keep filter false positives near 0.003 % of images. (24 is a binary fuse 16 and a
    /// binary fuse 8 filter over independently mixed keys: a probe must hit both.)
    #[serde(default = "default_fingerprint")]
    pub fingerprint: u8,
}

fn default_fingerprint() -> u8 {
    24
}

impl Default for BandParams {
    /// 8 bands of 37 bits, 3 flipped bits, 24-bit fingerprints: 512 probes per image, about
    /// 27 filter bytes per listed hash (measured recall and false-candidate rate:
    /// `cargo bench -p schoon-core --bench prefilter`, summarised in the crate README).
    fn default() -> Self {
        BandParams { bands: 8, bits: 37, flips: 3, fingerprint: 24 }
    }
}

impl BandParams {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.bands == 0 || self.bands > 32 {
            return Err(Error::caller(format!(
                "pdq band count {} out of range 1..=32",
                self.bands
            )));
        }
        if self.bits < 8 || self.bits > 64 {
            return Err(Error::caller(format!("pdq band width {} out of range 8..=64", self.bits)));
        }
        if self.flips > 8 || self.flips >= self.bits {
            return Err(Error::caller(format!("pdq band flips {} out of range 0..=8", self.flips)));
        }
        if ![8, 16, 24, 32].contains(&self.fingerprint) {
            return Err(Error::caller(format!(
                "pdq fingerprint of {} bits: expected 8, 16, 24 or 32",
                self.fingerprint
            )));
        }
        Ok(())
    }

    /// Filter probes per query image.
    pub fn probes_per_image(&self) -> u32 {
        (8 * u32::from(self.bands)) << self.flips
    }
}

/// A band scheme instantiated for one set (positions derived from the set's salt).
#[derive(Debug, Clone)]
pub(crate) struct BandScheme {
    params: BandParams,
    salt: u64,
    positions: Vec<Vec<u8>>,
}

impl BandScheme {
    pub(crate) fn new(params: BandParams, salt: u64) -> Result<Self, Error> {
        params.validate()?;
        let mut rng = SplitMix(salt ^ 0x5044_5142_414e_4453); // "PDQBANDS"
        let positions = (0..params.bands)
            .map(|_| {
                let mut all: Vec<u8> = (0..=255u8).collect();
                for i in (1..all.len()).rev() {
                    let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                    all.swap(i, j);
                }
                all.truncate(usize::from(params.bits));
                all
            })
            .collect();
        Ok(BandScheme { params, salt, positions })
    }

    fn value(&self, band: &[u8], hash: &PdqHash) -> u64 {
        band.iter()
            .enumerate()
            .fold(0u64, |v, (i, &p)| v | (u64::from(hash.bit(usize::from(p))) << i))
    }

    fn band_key(&self, band: usize, value: u64) -> u64 {
        key(self.salt, DOMAIN_PDQ_BAND.wrapping_add(band as u8), &value.to_le_bytes())
    }

    /// The filter keys of a listed hash (one per band).
    pub(crate) fn listed_keys(&self, hash: &PdqHash, out: &mut Vec<u64>) {
        for (b, band) in self.positions.iter().enumerate() {
            out.push(self.band_key(b, self.value(band, hash)));
        }
    }

    /// The probe keys of a query: every dihedral variant, every band, every combination of the
    /// band's least reliable bits. Without coefficients only the exact band values are probed.
    pub(crate) fn probe_keys(
        &self,
        variants: &[PdqHash],
        coefficients: Option<&Coefficients>,
        out: &mut Vec<u64>,
    ) {
        self.probe_keys_where(variants, coefficients, |_| true, out);
    }

    /// [`BandScheme::probe_keys`] for the variants whose position `keep` accepts (each keeps
    /// its own least reliable bits).
    pub(crate) fn probe_keys_where(
        &self,
        variants: &[PdqHash],
        coefficients: Option<&Coefficients>,
        keep: impl Fn(usize) -> bool,
        out: &mut Vec<u64>,
    ) {
        let flips = if coefficients.is_some() { usize::from(self.params.flips) } else { 0 };
        for (v, hash) in variants.iter().enumerate().filter(|(v, _)| keep(*v)) {
            let margins = coefficients.map(|c| c.margins(v));
            for (b, band) in self.positions.iter().enumerate() {
                let value = self.value(band, hash);
                // The `flips` band bits with the smallest margins (a partial selection).
                let mut weakest = [(f32::INFINITY, 0usize); 8];
                if let Some(m) = &margins {
                    for (i, &p) in band.iter().enumerate() {
                        let margin = m[usize::from(p)];
                        if margin < weakest[flips.saturating_sub(1)].0 {
                            let mut at = flips.saturating_sub(1);
                            while at > 0 && weakest[at - 1].0 > margin {
                                weakest[at] = weakest[at - 1];
                                at -= 1;
                            }
                            weakest[at] = (margin, i);
                        }
                    }
                }
                for mask in 0u32..(1 << flips) {
                    let mut probe = value;
                    for (i, &(_, bit)) in weakest.iter().take(flips).enumerate() {
                        if mask >> i & 1 == 1 {
                            probe ^= 1 << bit;
                        }
                    }
                    out.push(self.band_key(b, probe));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(seed: u64) -> PdqHash {
        let mut rng = SplitMix(seed);
        let mut h = PdqHash::ZERO;
        for chunk in h.0.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        h
    }

    #[test]
    fn identical_hashes_hit_every_band() {
        let s = BandScheme::new(BandParams::default(), 42).unwrap();
        let h = hash(1);
        let mut listed = Vec::new();
        s.listed_keys(&h, &mut listed);
        assert_eq!(listed.len(), 8);
        let mut probes = Vec::new();
        s.probe_keys(&[h], None, &mut probes);
        assert_eq!(probes, listed);
    }

    #[test]
    fn flipping_the_least_reliable_bits_is_recovered() {
        let s = BandScheme::new(BandParams { bands: 1, bits: 40, flips: 2, fingerprint: 16 }, 7)
            .unwrap();
        let mut rng = SplitMix(99);
        let mut c = [[0f32; 16]; 16];
        for v in c.iter_mut().flatten() {
            *v = (rng.next_u64() % 20_000) as f32 / 100.0 - 100.0;
        }
        let coeffs = Coefficients(c);
        let h = coeffs.hash(0);
        let mut listed = Vec::new();
        s.listed_keys(&h, &mut listed);
        // Flip the two least reliable bits of the band: the probes must include the listed key.
        let m = coeffs.margins(0);
        let mut band: Vec<u8> = s.positions[0].clone();
        band.sort_by(|&a, &b| m[usize::from(a)].total_cmp(&m[usize::from(b)]));
        let mut q = h;
        q.flip_bit(usize::from(band[0]));
        q.flip_bit(usize::from(band[1]));
        let mut probes = Vec::new();
        s.probe_keys(&[q], Some(&coeffs), &mut probes);
        assert_eq!(probes.len(), 4);
        assert!(probes.contains(&listed[0]));
        // A reliable bit flipped instead is not recovered.
        let mut r = h;
        r.flip_bit(usize::from(band[39]));
        let mut probes = Vec::new();
        s.probe_keys(&[r], Some(&coeffs), &mut probes);
        assert!(!probes.contains(&listed[0]));
    }

    #[test]
    fn parameters_are_checked() {
        let ok = BandParams::default();
        assert!(BandScheme::new(BandParams { bands: 0, ..ok }, 1).is_err());
        assert!(BandScheme::new(BandParams { bits: 65, ..ok }, 1).is_err());
        assert!(BandScheme::new(BandParams { flips: 9, ..ok }, 1).is_err());
        assert!(BandScheme::new(BandParams { fingerprint: 12, ..ok }, 1).is_err());
        assert_eq!(BandParams::default().probes_per_image(), 512);
    }
}
