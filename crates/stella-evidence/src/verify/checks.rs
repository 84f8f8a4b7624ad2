//! The checks of one artifact: loading it with its signature bundles, the bundles against the
//! trusted keys and logs, the record, the SBOM, a FuncProof's signature and the symbol bundle.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use stella_attest::{SignedEvidence, Statement, predicates};
use stella_binary::FuncProof;
use stella_binary::symbols::{self, SymbolTable};
use stella_core::media::{self, predicate};
use stella_core::{Digest, jcs};
use stella_oci::reference::Target;
use stella_oci::store::{self, Referrer, TITLE};
use stella_tlog::VerifiedEntry;

use super::{
    Artifact, LayerDoc, LogRef, ProvenBinary, Reason, ReasonKind, Scope, Status, TrustedRecord,
    Verdict, VerifiedSbom, Verifier,
};
use crate::layout::{self, Record};

/// A FuncProof whose signature was checked, waiting for its replay.
pub(super) struct Checked<'a> {
    pub(super) verdict: Verdict,
    pub(super) proof: Option<FuncProof>,
    pub(super) layer: &'a LayerDoc,
    pub(super) paths: Vec<String>,
}

/// The layers of an artifact with the bundles (from its signature referrers) for each title.
/// A failure is the artifact's verdict, not an error: a missing or altered blob is evidence.
// A failure here is a verdict, built once per artifact: its size does not matter.
#[allow(clippy::result_large_err)]
pub(super) fn load(
    v: &Verifier<'_>,
    referrer: &Referrer,
    present: &mut BTreeSet<String>,
) -> Result<Vec<LayerDoc>, Reason> {
    let layers = layers_of(v.store, &referrer.digest.to_string())?;
    let mut bundles: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    let signers = v
        .store
        .referrers(
            &referrer.digest.to_string(),
            Some(media::SIGSTORE_BUNDLE_V03),
        )
        .map_err(|e| {
            Reason::new(
                ReasonKind::Unreadable,
                format!("listing the signatures of {}: {e}", referrer.digest),
            )
            .at(referrer.digest.to_string())
        })?;
    for s in signers {
        present.insert(s.digest.to_string());
        for (title, _, bytes) in layers_of(v.store, &s.digest.to_string())? {
            bundles.entry(title).or_default().push(bytes);
        }
    }
    Ok(layers
        .into_iter()
        .map(|(title, digest, bytes)| LayerDoc {
            bundles: bundles.remove(&title).unwrap_or_default(),
            title,
            digest,
            bytes,
        })
        .collect())
}

/// (title, digest, bytes) of each layer of the manifest `digest`.
// A failure here is a verdict, built once per artifact: its size does not matter.
#[allow(clippy::result_large_err)]
pub fn layers_of(
    store: &dyn stella_oci::ArtifactStore,
    digest: &str,
) -> Result<Vec<(String, String, Vec<u8>)>, Reason> {
    let unreadable = |message: String| Reason::new(ReasonKind::Unreadable, message).at(digest);
    let manifest = store
        .get_manifest(&Target::Digest(digest.to_owned()))
        .map_err(|e| unreadable(format!("artifact {digest}: {e}")))?;
    let value: Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| unreadable(format!("artifact {digest}: not JSON ({e})")))?;
    let mut out = Vec::new();
    for (i, layer) in value["layers"].as_array().into_iter().flatten().enumerate() {
        let layer_digest = layer["digest"]
            .as_str()
            .ok_or_else(|| unreadable(format!("artifact {digest}: layer {i} has no digest")))?;
        let title = store::annotations_of(layer)
            .get(TITLE)
            .cloned()
            .unwrap_or_else(|| layer_digest.to_owned());
        let bytes = store
            .get_blob(layer_digest)
            .map_err(|e| unreadable(format!("artifact {digest}: layer {title}: {e}")))?;
        out.push((title, layer_digest.to_owned(), bytes));
    }
    Ok(out)
}

/// The outcome of the checks of one layer's bundles.
#[derive(Default)]
struct Signed {
    /// Statements signed by a trusted key whose every check held, with their log entries.
    statements: Vec<(Statement, Vec<LogRef>)>,
    /// Bundles signed by a trusted key that failed a check: the artifact fails.
    failures: Vec<Reason>,
    /// Bundles not signed by any trusted key (or not verifiable at all): ignored.
    untrusted: Vec<String>,
}

