//! Golden files: a generated SBOM compared byte for byte with the one checked in under
//! `tests/it/golden/`. A change to what `generate` writes shows up as a diff in review; when it
//! is intended, `STELLA_BLESS=1 cargo test -p stella-sbom --test it golden` rewrites the file.

use std::path::PathBuf;

use stella_sbom::generate::{GenerateOptions, Subject, generate};
use stella_sbom::parse_auditable;
use stella_sbom::rootfs::{InventoryLimits, read_inventory};

use crate::common::{alpine_tree, assert_valid, binary, funcproof};
use crate::generate::AUDITABLE;

/// Compares `actual` with the golden file `name`, or rewrites it under `STELLA_BLESS=1`.
fn assert_golden(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name);
    if std::env::var_os("STELLA_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        eprintln!("STELLA_BLESS=1: rewrote {}", path.display());
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; rerun with STELLA_BLESS=1 to write it",
            path.display()
        )
    });
    if expected != actual {
        let expected = String::from_utf8_lossy(&expected);
        let actual = String::from_utf8_lossy(actual);
        let (line, (want, got)) = expected
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(actual.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "{} differs at line {}:\n  golden:    {want}\n  generated: {got}\n\
             If the change is intended, rerun with STELLA_BLESS=1 and review the diff.",
            path.display(),
            line + 1
        );
    }
}

/// A small Alpine root filesystem with two binaries (a packaged library under two paths, and a
/// Rust program with `cargo auditable` data and a FuncProof that needs it), as an image: every
/// kind of component and link `generate` writes, in a few KiB.
#[test]
fn generated_sbom_matches_its_golden_file() {
    let tree = alpine_tree();
    let inventory = read_inventory(tree.root(), &InventoryLimits::default()).unwrap();
    let mut libz = binary("/usr/lib/libz.so.1.3.1", "shared-library", 2);
    libz.soname = Some("libz.so.1".to_owned());
    libz.other_paths = vec!["/usr/lib/libz.so.1".to_owned()];
    libz.needed = vec!["libc.musl-x86_64.so.1".to_owned()];
    let mut app = binary("/usr/local/bin/app", "executable", 3);
    app.needed = vec!["libz.so.1".to_owned()];
    app.auditable = parse_auditable(AUDITABLE.as_bytes()).unwrap();
    app.funcproof = funcproof(4, 321);
    let subject = Subject {
        name: "team/app".to_owned(),
        version: Some("1.0".to_owned()),
        image_digest: Some(format!("sha256:{}", "ab".repeat(32))),
        image_ref: Some("registry.example.com/team/app:1.0".to_owned()),
    };
    let options = GenerateOptions {
        timestamp: Some("2026-01-02T03:04:05Z".to_owned()),
        // Fixed, so that a release does not rewrite the golden file.
        tool_version: "0.0.0-golden".to_owned(),
    };
    let doc = generate(&inventory, &[libz, app], &subject, &options).unwrap();
    assert_valid(&doc);
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap();
    bytes.push(b'\n');
    assert!(
        bytes.len() < 16 * 1024,
        "{} bytes: keep the golden file small",
        bytes.len()
    );
    assert_golden("alpine-image.cdx.json", &bytes);
}
