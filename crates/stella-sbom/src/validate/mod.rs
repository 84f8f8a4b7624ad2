//! `stella sbom validate`: is this a well-formed CycloneDX document whose references hold?
//!
//! Two kinds of check, each reported as a [`Problem`] with a JSON pointer:
//! - [`Check::Schema`]: the official CycloneDX JSON schema of the document's `specVersion`
//!   ([`OfficialSchema`]): embedded in Stella for 1.4–1.7, or `bom-<version>.schema.json` from a
//!   schema directory for a newer version or revision;
//! - [`Check::Semantic`]: what no schema expresses (see [`semantic`](self) checks: unique
//!   `bom-ref`s, resolving references and BOM-Links, parseable purls, hash lengths).
//!
//! [`validate_value`] takes any JSON document: one that is not CycloneDX at all (another
//! `bomFormat`, no `specVersion`, not an object) is an invalid document whose problems say so,
//! checked against the newest embedded schema. Only a CycloneDX document of a version Stella has
//! no schema for cannot be judged ([`SbomError::UnsupportedSpecVersion`]).
//!
//! Problems are sorted by pointer (array indices numerically), so a report is deterministic.
//!
//! What this module does not own: reading bytes as JSON (`stella-core::jcs`), or deciding what a
//! problem means for an exit code (the CLI).

mod schema;
mod semantic;

use std::cmp::Ordering;
use std::path::Path;

use serde::Serialize;
use stella_core::jcs::Value;

pub use schema::{MAX_SCHEMA_BYTES, OfficialSchema, SchemaFileError, SchemaSource, problems};

use crate::SbomError;
use crate::document::SbomDocument;
use crate::model::SpecVersion;

/// Which check found a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Check {
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
    /// The document's `specVersion`, when the schema of that version checked it; `None` for a
    /// document that is not CycloneDX (checked against the newest embedded schema).
    #[serde(rename = "specVersion", skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// The schema that checked the structure: `embedded:bom-<version>.schema.json` or a file.
    #[serde(rename = "schemaSource")]
    pub schema: SchemaSource,
    /// Every problem, sorted by pointer.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether the document passed every check.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Validates a CycloneDX document against `schema` (`None`: the embedded schema of its
/// version), plus the semantic checks.
pub fn validate(doc: &SbomDocument<'_>, schema: Option<&OfficialSchema>) -> Report {
    let version = doc.spec_version();
    let schema = schema.unwrap_or_else(|| OfficialSchema::embedded(version));
    run(&doc.value().to_serde(), Some(version.to_string()), schema)
}

/// Validates any JSON document as CycloneDX: the flow of `stella sbom validate`.
///
/// The schema is `bom-<specVersion>.schema.json` from `schema_dir` when that file exists there,
/// else the embedded one of the declared version. A document that is not CycloneDX (a
/// `bomFormat` other than `"CycloneDX"`, no `specVersion` string, not an object) gets the newest
/// embedded schema, whose problems say what is missing.
///
/// # Errors
/// [`SbomError::UnsupportedSpecVersion`] for a CycloneDX document of a version that is neither
/// embedded nor in `schema_dir`; [`SbomError::Schema`] or [`SbomError::Open`] for a schema file
/// in `schema_dir` that cannot be used.
pub fn validate_value(value: &Value<'_>, schema_dir: Option<&Path>) -> Result<Report, SbomError> {
    let is_cyclonedx = value.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX");
    // Only a version-shaped string is ever joined to the schema directory's path.
    let declared = value
        .get("specVersion")
        .and_then(Value::as_str)
        .filter(|v| is_version(v));
    let json = value.to_serde();
    if let (Some(version), Some(dir)) = (declared, schema_dir) {
        let file = dir.join(schema::schema_file_name(version));
        let embedded = version.parse::<SpecVersion>().is_ok();
        // For a version Stella does not embed, the directory is the only schema there is: a
        // missing file is then reported by name.
        if file.exists() || (is_cyclonedx && !embedded) {
            let schema = OfficialSchema::load(dir, version)?;
            return Ok(run(&json, Some(version.to_owned()), &schema));
        }
    }
    match declared.map(str::parse::<SpecVersion>) {
        Some(Ok(version)) => Ok(run(
            &json,
            Some(version.to_string()),
            OfficialSchema::embedded(version),
        )),
        _ if is_cyclonedx => match value.get("specVersion").and_then(Value::as_str) {
            Some(found) => Err(SbomError::UnsupportedSpecVersion {
                found: found.to_owned(),
            }),
            // CycloneDX without a version: the schema says `specVersion` is required.
            None => Ok(run(
                &json,
                None,
                OfficialSchema::embedded(SpecVersion::WRITTEN),
            )),
        },
        _ => Ok(run(
            &json,
            None,
            OfficialSchema::embedded(SpecVersion::WRITTEN),
        )),
    }
}

/// `1.7`, `2.0`: digits, a dot, digits.
fn is_version(s: &str) -> bool {
    s.split_once('.').is_some_and(|(major, minor)| {
        [major, minor]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The schema's problems and the semantic ones, sorted.
fn run(json: &serde_json::Value, spec_version: Option<String>, schema: &OfficialSchema) -> Report {
    let mut problems = schema.check(json);
    problems.extend(semantic::check(json));
    problems.sort_by(|a, b| {
        compare_pointers(&a.pointer, &b.pointer)
            .then(a.check.cmp(&b.check))
            .then(a.message.cmp(&b.message))
    });
    problems.dedup();
    Report {
        spec_version,
        schema: schema.source().clone(),
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
