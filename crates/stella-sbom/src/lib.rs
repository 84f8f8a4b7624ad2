//! CycloneDX for Stella: reading, identifying, validating, generating and enriching SBOMs.
//!
//! What this crate owns:
//! - [`document`]: reading bytes into an [`SbomDocument`] (strict I-JSON via `stella-core`, then
//!   "is this CycloneDX, and which version?") and the two identities of a BOM:
//!   [`SbomDocument::canonical_id`] = `sha256:` + hex(sha256(JCS(document))), the contract every
//!   attestation subject carries, and [`SbomDocument::content_id`], which ignores the fields that
//!   change on every generation (`serialNumber`, `metadata.timestamp`);
//! - [`model`]: the typed model of what Stella reads (CycloneDX 1.4–1.7) and generates (1.7);
//! - [`validate`]: the official CycloneDX JSON schemas (1.4–1.7 embedded, vendored under
//!   `schemas/`; a newer one from a directory) and the semantic checks no schema expresses
//!   (unique `bom-ref`s, references and BOM-Links that resolve, purls that parse, hashes of the
//!   right length);
//! - [`rootfs`]: the package inventory of an unpacked root filesystem (dpkg, apk and Python
//!   `dist-info` databases) and chroot-style path resolution inside it;
//! - [`auditable`]: the dependency list `cargo auditable` embeds in Rust binaries;
//! - [`mod@generate`]: a deterministic CycloneDX 1.7 SBOM from an inventory and the facts about the
//!   binaries found in it (hashes, build ids, `DT_NEEDED`, FuncProof references);
//! - [`mod@enrich`]: the same facts merged into an SBOM another tool wrote, in the document's own
//!   CycloneDX version (or a later one asked for), as a new revision of it (`version` + 1, its
//!   `serialNumber` kept) when the content changes;
//! - [`spdx`]: SPDX 2.2/2.3 JSON and SPDX 3.0 JSON-LD read into the same CycloneDX 1.7 model
//!   (what has no counterpart kept as `spdx:` properties), and SPDX 2.3 JSON written from
//!   CycloneDX, each binary's FuncProof linked.
//!
//! Every error is an [`SbomError`], which says its [`stella_core::ErrorKind`] through
//! [`stella_core::Kinded`] (a document that does not parse is `Invalid`, a limit reached is
//! `TooLarge`, a file that cannot be read is `NotFound` or `Environment`).
//!
//! What it does not own: JSON canonicalisation itself (`stella-core::jcs`), unpacking images or
//! analysing binaries (the facts arrive as [`generate::BinaryFacts`], computed by
//! `stella-binary`), signing, or any network I/O.

pub mod auditable;
pub mod document;
pub mod embedded;
pub mod enrich;
pub mod generate;
pub mod model;
pub mod rootfs;
pub mod spdx;
pub mod validate;

pub use auditable::{AuditablePackage, parse_auditable};
pub use document::{SbomDocument, read_any_json};
pub use embedded::{EmbeddedComponent, FoundBy};
pub use enrich::{EnrichReport, Match, enrich};
pub use generate::{BinaryFacts, FuncProofRef, GenerateOptions, Subject, generate};
pub use model::{Bom, SpecVersion};
pub use rootfs::{Inventory, InventoryLimits, read_inventory, resolve_in_root};

use std::path::PathBuf;

use stella_core::jcs::JcsError;
use stella_core::{ErrorKind, Kinded};

