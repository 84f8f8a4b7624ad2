//! SPDX end to end: SBOMs written by real generators (`npm sbom --sbom-format spdx`, SPDX 3.0
//! JSON-LD from PyPI `spdx-python-model`) read by `stella sbom convert` and `stella scan --sbom`;
//! the SPDX 2.3 `stella sbom convert --to spdx` writes, from the SBOM of a scan (a binary with a
//! FuncProof), validated by PyPI `spdx-tools`; and bad SPDX (a relationship cycle, 100,000
//! packages, truncated JSON, an unknown SPDXID, SPDX 3.0 without `@graph`) met with a precise
//! error and exit 2, never a panic.
//!
//! A missing peer skips loudly, or fails under `STELLA_REQUIRE_PEERS=1` (as CI runs).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use stella_testkit::skip;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "spdx-tests")
        .env_remove("COSIGN_PASSWORD")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("STELLA_HOME", home);
    cmd
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// PyPI `spdx-tools` validates the file (exit 0, no messages); `None` when it is not installed.
fn spdx_tools_validate(test: &str, file: &Path) -> Option<()> {
    // pyspdxtools, run by the interpreter the other Python peers use.
    let out = std::process::Command::new("python3")
        .args(["-m", "spdx_tools.spdx.clitools.pyspdxtools", "-i"])
        .arg(file)
        .output()
        .expect("python3 runs");
    if String::from_utf8_lossy(&out.stderr).contains("No module named") {
        skip(
            test,
            "spdx-tools is not installed (pip install -r interop/requirements.txt)",
        );
        return None;
    }
    assert!(
        out.status.success(),
        "spdx-tools rejects {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

/// `npm sbom --sbom-format spdx` of interop/ (its lock file is enough).
fn npm_spdx(test: &str, out: &Path) -> Option<()> {
    let result = std::process::Command::new("npm")
        .args(["sbom", "--sbom-format", "spdx", "--package-lock-only"])
        .current_dir(repo_root().join("interop"))
        .output();
    match result {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => {
            std::fs::write(out, &o.stdout).expect("write");
            Some(())
        }
        Ok(o) => {
            skip(
                test,
                &format!(
                    "npm sbom failed (npm >= 9 needed): {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
            );
            None
        }
        Err(_) => {
            skip(test, "npm is not installed");
            None
        }
    }
}

fn all_components(sbom: &Value) -> Vec<Value> {
    fn walk(list: &Value, out: &mut Vec<Value>) {
        for c in list.as_array().into_iter().flatten() {
            out.push(c.clone());
            walk(&c["components"], out);
        }
    }
    let mut out = Vec::new();
    if sbom["metadata"]["component"].is_object() {
        out.push(sbom["metadata"]["component"].clone());
        walk(&sbom["metadata"]["component"]["components"], &mut out);
    }
    walk(&sbom["components"], &mut out);
    out
}

/// The scan of a directory with one C binary, its SBOM written to `sbom`.
fn scan_tree(d: &Path, home: &Path, extra: &[&std::ffi::OsStr], sbom: &Path) -> Value {
    let build = d.join("build");
    std::fs::create_dir_all(&build).expect("mkdir");
    let tree = d.join("app-root");
    std::fs::create_dir_all(tree.join("usr/bin")).expect("mkdir");
    let bin = crate::scan::build_c(
        &build,
        "hello",
        "#include <stdio.h>\nint vuln_parse(const char *s) { return s[0] == 'x'; }\nint main(int c, char **v) { printf(\"%d\\n\", vuln_parse(v[0])); return 0; }\n",
    );
    std::fs::copy(&bin, tree.join("usr/bin/hello")).expect("copy");
    let out = stella(home)
        .args(["scan", "--json"])
        .args(extra)
        .arg("--sbom-out")
        .arg(sbom)
        .arg(&tree)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("scan JSON")
}

fn sha1_hex(data: &[u8]) -> String {
    // Through Python's hashlib, so the expectation is not computed by the code under test.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha1(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(data)?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_scanned_binary_is_written_as_spdx_with_its_funcproof_and_spdx_tools_accepts_it() {
    let test = "a_scanned_binary_is_written_as_spdx_with_its_funcproof_and_spdx_tools_accepts_it";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let sbom = d.join("sbom.cdx.json");
    scan_tree(d, &home, &[], &sbom);
    let spdx_path = d.join("sbom.spdx.json");
    stella(&home)
        .args(["sbom", "convert", "--to", "spdx", "-o"])
        .arg(&spdx_path)
        .arg(&sbom)
        .assert()
        .success();
    let bytes = std::fs::read(&spdx_path).expect("read");
    let spdx: Value = serde_json::from_slice(&bytes).expect("json");
    // Canonical bytes, the same on a second run.
    let again = stella(&home)
        .args(["sbom", "convert", "--to", "spdx"])
        .arg(&sbom)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(bytes, again);
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");

    let hello = spdx["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("the binary's package")
        .clone();
    let funcproof = hello["externalRefs"]
        .as_array()
        .expect("externalRefs")
        .iter()
        .find(|r| r["referenceType"] == "stella-funcproof")
        .expect("the FuncProof reference")
        .clone();
    assert_eq!(funcproof["referenceCategory"], "OTHER");
    assert!(
        funcproof["referenceLocator"]
            .as_str()
            .is_some_and(|l| l.starts_with("urn:stella:funcproof:sha256:")),
        "{funcproof}"
    );
    // SPDX 2.3 §7.9 over the package's one file: SHA-1 of the file's SHA-1 hex.
    let file_sha1 = sha1_hex(&std::fs::read(d.join("app-root/usr/bin/hello")).expect("read"));
    assert_eq!(hello["filesAnalyzed"], true);
    assert_eq!(
        hello["packageVerificationCode"]["packageVerificationCodeValue"],
        json!(sha1_hex(file_sha1.as_bytes())),
        "{hello}"
    );
    let file = spdx["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["fileName"] == "./usr/bin/hello")
        .expect("the binary as a file")
        .clone();
    assert!(
        file["checksums"]
            .as_array()
            .expect("checksums")
            .iter()
            .any(|c| c["algorithm"] == "SHA1" && c["checksumValue"] == json!(file_sha1))
    );
    spdx_tools_validate(test, &spdx_path);

    // And back: the FuncProof is evidence again, the properties keep their names.
    let back = d.join("back.cdx.json");
    stella(&home)
        .args(["sbom", "convert", "-o"])
        .arg(&back)
        .arg(&spdx_path)
        .assert()
        .success();
    let back = read_json(&back);
    let hello = all_components(&back)
        .into_iter()
        .find(|c| c["name"] == "hello")
        .expect("hello read back");
    assert!(
        hello["externalReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["type"] == "evidence" && r["url"] == funcproof["referenceLocator"]),
        "{hello}"
    );
}

#[test]
fn npm_spdx_is_converted_and_enriched_by_a_scan() {
    let test = "npm_spdx_is_converted_and_enriched_by_a_scan";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let npm = d.join("npm.spdx.json");
    if npm_spdx(test, &npm).is_none() {
        return;
    }
    let home = d.join("home");
    let cdx = d.join("npm.cdx.json");
    convert_and_validate(&home, &npm, &cdx);
    let original = read_json(&npm);
    let converted = read_json(&cdx);
    let packages = original["packages"].as_array().expect("packages").len();
    assert_eq!(all_components(&converted).len(), packages);
    // Every purl npm wrote is there.
    for p in original["packages"].as_array().expect("packages") {
        let purl = p["externalRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["referenceType"] == "purl")
            .and_then(|r| r["referenceLocator"].as_str());
        if let Some(purl) = purl {
            assert!(
                all_components(&converted).iter().any(|c| c["purl"] == purl),
                "{purl} lost"
            );
        }
    }
    assert!(
        converted["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .any(|d| d["dependsOn"].is_array()),
        "npm's DEPENDS_ON relationships are dependencies"
    );

    // A scan enriches the SPDX SBOM: its packages stay, the binary is added with its FuncProof.
    let enriched_path = d.join("enriched.json");
    let summary = scan_tree(
        d,
        &home,
        &[std::ffi::OsStr::new("--sbom"), npm.as_os_str()],
        &enriched_path,
    );
    assert_eq!(summary["sbom"]["added"], 1, "{summary}");
    let enriched = read_json(&enriched_path);
    assert_eq!(enriched["specVersion"], "1.7");
    let components = all_components(&enriched);
    assert_eq!(components.len(), packages + 1);
    assert!(components.iter().any(|c| {
        c["name"] == "hello"
            && c["externalReferences"][0]["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("urn:stella:funcproof:"))
    }));
    stella(&home)
        .args(["sbom", "validate"])
        .arg(&enriched_path)
        .assert()
        .success();
    // And that SBOM as SPDX passes spdx-tools.
    let spdx = d.join("enriched.spdx.json");
    stella(&home)
        .args(["sbom", "convert", "--to", "spdx", "-o"])
        .arg(&spdx)
        .arg(&enriched_path)
        .assert()
        .success();
    spdx_tools_validate(test, &spdx);
}

#[test]
fn spdx3_json_ld_from_spdx_python_model_is_read() {
    let test = "spdx3_json_ld_from_spdx_python_model_is_read";
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let spdx3 = d.join("interop.spdx3.json");
    let out = std::process::Command::new("python3")
        .arg(repo_root().join("interop/spdx3_write.py"))
        .arg(repo_root().join("interop/package-lock.json"))
        .arg(&spdx3)
        .output()
        .expect("python3 runs");
    if String::from_utf8_lossy(&out.stderr).contains("ModuleNotFoundError") {
        skip(
            test,
            "spdx-python-model is not installed (pip install -r interop/requirements.txt)",
        );
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: usize = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count");
    let home = d.join("home");
    let cdx = d.join("interop.cdx.json");
    convert_and_validate(&home, &spdx3, &cdx);
    let converted = read_json(&cdx);
    let components = all_components(&converted);
    assert_eq!(components.len(), written);
    let root = &converted["metadata"]["component"];
    assert_eq!(root["name"], "stella-interop");
    assert_eq!(root["type"], "application");
    assert_eq!(root["licenses"][0]["expression"], "Apache-2.0");
    let canonicalize = components
        .iter()
        .find(|c| c["name"] == "canonicalize")
        .expect("canonicalize");
    assert_eq!(canonicalize["purl"], "pkg:npm/canonicalize@4.0.0");
    assert_eq!(canonicalize["hashes"][0]["alg"], "SHA-512");
    let root_ref = root["bom-ref"].as_str().expect("bom-ref");
    let deps = converted["dependencies"].as_array().expect("dependencies");
    let root_deps = deps
        .iter()
        .find(|d| d["ref"] == root_ref)
        .expect("the root's entry");
    assert!(
        root_deps["dependsOn"]
            .as_array()
            .expect("dependsOn")
            .contains(&canonicalize["bom-ref"]),
        "{root_deps}"
    );
    assert_eq!(converted["metadata"]["timestamp"], "2026-01-01T00:00:00Z");
}

/// Runs `stella sbom convert` on `doc`; returns exit code and stderr.
fn convert_bad(home: &Path, file: &Path, extra: &[&str]) -> (i32, String) {
    let out = stella(home)
        .args(["sbom", "convert"])
        .args(extra)
        .arg(file)
        .output()
        .expect("stella runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

fn many_packages(n: usize, cycle: bool) -> Value {
    let packages: Vec<Value> = (0..n)
        .map(|i| json!({"SPDXID": format!("SPDXRef-p{i}"), "name": format!("p{i}"), "versionInfo": "1.0.0", "downloadLocation": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": format!("pkg:npm/p{i}@1.0.0")}]}))
        .collect();
    let mut relationships: Vec<Value> = (1..n)
        .map(|i| json!({"spdxElementId": format!("SPDXRef-p{}", i - 1), "relationshipType": "DEPENDS_ON", "relatedSpdxElement": format!("SPDXRef-p{i}")}))
        .collect();
    if cycle {
        relationships.push(json!({"spdxElementId": format!("SPDXRef-p{}", n - 1), "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-p0"}));
        relationships.push(json!({"spdxElementId": "SPDXRef-p0", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-p1"}));
        relationships.push(json!({"spdxElementId": "SPDXRef-p1", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-p0"}));
    }
    relationships.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-p0"}));
    json!({"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "many",
           "documentNamespace": "https://example.com/many",
           "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test-1.0"]},
           "packages": packages, "relationships": relationships})
}

#[test]
fn bad_spdx_gets_a_precise_error_and_never_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let write = |name: &str, v: &Value| {
        let p = d.join(name);
        std::fs::write(&p, serde_json::to_vec(v).expect("json")).expect("write");
        p
    };

    // A relationship cycle is read: dependencies are a graph.
    let cycle = write("cycle.json", &many_packages(3, true));
    let out = stella(&home)
        .args(["sbom", "convert"])
        .arg(&cycle)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let bom: Value = serde_json::from_slice(&out).expect("json");
    let deps = bom["dependencies"].as_array().expect("deps");
    assert!(deps.iter().any(|d| {
        d["ref"] == "SPDXRef-p2"
            && d["dependsOn"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("SPDXRef-p0")))
    }));

    // 100,000 packages: read within the default limits, in reasonable time.
    let many = write("many.json", &many_packages(100_000, false));
    let start = std::time::Instant::now();
    let out = stella(&home)
        .args(["sbom", "convert"])
        .arg(&many)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(start.elapsed().as_secs() < 120, "{:?}", start.elapsed());
    let bom: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(bom["components"].as_array().map(Vec::len), Some(99_999));
    // Over a size limit: refused, by name.
    let (code, stderr) = convert_bad(&home, &many, &["--max-size", "1M"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--max-size"), "{stderr}");

    // Truncated JSON: the byte offset.
    let bytes = std::fs::read(&cycle).expect("read");
    let truncated = d.join("truncated.json");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let (code, stderr) = convert_bad(&home, &truncated, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("truncated.json"), "{stderr}");

    // A relationship to an SPDXID no element has: the pointer and the id.
    let mut doc = many_packages(3, false);
    doc["relationships"][1]["relatedSpdxElement"] = json!("SPDXRef-nowhere");
    let unknown = write("unknown.json", &doc);
    let (code, stderr) = convert_bad(&home, &unknown, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/relationships/1/relatedSpdxElement")
            && stderr.contains("SPDXRef-nowhere"),
        "{stderr}"
    );

    // SPDX 3.0 without @graph.
    let no_graph = write(
        "no-graph.json",
        &json!({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "type": "SpdxDocument"}),
    );
    let (code, stderr) = convert_bad(&home, &no_graph, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/@graph"), "{stderr}");

    // The same errors from a scan's --sbom, which never starts proving.
    let (code, stderr) = {
        let out = stella(&home)
            .args(["scan", "--sbom"])
            .arg(&unknown)
            .arg(d)
            .output()
            .expect("stella runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("SPDXRef-nowhere"), "{stderr}");
}

#[test]
fn commands_that_read_only_cyclonedx_name_spdx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let doc = d.join("doc.spdx.json");
    std::fs::write(
        &doc,
        serde_json::to_vec(&many_packages(2, false)).expect("json"),
    )
    .expect("write");
    for command in [["sbom", "validate"], ["sbom", "id"], ["sbom", "canon"]] {
        let out = stella(&home)
            .args(command)
            .arg(&doc)
            .output()
            .expect("stella runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains("an SPDX 2.3 document") && stderr.contains("stella sbom convert"),
            "{command:?}: {stderr}"
        );
        assert!(!stderr.contains("not a CycloneDX document"), "{stderr}");
    }
}

/// `stella sbom convert FROM -o TO` into CycloneDX, which `stella sbom validate` then accepts.
fn convert_and_validate(home: &Path, from: &Path, to: &Path) {
    stella(home)
        .args(["sbom", "convert", "-o"])
        .arg(to)
        .arg(from)
        .assert()
        .success();
    stella(home)
        .args(["sbom", "validate"])
        .arg(to)
        .assert()
        .success();
}
