//! An [`Assessment`] as the two documents Stella signs: the evidence document (predicate
//! `https://stella-ops.org/attestations/assessment/v1`, the assessment as JSON, canonical) and
//! the VEX whose statements link it.
//!
//! Each statement is one verdict:
//! - the product is the image (`pkg:oci/…@sha256:…`, or the SBOM's subject);
//! - its subcomponents are the binary, named by its SHA-256 hash (and, as OpenVEX wants an
//!   `@id`, by purl-spec's generic file `pkg:generic/<file name>?checksum=sha256:<hex>`), and
//!   the component, by purl
//!   (an image-wide verdict, [`crate::assess::Basis::Sbom`], has none);
//! - its `@id` is `urn:stella:assessment:<evidence canonical id>:<verdict index>`, so the
//!   machine-readable evidence of the statement is the verdict at that index of the evidence
//!   document with that canonical id;
//! - `status_notes` (and `impact_statement` for `not_affected`) say the verdict in words, citing
//!   the FuncProof, the functions found or searched, the version ranges.
//!
//! The same assessment gives the same bytes: verdicts are sorted, the time is given.
//!
//! Not here: signing, attaching, merging prior VEX (`stella-vex::merge`), other VEX formats
//! (`stella-vex` writes them from the same model).

use std::collections::BTreeMap;

use stella_core::Digest;
use stella_vex::model::{
    HashAlgorithm, Justification as VexJustification, JustificationKind, Product, ProductIdentity,
    Provenance, Status as VexStatus, VexDocument, VexFormat, VexStatement, Vulnerability,
};

use crate::assess::{Assessment, Justification, Status};

/// The prefix of a statement `@id` that links a verdict of an evidence document.
pub const STATEMENT_ID_PREFIX: &str = "urn:stella:assessment:";

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The assessment holds a number JSON canonicalisation cannot write.
    #[error("the assessment cannot be canonicalised: {0}")]
    Canonical(#[from] stella_core::jcs::JcsError),
}

/// The evidence document's canonical bytes and canonical id.
///
/// # Errors
/// [`ReportError::Canonical`].
pub fn evidence(assessment: &Assessment) -> Result<(Vec<u8>, Digest), ReportError> {
    let bytes = stella_core::jcs::to_canonical(assessment)?;
    let id = Digest::sha256(&bytes);
    Ok((bytes, id))
}

/// How the VEX is made.
#[derive(Debug, Clone)]
pub struct VexOptions {
    /// The author (OpenVEX `author`).
    pub author: String,
    /// When the statements were made.
    pub timestamp: jiff::Timestamp,
    /// The tool, for `tooling`.
    pub tooling: String,
}

