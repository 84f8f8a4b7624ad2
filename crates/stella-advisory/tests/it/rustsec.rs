//! The whole RustSec advisory database (`fixtures/advisories/rustsec-db`) reads, with the
//! per-function version requirements.

use std::path::PathBuf;

use stella_advisory::rustsec::Advisory;

#[test]
fn every_rustsec_advisory_reads() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/advisories/rustsec-db/crates");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&root).unwrap() {
        for f in std::fs::read_dir(krate.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "md") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 1000, "{} advisories", files.len());
    let (mut functions, mut informational) = (0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let a =
            Advisory::from_markdown(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(a.id.starts_with("RUSTSEC-"), "{}", path.display());
        assert_eq!(
            path.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy(),
            a.package,
            "{}",
            path.display()
        );
        functions += a.functions.len();
        informational += usize::from(a.informational.is_some());
    }
    assert!(
        functions > 150 && informational > 400,
        "{functions} functions, {informational} informational"
    );
}
