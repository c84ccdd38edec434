//! EXIF orientation (TIFF IFD0 tag 0x0112) from an APP1 payload.

/// Returns the orientation (1..=8) from an APP1 segment payload (the bytes
/// after the length field), or `None` if it is not Exif or has no valid tag.
pub(crate) fn orientation(app1: &[u8]) -> Option<u8> {
    let tiff = app1.strip_prefix(b"Exif\0")?;
    // Usually "Exif\0\0"; tolerate a missing second NUL only if a TIFF header follows.
    let tiff = match tiff.first() {
        Some(0) => tiff.get(1..)?,
        _ => tiff,
    };
    let big = match tiff.get(0..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b = tiff.get(o..o.checked_add(2)?)?;
        let a = [*b.first()?, *b.get(1)?];
        Some(if big { u16::from_be_bytes(a) } else { u16::from_le_bytes(a) })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let b = tiff.get(o..o.checked_add(4)?)?;
        let a = <[u8; 4]>::try_from(b).ok()?;
        Some(if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let n = usize::from(u16_at(ifd)?);
    for i in 0..n {
        let e = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        let tag = u16_at(e)?;
        if tag != 0x0112 {
            continue;
        }
        let typ = u16_at(e + 2)?;
        let count = u32_at(e + 4)?;
        if count == 0 {
            return None;
        }
        let v = match typ {
            3 => u32::from(u16_at(e + 8)?),    // SHORT
            4 => u32_at(e + 8)?,               // LONG (seen in the wild)
            1 => u32::from(*tiff.get(e + 8)?), // BYTE
            _ => return None,
        };
        return if (1..=8).contains(&v) { Some(v as u8) } else { None };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exif(big: bool, typ: u16, value: u16) -> Vec<u8> {
        let mut v = b"Exif\0\0".to_vec();
        let p16 = |v: &mut Vec<u8>, x: u16| {
            if big {
                v.extend_from_slice(&x.to_be_bytes())
            } else {
                v.extend_from_slice(&x.to_le_bytes())
            }
        };
        let p32 = |v: &mut Vec<u8>, x: u32| {
            if big {
                v.extend_from_slice(&x.to_be_bytes())
            } else {
                v.extend_from_slice(&x.to_le_bytes())
            }
        };
        v.extend_from_slice(if big { b"MM" } else { b"II" });
        p16(&mut v, 42);
        p32(&mut v, 8);
        p16(&mut v, 2);
        // Some other tag first.
        p16(&mut v, 0x010F);
        p16(&mut v, 2);
        p32(&mut v, 4);
        p32(&mut v, 0);
        p16(&mut v, 0x0112);
        p16(&mut v, typ);
        p32(&mut v, 1);
        p16(&mut v, value);
        p16(&mut v, 0);
        p32(&mut v, 0);
        v
    }

    #[test]
    fn both_byte_orders() {
        for big in [false, true] {
            for o in 1..=8 {
                assert_eq!(orientation(&exif(big, 3, o)), Some(o as u8));
            }
            assert_eq!(orientation(&exif(big, 3, 0)), None);
            assert_eq!(orientation(&exif(big, 3, 9)), None);
            assert_eq!(orientation(&exif(big, 7, 1)), None);
        }
    }

    #[test]
    fn truncations_do_not_panic() {
        let e = exif(true, 3, 6);
        for n in 0..e.len() {
            let _ = orientation(&e[..n]);
        }
        assert_eq!(orientation(b"XMP"), None);
    }
}
