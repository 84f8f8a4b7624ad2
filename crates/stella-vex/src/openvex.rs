//! OpenVEX (<https://github.com/openvex/spec>): reading 0.2.0 and the 0.0.1 shapes that still
//! circulate into the canonical model, and writing canonical 0.2.0.
//!
//! **Reading** ([`read`]) takes the bytes through Stella's strict I-JSON reader (so the
//! document's `canonical_id` is the one every Stella tool derives, and a trailing comma, a
//! duplicate key or a document past [`stella_core::jcs::MAX_DOCUMENT_BYTES`] is an error naming
//! where). It accepts, besides 0.2.0:
//! - 0.0.1's string `vulnerability` (`"CVE-2023-1234"` instead of `{"name": …}`), string
//!   products and statement-level string `subcomponents` (applied to every product), and a
//!   string `version` (`"1"`);
//! - timestamps without an offset (govulncheck writes `2024-01-01T00:00:00`), read as UTC with
//!   a [`OpenVexWarning::TimestampWithoutOffset`].
//!
//! A statement's `timestamp` and `last_updated` inherit the document's when absent (spec
//! §"Inheritance"); a statement left with no time at all is [`OpenVexError::NoTimestamp`]
//! naming its JSON pointer. Rules of the spec the document breaks but that do not stop it being
//! understood (an `affected` statement without `action_statement`, a `not_affected` one with
//! neither justification nor impact statement, a justification label outside the spec's five)
//! are [`OpenVexWarning`]s naming the rule and the pointer. So are two statements with one
//! `@id` ([`OpenVexWarning::DuplicateStatementId`]: the spec makes `@id` an identifier, but both
//! statements still say something, so both are kept and the merge decides between them) and a
//! product whose purl (an `@id` starting `pkg:`, or `identifiers.purl`) does not parse as a
//! package URL ([`OpenVexWarning::MalformedPurl`]: the product is kept with the text as its
//! purl, which [`crate::matching`] then compares only as exact text).
//!
//! **Writing** ([`write()`]) produces RFC 8785 canonical JSON that passes the OpenVEX 0.2.0 JSON
//! schema: aliases, products, subcomponents and statements sorted by their canonical bytes, every
//! statement with its own timestamp, the document's timestamp the given one or else the latest
//! statement's (never the wall clock). Where the model holds something the schema has no place
//! for, nothing is dropped silently: a justification label with no OpenVEX counterpart goes to
//! `status_notes` (and is the `impact_statement` when there is none); an `affected` statement
//! without an action statement, or a `not_affected` one with no reason, gets a sentence saying the
//! source gave none, because the schema requires one.
//!
//! What this module does not own: matching, merging, or any other format.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;

use rayon::prelude::*;

use stella_core::jcs::{self, Object, Value};
use stella_core::{Digest, ErrorKind, Kinded};

use crate::json::{self, array, child, object, opt_string, percent_decode, string as req_string};
use crate::matching::PurlChecks;
use crate::model::{
    HashAlgorithm, Justification, JustificationKind, Product, ProductIdentity, Provenance, Status,
    VexDocument, VexFormat, VexStatement, Vulnerability,
};

/// The `@context` of the version Stella writes.
pub const CONTEXT_V0_2_0: &str = "https://openvex.dev/ns/v0.2.0";

/// Most statements accepted in one document. A million statements is the largest merge input the
/// project measures; one document holding more is refused before the model grows.
pub const MAX_STATEMENTS: usize = 1_000_000;

/// What the writer puts where the schema needs an action statement the source did not give.
pub const NO_ACTION_STATEMENT: &str = "The source document gave no action statement.";

/// What the writer puts where the schema needs a reason for `not_affected` the source did not give.
pub const NO_IMPACT_STATEMENT: &str =
    "The source document gave neither a justification nor an impact statement.";

/// Why an OpenVEX document could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenVexError {
    /// The bytes are not I-JSON.
    #[error("not a JSON document Stella accepts: {source}")]
    Json {
        /// The reader's error, with pointer and byte offset.
        #[source]
        source: jcs::JcsError,
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
    /// A status outside OpenVEX's four.
    #[error(
        "{pointer}: unknown status {label:?} (OpenVEX knows not_affected, affected, fixed, under_investigation)"
    )]
    UnknownStatus {
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
    /// A statement with no timestamp of its own and none in the document to inherit.
    #[error(
        "{pointer}: the statement has no timestamp and the document none to inherit (OpenVEX requires one)"
    )]
    NoTimestamp {
        /// JSON pointer of the statement.
        pointer: String,
    },
    /// A version that is not an integer ≥ 1.
    #[error("{pointer}: version {found} is not an integer of at least 1")]
    BadVersion {
        /// JSON pointer of the version.
        pointer: String,
        /// The value as written.
        found: String,
    },
    /// A product or subcomponent with neither `@id`, identifiers nor hashes.
    #[error("{pointer}: the product names nothing (no @id, identifiers or hashes)")]
    UnnamedProduct {
        /// JSON pointer of the product.
        pointer: String,
    },
    /// More statements than [`MAX_STATEMENTS`].
    #[error("the document holds {count} statements, more than the limit of {limit}")]
    TooManyStatements {
        /// Statements in the document.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A document without statements cannot be written: the schema requires at least one.
    #[error("an OpenVEX document needs at least one statement")]
    NoStatements,
    /// The written document could not be canonicalised.
    #[error("the written document is not canonical JSON: {source}")]
    Canonical {
        /// Why.
        #[source]
        source: jcs::JcsError,
    },
}

json::from_shape!(OpenVexError);

