//! Writing OpenVEX: canonical, order-independent, and valid against the OpenVEX 0.2.0 JSON schema
//! (checked by the `jsonschema` crate, a validator we did not write).

use serde_json::Value;
use stella_core::jcs;
use stella_vex::openvex;
use stella_vex::{Justification, Status, VexDocument};

use crate::fixture;

fn schema_errors(bytes: &[u8]) -> Vec<String> {
    let schema: Value =
        serde_json::from_slice(&fixture("openvex/openvex_json_schema.json")).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let instance: Value = serde_json::from_slice(bytes).unwrap();
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn govulncheck() -> VexDocument {
    openvex::read(&fixture("openvex/govulncheck-output-schema-invalid.json"))
        .unwrap()
        .document
}

#[test]
fn the_schema_rejects_the_govulncheck_fixture_as_its_readme_says() {
    // Guards the oracle: the validator must see what the fixture breaks.
    let errors = schema_errors(&fixture("openvex/govulncheck-output-schema-invalid.json"));
    assert!(!errors.is_empty());
}

#[test]
fn written_openvex_is_canonical_and_passes_the_schema() {
    let bytes = openvex::write(&govulncheck()).unwrap();
    assert_eq!(schema_errors(&bytes), Vec::<String>::new());
    assert_eq!(
        jcs::canonicalize(&bytes).unwrap(),
        bytes,
        "not RFC 8785 canonical"
    );
    // Writing what was read back gives the same bytes.
    let again = openvex::read(&bytes).unwrap();
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(openvex::write(&again.document).unwrap(), bytes);
}

#[test]
fn a_round_trip_keeps_every_status_justification_and_product() {
    let original = govulncheck();
    let back = openvex::read(&openvex::write(&original).unwrap())
        .unwrap()
        .document;
    let key = |d: &VexDocument| {
        let mut v: Vec<_> = d
            .statements
            .iter()
            .map(|s| {
                (
                    s.vulnerability.clone(),
                    s.status,
                    s.justification.clone(),
                    s.products.clone(),
                    s.timestamp,
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&back), key(&original));
}

#[test]
fn statement_order_does_not_change_the_bytes() {
    let doc = govulncheck();
    let mut reversed = doc.clone();
    reversed.statements.reverse();
    let mut rotated = doc.clone();
    rotated.statements.rotate_left(1);
    let bytes = openvex::write(&doc).unwrap();
    assert_eq!(openvex::write(&reversed).unwrap(), bytes);
    assert_eq!(openvex::write(&rotated).unwrap(), bytes);
}

#[test]
fn a_justification_without_openvex_counterpart_keeps_its_label_and_the_schema() {
    let mut doc = govulncheck();
    let s = &mut doc.statements[0];
    s.status = Status::NotAffected;
    s.justification = Some(Justification::from_openvex("requires_environment"));
    s.impact_statement = None;
    let bytes = openvex::write(&doc).unwrap();
    assert_eq!(schema_errors(&bytes), Vec::<String>::new());
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("requires_environment"), "{text}");
}

#[test]
fn affected_without_action_statement_is_written_valid_saying_none_was_given() {
    let doc = govulncheck();
    assert!(
        doc.statements
            .iter()
            .any(|s| s.status == Status::Affected && s.action_statement.is_none())
    );
    let text = String::from_utf8(openvex::write(&doc).unwrap()).unwrap();
    assert!(text.contains(openvex::NO_ACTION_STATEMENT), "{text}");
}

#[test]
fn an_id_that_is_no_iri_is_written_as_one_and_read_back_as_written() {
    let text = String::from_utf8(openvex::write(&govulncheck()).unwrap()).unwrap();
    assert!(text.contains("urn:stella:text:Unknown%20Product"), "{text}");
    let back = openvex::read(text.as_bytes()).unwrap().document;
    assert_eq!(
        back.statements[0].products[0].identity.id.as_deref(),
        Some("Unknown Product")
    );
    assert!(back.id.starts_with("govulncheck/vex:"), "{}", back.id);
}
