//! `stella verify --image`: the auditor's replay of what `stella scan` attached to an image.
//!
//! The rules, in order (an image verifies only if every one holds; anything unproven is a "no"):
//! 1. Every referrer of Stella's types (SBOM, FuncProof, symbol bundle, record) has content: an
//!    empty or unreadable artifact fails the image.
//! 2. The artifact record decides what is checked. Every attached record is read and its
//!    signature bundles checked against the trusted keys (`--key`, repeatable). A bundle signed
//!    by a key that is not trusted is ignored and reported (cosign's rule: push access must not
//!    block verification); a bundle whose signature verifies with a trusted key but whose
//!    statement, subjects or log entry does not hold fails the image. The newest record signed
//!    by a trusted key (its `created`, then its log index, then its digest) is chosen, or the one
//!    `--record DIGEST` names; the other trusted records are listed as superseded. No trusted
//!    record: not verified.
//! 3. Only what the chosen record binds by digest is used: its SBOM (signed by a trusted key,
//!    canonical_id as recorded), every FuncProof the SBOM names (present, signed by a trusted key,
//!    replayed against every path the SBOM lists for its binary: copies and hard links
//!    included), the symbol bundle (each table must be a verified FuncProof's, and agree with it),
//!    and every referrer it lists must still be attached. Other artifacts of Stella's types are
//!    reported as superseded (bound by another trusted record) or untrusted, never used.
//!
//! Not here: the checks themselves (`stella-attest`, `stella-tlog`, `stella-binary`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::anyhow;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use stella_attest::{PublicKey, SignedEvidence, Statement};
use stella_binary::symbols::{self, SymbolTable};
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

/// The artifact types Stella attaches to an image (signature artifacts refer to these).
const STELLA_TYPES: [&str; 4] = [
    media::CYCLONEDX_JSON,
    media::FUNCPROOF_JSON,
    media::SYMBOLS_TAR,
    evidence::RECORD_JSON,
];

/// What became of one artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    /// Checked and holds.
    Verified,
    /// Checked and does not hold, or could not be checked: the image does not verify.
    Failed,
    /// Not signed by a trusted key and bound by no trusted record: ignored.
    Untrusted,
    /// Bound by a trusted record other than the chosen one: ignored.
    Superseded,
}

/// One artifact's verdict.
#[derive(Debug, Clone, Serialize)]
struct Verdict {
    kind: &'static str,
    name: String,
    digest: String,
    status: Status,
    ok: bool,
    reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
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
            status: Status::Verified,
            ok: true,
            reasons: Vec::new(),
            notes: Vec::new(),
            log: Vec::new(),
            detail: None,
        }
    }

    fn fail(&mut self, reason: impl Into<String>) {
        self.status = Status::Failed;
        self.ok = false;
        self.reasons.push(reason.into());
    }

    fn ignored(mut self, status: Status, why: impl Into<String>) -> Self {
        self.status = status;
        self.ok = true;
        self.notes.push(why.into());
        self
    }
}

/// One layer of an artifact, with the bundles that sign it.
struct LayerDoc {
    title: String,
    digest: String,
    bytes: Vec<u8>,
    bundles: Vec<Vec<u8>>,
}

/// An attached artifact of one of Stella's types.
struct Artifact {
    digest: String,
    artifact_type: String,
    layers: Vec<LayerDoc>,
}

impl Artifact {
    fn kind(&self) -> &'static str {
        kind_of(&self.artifact_type)
    }
}

fn kind_of(artifact_type: &str) -> &'static str {
    match artifact_type {
        media::CYCLONEDX_JSON => "sbom",
        media::FUNCPROOF_JSON => "funcproof",
        media::SYMBOLS_TAR => "symbols",
        evidence::RECORD_JSON => "record",
        _ => "artifact",
    }
}

/// A verified FuncProof, kept for the symbol queries.
struct ProvenBinary {
    path: String,
    proof: FuncProof,
    digest: String,
    log: Vec<LogRef>,
}

/// A trusted signing key.
pub(crate) struct TrustedKey {
    name: String,
    key: PublicKey,
}

/// What every check needs.
pub(crate) struct Ctx<'a> {
    store: &'a dyn ArtifactStore,
    keys: &'a [TrustedKey],
    trusted: Option<&'a [TrustedLog]>,
    home: &'a Path,
    local_log: Option<&'a stella_tlog::Log>,
    image: &'a Image,
}

