use std::path::{Path, PathBuf};

use stella_core::jcs::Limits;

use super::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// Compiled schemas from the fixtures' schema directory, one per version, shared by the tests
/// (compiling is the slow part).
fn from_dir(dir: &Path, version: SpecVersion) -> &'static OfficialSchema {
    static CACHE: std::sync::Mutex<Vec<(PathBuf, SpecVersion, &'static OfficialSchema)>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().expect("cache lock");
    if let Some((_, _, s)) = cache.iter().find(|(d, v, _)| d == dir && *v == version) {
        return s;
    }
    let schema: &'static OfficialSchema = Box::leak(Box::new(
        OfficialSchema::load(dir, version.as_str()).expect("schema"),
    ));
    cache.push((dir.to_path_buf(), version, schema));
    schema
}

/// Validates a CycloneDX document: the embedded schema, or the one in `schema_dir`.
fn report(bytes: &[u8], schema_dir: Option<&Path>) -> Report {
    let doc = SbomDocument::read(bytes, Limits::default()).expect("a CycloneDX document");
    let schema = schema_dir.map(|d| from_dir(d, doc.spec_version()));
    validate(&doc, schema)
}

/// Validates any JSON document the way `stella sbom validate` does.
fn report_any(bytes: &[u8], schema_dir: Option<&Path>) -> Result<Report, SbomError> {
    let value = crate::read_any_json(bytes, Limits::default()).expect("JSON");
    validate_value(&value, schema_dir)
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

/// Every official 1.7 test document: `valid-*` pass and `invalid-*` fail, with the embedded
/// schema and with the same schema read from a directory. `invalid-bomformat` included: it is
/// an invalid document, not an unreadable one.
#[test]
fn every_valid_spec_document_passes_and_every_invalid_one_fails() {
    let schema_dir = fixtures().join("cyclonedx/schema");
    let (mut valid, mut invalid) = (0, 0);
    for (name, bytes) in spec_tests() {
        for dir in [None, Some(schema_dir.as_path())] {
            let r = report_any(&bytes, dir).unwrap_or_else(|e| panic!("{name}: {e}"));
            match dir {
                None => assert_eq!(r.schema, SchemaSource::Embedded(SpecVersion::V1_7)),
                Some(d) => assert_eq!(r.schema, SchemaSource::File(d.join("bom-1.7.schema.json"))),
            }
            if name.starts_with("valid-") {
                assert_only_known_collision(&name, &r);
            } else {
                assert!(!r.is_valid(), "{name} should be invalid");
            }
        }
        if name.starts_with("valid-") {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid >= 61 && invalid >= 29,
        "only {valid} valid and {invalid} invalid checked"
    );
}

/// The hand-written structural checks accepted a licence id that is not on the SPDX list; the
/// embedded schema (with its `spdx.schema.json`) refuses it, no schema directory needed.
#[test]
fn licence_ids_are_checked_without_a_schema_directory() {
    let bytes = std::fs::read(fixtures().join("cyclonedx/tests-1.7/invalid-license-id-1.7.json"))
        .expect("fixture");
    let r = report(&bytes, None);
    assert!(
        r.problems
            .iter()
            .any(|p| p.check == Check::Schema && p.pointer.contains("/licenses/")),
        "{:#?}",
        r.problems
    );
    // 1.4 refers to the licence list under another name: it is checked there too.
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.4","version":1,
      "components":[{"type":"library","name":"a","licenses":[{"license":{"id":"Apache-2"}}]},
                    {"type":"library","name":"b","licenses":[{"license":{"id":"Apache-2.0"}}]}]}"#;
    let r = report(doc, None);
    assert_eq!(r.schema, SchemaSource::Embedded(SpecVersion::V1_4));
    let pointers: Vec<_> = r.problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        ["/components/0/licenses/0/license/id"],
        "{:#?}",
        r.problems
    );
}

