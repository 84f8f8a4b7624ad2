//! Every record of the Go vulnerability database (`fixtures/advisories/go-vulndb-osv`, 4,291
//! OSV records) reads, every version in its ranges is one Go's order accepts, and the symbols
//! are found where the database puts them.

use std::path::PathBuf;

use stella_advisory::osv::{Answer, Record};

fn go_vulndb() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/advisories/go-vulndb-osv");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_go_vulndb_record_reads_and_its_ranges_evaluate() {
    let records = go_vulndb();
    assert!(records.len() > 4000, "{} records", records.len());
    let (mut symbols, mut evaluated) = (0usize, 0usize);
    for (name, bytes) in &records {
        let record = Record::from_json(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        for a in &record.affected {
            symbols += a.symbols().len();
            // A version below everything: evaluating it parses every event of every range.
            let answer = a
                .affects("v0.0.0-00010101000000-000000000000")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !matches!(answer, Answer::Unknown { .. }),
                "{name}: {answer:?}"
            );
            evaluated += 1;
        }
    }
    assert!(
        evaluated > 4000 && symbols > 10_000,
        "{evaluated} entries, {symbols} symbols"
    );
}

#[test]
fn go_2022_0969_is_read_as_the_go_team_wrote_it() {
    let record = Record::from_json(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/fixtures/advisories/go-vulndb-osv/GO-2022-0969.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record.aliases, ["CVE-2022-27664", "GHSA-69cg-p879-7622"]);
    let stdlib = &record.affected[0];
    assert!(matches!(
        stdlib.affects("1.18.5").unwrap(),
        Answer::Affected { .. }
    ));
    assert_eq!(stdlib.affects("1.18.6").unwrap(), Answer::NotAffected);
    assert!(matches!(
        stdlib.affects("go1.19").unwrap(),
        Answer::Affected { .. }
    ));
    let symbols = stdlib.symbols();
    assert!(
        symbols
            .iter()
            .any(|s| s.path == "net/http" && s.name == "Server.ServeTLS")
    );
    let xnet = &record.affected[1];
    assert!(matches!(
        xnet.affects("v0.0.0-20220525230936-793ad666bf5e").unwrap(),
        Answer::Affected { .. }
    ));
    assert_eq!(
        xnet.affects("v0.0.0-20220906165146-f3363e06e74c").unwrap(),
        Answer::NotAffected
    );
}
