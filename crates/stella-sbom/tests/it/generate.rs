//! SBOM generation: structure, links, validity against the official 1.7 schema, determinism.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use stella_sbom::generate::{BinaryFacts, GenerateOptions, Subject, generate};
use stella_sbom::rootfs::{Inventory, InventoryLimits, read_inventory};
use stella_sbom::{SbomError, parse_auditable};

use crate::common::{
    alpine_tree, assert_valid, binary, canonical, debian_tree, funcproof, python_tree,
};

pub const AUDITABLE: &str = r#"{"format":1,"packages":[
    {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},
    {"name":"serde","version":"1.0.228","source":"crates.io"},
    {"name":"cc","version":"1.2.0","source":"crates.io","kind":"build"}]}"#;

fn options() -> GenerateOptions {
    GenerateOptions {
        timestamp: None,
        tool_version: "0.1.0".to_owned(),
    }
}

fn image_subject() -> Subject {
    Subject {
        name: "team/app".to_owned(),
        version: Some("1.0".to_owned()),
        image_digest: Some(format!("sha256:{}", "ab".repeat(32))),
        image_ref: Some("registry.example.com/team/app:1.0".to_owned()),
    }
}

/// Binaries of the Debian tree, plus an application outside any package.
fn debian_binaries() -> Vec<BinaryFacts> {
    let mut libc = binary("/usr/lib/x86_64-linux-gnu/libc.so.6", "shared-library", 1);
    libc.soname = Some("libc.so.6".to_owned());
    libc.needed = vec!["ld-linux-x86-64.so.2".to_owned()];
    let mut libc_copy = binary("/opt/vendor/lib/libc.so.6", "shared-library", 2);
    libc_copy.soname = Some("libc.so.6".to_owned());
    let mut libgcc = binary(
        "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
        "shared-library",
        3,
    );
    libgcc.soname = Some("libgcc_s.so.1".to_owned());
    libgcc.needed = vec!["libc.so.6".to_owned()];
    let mut bash = binary("/usr/bin/bash", "executable", 4);
    bash.other_paths = vec!["/usr/bin/bash.hardlink".to_owned()];
    bash.needed = vec!["libtinfo.so.6".to_owned(), "libc.so.6".to_owned()];
    bash.funcproof = funcproof(9, 1234);
    let mut tool = binary("/opt/app/tool", "executable", 5);
    tool.build_id_source = "fallback".to_owned();
    tool.needed = vec!["libgcc_s.so.1".to_owned(), "libvendor.so".to_owned()];
    tool.auditable = parse_auditable(AUDITABLE.as_bytes()).unwrap();
    let vendor = binary("/opt/app/libvendor.so", "shared-library", 6);
    let mut object = binary("/usr/share/thing.o", "relocatable", 7);
    object.build_id = None;
    vec![libc, libc_copy, libgcc, bash, tool, vendor, object]
}

/// Every component (depth first, metadata component included).
fn components(doc: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for c in list.as_array().into_iter().flatten() {
            out.push(c);
            walk(&c["components"], out);
        }
    }
    let mut out = vec![&doc["metadata"]["component"]];
    walk(&doc["components"], &mut out);
    out
}

fn component<'a>(doc: &'a Value, bom_ref: &str) -> &'a Value {
    components(doc)
        .into_iter()
        .find(|c| c["bom-ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no component {bom_ref}"))
}

fn depends_on(doc: &Value, bom_ref: &str) -> Vec<String> {
    let entry = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == bom_ref)
        .unwrap_or_else(|| panic!("no dependencies entry for {bom_ref}"));
    entry["dependsOn"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn property<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .map(|p| p["value"].as_str().unwrap())
        .collect()
}

fn debian_inventory() -> Inventory {
    let t = debian_tree();
    read_inventory(t.root(), &InventoryLimits::default()).unwrap()
}

