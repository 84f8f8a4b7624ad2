use std::path::{Path, PathBuf};

use stella_core::jcs::Limits;

use super::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// Compiled official schemas, one per version, shared by the tests (compiling is the slow part).
fn official(dir: &Path, version: SpecVersion) -> &'static OfficialSchema {
    static CACHE: std::sync::Mutex<Vec<(PathBuf, SpecVersion, &'static OfficialSchema)>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().expect("cache lock");
    if let Some((_, _, s)) = cache.iter().find(|(d, v, _)| d == dir && *v == version) {
        return s;
    }
    let schema: &'static OfficialSchema = Box::leak(Box::new(
        OfficialSchema::load(dir, version).expect("schema"),
    ));
    cache.push((dir.to_path_buf(), version, schema));
    schema
}

fn report(bytes: &[u8], schema_dir: Option<&Path>) -> Report {
    let doc = SbomDocument::read(bytes, Limits::default()).expect("a CycloneDX document");
    let schema = schema_dir.map(|d| official(d, doc.spec_version()));
    validate(&doc, schema)
}

fn spec_tests() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join("cyclonedx/tests-1.7");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests-1.7 readable")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable"))
        })
        .collect()
}

/// The invalid spec documents Stella's own checks must catch without the official schema. The
/// rest (SPDX licence ids, citations, the long tail of nested types) need `--schema-dir`.
const CAUGHT_WITHOUT_SCHEMA: &[&str] = &[
    "invalid-bomformat-1.7.json",
    "invalid-component-external-version-and-range.json",
    "invalid-component-ref-1.7.json",
    "invalid-component-swid-1.7.json",
    "invalid-component-type-1.7.json",
    "invalid-component-versionRange-non-external-explicit.json",
    "invalid-component-versionRange-non-external-implicit.json",
    "invalid-dependency-1.7.json",
    "invalid-empty-component-1.7.json",
    "invalid-hash-alg-1.7.json",
    "invalid-hash-md5-1.7.json",
    "invalid-hash-sha1-1.7.json",
    "invalid-hash-sha256-1.7.json",
    "invalid-hash-sha512-1.7.json",
    "invalid-issue-type-1.7.json",
    "invalid-license-choice-1.7.json",
    "invalid-license-encoding-1.7.json",
    "invalid-license-missing-id-and-name-1.7.json",
    "invalid-metadata-distribution-1.7.json",
    "invalid-metadata-timestamp-1.7.json",
    "invalid-missing-component-type-1.7.json",
    "invalid-patch-type-1.7.json",
    "invalid-properties-1.7.json",
    "invalid-scope-1.7.json",
    "invalid-serialnumber-1.7.json",
    "invalid-service-data-1.7.json",
];

/// The specification's `valid-citations` example gives a formula and its workflow the same
/// `bom-ref` ("workflow-1"): schema-valid, but a reference to it would be ambiguous, which is
/// exactly what the semantic checks exist to catch.
fn assert_only_known_collision(name: &str, r: &Report) {
    if name == "valid-citations-1.7.json" {
        let pointers: Vec<_> = r
            .problems
            .iter()
            .map(|p| (p.pointer.as_str(), p.check))
            .collect();
        assert_eq!(
            pointers,
            vec![("/formulation/0/workflows/0/bom-ref", Check::Semantic)],
            "{name}: {:#?}",
            r.problems
        );
    } else {
        assert!(r.is_valid(), "{name}: {:#?}", r.problems);
    }
}

#[test]
fn official_schema_accepts_every_valid_and_rejects_every_invalid_spec_document() {
    let schema_dir = fixtures().join("cyclonedx/schema");
    let mut checked = 0;
    for (name, bytes) in spec_tests() {
        if name.starts_with("invalid-bomformat") {
            // Not CycloneDX at all: refused before validation (exit 2 in the CLI).
            assert!(SbomDocument::read(&bytes, Limits::default()).is_err());
            continue;
        }
        let r = report(&bytes, Some(&schema_dir));
        if name.starts_with("valid-") {
            assert_only_known_collision(&name, &r);
        } else {
            assert!(!r.is_valid(), "{name} should be invalid");
        }
        checked += 1;
    }
    assert!(checked >= 89, "only {checked} spec documents checked");
}

