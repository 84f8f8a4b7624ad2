//! SPDX for Stella: SPDX 2.2/2.3 JSON and SPDX 3.0 JSON-LD read into the CycloneDX 1.7 model every
//! other command works on, and SPDX 2.3 JSON written from a CycloneDX document.
//!
//! What this module owns:
//! - [`detect`]: is a JSON document SPDX, and which version? SPDX 2.x is an object with
//!   `spdxVersion` `"SPDX-2.2"` or `"SPDX-2.3"`; SPDX 3.0 is JSON-LD whose `@context` names
//!   `spdx.org/rdf/3.0.x` and whose `@graph` holds the elements (`type`, `spdxId`).
//! - [`to_cyclonedx`]: reading either into a CycloneDX 1.7 document (below);
//! - [`to_spdx23`]: writing SPDX 2.3 JSON from a CycloneDX document (see the [`mod@write`] module
//!   for the mapping, the FuncProof reference and the package verification code);
//! - [`read_as_cyclonedx`] and [`cyclonedx_bytes`]: what the commands that accept an SBOM call —
//!   CycloneDX is read as it is, SPDX is converted first.
//!
//! # Reading (SPDX → CycloneDX 1.7)
//!
//! Both SPDX versions go through one intermediate form (elements, relationships, document
//! facts), so they map the same way:
//! - a package (2.x `packages[]`; 3.0 `software_Package` and every other `…Package` type) is a
//!   component with `bom-ref` = its SPDX id: `name`, `version` (`versionInfo` /
//!   `software_packageVersion`), `supplier` and originator (`authors` for a person, `manufacturer`
//!   for an organisation), `purl` (the first 2.x `PACKAGE-MANAGER purl` external reference, 3.0
//!   `software_packageUrl`), `cpe` (the first `cpe23Type`/`cpe22Type` reference or 3.0 `cpe23`/`cpe22`
//!   identifier), checksums as `hashes` (SPDX algorithm names mapped to CycloneDX's; one CycloneDX
//!   lacks, such as `SHA224`, is kept as a property), licences as expressions with
//!   `acknowledgement` `declared` / `concluded`, the download location as a `distribution`
//!   reference, the home page as `website`, `copyrightText` as `copyright`, `description`, and
//!   `primaryPackagePurpose` / `software_primaryPurpose` as the component `type` (`library` when it
//!   has no CycloneDX counterpart, the SPDX value then kept as a property);
//! - a file (2.x `files[]`, 3.0 `software_File`) is a `file` component; a snippet (2.x
//!   `snippets[]`, 3.0 `software_Snippet`) too, with the property `spdx:elementType`. A file that
//!   exactly one package contains (2.x `hasFiles` or `CONTAINS`; 3.0 `contains`) is nested in that
//!   package's component; other files are top-level;
//! - relationships become `dependencies`: `DEPENDS_ON` (3.0 `dependsOn`) a → b is the edge a → b,
//!   `DEPENDENCY_OF` and the typed `*_DEPENDENCY_OF` kinds are reversed, a `CONTAINS` that was not
//!   expressed by nesting (a package in a package, a file in several packages) is an edge too.
//!   CycloneDX dependencies form a graph, so cycles are kept as they are, and reading never
//!   follows them. Every relationship that is not a plain `DEPENDS_ON` / `DEPENDENCY_OF`, nested
//!   `CONTAINS` or `DESCRIBES` is also written, with its type, as the property
//!   `spdx:relationship` (`"TYPE target"`) on the component it starts from;
//! - what the document describes (`documentDescribes` and `DESCRIBES` from the document; 3.0
//!   `rootElement`, through an `software_Sbom` to its own roots) is `metadata.component` when it
//!   is one package; otherwise `metadata.component` is an `application` named after the document,
//!   with `bom-ref` the document's SPDX id, depending on what it describes;
//! - `creationInfo.created` is `metadata.timestamp`; creators `Tool: …` are tool components
//!   (`name-1.2` split at the last `-` before a digit), `Person: …` and `Organization: …` are
//!   `metadata.authors`;
//! - everything with no CycloneDX counterpart (the document namespace, data licence, comments,
//!   annotations, external document references, extracted licences, files analysed, package
//!   verification codes, …) is kept as a property named [`PROPERTY_PREFIX`] + the SPDX member name
//!   (`spdx:documentNamespace`, `spdx:packageVerificationCode`), its value the string itself or,
//!   for anything else, its RFC 8785 JSON text. In SPDX 3.0, graph elements Stella does not map
//!   (agents nobody refers to, annotations, licences no relationship uses, …) are kept whole as
//!   `spdx:element` properties of `metadata`. Nothing is dropped silently.
//!
//! The output is deterministic: components, properties and dependencies sorted, the
//! `serialNumber` derived from the content as [`crate::generate()`] derives it.
//!
//! # Limits and errors
//!
//! The bytes are bounded by the [`stella_core::jcs::Limits`] given; the element and relationship
//! counts by [`SpdxLimits`] (defaults [`MAX_ELEMENTS`], [`MAX_RELATIONSHIPS`]): past them,
//! [`SbomError::SpdxTooLarge`]. A document that is not SPDX is [`SbomError::NotSpdx`], one that
//! does not fit SPDX's shape [`SbomError::SpdxShape`], a relationship or `hasFiles` naming an id
//! no element has [`SbomError::SpdxUnknownId`], an id used twice [`SbomError::SpdxDuplicateId`]; each
//! names the JSON pointer. Nothing here panics on input.
//!
//! Not here: SPDX tag-value, RDF/XML or YAML; validating SPDX against its schema (the tests use
//! PyPI `spdx-tools`); licence list look-ups.

