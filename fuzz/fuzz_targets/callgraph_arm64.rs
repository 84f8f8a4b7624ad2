//! The aarch64 call graph and gap disassembly on hostile code: an aarch64 object whose `.text`
//! is the input's tail and whose function symbols (start and size, up to 8) come from its head,
//! so ranges run past the section, start unaligned, end inside a word, overlap, and branches lead
//! anywhere, including outside every section.
//!
//! Properties: never a panic, abort or hang; the proof verifies against the bytes it was built
//! from, and every edge names a proven function or an import.
#![no_main]

use libfuzzer_sys::fuzz_target;
use object::write::{Object, StandardSection, Symbol, SymbolSection};
use object::{Architecture, BinaryFormat, Endianness, SymbolFlags, SymbolKind, SymbolScope};
use stella_binary::{BuildOptions, FuncProof};

/// The object file: the first byte's low 3 bits + 1 symbols of 4 bytes each (start, size as
/// little-endian `u16`s), then the code.
fn object_file(data: &[u8]) -> Option<Vec<u8>> {
    let (&count, rest) = data.split_first()?;
    let count = usize::from(count & 7) + 1;
    let (head, code) = rest.split_at_checked(4 * count)?;
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Aarch64, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, code, 4);
    for (i, field) in head.chunks_exact(4).enumerate() {
        let start = u16::from_le_bytes([field[0], field[1]]);
        let size = u16::from_le_bytes([field[2], field[3]]);
        obj.add_symbol(Symbol {
            name: format!("f{i}").into_bytes(),
            value: u64::from(start),
            size: u64::from(size),
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
    }
    obj.write().ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(file) = object_file(data) else {
        return;
    };
    let options = BuildOptions {
        callgraph: true,
        entries: vec!["f0".to_owned()],
        sinks: vec!["f*".to_owned()],
        ..Default::default()
    };
    let Ok(proof) = FuncProof::build_with(&file, &options) else {
        return;
    };
    let mismatches = proof
        .verify(&file)
        .expect("verify parses what build parsed");
    assert!(
        mismatches.is_empty(),
        "a fresh proof does not verify: {mismatches:#?}"
    );
    let names: std::collections::BTreeSet<&str> =
        proof.functions.iter().map(|f| f.sym.as_str()).collect();
    for (caller, callee) in proof.callgraph.iter().flat_map(|g| &g.edges) {
        assert!(
            names.contains(&**caller),
            "edge from {caller}, no proven function"
        );
        assert!(
            names.contains(&**callee),
            "edge to {callee}, no proven function"
        );
    }
});
