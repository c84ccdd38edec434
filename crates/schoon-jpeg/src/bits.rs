//! MSB-first bit reader over JPEG entropy-coded data.
//!
//! The reader keeps up to 64 bits in `acc` (left-aligned). It never reads past
//! a marker: on a marker (or the end of the data) it appends zero bits, and
//! counts them in `virt` so that the decoder can tell when it has started to
//! consume bits that are not in the file (`overrun`).

use crate::huffman::{HuffTable, M_EOB, MB};

/// A [`BitReader`]'s position and buffer, without the data it reads: what
/// [`BitReader::snapshot`] keeps and [`BitReader::resume`] continues from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    /// Next byte of the data to load.
    pos: usize,
    /// Buffered bits, most significant first. Bits below `nbits` are either
    /// zero or equal to the next bits of the stream.
    acc: u64,
    /// Number of valid bits in `acc` (including virtual zero bits).
    nbits: u32,
    /// Number of virtual zero bits appended at the bottom of `acc`.
    virt: u32,
    /// The reader stopped at a marker or at the end of the data.
    stopped: bool,
    /// Where the reader started (or was last repositioned).
    origin: usize,
    /// Stuffed zero bytes skipped since `origin`.
    skipped: usize,
}

/// Bit reader state.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    st: Snapshot,
}

/// True if any byte of `w` is 0xFF.
#[inline(always)]
fn has_ff(w: u64) -> bool {
    let x = !w;
    (x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080) != 0
}

impl<'a> BitReader<'a> {
    /// A reader starting at `pos` in `data`.
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Self {
        let pos = pos.min(data.len());
        let st =
            Snapshot { pos, acc: 0, nbits: 0, virt: 0, stopped: false, origin: pos, skipped: 0 };
        BitReader { data, st }
    }

