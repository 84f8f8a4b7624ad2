//! Beyond gcc on x86-64: clang, C++ (Itanium mangling, clones), Rust (legacy and v0 mangling)
//! and aarch64, each checked against `nm` and against its own stripped copy.

use std::collections::BTreeSet;

use stella_binary::functions::{Addr, Source};
use stella_binary::{BuildOptions, FuncProof, MappedFile};

use crate::fixtures::{
    self, AARCH64, AARCH64_STRIPPED, Build, CLANG, CLANG_STRIPPED, CXX, NO_PIE, RUST_LEGACY,
    RUST_V0, STRIPPED, WITH_SYMBOLS,
};

fn prove(build: Build) -> FuncProof {
    let data = MappedFile::open(&fixtures::vuln(build)).expect("maps");
    FuncProof::build(&data).expect("proof")
}

/// Every `(start, end)` the proof covers: functions and their fragments.
fn ranges(proof: &FuncProof) -> BTreeSet<(Addr, Addr, String)> {
    proof
        .functions
        .iter()
        .map(|f| (f.start, f.end, f.blake3.clone()))
        .chain(
            proof
                .functions
                .iter()
                .flat_map(|f| &f.fragments)
                .map(|g| (g.start, g.end, g.blake3.clone())),
        )
        .collect()
}

#[test]
fn every_nm_function_is_proven_at_its_address_and_size() {
    for build in [
        WITH_SYMBOLS,
        NO_PIE,
        CLANG,
        CXX,
        RUST_LEGACY,
        RUST_V0,
        AARCH64,
    ] {
        if !fixtures::available(build, "every_nm_function_is_proven_at_its_address_and_size") {
            continue;
        }
        let path = fixtures::vuln(build);
        let proof = prove(build);
        let functions = fixtures::nm_functions(&path);
        assert!(
            functions.len() >= 6,
            "{}: nm lists {functions:?}",
            build.name
        );
        for (addr, size, name) in functions {
            let covered = proof.functions.iter().any(|f| {
                (f.sym == name || f.aliases.contains(&name))
                    && f.start == Addr(addr)
                    && f.end == Addr(addr + size)
            }) || proof
                .functions
                .iter()
                .flat_map(|f| &f.fragments)
                .any(|frag| {
                    frag.sym == name && frag.start == Addr(addr) && frag.end == Addr(addr + size)
                });
            assert!(
                covered,
                "{}: nm's {name} at {addr:#x}+{size:#x} is not in the proof",
                build.name
            );
        }
    }
}

#[test]
fn stripped_binaries_keep_exact_ranges_from_eh_frame() {
    for (full, stripped) in [
        (WITH_SYMBOLS, STRIPPED),
        (CLANG, CLANG_STRIPPED),
        (AARCH64, AARCH64_STRIPPED),
    ] {
        if !fixtures::available(full, "stripped_binaries_keep_exact_ranges_from_eh_frame") {
            continue;
        }
        let (full_proof, stripped_proof) = (prove(full), prove(stripped));
        assert_eq!(
            full_proof.build_id, stripped_proof.build_id,
            "{}: strip keeps the build id",
            full.name
        );
        let kept = ranges(&stripped_proof);
        for f in &full_proof.functions {
            // CRT code assembled without unwind information.
            if ["_init", "_fini", "_start", "call_weak_fn"].contains(&f.sym.as_str()) {
                continue;
            }
            assert!(
                kept.contains(&(f.start, f.end, f.blake3.clone())),
                "{}: {} [{}, {}) lost its exact range when stripped",
                stripped.name,
                f.sym,
                f.start,
                f.end
            );
        }
        let parse_start = full_proof
            .functions
            .iter()
            .find(|g| g.sym == "vuln_parse")
            .expect("vuln_parse")
            .start;
        let sub = stripped_proof
            .functions
            .iter()
            .find(|f| f.start == parse_start)
            .expect("vuln_parse's range");
        assert_eq!(sub.source, Source::EhFrame, "{}", stripped.name);
        assert_eq!(sub.sym, format!("sub_{:x}", parse_start.0));
    }
}

#[test]
fn clang_binaries_name_their_compiler() {
    if !fixtures::available(CLANG, "clang_binaries_name_their_compiler") {
        return;
    }
    let proof = prove(CLANG);
    let flags = proof.meta.flags.as_deref().expect("DW_AT_producer");
    assert!(flags.contains("clang version"), "{flags}");
    let compiler = proof.meta.compiler.as_deref().expect(".comment");
    assert!(compiler.contains("clang"), "{compiler}");
    let parse = proof
        .functions
        .iter()
        .find(|f| f.sym == "vuln_parse")
        .expect("vuln_parse");
    assert_eq!(parse.aliases, vec!["vuln_parse_alias".to_owned()]);
    assert!(parse.file.as_deref().is_some_and(|f| f.ends_with("vuln.c")));
}

