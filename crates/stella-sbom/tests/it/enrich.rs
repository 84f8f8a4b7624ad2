//! Enriching SBOMs written by real generators (cyclonedx-py, cdxgen, cargo-cyclonedx) and small
//! hand-made ones: each match kind, validity against the official schema of the version written,
//! determinism, the spec version kept or upgraded, and the new revision (`version`,
//! `serialNumber`) of a changed document.

use serde_json::{Value, json};
use stella_sbom::enrich::{EnrichReport, Match, enrich};
use stella_sbom::generate::{BinaryFacts, GenerateOptions, Subject};
use stella_sbom::rootfs::{Inventory, InventoryLimits, read_inventory};
use stella_sbom::{SbomError, SpecVersion, parse_auditable};

use crate::common::{assert_valid_as, binary, canonical, fixtures, funcproof, python_tree};

fn sbom(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("sbom").join(name)).unwrap()
}

fn options() -> GenerateOptions {
    GenerateOptions {
        timestamp: Some("2030-01-01T00:00:00Z".to_owned()),
        tool_version: "0.1.0".to_owned(),
    }
}

fn subject() -> Subject {
    Subject {
        name: "app".to_owned(),
        version: Some("1.0".to_owned()),
        image_digest: None,
        image_ref: None,
    }
}

/// Enriches in the document's own version (checked valid against that version's schema).
fn run(external: &[u8], inventory: &Inventory, binaries: &[BinaryFacts]) -> (Value, EnrichReport) {
    run_as(external, inventory, binaries, None)
}

/// Enriches in `spec_version` (`None`: the document's own), checks the result against the
/// official schema of the version it declares, and that it is deterministic.
fn run_as(
    external: &[u8],
    inventory: &Inventory,
    binaries: &[BinaryFacts],
    spec_version: Option<SpecVersion>,
) -> (Value, EnrichReport) {
    let (doc, report) = enrich(
        external,
        inventory,
        binaries,
        &subject(),
        &options(),
        spec_version,
    )
    .unwrap();
    let declared: Value = serde_json::from_slice(external).unwrap();
    let expected =
        spec_version.unwrap_or_else(|| declared["specVersion"].as_str().unwrap().parse().unwrap());
    assert_valid_as(&doc, expected);
    // Deterministic, and independent of the order the binaries come in.
    let mut reversed = binaries.to_vec();
    reversed.reverse();
    let (again, again_report) = enrich(
        external,
        inventory,
        &reversed,
        &subject(),
        &options(),
        spec_version,
    )
    .unwrap();
    assert_eq!(canonical(&doc), canonical(&again));
    assert_eq!(report, again_report);
    (doc, report)
}

fn find<'a>(list: &'a Value, bom_ref: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no {bom_ref} in {list:#}"))
}

fn depends_on(doc: &Value, bom_ref: &str) -> Vec<String> {
    find_dependency(doc, bom_ref)["dependsOn"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn find_dependency<'a>(doc: &'a Value, bom_ref: &str) -> &'a Value {
    doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no dependencies entry for {bom_ref}"))
}

fn stella_property<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["value"].as_str())
}