impl Kinded for OpenVexError {
    fn kind(&self) -> ErrorKind {
        match self {
            OpenVexError::Json {
                source: jcs::JcsError::TooLarge { .. },
            }
            | OpenVexError::Json {
                source: jcs::JcsError::TooDeep { .. },
            }
            | OpenVexError::TooManyStatements { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::Invalid,
        }
    }
}

/// A rule of the OpenVEX spec the document breaks while still being readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenVexWarning {
    /// A timestamp without an offset, read as UTC.
    #[error("{pointer}: timestamp {text:?} has no offset (RFC 3339 requires one); read as UTC")]
    TimestampWithoutOffset {
        /// JSON pointer of the timestamp.
        pointer: String,
        /// The text as written.
        text: String,
    },
    /// `affected` without the `action_statement` the spec requires.
    #[error("{pointer}: status affected without the action_statement OpenVEX requires")]
    AffectedWithoutActionStatement {
        /// JSON pointer of the statement.
        pointer: String,
    },
    /// `not_affected` with neither justification nor impact statement.
    #[error(
        "{pointer}: status not_affected with neither the justification nor the impact_statement OpenVEX requires"
    )]
    NotAffectedWithoutReason {
        /// JSON pointer of the statement.
        pointer: String,
    },
    /// An `@id` that is not an absolute IRI, as the spec requires (govulncheck writes
    /// `Unknown Product`); kept as written.
    #[error("{pointer}: {id:?} is not an absolute IRI (OpenVEX @id must be one); kept as written")]
    IdNotIri {
        /// JSON pointer of the `@id` (or 0.0.1 product string).
        pointer: String,
        /// The text as written.
        id: String,
    },
    /// A justification label outside the spec's five, kept as written.
    #[error("{pointer}: justification {label:?} is not one of OpenVEX's five; kept as written")]
    UnknownJustification {
        /// JSON pointer of the justification.
        pointer: String,
        /// The label as written.
        label: String,
    },
    /// A statement `@id` an earlier statement already has; both statements are kept.
    #[error("{pointer}: statement @id {id:?} is also the @id of {first}; both statements kept")]
    DuplicateStatementId {
        /// JSON pointer of the later `@id`.
        pointer: String,
        /// The `@id` as read.
        id: String,
        /// JSON pointer of the first statement with it.
        first: String,
    },
    /// A purl that does not parse as a package URL, kept as written (it then matches only
    /// by its exact text).
    #[error("{pointer}: {purl:?} is not a valid package URL; kept as written")]
    MalformedPurl {
        /// JSON pointer of the purl (an `@id` or `identifiers/purl`).
        pointer: String,
        /// The text as written.
        purl: String,
    },
}

impl OpenVexWarning {
    /// A stable name of the rule broken, for machine output.
    pub fn rule(&self) -> &'static str {
        match self {
            OpenVexWarning::TimestampWithoutOffset { .. } => "timestamp-without-offset",
            OpenVexWarning::AffectedWithoutActionStatement { .. } => {
                "affected-without-action-statement"
            }
            OpenVexWarning::NotAffectedWithoutReason { .. } => "not-affected-without-reason",
            OpenVexWarning::UnknownJustification { .. } => "unknown-justification",
            OpenVexWarning::IdNotIri { .. } => "id-not-iri",
            OpenVexWarning::DuplicateStatementId { .. } => "duplicate-statement-id",
            OpenVexWarning::MalformedPurl { .. } => "malformed-purl",
        }
    }

    /// JSON pointer of what breaks the rule.
    pub fn pointer(&self) -> &str {
        match self {
            OpenVexWarning::TimestampWithoutOffset { pointer, .. }
            | OpenVexWarning::AffectedWithoutActionStatement { pointer }
            | OpenVexWarning::NotAffectedWithoutReason { pointer }
            | OpenVexWarning::UnknownJustification { pointer, .. }
            | OpenVexWarning::IdNotIri { pointer, .. }
            | OpenVexWarning::DuplicateStatementId { pointer, .. }
            | OpenVexWarning::MalformedPurl { pointer, .. } => pointer,
        }
    }
}

/// A document read, with its canonical id and the rules it breaks.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenVexRead {
    /// The document in the canonical model.
    pub document: VexDocument,
    /// `sha256(JCS(bytes))`.
    pub canonical_id: Digest,
    /// Rules broken that did not stop reading, in document order.
    pub warnings: Vec<OpenVexWarning>,
}

/// Reads an OpenVEX document (0.2.0 or the 0.0.1 shapes).
///
/// # Errors
/// [`OpenVexError`] naming the JSON pointer of the first member that cannot be understood.
pub fn read(bytes: &[u8]) -> Result<OpenVexRead, OpenVexError> {
    read_with(bytes, &PurlChecks::default())
}

/// [`read`], checking purls through `purls`, which the readers of other documents share.
///
/// # Errors
/// As [`read`].
pub fn read_with(bytes: &[u8], purls: &PurlChecks) -> Result<OpenVexRead, OpenVexError> {
    let value = jcs::parse(bytes).map_err(|source| OpenVexError::Json { source })?;
    let canonical_id = value.canonical_sha256();
    let mut reader = Reader {
        warnings: Vec::new(),
        purls,
    };
    let document = reader.document(&value, &canonical_id)?;
    Ok(OpenVexRead {
        document,
        canonical_id,
        warnings: reader.warnings,
    })
}

struct Reader<'p> {
    warnings: Vec<OpenVexWarning>,
    purls: &'p PurlChecks,
}

