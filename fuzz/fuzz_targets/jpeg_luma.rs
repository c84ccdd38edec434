//! The reduced-size JPEG luma decoder at every scale.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schoon_jpeg::{Limits, Scale, decode_luma, read_header};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_width: 8192, max_height: 8192, max_pixels: 16_000_000 };
    let _ = read_header(data);
    for scale in [Scale::Eighth, Scale::Quarter, Scale::Half] {
        if let Ok(l) = decode_luma(data, scale, &limits) {
            assert_eq!(l.pixels.len(), l.width as usize * l.height as usize);
        }
    }
});
