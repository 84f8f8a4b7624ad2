//! The canonical VEX statement model every format reads into and writes from.
//!
//! A [`VexDocument`] holds [`VexStatement`]s; each statement says, for one vulnerability
//! ([`Vulnerability`], with its aliases), what [`Status`] it has in some products ([`Product`],
//! each with subcomponents), why ([`Justification`], the mapped kind beside the label as
//! written), what it means and what to do (impact and action statements), when it was known
//! (timestamps, inherited from the document where the format says so) and where it came from
//! ([`Provenance`]: the source document's `canonical_id`, its format, the statement's index and
//! the author).
//!
//! # Status and justification mapping
//!
//! | canonical | OpenVEX 0.2.0 (and 0.0.1) |
//! |---|---|
//! | [`Status::NotAffected`] | `not_affected` |
//! | [`Status::Affected`] | `affected` |
//! | [`Status::Fixed`] | `fixed` |
//! | [`Status::UnderInvestigation`] | `under_investigation` |
//! | [`JustificationKind::ComponentNotPresent`] | `component_not_present` |
//! | [`JustificationKind::VulnerableCodeNotPresent`] | `vulnerable_code_not_present` |
//! | [`JustificationKind::VulnerableCodeNotInExecutePath`] | `vulnerable_code_not_in_execute_path` |
//! | [`JustificationKind::VulnerableCodeCannotBeControlledByAdversary`] | `vulnerable_code_cannot_be_controlled_by_adversary` |
//! | [`JustificationKind::InlineMitigationsAlreadyExist`] | `inline_mitigations_already_exist` |
//! | [`JustificationKind::Other`] | any other label: read with a warning, the label kept; written to OpenVEX in `status_notes` (and as the `impact_statement` when there is none), never dropped |
//!
//! Statuses have no "other": a status a reader does not know is an error, because guessing one
//! would change what the document claims.
//!
//! What this module does not own: reading or writing any format (see [`crate::openvex`]),
//! matching products, or choosing between statements.

use std::collections::BTreeMap;

use stella_core::Digest;

/// A VEX document in canonical form, whatever format it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct VexDocument {
    /// The document's own identifier as written (OpenVEX `@id`).
    pub id: String,
    /// Who issued it.
    pub author: String,
    /// The author's role, when given.
    pub role: Option<String>,
    /// When the document was issued; `None` only when every statement carries its own time.
    pub timestamp: Option<jiff::Timestamp>,
    /// When the document was last changed.
    pub last_updated: Option<jiff::Timestamp>,
    /// The document's version (≥ 1).
    pub version: u64,
    /// How the document was made, when said.
    pub tooling: Option<String>,
    /// The statements, in document order as read.
    pub statements: Vec<VexStatement>,
}

/// One claim: the status of a vulnerability in some products.
#[derive(Debug, Clone, PartialEq)]
pub struct VexStatement {
    /// The statement's own identifier, when it has one (OpenVEX statement `@id`).
    pub id: Option<String>,
    /// The statement's version, when given.
    pub version: Option<u64>,
    /// The vulnerability concerned.
    pub vulnerability: Vulnerability,
    /// The products the statement is about (possibly empty in OpenVEX, where a document may
    /// speak for a product named elsewhere).
    pub products: Vec<Product>,
    /// The status.
    pub status: Status,
    /// Why the product is not affected, when said.
    pub justification: Option<Justification>,
    /// Free text about the status.
    pub status_notes: Option<String>,
    /// Why the product is not affected, in words.
    pub impact_statement: Option<String>,
    /// What to do about an affected product.
    pub action_statement: Option<String>,
    /// When the action statement was issued.
    pub action_statement_timestamp: Option<jiff::Timestamp>,
    /// The supplier of the product or subcomponent.
    pub supplier: Option<String>,
    /// When the claim was known to be true: the statement's own time, else the document's.
    pub timestamp: jiff::Timestamp,
    /// When the statement was last updated: its own, else the document's, when either is given.
    pub last_updated: Option<jiff::Timestamp>,
    /// Where the statement came from.
    pub provenance: Provenance,
}

/// A vulnerability by its main id and the other names it is known by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vulnerability {
    /// The main identifier (`CVE-2024-1234`, `GHSA-…`, `GO-2020-0015`, `RUSTSEC-…`).
    pub name: String,
    /// An IRI for the vulnerability, when given (OpenVEX `@id`).
    pub iri: Option<String>,
    /// Free text describing it.
    pub description: Option<String>,
    /// Other identifiers, sorted and without duplicates or the main name.
    pub aliases: Vec<String>,
}

