//! Components found *inside* a binary rather than in a package database: the Go modules and Go
//! toolchain its build information names, the Rust crates its registry source paths name, the
//! C library releases whose version banners it carries. Each
//! becomes a component nested in the binary's component, with identity evidence saying how it
//! was found.
//!
//! Purls:
//! - Go module `golang.org/x/net v0.17.0` → `pkg:golang/golang.org/x/net@v0.17.0`: the module
//!   path split at its last `/` into namespace and name (purl-spec's `golang` type); the
//!   namespace is lower-cased as that type's rules say (the name keeps its case). The version
//!   keeps Go's `v`, as `go version -m` and govulncheck write it.
//! - The Go toolchain `go1.19.8` → `pkg:golang/stdlib@1.19.8`: the Go vulnerability database
//!   names the standard library `stdlib` and versions it without `go` or `v`, a release
//!   `go1.20` as `1.20.0` and a pre-release `go1.21rc2` as `1.21.0-rc.2`.
//! - A crate `serde-1.0.228` from a crates.io registry path → `pkg:cargo/serde@1.0.228`.
//! - A C library's version banner (` deflate 1.2.13 Copyright …`) → `pkg:generic/zlib@1.2.13`.
//!
//! In the document a nested component's bom-ref is `<binary bom-ref>#<purl>`, unique because a
//! binary's bom-ref is; two binaries holding the same module each get their own. A crate that
//! the binary's `cargo auditable` list already names is not repeated (that list stays where it
//! is, top-level with its dependency graph).
//!
//! Not here: reading build information or scanning for paths (`stella-binary`), matching
//! advisories to components (`stella-advisory`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::rootfs::build_purl;

/// How a component inside a binary was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FoundBy {
    /// The Go linker's build information (`runtime/debug.BuildInfo`).
    GoBuildInfo,
    /// A crates.io registry source path compiled into the binary.
    CratePath,
    /// A C library's version banner in the binary's read-only data (a static or vendored
    /// copy: zlib, OpenSSL, libpng).
    VersionString,
}

impl FoundBy {
    /// The value of the `stella:found-by` property: `go-buildinfo`, `crate-path` or
    /// `version-string`.
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::GoBuildInfo => "go-buildinfo",
            FoundBy::CratePath => "crate-path",
            FoundBy::VersionString => "version-string",
        }
    }

    /// How sure the finding is, in percent. Build information is what the linker wrote about
    /// the modules it linked; a registry path proves that code of the crate was compiled in,
    /// but a path string alone could also come from data, so it counts for less.
    pub fn confidence_percent(self) -> u8 {
        match self {
            FoundBy::GoBuildInfo => 100,
            FoundBy::CratePath => 80,
            // The banner is the library's own text, in the exact shape it writes it; the
            // code around it is the library's, though a program could copy the text alone.
            FoundBy::VersionString => 80,
        }
    }
}

/// A component found inside one binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EmbeddedComponent {
    /// Its purl (`pkg:golang/…`, `pkg:cargo/…`).
    pub purl: String,
    /// Its name (a Go module path, `stdlib`, a crate name).
    pub name: String,
    /// Its version, when known (a Go main module built from a checkout has none).
    pub version: Option<String>,
    /// How it was found.
    pub found_by: FoundBy,
    /// What was seen, in words (the evidence method's `value`).
    pub evidence: String,
    /// How sure the finding is, in percent (0–100).
    pub confidence_percent: u8,
}

