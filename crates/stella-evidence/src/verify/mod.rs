//! The auditor's replay of what a scan attached to an image, as typed verdicts.
//!
//! The rules, in order (an image verifies only if every one holds; anything unproven is a "no"):
//! 1. Every referrer of Stella's types (SBOM, FuncProof, symbol bundle, record) has content: an
//!    empty or unreadable artifact fails the image.
//! 2. The artifact record decides what is checked. Every attached record is read and its
//!    signature bundles checked against the trusted keys. A bundle signed by a key that is not
//!    trusted is ignored and reported (cosign's rule: push access must not block
//!    verification); a bundle whose signature verifies with a trusted key but whose statement,
//!    subjects or log entry does not hold fails the image. The newest record signed by a trusted
//!    key (its `created`, then its log index, then its digest) is chosen, or the one the caller
//!    names; the other trusted records are listed as superseded. No trusted record: not
//!    verified.
//! 3. Only what the chosen record binds by digest is used: its SBOM (signed by a trusted key,
//!    canonical_id as recorded), every FuncProof the SBOM names (present, signed by a trusted
//!    key, replayed against every path the SBOM lists for its binary: copies and hard links
//!    included), the symbol bundle (each table must be a verified FuncProof's, and agree with
//!    it), and every referrer it lists must still be attached. Other artifacts of Stella's types
//!    are reported as superseded (bound by another trusted record) or untrusted, never used.
//! 4. Claims attached later beside the evidence — VEX, assessments, micro-witnesses — are judged each on its own
//!    signature ([`claims`]): one a trusted key signed but that was changed since fails the
//!    image; an unsigned one, or one signed by another key, is listed as untrusted.
//!
//! Each FuncProof is parsed once: the attached bytes are read into a [`FuncProof`], and the
//! signed statement's predicate is compared with them as canonical bytes.
//!
//! Not here: the checks themselves (`stella-attest`, `stella-tlog`, `stella-binary`), opening
//! stores, keys or logs (the caller), printing (the CLI).

mod checks;
pub mod claims;
mod query;
mod replay;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use stella_attest::PublicKey;
use stella_binary::FuncProof;
use stella_binary::symbols::SymbolTable;
use stella_core::media;
use stella_oci::ArtifactStore;
use stella_oci::image::Image;

pub use query::{Absence, Presence, SymbolAnswer};

use crate::EvidenceError;
use crate::layout::{self, Kind};
use crate::progress::Progress;

/// Most mismatching functions named per binary in a reason's message (the reason's
/// `functions` list has them all).
const MAX_NAMED_MISMATCHES: usize = 5;

/// What a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The image as a whole (no evidence, no trusted record).
    Image,
    /// An artifact record.
    Record,
    /// The SBOM.
    Sbom,
    /// One binary's FuncProof.
    Funcproof,
    /// The symbol bundle.
    Symbols,
    /// A VEX document attached beside the evidence.
    Vex,
    /// An assessment's evidence attached beside it.
    Assessment,
    /// A micro-witness (runtime evidence) attached beside it.
    #[serde(rename = "micro-witness")]
    MicroWitness,
    /// A witness report (`stella witness --attach`) attached beside it.
    #[serde(rename = "witness-report")]
    WitnessReport,
    /// A profile (`stella record --attach`) attached beside it.
    Profile,
    /// A deterministic score (`stella score --attach`) attached beside it.
    Score,
}

impl Scope {
    /// The name a table prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Image => "image",
            Scope::Record => "record",
            Scope::Sbom => "sbom",
            Scope::Funcproof => "funcproof",
            Scope::Symbols => "symbols",
            Scope::Vex => "vex",
            Scope::Assessment => "assessment",
            Scope::MicroWitness => "micro-witness",
            Scope::WitnessReport => "witness-report",
            Scope::Profile => "profile",
            Scope::Score => "score",
        }
    }

    fn of(kind: Kind) -> Self {
        match kind {
            Kind::Sbom => Scope::Sbom,
            Kind::Funcproof => Scope::Funcproof,
            Kind::Symbols => Scope::Symbols,
            Kind::Record | Kind::Signatures => Scope::Record,
        }
    }
}