impl Vulnerability {
    /// A vulnerability with `name` and `aliases` (sorted, deduplicated, the name removed).
    pub fn new(name: impl Into<String>, aliases: impl IntoIterator<Item = String>) -> Self {
        let name = name.into();
        let mut aliases: Vec<String> = aliases.into_iter().filter(|a| *a != name).collect();
        aliases.sort();
        aliases.dedup();
        Vulnerability {
            name,
            iri: None,
            description: None,
            aliases,
        }
    }

    /// Whether `id` names this vulnerability, by its main name or any alias.
    pub fn is_known_as(&self, id: &str) -> bool {
        self.name == id || self.aliases.iter().any(|a| a == id)
    }
}

/// A product and the subcomponents of it the statement is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Product {
    /// The product itself.
    pub identity: ProductIdentity,
    /// Subcomponents (e.g. the vulnerable library inside an image).
    pub subcomponents: Vec<ProductIdentity>,
}

/// The ways a product or component is named. At least one of them is present.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ProductIdentity {
    /// The identifier as written (OpenVEX `@id`): a purl, a BOM-Link, an IRI or free text.
    pub id: Option<String>,
    /// A package URL, from `identifiers.purl` or an `@id` that is one.
    pub purl: Option<String>,
    /// A CPE 2.2 name.
    pub cpe22: Option<String>,
    /// A CPE 2.3 name.
    pub cpe23: Option<String>,
    /// A CycloneDX BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`), from an `@id` that is one.
    pub bom_link: Option<String>,
    /// The image digest, from a `pkg:oci` purl whose version is a digest.
    pub image_digest: Option<Digest>,
    /// File or package hashes by algorithm, values as written.
    pub hashes: BTreeMap<HashAlgorithm, String>,
    /// The versions of the product the statement is limited to, as written: one version
    /// (`2.4`) or a `vers:` range (`vers:generic/>=2.9|<=4.1`), from CycloneDX
    /// `affects[].versions`. `None`: every version the other names cover.
    pub version: Option<String>,
}

/// The prefix of an identifier that carries a version limit, for formats with no place for
/// one (OpenVEX): `urn:stella:version:<percent-encoded version>:<identifier>`.
pub const VERSIONED_ID_PREFIX: &str = "urn:stella:version:";

impl ProductIdentity {
    /// The identity named by one string (an OpenVEX `@id` or a 0.0.1 product string): a purl,
    /// a BOM-Link, or an opaque identifier, recognised by its scheme.
    pub fn from_id(id: &str) -> Self {
        ProductIdentity::from_owned_id(id.to_owned())
    }

    /// [`ProductIdentity::from_id`] keeping `id` as the identifier instead of a copy of it.
    pub fn from_owned_id(id: String) -> Self {
        if let Some(identity) = versioned(&id) {
            return identity;
        }
        let mut identity = ProductIdentity::default();
        if id.starts_with("pkg:") {
            identity.image_digest = oci_digest(&id);
            identity.purl = Some(id.clone());
        } else if id.starts_with("urn:cdx:") {
            identity.bom_link = Some(id.clone());
        }
        identity.id = Some(id);
        identity
    }

    /// The image digest [`ProductIdentity::from_id`] finds in `id`, without building the
    /// identity.
    pub(crate) fn image_digest_in(id: &str) -> Option<Digest> {
        if id.starts_with(VERSIONED_ID_PREFIX) {
            return ProductIdentity::from_id(id).image_digest;
        }
        id.starts_with("pkg:").then(|| oci_digest(id)).flatten()
    }

    /// The identifier to write where a format has no place for the version limit: the
    /// identifier (else the purl) as it is, or with the version in a
    /// [`VERSIONED_ID_PREFIX`] URN, which [`ProductIdentity::from_id`] reads back.
    pub fn id_with_version(&self) -> Option<String> {
        let id = self.id.as_ref().or(self.purl.as_ref())?;
        Some(match &self.version {
            None => id.clone(),
            Some(v) => format!("{VERSIONED_ID_PREFIX}{}:{id}", percent_encode(v)),
        })
    }

    /// The same identity without its version limit.
    pub fn unversioned(&self) -> ProductIdentity {
        ProductIdentity {
            version: None,
            ..self.clone()
        }
    }

