//! The symbol rules against a real binary: the Go vulnerability database's GO-2022-0969 names
//! `net/http` methods as `Server.Serve`; Debian's stripped `docker-registry` (Go 1.19.8, which
//! that advisory affects) holds them as `net/http.(*Server).Serve`, named by its `.gopclntab`.

use std::path::PathBuf;

use stella_advisory::osv::Record;
use stella_advisory::symbols::{Candidate, Language, Rule, Search, search};

#[test]
fn go_vulndb_symbols_are_found_in_a_stripped_go_binary() {
    let Ok(data) = std::fs::read("/usr/bin/docker-registry") else {
        stella_testkit::skip(
            "go_vulndb_symbols_are_found_in_a_stripped_go_binary",
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    };
    let proof = stella_binary::FuncProof::build(&data).unwrap();
    let candidates: Vec<Candidate<'_>> = proof
        .functions
        .iter()
        .map(|f| Candidate {
            name: &f.sym,
            demangled: f.demangled.as_deref(),
        })
        .collect();
    let record = Record::from_json(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/fixtures/advisories/go-vulndb-osv/GO-2022-0969.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let stdlib = &record.affected[0];
    let serve = stdlib
        .symbols()
        .into_iter()
        .find(|s| s.path == "net/http" && s.name == "Server.Serve")
        .unwrap();
    match search(&serve, Language::Go, &candidates) {
        Search::Present(hits) => {
            let hit = hits.iter().find(|h| h.rule.is_certain()).unwrap();
            assert_eq!(hit.rule, Rule::GoPointerReceiver);
            assert_eq!(candidates[hit.index].name, "net/http.(*Server).Serve");
        }
        other => panic!("{other:?}"),
    }
    // The x/net symbols of the same advisory are not in this binary (it vendors no x/net
    // http2 server): absent, not uncertain.
    let xnet = record.affected[1].symbols();
    assert!(!xnet.is_empty());
    for s in &xnet {
        assert_eq!(
            search(s, Language::Go, &candidates),
            Search::Absent,
            "{s:?}"
        );
    }
}
