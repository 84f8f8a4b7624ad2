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
//! give the same [`Merged`] and, written with [`crate::openvex::write`], the same bytes.
//!
//! [`merge()`] takes every input at once; [`Merger`] takes them one at a time, so a caller reading
//! many documents holds one document's model at a time: the merge keeps each group's winning
//! statement (its products as ids of the product identities it interns) and a few bytes per
//! losing claim, and joins the groups of names found to be one vulnerability when it finishes.
//! [`Merger::finish_document`] goes straight to the merged document, without the [`Superseded`]
//! records it does not carry, and [`Merger::finish_openvex`] straight to its canonical OpenVEX
//! bytes, the statements made and written a few thousand at a time on every CPU and dropped once
//! written. The merged document's id is derived from the sorted canonical ids of its inputs, and
//! its timestamp is the latest input timestamp: the wall clock is never read.
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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, hash_map};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use stella_core::{Digest, ErrorKind, Kinded};

use crate::matching::ProductKey;
use crate::model::{
    Justification, Product, ProductIdentity, Provenance, Status, VexDocument, VexFormat,
    VexStatement, Vulnerability,
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
        self.shell(regroup(
            self.statements
                .iter()
                .map(|m| m.statement.clone())
                .collect(),
        ))
    }

    /// [`Merged::document`] without copying: the statements move into the document and what
    /// they superseded is dropped.
    pub fn into_document(mut self) -> VexDocument {
        // The list's memory is reused for the statements (MergedStatement is the larger).
        let merged = std::mem::take(&mut self.statements);
        let statements = regroup(merged.into_iter().map(|m| m.statement).collect());
        self.into_document_with(statements)
    }

    /// The document shell of this merge around `statements` (its own are dropped).
    fn into_document_with(self, statements: Vec<VexStatement>) -> VexDocument {
        VexDocument {
            id: self.id,
            author: self.author,
            role: None,
            timestamp: self.timestamp,
            last_updated: None,
            version: 1,
            tooling: None,
            statements,
        }
    }

    fn shell(&self, statements: Vec<VexStatement>) -> VexDocument {
        VexDocument {
            id: self.id.clone(),
            author: self.author.clone(),
            role: None,
            timestamp: self.timestamp,
            last_updated: None,
            version: 1,
            tooling: None,
            statements,
        }
    }
}

/// Effective statements that came from one source statement joined into one again, in source
/// order (canonical id, statement index). The statements are reordered where they are and joined
/// in place: no second list of them is made.
fn regroup(statements: Vec<VexStatement>) -> Vec<VexStatement> {
    let mut statements = statements;
    // The order is found on small keys (stable, so the first of a source's statements in merged
    // order is the one kept); the statements themselves are then swapped into it.
    let mut order: Vec<(&Digest, usize, usize)> = statements
        .iter()
        .enumerate()
        .map(|(at, s)| (&s.provenance.document, s.provenance.statement_index, at))
        .collect();
    order.par_sort_unstable();
    let order: Vec<usize> = order.into_iter().map(|(_, _, at)| at).collect();
    permute(&mut statements, order);
    statements.dedup_by(|later, kept| {
        let same_source = later.provenance.document == kept.provenance.document
            && later.provenance.statement_index == kept.provenance.statement_index;
        if same_source {
            add_products(&mut kept.products, std::mem::take(&mut later.products));
        }
        same_source
    });
    statements
}

/// Reorders `items` so that the item at `order[i]` ends at `i` (`order` a permutation of the
/// indices), by following its cycles with swaps.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..order.len() {
        let mut at = start;
        // Each cycle is walked once: a placed position points at itself afterwards.
        while order[at] != start {
            let from = order[at];
            items.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// `more` added to `products`: a product already there gains the subcomponents; the result is
/// sorted, so the document does not depend on the order claims were met in.
fn add_products(products: &mut Vec<Product>, more: Vec<Product>) {
    for product in more {
        match products.iter_mut().find(|p| p.identity == product.identity) {
            Some(existing) => {
                existing.subcomponents.extend(product.subcomponents);
                existing.subcomponents.sort();
                existing.subcomponents.dedup();
            }
            None => products.push(product),
        }
    }
    products.sort();
}

/// What decides between two claims, in the order the rules apply.
struct Rank<'a> {
    priority: i64,
    timestamp: jiff::Timestamp,
    status: Status,
    document: &'a Digest,
    statement_index: usize,
}

impl Rank<'_> {
    fn of_statement(statement: &VexStatement, priority: i64) -> Rank<'_> {
        Rank {
            priority,
            timestamp: statement.timestamp,
            status: statement.status,
            document: &statement.provenance.document,
            statement_index: statement.provenance.statement_index,
        }
    }

    /// The ordering of precedence (a greater claim wins) and the rule that decided it.
    fn precedence(&self, other: &Rank<'_>) -> (std::cmp::Ordering, Rule) {
        let by = [
            (self.priority.cmp(&other.priority), Rule::Priority),
            (self.timestamp.cmp(&other.timestamp), Rule::Timestamp),
            (self.status.cmp(&other.status), Rule::Status),
            (
                // Smaller source wins, so the comparison is reversed.
                (other.document, other.statement_index).cmp(&(self.document, self.statement_index)),
                Rule::SourceOrder,
            ),
        ];
        by.into_iter()
            .find(|(o, _)| o.is_ne())
            .unwrap_or((std::cmp::Ordering::Equal, Rule::SourceOrder))
    }
}

/// A statement as the merge keeps it while it wins some group: its products as interned
/// identity ids ([`ProductKeys`]) instead of copies, and its author's name left empty (the
/// claim's [`Source`] names it), so that what a winner holds is mostly what it says.
struct Kept {
    statement: VexStatement,
    products: Vec<KeptProduct>,
}

