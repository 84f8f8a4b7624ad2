//! `stella assess` end to end, on programs built here with real toolchains: two Go programs
//! (Debian's Go, its standard library version-matched; one uses `net/mail`, one does not), two
//! Rust programs depending on a smallvec with a RustSec function advisory (one calls
//! `insert_many`, one does not), Stella's own binary against the whole RustSec database, and
//! the attacks: evidence signed by another key, prior VEX that says otherwise.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;
use stella_testkit::skip;

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "assess-tests")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
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
        .args(["--vuln", "GO-2024-2609", "--product", &purl, "--json"])
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

/// Two Rust programs depending on smallvec 1.6.0 (RUSTSEC-2021-0003: `insert_many`), one
/// calling it; built with cargo into `root/usr/bin`.
fn build_rust(work: &Path, root: &Path) -> Result<(), String> {
    let project = work.join("smallvec-users");
    std::fs::create_dir_all(project.join("src/bin")).map_err(|e| e.to_string())?;
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"smallvec-users\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nsmallvec = \"=1.6.0\"\n\n[workspace]\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        project.join("src/bin/inserts.rs"),
        "use smallvec::SmallVec;\nfn main() {\n    let mut v: SmallVec<[u8; 4]> = SmallVec::new();\n    \
         v.push(std::env::args().count() as u8);\n    v.insert_many(0, std::env::args().map(|a| a.len() as u8));\n    \
         println!(\"{}\", v.len());\n}\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        project.join("src/bin/pushes.rs"),
        "use smallvec::SmallVec;\nfn main() {\n    let mut v: SmallVec<[u8; 4]> = SmallVec::new();\n    \
         for a in std::env::args() {\n        v.push(a.len() as u8);\n    }\n    println!(\"{}\", v.len());\n}\n",
    )
    .map_err(|e| e.to_string())?;
    let target = work.join("target");
    let out = Process::new(env!("CARGO"))
        .args(["build", "--quiet", "--bins"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::fs::create_dir_all(root.join("usr/bin")).map_err(|e| e.to_string())?;
    for bin in ["inserts", "pushes"] {
        std::fs::copy(
            target.join("debug").join(bin),
            root.join("usr/bin").join(bin),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
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
