//! VEX for Stella: one canonical statement model that every VEX format reads into and writes
//! from, so that statements from a vendor's OpenVEX, a distribution's CSAF and a scanner's
//! CycloneDX can be compared, merged and written back without losing a label.
//!
//! What this crate owns:
//! - [`model`]: the canonical [`VexDocument`] / [`VexStatement`] model, with the status and
//!   justification mapping table;
//! - [`openvex`]: reading OpenVEX 0.2.0 (and the 0.0.1 shapes that still circulate) and writing
//!   canonical OpenVEX 0.2.0 that passes the OpenVEX JSON schema;
//! - [`matching`]: which statements speak about a vulnerability and a product (aliases, purl,
//!   image, BOM-Link and hash rules);
//! - [`merge`]: the deterministic merge, one effective statement per (vulnerability, product,
//!   subcomponent) with the provenance of what it superseded;
//! - [`cyclonedx`]: reading CycloneDX VEX 1.4–1.7 (standalone with BOM-Links into an SBOM, or
//!   embedded in an SBOM) and writing canonical standalone CycloneDX 1.7 VEX;
//! - [`csaf`]: reading CSAF 2.0 VEX (product tree, relationships, the four VEX status lists)
//!   and writing canonical CSAF 2.0 VEX that passes the CSAF 2.0 JSON schema;
//! - [`query`]: the effective statement for a vulnerability in a product, and why it won;
//! - [`read`]: any of the three, recognised by its own markers, warnings in one shape;
//! - [`validate`]: each format's official schema (embedded) and profile rules, every problem
//!   with its JSON pointer.
//!
//! What it does not own: fetching VEX from images and attaching it (`stella-evidence`), signing
//! (`stella-attest`), reading policy files and printing (the `stella` binary).

pub mod csaf;
pub mod cyclonedx;
mod json;
pub mod matching;
pub mod merge;
pub mod model;
pub mod openvex;
pub mod query;
pub mod read;
pub mod validate;

pub use model::{
    HashAlgorithm, Justification, JustificationKind, Product, ProductIdentity, Provenance, Status,
    VexDocument, VexFormat, VexStatement, Vulnerability,
};
pub use openvex::{OpenVexError, OpenVexRead, OpenVexWarning};
