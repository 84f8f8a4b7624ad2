//! `FuncProof::verify` against proofs edited after the fact, one statement at a time: each edit
//! must come out as exactly the mismatch that names it. And `FuncProof::from_json` against
//! documents that break the format: each refusal names the JSON pointer.

use std::collections::BTreeSet;

use stella_binary::functions::{Addr, Function, Source};
use stella_binary::{BinaryError, FuncProof, MismatchKind, ProofProblem};

use crate::fixtures::{self, CXX, WITH_SYMBOLS};

type Named = BTreeSet<(MismatchKind, String, Option<&'static str>)>;

fn named(proof: &FuncProof, data: &[u8]) -> Named {
    proof
        .verify(data)
        .expect("verify")
        .into_iter()
        .map(|m| (m.kind, m.name, m.field))
        .collect()
}

fn one(kind: MismatchKind, name: &str, field: Option<&'static str>) -> Named {
    BTreeSet::from([(kind, name.to_owned(), field)])
}

fn function<'p>(proof: &'p mut FuncProof, sym: &str) -> &'p mut Function {
    proof
        .functions
        .iter_mut()
        .find(|f| f.sym == sym)
        .unwrap_or_else(|| panic!("no {sym}"))
}

/// The finding: a proof with a function renamed verified, because only hashes were compared,
/// and `query` then called the real name absent.
#[test]
fn a_renamed_function_fails_verification_naming_it() {
    let data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let honest = FuncProof::build(&data).expect("proof");
    assert!(honest.verify(&data).expect("verify").is_empty());

    let mut renamed = honest.clone();
    function(&mut renamed, "vuln_parse").sym = "safe_parse".to_owned();
    assert!(renamed.query("vuln_parse").expect("query").is_empty());
    let mismatches = renamed.verify(&data).expect("verify");
    assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
    let m = &mismatches[0];
    assert_eq!(
        (m.kind, m.name.as_str(), m.field),
        (MismatchKind::Name, "safe_parse", Some("sym"))
    );
    assert_eq!(
        (m.expected.as_str(), m.actual.as_str()),
        ("safe_parse", "vuln_parse")
    );
    let parse = honest
        .functions
        .iter()
        .find(|f| f.sym == "vuln_parse")
        .expect("vuln_parse");
    assert_eq!(m.range, Some((parse.start, parse.end)));
}

