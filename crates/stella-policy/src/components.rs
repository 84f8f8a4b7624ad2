//! The components of each binary, read from a CycloneDX SBOM, and the advisory package each
//! component's purl names.
//!
//! A **binary** is a component that names a FuncProof (an external reference
//! `urn:stella:funcproof:sha256:<hex>`, as Stella's SBOMs and enriched SBOMs write it). Its
//! components, each with [`How`] it is tied to the binary:
//! - the component it is nested in, when that one has a purl: the package that installed the
//!   file ([`How::Package`]);
//! - the components nested in it: what was found inside the binary, Go modules from its build
//!   information, crates from the registry paths compiled into it ([`How::Inside`], with the
//!   `stella:found-by` property);
//! - the crates it links, from `dependencies`: the binary depends on its root crates (from
//!   `cargo auditable`), which depend on theirs; crates only build scripts or proc macros use
//!   (`scope: excluded`) are not linked and not followed ([`How::Linked`]);
//! - itself, when it has a purl ([`How::Itself`]).
//!
//! Two binaries holding the same crate each list it: verdicts are per binary.
//!
//! [`package_of`] maps a purl onto the OSV ecosystem and package name advisories use
//! (`pkg:cargo/x` → `crates.io`/`x`, `pkg:golang/stdlib` → `Go`/`stdlib`, `pkg:deb/debian/zlib1g?
//! upstream=zlib&distro=debian-12` → `Debian:12`/`zlib`, `pkg:generic/zlib` → Stella's overlay).
//! A distribution package is versioned by its source package's version when the `upstream`
//! qualifier gives one (`upstream=util-linux@2.38.1-5+deb12u3` for bsdutils
//! `1:2.38.1-5+deb12u3`): distributions' advisories version the source.
//!
//! Not here: which advisories match (see [`crate::assess`]), verifying the SBOM.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// The external-reference URL prefix of a FuncProof.
pub const FUNCPROOF_URN: &str = "urn:stella:funcproof:";

/// How a component is tied to a binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "how")]
pub enum How {
    /// The package that installed the binary.
    Package,
    /// Found inside the binary, by the named technique (`go-buildinfo`, `crate-path`, …).
    Inside {
        /// The `stella:found-by` property.
        #[serde(rename = "foundBy")]
        found_by: String,
    },
    /// Linked into it (a crate of its dependency graph).
    Linked,
    /// The binary itself.
    Itself,
    /// The upstream library the binary is by its `DT_SONAME` (an overlay entry's `libraries`),
    /// when nothing else names it.
    Soname {
        /// The soname.
        soname: String,
    },
}

impl How {
    /// A short phrase for a sentence.
    pub fn phrase(&self) -> String {
        match self {
            How::Package => "the package that installed it".to_owned(),
            How::Inside { found_by } => format!("found inside it ({found_by})"),
            How::Linked => "linked into it (its dependency graph)".to_owned(),
            How::Itself => "the binary itself".to_owned(),
            How::Soname { soname } => format!("the library it is, by its soname {soname}"),
        }
    }
}

/// One component of a binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Its purl.
    pub purl: String,
    /// Its bom-ref.
    pub bom_ref: String,
    /// How it is tied to the binary.
    #[serde(flatten)]
    pub how: How,
}

/// A binary of the SBOM and its components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binary {
    /// Its bom-ref.
    pub bom_ref: String,
    /// Its path in the image (`stella:path`), else its name.
    pub path: String,
    /// SHA-256 of the file (hex), when the SBOM gives it.
    pub sha256: Option<String>,
    /// `sha256:<hex>` of its FuncProof.
    pub funcproof: String,
    /// Its `DT_SONAME` (`stella:soname`), for a shared library.
    pub soname: Option<String>,
    /// Its components, sorted, without repeats.
    pub components: Vec<Component>,
}

