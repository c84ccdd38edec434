//! Hostile and broken inputs: every one gives a typed error (or a hash), never a panic, and
//! declared sizes are refused before any large allocation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)] // tests

use std::io::{Cursor, Write};

use image::{ImageFormat, RgbImage};
use schoon_core::{
    Error, ErrorKind, HashOptions, LimitKind, Limits, PdqMode, hash_bytes, hash_image,
};

fn scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = ((x * 7 + y * 3) % 256) as u8;
        image::Rgb([v, (x % 256) as u8, (y % 256) as u8])
    })
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

fn both_modes() -> [HashOptions; 2] {
    [HashOptions::default(), HashOptions { mode: PdqMode::Reference, ..Default::default() }]
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid PNG whose IHDR is replaced by one declaring `w x h` (with a correct CRC).
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let small = encode(&scene(8, 8), ImageFormat::Png);
    let mut out = small[..8].to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    out.extend_from_slice(&small[8 + 25..]);
    out
}

/// A JPEG whose SOF0 is patched to declare `w x h`.
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = encode(&scene(16, 16), ImageFormat::Jpeg);
    let sof = bytes.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

fn assert_limit(bytes: &[u8], kinds: &[LimitKind]) {
    for options in both_modes() {
        let err = hash_image(bytes, &options).unwrap_err();
        match &err {
            Error::Limit(l) => assert!(kinds.contains(&l.kind), "{err}"),
            other => panic!("expected a limit error, got {other:?}"),
        }
        assert_eq!(err.kind(), ErrorKind::Limit);
    }
}

#[test]
fn empty_input() {
    let r = hash_bytes(b"", &HashOptions::default());
    assert_eq!(r.exact.bytes, 0);
    assert_eq!(r.image.unwrap_err().to_string(), "empty input: 0 bytes");
}

#[test]
fn wrong_magic_and_unsupported_formats() {
    let e = hash_image(b"hello world, not an image", &HashOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(e.to_string().contains("68656c6c6f20776f"), "{e}");
    let tiff = b"II*\0\x08\0\0\0rest of a tiff";
    let e = hash_image(tiff, &HashOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(e.to_string(), "unsupported image format tiff");
}

#[test]
fn exact_hashes_survive_decode_failures() {
    let bytes = b"\xFF\xD8\xFF garbage after a jpeg signature";
    let r = hash_bytes(bytes, &HashOptions::default());
    assert_eq!(r.exact.bytes, bytes.len() as u64);
    assert_eq!(r.exact.sha256, schoon_core::sha256(bytes));
    assert!(r.image.is_err());
}

#[test]
fn truncated_files_of_every_format() {
    let img = scene(97, 61);
    let mut ok_cuts = Vec::new();
    for format in
        [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::WebP]
    {
        let full = encode(&img, format);
        for options in both_modes() {
            assert!(hash_image(&full, &options).is_ok(), "{format:?} intact");
            let step = (full.len() / 97).max(1);
            // The last byte of a GIF (trailer) or WebP (padding) carries no pixel data.
            for cut in (1..full.len() - 1).step_by(step) {
                match hash_image(&full[..cut], &options) {
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::BadInput, "{format:?} cut at {cut}: {e}")
                    }
                    Ok(_) => ok_cuts.push(format!("{format:?}@{cut}/{}", full.len())),
                }
            }
        }
    }
    assert!(ok_cuts.is_empty(), "truncated files that hashed: {ok_cuts:?}");
}

#[test]
fn flipped_bytes_never_panic() {
    let img = scene(64, 48);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for format in
        [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::WebP]
    {
        let full = encode(&img, format);
        for _ in 0..300 {
            let mut bytes = full.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % bytes.len() as u64) as usize;
                bytes[i] ^= 1 << (next() % 8);
            }
            let _ = hash_bytes(&bytes, &HashOptions::default());
        }
    }
}

