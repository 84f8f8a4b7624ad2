//! Keys and files stay where they belong: `stella scan` never packs `$STELLA_HOME` or a signing
//! key into the image it signs; reading a layout that does not exist creates nothing.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const PASSWORD: &str = "keys-and-files";

/// `stella` with no password and no home from the environment.
fn bare() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .env_remove("STELLA_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .write_stdin("");
    cmd
}

/// `stella` with `home` as `$STELLA_HOME` and a password for the default key.
fn stella(home: &Path) -> Command {
    let mut cmd = bare();
    cmd.env("STELLA_HOME", home)
        .env("STELLA_PASSWORD", PASSWORD);
    cmd
}

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("JSON on stdout")
}

/// A directory with a README and a real ELF binary at `bin/app`.
fn project(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    std::fs::write(
        dir.join("README"),
        "a project with its evidence home inside",
    )
    .expect("write");
    std::fs::copy("/usr/bin/true", dir.join("bin/app")).expect("copy an ELF binary");
}

/// The entry names of the single layer of the image whose manifest is `digest` in `layout`.
fn layer_entries(layout: &Path, digest: &str) -> Vec<String> {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(digest)).expect("manifest")).expect("json");
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    let layer = blob(layers[0]["digest"].as_str().expect("layer digest"));
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&layer)
        .output()
        .expect("tar runs");
    assert!(out.status.success(), "tar -tf {}", layer.display());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Fails when the layer holds anything of the home or any key file.
fn assert_nothing_of_the_home(entries: &[String]) {
    assert!(
        entries.iter().any(|e| e == "bin/app"),
        "the project itself is packed: {entries:#?}"
    );
    for e in entries {
        assert!(
            !e.starts_with(".stella") && !e.ends_with(".key") && !e.contains("log.key"),
            "{e} was packed into the image: {entries:#?}"
        );
    }
}

/// A home with what an earlier life leaves in it: the default key pair and the log's key (made
/// by a first scan), and an image unpacked by a scan that crashed, with a binary in it.
fn lived_in_home(home: &Path, cwd: Option<&Path>) {
    let first = home.parent().expect("parent").join("first");
    std::fs::create_dir_all(&first).expect("mkdir");
    std::fs::write(first.join("x"), "x").expect("write");
    let mut cmd = stella(home);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    cmd.args(["scan", "-q"]).arg(&first).assert().success();
    std::fs::remove_dir_all(&first).expect("rm");
    assert!(home.join("keys/stella.key").is_file());
    assert!(home.join("log/log.key").is_file());
    let leftover = home.join("tmp/scan-crashed/usr/bin");
    std::fs::create_dir_all(&leftover).expect("mkdir");
    std::fs::copy("/usr/bin/true", leftover.join("leftover-tool")).expect("copy");
}

/// `stella scan .` with the default home `./.stella`: the image holds the project, not the home
/// (keys, log key, evidence, leftovers), the SBOM lists none of it, and the scan says so.
#[test]
fn scan_dot_never_packs_the_home_inside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("project");
    project(&proj);
    let home = proj.join(".stella");
    lived_in_home(&home, Some(&proj));
    let sbom_out = dir.path().join("sbom.json");
    let summary = json_of(
        bare()
            .current_dir(&proj)
            .env("STELLA_PASSWORD", PASSWORD)
            .args(["scan", "--json", "--sbom-out"])
            .arg(&sbom_out)
            .arg("."),
    );
    let entries = layer_entries(
        &home.join("oci"),
        summary["digest"].as_str().expect("digest"),
    );
    assert_nothing_of_the_home(&entries);
    let sbom = std::fs::read_to_string(&sbom_out).expect("sbom");
    assert!(sbom.contains("/bin/app"), "{sbom}");
    // Paths in the image start with `/`; the image's own reference may name the home.
    for needle in ["/.stella", "leftover-tool", "stella.key", "log.key"] {
        assert!(!sbom.contains(needle), "the SBOM lists {needle}: {sbom}");
    }
    let excluded = summary["excluded"].to_string();
    assert!(excluded.contains(".stella"), "{summary:#}");
    // The human summary says it in one line.
    bare()
        .current_dir(&proj)
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["scan", "."])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^excluded +.*\.stella.*$").expect("regex"));
}

/// The home named through a symbolic link to the scanned directory is still the home.
#[test]
fn scan_never_packs_the_home_named_through_a_symlink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("project");
    project(&proj);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&proj, &link).expect("symlink");
    let home = link.join("evidence");
    lived_in_home(&home, None);
    let summary = json_of(stella(&home).args(["scan", "--json"]).arg(&proj));
    let entries = layer_entries(
        &proj.join("evidence/oci"),
        summary["digest"].as_str().expect("digest"),
    );
    assert!(
        !entries.iter().any(|e| e.starts_with("evidence")),
        "{entries:#?}"
    );
    assert_nothing_of_the_home(&entries);
}

/// A signing key given with --key that lies inside the scanned directory is not packed either;
/// a directory inside the home is refused.
#[test]
fn scan_never_packs_its_signing_key_nor_scans_inside_the_home() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("project");
    project(&proj);
    let home = dir.path().join("home");
    stella(&home)
        .args(["key", "generate", "--out"])
        .arg(proj.join("release"))
        .assert()
        .success();
    let summary = json_of(
        stella(&home)
            .args(["scan", "--json", "--key"])
            .arg(proj.join("release.key"))
            .arg(&proj),
    );
    let entries = layer_entries(
        &home.join("oci"),
        summary["digest"].as_str().expect("digest"),
    );
    assert!(entries.iter().any(|e| e == "release.pub"), "{entries:#?}");
    assert_nothing_of_the_home(&entries);

    stella(&home)
        .arg("scan")
        .arg(home.join("keys"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("STELLA_HOME"));
}

/// Reading a layout that does not exist is exit 2 naming the path, and creates nothing; the
/// same for a directory that is not a layout.
#[test]
fn reading_a_missing_layout_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let missing = d.join("nonexistent");
    let empty = d.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let digest = format!("sha256:{}", "0".repeat(64));
    let keys = d.join("keys");
    std::fs::create_dir(&keys).expect("mkdir");
    stella(&d.join("home"))
        .args(["key", "generate", "--out"])
        .arg(keys.join("k"))
        .assert()
        .success();
    let public = keys.join("k.pub").display().to_string();
    for layout in [&missing, &empty] {
        let reference = format!("oci-layout:{}:t", layout.display());
        let pinned = format!("oci-layout:{}@{digest}", layout.display());
        let dest = format!("oci-layout:{}:t", d.join("copy").display());
        let pulled = d.join("pulled");
        let runs: Vec<Vec<String>> = vec![
            vec!["oci".into(), "referrers".into(), reference.clone()],
            vec![
                "oci".into(),
                "pull".into(),
                pinned.clone(),
                "-o".into(),
                pulled.display().to_string(),
            ],
            vec!["oci".into(), "copy".into(), reference.clone(), dest],
            vec![
                "verify".into(),
                "--key".into(),
                public.clone(),
                "--image".into(),
                reference.clone(),
            ],
        ];
        for args in runs {
            stella(&d.join("home")).args(&args).assert().code(2).stderr(
                predicate::str::contains(layout.display().to_string())
                    .and(predicate::str::contains("panicked").not()),
            );
        }
        assert!(!missing.exists(), "{} was created", missing.display());
        assert_eq!(
            std::fs::read_dir(&empty).expect("empty").count(),
            0,
            "something was created in {}",
            empty.display()
        );
        assert!(!d.join("copy").exists());
        assert!(!pulled.exists());
    }
}