impl Signed {
    /// Applies the outcome to `v`: a trusted failure fails it; no trusted statement fails it.
    fn apply(&self, v: &mut Verdict, unsigned_is: &str) {
        for f in &self.failures {
            v.fail(f.clone());
        }
        if self.statements.is_empty() && self.failures.is_empty() {
            if self.untrusted.is_empty() {
                v.fail(Reason::new(
                    ReasonKind::Unsigned,
                    format!("unsigned: no signature bundle refers to {unsigned_is}"),
                ));
            } else {
                v.fail(Reason::new(
                    ReasonKind::Unsigned,
                    format!("not signed by a trusted key: {}", self.untrusted.join("; ")),
                ));
            }
        } else if !self.untrusted.is_empty() {
            v.notes.push(format!(
                "ignored {} bundle{} not signed by a trusted key",
                self.untrusted.len(),
                if self.untrusted.len() == 1 { "" } else { "s" }
            ));
        }
        for (_, log) in &self.statements {
            v.log.extend(log.iter().cloned());
        }
    }
}

/// Checks each bundle of `layer` against the trusted keys: signature, predicate type, subjects,
/// schema, log. See [`Signed`] for what each outcome means.
fn bundles(v: &Verifier<'_>, layer: &LayerDoc, predicate_type: &str, digests: &[Digest]) -> Signed {
    let mut signed = Signed::default();
    for (i, bytes) in layer.bundles.iter().enumerate() {
        let which = if layer.bundles.len() == 1 {
            "bundle".to_owned()
        } else {
            format!("bundle {}", i + 1)
        };
        let evidence = match jcs::parse(bytes)
            .map_err(|e| e.to_string())
            .and_then(|v| SignedEvidence::from_json_value(&v.to_serde()).map_err(|e| e.to_string()))
        {
            Ok(e) => e,
            Err(e) => {
                signed.untrusted.push(format!("{which}: unreadable ({e})"));
                continue;
            }
        };
        let mut last_refusal = String::new();
        let verified = v
            .keys
            .iter()
            .find_map(|k| match evidence.envelope().verify(&k.key) {
                Ok(verified) => Some((k, verified)),
                Err(e) => {
                    last_refusal = e.to_string();
                    None
                }
            });
        let Some((key, verified)) = verified else {
            signed.untrusted.push(format!("{which}: {last_refusal}"));
            continue;
        };
        // Signed by a trusted key: from here on, anything that does not hold is a failure.
        let by = format!("{which} (signed by {})", key.name);
        let statement = verified.statement;
        if let Err(e) = predicates::check_statement(&statement, Some(predicate_type), digests) {
            signed
                .failures
                .push(Reason::new(ReasonKind::Statement, format!("{by}: {e}")));
            continue;
        }
        let log_failure = |message: String| Reason::new(ReasonKind::Log, message);
        if let SignedEvidence::Bundle(b) = &evidence
            && b.tlog_entries.is_empty()
        {
            signed.failures.push(log_failure(format!(
                "{by}: not logged: the bundle carries no log entry"
            )));
            continue;
        }
        if matches!(evidence, SignedEvidence::Envelope(_)) {
            signed.failures.push(log_failure(format!(
                "{by}: a bare envelope: no log entry proves when it was signed"
            )));
            continue;
        }
        let Some(check) = &v.log else {
            signed.failures.push(log_failure(format!(
                "{by}: no trusted root to check its log entry against: pass --trusted-root \
                 (`stella log trusted-root` writes the embedded log's)"
            )));
            continue;
        };
        let raw = match &evidence {
            SignedEvidence::Bundle(b) => b.tlog_entries.as_slice(),
            SignedEvidence::Envelope(_) => &[],
        };
        match stella_tlog::audit::check_entries(raw, evidence.envelope(), check) {
            Ok(Ok(verified)) if verified.entries.is_empty() => {
                signed.failures.push(log_failure(format!(
                    "{by}: log: none of its log entries is in a trusted log"
                )));
            }
            Ok(Ok(verified)) => signed
                .statements
                .push((statement, verified.entries.iter().map(log_ref).collect())),
            Ok(Err(failure)) => {
                signed
                    .failures
                    .push(log_failure(format!("{by}: log: {failure}")));
            }
            Err(e) => signed.failures.push(log_failure(format!("{by}: log: {e}"))),
        }
    }
    signed
}

