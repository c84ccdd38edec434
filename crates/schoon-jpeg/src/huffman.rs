//! Huffman tables (T.81 Annex C) with lookup tables for fast decoding.

use core::cell::OnceCell;

use crate::bits::BitReader;

/// Lookup width in bits.
pub(crate) const LB: u32 = 10;
const LSIZE: usize = 1 << LB;
const LMASK: usize = LSIZE - 1;

/// Lookup width of the multi-symbol skip table.
pub(crate) const MB: u32 = 13;
const MSIZE: usize = 1 << MB;
const MMASK: usize = MSIZE - 1;

/// Multi-symbol skip entry fields (see [`SkipTable`]).
pub(crate) const M_EOB: u32 = 1 << 12;

/// For AC tables used only to skip, indexed by the next `MB` bits: the longest run of whole
/// symbols (code + magnitude bits) that fits, as `bits | adv << 5 | eob << 12`, where `adv`
/// is the total advance of the non-EOB symbols (at most 63) and `eob` says that the run ends
/// with an end-of-block; plus the first symbol alone as `bits << 16 | adv << 21` (adv 64 for
/// end-of-block). A zero field means "does not fit".
pub(crate) struct SkipTable([u32; MSIZE]);

impl SkipTable {
    /// The entry for the `MB`-bit index `i`.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> u32 {
        self.0[i & MMASK]
    }
}

/// A decoded Huffman table with its lookup tables.
pub(crate) struct HuffTable {
    /// `(code_len << 8) | symbol` for codes of at most `LB` bits, 0 otherwise.
    lut: [u16; LSIZE],
    /// For AC tables used to skip, built on first use (see [`Self::skip_table`]).
    multi: OnceCell<Box<SkipTable>>,
    /// For AC tables: `(value << 16) | (run << 8) | total_bits` with the
    /// coefficient value already sign-extended; run 64 for end-of-block; ZRL
    /// is run 15 with value 0. 0 if code + magnitude exceed `LB` bits.
    acv: [i32; LSIZE],
    /// For DC tables: `(difference << 8) | total_bits` when code and
    /// magnitude bits fit in `LB` bits, 0 otherwise.
    dcv: [i32; LSIZE],
    /// Largest code of each length (index = length), -1 if none.
    maxcode: [i32; 17],
    /// Index into `vals` of the first code of each length, minus that code.
    valoff: [i32; 17],
    /// Number of symbols.
    count: usize,
    vals: [u8; 256],
}

/// Sign-extends a `s`-bit magnitude category value (T.81 F.2.2.1 EXTEND).
#[inline(always)]
pub(crate) fn extend(v: u32, s: u32) -> i32 {
    // For s = 0 (v = 0) this gives 0.
    let v = v as i32;
    let half = (1i32 << (s & 31)) >> 1;
    if v < half { v.wrapping_sub((1i32 << (s & 31)).wrapping_sub(1)) } else { v }
}

