//! The verdict rules of `stella_policy::assess`, one test per row of the table, on
//! FuncProofs of known content (and of Debian's real `libz.so.1`, which is stripped).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use stella_advisory::osv::Record;
use stella_advisory::rustsec;
use stella_binary::proof::FuncProof;
use stella_policy::assess::{
    self, Advisory, Basis, Body, Justification, LogRef, Naming, Proven, Status, Verdict,
};
use stella_policy::report;

const LIBZ: &str = "/usr/lib/x86_64-linux-gnu/libz.so.1";

/// A FuncProof whose functions are `(name, source)`, each 16 bytes apart.
fn proof(functions: &[(&str, &str)]) -> FuncProof {
    let mut list: Vec<Value> = functions
        .iter()
        .enumerate()
        .map(|(i, (name, source))| {
            json!({
                "blake3": format!("{:064x}", i + 1),
                "start": format!("0x{:x}", 0x1000 + i * 16),
                "end": format!("0x{:x}", 0x1000 + i * 16 + 16),
                "source": source,
                "sym": name,
            })
        })
        .collect();
    list.sort_by_key(|f| f["start"].as_str().map(str::to_owned));
    let doc = json!({
        "schema": "stella.funcproof/v1",
        "buildId": "c89156ebdabf859f4ee70cb0c303004dccf1ae51",
        "identity": {"arch": "x86_64", "buildIdSource": "gnu-note", "format": "elf"},
        "file": {"blake3": format!("{:064x}", 7), "sha256": format!("sha256:{:064x}", 9), "size": 4096},
        "sections": {},
        "functions": list,
        "traces": [],
        "meta": {"tool": "stella", "version": "0.1.0"},
    });
    FuncProof::from_json(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn binary(path: &str, funcproof: &str, inner: Value) -> Value {
    json!({
        "type": "application", "bom-ref": format!("file:{path}"), "name": path,
        "hashes": [{"alg": "SHA-256", "content": format!("{:064x}", 9)}],
        "externalReferences": [{"type": "evidence", "url": format!("urn:stella:funcproof:{funcproof}")}],
        "components": inner,
    })
}

fn inside(path: &str, purl: &str, found_by: &str) -> Value {
    json!({"type": "library", "bom-ref": format!("file:{path}#{purl}"), "name": purl, "purl": purl,
           "properties": [{"name": "stella:found-by", "value": found_by}]})
}

fn sbom(components: Vec<Value>) -> Value {
    json!({
        "bomFormat": "CycloneDX", "specVersion": "1.7",
        "metadata": {"timestamp": "2026-01-01T00:00:00Z",
                     "component": {"type": "container", "bom-ref": "pkg:oci/app@sha256%3A0a", "purl": "pkg:oci/app@sha256%3A0a"}},
        "components": components,
    })
}

fn rustsec(
    id: &str,
    package: &str,
    patched: &str,
    functions: &[(&str, &str)],
    aliases: &[&str],
) -> Advisory {
    let functions: String = functions
        .iter()
        .map(|(f, req)| format!("\"{f}\" = [\"{req}\"]\n"))
        .collect();
    let aliases: Vec<String> = aliases.iter().map(|a| format!("\"{a}\"")).collect();
    let text = format!(
        "```toml\n[advisory]\nid = \"{id}\"\npackage = \"{package}\"\ndate = \"2024-01-01\"\n\
         aliases = [{}]\n\n[versions]\npatched = [\"{patched}\"]\n\n[affected.functions]\n{functions}```\n\n# A flaw\n",
        aliases.join(", ")
    );
    let a = rustsec::Advisory::from_markdown(&text).unwrap_or_else(|e| panic!("{e}"));
    Advisory {
        id: id.to_owned(),
        aliases: a.aliases.clone(),
        source: "rustsec".to_owned(),
        summary: a.title.clone(),
        body: Body::RustSec(a),
    }
}

fn osv(doc: Value, source: &str) -> Advisory {
    let r = Record::from_json(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    Advisory {
        id: r.id.clone(),
        aliases: r.aliases.clone(),
        source: source.to_owned(),
        summary: r.summary.clone(),
        body: Body::Osv(r),
    }
}

struct Case {
    sbom: Value,
    proofs: Vec<(String, FuncProof)>,
    advisories: Vec<Advisory>,
    asked: Vec<String>,
    runtime: Option<stella_policy::runtime::Evidence>,
    runtime_policy: stella_policy::runtime::Policy,
    now: Option<&'static str>,
}

impl Case {
    fn run(&self) -> assess::Assessment {
        let log = [LogRef {
            origin: "log.example".to_owned(),
            index: 3,
        }];
        let proofs: BTreeMap<String, Proven<'_>> = self
            .proofs
            .iter()
            .map(|(d, p)| {
                (
                    d.clone(),
                    Proven {
                        proof: p,
                        log: &log,
                    },
                )
            })
            .collect();
        assess::assess(&assess::Input {
            subject: "pkg:oci/app@sha256%3A0a".to_owned(),
            sbom_id: "sha256:5b".to_owned(),
            sbom: &self.sbom,
            proofs: &proofs,
            advisories: &self.advisories,
            asked: &self.asked,
            runtime: self.runtime.as_ref(),
            runtime_policy: self.runtime_policy,
            now: self
                .now
                .map(|t| t.parse().unwrap_or_else(|e| panic!("{e}"))),
        })
    }
}

const FP_A: &str = "sha256:aa";
const FP_B: &str = "sha256:bb";

/// Two binaries holding the same crate; one calls the vulnerable function, one does not.
fn two_rust_binaries(advisory: Advisory) -> Case {
    let crate_purl = "pkg:cargo/smallvec@1.6.0";
    Case {
        sbom: sbom(vec![
            binary(
                "/app/uses",
                FP_A,
                json!([inside("/app/uses", crate_purl, "crate-path")]),
            ),
            binary(
                "/app/skips",
                FP_B,
                json!([inside("/app/skips", crate_purl, "crate-path")]),
            ),
        ]),
        proofs: vec![
            (
                FP_A.to_owned(),
                proof(&[
                    ("main", "symtab"),
                    (
                        "_ZN8smallvec17SmallVec$LT$A$GT$11insert_many17h0123456789abcdefE",
                        "symtab",
                    ),
                ]),
            ),
            (
                FP_B.to_owned(),
                proof(&[
                    ("main", "symtab"),
                    ("_ZN3app3run17h0123456789abcdefE", "symtab"),
                ]),
            ),
        ],
        advisories: vec![advisory],
        asked: Vec::new(),
        runtime: None,
        runtime_policy: Default::default(),
        now: None,
    }
}

fn smallvec_advisory() -> Advisory {
    rustsec(
        "RUSTSEC-2021-0003",
        "smallvec",
        ">= 1.6.1",
        &[("smallvec::SmallVec::insert_many", ">= 0.3.0, < 1.6.1")],
        &["CVE-2021-25900"],
    )
}

fn only<'a>(a: &'a assess::Assessment, path: &str) -> &'a Verdict {
    let found: Vec<&Verdict> = a
        .verdicts
        .iter()
        .filter(|v| v.binary.as_ref().is_some_and(|b| b.path == path))
        .collect();
    assert_eq!(found.len(), 1, "{path}: {:#?}", a.verdicts);
    found[0]
}

#[test]
fn two_binaries_with_the_same_crate_get_their_own_verdicts() {
    let a = two_rust_binaries(smallvec_advisory()).run();
    assert_eq!(a.verdicts.len(), 2);
    let uses = only(&a, "/app/uses");
    assert_eq!(uses.status, Status::UnderInvestigation);
    assert_eq!(uses.basis, Basis::Symbols);
    assert_eq!(uses.vulnerability, "CVE-2021-25900", "named by its CVE");
    assert_eq!(uses.aliases, ["RUSTSEC-2021-0003"]);
    let found = &uses.symbols[0].found;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule, "rust_defining_path");
    assert_eq!(found[0].start, "0x1010");
    assert!(
        uses.note.contains("sha256:aa") && uses.note.contains("log.example entry 3"),
        "{}",
        uses.note
    );

    let skips = only(&a, "/app/skips");
    assert_eq!(skips.status, Status::NotAffected);
    assert_eq!(
        skips.justification,
        Some(Justification::VulnerableCodeNotPresent)
    );
    assert_eq!(skips.symbols[0].outcome, "absent");
    assert!(
        skips.note.contains("smallvec::SmallVec::insert_many"),
        "{}",
        skips.note
    );
}