fn log_ref(e: &VerifiedEntry) -> LogRef {
    LogRef {
        origin: e.origin.clone(),
        index: e.log_index,
    }
}

/// A verdict naming an artifact as a whole (its layers counted).
pub(super) fn artifact_verdict(a: &Artifact) -> Verdict {
    let name = match a.layers.as_slice() {
        [one] => one.title.clone(),
        many => format!("({} layers)", many.len()),
    };
    Verdict::new(Scope::of(a.kind), &name, &a.digest)
}

// A failure here is a verdict, built once per artifact: its size does not matter.
#[allow(clippy::result_large_err)]
fn one_layer<'a>(a: &'a Artifact, what: &str) -> Result<&'a LayerDoc, Verdict> {
    match a.layers.as_slice() {
        [layer] => Ok(layer),
        layers => {
            let mut v = artifact_verdict(a);
            v.fail(
                Reason::new(
                    ReasonKind::Unreadable,
                    format!(
                        "{what} artifact has exactly one layer; this one has {}",
                        layers.len()
                    ),
                )
                .expected_found("1 layer", format!("{} layers", layers.len())),
            );
            Err(v)
        }
    }
}

/// Whether the statement's predicate, as canonical JSON, is `attached` byte for byte.
fn signed_differs(predicate: &Value, attached: &[u8]) -> bool {
    jcs::to_canonical(predicate).unwrap_or_default() != attached
}

/// Checks a record artifact: one layer, a Stella record about this image, signed by a trusted
/// key with the record itself as the predicate.
pub(super) fn record(v: &Verifier<'_>, a: &Artifact) -> (Verdict, Option<TrustedRecord>) {
    let layer = match one_layer(a, "a record") {
        Ok(l) => l,
        Err(verdict) => return (verdict, None),
    };
    let mut verdict = Verdict::new(Scope::Record, &layer.title, &a.digest);
    let record = match serde_json::from_slice::<Record>(&layer.bytes) {
        Ok(r) => r,
        Err(e) => {
            verdict.fail(Reason::new(
                ReasonKind::Unreadable,
                format!("not a Stella record: {e}"),
            ));
            return (verdict, None);
        }
    };
    let image_digest = v.image.root.digest.clone();
    let signed = bundles(
        v,
        layer,
        predicate::STELLA_RECORD,
        &[image_digest.clone(), record.canonical_id.clone()],
    );
    if signed.statements.is_empty() && signed.failures.is_empty() {
        // Not signed by a trusted key: never used; the caller decides how to report it.
        let mut verdict = verdict.ignored(Status::Untrusted, "not signed by a trusted key");
        verdict.notes.extend(signed.untrusted);
        return (verdict, None);
    }
    signed.apply(&mut verdict, "the record");
    let attached = jcs::parse(&layer.bytes)
        .map(|p| p.to_canonical())
        .unwrap_or_default();
    for (statement, _) in &signed.statements {
        if signed_differs(&statement.predicate, &attached) {
            verdict.fail(Reason::new(
                ReasonKind::Mismatch,
                "the signed record differs from the attached one",
            ));
        }
    }
    if record.image.digest != image_digest {
        verdict.fail(
            Reason::new(
                ReasonKind::Mismatch,
                format!(
                    "the record is about image {}, not this one",
                    record.image.digest
                ),
            )
            .expected_found(image_digest.to_string(), record.image.digest.to_string()),
        );
    }
    if !verdict.ok {
        return (verdict, None);
    }
    let newest_log_index = verdict.log.iter().map(|l| l.index).max().unwrap_or(0);
    (
        verdict,
        Some(TrustedRecord {
            artifact: a.digest.clone(),
            record,
            newest_log_index,
        }),
    )
}

