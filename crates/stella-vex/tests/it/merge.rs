//! The deterministic merge: each precedence rule decides a case, shuffled inputs give the same
//! bytes, superseded statements keep their provenance.

use serde_json::json;
use stella_vex::merge::{self, MergeInput, Merged, Merger, Policy, Rule};
use stella_vex::openvex;
use stella_vex::{Status, VexStatement};

use crate::fixture;

const HYPER: &str = "pkg:cargo/hyper@1.4.0";

/// An OpenVEX document by `author` at `time` with `statements`, read back as a merge input.
fn doc(author: &str, time: &str, statements: serde_json::Value) -> MergeInput {
    let bytes = serde_json::to_vec(&json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("https://example.com/vex/{author}/{time}"),
        "author": author,
        "timestamp": time,
        "version": 1,
        "statements": statements,
    }))
    .unwrap();
    openvex::read(&bytes).unwrap().into()
}

fn claim(vuln: &str, product: &str, status: &str) -> serde_json::Value {
    let mut s = json!({
        "vulnerability": {"name": vuln},
        "products": [{"@id": product}],
        "status": status,
    });
    match status {
        "not_affected" => s["justification"] = "vulnerable_code_not_in_execute_path".into(),
        "affected" => s["action_statement"] = "Upgrade.".into(),
        _ => {}
    }
    s
}

fn only(merged: &Merged) -> &stella_vex::merge::MergedStatement {
    assert_eq!(merged.statements.len(), 1, "{:#?}", merged.statements);
    &merged.statements[0]
}

fn status(merged: &Merged) -> Status {
    only(merged).statement.status
}

#[test]
fn source_priority_decides_first() {
    let vendor = doc(
        "vendor",
        "2024-01-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "not_affected")]),
    );
    let scanner = doc(
        "scanner",
        "2024-06-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "affected")]),
    );
    let mut policy = Policy::default();
    policy.author_priorities.insert("vendor".into(), 10);
    let merged = merge::merge(&[vendor.clone(), scanner.clone()], &policy).unwrap();
    assert_eq!(
        status(&merged),
        Status::NotAffected,
        "the vendor outranks the later scanner"
    );
    assert_eq!(only(&merged).superseded[0].rule, Rule::Priority);

    // A priority by document canonical id wins over one by author.
    policy
        .document_priorities
        .insert(scanner.canonical_id.clone(), 20);
    let merged = merge::merge(&[vendor, scanner], &policy).unwrap();
    assert_eq!(status(&merged), Status::Affected);
}

#[test]
fn the_later_timestamp_decides_at_equal_priority() {
    let old = doc(
        "a",
        "2024-01-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "affected")]),
    );
    let new = doc(
        "b",
        "2024-06-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "fixed")]),
    );
    let merged = merge::merge(&[old, new], &Policy::default()).unwrap();
    assert_eq!(
        status(&merged),
        Status::Fixed,
        "later wins even over a more conservative status"
    );
    assert_eq!(only(&merged).superseded[0].rule, Rule::Timestamp);
}

#[test]
fn the_more_conservative_status_decides_at_equal_time() {
    let t = "2024-01-01T00:00:00Z";
    let order = [
        ("not_affected", Status::NotAffected),
        ("fixed", Status::Fixed),
        ("under_investigation", Status::UnderInvestigation),
        ("affected", Status::Affected),
    ];
    for (i, (lower, _)) in order.iter().enumerate() {
        for (higher, want) in &order[i + 1..] {
            let a = doc("a", t, json!([claim("CVE-2024-1", HYPER, lower)]));
            let b = doc("b", t, json!([claim("CVE-2024-1", HYPER, higher)]));
            let merged = merge::merge(&[a, b], &Policy::default()).unwrap();
            assert_eq!(status(&merged), *want, "{lower} vs {higher}");
            assert_eq!(only(&merged).superseded[0].rule, Rule::Status);
        }
    }
}

#[test]
fn superseded_statements_keep_their_provenance() {
    let old = doc(
        "vendor",
        "2024-01-01T00:00:00Z",
        json!([
            claim("CVE-2024-9", "pkg:cargo/other@1", "affected"),
            claim("CVE-2024-1", HYPER, "not_affected"),
        ]),
    );
    let new = doc(
        "scanner",
        "2024-06-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "affected")]),
    );
    let merged = merge::merge(&[old.clone(), new.clone()], &Policy::default()).unwrap();
    let hyper = merged
        .statements
        .iter()
        .find(|m| m.statement.vulnerability.name == "CVE-2024-1")
        .unwrap();
    assert_eq!(hyper.statement.provenance.document, new.canonical_id);
    assert_eq!(hyper.statement.provenance.author, "scanner");
    let [lost] = hyper.superseded.as_slice() else {
        panic!("{:#?}", hyper.superseded)
    };
    assert_eq!(lost.provenance.document, old.canonical_id);
    assert_eq!(lost.provenance.statement_index, 1);
    assert_eq!(lost.provenance.author, "vendor");
    assert_eq!(lost.status, Status::NotAffected);
    assert_eq!(
        lost.justification.as_ref().map(|j| j.label.as_str()),
        Some("vulnerable_code_not_in_execute_path")
    );
    // The statement nothing contested supersedes nothing.
    let other = merged
        .statements
        .iter()
        .find(|m| m.statement.vulnerability.name == "CVE-2024-9")
        .unwrap();
    assert!(other.superseded.is_empty());
}

