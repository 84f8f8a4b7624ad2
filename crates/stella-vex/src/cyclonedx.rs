//! CycloneDX VEX (<https://cyclonedx.org/capabilities/vex/>): reading 1.4–1.7 into the canonical
//! model, and writing canonical standalone 1.7 VEX.
//!
//! **Reading** ([`read`], [`read_with`]) takes a BOM's `vulnerabilities`: each vulnerability with
//! an `analysis` is one statement; one without (a vulnerability report, not a VEX claim) is
//! skipped with [`CycloneDxWarning::NoAnalysis`]. Its `affects[].ref` name the products:
//! - a plain bom-ref names a component of the same BOM (VEX embedded in an SBOM);
//! - a BOM-Link `urn:cdx:<serial>/<version>#<bom-ref>` names a component of the BOM with that
//!   serial number: the document itself, or the SBOM given in [`ReadOptions::sbom`] (standalone
//!   VEX), whose component's purl, CPE and hashes the product then carries. A BOM-Link into
//!   another SBOM is kept as a BOM-Link with [`CycloneDxWarning::BomLinkToOtherSbom`].
//!
//! A product's purl (the component's `purl`, or a ref that is itself a purl) that does not parse
//! as a package URL is kept as written, with [`CycloneDxWarning::MalformedPurl`] naming the ref
//! (it then matches only by its exact text, see [`crate::matching`]).
//!
//! bom-refs are compared both as written and percent-decoded (a BOM-Link's fragment is
//! percent-encoded, the bom-ref it names usually is not). A component nested inside another is a
//! subcomponent of its parent, the parent the product.
//!
//! # Status and justification mapping
//!
//! | canonical | CycloneDX `analysis.state` | read back |
//! |---|---|---|
//! | [`Status::Affected`] | `exploitable` | `exploitable` |
//! | [`Status::Fixed`] | `resolved` | `resolved`, `resolved_with_pedigree` |
//! | [`Status::UnderInvestigation`] | `in_triage` | `in_triage` |
//! | [`Status::NotAffected`] | `not_affected` (`false_positive` when the justification label is `false_positive`) | `not_affected`, `false_positive` |
//!
//! `false_positive` reads as not affected with the justification label `false_positive` (kind
//! [`JustificationKind::Other`]) when no justification is given, so the label survives; with a
//! justification, the state is noted in `status_notes`. `resolved_with_pedigree` is noted there
//! too. A state outside these is [`CycloneDxError::UnknownState`].
//!
//! | CycloneDX `analysis.justification` | canonical kind | written from |
//! |---|---|---|
//! | `code_not_present` | [`JustificationKind::VulnerableCodeNotPresent`] | it, and [`JustificationKind::ComponentNotPresent`] |
//! | `code_not_reachable` | [`JustificationKind::VulnerableCodeNotInExecutePath`] | it |
//! | `protected_by_compiler`, `protected_at_runtime`, `protected_at_perimeter`, `protected_by_mitigating_control` | [`JustificationKind::InlineMitigationsAlreadyExist`] | it (as `protected_by_mitigating_control`) |
//! | `requires_configuration`, `requires_dependency`, `requires_environment` | [`JustificationKind::Other`] (label kept) | — |
//! | any other label | [`JustificationKind::Other`] (label kept), with [`CycloneDxWarning::UnknownJustification`] | — |
//! | — | [`JustificationKind::VulnerableCodeCannotBeControlledByAdversary`] | none: the label goes to `properties` |
//!
//! Whenever the label written to `analysis.justification` is not the model's label as read, the
//! model's label is kept in the property `stella:vex:justification`, and reading it back restores
//! it, so OpenVEX → CycloneDX → OpenVEX keeps every label.
//!
//! `analysis.detail` is the impact statement; `recommendation` is the action statement, followed
//! by `analysis.response` (`Response: update, will_not_fix`). A statement's timestamp is
//! `analysis.firstIssued`, else `analysis.lastUpdated`, else `metadata.timestamp`, else
//! [`ReadOptions::fallback_timestamp`] (with [`CycloneDxWarning::TimestampFromFallback`]); with
//! none of them it is [`CycloneDxError::NoTimestamp`]. `last_updated` is `analysis.lastUpdated`.
//!
//! **Writing** ([`write()`]) produces RFC 8785 canonical CycloneDX 1.7 that the official schema
//! accepts: products that are BOM-Links stay BOM-Links (standalone VEX into the SBOM they name;
//! a BOM-Link into the document itself becomes a component under that BOM-Link as its bom-ref);
//! others become components of the VEX itself (subcomponents nested inside them), referenced by
//! bom-ref. What 1.7 has no place for (a statement's `@id`, version, supplier, status notes, a
//! vulnerability IRI, the document's role, tooling and a non-UUID id) is kept in `properties`
//! named `stella:vex:*`. Components and vulnerabilities are sorted by their canonical bytes.
//!
//! **Writing into an SBOM** ([`write_into`]): the statements become that SBOM's
//! `vulnerabilities`, affecting its own components (see the `into` module).
//!
//! **Versions.** `affects[].versions` limit a product to some versions: each entry (a `version`
//! or a `vers:` `range`) is the product with that limit ([`ProductIdentity::version`]), so
//! `product-ABC` 2.4 and `product-ABC` 4.2 are two products. An entry's own `status` decides
//! the status in that version: `affected` (or none) takes the analysis state, `unaffected` is
//! not affected and `unknown` under investigation; a vulnerability whose versions differ
//! becomes one statement per status (the analysis' justification and action kept only on the
//! statement with its own state). Written back, each limit is a `versions` entry whose status
//! is `unaffected` for not affected, `unknown` under investigation, `affected` otherwise, which
//! reads back as the same statement.
//!
//! What this module does not own: matching, merging, evaluating `vers:` ranges, other formats.

mod into;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json};
use stella_core::jcs::{self, Object, Value};
use stella_core::{Digest, ErrorKind, Kinded};

use crate::json::{
    self, child, object, opt_array, opt_object, opt_string, percent_decode, put, sorted, time,
};
pub use into::write_into;

use crate::matching::PurlChecks;
use crate::model::{
    HashAlgorithm, Justification, JustificationKind, Product, ProductIdentity, Provenance, Status,
    VexDocument, VexFormat, VexStatement, Vulnerability,
};

/// The spec version Stella writes.
pub const SPEC_VERSION: &str = "1.7";

/// Most vulnerabilities accepted in one document (as [`crate::openvex::MAX_STATEMENTS`]).
pub const MAX_VULNERABILITIES: usize = 1_000_000;

/// Most components indexed from one BOM (nested ones included).
pub const MAX_COMPONENTS: usize = 1_000_000;

/// The prefix of the properties Stella writes for what CycloneDX has no place for.
pub const PROPERTY_PREFIX: &str = "stella:vex:";

/// The bom-ref prefix of a component written for a product that had no identifier of its own.
const NO_ID_REF_PREFIX: &str = "urn:stella:component:";

