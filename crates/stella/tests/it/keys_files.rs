//! Keys and files stay where they belong: `stella scan` never packs `$STELLA_HOME` or a signing
//! key into the image it signs; a default signing key is never created without a password, and
//! concurrent first scans end with one key that verifies every image; temporary files cannot be
//! redirected by a planted link; reading a layout that does not exist creates nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

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

/// A new default key is never created without a password: no password in the environment and
/// no terminal is exit 2 naming STELLA_PASSWORD and --key, an empty STELLA_PASSWORD likewise;
/// nothing is created.
#[test]
fn no_default_key_without_a_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("project");
    project(&proj);
    let home = dir.path().join("home");
    bare()
        .env("STELLA_HOME", &home)
        .arg("scan")
        .arg(&proj)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("STELLA_PASSWORD")
                .and(predicate::str::contains("--key"))
                .and(predicate::str::contains("panicked").not()),
        );
    for empty in ["STELLA_PASSWORD", "COSIGN_PASSWORD"] {
        bare()
            .env("STELLA_HOME", &home)
            .env(empty, "")
            .arg("scan")
            .arg(&proj)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("empty"));
    }
    assert!(!home.join("keys/stella.key").exists());
    assert!(!home.join("keys/stella.pub").exists());
    assert!(!home.join("oci").exists(), "nothing was packed");
}

/// A home whose default key was made with an empty password (before this rule) keeps working
/// with STELLA_PASSWORD="".
#[test]
fn an_old_default_key_with_an_empty_password_still_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("project");
    project(&proj);
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("keys")).expect("mkdir");
    bare()
        .env("STELLA_PASSWORD", "")
        .args(["key", "generate", "--out"])
        .arg(home.join("keys/stella"))
        .assert()
        .success();
    let key = std::fs::read(home.join("keys/stella.key")).expect("key");
    let summary = json_of(
        bare()
            .env("STELLA_HOME", &home)
            .env("STELLA_PASSWORD", "")
            .args(["scan", "--json"])
            .arg(&proj),
    );
    assert_eq!(summary["keyCreated"], false);
    assert_eq!(
        std::fs::read(home.join("keys/stella.key")).expect("key"),
        key
    );
    stella(&home)
        .args([
            "verify",
            "--image",
            summary["image"].as_str().expect("image"),
        ])
        .assert()
        .success();
}

/// Several first scans at once on a fresh home: one key pair is created, every other scan uses
/// it, and every image verifies with the one public key left.
#[test]
fn concurrent_first_scans_share_one_default_key() {
    const SCANS: usize = 6;
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let dirs: Vec<PathBuf> = (0..SCANS)
        .map(|i| {
            let d = dir.path().join(format!("app{i}"));
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join("file"), format!("application {i}")).expect("write");
            d
        })
        .collect();
    let children: Vec<std::process::Child> = dirs
        .iter()
        .map(|d| {
            std::process::Command::new(env!("CARGO_BIN_EXE_stella"))
                .env_remove("STELLA_LOG")
                .env_remove("COSIGN_PASSWORD")
                .env("STELLA_HOME", &home)
                .env("STELLA_PASSWORD", PASSWORD)
                .args(["scan", "--json"])
                .arg(d)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("stella runs")
        })
        .collect();
    let mut created = 0;
    let mut images = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("waits");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
        if summary["keyCreated"] == true {
            created += 1;
        }
        images.push(summary["image"].as_str().expect("image").to_owned());
    }
    assert_eq!(created, 1, "exactly one scan creates the default key");
    let keys: Vec<_> = std::fs::read_dir(home.join("keys"))
        .expect("keys")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(keys.len(), 2, "one key pair and nothing else: {keys:?}");
    for image in &images {
        stella(&home)
            .args(["verify", "--image", image])
            .assert()
            .success();
    }
}

/// Symbolic links planted where the output's temporary file used to be made (`.NAME.tmp-PID`)
/// and at other plausible temporary names: `-o` writes the output and leaves their targets alone.
#[test]
fn planted_links_do_not_redirect_an_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let victim = d.join("victim");
    std::fs::write(&victim, "precious").expect("write");
    let out = d.join("out.json");
    let sbom = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/sbom/cyclonedx-py-7.5.0-spec1.7.json"),
    )
    .expect("fixture");
    // The input comes on stdin, so the links can be planted once the PID is known and before
    // the output is written.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stella"))
        .env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .args(["sbom", "convert", "-", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stella runs");
    let pid = child.id();
    for name in [
        format!(".out.json.tmp-{pid}"),
        ".out.json.tmp".to_owned(),
        "out.json.tmp".to_owned(),
        format!("out.json.{pid}"),
        ".out.json".to_owned(),
    ] {
        std::os::unix::fs::symlink(&victim, d.join(name)).expect("plant");
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&sbom)
        .expect("feed");
    let output = child.wait_with_output().expect("waits");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::read(&victim).expect("victim") == b"precious",
        "the write went through a planted link"
    );
    let written: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("output")).expect("json");
    assert_eq!(written["bomFormat"], "CycloneDX");
    assert!(!std::fs::symlink_metadata(&out).expect("out").is_symlink());
}

/// A private key written by `stella key generate` is readable by its owner only.
#[test]
fn generated_private_keys_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("release");
    bare()
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["key", "generate", "--out"])
        .arg(&prefix)
        .assert()
        .success();
    let mode = |ext: &str| {
        std::fs::metadata(prefix.with_extension(ext))
            .expect("written")
            .permissions()
            .mode()
            & 0o777
    };
    assert!(prefix.with_extension("pub").is_file());
    assert_eq!(mode("key"), 0o600);
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