    /// The reader's state, to continue later with [`BitReader::resume`].
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.st
    }

    /// A reader over `data` in the state `s` (taken over the same data).
    pub(crate) fn resume(data: &'a [u8], st: Snapshot) -> Self {
        BitReader { data, st: Snapshot { pos: st.pos.min(data.len()), ..st } }
    }

    /// Entropy-coded bits (stuffing not counted) between where the reader started and byte
    /// `x`, once the reader has loaded past `x` without meeting a marker; `x` must not be the
    /// stuffed zero after an 0xFF. `None` before that.
    pub(crate) fn bits_before(&self, x: usize) -> Option<u64> {
        if x < self.st.origin || x > self.st.pos || self.st.stopped {
            return None;
        }
        // Every 0xFF loaded so far was followed by a skipped stuffed zero.
        let ff_after = self.data.get(x..self.st.pos)?.iter().filter(|&&b| b == 0xFF).count();
        let skipped_before = self.st.skipped.checked_sub(ff_after)?;
        Some(((x - self.st.origin).checked_sub(skipped_before)? as u64) * 8)
    }

    /// Entropy-coded bits consumed since the reader started (stuffed bytes not counted,
    /// virtual zero bits counted): the same stream position gives the same number whatever
    /// the refill history.
    #[inline(always)]
    pub(crate) fn consumed(&self) -> u64 {
        let loaded =
            self.st.pos.saturating_sub(self.st.origin).saturating_sub(self.st.skipped) as u64;
        (loaded * 8 + u64::from(self.st.virt)).saturating_sub(u64::from(self.st.nbits))
    }

    /// Byte position of the next unread byte (bytes buffered in `acc` are behind it).
    pub(crate) fn pos(&self) -> usize {
        self.st.pos
    }

    /// Number of bits in the buffer.
    #[inline(always)]
    pub(crate) fn nbits(&self) -> u32 {
        self.st.nbits
    }

    /// True once bits past the end of the segment have been consumed.
    #[inline(always)]
    pub(crate) fn overrun(&self) -> bool {
        self.st.nbits < self.st.virt
    }

    /// Fills the buffer to more than 56 bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self) {
        if self.st.nbits > 56 {
            return;
        }
        if !self.st.stopped
            && let Some(chunk) = self.data.get(self.st.pos..self.st.pos.wrapping_add(8))
            && let Ok(arr) = <[u8; 8]>::try_from(chunk)
        {
            let w = u64::from_be_bytes(arr);
            if !has_ff(w) {
                // Whole bytes that fit; the partial byte below them is ORed in
                // too, which is harmless: those bits equal the next byte.
                let n = (64 - self.st.nbits) >> 3;
                self.st.acc |= w >> self.st.nbits;
                self.st.pos += n as usize;
                self.st.nbits += n << 3;
                return;
            }
        }
        self.refill_slow();
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(&mut self) {
        while self.st.nbits <= 56 {
            if self.st.stopped {
                self.pad();
                return;
            }
            let Some(&b) = self.data.get(self.st.pos) else {
                self.st.stopped = true;
                continue;
            };
            if b == 0xFF {
                if self.data.get(self.st.pos.wrapping_add(1)) == Some(&0x00) {
                    self.st.pos += 2;
                    self.st.skipped += 1;
                } else {
                    // A marker (or fill bytes before one): stop here.
                    self.st.stopped = true;
                    continue;
                }
            } else {
                self.st.pos += 1;
            }
            self.st.acc |= u64::from(b) << (56 - self.st.nbits);
            self.st.nbits += 8;
        }
    }

    /// Appends virtual zero bits up to a full buffer.
    fn pad(&mut self) {
        let add = 64 - self.st.nbits;
        self.st.virt = self.st.virt.saturating_add(add);
        self.st.nbits = 64;
    }

    /// The next `n` bits (1..=32) without consuming them. Needs `nbits >= n`.
    #[inline(always)]
    pub(crate) fn peek(&self, n: u32) -> u32 {
        (self.st.acc >> (64 - n)) as u32
    }

    /// Consumes `n` bits (0..=32). Needs `nbits >= n`.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        self.st.acc <<= n;
        self.st.nbits = self.st.nbits.wrapping_sub(n);
    }

    /// Reads `n` bits (0..=16) as an unsigned value. Refills as needed.
    #[inline(always)]
    pub(crate) fn bits(&mut self, n: u32) -> u32 {
        if self.st.nbits < n {
            self.refill();
        }
        let n = n & 31;
        let v = ((self.st.acc >> 1) >> (63 - n)) as u32;
        self.consume(n);
        v
    }

    /// Reads one bit.
    #[inline(always)]
    pub(crate) fn bit(&mut self) -> bool {
        if self.st.nbits == 0 {
            self.refill();
        }
        let v = (self.st.acc >> 63) != 0;
        self.consume(1);
        v
    }

    /// Skips the AC coefficients of one sequential block (positions 1..=63)
    /// with the multi-symbol table. The bit buffer is kept in locals so that
    /// it stays in registers across the loop.
    #[inline(always)]
    pub(crate) fn skip_ac(&mut self, ac: &HuffTable) {
        let table = ac.skip_table();
        let mut acc = self.st.acc;
        let mut nbits = self.st.nbits;
        let mut k = 1u32;
        loop {
            if nbits < 32 {
                self.st.acc = acc;
                self.st.nbits = nbits;
                self.refill();
                acc = self.st.acc;
                nbits = self.st.nbits;
            }
            let e = table.at((acc >> (64 - MB)) as usize);
            let madv = (e >> 5) & 127;
            let mbits = e & 31;
            if mbits != 0 && k + madv < 64 {
                acc <<= mbits;
                nbits = nbits.wrapping_sub(mbits);
                k += madv;
                if e & M_EOB != 0 {
                    break;
                }
                continue;
            }
            let sbits = (e >> 16) & 31;
            if sbits != 0 {
                acc <<= sbits;
                nbits = nbits.wrapping_sub(sbits);
                k += (e >> 21) & 127;
            } else {
                self.st.acc = acc;
                self.st.nbits = nbits;
                let sym = ac.decode(self);
                let (run, s) = (u32::from(sym >> 4), u32::from(sym & 15));
                if s == 0 {
                    if run != 15 {
                        return;
                    }
                    k += 16;
                } else {
                    self.consume(s);
                    k += run + 1;
                }
                acc = self.st.acc;
                nbits = self.st.nbits;
            }
            if k >= 64 {
                break;
            }
        }
        self.st.acc = acc;
        self.st.nbits = nbits;
    }

    /// Forgets all buffered bits and repositions at `pos`.
    pub(crate) fn reset_at(&mut self, pos: usize) {
        self.st.pos = pos.min(self.data.len());
        self.st.acc = 0;
        self.st.nbits = 0;
        self.st.virt = 0;
        self.st.stopped = false;
        self.st.origin = self.st.pos;
        self.st.skipped = 0;
    }

    /// Handles a restart point where RST`expected` should be: drops buffered
    /// bits, finds the next marker (skipping garbage) and, like libjpeg,
    /// consumes it if it is the expected RSTn (or an unrelated RST number);
    /// leaves it in place if it is one or two numbers ahead (the data of this
    /// interval is missing: `Skip`); discards it and searches on if it is one
    /// or two behind. Any other marker ends the scan (`End`).
    pub(crate) fn restart(&mut self, expected: u8) -> Restart {
        let mut from = self.st.pos;
        loop {
            let m = find_marker(self.data, from, true);
            match self.data.get(m.wrapping_add(1)) {
                Some(&b) if (0xD0..=0xD7).contains(&b) => {
                    let d = (b.wrapping_sub(0xD0).wrapping_sub(expected)) & 7;
                    match d {
                        1 | 2 => {
                            self.reset_at(m);
                            return Restart::Skip;
                        }
                        6 | 7 => from = m + 2,
                        _ => {
                            self.reset_at(m + 2);
                            return Restart::Ok;
                        }
                    }
                }
                _ => {
                    self.reset_at(m);
                    return Restart::End;
                }
            }
        }
    }
}

