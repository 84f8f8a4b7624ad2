//! BOLT's remains (`stella_binary::bolt`) on a shared object laid out as BOLT leaves one
//! (`tests/fixtures/bolt.S`, assembled and linked by gcc): code in an executable
//! `.bolt.org.text`, some of it live (called, its address taken, stored in data, short-jumped
//! to), some of it left behind (referred to only by other remains, or by bytes inside an
//! instruction's immediate). `objdump` is the peer that says where the instructions are.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use stella_binary::functions::Role;
use stella_binary::{FuncProof, MappedFile, MismatchKind};

use crate::fixtures;

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Assembles `bolt.S` with its code section renamed to `section`, into a shared object (once
/// per test run).
fn build(section: &str) -> Option<PathBuf> {
    if !fixtures::available(fixtures::WITH_SYMBOLS, "bolt") {
        return None;
    }
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stella-binary-bolt");
    std::fs::create_dir_all(&dir).unwrap();
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bolt.S"),
    )
    .unwrap();
    let name = section.trim_start_matches('.').replace('.', "-");
    let asm = dir.join(format!("{name}.S"));
    std::fs::write(&asm, source.replace(".bolt.org.text", section)).unwrap();
    let out = dir.join(format!("{name}.so"));
    if out.exists() {
        return Some(out);
    }
    let tmp = dir.join(format!("{name}.so.tmp"));
    let status = Command::new("gcc")
        .args(["-shared", "-nostdlib", "-Wl,--build-id", "-o"])
        .arg(&tmp)
        .arg(&asm)
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc assembles bolt.S");
    std::fs::rename(&tmp, &out).unwrap();
    Some(out)
}

/// `objdump -d`'s instructions of `symbol`: `(address, bytes)`.
fn objdump(path: &Path, symbol: &str) -> Vec<(u64, Vec<u8>)> {
    let out = Command::new("objdump")
        .arg("-d")
        .arg(format!("--disassemble={symbol}"))
        .arg(path)
        .output()
        .expect("objdump runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let (addr, rest) = line.trim().split_once(":\t")?;
            let addr = u64::from_str_radix(addr, 16).ok()?;
            // A long instruction's bytes go on over a second line, which has no mnemonic.
            let mut fields = rest.split('\t');
            let bytes = fields.next()?;
            fields.next().filter(|m| !m.trim().is_empty())?;
            let bytes: Vec<u8> = bytes
                .split_whitespace()
                .map(|b| u8::from_str_radix(b, 16))
                .collect::<Result<_, _>>()
                .ok()?;
            Some((addr, bytes))
        })
        .collect()
}

