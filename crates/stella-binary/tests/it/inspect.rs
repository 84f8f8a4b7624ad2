//! `inspect` against binaries gcc links here from `tests/fixtures/libx.c` and `uselibx.c`: a
//! shared library with a soname, PIE and non-PIE executables linked against it with `RUNPATH` /
//! `RPATH`, a static PIE and an object file, with `readelf` as the peer; and `cargo auditable`
//! sections that `objcopy` adds to a gcc-built binary.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use stella_binary::BinaryError;
use stella_binary::inspect::{self, Format, Linkage, MAX_AUDITABLE_JSON_BYTES};

use crate::fixtures::{self, NO_PIE};

static BUILD_LOCK: Mutex<()> = Mutex::new(());

fn fixture_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stella-binary-fixtures/inspect");
    std::fs::create_dir_all(&dir).expect("fixture dir");
    dir
}

fn source(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn tool_runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Says loudly that `test` is skipped because `tool` is missing (or fails under
/// `STELLA_REQUIRE_PEERS=1`).
fn skipped(test: &str, tool: &str) {
    stella_testkit::skip(
        test,
        &format!("{tool} not installed (Debian: apt-get install binutils)"),
    );
}

/// Builds `name` in the fixture directory with `tool args` (once per test run, `args` may use
/// `{out}`), or returns `None` with the tool's complaint when `optional` and it fails.
fn make(name: &str, tool: &str, args: &[&str], optional: bool) -> Option<PathBuf> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = fixture_dir();
    let out = dir.join(name);
    if out.exists() {
        return Some(out);
    }
    let tmp = dir.join(format!("{name}.tmp"));
    let tmp_text = tmp.display().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("{out}", &tmp_text)).collect();
    let output = Command::new(tool)
        .args(&args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if optional {
            stella_testkit::skip(
                &format!("building {name}"),
                &format!("{tool} {args:?} failed: {stderr}"),
            );
            return None;
        }
        panic!("{tool} {args:?} failed: {stderr}");
    }
    std::fs::rename(&tmp, &out).expect("rename fixture");
    Some(out)
}

fn libx() -> PathBuf {
    let src = source("libx.c");
    let args = [
        "-O2",
        "-shared",
        "-fPIC",
        "-Wl,-soname,libx.so.1",
        "-o",
        "{out}",
        &src,
    ];
    make("libx.so.1", "gcc", &args, false).expect("libx")
}

/// `uselibx.c` linked against `libx.so.1` with `extra` flags.
fn uses_libx(name: &str, extra: &[&str]) -> PathBuf {
    libx();
    let src = source("uselibx.c");
    let mut args: Vec<&str> = vec!["-O2"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "{out}", &src, "-L.", "-l:libx.so.1"]);
    make(name, "gcc", &args, false).expect(name)
}

fn linkage_of(path: &Path) -> Linkage {
    let data = std::fs::read(path).expect("read");
    assert_eq!(inspect::sniff(&data[..64]), Some(Format::Elf));
    let file = object::File::parse(&*data).expect("parses");
    inspect::linkage(&file, &data)
}

/// What `readelf -d -l` says: `(needed, soname, runpath and rpath, interpreter)`.
fn readelf(path: &Path) -> (Vec<String>, Option<String>, Vec<String>, Option<String>) {
    let out = Command::new("readelf")
        .args(["-d", "-l", "-W"])
        .arg(path)
        .output()
        .expect("readelf runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let bracketed = |line: &str| {
        let from = line.find('[')? + 1;
        let to = line.rfind(']')?;
        Some(line.get(from..to)?.to_owned())
    };
    let (mut needed, mut soname, mut rpath, mut interp) = (Vec::new(), None, Vec::new(), None);
    for line in text.lines() {
        if line.contains("(NEEDED)") {
            needed.extend(bracketed(line));
        } else if line.contains("(SONAME)") {
            soname = bracketed(line);
        } else if line.contains("(RUNPATH)") || line.contains("(RPATH)") {
            let paths = bracketed(line).unwrap_or_default();
            rpath.extend(paths.split(':').map(str::to_owned));
        } else if line.contains("Requesting program interpreter:") {
            interp = line
                .split_once(": ")
                .and_then(|(_, rest)| rest.strip_suffix(']'))
                .map(str::to_owned);
        }
    }
    (needed, soname, rpath, interp)
}

fn agrees_with_readelf(path: &Path, linkage: &Linkage, test: &str) {
    if !tool_runs("readelf") {
        skipped(test, "readelf");
        return;
    }
    let (needed, soname, rpath, interp) = readelf(path);
    assert_eq!(linkage.needed, needed, "{}", path.display());
    assert_eq!(linkage.soname, soname, "{}", path.display());
    assert_eq!(linkage.rpath, rpath, "{}", path.display());
    assert_eq!(linkage.interpreter, interp, "{}", path.display());
}