impl Reader<'_> {
    fn document(
        &mut self,
        value: &Value<'_>,
        canonical_id: &Digest,
    ) -> Result<VexDocument, OpenVexError> {
        let root = object(value, "")?;
        let id =
            id_member(root, "", "@id", &mut self.warnings)?.ok_or(OpenVexError::MissingMember {
                pointer: String::new(),
                member: "@id",
            })?;
        let author = req_string(root, "", "author")?;
        let timestamp = self.time(root, "", "timestamp")?;
        let last_updated = self.time(root, "", "last_updated")?;
        let version = version(root, "")?.ok_or(OpenVexError::MissingMember {
            pointer: String::new(),
            member: "version",
        })?;
        let items = match root.get("statements") {
            Some(v) => array(v, "/statements")?,
            None => {
                return Err(OpenVexError::MissingMember {
                    pointer: String::new(),
                    member: "statements",
                });
            }
        };
        if items.len() > MAX_STATEMENTS {
            return Err(OpenVexError::TooManyStatements {
                count: items.len(),
                limit: MAX_STATEMENTS,
            });
        }
        let mut statements: Vec<VexStatement> = Vec::with_capacity(items.len());
        // Statement `@id`s seen, with the index of the first statement that has each.
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            let context = Inherited {
                timestamp,
                last_updated,
                provenance: Provenance {
                    document: canonical_id.clone(),
                    format: VexFormat::OpenVex,
                    statement_index: index,
                    author: author.clone(),
                },
            };
            let pointer = json::item("/statements", index);
            let statement = self.statement(item, &pointer, context)?;
            if let Some(id) = &statement.id {
                match ids.entry(id.clone()) {
                    Entry::Occupied(first) => {
                        self.warnings.push(OpenVexWarning::DuplicateStatementId {
                            pointer: child(&pointer, "@id"),
                            id: id.clone(),
                            first: format!("/statements/{}", first.get()),
                        });
                    }
                    Entry::Vacant(e) => {
                        e.insert(index);
                    }
                }
            }
            statements.push(statement);
        }
        Ok(VexDocument {
            id,
            role: opt_string(root, "", "role")?,
            tooling: opt_string(root, "", "tooling")?,
            author,
            timestamp,
            last_updated,
            version,
            statements,
        })
    }

    fn statement(
        &mut self,
        value: &Value<'_>,
        pointer: &str,
        inherited: Inherited,
    ) -> Result<VexStatement, OpenVexError> {
        let obj = object(value, pointer)?;
        let vulnerability = match obj.get("vulnerability") {
            None => {
                return Err(OpenVexError::MissingMember {
                    pointer: pointer.to_owned(),
                    member: "vulnerability",
                });
            }
            Some(v) => vulnerability(v, &child(pointer, "vulnerability"), &mut self.warnings)?,
        };
        let status_label = req_string(obj, pointer, "status")?;
        let status =
            Status::from_openvex(&status_label).ok_or_else(|| OpenVexError::UnknownStatus {
                pointer: child(pointer, "status"),
                label: status_label.clone(),
            })?;
        let justification = opt_string(obj, pointer, "justification")?.map(|label| {
            let justification = Justification::from_openvex(&label);
            if justification.kind == JustificationKind::Other {
                self.warnings.push(OpenVexWarning::UnknownJustification {
                    pointer: child(pointer, "justification"),
                    label,
                });
            }
            justification
        });
        let timestamp = match self.time(obj, pointer, "timestamp")? {
            Some(t) => t,
            None => inherited
                .timestamp
                .ok_or_else(|| OpenVexError::NoTimestamp {
                    pointer: pointer.to_owned(),
                })?,
        };
        let last_updated = self
            .time(obj, pointer, "last_updated")?
            .or(inherited.last_updated);
        let impact_statement = opt_string(obj, pointer, "impact_statement")?;
        let action_statement = opt_string(obj, pointer, "action_statement")?;
        match status {
            Status::Affected if action_statement.is_none() => {
                self.warnings
                    .push(OpenVexWarning::AffectedWithoutActionStatement {
                        pointer: pointer.to_owned(),
                    });
            }
            Status::NotAffected if justification.is_none() && impact_statement.is_none() => {
                self.warnings
                    .push(OpenVexWarning::NotAffectedWithoutReason {
                        pointer: pointer.to_owned(),
                    });
            }
            _ => {}
        }
        Ok(VexStatement {
            id: id_member(obj, pointer, "@id", &mut self.warnings)?,
            version: version(obj, pointer)?,
            vulnerability,
            products: products(obj, pointer, &mut self.warnings, self.purls)?,
            status,
            justification,
            status_notes: opt_string(obj, pointer, "status_notes")?,
            impact_statement,
            action_statement,
            action_statement_timestamp: self.time(obj, pointer, "action_statement_timestamp")?,
            supplier: opt_string(obj, pointer, "supplier")?,
            timestamp,
            last_updated,
            provenance: inherited.provenance,
        })
    }

    /// The timestamp member `name` of `obj`: RFC 3339, or (with a warning) a date-time without
    /// offset, read as UTC.
    fn time(
        &mut self,
        obj: &Object<'_>,
        pointer: &str,
        name: &str,
    ) -> Result<Option<jiff::Timestamp>, OpenVexError> {
        let Some(text) = opt_string(obj, pointer, name)? else {
            return Ok(None);
        };
        match text.parse::<jiff::Timestamp>() {
            Ok(t) => Ok(Some(t)),
            Err(source) => {
                let pointer = child(pointer, name);
                let civil = text
                    .contains('T')
                    .then(|| text.parse::<jiff::civil::DateTime>().ok())
                    .flatten()
                    .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok());
                match civil {
                    Some(t) => {
                        self.warnings
                            .push(OpenVexWarning::TimestampWithoutOffset { pointer, text });
                        Ok(Some(t))
                    }
                    None => Err(OpenVexError::BadTimestamp {
                        pointer,
                        source: stella_core::time::TimeError { text, source },
                    }),
                }
            }
        }
    }
}

/// What a statement inherits from its document.
struct Inherited {
    timestamp: Option<jiff::Timestamp>,
    last_updated: Option<jiff::Timestamp>,
    provenance: Provenance,
}

/// `version`: an integer ≥ 1, or (0.0.1) a string holding one.
fn version(obj: &Object<'_>, pointer: &str) -> Result<Option<u64>, OpenVexError> {
    let bad = |found: String| OpenVexError::BadVersion {
        pointer: child(pointer, "version"),
        found,
    };
    match obj.get("version") {
        None => Ok(None),
        Some(Value::Number(n)) => {
            // Integers within ±2^53 are exact in a double; anything else is refused.
            if n.fract() == 0.0 && *n >= 1.0 && *n <= jcs::MAX_EXACT_INTEGER as f64 {
                Ok(Some(*n as u64))
            } else {
                Err(bad(n.to_string()))
            }
        }
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(v) if v >= 1 => Ok(Some(v)),
            _ => Err(bad(format!("{s:?}"))),
        },
        Some(_) => Err(OpenVexError::WrongType {
            pointer: child(pointer, "version"),
            expected: "an integer",
        }),
    }
}

/// `vulnerability`: an object with `name` (0.2.0) or a bare id (0.0.1).
fn vulnerability(
    value: &Value<'_>,
    pointer: &str,
    warnings: &mut Vec<OpenVexWarning>,
) -> Result<Vulnerability, OpenVexError> {
    if let Some(name) = value.as_str() {
        return Ok(Vulnerability::new(name, []));
    }
    let obj = object(value, pointer)?;
    let name = req_string(obj, pointer, "name")?;
    let aliases = match obj.get("aliases") {
        None => Vec::new(),
        Some(v) => strings(v, &child(pointer, "aliases"))?,
    };
    let mut vulnerability = Vulnerability::new(name, aliases);
    vulnerability.iri = id_member(obj, pointer, "@id", warnings)?;
    vulnerability.description = opt_string(obj, pointer, "description")?;
    Ok(vulnerability)
}

fn strings(value: &Value<'_>, pointer: &str) -> Result<Vec<String>, OpenVexError> {
    array(value, pointer)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| OpenVexError::WrongType {
                    pointer: format!("{pointer}/{i}"),
                    expected: "a string",
                })
        })
        .collect()
}

/// `products`, and 0.0.1's statement-level `subcomponents`, which apply to every product.
fn products(
    obj: &Object<'_>,
    pointer: &str,
    warnings: &mut Vec<OpenVexWarning>,
    purls: &PurlChecks,
) -> Result<Vec<Product>, OpenVexError> {
    let mut products = Vec::new();
    if let Some(v) = obj.get("products") {
        let pointer = child(pointer, "products");
        for (i, item) in array(v, &pointer)?.iter().enumerate() {
            products.push(product(item, &json::item(&pointer, i), warnings, purls)?);
        }
    }
    if let Some(v) = obj.get("subcomponents") {
        let pointer = child(pointer, "subcomponents");
        let mut shared = Vec::new();
        for (i, item) in array(v, &pointer)?.iter().enumerate() {
            shared.push(identity(item, &json::item(&pointer, i), warnings, purls)?);
        }
        for product in &mut products {
            product.subcomponents.extend(shared.iter().cloned());
        }
    }
    Ok(products)
}

