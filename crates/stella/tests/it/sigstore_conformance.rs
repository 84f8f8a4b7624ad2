//! The Sigstore conformance suite's `bundle-verify` cases (`fixtures/sigstore-conformance`), each
//! run through the `stella verify-bundle` binary the way the suite drives a client: the bundle,
//! the case's artifact (else `../a.txt`), its `key.pub` (managed-key cases) or its identity and
//! issuer (else the suite's defaults), its `trusted_root.json` (else the public-good production
//! root Stella ships). A case whose name ends in `_fail` must exit non-zero, every other must
//! exit 0. No case is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The suite's `bundle-verify` folder.
pub fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/sigstore-conformance/bundle-verify")
}

/// One case of the suite.
pub struct Case {
    /// The folder name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Whether it must fail.
    pub must_fail: bool,
}

impl Case {
    /// The artifact: the case's, else the suite's `a.txt`.
    pub fn artifact(&self) -> PathBuf {
        let own = self.dir.join("artifact");
        if own.exists() {
            own
        } else {
            suite().join("a.txt")
        }
    }

    fn text(&self, file: &str, default: &str) -> String {
        std::fs::read_to_string(self.dir.join(file))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| default.to_owned())
    }

    /// The expected identity.
    pub fn identity(&self) -> String {
        self.text("identity", DEFAULT_IDENTITY)
    }

    /// The expected issuer.
    pub fn issuer(&self) -> String {
        self.text("issuer", DEFAULT_ISSUER)
    }

    /// The case's `key.pub`, if any.
    pub fn key(&self) -> Option<PathBuf> {
        Some(self.dir.join("key.pub")).filter(|p| p.exists())
    }

    /// The case's trusted root, else the shipped public-good production root.
    pub fn trusted_root(&self) -> PathBuf {
        let own = self.dir.join("trusted_root.json");
        if own.exists() {
            own
        } else {
            suite().join("../public-good/production-trusted_root.json")
        }
    }

    /// `stella verify-bundle …` for this case.
    pub fn command(&self, home: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stella"));
        cmd.env("STELLA_HOME", home)
            .arg("verify-bundle")
            .arg("--bundle")
            .arg(self.dir.join("bundle.sigstore.json"));
        match self.key() {
            Some(key) => {
                cmd.arg("--key").arg(key);
            }
            None => {
                cmd.args(["--certificate-identity", &self.identity()])
                    .args(["--certificate-oidc-issuer", &self.issuer()]);
            }
        }
        if self.dir.join("trusted_root.json").exists() {
            cmd.arg("--trusted-root").arg(self.trusted_root());
        }
        cmd.arg(self.artifact());
        cmd
    }
}

