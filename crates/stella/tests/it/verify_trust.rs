//! `stella verify --image` fails closed: the attacks of someone with push access to the image's
//! store, each kept as a test. Nothing checked is not success; the record and the symbol
//! bundle are signed evidence; another key's scan neither blocks verification nor stands in for
//! the trusted one; the newest trusted record decides; every path of a binary is replayed; a
//! symbol bundle the trusted record does not bind never names frames.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::scan::failures;

const PASSWORD: &str = "verify-trust-test";

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DEBUGINFOD_URLS")
        .env("STELLA_PASSWORD", PASSWORD)
        .env("STELLA_HOME", home);
    cmd
}

/// A C program built here with a named function.
fn build_c(dir: &Path, name: &str, function: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((noinline)) int {function}(int x) {{ return x * 7 + 3; }}\n\
             int main(int c, char **v) {{ (void)v; printf(\"%d\\n\", {function}(c)); return 0; }}\n"
        ),
    )
    .expect("write");
    let out = dir.join(name);
    let status = std::process::Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc builds {name}");
    out
}

/// A tree with one program at two paths (identical copies): `/usr/bin/tool` and
/// `/opt/tool/bin/tool`.
fn tree(d: &Path, name: &str, function: &str) -> PathBuf {
    let build = d.join(format!("build-{name}"));
    std::fs::create_dir_all(&build).expect("mkdir");
    let program = build_c(&build, name, function);
    let root = d.join(name);
    for dir in ["usr/bin", "opt/tool/bin"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    std::fs::copy(&program, root.join("usr/bin/tool")).expect("copy");
    std::fs::copy(&program, root.join("opt/tool/bin/tool")).expect("copy");
    root
}

fn scan(home: &Path, target: &str, extra: &[&str]) {
    stella(home)
        .args(["scan", "--json", target])
        .args(extra)
        .assert()
        .success();
}

/// Verify's JSON and exit code.
fn verify(home: &Path, image: &str, extra: &[&str]) -> (i32, Value) {
    let out = stella(home)
        .args(["verify", "--image", image, "--json"])
        .args(extra)
        .output()
        .expect("runs");
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), value)
}

fn with_status<'a>(report: &'a Value, status: &str) -> Vec<&'a Value> {
    report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a["status"] == status)
        .collect()
}

fn layout_of(home: &Path) -> PathBuf {
    home.join("oci")
}

fn index(layout: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index")).expect("json")
}

fn write_index(layout: &Path, index: &Value) {
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(index).expect("json"),
    )
    .expect("write index");
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256");
    std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob")
}

fn put_blob(layout: &Path, bytes: &[u8]) -> String {
    let hex: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).expect("write blob");
    format!("sha256:{hex}")
}

/// The manifests of `index.json` (with their parsed bodies) whose artifactType is `t`.
fn manifests_of_type(layout: &Path, t: &str) -> Vec<(String, Value)> {
    index(layout)["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| {
            let digest = m["digest"].as_str()?.to_owned();
            let body: Value = serde_json::from_slice(&blob(layout, &digest)).ok()?;
            (body["artifactType"] == t).then_some((digest, body))
        })
        .collect()
}

/// Removes the manifests with these digests from `index.json` (the blobs stay).
fn unlist(layout: &Path, digests: &[String]) {
    let mut idx = index(layout);
    idx["manifests"]
        .as_array_mut()
        .expect("manifests")
        .retain(|m| !digests.iter().any(|d| m["digest"] == d.as_str()));
    write_index(layout, &idx);
}

/// The image manifest's digest: the manifest listed with the tag `tag`.
fn image_digest(layout: &Path, tag: &str) -> String {
    index(layout)["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .and_then(|m| m["digest"].as_str())
        .expect("tagged image")
        .to_owned()
}

/// Attaches, by hand, an unsigned artifact manifest of type `t` with `layers` to `subject`.
fn attach_raw(layout: &Path, subject: &str, t: &str, layers: Value) -> String {
    let config = put_blob(layout, b"{}");
    let subject_size = blob(layout, subject).len();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": t,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": layers,
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": subject_size},
    });
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let digest = put_blob(layout, &bytes);
    let mut idx = index(layout);
    idx["manifests"]
        .as_array_mut()
        .expect("manifests")
        .push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": bytes.len(),
        }));
    write_index(layout, &idx);
    digest
}

const SBOM: &str = "application/vnd.cyclonedx+json";
const FUNCPROOF: &str = "application/vnd.stellaops.funcproof+json";
const SYMBOLS: &str = "application/vnd.stellaops.symbols+tar";
const RECORD: &str = "application/vnd.stellaops.record+json";

