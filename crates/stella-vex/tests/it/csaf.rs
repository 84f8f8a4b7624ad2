//! CSAF 2.0 VEX: every document of the CSAF TC's VEX examples reads; statuses, flags, impact
//! threats and remediations land where the model says; relationships become product and
//! subcomponent; cycles and over-deep trees are precise errors.

use std::path::PathBuf;

use stella_core::{ErrorKind, Kinded};
use stella_vex::csaf::{self, CsafError, CsafWarning, MAX_BRANCH_DEPTH};
use stella_vex::{JustificationKind, Status};

use crate::fixture;

#[test]
fn every_csaf_vex_fixture_reads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/csaf-vex");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let r = csaf::read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!r.document.statements.is_empty(), "{name}");
        for s in &r.document.statements {
            assert!(!s.products.is_empty(), "{name}");
            for p in &s.products {
                assert!(!p.identity.is_empty(), "{name}");
            }
        }
        assert!(
            !r.warnings
                .iter()
                .any(|w| matches!(w, CsafWarning::UnknownProductId { .. })),
            "{name}: {:?}",
            r.warnings
        );
        read += 1;
    }
    assert_eq!(read, 13);
}

#[test]
fn the_four_statuses_map_and_the_document_fields_are_kept() {
    for (file, status) in [
        ("2022-evd-uc-01-a-001.json", Status::Affected),
        ("2022-evd-uc-01-na-001.json", Status::NotAffected),
        ("2022-evd-uc-01-f-001.json", Status::Fixed),
        ("2022-evd-uc-01-ui-001.json", Status::UnderInvestigation),
    ] {
        let r = csaf::read(&fixture(&format!("csaf-vex/{file}"))).unwrap();
        let doc = &r.document;
        assert_eq!(doc.author, "Example Company ProductCERT", "{file}");
        assert_eq!(doc.role.as_deref(), Some("vendor"));
        assert_eq!(doc.statements.len(), 1, "{file}");
        let s = &doc.statements[0];
        assert_eq!(s.status, status, "{file}");
        assert_eq!(s.vulnerability.name, "CVE-2021-44228");
        assert_eq!(s.timestamp, "2022-03-03T11:00:00Z".parse().unwrap());
        assert_eq!(s.provenance.document, r.canonical_id);
        assert_eq!(
            s.products[0].identity.id.as_deref(),
            Some("CSAFPID-0001"),
            "{file}"
        );
    }
    let na = csaf::read(&fixture("csaf-vex/2022-evd-uc-01-na-001.json")).unwrap();
    assert_eq!(na.document.id, "2022-EVD-UC-01-NA-001");
    assert_eq!(
        na.document.statements[0].impact_statement.as_deref(),
        Some("Class with vulnerable code was removed before shipping.")
    );
}

#[test]
fn flags_are_justifications_with_their_label_and_date() {
    let r = csaf::read(&fixture("csaf-vex/sec-vex-2022-0001.json")).unwrap();
    let s = &r.document.statements[0];
    let j = s.justification.as_ref().unwrap();
    assert_eq!(j.kind, JustificationKind::ComponentNotPresent);
    assert_eq!(j.label, "component_not_present");
    assert_eq!(s.timestamp, "2022-05-27T10:00:00Z".parse().unwrap());
    assert!(s.impact_statement.as_deref().unwrap().contains("No Java"));
}

#[test]
fn remediations_are_action_statements_and_other_lists_are_kept_as_warnings() {
    let r = csaf::read(&fixture("csaf-vex/2022-evd-uc-08-001.json")).unwrap();
    let affected: Vec<_> = r
        .document
        .statements
        .iter()
        .filter(|s| s.status == Status::Affected)
        .collect();
    assert!(!affected.is_empty());
    assert!(affected.iter().all(|s| s.action_statement.is_some()));
    assert!(
        affected
            .iter()
            .any(|s| s.status_notes.as_deref() == Some("CSAF remediation: vendor_fix"))
    );
    let other: Vec<_> = r
        .warnings
        .iter()
        .filter_map(|w| match w {
            CsafWarning::OtherProductStatus { list, pointer, .. } => {
                Some((list.as_str(), pointer.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        other,
        [(
            "recommended",
            "/vulnerabilities/0/product_status/recommended"
        )]
    );
    // Never mapped: no statement for the recommended list's products beyond the four lists.
    assert_eq!(r.warnings[0].rule(), "other-product-status");
}

fn doc(product_tree: &str, product_status: &str) -> String {
    format!(
        r#"{{"document":{{"category":"csaf_vex","csaf_version":"2.0",
        "publisher":{{"category":"vendor","name":"Acme","namespace":"https://acme.example"}},
        "title":"t","tracking":{{"id":"ACME-1","current_release_date":"2024-01-02T03:04:05Z",
        "initial_release_date":"2024-01-01T00:00:00Z","revision_history":[],"status":"final","version":"2"}}}},
        "product_tree":{product_tree},
        "vulnerabilities":[{{"cve":"CVE-2024-0001","ids":[{{"system_name":"GHSA","text":"GHSA-xxxx-yyyy-zzzz"}}],
        "product_status":{product_status},
        "flags":[{{"label":"vulnerable_code_not_in_execute_path","product_ids":["APP-ON-OS"]}},
                 {{"label":"made_up","group_ids":["G"]}}],
        "threats":[{{"category":"impact","details":"never called","product_ids":["APP-ON-OS"]}}]}}]}}"#
    )
}

