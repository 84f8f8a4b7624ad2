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

fn overlay_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../advisories/overlay")
}

fn listed_ids(home: &Path) -> Vec<String> {
    json(stella(home).args(["advisories", "list", "--json"]))["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_overlay_imports_as_its_own_source_with_its_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let imported = json(
        stella(&home)
            .args(["advisories", "import", "--json"])
            .arg(overlay_dir()),
    );
    assert_eq!(imported["added"], 5, "{imported}");
    // Found by its CVE; stored as the overlay, the library named by its repository.
    let shown = json(stella(&home).args(["advisories", "show", "--json", "CVE-2022-37434"]));
    assert_eq!(shown["id"], "STELLA-CVE-2022-37434");
    assert_eq!(shown["source"], "overlay");
    let package = &shown["packages"][0];
    assert_eq!(package["ecosystem"], "GIT");
    assert_eq!(package["name"], "https://github.com/madler/zlib");
    assert_eq!(package["purl"], "pkg:generic/zlib");
    assert_eq!(
        package["symbols"],
        serde_json::json!([{"path": "", "name": "inflateGetHeader"}])
    );
    let listed = json(stella(&home).args([
        "advisories",
        "list",
        "--json",
        "--ecosystem",
        "GIT",
        "--package",
        "https://github.com/openssl/openssl",
    ]));
    let ids: Vec<&str> = listed["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["STELLA-CVE-2022-0778", "STELLA-CVE-2024-5535"]);
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// An `all.zip` of real records: two Go vulndb records, an overlay record, a RustSec advisory.
fn export_zip() -> Vec<u8> {
    let go1 = std::fs::read(advisories("go-vulndb-osv/GO-2022-0969.json")).unwrap();
    let go2 = std::fs::read(advisories("go-vulndb-osv/GO-2023-1571.json")).unwrap();
    let overlay = std::fs::read(overlay_dir().join("STELLA-CVE-2023-38545.json")).unwrap();
    let rustsec = std::fs::read(advisories("rustsec-db/crates/http/RUSTSEC-2019-0033.md")).unwrap();
    zip_of(&[
        ("GO-2022-0969.json", &go1),
        ("GO-2023-1571.json", &go2),
        ("STELLA-CVE-2023-38545.json", &overlay),
        ("RUSTSEC-2019-0033.md", &rustsec),
    ])
}

fn refused(home: &Path, arg: &std::ffi::OsStr) -> String {
    let out = stella(home)
        .args(["advisories", "import"])
        .arg(arg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_zip_export_imports_and_bad_archives_import_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // Bad archives first: each refused by name, the database left empty.
    let bomb = dir.path().join("bomb.zip");
    std::fs::write(
        &bomb,
        zip_of(&[
            (
                "GO-2022-0969.json",
                &std::fs::read(advisories("go-vulndb-osv/GO-2022-0969.json")).unwrap(),
            ),
            ("GO-0000-0000.json", &vec![b' '; 1 << 20]),
        ]),
    )
    .unwrap();
    let stderr = refused(&home, bomb.as_os_str());
    assert!(
        stderr.contains("GO-0000-0000.json") && stderr.contains("zip bomb"),
        "{stderr}"
    );
    let escaping = dir.path().join("escaping.zip");
    std::fs::write(&escaping, zip_of(&[("../../GO-2022-0969.json", b"{}")])).unwrap();
    let stderr = refused(&home, escaping.as_os_str());
    assert!(stderr.contains("\"../../GO-2022-0969.json\""), "{stderr}");
    let not_zip = dir.path().join("all.zip");
    std::fs::write(&not_zip, b"<html>not found</html>").unwrap();
    let stderr = refused(&home, not_zip.as_os_str());
    assert!(stderr.contains("not a readable zip archive"), "{stderr}");
    assert!(listed_ids(&home).is_empty());
    // A good one: every entry in, each by its own reader.
    let good = dir.path().join("export.zip");
    std::fs::write(&good, export_zip()).unwrap();
    let imported = json(
        stella(&home)
            .args(["advisories", "import", "--json"])
            .arg(&good),
    );
    assert_eq!(imported["added"], 4, "{imported}");
    assert_eq!(
        listed_ids(&home),
        [
            "GO-2022-0969",
            "GO-2023-1571",
            "RUSTSEC-2019-0033",
            "STELLA-CVE-2023-38545"
        ]
    );
    let shown = json(stella(&home).args(["advisories", "show", "--json", "CVE-2023-38545"]));
    assert_eq!(shown["source"], "overlay");
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 answering a bounded number of requests from
/// `routes` (path → status line, extra headers, body); everything else is a 404.
fn serve(routes: Vec<(&'static str, &'static str, String, Vec<u8>)>, requests: usize) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
            let (status, headers, body) = routes
                .iter()
                .find(|r| r.0 == path)
                .map(|r| (r.1, r.2.clone(), r.3.clone()))
                .unwrap_or(("404 Not Found", String::new(), b"no such file".to_vec()));
            let length = if headers.contains("Content-Length") {
                String::new()
            } else {
                format!("Content-Length: {}\r\n", body.len())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{length}{headers}Connection: close\r\n\r\n"
            );
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn urls_of_a_zip_and_of_a_record_import_and_bad_answers_import_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let record = std::fs::read(advisories("go-vulndb-osv/GO-2022-0969.json")).unwrap();
    let base = serve(
        vec![
            ("/osv/all.zip", "200 OK", String::new(), export_zip()),
            ("/osv/GO-2022-0969.json", "200 OK", String::new(), record),
            (
                // Declares 2 GiB: refused before a byte of it is read.
                "/osv/huge.zip",
                "200 OK",
                "Content-Length: 2147483648\r\n".to_owned(),
                b"PK".to_vec(),
            ),
        ],
        8,
    );
    let stderr = refused(&home, format!("{base}/osv/missing.zip").as_ref());
    assert!(stderr.contains("404"), "{stderr}");
    let stderr = refused(&home, format!("{base}/osv/huge.zip").as_ref());
    assert!(stderr.contains("larger than the limit"), "{stderr}");
    // One bad URL among good ones: nothing imported.
    let out = stella(&home)
        .args(["advisories", "import"])
        .arg(format!("{base}/osv/GO-2022-0969.json"))
        .arg(format!("{base}/osv/missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(listed_ids(&home).is_empty());
    let imported = json(
        stella(&home)
            .args(["advisories", "import", "--json"])
            .arg(format!("{base}/osv/GO-2022-0969.json"))
            .arg(format!("{base}/osv/all.zip")),
    );
    // The record, then the zip's four entries, one of which is the same record: unchanged.
    assert_eq!(imported["files"], 5, "{imported}");
    assert_eq!(imported["added"], 4, "{imported}");
    assert_eq!(imported["unchanged"], 1, "{imported}");
    assert_eq!(listed_ids(&home).len(), 4);
}

#[test]
fn on_postgresql_the_same_import_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let server = match stella_testkit::postgres::Server::start(dir.path()) {
        Ok(server) => server,
        Err(why) => {
            stella_testkit::skip("on_postgresql_the_same_import_list_and_show", &why);
            return;
        }
    };
    let home = tempfile::tempdir().unwrap();
    let with_db = |args: &[&str]| {
        let mut cmd = stella(home.path());
        cmd.args(args).env("STELLA_DB", &server.url);
        cmd
    };
    let imported = json(
        with_db(&["advisories", "import", "--json"])
            .arg(overlay_dir())
            .arg(advisories("go-vulndb-osv/GO-2022-0969.json"))
            .arg(advisories("rustsec-db/crates/http/RUSTSEC-2019-0033.md")),
    );
    assert_eq!(imported["added"], 7, "{imported}");
    assert_eq!(imported["total"], 7, "{imported}");
    // Nothing went to the SQLite default.
    assert!(!home.path().join("stella.db").exists());
    let again = json(with_db(&["advisories", "import", "--json"]).arg(overlay_dir()));
    assert_eq!(again["unchanged"], 5, "{again}");
    let shown = json(&mut with_db(&[
        "advisories",
        "show",
        "--json",
        "CVE-2019-25008",
    ]));
    assert_eq!(shown["id"], "RUSTSEC-2019-0033");
    assert_eq!(shown["packages"][0]["symbols"][0]["versions"], "<0.1.20");
    let shown = json(&mut with_db(&[
        "advisories",
        "show",
        "--json",
        "CVE-2024-5535",
    ]));
    assert_eq!(shown["source"], "overlay");
    assert_eq!(
        shown["packages"][0]["symbols"][0]["name"],
        "SSL_select_next_proto"
    );
    let listed = json(&mut with_db(&[
        "advisories",
        "list",
        "--json",
        "--ecosystem",
        "Go",
    ]));
    assert_eq!(listed["advisories"][0]["id"], "GO-2022-0969");
    assert_eq!(listed["advisories"].as_array().unwrap().len(), 1);
}