#[test]
fn huge_declared_dimensions_are_refused_from_the_header() {
    let jpeg = jpeg_declaring(65535, 65535);
    assert!(jpeg.len() < 2000);
    assert_limit(&jpeg, &[LimitKind::Width]);
    let e = hash_image(&jpeg, &HashOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "image width 65535 exceeds the limit of 16384");

    assert_limit(&png_declaring(65535, 65535), &[LimitKind::Width]);
    assert_limit(&png_declaring(16000, 16000), &[LimitKind::Pixels]);
    assert_limit(&png_declaring(100, 1_000_000), &[LimitKind::Height]);

    // GIF logical screen and BMP header.
    let mut gif = encode(&scene(8, 8), ImageFormat::Gif);
    gif[6..8].copy_from_slice(&65535u16.to_le_bytes());
    gif[8..10].copy_from_slice(&65535u16.to_le_bytes());
    assert_limit(&gif, &[LimitKind::Width]);
    let mut bmp = encode(&scene(8, 8), ImageFormat::Bmp);
    bmp[18..22].copy_from_slice(&65535i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&65535i32.to_le_bytes());
    let e = hash_image(&bmp, &HashOptions::default()).unwrap_err();
    assert_ne!(e.kind(), ErrorKind::Caller, "{e}");
}

#[test]
fn custom_limits_apply() {
    let png = encode(&scene(300, 200), ImageFormat::Png);
    let options = HashOptions {
        limits: Limits { max_pixels: 50_000, ..Limits::default() },
        ..Default::default()
    };
    let e = hash_image(&png, &options).unwrap_err();
    assert_eq!(e.to_string(), "pixel count 60000 exceeds the limit of 50000");
    let options = HashOptions {
        limits: Limits { max_input_bytes: 100, ..Limits::default() },
        ..Default::default()
    };
    let e = hash_image(&png, &options).unwrap_err();
    assert!(e.to_string().starts_with("input size (bytes)"), "{e}");
}

#[test]
fn png_with_a_huge_compressed_iccp_chunk() {
    // 256 MiB of zeros compress to about 256 KB: a decompression bomb in the colour profile.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        z.write_all(&zeros).unwrap();
    }
    let profile = z.finish().unwrap();
    let good = encode(&scene(32, 32), ImageFormat::Png);
    let mut bomb = good[..8 + 25].to_vec();
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend_from_slice(&profile);
    png_chunk(&mut bomb, b"iCCP", &iccp);
    bomb.extend_from_slice(&good[8 + 25..]);
    let start = std::time::Instant::now();
    for options in both_modes() {
        // Either the profile is ignored and the image hashes, or it is refused: no 256 MiB.
        match hash_image(&bomb, &options) {
            Ok(h) => assert_eq!(h.info.width, 32),
            Err(e) => assert_ne!(e.kind(), ErrorKind::Caller, "{e}"),
        }
    }
    eprintln!("iCCP bomb handled in {:?}", start.elapsed());
}

#[test]
fn gif_with_thousands_of_frames_hashes_the_first() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame, RgbaImage};
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        let first = RgbaImage::from_fn(16, 16, |x, y| {
            image::Rgba([(x * 16) as u8, (y * 16) as u8, 0, 255])
        });
        let other = RgbaImage::from_pixel(16, 16, image::Rgba([0, 0, 255, 255]));
        enc.encode_frame(Frame::from_parts(first, 0, 0, Delay::from_numer_denom_ms(10, 1)))
            .unwrap();
        for _ in 0..5000 {
            enc.encode_frame(Frame::from_parts(
                other.clone(),
                0,
                0,
                Delay::from_numer_denom_ms(10, 1),
            ))
            .unwrap();
        }
    }
    let single = {
        let mut o = Vec::new();
        let mut enc = GifEncoder::new(&mut o);
        let first = RgbaImage::from_fn(16, 16, |x, y| {
            image::Rgba([(x * 16) as u8, (y * 16) as u8, 0, 255])
        });
        enc.encode_frame(Frame::from_parts(first, 0, 0, Delay::from_numer_denom_ms(10, 1)))
            .unwrap();
        drop(enc);
        o
    };
    let start = std::time::Instant::now();
    let many = hash_image(&out, &HashOptions::default()).unwrap();
    eprintln!("5001-frame gif ({} bytes) hashed in {:?}", out.len(), start.elapsed());
    let one = hash_image(&single, &HashOptions::default()).unwrap();
    assert_eq!(many.pdq, one.pdq);
}
