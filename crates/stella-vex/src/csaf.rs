//! CSAF 2.0 with the VEX profile (<https://docs.oasis-open.org/csaf/csaf/v2.0/>): reading a
//! `csaf_vex` document into the canonical model, and writing canonical CSAF 2.0 VEX.
//!
//! **Products.** The product tree's `branches` (walked with an explicit stack, at most
//! [`MAX_BRANCH_DEPTH`] deep: deeper is [`CsafError::BranchTooDeep`]), its `full_product_names`
//! and its `relationships` name the products. A product is identified by its
//! `product_identification_helper` — `purl` (which becomes its identifier), `cpe` and `hashes` —
//! and, when it has neither purl nor CPE nor hash, by its `product_id`. A relationship of category
//! `default_component_of`, `installed_on` or `installed_with` makes the product it defines the
//! product it relates to (the platform) with the referenced component as a subcomponent; a
//! relationship whose platform is itself defined by a relationship is followed to its root, the
//! components on the way becoming subcomponents. A cycle of relationships is
//! [`CsafError::RelationshipCycle`]; a chain longer than [`MAX_RELATIONSHIP_DEPTH`] is
//! [`CsafError::RelationshipTooDeep`]. Other relationship categories (`external_component_of`,
//! `optional_component_of`) do not say the component is in the product: the product they define
//! is named by its own `full_product_name`, with [`CsafWarning::RelationshipNotMapped`].
//! `product_groups` are expanded wherever `group_ids` appear. A helper's `purl` that does not
//! parse as a package URL is kept as written with [`CsafWarning::MalformedPurl`] (it then matches
//! only by its exact text, see [`crate::matching`]).
//!
//! **Statements.** For each vulnerability (named by `cve`, else its first `ids[].text`; the other
//! ids are aliases), each product in one of the four VEX `product_status` lists gives a statement:
//!
//! | CSAF `product_status` | canonical |
//! |---|---|
//! | `known_affected` | [`Status::Affected`] |
//! | `known_not_affected` | [`Status::NotAffected`] |
//! | `fixed` | [`Status::Fixed`] |
//! | `under_investigation` | [`Status::UnderInvestigation`] |
//! | `first_affected`, `last_affected`, `first_fixed`, `recommended` | none: read and kept as [`CsafWarning::OtherProductStatus`], never mapped |
//! | any other list | none: [`CsafError::UnknownProductStatus`] (guessing a status would change the claim) |
//!
//! `flags` are justifications: CSAF's five labels are OpenVEX's five, so the kind maps one to one
//! and the label is kept as written (an unknown label is [`JustificationKind::Other`] with
//! [`CsafWarning::UnknownFlagLabel`]). `threats` of category `impact` are the impact statement;
//! `remediations` are the action statement (their `details`, their categories noted in
//! `status_notes` as `CSAF remediation: vendor_fix`). Products with the same status, flag, impact
//! and remediations in one vulnerability are one statement.
//!
//! **Times.** A statement's time is its flag's `date`, else its impact threat's `date`, else
//! `document.tracking.current_release_date` (which the CSAF schema requires; without it a
//! statement is [`CsafError::NoTimestamp`]). A remediation's `date` is the action statement's
//! time.
//!
//! **Writing** ([`write()`]) produces RFC 8785 canonical CSAF 2.0 VEX that the CSAF 2.0 JSON
//! schema accepts; see its documentation for where each part of the model goes.
//!
//! What this module does not own (yet): the profile's mandatory-rule checks
//! (`stella vex validate`), matching and merging.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json};
use stella_core::jcs::{self, Object, Value};
use stella_core::{Digest, ErrorKind, Kinded};

use crate::json::{
    self, array, child, object, opt_array, opt_object, opt_string, sorted, string, time,
};
use crate::matching::Purl;
use crate::model::{
    HashAlgorithm, Justification, JustificationKind, Product, ProductIdentity, Provenance, Status,
    VERSIONED_ID_PREFIX, VexDocument, VexFormat, VexStatement, Vulnerability,
};

/// Deepest product-tree branch nesting read (the parser's own bound, 256 JSON levels, allows
/// about 127 branch levels; real trees use vendor / product name / version, three or four).
pub const MAX_BRANCH_DEPTH: usize = 64;

/// Longest chain of relationships read (a component installed on a product that is itself a
/// component of another…); each link adds a subcomponent to every product resolved through it,
/// so the bound keeps what a document resolves to proportional to its size. Real chains are
/// one or two long.
pub const MAX_RELATIONSHIP_DEPTH: usize = 64;

/// Most products (branch products, full product names and relationships) in one document.
pub const MAX_PRODUCTS: usize = 1_000_000;

/// Most statements read from one document (as [`crate::openvex::MAX_STATEMENTS`]).
pub const MAX_STATEMENTS: usize = 1_000_000;

/// The relationship categories that put a component into a product.
const COMPONENT_RELATIONSHIPS: [&str; 3] =
    ["default_component_of", "installed_on", "installed_with"];

/// Why a CSAF document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsafError {
    /// The bytes are not I-JSON.
    #[error("not a JSON document Stella accepts: {source}")]
    Json {
        /// The reader's error, with pointer and byte offset.
        #[source]
        source: jcs::JcsError,
    },
    /// Not a CSAF 2.0 document (`document.csaf_version` is not `2.0`).
    #[error("{pointer}: not a CSAF 2.0 document (csaf_version {found:?})")]
    NotCsaf {
        /// JSON pointer of `csaf_version`.
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
    /// A timestamp that is not RFC 3339.
    #[error("{pointer}: {source}")]
    BadTimestamp {
        /// JSON pointer of the timestamp.
        pointer: String,
        /// Why it could not be read.
        #[source]
        source: stella_core::time::TimeError,
    },
    /// A statement with no time: no flag or threat date and no `current_release_date`.
    #[error(
        "{pointer}: the statement has no time (no flag or threat date, and no document.tracking.current_release_date)"
    )]
    NoTimestamp {
        /// JSON pointer of the vulnerability.
        pointer: String,
    },
    /// A vulnerability with neither `cve` nor `ids`.
    #[error("{pointer}: the vulnerability has neither cve nor ids")]
    NoVulnerabilityId {
        /// JSON pointer of the vulnerability.
        pointer: String,
    },
    /// Product-tree branches nested deeper than [`MAX_BRANCH_DEPTH`].
    #[error("{pointer}: product tree branches nested deeper than {limit}")]
    BranchTooDeep {
        /// JSON pointer of the first branch beyond the limit.
        pointer: String,
        /// The limit in force.
        limit: usize,
    },
    /// Relationships that define products in terms of each other.
    #[error("{pointer}: relationships form a cycle through the products {product_ids:?}")]
    RelationshipCycle {
        /// JSON pointer of a relationship on the cycle.
        pointer: String,
        /// The product ids on the cycle, in order.
        product_ids: Vec<String>,
    },
    /// A `product_status` list CSAF 2.0 does not define.
    #[error(
        "{pointer}: unknown product status {list:?} (CSAF 2.0 defines first_affected, first_fixed, fixed, known_affected, known_not_affected, last_affected, recommended, under_investigation)"
    )]
    UnknownProductStatus {
        /// JSON pointer of the list.
        pointer: String,
        /// The list's name as written.
        list: String,
    },
    /// A chain of relationships longer than [`MAX_RELATIONSHIP_DEPTH`].
    #[error("{pointer}: relationships chained deeper than {limit}")]
    RelationshipTooDeep {
        /// JSON pointer of the relationship at the head of the chain.
        pointer: String,
        /// The limit in force.
        limit: usize,
    },
    /// More products or statements than the limits.
    #[error("{pointer}: {count} items, more than the limit of {limit}")]
    TooMany {
        /// JSON pointer of the array.
        pointer: String,
        /// Items found (at least).
        count: usize,
        /// The limit in force.
        limit: usize,
    },
}

