//! The CLI contract: outputs, exit codes, and precise errors on bad input.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use sha2::{Digest as _, Sha256};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

fn sbom_fixture(name: &str) -> PathBuf {
    shared().join("sbom").join(name)
}

const REAL_SBOMS: [&str; 3] = [
    "cyclonedx-py-7.5.0-spec1.7.json",
    "cdxgen-12.8.4-spec1.7.json",
    "cargo-cyclonedx-0.5.9-spec1.5.json",
];

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .env_remove("STELLA_CONFIG");
    cmd
}

fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked").not()
}

#[test]
fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["sbom", "--help"],
        vec!["sbom", "canon", "--help"],
        vec!["sbom", "id", "--help"],
        vec!["sbom", "validate", "--help"],
        vec!["sbom", "convert", "--help"],
        vec!["completions", "--help"],
    ] {
        stella()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: stella"));
    }
    stella().args(["sbom", "id", "--help"]).assert().stdout(
        predicate::str::contains("serialNumber")
            .and(predicate::str::contains("metadata.timestamp")),
    );
}

#[test]
fn usage_errors_exit_2() {
    stella()
        .args(["sbom", "id", "--no-such-flag", "x"])
        .assert()
        .code(2);
    stella().args(["sbom"]).assert().code(2);
    stella()
        .args(["sbom", "id", "--max-size", "lots", "x"])
        .assert()
        .code(2);
}

#[test]
fn canon_reproduces_the_rfc8785_vectors_without_a_trailing_newline() {
    let dir = shared().join("jcs");
    for name in [
        "arrays.json",
        "french.json",
        "structures.json",
        "unicode.json",
        "values.json",
        "weird.json",
    ] {
        let expected = std::fs::read(dir.join("output").join(name)).expect("vector");
        stella()
            .args(["sbom", "canon", "--any-json"])
            .arg(dir.join("input").join(name))
            .assert()
            .success()
            .stdout(predicate::eq(expected));
    }
}

#[test]
fn id_is_sha256_of_the_canonical_bytes_from_a_file_or_stdin() {
    for name in REAL_SBOMS {
        let path = sbom_fixture(name);
        let canon = stella()
            .args(["sbom", "canon"])
            .arg(&path)
            .output()
            .expect("runs");
        assert!(canon.status.success(), "{name}");
        let hex: String = Sha256::digest(&canon.stdout)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let expected = format!("sha256:{hex}\n");
        stella()
            .args(["sbom", "id"])
            .arg(&path)
            .assert()
            .success()
            .stdout(expected.clone());
        stella()
            .args(["sbom", "id", "-"])
            .pipe_stdin(&path)
            .expect("stdin")
            .assert()
            .success()
            .stdout(expected);
    }
}

#[test]
fn id_of_canonical_output_is_stable() {
    let path = sbom_fixture("cdxgen-12.8.4-spec1.7.json");
    let canon = stella()
        .args(["sbom", "canon"])
        .arg(&path)
        .output()
        .expect("runs");
    let direct = stella()
        .args(["sbom", "id"])
        .arg(&path)
        .output()
        .expect("runs");
    stella()
        .args(["sbom", "id", "-"])
        .write_stdin(canon.stdout)
        .assert()
        .success()
        .stdout(String::from_utf8(direct.stdout).expect("utf-8"));
}

#[test]
fn content_id_is_shared_by_two_generations_and_json_reports_both() {
    let original = std::fs::read(sbom_fixture("cdxgen-12.8.4-spec1.7.json")).expect("fixture");
    let mut regenerated: serde_json::Value = serde_json::from_slice(&original).expect("json");
    regenerated["serialNumber"] = "urn:uuid:00000000-1111-4222-8333-444444444444".into();
    regenerated["metadata"]["timestamp"] = "2031-01-01T00:00:00Z".into();
    let regenerated = serde_json::to_vec_pretty(&regenerated).expect("json");

    let ids = |bytes: &[u8]| -> serde_json::Value {
        let out = stella()
            .args(["sbom", "id", "--json", "-"])
            .write_stdin(bytes.to_vec())
            .output()
            .expect("runs");
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).expect("JSON output")
    };
    let (a, b) = (ids(&original), ids(&regenerated));
    assert_ne!(a["canonicalId"], b["canonicalId"]);
    assert_eq!(a["contentId"], b["contentId"]);
    assert_eq!(a["specVersion"], "1.7");

    let content = stella()
        .args(["sbom", "id", "--content", "-"])
        .write_stdin(regenerated)
        .output()
        .expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&content.stdout).trim(),
        a["contentId"].as_str().expect("string")
    );
}