/// A product of a [`Kept`] statement: its identity id and its subcomponents' identity ids.
#[derive(Clone)]
struct KeptProduct {
    identity: u32,
    subcomponents: Vec<u32>,
}

/// The claim winning a group so far: its statement (shared by every group it wins) and the
/// product and subcomponent it wins here, as indices into the statement's products.
struct Contender {
    statement: Arc<Kept>,
    product: Option<(u32, Option<u32>)>,
    priority: i64,
    source: Source,
}

impl Contender {
    /// Another handle on the same claim.
    fn clone_ref(&self) -> Contender {
        Contender {
            statement: Arc::clone(&self.statement),
            product: self.product,
            priority: self.priority,
            source: self.source,
        }
    }

    fn rank(&self) -> Rank<'_> {
        Rank::of_statement(&self.statement.statement, self.priority)
    }
}

/// Where a claim came from, by interned ids ([`Interned`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Source {
    document: u32,
    author: u32,
}

/// The sources met in the document being added: by provenance digest, and the last one with its
/// priority.
#[derive(Default)]
struct Sources {
    documents: FxHashMap<Digest, u32>,
    last: Option<(Source, i64)>,
}

/// A claim that lost, in the few bytes needed to rank it and to give its [`Superseded`] record
/// when the merge is finished.
struct Rival {
    priority: i64,
    timestamp: jiff::Timestamp,
    statement_index: usize,
    source: Source,
    justification: Option<u32>,
    status: Status,
    format: VexFormat,
}

/// Strings many claims share, stored once: source documents, authors, justifications.
#[derive(Default)]
struct Interned {
    documents: Vec<Digest>,
    authors: Vec<String>,
    author_ids: FxHashMap<String, u32>,
    justifications: Vec<Justification>,
    justification_ids: FxHashMap<Justification, u32>,
}

impl Interned {
    fn author(&mut self, author: &str) -> u32 {
        if let Some(&id) = self.author_ids.get(author) {
            return id;
        }
        let id = index_u32(self.authors.len());
        self.authors.push(author.to_owned());
        self.author_ids.insert(author.to_owned(), id);
        id
    }

    fn justification(&mut self, justification: &Justification) -> u32 {
        if let Some(&id) = self.justification_ids.get(justification) {
            return id;
        }
        let id = index_u32(self.justifications.len());
        self.justifications.push(justification.clone());
        self.justification_ids.insert(justification.clone(), id);
        id
    }

    fn rival(&mut self, statement: &VexStatement, priority: i64, source: Source) -> Rival {
        Rival {
            priority,
            timestamp: statement.timestamp,
            statement_index: statement.provenance.statement_index,
            source,
            justification: statement
                .justification
                .as_ref()
                .map(|j| self.justification(j)),
            status: statement.status,
            format: statement.provenance.format,
        }
    }

    fn rank<'a>(&'a self, rival: &Rival) -> Rank<'a> {
        Rank {
            priority: rival.priority,
            timestamp: rival.timestamp,
            status: rival.status,
            document: &self.documents[rival.source.document as usize],
            statement_index: rival.statement_index,
        }
    }

    fn superseded(&self, rival: &Rival, rule: Rule) -> Superseded {
        Superseded {
            provenance: Provenance {
                document: self.documents[rival.source.document as usize].clone(),
                format: rival.format,
                statement_index: rival.statement_index,
                author: self.authors[rival.source.author as usize].clone(),
            },
            status: rival.status,
            justification: rival
                .justification
                .map(|j| self.justifications[j as usize].clone()),
            timestamp: rival.timestamp,
            priority: rival.priority,
            rule,
        }
    }
}

/// An index as the `u32` the merge stores: the counts it indexes (documents, authors,
/// justifications, products) are bounded by [`MAX_CLAIMS`], well below `u32::MAX`.
fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// One group: the claim winning so far and those it beat.
struct Group {
    winner: Contender,
    rivals: Vec<Rival>,
}

/// A group: the vulnerability as the statement names it (before aliases are linked), the product
/// key and the subcomponent key, as interned ids.
type GroupKey = (usize, Option<u32>, Option<u32>);

/// The merge, fed one document at a time: what it keeps is the winning claim of each group and a
/// few bytes for each claim that lost, never the input documents themselves, so a caller that
/// reads documents one by one holds one document model at a time.
///
/// [`merge()`] is this over a slice; the result is the same whatever order documents are added
/// in.
pub struct Merger {
    policy: Policy,
    inputs: BTreeSet<Digest>,
    timestamp: Option<jiff::Timestamp>,
    names: VulnerabilityNames,
    products: ProductKeys,
    interned: Interned,
    groups: FxHashMap<GroupKey, Group>,
    claims: usize,
}

impl Merger {
    /// An empty merge under `policy`.
    pub fn new(policy: &Policy) -> Self {
        Merger {
            policy: policy.clone(),
            inputs: BTreeSet::new(),
            timestamp: None,
            names: VulnerabilityNames::default(),
            products: ProductKeys::default(),
            interned: Interned::default(),
            groups: FxHashMap::default(),
            claims: 0,
        }
    }

    /// Gives the document `canonical_id` the priority `priority` (as the policy's
    /// `document_priorities` would), for a caller that learns a document's id only when it reads
    /// it (a policy naming sources by file). Call it before adding that document.
    pub fn set_document_priority(&mut self, canonical_id: &Digest, priority: i64) {
        self.policy
            .document_priorities
            .insert(canonical_id.clone(), priority);
    }