#[test]
fn shared_library_names_itself_and_has_no_interpreter() {
    if !fixtures::available(NO_PIE, "shared_library_names_itself") {
        return;
    }
    let path = libx();
    let linkage = linkage_of(&path);
    assert_eq!(linkage.kind, "shared-library");
    assert_eq!(linkage.soname.as_deref(), Some("libx.so.1"));
    assert_eq!(linkage.interpreter, None);
    assert!(linkage.rpath.is_empty());
    assert!(
        linkage.needed.iter().any(|n| n == "libc.so.6"),
        "{linkage:?}"
    );
    agrees_with_readelf(&path, &linkage, "shared_library_names_itself");
}

/// glibc's `libc.so.6` can be run (it has a `PT_INTERP`) but is a library: it has a soname and no
/// `DF_1_PIE`.
#[test]
fn runnable_libc_is_a_shared_library() {
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.exists());
    let Some(libc) = libc else {
        stella_testkit::skip("runnable_libc_is_a_shared_library", "no libc.so.6 here");
        return;
    };
    let linkage = linkage_of(libc);
    assert_eq!(linkage.kind, "shared-library", "{linkage:?}");
    assert_eq!(linkage.soname.as_deref(), Some("libc.so.6"));
    if tool_runs("readelf") {
        let (needed, soname, rpath, interp) = readelf(libc);
        assert_eq!(
            (
                linkage.needed,
                linkage.soname,
                linkage.rpath,
                linkage.interpreter
            ),
            (needed, soname, rpath, interp)
        );
    }
}

#[test]
fn executables_list_what_they_load_in_order() {
    if !fixtures::available(NO_PIE, "executables_list_what_they_load") {
        return;
    }
    let pie = uses_libx(
        "uselibx-pie",
        &[
            "-fPIE",
            "-pie",
            "-Wl,--enable-new-dtags",
            "-Wl,-rpath,$ORIGIN/../lib:/opt/stella/lib",
        ],
    );
    let linkage = linkage_of(&pie);
    assert_eq!(linkage.kind, "executable", "ET_DYN with PT_INTERP is a PIE");
    assert_eq!(linkage.needed, ["libx.so.1", "libc.so.6"]);
    assert_eq!(linkage.rpath, ["$ORIGIN/../lib", "/opt/stella/lib"]);
    assert_eq!(linkage.soname, None);
    let interp = linkage.interpreter.as_deref().expect("PT_INTERP");
    assert!(
        interp.starts_with('/') && interp.contains("ld-linux"),
        "{interp}"
    );
    agrees_with_readelf(&pie, &linkage, "executables_list_what_they_load");

    let no_pie = uses_libx(
        "uselibx-nopie",
        &[
            "-fno-pie",
            "-no-pie",
            "-Wl,--disable-new-dtags",
            "-Wl,-rpath,/opt/old/lib",
        ],
    );
    let linkage = linkage_of(&no_pie);
    assert_eq!(linkage.kind, "executable");
    assert_eq!(linkage.needed, ["libx.so.1", "libc.so.6"]);
    assert_eq!(linkage.rpath, ["/opt/old/lib"], "DT_RPATH");
    assert!(linkage.interpreter.is_some());
    agrees_with_readelf(&no_pie, &linkage, "executables_list_what_they_load");
}

#[test]
fn static_pie_and_object_files() {
    if !fixtures::available(NO_PIE, "static_pie_and_object_files") {
        return;
    }
    let object_file = make(
        "uselibx.o",
        "gcc",
        &["-O2", "-c", "-o", "{out}", &source("uselibx.c")],
        false,
    )
    .expect("object file");
    assert_eq!(
        linkage_of(&object_file),
        Linkage {
            kind: "relocatable",
            ..Linkage::default()
        }
    );
    // A static PIE has no PT_INTERP; DT_FLAGS_1 carries DF_1_PIE. It needs libc.a.
    let static_pie = make(
        "uselibx-static-pie",
        "gcc",
        &[
            "-O2",
            "-static-pie",
            "-o",
            "{out}",
            &source("uselibx.c"),
            &source("libx.c"),
        ],
        true,
    );
    if let Some(path) = static_pie {
        let linkage = linkage_of(&path);
        assert_eq!(linkage.kind, "executable", "{linkage:?}");
        assert_eq!(linkage.interpreter, None);
        assert!(linkage.needed.is_empty(), "{linkage:?}");
    }
}