#[test]
fn debian_image_sbom() {
    let inv = debian_inventory();
    let doc = generate(&inv, &debian_binaries(), &image_subject(), &options()).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["specVersion"], "1.7");
    assert_eq!(doc["version"], 1);
    assert!(doc["metadata"].get("timestamp").is_none());
    assert_eq!(
        doc["metadata"]["tools"],
        json!({"components": [{"type": "application", "name": "stella", "version": "0.1.0"}]})
    );

    let hex = "ab".repeat(32);
    let subject = &doc["metadata"]["component"];
    let purl =
        format!("pkg:oci/app@sha256%3A{hex}?repository_url=registry.example.com/team/app&tag=1.0");
    assert_eq!(subject["type"], "container");
    assert_eq!(subject["purl"], purl.as_str());
    assert_eq!(subject["bom-ref"], purl.as_str());

    // Packages: library components keyed by purl; binaries nested in their owner.
    let bash_purl =
        "pkg:deb/debian/bash@5.2.15-2%2Bb13?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2";
    let libc_purl = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12";
    let bash_pkg = component(&doc, bash_purl);
    assert_eq!(bash_pkg["type"], "library");
    assert_eq!(bash_pkg["purl"], bash_purl);
    assert_eq!(
        property(bash_pkg, "stella:package:source"),
        ["var/lib/dpkg/status"]
    );
    assert_eq!(bash_pkg["components"][0]["bom-ref"], "file:/usr/bin/bash");
    assert_eq!(
        component(&doc, libc_purl)["supplier"],
        json!({"name": "GNU Libc Maintainers", "contact": [{"name": "GNU Libc Maintainers", "email": "debian-glibc@lists.debian.org"}]})
    );
    let top_refs: Vec<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let mut sorted = top_refs.clone();
    sorted.sort_unstable();
    assert_eq!(top_refs, sorted, "top-level components sorted by bom-ref");
    for unowned in [
        "file:/opt/app/tool",
        "file:/opt/vendor/lib/libc.so.6",
        "os:debian@12",
    ] {
        assert!(top_refs.contains(&unowned), "{unowned} in {top_refs:?}");
    }
    assert!(!top_refs.contains(&"file:/usr/bin/bash"));

    // The binary component.
    let bash = component(&doc, "file:/usr/bin/bash");
    assert_eq!(bash["type"], "application");
    assert_eq!(bash["name"], "bash");
    assert_eq!(
        bash["hashes"],
        json!([{"alg": "BLAKE3", "content": "84".repeat(32)}, {"alg": "SHA-256", "content": "04".repeat(32)}])
    );
    assert_eq!(property(bash, "stella:path"), ["/usr/bin/bash"]);
    assert_eq!(property(bash, "stella:kind"), ["executable"]);
    assert_eq!(property(bash, "stella:buildId"), ["04".repeat(20)]);
    assert_eq!(property(bash, "stella:buildIdSource"), ["gnu-note"]);
    assert_eq!(
        property(bash, "stella:needed"),
        ["libc.so.6", "libtinfo.so.6"]
    );
    assert_eq!(
        bash["evidence"],
        json!({
            "identity": [{
                "field": "hash", "confidence": 1, "concludedValue": "04".repeat(32),
                "methods": [{"technique": "binary-analysis", "confidence": 1,
                             "value": format!("gnu-build-id:{}", "04".repeat(20))}]
            }],
            "occurrences": [{"location": "/usr/bin/bash"}, {"location": "/usr/bin/bash.hardlink"}]
        })
    );
    let fp = "09".repeat(32);
    assert_eq!(
        bash["externalReferences"],
        json!([{"type": "evidence", "url": format!("urn:stella:funcproof:sha256:{fp}"),
                "comment": "FuncProof (1234 functions)", "hashes": [{"alg": "SHA-256", "content": fp}]}])
    );
    let tool = component(&doc, "file:/opt/app/tool");
    assert_eq!(
        tool["evidence"]["identity"][0]["methods"][0]["value"],
        format!("file-id:{}", "05".repeat(20))
    );
    let object = component(&doc, "file:/usr/share/thing.o");
    assert_eq!(object["type"], "file");
    assert!(
        object["evidence"]["identity"][0]["methods"][0]
            .get("value")
            .is_none()
    );
    assert_eq!(
        component(&doc, "file:/usr/lib/x86_64-linux-gnu/libc.so.6")["type"],
        "library"
    );

    // Crates.
    let app = component(&doc, "cargo:local/app@0.1.0");
    assert!(app.get("purl").is_none());
    assert_eq!(property(app, "stella:cargo:kind"), ["runtime"]);
    let cc = component(&doc, "pkg:cargo/cc@1.2.0");
    assert_eq!(cc["purl"], "pkg:cargo/cc@1.2.0");
    assert_eq!(cc["scope"], "excluded");
    assert_eq!(property(cc, "stella:cargo:kind"), ["build"]);

    // Dependencies.
    assert_eq!(
        depends_on(&doc, "file:/usr/bin/bash"),
        ["file:/usr/lib/x86_64-linux-gnu/libc.so.6"],
        "the copy in the standard directory wins; libtinfo is not there"
    );
    assert_eq!(
        depends_on(&doc, "file:/opt/app/tool"),
        [
            "cargo:local/app@0.1.0",
            "file:/opt/app/libvendor.so",
            "file:/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"
        ]
    );
    assert_eq!(
        depends_on(&doc, "cargo:local/app@0.1.0"),
        ["pkg:cargo/cc@1.2.0", "pkg:cargo/serde@1.0.228"]
    );
    assert_eq!(depends_on(&doc, bash_purl), [libc_purl]);
    assert_eq!(
        depends_on(
            &doc,
            "pkg:deb/debian/bsd-mailx@8.1.2-0.20220412cvs-1?arch=amd64&distro=debian-12"
        ),
        [
            "pkg:deb/debian/exim4-daemon-light@4.96-15%2Bdeb12u4?arch=amd64&distro=debian-12",
            libc_purl
        ]
    );
    assert!(depends_on(&doc, "file:/usr/lib/x86_64-linux-gnu/libc.so.6").is_empty());
    let subject_deps: BTreeSet<String> = depends_on(&doc, &purl).into_iter().collect();
    let top: BTreeSet<String> = top_refs.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(subject_deps, top);

    // One dependencies entry per bom-ref, sorted.
    let refs: BTreeSet<&str> = components(&doc)
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    let entries: Vec<&str> = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ref"].as_str().unwrap())
        .collect();
    assert_eq!(entries.iter().copied().collect::<BTreeSet<_>>(), refs);
    assert!(entries.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn generation_is_deterministic_and_the_serial_names_the_content() {
    let inv = debian_inventory();
    let binaries = debian_binaries();
    let a = generate(&inv, &binaries, &image_subject(), &options()).unwrap();
    let mut reversed = binaries.clone();
    reversed.reverse();
    let b = generate(&inv, &reversed, &image_subject(), &options()).unwrap();
    assert_eq!(canonical(&a), canonical(&b));

    // A fresh read of the same tree gives the same document.
    let again = generate(&debian_inventory(), &binaries, &image_subject(), &options()).unwrap();
    assert_eq!(canonical(&a), canonical(&again));

    let serial = a["serialNumber"].as_str().unwrap();
    let uuid = serial.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "5", "version nibble");
    assert!("89ab".contains(&uuid[19..20]), "variant bits");
    let mut without = a.clone();
    without.as_object_mut().unwrap().remove("serialNumber");
    let digest = stella_core::Digest::sha256(canonical(&without).as_bytes());
    assert_eq!(uuid.replace('-', "")[..12], digest.hex()[..12]);

    let mut changed = binaries.clone();
    changed[0].size += 1;
    let c = generate(&inv, &changed, &image_subject(), &options()).unwrap();
    assert_ne!(c["serialNumber"], a["serialNumber"]);
}