/// Every statement of a proof is derived again from the binary; each edit is named.
#[test]
fn every_statement_is_checked_against_the_binary() {
    let data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let honest = FuncProof::build(&data).expect("proof");
    let helper = honest
        .functions
        .iter()
        .find(|f| f.sym == "helper")
        .expect("helper")
        .clone();
    type Edit = Box<dyn Fn(&mut FuncProof)>;
    let cases: Vec<(&str, Edit, Named)> = vec![
        (
            "alias dropped",
            Box::new(|p| function(p, "vuln_parse").aliases.clear()),
            one(MismatchKind::Name, "vuln_parse", Some("aliases")),
        ),
        (
            "alias renamed",
            Box::new(|p| function(p, "vuln_parse").aliases = vec!["other".to_owned()]),
            one(MismatchKind::Name, "vuln_parse", Some("aliases")),
        ),
        (
            "demangled name invented",
            Box::new(|p| function(p, "helper").demangled = Some("ns::helper()".to_owned())),
            one(MismatchKind::Name, "helper", Some("demangled")),
        ),
        (
            "function left out: its absence would be claimed",
            Box::new(|p| p.functions.retain(|f| f.sym != "helper")),
            one(MismatchKind::Function, "helper", None),
        ),
        (
            "function invented over real bytes",
            Box::new(move |p| {
                let mut fake = helper.clone();
                fake.sym = "inflateGetHeader".to_owned();
                fake.start = Addr(helper.start.0 + 1);
                let at = p.functions.partition_point(|f| f.start <= fake.start);
                p.functions.insert(at, fake);
            }),
            one(MismatchKind::Function, "inflateGetHeader", None),
        ),
        (
            "end moved",
            Box::new(|p| function(p, "helper").end.0 += 1),
            one(MismatchKind::Function, "helper", Some("end")),
        ),
        (
            "hash changed",
            Box::new(|p| function(p, "helper").blake3 = "00".repeat(32)),
            one(MismatchKind::Function, "helper", Some("blake3")),
        ),
        (
            "source changed",
            Box::new(|p| function(p, "helper").source = Source::Dynsym),
            one(MismatchKind::Origin, "helper", Some("source")),
        ),
        (
            "line changed",
            Box::new(|p| function(p, "helper").line = Some(1)),
            one(MismatchKind::Origin, "helper", Some("line")),
        ),
        (
            "file changed",
            Box::new(|p| function(p, "helper").file = Some("/src/other.c".to_owned())),
            one(MismatchKind::Origin, "helper", Some("file")),
        ),
        (
            "fragment renamed",
            Box::new(|p| function(p, "handler").fragments[0].sym = "other.cold".to_owned()),
            one(MismatchKind::Name, "other.cold", Some("fragment")),
        ),
        (
            "fragment left out",
            Box::new(|p| function(p, "handler").fragments.clear()),
            one(MismatchKind::Fragment, "handler.cold", None),
        ),
        (
            "fragment hash changed",
            Box::new(|p| function(p, "handler").fragments[0].blake3 = "00".repeat(32)),
            one(MismatchKind::Fragment, "handler.cold", Some("blake3")),
        ),
        (
            "build id changed",
            Box::new(|p| p.build_id = Some("00".repeat(20).parse().expect("hex"))),
            one(MismatchKind::Identity, "buildId", None),
        ),
        (
            "arch changed",
            Box::new(|p| p.identity.arch = "aarch64".to_owned()),
            one(MismatchKind::Identity, "identity.arch", None),
        ),
        (
            "format changed",
            Box::new(|p| p.identity.format = "pe".to_owned()),
            one(MismatchKind::Identity, "identity.format", None),
        ),
        (
            "build id source changed",
            Box::new(|p| {
                p.identity.build_id_source = stella_binary::identity::BuildIdSource::Fallback;
            }),
            one(MismatchKind::Identity, "identity.buildIdSource", None),
        ),
        (
            "debug id dropped",
            Box::new(|p| p.identity.debug_id = None),
            one(MismatchKind::Identity, "identity.debugId", None),
        ),
        (
            "code id changed",
            Box::new(|p| p.identity.code_id = Some("00".to_owned())),
            one(MismatchKind::Identity, "identity.codeId", None),
        ),
        (
            "Mach-O uuid invented",
            Box::new(|p| p.identity.uuid = Some("00000000-0000-0000-0000-000000000000".into())),
            one(MismatchKind::Identity, "identity.uuid", None),
        ),
        (
            "file size changed",
            Box::new(|p| p.file.size += 1),
            one(MismatchKind::FileSize, "file", Some("size")),
        ),
        (
            "file sha256 changed",
            Box::new(|p| p.file.sha256 = stella_core::Digest::from_sha256_bytes([0; 32])),
            one(MismatchKind::FileHash, "file", Some("sha256")),
        ),
        (
            "section left out",
            Box::new(|p| {
                p.sections.remove(".rodata");
            }),
            one(MismatchKind::Section, ".rodata", None),
        ),
        (
            "section invented",
            Box::new(|p| {
                let text = p.sections[".text"].clone();
                p.sections.insert(".text.hot".to_owned(), text);
            }),
            one(MismatchKind::Section, ".text.hot", None),
        ),
        (
            "section moved",
            Box::new(|p| p.sections.get_mut(".text").expect("text").addr.0 += 16),
            one(MismatchKind::Section, ".text", Some("range")),
        ),
        (
            "section resized",
            Box::new(|p| p.sections.get_mut(".text").expect("text").size -= 1),
            one(MismatchKind::Section, ".text", Some("range")),
        ),
        (
            "compiler changed",
            Box::new(|p| p.meta.compiler = Some("GCC: 1.0".to_owned())),
            one(MismatchKind::Meta, "meta.compiler", None),
        ),
        (
            "flags dropped",
            Box::new(|p| p.meta.flags = None),
            one(MismatchKind::Meta, "meta.flags", None),
        ),
        (
            "warning invented",
            Box::new(|p| p.meta.warnings.push("nothing to see".to_owned())),
            one(MismatchKind::Meta, "meta.warnings", None),
        ),
    ];
    for (what, edit, expected) in cases {
        let mut proof = honest.clone();
        edit(&mut proof);
        assert_ne!(proof, honest, "{what}: the edit changed nothing");
        assert_eq!(named(&proof, &data), expected, "{what}");
    }
    // Who made the proof says nothing about the binary.
    let mut proof = honest.clone();
    proof.meta.version = "0.0.0".to_owned();
    assert!(proof.verify(&data).expect("verify").is_empty());
}

