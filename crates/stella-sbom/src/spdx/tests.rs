use serde_json::{Value, json};
use stella_core::jcs::Limits;
use stella_core::{ErrorKind, Kinded};

use super::*;
use crate::model::Bom;

fn read(doc: &Value) -> Result<Value, SbomError> {
    let bytes = serde_json::to_vec(doc).expect("json");
    to_cyclonedx(&bytes, Limits::default(), SpdxLimits::default())
}

fn bom(value: &Value) -> Bom {
    serde_json::from_value(value.clone()).expect("the CycloneDX model")
}

fn spdx2() -> Value {
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "app-1.0",
        "documentNamespace": "https://example.com/spdx/app-1.0",
        "creationInfo": {
            "created": "2026-01-02T03:04:05Z",
            "creators": ["Tool: npm-cli-11.1.0", "Person: Jane Doe (jane@example.com)", "Organization: ACME"],
            "licenseListVersion": "3.25"
        },
        "documentDescribes": ["SPDXRef-app"],
        "packages": [
            {
                "SPDXID": "SPDXRef-app", "name": "app", "versionInfo": "1.0",
                "downloadLocation": "NOASSERTION", "filesAnalyzed": true,
                "primaryPackagePurpose": "APPLICATION",
                "licenseDeclared": "MIT", "licenseConcluded": "NOASSERTION",
                "supplier": "Organization: ACME (ops@acme.example)",
                "hasFiles": ["SPDXRef-main"],
                "packageVerificationCode": {"packageVerificationCodeValue": "d6a770ba38583ed4bb4525bd96e50461655d2758"},
                "externalRefs": [
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/app@1.0"}
                ]
            },
            {
                "SPDXID": "SPDXRef-lodash", "name": "lodash", "versionInfo": "4.17.21",
                "downloadLocation": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",
                "checksums": [
                    {"algorithm": "SHA1", "checksumValue": "679591C564C3BFFAAE8454CF0B3DF370C3D6911C"},
                    {"algorithm": "SHA224", "checksumValue": "00"}
                ],
                "originator": "Person: John-David Dalton",
                "externalRefs": [
                    {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/lodash@4.17.21"},
                    {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:lodash:lodash:4.17.21:*:*:*:*:*:*:*"},
                    {"referenceCategory": "OTHER", "referenceType": "swh", "referenceLocator": "swh:1:cnt:94a9ed024d3859793618152ea559a168bbcbb5e2"}
                ],
                "comment": "a comment"
            }
        ],
        "files": [
            {"SPDXID": "SPDXRef-main", "fileName": "./index.js",
             "checksums": [{"algorithm": "SHA1", "checksumValue": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"}]}
        ],
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-app"},
            {"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-lodash"},
            {"spdxElementId": "SPDXRef-app", "relationshipType": "DEV_DEPENDENCY_OF", "relatedSpdxElement": "SPDXRef-lodash"},
            {"spdxElementId": "SPDXRef-app", "relationshipType": "GENERATED_FROM", "relatedSpdxElement": "NOASSERTION"}
        ]
    })
}

fn props(c: &crate::model::Component) -> Vec<(String, String)> {
    c.properties
        .iter()
        .flatten()
        .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn detects_versions() {
    let parse = |s: &str| {
        stella_core::jcs::parse(s.as_bytes())
            .expect("json")
            .into_owned()
    };
    assert_eq!(
        detect(&parse(r#"{"spdxVersion":"SPDX-2.3"}"#)),
        Some(SpdxVersion::V2_3)
    );
    assert_eq!(
        detect(&parse(r#"{"spdxVersion":"SPDX-2.2"}"#)),
        Some(SpdxVersion::V2_2)
    );
    assert_eq!(
        detect(&parse(
            r#"{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}"#
        )),
        Some(SpdxVersion::V3_0)
    );
    assert_eq!(detect(&parse(r#"{"bomFormat":"CycloneDX"}"#)), None);
    assert_eq!(detect(&parse(r#"{"spdxVersion":"SPDX-1.2"}"#)), None);
}

#[test]
fn reads_spdx2_packages_files_and_relationships() {
    let out = read(&spdx2()).expect("reads");
    let b = bom(&out);
    let meta = b.metadata.as_ref().expect("metadata");
    assert_eq!(meta.timestamp.as_deref(), Some("2026-01-02T03:04:05Z"));
    let app = meta.component.as_deref().expect("the described package");
    assert_eq!(app.name, "app");
    assert_eq!(app.kind, "application");
    assert_eq!(app.purl.as_deref(), Some("pkg:npm/app@1.0"));
    // The file it contains is nested in it.
    let files = app.components.as_deref().expect("nested file");
    assert_eq!(files[0].name, "./index.js");
    assert_eq!(files[0].kind, "file");
    let app_props = props(app);
    assert!(
        app_props.contains(&(
            "spdx:packageVerificationCode".into(),
            r#"{"packageVerificationCodeValue":"d6a770ba38583ed4bb4525bd96e50461655d2758"}"#.into()
        )),
        "{app_props:?}"
    );
    assert!(app_props.contains(&(
        "spdx:relationship".into(),
        "GENERATED_FROM NOASSERTION".into()
    )));
    assert!(app_props.contains(&(
        "spdx:relationship".into(),
        "DEV_DEPENDENCY_OF SPDXRef-lodash".into()
    )));
    assert!(app_props.contains(&("spdx:licenseConcluded".into(), "NOASSERTION".into())));
    let lodash = &b.components.as_ref().expect("components")[0];
    assert_eq!(lodash.version.as_deref(), Some("4.17.21"));
    assert_eq!(
        lodash.hashes.as_ref().expect("hashes")[0].content,
        "679591c564c3bffaae8454cf0b3df370c3d6911c"
    );
    assert_eq!(
        lodash.extra["cpe"],
        json!("cpe:2.3:a:lodash:lodash:4.17.21:*:*:*:*:*:*:*")
    );
    assert_eq!(
        lodash.extra["authors"][0]["name"],
        json!("John-David Dalton")
    );
    let lp = props(lodash);
    assert!(
        lp.contains(&("spdx:checksum".into(), "SHA224: 00".into())),
        "{lp:?}"
    );
    assert!(lp.contains(&("spdx:comment".into(), "a comment".into())));
    assert!(
        lp.iter()
            .any(|(n, v)| n == "spdx:externalRef" && v.contains("swh:1:cnt"))
    );
    // Dependencies: app → lodash (DEPENDS_ON) and lodash → app (DEV_DEPENDENCY_OF reversed).
    let deps = b.dependencies.as_ref().expect("dependencies");
    let of = |r: &str| {
        deps.iter()
            .find(|d| d.reference == r)
            .and_then(|d| d.depends_on.clone())
            .unwrap_or_default()
    };
    assert_eq!(of("SPDXRef-app"), vec!["SPDXRef-lodash".to_owned()]);
    assert_eq!(of("SPDXRef-lodash"), vec!["SPDXRef-app".to_owned()]);
    let mp: Vec<_> = meta
        .properties
        .iter()
        .flatten()
        .map(|p| p.name.clone())
        .collect();
    assert!(mp.contains(&"spdx:documentNamespace".to_owned()), "{mp:?}");
    assert!(mp.contains(&"spdx:licenseListVersion".to_owned()));
    assert_eq!(meta.extra["authors"].as_array().map(Vec::len), Some(2));
    // The result is valid CycloneDX 1.7.
    let report = crate::validate::validate_value(
        &stella_core::jcs::Value::from_serde(&out).expect("jcs"),
        None,
    )
    .expect("validated");
    assert!(report.is_valid(), "{:?}", report.problems);
}

#[test]
fn reading_is_deterministic() {
    let a = read(&spdx2()).expect("reads");
    let mut reordered = spdx2();
    if let Some(p) = reordered["packages"].as_array_mut() {
        p.reverse();
    }
    let b = read(&reordered).expect("reads");
    assert_eq!(a, b);
}

#[test]
fn relationship_cycles_are_read() {
    let mut doc = spdx2();
    doc["relationships"] = json!([
        {"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-lodash"},
        {"spdxElementId": "SPDXRef-lodash", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-app"},
        {"spdxElementId": "SPDXRef-app", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-lodash"},
        {"spdxElementId": "SPDXRef-lodash", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-app"},
        {"spdxElementId": "SPDXRef-lodash", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-lodash"}
    ]);
    let b = bom(&read(&doc).expect("a cycle is read"));
    let deps = b.dependencies.expect("dependencies");
    assert!(deps.iter().any(|d| {
        d.reference == "SPDXRef-lodash"
            && d.depends_on
                .as_ref()
                .is_some_and(|t| t.contains(&"SPDXRef-app".to_owned()))
    }));
}

#[test]
fn unknown_ids_are_named() {
    let mut doc = spdx2();
    doc["relationships"][1]["relatedSpdxElement"] = json!("SPDXRef-missing");
    let err = read(&doc).unwrap_err();
    assert!(
        matches!(&err, SbomError::SpdxUnknownId { pointer, id } if pointer == "/relationships/1/relatedSpdxElement" && id == "SPDXRef-missing"),
        "{err}"
    );
    let mut doc = spdx2();
    doc["packages"][0]["hasFiles"] = json!(["SPDXRef-nope"]);
    let err = read(&doc).unwrap_err();
    assert!(
        matches!(&err, SbomError::SpdxUnknownId { pointer, .. } if pointer == "/packages/0/hasFiles/0"),
        "{err}"
    );
    let mut doc = spdx2();
    doc["packages"][1]["SPDXID"] = json!("SPDXRef-app");
    let err = read(&doc).unwrap_err();
    assert!(matches!(&err, SbomError::SpdxDuplicateId { .. }), "{err}");
    let mut doc = spdx2();
    doc["packages"][1]["name"] = json!(3);
    let err = read(&doc).unwrap_err();
    assert!(
        matches!(&err, SbomError::SpdxShape { pointer, .. } if pointer == "/packages/1/name"),
        "{err}"
    );
    let err = to_cyclonedx(
        br#"{"spdxVersion":"SPDX-2.3","SPDXID":"#,
        Limits::default(),
        SpdxLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, SbomError::Json(_)), "{err}");
    let err = read(&json!({"bomFormat": "CycloneDX"})).unwrap_err();
    assert!(matches!(err, SbomError::NotSpdx { .. }), "{err}");
}

fn many_packages(n: usize) -> Value {
    let packages: Vec<Value> = (0..n)
        .map(|i| json!({"SPDXID": format!("SPDXRef-p{i}"), "name": format!("p{i}"), "versionInfo": "1", "downloadLocation": "NOASSERTION"}))
        .collect();
    let relationships: Vec<Value> = (1..n)
        .map(|i| json!({"spdxElementId": format!("SPDXRef-p{}", i - 1), "relationshipType": "DEPENDS_ON", "relatedSpdxElement": format!("SPDXRef-p{i}")}))
        .collect();
    json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "many",
           "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: gen"]},
           "packages": packages, "relationships": relationships})
}

#[test]
fn limits_are_precise_errors() {
    let bytes = serde_json::to_vec(&many_packages(10)).expect("json");
    let limits = SpdxLimits {
        max_elements: 9,
        ..SpdxLimits::default()
    };
    let err = to_cyclonedx(&bytes, Limits::default(), limits).unwrap_err();
    assert!(
        matches!(
            err,
            SbomError::SpdxTooLarge {
                count: 10,
                limit: 9,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let limits = SpdxLimits {
        max_relationships: 8,
        ..SpdxLimits::default()
    };
    let err = to_cyclonedx(&bytes, Limits::default(), limits).unwrap_err();
    assert!(
        matches!(
            err,
            SbomError::SpdxTooLarge {
                what: "relationships",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_hundred_thousand_packages() {
    let bytes = serde_json::to_vec(&many_packages(100_000)).expect("json");
    let start = std::time::Instant::now();
    let out = to_cyclonedx(&bytes, Limits::default(), SpdxLimits::default()).expect("reads");
    assert_eq!(out["components"].as_array().map(Vec::len), Some(100_000));
    // Generous: a debug build on a shared 2-core machine.
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

fn spdx3() -> Value {
    json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": [
            {"type": "CreationInfo", "@id": "_:ci", "specVersion": "3.0.1", "created": "2026-01-02T03:04:05Z",
             "createdBy": ["urn:agent:jane"], "createdUsing": ["urn:tool:gen"]},
            {"type": "Person", "spdxId": "urn:agent:jane", "name": "Jane", "creationInfo": "_:ci"},
            {"type": "Tool", "spdxId": "urn:tool:gen", "name": "gen-2.0", "creationInfo": "_:ci"},
            {"type": "Organization", "spdxId": "urn:agent:acme", "name": "ACME", "creationInfo": "_:ci"},
            {"type": "SpdxDocument", "spdxId": "urn:doc", "name": "three", "creationInfo": "_:ci",
             "rootElement": ["urn:sbom"], "profileConformance": ["core", "software"]},
            {"type": "software_Sbom", "spdxId": "urn:sbom", "creationInfo": "_:ci", "rootElement": ["urn:pkg:app"],
             "element": ["urn:pkg:app", "urn:pkg:lib"]},
            {"type": "software_Package", "spdxId": "urn:pkg:app", "name": "app", "creationInfo": "_:ci",
             "software_packageVersion": "2.0", "software_primaryPurpose": "application",
             "software_packageUrl": "pkg:generic/app@2.0", "suppliedBy": "urn:agent:acme",
             "verifiedUsing": [{"type": "Hash", "algorithm": "sha256", "hashValue": "a".repeat(64)}]},
            {"type": "software_Package", "spdxId": "urn:pkg:lib", "name": "lib", "creationInfo": "_:ci",
             "software_packageVersion": "0.1",
             "externalIdentifier": [{"type": "ExternalIdentifier", "externalIdentifierType": "cpe23", "identifier": "cpe:2.3:a:x:lib:0.1:*:*:*:*:*:*:*"}]},
            {"type": "software_File", "spdxId": "urn:file:main", "name": "main.c", "creationInfo": "_:ci"},
            {"type": "Relationship", "spdxId": "urn:rel:1", "from": "urn:pkg:app", "relationshipType": "dependsOn", "to": ["urn:pkg:lib"], "creationInfo": "_:ci"},
            {"type": "Relationship", "spdxId": "urn:rel:2", "from": "urn:pkg:lib", "relationshipType": "dependsOn", "to": ["urn:pkg:app"], "creationInfo": "_:ci"},
            {"type": "Relationship", "spdxId": "urn:rel:3", "from": "urn:pkg:app", "relationshipType": "contains", "to": ["urn:file:main"], "creationInfo": "_:ci"},
            {"type": "Relationship", "spdxId": "urn:rel:4", "from": "urn:pkg:lib", "relationshipType": "hasDeclaredLicense", "to": ["urn:lic:1"], "creationInfo": "_:ci"},
            {"type": "simplelicensing_LicenseExpression", "spdxId": "urn:lic:1", "simplelicensing_licenseExpression": "Apache-2.0", "creationInfo": "_:ci"},
            {"type": "Annotation", "spdxId": "urn:note", "annotationType": "other", "subject": "urn:pkg:lib", "statement": "hi", "creationInfo": "_:ci"}
        ]
    })
}

#[test]
fn reads_spdx3() {
    let out = read(&spdx3()).expect("reads");
    let b = bom(&out);
    let meta = b.metadata.as_ref().expect("metadata");
    assert_eq!(meta.timestamp.as_deref(), Some("2026-01-02T03:04:05Z"));
    let app = meta.component.as_deref().expect("root");
    assert_eq!(
        (app.name.as_str(), app.version.as_deref()),
        ("app", Some("2.0"))
    );
    assert_eq!(app.kind, "application");
    assert_eq!(app.extra["supplier"]["name"], json!("ACME"));
    assert_eq!(app.components.as_ref().expect("nested")[0].name, "main.c");
    let lib = &b.components.as_ref().expect("components")[0];
    assert_eq!(lib.extra["licenses"][0]["expression"], json!("Apache-2.0"));
    assert_eq!(lib.extra["cpe"], json!("cpe:2.3:a:x:lib:0.1:*:*:*:*:*:*:*"));
    let deps = b.dependencies.as_ref().expect("deps");
    assert!(deps.iter().any(|d| d.reference == "urn:pkg:lib"
        && d.depends_on.as_deref() == Some(&["urn:pkg:app".to_owned()][..])));
    let mp: Vec<String> = meta
        .properties
        .iter()
        .flatten()
        .filter_map(|p| p.value.clone())
        .collect();
    assert!(
        mp.iter().any(|v| v.contains("urn:note")),
        "the annotation is kept: {mp:?}"
    );
    let report = crate::validate::validate_value(
        &stella_core::jcs::Value::from_serde(&out).expect("jcs"),
        None,
    )
    .expect("validated");
    assert!(report.is_valid(), "{:?}", report.problems);
}

#[test]
fn spdx3_errors() {
    let mut doc = spdx3();
    doc.as_object_mut().map(|o| o.remove("@graph"));
    let err = read(&doc).unwrap_err();
    assert!(
        matches!(&err, SbomError::SpdxShape { pointer, .. } if pointer == "/@graph"),
        "{err}"
    );
    let mut doc = spdx3();
    doc["@graph"][9]["to"] = json!(["urn:nowhere"]);
    let err = read(&doc).unwrap_err();
    assert!(
        matches!(&err, SbomError::SpdxUnknownId { pointer, .. } if pointer == "/@graph/9/to/0"),
        "{err}"
    );
}

fn cyclonedx() -> Value {
    let fp = format!("sha256:{}", "f".repeat(64));
    json!({
        "bomFormat": "CycloneDX", "specVersion": "1.7", "version": 1,
        "metadata": {
            "timestamp": "2026-03-04T05:06:07.123Z",
            "tools": {"components": [{"type": "application", "name": "stella", "version": "0.1.0"}]},
            "component": {"type": "container", "bom-ref": "pkg:oci/app@sha256%3A00", "name": "app", "version": "1.0"}
        },
        "components": [
            {"type": "application", "bom-ref": "file:/usr/bin/hello", "name": "hello",
             "hashes": [{"alg": "SHA-1", "content": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
                        {"alg": "SHA-256", "content": "b".repeat(64)}, {"alg": "BLAKE3", "content": "c".repeat(64)}],
             "properties": [{"name": "stella:path", "value": "/usr/bin/hello"}],
             "externalReferences": [{"type": "evidence", "url": format!("urn:stella:funcproof:{fp}"), "comment": "FuncProof (3 functions)"}]},
            {"type": "library", "bom-ref": "pkg:deb/debian/libc6@2.36", "name": "libc6", "version": "2.36",
             "purl": "pkg:deb/debian/libc6@2.36", "licenses": [{"expression": "LGPL-2.1-or-later"}],
             "supplier": {"name": "Debian"}, "group": "debian"},
            {"type": "library", "bom-ref": "pkg:deb/debian/libc6@2.36#x", "name": "libc6", "version": "2.36"}
        ],
        "dependencies": [
            {"ref": "pkg:oci/app@sha256%3A00", "dependsOn": ["file:/usr/bin/hello", "pkg:deb/debian/libc6@2.36"]},
            {"ref": "file:/usr/bin/hello", "dependsOn": ["pkg:deb/debian/libc6@2.36"]}
        ]
    })
}

#[test]
fn writes_spdx23_with_the_funcproof() {
    let spdx = to_spdx23(&cyclonedx()).expect("writes");
    assert_eq!(spdx["spdxVersion"], json!("SPDX-2.3"));
    assert_eq!(
        spdx["creationInfo"]["created"],
        json!("2026-03-04T05:06:07Z")
    );
    assert!(
        spdx["documentNamespace"]
            .as_str()
            .is_some_and(|n| n.starts_with(NAMESPACE_PREFIX))
    );
    let packages = spdx["packages"].as_array().expect("packages");
    let ids: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["SPDXID"].as_str())
        .collect();
    assert!(
        ids.iter()
            .all(|id| id.strip_prefix("SPDXRef-").is_some_and(|r| r
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))),
        "{ids:?}"
    );
    let unique: BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    let hello = packages
        .iter()
        .find(|p| p["name"] == json!("hello"))
        .expect("hello");
    assert_eq!(hello["filesAnalyzed"], json!(true));
    // One file whose SHA-1 is 2fd4e1c6…: the code is SHA-1 of that hex text.
    assert_eq!(
        hello["packageVerificationCode"]["packageVerificationCodeValue"],
        json!(write::verification_code([
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
        ]))
    );
    let refs = hello["externalRefs"].as_array().expect("refs");
    assert!(
        refs.iter()
            .any(|r| r["referenceType"] == json!(FUNCPROOF_REF_TYPE)
                && r["referenceCategory"] == json!("OTHER"))
    );
    let libc = packages
        .iter()
        .find(|p| p["name"] == json!("libc6") && p["externalRefs"].is_array())
        .expect("libc");
    assert_eq!(libc["licenseDeclared"], json!("LGPL-2.1-or-later"));
    assert_eq!(libc["supplier"], json!("Organization: Debian"));
    assert_eq!(libc["filesAnalyzed"], json!(false));
    // Deterministic.
    assert_eq!(spdx, to_spdx23(&cyclonedx()).expect("writes"));
}

use std::collections::BTreeSet;

#[test]
fn verification_code_is_sha1_of_sorted_sha1s() {
    // SHA-1 of the empty string, for no files.
    assert_eq!(
        write::verification_code([]),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
    assert_eq!(
        write::verification_code(["bb", "AA"]),
        write::verification_code(["aa", "bb"])
    );
}

#[test]
fn round_trip_keeps_names_versions_purls_hashes_dependencies() {
    let original = bom(&cyclonedx());
    let spdx = to_spdx23(&cyclonedx()).expect("writes");
    let back = bom(&read(&spdx).expect("reads back"));
    let key = |c: &crate::model::Component| {
        let mut hashes: Vec<(String, String)> = c
            .hashes
            .iter()
            .flatten()
            .map(|h| (h.alg.clone(), h.content.clone()))
            .collect();
        hashes.sort();
        (c.name.clone(), c.version.clone(), c.purl.clone(), hashes)
    };
    let mut before: Vec<_> = original.all_components().into_iter().map(key).collect();
    let mut after: Vec<_> = back
        .all_components()
        .into_iter()
        .filter(|c| c.kind != "file")
        .map(key)
        .collect();
    before.sort();
    after.sort();
    assert_eq!(before, after);
    // Dependencies by name.
    let names = |b: &Bom| {
        let by_ref: std::collections::HashMap<String, String> = b
            .all_components()
            .into_iter()
            .filter_map(|c| Some((c.bom_ref.clone()?, c.name.clone())))
            .collect();
        let mut edges = BTreeSet::new();
        for d in b.dependencies.iter().flatten() {
            for t in d.depends_on.iter().flatten() {
                if let (Some(a), Some(b)) = (by_ref.get(&d.reference), by_ref.get(t))
                    && b != "./usr/bin/hello"
                {
                    edges.insert((a.clone(), b.clone()));
                }
            }
        }
        edges
    };
    assert_eq!(names(&original), names(&back));
    // Properties come back under their own names, the FuncProof as evidence.
    let hello = back
        .all_components()
        .into_iter()
        .find(|c| c.name == "hello")
        .expect("hello");
    assert!(props(hello).contains(&("stella:path".into(), "/usr/bin/hello".into())));
    let fp = hello.external_references.as_ref().expect("refs");
    assert!(
        fp.iter()
            .any(|r| r.kind == "evidence" && r.url.starts_with("urn:stella:funcproof:sha256:"))
    );
}

#[test]
fn read_as_cyclonedx_takes_both() {
    let cdx = serde_json::to_vec(&cyclonedx()).expect("json");
    let r = read_as_cyclonedx(&cdx, Limits::default()).expect("CycloneDX");
    assert_eq!(r.spdx, None);
    let spdx = serde_json::to_vec(&spdx2()).expect("json");
    let r = read_as_cyclonedx(&spdx, Limits::default()).expect("SPDX");
    assert_eq!(r.spdx, Some(SpdxVersion::V2_3));
    assert_eq!(r.cyclonedx["specVersion"], json!("1.7"));
}

#[test]
fn cyclonedx_bytes_converts_only_spdx() {
    let cdx = serde_json::to_vec(&cyclonedx()).expect("json");
    assert!(!may_be_spdx(&cdx));
    assert_eq!(
        cyclonedx_bytes(cdx.clone(), Limits::default()).expect("kept"),
        cdx
    );
    let spdx = serde_json::to_vec(&spdx2()).expect("json");
    assert!(may_be_spdx(&spdx));
    let converted = cyclonedx_bytes(spdx, Limits::default()).expect("converted");
    let doc = crate::SbomDocument::read(&converted, Limits::default()).expect("CycloneDX");
    assert_eq!(doc.spec_version(), crate::SpecVersion::V1_7);
    // Mentioning SPDX is not being SPDX.
    let text = br#"{"bomFormat":"CycloneDX","specVersion":"1.7","x":"\"spdxVersion\""}"#.to_vec();
    assert_eq!(
        cyclonedx_bytes(text.clone(), Limits::default()).expect("kept"),
        text
    );
}
