//! `stella verify --image`: the auditor's replay of what `stella scan` attached to an image.
//!
//! For every referrer Stella wrote (see [`crate::evidence`]): each layer's bundles are checked
//! (signature by the expected key, statement subjects, predicate equal to the attached
//! document, log entry included in a trusted checkpoint and still held by the log at hand); the
//! SBOM's canonical_id is recomputed; every FuncProof the SBOM names must be attached; each
//! FuncProof is replayed against the image's binaries (or `--rootfs`); the symbol bundle must
//! agree with the FuncProofs; the record's referrers must all be there. One verdict per artifact.
//!
//! Not here: the checks themselves (`stella-attest`, `stella-tlog`, `stella-binary`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::anyhow;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use stella_attest::{PublicKey, SignedEvidence};
use stella_binary::symbols;
use stella_binary::{FuncProof, MappedFile};
use stella_core::media::{self, predicate};
use stella_core::{Digest, jcs};
use stella_oci::image::{self, Image, Platform, UnpackLimits};
use stella_oci::reference::Target;
use stella_oci::store::{self, Referrer, TITLE};
use stella_oci::{ArtifactStore, Reference};
use stella_tlog::{TrustedLog, VerifiedEntry};

use crate::cli::VerifyArgs;
use crate::evidence::{self, Record};
use crate::exit::{CliError, Outcome};
use crate::input::Input;
use crate::oci::{oci_error, open_store};
use crate::output::{print_json, write_stdout};

/// Most mismatching functions named per binary (the JSON output has them all).
const MAX_NAMED_MISMATCHES: usize = 5;

/// One artifact's verdict.
#[derive(Debug, Clone, Serialize)]
struct Verdict {
    kind: &'static str,
    name: String,
    digest: String,
    ok: bool,
    reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    log: Vec<LogRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct LogRef {
    origin: String,
    index: u64,
}

impl Verdict {
    fn new(kind: &'static str, name: &str, digest: &str) -> Self {
        Verdict {
            kind,
            name: name.to_owned(),
            digest: digest.to_owned(),
            ok: true,
            reasons: Vec::new(),
            log: Vec::new(),
            detail: None,
        }
    }

