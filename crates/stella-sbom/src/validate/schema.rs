//! The official CycloneDX JSON schemas: embedded for 1.4–1.7, or read from a schema directory
//! for a newer version or revision (`--schema-dir`).
//!
//! The embedded files live in `crates/stella-sbom/schemas/` (origin, version and licence in its
//! README, digests in its `SHA256SUMS`). Each BOM schema `$ref`s companions (`spdx.schema.json`
//! for licence ids, `jsf-0.82.schema.json` for signatures, and for 1.7
//! `cryptography-defs.schema.json`); they are registered under the `$id`s the references resolve
//! to, so nothing is ever fetched, and every schema is compiled as draft-07 with format checks on.
//! An embedded schema is compiled once per process, on first use.
//!
//! What this module does not own: choosing which schema a document gets (that is
//! [`super::validate_value`]) and the checks no schema expresses ([`super::semantic`]).

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;
use stella_core::file::{OpenError, open_regular};

use super::{Check, Problem};
use crate::SbomError;
use crate::model::SpecVersion;

/// Where the schemas' relative `$ref`s resolve: the directory of every CycloneDX `$id`.
const BASE_URI: &str = "http://cyclonedx.org/schema/";

/// The schemas BOM schemas refer to, embedded. cyclonedx-python-lib's copy of the 1.4 schema (the
/// one embedded) names them with a `.SNAPSHOT` infix, so each is registered under both names.
const COMPANIONS: [(&str, &str); 3] = [
    (
        "spdx.schema.json",
        include_str!("../../schemas/spdx.schema.json"),
    ),
    (
        "jsf-0.82.schema.json",
        include_str!("../../schemas/jsf-0.82.schema.json"),
    ),
    (
        "cryptography-defs.schema.json",
        include_str!("../../schemas/cryptography-defs.schema.json"),
    ),
];

/// The embedded BOM schema of `version`.
fn embedded_text(version: SpecVersion) -> &'static str {
    match version {
        SpecVersion::V1_4 => include_str!("../../schemas/bom-1.4.schema.json"),
        SpecVersion::V1_5 => include_str!("../../schemas/bom-1.5.schema.json"),
        SpecVersion::V1_6 => include_str!("../../schemas/bom-1.6.schema.json"),
        SpecVersion::V1_7 => include_str!("../../schemas/bom-1.7.schema.json"),
    }
}

/// Largest schema file read from a schema directory (the 1.7 BOM schema is about 310 KiB).
pub const MAX_SCHEMA_BYTES: u64 = 16 * 1024 * 1024;

/// Instance values longer than this (as JSON) are not quoted in a problem's message: the
/// pointer already says where, and a whole component would drown the report.
const MAX_QUOTED_INSTANCE: usize = 200;

