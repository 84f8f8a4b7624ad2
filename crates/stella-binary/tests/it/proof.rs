use std::collections::BTreeSet;

use stella_binary::functions::{Addr, Source};
use stella_binary::identity::BuildIdSource;
use stella_binary::{BinaryError, BuildOptions, FuncProof, MappedFile, MismatchKind};

use crate::fixtures::{self, NO_PIE, NO_PLT, STRIPPED, WITH_SYMBOLS};

fn prove(build: fixtures::Build) -> FuncProof {
    let path = fixtures::vuln(build);
    let data = MappedFile::open(&path).expect("maps");
    FuncProof::build(&data).expect("proof")
}

#[test]
fn aliases_static_functions_and_cold_fragments() {
    let proof = prove(WITH_SYMBOLS);
    let parse = proof
        .functions
        .iter()
        .find(|f| f.sym == "vuln_parse")
        .expect("vuln_parse");
    assert_eq!(parse.aliases, vec!["vuln_parse_alias".to_owned()]);
    assert_eq!(parse.source, Source::Symtab);
    assert!(
        proof.functions.iter().any(|f| f.sym == "helper"),
        "static function kept"
    );
    let handler = proof
        .functions
        .iter()
        .find(|f| f.sym == "handler")
        .expect("handler");
    assert_eq!(handler.fragments.len(), 1, "{handler:?}");
    assert_eq!(handler.fragments[0].sym, "handler.cold");
    assert!(!proof.functions.iter().any(|f| f.sym.ends_with(".cold")));
    assert_eq!(proof.identity.build_id_source, BuildIdSource::GnuNote);
    assert!(
        proof
            .meta
            .compiler
            .as_deref()
            .is_some_and(|c| c.contains("GCC"))
    );
    assert!(proof.sections.contains_key(".text") && proof.sections.contains_key(".rodata"));
}

#[test]
fn dwarf_gives_file_line_and_compiler_flags() {
    let proof = prove(WITH_SYMBOLS);
    let source_line = |name: &str| {
        let f = proof.functions.iter().find(|f| f.sym == name).expect(name);
        (f.file.clone().expect("file"), f.line.expect("line"))
    };
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vuln.c"),
    )
    .expect("source");
    for name in ["helper", "vuln_parse", "handler", "main"] {
        let (file, line) = source_line(name);
        assert!(file.ends_with("tests/fixtures/vuln.c"), "{name}: {file}");
        let text = source
            .lines()
            .nth(usize::try_from(line).unwrap() - 1)
            .expect("line exists");
        assert!(
            text.contains(name),
            "{name} is declared on line {line}: {text:?}"
        );
    }
    let flags = proof.meta.flags.as_deref().expect("producer");
    assert!(flags.contains("-O2") && flags.contains("GNU C"), "{flags}");
    // Without DWARF there is nothing to claim.
    let bare = prove(NO_PIE);
    assert!(bare.functions.iter().all(|f| f.file.is_none()) && bare.meta.flags.is_none());
}

#[test]
fn proofs_are_deterministic_and_round_trip() {
    let a = prove(WITH_SYMBOLS).to_canonical_json().expect("json");
    let b = prove(WITH_SYMBOLS).to_canonical_json().expect("json");
    assert_eq!(a, b);
    let read = FuncProof::from_json(&a).expect("reads back");
    assert_eq!(read.to_canonical_json().expect("json"), a);
}

/// `write_canonical_json` writes functions with `serde_json`; the generic RFC 8785 path must give
/// the same bytes, for real proofs (call graph and traces included) and for names that need
/// escaping.
#[test]
fn streamed_json_is_the_generic_canonical_form() {
    let path = fixtures::vuln(WITH_SYMBOLS);
    let data = MappedFile::open(&path).expect("maps");
    let options = BuildOptions {
        callgraph: true,
        entries: vec!["main".into()],
        sinks: vec!["vuln_*".into()],
        ..Default::default()
    };
    let mut proof = FuncProof::build_with(&data, &options).expect("proof");
    assert!(!proof.traces.is_empty() && proof.callgraph.is_some());
    let generic = |p: &FuncProof| stella_core::jcs::to_canonical(p).expect("generic");
    assert_eq!(proof.to_canonical_json().expect("json"), generic(&proof));

    let nasty = [
        "quote\"back\\slash",
        "ctl\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
        "bmp é € \u{2028}\u{2029} \u{fffd}",
        "astral 😀 𝄞",
        "slash/</script>",
    ];
    let count = proof.functions.len();
    for (i, name) in nasty.iter().enumerate() {
        let f = &mut proof.functions[i % count];
        f.sym = (*name).to_owned();
        f.aliases.push(format!("{name}-alias"));
        f.demangled = Some(format!("ns::{name}()"));
        f.file = Some(format!("/src/{name}.c"));
        f.line = Some(u32::MAX);
    }
    let graph = proof.callgraph.as_mut().expect("graph");
    graph.edges.push((nasty[0].into(), nasty[3].into()));
    // A proof's lists are sorted (the reader refuses others).
    graph.edges.sort();
    for f in &mut proof.functions {
        f.aliases.sort();
    }
    assert_eq!(proof.to_canonical_json().expect("json"), generic(&proof));
    let again = FuncProof::from_json(&generic(&proof)).expect("reads back");
    assert_eq!(again, proof);
}

