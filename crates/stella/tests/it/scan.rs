//! `stella scan` and `stella verify --image` end to end: a real Debian root filesystem
//! (debootstrap minbase, prepared by `.ci/run`) scanned, verified, queried and then attacked —
//! a binary patched by one byte, a referrer removed, the SBOM re-signed with another key, the
//! log rolled back — each caught with its own reason. Also: directories made here (determinism,
//! truncated binaries), an SBOM from `cyclonedx-py` enriched, and a registry image.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use stella_testkit::skip;

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "scan-tests")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("STELLA_HOME", home);
    cmd
}

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("JSON on stdout")
}

/// The Debian root filesystem `.ci/run` prepares (`STELLA_TEST_ROOTFS`, default
/// `/var/cache/stella-tests/bookworm-minbase`).
fn debian_rootfs() -> Option<PathBuf> {
    stella_testkit::debian_rootfs().ok()
}

/// `cyclonedx-python-lib` (its own copy of the 1.7 schema) accepts the SBOM.
fn peer_validates(test: &str, sbom: &Path) {
    peer_validates_as(test, sbom, "1.7");
}

/// `cyclonedx-python-lib` (its own copy of the schema of `version`) accepts the SBOM, which
/// declares `version`.
fn peer_validates_as(test: &str, sbom: &Path, version: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/cdx_validate.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(["--spec-version", version])
        .arg(sbom)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ModuleNotFoundError") {
        skip(
            test,
            "cyclonedx-python-lib is not installed (pip install -r interop/requirements.txt)",
        );
        return;
    }
    assert!(
        out.status.success(),
        "cyclonedx-python-lib rejects {}: {}{stderr}",
        sbom.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Verify's JSON verdicts, and its exit code.
fn verify(home: &Path, image: &str, extra: &[&str]) -> (i32, Value) {
    let out = stella(home)
        .args(["verify", "--image", image, "--json"])
        .args(extra)
        .output()
        .expect("runs");
    let code = out.status.code().unwrap_or(-1);
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, value)
}

