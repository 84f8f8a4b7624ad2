//! The deterministic merge: one effective statement per (vulnerability, product, subcomponent).
//!
//! Every input statement is split into one claim per product and subcomponent it names, and the
//! claims are grouped by
//! - the vulnerability: names and aliases that any statement links are one vulnerability
//!   (`CVE-2024-1` with alias `GHSA-x` and another statement's `GHSA-x` fall together), keyed by
//!   the smallest of its names;
//! - the product and subcomponent by their [`ProductKey`] (spellings of one product — `%2F` or
//!   `/`, tag-and-digest or `pkg:oci` forms of one image — are one key). A versionless purl is
//!   its own product here: folding it into each version would make it claim more than it says;
//!   [`crate::matching`] applies it to every version when a product is queried.
//!
//! In each group the effective statement is chosen by, in order:
//! 1. **priority**: the source's priority under the [`Policy`] (by document canonical id, else by
//!    author; default 0 for all), higher wins;
//! 2. **timestamp**: the later statement wins;
//! 3. **status**: the more conservative wins (affected > under_investigation > fixed >
//!    not_affected);
//! 4. and, only so that equal claims still give one answer, the smaller (source canonical id,
//!    statement index).
//!
//! Each [`MergedStatement`] keeps the [`Superseded`] claims it won over: their provenance, status,
//! justification label, timestamp and the [`Rule`] that decided.
//!
//! The result does not depend on the order of inputs or of statements in them: the same inputs
//! give the same [`Merged`] and, written with [`crate::openvex::write`], the same bytes. The
//! merged document's id is derived from the sorted canonical ids of its inputs, and its
//! timestamp is the latest input timestamp: the wall clock is never read.
//!
//! ```
//! use stella_vex::merge::{self, MergeInput, Policy, Rule};
//! use stella_vex::{Status, openvex};
//!
//! let read = |author: &str, time: &str, status: &str, extra: &str| -> MergeInput {
//!     let json = format!(
//!         r#"{{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/{author}",
//!         "author":"{author}","timestamp":"{time}","version":1,"statements":[{{
//!         "vulnerability":{{"name":"CVE-2024-1"}},"products":[{{"@id":"pkg:cargo/hyper@1.4.0"}}],
//!         "status":"{status}",{extra}}}]}}"#
//!     );
//!     openvex::read(json.as_bytes()).unwrap().into()
//! };
//! let vendor = read("vendor", "2024-01-01T00:00:00Z", "not_affected",
//!     r#""justification":"vulnerable_code_not_present""#);
//! let scanner = read("scanner", "2024-06-01T00:00:00Z", "affected",
//!     r#""action_statement":"Upgrade.""#);
//!
//! // All sources equal: the later statement wins.
//! let merged = merge::merge(&[vendor.clone(), scanner.clone()], &Policy::default()).unwrap();
//! assert_eq!(merged.statements[0].statement.status, Status::Affected);
//! assert_eq!(merged.statements[0].superseded[0].rule, Rule::Timestamp);
//!
//! // The vendor ranked first: its statement wins, the scanner's is kept as superseded.
//! let mut policy = Policy::default();
//! policy.author_priorities.insert("vendor".into(), 1);
//! let merged = merge::merge(&[scanner, vendor], &policy).unwrap();
//! assert_eq!(merged.statements[0].statement.status, Status::NotAffected);
//! assert_eq!(merged.statements[0].superseded[0].provenance.author, "scanner");
//! let bytes = openvex::write(&merged.document()).unwrap();
//! # assert!(!bytes.is_empty());
//! ```
//!
//! What this module does not own: reading policy files (the `stella` binary), matching a query
//! against products (see [`crate::matching`]), or any format.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use stella_core::{Digest, ErrorKind, Kinded};

use crate::matching::ProductKey;
use crate::model::{
    Justification, Product, ProductIdentity, Provenance, Status, VexDocument, VexStatement,
    Vulnerability,
};
use crate::openvex::OpenVexRead;

/// Most claims (statement × product × subcomponent) one merge holds: the measured merge is a
/// million statements; a product list that multiplies past this is refused before it grows.
pub const MAX_CLAIMS: usize = 4_000_000;

/// The author the merged document names when the policy gives none.
pub const DEFAULT_AUTHOR: &str = "Stella";

