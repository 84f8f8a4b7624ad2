//! The dependency list `cargo auditable` embeds in Rust binaries (section `.dep-v0`, zlib
//! compressed; `stella-binary` finds and inflates it, this module reads the JSON):
//!
//! ```json
//! {"format": 1, "packages": [
//!   {"name": "app", "version": "0.1.0", "source": "local", "dependencies": [1], "root": true},
//!   {"name": "serde", "version": "1.0.228", "source": "crates.io", "kind": "runtime"}]}
//! ```
//!
//! `source` is `crates.io`, `git`, `local`, `registry` or another string; `kind` is `runtime`
//! (the default) or `build` (build scripts and proc macros: not linked into the binary);
//! `dependencies` are indices into `packages`. Reading is strict about structure (every index in
//! range, at most [`MAX_PACKAGES`] packages, at most [`MAX_AUDITABLE_BYTES`] of JSON) and lenient
//! about members it does not know, which later format versions may add.
//!
//! Package URLs ([`AuditablePackage::purl`]): only crates from crates.io get one,
//! `pkg:cargo/<name>@<version>` (crates.io is the cargo type's default repository). The embedded
//! list does not say *which* registry or git repository the others came from, and a purl without
//! a `repository_url` would claim crates.io, so they get none; the SBOM names them by a
//! `cargo:<source>/<name>@<version>` bom-ref instead. Not here: finding the section in a binary.

use serde::Deserialize;

use crate::SbomError;

/// Most packages one list may hold (real lists have tens to a few thousand).
pub const MAX_PACKAGES: usize = 100_000;

/// Largest JSON accepted (`stella-binary` inflates at most 8 MiB; this leaves headroom).
pub const MAX_AUDITABLE_BYTES: usize = 64 * 1024 * 1024;

/// One crate in a binary's embedded dependency list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditablePackage {
    /// Crate name.
    pub name: String,
    /// Crate version.
    pub version: String,
    /// Where it came from: `crates.io`, `git`, `local`, `registry`, …
    pub source: String,
    /// `runtime` (linked into the binary) or `build` (build scripts, proc macros).
    pub kind: String,
    /// Indices (into the same list) of the crates it depends on; sorted, unique.
    pub dependencies: Vec<usize>,
    /// Whether it is the crate the binary was built from.
    pub root: bool,
}

impl AuditablePackage {
    /// `pkg:cargo/<name>@<version>` for crates from crates.io; `None` for every other source
    /// (see the module documentation).
    pub fn purl(&self) -> Option<String> {
        (self.source == "crates.io")
            .then(|| self.match_purl())
            .flatten()
    }

    /// `pkg:cargo/<name>@<version>` whatever the source: what other tools write for the crate,
    /// used to recognise it in their SBOMs (never written into Stella's own).
    pub(crate) fn match_purl(&self) -> Option<String> {
        crate::rootfs::build_purl("cargo", None, &self.name, &self.version, &[])
    }

    /// The bom-ref Stella gives the crate: its purl, else `cargo:<source>/<name>@<version>`.
    pub fn bom_ref(&self) -> String {
        self.purl()
            .unwrap_or_else(|| format!("cargo:{}/{}@{}", self.source, self.name, self.version))
    }
}

/// The list as written; `format` and members added later are not needed and not read.
#[derive(Deserialize)]
struct RawList {
    packages: Vec<RawPackage>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    source: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    dependencies: Vec<u64>,
    #[serde(default)]
    root: bool,
}

/// What is wrong with a `cargo auditable` dependency list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditableProblem {
    /// The list is larger than [`MAX_AUDITABLE_BYTES`].
    #[error("{size} bytes, larger than the limit of {limit}")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Not JSON of the expected shape.
    #[error(transparent)]
    Shape(serde_json::Error),
    /// Something follows the JSON document.
    #[error("trailing data: {0}")]
    TrailingData(#[source] serde_json::Error),
    /// More packages than [`MAX_PACKAGES`].
    #[error("{count} packages, more than the limit of {limit}")]
    TooManyPackages {
        /// How many the list holds.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A package without a name.
    #[error("empty crate name")]
    EmptyName,
    /// A package without a version.
    #[error("empty version")]
    EmptyVersion,
    /// A dependency kind other than `runtime` or `build`.
    #[error("{kind:?} is neither \"runtime\" nor \"build\"")]
    UnknownKind {
        /// The kind found.
        kind: String,
    },
    /// A dependency index past the end of the list.
    #[error("index {index} is out of range ({count} packages)")]
    DependencyOutOfRange {
        /// The index found.
        index: u64,
        /// How many packages the list holds.
        count: usize,
    },
}

impl AuditableProblem {
    /// The kind of failure: limits are [`stella_core::ErrorKind::TooLarge`], everything else invalid input.
    pub fn kind(&self) -> stella_core::ErrorKind {
        match self {
            AuditableProblem::TooLarge { .. } | AuditableProblem::TooManyPackages { .. } => {
                stella_core::ErrorKind::TooLarge
            }
            _ => stella_core::ErrorKind::Invalid,
        }
    }
}

/// Reads the embedded JSON.
///
/// # Errors
/// [`SbomError::Auditable`] naming the offending member: not JSON of the expected shape, more than
/// [`MAX_AUDITABLE_BYTES`] or [`MAX_PACKAGES`], an empty name or version, an unknown `kind`, or a
/// dependency index out of range.
pub fn parse_auditable(json: &[u8]) -> Result<Vec<AuditablePackage>, SbomError> {
    let err =
        |pointer: String, problem: AuditableProblem| SbomError::Auditable { pointer, problem };
    if json.len() > MAX_AUDITABLE_BYTES {
        return Err(err(
            String::new(),
            AuditableProblem::TooLarge {
                size: json.len(),
                limit: MAX_AUDITABLE_BYTES,
            },
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let raw: RawList = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let pointer = stella_core::jcs::pointer_of(e.path());
        err(pointer, AuditableProblem::Shape(e.into_inner()))
    })?;
    de.end()
        .map_err(|e| err(String::new(), AuditableProblem::TrailingData(e)))?;
    let count = raw.packages.len();
    if count > MAX_PACKAGES {
        return Err(err(
            "/packages".to_owned(),
            AuditableProblem::TooManyPackages {
                count,
                limit: MAX_PACKAGES,
            },
        ));
    }
    raw.packages
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |member: &str| format!("/packages/{i}/{member}");
            if p.name.is_empty() {
                return Err(err(at("name"), AuditableProblem::EmptyName));
            }
            if p.version.is_empty() {
                return Err(err(at("version"), AuditableProblem::EmptyVersion));
            }
            let kind = p.kind.unwrap_or_else(|| "runtime".to_owned());
            if kind != "runtime" && kind != "build" {
                return Err(err(at("kind"), AuditableProblem::UnknownKind { kind }));
            }
            let mut dependencies = Vec::with_capacity(p.dependencies.len());
            for (j, d) in p.dependencies.into_iter().enumerate() {
                match usize::try_from(d) {
                    Ok(d) if d < count => dependencies.push(d),
                    _ => {
                        return Err(err(
                            format!("/packages/{i}/dependencies/{j}"),
                            AuditableProblem::DependencyOutOfRange { index: d, count },
                        ));
                    }
                }
            }
            dependencies.sort_unstable();
            dependencies.dedup();
            Ok(AuditablePackage {
                name: p.name,
                version: p.version,
                source: p.source,
                kind,
                dependencies,
                root: p.root,
            })
        })
        .collect()
}