#[test]
fn a_patched_version_is_not_listed_unless_asked() {
    let mut case = two_rust_binaries(rustsec(
        "RUSTSEC-2021-0003",
        "smallvec",
        ">= 1.0.0",
        &[("smallvec::SmallVec::insert_many", ">= 0.3.0")],
        &[],
    ));
    assert!(case.run().verdicts.is_empty());
    case.asked = vec!["RUSTSEC-2021-0003".to_owned()];
    let a = case.run();
    assert_eq!(a.verdicts.len(), 2);
    for v in &a.verdicts {
        assert_eq!(v.status, Status::NotAffected);
        assert_eq!(v.basis, Basis::Version);
    }
}

#[test]
fn an_advisory_without_symbols_gives_a_version_level_verdict() {
    let a = two_rust_binaries(rustsec(
        "RUSTSEC-2099-0001",
        "smallvec",
        ">= 9.0.0",
        &[],
        &[],
    ))
    .run();
    assert_eq!(a.verdicts.len(), 2);
    for v in &a.verdicts {
        assert_eq!(v.status, Status::UnderInvestigation);
        assert_eq!(v.basis, Basis::Version);
        assert!(v.note.contains("version-level"), "{}", v.note);
    }
}

#[test]
fn only_an_uncertain_match_proves_neither_presence_nor_absence() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.proofs[1].1 = proof(&[(
        "_ZN8smallvec17SmallVec$LT$A$GT$16insert_many_impl17h0123456789abcdefE",
        "symtab",
    )]);
    let skips = case.run();
    let v = only(&skips, "/app/skips");
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.symbols[0].outcome, "uncertain");
    assert_eq!(v.symbols[0].found[0].rule, "rust_inlined_helper");
}