pub use auditable::AuditableProblem;
pub use validate::SchemaFileError;

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
    /// An SPDX document where CycloneDX was expected (a command that only reads CycloneDX).
    #[error(
        "an {version} document, not CycloneDX: convert it with `stella sbom convert` (SPDX is read there, and by `stella scan --sbom`)"
    )]
    IsSpdx {
        /// The SPDX version found.
        version: crate::spdx::SpdxVersion,
    },
    /// Valid JSON, but not an SPDX document Stella reads.
    #[error("not an SPDX document: at {pointer}: expected {expected}, found {found}")]
    NotSpdx {
        /// Where the document departs from SPDX.
        pointer: String,
        /// What an SPDX document has there.
        expected: &'static str,
        /// What this one has.
        found: String,
    },
    /// An SPDX document whose members do not have SPDX's shape.
    #[error("SPDX document at {pointer}: expected {expected}, found {found}")]
    SpdxShape {
        /// Where.
        pointer: String,
        /// What SPDX has there.
        expected: &'static str,
        /// What this one has.
        found: String,
    },
    /// A relationship (or `hasFiles`, `documentDescribes`, a 3.0 reference) names an id that no
    /// element of the document has.
    #[error("SPDX document at {pointer}: {id:?} is referenced, but no element has that id")]
    SpdxUnknownId {
        /// Where the reference is.
        pointer: String,
        /// The id referenced.
        id: String,
    },
    /// Two elements of an SPDX document have the same id.
    #[error("SPDX document at {pointer}: the id {id:?} is used by an earlier element too")]
    SpdxDuplicateId {
        /// The second element.
        pointer: String,
        /// The id.
        id: String,
    },
    /// An SPDX document holds more elements or relationships than Stella reads.
    #[error("SPDX document holds {count} {what}, more than the limit of {limit}")]
    SpdxTooLarge {
        /// What was counted.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit in force ([`spdx::SpdxLimits`]).
        limit: usize,
    },
    /// A CycloneDX version Stella does not read.
    #[error(
        "CycloneDX specVersion {found:?} is not supported (Stella reads 1.4, 1.5, 1.6 and 1.7)"
    )]
    UnsupportedSpecVersion {
        /// The version the document declares.
        found: String,
    },
    /// A CycloneDX version earlier than the document's was asked for.
    #[error(
        "the SBOM is CycloneDX {document}; Stella does not rewrite it as {asked}, which would drop \
         what {document} added (ask for {document} or later)"
    )]
    SpecVersionDowngrade {
        /// The document's version.
        document: SpecVersion,
        /// The version asked for.
        asked: SpecVersion,
    },
    /// The CycloneDX version to write has no members for what Stella must write.
    #[error("CycloneDX {version} cannot hold {what}; ask for CycloneDX 1.5 or later")]
    SpecVersionCannotHold {
        /// The version that would be written.
        version: SpecVersion,
        /// What it cannot hold.
        what: &'static str,
    },
    /// The document does not fit the typed model.
    #[error("at {pointer}: {source}")]
    Model {
        /// Where.
        pointer: String,
        /// What the typed model expected there.
        #[source]
        source: serde_json::Error,
    },
    /// A path that must be a regular file (a schema) is a FIFO, a device or a directory.
    #[error(transparent)]
    Open(#[from] stella_core::file::OpenError),
    /// A schema file (`--schema-dir`) is missing or is not a usable schema.
    #[error("schema {}: {source}", path.display())]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: SchemaFileError,
    },
    /// A file of a root filesystem could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file (inside the root filesystem, or the root itself).
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The root filesystem to inventory is not a directory.
    #[error("{}: not a directory", path.display())]
    NotADirectory {
        /// The path given as the root.
        path: PathBuf,
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
    #[error("cargo auditable data at {pointer}: {problem}")]
    Auditable {
        /// RFC 6901 pointer into the auditable JSON (empty for the root).
        pointer: String,
        /// What is wrong.
        #[source]
        problem: AuditableProblem,
    },
    /// A fact handed to [`generate()`] or [`enrich()`] is not usable (bad hex, relative path,
    /// the same path twice, …).
    #[error("invalid input for SBOM generation: {what}: expected {expected}, found {found}")]
    InvalidInput {
        /// Which input (`binaries[3].sha256`, `options.timestamp`, …).
        what: String,
        /// What a usable value is.
        expected: &'static str,
        /// What was given.
        found: String,
    },
    /// The subject of [`generate()`] makes no valid package URL.
    #[error("invalid input for SBOM generation: subject: makes no valid purl ({purl})")]
    SubjectPurl {
        /// The purl the subject made.
        purl: String,
        /// Why it does not parse.
        #[source]
        source: packageurl::Error,
    },
}

impl Kinded for SbomError {
    fn kind(&self) -> ErrorKind {
        match self {
            SbomError::Json(JcsError::TooLarge { .. })
            | SbomError::DatabaseTooLarge { .. }
            | SbomError::TooManyPackages { .. }
            | SbomError::SpdxTooLarge { .. }
            | SbomError::Schema {
                source: SchemaFileError::TooLarge { .. },
                ..
            } => ErrorKind::TooLarge,
            SbomError::Auditable { problem, .. } => problem.kind(),
            SbomError::Open(e) => e.kind(),
            SbomError::Schema {
                source: SchemaFileError::Read(e),
                ..
            }
            | SbomError::Io { source: e, .. } => ErrorKind::of_io(e),
            SbomError::Json(_)
            | SbomError::NotCycloneDx { .. }
            | SbomError::IsSpdx { .. }
            | SbomError::NotSpdx { .. }
            | SbomError::SpdxShape { .. }
            | SbomError::SpdxUnknownId { .. }
            | SbomError::SpdxDuplicateId { .. }
            | SbomError::UnsupportedSpecVersion { .. }
            | SbomError::SpecVersionDowngrade { .. }
            | SbomError::SpecVersionCannotHold { .. }
            | SbomError::Model { .. }
            | SbomError::Schema { .. }
            | SbomError::NotADirectory { .. }
            | SbomError::InvalidInput { .. }
            | SbomError::SubjectPurl { .. } => ErrorKind::Invalid,
        }
    }
}