#[test]
fn a_one_byte_patch_names_the_function_its_section_and_the_file() {
    let path = fixtures::vuln(WITH_SYMBOLS);
    let original = std::fs::read(&path).expect("read");
    let proof = FuncProof::build(&original).expect("proof");
    assert!(proof.verify(&original).expect("verifies").is_empty());

    let target = proof
        .functions
        .iter()
        .find(|f| f.sym == "helper")
        .expect("helper");
    // Map the virtual address back to a file offset the way a patcher would: through the
    // proof's own .text section (file offset = address for these fixtures' first segment).
    let text = &proof.sections[".text"];
    let file = object_offset(&original, text.addr.0) + (target.start.0 - text.addr.0);
    let mut patched = original.clone();
    patched[usize::try_from(file).unwrap() + 1] ^= 0xff;
    let mismatches = proof.verify(&patched).expect("parses");
    let named: BTreeSet<(MismatchKind, &str, Option<&str>)> = mismatches
        .iter()
        .map(|m| (m.kind, m.name.as_str(), m.field))
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([
            (MismatchKind::FileHash, "file", Some("sha256")),
            (MismatchKind::FileHash, "file", Some("blake3")),
            (MismatchKind::Section, ".text", Some("blake3")),
            (MismatchKind::Function, "helper", Some("blake3"))
        ]),
        "{mismatches:#?}"
    );
    // JSON output keeps the kinds' first names.
    let kinds: BTreeSet<String> = mismatches
        .iter()
        .map(|m| {
            serde_json::to_value(m).expect("json")["kind"]
                .as_str()
                .expect("kind")
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["file", "section", "function"].map(String::from))
    );
}

/// File offset of the section starting at `addr`, from the ELF section headers.
fn object_offset(data: &[u8], addr: u64) -> u64 {
    use object::{Object, ObjectSection};
    let file = object::File::parse(data).expect("elf");
    let section = file
        .sections()
        .find(|s| s.address() == addr)
        .expect("section at address");
    section.file_range().expect("file bytes").0
}

#[test]
fn queries_answer_presence_and_absence() {
    let proof = prove(WITH_SYMBOLS);
    let hits = proof.query("vuln_parse_alias").expect("query");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].sym, "vuln_parse");
    assert_eq!(proof.query("vuln_*").expect("glob").len(), 1);
    assert!(proof.query("inflateGetHeader").expect("query").is_empty());
    assert!(proof.query("[").is_err());
}

#[test]
fn damaged_binaries_are_errors_not_panics() {
    let original = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    for cut in [
        0,
        4,
        16,
        63,
        64,
        200,
        original.len() / 3,
        original.len() / 2,
        original.len() - 1,
    ] {
        // Either a precise error or a proof of what is left; never a panic.
        proof_of_what_is_left_or_format_error(&original[..cut], &format!("cut at {cut}"));
    }
    let mut garbage = original.clone();
    for (i, b) in garbage.iter_mut().enumerate().skip(64) {
        *b = b.wrapping_mul(31).wrapping_add(i as u8);
    }
    proof_of_what_is_left_or_format_error(&garbage, "garbage after the ELF header");
    for not_a_binary in [&b""[..], b"#!/bin/sh\necho hi\n"] {
        assert!(
            matches!(
                FuncProof::build(not_a_binary),
                Err(BinaryError::Format { .. })
            ),
            "{not_a_binary:?}"
        );
    }
    assert!(matches!(
        FuncProof::from_json(b"{\"schema\":\"other\"}"),
        Err(BinaryError::ProofField { .. })
    ));
}

/// A damaged binary is refused as not a binary, or proven as what it is: a proof of exactly
/// these bytes, which verifies against them and round-trips through its JSON.
fn proof_of_what_is_left_or_format_error(data: &[u8], what: &str) {
    match FuncProof::build(data) {
        Ok(proof) => {
            assert_eq!(proof.file.size, data.len() as u64, "{what}");
            let mismatches = proof.verify(data).expect("verify reads what build read");
            assert!(mismatches.is_empty(), "{what}: {mismatches:#?}");
            let json = proof.to_canonical_json().expect("json");
            assert_eq!(
                FuncProof::from_json(&json).expect("reads back"),
                proof,
                "{what}"
            );
        }
        Err(BinaryError::Format { reason }) => assert!(!reason.is_empty(), "{what}"),
        Err(other) => panic!("{what}: not a format error: {other}"),
    }
}