mod read;
mod read2;
mod read3;
pub mod write;

use serde_json::Value;
use stella_core::jcs::{self, Limits};

use crate::SbomError;
use crate::document::SbomDocument;

pub use write::{FUNCPROOF_REF_TYPE, NAMESPACE_PREFIX, to_spdx23};

/// The name prefix of the properties that keep SPDX facts CycloneDX has no field for.
pub const PROPERTY_PREFIX: &str = "spdx:";

/// Most elements (packages, files, snippets; all graph elements in 3.0) a document may hold.
pub const MAX_ELEMENTS: usize = 1_000_000;

/// Most relationships a document may hold.
pub const MAX_RELATIONSHIPS: usize = 4_000_000;

/// Count limits for reading SPDX (the byte limit is the JSON reader's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpdxLimits {
    /// Most elements.
    pub max_elements: usize,
    /// Most relationships.
    pub max_relationships: usize,
}

impl Default for SpdxLimits {
    fn default() -> Self {
        SpdxLimits {
            max_elements: MAX_ELEMENTS,
            max_relationships: MAX_RELATIONSHIPS,
        }
    }
}

/// The SPDX versions Stella reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpdxVersion {
    /// SPDX 2.2 JSON.
    V2_2,
    /// SPDX 2.3 JSON.
    V2_3,
    /// SPDX 3.0.x JSON-LD.
    V3_0,
}

impl SpdxVersion {
    /// How people name it (`SPDX 2.3`).
    pub fn as_str(self) -> &'static str {
        match self {
            SpdxVersion::V2_2 => "SPDX 2.2",
            SpdxVersion::V2_3 => "SPDX 2.3",
            SpdxVersion::V3_0 => "SPDX 3.0",
        }
    }
}

impl std::fmt::Display for SpdxVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SPDX version of a document, when it is SPDX. Cheap: looks at the root members only.
pub fn detect(value: &jcs::Value<'_>) -> Option<SpdxVersion> {
    match value.get("spdxVersion").and_then(jcs::Value::as_str) {
        Some("SPDX-2.2") => return Some(SpdxVersion::V2_2),
        Some("SPDX-2.3") => return Some(SpdxVersion::V2_3),
        _ => {}
    }
    let names_spdx3 =
        |v: &jcs::Value<'_>| v.as_str().is_some_and(|s| s.contains("spdx.org/rdf/3.0"));
    let context = value.get("@context")?;
    let spdx3 = match context {
        jcs::Value::Array(items) => items.iter().any(names_spdx3),
        other => names_spdx3(other),
    };
    spdx3.then_some(SpdxVersion::V3_0)
}

/// Whether `bytes` may be SPDX: they name `spdxVersion` or an SPDX 3 context. A cheap test
/// before parsing, for callers that handle CycloneDX themselves; [`detect`] decides.
pub fn may_be_spdx(bytes: &[u8]) -> bool {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    has(b"\"spdxVersion\"") || has(b"spdx.org/rdf/3.0")
}