    /// Adds the document whose canonical id is `canonical_id`; a document already added (by that
    /// id) is one source and is skipped. The statements that win a group are copied; a caller
    /// that is done with the document can hand it over with [`Merger::add_owned`] instead.
    ///
    /// # Errors
    /// [`MergeError::TooManyClaims`] when the documents added so far name more than
    /// [`MAX_CLAIMS`] products and subcomponents together.
    pub fn add(&mut self, canonical_id: &Digest, document: &VexDocument) -> Result<(), MergeError> {
        if !self.begin(canonical_id, document) {
            return Ok(());
        }
        let mut sources = Sources::default();
        for statement in &document.statements {
            let source = self.source(&statement.provenance, &mut sources);
            let products: Vec<KeptProduct> = statement
                .products
                .iter()
                .map(|p| KeptProduct {
                    identity: self.products.intern(Cow::Borrowed(&p.identity)),
                    subcomponents: (p.subcomponents.iter())
                        .map(|s| self.products.intern(Cow::Borrowed(s)))
                        .collect(),
                })
                .collect();
            // Copied when one of its claims first wins: a statement that wins nothing is never
            // copied, and a winner's copy is allocated compactly, apart from the document.
            let mut shared = None;
            let mut kept = || {
                let kept = shared.get_or_insert_with(|| {
                    let mut copy = without_products(statement);
                    copy.provenance.author = String::new();
                    Arc::new(Kept {
                        statement: copy,
                        products: products.clone(),
                    })
                });
                Arc::clone(kept)
            };
            self.add_statement(statement, &products, source, &mut kept)?;
        }
        Ok(())
    }

    /// [`Merger::add`] taking the document: its statements move into the merge instead of being
    /// copied (the same result).
    ///
    /// # Errors
    /// As [`Merger::add`].
    pub fn add_owned(
        &mut self,
        canonical_id: &Digest,
        document: VexDocument,
    ) -> Result<(), MergeError> {
        if !self.begin(canonical_id, &document) {
            return Ok(());
        }
        let mut sources = Sources::default();
        for mut statement in document.statements {
            let source = self.source(&statement.provenance, &mut sources);
            let products = std::mem::take(&mut statement.products)
                .into_iter()
                .map(|p| KeptProduct {
                    identity: self.products.intern(Cow::Owned(p.identity)),
                    subcomponents: (p.subcomponents.into_iter())
                        .map(|s| self.products.intern(Cow::Owned(s)))
                        .collect(),
                })
                .collect();
            statement.provenance.author = String::new();
            let kept = Arc::new(Kept {
                statement,
                products,
            });
            self.add_statement(&kept.statement, &kept.products, source, &mut || {
                Arc::clone(&kept)
            })?;
        }
        Ok(())
    }

    /// Records the document as an input; false when it was added before.
    fn begin(&mut self, canonical_id: &Digest, document: &VexDocument) -> bool {
        if self.inputs.contains(canonical_id) {
            return false;
        }
        self.inputs.insert(canonical_id.clone());
        let latest = document
            .timestamp
            .into_iter()
            .chain(document.statements.iter().map(|s| s.timestamp))
            .max();
        self.timestamp = self.timestamp.max(latest);
        true
    }

    /// The interned source of a statement and its priority; statements of one document almost
    /// always share it, so the last one is checked before any hashing.
    fn source(&mut self, provenance: &Provenance, sources: &mut Sources) -> (Source, i64) {
        if let Some((source, priority)) = sources.last
            && self.interned.documents[source.document as usize] == provenance.document
            && self.interned.authors[source.author as usize] == provenance.author
        {
            return (source, priority);
        }
        // Readers set the statement's provenance to the document's canonical id; interning by
        // what the statement says keeps the record true if a caller's differs.
        let document = match sources.documents.get(&provenance.document) {
            Some(&id) => id,
            None => {
                let id = index_u32(self.interned.documents.len());
                self.interned.documents.push(provenance.document.clone());
                sources.documents.insert(provenance.document.clone(), id);
                id
            }
        };
        let source = Source {
            document,
            author: self.interned.author(&provenance.author),
        };
        let priority = self.policy.priority(provenance);
        sources.last = Some((source, priority));
        (source, priority)
    }

    /// One statement's claims (`products` its products' interned ids) put in their groups;
    /// `kept` gives the merge's copy of it for each claim that wins.
    fn add_statement(
        &mut self,
        statement: &VexStatement,
        products: &[KeptProduct],
        (source, priority): (Source, i64),
        kept: &mut dyn FnMut() -> Arc<Kept>,
    ) -> Result<(), MergeError> {
        let name = self.names.link(&statement.vulnerability);
        let claim = Claim {
            statement,
            priority,
            source,
        };
        if products.is_empty() {
            return self.claim((name, None, None), &claim, None, kept);
        }
        for (p, product) in products.iter().enumerate() {
            let key = self.products.key_of(product.identity);
            let at = index_u32(p);
            if product.subcomponents.is_empty() {
                self.claim((name, Some(key), None), &claim, Some((at, None)), kept)?;
            }
            for (s, &sub) in product.subcomponents.iter().enumerate() {
                let sub_key = self.products.key_of(sub);
                self.claim(
                    (name, Some(key), Some(sub_key)),
                    &claim,
                    Some((at, Some(index_u32(s)))),
                    kept,
                )?;
            }
        }
        Ok(())
    }

