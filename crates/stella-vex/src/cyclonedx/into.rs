//! Writing VEX into the SBOM it speaks about: the statements become the SBOM's
//! `vulnerabilities`, their `affects` naming the SBOM's own components by bom-ref.
//!
//! Each product of a statement is found in the SBOM (its components, nested ones and
//! `metadata.component`): by a BOM-Link into this SBOM, else by [`crate::matching`]'s rules (a
//! versionless purl names every version of the package, so it affects each such component).
//! A product with subcomponents (an image and the library inside it) affects the
//! subcomponents. A product the SBOM does not hold is an error naming it: the statement would
//! otherwise speak about nothing, or about a component the SBOM never listed.
//!
//! The SBOM's own members are kept as they are (its vulnerabilities too; the new ones are added
//! and the list is sorted by canonical bytes); the output is RFC 8785 canonical. Only SBOMs of
//! CycloneDX 1.5 or later take the statements: 1.4's analysis has no `firstIssued`, which
//! holds each statement's time.
//!
//! What this module does not own: standalone VEX ([`super::write`]), reading.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use stella_core::jcs;

use super::{Affected, BomIndex, CycloneDxError, statement_json};
use crate::json::{object, opt_string, sorted};
use crate::matching::{BomLink, product_matches};
use crate::model::{Product, ProductIdentity, VexDocument};

/// The CycloneDX versions whose analysis holds a statement's time.
const INTO_VERSIONS: [&str; 3] = ["1.5", "1.6", "1.7"];

/// The bom-refs of the SBOM's components that `identity` names (its version limit aside: that
/// is written beside the ref).
fn resolve(index: &BomIndex, identity: &ProductIdentity) -> Vec<String> {
    let identity = &identity.unversioned();
    if let Some(link) = identity.bom_link.as_deref().and_then(BomLink::parse)
        && index.serial.as_deref() == Some(link.serial.as_str())
        && let Some(bom_ref) = link.bom_ref
        && index.components.contains_key(&bom_ref)
    {
        return vec![bom_ref];
    }
    index
        .components
        .iter()
        .filter(|(_, c)| product_matches(identity, &c.identity))
        .map(|(bom_ref, _)| bom_ref.clone())
        .collect()
}

fn name_of(identity: &ProductIdentity) -> String {
    identity
        .purl
        .clone()
        .or_else(|| identity.bom_link.clone())
        .or_else(|| identity.id.clone())
        .unwrap_or_else(|| "(unnamed product)".to_owned())
}

/// `document`'s statements written into `sbom` (see the module docs).
///
/// # Errors
/// [`CycloneDxError::SbomJson`] / [`CycloneDxError::NotCycloneDx`] for an SBOM that is not
/// CycloneDX JSON; [`CycloneDxError::SbomTooOld`] before 1.5; [`CycloneDxError::NotInSbom`]
/// naming the first product the SBOM does not hold.
pub fn write_into(document: &VexDocument, sbom: &[u8]) -> Result<Vec<u8>, CycloneDxError> {
    let value = jcs::parse(sbom).map_err(|source| CycloneDxError::SbomJson { source })?;
    let root = object(&value, "")?;
    let format = opt_string(root, "", "bomFormat")?;
    if format.as_deref() != Some("CycloneDX") {
        return Err(CycloneDxError::NotCycloneDx {
            pointer: "/bomFormat".to_owned(),
            found: format.unwrap_or_default(),
        });
    }
    let spec = opt_string(root, "", "specVersion")?.unwrap_or_default();
    if !INTO_VERSIONS.contains(&spec.as_str()) {
        return Err(CycloneDxError::SbomTooOld { found: spec });
    }
    let index = BomIndex::of(root)?;

    let mut refs: BTreeMap<&Product, Vec<Affected>> = BTreeMap::new();
    for (i, s) in document.statements.iter().enumerate() {
        for (j, p) in s.products.iter().enumerate() {
            let targets: Vec<&ProductIdentity> = if p.subcomponents.is_empty() {
                vec![&p.identity]
            } else {
                p.subcomponents.iter().collect()
            };
            let mut found = Vec::new();
            for t in targets {
                let r = resolve(&index, t);
                if r.is_empty() {
                    return Err(CycloneDxError::NotInSbom {
                        pointer: format!("/statements/{i}/products/{j}"),
                        product: name_of(t),
                    });
                }
                found.extend(r.into_iter().map(|r| (r, t.version.clone())));
            }
            found.sort();
            found.dedup();
            refs.insert(p, found);
        }
    }

    let mut vulnerabilities: Vec<Json> = match value.get("vulnerabilities") {
        Some(v) => match v.to_serde() {
            Json::Array(items) => items,
            _ => {
                return Err(CycloneDxError::WrongType {
                    pointer: "/vulnerabilities".to_owned(),
                    expected: "an array",
                });
            }
        },
        None => Vec::new(),
    };
    for s in &document.statements {
        vulnerabilities.push(statement_json(s, &|p| {
            refs.get(p).cloned().unwrap_or_default()
        }));
    }
    let mut json = value.to_serde();
    if let Json::Object(map) = &mut json {
        map.insert(
            "vulnerabilities".into(),
            Json::Array(
                sorted(vulnerabilities).map_err(|source| CycloneDxError::Canonical { source })?,
            ),
        );
    }
    jcs::to_canonical(&json).map_err(|source| CycloneDxError::Canonical { source })
}
