//! SPDX 2.x JSON and SPDX 3.0 JSON-LD from hostile bytes, read into CycloneDX, written as SPDX
//! 2.3 and read again.
//!
//! Property (in `crates/stella-sbom/tests/it/spdx_property.rs`, shared with the test that replays
//! `crates/stella-sbom/tests/fuzz-regressions/spdx/`): never a panic, abort or hang; what reads is
//! model CycloneDX, written as SPDX 2.3 that reads back keeping every component's name, version
//! and purl.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // The test in the file is for the regression replay.
#[path = "../../crates/stella-sbom/tests/it/spdx_property.rs"]
mod property;

fuzz_target!(|data: &[u8]| {
    property::check(data);
});
