//! CycloneDX VEX: the CycloneDX project's own VEX examples and 1.7 tests read, BOM-Links resolve
//! into the SBOM given, and what Stella writes passes the official 1.7 schema (checked by the
//! SBOM crate's validator, built on the `jsonschema` crate) and round-trips through OpenVEX.

use std::path::PathBuf;

use stella_core::jcs;
use stella_vex::VexFormat;
use stella_vex::cyclonedx::{self, CycloneDxError, CycloneDxWarning, ReadOptions};
use stella_vex::{JustificationKind, Status, VexDocument, openvex};

use crate::fixture;

const EXAMPLES: &str = "cyclonedx/vex-examples";

fn schema_problems(bytes: &[u8]) -> Vec<String> {
    let value = jcs::parse(bytes).unwrap();
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/cyclonedx/schema");
    let report = stella_sbom::validate::validate_value(&value, Some(&dir)).unwrap();
    assert_eq!(report.spec_version.as_deref(), Some("1.7"));
    report
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.pointer, p.message))
        .collect()
}

fn fallback() -> jiff::Timestamp {
    "2022-01-01T00:00:00Z".parse().unwrap()
}

#[test]
fn every_vex_example_reads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(EXAMPLES);
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains("-vex") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        // Cases 7 and 8 carry no time at all; they read with a fallback, and without one the
        // error names the statement.
        let options = ReadOptions {
            sbom: None,
            fallback_timestamp: Some(fallback()),
            purls: None,
        };
        let doc = cyclonedx::read_with(&bytes, &options)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .document;
        assert!(!doc.statements.is_empty(), "{name}");
        read += 1;
    }
    assert_eq!(read, 11);
}

#[test]
fn the_four_case_1_states_map_to_the_four_statuses() {
    for (file, status) in [
        ("Case-1-vex-affected.json", Status::Affected),
        ("Case-1-vex-fixed.json", Status::Fixed),
        ("Case-1-vex-not_affected.json", Status::NotAffected),
        (
            "Case-1-vex-under_investigation.json",
            Status::UnderInvestigation,
        ),
    ] {
        let read = cyclonedx::read(&fixture(&format!("{EXAMPLES}/{file}"))).unwrap();
        let s = &read.document.statements[0];
        assert_eq!(s.status, status, "{file}");
        assert_eq!(s.vulnerability.name, "CVE-2021-44228");
        assert_eq!(
            s.timestamp,
            "2022-03-03T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        assert!(
            s.products[0]
                .identity
                .id
                .as_deref()
                .unwrap()
                .starts_with("product-")
        );
        assert!(read.warnings.is_empty(), "{file}: {:?}", read.warnings);
    }
    let affected =
        cyclonedx::read(&fixture(&format!("{EXAMPLES}/Case-1-vex-affected.json"))).unwrap();
    let s = &affected.document.statements[0];
    assert_eq!(
        s.action_statement.as_deref(),
        Some("Response: will_not_fix, update")
    );
    assert!(s.impact_statement.as_deref().unwrap().contains("upgrade"));
    let not_affected = cyclonedx::read(&fixture(&format!(
        "{EXAMPLES}/Case-1-vex-not_affected.json"
    )))
    .unwrap();
    let j = not_affected.document.statements[0]
        .justification
        .clone()
        .unwrap();
    assert_eq!(j.kind, JustificationKind::VulnerableCodeNotPresent);
    assert_eq!(j.label, "code_not_present");
}

#[test]
fn a_statement_with_no_time_anywhere_is_an_error_naming_it() {
    let err = cyclonedx::read(&fixture(&format!("{EXAMPLES}/Case-7-vex.json"))).unwrap_err();
    assert!(
        matches!(&err, CycloneDxError::NoTimestamp { pointer } if pointer == "/vulnerabilities/0"),
        "{err}"
    );
}

#[test]
fn bom_links_resolve_into_the_sbom_given_and_warn_for_another() {
    let vex = fixture(&format!("{EXAMPLES}/Case-7-vex.json"));
    let sbom = fixture(&format!("{EXAMPLES}/Case-7-bom-1.json"));
    let read = cyclonedx::read_with(
        &vex,
        &ReadOptions {
            sbom: Some(&sbom),
            fallback_timestamp: Some(fallback()),
            purls: None,
        },
    )
    .unwrap();
    let abc = &read.document.statements[0].products[0].identity;
    assert_eq!(
        abc.bom_link.as_deref(),
        Some("urn:cdx:cbb2cd68-2857-43b8-a10b-e8c03d277d18/1#product-ABC")
    );
    // product-JKL lives in Case-7-bom-2, not in the SBOM given.
    assert!(read.warnings.iter().any(|w| matches!(
        w,
        CycloneDxWarning::BomLinkToOtherSbom { link, .. } if link.ends_with("#product-JKL")
    )));
    // The versions the products are limited to are carried.
    assert_eq!(abc.version.as_deref(), Some("2.4"));
}

