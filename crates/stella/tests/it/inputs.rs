//! Hostile inputs met at the command line: an image config whose `created` would be cut inside a
//! character, FIFOs where a file is expected (each command must refuse them by name instead of
//! waiting forever for a writer), and size refusals that name only flags the command has.
//!
//! Every command here runs under a timeout, so a regression that blocks fails the test instead
//! of hanging the suite.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use stella_oci::ArtifactStore as _;

/// Long enough for a debug build on a loaded machine; a command blocked on a FIFO never ends.
const TIMEOUT: Duration = Duration::from_secs(60);

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "inputs-test")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("STELLA_HOME", home)
        .timeout(TIMEOUT);
    cmd
}

fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked").not()
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Packs a one-file directory as `oci-layout:DIR:TAG`, then retags `TAG` to the same image
/// with its config's `created` replaced by `created`.
fn image_created_at(dir: &Path, tag: &str, created: &str) -> String {
    let tree = dir.join(format!("{tag}-tree"));
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("hello.txt"), "just some text in an image").expect("write");
    let layout = dir.join("layout");
    let store = stella_oci::LayoutStore::open(&layout).expect("layout");
    let packed = stella_oci::image::pack_directory(
        &store,
        &tree,
        tag,
        &stella_oci::image::PackOptions {
            source_date_epoch: None,
        },
    )
    .expect("pack");
    let mut manifest: Value = serde_json::from_slice(&packed.manifest.bytes).expect("manifest");
    let config_digest = manifest["config"]["digest"].as_str().expect("digest");
    let mut config: Value =
        serde_json::from_slice(&store.get_blob(config_digest).expect("config")).expect("JSON");
    config["created"] = Value::from(created);
    let config_bytes = serde_json::to_vec(&config).expect("serialise");
    let digest = store.put_blob(&config_bytes).expect("put config");
    manifest["config"]["digest"] = Value::from(digest);
    manifest["config"]["size"] = Value::from(config_bytes.len());
    store
        .put_manifest(
            &serde_json::to_vec(&manifest).expect("serialise"),
            &packed.manifest.media_type,
            Some(tag),
        )
        .expect("put manifest");
    format!("oci-layout:{}:{tag}", layout.display())
}

/// The `metadata.timestamp` of the SBOM a scan of `image` writes, and the scan's stderr.
fn scanned_timestamp(home: &Path, image: &str, sbom_out: &Path) -> (String, String) {
    let out = stella(home)
        .args(["scan", "--json", "--sbom-out"])
        .arg(sbom_out)
        .arg(image)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "scan of {image}: {stderr}");
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(sbom_out).expect("SBOM written")).expect("JSON");
    let timestamp = sbom["metadata"]["timestamp"]
        .as_str()
        .expect("metadata.timestamp")
        .to_owned();
    (timestamp, stderr)
}

#[test]
fn an_image_created_time_is_parsed_not_sliced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    // A multi-byte character across byte 19, where the seconds end: slicing there panicked
    // (exit 101). The scan goes on with the documented fallback (now) and says why.
    let hostile = image_created_at(d, "hostile", "2024-01-02T03:04:0\u{e9}Z");
    let (timestamp, stderr) = scanned_timestamp(&home, &hostile, &d.join("hostile.json"));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("created") && stderr.contains("RFC 3339"),
        "the unreadable created time is named: {stderr}"
    );
    assert!(
        stella_core::time::is_rfc3339_utc(&timestamp) && !timestamp.starts_with("2024-01-02"),
        "{timestamp}"
    );
    // A valid time with an offset and nanoseconds is the same instant in UTC, to the second.
    let offset = image_created_at(d, "offset", "2024-01-02T03:04:05.123456789+01:00");
    let (timestamp, stderr) = scanned_timestamp(&home, &offset, &d.join("offset.json"));
    assert_eq!(timestamp, "2024-01-02T02:04:05Z", "{stderr}");
}

#[test]
fn fifos_are_refused_by_name_where_a_file_is_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let fifo = d.join("pipe");
    mkfifo(&fifo);
    let named = || {
        predicate::str::contains(fifo.display().to_string())
            .and(predicate::str::contains("FIFO"))
            .and(no_panic())
    };
    // The binary to prove, the proof to query, the binary to verify, the SBOM to read.
    let elf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../stella-binary/tests/fuzz-regressions/seed-x86_64-dwarf.elf");
    let proof = d.join("proof.json");
    stella(&home)
        .arg("funcproof")
        .arg(&elf)
        .arg("-o")
        .arg(&proof)
        .assert()
        .success();
    let fifo_arg = fifo.to_str().expect("UTF-8 path");
    let proof_arg = proof.to_str().expect("UTF-8 path");
    for args in [
        vec!["funcproof", fifo_arg],
        vec!["funcproof", "verify", proof_arg, fifo_arg],
        vec!["funcproof", "query", fifo_arg, "main"],
        vec!["sbom", "id", fifo_arg],
        vec!["sbom", "validate", fifo_arg],
        // Resolving the probes reads the binary before anything is attached.
        vec![
            "witness",
            "--binary",
            fifo_arg,
            "--symbol",
            "main",
            "--duration",
            "1s",
        ],
    ] {
        stella(&home).args(&args).assert().code(2).stderr(named());
    }
    // Standard input is still `-`.
    stella(&home)
        .args(["sbom", "id", "-"])
        .write_stdin(
            std::fs::read(shared().join("sbom/cyclonedx-py-7.5.0-spec1.7.json")).expect("fixture"),
        )
        .assert()
        .success()
        .stdout(predicate::str::starts_with("sha256:"));
}

#[test]
fn a_fifo_in_the_schema_directory_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schemas = dir.path().join("schemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    let official = shared().join("cyclonedx/schema");
    for entry in std::fs::read_dir(&official).expect("schema fixtures") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name");
        std::fs::copy(&path, schemas.join(name)).expect("copy");
    }
    let sbom = shared().join("sbom/cyclonedx-py-7.5.0-spec1.7.json");
    // The copied directory validates; then the 1.7 schema becomes a FIFO with no writer.
    stella(dir.path())
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg(&sbom)
        .assert()
        .success();
    let schema = schemas.join("bom-1.7.schema.json");
    std::fs::remove_file(&schema).expect("remove");
    mkfifo(&schema);
    stella(dir.path())
        .args(["sbom", "validate", "--schema-dir"])
        .arg(&schemas)
        .arg(&sbom)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(schema.display().to_string())
                .and(predicate::str::contains("FIFO"))
                .and(no_panic()),
        );
}

#[test]
fn size_refusals_name_the_flag_only_where_the_command_has_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let big = d.join("big");
    std::fs::write(&big, vec![b' '; 70 << 10]).expect("write");
    // `sbom id` has --max-size: the refusal says how to raise the limit.
    stella(d)
        .args(["sbom", "id", "--max-size", "1K"])
        .arg(&big)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("larger than the 1.0 KiB limit")
                .and(predicate::str::contains("raise it with --max-size")),
        );
    // `log append` has no such flag (a log entry is at most 64 KiB): none is suggested.
    stella(d)
        .args(["log", "append"])
        .arg(&big)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("larger than the 64.0 KiB limit")
                .and(predicate::str::contains("--max-size").not())
                .and(no_panic()),
        );
}
