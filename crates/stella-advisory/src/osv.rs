//! OSV records (<https://ossf.github.io/osv-schema/>): read, checked, and asked whether a
//! version of a package is affected and which symbols are vulnerable.
//!
//! **Reading** ([`Record::from_json`]) keeps what Stella uses — id, aliases, `modified`,
//! `withdrawn`, summary, details and each `affected` entry's package, ranges, versions and
//! `ecosystem_specific` — and refuses, naming the place, what it cannot use safely: a record
//! over [`MAX_RECORD_BYTES`] (a 10 MB summary included), a missing or empty id, an event that
//! is not exactly one of `introduced`, `fixed`, `last_affected`, `limit`, a range without
//! events. Unknown members are ignored, as the schema lets records grow.
//!
//! **Is a version affected?** ([`Affected::affects`]) Each `SEMVER` or `ECOSYSTEM` range is
//! evaluated as the OSV schema's algorithm says: the events sorted by the ecosystem's order
//! ([`crate::version`]; `introduced: "0"` before every version; a package of the ecosystem
//! `GIT` with `ECOSYSTEM` ranges, as Stella's overlay writes a C library, in its upstream
//! release numbers), then walked — at or after an
//! `introduced` the version is affected, at or after a `fixed` or after a `last_affected` it is
//! not. A version listed in `versions` is affected. `GIT` ranges name commits, not versions:
//! they are skipped, and an entry that has nothing else answers [`Answer::Unknown`] instead of
//! "not affected".
//!
//! **Symbols** ([`Affected::symbols`]): Go vulndb's `ecosystem_specific.imports[].symbols`
//! (each qualified by its import path), the RustSec export's
//! `ecosystem_specific.affects.functions`, and Stella's overlay `ecosystem_specific.symbols`
//! (C functions, named as the binary exports them).
//!
//! **Stella's overlay** ([`Affected::overlay`]): records with ids `STELLA-<CVE>` (the format is
//! documented in `advisories/overlay/README.md`) also say, in `ecosystem_specific`, which
//! shared libraries (`libraries`, sonames) carry the vulnerable functions and which
//! distribution source packages (`packages`) ship the library, read into [`Overlay`].
//!
//! What this module does not own: fetching or storing records, RustSec's Markdown format, and
//! matching symbols to a binary's functions.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;
use stella_core::{ErrorKind, Kinded};

use crate::version::{Ecosystem, Version, VersionError};

/// Largest record read (a whole OSV record; the Go vulndb's largest is under 100 KiB).
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// The id prefix of Stella's own overlay records (`STELLA-CVE-2022-37434`).
pub const OVERLAY_ID_PREFIX: &str = "STELLA-";

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OsvError {
    /// Larger than [`MAX_RECORD_BYTES`].
    #[error("the record is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON of the OSV shape.
    #[error("not an OSV record: {0}")]
    Json(#[from] serde_json::Error),
    /// A rule of the schema broken where it matters.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// JSON pointer.
        pointer: String,
        /// What is wrong.
        reason: String,
    },
}

impl Kinded for OsvError {
    fn kind(&self) -> ErrorKind {
        match self {
            OsvError::TooLarge { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::Invalid,
        }
    }
}

/// One OSV record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    /// Its id (`GO-2022-0969`, `RUSTSEC-2023-0001`, `CVE-…`).
    pub id: String,
    /// When it last changed (RFC 3339 as written).
    #[serde(default)]
    pub modified: String,
    /// When it was withdrawn, if it was.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// Other ids of the same vulnerability.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line.
    #[serde(default)]
    pub summary: Option<String>,
    /// The description.
    #[serde(default)]
    pub details: Option<String>,
    /// What it affects.
    #[serde(default)]
    pub affected: Vec<Affected>,
}

/// What one package's versions are affected, and by which symbols.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Affected {
    /// The package.
    #[serde(default)]
    pub package: Option<Package>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Versions listed one by one.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Ecosystem-specific data (symbols live here).
    #[serde(default)]
    pub ecosystem_specific: Option<Value>,
}

/// A package.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Package {
    /// The OSV ecosystem (`Go`, `crates.io`, `Debian:12`).
    pub ecosystem: String,
    /// The package name.
    pub name: String,
    /// Its purl, when given.
    #[serde(default)]
    pub purl: Option<String>,
}

