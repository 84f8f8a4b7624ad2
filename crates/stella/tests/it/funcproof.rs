//! `stella funcproof`, `verify` and `query` end to end, on a binary built here from C.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use predicates::prelude::*;

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG").env_remove("STELLA_HOME");
    cmd
}

/// `vuln.c` (the stella-binary fixture) built with symbols into a fresh directory.
fn build_fixture(dir: &Path) -> PathBuf {
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../stella-binary/tests/fixtures/vuln.c");
    let out = dir.join("vuln");
    let status = Process::new("gcc")
        .args(["-O2", "-g", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    out
}

#[test]
fn prove_verify_query_and_detect_a_patch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = build_fixture(dir.path());
    let proof = dir.path().join("vuln.funcproof.json");
    stella()
        .args(["funcproof", "-o"])
        .arg(&proof)
        .arg(&binary)
        .assert()
        .success();
    let first = std::fs::read(&proof).expect("proof written");
    let again = stella()
        .arg("funcproof")
        .arg(&binary)
        .output()
        .expect("runs");
    assert_eq!(first, again.stdout, "same binary, same bytes");

    stella()
        .args(["funcproof", "verify"])
        .arg(&proof)
        .arg(&binary)
        .assert()
        .success()
        .stdout(predicate::str::contains("verified"));

    stella()
        .args(["funcproof", "query"])
        .arg(&proof)
        .arg("vuln_parse_alias")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("present vuln_parse "));
    let out = stella()
        .args(["funcproof", "query", "--json"])
        .arg(&proof)
        .arg("inflateGetHeader")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "absent is a clean no");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["present"], false);
    assert!(answer["buildId"].as_str().is_some_and(|b| b.len() == 40));

    // Flip one byte inside `helper` and the replay names it.
    let doc: serde_json::Value = serde_json::from_slice(&first).expect("JSON");
    let helper = doc["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .find(|f| f["sym"] == "helper")
        .expect("helper");
    let start =
        u64::from_str_radix(&helper["start"].as_str().expect("start")[2..], 16).expect("hex");
    // In a PIE built by gcc, .text's address equals its file offset.
    let mut bytes = std::fs::read(&binary).expect("binary");
    bytes[usize::try_from(start).expect("offset") + 1] ^= 0x55;
    let patched = dir.path().join("vuln-patched");
    std::fs::write(&patched, bytes).expect("write");
    stella()
        .args(["funcproof", "verify"])
        .arg(&proof)
        .arg(&patched)
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("function helper")
                .and(predicate::str::contains("section .text")),
        );
}

