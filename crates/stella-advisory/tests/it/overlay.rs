//! Stella's overlay (`advisories/overlay`, one OSV record per C-library CVE) read as
//! `stella assess` reads it: every record parses, its upstream ranges answer for releases on
//! both sides of each fix, and its symbols, libraries and distribution packages are there.

use std::path::PathBuf;

use stella_advisory::osv::{Answer, DistroPackage, OVERLAY_ID_PREFIX, Record};
use stella_advisory::version::Ecosystem;

fn overlay(name: &str) -> Record {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../advisories/overlay")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Record::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn affected(record: &Record, version: &str) -> bool {
    match record.affected[0].affects(version) {
        Ok(Answer::Affected { .. }) => true,
        Ok(Answer::NotAffected) => false,
        other => panic!("{} {version}: {other:?}", record.id),
    }
}

#[test]
fn every_overlay_record_reads_with_its_symbols_libraries_and_packages() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../advisories/overlay");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in &names {
        let record = overlay(name);
        assert!(record.id.starts_with(OVERLAY_ID_PREFIX), "{name}");
        assert_eq!(format!("{}.json", record.id), *name);
        let cve = record.id.trim_start_matches(OVERLAY_ID_PREFIX);
        assert_eq!(record.aliases, [cve]);
        for a in &record.affected {
            assert_eq!(a.ecosystem(), Some(Ecosystem::Upstream), "{name}");
            let o = a.overlay().unwrap().unwrap();
            assert!(!o.symbols.is_empty() && !o.libraries.is_empty(), "{name}");
            // The symbols the matcher sees are the overlay's, as C names without a path.
            let symbols: Vec<String> = a.symbols().into_iter().map(|s| s.name).collect();
            let mut listed = o.symbols.clone();
            listed.sort();
            assert_eq!(symbols, listed, "{name}");
            assert!(a.symbols().iter().all(|s| s.path.is_empty()));
            for distro in ["Debian", "Alpine"] {
                assert!(
                    o.packages.iter().any(|p| p.ecosystem == distro),
                    "{name}: no {distro} package"
                );
            }
        }
    }
}

#[test]
fn upstream_ranges_answer_on_both_sides_of_each_fix() {
    let zlib = overlay("STELLA-CVE-2022-37434.json");
    for (v, expected) in [
        ("1.2.2", false),
        ("1.2.2.1", true),
        ("1.2.11", true),
        ("1.2.12", true),
        ("1.2.13", false),
        ("1.3.1", false),
    ] {
        assert_eq!(affected(&zlib, v), expected, "zlib {v}");
    }
    let bn = overlay("STELLA-CVE-2022-0778.json");
    for (v, expected) in [
        ("1.0.1u", false),
        ("1.0.2", true),
        ("1.0.2zc", true),
        ("1.0.2zd", false),
        ("1.1.0l", false),
        ("1.1.1", true),
        ("1.1.1m", true),
        ("1.1.1n", false),
        ("3.0.1", true),
        ("3.0.2", false),
    ] {
        assert_eq!(affected(&bn, v), expected, "openssl {v} (CVE-2022-0778)");
    }
    let npn = overlay("STELLA-CVE-2024-5535.json");
    for (v, expected) in [
        ("1.0.2zj", true),
        ("1.0.2zk", false),
        ("1.1.1y", true),
        ("1.1.1za", false),
        ("3.0.14", true),
        ("3.0.15", false),
        ("3.1.6", true),
        ("3.1.7", false),
        ("3.2.2", true),
        ("3.2.3", false),
        ("3.3.1", true),
        ("3.3.2", false),
        ("3.4.0", false),
    ] {
        assert_eq!(affected(&npn, v), expected, "openssl {v} (CVE-2024-5535)");
    }
    let webp = overlay("STELLA-CVE-2023-4863.json");
    for (v, expected) in [
        ("0.4.4", false),
        ("0.5.0", true),
        ("1.3.1", true),
        ("1.3.2", false),
    ] {
        assert_eq!(affected(&webp, v), expected, "libwebp {v}");
    }
    let curl = overlay("STELLA-CVE-2023-38545.json");
    for (v, expected) in [
        ("7.68.0", false),
        ("7.69.0", true),
        ("8.3.0", true),
        ("8.4.0", false),
    ] {
        assert_eq!(affected(&curl, v), expected, "curl {v}");
    }
    // A release spelling the ordering refuses is an error, never a guess.
    assert!(curl.affected[0].affects("8.4.0-DEV").is_err());
}

#[test]
fn an_overlay_entry_of_the_wrong_shape_is_refused_by_name() {
    let bad = br#"{"id":"STELLA-CVE-0000-0001","affected":[{"package":{"ecosystem":"GIT","name":"https://example.invalid/lib"},
        "ecosystem_specific":{"symbols":["f"],"librairies":["libx.so.1"]}}]}"#;
    let record = Record::from_json(bad).unwrap();
    let err = record.affected[0].overlay().unwrap_err().to_string();
    assert!(err.contains("librairies"), "{err}");
    let ok = br#"{"id":"STELLA-CVE-0000-0002","affected":[{"package":{"ecosystem":"GIT","name":"https://example.invalid/lib"},
        "ecosystem_specific":{"symbols":["f"],"packages":[{"ecosystem":"Debian","name":"lib"}]}}]}"#;
    let o = Record::from_json(ok).unwrap().affected[0]
        .overlay()
        .unwrap()
        .unwrap();
    assert_eq!(
        o.packages,
        [DistroPackage {
            ecosystem: "Debian".to_owned(),
            name: "lib".to_owned()
        }]
    );
    assert!(o.libraries.is_empty());
}
