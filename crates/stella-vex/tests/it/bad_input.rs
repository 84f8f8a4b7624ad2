//! Hostile and broken input for the three readers: each case ends in a precise typed error or a
//! named warning, never a panic, and stays bounded in memory. Also replays every input the
//! `vex_read` fuzz target kept (`tests/fuzz-regressions/`) with the fuzz target's properties.
//!
//! Cases the format modules already test are not repeated here: an unknown OpenVEX status and
//! justification (`openvex_read.rs`), an unknown CycloneDX state and a BOM-Link into a fixture
//! SBOM other than the one given (`cyclonedx.rs`), a two-relationship CSAF cycle and a CSAF
//! product tree 100,000 branches deep (`csaf.rs`).

mod property;

use std::path::PathBuf;

use stella_core::jcs::{self, JcsError};
use stella_core::{ErrorKind, Kinded};
use stella_vex::csaf::{self, CsafError, CsafWarning};
use stella_vex::cyclonedx::{self, CycloneDxError, CycloneDxWarning, ReadOptions};
use stella_vex::openvex::{self, MAX_STATEMENTS};
use stella_vex::{JustificationKind, OpenVexError, OpenVexWarning, Status};

#[test]
fn fuzz_regressions_hold() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-regressions exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "seeds missing in {}", dir.display());
    for path in inputs {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).expect("readable");
        // Panics, naming the property, when a round trip or a writer fails.
        let outcome = property::check(&bytes);
        let read_by = |format: &str| match format {
            "openvex" => outcome.openvex,
            "cyclonedx" => outcome.cyclonedx,
            "csaf" => outcome.csaf,
            other => panic!("{name}: unknown format {other:?} in the name"),
        };
        let mut parts = name.splitn(3, '-');
        match (parts.next(), parts.next()) {
            (Some("seed"), Some(format)) => assert!(read_by(format), "{name}: must read"),
            (Some("reject"), Some(format)) => assert!(!read_by(format), "{name}: must be refused"),
            (Some("found"), _) => {}
            _ => panic!("{name}: name must be seed-<format>-…, reject-<format>-… or found-…"),
        }
    }
}

/// An OpenVEX document with `statements` (JSON text of the array's items).
fn openvex_doc(statements: &str) -> String {
    format!(
        r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1",
        "author":"A","timestamp":"2024-05-01T00:00:00Z","version":1,"statements":[{statements}]}}"#
    )
}

/// A CycloneDX VEX document with `vulnerabilities` and `components` (JSON text of the items).
fn cyclonedx_doc(components: &str, vulnerabilities: &str) -> String {
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
        "serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata":{{"timestamp":"2024-05-01T00:00:00Z"}},
        "components":[{components}],"vulnerabilities":[{vulnerabilities}]}}"#
    )
}

/// A CSAF VEX document with a product tree and one vulnerability's members (JSON text).
fn csaf_doc(product_tree: &str, vulnerability: &str) -> String {
    format!(
        r#"{{"document":{{"category":"csaf_vex","csaf_version":"2.0","title":"t",
        "publisher":{{"category":"vendor","name":"V","namespace":"https://example.com"}},
        "tracking":{{"id":"X-1","status":"final","version":"1",
          "initial_release_date":"2024-01-01T00:00:00Z","current_release_date":"2024-01-02T00:00:00Z",
          "revision_history":[{{"date":"2024-01-02T00:00:00Z","number":"1","summary":"s"}}]}}}},
        "product_tree":{product_tree},
        "vulnerabilities":[{{"cve":"CVE-2024-0001",{vulnerability}}}]}}"#
    )
}

const CSAF_TREE: &str = r#"{"full_product_names":[{"name":"App","product_id":"APP",
    "product_identification_helper":{"purl":"pkg:generic/acme/app@1"}}]}"#;

