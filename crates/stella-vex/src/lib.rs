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
//! # The three formats side by side
//!
//! | canonical status | OpenVEX | CycloneDX `analysis.state` | CSAF `product_status` |
//! |---|---|---|---|
//! | [`Status::Affected`] | `affected` (needs `action_statement`) | `exploitable` | `known_affected` (needs a remediation) |
//! | [`Status::Fixed`] | `fixed` | `resolved` | `fixed` |
//! | [`Status::UnderInvestigation`] | `under_investigation` | `in_triage` | `under_investigation` |
//! | [`Status::NotAffected`] | `not_affected` (needs a justification or `impact_statement`) | `not_affected` | `known_not_affected` (needs a flag or impact threat) |
//!
//! | canonical justification | OpenVEX | CycloneDX | CSAF flag |
//! |---|---|---|---|
//! | [`JustificationKind::ComponentNotPresent`] | `component_not_present` | `code_not_present` + label property | `component_not_present` |
//! | [`JustificationKind::VulnerableCodeNotPresent`] | `vulnerable_code_not_present` | `code_not_present` | `vulnerable_code_not_present` |
//! | [`JustificationKind::VulnerableCodeNotInExecutePath`] | `vulnerable_code_not_in_execute_path` | `code_not_reachable` | `vulnerable_code_not_in_execute_path` |
//! | [`JustificationKind::VulnerableCodeCannotBeControlledByAdversary`] | `vulnerable_code_cannot_be_controlled_by_adversary` | none: label property | `vulnerable_code_cannot_be_controlled_by_adversary` |
//! | [`JustificationKind::InlineMitigationsAlreadyExist`] | `inline_mitigations_already_exist` | `protected_by_mitigating_control` (and the other `protected_*`) | `inline_mitigations_already_exist` |
//! | [`JustificationKind::Other`] | label in `status_notes` | label property (`requires_*` read as such) | flag label kept |
//!
//! A label with no counterpart is never dropped: it travels in the target format's own place
//! for extra data (OpenVEX `status_notes`, CycloneDX property `stella:vex:justification`, CSAF
//! notes) and reads back as written, so OpenVEX → CycloneDX → OpenVEX and OpenVEX → CSAF →
//! OpenVEX keep every status, label and product. Each module's docs hold its full table.
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
mod sort;
pub mod validate;

pub use model::{
    HashAlgorithm, Justification, JustificationKind, Product, ProductIdentity, Provenance, Status,
    VexDocument, VexFormat, VexStatement, Vulnerability,
};
pub use openvex::{OpenVexError, OpenVexRead, OpenVexWarning};