/// What became of one artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked and holds.
    Verified,
    /// Checked and does not hold, or could not be checked: the image does not verify.
    Failed,
    /// Not signed by a trusted key and bound by no trusted record: ignored.
    Untrusted,
    /// Bound by a trusted record other than the chosen one: ignored.
    Superseded,
}

/// What kind of thing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    /// Something that must be there is not (an artifact, a layer, a binary, a record).
    Missing,
    /// Content that cannot be read as what it claims to be.
    Unreadable,
    /// No signature by a trusted key.
    Unsigned,
    /// A trusted signature's statement, subjects or predicate do not hold.
    Statement,
    /// A trusted signature's log entry does not hold.
    Log,
    /// Two things that must agree do not (an id, a signed and an attached document, a digest).
    Mismatch,
    /// A binary differs from its FuncProof.
    Binary,
}

/// Why a verdict failed: its kind, what (a path, a digest) and, where two things disagree,
/// what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The kind of failure.
    pub kind: ReasonKind,
    /// The sentence a person reads.
    pub message: String,
    /// The path or digest concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What was expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// Functions of a binary that differ from its FuncProof, each as `name [start, end)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
}

impl Reason {
    /// A reason with only a kind and a message.
    pub fn new(kind: ReasonKind, message: impl Into<String>) -> Self {
        Reason {
            kind,
            message: message.into(),
            path: None,
            expected: None,
            found: None,
            functions: Vec::new(),
        }
    }

    fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    fn expected_found(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A log entry that backs a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRef {
    /// The log's checkpoint origin.
    pub origin: String,
    /// The entry's index.
    pub index: u64,
}

/// One artifact's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// What it is about.
    pub kind: Scope,
    /// Its title (a binary's path, `sbom.cdx.json`, …).
    pub name: String,
    /// The artifact or layer digest.
    pub digest: String,
    /// What became of it.
    pub status: Status,
    /// Whether it does not stand in the way (verified, or ignored).
    pub ok: bool,
    /// Why it failed.
    pub reasons: Vec<Reason>,
    /// Why it was ignored, and what else is worth saying.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The log entries that back it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogRef>,
    /// What was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Verdict {
    fn new(kind: Scope, name: &str, digest: &str) -> Self {
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

    fn fail(&mut self, reason: Reason) {
        self.status = Status::Failed;
        self.ok = false;
        self.reasons.push(reason);
    }

    fn ignored(mut self, status: Status, why: impl Into<String>) -> Self {
        self.status = status;
        self.ok = true;
        self.notes.push(why.into());
        self
    }
}

/// A trusted signing key and how to name it.
pub struct TrustedKey {
    /// Its name (the file it came from).
    pub name: String,
    /// The key.
    pub key: PublicKey,
}

/// What a verification works with.
pub struct Verifier<'a> {
    /// The store holding the image and its referrers.
    pub store: &'a dyn ArtifactStore,
    /// The image.
    pub image: &'a Image,
    /// Keys whose signatures are trusted.
    pub keys: &'a [TrustedKey],
    /// How log entries are checked: the trusted logs, the witness of what was seen of them
    /// before, the local log (`None`: no trusted root, and every log entry fails).
    pub log: Option<stella_tlog::audit::EntryCheck<'a>>,
    /// Where the image's layers are unpacked for the replay.
    pub tmp_dir: &'a Path,
}

/// How FuncProofs are replayed against files.
#[derive(Debug, Clone, Copy)]
pub enum Replay<'a> {
    /// Against `rootfs`, or the image's layers unpacked when `None`.
    Full {
        /// The deployed files, instead of the image's layers.
        rootfs: Option<&'a Path>,
        /// Worker threads (`None`: one per core).
        jobs: Option<usize>,
    },
    /// Signatures and bindings only (for naming frames: the symbol tables a trusted record
    /// binds).
    SignaturesOnly,
}

