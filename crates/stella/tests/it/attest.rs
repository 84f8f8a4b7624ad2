//! `stella key`, `stella attest`, `stella verify-attestation` and `stella predicates` end to end:
//! round trips, determinism, every reason verification gives for saying no (exit 1), and bad
//! input (exit 2) that leaves nothing half-written.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use predicates::prelude::*;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse";

/// A 1024-bit RSA key (PKCS#8, unencrypted), made for this test: the wrong kind of key.
const RSA_KEY: &str = include_str!("../data/rsa-1024.pem");

/// One evidence home (and so one embedded log) for this test binary, never the working
/// directory.
fn home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_HOME", home())
        .env_remove("STELLA_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH");
    cmd
}

fn keygen(dir: &Path, name: &str, algorithm: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    stella()
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["key", "generate", "--algorithm", algorithm, "--out"])
        .arg(&prefix)
        .assert()
        .success();
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

const SUBJECT: &str = "app=sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const SUBJECT_DIGEST: &str =
    "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

fn attest(dir: &Path, key: &Path, predicate: &Value, extra: &[&str]) -> Command {
    let file = dir.join("predicate.json");
    fs::write(&file, serde_json::to_vec(predicate).expect("json")).expect("write");
    let mut cmd = stella();
    cmd.env("STELLA_PASSWORD", PASSWORD)
        .args(["attest", "--type", "https://example.com/review/v1", "--key"])
        .arg(key)
        .arg("--predicate")
        .arg(&file)
        .args(extra);
    cmd
}

fn bundle_of(dir: &Path, key: &Path) -> Value {
    let out = attest(
        dir,
        key,
        &json!({"reviewer": "ada", "ok": true}),
        &["--subject", SUBJECT],
    )
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    serde_json::from_slice(&out).expect("bundle JSON")
}

fn verify(dir: &Path, public: &Path, bundle: &Value, extra: &[&str]) -> assert_cmd::assert::Assert {
    let file = dir.join("check.bundle.json");
    fs::write(&file, serde_json::to_vec(bundle).expect("json")).expect("write");
    stella()
        .args(["verify-attestation", "--key"])
        .arg(public)
        .args(extra)
        .arg(&file)
        .assert()
}

fn payload(bundle: &Value) -> Value {
    let b64 = bundle["dsseEnvelope"]["payload"].as_str().expect("payload");
    serde_json::from_slice(&STANDARD.decode(b64).expect("base64")).expect("statement")
}

fn set_payload(bundle: &mut Value, statement: &Value) {
    bundle["dsseEnvelope"]["payload"] =
        Value::String(STANDARD.encode(serde_json::to_vec(statement).expect("json")));
}

