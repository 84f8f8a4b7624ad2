//! Mach-O functions and universal files on hostile input: `LC_FUNCTION_STARTS`, the symbol
//! table, `__unwind_info`, and fat headers with any count, offsets and sizes of slices.
//!
//! Properties: never a panic, abort or hang; the slices a fat header gives lie inside the file,
//! after its header, in file order without overlap, each for another architecture; a proof that
//! is given verifies against the very bytes it was built from, states one slice per slice, and
//! reads back from its own canonical JSON unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_binary::{FuncProof, macho};

fuzz_target!(|data: &[u8]| {
    let slices = match macho::slices(data) {
        Ok(slices) => slices,
        Err(_) => return,
    };
    if let Some(slices) = &slices {
        let mut end = 0u64;
        for (i, s) in slices.iter().enumerate() {
            assert!(s.offset >= end, "slice {i} overlaps what comes before it");
            assert!(!s.data.is_empty(), "slice {i} is empty");
            let from = usize::try_from(s.offset).expect("offset");
            assert_eq!(&data[from..from + s.data.len()], s.data, "slice {i} is its bytes");
            end = s.offset + s.data.len() as u64;
            assert!(
                slices[..i].iter().all(|o| o.arch != s.arch),
                "two slices for {}",
                s.arch
            );
        }
    }
    let Ok(proof) = FuncProof::build(data) else {
        return;
    };
    assert_eq!(
        proof.slices.len(),
        slices.as_ref().map_or(0, Vec::len),
        "one proven slice per slice"
    );
    let mismatches = proof
        .verify(data)
        .expect("verify parses what build parsed");
    assert!(mismatches.is_empty(), "a fresh proof does not verify: {mismatches:#?}");
    let json = proof.to_canonical_json().expect("proof serialises");
    let back = FuncProof::from_json(&json).expect("proof reads back");
    assert_eq!(back.to_canonical_json().expect("proof serialises"), json);
});
