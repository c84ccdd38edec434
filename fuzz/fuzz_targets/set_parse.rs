//! Set files (index, filter, delta) and the raw filter structures: parsing and querying
//! hostile bytes. Signatures are bypassed by accepting unsigned sets, and the checksum is
//! recomputed for half of the inputs so the fuzzer reaches the parsers behind it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schoon_core::set::{Filter, Index, MatchOptions, Query, Trust, inspect};
use schoon_core::{ExactHashes, PdqHash};

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    // Make the trailer consistent so the fuzzer gets past the checksum.
    if bytes.len() >= 160 && bytes[0] & 1 == 1 {
        let body = bytes.len() - 96;
        let sum = schoon_core::sha256(&bytes[..body]).0;
        bytes[body..body + 32].copy_from_slice(&sum);
    }
    let trust = Trust::unsigned();
    let _ = inspect(&bytes, &trust);
    let q = Query::from_exact(&ExactHashes::of(data));
    let mut pq = Query::from_pdq(PdqHash([0x5a; 32]), Some(90));
    pq.sha256 = q.sha256;
    // Deltas, applied to a fixed base (version 1, which seeds/set_parse/allow.delta extends):
    // a delta's sections, its allow-list included, are parsed before its versions are checked.
    if let Ok(mut base) =
        Filter::from_bytes(include_bytes!("../seeds/set_parse/plain.filter"), &trust)
    {
        if base.apply_delta(&bytes, &trust).is_ok() {
            let _ = base.check(&pq, &MatchOptions::default());
            let _ = base.allow_counts();
        }
    }
    if let Ok(f) = Filter::from_bytes(&bytes, &trust) {
        let _ = f.check(&q, &MatchOptions::default());
        let _ = f.check(&pq, &MatchOptions::default());
        let _ = f.stats();
        // The allow-list (seeds allow.index, allow.filter, allow.delta hold one).
        let _ = f.allow_counts();
        let _ = f.allowed_pdq(&PdqHash([0x5a; 32]));
    }
    if let Ok(mut i) = Index::from_bytes(bytes.clone(), &trust) {
        let _ = i.lookup(&pq, &MatchOptions::default());
        let _ =
            i.lookup_with_windows_allowed(&pq, &[PdqHash([0xa5; 32])], &MatchOptions::default());
        let _ = i.allow_counts();
        i.set_multi_index(true);
        let _ = i.lookup(&pq, &MatchOptions { threshold: 40, min_quality: 0 });
    }
    if let Ok(f) = schoon_filter::FilterRef::parse(data) {
        use schoon_filter::Membership;
        let _ = f.contains(0x1234_5678_9abc_def0);
        let _ = f.false_positive_rate();
    }
});