#[test]
fn application_subject_with_timestamp_and_nothing_else() {
    let subject = Subject {
        name: "build-dir".to_owned(),
        version: Some("2.0".to_owned()),
        image_digest: None,
        image_ref: None,
    };
    let options = GenerateOptions {
        timestamp: Some("2026-01-02T03:04:05Z".to_owned()),
        tool_version: "0.1.0".to_owned(),
    };
    let doc = generate(&Inventory::default(), &[], &subject, &options).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["metadata"]["timestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(
        doc["metadata"]["component"],
        json!({"type": "application", "bom-ref": "subject:build-dir@2.0", "name": "build-dir", "version": "2.0"})
    );
    assert_eq!(doc["components"], json!([]));
    assert_eq!(
        doc["dependencies"],
        json!([{"ref": "subject:build-dir@2.0"}])
    );
}

#[test]
fn alpine_and_python_sboms_are_valid() {
    let t = alpine_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let mut busybox = binary("/bin/busybox", "executable", 1);
    busybox.needed = vec!["libc.musl-x86_64.so.1".to_owned()];
    let mut musl = binary("/lib/ld-musl-x86_64.so.1", "shared-library", 2);
    musl.soname = Some("libc.musl-x86_64.so.1".to_owned());
    let doc = generate(&inv, &[busybox, musl], &image_subject(), &options()).unwrap();
    assert_valid(&doc);
    let musl_purl = "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3";
    assert_eq!(
        component(&doc, musl_purl)["licenses"],
        json!([{"expression": "MIT"}])
    );
    assert_eq!(
        depends_on(&doc, "file:/bin/busybox"),
        ["file:/lib/ld-musl-x86_64.so.1"]
    );
    assert_eq!(
        depends_on(
            &doc,
            "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
        ),
        [musl_purl]
    );

    let t = python_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let so = binary(
        "/usr/local/lib/python3.11/site-packages/arrow/_speedups.cpython-311-x86_64-linux-gnu.so",
        "shared-library",
        3,
    );
    let doc = generate(&inv, &[so], &image_subject(), &options()).unwrap();
    assert_valid(&doc);
    let arrow = component(&doc, "pkg:pypi/arrow@1.4.0");
    assert_eq!(arrow["licenses"], json!([{"expression": "Apache-2.0"}]));
    assert_eq!(
        arrow["components"][0]["name"],
        "_speedups.cpython-311-x86_64-linux-gnu.so"
    );
    assert_eq!(
        component(&doc, "pkg:pypi/python-dateutil@4.0.0")["licenses"],
        json!([{"license": {"name": "Dual License"}}])
    );
    assert_eq!(
        depends_on(&doc, "pkg:pypi/arrow@1.4.0"),
        ["pkg:pypi/python-dateutil@4.0.0", "pkg:pypi/tzdata@2026.6"]
    );
}

