//! Reading OpenVEX: the real govulncheck output, the 0.0.1 shapes, inheritance of timestamps,
//! and precise refusals.

use stella_core::{ErrorKind, Kinded};
use stella_vex::openvex::{self, OpenVexError, OpenVexWarning};
use stella_vex::{JustificationKind, Status, VexFormat};

use crate::fixture;

#[test]
fn govulncheck_output_reads_with_warnings_naming_the_rules_it_breaks() {
    let bytes = fixture("openvex/govulncheck-output-schema-invalid.json");
    let read = openvex::read(&bytes).unwrap();
    let doc = &read.document;
    assert_eq!(doc.author, "Unknown Author");
    assert_eq!(doc.statements.len(), 4);

    let first = &doc.statements[0];
    assert_eq!(first.vulnerability.name, "GO-2020-0015");
    assert!(first.vulnerability.is_known_as("CVE-2020-14040"));
    assert!(first.vulnerability.is_known_as("GHSA-5rcv-m4m3-hfh7"));
    assert_eq!(first.status, Status::NotAffected);
    let j = first.justification.as_ref().unwrap();
    assert_eq!(j.kind, JustificationKind::VulnerableCodeNotPresent);
    assert_eq!(j.label, "vulnerable_code_not_present");
    assert_eq!(
        first.products[0].identity.id.as_deref(),
        Some("Unknown Product")
    );
    assert_eq!(
        first.products[0].subcomponents[0].purl.as_deref(),
        Some("pkg:golang/golang.org%2Fx%2Ftext@v0.3.0")
    );
    // Statements inherit the document's time, read as UTC despite the missing offset.
    assert_eq!(first.timestamp.to_string(), "2024-01-01T00:00:00Z");
    assert_eq!(first.provenance.format, VexFormat::OpenVex);
    assert_eq!(first.provenance.statement_index, 0);
    assert_eq!(first.provenance.document, read.canonical_id);
    assert_eq!(
        read.canonical_id,
        stella_core::Digest::sha256(&stella_core::jcs::canonicalize(&bytes).unwrap())
    );

    let rules: Vec<(&str, &str)> = read
        .warnings
        .iter()
        .map(|w| (w.rule(), w.pointer()))
        .collect();
    assert_eq!(
        rules,
        [
            ("id-not-iri", "/@id"),
            ("timestamp-without-offset", "/timestamp"),
            ("id-not-iri", "/statements/0/products/0/@id"),
            ("affected-without-action-statement", "/statements/1"),
            ("id-not-iri", "/statements/1/products/0/@id"),
            ("id-not-iri", "/statements/2/products/0/@id"),
            ("affected-without-action-statement", "/statements/3"),
            ("id-not-iri", "/statements/3/products/0/@id"),
        ]
    );
}

const V0_0_1: &str = r#"{
  "@context": "https://openvex.dev/ns",
  "@id": "https://example.com/vex/legacy",
  "author": "Example Vendor",
  "role": "Document Creator",
  "timestamp": "2023-01-08T18:02:03.647787998-06:00",
  "version": "1",
  "statements": [
    {
      "vulnerability": "CVE-2023-1234",
      "products": ["pkg:oci/app@sha256%3A0000000000000000000000000000000000000000000000000000000000000001"],
      "subcomponents": ["pkg:golang/example.com/lib@v1.0.0"],
      "status": "not_affected",
      "justification": "component_not_present",
      "timestamp": "2023-02-01T00:00:00Z"
    },
    {
      "vulnerability": "CVE-2023-5678",
      "products": ["urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#app"],
      "status": "fixed"
    }
  ]
}"#;

#[test]
fn the_0_0_1_shapes_read_into_the_same_model() {
    let read = openvex::read(V0_0_1.as_bytes()).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let doc = read.document;
    assert_eq!(doc.version, 1);
    let [first, second] = &doc.statements[..] else {
        panic!("two statements")
    };
    assert_eq!(first.vulnerability.name, "CVE-2023-1234");
    let product = &first.products[0];
    assert_eq!(
        product
            .identity
            .image_digest
            .as_ref()
            .map(|d| d.hex().to_owned()),
        Some(format!("{:064x}", 1))
    );
    assert_eq!(
        product.subcomponents[0].purl.as_deref(),
        Some("pkg:golang/example.com/lib@v1.0.0")
    );
    // Its own timestamp wins over the document's.
    assert_eq!(first.timestamp.to_string(), "2023-02-01T00:00:00Z");
    // Inherited, offset applied.
    assert_eq!(
        second.timestamp.to_string(),
        "2023-01-09T00:02:03.647787998Z"
    );
    assert_eq!(
        second.products[0].identity.bom_link.as_deref(),
        Some("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#app")
    );
    assert_eq!(second.status, Status::Fixed);
}

