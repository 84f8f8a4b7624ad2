//! Golden FuncProofs: the canonical JSON of the proofs of the committed seed binaries
//! (`tests/fuzz-regressions/seed-*.elf`, built once from `seed.c`, see the README there),
//! compared byte for byte with `tests/it/golden/<name>.json`. A binary compiled by the test
//! would change with every gcc release; these bytes do not, so any difference is a change in
//! what Stella writes. When the change is meant, `STELLA_BLESS=1` rewrites the files (then
//! review the diff: it is the change to the FuncProof contract).

use std::path::{Path, PathBuf};

use stella_binary::{BuildOptions, FuncProof};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the proof of `seed` with `options` and compares it with `golden/<name>.json`.
fn check(seed: &str, name: &str, options: &BuildOptions) -> FuncProof {
    let binary = crate_dir().join("tests/fuzz-regressions").join(seed);
    let data = std::fs::read(&binary).expect("the seed binary is committed");
    let proof = FuncProof::build_with(&data, options).expect("a seed proves");
    let json = proof.to_canonical_json().expect("canonical JSON");
    let golden = crate_dir()
        .join("tests/it/golden")
        .join(format!("{name}.json"));
    if std::env::var_os("STELLA_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &json).expect("write the golden file");
        return proof;
    }
    let expected = std::fs::read(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; rerun with STELLA_BLESS=1 to create it",
            golden.display()
        )
    });
    if json != expected {
        panic!(
            "the FuncProof of {} differs from {}:\n{}\nrerun with STELLA_BLESS=1 if the change \
             is meant, and review the diff",
            binary.display(),
            golden.display(),
            first_difference(&expected, &json),
        );
    }
    // The golden bytes are also what reading them back and writing again gives.
    let back = FuncProof::from_json(&expected).expect("the golden proof reads back");
    assert_eq!(back, proof);
    proof
}

/// Where two JSON texts part, with some context on each side.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let window = |bytes: &[u8]| {
        let from = at.saturating_sub(60);
        let to = (at + 60).min(bytes.len());
        String::from_utf8_lossy(&bytes[from..to]).into_owned()
    };
    format!(
        "at byte {at}:\n  expected …{}…\n  actual   …{}…",
        window(expected),
        window(actual)
    )
}

#[test]
fn the_proof_of_the_seed_with_dwarf_is_the_golden_one() {
    let proof = check(
        "seed-x86_64-dwarf.elf",
        "seed-x86_64-dwarf",
        &BuildOptions::default(),
    );
    // What the golden file holds, said in words, so a bless cannot silently lose it.
    let names: Vec<&str> = proof.functions.iter().map(|f| f.sym.as_str()).collect();
    assert_eq!(names, ["helper", "entry", "_start"]);
    assert!(proof.functions.iter().all(|f| f.line.is_some()));
    assert_eq!(proof.named_functions(), 3);
}

#[test]
fn the_proof_of_the_seed_with_its_call_graph_is_the_golden_one() {
    let options = BuildOptions {
        callgraph: true,
        entries: vec!["_start".to_owned()],
        sinks: vec!["helper".to_owned()],
        ..Default::default()
    };
    let proof = check("seed-x86_64.elf", "seed-x86_64-traced", &options);
    assert_eq!(proof.traces.len(), 1);
    assert_eq!(proof.traces[0].path, ["_start", "entry", "helper"]);
}

#[test]
fn the_proof_of_the_stripped_seed_is_the_golden_one() {
    let proof = check(
        "seed-x86_64-stripped.elf",
        "seed-x86_64-stripped",
        &BuildOptions::default(),
    );
    assert!(!proof.functions.is_empty());
    assert_eq!(
        proof.named_functions(),
        0,
        "stripped: every name is made up"
    );
}

#[test]
fn golden_files_are_only_the_seeds() {
    // A golden file whose test was removed would go stale unnoticed.
    let dir = crate_dir().join("tests/it/golden");
    let mut names: Vec<String> = std::fs::read_dir(Path::new(&dir))
        .expect("golden dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "seed-x86_64-dwarf.json",
            "seed-x86_64-stripped.json",
            "seed-x86_64-traced.json"
        ]
    );
}