fn product(
    value: &Value<'_>,
    pointer: &str,
    warnings: &mut Vec<OpenVexWarning>,
    purls: &PurlChecks,
) -> Result<Product, OpenVexError> {
    let own = identity(value, pointer, warnings, purls)?;
    let mut subcomponents = Vec::new();
    if let Some(obj) = value.as_object()
        && let Some(v) = obj.get("subcomponents")
    {
        let pointer = child(pointer, "subcomponents");
        for (i, item) in array(v, &pointer)?.iter().enumerate() {
            subcomponents.push(identity(item, &json::item(&pointer, i), warnings, purls)?);
        }
    }
    Ok(Product {
        identity: own,
        subcomponents,
    })
}

/// A component: a string (0.0.1) or an object with `@id`, `identifiers`, `hashes`.
fn identity(
    value: &Value<'_>,
    pointer: &str,
    warnings: &mut Vec<OpenVexWarning>,
    purls: &PurlChecks,
) -> Result<ProductIdentity, OpenVexError> {
    if let Some(id) = value.as_str() {
        let identity = ProductIdentity::from_owned_id(id_text(id, || pointer.to_owned(), warnings));
        check_purl(
            identity.purl.as_deref(),
            || pointer.to_owned(),
            warnings,
            purls,
        );
        return Ok(identity);
    }
    let obj = object(value, pointer)?;
    let mut identity = match id_member(obj, pointer, "@id", warnings)? {
        Some(id) => ProductIdentity::from_owned_id(id),
        None => ProductIdentity::default(),
    };
    check_purl(
        identity.purl.as_deref(),
        || child(pointer, "@id"),
        warnings,
        purls,
    );
    if let Some(v) = obj.get("identifiers") {
        let p = child(pointer, "identifiers");
        let ids = object(v, &p)?;
        if let Some(purl) = opt_string(ids, &p, "purl")? {
            if identity.purl.as_ref() != Some(&purl) {
                check_purl(Some(&purl), || child(&p, "purl"), warnings, purls);
            }
            identity.image_digest = identity
                .image_digest
                .or_else(|| ProductIdentity::image_digest_in(&purl));
            identity.purl = Some(purl);
        }
        identity.cpe22 = opt_string(ids, &p, "cpe22")?;
        identity.cpe23 = opt_string(ids, &p, "cpe23")?;
    }
    if let Some(v) = obj.get("hashes") {
        let p = child(pointer, "hashes");
        for (label, hash) in object(v, &p)?.iter() {
            let member = child(&p, label);
            // An algorithm OpenVEX does not name cannot be compared with anything; refusing it
            // says so instead of silently dropping the hash.
            let algorithm =
                HashAlgorithm::from_label(label).ok_or_else(|| OpenVexError::WrongType {
                    pointer: member.clone(),
                    expected: "a hash algorithm OpenVEX names (md5, sha1, sha-256, …)",
                })?;
            let hash = hash.as_str().ok_or(OpenVexError::WrongType {
                pointer: member,
                expected: "a string",
            })?;
            identity.hashes.insert(algorithm, hash.to_owned());
        }
    }
    if identity.is_empty() {
        return Err(OpenVexError::UnnamedProduct {
            pointer: pointer.to_owned(),
        });
    }
    Ok(identity)
}

/// Warns when `purl` is given but does not parse as one.
fn check_purl(
    purl: Option<&str>,
    pointer: impl FnOnce() -> String,
    warnings: &mut Vec<OpenVexWarning>,
    purls: &PurlChecks,
) {
    if let Some(purl) = purl
        && !purls.is_valid(purl)
    {
        warnings.push(OpenVexWarning::MalformedPurl {
            pointer: pointer(),
            purl: purl.to_owned(),
        });
    }
}

/// The document as canonical OpenVEX 0.2.0 (RFC 8785 bytes).
///
/// Each statement is built as a [`jcs::Value`] borrowing the model's strings and written to its
/// canonical bytes once (parts of the statements on every CPU); the statements are sorted by
/// those bytes and placed into the canonical document shell as they are, so no statement is
/// serialised twice.
///
/// # Errors
/// [`OpenVexError::NoStatements`] for a document without statements (the schema requires one);
/// [`OpenVexError::Canonical`] if a value cannot be canonical JSON (a version beyond 2^53).
pub fn write(document: &VexDocument) -> Result<Vec<u8>, OpenVexError> {
    let timestamp = document_timestamp(document)?;
    let parts = (document
        .statements
        .par_chunks(STATEMENTS_PER_PART)
        .enumerate())
    .map(|(part, chunk)| canonical_part(chunk.iter(), part * STATEMENTS_PER_PART))
    .collect::<Vec<_>>();
    // The first error in document order, whichever worker met it first.
    let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(CanonicalDocument {
        shell: shell(document, timestamp)?,
        statements: CanonicalStatements::sorted(parts),
    }
    .into_bytes())
}

/// [`write`] taking the document: each statement is dropped once its canonical bytes are
/// written, so the document and its canonical form are never both held whole.
///
/// # Errors
/// As [`write`].
pub fn write_owned(mut document: VexDocument) -> Result<Vec<u8>, OpenVexError> {
    let timestamp = document_timestamp(&document)?;
    let parts = (std::mem::take(&mut document.statements).into_par_iter())
        .chunks(STATEMENTS_PER_PART)
        .enumerate()
        .map(|(part, chunk)| canonical_part(chunk.into_iter(), part * STATEMENTS_PER_PART))
        .collect::<Vec<_>>();
    let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(CanonicalDocument {
        shell: shell(&document, timestamp)?,
        statements: CanonicalStatements::sorted(parts),
    }
    .into_bytes())
}

/// The document's timestamp: its own, else its latest statement's.
fn document_timestamp(document: &VexDocument) -> Result<jiff::Timestamp, OpenVexError> {
    if document.statements.is_empty() {
        return Err(OpenVexError::NoStatements);
    }
    let latest = document.statements.iter().map(|s| s.timestamp).max();
    document
        .timestamp
        .or(latest)
        .ok_or(OpenVexError::NoStatements)
}

/// How many statements one worker writes into one buffer: the statements' canonical bytes are
/// made in parts on every CPU.
pub(crate) const STATEMENTS_PER_PART: usize = 4096;

