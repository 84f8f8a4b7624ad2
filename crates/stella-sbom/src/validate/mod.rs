//! `stella sbom validate`: is this a well-formed CycloneDX document whose references hold?
//!
//! Three kinds of check, each reported as a [`Problem`] with a JSON pointer:
//! - [`Check::Structure`]: Stella's own structural checks (always run, no files needed);
//! - [`Check::Schema`]: the official JSON schema of the document's `specVersion`, when a schema
//!   directory is given ([`OfficialSchema`]);
//! - [`Check::Semantic`]: what no schema expresses (see [`semantic`](self) checks: unique
//!   `bom-ref`s, resolving references and BOM-Links, parseable purls, hash lengths).
//!
//! Problems are sorted by pointer (array indices numerically), so a report is deterministic.

mod schema;
mod semantic;
mod structural;

use std::cmp::Ordering;

use serde::Serialize;

pub use schema::OfficialSchema;

use crate::document::SbomDocument;
use crate::model::SpecVersion;

/// Which check found a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// Stella's structural checks.
    Structure,
    /// The official JSON schema.
    Schema,
    /// Cross-document semantic checks.
    Semantic,
}

/// One thing wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// RFC 6901 pointer to the offending value (empty for the root).
    pub pointer: String,
    /// What is wrong, in words.
    pub message: String,
    /// Which check found it.
    pub check: Check,
}

/// The outcome of validating one document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The document's `specVersion`.
    #[serde(rename = "specVersion")]
    pub spec_version: String,
    /// Where the schema came from: `"builtin"` or the official schema file.
    pub schema: String,
    /// Every problem, sorted by pointer.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether the document passed every check.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Validates `doc`: structural checks, or the official schema when one is given, plus the
/// semantic checks.
pub fn validate(doc: &SbomDocument<'_>, official: Option<&OfficialSchema>) -> Report {
    let json = doc.value().to_serde();
    let version: SpecVersion = doc.spec_version();
    let mut problems = match official {
        Some(schema) => schema.check(&json),
        None => structural::check(&json, version),
    };
    problems.extend(semantic::check(&json));
    problems.sort_by(|a, b| {
        compare_pointers(&a.pointer, &b.pointer)
            .then(a.check.cmp(&b.check))
            .then(a.message.cmp(&b.message))
    });
    problems.dedup();
    Report {
        spec_version: version.to_string(),
        schema: official.map_or_else(|| "builtin".to_owned(), |s| s.path().display().to_string()),
        problems,
    }
}

/// Orders pointers segment by segment, numbers numerically (`/2` before `/10`).
fn compare_pointers(a: &str, b: &str) -> Ordering {
    let mut sa = a.split('/');
    let mut sb = b.split('/');
    loop {
        match (sa.next(), sb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
