//! Symbol tables of gcc-built fixtures, checked against the ELF program headers read here on
//! their own and against `nm`; symbol bundles written, read back, and attacked.

use std::io::Read as _;
use std::process::Command;

use object::read::elf::{ElfFile64, ProgramHeader as _};
use stella_binary::symbols::bundle::{self, Limits};
use stella_binary::symbols::{self, SymbolTable};
use stella_binary::{BinaryError, FuncProof};

use crate::fixtures::{self, AARCH64, Build, NO_PIE, STRIPPED, WITH_SYMBOLS};

fn table_of(build: Build) -> (Vec<u8>, SymbolTable) {
    let data = std::fs::read(fixtures::vuln(build)).expect("read");
    let proof = FuncProof::build(&data).expect("proof");
    let table = SymbolTable::from_proof(&proof, &data).expect("table");
    (data, table)
}

/// `(p_offset, p_vaddr, p_filesz)` of every `PT_LOAD`, straight from the program headers.
fn pt_loads(data: &[u8]) -> Vec<(u64, u64, u64)> {
    let elf = ElfFile64::<object::Endianness>::parse(data).expect("64-bit ELF");
    let endian = elf.endian();
    elf.elf_program_headers()
        .iter()
        .filter(|p| p.p_type(endian) == object::elf::PT_LOAD)
        .map(|p| (p.p_offset(endian), p.p_vaddr(endian), p.p_filesz(endian)))
        .collect()
}

/// The file offset of `vaddr`: `p_offset + (vaddr - p_vaddr)` in the `PT_LOAD` holding it.
fn file_offset(loads: &[(u64, u64, u64)], vaddr: u64) -> u64 {
    loads
        .iter()
        .find(|&&(_, v, size)| vaddr >= v && vaddr - v < size)
        .map(|&(offset, v, _)| offset + (vaddr - v))
        .unwrap_or_else(|| panic!("{vaddr:#x} is in no PT_LOAD"))
}

