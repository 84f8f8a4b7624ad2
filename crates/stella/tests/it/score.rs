//! `stella score`: its decision table against CERT/CC's reference implementation (certcc-ssvc,
//! through interop/ssvc_deployer.py), and end to end on two C programs with a static zlib (one
//! holds the vulnerable `inflateGetHeader`, one does not): the same inputs give the same bytes,
//! another seed is recorded, an attached score replays to the same bytes, and a changed number
//! is named by replay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use serde_json::Value;
use stella_policy::score::{Automatable, Decision, Exploitation, Exposure, HumanImpact};
use stella_testkit::skip;

use crate::assess::stella;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A missing peer fails under CI=true or STELLA_REQUIRE_PEERS=1, and is said loudly otherwise.
fn peer_missing(test: &str, why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: peer missing: {why} (CI=true makes a missing peer a failure)");
    }
    skip(test, why);
}

#[test]
fn every_decision_stella_can_make_is_the_reference_tables() {
    let test = "every_decision_stella_can_make_is_the_reference_tables";
    let out = match Process::new("python3")
        .arg(repo().join("interop/ssvc_deployer.py"))
        .output()
    {
        Ok(out) => out,
        Err(e) => return peer_missing(test, &format!("python3: {e}")),
    };
    if out.status.code() == Some(3) {
        return peer_missing(
            test,
            &format!(
                "certcc-ssvc: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(table["version"], "1.0.0", "{}", table["source"]);
    let rows = table["rows"].as_array().expect("rows");
    let reference: BTreeMap<[String; 4], String> = rows
        .iter()
        .map(|r| {
            let at = |id: &str| r[id].as_str().expect(id).to_owned();
            (
                [
                    at(Exploitation::ID),
                    at(Exposure::ID),
                    at(Automatable::ID),
                    at(HumanImpact::ID),
                ],
                at(stella_policy::score::Priority::ID),
            )
        })
        .collect();
    let all = Decision::all();
    assert_eq!(reference.len(), all.len(), "one row per combination");
    for d in all {
        let key = [
            d.exploitation.key().to_owned(),
            d.exposure.key().to_owned(),
            d.automatable.key().to_owned(),
            d.human_impact.key().to_owned(),
        ];
        assert_eq!(
            reference.get(&key).map(String::as_str),
            Some(d.outcome().key()),
            "{d:?} ({})",
            table["source"]
        );
    }
}

fn score(home: &Path, image: &str, advisories: &Path, extra: &[&str]) -> (i32, String) {
    let out = stella(home)
        .args(["score", "--image", image, "--advisories"])
        .arg(advisories)
        .args(extra)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn replay(home: &Path, image: &str, advisories: &Path, file: &Path) -> (i32, String) {
    let out = stella(home)
        .arg("replay")
        .arg(file)
        .args(["--image", image, "--advisories"])
        .arg(advisories)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_score_is_the_same_bytes_twice_records_its_seed_and_replays() {
    let test = "a_score_is_the_same_bytes_twice_records_its_seed_and_replays";
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("capps");
    if let Err(e) = crate::assess::build_c(work.path(), &root) {
        skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = crate::assess::scan(&home, &root);
    let advisories = crate::assess::zlib_advisory(work.path(), "TEST-ZLIB-1", &[]);
    let policy = work.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"schema": "stella.vex-policy/v1", "score": {"humanImpact": "high", "publicPoc": ["TEST-ZLIB-1"]}}"#,
    )
    .expect("write");
    let policy_arg = policy.to_string_lossy().into_owned();

    let (first, second, seeded) = (
        work.path().join("a.json"),
        work.path().join("b.json"),
        work.path().join("c.json"),
    );
    for (file, seed) in [(&first, "7"), (&second, "7"), (&seeded, "8")] {
        let (code, stderr) = score(
            &home,
            &image,
            &advisories,
            &[
                "--seed",
                seed,
                "--policy",
                &policy_arg,
                "-o",
                &file.to_string_lossy(),
            ],
        );
        assert_eq!(code, 0, "{stderr}");
    }
    // A seed JSON cannot carry exactly is refused.
    let (code, stderr) = score(&home, &image, &advisories, &["--seed", "9007199254740992"]);
    assert_eq!(code, 2, "{stderr}");
    let a = std::fs::read(&first).expect("read");
    assert_eq!(
        a,
        std::fs::read(&second).expect("read"),
        "same inputs, same bytes"
    );
    let statement: Value = serde_json::from_slice(&a).expect("JSON");
    assert_eq!(
        statement["predicateType"],
        "https://stella-ops.org/attestations/score/v1"
    );
    let p = &statement["predicate"];
    assert_eq!(p["inputs"]["seed"], 7);
    let other: Value =
        serde_json::from_slice(&std::fs::read(&seeded).expect("read")).expect("JSON");
    assert_eq!(
        other["predicate"]["inputs"]["seed"], 8,
        "the seed is recorded"
    );
    assert_ne!(other["predicate"]["replayToken"], p["replayToken"]);
    assert_eq!(other["predicate"]["vulnerabilities"], p["vulnerabilities"]);

    // The binary holding inflateGetHeader: present, nothing ran (C); PoC, high impact.
    let entries = p["vulnerabilities"].as_array().expect("entries");
    let of = |path: &str| {
        entries
            .iter()
            .find(|e| e["binary"] == path)
            .unwrap_or_else(|| panic!("no entry for {path}: {p:#}"))
    };
    let headers = of("/usr/bin/gunzip-headers");
    assert_eq!(headers["applicable"], true, "{headers:#}");
    // (P, C, Y, H) is Scheduled in DT_DP 1.0.0.
    assert_eq!(headers["outcome"]["value"], "S", "{headers:#}");
    assert_eq!(headers["score"], 4);
    let compressor = of("/usr/bin/compressor");
    assert_eq!(compressor["applicable"], false, "{compressor:#}");
    assert_eq!(compressor["score"], 0);
    let exposure = compressor["breakdown"]
        .as_array()
        .expect("breakdown")
        .iter()
        .find(|b| b["decisionPoint"] == "ssvc:EXP:1.0.1")
        .expect("exposure");
    assert_eq!(exposure["rule"], "vulnerable-code-not-present");
    assert_eq!(exposure["evidence"][0]["kind"], "funcproof");
    let kinds: Vec<&str> = p["inputs"]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d["kind"].as_str().expect("kind"))
        .collect();
    for kind in ["advisory", "funcproof", "policy", "sbom"] {
        assert!(kinds.contains(&kind), "{kind} not among {kinds:?}");
    }

    // Signed, logged and attached; then made again from its record: the same bytes.
    let (code, stderr) = score(
        &home,
        &image,
        &advisories,
        &["--seed", "7", "--policy", &policy_arg, "--attach"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("attached to"), "{stderr}");
    // The image's evidence still verifies with a score among its referrers.
    let verified = stella(&home)
        .args(["verify", "--image", &image])
        .output()
        .expect("runs");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let (code, stderr) = replay(&home, &image, &advisories, &first);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("the same bytes"), "{stderr}");
    // `stella verify` checks the attached score like any signed claim.
    let listed = stella(&home)
        .args(["verify", "--image", &image, "--json"])
        .output()
        .expect("runs");
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("verify JSON");
    assert!(
        listed["artifacts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["kind"] == "score" && a["status"] == "verified"),
        "{listed:#}"
    );
    // By its token: found among what the image carries, signed again with the same key it is
    // the attached envelope; and from the auditor's pack, on an empty home.
    let token = p["replayToken"].as_str().expect("token").to_owned();
    let by_token = stella(&home)
        .args(["replay", &token, "--image", &image, "--advisories"])
        .arg(&advisories)
        .arg("--sign-key")
        .arg(home.join("keys/stella.key"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&by_token.stderr);
    assert_eq!(by_token.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the same DSSE envelope"), "{stderr}");
    let pack = work.path().join("score.pack.tar");
    stella(&home)
        .args(["audit", "export", "--image", &image])
        .arg("-o")
        .arg(&pack)
        .arg("--advisories")
        .arg(&advisories)
        .assert()
        .success();
    let from_pack = stella(&work.path().join("empty-home"))
        .args(["replay", &token, "--from"])
        .arg(&pack)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&from_pack.stderr);
    assert_eq!(from_pack.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("replayed the score"), "{stderr}");

    // A vendor's not_affected for the component: the verdict is not applicable, citing it;
    // replay needs that document.
    let vex = work.path().join("vendor.openvex.json");
    std::fs::write(
        &vex,
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/zlib",
            "author": "Vendor", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "TEST-ZLIB-1"},
              "products": [{"@id": "pkg:generic/zlib"}],
              "status": "not_affected", "justification": "inline_mitigations_already_exist"}]}"#,
    )
    .expect("write");
    let with_vex = work.path().join("vex.score.json");
    let (code, stderr) = score(
        &home,
        &image,
        &advisories,
        &[
            "--vex",
            &vex.to_string_lossy(),
            "-o",
            &with_vex.to_string_lossy(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_slice(&std::fs::read(&with_vex).expect("read")).expect("JSON");
    assert_eq!(v["predicate"]["score"], 0, "{:#}", v["predicate"]);
    let (code, stderr) = replay(&home, &image, &advisories, &with_vex);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--vex"), "{stderr}");
    let out = stella(&home)
        .arg("replay")
        .arg(&with_vex)
        .args(["--image", &image, "--advisories"])
        .arg(&advisories)
        .arg("--vex")
        .arg(&vex)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A changed number: replay names it.
    let mut tampered = statement.clone();
    tampered["predicate"]["score"] = Value::from(9);
    let bad = work.path().join("tampered.json");
    std::fs::write(&bad, serde_json::to_vec(&tampered).expect("json")).expect("write");
    let (code, stderr) = replay(&home, &image, &advisories, &bad);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/score"), "{stderr}");
    // A changed replay record: refused by its token.
    let mut tampered = statement;
    tampered["predicate"]["replay"]["seed"] = Value::from(9);
    std::fs::write(&bad, serde_json::to_vec(&tampered).expect("json")).expect("write");
    let (code, stderr) = replay(&home, &image, &advisories, &bad);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("replay token"), "{stderr}");
}
