//! An [`Assessment`] as the two documents Stella signs: the evidence document (predicate
//! `https://stella-ops.org/attestations/assessment/v1`, the assessment as JSON, canonical) and
//! the VEX whose statements link it.
//!
//! Each statement is one verdict:
//! - the product is the binary in the image: the image's purl with the binary's path as its
//!   subpath (`pkg:oci/app@sha256%3A…#usr/bin/tool`, naming the image by digest and the binary
//!   by path) and the binary's SHA-256 hash — so two binaries holding one component are two
//!   products, each with its own status, in every format;
//! - its subcomponent is the component, by purl (an image-wide verdict,
//!   [`crate::assess::Basis::Sbom`], names the image alone);
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

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
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
            // The product is the binary in the image; the component is inside it. Two binaries
            // holding one component are two products, so each keeps its own status.
            let product = match &v.binary {
                Some(b) => binary_identity(&assessment.subject, &b.path, b.sha256.as_deref()),
                None => image.clone(),
            };
            let subcomponents = v
                .component
                .iter()
                .map(|c| ProductIdentity::from_id(&c.purl))
                .collect();
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
                    identity: product,
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

/// A binary of the image: the image's purl with the binary's path as its subpath
/// (`pkg:oci/app@sha256%3A…#usr/bin/tool`), and its SHA-256. For a subject that is not a purl,
/// purl-spec's generic file pinned by its checksum (`pkg:generic/tool?checksum=sha256:…`).
fn binary_identity(subject: &str, path: &str, sha256: Option<&str>) -> ProductIdentity {
    // The subject is kept as written (its version percent-encoded as the SBOM writes it);
    // each path segment is percent-encoded as purl-spec's subpath wants.
    let subpath: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .map(percent_encode_segment)
        .collect();
    let in_image = (subject.starts_with("pkg:") && !subject.contains('#') && !subpath.is_empty())
        .then(|| format!("{subject}#{}", subpath.join("/")))
        .filter(|id| id.parse::<packageurl::PackageUrl<'_>>().is_ok());
    let id = in_image.or_else(|| {
        let name = path.rsplit('/').next().unwrap_or(path);
        let mut p = packageurl::PackageUrl::new("generic", name.to_owned()).ok()?;
        if let Some(sha) = sha256 {
            p.add_qualifier("checksum", format!("sha256:{sha}")).ok()?;
        }
        Some(p.to_string())
    });
    let mut identity = match &id {
        Some(id) => ProductIdentity::from_id(id),
        None => ProductIdentity::default(),
    };
    if let Some(sha) = sha256 {
        identity
            .hashes
            .insert(HashAlgorithm::Sha256, sha.to_owned());
    }
    identity
}

/// `segment` with every byte outside RFC 3986's unreserved set as `%XX`.
fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

/// The inputs a runtime verdict rests on, by digest: what the micro-witness's replay token names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayInputs {
    /// `sha256:<hex>` of each witness report read.
    pub witnesses: Vec<String>,
    /// `sha256:<hex>` of each profile read.
    pub profiles: Vec<String>,
    /// `sha256:<hex>` of each prior VEX document.
    pub vex: Vec<String>,
    /// How long a zero stays valid, in seconds.
    pub zero_valid_for: i64,
    /// Whether sampled stacks alone make a verdict `affected`.
    pub sampled_affects: bool,
    /// When the verdicts were made (RFC 3339).
    pub issued: String,
    /// The symbol bundle the image's record binds (`sha256:<hex>`), when there is one.
    pub symbol_bundle: Option<String>,
    /// The SHA-256 of each advisory document read, by its label (`id (source)`, as verdicts
    /// list their advisories). Not recorded here: each micro-witness records the digests of
    /// its own verdict's advisories (`replay.advisoryDocuments`).
    #[serde(skip)]
    pub advisory_documents: BTreeMap<String, String>,
}

