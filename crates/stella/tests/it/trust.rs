//! `stella trust update` and `stella trust show` against a TUF repository built and signed by
//! python-tuf, the reference implementation (`interop/tuf_repo.py`), served from a loopback port
//! by Python's `http.server`: the first update, new targets, a root rotation, and the refusals
//! (an expired timestamp, a rolled-back one, one signed by the wrong key, a target whose hash
//! does not match, a target that is not a trusted root, a server that is down), each leaving the
//! store byte for byte as it was.
//!
//! python-tuf missing: the tests say `SKIPPED` and pass, unless `STELLA_REQUIRE_PEERS=1`.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};

use assert_cmd::Command;
use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped_trusted_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("trust/public-good/trusted_root.json")
}

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_CONFIG")
        .env("STELLA_HOME", home);
    cmd
}

/// Whether python-tuf runs here; otherwise the test skips (or fails under
/// `STELLA_REQUIRE_PEERS=1`).
fn python_tuf(test: &str) -> bool {
    let runs = Process::new("python3")
        .args(["-c", "import tuf.api.metadata, securesystemslib.signer"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        stella_testkit::skip(
            test,
            "PyPI tuf (python-tuf) is not installed: python3 -m pip install -r interop/requirements.txt",
        );
    }
    runs
}

/// A TUF repository made by `interop/tuf_repo.py`, and the HTTP server serving it.
struct TufRepo {
    dir: tempfile::TempDir,
    server: Option<Child>,
    port: u16,
}

impl TufRepo {
    fn new(targets: &[String]) -> TufRepo {
        let repo = TufRepo {
            dir: tempfile::tempdir().unwrap(),
            server: None,
            port: 0,
        };
        let mut args = vec!["init".to_owned()];
        for target in targets {
            args.extend(["--target".to_owned(), target.clone()]);
        }
        repo.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        repo
    }

    fn base(&self) -> PathBuf {
        self.dir.path().join("tuf")
    }

    fn run(&self, args: &[&str]) {
        let out = Process::new("python3")
            .arg(repo_root().join("interop/tuf_repo.py"))
            .arg(self.base())
            .args(args)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "tuf_repo.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn serve(&mut self) {
        let mut child = Process::new("python3")
            .arg(repo_root().join("interop/tuf_repo.py"))
            .arg(self.base())
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.port = line.trim().parse().expect("the server prints its port");
        self.server = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn mirror(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn first_root(&self) -> PathBuf {
        self.base().join("repo/1.root.json")
    }

    /// Publishes `bytes` as the target `trusted_root.json`.
    fn publish_trusted_root(&self, bytes: &[u8]) {
        let file = self
            .dir
            .path()
            .join(format!("trusted_root.{}.json", sha(bytes)));
        std::fs::write(&file, bytes).unwrap();
        self.run(&[
            "publish",
            "--target",
            &format!("trusted_root.json={}", file.display()),
        ]);
    }
}

impl Drop for TufRepo {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public-good trusted root with one more CT log: a second version to publish.
fn another_trusted_root(marker: &str) -> Vec<u8> {
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(shipped_trusted_root()).unwrap()).unwrap();
    let mut log = root["ctlogs"][0].clone();
    log["baseUrl"] = Value::String(format!("https://ct.example/{marker}"));
    log["publicKey"]["validFor"]["end"] = Value::String("2030-01-01T00:00:00Z".to_owned());
    root["ctlogs"].as_array_mut().unwrap().push(log);
    serde_json::to_vec_pretty(&root).unwrap()
}

/// Every file under `$STELLA_HOME/trust`, by path, with its bytes.
fn store(home: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    if !home.join("trust").exists() {
        return BTreeMap::new();
    }
    walkdir::WalkDir::new(home.join("trust"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn update_json(home: &Path, mirror: &str, root: Option<&Path>) -> Value {
    let mut cmd = stella(home);
    cmd.args(["trust", "update", "--json", "--mirror", mirror]);
    if let Some(root) = root {
        cmd.arg("--root").arg(root);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "trust update: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn show_json(home: &Path) -> Value {
    let out = stella(home)
        .args(["trust", "show", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trust show: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn role<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn versions(report: &Value, name: &str) -> (Value, Value) {
    let role = role(report, name);
    (role["previousVersion"].clone(), role["version"].clone())
}

#[test]
fn update_stores_the_verified_root_follows_new_targets_and_root_rotations() {
    if !python_tuf("update_stores_the_verified_root_follows_new_targets_and_root_rotations") {
        return;
    }
    let v1 = std::fs::read(shipped_trusted_root()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let signing_config = work.path().join("signing_config.json");
    std::fs::write(
        &signing_config,
        br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}"#,
    )
    .unwrap();
    let mut repo = TufRepo::new(&[
        shipped_trusted_root().display().to_string(),
        format!("signing_config.v0.2.json={}", signing_config.display()),
    ]);
    repo.serve();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    let before = show_json(home);
    assert_eq!(before["source"], "shipped");
    assert_eq!(before["tuf"], Value::Null);

    // First update: trust on first use of the repository's 1.root.json.
    let first = update_json(home, &repo.mirror(), Some(&repo.first_root()));
    for name in ["root", "timestamp", "snapshot", "targets"] {
        assert_eq!(versions(&first, name), (Value::Null, 1.into()), "{first}");
    }
    assert_eq!(first["trustedRoot"]["changed"], true);
    assert_eq!(first["trustedRoot"]["previousSha256"], Value::Null);
    assert_eq!(
        first["trustedRoot"]["sha256"],
        format!("sha256:{}", sha(&v1))
    );
    assert_eq!(first["signingConfig"]["changed"], true);
    let stored = home.join("trust/sigstore/trusted_root.json");
    assert_eq!(std::fs::read(&stored).unwrap(), v1);
    assert_eq!(
        std::fs::read(home.join("trust/sigstore/signing_config.v0.2.json")).unwrap(),
        std::fs::read(&signing_config).unwrap()
    );

    // Commands given no --trusted-root now read the stored copy.
    let shown = show_json(home);
    assert_eq!(shown["source"], "updated", "{shown}");
    assert_eq!(shown["path"], stored.display().to_string());
    assert_eq!(shown["sha256"], format!("sha256:{}", sha(&v1)));
    assert_eq!(shown["tuf"]["mirror"], format!("{}/", repo.mirror()));
    assert!(
        shown["trustedRoot"]["tlogs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["baseUrl"] == "https://rekor.sigstore.dev")
    );
    let text = stella(home).args(["trust", "show"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("(stella trust update)"), "{text}");
    assert!(text.contains("https://fulcio.sigstore.dev"), "{text}");
    assert!(text.contains("timestamp  v1"), "{text}");

    // Nothing new: every version the same, the trusted root unchanged.
    let again = update_json(home, &repo.mirror(), None);
    assert_eq!(versions(&again, "timestamp"), (1.into(), 1.into()));
    assert_eq!(again["trustedRoot"]["changed"], false);

    // A new version of the target is picked up.
    let v2 = another_trusted_root("v2");
    repo.publish_trusted_root(&v2);
    let second = update_json(home, &repo.mirror(), None);
    assert_eq!(versions(&second, "targets"), (1.into(), 2.into()));
    assert_eq!(versions(&second, "timestamp"), (1.into(), 2.into()));
    assert_eq!(second["trustedRoot"]["changed"], true);
    assert_eq!(
        second["trustedRoot"]["previousSha256"],
        format!("sha256:{}", sha(&v1))
    );
    assert_eq!(std::fs::read(&stored).unwrap(), v2);
    assert_eq!(second["signingConfig"]["changed"], false, "{second}");
    assert!(
        show_json(home)["trustedRoot"]["ctlogs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["baseUrl"] == "https://ct.example/v2"
                && l["validUntil"] == "2030-01-01T00:00:00Z")
    );

    // A root rotation (2.root.json signed by the old and the new key) is followed, and the next
    // update starts from the rotated root: targets signed after it still verify.
    repo.run(&["rotate-root"]);
    let rotated = update_json(home, &repo.mirror(), None);
    assert_eq!(
        versions(&rotated, "root"),
        (1.into(), 2.into()),
        "{rotated}"
    );
    let v3 = another_trusted_root("v3");
    repo.publish_trusted_root(&v3);
    let after = update_json(home, &repo.mirror(), None);
    assert_eq!(versions(&after, "root"), (2.into(), 2.into()));
    assert_eq!(std::fs::read(&stored).unwrap(), v3);
    assert!(
        after["anchor"]
            .as_str()
            .unwrap()
            .contains("the stored root, version 2"),
        "{after}"
    );

    // The text report says what changed.
    repo.publish_trusted_root(&v2);
    let out = stella(home)
        .args(["trust", "update", "--mirror", &repo.mirror()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("targets    v3 → v4"), "{text}");
    assert!(
        text.contains(&format!(
            "trusted_root.json: sha256:{} (changed, was sha256:{})",
            sha(&v2),
            sha(&v3)
        )),
        "{text}"
    );
}

/// A refused update: the exit code, the reason, and the store byte for byte as before.
fn refused(home: &Path, mirror: &str, code: i32, reason: &str) {
    let before = store(home);
    let out = stella(home)
        .args(["trust", "update", "--mirror", mirror])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(reason), "expected {reason:?} in: {stderr}");
    assert!(stderr.contains("unchanged"), "{stderr}");
    assert_eq!(store(home), before, "the store changed after: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn refused_updates_leave_the_store_as_it_was() {
    if !python_tuf("refused_updates_leave_the_store_as_it_was") {
        return;
    }
    let mut repo = TufRepo::new(&[shipped_trusted_root().display().to_string()]);
    repo.serve();
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    update_json(home, &repo.mirror(), Some(&repo.first_root()));
    let mirror = repo.mirror();

    // An expired timestamp (version 2, validly signed).
    repo.run(&["expire-timestamp"]);
    refused(home, &mirror, 1, "timestamp metadata is expired");

    // A rolled-back timestamp: version 4 seen, version 3 served again.
    repo.publish_trusted_root(&another_trusted_root("a"));
    repo.publish_trusted_root(&another_trusted_root("b"));
    let seen = update_json(home, &mirror, None);
    assert_eq!(role(&seen, "timestamp")["version"], 4);
    repo.run(&["rollback-timestamp"]);
    refused(
        home,
        &mirror,
        1,
        "Found version 3 of timestamp metadata when we had previously fetched version 4",
    );

    // A timestamp signed by a key the root does not name.
    repo.run(&["wrong-key-timestamp"]);
    refused(home, &mirror, 1, "Failed to verify timestamp metadata");

    // A target whose bytes do not match the hash the targets metadata lists.
    repo.publish_trusted_root(&another_trusted_root("c"));
    repo.run(&["tamper-target", "trusted_root.json"]);
    refused(home, &mirror, 1, "Hash mismatch");

    // A target that verifies but is not a Sigstore trusted root.
    repo.publish_trusted_root(br#"{"mediaType":"application/json"}"#);
    refused(home, &mirror, 1, "is not a Sigstore trusted root");

    // The store still holds what the last good update verified.
    let shown = show_json(home);
    assert_eq!(shown["source"], "updated");
    assert_eq!(
        shown["sha256"],
        format!("sha256:{}", sha(&another_trusted_root("b")))
    );

    // The server down: the environment failed us (exit 3, "failed" rather than "refused"),
    // nothing changed.
    repo.stop();
    refused(home, &mirror, 3, "the mirror could not be reached");
}

#[test]
fn a_bad_mirror_or_root_is_bad_input() {
    let home = tempfile::tempdir().unwrap();
    let out = stella(home.path())
        .args(["trust", "update", "--mirror", "ftp://example.com/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let missing = home.path().join("missing.json");
    let out = stella(home.path())
        .args([
            "trust",
            "update",
            "--mirror",
            "http://127.0.0.1:9",
            "--root",
        ])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(store(home.path()).is_empty());
    assert!(!home.path().join("trust").exists());
}