json::from_shape!(CsafError);

impl Kinded for CsafError {
    fn kind(&self) -> ErrorKind {
        match self {
            CsafError::Json {
                source: jcs::JcsError::TooLarge { .. } | jcs::JcsError::TooDeep { .. },
            }
            | CsafError::BranchTooDeep { .. }
            | CsafError::RelationshipTooDeep { .. }
            | CsafError::TooMany { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::Invalid,
        }
    }
}

/// Something in the document that did not stop reading but is worth saying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsafWarning {
    /// `document.category` is not `csaf_vex`: read all the same.
    #[error(
        "/document/category: {category:?} is not the VEX profile (csaf_vex); read all the same"
    )]
    NotVexProfile {
        /// The category as written.
        category: String,
    },
    /// A `product_status` list that is none of the four VEX statuses: kept, not mapped.
    #[error("{pointer}: the product status list {list:?} is not a VEX status; not mapped")]
    OtherProductStatus {
        /// JSON pointer of the list.
        pointer: String,
        /// The list's name.
        list: String,
        /// The product ids in it, as written.
        product_ids: Vec<String>,
    },
    /// A product id that no product of the tree defines.
    #[error("{pointer}: {product_id:?} names no product of the product tree; kept as written")]
    UnknownProductId {
        /// JSON pointer of the reference.
        pointer: String,
        /// The id as written.
        product_id: String,
    },
    /// A group id that no product group defines.
    #[error("{pointer}: {group_id:?} names no product group; ignored")]
    UnknownGroupId {
        /// JSON pointer of the reference.
        pointer: String,
        /// The id as written.
        group_id: String,
    },
    /// A relationship whose category does not put the component into the product.
    #[error(
        "{pointer}: relationship category {category:?} is not a component of the product; the product is named alone"
    )]
    RelationshipNotMapped {
        /// JSON pointer of the relationship.
        pointer: String,
        /// The category as written.
        category: String,
    },
    /// A flag label outside CSAF's five.
    #[error("{pointer}: unknown flag label {label:?}; kept as the justification's label")]
    UnknownFlagLabel {
        /// JSON pointer of the label.
        pointer: String,
        /// The label as written.
        label: String,
    },
    /// A product id defined twice: the first definition is used.
    #[error("{pointer}: product id {product_id:?} is defined twice; the first definition is used")]
    DuplicateProductId {
        /// JSON pointer of the second definition.
        pointer: String,
        /// The id.
        product_id: String,
    },
    /// A purl that does not parse as a package URL, kept as written (it then matches only by
    /// its exact text).
    #[error("{pointer}: {purl:?} is not a valid package URL; kept as written")]
    MalformedPurl {
        /// JSON pointer of the purl in the identification helper.
        pointer: String,
        /// The text as written.
        purl: String,
    },
}

impl CsafWarning {
    /// A stable name of what the warning says, for machine output.
    pub fn rule(&self) -> &'static str {
        match self {
            CsafWarning::NotVexProfile { .. } => "not-vex-profile",
            CsafWarning::OtherProductStatus { .. } => "other-product-status",
            CsafWarning::UnknownProductId { .. } => "unknown-product-id",
            CsafWarning::UnknownGroupId { .. } => "unknown-group-id",
            CsafWarning::RelationshipNotMapped { .. } => "relationship-not-mapped",
            CsafWarning::UnknownFlagLabel { .. } => "unknown-flag-label",
            CsafWarning::DuplicateProductId { .. } => "duplicate-product-id",
            CsafWarning::MalformedPurl { .. } => "malformed-purl",
        }
    }

    /// JSON pointer of what the warning is about.
    pub fn pointer(&self) -> &str {
        match self {
            CsafWarning::NotVexProfile { .. } => "/document/category",
            CsafWarning::OtherProductStatus { pointer, .. }
            | CsafWarning::UnknownProductId { pointer, .. }
            | CsafWarning::UnknownGroupId { pointer, .. }
            | CsafWarning::RelationshipNotMapped { pointer, .. }
            | CsafWarning::UnknownFlagLabel { pointer, .. }
            | CsafWarning::DuplicateProductId { pointer, .. }
            | CsafWarning::MalformedPurl { pointer, .. } => pointer,
        }
    }
}

/// A document read, with its canonical id and what is worth saying about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CsafRead {
    /// The document in the canonical model.
    pub document: VexDocument,
    /// `sha256(JCS(bytes))`.
    pub canonical_id: Digest,
    /// Warnings, in document order.
    pub warnings: Vec<CsafWarning>,
}

/// Reads a CSAF 2.0 VEX document.
///
/// # Errors
/// [`CsafError`] naming the JSON pointer of the first member that cannot be understood.
pub fn read(bytes: &[u8]) -> Result<CsafRead, CsafError> {
    let value = jcs::parse(bytes).map_err(|source| CsafError::Json { source })?;
    let canonical_id = value.canonical_sha256();
    let root = object(&value, "")?;
    let mut warnings = Vec::new();
    let tree = match opt_object(root, "", "product_tree")? {
        Some(t) => ProductTree::of(t, &mut warnings)?,
        None => ProductTree::default(),
    };
    let mut reader = Reader { tree, warnings };
    let document = reader.document(root, &canonical_id)?;
    Ok(CsafRead {
        document,
        canonical_id,
        warnings: reader.warnings,
    })
}

/// The strings of an optional array member.
fn strings(obj: &Object<'_>, pointer: &str, name: &str) -> Result<Vec<String>, CsafError> {
    let p = child(pointer, name);
    opt_array(obj, pointer, name)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| CsafError::WrongType {
                    pointer: format!("{p}/{i}"),
                    expected: "a string",
                })
        })
        .collect()
}

/// A relationship that defines a product: the component and the product it relates to.
#[derive(Debug, Clone)]
struct Relationship {
    pointer: String,
    component: String,
    platform: String,
}

/// The products a product tree defines.
#[derive(Debug, Default)]
struct ProductTree {
    /// Products by id, named by their identification helper or id.
    products: BTreeMap<String, ProductIdentity>,
    /// Products defined by component relationships, by the id they define.
    relationships: BTreeMap<String, Relationship>,
    /// Product groups by id.
    groups: BTreeMap<String, Vec<String>>,
}