fn doc_with_statement(statement: &str, document_time: Option<&str>) -> String {
    let time = document_time
        .map(|t| format!(r#""timestamp": "{t}","#))
        .unwrap_or_default();
    format!(
        r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
        "author": "A", {time} "version": 1, "statements": [
        {{"vulnerability": {{"name": "CVE-2024-0001"}}, "products": [{{"@id": "pkg:cargo/a@1.0.0"}}],
          "status": "fixed", "timestamp": "2024-05-01T00:00:00Z"}},
        {statement}]}}"#
    )
}

#[test]
fn a_statement_with_no_time_at_all_is_an_error_naming_it() {
    let text = doc_with_statement(
        r#"{"vulnerability": {"name": "CVE-2024-0002"}, "status": "fixed"}"#,
        None,
    );
    let err = openvex::read(text.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, OpenVexError::NoTimestamp { pointer } if pointer == "/statements/1"),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("/statements/1"), "{err}");

    // The same statement inherits the document's time when there is one.
    let text = doc_with_statement(
        r#"{"vulnerability": {"name": "CVE-2024-0002"}, "status": "fixed"}"#,
        Some("2024-06-01T12:00:00Z"),
    );
    let read = openvex::read(text.as_bytes()).unwrap();
    assert_eq!(
        read.document.statements[1].timestamp.to_string(),
        "2024-06-01T12:00:00Z"
    );
}

#[test]
fn unknown_status_is_refused_and_unknown_justification_kept_with_a_warning() {
    let text = doc_with_statement(
        r#"{"vulnerability": {"name": "X"}, "status": "maybe"}"#,
        Some("2024-06-01T12:00:00Z"),
    );
    let err = openvex::read(text.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, OpenVexError::UnknownStatus { pointer, label }
            if pointer == "/statements/1/status" && label == "maybe"),
        "{err:?}"
    );

    let text = doc_with_statement(
        r#"{"vulnerability": {"name": "X"}, "status": "not_affected", "justification": "requires_configuration"}"#,
        Some("2024-06-01T12:00:00Z"),
    );
    let read = openvex::read(text.as_bytes()).unwrap();
    let j = read.document.statements[1].justification.as_ref().unwrap();
    assert_eq!(j.kind, JustificationKind::Other);
    assert_eq!(j.label, "requires_configuration");
    assert_eq!(
        read.warnings,
        [OpenVexWarning::UnknownJustification {
            pointer: "/statements/1/justification".into(),
            label: "requires_configuration".into()
        }]
    );
}

#[test]
fn malformed_input_is_an_error_with_a_pointer_never_a_panic() {
    let cases: [(&str, &str); 6] = [
        // The spec's own examples carry trailing commas.
        (r#"{"@id": "x", "statements": [1,],}"#, ""),
        (r#"{"@id": 5}"#, "/@id"),
        (
            &doc_with_statement(r#"{"vulnerability": 7, "status": "fixed"}"#, None),
            "/statements/1/vulnerability",
        ),
        (
            &doc_with_statement(
                r#"{"vulnerability": "X", "status": "fixed", "timestamp": "yesterday"}"#,
                None,
            ),
            "/statements/1/timestamp",
        ),
        (
            &doc_with_statement(
                r#"{"vulnerability": "X", "status": "fixed", "products": [{}]}"#,
                Some("2024-01-01T00:00:00Z"),
            ),
            "/statements/1/products/0",
        ),
        (
            r#"{"@context": "c", "@id": "x", "author": "a", "version": 0, "statements": []}"#,
            "/version",
        ),
    ];
    for (text, pointer) in cases {
        let err = openvex::read(text.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        if pointer.is_empty() {
            assert!(matches!(err, OpenVexError::Json { .. }), "{err:?}");
        } else {
            assert!(err.to_string().starts_with(pointer), "{pointer}: {err}");
        }
    }
}