/// Why a CycloneDX VEX document could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CycloneDxError {
    /// The bytes are not I-JSON.
    #[error("not a JSON document Stella accepts: {source}")]
    Json {
        /// The reader's error, with pointer and byte offset.
        #[source]
        source: jcs::JcsError,
    },
    /// The SBOM given for BOM-Links is not I-JSON.
    #[error("the SBOM given is not a JSON document Stella accepts: {source}")]
    SbomJson {
        /// The reader's error, with pointer and byte offset.
        #[source]
        source: jcs::JcsError,
    },
    /// Not a CycloneDX BOM (`bomFormat` is not `CycloneDX`).
    #[error("{pointer}: not a CycloneDX document (bomFormat {found:?})")]
    NotCycloneDx {
        /// JSON pointer of `bomFormat`.
        pointer: String,
        /// What was found.
        found: String,
    },
    /// A member has the wrong JSON type.
    #[error("{pointer}: expected {expected}")]
    WrongType {
        /// JSON pointer of the member.
        pointer: String,
        /// What the spec allows there.
        expected: &'static str,
    },
    /// A required member is missing.
    #[error("{pointer}: the required member {member:?} is missing")]
    MissingMember {
        /// JSON pointer of the object that lacks it.
        pointer: String,
        /// The member's name.
        member: &'static str,
    },
    /// An analysis state outside CycloneDX's.
    #[error("{pointer}: unknown analysis state {label:?}")]
    UnknownState {
        /// JSON pointer of the state.
        pointer: String,
        /// The state as written.
        label: String,
    },
    /// A version status outside CycloneDX's (`affected`, `unaffected`, `unknown`).
    #[error("{pointer}: unknown version status {label:?}")]
    UnknownVersionStatus {
        /// JSON pointer of the status.
        pointer: String,
        /// The status as written.
        label: String,
    },
    /// A timestamp that is not RFC 3339.
    #[error("{pointer}: {source}")]
    BadTimestamp {
        /// JSON pointer of the timestamp.
        pointer: String,
        /// Why it could not be read.
        #[source]
        source: stella_core::time::TimeError,
    },
    /// A statement with no time in its analysis, the document or the options.
    #[error(
        "{pointer}: the statement has no time (no analysis.firstIssued, analysis.lastUpdated or metadata.timestamp, and no fallback given)"
    )]
    NoTimestamp {
        /// JSON pointer of the vulnerability.
        pointer: String,
    },
    /// More vulnerabilities or components than the limits.
    #[error("{pointer}: {count} items, more than the limit of {limit}")]
    TooMany {
        /// JSON pointer of the array.
        pointer: String,
        /// Items found (at least).
        count: usize,
        /// The limit in force.
        limit: usize,
    },
    /// VEX written into an SBOM older than CycloneDX 1.5.
    #[error(
        "the SBOM is CycloneDX {found:?}; statements are written into 1.5 or later (convert it with `stella sbom convert`)"
    )]
    SbomTooOld {
        /// The SBOM's specVersion.
        found: String,
    },
    /// A product of a statement written into an SBOM that the SBOM does not hold.
    #[error("{pointer}: {product:?} is not a component of the SBOM")]
    NotInSbom {
        /// JSON pointer of the product in the canonical document.
        pointer: String,
        /// The product's name.
        product: String,
    },
    /// The written document could not be canonicalised.
    #[error("the written document is not canonical JSON: {source}")]
    Canonical {
        /// Why.
        #[source]
        source: jcs::JcsError,
    },
}

json::from_shape!(CycloneDxError);

impl Kinded for CycloneDxError {
    fn kind(&self) -> ErrorKind {
        match self {
            CycloneDxError::Json {
                source: jcs::JcsError::TooLarge { .. } | jcs::JcsError::TooDeep { .. },
            }
            | CycloneDxError::SbomJson {
                source: jcs::JcsError::TooLarge { .. } | jcs::JcsError::TooDeep { .. },
            }
            | CycloneDxError::TooMany { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::Invalid,
        }
    }
}

/// Something in the document that did not stop reading but is worth saying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CycloneDxWarning {
    /// A vulnerability without `analysis` says nothing about exploitability: skipped.
    #[error("{pointer}: a vulnerability without analysis is no VEX statement; skipped")]
    NoAnalysis {
        /// JSON pointer of the vulnerability.
        pointer: String,
    },
    /// A bom-ref that names no component of the document.
    #[error("{pointer}: {reference:?} names no component of the document; kept as written")]
    UnresolvedRef {
        /// JSON pointer of the ref.
        pointer: String,
        /// The ref as written.
        reference: String,
    },
    /// A BOM-Link into a BOM that is neither the document nor the SBOM given.
    #[error("{pointer}: {link:?} points into another BOM than the SBOM given; kept as a BOM-Link")]
    BomLinkToOtherSbom {
        /// JSON pointer of the ref.
        pointer: String,
        /// The BOM-Link.
        link: String,
    },
    /// A BOM-Link into the SBOM given whose version differs from the SBOM's.
    #[error("{pointer}: {link:?} names version {linked} of the SBOM, which is version {actual}")]
    BomLinkVersionMismatch {
        /// JSON pointer of the ref.
        pointer: String,
        /// The BOM-Link.
        link: String,
        /// The version it names.
        linked: u64,
        /// The SBOM's version.
        actual: u64,
    },
    /// A BOM-Link whose bom-ref names no component of the SBOM it points into.
    #[error("{pointer}: {link:?} names no component of the SBOM; kept as a BOM-Link")]
    UnresolvedBomLink {
        /// JSON pointer of the ref.
        pointer: String,
        /// The BOM-Link.
        link: String,
    },
    /// A statement took its time from [`ReadOptions::fallback_timestamp`].
    #[error("{pointer}: no time in the document; the fallback timestamp given is used")]
    TimestampFromFallback {
        /// JSON pointer of the vulnerability.
        pointer: String,
    },
    /// An `analysis.justification` outside CycloneDX's nine, kept as the label of a
    /// justification of kind [`JustificationKind::Other`].
    #[error("{pointer}: justification {label:?} is not one CycloneDX defines; kept as written")]
    UnknownJustification {
        /// JSON pointer of the justification.
        pointer: String,
        /// The label as written.
        label: String,
    },
    /// A purl that does not parse as a package URL, kept as written (it then matches only by
    /// its exact text).
    #[error("{pointer}: {purl:?} is not a valid package URL; kept as written")]
    MalformedPurl {
        /// JSON pointer of the purl (a component's `purl`, or an `affects[].ref`).
        pointer: String,
        /// The text as written.
        purl: String,
    },
}

impl CycloneDxWarning {
    /// A stable name of what the warning says, for machine output.
    pub fn rule(&self) -> &'static str {
        match self {
            CycloneDxWarning::NoAnalysis { .. } => "no-analysis",
            CycloneDxWarning::UnresolvedRef { .. } => "unresolved-ref",
            CycloneDxWarning::BomLinkToOtherSbom { .. } => "bom-link-to-other-sbom",
            CycloneDxWarning::BomLinkVersionMismatch { .. } => "bom-link-version-mismatch",
            CycloneDxWarning::UnresolvedBomLink { .. } => "unresolved-bom-link",
            CycloneDxWarning::TimestampFromFallback { .. } => "timestamp-from-fallback",
            CycloneDxWarning::UnknownJustification { .. } => "unknown-justification",
            CycloneDxWarning::MalformedPurl { .. } => "malformed-purl",
        }
    }

    /// JSON pointer of what the warning is about.
    pub fn pointer(&self) -> &str {
        match self {
            CycloneDxWarning::NoAnalysis { pointer }
            | CycloneDxWarning::UnresolvedRef { pointer, .. }
            | CycloneDxWarning::BomLinkToOtherSbom { pointer, .. }
            | CycloneDxWarning::BomLinkVersionMismatch { pointer, .. }
            | CycloneDxWarning::UnresolvedBomLink { pointer, .. }
            | CycloneDxWarning::TimestampFromFallback { pointer }
            | CycloneDxWarning::UnknownJustification { pointer, .. }
            | CycloneDxWarning::MalformedPurl { pointer, .. } => pointer,
        }
    }
}