impl ProductTree {
    fn of(tree: &Object<'_>, warnings: &mut Vec<CsafWarning>) -> Result<Self, CsafError> {
        let pointer = "/product_tree";
        let mut out = ProductTree::default();
        // An explicit stack keeps a deep tree from exhausting the thread's stack.
        let mut stack: Vec<(&Value<'_>, String, usize)> = Vec::new();
        for (i, b) in opt_array(tree, pointer, "branches")?.iter().enumerate() {
            stack.push((b, format!("{pointer}/branches/{i}"), 1));
        }
        while let Some((branch, p, depth)) = stack.pop() {
            if depth > MAX_BRANCH_DEPTH {
                return Err(CsafError::BranchTooDeep {
                    pointer: p,
                    limit: MAX_BRANCH_DEPTH,
                });
            }
            let obj = object(branch, &p)?;
            if let Some(product) = opt_object(obj, &p, "product")? {
                out.add_full_product_name(product, &child(&p, "product"), warnings)?;
            }
            for (i, b) in opt_array(obj, &p, "branches")?.iter().enumerate().rev() {
                stack.push((b, format!("{p}/branches/{i}"), depth + 1));
            }
        }
        for (i, f) in opt_array(tree, pointer, "full_product_names")?
            .iter()
            .enumerate()
        {
            let p = format!("{pointer}/full_product_names/{i}");
            out.add_full_product_name(object(f, &p)?, &p, warnings)?;
        }
        for (i, r) in opt_array(tree, pointer, "relationships")?
            .iter()
            .enumerate()
        {
            let p = format!("{pointer}/relationships/{i}");
            let r = object(r, &p)?;
            let category = string(r, &p, "category")?;
            let component = string(r, &p, "product_reference")?;
            let platform = string(r, &p, "relates_to_product_reference")?;
            let fpn_pointer = child(&p, "full_product_name");
            let fpn = opt_object(r, &p, "full_product_name")?.ok_or_else(|| {
                CsafError::MissingMember {
                    pointer: p.clone(),
                    member: "full_product_name",
                }
            })?;
            if COMPONENT_RELATIONSHIPS.contains(&category.as_str()) {
                let id = string(fpn, &fpn_pointer, "product_id")?;
                if out.products.contains_key(&id) || out.relationships.contains_key(&id) {
                    warnings.push(CsafWarning::DuplicateProductId {
                        pointer: child(&fpn_pointer, "product_id"),
                        product_id: id,
                    });
                    continue;
                }
                out.relationships.insert(
                    id,
                    Relationship {
                        pointer: p,
                        component,
                        platform,
                    },
                );
            } else {
                warnings.push(CsafWarning::RelationshipNotMapped {
                    pointer: p,
                    category,
                });
                out.add_full_product_name(fpn, &fpn_pointer, warnings)?;
            }
            out.check_size(pointer)?;
        }
        for (i, g) in opt_array(tree, pointer, "product_groups")?
            .iter()
            .enumerate()
        {
            let p = format!("{pointer}/product_groups/{i}");
            let g = object(g, &p)?;
            let id = string(g, &p, "group_id")?;
            let ids = strings(g, &p, "product_ids")?;
            out.groups.entry(id).or_insert(ids);
        }
        out.check_cycles()?;
        Ok(out)
    }

    fn check_size(&self, pointer: &str) -> Result<(), CsafError> {
        let count = self.products.len() + self.relationships.len();
        if count > MAX_PRODUCTS {
            return Err(CsafError::TooMany {
                pointer: pointer.to_owned(),
                count,
                limit: MAX_PRODUCTS,
            });
        }
        Ok(())
    }

    fn add_full_product_name(
        &mut self,
        fpn: &Object<'_>,
        pointer: &str,
        warnings: &mut Vec<CsafWarning>,
    ) -> Result<(), CsafError> {
        let id = string(fpn, pointer, "product_id")?;
        let identity = identity_of(fpn, pointer, &id, warnings)?;
        if self.products.contains_key(&id) {
            warnings.push(CsafWarning::DuplicateProductId {
                pointer: child(pointer, "product_id"),
                product_id: id,
            });
            return Ok(());
        }
        self.products.insert(id, identity);
        self.check_size("/product_tree")
    }

    /// Refuses relationships that define products in terms of each other, or chain deeper than
    /// [`MAX_RELATIONSHIP_DEPTH`] (an iterative depth-first search over "defined by" edges).
    fn check_cycles(&self) -> Result<(), CsafError> {
        // 1: on the current path, 2: done.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        // Relationships in the longest chain from each relationship's product, itself included.
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        for start in self.relationships.keys() {
            if state.contains_key(start.as_str()) {
                continue;
            }
            // (product id, whether its edges were pushed)
            let mut path: Vec<&str> = Vec::new();
            let mut stack: Vec<(&str, bool)> = vec![(start.as_str(), false)];
            while let Some((id, expanded)) = stack.pop() {
                if expanded {
                    state.insert(id, 2);
                    path.pop();
                    if let Some(r) = self.relationships.get(id) {
                        let below = [r.component.as_str(), r.platform.as_str()]
                            .iter()
                            .filter_map(|next| depth.get(next).copied())
                            .max()
                            .unwrap_or(0);
                        if below + 1 > MAX_RELATIONSHIP_DEPTH {
                            return Err(CsafError::RelationshipTooDeep {
                                pointer: r.pointer.clone(),
                                limit: MAX_RELATIONSHIP_DEPTH,
                            });
                        }
                        depth.insert(id, below + 1);
                    }
                    continue;
                }
                match state.get(id) {
                    Some(2) => continue,
                    Some(_) => {
                        let from = path.iter().position(|p| *p == id).unwrap_or(0);
                        let cycle: Vec<String> =
                            path.iter().skip(from).map(|s| (*s).to_owned()).collect();
                        let pointer = self
                            .relationships
                            .get(id)
                            .map(|r| r.pointer.clone())
                            .unwrap_or_default();
                        return Err(CsafError::RelationshipCycle {
                            pointer,
                            product_ids: cycle,
                        });
                    }
                    None => {}
                }
                let Some(r) = self.relationships.get(id) else {
                    state.insert(id, 2);
                    continue;
                };
                state.insert(id, 1);
                path.push(id);
                stack.push((id, true));
                for next in [r.component.as_str(), r.platform.as_str()] {
                    if self.relationships.contains_key(next) {
                        stack.push((next, false));
                    }
                }
            }
        }
        Ok(())
    }

    /// The identity a product id names, alone (a relationship's own product by what it relates).
    fn identity(&self, id: &str) -> Option<ProductIdentity> {
        if let Some(identity) = self.products.get(id) {
            return Some(identity.clone());
        }
        self.resolve(id).map(|p| p.identity)
    }

    /// The product a product id names; relationships followed to the root platform, the
    /// components on the way as subcomponents. Relationships have no cycles (checked).
    fn resolve(&self, id: &str) -> Option<Product> {
        let mut subcomponents = Vec::new();
        let mut current = id;
        // Bounded by the number of relationships even if a cycle slipped through.
        for _ in 0..=self.relationships.len() {
            match self.relationships.get(current) {
                Some(r) => {
                    subcomponents.push(self.component_identity(&r.component));
                    current = &r.platform;
                }
                None => {
                    let identity = self.products.get(current)?.clone();
                    subcomponents.sort();
                    subcomponents.dedup();
                    return Some(Product {
                        identity,
                        subcomponents,
                    });
                }
            }
        }
        None
    }

    /// A component named by a relationship: its own identity, or for a component that is itself
    /// a relationship's product, the component that relationship names.
    fn component_identity(&self, id: &str) -> ProductIdentity {
        let mut current = id;
        for _ in 0..=self.relationships.len() {
            match self.relationships.get(current) {
                Some(r) => current = &r.component,
                None => break,
            }
        }
        self.products
            .get(current)
            .cloned()
            .unwrap_or_else(|| product_id_identity(current))
    }
}

fn product_id_identity(id: &str) -> ProductIdentity {
    // A product id Stella wrote for a version-limited product carries the limit.
    if id.starts_with(VERSIONED_ID_PREFIX) {
        return ProductIdentity::from_id(id);
    }
    ProductIdentity {
        id: Some(id.to_owned()),
        ..ProductIdentity::default()
    }
}

/// A full product name's identity: its identification helper, else its product id.
fn identity_of(
    fpn: &Object<'_>,
    pointer: &str,
    id: &str,
    warnings: &mut Vec<CsafWarning>,
) -> Result<ProductIdentity, CsafError> {
    let Some(helper) = opt_object(fpn, pointer, "product_identification_helper")? else {
        return Ok(product_id_identity(id));
    };
    let hp = child(pointer, "product_identification_helper");
    let mut identity = match opt_string(helper, &hp, "purl")? {
        Some(purl) => {
            if !Purl::is_valid(&purl) {
                warnings.push(CsafWarning::MalformedPurl {
                    pointer: child(&hp, "purl"),
                    purl: purl.clone(),
                });
            }
            ProductIdentity::from_owned_id(purl)
        }
        None => ProductIdentity::default(),
    };
    if let Some(cpe) = opt_string(helper, &hp, "cpe")? {
        if cpe.starts_with("cpe:2.3:") {
            identity.cpe23 = Some(cpe);
        } else {
            identity.cpe22 = Some(cpe);
        }
    }
    for (i, h) in opt_array(helper, &hp, "hashes")?.iter().enumerate() {
        let p = format!("{hp}/hashes/{i}");
        let h = object(h, &p)?;
        for (j, fh) in opt_array(h, &p, "file_hashes")?.iter().enumerate() {
            let fp = format!("{p}/file_hashes/{j}");
            let fh = object(fh, &fp)?;
            let algorithm = string(fh, &fp, "algorithm")?;
            let value = string(fh, &fp, "value")?;
            if let Some(a) = hash_from_csaf(&algorithm) {
                identity.hashes.insert(a, value);
            }
        }
    }
    if identity.is_empty() {
        identity.id = Some(id.to_owned());
    }
    if id.starts_with(VERSIONED_ID_PREFIX) {
        identity.version = ProductIdentity::from_id(id).version;
    }
    Ok(identity)
}

/// The algorithm a CSAF hash names (CSAF uses OpenSSL's names: `sha256`, `sha3-256`, …).
fn hash_from_csaf(algorithm: &str) -> Option<HashAlgorithm> {
    Some(match algorithm.to_ascii_lowercase().as_str() {
        "md5" => HashAlgorithm::Md5,
        "sha1" | "sha-1" => HashAlgorithm::Sha1,
        "sha256" | "sha-256" => HashAlgorithm::Sha256,
        "sha384" | "sha-384" => HashAlgorithm::Sha384,
        "sha512" | "sha-512" => HashAlgorithm::Sha512,
        "sha3-224" => HashAlgorithm::Sha3_224,
        "sha3-256" => HashAlgorithm::Sha3_256,
        "sha3-384" => HashAlgorithm::Sha3_384,
        "sha3-512" => HashAlgorithm::Sha3_512,
        "blake2s256" => HashAlgorithm::Blake2s256,
        "blake2b256" => HashAlgorithm::Blake2b256,
        "blake2b512" => HashAlgorithm::Blake2b512,
        _ => return None,
    })
}

/// What one vulnerability says about one product besides its status.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Details {
    justification: Option<Justification>,
    flag_time: Option<jiff::Timestamp>,
    impact: Vec<String>,
    impact_time: Option<jiff::Timestamp>,
    actions: Vec<String>,
    action_categories: BTreeSet<String>,
    action_time: Option<jiff::Timestamp>,
}

