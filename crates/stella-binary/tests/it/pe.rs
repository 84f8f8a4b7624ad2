//! PE functions from the committed PE seeds (`tests/fuzz-regressions/seed-*.dll`, built from
//! `seed.c` by mingw-w64, see the README there): names from COFF symbols and exports, ends from
//! `.pdata`, a chained x64 entry folded into its function, arm64 lengths from `.xdata` and packed
//! unwind data.

use std::path::PathBuf;

use stella_binary::FuncProof;
use stella_binary::functions::{Function, Source};

fn proof(seed: &str) -> (FuncProof, Vec<u8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(seed);
    let data = std::fs::read(&path).expect("seed");
    let proof = FuncProof::build(&data).expect("a proof");
    assert!(
        proof.verify(&data).expect("verifies").is_empty(),
        "{seed}: replays"
    );
    (proof, data)
}

fn named<'p>(proof: &'p FuncProof, sym: &str) -> &'p Function {
    proof
        .functions
        .iter()
        .find(|f| f.sym == sym)
        .unwrap_or_else(|| panic!("{sym} is a function"))
}

/// `[start, end)` as offsets from the first function, which the three seeds share.
fn span(proof: &FuncProof, f: &Function) -> (u64, u64) {
    let base = proof.functions[0].start.0;
    (f.start.0 - base, f.end.0 - base)
}

#[test]
fn pe_x64_functions_take_names_from_coff_symbols_and_ends_from_pdata() {
    let (proof, _) = proof("seed-x86_64-mingw.dll");
    assert_eq!(proof.identity.format, "pe");
    for sym in ["helper", "entry", "_start"] {
        let f = named(&proof, sym);
        assert_eq!(f.source, Source::Symtab, "{sym}");
        assert!(f.end > f.start, "{sym}");
        assert!(f.fragments.is_empty(), "{sym}");
    }
    assert!(proof.meta.warnings.is_empty(), "{:?}", proof.meta.warnings);
}

#[test]
fn pe_x64_chained_entries_are_fragments_of_their_function() {
    let (plain, _) = proof("seed-x86_64-mingw.dll");
    let (chained, _) = proof("seed-x86_64-mingw-chained.dll");
    let start = named(&plain, "_start");
    assert!(
        chained.functions.iter().all(|f| f.sym != "_start"),
        "_start is no function of its own"
    );
    let entry = named(&chained, "entry");
    assert_eq!(span(&chained, entry), span(&plain, named(&plain, "entry")));
    assert_eq!(entry.fragments.len(), 1);
    let fragment = &entry.fragments[0];
    assert_eq!(fragment.sym, "_start", "the fragment keeps its symbol");
    assert_eq!(
        (fragment.start, fragment.end),
        (start.start, start.end),
        "the chained entry's range"
    );
}

#[test]
fn pe_arm64_lengths_come_from_xdata_and_packed_unwind_data() {
    let (x64, _) = proof("seed-x86_64-mingw.dll");
    let (arm64, _) = proof("seed-aarch64-pe.dll");
    assert_eq!(arm64.identity.arch, "aarch64");
    for sym in ["helper", "entry", "_start"] {
        // The seed's arm64 lengths are the x64 ones rounded down to 4 bytes.
        let (start, end) = span(&x64, named(&x64, sym));
        let want = (start, start + (end - start) / 4 * 4);
        assert_eq!(span(&arm64, named(&arm64, sym)), want, "{sym}");
    }
}