/// Each bad input: exit 2, a message naming where, never a panic.
#[test]
fn bad_input_is_a_precise_error_with_exit_2() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            br#"{"bomFormat":"CycloneDX","components":[{"name":"#.to_vec(),
            "end of input",
        ),
        (
            "NaN",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.7","version":NaN}"#.to_vec(),
            "at /version",
        ),
        (
            "Infinity",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.7","x":[Infinity]}"#.to_vec(),
            "at /x/0",
        ),
        (
            "duplicate",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.7","bomFormat":"CycloneDX"}"#.to_vec(),
            "duplicate member name \"bomFormat\"",
        ),
        (
            "big integer",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.7","version":9007199254740993}"#.to_vec(),
            "9007199254740993",
        ),
        (
            "lone surrogate",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.7","x":"\ud800"}"#.to_vec(),
            "lone surrogate",
        ),
        (
            "deep",
            "[".repeat(100_000).into_bytes(),
            "nesting is deeper than the limit",
        ),
        (
            "invalid utf-8",
            b"{\"bomFormat\":\"Cyclone\xff\"}".to_vec(),
            "invalid UTF-8 at byte 21",
        ),
        (
            "not cyclonedx",
            br#"{"hello":"world"}"#.to_vec(),
            "not a CycloneDX document",
        ),
        // SPDX is named as such everywhere (convert reads it, and says what it lacks).
        ("spdx", br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec(), "SPDX"),
        (
            "old version",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.1"}"#.to_vec(),
            "specVersion \"1.1\" is not supported",
        ),
        ("empty", Vec::new(), "expected a JSON value"),
    ];
    for (what, bytes, message) in cases {
        for sub in ["canon", "id", "validate", "convert"] {
            if what == "not cyclonedx" && sub == "validate" {
                // JSON that is not CycloneDX is an invalid document for `validate` (exit 1 with
                // its problems): `sbom::json_that_is_not_cyclonedx_is_invalid_with_exit_1`.
                continue;
            }
            stella()
                .args(["sbom", sub, "-"])
                .write_stdin(bytes.clone())
                .assert()
                .append_context("case", what)
                .append_context("command", sub)
                .code(2)
                .stderr(predicate::str::contains(message).and(no_panic()));
        }
    }
}

#[test]
fn a_2_gib_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.json");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(2 << 30).expect("sparse file");
    stella()
        .args(["sbom", "id"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("2.0 GiB").and(predicate::str::contains("--max-size")));
    // Standard input is bounded the same way.
    stella()
        .args(["sbom", "id", "--max-size", "1K", "-"])
        .write_stdin(vec![b' '; 4096])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("larger than the 1.0 KiB limit"));
}

#[test]
fn missing_files_and_directories_are_named() {
    stella()
        .args(["sbom", "id", "/nonexistent/bom.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/bom.json"));
    stella()
        .args(["sbom", "id", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"));
}

#[test]
fn convert_writes_valid_deterministic_cyclonedx_1_7() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schemas = shared().join("cyclonedx/schema");
    for name in REAL_SBOMS {
        let out = dir.path().join(format!("{name}.1.7.json"));
        stella()
            .args(["sbom", "convert", "-o"])
            .arg(&out)
            .arg(sbom_fixture(name))
            .assert()
            .success();
        let first = std::fs::read(&out).expect("written");
        let again = stella()
            .args(["sbom", "convert"])
            .arg(sbom_fixture(name))
            .output()
            .expect("runs");
        assert_eq!(first, again.stdout, "{name}: same input, same bytes");
        let doc: serde_json::Value = serde_json::from_slice(&first).expect("JSON");
        assert_eq!(doc["specVersion"], "1.7");
        stella()
            .args(["sbom", "validate", "--schema-dir"])
            .arg(&schemas)
            .arg(&out)
            .assert()
            .success();
        // Already canonical: canonicalising again changes nothing.
        stella()
            .args(["sbom", "canon"])
            .arg(&out)
            .assert()
            .success()
            .stdout(predicate::eq(first));
    }
}

#[test]
fn convert_turns_legacy_tools_into_components() {
    let legacy = r#"{"bomFormat":"CycloneDX","specVersion":"1.4","version":1,
        "metadata":{"tools":[{"vendor":"CycloneDX","name":"cyclonedx-gomod","version":"1.4.0"}]},
        "components":[{"type":"library","name":"x","version":"1"}]}"#;
    let out = stella()
        .args(["sbom", "convert", "-"])
        .write_stdin(legacy)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["specVersion"], "1.7");
    assert_eq!(
        doc["metadata"]["tools"]["components"][0]["group"],
        "CycloneDX"
    );
    assert_eq!(
        doc["metadata"]["tools"]["components"][0]["type"],
        "application"
    );
}

