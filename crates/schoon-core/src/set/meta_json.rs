//! The reader of a filter's metadata: a small, strict JSON parser for exactly the fields of
//! [`FilterFileMeta`], instead of `serde_json` and serde's derived deserializers, which cost the
//! browser module about 20 KB gzip (crates/schoon-wasm/README.md, "Size"). Writers still use
//! serde_json; this reader accepts what serde's derive accepts for these structs (fields in any
//! order, unknown fields skipped, `null` or no `pdq` / `bloom_blocks` for none, `fingerprint`
//! 24 when missing) and refuses malformed JSON, duplicate or missing fields and out-of-range
//! integers. `target_fpr` is converted exactly (correctly rounded) for up to 38 significant
//! digits and decimal exponents from -38 to 38 (serde_json writes at most 17 digits); other
//! numbers are refused there (see docs/formats.md).
//!
//! Over 600 lines: the parser is about 440; the rest are its tests, which hold it to serde_json's
//! answers on the same inputs (what both accept and refuse), and belong next to the code they pin
//! down.

use super::allow::AllowCounts;
use super::bands::BandParams;
use super::meta::{FilterFileMeta, FilterMeta, ListMeta, bad};
use super::types::ListInfo;
use crate::error::Error;

type Res<T> = Result<T, Error>;

/// A JSON number as written: sign, up to 38 significant digits and a decimal exponent.
#[derive(Default)]
struct Number {
    negative: bool,
    digits: u128,
    exponent: i32,
    /// Written as an integer (no fraction, no exponent).
    integer: bool,
    /// Nonzero digits beyond the 38th were dropped.
    inexact: bool,
}

