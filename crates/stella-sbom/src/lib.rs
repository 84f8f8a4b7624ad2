//! CycloneDX for Stella: reading, identifying and validating SBOMs.
//!
//! What this crate owns:
//! - [`document`]: reading bytes into an [`SbomDocument`] (strict I-JSON via `stella-core`, then
//!   "is this CycloneDX, and which version?") and the two identities of a BOM:
//!   [`SbomDocument::canonical_id`] = `sha256:` + hex(sha256(JCS(document))), the contract every
//!   attestation subject carries, and [`SbomDocument::content_id`], which ignores the fields that
//!   change on every generation (`serialNumber`, `metadata.timestamp`);
//! - [`model`]: the typed model of what Stella reads (CycloneDX 1.4–1.7) and writes (1.7);
//! - [`validate`]: structural checks of its own, the official JSON schemas when the user has
//!   them, and the semantic checks no schema expresses (unique `bom-ref`s, references and
//!   BOM-Links that resolve, purls that parse, hashes of the right length).
//!
//! What it does not own: JSON canonicalisation itself (`stella-core::jcs`), generating SBOMs from
//! images (a later layer), signing, or any file and network I/O beyond reading a schema directory.

pub mod document;
pub mod model;
pub mod validate;

pub use document::{SbomDocument, read_any_json};
pub use model::{Bom, SpecVersion};

use stella_core::jcs::JcsError;

/// Why a document could not be used as a CycloneDX SBOM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SbomError {
    /// The bytes are not I-JSON.
    #[error(transparent)]
    Json(#[from] JcsError),
    /// Valid JSON, but not a CycloneDX document.
    #[error("not a CycloneDX document: at {pointer}: expected {expected}, found {found}")]
    NotCycloneDx {
        /// Where the document departs from CycloneDX.
        pointer: String,
        /// What a CycloneDX document has there.
        expected: &'static str,
        /// What this one has.
        found: String,
    },
    /// A CycloneDX version Stella does not read.
    #[error(
        "CycloneDX specVersion {found:?} is not supported (Stella reads 1.4, 1.5, 1.6 and 1.7)"
    )]
    UnsupportedSpecVersion {
        /// The version the document declares.
        found: String,
    },
    /// The document does not fit the typed model.
    #[error("at {pointer}: {message}")]
    Model {
        /// Where.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A schema directory is missing a file or holds one that is not a usable schema.
    #[error("schema {path}: {message}")]
    Schema {
        /// The schema file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}