/// What reading may use besides the document.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions<'a> {
    /// The SBOM a standalone VEX's BOM-Links point into.
    pub sbom: Option<&'a [u8]>,
    /// The time of statements that have none in the document (CycloneDX makes every time
    /// optional; the canonical model needs one).
    pub fallback_timestamp: Option<jiff::Timestamp>,
    /// Purls checked by the readers of other documents, to share their answers (a merge of many
    /// documents); `None`: each document checks its own. OpenVEX and CycloneDX name a product
    /// wherever a statement is about it, so they share; CSAF names each product once in its
    /// product tree and checks its own.
    pub purls: Option<&'a PurlChecks>,
}

/// A document read, with its canonical id and what is worth saying about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CycloneDxRead {
    /// The document in the canonical model.
    pub document: VexDocument,
    /// `sha256(JCS(bytes))`.
    pub canonical_id: Digest,
    /// Warnings, in document order.
    pub warnings: Vec<CycloneDxWarning>,
}

/// Reads a CycloneDX VEX document (or an SBOM's `vulnerabilities`) without an SBOM or fallback.
///
/// # Errors
/// [`CycloneDxError`] naming the JSON pointer of the first member that cannot be understood.
pub fn read(bytes: &[u8]) -> Result<CycloneDxRead, CycloneDxError> {
    read_with(bytes, &ReadOptions::default())
}

/// Reads a CycloneDX VEX document with the SBOM its BOM-Links point into and a fallback time.
///
/// # Errors
/// [`CycloneDxError`] naming the JSON pointer of the first member (of the document, or of the
/// SBOM) that cannot be understood.
pub fn read_with(bytes: &[u8], options: &ReadOptions<'_>) -> Result<CycloneDxRead, CycloneDxError> {
    let value = jcs::parse(bytes).map_err(|source| CycloneDxError::Json { source })?;
    let canonical_id = value.canonical_sha256();
    let root = object(&value, "")?;
    let own = BomIndex::of(root)?;
    let sbom_value = match options.sbom {
        Some(b) => Some(jcs::parse(b).map_err(|source| CycloneDxError::SbomJson { source })?),
        None => None,
    };
    let sbom = match &sbom_value {
        Some(v) => Some(BomIndex::of(object(v, "")?)?),
        None => None,
    };
    let own_checks = PurlChecks::default();
    let mut reader = Reader {
        own,
        sbom,
        fallback: options.fallback_timestamp,
        warnings: Vec::new(),
        purls: options.purls.unwrap_or(&own_checks),
    };
    let document = reader.document(root, &canonical_id)?;
    Ok(CycloneDxRead {
        document,
        canonical_id,
        warnings: reader.warnings,
    })
}

/// The properties (`[{name, value}]`) of `obj` under [`PROPERTY_PREFIX`], by their short name.
fn stella_properties(
    obj: &Object<'_>,
    pointer: &str,
) -> Result<BTreeMap<String, String>, CycloneDxError> {
    let mut out = BTreeMap::new();
    let items = opt_array(obj, pointer, "properties")?;
    let pointer = child(pointer, "properties");
    for (i, item) in items.iter().enumerate() {
        let p = format!("{pointer}/{i}");
        let property = object(item, &p)?;
        if let (Some(name), Some(value)) = (
            opt_string(property, &p, "name")?,
            opt_string(property, &p, "value")?,
        ) && let Some(short) = name.strip_prefix(PROPERTY_PREFIX)
        {
            out.insert(short.to_owned(), value);
        }
    }
    Ok(out)
}

/// A component of a BOM as a product identity, with the bom-ref of the component it is nested in.
#[derive(Debug, Clone)]
struct IndexedComponent {
    identity: ProductIdentity,
    parent: Option<String>,
}

/// The components of one BOM by bom-ref.
#[derive(Debug, Default)]
struct BomIndex {
    /// The serial number's UUID (without `urn:uuid:`), lower-case.
    serial: Option<String>,
    version: u64,
    components: BTreeMap<String, IndexedComponent>,
    /// The bom-refs by their percent-decoded form (the smallest of those that decode alike).
    decoded: BTreeMap<String, String>,
}

