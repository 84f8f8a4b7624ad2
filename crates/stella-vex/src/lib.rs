//! VEX for Stella: one canonical statement model that every VEX format reads into and writes
//! from, so that statements from a vendor's OpenVEX, a distribution's CSAF and a scanner's
//! CycloneDX can be compared, merged and written back without losing a label.
//!
//! What this crate owns:
//! - [`model`]: the canonical [`VexDocument`] / [`VexStatement`] model, with the status and
//!   justification mapping table;
//! - [`openvex`]: reading OpenVEX 0.2.0 (and the 0.0.1 shapes that still circulate) and writing
//!   canonical OpenVEX 0.2.0 that passes the OpenVEX JSON schema;
//! - [`cyclonedx`]: reading CycloneDX VEX 1.4–1.7 (standalone with BOM-Links into an SBOM, or
//!   embedded in an SBOM) and writing canonical standalone CycloneDX 1.7 VEX.
//!
//! What it does not own (yet, or ever): CycloneDX VEX and CSAF (later modules of this crate),
//! product matching and merging (later modules), fetching VEX from images (`stella-oci`), signing
//! (`stella-attest`), and printing (the `stella` binary).

pub mod cyclonedx;
pub mod model;
pub mod openvex;

pub use model::{
    HashAlgorithm, Justification, JustificationKind, Product, ProductIdentity, Provenance, Status,
    VexDocument, VexFormat, VexStatement, Vulnerability,
};
pub use openvex::{OpenVexError, OpenVexRead, OpenVexWarning};
