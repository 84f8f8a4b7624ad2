//! Go build information and the runtime's function table read from a real Go binary: Debian's `docker-registry` (distribution,
//! built by Debian's Go toolchain), which `.ci/run` installs as the OCI peer.

use object::Object as _;
use stella_binary::gobuild::go_buildinfo;

#[test]
fn debian_docker_registry_names_its_go_version_and_modules() {
    let path = "/usr/bin/docker-registry";
    let Ok(data) = std::fs::read(path) else {
        stella_testkit::skip(
            "debian_docker_registry_names_its_go_version_and_modules",
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    };
    let file = object::File::parse(&*data).unwrap();
    let info = go_buildinfo(&file, &data)
        .unwrap()
        .expect("a Go binary has build information");
    assert!(info.go_version.starts_with("go1."), "{}", info.go_version);
    let path = info.path.as_deref().unwrap_or_default();
    assert!(path.contains("distribution"), "{path}");
    // Debian builds from its packaged sources (GOPATH mode or a vendor tree): whatever modules
    // are recorded, each has a path and a version.
    for dep in &info.deps {
        assert!(!dep.path.is_empty() && !dep.version.is_empty(), "{dep:?}");
    }
    assert!(
        info.settings
            .iter()
            .any(|(k, _)| k == "-compiler" || k == "GOOS" || k == "CGO_ENABLED"),
        "{:?}",
        info.settings
    );
}

#[test]
fn a_binary_without_build_information_says_so() {
    let data = std::fs::read("/bin/true").unwrap();
    let file = object::File::parse(&*data).unwrap();
    assert_eq!(go_buildinfo(&file, &data).unwrap(), None);
}

#[test]
fn this_test_binary_names_the_crates_compiled_into_it() {
    let exe = std::env::current_exe().unwrap();
    let data = std::fs::read(&exe).unwrap();
    let crates = stella_binary::crate_paths::crates_in(&data);
    // stella-binary depends on object and gimli; their sources' panic locations are in here.
    for name in ["object", "gimli", "semver"] {
        let found: Vec<_> = crates.iter().filter(|c| c.name == name).collect();
        assert!(!found.is_empty(), "{name} not among {crates:?}");
        assert!(semver::Version::parse(&found[0].version).is_ok());
    }
}

#[test]
fn a_stripped_go_binary_has_its_go_functions_named_with_exact_ranges() {
    let path = "/usr/bin/docker-registry";
    let Ok(data) = std::fs::read(path) else {
        stella_testkit::skip(
            "a_stripped_go_binary_has_its_go_functions_named_with_exact_ranges",
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    };
    let file = object::File::parse(&*data).unwrap();
    // Debian strips it: no .symtab, yet the runtime's table names every Go function.
    assert!(
        file.symbols().next().is_none(),
        "expected a stripped binary"
    );
    let go = stella_binary::gopclntab::go_functions(&file, &data).unwrap();
    assert!(go.len() > 10_000, "{} Go functions", go.len());
    let serve = go
        .iter()
        .find(|f| f.name == "net/http.(*Server).Serve")
        .expect("net/http.(*Server).Serve");
    assert!(serve.end > serve.start);
    // Ranges are disjoint and in order.
    assert!(go.windows(2).all(|w| w[0].end <= w[1].start));
    // The FuncProof takes them as named functions with those exact ranges.
    let proof = stella_binary::FuncProof::build(&data).unwrap();
    let f = proof
        .functions
        .iter()
        .find(|f| f.sym == "net/http.(*Server).Serve")
        .expect("in the proof");
    assert_eq!(f.source.as_str(), "gopclntab");
    assert_eq!((f.start.0, f.end.0), (serve.start, serve.end));
}