impl BomIndex {
    fn of(root: &Object<'_>) -> Result<Self, CycloneDxError> {
        let serial = opt_string(root, "", "serialNumber")?.map(|s| {
            s.strip_prefix("urn:uuid:")
                .unwrap_or(&s)
                .to_ascii_lowercase()
        });
        let version = bom_version(root)?;
        let mut index = BomIndex {
            serial,
            version,
            components: BTreeMap::new(),
            decoded: BTreeMap::new(),
        };
        if let Some(metadata) = opt_object(root, "", "metadata")?
            && let Some(c) = metadata.get("component")
        {
            index.add(c, "/metadata/component", None)?;
        }
        // An explicit stack keeps a BOM nested deep from exhausting the thread's stack.
        let mut stack: Vec<(&Value<'_>, String, Option<String>)> = Vec::new();
        for (i, c) in opt_array(root, "", "components")?.iter().enumerate() {
            stack.push((c, format!("/components/{i}"), None));
        }
        while let Some((c, pointer, parent)) = stack.pop() {
            let own_ref = index.add(c, &pointer, parent)?;
            let obj = object(c, &pointer)?;
            for (i, nested) in opt_array(obj, &pointer, "components")?.iter().enumerate() {
                stack.push((nested, format!("{pointer}/components/{i}"), own_ref.clone()));
            }
            if index.components.len() > MAX_COMPONENTS {
                return Err(CycloneDxError::TooMany {
                    pointer: "/components".to_owned(),
                    count: index.components.len(),
                    limit: MAX_COMPONENTS,
                });
            }
        }
        Ok(index)
    }

    /// Indexes one component; returns its bom-ref.
    fn add(
        &mut self,
        value: &Value<'_>,
        pointer: &str,
        parent: Option<String>,
    ) -> Result<Option<String>, CycloneDxError> {
        let obj = object(value, pointer)?;
        let Some(bom_ref) = opt_string(obj, pointer, "bom-ref")? else {
            return Ok(None);
        };
        let properties = stella_properties(obj, pointer)?;
        // The identifier the writer kept beside a bom-ref it had to make unique or invent.
        let mut identity = match properties.get("id") {
            Some(id) => ProductIdentity::from_id(id),
            None if bom_ref.starts_with(NO_ID_REF_PREFIX) => ProductIdentity::default(),
            None => ProductIdentity::from_id(&bom_ref),
        };
        if let Some(purl) = opt_string(obj, pointer, "purl")? {
            identity.image_digest = ProductIdentity::image_digest_in(&purl);
            identity.purl = Some(purl);
        }
        if let Some(cpe) = opt_string(obj, pointer, "cpe")? {
            if cpe.starts_with("cpe:2.3:") {
                identity.cpe23 = Some(cpe);
            } else {
                identity.cpe22 = Some(cpe);
            }
        }
        for (i, h) in opt_array(obj, pointer, "hashes")?.iter().enumerate() {
            let p = format!("{pointer}/hashes/{i}");
            let h = object(h, &p)?;
            if let (Some(alg), Some(content)) =
                (opt_string(h, &p, "alg")?, opt_string(h, &p, "content")?)
                && let Some(algorithm) = hash_from_cyclonedx(&alg)
            {
                identity.hashes.insert(algorithm, content);
            }
        }
        if let Some(cpe22) = properties.get("cpe22") {
            identity.cpe22 = Some(cpe22.clone());
        }
        for (name, value) in &properties {
            if let Some(label) = name.strip_prefix("hash:")
                && let Some(algorithm) = HashAlgorithm::from_label(label)
            {
                identity.hashes.insert(algorithm, value.clone());
            }
        }
        if let Some(decoded) = percent_decode(&bom_ref) {
            self.decoded
                .entry(decoded)
                .and_modify(|k| {
                    if bom_ref < *k {
                        k.clone_from(&bom_ref);
                    }
                })
                .or_insert_with(|| bom_ref.clone());
        }
        self.components
            .insert(bom_ref.clone(), IndexedComponent { identity, parent });
        Ok(Some(bom_ref))
    }

    /// The component a bom-ref names, compared as written and percent-decoded.
    fn find(&self, reference: &str) -> Option<(&str, &IndexedComponent)> {
        if let Some((k, c)) = self.components.get_key_value(reference) {
            return Some((k, c));
        }
        let decoded = percent_decode(reference)?;
        if let Some((k, c)) = self.components.get_key_value(&decoded) {
            return Some((k, c));
        }
        // Looked up, not searched: a document with many refs and many components stays linear.
        let key = self.decoded.get(&decoded)?;
        self.components
            .get_key_value(key)
            .map(|(k, c)| (k.as_str(), c))
    }
}

fn bom_version(root: &Object<'_>) -> Result<u64, CycloneDxError> {
    match root.get("version") {
        None => Ok(1),
        Some(Value::Number(n))
            if n.fract() == 0.0 && *n >= 1.0 && *n <= 9.007_199_254_740_992e15 =>
        {
            Ok(*n as u64)
        }
        Some(_) => Err(CycloneDxError::WrongType {
            pointer: "/version".to_owned(),
            expected: "an integer of at least 1",
        }),
    }
}

/// A BOM-Link's parts: the serial's UUID (lower-case), the version, the fragment as written.
fn parse_bom_link(link: &str) -> Option<(String, u64, &str)> {
    let rest = link.strip_prefix("urn:cdx:")?;
    let (head, fragment) = rest.split_once('#')?;
    let (serial, version) = head.split_once('/')?;
    Some((serial.to_ascii_lowercase(), version.parse().ok()?, fragment))
}

struct Reader<'p> {
    own: BomIndex,
    sbom: Option<BomIndex>,
    fallback: Option<jiff::Timestamp>,
    warnings: Vec<CycloneDxWarning>,
    purls: &'p PurlChecks,
}

