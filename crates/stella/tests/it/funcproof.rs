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
