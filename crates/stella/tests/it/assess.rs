//! `stella assess` end to end, on programs built here with real toolchains: two Go programs
//! (Debian's Go, its standard library version-matched; one uses `net/mail`, one does not), two
//! Rust programs depending on a smallvec with a RustSec function advisory (one calls
//! `insert_many`, one does not), Stella's own binary against the whole RustSec database, and
//! the attacks: evidence signed by another key, prior VEX that says otherwise; and a real Debian
//! root filesystem against records shaped as Debian's OSV export writes them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;
use stella_testkit::skip;

/// `stella` with `home`, the password of the key [`scan`] creates, and nothing from the
/// environment that would change its answers (also used by the score and report tests).
pub(crate) fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "assess-tests")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DEBUGINFOD_URLS")
        .env("STELLA_HOME", home);
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// Scans `root` into the home's embedded store; the image reference.
pub(crate) fn scan(home: &Path, root: &Path) -> String {
    let out = stella(home)
        .arg("scan")
        .arg(root)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("scan JSON");
    report["image"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            let name = root.file_name()?.to_string_lossy().into_owned();
            Some(format!("oci-layout:{}:{name}", home.join("oci").display()))
        })
        .expect("an image reference")
}

/// `stella assess --format json`: the exit code and the document.
fn assess(home: &Path, image: &str, extra: &[&str]) -> (i32, Value, String) {
    let out = stella(home)
        .args(["assess", "--image", image, "--format", "json"])
        .args(extra)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), value, stderr)
}

/// The verdicts of `report` for the vulnerability known as `id`, by binary path.
fn verdicts_for<'a>(report: &'a Value, id: &str) -> Vec<(&'a str, &'a Value)> {
    report["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| {
            v["vulnerability"] == id
                || v["aliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == id))
        })
        .map(|v| (v["binary"]["path"].as_str().unwrap_or("(image)"), v))
        .collect()
}

fn one<'a>(verdicts: &[(&str, &'a Value)], path: &str) -> &'a Value {
    let found: Vec<&Value> = verdicts
        .iter()
        .filter(|(p, _)| *p == path)
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "{path}: {verdicts:#?}");
    found[0]
}

fn have(test: &str, program: &str) -> bool {
    let ok = Process::new(program)
        .arg(if program == "go" {
            "version"
        } else {
            "--version"
        })
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(test, &format!("{program} is not installed"));
    }
    ok
}