#[test]
fn nothing_checked_is_never_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let root = tree(d, "app", "parse_header");
    scan(&home, root.to_str().expect("utf8"), &[]);
    let image = "oci-layout:".to_owned() + layout_of(&home).to_str().expect("utf8") + ":app";
    assert_eq!(verify(&home, &image, &[]).0, 0, "a fresh scan verifies");
    let layout = layout_of(&home);
    let subject = image_digest(&layout, "app");

    // 1. Every Stella referrer removed, one unsigned CycloneDX referrer without layers added:
    //    the image was, as far as anyone can prove, never scanned.
    let all: Vec<String> = [SBOM, FUNCPROOF, SYMBOLS, RECORD]
        .iter()
        .flat_map(|t| manifests_of_type(&layout, t))
        .map(|(d, _)| d)
        .collect();
    let saved = index(&layout);
    unlist(&layout, &all);
    attach_raw(&layout, &subject, SBOM, json!([]));
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["verified"], false);
    let f = failures(&report);
    assert!(
        f.iter().any(|r| r.contains("has no content")),
        "the empty referrer is named: {f:#?}"
    );
    assert!(
        f.iter()
            .any(|r| r.contains("no artifact record signed by a trusted key")),
        "{f:#?}"
    );
    // The text output does not say VERIFIED either.
    let out = stella(&home)
        .args(["verify", "--image", &image])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT VERIFIED"));

    // 2. The real SBOM replaced by an empty one and the record deleted.
    write_index(&layout, &saved);
    let sboms: Vec<String> = manifests_of_type(&layout, SBOM)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let records: Vec<String> = manifests_of_type(&layout, RECORD)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    unlist(&layout, &[sboms, records].concat());
    attach_raw(&layout, &subject, SBOM, json!([]));
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        failures(&report)
            .iter()
            .any(|r| r.contains("has no content"))
    );

    // 3. The record and the symbol bundle dropped: the rest is bound by nothing signed.
    write_index(&layout, &saved);
    let dropped: Vec<String> = [RECORD, SYMBOLS]
        .iter()
        .flat_map(|t| manifests_of_type(&layout, t))
        .map(|(d, _)| d)
        .collect();
    unlist(&layout, &dropped);
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        failures(&report)
            .iter()
            .any(|r| r.contains("no artifact record signed by a trusted key")),
        "{report:#}"
    );
    assert!(
        !with_status(&report, "untrusted").is_empty(),
        "the unbound SBOM and FuncProof are listed as untrusted: {report:#}"
    );

    // 4. Only the symbol bundle dropped: the signed record names what is missing.
    write_index(&layout, &saved);
    let symbols: Vec<String> = manifests_of_type(&layout, SYMBOLS)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    unlist(&layout, &symbols);
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        failures(&report)
            .iter()
            .any(|r| r.contains("binds no symbol bundle")),
        "{report:#}"
    );

    // 5. The record's content swapped for an edited copy (its signature no longer covers it).
    write_index(&layout, &saved);
    let (record_digest, record_manifest) = manifests_of_type(&layout, RECORD).remove(0);
    let layer = record_manifest["layers"][0].clone();
    let mut record: Value =
        serde_json::from_slice(&blob(&layout, layer["digest"].as_str().expect("digest")))
            .expect("record");
    record["created"] = json!("2099-01-01T00:00:00Z");
    let edited = serde_json::to_vec(&record).expect("json");
    let edited_digest = put_blob(&layout, &edited);
    let mut manifest = record_manifest.clone();
    manifest["layers"][0]["digest"] = json!(edited_digest);
    manifest["layers"][0]["size"] = json!(edited.len());
    let bytes = serde_json::to_vec(&manifest).expect("json");
    let new_digest = put_blob(&layout, &bytes);
    let mut idx = index(&layout);
    for m in idx["manifests"].as_array_mut().expect("manifests") {
        if m["digest"] == record_digest.as_str() {
            m["digest"] = json!(new_digest);
            m["size"] = json!(bytes.len());
        }
    }
    write_index(&layout, &idx);
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1, "an edited record is not trusted: {report:#}");
}

