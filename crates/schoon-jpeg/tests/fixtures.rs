//! Generated fixtures (encoded with `jpeg-encoder`) compared with the `image`
//! crate's full decode: the reduced planes must equal the cell means of the
//! reference luma.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

mod common;

use common::{Pattern, Stats, compare, rgb_image, scales};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use schoon_jpeg::{ColorKind, Limits, Scale, decode_luma, read_header};

#[derive(Clone, Copy, Debug)]
struct Opts {
    quality: u8,
    grey: bool,
    sampling: SamplingFactor,
    progressive: bool,
    restart: u16,
}

fn encode(rgb: &[u8], w: u32, h: u32, o: Opts) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, o.quality);
    enc.set_sampling_factor(o.sampling);
    enc.set_progressive(o.progressive);
    enc.set_restart_interval(o.restart);
    if o.grey {
        let g: Vec<u8> = common::rgb_to_luma(rgb).iter().map(|&v| v.round() as u8).collect();
        enc.encode(&g, w as u16, h as u16, ColorType::Luma).unwrap();
    } else {
        enc.encode(rgb, w as u16, h as u16, ColorType::Rgb).unwrap();
    }
    out
}

/// Tolerances on complete cells: mean and max absolute error (grey levels).
/// Grey and smooth content only differ by rounding. Saturated colours
/// (noise, shapes) make the reference clamp R, G, B before computing luma,
/// and low-quality noise makes it clamp overshooting pixels, which box means
/// of the unclamped IDCT cannot reproduce exactly.
fn tolerance(scale: Scale, pat: Pattern, grey: bool) -> (f64, f64) {
    if std::env::var_os("FIXTURE_NO_TOL").is_some() {
        return (1e9, 1e9);
    }
    let saturated = !grey && !matches!(pat, Pattern::Gradient);
    match (saturated, scale) {
        (false, Scale::Eighth) => (0.1, 0.6),
        (false, Scale::Quarter) => (0.2, 2.0),
        (false, Scale::Half) => (0.3, 8.0),
        (true, Scale::Eighth) => (0.8, 3.0),
        (true, Scale::Quarter) => (1.5, 8.0),
        (true, Scale::Half) => (2.0, 20.0),
    }
}

fn check(name: &str, jpeg: &[u8], pat: Pattern, grey: bool, worst: &mut [Stats; 3]) {
    for (i, scale) in scales().into_iter().enumerate() {
        let st = compare(jpeg, scale).unwrap_or_else(|e| panic!("{name} {scale:?}: {e}"));
        let (mean_tol, max_tol) = tolerance(scale, pat, grey);
        assert!(st.mean_abs <= mean_tol && st.max_abs <= max_tol, "{name} {scale:?}: {st}");
        // Edge cells include the encoder's padding (arbitrary content): only a sanity bound.
        assert!(st.mean_abs_edge <= 20.0, "{name} {scale:?} edges: {st}");
        if std::env::var_os("FIXTURE_NO_TOL").is_some() {
            println!(
                "STAT {pat:?} {scale:?} {:.3} {:.2} n={} {name}",
                st.mean_abs, st.max_abs, st.n
            );
        }
        let w = &mut worst[i];
        w.mean_abs = w.mean_abs.max(st.mean_abs);
        w.max_abs = w.max_abs.max(st.max_abs);
        w.mean_abs_edge = w.mean_abs_edge.max(st.mean_abs_edge);
        w.max_abs_edge = w.max_abs_edge.max(st.max_abs_edge);
        w.n += st.n;
        w.n_edge += st.n_edge;
    }
}

const SIZES: [(u32, u32); 6] = [(1, 1), (7, 9), (16, 16), (33, 17), (333, 217), (64, 200)];