/// Why a merge could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The inputs split into more claims than [`MAX_CLAIMS`].
    #[error(
        "the inputs hold {count} claims (statement × product × subcomponent), more than the limit of {limit}"
    )]
    TooManyClaims {
        /// Claims counted when the limit was passed.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
}

impl Kinded for MergeError {
    fn kind(&self) -> ErrorKind {
        match self {
            MergeError::TooManyClaims { .. } => ErrorKind::TooLarge,
        }
    }
}

/// Which sources outrank which, and who the merged document is by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Priorities by source document canonical id; these win over `author_priorities`.
    pub document_priorities: BTreeMap<Digest, i64>,
    /// Priorities by the source's author or publisher, as the document names it.
    pub author_priorities: BTreeMap<String, i64>,
    /// The merged document's author.
    pub author: String,
}

impl Default for Policy {
    /// All sources equal, the merged document by [`DEFAULT_AUTHOR`].
    fn default() -> Self {
        Policy {
            document_priorities: BTreeMap::new(),
            author_priorities: BTreeMap::new(),
            author: DEFAULT_AUTHOR.to_owned(),
        }
    }
}

impl Policy {
    /// The priority of the source a statement came from (0 when the policy names it not).
    pub fn priority(&self, provenance: &Provenance) -> i64 {
        self.document_priorities
            .get(&provenance.document)
            .or_else(|| self.author_priorities.get(&provenance.author))
            .copied()
            .unwrap_or(0)
    }
}

/// One document to merge, with its canonical id.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeInput {
    /// `sha256(JCS(source))`.
    pub canonical_id: Digest,
    /// The document in the canonical model.
    pub document: VexDocument,
}

impl From<OpenVexRead> for MergeInput {
    fn from(read: OpenVexRead) -> Self {
        MergeInput {
            canonical_id: read.canonical_id,
            document: read.document,
        }
    }
}

/// The rule that decided between the effective statement and one it superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// The winner's source has the higher policy priority.
    Priority,
    /// Equal priority; the winner is later.
    Timestamp,
    /// Equal priority and time; the winner's status is the more conservative.
    Status,
    /// Equal in all three; the smaller (source canonical id, statement index) is kept.
    SourceOrder,
}

impl Rule {
    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Priority => "priority",
            Rule::Timestamp => "timestamp",
            Rule::Status => "status",
            Rule::SourceOrder => "source_order",
        }
    }
}

/// A claim the effective statement won over.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Superseded {
    /// Where it came from.
    pub provenance: Provenance,
    /// Its status.
    pub status: Status,
    /// Its justification, label as written.
    pub justification: Option<Justification>,
    /// Its time.
    pub timestamp: jiff::Timestamp,
    /// Its source's priority under the policy.
    pub priority: i64,
    /// Why it lost.
    pub rule: Rule,
}

/// The effective statement for one (vulnerability, product, subcomponent).
#[derive(Debug, Clone, PartialEq)]
pub struct MergedStatement {
    /// The winning statement narrowed to this product and subcomponent, its vulnerability's
    /// aliases every name the inputs link to it; its provenance is the winner's.
    pub statement: VexStatement,
    /// The winner's priority under the policy.
    pub priority: i64,
    /// What it superseded, sorted.
    pub superseded: Vec<Superseded>,
}

/// The merge's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The merged document's id: `urn:stella:vex-merge:sha256:<hex>` over the sorted input ids.
    pub id: String,
    /// The inputs' canonical ids, sorted, without duplicates.
    pub inputs: Vec<Digest>,
    /// The latest input timestamp (document or statement), `None` with no inputs.
    pub timestamp: Option<jiff::Timestamp>,
    /// The merged document's author.
    pub author: String,
    /// The effective statements, sorted by (vulnerability, product, subcomponent).
    pub statements: Vec<MergedStatement>,
}

impl Merged {
    /// The merged statements as one document (for [`crate::openvex::write`] and the other
    /// writers). Claims that one source statement won are one statement again, with the
    /// products and subcomponents it won (so a statement's `@id` appears once).
    pub fn document(&self) -> VexDocument {
        let mut by_source: BTreeMap<(&Digest, usize), VexStatement> = BTreeMap::new();
        for merged in &self.statements {
            let p = &merged.statement.provenance;
            match by_source.entry((&p.document, p.statement_index)) {
                Entry::Vacant(e) => {
                    e.insert(merged.statement.clone());
                }
                Entry::Occupied(mut e) => {
                    add_products(&mut e.get_mut().products, &merged.statement.products);
                }
            }
        }
        VexDocument {
            id: self.id.clone(),
            author: self.author.clone(),
            role: None,
            timestamp: self.timestamp,
            last_updated: None,
            version: 1,
            tooling: None,
            statements: by_source.into_values().collect(),
        }
    }
}