#[test]
fn version_limits_are_products_of_their_own_and_round_trip_through_every_format() {
    let read = cyclonedx::read_with(
        &fixture(&format!("{EXAMPLES}/Case-6-vex.json")),
        &ReadOptions {
            sbom: None,
            fallback_timestamp: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            purls: None,
        },
    )
    .unwrap();
    // Affected in 2.4, 2.6 and >=2.9|<=4.1; unaffected in the other four limits.
    let claims = |doc: &stella_vex::VexDocument| {
        let mut c: Vec<(String, String, Option<JustificationKind>)> = doc
            .statements
            .iter()
            .flat_map(|s| {
                s.products.iter().map(|p| {
                    (
                        p.identity.version.clone().unwrap_or_default(),
                        s.status.openvex_label().to_owned(),
                        s.justification.as_ref().map(|j| j.kind),
                    )
                })
            })
            .collect();
        c.sort();
        c
    };
    let original = claims(&read.document);
    assert_eq!(original.len(), 7, "{original:?}");
    assert!(original.contains(&("2.4".into(), "affected".into(), None)));
    assert!(original.contains(&(
        "vers:generic/>=1.0|<=2.3".into(),
        "not_affected".into(),
        Some(JustificationKind::VulnerableCodeNotPresent)
    )));
    let options = ReadOptions {
        sbom: None,
        fallback_timestamp: Some("2024-01-01T00:00:00Z".parse().unwrap()),
        purls: None,
    };
    for format in [VexFormat::OpenVex, VexFormat::CycloneDx, VexFormat::Csaf] {
        let bytes = stella_vex::read::write(&read.document, format).unwrap();
        let back = stella_vex::read::read(&bytes, &options).unwrap();
        assert_eq!(claims(&back.document), original, "through {format:?}");
    }
}

#[test]
fn a_bom_link_resolves_to_the_components_purl_compared_escaped_and_unescaped() {
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":2,
        "serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "components":[{"type":"library","name":"x","bom-ref":"pkg:golang/example.com/a/b@v1.0.0",
        "purl":"pkg:golang/example.com/a/b@v1.0.0"}]}"#;
    let vex = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
        "metadata":{"timestamp":"2024-05-01T00:00:00Z"},
        "vulnerabilities":[{"id":"GO-2024-0001","analysis":{"state":"false_positive"},
        "affects":[{"ref":"urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/2#pkg:golang%2Fexample.com%2Fa%2Fb@v1.0.0"}]}]}"#;
    let read = cyclonedx::read_with(
        vex,
        &ReadOptions {
            sbom: Some(sbom),
            fallback_timestamp: None,
            purls: None,
        },
    )
    .unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let s = &read.document.statements[0];
    assert_eq!(
        s.products[0].identity.purl.as_deref(),
        Some("pkg:golang/example.com/a/b@v1.0.0")
    );
    assert_eq!(s.status, Status::NotAffected);
    assert_eq!(s.justification.as_ref().unwrap().label, "false_positive");
}

#[test]
fn the_official_1_7_tests_with_vulnerabilities_read() {
    let read =
        cyclonedx::read(&fixture("cyclonedx/tests-1.7/valid-vulnerability-1.7.json")).unwrap();
    let s = &read.document.statements[0];
    assert_eq!(s.status, Status::NotAffected);
    assert_eq!(
        s.justification.as_ref().unwrap().kind,
        JustificationKind::VulnerableCodeNotInExecutePath
    );
    assert!(s.vulnerability.is_known_as("CVE-2018-7489"));
    assert_eq!(
        s.timestamp,
        "2022-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
    );
    assert!(s.last_updated.is_some());
    assert!(
        s.action_statement
            .as_deref()
            .unwrap()
            .starts_with("Upgrade")
    );
    // A vulnerability without analysis is no VEX claim: skipped, said.
    let read =
        cyclonedx::read(&fixture("cyclonedx/tests-1.7/valid-compositions-1.7.json")).unwrap();
    assert!(read.document.statements.is_empty());
    assert_eq!(read.warnings[0].rule(), "no-analysis");
}

#[test]
fn unknown_state_is_an_error_naming_it() {
    let vex = br#"{"bomFormat":"CycloneDX","specVersion":"1.7","version":1,
        "metadata":{"timestamp":"2024-05-01T00:00:00Z"},
        "vulnerabilities":[{"id":"CVE-1","analysis":{"state":"maybe"}}]}"#;
    let err = cyclonedx::read(vex).unwrap_err();
    assert!(
        matches!(&err, CycloneDxError::UnknownState { pointer, label }
            if pointer == "/vulnerabilities/0/analysis/state" && label == "maybe"),
        "{err}"
    );
}