/// Every case, sorted by name.
pub fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(suite())
        .expect("the conformance suite is in shared/fixtures")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("bundle.sigstore.json").exists())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Case {
                must_fail: name.ends_with("_fail"),
                name,
                dir: e.path(),
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

#[test]
fn every_bundle_verify_case_has_the_outcome_its_name_says() {
    let home = tempfile::tempdir().unwrap();
    let cases = cases();
    assert!(cases.len() >= 58, "only {} cases found", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let out = case.command(home.path()).output().unwrap();
        let ok = out.status.success();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if ok == case.must_fail {
            wrong.push(format!(
                "{}: exit {:?}, expected {}: {}",
                case.name,
                out.status.code(),
                if case.must_fail { "failure" } else { "success" },
                stderr.trim()
            ));
        }
        if case.must_fail && !ok {
            // A refusal says why, on one line.
            assert!(!stderr.trim().is_empty(), "{}: no reason given", case.name);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn digest_artifacts_json_and_default_root_are_accepted() {
    let home = tempfile::tempdir().unwrap();
    let case = cases()
        .into_iter()
        .find(|c| c.name == "happy-path-v0.3")
        .unwrap();
    let digest = {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(std::fs::read(case.artifact()).unwrap());
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    };
    // No --trusted-root: the shipped public-good root; the artifact by digest; --json.
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .env("STELLA_HOME", home.path())
        .args(["verify-bundle", "--json", "--bundle"])
        .arg(case.dir.join("bundle.sigstore.json"))
        .args([
            "--certificate-identity-regexp",
            "^https://github.com/sigstore-conformance/",
        ])
        .args(["--certificate-oidc-issuer", DEFAULT_ISSUER])
        .args([
            "--certificate-github-workflow-repository",
            "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
        ])
        .arg(&digest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["signer"]["issuer"], DEFAULT_ISSUER);
    assert_eq!(
        report["trustedRoot"],
        "the shipped Sigstore public-good root"
    );
    assert!(report["signer"]["verifiedScts"].as_u64().unwrap() >= 1);
    assert_eq!(report["logEntries"].as_array().unwrap().len(), 1);
    assert_eq!(report["signingTimes"][0]["kind"], "integrated-time");

    // Another identity, another repository claim: a clean "no" (exit 1) saying which.
    for (flag, value, says) in [
        (
            "--certificate-identity",
            "https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main",
            "identity",
        ),
        (
            "--certificate-github-workflow-repository",
            "acme/app",
            "repository",
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stella"));
        cmd.env("STELLA_HOME", home.path())
            .args(["verify-bundle", "--bundle"])
            .arg(case.dir.join("bundle.sigstore.json"))
            .args(["--certificate-oidc-issuer", DEFAULT_ISSUER]);
        if flag != "--certificate-identity" {
            cmd.args(["--certificate-identity", DEFAULT_IDENTITY]);
        }
        let out = cmd.args([flag, value]).arg(&digest).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }

    // A .jsonl of bundles: verified when one of them is for the artifact.
    let other = cases()
        .into_iter()
        .find(|c| c.name == "rekor2-happy-path")
        .unwrap();
    let line = |c: &Case| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(c.dir.join("bundle.sigstore.json")).unwrap())
                .unwrap();
        serde_json::to_string(&v).unwrap()
    };
    let jsonl = home.path().join(format!("{digest}.jsonl"));
    std::fs::write(&jsonl, format!("{}\n{}\n", line(&other), line(&case))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .env("STELLA_HOME", home.path())
        .args(["verify-bundle", "--bundle"])
        .arg(&jsonl)
        .args(["--certificate-identity", DEFAULT_IDENTITY])
        .args(["--certificate-oidc-issuer", DEFAULT_ISSUER])
        .arg(&digest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Keyless without the expected identity: refused, saying what to give.
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .env("STELLA_HOME", home.path())
        .args(["verify-bundle", "--bundle"])
        .arg(case.dir.join("bundle.sigstore.json"))
        .arg(&digest)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--certificate-identity"));
}

/// Cases PyPI `sigstore` (sigstore-python 4.5) refuses although they are valid: its verifier
/// does not accept them (the suite's own expectations say they verify, and Stella does).
const SIGSTORE_PYTHON_REFUSES_VALID: [&str; 2] = [
    "intoto-with-custom-trust-root",
    "trust-root-tsa-validity-end-inclusive",
];

/// A signing config sigstore-python's trust config requires; verification never reads it.
const UNUSED_SIGNING_CONFIG: &str = r#"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
 "caUrls": [{"url": "https://fulcio.invalid", "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "none"}],
 "oidcUrls": [{"url": "https://oauth2.invalid/auth", "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "none"}],
 "rekorTlogUrls": [{"url": "https://rekor.invalid", "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "none"}],
 "tsaUrls": [], "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}"#;

/// The peer: sigstore-python verifies every certificate case offline (`--offline`) with a client
/// trust config holding the case's trusted root, and must reach the outcome the case's name
/// says (and so Stella's), except where it is known to refuse a valid bundle. Managed-key cases
/// are not its to check: it verifies certificates only.
#[test]
fn sigstore_python_reaches_the_same_outcomes() {
    let probe = Command::new("python3")
        .args(["-c", "import sigstore"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        stella_testkit::skip(
            "sigstore_python_reaches_the_same_outcomes",
            "PyPI sigstore is not installed (python3 -m pip install -r interop/requirements.txt)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for case in cases() {
        if case.key().is_some() {
            continue;
        }
        let root: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.trusted_root()).unwrap())
                .unwrap_or(serde_json::Value::Null);
        let config = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": root,
            "signingConfig": serde_json::from_str::<serde_json::Value>(UNUSED_SIGNING_CONFIG).unwrap(),
        });
        let config_path = dir.path().join(format!("{}.json", case.name));
        std::fs::write(&config_path, config.to_string()).unwrap();
        let out = Command::new("python3")
            .args(["-m", "sigstore", "--trust-config"])
            .arg(&config_path)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(case.dir.join("bundle.sigstore.json"))
            .args(["--cert-identity", &case.identity()])
            .args(["--cert-oidc-issuer", &case.issuer()])
            .arg(case.artifact())
            .output()
            .unwrap();
        checked += 1;
        let refused = !out.status.success();
        let expected =
            case.must_fail || SIGSTORE_PYTHON_REFUSES_VALID.contains(&case.name.as_str());
        if refused != expected {
            wrong.push(format!(
                "{}: sigstore-python {}: {}",
                case.name,
                if refused { "refused" } else { "accepted" },
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(checked >= 50, "only {checked} cases checked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Cases npm `@sigstore/verify` (4.1) decides otherwise than the suite (and Stella): it reads a
/// trusted root whose transparency log has no `validFor.start` as trusted from the beginning of
/// time, where the suite (and Stella) refuse a key whose validity begins nowhere.
const SIGSTORE_JS_ACCEPTS_INVALID: [&str; 1] = ["trust-root-tlog-missing-validity-start_fail"];

/// The other peer: sigstore-js's verifier (`interop/sigstore_verify_keyless.mjs`, its default
/// thresholds and the case's identity, issuer and trusted root) on every case without a managed
/// key must reach the outcome the case's name says, except where it is known to differ.
#[test]
fn sigstore_js_reaches_the_same_outcomes() {
    let test = "sigstore_js_reaches_the_same_outcomes";
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    let installed = interop.join("node_modules/@sigstore/verify").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !installed {
        stella_testkit::skip(
            test,
            "node or npm @sigstore/verify is not installed (cd interop && npm ci)",
        );
        return;
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    for case in cases() {
        if case.key().is_some() {
            continue;
        }
        let out = Command::new("node")
            .arg(interop.join("sigstore_verify_keyless.mjs"))
            .arg(case.dir.join("bundle.sigstore.json"))
            .arg(case.artifact())
            .arg(case.trusted_root())
            .arg(case.identity())
            .arg(case.issuer())
            .output()
            .unwrap();
        checked += 1;
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: the script failed to run (exit {code:?}): {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let refused = code == Some(1);
        let expected = case.must_fail != SIGSTORE_JS_ACCEPTS_INVALID.contains(&case.name.as_str());
        if refused != expected {
            wrong.push(format!(
                "{}: @sigstore/verify {}: {}",
                case.name,
                if refused { "refused" } else { "accepted" },
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        }
    }
    assert!(checked >= 50, "only {checked} cases checked");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `stella verify-attestation` on a keyless in-toto bundle of the suite: verified with the
/// identity and issuer (the subject asked, or the statement's own), refused without them
/// (exit 1, naming the flags), refused for another subject, another predicate type, another
/// identity, and for a message-signature bundle (not an attestation).
#[test]
fn verify_attestation_takes_keyless_bundles_with_an_identity() {
    let home = tempfile::tempdir().unwrap();
    let case = cases()
        .into_iter()
        .find(|c| c.name == "happy-path-intoto-in-dsse-v3")
        .unwrap();
    let bundle = case.dir.join("bundle.sigstore.json");
    let run = |extra: &[&str], identity: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stella"));
        cmd.env("STELLA_HOME", home.path())
            .arg("verify-attestation")
            .arg(&bundle)
            .args(extra);
        if identity {
            cmd.args(["--certificate-identity", DEFAULT_IDENTITY])
                .args(["--certificate-oidc-issuer", DEFAULT_ISSUER]);
        }
        cmd.output().unwrap()
    };
    let artifact = case.artifact();
    let artifact = artifact.to_str().unwrap();

    let out = run(
        &[
            "--subject-file",
            artifact,
            "--type",
            "https://slsa.dev/provenance/v1",
        ],
        true,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verified OK"), "{text}");
    assert!(text.contains(DEFAULT_IDENTITY), "{text}");
    assert!(text.contains("integrated-time"), "{text}");

    let out = run(&["--json"], true);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["signer"]["issuer"], DEFAULT_ISSUER);
    assert_eq!(report["subjects"][0]["name"], "a.txt");
    assert_eq!(report["predicateType"], "https://slsa.dev/provenance/v1");

    let refusals: [(&[&str], bool, &str); 4] = [
        (
            &["--subject-file", artifact],
            false,
            "--certificate-identity",
        ),
        (
            &[
                "--subject-digest",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            true,
            "no subject",
        ),
        (&["--type", "cyclonedx"], true, "predicate"),
        (
            &[
                "--certificate-identity",
                "https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main",
                "--certificate-oidc-issuer",
                DEFAULT_ISSUER,
            ],
            false,
            "identity",
        ),
    ];
    for (extra, identity, says) in refusals {
        let out = run(extra, identity);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
    }

    let message = cases()
        .into_iter()
        .find(|c| c.name == "happy-path-v0.3")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stella"))
        .env("STELLA_HOME", home.path())
        .arg("verify-attestation")
        .arg(message.dir.join("bundle.sigstore.json"))
        .args(["--certificate-identity", DEFAULT_IDENTITY])
        .args(["--certificate-oidc-issuer", DEFAULT_ISSUER])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("verify-bundle"));
}