#[test]
fn a_stripped_binary_never_proves_absence() {
    // Only the dynamic symbol table: absence by name proves nothing.
    let mut case = two_rust_binaries(smallvec_advisory());
    case.proofs[1].1 = proof(&[("main", "dynsym"), ("sub_1010", "eh_frame")]);
    let v = only(&case.run(), "/app/skips").clone();
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(
        v.binary.as_ref().map(|b| b.naming),
        Some(Naming::ExportedOnly)
    );
    assert!(
        v.note.contains("cannot show a function is absent"),
        "{}",
        v.note
    );
    // No names at all.
    case.proofs[1].1 = proof(&[("sub_1000", "eh_frame")]);
    let v = only(&case.run(), "/app/skips").clone();
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.binary.as_ref().map(|b| b.naming), Some(Naming::None));
}

#[test]
fn a_binary_without_a_verified_funcproof_is_judged_by_version_only() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.proofs.truncate(1);
    let v = only(&case.run(), "/app/skips").clone();
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.basis, Basis::Version);
    assert!(v.binary.as_ref().is_some_and(|b| b.funcproof.is_none()));
}

#[test]
fn asked_vulnerabilities_that_match_nothing_are_answered_from_the_sbom() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.advisories.push(rustsec(
        "RUSTSEC-2020-0001",
        "other-crate",
        ">= 2.0.0",
        &[],
        &["CVE-2020-0001"],
    ));
    case.asked = vec!["CVE-2020-0001".to_owned(), "CVE-2099-9999".to_owned()];
    let a = case.run();
    let image_wide: Vec<&Verdict> = a
        .verdicts
        .iter()
        .filter(|v| v.basis == Basis::Sbom)
        .collect();
    assert_eq!(image_wide.len(), 2);
    let known = image_wide
        .iter()
        .find(|v| v.vulnerability == "CVE-2020-0001")
        .copied();
    let known = known.unwrap_or_else(|| panic!("{image_wide:#?}"));
    assert_eq!(known.status, Status::NotAffected);
    assert_eq!(
        known.justification,
        Some(Justification::ComponentNotPresent)
    );
    assert!(
        known.note.contains("sha256:5b"),
        "cites the SBOM: {}",
        known.note
    );
    let unknown = image_wide
        .iter()
        .find(|v| v.vulnerability == "CVE-2099-9999")
        .copied();
    assert_eq!(unknown.map(|v| v.status), Some(Status::UnderInvestigation));
}

#[test]
fn advisories_sharing_an_alias_are_one_vulnerability() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.advisories.push(osv(
        json!({"id": "GHSA-43w2-9j62-hq99", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2021-25900"],
               "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec"},
                             "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.3.0"}, {"fixed": "1.6.1"}]}]}]}),
        "osv",
    ));
    let a = case.run();
    assert_eq!(a.verdicts.len(), 2, "{:#?}", a.verdicts);
    let v = only(&a, "/app/uses");
    assert_eq!(
        v.advisories,
        ["GHSA-43w2-9j62-hq99 (osv)", "RUSTSEC-2021-0003 (rustsec)"]
    );
    assert_eq!(
        v.version.as_ref().map(|f| f.fixed.clone()),
        Some(vec!["1.6.1".to_owned(), ">=1.6.1".to_owned()])
    );
}

