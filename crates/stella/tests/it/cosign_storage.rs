//! cosign's own storage in a real registry (`docker-registry`): legacy `sha256-<hex>.sig` and
//! `.att` tags built to cosign's documented layout by `interop/cosign_legacy.py` (Python's
//! `cryptography` and the registry's HTTP API; no Stella code), found by `stella oci referrers`
//! and `stella verify --image`, and required with `--cosign-key`. Each attack of someone with
//! push access to the repository is a case: a payload naming another image, another key's
//! signature, a payload changed after signing, a blob that is huge or announced smaller than it
//! is, a blob gone from the registry, an attestation about another image, a keyless signature
//! checked without an identity asked for. Keyless signatures are checked against a test Fulcio
//! CA, CT log and Rekor key the script makes (and a trusted root naming them): a valid one, and
//! one for another identity or issuer, with a tampered signed entry timestamp, with a
//! certificate expired at the integrated time, with no proven time, with a timestamp annotation
//! that holds no timestamp; the time proven by a test TSA's RFC 3161 timestamp instead; keyless
//! attestations about the image and about another; a keyless Sigstore bundle attached as a
//! referrer (which sigstore-js also verifies: the test material is what a Sigstore client takes).

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

use crate::oci::Registry;
use crate::scan::{build_c, failures};

const REPOSITORY: &str = "vendor/app";

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "cosign-storage-tests")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("STELLA_HOME", home);
    cmd
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/cosign_legacy.py")
}

/// Runs the script; its JSON answer.
fn python(args: &[&str]) -> Value {
    let out = Process::new("python3")
        .arg(script())
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "cosign_legacy.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from cosign_legacy.py")
}