fn run_matrix(progressive: bool) {
    let samplings = [
        SamplingFactor::F_1_1,
        SamplingFactor::F_2_1,
        SamplingFactor::F_2_2,
        SamplingFactor::F_1_2,
    ];
    let pats = [Pattern::Gradient, Pattern::Noise, Pattern::Shapes];
    let mut worst = [Stats::default(); 3];
    let mut count = 0;
    for (si, &(w, h)) in SIZES.iter().enumerate() {
        for (pi, &pat) in pats.iter().enumerate() {
            let rgb = rgb_image(w, h, pat, (si * 10 + pi) as u64 + 7);
            for grey in [true, false] {
                let samps: &[SamplingFactor] = if grey { &samplings[..1] } else { &samplings };
                for (k, &sampling) in samps.iter().enumerate() {
                    let restart = [0u16, 1, 3, 0, 7, 2][(k + si + pi) % 6];
                    let quality = [92u8, 75, 50][(k + si) % 3];
                    let o = Opts { quality, grey, sampling, progressive, restart };
                    let jpeg = encode(&rgb, w, h, o);
                    let hd = read_header(&jpeg).unwrap();
                    assert_eq!((hd.width, hd.height), (w, h));
                    assert_eq!(hd.progressive, progressive);
                    assert_eq!(hd.color, if grey { ColorKind::Grey } else { ColorKind::YCbCr });
                    check(&format!("{w}x{h} {pat:?} {o:?}"), &jpeg, pat, grey, &mut worst);
                    count += 1;
                }
            }
        }
    }
    for (s, w) in scales().iter().zip(&worst) {
        println!(
            "{} {count} files, {s:?}: worst mean {:.3} worst max {:.2}; edges worst mean {:.3} max {:.2}",
            if progressive { "progressive" } else { "baseline" },
            w.mean_abs,
            w.max_abs,
            w.mean_abs_edge,
            w.max_abs_edge
        );
    }
}

#[test]
fn baseline_matrix() {
    run_matrix(false);
}

#[test]
fn progressive_matrix() {
    run_matrix(true);
}

#[test]
fn large_photo_like() {
    // A bigger image with mixed content, 4:2:0, with and without restarts.
    let (w, h) = (1000, 750);
    let mut rgb = rgb_image(w, h, Pattern::Shapes, 3);
    let noise = rgb_image(w, h, Pattern::Noise, 5);
    let grad = rgb_image(w, h, Pattern::Gradient, 5);
    for i in 0..rgb.len() {
        rgb[i] =
            ((rgb[i] as u32 * 2 + grad[i] as u32 * 2 + (noise[i] as u32 >> 2)) / 4).min(255) as u8;
    }
    for (progressive, restart) in [(false, 0), (false, 5), (true, 0), (true, 11)] {
        let jpeg = encode(
            &rgb,
            w,
            h,
            Opts {
                quality: 85,
                grey: false,
                sampling: SamplingFactor::F_2_2,
                progressive,
                restart,
            },
        );
        for scale in scales() {
            let st = compare(&jpeg, scale).unwrap();
            println!("1000x750 progressive={progressive} restart={restart} {scale:?}: {st}");
            let (mean_tol, max_tol) = tolerance(scale, Pattern::Shapes, false);
            assert!(st.mean_abs <= mean_tol && st.max_abs <= max_tol, "{scale:?}: {st}");
        }
    }
}

#[test]
fn flat_image_is_exact() {
    let rgb = rgb_image(40, 24, Pattern::Flat, 1);
    let jpeg = encode(
        &rgb,
        40,
        24,
        Opts {
            quality: 90,
            grey: false,
            sampling: SamplingFactor::F_2_2,
            progressive: false,
            restart: 0,
        },
    );
    let y = 0.299 * 120.0 + 0.587 * 130.0 + 0.114 * 140.0;
    for scale in scales() {
        let l = decode_luma(&jpeg, scale, &Limits::default()).unwrap();
        for &p in &l.pixels {
            assert!((p - y).abs() < 1.5, "{scale:?}: {p} vs {y}");
        }
    }
}