struct Reader<'a> {
    text: &'a str,
    s: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn err(&self, what: &str) -> Error {
        bad(format!("filter metadata: {what} at byte {}", self.at))
    }

    fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.at) {
            self.at += 1;
        }
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Res<()> {
        if self.eat(c) { Ok(()) } else { Err(self.err("invalid JSON")) }
    }

    fn next_byte(&mut self) -> Res<u8> {
        let b = self.s.get(self.at).copied().ok_or_else(|| self.err("unexpected end"))?;
        self.at += 1;
        Ok(b)
    }

    /// `"name" :`
    fn key(&mut self) -> Res<String> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a field name"));
        }
        let key = self.string()?;
        self.expect(b':')?;
        Ok(key)
    }

    /// An object whose known fields are `keys`: `field(reader, i)` reads the value of
    /// `keys[i]`, other fields are skipped, a repeated known field is refused, and every
    /// field of `required` (a bit per key) must be there. Returns the fields present.
    fn object(
        &mut self,
        keys: &[&str],
        required: u32,
        field: &mut dyn FnMut(&mut Self, usize) -> Res<()>,
    ) -> Res<u32> {
        let mut seen = 0u32;
        self.expect(b'{')?;
        if !self.eat(b'}') {
            loop {
                let key = self.key()?;
                match keys.iter().position(|k| *k == key) {
                    Some(i) if seen & 1 << i != 0 => {
                        return Err(self.err(&format!("duplicate field `{key}`")));
                    }
                    Some(i) => {
                        seen |= 1 << i;
                        field(self, i)?;
                    }
                    None => self.skip()?,
                }
                if !self.eat(b',') {
                    self.expect(b'}')?;
                    break;
                }
            }
        }
        if let Some(k) = keys.iter().enumerate().find(|(i, _)| required & !seen & 1 << i != 0) {
            return Err(self.err(&format!("missing field `{}`", k.1)));
        }
        Ok(seen)
    }

    /// `[ value, ... ]`, calling `item` with the reader positioned at each value.
    fn array(&mut self, item: &mut dyn FnMut(&mut Self) -> Res<()>) -> Res<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            item(self)?;
            if !self.eat(b',') {
                return self.expect(b']');
            }
        }
    }

    /// Any value, checked and dropped (unknown fields). Iterative, so nesting costs a byte
    /// of memory per level and no stack (serde_json does not limit it either).
    fn skip(&mut self) -> Res<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            match self.peek() {
                Some(b'{') if !self.eat(b'{') || !self.eat(b'}') => {
                    open.push(b'}');
                    self.key()?;
                    continue;
                }
                Some(b'[') if !self.eat(b'[') || !self.eat(b']') => {
                    open.push(b']');
                    continue;
                }
                Some(b'{' | b'[') => {}
                Some(b'"') => drop(self.string()?),
                Some(b't') => self.word(b"true")?,
                Some(b'f') => self.word(b"false")?,
                Some(b'n') => self.word(b"null")?,
                _ => {
                    self.number()?;
                }
            }
            // After a value: the next element, or the end of enclosing containers.
            loop {
                let Some(&close) = open.last() else { return Ok(()) };
                if self.eat(b',') {
                    if close == b'}' {
                        self.key()?;
                    }
                    break;
                }
                self.expect(close)?;
                open.pop();
            }
        }
    }

    fn word(&mut self, w: &[u8]) -> Res<()> {
        if self.s.get(self.at..self.at + w.len()) == Some(w) {
            self.at += w.len();
            Ok(())
        } else {
            Err(self.err("invalid JSON"))
        }
    }

    /// `null` (consumed) or not.
    fn null(&mut self) -> Res<bool> {
        let null = self.peek() == Some(b'n');
        if null {
            self.word(b"null")?;
        }
        Ok(null)
    }

    fn hex4(&mut self) -> Res<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = (self.next_byte()? as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn string(&mut self) -> Res<String> {
        self.expect(b'"')?;
        let mut out = String::new();
        let mut run = self.at;
        loop {
            let b = self.next_byte()?;
            if b != b'"' && b != b'\\' {
                if b < 0x20 {
                    return Err(self.err("control character in a string"));
                }
                continue;
            }
            // A run starts and ends next to ASCII bytes: at char boundaries of the text.
            out.push_str(self.text.get(run..self.at - 1).unwrap_or_default());
            if b == b'"' {
                return Ok(out);
            }
            let c = match self.next_byte()? {
                e @ (b'"' | b'\\' | b'/') => u32::from(e),
                b'b' => 8,
                b'f' => 12,
                b'n' => 10,
                b'r' => 13,
                b't' => 9,
                b'u' => {
                    let c = self.hex4()?;
                    if (0xd800..0xdc00).contains(&c) && self.word(b"\\u").is_ok() {
                        let low = self.hex4()?;
                        0x10000 + ((c - 0xd800) << 10) + low.wrapping_sub(0xdc00)
                    } else {
                        c
                    }
                }
                _ => return Err(self.err("invalid escape")),
            };
            // Lone or malformed surrogates are not chars.
            out.push(char::from_u32(c).ok_or_else(|| self.err("lone surrogate"))?);
            run = self.at;
        }
    }

    fn digits(&mut self, n: &mut Number, fraction: bool) -> Res<()> {
        let start = self.at;
        while let Some(&b @ b'0'..=b'9') = self.s.get(self.at) {
            self.at += 1;
            let d = u128::from(b - b'0');
            if n.digits < 10u128.pow(37) {
                n.digits = n.digits * 10 + d;
                n.exponent -= i32::from(fraction);
            } else {
                n.inexact |= d != 0;
                n.exponent += i32::from(!fraction);
            }
        }
        if self.at == start { Err(self.err("invalid number")) } else { Ok(()) }
    }

    fn number(&mut self) -> Res<Number> {
        let mut n = Number { negative: self.eat(b'-'), integer: true, ..Default::default() };
        if self.s.get(self.at) == Some(&b'0') {
            self.at += 1;
        } else {
            self.digits(&mut n, false)?;
        }
        if self.s.get(self.at) == Some(&b'.') {
            self.at += 1;
            n.integer = false;
            self.digits(&mut n, true)?;
        }
        if let Some(b'e' | b'E') = self.s.get(self.at) {
            self.at += 1;
            n.integer = false;
            let sign = self.s.get(self.at).copied();
            self.at += usize::from(matches!(sign, Some(b'-' | b'+')));
            let mut e = Number::default();
            self.digits(&mut e, false)?;
            let e = if e.exponent != 0 || e.digits > 100_000 { 100_000 } else { e.digits as i32 };
            n.exponent += if sign == Some(b'-') { -e } else { e };
        }
        Ok(n)
    }

    fn unsigned(&mut self, max: u64) -> Res<u64> {
        let n = self.number()?;
        if !n.integer || n.negative || n.digits > u128::from(max) {
            return Err(self.err("expected an unsigned integer in range"));
        }
        Ok(n.digits as u64)
    }

    fn float(&mut self) -> Res<f64> {
        let n = self.number()?;
        let x = decimal_to_f64(n.digits, n.exponent)
            .filter(|_| !n.inexact)
            .ok_or_else(|| self.err("number out of the supported range"))?;
        Ok(if n.negative { -x } else { x })
    }
}

