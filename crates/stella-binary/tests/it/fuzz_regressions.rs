//! Every input the FuncProof fuzzer keeps (`tests/fuzz-regressions/`) is run with the fuzz
//! target's properties: no panic; a proof that is given verifies against the same bytes and
//! survives its own JSON. The name says which outcome is required (see the README there).

use std::path::PathBuf;

use stella_binary::{BuildOptions, FuncProof};

/// The same options as the fuzz target: call graph and traces included.
fn options() -> BuildOptions {
    BuildOptions {
        callgraph: true,
        entries: vec!["_start".to_owned(), "main".to_owned()],
        sinks: vec!["helper".to_owned(), "*printf".to_owned()],
        ..Default::default()
    }
}

#[test]
fn funcproof_fuzz_regressions_hold() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-regressions exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                ["seed-", "reject-", "found-"]
                    .iter()
                    .any(|k| n.starts_with(k))
            }) && p.extension().is_none_or(|e| e != "c")
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "seeds missing in {}", dir.display());
    for path in inputs {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let data = std::fs::read(&path).expect("readable");
        match FuncProof::build_with(&data, &options()) {
            Ok(proof) => {
                assert!(
                    !name.starts_with("reject-"),
                    "{name}: accepted, must be refused"
                );
                let mismatches = proof
                    .verify(&data)
                    .expect("verify parses what build parsed");
                assert!(mismatches.is_empty(), "{name}: {mismatches:#?}");
                let json = proof.to_canonical_json().expect("json");
                let back = FuncProof::from_json(&json).expect("reads back");
                assert_eq!(back.to_canonical_json().expect("json"), json, "{name}");
                if name.starts_with("seed-") {
                    assert!(proof.function_count() > 0, "{name}: no functions");
                }
            }
            Err(e) => assert!(!name.starts_with("seed-"), "{name}: refused: {e}"),
        }
    }
}