    /// Whether nothing names the product.
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.purl.is_none()
            && self.cpe22.is_none()
            && self.cpe23.is_none()
            && self.hashes.is_empty()
    }
}

/// The identity an identifier in [`VERSIONED_ID_PREFIX`] form names, with its version limit;
/// `None` for any other identifier. A limit written around another keeps the outer one, as
/// reading each level would; the levels are unwrapped in a loop, so a hostile identifier of
/// any depth is read without recursion.
fn versioned(id: &str) -> Option<ProductIdentity> {
    let (version, mut inner) = versioned_parts(id)?;
    while let Some((_, deeper)) = versioned_parts(inner) {
        inner = deeper;
    }
    let mut identity = ProductIdentity::from_id(inner);
    identity.version = Some(version);
    Some(identity)
}

/// The version limit and the identifier inside an identifier in [`VERSIONED_ID_PREFIX`] form.
fn versioned_parts(id: &str) -> Option<(String, &str)> {
    let rest = id.strip_prefix(VERSIONED_ID_PREFIX)?;
    let (version, inner) = rest.split_once(':')?;
    let version = crate::json::percent_decode(version)?;
    (!inner.is_empty()).then_some((version, inner))
}

/// `text` with every byte outside RFC 3986's unreserved set as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The digest in a `pkg:oci/<name>@sha256%3A<hex>` purl (the version of an OCI purl is the
/// image's manifest digest, percent-encoded).
fn oci_digest(purl: &str) -> Option<Digest> {
    let rest = purl.strip_prefix("pkg:oci/")?;
    let version = rest.split(['?', '#']).next()?.rsplit_once('@')?.1;
    let decoded = version.replace("%3A", ":").replace("%3a", ":");
    decoded.parse().ok()
}

/// A hash algorithm as OpenVEX names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // The variants are the algorithms their labels name.
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    Blake2s256,
    Blake2b256,
    Blake2b512,
}

impl HashAlgorithm {
    /// Every algorithm, in label order.
    pub const ALL: [HashAlgorithm; 12] = [
        HashAlgorithm::Md5,
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha3_224,
        HashAlgorithm::Sha3_256,
        HashAlgorithm::Sha3_384,
        HashAlgorithm::Sha3_512,
        HashAlgorithm::Blake2s256,
        HashAlgorithm::Blake2b256,
        HashAlgorithm::Blake2b512,
    ];

    /// The OpenVEX label (`sha-256`, `blake2b-512`, …).
    pub fn label(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
            HashAlgorithm::Sha3_224 => "sha3-224",
            HashAlgorithm::Sha3_256 => "sha3-256",
            HashAlgorithm::Sha3_384 => "sha3-384",
            HashAlgorithm::Sha3_512 => "sha3-512",
            HashAlgorithm::Blake2s256 => "blake2s-256",
            HashAlgorithm::Blake2b256 => "blake2b-256",
            HashAlgorithm::Blake2b512 => "blake2b-512",
        }
    }

    /// The algorithm an OpenVEX label names.
    pub fn from_label(label: &str) -> Option<Self> {
        HashAlgorithm::ALL.into_iter().find(|a| a.label() == label)
    }
}

/// The status of a vulnerability in a product.
///
/// The order of the variants is the order of conservativeness the merge uses: a later variant
/// is the safer claim (`NotAffected` < `Fixed` < `UnderInvestigation` < `Affected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// No remediation is needed.
    NotAffected,
    /// The product was affected and is no longer.
    Fixed,
    /// It is not yet known whether the product is affected.
    UnderInvestigation,
    /// The product is affected; an action statement says what to do.
    Affected,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 4] = [
        Status::NotAffected,
        Status::Fixed,
        Status::UnderInvestigation,
        Status::Affected,
    ];

    /// The OpenVEX label.
    pub fn openvex_label(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
            Status::Affected => "affected",
        }
    }

    /// The status an OpenVEX label names.
    pub fn from_openvex(label: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.openvex_label() == label)
    }
}

/// Why a product is not affected: the mapped kind and the label as the source wrote it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Justification {
    /// The canonical kind.
    pub kind: JustificationKind,
    /// The label exactly as the source document wrote it, kept so that no conversion loses it.
    pub label: String,
}

