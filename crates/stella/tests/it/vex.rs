//! `stella vex validate | convert | merge | query | attach` end to end: real documents from the
//! fixtures, the merge's answers and their reasons, the same bytes for any input order, VEX
//! attached to an image found again with what its signature proves, and the attacks on it (an
//! unsigned document slipped in beside a signed one, a signed document swapped).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const PASSWORD: &str = "vex-test-password";
const IMAGE_DIGEST_HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_HOME", home)
        .env_remove("STELLA_PASSWORD")
        .env_remove("COSIGN_PASSWORD");
    cmd
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel)
}

fn image_purl() -> String {
    format!("pkg:oci/app@sha256%3A{IMAGE_DIGEST_HEX}")
}

/// An OpenVEX document by `author` at `time` with one statement per `(vuln, sub, status)`.
fn openvex(
    dir: &Path,
    name: &str,
    author: &str,
    time: &str,
    claims: &[(&str, &str, &str)],
) -> PathBuf {
    let statements: Vec<Value> = claims
        .iter()
        .map(|(vuln, sub, status)| {
            let mut s = json!({
                "vulnerability": {"name": vuln},
                "products": [{"@id": image_purl(), "subcomponents": [{"@id": sub}]}],
                "status": status,
            });
            match *status {
                "affected" => s["action_statement"] = json!("Upgrade."),
                "not_affected" => s["justification"] = json!("vulnerable_code_not_present"),
                _ => {}
            }
            s
        })
        .collect();
    let doc = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("https://{author}.example/vex/{name}"),
        "author": author,
        "timestamp": time,
        "version": 1,
        "statements": statements,
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

fn out(cmd: &mut Command, code: i32) -> String {
    let output = cmd.output().expect("runs");
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn err(cmd: &mut Command, code: i32) -> String {
    let output = cmd.output().expect("runs");
    assert_eq!(output.status.code(), Some(code));
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn validate_judges_real_documents_of_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // Valid: CSAF and CycloneDX VEX as published.
    let text = out(
        stella(&home)
            .args(["vex", "validate"])
            .arg(fixture("csaf-vex/2022-evd-uc-01-a-001.json"))
            .arg(fixture("cyclonedx/vex-examples/Case-1-vex-affected.json")),
        0,
    );
    assert!(
        text.contains("valid (csaf, embedded:csaf_json_schema.json)"),
        "{text}"
    );
    assert!(text.contains("valid (cyclonedx"), "{text}");
    // govulncheck's OpenVEX breaks the schema: exit 1, each problem at its pointer.
    let report: Value = serde_json::from_str(&out(
        stella(&home)
            .args(["vex", "validate", "--json"])
            .arg(fixture("openvex/govulncheck-output-schema-invalid.json")),
        1,
    ))
    .unwrap();
    assert_eq!(report["schema"], "stella.vex.validate/v1");
    assert_eq!(report["valid"], false);
    let problems = report["documents"][0]["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p["pointer"] == "/statements/1"
        && p["message"].as_str().unwrap().contains("action_statement")));
    // Not JSON (a trailing comma, as the OpenVEX spec's own examples have): exit 2 with the
    // byte offset.
    let trailing = dir.path().join("trailing.json");
    std::fs::write(
        &trailing,
        br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[],}"#,
    )
    .unwrap();
    let stderr = err(stella(&home).args(["vex", "validate"]).arg(&trailing), 2);
    assert!(
        stderr.contains("trailing.json") && stderr.contains("byte"),
        "{stderr}"
    );
    // JSON that is no VEX format: exit 2 saying what was looked for.
    let spdx = dir.path().join("spdx.json");
    std::fs::write(&spdx, br#"{"spdxVersion":"SPDX-2.3"}"#).unwrap();
    let stderr = err(stella(&home).args(["vex", "validate"]).arg(&spdx), 2);
    assert!(stderr.contains("not a VEX document"), "{stderr}");
    // Validation never writes into the home.
    assert!(!home.exists());
}

#[test]
fn convert_round_trips_keep_every_status_justification_and_product() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let source = openvex(
        dir.path(),
        "v.json",
        "vendor",
        "2024-01-01T00:00:00Z",
        &[
            ("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "not_affected"),
            (
                "CVE-2024-2",
                "pkg:golang/github.com%2Fx%2Fnet@0.1.0",
                "affected",
            ),
            ("CVE-2024-3", "pkg:npm/left-pad@1.0.0", "fixed"),
            (
                "CVE-2024-4",
                "pkg:pypi/requests@2.0.0",
                "under_investigation",
            ),
        ],
    );
    let original = out(
        stella(&home)
            .args(["vex", "convert", "--to", "openvex"])
            .arg(&source),
        0,
    );
    for format in ["cyclonedx", "csaf"] {
        let there = dir.path().join(format!("v.{format}.json"));
        stella(&home)
            .args(["vex", "convert", "--to", format, "-o"])
            .arg(&there)
            .arg(&source)
            .assert()
            .success();
        out(stella(&home).args(["vex", "validate"]).arg(&there), 0);
        let back = out(
            stella(&home)
                .args(["vex", "convert", "--to", "openvex"])
                .arg(&there),
            0,
        );
        let (a, b): (Value, Value) = (
            serde_json::from_str(&original).unwrap(),
            serde_json::from_str(&back).unwrap(),
        );
        let claims = |v: &Value| {
            let mut c: Vec<(String, String, String, String)> = v["statements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["vulnerability"]["name"].to_string(),
                        s["status"].to_string(),
                        s["justification"].to_string(),
                        s["products"].to_string(),
                    )
                })
                .collect();
            c.sort();
            c
        };
        assert_eq!(claims(&a), claims(&b), "through {format}");
    }
}

