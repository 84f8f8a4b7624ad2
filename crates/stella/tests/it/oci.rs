//! `stella oci attach | referrers | pull | copy` on OCI image layouts: evidence attached as
//! referrers (and referrers of referrers), found as a tree, pulled back byte for byte, copied
//! with every referrer to another layout; a tampered blob is refused.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use stella_oci::reference::Target;
use stella_oci::store::MANIFEST;
use stella_oci::{ArtifactStore, LayoutStore};

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG").env_remove("STELLA_HOME");
    cmd
}

/// A small image tagged `app` in the layout at `dir`; its digest.
pub(crate) fn image(dir: &Path) -> String {
    let store = LayoutStore::open(dir).expect("layout");
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = store.put_blob(config).expect("config");
    let layer = b"not really a tar, but bytes all the same";
    let layer_digest = store.put_blob(layer).expect("layer");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    });
    let bytes = serde_json::to_vec(&manifest).expect("json");
    store
        .put_manifest(&bytes, MANIFEST, Some("app"))
        .expect("manifest")
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).expect("utf8")
}

#[test]
fn attach_list_pull_and_copy_with_every_referrer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let layout = d.join("layout");
    let image_digest = image(&layout);
    let sbom = d.join("bom.json");
    std::fs::write(&sbom, br#"{"bomFormat":"CycloneDX","specVersion":"1.7"}"#).expect("write");
    let proof = d.join("app.funcproof.json");
    std::fs::write(&proof, br#"{"schema":"stella.funcproof/v1"}"#).expect("write");
    let image_ref = format!("oci-layout:{}:app", layout.display());
    let sbom_digest = stdout(
        stella()
            .args([
                "oci",
                "attach",
                "--image",
                &image_ref,
                "--artifact-type",
                "application/vnd.cyclonedx+json",
            ])
            .args([
                "--annotation",
                "org.opencontainers.image.created=2026-01-01T00:00:00Z",
            ])
            .arg(&sbom),
    )
    .trim()
    .to_owned();
    let proof_digest = stdout(
        stella()
            .args([
                "oci",
                "attach",
                "--image",
                &image_ref,
                "--artifact-type",
                "application/vnd.stellaops.funcproof+json",
            ])
            .arg(&proof),
    )
    .trim()
    .to_owned();
    // A signature bundle about the SBOM artifact: a referrer of a referrer.
    let bundle = d.join("bom.bundle.json");
    std::fs::write(
        &bundle,
        br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
    )
    .expect("write");
    let sbom_ref = format!("oci-layout:{}@{sbom_digest}", layout.display());
    let bundle_digest = stdout(
        stella()
            .args([
                "oci",
                "attach",
                "--image",
                &sbom_ref,
                "--artifact-type",
                "application/vnd.dev.sigstore.bundle.v0.3+json",
            ])
            .arg(&bundle),
    )
    .trim()
    .to_owned();

    let tree: Value = serde_json::from_str(&stdout(stella().args([
        "oci",
        "referrers",
        "--json",
        &image_ref,
    ])))
    .expect("json");
    assert_eq!(tree["digest"], image_digest.as_str());
    let first: Vec<&str> = tree["referrers"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["digest"].as_str().expect("digest"))
        .collect();
    let mut expected = vec![sbom_digest.as_str(), proof_digest.as_str()];
    expected.sort();
    assert_eq!(first, expected);
    let sbom_node = tree["referrers"]
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["digest"] == sbom_digest.as_str())
        .expect("sbom");
    assert_eq!(sbom_node["referrers"][0]["digest"], bundle_digest.as_str());
    assert_eq!(
        sbom_node["annotations"]["org.opencontainers.image.created"],
        "2026-01-01T00:00:00Z"
    );
    stella()
        .args([
            "oci",
            "referrers",
            "--artifact-type",
            "application/vnd.stellaops.funcproof+json",
            &image_ref,
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(&proof_digest)
                .and(predicate::str::contains(&sbom_digest).not()),
        );

    let pulled = d.join("pulled");
    stella()
        .args(["oci", "pull", &sbom_ref, "-o"])
        .arg(&pulled)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(pulled.join("bom.json")).expect("pulled"),
        std::fs::read(&sbom).expect("sbom")
    );

    let copy = d.join("copy");
    let report: Value = serde_json::from_str(&stdout(stella().args([
        "oci",
        "copy",
        "--json",
        &image_ref,
        &format!("oci-layout:{}:app", copy.display()),
    ])))
    .expect("json");
    assert_eq!(report["manifests"], 4);
    assert_eq!(report["referrers"], 3);
    let copied = LayoutStore::open(&copy).expect("copy");
    let src = LayoutStore::open(&layout).expect("src");
    assert_eq!(
        copied
            .get_manifest(&Target::Tag("app".into()))
            .expect("image")
            .bytes,
        src.get_manifest(&Target::Tag("app".into()))
            .expect("image")
            .bytes
    );
    assert_eq!(
        copied.referrers(&sbom_digest, None).expect("nested")[0]
            .digest
            .to_string(),
        bundle_digest
    );

    // A blob changed on disk is refused by digest, before it is copied anywhere: a check that
    // said no (exit 1, as every failed digest check), not bad input.
    let blob = layout.join("blobs/sha256").join(&proof_digest[7..]);
    std::fs::write(&blob, b"{}").expect("tamper");
    stella()
        .args([
            "oci",
            "copy",
            &image_ref,
            &format!("oci-layout:{}:app", d.join("copy2").display()),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("digest mismatch"));
    // A pull names an artifact by digest, not by tag.
    stella()
        .args([
            "oci",
            "pull",
            &format!("oci-layout:{}:app", layout.display()),
            "-o",
        ])
        .arg(d.join("p2"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("REF@DIGEST"));
}

/// Debian's `docker-registry` on a loopback port (the scan tests start it too).
pub(crate) use stella_testkit::registry::Registry;

#[test]
fn copy_through_a_real_registry_without_the_referrers_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let Some(registry) = Registry::start(d) else {
        stella_testkit::skip(
            "copy_through_a_real_registry_without_the_referrers_api",
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    };
    let layout = d.join("layout");
    let image_digest = image(&layout);
    let image_ref = format!("oci-layout:{}:app", layout.display());
    let mut attached = Vec::new();
    for i in 0..3 {
        let file = d.join(format!("evidence-{i}.json"));
        std::fs::write(&file, format!("{{\"n\":{i}}}")).expect("write");
        attached.push(
            stdout(
                stella()
                    .args([
                        "oci",
                        "attach",
                        "--image",
                        &image_ref,
                        "--artifact-type",
                        "application/vnd.stellaops.funcproof+json",
                    ])
                    .arg(&file),
            )
            .trim()
            .to_owned(),
        );
    }
    let remote = format!("{}/evidence/app:app", registry.host);
    stella()
        .args(["oci", "copy", &image_ref, &remote])
        .assert()
        .success();
    // The registry has no referrers API: the fallback index under sha256-<hex> lists all three,
    // and copying again (twice the same artifacts) adds no duplicates.
    stella()
        .args(["oci", "copy", &image_ref, &remote])
        .assert()
        .success();
    let fallback: Value = reqwest::blocking::Client::new()
        .get(format!(
            "http://{}/v2/evidence/app/manifests/{}",
            registry.host,
            image_digest.replacen(':', "-", 1)
        ))
        .header("accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .expect("GET")
        .json()
        .expect("index");
    let mut listed: Vec<&str> = fallback["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("digest"))
        .collect();
    let mut expected: Vec<&str> = attached.iter().map(String::as_str).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let tree: Value = serde_json::from_str(&stdout(stella().args([
        "oci",
        "referrers",
        "--json",
        &remote,
    ])))
    .expect("json");
    assert_eq!(tree["referrers"].as_array().expect("array").len(), 3);

    // Back to a layout, byte for byte, referrers included.
    let back = d.join("back");
    stella()
        .args([
            "oci",
            "copy",
            &remote,
            &format!("oci-layout:{}:app", back.display()),
        ])
        .assert()
        .success();
    let src = LayoutStore::open(&layout).expect("src");
    let dst = LayoutStore::open(&back).expect("dst");
    assert_eq!(
        src.get_manifest(&Target::Tag("app".into()))
            .expect("src")
            .bytes,
        dst.get_manifest(&Target::Tag("app".into()))
            .expect("dst")
            .bytes
    );
    assert_eq!(
        dst.referrers(&image_digest, None).expect("referrers").len(),
        3
    );

    // skopeo, reading the registry, sees the very manifest bytes Stella pushed.
    if let Ok(out) = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{remote}"))
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout,
            src.get_manifest(&Target::Tag("app".into()))
                .expect("src")
                .bytes
        );
        // And skopeo copies the image out of the registry into a layout of its own, which
        // Stella reads: the same manifest, its blobs present and intact.
        let skopeo_layout = d.join("skopeo");
        let out = std::process::Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{remote}"))
            .arg(format!("oci:{}:app", skopeo_layout.display()))
            .output()
            .expect("skopeo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = LayoutStore::open(&skopeo_layout).expect("skopeo's layout");
        let image = theirs
            .get_manifest(&Target::Tag("app".into()))
            .expect("image");
        // skopeo writes its own manifest and may recompress layers; the config is ours, and
        // every blob it wrote is intact.
        let ours = src.get_manifest(&Target::Tag("app".into())).expect("src");
        let blobs = stella_oci::store::children(&image).expect("children").0;
        assert_eq!(
            blobs[0],
            stella_oci::store::children(&ours).expect("children").0[0]
        );
        for blob in blobs {
            theirs.get_blob(&blob).expect("blob present and intact");
        }
    } else {
        stella_testkit::skip(
            "copy_through_a_real_registry_without_the_referrers_api (the skopeo part)",
            "skopeo is not installed (apt-get install skopeo)",
        );
    }
}

#[test]
fn a_layout_path_without_its_prefix_gets_a_hint_not_a_registry_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    image(&d.join(".stella/oci"));
    // Run where `.stella/oci` is a relative path: before, `.stella` was taken for a registry host
    // and asked four times over HTTPS (exit 3 after seconds of retries).
    let started = std::time::Instant::now();
    stella()
        .current_dir(d)
        .args(["oci", "referrers", ".stella/oci:app"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "did you mean oci-layout:.stella/oci:app?",
        ));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "no network retries"
    );
    // The hinted reference is the one that works.
    stella()
        .current_dir(d)
        .args(["oci", "referrers", "oci-layout:.stella/oci:app"])
        .assert()
        .success();
    // A Docker Hub namespace that is a directory here is a layout given without its prefix too.
    image(&d.join("out"));
    stella()
        .current_dir(d)
        .args([
            "oci",
            "attach",
            "--image",
            "out/app:app",
            "--artifact-type",
            "text/plain",
        ])
        .arg(d.join(".stella/oci/oci-layout"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "did you mean oci-layout:out/app:app?",
        ));
}