#[test]
fn code_nothing_live_refers_to_is_proven_apart_with_its_role() {
    let Some(path) = build(".bolt.org.text") else {
        return;
    };
    let data = MappedFile::open(&path).unwrap();
    let proof = FuncProof::build(&data).unwrap();
    let starts: Vec<u64> = proof.functions.iter().map(|f| f.start.0).collect();
    let inactive: Vec<(u64, u64)> = proof
        .inactive
        .iter()
        .map(|r| (r.start.0, r.end.0))
        .collect();
    // entry, named_org, and the four live unnamed ranges; the two left behind apart.
    assert_eq!(proof.functions.len(), 6, "{:#?}", proof.functions);
    assert_eq!(inactive.len(), 2, "{:#?}", proof.inactive);
    assert!(proof.inactive.iter().all(|r| r.role == Role::BoltOriginal));
    assert!(inactive.iter().all(|(s, _)| !starts.contains(s)));

    // The peer's view of `entry`: a call, a lea, and a movabs whose immediate holds E8 and the
    // rel32 of the second range left behind; decoded, that is no call.
    let entry = objdump(&path, "entry");
    assert_eq!(entry.len(), 4, "{entry:?}");
    let call = |(at, bytes): &(u64, Vec<u8>)| {
        (bytes.first() == Some(&0xE8)).then(|| {
            let rel = i32::from_le_bytes(bytes[1..5].try_into().unwrap());
            at.wrapping_add(5).wrapping_add_signed(i64::from(rel))
        })
    };
    let called = call(&entry[0]).expect("entry starts with a call");
    assert!(starts.contains(&called), "the called range is a function");
    let (movabs_at, movabs) = &entry[2];
    assert_eq!(&movabs[..3], &[0x48, 0xB9, 0xE8]);
    let hidden = call(&(movabs_at + 2, movabs[2..7].to_vec())).unwrap();
    assert_eq!(
        hidden, inactive[1].0,
        "the bytes point at the range left behind"
    );

    // Each range's hash is the BLAKE3 of its bytes, as for functions.
    for r in &proof.inactive {
        let bytes = &data[usize::try_from(r.start.0).unwrap()..usize::try_from(r.end.0).unwrap()];
        assert_eq!(r.blake3, blake3::hash(bytes).to_hex().to_string());
    }

    // Written, read back, replayed.
    let mut json = Vec::new();
    proof.write_canonical_json(&mut json).unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(text.contains(r#""inactive":[{"blake3":"#), "{text}");
    assert!(text.contains(r#""role":"bolt-original""#));
    let read = FuncProof::from_json(&json).unwrap();
    assert_eq!(read, proof);
    assert!(read.verify(&data).unwrap().is_empty());
}

#[test]
fn the_same_code_in_any_other_section_is_all_functions() {
    let Some(path) = build(".text.moved") else {
        return;
    };
    let data = MappedFile::open(&path).unwrap();
    let proof = FuncProof::build(&data).unwrap();
    assert_eq!(proof.functions.len(), 8, "{:#?}", proof.functions);
    assert!(proof.inactive.is_empty());
}

#[test]
fn a_proof_that_hides_a_function_or_drops_a_range_fails_verification() {
    let Some(path) = build(".bolt.org.text") else {
        return;
    };
    let data = MappedFile::open(&path).unwrap();
    let proof = FuncProof::build(&data).unwrap();

    // A function declared inactive: missing from the functions, extra among the remains.
    let mut hidden = proof.clone();
    let f = hidden.functions.remove(2);
    hidden.inactive.insert(
        0,
        stella_binary::functions::Inactive {
            blake3: f.blake3.clone(),
            end: f.end,
            role: Role::BoltOriginal,
            start: f.start,
        },
    );
    hidden.inactive.sort_by_key(|r| (r.start, r.end));
    let mismatches = hidden.verify(&data).unwrap();
    let kinds: Vec<MismatchKind> = mismatches.iter().map(|m| m.kind).collect();
    assert!(kinds.contains(&MismatchKind::Function), "{mismatches:?}");
    assert!(kinds.contains(&MismatchKind::Inactive), "{mismatches:?}");

    // A range left out, and a range's hash changed.
    let mut dropped = proof.clone();
    dropped.inactive.pop();
    let m = dropped.verify(&data).unwrap();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0].kind, m[0].expected.as_str()),
        (MismatchKind::Inactive, "absent")
    );
    let mut forged = proof.clone();
    forged.inactive[0].blake3 = "0".repeat(64);
    let m = forged.verify(&data).unwrap();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0].kind, m[0].field),
        (MismatchKind::Inactive, Some("blake3"))
    );
}

#[test]
fn inactive_ranges_are_read_strictly() {
    let Some(path) = build(".bolt.org.text") else {
        return;
    };
    let data = MappedFile::open(&path).unwrap();
    let proof = FuncProof::build(&data).unwrap();
    let mut json = Vec::new();
    proof.write_canonical_json(&mut json).unwrap();
    let text = String::from_utf8(json).unwrap();
    let refused = |text: &str, what: &str| {
        let err = FuncProof::from_json(text.as_bytes()).expect_err(what);
        assert!(err.to_string().contains("/inactive"), "{what}: {err}");
    };
    refused(
        &text.replace("bolt-original", "leftover"),
        "an unknown role",
    );
    let (a, b) = (&proof.inactive[0], &proof.inactive[1]);
    let swapped = text
        .replacen(&format!("\"start\":\"{}\"", a.start), "\"start\":\"@A\"", 1)
        .replacen(
            &format!("\"start\":\"{}\"", b.start),
            &format!("\"start\":\"{}\"", a.start),
            1,
        )
        .replacen("\"start\":\"@A\"", &format!("\"start\":\"{}\"", b.start), 1);
    refused(&swapped, "ranges out of order");
}