impl Reader<'_> {
    fn document(
        &mut self,
        root: &Object<'_>,
        canonical_id: &Digest,
    ) -> Result<VexDocument, CycloneDxError> {
        let format = opt_string(root, "", "bomFormat")?.unwrap_or_default();
        if format != "CycloneDX" {
            return Err(CycloneDxError::NotCycloneDx {
                pointer: "/bomFormat".to_owned(),
                found: format,
            });
        }
        let metadata = opt_object(root, "", "metadata")?;
        let (timestamp, author, properties) = match metadata {
            Some(m) => (
                time(m, "/metadata", "timestamp")?,
                author(m)?,
                stella_properties(m, "/metadata")?,
            ),
            None => (None, None, BTreeMap::new()),
        };
        let author = author.unwrap_or_else(|| "unknown".to_owned());
        let id = match (
            properties.get("document_id"),
            opt_string(root, "", "serialNumber")?,
        ) {
            (Some(id), _) => id.clone(),
            (None, Some(serial)) => serial,
            (None, None) => format!("urn:stella:cyclonedx:{}", canonical_id.hex()),
        };
        let items = opt_array(root, "", "vulnerabilities")?;
        if items.len() > MAX_VULNERABILITIES {
            return Err(CycloneDxError::TooMany {
                pointer: "/vulnerabilities".to_owned(),
                count: items.len(),
                limit: MAX_VULNERABILITIES,
            });
        }
        let mut statements = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("/vulnerabilities/{index}");
            let read = self.statement(
                item,
                &pointer,
                timestamp,
                Provenance {
                    document: canonical_id.clone(),
                    format: VexFormat::CycloneDx,
                    statement_index: 0,
                    author: author.clone(),
                },
            )?;
            // One vulnerability can give several statements (versions with their own status):
            // each is numbered in the document's statement list.
            for mut s in read {
                s.provenance.statement_index = statements.len();
                statements.push(s);
            }
        }
        Ok(VexDocument {
            id,
            author,
            role: properties.get("role").cloned(),
            timestamp,
            last_updated: None,
            version: self.own.version,
            tooling: properties.get("tooling").cloned(),
            statements,
        })
    }

    fn statement(
        &mut self,
        value: &Value<'_>,
        pointer: &str,
        document_time: Option<jiff::Timestamp>,
        provenance: Provenance,
    ) -> Result<Vec<VexStatement>, CycloneDxError> {
        let obj = object(value, pointer)?;
        let Some(analysis) = opt_object(obj, pointer, "analysis")? else {
            self.warnings.push(CycloneDxWarning::NoAnalysis {
                pointer: pointer.to_owned(),
            });
            return Ok(Vec::new());
        };
        let ap = child(pointer, "analysis");
        let Some(state) = opt_string(analysis, &ap, "state")? else {
            self.warnings.push(CycloneDxWarning::NoAnalysis {
                pointer: pointer.to_owned(),
            });
            return Ok(Vec::new());
        };
        let properties = stella_properties(obj, pointer)?;
        let name = opt_string(obj, pointer, "id")?.ok_or(CycloneDxError::MissingMember {
            pointer: pointer.to_owned(),
            member: "id",
        })?;
        let mut aliases = Vec::new();
        for (i, r) in opt_array(obj, pointer, "references")?.iter().enumerate() {
            let p = format!("{pointer}/references/{i}");
            if let Some(id) = opt_string(object(r, &p)?, &p, "id")? {
                aliases.push(id);
            }
        }
        let mut vulnerability = Vulnerability::new(name, aliases);
        vulnerability.description = opt_string(obj, pointer, "description")?;
        vulnerability.iri = properties.get("vulnerability_iri").cloned();

        let mut notes = Vec::new();
        let status = match state.as_str() {
            "exploitable" => Status::Affected,
            "resolved" => Status::Fixed,
            "resolved_with_pedigree" => {
                notes.push(format!("CycloneDX analysis state: {state}"));
                Status::Fixed
            }
            "in_triage" => Status::UnderInvestigation,
            "not_affected" | "false_positive" => Status::NotAffected,
            _ => {
                return Err(CycloneDxError::UnknownState {
                    pointer: child(&ap, "state"),
                    label: state,
                });
            }
        };
        let written = opt_string(analysis, &ap, "justification")?;
        if let Some(label) = written
            .as_ref()
            .filter(|l| !CYCLONEDX_JUSTIFICATIONS.contains(&l.as_str()))
        {
            self.warnings.push(CycloneDxWarning::UnknownJustification {
                pointer: child(&ap, "justification"),
                label: label.clone(),
            });
        }
        let mut justification = match (properties.get("justification"), &written) {
            (Some(label), _) => Some(Justification {
                kind: JustificationKind::from_openvex(label)
                    .or_else(|| written.as_deref().and_then(justification_from_cyclonedx))
                    .unwrap_or(JustificationKind::Other),
                label: label.clone(),
            }),
            (None, Some(label)) => Some(Justification {
                kind: justification_from_cyclonedx(label).unwrap_or(JustificationKind::Other),
                label: label.clone(),
            }),
            (None, None) => None,
        };
        if state == "false_positive" {
            if justification.is_none() {
                justification = Some(Justification {
                    kind: JustificationKind::Other,
                    label: state.clone(),
                });
            } else {
                notes.push(format!("CycloneDX analysis state: {state}"));
            }
        }
        let status_notes = match (properties.get("status_notes"), notes.is_empty()) {
            (Some(n), true) => Some(n.clone()),
            (Some(n), false) => Some(format!("{n}\n{}", notes.join("\n"))),
            (None, false) => Some(notes.join("\n")),
            (None, true) => None,
        };

        let mut responses = Vec::new();
        for (i, r) in opt_array(analysis, &ap, "response")?.iter().enumerate() {
            responses.push(
                r.as_str()
                    .ok_or_else(|| CycloneDxError::WrongType {
                        pointer: format!("{ap}/response/{i}"),
                        expected: "a string",
                    })?
                    .to_owned(),
            );
        }
        let recommendation = opt_string(obj, pointer, "recommendation")?;
        let action_statement = match (recommendation, responses.is_empty()) {
            (r, true) => r,
            (None, false) => Some(format!("Response: {}", responses.join(", "))),
            (Some(r), false) => Some(format!("{r}\nResponse: {}", responses.join(", "))),
        };

        let first_issued = time(analysis, &ap, "firstIssued")?;
        let last_updated = time(analysis, &ap, "lastUpdated")?;
        let timestamp = match first_issued.or(last_updated).or(document_time) {
            Some(t) => t,
            None => match self.fallback {
                Some(t) => {
                    self.warnings.push(CycloneDxWarning::TimestampFromFallback {
                        pointer: pointer.to_owned(),
                    });
                    t
                }
                None => {
                    return Err(CycloneDxError::NoTimestamp {
                        pointer: pointer.to_owned(),
                    });
                }
            },
        };

        // Products by the status they get: a version entry's own status may differ from the
        // analysis state (see the module docs). Each list keeps where each product is in it,
        // so that many refs stay linear.
        type Listed = (Status, Vec<Product>, BTreeMap<ProductIdentity, usize>);
        let mut by_status: Vec<Listed> = Vec::new();
        let mut add = |status: Status, product: Product| {
            let at = match by_status.iter().position(|(s, _, _)| *s == status) {
                Some(at) => at,
                None => {
                    by_status.push((status, Vec::new(), BTreeMap::new()));
                    by_status.len() - 1
                }
            };
            let (_, list, positions) = &mut by_status[at];
            match positions
                .get(&product.identity)
                .and_then(|&i| list.get_mut(i))
            {
                Some(q) => q.subcomponents.extend(product.subcomponents),
                None => {
                    positions.insert(product.identity.clone(), list.len());
                    list.push(product);
                }
            }
        };
        for (i, a) in opt_array(obj, pointer, "affects")?.iter().enumerate() {
            let p = format!("{pointer}/affects/{i}");
            let a = object(a, &p)?;
            let reference = opt_string(a, &p, "ref")?.ok_or(CycloneDxError::MissingMember {
                pointer: p.clone(),
                member: "ref",
            })?;
            let product = self.product(&reference, &child(&p, "ref"));
            for purl in std::iter::once(&product.identity)
                .chain(&product.subcomponents)
                .filter_map(|i| i.purl.as_deref())
                .filter(|purl| !self.purls.is_valid(purl))
            {
                self.warnings.push(CycloneDxWarning::MalformedPurl {
                    pointer: child(&p, "ref"),
                    purl: purl.to_owned(),
                });
            }
            let versions = opt_array(a, &p, "versions")?;
            if versions.is_empty() {
                add(status, product);
                continue;
            }
            for (k, v) in versions.iter().enumerate() {
                let vp = format!("{p}/versions/{k}");
                let v = object(v, &vp)?;
                let limit = match opt_string(v, &vp, "version")? {
                    Some(version) => version,
                    None => opt_string(v, &vp, "range")?.ok_or(CycloneDxError::MissingMember {
                        pointer: vp.clone(),
                        member: "version",
                    })?,
                };
                let version_status = match opt_string(v, &vp, "status")?.as_deref() {
                    None | Some("affected") => status,
                    Some("unaffected") => Status::NotAffected,
                    Some("unknown") => Status::UnderInvestigation,
                    Some(other) => {
                        return Err(CycloneDxError::UnknownVersionStatus {
                            pointer: child(&vp, "status"),
                            label: other.to_owned(),
                        });
                    }
                };
                let mut limited = product.clone();
                // The ref names the component the versions are of: the product itself, or
                // the subcomponent when the ref is a nested component.
                if limited.subcomponents.is_empty() {
                    limited.identity.version = Some(limit.clone());
                } else {
                    for sub in &mut limited.subcomponents {
                        sub.version = Some(limit.clone());
                    }
                }
                add(version_status, limited);
            }
        }
        for (_, products, _) in &mut by_status {
            for p in products.iter_mut() {
                p.subcomponents.sort();
                p.subcomponents.dedup();
            }
        }
        if by_status.is_empty() {
            by_status.push((status, Vec::new(), BTreeMap::new()));
        }

        let base = VexStatement {
            id: properties.get("statement_id").cloned(),
            version: properties
                .get("statement_version")
                .and_then(|v| v.parse().ok()),
            vulnerability,
            products: Vec::new(),
            status,
            justification,
            status_notes,
            impact_statement: opt_string(analysis, &ap, "detail")?,
            action_statement,
            action_statement_timestamp: properties
                .get("action_statement_timestamp")
                .and_then(|t| t.parse().ok()),
            supplier: properties.get("supplier").cloned(),
            timestamp,
            last_updated,
            provenance,
        };
        Ok(by_status
            .into_iter()
            .map(|(s, products, _)| {
                let mut statement = base.clone();
                statement.products = products;
                if s != status {
                    // Versions whose own status differs from the analysis: the analysis'
                    // reasons and actions are about the other versions.
                    statement.status = s;
                    statement.justification = None;
                    statement.action_statement = None;
                    statement.action_statement_timestamp = None;
                    statement.impact_statement = (s == Status::NotAffected).then(|| {
                        "CycloneDX lists these versions as unaffected (affects[].versions)."
                            .to_owned()
                    });
                }
                statement
            })
            .collect())
    }

    /// The product an `affects[].ref` names.
    fn product(&mut self, reference: &str, pointer: &str) -> Product {
        // A bom-ref of the document itself names its component even when it is shaped like a
        // BOM-Link (the writer nests a subcomponent named by a BOM-Link as `<link>#in-<digest>`).
        if self.own.components.contains_key(reference)
            && let Some(p) = resolve(&self.own, reference)
        {
            return p;
        }
        let Some((serial, version, fragment)) = parse_bom_link(reference) else {
            return match resolve(&self.own, reference) {
                Some(p) => p,
                None => {
                    self.warnings.push(CycloneDxWarning::UnresolvedRef {
                        pointer: pointer.to_owned(),
                        reference: reference.to_owned(),
                    });
                    Product {
                        identity: ProductIdentity::from_id(reference),
                        subcomponents: Vec::new(),
                    }
                }
            };
        };
        let link_only = || Product {
            identity: ProductIdentity::from_id(reference),
            subcomponents: Vec::new(),
        };
        let target = if self.own.serial.as_deref() == Some(serial.as_str()) {
            &self.own
        } else {
            match &self.sbom {
                Some(sbom) if sbom.serial.as_deref() == Some(serial.as_str()) => {
                    if sbom.version != version {
                        self.warnings
                            .push(CycloneDxWarning::BomLinkVersionMismatch {
                                pointer: pointer.to_owned(),
                                link: reference.to_owned(),
                                linked: version,
                                actual: sbom.version,
                            });
                    }
                    sbom
                }
                Some(_) => {
                    self.warnings.push(CycloneDxWarning::BomLinkToOtherSbom {
                        pointer: pointer.to_owned(),
                        link: reference.to_owned(),
                    });
                    return link_only();
                }
                None => return link_only(),
            }
        };
        match resolve(target, fragment) {
            Some(mut p) => {
                // The BOM-Link is how the document named it; the component's ids come beside it.
                let target_is_product = p.subcomponents.is_empty();
                let named = if target_is_product {
                    &mut p.identity
                } else {
                    match p.subcomponents.last_mut() {
                        Some(s) => s,
                        None => &mut p.identity,
                    }
                };
                named.id = Some(reference.to_owned());
                named.bom_link = Some(reference.to_owned());
                p
            }
            None => {
                self.warnings.push(CycloneDxWarning::UnresolvedBomLink {
                    pointer: pointer.to_owned(),
                    link: reference.to_owned(),
                });
                link_only()
            }
        }
    }
}