#[test]
fn another_keys_scan_neither_blocks_nor_stands_in_and_the_newest_trusted_record_decides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let root = tree(d, "svc", "handle_request");
    scan(&home, root.to_str().expect("utf8"), &[]);
    let layout = layout_of(&home);
    let image = "oci-layout:".to_owned() + layout.to_str().expect("utf8") + ":svc";
    let (_, first) = verify(&home, &image, &[]);
    let first_record = first["record"].as_str().expect("record").to_owned();

    // Someone with push access scans the same image with their own key.
    let other = d.join("other");
    stella(&home)
        .args(["key", "generate", "--out"])
        .arg(&other)
        .assert()
        .success();
    let other_key = other.with_extension("key");
    let other_pub = other.with_extension("pub");
    scan(&home, &image, &["--key", other_key.to_str().expect("utf8")]);

    // The default key's evidence still verifies; the other scan is listed, not used.
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["record"], first_record.as_str());
    assert!(
        with_status(&report, "untrusted")
            .iter()
            .any(|a| a["kind"] == "record"),
        "the other key's record is reported as untrusted: {report:#}"
    );
    // Trusting the other key: its record decides.
    let (code, report) = verify(&home, &image, &["--key", other_pub.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{report:#}");
    assert_ne!(report["record"], first_record.as_str());
    // A key that signed nothing here: nothing is trusted.
    let third = d.join("third");
    stella(&home)
        .args(["key", "generate", "--out"])
        .arg(&third)
        .assert()
        .success();
    let (code, report) = verify(
        &home,
        &image,
        &["--key", third.with_extension("pub").to_str().expect("utf8")],
    );
    assert_eq!(code, 1, "{report:#}");

    // A second scan with the default key: the newest trusted record decides, the first is
    // superseded, and --record picks it again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    scan(&home, &image, &[]);
    let default_pub = home.join("keys/stella.pub");
    let both = [
        "--key",
        default_pub.to_str().expect("utf8"),
        "--key",
        other_pub.to_str().expect("utf8"),
    ];
    let (code, report) = verify(&home, &image, &both);
    assert_eq!(code, 0, "{report:#}");
    let newest = report["record"].as_str().expect("record").to_owned();
    assert_ne!(newest, first_record);
    let superseded = with_status(&report, "superseded");
    assert!(
        superseded.iter().filter(|a| a["kind"] == "record").count() == 2,
        "the two older trusted records are superseded: {report:#}"
    );
    let (code, report) = verify(&home, &image, &["--record", &first_record]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["record"], first_record.as_str());
    let (code, report) = verify(
        &home,
        &image,
        &[
            "--record",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
    );
    assert_eq!(code, 1, "{report:#}");
    assert!(failures(&report).iter().any(|r| r.contains("--record")));
}

#[test]
fn every_path_of_a_binary_is_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let root = tree(d, "dup", "checksum_block");
    scan(&home, root.to_str().expect("utf8"), &[]);
    let image = "oci-layout:".to_owned() + layout_of(&home).to_str().expect("utf8") + ":dup";
    assert_eq!(
        verify(&home, &image, &["--rootfs", root.to_str().expect("utf8")]).0,
        0
    );
    // One byte of the function patched in the second copy only (`/usr/bin/tool` sorts after
    // `/opt/tool/bin/tool`, which names the FuncProof).
    let patched = root.join("usr/bin/tool");
    let nm = std::process::Command::new("nm")
        .arg(&patched)
        .output()
        .expect("nm runs");
    let text = String::from_utf8_lossy(&nm.stdout);
    let addr = text
        .lines()
        .find(|l| l.ends_with(" checksum_block"))
        .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
        .expect("checksum_block in nm's output");
    let mut bytes = std::fs::read(&patched).expect("read");
    // A gcc PIE maps its text at file offset == virtual address.
    bytes[usize::try_from(addr).expect("fits")] ^= 0xff;
    std::fs::write(&patched, &bytes).expect("patch");
    let (code, report) = verify(&home, &image, &["--rootfs", root.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{report:#}");
    let f = failures(&report);
    assert!(
        f.iter()
            .any(|r| r.contains("/usr/bin/tool") && r.contains("checksum_block")),
        "the failure names the patched path and function: {f:#?}"
    );
}

#[test]
fn a_symbol_bundle_the_trusted_record_does_not_bind_never_names_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let app = tree(d, "named", "app_main_loop");
    let foreign = tree(d, "foreign", "foreign_secret_fn");
    scan(&home, app.to_str().expect("utf8"), &[]);
    scan(&home, foreign.to_str().expect("utf8"), &[]);
    let layout = layout_of(&home);
    let app_image = "oci-layout:".to_owned() + layout.to_str().expect("utf8") + ":named";
    let foreign_image = "oci-layout:".to_owned() + layout.to_str().expect("utf8") + ":foreign";

    // A raw frame in the foreign program's function.
    let program = foreign.join("usr/bin/tool");
    let readelf = std::process::Command::new("readelf")
        .args(["-n"])
        .arg(&program)
        .output()
        .expect("readelf runs");
    let notes = String::from_utf8_lossy(&readelf.stdout);
    let build_id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("a GNU build id")
        .trim()
        .to_owned();
    let nm = std::process::Command::new("nm")
        .arg(&program)
        .output()
        .expect("nm runs");
    let addr = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find(|l| l.ends_with(" foreign_secret_fn"))
        .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
        .expect("foreign_secret_fn in nm's output");
    let frames = d.join("frames.txt");
    std::fs::write(&frames, format!("{build_id} 0x{:x}\n", addr + 1)).expect("write");
    let cache = d.join("empty-cache");
    let symbolize = |image: &str| {
        stella(&home)
            .args([
                "symbolize",
                "--format",
                "raw",
                "--symbols",
                image,
                "--symbol-cache",
            ])
            .arg(&cache)
            .arg(&frames)
            .output()
            .expect("runs")
    };
    // The foreign image's own, verified, bundle names it.
    let out = symbolize(&foreign_image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("foreign_secret_fn"));

    // The foreign bundle attached to the app image by someone with push access.
    let (_, foreign_symbols) = manifests_of_type(&layout, SYMBOLS)
        .into_iter()
        .find(|(_, m)| m["subject"]["digest"] != image_digest(&layout, "named").as_str())
        .expect("the foreign symbol artifact");
    let subject = image_digest(&layout, "named");
    attach_raw(
        &layout,
        &subject,
        SYMBOLS,
        foreign_symbols["layers"].clone(),
    );
    let (code, report) = verify(&home, &app_image, &[]);
    assert_eq!(code, 0, "the unbound bundle is ignored: {report:#}");
    assert!(
        with_status(&report, "untrusted")
            .iter()
            .any(|a| a["kind"] == "symbols"),
        "{report:#}"
    );
    let out = symbolize(&app_image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("foreign_secret_fn"),
        "a table the trusted record does not bind named a frame: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The app image's bound bundle swapped for the foreign one: its evidence no longer verifies,
    // and symbolize refuses it.
    let bound: Vec<String> = manifests_of_type(&layout, SYMBOLS)
        .into_iter()
        .filter(|(_, m)| {
            m["subject"]["digest"] == subject.as_str() && m["layers"] != foreign_symbols["layers"]
        })
        .map(|(d, _)| d)
        .collect();
    unlist(&layout, &bound);
    let out = symbolize(&app_image);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
}

#[test]
fn a_log_restored_from_an_older_copy_fails_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let first = tree(d, "first", "first_fn");
    let second = tree(d, "second", "second_fn");
    scan(&home, first.to_str().expect("utf8"), &[]);
    let layout = layout_of(&home);
    let image = "oci-layout:".to_owned() + layout.to_str().expect("utf8") + ":first";
    assert_eq!(verify(&home, &image, &[]).0, 0);
    // A copy of the log as it was after the first scan.
    let backup = d.join("log-backup");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(home.join("log"))
        .arg(&backup)
        .status()
        .expect("cp runs");
    assert!(status.success());
    // The log grows, and this machine sees it grow.
    scan(&home, second.to_str().expect("utf8"), &[]);
    let image2 = "oci-layout:".to_owned() + layout.to_str().expect("utf8") + ":second";
    assert_eq!(verify(&home, &image2, &[]).0, 0);
    // The older copy restored: it holds every entry of the first image, but this machine has
    // seen the log larger. A rollback is a failure, not a warning.
    std::fs::remove_dir_all(home.join("log")).expect("rm");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&backup)
        .arg(home.join("log"))
        .status()
        .expect("cp runs");
    assert!(status.success());
    let (code, report) = verify(&home, &image, &[]);
    assert_eq!(code, 1, "a rolled-back log verified: {report:#}");
    assert_eq!(report["verified"], false);
}

#[test]
fn a_damaged_log_stops_a_scan_before_the_work_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let root = tree(d, "logged", "logged_fn");
    scan(&home, root.to_str().expect("utf8"), &[]);
    // One byte of a level-0 hash tile flipped.
    let tiles = home.join("log/tile/0");
    let tile = walk_files(&tiles)
        .into_iter()
        .next()
        .expect("a level-0 hash tile");
    let mut bytes = std::fs::read(&tile).expect("read");
    bytes[0] ^= 0x01;
    std::fs::write(&tile, &bytes).expect("write");
    let checkpoint = std::fs::read(home.join("log/checkpoint")).expect("checkpoint");
    let out = stella(&home)
        .args(["scan", "--json"])
        .arg(&root)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tile/0/"),
        "the damaged file is named: {stderr}"
    );
    assert_eq!(
        std::fs::read(home.join("log/checkpoint")).expect("checkpoint"),
        checkpoint,
        "no checkpoint is signed over a damaged tile"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}
