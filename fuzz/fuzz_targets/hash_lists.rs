//! Hash-list parsing (hex lines, CSV, NDJSON), kinds named or guessed, strict or skipping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schoon_core::set::{HashKind, ListOptions, parse_list};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for kind in [None, Some(HashKind::Md5), Some(HashKind::Pdq)] {
        for skip_invalid in [false, true] {
            if let Ok(list) = parse_list(text, "fuzz", &ListOptions { kind, skip_invalid }) {
                // NDJSON lines carry up to four hashes (md5, sha1, sha256, pdq).
                assert!(list.len() <= 4 * text.lines().count());
            }
        }
    }
});