#[test]
fn the_same_purl_twice_gets_two_refs() {
    let inv = debian_inventory();
    let mut twice = inv.clone();
    let mut copy = twice.packages[0].clone();
    copy.source = "var/lib/dpkg/status.d/bash".to_owned();
    copy.files.clear();
    twice.packages.insert(1, copy);
    let doc = generate(&twice, &[], &image_subject(), &options()).unwrap();
    assert_valid(&doc);
    let purl = &twice.packages[0].purl;
    component(&doc, purl);
    component(&doc, &format!("{purl}#var/lib/dpkg/status.d/bash"));
}

#[test]
fn unusable_facts_are_named() {
    let inv = Inventory::default();
    let err_of =
        |binaries: &[BinaryFacts], subject: &Subject, options: &GenerateOptions| match generate(
            &inv, binaries, subject, options,
        )
        .unwrap_err()
        {
            SbomError::InvalidInput { what, .. } => what,
            other => panic!("{other}"),
        };
    let subject = image_subject();
    let mut bad = binary("/a", "executable", 1);
    bad.sha256 = "AB".repeat(32);
    assert_eq!(err_of(&[bad], &subject, &options()), "binaries[0].sha256");
    let mut bad = binary("/a", "executable", 1);
    bad.blake3.pop();
    assert_eq!(err_of(&[bad], &subject, &options()), "binaries[0].blake3");
    assert_eq!(
        err_of(&[binary("relative", "executable", 1)], &subject, &options()),
        "binaries[0].path"
    );
    let mut second = binary("/b", "executable", 2);
    second.other_paths = vec!["/a".to_owned()];
    assert_eq!(
        err_of(
            &[binary("/a", "executable", 1), second],
            &subject,
            &options()
        ),
        "binaries[1].other_paths[0]"
    );
    let mut bad = binary("/a", "executable", 1);
    bad.funcproof = Some(stella_sbom::FuncProofRef {
        digest: "sha512:00".to_owned(),
        functions: 1,
    });
    assert_eq!(
        err_of(&[bad], &subject, &options()),
        "binaries[0].funcproof.digest"
    );
    let bad_subject = Subject {
        image_digest: Some("sha256:xyz".to_owned()),
        ..image_subject()
    };
    assert_eq!(
        err_of(&[], &bad_subject, &options()),
        "subject.image_digest"
    );
    let bad_options = GenerateOptions {
        timestamp: Some("yesterday".to_owned()),
        ..options()
    };
    assert_eq!(err_of(&[], &subject, &bad_options), "options.timestamp");
    let nameless = Subject::default();
    assert_eq!(err_of(&[], &nameless, &options()), "subject.name");
}

