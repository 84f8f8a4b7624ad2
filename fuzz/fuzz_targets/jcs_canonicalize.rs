//! RFC 8785 canonicalisation of arbitrary bytes, the first thing Stella does with every document
//! it is handed.
//!
//! Properties: never a panic, abort or hang on any input; when the input is accepted, the output
//! is a fixed point (canonicalising it again changes nothing, or canonical ids would depend on
//! how many times a document passed through Stella) and is JSON that an independent reader
//! (serde_json) accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_core::jcs;

fuzz_target!(|data: &[u8]| {
    let Ok(canonical) = jcs::canonicalize(data) else {
        return;
    };
    match jcs::canonicalize(&canonical) {
        Ok(again) => assert!(
            again == canonical,
            "not a fixed point:\n first: {}\nsecond: {}",
            String::from_utf8_lossy(&canonical),
            String::from_utf8_lossy(&again)
        ),
        Err(e) => panic!(
            "canonical output does not read back: {e}\n{}",
            String::from_utf8_lossy(&canonical)
        ),
    }
    // stella-core accepts nesting up to jcs::MAX_DEPTH; serde_json's default stops at 128, which
    // would report depth, not a defect.
    let mut reader = serde_json::Deserializer::from_slice(&canonical);
    reader.disable_recursion_limit();
    if let Err(e) = <serde_json::Value as serde::Deserialize>::deserialize(&mut reader)
        .and_then(|_| reader.end())
    {
        panic!(
            "serde_json rejects canonical output: {e}\n{}",
            String::from_utf8_lossy(&canonical)
        );
    }
});