/// Every failure reason of a `verify --json` report, as `"kind" "name": reason`.
pub(crate) fn failures(report: &Value) -> Vec<String> {
    report["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["ok"] == false)
        .flat_map(|a| {
            a["reasons"].as_array().into_iter().flatten().map(move |r| {
                format!(
                    "{} {}: {}",
                    a["kind"],
                    a["name"],
                    r["message"].as_str().unwrap_or("")
                )
            })
        })
        .collect()
}

/// The file offset of virtual address `vaddr` in the ELF `data`.
fn file_offset(data: &[u8], vaddr: u64) -> u64 {
    use object::{Object as _, ObjectSection as _};
    let file = object::File::parse(data).expect("ELF");
    for section in file.sections() {
        let (start, size) = (section.address(), section.size());
        if vaddr >= start && vaddr < start + size {
            let (offset, _) = section.file_range().expect("section in the file");
            return offset + (vaddr - start);
        }
    }
    panic!("0x{vaddr:x} is in no section");
}

#[test]
fn debian_rootfs_scanned_verified_queried_and_every_attack_caught() {
    let test = "debian_rootfs_scanned_verified_queried_and_every_attack_caught";
    let Some(rootfs) = debian_rootfs() else {
        skip(
            test,
            "no Debian rootfs: run `debootstrap --variant=minbase bookworm \
             /var/cache/stella-tests/bookworm-minbase` or set STELLA_TEST_ROOTFS",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    // The log exists before the scan, so that it can be rolled back to this state later.
    let seed = d.join("seed-entry");
    std::fs::write(&seed, b"first entry").expect("write");
    stella(&home)
        .args(["log", "append"])
        .arg(&seed)
        .assert()
        .success();
    let before_scan = d.join("log-before-scan");
    copy_tree(&home.join("log"), &before_scan);

    let image = format!("oci-layout:{}:bookworm", d.join("image").display());
    let sbom_out = d.join("sbom.json");
    let summary = json_of(
        stella(&home)
            .args(["scan", "--image", &image, "--json", "--sbom-out"])
            .arg(&sbom_out)
            .arg(&rootfs),
    );
    let binaries = summary["binaries"].as_u64().expect("binaries");
    assert!(
        binaries > 100,
        "a Debian minbase has hundreds of binaries: {summary}"
    );
    assert!(
        summary["packages"].as_u64().expect("packages") > 50,
        "{summary}"
    );
    // One statement per binary, the SBOM's (Stella's wrapper and CycloneDX's predicate) and the
    // record's.
    assert_eq!(summary["signed"].as_u64(), Some(binaries + 3), "{summary}");
    assert_eq!(summary["logged"], summary["signed"]);
    assert_eq!(summary["keyCreated"], true);
    assert!(home.join("keys/stella.key").exists() && home.join("keys/stella.pub").exists());
    assert!(
        summary["unproven"].as_array().expect("list").len() < 5,
        "nearly every binary of Debian is proven: {summary}"
    );

    // The SBOM: dpkg packages own their binaries; every binary has its BuildID and FuncProof.
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(&sbom_out).expect("sbom")).expect("json");
    assert_eq!(sbom["specVersion"], "1.7");
    let components = all_components(&sbom);
    let libc6 = components
        .iter()
        .find(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:deb/debian/libc6@"))
        })
        .expect("libc6 is a component");
    let libc_so = libc6["components"]
        .as_array()
        .expect("libc6 owns files")
        .iter()
        .find(|c| c["name"] == "libc.so.6")
        .expect("libc.so.6 nested in libc6");
    let props = properties(libc_so);
    assert!(
        props.get("stella:buildId").is_some_and(|b| b.len() == 40),
        "{libc_so}"
    );
    assert!(
        libc_so["externalReferences"][0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("urn:stella:funcproof:sha256:")),
        "{libc_so}"
    );
    let schemas =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/cyclonedx/schema");
    stella(&home)
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg(&sbom_out)
        .assert()
        .success();
    peer_validates(test, &sbom_out);

    // The auditor's replay holds, with every artifact verified.
    let (code, report) = verify(
        &home,
        &image,
        &[
            "--symbol",
            "inflateGetHeader",
            "--symbol",
            "SSL_select_next_proto",
        ],
    );
    // Verified, and one symbol absent: the answer, as grep gives it, is no.
    assert_eq!(code, 1, "{:#?}", failures(&report));
    assert_eq!(report["verified"], true, "{:#?}", failures(&report));
    let kinds: Vec<&str> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "funcproof").count() as u64,
        binaries
    );
    for k in ["sbom", "symbols", "record"] {
        assert!(kinds.contains(&k), "{k} verified: {kinds:?}");
    }
    // zlib is in every Debian; OpenSSL is not in minbase.
    let inflate = &report["symbols"][0];
    assert_eq!(inflate["present"], true, "{inflate}");
    let hit = &inflate["found"][0];
    assert!(
        hit["binary"].as_str().expect("binary").contains("libz.so"),
        "{hit}"
    );
    assert!(
        hit["buildId"].as_str().is_some_and(|b| b.len() == 40),
        "{hit}"
    );
    assert!(hit["log"][0]["index"].as_u64().is_some(), "{hit}");
    let ssl = &report["symbols"][1];
    assert_eq!(ssl["present"], false, "{ssl}");
    assert_eq!(
        ssl["absentFrom"].as_array().expect("list").len() as u64,
        binaries
    );

    // 1. An auditor's copy of the files with one byte changed inside zlib's `inflate`.
    let copy = d.join("deployed");
    copy_tree(&rootfs, &copy);
    let libz_path = hit["binary"].as_str().expect("path").to_owned();
    let libz = copy.join(libz_path.trim_start_matches('/'));
    let libz = std::fs::canonicalize(&libz).unwrap_or(libz);
    let proof = funcproof_of(&home, &image, &libz_path);
    let inflate_fn = proof["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .find(|f| f["sym"] == "inflate")
        .expect("inflate in libz");
    let start = u64::from_str_radix(
        inflate_fn["start"]
            .as_str()
            .expect("start")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    let mut bytes = std::fs::read(&libz).expect("read libz");
    let offset = usize::try_from(file_offset(&bytes, start + 8)).expect("offset");
    bytes[offset] ^= 0x01;
    std::fs::write(&libz, &bytes).expect("patch");
    let (code, report) = verify(&home, &image, &["--rootfs", copy.to_str().expect("utf8")]);
    assert_eq!(code, 1);
    let f = failures(&report);
    assert!(
        f.iter()
            .any(|r| r.contains(&libz_path) && r.contains("inflate ")),
        "the failure names the binary and the function: {f:#?}"
    );
    // The untouched image still verifies.
    assert_eq!(verify(&home, &image, &[]).0, 0);

    // 2. A log rolled back to before the scan: this machine has seen it larger.
    let scanned_log = d.join("log-after-scan");
    std::fs::rename(home.join("log"), &scanned_log).expect("move");
    copy_tree(&before_scan, &home.join("log"));
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1);
    let f = failures(&report);
    assert!(
        f.iter()
            .any(|r| r.starts_with("\"record\"") && r.contains("rollback of log")),
        "{f:#?}"
    );
    std::fs::remove_dir_all(home.join("log")).expect("rm");
    std::fs::rename(&scanned_log, home.join("log")).expect("restore");
    assert_eq!(verify(&home, &image, &[]).0, 0);

    // 3. A FuncProof artifact removed from the layout's index: the SBOM names what is missing.
    let layout = d.join("image");
    let index_path = layout.join("index.json");
    let original_index = std::fs::read(&index_path).expect("index");
    let mut index: Value = serde_json::from_slice(&original_index).expect("json");
    let manifests = index["manifests"].as_array_mut().expect("manifests");
    let at = manifests
        .iter()
        .position(|m| m["artifactType"] == "application/vnd.stellaops.funcproof+json")
        .expect("a FuncProof artifact");
    manifests.remove(at);
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("json")).expect("write");
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1);
    let f = failures(&report);
    assert!(
        f.iter()
            .any(|r| r.starts_with("\"sbom\"") && r.contains("missing referrer")),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|r| r.starts_with("\"record\"") && r.contains("missing referrer")),
        "{f:#?}"
    );
    std::fs::write(&index_path, &original_index).expect("restore");

    // 4. The same image scanned again with another key, its evidence attached beside the
    //    original.
    let other = d.join("other");
    stella(&home)
        .env("STELLA_PASSWORD", "")
        .args(["key", "generate", "--out"])
        .arg(&other)
        .assert()
        .success();
    stella(&home)
        .env("STELLA_PASSWORD", "")
        .args(["scan", "--image", &image, "--json", "--key"])
        .arg(other.with_extension("key"))
        .arg(&rootfs)
        .assert()
        .success();
    // Push access must not block verification: the evidence the trusted key signed still
    // verifies, and the other key's scan is reported as untrusted, never used.
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
    assert!(
        report["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .any(|a| a["kind"] == "record" && a["status"] == "untrusted"),
        "{report:#}"
    );
    // Trusting only the other key, its own scan decides.
    let (code, report) = verify(
        &home,
        &image,
        &["--key", other.with_extension("pub").to_str().expect("utf8")],
    );
    assert_eq!(code, 0, "{:#?}", failures(&report));
}