#[test]
fn keys_sign_and_verify_for_both_algorithms_deterministically() {
    let dir = tempfile::tempdir().expect("tempdir");
    for algorithm in ["ecdsa-p256", "ed25519"] {
        let (key, public) = keygen(dir.path(), algorithm, algorithm);
        let text = fs::read_to_string(&key).expect("key file");
        assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&key).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "private key readable by others: {mode:o}");
        }
        let first = bundle_of(dir.path(), &key);
        let second = bundle_of(dir.path(), &key);
        // Same statement and key, same envelope; each signing is its own log entry.
        assert_eq!(
            first["dsseEnvelope"], second["dsseEnvelope"],
            "{algorithm}: deterministic envelope"
        );
        assert_ne!(
            first["verificationMaterial"]["tlogEntries"][0]["logIndex"],
            second["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        );
        assert_eq!(
            first["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let hint = first["verificationMaterial"]["publicKey"]["hint"].clone();
        assert_eq!(first["dsseEnvelope"]["signatures"][0]["keyid"], hint);
        let out = verify(
            dir.path(),
            &public,
            &first,
            &["--json", "--subject-digest", SUBJECT_DIGEST],
        )
        .success()
        .get_output()
        .stdout
        .clone();
        let report: Value = serde_json::from_slice(&out).expect("report");
        assert_eq!(report["verified"], true);
        assert_eq!(report["predicateType"], "https://example.com/review/v1");
        assert_eq!(report["subjects"][0]["name"], "app");
        // `key public` on the private key gives the same public key and id.
        let out = stella()
            .env("STELLA_PASSWORD", PASSWORD)
            .args(["key", "public", "--json", "--key"])
            .arg(&key)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let info: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(info["keyId"], hint);
        assert_eq!(info["schema"], "stella.key.public/v1");
        assert_eq!(info["pem"], fs::read_to_string(&public).expect("pub"));
    }
}

#[test]
fn dsse_output_and_subject_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keygen(dir.path(), "k", "ed25519");
    let artifact = dir.path().join("artifact.bin");
    fs::write(&artifact, b"the artifact").expect("write");
    let out = attest(
        dir.path(),
        &key,
        &json!({"a": 1}),
        &[
            "--format",
            "dsse",
            "--subject-file",
            artifact.to_str().expect("utf8"),
        ],
    )
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let envelope: Value = serde_json::from_slice(&out).expect("envelope");
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let statement: Value = serde_json::from_slice(
        &STANDARD
            .decode(envelope["payload"].as_str().expect("b64"))
            .expect("b64"),
    )
    .expect("statement");
    assert_eq!(statement["subject"][0]["name"], "artifact.bin");
    verify(
        dir.path(),
        &public,
        &envelope,
        &["--subject-file", artifact.to_str().expect("utf8")],
    )
    .success();
    // The same file changed by one byte is no longer the subject.
    fs::write(&artifact, b"the artifacT").expect("write");
    verify(
        dir.path(),
        &public,
        &envelope,
        &["--subject-file", artifact.to_str().expect("utf8")],
    )
    .code(1)
    .stderr(predicate::str::contains("no subject has digest sha256:"));
}

#[test]
fn every_refusal_has_its_reason_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keygen(dir.path(), "k", "ecdsa-p256");
    let (_, other_public) = keygen(dir.path(), "other", "ecdsa-p256");
    let bundle = bundle_of(dir.path(), &key);

    let refuse = |b: &Value, pubkey: &Path, extra: &[&str], reason: &str| {
        verify(dir.path(), pubkey, b, extra)
            .code(1)
            .stderr(predicate::str::contains(reason));
    };
    refuse(&bundle, &other_public, &[], "no signature by key");

    let mut modified = bundle.clone();
    let mut statement = payload(&bundle);
    statement["predicate"]["ok"] = json!(false);
    set_payload(&mut modified, &statement);
    refuse(
        &modified,
        &public,
        &[],
        "payload or payloadType was modified",
    );

    let mut retyped = bundle.clone();
    retyped["dsseEnvelope"]["payloadType"] = json!("application/json");
    refuse(
        &retyped,
        &public,
        &[],
        "payload or payloadType was modified",
    );

    refuse(
        &bundle,
        &public,
        &[
            "--subject-digest",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
        "no subject has digest",
    );
    refuse(&bundle, &public, &["--type", "sbom"], "predicateType is");

    let mut unknown = bundle.clone();
    unknown["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.9+json");
    refuse(&unknown, &public, &[], "unknown bundle media type");

    let mut bad_b64 = bundle.clone();
    bad_b64["dsseEnvelope"]["signatures"][0]["sig"] = json!("MEUC!!!");
    refuse(&bad_b64, &public, &[], "is not valid base64");

    let mut duplicate = bundle.clone();
    let sig = bundle["dsseEnvelope"]["signatures"][0].clone();
    duplicate["dsseEnvelope"]["signatures"] = json!([sig.clone(), sig]);
    refuse(&duplicate, &public, &[], "duplicate signature");

    let mut missing = bundle.clone();
    missing["dsseEnvelope"]["signatures"] = json!([]);
    refuse(&missing, &public, &[], "no signatures");

    let many: Vec<Value> = (0..1000)
        .map(|i| json!({"keyid": format!("k{i}"), "sig": STANDARD.encode(format!("sig{i}"))}))
        .collect();
    let mut thousand = bundle.clone();
    thousand["dsseEnvelope"]["signatures"] = Value::Array(many);
    refuse(&thousand, &public, &[], "1000 signatures; at most 16");

    // A signature over the raw payload instead of the PAE needs a signer outside Stella: see
    // the interop tests (and `dsse::tests` in stella-attest).
}

#[test]
fn bad_input_is_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keygen(dir.path(), "k", "ecdsa-p256");
    let out = dir.path().join("out.bundle.json");

    // Wrong password: clear message, no output file.
    attest(
        dir.path(),
        &key,
        &json!({}),
        &["--subject", SUBJECT, "-o", out.to_str().expect("utf8")],
    )
    .env("STELLA_PASSWORD", "wrong")
    .assert()
    .code(2)
    .stderr(predicate::str::contains("wrong password"));
    assert!(!out.exists());

    // No password at all, and no terminal to ask on.
    let mut cmd = attest(dir.path(), &key, &json!({}), &["--subject", SUBJECT]);
    cmd.env_remove("STELLA_PASSWORD")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("STELLA_PASSWORD"));

    // A truncated PEM.
    let text = fs::read_to_string(&key).expect("key");
    let truncated = dir.path().join("truncated.key");
    fs::write(&truncated, &text[..text.len() / 2]).expect("write");
    attest(dir.path(), &truncated, &json!({}), &["--subject", SUBJECT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("truncated"));

    // An RSA key where P-256 or Ed25519 is expected.
    let rsa = dir.path().join("rsa.pem");
    fs::write(&rsa, RSA_KEY).expect("write");
    attest(dir.path(), &rsa, &json!({}), &["--subject", SUBJECT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("an RSA key"));

    // No subjects.
    attest(dir.path(), &key, &json!({}), &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no subjects"));

    // A predicate above the 160 MiB payload limit (a sparse file: refused by its size, before
    // a byte is read).
    let huge = dir.path().join("huge.json");
    fs::File::create(&huge)
        .and_then(|f| f.set_len(200 << 20))
        .expect("sparse file");
    stella()
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["attest", "--type", "https://example.com/review/v1", "--key"])
        .arg(&key)
        .arg("--predicate")
        .arg(&huge)
        .args(["--subject", SUBJECT])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "larger than an attestation payload may be",
        ));

    // A bad subject digest.
    attest(
        dir.path(),
        &key,
        &json!({}),
        &["--subject", "app=sha256:abc"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("--subject"));

    // A private key given to verify, a bundle that is not JSON.
    let bundle = bundle_of(dir.path(), &key);
    verify(dir.path(), &key, &bundle, &[])
        .code(2)
        .stderr(predicate::str::contains("private key"));
    let junk = dir.path().join("junk.json");
    fs::write(&junk, b"{\"mediaType\": ").expect("write");
    stella()
        .args(["verify-attestation", "--key"])
        .arg(&public)
        .arg(&junk)
        .assert()
        .code(2);

    // Refusing to overwrite a key pair.
    stella()
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["key", "generate", "--out"])
        .arg(dir.path().join("k"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn sbom_attestation_carries_the_canonical_id_and_its_schema_is_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keygen(dir.path(), "k", "ecdsa-p256");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sbom");
    let bom = fs::read_dir(&fixtures)
        .expect("sbom fixtures")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("an SBOM fixture");
    let id = stella()
        .args(["sbom", "id"])
        .arg(&bom)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let id = String::from_utf8(id).expect("utf8").trim().to_owned();
    let sign = |epoch: &str| {
        stella()
            .env("STELLA_PASSWORD", PASSWORD)
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["attest", "sbom", "--key"])
            .arg(&key)
            .arg(&bom)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let first = sign("1767225600");
    let bundle: Value = serde_json::from_slice(&first).expect("bundle");
    let again: Value = serde_json::from_slice(&sign("1767225600")).expect("bundle");
    assert_eq!(
        bundle["dsseEnvelope"], again["dsseEnvelope"],
        "SOURCE_DATE_EPOCH makes it reproducible"
    );
    let statement = payload(&bundle);
    assert_eq!(statement["predicate"]["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(statement["predicate"]["bom_format"], "CycloneDX");
    assert_eq!(
        format!(
            "sha256:{}",
            statement["subject"][0]["digest"]["sha256"]
                .as_str()
                .expect("hex")
        ),
        id
    );
    verify(
        dir.path(),
        &public,
        &bundle,
        &["--type", "sbom", "--subject-digest", &id],
    )
    .success();

    // A predicate of a Stella type that breaks its schema is refused before signing...
    let bad = dir.path().join("bad.json");
    fs::write(
        &bad,
        br#"{"bom_format":"SPDX","bom":{},"producer":"x","timestamp":"now"}"#,
    )
    .expect("write");
    stella()
        .env("STELLA_PASSWORD", PASSWORD)
        .args([
            "attest",
            "--type",
            "https://stella-ops.org/attestations/sbom/v1",
            "--subject",
            SUBJECT,
            "--key",
        ])
        .arg(&key)
        .arg("--predicate")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/bom_format"));
    // ... and a bad timestamp by name.
    stella()
        .env("STELLA_PASSWORD", PASSWORD)
        .args(["attest", "sbom", "--timestamp", "yesterday", "--key"])
        .arg(&key)
        .arg(&bom)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RFC 3339"));
}

#[test]
fn predicates_lists_every_type_and_prints_schemas() {
    let out = stella()
        .args(["predicates", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(list["schema"], "stella.predicates/v1");
    let list = &list["predicates"];
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["funcproof", "micro-witness", "record", "sbom", "score"]
    );
    for p in list.as_array().expect("array") {
        assert_eq!(
            p["predicateSchema"]["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }
    stella()
        .args(["predicates", "https://stella-ops.org/attestations/sbom/v1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"bom_format\""));
    stella().args(["predicates", "nope"]).assert().code(2);
}

#[test]
fn several_keys_sign_one_envelope_and_each_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (p256, p256_pub) = keygen(dir.path(), "p", "ecdsa-p256");
    let (ed, ed_pub) = keygen(dir.path(), "e", "ed25519");
    let (_, stranger) = keygen(dir.path(), "s", "ed25519");
    let out = attest(
        dir.path(),
        &p256,
        &json!({"two": "signatures"}),
        &["--key", ed.to_str().expect("utf8"), "--subject", SUBJECT],
    )
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let bundle: Value = serde_json::from_slice(&out).expect("bundle");
    let signatures = bundle["dsseEnvelope"]["signatures"]
        .as_array()
        .expect("array");
    assert_eq!(signatures.len(), 2);
    assert_ne!(signatures[0]["keyid"], signatures[1]["keyid"]);
    verify(dir.path(), &p256_pub, &bundle, &[]).success();
    verify(dir.path(), &ed_pub, &bundle, &[]).success();
    verify(dir.path(), &stranger, &bundle, &[])
        .code(1)
        .stderr(predicate::str::contains("no signature by key"));
}

/// The log's trusted root, written by `stella log trusted-root`.
fn trusted_root(dir: &Path) -> PathBuf {
    let path = dir.join("trusted-root.json");
    stella()
        .args(["log", "trusted-root", "-o"])
        .arg(&path)
        .assert()
        .success();
    path
}

#[test]
fn attestations_are_logged_and_every_log_failure_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keygen(dir.path(), "k", "ecdsa-p256");
    let bundle = bundle_of(dir.path(), &key);
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert_eq!(entry["kindVersion"]["version"], "0.0.2");
    let root = trusted_root(dir.path());
    let root_arg = root.to_str().expect("utf8");
    let out = verify(
        dir.path(),
        &public,
        &bundle,
        &["--json", "--require-tlog", "--trusted-root", root_arg],
    )
    .success()
    .get_output()
    .stdout
    .clone();
    let report: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(report["tlogEntries"][0]["origin"], "log.stella.local");
    assert_eq!(
        report["tlogEntries"][0]["logIndex"].to_string(),
        entry["logIndex"].as_str().expect("string")
    );

    let refuse = |b: &Value, extra: &[&str], reason: &str| {
        verify(dir.path(), &public, b, extra)
            .code(1)
            .stderr(predicate::str::contains(reason));
    };
    let entry_path = |b: &mut Value| b["verificationMaterial"]["tlogEntries"][0].clone();

    // An inclusion-proof hash changed.
    let mut bad = bundle.clone();
    let mut e = entry_path(&mut bad);
    if e["inclusionProof"]["hashes"]
        .as_array()
        .expect("hashes")
        .is_empty()
    {
        e["inclusionProof"]["hashes"] = json!([STANDARD.encode([0u8; 32])]);
    } else {
        e["inclusionProof"]["hashes"][0] = json!(STANDARD.encode([0u8; 32]));
    }
    bad["verificationMaterial"]["tlogEntries"][0] = e;
    refuse(&bad, &["--trusted-root", root_arg], "log entry 0: proof");

    // A checkpoint whose text was changed after signing.
    let mut bad = bundle.clone();
    let mut e = entry_path(&mut bad);
    let note = e["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .expect("note")
        .to_owned();
    e["inclusionProof"]["checkpoint"]["envelope"] =
        json!(note.replacen("log.stella.local\n", "log.stella.local\n1", 1));
    bad["verificationMaterial"]["tlogEntries"][0] = e;
    refuse(&bad, &["--trusted-root", root_arg], "log entry 0:");

    // A proof claimed for another tree size.
    let mut bad = bundle.clone();
    let mut e = entry_path(&mut bad);
    let size: u64 = e["inclusionProof"]["treeSize"]
        .as_str()
        .expect("size")
        .parse()
        .expect("n");
    e["inclusionProof"]["treeSize"] = json!((size + 1).to_string());
    bad["verificationMaterial"]["tlogEntries"][0] = e;
    refuse(&bad, &["--trusted-root", root_arg], "another tree size");

    // A log entry (with its valid proof) that is about another envelope.
    let out = attest(
        dir.path(),
        &key,
        &json!({"another": "statement"}),
        &["--subject", SUBJECT],
    )
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let other: Value = serde_json::from_slice(&out).expect("bundle");
    let mut bad = bundle.clone();
    bad["verificationMaterial"]["tlogEntries"] =
        other["verificationMaterial"]["tlogEntries"].clone();
    refuse(
        &bad,
        &["--trusted-root", root_arg],
        "not SHA-256 of this envelope's PAE",
    );

    // A trusted root of another log (with another key): the entry's log is unknown.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let foreign = elsewhere.path().join("root.json");
    stella_tlog::Log::create(&elsewhere.path().join("log"), None).expect("log");
    Command::cargo_bin("stella")
        .expect("bin")
        .env("STELLA_HOME", elsewhere.path())
        .args(["log", "trusted-root", "-o"])
        .arg(&foreign)
        .assert()
        .success();
    refuse(
        &bundle,
        &["--trusted-root", foreign.to_str().expect("utf8")],
        "does not name",
    );

    // --require-tlog refuses an unlogged bundle.
    let out = attest(
        dir.path(),
        &key,
        &json!({"x": 1}),
        &["--subject", SUBJECT, "--no-tlog"],
    )
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let unlogged: Value = serde_json::from_slice(&out).expect("bundle");
    assert_eq!(unlogged["verificationMaterial"]["tlogEntries"], json!([]));
    verify(dir.path(), &public, &unlogged, &[]).success();
    refuse(&unlogged, &["--require-tlog"], "no transparency-log entry");
}

#[test]
fn concurrent_appenders_are_serialised_and_the_log_only_grows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let (key, _) = keygen(dir.path(), "k", "ed25519");
    let predicate = dir.path().join("p.json");
    fs::write(&predicate, b"{}").expect("write");
    let run = |i: usize| {
        Command::cargo_bin("stella")
            .expect("bin")
            .env("STELLA_HOME", &home)
            .env("STELLA_PASSWORD", PASSWORD)
            .args(["attest", "--type", "https://example.com/t/v1", "--key"])
            .arg(&key)
            .arg("--predicate")
            .arg(&predicate)
            .arg("--subject")
            .arg(format!("n{i}=sha256:{:064x}", i))
            .assert()
            .success();
    };
    run(0);
    let checkpoint = dir.path().join("first.checkpoint");
    fs::copy(home.join("log/checkpoint"), &checkpoint).expect("copy");
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..5 {
                    run(1 + t * 5 + i);
                }
            });
        }
    });
    let info = Command::cargo_bin("stella")
        .expect("bin")
        .env("STELLA_HOME", &home)
        .args(["log", "info", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let info: Value = serde_json::from_slice(&info).expect("json");
    assert_eq!(info["size"], 21, "every acknowledged append is in the log");
    for index in [0, 7, 20] {
        Command::cargo_bin("stella")
            .expect("bin")
            .env("STELLA_HOME", &home)
            .args(["log", "inclusion", "--index", &index.to_string()])
            .assert()
            .success();
    }
    Command::cargo_bin("stella")
        .expect("bin")
        .env("STELLA_HOME", &home)
        .args(["log", "verify-consistency"])
        .arg(&checkpoint)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "1 entries is a prefix of the log of 21",
        ));
    // A checkpoint signed by another key is refused, not trusted.
    let forged = dir.path().join("forged.checkpoint");
    let text = fs::read_to_string(&checkpoint).expect("cp");
    fs::write(&forged, text.replacen("\n1\n", "\n2\n", 1)).expect("write");
    Command::cargo_bin("stella")
        .expect("bin")
        .env("STELLA_HOME", &home)
        .args(["log", "verify-consistency"])
        .arg(&forged)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("old checkpoint"));
}