#[test]
fn aliases_and_spellings_of_one_product_meet_in_one_group() {
    let a = doc(
        "a",
        "2024-01-01T00:00:00Z",
        json!([{
            "vulnerability": {"name": "CVE-2024-1", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
            "products": [{"@id": "pkg:golang/github.com%2Fgorilla/websocket@v1.5.0"}],
            "status": "not_affected",
            "justification": "component_not_present",
        }]),
    );
    let b = doc(
        "b",
        "2024-02-01T00:00:00Z",
        json!([claim(
            "GHSA-aaaa-bbbb-cccc",
            "pkg:golang/github.com/gorilla/websocket@v1.5.0",
            "affected"
        )]),
    );
    let merged = merge::merge(&[a, b], &Policy::default()).unwrap();
    let m = only(&merged);
    assert_eq!(m.statement.status, Status::Affected);
    // The winner keeps its name; the group's other names become aliases.
    assert_eq!(m.statement.vulnerability.name, "GHSA-aaaa-bbbb-cccc");
    assert_eq!(
        m.statement.vulnerability.aliases,
        vec!["CVE-2024-1".to_owned()]
    );
}

#[test]
fn subcomponents_are_merged_separately() {
    let image =
        "pkg:oci/app@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let a = doc(
        "a",
        "2024-01-01T00:00:00Z",
        json!([{
            "vulnerability": {"name": "CVE-2024-1"},
            "products": [{"@id": image, "subcomponents": [{"@id": HYPER}, {"@id": "pkg:cargo/h2@0.4.0"}]}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_present",
        }]),
    );
    let b = doc(
        "b",
        "2024-02-01T00:00:00Z",
        json!([{
            "vulnerability": {"name": "CVE-2024-1"},
            "products": [{"@id": image, "subcomponents": [{"@id": HYPER}]}],
            "status": "affected",
            "action_statement": "Upgrade hyper.",
        }]),
    );
    let merged = merge::merge(&[a, b], &Policy::default()).unwrap();
    let by_sub: Vec<(String, Status)> = merged
        .statements
        .iter()
        .map(|m| {
            let sub = &m.statement.products[0].subcomponents[0];
            (sub.id.clone().unwrap(), m.statement.status)
        })
        .collect();
    assert_eq!(
        by_sub,
        vec![
            ("pkg:cargo/h2@0.4.0".to_owned(), Status::NotAffected),
            (HYPER.to_owned(), Status::Affected),
        ]
    );
}

/// A small deterministic shuffle (no randomness source needed): rotations and reversals.
fn orders<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    for r in 0..items.len() {
        let mut v = items.to_vec();
        v.rotate_left(r);
        out.push(v.clone());
        v.reverse();
        out.push(v);
    }
    out
}

fn reversed_statements(input: &MergeInput) -> MergeInput {
    let mut input = input.clone();
    input.document.statements.reverse();
    input
}

