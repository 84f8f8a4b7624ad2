//! Any VEX document, whatever its format: the format recognised from the document's own
//! markers, read by that format's reader, its warnings in one shape.
//!
//! | format | recognised by |
//! |---|---|
//! | OpenVEX | an `@context` (string, or array holding one) under `https://openvex.dev/ns` |
//! | CycloneDX | `"bomFormat": "CycloneDX"` (standalone VEX, or an SBOM carrying `vulnerabilities`) |
//! | CSAF | a `document` object with `csaf_version` |
//!
//! A document with none of these markers is refused, naming what was looked for: reading it
//! as one format by guess would report errors about members it never meant to have. Bytes that
//! are not JSON are refused with the JSON reader's own error (pointer and byte offset).
//!
//! What this module does not own: any format's rules (see [`crate::openvex`],
//! [`crate::cyclonedx`], [`crate::csaf`]) or validation against schemas and profiles
//! ([`crate::validate`]).

use serde::Deserialize;
use serde::de::IgnoredAny;
use stella_core::jcs;
use stella_core::{Digest, ErrorKind, Kinded};

use crate::csaf::{self, CsafError};
use crate::cyclonedx::{self, CycloneDxError};
use crate::merge::MergeInput;
use crate::model::{VexDocument, VexFormat};
use crate::openvex::{self, OpenVexError};

/// The `@context` every OpenVEX version's IRI starts with.
const OPENVEX_CONTEXT: &str = "https://openvex.dev/ns";

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The bytes are not JSON Stella accepts.
    #[error("not a JSON document Stella accepts: {source}")]
    Json {
        /// The reader's error, with pointer and byte offset.
        #[source]
        source: jcs::JcsError,
    },
    /// JSON, but no VEX format's marker.
    #[error(
        "not a VEX document: no OpenVEX @context (https://openvex.dev/ns…), no CycloneDX bomFormat and no CSAF document.csaf_version"
    )]
    UnknownFormat,
    /// The document was asked to be one format and is another.
    #[error("the document is {found}, not {expected}")]
    WrongFormat {
        /// The format asked for.
        expected: &'static str,
        /// The format the document is.
        found: &'static str,
    },
    /// The OpenVEX reader's error.
    #[error("OpenVEX: {0}")]
    OpenVex(Box<OpenVexError>),
    /// The CycloneDX reader's error.
    #[error("CycloneDX: {0}")]
    CycloneDx(Box<CycloneDxError>),
    /// The CSAF reader's error.
    #[error("CSAF: {0}")]
    Csaf(Box<CsafError>),
}

impl From<OpenVexError> for ReadError {
    fn from(e: OpenVexError) -> Self {
        ReadError::OpenVex(Box::new(e))
    }
}

impl From<CycloneDxError> for ReadError {
    fn from(e: CycloneDxError) -> Self {
        ReadError::CycloneDx(Box::new(e))
    }
}

impl From<CsafError> for ReadError {
    fn from(e: CsafError) -> Self {
        ReadError::Csaf(Box::new(e))
    }
}

impl Kinded for ReadError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReadError::Json {
                source: jcs::JcsError::TooLarge { .. } | jcs::JcsError::TooDeep { .. },
            } => ErrorKind::TooLarge,
            ReadError::Json { .. } | ReadError::UnknownFormat | ReadError::WrongFormat { .. } => {
                ErrorKind::Invalid
            }
            ReadError::OpenVex(e) => e.kind(),
            ReadError::CycloneDx(e) => e.kind(),
            ReadError::Csaf(e) => e.kind(),
        }
    }
}

/// A rule a document breaks that did not stop it being read, in one shape for every format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// A stable name of the rule (`unknown-justification`, `bom-link-to-other-sbom`, …).
    pub rule: &'static str,
    /// JSON pointer of what the warning is about.
    pub pointer: String,
    /// The whole sentence.
    pub message: String,
}

/// A document read, whatever its format.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The format it was read as.
    pub format: VexFormat,
    /// The document in the canonical model.
    pub document: VexDocument,
    /// `sha256(JCS(bytes))`.
    pub canonical_id: Digest,
    /// Rules broken that did not stop reading, in document order.
    pub warnings: Vec<Warning>,
}

impl From<Read> for MergeInput {
    fn from(read: Read) -> Self {
        MergeInput {
            canonical_id: read.canonical_id,
            document: read.document,
        }
    }
}

/// What reading may use besides the document (CycloneDX only; the other formats carry
/// everything they need).
pub type ReadOptions<'a> = cyclonedx::ReadOptions<'a>;

/// The top-level members that tell the formats apart; everything else is skipped unread.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "@context")]
    context: Option<serde_json::Value>,
    #[serde(rename = "bomFormat")]
    bom_format: Option<serde_json::Value>,
    document: Option<CsafProbe>,
}

#[derive(Deserialize)]
struct CsafProbe {
    csaf_version: Option<IgnoredAny>,
}

/// The format of `bytes`, from the document's own markers (see the module docs).
///
/// # Errors
/// [`ReadError::Json`] for bytes that are not JSON, [`ReadError::UnknownFormat`] for JSON with
/// no format's marker.
pub fn detect(bytes: &[u8]) -> Result<VexFormat, ReadError> {
    let probe: Probe = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        // The strict reader says exactly where and why; when it accepts what serde_json did
        // not (a shape the probe did not expect), there is no marker to be found.
        Err(_) => {
            return match jcs::parse(bytes) {
                Err(source) => Err(ReadError::Json { source }),
                Ok(_) => Err(ReadError::UnknownFormat),
            };
        }
    };
    let openvex = match &probe.context {
        Some(serde_json::Value::String(s)) => s.starts_with(OPENVEX_CONTEXT),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.starts_with(OPENVEX_CONTEXT))),
        _ => false,
    };
    if openvex {
        return Ok(VexFormat::OpenVex);
    }
    if probe.bom_format.as_ref().and_then(|v| v.as_str()) == Some("CycloneDX") {
        return Ok(VexFormat::CycloneDx);
    }
    if probe.document.is_some_and(|d| d.csaf_version.is_some()) {
        return Ok(VexFormat::Csaf);
    }
    Err(ReadError::UnknownFormat)
}