/// `digits x 10^exponent`, correctly rounded, for `digits < 10^38` and results between
/// 10^-38 and 10^38 (`None` outside).
pub(super) fn decimal_to_f64(digits: u128, exponent: i32) -> Option<f64> {
    if digits == 0 {
        return Some(0.0);
    }
    let scale = 10u128.checked_pow(exponent.unsigned_abs())?;
    let (num, den) = if exponent < 0 { (digits, scale) } else { (digits.checked_mul(scale)?, 1) };
    if num >= 10u128.pow(38) {
        return None;
    }
    // Binary long division to 55 significant bits of num / den, and whether more follow.
    // r < den <= 10^38 < 2^127: doubling it cannot overflow.
    let (mut q, mut r, mut e2, mut sticky) = (0u128, 0u128, 0i32, false);
    for i in (0..128).rev() {
        r = r << 1 | (num >> i & 1);
        q <<= 1;
        if r >= den {
            r -= den;
            q |= 1;
        }
        if q >> 55 != 0 {
            sticky |= q & 1 != 0;
            q >>= 1;
            e2 += 1;
        }
    }
    while q >> 54 == 0 {
        r <<= 1;
        q <<= 1;
        if r >= den {
            r -= den;
            q |= 1;
        }
        e2 -= 1;
    }
    sticky |= r != 0;
    // Round 55 bits to 53, to nearest, ties to even.
    let mut mant = (q >> 2) as u64;
    if q & 2 != 0 && (q & 1 != 0 || sticky || mant & 1 != 0) {
        mant += 1;
    }
    // The value is mant x 2^(e2 + 2), with e2 + 2 well inside the normal range (the value
    // lies between 10^-38 and 10^38): both factors and their product are exact.
    Some(mant as f64 * f64::from_bits(((e2 + 2 + 1023) as u64) << 52))
}

const LIST: [&str; 8] = ["name", "category", "source", "md5", "sha1", "sha256", "pdq", "regions"];
const FILTER: [&str; 5] = ["kind", "target_fpr", "salt", "pdq", "bloom_blocks"];
const BANDS: [&str; 4] = ["bands", "bits", "flips", "fingerprint"];
const FILE: [&str; 6] = ["lists", "filter", "exact_keys", "pdq_keys", "generator", "allow"];
const ALLOW: [&str; 4] = ["md5", "sha1", "sha256", "pdq"];

fn allow_counts(r: &mut Reader<'_>) -> Res<AllowCounts> {
    let mut c = [0u64; 4];
    r.object(&ALLOW, 0b1111, &mut |r, i| {
        c[i] = r.unsigned(u64::MAX)?;
        Ok(())
    })?;
    let [md5, sha1, sha256, pdq] = c;
    Ok(AllowCounts { md5, sha1, sha256, pdq })
}