/// Why a schema file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaFileError {
    /// The file could not be read (a missing file included).
    #[error("cannot read it")]
    Read(#[source] std::io::Error),
    /// The file is larger than [`MAX_SCHEMA_BYTES`].
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// The file is not JSON.
    #[error("not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The schemas could not be registered together (a broken `$id`, say).
    #[error("cannot register it with the schemas it refers to")]
    Register(#[source] Box<jsonschema::ReferencingError>),
    /// The schema does not compile: not a draft-07 schema, or it refers to a schema that is
    /// neither in the directory nor embedded.
    #[error("cannot compile it as a draft-07 JSON schema")]
    Compile(#[source] Box<ValidationError<'static>>),
}

/// Where a compiled schema came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaSource {
    /// Compiled into Stella (`crates/stella-sbom/schemas/`).
    Embedded(SpecVersion),
    /// Read from a schema directory.
    File(PathBuf),
}

impl fmt::Display for SchemaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaSource::Embedded(version) => write!(f, "embedded:{}", version.schema_file()),
            SchemaSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl serde::Serialize for SchemaSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The official schema of one CycloneDX version, compiled.
pub struct OfficialSchema {
    validator: Validator,
    source: SchemaSource,
}

impl fmt::Debug for OfficialSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfficialSchema")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Registers the companions (`companion(name)` first, the embedded copy otherwise) and compiles
/// `schema`.
fn compile(
    schema: &Value,
    mut companion: impl FnMut(&str) -> Result<Option<Value>, SchemaFileError>,
) -> Result<Validator, SchemaFileError> {
    let mut registry = jsonschema::Registry::new();
    for (name, embedded) in COMPANIONS {
        let contents = match companion(name)? {
            Some(contents) => contents,
            None => serde_json::from_str(embedded).map_err(SchemaFileError::NotJson)?,
        };
        let snapshot = name.replacen(".schema.json", ".SNAPSHOT.schema.json", 1);
        registry = registry
            .add(format!("{BASE_URI}{snapshot}"), contents.clone())
            .and_then(|r| r.add(format!("{BASE_URI}{name}"), contents))
            .map_err(|e| SchemaFileError::Register(Box::new(e)))?;
    }
    let registry = registry
        .prepare()
        .map_err(|e| SchemaFileError::Register(Box::new(e)))?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(schema)
        .map_err(|e| SchemaFileError::Compile(Box::new(e)))
}

/// Reads one schema file, refusing what is not a regular file or is over [`MAX_SCHEMA_BYTES`].
fn read_schema(path: &Path) -> Result<Value, SbomError> {
    let err = |source| SbomError::Schema {
        path: path.to_path_buf(),
        source,
    };
    // A FIFO or a device in the schema directory would block the read (or never end it).
    let (file, meta) = open_regular(path).map_err(|e| match e {
        OpenError::Io { source, .. } => err(SchemaFileError::Read(source)),
        other => SbomError::Open(other),
    })?;
    let too_large = || {
        err(SchemaFileError::TooLarge {
            limit: MAX_SCHEMA_BYTES,
        })
    };
    if meta.len() > MAX_SCHEMA_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    // The file may grow after `metadata`: read at most one byte past the limit.
    file.take(MAX_SCHEMA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(SchemaFileError::Read(e)))?;
    if bytes.len() as u64 > MAX_SCHEMA_BYTES {
        return Err(too_large());
    }
    serde_json::from_slice(&bytes).map_err(|e| err(SchemaFileError::NotJson(e)))
}

impl OfficialSchema {
    /// The embedded schema of `version`, compiled on first use and shared from then on.
    pub fn embedded(version: SpecVersion) -> &'static OfficialSchema {
        static COMPILED: [OnceLock<OfficialSchema>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let slot = match version {
            SpecVersion::V1_4 => &COMPILED[0],
            SpecVersion::V1_5 => &COMPILED[1],
            SpecVersion::V1_6 => &COMPILED[2],
            SpecVersion::V1_7 => &COMPILED[3],
        };
        slot.get_or_init(|| {
            // The embedded files are fixed at build time and pinned by SHA256SUMS; the unit
            // tests compile each, so a failure here is a broken build, not bad input.
            #[allow(clippy::expect_used)]
            let validator = serde_json::from_str(embedded_text(version))
                .map_err(SchemaFileError::NotJson)
                .and_then(|schema| compile(&schema, |_| Ok(None)))
                .expect("the embedded CycloneDX schemas compile");
            OfficialSchema {
                validator,
                source: SchemaSource::Embedded(version),
            }
        })
    }

    /// Loads and compiles `bom-<version>.schema.json` from `dir`. The companions it refers to
    /// are read from `dir` when there, the embedded copies otherwise.
    ///
    /// # Errors
    /// [`SbomError::Schema`] naming the file when the BOM schema is missing, unreadable, too
    /// large, not JSON or does not compile (a schema it refers to is missing, say);
    /// [`SbomError::Open`] when it is not a regular file.
    pub fn load(dir: &Path, version: &str) -> Result<Self, SbomError> {
        let path = dir.join(schema_file_name(version));
        let schema = read_schema(&path)?;
        let validator = compile(&schema, |name| {
            let companion = dir.join(name);
            if !companion.exists() {
                return Ok(None);
            }
            match read_schema(&companion) {
                Ok(contents) => Ok(Some(contents)),
                // A companion's own problem, reported against the companion's path.
                Err(SbomError::Schema { source, .. }) => Err(source),
                Err(other) => Err(SchemaFileError::Read(std::io::Error::other(other))),
            }
        })
        .map_err(|source| SbomError::Schema {
            path: path.clone(),
            source,
        })?;
        Ok(OfficialSchema {
            validator,
            source: SchemaSource::File(path),
        })
    }

    /// Where the schema came from.
    pub fn source(&self) -> &SchemaSource {
        &self.source
    }

    /// Every schema violation in `doc`, each at the pointer of the offending value.
    pub(super) fn check(&self, doc: &Value) -> Vec<Problem> {
        problems(&self.validator, doc)
    }
}

/// Every violation of `validator`'s schema in `doc`, each at the pointer of the offending value,
/// a failed `oneOf`/`anyOf` narrowed to the alternative the document meant, long values not
/// quoted. Shared with the other JSON formats Stella checks against official schemas (VEX).
pub fn problems(validator: &Validator, doc: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    for e in validator.iter_errors(doc) {
        best_match(&e, &mut problems);
    }
    problems
}

/// How deep a pointer reaches into the document.
fn depth(e: &ValidationError<'_>) -> usize {
    e.instance_path().as_str().matches('/').count()
}

/// Adds the problems `e` stands for. A failed `oneOf`/`anyOf` ("not valid under any of the
/// schemas") says nothing about why; when exactly one of its alternatives got deeper into the
/// document than the others, that is the one the author meant (a licence object whose `id` is
/// not on the SPDX list, rather than a licence expression), so its errors are reported instead,
/// at their own pointers. The same relevance rule as python-jsonschema's `best_match`.
fn best_match(e: &ValidationError<'_>, problems: &mut Vec<Problem>) {
    if let ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } =
        e.kind()
    {
        let reach = |branch: &Vec<ValidationError<'static>>| branch.iter().map(depth).max();
        let deepest = context.iter().filter_map(reach).max();
        if let Some(deepest) = deepest.filter(|&d| d > depth(e)) {
            let mut winners = context.iter().filter(|b| reach(b) == Some(deepest));
            if let (Some(branch), None) = (winners.next(), winners.next()) {
                for inner in branch {
                    best_match(inner, problems);
                }
                return;
            }
        }
    }
    problems.push(Problem {
        pointer: e.instance_path().as_str().to_owned(),
        message: message(e),
        check: Check::Schema,
    });
}