/// What a verification opens: the image's store and manifest, the trusted keys and logs.
struct Opened {
    store: Box<dyn ArtifactStore>,
    image: Image,
    keys: Vec<TrustedKey>,
    trusted: Option<Vec<TrustedLog>>,
    local_log: Option<stella_tlog::Log>,
}

impl Opened {
    fn new(
        reference: &Reference,
        insecure: bool,
        keys: Vec<TrustedKey>,
        trusted_root: Option<&Path>,
        home: &Path,
    ) -> Result<Self, CliError> {
        let trusted = trusted_logs(trusted_root, home)?;
        let local_log = crate::log::open_existing(home)?;
        let store = open_store(reference, insecure)?;
        let image = image::resolve(store.as_ref(), reference.target(), &Platform::host())
            .map_err(oci_error)?;
        Ok(Opened {
            store,
            image,
            keys,
            trusted,
            local_log,
        })
    }

    fn ctx<'a>(&'a self, home: &'a Path) -> Ctx<'a> {
        Ctx {
            store: self.store.as_ref(),
            keys: &self.keys,
            trusted: self.trusted.as_deref(),
            home,
            local_log: self.local_log.as_ref(),
            image: &self.image,
        }
    }
}

/// The outcome of the checks of one layer's bundles.
#[derive(Default)]
struct Signed {
    /// Statements signed by a trusted key whose every check held, with their log entries.
    statements: Vec<(Statement, Vec<LogRef>)>,
    /// Bundles signed by a trusted key that failed a check: the artifact fails.
    failures: Vec<String>,
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
                v.fail(format!(
                    "unsigned: no signature bundle refers to {unsigned_is}"
                ));
            } else {
                v.fail(format!(
                    "not signed by a trusted key: {}",
                    self.untrusted.join("; ")
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

/// The trusted keys: `given` (the repeatable `flag`), else the default key of `stella scan`.
pub(crate) fn trusted_keys(
    given: &[PathBuf],
    flag: &str,
    home: &Path,
) -> Result<Vec<TrustedKey>, CliError> {
    let paths = if given.is_empty() {
        let (_, public) = crate::attest::default_key_paths(home);
        if !public.exists() {
            return Err(CliError::input(anyhow!(
                "no {flag} given and no default key at {}: pass the public key the evidence \
                 was signed with",
                public.display()
            )));
        }
        vec![public]
    } else {
        given.to_vec()
    };
    paths
        .iter()
        .map(|p| {
            Ok(TrustedKey {
                name: p.display().to_string(),
                key: crate::attest::load_public_key(p)?,
            })
        })
        .collect()
}

/// `stella verify --image`.
pub fn run(args: VerifyArgs, home: &Path) -> Result<Outcome, CliError> {
    if args.jobs == Some(0) {
        return Err(CliError::input(anyhow!("--jobs must be at least 1")));
    }
    if let Some(dir) = &args.rootfs
        && !dir.is_dir()
    {
        return Err(CliError::input(anyhow!(
            "--rootfs {}: not a directory",
            dir.display()
        )));
    }
    let reference = Reference::parse(&args.image).map_err(oci_error)?;
    let opened = Opened::new(
        &reference,
        args.insecure,
        trusted_keys(&args.key, "--key", home)?,
        args.trusted_root.as_deref(),
        home,
    )?;
    let ctx = opened.ctx(home);
    let image = &opened.image;
    let replay = Replay::Full {
        rootfs: args.rootfs.as_deref(),
        jobs: args.jobs,
    };
    let examined = examine(&ctx, &args.image, args.record.as_deref(), &replay)?;

    let ok = examined.verified();
    let answers: Vec<Value> = args
        .symbol
        .iter()
        .map(|name| symbol_answer(name, &examined.proven))
        .collect::<Result<_, _>>()?;
    let verdicts = &examined.verdicts;
    if args.json {
        print_json(&json!({
            "image": args.image,
            "digest": image.root.digest,
            "verified": ok,
            "record": examined.record,
            "artifacts": verdicts,
            "failed": count(verdicts, Status::Failed),
            "untrusted": count(verdicts, Status::Untrusted),
            "superseded": count(verdicts, Status::Superseded),
            "symbols": answers,
        }))?;
    } else {
        print_table(&args.image, &image.root.digest, &examined, &answers)?;
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn count(verdicts: &[Verdict], status: Status) -> usize {
    verdicts.iter().filter(|v| v.status == status).count()
}

/// How FuncProofs are replayed against files.
enum Replay<'a> {
    /// Against `rootfs`, or the image's layers unpacked when `None`.
    Full {
        rootfs: Option<&'a Path>,
        jobs: Option<usize>,
    },
    /// Signatures and bindings only (for naming frames: the symbol tables a trusted record binds).
    SignaturesOnly,
}

/// Everything `examine` found.
struct Examined {
    verdicts: Vec<Verdict>,
    /// The digest of the record that decided, if one did.
    record: Option<String>,
    proven: Vec<ProvenBinary>,
    /// Symbol tables bound by the chosen record and matching a verified FuncProof.
    tables: Vec<SymbolTable>,
}

impl Examined {
    /// True only if a trusted record decided and nothing failed.
    fn verified(&self) -> bool {
        self.record.is_some() && self.verdicts.iter().all(|v| v.status != Status::Failed)
    }
}

/// A record whose signature verified with a trusted key.
struct TrustedRecord {
    artifact: String,
    record: Record,
    newest_log_index: u64,
}

/// Applies the rules of the module documentation to the image in `ctx`.
fn examine(
    ctx: &Ctx<'_>,
    image_name: &str,
    record_arg: Option<&str>,
    replay: &Replay<'_>,
) -> Result<Examined, CliError> {
    let image_digest = ctx.image.root.digest.clone();
    let mut verdicts = Vec::new();
    let mut present: BTreeSet<String> = BTreeSet::new();

    // Rule 1: every Stella artifact, loaded; empty or unreadable ones fail.
    let referrers = ctx
        .store
        .referrers(&image_digest, None)
        .map_err(oci_error)?;
    let mut artifacts: Vec<Artifact> = Vec::new();
    for r in &referrers {
        present.insert(r.digest.clone());
        let artifact_type = r.artifact_type.clone().unwrap_or_default();
        if !STELLA_TYPES.contains(&artifact_type.as_str()) {
            continue;
        }
        let kind = kind_of(&artifact_type);
        match load(ctx, r, &mut present) {
            Ok(layers) if layers.is_empty() => {
                let mut v = Verdict::new(kind, "(artifact)", &r.digest);
                v.fail(format!(
                    "the {kind} artifact {} has no content (a manifest without layers)",
                    r.digest
                ));
                verdicts.push(v);
            }
            Ok(layers) => artifacts.push(Artifact {
                digest: r.digest.clone(),
                artifact_type,
                layers,
            }),
            Err(reason) => {
                let mut v = Verdict::new(kind, "(artifact)", &r.digest);
                v.fail(reason);
                verdicts.push(v);
            }
        }
    }

    // Rule 2: the records.
    let mut trusted_records: Vec<TrustedRecord> = Vec::new();
    let mut record_verdicts: BTreeMap<String, Verdict> = BTreeMap::new();
    for a in artifacts
        .iter()
        .filter(|a| a.artifact_type == evidence::RECORD_JSON)
    {
        let (v, trusted) = check_record(ctx, a);
        if let Some(t) = trusted {
            trusted_records.push(t);
        }
        record_verdicts.insert(a.digest.clone(), v);
    }
    let chosen = match record_arg {
        Some(wanted) => {
            let found = trusted_records.iter().position(|t| {
                t.artifact == wanted
                    || artifacts.iter().any(|a| {
                        a.digest == t.artifact && a.layers.iter().any(|l| l.digest == wanted)
                    })
            });
            if found.is_none() {
                let mut v = Verdict::new("image", image_name, &image_digest);
                if record_verdicts.contains_key(wanted) {
                    v.fail(format!(
                        "--record {wanted}: the record is not signed by a trusted key (see its \
                         verdict)"
                    ));
                } else {
                    v.fail(format!(
                        "--record {wanted}: no artifact record with this digest is attached to \
                         the image"
                    ));
                }
                verdicts.push(v);
            }
            found
        }
        None => trusted_records
            .iter()
            .enumerate()
            .max_by(|(_, a), (_, b)| {
                (&a.record.created, a.newest_log_index, &a.artifact).cmp(&(
                    &b.record.created,
                    b.newest_log_index,
                    &b.artifact,
                ))
            })
            .map(|(i, _)| i),
    };
    let Some(chosen) = chosen.map(|i| trusted_records.swap_remove(i)) else {
        if record_arg.is_none() {
            let mut v = Verdict::new("image", image_name, &image_digest);
            v.fail(if artifacts.is_empty() && verdicts.is_empty() {
                "no Stella evidence is attached to this image (no SBOM, no FuncProof, no record): \
                 run stella scan"
                    .to_owned()
            } else {
                "no artifact record signed by a trusted key is attached to this image: nothing \
                 it carries can be trusted (pass the key that signed it with --key, or run \
                 stella scan)"
                    .to_owned()
            });
            verdicts.push(v);
        }
        for (digest, v) in record_verdicts {
            verdicts.push(if trusted_records.iter().any(|t| t.artifact == digest) {
                v.ignored(Status::Superseded, "not the record --record names")
            } else {
                v
            });
        }
        for a in &artifacts {
            if a.artifact_type != evidence::RECORD_JSON {
                verdicts.push(artifact_verdict(a).ignored(
                    Status::Untrusted,
                    "not bound by any record signed by a trusted key",
                ));
            }
        }
        return Ok(Examined {
            verdicts,
            record: None,
            proven: Vec::new(),
            tables: Vec::new(),
        });
    };
    let bound: BTreeSet<&str> = chosen.record.referrers.iter().map(String::as_str).collect();
    let superseding: BTreeSet<&str> = trusted_records
        .iter()
        .flat_map(|t| t.record.referrers.iter().map(String::as_str))
        .collect();
    for (digest, v) in record_verdicts {
        if digest == chosen.artifact || v.status != Status::Verified {
            verdicts.push(v);
        } else if trusted_records.iter().any(|t| t.artifact == digest) {
            verdicts.push(v.ignored(
                Status::Superseded,
                format!("a newer or chosen record decides: {}", chosen.artifact),
            ));
        } else {
            verdicts.push(v.ignored(Status::Untrusted, "not signed by a trusted key"));
        }
    }
    for a in &artifacts {
        if a.artifact_type == evidence::RECORD_JSON || bound.contains(a.digest.as_str()) {
            continue;
        }
        let v = artifact_verdict(a);
        verdicts.push(if superseding.contains(a.digest.as_str()) {
            v.ignored(
                Status::Superseded,
                "bound by another trusted record, not the one that decides",
            )
        } else {
            v.ignored(
                Status::Untrusted,
                "bound by no record signed by a trusted key",
            )
        });
    }
    let bound_ref = &bound;
    let chosen_of = |t: &'static str| {
        artifacts
            .iter()
            .filter(move |a| a.artifact_type == t && bound_ref.contains(a.digest.as_str()))
    };

    // Rule 3: the SBOM the record names.
    let sbom_digest = chosen
        .record
        .sbom_ref
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_owned();
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sbom_verdict = match chosen_of(media::CYCLONEDX_JSON).find(|a| a.digest == sbom_digest)
    {
        Some(a) => check_sbom(ctx, a, &chosen.record, &mut named),
        None => {
            let mut v = Verdict::new("sbom", evidence::SBOM_TITLE, &sbom_digest);
            v.fail(format!(
                "missing referrer: the SBOM artifact {sbom_digest} the record names is not \
                 attached to the image"
            ));
            v
        }
    };

    // The FuncProofs the SBOM names, from the artifacts the record binds.
    let mut proofs: Vec<(&LayerDoc, Vec<String>)> = Vec::new();
    let mut unnamed = Vec::new();
    let mut seen = BTreeSet::new();
    for a in chosen_of(media::FUNCPROOF_JSON) {
        for layer in &a.layers {
            if !seen.insert(layer.digest.clone()) {
                continue;
            }
            match named.get(&layer.digest) {
                Some(paths) => proofs.push((layer, paths.clone())),
                None => unnamed.push(layer),
            }
        }
    }
    for (digest, paths) in &named {
        if !seen.contains(digest) {
            sbom_verdict.fail(format!(
                "missing referrer: the FuncProof {digest} of {}, named by the SBOM, is not \
                 attached to the image",
                paths.first().map_or("?", String::as_str)
            ));
        }
    }
    verdicts.push(sbom_verdict);
    for layer in unnamed {
        let mut v = Verdict::new("funcproof", &layer.title, &layer.digest);
        v.fail("attached under the record, but its SBOM names no such FuncProof");
        verdicts.push(v);
    }

    // Sequential: the store is not shared across threads; the replay below is parallel.
    let checked: Vec<(Verdict, Option<FuncProof>, &LayerDoc, Vec<String>)> = proofs
        .into_iter()
        .map(|(layer, paths)| {
            let (v, proof) = check_funcproof_signature(ctx, layer);
            (v, proof, layer, paths)
        })
        .collect();
    // The binaries the record's FuncProofs are about, verified or not: a symbol table of one
    // whose FuncProof failed is reported with that FuncProof, not again with the symbols.
    let proved_files: BTreeSet<String> = checked
        .iter()
        .filter_map(|(_, p, _, _)| p.as_ref().map(|p| p.file.sha256.clone()))
        .collect();
    let (verdicts_proofs, proven) = match replay {
        Replay::Full { rootfs, jobs } => replay_all(ctx, checked, *rootfs, *jobs)?,
        Replay::SignaturesOnly => {
            let mut vs = Vec::new();
            let mut proven = Vec::new();
            for (v, proof, layer, _) in checked {
                if let (true, Some(proof)) = (v.ok, proof) {
                    proven.push(ProvenBinary {
                        path: layer.title.clone(),
                        digest: layer.digest.clone(),
                        log: v.log.clone(),
                        proof,
                    });
                }
                vs.push(v);
            }
            (vs, proven)
        }
    };
    verdicts.extend(verdicts_proofs);

    // The symbol bundle the record binds.
    let mut tables = Vec::new();
    let mut symbol_artifacts = 0;
    for a in chosen_of(media::SYMBOLS_TAR) {
        symbol_artifacts += 1;
        for layer in &a.layers {
            let mut v = Verdict::new("symbols", &layer.title, &a.digest);
            tables.extend(check_symbols(layer, &proven, &proved_files, &mut v));
            verdicts.push(v);
        }
    }
    if symbol_artifacts == 0 {
        let mut v = Verdict::new("symbols", evidence::SYMBOLS_TITLE, "");
        v.fail("the record binds no symbol bundle attached to this image");
        verdicts.push(v);
    }

    // Every referrer the record lists must still be attached.
    if let Some(v) = verdicts
        .iter_mut()
        .find(|v| v.kind == "record" && v.digest == chosen.artifact)
    {
        v.detail = Some(format!(
            "decides: {} referrers bound, created {}",
            chosen.record.referrers.len(),
            chosen.record.created
        ));
        for d in &chosen.record.referrers {
            if !present.contains(d) {
                v.fail(format!(
                    "missing referrer: {d}, listed in the record, is not attached"
                ));
            }
        }
    }
    verdicts.sort_by(|a, b| {
        let key = |v: &Verdict| {
            (
                v.status != Status::Failed,
                ["image", "record", "sbom", "funcproof", "symbols"]
                    .iter()
                    .position(|k| *k == v.kind)
                    .unwrap_or(9),
                v.status != Status::Verified,
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    Ok(Examined {
        verdicts,
        record: Some(chosen.artifact),
        proven,
        tables,
    })
}

/// A verdict naming an artifact as a whole (its layers counted).
fn artifact_verdict(a: &Artifact) -> Verdict {
    let name = match a.layers.as_slice() {
        [one] => one.title.clone(),
        many => format!("({} layers)", many.len()),
    };
    Verdict::new(a.kind(), &name, &a.digest)
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

/// Checks each bundle of `layer` against the trusted keys: signature, predicate type, subjects,
/// schema, log. See [`Signed`] for what each outcome means.
fn check_bundles(
    ctx: &Ctx<'_>,
    layer: &LayerDoc,
    predicate_type: &str,
    digests: &[Digest],
) -> Signed {
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
        let verified = ctx
            .keys
            .iter()
            .find_map(|k| match evidence.envelope().verify(&k.key) {
                Ok(v) => Some((k, v)),
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
        if let Err(e) = crate::attest::check_statement(&statement, Some(predicate_type), digests) {
            signed.failures.push(format!("{by}: {e}"));
            continue;
        }
        if let SignedEvidence::Bundle(b) = &evidence
            && b.tlog_entries.is_empty()
        {
            signed
                .failures
                .push(format!("{by}: not logged: the bundle carries no log entry"));
            continue;
        }
        if matches!(evidence, SignedEvidence::Envelope(_)) {
            signed.failures.push(format!(
                "{by}: a bare envelope: no log entry proves when it was signed"
            ));
            continue;
        }
        let Some(logs) = ctx.trusted else {
            signed.failures.push(format!(
                "{by}: no trusted root to check its log entry against: pass --trusted-root \
                 (`stella log trusted-root` writes the embedded log's)"
            ));
            continue;
        };
        match crate::attest::check_log_entries(&evidence, logs, ctx.home, ctx.local_log, None) {
            Ok(Ok(entries)) if entries.is_empty() => signed.failures.push(format!(
                "{by}: log: none of its log entries is in a trusted log"
            )),
            Ok(Ok(entries)) => signed
                .statements
                .push((statement, entries.iter().map(log_ref).collect())),
            Ok(Err(reason)) => signed.failures.push(format!("{by}: log: {reason}")),
            Err(e) => signed.failures.push(format!("{by}: log: {:#}", e.error)),
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

/// Checks a record artifact: one layer, a Stella record about this image, signed by a trusted
/// key with the record itself as the predicate.
fn check_record(ctx: &Ctx<'_>, a: &Artifact) -> (Verdict, Option<TrustedRecord>) {
    let [layer] = a.layers.as_slice() else {
        let mut v = artifact_verdict(a);
        v.fail(format!(
            "a record artifact has exactly one layer; this one has {}",
            a.layers.len()
        ));
        return (v, None);
    };
    let mut v = Verdict::new("record", &layer.title, &a.digest);
    let record = match serde_json::from_slice::<Record>(&layer.bytes) {
        Ok(r) => r,
        Err(e) => {
            v.fail(format!("not a Stella record: {e}"));
            return (v, None);
        }
    };
    let image_digest = match Digest::from_str(&ctx.image.root.digest) {
        Ok(d) => d,
        Err(e) => {
            v.fail(format!("image digest: {e}"));
            return (v, None);
        }
    };
    let canonical_id = match Digest::from_str(&record.canonical_id) {
        Ok(d) => d,
        Err(e) => {
            v.fail(format!("the record's canonical_id: {e}"));
            return (v, None);
        }
    };
    let signed = check_bundles(
        ctx,
        layer,
        predicate::STELLA_RECORD,
        &[image_digest, canonical_id],
    );
    if signed.statements.is_empty() && signed.failures.is_empty() {
        // Not signed by a trusted key: never used; the caller decides how to report it.
        let mut v = v.ignored(Status::Untrusted, "not signed by a trusted key");
        v.notes.extend(signed.untrusted);
        return (v, None);
    }
    signed.apply(&mut v, "the record");
    let attached = jcs::parse(&layer.bytes)
        .map(|p| p.to_canonical())
        .unwrap_or_default();
    for (statement, _) in &signed.statements {
        if jcs::to_canonical(&statement.predicate).unwrap_or_default() != attached {
            v.fail("the signed record differs from the attached one");
        }
    }
    if record.image.digest != ctx.image.root.digest {
        v.fail(format!(
            "the record is about image {}, not this one",
            record.image.digest
        ));
    }
    if !v.ok {
        return (v, None);
    }
    let newest_log_index = v.log.iter().map(|l| l.index).max().unwrap_or(0);
    (
        v,
        Some(TrustedRecord {
            artifact: a.digest.clone(),
            record,
            newest_log_index,
        }),
    )
}

/// Checks the SBOM artifact the record names, and collects the FuncProofs it names with every
/// path of their binaries.
fn check_sbom(
    ctx: &Ctx<'_>,
    a: &Artifact,
    record: &Record,
    named: &mut BTreeMap<String, Vec<String>>,
) -> Verdict {
    let [layer] = a.layers.as_slice() else {
        let mut v = artifact_verdict(a);
        v.fail(format!(
            "an SBOM artifact has exactly one layer; this one has {}",
            a.layers.len()
        ));
        return v;
    };
    let mut v = Verdict::new("sbom", &layer.title, &a.digest);
    let doc = match stella_sbom::SbomDocument::read(&layer.bytes, Default::default()) {
        Ok(d) => d,
        Err(e) => {
            v.fail(format!("not a CycloneDX SBOM: {e}"));
            return v;
        }
    };
    let canonical_id = doc.canonical_id();
    v.detail = Some(format!("canonical_id {canonical_id}"));
    if canonical_id.to_string() != record.canonical_id {
        v.fail(format!(
            "its canonical_id is {canonical_id}; the record says {}",
            record.canonical_id
        ));
    }
    let mut digests = vec![canonical_id.clone()];
    match Digest::from_str(&ctx.image.root.digest) {
        Ok(d) => digests.push(d),
        Err(e) => v.fail(format!("image digest: {e}")),
    }
    let signed = check_bundles(ctx, layer, predicate::STELLA_SBOM, &digests);
    signed.apply(&mut v, "the SBOM");
    let canonical = doc.canonical_bytes();
    for (statement, _) in &signed.statements {
        let bom = jcs::to_canonical(&statement.predicate["bom"]).unwrap_or_default();
        if bom != canonical {
            v.fail("the signed SBOM differs from the attached one");
        }
    }
    let as_json: Option<Value> = serde_json::from_slice(&layer.bytes).ok();
    collect_proof_refs(as_json.as_ref(), named);
    v
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
                    .and_then(|u| u.strip_prefix(evidence::FUNCPROOF_URN))
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
    let signed = check_bundles(ctx, layer, predicate::STELLA_FUNCPROOF, &[subject]);
    signed.apply(&mut v, "the FuncProof");
    let attached = jcs::parse(&layer.bytes)
        .map(|p| p.to_canonical())
        .unwrap_or_default();
    for (statement, _) in &signed.statements {
        if jcs::to_canonical(&statement.predicate).unwrap_or_default() != attached {
            v.fail("the signed FuncProof differs from the attached one");
        }
    }
    (v, Some(proof))
}

/// Replays every checked FuncProof at every path of its binary, in parallel.
#[allow(clippy::type_complexity)]
fn replay_all(
    ctx: &Ctx<'_>,
    checked: Vec<(Verdict, Option<FuncProof>, &LayerDoc, Vec<String>)>,
    rootfs: Option<&Path>,
    jobs: Option<usize>,
) -> Result<(Vec<Verdict>, Vec<ProvenBinary>), CliError> {
    let (root, _unpacked) = if checked.is_empty() {
        (PathBuf::new(), None)
    } else {
        replay_root(ctx, rootfs)?
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::environment(anyhow!("worker threads: {e}")))?;
    let replayed: Vec<(Verdict, Option<ProvenBinary>)> = pool.install(|| {
        checked
            .into_par_iter()
            .map(|(mut v, proof, layer, paths)| {
                let Some(proof) = proof else {
                    return (v, None);
                };
                let paths = if paths.is_empty() {
                    vec![layer.title.clone()]
                } else {
                    paths
                };
                // The first path is re-derived in full; every other one must hold the same
                // bytes (its SHA-256 equals the verified file's), and is re-derived only to name
                // what differs when it does not.
                let mut verified_once = false;
                for path in &paths {
                    verified_once = replay(&root, path, &proof, verified_once, &mut v);
                }
                if v.ok {
                    v.detail = Some(format!(
                        "{} functions and {} sections replayed at {} path{}",
                        proof.functions.len(),
                        proof.sections.len(),
                        paths.len(),
                        if paths.len() == 1 { "" } else { "s" }
                    ));
                }
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
    let mut verdicts = Vec::new();
    let mut proven = Vec::new();
    for (v, p) in replayed {
        verdicts.push(v);
        proven.extend(p);
    }
    Ok((verdicts, proven))
}

/// The directory the FuncProofs are replayed against: `--rootfs`, or the image's layers
/// unpacked into a temporary directory.
fn replay_root(
    ctx: &Ctx<'_>,
    rootfs: Option<&Path>,
) -> Result<(PathBuf, Option<tempfile::TempDir>), CliError> {
    if let Some(dir) = rootfs {
        return Ok((dir.to_path_buf(), None));
    }
    let parent = ctx.home.join("tmp");
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
/// Replays `proof` against the binary at `path` under `root`; true when the proof holds there.
/// With `same_bytes_suffice` (the proof already held at another path), a file whose SHA-256
/// equals the proof's needs no re-derivation: it is the same bytes.
fn replay(
    root: &Path,
    path: &str,
    proof: &FuncProof,
    same_bytes_suffice: bool,
    v: &mut Verdict,
) -> bool {
    let Some(real) = stella_sbom::rootfs::resolve_in_root(root, path) else {
        v.fail(format!("binary {path} is not in the image"));
        return false;
    };
    let file = root.join(real.trim_start_matches('/'));
    let mapped = match MappedFile::open(&file) {
        Ok(m) => m,
        Err(e) => {
            v.fail(format!("binary {path}: {e}"));
            return false;
        }
    };
    if same_bytes_suffice && Digest::sha256(&mapped).to_string() == proof.file.sha256 {
        return true;
    }
    use stella_binary::MismatchKind::{Fragment, Function};
    match proof.verify(&mapped) {
        Ok(mismatches) if mismatches.is_empty() => true,
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
            false
        }
        Err(e) => {
            v.fail(format!("binary {path}: {e}"));
            false
        }
    }
}

/// Checks the symbol bundle against the verified FuncProofs; returns the tables that match one.
/// A table for a binary the image's FuncProofs do not have fails the bundle: it could name
/// frames of a binary nobody proved.
fn check_symbols(
    layer: &LayerDoc,
    proven: &[ProvenBinary],
    proved_files: &BTreeSet<String>,
    v: &mut Verdict,
) -> Vec<SymbolTable> {
    let tables = match symbols::bundle::read(&layer.bytes, &symbols::bundle::Limits::default()) {
        Ok(t) => t,
        Err(e) => {
            v.fail(format!("unreadable symbol bundle: {e}"));
            return Vec::new();
        }
    };
    let by_sha: BTreeMap<&str, &ProvenBinary> = proven
        .iter()
        .map(|p| (p.proof.file.sha256.as_str(), p))
        .collect();
    let mut good = Vec::new();
    let total = tables.len();
    for table in tables {
        let Some(binary) = by_sha.get(table.file_sha256.as_str()) else {
            if proved_files.contains(&table.file_sha256) {
                continue;
            }
            v.fail(format!(
                "the symbol table of {} (file {}) belongs to no FuncProof the record binds",
                table.build_id, table.file_sha256
            ));
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
            .as_deref()
            .is_none_or(|id| id == table.build_id);
        if expected != actual || !build_id_agrees {
            v.fail(format!(
                "the symbols of {} ({}) differ from its FuncProof",
                binary.path, table.build_id
            ));
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

/// The symbol tables of `reference` that a trusted record binds and a signed FuncProof of the
/// image backs: what `--symbols IMAGE` may name frames with. Refuses an image whose evidence
/// does not verify (signatures and bindings; the binaries are not replayed).
pub(crate) fn trusted_symbol_tables(
    reference: &str,
    insecure: bool,
    keys: &[PathBuf],
    trusted_root: Option<&Path>,
    home: &Path,
) -> Result<Vec<SymbolTable>, CliError> {
    let parsed = Reference::parse(reference).map_err(|e| {
        CliError::input(anyhow!(
            "--symbols {reference}: neither a file nor an image reference ({e})"
        ))
    })?;
    let opened = Opened::new(
        &parsed,
        insecure,
        trusted_keys(keys, "--symbols-key", home)?,
        trusted_root,
        home,
    )?;
    let ctx = opened.ctx(home);
    let examined = examine(&ctx, reference, None, &Replay::SignaturesOnly)?;
    if !examined.verified() {
        let reasons: Vec<String> = examined
            .verdicts
            .iter()
            .filter(|v| v.status == Status::Failed)
            .flat_map(|v| {
                v.reasons
                    .iter()
                    .map(move |r| format!("{} {}: {r}", v.kind, v.name))
            })
            .take(5)
            .collect();
        return Err(CliError {
            code: crate::exit::FAILED,
            error: anyhow!(
                "--symbols {reference}: the image's evidence does not verify, so its symbols are \
                 not used: {}",
                reasons.join("; ")
            ),
        });
    }
    Ok(examined.tables)
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
    examined: &Examined,
    answers: &[Value],
) -> Result<(), CliError> {
    let verdicts = &examined.verdicts;
    let mut text = format!("image {image}\ndigest {digest}\n");
    if let Some(r) = &examined.record {
        text.push_str(&format!("record {r}\n"));
    }
    text.push('\n');
    let width = verdicts
        .iter()
        .map(|v| v.name.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 60);
    text.push_str(&format!(
        "{:<10} {:<width$} {:<10} DETAIL\n",
        "KIND", "ARTIFACT", "VERDICT"
    ));
    for v in verdicts {
        let log = v
            .log
            .iter()
            .map(|l| format!("log #{}", l.index))
            .collect::<Vec<_>>()
            .join(", ");
        let detail = match v.status {
            Status::Failed => v.reasons.join("; "),
            Status::Verified => [v.detail.clone().unwrap_or_default(), log]
                .into_iter()
                .chain(v.notes.iter().cloned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            Status::Untrusted | Status::Superseded => v.notes.join("; "),
        };
        let verdict = match v.status {
            Status::Verified => "ok",
            Status::Failed => "FAILED",
            Status::Untrusted => "untrusted",
            Status::Superseded => "superseded",
        };
        text.push_str(&format!(
            "{:<10} {:<width$} {verdict:<10} {detail}\n",
            v.kind, v.name,
        ));
    }
    let verified = count(verdicts, Status::Verified);
    let failed = count(verdicts, Status::Failed);
    let ignored = count(verdicts, Status::Untrusted) + count(verdicts, Status::Superseded);
    text.push_str(&format!(
        "\n{verified} verified, {failed} failed, {ignored} ignored (untrusted or superseded): {}\n",
        if examined.verified() {
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