fn list_meta(r: &mut Reader<'_>) -> Res<ListMeta> {
    let mut text: [String; 3] = Default::default();
    let mut counts = [0u64; 5];
    r.object(&LIST, 0x7f, &mut |r, i| {
        match i {
            0..3 => text[i] = r.string()?,
            _ => counts[i - 3] = r.unsigned(u64::MAX)?,
        }
        Ok(())
    })?;
    let [name, category, source] = text;
    let [md5, sha1, sha256, pdq, regions] = counts;
    Ok(ListMeta { info: ListInfo { name, category, source }, md5, sha1, sha256, pdq, regions })
}

fn band_params(r: &mut Reader<'_>) -> Res<BandParams> {
    let mut v = [0, 0, 0, 24];
    r.object(&BANDS, 0b111, &mut |r, i| {
        v[i] = r.unsigned(255)? as u8;
        Ok(())
    })?;
    let [bands, bits, flips, fingerprint] = v;
    Ok(BandParams { bands, bits, flips, fingerprint })
}

fn filter_meta(r: &mut Reader<'_>) -> Res<FilterMeta> {
    let mut m = FilterMeta {
        kind: String::new(),
        target_fpr: 0.0,
        salt: String::new(),
        pdq: None,
        bloom_blocks: None,
    };
    r.object(&FILTER, 0b111, &mut |r, i| {
        match i {
            0 => m.kind = r.string()?,
            1 => m.target_fpr = r.float()?,
            2 => m.salt = r.string()?,
            3 => m.pdq = if r.null()? { None } else { Some(band_params(r)?) },
            _ if r.null()? => m.bloom_blocks = None,
            _ => {
                let mut pair = Vec::with_capacity(2);
                r.array(&mut |r| {
                    pair.push(r.unsigned(u32::MAX.into())? as u32);
                    Ok(())
                })?;
                let [a, b] = pair[..] else {
                    return Err(r.err("bloom_blocks must hold 2 numbers"));
                };
                m.bloom_blocks = Some((a, b));
            }
        }
        Ok(())
    })?;
    Ok(m)
}

