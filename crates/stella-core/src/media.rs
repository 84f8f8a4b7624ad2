//! Media types, OCI artifact types and predicate-type URIs that Stella's contracts fix.
//!
//! These strings are part of the public contract (DESIGN.md, "Contracts"): tests and users depend on
//! them, so they are defined once here and never spelled out elsewhere.

/// CycloneDX JSON documents.
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";
/// OpenVEX documents.
pub const OPENVEX_JSON: &str = "application/openvex+json";
/// CSAF documents (the CSAF 2.0 specification registers no media type; this is the one its
/// tooling uses).
pub const CSAF_JSON: &str = "application/csaf+json";
/// FuncProof documents (`stella.funcproof/v1`).
pub const FUNCPROOF_JSON: &str = "application/vnd.stellaops.funcproof+json";
/// Symbol bundles: per-BuildID function names and ranges.
pub const SYMBOLS_TAR: &str = "application/vnd.stellaops.symbols+tar";
/// An assessment's evidence (`stella.assessment/v1`): the verdicts of `stella assess`.
pub const ASSESSMENT_JSON: &str = "application/vnd.stellaops.assessment+json";
/// Micro-witness documents (exact runtime call counts).
pub const MICRO_WITNESS_JSON: &str = "application/vnd.stellaops.micro-witness+json";
/// A deterministic score (`stella score --attach`): the score/v1 predicate.
pub const SCORE_JSON: &str = "application/vnd.stellaops.score+json";
/// Witness reports (`stella.runtime.witness/v1`): exact call counts, attached to the image
/// whose binaries they watched.
pub const WITNESS_REPORT_JSON: &str = "application/vnd.stellaops.witness-report+json";
/// Profiles (`stella.runtime.profile/v1`): sampled stacks as canonical frames, attached to the
/// image whose processes they sampled.
pub const PROFILE_JSON: &str = "application/vnd.stellaops.profile+json";
/// Sigstore bundle v0.3.
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Sigstore trusted root.
pub const SIGSTORE_TRUSTED_ROOT: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// DSSE payload type of in-toto Statements.
pub const IN_TOTO_PAYLOAD: &str = "application/vnd.in-toto+json";

/// In-toto predicate-type URIs.
pub mod predicate {
    /// A CycloneDX BOM as the predicate.
    pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";
    /// An OpenVEX document as the predicate.
    pub const OPENVEX: &str = "https://openvex.dev/ns/v0.2.0";
    /// A CSAF 2.0 document as the predicate.
    pub const CSAF: &str = "https://docs.oasis-open.org/csaf/csaf/v2.0";
    /// Stella's SBOM wrapper (`bom_format`, `bom`, `producer`, `timestamp`).
    pub const STELLA_SBOM: &str = "https://stella-ops.org/attestations/sbom/v1";
    /// A FuncProof as the predicate.
    pub const STELLA_FUNCPROOF: &str = "https://stella-ops.org/attestations/funcproof/v1";
    /// A micro-witness as the predicate.
    pub const STELLA_MICRO_WITNESS: &str = "https://stella-ops.org/attestations/micro-witness/v1";
    /// An assessment's evidence (`stella.assessment/v1`): every verdict of `stella assess` with
    /// what it rests on; the VEX statements it signs link it by canonical id.
    pub const STELLA_ASSESSMENT: &str = "https://stella-ops.org/attestations/assessment/v1";
    /// A witness report (`stella.runtime.witness/v1`) as the predicate.
    pub const STELLA_RUNTIME_WITNESS: &str =
        "https://stella-ops.org/attestations/runtime-witness/v1";
    /// A profile (`stella.runtime.profile/v1`) as the predicate.
    pub const STELLA_RUNTIME_PROFILE: &str =
        "https://stella-ops.org/attestations/runtime-profile/v1";
    /// A deterministic score as the predicate.
    pub const STELLA_SCORE: &str = "https://stella-ops.org/attestations/score/v1";
    /// The artifact canonical record of one scan as the predicate: it binds, by digest, every
    /// referrer the scan attached (SBOM, FuncProofs, symbol bundle, signatures).
    pub const STELLA_RECORD: &str = "https://stella-ops.org/attestations/record/v1";
}