/// Reads `bytes` in the format its markers name.
///
/// # Errors
/// [`ReadError`]: not JSON, no format's marker, or the format reader's own error.
pub fn read(bytes: &[u8], options: &ReadOptions<'_>) -> Result<Read, ReadError> {
    let format = detect(bytes)?;
    read_as(bytes, format, options)
}

/// Reads `bytes` as `format`, whatever its markers say.
///
/// # Errors
/// The format reader's own error.
pub fn read_as(
    bytes: &[u8],
    format: VexFormat,
    options: &ReadOptions<'_>,
) -> Result<Read, ReadError> {
    Ok(match format {
        VexFormat::OpenVex => {
            let r = match options.purls {
                Some(purls) => openvex::read_with(bytes, purls)?,
                None => openvex::read(bytes)?,
            };
            Read {
                format,
                document: r.document,
                canonical_id: r.canonical_id,
                warnings: warnings(r.warnings, |w| (w.rule(), w.pointer().to_owned())),
            }
        }
        VexFormat::CycloneDx => {
            let r = cyclonedx::read_with(bytes, options)?;
            Read {
                format,
                document: r.document,
                canonical_id: r.canonical_id,
                warnings: warnings(r.warnings, |w| (w.rule(), w.pointer().to_owned())),
            }
        }
        VexFormat::Csaf => {
            let r = csaf::read(bytes)?;
            Read {
                format,
                document: r.document,
                canonical_id: r.canonical_id,
                warnings: warnings(r.warnings, |w| (w.rule(), w.pointer().to_owned())),
            }
        }
    })
}

fn warnings<W: std::fmt::Display>(
    list: Vec<W>,
    parts: impl Fn(&W) -> (&'static str, String),
) -> Vec<Warning> {
    list.into_iter()
        .map(|w| {
            let (rule, pointer) = parts(&w);
            Warning {
                rule,
                pointer,
                message: w.to_string(),
            }
        })
        .collect()
}

/// Writes `document` in `format`: canonical bytes, valid against the format's schema.
///
/// # Errors
/// [`WriteError`] carrying the writer's error.
pub fn write(document: &VexDocument, format: VexFormat) -> Result<Vec<u8>, WriteError> {
    match format {
        VexFormat::OpenVex => openvex::write(document).map_err(|e| WriteError::OpenVex(e.into())),
        VexFormat::CycloneDx => {
            cyclonedx::write(document).map_err(|e| WriteError::CycloneDx(e.into()))
        }
        VexFormat::Csaf => csaf::write(document).map_err(|e| WriteError::Csaf(e.into())),
    }
}

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The OpenVEX writer's error.
    #[error("writing OpenVEX: {0}")]
    OpenVex(#[source] Box<OpenVexError>),
    /// The CycloneDX writer's error.
    #[error("writing CycloneDX: {0}")]
    CycloneDx(#[source] Box<CycloneDxError>),
    /// The CSAF writer's error.
    #[error("writing CSAF: {0}")]
    Csaf(#[source] Box<csaf::CsafWriteError>),
}

impl Kinded for WriteError {
    fn kind(&self) -> ErrorKind {
        match self {
            WriteError::OpenVex(e) => e.kind(),
            WriteError::CycloneDx(e) => e.kind(),
            WriteError::Csaf(e) => e.kind(),
        }
    }
}

/// The format named by `name` (`openvex`, `cyclonedx`, `csaf`), as the CLI spells it.
pub fn format_named(name: &str) -> Option<VexFormat> {
    [VexFormat::OpenVex, VexFormat::CycloneDx, VexFormat::Csaf]
        .into_iter()
        .find(|f| f.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_markers() {
        let cases: [(&str, Result<VexFormat, &str>); 7] = [
            (
                r#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[]}"#,
                Ok(VexFormat::OpenVex),
            ),
            (
                r#"{"@context":["https://openvex.dev/ns"],"x":1}"#,
                Ok(VexFormat::OpenVex),
            ),
            (
                r#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#,
                Ok(VexFormat::CycloneDx),
            ),
            (
                r#"{"document":{"csaf_version":"2.0","category":"csaf_vex"}}"#,
                Ok(VexFormat::Csaf),
            ),
            (r#"{"bomFormat":"SPDX"}"#, Err("unknown")),
            (r#"[1,2]"#, Err("unknown")),
            (r#"{"a":1,}"#, Err("json")),
        ];
        for (text, expected) in cases {
            let got = detect(text.as_bytes());
            match (expected, got) {
                (Ok(f), Ok(g)) => assert_eq!(f, g, "{text}"),
                (Err("unknown"), Err(ReadError::UnknownFormat)) => {}
                (Err("json"), Err(ReadError::Json { source })) => {
                    assert!(source.to_string().contains("byte"), "{source}");
                }
                (e, g) => panic!("{text}: expected {e:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn format_names_round_trip() {
        for f in [VexFormat::OpenVex, VexFormat::CycloneDx, VexFormat::Csaf] {
            assert_eq!(format_named(f.as_str()), Some(f));
        }
        assert_eq!(format_named("spdx"), None);
    }
}