/// zune-jpeg (the `image` crate's decoder) mis-decodes 4x2, 1x4 and 2x4 luma
/// sampling, and 4:1:1 with some restart intervals, so these are checked
/// against the source pixels instead.
#[test]
fn exotic_sampling_vs_source() {
    for (w, h) in [(37u32, 41u32), (130, 67)] {
        let rgb = rgb_image(w, h, Pattern::Gradient, 9);
        let src = common::rgb_to_luma(&rgb);
        for sampling in [
            SamplingFactor::F_4_1,
            SamplingFactor::F_4_2,
            SamplingFactor::F_1_4,
            SamplingFactor::F_2_4,
        ] {
            for (progressive, restart) in [(false, 0), (false, 3), (true, 0), (true, 2)] {
                let o = Opts { quality: 95, grey: false, sampling, progressive, restart };
                let jpeg = encode(&rgb, w, h, o);
                for scale in scales() {
                    let l = decode_luma(&jpeg, scale, &Limits::default()).unwrap();
                    let st = common::compare_with(&l, w, h, &src, scale).unwrap();
                    println!("{w}x{h} {o:?} {scale:?} vs source: {st}");
                    assert!(st.mean_abs < 0.6 && st.max_abs < 2.5, "{o:?} {scale:?}: {st}");
                }
            }
        }
    }
}

/// RGB-coded JPEGs: the encoder is told the input is already YCbCr, so the
/// R, G, B planes are coded as they are; an Adobe APP14 segment with
/// transform 0, or component ids 'R', 'G', 'B' without JFIF, mark them as RGB.
#[test]
fn rgb_coded() {
    let (w, h) = (72u32, 40u32);
    let rgb = rgb_image(w, h, Pattern::Gradient, 4);
    let src = common::rgb_to_luma(&rgb);
    let mut plain = Vec::new();
    let mut enc = Encoder::new(&mut plain, 95);
    enc.set_sampling_factor(SamplingFactor::F_1_1);
    enc.encode(&rgb, w as u16, h as u16, ColorType::Ycbcr).unwrap();
    let sof = plain.windows(2).position(|p| p == [0xFF, 0xC0]).unwrap();
    // Variant 1: Adobe APP14, transform 0, right after SOI.
    let mut adobe = plain.clone();
    let app14 = [0xFF, 0xEE, 0x00, 0x0E, b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, 0];
    adobe.splice(2..2, app14);
    // Variant 2: no JFIF APP0, component ids 'R', 'G', 'B' (in SOF and SOS).
    let mut ids = plain.clone();
    let sos = ids.windows(2).position(|p| p == [0xFF, 0xDA]).unwrap();
    for (i, id) in b"RGB".iter().enumerate() {
        ids[sof + 10 + 3 * i] = *id;
        ids[sos + 5 + 2 * i] = *id;
    }
    assert_eq!(&ids[2..4], &[0xFF, 0xE0]);
    let app0_len = u16::from_be_bytes([ids[4], ids[5]]) as usize;
    ids.drain(2..4 + app0_len);
    for (name, jpeg) in [("adobe", &adobe), ("ids", &ids)] {
        assert_eq!(read_header(jpeg).unwrap().color, ColorKind::Rgb, "{name}");
        for scale in scales() {
            let l = decode_luma(jpeg, scale, &Limits::default()).unwrap();
            let st = common::compare_with(&l, w, h, &src, scale).unwrap();
            println!("rgb {name} {scale:?} vs source: {st}");
            assert!(st.mean_abs < 0.5 && st.max_abs < 2.0, "{name} {scale:?}: {st}");
        }
    }
    // The reference decoder agrees for the Adobe variant.
    for scale in scales() {
        let st = compare(&adobe, scale).unwrap();
        assert!(st.mean_abs < 0.3, "{scale:?}: {st}");
    }
    // Without any marker the same file is YCbCr.
    assert_eq!(read_header(&plain).unwrap().color, ColorKind::YCbCr);
}