/// The micro-witness (predicate `https://stella-ops.org/attestations/micro-witness/v1`) of the
/// verdict at `index`, when runtime evidence decided it (executed, or witnessed never to run):
/// the binary by BuildID, path and SHA-256; the window the evidence covers; `uprobe` when calls
/// were counted, else `sampling`; the instances; each function found with its range, BLAKE3 and
/// count (calls, or samples) and top stacks; frames that could not be named (`unknowns`); the
/// vulnerability, the image and the SBOM it is about; `symbolRefs` to the image's symbol
/// bundle; `replay`, the inputs that reproduce the verdict (by digest, with the policy and the
/// time it was made), and `replayToken`, the SHA-256 of their canonical form.
///
/// # Errors
/// [`ReportError::Canonical`] when the replay token's inputs cannot be canonicalised.
pub fn micro_witness(
    assessment: &Assessment,
    index: usize,
    inputs: &ReplayInputs,
) -> Result<Option<serde_json::Value>, ReportError> {
    use serde_json::json;
    let Some(v) = assessment.verdicts.get(index) else {
        return Ok(None);
    };
    let Some(runtime) = v.runtime.as_ref() else {
        return Ok(None);
    };
    // Runtime evidence decides only for a binary named by its BuildID, over some window.
    let (Some(binary), true) = (
        v.binary.as_ref(),
        matches!(runtime.outcome, "executed" | "never_executed"),
    ) else {
        return Ok(None);
    };
    let Some(build_id) = binary.build_id.as_ref() else {
        return Ok(None);
    };
    let counted = runtime
        .functions
        .iter()
        .any(|f| f.execution.calls > 0 || !f.execution.zeros.is_empty());
    let mut windows: Vec<&crate::runtime::Window> = runtime
        .functions
        .iter()
        .flat_map(|f| {
            f.execution
                .windows
                .iter()
                .chain(f.execution.zeros.iter().map(|z| &z.window))
        })
        .collect();
    windows.sort();
    let (Some(start), Some(end)) = (
        windows.iter().map(|w| w.start.as_str()).min(),
        windows.iter().map(|w| w.end.as_str()).max(),
    ) else {
        return Ok(None);
    };
    let mut instances: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for f in &runtime.functions {
        for z in &f.execution.zeros {
            for pid in &z.instances {
                instances.insert(format!("pid:{pid}"), json!({ "pid": pid }));
            }
        }
        for p in &f.execution.processes {
            let pid = p
                .rsplit_once('[')
                .and_then(|(_, rest)| rest.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(pid) = pid {
                instances.insert(format!("pid:{pid}"), json!({ "pid": pid }));
            }
        }
    }
    let ranges: BTreeMap<&str, &crate::assess::FunctionFound> = v
        .symbols
        .iter()
        .flat_map(|s| s.found.iter())
        .map(|f| (f.sym.as_str(), f))
        .collect();
    let symbols: Vec<serde_json::Value> = runtime
        .functions
        .iter()
        .map(|f| {
            let mut s = json!({
                "symbol": f.function,
                "count": if counted { f.execution.calls } else { f.execution.samples },
            });
            if let Some(found) = ranges.get(f.function.as_str()) {
                s["start"] = json!(found.start);
                s["end"] = json!(found.end);
                s["blake3"] = json!(found.blake3);
                if let Some(d) = &found.demangled {
                    s["demangled"] = json!(d);
                }
            }
            if !f.execution.stacks.is_empty() {
                s["stacks"] = json!(f.execution.stacks);
            }
            s
        })
        .collect();
    let mut doc = json!({
        "binary": {
            "buildId": build_id,
            "path": binary.path,
        },
        "window": {"start": start, "end": end},
        "method": if counted { "uprobe" } else { "sampling" },
        "instances": instances.into_values().collect::<Vec<_>>(),
        "symbols": symbols,
        "vulnerability": v.vulnerability,
        "image": assessment.subject,
        "sbom": assessment.sbom,
        "outcome": runtime.outcome,
    });
    if let Some(sha) = &binary.sha256 {
        doc["binary"]["sha256"] = json!(format!("sha256:{sha}"));
    }
    if let Some(until) = &runtime.valid_until {
        doc["validUntil"] = json!(until);
    }
    if runtime.unknown_samples > 0 {
        doc["unknowns"] = json!([{
            "buildId": build_id,
            "count": runtime.unknown_samples,
            "reason": "frames of this binary no symbol source could name (unknown_state)",
        }]);
    }
    if let Some(bundle) = &inputs.symbol_bundle {
        doc["symbolRefs"] = json!([bundle]);
    }
    let documents: BTreeSet<&String> = v
        .advisories
        .iter()
        .filter_map(|label| inputs.advisory_documents.get(label))
        .collect();
    let replay = json!({
        "sbom": assessment.sbom,
        "funcproof": binary.funcproof,
        "advisories": v.advisories,
        "advisoryDocuments": documents,
        "inputs": inputs,
    });
    let token = stella_core::jcs::to_canonical(&replay)?;
    doc["replayToken"] = json!(Digest::sha256(&token).to_string());
    doc["replay"] = replay;
    Ok(Some(doc))
}