#[test]
fn enriching_a_generated_sbom_with_the_same_facts_changes_nothing() {
    let inv = debian_inventory();
    let binaries = debian_binaries();
    let doc = generate(&inv, &binaries, &image_subject(), &options()).unwrap();
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (enriched, report) =
        stella_sbom::enrich(&bytes, &inv, &binaries, &image_subject(), &options(), None).unwrap();
    assert!(report.added.is_empty(), "{report:?}");
    assert_eq!(report.matched.len(), binaries.len());
    assert!(report.matched.iter().all(|m| m.by == "path"), "{report:?}");
    assert_eq!(canonical(&enriched), canonical(&doc));
}

/// Two Go binaries built from the same modules, and a Rust binary whose `cargo auditable` list
/// names a crate its registry paths name too.
fn binaries_with_components_inside() -> Vec<BinaryFacts> {
    use stella_sbom::EmbeddedComponent;
    let go = |path: &str, seed: u8| {
        let mut b = binary(path, "executable", seed);
        b.embedded = vec![
            EmbeddedComponent::go_module("golang.org/x/net", "v0.17.0", format!("dep in {path}"))
                .unwrap(),
            EmbeddedComponent::go_stdlib("go1.19.8", "go1.19.8").unwrap(),
            EmbeddedComponent::go_module("example.com/app", "(devel)", "mod").unwrap(),
        ];
        b
    };
    let mut rust = binary("/opt/app/tool", "executable", 5);
    rust.auditable = parse_auditable(AUDITABLE.as_bytes()).unwrap();
    rust.embedded = vec![
        EmbeddedComponent::crate_from_path("serde", "1.0.228", "serde path").unwrap(),
        EmbeddedComponent::crate_from_path("libc", "0.2.150", "libc path").unwrap(),
        EmbeddedComponent::crate_from_path("libc", "0.2.150", "libc path again").unwrap(),
    ];
    vec![
        go("/usr/bin/registry", 1),
        go("/usr/local/bin/registry-copy", 2),
        rust,
    ]
}