/// The FuncProof of `path` as attached to `image`.
fn funcproof_of(home: &Path, image: &str, path: &str) -> Value {
    let tree = json_of(stella(home).args(["oci", "referrers", image, "--json"]));
    let layout = image
        .trim_start_matches("oci-layout:")
        .rsplit_once(':')
        .map_or(image, |(p, _)| p)
        .to_owned();
    for node in tree["referrers"].as_array().expect("list") {
        if node["artifactType"] != "application/vnd.stellaops.funcproof+json" {
            continue;
        }
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(
                Path::new(&layout).join("blobs/sha256").join(
                    node["digest"]
                        .as_str()
                        .expect("digest")
                        .trim_start_matches("sha256:"),
                ),
            )
            .expect("manifest"),
        )
        .expect("json");
        for layer in manifest["layers"].as_array().expect("layers") {
            if layer["annotations"]["org.opencontainers.image.title"] == path {
                let blob = Path::new(&layout).join("blobs/sha256").join(
                    layer["digest"]
                        .as_str()
                        .expect("digest")
                        .trim_start_matches("sha256:"),
                );
                return serde_json::from_slice(&std::fs::read(blob).expect("blob")).expect("json");
            }
        }
    }
    panic!("no FuncProof of {path}");
}

fn all_components(sbom: &Value) -> Vec<Value> {
    fn walk(list: &Value, out: &mut Vec<Value>) {
        for c in list.as_array().into_iter().flatten() {
            out.push(c.clone());
            walk(&c["components"], out);
        }
    }
    let mut out = Vec::new();
    walk(&sbom["components"], &mut out);
    out
}