    fn fail(&mut self, reason: impl Into<String>) {
        self.ok = false;
        self.reasons.push(reason.into());
    }
}

/// One layer of an artifact, with the bundles that sign it.
struct LayerDoc {
    title: String,
    digest: String,
    bytes: Vec<u8>,
    bundles: Vec<Vec<u8>>,
}

/// A verified FuncProof, kept for the symbol queries.
struct ProvenBinary {
    path: String,
    proof: FuncProof,
    digest: String,
    log: Vec<LogRef>,
}

/// `stella verify --image`.
pub fn run(args: VerifyArgs, home: &Path) -> Result<Outcome, CliError> {
    if args.jobs == Some(0) {
        return Err(CliError::input(anyhow!("--jobs must be at least 1")));
    }
    let key_path = match &args.key {
        Some(p) => p.clone(),
        None => {
            let (_, public) = crate::attest::default_key_paths(home);
            if !public.exists() {
                return Err(CliError::input(anyhow!(
                    "no --key given and no default key at {}: pass the public key the evidence \
                     was signed with",
                    public.display()
                )));
            }
            public
        }
    };
    let key = crate::attest::load_public_key(&key_path)?;
    let trusted = trusted_logs(args.trusted_root.as_deref(), home)?;
    let local_log = crate::log::open_existing(home)?;

    let reference = Reference::parse(&args.image).map_err(oci_error)?;
    let store = open_store(&reference, args.insecure)?;
    let image =
        image::resolve(store.as_ref(), reference.target(), &Platform::host()).map_err(oci_error)?;
    let referrers = store
        .referrers(&image.root.digest, None)
        .map_err(oci_error)?;
    let mut by_type: BTreeMap<String, Vec<Referrer>> = BTreeMap::new();
    for r in referrers {
        by_type
            .entry(r.artifact_type.clone().unwrap_or_default())
            .or_default()
            .push(r);
    }
    let take = |t: &str, by_type: &mut BTreeMap<String, Vec<Referrer>>| {
        by_type.remove(t).unwrap_or_default()
    };
    let sbom_refs = take(media::CYCLONEDX_JSON, &mut by_type);
    let proof_refs = take(media::FUNCPROOF_JSON, &mut by_type);
    let symbol_refs = take(media::SYMBOLS_TAR, &mut by_type);
    let record_refs = take(evidence::RECORD_JSON, &mut by_type);

    let mut verdicts = Vec::new();
    let mut present: BTreeSet<String> = BTreeSet::new();
    let ctx = Ctx {
        store: store.as_ref(),
        key: &key,
        trusted: trusted.as_deref(),
        home,
        local_log: local_log.as_ref(),
        image: &image,
    };

    if sbom_refs.is_empty() && proof_refs.is_empty() {
        let mut v = Verdict::new("image", &args.image, &image.root.digest);
        v.fail("no Stella evidence is attached to this image (no SBOM, no FuncProof referrer): run stella scan");
        verdicts.push(v);
    } else if sbom_refs.is_empty() {
        let mut v = Verdict::new("image", &args.image, &image.root.digest);
        v.fail("missing referrer: no SBOM is attached to this image");
        verdicts.push(v);
    }

    // SBOMs.
    let mut named_proofs: BTreeMap<String, String> = BTreeMap::new();
    let mut canonical_ids = BTreeSet::new();
    for r in &sbom_refs {
        present.insert(r.digest.clone());
        match load(&ctx, r, &mut present) {
            Ok(layers) => {
                for layer in layers {
                    let v = check_sbom(&ctx, &layer, &mut named_proofs, &mut canonical_ids);
                    verdicts.push(v);
                }
            }
            Err(reason) => {
                let mut v = Verdict::new("sbom", "(artifact)", &r.digest);
                v.fail(reason);
                verdicts.push(v);
            }
        }
    }

    // FuncProofs: signatures first, then the replay in parallel.
    let mut proofs: Vec<(LayerDoc, Verdict, Option<FuncProof>)> = Vec::new();
    for r in &proof_refs {
        present.insert(r.digest.clone());
        match load(&ctx, r, &mut present) {
            Ok(layers) => {
                for layer in layers {
                    let (v, proof) = check_funcproof_signature(&ctx, &layer);
                    proofs.push((layer, v, proof));
                }
            }
            Err(reason) => {
                let mut v = Verdict::new("funcproof", "(artifact)", &r.digest);
                v.fail(reason);
                verdicts.push(v);
            }
        }
    }
    let attached_proofs: BTreeSet<String> =
        proofs.iter().map(|(l, _, _)| l.digest.clone()).collect();
    if let Some(sbom_verdict) = verdicts.iter_mut().find(|v| v.kind == "sbom") {
        for (digest, path) in &named_proofs {
            if !attached_proofs.contains(digest) {
                sbom_verdict.fail(format!(
                    "missing referrer: the FuncProof {digest} of {path}, named by the SBOM, is not \
                     attached to the image"
                ));
            }
        }
    }

    let (root, _unpacked) = replay_root(&args, &ctx, home)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::environment(anyhow!("worker threads: {e}")))?;
    let replayed: Vec<(Verdict, Option<ProvenBinary>)> = pool.install(|| {
        proofs
            .into_par_iter()
            .map(|(layer, mut v, proof)| {
                let Some(proof) = proof else {
                    return (v, None);
                };
                replay(&root, &layer.title, &proof, &mut v);
                let proven = ProvenBinary {
                    path: layer.title.clone(),
                    digest: layer.digest.clone(),
                    log: v.log.clone(),
                    proof,
                };
                let ok = v.ok;
                (v, ok.then_some(proven))
            })
            .collect()
    });
    let mut proven = Vec::new();
    for (v, p) in replayed {
        verdicts.push(v);
        proven.extend(p);
    }