#[test]
fn cyclonedx_py_purl_match_and_an_appended_os_package() {
    let original: Value = serde_json::from_slice(&sbom("cyclonedx-py-7.5.0-spec1.7.json")).unwrap();
    let t = python_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let so_path =
        "/usr/local/lib/python3.11/site-packages/arrow/_speedups.cpython-311-x86_64-linux-gnu.so";
    let mut so = binary(so_path, "shared-library", 1);
    so.needed = vec!["libc.so.6".to_owned()];
    so.funcproof = funcproof(7, 12);
    let mut libc = binary("/usr/lib/x86_64-linux-gnu/libc.so.6", "shared-library", 2);
    libc.soname = Some("libc.so.6".to_owned());
    let mut python = binary("/usr/local/bin/python3.11", "executable", 3);
    python.needed = vec!["libc.so.6".to_owned()];
    let binaries = [so, libc, python];
    let (doc, report) = run(&sbom("cyclonedx-py-7.5.0-spec1.7.json"), &inv, &binaries);

    assert_eq!(
        report.matched,
        [Match {
            path: so_path.to_owned(),
            bom_ref: "arrow==1.4.0".to_owned(),
            by: "purl"
        }]
    );
    assert_eq!(
        report.added,
        [
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/local/bin/python3.11"
        ]
    );

    // The .so is nested in the arrow package component, as `generate` writes it.
    let arrow = find(&doc["components"], "arrow==1.4.0");
    let nested = find(&arrow["components"], &format!("file:{so_path}"));
    assert_eq!(nested["type"], "library");
    assert_eq!(
        nested["externalReferences"][0]["url"],
        format!("urn:stella:funcproof:sha256:{}", "07".repeat(32))
    );
    // libc6 is not in a Python SBOM: its package is appended, holding the binary.
    let libc_purl = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12";
    let libc6 = find(&doc["components"], libc_purl);
    assert_eq!(
        libc6["components"][0]["bom-ref"],
        "file:/usr/lib/x86_64-linux-gnu/libc.so.6"
    );
    find(&doc["components"], "file:/usr/local/bin/python3.11");

    assert_eq!(
        depends_on(&doc, &format!("file:{so_path}")),
        ["file:/usr/lib/x86_64-linux-gnu/libc.so.6"]
    );
    assert_eq!(
        depends_on(&doc, "file:/usr/local/bin/python3.11"),
        ["file:/usr/lib/x86_64-linux-gnu/libc.so.6"]
    );
    // The generator's own dependency entries are kept as they were.
    assert_eq!(
        depends_on(&doc, "arrow==1.4.0"),
        ["python-dateutil==4.0.0", "tzdata==2026.6"]
    );

    // Everything else verbatim; specVersion stays 1.7; Stella joins the tools; the subject
    // becomes metadata.component (the generator wrote none) depending on the top level.
    let originals = original["components"].as_array().unwrap();
    let components = doc["components"].as_array().unwrap();
    assert_eq!(components.len(), originals.len() + 2);
    for (before, after) in originals.iter().zip(components) {
        if before["bom-ref"] != "arrow==1.4.0" {
            assert_eq!(before, after);
        }
    }
    // A new revision: version 1 + 1, and a serial derived from the content (it had none).
    assert_eq!(doc["version"], 2);
    let serial = doc["serialNumber"].as_str().unwrap();
    assert!(serial.starts_with("urn:uuid:"), "{serial}");
    assert_eq!(doc["specVersion"], "1.7");
    assert_eq!(doc["$schema"], original["$schema"]);
    let tools = doc["metadata"]["tools"]["components"].as_array().unwrap();
    assert_eq!(tools.len(), 3);
    assert_eq!(tools[2]["name"], "stella");
    assert_eq!(
        doc["metadata"]["properties"],
        original["metadata"]["properties"]
    );
    assert!(doc["metadata"].get("timestamp").is_none());
    let meta = &doc["metadata"]["component"];
    assert_eq!(meta["bom-ref"], "subject:app@1.0");
    assert_eq!(
        depends_on(&doc, "subject:app@1.0").len(),
        components.len(),
        "the new metadata component depends on every top-level component"
    );

    // Enriching again changes nothing: the binaries now match by their stella:path.
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (twice, report) = enrich(&bytes, &inv, &binaries, &subject(), &options(), None).unwrap();
    assert_eq!(
        canonical(&twice),
        canonical(&doc),
        "unchanged: same serial, same version"
    );
    assert!(report.matched.iter().all(|m| m.by == "path"), "{report:?}");
    assert!(report.added.is_empty());
}