#[test]
fn convert_into_an_sbom_affects_its_own_components() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let sbom = fixture("sbom/cargo-cyclonedx-0.5.9-spec1.5.json");
    let vex = dir.path().join("v.json");
    std::fs::write(
        &vex,
        serde_json::to_vec(&json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://vendor.example/vex/1",
            "author": "vendor", "timestamp": "2024-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-2024-9"},
                "products": [{"@id": "pkg:cargo/cfg-if"}],
                "status": "not_affected", "justification": "vulnerable_code_not_present"}]
        }))
        .unwrap(),
    )
    .unwrap();
    let written = dir.path().join("bom+vex.json");
    stella(&home)
        .args(["vex", "convert", "--to", "cyclonedx", "--sbom"])
        .arg(&sbom)
        .arg("-o")
        .arg(&written)
        .arg(&vex)
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&std::fs::read(&written).unwrap()).unwrap();
    let original: Value = serde_json::from_slice(&std::fs::read(&sbom).unwrap()).unwrap();
    assert_eq!(
        doc["components"], original["components"],
        "the SBOM's inventory is kept"
    );
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 1);
    // The versionless purl names the one cfg-if of the SBOM, by its own bom-ref.
    assert_eq!(
        vulns[0]["affects"],
        json!([{"ref": "registry+https://github.com/rust-lang/crate-registry-index#cfg-if@1.0.5"}])
    );
    out(stella(&home).args(["sbom", "validate"]).arg(&written), 0);
    // A product the SBOM does not hold is refused, named.
    let stray = dir.path().join("stray.json");
    std::fs::write(
        &stray,
        std::fs::read_to_string(&vex)
            .unwrap()
            .replace("pkg:cargo/cfg-if", "pkg:cargo/not-in-this-sbom"),
    )
    .unwrap();
    let stderr = err(
        stella(&home)
            .args(["vex", "convert", "--to", "cyclonedx", "--sbom"])
            .arg(&sbom)
            .arg(&stray),
        2,
    );
    assert!(stderr.contains("pkg:cargo/not-in-this-sbom"), "{stderr}");
}