#[test]
fn go_symbols_are_matched_with_their_receivers() {
    let case = Case {
        sbom: sbom(vec![binary(
            "/usr/bin/server",
            FP_A,
            json!([inside(
                "/usr/bin/server",
                "pkg:golang/stdlib@1.19.8",
                "go-buildinfo"
            )]),
        )]),
        proofs: vec![(
            FP_A.to_owned(),
            proof(&[
                ("net/http.(*Server).Serve", "gopclntab"),
                ("main.main", "gopclntab"),
            ]),
        )],
        advisories: vec![osv(
            json!({"id": "GO-2022-0969", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2022-27664"],
                   "affected": [{"package": {"ecosystem": "Go", "name": "stdlib"},
                                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.18.6"}, {"introduced": "1.19.0-0"}, {"fixed": "1.19.1"}]}],
                                 "ecosystem_specific": {"imports": [{"path": "net/http", "symbols": ["Server.Serve", "ListenAndServe"]}]}}]}),
            "osv",
        )],
        asked: Vec::new(),
        runtime: None,
        runtime_policy: Default::default(),
        now: None,
    };
    // 1.19.8 is fixed: nothing to say.
    assert!(case.run().verdicts.is_empty());
    let mut older = case;
    older.sbom = sbom(vec![binary(
        "/usr/bin/server",
        FP_A,
        json!([inside(
            "/usr/bin/server",
            "pkg:golang/stdlib@1.19.0",
            "go-buildinfo"
        )]),
    )]);
    let a = older.run();
    let v = only(&a, "/usr/bin/server");
    assert_eq!(v.status, Status::UnderInvestigation);
    let outcomes: Vec<(&str, &str)> = v
        .symbols
        .iter()
        .map(|s| (s.name.as_str(), s.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [("ListenAndServe", "absent"), ("Server.Serve", "present")]
    );
    assert_eq!(v.symbols[1].found[0].rule, "go_pointer_receiver");
}

#[test]
fn the_overlay_names_the_functions_of_a_library_a_distribution_package_ships() {
    let Ok(bytes) = std::fs::read(LIBZ) else {
        stella_testkit::skip(
            "the_overlay_names_the_functions_of_a_library_a_distribution_package_ships",
            &format!("{LIBZ} is missing"),
        );
        return;
    };
    let libz = FuncProof::build(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let overlay = |symbol: &str| {
        osv(
            json!({"id": "STELLA-CVE-2022-37434", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2022-37434"],
                   "affected": [{"package": {"ecosystem": "GIT", "name": "https://github.com/madler/zlib", "purl": "pkg:generic/zlib"},
                                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.13"}]}],
                                 "ecosystem_specific": {"symbols": [symbol], "libraries": ["libz.so.1"],
                                                        "packages": [{"ecosystem": "Debian", "name": "zlib"}]}}]}),
            "overlay",
        )
    };
    let package = json!({
        "type": "library", "bom-ref": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1",
        "purl": "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&upstream=zlib&distro=debian-12",
        "components": [binary("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", FP_A, json!([]))],
    });
    let mut case = Case {
        sbom: sbom(vec![package]),
        proofs: vec![(FP_A.to_owned(), libz)],
        advisories: vec![overlay("inflateGetHeader")],
        asked: Vec::new(),
        runtime: None,
        runtime_policy: Default::default(),
        now: None,
    };
    let a = case.run();
    let v = only(&a, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13");
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.symbols[0].outcome, "present");
    assert_eq!(
        v.version.as_ref().map(|f| f.answer),
        Some(assess::VersionAnswer::Unknown),
        "backports"
    );
    // Debian's libz is stripped: a function that is not exported is not proven absent.
    case.advisories = vec![overlay("inflate_table_not_exported")];
    let a = case.run();
    let v = only(&a, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13");
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(
        v.binary.as_ref().map(|b| b.naming),
        Some(Naming::ExportedOnly)
    );
}

#[test]
fn the_same_inputs_give_the_same_evidence_and_vex() {
    let case = two_rust_binaries(smallvec_advisory());
    let (a, b) = (case.run(), case.run());
    let (ea, ida) = report::evidence(&a).unwrap_or_else(|e| panic!("{e}"));
    let (eb, idb) = report::evidence(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ea, eb);
    assert_eq!(ida, idb);
    let options = report::VexOptions {
        author: "Stella".to_owned(),
        timestamp: "2026-01-01T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        tooling: "stella test".to_owned(),
    };
    let vex = report::vex(&a, &ida, &options);
    let bytes = stella_vex::read::write(&vex, stella_vex::VexFormat::OpenVex)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        bytes,
        stella_vex::read::write(
            &report::vex(&b, &idb, &options),
            stella_vex::VexFormat::OpenVex
        )
        .unwrap_or_else(|e| panic!("{e}"))
    );
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let statements = doc["statements"].as_array().cloned().unwrap_or_default();
    assert_eq!(statements.len(), 2);
    for s in &statements {
        let id = s["@id"].as_str().unwrap_or_default();
        assert!(
            id.starts_with(&format!("urn:stella:assessment:{ida}:")),
            "{id}"
        );
        let product = &s["products"][0];
        let id = product["@id"].as_str().unwrap_or_default();
        assert!(
            id == "pkg:oci/app@sha256%3A0a#app/uses" || id == "pkg:oci/app@sha256%3A0a#app/skips",
            "the binary in the image: {id}"
        );
        assert_eq!(product["hashes"]["sha-256"], format!("{:064x}", 9));
        let subs = product["subcomponents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(subs.len(), 1, "{subs:?}");
        assert_eq!(subs[0]["@id"], "pkg:cargo/smallvec@1.6.0");
    }
}

#[test]
fn a_library_no_package_names_is_known_by_its_soname() {
    let mut lib = binary("/opt/app/lib/libwebp.so.7", FP_A, json!([]));
    lib["properties"] = json!([{"name": "stella:soname", "value": "libwebp.so.7"}]);
    let overlay = osv(
        json!({"id": "STELLA-CVE-2023-4863", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2023-4863"],
               "affected": [{"package": {"ecosystem": "GIT", "name": "https://github.com/webmproject/libwebp", "purl": "pkg:generic/libwebp"},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0.5.0"}, {"fixed": "1.3.2"}]}],
                             "ecosystem_specific": {"symbols": ["VP8LBuildHuffmanTable"], "libraries": ["libwebp.so.7"]}}]}),
        "overlay",
    );
    let case = Case {
        sbom: sbom(vec![lib]),
        proofs: vec![(
            FP_A.to_owned(),
            proof(&[
                ("VP8LBuildHuffmanTable", "symtab"),
                ("WebPDecode", "symtab"),
            ]),
        )],
        advisories: vec![overlay],
        asked: Vec::new(),
        runtime: None,
        runtime_policy: Default::default(),
        now: None,
    };
    let a = case.run();
    let v = only(&a, "/opt/app/lib/libwebp.so.7");
    assert_eq!(v.vulnerability, "CVE-2023-4863");
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.symbols[0].outcome, "present");
    let component = v
        .component
        .as_ref()
        .map(|c| (c.purl.as_str(), c.how.clone()));
    assert_eq!(
        component,
        Some((
            "pkg:generic/libwebp",
            stella_policy::components::How::Soname {
                soname: "libwebp.so.7".to_owned()
            }
        ))
    );
    assert_eq!(
        v.version.as_ref().map(|f| f.answer),
        Some(assess::VersionAnswer::Unknown),
        "known by its soname only"
    );
}

#[test]
fn alpine_packages_are_judged_in_apks_order() {
    let package = |version: &str| {
        json!({
            "type": "library", "bom-ref": format!("pkg:apk/alpine/libcrypto3@{version}"),
            "purl": format!("pkg:apk/alpine/libcrypto3@{version}?arch=x86_64&distro=alpine-3.19.1&upstream=openssl"),
            "components": [binary("/usr/lib/libcrypto.so.3", FP_A, json!([]))],
        })
    };
    let record = osv(
        json!({"id": "ALPINE-CVE-2099-0001", "modified": "2024-01-01T00:00:00Z",
               "affected": [{"package": {"ecosystem": "Alpine:v3.19", "name": "openssl"},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4-r1"}]}]}]}),
        "osv",
    );
    for (version, listed) in [
        ("3.1.4-r0", true),
        ("3.1.4", true),
        ("3.1.4-r1", false),
        ("3.1.10-r0", false),
    ] {
        let case = Case {
            sbom: sbom(vec![package(version)]),
            proofs: vec![(FP_A.to_owned(), proof(&[("BN_mod_sqrt", "dynsym")]))],
            advisories: vec![record.clone()],
            asked: Vec::new(),
            runtime: None,
            runtime_policy: Default::default(),
            now: None,
        };
        let a = case.run();
        assert_eq!(
            a.verdicts.len(),
            usize::from(listed),
            "{version}: {:#?}",
            a.verdicts
        );
    }
}

#[test]
fn a_banner_outside_the_upstream_ranges_answers_the_distribution_package() {
    let Ok(bytes) = std::fs::read(LIBZ) else {
        stella_testkit::skip(
            "a_banner_outside_the_upstream_ranges_answers_the_distribution_package",
            &format!("{LIBZ} is missing"),
        );
        return;
    };
    let libz = FuncProof::build(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let overlay = osv(
        json!({"id": "STELLA-CVE-2022-37434", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2022-37434"],
               "affected": [{"package": {"ecosystem": "GIT", "name": "https://github.com/madler/zlib", "purl": "pkg:generic/zlib"},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.2.2.1"}, {"fixed": "1.2.13"}]}],
                             "ecosystem_specific": {"symbols": ["inflateGetHeader"], "libraries": ["libz.so.1"],
                                                    "packages": [{"ecosystem": "Debian", "name": "zlib"}]}}]}),
        "overlay",
    );
    let sbom_with = |banner: &str| {
        sbom(vec![json!({
            "type": "library", "bom-ref": "pkg:deb/debian/zlib1g",
            "purl": "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&upstream=zlib&distro=debian-12",
            "components": [binary(
                "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
                FP_A,
                json!([inside("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", &format!("pkg:generic/zlib@{banner}"), "version-string")]),
            )],
        })])
    };
    // The banner names 1.2.13, the fixed release: nothing to report, and asked, not affected.
    let mut case = Case {
        sbom: sbom_with("1.2.13"),
        proofs: vec![(FP_A.to_owned(), libz)],
        advisories: vec![overlay],
        asked: Vec::new(),
        runtime: None,
        runtime_policy: Default::default(),
        now: None,
    };
    assert!(case.run().verdicts.is_empty(), "{:#?}", case.run().verdicts);
    case.asked = vec!["CVE-2022-37434".to_owned()];
    let a = case.run();
    assert!(!a.verdicts.is_empty());
    for v in &a.verdicts {
        assert_eq!(v.status, Status::NotAffected, "{v:#?}");
    }
    // A banner inside the range leaves the distribution's release unjudged (backports).
    case.asked.clear();
    case.sbom = sbom_with("1.2.11");
    let a = case.run();
    let deb = a.verdicts.iter().find(|v| {
        v.component
            .as_ref()
            .is_some_and(|c| c.purl.starts_with("pkg:deb/"))
    });
    assert_eq!(
        deb.map(|v| v.status),
        Some(Status::UnderInvestigation),
        "{:#?}",
        a.verdicts
    );
    let upstream = a.verdicts.iter().find(|v| {
        v.component
            .as_ref()
            .is_some_and(|c| c.purl.starts_with("pkg:generic/"))
    });
    assert_eq!(
        upstream.and_then(|v| v.version.as_ref().map(|f| f.answer)),
        Some(assess::VersionAnswer::Affected)
    );
}

// ---------------------------------------------------------------------------------------------
// Runtime evidence

const BUILD_ID: &str = "c89156ebdabf859f4ee70cb0c303004dccf1ae51";
const INSERT_MANY: &str = "_ZN8smallvec17SmallVec$LT$A$GT$11insert_many17h0123456789abcdefE";

fn witness(
    function: &str,
    calls: u64,
    instances: &[u32],
    end: &str,
) -> stella_runtime::witness::WitnessReport {
    serde_json::from_value(json!({
        "schema": "stella.runtime.witness/v1",
        "window": {"start": "2026-03-01T12:00:00Z", "end": end, "sampledSeconds": 7200.0},
        "instances": instances,
        "lost": 0,
        "witnesses": [{
            "symbol": "insert_many", "function": function, "binary": "/app/uses",
            "buildId": BUILD_ID, "fileOffset": "0x1010", "calls": calls,
            "processes": if calls > 0 { json!([{"pid": 41, "comm": "apigw", "calls": calls}]) } else { json!([]) },
            "stacks": []
        }]
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn profile(stacks: Value) -> stella_runtime::profile::Profile {
    serde_json::from_value(json!({
        "schema": "stella.runtime.profile/v1", "backend": "ebpf", "hz": 49,
        "target": {"kind": "all"},
        "window": {"start": "2026-03-01T12:00:00Z", "end": "2026-03-01T14:00:00Z", "sampledSeconds": 7200.0},
        "stats": {"samples": 0, "lost": 0, "userStacksMissing": 0, "kernelStacksMissing": 0, "frames": 0, "unknownFrames": 0},
        "stacks": stacks
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn frame(function: Option<&str>) -> Value {
    match function {
        Some(f) => json!({"kind": "file", "buildId": BUILD_ID, "fileOffset": "0x1012",
                          "symbol": {"function": f, "offset": "0x2", "source": "bundle"}}),
        None => json!({"kind": "file", "buildId": BUILD_ID, "fileOffset": "0x9000"}),
    }
}

fn uses_verdict(case: &Case) -> Verdict {
    only(&case.run(), "/app/uses").clone()
}

#[test]
fn a_witnessed_call_makes_the_verdict_affected_with_the_human_line() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[(
            "prod.witness.json".to_owned(),
            witness(INSERT_MANY, 17, &[41], "2026-03-01T14:00:00Z"),
        )],
        &[],
    ));
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::Affected, "{v:#?}");
    assert_eq!(v.justification, None);
    assert!(
        v.note.starts_with("CVE-2021-25900 observed in "),
        "{}",
        v.note
    );
    assert!(v.note.contains("BuildID c89156ebdabf"), "{}", v.note);
    assert!(v.note.contains("17 calls witnessed in apigw[41] between 2026-03-01T12:00:00Z–2026-03-01T14:00:00Z UTC; VEX → affected"), "{}", v.note);
    assert_eq!(v.runtime.as_ref().map(|r| r.outcome), Some("executed"));
    // The sibling without the function stays not_affected by its FuncProof.
    let skips = only(&case.run(), "/app/skips").clone();
    assert_eq!(
        skips.justification,
        Some(Justification::VulnerableCodeNotPresent)
    );
}

#[test]
fn a_witnessed_zero_is_not_in_execute_path_until_it_expires() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[(
            "prod.witness.json".to_owned(),
            witness(INSERT_MANY, 0, &[41, 42], "2026-03-01T14:00:00Z"),
        )],
        &[],
    ));
    case.now = Some("2026-03-05T00:00:00Z");
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::NotAffected, "{v:#?}");
    assert_eq!(
        v.justification,
        Some(Justification::VulnerableCodeNotInExecutePath)
    );
    let rt = v.runtime.as_ref().unwrap_or_else(|| panic!("runtime"));
    assert_eq!(rt.outcome, "never_executed");
    assert_eq!(rt.valid_until.as_deref(), Some("2026-03-08T14:00:00Z"));
    assert!(v.note.contains("2 instance(s) (41, 42)"), "{}", v.note);
    // A week later, the zero no longer speaks for today.
    case.now = Some("2026-03-09T00:00:00Z");
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::UnderInvestigation);
    assert_eq!(v.runtime.as_ref().map(|r| r.outcome), Some("expired"));
    // A zero that covers no instance says nothing.
    case.now = Some("2026-03-05T00:00:00Z");
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[(
            "idle.witness.json".to_owned(),
            witness(INSERT_MANY, 0, &[], "2026-03-01T14:00:00Z"),
        )],
        &[],
    ));
    assert_eq!(uses_verdict(&case).status, Status::UnderInvestigation);
    // In a report about several binaries, a witness's own instances count, not the report's:
    // other binaries' processes are not this one's instances.
    let mut several = witness(INSERT_MANY, 0, &[41, 42], "2026-03-01T14:00:00Z");
    several.witnesses[0].instances = Some(Vec::new());
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[("image.witness.json".to_owned(), several.clone())],
        &[],
    ));
    assert_eq!(uses_verdict(&case).status, Status::UnderInvestigation);
    several.witnesses[0].instances = Some(vec![42]);
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[("image.witness.json".to_owned(), several)],
        &[],
    ));
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::NotAffected, "{v:#?}");
    assert!(v.note.contains("1 instance(s) (42)"), "{}", v.note);
}