    /// One claim (about the statement's product and subcomponent `product`, by index) put in
    /// its group.
    fn claim(
        &mut self,
        key: GroupKey,
        claim: &Claim<'_>,
        product: Option<(u32, Option<u32>)>,
        kept: &mut dyn FnMut() -> Arc<Kept>,
    ) -> Result<(), MergeError> {
        self.claims += 1;
        if self.claims > MAX_CLAIMS {
            return Err(MergeError::TooManyClaims {
                count: self.claims,
                limit: MAX_CLAIMS,
            });
        }
        let &Claim {
            statement,
            priority,
            source,
        } = claim;
        let mut contender = || Contender {
            statement: kept(),
            product,
            priority,
            source,
        };
        match self.groups.entry(key) {
            hash_map::Entry::Vacant(e) => {
                e.insert(Group {
                    winner: contender(),
                    rivals: Vec::new(),
                });
            }
            hash_map::Entry::Occupied(mut e) => {
                let group = e.get_mut();
                let rank = Rank::of_statement(statement, priority);
                if rank.precedence(&group.winner.rank()).0.is_gt() {
                    let beaten = std::mem::replace(&mut group.winner, contender());
                    let rival = self.interned.rival(
                        &beaten.statement.statement,
                        beaten.priority,
                        beaten.source,
                    );
                    group.rivals.push(rival);
                } else if !same_statement(&group.winner, statement, source) {
                    // A product named twice in the winning statement is no rival of itself.
                    let rival = self.interned.rival(statement, priority, source);
                    group.rivals.push(rival);
                }
            }
        }
        Ok(())
    }

    /// The merge of every document added.
    pub fn finish(self) -> Merged {
        let mut finishing = self.into_sorted_groups();
        let sorted = std::mem::take(&mut finishing.sorted);
        let Finishing {
            linked,
            identities,
            interned,
            ..
        } = &mut finishing;
        for (_, group) in &sorted {
            identities.count(&group.winner);
        }
        let statements = sorted
            .into_iter()
            .map(|(key, group)| resolve(group, linked.get(&key.0), interned, identities))
            .collect();
        finishing.merged(statements)
    }

    /// The merged document, the same as `finish().into_document()`, made straight from the
    /// groups: no [`Superseded`] record (the document does not carry them) and no statement
    /// per group. The claims one source statement won become that statement again, moved out of
    /// the merge, with the products it won.
    pub fn finish_document(self) -> VexDocument {
        let mut finishing = self.into_sorted_groups();
        let mut winners = finishing.winners_in_source_order();
        // Counted first: grown by doubling, the list of 400-byte statements was copied and
        // faulted in again and again.
        let runs = winners.chunk_by(|a, b| source(a) == source(b)).count();
        let mut statements: Vec<VexStatement> = Vec::with_capacity(runs);
        finishing.each_statement(&mut winners, |statement| statements.push(statement));
        finishing.merged(Vec::new()).into_document_with(statements)
    }

    /// The merged document as canonical OpenVEX: the same bytes as
    /// `openvex::write_owned(self.finish_document())`, without ever holding the document. Each
    /// statement is made as [`Merger::finish_document`] makes it, a few thousand at a time on
    /// every CPU, and dropped once its canonical bytes are written.
    ///
    /// # Errors
    /// As [`crate::openvex::write`]: no statements, or a value beyond canonical JSON.
    pub fn finish_openvex(self) -> Result<Vec<u8>, crate::openvex::OpenVexError> {
        self.finish_canonical_openvex()
            .map(crate::openvex::CanonicalDocument::into_bytes)
    }

    /// [`Merger::finish_openvex`] short of joining the bytes: the statements' canonical bytes
    /// and the document around them, to be written out piece by piece
    /// ([`crate::openvex::CanonicalDocument::write_to`]), so that the merged document is never
    /// held twice.
    ///
    /// # Errors
    /// As [`Merger::finish_openvex`].
    pub fn finish_canonical_openvex(
        self,
    ) -> Result<crate::openvex::CanonicalDocument, crate::openvex::OpenVexError> {
        use crate::openvex::{self, STATEMENTS_PER_PART};
        let mut finishing = self.into_sorted_groups();
        let mut winners = finishing.winners_in_source_order();
        // Segments of whole runs (every claim one source statement won makes one statement),
        // each made into its statements and written on whichever CPU is free. Runs are
        // independent: a statement's claims are all in its run, and each product identity is
        // taken under its own lock.
        let segments = segments_of_runs(&mut winners, STATEMENTS_PER_PART);
        let Finishing {
            linked,
            identities,
            interned,
            ..
        } = &finishing;
        let written: Vec<_> = (segments.into_par_iter())
            .map(|(first, segment)| {
                let mut statements = Vec::with_capacity(STATEMENTS_PER_PART);
                for run in segment.chunk_by_mut(|a, b| source(a) == source(b)) {
                    if let Some(statement) = joined_statement(run, linked, interned, identities) {
                        statements.push(statement);
                    }
                }
                let latest = statements.iter().map(|s| s.timestamp).max();
                (
                    openvex::canonical_part(statements.into_iter(), first),
                    latest,
                )
            })
            .collect();
        let latest = written.iter().filter_map(|(_, latest)| *latest).max();
        // In document order, so the first error is the one `write` reports.
        let parts = (written.into_iter())
            .map(|(part, _)| part)
            .collect::<Result<Vec<_>, _>>()?;
        let shell = finishing.merged(Vec::new()).into_document_with(Vec::new());
        openvex::write_parts(&shell, latest, parts)
    }