/// The product a bom-ref names in `index`: a nested component is a subcomponent of its parent.
fn resolve(index: &BomIndex, reference: &str) -> Option<Product> {
    let (_, component) = index.find(reference)?;
    let parent = component
        .parent
        .as_deref()
        .and_then(|p| index.components.get(p));
    Some(match parent {
        Some(parent) => Product {
            identity: parent.identity.clone(),
            subcomponents: vec![component.identity.clone()],
        },
        None => Product {
            identity: component.identity.clone(),
            subcomponents: Vec::new(),
        },
    })
}

/// The names of `metadata.authors`, else the manufacturer's, supplier's or component supplier's.
fn author(metadata: &Object<'_>) -> Result<Option<String>, CycloneDxError> {
    let mut names = Vec::new();
    for (i, a) in opt_array(metadata, "/metadata", "authors")?
        .iter()
        .enumerate()
    {
        let p = format!("/metadata/authors/{i}");
        if let Some(n) = opt_string(object(a, &p)?, &p, "name")? {
            names.push(n);
        }
    }
    if !names.is_empty() {
        return Ok(Some(names.join(", ")));
    }
    for member in ["manufacturer", "manufacture", "supplier"] {
        if let Some(o) = opt_object(metadata, "/metadata", member)?
            && let Some(n) = opt_string(o, &child("/metadata", member), "name")?
        {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

fn justification_from_cyclonedx(label: &str) -> Option<JustificationKind> {
    Some(match label {
        "code_not_present" => JustificationKind::VulnerableCodeNotPresent,
        "code_not_reachable" => JustificationKind::VulnerableCodeNotInExecutePath,
        "protected_by_compiler"
        | "protected_at_runtime"
        | "protected_at_perimeter"
        | "protected_by_mitigating_control" => JustificationKind::InlineMitigationsAlreadyExist,
        _ => return None,
    })
}

/// Every justification label CycloneDX 1.4–1.7 defines.
const CYCLONEDX_JUSTIFICATIONS: [&str; 9] = [
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];

/// The CycloneDX justification written for a model justification: its own label when that is a
/// CycloneDX one, else the mapped kind's.
fn justification_to_cyclonedx(j: &Justification) -> Option<&'static str> {
    if let Some(label) = CYCLONEDX_JUSTIFICATIONS.into_iter().find(|l| *l == j.label) {
        return Some(label);
    }
    match j.kind {
        JustificationKind::ComponentNotPresent | JustificationKind::VulnerableCodeNotPresent => {
            Some("code_not_present")
        }
        JustificationKind::VulnerableCodeNotInExecutePath => Some("code_not_reachable"),
        JustificationKind::InlineMitigationsAlreadyExist => Some("protected_by_mitigating_control"),
        JustificationKind::VulnerableCodeCannotBeControlledByAdversary
        | JustificationKind::Other => None,
    }
}

fn hash_from_cyclonedx(alg: &str) -> Option<HashAlgorithm> {
    HashAlgorithm::ALL
        .into_iter()
        .find(|a| hash_to_cyclonedx(*a) == Some(alg))
}

fn hash_to_cyclonedx(a: HashAlgorithm) -> Option<&'static str> {
    Some(match a {
        HashAlgorithm::Md5 => "MD5",
        HashAlgorithm::Sha1 => "SHA-1",
        HashAlgorithm::Sha256 => "SHA-256",
        HashAlgorithm::Sha384 => "SHA-384",
        HashAlgorithm::Sha512 => "SHA-512",
        HashAlgorithm::Sha3_256 => "SHA3-256",
        HashAlgorithm::Sha3_384 => "SHA3-384",
        HashAlgorithm::Sha3_512 => "SHA3-512",
        HashAlgorithm::Blake2b256 => "BLAKE2b-256",
        HashAlgorithm::Blake2b512 => "BLAKE2b-512",
        HashAlgorithm::Sha3_224 | HashAlgorithm::Blake2s256 => return None,
    })
}

/// The document as canonical standalone CycloneDX 1.7 VEX (RFC 8785 bytes).
///
/// # Errors
/// [`CycloneDxError::Canonical`] if a value cannot be canonical JSON (a version beyond 2^53).
pub fn write(document: &VexDocument) -> Result<Vec<u8>, CycloneDxError> {
    let mut metadata_properties = BTreeMap::new();
    let serial = if is_uuid_urn(&document.id) {
        document.id.to_ascii_lowercase()
    } else {
        metadata_properties.insert("document_id", document.id.clone());
        uuid_urn_of(&document.id)
    };
    if let Some(r) = &document.role {
        metadata_properties.insert("role", r.clone());
    }
    if let Some(t) = &document.tooling {
        metadata_properties.insert("tooling", t.clone());
    }
    let timestamp = document
        .timestamp
        .or_else(|| document.statements.iter().map(|s| s.timestamp).max());

    // Components: every product not named by a BOM-Link alone, subcomponents nested inside.
    // A version limit is not part of the component: it is written in `affects[].versions`.
    let mut products: BTreeMap<ProductIdentity, BTreeSet<ProductIdentity>> = BTreeMap::new();
    for p in document.statements.iter().flat_map(|s| &s.products) {
        if links_elsewhere(&p.identity, &serial) && p.subcomponents.is_empty() {
            continue;
        }
        products
            .entry(p.identity.unversioned())
            .or_default()
            .extend(p.subcomponents.iter().map(ProductIdentity::unversioned));
    }
    let refs = ComponentRefs::new(products.keys());
    let components_json = products
        .iter()
        .map(|(identity, subs)| {
            let bom_ref = refs.of(identity);
            let mut c = component_json(&bom_ref, identity, "application");
            if !subs.is_empty() {
                let nested = subs
                    .iter()
                    .map(|s| component_json(&nested_ref(&bom_ref, s), s, "library"))
                    .map(Json::Object)
                    .collect();
                c.insert(
                    "components".into(),
                    Json::Array(
                        sorted(nested).map_err(|source| CycloneDxError::Canonical { source })?,
                    ),
                );
            }
            Ok(Json::Object(c))
        })
        .collect::<Result<Vec<_>, CycloneDxError>>()?;

    let vulnerabilities = document
        .statements
        .iter()
        .map(|s| statement_json(s, &|p| standalone_refs(p, &refs, &serial)))
        .collect::<Vec<_>>();

    let mut root = Map::new();
    root.insert("bomFormat".into(), "CycloneDX".into());
    root.insert("specVersion".into(), SPEC_VERSION.into());
    root.insert("serialNumber".into(), serial.into());
    root.insert("version".into(), document.version.max(1).into());
    let mut metadata = Map::new();
    if let Some(t) = timestamp {
        metadata.insert("timestamp".into(), t.to_string().into());
    }
    let mut author = Map::new();
    author.insert("name".into(), document.author.clone().into());
    metadata.insert("authors".into(), Json::Array(vec![Json::Object(author)]));
    if !metadata_properties.is_empty() {
        metadata.insert(
            "properties".into(),
            properties_json(metadata_properties.into_iter()),
        );
    }
    root.insert("metadata".into(), Json::Object(metadata));
    if !components_json.is_empty() {
        root.insert(
            "components".into(),
            Json::Array(
                sorted(components_json).map_err(|source| CycloneDxError::Canonical { source })?,
            ),
        );
    }
    if !vulnerabilities.is_empty() {
        root.insert(
            "vulnerabilities".into(),
            Json::Array(
                sorted(vulnerabilities).map_err(|source| CycloneDxError::Canonical { source })?,
            ),
        );
    }
    jcs::to_canonical(&Json::Object(root)).map_err(|source| CycloneDxError::Canonical { source })
}

/// Whether `identity` is named by a BOM-Link into another BOM than the one written (serial
/// `serial`), so that the link alone names it (text that only starts like one is no link). A BOM-Link into the document itself (VEX that was
/// embedded in its SBOM) becomes a component, or the written document would point into itself
/// at a component it does not hold.
fn links_elsewhere(identity: &ProductIdentity, serial: &str) -> bool {
    identity
        .bom_link
        .as_deref()
        .and_then(parse_bom_link)
        .is_some_and(|(linked, _, _)| serial.strip_prefix("urn:uuid:") != Some(linked.as_str()))
}

/// A statement as a CycloneDX vulnerability; `affects` gives the refs a product is written as,
/// each with its version limit.
fn statement_json(s: &VexStatement, affects: &dyn Fn(&Product) -> Vec<Affected>) -> Json {
    let mut v = Map::new();
    v.insert("id".into(), s.vulnerability.name.clone().into());
    if !s.vulnerability.aliases.is_empty() {
        let refs = s
            .vulnerability
            .aliases
            .iter()
            .map(|a| {
                let mut r = Map::new();
                r.insert("id".into(), a.clone().into());
                r.insert("source".into(), Json::Object(Map::new()));
                Json::Object(r)
            })
            .collect();
        v.insert("references".into(), Json::Array(refs));
    }
    put(&mut v, "description", s.vulnerability.description.clone());
    put(&mut v, "recommendation", s.action_statement.clone());

    let mut properties: BTreeMap<&str, String> = BTreeMap::new();
    let mut analysis = Map::new();
    let state = match s.status {
        Status::Affected => "exploitable",
        Status::Fixed => "resolved",
        Status::UnderInvestigation => "in_triage",
        Status::NotAffected => match &s.justification {
            Some(j) if j.label == "false_positive" => "false_positive",
            _ => "not_affected",
        },
    };
    analysis.insert("state".into(), state.into());
    if let Some(j) = &s.justification {
        let written = justification_to_cyclonedx(j);
        if let Some(label) = written {
            analysis.insert("justification".into(), label.into());
        }
        if written != Some(j.label.as_str()) && state != "false_positive" {
            properties.insert("justification", j.label.clone());
        }
    }
    put(&mut analysis, "detail", s.impact_statement.clone());
    analysis.insert("firstIssued".into(), s.timestamp.to_string().into());
    put(
        &mut analysis,
        "lastUpdated",
        s.last_updated.map(|t| t.to_string()),
    );
    v.insert("analysis".into(), Json::Object(analysis));

    // Refs in order, each with the version limits it is affected in (`None`: all versions).
    let mut refs: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
    for (r, version) in s.products.iter().flat_map(affects) {
        refs.entry(r).or_default().insert(version);
    }
    if !refs.is_empty() {
        let affects = refs
            .into_iter()
            .map(|(r, versions)| {
                let mut a = Map::new();
                a.insert("ref".into(), r.into());
                // A ref named without a limit is affected in every version: limits add nothing.
                if !versions.contains(&None) {
                    let list = versions
                        .into_iter()
                        .flatten()
                        .map(|v| {
                            let mut e = Map::new();
                            let key = if v.starts_with("vers:") {
                                "range"
                            } else {
                                "version"
                            };
                            e.insert(key.into(), v.into());
                            e.insert("status".into(), version_status(s.status).into());
                            Json::Object(e)
                        })
                        .collect();
                    a.insert("versions".into(), Json::Array(list));
                }
                Json::Object(a)
            })
            .collect();
        v.insert("affects".into(), Json::Array(affects));
    }

    if let Some(id) = &s.id {
        properties.insert("statement_id", id.clone());
    }
    if let Some(version) = s.version {
        properties.insert("statement_version", version.to_string());
    }
    if let Some(n) = &s.status_notes {
        properties.insert("status_notes", n.clone());
    }
    if let Some(t) = s.action_statement_timestamp {
        properties.insert("action_statement_timestamp", t.to_string());
    }
    if let Some(supplier) = &s.supplier {
        properties.insert("supplier", supplier.clone());
    }
    if let Some(iri) = &s.vulnerability.iri {
        properties.insert("vulnerability_iri", iri.clone());
    }
    if !properties.is_empty() {
        v.insert("properties".into(), properties_json(properties.into_iter()));
    }
    Json::Object(v)
}

/// The refs a product is written as in standalone VEX: its BOM-Link, or its component (with
/// subcomponents, each nested component).
fn standalone_refs(p: &Product, component_refs: &ComponentRefs, serial: &str) -> Vec<Affected> {
    if p.subcomponents.is_empty() {
        vec![(
            match &p.identity.bom_link {
                Some(link) if links_elsewhere(&p.identity, serial) => link.clone(),
                _ => component_refs.of(&p.identity.unversioned()),
            },
            p.identity.version.clone(),
        )]
    } else {
        let parent = component_refs.of(&p.identity.unversioned());
        p.subcomponents
            .iter()
            .map(|sub| (nested_ref(&parent, &sub.unversioned()), sub.version.clone()))
            .collect()
    }
}

/// A ref a statement affects, and the version limit it is affected in (none: every version).
type Affected = (String, Option<String>);

/// The version status a statement's status is written as in `affects[].versions`, read back
/// to the same status (see the module docs).
fn version_status(status: Status) -> &'static str {
    match status {
        Status::NotAffected => "unaffected",
        Status::UnderInvestigation => "unknown",
        Status::Affected | Status::Fixed => "affected",
    }
}

