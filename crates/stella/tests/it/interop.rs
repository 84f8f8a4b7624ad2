//! Stella's output checked by software the team did not write (DESIGN.md, "Verified against
//! peers"): PyPI `rfc8785` and npm `canonicalize` for RFC 8785 bytes and canonical ids, PyPI
//! `cyclonedx-python-lib` for the CycloneDX 1.7 that `stella sbom convert` writes, PyPI `pefile`
//! and `macholib` for the PE debug-id / code-id and Mach-O UUID of `stella funcproof`, PyPI
//! `lief` (the exception directory) and `pefile` (the export table) for the functions of PE
//! images, x64 and arm64, from Microsoft's toolchain and from mingw-w64 (C built here), PyPI
//! `lief` for the functions of Mach-O files from PyPI wheels and npm (`LC_FUNCTION_STARTS` and
//! symbols, per slice of a universal file), PyPI `pyelftools` (ELF) and `lief` (Mach-O) with
//! `blake3` replaying a FuncProof's file, section and function hashes, PyPI
//! `securesystemslib` signing and verifying DSSE envelopes both ways, npm `@sigstore/verify`
//! verifying Stella's Sigstore bundles, and cosign key files written and read by a Python
//! implementation of cosign's format (`cryptography` + `PyNaCl`) and by cosign itself; and the
//! VEX `stella vex` writes in three formats checked by the OpenVEX JSON schema through PyPI
//! `jsonschema`, by `cyclonedx-python-lib` and by the BSI CSAF validator (npm
//! `@secvisogram/csaf-validator-lib`: the strict CSAF 2.0 schema and every mandatory test); and
//! what `stella assess` writes in those three formats and in SARIF 2.1.0, the last checked by
//! Microsoft's SARIF SDK (npm `@microsoft/sarif-multitool-linux`: its `validate` command and the
//! SARIF 2.1.0 schema it ships, applied with `jsonschema` too).
//!
//! The peers are driven through the small scripts in `interop/` and installed by `.ci/run`
//! (`interop/requirements.txt`, `interop/package-lock.json`, `interop/fetch_binaries.sh`). A
//! test whose peer is missing prints `SKIPPED (peer missing: …)` on stderr and passes, unless
//! `STELLA_REQUIRE_PEERS=1`, which makes it fail: CI must never go green on a check that did not
//! run.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output};

use assert_cmd::Command;

/// Documents in the generated corpus; each is canonicalised by all three implementations.
const GENERATED_DOCUMENTS: usize = 200;

/// Seed of the generated corpus. `STELLA_INTEROP_SEED=<n>` explores other corpora; a failure
/// names the seed so that it can be replayed.
const DEFAULT_SEED: u64 = 8785;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn interop_script(name: &str) -> PathBuf {
    repo_root().join("interop").join(name)
}

/// `shared/` sits beside the repository, wherever it is checked out.
fn fixtures() -> PathBuf {
    repo_root().join("../shared/fixtures")
}

/// One evidence home (and so one embedded log) for this test binary, never the working
/// directory.
fn home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG").env("STELLA_HOME", home());
    cmd
}

/// A third-party implementation a test compares against.
#[derive(Debug, Clone, Copy)]
enum Peer {
    Rfc8785,
    Canonicalize,
    CycloneDxPythonLib,
    PefileMacholib,
    LiefPefile,
    MingwGcc,
    MachOSample,
    MachOFunctionSamples,
    LiefBlake3,
    PyelftoolsBlake3,
    Securesystemslib,
    SigstoreVerify,
    CosignKeyPy,
    OpenVexJsonschema,
    CsafValidatorLib,
    SarifSdk,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Rfc8785 => "PyPI rfc8785 (python3)",
            Peer::Canonicalize => "npm canonicalize (node)",
            Peer::CycloneDxPythonLib => "PyPI cyclonedx-python-lib[json-validation] (python3)",
            Peer::PefileMacholib => "PyPI pefile and macholib (python3)",
            Peer::LiefPefile => "PyPI lief and pefile (python3)",
            Peer::MingwGcc => "Debian gcc-mingw-w64-x86-64 (x86_64-w64-mingw32-gcc)",
            Peer::MachOSample => "a Mach-O sample in interop/binaries/",
            Peer::MachOFunctionSamples => {
                "the Mach-O samples of interop/binaries.txt in interop/binaries/ (thin arm64 and \
                 x86_64, universal2, esbuild's Go executable)"
            }
            Peer::LiefBlake3 => "PyPI lief and blake3 (python3)",
            Peer::PyelftoolsBlake3 => "PyPI pyelftools and blake3 (python3)",
            Peer::Securesystemslib => "PyPI securesystemslib and cryptography (python3)",
            Peer::SigstoreVerify => "npm @sigstore/verify (node)",
            Peer::CosignKeyPy => "PyPI cryptography and PyNaCl (python3)",
            Peer::OpenVexJsonschema => "PyPI jsonschema (python3)",
            Peer::CsafValidatorLib => "npm @secvisogram/csaf-validator-lib (node)",
            Peer::SarifSdk => {
                "npm @microsoft/sarif-multitool-linux (Microsoft's SARIF SDK and its SARIF 2.1.0 \
                 schema) with PyPI jsonschema (python3)"
            }
        }
    }

    fn install(self) -> &'static str {
        match self {
            Peer::Rfc8785
            | Peer::CycloneDxPythonLib
            | Peer::PefileMacholib
            | Peer::LiefPefile
            | Peer::LiefBlake3
            | Peer::PyelftoolsBlake3
            | Peer::Securesystemslib
            | Peer::CosignKeyPy
            | Peer::OpenVexJsonschema => "python3 -m pip install -r interop/requirements.txt",
            Peer::Canonicalize | Peer::SigstoreVerify | Peer::CsafValidatorLib => {
                "(cd interop && npm ci)"
            }
            Peer::MingwGcc => "apt-get install gcc-mingw-w64-x86-64",
            Peer::MachOSample | Peer::MachOFunctionSamples => "interop/fetch_binaries.sh",
            Peer::SarifSdk => {
                "(cd interop && npm ci) and python3 -m pip install -r interop/requirements.txt"
            }
        }
    }

    /// Loads the peer exactly as the scripts will, so that "present" means "usable".
    fn probe(self) -> Result<(), String> {
        let mut cmd = match self {
            Peer::Rfc8785 => python(["-c", "import rfc8785"]),
            // Without the extra, the validator imports but fails on first use.
            Peer::CycloneDxPythonLib => python([
                "-c",
                "from cyclonedx.schema import SchemaVersion\n\
                 from cyclonedx.validation.json import JsonStrictValidator\n\
                 JsonStrictValidator(SchemaVersion.V1_7).validate_str('{}')",
            ]),
            Peer::PefileMacholib => python(["-c", "import pefile, macholib.MachO"]),
            Peer::LiefPefile => python(["-c", "import lief, pefile; lief.PE.ParserConfig"]),
            Peer::MingwGcc => {
                let mut cmd = Process::new(MINGW_GCC);
                cmd.arg("--version");
                cmd
            }
            Peer::PyelftoolsBlake3 => python(["-c", "import elftools.elf.elffile, blake3"]),
            Peer::LiefBlake3 => python(["-c", "import lief, blake3; lief.MachO.parse"]),
            Peer::Securesystemslib => python([
                "-c",
                "import securesystemslib.dsse, securesystemslib.signer, cryptography",
            ]),
            Peer::CosignKeyPy => python(["-c", "import nacl.secret, cryptography"]),
            Peer::OpenVexJsonschema => python([
                "-c",
                "from jsonschema import Draft202012Validator, FormatChecker",
            ]),
            Peer::SarifSdk => python([
                interop_script("sarif_validate.py"),
                PathBuf::from("--probe"),
            ]),
            Peer::CsafValidatorLib => {
                let mut cmd = Process::new("node");
                cmd.args([
                    "--input-type=module",
                    "-e",
                    "import '@secvisogram/csaf-validator-lib/validateStrict.js'",
                ])
                .current_dir(repo_root().join("interop"));
                cmd
            }
            Peer::SigstoreVerify => {
                let mut cmd = Process::new("node");
                cmd.args(["--input-type=module", "-e", "import '@sigstore/verify'"])
                    .current_dir(repo_root().join("interop"));
                cmd
            }
            Peer::MachOFunctionSamples => {
                let dir = repo_root().join("interop/binaries");
                let missing: Vec<&str> = MACHO_FUNCTION_SAMPLES
                    .iter()
                    .map(|(name, _)| *name)
                    .filter(|name| !dir.join(name).is_file())
                    .collect();
                return if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("missing {}", missing.join(", ")))
                };
            }
            Peer::MachOSample => {
                return if macho_samples().is_empty() {
                    Err("none downloaded".to_owned())
                } else {
                    Ok(())
                };
            }
            Peer::Canonicalize => {
                let mut cmd = Process::new("node");
                cmd.args(["--input-type=module", "-e", "import 'canonicalize'"])
                    .current_dir(repo_root().join("interop"));
                cmd
            }
        };
        match cmd.output() {
            Err(e) => Err(format!("cannot run {:?}: {e}", cmd.get_program())),
            Ok(out) if !out.status.success() => Err(last_line(&out.stderr)),
            Ok(_) => Ok(()),
        }
    }
}