/// Checks the SBOM artifact the record names, and collects the FuncProofs it names with every
/// path of their binaries.
pub(super) fn sbom(
    v: &Verifier<'_>,
    a: &Artifact,
    record: &Record,
    named: &mut BTreeMap<String, Vec<String>>,
) -> (Verdict, Option<VerifiedSbom>) {
    let layer = match one_layer(a, "an SBOM") {
        Ok(l) => l,
        Err(verdict) => return (verdict, None),
    };
    let mut verdict = Verdict::new(Scope::Sbom, &layer.title, &a.digest);
    let doc = match stella_sbom::SbomDocument::read(&layer.bytes, Default::default()) {
        Ok(d) => d,
        Err(e) => {
            verdict.fail(Reason::new(
                ReasonKind::Unreadable,
                format!("not a CycloneDX SBOM: {e}"),
            ));
            return (verdict, None);
        }
    };
    let canonical_id = doc.canonical_id();
    verdict.detail = Some(format!("canonical_id {canonical_id}"));
    if canonical_id != record.canonical_id {
        verdict.fail(
            Reason::new(
                ReasonKind::Mismatch,
                format!(
                    "its canonical_id is {canonical_id}; the record says {}",
                    record.canonical_id
                ),
            )
            .expected_found(record.canonical_id.to_string(), canonical_id.to_string()),
        );
    }
    let mut digests = vec![canonical_id.clone()];
    digests.push(v.image.root.digest.clone());
    let signed = bundles(v, layer, predicate::STELLA_SBOM, &digests);
    signed.apply(&mut verdict, "the SBOM");
    let canonical = doc.canonical_bytes();
    for (statement, _) in &signed.statements {
        if signed_differs(&statement.predicate["bom"], &canonical) {
            verdict.fail(Reason::new(
                ReasonKind::Mismatch,
                "the signed SBOM differs from the attached one",
            ));
        }
    }
    let as_json: Option<Value> = serde_json::from_slice(&layer.bytes).ok();
    collect_proof_refs(as_json.as_ref(), named);
    let verified = match as_json {
        Some(document) if verdict.ok => Some(VerifiedSbom {
            canonical_id: canonical_id.to_string(),
            digest: layer.digest.clone(),
            document,
        }),
        _ => None,
    };
    (verdict, verified)
}

/// Checks the SBOM's attestation under the CycloneDX predicate type that the record binds (the
/// referrer `attestation` of the image, in cosign's layout): each bundle signed by a trusted
/// key, logged, about the SBOM's canonical_id and the image, with the verified SBOM itself as
/// the predicate. Its failures are the SBOM's.
pub(super) fn sbom_attestation(
    v: &Verifier<'_>,
    attestation: &str,
    canonical_id: &Digest,
    sbom: Option<&VerifiedSbom>,
    verdict: &mut Verdict,
) {
    let layers = match layers_of(v.store, attestation) {
        Ok(layers) if !layers.is_empty() => layers,
        Ok(_) => {
            verdict.fail(
                Reason::new(
                    ReasonKind::Missing,
                    format!("the CycloneDX attestation {attestation} has no bundle"),
                )
                .at(attestation),
            );
            return;
        }
        Err(reason) => {
            verdict.fail(reason);
            return;
        }
    };
    let digests = [canonical_id.clone(), v.image.root.digest.clone()];
    let canonical = sbom.and_then(|s| jcs::to_canonical(&s.document).ok());
    for (title, digest, bytes) in layers {
        let layer = LayerDoc {
            title,
            digest,
            bytes: Vec::new(),
            bundles: vec![bytes],
        };
        let signed = bundles(v, &layer, predicate::CYCLONEDX_BOM, &digests);
        signed.apply(verdict, "the CycloneDX attestation");
        for (statement, _) in &signed.statements {
            if canonical
                .as_deref()
                .is_some_and(|c| signed_differs(&statement.predicate, c))
            {
                verdict.fail(
                    Reason::new(
                        ReasonKind::Mismatch,
                        format!(
                            "the CycloneDX attestation {attestation} signs another SBOM than the                              attached one"
                        ),
                    )
                    .at(attestation),
                );
            }
        }
    }
}