#[test]
fn builtin_checks_have_no_false_positives_and_catch_the_listed_invalid_documents() {
    for (name, bytes) in spec_tests() {
        if name.starts_with("valid-") {
            assert_only_known_collision(&name, &report(&bytes, None));
        } else if CAUGHT_WITHOUT_SCHEMA.contains(&name.as_str()) {
            match SbomDocument::read(&bytes, Limits::default()) {
                Err(_) => assert!(name.starts_with("invalid-bomformat")),
                Ok(doc) => {
                    let r = validate(&doc, None);
                    assert!(!r.is_valid(), "{name} should be caught without the schema");
                }
            }
        }
    }
}

#[test]
fn real_generator_sboms_are_valid_in_both_modes() {
    let schema_dir = fixtures().join("cyclonedx/schema");
    for name in [
        "cyclonedx-py-7.5.0-spec1.7.json",
        "cdxgen-12.8.4-spec1.7.json",
        "cargo-cyclonedx-0.5.9-spec1.5.json",
    ] {
        let bytes = std::fs::read(fixtures().join("sbom").join(name)).expect("fixture");
        let builtin = report(&bytes, None);
        assert!(builtin.is_valid(), "{name}: {:#?}", builtin.problems);
        let official = report(&bytes, Some(&schema_dir));
        assert!(official.is_valid(), "{name}: {:#?}", official.problems);
    }
}

#[test]
fn semantic_problems_are_all_reported_with_pointers_in_order() {
    let doc = br#"{
      "bomFormat": "CycloneDX", "specVersion": "1.7",
      "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
      "components": [
        {"type": "library", "name": "a", "bom-ref": "a", "purl": "not-a-purl",
         "hashes": [{"alg": "SHA-256", "content": "3942447fac867ae5cdb3229b658f4d48"}]},
        {"type": "library", "name": "b", "bom-ref": "a"},
        {"type": "library", "name": "c", "bom-ref": "c", "purl": "pkg:cargo/serde@1.0.0"}
      ],
      "dependencies": [
        {"ref": "a", "dependsOn": ["missing", "c", "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#c",
                                   "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#nope",
                                   "urn:cdx:00000000-0000-0000-0000-000000000000/3#elsewhere",
                                   "urn:cdx:not-a-uuid/1"]},
        {"ref": "a"}
      ],
      "vulnerabilities": [{"id": "CVE-2022-37434", "affects": [{"ref": "zlib"}]}]
    }"#;
    let r = report(doc, None);
    let found: Vec<(&str, Check)> = r
        .problems
        .iter()
        .map(|p| (p.pointer.as_str(), p.check))
        .collect();
    assert_eq!(
        found,
        vec![
            ("/components/0/hashes/0/content", Check::Semantic),
            ("/components/0/purl", Check::Semantic),
            ("/components/1/bom-ref", Check::Semantic),
            ("/dependencies/0/dependsOn/0", Check::Semantic),
            ("/dependencies/0/dependsOn/3", Check::Semantic),
            ("/dependencies/0/dependsOn/5", Check::Semantic),
            ("/dependencies/1/ref", Check::Semantic),
            ("/vulnerabilities/0/affects/0/ref", Check::Semantic),
        ],
        "{:#?}",
        r.problems
    );
}

#[test]
fn missing_schema_file_is_a_clear_error() {
    let dir = fixtures().join("cyclonedx/schema");
    let err = OfficialSchema::load(&dir, SpecVersion::V1_4).unwrap_err();
    assert!(err.to_string().contains("bom-1.4.schema.json"), "{err}");
}

#[test]
fn pointers_sort_numerically() {
    assert_eq!(
        compare_pointers("/components/2", "/components/10"),
        Ordering::Less
    );
    assert_eq!(compare_pointers("", "/a"), Ordering::Less);
}

#[test]
fn deepest_readable_document_validates_without_exhausting_the_stack() {
    // Components nested as deep as the reader allows: each level is an object and an array.
    let levels = stella_core::jcs::MAX_DEPTH / 2 - 1;
    let mut doc = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.7","components":"#);
    for i in 0..levels {
        doc.push_str(&format!(
            r#"[{{"type":"library","name":"c{i}","bom-ref":"c{i}","components":"#
        ));
    }
    doc.push_str("[]");
    doc.push_str(&"}]".repeat(levels));
    doc.push('}');
    assert!(report(doc.as_bytes(), None).is_valid());
    let schema_dir = fixtures().join("cyclonedx/schema");
    assert!(report(doc.as_bytes(), Some(&schema_dir)).is_valid());
}