/// Products of one status with the same details: (status, details, [(product id, pointer)]).
type StatementGroup = (Status, Details, Vec<(String, String)>);

struct Reader {
    tree: ProductTree,
    warnings: Vec<CsafWarning>,
}

impl Reader {
    fn document(
        &mut self,
        root: &Object<'_>,
        canonical_id: &Digest,
    ) -> Result<VexDocument, CsafError> {
        let document = opt_object(root, "", "document")?.ok_or(CsafError::MissingMember {
            pointer: String::new(),
            member: "document",
        })?;
        let version = opt_string(document, "/document", "csaf_version")?.unwrap_or_default();
        if version != "2.0" {
            return Err(CsafError::NotCsaf {
                pointer: "/document/csaf_version".to_owned(),
                found: version,
            });
        }
        let category = opt_string(document, "/document", "category")?.unwrap_or_default();
        if category != "csaf_vex" {
            self.warnings.push(CsafWarning::NotVexProfile { category });
        }
        let (author, role) = match opt_object(document, "/document", "publisher")? {
            Some(p) => (
                opt_string(p, "/document/publisher", "name")?,
                opt_string(p, "/document/publisher", "category")?,
            ),
            None => (None, None),
        };
        let author = author.unwrap_or_else(|| "unknown".to_owned());
        let tp = "/document/tracking";
        let tracking = opt_object(document, "/document", "tracking")?;
        let (id, current, initial, doc_version, tooling) = match tracking {
            Some(t) => (
                opt_string(t, tp, "id")?,
                time(t, tp, "current_release_date")?,
                time(t, tp, "initial_release_date")?,
                opt_string(t, tp, "version")?,
                tooling(t)?,
            ),
            None => (None, None, None, None, None),
        };
        let id = id.unwrap_or_else(|| format!("urn:stella:csaf:{}", canonical_id.hex()));
        // CSAF versions are integers or semantic versions; the model keeps the first number.
        let version = doc_version
            .as_deref()
            .and_then(|v| v.split(['.', '-', '+']).next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1);

        let items = opt_array(root, "", "vulnerabilities")?;
        let mut statements = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("/vulnerabilities/{index}");
            self.vulnerability(
                item,
                &pointer,
                current,
                canonical_id,
                &author,
                &mut statements,
            )?;
        }
        Ok(VexDocument {
            id,
            author,
            role,
            timestamp: current.or(initial),
            last_updated: current,
            version,
            tooling,
            statements,
        })
    }

    /// The product ids `product_ids` and `group_ids` of `obj` name, in order, deduplicated.
    fn product_ids(&mut self, obj: &Object<'_>, pointer: &str) -> Result<Vec<String>, CsafError> {
        let mut ids = strings(obj, pointer, "product_ids")?;
        let gp = child(pointer, "group_ids");
        for (i, g) in strings(obj, pointer, "group_ids")?.into_iter().enumerate() {
            match self.tree.groups.get(&g) {
                Some(members) => ids.extend(members.iter().cloned()),
                None => self.warnings.push(CsafWarning::UnknownGroupId {
                    pointer: format!("{gp}/{i}"),
                    group_id: g,
                }),
            }
        }
        let mut seen = BTreeSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }

    #[allow(clippy::too_many_lines)] // One pass over a vulnerability's lists, in CSAF's order.
    fn vulnerability(
        &mut self,
        value: &Value<'_>,
        pointer: &str,
        document_time: Option<jiff::Timestamp>,
        canonical_id: &Digest,
        author: &str,
        statements: &mut Vec<VexStatement>,
    ) -> Result<(), CsafError> {
        let obj = object(value, pointer)?;
        let mut ids = Vec::new();
        for (i, item) in opt_array(obj, pointer, "ids")?.iter().enumerate() {
            let p = format!("{pointer}/ids/{i}");
            ids.push(string(object(item, &p)?, &p, "text")?);
        }
        let cve = opt_string(obj, pointer, "cve")?;
        let name = match cve.clone().or_else(|| ids.first().cloned()) {
            Some(n) => n,
            None => {
                return Err(CsafError::NoVulnerabilityId {
                    pointer: pointer.to_owned(),
                });
            }
        };
        let mut vulnerability = Vulnerability::new(name, ids.into_iter().chain(cve));
        for (i, n) in opt_array(obj, pointer, "notes")?.iter().enumerate() {
            let p = format!("{pointer}/notes/{i}");
            let n = object(n, &p)?;
            if opt_string(n, &p, "category")?.as_deref() == Some("description") {
                vulnerability.description = opt_string(n, &p, "text")?;
                break;
            }
        }

        // What flags, impact threats and remediations say, by product id.
        let mut details: BTreeMap<String, Details> = BTreeMap::new();
        for (i, f) in opt_array(obj, pointer, "flags")?.iter().enumerate() {
            let p = format!("{pointer}/flags/{i}");
            let f = object(f, &p)?;
            let label = string(f, &p, "label")?;
            let justification = Justification::from_openvex(&label);
            if justification.kind == JustificationKind::Other {
                self.warnings.push(CsafWarning::UnknownFlagLabel {
                    pointer: child(&p, "label"),
                    label,
                });
            }
            let date = time(f, &p, "date")?;
            for id in self.product_ids(f, &p)? {
                let d = details.entry(id).or_default();
                d.justification = Some(justification.clone());
                d.flag_time = date;
            }
        }
        let mut general = Details::default();
        for (i, t) in opt_array(obj, pointer, "threats")?.iter().enumerate() {
            let p = format!("{pointer}/threats/{i}");
            let t = object(t, &p)?;
            if opt_string(t, &p, "category")?.as_deref() != Some("impact") {
                continue;
            }
            let text = string(t, &p, "details")?;
            let date = time(t, &p, "date")?;
            let targets = self.product_ids(t, &p)?;
            let add = |d: &mut Details| {
                d.impact.push(text.clone());
                d.impact_time = d.impact_time.max(date);
            };
            if targets.is_empty() {
                add(&mut general);
            }
            for id in targets {
                add(details.entry(id).or_default());
            }
        }
        for (i, r) in opt_array(obj, pointer, "remediations")?.iter().enumerate() {
            let p = format!("{pointer}/remediations/{i}");
            let r = object(r, &p)?;
            let category = string(r, &p, "category")?;
            let text = string(r, &p, "details")?;
            let date = time(r, &p, "date")?;
            let targets = self.product_ids(r, &p)?;
            let add = |d: &mut Details| {
                d.actions.push(text.clone());
                d.action_categories.insert(category.clone());
                d.action_time = d.action_time.max(date);
            };
            if targets.is_empty() {
                add(&mut general);
            }
            for id in targets {
                add(details.entry(id).or_default());
            }
        }

        let sp = child(pointer, "product_status");
        let Some(lists) = opt_object(obj, pointer, "product_status")? else {
            return Ok(());
        };
        // Products of one status with the same details are one statement.
        let mut groups: Vec<StatementGroup> = Vec::new();
        let mut group_of: BTreeMap<(Status, Details), usize> = BTreeMap::new();
        for (list, members) in lists.iter() {
            let lp = child(&sp, list);
            let ids = array(members, &lp)?
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| CsafError::WrongType {
                            pointer: format!("{lp}/{i}"),
                            expected: "a string",
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let status = match list {
                "known_affected" => Status::Affected,
                "known_not_affected" => Status::NotAffected,
                "fixed" => Status::Fixed,
                "under_investigation" => Status::UnderInvestigation,
                "first_affected" | "first_fixed" | "last_affected" | "recommended" => {
                    self.warnings.push(CsafWarning::OtherProductStatus {
                        pointer: lp,
                        list: list.to_owned(),
                        product_ids: ids,
                    });
                    continue;
                }
                _ => {
                    return Err(CsafError::UnknownProductStatus {
                        pointer: lp,
                        list: list.to_owned(),
                    });
                }
            };
            for (i, id) in ids.into_iter().enumerate() {
                let at = format!("{lp}/{i}");
                let mut d = details.get(&id).cloned().unwrap_or_default();
                d.impact.extend(general.impact.iter().cloned());
                d.impact_time = d.impact_time.max(general.impact_time);
                d.actions.extend(general.actions.iter().cloned());
                d.action_categories
                    .extend(general.action_categories.iter().cloned());
                d.action_time = d.action_time.max(general.action_time);
                let key = (status, d);
                match group_of.get(&key).and_then(|&g| groups.get_mut(g)) {
                    Some((_, _, members)) => members.push((id, at)),
                    None => {
                        group_of.insert(key.clone(), groups.len());
                        groups.push((key.0, key.1, vec![(id, at)]));
                    }
                }
            }
        }

        for (status, d, ids) in groups {
            let mut products: Vec<Product> = Vec::new();
            // Where the product with subcomponents of each identity is, and which products
            // without any are in, so that many products stay linear.
            let mut with_subcomponents: BTreeMap<ProductIdentity, usize> = BTreeMap::new();
            let mut alone: BTreeSet<ProductIdentity> = BTreeSet::new();
            for (id, at) in ids {
                let product = match self.tree.resolve(&id) {
                    Some(p) => p,
                    None => {
                        if self.tree.identity(&id).is_none() {
                            self.warnings.push(CsafWarning::UnknownProductId {
                                pointer: at,
                                product_id: id.clone(),
                            });
                        }
                        Product {
                            identity: product_id_identity(&id),
                            subcomponents: Vec::new(),
                        }
                    }
                };
                // One product named with several components (one relationship each) is one
                // product with those subcomponents.
                if product.subcomponents.is_empty() {
                    if alone.insert(product.identity.clone()) {
                        products.push(product);
                    }
                } else if let Some(q) = with_subcomponents
                    .get(&product.identity)
                    .and_then(|&i| products.get_mut(i))
                {
                    q.subcomponents.extend(product.subcomponents);
                } else {
                    with_subcomponents.insert(product.identity.clone(), products.len());
                    products.push(product);
                }
            }
            for p in &mut products {
                p.subcomponents.sort();
                p.subcomponents.dedup();
            }
            let timestamp = match d.flag_time.or(d.impact_time).or(document_time) {
                Some(t) => t,
                None => {
                    return Err(CsafError::NoTimestamp {
                        pointer: pointer.to_owned(),
                    });
                }
            };
            if statements.len() >= MAX_STATEMENTS {
                return Err(CsafError::TooMany {
                    pointer: "/vulnerabilities".to_owned(),
                    count: statements.len() + 1,
                    limit: MAX_STATEMENTS,
                });
            }
            let status_notes = (!d.action_categories.is_empty()).then(|| {
                d.action_categories
                    .iter()
                    .map(|c| format!("CSAF remediation: {c}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            statements.push(VexStatement {
                id: None,
                version: None,
                vulnerability: vulnerability.clone(),
                products,
                status,
                justification: d.justification,
                status_notes,
                impact_statement: (!d.impact.is_empty()).then(|| d.impact.join("\n")),
                action_statement: (!d.actions.is_empty()).then(|| d.actions.join("\n")),
                action_statement_timestamp: d.action_time,
                supplier: None,
                timestamp,
                last_updated: document_time,
                provenance: Provenance {
                    document: canonical_id.clone(),
                    format: VexFormat::Csaf,
                    statement_index: statements.len(),
                    author: author.to_owned(),
                },
            });
        }
        Ok(())
    }
}

/// `tracking.generator.engine` as `name version`.
fn tooling(tracking: &Object<'_>) -> Result<Option<String>, CsafError> {
    let gp = "/document/tracking/generator";
    let Some(generator) = opt_object(tracking, "/document/tracking", "generator")? else {
        return Ok(None);
    };
    let Some(engine) = opt_object(generator, gp, "engine")? else {
        return Ok(None);
    };
    let ep = child(gp, "engine");
    let name = opt_string(engine, &ep, "name")?;
    let version = opt_string(engine, &ep, "version")?;
    Ok(match (name, version) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (Some(n), None) => Some(n),
        _ => None,
    })
}

/// The `product_id` prefix of products written without an identifier that can serve as one.
const PRODUCT_ID_PREFIX: &str = "CSAFPID-";

/// Flag labels CSAF 2.0 defines (OpenVEX's five).
const CSAF_FLAG_LABELS: [&str; 5] = [
    "component_not_present",
    "inline_mitigations_already_exist",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_not_present",
];

/// Remediation categories CSAF 2.0 defines.
const REMEDIATION_CATEGORIES: [&str; 5] = [
    "mitigation",
    "no_fix_planned",
    "none_available",
    "vendor_fix",
    "workaround",
];

/// Publisher categories CSAF 2.0 defines.
const PUBLISHER_CATEGORIES: [&str; 6] = [
    "coordinator",
    "discoverer",
    "other",
    "translator",
    "user",
    "vendor",
];

/// Why a document could not be written as CSAF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsafWriteError {
    /// The document has no statement and no time to release it at.
    #[error("the document has no timestamp and no statements; CSAF needs a release date")]
    NoTimestamp,
    /// Two statements give one product of one vulnerability different statuses or
    /// justifications; CSAF lets a product be in one status list and carry one flag (mandatory
    /// tests 6.1.6 and 6.1.33).
    #[error(
        "statements {first} and {second} say {what} for product {product:?} in {vulnerability}; CSAF allows one: merge the document first (stella vex merge --to csaf) to choose by the documented rules"
    )]
    Contradiction {
        /// The vulnerability.
        vulnerability: String,
        /// The product id.
        product: String,
        /// What differs (`affected and fixed`, `the flags a and b`).
        what: String,
        /// Index of the first statement.
        first: usize,
        /// Index of the second.
        second: usize,
    },
    /// The written document could not be canonicalised.
    #[error("the written document is not canonical JSON: {source}")]
    Canonical {
        /// Why.
        #[source]
        source: jcs::JcsError,
    },
}