/// An OpenVEX document with every status, every justification label OpenVEX has (and one it
/// has not), subcomponents, identifiers, hashes and a BOM-Link.
const OPENVEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "Example Vendor",
  "role": "vendor",
  "timestamp": "2024-06-01T00:00:00Z",
  "version": 3,
  "statements": [
    {"vulnerability": {"name": "CVE-2024-0001", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
     "products": [{"@id": "pkg:oci/app@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                   "subcomponents": [{"@id": "pkg:golang/example.com/lib@v1.2.3"}]}],
     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
    {"vulnerability": {"name": "CVE-2024-0002"},
     "products": [{"@id": "pkg:npm/left-pad@1.0.0", "hashes": {"sha-256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],
     "status": "not_affected", "justification": "component_not_present"},
    {"vulnerability": {"name": "CVE-2024-0003"},
     "products": [{"@id": "pkg:npm/left-pad@1.0.0"}],
     "status": "not_affected", "justification": "vulnerable_code_not_present"},
    {"vulnerability": {"name": "CVE-2024-0004"},
     "products": [{"identifiers": {"purl": "pkg:pypi/requests@2.0.0", "cpe23": "cpe:2.3:a:python:requests:2.0.0:*:*:*:*:*:*:*"}}],
     "status": "not_affected", "justification": "vulnerable_code_cannot_be_controlled_by_adversary"},
    {"vulnerability": {"name": "CVE-2024-0005"},
     "products": [{"@id": "urn:cdx:cbb2cd68-2857-43b8-a10b-e8c03d277d18/1#product-ABC"}],
     "status": "not_affected", "justification": "inline_mitigations_already_exist"},
    {"vulnerability": {"name": "CVE-2024-0006"},
     "products": [{"@id": "pkg:npm/left-pad@1.0.0"}],
     "status": "not_affected", "justification": "requires_environment",
     "impact_statement": "Only on Windows."},
    {"vulnerability": {"name": "CVE-2024-0007"},
     "products": [{"@id": "pkg:npm/left-pad@1.0.0"}],
     "status": "affected", "action_statement": "Upgrade to 1.0.1.",
     "timestamp": "2024-06-02T00:00:00Z"},
    {"vulnerability": {"name": "CVE-2024-0008"},
     "products": [{"@id": "pkg:npm/left-pad@1.0.0"}],
     "status": "fixed"},
    {"vulnerability": {"name": "CVE-2024-0009"},
     "products": [{"@id": "pkg:npm/left-pad@1.0.0"}, {"@id": "pkg:npm/right-pad@2.0.0"}],
     "status": "under_investigation", "status_notes": "Looking."}
  ]
}"#;

fn openvex_doc() -> VexDocument {
    openvex::read(OPENVEX.as_bytes()).unwrap().document
}

#[test]
fn written_cyclonedx_is_canonical_and_passes_the_1_7_schema() {
    let bytes = cyclonedx::write(&openvex_doc()).unwrap();
    assert_eq!(schema_problems(&bytes), Vec::<String>::new());
    assert_eq!(jcs::canonicalize(&bytes).unwrap(), bytes, "not canonical");
    // Read back and written again: the same bytes.
    let again = cyclonedx::read(&bytes).unwrap();
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(cyclonedx::write(&again.document).unwrap(), bytes);
}

#[test]
fn fixtures_written_as_1_7_pass_the_schema() {
    for file in ["Case-2-vex.json", "Case-3-vex.json", "Case-8-vex.json"] {
        let doc = cyclonedx::read_with(
            &fixture(&format!("{EXAMPLES}/{file}")),
            &ReadOptions {
                sbom: None,
                fallback_timestamp: Some(fallback()),
                purls: None,
            },
        )
        .unwrap()
        .document;
        let bytes = cyclonedx::write(&doc).unwrap();
        assert_eq!(schema_problems(&bytes), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn statement_order_does_not_change_the_bytes() {
    let doc = openvex_doc();
    let mut reversed = doc.clone();
    reversed.statements.reverse();
    assert_eq!(
        cyclonedx::write(&reversed).unwrap(),
        cyclonedx::write(&doc).unwrap()
    );
}

#[test]
fn openvex_to_cyclonedx_to_openvex_keeps_every_status_justification_label_and_product() {
    let original = openvex_doc();
    let cdx = cyclonedx::write(&original).unwrap();
    let back = cyclonedx::read(&cdx).unwrap().document;
    let key = |d: &VexDocument| {
        let mut v: Vec<_> = d
            .statements
            .iter()
            .map(|s| {
                let mut products = s.products.clone();
                products.sort();
                (
                    s.vulnerability.clone(),
                    s.status,
                    s.justification.clone(),
                    products,
                    s.timestamp,
                    s.status_notes.clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&back), key(&original));
    assert_eq!(back.id, original.id);
    assert_eq!(back.role, original.role);
    // And OpenVEX written from the round trip is the OpenVEX written from the original.
    assert_eq!(
        openvex::write(&back).unwrap(),
        openvex::write(&original).unwrap()
    );
}

#[test]
fn vex_embedded_in_an_sbom_names_a_nested_component_as_a_subcomponent() {
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
        "metadata":{"timestamp":"2024-05-01T00:00:00Z",
          "component":{"type":"container","name":"app","bom-ref":"app",
            "purl":"pkg:oci/app@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
        "components":[{"type":"application","name":"srv","bom-ref":"srv","purl":"pkg:generic/srv@1",
          "components":[{"type":"library","name":"lib","bom-ref":"lib 1","purl":"pkg:cargo/lib@1.0.0",
            "hashes":[{"alg":"SHA-256","content":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]}]}],
        "vulnerabilities":[
          {"id":"RUSTSEC-2024-0001","analysis":{"state":"not_affected","justification":"requires_dependency",
            "lastUpdated":"2024-05-02T00:00:00Z"},"affects":[{"ref":"lib%201"}]},
          {"id":"CVE-2024-9","analysis":{"state":"resolved_with_pedigree"},"affects":[{"ref":"app"}]}]}"#;
    let read = cyclonedx::read(sbom).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let s = &read.document.statements[0];
    let product = &s.products[0];
    assert_eq!(product.identity.purl.as_deref(), Some("pkg:generic/srv@1"));
    assert_eq!(
        product.subcomponents[0].purl.as_deref(),
        Some("pkg:cargo/lib@1.0.0")
    );
    assert_eq!(product.subcomponents[0].hashes.len(), 1);
    let j = s.justification.as_ref().unwrap();
    assert_eq!(
        (j.kind, j.label.as_str()),
        (JustificationKind::Other, "requires_dependency")
    );
    // No firstIssued: the statement's own lastUpdated comes before the document's time.
    assert_eq!(
        s.timestamp,
        "2024-05-02T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
    );
    assert!(s.last_updated.is_some());
    let fixed = &read.document.statements[1];
    assert_eq!(fixed.status, Status::Fixed);
    assert!(fixed.products[0].identity.image_digest.is_some());
    assert!(
        fixed
            .status_notes
            .as_deref()
            .unwrap()
            .contains("resolved_with_pedigree")
    );
}

#[test]
fn malformed_input_is_an_error_with_a_pointer_never_a_panic() {
    use stella_core::{ErrorKind, Kinded};
    let cases: [(&[u8], &str); 6] = [
        (br#"{"bomFormat":"SPDX"}"#, "/bomFormat"),
        (br#"{"bomFormat":"CycloneDX","vulnerabilities":{}}"#, "/vulnerabilities"),
        (
            br#"{"bomFormat":"CycloneDX","vulnerabilities":[{"analysis":{"state":"in_triage"}}]}"#,
            "/vulnerabilities/0",
        ),
        (
            br#"{"bomFormat":"CycloneDX","vulnerabilities":[{"id":"X","analysis":{"state":"in_triage","firstIssued":"yesterday"}}]}"#,
            "/vulnerabilities/0/analysis/firstIssued",
        ),
        (
            br#"{"bomFormat":"CycloneDX","metadata":{"timestamp":"2024-01-01T00:00:00Z"},"vulnerabilities":[{"id":"X","analysis":{"state":"in_triage"},"affects":[{}]}]}"#,
            "/vulnerabilities/0/affects/0",
        ),
        (br#"{"bomFormat":"CycloneDX","version":0}"#, "/version"),
    ];
    for (bytes, pointer) in cases {
        let err = cyclonedx::read(bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert!(err.to_string().starts_with(pointer), "{pointer}: {err}");
    }
    let err = cyclonedx::read(br#"{"bomFormat":"CycloneDX",}"#).unwrap_err();
    assert!(matches!(err, CycloneDxError::Json { .. }), "{err}");
    let err = cyclonedx::read_with(
        &fixture(&format!("{EXAMPLES}/Case-7-vex.json")),
        &ReadOptions {
            sbom: Some(b"[1,]"),
            fallback_timestamp: None,
            purls: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, CycloneDxError::SbomJson { .. }), "{err}");
}
