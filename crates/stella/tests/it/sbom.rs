//! `stella sbom validate`: the command-line contract of validation (exit 0 valid, 1 invalid with
//! every problem listed, 2 unreadable), over the specification's own test documents.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

fn sbom_fixture(name: &str) -> PathBuf {
    shared().join("sbom").join(name)
}

const REAL_SBOMS: [&str; 3] = [
    "cyclonedx-py-7.5.0-spec1.7.json",
    "cdxgen-12.8.4-spec1.7.json",
    "cargo-cyclonedx-0.5.9-spec1.5.json",
];

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .env_remove("STELLA_CYCLONEDX_SCHEMAS");
    cmd
}

fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked").not()
}

/// Runs `stella sbom validate --json FILE`: exit code and report.
fn validate_json(file: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let out = stella()
        .args(["sbom", "validate", "--json"])
        .arg(file)
        .output()
        .expect("runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON report ({e}); stderr: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

fn pointers(report: &serde_json::Value) -> Vec<&str> {
    report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["pointer"].as_str().expect("pointer"))
        .collect()
}

/// Every official CycloneDX 1.7 test document, with no schema directory: `valid-*` exit 0 (the
/// one whose formula and workflow share a `bom-ref` aside: the semantic checks refuse it) and
/// `invalid-*` exit 1 with at least one problem.
#[test]
fn every_official_test_document_gets_its_verdict() {
    let dir = shared().join("cyclonedx/tests-1.7");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests-1.7")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut checked = 0;
    for file in &files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let (code, report) = validate_json(file);
        if name.starts_with("valid-") && name != "valid-citations-1.7.json" {
            assert_eq!(code, Some(0), "{name}: {report:#}");
            assert_eq!(report["valid"], true, "{name}");
        } else {
            assert_eq!(code, Some(1), "{name}: {report:#}");
            assert_eq!(report["valid"], false, "{name}");
            assert!(!pointers(&report).is_empty(), "{name}: {report:#}");
        }
        checked += 1;
    }
    assert!(checked >= 90, "only {checked} documents");
}

/// The regression of `invalid-bomformat-1.7.json`: it used to be refused as unreadable (exit 2);
/// it is an invalid document, listed like every other.
#[test]
fn json_that_is_not_cyclonedx_is_invalid_with_exit_1() {
    let file = shared().join("cyclonedx/tests-1.7/invalid-bomformat-1.7.json");
    let (code, report) = validate_json(&file);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["valid"], false);
    assert_eq!(pointers(&report), ["/bomFormat"], "{report:#}");
    stella()
        .args(["sbom", "validate"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "/bomFormat: \"AnotherFormat\" is not one of",
        ));

    // Not CycloneDX at all: still a report, without a specVersion.
    let out = stella()
        .args(["sbom", "validate", "--json", "-"])
        .write_stdin(r#"{"format":"something else"}"#)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["valid"], false);
    assert!(report.get("specVersion").is_none(), "{report:#}");
    assert_eq!(report["schemaSource"], "embedded:bom-1.7.schema.json");
    stella()
        .args(["sbom", "validate", "-"])
        .write_stdin(r#"{"format":"something else"}"#)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("invalid CycloneDX document"));
    // SPDX is named as SPDX, with the command that reads it.
    stella()
        .args(["sbom", "validate", "-"])
        .write_stdin(r#"{"spdxVersion":"SPDX-2.3"}"#)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "an SPDX 2.3 document, not CycloneDX: convert it with `stella sbom convert`",
        ));
}

/// Licence ids are checked against the SPDX list without any schema directory (the hand-written
/// structural checks let `Apache-2` through).
#[test]
fn licence_ids_are_checked_by_the_embedded_schema() {
    let (code, report) =
        validate_json(&shared().join("cyclonedx/tests-1.7/invalid-license-id-1.7.json"));
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["schemaSource"], "embedded:bom-1.7.schema.json");
    assert_eq!(
        pointers(&report),
        ["/components/0/licenses/0/license/id"],
        "{report:#}"
    );
}

#[test]
fn validate_exit_codes_and_json_report() {
    for name in REAL_SBOMS {
        stella()
            .args(["sbom", "validate"])
            .arg(sbom_fixture(name))
            .assert()
            .success()
            .stdout(predicate::str::contains("valid CycloneDX"));
    }
    let invalid = shared().join("cyclonedx/tests-1.7/invalid-dependency-1.7.json");
    let out = stella()
        .args(["sbom", "validate", "--json"])
        .arg(&invalid)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["valid"], false);
    let pointers: Vec<&str> = report["problems"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["pointer"].as_str().expect("pointer"))
        .collect();
    assert!(pointers.contains(&"/dependencies/0"), "{pointers:?}");
    assert!(pointers.contains(&"/dependencies/1/ref"), "{pointers:?}");

    // Unreadable documents still answer in JSON, with exit 2.
    let out = stella()
        .args(["sbom", "validate", "--json", "-"])
        .write_stdin(r#"{"bomFormat": "CycloneDX", "specVersion": "1.7", "version": 1,}"#)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["valid"], false);
    assert_eq!(report["error"]["offset"], 62);
}

#[test]
fn validate_with_official_schemas() {
    let schemas = shared().join("cyclonedx/schema");
    let out = stella()
        .args(["sbom", "validate", "--json", "--schema-dir"])
        .arg(&schemas)
        .arg(shared().join("cyclonedx/tests-1.7/invalid-license-id-1.7.json"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        report["schemaSource"]
            .as_str()
            .expect("schema")
            .ends_with("bom-1.7.schema.json")
    );
    assert_eq!(report["problems"][0]["check"], "schema");

    stella()
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg(sbom_fixture("cargo-cyclonedx-0.5.9-spec1.5.json"))
        .assert()
        .success();
    // For a version newer than the embedded ones, a schema directory without it is a usage
    // error naming the missing file; for an embedded version, the embedded schema serves.
    stella()
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg("-")
        .write_stdin(r#"{"bomFormat":"CycloneDX","specVersion":"1.8","version":1}"#)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bom-1.8.schema.json").and(no_panic()));
    stella()
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg("-")
        .write_stdin(r#"{"bomFormat":"CycloneDX","specVersion":"1.4","version":1}"#)
        .assert()
        .success()
        .stdout(predicate::str::contains("CycloneDX 1.4 schema, embedded"));
}