/// What kind of versions a range's events are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RangeKind {
    /// SemVer 2.0 versions.
    #[serde(rename = "SEMVER")]
    Semver,
    /// The ecosystem's own versions.
    #[serde(rename = "ECOSYSTEM")]
    Ecosystem,
    /// Git commits.
    #[serde(rename = "GIT")]
    Git,
}

/// A range: events in the versions' order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Range {
    /// The kind of its versions.
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// The events.
    pub events: Vec<Event>,
}

/// One event of a range: exactly one of its members is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// From this version on, affected (`"0"`: from the start).
    #[serde(default)]
    pub introduced: Option<String>,
    /// From this version on, not affected.
    #[serde(default)]
    pub fixed: Option<String>,
    /// The last affected version.
    #[serde(default)]
    pub last_affected: Option<String>,
    /// An upper bound of the range (for git ranges).
    #[serde(default)]
    pub limit: Option<String>,
}

/// What Stella's overlay says of one affected C library, beyond its symbols
/// (`ecosystem_specific` of an `affected` entry; see `advisories/overlay/README.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// The vulnerable functions, as the library's binary names them (C names, no path).
    #[serde(default)]
    pub symbols: Vec<String>,
    /// The sonames of the shared libraries that carry them (`libz.so.1`, `libcrypto.so.3`).
    #[serde(default)]
    pub libraries: Vec<String>,
    /// The distribution source packages that ship the library.
    #[serde(default)]
    pub packages: Vec<DistroPackage>,
}

/// A distribution's source package (`Debian` `openssl`, `Alpine` `zlib`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistroPackage {
    /// The OSV ecosystem of the distribution (`Debian`, `Alpine`).
    pub ecosystem: String,
    /// The source package's name.
    pub name: String,
}

/// Whether a version is affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Affected: in a range (its index), or listed in `versions`.
    Affected {
        /// The range that covers it; `None` when it is listed in `versions`.
        range: Option<usize>,
    },
    /// In no range and not listed.
    NotAffected,
    /// The entry has only ranges Stella cannot evaluate (git commits), and the version is not
    /// listed: nothing can be said.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// A vulnerable symbol an advisory names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Symbol {
    /// The package path it lives in (a Go import path; empty where the name is already whole).
    pub path: String,
    /// The name as the advisory writes it (`Server.ServeConn`, `crate::module::function`,
    /// `inflateGetHeader`).
    pub name: String,
}