#[test]
fn merge_reads_files_as_it_goes_yet_names_a_missing_one_before_reading_any() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let d = dir.path();
    let files: Vec<PathBuf> = (0..5)
        .map(|i| {
            openvex(
                d,
                &format!("doc-{i}.json"),
                &format!("author-{i}"),
                &format!("2024-0{}-01T00:00:00Z", i + 1),
                &[(&format!("CVE-2024-{i}"), "pkg:cargo/hyper@1.4.0", "fixed")],
            )
        })
        .collect();
    // Written to a file piece by piece: the bytes printed on stdout.
    let printed = out(stella(&home).args(["vex", "merge"]).args(&files), 0);
    let merged = d.join("merged.json");
    out(
        stella(&home)
            .args(["vex", "merge", "-o"])
            .arg(&merged)
            .args(&files),
        0,
    );
    assert_eq!(std::fs::read_to_string(&merged).unwrap(), printed);
    let value: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(value["statements"].as_array().unwrap().len(), 5);
    // Standard input among the files, read when its turn comes: the same document.
    let from_stdin = out(
        stella(&home)
            .args(["vex", "merge"])
            .args(&files[..2])
            .arg("-")
            .args(&files[3..])
            .write_stdin(std::fs::read(&files[2]).unwrap()),
        0,
    );
    assert_eq!(from_stdin, printed);

    // A document that turns out unreadable only when it is read.
    let broken = d.join("broken.json");
    std::fs::write(&broken, b"{\"@context\": ").unwrap();
    // A typo after it: refused before any document is read (so the broken one is not what is
    // reported), the output kept.
    let missing = d.join("doc-typo.json");
    let mut with_typo = files.clone();
    with_typo.insert(1, broken.clone());
    with_typo.insert(4, missing.clone());
    let message = err(
        stella(&home)
            .args(["vex", "merge", "-o"])
            .arg(&merged)
            .args(&with_typo),
        2,
    );
    assert!(message.contains("doc-typo.json"), "{message}");
    assert!(!message.contains("broken.json"), "{message}");
    assert_eq!(std::fs::read_to_string(&merged).unwrap(), printed);
    // The broken document alone, when its turn comes: exit 2, naming it, the output kept.
    let mut with_broken = files.clone();
    with_broken.insert(2, broken);
    let message = err(
        stella(&home)
            .args(["vex", "merge", "-o"])
            .arg(&merged)
            .args(&with_broken),
        2,
    );
    assert!(message.contains("broken.json"), "{message}");
    assert_eq!(std::fs::read_to_string(&merged).unwrap(), printed);
}