impl EmbeddedComponent {
    /// A Go module named by build information (`path`, `version` as `go version -m` prints
    /// them; a version of `(devel)` or none is left out). `None` when the path makes no purl.
    pub fn go_module(path: &str, version: &str, evidence: impl Into<String>) -> Option<Self> {
        let version = Some(version).filter(|v| !v.is_empty() && *v != "(devel)");
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, path),
        };
        if name.is_empty() || namespace.is_some_and(str::is_empty) {
            return None;
        }
        let purl = match version {
            Some(v) => build_purl("golang", namespace, name, v, &[])?,
            None => unversioned_purl("golang", namespace, name)?,
        };
        Some(EmbeddedComponent {
            purl,
            name: path.to_owned(),
            version: version.map(str::to_owned),
            found_by: FoundBy::GoBuildInfo,
            evidence: evidence.into(),
            confidence_percent: FoundBy::GoBuildInfo.confidence_percent(),
        })
    }

    /// The Go standard library of the toolchain `go_version` (`go1.19.8`); `None` for a
    /// development toolchain or anything that is not a Go release.
    pub fn go_stdlib(go_version: &str, evidence: impl Into<String>) -> Option<Self> {
        let version = go_release_semver(go_version)?;
        let purl = build_purl("golang", None, "stdlib", &version, &[])?;
        Some(EmbeddedComponent {
            purl,
            name: "stdlib".to_owned(),
            version: Some(version),
            found_by: FoundBy::GoBuildInfo,
            evidence: evidence.into(),
            confidence_percent: FoundBy::GoBuildInfo.confidence_percent(),
        })
    }

    /// A crates.io crate named by a registry source path. `None` when name and version make no
    /// purl.
    pub fn crate_from_path(name: &str, version: &str, evidence: impl Into<String>) -> Option<Self> {
        let purl = build_purl("cargo", None, name, version, &[])?;
        Some(EmbeddedComponent {
            purl,
            name: name.to_owned(),
            version: Some(version.to_owned()),
            found_by: FoundBy::CratePath,
            evidence: evidence.into(),
            confidence_percent: FoundBy::CratePath.confidence_percent(),
        })
    }

    /// An upstream C library release named by its version banner (`zlib` `1.2.13` →
    /// `pkg:generic/zlib@1.2.13`, the purl Stella's advisory overlay names upstream libraries
    /// by). `None` when name and version make no purl.
    pub fn c_library(library: &str, version: &str, evidence: impl Into<String>) -> Option<Self> {
        let purl = build_purl("generic", None, library, version, &[])?;
        Some(EmbeddedComponent {
            purl,
            name: library.to_owned(),
            version: Some(version.to_owned()),
            found_by: FoundBy::VersionString,
            evidence: evidence.into(),
            confidence_percent: FoundBy::VersionString.confidence_percent(),
        })
    }
}

/// A purl without a version (which `build_purl` refuses, as packages always have one).
fn unversioned_purl(ty: &str, namespace: Option<&str>, name: &str) -> Option<String> {
    let mut purl = packageurl::PackageUrl::new(ty.to_owned(), name.to_owned()).ok()?;
    if let Some(ns) = namespace {
        purl.with_namespace(ns.to_owned()).ok()?;
    }
    Some(purl.to_string())
}

/// `go1.19.8` → `1.19.8`, `go1.20` → `1.20.0`, `go1.21rc2` → `1.21.0-rc.2`, `go1.18beta1` →
/// `1.18.0-beta.1`, as the Go vulnerability database writes standard library versions; the
/// text after a space (`go1.21.3 X:boringcrypto`) is not part of the release. `None` for
/// anything else (`devel go1.23-abc`).
pub fn go_release_semver(go_version: &str) -> Option<String> {
    let release = go_version.split_whitespace().next()?.strip_prefix("go")?;
    let (numbers, pre) = match release.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&release[..i], Some(&release[i..])),
        None => (release, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(numeric) {
        return None;
    }
    let mut version = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        parts.get(2).copied().unwrap_or("0")
    );
    if let Some(pre) = pre {
        let digits = pre.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let label = &pre[..pre.len() - digits.len()];
        if !matches!(label, "rc" | "beta") || !numeric(&digits) || parts.len() != 2 {
            return None;
        }
        version.push_str(&format!("-{label}.{digits}"));
    }
    Some(version)
}

/// The components to nest in a binary's component: `embedded` less those whose purl the
/// binary's `cargo auditable` list already gives (`auditable_purls`), one per purl (the first
/// in sorted order), sorted by purl.
pub(crate) fn to_nest<'a>(
    embedded: &'a [EmbeddedComponent],
    auditable_purls: &[String],
) -> Vec<&'a EmbeddedComponent> {
    let mut by_purl: BTreeMap<&str, &EmbeddedComponent> = BTreeMap::new();
    let mut sorted: Vec<&EmbeddedComponent> = embedded.iter().collect();
    sorted.sort();
    for e in sorted {
        if auditable_purls.contains(&e.purl) {
            continue;
        }
        by_purl.entry(e.purl.as_str()).or_insert(e);
    }
    by_purl.into_values().collect()
}

/// The bom-ref of a component nested in the binary `binary_ref`.
pub(crate) fn nested_ref(binary_ref: &str, e: &EmbeddedComponent) -> String {
    format!("{binary_ref}#{}", e.purl)
}

/// A percentage as the number CycloneDX's `confidence` takes (0 to 1).
fn confidence_value(percent: u8) -> Value {
    let percent = percent.min(100);
    if percent == 100 {
        json!(1)
    } else {
        json!(f64::from(percent) / 100.0)
    }
}