impl Record {
    /// Reads one record.
    ///
    /// # Errors
    /// [`OsvError`] naming what the record gets wrong (see the module docs).
    pub fn from_json(bytes: &[u8]) -> Result<Self, OsvError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(OsvError::TooLarge {
                size: bytes.len(),
                limit: MAX_RECORD_BYTES,
            });
        }
        let record: Record = serde_json::from_slice(bytes)?;
        record.check()?;
        Ok(record)
    }

    fn check(&self) -> Result<(), OsvError> {
        let invalid = |pointer: String, reason: &str| OsvError::Invalid {
            pointer,
            reason: reason.to_owned(),
        };
        if self.id.trim().is_empty() {
            return Err(invalid("/id".to_owned(), "the id is empty"));
        }
        for (a, affected) in self.affected.iter().enumerate() {
            for (r, range) in affected.ranges.iter().enumerate() {
                let at = format!("/affected/{a}/ranges/{r}");
                if range.events.is_empty() {
                    return Err(invalid(format!("{at}/events"), "a range without events"));
                }
                for (e, event) in range.events.iter().enumerate() {
                    let set = [
                        &event.introduced,
                        &event.fixed,
                        &event.last_affected,
                        &event.limit,
                    ]
                    .iter()
                    .filter(|v| v.is_some())
                    .count();
                    if set != 1 {
                        return Err(invalid(
                            format!("{at}/events/{e}"),
                            "an event must be exactly one of introduced, fixed, last_affected, limit",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One event with its version parsed (`None`: the `introduced: "0"` that precedes all).
struct Parsed<'e> {
    event: &'e Event,
    version: Option<Version>,
}

impl Affected {
    /// The ecosystem whose order the entry's versions follow, when Stella knows it.
    pub fn ecosystem(&self) -> Option<Ecosystem> {
        self.package
            .as_ref()
            .and_then(|p| Ecosystem::from_osv(&p.ecosystem))
    }

    /// Whether `version` of the package is affected (see the module docs).
    ///
    /// An ecosystem Stella has no order for answers [`Answer::Unknown`].
    ///
    /// # Errors
    /// [`VersionError`] when the version, or a version in a range, is not one the ecosystem
    /// accepts.
    pub fn affects(&self, version: &str) -> Result<Answer, VersionError> {
        if self.versions.iter().any(|v| v == version) {
            return Ok(Answer::Affected { range: None });
        }
        let Some(ecosystem) = self.ecosystem() else {
            return Ok(Answer::Unknown {
                reason: format!(
                    "no version order is known for the ecosystem {:?}",
                    self.package
                        .as_ref()
                        .map_or("(no package)", |p| p.ecosystem.as_str())
                ),
            });
        };
        // Parsed only when a range needs it: a `GIT` package's tag (`curl-8_3_0`) is no upstream
        // release, and an entry with commit ranges only answers Unknown, not an error.
        let mut parsed = None;
        let mut evaluable = false;
        for (index, range) in self.ranges.iter().enumerate() {
            if range.kind == RangeKind::Git {
                continue;
            }
            evaluable = true;
            let v = match &parsed {
                Some(v) => v,
                None => parsed.insert(Version::parse(ecosystem, version)?),
            };
            let mut events = range
                .events
                .iter()
                .map(|event| {
                    let text = event
                        .introduced
                        .as_deref()
                        .or(event.fixed.as_deref())
                        .or(event.last_affected.as_deref())
                        .or(event.limit.as_deref())
                        .unwrap_or_default();
                    let version = if event.introduced.as_deref() == Some("0") {
                        None
                    } else {
                        Some(Version::parse(ecosystem, text)?)
                    };
                    Ok(Parsed { event, version })
                })
                .collect::<Result<Vec<_>, VersionError>>()?;
            events.sort_by(|a, b| match (&a.version, &b.version) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
            });
            let mut affected = false;
            for p in &events {
                let order = p.version.as_ref().map_or(Ordering::Greater, |e| {
                    v.compare(e).unwrap_or(Ordering::Equal)
                });
                let at_or_after = order != Ordering::Less;
                if p.event.introduced.is_some() && at_or_after {
                    affected = true;
                } else if (p.event.fixed.is_some() || p.event.limit.is_some()) && at_or_after
                    || p.event.last_affected.is_some() && order == Ordering::Greater
                {
                    affected = false;
                }
            }
            if affected {
                return Ok(Answer::Affected { range: Some(index) });
            }
        }
        if evaluable || self.ranges.is_empty() {
            Ok(Answer::NotAffected)
        } else {
            Ok(Answer::Unknown {
                reason: "the entry's ranges are git commits only, and the version is not listed"
                    .to_owned(),
            })
        }
    }

    /// What Stella's overlay says of the entry's library (see the module docs); `None` when
    /// `ecosystem_specific` is absent. Only overlay records (ids starting with
    /// [`OVERLAY_ID_PREFIX`]) are held to this shape; call it for those.
    ///
    /// # Errors
    /// [`OsvError::Invalid`] naming the member of `ecosystem_specific` that is not the
    /// overlay's shape (unknown members are refused: a misspelt `librairies` would otherwise
    /// silently lose the data).
    pub fn overlay(&self) -> Result<Option<Overlay>, OsvError> {
        let Some(specific) = &self.ecosystem_specific else {
            return Ok(None);
        };
        Overlay::deserialize(specific)
            .map(Some)
            .map_err(|e| OsvError::Invalid {
                pointer: "ecosystem_specific".to_owned(),
                reason: e.to_string(),
            })
    }

    /// The vulnerable symbols the entry names, sorted (see the module docs).
    pub fn symbols(&self) -> Vec<Symbol> {
        let mut out = Vec::new();
        let Some(specific) = &self.ecosystem_specific else {
            return out;
        };
        let names = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        for import in specific
            .get("imports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = import
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for name in names(import.get("symbols")) {
                out.push(Symbol {
                    path: path.to_owned(),
                    name,
                });
            }
        }
        for name in names(specific.pointer("/affects/functions")) {
            out.push(Symbol {
                path: String::new(),
                name,
            });
        }
        for name in names(specific.get("symbols")) {
            out.push(Symbol {
                path: String::new(),
                name,
            });
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        Record::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ranges_are_walked_in_the_ecosystems_order() {
        let r = record(
            r#"{"id":"GO-X","affected":[{"package":{"name":"stdlib","ecosystem":"Go"},
            "ranges":[{"type":"SEMVER","events":[{"introduced":"1.19.0-0"},{"fixed":"1.19.1"},
            {"introduced":"0"},{"fixed":"1.18.6"}]}]}]}"#,
        );
        let a = &r.affected[0];
        for (version, affected) in [
            ("1.17.0", true),
            ("1.18.5", true),
            ("1.18.6", false),
            ("1.18.10", false),
            ("1.19.0", true),
            ("1.19.1", false),
            ("1.20.0", false),
        ] {
            let answer = a.affects(version).unwrap();
            assert_eq!(
                matches!(answer, Answer::Affected { .. }),
                affected,
                "{version}: {answer:?}"
            );
        }
    }

    #[test]
    fn last_affected_and_listed_versions() {
        let r = record(
            r#"{"id":"X","affected":[{"package":{"name":"a","ecosystem":"crates.io"},
            "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"last_affected":"1.2.0"}]}],
            "versions":["0.9.1"]}]}"#,
        );
        let a = &r.affected[0];
        assert_eq!(
            a.affects("1.2.0").unwrap(),
            Answer::Affected { range: Some(0) }
        );
        assert_eq!(a.affects("1.2.1").unwrap(), Answer::NotAffected);
        assert_eq!(
            a.affects("0.9.1").unwrap(),
            Answer::Affected { range: None }
        );
        assert_eq!(a.affects("0.9.0").unwrap(), Answer::NotAffected);
    }

    #[test]
    fn git_only_entries_never_answer_not_affected() {
        let r = record(
            r#"{"id":"X","affected":[{"package":{"name":"zlib","ecosystem":"Debian"},
            "ranges":[{"type":"GIT","events":[{"introduced":"abc"},{"fixed":"def"}]}]}]}"#,
        );
        assert!(matches!(
            r.affected[0].affects("1:1.2.13.dfsg-1").unwrap(),
            Answer::Unknown { .. }
        ));
        // OSV's own GIT packages: commit ranges and tags. A tag that is no upstream release is
        // still Unknown (or listed), not an error.
        let r = record(
            r#"{"id":"X","affected":[{"package":{"name":"https://github.com/curl/curl","ecosystem":"GIT"},
            "ranges":[{"type":"GIT","repo":"https://github.com/curl/curl","events":[{"introduced":"abc"},{"fixed":"def"}]}],
            "versions":["curl-8_3_0"]}]}"#,
        );
        assert!(matches!(
            r.affected[0].affects("curl-8_2_1").unwrap(),
            Answer::Unknown { .. }
        ));
        assert_eq!(
            r.affected[0].affects("curl-8_3_0").unwrap(),
            Answer::Affected { range: None }
        );
    }

    #[test]
    fn broken_records_are_refused_by_place() {
        for (json, pointer) in [
            (r#"{"id":""}"#, "/id"),
            (
                r#"{"id":"X","affected":[{"ranges":[{"type":"SEMVER","events":[]}]}]}"#,
                "/affected/0/ranges/0/events",
            ),
            (
                r#"{"id":"X","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0","fixed":"2.0.0"}]}]}]}"#,
                "/affected/0/ranges/0/events/0",
            ),
        ] {
            match Record::from_json(json.as_bytes()) {
                Err(OsvError::Invalid { pointer: p, .. }) => assert_eq!(p, pointer),
                other => panic!("{json}: {other:?}"),
            }
        }
        let huge = format!(r#"{{"id":"X","summary":"{}"}}"#, "a".repeat(10 << 20));
        assert!(matches!(
            Record::from_json(huge.as_bytes()),
            Err(OsvError::TooLarge { .. })
        ));
        assert!(
            Record::from_json(
                br#"{"id":"X","affected":[{"ranges":[{"type":"SVN","events":[{"fixed":"1"}]}]}]}"#
            )
            .is_err()
        );
    }
}