#[test]
fn components_found_inside_binaries_are_nested_with_their_evidence() {
    let binaries = binaries_with_components_inside();
    let doc = generate(
        &Inventory::default(),
        &binaries,
        &image_subject(),
        &options(),
    )
    .unwrap();
    assert_valid(&doc);

    // Each Go binary nests its own copy of each module, under a bom-ref of its own.
    for path in ["/usr/bin/registry", "/usr/local/bin/registry-copy"] {
        let bin_ref = format!("file:{path}");
        let bin = component(&doc, &bin_ref);
        let nested: Vec<&str> = bin["components"]
            .as_array()
            .expect("nested components")
            .iter()
            .map(|c| c["purl"].as_str().unwrap())
            .collect();
        assert_eq!(
            nested,
            [
                "pkg:golang/example.com/app",
                "pkg:golang/golang.org/x/net@v0.17.0",
                "pkg:golang/stdlib@1.19.8",
            ],
            "sorted by purl"
        );
        let std_ref = format!("{bin_ref}#pkg:golang/stdlib@1.19.8");
        let std = component(&doc, &std_ref);
        assert_eq!(std["type"], "library");
        assert_eq!(std["name"], "stdlib");
        assert_eq!(std["version"], "1.19.8");
        assert_eq!(property(std, "stella:found-by"), ["go-buildinfo"]);
        let identity = &std["evidence"]["identity"][0];
        assert_eq!(identity["field"], "purl");
        assert_eq!(identity["confidence"], 1);
        assert_eq!(identity["methods"][0]["technique"], "binary-analysis");
        assert_eq!(identity["methods"][0]["value"], "go1.19.8");
        let net = component(
            &doc,
            &format!("{bin_ref}#pkg:golang/golang.org/x/net@v0.17.0"),
        );
        assert_eq!(
            net["evidence"]["identity"][0]["methods"][0]["value"],
            format!("dep in {path}")
        );
        assert!(
            component(&doc, &format!("{bin_ref}#pkg:golang/example.com/app"))
                .get("version")
                .is_none(),
            "a (devel) main module has no version"
        );
        // The binary depends on what it holds; each nested ref has its own entry.
        let deps = depends_on(&doc, &bin_ref);
        for purl in nested {
            let r = format!("{bin_ref}#{purl}");
            assert!(deps.contains(&r), "{deps:?}");
            assert!(depends_on(&doc, &r).is_empty());
        }
    }

    // The Rust binary: serde is in its auditable list (top-level, as before), libc only by path
    // (nested once, with a confidence below certainty).
    let tool = component(&doc, "file:/opt/app/tool");
    let nested = tool["components"].as_array().expect("nested");
    assert_eq!(nested.len(), 1, "{nested:#?}");
    assert_eq!(nested[0]["purl"], "pkg:cargo/libc@0.2.150");
    assert_eq!(
        nested[0]["bom-ref"],
        "file:/opt/app/tool#pkg:cargo/libc@0.2.150"
    );
    assert_eq!(property(&nested[0], "stella:found-by"), ["crate-path"]);
    assert_eq!(nested[0]["evidence"]["identity"][0]["confidence"], 0.8);
    component(&doc, "pkg:cargo/serde@1.0.228");

    // Bom-refs are unique in the document.
    let all = components(&doc);
    let refs: BTreeSet<&str> = all.iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
    assert_eq!(refs.len(), all.len());
    // Every dependencies ref names a component.
    for d in doc["dependencies"].as_array().unwrap() {
        assert!(refs.contains(d["ref"].as_str().unwrap()), "{d}");
        for t in d["dependsOn"].as_array().into_iter().flatten() {
            assert!(refs.contains(t.as_str().unwrap()), "{t}");
        }
    }

    // The order the analysis found them in does not change the document.
    let mut shuffled = binaries.clone();
    for b in &mut shuffled {
        b.embedded.reverse();
    }
    shuffled.reverse();
    let again = generate(
        &Inventory::default(),
        &shuffled,
        &image_subject(),
        &options(),
    )
    .unwrap();
    assert_eq!(canonical(&again), canonical(&doc));

    // Enriching the document with the same facts adds nothing.
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (enriched, _) = stella_sbom::enrich(
        &bytes,
        &Inventory::default(),
        &binaries,
        &image_subject(),
        &options(),
        None,
    )
    .unwrap();
    assert_eq!(canonical(&enriched), canonical(&doc));
}

#[test]
fn an_sbom_enriched_with_components_inside_binaries_nests_them_and_links_them() {
    let binaries = binaries_with_components_inside();
    let bare: Vec<BinaryFacts> = binaries
        .iter()
        .cloned()
        .map(|mut b| {
            b.embedded.clear();
            b
        })
        .collect();
    let doc = generate(&Inventory::default(), &bare, &image_subject(), &options()).unwrap();
    assert!(
        component(&doc, "file:/usr/bin/registry")
            .get("components")
            .is_none()
    );
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (enriched, report) = stella_sbom::enrich(
        &bytes,
        &Inventory::default(),
        &binaries,
        &image_subject(),
        &options(),
        None,
    )
    .unwrap();
    assert!(report.matched.iter().all(|m| m.by == "path"), "{report:?}");
    assert_valid(&enriched);
    // A new revision of the generated BOM: same serial, version 2.
    assert_eq!(enriched["serialNumber"], doc["serialNumber"]);
    assert_eq!(enriched["version"], 2);
    let r = "file:/usr/bin/registry#pkg:golang/stdlib@1.19.8";
    assert_eq!(component(&enriched, r)["version"], "1.19.8");
    assert!(depends_on(&enriched, "file:/usr/bin/registry").contains(&r.to_owned()));
    assert!(depends_on(&enriched, r).is_empty());
}