#[test]
fn sampled_stacks_show_what_ran_and_not_seeing_proves_nothing() {
    let mut case = two_rust_binaries(smallvec_advisory());
    let hot = profile(json!([
        {"pid": 41, "comm": "apigw", "count": 173, "frames": [frame(Some(INSERT_MANY)), frame(Some("main"))]},
        {"pid": 41, "comm": "apigw", "count": 827, "frames": [frame(Some("main"))]}
    ]));
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[],
        &[("prod.profile.json".to_owned(), hot)],
    ));
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::Affected, "{v:#?}");
    assert!(
        v.note.contains("17.3% of the sampled CPU in apigw[41]"),
        "{}",
        v.note
    );

    let cold = profile(json!([
        {"pid": 41, "comm": "apigw", "count": 900, "frames": [frame(Some("main"))]},
        {"pid": 41, "comm": "apigw", "count": 100, "frames": [frame(None), frame(Some("main"))]}
    ]));
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[],
        &[("prod.profile.json".to_owned(), cold)],
    ));
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::UnderInvestigation, "{v:#?}");
    assert!(v.note.contains("proves nothing"), "{}", v.note);
    assert_eq!(v.runtime.as_ref().map(|r| r.outcome), Some("unknown_state"));
    assert!(
        v.note
            .contains("100 samples of this binary could not be named (unknown_state)"),
        "{}",
        v.note
    );
}