/// Every statement's canonical bytes, in the buffers of the parts they were written in, with
/// the spans of them (part, range) sorted by those bytes and without duplicates.
struct CanonicalStatements {
    parts: Vec<Vec<u8>>,
    spans: Vec<(usize, Range<usize>)>,
}

impl CanonicalStatements {
    /// The parts' spans, sorted by their bytes and deduplicated.
    fn sorted(parts: Vec<(Vec<u8>, Vec<Range<usize>>)>) -> Self {
        let spans: Vec<(usize, Range<usize>)> = (parts.iter().enumerate())
            .flat_map(|(part, (_, spans))| spans.iter().map(move |span| (part, span.clone())))
            .collect();
        let parts: Vec<Vec<u8>> = parts.into_iter().map(|(bytes, _)| bytes).collect();
        let at = |(part, span): &(usize, Range<usize>)| &parts[*part][span.clone()];
        let mut spans = crate::sort::by_bytes(spans, at);
        spans.dedup_by(|a, b| at(a) == at(b));
        CanonicalStatements { parts, spans }
    }

    /// The statements' canonical bytes, in order.
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (self.spans.iter()).map(|(part, span)| &self.parts[*part][span.clone()])
    }
}

/// The canonical bytes of some statements, in one buffer, with each one's span.
pub(crate) type CanonicalPart = (Vec<u8>, Vec<Range<usize>>);

/// The canonical bytes of `statements` (the first of them is statement `first` of the
/// document, for errors) in one buffer, with each one's span.
pub(crate) fn canonical_part<S: std::borrow::Borrow<VexStatement>>(
    statements: impl ExactSizeIterator<Item = S>,
    first: usize,
) -> Result<CanonicalPart, OpenVexError> {
    let mut bytes = Vec::new();
    let mut spans = Vec::with_capacity(statements.len());
    for (i, statement) in statements.enumerate() {
        let start = bytes.len();
        write_statement(statement.borrow(), first + i, &mut bytes)?;
        spans.push(start..bytes.len());
    }
    Ok((bytes, spans))
}

/// The canonical document `document` (its own statements left out) with the statements whose
/// canonical bytes are in `parts`, and `latest` the latest statement time (the document's time
/// when it has none), as [`write`] makes it.
pub(crate) fn write_parts(
    document: &VexDocument,
    latest: Option<jiff::Timestamp>,
    parts: Vec<CanonicalPart>,
) -> Result<CanonicalDocument, OpenVexError> {
    if parts.iter().all(|(_, spans)| spans.is_empty()) {
        return Err(OpenVexError::NoStatements);
    }
    let timestamp = document
        .timestamp
        .or(latest)
        .ok_or(OpenVexError::NoStatements)?;
    Ok(CanonicalDocument {
        shell: shell(document, timestamp)?,
        statements: CanonicalStatements::sorted(parts),
    })
}

/// A canonical OpenVEX document made but not yet joined into one buffer: the shell and its
/// statements' canonical bytes, in order. Written out as it is ([`CanonicalDocument::write_to`])
/// it costs no second copy of the statements; [`CanonicalDocument::into_bytes`] joins them.
pub struct CanonicalDocument {
    shell: Vec<u8>,
    statements: CanonicalStatements,
}

impl CanonicalDocument {
    /// The length of the document's bytes.
    pub fn len(&self) -> usize {
        let body: usize = self.statements.iter().map(|s| s.len() + 1).sum();
        self.shell.len() + body.saturating_sub(1)
    }

    /// Whether the document has no bytes (never: it always has its shell).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the document's bytes to `out`, piece by piece.
    ///
    /// # Errors
    /// What `out` returns.
    pub fn write_to(&self, out: &mut (impl std::io::Write + ?Sized)) -> std::io::Result<()> {
        let (head, tail) = split_at_statements(&self.shell);
        out.write_all(head)?;
        for (i, statement) in self.statements.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(statement)?;
        }
        out.write_all(tail)
    }

    /// The document's bytes in one buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        // Writing into a vector cannot fail.
        let _ = self.write_to(&mut out);
        out
    }
}

/// The canonical bytes of `document`'s members (its statements aside) with `"statements":[]`.
fn shell(document: &VexDocument, timestamp: jiff::Timestamp) -> Result<Vec<u8>, OpenVexError> {
    let mut root = Object::default();
    root.insert("@context", text(CONTEXT_V0_2_0));
    root.insert("@id", Value::String(to_iri(&document.id)));
    root.insert("author", text(&document.author));
    put_text(&mut root, "role", document.role.as_deref());
    root.insert("timestamp", Value::String(timestamp.to_string().into()));
    put_time(&mut root, "last_updated", document.last_updated);
    root.insert(
        "version",
        integer(document.version, || "/version".to_owned())?,
    );
    put_text(&mut root, "tooling", document.tooling.as_deref());
    root.insert("statements", Value::Array(Vec::new()));
    Ok(Value::Object(root).to_canonical())
}

/// The canonical document `shell` (whose `statements` is `[]`) cut where the statements go.
/// A `"` inside a JSON string is always escaped, so `"statements":[` occurs in canonical bytes
/// only as the member itself.
fn split_at_statements(shell: &[u8]) -> (&[u8], &[u8]) {
    const MEMBER: &[u8] = b"\"statements\":[";
    let at = shell
        .windows(MEMBER.len())
        .position(|w| w == MEMBER)
        .map_or(shell.len(), |i| i + MEMBER.len());
    shell.split_at(at)
}

fn text(s: &str) -> Value<'_> {
    Value::String(Cow::Borrowed(s))
}

fn put_text<'a>(object: &mut Object<'a>, key: &'static str, value: Option<&'a str>) {
    if let Some(v) = value {
        object.insert(key, text(v));
    }
}

fn put_owned(object: &mut Object<'_>, key: &'static str, value: Option<String>) {
    if let Some(v) = value {
        object.insert(key, Value::String(Cow::Owned(v)));
    }
}

fn put_time(object: &mut Object<'_>, key: &'static str, value: Option<jiff::Timestamp>) {
    put_owned(object, key, value.map(|t| t.to_string()));
}

/// An integer as canonical JSON holds it exactly: within 2^53.
fn integer(value: u64, pointer: impl FnOnce() -> String) -> Result<Value<'static>, OpenVexError> {
    if value > jcs::MAX_EXACT_INTEGER {
        return Err(OpenVexError::Canonical {
            source: jcs::JcsError::Unrepresentable {
                at: jcs::Location::at_pointer(pointer()),
                what: format!("integer {value} (outside ±2^53)"),
            },
        });
    }
    Ok(Value::Number(value as f64))
}