/// Outcome of [`BitReader::restart`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Restart {
    /// Synchronised after an RST marker.
    Ok,
    /// This interval's data is missing; try again at the next restart point.
    Skip,
    /// No further RST marker: the scan is over.
    End,
}

/// Finds the next marker at or after `pos`: the offset of an `FF` byte that is
/// followed by a byte other than `00` and `FF`. RSTn markers count only if
/// `stop_at_rst`. Returns `data.len()` if there is none.
pub(crate) fn find_marker(data: &[u8], mut pos: usize, stop_at_rst: bool) -> usize {
    loop {
        // Fast scan for the next 0xFF.
        let Some(rest) = data.get(pos..) else {
            return data.len();
        };
        let Some(i) = rest.iter().position(|&b| b == 0xFF) else {
            return data.len();
        };
        pos += i;
        // Skip fill bytes.
        let mut q = pos + 1;
        while data.get(q) == Some(&0xFF) {
            q += 1;
        }
        match data.get(q) {
            None => return data.len(),
            Some(0x00) => pos = q + 1,
            Some(&b) if (0xD0..=0xD7).contains(&b) && !stop_at_rst => pos = q + 1,
            Some(_) => return q - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_and_markers() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8), 0x12);
        assert_eq!(r.bits(8), 0xFF);
        assert_eq!(r.bits(8), 0x34);
        assert!(!r.overrun());
        assert_eq!(r.bits(8), 0);
        assert!(r.overrun());
        assert_eq!(r.pos(), 4);
    }

    #[test]
    fn fast_path_matches_slow() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        let mut r = BitReader::new(&data, 0);
        for (i, &b) in data.iter().enumerate() {
            let n = (i % 7 + 1) as u32;
            let hi = r.bits(n);
            let lo = r.bits(8 - n);
            assert_eq!((hi << (8 - n)) | lo, u32::from(b), "byte {i}");
        }
    }

    #[test]
    fn find_marker_skips() {
        let data = [1, 0xFF, 0x00, 0xFF, 0xD0, 2, 0xFF, 0xFF, 0xDA];
        assert_eq!(find_marker(&data, 0, true), 3);
        assert_eq!(find_marker(&data, 0, false), 7);
        assert_eq!(find_marker(&data[..8], 0, false), 8);
    }
}