/// The crates a binary was built from: those marked `root`, else (older lists mark none) the
/// runtime crates no other crate depends on.
pub(crate) fn roots(packages: &[AuditablePackage]) -> Vec<usize> {
    let marked: Vec<usize> = (0..packages.len()).filter(|&i| packages[i].root).collect();
    if !marked.is_empty() {
        return marked;
    }
    let mut depended = vec![false; packages.len()];
    for p in packages {
        for &d in &p.dependencies {
            if let Some(slot) = depended.get_mut(d) {
                *slot = true;
            }
        }
    }
    (0..packages.len())
        .filter(|&i| !depended[i] && packages[i].kind == "runtime")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{"format":1,"packages":[
        {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,1],"root":true},
        {"name":"serde","version":"1.0.228","source":"crates.io","kind":"runtime"},
        {"name":"cc","version":"1.2.0","source":"crates.io","kind":"build","future":"ignored"},
        {"name":"mine","version":"0.3.0","source":"git"}]}"#;

    #[test]
    fn reads_the_embedded_list() {
        let list = parse_auditable(LIST.as_bytes()).unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list[0].dependencies, [1, 2]);
        assert!(list[0].root);
        assert_eq!(list[2].kind, "build");
        assert_eq!(list[3].kind, "runtime");
        assert_eq!(list[1].purl().as_deref(), Some("pkg:cargo/serde@1.0.228"));
        assert_eq!(list[0].purl(), None);
        assert_eq!(list[0].bom_ref(), "cargo:local/app@0.1.0");
        assert_eq!(list[3].bom_ref(), "cargo:git/mine@0.3.0");
        assert_eq!(roots(&list), [0]);
    }

    #[test]
    fn strict_about_structure() {
        let bad = |json: &str| parse_auditable(json.as_bytes()).unwrap_err();
        let e =
            bad(r#"{"packages":[{"name":"a","version":"1","source":"local","dependencies":[1]}]}"#);
        assert!(
            matches!(&e, SbomError::Auditable { pointer, .. } if pointer == "/packages/0/dependencies/0"),
            "{e}"
        );
        let e = bad(r#"{"packages":[{"name":"a","version":"1","source":"local","kind":"dev"}]}"#);
        assert!(
            matches!(&e, SbomError::Auditable { pointer, .. } if pointer == "/packages/0/kind"),
            "{e}"
        );
        let e = bad(r#"{"packages":[{"name":"a","source":"local"}]}"#);
        assert!(matches!(&e, SbomError::Auditable { .. }), "{e}");
        let e = bad(r#"{"packages":[]} x"#);
        assert!(matches!(&e, SbomError::Auditable { .. }), "{e}");
        assert!(parse_auditable(b"[]").is_err());
        let many = format!(
            r#"{{"packages":[{}]}}"#,
            vec![r#"{"name":"a","version":"1","source":"local"}"#; MAX_PACKAGES + 1].join(",")
        );
        let e = bad(&many);
        assert!(
            matches!(&e, SbomError::Auditable { pointer, .. } if pointer == "/packages"),
            "{e}"
        );
    }

    #[test]
    fn roots_without_markers() {
        let list = parse_auditable(
            br#"{"packages":[{"name":"b","version":"1","source":"crates.io"},
                {"name":"a","version":"1","source":"local","dependencies":[0]},
                {"name":"p","version":"1","source":"crates.io","kind":"build"}]}"#,
        )
        .unwrap();
        assert_eq!(roots(&list), [1]);
    }
}