fn properties(component: &Value) -> std::collections::BTreeMap<String, String> {
    component["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

/// A C program built here, with a named function.
pub(crate) fn build_c(dir: &Path, name: &str, body: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, body).expect("write");
    let out = dir.join(name);
    let status = std::process::Command::new("gcc")
        .args(["-O2", "-g0", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    out
}

#[test]
fn a_directory_scans_to_the_same_bytes_twice_and_keeps_what_it_cannot_prove() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let build = d.join("build");
    std::fs::create_dir_all(&build).expect("mkdir");
    let tree = d.join("app-root");
    std::fs::create_dir_all(tree.join("usr/bin")).expect("mkdir");
    let bin = build_c(
        &build,
        "hello",
        "#include <stdio.h>\nint vuln_parse(const char *s) { return s[0] == 'x'; }\nint main(int c, char **v) { printf(\"%d\\n\", vuln_parse(v[0])); return 0; }\n",
    );
    std::fs::copy(&bin, tree.join("usr/bin/hello")).expect("copy");
    std::fs::hard_link(tree.join("usr/bin/hello"), tree.join("usr/bin/hello-again")).expect("link");
    std::os::unix::fs::symlink("hello", tree.join("usr/bin/hi")).expect("symlink");
    // A truncated ELF: found, not provable, listed, and the scan goes on.
    let bytes = std::fs::read(&bin).expect("read");
    std::fs::write(tree.join("usr/bin/broken"), &bytes[..200]).expect("write");
    std::fs::write(
        tree.join("usr/bin/script.sh"),
        "#!/bin/sh\necho not a binary, long enough to be looked at\n",
    )
    .expect("write");

    let home = d.join("home");
    let scan = |sde: &str| {
        json_of(
            stella(&home)
                .env("SOURCE_DATE_EPOCH", sde)
                .args(["scan", "--json", "--sbom-out"])
                .arg(d.join(format!("sbom-{sde}.json")))
                .arg(&tree),
        )
    };
    let first = scan("1700000000");
    let expected_image = format!("oci-layout:{}:app-root", home.join("oci").display());
    assert_eq!(first["image"], expected_image.as_str());
    assert_eq!(first["binaries"], 1, "{first}");
    assert_eq!(
        first["binaryPaths"], 2,
        "hard links are one binary: {first}"
    );
    let unproven = first["unproven"].as_array().expect("list");
    assert_eq!(unproven.len(), 1, "{first}");
    assert_eq!(unproven[0]["path"], "/usr/bin/broken");
    let again = scan("1700000000");
    assert_eq!(
        first["digest"], again["digest"],
        "the same directory packs to the same image"
    );
    assert_eq!(first["sbom"]["canonicalId"], again["sbom"]["canonicalId"]);
    assert_eq!(
        std::fs::read(d.join("sbom-1700000000.json")).expect("sbom"),
        std::fs::read(d.join("sbom-1700000000.json")).expect("sbom"),
    );
    let digests = |s: &Value, kind: &str| -> Vec<String> {
        s["attached"]
            .as_array()
            .expect("attached")
            .iter()
            .filter(|a| a["kind"] == kind)
            .map(|a| a["digest"].as_str().expect("digest").to_owned())
            .collect()
    };
    for kind in ["sbom", "funcproof", "symbols"] {
        assert_eq!(
            digests(&first, kind),
            digests(&again, kind),
            "{kind} artifacts are byte-identical"
        );
    }
    // The artifact record: the SBOM's identity, its attestation with its log position, every
    // referrer.
    let record_path = home.join("records").join(format!(
        "{}.json",
        first["digest"]
            .as_str()
            .expect("digest")
            .trim_start_matches("sha256:")
    ));
    let record: Value =
        serde_json::from_slice(&std::fs::read(&record_path).expect("record")).expect("json");
    assert_eq!(record["canonical_id"], first["sbom"]["canonicalId"]);
    assert_eq!(record["format"], "CycloneDX/1.7");
    assert_eq!(record["vex_refs"], serde_json::json!([]));
    let attestation = &record["attestations"][0];
    assert!(
        attestation["rekor_tile"]
            .as_str()
            .expect("tile")
            .starts_with("tile/entries/000"),
        "{attestation}"
    );
    assert_eq!(attestation["entry_id"].as_str().expect("id").len(), 64);
    use base64::Engine as _;
    let envelope: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(attestation["dsse_b64"].as_str().expect("b64"))
            .expect("base64"),
    )
    .expect("envelope JSON");
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    assert_eq!(
        attestation["type"],
        "https://stella-ops.org/attestations/sbom/v1"
    );
    // Everything attached but the record itself and its signature artifact.
    let referrers = record["referrers"].as_array().expect("referrers");
    assert_eq!(
        referrers.len(),
        first["attached"].as_array().expect("attached").len() - 2
    );
    assert!(
        record["created"].as_str().is_some(),
        "the record says when it was written: {record}"
    );

    let (code, report) = verify(&home, &expected_image, &["--symbol", "vuln_parse"]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
    assert_eq!(report["symbols"][0]["present"], true);
    assert_eq!(report["symbols"][0]["found"][0]["binary"], "/usr/bin/hello");

    // The SBOM is also attested under the CycloneDX predicate type, as a Sigstore bundle
    // attached to the image where cosign and Trivy look (annotated with its predicate type),
    // and bound by the record (each scan attaches its own: its log entries differ).
    let bound = record["referrers"].as_array().expect("list");
    let layout = home.join("oci");
    let blob = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let tree = json_of(stella(&home).args(["oci", "referrers", &expected_image, "--json"]));
    let attestation = tree["referrers"]
        .as_array()
        .expect("list")
        .iter()
        .find(|r| {
            r["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
                && r["annotations"]["dev.sigstore.bundle.predicateType"]
                    == "https://cyclonedx.org/bom"
                && bound.contains(&r["digest"])
        })
        .unwrap_or_else(|| panic!("a bound CycloneDX attestation among the referrers: {tree}"));
    let digest = attestation["digest"].as_str().expect("digest");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(digest)).expect("manifest")).expect("json");
    let bundle = blob(manifest["layers"][0]["digest"].as_str().expect("layer"));
    let key = home.join("keys/stella.pub");
    let checked = json_of(
        stella(&home)
            .args([
                "verify-attestation",
                "--json",
                "--type",
                "cyclonedx",
                "--key",
            ])
            .arg(&key)
            .arg(&bundle),
    );
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(d.join("sbom-1700000000.json")).expect("sbom"))
            .expect("json");
    assert_eq!(checked["predicateType"], "https://cyclonedx.org/bom");
    assert_eq!(
        checked["predicate"], sbom,
        "the predicate is the SBOM itself"
    );
    // Stella's own wrapper type is another predicate; a name nobody defines is a usage error.
    for (name, code) in [("sbom", 1), ("no-such-type", 2)] {
        stella(&home)
            .args(["verify-attestation", "--type", name, "--key"])
            .arg(&key)
            .arg(&bundle)
            .assert()
            .code(code);
    }
    // With the attestation's bundle gone from the store, the SBOM no longer verifies.
    let saved = std::fs::read(&bundle).expect("bundle");
    std::fs::remove_file(&bundle).expect("remove");
    let (code, report) = verify(&home, &expected_image, &[]);
    assert_eq!(
        code, 1,
        "a bound attestation that cannot be read fails: {report}"
    );
    assert!(
        failures(&report).iter().any(|f| f.contains(digest)),
        "{:#?}",
        failures(&report)
    );
    std::fs::write(&bundle, saved).expect("restore");

    // Human output: a table and the symbol answer.
    stella(&home)
        .args([
            "verify",
            "--image",
            &expected_image,
            "--symbol",
            "no_such_function",
        ])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("VERIFIED")
                .and(predicate::str::contains("symbol no_such_function: ABSENT"))
                .and(predicate::str::contains("/usr/bin/hello")),
        );
}

