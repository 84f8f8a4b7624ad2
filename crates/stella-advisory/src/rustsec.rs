//! RustSec advisories as the advisory-db holds them (`crates/<crate>/RUSTSEC-*.md`: TOML front
//! matter in a fenced block, then the Markdown text), read with what the OSV export drops: the
//! version requirements of each vulnerable function.
//!
//! A version of the crate is affected unless it matches one of `versions.patched` or
//! `versions.unaffected` (SemVer requirements, Cargo's syntax). Each entry of
//! `affected.functions` names a function by its public path (`http::header::HeaderMap::reserve`)
//! with the requirements of the versions in which that function is vulnerable. Informational
//! advisories (`unmaintained`, `unsound`, `notice`) are read and marked: they name no
//! vulnerability. The title is the Markdown's first `#` heading.
//!
//! What this module does not own: OSV records ([`crate::osv`]), fetching the database.

use serde::Deserialize;
use stella_core::{ErrorKind, Kinded};

/// Largest advisory file read.
pub const MAX_ADVISORY_BYTES: usize = 1 << 20;

/// Why an advisory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RustSecError {
    /// Larger than [`MAX_ADVISORY_BYTES`].
    #[error("the advisory is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No ```` ```toml ```` front matter.
    #[error("no TOML front matter (a ```toml block first)")]
    NoFrontMatter,
    /// The front matter is not the advisory format.
    #[error("front matter: {0}")]
    Toml(#[from] toml::de::Error),
    /// A version requirement that is not Cargo's syntax.
    #[error("{place}: {requirement:?} is not a version requirement: {reason}")]
    Requirement {
        /// Where (`versions.patched`, `affected.functions."http::…"`).
        place: String,
        /// As written.
        requirement: String,
        /// Why.
        reason: String,
    },
}

impl Kinded for RustSecError {
    fn kind(&self) -> ErrorKind {
        match self {
            RustSecError::TooLarge { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::Invalid,
        }
    }
}

#[derive(Deserialize)]
struct FrontMatter {
    advisory: AdvisorySection,
    #[serde(default)]
    affected: Option<AffectedSection>,
    #[serde(default)]
    versions: VersionsSection,
}

#[derive(Deserialize)]
struct AdvisorySection {
    id: String,
    package: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize, Default)]
struct AffectedSection {
    #[serde(default)]
    functions: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize, Default)]
struct VersionsSection {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// A vulnerable function and the versions in which it is vulnerable.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// The public path (`http::header::HeaderMap::reserve`).
    pub path: String,
    /// The requirements its vulnerable versions match (any of them).
    pub versions: Vec<semver::VersionReq>,
}

/// One RustSec advisory.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    /// `RUSTSEC-YYYY-NNNN`.
    pub id: String,
    /// The crate.
    pub package: String,
    /// CVE and GHSA ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// The day it was reported (`YYYY-MM-DD` as written).
    pub date: Option<String>,
    /// `unmaintained`, `unsound` or `notice` for an informational advisory.
    pub informational: Option<String>,
    /// When it was withdrawn, if it was.
    pub withdrawn: Option<String>,
    /// Where to read more.
    pub url: Option<String>,
    /// The title (the first `#` heading).
    pub title: Option<String>,
    /// Versions that are not affected because they are patched.
    pub patched: Vec<semver::VersionReq>,
    /// Versions that never were affected.
    pub unaffected: Vec<semver::VersionReq>,
    /// The vulnerable functions, by path.
    pub functions: Vec<Function>,
}

fn requirements(place: &str, list: &[String]) -> Result<Vec<semver::VersionReq>, RustSecError> {
    list.iter()
        .map(|r| {
            semver::VersionReq::parse(r).map_err(|e| RustSecError::Requirement {
                place: place.to_owned(),
                requirement: r.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

impl Advisory {
    /// Reads one advisory file.
    ///
    /// # Errors
    /// [`RustSecError`] naming what is wrong.
    pub fn from_markdown(text: &str) -> Result<Self, RustSecError> {
        if text.len() > MAX_ADVISORY_BYTES {
            return Err(RustSecError::TooLarge {
                size: text.len(),
                limit: MAX_ADVISORY_BYTES,
            });
        }
        let rest = text
            .trim_start()
            .strip_prefix("```toml")
            .ok_or(RustSecError::NoFrontMatter)?;
        let (toml_text, markdown) = rest
            .split_once("\n```")
            .ok_or(RustSecError::NoFrontMatter)?;
        let front: FrontMatter = toml::from_str(toml_text)?;
        let title = markdown
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .map(|t| t.trim().to_owned());
        let functions = front
            .affected
            .unwrap_or_default()
            .functions
            .into_iter()
            .map(|(path, reqs)| {
                let versions = requirements(&format!("affected.functions.{path:?}"), &reqs)?;
                Ok(Function { path, versions })
            })
            .collect::<Result<Vec<_>, RustSecError>>()?;
        Ok(Advisory {
            id: front.advisory.id,
            package: front.advisory.package,
            aliases: front.advisory.aliases,
            date: front.advisory.date,
            informational: front.advisory.informational,
            withdrawn: front.advisory.withdrawn,
            url: front.advisory.url,
            title,
            patched: requirements("versions.patched", &front.versions.patched)?,
            unaffected: requirements("versions.unaffected", &front.versions.unaffected)?,
            functions,
        })
    }

    /// Whether `version` of the crate is affected: it matches neither a patched nor an
    /// unaffected requirement.
    pub fn affects(&self, version: &semver::Version) -> bool {
        !self
            .patched
            .iter()
            .chain(&self.unaffected)
            .any(|r| r.matches(version))
    }

    /// The functions vulnerable in `version` (those whose requirements it matches).
    pub fn functions_in(&self, version: &semver::Version) -> Vec<&Function> {
        self.functions
            .iter()
            .filter(|f| f.versions.iter().any(|r| r.matches(version)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: &str = r#"```toml
[advisory]
id = "RUSTSEC-2019-0033"
package = "http"
aliases = ["CVE-2019-25008"]
date = "2019-11-16"

[affected.functions]
"http::header::HeaderMap::reserve" = ["< 0.1.20"]

[versions]
patched = [">= 0.1.20"]
```

# Integer Overflow in HeaderMap::reserve() can cause Denial of Service

Text.
"#;

    #[test]
    fn versions_and_functions_follow_the_requirements() {
        let a = Advisory::from_markdown(HTTP).unwrap();
        assert_eq!(a.id, "RUSTSEC-2019-0033");
        assert_eq!(
            a.title.as_deref(),
            Some("Integer Overflow in HeaderMap::reserve() can cause Denial of Service")
        );
        let v = |s: &str| semver::Version::parse(s).unwrap();
        assert!(a.affects(&v("0.1.19")));
        assert!(!a.affects(&v("0.1.20")));
        assert_eq!(a.functions_in(&v("0.1.19")).len(), 1);
        assert!(a.functions_in(&v("0.2.0")).is_empty());
    }

    #[test]
    fn broken_advisories_are_named() {
        assert!(matches!(
            Advisory::from_markdown("# no front matter"),
            Err(RustSecError::NoFrontMatter)
        ));
        let bad = HTTP.replace("< 0.1.20\"]", "less than 0.1.20\"]");
        match Advisory::from_markdown(&bad) {
            Err(RustSecError::Requirement { place, .. }) => {
                assert!(place.contains("HeaderMap::reserve"), "{place}");
            }
            other => panic!("{other:?}"),
        }
    }
}
