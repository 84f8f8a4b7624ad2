//! `validate`: every real document in the fixtures is judged as its format's own rules judge it,
//! what Stella writes is valid, and each profile rule fires on a document that breaks it.

use stella_vex::VexFormat;
use stella_vex::read::{self, ReadError, ReadOptions};
use stella_vex::validate::{Check, Report, validate};

use crate::fixture;

fn check(bytes: &[u8]) -> Report {
    validate(bytes, &ReadOptions::default()).unwrap()
}

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_csaf_fixture_passes_the_schema_and_the_vex_profile() {
    for (name, bytes) in files("csaf-vex") {
        let report = check(&bytes);
        assert_eq!(report.format, VexFormat::Csaf, "{name}");
        assert!(report.is_valid(), "{name}: {:#?}", report.problems);
        assert_eq!(report.schema, "embedded:csaf_json_schema.json");
    }
}

#[test]
fn every_cyclonedx_vex_example_is_recognised_and_judged() {
    for (name, bytes) in files("cyclonedx/vex-examples") {
        let report = check(&bytes);
        assert_eq!(report.format, VexFormat::CycloneDx, "{name}");
        assert!(
            report.schema.contains("bom-1."),
            "{name}: {}",
            report.schema
        );
        // The examples are published as valid; a problem here is Stella's, not theirs.
        assert!(report.is_valid(), "{name}: {:#?}", report.problems);
    }
}

#[test]
fn govulncheck_openvex_is_invalid_for_its_affected_statement_without_action() {
    let report = check(&fixture("openvex/govulncheck-output-schema-invalid.json"));
    assert_eq!(report.format, VexFormat::OpenVex);
    assert!(!report.is_valid());
    // Every problem is the schema's: the affected statement without an action statement, and
    // ids that are not IRIs; the reader itself reads the document (with warnings).
    assert!(
        report.problems.iter().all(|p| p.check == Check::Schema),
        "{:#?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| p.pointer == "/statements/1"
            && p.message
                .contains("\"action_statement\" is a required property")),
        "{:#?}",
        report.problems
    );
    assert!(report.problems.iter().any(|p| p.pointer == "/@id"));
    assert!(!report.warnings.is_empty());
}

#[test]
fn what_stella_writes_in_each_format_is_valid() {
    let source = read::read(
        &fixture("csaf-vex/2022-evd-uc-01-na-001.json"),
        &ReadOptions::default(),
    )
    .unwrap();
    for format in [VexFormat::OpenVex, VexFormat::CycloneDx, VexFormat::Csaf] {
        let bytes = read::write(&source.document, format).unwrap();
        let report = check(&bytes);
        assert_eq!(report.format, format);
        assert!(report.is_valid(), "{format:?}: {:#?}", report.problems);
    }
}

fn csaf_with(edit: impl FnOnce(&mut serde_json::Value)) -> Report {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fixture("csaf-vex/2022-evd-uc-01-a-001.json")).unwrap();
    edit(&mut doc);
    check(&serde_json::to_vec(&doc).unwrap())
}

fn rules(report: &Report) -> Vec<(&str, &str)> {
    report
        .problems
        .iter()
        .filter(|p| p.check != Check::Schema)
        .map(|p| (p.rule.as_str(), p.pointer.as_str()))
        .collect()
}

#[test]
fn each_csaf_vex_profile_rule_fires_on_a_document_that_breaks_it() {
    let r = csaf_with(|d| {
        d["vulnerabilities"][0]
            .as_object_mut()
            .unwrap()
            .remove("remediations");
    });
    assert!(
        rules(&r).contains(&(
            "csaf:6.1.27.10",
            "/vulnerabilities/0/product_status/known_affected/0"
        )),
        "{:#?}",
        r.problems
    );
    let r = csaf_with(|d| {
        d["vulnerabilities"][0]
            .as_object_mut()
            .unwrap()
            .remove("notes");
    });
    assert!(rules(&r).contains(&("csaf:6.1.27.5", "/vulnerabilities/0")));
    let r = csaf_with(|d| {
        let v = d["vulnerabilities"][0].as_object_mut().unwrap();
        v.remove("cve");
        v.remove("ids");
    });
    assert!(rules(&r).contains(&("csaf:6.1.27.8", "/vulnerabilities/0")));
    let r = csaf_with(|d| {
        d["vulnerabilities"][0]["product_status"] =
            serde_json::json!({"first_affected": ["CSAFPID-9080700"]});
    });
    assert!(rules(&r).contains(&("csaf:6.1.27.7", "/vulnerabilities/0/product_status")));
    let r = csaf_with(|d| {
        d["vulnerabilities"][0]["product_status"] =
            serde_json::json!({"known_not_affected": ["CSAFPID-9080700"]});
    });
    assert!(rules(&r).contains(&(
        "csaf:6.1.27.9",
        "/vulnerabilities/0/product_status/known_not_affected/0"
    )));
    let r = csaf_with(|d| {
        d["vulnerabilities"][0]["product_status"]["known_affected"] =
            serde_json::json!(["CSAFPID-NOWHERE"]);
    });
    assert!(
        rules(&r).iter().any(|(rule, _)| *rule == "csaf:6.1.1"),
        "{:#?}",
        r.problems
    );
    let r = csaf_with(|d| d["document"]["category"] = "csaf_base".into());
    assert!(rules(&r).contains(&("csaf:vex-category", "/document/category")));
}

#[test]
fn duplicate_openvex_statement_ids_are_a_profile_problem() {
    let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/v",
      "author":"a","timestamp":"2024-01-01T00:00:00Z","version":1,"statements":[
      {"@id":"https://example.com/s","vulnerability":{"name":"CVE-2024-1"},
       "products":[{"@id":"pkg:npm/a@1"}],"status":"fixed"},
      {"@id":"https://example.com/s","vulnerability":{"name":"CVE-2024-2"},
       "products":[{"@id":"pkg:npm/a@1"}],"status":"fixed"}]}"#;
    let r = check(doc);
    assert_eq!(
        rules(&r),
        vec![("openvex:duplicate-statement-id", "/statements/1/@id")]
    );
}

#[test]
fn an_unknown_status_is_a_read_problem_and_the_schema_says_so_too() {
    let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/v",
      "author":"a","timestamp":"2024-01-01T00:00:00Z","version":1,"statements":[
      {"vulnerability":{"name":"CVE-2024-1"},"products":[{"@id":"pkg:npm/a@1"}],
       "status":"probably_fine"}]}"#;
    let r = check(doc);
    assert!(r.problems.iter().any(|p| p.check == Check::Read));
    assert!(
        r.problems
            .iter()
            .any(|p| p.check == Check::Schema && p.pointer == "/statements/0/status")
    );
}

#[test]
fn not_json_and_not_vex_are_errors_not_reports() {
    // The OpenVEX spec's own examples carry trailing commas.
    let trailing = br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[],}"#;
    match validate(trailing, &ReadOptions::default()) {
        Err(ReadError::Json { source }) => assert!(source.to_string().contains("byte")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        validate(br#"{"spdxVersion":"SPDX-2.3"}"#, &ReadOptions::default()),
        Err(ReadError::UnknownFormat)
    ));
}