#[test]
fn shuffled_inputs_give_identical_bytes() {
    let govulncheck: MergeInput =
        openvex::read(&fixture("openvex/govulncheck-output-schema-invalid.json"))
            .unwrap()
            .into();
    let inputs = vec![
        govulncheck,
        doc(
            "vendor",
            "2024-01-01T00:00:00Z",
            json!([
                claim("CVE-2024-1", HYPER, "not_affected"),
                claim("CVE-2024-2", "pkg:cargo/h2@0.4.0", "under_investigation"),
            ]),
        ),
        doc(
            "scanner",
            "2024-01-01T00:00:00Z",
            json!([
                claim("CVE-2024-1", HYPER, "affected"),
                claim("CVE-2024-2", "pkg:cargo/h2@0.4.0", "fixed"),
            ]),
        ),
        doc(
            "distro",
            "2023-05-01T00:00:00Z",
            json!([claim("CVE-2024-2", "pkg:cargo/h2@0.4.0", "affected")]),
        ),
    ];
    let write = |inputs: &[MergeInput]| {
        let merged = merge::merge(inputs, &Policy::default()).unwrap();
        (openvex::write(&merged.document()).unwrap(), merged)
    };
    let (expected, first) = write(&inputs);
    assert_eq!(schema_errors(&expected), Vec::<String>::new());
    for order in orders(&inputs) {
        let (bytes, merged) = write(&order);
        assert_eq!(bytes, expected);
        assert_eq!(
            merged, first,
            "the merge result itself, provenance included"
        );
        let inner: Vec<_> = order.iter().map(reversed_statements).collect();
        assert_eq!(
            write(&inner).0,
            expected,
            "statement order inside documents"
        );
    }
    // Giving one document twice changes nothing.
    let mut doubled = inputs.clone();
    doubled.push(inputs[1].clone());
    assert_eq!(write(&doubled).0, expected);

    // The id is derived from the inputs, the timestamp is the latest input's.
    let reread = openvex::read(&expected).unwrap().document;
    assert!(
        reread.id.starts_with("urn:stella:vex-merge:sha256:"),
        "{}",
        reread.id
    );
    let latest = inputs
        .iter()
        .flat_map(|i| {
            i.document
                .statements
                .iter()
                .map(|s: &VexStatement| s.timestamp)
        })
        .max();
    assert_eq!(reread.timestamp, latest);
    let fewer = write(&inputs[1..]).1;
    assert_ne!(fewer.id, first.id, "other inputs, other id");
}

#[test]
fn a_statement_that_wins_every_claim_is_written_once_with_its_id() {
    let a = doc(
        "a",
        "2024-02-01T00:00:00Z",
        json!([{
            "@id": "https://example.com/vex/a/statement-1",
            "vulnerability": {"name": "CVE-2024-1"},
            "products": [{"@id": HYPER}, {"@id": "pkg:cargo/h2@0.4.0"}],
            "status": "affected",
            "action_statement": "Upgrade.",
        }]),
    );
    let b = doc(
        "b",
        "2024-01-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "not_affected")]),
    );
    let merged = merge::merge(&[a, b], &Policy::default()).unwrap();
    assert_eq!(merged.statements.len(), 2, "one per product");
    let document = merged.document();
    let [statement] = document.statements.as_slice() else {
        panic!("{:#?}", document.statements)
    };
    assert_eq!(
        statement.id.as_deref(),
        Some("https://example.com/vex/a/statement-1")
    );
    assert_eq!(statement.products.len(), 2);
    let bytes = openvex::write(&document).unwrap();
    assert_eq!(schema_errors(&bytes), Vec::<String>::new());
}

fn schema_errors(bytes: &[u8]) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_slice(&fixture("openvex/openvex_json_schema.json")).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let instance: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn a_product_named_twice_is_no_rival_of_itself() {
    let a = doc(
        "a",
        "2024-01-01T00:00:00Z",
        json!([{
            "vulnerability": {"name": "CVE-2024-1"},
            "products": [{"@id": HYPER}, {"@id": "pkg:cargo/hyper@1.4.0"}],
            "status": "fixed",
        }]),
    );
    let merged = merge::merge(&[a], &Policy::default()).unwrap();
    assert!(only(&merged).superseded.is_empty());
}

/// Names linked by a document added last still fall into one group: the merge joins the groups
/// it had kept apart when it finishes. Fed one by one, in any order, with a document given twice,
/// the result is `merge::merge`'s.
#[test]
fn documents_added_one_at_a_time_merge_as_a_whole() {
    let ghsa = doc(
        "advisories",
        "2024-03-01T00:00:00Z",
        json!([claim("GHSA-aaaa-bbbb-cccc", HYPER, "affected")]),
    );
    let cve = doc(
        "vendor",
        "2024-02-01T00:00:00Z",
        json!([claim("CVE-2024-1", HYPER, "not_affected")]),
    );
    let mut linking = claim("CVE-2024-1", "pkg:cargo/h2@0.4.0", "fixed");
    linking["vulnerability"]["aliases"] = json!(["GHSA-aaaa-bbbb-cccc"]);
    let link = doc("distro", "2024-01-01T00:00:00Z", json!([linking]));
    let inputs = vec![ghsa, cve, link];
    let whole = merge::merge(&inputs, &Policy::default()).unwrap();
    let hyper: Vec<_> = whole
        .statements
        .iter()
        .filter(|m| m.statement.products[0].identity.id.as_deref() == Some(HYPER))
        .collect();
    assert_eq!(hyper.len(), 1, "{hyper:#?}");
    assert_eq!(hyper[0].statement.status, Status::Affected);
    assert_eq!(hyper[0].superseded.len(), 1);
    for order in orders(&inputs) {
        let mut merger = Merger::new(&Policy::default());
        for input in order.iter().chain(&order[..1]) {
            merger.add(&input.canonical_id, &input.document).unwrap();
        }
        let merged = merger.finish();
        assert_eq!(merged, whole);
        assert_eq!(merged.clone().into_document(), whole.document());
        // Handed over by value, the documents merge the same.
        let mut merger = Merger::new(&Policy::default());
        for input in order.iter().chain(&order[..1]) {
            merger
                .add_owned(&input.canonical_id, input.document.clone())
                .unwrap();
        }
        assert_eq!(merger.finish(), whole);
        // Straight to the document, without the superseded records.
        let mut merger = Merger::new(&Policy::default());
        for input in &order {
            merger.add(&input.canonical_id, &input.document).unwrap();
        }
        assert_eq!(merger.finish_document(), whole.document());
    }
    let document = whole.document();
    assert_eq!(
        openvex::write_owned(document.clone()).unwrap(),
        openvex::write(&document).unwrap()
    );
}