/// The subject of the SBOM (`metadata.component`): its purl (`pkg:oci/…@sha256:…` for an image)
/// or bom-ref.
pub fn subject(sbom: &Value) -> Option<String> {
    let c = sbom.pointer("/metadata/component")?;
    c.get("purl")
        .or_else(|| c.get("bom-ref"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Every binary of `sbom` with its components, sorted by path.
pub fn binaries(sbom: &Value) -> Vec<Binary> {
    let mut found = Vec::new();
    walk(sbom.get("components"), None, &mut found);
    let graph = dependency_graph(sbom);
    let crates = linkable_crates(sbom);
    for b in &mut found {
        let mut seen = BTreeSet::new();
        let mut queue: Vec<&str> = graph
            .get(b.bom_ref.as_str())
            .map(|d| d.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(r) = queue.pop() {
            let Some(purl) = crates.get(r) else { continue };
            if !seen.insert(r) {
                continue;
            }
            b.components.push(Component {
                purl: purl.clone(),
                bom_ref: r.to_owned(),
                how: How::Linked,
            });
            if let Some(d) = graph.get(r) {
                queue.extend(d.iter().map(String::as_str));
            }
        }
        b.components.sort();
        // One entry per purl: the closest tie wins (package, inside, linked, itself order).
        b.components
            .dedup_by(|a, b| a.purl == b.purl && a.bom_ref == b.bom_ref);
    }
    found.sort_by(|a, b| a.path.cmp(&b.path).then(a.bom_ref.cmp(&b.bom_ref)));
    found
}

fn str_of<'a>(c: &'a Value, key: &str) -> Option<&'a str> {
    c.get(key).and_then(Value::as_str)
}

fn property<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c.get("properties")?
        .as_array()?
        .iter()
        .find(|p| str_of(p, "name") == Some(name))
        .and_then(|p| str_of(p, "value"))
}

fn funcproof_of(c: &Value) -> Option<String> {
    c.get("externalReferences")?
        .as_array()?
        .iter()
        .filter_map(|r| str_of(r, "url"))
        .find_map(|u| u.strip_prefix(FUNCPROOF_URN))
        .map(str::to_owned)
}

fn sha256_of(c: &Value) -> Option<String> {
    c.get("hashes")?
        .as_array()?
        .iter()
        .find(|h| str_of(h, "alg") == Some("SHA-256"))
        .and_then(|h| str_of(h, "content"))
        .map(str::to_ascii_lowercase)
}

/// Walks `components` (recursively), `parent` being the component they are nested in.
fn walk(components: Option<&Value>, parent: Option<&Value>, out: &mut Vec<Binary>) {
    for c in components.and_then(Value::as_array).into_iter().flatten() {
        if let Some(funcproof) = funcproof_of(c) {
            let bom_ref = str_of(c, "bom-ref").unwrap_or_default().to_owned();
            let path = property(c, "stella:path")
                .or_else(|| bom_ref.strip_prefix("file:"))
                .or_else(|| str_of(c, "name"))
                .unwrap_or_default()
                .to_owned();
            let mut components = Vec::new();
            if let Some(p) = parent
                && let Some(purl) = str_of(p, "purl")
            {
                components.push(Component {
                    purl: purl.to_owned(),
                    bom_ref: str_of(p, "bom-ref").unwrap_or(purl).to_owned(),
                    how: How::Package,
                });
            }
            if let Some(purl) = str_of(c, "purl") {
                components.push(Component {
                    purl: purl.to_owned(),
                    bom_ref: bom_ref.clone(),
                    how: How::Itself,
                });
            }
            for inner in c
                .get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(purl) = str_of(inner, "purl") {
                    components.push(Component {
                        purl: purl.to_owned(),
                        bom_ref: str_of(inner, "bom-ref").unwrap_or(purl).to_owned(),
                        how: How::Inside {
                            found_by: property(inner, "stella:found-by")
                                .unwrap_or("binary-analysis")
                                .to_owned(),
                        },
                    });
                }
            }
            out.push(Binary {
                bom_ref,
                path,
                sha256: sha256_of(c),
                funcproof,
                soname: property(c, "stella:soname").map(str::to_owned),
                components,
            });
        }
        walk(c.get("components"), Some(c), out);
    }
}

/// `dependencies` as ref → depends-on refs.
fn dependency_graph(sbom: &Value) -> BTreeMap<&str, Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for d in sbom
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(r) = str_of(d, "ref") else { continue };
        let on = d
            .get("dependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned);
        graph.entry(r).or_default().extend(on);
    }
    graph
}