#[test]
fn bad_binaries_and_proofs_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = build_fixture(dir.path());
    let bytes = std::fs::read(&binary).expect("read");
    let truncated = dir.path().join("truncated");
    std::fs::write(&truncated, &bytes[..40]).expect("write");
    stella()
        .arg("funcproof")
        .arg(&truncated)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("truncated").and(predicate::str::contains("panicked").not()),
        );
    stella()
        .args(["funcproof", "/nonexistent/binary"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/binary"));
    let not_a_proof = dir.path().join("bom.json");
    std::fs::write(&not_a_proof, br#"{"bomFormat":"CycloneDX"}"#).expect("write");
    stella()
        .args(["funcproof", "verify"])
        .arg(&not_a_proof)
        .arg(&binary)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a valid FuncProof"));
    stella().arg("funcproof").assert().code(2);
}

/// A zlib-shaped library function under its real name, so that the proof names
/// `inflateGetHeader` as an advisory would.
const INFLATE_C: &str = r#"
#include <stdio.h>
__attribute__((noinline)) int inflateGetHeader(void *strm, void *head) {
    return strm == head ? -2 : 0;
}
__attribute__((noinline)) int inflateReset(void *strm) { return strm ? 0 : -2; }
int main(int argc, char **argv) {
    printf("%d %d\n", inflateGetHeader(argv, argv[0]), inflateReset(argc > 1 ? argv : 0));
    return 0;
}
"#;

/// Builds `INFLATE_C` and proves it: `(binary, proof)`.
fn inflate_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let source = dir.join("inflate.c");
    std::fs::write(&source, INFLATE_C).expect("write source");
    let binary = dir.join("inflate");
    let status = Process::new("gcc")
        .args(["-O2", "-g", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    let proof = dir.join("inflate.funcproof.json");
    stella()
        .args(["funcproof", "-o"])
        .arg(&proof)
        .arg(&binary)
        .assert()
        .success();
    (binary, proof)
}

/// The proof with the function `from` renamed `to`, written beside it.
fn renamed(proof: &Path, from: &str, to: &str) -> PathBuf {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(proof).expect("proof")).expect("JSON");
    let f = doc["functions"]
        .as_array_mut()
        .expect("functions")
        .iter_mut()
        .find(|f| f["sym"] == from)
        .unwrap_or_else(|| panic!("{from} is in the proof"));
    f["sym"] = serde_json::json!(to);
    let out = proof.with_extension("renamed.json");
    std::fs::write(&out, serde_json::to_vec(&doc).expect("bytes")).expect("write");
    out
}

/// The finding: with `inflateGetHeader` renamed in the proof, `verify` said "verified" (only
/// hashes were compared) and `query` called the function absent.
#[test]
fn a_renamed_function_fails_verify_and_query_with_the_binary_refuses_to_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (binary, proof) = inflate_fixture(dir.path());
    let forged = renamed(&proof, "inflateGetHeader", "inflateGetHeader_unused");

    stella()
        .args(["funcproof", "verify"])
        .arg(&forged)
        .arg(&binary)
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("1 mismatch against")
                .and(predicate::str::contains("name inflateGetHeader_unused [0x"))
                .and(predicate::str::contains(
                    "sym: expected inflateGetHeader_unused, found inflateGetHeader",
                ))
                .and(predicate::str::contains("verified").not()),
        );
    let out = stella()
        .args(["funcproof", "verify", "--json"])
        .arg(&forged)
        .arg(&binary)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["verified"], false);
    let mismatches = report["mismatches"].as_array().expect("mismatches");
    assert_eq!(mismatches.len(), 1, "{report:#}");
    assert_eq!(mismatches[0]["kind"], "name");
    assert_eq!(mismatches[0]["field"], "sym");
    assert_eq!(mismatches[0]["expected"], "inflateGetHeader_unused");
    assert_eq!(mismatches[0]["actual"], "inflateGetHeader");

    // Without the binary, query answers from the proof it is given, as its help says.
    stella()
        .args(["funcproof", "query"])
        .arg(&forged)
        .arg("inflateGetHeader")
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("absent inflateGetHeader"));
    // With it, the forged proof is refused (exit 2: exit 1 would read as "absent").
    stella()
        .args(["funcproof", "query", "--binary"])
        .arg(&binary)
        .arg(&forged)
        .arg("inflateGetHeader")
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("does not describe")
                .and(predicate::str::contains("inflateGetHeader"))
                .and(predicate::str::contains("not answering")),
        );
    // The genuine proof, verified against the binary, answers.
    let out = stella()
        .args(["funcproof", "query", "--json", "--binary"])
        .arg(&binary)
        .arg(&proof)
        .arg("inflateGetHeader")
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["present"], true);
    assert_eq!(answer["verifiedBinary"], binary.display().to_string());
    assert_eq!(answer["matches"][0]["sym"], "inflateGetHeader");
    // And its absence answers are verified too.
    stella()
        .args(["funcproof", "query", "--binary"])
        .arg(&binary)
        .arg(&proof)
        .arg("inflateBack")
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("absent inflateBack"));
}

#[test]
fn query_help_says_it_trusts_the_proof() {
    stella()
        .args(["funcproof", "query", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("query trusts the proof it is given")
                .and(predicate::str::contains("--binary <BINARY>"))
                .and(predicate::str::contains(
                    "stella funcproof verify PROOF BINARY",
                )),
        );
}

/// Addresses are `0x` and lower-case hex; anything else is bad input naming the JSON pointer.
#[test]
fn a_proof_with_a_loosely_written_address_exits_2_naming_the_pointer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (binary, proof) = inflate_fixture(dir.path());
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).expect("proof")).expect("JSON");
    let start = doc["functions"][1]["start"]
        .as_str()
        .expect("start")
        .to_owned();
    let plus = format!("0x+{}", &start[2..]);
    assert_eq!(
        u64::from_str_radix(&plus[2..], 16).ok(),
        u64::from_str_radix(&start[2..], 16).ok(),
        "from_str_radix alone takes the sign"
    );
    doc["functions"][1]["start"] = serde_json::json!(plus);
    let loose = dir.path().join("loose.json");
    std::fs::write(&loose, serde_json::to_vec(&doc).expect("bytes")).expect("write");
    for args in [vec!["verify"], vec!["query"]] {
        let mut cmd = stella();
        cmd.arg("funcproof").args(&args).arg(&loose);
        if args[0] == "verify" {
            cmd.arg(&binary);
        } else {
            cmd.arg("inflateGetHeader");
        }
        cmd.assert().code(2).stderr(
            predicate::str::contains("loose.json")
                .and(predicate::str::contains("/functions/1/start"))
                .and(predicate::str::contains(format!(
                    "\"{plus}\" is not an address"
                ))),
        );
    }
}