/// A FuncProof that verified, kept for symbol questions.
#[derive(Debug, Clone)]
pub struct ProvenBinary {
    /// The binary's path in the image.
    pub path: String,
    /// Its FuncProof.
    pub proof: FuncProof,
    /// The FuncProof layer's digest.
    pub digest: String,
    /// The log entries of its signature.
    pub log: Vec<LogRef>,
}

/// Everything a verification found.
#[derive(Debug)]
pub struct Examined {
    /// One verdict per artifact (and one for the image when nothing decides), failures first.
    pub verdicts: Vec<Verdict>,
    /// The digest of the record that decided, if one did.
    pub record: Option<String>,
    /// The FuncProofs that verified.
    pub proven: Vec<ProvenBinary>,
    /// Symbol tables bound by the chosen record and matching a verified FuncProof.
    pub tables: Vec<SymbolTable>,
    /// The SBOM the chosen record names, when it verified.
    pub sbom: Option<VerifiedSbom>,
    /// The claims attached beside the evidence that a trusted key signed — VEX, assessments,
    /// micro-witnesses, witness reports, profiles — in referrer order.
    pub trusted: Vec<claims::TrustedDocument>,
}

/// The SBOM of a trusted record, verified: signed, bound, its canonical id the record's.
#[derive(Debug, Clone)]
pub struct VerifiedSbom {
    /// Its canonical id (`sha256:<hex>`).
    pub canonical_id: String,
    /// The digest of the layer it was attached as.
    pub digest: String,
    /// The document.
    pub document: serde_json::Value,
}

impl Examined {
    /// True only if a trusted record decided and nothing failed.
    pub fn verified(&self) -> bool {
        self.record.is_some() && self.verdicts.iter().all(|v| v.status != Status::Failed)
    }

    /// How many verdicts have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.verdicts.iter().filter(|v| v.status == status).count()
    }

    /// Where `name` (a symbol or a glob) is among the verified FuncProofs, with the proof, or
    /// the FuncProofs that show it is nowhere.
    ///
    /// # Errors
    /// A glob that does not compile.
    pub fn symbol(&self, name: &str) -> Result<SymbolAnswer, EvidenceError> {
        query::answer(name, &self.proven)
    }
}

/// The artifact types Stella attaches to an image (signature artifacts refer to these).
const STELLA_TYPES: [&str; 4] = [
    media::CYCLONEDX_JSON,
    media::FUNCPROOF_JSON,
    media::SYMBOLS_TAR,
    layout::RECORD_JSON,
];

/// One layer of an artifact, with the bundles that sign it.
struct LayerDoc {
    title: String,
    digest: String,
    bytes: Vec<u8>,
    bundles: Vec<Vec<u8>>,
}

/// A Stella artifact attached to the image, with its layers.
struct Artifact {
    digest: String,
    kind: Kind,
    layers: Vec<LayerDoc>,
}

/// A record whose signature verified with a trusted key.
struct TrustedRecord {
    artifact: String,
    record: layout::Record,
    newest_log_index: u64,
}