impl Kinded for CsafWriteError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// The document as canonical CSAF 2.0 VEX (RFC 8785 bytes), valid against the CSAF 2.0 schema.
///
/// Products become `full_product_names` (a product id that is the model's identifier when that is
/// all that names it, else `CSAFPID-<n>` in sorted order; purl, CPE and hashes in the
/// identification helper); a product with subcomponents gets one `default_component_of`
/// relationship per subcomponent, and the statement names the relationship's product. Statements
/// are grouped by vulnerability: a `cve` when the name is a CVE id, every other name in `ids`.
/// Justifications of one of CSAF's five kinds are `flags` (by the kind's label); every not-affected product gets an
/// `impact` threat (its impact statement, else `Justification: <label>`, as the VEX profile
/// requires one of the two); every affected product a remediation (its action statement with the
/// category the reader noted, else `mitigation`; `none_available` when there is no action
/// statement). Dates are the statements' timestamps.
///
/// CSAF attaches flags, threats and remediations to product ids within a vulnerability, so two
/// statements that give one product of one vulnerability different justifications read back
/// with both on that product; a label outside CSAF's five survives only in the impact text.
/// Hashes that are not hex of at least 32 digits (the schema's pattern) are not written.
///
/// # Errors
/// [`CsafWriteError::Contradiction`] when two statements give one product of one vulnerability
/// different statuses or justifications (merge first); [`CsafWriteError`] when the document
/// has no time at all, or a value is not canonical JSON.
#[allow(clippy::too_many_lines)] // One pass from the model to CSAF's sections.
pub fn write(document: &VexDocument) -> Result<Vec<u8>, CsafWriteError> {
    let latest = document.statements.iter().map(|s| s.timestamp).max();
    let current = document
        .last_updated
        .or(latest)
        .or(document.timestamp)
        .ok_or(CsafWriteError::NoTimestamp)?;
    let initial = document.timestamp.unwrap_or(current).min(current);

    // Product ids, assigned in sorted identity order.
    let mut identities: BTreeSet<&ProductIdentity> = BTreeSet::new();
    for p in document.statements.iter().flat_map(|s| &s.products) {
        identities.insert(&p.identity);
        identities.extend(p.subcomponents.iter());
    }
    let mut product_ids: BTreeMap<&ProductIdentity, String> = BTreeMap::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for identity in &identities {
        if let Some(id) = own_product_id(identity)
            && taken.insert(id.clone())
        {
            product_ids.insert(identity, id);
        }
    }
    let mut n = 0usize;
    for identity in &identities {
        if product_ids.contains_key(identity) {
            continue;
        }
        let id = loop {
            n += 1;
            let candidate = format!("{PRODUCT_ID_PREFIX}{n:04}");
            if taken.insert(candidate.clone()) {
                break candidate;
            }
        };
        product_ids.insert(identity, id);
    }
    let pid = |identity: &ProductIdentity| product_ids.get(identity).cloned().unwrap_or_default();

    let full_product_names: Vec<Json> = product_ids
        .iter()
        .map(|(identity, id)| Json::Object(full_product_name(identity, id)))
        .collect();
    // (component, product) → the relationship's product id.
    let mut relationships: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut statement_products: Vec<Vec<String>> = Vec::new();
    for s in &document.statements {
        let mut ids = Vec::new();
        for p in &s.products {
            let product = pid(&p.identity);
            if p.subcomponents.is_empty() {
                ids.push(product.clone());
            }
            for sub in &p.subcomponents {
                let component = pid(sub);
                let id = format!("{component}:in:{product}");
                relationships.insert((component, product.clone()), id.clone());
                ids.push(id);
            }
        }
        statement_products.push(ids);
    }
    let relationships_json: Vec<Json> = relationships
        .iter()
        .map(|((component, product), id)| {
            let mut fpn = Map::new();
            fpn.insert(
                "name".into(),
                format!("{component} as a component of {product}").into(),
            );
            fpn.insert("product_id".into(), id.clone().into());
            let mut r = Map::new();
            r.insert("category".into(), "default_component_of".into());
            r.insert("full_product_name".into(), Json::Object(fpn));
            r.insert("product_reference".into(), component.clone().into());
            r.insert(
                "relates_to_product_reference".into(),
                product.clone().into(),
            );
            Json::Object(r)
        })
        .collect();

    // Vulnerabilities, by name.
    let mut by_vulnerability: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in document.statements.iter().enumerate() {
        by_vulnerability
            .entry(s.vulnerability.name.as_str())
            .or_default()
            .push(i);
    }
    let mut vulnerabilities = Vec::new();
    for indices in by_vulnerability.values() {
        let Some(first) = indices.first().and_then(|i| document.statements.get(*i)) else {
            continue;
        };
        let v = &first.vulnerability;
        let mut aliases: BTreeSet<&str> = BTreeSet::new();
        let mut description = None;
        let mut status: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut flags = Vec::new();
        let mut threats = Vec::new();
        let mut remediations = Vec::new();
        // Each product's status and flag so far in this vulnerability, with the statement
        // that gave it.
        let mut status_of: BTreeMap<&str, (Status, usize)> = BTreeMap::new();
        let mut flag_of: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        for &i in indices {
            let (Some(s), Some(ids)) = (document.statements.get(i), statement_products.get(i))
            else {
                continue;
            };
            aliases.extend(s.vulnerability.aliases.iter().map(String::as_str));
            description = description.or(s.vulnerability.description.as_deref());
            if ids.is_empty() {
                continue;
            }
            let list = match s.status {
                Status::Affected => "known_affected",
                Status::NotAffected => "known_not_affected",
                Status::Fixed => "fixed",
                Status::UnderInvestigation => "under_investigation",
            };
            for id in ids {
                match status_of.get(id.as_str()) {
                    Some(&(other, first)) if other != s.status => {
                        return Err(CsafWriteError::Contradiction {
                            vulnerability: v.name.clone(),
                            product: id.clone(),
                            what: format!(
                                "{} and {}",
                                other.openvex_label(),
                                s.status.openvex_label()
                            ),
                            first,
                            second: i,
                        });
                    }
                    Some(_) => {}
                    None => {
                        status_of.insert(id, (s.status, i));
                    }
                }
            }
            status.entry(list).or_default().extend(ids.iter().cloned());
            let ids_json = || Json::Array(ids.iter().map(|i| i.clone().into()).collect());
            let date: Json = s.timestamp.to_string().into();
            // CSAF's five flag labels are OpenVEX's five: a justification of one of those
            // kinds is a flag, whatever label it was read with (CycloneDX's
            // `code_not_present` is the flag `vulnerable_code_not_present`).
            if let Some(j) = &s.justification
                && let Some(label) = j
                    .kind
                    .openvex_label()
                    .filter(|l| CSAF_FLAG_LABELS.contains(l))
            {
                // One flag per product: a product flagged before with the same label needs no
                // second flag, one with another label is a contradiction.
                let mut unflagged = Vec::new();
                for id in ids {
                    match flag_of.get(id.as_str()) {
                        Some(&(other, first)) if other != label => {
                            return Err(CsafWriteError::Contradiction {
                                vulnerability: v.name.clone(),
                                product: id.clone(),
                                what: format!("the justifications {other} and {label}"),
                                first,
                                second: i,
                            });
                        }
                        Some(_) => {}
                        None => {
                            flag_of.insert(id, (label, i));
                            unflagged.push(Json::from(id.clone()));
                        }
                    }
                }
                if !unflagged.is_empty() {
                    let mut f = Map::new();
                    f.insert("date".into(), date.clone());
                    f.insert("label".into(), label.into());
                    f.insert("product_ids".into(), Json::Array(unflagged));
                    flags.push(Json::Object(f));
                }
            }
            let impact = s.impact_statement.clone().or_else(|| {
                (s.status == Status::NotAffected).then(|| match &s.justification {
                    Some(j) => format!("Justification: {}", j.label),
                    None => "Not affected.".to_owned(),
                })
            });
            if let Some(details) = impact {
                let mut t = Map::new();
                t.insert("category".into(), "impact".into());
                t.insert("date".into(), date.clone());
                t.insert("details".into(), details.into());
                t.insert("product_ids".into(), ids_json());
                threats.push(Json::Object(t));
            }
            let noted: Vec<&str> = s
                .status_notes
                .as_deref()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.strip_prefix("CSAF remediation: "))
                .filter(|c| REMEDIATION_CATEGORIES.contains(c))
                .collect();
            let remediation = match (&s.action_statement, s.status) {
                (Some(a), _) => Some((noted.first().copied().unwrap_or("mitigation"), a.clone())),
                (None, Status::Affected) => Some((
                    "none_available",
                    "No action statement was given.".to_owned(),
                )),
                (None, _) => None,
            };
            if let Some((category, details)) = remediation {
                let mut r = Map::new();
                r.insert("category".into(), category.into());
                if let Some(t) = s.action_statement_timestamp {
                    r.insert("date".into(), t.to_string().into());
                }
                r.insert("details".into(), details.into());
                r.insert("product_ids".into(), ids_json());
                remediations.push(Json::Object(r));
            }
        }
        let mut vj = Map::new();
        let is_cve = is_cve_id(&v.name);
        if is_cve {
            vj.insert("cve".into(), v.name.clone().into());
        }
        let other_ids: Vec<Json> = (!is_cve)
            .then_some(v.name.as_str())
            .into_iter()
            .chain(aliases.iter().copied().filter(|a| *a != v.name))
            .map(|text| {
                let mut id = Map::new();
                id.insert("system_name".into(), id_system(text).into());
                id.insert("text".into(), text.into());
                Json::Object(id)
            })
            .collect();
        if !other_ids.is_empty() {
            vj.insert("ids".into(), Json::Array(other_ids));
        }
        // The VEX profile requires notes on every vulnerability (CSAF 2.0 6.1.27.5): the
        // description when there is one, else a general note saying what the entry is. Only a
        // `description` note is read back as the description.
        let mut note = Map::new();
        match description {
            Some(d) => {
                note.insert("category".into(), "description".into());
                note.insert("text".into(), d.into());
            }
            None => {
                note.insert("category".into(), "general".into());
                note.insert(
                    "text".into(),
                    format!(
                        "The status of {} in the products listed, as {} states it.",
                        v.name, document.author
                    )
                    .into(),
                );
            }
        }
        vj.insert("notes".into(), Json::Array(vec![Json::Object(note)]));
        let mut ps = Map::new();
        for (list, ids) in status {
            ps.insert(
                list.into(),
                Json::Array(ids.into_iter().map(Json::from).collect()),
            );
        }
        vj.insert("product_status".into(), Json::Object(ps));
        for (name, items) in [
            ("flags", flags),
            ("threats", threats),
            ("remediations", remediations),
        ] {
            if !items.is_empty() {
                vj.insert(
                    name.into(),
                    Json::Array(
                        sorted(items).map_err(|source| CsafWriteError::Canonical { source })?,
                    ),
                );
            }
        }
        vulnerabilities.push(Json::Object(vj));
    }

    let mut publisher = Map::new();
    let category = document
        .role
        .as_deref()
        .filter(|r| PUBLISHER_CATEGORIES.contains(r))
        .unwrap_or("other");
    publisher.insert("category".into(), category.into());
    publisher.insert("name".into(), document.author.clone().into());
    publisher.insert(
        "namespace".into(),
        publisher_namespace(&document.author).into(),
    );
    let mut history = Map::new();
    history.insert("date".into(), current.to_string().into());
    history.insert("number".into(), document.version.max(1).to_string().into());
    history.insert("summary".into(), "Current version.".into());
    let mut tracking = Map::new();
    tracking.insert("current_release_date".into(), current.to_string().into());
    if let Some(t) = &document.tooling {
        let mut engine = Map::new();
        engine.insert("name".into(), t.clone().into());
        let mut generator = Map::new();
        generator.insert("engine".into(), Json::Object(engine));
        tracking.insert("generator".into(), Json::Object(generator));
    }
    tracking.insert("id".into(), tracking_id(&document.id).into());
    tracking.insert("initial_release_date".into(), initial.to_string().into());
    tracking.insert(
        "revision_history".into(),
        Json::Array(vec![Json::Object(history)]),
    );
    tracking.insert("status".into(), "final".into());
    tracking.insert("version".into(), document.version.max(1).to_string().into());
    let mut note = Map::new();
    note.insert("category".into(), "summary".into());
    note.insert(
        "text".into(),
        format!("VEX statements of {} ({}).", document.author, document.id).into(),
    );
    let mut doc = Map::new();
    doc.insert("category".into(), "csaf_vex".into());
    doc.insert("csaf_version".into(), "2.0".into());
    doc.insert("notes".into(), Json::Array(vec![Json::Object(note)]));
    doc.insert("publisher".into(), Json::Object(publisher));
    doc.insert("title".into(), format!("VEX {}", document.id).into());
    doc.insert("tracking".into(), Json::Object(tracking));

    let mut tree = Map::new();
    if !full_product_names.is_empty() {
        tree.insert("full_product_names".into(), Json::Array(full_product_names));
    }
    if !relationships_json.is_empty() {
        tree.insert("relationships".into(), Json::Array(relationships_json));
    }
    let mut root = Map::new();
    root.insert("document".into(), Json::Object(doc));
    root.insert("product_tree".into(), Json::Object(tree));
    if !vulnerabilities.is_empty() {
        root.insert("vulnerabilities".into(), Json::Array(vulnerabilities));
    }
    jcs::to_canonical(&Json::Object(root)).map_err(|source| CsafWriteError::Canonical { source })
}