#[test]
fn damaged_dynamic_sections_give_what_could_be_read() {
    if !fixtures::available(NO_PIE, "damaged_dynamic_sections") {
        return;
    }
    let path = uses_libx("uselibx-damaged-base", &["-fPIE", "-pie"]);
    let original = std::fs::read(&path).expect("read");
    let whole = {
        let file = object::File::parse(&*original).expect("parses");
        inspect::linkage(&file, &original)
    };
    // The dynamic table's file range, from the section headers.
    let (offset, size) = {
        use object::{Object, ObjectSection};
        let file = object::File::parse(&*original).expect("parses");
        let dynamic = file.section_by_name(".dynamic").expect(".dynamic");
        dynamic.file_range().expect("bytes")
    };
    let (offset, size) = (
        usize::try_from(offset).unwrap(),
        usize::try_from(size).unwrap(),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3_000 {
        let mut data = original.clone();
        for _ in 0..1 + next() % 4 {
            let at = offset + usize::try_from(next() % size as u64).unwrap();
            data[at] = next() as u8;
        }
        if let Ok(file) = object::File::parse(&*data) {
            let linkage = inspect::linkage(&file, &data);
            assert!(linkage.needed.len() <= inspect::MAX_LINKAGE_ENTRIES);
        }
    }
    // Cut off inside the dynamic table: the entries before the cut survive (or nothing does,
    // when the parser refuses the file).
    for cut in [offset + 16, offset + size / 2, original.len() - 1] {
        let data = &original[..cut];
        if let Ok(file) = object::File::parse(data) {
            let linkage = inspect::linkage(&file, data);
            assert!(
                linkage.needed.iter().all(|n| whole.needed.contains(n)),
                "{linkage:?}"
            );
        }
    }
}

// ---- cargo auditable ----

/// The dependency list `cargo auditable` would embed for a crate `demo` depending on `itoa`.
const AUDIT_JSON: &[u8] = br#"{"packages":[{"name":"demo","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"itoa","version":"1.0.11","source":"crates.io"}]}"#;

fn zlib(chunks: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    for chunk in chunks {
        z.write_all(&chunk).expect("compress");
    }
    z.finish().expect("compress")
}

/// A gcc-built binary with `section` (compressed bytes) added as `.dep-v0`, the way
/// `cargo auditable`'s documentation adds it to C binaries.
fn with_dep_section(name: &str, section: &[u8]) -> Vec<u8> {
    let base = fixtures::vuln(NO_PIE);
    let dir = fixture_dir();
    let payload = dir.join(format!("{name}.zlib"));
    std::fs::write(&payload, section).expect("write payload");
    let out = dir.join(format!("{name}.elf"));
    let status = Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".dep-v0={}", payload.display()))
        .args(["--set-section-flags", ".dep-v0=noload,readonly"])
        .arg(&base)
        .arg(&out)
        .status()
        .expect("objcopy runs");
    assert!(status.success(), "objcopy failed for {name}");
    std::fs::read(&out).expect("read")
}

fn auditable(data: &[u8]) -> Result<Option<Vec<u8>>, BinaryError> {
    let file = object::File::parse(data).expect("parses");
    inspect::cargo_auditable(&file, data)
}

fn auditable_error(data: &[u8]) -> String {
    match auditable(data) {
        Err(e @ BinaryError::CargoAuditable { .. }) => e.to_string(),
        other => panic!("expected a cargo-auditable error, got {other:?}"),
    }
}

#[test]
fn cargo_auditable_dependency_list_is_read_back() {
    if !fixtures::available(NO_PIE, "cargo_auditable") {
        return;
    }
    if !tool_runs("objcopy") {
        skipped("cargo_auditable", "objcopy");
        return;
    }
    let plain = std::fs::read(fixtures::vuln(NO_PIE)).expect("read");
    assert_eq!(auditable(&plain).expect("no section is fine"), None);

    let data = with_dep_section("audit-ok", &zlib([AUDIT_JSON.to_vec()]));
    let json = auditable(&data).expect("reads").expect("present");
    assert_eq!(json, AUDIT_JSON);
    let parsed: serde_json::Value = serde_json::from_slice(&json).expect("json");
    assert_eq!(parsed["packages"][1]["name"], "itoa");
}

#[test]
fn cargo_auditable_corrupt_or_oversized_lists_are_errors() {
    if !fixtures::available(NO_PIE, "cargo_auditable_corrupt") {
        return;
    }
    if !tool_runs("objcopy") {
        skipped("cargo_auditable_corrupt", "objcopy");
        return;
    }
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let err = auditable_error(&with_dep_section("audit-noise", &noise));
    assert!(err.contains("zlib"), "{err}");

    let compressed = zlib([AUDIT_JSON.to_vec()]);
    let cut = &compressed[..compressed.len() / 2];
    let err = auditable_error(&with_dep_section("audit-cut", cut));
    assert!(err.contains("zlib") || err.contains("JSON"), "{err}");

    let err = auditable_error(&with_dep_section(
        "audit-not-json",
        &zlib([b"packages: demo".to_vec()]),
    ));
    assert!(err.contains("not JSON"), "{err}");

    // 100 MiB of zeros compress to about 100 KiB; reading stops at the cap.
    let bomb = zlib((0..100).map(|_| vec![0u8; 1 << 20]));
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let err = auditable_error(&with_dep_section("audit-bomb", &bomb));
    assert!(
        err.contains(&MAX_AUDITABLE_JSON_BYTES.to_string()) && err.contains("limit"),
        "{err}"
    );
    // Exactly at the cap is still JSON-checked, not refused for size.
    let mut at_cap = vec![b' '; usize::try_from(MAX_AUDITABLE_JSON_BYTES).unwrap() - 2];
    at_cap.extend_from_slice(b"{}");
    let data = with_dep_section("audit-at-cap", &zlib([at_cap.clone()]));
    assert_eq!(
        auditable(&data).expect("at the cap").expect("present"),
        at_cap
    );
}