/// Crates (purl `pkg:cargo/…`) that are linked (not `scope: excluded`), by bom-ref.
fn linkable_crates(sbom: &Value) -> BTreeMap<String, String> {
    fn walk(components: Option<&Value>, out: &mut BTreeMap<String, String>) {
        for c in components.and_then(Value::as_array).into_iter().flatten() {
            if let (Some(r), Some(purl)) = (str_of(c, "bom-ref"), str_of(c, "purl"))
                && purl.starts_with("pkg:cargo/")
                && str_of(c, "scope") != Some("excluded")
            {
                out.insert(r.to_owned(), purl.to_owned());
            }
            walk(c.get("components"), out);
        }
    }
    let mut out = BTreeMap::new();
    walk(sbom.get("components"), &mut out);
    out
}

/// The advisory package a purl names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PackageKey {
    /// The OSV ecosystem (`crates.io`, `Go`, `PyPI`, `npm`, `Debian:12`, `Alpine:v3.19`), or
    /// `GIT` for an upstream library named by a `pkg:generic` purl (Stella's overlay).
    pub ecosystem: String,
    /// The package name as advisories of that ecosystem write it (for `GIT`, the purl without
    /// version).
    pub name: String,
    /// The component's version.
    pub version: Option<String>,
}

/// The advisory package `purl` names, or `None` for a purl type no advisory source covers.
pub fn package_of(purl: &str) -> Option<PackageKey> {
    let p: packageurl::PackageUrl<'_> = purl.parse().ok()?;
    let name = p.name();
    let namespace = p.namespace();
    let version = p.version().map(str::to_owned);
    let qualifier = |key: &str| {
        p.qualifiers()
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref().to_owned())
    };
    let (ecosystem, name) = match p.ty() {
        "cargo" => ("crates.io".to_owned(), name.to_owned()),
        "golang" => (
            "Go".to_owned(),
            match namespace {
                Some(ns) => format!("{ns}/{name}"),
                None => name.to_owned(),
            },
        ),
        "pypi" => (
            "PyPI".to_owned(),
            name.to_ascii_lowercase().replace('_', "-"),
        ),
        "npm" => (
            "npm".to_owned(),
            match namespace {
                Some(ns) => format!("{ns}/{name}"),
                None => name.to_owned(),
            },
        ),
        "deb" => {
            let distro = qualifier("distro")?;
            let ecosystem = match namespace.unwrap_or_default() {
                "debian" => {
                    let release = distro.strip_prefix("debian-")?;
                    let major = release.split('.').next().unwrap_or(release);
                    format!("Debian:{major}")
                }
                "ubuntu" => format!("Ubuntu:{}", distro.strip_prefix("ubuntu-")?),
                _ => return None,
            };
            // `upstream=<source>[@<source version>]`: advisories name and version the source.
            let upstream = qualifier("upstream").unwrap_or_default();
            let (source, source_version) = match upstream.split_once('@') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (upstream.clone(), None),
            };
            let source = if source.is_empty() {
                name.to_owned()
            } else {
                source
            };
            return Some(PackageKey {
                ecosystem,
                name: source,
                version: source_version.or(version),
            });
        }
        "apk" => {
            let distro = qualifier("distro")?;
            let release = distro.strip_prefix("alpine-").unwrap_or(&distro);
            let mut parts = release.split('.');
            let (major, minor) = (parts.next()?, parts.next()?);
            let source = qualifier("upstream").unwrap_or_else(|| name.to_owned());
            (format!("Alpine:v{major}.{minor}"), source)
        }
        "generic" => ("GIT".to_owned(), format!("pkg:generic/{name}")),
        _ => return None,
    };
    Some(PackageKey {
        ecosystem,
        name,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn purls_name_their_advisory_packages() {
        let key = |p: &str| package_of(p).map(|k| (k.ecosystem, k.name, k.version));
        let some =
            |e: &str, n: &str, v: &str| Some((e.to_owned(), n.to_owned(), Some(v.to_owned())));
        assert_eq!(
            key("pkg:cargo/smallvec@1.6.0"),
            some("crates.io", "smallvec", "1.6.0")
        );
        assert_eq!(
            key("pkg:golang/stdlib@1.19.8"),
            some("Go", "stdlib", "1.19.8")
        );
        assert_eq!(
            key("pkg:golang/golang.org/x/net@v0.7.0"),
            some("Go", "golang.org/x/net", "v0.7.0")
        );
        assert_eq!(
            key(
                "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&upstream=zlib&distro=debian-12"
            ),
            some("Debian:12", "zlib", "1:1.2.13.dfsg-1")
        );
        assert_eq!(
            key("pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12.5"),
            some("Debian:12", "bash", "5.2.15-2+b2")
        );
        assert_eq!(
            key(
                "pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u3?distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3"
            ),
            some("Debian:12", "util-linux", "2.38.1-5+deb12u3"),
            "the source package's own version"
        );
        assert_eq!(
            key("pkg:generic/zlib@1.2.11"),
            some("GIT", "pkg:generic/zlib", "1.2.11")
        );
        assert_eq!(key("pkg:pypi/Foo_Bar@1.0"), some("PyPI", "foo-bar", "1.0"));
        assert_eq!(key("pkg:oci/app@sha256%3Aab"), None);
        assert_eq!(
            key("pkg:deb/debian/bash@5"),
            None,
            "no distro: no release to match"
        );
        assert_eq!(key("not a purl"), None);
    }

    #[test]
    fn each_binary_gets_its_package_what_is_inside_and_the_crates_it_links() {
        let sbom = json!({
            "metadata": {"component": {"bom-ref": "pkg:oci/app@sha256%3A00", "purl": "pkg:oci/app@sha256%3A00"}},
            "components": [
                {"bom-ref": "pkg:deb/debian/tool@1?distro=debian-12", "purl": "pkg:deb/debian/tool@1?distro=debian-12",
                 "components": [
                    {"bom-ref": "file:/usr/bin/tool", "name": "tool",
                     "hashes": [{"alg": "SHA-256", "content": "AA"}],
                     "externalReferences": [{"type": "evidence", "url": "urn:stella:funcproof:sha256:11"}],
                     "components": [
                        {"bom-ref": "file:/usr/bin/tool#pkg:golang/stdlib@1.19.8", "purl": "pkg:golang/stdlib@1.19.8",
                         "properties": [{"name": "stella:found-by", "value": "go-buildinfo"}]}
                     ]}
                 ]},
                {"bom-ref": "file:/app/a", "name": "a", "properties": [{"name": "stella:path", "value": "/app/a"}],
                 "externalReferences": [{"type": "evidence", "url": "urn:stella:funcproof:sha256:22"}]},
                {"bom-ref": "file:/app/b", "name": "b",
                 "externalReferences": [{"type": "evidence", "url": "urn:stella:funcproof:sha256:33"}]},
                {"bom-ref": "pkg:cargo/app@0.1.0", "purl": "pkg:cargo/app@0.1.0"},
                {"bom-ref": "pkg:cargo/smallvec@1.6.0", "purl": "pkg:cargo/smallvec@1.6.0"},
                {"bom-ref": "pkg:cargo/cc@1.0.0", "purl": "pkg:cargo/cc@1.0.0", "scope": "excluded"}
            ],
            "dependencies": [
                {"ref": "file:/app/a", "dependsOn": ["pkg:cargo/app@0.1.0"]},
                {"ref": "file:/app/b", "dependsOn": []},
                {"ref": "pkg:cargo/app@0.1.0", "dependsOn": ["pkg:cargo/smallvec@1.6.0", "pkg:cargo/cc@1.0.0"]},
                {"ref": "pkg:cargo/smallvec@1.6.0", "dependsOn": ["pkg:cargo/app@0.1.0"]}
            ]
        });
        let bins = binaries(&sbom);
        let paths: Vec<&str> = bins.iter().map(|b| b.path.as_str()).collect();
        assert_eq!(paths, ["/app/a", "/app/b", "/usr/bin/tool"]);
        let purls = |b: &Binary| {
            b.components
                .iter()
                .map(|c| c.purl.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            purls(&bins[0]),
            ["pkg:cargo/app@0.1.0", "pkg:cargo/smallvec@1.6.0"]
        );
        assert!(bins[1].components.is_empty());
        assert_eq!(
            purls(&bins[2]),
            [
                "pkg:deb/debian/tool@1?distro=debian-12",
                "pkg:golang/stdlib@1.19.8"
            ]
        );
        assert_eq!(bins[2].sha256.as_deref(), Some("aa"));
        assert_eq!(bins[2].funcproof, "sha256:11");
        assert_eq!(
            bins[2].components[1].how,
            How::Inside {
                found_by: "go-buildinfo".to_owned()
            }
        );
        assert_eq!(subject(&sbom).as_deref(), Some("pkg:oci/app@sha256%3A00"));
    }
}