/// Documents of many statements over small pools of vulnerabilities and products, so claims
/// meet: statements naming two or three products, subcomponents, GHSA names linked to CVEs by
/// some statements' aliases, equal times.
fn generated(documents: usize, statements: usize) -> Vec<MergeInput> {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let statuses = ["affected", "not_affected", "fixed", "under_investigation"];
    (0..documents)
        .map(|d| {
            let items: Vec<serde_json::Value> = (0..statements)
                .map(|_| {
                    let v = next(300);
                    let (name, alias) = if next(5) == 0 {
                        (
                            format!("GHSA-{v:04}-aaaa-bbbb"),
                            Some(format!("CVE-2024-{v}")),
                        )
                    } else {
                        (format!("CVE-2024-{v}"), None)
                    };
                    let mut s = claim(&name, "pkg:npm/x@1", statuses[next(4)]);
                    if let Some(alias) = alias.filter(|_| next(2) == 0) {
                        s["vulnerability"]["aliases"] = json!([alias]);
                    }
                    let products: Vec<serde_json::Value> = (0..1 + next(3))
                        .map(|_| {
                            let mut p =
                                json!({"@id": format!("pkg:npm/lib{}@1.{}", next(40), next(3))});
                            if next(4) == 0 {
                                p["subcomponents"] =
                                    json!([{"@id": format!("pkg:cargo/sub{}@0.1", next(5))}]);
                            }
                            p
                        })
                        .collect();
                    s["products"] = json!(products);
                    s["timestamp"] = format!("2024-0{}-01T00:00:00Z", 1 + next(3)).into();
                    s
                })
                .collect();
            doc(
                &format!("author-{}", d % 3),
                &format!("2024-01-0{}T00:00:00Z", 1 + d),
                json!(items),
            )
        })
        .collect()
}

#[test]
fn the_merged_document_made_straight_is_the_one_made_from_the_records() {
    // More statements than one write part holds, so the parts' sort is exercised too.
    let inputs = generated(6, 1500);
    let whole = merge::merge(&inputs, &Policy::default()).unwrap();
    assert!(whole.statements.len() > 4096, "{}", whole.statements.len());
    assert!(
        whole
            .statements
            .iter()
            .any(|m| m.statement.products.len() == 1
                && m.statement.products[0].subcomponents.len() == 1),
        "subcomponent claims"
    );
    let document = whole.document();
    assert!(
        document.statements.iter().any(|s| s.products.len() > 1),
        "claims joined into their source statement again"
    );
    let bytes = openvex::write(&document).unwrap();
    for order in [inputs.clone(), inputs.iter().rev().cloned().collect()] {
        let mut merger = Merger::new(&Policy::default());
        for input in &order {
            merger.add(&input.canonical_id, &input.document).unwrap();
        }
        let straight = merger.finish_document();
        assert_eq!(straight, document);
        assert_eq!(openvex::write_owned(straight).unwrap(), bytes);
        // Written without ever holding the document: the same bytes.
        let mut merger = Merger::new(&Policy::default());
        for input in &order {
            merger.add(&input.canonical_id, &input.document).unwrap();
        }
        let canonical = merger.finish_canonical_openvex().unwrap();
        assert_eq!(canonical.len(), bytes.len());
        // Written piece by piece, through a writer that takes a few bytes at a time.
        let mut pieces = std::io::BufWriter::with_capacity(7, Vec::new());
        canonical.write_to(&mut pieces).unwrap();
        assert_eq!(pieces.into_inner().unwrap(), bytes);
        assert_eq!(canonical.into_bytes(), bytes);
    }
    // Nothing added: the error `write` gives for a document without statements.
    let empty = Merger::new(&Policy::default()).finish_openvex();
    assert!(
        matches!(empty, Err(openvex::OpenVexError::NoStatements)),
        "{empty:?}"
    );
}
