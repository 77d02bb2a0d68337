//! Fuzzes the S3EC metadata parser: arbitrary header maps must parse or fail
//! with a typed error, never panic; whatever parses must re-serialize to a map
//! that parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdrop_envelope::ContentMetadata;

fuzz_target!(|data: &[u8]| {
    // Input: newline-separated `key:value` lines (the corpus holds real metadata).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .collect();
    if let Ok(parsed) = ContentMetadata::parse(pairs.iter().copied()) {
        let map = parsed.to_map();
        let again = ContentMetadata::parse(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(again.as_ref(), Ok(&parsed), "re-serialized metadata must parse identically");
    }
});