fn check_lookups(build: Build) {
    let (data, table) = table_of(build);
    let loads = pt_loads(&data);
    assert!(!table.functions.is_empty(), "{}", build.name);
    assert_eq!(table.schema, symbols::SCHEMA);
    assert_eq!(table.segments.len(), loads.len(), "{}", build.name);
    assert!(table.segments.iter().any(|s| s.executable));
    let mut checked = 0;
    for f in &table.functions {
        let offset = file_offset(&loads, f.start.0);
        assert_eq!(table.file_offset_to_vaddr(offset), Some(f.start.0));
        let (hit, into) = table.lookup_file_offset(offset).expect("entry found");
        assert_eq!(
            (hit.sym.as_str(), into),
            (f.sym.as_str(), 0),
            "{}",
            build.name
        );
        if f.end.0 - f.start.0 > 3 {
            let (hit, into) = table.lookup_file_offset(offset + 3).expect("inside");
            assert_eq!(
                (hit.sym.as_str(), into),
                (f.sym.as_str(), 3),
                "{}",
                build.name
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "{}: {checked}", build.name);
    // Past the end of the file, no segment answers.
    assert_eq!(table.lookup_file_offset(data.len() as u64 + 0x1000), None);
}

#[test]
fn every_function_is_found_by_file_offset() {
    for build in [WITH_SYMBOLS, NO_PIE, STRIPPED] {
        check_lookups(build);
    }
    if fixtures::available(AARCH64, "every_function_is_found_by_file_offset (aarch64)") {
        check_lookups(AARCH64);
    }
}

#[test]
fn table_agrees_with_nm_and_keeps_cold_fragments() {
    let path = fixtures::vuln(WITH_SYMBOLS);
    let (data, table) = table_of(WITH_SYMBOLS);
    assert_eq!(table.build_id_source, "gnu-note");
    assert_eq!(table.build_id.len(), 40, "{}", table.build_id);
    assert_eq!(
        (table.format.as_str(), table.arch.as_str()),
        ("elf", "x86_64")
    );
    // Every function and every fragment, as `entries_of` lists them for a verifier.
    let proof = FuncProof::build(&data).expect("proof");
    assert_eq!(table.functions, symbols::entries_of(&proof));
    let fragments: usize = proof.functions.iter().map(|f| f.fragments.len()).sum();
    assert!(fragments >= 1);
    assert_eq!(table.functions.len(), proof.functions.len() + fragments);
    let cold = table
        .functions
        .iter()
        .find(|f| f.sym == "handler.cold")
        .expect("the .cold fragment is an entry of its own");
    assert_eq!(
        table
            .lookup_vaddr(cold.start.0 + 1)
            .map(|(f, o)| (f.sym.as_str(), o)),
        Some(("handler.cold", 1))
    );
    if !Command::new("nm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        stella_testkit::skip(
            "table_agrees_with_nm",
            "nm not installed (Debian: apt-get install binutils)",
        );
        return;
    }
    let loads = pt_loads(&data);
    let nm = fixtures::nm_functions(&path);
    for name in ["main", "helper", "vuln_parse", "handler", "handler.cold"] {
        let &(addr, size, _) = nm
            .iter()
            .find(|(_, _, n)| n == name)
            .unwrap_or_else(|| panic!("nm lists {name}"));
        let entry = table
            .functions
            .iter()
            .find(|f| f.sym == name)
            .unwrap_or_else(|| panic!("table lists {name}"));
        assert_eq!((entry.start.0, entry.end.0), (addr, addr + size), "{name}");
        let (hit, into) = table
            .lookup_file_offset(file_offset(&loads, addr) + size - 1)
            .expect("last byte");
        assert_eq!((hit.sym.as_str(), into), (name, size - 1));
    }
}

#[test]
fn a_table_is_only_made_from_its_own_file() {
    let (mut data, table) = table_of(NO_PIE);
    let proof = FuncProof::build(&data).expect("proof");
    data[100] ^= 1;
    let refused = SymbolTable::from_proof(&proof, &data).expect_err("another file");
    // Bytes that are not the proof's file are a clean "no", not bad input.
    assert_eq!(
        stella_core::Kinded::kind(&refused),
        stella_core::ErrorKind::Rejected
    );
    match refused {
        BinaryError::FileMismatch { expected, actual } => {
            assert_eq!(expected.to_string(), table.file_sha256);
            assert_ne!(actual, expected);
        }
        other => panic!("expected a file mismatch, got {other:?}"),
    }
    // A proof without a build id gives the file's digest as the id.
    data[100] ^= 1;
    let mut anonymous = proof.clone();
    anonymous.build_id = None;
    let t = SymbolTable::from_proof(&anonymous, &data).expect("table");
    assert_eq!(
        t.build_id,
        format!("sha256-{}", table.file_sha256.trim_start_matches("sha256:"))
    );
    assert_eq!(t.build_id_source, "file-sha256");
    assert!(symbols::is_build_id(&t.build_id));
    // A build id longer than a table names (a bundle member is named after it) is refused.
    let mut long = proof;
    long.build_id = Some(
        "ab".repeat(symbols::MAX_BUILD_ID_HEX / 2 + 1)
            .parse()
            .expect("hex"),
    );
    match SymbolTable::from_proof(&long, &data) {
        Err(BinaryError::Proof { reason }) => assert!(reason.contains("longer than"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn two_tables() -> Vec<SymbolTable> {
    vec![table_of(WITH_SYMBOLS).1, table_of(NO_PIE).1]
}

#[test]
fn bundles_round_trip_deterministically() {
    let tables = two_tables();
    let bytes = bundle::write(&tables).expect("bundle");
    assert_eq!(bytes, bundle::write(&tables).expect("again"), "same bytes");
    let reversed: Vec<SymbolTable> = tables.iter().rev().cloned().collect();
    assert_eq!(
        bytes,
        bundle::write(&reversed).expect("reversed"),
        "order-free"
    );
    let mut sorted = tables.clone();
    sorted.sort_by(|a, b| a.build_id.cmp(&b.build_id));
    assert_eq!(
        bundle::read(&bytes, &Limits::default()).expect("reads"),
        sorted
    );

    let members = members_of(&bytes);
    let names: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    let expected: Vec<String> = std::iter::once("index.json".to_owned())
        .chain(sorted.iter().map(|t| format!("{}.json", t.build_id)))
        .collect();
    assert_eq!(names, expected);
    let index: serde_json::Value = serde_json::from_slice(&members[0].1).expect("index");
    assert_eq!(index["schema"], symbols::BUNDLE_SCHEMA);
    for (entry, (table, member)) in index["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .zip(sorted.iter().zip(&members[1..]))
    {
        assert_eq!(entry["buildId"], table.build_id.as_str());
        assert_eq!(entry["functions"], table.functions.len());
        assert_eq!(
            entry["sha256"],
            stella_core::Digest::sha256(&member.1).to_string()
        );
        assert_eq!(member.1, table.to_canonical_json().expect("json"));
    }
    for header in headers_of(&bytes) {
        assert_eq!(header.mode().unwrap(), 0o644);
        assert_eq!(
            (
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap()
            ),
            (0, 0, 0)
        );
        assert_eq!(header.username_bytes(), Some(&b""[..]));
        assert_eq!(header.groupname_bytes(), Some(&b""[..]));
    }
}

/// GNU tar (or bsdtar) lists the bundle as plain files owned by 0/0, mode 0644, dated 1970.
#[test]
fn system_tar_reads_bundles() {
    if !Command::new("tar")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        stella_testkit::skip("system_tar_reads_bundles", "tar not installed");
        return;
    }
    let tables = two_tables();
    let bytes = bundle::write(&tables).expect("bundle");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("stella-symbols-bundle.tar");
    std::fs::write(&path, &bytes).expect("write");
    let out = Command::new("tar")
        .args(["--list", "--verbose", "--numeric-owner", "-f"])
        .arg(&path)
        .output()
        .expect("tar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    for line in &lines {
        assert!(line.starts_with("-rw-r--r-- 0/0"), "{line}");
        assert!(line.contains("1970-01-01"), "{line}");
    }
    assert!(lines[0].ends_with(" index.json"), "{listing}");
    for table in &tables {
        let name = format!("{}.json", table.build_id);
        let out = Command::new("tar")
            .args(["--extract", "--to-stdout", "-f"])
            .arg(&path)
            .arg(&name)
            .output()
            .expect("tar runs");
        assert!(out.status.success());
        assert_eq!(
            out.stdout,
            table.to_canonical_json().expect("json"),
            "{name}"
        );
    }
}

#[test]
fn duplicate_build_ids_keep_the_smallest_file_digest() {
    let (_, table) = table_of(NO_PIE);
    let mut twin = table.clone();
    twin.file_sha256 = format!("sha256:{}", "0".repeat(64));
    twin.functions.truncate(1);
    for tables in [
        vec![table.clone(), twin.clone()],
        vec![twin.clone(), table.clone()],
    ] {
        let read = bundle::read(&bundle::write(&tables).expect("bundle"), &Limits::default())
            .expect("reads");
        assert_eq!(read, vec![twin.clone()]);
    }
}

// ---- hostile bundles ----

/// `(name, bytes)` of each member, in archive order.
fn members_of(bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bundle);
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let name = String::from_utf8(e.path_bytes().into_owned()).expect("utf-8");
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("read");
            (name, bytes)
        })
        .collect()
}

fn headers_of(bundle: &[u8]) -> Vec<tar::Header> {
    let mut archive = tar::Archive::new(bundle);
    archive
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry").header().clone())
        .collect()
}

/// One tar member with the raw name bytes (no checks), of type `kind`.
fn member(name: &[u8], kind: tar::EntryType, bytes: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(kind);
    if kind == tar::EntryType::Symlink {
        header.set_link_name_literal("/etc/passwd").expect("link");
    }
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(bytes);
    out.resize(out.len().next_multiple_of(512), 0);
    out
}

fn archive(members: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = members.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn regular(name: &str, bytes: &[u8]) -> Vec<u8> {
    member(name.as_bytes(), tar::EntryType::Regular, bytes)
}

/// The error `read` gives for `bytes` under the default limits, as text.
fn refusal(bytes: &[u8]) -> String {
    refusal_with(bytes, &Limits::default())
}

fn refusal_with(bytes: &[u8], limits: &Limits) -> String {
    match bundle::read(bytes, limits) {
        Err(e @ BinaryError::Bundle { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn assert_mentions(error: &str, words: &[&str]) {
    for word in words {
        assert!(error.contains(word), "{word:?} not in: {error}");
    }
}

#[test]
fn hostile_members_are_refused_by_name_and_kind() {
    let tables = vec![table_of(NO_PIE).1];
    let good = members_of(&bundle::write(&tables).expect("bundle"));
    let (index, table) = (&good[0].1, &good[1]);
    let with = |extra: Vec<u8>| {
        archive(&[
            regular("index.json", index),
            regular(&table.0, &table.1),
            extra,
        ])
    };
    assert!(bundle::read(&with(Vec::new()), &Limits::default()).is_ok());

    let e = refusal(&with(regular("../x.json", b"{}")));
    assert_mentions(&e, &["\"../x.json\"", "path"]);
    let e = refusal(&with(member(
        b"0123abcd.json",
        tar::EntryType::Symlink,
        b"",
    )));
    assert_mentions(&e, &["0123abcd.json", "not a regular file"]);
    let e = refusal(&with(member(
        b"0123abcd.json",
        tar::EntryType::Directory,
        b"",
    )));
    assert_mentions(&e, &["not a regular file"]);
    let e = refusal(&with(member(
        b"././@PaxHeader",
        tar::EntryType::XHeader,
        b"",
    )));
    assert_mentions(&e, &["@PaxHeader"]);
    // Extension headers are members like any other (read raw), whatever they are called.
    for kind in [tar::EntryType::XHeader, tar::EntryType::GNULongName] {
        let e = refusal(&with(member(
            b"0123abcd.json",
            kind,
            b"20 path=index.json\n",
        )));
        assert_mentions(&e, &["0123abcd.json", "not a regular file"]);
    }
    let e = refusal(&with(regular("0123abcd.json", &table.1)));
    assert_mentions(&e, &["0123abcd.json", "not listed in index.json"]);
    let e = refusal(&with(regular("notes.txt", b"hi")));
    assert_mentions(&e, &["notes.txt", "neither index.json nor"]);
    let e = refusal(&with(regular(&table.0, &table.1)));
    assert_mentions(&e, &[table.0.as_str(), "twice"]);
    let e = refusal(&with(regular("index.json", index)));
    assert_mentions(&e, &["index.json", "twice"]);

    // Index not first.
    let e = refusal(&archive(&[
        regular(&table.0, &table.1),
        regular("index.json", index),
    ]));
    assert_mentions(&e, &["must be the first member"]);
    // A listed member missing.
    let e = refusal(&archive(&[regular("index.json", index)]));
    assert_mentions(&e, &[table.0.as_str(), "not in the archive"]);
    // No index at all.
    let e = refusal(&archive(&[]));
    assert_mentions(&e, &["no index.json"]);
}

#[test]
fn tampered_members_are_refused() {
    let tables = vec![table_of(NO_PIE).1];
    let good = members_of(&bundle::write(&tables).expect("bundle"));
    let (index, (name, json)) = (&good[0].1, &good[1]);

    // Renaming a function keeps the JSON valid but changes its digest.
    let text = String::from_utf8(json.clone()).expect("utf-8");
    let renamed = text.replacen("\"sym\":\"main\"", "\"sym\":\"mainX\"", 1);
    assert_ne!(renamed, text);
    let e = refusal(&archive(&[
        regular("index.json", index),
        regular(name, renamed.as_bytes()),
    ]));
    assert_mentions(&e, &[name.as_str(), "sha256", "index.json says"]);

    // A consistent index over an invalid table: digests match, the table does not.
    let unsorted = {
        let mut t: serde_json::Value = serde_json::from_slice(json).expect("json");
        t["functions"].as_array_mut().expect("functions").reverse();
        stella_core::jcs::to_canonical(&t).expect("canonical")
    };
    let mut idx: serde_json::Value = serde_json::from_slice(index).expect("index");
    idx["entries"][0]["sha256"] = stella_core::Digest::sha256(&unsorted).to_string().into();
    let idx_bytes = stella_core::jcs::to_canonical(&idx).expect("canonical");
    let e = refusal(&archive(&[
        regular("index.json", &idx_bytes),
        regular(name, &unsorted),
    ]));
    assert_mentions(&e, &[name.as_str(), "not sorted"]);

    // Index problems.
    let mut bad_schema = idx.clone();
    bad_schema["schema"] = "stella.symbols-bundle/v0".into();
    let e = refusal(&archive(&[regular(
        "index.json",
        &stella_core::jcs::to_canonical(&bad_schema).expect("canonical"),
    )]));
    assert_mentions(&e, &["index.json", "schema"]);
    let mut bad_path = idx;
    bad_path["entries"][0]["path"] = "../escape.json".into();
    let e = refusal(&archive(&[regular(
        "index.json",
        &stella_core::jcs::to_canonical(&bad_path).expect("canonical"),
    )]));
    assert_mentions(&e, &["index.json", "escape"]);
    let e = refusal(&archive(&[regular("index.json", b"{\"schema\": ")]));
    assert_mentions(&e, &["index.json"]);
}

#[test]
fn oversized_truncated_and_garbage_bundles_are_refused() {
    let tables = two_tables();
    let bytes = bundle::write(&tables).expect("bundle");
    let largest = members_of(&bytes)
        .iter()
        .map(|m| m.1.len() as u64)
        .max()
        .expect("members");
    let e = refusal_with(
        &bytes,
        &Limits {
            max_member_bytes: largest - 1,
            ..Limits::default()
        },
    );
    assert_mentions(&e, &[".json", "larger than the limit"]);
    let e = refusal_with(
        &bytes,
        &Limits {
            max_members: 2,
            ..Limits::default()
        },
    );
    assert_mentions(&e, &["index.json", "limit is 2 members"]);

    // A header claiming 300 MiB is refused before anything is read or allocated.
    let mut huge = tar::Header::new_ustar();
    huge.as_old_mut().name[..10].copy_from_slice(b"index.json");
    huge.set_size(300 << 20);
    huge.set_mode(0o644);
    huge.set_entry_type(tar::EntryType::Regular);
    huge.set_cksum();
    let e = refusal(&archive(&[huge.as_bytes().to_vec()]));
    assert_mentions(&e, &["index.json", "314572800 bytes", "limit"]);

    // Truncated anywhere: refused, except where only the closing zero blocks are lost.
    let full = bundle::read(&bytes, &Limits::default()).expect("reads");
    let data_end = bytes.len() - 1024;
    for cut in
        (0..bytes.len())
            .step_by(97)
            .chain([511, 512, 513, data_end - 1, data_end, bytes.len() - 1])
    {
        match bundle::read(&bytes[..cut], &Limits::default()) {
            Ok(read) => {
                assert!(cut >= data_end, "cut at {cut} of {} accepted", bytes.len());
                assert_eq!(read, full);
            }
            Err(BinaryError::Bundle { .. }) => {}
            Err(other) => panic!("cut at {cut}: {other}"),
        }
    }

    // Garbage.
    let noise: Vec<u8> = (0u64..8192)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57) as u8)
        .collect();
    for garbage in [&noise[..], &noise[..10], b"", &[0u8; 2048][..]] {
        assert_mentions(&refusal(garbage), &["symbol bundle"]);
    }
    assert_mentions(&refusal(&noise), &["not a tar archive"]);

    // Random damage: refused or, when the damage is in padding, the same tables.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..500 {
        let mut damaged = bytes.clone();
        let at = usize::try_from(next() % bytes.len() as u64).unwrap();
        damaged[at] = next() as u8;
        if let Ok(read) = bundle::read(&damaged, &Limits::default()) {
            assert_eq!(read, full, "byte {at} changed, still accepted");
        }
    }
}