#[test]
fn cdxgen_path_match_through_its_path_property() {
    let original: Value = serde_json::from_slice(&sbom("cdxgen-12.8.4-spec1.7.json")).unwrap();
    // cdxgen records where it found a component in `SrcFile`, relative to the scanned root.
    let file = binary("/research/npmtest/package-lock.json", "other", 4);
    let loose = binary("/usr/bin/loose", "executable", 5);
    let (doc, report) = run(
        &sbom("cdxgen-12.8.4-spec1.7.json"),
        &Inventory::default(),
        &[file, loose],
    );
    assert_eq!(
        report.matched,
        [Match {
            path: "/research/npmtest/package-lock.json".to_owned(),
            bom_ref: "pkg:npm/canonicalize@5.1.0".to_owned(),
            by: "path"
        }]
    );
    assert_eq!(report.added, ["/usr/bin/loose"]);

    let c = find(&doc["components"], "pkg:npm/canonicalize@5.1.0");
    let algs: Vec<&str> = c["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["alg"].as_str().unwrap())
        .collect();
    assert_eq!(
        algs,
        ["SHA-512", "BLAKE3", "SHA-256"],
        "existing hashes kept"
    );
    assert_eq!(
        stella_property(c, "SrcFile"),
        Some("research/npmtest/package-lock.json")
    );
    assert_eq!(
        stella_property(c, "stella:path"),
        Some("/research/npmtest/package-lock.json")
    );
    let identity = c["evidence"]["identity"].as_array().unwrap();
    assert_eq!(identity.len(), 2);
    assert_eq!(
        identity[0],
        original["components"][0]["evidence"]["identity"][0]
    );
    assert_eq!(identity[1]["field"], "hash");
    assert_eq!(
        c["evidence"]["occurrences"],
        json!([{"location": "/research/npmtest/package-lock.json"}])
    );
    assert_eq!(c["type"], "library", "the component's own fields are kept");

    // The same BOM (serial) at its next version, still 1.7; its timestamp kept.
    assert_eq!(doc["serialNumber"], original["serialNumber"]);
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["specVersion"], "1.7");
    assert_eq!(
        doc["metadata"]["timestamp"],
        original["metadata"]["timestamp"]
    );
    assert_eq!(doc["annotations"], original["annotations"]);
    assert_eq!(
        doc["metadata"]["component"],
        original["metadata"]["component"]
    );
    assert_eq!(
        depends_on(&doc, "pkg:npm/npmtest@1.0.0"),
        ["pkg:npm/canonicalize@5.1.0", "file:/usr/bin/loose"]
    );
    // The generator's empty dependsOn stays as written.
    assert_eq!(
        find_dependency(&doc, "pkg:npm/canonicalize@5.1.0")["dependsOn"],
        json!([])
    );
    let tools = doc["metadata"]["tools"]["components"].as_array().unwrap();
    assert_eq!(tools.last().unwrap()["name"], "stella");
}

#[test]
fn cargo_cyclonedx_hash_and_root_crate_matches_in_a_1_5_document() {
    let original: Value =
        serde_json::from_slice(&sbom("cargo-cyclonedx-0.5.9-spec1.5.json")).unwrap();
    let mut tool = binary("/usr/local/bin/jcs-check", "executable", 6);
    tool.auditable = parse_auditable(
        br#"{"packages":[
            {"name":"jcs-check","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},
            {"name":"hex","version":"0.4.3","source":"crates.io"},
            {"name":"serde_json","version":"1.0.154","source":"crates.io"},
            {"name":"not-in-the-sbom","version":"9.9.9","source":"crates.io"}]}"#,
    )
    .unwrap();
    tool.funcproof = funcproof(8, 40);
    // Same bytes as the block-buffer crate archive the generator hashed.
    let mut same = binary("/usr/share/block-buffer.crate", "other", 9);
    same.sha256 = "3078c7629b62d3f0439517fa394996acacc5cbc91c5a20d8c658e77abd503a71".to_owned();
    let (doc, report) = run(
        &sbom("cargo-cyclonedx-0.5.9-spec1.5.json"),
        &Inventory::default(),
        &[tool, same],
    );
    let root_ref = "path+file:///src/jcs-check#0.1.0";
    let block_ref =
        "registry+https://github.com/rust-lang/crate-registry-index#block-buffer@0.10.4";
    assert_eq!(
        report.matched,
        [
            Match {
                path: "/usr/local/bin/jcs-check".to_owned(),
                bom_ref: root_ref.to_owned(),
                by: "purl"
            },
            Match {
                path: "/usr/share/block-buffer.crate".to_owned(),
                bom_ref: block_ref.to_owned(),
                by: "hash"
            },
        ]
    );
    assert!(report.added.is_empty());

    // Still 1.5 (run checked it against the 1.5 schema); the same BOM's next revision.
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["serialNumber"], original["serialNumber"]);
    assert_eq!(doc["version"], 2);
    // The legacy tools array is still valid 1.5: kept, with Stella added in the same form.
    assert_eq!(
        doc["metadata"]["tools"],
        json!([
            {"vendor": "CycloneDX", "name": "cargo-cyclonedx", "version": "0.5.9"},
            {"name": "stella", "version": "0.1.0"}
        ])
    );

    // The binary is nested in the root crate's component (the first with its purl).
    let root = &doc["metadata"]["component"];
    assert_eq!(root["bom-ref"], root_ref);
    let nested = find(&root["components"], "file:/usr/local/bin/jcs-check");
    assert_eq!(nested["type"], "application");
    // 1.5 holds one identity object, without the concludedValue 1.6 added.
    assert_eq!(
        nested["evidence"]["identity"],
        json!({"field": "hash", "confidence": 1, "methods": [
            {"technique": "binary-analysis", "confidence": 1, "value": format!("gnu-build-id:{}", "06".repeat(20))}
        ]})
    );
    assert_eq!(root["components"].as_array().unwrap().len(), 2);

    // The hash match enriched the crate component in place.
    let block = find(&doc["components"], block_ref);
    assert_eq!(
        block["hashes"].as_array().unwrap().len(),
        2,
        "SHA-256 present, BLAKE3 added"
    );
    assert_eq!(
        stella_property(block, "stella:path"),
        Some("/usr/share/block-buffer.crate")
    );

    // A crate the generator did not list is appended; the embedded edges are merged.
    let extra = find(&doc["components"], "pkg:cargo/not-in-the-sbom@9.9.9");
    assert_eq!(extra["purl"], "pkg:cargo/not-in-the-sbom@9.9.9");
    let root_deps = depends_on(&doc, root_ref);
    let original_root_deps = original["dependencies"][0]["dependsOn"].as_array().unwrap();
    assert_eq!(root_deps.len(), original_root_deps.len() + 1);
    assert_eq!(root_deps.last().unwrap(), "pkg:cargo/not-in-the-sbom@9.9.9");
    assert!(
        depends_on(&doc, "file:/usr/local/bin/jcs-check").is_empty(),
        "the root crate is the binary's parent, not a dependency"
    );
}