/// The parser's error inside each reader's, by the reader's own variant.
fn json_error_of_each_reader(bytes: &[u8]) -> [JcsError; 3] {
    let openvex = match openvex::read(bytes).unwrap_err() {
        OpenVexError::Json { source } => source,
        other => panic!("OpenVEX: {other:?}"),
    };
    let cyclonedx = match cyclonedx::read(bytes).unwrap_err() {
        CycloneDxError::Json { source } => source,
        other => panic!("CycloneDX: {other:?}"),
    };
    let csaf = match csaf::read(bytes).unwrap_err() {
        CsafError::Json { source } => source,
        other => panic!("CSAF: {other:?}"),
    };
    [openvex, cyclonedx, csaf]
}

#[test]
fn a_trailing_comma_is_an_error_naming_its_pointer_and_byte() {
    // The OpenVEX spec's own examples end their lists with a comma like this one.
    let text = openvex_doc(
        r#"{"vulnerability":{"name":"CVE-2024-0001"},"products":[{"@id":"pkg:cargo/a@1"},],"status":"fixed"}"#,
    );
    let comma = text.find("},]").expect("the comma") + 1;
    for error in json_error_of_each_reader(text.as_bytes()) {
        let at = error.location().expect("a location");
        assert_eq!(at.pointer, "/statements/0/products/1", "{error}");
        // The error is at the `]` the comma left without a value.
        assert_eq!(at.offset, Some(comma + 1), "{error}");
        assert!(matches!(error, JcsError::Syntax { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&format!("byte {}", comma + 1)),
            "{error}"
        );
    }
    // One after the last member of an object, too.
    let text = r#"{"bomFormat":"CycloneDX","version":1,}"#;
    for error in json_error_of_each_reader(text.as_bytes()) {
        assert_eq!(error.location().unwrap().offset, Some(text.len() - 1));
    }
}

#[test]
fn nesting_100_000_deep_is_a_precise_error_not_a_stack_overflow() {
    let depth = 100_000;
    let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for error in json_error_of_each_reader(text.as_bytes()) {
        match &error {
            JcsError::TooDeep { at, limit } => {
                assert_eq!(*limit, jcs::MAX_DEPTH);
                // The first bracket past the limit.
                assert_eq!(at.offset, Some(jcs::MAX_DEPTH), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        openvex::read(text.as_bytes()).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
    // Objects nest the same way inside a document that is otherwise well-formed.
    let deep = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let text = openvex_doc(&format!(
        r#"{{"vulnerability":{{"name":"X","description":{deep}}},"status":"fixed"}}"#
    ));
    let error = match openvex::read(text.as_bytes()).unwrap_err() {
        OpenVexError::Json { source } => source,
        other => panic!("{other:?}"),
    };
    assert!(matches!(error, JcsError::TooDeep { .. }), "{error:?}");
    assert!(
        error
            .pointer()
            .unwrap()
            .starts_with("/statements/0/vulnerability/description/a/a"),
        "{error}"
    );
}

#[test]
fn a_product_id_wrapped_in_200_000_version_limits_is_read_without_recursion() {
    // One level of `urn:stella:version:<version>:<identifier>` (the form Stella writes a version
    // limit in) per 21 bytes: 4 MB of them once made one call per level, and overflowed the stack.
    let id = format!(
        "{}pkg:npm/a@1",
        format!("{}1:", stella_vex::model::VERSIONED_ID_PREFIX).repeat(200_000)
    );
    let text = openvex_doc(&format!(
        r#"{{"vulnerability":{{"name":"X"}},"products":[{{"@id":"{id}"}}],"status":"fixed"}}"#
    ));
    let read = openvex::read(text.as_bytes()).unwrap();
    let identity = &read.document.statements[0].products[0].identity;
    assert_eq!(identity.version.as_deref(), Some("1"));
    assert_eq!(identity.purl.as_deref(), Some("pkg:npm/a@1"));
}

/// `count` statements, each `item`, as one document's bytes.
fn many_statements(count: usize, item: &str) -> Vec<u8> {
    let mut items = String::with_capacity(count * (item.len() + 1));
    for i in 0..count {
        if i > 0 {
            items.push(',');
        }
        items.push_str(item);
    }
    openvex_doc(&items).into_bytes()
}

#[test]
fn one_statement_past_the_limit_is_refused_before_any_is_read() {
    // The cheapest items that still count: the limit is checked before a statement is read,
    // so a million and one of anything is refused with the count, not with item 0's shape.
    let bytes = many_statements(MAX_STATEMENTS + 1, "0");
    let error = openvex::read(&bytes).unwrap_err();
    assert!(
        matches!(error, OpenVexError::TooManyStatements { count, limit }
            if count == MAX_STATEMENTS + 1 && limit == MAX_STATEMENTS),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert!(error.to_string().contains("1000001 statements"), "{error}");

    // CycloneDX has the same limit on vulnerabilities.
    let items = vec!["0"; cyclonedx::MAX_VULNERABILITIES + 1].join(",");
    let error = cyclonedx::read(cyclonedx_doc("", &items).as_bytes()).unwrap_err();
    assert!(
        matches!(&error, CycloneDxError::TooMany { pointer, count, .. }
            if pointer == "/vulnerabilities" && *count == cyclonedx::MAX_VULNERABILITIES + 1),
        "{error:?}"
    );
}

/// One real statement, as the generated documents repeat it.
const STATEMENT: &str = r#"{"vulnerability":{"name":"CVE-2024-0001"},"products":[{"@id":"pkg:cargo/a@1.0.0"}],"status":"fixed"}"#;

#[test]
fn a_million_real_statements_read_at_the_limit() {
    // At the limit every statement is read. A debug build would take minutes, so the full size
    // runs in a release build (`cargo test --release -p stella-vex`) and a debug build reads a
    // thousandth of it the same way.
    let count = if cfg!(debug_assertions) {
        MAX_STATEMENTS / 1000
    } else {
        MAX_STATEMENTS
    };
    let read = openvex::read(&many_statements(count, STATEMENT)).unwrap();
    assert_eq!(read.document.statements.len(), count);
    assert!(read.warnings.is_empty(), "{:?}", read.warnings.first());
    let last = read.document.statements.last().unwrap();
    assert_eq!(last.provenance.statement_index, count - 1);
    assert_eq!(last.status, Status::Fixed);
}

#[test]
fn unknown_csaf_product_status_is_an_error_and_the_other_four_lists_warnings() {
    let text = csaf_doc(CSAF_TREE, r#""product_status":{"probably_fine":["APP"]}"#);
    let error = csaf::read(text.as_bytes()).unwrap_err();
    assert!(
        matches!(&error, CsafError::UnknownProductStatus { pointer, list }
            if pointer == "/vulnerabilities/0/product_status/probably_fine" && list == "probably_fine"),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Invalid);
    // CSAF's own lists that are no VEX status are kept as warnings, not errors.
    let text = csaf_doc(
        CSAF_TREE,
        r#""product_status":{"fixed":["APP"],"first_affected":["APP"]}"#,
    );
    let read = csaf::read(text.as_bytes()).unwrap();
    assert_eq!(read.document.statements.len(), 1);
    assert_eq!(read.warnings[0].rule(), "other-product-status");
}

#[test]
fn unknown_justifications_are_kept_with_a_warning_in_each_format() {
    // OpenVEX: see openvex_read.rs. CycloneDX:
    let text = cyclonedx_doc(
        r#"{"type":"library","name":"a","bom-ref":"a","purl":"pkg:cargo/a@1"}"#,
        r#"{"id":"CVE-2024-0001","analysis":{"state":"not_affected","justification":"not_my_problem"},
            "affects":[{"ref":"a"}]}"#,
    );
    let read = cyclonedx::read(text.as_bytes()).unwrap();
    let j = read.document.statements[0].justification.clone().unwrap();
    assert_eq!(
        (j.kind, j.label.as_str()),
        (JustificationKind::Other, "not_my_problem")
    );
    assert_eq!(
        read.warnings,
        [CycloneDxWarning::UnknownJustification {
            pointer: "/vulnerabilities/0/analysis/justification".into(),
            label: "not_my_problem".into(),
        }]
    );
    assert_eq!(read.warnings[0].rule(), "unknown-justification");
    // CycloneDX's own labels without an OpenVEX counterpart are no warning.
    let known = text.replace("not_my_problem", "requires_environment");
    assert!(
        cyclonedx::read(known.as_bytes())
            .unwrap()
            .warnings
            .is_empty()
    );

    // CSAF: an unknown flag label.
    let text = csaf_doc(
        CSAF_TREE,
        r#""product_status":{"known_not_affected":["APP"]},
           "flags":[{"label":"not_my_problem","product_ids":["APP"]}]"#,
    );
    let read = csaf::read(text.as_bytes()).unwrap();
    let j = read.document.statements[0].justification.clone().unwrap();
    assert_eq!(
        (j.kind, j.label.as_str()),
        (JustificationKind::Other, "not_my_problem")
    );
    assert_eq!(
        read.warnings,
        [CsafWarning::UnknownFlagLabel {
            pointer: "/vulnerabilities/0/flags/0/label".into(),
            label: "not_my_problem".into(),
        }]
    );
}

#[test]
fn a_bom_link_into_another_sbom_is_kept_as_a_bom_link_with_a_warning() {
    let vex = cyclonedx_doc(
        "",
        r#"{"id":"CVE-2024-0001","analysis":{"state":"in_triage"},"affects":[
            {"ref":"urn:cdx:cbb2cd68-2857-43b8-a10b-e8c03d277d18/1#lib"},
            {"ref":"urn:cdx:aaaaaaaa-2857-43b8-a10b-e8c03d277d18/1#lib"}]}"#,
    );
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
        "serialNumber":"urn:uuid:cbb2cd68-2857-43b8-a10b-e8c03d277d18",
        "components":[{"type":"library","name":"lib","bom-ref":"lib","purl":"pkg:npm/lib@1.0.0"}]}"#;
    let read = cyclonedx::read_with(
        vex.as_bytes(),
        &ReadOptions {
            sbom: Some(sbom),
            fallback_timestamp: None,
            purls: None,
        },
    )
    .unwrap();
    let products = &read.document.statements[0].products;
    // Into the SBOM given: resolved to its component's purl.
    assert_eq!(
        products[0].identity.purl.as_deref(),
        Some("pkg:npm/lib@1.0.0")
    );
    // Into another: the BOM-Link alone, and a warning naming it.
    let other = "urn:cdx:aaaaaaaa-2857-43b8-a10b-e8c03d277d18/1#lib";
    assert_eq!(products[1].identity.bom_link.as_deref(), Some(other));
    assert_eq!(products[1].identity.purl, None);
    assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    assert_eq!(read.warnings[0].rule(), "bom-link-to-other-sbom");
    assert_eq!(
        read.warnings[0].pointer(),
        "/vulnerabilities/0/affects/1/ref"
    );
}

#[test]
fn a_malformed_purl_is_kept_as_text_with_a_warning_in_each_format() {
    // No type: `pkg:` must be followed by `type/name`.
    let bad = "pkg:nonsense";
    let text = openvex_doc(&format!(
        r#"{{"vulnerability":{{"name":"X"}},"status":"fixed","products":[
            {{"@id":"{bad}"}},
            {{"@id":"https://example.com/p","identifiers":{{"purl":"{bad}"}}}},
            {{"@id":"pkg:cargo/fine@1.0.0"}}]}}"#
    ));
    let read = openvex::read(text.as_bytes()).unwrap();
    let products = &read.document.statements[0].products;
    assert_eq!(products.len(), 3);
    assert_eq!(products[0].identity.purl.as_deref(), Some(bad));
    assert_eq!(products[1].identity.purl.as_deref(), Some(bad));
    assert_eq!(
        read.warnings,
        [
            OpenVexWarning::MalformedPurl {
                pointer: "/statements/0/products/0/@id".into(),
                purl: bad.into()
            },
            OpenVexWarning::MalformedPurl {
                pointer: "/statements/0/products/1/identifiers/purl".into(),
                purl: bad.into()
            },
        ]
    );
    assert_eq!(read.warnings[0].rule(), "malformed-purl");
    // It still matches by its exact text.
    let query = stella_vex::ProductIdentity::from_id(bad);
    assert!(stella_vex::matching::product_matches(
        &products[0].identity,
        &query
    ));

    let text = cyclonedx_doc(
        &format!(r#"{{"type":"library","name":"a","bom-ref":"a","purl":"{bad}"}}"#),
        r#"{"id":"X","analysis":{"state":"in_triage"},"affects":[{"ref":"a"}]}"#,
    );
    let read = cyclonedx::read(text.as_bytes()).unwrap();
    assert_eq!(
        read.document.statements[0].products[0]
            .identity
            .purl
            .as_deref(),
        Some(bad)
    );
    assert_eq!(
        read.warnings,
        [CycloneDxWarning::MalformedPurl {
            pointer: "/vulnerabilities/0/affects/0/ref".into(),
            purl: bad.into()
        }]
    );

    let tree = format!(
        r#"{{"full_product_names":[{{"name":"A","product_id":"A",
            "product_identification_helper":{{"purl":"{bad}"}}}}]}}"#
    );
    let read =
        csaf::read(csaf_doc(&tree, r#""product_status":{"fixed":["A"]}"#).as_bytes()).unwrap();
    assert_eq!(
        read.document.statements[0].products[0]
            .identity
            .purl
            .as_deref(),
        Some(bad)
    );
    assert_eq!(
        read.warnings,
        [CsafWarning::MalformedPurl {
            pointer: "/product_tree/full_product_names/0/product_identification_helper/purl".into(),
            purl: bad.into()
        }]
    );
}

#[test]
fn duplicate_statement_ids_are_both_kept_with_a_warning() {
    let statement = |status: &str| {
        format!(
            r#"{{"@id":"https://example.com/vex/1#s","vulnerability":{{"name":"X"}},
            "products":[{{"@id":"pkg:cargo/a@1.0.0"}}],"status":"{status}"}}"#
        )
    };
    let text = openvex_doc(&format!(
        "{},{},{}",
        statement("fixed"),
        statement("under_investigation"),
        statement("fixed")
    ));
    let read = openvex::read(text.as_bytes()).unwrap();
    assert_eq!(read.document.statements.len(), 3);
    assert_eq!(
        read.warnings,
        [1, 2]
            .map(|i| OpenVexWarning::DuplicateStatementId {
                pointer: format!("/statements/{i}/@id"),
                id: "https://example.com/vex/1#s".into(),
                first: "/statements/0".into(),
            })
            .to_vec()
    );
    assert_eq!(read.warnings[0].rule(), "duplicate-statement-id");
}