#[test]
fn cxx_names_are_demangled_and_queryable() {
    if !fixtures::available(CXX, "cxx_names_are_demangled_and_queryable") {
        return;
    }
    let proof = prove(CXX);
    let demangled: BTreeSet<&str> = proof
        .functions
        .iter()
        .filter_map(|f| f.demangled.as_deref())
        .collect();
    // Overloads that only the mangled name tells apart stay two functions.
    for name in ["codec::scale(int)", "codec::scale(double)"] {
        assert!(demangled.contains(name), "{name} not in {demangled:?}");
    }
    let scale = proof.query("codec::scale").expect("query");
    assert_eq!(scale.len(), 2, "{scale:?}");
    // GCC's interprocedural clones keep their suffix, and DWARF still places them in the source
    // through the abstract origin and the in-class declaration.
    let header = proof.query("codec::Inflater::get_header").expect("query");
    assert_eq!(header.len(), 1, "{header:?}");
    let f = proof
        .functions
        .iter()
        .find(|f| f.sym == header[0].sym)
        .expect("function");
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vuln.cpp"),
    )
    .expect("source");
    let line = usize::try_from(f.line.expect("line")).unwrap();
    assert!(
        source.lines().nth(line - 1).unwrap().contains("get_header"),
        "{} is declared on line {line}",
        f.sym
    );
    let instances = proof.query("codec::checksum").expect("query");
    assert_eq!(instances.len(), 2, "two template instances: {instances:?}");
}

#[test]
fn rust_symbols_demangle_in_both_manglings() {
    for build in [RUST_LEGACY, RUST_V0] {
        if !fixtures::available(build, "rust_symbols_demangle_in_both_manglings") {
            continue;
        }
        let proof = prove(build);
        let v0 = build.name == RUST_V0.name;
        let method = "<vuln::ssl::Context as vuln::ssl::Select>::select_next_proto";
        let hits = proof.query(method).expect("query");
        assert_eq!(hits.len(), 1, "{}: {hits:?}", build.name);
        assert_eq!(
            hits[0].sym.starts_with("_R"),
            v0,
            "{}: {} is mangled as asked",
            build.name,
            hits[0].sym
        );
        // Generic instances: v0 names the type argument, legacy only tells them apart by hash.
        let checksums = proof.query("vuln::ssl::checksum*").expect("query");
        assert_eq!(checksums.len(), 2, "{}: {checksums:?}", build.name);
        if v0 {
            let names: BTreeSet<&str> = checksums
                .iter()
                .filter_map(|m| m.demangled.as_deref())
                .collect();
            assert_eq!(
                names,
                BTreeSet::from(["vuln::ssl::checksum::<u32>", "vuln::ssl::checksum::<u8>"])
            );
        }
        let f = proof
            .functions
            .iter()
            .find(|f| f.sym == hits[0].sym)
            .expect("function");
        assert!(
            f.file.as_deref().is_some_and(|p| p.ends_with("vuln.rs")),
            "{f:?}"
        );
        let flags = proof.meta.flags.as_deref().expect("producer");
        assert!(flags.contains("rustc version"), "{flags}");
    }
}

#[test]
fn aarch64_identity_and_call_paths_through_the_plt() {
    if !fixtures::available(AARCH64, "aarch64_identity_and_call_paths_through_the_plt") {
        return;
    }
    let data = std::fs::read(fixtures::vuln(AARCH64)).expect("read");
    let options = BuildOptions {
        callgraph: true,
        entries: vec!["main".to_owned()],
        sinks: vec!["helper".to_owned(), "fprintf".to_owned()],
        ..Default::default()
    };
    let proof = FuncProof::build_with(&data, &options).expect("proof");
    assert_eq!(proof.identity.arch, "aarch64");
    let path = |sink: &str| {
        proof
            .traces
            .iter()
            .find(|t| t.sink == sink)
            .expect("trace")
            .path
            .clone()
    };
    assert_eq!(path("helper"), ["main", "handler", "vuln_parse", "helper"]);
    assert_eq!(path("fprintf"), ["main", "handler", "fprintf"]);
    assert!(proof.verify(&data).expect("verify").is_empty());
}
