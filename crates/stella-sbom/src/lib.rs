//! CycloneDX for Stella: reading, identifying, validating, generating and enriching SBOMs.
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
//!   BOM-Links that resolve, purls that parse, hashes of the right length);
//! - [`rootfs`]: the package inventory of an unpacked root filesystem (dpkg, apk and Python
//!   `dist-info` databases) and chroot-style path resolution inside it;
//! - [`auditable`]: the dependency list `cargo auditable` embeds in Rust binaries;
//! - [`mod@generate`]: a deterministic CycloneDX 1.7 SBOM from an inventory and the facts about the
//!   binaries found in it (hashes, build ids, `DT_NEEDED`, FuncProof references);
//! - [`mod@enrich`]: the same facts merged into an SBOM another tool wrote.
//!
//! What it does not own: JSON canonicalisation itself (`stella-core::jcs`), unpacking images or
//! analysing binaries (the facts arrive as [`generate::BinaryFacts`], computed by
//! `stella-binary`), signing, or any network I/O.

pub mod auditable;
pub mod document;
pub mod enrich;
pub mod generate;
pub mod model;
pub mod rootfs;
pub mod validate;

pub use auditable::{AuditablePackage, parse_auditable};
pub use document::{SbomDocument, read_any_json};
pub use enrich::{EnrichReport, Match, enrich};
pub use generate::{BinaryFacts, FuncProofRef, GenerateOptions, Subject, generate};
pub use model::{Bom, SpecVersion};
pub use rootfs::{Inventory, InventoryLimits, read_inventory, resolve_in_root};

use stella_core::jcs::JcsError;

/// Why an SBOM could not be read, validated, generated or enriched.
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
    /// A path that must be a regular file (a schema) is a FIFO, a device or a directory.
    #[error(transparent)]
    Open(#[from] stella_core::file::OpenError),
    /// A schema directory is missing a file or holds one that is not a usable schema.
    #[error("schema {path}: {message}")]
    Schema {
        /// The schema file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file of a root filesystem could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file (inside the root filesystem, or the root itself).
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A package database is larger than [`rootfs::InventoryLimits::max_database_bytes`].
    #[error("package database {path} is {size} bytes, larger than the limit of {limit} bytes")]
    DatabaseTooLarge {
        /// The database file, relative to the root filesystem.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A root filesystem holds more packages than [`rootfs::InventoryLimits::max_packages`].
    #[error("more than {limit} packages (the limit) while reading {path}")]
    TooManyPackages {
        /// The database being read when the limit was reached.
        path: String,
        /// The limit in force.
        limit: usize,
    },
    /// The `cargo auditable` dependency list is malformed or over its limits.
    #[error("cargo auditable data at {pointer}: {message}")]
    Auditable {
        /// RFC 6901 pointer into the auditable JSON (empty for the root).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A fact handed to [`generate()`] or [`enrich()`] is not usable (bad hex, relative path,
    /// the same path twice, …).
    #[error("invalid input for SBOM generation: {what}: {message}")]
    InvalidInput {
        /// Which input (`binaries[3].sha256`, `options.timestamp`, …).
        what: String,
        /// What is wrong with it.
        message: String,
    },
}
