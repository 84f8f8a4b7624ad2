//! Hostile inputs met at the command line: an image config whose `created` would be cut inside a
//! character.
//!
//! Every command here runs under a timeout, so a regression that blocks fails the test instead
//! of hanging the suite.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use stella_oci::ArtifactStore as _;

/// Long enough for a debug build on a loaded machine; a command blocked on a FIFO never ends.
const TIMEOUT: Duration = Duration::from_secs(60);

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("STELLA_HOME", home)
        .timeout(TIMEOUT);
    cmd
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