    // The symbol bundle must say what the FuncProofs say.
    for r in &symbol_refs {
        present.insert(r.digest.clone());
        let mut v = Verdict::new("symbols", evidence::SYMBOLS_TITLE, &r.digest);
        match load(&ctx, r, &mut present) {
            Ok(layers) => {
                for layer in layers {
                    check_symbols(&layer, &proven, &mut v);
                }
            }
            Err(reason) => v.fail(reason),
        }
        verdicts.push(v);
    }

    // The record: its SBOM, and every referrer it lists, must be here.
    for r in &record_refs {
        present.insert(r.digest.clone());
        let mut v = Verdict::new("record", evidence::RECORD_TITLE, &r.digest);
        match load(&ctx, r, &mut present) {
            Ok(layers) => {
                for layer in layers {
                    match serde_json::from_slice::<Record>(&layer.bytes) {
                        Ok(record) => {
                            v.detail = Some(format!(
                                "{} referrers listed, {} attestation(s)",
                                record.referrers.len(),
                                record.attestations.len()
                            ));
                            if !canonical_ids.contains(&record.canonical_id) {
                                v.fail(format!(
                                    "the record is about SBOM {}, which is not attached",
                                    record.canonical_id
                                ));
                            }
                            for d in &record.referrers {
                                if !present.contains(d) {
                                    v.fail(format!(
                                        "missing referrer: {d}, listed in the record, is not \
                                         attached"
                                    ));
                                }
                            }
                        }
                        Err(e) => v.fail(format!("the record is not a Stella record: {e}")),
                    }
                }
            }
            Err(reason) => v.fail(reason),
        }
        verdicts.push(v);
    }

