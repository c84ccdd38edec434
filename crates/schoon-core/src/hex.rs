//! Hex encoding without a dependency.

use crate::error::Error;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[inline]
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes of hex (either case) into an array.
pub fn decode_array<const N: usize>(s: &str, kind: &str) -> Result<[u8; N], Error> {
    let shown = || s.chars().take(80).collect::<String>();
    if s.len() != N * 2 {
        return Err(Error::caller(format!(
            "invalid {kind} hash '{}': expected {} hex digits, found {}",
            shown(),
            N * 2,
            s.len()
        )));
    }
    let mut out = [0u8; N];
    let mut ok = true;
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let (h, l) = (nibble(pair[0]), nibble(pair[1]));
        ok &= h.is_some() && l.is_some();
        *o = (h.unwrap_or(0) << 4) | l.unwrap_or(0);
    }
    if !ok {
        return Err(Error::caller(format!("invalid {kind} hash '{}': not hexadecimal", shown())));
    }
    Ok(out)
}