#[test]
fn merge_is_the_same_bytes_in_any_order_and_explains_each_decision() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let d = dir.path();
    let vendor = openvex(
        d,
        "vendor.json",
        "vendor",
        "2024-01-01T00:00:00Z",
        &[
            ("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "not_affected"),
            ("CVE-2024-2", "pkg:cargo/hyper@1.4.0", "not_affected"),
        ],
    );
    let scanner = openvex(
        d,
        "scanner.json",
        "scanner",
        "2024-06-01T00:00:00Z",
        &[("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "affected")],
    );
    let csaf = d.join("distro.csaf.json");
    stella(&home)
        .args(["vex", "convert", "--to", "csaf", "-o"])
        .arg(&csaf)
        .arg(openvex(
            d,
            "distro.json",
            "distro",
            "2024-03-01T00:00:00Z",
            &[("CVE-2024-2", "pkg:cargo/hyper@1.4.0", "under_investigation")],
        ))
        .assert()
        .success();
    let orders = [
        [&vendor, &scanner, &csaf],
        [&csaf, &scanner, &vendor],
        [&scanner, &vendor, &csaf],
    ];
    let outputs: Vec<String> = orders
        .iter()
        .map(|files| out(stella(&home).args(["vex", "merge"]).args(files.iter()), 0))
        .collect();
    assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{outputs:#?}");
    let merged: Value = serde_json::from_str(&outputs[0]).unwrap();
    let status = |vuln: &str| {
        merged["statements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["vulnerability"]["name"] == vuln)
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    // All equal: the later statement wins.
    assert_eq!(status("CVE-2024-1"), "affected");
    assert_eq!(status("CVE-2024-2"), "under_investigation");
    out(
        stella(&home).args(["vex", "validate"]).arg({
            let p = d.join("merged.json");
            std::fs::write(&p, &outputs[0]).unwrap();
            p
        }),
        0,
    );
    // --explain says who won over whom and by which rule.
    let stderr = String::from_utf8(
        stella(&home)
            .args(["vex", "merge", "--explain"])
            .args([&vendor, &scanner])
            .output()
            .unwrap()
            .stderr,
    )
    .unwrap();
    assert!(stderr.contains("scanner.json statement 0"), "{stderr}");
    assert!(
        stderr.contains("over not_affected (vulnerable_code_not_present) from"),
        "{stderr}"
    );
    assert!(stderr.contains("by timestamp"), "{stderr}");
    // A policy ranking the vendor first turns the answer, and names itself as the reason.
    let policy = d.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"schema":"stella.vex-policy/v1","author":"ACME","sources":[{"file":"PLACEHOLDER","priority":10}]}"#
            .replace("PLACEHOLDER", &vendor.display().to_string()),
    )
    .unwrap();
    let merged: Value = serde_json::from_str(&out(
        stella(&home)
            .args(["vex", "merge", "--policy"])
            .arg(&policy)
            .args([&vendor, &scanner]),
        0,
    ))
    .unwrap();
    assert_eq!(merged["author"], "ACME");
    assert_eq!(merged["statements"][0]["status"], "not_affected");
    // A policy naming a file that is not among the inputs is refused, not ignored.
    std::fs::write(
        &policy,
        r#"{"schema":"stella.vex-policy/v1","sources":[{"file":"elsewhere.json","priority":1}]}"#,
    )
    .unwrap();
    let stderr = err(
        stella(&home)
            .args(["vex", "merge", "--policy"])
            .arg(&policy)
            .arg(&vendor),
        2,
    );
    assert!(stderr.contains("/sources/0/file"), "{stderr}");
    // The clock is read only when asked: by default the latest input time, else --issued.
    assert_eq!(
        serde_json::from_str::<Value>(&outputs[0]).unwrap()["timestamp"],
        "2024-06-01T00:00:00Z"
    );
    let issued: Value = serde_json::from_str(&out(
        stella(&home)
            .args(["vex", "merge", "--issued", "2030-01-02T03:04:05Z"])
            .args([&vendor, &scanner]),
        0,
    ))
    .unwrap();
    assert_eq!(issued["timestamp"], "2030-01-02T03:04:05Z");
    // Each output format is valid.
    for format in ["cyclonedx", "csaf"] {
        let p = d.join(format!("merged.{format}.json"));
        stella(&home)
            .args(["vex", "merge", "--to", format, "-o"])
            .arg(&p)
            .args([&vendor, &scanner, &csaf])
            .assert()
            .success();
        out(stella(&home).args(["vex", "validate"]).arg(&p), 0);
    }
}

#[test]
fn query_answers_with_the_winning_statement_and_says_when_nothing_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let d = dir.path();
    let vendor = openvex(
        d,
        "vendor.json",
        "vendor",
        "2024-01-01T00:00:00Z",
        &[("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "not_affected")],
    );
    // A versionless purl and an alias: the scanner speaks about every hyper, by GHSA id.
    let scanner = d.join("scanner.json");
    std::fs::write(
        &scanner,
        serde_json::to_vec(&json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://scanner.example/vex/1",
            "author": "scanner", "timestamp": "2024-06-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2024-1"]},
                "products": [{"@id": image_purl(), "subcomponents": [{"@id": "pkg:cargo/hyper"}]}],
                "status": "affected", "action_statement": "Upgrade hyper."}]
        }))
        .unwrap(),
    )
    .unwrap();
    let ask = |extra: &[&str], code: i32| -> Value {
        serde_json::from_str(&out(
            stella(&home)
                .args([
                    "vex",
                    "query",
                    "--json",
                    "--vuln",
                    "CVE-2024-1",
                    "--product",
                ])
                .arg(image_purl())
                .args(["--subcomponent", "pkg:cargo/hyper@1.4.0"])
                .args(extra)
                .arg(&vendor)
                .arg(&scanner),
            code,
        ))
        .unwrap()
    };
    let answer = ask(&[], 0);
    assert_eq!(answer["schema"], "stella.vex.query/v1");
    assert_eq!(answer["status"], "affected");
    let effective: Vec<&Value> = answer["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["effective"] == true)
        .collect();
    assert_eq!(effective.len(), 1);
    assert_eq!(
        effective[0]["source"]["file"],
        scanner.display().to_string()
    );
    let lost = answer["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["effective"] == false)
        .unwrap();
    assert_eq!(lost["lostBy"], "timestamp");
    // Nothing speaks about another vulnerability: exit 1, said in words.
    let text = out(
        stella(&home)
            .args(["vex", "query", "--vuln", "CVE-1999-0001"])
            .arg(&vendor),
        1,
    );
    assert!(text.contains("no statement"), "{text}");
}

use crate::oci::image;

/// A new key pair under `dir` (password [`PASSWORD`]): the private and public key files.
fn keygen(home: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("signer");
    stella(home)
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["key", "generate", "--out"])
        .arg(&prefix)
        .assert()
        .success();
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

#[test]
fn attached_vex_is_found_with_its_proof_and_an_unsigned_one_is_refused_under_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("home");
    image(&d.join("img"));
    let image_ref = format!("oci-layout:{}:app", d.join("img").display());
    let (key, public) = keygen(&home, d);
    let vendor = openvex(
        d,
        "vendor.json",
        "vendor",
        "2024-01-01T00:00:00Z",
        &[("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "not_affected")],
    );
    let attached: Value = serde_json::from_str(&out(
        stella(&home)
            .env("STELLA_PASSWORD", PASSWORD)
            .args(["vex", "attach", "--json", "--image", &image_ref, "--key"])
            .arg(&key)
            .arg(&vendor),
        0,
    ))
    .unwrap();
    assert_eq!(attached["schema"], "stella.vex.attach/v1");
    assert_eq!(attached["predicateType"], "https://openvex.dev/ns/v0.2.0");
    assert!(attached["logIndex"].is_u64(), "{attached}");
    // Found again, verified with the key.
    let report: Value = serde_json::from_str(&out(
        stella(&home)
            .args(["vex", "validate", "--json", "--image", &image_ref, "--key"])
            .arg(&public),
        0,
    ))
    .unwrap();
    let docs = report["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["signature"], "verified");
    let answer: Value = serde_json::from_str(&out(
        stella(&home)
            .args([
                "vex",
                "query",
                "--json",
                "--vuln",
                "CVE-2024-1",
                "--image",
                &image_ref,
                "--key",
            ])
            .arg(&public),
        0,
    ))
    .unwrap();
    assert_eq!(answer["statements"][0]["status"], "not_affected");
    assert_eq!(answer["statements"][0]["source"]["signature"], "verified");

    // The one VEX document of the image converts like a file.
    let csaf = out(
        stella(&home)
            .args([
                "vex", "convert", "--to", "csaf", "--image", &image_ref, "--key",
            ])
            .arg(&public),
        0,
    );
    assert!(csaf.contains("\"csaf_vex\""), "{csaf}");

    // An invalid document is never signed or attached.
    let invalid = d.join("invalid.json");
    std::fs::write(
        &invalid,
        std::fs::read_to_string(&vendor).unwrap().replace(
            "\"vulnerable_code_not_present\"",
            "\"vulnerable_code_not_present\", \"status\": \"affected\"",
        ),
    )
    .unwrap();
    stella(&home)
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["vex", "attach", "--image", &image_ref, "--key"])
        .arg(&key)
        .arg(&invalid)
        .assert()
        .failure();

    // An attacker with push access adds an unsigned OpenVEX beside the signed one.
    let forged = openvex(
        d,
        "forged.json",
        "vendor",
        "2025-01-01T00:00:00Z",
        &[("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "fixed")],
    );
    stella(&home)
        .args([
            "oci",
            "attach",
            "--image",
            &image_ref,
            "--artifact-type",
            "application/openvex+json",
            "--media-type",
            "application/openvex+json",
        ])
        .arg(&forged)
        .assert()
        .success();
    // With the key: refused, exit 1, naming the referrer.
    let stderr = err(
        stella(&home)
            .args([
                "vex",
                "query",
                "--vuln",
                "CVE-2024-1",
                "--image",
                &image_ref,
                "--key",
            ])
            .arg(&public),
        1,
    );
    assert!(stderr.contains("not signed"), "{stderr}");
    // Two documents now: convert says to merge them.
    let stderr = err(
        stella(&home).args(["vex", "convert", "--to", "csaf", "--image", &image_ref]),
        2,
    );
    assert!(stderr.contains("2 were given"), "{stderr}");
    // Without a key both are read, the unsigned one said to be so.
    let report: Value = serde_json::from_str(&out(
        stella(&home).args(["vex", "validate", "--json", "--image", &image_ref]),
        0,
    ))
    .unwrap();
    let mut signatures: Vec<&str> = report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["signature"].as_str().unwrap())
        .collect();
    signatures.sort();
    assert_eq!(signatures, ["not-signed", "unchecked"]);
}

#[test]
fn vex_attached_in_a_real_registry_is_read_back_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("home");
    let Some(registry) = crate::oci::Registry::start(d) else {
        stella_testkit::skip(
            "vex_attached_in_a_real_registry_is_read_back_and_verified",
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    };
    image(&d.join("img"));
    let remote = format!("{}/team/app:1.0", registry.host);
    stella(&home)
        .args(["oci", "copy"])
        .arg(format!("oci-layout:{}:app", d.join("img").display()))
        .arg(&remote)
        .assert()
        .success();
    let (key, public) = keygen(&home, d);
    // CSAF this time: attached with its own media type and predicate type.
    let csaf = d.join("distro.csaf.json");
    stella(&home)
        .args(["vex", "convert", "--to", "csaf", "-o"])
        .arg(&csaf)
        .arg(openvex(
            d,
            "distro.json",
            "distro",
            "2024-03-01T00:00:00Z",
            &[("CVE-2024-7", "pkg:deb/debian/zlib1g@1.2.13", "fixed")],
        ))
        .assert()
        .success();
    let attached: Value = serde_json::from_str(&out(
        stella(&home)
            .env("STELLA_PASSWORD", PASSWORD)
            .args(["vex", "attach", "--json", "--image", &remote, "--key"])
            .arg(&key)
            .arg(&csaf),
        0,
    ))
    .unwrap();
    assert_eq!(
        attached["predicateType"],
        "https://docs.oasis-open.org/csaf/csaf/v2.0"
    );
    let answer: Value = serde_json::from_str(&out(
        stella(&home)
            .args([
                "vex",
                "query",
                "--json",
                "--vuln",
                "CVE-2024-7",
                "--image",
                &remote,
                "--key",
            ])
            .arg(&public),
        0,
    ))
    .unwrap();
    assert_eq!(answer["statements"][0]["status"], "fixed");
    assert_eq!(answer["statements"][0]["source"]["format"], "csaf");
    // The attached VEX is not taken for the image's own evidence: it lists as VEX, not as an SBOM.
    let tree = out(
        stella(&home).args(["oci", "referrers", "--json", &remote]),
        0,
    );
    assert!(tree.contains("\"dev.stellaops.kind\": \"vex\""), "{tree}");
}

#[test]
fn cyclonedx_vex_attached_beside_scan_evidence_is_not_taken_for_its_sbom() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("home");
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::copy("/bin/true", tree.join("bin/true")).unwrap();
    let image_ref = format!("oci-layout:{}:app", d.join("img").display());
    stella(&home)
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["scan", "--image", &image_ref])
        .arg(&tree)
        .assert()
        .success();
    // CycloneDX VEX shares the SBOM's media type.
    let cdx = d.join("scanner.cdx.json");
    stella(&home)
        .args(["vex", "convert", "--to", "cyclonedx", "-o"])
        .arg(&cdx)
        .arg(openvex(
            d,
            "s.json",
            "scanner",
            "2024-06-01T00:00:00Z",
            &[("CVE-2024-1", "pkg:cargo/hyper@1.4.0", "under_investigation")],
        ))
        .assert()
        .success();
    stella(&home)
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["vex", "attach", "--image", &image_ref])
        .arg(&cdx)
        .assert()
        .success();
    // The auditor's replay still verifies the scan's own evidence...
    let output = stella(&home)
        .args(["verify", "--json", "--image", &image_ref])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // ...and the VEX reads back from the image, signed by the home's key.
    let report: Value = serde_json::from_str(&out(
        stella(&home)
            .args(["vex", "validate", "--json", "--image", &image_ref, "--key"])
            .arg(home.join("keys/stella.pub")),
        0,
    ))
    .unwrap();
    let docs = report["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "the scan's SBOM is not VEX: {report:#}");
    assert_eq!(docs[0]["format"], "cyclonedx");
    assert_eq!(docs[0]["signature"], "verified");
}