#[test]
fn scan_refuses_what_it_cannot_scan_and_verify_says_when_nothing_is_attached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let file = d.join("file");
    std::fs::write(&file, b"x").expect("write");
    stella(&home)
        .arg("scan")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a file"));
    stella(&home)
        .args(["scan", "/no/such/dir"])
        .assert()
        .code(2);
    // A relative path that does not exist is a path, never a registry (no `https://./v2/…`),
    // and it is refused before a signing key is created for it.
    stella(&home)
        .current_dir(d)
        .args(["scan", "./nonexistent"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("./nonexistent")
                .and(predicate::str::contains("No such file"))
                .and(predicate::str::contains("https://").not()),
        );
    assert!(
        !home.join("keys").exists(),
        "no key made for a scan that cannot start"
    );
    stella(&home)
        .args(["scan", "--timestamp", "yesterday", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RFC 3339"));
    // An image with no evidence: a clean "no".
    let empty = d.join("empty");
    std::fs::create_dir_all(empty.join("etc")).expect("mkdir");
    std::fs::write(
        empty.join("etc/hostname"),
        "nothing to see here, just some text",
    )
    .expect("write");
    stella(&home)
        .args(["scan", "--json"])
        .arg(&empty)
        .assert()
        .success();
    let other_home = d.join("other-home");
    let image = format!("oci-layout:{}:empty", home.join("oci").display());
    stella(&other_home)
        .args(["verify", "--image", &image])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no --key"));
    // A bare image (packed, never scanned) verifies to "no evidence".
    let bare = d.join("bare");
    let layout = d.join("bare-layout");
    std::fs::create_dir_all(&bare).expect("mkdir");
    std::fs::write(bare.join("a"), "aaaa").expect("write");
    let store = stella_oci::LayoutStore::open(&layout).expect("layout");
    stella_oci::image::pack_directory(
        &store,
        &bare,
        "bare",
        &stella_oci::image::PackOptions {
            source_date_epoch: None,
        },
    )
    .expect("pack");
    let (code, report) = verify(&home, &format!("oci-layout:{}:bare", layout.display()), &[]);
    assert_eq!(code, 1);
    assert!(
        failures(&report)[0].contains("no Stella evidence"),
        "{report}"
    );
}

#[test]
fn an_sbom_from_cyclonedx_py_is_enriched_with_the_binaries_it_describes() {
    let test = "an_sbom_from_cyclonedx_py_is_enriched_with_the_binaries_it_describes";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let root = d.join("app");
    let venv = root.join("venv");
    let ok = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "-q",
                "--disable-pip-version-check",
                "PyNaCl==1.6.2",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        skip(test, "could not install PyNaCl into a venv");
        return;
    }
    let sbom = d.join("cyclonedx-py.json");
    let generated = std::process::Command::new("cyclonedx-py")
        .args([
            "environment",
            "--output-reproducible",
            "--of",
            "JSON",
            "--sv",
            "1.6",
            "-o",
        ])
        .arg(&sbom)
        .arg(venv.join("bin/python"))
        .status();
    if !generated.is_ok_and(|s| s.success()) {
        skip(
            test,
            "cyclonedx-py is not installed (pip install cyclonedx-bom)",
        );
        return;
    }
    let home = d.join("home");
    let out = d.join("enriched.json");
    let summary = json_of(
        stella(&home)
            .args(["scan", "--json", "--sbom"])
            .arg(&sbom)
            .arg("--sbom-out")
            .arg(&out)
            .arg(&root),
    );
    assert!(
        summary["sbom"]["matched"].as_u64().expect("matched") >= 1,
        "{summary}"
    );
    let enriched: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("json");
    // The version cyclonedx-py wrote is kept; the enriched SBOM is its next revision, with a
    // serial number derived from the content (a reproducible cyclonedx-py SBOM has none).
    assert_eq!(enriched["specVersion"], "1.6");
    assert_eq!(enriched["version"], 2);
    assert!(
        enriched["serialNumber"]
            .as_str()
            .is_some_and(|s| s.starts_with("urn:uuid:")),
        "{}",
        enriched["serialNumber"]
    );
    let pynacl = all_components(&enriched)
        .into_iter()
        .find(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.to_lowercase().starts_with("pkg:pypi/pynacl@1.6.2"))
        })
        .expect("PyNaCl is in the SBOM");
    let sodium = pynacl["components"]
        .as_array()
        .expect("PyNaCl gained its binary")
        .iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("_sodium")))
        .expect("_sodium.abi3.so nested in PyNaCl");
    assert!(
        properties(sodium).contains_key("stella:buildId"),
        "{sodium}"
    );
    let schemas =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/cyclonedx/schema");
    stella(&home)
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg(&out)
        .assert()
        .success();
    peer_validates_as(test, &out, "1.6");
    let image = summary["image"].as_str().expect("image").to_owned();
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
}

