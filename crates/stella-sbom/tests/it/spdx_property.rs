//! The property the `sbom_spdx` fuzz target checks (`fuzz/fuzz_targets/sbom_spdx.rs` includes
//! this file by path), and the test that replays every kept input in `tests/fuzz-regressions/spdx/`
//! with it.
//!
//! For any bytes: reading them as SPDX never panics, aborts or hangs, and is bounded by small
//! limits; a document that reads is a CycloneDX document of the model, which Stella writes as
//! SPDX 2.3, which reads again keeping every component's name, version and purl.

use stella_core::jcs::Limits;
use stella_sbom::model::Bom;
use stella_sbom::spdx::{self, SpdxLimits};

/// Limits small enough for the fuzzer's inputs to meet them.
const LIMITS: SpdxLimits = SpdxLimits {
    max_elements: 2_000,
    max_relationships: 8_000,
};

fn key(b: &Bom) -> Vec<(String, Option<String>, Option<String>)> {
    let mut k: Vec<_> = b
        .all_components()
        .into_iter()
        .filter(|c| c.kind != "file")
        .map(|c| (c.name.clone(), c.version.clone(), c.purl.clone()))
        .collect();
    k.sort();
    k
}

/// Checks the property on `data`; returns whether it read as SPDX.
pub fn check(data: &[u8]) -> bool {
    let Ok(cyclonedx) = spdx::to_cyclonedx(data, Limits::default(), LIMITS) else {
        return false;
    };
    let bom: Bom = match serde_json::from_value(cyclonedx.clone()) {
        Ok(b) => b,
        Err(e) => panic!("the CycloneDX read from SPDX does not fit the model: {e}"),
    };
    let written = match spdx::to_spdx23(&cyclonedx) {
        Ok(w) => w,
        Err(e) => panic!("what was read is not written as SPDX: {e}"),
    };
    let bytes = match serde_json::to_vec(&written) {
        Ok(b) => b,
        Err(e) => panic!("written SPDX does not serialise: {e}"),
    };
    let again = match spdx::to_cyclonedx(&bytes, Limits::default(), SpdxLimits::default()) {
        Ok(a) => a,
        Err(e) => panic!("written SPDX does not read back: {e}"),
    };
    let again: Bom = match serde_json::from_value(again) {
        Ok(b) => b,
        Err(e) => panic!("read-back SPDX does not fit the model: {e}"),
    };
    let (before, after) = (key(&bom), key(&again));
    let missing: Vec<_> = before.iter().filter(|k| !after.contains(k)).collect();
    assert!(missing.is_empty(), "lost on the way round: {missing:?}");
    true
}

#[test]
fn every_kept_input_holds_the_property() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/spdx");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the regression directory") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("read");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let read = check(&data);
        if name.starts_with("seed-") {
            assert!(read, "{name} must read");
        } else if name.starts_with("reject-") {
            assert!(!read, "{name} must be refused");
        }
        seen += 1;
    }
    assert!(seen >= 2, "the seeds are there");
}