#[test]
fn a_relationship_that_contains_itself_is_a_cycle() {
    let tree = r#"{"full_product_names":[{"name":"OS","product_id":"OS"}],
      "relationships":[{"category":"installed_on","product_reference":"SELF",
        "relates_to_product_reference":"OS","full_product_name":{"name":"s","product_id":"SELF"}}]}"#;
    let error = csaf::read(csaf_doc(tree, r#""product_status":{"fixed":["SELF"]}"#).as_bytes())
        .unwrap_err();
    assert!(
        matches!(&error, CsafError::RelationshipCycle { pointer, product_ids }
            if pointer == "/product_tree/relationships/0" && product_ids == &["SELF"]),
        "{error:?}"
    );
}

#[test]
fn a_relationship_chain_past_the_limit_is_refused() {
    // R1 puts C0 into P, R2 puts R1's product into P, … each link one level deeper.
    let chain = |links: usize| {
        let relationships: Vec<String> = (1..=links)
            .map(|i| {
                format!(
                    r#"{{"category":"default_component_of","product_reference":"{}",
                    "relates_to_product_reference":"P","full_product_name":{{"name":"r","product_id":"R{i}"}}}}"#,
                    if i == 1 { "C0".to_owned() } else { format!("R{}", i - 1) }
                )
            })
            .collect();
        let tree = format!(
            r#"{{"full_product_names":[{{"name":"P","product_id":"P"}},{{"name":"C","product_id":"C0"}}],
            "relationships":[{}]}}"#,
            relationships.join(",")
        );
        csaf_doc(
            &tree,
            &format!(r#""product_status":{{"fixed":["R{links}"]}}"#),
        )
    };
    let read = csaf::read(chain(csaf::MAX_RELATIONSHIP_DEPTH).as_bytes()).unwrap();
    let product = &read.document.statements[0].products[0];
    assert_eq!(product.identity.id.as_deref(), Some("P"));
    assert_eq!(product.subcomponents.len(), 1, "every link names C0");

    let error = csaf::read(chain(csaf::MAX_RELATIONSHIP_DEPTH + 1).as_bytes()).unwrap_err();
    match &error {
        CsafError::RelationshipTooDeep { pointer, limit } => {
            assert_eq!(*limit, csaf::MAX_RELATIONSHIP_DEPTH);
            assert!(
                pointer.starts_with("/product_tree/relationships/"),
                "{pointer}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.kind(), ErrorKind::TooLarge);
}

// The two tests below would take minutes in a debug build if a reader compared every product,
// ref or statement group with every other (20,000² steps); read linearly they take a second.
const WIDE: usize = 20_000;

#[test]
fn many_cyclonedx_refs_into_many_components_read_linearly() {
    let components: Vec<String> = (0..WIDE)
        .map(|i| format!(r#"{{"type":"library","name":"c","bom-ref":"c%20{i}"}}"#))
        .collect();
    // Every ref is unresolved but percent-decodes, so each one is looked up in decoded form.
    let refs: Vec<String> = (0..WIDE)
        .map(|i| format!(r#"{{"ref":"x%20{i}"}}"#))
        .collect();
    let text = cyclonedx_doc(
        &components.join(","),
        &format!(
            r#"{{"id":"X","analysis":{{"state":"in_triage"}},"affects":[{},{{"ref":"c 7"}}]}}"#,
            refs.join(",")
        ),
    );
    let read = cyclonedx::read(text.as_bytes()).unwrap();
    let products = &read.document.statements[0].products;
    assert_eq!(products.len(), WIDE + 1);
    // The plain ref found the component whose bom-ref is percent-encoded.
    assert_eq!(products[WIDE].identity.id.as_deref(), Some("c%207"));
    assert_eq!(read.warnings.len(), WIDE);
    assert!(read.warnings.iter().all(|w| w.rule() == "unresolved-ref"));
}

#[test]
fn many_csaf_products_and_statement_groups_read_linearly() {
    let names: Vec<String> = (0..WIDE)
        .map(|i| format!(r#"{{"name":"p","product_id":"P{i}"}}"#))
        .collect();
    let tree = format!(r#"{{"full_product_names":[{}]}}"#, names.join(","));
    let ids: Vec<String> = (0..WIDE).map(|i| format!(r#""P{i}""#)).collect();
    let ids = ids.join(",");

    // Every product twice in one list: one statement, every product once.
    let text = csaf_doc(
        &tree,
        &format!(r#""product_status":{{"known_not_affected":[{ids},{ids}]}}"#),
    );
    let read = csaf::read(text.as_bytes()).unwrap();
    assert_eq!(read.document.statements.len(), 1);
    assert_eq!(read.document.statements[0].products.len(), WIDE);

    // A flag dated per product: each product its own statement.
    let flags: Vec<String> = (0..WIDE)
        .map(|i| {
            format!(
                r#"{{"label":"component_not_present","date":"2024-01-01T{:02}:{:02}:{:02}Z","product_ids":["P{i}"]}}"#,
                i / 3600,
                i / 60 % 60,
                i % 60
            )
        })
        .collect();
    let text = csaf_doc(
        &tree,
        &format!(
            r#""product_status":{{"known_not_affected":[{ids}]}},"flags":[{}]"#,
            flags.join(",")
        ),
    );
    let read = csaf::read(text.as_bytes()).unwrap();
    assert_eq!(read.document.statements.len(), WIDE);
    assert!(
        read.document
            .statements
            .iter()
            .all(|s| s.products.len() == 1)
    );
}