fn python<I, S>(args: I) -> Process
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Process::new("python3");
    cmd.args(args);
    cmd
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
        .trim()
        .to_owned()
}

/// True when every peer is usable. Otherwise fails under `STELLA_REQUIRE_PEERS=1`, or says
/// loudly that the calling test checked nothing.
fn peers_present(test: &str, peers: &[Peer]) -> bool {
    let missing: Vec<String> = peers
        .iter()
        .filter_map(|&p| {
            p.probe()
                .err()
                .map(|why| format!("{}: {why}; install with `{}`", p.name(), p.install()))
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join("; ");
    if std::env::var("STELLA_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("peer missing: {missing} (STELLA_REQUIRE_PEERS=1 makes a missing peer a failure)");
    }
    // Straight to the stream: the harness captures `eprintln!` of passing tests, and a skip that
    // nobody sees is a pass.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!! {test}: SKIPPED (peer missing: {missing}) !!!!!\n"
    );
    false
}

/// Runs a peer script and insists that it succeeded.
fn run_ok(cmd: &mut Process) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("json")))
        .collect();
    files.sort();
    files
}

/// The SBOMs real generators wrote (cyclonedx-py, cdxgen, cargo-cyclonedx).
fn fixture_sboms() -> Vec<PathBuf> {
    let sboms = json_files_in(&fixtures().join("sbom"));
    assert!(
        !sboms.is_empty(),
        "no SBOM fixtures in {}",
        fixtures().display()
    );
    sboms
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(OsStr::to_str)
        .expect("UTF-8 file name")
}

/// Where two byte strings first differ, with a short excerpt of each around that point.
fn first_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .or_else(|| (ours.len() != theirs.len()).then(|| ours.len().min(theirs.len())))?;
    let excerpt = |bytes: &[u8]| {
        let start = at.saturating_sub(24);
        let end = (at + 24).min(bytes.len());
        String::from_utf8_lossy(&bytes[start.min(end)..end]).into_owned()
    };
    Some(format!(
        "byte {at} (lengths {} and {}): stella …{:?}… peer …{:?}…",
        ours.len(),
        theirs.len(),
        excerpt(ours),
        excerpt(theirs)
    ))
}