fn traced(build: fixtures::Build) -> FuncProof {
    let data = std::fs::read(fixtures::vuln(build)).expect("read");
    let options = BuildOptions {
        callgraph: true,
        entries: vec!["main".to_owned()],
        sinks: vec![
            "helper".to_owned(),
            "fprintf".to_owned(),
            "inflateGetHeader".to_owned(),
        ],
        ..Default::default()
    };
    FuncProof::build_with(&data, &options).expect("proof")
}

#[test]
fn call_paths_resolve_plt_and_got_imports_and_state_absence() {
    for build in [WITH_SYMBOLS, NO_PLT, STRIPPED] {
        let proof = traced(build);
        let path = |sink: &str| -> Vec<String> {
            proof
                .traces
                .iter()
                .find(|t| t.sink == sink)
                .unwrap_or_else(|| panic!("{}: no trace to {sink}", build.name))
                .path
                .clone()
        };
        assert!(path("inflateGetHeader").is_empty(), "{}", build.name);
        if build.name == STRIPPED.name {
            // No symbol names `main` any more: the answer is "no such entry", stated.
            assert!(
                proof
                    .traces
                    .iter()
                    .all(|t| t.entry == "main" && t.path.is_empty())
            );
        } else {
            // The error path lives in handler.cold: its import is still handler's call.
            assert_eq!(
                path("fprintf").last().map(String::as_str),
                Some("fprintf"),
                "{}",
                build.name
            );
            assert_eq!(
                path("helper"),
                vec!["main", "handler", "vuln_parse", "helper"],
                "{}",
                build.name
            );
        }
        let data = std::fs::read(fixtures::vuln(build)).expect("read");
        assert!(
            proof.verify(&data).expect("verify").is_empty(),
            "{}",
            build.name
        );
    }
}

#[test]
fn a_forged_trace_is_caught() {
    let mut proof = traced(WITH_SYMBOLS);
    let data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let t = proof
        .traces
        .iter_mut()
        .find(|t| t.sink == "helper")
        .expect("trace");
    t.path = vec!["main".to_owned(), "helper".to_owned()];
    let kinds: Vec<MismatchKind> = proof
        .verify(&data)
        .expect("verify")
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(kinds, vec![MismatchKind::Trace]);
}

/// A stored "no path" is an absence claim: it is searched again in the binary's call graph.
#[test]
fn a_trace_that_hides_a_path_or_names_a_matching_glob_is_caught() {
    let honest = traced(WITH_SYMBOLS);
    let data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    assert!(honest.verify(&data).expect("verify").is_empty());

    let mut hidden = honest.clone();
    let t = hidden
        .traces
        .iter_mut()
        .find(|t| t.sink == "helper")
        .expect("trace");
    assert!(!t.path.is_empty());
    t.path = Vec::new();
    t.hash = stella_binary::callgraph::path_hash(&t.path);
    let mismatches = hidden.verify(&data).expect("verify");
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    assert_eq!(mismatches[0].kind, MismatchKind::Trace);
    assert_eq!(mismatches[0].name, "main -> helper");
    assert!(
        mismatches[0]
            .actual
            .starts_with("main -> handler -> vuln_parse -> helper"),
        "{mismatches:#?}"
    );

    // `vuln_*` matches vuln_parse: a build names the function, never the glob.
    let mut glob = honest.clone();
    let t = glob
        .traces
        .iter_mut()
        .find(|t| t.sink == "inflateGetHeader")
        .expect("trace");
    t.entry = "vuln_*".to_owned();
    glob.traces
        .sort_by(|a, b| (&a.entry, &a.sink).cmp(&(&b.entry, &b.sink)));
    let mismatches = glob.verify(&data).expect("verify");
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    assert_eq!(mismatches[0].kind, MismatchKind::Trace);
    assert_eq!(mismatches[0].name, "vuln_* -> inflateGetHeader");
}

/// Little-endian ELF64 field access for hand-made damage.
fn le64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

fn le16(data: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes(data[at..at + 2].try_into().unwrap()))
}

/// File offset of the section header named `name`.
fn section_header(data: &[u8], name: &str) -> usize {
    use object::{Object, ObjectSection};
    let file = object::File::parse(data).expect("elf");
    let index = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .index()
        .0;
    usize::try_from(le64(data, 0x28)).unwrap() + index * le16(data, 0x3a)
}

