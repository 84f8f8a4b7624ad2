//! The official CycloneDX JSON schemas, when the user has them (`--schema-dir`).
//!
//! A schema directory holds `bom-<version>.schema.json` as published by CycloneDX, beside the
//! schemas they `$ref` (`spdx.schema.json`, `jsf-0.82.schema.json`, and for 1.7
//! `cryptography-defs.schema.json`). They are registered under their `$id`s so that nothing is
//! fetched over the network, and validated as draft-07 with format checks on.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde_json::Value;
use stella_core::file::{OpenError, open_regular};

use super::{Check, Problem};
use crate::SbomError;
use crate::model::SpecVersion;

/// Schemas the BOM schemas refer to, looked up beside them.
const COMPANIONS: [&str; 3] = [
    "spdx.schema.json",
    "jsf-0.82.schema.json",
    "cryptography-defs.schema.json",
];

/// Largest schema file read (the 1.7 BOM schema is about 300 KiB).
const MAX_SCHEMA_BYTES: u64 = 16 * 1024 * 1024;

/// The official schema of one CycloneDX version, compiled.
pub struct OfficialSchema {
    validator: Validator,
    path: PathBuf,
}

impl std::fmt::Debug for OfficialSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfficialSchema")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn read_schema(path: &Path) -> Result<Value, SbomError> {
    let err = |message: String| SbomError::Schema {
        path: path.display().to_string(),
        message,
    };
    // A FIFO or a device in the schema directory would block the read (or never end it).
    let (file, meta) = open_regular(path).map_err(|e| match e {
        OpenError::Io { source, .. } => err(source.to_string()),
        other => SbomError::Open(other),
    })?;
    if meta.len() > MAX_SCHEMA_BYTES {
        return Err(err(format!("larger than {MAX_SCHEMA_BYTES} bytes")));
    }
    let mut bytes = Vec::new();
    // The file may grow after `metadata`: read at most one byte past the limit.
    file.take(MAX_SCHEMA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > MAX_SCHEMA_BYTES {
        return Err(err(format!("larger than {MAX_SCHEMA_BYTES} bytes")));
    }
    serde_json::from_slice(&bytes).map_err(|e| err(format!("not JSON: {e}")))
}

impl OfficialSchema {
    /// Loads and compiles the schema of `version` from `dir`.
    ///
    /// # Errors
    /// [`SbomError::Schema`] when the BOM schema is missing or unreadable, or a schema it refers
    /// to is missing from `dir`.
    pub fn load(dir: &Path, version: SpecVersion) -> Result<Self, SbomError> {
        let path = dir.join(version.schema_file());
        let schema = read_schema(&path)?;
        let mut resources = Vec::new();
        for name in COMPANIONS {
            let companion = dir.join(name);
            if companion.exists() {
                let contents = read_schema(&companion)?;
                resources.push((format!("http://cyclonedx.org/schema/{name}"), contents));
            }
        }
        let schema_err = |message: String| SbomError::Schema {
            path: path.display().to_string(),
            message,
        };
        let mut builder = jsonschema::Registry::new();
        for (uri, contents) in resources {
            builder = builder
                .add(uri, contents)
                .map_err(|e| schema_err(e.to_string()))?;
        }
        let registry = builder.prepare().map_err(|e| schema_err(e.to_string()))?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .with_registry(&registry)
            .build(&schema)
            .map_err(|e| {
                schema_err(format!(
                    "cannot compile ({e}); a schema it refers to may be missing from {}",
                    dir.display()
                ))
            })?;
        Ok(OfficialSchema { validator, path })
    }

    /// Where the schema was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every schema violation in `doc`.
    pub(super) fn check(&self, doc: &Value) -> Vec<Problem> {
        self.validator
            .iter_errors(doc)
            .map(|e| Problem {
                pointer: e.instance_path().as_str().to_owned(),
                message: e.to_string(),
                check: Check::Schema,
            })
            .collect()
    }
}
