//! Correlation: what an image holds (the components of each binary, from its SBOM), what the
//! advisories say (versions and vulnerable symbols), and what the FuncProofs prove (which
//! functions each binary holds), turned into one verdict per (advisory, binary, component) by
//! the evidence table of DESIGN.md, and written as VEX with its evidence.
//!
//! What this crate owns:
//! - [`components`]: the components of each binary, read from a CycloneDX SBOM (the package
//!   that owns it, what was found inside it, the crates it links), and how each purl names an
//!   advisory ecosystem and package;
//! - [`assess`]: the verdict rules and the evidence each verdict cites;
//! - [`report`]: verdicts as an OpenVEX-shaped [`stella_vex::VexDocument`] and as the evidence
//!   document the statements link to;
//! - [`score`]: the verdicts placed in CERT/CC's SSVC deployer decision table, as the signed
//!   score's predicate.
//!
//! What it does not own: reading advisories (`stella-advisory`), storing them (`stella-store`),
//! verifying the evidence it is given (`stella-evidence` does, before), signing or attaching
//! (`stella-evidence::attached`), runtime evidence (later rows of the table), printing.

pub mod assess;
pub mod components;
pub mod report;
pub mod runtime;
pub mod score;

pub use assess::{Assessment, Verdict};