/// Whether Python's `cryptography` is there; otherwise the test is skipped loudly (or fails
/// under `STELLA_REQUIRE_PEERS=1`).
fn peers(test: &str) -> bool {
    let ok = Process::new("python3")
        .args([
            "-c",
            "import cryptography.x509, cryptography.hazmat.primitives.asymmetric.ec",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        stella_testkit::skip(
            test,
            "PyPI cryptography (python3) is not installed: python3 -m pip install -r \
             interop/requirements.txt",
        );
    }
    ok
}

/// What a test works with: a registry, an image scanned into it with Stella's evidence, and
/// two cosign key pairs (the vendor's and another).
struct Setup {
    _dir: tempfile::TempDir,
    d: PathBuf,
    registry: Registry,
    home: PathBuf,
    image: String,
    digest: String,
    vendor: PathBuf,
    other: PathBuf,
}

impl Setup {
    fn new(test: &str) -> Option<Self> {
        if !peers(test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_path_buf();
        let Some(registry) = Registry::start(&d) else {
            stella_testkit::skip(
                test,
                "docker-registry is not installed (apt-get install docker-registry)",
            );
            return None;
        };
        let build = d.join("build");
        let tree = d.join("tree");
        std::fs::create_dir_all(&build).expect("mkdir");
        std::fs::create_dir_all(tree.join("bin")).expect("mkdir");
        let bin = build_c(
            &build,
            "tool",
            "int helper(int x) { return x * 7; }\nint main(int c, char **v) { return helper(c); }\n",
        );
        std::fs::copy(&bin, tree.join("bin/tool")).expect("copy");
        let home = d.join("home");
        let remote = format!("{}/{REPOSITORY}:1.0", registry.host);
        let out = stella(&home)
            .args(["scan", "--json", "--push", "--image", &remote])
            .arg(&tree)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let pushed: Value = serde_json::from_slice(&out).expect("scan JSON");
        let digest = pushed["digest"].as_str().expect("digest").to_owned();
        for name in ["vendor", "other"] {
            python(&["keygen", "--out", d.join(name).to_str().expect("utf8")]);
        }
        Some(Setup {
            image: format!("{}/{REPOSITORY}@{digest}", registry.host),
            vendor: d.join("vendor"),
            other: d.join("other"),
            _dir: dir,
            d,
            registry,
            home,
            digest,
        })
    }

    /// `cosign_legacy.py sign|attest` against this image with `key` (a prefix) and `extra`.
    fn store(&self, command: &str, key: &Path, extra: &[&str]) -> Value {
        let key = format!("{}.key", key.display());
        let mut args = vec![
            command,
            "--registry",
            &self.registry.host,
            "--repository",
            REPOSITORY,
            "--image",
            &self.digest,
            "--key",
            &key,
        ];
        args.extend_from_slice(extra);
        python(&args)
    }

    /// `stella verify --image … --json` with each `--cosign-key`: exit code and report.
    fn verify(&self, cosign_keys: &[&Path]) -> (i32, Value) {
        let keys: Vec<String> = cosign_keys
            .iter()
            .flat_map(|k| ["--cosign-key".to_owned(), format!("{}.pub", k.display())])
            .collect();
        self.verify_with(&keys.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `stella verify --image … --json` with `extra` arguments: exit code and report.
    fn verify_with(&self, extra: &[&str]) -> (i32, Value) {
        let mut cmd = stella(&self.home);
        cmd.args(["verify", "--json", "--image", &self.image]);
        cmd.args(extra);
        let out = cmd.output().expect("runs");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify printed no JSON ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }
}

fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["cosign"]["findings"]
        .as_array()
        .expect("cosign findings")
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

#[test]
fn legacy_tags_are_listed_checked_and_required_only_when_asked() {
    let test = "legacy_tags_are_listed_checked_and_required_only_when_asked";
    let Some(s) = Setup::new(test) else { return };
    // Nothing stored by cosign yet: a required signature is missing.
    let (code, report) = s.verify(&[&s.vendor]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["cosign"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no cosign signature")),
        "{report:#}"
    );
    let (code, report) = s.verify(&[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));

    let signed = s.store("sign", &s.vendor, &[]);
    let attested = s.store("attest", &s.vendor, &[]);

    // `stella oci referrers` lists both tags beside Stella's own referrers, by kind.
    let out = stella(&s.home)
        .args(["oci", "referrers", "--json", &s.image])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tree: Value = serde_json::from_slice(&out).expect("JSON");
    let nodes = tree["referrers"].as_array().expect("referrers");
    let sig = nodes
        .iter()
        .find(|n| n["kind"] == "cosign-signatures")
        .expect("the .sig tag is listed");
    assert_eq!(sig["foundBy"]["name"], signed["tag"]);
    assert_eq!(sig["digest"], signed["manifest"]);
    assert_eq!(sig["layers"][0]["digest"], signed["layer"]);
    assert!(sig["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"].is_string());
    let att = nodes
        .iter()
        .find(|n| n["kind"] == "cosign-attestations")
        .expect("the .att tag is listed");
    assert_eq!(att["foundBy"]["name"], attested["tag"]);
    assert!(nodes.iter().any(|n| n["kind"] == "referrer"), "{tree:#}");
    let text = String::from_utf8(
        stella(&s.home)
            .args(["oci", "referrers", &s.image])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .expect("utf8");
    assert!(text.contains("cosign-signatures (tag sha256-"), "{text}");
    assert!(text.contains("cosign-attestations (tag sha256-"), "{text}");

    // Without a cosign key: listed, unchecked, the verdict is Stella's evidence alone.
    let (code, report) = s.verify(&[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
    let sigs = findings(&report, "signature");
    assert_eq!(sigs.len(), 1, "{report:#}");
    assert_eq!(sigs[0]["verified"], false);
    assert!(
        sigs[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("no --cosign-key")
    );
    assert_eq!(
        sigs[0]["dockerReference"],
        format!("{}/{REPOSITORY}", s.registry.host)
    );

    // With the vendor's key: both verify, the key is named.
    let (code, report) = s.verify(&[&s.vendor]);
    assert_eq!(code, 0, "{report:#}");
    let sigs = findings(&report, "signature");
    assert_eq!(sigs[0]["verified"], true, "{report:#}");
    assert!(
        sigs[0]["key"]
            .as_str()
            .expect("key")
            .ends_with("vendor.pub")
    );
    let atts = findings(&report, "attestation");
    assert_eq!(atts[0]["verified"], true, "{report:#}");
    assert_eq!(
        atts[0]["predicateType"],
        "https://cosign.sigstore.dev/attestation/v1"
    );
    assert_eq!(report["cosign"]["satisfied"], true);
    let text = String::from_utf8(
        stella(&s.home)
            .args(["verify", "--image", &s.image, "--cosign-key"])
            .arg(s.vendor.with_extension("pub"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .expect("utf8");
    assert!(
        text.contains("cosign signature required: present and verified"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(": VERIFIED"),
        "the closing line says the whole verdict: {text}"
    );

    // Another key's signature, alone, does not do.
    let (code, report) = s.verify(&[&s.other]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["cosign"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not verify")),
        "{report:#}"
    );
    let out = stella(&s.home)
        .args(["verify", "--image", &s.image, "--cosign-key"])
        .arg(s.other.with_extension("pub"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains("cosign signature required: FAILED"), "{text}");
    assert!(text.trim_end().ends_with(": NOT VERIFIED"), "{text}");
    // Either of two keys does.
    let (code, _) = s.verify(&[&s.other, &s.vendor]);
    assert_eq!(code, 0);
}

/// Replaces the `.sig` tag with what `extra` makes, then verifies with the vendor's key:
/// the exit code, and the reason of the signature finding.
fn attacked(s: &Setup, key: &Path, extra: &[&str]) -> (i32, String, Value) {
    s.store("sign", key, extra);
    let (code, report) = s.verify(&[&s.vendor]);
    let reason = findings(&report, "signature")
        .iter()
        .filter_map(|f| f["reason"].as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    (code, reason, report)
}

#[test]
fn every_forged_signature_fails_closed() {
    let test = "every_forged_signature_fails_closed";
    let Some(s) = Setup::new(test) else { return };
    let elsewhere = format!("sha256:{}", "0".repeat(64));

    let (code, reason, report) = attacked(&s, &s.vendor, &["--payload-digest", &elsewhere]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        reason.contains(&format!("signs image {elsewhere}")),
        "{reason}"
    );

    let (code, reason, _) = attacked(&s, &s.other, &[]);
    assert_eq!(code, 1);
    assert!(reason.contains("does not verify"), "{reason}");

    let (code, reason, _) = attacked(&s, &s.vendor, &["--tamper"]);
    assert_eq!(code, 1);
    assert!(reason.contains("does not verify"), "{reason}");

    let huge = (2 << 20).to_string();
    let (code, reason, _) = attacked(&s, &s.vendor, &["--huge", &huge]);
    assert_eq!(code, 1);
    assert!(reason.contains("at most"), "{reason}");

    // Announced as 40 bytes: never more than that is read.
    let (code, reason, _) = attacked(&s, &s.vendor, &["--size-lie", "40"]);
    assert_eq!(code, 1);
    assert!(reason.contains("40"), "{reason}");

    // A blob that is gone from the registry's storage.
    let stored = s.store("sign", &s.vendor, &[]);
    let (code, _) = s.verify(&[&s.vendor]);
    assert_eq!(code, 0, "the untouched signature verifies");
    let hex = stored["layer"]
        .as_str()
        .and_then(|l| l.strip_prefix("sha256:"))
        .expect("layer digest")
        .to_owned();
    let data =
        s.d.join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(&hex)
            .join("data");
    std::fs::remove_file(&data).expect("the blob's file in the registry's storage");
    let (code, report) = s.verify(&[&s.vendor]);
    assert_eq!(code, 1, "{report:#}");
    let reason = findings(&report, "signature")[0]["reason"]
        .as_str()
        .expect("reason")
        .to_owned();
    assert!(
        reason.contains("not found") || reason.contains("HTTP"),
        "{reason}"
    );

    // An invalid signature beside a valid one is listed and does not count against it.
    s.store("sign", &s.other, &[]);
    s.store("sign", &s.vendor, &["--append"]);
    let (code, report) = s.verify(&[&s.vendor]);
    assert_eq!(code, 0, "{report:#}");
    let sigs = findings(&report, "signature");
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs.iter().filter(|f| f["verified"] == true).count(), 1);
}

#[test]
fn attestations_about_another_image_and_keyless_signatures_are_not_verified() {
    let test = "attestations_about_another_image_and_keyless_signatures_are_not_verified";
    let Some(s) = Setup::new(test) else { return };
    let elsewhere = format!("sha256:{}", "1".repeat(64));
    s.store("attest", &s.vendor, &["--subject-digest", &elsewhere]);
    s.store(
        "sign",
        &s.vendor,
        &["--keyless-identity", "release@vendor.example"],
    );
    // Without a key: the certificate's identity is reported, the reason is keyless.
    let (code, report) = s.verify(&[]);
    assert_eq!(code, 0, "{:#?}", failures(&report));
    let sig = findings(&report, "signature")[0].clone();
    assert_eq!(sig["verified"], false);
    assert!(
        sig["signer"]
            .as_str()
            .is_some_and(|i| i.contains("release@vendor.example")
                && i.contains("https://accounts.example.com")),
        "{sig:#}"
    );
    assert!(
        sig["reason"].as_str().is_some_and(
            |r| r.contains("keyless: not checked") && r.contains("--certificate-identity")
        ),
        "{sig:#}"
    );
    // Another key required: the keyless signature is not taken for it.
    let (code, report) = s.verify(&[&s.other]);
    assert_eq!(code, 1, "{report:#}");
    // The vendor's key: the signature's key verifies it; the attestation's subject is another
    // image, so it is not verified, and it never stood for a signature anyway.
    let (code, report) = s.verify(&[&s.vendor]);
    assert_eq!(code, 0, "{report:#}");
    let att = findings(&report, "attestation")[0].clone();
    assert_eq!(att["verified"], false);
    assert!(
        att["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no subject has digest")),
        "{att:#}"
    );

    // cosign's bundle format: a Sigstore bundle of its signing predicate attached as a referrer
    // by another tool is listed as foreign, and a signature by the key it verifies with.
    let file = s.d.join("cosign.sigstore.json");
    python(&[
        "bundle",
        "--image",
        &s.digest,
        "--key",
        &format!("{}.key", s.other.display()),
        "--out",
        file.to_str().expect("utf8"),
    ]);
    stella(&s.home)
        .args(["oci", "attach", "--image", &s.image])
        .args([
            "--artifact-type",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        ])
        .args([
            "--annotation",
            "dev.sigstore.bundle.predicateType=https://sigstore.dev/cosign/sign/v1",
        ])
        .arg(&file)
        .assert()
        .success();
    let out = stella(&s.home)
        .args(["oci", "referrers", "--json", &s.image])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tree: Value = serde_json::from_slice(&out).expect("JSON");
    assert!(
        tree["referrers"]
            .as_array()
            .expect("referrers")
            .iter()
            .any(|n| n["kind"] == "sigstore-bundle"),
        "{tree:#}"
    );
    let (code, report) = s.verify(&[&s.other]);
    assert_eq!(code, 0, "{report:#}");
    let bundle = findings(&report, "bundle")[0].clone();
    assert_eq!(bundle["verified"], true, "{bundle:#}");
    assert_eq!(
        bundle["predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    // Stella's own evidence still decides for itself: nothing failed, nothing was taken for it.
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
}

const KEYLESS_IDENTITY: &str = "release@vendor.example";
const KEYLESS_ISSUER: &str = "https://accounts.example.com";

/// Replaces the `.sig` tag with a keyless signature by the vendor's key made with `extra`, then
/// verifies with the identity flags and the test trusted root: exit code, the signature
/// finding, and the report.
fn keyless(s: &Setup, root_dir: &Path, extra: &[&str], identity: &[&str]) -> (i32, Value, Value) {
    let dir = root_dir.to_str().expect("utf8");
    let mut args = vec![
        "--keyless-identity",
        KEYLESS_IDENTITY,
        "--keyless-root",
        dir,
    ];
    args.extend_from_slice(extra);
    s.store("sign", &s.vendor, &args);
    let root = root_dir.join("trusted_root.json");
    let mut flags = vec!["--cosign-trusted-root", root.to_str().expect("utf8")];
    flags.extend_from_slice(identity);
    let (code, report) = s.verify_with(&flags);
    let sig = findings(&report, "signature")
        .first()
        .map(|f| (*f).clone())
        .unwrap_or(Value::Null);
    (code, sig, report)
}

#[test]
fn keyless_legacy_signatures_verify_by_identity_at_a_proven_time() {
    let test = "keyless_legacy_signatures_verify_by_identity_at_a_proven_time";
    let Some(s) = Setup::new(test) else { return };
    let root_dir = s.d.join("sigstore");
    python(&["keyless-root", "--out", root_dir.to_str().expect("utf8")]);
    let expected = [
        "--certificate-identity",
        KEYLESS_IDENTITY,
        "--certificate-oidc-issuer",
        KEYLESS_ISSUER,
    ];

    // Valid: the Rekor bundle proves the time, the certificate chains to the test CA then,
    // its SCT verifies, the identity and issuer are the ones asked for.
    let (code, sig, report) = keyless(&s, &root_dir, &[], &expected);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(sig["verified"], true, "{sig:#}");
    assert!(
        sig["signer"]
            .as_str()
            .is_some_and(|i| i.contains(KEYLESS_IDENTITY) && i.contains(KEYLESS_ISSUER)),
        "{sig:#}"
    );
    let notes = sig["notes"].to_string();
    assert!(
        notes.contains("signed entry timestamp of https://rekor.stella.test #4242"),
        "{notes}"
    );
    assert!(notes.contains("https://fulcio.stella.test"), "{notes}");
    assert_eq!(report["cosign"]["satisfied"], true);
    // A regular expression for the identity does as well; and the table says who signed.
    let root = root_dir.join("trusted_root.json");
    let out = stella(&s.home)
        .args(["verify", "--image", &s.image, "--cosign-trusted-root"])
        .arg(&root)
        .args([
            "--certificate-identity-regexp",
            "^release@vendor\\.example$",
        ])
        .args(["--certificate-oidc-issuer", KEYLESS_ISSUER])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains("cosign signature required: present and verified"),
        "{text}"
    );
    assert!(text.contains(KEYLESS_IDENTITY), "{text}");

    // Without an identity asked for: listed, not verified, nothing required.
    let (code, report) = s.verify_with(&[]);
    assert_eq!(code, 0, "{report:#}");
    let sig = findings(&report, "signature")[0].clone();
    assert_eq!(sig["verified"], false);
    assert!(
        sig["reason"]
            .as_str()
            .is_some_and(|r| r.contains("keyless: not checked")),
        "{sig:#}"
    );
    // Half a policy is bad usage, as cosign says.
    let out = stella(&s.home)
        .args([
            "verify",
            "--json",
            "--image",
            &s.image,
            "--cosign-trusted-root",
        ])
        .arg(&root)
        .args(["--certificate-identity", KEYLESS_IDENTITY])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("--certificate-oidc-issuer"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // Another identity, another issuer: a clean "no" saying which.
    for (flags, says) in [
        (
            [
                "--certificate-identity",
                "intruder@vendor.example",
                "--certificate-oidc-issuer",
                KEYLESS_ISSUER,
            ],
            "identity",
        ),
        (
            [
                "--certificate-identity",
                KEYLESS_IDENTITY,
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ],
            "OIDC issuer",
        ),
    ] {
        let (code, report) = s.verify_with(
            &[
                &["--cosign-trusted-root", root.to_str().expect("utf8")][..],
                &flags[..],
            ]
            .concat(),
        );
        assert_eq!(code, 1, "{report:#}");
        let reason = findings(&report, "signature")[0]["reason"]
            .as_str()
            .expect("reason")
            .to_owned();
        assert!(reason.contains(says), "{reason}");
        assert!(
            report["cosign"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("does not match") || r.contains(says)),
            "{report:#}"
        );
    }

    // The shipped public-good root does not know the test CA (nor its log).
    let (code, report) = s.verify_with(&expected);
    assert_eq!(code, 1, "{report:#}");

    // A signed entry timestamp that does not cover the integrated time given.
    let (code, sig, report) = keyless(&s, &root_dir, &["--tamper-set"], &expected);
    assert_eq!(code, 1, "{report:#}");
    let reason = sig["reason"].as_str().expect("reason");
    assert!(
        reason.contains("signed entry timestamp does not verify"),
        "{reason}"
    );

    // A certificate that had expired when the entry was integrated.
    let (code, sig, report) = keyless(&s, &root_dir, &["--expired"], &expected);
    assert_eq!(code, 1, "{report:#}");
    let reason = sig["reason"].as_str().expect("reason");
    assert!(
        reason.contains("not valid at the signing time")
            && reason.contains("signed entry timestamp"),
        "{reason}"
    );

    // No Rekor bundle and no timestamp: nothing proves when it signed.
    let (code, sig, report) = keyless(&s, &root_dir, &["--no-rekor-bundle"], &expected);
    assert_eq!(code, 1, "{report:#}");
    let reason = sig["reason"].as_str().expect("reason");
    assert!(reason.contains("no proven signing time"), "{reason}");

    // An RFC 3161 timestamp by the root's TSA alone proves the time; both together are both
    // checked.
    let (code, sig, report) = keyless(
        &s,
        &root_dir,
        &["--no-rekor-bundle", "--rfc3161"],
        &expected,
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(sig["verified"], true, "{sig:#}");
    assert!(
        sig["notes"]
            .to_string()
            .contains("RFC 3161 timestamp of https://tsa.stella.test"),
        "{sig:#}"
    );
    let (code, sig, report) = keyless(&s, &root_dir, &["--rfc3161"], &expected);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(sig["notes"].as_array().map(Vec::len), Some(3), "{sig:#}");
    // ... and a certificate expired at the timestamped time is refused by it.
    let (code, sig, report) = keyless(
        &s,
        &root_dir,
        &["--no-rekor-bundle", "--rfc3161", "--expired"],
        &expected,
    );
    assert_eq!(code, 1, "{report:#}");
    let reason = sig["reason"].as_str().expect("reason");
    assert!(
        reason.contains("not valid at the signing time") && reason.contains("RFC 3161"),
        "{reason}"
    );

    // A timestamp annotation that does not verify fails the signature, good log entry or not.
    let (code, sig, report) = keyless(&s, &root_dir, &["--bad-timestamp"], &expected);
    assert_eq!(code, 1, "{report:#}");
    let reason = sig["reason"].as_str().expect("reason");
    assert!(reason.contains("RFC 3161 timestamp"), "{reason}");

    // A payload changed after it was signed and logged.
    let (code, sig, report) = keyless(&s, &root_dir, &["--tamper"], &expected);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(sig["verified"], false, "{sig:#}");

    // A keyless attestation (intoto entry in its Rekor bundle) about the image verifies by the
    // same identity, and never stands for the signature that just failed.
    let dir = root_dir.to_str().expect("utf8");
    let keyless_attestation = [
        "--keyless-identity",
        KEYLESS_IDENTITY,
        "--keyless-root",
        dir,
    ];
    s.store("attest", &s.vendor, &keyless_attestation);
    let with_root = ["--cosign-trusted-root", root.to_str().expect("utf8")];
    let (code, report) = s.verify_with(&[&with_root[..], &expected[..]].concat());
    assert_eq!(code, 1, "{report:#}");
    let att = findings(&report, "attestation")[0].clone();
    assert_eq!(att["verified"], true, "{att:#}");
    assert!(
        att["signer"]
            .as_str()
            .is_some_and(|i| i.contains(KEYLESS_IDENTITY)),
        "{att:#}"
    );
    assert!(
        att["notes"].to_string().contains("signed entry timestamp"),
        "{att:#}"
    );
    // About another image: refused.
    let elsewhere = format!("sha256:{}", "2".repeat(64));
    s.store(
        "attest",
        &s.vendor,
        &[
            &keyless_attestation[..],
            &["--subject-digest", &elsewhere][..],
        ]
        .concat(),
    );
    let (_, report) = s.verify_with(&[&with_root[..], &expected[..]].concat());
    let att = findings(&report, "attestation")[0].clone();
    assert_eq!(att["verified"], false, "{att:#}");
    assert!(
        att["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no subject has digest")),
        "{att:#}"
    );
}

#[test]
fn keyless_bundle_referrers_verify_by_identity() {
    let test = "keyless_bundle_referrers_verify_by_identity";
    let Some(s) = Setup::new(test) else { return };
    let root_dir = s.d.join("sigstore");
    let dir = root_dir.to_str().expect("utf8");
    python(&["keyless-root", "--out", dir]);
    let root = root_dir.join("trusted_root.json");
    let file = s.d.join("keyless.sigstore.json");
    python(&[
        "bundle",
        "--image",
        &s.digest,
        "--key",
        &format!("{}.key", s.vendor.display()),
        "--out",
        file.to_str().expect("utf8"),
        "--keyless-identity",
        KEYLESS_IDENTITY,
        "--keyless-root",
        dir,
    ]);
    stella(&s.home)
        .args(["oci", "attach", "--image", &s.image])
        .args([
            "--artifact-type",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        ])
        .args([
            "--annotation",
            "dev.sigstore.bundle.predicateType=https://sigstore.dev/cosign/sign/v1",
        ])
        .arg(&file)
        .assert()
        .success();
    let with_root = ["--cosign-trusted-root", root.to_str().expect("utf8")];
    let verify = |identity: &str| {
        s.verify_with(
            &[
                &with_root[..],
                &[
                    "--certificate-identity",
                    identity,
                    "--certificate-oidc-issuer",
                    KEYLESS_ISSUER,
                ][..],
            ]
            .concat(),
        )
    };

    // The identity asked for: the bundle (certificate, SCT, Rekor entry with its SET and its
    // inclusion proof, the statement naming the image) is the image's signature.
    let (code, report) = verify(KEYLESS_IDENTITY);
    assert_eq!(code, 0, "{report:#}");
    let bundle = findings(&report, "bundle")[0].clone();
    assert_eq!(bundle["verified"], true, "{bundle:#}");
    assert!(
        bundle["signer"]
            .as_str()
            .is_some_and(|i| i.contains(KEYLESS_IDENTITY)),
        "{bundle:#}"
    );
    assert_eq!(report["cosign"]["satisfied"], true);

    // Another identity: not the image's signature, and none other is.
    let (code, report) = verify("intruder@vendor.example");
    assert_eq!(code, 1, "{report:#}");
    let bundle = findings(&report, "bundle")[0].clone();
    assert!(
        bundle["reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not match")),
        "{bundle:#}"
    );

    // No identity: listed, not checked.
    let (code, report) = s.verify_with(&[]);
    assert_eq!(code, 0, "{report:#}");
    let bundle = findings(&report, "bundle")[0].clone();
    assert_eq!(bundle["verified"], false, "{bundle:#}");
    assert!(
        bundle["notes"].to_string().contains("keyless: not checked"),
        "{bundle:#}"
    );

    // The test material is what a Sigstore client accepts: sigstore-js verifies the same bundle.
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    if !interop.join("node_modules/@sigstore/verify").exists() {
        stella_testkit::skip(
            test,
            "npm @sigstore/verify is not installed (cd interop && npm ci): the bundle was not \
             checked by sigstore-js",
        );
        return;
    }
    let out = Process::new("node")
        .arg(interop.join("sigstore_verify_keyless.mjs"))
        .arg(&file)
        .arg(&file)
        .arg(&root)
        .args([KEYLESS_IDENTITY, KEYLESS_ISSUER])
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "sigstore-js: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