    /// The groups keyed by their vulnerability's linked set and sorted by (vulnerability,
    /// product, subcomponent), groups of names linked after they were made joined, with what
    /// finishing needs beside them.
    fn into_sorted_groups(self) -> Finishing {
        let Merger {
            policy,
            inputs,
            timestamp,
            mut names,
            products,
            mut interned,
            groups,
            ..
        } = self;
        // Groups are keyed by their vulnerability's linked set (names linked by aliases are one
        // vulnerability) and sorted while they are small; groups whose names were linked after
        // they were made sort together and are joined.
        let mut sorted: Vec<(GroupKey, Group)> = groups
            .into_iter()
            .map(|((name, key, sub_key), group)| ((names.root(name), key, sub_key), group))
            .collect();
        // Sorted by (vulnerability, product, subcomponent) as ranks of the sorted names and
        // product keys, each distinct string compared while ranking it, not once per group.
        let name_ranks = names.ranks();
        let key_ranks = products.ranks();
        let key_rank = |k: Option<u32>| k.map_or(0, |k| key_ranks[k as usize] + 1);
        sorted.par_sort_unstable_by_key(|((root, key, sub), _)| {
            (
                name_ranks[names.smallest_id(*root)],
                key_rank(*key),
                key_rank(*sub),
            )
        });
        sorted.dedup_by(|(later_key, later), (key, kept)| {
            if later_key != key {
                return false;
            }
            let winner = std::mem::replace(&mut later.winner, kept.winner.clone_ref());
            kept.rivals.append(&mut later.rivals);
            let beaten = if winner.rank().precedence(&kept.winner.rank()).0.is_gt() {
                std::mem::replace(&mut kept.winner, winner)
            } else {
                winner
            };
            let rival = interned.rival(&beaten.statement.statement, beaten.priority, beaten.source);
            kept.rivals.push(rival);
            true
        });
        let linked = names.linked_sets();
        let identities = Identities::new(products.into_identities());
        Finishing {
            author: policy.author,
            inputs: inputs.into_iter().collect(),
            timestamp,
            sorted,
            linked,
            identities,
            interned,
        }
    }
}

/// A merge being finished: its groups sorted and joined, and what resolving them needs.
struct Finishing {
    author: String,
    inputs: Vec<Digest>,
    timestamp: Option<jiff::Timestamp>,
    sorted: Vec<(GroupKey, Group)>,
    /// The names linked to another, by the root of their set.
    linked: FxHashMap<usize, BTreeSet<String>>,
    /// Every product identity, by its interned id.
    identities: Identities,
    interned: Interned,
}

/// Every product identity by its interned id, handed out as a copy until its last use, which
/// takes it: most identities are won once or twice, so most are moved rather than copied. Each
/// identity has its own lock, so statements can be made on every CPU: whichever use comes last
/// takes it, and every use gets an identity equal to it.
struct Identities {
    slots: Vec<Mutex<Slot>>,
}

/// One identity and its uses not yet handed out, counted beforehand with [`Identities::count`].
struct Slot {
    uses: u32,
    identity: ProductIdentity,
}

impl Identities {
    fn new(list: Vec<ProductIdentity>) -> Self {
        Identities {
            slots: (list.into_iter())
                .map(|identity| Mutex::new(Slot { uses: 0, identity }))
                .collect(),
        }
    }

    /// Counts the identities `winner` will take with [`won_product`].
    fn count(&mut self, winner: &Contender) {
        let Some((identity, sub)) = won_ids(winner) else {
            return;
        };
        for id in std::iter::once(identity).chain(sub) {
            if let Some(slot) = self.slots.get_mut(id as usize) {
                slot.get_mut().unwrap_or_else(PoisonError::into_inner).uses += 1;
            }
        }
    }

    /// The identity `id`: the identity itself at its last counted use, else a copy (a use that
    /// was not counted gets a copy too, so no later use finds it taken).
    fn take(&self, id: u32) -> Option<ProductIdentity> {
        let mut slot =
            (self.slots.get(id as usize)?.lock()).unwrap_or_else(PoisonError::into_inner);
        Some(match slot.uses {
            1 => {
                slot.uses = 0;
                std::mem::take(&mut slot.identity)
            }
            0 => slot.identity.clone(),
            _ => {
                slot.uses -= 1;
                slot.identity.clone()
            }
        })
    }
}

/// A group's winner as finishing keeps it, by the group's key (taken when its statement is made).
type Winner = (GroupKey, Option<Contender>);

/// `winners` (in source order) cut into segments of `runs` runs of one source statement each
/// (the last may hold fewer), each with the number of runs before it: every run makes one
/// statement, so that number is the index of the segment's first statement in the document.
fn segments_of_runs(winners: &mut [Winner], runs: usize) -> Vec<(usize, &mut [Winner])> {
    let mut segments = Vec::new();
    let mut rest = winners;
    let mut first = 0;
    while !rest.is_empty() {
        let (mut end, mut counted) = (0, 0);
        while end < rest.len() && counted < runs.max(1) {
            let run = source(&rest[end]);
            end += 1;
            while end < rest.len() && source(&rest[end]) == run {
                end += 1;
            }
            counted += 1;
        }
        let (segment, tail) = rest.split_at_mut(end);
        segments.push((first, segment));
        first += counted;
        rest = tail;
    }
    segments
}

/// The rank of each digest in `digests` among them sorted, equal digests ranked equal.
fn digest_ranks(digests: &[Digest]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..digests.len()).collect();
    order.sort_unstable_by(|&a, &b| digests[a].cmp(&digests[b]));
    let mut ranks = vec![0u32; digests.len()];
    let mut rank = 0u32;
    for (i, &at) in order.iter().enumerate() {
        if i > 0 && digests[order[i - 1]] != digests[at] {
            rank += 1;
        }
        ranks[at] = rank;
    }
    ranks
}

/// The source statement a winner came from: (canonical id, statement index).
fn source((_, winner): &Winner) -> Option<(&Digest, usize)> {
    let p = &winner.as_ref()?.statement.statement.provenance;
    Some((&p.document, p.statement_index))
}

