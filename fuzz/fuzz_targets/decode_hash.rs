//! Image decoding and hashing, both PDQ modes, under small limits (so the fuzzer explores
//! parsing rather than allocating): never a panic, never more than the limits allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schoon_core::{HashOptions, Limits, PdqMode, hash_bytes};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_width: 4096,
        max_height: 4096,
        max_pixels: 4_000_000,
        max_alloc: 64 << 20,
        max_input_bytes: 1 << 20,
    };
    for mode in [PdqMode::Fast, PdqMode::Reference] {
        let r = hash_bytes(data, &HashOptions { mode, limits, ..Default::default() });
        if let Ok(h) = r.image {
            assert!(h.pdq.quality <= 100);
            assert!(h.info.width as u64 * h.info.height as u64 <= limits.max_pixels);
        }
    }
});