/// An SBOM as CycloneDX bytes: SPDX converted to canonical CycloneDX 1.7, anything else returned
/// as it is (its reader judges it).
///
/// # Errors
/// What [`to_cyclonedx`] reports for SPDX that cannot be read.
pub fn cyclonedx_bytes(bytes: Vec<u8>, limits: Limits) -> Result<Vec<u8>, SbomError> {
    if !may_be_spdx(&bytes) {
        return Ok(bytes);
    }
    let value = jcs::parse_with(&bytes, limits)?;
    if detect(&value).is_none() {
        drop(value);
        return Ok(bytes);
    }
    let cyclonedx = value_to_cyclonedx(&value, SpdxLimits::default())?;
    Ok(jcs::to_canonical(&cyclonedx)?)
}

/// Reads an SPDX 2.2/2.3 JSON or SPDX 3.0 JSON-LD document as CycloneDX 1.7 (see the module
/// docs for the mapping).
///
/// # Errors
/// [`SbomError::Json`] for bytes that are not I-JSON or over `limits`; [`SbomError::NotSpdx`],
/// [`SbomError::SpdxShape`], [`SbomError::SpdxUnknownId`], [`SbomError::SpdxDuplicateId`],
/// [`SbomError::SpdxTooLarge`] as the module docs say.
pub fn to_cyclonedx(
    bytes: &[u8],
    limits: Limits,
    spdx_limits: SpdxLimits,
) -> Result<Value, SbomError> {
    let value = jcs::parse_with(bytes, limits)?;
    value_to_cyclonedx(&value, spdx_limits)
}

/// As [`to_cyclonedx`], from a parsed document.
///
/// # Errors
/// As [`to_cyclonedx`], less the JSON errors.
pub fn value_to_cyclonedx(
    value: &jcs::Value<'_>,
    spdx_limits: SpdxLimits,
) -> Result<Value, SbomError> {
    let Some(version) = detect(value) else {
        return Err(not_spdx(value));
    };
    let json = value.to_serde();
    let doc = match version {
        SpdxVersion::V2_2 | SpdxVersion::V2_3 => read2::read(&json, spdx_limits)?,
        SpdxVersion::V3_0 => read3::read(&json, spdx_limits)?,
    };
    read::assemble(doc)
}

/// What [`read_as_cyclonedx`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The CycloneDX document (for SPDX input: the converted one).
    pub cyclonedx: Value,
    /// The SPDX version of the input, when it was SPDX.
    pub spdx: Option<SpdxVersion>,
}

/// Reads an SBOM in any format Stella accepts: CycloneDX 1.4–1.7 as it is, SPDX converted to
/// CycloneDX 1.7.
///
/// # Errors
/// [`SbomError::Json`] for bytes that are not I-JSON; for SPDX, what [`to_cyclonedx`] reports;
/// otherwise what [`SbomDocument::from_value`] reports.
pub fn read_as_cyclonedx(bytes: &[u8], limits: Limits) -> Result<Read, SbomError> {
    let value = jcs::parse_with(bytes, limits)?;
    if let Some(version) = detect(&value) {
        return Ok(Read {
            cyclonedx: value_to_cyclonedx(&value, SpdxLimits::default())?,
            spdx: Some(version),
        });
    }
    let document = SbomDocument::from_value(value)?;
    Ok(Read {
        cyclonedx: document.value().to_serde(),
        spdx: None,
    })
}

fn not_spdx(value: &jcs::Value<'_>) -> SbomError {
    if value.as_object().is_none() {
        return SbomError::NotSpdx {
            pointer: String::new(),
            expected: "an object",
            found: "another JSON value".to_owned(),
        };
    }
    if let Some(found) = value.get("spdxVersion") {
        return SbomError::NotSpdx {
            pointer: "/spdxVersion".to_owned(),
            expected: "\"SPDX-2.2\" or \"SPDX-2.3\"",
            found: String::from_utf8_lossy(&found.to_canonical()).into_owned(),
        };
    }
    SbomError::NotSpdx {
        pointer: "/spdxVersion".to_owned(),
        expected: "\"SPDX-2.2\" or \"SPDX-2.3\" (or a JSON-LD @context naming spdx.org/rdf/3.0)",
        found: "nothing (the member is missing)".to_owned(),
    }
}

#[cfg(test)]
mod tests;
