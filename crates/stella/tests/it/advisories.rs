//! `stella advisories import | list | show` on the embedded SQLite database: the whole Go
//! vulnerability database and the whole RustSec database imported, found by alias, listed by
//! package; re-importing changes nothing; a malformed record leaves the database as it was.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_DB")
        .env("STELLA_HOME", home);
    cmd
}

fn advisories(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/advisories")
        .join(rel)
}

fn json(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn whole_databases_import_once_and_are_found_by_alias() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = json(
        stella(&home)
            .args(["advisories", "import", "--json"])
            .arg(advisories("go-vulndb-osv"))
            .arg(advisories("rustsec-db")),
    );
    assert_eq!(first["schema"], "stella.advisories.import/v1");
    let added = first["added"].as_u64().unwrap();
    assert!(added > 5000, "{first}");
    assert_eq!(first["total"].as_u64().unwrap(), added);
    assert!(home.join("stella.db").is_file());
    // Again: nothing changes.
    let again = json(
        stella(&home)
            .args(["advisories", "import", "--json"])
            .arg(advisories("go-vulndb-osv")),
    );
    assert_eq!(again["added"], 0);
    assert_eq!(
        again["unchanged"].as_u64().unwrap(),
        again["files"].as_u64().unwrap()
    );
    // By alias; RustSec keeps each function's version requirements.
    let shown = json(stella(&home).args(["advisories", "show", "--json", "CVE-2019-25008"]));
    assert_eq!(shown["id"], "RUSTSEC-2019-0033");
    let symbols = &shown["packages"][0]["symbols"];
    assert_eq!(symbols[0]["name"], "http::header::HeaderMap::reserve");
    assert_eq!(symbols[0]["versions"], "<0.1.20");
    let listed = json(stella(&home).args([
        "advisories",
        "list",
        "--json",
        "--ecosystem",
        "Go",
        "--package",
        "stdlib",
    ]));
    let ids: Vec<&str> = listed["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"GO-2022-0969") && ids.len() > 100,
        "{}",
        ids.len()
    );
    assert!(ids.iter().all(|i| i.starts_with("GO-")));
    // Unknown: exit 2 saying so.
    let out = stella(&home)
        .args(["advisories", "show", "CVE-1999-0001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_malformed_record_imports_nothing_unless_it_is_skipped_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let feed = dir.path().join("feed");
    std::fs::create_dir_all(&feed).unwrap();
    std::fs::copy(
        advisories("go-vulndb-osv/GO-2022-0969.json"),
        feed.join("GO-2022-0969.json"),
    )
    .unwrap();
    std::fs::write(
        feed.join("broken.json"),
        br#"{"id":"X","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0","fixed":"2.0.0"}]}]}]}"#,
    )
    .unwrap();
    let out = stella(&home)
        .args(["advisories", "import"])
        .arg(&feed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.json") && stderr.contains("/affected/0/ranges/0/events/0"),
        "{stderr}"
    );
    // Nothing went in: the database does not even hold the good record.
    let listed = json(stella(&home).args(["advisories", "list", "--json"]));
    assert_eq!(listed["advisories"].as_array().unwrap().len(), 0);
    let skipped = json(
        stella(&home)
            .args(["advisories", "import", "--json", "--skip-invalid"])
            .arg(&feed),
    );
    assert_eq!(skipped["added"], 1);
    assert!(
        skipped["skipped"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("broken.json")
    );
}