impl Finishing {
    /// The groups' winners in source order (canonical id, statement index), stable in merged
    /// order, as `Merged::into_document` orders the statements it joins; their product
    /// identities counted.
    fn winners_in_source_order(&mut self) -> Vec<Winner> {
        let sorted = std::mem::take(&mut self.sorted);
        // Sorted on integers, each winner's source read once: its document's rank among the
        // canonical ids, then its statement index. Comparing the sources themselves would reach
        // into two statements anywhere in memory at every comparison.
        let document_rank = digest_ranks(&self.interned.documents);
        let mut order: Vec<(u32, usize, usize)> = (sorted.iter().enumerate())
            .map(|(at, (_, group))| {
                let winner = &group.winner;
                (
                    document_rank[winner.source.document as usize],
                    winner.statement.statement.provenance.statement_index,
                    at,
                )
            })
            .collect();
        let mut winners: Vec<Winner> = (sorted.into_iter())
            .map(|(key, group)| (key, Some(group.winner)))
            .collect();
        order.par_sort_unstable();
        let order: Vec<usize> = order.into_iter().map(|(_, _, at)| at).collect();
        permute(&mut winners, order);
        for winner in winners.iter().filter_map(|(_, w)| w.as_ref()) {
            self.identities.count(winner);
        }
        winners
    }

    /// Each run of one source statement's claims in `winners` made into that statement, in
    /// order. On one thread: the statements are moved out of memory this thread allocated,
    /// freed pieces are reused here, and each product identity is moved at its last use.
    fn each_statement(&mut self, winners: &mut [Winner], mut each: impl FnMut(VexStatement)) {
        let Finishing {
            linked,
            identities,
            interned,
            ..
        } = self;
        for run in winners.chunk_by_mut(|a, b| source(a) == source(b)) {
            if let Some(statement) = joined_statement(run, linked, interned, identities) {
                each(statement);
            }
        }
    }

    /// The merge's result with `statements`.
    fn merged(&self, statements: Vec<MergedStatement>) -> Merged {
        Merged {
            id: merged_id(&self.inputs),
            inputs: self.inputs.clone(),
            timestamp: self.timestamp,
            author: self.author.clone(),
            statements,
        }
    }
}

/// The statement one source statement makes of the claims it won (`run`, all its own, in merged
/// order): moved out of the merge when nothing else holds it, its author named again, its
/// vulnerability known by every name linked to it, its products those it won.
fn joined_statement(
    run: &mut [Winner],
    linked: &FxHashMap<usize, BTreeSet<String>>,
    interned: &Interned,
    identities: &Identities,
) -> Option<VexStatement> {
    let products: Vec<Product> = (run.iter())
        .filter_map(|(_, winner)| won_product(winner.as_ref()?, identities))
        .collect();
    // Every other handle dropped first, so the first one can often take the statement.
    for (_, winner) in run.iter_mut().skip(1) {
        *winner = None;
    }
    let (key, winner) = run.first_mut()?;
    let mut statement = won_statement(winner.take()?, linked.get(&key.0), interned);
    add_products(&mut statement.products, products);
    Some(statement)
}

/// A statement whose claims are being put in their groups, with its source and priority.
struct Claim<'a> {
    statement: &'a VexStatement,
    priority: i64,
    source: Source,
}

/// Whether `winner` is a claim of the statement `statement` from `source` (the merge's copy
/// leaves the author's name to the source).
fn same_statement(winner: &Contender, statement: &VexStatement, source: Source) -> bool {
    let (a, b) = (
        &winner.statement.statement.provenance,
        &statement.provenance,
    );
    a.document == b.document
        && a.format == b.format
        && a.statement_index == b.statement_index
        && winner.source.author == source.author
}

/// Merges `inputs` under `policy` (see the module docs for the rules).
///
/// # Errors
/// [`MergeError::TooManyClaims`] when the statements name more than [`MAX_CLAIMS`] products and
/// subcomponents together.
pub fn merge(inputs: &[MergeInput], policy: &Policy) -> Result<Merged, MergeError> {
    let mut merger = Merger::new(policy);
    for input in inputs {
        merger.add(&input.canonical_id, &input.document)?;
    }
    Ok(merger.finish())
}

/// `urn:stella:vex-merge:sha256:<hex>`, the hash over the sorted input ids one per line.
fn merged_id(inputs: &[Digest]) -> String {
    let joined: String = inputs.iter().map(|d| format!("{d}\n")).collect();
    let digest = Digest::sha256(joined.as_bytes());
    format!("urn:stella:vex-merge:{digest}")
}

/// The effective statement of one group, with what it superseded.
fn resolve(
    group: Group,
    names: Option<&BTreeSet<String>>,
    interned: &Interned,
    identities: &Identities,
) -> MergedStatement {
    let Group { winner, rivals } = group;
    let rank = winner.rank();
    let mut superseded: Vec<Superseded> = rivals
        .iter()
        .filter(|r| {
            let p = &winner.statement.statement.provenance;
            !(r.statement_index == p.statement_index
                && interned.documents[r.source.document as usize] == p.document
                && r.source.author == winner.source.author
                && r.format == p.format)
        })
        .map(|r| interned.superseded(r, rank.precedence(&interned.rank(r)).1))
        .collect();
    superseded.sort();
    superseded.dedup();

    let priority = winner.priority;
    let product = won_product(&winner, identities);
    let mut statement = won_statement(winner, names, interned);
    statement.products = product.into_iter().collect();
    MergedStatement {
        statement,
        priority,
        superseded,
    }
}

/// The interned ids of the product and subcomponent `winner` won.
fn won_ids(winner: &Contender) -> Option<(u32, Option<u32>)> {
    let (p, sub) = winner.product?;
    let product = winner.statement.products.get(p as usize)?;
    let sub = sub.and_then(|s| product.subcomponents.get(s as usize).copied());
    Some((product.identity, sub))
}

/// The product and subcomponent `winner` won, as the statement names them.
fn won_product(winner: &Contender, identities: &Identities) -> Option<Product> {
    let (identity, sub) = won_ids(winner)?;
    let identity = identities.take(identity)?;
    Some(Product {
        identity,
        subcomponents: sub.and_then(|s| identities.take(s)).into_iter().collect(),
    })
}