impl Justification {
    /// The justification an OpenVEX label names; an unknown label becomes
    /// [`JustificationKind::Other`] with the label kept.
    pub fn from_openvex(label: &str) -> Self {
        Justification {
            kind: JustificationKind::from_openvex(label).unwrap_or(JustificationKind::Other),
            label: label.to_owned(),
        }
    }
}

/// The canonical justification kinds (OpenVEX's five, which CycloneDX and CSAF map onto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JustificationKind {
    /// The vulnerable component is not in the product.
    ComponentNotPresent,
    /// The component is there, the vulnerable code is not.
    VulnerableCodeNotPresent,
    /// The vulnerable code is there but never executed.
    VulnerableCodeNotInExecutePath,
    /// The vulnerable code executes but an adversary cannot reach it with their input.
    VulnerableCodeCannotBeControlledByAdversary,
    /// Mitigations already prevent exploitation.
    InlineMitigationsAlreadyExist,
    /// A label with no canonical counterpart; [`Justification::label`] holds it.
    Other,
}

impl JustificationKind {
    /// The OpenVEX label, for every kind but [`JustificationKind::Other`].
    pub fn openvex_label(self) -> Option<&'static str> {
        Some(match self {
            JustificationKind::ComponentNotPresent => "component_not_present",
            JustificationKind::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            JustificationKind::VulnerableCodeNotInExecutePath => {
                "vulnerable_code_not_in_execute_path"
            }
            JustificationKind::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            JustificationKind::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
            JustificationKind::Other => return None,
        })
    }

    /// The kind an OpenVEX label names.
    pub fn from_openvex(label: &str) -> Option<Self> {
        [
            JustificationKind::ComponentNotPresent,
            JustificationKind::VulnerableCodeNotPresent,
            JustificationKind::VulnerableCodeNotInExecutePath,
            JustificationKind::VulnerableCodeCannotBeControlledByAdversary,
            JustificationKind::InlineMitigationsAlreadyExist,
        ]
        .into_iter()
        .find(|k| k.openvex_label() == Some(label))
    }
}

/// The formats a statement can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VexFormat {
    /// OpenVEX (0.2.0, or the 0.0.1 shapes).
    OpenVex,
    /// CycloneDX VEX.
    CycloneDx,
    /// CSAF 2.0 with the VEX profile.
    Csaf,
}

impl VexFormat {
    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            VexFormat::OpenVex => "openvex",
            VexFormat::CycloneDx => "cyclonedx",
            VexFormat::Csaf => "csaf",
        }
    }
}

/// Where a statement came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Provenance {
    /// `sha256(JCS(source document))`, the source's canonical id.
    pub document: Digest,
    /// The source's format.
    pub format: VexFormat,
    /// The statement's index in the source's statement list.
    pub statement_index: usize,
    /// The source's author or publisher.
    pub author: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_limit_around_another_keeps_the_outer_one_at_any_depth() {
        let inner = "pkg:npm/a@1";
        let once = format!("{VERSIONED_ID_PREFIX}2.0:{inner}");
        let identity = ProductIdentity::from_id(&once);
        assert_eq!(identity.version.as_deref(), Some("2.0"));
        assert_eq!(identity.purl.as_deref(), Some(inner));
        assert_eq!(
            ProductIdentity::from_id(&identity.id_with_version().unwrap()),
            identity
        );

        let twice = format!("{VERSIONED_ID_PREFIX}3.0:{once}");
        let identity = ProductIdentity::from_id(&twice);
        assert_eq!(identity.version.as_deref(), Some("3.0"));
        assert_eq!(identity.id.as_deref(), Some(inner));

        // Far deeper than a thread's stack would allow one call per level.
        let deep = format!(
            "{}{inner}",
            format!("{VERSIONED_ID_PREFIX}1:").repeat(200_000)
        );
        let identity = ProductIdentity::from_id(&deep);
        assert_eq!(identity.version.as_deref(), Some("1"));
        assert_eq!(identity.purl.as_deref(), Some(inner));
        assert_eq!(ProductIdentity::image_digest_in(&deep), None);

        // A level that is not a limit (a bad escape) is the identifier as written.
        let broken = format!("{VERSIONED_ID_PREFIX}1:{VERSIONED_ID_PREFIX}%zz:{inner}");
        let identity = ProductIdentity::from_id(&broken);
        assert_eq!(identity.version.as_deref(), Some("1"));
        assert_eq!(
            identity.id.as_deref(),
            Some(&broken[VERSIONED_ID_PREFIX.len() + 2..])
        );
    }
}