/// The product id a product is written under when its identifier alone names it.
fn own_product_id(identity: &ProductIdentity) -> Option<String> {
    // A version limit has no place in a full product name's helper: the product id carries it.
    if identity.version.is_some() {
        return identity.id_with_version();
    }
    let id = identity.id.as_ref()?;
    let only_id = identity.purl.is_none()
        && identity.cpe22.is_none()
        && identity.cpe23.is_none()
        && identity.hashes.is_empty()
        && !id.is_empty();
    only_id.then(|| id.clone())
}

fn full_product_name(identity: &ProductIdentity, id: &str) -> Map<String, Json> {
    let name = identity
        .id
        .clone()
        .or_else(|| identity.purl.clone())
        .or_else(|| identity.cpe23.clone())
        .or_else(|| identity.cpe22.clone())
        .unwrap_or_else(|| id.to_owned());
    let name = match &identity.version {
        Some(version) => format!("{name} {version}"),
        None => name,
    };
    let mut helper = Map::new();
    if let Some(purl) = &identity.purl {
        helper.insert("purl".into(), purl.clone().into());
    }
    if let Some(cpe) = identity.cpe23.as_ref().or(identity.cpe22.as_ref()) {
        helper.insert("cpe".into(), cpe.clone().into());
    }
    let file_hashes: Vec<Json> = identity
        .hashes
        .iter()
        .filter(|(_, v)| v.len() >= 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(a, v)| {
            let mut h = Map::new();
            h.insert("algorithm".into(), hash_to_csaf(*a).into());
            h.insert("value".into(), v.clone().into());
            Json::Object(h)
        })
        .collect();
    if !file_hashes.is_empty() {
        let mut hashes = Map::new();
        hashes.insert("file_hashes".into(), Json::Array(file_hashes));
        hashes.insert("filename".into(), name.clone().into());
        helper.insert("hashes".into(), Json::Array(vec![Json::Object(hashes)]));
    }
    let mut fpn = Map::new();
    fpn.insert("name".into(), name.into());
    fpn.insert("product_id".into(), id.into());
    if !helper.is_empty() {
        fpn.insert("product_identification_helper".into(), Json::Object(helper));
    }
    fpn
}

