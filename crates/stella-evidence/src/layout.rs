//! How `stella scan` lays evidence out around an image, so that `stella verify` finds it again:
//! the artifact types of the referrers, the annotations they carry, the FuncProof reference in
//! the SBOM, and the artifact canonical record.
//!
//! Layout (every arrow is an OCI `subject`):
//! ```text
//! image ◀── SBOM artifact (application/vnd.cyclonedx+json, one layer) ◀── bundle artifact
//!       ◀── FuncProof artifacts (application/vnd.stellaops.funcproof+json, one layer per
//!           binary, titled with its path in the image) ◀── bundle artifacts (one layer per
//!           FuncProof, same title)
//!       ◀── symbol bundle (application/vnd.stellaops.symbols+tar)
//!       ◀── artifact record (application/vnd.stellaops.record+json) ◀── bundle artifact
//! ```
//!
//! The record is signed (predicate `https://stella-ops.org/attestations/record/v1`) and lists
//! the digest of every other artifact and signature artifact of its scan, so one signature binds
//! the whole set, the symbol bundle included. Verification starts from the newest record signed
//! by a trusted key and uses only what it binds; anything else attached to the image is reported
//! as superseded (bound by another trusted record) or untrusted, never used.
//! Not here: producing or checking any of it ([`crate::scan`], [`crate::verify`]).

use serde::{Deserialize, Serialize};
use stella_core::Digest;

/// Artifact type of the artifact canonical record.
pub const RECORD_JSON: &str = "application/vnd.stellaops.record+json";
/// Title of the SBOM layer.
pub const SBOM_TITLE: &str = "sbom.cdx.json";
/// Title of the symbol bundle layer.
pub const SYMBOLS_TITLE: &str = "symbols.tar";
/// Title of the record layer.
pub const RECORD_TITLE: &str = "record.json";
/// Annotation: what a Stella artifact holds (`sbom`, `funcproof`, `symbols`, `record`,
/// `signatures`).
pub const KIND: &str = "dev.stellaops.kind";
/// Annotation on an SBOM artifact: the SBOM's canonical_id.
pub const CANONICAL_ID: &str = "dev.stellaops.canonical-id";
/// Annotation: creation time (RFC 3339).
pub const CREATED: &str = "org.opencontainers.image.created";
/// The [`KIND`] of a VEX document (OpenVEX, CycloneDX VEX, CSAF) attached by `stella vex
/// attach`: a claim about the image, not evidence of the scan, and never taken for the SBOM
/// whose media type a CycloneDX VEX shares.
pub const VEX_KIND: &str = "vex";
/// Most FuncProofs in one artifact manifest (keeps manifests far below registries' 4 MiB).
pub const FUNCPROOFS_PER_ARTIFACT: usize = 512;
/// How the SBOM names a binary's FuncProof: an external reference with this URL prefix and the
/// FuncProof's sha256.
pub const FUNCPROOF_URN: &str = "urn:stella:funcproof:";

/// Title of the layer holding the SBOM's attestation under the CycloneDX predicate type.
pub const SBOM_ATTESTATION_TITLE: &str = "sbom.cdx.sigstore.json";
/// Annotation on a Sigstore bundle attached to an image (cosign's bundle layout): what the
/// bundle holds (`dsse-envelope` or `message-signature`).
pub const BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// Annotation on a Sigstore bundle attached to an image: the predicate type of its statement.
pub const BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";

/// The annotations of a Sigstore bundle (a DSSE envelope of `predicate_type`) attached directly
/// to an image, as cosign attaches its own and looks them up (`verify-attestation --type`).
pub fn bundle_annotations(
    predicate_type: &str,
    created: &str,
) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([
        (KIND.to_owned(), Kind::Signatures.as_str().to_owned()),
        (BUNDLE_CONTENT.to_owned(), "dsse-envelope".to_owned()),
        (BUNDLE_PREDICATE_TYPE.to_owned(), predicate_type.to_owned()),
        (CREATED.to_owned(), created.to_owned()),
    ])
}

/// One attestation in the record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordAttestation {
    /// The predicate type.
    #[serde(rename = "type")]
    pub predicate_type: String,
    /// The DSSE envelope (canonical JSON), base64.
    pub dsse_b64: String,
    /// The log's entry bundle tile that holds the entry in the tree of the bundle's checkpoint
    /// (C2SP tlog-tiles path, `tile/entries/…[.p/W]`).
    pub rekor_tile: String,
    /// The entry's RFC 6962 leaf hash, hex: what identifies it in any copy of the log.
    pub entry_id: String,
    /// The entry's index.
    pub log_index: u64,
    /// The log's checkpoint origin.
    pub log_origin: String,
}

/// The artifact canonical record: the SBOM's identity, its attestations with their log
/// positions, and every referrer the scan attached.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// Record schema version.
    pub schema_version: u32,
    /// The SBOM's canonical_id.
    pub canonical_id: Digest,
    /// `CycloneDX/1.7`.
    pub format: String,
    /// Where the SBOM is: the image reference with the SBOM artifact's digest.
    pub sbom_ref: String,
    /// The attestations about the SBOM.
    pub attestations: Vec<RecordAttestation>,
    /// Digests of every referrer the scan attached (sorted).
    pub referrers: Vec<Digest>,
    /// VEX documents about the image (none yet at scan time).
    pub vex_refs: Vec<String>,
    /// The image: reference and digest.
    pub image: RecordImage,
    /// When the scan wrote the record (RFC 3339 UTC): the newest trusted record decides.
    pub created: String,
}

/// The image a record is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordImage {
    /// The reference it was scanned under.
    pub reference: String,
    /// Its digest.
    pub digest: Digest,
}

/// What a Stella artifact holds, as its [`KIND`] annotation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The CycloneDX SBOM.
    Sbom,
    /// FuncProofs, one layer per binary.
    Funcproof,
    /// The symbol bundle.
    Symbols,
    /// The artifact canonical record.
    Record,
    /// Sigstore bundles about another artifact.
    Signatures,
}

impl Kind {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sbom => "sbom",
            Kind::Funcproof => "funcproof",
            Kind::Symbols => "symbols",
            Kind::Record => "record",
            Kind::Signatures => "signatures",
        }
    }

    /// The kind of an artifact type Stella writes; `None` for anything else.
    pub fn of_artifact_type(artifact_type: &str) -> Option<Self> {
        match artifact_type {
            stella_core::media::CYCLONEDX_JSON => Some(Kind::Sbom),
            stella_core::media::FUNCPROOF_JSON => Some(Kind::Funcproof),
            stella_core::media::SYMBOLS_TAR => Some(Kind::Symbols),
            RECORD_JSON => Some(Kind::Record),
            stella_core::media::SIGSTORE_BUNDLE_V03 => Some(Kind::Signatures),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