/// Parses a filter file's metadata.
pub(crate) fn parse(text: &str) -> Res<FilterFileMeta> {
    let mut r = Reader { text, s: text.as_bytes(), at: 0 };
    let (mut lists, mut filter, mut keys, mut generator) = (Vec::new(), None, [0; 2], None);
    let mut allow = None;
    r.object(&FILE, 0b11111, &mut |r, i| {
        match i {
            0 => r.array(&mut |r| {
                lists.push(list_meta(r)?);
                Ok(())
            })?,
            1 => filter = Some(filter_meta(r)?),
            2 | 3 => keys[i - 2] = r.unsigned(u64::MAX)?,
            4 => generator = Some(r.string()?),
            _ => allow = if r.null()? { None } else { Some(allow_counts(r)?) },
        }
        Ok(())
    })?;
    if r.peek().is_some() {
        return Err(r.err("trailing characters"));
    }
    match (filter, generator) {
        (Some(filter), Some(generator)) => Ok(FilterFileMeta {
            lists,
            filter,
            exact_keys: keys[0],
            pdq_keys: keys[1],
            generator,
            allow,
            partial: None,
        }),
        _ => Err(r.err("missing field")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::keys::SplitMix;
    use crate::set::{BuildInfo, FilterKind, FilterParams, SetBuilder};

    /// The compact reader and serde_json agree (compared through serde_json's output).
    fn same(text: &str) {
        let ours = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let theirs: FilterFileMeta = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&theirs).unwrap(),
            "{text}"
        );
    }

    fn metadata_of(filter: &[u8]) -> String {
        let len = u32::from_le_bytes(filter[12..16].try_into().unwrap()) as usize;
        String::from_utf8(filter[64..64 + len].to_vec()).unwrap()
    }

    #[test]
    fn reads_what_the_writer_writes() {
        for params in [
            FilterParams { salt: 0x0123_4567_89ab_cdef, ..Default::default() },
            FilterParams { kind: FilterKind::Bloom, fpr: 1e-6, salt: 9, ..Default::default() },
            FilterParams { pdq: None, fpr: 0.003, salt: u64::MAX, ..Default::default() },
        ] {
            let mut b = SetBuilder::new();
            let l = b.add_list(ListInfo::new("a \"list\" \u{e9}\u{1f600}\\", "c\n", "")).unwrap();
            b.add_sha256(l, crate::Sha256([7; 32]));
            b.add_pdq(l, crate::PdqHash([3; 32]), Some(80));
            b.add_list(ListInfo::new("empty", "x", "y")).unwrap();
            if params.kind == FilterKind::Bloom {
                b.allow_sha256(crate::Sha256([8; 32]));
                b.allow_pdq(crate::PdqHash([9; 32]));
            }
            let info = BuildInfo { set_version: 5, created: 6, signing_key: None };
            let (_, filter) = b.build_both(&params, &info).unwrap();
            let text = metadata_of(&filter);
            same(&text);
            let meta = parse(&text).unwrap();
            assert_eq!(meta.filter.params().unwrap(), params);
        }
        let demo = include_bytes!("../../../schoon-cli/assets/default.filter");
        same(&metadata_of(demo));
    }

    #[test]
    fn accepts_what_serde_accepts() {
        let list =
            r#"{"name":"n","category":"c","source":"s","md5":1,"sha1":2,"sha256":3,"pdq":4}"#;
        let filter = r#"{"kind":"fuse","target_fpr":0.0001,"salt":"00ff","pdq":{"bands":8,"bits":37,"flips":3,"fingerprint":16}}"#;
        let base = format!(
            r#"{{"lists":[{list}],"filter":{filter},"exact_keys":1,"pdq_keys":2,"generator":"g"}}"#
        );
        same(&base);
        for text in [
            // Order, whitespace, unknown fields of every type.
            format!(
                " {{ \"generator\" : \"g\" , \"extra\": [1, -2.5e3, {{\"a\": [null, true, false]}}, \"\\u00e9\"],\r\n\t\"pdq_keys\":2,\"exact_keys\":1,\"filter\":{filter},\"lists\":[{list},{list}] }} "
            ),
            base.replace("\"fingerprint\":16", "\"fingerprint\":16,\"x\":{}"),
            base.replace(",\"fingerprint\":16", ""),
            base.replace("{\"bands\":8,\"bits\":37,\"flips\":3,\"fingerprint\":16}", "null"),
            base.replace(",\"pdq\":{\"bands\":8,\"bits\":37,\"flips\":3,\"fingerprint\":16}", ""),
            base.replace("\"salt\"", "\"bloom_blocks\":[4, 0],\"salt\""),
            base.replace("\"salt\"", "\"bloom_blocks\":null,\"salt\""),
            base.replace("\"pdq\":4}", "\"pdq\":4,\"regions\":9}"),
            base.replace(
                "\"generator\"",
                "\"allow\":{\"pdq\":3,\"md5\":1,\"sha1\":0,\"sha256\":2,\"x\":[]},\"generator\"",
            ),
            base.replace("\"generator\"", "\"allow\":null,\"generator\""),
            base.replace("0.0001", "1e-4").replace("\"n\"", "\"\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\""),
            base.replace("0.0001", "1E-04"),
            base.replace("0.0001", "0.30000000000000004"),
            base.replace("0.0001", "-0.0"),
            base.replace("0.0001", "5"),
            base.replace("\"lists\":[{", "\"lists\":[ ] , \"x\":[{")
                .replace("\"lists\":[ ]", "\"lists\":[]"),
        ] {
            same(&text);
        }
        // Deep nesting in a skipped value.
        let deep = format!("{}1{}", "[{\"a\":".repeat(1000), "}]".repeat(1000));
        same(&base.replace("\"generator\"", &format!("\"deep\":{deep},\"generator\"")));
    }

    #[test]
    fn refuses_what_serde_refuses() {
        let base = r#"{"lists":[],"filter":{"kind":"fuse","target_fpr":0.0001,"salt":"00","pdq":{"bands":8,"bits":37,"flips":3}},"exact_keys":1,"pdq_keys":2,"generator":"g"}"#;
        parse(base).unwrap();
        for (from, to) in [
            ("\"generator\":\"g\"", ""),
            ("\"generator\":\"g\"", "\"generator\":\"g\","),
            ("\"exact_keys\":1", "\"exact_keys\":-1"),
            ("\"exact_keys\":1", "\"exact_keys\":-0"),
            ("\"generator\":\"g\"", "\"allow\":{\"md5\":1},\"generator\":\"g\""),
            ("\"generator\":\"g\"", "\"allow\":[],\"generator\":\"g\""),
            (
                "\"generator\":\"g\"",
                "\"allow\":{\"md5\":1,\"sha1\":0,\"sha256\":2,\"pdq\":-3},\"generator\":\"g\"",
            ),
            ("\"generator\":\"g\"", "\"allow\":null,\"allow\":null,\"generator\":\"g\""),
            ("\"exact_keys\":1", "\"exact_keys\":1.0"),
            ("\"exact_keys\":1", "\"exact_keys\":1e0"),
            ("\"exact_keys\":1", "\"exact_keys\":18446744073709551616"),
            ("\"exact_keys\":1", "\"exact_keys\":01"),
            ("\"exact_keys\":1", "\"exact_keys\":\"1\""),
            ("\"exact_keys\":1", "\"exact_keys\":1,\"exact_keys\":1"),
            ("\"bands\":8", "\"bands\":256"),
            ("\"bands\":8,", ""),
            ("\"target_fpr\":0.0001", "\"target_fpr\":.5"),
            ("\"target_fpr\":0.0001", "\"target_fpr\":1."),
            ("\"target_fpr\":0.0001", "\"target_fpr\":1e"),
            ("\"target_fpr\":0.0001", "\"target_fpr\":-"),
            ("\"target_fpr\":0.0001", "\"target_fpr\":null"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fu\nse\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\ud800\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\udc00x\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\x\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"\\u12g4\""),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse"),
            ("\"kind\":\"fuse\"", "\"kind\":fuse"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"x\":tru"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"x\":[1,]"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"bloom_blocks\":[1]"),
            ("\"kind\":\"fuse\"", "\"kind\":\"fuse\",\"bloom_blocks\":[1,2,3]"),
            ("\"kind\":\"fuse\"", "'kind':\"fuse\""),
            ("\"lists\":[]", "\"lists\":[{}]"),
            ("\"lists\":[]", "\"lists\":{}"),
            ("}", "} x"),
            ("}", "}}"),
        ] {
            let text = base.replacen(from, to, 1);
            assert!(parse(&text).is_err(), "accepted {text}");
            assert!(serde_json::from_str::<FilterFileMeta>(&text).is_err(), "serde accepts {text}");
        }
        for text in ["", " ", "[]", "{", "null"] {
            assert!(parse(text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn decimals_convert_exactly() {
        let mut rng = SplitMix(11);
        let check = |text: &str, digits: u128, exponent: i32| {
            let want: f64 = text.parse().unwrap();
            assert_eq!(
                decimal_to_f64(digits, exponent).map(f64::to_bits),
                Some(want.to_bits()),
                "{text}"
            );
        };
        for _ in 0..200_000 {
            let n = 1 + (rng.next_u64() % 38) as i32;
            let mut digits = 0u128;
            let mut text = String::new();
            for _ in 0..n {
                let d = (rng.next_u64() % 10) as u8;
                digits = digits * 10 + u128::from(d);
                text.push(char::from(b'0' + d));
            }
            if digits == 0 {
                continue;
            }
            // digits < 10^n, so the value stays between 10^-38 and 10^37.
            let exponent = -38 + (rng.next_u64() % (76 - n as u64)) as i32;
            check(&format!("{text}e{exponent}"), digits, exponent);
        }
        // Shortest representations (what serde_json writes), and halfway cases.
        for _ in 0..100_000 {
            let x = f64::from_bits(rng.next_u64() >> 2) % 1.0;
            if !(1e-21..1.0).contains(&x) {
                continue;
            }
            let text = format!("{x:e}");
            let (m, e) = text.split_once('e').unwrap();
            let frac = m.split_once('.').map_or("", |p| p.1);
            let digits: u128 = m.replace('.', "").parse().unwrap();
            let exponent = e.parse::<i32>().unwrap() - frac.len() as i32;
            check(&text, digits, exponent);
            assert_eq!(decimal_to_f64(digits, exponent), Some(x));
        }
        check("9007199254740993", 9_007_199_254_740_993, 0);
        check("9007199254740995e-20", 9_007_199_254_740_995, -20);
        check("1e-38", 1, -38);
        check("99999999999999999999999999999999999999", 10u128.pow(38) - 1, 0);
        assert_eq!(decimal_to_f64(1, 38), None);
        assert_eq!(decimal_to_f64(1, -39), None);
        assert_eq!(decimal_to_f64(0, -400), Some(0.0));
    }

    /// A random string of characters JSON must escape or encode in several bytes.
    fn random_text(rng: &mut SplitMix) -> String {
        const POOL: [char; 12] = [
            'a',
            'Z',
            ' ',
            '"',
            '\\',
            '/',
            '\n',
            '\u{1}',
            '\u{7f}',
            '\u{e9}',
            '\u{2028}',
            '\u{1f600}',
        ];
        let len = rng.next_u64() % 8;
        (0..len).map(|_| POOL[(rng.next_u64() % POOL.len() as u64) as usize]).collect()
    }

    /// A count of any magnitude, 0 and `u64::MAX` included.
    fn random_count(rng: &mut SplitMix) -> u64 {
        match rng.next_u64() % 4 {
            0 => 0,
            1 => u64::MAX,
            _ => rng.next_u64() >> (rng.next_u64() % 64),
        }
    }

    /// A false-positive rate as serde_json writes it (within the reader's documented range).
    fn random_fpr(rng: &mut SplitMix) -> f64 {
        match rng.next_u64() % 6 {
            0 => [0.0, -0.0, 1.0, 5.0, 1e-4, 0.003][(rng.next_u64() % 6) as usize],
            1 => -((rng.next_u64() % 1000) as f64) / 7.0,
            _ => loop {
                let x = f64::from_bits(rng.next_u64() >> 2) % 1.0;
                if (1e-21..1.0).contains(&x) {
                    break x;
                }
            },
        }
    }

    fn random_meta(rng: &mut SplitMix) -> FilterFileMeta {
        let mut flip = || rng.next_u64().is_multiple_of(2);
        let (some_pdq, some_blocks, some_allow) = (flip(), flip(), flip());
        let lists = (0..rng.next_u64() % 4)
            .map(|_| ListMeta {
                info: ListInfo::new(random_text(rng), random_text(rng), random_text(rng)),
                md5: random_count(rng),
                sha1: random_count(rng),
                sha256: random_count(rng),
                pdq: random_count(rng),
                regions: random_count(rng),
            })
            .collect();
        let byte = |rng: &mut SplitMix| rng.next_u64() as u8;
        let kind = match rng.next_u64() % 3 {
            0 => "fuse".to_owned(),
            1 => "bloom".to_owned(),
            _ => random_text(rng),
        };
        let filter = FilterMeta {
            kind,
            target_fpr: random_fpr(rng),
            salt: format!("{:016x}", rng.next_u64()),
            pdq: some_pdq.then(|| BandParams {
                bands: byte(rng),
                bits: byte(rng),
                flips: byte(rng),
                fingerprint: byte(rng),
            }),
            bloom_blocks: some_blocks.then(|| (rng.next_u64() as u32, rng.next_u64() as u32)),
        };
        FilterFileMeta {
            lists,
            filter,
            exact_keys: random_count(rng),
            pdq_keys: random_count(rng),
            generator: random_text(rng),
            allow: some_allow.then(|| AllowCounts {
                md5: random_count(rng),
                sha1: random_count(rng),
                sha256: random_count(rng),
                pdq: random_count(rng),
            }),
            partial: None,
        }
    }

    /// The nearest double to the `target_fpr` number of a metadata text (std's parser).
    fn fpr_as_written(text: &str) -> f64 {
        let at = text.find("\"target_fpr\"").unwrap() + "\"target_fpr\"".len();
        let rest = text[at..].trim_start().strip_prefix(':').unwrap().trim_start();
        let end = rest.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap();
        rest[..end].parse().unwrap()
    }

    /// The reader against serde_json on generated metadata: what serde_json writes (compact
    /// or pretty) reads back to the same values; every truncation is refused; of random
    /// edits, the reader accepts only what serde_json accepts, with the same values, and
    /// refuses what serde_json accepts only for numbers outside its documented range.
    #[test]
    fn agrees_with_serde_json_on_generated_metadata() {
        let mut rng = SplitMix(15);
        const EDIT: &[u8] = b"{}[],:\"\\ 019-+.eEnulltrufase";
        let (mut edits, mut accepted) = (0, 0);
        for _ in 0..300 {
            let meta = random_meta(&mut rng);
            let compact = serde_json::to_string(&meta).unwrap();
            let pretty = serde_json::to_string_pretty(&meta).unwrap();
            for text in [&compact, &pretty] {
                let ours = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(serde_json::to_string(&ours).unwrap(), compact, "{text}");
            }
            for end in (0..compact.len()).filter(|&i| compact.is_char_boundary(i)) {
                assert!(parse(&compact[..end]).is_err(), "accepted {}", &compact[..end]);
            }
            for _ in 0..40 {
                let mut bytes = compact.clone().into_bytes();
                let at = (rng.next_u64() % bytes.len() as u64) as usize;
                let c = EDIT[(rng.next_u64() % EDIT.len() as u64) as usize];
                match rng.next_u64() % 3 {
                    0 => bytes[at] = c,
                    1 => bytes.insert(at, c),
                    _ => drop(bytes.remove(at)),
                }
                let Ok(text) = String::from_utf8(bytes) else { continue };
                edits += 1;
                let theirs = serde_json::from_str::<FilterFileMeta>(&text);
                match (parse(&text), theirs) {
                    (Ok(ours), Ok(mut theirs)) => {
                        accepted += 1;
                        // serde_json without its `float_roundtrip` feature may miss the nearest
                        // double by a few ulps; the reader gives the nearest, as std does.
                        let (a, b) = (ours.filter.target_fpr, theirs.filter.target_fpr);
                        assert_eq!(a.to_bits(), fpr_as_written(&text).to_bits(), "{text}");
                        assert!((a - b).abs() <= a.abs() * 1e-15, "{text}");
                        theirs.filter.target_fpr = a;
                        assert_eq!(
                            serde_json::to_string(&ours).unwrap(),
                            serde_json::to_string(&theirs).unwrap(),
                            "{text}"
                        );
                    }
                    (Ok(_), Err(e)) => panic!("accepted what serde_json refuses ({e}): {text}"),
                    (Err(e), Ok(_)) => assert!(
                        e.to_string().contains("number out of the supported range"),
                        "refused what serde_json accepts ({e}): {text}"
                    ),
                    (Err(_), Err(_)) => {}
                }
            }
        }
        // The edits reach both answers, not only refusals.
        assert!(edits > 5_000 && accepted > 100, "{edits} edits, {accepted} accepted");
    }
}