#[test]
fn generated_documents_canonicalise_exactly_as_rfc8785_and_canonicalize_do() {
    if !peers_present(
        "generated_documents_canonicalise_exactly_as_rfc8785_and_canonicalize_do",
        &[Peer::Rfc8785, Peer::Canonicalize],
    ) {
        return;
    }
    let seed = std::env::var("STELLA_INTEROP_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("STELLA_INTEROP_SEED is a number"))
        .unwrap_or(DEFAULT_SEED);
    let work = tempfile::tempdir().expect("temporary directory");
    let (docs, by_python, by_node) = (
        work.path().join("documents"),
        work.path().join("rfc8785"),
        work.path().join("canonicalize"),
    );
    for dir in [&by_python, &by_node] {
        fs::create_dir(dir).expect("output directory");
    }
    run_ok(
        python([interop_script("gen_docs.py")])
            .arg(seed.to_string())
            .arg(GENERATED_DOCUMENTS.to_string())
            .arg(&docs),
    );
    let inputs = json_files_in(&docs);
    assert_eq!(inputs.len(), GENERATED_DOCUMENTS);

    // The generator promises I-JSON, so a peer refusing a document is a generator bug.
    run_ok(
        python([interop_script("jcs_rfc8785.py")])
            .arg("--out-dir")
            .arg(&by_python)
            .args(&inputs),
    );
    run_ok(
        Process::new("node")
            .arg(interop_script("jcs_canonicalize.mjs"))
            .arg("--out-dir")
            .arg(&by_node)
            .args(&inputs),
    );

    let mut differences = Vec::new();
    for input in &inputs {
        let name = file_name(input);
        let out = stella()
            .args(["sbom", "canon", "--any-json"])
            .arg(input)
            .output()
            .expect("stella runs");
        if !out.status.success() {
            differences.push(format!(
                "{name}: stella refused it: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        for (peer, dir) in [("rfc8785", &by_python), ("canonicalize", &by_node)] {
            let theirs = fs::read(dir.join(name)).expect("peer output");
            if let Some(diff) = first_difference(&out.stdout, &theirs) {
                differences.push(format!("{name} vs {peer}: {diff}"));
            }
        }
    }
    if !differences.is_empty() {
        let kept = work.keep();
        panic!(
            "{} difference(s) over {GENERATED_DOCUMENTS} documents from seed {seed}; documents and \
             peer outputs kept in {}:\n{}",
            differences.len(),
            kept.display(),
            differences.join("\n")
        );
    }
}

#[test]
fn sbom_ids_equal_sha256_of_what_rfc8785_writes() {
    if !peers_present(
        "sbom_ids_equal_sha256_of_what_rfc8785_writes",
        &[Peer::Rfc8785],
    ) {
        return;
    }
    for sbom in fixture_sboms() {
        let name = file_name(&sbom);
        let expected = run_ok(
            python([interop_script("jcs_rfc8785.py")])
                .arg("--id")
                .arg(&sbom),
        );
        let expected = String::from_utf8(expected.stdout).expect("UTF-8 id");
        assert!(
            expected.starts_with("sha256:"),
            "{name}: peer printed {expected:?}"
        );
        stella()
            .args(["sbom", "id"])
            .arg(&sbom)
            .assert()
            .success()
            .stdout(expected);
    }
}

#[test]
fn converted_sboms_pass_cyclonedx_python_lib_validation() {
    if !peers_present(
        "converted_sboms_pass_cyclonedx_python_lib_validation",
        &[Peer::CycloneDxPythonLib],
    ) {
        return;
    }
    // The generators' SBOMs (1.5 and 1.7), and the specification's own valid 1.7 documents,
    // which between them use nearly every part of the format.
    let spec_valid: Vec<PathBuf> = json_files_in(&fixtures().join("cyclonedx/tests-1.7"))
        .into_iter()
        .filter(|p| file_name(p).starts_with("valid-"))
        .collect();
    assert!(!spec_valid.is_empty(), "no valid-* documents in tests-1.7");
    let work = tempfile::tempdir().expect("temporary directory");
    let mut converted = Vec::new();
    for (group, sources) in [("sbom", fixture_sboms()), ("tests-1.7", spec_valid)] {
        let out_dir = work.path().join(group);
        fs::create_dir(&out_dir).expect("output directory");
        for source in sources {
            let target = out_dir.join(file_name(&source));
            stella()
                .args(["sbom", "convert"])
                .arg(&source)
                .arg("-o")
                .arg(&target)
                .assert()
                .success();
            converted.push(target);
        }
    }
    // One interpreter for every document: the schema is compiled once.
    let out = python([interop_script("cdx_validate.py")])
        .args(&converted)
        .output()
        .expect("python3 runs");
    if !out.status.success() {
        let kept = work.keep();
        panic!(
            "cyclonedx-python-lib rejects what stella sbom convert wrote (kept in {}):\n{}{}",
            kept.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Native libraries unpacked by `interop/fetch_binaries.sh`.
fn macho_samples() -> Vec<PathBuf> {
    let dir = repo_root().join("interop/binaries");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension() == Some(OsStr::new("so")))
        .collect();
    found.sort();
    found
}

/// The Windows launchers pip ships (x86, x86-64, arm64 PE files with CodeView records).
fn pe_samples() -> Vec<PathBuf> {
    let out = run_ok(&mut python([
        "-c",
        "import os, pip._vendor.distlib as d; print(os.path.dirname(d.__file__))",
    ]));
    let dir = PathBuf::from(String::from_utf8(out.stdout).expect("UTF-8 path").trim());
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension() == Some(OsStr::new("exe")))
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "pip ships no launchers in {}",
        dir.display()
    );
    found
}

#[test]
fn pe_and_macho_identities_match_pefile_and_macholib() {
    if !peers_present(
        "pe_and_macho_identities_match_pefile_and_macholib",
        &[Peer::PefileMacholib, Peer::MachOSample],
    ) {
        return;
    }
    for binary in pe_samples().into_iter().chain(macho_samples()) {
        let name = file_name(&binary).to_owned();
        let theirs = run_ok(python([interop_script("binary_identity.py")]).arg(&binary));
        let theirs: serde_json::Value =
            serde_json::from_slice(&theirs.stdout).expect("peer prints JSON");
        let out = stella()
            .args(["funcproof"])
            .arg(&binary)
            .output()
            .expect("stella runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let proof: serde_json::Value = serde_json::from_slice(&out.stdout).expect("proof JSON");
        // A universal file: each slice has its own identity, found by its offset.
        let units: Vec<(&serde_json::Value, &serde_json::Value)> = match theirs["slices"].as_array()
        {
            Some(slices) => {
                let ours = proof["slices"]
                    .as_array()
                    .expect("a slice per architecture");
                assert_eq!(ours.len(), slices.len(), "{name}: slices");
                ours.iter().zip(slices).collect()
            }
            None => vec![(&proof, &theirs)],
        };
        for (unit, their) in units {
            assert_eq!(unit["offset"], their["offset"], "{name}: slice offset");
            let ours = &unit["identity"];
            assert_eq!(ours["format"], theirs["format"], "{name}: format");
            for field in ["debugId", "codeId", "uuid"] {
                assert_eq!(ours[field], their[field], "{name}: {field}");
            }
            // Sections are proven even where functions are not (no unwind table in 32-bit x86
            // PE).
            let sections = unit["sections"].as_object().expect("sections");
            assert!(
                sections.keys().any(|k| k == ".text" || k == "__text"),
                "{name}: {sections:?}"
            );
        }
    }
}

/// The Mach-O files `interop/fetch_binaries.sh` unpacks, and their slices' architectures.
const MACHO_FUNCTION_SAMPLES: [(&str, &[&str]); 4] = [
    (
        "markupsafe-arm64-_speedups.cpython-312-darwin.so",
        &["aarch64"],
    ),
    (
        "markupsafe-universal2-_speedups.cpython-312-darwin.so",
        &["x86_64", "arm64"],
    ),
    ("pyyaml-x86_64-_yaml.cpython-312-darwin.so", &["x86_64"]),
    ("esbuild-darwin-arm64-esbuild", &["aarch64"]),
];

/// `(start, names)` of every function and fragment of one proven binary (a proof's top level
/// or one of its slices).
fn proven_starts(unit: &serde_json::Value) -> std::collections::BTreeMap<u64, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for f in unit["functions"].as_array().expect("functions") {
        let names: Vec<String> = std::iter::once(&f["sym"])
            .chain(f["aliases"].as_array().into_iter().flatten())
            .map(|n| n.as_str().expect("name").to_owned())
            .collect();
        out.insert(hex_addr(&f["start"]), names);
        for g in f["fragments"].as_array().into_iter().flatten() {
            let name = g["sym"].as_str().expect("name").to_owned();
            out.insert(hex_addr(&g["start"]), vec![name]);
        }
    }
    out
}

#[test]
fn macho_functions_match_lief_and_replay_per_slice() {
    if !peers_present(
        "macho_functions_match_lief_and_replay_per_slice",
        &[Peer::LiefBlake3, Peer::MachOFunctionSamples],
    ) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = repo_root().join("interop/binaries");
    for (name, arches) in MACHO_FUNCTION_SAMPLES {
        let binary = dir.join(name);
        let proof_path = scratch.path().join(format!("{name}.proof.json"));
        stella()
            .arg("funcproof")
            .arg(&binary)
            .arg("-o")
            .arg(&proof_path)
            .assert()
            .success();
        stella()
            .args(["funcproof", "verify"])
            .arg(&proof_path)
            .arg(&binary)
            .assert()
            .success();
        let proof: serde_json::Value =
            serde_json::from_slice(&fs::read(&proof_path).expect("proof")).expect("proof JSON");
        let theirs = run_ok(python([interop_script("macho_functions.py")]).arg(&binary));
        let theirs: serde_json::Value =
            serde_json::from_slice(&theirs.stdout).expect("peer prints JSON");
        let their_slices = theirs["slices"].as_array().expect("slices");
        // A universal file is one proof with a slice per architecture; a thin one has none.
        let units: Vec<serde_json::Value> = match proof["slices"].as_array() {
            Some(slices) => slices.clone(),
            None => {
                let mut unit = proof.clone();
                unit["offset"] = 0.into();
                unit["arch"] = proof["identity"]["arch"].clone();
                vec![unit]
            }
        };
        let ours: Vec<&str> = units
            .iter()
            .map(|u| u["arch"].as_str().expect("arch"))
            .collect();
        assert_eq!(ours, *arches, "{name}: slices");
        assert_eq!(units.len(), their_slices.len(), "{name}: slices");
        for (unit, their) in units.iter().zip(their_slices) {
            let arch = unit["arch"].as_str().expect("arch");
            assert_eq!(unit["offset"], their["offset"], "{name} {arch}: offset");
            assert_eq!(
                unit["identity"]["uuid"], their["uuid"],
                "{name} {arch}: LC_UUID"
            );
            let starts = proven_starts(unit);
            let their_starts: std::collections::BTreeSet<u64> = their["function_starts"]
                .as_array()
                .expect("starts")
                .iter()
                .map(|a| a.as_u64().expect("address"))
                .collect();
            if their_starts.is_empty() {
                // esbuild: Go's linker writes no LC_FUNCTION_STARTS and the symbol table is
                // stripped; every name comes from __gopclntab.
                let functions = unit["functions"].as_array().expect("functions");
                assert!(
                    functions.len() > 1000,
                    "{name}: {} functions",
                    functions.len()
                );
                assert!(
                    functions.iter().all(|f| f["source"] == "gopclntab"),
                    "{name}: every function named by __gopclntab"
                );
                assert!(
                    functions.iter().any(|f| f["sym"] == "main.main"),
                    "{name}: main.main"
                );
            } else {
                let ours: std::collections::BTreeSet<u64> = starts.keys().copied().collect();
                assert_eq!(ours, their_starts, "{name} {arch}: function starts");
            }
            // Every text symbol lief reads names the function (or fragment) at its address,
            // and every name Stella took from the symbol table is one of them.
            let their_symbols: std::collections::BTreeSet<(u64, String)> = their["symbols"]
                .as_array()
                .expect("symbols")
                .iter()
                .map(|s| {
                    let address = s[0].as_u64().expect("address");
                    (address, s[1].as_str().expect("name").to_owned())
                })
                .collect();
            for (address, symbol) in &their_symbols {
                assert!(
                    starts.get(address).is_some_and(|n| n.contains(symbol)),
                    "{name} {arch}: {symbol} at {address:#x}"
                );
            }
            for f in unit["functions"].as_array().expect("functions") {
                if f["source"] == "symtab" {
                    let key = (
                        hex_addr(&f["start"]),
                        f["sym"].as_str().expect("sym").to_owned(),
                    );
                    assert!(their_symbols.contains(&key), "{name} {arch}: {key:?}");
                }
            }
        }
        // Every hash again, by a script that reads the file with lief.
        let out = run_ok(
            python([interop_script("funcproof_replay.py")])
                .arg(&proof_path)
                .arg(&binary),
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("peer prints JSON");
        assert_eq!(summary["slices"], units.len(), "{name}: {summary}");
        assert!(
            summary["functions"].as_u64().unwrap_or(0) >= 2,
            "{name}: {summary}"
        );
    }

    // The universal file with one byte of the arm64 slice's `_escape_unicode` changed: both
    // Stella and the replay name that function, and Stella names the slice.
    let (name, _) = MACHO_FUNCTION_SAMPLES[1];
    let proof_path = scratch.path().join(format!("{name}.proof.json"));
    let proof: serde_json::Value =
        serde_json::from_slice(&fs::read(&proof_path).expect("proof")).expect("proof JSON");
    let arm64 = &proof["slices"][1];
    let victim = arm64["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .find(|f| f["sym"] == "_escape_unicode")
        .expect("_escape_unicode in the arm64 slice");
    let mut data = fs::read(dir.join(name)).expect("binary");
    // __TEXT starts the slice at address 0 and file offset 0.
    let at = arm64["offset"].as_u64().expect("offset") + hex_addr(&victim["start"]) + 4;
    data[usize::try_from(at).expect("offset")] ^= 0xff;
    let patched = scratch.path().join("patched.so");
    fs::write(&patched, &data).expect("write");
    let out = stella()
        .args(["funcproof", "verify", "--json"])
        .arg(&proof_path)
        .arg(&patched)
        .output()
        .expect("stella runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let functions: Vec<(&str, &str)> = report["mismatches"]
        .as_array()
        .expect("mismatches")
        .iter()
        .filter(|m| m["kind"] == "function")
        .map(|m| {
            (
                m["name"].as_str().expect("name"),
                m["slice"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(functions, vec![("_escape_unicode", "arm64")], "{report}");
    let out = python([interop_script("funcproof_replay.py")])
        .arg(&proof_path)
        .arg(&patched)
        .output()
        .expect("python3 runs");
    assert_eq!(out.status.code(), Some(1), "patched file accepted");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    let names: Vec<&str> = summary["mismatches"]
        .as_array()
        .expect("mismatches")
        .iter()
        .filter(|m| m["kind"] == "functions")
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["_escape_unicode"], "{summary}");
}

#[test]
fn macho_trees_scan() {
    if !peers_present("macho_trees_scan", &[Peer::MachOFunctionSamples]) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let tree = scratch.path().join("tree");
    fs::create_dir(&tree).expect("mkdir");
    for (name, _) in MACHO_FUNCTION_SAMPLES {
        fs::copy(
            repo_root().join("interop/binaries").join(name),
            tree.join(name),
        )
        .expect("copy");
    }
    let home = scratch.path().join("home");
    let out = stella()
        .env("STELLA_HOME", &home)
        .env("STELLA_PASSWORD", "interop")
        .args(["scan", "--json"])
        .arg(&tree)
        .output()
        .expect("stella runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json_of(&out);
    assert_eq!(summary["binaries"], 4, "{summary}");
    assert_eq!(summary["unproven"], serde_json::json!([]), "{summary}");
    // The auditor's replay: every FuncProof, the universal file's slice by slice.
    let image = summary["image"].as_str().expect("image").to_owned();
    let out = stella()
        .env("STELLA_HOME", &home)
        .args(["verify", "--json", "--image", &image])
        .output()
        .expect("stella runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let proofs: Vec<&serde_json::Value> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a["kind"] == "funcproof")
        .collect();
    assert_eq!(proofs.len(), 4, "{report}");
    assert!(proofs.iter().all(|a| a["ok"] == true), "{report}");
}

/// The mingw-w64 C compiler for x64 Windows.
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";

/// A DLL built by mingw-w64 from C: its COFF symbol table names a static function, its export
/// table a leaf function, a caller, a variable (data, not a function) and a function written in
/// assembly without unwind data (so without a `.pdata` entry, as an MSVC x64 leaf function).
fn mingw_dll(scratch: &Path) -> PathBuf {
    let source = scratch.join("mingw.c");
    fs::write(
        &source,
        "#include <stdio.h>\n\
         __attribute__((noinline)) static int stella_static(int x) { return x * 3 + 1; }\n\
         __declspec(dllexport) int stella_leaf(int a, int b) { return a + b; }\n\
         __declspec(dllexport) int stella_exported(int n) {\n\
             int s = 0;\n\
             for (int i = 0; i < n; i++) s += stella_static(i);\n\
             printf(\"%d\\n\", s);\n\
             return s;\n\
         }\n\
         __declspec(dllexport) int stella_data = 7;\n\
         __asm__(\".text\\n.p2align 4\\n.globl stella_asm_leaf\\nstella_asm_leaf:\\n\
         \\tlea (%rcx,%rdx),%eax\\n\\tret\\n\
         .section .drectve\\n\\t.ascii \\\" -export:stella_asm_leaf\\\"\\n.text\\n\");\n",
    )
    .expect("write C source");
    let dll = scratch.join("mingw.dll");
    run_ok(
        Process::new(MINGW_GCC)
            .args(["-O1", "-shared", "-o"])
            .arg(&dll)
            .arg(&source),
    );
    dll
}

fn hex_addr(value: &serde_json::Value) -> u64 {
    let text = value.as_str().expect("address string");
    u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex address")
}

#[test]
fn pe_functions_match_lief_and_pefile() {
    if !peers_present(
        "pe_functions_match_lief_and_pefile",
        &[Peer::LiefPefile, Peer::MingwGcc],
    ) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let mingw = mingw_dll(scratch.path());
    let mut machines = Vec::new();
    // The committed PE seeds too: one has a chained x64 entry, one is arm64 with both kinds of
    // unwind length (crates/stella-binary/tests/fuzz-regressions/pe_seeds.py).
    let seeds = repo_root().join("crates/stella-binary/tests/fuzz-regressions");
    let seeds = [
        "seed-x86_64-mingw.dll",
        "seed-x86_64-mingw-chained.dll",
        "seed-aarch64-pe.dll",
    ]
    .map(|s| seeds.join(s));
    for binary in pe_samples().into_iter().chain([mingw.clone()]).chain(seeds) {
        let name = file_name(&binary).to_owned();
        let theirs = run_ok(python([interop_script("pe_functions.py")]).arg(&binary));
        let theirs: serde_json::Value =
            serde_json::from_slice(&theirs.stdout).expect("peer prints JSON");
        let proof_path = scratch.path().join(format!("{name}.proof.json"));
        stella()
            .arg("funcproof")
            .arg(&binary)
            .arg("-o")
            .arg(&proof_path)
            .assert()
            .success();
        stella()
            .args(["funcproof", "verify"])
            .arg(&proof_path)
            .arg(&binary)
            .assert()
            .success();
        let proof: serde_json::Value =
            serde_json::from_slice(&fs::read(&proof_path).expect("proof")).expect("proof JSON");
        let functions = proof["functions"].as_array().expect("functions");
        let their_functions: std::collections::BTreeSet<(u64, u64)> = theirs["functions"]
            .as_array()
            .expect("functions")
            .iter()
            .map(|r| (r[0].as_u64().expect("start"), r[1].as_u64().expect("end")))
            .collect();
        let their_starts: std::collections::BTreeSet<u64> =
            their_functions.iter().map(|&(s, _)| s).collect();
        // Every range the unwind table states, with lief's end. The other functions are pieces
        // disassembly found in x64 code without unwind data (leaf functions, mingw's import
        // thunks), unnamed or named by an export or COFF symbol at their start.
        let ours: std::collections::BTreeSet<(u64, u64)> = functions
            .iter()
            .map(|f| (hex_addr(&f["start"]), hex_addr(&f["end"])))
            .filter(|(start, _)| their_starts.contains(start))
            .collect();
        assert_eq!(ours, their_functions, "{name}: function ranges");
        let our_parts: std::collections::BTreeSet<(u64, u64, u64)> = functions
            .iter()
            .flat_map(|f| {
                let root = hex_addr(&f["start"]);
                f["fragments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |g| (hex_addr(&g["start"]), hex_addr(&g["end"]), root))
            })
            .collect();
        let their_parts: std::collections::BTreeSet<(u64, u64, u64)> = theirs["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .map(|r| {
                let n = |i: usize| r[i].as_u64().expect("address");
                (n(0), n(1), n(2))
            })
            .collect();
        assert_eq!(our_parts, their_parts, "{name}: chained parts");
        for export in theirs["exports"].as_array().expect("exports") {
            let (export_name, address) = (
                export[0].as_str().expect("name"),
                export[1].as_u64().expect("address"),
            );
            // A function's name or alias, or a fragment's name (an export at a chained part).
            let named = functions.iter().any(|f| {
                let fragment = f["fragments"].as_array().is_some_and(|g| {
                    g.iter()
                        .any(|g| hex_addr(&g["start"]) == address && g["sym"] == export_name)
                });
                fragment
                    || hex_addr(&f["start"]) == address
                        && (f["sym"] == export_name
                            || f["aliases"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|n| n == export_name)))
            });
            assert!(named, "{name}: export {export_name} at {address:#x}");
        }
        let machine = theirs["machine"].as_str().expect("machine").to_owned();
        if machine == "AMD64" || machine == "ARM64" {
            assert!(!ours.is_empty(), "{name}: no functions from .pdata");
        }
        machines.push(machine);
    }
    assert!(
        machines.iter().filter(|m| *m == "AMD64").count() >= 2
            && machines.iter().filter(|m| *m == "ARM64").count() >= 2,
        "x64 and arm64 images compared: {machines:?}"
    );
    // The mingw DLL: COFF symbols name even a static function, exports name their functions,
    // and an exported variable is not a function.
    let proof: serde_json::Value = serde_json::from_slice(
        &fs::read(scratch.path().join("mingw.dll.proof.json")).expect("proof"),
    )
    .expect("proof JSON");
    let by_name = |sym: &str| {
        proof["functions"]
            .as_array()
            .expect("functions")
            .iter()
            .find(|f| f["sym"] == sym)
            .cloned()
    };
    for sym in ["stella_static", "stella_leaf", "stella_exported"] {
        let f = by_name(sym).unwrap_or_else(|| panic!("{sym} is a function of the mingw DLL"));
        assert_eq!(
            f["source"], "symtab",
            "{sym}: named by the COFF symbol table"
        );
    }
    // No unwind data, and its label has no function type in the COFF symbol table: the export
    // names it, disassembly bounds it (lea; ret).
    let leaf = by_name("stella_asm_leaf").expect("the assembly leaf is a function");
    assert_eq!(leaf["source"], "dynsym");
    assert_eq!(hex_addr(&leaf["end"]) - hex_addr(&leaf["start"]), 4);
    assert!(
        by_name("stella_data").is_none(),
        "an exported variable is not a function"
    );
}

/// ELF binaries of different makers that are on every machine of this kind: the system C library
/// (GCC, stripped of `.symtab`, with `.eh_frame`), the Rust binary under test (rustc, `.symtab`
/// and DWARF), and a `strip --strip-all` copy of the latter.
fn elf_samples(scratch: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = [
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/aarch64-linux-gnu/libc.so.6",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| p.is_file())
    .take(1)
    .collect();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_stella"));
    let stripped = scratch.join("stella.stripped");
    run_ok(
        Process::new("strip")
            .arg("--strip-all")
            .arg(&ours)
            .arg("-o")
            .arg(&stripped),
    );
    out.push(ours);
    out.push(stripped);
    out
}

/// `interop/funcproof_replay.py PROOF BINARY`: its exit code and the summary it prints.
fn funcproof_replay(proof: &Path, binary: &Path) -> (Option<i32>, serde_json::Value) {
    let out = python([interop_script("funcproof_replay.py")])
        .arg(proof)
        .arg(binary)
        .output()
        .expect("python3 runs");
    let summary = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    (out.status.code(), summary)
}

/// A copy of the proof at `proof`, at `out`, with the hash of the entry at JSON pointer `entry`
/// zeroed; returns that entry as it was.
fn with_hash_zeroed(proof: &Path, entry: &str, out: &Path) -> serde_json::Value {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fs::read(proof).expect("proof")).expect("JSON");
    let victim = doc.pointer_mut(entry).expect("entry");
    let original = victim.clone();
    victim["blake3"] = serde_json::Value::String("0".repeat(64));
    fs::write(out, serde_json::to_vec(&doc).expect("JSON")).expect("write");
    original
}

#[test]
fn elf_funcproofs_replay_with_pyelftools_and_blake3() {
    if !peers_present(
        "elf_funcproofs_replay_with_pyelftools_and_blake3",
        &[Peer::PyelftoolsBlake3],
    ) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    for binary in elf_samples(scratch.path()) {
        let name = file_name(&binary).to_owned();
        let proof = scratch.path().join(format!("{name}.proof.json"));
        stella()
            .arg("funcproof")
            .arg(&binary)
            .arg("-o")
            .arg(&proof)
            .assert()
            .success();
        let (code, summary) = funcproof_replay(&proof, &binary);
        assert_eq!(code, Some(0), "{name}: {summary}");
        assert!(
            summary["functions"].as_u64().unwrap_or(0) > 1000,
            "{name}: {summary}"
        );
        assert!(
            summary["sections"].as_u64().unwrap_or(0) >= 2,
            "{name}: {summary}"
        );

        // The peer is not a rubber stamp: one function's hash changed is one mismatch, by name.
        let tampered = scratch.path().join(format!("{name}.tampered.json"));
        let victim = with_hash_zeroed(&proof, "/functions/0", &tampered);
        let (code, summary) = funcproof_replay(&tampered, &binary);
        assert_eq!(code, Some(1), "{name}: tampered proof accepted");
        assert_eq!(summary["mismatch_count"], 1, "{name}: {summary}");
        assert_eq!(summary["mismatches"][0]["name"], victim["sym"], "{name}");
    }
}

/// BOLT's remains (`inactive`), replayed by pyelftools and blake3 on a shared object laid out as
/// BOLT leaves one (`stella-binary`'s `tests/fixtures/bolt.S`, assembled by gcc): each range's
/// hash, its section, and that no symbol starts there; a changed hash is caught by name.
#[test]
fn bolt_remains_replay_with_pyelftools_and_blake3() {
    if !peers_present(
        "bolt_remains_replay_with_pyelftools_and_blake3",
        &[Peer::PyelftoolsBlake3],
    ) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../stella-binary/tests/fixtures/bolt.S");
    let binary = scratch.path().join("bolt.so");
    run_ok(
        Process::new("gcc")
            .args(["-shared", "-nostdlib", "-Wl,--build-id", "-o"])
            .arg(&binary)
            .arg(&source),
    );
    let proof = scratch.path().join("bolt.proof.json");
    stella()
        .arg("funcproof")
        .arg(&binary)
        .arg("-o")
        .arg(&proof)
        .assert()
        .success()
        .stderr(predicates::str::contains("6 functions, 2 inactive ranges"));
    let out = run_ok(
        python([interop_script("funcproof_replay.py")])
            .arg(&proof)
            .arg(&binary),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    assert_eq!(
        (
            &summary["functions"],
            &summary["inactive"],
            &summary["mismatch_count"]
        ),
        (
            &serde_json::json!(6),
            &serde_json::json!(2),
            &serde_json::json!(0)
        ),
        "{summary}"
    );
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fs::read(&proof).expect("proof")).expect("JSON");
    let start = doc["inactive"][1]["start"]
        .as_str()
        .expect("start")
        .to_owned();
    doc["inactive"][1]["blake3"] = serde_json::Value::String("0".repeat(64));
    let tampered = scratch.path().join("bolt.tampered.json");
    fs::write(&tampered, serde_json::to_vec(&doc).expect("JSON")).expect("write");
    let out = python([interop_script("funcproof_replay.py")])
        .arg(&tampered)
        .arg(&binary)
        .output()
        .expect("python3 runs");
    assert_eq!(out.status.code(), Some(1), "tampered proof accepted");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer prints JSON");
    assert_eq!(summary["mismatch_count"], 1, "{summary}");
    assert_eq!(
        summary["mismatches"][0]["name"],
        format!("bolt-original {start}").as_str()
    );
    // Stella's own replay names it too.
    stella()
        .args(["funcproof", "verify"])
        .arg(&tampered)
        .arg(&binary)
        .assert()
        .code(1)
        .stdout(predicates::str::contains(format!(
            "inactive bolt-original [{start}, "
        )));
}

const KEY_PASSWORD: &str = "interop password";

/// `stella key generate` into `dir/PREFIX.{key,pub}`.
fn stella_keygen(dir: &Path, prefix: &str, algorithm: &str) -> (PathBuf, PathBuf) {
    stella()
        .env("STELLA_PASSWORD", KEY_PASSWORD)
        .args(["key", "generate", "--algorithm", algorithm, "--out"])
        .arg(dir.join(prefix))
        .assert()
        .success();
    (
        dir.join(format!("{prefix}.key")),
        dir.join(format!("{prefix}.pub")),
    )
}

/// A bundle signed by Stella about `subject` (NAME=sha256:HEX) with `key`, its password in
/// `password`.
fn stella_bundle(dir: &Path, key: &Path, password: &str, subject: &str, out: &Path) {
    let predicate = dir.join("predicate.json");
    fs::write(&predicate, br#"{"reviewed":true,"by":"interop"}"#).expect("write");
    stella()
        .env("STELLA_PASSWORD", password)
        .args([
            "attest",
            "--type",
            "https://example.com/review/v1",
            "--subject",
            subject,
        ])
        .arg("--key")
        .arg(key)
        .arg("--predicate")
        .arg(&predicate)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "peer output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn tamper_payload(bundle: &Path, out: &Path) {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle).expect("bundle")).expect("JSON");
    let env = if doc.get("dsseEnvelope").is_some() {
        &mut doc["dsseEnvelope"]
    } else {
        &mut doc
    };
    let payload = env["payload"].as_str().expect("payload").to_owned();
    // Replace the first character with another base64 digit: a different payload.
    let first = if payload.starts_with('e') { "f" } else { "e" };
    env["payload"] = serde_json::Value::String(format!("{first}{}", &payload[1..]));
    fs::write(out, serde_json::to_vec(&doc).expect("JSON")).expect("write");
}

const SUBJECT: &str = "app=sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const SUBJECT_HEX: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

#[test]
fn dsse_envelopes_verify_both_ways_with_securesystemslib() {
    if !peers_present(
        "dsse_envelopes_verify_both_ways_with_securesystemslib",
        &[Peer::Securesystemslib],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let sslib = interop_script("dsse_sslib.py");
    for algorithm in ["ecdsa-p256", "ed25519"] {
        // Stella signs, securesystemslib verifies (and refuses a tampered copy).
        let (key, public) = stella_keygen(d, algorithm, algorithm);
        let bundle = d.join(format!("{algorithm}.bundle.json"));
        stella_bundle(d, &key, KEY_PASSWORD, SUBJECT, &bundle);
        let out = run_ok(
            python([&sslib])
                .args(["verify", "--envelope"])
                .arg(&bundle)
                .arg("--pub")
                .arg(&public),
        );
        let report = json_of(&out);
        assert_eq!(report["verified"], true, "{algorithm}: {report}");
        assert_eq!(
            report["statement"]["subject"][0]["digest"]["sha256"], SUBJECT_HEX,
            "{algorithm}: {report}"
        );
        let tampered = d.join(format!("{algorithm}.tampered.json"));
        tamper_payload(&bundle, &tampered);
        let out = python([&sslib])
            .args(["verify", "--envelope"])
            .arg(&tampered)
            .arg("--pub")
            .arg(&public)
            .output()
            .expect("python3 runs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{algorithm}: tampered envelope accepted"
        );

        // securesystemslib signs, Stella verifies.
        let prefix = d.join(format!("sslib-{algorithm}"));
        run_ok(
            python([&sslib])
                .args(["genkey", "--algorithm", algorithm, "--out"])
                .arg(&prefix),
        );
        let (sslib_key, sslib_pub) = (prefix.with_extension("pem"), prefix.with_extension("pub"));
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app", "digest": {"sha256": SUBJECT_HEX}}],
            "predicateType": "https://example.com/review/v1",
            "predicate": {"signed by": "securesystemslib"},
        });
        let payload = d.join(format!("{algorithm}.statement.json"));
        fs::write(&payload, serde_json::to_vec(&statement).expect("JSON")).expect("write");
        let envelope = d.join(format!("{algorithm}.sslib.envelope.json"));
        run_ok(
            python([&sslib])
                .args(["sign", "--key"])
                .arg(&sslib_key)
                .arg("--payload-file")
                .arg(&payload)
                .arg("-o")
                .arg(&envelope),
        );
        let out = stella()
            .args(["verify-attestation", "--json", "--subject-digest"])
            .arg(format!("sha256:{SUBJECT_HEX}"))
            .arg("--key")
            .arg(&sslib_pub)
            .arg(&envelope)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(report["predicate"]["signed by"], "securesystemslib");
        // And with the wrong key, Stella says no.
        stella()
            .arg("verify-attestation")
            .arg("--key")
            .arg(&public)
            .arg(&envelope)
            .assert()
            .code(1)
            .stderr(predicates::str::contains("no signature by key"));

        // Stella signs with securesystemslib's (unencrypted PKCS#8) key; securesystemslib
        // verifies that too.
        let with_their_key = d.join(format!("{algorithm}.their-key.bundle.json"));
        stella_bundle(d, &sslib_key, "", SUBJECT, &with_their_key);
        let report = json_of(&run_ok(
            python([&sslib])
                .args(["verify", "--envelope"])
                .arg(&with_their_key)
                .arg("--pub")
                .arg(&sslib_pub),
        ));
        assert_eq!(report["verified"], true, "{algorithm}: {report}");

        // A signature over the raw payload, not the PAE (made with `cryptography`): refused by
        // name.
        let raw = d.join(format!("{algorithm}.raw.json"));
        run_ok(python([
            "-c",
            "import base64, json, sys\n\
             from cryptography.hazmat.primitives import hashes, serialization\n\
             from cryptography.hazmat.primitives.asymmetric import ec\n\
             key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
             env = json.load(open(sys.argv[2]))\n\
             body = base64.b64decode(env['payload'])\n\
             sig = key.sign(body, ec.ECDSA(hashes.SHA256())) if isinstance(key, ec.EllipticCurvePrivateKey) else key.sign(body)\n\
             env['signatures'][0]['sig'] = base64.b64encode(sig).decode()\n\
             json.dump(env, open(sys.argv[3], 'w'))\n",
        ])
        .arg(&sslib_key)
        .arg(&envelope)
        .arg(&raw));
        stella()
            .arg("verify-attestation")
            .arg("--key")
            .arg(&sslib_pub)
            .arg(&raw)
            .assert()
            .code(1)
            .stderr(predicates::str::contains("covers the raw payload"));
    }
}

#[test]
fn stella_bundles_verify_with_sigstore_js() {
    if !peers_present(
        "stella_bundles_verify_with_sigstore_js",
        &[Peer::SigstoreVerify],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let script = interop_script("sigstore_verify.mjs");
    let node = |bundle: &Path, public: &Path, root: &Path| {
        Process::new("node")
            .arg(&script)
            .arg(bundle)
            .arg(public)
            .arg(root)
            .current_dir(repo_root().join("interop"))
            .output()
            .expect("node runs")
    };
    // The bundles' log entries are checked too, against the embedded log's trusted root.
    // (`log trusted-root` creates no log: these homes may not have one yet.)
    stella_tlog::Log::open_or_create(&home().join("log"), None).expect("log");
    let root = d.join("trusted-root.json");
    stella()
        .args(["log", "trusted-root", "-o"])
        .arg(&root)
        .assert()
        .success();
    let other_home = tempfile::tempdir().expect("tempdir");
    stella_tlog::Log::create(&other_home.path().join("log"), None).expect("log");
    let other_root = d.join("other-root.json");
    Command::cargo_bin("stella")
        .expect("bin")
        .env("STELLA_HOME", other_home.path())
        .args(["log", "trusted-root", "-o"])
        .arg(&other_root)
        .assert()
        .success();
    for algorithm in ["ecdsa-p256", "ed25519"] {
        let (key, public) = stella_keygen(d, algorithm, algorithm);
        let bundle = d.join(format!("{algorithm}.bundle.json"));
        stella_bundle(d, &key, KEY_PASSWORD, SUBJECT, &bundle);
        let out = node(&bundle, &public, &root);
        let report = json_of(&out);
        assert_eq!(report["verified"], true, "{algorithm}: {report}");
        assert_eq!(report["tlogEntries"], 1, "{algorithm}: {report}");
        // sigstore-js checks the signature, not the statement's subjects: compare them here.
        assert_eq!(
            report["subjects"],
            serde_json::json!([{"name": "app", "digest": {"sha256": SUBJECT_HEX}}]),
            "{algorithm}"
        );
        let tampered = d.join(format!("{algorithm}.tampered.json"));
        tamper_payload(&bundle, &tampered);
        let out = node(&tampered, &public, &root);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{algorithm}: tampered bundle accepted"
        );

        // A changed inclusion-proof hash fails there too, and so does a log the trusted root
        // does not name.
        let mut doc: serde_json::Value =
            serde_json::from_slice(&fs::read(&bundle).expect("bundle")).expect("JSON");
        let hashes = &mut doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"];
        assert!(
            hashes.as_array().is_some_and(|h| !h.is_empty()),
            "a proof with hashes"
        );
        hashes[0] = serde_json::Value::String("A".repeat(43) + "=");
        let bad_proof = d.join(format!("{algorithm}.bad-proof.json"));
        fs::write(&bad_proof, serde_json::to_vec(&doc).expect("JSON")).expect("write");
        let out = node(&bad_proof, &public, &root);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{algorithm}: bad proof accepted"
        );
        let out = node(&bundle, &public, &other_root);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{algorithm}: an entry of an untrusted log accepted"
        );
    }
}

#[test]
fn cosign_key_files_are_read_and_written_as_cosign_does() {
    if !peers_present(
        "cosign_key_files_are_read_and_written_as_cosign_does",
        &[Peer::CosignKeyPy, Peer::Securesystemslib],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cosign_py = interop_script("cosign_key.py");
    let keyid_of = |key: &Path, password: &str| -> String {
        let out = stella()
            .env("COSIGN_PASSWORD", password)
            .args(["key", "public", "--json", "--key"])
            .arg(key)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let info: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        info["keyId"].as_str().expect("keyId").to_owned()
    };

    // cosign's own published test key (written by cosign, N = 32768).
    let fixture = fixtures().join("cosign/cosign-test-key.pem");
    let theirs = json_of(&run_ok(
        python([&cosign_py])
            .args(["read", "--password", "hello", "--key"])
            .arg(&fixture),
    ));
    assert_eq!(
        keyid_of(&fixture, "hello"),
        theirs["hint"].as_str().expect("hint")
    );
    let public = d.join("cosign-test.pub");
    fs::write(&public, theirs["public_pem"].as_str().expect("pem")).expect("write");
    let bundle = d.join("cosign-test.bundle.json");
    stella_bundle(d, &fixture, "hello", SUBJECT, &bundle);
    let report = json_of(&run_ok(
        python([interop_script("dsse_sslib.py")])
            .args(["verify", "--envelope"])
            .arg(&bundle)
            .arg("--pub")
            .arg(&public),
    ));
    assert_eq!(report["verified"], true, "{report}");

    // Keys written by the Python implementation of the format, every variant cosign writes.
    for algorithm in ["ecdsa-p256", "ed25519"] {
        for n in ["32768", "65536"] {
            for legacy in [false, true] {
                let prefix = d.join(format!("py-{algorithm}-{n}-{legacy}"));
                let mut cmd = python([&cosign_py]);
                cmd.args([
                    "write",
                    "--algorithm",
                    algorithm,
                    "--n",
                    n,
                    "--password",
                    "pw",
                ])
                .arg("--out")
                .arg(&prefix);
                if legacy {
                    cmd.arg("--legacy-label");
                }
                run_ok(&mut cmd);
                let key = prefix.with_extension("key");
                let read = json_of(&run_ok(
                    python([&cosign_py])
                        .args(["read", "--password", "pw", "--key"])
                        .arg(&key),
                ));
                assert_eq!(keyid_of(&key, "pw"), read["hint"].as_str().expect("hint"));
                let bundle = prefix.with_extension("bundle.json");
                stella_bundle(d, &key, "pw", SUBJECT, &bundle);
                stella()
                    .arg("verify-attestation")
                    .arg("--key")
                    .arg(prefix.with_extension("pub"))
                    .arg(&bundle)
                    .assert()
                    .success();
            }
        }
        // And Stella's key files open with the Python implementation.
        let (key, public) = stella_keygen(d, &format!("stella-{algorithm}"), algorithm);
        let read = json_of(&run_ok(
            python([&cosign_py])
                .args(["read", "--password", KEY_PASSWORD, "--key"])
                .arg(&key),
        ));
        assert_eq!(read["algorithm"], algorithm);
        assert_eq!(read["kdf"]["N"], 65536);
        assert_eq!(
            read["public_pem"].as_str().expect("pem"),
            fs::read_to_string(&public).expect("pub")
        );
        let out = python([&cosign_py])
            .args(["read", "--password", "not it", "--key"])
            .arg(&key)
            .output()
            .expect("python3 runs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "wrong password accepted by the peer"
        );
    }
}

/// Runs a peer validator over `files`; its report when it rejects any.
fn peer_rejects(cmd: &mut Process, files: &[PathBuf]) -> Option<String> {
    let out = cmd
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    match out.status.code() {
        Some(0) => None,
        Some(1) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => panic!(
            "{cmd:?} could not judge ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn openvex_validator() -> Process {
    python([
        interop_script("openvex_validate.py"),
        fixtures().join("openvex/openvex_json_schema.json"),
    ])
}

fn csaf_validator() -> Process {
    let mut cmd = Process::new("node");
    cmd.arg(interop_script("csaf_validate.mjs"))
        .current_dir(repo_root().join("interop"));
    cmd
}

#[test]
fn vex_written_in_every_format_passes_the_peers_validators() {
    if !peers_present(
        "vex_written_in_every_format_passes_the_peers_validators",
        &[
            Peer::OpenVexJsonschema,
            Peer::CycloneDxPythonLib,
            Peer::CsafValidatorLib,
        ],
    ) {
        return;
    }
    // The peers can say no: each rejects a document its rules break.
    assert!(
        peer_rejects(
            &mut openvex_validator(),
            &[fixtures().join("openvex/govulncheck-output-schema-invalid.json")]
        )
        .is_some_and(|r| r.contains("action_statement")),
        "the OpenVEX schema must reject govulncheck's affected statement without action"
    );
    let work = tempfile::tempdir().expect("temporary directory");
    let w = work.path();
    let mut broken: serde_json::Value = serde_json::from_slice(
        &fs::read(fixtures().join("csaf-vex/2022-evd-uc-01-a-001.json")).expect("fixture"),
    )
    .expect("json");
    broken["vulnerabilities"][0]
        .as_object_mut()
        .expect("object")
        .remove("remediations");
    let broken_path = w.join("broken.csaf.json");
    fs::write(&broken_path, serde_json::to_vec(&broken).expect("json")).expect("write");
    let report = peer_rejects(&mut csaf_validator(), std::slice::from_ref(&broken_path));
    assert!(
        report.as_deref().is_some_and(|r| r.contains("6_1_27_10")),
        "the BSI validator must reject a known_affected product without remediation: {report:?}"
    );
    // Stella's own verdict agrees, at the same pointer.
    let ours = stella()
        .args(["vex", "validate"])
        .arg(&broken_path)
        .output()
        .expect("runs");
    assert_eq!(ours.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&ours.stdout)
            .contains("/vulnerabilities/0/product_status/known_affected/0 [csaf:6.1.27.10]")
    );

    // Every real document Stella reads, written in each format; and their merge.
    // (The examples' SBOMs, `Case-*-bom-*`, hold no statement: OpenVEX cannot be written from
    // them, and `stella vex convert` says so with exit 2.)
    let mut sources: Vec<PathBuf> = json_files_in(&fixtures().join("csaf-vex"));
    sources.extend(
        json_files_in(&fixtures().join("cyclonedx/vex-examples"))
            .into_iter()
            .filter(|p| !file_name(p).contains("-bom-")),
    );
    sources.push(fixtures().join("openvex/govulncheck-output-schema-invalid.json"));
    let mut written: BTreeMap<&str, Vec<PathBuf>> = BTreeMap::new();
    for format in ["openvex", "cyclonedx", "csaf"] {
        let dir = w.join(format);
        fs::create_dir(&dir).expect("dir");
        let mut contradicting = Vec::new();
        for source in &sources {
            let target = dir.join(file_name(source));
            let out = stella()
                .args([
                    "vex",
                    "convert",
                    "--timestamp",
                    "2024-01-01T00:00:00Z",
                    "--to",
                    format,
                ])
                .arg("-o")
                .arg(&target)
                .arg(source)
                .output()
                .expect("runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => written.entry(format).or_default().push(target),
                // CSAF allows one status per product: a document that gives two is refused
                // (exit 2) with the way out, never written invalid.
                Some(2) if format == "csaf" && stderr.contains("merge the document first") => {
                    contradicting.push(file_name(source).to_owned());
                }
                _ => panic!(
                    "stella vex convert --to {format} {}: {stderr}",
                    source.display()
                ),
            }
        }
        // Case-8 says CVE-2021-45105 is both not_affected and resolved in product JKL 5.2.
        if format == "csaf" {
            assert_eq!(contradicting, ["Case-8-vex.json"]);
        } else {
            assert!(contradicting.is_empty(), "{contradicting:?}");
        }
        let merged = dir.join("merged.json");
        stella()
            .args([
                "vex",
                "merge",
                "--timestamp",
                "2024-01-01T00:00:00Z",
                "--to",
                format,
            ])
            .arg("-o")
            .arg(&merged)
            .args(&sources)
            .assert()
            .success();
        written.entry(format).or_default().push(merged);
    }
    let checks: [(&str, Process); 3] = [
        ("openvex", openvex_validator()),
        ("cyclonedx", python([interop_script("cdx_validate.py")])),
        ("csaf", csaf_validator()),
    ];
    for (format, mut cmd) in checks {
        if let Some(report) = peer_rejects(&mut cmd, &written[format]) {
            let kept = work.keep();
            panic!(
                "the peer rejects {format} that stella wrote (kept in {}):\n{report}",
                kept.display()
            );
        }
    }
}

fn sarif_validator() -> Process {
    python([interop_script("sarif_validate.py")])
}

/// Writes OSV records about the C programs `assess::build_c` makes: one naming zlib's
/// `inflateGetHeader` (held by one program only), one about a library neither holds, asked about
/// by id.
fn assess_advisories(dir: &Path) {
    fs::create_dir_all(dir).expect("mkdir");
    let records = [
        serde_json::json!({
            "id": "TEST-ZLIB-HEADER", "modified": "2026-01-01T00:00:00Z",
            "aliases": ["CVE-2022-37434"],
            "summary": "zlib: heap overflow in inflate through an oversized gzip header extra field",
            "affected": [{
                "package": {"ecosystem": "GIT", "name": "https://github.com/madler/zlib", "purl": "pkg:generic/zlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"symbols": ["inflateGetHeader"]}
            }]
        }),
        serde_json::json!({
            "id": "TEST-OPENSSL-SQRT", "modified": "2026-01-01T00:00:00Z",
            "summary": "OpenSSL: infinite loop in BN_mod_sqrt",
            "affected": [{
                "package": {"ecosystem": "GIT", "name": "https://github.com/openssl/openssl", "purl": "pkg:generic/openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"symbols": ["BN_mod_sqrt"]}
            }]
        }),
    ];
    for record in records {
        let id = record["id"].as_str().expect("id").to_owned();
        fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec_pretty(&record).expect("json"),
        )
        .expect("write");
    }
}

/// A copy of `file`, named after `how`, changed by `break_it` in a way the format's rules forbid.
fn broken_copy(file: &Path, how: &str, break_it: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fs::read(file).expect("read")).expect("JSON");
    break_it(&mut doc);
    let name = format!("{how}-{}", file_name(file));
    let out = file.with_file_name(name);
    fs::write(&out, serde_json::to_vec_pretty(&doc).expect("JSON")).expect("write");
    out
}

#[test]
fn assessments_in_every_format_pass_the_peers_validators() {
    let test = "assessments_in_every_format_pass_the_peers_validators";
    if !peers_present(
        test,
        &[
            Peer::OpenVexJsonschema,
            Peer::CycloneDxPythonLib,
            Peer::CsafValidatorLib,
            Peer::SarifSdk,
        ],
    ) {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let root = w.join("capps");
    if let Err(e) = crate::assess::build_c(w, &root) {
        stella_testkit::skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = w.join("home");
    let image = crate::assess::scan(&home, &root);
    // CSAF allows one status per product, and `stella assess --format csaf` names a binary's
    // component as a component of the image: two binaries holding one zlib with different
    // verdicts collide there (see assess.rs, the ignored
    // `two_binaries_with_one_component_and_different_verdicts_write_csaf`). The CSAF is written
    // from an image holding one of them.
    let one_root = w.join("capp");
    fs::create_dir_all(one_root.join("usr/bin")).expect("mkdir");
    fs::copy(
        root.join("usr/bin/gunzip-headers"),
        one_root.join("usr/bin/gunzip-headers"),
    )
    .expect("copy");
    let one_image = crate::assess::scan(&home, &one_root);
    let advisories = w.join("advisories");
    assess_advisories(&advisories);

    // Every kind of verdict: the vulnerable function present (under_investigation), absent
    // from a fully named binary (not_affected, vulnerable_code_not_present), a library no
    // binary holds (not_affected, component_not_present) and an id no advisory names
    // (under_investigation, image-wide).
    let formats = ["json", "openvex", "cyclonedx", "csaf", "sarif"];
    let mut written: BTreeMap<&str, PathBuf> = BTreeMap::new();
    for format in formats {
        let out = w.join(format!("assessment.{format}.json"));
        let run = Command::cargo_bin("stella")
            .expect("stella binary is built")
            .env_remove("STELLA_LOG")
            .env("STELLA_HOME", &home)
            .arg("assess")
            .arg("--image")
            .arg(if format == "csaf" { &one_image } else { &image })
            .arg("--advisories")
            .arg(&advisories)
            .args(["--vuln", "TEST-OPENSSL-SQRT", "--vuln", "CVE-2099-0001"])
            .args(["--format", format, "-o"])
            .arg(&out)
            .output()
            .expect("stella runs");
        assert!(
            run.status.success(),
            "stella assess --format {format}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        written.insert(format, out);
    }
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(&written["json"]).expect("read")).expect("JSON");
    let mut kinds: Vec<(String, String, String)> = report["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| {
            (
                v["binary"]["path"].as_str().unwrap_or("(image)").to_owned(),
                v["status"].as_str().unwrap_or_default().to_owned(),
                v["justification"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("(image)", "not_affected", "component_not_present"),
            ("(image)", "under_investigation", "-"),
            (
                "/usr/bin/compressor",
                "not_affected",
                "vulnerable_code_not_present"
            ),
            ("/usr/bin/gunzip-headers", "under_investigation", "-"),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())),
        "{report:#}"
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&fs::read(&written["sarif"]).expect("read")).expect("JSON");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(4),
        "one SARIF result per verdict: {sarif:#}"
    );

    let csaf: serde_json::Value =
        serde_json::from_slice(&fs::read(&written["csaf"]).expect("read")).expect("JSON");
    let lists: std::collections::BTreeSet<&str> = csaf["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["product_status"].as_object())
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    assert_eq!(
        lists,
        ["known_not_affected", "under_investigation"].into(),
        "{csaf:#}"
    );

    let checks: [(&str, Process); 4] = [
        ("openvex", openvex_validator()),
        ("cyclonedx", python([interop_script("cdx_validate.py")])),
        ("csaf", csaf_validator()),
        ("sarif", sarif_validator()),
    ];
    for (format, mut cmd) in checks {
        let file = &written[format];
        if let Some(report) = peer_rejects(&mut cmd, std::slice::from_ref(file)) {
            let kept = work.keep();
            panic!(
                "the peer rejects the {format} that stella assess wrote (kept in {}):\n{report}",
                kept.display()
            );
        }
    }

    // Each peer says no to a copy its rules forbid, naming what is wrong.
    let refusals: [(&str, Process, &str, PathBuf); 5] = [
        (
            "openvex",
            openvex_validator(),
            "/statements/0/status",
            broken_copy(&written["openvex"], "bad-status", |d| {
                d["statements"][0]["status"] = "exploitable".into();
            }),
        ),
        (
            "cyclonedx",
            python([interop_script("cdx_validate.py")]),
            "/vulnerabilities/0/analysis/state",
            broken_copy(&written["cyclonedx"], "bad-state", |d| {
                d["vulnerabilities"][0]["analysis"]["state"] = "probably_fine".into();
            }),
        ),
        (
            "csaf",
            csaf_validator(),
            "/document",
            broken_copy(&written["csaf"], "no-publisher", |d| {
                d["document"]
                    .as_object_mut()
                    .expect("document")
                    .remove("publisher");
            }),
        ),
        // The SDK's own schema check (JSON1002) refuses a log without its version …
        (
            "sarif",
            sarif_validator(),
            "JSON1002",
            broken_copy(&written["sarif"], "no-version", |d| {
                d.as_object_mut().expect("log").remove("version");
            }),
        ),
        // … and a level outside the four SARIF defines is refused by the schema it ships.
        (
            "sarif",
            sarif_validator(),
            "/runs/0/results/0/level",
            broken_copy(&written["sarif"], "bad-level", |d| {
                d["runs"][0]["results"][0]["level"] = "severe".into();
            }),
        ),
    ];
    for (format, mut cmd, says, broken) in refusals {
        let report = peer_rejects(&mut cmd, std::slice::from_ref(&broken));
        assert!(
            report.as_deref().is_some_and(|r| r.contains(says)),
            "the {format} peer must reject {} at {says}: {report:?}",
            broken.display()
        );
    }
}

/// Every record of Stella's overlay (`advisories/overlay`) is valid OSV: the official schema
/// (`interop/osv-schema`, ossf/osv-schema v1.6.3; see its README for why that release) applied by
/// PyPI `jsonschema`, which also rejects a record that breaks it.
#[test]
fn overlay_records_pass_the_osv_schema() {
    if !peers_present(
        "overlay_records_pass_the_osv_schema",
        &[Peer::OpenVexJsonschema],
    ) {
        return;
    }
    use sha2::Digest as _;
    let schema_dir = repo_root().join("interop/osv-schema");
    let schema = schema_dir.join("schema-v1.6.3.json");
    let sums = fs::read_to_string(schema_dir.join("SHA256SUMS")).unwrap();
    let digest: String = sha2::Sha256::digest(fs::read(&schema).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        sums.split_whitespace().next(),
        Some(digest.as_str()),
        "interop/osv-schema/schema-v1.6.3.json differs from its SHA256SUMS"
    );
    let mut records: Vec<PathBuf> = fs::read_dir(repo_root().join("advisories/overlay"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    records.sort();
    assert!(records.len() >= 5, "{records:?}");
    let validator = || python([interop_script("openvex_validate.py"), schema.clone()]);
    if let Some(problems) = peer_rejects(&mut validator(), &records) {
        panic!("the OSV schema rejects the overlay:\n{problems}");
    }
    // The schema can say no: a range event that is not one of its four kinds.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&fs::read(&records[0]).unwrap()).unwrap();
    record["affected"][0]["ranges"][0]["events"][0] = serde_json::json!({"affected": "1.0"});
    fs::write(&broken, serde_json::to_vec(&record).unwrap()).unwrap();
    let problems = peer_rejects(&mut validator(), &[broken]).expect("a broken record is rejected");
    assert!(
        problems.contains("/affected/0/ranges/0/events"),
        "{problems}"
    );
}
