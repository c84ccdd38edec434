//! Hostile and damaged input: nothing may panic, limits are enforced before
//! allocation, unsupported processes are reported as such.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

mod common;

use common::{Pattern, XorShift, rgb_image, scales};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use schoon_jpeg::{ColorKind, Error, Limits, Scale, Unsupported, decode_luma, read_header};

fn encode(w: u32, h: u32, pat: Pattern, progressive: bool, restart: u16, grey: bool) -> Vec<u8> {
    let rgb = rgb_image(w, h, pat, 42);
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 80);
    enc.set_sampling_factor(SamplingFactor::F_2_2);
    enc.set_progressive(progressive);
    enc.set_restart_interval(restart);
    if grey {
        let g: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
        enc.encode(&g, w as u16, h as u16, ColorType::Luma).unwrap();
    } else {
        enc.encode(&rgb, w as u16, h as u16, ColorType::Rgb).unwrap();
    }
    out
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        encode(48, 40, Pattern::Shapes, false, 0, false),
        encode(48, 40, Pattern::Noise, false, 2, false),
        encode(40, 33, Pattern::Gradient, true, 0, false),
        encode(40, 33, Pattern::Shapes, true, 3, true),
    ]
}

/// Finds the offset of marker `m` (the 0xFF byte).
fn find(data: &[u8], m: u8) -> usize {
    data.windows(2).position(|w| w == [0xFF, m]).unwrap()
}

#[test]
fn tiny_inputs() {
    let cases: [&[u8]; 8] = [
        &[],
        &[0xFF],
        &[0xFF, 0xD8],
        &[0xFF, 0xD8, 0xFF],
        &[0xFF, 0xD8, 0xFF, 0xD9],
        &[0x89, b'P', b'N', b'G'],
        &[0xFF, 0xD8, 0xFF, 0xC0, 0x00],
        &[0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x02, 0xFF, 0xD9],
    ];
    for c in cases {
        for s in scales() {
            assert!(decode_luma(c, s, &Limits::default()).is_err(), "{c:?}");
        }
        assert!(read_header(c).is_err());
    }
    assert_eq!(decode_luma(&[], Scale::Eighth, &Limits::default()), Err(Error::NotJpeg));
    let e = decode_luma(&[0xFF, 0xD8, 0xFF, 0xD9], Scale::Eighth, &Limits::default()).unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }), "{e}");
    // Messages are lowercase and name the problem.
    assert_eq!(e.to_string(), "truncated jpeg: data ends at offset 4 while reading frame header");
}

#[test]
fn garbage_does_not_panic() {
    let mut rng = XorShift(99);
    for len in [3usize, 10, 100, 1000, 5000] {
        for _ in 0..20 {
            let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            v[0] = 0xFF;
            if len > 1 {
                v[1] = 0xD8;
            }
            for s in scales() {
                let _ = decode_luma(&v, s, &Limits::default());
            }
            let _ = read_header(&v);
        }
    }
}

#[test]
fn truncation_at_every_percent() {
    for data in seeds() {
        let full = decode_luma(&data, Scale::Eighth, &Limits::default()).unwrap();
        let sos = find(&data, 0xDA);
        for pct in 0..=100 {
            let cut = data.len() * pct / 100;
            let part = &data[..cut];
            for s in scales() {
                let r = decode_luma(part, s, &Limits::default());
                if cut > sos + 14 {
                    // Entropy data truncated: decoded, missing blocks are zero.
                    let l = r.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
                    if s == Scale::Eighth {
                        assert_eq!((l.width, l.height), (full.width, full.height));
                    }
                } else {
                    assert!(r.is_err() || cut > sos, "cut {cut} of {}", data.len());
                }
            }
            let _ = read_header(part);
        }
    }
}