/// The file name of the official schema of `version`.
pub(super) fn schema_file_name(version: &str) -> String {
    format!("bom-{version}.schema.json")
}

/// The validator's message, quoting the offending value only when it is short: the pointer
/// names it already.
fn message(e: &ValidationError<'_>) -> String {
    let instance = e.instance();
    let placeholder = match instance.as_ref() {
        Value::Object(_) => "the object",
        Value::Array(_) => "the array",
        Value::String(s) if s.len() > MAX_QUOTED_INSTANCE => "the string",
        _ => return e.to_string(),
    };
    e.masked_with(placeholder).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vendored schema file matches `schemas/SHA256SUMS`, and every file is listed.
    #[test]
    fn vendored_schemas_match_their_sha256sums() {
        stella_testkit::assert_vendored(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas"),
            "json",
        );
    }

    #[test]
    fn every_embedded_schema_compiles_and_names_its_version() {
        for version in SpecVersion::READABLE {
            let schema = OfficialSchema::embedded(version);
            assert_eq!(schema.source(), &SchemaSource::Embedded(version));
            let id =
                serde_json::from_str::<Value>(embedded_text(version)).expect("JSON")["$id"].clone();
            assert_eq!(id, version.schema_uri(), "{version}");
            // Compiled once: the second call hands out the same validator.
            assert!(std::ptr::eq(schema, OfficialSchema::embedded(version)));
        }
    }

    #[test]
    fn long_values_are_not_quoted_in_messages() {
        let schema = OfficialSchema::embedded(SpecVersion::V1_7);
        let long = "x".repeat(1000);
        let doc = serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.7",
            "components": [{"type": "library", "name": "a", "bom-ref": 1}],
            "serialNumber": long,
        });
        let problems = schema.check(&doc);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        for p in &problems {
            assert!(p.message.len() < 300, "{}", p.message);
        }
        assert!(problems.iter().any(|p| p.pointer == "/serialNumber"));
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == "/components/0/bom-ref" && p.message.contains('1'))
        );
    }
}