/// Two Go programs built with the installed Go toolchain into `root/usr/bin`.
fn build_go(work: &Path, root: &Path) {
    let programs = [
        (
            "mailer",
            "package main\n\nimport (\n\t\"fmt\"\n\t\"net/mail\"\n\t\"os\"\n)\n\nfunc main() {\n\ta, err := mail.ParseAddress(os.Args[len(os.Args)-1])\n\tfmt.Println(a, err)\n}\n",
        ),
        (
            "greeter",
            "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Println(\"hello\", len(os.Args))\n}\n",
        ),
    ];
    std::fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
    for (name, source) in programs {
        let dir = work.join(format!("src-{name}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("main.go"), source).expect("write");
        std::fs::write(
            dir.join("go.mod"),
            format!("module example.com/{name}\n\ngo 1.19\n"),
        )
        .expect("write");
        let out = Process::new("go")
            .args(["build", "-trimpath", "-o"])
            .arg(root.join("usr/bin").join(name))
            .arg(".")
            .current_dir(&dir)
            .env("GOCACHE", work.join("gocache"))
            .env("GOPATH", work.join("gopath"))
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .env("GOTOOLCHAIN", "local")
            .output()
            .expect("go runs");
        assert!(
            out.status.success(),
            "go build {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn go_programs_get_a_verdict_each_by_the_functions_they_hold() {
    let test = "go_programs_get_a_verdict_each_by_the_functions_they_hold";
    if !have(test, "go") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("goapps");
    build_go(work.path(), &root);
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let vulndb = fixtures().join("advisories/go-vulndb-osv");
    let vulndb = vulndb.to_string_lossy();
    let (code, report, stderr) = assess(&home, &image, &["--advisories", &vulndb]);
    assert_eq!(code, 0, "{stderr}");

    // GO-2024-2609: net/mail. One program uses it, the other does not link it at all.
    let v = verdicts_for(&report, "GO-2024-2609");
    let mailer = one(&v, "/usr/bin/mailer");
    assert_eq!(mailer["status"], "under_investigation", "{mailer:#}");
    assert_eq!(mailer["basis"], "symbols");
    assert_eq!(mailer["component"]["foundBy"], "go-buildinfo", "{mailer:#}");
    let present: Vec<&Value> = mailer["symbols"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["outcome"] == "present")
        .collect();
    assert!(!present.is_empty(), "{mailer:#}");
    let greeter = one(&v, "/usr/bin/greeter");
    assert_eq!(greeter["status"], "not_affected", "{greeter:#}");
    assert_eq!(greeter["justification"], "vulnerable_code_not_present");
    assert_eq!(
        greeter["binary"]["naming"], "full",
        "the Go function table names every function"
    );
    assert!(
        greeter["note"]
            .as_str()
            .is_some_and(|n| n.contains("net/mail.ParseAddress")),
        "{greeter:#}"
    );

    // The same inputs, the same VEX, byte for byte; valid OpenVEX by the peer's schema check.
    let vex = |out: &Path| {
        stella(&home)
            .args(["assess", "--image", &image, "--advisories", &vulndb])
            .args(["--format", "openvex", "-o"])
            .arg(out)
            .assert()
            .success();
        std::fs::read(out).expect("written")
    };
    let (a, b) = (work.path().join("a.json"), work.path().join("b.json"));
    assert_eq!(vex(&a), vex(&b));
    stella(&home)
        .args(["vex", "validate"])
        .arg(&a)
        .assert()
        .success();
    openvex_peer_accepts(test, &a);

    // A CI gate: under_investigation fails it; affected (never claimed statically) does not.
    let (code, _, _) = assess(
        &home,
        &image,
        &["--advisories", &vulndb, "--fail-on", "under_investigation"],
    );
    assert_eq!(code, 1);
    let (code, _, _) = assess(
        &home,
        &image,
        &["--advisories", &vulndb, "--fail-on", "affected"],
    );
    assert_eq!(code, 0);

    // A vendor's prior `affected` for the image stands after the merge and trips the gate.
    let purl = report["subject"].as_str().expect("subject").to_owned();
    let prior = work.path().join("vendor.openvex.json");
    std::fs::write(
        &prior,
        serde_json::to_vec(&serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://vendor.example/vex/1",
            "author": "Vendor",
            "timestamp": "2030-01-01T00:00:00Z",
            "version": 1,
            "statements": [{
                "vulnerability": {"name": "CVE-2024-24784"},
                "products": [{"@id": purl}],
                "status": "affected",
                "action_statement": "Rebuild with Go 1.21.8."
            }]
        }))
        .expect("json"),
    )
    .expect("write");
    let out = stella(&home)
        .args([
            "assess",
            "--image",
            &image,
            "--advisories",
            &vulndb,
            "--fail-on",
            "affected",
            "--vex",
        ])
        .arg(&prior)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --attach: the VEX is signed, logged and attached, and read back with its signature.
    stella(&home)
        .args([
            "assess",
            "--image",
            &image,
            "--advisories",
            &vulndb,
            "--attach",
            "--format",
            "table",
        ])
        .assert()
        .success();
    let public = home.join("keys/stella.pub");
    let out = stella(&home)
        .args(["vex", "query", "--image", &image, "--key"])
        .arg(&public)
        .args([
            "--vuln",
            "GO-2024-2609",
            "--product",
            &format!("{purl}#usr/bin/mailer"),
            "--json",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("under_investigation"), "{text}");
}

fn openvex_peer_accepts(test: &str, file: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Process::new("python3")
        .arg(repo.join("interop/openvex_validate.py"))
        .arg(fixtures().join("openvex/openvex_json_schema.json"))
        .arg(file)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ModuleNotFoundError") {
        skip(
            test,
            "jsonschema is not installed (pip install -r interop/requirements.txt)",
        );
        return;
    }
    assert!(
        out.status.success(),
        "the OpenVEX schema rejects {}: {}{stderr}",
        file.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Rust programs depending on smallvec 1.6.0 (RUSTSEC-2021-0003: `insert_many`), one cargo
/// project in `work/<project>` with `bins` as `(name, source)`, built with cargo (debug: nothing
/// inlined) and copied into `root/usr/bin`.
pub(crate) fn smallvec_programs(
    work: &Path,
    project: &str,
    bins: &[(&str, &str)],
    root: &Path,
) -> Result<(), String> {
    let dir = work.join(project);
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(dir.join("src/bin")).map_err(io)?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{project}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nsmallvec = \"=1.6.0\"\n\n[workspace]\n"
        ),
    )
    .map_err(io)?;
    for (name, source) in bins {
        std::fs::write(dir.join("src/bin").join(format!("{name}.rs")), source).map_err(io)?;
    }
    let target = work.join("target");
    let out = Process::new(env!("CARGO"))
        .args(["build", "--quiet", "--bins"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(io)?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::fs::create_dir_all(root.join("usr/bin")).map_err(io)?;
    for (name, _) in bins {
        std::fs::copy(
            target.join("debug").join(name),
            root.join("usr/bin").join(name),
        )
        .map_err(io)?;
    }
    Ok(())
}

/// `inserts` calls `insert_many`, `pushes` does not.
fn build_rust(work: &Path, root: &Path) -> Result<(), String> {
    smallvec_programs(
        work,
        "smallvec-users",
        &[
            (
                "inserts",
                "use smallvec::SmallVec;\nfn main() {\n    let mut v: SmallVec<[u8; 4]> = SmallVec::new();\n    \
                 v.push(std::env::args().count() as u8);\n    v.insert_many(0, std::env::args().map(|a| a.len() as u8));\n    \
                 println!(\"{}\", v.len());\n}\n",
            ),
            (
                "pushes",
                "use smallvec::SmallVec;\nfn main() {\n    let mut v: SmallVec<[u8; 4]> = SmallVec::new();\n    \
                 for a in std::env::args() {\n        v.push(a.len() as u8);\n    }\n    println!(\"{}\", v.len());\n}\n",
            ),
        ],
        root,
    )
}

#[test]
fn rust_programs_holding_the_same_crate_differ_by_the_function_they_call() {
    let test = "rust_programs_holding_the_same_crate_differ_by_the_function_they_call";
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("rustapps");
    if let Err(e) = build_rust(work.path(), &root) {
        // The crate comes from crates.io: without the registry there is nothing to build.
        skip(test, &format!("cannot build the smallvec programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let db = fixtures().join("advisories/rustsec-db");
    let (code, report, stderr) = assess(&home, &image, &["--advisories", &db.to_string_lossy()]);
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts_for(&report, "RUSTSEC-2021-0003");
    let inserts = one(&v, "/usr/bin/inserts");
    assert_eq!(inserts["status"], "under_investigation", "{inserts:#}");
    assert_eq!(inserts["component"]["purl"], "pkg:cargo/smallvec@1.6.0");
    assert_eq!(inserts["component"]["foundBy"], "crate-path", "{inserts:#}");
    let found = &inserts["symbols"][0]["found"][0];
    assert_eq!(found["rule"], "rust_defining_path", "{inserts:#}");
    assert!(found["blake3"].as_str().is_some_and(|b| b.len() == 64));
    let pushes = one(&v, "/usr/bin/pushes");
    assert_eq!(pushes["status"], "not_affected", "{pushes:#}");
    assert_eq!(pushes["justification"], "vulnerable_code_not_present");
}

#[test]
fn stella_audits_itself_against_the_whole_rustsec_database() {
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("stella-release");
    std::fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
    // The test build carries DWARF for every monomorphised function; without it (as a release
    // build ships) its FuncProof stays under the signing limit. Its symbol table stays.
    let test = "stella_audits_itself_against_the_whole_rustsec_database";
    let out = Process::new("objcopy")
        .arg("--strip-debug")
        .arg(env!("CARGO_BIN_EXE_stella"))
        .arg(root.join("usr/bin/stella"))
        .output();
    if !out.as_ref().is_ok_and(|o| o.status.success()) {
        skip(test, "objcopy (binutils) is not installed");
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let db = fixtures().join("advisories/rustsec-db");
    let (code, report, stderr) = assess(
        &home,
        &image,
        &[
            "--advisories",
            &db.to_string_lossy(),
            "--fail-on",
            "affected",
        ],
    );
    assert_eq!(
        code, 0,
        "Stella claims `affected` only with runtime evidence: {stderr}"
    );
    assert_eq!(report["binaries"], 1);
    assert_eq!(report["proven"], 1);
    let components = report["components"].as_u64().unwrap_or(0);
    assert!(
        components > 50,
        "the crates compiled into Stella are found by their paths: {report:#}"
    );
    for v in report["verdicts"].as_array().into_iter().flatten() {
        assert_eq!(v["binary"]["path"], "/usr/bin/stella", "{v:#}");
        assert!(
            v["component"]["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:cargo/")),
            "{v:#}"
        );
    }
    eprintln!("{stderr}");
}

#[test]
fn an_image_whose_evidence_does_not_verify_is_not_assessed() {
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("small");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::copy("/bin/true", root.join("bin/true")).expect("copy");
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let db = fixtures().join("advisories/go-vulndb-osv");
    let db = db.to_string_lossy();
    // Another key: nothing the image carries is trusted.
    stella(&home)
        .args(["key", "generate", "--out"])
        .arg(work.path().join("other"))
        .assert()
        .success();
    let other = work.path().join("other.pub");
    let (code, _, stderr) = assess(
        &home,
        &image,
        &["--advisories", &db, "--key", &other.to_string_lossy()],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not assessed"), "{stderr}");
    // No advisory source at all is bad input, not a clean bill of health.
    let (code, _, stderr) = assess(&home, &image, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("stella advisories import"), "{stderr}");
    // Bad input is named and refused before anything is assessed.
    let bad = work.path().join("bad.json");
    std::fs::write(&bad, b"{\"statements\": [").expect("write");
    let bad = bad.to_string_lossy().into_owned();
    // A policy that ranks a --vex file that was not given names it (as `stella vex merge`).
    let policy = work.path().join("policy.json");
    std::fs::write(
        &policy,
        br#"{"schema": "stella.vex-policy/v1", "sources": [{"file": "vendor.json", "priority": 10}]}"#,
    )
    .expect("write");
    let policy = policy.to_string_lossy().into_owned();
    let bad_policy = |name: &str, body: &str| {
        let path = work.path().join(name);
        std::fs::write(&path, body).expect("write");
        path.to_string_lossy().into_owned()
    };
    let flips_to_not_affected = bad_policy(
        "sampled.json",
        r#"{"schema": "stella.vex-policy/v1", "runtime": {"sampledWithoutWitness": "not_affected"}}"#,
    );
    let share = bad_policy(
        "share.json",
        r#"{"schema": "stella.vex-policy/v1", "runtime": {"hotShare": 300}}"#,
    );
    let expiry = bad_policy(
        "expiry.json",
        r#"{"schema": "stella.vex-policy/v1", "runtime": {"neverExecutedValidFor": "forever"}}"#,
    );
    let gate = bad_policy(
        "gate.json",
        r#"{"schema": "stella.vex-policy/v1", "failOn": "critical"}"#,
    );
    let unknown = bad_policy(
        "unknown.json",
        r#"{"schema": "stella.vex-policy/v1", "runtime": {"trustSamples": true}}"#,
    );
    for (args, expected) in [
        (
            vec!["--advisories", &*db, "--policy", &*flips_to_not_affected],
            "never justify not_affected",
        ),
        (
            vec!["--advisories", &*db, "--policy", &*share],
            "/runtime/hotShare",
        ),
        (
            vec!["--advisories", &*db, "--policy", &*expiry],
            "/runtime/neverExecutedValidFor",
        ),
        (vec!["--advisories", &*db, "--policy", &*gate], "/failOn"),
        (
            vec!["--advisories", &*db, "--policy", &*unknown],
            "trustSamples",
        ),
        (vec!["--advisories", &*db, "--vex", &*bad], "bad.json"),
        (vec!["--advisories", &*bad], "bad.json"),
        (
            vec!["--advisories", &*db, "--issued", "yesterday"],
            "--issued",
        ),
        (vec!["--advisories", &*db, "--policy", &*bad], "bad.json"),
        (
            vec!["--advisories", &*db, "--policy", &*policy],
            "\"vendor.json\" is not one of the documents given",
        ),
    ] {
        let (code, _, stderr) = assess(&home, &image, &args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // Asked about a vulnerability of a package the image does not hold: answered from the SBOM.
    let (code, report, stderr) = assess(
        &home,
        &image,
        &["--advisories", &db, "--vuln", "GO-2022-0969"],
    );
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts_for(&report, "GO-2022-0969");
    let image_wide = one(&v, "(image)");
    assert_eq!(image_wide["status"], "not_affected");
    assert_eq!(image_wide["justification"], "component_not_present");
    assert!(
        image_wide["note"]
            .as_str()
            .is_some_and(|n| n.contains(report["sbom"].as_str().unwrap_or("?"))),
        "cites the SBOM: {image_wide:#}"
    );
    // --explain says what holds and where it comes from; the policy's gate applies, and a
    // flag wins over the file.
    let policy = bad_policy(
        "runtime.json",
        r#"{"schema": "stella.vex-policy/v1",
            "runtime": {"neverExecutedValidFor": "2d", "sampledWithoutWitness": "under_investigation", "hotShare": 5},
            "failOn": "not_affected"}"#,
    );
    let (code, _, stderr) = assess(
        &home,
        &image,
        &[
            "--advisories",
            &db,
            "--vuln",
            "GO-2022-0969",
            "--policy",
            &policy,
            "--explain",
        ],
    );
    assert_eq!(code, 1, "the policy's gate trips on not_affected: {stderr}");
    for line in [
        "never executed (witnessed zero) valid for  172800s  (policy file)",
        "sampled without a witness                  under_investigation  (policy file)",
        "hot from                                   5% of sampled CPU  (policy file)",
        "gate (--fail-on)                           not_affected  (policy file)",
        "GO-2022-0969 (image) [-]: not_affected (component_not_present)",
    ] {
        assert!(stderr.contains(line), "{line:?} in {stderr}");
    }
    let (code, _, stderr) = assess(
        &home,
        &image,
        &[
            "--advisories",
            &db,
            "--vuln",
            "GO-2022-0969",
            "--policy",
            &policy,
            "--zero-valid-for",
            "1h",
            "--fail-on",
            "affected",
            "--explain",
        ],
    );
    assert_eq!(code, 0, "the flag's gate wins: {stderr}");
    assert!(stderr.contains("valid for  3600s  (flag)"), "{stderr}");
}

/// Two C programs linked with zlib's static library: one reads gzip headers
/// (`inflateGetHeader`, in `inflate.o`), one only compresses (`deflate.o`).
pub(crate) fn build_c(work: &Path, root: &Path) -> Result<(), String> {
    let programs = [
        (
            "gunzip-headers",
            "#include <string.h>\n#include <zlib.h>\nint main(int argc, char **argv) {\n  z_stream s; gz_header h;\n  \
             memset(&s, 0, sizeof s); memset(&h, 0, sizeof h);\n  if (inflateInit2(&s, 31) != Z_OK) return 1;\n  \
             inflateGetHeader(&s, &h);\n  s.next_in = (Bytef *)argv[0]; s.avail_in = (uInt)strlen(argv[0]);\n  \
             inflate(&s, Z_NO_FLUSH);\n  return inflateEnd(&s) == Z_OK ? argc - 1 : 2;\n}\n",
        ),
        (
            "compressor",
            "#include <string.h>\n#include <zlib.h>\nint main(int argc, char **argv) {\n  Bytef out[256]; uLongf n = sizeof out;\n  \
             return compress(out, &n, (const Bytef *)argv[0], (uLong)strlen(argv[0])) == Z_OK ? argc - 1 : 2;\n}\n",
        ),
    ];
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/libz.a");
    if !lib.exists() {
        return Err(format!(
            "{} is missing (apt install zlib1g-dev)",
            lib.display()
        ));
    }
    std::fs::create_dir_all(root.join("usr/bin")).map_err(|e| e.to_string())?;
    for (name, source) in programs {
        let c = work.join(format!("{name}.c"));
        std::fs::write(&c, source).map_err(|e| e.to_string())?;
        let out = Process::new("gcc")
            .arg("-O1")
            .arg(&c)
            .arg(lib)
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

/// A directory holding one OSV record `id` (with `aliases`) for every zlib release, naming
/// `inflateGetHeader` (as Stella's overlay does for CVE-2022-37434).
pub(crate) fn zlib_advisory(work: &Path, id: &str, aliases: &[&str]) -> PathBuf {
    let advisories = work.join("advisories");
    std::fs::create_dir_all(&advisories).expect("mkdir");
    std::fs::write(
        advisories.join(format!("{id}.json")),
        serde_json::to_vec(&serde_json::json!({
            "id": id, "modified": "2026-01-01T00:00:00Z",
            "aliases": aliases,
            "affected": [{
                "package": {"ecosystem": "GIT", "name": "https://github.com/madler/zlib", "purl": "pkg:generic/zlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"symbols": ["inflateGetHeader"]}
            }]
        }))
        .expect("json"),
    )
    .expect("write");
    advisories
}

#[test]
fn c_programs_with_a_static_zlib_are_judged_by_the_objects_they_link() {
    let test = "c_programs_with_a_static_zlib_are_judged_by_the_objects_they_link";
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("capps");
    if let Err(e) = build_c(work.path(), &root) {
        skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);
    // An advisory for every zlib release that names inflateGetHeader, as Stella's overlay does.
    let advisories = zlib_advisory(work.path(), "TEST-ZLIB-1", &[]);
    let (code, report, stderr) = assess(
        &home,
        &image,
        &["--advisories", &advisories.to_string_lossy()],
    );
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts_for(&report, "TEST-ZLIB-1");
    let headers = one(&v, "/usr/bin/gunzip-headers");
    assert_eq!(headers["status"], "under_investigation", "{headers:#}");
    assert!(
        headers["component"]["purl"]
            .as_str()
            .is_some_and(|p| p.starts_with("pkg:generic/zlib@1.")),
        "{headers:#}"
    );
    assert_eq!(
        headers["component"]["foundBy"], "version-string",
        "{headers:#}"
    );
    assert_eq!(headers["symbols"][0]["found"][0]["sym"], "inflateGetHeader");
    let compressor = one(&v, "/usr/bin/compressor");
    assert_eq!(compressor["status"], "not_affected", "{compressor:#}");
    assert_eq!(compressor["justification"], "vulnerable_code_not_present");
}

/// An installed package of a dpkg database, with the version of the source package it was
/// built from (Debian's advisories speak of source packages and their versions).
struct Installed {
    name: String,
    version: String,
    source: String,
    source_version: String,
}

/// The installed packages of `rootfs`'s dpkg status, by binary package name.
fn dpkg_installed(rootfs: &Path) -> BTreeMap<String, Installed> {
    let status = std::fs::read_to_string(rootfs.join("var/lib/dpkg/status")).expect("dpkg status");
    let mut out = BTreeMap::new();
    for paragraph in status.split("\n\n") {
        let field = |name: &str| {
            paragraph
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(|v| v.trim().to_owned())
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            continue;
        };
        if !field("Status").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        // `Source: name` or, when the versions differ (a binNMU), `Source: name (version)`.
        let source_field = field("Source").unwrap_or_else(|| name.clone());
        let (source, source_version) = match source_field.split_once(" (") {
            Some((s, v)) => (s.to_owned(), v.trim_end_matches(')').to_owned()),
            None => (source_field, version.clone()),
        };
        out.insert(
            name.clone(),
            Installed {
                name,
                version,
                source,
                source_version,
            },
        );
    }
    out
}

/// The ELF files dpkg says `package` installed, as paths of the root filesystem with its
/// directory links resolved (`/lib` is `/usr/lib` on a merged-/usr system).
fn elf_files_of(rootfs: &Path, package: &str) -> BTreeSet<String> {
    let info = rootfs.join("var/lib/dpkg/info");
    let list = [
        info.join(format!("{package}.list")),
        info.join(format!("{package}:amd64.list")),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("no file list for {package} in {}", info.display()));
    let root = std::fs::canonicalize(rootfs).expect("rootfs");
    let mut out = BTreeSet::new();
    for line in std::fs::read_to_string(&list).expect("file list").lines() {
        let file = rootfs.join(line.trim_start_matches('/'));
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let mut magic = [0u8; 4];
        let is_elf = std::fs::File::open(&file)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .is_ok()
            && magic == *b"\x7fELF";
        let Ok(real) = std::fs::canonicalize(&file) else {
            continue;
        };
        if let (true, Ok(inside)) = (is_elf, real.strip_prefix(&root)) {
            out.insert(format!("/{}", inside.display()));
        }
    }
    out
}

/// The ELF files of every installed package built from `source`.
fn elf_files_of_source(
    rootfs: &Path,
    installed: &BTreeMap<String, Installed>,
    source: &str,
) -> BTreeSet<String> {
    installed
        .values()
        .filter(|p| p.source == source)
        .flat_map(|p| elf_files_of(rootfs, &p.name))
        .collect()
}

/// An OSV record as Debian's export writes one: the source package in a `Debian:<release>`
/// ecosystem, fixed at a source version.
fn debian_record(
    id: &str,
    ecosystem: &str,
    source: &str,
    fixed: Option<&str>,
    symbols: &[&str],
) -> Value {
    let mut events = vec![serde_json::json!({"introduced": "0"})];
    if let Some(f) = fixed {
        events.push(serde_json::json!({"fixed": f}));
    }
    let mut affected = serde_json::json!({
        "package": {"ecosystem": ecosystem, "name": source, "purl": format!("pkg:deb/debian/{source}?arch=source")},
        "ranges": [{"type": "ECOSYSTEM", "events": events}]
    });
    if !symbols.is_empty() {
        affected["ecosystem_specific"] = serde_json::json!({ "symbols": symbols });
    }
    serde_json::json!({
        "id": id,
        "modified": "2026-01-01T00:00:00Z",
        "summary": format!("{source}: a test vulnerability"),
        "affected": [affected]
    })
}

/// A version dpkg orders just above `v` (a later upload), and one just below (`~` sorts before
/// everything, even the end of the string).
fn just_above(v: &str) -> String {
    format!("{v}+stella1")
}

fn just_below(v: &str) -> String {
    format!("{v}~")
}

/// The status of every verdict of `id`, by binary path.
fn statuses(report: &Value, id: &str) -> BTreeMap<String, String> {
    verdicts_for(report, id)
        .into_iter()
        .map(|(path, v)| {
            (
                path.to_owned(),
                v["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Scans the Debian root filesystem; the home and the image reference. `None` (after saying
/// so) when there is none.
fn scanned_debian_rootfs(test: &str, work: &Path) -> Option<(PathBuf, PathBuf, String)> {
    let rootfs = match stella_testkit::debian_rootfs() {
        Ok(r) => r,
        Err(looked) => {
            skip(
                test,
                &format!(
                    "no Debian root filesystem at {}: {}",
                    looked.display(),
                    stella_testkit::DEBIAN_ROOTFS_HOWTO
                ),
            );
            return None;
        }
    };
    let home = work.join("home");
    let image = format!("oci-layout:{}:bookworm", work.join("image").display());
    let out = stella(&home)
        .args(["scan", "--image", &image, "--json"])
        .arg(&rootfs)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((rootfs, home, image))
}

#[test]
fn a_debian_rootfs_is_assessed_against_debian_records_per_binary() {
    let test = "a_debian_rootfs_is_assessed_against_debian_records_per_binary";
    let work = tempfile::tempdir().expect("tempdir");
    let Some((rootfs, home, image)) = scanned_debian_rootfs(test, work.path()) else {
        return;
    };
    let installed = dpkg_installed(&rootfs);
    let package = |name: &str| {
        installed
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not installed in {}", rootfs.display()))
    };
    let (zlib, e2fs, tar, bzip2) = (
        package("zlib1g"),
        package("e2fsprogs"),
        package("tar"),
        package("libbz2-1.0"),
    );
    assert_eq!(zlib.source, "zlib");
    // e2fsprogs was rebuilt without a source change (a binNMU): its binary packages are
    // `1.47.0-2+b2`, the source `1.47.0-2`, and Debian's records give source versions.
    assert_ne!(e2fs.version, e2fs.source_version, "a binNMU");

    let records = [
        // zlib, fixed by a later upload, naming a function libz exports.
        debian_record(
            "TEST-DEB-ZLIB-HEADER",
            "Debian:12",
            "zlib",
            Some(&just_above(&zlib.source_version)),
            &["inflateGetHeader"],
        ),
        // zlib again, naming a function no library holds.
        debian_record(
            "TEST-DEB-ZLIB-NOSUCH",
            "Debian:12",
            "zlib",
            Some(&just_above(&zlib.source_version)),
            &["inflateStellaNoSuchFunction"],
        ),
        // Five binary packages of one source, no function named: version-level.
        debian_record(
            "TEST-DEB-E2FSPROGS",
            "Debian:12",
            "e2fsprogs",
            Some(&just_above(&e2fs.source_version)),
            &[],
        ),
        // Fixed before the installed version.
        debian_record(
            "TEST-DEB-TAR-FIXED",
            "Debian:12",
            &tar.source,
            Some(&just_below(&tar.source_version)),
            &[],
        ),
        // Affects Debian 11's bzip2 only, for ever.
        debian_record("TEST-DEB11-BZIP2", "Debian:11", &bzip2.source, None, &[]),
    ];
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).expect("mkdir");
    for r in &records {
        let id = r["id"].as_str().expect("id");
        std::fs::write(
            advisories.join(format!("{id}.json")),
            serde_json::to_vec_pretty(r).expect("json"),
        )
        .expect("write");
    }
    let db = advisories.to_string_lossy().into_owned();
    let (code, report, stderr) = assess(&home, &image, &["--advisories", &db]);
    assert_eq!(code, 0, "{stderr}");

    // Reported where the version is below the fix: one verdict per binary of the package.
    let libz = elf_files_of(&rootfs, "zlib1g:amd64");
    assert_eq!(libz.len(), 1, "{libz:?}");
    let libz = libz.first().expect("libz");
    let v = verdicts_for(&report, "TEST-DEB-ZLIB-HEADER");
    assert_eq!(v.len(), 1, "{v:#?}");
    let header = one(&v, libz);
    assert_eq!(header["status"], "under_investigation", "{header:#}");
    assert_eq!(header["basis"], "symbols", "{header:#}");
    assert_eq!(header["component"]["how"], "package", "{header:#}");
    assert!(
        header["component"]["purl"]
            .as_str()
            .is_some_and(|p| p.starts_with("pkg:deb/debian/zlib1g@") && p.contains("upstream=zlib")),
        "{header:#}"
    );
    assert_eq!(header["version"]["answer"], "affected", "{header:#}");
    assert_eq!(
        header["binary"]["naming"], "exported_only",
        "a stripped library"
    );
    assert_eq!(header["symbols"][0]["outcome"], "present", "{header:#}");
    assert_eq!(header["symbols"][0]["found"][0]["sym"], "inflateGetHeader");
    assert!(
        header["symbols"][0]["found"][0]["blake3"]
            .as_str()
            .is_some_and(|b| b.len() == 64),
        "{header:#}"
    );

    // A function the stripped library does not export: not found, and not proven absent.
    let v = verdicts_for(&report, "TEST-DEB-ZLIB-NOSUCH");
    let nosuch = one(&v, libz);
    assert_eq!(nosuch["status"], "under_investigation", "{nosuch:#}");
    assert_eq!(nosuch["basis"], "symbols", "{nosuch:#}");
    assert_eq!(nosuch["symbols"][0]["outcome"], "absent", "{nosuch:#}");
    assert!(nosuch["justification"].is_null(), "{nosuch:#}");

    // Every ELF file of every binary package built from e2fsprogs, each with its own verdict.
    let e2fs_files = elf_files_of_source(&rootfs, &installed, "e2fsprogs");
    assert!(e2fs_files.len() > 5, "{e2fs_files:?}");
    let found = statuses(&report, "TEST-DEB-E2FSPROGS");
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        e2fs_files,
        "{found:#?}"
    );
    assert!(
        found.values().all(|s| s == "under_investigation"),
        "{found:#?}"
    );
    for (_, v) in verdicts_for(&report, "TEST-DEB-E2FSPROGS") {
        assert_eq!(v["basis"], "version", "no function named: {v:#}");
        assert_eq!(v["version"]["answer"], "affected", "{v:#}");
    }

    // Fixed before what is installed, and Debian 11's: not listed.
    assert!(verdicts_for(&report, "TEST-DEB-TAR-FIXED").is_empty());
    assert!(verdicts_for(&report, "TEST-DEB11-BZIP2").is_empty());
    assert!(
        statuses(&report, "TEST-DEB-ZLIB-HEADER")
            .keys()
            .chain(found.keys())
            .all(|p| !elf_files_of(&rootfs, "tar").contains(p)),
        "tar's binaries hold neither zlib nor e2fsprogs"
    );

    // Asked about: the fixed one is not_affected in each of tar's binaries, version-level;
    // Debian 11's names a package no binary of this Debian 12 image holds.
    let (code, asked, stderr) = assess(
        &home,
        &image,
        &[
            "--advisories",
            &db,
            "--vuln",
            "TEST-DEB-TAR-FIXED",
            "--vuln",
            "TEST-DEB11-BZIP2",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let tar_files = elf_files_of(&rootfs, "tar");
    assert_eq!(tar_files.len(), 2, "{tar_files:?}");
    let fixed = verdicts_for(&asked, "TEST-DEB-TAR-FIXED");
    assert_eq!(fixed.len(), tar_files.len(), "{fixed:#?}");
    for path in &tar_files {
        let v = one(&fixed, path);
        assert_eq!(v["status"], "not_affected", "{v:#}");
        assert_eq!(v["justification"], "vulnerable_code_not_present", "{v:#}");
        assert_eq!(v["basis"], "version", "{v:#}");
        assert_eq!(v["version"]["answer"], "not_affected", "{v:#}");
    }
    let v = verdicts_for(&asked, "TEST-DEB11-BZIP2");
    let bzip2 = one(&v, "(image)");
    assert_eq!(bzip2["status"], "not_affected", "{bzip2:#}");
    assert_eq!(bzip2["justification"], "component_not_present", "{bzip2:#}");
}

#[test]
fn debian_binaries_are_judged_by_the_version_of_their_source_package() {
    let test = "debian_binaries_are_judged_by_the_version_of_their_source_package";
    let work = tempfile::tempdir().expect("tempdir");
    let Some((rootfs, home, image)) = scanned_debian_rootfs(test, work.path()) else {
        return;
    };
    let installed = dpkg_installed(&rootfs);
    // bsdutils is built from util-linux but carries an epoch its source does not:
    // bsdutils 1:2.38.1-5+deb12u3 from util-linux 2.38.1-5+deb12u3.
    let bsdutils = installed.get("bsdutils").expect("bsdutils is installed");
    assert_eq!(bsdutils.source, "util-linux");
    assert!(
        bsdutils.version.starts_with("1:") && !bsdutils.source_version.contains(':'),
        "{} {}",
        bsdutils.version,
        bsdutils.source_version
    );
    // Fixed by the next upload of the source: every binary built from it is below the fix.
    let record = debian_record(
        "TEST-DEB-UTIL-LINUX",
        "Debian:12",
        "util-linux",
        Some(&just_above(&bsdutils.source_version)),
        &[],
    );
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).expect("mkdir");
    std::fs::write(
        advisories.join("TEST-DEB-UTIL-LINUX.json"),
        serde_json::to_vec_pretty(&record).expect("json"),
    )
    .expect("write");
    let (code, report, stderr) = assess(
        &home,
        &image,
        &["--advisories", &advisories.to_string_lossy()],
    );
    assert_eq!(code, 0, "{stderr}");
    let expected = elf_files_of_source(&rootfs, &installed, "util-linux");
    let found = statuses(&report, "TEST-DEB-UTIL-LINUX");
    let missing: Vec<&String> = expected
        .iter()
        .filter(|p| !found.contains_key(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "binaries built from util-linux {} not reported (their package's version, not their \
         source's, was compared with the fix {}): {missing:#?}",
        bsdutils.source_version,
        just_above(&bsdutils.source_version)
    );
}

#[test]
fn two_binaries_with_one_component_and_different_verdicts_write_csaf() {
    let test = "two_binaries_with_one_component_and_different_verdicts_write_csaf";
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("capps");
    if let Err(e) = build_c(work.path(), &root) {
        skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let advisories = work.path().join("advisories");
    std::fs::create_dir_all(&advisories).expect("mkdir");
    std::fs::write(
        advisories.join("TEST-ZLIB-1.json"),
        serde_json::to_vec(&serde_json::json!({
            "id": "TEST-ZLIB-1", "modified": "2026-01-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "GIT", "name": "https://github.com/madler/zlib", "purl": "pkg:generic/zlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"symbols": ["inflateGetHeader"]}
            }]
        }))
        .expect("json"),
    )
    .expect("write");
    let out = stella(&home)
        .args(["assess", "--image", &image, "--advisories"])
        .arg(&advisories)
        .args(["--format", "csaf"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "gunzip-headers (under_investigation) and compressor (not_affected) both hold \
         pkg:generic/zlib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csaf: Value = serde_json::from_slice(&out.stdout).expect("CSAF JSON");
    let status = &csaf["vulnerabilities"][0]["product_status"];
    let (investigated, not_affected) = (
        status["under_investigation"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        status["known_not_affected"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    assert!(
        !investigated.is_empty() && !not_affected.is_empty(),
        "one product per binary, each with its own status: {status:#}"
    );
}