#[test]
fn random_mutations_do_not_panic() {
    let seeds = seeds();
    let mut rng = XorShift(0x5eed_1234_5678_9abc);
    let n = if cfg!(debug_assertions) { 3000 } else { 12000 };
    let mut ok = 0;
    for i in 0..n {
        let mut d = seeds[i % seeds.len()].clone();
        let flips = 1 + rng.below(4) as usize;
        for _ in 0..flips {
            let at = rng.below(d.len() as u64) as usize;
            match rng.below(4) {
                0 => d[at] ^= 1 << rng.below(8),
                1 => d[at] = rng.next() as u8,
                2 => d[at] = 0xFF,
                _ => {
                    // Delete or duplicate a byte.
                    if rng.below(2) == 0 {
                        d.remove(at);
                    } else {
                        d.insert(at, d[at]);
                    }
                }
            }
        }
        let scale = scales()[rng.below(3) as usize];
        if decode_luma(&d, scale, &Limits::default()).is_ok() {
            ok += 1;
        }
        let _ = read_header(&d);
    }
    println!("{n} mutations, {ok} decoded without error");
}

/// A minimal grey baseline file declaring `w x h`, with no real entropy data.
fn fake_header(w: u16, h: u16, sof: u8, precision: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00];
    v.extend(std::iter::repeat_n(1u8, 64));
    v.extend_from_slice(&[0xFF, sof, 0x00, 0x0B, precision]);
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[1, 1, 0x11, 0]);
    // DC and AC tables with one 1-bit code each (symbol 0).
    v.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x00, 1]);
    v.extend(std::iter::repeat_n(0u8, 15));
    v.push(0);
    v.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x10, 1]);
    v.extend(std::iter::repeat_n(0u8, 15));
    v.push(0);
    v.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    v.extend_from_slice(&[0x00, 0x00, 0xFF, 0xD9]);
    v
}

#[test]
fn huge_declared_size_is_refused() {
    let d = fake_header(65535, 65535, 0xC0, 8);
    let h = read_header(&d).unwrap();
    assert_eq!((h.width, h.height), (65535, 65535));
    for s in scales() {
        match decode_luma(&d, s, &Limits::default()) {
            Err(Error::LimitExceeded { width, height, .. }) => {
                assert_eq!((width, height), (65535, 65535))
            }
            other => panic!("{other:?}"),
        }
    }
    // Per-axis and pixel-count limits.
    let d = fake_header(1000, 10, 0xC0, 8);
    let lim = Limits { max_width: 999, ..Limits::default() };
    assert!(matches!(decode_luma(&d, Scale::Eighth, &lim), Err(Error::LimitExceeded { .. })));
    let lim = Limits { max_pixels: 9999, ..Limits::default() };
    assert!(matches!(decode_luma(&d, Scale::Eighth, &lim), Err(Error::LimitExceeded { .. })));
    let e = decode_luma(&fake_header(65535, 65535, 0xC0, 8), Scale::Eighth, &Limits::default())
        .unwrap_err();
    assert!(e.to_string().contains("65535x65535"), "{e}");
}

#[test]
fn large_declared_size_with_tiny_data_is_fast() {
    // Within the limits, but the data ends at once: decodes (grey) quickly.
    let d = fake_header(16000, 6000, 0xC0, 8);
    let t = std::time::Instant::now();
    let l = decode_luma(&d, Scale::Eighth, &Limits::default()).unwrap();
    assert_eq!((l.width, l.height), (2000, 750));
    assert!(t.elapsed().as_secs_f64() < 5.0);
}

#[test]
fn zero_size_is_malformed() {
    for (w, h) in [(0, 10), (10, 0)] {
        let d = fake_header(w, h, 0xC0, 8);
        assert!(matches!(read_header(&d), Err(Error::Malformed { .. })));
        assert!(matches!(
            decode_luma(&d, Scale::Eighth, &Limits::default()),
            Err(Error::Malformed { .. })
        ));
    }
}

#[test]
fn unsupported_processes() {
    let cases = [
        (0xC3, 8, Unsupported::Lossless),
        (0xC5, 8, Unsupported::Hierarchical),
        (0xC7, 8, Unsupported::Hierarchical),
        (0xC9, 8, Unsupported::Arithmetic),
        (0xCA, 8, Unsupported::Arithmetic),
        (0xCB, 8, Unsupported::Arithmetic),
        (0xC1, 12, Unsupported::Precision(12)),
        (0xC2, 16, Unsupported::Precision(16)),
    ];
    for (sof, p, want) in cases {
        let d = fake_header(64, 64, sof, p);
        for s in scales() {
            assert_eq!(decode_luma(&d, s, &Limits::default()), Err(Error::Unsupported(want)));
        }
        assert_eq!(read_header(&d), Err(Error::Unsupported(want)));
        assert!(Error::Unsupported(want).to_string().starts_with("unsupported jpeg: "));
    }
    // The same patch on a real file.
    let mut d = encode(32, 32, Pattern::Gradient, false, 0, false);
    let at = find(&d, 0xC0);
    d[at + 1] = 0xC9;
    assert_eq!(
        decode_luma(&d, Scale::Eighth, &Limits::default()),
        Err(Error::Unsupported(Unsupported::Arithmetic))
    );
}