/// A small document for the corner cases.
fn hand_made(components: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 7,
        "components": components,
    }))
    .unwrap()
}

#[test]
fn path_strength_ambiguity_and_conflicting_hashes() {
    let external = hand_made(json!([
        // Occurrence evidence, with a 1.5-style single identity object.
        {"type": "file", "name": "a", "evidence": {
            "identity": {"field": "name", "confidence": 0.5},
            "occurrences": [{"location": "/opt/a"}]}},
        // Two components share a weak path: ambiguous, no path match for /opt/b.
        {"type": "library", "name": "b1", "bom-ref": "b1", "properties": [{"name": "SrcFile", "value": "opt/b"}]},
        {"type": "library", "name": "b2", "bom-ref": "b2", "properties": [{"name": "SrcFile", "value": "opt/b"}]},
        // A strong path whose recorded hash differs: another file, not this one.
        {"type": "file", "name": "c", "bom-ref": "c",
         "hashes": [{"alg": "SHA-256", "content": "ff".repeat(32)}],
         "properties": [{"name": "syft:location:0:path", "value": "/opt/c"}]}
    ]));
    let a = binary("/opt/a", "executable", 1);
    let b = binary("/opt/b", "executable", 2);
    let c = binary("/opt/c", "executable", 3);
    let (doc, report) = run(&external, &Inventory::default(), &[a, b, c]);
    assert_eq!(
        report.matched,
        [Match {
            path: "/opt/a".to_owned(),
            bom_ref: "file:/opt/a".to_owned(),
            by: "path"
        }]
    );
    assert_eq!(report.added, ["/opt/b", "/opt/c"]);
    let a = &doc["components"][0];
    assert_eq!(
        a["bom-ref"], "file:/opt/a",
        "a bom-ref is given where one is needed"
    );
    // 1.5 holds one identity: the document's own is kept (the hash is among the hashes).
    assert_eq!(
        a["evidence"]["identity"],
        json!({"field": "name", "confidence": 0.5})
    );
    assert_eq!(doc["version"], 8);
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(
        doc["metadata"]["tools"],
        json!({"components": [{"type": "application", "name": "stella", "version": "0.1.0"}]})
    );
    assert_eq!(doc["metadata"]["component"]["bom-ref"], "subject:app@1.0");
    // A bom-ref already taken gets a suffix.
    let taken = hand_made(json!([{"type": "file", "name": "x", "bom-ref": "file:/opt/c"}]));
    let (doc, report) = run(
        &taken,
        &Inventory::default(),
        &[binary("/opt/c", "executable", 3)],
    );
    assert_eq!(report.added, ["/opt/c"]);
    find(&doc["components"], "file:/opt/c#2");
}