/// `more` added to `products`: a product already there gains the subcomponents; the result is
/// sorted, so the document does not depend on the order claims were met in.
fn add_products(products: &mut Vec<Product>, more: &[Product]) {
    for product in more {
        match products.iter_mut().find(|p| p.identity == product.identity) {
            Some(existing) => {
                existing
                    .subcomponents
                    .extend(product.subcomponents.iter().cloned());
                existing.subcomponents.sort();
                existing.subcomponents.dedup();
            }
            None => products.push(product.clone()),
        }
    }
    products.sort();
}

/// One statement's claim about one product and subcomponent.
struct Claim<'a> {
    statement: &'a VexStatement,
    product: Option<Product>,
    priority: i64,
}

impl Claim<'_> {
    /// The ordering of precedence: a greater claim wins.
    fn precedence(&self, other: &Claim<'_>) -> (std::cmp::Ordering, Rule) {
        let (a, b) = (self.statement, other.statement);
        let by = [
            (self.priority.cmp(&other.priority), Rule::Priority),
            (a.timestamp.cmp(&b.timestamp), Rule::Timestamp),
            (a.status.cmp(&b.status), Rule::Status),
            (
                // Smaller source wins, so the comparison is reversed.
                (&b.provenance.document, b.provenance.statement_index)
                    .cmp(&(&a.provenance.document, a.provenance.statement_index)),
                Rule::SourceOrder,
            ),
        ];
        by.into_iter()
            .find(|(o, _)| o.is_ne())
            .unwrap_or((std::cmp::Ordering::Equal, Rule::SourceOrder))
    }
}

type GroupKey = (String, Option<ProductKey>, Option<ProductKey>);

/// Merges `inputs` under `policy` (see the module docs for the rules).
///
/// # Errors
/// [`MergeError::TooManyClaims`] when the statements name more than [`MAX_CLAIMS`] products and
/// subcomponents together.
pub fn merge(inputs: &[MergeInput], policy: &Policy) -> Result<Merged, MergeError> {
    // One document given twice is one source.
    let mut by_id: BTreeMap<&Digest, &VexDocument> = BTreeMap::new();
    for input in inputs {
        by_id.entry(&input.canonical_id).or_insert(&input.document);
    }
    let aliases = VulnerabilityNames::linking(by_id.values().flat_map(|d| &d.statements));

    let mut groups: BTreeMap<GroupKey, Vec<Claim<'_>>> = BTreeMap::new();
    let mut count = 0usize;
    for statement in by_id.values().flat_map(|d| &d.statements) {
        let vulnerability = aliases.key(&statement.vulnerability.name);
        let priority = policy.priority(&statement.provenance);
        for (product, key, sub_key) in claims_of(statement) {
            count += 1;
            if count > MAX_CLAIMS {
                return Err(MergeError::TooManyClaims {
                    count,
                    limit: MAX_CLAIMS,
                });
            }
            groups
                .entry((vulnerability.clone(), key, sub_key))
                .or_default()
                .push(Claim {
                    statement,
                    product,
                    priority,
                });
        }
    }

    let linked = aliases.linked_sets();
    let statements = groups
        .into_iter()
        .filter_map(|((vulnerability, _, _), claims)| resolve(claims, linked.get(&vulnerability)))
        .collect();
    let timestamp = by_id
        .values()
        .flat_map(|d| {
            d.timestamp
                .into_iter()
                .chain(d.statements.iter().map(|s| s.timestamp))
        })
        .max();
    let inputs: Vec<Digest> = by_id.keys().map(|d| (*d).clone()).collect();
    Ok(Merged {
        id: merged_id(&inputs),
        inputs,
        timestamp,
        author: policy.author.clone(),
        statements,
    })
}