fn properties_json<'k>(properties: impl Iterator<Item = (&'k str, String)>) -> Json {
    Json::Array(
        properties
            .map(|(name, value)| {
                let mut p = Map::new();
                p.insert("name".into(), format!("{PROPERTY_PREFIX}{name}").into());
                p.insert("value".into(), value.into());
                Json::Object(p)
            })
            .collect(),
    )
}

/// The bom-refs of the products written as components. A product is written under its
/// identifier; when several products share one identifier but differ in what else names them
/// (a hash in one statement, none in another), each gets the identifier and a digest of the rest,
/// since bom-refs are unique in a BOM.
struct ComponentRefs {
    shared: BTreeSet<String>,
}

impl ComponentRefs {
    fn new<'a>(identities: impl Iterator<Item = &'a ProductIdentity>) -> Self {
        let mut seen = BTreeSet::new();
        let mut shared = BTreeSet::new();
        for identity in identities {
            let base = bom_ref_of(identity);
            if !seen.insert(base.clone()) {
                shared.insert(base);
            }
        }
        ComponentRefs { shared }
    }

    fn of(&self, identity: &ProductIdentity) -> String {
        let base = bom_ref_of(identity);
        if self.shared.contains(&base) {
            let digest = Digest::sha256(identity_key(identity).as_bytes());
            format!("{base}#{}", digest.hex().get(..16).unwrap_or_default())
        } else {
            base
        }
    }
}