#[test]
fn not_cyclonedx_or_bad_facts_are_errors() {
    let err = enrich(
        br#"{"spdxVersion": "SPDX-2.3"}"#,
        &Inventory::default(),
        &[],
        &subject(),
        &options(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, SbomError::IsSpdx { .. }), "{err}");
    let mut bad = binary("/a", "executable", 1);
    bad.sha256 = "nope".to_owned();
    let err = enrich(
        &hand_made(json!([])),
        &Inventory::default(),
        &[bad],
        &subject(),
        &options(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, SbomError::InvalidInput { .. }), "{err}");
}

#[test]
fn a_changed_document_is_the_next_revision_of_the_same_bom() {
    let external = hand_made(json!([{"type": "file", "name": "a", "bom-ref": "a",
        "evidence": {"occurrences": [{"location": "/opt/a"}]}}]));
    let a = binary("/opt/a", "executable", 1);
    let (doc, _) = run(&external, &Inventory::default(), std::slice::from_ref(&a));
    assert_eq!(
        doc["serialNumber"],
        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    );
    assert_eq!(doc["version"], 8);

    // Nothing new: the document comes back as it went in, version and serial included.
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (same, _) = run(&bytes, &Inventory::default(), std::slice::from_ref(&a));
    assert_eq!(canonical(&same), canonical(&doc));

    // Another binary: the next revision again, of the same BOM.
    let b = binary("/opt/b", "executable", 2);
    let (next, report) = run(&bytes, &Inventory::default(), &[a, b]);
    assert_eq!(report.added, ["/opt/b"]);
    assert_eq!(next["serialNumber"], doc["serialNumber"]);
    assert_eq!(next["version"], 9);
}

#[test]
fn a_document_without_a_serial_number_gets_one_named_by_its_content() {
    let without = |extra: Value| {
        let mut doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []});
        if let Value::Object(extra) = extra {
            doc.as_object_mut().unwrap().extend(extra);
        }
        serde_json::to_vec(&doc).unwrap()
    };
    let a = binary("/opt/a", "executable", 1);
    // No version: the schema's default, 1, so this is 2.
    let (doc, _) = run(
        &without(json!({})),
        &Inventory::default(),
        std::slice::from_ref(&a),
    );
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["specVersion"], "1.6");
    let serial = doc["serialNumber"].as_str().unwrap().to_owned();
    let uuid = serial.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(&uuid[14..15], "5", "{serial}");
    // Same input, same serial (run checked the bytes); other facts, another serial.
    let (other, _) = run(
        &without(json!({})),
        &Inventory::default(),
        &[binary("/opt/a", "executable", 2)],
    );
    assert_ne!(other["serialNumber"], doc["serialNumber"]);
    // The 1.6 identity list, with its concluded value.
    let identity = &doc["components"][0]["evidence"]["identity"];
    assert_eq!(identity[0]["concludedValue"], "01".repeat(32));

    // A version that has no next is refused, naming it.
    for bad in [
        json!(0),
        json!("1"),
        json!(1.5),
        json!(9_007_199_254_740_991_u64),
    ] {
        let err = enrich(
            &without(json!({ "version": bad })),
            &Inventory::default(),
            std::slice::from_ref(&a),
            &subject(),
            &options(),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, SbomError::NotCycloneDx { pointer, .. } if pointer == "/version"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_spec_version_is_kept_unless_a_later_one_is_asked_for() {
    let cargo = sbom("cargo-cyclonedx-0.5.9-spec1.5.json");
    let original: Value = serde_json::from_slice(&cargo).unwrap();
    let tool = binary("/usr/local/bin/jcs-check", "executable", 6);
    for asked in [SpecVersion::V1_6, SpecVersion::V1_7] {
        // run_as checks the document against the schema of the version asked for.
        let (doc, _) = run_as(
            &cargo,
            &Inventory::default(),
            std::slice::from_ref(&tool),
            Some(asked),
        );
        assert_eq!(doc["specVersion"], asked.as_str());
        assert_eq!(doc["serialNumber"], original["serialNumber"]);
        assert_eq!(doc["version"], 2);
        let added = find(&doc["components"], "file:/usr/local/bin/jcs-check");
        assert_eq!(
            added["evidence"]["identity"][0]["concludedValue"],
            "06".repeat(32)
        );
    }
    // Asking for the document's own version is the default.
    let (own, _) = run_as(
        &cargo,
        &Inventory::default(),
        std::slice::from_ref(&tool),
        Some(SpecVersion::V1_5),
    );
    let (default, _) = run(&cargo, &Inventory::default(), std::slice::from_ref(&tool));
    assert_eq!(canonical(&own), canonical(&default));

    // `$schema` names the version written: kept with the version, replaced on an upgrade.
    let mut with_schema: Value = serde_json::from_slice(&hand_made(json!([]))).unwrap();
    with_schema["$schema"] = json!("http://cyclonedx.org/schema/bom-1.5.schema.json");
    let with_schema = serde_json::to_vec(&with_schema).unwrap();
    let (kept, _) = run(
        &with_schema,
        &Inventory::default(),
        std::slice::from_ref(&tool),
    );
    assert_eq!(
        kept["$schema"],
        "http://cyclonedx.org/schema/bom-1.5.schema.json"
    );
    let (upgraded, _) = run_as(
        &with_schema,
        &Inventory::default(),
        std::slice::from_ref(&tool),
        Some(SpecVersion::V1_7),
    );
    assert_eq!(
        upgraded["$schema"],
        "http://cyclonedx.org/schema/bom-1.7.schema.json"
    );

    // Never an earlier version than the document's.
    let err = enrich(
        &sbom("cdxgen-12.8.4-spec1.7.json"),
        &Inventory::default(),
        std::slice::from_ref(&tool),
        &subject(),
        &options(),
        Some(SpecVersion::V1_5),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SbomError::SpecVersionDowngrade {
                document: SpecVersion::V1_7,
                asked: SpecVersion::V1_5
            }
        ),
        "{err}"
    );
}

#[test]
fn a_1_4_document_cannot_hold_binary_evidence() {
    let v1_4 = serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "components": [{"type": "library", "name": "x", "version": "1.0"}],
    }))
    .unwrap();
    let a = binary("/opt/a", "executable", 1);
    let err = enrich(
        &v1_4,
        &Inventory::default(),
        std::slice::from_ref(&a),
        &subject(),
        &options(),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SbomError::SpecVersionCannotHold {
                version: SpecVersion::V1_4,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("evidence.occurrences") && text.contains("1.5 or later"),
        "{text}"
    );
    // Asked for 1.5, it is upgraded and holds it.
    let (doc, _) = run_as(
        &v1_4,
        &Inventory::default(),
        std::slice::from_ref(&a),
        Some(SpecVersion::V1_5),
    );
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["version"], 2);
    // Without binaries it stays 1.4, Stella listed in the 1.4 tools form.
    let (doc, _) = run(&v1_4, &Inventory::default(), &[]);
    assert_eq!(doc["specVersion"], "1.4");
    assert_eq!(
        doc["metadata"]["tools"],
        json!([{"name": "stella", "version": "0.1.0"}])
    );
}