/// The nested component.
pub(crate) fn component(e: &EmbeddedComponent, bom_ref: &str) -> Map<String, Value> {
    let confidence = confidence_value(e.confidence_percent);
    let mut c = Map::new();
    c.insert("type".to_owned(), json!("library"));
    c.insert("bom-ref".to_owned(), json!(bom_ref));
    c.insert("name".to_owned(), json!(e.name));
    if let Some(v) = &e.version {
        c.insert("version".to_owned(), json!(v));
    }
    c.insert("purl".to_owned(), json!(e.purl));
    c.insert(
        "evidence".to_owned(),
        json!({
            "identity": [{
                "field": "purl",
                "confidence": confidence,
                "concludedValue": e.purl,
                "methods": [{
                    "technique": "binary-analysis",
                    "confidence": confidence,
                    "value": e.evidence,
                }],
            }],
        }),
    );
    c.insert(
        "properties".to_owned(),
        json!([{
            "name": format!("{}found-by", crate::generate::PROPERTY_PREFIX),
            "value": e.found_by.as_str(),
        }]),
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_releases_as_the_vulnerability_database_writes_them() {
        for (go, expected) in [
            ("go1.19.8", Some("1.19.8")),
            ("go1.20", Some("1.20.0")),
            ("go1.21rc2", Some("1.21.0-rc.2")),
            ("go1.18beta1", Some("1.18.0-beta.1")),
            ("go1.21.3 X:boringcrypto", Some("1.21.3")),
            ("devel go1.23-abcdef", None),
            ("go1", None),
            ("go1.x.2", None),
            ("go1.21.0rc1", None),
            ("go1.21alpha1", None),
            ("1.19.8", None),
        ] {
            assert_eq!(go_release_semver(go).as_deref(), expected, "{go}");
        }
    }

    #[test]
    fn go_module_purls_split_the_path_and_lower_case_the_namespace() {
        let m = EmbeddedComponent::go_module(
            "github.com/Azure/go-autorest",
            "v14.2.0+incompatible",
            "x",
        )
        .unwrap();
        assert_eq!(
            m.purl,
            "pkg:golang/github.com/azure/go-autorest@v14.2.0%2Bincompatible"
        );
        assert_eq!(m.name, "github.com/Azure/go-autorest");
        let main = EmbeddedComponent::go_module("example.com/app", "(devel)", "x").unwrap();
        assert_eq!(main.purl, "pkg:golang/example.com/app");
        assert_eq!(main.version, None);
        let single = EmbeddedComponent::go_module("rsc.io", "v1.0.0", "x").unwrap();
        assert_eq!(single.purl, "pkg:golang/rsc.io@v1.0.0");
        assert!(EmbeddedComponent::go_module("/x", "v1.0.0", "x").is_none());
        assert!(EmbeddedComponent::go_module("x/", "v1.0.0", "x").is_none());
        let std = EmbeddedComponent::go_stdlib("go1.19.8", "x").unwrap();
        assert_eq!(std.purl, "pkg:golang/stdlib@1.19.8");
        let serde = EmbeddedComponent::crate_from_path("serde", "1.0.228", "x").unwrap();
        assert_eq!(serde.purl, "pkg:cargo/serde@1.0.228");
        assert_eq!(serde.found_by.as_str(), "crate-path");
    }

    #[test]
    fn nesting_drops_what_auditable_lists_and_repeats() {
        let a = EmbeddedComponent::crate_from_path("serde", "1.0.228", "one path").unwrap();
        let b = EmbeddedComponent::crate_from_path("libc", "0.2.150", "x").unwrap();
        let a_again = EmbeddedComponent::crate_from_path("serde", "1.0.228", "another").unwrap();
        let list = vec![a.clone(), b.clone(), a_again];
        let nested = to_nest(&list, &[]);
        assert_eq!(nested.len(), 2);
        assert_eq!(nested[0].purl, b.purl, "sorted by purl");
        assert_eq!(nested[1].evidence, "another", "the first in sorted order");
        let nested = to_nest(&list, &["pkg:cargo/serde@1.0.228".to_owned()]);
        assert_eq!(nested, vec![&b]);
    }

    #[test]
    fn confidence_is_a_number_from_zero_to_one() {
        assert_eq!(confidence_value(100), json!(1));
        assert_eq!(confidence_value(80), json!(0.8));
        assert_eq!(confidence_value(200), json!(1));
    }
}
