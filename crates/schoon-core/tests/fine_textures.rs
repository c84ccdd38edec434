//! Fine periodic textures leave the block-mean estimate unreliable: the fast path hashes them
//! from full-size pixels, the same way from bytes, from a split decode and from platform pixels.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // tests

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};
use schoon_core::{
    HashOptions, PdqMode, PdqPath, hash_image, hash_image_joined, jpeg_head, jpeg_tail,
    pdq_of_pixels,
};

/// Vertical stripes of `period` pixels over a `w x h` grey image, and its quality-90 JPEG.
fn stripes(w: u32, h: u32, period: u32) -> (Vec<u8>, Vec<u8>) {
    let px: Vec<u8> = (0..w * h)
        .map(|i| if (2 * (i % w) / period).is_multiple_of(2) { 228 } else { 28 })
        .collect();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(&px, w, h, ExtendedColorType::L8)
        .unwrap();
    (px, jpeg)
}

fn png(px: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(px, w, h, ExtendedColorType::L8)
        .unwrap();
    out
}

/// A photo-like scene (shapes, gradients, noise): stays on the block means.
fn scene(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x1234_5678u32;
    (0..w * h)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
            let disc = if (x - 0.6).powi(2) + (y - 0.4).powi(2) < 0.05 { 60.0 } else { 0.0 };
            let v = 90.0 + 60.0 * (x * 6.0 + y * 3.0).sin() + disc + (state % 31) as f32 - 15.0;
            v.clamp(0.0, 255.0) as u8
        })
        .collect()
}

#[test]
fn stripes_are_hashed_like_the_reference_and_photos_are_not() {
    let reference = HashOptions { mode: PdqMode::Reference, ..Default::default() };
    let fast = HashOptions::default();
    for (w, h, period) in [(1600, 1600, 9), (1600, 1600, 16), (2400, 2000, 24), (1024, 768, 12)] {
        let (px, jpeg) = stripes(w, h, period);
        for bytes in [jpeg, png(&px, w, h)] {
            let f = hash_image(&bytes, &fast).unwrap();
            let r = hash_image(&bytes, &reference).unwrap();
            assert_eq!(f.path, PdqPath::Full, "{w}x{h} period {period}");
            assert_eq!(f.pdq, r.pdq, "{w}x{h} period {period}");
        }
        // Platform-decoded pixels take the same decision.
        let (pdq, path) = pdq_of_pixels(&px, w, h, 1, PdqMode::Fast, &Default::default()).unwrap();
        assert_eq!(path, PdqPath::Full);
        assert_eq!(pdq, hash_image(&png(&px, w, h), &fast).unwrap().pdq);
    }
    let (w, h) = (2400, 2000);
    let px = scene(w, h);
    let f = hash_image(&png(&px, w, h), &fast).unwrap();
    assert_eq!(f.path, PdqPath::Blocks(8));
    let r = hash_image(&png(&px, w, h), &reference).unwrap();
    assert!(f.pdq.hash.distance(&r.pdq.hash) <= 6);
}

#[test]
fn a_split_decode_falls_back_as_the_one_pass_decode() {
    let options = HashOptions::default();
    let with_regions = HashOptions { regions: true, ..HashOptions::default() };
    let (_, jpeg) = stripes(2400, 2000, 24);
    for opts in [&options, &with_regions] {
        let whole = hash_image(&jpeg, opts).unwrap();
        assert_eq!(whole.path, PdqPath::Full);
        for k in [1, 7, 10, 13, 19] {
            let split = jpeg.len() * k / 20;
            let tail = jpeg_tail(&jpeg, split, opts);
            let head = jpeg_head(&jpeg, split, opts).expect("a large baseline jpeg splits");
            let joined = hash_image_joined(&jpeg, opts, head, tail.as_ref()).unwrap();
            assert_eq!(joined, whole, "split {split}");
            let head = jpeg_head(&jpeg, split, opts).unwrap();
            assert_eq!(hash_image_joined(&jpeg, opts, head, None).unwrap(), whole);
        }
    }
}