/// The winning statement, without products: moved out of the merge when this is the last
/// handle on it, else copied; its author named again and its vulnerability known by every name
/// in `names` besides its own aliases.
fn won_statement(
    winner: Contender,
    names: Option<&BTreeSet<String>>,
    interned: &Interned,
) -> VexStatement {
    let mut won = match Arc::try_unwrap(winner.statement) {
        Ok(kept) => kept.statement,
        Err(shared) => without_products(&shared.statement),
    };
    won.provenance.author = interned.authors[winner.source.author as usize].clone();
    let aliases = std::mem::take(&mut won.vulnerability.aliases);
    let mut vulnerability = Vulnerability::new(
        std::mem::take(&mut won.vulnerability.name),
        names.into_iter().flatten().cloned().chain(aliases),
    );
    vulnerability.iri = won.vulnerability.iri.take();
    vulnerability.description = won.vulnerability.description.take();
    won.vulnerability = vulnerability;
    won.products = Vec::new();
    won
}

/// A copy of `statement` without its products (filled in by the caller).
fn without_products(statement: &VexStatement) -> VexStatement {
    VexStatement {
        id: statement.id.clone(),
        version: statement.version,
        vulnerability: statement.vulnerability.clone(),
        products: Vec::new(),
        status: statement.status,
        justification: statement.justification.clone(),
        status_notes: statement.status_notes.clone(),
        impact_statement: statement.impact_statement.clone(),
        action_statement: statement.action_statement.clone(),
        action_statement_timestamp: statement.action_statement_timestamp,
        supplier: statement.supplier.clone(),
        timestamp: statement.timestamp,
        last_updated: statement.last_updated,
        provenance: statement.provenance.clone(),
    }
}

/// Product identities interned (each distinct identity stored once, however many statements
/// name it) and mapped to the ids of their [`ProductKey`]s: each distinct identity is keyed
/// (purl parsing and all) once.
#[derive(Default)]
struct ProductKeys {
    /// Identities named by their identifier alone ([`named_by_id`]), by that identifier: most
    /// are, and their lookups compare one string instead of every field.
    by_id: FxHashMap<Box<str>, u32>,
    by_identity: FxHashMap<ProductIdentity, u32>,
    /// The key id of each identity id.
    key_of: Vec<u32>,
    by_key: FxHashMap<ProductKey, u32>,
    keys: Vec<ProductKey>,
}

impl ProductKeys {
    /// The id of `identity` (stored if new).
    fn intern(&mut self, identity: Cow<'_, ProductIdentity>) -> u32 {
        let named = named_by_id(&identity);
        let known = match named {
            Some(text) => self.by_id.get(text),
            None => self.by_identity.get(identity.as_ref()),
        };
        if let Some(&id) = known {
            return id;
        }
        let key = ProductKey::of(&identity);
        let key_id = match self.by_key.get(&key) {
            Some(&id) => id,
            None => {
                let id = index_u32(self.keys.len());
                self.keys.push(key.clone());
                self.by_key.insert(key, id);
                id
            }
        };
        let id = index_u32(self.key_of.len());
        self.key_of.push(key_id);
        match named {
            Some(text) => {
                self.by_id.insert(text.into(), id);
            }
            None => {
                self.by_identity.insert(identity.into_owned(), id);
            }
        }
        id
    }

    /// The key id of the identity `id`.
    fn key_of(&self, id: u32) -> u32 {
        self.key_of.get(id as usize).copied().unwrap_or(u32::MAX)
    }

    /// Every identity, by its id.
    fn into_identities(self) -> Vec<ProductIdentity> {
        let mut identities = vec![ProductIdentity::default(); self.key_of.len()];
        let named = (self.by_id.into_iter())
            .map(|(text, id)| (ProductIdentity::from_owned_id(text.into()), id));
        for (identity, id) in self.by_identity.into_iter().chain(named) {
            if let Some(slot) = identities.get_mut(id as usize) {
                *slot = identity;
            }
        }
        identities
    }

    /// The rank of every key id among the keys sorted by their text (the keys are unique).
    fn ranks(&self) -> Vec<u32> {
        sorted_ranks(&self.keys, ProductKey::as_str)
    }
}

/// The identifier of `identity` when the identity is exactly what
/// [`ProductIdentity::from_id`] makes of it (so the identifier alone names it), else `None`.
/// Image purls (`pkg:oci/…`, whose digest the identity holds) and identifiers carrying a
/// version limit are left out: they are looked up by every field.
fn named_by_id(identity: &ProductIdentity) -> Option<&str> {
    let ProductIdentity {
        id: Some(id),
        purl,
        cpe22: None,
        cpe23: None,
        bom_link,
        image_digest: None,
        hashes,
        version: None,
    } = identity
    else {
        return None;
    };
    let same = |field: &Option<String>, named: bool| match field {
        Some(text) => named && text == id,
        None => !named,
    };
    (hashes.is_empty()
        && !id.starts_with("pkg:oci/")
        && !id.starts_with(crate::model::VERSIONED_ID_PREFIX)
        && same(purl, id.starts_with("pkg:"))
        && same(bom_link, id.starts_with("urn:cdx:")))
    .then_some(id.as_str())
}

/// The rank of each item of `items` in their order by `text` (the order of `str`, its UTF-8
/// bytes), by index.
fn sorted_ranks<T: Sync>(items: &[T], text: impl Fn(&T) -> &str + Sync) -> Vec<u32> {
    crate::sort::ranks(items, |item| text(item).as_bytes())
}

