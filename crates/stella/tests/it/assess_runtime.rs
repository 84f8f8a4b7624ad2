//! What ran decides, on real processes (root: uprobes): a Rust program holding smallvec 1.6.0
//! (RUSTSEC-2021-0003, `insert_many`) that calls the vulnerable function only once a trigger
//! file appears, witnessed before and after the trigger; its sibling without the function; and
//! a vendor's prior `not_affected` that execution evidence overrides. The functions are watched
//! both by name (`witness --binary --symbol`) and from the image's evidence (`witness --image
//! --vuln`), where a forged copy of the binary must not count.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};

use assert_cmd::Command;
use serde_json::Value;
use stella_testkit::skip;

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "assess-runtime-tests")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DEBUGINFOD_URLS")
        .env("STELLA_HOME", home);
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// A child process killed when dropped.
pub(crate) struct Running(pub Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `waits` calls `insert_many` every 20 ms once its trigger file exists; `lacks` never links it.
fn build(work: &Path, root: &Path) -> Result<(), String> {
    crate::assess::smallvec_programs(
        work,
        "trigger",
        &[
            (
                "waits",
                "use smallvec::SmallVec;\nuse std::{path::Path, thread::sleep, time::Duration};\n\
                 fn main() {\n    let trigger = std::env::args().nth(1).unwrap_or_default();\n    \
                 let mut v: SmallVec<[u8; 4]> = SmallVec::new();\n    loop {\n        \
                 if Path::new(&trigger).exists() {\n            v.insert_many(0, [1u8, 2, 3]);\n            \
                 v.truncate(0);\n        }\n        sleep(Duration::from_millis(20));\n    }\n}\n",
            ),
            (
                "lacks",
                "use smallvec::SmallVec;\nfn main() {\n    let mut v: SmallVec<[u8; 4]> = SmallVec::new();\n    \
                 v.push(1);\n    println!(\"{}\", v.len());\n}\n",
            ),
        ],
        root,
    )
}

/// `stella scan` of `root` into `home`: the image reference.
fn scan(home: &Path, root: &Path) -> String {
    let scanned = stella(home)
        .arg("scan")
        .arg(root)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(
        scanned.status.success(),
        "{}",
        String::from_utf8_lossy(&scanned.stderr)
    );
    serde_json::from_slice::<Value>(&scanned.stdout).expect("json")["image"]
        .as_str()
        .expect("image")
        .to_owned()
}

/// `stella witness` on `binary` for 2 s, written to `out`.
fn witness(home: &Path, binary: &Path, out: &Path) {
    let o = stella(home)
        .args(["witness", "--binary"])
        .arg(binary)
        .args([
            "--symbol",
            "*SmallVec$LT$A$GT$11insert_many17h*",
            "--duration",
            "2s",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(
        o.status.success(),
        "witness: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(out, &o.stdout).expect("write");
}

fn verdict_of<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| {
            v["binary"]["path"] == path
                && v["aliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == "RUSTSEC-2021-0003"))
        })
        .unwrap_or_else(|| panic!("no RUSTSEC-2021-0003 verdict for {path}: {report:#}"))
}

fn assess(home: &Path, image: &str, extra: &[&str]) -> (i32, Value, String) {
    let db = fixtures().join("advisories/rustsec-db");
    let out = stella(home)
        .args([
            "assess",
            "--image",
            image,
            "--format",
            "json",
            "--advisories",
        ])
        .arg(db)
        .args(extra)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn what_ran_decides_not_in_execute_path_then_affected_over_a_vendors_claim() {
    let test = "what_ran_decides_not_in_execute_path_then_affected_over_a_vendors_claim";
    assert!(
        is_root(),
        "{test}: needs root (CAP_BPF and CAP_PERFMON) for uprobes; run the tests as root"
    );
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("apps");
    if let Err(e) = build(work.path(), &root) {
        skip(test, &format!("cannot build the smallvec programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);

    let waits = root.join("usr/bin/waits");
    let trigger = work.path().join("trigger-now");

    // Nothing of the image runs yet: nothing can be witnessed, and saying so is exit 1.
    let by_image = |out: &Path| {
        stella(&home)
            .args(["witness", "--image", &image, "--vuln", "RUSTSEC-2021-0003"])
            .arg("--advisories")
            .arg(fixtures().join("advisories/rustsec-db"))
            .args(["--duration", "2s", "--json", "-o"])
            .arg(out)
            .output()
            .expect("runs")
    };
    let none = by_image(&work.path().join("none.witness.json"));
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("nothing can be witnessed"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );

    let started = Running(
        Process::new(&waits)
            .arg(&trigger)
            .stdout(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    // A copy with the same BuildID but one more byte: it claims the binary's identity, and
    // its trigger fires; its calls must not count for the image.
    let forged = work.path().join("waits-forged");
    let mut bytes = std::fs::read(&waits).expect("read");
    bytes.push(0);
    std::fs::write(&forged, &bytes).expect("write");
    std::fs::set_permissions(&forged, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let forged_trigger = work.path().join("forged-trigger");
    std::fs::write(&forged_trigger, b"go").expect("trigger");
    // Another test's fork can hold the just-written file open for a moment ("text file busy").
    let mut attempts = 0;
    let impostor = Running(loop {
        match Process::new(&forged)
            .arg(&forged_trigger)
            .stdout(Stdio::null())
            .spawn()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            started => break started.expect("starts"),
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(200));

    // Not triggered during the window: the functions the advisory names are resolved from the
    // image's evidence and watched where the image's binary runs; witnessed zero on its instance.
    let zero = work.path().join("zero.witness.json");
    let watched = by_image(&zero);
    let stderr = String::from_utf8_lossy(&watched.stderr);
    assert!(watched.status.success(), "{stderr}");
    assert!(
        stderr.contains("bytes are not the image's") && stderr.contains("waits-forged"),
        "the impostor is named: {stderr}"
    );
    let objects: Value =
        serde_json::from_slice(&std::fs::read(&zero).expect("written")).expect("json");
    let first = &objects[0];
    assert_eq!(first["imagePath"], "/usr/bin/waits", "{objects:#}");
    assert_eq!(first["calls"], 0, "{objects:#}");
    assert_eq!(
        first["instances"],
        serde_json::json!([started.0.id()]),
        "only the image's binary's process is an instance: {objects:#}"
    );
    drop(impostor);
    // The same report, said to be about another image and with one BuildID this image lacks:
    // both are named, and the foreign binary's zero is not used.
    let mut other = objects.clone();
    other[0]["image"] = serde_json::json!("registry.example/other:1");
    other[0]["buildId"] = serde_json::json!("00112233445566778899aabbccddeeff00112233");
    let other_path = work.path().join("other.witness.json");
    std::fs::write(&other_path, serde_json::to_vec(&other).expect("json")).expect("write");
    let (code, report, stderr) =
        assess(&home, &image, &["--witness", &other_path.to_string_lossy()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("made for registry.example/other:1")
            && stderr.contains("00112233445566778899aabbccddeeff00112233"),
        "{stderr}"
    );
    assert_eq!(
        verdict_of(&report, "/usr/bin/waits")["status"],
        "under_investigation"
    );
    let (code, report, stderr) = assess(&home, &image, &["--witness", &zero.to_string_lossy()]);
    assert_eq!(code, 0, "{stderr}");
    let v = verdict_of(&report, "/usr/bin/waits");
    assert_eq!(v["status"], "not_affected", "{v:#}");
    assert_eq!(v["justification"], "vulnerable_code_not_in_execute_path");
    assert_eq!(v["runtime"]["outcome"], "never_executed");
    assert!(v["runtime"]["validUntil"].is_string(), "{v:#}");
    let lacks = verdict_of(&report, "/usr/bin/lacks");
    assert_eq!(
        lacks["justification"], "vulnerable_code_not_present",
        "{lacks:#}"
    );

    // Triggered: every call counted, the verdict flips.
    std::fs::write(&trigger, b"go").expect("trigger");
    let hot = work.path().join("hot.witness.json");
    witness(&home, &waits, &hot);
    let (code, report, stderr) = assess(&home, &image, &["--witness", &hot.to_string_lossy()]);
    assert_eq!(code, 0, "{stderr}");
    let v = verdict_of(&report, "/usr/bin/waits");
    assert_eq!(v["status"], "affected", "{v:#}");
    let calls: u64 = v["runtime"]["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["calls"].as_u64())
        .sum();
    assert!(calls > 10, "every call of 2 s at 50/s is counted: {v:#}");
    assert!(
        v["note"]
            .as_str()
            .is_some_and(|n| n.contains("VEX → affected")),
        "{v:#}"
    );
    // The micro-witness that carries it: schema-checked, named by the verdict, reproducible.
    let id = v["runtime"]["microWitness"]
        .as_str()
        .expect("linked")
        .to_owned();
    let mw = report["microWitnesses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| {
            m["binary"]["path"] == "/usr/bin/waits" && m["vulnerability"] == v["vulnerability"]
        })
        .unwrap_or_else(|| panic!("no micro-witness: {report:#}"))
        .clone();
    assert_eq!(mw["method"], "uprobe");
    assert!(
        mw["symbols"][0]["count"].as_u64().is_some_and(|c| c > 10),
        "{mw:#}"
    );
    assert!(
        mw["replayToken"]
            .as_str()
            .is_some_and(|t| t.starts_with("sha256:")),
        "{mw:#}"
    );
    let (_, again, _) = assess(&home, &image, &["--witness", &hot.to_string_lossy()]);
    assert_eq!(
        verdict_of(&again, "/usr/bin/waits")["runtime"]["microWitness"],
        id.as_str()
    );

    // Replayed from the inputs its token names: the same bytes. Changed, or short of an input,
    // it is refused, naming why.
    let replay = |doc: &Value, extra: &[&std::ffi::OsStr]| {
        let file = work.path().join("replayed.micro-witness.json");
        std::fs::write(&file, serde_json::to_vec(doc).expect("json")).expect("write");
        let out = stella(&home)
            .arg("replay")
            .arg(&file)
            .args(["--image", &image, "--advisories"])
            .arg(fixtures().join("advisories/rustsec-db"))
            .args(extra)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let with_witness = [std::ffi::OsStr::new("--witness"), hot.as_os_str()];
    let (code, stderr) = replay(&mw, &with_witness);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the same bytes"), "{stderr}");
    let (code, stderr) = replay(&mw, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("which was not given: pass it with --witness"),
        "{stderr}"
    );
    let mut tampered = mw.clone();
    tampered["symbols"][0]["count"] = serde_json::json!(1);
    let (code, stderr) = replay(&tampered, &with_witness);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("differs from the original at /symbols/0/count"),
        "{stderr}"
    );
    let mut moved = mw.clone();
    moved["replay"]["inputs"]["zeroValidFor"] = serde_json::json!(1);
    let (code, stderr) = replay(&moved, &with_witness);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("was changed after the verdict was made"),
        "{stderr}"
    );

    // Signed, logged and attached with the VEX; the auditor's replay checks it.
    let attached = stella(&home)
        .args(["assess", "--image", &image, "--advisories"])
        .arg(fixtures().join("advisories/rustsec-db"))
        .arg("--witness")
        .arg(&hot)
        .args(["--attach", "--format", "table"])
        .output()
        .expect("runs");
    assert!(
        attached.status.success(),
        "{}",
        String::from_utf8_lossy(&attached.stderr)
    );
    let verified = stella(&home)
        .args(["verify", "--image", &image, "--json"])
        .output()
        .expect("runs");
    let verdicts: Value = serde_json::from_slice(&verified.stdout).expect("verify JSON");
    assert_eq!(verified.status.code(), Some(0), "{verdicts:#}");
    for kind in ["vex", "assessment", "micro-witness"] {
        assert!(
            verdicts["artifacts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["kind"] == kind && a["status"] == "verified"),
            "{kind}: {verdicts:#}"
        );
    }

    // Replayed by its token, found among what the image carries: signed again with the same
    // key it is the same envelope, and the log already holds it.
    let token = mw["replayToken"].as_str().expect("token").to_owned();
    let by_token = stella(&home)
        .args(["replay", &token, "--image", &image, "--advisories"])
        .arg(fixtures().join("advisories/rustsec-db"))
        .arg("--witness")
        .arg(&hot)
        .arg("--sign-key")
        .arg(home.join("keys/stella.key"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&by_token.stderr);
    assert_eq!(by_token.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the same DSSE envelope") && stderr.contains("not a new one"),
        "{stderr}"
    );
    // The assessment behind the VEX verdicts, by its token: the same bytes, its VEX document
    // made again is the one attached, and so is its envelope.
    let assessment_token = report["replayToken"]
        .as_str()
        .expect("the assessment's replay token")
        .to_owned();
    let replay_assessment = |home: &Path, extra: &[&std::ffi::OsStr]| {
        let out = stella(home)
            .args(["replay", &assessment_token])
            .args(extra)
            .arg("--witness")
            .arg(&hot)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let rustsec = fixtures().join("advisories/rustsec-db");
    let key = home.join("keys/stella.key");
    let (code, stderr) = replay_assessment(
        &home,
        &[
            "--image".as_ref(),
            image.as_ref(),
            "--advisories".as_ref(),
            rustsec.as_os_str(),
            "--sign-key".as_ref(),
            key.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("replayed the assessment")
            && stderr.contains("is the one attached, byte for byte")
            && stderr.contains("the same DSSE envelope"),
        "{stderr}"
    );
    // Without the witness report its runtime verdicts rest on, it is not replayed.
    let short = stella(&home)
        .args([
            "replay",
            &assessment_token,
            "--image",
            &image,
            "--advisories",
        ])
        .arg(&rustsec)
        .output()
        .expect("runs");
    assert_eq!(short.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("which was not given"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let unknown = format!("sha256:{}", "0".repeat(64));
    let none = stella(&home)
        .args(["replay", &unknown, "--image", &image])
        .output()
        .expect("runs");
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("has the replay token"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );

    // From the auditor's pack, on an empty home and without network: the image, the keys, the
    // log's tiles and the advisory documents all come from the pack. A pack that could not
    // carry the advisory documents is not written.
    let pack = work.path().join("app.pack.tar");
    let refused = stella(&home)
        .args(["audit", "export", "--image", &image, "-o"])
        .arg(&pack)
        .output()
        .expect("runs");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--advisories") && !pack.exists(),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    stella(&home)
        .args([
            "audit",
            "export",
            "--image",
            &image,
            "--with-binaries",
            "--advisories",
        ])
        .arg(fixtures().join("advisories/rustsec-db"))
        .arg("-o")
        .arg(&pack)
        .assert()
        .success();
    // The pack verifies with nothing else, and what its signed verdicts cite holds: the
    // execution verdict cites a micro-witness that counted calls.
    let audited = crate::audit::offline(&work.path().join("audit-home"))
        .args(["audit", "verify", "--json"])
        .arg(&pack)
        .output()
        .expect("runs");
    let audit: Value = serde_json::from_slice(&audited.stdout).unwrap_or_else(|e| {
        panic!(
            "audit verify JSON: {e}: {}",
            String::from_utf8_lossy(&audited.stderr)
        )
    });
    assert_eq!(audited.status.code(), Some(0), "{audit:#}");
    assert!(
        audit["citations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["status"] == "ok"
                && c["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("micro-witness"))),
        "{audit:#}"
    );
    let empty = work.path().join("empty-home");
    let mut offline = crate::audit::offline(&empty);
    offline
        .args(["replay", &token, "--from"])
        .arg(&pack)
        .arg("--witness")
        .arg(&hot);
    let from_pack = offline.output().expect("runs");
    let stderr = String::from_utf8_lossy(&from_pack.stderr);
    assert_eq!(from_pack.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the same bytes"), "{stderr}");
    let (code, stderr) = replay_assessment(&empty, &["--from".as_ref(), pack.as_os_str()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("is the one attached, byte for byte"),
        "{stderr}"
    );

    // A vendor said not_affected for this binary and this crate, later than our statement;
    // what ran outranks it, and the output keeps both provenances.
    let ours = stella(&home)
        .args(["assess", "--image", &image, "--advisories"])
        .arg(fixtures().join("advisories/rustsec-db"))
        .arg("--witness")
        .arg(&hot)
        .args(["--format", "openvex"])
        .output()
        .expect("runs");
    let ours: Value = serde_json::from_slice(&ours.stdout).expect("openvex");
    let product = ours["statements"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["vulnerability"]["name"] == "CVE-2021-25900" && s["status"] == "affected")
        .map(|s| s["products"][0].clone())
        .unwrap_or_else(|| panic!("no affected statement: {ours:#}"));
    let vendor = work.path().join("vendor.openvex.json");
    std::fs::write(
        &vendor,
        serde_json::to_vec(&serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://vendor.example/vex/7",
            "author": "Vendor",
            "timestamp": "2099-01-01T00:00:00Z",
            "version": 1,
            "statements": [{
                "vulnerability": {"name": "CVE-2021-25900"},
                "products": [product],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path"
            }]
        }))
        .expect("json"),
    )
    .expect("write");
    let out = work.path().join("merged.openvex.json");
    let status = stella(&home)
        .args(["assess", "--image", &image, "--advisories"])
        .arg(fixtures().join("advisories/rustsec-db"))
        .arg("--witness")
        .arg(&hot)
        .arg("--vex")
        .arg(&vendor)
        .args(["--format", "openvex", "--fail-on", "affected", "-o"])
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(
        status.status.code(),
        Some(1),
        "the gate trips on the executed function: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let merged: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("json");
    let statements: Vec<&Value> = merged["statements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["vulnerability"]["name"] == "CVE-2021-25900")
        .collect();
    assert_eq!(statements.len(), 1, "one effective statement: {merged:#}");
    assert_eq!(statements[0]["status"], "affected", "{merged:#}");
    let notes = statements[0]["status_notes"].as_str().unwrap_or_default();
    assert!(
        notes.contains("Supersedes Vendor's not_affected (vulnerable_code_not_in_execute_path)")
            && notes.contains("by priority"),
        "the vendor's claim is kept beside the one that won: {merged:#}"
    );

    // Runtime evidence attached to the image: a report signed by another key (someone with
    // push access to the registry) claiming zero calls is not trusted and changes nothing; the
    // one signed by the trusted key is read without naming a file.
    stella(&home)
        .args(["key", "generate", "--out"])
        .arg(work.path().join("intruder"))
        .assert()
        .success();
    let intruder = work.path().join("intruder.key");
    std::fs::remove_file(&trigger).expect("stop the trigger");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let quiet = stella(&home)
        .args(["witness", "--image", &image, "--vuln", "RUSTSEC-2021-0003"])
        .arg("--advisories")
        .arg(fixtures().join("advisories/rustsec-db"))
        .args(["--duration", "1s", "--json", "--attach", "--sign-key"])
        .arg(&intruder)
        .output()
        .expect("runs");
    assert!(
        quiet.status.success(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let (code, report, stderr) = assess(&home, &image, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("runtime evidence attached"),
        "an untrusted report is not read: {stderr}"
    );
    assert_eq!(
        verdict_of(&report, "/usr/bin/waits")["status"],
        "under_investigation"
    );

    std::fs::write(&trigger, b"go").expect("trigger");
    let counted = stella(&home)
        .args(["witness", "--image", &image, "--vuln", "RUSTSEC-2021-0003"])
        .arg("--advisories")
        .arg(fixtures().join("advisories/rustsec-db"))
        .args(["--duration", "2s", "--json", "--attach"])
        .output()
        .expect("runs");
    assert!(
        counted.status.success(),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
    let (code, report, stderr) = assess(&home, &image, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("runtime evidence attached to") && stderr.contains("1 document"),
        "{stderr}"
    );
    assert_eq!(
        verdict_of(&report, "/usr/bin/waits")["status"],
        "affected",
        "{report:#}"
    );
    let verified = stella(&home)
        .args(["verify", "--image", &image, "--json"])
        .output()
        .expect("runs");
    let verdicts: Value = serde_json::from_slice(&verified.stdout).expect("verify JSON");
    assert_eq!(verified.status.code(), Some(0), "{verdicts:#}");
    let reports: Vec<&Value> = verdicts["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == "witness-report")
        .collect();
    assert_eq!(reports.len(), 2, "{verdicts:#}");
    assert!(
        reports.iter().any(|a| a["status"] == "verified"),
        "{verdicts:#}"
    );
    assert!(
        reports.iter().any(|a| a["status"] == "untrusted"),
        "{verdicts:#}"
    );
}

/// `headers-loop` calls zlib's `inflateGetHeader` in a loop through the shared libz (copied
/// into the image, byte for byte the library the process maps); `headers-stripped` does the
/// same with a static zlib and no symbol table at all.
pub(crate) fn build_zlib_loop(work: &Path, root: &Path) -> Result<(), String> {
    let source = "#include <string.h>\n#include <zlib.h>\nint main(void) {\n  z_stream s; gz_header h;\n  \
                  memset(&s, 0, sizeof s); memset(&h, 0, sizeof h);\n  \
                  if (inflateInit2(&s, 31) != Z_OK) return 1;\n  \
                  for (;;) inflateGetHeader(&s, &h);\n}\n";
    let libz = std::fs::canonicalize("/usr/lib/x86_64-linux-gnu/libz.so.1")
        .map_err(|e| format!("the shared libz: {e} (apt install zlib1g)"))?;
    let static_libz = Path::new("/usr/lib/x86_64-linux-gnu/libz.a");
    if !static_libz.exists() {
        return Err("libz.a is missing (apt install zlib1g-dev)".into());
    }
    let lib_dir = root.join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&lib_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root.join("usr/bin")).map_err(|e| e.to_string())?;
    std::fs::copy(&libz, lib_dir.join("libz.so.1")).map_err(|e| e.to_string())?;
    let c = work.join("headers-loop.c");
    std::fs::write(&c, source).map_err(|e| e.to_string())?;
    for (name, link) in [
        ("headers-loop", vec!["-lz"]),
        (
            "headers-stripped",
            vec![static_libz.to_str().unwrap_or_default(), "-s"],
        ),
    ] {
        let out = Process::new("gcc")
            .arg("-O1")
            .arg(&c)
            .args(&link)
            .arg("-o")
            .arg(root.join("usr/bin").join(name))
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    Ok(())
}

#[test]
fn a_sampled_vulnerable_function_is_in_the_hot_symbol_index_and_a_nameless_binary_is_unknown() {
    let test =
        "a_sampled_vulnerable_function_is_in_the_hot_symbol_index_and_a_nameless_binary_is_unknown";
    assert!(
        is_root(),
        "{test}: needs root (CAP_BPF and CAP_PERFMON) for sampling; run the tests as root"
    );
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("zapps");
    if let Err(e) = build_zlib_loop(work.path(), &root) {
        skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let advisories = crate::assess::zlib_advisory(work.path(), "TEST-ZLIB-2", &["CVE-2099-0001"]);

    let looping = Running(
        Process::new(root.join("usr/bin/headers-loop"))
            .spawn()
            .expect("starts"),
    );
    let stripped = Running(
        Process::new(root.join("usr/bin/headers-stripped"))
            .spawn()
            .expect("starts"),
    );
    let profile = work.path().join("zlib.profile.json");
    let recorded = stella(&home)
        .args([
            "record",
            "--duration",
            "3s",
            "--json",
            "--no-symbolize",
            "-o",
        ])
        .arg(&profile)
        .args(["--attach", &image])
        .args(["--pid", &looping.0.id().to_string()])
        .args(["--pid", &stripped.0.id().to_string()])
        .output()
        .expect("runs");
    assert!(
        recorded.status.success(),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    drop((looping, stripped));

    let out = stella(&home)
        .args([
            "assess",
            "--image",
            &image,
            "--format",
            "json",
            "--advisories",
        ])
        .arg(&advisories)
        .arg("--profile")
        .arg(&profile)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("assessment JSON");
    // The frames were named with the image's own verified tables (recorded unnamed).
    let hot = report["hot"]
        .as_array()
        .unwrap_or_else(|| panic!("no hot-symbol index: {report:#}"));
    let header = hot
        .iter()
        .find(|h| h["function"] == "inflateGetHeader")
        .unwrap_or_else(|| panic!("inflateGetHeader is not in the index: {report:#}"));
    assert_eq!(header["binary"], "/usr/lib/x86_64-linux-gnu/libz.so.1");
    assert!(
        header["cpuShare"].as_f64().is_some_and(|s| s > 5.0),
        "{header:#}"
    );
    assert_eq!(header["hot"], true);
    assert!(header["samples"].as_u64().is_some_and(|n| n > 10));
    assert!(header["firstSeen"].is_string() && header["lastSeen"].is_string());
    // Stacks that read the same are one row.
    let stacks: Vec<&Value> = header["stacks"].as_array().into_iter().flatten().collect();
    let distinct: std::collections::BTreeSet<String> =
        stacks.iter().map(|s| s["frames"].to_string()).collect();
    assert_eq!(distinct.len(), stacks.len(), "{header:#}");
    assert!(
        header["vulnerabilities"]
            .as_array()
            .is_some_and(|v| v.iter().any(|x| x == "CVE-2099-0001"))
    );
    assert!(stderr.contains("hot vulnerable symbols:"), "{stderr}");
    assert!(
        stderr.contains("VEX → affected."),
        "the human line: {stderr}"
    );
    let libz = report["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["binary"]["path"] == "/usr/lib/x86_64-linux-gnu/libz.so.1")
        .unwrap_or_else(|| panic!("no verdict for libz: {report:#}"));
    assert_eq!(libz["status"], "affected", "{libz:#}");
    // The profile was also attached, signed: the file and the attachment are one document, and
    // without the file the attachment alone gives the same index.
    assert!(!stderr.contains("runtime evidence attached"), "{stderr}");
    let again = stella(&home)
        .args([
            "assess",
            "--image",
            &image,
            "--format",
            "json",
            "--advisories",
        ])
        .arg(&advisories)
        .output()
        .expect("runs");
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert!(
        again_err.contains("runtime evidence attached to"),
        "{again_err}"
    );
    let again: Value = serde_json::from_slice(&again.stdout).expect("assessment JSON");
    assert_eq!(again["hot"], report["hot"]);
    // The stripped program ran, but nothing names its functions: unknown_state, never a
    // not_affected.
    let nameless = report["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["binary"]["path"] == "/usr/bin/headers-stripped")
        .unwrap_or_else(|| panic!("no verdict for the stripped program: {report:#}"));
    assert_eq!(nameless["status"], "under_investigation", "{nameless:#}");
    assert_eq!(
        nameless["runtime"]["outcome"], "unknown_state",
        "{nameless:#}"
    );
}
