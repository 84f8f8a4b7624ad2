//! The property the `vex_read` fuzz target checks on every input, shared with the regression
//! test that replays what it kept (`tests/fuzz-regressions/`); the fuzz target includes this
//! file by path.
//!
//! The input is a VEX document, optionally followed by a NUL byte (which no JSON document
//! holds) and the SBOM its CycloneDX BOM-Links point into. Each of the three readers tries it.
//! Whatever reads must write back with its own format's writer to bytes that read again, to
//! the same claims as far as that writer documents keeping them; every writer takes every
//! document read (bytes or a typed error); the merge of everything read succeeds or gives a
//! typed error, and its document writes. A violation panics, naming what broke.

use std::collections::BTreeSet;

use stella_core::Digest;
use stella_vex::merge::{self, MergeInput, Merger, Policy};
use stella_vex::{ProductIdentity, Status, VexDocument, VexStatement, csaf, cyclonedx, openvex};

/// Which readers accepted the input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `openvex::read` read it.
    pub openvex: bool,
    /// `cyclonedx::read_with` read it (with the SBOM after the NUL, if any).
    pub cyclonedx: bool,
    /// `csaf::read` read it.
    pub csaf: bool,
}

/// One claim: vulnerability, status, product and subcomponent (as the format keeps them), and
/// the justification label the format keeps.
type Claim = (
    String,
    Status,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The time CycloneDX statements without one take (so that more inputs reach the writers).
const FALLBACK: &str = "2024-01-01T00:00:00Z";

/// Runs the readers, writers and merge on `data`; panics when a property fails.
pub fn check(data: &[u8]) -> Outcome {
    let (vex, sbom) = match data.iter().position(|&b| b == 0) {
        Some(i) => (data.get(..i).unwrap_or_default(), data.get(i + 1..)),
        None => (data, None),
    };
    let mut outcome = Outcome::default();
    let mut read = Vec::new();

    if let Ok(r) = openvex::read(vex) {
        outcome.openvex = true;
        if let Ok(bytes) = openvex::write(&r.document) {
            let again = openvex::read(&bytes)
                .unwrap_or_else(|e| panic!("written OpenVEX does not read: {e}"));
            assert_eq!(
                openvex_claims(&again.document),
                openvex_claims(&r.document),
                "OpenVEX round trip"
            );
            read.push(input(again.canonical_id, again.document));
        }
        read.push(input(r.canonical_id, r.document));
    }

    let options = cyclonedx::ReadOptions {
        sbom,
        fallback_timestamp: FALLBACK.parse().ok(),
        purls: None,
    };
    if let Ok(r) = cyclonedx::read_with(vex, &options) {
        outcome.cyclonedx = true;
        if let Ok(bytes) = cyclonedx::write(&r.document) {
            let again = cyclonedx::read_with(&bytes, &options)
                .unwrap_or_else(|e| panic!("written CycloneDX does not read: {e}"));
            assert_eq!(
                cyclonedx_claims(&again.document),
                cyclonedx_claims(&r.document),
                "CycloneDX round trip"
            );
            read.push(input(again.canonical_id, again.document));
        }
        read.push(input(r.canonical_id, r.document));
    }

    if let Ok(r) = csaf::read(vex) {
        outcome.csaf = true;
        if let Ok(bytes) = csaf::write(&r.document) {
            let again =
                csaf::read(&bytes).unwrap_or_else(|e| panic!("written CSAF does not read: {e}"));
            assert_eq!(
                csaf_claims(&again.document),
                csaf_claims(&r.document),
                "CSAF round trip"
            );
            read.push(input(again.canonical_id, again.document));
        }
        read.push(input(r.canonical_id, r.document));
    }

    // Every writer takes every document read: bytes or a typed error, never a panic.
    for i in &read {
        let _ = openvex::write(&i.document);
        let _ = cyclonedx::write(&i.document);
        let _ = csaf::write(&i.document);
    }
    if let Ok(merged) = merge::merge(&read, &Policy::default()) {
        let written = openvex::write(&merged.document());
        // Straight from the merge, without the document: the same bytes, or the same refusal.
        let mut merger = Merger::new(&Policy::default());
        for i in &read {
            if merger.add(&i.canonical_id, &i.document).is_err() {
                return outcome;
            }
        }
        let straight = merger.finish_openvex();
        assert_eq!(
            straight.as_ref().ok(),
            written.as_ref().ok(),
            "finish_openvex and write(finish().document()) differ"
        );
        assert_eq!(straight.is_err(), written.is_err());
    }
    outcome
}

fn input(canonical_id: Digest, document: VexDocument) -> MergeInput {
    MergeInput {
        canonical_id,
        document,
    }
}

/// The claims of a document, products and subcomponents named by `key`, justifications by
/// `label`; a statement without products is one claim without a product when `keep_empty`.
fn claims(
    document: &VexDocument,
    key: impl Fn(&ProductIdentity) -> String,
    label: impl Fn(&VexStatement) -> Option<String>,
    keep_empty: bool,
) -> BTreeSet<Claim> {
    let mut out = BTreeSet::new();
    for s in &document.statements {
        let name = &s.vulnerability.name;
        let j = label(s);
        if s.products.is_empty() && keep_empty {
            out.insert((name.clone(), s.status, None, None, j.clone()));
        }
        for p in &s.products {
            let product = Some(key(&p.identity));
            if p.subcomponents.is_empty() {
                out.insert((name.clone(), s.status, product.clone(), None, j.clone()));
            }
            for sub in &p.subcomponents {
                let sub = Some(key(sub));
                out.insert((name.clone(), s.status, product.clone(), sub, j.clone()));
            }
        }
    }
    out
}

fn whole(identity: &ProductIdentity) -> String {
    format!("{identity:?}")
}

/// OpenVEX keeps every product whole and the five labels it has; any other label goes to
/// `status_notes`.
fn openvex_claims(document: &VexDocument) -> BTreeSet<Claim> {
    claims(
        document,
        whole,
        |s| {
            s.justification
                .as_ref()
                .and_then(|j| j.kind.openvex_label())
                .map(str::to_owned)
        },
        true,
    )
}

/// CycloneDX keeps every product and every label (in a property when it has no place).
fn cyclonedx_claims(document: &VexDocument) -> BTreeSet<Claim> {
    claims(
        document,
        whole,
        |s| s.justification.as_ref().map(|j| j.label.clone()),
        true,
    )
}

/// CSAF names a product by its identification helper (purl, one CPE, hex hashes) or, when its
/// identifier is all that names it, by that; it has no statement without products, and its
/// flags attach labels to product ids rather than to statements.
fn csaf_claims(document: &VexDocument) -> BTreeSet<Claim> {
    claims(document, csaf_key, |_| None, false)
}

fn csaf_key(identity: &ProductIdentity) -> String {
    let only_id = identity.purl.is_none()
        && identity.cpe22.is_none()
        && identity.cpe23.is_none()
        && identity.hashes.is_empty();
    if only_id && let Some(id) = identity.id.as_ref().filter(|i| !i.is_empty()) {
        // The writer invents `CSAFPID-<n>` for a product it has no name to write for.
        if id.starts_with("CSAFPID-") {
            return "unnamed".to_owned();
        }
        return format!("id {id}");
    }
    let hashes: Vec<String> = identity
        .hashes
        .iter()
        .filter(|(_, v)| v.len() >= 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(a, v)| format!("{}:{v}", a.label()))
        .collect();
    let cpe = identity.cpe23.as_ref().or(identity.cpe22.as_ref());
    if identity.purl.is_none() && cpe.is_none() && hashes.is_empty() {
        return "unnamed".to_owned();
    }
    format!("helper {:?} {cpe:?} {hashes:?}", identity.purl)
}