    let ok = verdicts.iter().all(|v| v.ok);
    let answers: Vec<Value> = args
        .symbol
        .iter()
        .map(|name| symbol_answer(name, &proven))
        .collect::<Result<_, _>>()?;
    if args.json {
        print_json(&json!({
            "image": args.image,
            "digest": image.root.digest,
            "verified": ok,
            "artifacts": verdicts,
            "failed": verdicts.iter().filter(|v| !v.ok).count(),
            "symbols": answers,
        }))?;
    } else {
        print_table(&args.image, &image.root.digest, &verdicts, &answers)?;
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// What every check needs.
struct Ctx<'a> {
    store: &'a dyn ArtifactStore,
    key: &'a PublicKey,
    trusted: Option<&'a [TrustedLog]>,
    home: &'a Path,
    local_log: Option<&'a stella_tlog::Log>,
    image: &'a Image,
}

fn trusted_logs(path: Option<&Path>, home: &Path) -> Result<Option<Vec<TrustedLog>>, CliError> {
    match path {
        Some(path) => {
            let input = Input::new(path.to_path_buf());
            let value = jcs::parse(&input.read(crate::attest::MAX_TRUSTED_ROOT_BYTES)?)
                .map_err(|e| CliError::input(anyhow!(e)).context(input.name()))?
                .to_serde();
            Ok(Some(stella_tlog::trusted_logs(&value).map_err(|e| {
                CliError::input(anyhow!(e)).context(input.name())
            })?))
        }
        None => match crate::log::open_existing(home)? {
            Some(log) => Ok(Some(
                stella_tlog::trusted_logs(&log.trusted_root(&log.created()))
                    .map_err(|e| CliError::input(anyhow!(e)))?,
            )),
            None => Ok(None),
        },
    }
}

/// The layers of an artifact with the bundles (from its signature referrers) for each title.
/// A failure is the artifact's verdict, not an error: a missing or altered blob is evidence.
fn load(
    ctx: &Ctx<'_>,
    referrer: &Referrer,
    present: &mut BTreeSet<String>,
) -> Result<Vec<LayerDoc>, String> {
    let layers = layers_of(ctx.store, &referrer.digest)?;
    let mut bundles: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    let signers = ctx
        .store
        .referrers(&referrer.digest, Some(media::SIGSTORE_BUNDLE_V03))
        .map_err(|e| format!("listing the signatures of {}: {e}", referrer.digest))?;
    for s in signers {
        present.insert(s.digest.clone());
        for (title, _, bytes) in layers_of(ctx.store, &s.digest)? {
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
pub(crate) fn layers_of(
    store: &dyn ArtifactStore,
    digest: &str,
) -> Result<Vec<(String, String, Vec<u8>)>, String> {
    let manifest = store
        .get_manifest(&Target::Digest(digest.to_owned()))
        .map_err(|e| format!("artifact {digest}: {e}"))?;
    let value: Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| format!("artifact {digest}: not JSON ({e})"))?;
    let mut out = Vec::new();
    for (i, layer) in value["layers"].as_array().into_iter().flatten().enumerate() {
        let layer_digest = layer["digest"]
            .as_str()
            .ok_or_else(|| format!("artifact {digest}: layer {i} has no digest"))?;
        let title = store::annotations_of(layer)
            .get(TITLE)
            .cloned()
            .unwrap_or_else(|| layer_digest.to_owned());
        let bytes = store
            .get_blob(layer_digest)
            .map_err(|e| format!("artifact {digest}: layer {title}: {e}"))?;
        out.push((title, layer_digest.to_owned(), bytes));
    }
    Ok(out)
}

/// Checks each bundle of `layer`: signature, predicate type, subjects, log. Statements that
/// verify are returned.
fn check_bundles(
    ctx: &Ctx<'_>,
    layer: &LayerDoc,
    predicate_type: &str,
    digests: &[Digest],
    verdict: &mut Verdict,
) -> Vec<stella_attest::Statement> {
    if layer.bundles.is_empty() {
        verdict.fail("unsigned: no signature bundle refers to it");
        return Vec::new();
    }
    let mut statements = Vec::new();
    for (i, bytes) in layer.bundles.iter().enumerate() {
        let which = if layer.bundles.len() == 1 {
            "bundle".to_owned()
        } else {
            format!("bundle {}", i + 1)
        };
        let value = match jcs::parse(bytes) {
            Ok(v) => v.to_serde(),
            Err(e) => {
                verdict.fail(format!("{which}: not JSON: {e}"));
                continue;
            }
        };
        let (verified, evidence) =
            match crate::attest::check(&value, ctx.key, Some(predicate_type), digests) {
                Ok(v) => v,
                Err(e) if e.is_verification_failure() => {
                    verdict.fail(format!("{which}: signature: {e}"));
                    continue;
                }
                Err(e) => {
                    verdict.fail(format!("{which}: {e}"));
                    continue;
                }
            };
        if let SignedEvidence::Bundle(b) = &evidence
            && b.tlog_entries.is_empty()
        {
            verdict.fail(format!(
                "{which}: not logged: the bundle carries no log entry"
            ));
            continue;
        }
        let Some(logs) = ctx.trusted else {
            verdict.fail(format!(
                "{which}: no trusted root to check its log entry against: pass --trusted-root \
                 (`stella log trusted-root` writes the embedded log's)"
            ));
            continue;
        };
        match crate::attest::check_log_entries(&evidence, logs, ctx.home, ctx.local_log, None) {
            Ok(Ok(entries)) => verdict.log.extend(entries.iter().map(log_ref)),
            Ok(Err(reason)) => {
                verdict.fail(format!("{which}: log: {reason}"));
                continue;
            }
            Err(e) => {
                verdict.fail(format!("{which}: log: {:#}", e.error));
                continue;
            }
        }
        statements.push(verified.statement);
    }
    statements
}

fn log_ref(e: &VerifiedEntry) -> LogRef {
    LogRef {
        origin: e.origin.clone(),
        index: e.log_index,
    }
}

fn check_sbom(
    ctx: &Ctx<'_>,
    layer: &LayerDoc,
    named_proofs: &mut BTreeMap<String, String>,
    canonical_ids: &mut BTreeSet<String>,
) -> Verdict {
    let mut v = Verdict::new("sbom", &layer.title, &layer.digest);
    let doc = match stella_sbom::SbomDocument::read(&layer.bytes, Default::default()) {
        Ok(d) => d,
        Err(e) => {
            v.fail(format!("not a CycloneDX SBOM: {e}"));
            return v;
        }
    };
    let canonical_id = doc.canonical_id();
    canonical_ids.insert(canonical_id.to_string());
    v.detail = Some(format!("canonical_id {canonical_id}"));
    let mut digests = vec![canonical_id.clone()];
    match Digest::from_str(&ctx.image.root.digest) {
        Ok(d) => digests.push(d),
        Err(e) => v.fail(format!("image digest: {e}")),
    }
    let canonical = doc.canonical_bytes();
    for statement in check_bundles(ctx, layer, predicate::STELLA_SBOM, &digests, &mut v) {
        let signed = jcs::to_canonical(&statement.predicate["bom"]).unwrap_or_default();
        if signed != canonical {
            v.fail("the signed SBOM differs from the attached one");
        }
    }
    let as_json: Option<Value> = serde_json::from_slice(&layer.bytes).ok();
    collect_proof_refs(as_json.as_ref(), named_proofs);
    v
}

/// Every FuncProof an SBOM names (`urn:stella:funcproof:sha256:…` external references), with
/// the path of the binary it is about.
fn collect_proof_refs(value: Option<&Value>, out: &mut BTreeMap<String, String>) {
    fn walk(components: &Value, out: &mut BTreeMap<String, String>) {
        for c in components.as_array().into_iter().flatten() {
            let path = c["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "stella:path")
                .and_then(|p| p["value"].as_str())
                .or_else(|| c["name"].as_str())
                .unwrap_or("?")
                .to_owned();
            for r in c["externalReferences"].as_array().into_iter().flatten() {
                if let Some(d) = r["url"]
                    .as_str()
                    .and_then(|u| u.strip_prefix(evidence::FUNCPROOF_URN))
                {
                    out.insert(d.to_owned(), path.clone());
                }
            }
            walk(&c["components"], out);
        }
    }
    if let Some(v) = value {
        walk(&v["components"], out);
    }
}

fn check_funcproof_signature(ctx: &Ctx<'_>, layer: &LayerDoc) -> (Verdict, Option<FuncProof>) {
    let mut v = Verdict::new("funcproof", &layer.title, &layer.digest);
    let proof = match FuncProof::from_json(&layer.bytes) {
        Ok(p) => p,
        Err(e) => {
            v.fail(format!("not a FuncProof: {e}"));
            return (v, None);
        }
    };
    let subject = match Digest::from_str(&proof.file.sha256) {
        Ok(d) => d,
        Err(e) => {
            v.fail(format!("file.sha256: {e}"));
            return (v, None);
        }
    };
    let attached = jcs::parse(&layer.bytes)
        .map(|p| p.to_canonical())
        .unwrap_or_default();
    for statement in check_bundles(ctx, layer, predicate::STELLA_FUNCPROOF, &[subject], &mut v) {
        if jcs::to_canonical(&statement.predicate).unwrap_or_default() != attached {
            v.fail("the signed FuncProof differs from the attached one");
        }
    }
    (v, Some(proof))
}

/// The directory the FuncProofs are replayed against: `--rootfs`, or the image's layers
/// unpacked into a temporary directory.
fn replay_root(
    args: &VerifyArgs,
    ctx: &Ctx<'_>,
    home: &Path,
) -> Result<(PathBuf, Option<tempfile::TempDir>), CliError> {
    if let Some(dir) = &args.rootfs {
        if !dir.is_dir() {
            return Err(CliError::input(anyhow!(
                "--rootfs {}: not a directory",
                dir.display()
            )));
        }
        return Ok((dir.clone(), None));
    }
    let parent = home.join("tmp");
    std::fs::create_dir_all(&parent)
        .map_err(|e| CliError::environment(anyhow!("{}: {e}", parent.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix("verify-")
        .tempdir_in(&parent)
        .map_err(|e| CliError::environment(anyhow!("{}: {e}", parent.display())))?;
    image::unpack(ctx.store, ctx.image, tmp.path(), &UnpackLimits::default()).map_err(oci_error)?;
    Ok((tmp.path().to_path_buf(), Some(tmp)))
}

/// Replays `proof` against the binary at `path` under `root`.
fn replay(root: &Path, path: &str, proof: &FuncProof, v: &mut Verdict) {
    let Some(real) = stella_sbom::rootfs::resolve_in_root(root, path) else {
        v.fail(format!("binary {path} is not in the image"));
        return;
    };
    let file = root.join(real.trim_start_matches('/'));
    let mapped = match MappedFile::open(&file) {
        Ok(m) => m,
        Err(e) => {
            v.fail(format!("binary {path}: {e}"));
            return;
        }
    };
    use stella_binary::MismatchKind::{Fragment, Function};
    match proof.verify(&mapped) {
        Ok(mismatches) if mismatches.is_empty() => {
            v.detail = Some(format!(
                "{} functions and {} sections replayed",
                proof.functions.len(),
                proof.sections.len()
            ));
        }
        Ok(mismatches) => {
            let functions: Vec<String> = mismatches
                .iter()
                .filter(|m| matches!(m.kind, Function | Fragment))
                .map(|m| match m.range {
                    Some((s, e)) => format!("{} [{s}, {e})", m.name),
                    None => m.name.clone(),
                })
                .collect();
            let others: Vec<String> = mismatches
                .iter()
                .filter(|m| !matches!(m.kind, Function | Fragment))
                .map(|m| format!("{} {}", m.kind, m.name))
                .collect();
            let mut reason = format!("binary {path} differs from its FuncProof:");
            if !functions.is_empty() {
                reason.push_str(&format!(
                    " function{} {}",
                    if functions.len() == 1 { "" } else { "s" },
                    functions
                        .iter()
                        .take(MAX_NAMED_MISMATCHES)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if functions.len() > MAX_NAMED_MISMATCHES {
                    reason.push_str(&format!(
                        " and {} more",
                        functions.len() - MAX_NAMED_MISMATCHES
                    ));
                }
                reason.push(';');
            }
            if !others.is_empty() {
                reason.push_str(&format!(" {}", others.join(", ")));
            }
            v.fail(reason.trim_end_matches(';').to_owned());
        }
        Err(e) => v.fail(format!("binary {path}: {e}")),
    }
}

fn check_symbols(layer: &LayerDoc, proven: &[ProvenBinary], v: &mut Verdict) {
    let tables = match symbols::bundle::read(&layer.bytes, &symbols::bundle::Limits::default()) {
        Ok(t) => t,
        Err(e) => {
            v.fail(format!("unreadable symbol bundle: {e}"));
            return;
        }
    };
    let by_sha: BTreeMap<&str, &ProvenBinary> = proven
        .iter()
        .map(|p| (p.proof.file.sha256.as_str(), p))
        .collect();
    let mut checked = 0usize;
    for table in &tables {
        let Some(binary) = by_sha.get(table.file_sha256.as_str()) else {
            // A table whose FuncProof failed is reported with that FuncProof.
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
        if expected != actual {
            v.fail(format!(
                "the symbols of {} ({}) differ from its FuncProof",
                binary.path, table.build_id
            ));
        }
        checked += 1;
    }
    v.detail = Some(format!(
        "{} symbol tables, {checked} checked against FuncProofs",
        tables.len()
    ));
}

/// Where `name` is, with the proof, or the FuncProofs that show it is nowhere.
fn symbol_answer(name: &str, proven: &[ProvenBinary]) -> Result<Value, CliError> {
    let mut found = Vec::new();
    let mut absent_from = Vec::new();
    for p in proven {
        let matches = p
            .proof
            .query(name)
            .map_err(|e| CliError::input(anyhow!("--symbol {name:?}: {e}")))?;
        if matches.is_empty() {
            absent_from.push(json!({
                "binary": p.path,
                "buildId": p.proof.build_id,
                "funcproof": p.digest,
                "functions": p.proof.functions.len(),
            }));
        }
        for m in matches {
            found.push(json!({
                "binary": p.path,
                "buildId": p.proof.build_id,
                "sym": m.sym,
                "demangled": m.demangled,
                "start": m.start,
                "end": m.end,
                "blake3": m.blake3,
                "funcproof": p.digest,
                "log": p.log,
            }));
        }
    }
    Ok(json!({
        "symbol": name,
        "present": !found.is_empty(),
        "found": found,
        "absentFrom": if found.is_empty() { absent_from } else { Vec::new() },
        "binaries": proven.len(),
    }))
}

fn print_table(
    image: &str,
    digest: &str,
    verdicts: &[Verdict],
    answers: &[Value],
) -> Result<(), CliError> {
    let mut text = format!("image {image}\ndigest {digest}\n\n");
    let width = verdicts
        .iter()
        .map(|v| v.name.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 60);
    text.push_str(&format!(
        "{:<10} {:<width$} {:<7} DETAIL\n",
        "KIND", "ARTIFACT", "VERDICT"
    ));
    for v in verdicts {
        let log = v
            .log
            .iter()
            .map(|l| format!("log #{}", l.index))
            .collect::<Vec<_>>()
            .join(", ");
        let detail = if v.ok {
            [v.detail.clone().unwrap_or_default(), log]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            v.reasons.join("; ")
        };
        text.push_str(&format!(
            "{:<10} {:<width$} {:<7} {}\n",
            v.kind,
            v.name,
            if v.ok { "ok" } else { "FAILED" },
            detail
        ));
    }
    let failed = verdicts.iter().filter(|v| !v.ok).count();
    text.push_str(&format!(
        "\n{} artifact{} verified, {failed} failed: {}\n",
        verdicts.len() - failed,
        if verdicts.len() - failed == 1 {
            ""
        } else {
            "s"
        },
        if failed == 0 {
            "VERIFIED"
        } else {
            "NOT VERIFIED"
        }
    ));
    for a in answers {
        let name = a["symbol"].as_str().unwrap_or_default();
        if a["present"] == true {
            text.push_str(&format!("\nsymbol {name}: PRESENT\n"));
            for f in a["found"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "  {} (buildId {}) {} [{}, {}) blake3 {} {}\n",
                    f["binary"].as_str().unwrap_or_default(),
                    f["buildId"].as_str().unwrap_or("none"),
                    f["sym"].as_str().unwrap_or_default(),
                    f["start"].as_str().unwrap_or_default(),
                    f["end"].as_str().unwrap_or_default(),
                    f["blake3"].as_str().unwrap_or_default(),
                    f["log"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|l| format!("log #{}", l["index"]))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        } else {
            let absent = a["absentFrom"].as_array().map_or(0, Vec::len);
            text.push_str(&format!(
                "\nsymbol {name}: ABSENT from all {absent} verified FuncProofs\n"
            ));
            for f in a["absentFrom"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "  {} (buildId {}, {} functions) {}\n",
                    f["binary"].as_str().unwrap_or_default(),
                    f["buildId"].as_str().unwrap_or("none"),
                    f["functions"],
                    f["funcproof"].as_str().unwrap_or_default(),
                ));
            }
        }
    }
    write_stdout(text.as_bytes())
}
