//! Every input the fuzzer kept (seeds and minimised finds in `tests/fuzz-regressions/`) is run
//! through the canonicaliser with the fuzz target's properties: no panic, and whatever is
//! accepted canonicalises to a fixed point that other JSON readers accept. The file name says
//! which outcome is required: `reject-*` must be refused, `seed-*` must be accepted.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use stella_core::jcs;

#[test]
fn fuzz_corpus_regressions_hold() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-regressions exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    assert!(
        !inputs.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for path in inputs {
        let bytes = std::fs::read(&path).expect("readable");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let canonical = match (jcs::canonicalize(&bytes), name.split('-').next()) {
            (Err(_), Some("reject")) => continue,
            (Ok(canonical), Some("seed")) => canonical,
            (Ok(_), Some("reject")) => panic!("{name}: accepted, must be refused"),
            (Err(e), Some("seed")) => panic!("{name}: refused, must be accepted: {e}"),
            _ => panic!("{name}: name must start with `reject-` or `seed-`"),
        };
        let again = jcs::canonicalize(&canonical)
            .unwrap_or_else(|e| panic!("{}: canonical output rejected: {e}", path.display()));
        assert_eq!(again, canonical, "{}: not a fixed point", path.display());
        // serde_json stops at 128 levels by default; stella-core accepts up to jcs::MAX_DEPTH.
        let mut reader = serde_json::Deserializer::from_slice(&canonical);
        reader.disable_recursion_limit();
        <serde_json::Value as serde::Deserialize>::deserialize(&mut reader)
            .and_then(|_| reader.end())
            .unwrap_or_else(|e| panic!("{}: serde_json rejects the output: {e}", path.display()));
    }
}