const TREE: &str = r#"{
  "branches":[{"category":"vendor","name":"Acme","branches":[
    {"category":"product_name","name":"App","product":{"name":"App 1","product_id":"APP",
      "product_identification_helper":{"purl":"pkg:generic/acme/app@1"}}},
    {"category":"product_name","name":"OS","product":{"name":"OS 9","product_id":"OS",
      "product_identification_helper":{"cpe":"cpe:2.3:o:acme:os:9:*:*:*:*:*:*:*",
        "hashes":[{"filename":"os.img","file_hashes":[{"algorithm":"sha256","value":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}]}}}]}],
  "full_product_names":[{"name":"Lib","product_id":"LIB"}],
  "relationships":[
    {"category":"installed_on","product_reference":"APP","relates_to_product_reference":"OS",
     "full_product_name":{"name":"App on OS","product_id":"APP-ON-OS"}},
    {"category":"default_component_of","product_reference":"LIB","relates_to_product_reference":"APP-ON-OS",
     "full_product_name":{"name":"Lib in App on OS","product_id":"LIB-IN"}},
    {"category":"external_component_of","product_reference":"LIB","relates_to_product_reference":"OS",
     "full_product_name":{"name":"Lib beside OS","product_id":"LIB-EXT"}}],
  "product_groups":[{"group_id":"G","product_ids":["LIB-IN"]}]}"#;

#[test]
fn relationships_are_product_and_subcomponents() {
    let bytes = doc(
        TREE,
        r#"{"known_not_affected":["APP-ON-OS","LIB-IN"],"known_affected":["LIB-EXT","NOPE"],"first_affected":["OS"]}"#,
    );
    let r = csaf::read(bytes.as_bytes()).unwrap();
    let d = &r.document;
    assert_eq!(d.version, 2);
    assert_eq!(d.timestamp, Some("2024-01-02T03:04:05Z".parse().unwrap()));
    let s = &d.statements;
    // Two not_affected statements (different flags), one affected.
    assert_eq!(s.len(), 3, "{s:#?}");
    let app_on_os = &s
        .iter()
        .find(|s| {
            s.justification.as_ref().map(|j| j.label.as_str())
                == Some("vulnerable_code_not_in_execute_path")
        })
        .unwrap();
    assert_eq!(app_on_os.status, Status::NotAffected);
    assert_eq!(app_on_os.vulnerability.aliases, ["GHSA-xxxx-yyyy-zzzz"]);
    assert_eq!(app_on_os.impact_statement.as_deref(), Some("never called"));
    let p = &app_on_os.products[0];
    assert_eq!(
        p.identity.cpe23.as_deref(),
        Some("cpe:2.3:o:acme:os:9:*:*:*:*:*:*:*")
    );
    assert_eq!(p.identity.id, None);
    assert_eq!(p.identity.hashes.len(), 1);
    assert_eq!(p.subcomponents.len(), 1);
    assert_eq!(
        p.subcomponents[0].purl.as_deref(),
        Some("pkg:generic/acme/app@1")
    );
    let lib_in = s
        .iter()
        .find(|s| s.justification.as_ref().map(|j| j.label.as_str()) == Some("made_up"))
        .unwrap();
    assert_eq!(
        lib_in.justification.as_ref().unwrap().kind,
        JustificationKind::Other
    );
    let subs: Vec<_> = lib_in.products[0]
        .subcomponents
        .iter()
        .map(|c| c.id.clone().or(c.purl.clone()).unwrap())
        .collect();
    assert_eq!(subs, ["LIB", "pkg:generic/acme/app@1"]);
    let affected = s.iter().find(|s| s.status == Status::Affected).unwrap();
    let ids: Vec<_> = affected
        .products
        .iter()
        .map(|p| p.identity.id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["LIB-EXT", "NOPE"]);
    assert!(affected.products.iter().all(|p| p.subcomponents.is_empty()));
    assert!(r.warnings.contains(&CsafWarning::UnknownProductId {
        pointer: "/vulnerabilities/0/product_status/known_affected/1".to_owned(),
        product_id: "NOPE".to_owned(),
    }));
    let rules: Vec<_> = r.warnings.iter().map(CsafWarning::rule).collect();
    assert_eq!(
        rules,
        [
            "relationship-not-mapped",
            "unknown-flag-label",
            "other-product-status",
            "unknown-product-id"
        ]
    );
}

#[test]
fn a_relationship_cycle_is_an_error_naming_it() {
    let tree = r#"{"full_product_names":[{"name":"A","product_id":"A"}],
      "relationships":[
        {"category":"installed_on","product_reference":"A","relates_to_product_reference":"Y",
         "full_product_name":{"name":"X","product_id":"X"}},
        {"category":"default_component_of","product_reference":"A","relates_to_product_reference":"X",
         "full_product_name":{"name":"Y","product_id":"Y"}}]}"#;
    let err = csaf::read(doc(tree, r#"{"fixed":["X"]}"#).as_bytes()).unwrap_err();
    match &err {
        CsafError::RelationshipCycle {
            pointer,
            product_ids,
        } => {
            assert!(
                pointer.starts_with("/product_tree/relationships/"),
                "{pointer}"
            );
            let mut ids = product_ids.clone();
            ids.sort();
            assert_eq!(ids, ["X", "Y"]);
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

fn deep_tree(depth: usize) -> String {
    let open = r#"{"category":"vendor","name":"n","branches":["#;
    let leaf =
        r#"{"category":"product_version","name":"v","product":{"name":"p","product_id":"P"}}"#;
    let levels = depth.saturating_sub(1);
    format!(
        r#"{{"branches":[{}{leaf}{}]}}"#,
        open.repeat(levels),
        "]}".repeat(levels)
    )
}

#[test]
fn an_over_deep_product_tree_is_an_error_never_a_stack_overflow() {
    // Just within the bound reads.
    let ok =
        csaf::read(doc(&deep_tree(MAX_BRANCH_DEPTH), r#"{"fixed":["P"]}"#).as_bytes()).unwrap();
    assert_eq!(
        ok.document.statements[0].products[0].identity.id.as_deref(),
        Some("P")
    );
    // One deeper is refused, naming the branch.
    let err = csaf::read(doc(&deep_tree(MAX_BRANCH_DEPTH + 1), r#"{"fixed":["P"]}"#).as_bytes())
        .unwrap_err();
    match &err {
        CsafError::BranchTooDeep { pointer, limit } => {
            assert_eq!(*limit, MAX_BRANCH_DEPTH);
            assert_eq!(
                pointer.matches("/branches/0").count(),
                MAX_BRANCH_DEPTH + 1,
                "{pointer}"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    // 100,000 deep stops in the parser, bounded, with its own precise error.
    let err = csaf::read(doc(&deep_tree(100_000), r#"{"fixed":["P"]}"#).as_bytes()).unwrap_err();
    assert!(matches!(err, CsafError::Json { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[test]
fn malformed_input_is_an_error_with_a_pointer_never_a_panic() {
    let not_csaf = br#"{"document":{"csaf_version":"1.0"}}"#;
    assert!(matches!(
        csaf::read(not_csaf).unwrap_err(),
        CsafError::NotCsaf { .. }
    ));
    let bad_status = doc(TREE, r#"{"fixed":"APP"}"#);
    match csaf::read(bad_status.as_bytes()).unwrap_err() {
        CsafError::WrongType { pointer, .. } => {
            assert_eq!(pointer, "/vulnerabilities/0/product_status/fixed");
        }
        other => panic!("{other}"),
    }
    let no_time = doc(TREE, r#"{"fixed":["APP"]}"#)
        .replace(r#""current_release_date":"2024-01-02T03:04:05Z","#, "");
    match csaf::read(no_time.as_bytes()).unwrap_err() {
        CsafError::NoTimestamp { pointer } => assert_eq!(pointer, "/vulnerabilities/0"),
        other => panic!("{other}"),
    }
    for bytes in [&b"{"[..], b"[]", b"{\"document\":[]}", b"\xff"] {
        assert!(csaf::read(bytes).is_err());
    }
}

fn csaf_schema_errors(bytes: &[u8]) -> Vec<String> {
    let load = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&fixture(&format!("csaf-vex/schema/{name}"))).unwrap()
    };
    let mut registry = jsonschema::Registry::new();
    for name in ["cvss-v2.0.json", "cvss-v3.0.json", "cvss-v3.1.json"] {
        registry = registry
            .add(format!("https://www.first.org/cvss/{name}"), load(name))
            .unwrap();
    }
    let registry = registry.prepare().unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&load("csaf_json_schema.json"))
        .unwrap();
    let instance: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn csaf_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/csaf-vex");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_schema_accepts_the_fixtures_and_rejects_a_broken_one() {
    // Guards the oracle: the fixtures pass, and a document without a publisher does not.
    for (name, bytes) in csaf_fixtures() {
        assert_eq!(csaf_schema_errors(&bytes), Vec::<String>::new(), "{name}");
    }
    let mut broken: serde_json::Value =
        serde_json::from_slice(&fixture("csaf-vex/2022-evd-uc-01-a-001.json")).unwrap();
    broken["document"]
        .as_object_mut()
        .unwrap()
        .remove("publisher");
    assert!(!csaf_schema_errors(&serde_json::to_vec(&broken).unwrap()).is_empty());
}

#[test]
fn written_csaf_is_canonical_passes_the_schema_and_reads_back_the_same_claims() {
    for (name, bytes) in csaf_fixtures() {
        let first = csaf::read(&bytes).unwrap().document;
        let written = csaf::write(&first).unwrap();
        assert_eq!(
            stella_core::jcs::canonicalize(&written).unwrap(),
            written,
            "{name}"
        );
        assert_eq!(csaf_schema_errors(&written), Vec::<String>::new(), "{name}");
        let again = csaf::read(&written).unwrap();
        assert!(again.warnings.is_empty(), "{name}: {:?}", again.warnings);
        // Every (vulnerability, product, status, justification label) claim survives.
        let claims = |d: &stella_vex::VexDocument| {
            let mut c: Vec<_> = d
                .statements
                .iter()
                .flat_map(|s| {
                    s.products.iter().map(move |p| {
                        (
                            s.vulnerability.name.clone(),
                            p.clone(),
                            s.status,
                            s.justification.as_ref().map(|j| j.label.clone()),
                        )
                    })
                })
                .collect();
            c.sort();
            c
        };
        assert_eq!(claims(&again.document), claims(&first), "{name}");
        // Writing what was read back gives the same bytes.
        assert_eq!(csaf::write(&again.document).unwrap(), written, "{name}");
    }
}

#[test]
fn written_csaf_from_relationships_and_openvex_passes_the_schema() {
    let bytes = doc(
        TREE,
        r#"{"known_not_affected":["APP-ON-OS","LIB-IN"],"known_affected":["LIB-EXT"]}"#,
    );
    let first = csaf::read(bytes.as_bytes()).unwrap().document;
    let written = csaf::write(&first).unwrap();
    assert_eq!(csaf_schema_errors(&written), Vec::<String>::new());
    let again = csaf::read(&written).unwrap().document;
    // A chain of relationships (LIB in APP on OS) is written as one relationship per
    // component of the root product: the (status, product, subcomponent) claims are kept.
    let products = |d: &stella_vex::VexDocument| {
        let mut p: Vec<_> = d
            .statements
            .iter()
            .flat_map(|s| {
                s.products.iter().flat_map(move |p| {
                    let subs: Vec<Option<_>> = if p.subcomponents.is_empty() {
                        vec![None]
                    } else {
                        p.subcomponents.iter().cloned().map(Some).collect()
                    };
                    subs.into_iter()
                        .map(move |c| (s.status, p.identity.clone(), c))
                })
            })
            .collect();
        p.sort();
        p.dedup();
        p
    };
    assert_eq!(products(&again), products(&first));

    let openvex =
        stella_vex::openvex::read(&fixture("openvex/govulncheck-output-schema-invalid.json"))
            .unwrap()
            .document;
    let written = csaf::write(&openvex).unwrap();
    assert_eq!(csaf_schema_errors(&written), Vec::<String>::new());
    let back = csaf::read(&written).unwrap().document;
    let statuses = |d: &stella_vex::VexDocument| {
        let mut s: Vec<_> = d
            .statements
            .iter()
            .flat_map(|s| {
                s.products
                    .iter()
                    .map(move |p| (s.vulnerability.name.clone(), p.identity.clone(), s.status))
            })
            .collect();
        s.sort();
        s.dedup();
        s
    };
    assert_eq!(statuses(&back), statuses(&openvex));
}
