//! The three VEX readers from hostile bytes: OpenVEX, CycloneDX (with the SBOM its BOM-Links
//! point into: the bytes after the first NUL, which no JSON document holds) and CSAF.
//!
//! Properties (in `crates/stella-vex/tests/it/bad_input/property.rs`, shared with the test that
//! replays `crates/stella-vex/tests/fuzz-regressions/`): never a panic, abort or hang; a document
//! that reads writes back with its own format's writer to bytes that read again to the same
//! claims (statuses, products, justification labels, as far as that writer documents keeping
//! them); every writer takes every document read; the merge of everything read succeeds or gives
//! a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // The outcome is for the regression test.
#[path = "../../crates/stella-vex/tests/it/bad_input/property.rs"]
mod property;

fuzz_target!(|data: &[u8]| {
    property::check(data);
});