/// `urn:stella:vex-merge:sha256:<hex>`, the hash over the sorted input ids one per line.
fn merged_id(inputs: &[Digest]) -> String {
    let joined: String = inputs.iter().map(|d| format!("{d}\n")).collect();
    let digest = Digest::sha256(joined.as_bytes());
    format!("urn:stella:vex-merge:{digest}")
}

/// The statement split per product and subcomponent, with their keys; a statement naming no
/// product is one claim about no product.
fn claims_of(
    statement: &VexStatement,
) -> Vec<(Option<Product>, Option<ProductKey>, Option<ProductKey>)> {
    if statement.products.is_empty() {
        return vec![(None, None, None)];
    }
    let mut out = Vec::new();
    for product in &statement.products {
        let key = ProductKey::of(&product.identity);
        let narrowed = |subcomponents: Vec<ProductIdentity>| Product {
            identity: product.identity.clone(),
            subcomponents,
        };
        if product.subcomponents.is_empty() {
            out.push((Some(narrowed(Vec::new())), Some(key.clone()), None));
        }
        for sub in &product.subcomponents {
            out.push((
                Some(narrowed(vec![sub.clone()])),
                Some(key.clone()),
                Some(ProductKey::of(sub)),
            ));
        }
    }
    out
}

/// The effective statement of one group, with what it superseded.
fn resolve(claims: Vec<Claim<'_>>, names: Option<&BTreeSet<String>>) -> Option<MergedStatement> {
    let winner_at = (0..claims.len()).reduce(|best, i| {
        if claims[i].precedence(&claims[best]).0.is_gt() {
            i
        } else {
            best
        }
    })?;
    let winner = &claims[winner_at];
    let mut superseded: Vec<Superseded> = claims
        .iter()
        .enumerate()
        // A product named twice in the winning statement is no rival of itself.
        .filter(|(i, c)| *i != winner_at && c.statement.provenance != winner.statement.provenance)
        .map(|(_, c)| Superseded {
            provenance: c.statement.provenance.clone(),
            status: c.statement.status,
            justification: c.statement.justification.clone(),
            timestamp: c.statement.timestamp,
            priority: c.priority,
            rule: winner.precedence(c).1,
        })
        .collect();
    superseded.sort();
    superseded.dedup();

    let won = winner.statement;
    let mut vulnerability = Vulnerability::new(
        won.vulnerability.name.clone(),
        names
            .into_iter()
            .flatten()
            .cloned()
            .chain(won.vulnerability.aliases.iter().cloned()),
    );
    vulnerability.iri = won.vulnerability.iri.clone();
    vulnerability.description = won.vulnerability.description.clone();
    let statement = VexStatement {
        vulnerability,
        products: winner.product.iter().cloned().collect(),
        ..won.clone()
    };
    Some(MergedStatement {
        statement,
        priority: winner.priority,
        superseded,
    })
}

/// Vulnerability names linked by aliases into one vulnerability each (union-find).
struct VulnerabilityNames {
    index: HashMap<String, usize>,
    parent: Vec<usize>,
    /// The smallest name of each root's set.
    smallest: Vec<String>,
}

impl VulnerabilityNames {
    fn linking<'a>(statements: impl Iterator<Item = &'a VexStatement>) -> Self {
        let mut names = VulnerabilityNames {
            index: HashMap::new(),
            parent: Vec::new(),
            smallest: Vec::new(),
        };
        for s in statements {
            let v = &s.vulnerability;
            let first = names.id(&v.name);
            for alias in &v.aliases {
                let other = names.id(alias);
                names.union(first, other);
            }
        }
        names
    }

    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.smallest.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        self.parent[rb] = ra;
        if self.smallest[rb] < self.smallest[ra] {
            self.smallest[ra] = std::mem::take(&mut self.smallest[rb]);
        }
    }

    /// Every name, by the key of its linked set.
    fn linked_sets(&self) -> HashMap<String, BTreeSet<String>> {
        let mut sets: HashMap<String, BTreeSet<String>> = HashMap::new();
        for name in self.index.keys() {
            sets.entry(self.key(name)).or_default().insert(name.clone());
        }
        sets
    }

    /// The group key of `name`: the smallest name linked to it.
    fn key(&self, name: &str) -> String {
        let Some(&(mut i)) = self.index.get(name) else {
            return name.to_owned();
        };
        while self.parent[i] != i {
            i = self.parent[i];
        }
        self.smallest[i].clone()
    }
}