/// Applies the rules of the module documentation to `v.image`. `image_name` names the image in
/// an image-wide verdict; `record` chooses a record by its artifact or layer digest.
///
/// # Errors
/// Only when the store cannot list the image's referrers or the replay cannot unpack the
/// image; everything else is a verdict.
pub fn examine(
    v: &Verifier<'_>,
    image_name: &str,
    record: Option<&str>,
    replay: &Replay<'_>,
    progress: &dyn Progress,
) -> Result<Examined, EvidenceError> {
    let image_digest = v.image.root.digest.to_string();
    let mut verdicts = Vec::new();
    let mut present: BTreeSet<String> = BTreeSet::new();

    // Rule 1: every Stella artifact, loaded; empty or unreadable ones fail.
    let referrers = v
        .store
        .referrers(&image_digest, None)
        .map_err(EvidenceError::oci(format!(
            "listing the referrers of {image_digest}"
        )))?;
    let mut artifacts: Vec<Artifact> = Vec::new();
    let stella: Vec<_> = referrers
        .iter()
        .inspect(|r| {
            present.insert(r.digest.to_string());
        })
        .filter(|r| {
            r.artifact_type
                .as_deref()
                .is_some_and(|t| STELLA_TYPES.contains(&t))
                // VEX attached beside the evidence is a claim about the image, not evidence
                // of the scan (a CycloneDX VEX shares the SBOM's media type).
                && r.annotations.get(crate::layout::KIND).map(String::as_str)
                    != Some(crate::layout::VEX_KIND)
        })
        .collect();
    crate::progress::phase(
        progress,
        crate::progress::Phase::Fetch,
        Some(stella.len() as u64),
        format!("{} artifacts of {image_digest}", stella.len()),
        || {
            for r in &stella {
                let kind = r
                    .artifact_type
                    .as_deref()
                    .and_then(Kind::of_artifact_type)
                    .unwrap_or(Kind::Record);
                match checks::load(v, r, &mut present) {
                    Ok(layers) if layers.is_empty() => {
                        let mut verdict =
                            Verdict::new(Scope::of(kind), "(artifact)", &r.digest.to_string());
                        verdict.fail(
                            Reason::new(
                                ReasonKind::Missing,
                                format!(
                                    "the {kind} artifact {} has no content (a manifest without \
                                     layers)",
                                    r.digest
                                ),
                            )
                            .at(r.digest.to_string()),
                        );
                        verdicts.push(verdict);
                    }
                    Ok(layers) => artifacts.push(Artifact {
                        digest: r.digest.to_string(),
                        kind,
                        layers,
                    }),
                    Err(reason) => {
                        let mut verdict =
                            Verdict::new(Scope::of(kind), "(artifact)", &r.digest.to_string());
                        verdict.fail(reason);
                        verdicts.push(verdict);
                    }
                }
                progress.event(crate::progress::Event::Advance {
                    phase: crate::progress::Phase::Fetch,
                    done: 1,
                    item: r.digest.to_string(),
                });
            }
        },
    );

    // Rule 2: the records.
    let mut trusted_records: Vec<TrustedRecord> = Vec::new();
    let mut record_verdicts: BTreeMap<String, Verdict> = BTreeMap::new();
    for a in artifacts.iter().filter(|a| a.kind == Kind::Record) {
        let (verdict, trusted) = checks::record(v, a);
        if let Some(t) = trusted {
            trusted_records.push(t);
        }
        record_verdicts.insert(a.digest.clone(), verdict);
    }
    let chosen = match record {
        Some(wanted) => {
            let found = trusted_records.iter().position(|t| {
                t.artifact == wanted
                    || artifacts.iter().any(|a| {
                        a.digest == t.artifact && a.layers.iter().any(|l| l.digest == wanted)
                    })
            });
            if found.is_none() {
                let mut verdict = Verdict::new(Scope::Image, image_name, &image_digest);
                let message = if record_verdicts.contains_key(wanted) {
                    format!(
                        "--record {wanted}: the record is not signed by a trusted key (see its \
                         verdict)"
                    )
                } else {
                    format!(
                        "--record {wanted}: no artifact record with this digest is attached to \
                         the image"
                    )
                };
                verdict.fail(Reason::new(ReasonKind::Missing, message).at(wanted));
                verdicts.push(verdict);
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
        if record.is_none() {
            let mut verdict = Verdict::new(Scope::Image, image_name, &image_digest);
            verdict.fail(Reason::new(
                ReasonKind::Missing,
                if artifacts.is_empty() && verdicts.is_empty() {
                    "no Stella evidence is attached to this image (no SBOM, no FuncProof, no \
                     record): run stella scan"
                } else {
                    "no artifact record signed by a trusted key is attached to this image: \
                     nothing it carries can be trusted (pass the key that signed it with --key, \
                     or run stella scan)"
                },
            ));
            verdicts.push(verdict);
        }
        for (digest, verdict) in record_verdicts {
            verdicts.push(if trusted_records.iter().any(|t| t.artifact == digest) {
                verdict.ignored(Status::Superseded, "not the record --record names")
            } else {
                verdict
            });
        }
        for a in &artifacts {
            if a.kind != Kind::Record {
                verdicts.push(checks::artifact_verdict(a).ignored(
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
            sbom: None,
            trusted: Vec::new(),
        });
    };
    let bound: BTreeSet<String> = chosen
        .record
        .referrers
        .iter()
        .map(ToString::to_string)
        .collect();
    let superseding: BTreeSet<String> = trusted_records
        .iter()
        .flat_map(|t| t.record.referrers.iter().map(ToString::to_string))
        .collect();
    for (digest, verdict) in record_verdicts {
        if digest == chosen.artifact || verdict.status != Status::Verified {
            verdicts.push(verdict);
        } else if trusted_records.iter().any(|t| t.artifact == digest) {
            verdicts.push(verdict.ignored(
                Status::Superseded,
                format!("a newer or chosen record decides: {}", chosen.artifact),
            ));
        } else {
            verdicts.push(verdict.ignored(Status::Untrusted, "not signed by a trusted key"));
        }
    }
    for a in &artifacts {
        if a.kind == Kind::Record || bound.contains(&a.digest) {
            continue;
        }
        let verdict = checks::artifact_verdict(a);
        verdicts.push(if superseding.contains(&a.digest) {
            verdict.ignored(
                Status::Superseded,
                "bound by another trusted record, not the one that decides",
            )
        } else {
            verdict.ignored(
                Status::Untrusted,
                "bound by no record signed by a trusted key",
            )
        });
    }
    let bound = &bound;
    let chosen_of = |kind: Kind| {
        artifacts
            .iter()
            .filter(move |a| a.kind == kind && bound.contains(&a.digest))
    };

    // Rule 3: the SBOM the record names.
    let sbom_digest = chosen
        .record
        .sbom_ref
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_owned();
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sbom = None;
    let mut sbom_verdict = match chosen_of(Kind::Sbom).find(|a| a.digest == sbom_digest) {
        Some(a) => {
            let (verdict, verified) = checks::sbom(v, a, &chosen.record, &mut named);
            sbom = verified;
            verdict
        }
        None => {
            let mut verdict = Verdict::new(Scope::Sbom, layout::SBOM_TITLE, &sbom_digest);
            verdict.fail(
                Reason::new(
                    ReasonKind::Missing,
                    format!(
                        "missing referrer: the SBOM artifact {sbom_digest} the record names is \
                         not attached to the image"
                    ),
                )
                .at(sbom_digest.clone()),
            );
            verdict
        }
    };

    // The SBOM's attestation under the CycloneDX predicate type, where peers look for it.
    for r in referrers.iter().filter(|r| {
        r.artifact_type.as_deref() == Some(media::SIGSTORE_BUNDLE_V03)
            && r.annotations
                .get(layout::BUNDLE_PREDICATE_TYPE)
                .is_some_and(|t| t == stella_core::media::predicate::CYCLONEDX_BOM)
            && bound.contains(&r.digest.to_string())
    }) {
        checks::sbom_attestation(
            v,
            &r.digest.to_string(),
            &chosen.record.canonical_id,
            sbom.as_ref(),
            &mut sbom_verdict,
        );
    }

    // The FuncProofs the SBOM names, from the artifacts the record binds.
    let mut proofs: Vec<(&LayerDoc, Vec<String>)> = Vec::new();
    let mut unnamed = Vec::new();
    let mut seen = BTreeSet::new();
    for a in chosen_of(Kind::Funcproof) {
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
            let path = paths.first().map_or("?", String::as_str);
            sbom_verdict.fail(
                Reason::new(
                    ReasonKind::Missing,
                    format!(
                        "missing referrer: the FuncProof {digest} of {path}, named by the SBOM, \
                         is not attached to the image"
                    ),
                )
                .at(path),
            );
        }
    }
    verdicts.push(sbom_verdict);
    for layer in unnamed {
        let mut verdict = Verdict::new(Scope::Funcproof, &layer.title, &layer.digest);
        verdict.fail(
            Reason::new(
                ReasonKind::Mismatch,
                "attached under the record, but its SBOM names no such FuncProof",
            )
            .at(layer.title.clone()),
        );
        verdicts.push(verdict);
    }

    let checked: Vec<checks::Checked<'_>> = crate::progress::phase(
        progress,
        crate::progress::Phase::Check,
        Some(proofs.len() as u64),
        format!("{} FuncProofs", proofs.len()),
        || {
            // One at a time: checking a log entry updates what this machine has seen of the log.
            proofs
                .into_iter()
                .map(|(layer, paths)| {
                    let (verdict, proof) = checks::funcproof_signature(v, layer);
                    progress.event(crate::progress::Event::Advance {
                        phase: crate::progress::Phase::Check,
                        done: 1,
                        item: layer.title.clone(),
                    });
                    checks::Checked {
                        verdict,
                        proof,
                        layer,
                        paths,
                    }
                })
                .collect()
        },
    );
    // The binaries the record's FuncProofs are about, verified or not: a symbol table of one
    // whose FuncProof failed is reported with that FuncProof, not again with the symbols.
    let proved_files: BTreeSet<String> = checked
        .iter()
        .filter_map(|c| c.proof.as_ref().map(|p| p.file.sha256.to_string()))
        .collect();
    let (proof_verdicts, proven) = match replay {
        Replay::Full { rootfs, jobs } => replay::all(v, checked, *rootfs, *jobs, progress)?,
        Replay::SignaturesOnly => {
            let mut vs = Vec::new();
            let mut proven = Vec::new();
            for c in checked {
                if let (true, Some(proof)) = (c.verdict.ok, c.proof) {
                    proven.push(ProvenBinary {
                        path: c.layer.title.clone(),
                        digest: c.layer.digest.clone(),
                        log: c.verdict.log.clone(),
                        proof,
                    });
                }
                vs.push(c.verdict);
            }
            (vs, proven)
        }
    };
    verdicts.extend(proof_verdicts);

    // The symbol bundle the record binds.
    let mut tables = Vec::new();
    let mut symbol_artifacts = 0;
    for a in chosen_of(Kind::Symbols) {
        symbol_artifacts += 1;
        for layer in &a.layers {
            let mut verdict = Verdict::new(Scope::Symbols, &layer.title, &a.digest);
            tables.extend(checks::symbols(layer, &proven, &proved_files, &mut verdict));
            verdicts.push(verdict);
        }
    }
    if symbol_artifacts == 0 {
        let mut verdict = Verdict::new(Scope::Symbols, layout::SYMBOLS_TITLE, "");
        verdict.fail(Reason::new(
            ReasonKind::Missing,
            "the record binds no symbol bundle attached to this image",
        ));
        verdicts.push(verdict);
    }

    // Every referrer the record lists must still be attached.
    if let Some(verdict) = verdicts
        .iter_mut()
        .find(|x| x.kind == Scope::Record && x.digest == chosen.artifact)
    {
        verdict.detail = Some(format!(
            "decides: {} referrers bound, created {}",
            chosen.record.referrers.len(),
            chosen.record.created
        ));
        for d in &chosen.record.referrers {
            let d = d.to_string();
            if !present.contains(&d) {
                verdict.fail(
                    Reason::new(
                        ReasonKind::Missing,
                        format!("missing referrer: {d}, listed in the record, is not attached"),
                    )
                    .at(d),
                );
            }
        }
    }
    // The claims attached beside the evidence (VEX, assessments), each on its own signature.
    let (claimed, trusted) = claims::claims_with_runtime(v)?;
    verdicts.extend(claimed);
    sort(&mut verdicts);
    Ok(Examined {
        verdicts,
        record: Some(chosen.artifact),
        proven,
        tables,
        sbom,
        trusted,
    })
}

/// Failures first, then by kind (image, record, SBOM, FuncProofs, symbols), then by name.
fn sort(verdicts: &mut [Verdict]) {
    verdicts.sort_by(|a, b| {
        let key = |v: &Verdict| {
            (
                v.status != Status::Failed,
                v.kind,
                v.status != Status::Verified,
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
}