#[test]
fn four_components_are_unsupported() {
    let (w, h) = (24u32, 16u32);
    let px: Vec<u8> = (0..w * h * 4).map(|i| (i * 7) as u8).collect();
    for (ct, want, color) in [
        (ColorType::Cmyk, Unsupported::Cmyk, ColorKind::Cmyk),
        (ColorType::Ycck, Unsupported::Ycck, ColorKind::Ycck),
    ] {
        let mut out = Vec::new();
        Encoder::new(&mut out, 80).encode(&px, w as u16, h as u16, ct).unwrap();
        assert_eq!(read_header(&out).unwrap().color, color);
        assert_eq!(read_header(&out).unwrap().components, 4);
        assert_eq!(
            decode_luma(&out, Scale::Eighth, &Limits::default()),
            Err(Error::Unsupported(want))
        );
    }
}

/// Offsets of all RSTn markers.
fn rst_offsets(d: &[u8]) -> Vec<usize> {
    let sos = find(d, 0xDA);
    (sos..d.len() - 1).filter(|&i| d[i] == 0xFF && (0xD0..=0xD7).contains(&d[i + 1])).collect()
}

#[test]
fn damaged_restart_markers() {
    let d = encode(128, 96, Pattern::Shapes, false, 2, false);
    let good = decode_luma(&d, Scale::Eighth, &Limits::default()).unwrap();
    let rst = rst_offsets(&d);
    assert!(rst.len() > 10);
    let diff = |l: &schoon_jpeg::Luma| {
        l.pixels.iter().zip(&good.pixels).filter(|(a, b)| (*a - *b).abs() > 1e-3).count()
    };
    // A wrong RST number is accepted: identical output.
    let mut wrong = d.clone();
    wrong[rst[5] + 1] = 0xD0 + ((wrong[rst[5] + 1] - 0xD0 + 3) & 7);
    assert_eq!(diff(&decode_luma(&wrong, Scale::Eighth, &Limits::default()).unwrap()), 0);
    // A missing RST marker: the decoder resynchronises at the next one; only
    // the MCUs of the affected intervals differ (2 intervals of 2 MCUs of 4 blocks).
    let mut missing = d.clone();
    missing.drain(rst[5]..rst[5] + 2);
    let l = decode_luma(&missing, Scale::Eighth, &Limits::default()).unwrap();
    assert!(diff(&l) <= 16, "{} cells differ", diff(&l));
    // Garbage bytes before an RST marker are skipped.
    let mut extra = d.clone();
    extra.splice(rst[7]..rst[7], [0x12, 0x34, 0x56]);
    let l = decode_luma(&extra, Scale::Eighth, &Limits::default()).unwrap();
    assert!(diff(&l) <= 8, "{} cells differ", diff(&l));
    // All RST markers removed: decodes (garbage after the first interval), no panic, no hang.
    let mut none = d.clone();
    for &o in rst.iter().rev() {
        none.drain(o..o + 2);
    }
    for s in scales() {
        decode_luma(&none, s, &Limits::default()).unwrap();
    }
}

#[test]
fn exif_orientation_is_reported() {
    let rgb = rgb_image(16, 16, Pattern::Gradient, 1);
    for o in [1u16, 3, 6, 8] {
        // Big-endian TIFF with one IFD0 entry: orientation.
        let mut exif = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        exif.extend_from_slice(&o.to_be_bytes());
        exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 80);
        enc.add_exif_metadata(&exif).unwrap();
        enc.encode(&rgb, 16, 16, ColorType::Rgb).unwrap();
        assert_eq!(read_header(&out).unwrap().exif_orientation, Some(o as u8));
    }
    let mut out = Vec::new();
    Encoder::new(&mut out, 80).encode(&rgb, 16, 16, ColorType::Rgb).unwrap();
    assert_eq!(read_header(&out).unwrap().exif_orientation, None);
}
