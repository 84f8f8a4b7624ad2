//! Stella's flows as a library: what `stella scan` and `stella verify --image` do, without a
//! command line.
//!
//! What this crate owns:
//! - [`layout`]: how evidence lies around an image (artifact types, annotations, titles) and
//!   the artifact canonical [`layout::Record`];
//! - [`scan`]: the scan pipeline — prepare the target, find and prove its binaries, write or
//!   enrich the SBOM, sign, log, attach, record — returning a typed [`scan::ScanReport`];
//! - [`verify`]: the auditor's replay of an image's evidence, returning a typed verdict per
//!   artifact, and the symbol presence/absence answer over the image's verified FuncProofs;
//! - [`attached`]: documents attached to an image as referrers (VEX), found with what their
//!   signatures prove, or signed, logged and attached;
//! - [`cosign`]: cosign's own signatures and attestations of an image (legacy tags, foreign
//!   bundle referrers), listed and checked with cosign keys, required when keys are given;
//! - [`attestation`]: one signed attestation checked on its own (signature, statement, log);
//! - [`keys`]: the default signing key of a home, made once and opened with a password;
//! - [`pack`]: the auditor's pack, one deterministic tar checked member by member;
//! - [`progress`]: the events long work reports, so a terminal draws bars and a server logs
//!   from the same code.
//!
//! What it does not own: parsing arguments, prompting for passwords, choosing exit codes or
//! printing (the `stella` binary), nor any format or store (each has its crate: `stella-sbom`,
//! `stella-binary`, `stella-attest`, `stella-tlog`, `stella-oci`).

pub mod attached;
pub mod attestation;
pub mod cosign;
pub mod error;
pub mod keys;
pub mod layout;
pub mod pack;
pub mod progress;
pub mod scan;
pub mod verify;

pub use error::EvidenceError;
pub use progress::{Event, Phase, Progress};