#[test]
fn an_sbom_enriched_keeps_its_spec_version_unless_asked_and_is_its_next_revision() {
    let test = "an_sbom_enriched_keeps_its_spec_version_unless_asked_and_is_its_next_revision";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let root = d.join("app");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    let bin = build_c(
        d,
        "tool",
        "int helper(int x) { return x * 3; }\nint main(int c, char **v) { return helper(c); }\n",
    );
    std::fs::copy(&bin, root.join("bin/tool")).expect("copy");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    let cargo = fixtures.join("sbom/cargo-cyclonedx-0.5.9-spec1.5.json");
    let original: Value =
        serde_json::from_slice(&std::fs::read(&cargo).expect("read")).expect("json");
    let schemas = fixtures.join("cyclonedx/schema");
    let home = d.join("home");
    let enrich = |sbom: &Path, out: &Path, extra: &[&str]| -> Value {
        json_of(
            stella(&home)
                .args(["scan", "--json", "--sbom"])
                .arg(sbom)
                .arg("--sbom-out")
                .arg(out)
                .args(extra)
                .arg(&root),
        );
        let written = serde_json::from_slice(&std::fs::read(out).expect("read")).expect("json");
        stella(&home)
            .args(["sbom", "validate", "--schema-dir"])
            .arg(&schemas)
            .arg(out)
            .assert()
            .success();
        written
    };

    // cargo-cyclonedx wrote 1.5: still 1.5, the same BOM (serial) at its next version.
    let kept = d.join("kept.json");
    let doc = enrich(&cargo, &kept, &[]);
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["serialNumber"], original["serialNumber"]);
    assert_eq!(doc["version"], 2);
    assert!(
        all_components(&doc)
            .iter()
            .any(|c| c["bom-ref"] == "file:/bin/tool"),
        "the binary is added"
    );
    peer_validates_as(test, &kept, "1.5");

    // Enriched again with the same facts: nothing changed, so neither do serial and version.
    let again = d.join("again.json");
    enrich(&kept, &again, &[]);
    assert_eq!(
        std::fs::read(&again).expect("read"),
        std::fs::read(&kept).expect("read")
    );

    // Asked for 1.7: upgraded.
    let upgraded = d.join("upgraded.json");
    let doc = enrich(&cargo, &upgraded, &["--spec-version", "1.7"]);
    assert_eq!(doc["specVersion"], "1.7");
    assert_eq!(doc["serialNumber"], original["serialNumber"]);
    assert_eq!(doc["version"], 2);
    peer_validates(test, &upgraded);

    // Never an earlier version than the document's, never 1.4, never without --sbom.
    let cdxgen = fixtures.join("sbom/cdxgen-12.8.4-spec1.7.json");
    stella(&home)
        .args(["scan", "--spec-version", "1.5", "--sbom"])
        .arg(&cdxgen)
        .arg(&root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the SBOM is CycloneDX 1.7; Stella does not rewrite it as 1.5",
        ));
    stella(&home)
        .args(["scan", "--spec-version", "1.4", "--sbom"])
        .arg(&cargo)
        .arg(&root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected 1.5, 1.6 or 1.7"));
    stella(&home)
        .args(["scan", "--spec-version", "1.7"])
        .arg(&root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--sbom"));
}

#[test]
fn a_registry_image_is_scanned_with_evidence_kept_locally_or_pushed() {
    let test = "a_registry_image_is_scanned_with_evidence_kept_locally_or_pushed";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let Some(registry) = crate::oci::Registry::start(d) else {
        skip(
            test,
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    };
    let build = d.join("build");
    std::fs::create_dir_all(&build).expect("mkdir");
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("bin")).expect("mkdir");
    let bin = build_c(
        &build,
        "tool",
        "int helper(int x) { return x * 7; }\nint main(int c, char **v) { return helper(c); }\n",
    );
    std::fs::copy(&bin, tree.join("bin/tool")).expect("copy");
    let home = d.join("home");
    let remote = format!("{}/stella/tool:1.0", registry.host);
    // A directory packed straight into the registry, evidence pushed beside it.
    let pushed = json_of(
        stella(&home)
            .args(["scan", "--json", "--push", "--image", &remote])
            .arg(&tree),
    );
    assert_eq!(pushed["binaries"], 1, "{pushed}");
    let (code, report) = verify(&home, &remote, &[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
    // The registry image scanned again without --push: the image and the evidence are copied
    // into the embedded layout, which then verifies air-gapped.
    let other_home = d.join("home2");
    let local = json_of(stella(&other_home).args(["scan", "--json", &remote]));
    let local_ref = local["image"].as_str().expect("image").to_owned();
    assert!(local_ref.starts_with("oci-layout:"), "{local}");
    assert_eq!(local["digest"], pushed["digest"]);
    drop(registry);
    let (code, report) = verify(&other_home, &local_ref, &[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
}

/// The components nested in the binary component `bom_ref` of `sbom`.
fn nested_in<'a>(sbom: &'a Value, bom_ref: &str) -> Vec<&'a Value> {
    fn find<'a>(list: &'a Value, bom_ref: &str) -> Option<&'a Value> {
        list.as_array().into_iter().flatten().find_map(|c| {
            if c["bom-ref"] == bom_ref {
                Some(c)
            } else {
                find(&c["components"], bom_ref)
            }
        })
    }
    let binary = find(&sbom["components"], bom_ref).unwrap_or_else(|| panic!("no {bom_ref}"));
    binary["components"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

/// The identity evidence's method value of a nested component, and its confidence.
fn how_found(component: &Value) -> (String, f64) {
    let identity = &component["evidence"]["identity"][0];
    assert_eq!(identity["field"], "purl", "{component}");
    assert_eq!(
        identity["methods"][0]["technique"], "binary-analysis",
        "{component}"
    );
    (
        identity["methods"][0]["value"]
            .as_str()
            .expect("value")
            .to_owned(),
        identity["confidence"].as_f64().expect("confidence"),
    )
}

/// Scans `tree` into a fresh home; the SBOM, after `stella sbom validate` and the CycloneDX
/// peer accepted it.
fn scan_to_sbom(test: &str, d: &Path, tree: &Path) -> Value {
    let sbom_path = d.join("sbom.json");
    let home = d.join("home");
    json_of(
        stella(&home)
            .args(["scan", "--json", "--sbom-out"])
            .arg(&sbom_path)
            .arg(tree),
    );
    stella(&home)
        .args(["sbom", "validate"])
        .arg(&sbom_path)
        .assert()
        .success();
    peer_validates(test, &sbom_path);
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(&sbom_path).expect("sbom")).expect("json");
    // Every dependencies ref names a component.
    let refs: std::collections::BTreeSet<String> = all_components(&sbom)
        .iter()
        .filter_map(|c| c["bom-ref"].as_str().map(str::to_owned))
        .chain(
            sbom["metadata"]["component"]["bom-ref"]
                .as_str()
                .map(str::to_owned),
        )
        .collect();
    for entry in sbom["dependencies"].as_array().expect("dependencies") {
        assert!(
            refs.contains(entry["ref"].as_str().expect("ref")),
            "{entry}"
        );
    }
    sbom
}

/// A Go program with three dependency modules, vendored (the build needs no network): one as
/// required, one replaced by another module, one replaced by a local directory.
fn build_go_program(dir: &Path) -> Option<PathBuf> {
    let files: [(&str, &str); 8] = [
        (
            "go.mod",
            "module example.com/hello\n\ngo 1.19\n\nrequire (\n\texample.com/greeting v1.2.3\n\
             \texample.com/oldfmt v0.1.0\n\texample.com/localfix v0.3.0\n)\n\n\
             replace example.com/oldfmt => example.com/newfmt v1.0.0\n\n\
             replace example.com/localfix => ./localfix\n",
        ),
        (
            "vendor/modules.txt",
            "# example.com/greeting v1.2.3\n## explicit\nexample.com/greeting\n\
             # example.com/localfix v0.3.0 => ./localfix\n## explicit\nexample.com/localfix\n\
             # example.com/oldfmt v0.1.0 => example.com/newfmt v1.0.0\n## explicit\nexample.com/oldfmt\n\
             # example.com/localfix => ./localfix\n\
             # example.com/oldfmt => example.com/newfmt v1.0.0\n",
        ),
        (
            "vendor/example.com/greeting/greeting.go",
            "package greeting\n\nfunc Hello() string { return \"hello\" }\n",
        ),
        (
            "vendor/example.com/oldfmt/oldfmt.go",
            "package oldfmt\n\nfunc Shout(s string) string { return s + \"!\" }\n",
        ),
        (
            "vendor/example.com/localfix/fix.go",
            "package localfix\n\nfunc Fix(s string) string { return s }\n",
        ),
        (
            "localfix/go.mod",
            "module example.com/localfix\n\ngo 1.19\n",
        ),
        (
            "localfix/fix.go",
            "package localfix\n\nfunc Fix(s string) string { return s }\n",
        ),
        (
            "main.go",
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greeting\"\n\t\"example.com/localfix\"\n\
             \t\"example.com/oldfmt\"\n)\n\nfunc main() { fmt.Println(localfix.Fix(oldfmt.Shout(greeting.Hello()))) }\n",
        ),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let out = dir.join("hello-go");
    let status = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(dir)
        .env("GOCACHE", dir.join("gocache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=vendor")
        .env("GOTOOLCHAIN", "local")
        .status()
        .ok()?;
    assert!(status.success(), "go build of the test program");
    Some(out)
}

/// `go version <binary>`'s Go release, as the standard library's purl version.
fn go_release_of(binary: &Path) -> Option<String> {
    let out = std::process::Command::new("go")
        .arg("version")
        .arg(binary)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let release = text
        .split_whitespace()
        .nth(1)?
        .strip_prefix("go")?
        .to_owned();
    Some(release)
}

#[test]
fn go_modules_and_the_go_standard_library_are_nested_in_their_binaries() {
    const TEST: &str = "go_modules_and_the_go_standard_library_are_nested_in_their_binaries";
    let registry = Path::new("/usr/bin/docker-registry");
    if !registry.is_file() {
        skip(
            TEST,
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let tree = d.join("root");
    std::fs::create_dir_all(tree.join("usr/bin")).expect("mkdir");
    std::fs::copy(registry, tree.join("usr/bin/docker-registry")).expect("copy");
    std::fs::copy(registry, tree.join("usr/bin/registry-copy-2")).expect("copy");
    // Differ by one byte at the end, so the copy is a binary of its own.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(tree.join("usr/bin/registry-copy-2"))
        .expect("open");
    std::io::Write::write_all(&mut f, b"\0").expect("append");
    drop(f);
    let go_program = build_go_program(&d.join("gosrc"));
    match &go_program {
        Some(p) => {
            std::fs::copy(p, tree.join("usr/bin/hello-go")).expect("copy");
        }
        None => skip(
            TEST,
            "go is not installed (apt-get install golang-go): the program with modules is left out",
        ),
    }
    let sbom = scan_to_sbom(TEST, d, &tree);

    // Debian builds distribution without modules (GOPATH mode): the toolchain is all its build
    // information names. Both copies nest it, each under its own bom-ref.
    let expected_go = go_release_of(registry).unwrap_or_else(|| "1.19.8".to_owned());
    for path in ["/usr/bin/docker-registry", "/usr/bin/registry-copy-2"] {
        let nested = nested_in(&sbom, &format!("file:{path}"));
        assert_eq!(nested.len(), 1, "{nested:#?}");
        let stdlib = nested[0];
        assert_eq!(stdlib["purl"], format!("pkg:golang/stdlib@{expected_go}"));
        assert_eq!(
            stdlib["bom-ref"],
            format!("file:{path}#pkg:golang/stdlib@{expected_go}")
        );
        assert_eq!(stdlib["type"], "library");
        assert_eq!(stdlib["name"], "stdlib");
        assert_eq!(stdlib["version"], expected_go.as_str());
        assert_eq!(properties(stdlib)["stella:found-by"], "go-buildinfo");
        let (how, confidence) = how_found(stdlib);
        assert_eq!(
            how,
            format!(
                "Go build information (runtime/debug.BuildInfo) in section .go.buildinfo: go{expected_go}"
            )
        );
        assert_eq!(confidence, 1.0);
    }

    let Some(go_program) = go_program else {
        return;
    };
    let toolchain = go_release_of(&go_program).expect("go version of the program");
    let nested = nested_in(&sbom, "file:/usr/bin/hello-go");
    let by_purl: std::collections::BTreeMap<&str, &Value> = nested
        .iter()
        .map(|c| (c["purl"].as_str().expect("purl"), *c))
        .collect();
    let stdlib = format!("pkg:golang/stdlib@{toolchain}");
    assert_eq!(
        by_purl.keys().copied().collect::<Vec<_>>(),
        [
            "pkg:golang/example.com/greeting@v1.2.3",
            "pkg:golang/example.com/hello",
            "pkg:golang/example.com/localfix@v0.3.0",
            "pkg:golang/example.com/newfmt@v1.0.0",
            stdlib.as_str(),
        ],
        "the main module, each dependency (a replaced one as its replacement) and the toolchain"
    );
    let (how, confidence) = how_found(by_purl["pkg:golang/example.com/newfmt@v1.0.0"]);
    assert!(
        how.ends_with(": dep example.com/oldfmt v0.1.0 => example.com/newfmt v1.0.0"),
        "{how}"
    );
    assert_eq!(confidence, 1.0);
    let (how, confidence) = how_found(by_purl["pkg:golang/example.com/localfix@v0.3.0"]);
    assert!(how.ends_with("=> ./localfix"), "{how}");
    assert!(
        confidence < 1.0,
        "a directory replaced the module: {confidence}"
    );
    assert!(
        by_purl["pkg:golang/example.com/hello"]
            .get("version")
            .is_none()
    );
    // The binary depends on each.
    let deps: Vec<&str> = sbom["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .find(|e| e["ref"] == "file:/usr/bin/hello-go")
        .and_then(|e| e["dependsOn"].as_array())
        .expect("the binary's entry")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in &nested {
        assert!(
            deps.contains(&c["bom-ref"].as_str().expect("ref")),
            "{deps:?}"
        );
    }
}

#[test]
fn a_stripped_rust_binary_nests_the_crates_its_registry_paths_name() {
    const TEST: &str = "a_stripped_rust_binary_nests_the_crates_its_registry_paths_name";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let tree = d.join("root");
    std::fs::create_dir_all(tree.join("usr/bin")).expect("mkdir");
    // This workspace's own CLI, stripped of its symbols and DWARF: the panic locations in
    // .rodata still name every crate it was built from.
    let status = std::process::Command::new("strip")
        .arg("--strip-all")
        .arg(env!("CARGO_BIN_EXE_stella"))
        .arg("-o")
        .arg(tree.join("usr/bin/stella"))
        .status()
        .expect("strip runs");
    assert!(status.success());
    let sbom = scan_to_sbom(TEST, d, &tree);
    let nested = nested_in(&sbom, "file:/usr/bin/stella");

    // Each crate is in the workspace's Cargo.lock with that version.
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
        .expect("Cargo.lock");
    let locked = |name: &str, version: &str| {
        lock.contains(&format!(
            "[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
        ))
    };
    assert!(nested.len() > 50, "{} crates", nested.len());
    for c in &nested {
        let name = c["name"].as_str().expect("name");
        let version = c["version"].as_str().expect("version");
        assert!(
            locked(name, version),
            "{name} {version} is not in Cargo.lock"
        );
        // purl-spec: a `+` in the version (SemVer build metadata) is percent-encoded.
        assert_eq!(
            c["purl"],
            format!("pkg:cargo/{name}@{}", version.replace('+', "%2B"))
        );
        assert_eq!(properties(c)["stella:found-by"], "crate-path");
        let (how, confidence) = how_found(c);
        assert!(
            how.starts_with("crate registry path in .rodata: index.crates.io-")
                && how.contains(&format!("/{name}-{version}/")),
            "{how}"
        );
        assert!(confidence > 0.0 && confidence < 1.0, "{confidence}");
    }
    for name in ["object", "gimli", "serde_json", "semver"] {
        assert!(
            nested.iter().any(|c| c["name"] == name),
            "{name} is not nested"
        );
    }
}