/// Every FuncProof an SBOM names (`urn:stella:funcproof:sha256:…` external references), with
/// every path of the binary it is about: its `stella:path` and each occurrence's location.
fn collect_proof_refs(value: Option<&Value>, out: &mut BTreeMap<String, Vec<String>>) {
    fn walk(components: &Value, out: &mut BTreeMap<String, Vec<String>>) {
        for c in components.as_array().into_iter().flatten() {
            let mut paths: Vec<String> = c["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["name"] == "stella:path")
                .filter_map(|p| p["value"].as_str().map(str::to_owned))
                .collect();
            paths.extend(
                c["evidence"]["occurrences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o["location"].as_str().map(str::to_owned)),
            );
            if paths.is_empty()
                && let Some(name) = c["name"].as_str()
            {
                paths.push(name.to_owned());
            }
            for r in c["externalReferences"].as_array().into_iter().flatten() {
                if let Some(d) = r["url"]
                    .as_str()
                    .and_then(|u| u.strip_prefix(layout::FUNCPROOF_URN))
                {
                    let entry = out.entry(d.to_owned()).or_default();
                    entry.extend(paths.iter().cloned());
                    entry.sort();
                    entry.dedup();
                }
            }
            walk(&c["components"], out);
        }
    }
    if let Some(v) = value {
        walk(&v["components"], out);
    }
}

/// Parses a FuncProof layer (once) and checks its signatures.
pub(super) fn funcproof_signature(
    v: &Verifier<'_>,
    layer: &LayerDoc,
) -> (Verdict, Option<FuncProof>) {
    let mut verdict = Verdict::new(Scope::Funcproof, &layer.title, &layer.digest);
    let proof = match FuncProof::from_json(&layer.bytes) {
        Ok(p) => p,
        Err(e) => {
            verdict.fail(
                Reason::new(ReasonKind::Unreadable, format!("not a FuncProof: {e}"))
                    .at(layer.title.clone()),
            );
            return (verdict, None);
        }
    };
    let subject = proof.file.sha256.clone();
    let signed = bundles(v, layer, predicate::STELLA_FUNCPROOF, &[subject]);
    signed.apply(&mut verdict, "the FuncProof");
    // The attached layer is canonical JSON by contract: it must be the signed predicate's
    // canonical bytes exactly, so it is not parsed a second time to compare.
    for (statement, _) in &signed.statements {
        if signed_differs(&statement.predicate, &layer.bytes) {
            verdict.fail(Reason::new(
                ReasonKind::Mismatch,
                "the signed FuncProof differs from the attached one",
            ));
        }
    }
    (verdict, Some(proof))
}

/// Checks the symbol bundle against the verified FuncProofs; returns the tables that match one.
/// A table for a binary the image's FuncProofs do not have fails the bundle: it could name
/// frames of a binary nobody proved.
pub(super) fn symbols(
    layer: &LayerDoc,
    proven: &[ProvenBinary],
    proved_files: &BTreeSet<String>,
    v: &mut Verdict,
) -> Vec<SymbolTable> {
    let tables = match symbols::bundle::read(&layer.bytes, &symbols::bundle::Limits::default()) {
        Ok(t) => t,
        Err(e) => {
            v.fail(Reason::new(
                ReasonKind::Unreadable,
                format!("unreadable symbol bundle: {e}"),
            ));
            return Vec::new();
        }
    };
    let by_sha: BTreeMap<String, &ProvenBinary> = proven
        .iter()
        .map(|p| (p.proof.file.sha256.to_string(), p))
        .collect();
    let mut good = Vec::new();
    let total = tables.len();
    for table in tables {
        let Some(binary) = by_sha.get(table.file_sha256.as_str()) else {
            if proved_files.contains(&table.file_sha256) {
                continue;
            }
            v.fail(
                Reason::new(
                    ReasonKind::Mismatch,
                    format!(
                        "the symbol table of {} (file {}) belongs to no FuncProof the record binds",
                        table.build_id, table.file_sha256
                    ),
                )
                .at(table.file_sha256.clone()),
            );
            continue;
        };
        let entries = symbols::entries_of(&binary.proof);
        let expected: Vec<(u64, u64, &str)> = entries
            .iter()
            .map(|f| (f.start.0, f.end.0, f.sym.as_str()))
            .collect();
        let actual: Vec<(u64, u64, &str)> = table
            .functions
            .iter()
            .map(|f| (f.start.0, f.end.0, f.sym.as_str()))
            .collect();
        let build_id_agrees = binary
            .proof
            .build_id
            .as_ref()
            .is_none_or(|id| id.as_str() == table.build_id);
        if expected != actual || !build_id_agrees {
            v.fail(
                Reason::new(
                    ReasonKind::Mismatch,
                    format!(
                        "the symbols of {} ({}) differ from its FuncProof",
                        binary.path, table.build_id
                    ),
                )
                .at(binary.path.clone()),
            );
            continue;
        }
        good.push(table);
    }
    v.detail = Some(format!(
        "{total} symbol tables, {} checked against FuncProofs",
        good.len()
    ));
    good
}
