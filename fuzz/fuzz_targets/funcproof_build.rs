//! FuncProof of arbitrary bytes: the ELF, PE and Mach-O readers, DWARF, `.eh_frame`, the
//! disassembler and the call graph, all on hostile input.
//!
//! Properties: never a panic, abort or hang; a proof that is given verifies against the very
//! bytes it was built from (every range it claims maps to the same bytes again) and reads back
//! from its own canonical JSON unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_binary::{BuildOptions, FuncProof};

fuzz_target!(|data: &[u8]| {
    let options = BuildOptions {
        callgraph: true,
        entries: vec!["_start".to_owned(), "main".to_owned()],
        sinks: vec!["helper".to_owned(), "*printf".to_owned()],
        ..Default::default()
    };
    let Ok(proof) = FuncProof::build_with(data, &options) else {
        return;
    };
    let mismatches = proof
        .verify(data)
        .expect("verify parses what build parsed");
    assert!(mismatches.is_empty(), "a fresh proof does not verify: {mismatches:#?}");
    let json = proof.to_canonical_json().expect("proof serialises");
    let back = FuncProof::from_json(&json).expect("proof reads back");
    assert_eq!(back.to_canonical_json().expect("proof serialises"), json);
});