/// A committed seed binary of stella-binary (built once from `seed.c`; see the README there).
fn seed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../stella-binary/tests/fuzz-regressions")
        .join(name)
}

/// Written to a terminal, the proof ends with a newline (the prompt then starts on its own
/// line); to a pipe, the bytes are the canonical JSON exactly, with none.
#[test]
fn a_proof_on_a_terminal_ends_with_a_newline_and_in_a_pipe_does_not() {
    let binary = seed("seed-x86_64.elf");
    let piped = stella()
        .arg("funcproof")
        .arg(&binary)
        .output()
        .expect("runs");
    assert!(piped.status.success());
    assert_eq!(
        piped.stdout.last(),
        Some(&b'}'),
        "a pipe gets the JCS bytes"
    );

    // `script` runs the command on a pseudo-terminal (which writes "\n" as "\r\n").
    let stella_bin = assert_cmd::cargo::cargo_bin("stella");
    let command = format!("{} funcproof {}", stella_bin.display(), binary.display());
    let on_terminal = Process::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .output()
        .expect("script (util-linux) runs");
    assert!(on_terminal.status.success(), "{on_terminal:?}");
    assert!(
        on_terminal.stdout.ends_with(b"}\r\n"),
        "{:?}",
        String::from_utf8_lossy(&on_terminal.stdout[on_terminal.stdout.len().saturating_sub(40)..])
    );
    // The newline is the only difference.
    assert_eq!(
        &on_terminal.stdout[..on_terminal.stdout.len() - 2],
        &piped.stdout[..]
    );
}

#[test]
fn writing_to_a_file_says_what_was_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("seed.funcproof.json");
    let run = stella()
        .args(["funcproof", "-o"])
        .arg(&out)
        .arg(seed("seed-x86_64.elf"))
        .output()
        .expect("runs");
    assert!(run.status.success());
    assert!(run.stdout.is_empty(), "the proof goes to the file only");
    let proof: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("JSON");
    let build_id = proof["buildId"].as_str().expect("build id");
    assert_eq!(
        String::from_utf8_lossy(&run.stderr).trim_end(),
        format!("wrote {} (3 functions, BuildID {build_id})", out.display())
    );
}

/// A stripped binary's functions are named after their addresses: "absent" by name proves
/// nothing there, and the answer says so (still exit 1, the absent code).
#[test]
fn querying_a_proof_of_a_stripped_binary_says_its_functions_are_unnamed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proof = dir.path().join("stripped.funcproof.json");
    stella()
        .args(["funcproof", "-o"])
        .arg(&proof)
        .arg(seed("seed-x86_64-stripped.elf"))
        .assert()
        .success();
    stella()
        .args(["funcproof", "query"])
        .arg(&proof)
        .arg("helper")
        .assert()
        .code(1)
        .stdout(
            predicate::str::starts_with("absent helper: ")
                .and(predicate::str::contains("all unnamed"))
                .and(predicate::str::contains("proves nothing")),
        );
    let out = stella()
        .args(["funcproof", "query", "--json"])
        .arg(&proof)
        .arg("helper")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["present"], false);
    assert_eq!(answer["functionsUnnamed"], true);

    // The same query on the unstripped build is a plain "absent" (the name is not there).
    let named = dir.path().join("named.funcproof.json");
    stella()
        .args(["funcproof", "-o"])
        .arg(&named)
        .arg(seed("seed-x86_64.elf"))
        .assert()
        .success();
    stella()
        .args(["funcproof", "query"])
        .arg(&named)
        .arg("inflateGetHeader")
        .assert()
        .code(1)
        .stdout(
            predicate::str::starts_with("absent inflateGetHeader: no function of")
                .and(predicate::str::contains("unnamed").not()),
        );
    let out = stella()
        .args(["funcproof", "query", "--json"])
        .arg(&named)
        .arg("inflateGetHeader")
        .output()
        .expect("runs");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(answer.get("functionsUnnamed").is_none(), "{answer}");
}