/// The regression of `invalid-bomformat-1.7.json`: a JSON document that is not CycloneDX is an
/// invalid document with its problems listed, not an error.
#[test]
fn documents_that_are_not_cyclonedx_are_invalid_with_problems() {
    let bytes = std::fs::read(fixtures().join("cyclonedx/tests-1.7/invalid-bomformat-1.7.json"))
        .expect("fixture");
    let r = report_any(&bytes, None).expect("a report");
    assert!(!r.is_valid());
    assert_eq!(r.spec_version.as_deref(), Some("1.7"));
    assert!(
        r.problems.iter().any(|p| p.pointer == "/bomFormat"),
        "{:#?}",
        r.problems
    );

    for (doc, pointer) in [
        (&br#"{"spdxVersion": "SPDX-2.3"}"#[..], ""),
        (
            br#"{"bomFormat": "SPDX", "specVersion": "2.3"}"#,
            "/bomFormat",
        ),
        (br#"{"bomFormat": "CycloneDX"}"#, ""),
        (b"[1]", ""),
    ] {
        let r = report_any(doc, None).expect("a report");
        assert!(!r.is_valid(), "{}", String::from_utf8_lossy(doc));
        assert_eq!(r.spec_version, None);
        assert_eq!(r.schema, SchemaSource::Embedded(SpecVersion::WRITTEN));
        assert!(
            r.problems
                .iter()
                .any(|p| p.pointer == pointer && p.check == Check::Schema),
            "{}: {:#?}",
            String::from_utf8_lossy(doc),
            r.problems
        );
    }
}

#[test]
fn real_generator_sboms_are_valid_with_embedded_and_directory_schemas() {
    let schema_dir = fixtures().join("cyclonedx/schema");
    for name in [
        "cyclonedx-py-7.5.0-spec1.7.json",
        "cdxgen-12.8.4-spec1.7.json",
        "cargo-cyclonedx-0.5.9-spec1.5.json",
    ] {
        let bytes = std::fs::read(fixtures().join("sbom").join(name)).expect("fixture");
        let embedded = report(&bytes, None);
        assert!(embedded.is_valid(), "{name}: {:#?}", embedded.problems);
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
    let err = OfficialSchema::load(&dir, "1.4").unwrap_err();
    assert!(err.to_string().contains("bom-1.4.schema.json"), "{err}");
    assert_eq!(
        stella_core::Kinded::kind(&err),
        stella_core::ErrorKind::NotFound
    );
}

/// `--schema-dir` serves versions newer than the embedded ones: a `bom-1.8.schema.json` in the
/// directory checks 1.8 documents (its companions taken from the embedded copies); without it a
/// 1.8 document cannot be judged, and the error says which file is missing. For an embedded
/// version absent from the directory, the embedded schema serves.
#[test]
fn a_schema_directory_serves_newer_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc_1_8 = br#"{"bomFormat":"CycloneDX","specVersion":"1.8","version":1,
        "components":[{"type":"library","name":"a","licenses":[{"license":{"id":"Apache-2"}}]}]}"#;

    let err = report_any(doc_1_8, None).unwrap_err();
    assert!(
        matches!(&err, SbomError::UnsupportedSpecVersion { found } if found == "1.8"),
        "{err}"
    );
    let err = report_any(doc_1_8, Some(dir.path())).unwrap_err();
    assert!(err.to_string().contains("bom-1.8.schema.json"), "{err}");

    let mut schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("cyclonedx/schema/bom-1.7.schema.json")).expect("1.7"),
    )
    .expect("JSON");
    schema["$id"] = "http://cyclonedx.org/schema/bom-1.8.schema.json".into();
    std::fs::write(
        dir.path().join("bom-1.8.schema.json"),
        serde_json::to_vec(&schema).expect("JSON"),
    )
    .expect("written");
    let r = report_any(doc_1_8, Some(dir.path())).expect("a report");
    assert_eq!(r.spec_version.as_deref(), Some("1.8"));
    assert_eq!(
        r.schema,
        SchemaSource::File(dir.path().join("bom-1.8.schema.json"))
    );
    let pointers: Vec<_> = r.problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        ["/components/0/licenses/0/license/id"],
        "{:#?}",
        r.problems
    );

    let doc_1_6 = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1}"#;
    let r = report_any(doc_1_6, Some(dir.path())).expect("a report");
    assert_eq!(r.schema, SchemaSource::Embedded(SpecVersion::V1_6));
    assert!(r.is_valid(), "{:#?}", r.problems);
}

#[test]
fn a_schema_that_is_not_json_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bom-1.7.schema.json"), "{").expect("written");
    let err = report_any(
        br#"{"bomFormat":"CycloneDX","specVersion":"1.7"}"#,
        Some(dir.path()),
    )
    .unwrap_err();
    assert!(
        matches!(&err, SbomError::Schema { path, source: SchemaFileError::NotJson(_) }
            if path.ends_with("bom-1.7.schema.json")),
        "{err}"
    );
    assert_eq!(
        stella_core::Kinded::kind(&err),
        stella_core::ErrorKind::Invalid
    );
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