/// Values sorted by their canonical bytes, duplicates removed (the schema wants unique items, and
/// the order must not depend on the model's).
#[cfg(test)]
fn sorted_values(values: Vec<Value<'_>>) -> Vec<Value<'_>> {
    if values.len() < 2 {
        return values;
    }
    let mut keyed: Vec<(Vec<u8>, Value<'_>)> =
        values.into_iter().map(|v| (v.to_canonical(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    keyed.into_iter().map(|(_, v)| v).collect()
}

/// An object written member by member, straight into canonical bytes: the caller gives the
/// members in canonical order (checked in debug builds).
struct Members<'o> {
    out: &'o mut Vec<u8>,
    last: Option<&'static str>,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Members { out, last: None }
    }

    /// Starts the member `key`; its value is written next.
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(
            self.last
                .is_none_or(|last| jcs::cmp_utf16(last, key).is_lt()),
            "{key} after {:?}",
            self.last
        );
        if self.last.is_some() {
            self.out.push(b',');
        }
        self.last = Some(key);
        jcs::write_str(key, self.out);
        self.out.push(b':');
        self.out
    }

    fn text(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            let out = self.key(key);
            jcs::write_str(value, out);
        }
    }

    fn time(&mut self, key: &'static str, value: Option<jiff::Timestamp>) {
        if let Some(value) = value {
            self.text(key, Some(&value.to_string()));
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// Writes the canonical bytes of the array of `items` (each written by `write`), sorted by those
/// bytes and without duplicates (the schema wants unique items, and the order must not depend
/// on the model's).
fn write_sorted<T>(items: &[T], out: &mut Vec<u8>, mut write: impl FnMut(&T, &mut Vec<u8>)) {
    out.push(b'[');
    if let [item] = items {
        write(item, out);
    } else {
        let mut written: Vec<Vec<u8>> = (items.iter())
            .map(|item| {
                let mut bytes = Vec::new();
                write(item, &mut bytes);
                bytes
            })
            .collect();
        written.sort_unstable();
        written.dedup();
        for (i, bytes) in written.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(bytes);
        }
    }
    out.push(b']');
}

/// The canonical bytes of statement `index` as OpenVEX 0.2.0, written straight from the model:
/// the bytes of the statement's canonical JSON value, without building the value (a test
/// compares the two).
fn write_statement(s: &VexStatement, index: usize, out: &mut Vec<u8>) -> Result<(), OpenVexError> {
    if let Some(v) = s.version {
        // Refused as the value-building writer refuses it: beyond what canonical JSON holds.
        integer(v, || format!("/statements/{index}/version"))?;
    }
    let (status_notes, impact_statement) = notes_and_impact(s);
    let action_statement = match (&s.action_statement, s.status) {
        (None, Status::Affected) => Some(NO_ACTION_STATEMENT),
        (a, _) => a.as_deref(),
    };
    let mut m = Members::open(out);
    if let Some(id) = &s.id {
        m.text("@id", Some(&to_iri(id)));
    }
    m.text("action_statement", action_statement);
    m.time("action_statement_timestamp", s.action_statement_timestamp);
    m.text("impact_statement", impact_statement.as_deref());
    let justification = s.justification.as_ref();
    m.text(
        "justification",
        justification.and_then(|j| j.kind.openvex_label()),
    );
    m.time("last_updated", s.last_updated);
    if !s.products.is_empty() {
        write_sorted(&s.products, m.key("products"), write_product);
    }
    m.text("status", Some(s.status.openvex_label()));
    m.text("status_notes", status_notes.as_deref());
    m.text("supplier", s.supplier.as_deref());
    m.time("timestamp", Some(s.timestamp));
    if let Some(v) = s.version {
        let out = m.key("version");
        out.extend_from_slice(v.to_string().as_bytes());
    }
    let out = m.key("vulnerability");
    let vulnerability = &s.vulnerability;
    let mut v = Members::open(out);
    if let Some(iri) = &vulnerability.iri {
        v.text("@id", Some(&to_iri(iri)));
    }
    let mut aliases: Vec<&str> = (vulnerability.aliases.iter())
        .map(String::as_str)
        .filter(|a| *a != vulnerability.name)
        .collect();
    aliases.sort_unstable();
    aliases.dedup();
    if !aliases.is_empty() {
        let out = v.key("aliases");
        out.push(b'[');
        for (i, alias) in aliases.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            jcs::write_str(alias, out);
        }
        out.push(b']');
    }
    v.text("description", vulnerability.description.as_deref());
    v.text("name", Some(&vulnerability.name));
    v.close();
    m.close();
    Ok(())
}

/// The status notes and impact statement written for `s`: a justification with no OpenVEX
/// counterpart is kept in words rather than dropped, and a `not_affected` statement without a
/// reason gets the placeholder impact statement.
fn notes_and_impact(s: &VexStatement) -> (Option<Cow<'_, str>>, Option<Cow<'_, str>>) {
    let mut status_notes = s.status_notes.as_deref().map(Cow::Borrowed);
    let mut impact_statement = s.impact_statement.as_deref().map(Cow::Borrowed);
    match &s.justification {
        Some(j) => {
            if j.kind.openvex_label().is_none() {
                let note = format!("Justification (as the source wrote it): {}", j.label);
                status_notes = Some(Cow::Owned(match status_notes {
                    Some(n) => format!("{n}\n{note}"),
                    None => note.clone(),
                }));
                if impact_statement.is_none() && s.status == Status::NotAffected {
                    impact_statement = Some(Cow::Owned(note));
                }
            }
        }
        None => {
            if s.status == Status::NotAffected && impact_statement.is_none() {
                impact_statement = Some(Cow::Borrowed(NO_IMPACT_STATEMENT));
            }
        }
    }
    (status_notes, impact_statement)
}

fn write_product(p: &Product, out: &mut Vec<u8>) {
    let mut m = Members::open(out);
    write_identity_members(&p.identity, &mut m);
    if !p.subcomponents.is_empty() {
        write_sorted(&p.subcomponents, m.key("subcomponents"), |s, out| {
            let mut m = Members::open(out);
            write_identity_members(s, &mut m);
            m.close();
        });
    }
    m.close();
}

/// The members of `identity`'s object, written into `m`: the identifier (with its version limit,
/// which OpenVEX has no place for), hashes, and the purl (when it is not the identifier) and CPEs.
fn write_identity_members(identity: &ProductIdentity, m: &mut Members<'_>) {
    match (&identity.version, &identity.id) {
        (Some(_), _) => {
            if let Some(id) = identity.id_with_version() {
                m.text("@id", Some(&to_iri(&id)));
            }
        }
        (None, Some(id)) => m.text("@id", Some(&to_iri(id))),
        (None, None) => {}
    }
    if !identity.hashes.is_empty() {
        let mut hashes: Vec<(&str, &str)> = (identity.hashes.iter())
            .map(|(algorithm, hash)| (algorithm.label(), hash.as_str()))
            .collect();
        hashes.sort_unstable_by(|a, b| jcs::cmp_utf16(a.0, b.0));
        let out = m.key("hashes");
        out.push(b'{');
        for (i, (label, hash)) in hashes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            jcs::write_str(label, out);
            out.push(b':');
            jcs::write_str(hash, out);
        }
        out.push(b'}');
    }
    let purl = (identity.purl != identity.id)
        .then_some(identity.purl.as_deref())
        .flatten();
    if purl.is_some() || identity.cpe22.is_some() || identity.cpe23.is_some() {
        let mut ids = Members::open(m.key("identifiers"));
        ids.text("cpe22", identity.cpe22.as_deref());
        ids.text("cpe23", identity.cpe23.as_deref());
        ids.text("purl", purl);
        ids.close();
    }
}

/// The statement as a canonical JSON value: the reference `write_statement` is checked against.
#[cfg(test)]
fn statement_value(s: &VexStatement, index: usize) -> Result<Value<'_>, OpenVexError> {
    let mut m = Object::default();
    if let Some(id) = &s.id {
        m.insert("@id", Value::String(to_iri(id)));
    }
    if let Some(v) = s.version {
        m.insert(
            "version",
            integer(v, || format!("/statements/{index}/version"))?,
        );
    }
    let mut vulnerability = Object::default();
    vulnerability.insert("name", text(&s.vulnerability.name));
    if let Some(iri) = &s.vulnerability.iri {
        vulnerability.insert("@id", Value::String(to_iri(iri)));
    }
    put_text(
        &mut vulnerability,
        "description",
        s.vulnerability.description.as_deref(),
    );
    let mut aliases: Vec<&str> = s
        .vulnerability
        .aliases
        .iter()
        .map(String::as_str)
        .filter(|a| *a != s.vulnerability.name)
        .collect();
    aliases.sort_unstable();
    aliases.dedup();
    if !aliases.is_empty() {
        vulnerability.insert(
            "aliases",
            Value::Array(aliases.into_iter().map(text).collect()),
        );
    }
    m.insert("vulnerability", Value::Object(vulnerability));
    if !s.products.is_empty() {
        let products = s.products.iter().map(product_value).collect();
        m.insert("products", Value::Array(sorted_values(products)));
    }
    m.insert("status", text(s.status.openvex_label()));
    if let Some(label) = s
        .justification
        .as_ref()
        .and_then(|j| j.kind.openvex_label())
    {
        m.insert("justification", text(label));
    }
    let (status_notes, impact_statement) = notes_and_impact(s);
    if let Some(notes) = status_notes {
        m.insert("status_notes", Value::String(notes));
    }
    if let Some(impact) = impact_statement {
        m.insert("impact_statement", Value::String(impact));
    }
    let action_statement = match (&s.action_statement, s.status) {
        (None, Status::Affected) => Some(NO_ACTION_STATEMENT),
        (a, _) => a.as_deref(),
    };
    put_text(&mut m, "action_statement", action_statement);
    put_time(
        &mut m,
        "action_statement_timestamp",
        s.action_statement_timestamp,
    );
    put_text(&mut m, "supplier", s.supplier.as_deref());
    m.insert("timestamp", Value::String(s.timestamp.to_string().into()));
    put_time(&mut m, "last_updated", s.last_updated);
    Ok(Value::Object(m))
}