#[test]
fn completions_and_logging_go_where_they_belong() {
    stella()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_stella"));
    let out = stella()
        .env("STELLA_LOG", "debug")
        .args(["sbom", "id"])
        .arg(sbom_fixture("cdxgen-12.8.4-spec1.7.json"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "only the id on stdout: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("canonical id"));
    stella()
        .args(["--home", "/tmp/stella-home", "-v", "sbom", "id"])
        .arg(sbom_fixture("cdxgen-12.8.4-spec1.7.json"))
        .assert()
        .success()
        .stderr(predicate::str::contains("canonical id"));
}

/// `-o` naming a device or a pipe writes into it; it never replaces it with a regular file
/// (renaming a temporary file over `/dev/null` once turned it into a file).
#[test]
#[cfg(unix)]
fn output_to_a_pipe_writes_into_it_and_leaves_it_a_pipe() {
    use std::os::unix::fs::FileTypeExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).expect("read the pipe"))
    };
    // `log trusted-root` creates no log.
    stella_tlog::Log::create(&dir.path().join("home/log"), None).expect("log");
    stella()
        .env("STELLA_HOME", dir.path().join("home"))
        .args(["log", "trusted-root", "-o"])
        .arg(&fifo)
        .assert()
        .success();
    // Checked before joining the reader, which would wait forever on a replaced pipe.
    let meta = std::fs::symlink_metadata(&fifo).expect("still there");
    assert!(
        meta.file_type().is_fifo(),
        "the pipe was replaced by a regular file"
    );
    let written = reader.join().expect("reader");
    assert!(String::from_utf8_lossy(&written).contains("trustedroot"));
}