#[test]
fn evidence_whose_clock_went_backwards_is_named_and_not_used() {
    let mut case = two_rust_binaries(smallvec_advisory());
    let mut backwards = witness(INSERT_MANY, 17, &[41], "2026-03-01T11:00:00Z");
    backwards.window.start = "2026-03-01T12:00:00Z".to_owned();
    let evidence =
        stella_policy::runtime::Evidence::new(&[("agent-b.json".to_owned(), backwards)], &[]);
    assert_eq!(evidence.unused().len(), 1);
    assert!(
        evidence.unused()[0].contains("agent-b.json: the window ends"),
        "{:?}",
        evidence.unused()
    );
    case.runtime = Some(evidence);
    assert_eq!(uses_verdict(&case).status, Status::UnderInvestigation);
}

#[test]
fn two_agents_reports_add_up() {
    let mut case = two_rust_binaries(smallvec_advisory());
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[
            (
                "agent-a.json".to_owned(),
                witness(INSERT_MANY, 5, &[41], "2026-03-01T14:00:00Z"),
            ),
            (
                "agent-b.json".to_owned(),
                witness(INSERT_MANY, 7, &[41], "2026-03-01T14:00:00Z"),
            ),
        ],
        &[],
    ));
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::Affected);
    let calls: u64 = v
        .runtime
        .iter()
        .flat_map(|r| r.functions.iter())
        .map(|f| f.execution.calls)
        .sum();
    assert_eq!(calls, 12);
}