#[cfg(test)]
fn product_value(p: &Product) -> Value<'_> {
    let mut m = identity_object(&p.identity);
    if !p.subcomponents.is_empty() {
        let subs = p
            .subcomponents
            .iter()
            .map(|s| Value::Object(identity_object(s)))
            .collect();
        m.insert("subcomponents", Value::Array(sorted_values(subs)));
    }
    Value::Object(m)
}

#[cfg(test)]
fn identity_object(identity: &ProductIdentity) -> Object<'_> {
    let mut m = Object::default();
    match (&identity.version, &identity.id) {
        // OpenVEX has no place for a version limit: it travels in the identifier.
        (Some(_), _) => {
            if let Some(id) = identity.id_with_version() {
                m.insert("@id", Value::String(Cow::Owned(to_iri(&id).into_owned())));
            }
        }
        (None, Some(id)) => {
            m.insert("@id", Value::String(to_iri(id)));
        }
        (None, None) => {}
    }
    let mut ids = Object::default();
    // An `@id` that is the purl already says it; repeat it only when they differ.
    if identity.purl != identity.id {
        put_text(&mut ids, "purl", identity.purl.as_deref());
    }
    put_text(&mut ids, "cpe22", identity.cpe22.as_deref());
    put_text(&mut ids, "cpe23", identity.cpe23.as_deref());
    if !ids.is_empty() {
        m.insert("identifiers", Value::Object(ids));
    }
    if !identity.hashes.is_empty() {
        let mut hashes = Object::default();
        for (algorithm, hash) in &identity.hashes {
            hashes.insert(algorithm.label(), text(hash));
        }
        m.insert("hashes", Value::Object(hashes));
    }
    m
}

/// The scheme under which the writer carries an `@id` that is not an IRI: the original text,
/// percent-encoded, so the schema's `iri` format holds and reading it back restores the text.
pub const TEXT_ID_PREFIX: &str = "urn:stella:text:";

/// The `@id`-like member `name` of `obj`, decoded from [`TEXT_ID_PREFIX`] form, with a warning
/// when it is not an absolute IRI.
fn id_member(
    obj: &Object<'_>,
    pointer: &str,
    name: &str,
    warnings: &mut Vec<OpenVexWarning>,
) -> Result<Option<String>, OpenVexError> {
    let Some(value) = obj.get(name) else {
        return Ok(None);
    };
    match value.as_str() {
        Some(id) => Ok(Some(id_text(id, || child(pointer, name), warnings))),
        None => Err(OpenVexError::WrongType {
            pointer: child(pointer, name),
            expected: "a string",
        }),
    }
}

/// `id` as the model holds it; `pointer` names where it was, for a warning.
fn id_text(
    id: &str,
    pointer: impl FnOnce() -> String,
    warnings: &mut Vec<OpenVexWarning>,
) -> String {
    if let Some(text) = id.strip_prefix(TEXT_ID_PREFIX).and_then(percent_decode) {
        return text;
    }
    if !is_absolute_iri(id) {
        warnings.push(OpenVexWarning::IdNotIri {
            pointer: pointer(),
            id: id.to_owned(),
        });
    }
    id.to_owned()
}

