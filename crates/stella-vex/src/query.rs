//! "What is the status of this vulnerability in this product?", answered from a merge.
//!
//! A query names a vulnerability (by any of its names), optionally a product and a
//! subcomponent. Every merged statement that speaks about them ([`crate::matching`]'s rules: a
//! versionless purl covers every version, qualifiers of the statement must be a subset, tag,
//! digest and `pkg:oci` forms of one image are one product) is an answer. Several can hold at
//! once — a statement about `pkg:cargo/hyper` and one about `pkg:cargo/hyper@1.4.0` both
//! speak about version 1.4.0 — and the **effective** one among them is chosen by the merge's
//! own rules, in the merge's order: policy priority, then the later timestamp, then the more
//! conservative status, then the smaller (source canonical id, statement index).
//!
//! What this module does not own: merging ([`crate::merge`]) or how an answer is printed.

use std::cmp::Ordering;

use crate::matching::statement_matches;
use crate::merge::{Merged, MergedStatement, Rule};
use crate::model::ProductIdentity;

/// What a query asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The vulnerability, by its id or any alias.
    pub vulnerability: String,
    /// The product, when asked about one.
    pub product: Option<ProductIdentity>,
    /// The subcomponent of the product, when asked about one.
    pub subcomponent: Option<ProductIdentity>,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<'m> {
    /// Every merged statement that speaks about the query, in the merge's order.
    pub statements: Vec<&'m MergedStatement>,
    /// The index in `statements` of the effective one, when a product was asked about and
    /// anything speaks about it; with no product there is one answer per product, none
    /// effective over the others.
    pub effective: Option<usize>,
    /// For each other statement, the rule by which the effective one won over it (same order
    /// as `statements`; `None` for the effective one itself and when there is none).
    pub decided_by: Vec<Option<Rule>>,
}

/// Answers `query` from `merged`.
pub fn answer<'m>(merged: &'m Merged, query: &Query) -> Answer<'m> {
    let statements: Vec<&MergedStatement> = merged
        .statements
        .iter()
        .filter(|m| match &query.product {
            Some(product) => statement_matches(
                &m.statement,
                &query.vulnerability,
                product,
                query.subcomponent.as_ref(),
            ),
            None => crate::matching::vulnerability_matches(
                &m.statement.vulnerability,
                &query.vulnerability,
            ),
        })
        .collect();
    let effective = if query.product.is_some() {
        (0..statements.len()).max_by(|&a, &b| precedence(statements[a], statements[b]).0)
    } else {
        None
    };
    let decided_by = statements
        .iter()
        .enumerate()
        .map(|(i, s)| match effective {
            Some(e) if e != i => Some(precedence(statements[e], s).1),
            _ => None,
        })
        .collect();
    Answer {
        statements,
        effective,
        decided_by,
    }
}

/// The merge's precedence between two effective statements: a greater one wins, and the rule
/// that decided.
fn precedence(a: &MergedStatement, b: &MergedStatement) -> (Ordering, Rule) {
    let (x, y) = (&a.statement, &b.statement);
    [
        (a.priority.cmp(&b.priority), Rule::Priority),
        (x.timestamp.cmp(&y.timestamp), Rule::Timestamp),
        (x.status.cmp(&y.status), Rule::Status),
        (
            (&y.provenance.document, y.provenance.statement_index)
                .cmp(&(&x.provenance.document, x.provenance.statement_index)),
            Rule::SourceOrder,
        ),
    ]
    .into_iter()
    .find(|(o, _)| o.is_ne())
    .unwrap_or((Ordering::Equal, Rule::SourceOrder))
}