/// Vulnerability names linked by aliases into one vulnerability each (union-find).
#[derive(Default)]
struct VulnerabilityNames {
    index: FxHashMap<Arc<str>, usize>,
    names: Vec<Arc<str>>,
    parent: Vec<usize>,
    /// The id of the smallest name of each root's set.
    smallest: Vec<usize>,
}

impl VulnerabilityNames {
    /// The id of `vulnerability`'s name, linked with its aliases.
    fn link(&mut self, vulnerability: &Vulnerability) -> usize {
        let first = self.id(&vulnerability.name);
        for alias in &vulnerability.aliases {
            let other = self.id(alias);
            self.union(first, other);
        }
        first
    }

    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.smallest.push(i);
        let name: Arc<str> = Arc::from(name);
        self.names.push(Arc::clone(&name));
        self.index.insert(name, i);
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
        if self.names[self.smallest[rb]] < self.names[self.smallest[ra]] {
            self.smallest[ra] = self.smallest[rb];
        }
    }

    /// The id of the smallest name linked to the root `root`: the vulnerability's group key.
    fn smallest_id(&self, root: usize) -> usize {
        self.smallest[root]
    }

    /// The rank of every name id among the names sorted (the names are unique).
    fn ranks(&self) -> Vec<u32> {
        sorted_ranks(&self.names, |n| n)
    }

    /// Every name linked to another, by the root of its linked set. A name linked to none is
    /// left out: it is the name of every statement in its groups, so it adds no alias.
    fn linked_sets(&mut self) -> FxHashMap<usize, BTreeSet<String>> {
        let roots: Vec<usize> = (0..self.names.len()).map(|i| self.root(i)).collect();
        let mut sizes = vec![0usize; roots.len()];
        for &root in &roots {
            sizes[root] += 1;
        }
        let mut sets: FxHashMap<usize, BTreeSet<String>> = FxHashMap::default();
        for (i, &root) in roots.iter().enumerate() {
            if sizes[root] > 1 {
                sets.entry(root)
                    .or_default()
                    .insert(self.names[i].to_string());
            }
        }
        sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_ranked_in_their_order_equal_ones_equally() {
        let [a, b, c] = [b"a", b"b", b"c"].map(|t| Digest::sha256(t));
        let mut sorted = [a.clone(), b.clone(), c.clone()];
        sorted.sort();
        let rank = |d: &Digest| sorted.iter().position(|s| s == d).unwrap() as u32;
        let digests = [c.clone(), a.clone(), c.clone(), b.clone()];
        let expected: Vec<u32> = digests.iter().map(rank).collect();
        assert_eq!(digest_ranks(&digests), expected);
        assert_eq!(digest_ranks(&[]), Vec::<u32>::new());
    }

    #[test]
    fn an_identity_named_by_its_identifier_is_the_one_its_identifier_makes() {
        let named = [
            "pkg:npm/a@1",
            "pkg:deb/debian/openssl@3?arch=amd64",
            "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg",
            "https://example.com/product",
            "not an iri",
        ];
        for text in named {
            let identity = ProductIdentity::from_id(text);
            assert_eq!(named_by_id(&identity), Some(text), "{text}");
            assert_eq!(ProductIdentity::from_id(text), identity);
        }
        let mut keys = ProductKeys::default();
        let mut by_every_field = Vec::new();
        for text in [
            "pkg:oci/app@sha256%3A0123",
            "urn:stella:version:1.0:pkg:npm/a",
        ] {
            by_every_field.push(ProductIdentity::from_id(text));
        }
        let mut with_more = ProductIdentity::from_id("pkg:npm/a@1");
        with_more.cpe23 = Some("cpe:2.3:a:a:a:1:*:*:*:*:*:*:*".to_owned());
        by_every_field.push(with_more);
        let mut other_purl = ProductIdentity::from_id("https://example.com/product");
        other_purl.purl = Some("pkg:npm/a@1".to_owned());
        by_every_field.push(other_purl);
        let mut no_purl = ProductIdentity::from_id("pkg:npm/a@1");
        no_purl.purl = None;
        by_every_field.push(no_purl);
        for identity in &by_every_field {
            assert_eq!(named_by_id(identity), None, "{identity:?}");
        }
        // Every identity interned once, equal ones to one id, and given back as interned.
        let all: Vec<ProductIdentity> = (named.iter().map(|t| ProductIdentity::from_id(t)))
            .chain(by_every_field)
            .collect();
        let ids: Vec<u32> = (all.iter().chain(&all))
            .map(|identity| keys.intern(Cow::Borrowed(identity)))
            .collect();
        assert_eq!(ids[..all.len()], ids[all.len()..]);
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), all.len());
        let back = keys.into_identities();
        for (identity, id) in all.iter().zip(&ids) {
            assert_eq!(&back[*id as usize], identity);
        }
    }

    #[test]
    fn an_identity_is_moved_at_its_last_counted_use_and_copied_otherwise() {
        let a = ProductIdentity::from_id("pkg:npm/a@1");
        let b = ProductIdentity::from_id("pkg:npm/b@1");
        let identities = Identities::new(vec![a.clone(), b.clone()]);
        let held = |id: usize| identities.slots[id].lock().unwrap().identity.clone();
        identities.slots[0].lock().unwrap().uses = 2;
        assert_eq!(identities.take(0), Some(a.clone()));
        assert_eq!(held(0), a, "copied while a use is left");
        assert_eq!(identities.take(0), Some(a.clone()));
        assert_eq!(held(0), ProductIdentity::default(), "moved at the last");
        // Uncounted uses are copies: the identity stays for the next one.
        assert_eq!(identities.take(1), Some(b.clone()));
        assert_eq!(identities.take(1), Some(b));
        assert_eq!(identities.take(2), None);
    }
}