/// Demangled names are derived again when the proof stores them, and a proof built without
/// them (`--no-demangle`) claims none.
#[test]
fn demangled_names_are_checked_when_stored() {
    if !fixtures::available(CXX, "demangled_names_are_checked_when_stored") {
        return;
    }
    let data = std::fs::read(fixtures::vuln(CXX)).expect("read");
    let proof = FuncProof::build(&data).expect("proof");
    assert!(proof.verify(&data).expect("verify").is_empty());
    let i = proof
        .functions
        .iter()
        .position(|f| f.demangled.as_deref().is_some_and(|d| d.contains("::")))
        .expect("a demangled C++ name");
    let sym = proof.functions[i].sym.clone();

    let mut edited = proof.clone();
    edited.functions[i].demangled = Some("harmless::thing()".to_owned());
    assert_eq!(
        named(&edited, &data),
        one(MismatchKind::Name, &sym, Some("demangled"))
    );
    let mut dropped = proof.clone();
    dropped.functions[i].demangled = None;
    assert_eq!(
        named(&dropped, &data),
        one(MismatchKind::Name, &sym, Some("demangled"))
    );

    let bare = FuncProof::build_with(
        &data,
        &stella_binary::BuildOptions {
            demangle: false,
            ..Default::default()
        },
    )
    .expect("proof");
    assert!(bare.functions.iter().all(|f| f.demangled.is_none()));
    assert!(bare.verify(&data).expect("verify").is_empty());
}

/// The proof of `WITH_SYMBOLS` as JSON, for editing.
fn proof_json() -> serde_json::Value {
    let data = std::fs::read(fixtures::vuln(WITH_SYMBOLS)).expect("read");
    let json = FuncProof::build(&data)
        .expect("proof")
        .to_canonical_json()
        .expect("json");
    serde_json::from_slice(&json).expect("JSON")
}

fn read(doc: &serde_json::Value) -> Result<FuncProof, BinaryError> {
    FuncProof::from_json(&serde_json::to_vec(doc).expect("bytes"))
}

/// Addresses are `0x` and lower-case hex digits, as DESIGN.md writes them: nothing
/// `u64::from_str_radix` would also take.
#[test]
fn addresses_in_any_other_spelling_are_refused_naming_the_pointer() {
    let doc = proof_json();
    assert!(read(&doc).is_ok());
    let start = doc["functions"][0]["start"]
        .as_str()
        .expect("start")
        .to_owned();
    let digits = start.trim_start_matches("0x");
    for bad in [
        format!("0x+{digits}"),
        "0x-1".to_owned(),
        format!("0X{digits}"),
        "0x".to_owned(),
        "0xABC".to_owned(),
        format!(" {start}"),
        format!("{start} "),
        format!("0x0{digits}"),
        "0x10000000000000000".to_owned(),
        digits.to_owned(),
    ] {
        for pointer in [
            "/functions/0/start",
            "/functions/0/end",
            "/sections/.text/addr",
        ] {
            let mut edited = doc.clone();
            *edited.pointer_mut(pointer).expect(pointer) = serde_json::json!(bad);
            match read(&edited) {
                Err(BinaryError::ProofField {
                    pointer: at,
                    problem: ProofProblem::Shape { reason },
                }) => {
                    assert_eq!(at, pointer, "{bad:?}");
                    assert!(reason.contains("is not an address"), "{bad:?}: {reason}");
                }
                other => panic!("{bad:?} at {pointer}: {other:?}"),
            }
        }
    }
    // The message a user reads names the pointer and what was expected.
    let mut edited = doc.clone();
    edited["functions"][1]["start"] = serde_json::json!("0x+3be0");
    let text = read(&edited).expect_err("refused").to_string();
    assert!(
        text.contains("at /functions/1/start")
            && text.contains("\"0x+3be0\"")
            && text.contains("lower-case hex"),
        "{text}"
    );
}