#[test]
fn the_policy_can_ask_for_a_witness_before_sampled_stacks_say_affected() {
    let mut case = two_rust_binaries(smallvec_advisory());
    let hot = profile(json!([
        {"pid": 41, "comm": "apigw", "container": "c0ffee", "count": 173, "frames": [frame(Some(INSERT_MANY)), frame(Some("main"))]},
        {"pid": 41, "comm": "apigw", "count": 827, "frames": [frame(Some("main"))]}
    ]));
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[],
        &[("prod.profile.json".to_owned(), hot)],
    ));
    // The index names it with its share, whatever the policy says about the verdict.
    let a = case.run();
    assert_eq!(a.hot.len(), 1, "{:#?}", a.hot);
    let h = &a.hot[0];
    assert_eq!((h.samples, h.cpu_share, h.hot), (173, 17.3, true));
    assert_eq!(h.containers, vec!["c0ffee".to_owned()]);
    assert_eq!(h.first_seen.as_deref(), Some("2026-03-01T12:00:00Z"));
    assert_eq!(h.last_seen.as_deref(), Some("2026-03-01T14:00:00Z"));
    case.runtime_policy.hot_share = 20.0;
    assert!(!case.run().hot[0].hot, "17.3 % is below a 20 % threshold");

    case.runtime_policy.sampled_affects = false;
    let v = uses_verdict(&case);
    assert_eq!(v.status, Status::UnderInvestigation, "{v:#?}");
    assert_eq!(v.runtime.as_ref().map(|r| r.outcome), Some("sampled_only"));
    assert!(
        v.note.contains("asks for one before affected"),
        "{}",
        v.note
    );
    // A witnessed call settles it.
    case.runtime = Some(stella_policy::runtime::Evidence::new(
        &[(
            "prod.witness.json".to_owned(),
            witness(INSERT_MANY, 3, &[41], "2026-03-01T14:00:00Z"),
        )],
        &[],
    ));
    assert_eq!(uses_verdict(&case).status, Status::Affected);
}

#[test]
fn an_auditor_can_search_a_cited_absence_again() {
    let case = two_rust_binaries(smallvec_advisory());
    let (_, uses) = &case.proofs[0];
    let (_, lacks) = &case.proofs[1];
    let purl = Some("pkg:cargo/smallvec@1.6.0");
    let found = assess::recheck_absence(uses, purl, "", "smallvec::SmallVec::insert_many");
    let missing = assess::recheck_absence(lacks, purl, "", "smallvec::SmallVec::insert_many");
    assert_eq!(
        found.as_deref(),
        Some("_ZN8smallvec17SmallVec$LT$A$GT$11insert_many17h0123456789abcdefE")
    );
    assert_eq!(missing, None);
}