/// RFC 3987 in the part that matters here: a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "."
/// )`), a colon, and no character an IRI never holds (space, controls, `<>"{}|\^``).
fn is_absolute_iri(id: &str) -> bool {
    let Some((scheme, _)) = id.split_once(':') else {
        return false;
    };
    let mut chars = scheme.bytes();
    if !(chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
    {
        return false;
    }
    // One pass over the bytes: in ASCII the whitespace and controls are the bytes up to the
    // space and DEL; the rare non-ASCII text is checked again by character.
    let mut ascii = true;
    for b in id.bytes() {
        if b >= 0x80 {
            ascii = false;
        } else if NOT_IN_IRI[usize::from(b)] {
            return false;
        }
    }
    ascii || !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The ASCII bytes an IRI never holds: controls, space, DEL and `<>"{}|\^``.
const NOT_IN_IRI: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b <= b' ' {
        table[b as usize] = true;
        b += 1;
    }
    let others = *b"\x7f<>\"{}|\\^`";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

fn to_iri(id: &str) -> Cow<'_, str> {
    if is_absolute_iri(id) && !id.starts_with(TEXT_ID_PREFIX) {
        return Cow::Borrowed(id);
    }
    let mut out = String::from(TEXT_ID_PREFIX);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HashAlgorithm, JustificationKind};
    use std::path::Path;

    fn assert_written_as_valued(statements: &[VexStatement], what: &str) {
        for (index, s) in statements.iter().enumerate() {
            let mut direct = Vec::new();
            write_statement(s, index, &mut direct).unwrap();
            let valued = statement_value(s, index).unwrap().to_canonical();
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&valued),
                "{what}, statement {index}"
            );
        }
    }

    /// Every statement the readers make of the fixtures' VEX documents (OpenVEX, CycloneDX,
    /// CSAF) is written straight to the bytes its canonical value has.
    #[test]
    fn statements_are_written_as_their_canonical_values_are() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
        let mut documents = 0;
        let mut dirs: Vec<std::path::PathBuf> = ["openvex", "csaf-vex", "cyclonedx/vex-examples"]
            .iter()
            .map(|d| fixtures.join(d))
            .collect();
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                panic!("the fixtures are not at {}", dir.display());
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let options = crate::cyclonedx::ReadOptions {
                    fallback_timestamp: Some(jiff::Timestamp::UNIX_EPOCH),
                    ..Default::default()
                };
                if let Ok(read) = crate::read::read(&bytes, &options) {
                    assert_written_as_valued(
                        &read.document.statements,
                        &path.display().to_string(),
                    );
                    documents += 1;
                }
            }
        }
        assert!(documents >= 10, "only {documents} fixture documents read");
    }

    /// The cases fixtures may not have: every optional member, a justification without an
    /// OpenVEX label, a version limit, hashes, duplicate and unordered products and aliases,
    /// identifiers that are not IRIs.
    #[test]
    fn every_member_is_written_in_canonical_order() {
        let time: jiff::Timestamp = "2025-01-02T03:04:05.5Z".parse().unwrap();
        let mut identity = ProductIdentity::from_id("pkg:npm/a@1");
        identity.cpe23 = Some("cpe:2.3:a:a:a:1:*:*:*:*:*:*:*".to_owned());
        identity.cpe22 = Some("cpe:/a:a:a:1".to_owned());
        identity
            .hashes
            .insert(HashAlgorithm::Sha256, "ab".repeat(32));
        identity.hashes.insert(HashAlgorithm::Md5, "cd".repeat(16));
        identity
            .hashes
            .insert(HashAlgorithm::Blake2s256, "ef".repeat(32));
        let mut versioned = ProductIdentity::from_id("not an iri \"quoted\"");
        versioned.version = Some("vers:generic/>=2|<3".to_owned());
        let mut other_purl = ProductIdentity::from_id("https://example.com/p");
        other_purl.purl = Some("pkg:deb/debian/b@2?arch=amd64".to_owned());
        let product = |identity: &ProductIdentity, subs: &[&ProductIdentity]| Product {
            identity: identity.clone(),
            subcomponents: subs.iter().map(|s| (*s).clone()).collect(),
        };
        let base = VexStatement {
            id: Some("urn:uuid:1".to_owned()),
            version: Some(7),
            vulnerability: Vulnerability {
                name: "CVE-2024-1".to_owned(),
                iri: Some("https://nvd.nist.gov/vuln/detail/CVE-2024-1".to_owned()),
                description: Some("tab\there\u{1}".to_owned()),
                aliases: vec![
                    "GHSA-b".into(),
                    "CVE-2024-1".into(),
                    "GHSA-a".into(),
                    "GHSA-b".into(),
                ],
            },
            products: vec![
                product(&identity, &[&versioned, &other_purl, &versioned]),
                product(&versioned, &[]),
                product(&identity, &[&versioned, &other_purl, &versioned]),
                product(&other_purl, &[&identity]),
            ],
            status: Status::NotAffected,
            justification: Some(Justification {
                kind: JustificationKind::Other,
                label: "protected_by_compiler".to_owned(),
            }),
            status_notes: Some("notes".to_owned()),
            impact_statement: None,
            action_statement: Some("act".to_owned()),
            action_statement_timestamp: Some(time),
            supplier: Some("Supplier".to_owned()),
            timestamp: time,
            last_updated: Some(time),
            provenance: Provenance {
                document: stella_core::Digest::sha256(b"d"),
                format: VexFormat::OpenVex,
                statement_index: 0,
                author: "A".to_owned(),
            },
        };
        let mut statements = vec![base.clone()];
        for status in [
            Status::Affected,
            Status::Fixed,
            Status::UnderInvestigation,
            Status::NotAffected,
        ] {
            let mut bare = base.clone();
            bare.status = status;
            bare.id = None;
            bare.version = None;
            bare.justification = None;
            bare.status_notes = None;
            bare.impact_statement = None;
            bare.action_statement = None;
            bare.action_statement_timestamp = None;
            bare.supplier = None;
            bare.last_updated = None;
            bare.vulnerability.iri = None;
            bare.vulnerability.description = None;
            bare.vulnerability.aliases.clear();
            bare.products = vec![product(&ProductIdentity::from_id("pkg:npm/a@1"), &[])];
            statements.push(bare.clone());
            bare.products.clear();
            bare.justification = Some(Justification::from_openvex("component_not_present"));
            statements.push(bare);
        }
        assert_written_as_valued(&statements, "made");
        let mut too_big = base;
        too_big.version = Some(jcs::MAX_EXACT_INTEGER + 1);
        assert!(write_statement(&too_big, 3, &mut Vec::new()).is_err());
    }
}
