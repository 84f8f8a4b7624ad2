//! `stella report`: the evidence report of an image whose zlib ran (sampled, attached, assessed
//! and attached), from the image and from its auditor's pack (the same bytes), twice (the same
//! bytes), refused when the pack is tampered with or the key is not the signer's, and rendered
//! in headless Chromium (Debian's `chromium`): a screenshot kept, and in the DOM the marked
//! vulnerable frames, the human line of the flip and a hostile process name as text.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;
use stella_testkit::skip;

use crate::assess::stella;
use crate::assess_runtime::{Running, is_root};

/// The process name the sampled program runs under: markup, which the report must show as text.
const HOSTILE: &str = "<script>pwn";

fn run_ok(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `stella report` with `args`: (exit code, stdout, stderr).
fn report(home: &Path, args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = stella(home)
        .arg("report")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Where the screenshot is kept: `$STELLA_TEST_ARTIFACTS`, else the target directory.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("STELLA_TEST_ARTIFACTS").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                PathBuf::from,
            )
        },
        PathBuf::from,
    );
    let dir = dir.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

/// Debian's Chromium, when installed.
pub(crate) fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Process::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `text` as an HTML serialiser writes it in text content.
fn as_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn the_report_shows_verified_evidence_the_same_from_image_and_pack_and_renders_in_chromium() {
    let test =
        "the_report_shows_verified_evidence_the_same_from_image_and_pack_and_renders_in_chromium";
    assert!(
        is_root(),
        "{test}: needs root (CAP_BPF and CAP_PERFMON) for sampling; run the tests as root"
    );
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("zapps");
    if let Err(e) = crate::assess_runtime::build_zlib_loop(work.path(), &root) {
        skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = crate::assess::scan(&home, &root);
    let advisories = crate::assess::zlib_advisory(work.path(), "TEST-ZLIB-3", &["CVE-2099-0003"]);

    // Before any runtime evidence or assessment: the report says so.
    let bare = work.path().join("bare.html");
    let (code, _, err) = report(
        &home,
        &[os("--image"), os(&image), os("-o"), bare.as_os_str()],
    );
    assert_eq!(code, Some(0), "{err}");
    let bare = std::fs::read_to_string(&bare).expect("report");
    assert!(bare.contains("No runtime profile was recorded"), "{bare}");
    assert!(bare.contains("Findings (0)"), "{bare}");

    // The image's own program, run under a name that is markup (the same bytes: its BuildID).
    let hostile = work.path().join(HOSTILE);
    std::fs::copy(root.join("usr/bin/headers-loop"), &hostile).expect("copy");
    let looping = Running(Process::new(&hostile).spawn().expect("starts"));
    let profile = work.path().join("zlib.profile.json");
    run_ok(
        stella(&home)
            .args([
                "record",
                "--duration",
                "2s",
                "--json",
                "--no-symbolize",
                "-o",
            ])
            .arg(&profile)
            .args(["--attach", &image])
            .args(["--pid", &looping.0.id().to_string()]),
        "record",
    );
    drop(looping);
    let assessed = stella(&home)
        .args(["assess", "--image", &image, "--attach", "--advisories"])
        .arg(&advisories)
        .output()
        .expect("runs");
    let assess_err = String::from_utf8_lossy(&assessed.stderr).into_owned();
    assert!(assess_err.contains("VEX → affected."), "{assess_err}");

    // From the image, twice: the same bytes.
    let first = work.path().join("first.html");
    let second = work.path().join("second.html");
    for out in [&first, &second] {
        let (code, _, err) = report(
            &home,
            &[os("--image"), os(&image), os("-o"), out.as_os_str()],
        );
        assert_eq!(code, Some(0), "{err}");
    }
    let html = std::fs::read_to_string(&first).expect("report");
    assert_eq!(
        html.as_bytes(),
        std::fs::read(&second).expect("report"),
        "two runs differ"
    );
    // Self-contained: nothing fetched at view time.
    for external in ["<link", "src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(external), "{external} in the report");
    }
    assert!(!html.contains(HOSTILE), "the hostile name is not escaped");
    assert!(
        html.contains("&lt;script&gt;pwn"),
        "the hostile name is missing"
    );
    // The flip's human line, as `stella assess` printed it.
    let flip = assess_err
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("VEX → affected.") && l.contains("inflateGetHeader"))
        .unwrap_or_else(|| panic!("no flip line for libz: {assess_err}"))
        .to_owned();
    let escaped_flip = flip
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(html.contains(&escaped_flip), "{flip}\n{html}");

    // The model as JSON.
    let (code, json, err) = report(&home, &[os("--image"), os(&image), os("--json")]);
    assert_eq!(code, Some(0), "{err}");
    let model: Value = serde_json::from_str(&json).expect("report JSON");
    assert_eq!(model["schema"], "stella.report/v1");
    assert!(model["image"]["sbom"].is_string(), "{model:#}");
    assert!(
        model["flips"]
            .as_array()
            .is_some_and(|f| f.contains(&Value::String(flip.clone()))),
        "{model:#}"
    );
    assert!(
        model["flame"]["marked"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "inflateGetHeader")),
        "{model:#}"
    );
    let libz = model["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["binary"] == "/usr/lib/x86_64-linux-gnu/libz.so.1")
        .unwrap_or_else(|| panic!("no finding for libz: {model:#}"));
    assert_eq!(libz["status"], "affected", "{libz:#}");
    assert!(libz["funcproof"].is_string(), "{libz:#}");
    assert!(libz["vex"]["author"].is_string(), "{libz:#}");
    assert_eq!(libz["runtime"]["outcome"], "executed", "{libz:#}");
    assert!(libz["runtime"]["microWitness"].is_string(), "{libz:#}");
    assert!(libz["runtime"]["windowStart"].is_string(), "{libz:#}");

    // From the auditor's pack: the same bytes as from the image.
    let pack = work.path().join("zapps.pack.tar");
    run_ok(
        stella(&home)
            .args([
                "audit",
                "export",
                "--image",
                &image,
                "--with-binaries",
                "-o",
            ])
            .arg(&pack)
            .arg("--advisories")
            .arg(&advisories),
        "export",
    );
    let from_pack = work.path().join("pack.html");
    let empty = work.path().join("empty-home");
    let (code, _, err) = report(
        &empty,
        &[
            os("--pack"),
            pack.as_os_str(),
            os("-o"),
            from_pack.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        std::fs::read(&from_pack).expect("report") == html.as_bytes(),
        "the report from the pack differs from the report from the image"
    );

    // A tampered pack, and a key that did not sign: no report.
    let mut bytes = std::fs::read(&pack).expect("pack");
    let at = bytes
        .windows(b"inflateGetHeader".len())
        .position(|w| w == b"inflateGetHeader")
        .expect("a packed document names the function");
    bytes[at] ^= 0x20;
    let tampered = work.path().join("tampered.pack.tar");
    std::fs::write(&tampered, &bytes).expect("write");
    let refused = work.path().join("refused.html");
    let (code, _, err) = report(
        &empty,
        &[
            os("--pack"),
            tampered.as_os_str(),
            os("-o"),
            refused.as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no report written: the pack is refused"),
        "{err}"
    );
    assert!(!refused.exists());
    let other = work.path().join("other");
    run_ok(
        stella(&home).args(["key", "generate", "--out"]).arg(&other),
        "key generate",
    );
    let other_pub = other.with_extension("pub");
    for source in [
        vec![os("--image"), os(&image)],
        vec![os("--pack"), pack.as_os_str()],
    ] {
        let mut args = source.clone();
        args.extend([
            os("--key"),
            other_pub.as_os_str(),
            os("-o"),
            refused.as_os_str(),
        ]);
        let (code, _, err) = report(&home, &args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("no report written: the evidence does not verify"),
            "{err}"
        );
        assert!(!refused.exists());
    }

    // Rendered by a browser: a screenshot kept, the DOM checked.
    let Some(browser) = chromium() else {
        let why =
            "chromium is not installed (apt-get install chromium): the report was not rendered";
        assert!(
            std::env::var("CI").as_deref() != Ok("true") && !stella_testkit::peers_required(),
            "{test}: {why}"
        );
        skip(test, why);
        return;
    };
    let url = format!("file://{}", first.display());
    let screenshot = artifacts().join("report.png");
    let shot = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", screenshot.display()))
        .args(["--window-size=1400,2400", &url])
        .output()
        .expect("chromium runs");
    assert!(
        shot.status.success() && screenshot.is_file(),
        "screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "{test}: screenshot of the report at {}\n",
            screenshot.display()
        )
        .as_bytes(),
    );
    let dom = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("chromium runs");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    std::fs::write(artifacts().join("report.dom.html"), dom.as_bytes()).expect("write");
    assert!(
        dom.contains("class=\"stella-vulnerable\""),
        "no marked vulnerable frame in the DOM"
    );
    assert!(
        dom.contains("inflateGetHeader"),
        "the vulnerable frame is not named"
    );
    assert!(
        dom.contains(&as_text(&flip)),
        "the human line is not in the DOM: {flip}"
    );
    assert!(
        dom.contains(&as_text(HOSTILE)),
        "the hostile name is not shown as text"
    );
    assert!(!dom.contains(HOSTILE), "the hostile name became markup");
}