#[test]
fn a_1_5_document_holds_everything_stella_adds() {
    use stella_sbom::EmbeddedComponent;
    let t = python_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let mut go = binary("/usr/local/bin/server", "executable", 1);
    go.other_paths = vec!["/opt/server".to_owned()];
    go.funcproof = funcproof(1, 3);
    go.embedded =
        vec![EmbeddedComponent::go_module("golang.org/x/net", "v0.17.0", "dep in server").unwrap()];
    let mut libc = binary("/usr/lib/x86_64-linux-gnu/libc.so.6", "shared-library", 2);
    libc.soname = Some("libc.so.6".to_owned());
    go.needed = vec!["libc.so.6".to_owned()];
    let mut rust = binary("/usr/local/bin/tool", "executable", 3);
    rust.auditable = parse_auditable(
        br#"{"packages":[{"name":"tool","version":"0.1.0","source":"local","dependencies":[1],"root":true},
            {"name":"hex","version":"0.4.3","source":"crates.io"}]}"#,
    )
    .unwrap();
    // A component with a 1.5 identity that the binary matches by path.
    let external = hand_made(json!([{"type": "application", "name": "tool",
        "evidence": {"identity": {"field": "name", "confidence": 0.5},
                     "occurrences": [{"location": "/usr/local/bin/tool"}]}}]));
    // run checks the result against the 1.5 schema.
    let (doc, report) = run(&external, &inv, &[go, libc, rust]);
    assert_eq!(report.matched.len(), 1, "{report:?}");
    assert_eq!(doc["specVersion"], "1.5");
    let server = find(&doc["components"], "file:/usr/local/bin/server");
    let nested = &server["components"][0];
    assert_eq!(nested["evidence"]["identity"]["field"], "purl");
    assert!(
        nested["evidence"]["identity"]
            .get("concludedValue")
            .is_none()
    );
}