impl HuffTable {
    /// Builds a table from the 16 code-length counts and the symbols.
    /// Returns `None` if the counts do not describe a valid prefix code.
    pub(crate) fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Box<HuffTable>> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total != symbols.len() {
            return None;
        }
        let mut t = Box::new(HuffTable {
            lut: [0; LSIZE],
            acv: [0; LSIZE],
            dcv: [0; LSIZE],
            multi: OnceCell::new(),
            maxcode: [-1; 17],
            valoff: [0; 17],
            count: total,
            vals: [0; 256],
        });
        for (d, &s) in t.vals.iter_mut().zip(symbols) {
            *d = s;
        }
        let mut code: u32 = 0;
        let mut idx: usize = 0;
        for len in 1..=16u32 {
            let n = usize::from(counts.get(len as usize - 1).copied().unwrap_or(0));
            let li = len as usize;
            if let Some(v) = t.valoff.get_mut(li) {
                *v = idx as i32 - code as i32;
            }
            for _ in 0..n {
                if code >= (1 << len) {
                    return None;
                }
                let sym = symbols.get(idx).copied().unwrap_or(0);
                if len <= LB {
                    let shift = LB - len;
                    let first = (code << shift) as usize;
                    let last = ((code + 1) << shift) as usize;
                    for i in first..last {
                        let i = i & LMASK;
                        t.lut[i] = ((len as u16) << 8) | u16::from(sym);
                        let run = u32::from(sym >> 4);
                        let size = u32::from(sym & 15);
                        // DC value table (the symbol is the magnitude category).
                        let dsize = u32::from(sym);
                        if dsize <= 15 && len + dsize <= LB {
                            let raw = (i as u32 >> (LB - len - dsize)) & ((1 << dsize) - 1);
                            t.dcv[i] = (extend(raw, dsize) << 8) | (len + dsize) as i32;
                        }
                        // Value table.
                        if size == 0 {
                            let r = if run == 15 { 15 } else { 64 };
                            t.acv[i] = (r << 8) | len as i32;
                        } else if len + size <= LB {
                            let raw = (i as u32 >> (LB - len - size)) & ((1 << size) - 1);
                            let v = extend(raw, size);
                            t.acv[i] = (v << 16) | ((run as i32) << 8) | (len + size) as i32;
                        }
                    }
                }
                code += 1;
                idx += 1;
            }
            if let Some(m) = t.maxcode.get_mut(li)
                && n > 0
            {
                *m = code as i32 - 1;
            }
            code <<= 1;
        }
        Some(t)
    }

    /// Decodes the symbol at the top of the `len`-bit window `w` with the
    /// canonical tables; returns (code length, symbol).
    fn decode_window(&self, w: u32, len: u32) -> Option<(u32, u8)> {
        for l in 1..=len.min(16) {
            let c = (w >> (len - l)) as i32;
            let li = l as usize;
            if c <= self.maxcode.get(li).copied().unwrap_or(-1) {
                let idx = c + self.valoff.get(li).copied().unwrap_or(0);
                if idx < 0 || idx as usize >= self.count {
                    return None;
                }
                return Some((l, self.vals.get(idx as usize).copied().unwrap_or(0)));
            }
        }
        None
    }

    /// [`Self::decode_window`] through the `LB`-bit lookup table where the code fits in it.
    fn decode_fast(&self, w: u32, len: u32) -> Option<(u32, u8)> {
        let i = if len >= LB { w >> (len - LB) } else { w << (LB - len) };
        let e = self.lut.get(i as usize & LMASK).copied().unwrap_or(0);
        let l = u32::from(e >> 8);
        match l {
            0 if len > LB => self.decode_window(w, len),
            0 => None,
            l if l <= len => Some((l, e as u8)),
            _ => None,
        }
    }

    /// The multi-symbol skip table, built on first use: a decode that takes a scan's
    /// blocks from elsewhere (a two-part decode's tail) never builds it.
    #[inline(always)]
    pub(crate) fn skip_table(&self) -> &SkipTable {
        self.multi.get_or_init(|| self.build_multi())
    }

    #[cold]
    #[inline(never)]
    fn build_multi(&self) -> Box<SkipTable> {
        let mut table = Box::new(SkipTable([0; MSIZE]));
        for i in 0..MSIZE {
            let mut used = 0u32;
            let mut adv = 0u32;
            let mut eob = false;
            let mut single = 0u32;
            while used < MB {
                let rem = MB - used;
                let w = (i as u32) & ((1 << rem) - 1);
                let Some((l, sym)) = self.decode_fast(w, rem) else {
                    break;
                };
                let run = u32::from(sym >> 4);
                let size = u32::from(sym & 15);
                if l + size > rem {
                    break;
                }
                let sadv = match (size, run) {
                    (0, 15) => 16,
                    (0, _) => 64,
                    _ => run + 1,
                };
                if used == 0 {
                    single = ((l + size) << 16) | (sadv << 21);
                }
                if sadv == 64 {
                    used += l;
                    eob = true;
                    break;
                }
                if adv + sadv > 63 {
                    break;
                }
                adv += sadv;
                used += l + size;
            }
            if let Some(e) = table.0.get_mut(i) {
                *e = single | used | (adv << 5) | if eob { M_EOB } else { 0 };
            }
        }
        table
    }

    /// Decodes one symbol. The reader must hold at least 16 bits
    /// (call `refill` first when `nbits() < 16`).
    #[inline(always)]
    pub(crate) fn decode(&self, r: &mut BitReader<'_>) -> u8 {
        let e = self.lut[r.peek(LB) as usize & LMASK];
        if e != 0 {
            r.consume(u32::from(e >> 8));
            e as u8
        } else {
            self.decode_slow(r)
        }
    }

    #[cold]
    #[inline(never)]
    fn decode_slow(&self, r: &mut BitReader<'_>) -> u8 {
        let code16 = r.peek(16);
        for len in (LB + 1)..=16 {
            let c = (code16 >> (16 - len)) as i32;
            let li = len as usize;
            let max = self.maxcode.get(li).copied().unwrap_or(-1);
            if c <= max {
                let idx = c + self.valoff.get(li).copied().unwrap_or(0);
                r.consume(len);
                if idx >= 0 && (idx as usize) < self.count {
                    return self.vals.get(idx as usize).copied().unwrap_or(0);
                }
                return 0;
            }
        }
        // Bad code: consume it and fake a zero, like libjpeg.
        r.consume(16);
        0
    }

    /// DC value-table entry for the next bits (see `dcv`).
    #[inline(always)]
    pub(crate) fn dcv_entry(&self, r: &BitReader<'_>) -> i32 {
        self.dcv[r.peek(LB) as usize & LMASK]
    }

    /// Value-table entry for the next bits (see `acv`).
    #[inline(always)]
    pub(crate) fn acv_entry(&self, r: &BitReader<'_>) -> i32 {
        self.acv[r.peek(LB) as usize & LMASK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_values() {
        assert_eq!(extend(0, 0), 0);
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0, 3), -7);
        assert_eq!(extend(3, 3), -4);
        assert_eq!(extend(4, 3), 4);
        assert_eq!(extend(1023, 11), -1024);
        assert_eq!(extend(2040, 11), 2040);
    }

    /// The table lookup that builds the skip table decodes every window as the canonical
    /// decoder does: the standard luma AC table (short codes), a table of long codes and an
    /// incomplete one.
    #[test]
    fn fast_window_decoding_is_canonical() {
        let std_ac: ([u8; 16], Vec<u8>) = (
            [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
            (0..162u32).map(|i| ((i * 37 + 1) % 251) as u8).collect(),
        );
        let mut long = [0u8; 16];
        long[7] = 254;
        long[11] = 1;
        let mut sparse = [0u8; 16];
        sparse[2] = 3;
        sparse[12] = 2;
        for (counts, syms) in [std_ac, (long, (0..255).collect()), (sparse, vec![1, 2, 3, 4, 5])] {
            let t = HuffTable::new(&counts, &syms).unwrap();
            for len in 1..=MB {
                for w in 0..1u32 << len {
                    assert_eq!(
                        t.decode_fast(w, len),
                        t.decode_window(w, len),
                        "{w:b} ({len} bits)"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_overfull() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes
        assert!(HuffTable::new(&counts, &[1, 2, 3]).is_none());
        counts[0] = 2;
        assert!(HuffTable::new(&counts, &[1, 2]).is_some());
        assert!(HuffTable::new(&counts, &[1]).is_none());
    }

    #[test]
    fn long_codes_decode() {
        // 255 codes of 8 bits, then one of 9 bits, then some of 12 and 16 bits.
        let mut counts = [0u8; 16];
        counts[7] = 254;
        counts[11] = 1;
        counts[15] = 1;
        let syms: Vec<u8> = (0..=255u8).collect();
        let t = HuffTable::new(&counts, &syms).unwrap();
        // Code 254 of length 8 is 0xFE -> 12-bit prefix 0xFE0 is the first 12-bit code.
        // Then the 16-bit code 0xFE10.
        let data = [0xFE, 0x0F, 0xE1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        let mut r = BitReader::new(&data, 0);
        r.refill();
        assert_eq!(t.decode(&mut r), 254);
        r.refill();
        assert_eq!(t.decode(&mut r), 255);
        r.refill();
        // All-zero bits decode as symbol 0 (8-bit code 0).
        assert_eq!(t.decode(&mut r), 0);
    }
}
