//! Product and vulnerability matching: the documented rules, one row each.

use std::collections::BTreeMap;

use stella_vex::matching::{
    ImageRef, ProductKey, Purl, PurlChecks, product_matches, same_vulnerability,
};
use stella_vex::{HashAlgorithm, ProductIdentity, Vulnerability};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn id(text: &str) -> ProductIdentity {
    ProductIdentity::from_id(text)
}

fn hashed(pairs: &[(HashAlgorithm, &str)]) -> ProductIdentity {
    ProductIdentity {
        hashes: pairs
            .iter()
            .map(|(a, v)| (*a, (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..ProductIdentity::default()
    }
}

#[test]
fn product_rules_table() {
    let oci = format!("pkg:oci/debian@{}", DIGEST.replace(':', "%3A"));
    let oci_other = format!("pkg:oci/debian@{}", OTHER.replace(':', "%3A"));
    let cases: Vec<(&str, ProductIdentity, ProductIdentity, bool)> = vec![
        // purl: versionless matches every version; a version matches only itself.
        (
            "versionless purl covers a version",
            id("pkg:cargo/hyper"),
            id("pkg:cargo/hyper@1.4.0"),
            true,
        ),
        (
            "versioned purl covers itself",
            id("pkg:cargo/hyper@1.4.0"),
            id("pkg:cargo/hyper@1.4.0"),
            true,
        ),
        (
            "versioned purl not another version",
            id("pkg:cargo/hyper@1.4.0"),
            id("pkg:cargo/hyper@1.4.1"),
            false,
        ),
        (
            "versioned purl does not cover versionless",
            id("pkg:cargo/hyper@1.4.0"),
            id("pkg:cargo/hyper"),
            false,
        ),
        (
            "other name",
            id("pkg:cargo/hyper"),
            id("pkg:cargo/hyper-util@1"),
            false,
        ),
        (
            "other type",
            id("pkg:cargo/hyper"),
            id("pkg:npm/hyper@1"),
            false,
        ),
        // qualifiers: the statement's must be a subset of the product's.
        (
            "statement qualifiers a subset",
            id("pkg:deb/debian/curl?arch=amd64"),
            id("pkg:deb/debian/curl@7.88?arch=amd64&distro=bookworm"),
            true,
        ),
        (
            "no statement qualifiers",
            id("pkg:deb/debian/curl"),
            id("pkg:deb/debian/curl@7.88?arch=amd64"),
            true,
        ),
        (
            "statement qualifier missing on product",
            id("pkg:deb/debian/curl?arch=amd64"),
            id("pkg:deb/debian/curl@7.88"),
            false,
        ),
        (
            "statement qualifier differs",
            id("pkg:deb/debian/curl?arch=amd64"),
            id("pkg:deb/debian/curl@7.88?arch=arm64"),
            false,
        ),
        (
            "qualifier order is irrelevant",
            id("pkg:deb/debian/curl?distro=bookworm&arch=amd64"),
            id("pkg:deb/debian/curl?arch=amd64&distro=bookworm"),
            true,
        ),
        // percent-encoding: %2F and / in a Go namespace are one purl; encoded versions decode.
        (
            "go %2F namespace vs /",
            id("pkg:golang/github.com%2Fgorilla/websocket@v1.5.0"),
            id("pkg:golang/github.com/gorilla/websocket@v1.5.0"),
            true,
        ),
        (
            "go / namespace vs %2F",
            id("pkg:golang/github.com/gorilla/websocket"),
            id("pkg:golang/github.com%2fgorilla%2Fwebsocket@v1.5.0"),
            true,
        ),
        (
            "go other module",
            id("pkg:golang/github.com/gorilla/websocket"),
            id("pkg:golang/github.com/gorilla/mux@v1"),
            false,
        ),
        (
            "encoded version",
            id("pkg:npm/%40babel/core@7.0.0%2Bbuild"),
            id("pkg:npm/@babel/core@7.0.0+build"),
            true,
        ),
        // images: tag, digest and pkg:oci forms of one image are one product.
        (
            "pkg:oci vs reference with digest",
            id(&oci),
            id(&format!("debian@{DIGEST}")),
            true,
        ),
        (
            "reference with tag and digest vs pkg:oci",
            id(&format!("docker.io/library/debian:bookworm@{DIGEST}")),
            id(&oci),
            true,
        ),
        (
            "pkg:oci with qualifiers vs digest reference",
            id(&format!(
                "{oci}?repository_url=docker.io/library/debian&tag=bookworm"
            )),
            id(&format!("index.docker.io/library/debian@{DIGEST}")),
            true,
        ),
        ("other digest", id(&oci), id(&oci_other), false),
        (
            "the digest decides over the tag",
            id(&format!("debian:bookworm@{DIGEST}")),
            id(&format!("debian:bookworm@{OTHER}")),
            false,
        ),
        (
            "tag forms without digest",
            id("debian:bookworm"),
            id("pkg:oci/debian?repository_url=docker.io/library/debian&tag=bookworm"),
            true,
        ),
        (
            "docker.io shorthand is library/",
            id("docker.io/debian:bookworm"),
            id("index.docker.io/library/debian:bookworm"),
            true,
        ),
        (
            "other tag",
            id("debian:bookworm"),
            id("docker.io/library/debian:trixie"),
            false,
        ),
        (
            "versionless pkg:oci covers a digest",
            id("pkg:oci/debian"),
            id(&oci),
            true,
        ),
        // BOM-Link: serial case-insensitive, bom-ref escaped or not.
        (
            "bom-link escaped vs unescaped",
            id("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg%3Anpm%2Facme"),
            id("urn:cdx:3E671687-395B-41F5-A30F-A58921A69B79/1#pkg:npm/acme"),
            true,
        ),
        (
            "bom-link other version",
            id("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#a"),
            id("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/2#a"),
            false,
        ),
        (
            "bom-link other ref",
            id("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#a"),
            id("urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#b"),
            false,
        ),
        // hashes: one algorithm in common, none differing; hex case-insensitive.
        (
            "hash equal",
            hashed(&[(HashAlgorithm::Sha256, "ABCD")]),
            hashed(&[(HashAlgorithm::Sha256, "abcd"), (HashAlgorithm::Sha1, "11")]),
            true,
        ),
        (
            "hash differs",
            hashed(&[(HashAlgorithm::Sha256, "abcd")]),
            hashed(&[(HashAlgorithm::Sha256, "abce")]),
            false,
        ),
        (
            "one common hash differs",
            hashed(&[(HashAlgorithm::Sha256, "abcd"), (HashAlgorithm::Sha1, "11")]),
            hashed(&[(HashAlgorithm::Sha256, "abcd"), (HashAlgorithm::Sha1, "12")]),
            false,
        ),
        (
            "no common algorithm",
            hashed(&[(HashAlgorithm::Sha256, "abcd")]),
            hashed(&[(HashAlgorithm::Sha512, "abcd")]),
            false,
        ),
        // opaque identifiers: exact.
        (
            "same opaque id",
            id("https://example.com/product/1"),
            id("https://example.com/product/1"),
            true,
        ),
        (
            "other opaque id",
            id("https://example.com/product/1"),
            id("https://example.com/product/2"),
            false,
        ),
        // a malformed purl matches only its exact text.
        (
            "malformed purl, same text",
            id("pkg:/nope"),
            id("pkg:/nope"),
            true,
        ),
        (
            "malformed purl, other text",
            id("pkg:/nope"),
            id("pkg:/nope@1"),
            false,
        ),
    ];
    let failures: Vec<_> = cases
        .iter()
        .filter(|(_, s, p, want)| product_matches(s, p) != *want)
        .map(|(name, _, _, want)| format!("{name}: expected {want}"))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn vulnerability_by_id_or_any_alias() {
    let v = Vulnerability::new(
        "CVE-2024-1234",
        ["GHSA-aaaa-bbbb-cccc".to_owned(), "GO-2024-0001".to_owned()],
    );
    for name in ["CVE-2024-1234", "GHSA-aaaa-bbbb-cccc", "GO-2024-0001"] {
        assert!(
            stella_vex::matching::vulnerability_matches(&v, name),
            "{name}"
        );
    }
    assert!(!stella_vex::matching::vulnerability_matches(
        &v,
        "CVE-2024-9999"
    ));
    let by_alias = Vulnerability::new("GO-2024-0001", Vec::new());
    assert!(same_vulnerability(&v, &by_alias));
    assert!(same_vulnerability(&by_alias, &v));
    assert!(!same_vulnerability(
        &v,
        &Vulnerability::new("RUSTSEC-2024-0001", Vec::new())
    ));
}

#[test]
fn spellings_of_one_product_have_one_key() {
    let oci = format!("pkg:oci/debian@{}", DIGEST.replace(':', "%3A"));
    let same = |a: &str, b: &str| ProductKey::of(&id(a)) == ProductKey::of(&id(b));
    assert!(same(
        &oci,
        &format!("docker.io/library/debian:bookworm@{DIGEST}")
    ));
    assert!(same(
        "pkg:golang/github.com%2Fgorilla/websocket@v1.5.0",
        "pkg:golang/github.com/gorilla/websocket@v1.5.0"
    ));
    assert!(same(
        "pkg:deb/debian/curl?b=2&a=1",
        "pkg:deb/debian/curl?a=1&b=2"
    ));
    assert!(same(
        "urn:cdx:ABC/1#pkg%3Anpm%2Facme",
        "urn:cdx:abc/1#pkg:npm/acme"
    ));
    assert!(!same("pkg:cargo/hyper", "pkg:cargo/hyper@1"));
}

#[test]
fn parsers_refuse_what_they_do_not_know() {
    assert!(Purl::parse("not a purl").is_none());
    assert!(Purl::parse("pkg:").is_none());
    assert!(ImageRef::parse("https://example.com/x").is_none());
    assert!(
        ImageRef::parse("debian").is_none(),
        "a bare word is not an image"
    );
    assert!(ImageRef::parse("debian@sha256:short").is_none());
    let image = ImageRef::parse("localhost:5000/app:1.0").unwrap();
    assert_eq!(image.repository.as_deref(), Some("localhost:5000/app"));
    assert_eq!(image.tag.as_deref(), Some("1.0"));
}

#[test]
fn a_statement_matches_by_alias_product_and_subcomponent() {
    use stella_vex::matching::statement_matches;
    let bytes = serde_json::to_vec(&serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "vendor",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2024-1", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
            "products": [{
                "@id": "pkg:oci/app",
                "subcomponents": [{"@id": "pkg:golang/github.com%2Fgorilla/websocket"}]
            }],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }]
    }))
    .unwrap();
    let document = stella_vex::openvex::read(&bytes).unwrap().document;
    let statement = &document.statements[0];
    let image = id(&format!("pkg:oci/app@{}", DIGEST.replace(':', "%3A")));
    let ws = id("pkg:golang/github.com/gorilla/websocket@v1.5.0");
    let mux = id("pkg:golang/github.com/gorilla/mux@v1.8.0");
    assert!(statement_matches(
        statement,
        "GHSA-aaaa-bbbb-cccc",
        &image,
        Some(&ws)
    ));
    assert!(statement_matches(statement, "CVE-2024-1", &image, None));
    assert!(!statement_matches(
        statement,
        "CVE-2024-1",
        &image,
        Some(&mux)
    ));
    assert!(!statement_matches(
        statement,
        "CVE-2024-2",
        &image,
        Some(&ws)
    ));
    assert!(!statement_matches(
        statement,
        "CVE-2024-1",
        &id("pkg:oci/other"),
        Some(&ws)
    ));
}

#[test]
fn shared_purl_checks_answer_as_the_parser_and_remember_within_their_limit() {
    let purls = [
        "pkg:deb/debian/openssl@3.0.11-1?arch=amd64",
        "pkg:golang/github.com%2Fgorilla/mux@v1.8.0",
        "pkg:",
        "not a purl",
        "pkg:npm/%40angular/core@17.0.0",
    ];
    let checks = PurlChecks::with_limit(3);
    for _ in 0..2 {
        for purl in purls {
            assert_eq!(checks.is_valid(purl), Purl::is_valid(purl), "{purl}");
        }
    }
    assert_eq!(checks.remembered(), 3);
    assert!(!checks.is_valid("pkg:"));
    assert!(checks.is_valid(purls[0]));
}