/// `buildId` is lower-case hex (the key symbol servers and runtime frames use): any other
/// spelling, or a path, is refused when the proof is read, naming the pointer; `null` stays
/// allowed, and `file.sha256` is a `sha256:` digest.
#[test]
fn a_build_id_or_file_digest_in_another_spelling_is_refused_naming_the_pointer() {
    let doc = proof_json();
    let id = doc["buildId"].as_str().expect("a build id").to_owned();
    for bad in [
        serde_json::json!(id.to_uppercase()),
        serde_json::json!("../../etc/passwd"),
        serde_json::json!(""),
        serde_json::json!(&id[1..]),
        serde_json::json!(7),
    ] {
        let mut edited = doc.clone();
        edited["buildId"] = bad.clone();
        let e = read(&edited).expect_err("refused");
        match &e {
            BinaryError::ProofField { pointer, .. } => assert_eq!(pointer, "/buildId", "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
        assert_eq!(
            stella_core::Kinded::kind(&e),
            stella_core::ErrorKind::Invalid
        );
        assert!(e.to_string().contains("at /buildId"), "{e}");
    }
    let mut anonymous = doc.clone();
    anonymous["buildId"] = serde_json::Value::Null;
    assert_eq!(read(&anonymous).expect("null is allowed").build_id, None);
    let mut edited = doc.clone();
    let sha = doc["file"]["sha256"].as_str().expect("sha256").to_owned();
    edited["file"]["sha256"] = serde_json::json!(sha.trim_start_matches("sha256:"));
    match read(&edited) {
        Err(BinaryError::ProofField { pointer, .. }) => assert_eq!(pointer, "/file/sha256"),
        other => panic!("a bare hex file digest: {other:?}"),
    }
}

/// DESIGN.md: lists are sorted. One function per start address, every range non-empty.
#[test]
fn unsorted_duplicate_and_inverted_lists_are_refused() {
    let doc = proof_json();
    let functions = doc["functions"].as_array().expect("functions").clone();
    assert!(functions.len() >= 3);
    let field = |r: Result<FuncProof, BinaryError>| match r {
        Err(BinaryError::ProofField { pointer, problem }) => (pointer, problem),
        other => panic!("not refused: {other:?}"),
    };

    let mut swapped = doc.clone();
    swapped["functions"]
        .as_array_mut()
        .expect("list")
        .swap(0, 1);
    let (pointer, problem) = field(read(&swapped));
    assert_eq!(pointer, "/functions/1");
    assert!(
        matches!(problem, ProofProblem::Unsorted { .. }),
        "{problem}"
    );

    let mut duplicate = doc.clone();
    duplicate["functions"]
        .as_array_mut()
        .expect("list")
        .insert(1, functions[0].clone());
    let (pointer, problem) = field(read(&duplicate));
    assert_eq!(pointer, "/functions/1");
    assert!(
        matches!(problem, ProofProblem::Unsorted { .. }),
        "{problem}"
    );

    let mut inverted = doc.clone();
    let start = functions[2]["start"].clone();
    inverted["functions"][2]["end"] = start;
    let (pointer, problem) = field(read(&inverted));
    assert_eq!(pointer, "/functions/2");
    assert!(
        matches!(problem, ProofProblem::EmptyRange { .. }),
        "{problem}"
    );

    let with_aliases = functions
        .iter()
        .position(|f| f.get("aliases").is_some())
        .expect("a function with aliases");
    let mut aliases = doc.clone();
    aliases["functions"][with_aliases]["aliases"] = serde_json::json!(["b", "a"]);
    let (pointer, problem) = field(read(&aliases));
    assert_eq!(pointer, format!("/functions/{with_aliases}/aliases/1"));
    assert!(
        matches!(problem, ProofProblem::UnsortedNames { .. }),
        "{problem}"
    );

    let mut schema = doc.clone();
    schema["schema"] = serde_json::json!("stella.funcproof/v0");
    assert_eq!(field(read(&schema)).0, "/schema");
    // Another kind of document is named as such, not by the first member it lacks.
    let (pointer, problem) = field(read(&serde_json::json!({"bomFormat": "CycloneDX"})));
    assert_eq!(pointer, "/schema");
    assert_eq!(problem, ProofProblem::Schema { found: None });

    // Ranges that overlap are a build's honest statement (hand-written assembly; see
    // `overlapping_symbols_are_proven_as_claimed_and_reported`): read, and left to `verify`.
    let mut overlapping = doc.clone();
    let next_start = functions[1]["start"].clone();
    let next = u64::from_str_radix(&next_start.as_str().expect("hex")[2..], 16).expect("hex");
    overlapping["functions"][0]["end"] = serde_json::json!(format!("{:#x}", next + 1));
    assert!(read(&overlapping).is_ok());
}

/// In a relocatable object every section starts at address 0: one start, several ends. Such a
/// proof is read back and verifies; two sections' identical unnamed ranges are one function.
#[test]
fn relocatable_objects_with_sections_at_zero_read_back_and_verify() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("stella-binary-verify");
    std::fs::create_dir_all(&dir).expect("dir");
    let source = dir.join("crt.s");
    // `.init` and `.fini` as crti.o has them: code without symbols, equal sizes.
    std::fs::write(
        &source,
        ".section .init,\"ax\",@progbits\n sub $8, %rsp\n nop\n\
         .section .fini,\"ax\",@progbits\n sub $8, %rsp\n nop\n\
         .section .text.other,\"ax\",@progbits\n push %rbp\n mov %rsp, %rbp\n pop %rbp\n ret\n",
    )
    .expect("write");
    let object = dir.join("crt.o");
    let status = std::process::Command::new("gcc")
        .arg("-c")
        .arg("-o")
        .arg(&object)
        .arg(&source)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    let data = std::fs::read(&object).expect("read");
    let proof = FuncProof::build(&data).expect("proof");
    let ranges: Vec<(u64, u64)> = proof
        .functions
        .iter()
        .map(|f| (f.start.0, f.end.0))
        .collect();
    assert_eq!(ranges, vec![(0, 5), (0, 6)]);
    let json = proof.to_canonical_json().expect("json");
    let back = FuncProof::from_json(&json).expect("reads back");
    assert_eq!(back, proof);
    assert!(back.verify(&data).expect("verify").is_empty());
}