#[test]
fn version_names_the_build_and_man_pages_cover_every_command() {
    let out = stella().args(["version", "--json"]).output().expect("runs");
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(info["schema"], "stella.version/v1");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        info["rustc"]
            .as_str()
            .is_some_and(|r| r.starts_with("rustc ")),
        "{info:#}"
    );
    let commit = info["commit"].as_str().unwrap_or_default();
    assert!(
        commit == "unknown"
            || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{info:#}"
    );
    assert!(
        info["predicateTypes"].as_array().is_some_and(|p| p
            .iter()
            .any(|t| t == "https://stella-ops.org/attestations/funcproof/v1")),
        "{info:#}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let pages = dir.path().join("man1");
    stella()
        .args(["man", "-o"])
        .arg(&pages)
        .assert()
        .success()
        .stderr(predicate::str::contains("man pages"));
    // A page per command and subcommand, each a section-1 page naming itself.
    for (file, synopsis) in [
        ("stella.1", "stella"),
        ("stella-assess.1", "stella assess"),
        ("stella-audit-export.1", "stella audit export"),
        ("stella-replay.1", "stella replay"),
        ("stella-vex-merge.1", "stella vex merge"),
    ] {
        let text =
            std::fs::read_to_string(pages.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let name = file.trim_end_matches(".1");
        assert!(
            text.contains(&format!(".TH {name} 1")),
            "{file}: {}",
            &text[..text.len().min(300)]
        );
        assert!(
            text.contains(&format!("\\fB{}\\fR", synopsis.replace('-', "\\-"))),
            "{file}"
        );
    }
    assert!(!pages.join("stella-help.1").exists());
    // A directory that cannot be made is a precise error.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    stella()
        .args(["man", "-o"])
        .arg(blocker.join("man1"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-o"));
}

#[test]
fn plain_http_is_the_name_oras_users_type_for_insecure() {
    for args in [
        &["scan", "--help"][..],
        &["verify", "--help"],
        &["assess", "--help"],
        &["audit", "export", "--help"],
        &["oci", "--help"],
    ] {
        stella()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("--plain-http"));
    }
}

#[test]
fn a_config_file_sets_defaults_below_the_environment_and_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // No user configuration directory leaks in.
    let xdg = d.join("xdg");
    std::fs::create_dir_all(&xdg).expect("mkdir");
    std::fs::write(
        d.join("stella.yaml"),
        "# defaults for this project\nhome: from-file\nversion:\n  json: true\n",
    )
    .expect("write");
    let entry = d.join("entry");
    std::fs::write(&entry, b"an entry").expect("write");
    let run = |extra: &[&str], env_home: Option<&str>| {
        let mut cmd = stella();
        cmd.current_dir(d).env("XDG_CONFIG_HOME", &xdg);
        if let Some(h) = env_home {
            cmd.env("STELLA_HOME", h);
        }
        cmd.args(extra)
            .args(["log", "append"])
            .arg(&entry)
            .assert()
            .success();
    };
    // The file, then the environment over it, then the command line over both.
    run(&[], None);
    assert!(d.join("from-file/log").is_dir(), "home from the file");
    run(&[], Some("from-env"));
    assert!(d.join("from-env/log").is_dir(), "STELLA_HOME over the file");
    run(&["--home", "from-flag"], Some("from-env"));
    assert!(d.join("from-flag/log").is_dir(), "--home over both");
    // A command's own section.
    let out = stella()
        .current_dir(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .arg("version")
        .output()
        .expect("runs");
    let version: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON from the file");
    assert!(version["version"].is_string(), "{version}");
    // What is in effect, and why.
    let shown = stella()
        .current_dir(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .env("STELLA_HOME", "from-env")
        .args(["config", "show", "--json"])
        .output()
        .expect("runs");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown["file"], "stella.yaml");
    assert_eq!(shown["settings"][0]["option"], "home");
    assert_eq!(shown["settings"][0]["overriddenBy"], "STELLA_HOME");
    assert_eq!(shown["settings"][1]["command"], "version");

    // Unknown keys are named, not ignored; a named file must exist; bad values are the
    // option's own errors; nothing panics.
    let bad = d.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    for (text, named) in [
        ("scna:\n  push: true\n", "\"scna\""),
        ("scan:\n  pussh: true\n", "scan.pussh"),
        ("home: [a, b]\n", "--home"),
        ("record:\n  hz: lots\n", "lots"),
        ("{{{\n", "not YAML"),
    ] {
        std::fs::write(bad.join("stella.yaml"), text).expect("write");
        stella()
            .current_dir(&bad)
            .env("XDG_CONFIG_HOME", &xdg)
            .args(["record", "--all", "--duration", "1s"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(named).and(no_panic()));
    }
    stella()
        .args(["--config", "/nonexistent/stella.yaml", "version"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/stella.yaml"));
    stella()
        .env("STELLA_CONFIG", d.join("stella.yaml"))
        .current_dir(&xdg)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("{"));
}

#[test]
fn dash_o_takes_a_format_and_a_file_as_syft_and_trivy_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("home");
    let at_home = || {
        let mut cmd = stella();
        cmd.arg("--home").arg(&home);
        cmd
    };
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("bin")).expect("mkdir");
    std::fs::copy("/bin/true", tree.join("bin/true")).expect("copy");
    let sbom = d.join("sbom.json");
    let spdx = d.join("sbom.spdx.json");
    // Several -o: the summary as JSON on stdout, the SBOM into a file, and as SPDX into another.
    let out = at_home()
        .env("STELLA_PASSWORD", "grammar")
        .args(["scan", "-o", "json", "-o"])
        .arg(format!("cyclonedx-json={}", sbom.display()))
        .arg("-o")
        .arg(format!("spdx-json={}", spdx.display()))
        .arg(&tree)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sbom).expect("the SBOM file")).expect("json");
    assert_eq!(written["bomFormat"], "CycloneDX");
    let as_spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spdx).expect("the SPDX file")).expect("json");
    assert_eq!(as_spdx["spdxVersion"], "SPDX-2.3");
    // sbom convert: -o spdx-json to standard output is --to spdx.
    let converted = stella()
        .args(["sbom", "convert", "-o", "spdx-json"])
        .arg(&sbom)
        .output()
        .expect("runs");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&converted.stdout).expect("json"),
        as_spdx,
        "the scan's SPDX is the converted SBOM"
    );
    assert_eq!(summary["binaries"], 1);
    let image = summary["image"].as_str().expect("image").to_owned();

    // -o FORMAT on a report command.
    let verified = at_home()
        .args(["verify", "--image", &image, "-o", "json"])
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).expect("JSON");
    assert_eq!(report["verified"], true, "{report}");
    // The report: the page to a file with html=FILE, its model with json.
    let page = d.join("report.html");
    at_home()
        .args(["report", "--image", &image, "-o"])
        .arg(format!("html={}", page.display()))
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&page)
            .expect("page")
            .contains("<html")
    );
    let model = at_home()
        .args(["report", "--image", &image, "-o", "json"])
        .output()
        .expect("runs");
    serde_json::from_slice::<serde_json::Value>(&model.stdout).expect("the model as JSON");
    // The image as cosign and oras take it: a positional reference.
    let positional = at_home()
        .args(["verify", &image, "-o", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&positional.stdout).expect("JSON")["digest"],
        report["digest"]
    );
    for args in [
        vec!["verify"],
        vec!["verify", image.as_str(), "--image", image.as_str()],
    ] {
        at_home()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("IMAGE").and(no_panic()));
    }

    // -o FORMAT=FILE, -o FILE and -o FORMAT to stdout on symbolize.
    let raw = "0123456789abcdef0123456789abcdef01234567 0x10\n";
    let to_file = d.join("frames.json");
    at_home()
        .args(["symbolize", "--format", "raw", "-o"])
        .arg(format!("json={}", to_file.display()))
        .arg("-")
        .write_stdin(raw)
        .assert()
        .success()
        .stdout("");
    let frames: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&to_file).expect("file")).expect("json");
    assert_eq!(frames["schema"], "stella.symbolize/v1");
    let plain = d.join("frames.txt");
    at_home()
        .args(["symbolize", "--format", "raw", "-o"])
        .arg(&plain)
        .arg("-")
        .write_stdin(raw)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&plain)
            .expect("text")
            .contains("[unknown]")
    );
    at_home()
        .args(["symbolize", "--format", "raw", "-o", "json", "-"])
        .write_stdin(raw)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("{"));

    // Every command with --json takes -o json (and -o table), wherever it puts the flag.
    let validated = stella()
        .args(["sbom", "validate", "-o", "json"])
        .arg(sbom_fixture("cargo-cyclonedx-0.5.9-spec1.5.json"))
        .output()
        .expect("runs");
    let validated: serde_json::Value = serde_json::from_slice(&validated.stdout).expect("JSON");
    assert_eq!(validated["valid"], true, "{validated}");
    stella()
        .args(["version", "--output", "json"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("{"));
    // Both spellings at once say the same thing.
    stella()
        .args(["version", "--json", "-o", "json"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("{"));
    stella()
        .args(["version", "-o", "table"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("{").not());

    // VEX: -o FORMAT=FILE is --to FORMAT -o FILE.
    let csaf_in = shared().join("csaf-vex/2022-evd-uc-01-a-001.json");
    let openvex = d.join("vex.openvex.json");
    stella()
        .args(["vex", "convert", "-o"])
        .arg(format!("openvex={}", openvex.display()))
        .arg(&csaf_in)
        .assert()
        .success();
    let csaf = d.join("vex.csaf.json");
    stella()
        .args(["vex", "convert", "-o"])
        .arg(format!("csaf={}", csaf.display()))
        .arg(&openvex)
        .assert()
        .success();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&csaf).expect("csaf")).expect("json");
    assert_eq!(written["document"]["category"], "csaf_vex");
    stella()
        .args(["vex", "merge", "-o", "cyclonedx-json"])
        .arg(&openvex)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"bomFormat\""));
    stella()
        .args(["vex", "convert"])
        .arg(&openvex)
        .assert()
        .code(2);
    stella()
        .args(["vex", "convert", "--to", "openvex", "-o", "csaf"])
        .arg(&openvex)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--to"));

    // Contradictions and formats a command does not write are usage errors.
    for args in [
        vec!["record", "--all", "-o", "svg", "--format", "pprof"],
        vec!["record", "--all", "-o", "svg", "--json"],
        vec!["scan", "-o", "cyclonedx-json", "."],
        vec!["scan", "-o", "sbom.json", "."],
        vec!["scan", "-o", "json=summary.json", "."],
        vec!["verify", "--image", "x", "-o", "yaml"],
        vec!["version", "-o", "yaml"],
        vec!["report", "--image", "x", "-o", "html"],
        vec!["report", "--image", "x", "-o", "json=model.json"],
    ] {
        at_home()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("-o").and(no_panic()));
    }
}