/// The verdicts as VEX statements (see the module documentation); `evidence_id` is the
/// evidence document's canonical id.
pub fn vex(assessment: &Assessment, evidence_id: &Digest, options: &VexOptions) -> VexDocument {
    let image = ProductIdentity::from_id(&assessment.subject);
    let statements = assessment
        .verdicts
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut subcomponents = Vec::new();
            if let Some(b) = &v.binary
                && let Some(sha) = &b.sha256
            {
                // OpenVEX needs an @id beside the hashes: purl-spec's generic file, pinned by
                // its checksum qualifier.
                let name = b.path.rsplit('/').next().unwrap_or(&b.path);
                let id = packageurl::PackageUrl::new("generic", name)
                    .ok()
                    .and_then(|mut p| {
                        p.add_qualifier("checksum", format!("sha256:{sha}")).ok()?;
                        Some(p.to_string())
                    });
                subcomponents.push(ProductIdentity {
                    purl: id.clone(),
                    id,
                    hashes: BTreeMap::from([(HashAlgorithm::Sha256, sha.clone())]),
                    ..ProductIdentity::default()
                });
            }
            if let Some(c) = &v.component {
                subcomponents.push(ProductIdentity::from_id(&c.purl));
            }
            let status = match v.status {
                Status::NotAffected => VexStatus::NotAffected,
                Status::UnderInvestigation => VexStatus::UnderInvestigation,
                Status::Affected => VexStatus::Affected,
            };
            let justification = v.justification.map(|j| VexJustification {
                kind: match j {
                    Justification::ComponentNotPresent => JustificationKind::ComponentNotPresent,
                    Justification::VulnerableCodeNotPresent => {
                        JustificationKind::VulnerableCodeNotPresent
                    }
                    Justification::VulnerableCodeNotInExecutePath => {
                        JustificationKind::VulnerableCodeNotInExecutePath
                    }
                },
                label: j.label().to_owned(),
            });
            let action_statement = (v.status == Status::Affected).then(|| {
                match v.version.as_ref().map(|f| f.fixed.as_slice()) {
                    Some(fixed) if !fixed.is_empty() => {
                        format!(
                            "Update the component to a fixed version ({}).",
                            fixed.join(", ")
                        )
                    }
                    _ => "No fixed version is known: remove or isolate the component.".to_owned(),
                }
            });
            VexStatement {
                id: Some(format!("{STATEMENT_ID_PREFIX}{evidence_id}:{i}")),
                version: None,
                vulnerability: Vulnerability::new(v.vulnerability.clone(), v.aliases.clone()),
                products: vec![Product {
                    identity: image.clone(),
                    subcomponents,
                }],
                status,
                impact_statement: (v.status == Status::NotAffected).then(|| v.note.clone()),
                status_notes: Some(v.note.clone()),
                justification,
                action_statement,
                action_statement_timestamp: None,
                supplier: None,
                timestamp: options.timestamp,
                last_updated: None,
                provenance: Provenance {
                    document: evidence_id.clone(),
                    format: VexFormat::OpenVex,
                    statement_index: i,
                    author: options.author.clone(),
                },
            }
        })
        .collect();
    VexDocument {
        id: format!("urn:stella:vex:{evidence_id}"),
        author: options.author.clone(),
        role: None,
        timestamp: Some(options.timestamp),
        last_updated: None,
        version: 1,
        tooling: Some(options.tooling.clone()),
        statements,
    }
}

/// The verdicts as a SARIF 2.1.0 log: one rule per vulnerability, one result per verdict
/// (`error` for affected, `warning` for under investigation, `note` for not affected), located
/// at the binary (its path as a relative URI) and, when found, the vulnerable function.
pub fn sarif(assessment: &Assessment, tool_version: &str) -> serde_json::Value {
    use serde_json::json;
    let mut rules: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    let mut results = Vec::new();
    for v in &assessment.verdicts {
        rules.entry(v.vulnerability.as_str()).or_insert_with(|| {
            let mut rule = json!({
                "id": v.vulnerability,
                "shortDescription": {"text": v.summary.clone().unwrap_or_else(|| v.vulnerability.clone())},
            });
            if !v.aliases.is_empty() {
                rule["properties"] = json!({"aliases": v.aliases});
            }
            rule
        });
        let level = match v.status {
            Status::Affected => "error",
            Status::UnderInvestigation => "warning",
            Status::NotAffected => "note",
        };
        let uri = v.binary.as_ref().map_or_else(
            || assessment.subject.clone(),
            |b| b.path.trim_start_matches('/').to_owned(),
        );
        let functions: Vec<serde_json::Value> = v
            .symbols
            .iter()
            .flat_map(|s| s.found.iter())
            .map(|f| {
                json!({"name": f.demangled.clone().unwrap_or_else(|| f.sym.clone()), "kind": "function"})
            })
            .collect();
        let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": uri}}});
        if !functions.is_empty() {
            location["logicalLocations"] = serde_json::Value::Array(functions);
        }
        let mut properties = json!({
            "status": v.status.label(),
            "basis": v.basis,
        });
        if let Some(j) = v.justification {
            properties["justification"] = json!(j.label());
        }
        if let Some(c) = &v.component {
            properties["component"] = json!(c.purl);
        }
        results.push(json!({
            "ruleId": v.vulnerability,
            "level": level,
            "message": {"text": v.note},
            "locations": [location],
            "properties": properties,
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "stella",
                "version": tool_version,
                "informationUri": "https://github.com/stella-ops/stella",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