/// The bom-ref a product is written under when no other product shares it: its identifier,
/// else a name derived from what identifies it (marked so that reading it back leaves the
/// identifier empty).
fn bom_ref_of(identity: &ProductIdentity) -> String {
    match &identity.id {
        Some(id) => id.clone(),
        None => format!(
            "{NO_ID_REF_PREFIX}{}",
            Digest::sha256(identity_key(identity).as_bytes()).hex()
        ),
    }
}

/// Everything that names a product, as one string.
fn identity_key(identity: &ProductIdentity) -> String {
    let mut key = String::new();
    if let Some(id) = &identity.id {
        key.push_str(id);
        key.push('|');
    }
    for part in [&identity.purl, &identity.cpe23, &identity.cpe22]
        .into_iter()
        .flatten()
    {
        key.push_str(part);
        key.push('|');
    }
    for (a, h) in &identity.hashes {
        key.push_str(a.label());
        key.push(':');
        key.push_str(h);
        key.push('|');
    }
    key
}

/// The bom-ref of a subcomponent nested in `parent` (bom-refs are unique in a BOM, and one
/// subcomponent can sit in several products).
fn nested_ref(parent: &str, sub: &ProductIdentity) -> String {
    let own = bom_ref_of(sub);
    let digest = Digest::sha256(format!("{parent}\n{own}").as_bytes());
    match &sub.id {
        Some(_) => format!("{own}#in-{}", digest.hex().get(..16).unwrap_or_default()),
        None => format!("{NO_ID_REF_PREFIX}{}", digest.hex()),
    }
}

fn component_json(bom_ref: &str, identity: &ProductIdentity, kind: &str) -> Map<String, Json> {
    let mut c = Map::new();
    c.insert("type".into(), kind.into());
    c.insert("bom-ref".into(), bom_ref.into());
    let name = identity
        .id
        .clone()
        .or_else(|| identity.purl.clone())
        .or_else(|| identity.cpe23.clone())
        .or_else(|| identity.cpe22.clone())
        .unwrap_or_else(|| bom_ref.to_owned());
    c.insert("name".into(), name.into());
    put(&mut c, "purl", identity.purl.clone());
    let mut properties: BTreeMap<String, String> = BTreeMap::new();
    if let Some(id) = identity.id.as_ref().filter(|id| *id != bom_ref) {
        properties.insert("id".into(), id.clone());
    }
    match (&identity.cpe23, &identity.cpe22) {
        (Some(c23), c22) => {
            c.insert("cpe".into(), c23.clone().into());
            if let Some(c22) = c22 {
                properties.insert("cpe22".into(), c22.clone());
            }
        }
        (None, Some(c22)) => {
            c.insert("cpe".into(), c22.clone().into());
        }
        (None, None) => {}
    }
    let mut hashes = Vec::new();
    for (a, h) in &identity.hashes {
        match hash_to_cyclonedx(*a).filter(|_| is_cyclonedx_hash(h)) {
            Some(alg) => {
                let mut m = Map::new();
                m.insert("alg".into(), alg.into());
                m.insert("content".into(), h.clone().into());
                hashes.push(Json::Object(m));
            }
            None => {
                properties.insert(format!("hash:{}", a.label()), h.clone());
            }
        }
    }
    if !hashes.is_empty() {
        c.insert("hashes".into(), Json::Array(hashes));
    }
    if !properties.is_empty() {
        c.insert(
            "properties".into(),
            properties_json(properties.iter().map(|(k, v)| (k.as_str(), v.clone()))),
        );
    }
    c
}

/// Whether the schema's hash-content pattern accepts `h` (hex of 32, 40, 64, 96 or 128 digits).
fn is_cyclonedx_hash(h: &str) -> bool {
    matches!(h.len(), 32 | 40 | 64 | 96 | 128) && h.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid_urn(id: &str) -> bool {
    let Some(uuid) = id.strip_prefix("urn:uuid:") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A name-based UUID (version 8) from `sha256(id)`, so the same document id always gives the
/// same serial number.
fn uuid_urn_of(id: &str) -> String {
    let digest = Digest::sha256(id.as_bytes());
    let hex = digest.hex();
    let h = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default();
    format!(
        "urn:uuid:{}-{}-8{}-{}{}-{}",
        h(0..8),
        h(8..12),
        h(13..16),
        // The variant bits 10xx: one of 8, 9, a, b.
        ["8", "9", "a", "b"][usize::from(hex.as_bytes().get(16).copied().unwrap_or(0) % 4)],
        h(17..20),
        h(20..32)
    )
}