/// File offset of the `.symtab` entry of `symbol`.
fn symtab_entry(data: &[u8], symbol: &str) -> usize {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(data).expect("elf");
    let index = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .unwrap_or_else(|| panic!("no {symbol}"))
        .index()
        .0;
    let symtab = section_header(data, ".symtab");
    usize::try_from(le64(data, symtab + 0x18)).unwrap() + index * 24
}

#[test]
fn a_section_past_the_end_of_the_file_is_a_warning_not_a_digest() {
    let mut data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let header = section_header(&data, ".rodata");
    data[header + 0x20..header + 0x28].copy_from_slice(&0x7fff_ffffu64.to_le_bytes());
    let proof = FuncProof::build(&data).expect("the rest is still sound");
    assert!(!proof.sections.contains_key(".rodata"));
    assert!(proof.sections.contains_key(".text"));
    assert!(
        proof
            .meta
            .warnings
            .iter()
            .any(|w| w.contains("section .rodata") && w.contains("past the end")),
        "{:?}",
        proof.meta.warnings
    );
    assert!(proof.functions.iter().any(|f| f.sym == "vuln_parse"));
}

#[test]
fn a_symbol_size_past_the_end_of_the_file_falls_back_to_eh_frame() {
    let original = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let honest = FuncProof::build(&original).expect("proof");
    let helper = |p: &FuncProof| {
        p.functions
            .iter()
            .find(|f| f.sym == "helper")
            .map(|f| (f.start, f.end, f.blake3.clone()))
    };
    let mut data = original.clone();
    let entry = symtab_entry(&data, "helper");
    data[entry + 16..entry + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    let proof = FuncProof::build(&data).expect("proof");
    assert_eq!(helper(&proof), helper(&honest));
    assert!(
        proof
            .meta
            .warnings
            .iter()
            .any(|w| w.contains("symbol size running outside")),
        "{:?}",
        proof.meta.warnings
    );
}

#[test]
fn overlapping_symbols_are_proven_as_claimed_and_reported() {
    let mut data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let honest = FuncProof::build(&data).expect("proof");
    let parse = honest
        .functions
        .iter()
        .find(|f| f.sym == "vuln_parse")
        .expect("vuln_parse");
    let helper = honest
        .functions
        .iter()
        .find(|f| f.sym == "helper")
        .expect("helper");
    assert!(helper.end <= parse.start, "helper precedes vuln_parse");
    // helper now claims to run 8 bytes into vuln_parse.
    let size = parse.start.0 - helper.start.0 + 8;
    let entry = symtab_entry(&data, "helper");
    data[entry + 16..entry + 24].copy_from_slice(&size.to_le_bytes());
    let proof = FuncProof::build(&data).expect("proof");
    let claimed = proof
        .functions
        .iter()
        .find(|f| f.sym == "helper")
        .expect("helper");
    assert_eq!(claimed.end, Addr(helper.start.0 + size));
    assert!(
        proof
            .meta
            .warnings
            .iter()
            .any(|w| w.contains("overlap") && w.contains(&helper.start.to_string())),
        "{:?}",
        proof.meta.warnings
    );
    assert!(proof.verify(&data).expect("verify").is_empty());
}

#[test]
fn absurd_counts_and_a_looping_eh_frame_are_errors_or_warnings() {
    let original = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    // e_shnum = 0xffff section headers, far more than the file holds.
    let mut data = original.clone();
    data[0x3c..0x3e].copy_from_slice(&0xffffu16.to_le_bytes());
    let e = FuncProof::build(&data).expect_err("section headers past the end");
    assert!(e.to_string().contains("section header"), "{e}");
    // A symbol table claiming 2^40 bytes of entries.
    let mut data = original.clone();
    let symtab = section_header(&data, ".symtab");
    data[symtab + 0x20..symtab + 0x28].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let e = FuncProof::build(&data).expect_err("symbol table past the end");
    assert!(e.to_string().contains("symbol"), "{e}");
    // Every .eh_frame entry's length field pointing back at itself: a zero-length entry is the
    // terminator, and a length that wraps the offset must not loop.
    let mut data = original.clone();
    let eh = section_header(&data, ".eh_frame");
    let offset = usize::try_from(le64(&data, eh + 0x18)).unwrap();
    let size = usize::try_from(le64(&data, eh + 0x20)).unwrap();
    for at in (offset..offset + size - 4).step_by(4) {
        data[at..at + 4].copy_from_slice(&0xffff_fffcu32.to_le_bytes());
    }
    let proof = FuncProof::build(&data).expect("symbols still give functions");
    assert!(proof.functions.iter().any(|f| f.sym == "vuln_parse"));
    assert!(
        proof.meta.warnings.iter().any(|w| w.contains(".eh_frame")),
        "{:?}",
        proof.meta.warnings
    );
}