fn hash_to_csaf(a: HashAlgorithm) -> &'static str {
    match a {
        HashAlgorithm::Md5 => "md5",
        HashAlgorithm::Sha1 => "sha1",
        HashAlgorithm::Sha256 => "sha256",
        HashAlgorithm::Sha384 => "sha384",
        HashAlgorithm::Sha512 => "sha512",
        HashAlgorithm::Sha3_224 => "sha3-224",
        HashAlgorithm::Sha3_256 => "sha3-256",
        HashAlgorithm::Sha3_384 => "sha3-384",
        HashAlgorithm::Sha3_512 => "sha3-512",
        HashAlgorithm::Blake2s256 => "blake2s256",
        HashAlgorithm::Blake2b256 => "blake2b256",
        HashAlgorithm::Blake2b512 => "blake2b512",
    }
}

/// Whether `name` matches the CSAF schema's CVE pattern `^CVE-[0-9]{4}-[0-9]{4,}$`.
fn is_cve_id(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && number.len() >= 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The system an identifier belongs to, by its prefix.
fn id_system(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or_default() {
        "CVE" => "CVE",
        "GHSA" => "GitHub Security Advisory",
        "GO" => "Go Vulnerability Database",
        "RUSTSEC" => "RustSec Advisory Database",
        "PYSEC" => "PyPA Advisory Database",
        _ => "OSV",
    }
}

/// The publisher namespace: the author when it is a URL, else a URN naming the author.
fn publisher_namespace(author: &str) -> String {
    if author.starts_with("https://") || author.starts_with("http://") {
        return author.to_owned();
    }
    format!(
        "urn:stella:publisher:{}",
        Digest::sha256(author.as_bytes())
            .hex()
            .get(..16)
            .unwrap_or_default()
    )
}

/// `tracking.id` must match `^[\S](.*[\S])?$`: the document id without surrounding space.
fn tracking_id(id: &str) -> String {
    let trimmed = id.trim();
    if trimmed.is_empty() {
        "unnamed".to_owned()
    } else {
        trimmed.to_owned()
    }
}
