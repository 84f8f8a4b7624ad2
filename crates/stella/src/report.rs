//! `stella report`: the evidence report a person reads, one self-contained HTML file.
//!
//! Trust comes first: the image's evidence is verified as `stella verify --image` does, or the
//! auditor's pack as `stella audit verify` does (`crate::audit::open_verified`), and every
//! signed claim's citations are checked (`crate::audit::citations`). If anything fails, no
//! report is written. What is shown then comes only from that verified evidence: the image
//! (reference, digest, the SBOM's canonical id, the record, its log entries and the
//! checkpoint), the findings of the signed assessments and the VEX statements that cite them
//! (one row per vulnerability, binary and component, with the FuncProof, the functions found,
//! the micro-witness's counts and window, the VEX author and time, the claims superseded), the
//! human line of every verdict execution decided (`crate::assess::flip_line`), and a flame
//! graph of the signed runtime profiles' stacks rendered by `inferno`, with the frames of
//! vulnerable functions marked.
//!
//! The same evidence gives the same bytes: every list is sorted, no clock is read, the flame
//! graph's colours are hashed from names. Every name is escaped: they come from binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;
use stella_evidence::verify::{Examined, Replay, Scope, Status};
use stella_oci::Reference;
use stella_tlog::TrustedLog;
use stella_tlog::checkpoint::Checkpoint;

use crate::cli::ReportArgs;
use crate::exit::{CliError, Outcome};
use crate::output::write_atomically;
use crate::verify_image::{Opened, trusted_keys};

/// Most reasons named when the evidence does not verify.
const MAX_REASONS: usize = 10;
/// Width of the flame graph, in pixels: fixed, so the SVG does not depend on the viewer.
const FLAME_WIDTH: usize = 1200;
/// Prefix of a VEX statement `@id` that links the verdict of a signed assessment.
const ASSESSMENT_LINK: &str = "urn:stella:assessment:";
/// The words that open the record of a superseded claim in a statement's notes.
const SUPERSEDES: &str = "Supersedes ";

/// Evidence that verified, with what the report names it by.
struct Verified {
    /// The image reference as named (for a pack, as it was exported).
    image: String,
    /// The image's digest.
    digest: String,
    examined: Examined,
    /// The checkpoints the verification remembered for each trusted log.
    checkpoints: Vec<CheckpointView>,
}

pub fn run(args: ReportArgs, home: &Path) -> Result<Outcome, CliError> {
    let (source, verified) = match (&args.image, &args.pack) {
        (Some(image), None) => (image.clone(), from_image(image, &args, home)?),
        (None, Some(pack)) => (pack.display().to_string(), from_pack(pack, &args)?),
        _ => {
            return Err(CliError::input(anyhow!(
                "give exactly one of --image REF and --pack PACK.tar"
            )));
        }
    };
    let verified = match verified {
        Ok(v) => v,
        Err(why) => {
            eprintln!("{source}: no report written: {why}");
            return Ok(Outcome::Failed);
        }
    };
    let model = model(&verified)?;
    if let Some(path) = &args.output {
        let html = html(&model)?;
        write_atomically(path, html.as_bytes())?;
        eprintln!(
            "{}: report of {} ({}): {}, {}{}",
            path.display(),
            model.image.reference,
            model.image.digest,
            crate::print::count(model.findings.len(), "finding", "findings"),
            crate::print::count(model.flips.len(), "runtime flip", "runtime flips"),
            match &model.flame {
                Some(f) => format!(", a flame graph of {} samples", f.samples),
                None => ", no runtime profile".to_owned(),
            }
        );
    }
    if args.json {
        crate::print::json(&crate::print::Schema::new("report"), &model)?;
    }
    Ok(Outcome::Success)
}

/// The report `stella serve` shows at `/images/<digest>`: the image's evidence verified and
/// replayed as `stella report --image` does, the same HTML, with the image's `timeline` added.
/// `Ok(Err(why))` when the evidence does not verify: no report.
pub(crate) fn live(
    image: &str,
    insecure: bool,
    keys: &[std::path::PathBuf],
    trusted_root: Option<&Path>,
    timeline: Vec<TimelineView>,
    home: &Path,
) -> Result<Result<String, String>, CliError> {
    let args = ReportArgs {
        image: Some(image.to_owned()),
        pack: None,
        output: None,
        key: keys.to_vec(),
        trusted_root: trusted_root.map(Path::to_path_buf),
        rootfs: None,
        signatures_only: false,
        max_size: 0,
        insecure,
        json: true,
    };
    let verified = match from_image(image, &args, home)? {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };
    let mut model = model(&verified)?;
    model.timeline = timeline;
    model.timeline.sort();
    html(&model).map(Ok)
}

/// Why evidence did not verify: the failed artifacts and citations, up to [`MAX_REASONS`].
fn reasons(examined: &Examined, cited: &[crate::audit::Citation]) -> String {
    let mut out: Vec<String> = examined
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Failed)
        .flat_map(|v| {
            v.reasons
                .iter()
                .map(move |r| format!("{} {}: {r}", v.kind.as_str(), v.name))
        })
        .chain(
            cited
                .iter()
                .filter(|c| c.status == "failed")
                .map(|c| format!("{}: {}", c.claim, c.detail)),
        )
        .collect();
    let more = out.len().saturating_sub(MAX_REASONS);
    out.truncate(MAX_REASONS);
    if more > 0 {
        out.push(format!("and {more} more"));
    }
    format!("the evidence does not verify: {}", out.join("; "))
}

/// The checkpoints remembered in `home` for each of `logs`, sorted by origin.
fn checkpoints(logs: &[TrustedLog], home: &Path) -> Vec<CheckpointView> {
    let witness = stella_tlog::witness::Witness::new(&home.join("witness"));
    let mut out: Vec<CheckpointView> = logs
        .iter()
        .filter_map(|l| {
            witness
                .remembered(&l.log_id, &l.verifier, &l.origin)
                .ok()
                .flatten()
        })
        .map(|c: Checkpoint| CheckpointView {
            origin: c.origin.clone(),
            size: c.size,
            root_hash: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, c.root),
        })
        .collect();
    out.sort_by(|a, b| (&a.origin, a.size).cmp(&(&b.origin, b.size)));
    out.dedup_by(|a, b| a.origin == b.origin && a.size == b.size);
    out
}

fn from_image(
    image: &str,
    args: &ReportArgs,
    home: &Path,
) -> Result<Result<Verified, String>, CliError> {
    if let Some(dir) = &args.rootfs
        && !dir.is_dir()
    {
        return Err(CliError::input(anyhow!(
            "--rootfs {}: not a directory",
            dir.display()
        )));
    }
    let reference = Reference::parse(image).map_err(CliError::kinded)?;
    let opened = Opened::new(
        &reference,
        args.insecure,
        trusted_keys(&args.key, "--key", home)?,
        args.trusted_root.as_deref(),
        home,
    )?;
    let replay = if args.signatures_only {
        Replay::SignaturesOnly
    } else {
        Replay::Full {
            rootfs: args.rootfs.as_deref(),
            jobs: None,
        }
    };
    let progress = crate::bars::for_terminal(args.json);
    let examined = opened.examine(home, image, None, &replay, progress.as_ref())?;
    drop(progress);
    let cited = crate::audit::citations(&examined, jiff::Timestamp::now());
    if !examined.verified() || cited.iter().any(|c| c.status == "failed") {
        return Ok(Err(reasons(&examined, &cited)));
    }
    Ok(Ok(Verified {
        image: image.to_owned(),
        digest: opened.image.root.digest.to_string(),
        checkpoints: checkpoints(opened.trusted_logs(), home),
        examined,
    }))
}

fn from_pack(path: &Path, args: &ReportArgs) -> Result<Result<Verified, String>, CliError> {
    let opened = match crate::audit::open_verified(
        path,
        &crate::audit::PackTrust {
            keys: &args.key,
            trusted_root: args.trusted_root.as_deref(),
            rootfs: args.rootfs.as_deref(),
            signatures_only: args.signatures_only,
            max_size: args.max_size as u64,
            quiet: args.json,
        },
    )? {
        Ok(o) => o,
        Err(why) => return Ok(Err(format!("the pack is refused: {why}"))),
    };
    if !opened.verified() {
        return Ok(Err(reasons(&opened.examined, &opened.cited)));
    }
    let checkpoints = checkpoints(opened.opened.trusted_logs(), &opened.home());
    let crate::audit::OpenedPack { pack, examined, .. } = opened;
    Ok(Ok(Verified {
        image: pack.manifest.image,
        digest: pack.manifest.digest,
        examined,
        checkpoints,
    }))
}

/// The report's model: what the HTML shows and `--json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    image: ImageView,
    /// The signed documents the report rests on.
    documents: Vec<DocumentView>,
    findings: Vec<Finding>,
    /// The human line of every verdict execution decided.
    flips: Vec<String>,
    /// The flame graph's facts (the SVG itself is in the HTML only); `None` without profiles.
    flame: Option<FlameView>,
    /// The image's timeline, as `stella serve` keeps it (served reports only), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    timeline: Vec<TimelineView>,
}

/// One event of an image's timeline: when, what kind, one line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TimelineView {
    pub at: String,
    pub kind: String,
    pub summary: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageView {
    reference: String,
    digest: String,
    /// The SBOM's canonical id.
    sbom: Option<String>,
    /// The trusted record the evidence was verified by.
    record: Option<String>,
    /// The log entries of the record and the SBOM.
    log: Vec<EntryView>,
    checkpoints: Vec<CheckpointView>,
    /// How many artifacts verified.
    verified: usize,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct EntryView {
    artifact: String,
    origin: String,
    index: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckpointView {
    origin: String,
    size: u64,
    /// The tree's root hash, base64 as in the checkpoint.
    root_hash: String,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct DocumentView {
    kind: &'static str,
    referrer: String,
    /// `sha256:` of the document's bytes.
    sha256: String,
}

/// One (vulnerability, binary, component): its verdict and the evidence behind it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Finding {
    vulnerability: String,
    aliases: Vec<String>,
    /// The binary's path in the image, or the VEX product.
    binary: Option<String>,
    build_id: Option<String>,
    /// The component's purl.
    component: Option<String>,
    status: String,
    justification: Option<String>,
    /// The effective VEX statement's document, author and time; `None` when no signed VEX
    /// statement cites the verdict.
    vex: Option<Claim>,
    /// The signed assessment (canonical id) and verdict index the row shows; `None` for a VEX
    /// statement that cites no assessment.
    assessment: Option<String>,
    /// The FuncProof (digest) the functions were searched in.
    funcproof: Option<String>,
    functions: Vec<FunctionView>,
    runtime: Option<RuntimeView>,
    /// Claims the effective one superseded.
    superseded: Vec<String>,
    /// The verdict in words.
    note: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Claim {
    /// The VEX document's canonical id.
    document: String,
    author: String,
    timestamp: String,
    status: String,
    justification: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionView {
    name: String,
    /// `present`, `absent`, or what the assessment said.
    outcome: String,
    /// The functions found, as `name [start, end)`.
    found: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeView {
    outcome: String,
    micro_witness: Option<String>,
    /// `uprobe` (calls counted) or `sampling`.
    method: Option<String>,
    window_start: Option<String>,
    window_end: Option<String>,
    valid_until: Option<String>,
    instances: usize,
    counts: Vec<CountView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CountView {
    function: String,
    count: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FlameView {
    /// The profiles' document digests.
    profiles: Vec<String>,
    samples: u64,
    stacks: usize,
    /// Frame names marked as vulnerable functions.
    marked: Vec<String>,
    /// The SVG, not printed by `--json`.
    #[serde(skip)]
    svg: String,
}

/// The canonical id of a JSON document's bytes.
fn canonical_id(bytes: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let canonical = stella_core::jcs::to_canonical(&value).ok()?;
    Some(stella_core::Digest::sha256(&canonical).to_string())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// The claims a statement's notes record as superseded, one per `Supersedes …`.
fn superseded_in(notes: &str) -> Vec<String> {
    let starts: Vec<usize> = notes.match_indices(SUPERSEDES).map(|(i, _)| i).collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let end = starts.get(n + 1).copied().unwrap_or(notes.len());
            notes[i..end].trim().to_owned()
        })
        .collect()
}

/// One VEX statement read from a signed document.
struct Statement {
    claim: Claim,
    vulnerability: String,
    aliases: Vec<String>,
    product: Option<String>,
    component: Option<String>,
    /// The assessment (canonical id) and verdict index it cites.
    cites: Option<(String, usize)>,
}

fn statements(examined: &Examined) -> Vec<Statement> {
    let mut out = Vec::new();
    for doc in examined.trusted.iter().filter(|d| d.scope == Scope::Vex) {
        let Ok(read) =
            stella_vex::read::read(&doc.bytes, &stella_vex::read::ReadOptions::default())
        else {
            continue;
        };
        for s in &read.document.statements {
            let cites =
                s.id.as_deref()
                    .and_then(|id| id.strip_prefix(ASSESSMENT_LINK))
                    .and_then(|rest| rest.rsplit_once(':'))
                    .and_then(|(id, i)| Some((id.to_owned(), i.parse::<usize>().ok()?)));
            let name =
                |p: &stella_vex::model::ProductIdentity| p.purl.clone().or_else(|| p.id.clone());
            out.push(Statement {
                claim: Claim {
                    document: read.canonical_id.to_string(),
                    author: s.provenance.author.clone(),
                    timestamp: s.timestamp.to_string(),
                    status: s.status.openvex_label().to_owned(),
                    justification: s.justification.as_ref().map(|j| j.label.clone()),
                    notes: s.status_notes.clone(),
                },
                vulnerability: s.vulnerability.name.clone(),
                aliases: s.vulnerability.aliases.clone(),
                product: s.products.first().and_then(|p| name(&p.identity)),
                component: s
                    .products
                    .first()
                    .and_then(|p| p.subcomponents.first())
                    .and_then(name),
                cites,
            });
        }
    }
    out
}

/// What a claim is ordered by: the newest wins, then the larger document id.
fn claim_rank(c: &Claim) -> (String, String) {
    (c.timestamp.clone(), c.document.clone())
}

fn claim_line(c: &Claim) -> String {
    format!(
        "{}'s {}{} of {} (document {})",
        c.author,
        c.status,
        c.justification
            .as_ref()
            .map_or(String::new(), |j| format!(" ({j})")),
        c.timestamp,
        c.document
    )
}

fn runtime_view(verdict: &Value, witnesses: &BTreeMap<String, Value>) -> Option<RuntimeView> {
    let runtime = verdict.get("runtime")?;
    let micro = text(&runtime["microWitness"]);
    let witness = micro.as_ref().and_then(|id| witnesses.get(id));
    let mut counts: Vec<CountView> = match witness {
        Some(w) => w["symbols"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| CountView {
                function: text(&s["demangled"])
                    .or_else(|| text(&s["symbol"]))
                    .unwrap_or_default(),
                count: s["count"].as_u64().unwrap_or(0),
            })
            .collect(),
        None => runtime["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| CountView {
                function: text(&f["function"]).unwrap_or_default(),
                count: f["calls"].as_u64().unwrap_or(0) + f["samples"].as_u64().unwrap_or(0),
            })
            .collect(),
    };
    counts.sort_by(|a, b| a.function.cmp(&b.function));
    Some(RuntimeView {
        outcome: text(&runtime["outcome"]).unwrap_or_default(),
        method: witness.and_then(|w| text(&w["method"])),
        window_start: witness.and_then(|w| text(&w["window"]["start"])),
        window_end: witness.and_then(|w| text(&w["window"]["end"])),
        valid_until: text(&runtime["validUntil"]),
        instances: witness
            .and_then(|w| w["instances"].as_array().map(Vec::len))
            .unwrap_or(0),
        micro_witness: micro,
        counts,
    })
}

fn functions_view(verdict: &Value) -> Vec<FunctionView> {
    verdict["symbols"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| FunctionView {
            name: match (text(&s["path"]), text(&s["name"])) {
                (Some(p), Some(n)) if !p.is_empty() => format!("{p} ({n})"),
                (_, n) => n.unwrap_or_default(),
            },
            outcome: text(&s["outcome"]).unwrap_or_default(),
            found: s["found"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    format!(
                        "{} [{}, {})",
                        text(&f["demangled"])
                            .or_else(|| text(&f["sym"]))
                            .unwrap_or_default(),
                        text(&f["start"]).unwrap_or_default(),
                        text(&f["end"]).unwrap_or_default()
                    )
                })
                .collect(),
        })
        .collect()
}

/// A verdict of a signed assessment: the document's canonical id, its index, the verdict.
type Cited<'a> = (&'a str, usize, &'a Value);

fn model(v: &Verified) -> Result<Report, CliError> {
    let examined = &v.examined;
    let docs = |scope: Scope| -> BTreeMap<String, Value> {
        examined
            .trusted
            .iter()
            .filter(|d| d.scope == scope)
            .filter_map(|d| {
                Some((
                    canonical_id(&d.bytes)?,
                    serde_json::from_slice(&d.bytes).ok()?,
                ))
            })
            .collect()
    };
    let assessments = docs(Scope::Assessment);
    let witnesses = docs(Scope::MicroWitness);
    let statements = statements(examined);

    // The claims citing each verdict, newest first.
    let mut citing: BTreeMap<(&str, usize), Vec<&Claim>> = BTreeMap::new();
    for s in &statements {
        if let Some((id, i)) = &s.cites
            && assessments.contains_key(id)
        {
            citing.entry((id.as_str(), *i)).or_default().push(&s.claim);
        }
    }
    for claims in citing.values_mut() {
        claims.sort_by_key(|c| std::cmp::Reverse(claim_rank(c)));
    }

    // Every verdict of every signed assessment, by (vulnerability, binary, component); the
    // row shows the one the newest claim cites, the others are superseded.
    let mut keyed: BTreeMap<(String, String, String), Vec<Cited<'_>>> = BTreeMap::new();
    for (id, doc) in &assessments {
        for (i, verdict) in doc["verdicts"].as_array().into_iter().flatten().enumerate() {
            let key = (
                text(&verdict["vulnerability"]).unwrap_or_default(),
                text(&verdict["binary"]["path"]).unwrap_or_default(),
                text(&verdict["component"]["purl"]).unwrap_or_default(),
            );
            keyed
                .entry(key)
                .or_default()
                .push((id.as_str(), i, verdict));
        }
    }
    let mut findings = Vec::new();
    let mut flips = BTreeSet::new();
    let mut vulnerable: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for ((vulnerability, binary, component), mut cited) in keyed {
        let newest = |c: &Cited<'_>| {
            citing
                .get(&(c.0, c.1))
                .and_then(|claims| claims.first())
                .map(|c| claim_rank(c))
        };
        cited.sort_by_key(|c| std::cmp::Reverse((newest(c), c.0.to_owned(), c.1)));
        let Some(&(id, index, verdict)) = cited.first() else {
            continue;
        };
        let claims = citing.get(&(id, index)).cloned().unwrap_or_default();
        let effective = claims.first().map(|c| (*c).clone());
        let mut superseded: Vec<String> = effective
            .as_ref()
            .and_then(|c| c.notes.as_deref())
            .map(superseded_in)
            .unwrap_or_default();
        superseded.extend(claims.iter().skip(1).map(|c| claim_line(c)));
        for &(other, i, old) in cited.iter().skip(1) {
            superseded.push(format!(
                "assessment {other} verdict {i}: {}",
                text(&old["status"]).unwrap_or_default()
            ));
        }
        let note = text(&verdict["note"]).unwrap_or_default();
        let runtime = runtime_view(verdict, &witnesses);
        if runtime.as_ref().is_some_and(|r| r.outcome == "executed") {
            flips.insert(crate::assess::flip_line(&note));
        }
        let build_id = text(&verdict["binary"]["buildId"]);
        if let Some(b) = &build_id {
            let names = vulnerable.entry((b.clone(), binary.clone())).or_default();
            for s in verdict["symbols"].as_array().into_iter().flatten() {
                for f in s["found"].as_array().into_iter().flatten() {
                    names.extend(text(&f["sym"]));
                    names.extend(text(&f["demangled"]));
                }
            }
            for f in verdict["runtime"]["functions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                names.extend(text(&f["function"]));
            }
        }
        findings.push(Finding {
            aliases: verdict["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(text)
                .collect(),
            binary: (!binary.is_empty()).then_some(binary),
            build_id,
            component: (!component.is_empty()).then_some(component),
            status: effective
                .as_ref()
                .map(|c| c.status.clone())
                .or_else(|| text(&verdict["status"]))
                .unwrap_or_default(),
            justification: match &effective {
                Some(c) => c.justification.clone(),
                None => text(&verdict["justification"]),
            },
            vex: effective,
            assessment: Some(format!("{id}:{index}")),
            funcproof: text(&verdict["binary"]["funcproof"]),
            functions: functions_view(verdict),
            runtime,
            superseded,
            note,
            vulnerability,
        });
    }
    // VEX statements that cite no signed assessment: the claim alone.
    let mut alone: BTreeMap<(String, String, String), Vec<&Statement>> = BTreeMap::new();
    for s in &statements {
        if s.cites
            .as_ref()
            .is_some_and(|(id, _)| assessments.contains_key(id))
        {
            continue;
        }
        alone
            .entry((
                s.vulnerability.clone(),
                s.product.clone().unwrap_or_default(),
                s.component.clone().unwrap_or_default(),
            ))
            .or_default()
            .push(s);
    }
    for ((vulnerability, product, component), mut group) in alone {
        group.sort_by_key(|s| std::cmp::Reverse(claim_rank(&s.claim)));
        let Some(first) = group.first() else {
            continue;
        };
        let c = first.claim.clone();
        let mut superseded = c.notes.as_deref().map(superseded_in).unwrap_or_default();
        superseded.extend(group.iter().skip(1).map(|s| claim_line(&s.claim)));
        findings.push(Finding {
            vulnerability,
            aliases: first.aliases.clone(),
            binary: (!product.is_empty()).then_some(product),
            build_id: None,
            component: (!component.is_empty()).then_some(component),
            status: c.status.clone(),
            justification: c.justification.clone(),
            assessment: None,
            funcproof: None,
            functions: Vec::new(),
            runtime: None,
            superseded,
            note: c.notes.clone().unwrap_or_default(),
            vex: Some(c),
        });
    }
    findings.sort_by(|a, b| {
        (&a.vulnerability, &a.binary, &a.component, &a.assessment).cmp(&(
            &b.vulnerability,
            &b.binary,
            &b.component,
            &b.assessment,
        ))
    });

    let mut log: Vec<EntryView> = examined
        .verdicts
        .iter()
        .filter(|x| matches!(x.kind, Scope::Record | Scope::Sbom) && x.status == Status::Verified)
        .flat_map(|x| {
            x.log.iter().map(move |l| EntryView {
                artifact: format!("{} {}", x.kind.as_str(), x.name),
                origin: l.origin.clone(),
                index: l.index,
            })
        })
        .collect();
    log.sort();
    log.dedup();
    let mut documents: Vec<DocumentView> = examined
        .trusted
        .iter()
        .map(|d| DocumentView {
            kind: d.scope.as_str(),
            referrer: d.referrer.clone(),
            sha256: stella_core::Digest::sha256(&d.bytes).to_string(),
        })
        .collect();
    documents.sort();
    documents.dedup();
    Ok(Report {
        image: ImageView {
            reference: v.image.clone(),
            digest: v.digest.clone(),
            sbom: examined.sbom.as_ref().map(|s| s.canonical_id.clone()),
            record: examined.record.clone(),
            log,
            checkpoints: v
                .checkpoints
                .iter()
                .map(|c| CheckpointView {
                    origin: c.origin.clone(),
                    size: c.size,
                    root_hash: c.root_hash.clone(),
                })
                .collect(),
            verified: examined.count(Status::Verified),
        },
        documents,
        findings,
        flips: flips.into_iter().collect(),
        timeline: Vec::new(),
        flame: flame(examined, &vulnerable)?,
    })
}

/// The flame graph of the signed runtime profiles; `None` when there is none. Frames of the
/// image's binaries are named with its verified symbol tables, as `stella assess` names them;
/// frames of vulnerable functions (`vulnerable`: by BuildID and binary path) are marked.
fn flame(
    examined: &Examined,
    vulnerable: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Result<Option<FlameView>, CliError> {
    use stella_runtime::frame::{Frame, Location};
    use stella_runtime::profile::{Profile, SCHEMA};

    let mut profiles: Vec<(String, Profile)> = examined
        .trusted
        .iter()
        .filter(|d| d.scope == Scope::Profile)
        .filter_map(|d| {
            let p: Profile = serde_json::from_slice(&d.bytes).ok()?;
            (p.schema == SCHEMA).then(|| (stella_core::Digest::sha256(&d.bytes).to_string(), p))
        })
        .collect();
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    profiles.dedup_by(|a, b| a.0 == b.0);
    if profiles.is_empty() {
        return Ok(None);
    }
    let paths: BTreeMap<String, &str> = examined
        .proven
        .iter()
        .filter_map(|p| Some((p.proof.build_id.as_ref()?.to_string(), p.path.as_str())))
        .collect();
    let ours: BTreeSet<&str> = examined
        .tables
        .iter()
        .map(|t| t.build_id.as_str())
        .collect();
    // Each location of the image's binaries named once, by the verified tables only.
    let mut located: Vec<Frame> = profiles
        .iter()
        .flat_map(|(_, p)| &p.stacks)
        .flat_map(|s| &s.frames)
        .filter(|f| f.build_id().is_some_and(|b| ours.contains(b)))
        .filter(|f| !matches!(f.location, Location::Named { .. }))
        .map(|f| Frame::unresolved(f.location.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !located.is_empty() {
        let mut names = stella_runtime::symbolize::Symbolizer::new(
            stella_runtime::symbolize::Config::default(),
        )
        .map_err(CliError::kinded)?;
        for t in &examined.tables {
            names.add_table(t.clone()).map_err(CliError::kinded)?;
        }
        names.symbolize_frames(&mut located);
    }
    let named: BTreeMap<&Location, &Frame> = located.iter().map(|f| (&f.location, f)).collect();
    // Frames named without an address keep their name where the verified table has it.
    let known = crate::assess::KnownNames::of(&examined.tables);

    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    let mut marked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut samples = 0u64;
    for stack in profiles.iter().flat_map(|(_, p)| &p.stacks) {
        let mut segments = vec![crate::flame::process_label(stack)];
        for frame in stack.frames.iter().rev() {
            let build_id = frame.build_id();
            let stripped;
            let frame = match named.get(&frame.location) {
                Some(f) if build_id.is_some_and(|b| ours.contains(b)) => *f,
                _ if !known.keeps(frame) => {
                    stripped = Frame::unresolved(frame.location.clone());
                    &stripped
                }
                _ => frame,
            };
            let binary = build_id
                .and_then(|b| paths.get(b).copied())
                .map(str::to_owned)
                .or_else(|| match &frame.location {
                    Location::File { path, .. } | Location::Named { path, .. } => path.clone(),
                    Location::Kernel { .. } => Some("kernel".to_owned()),
                    Location::Anonymous { .. } => Some("jit".to_owned()),
                })
                .unwrap_or_else(|| "unknown binary".to_owned());
            let name = crate::flame::frame_label(frame, Some(&binary));
            if let (Some(b), Some(s)) = (build_id, &frame.symbol) {
                let hit = vulnerable.iter().find(|((id, _), names)| {
                    id == b
                        && (names.contains(&s.function)
                            || s.demangled.as_ref().is_some_and(|d| names.contains(d)))
                });
                if let Some(((_, path), _)) = hit {
                    marked.entry(name.clone()).or_default().insert(path.clone());
                }
            }
            segments.push(name);
        }
        *lines.entry(segments.join(";")).or_default() += stack.count;
        samples += stack.count;
    }
    let titles: BTreeMap<String, String> = marked
        .iter()
        .map(|(name, binaries)| {
            let binaries: Vec<&str> = binaries.iter().map(String::as_str).collect();
            (
                name.clone(),
                format!(
                    "VULNERABLE function {} (in {})",
                    name.replace('\u{a0}', " "),
                    binaries.join(", ")
                ),
            )
        })
        .collect();
    let svg = crate::flame::svg(
        &lines,
        &crate::flame::Drawing {
            title: "Recorded stacks",
            width: FLAME_WIDTH,
            marked: &titles,
        },
    )?;
    // Inline in HTML: the XML declaration and DOCTYPE have no place there.
    let svg = svg
        .find("<svg")
        .map_or(svg.as_str(), |i| &svg[i..])
        .to_owned();
    Ok(Some(FlameView {
        profiles: profiles.into_iter().map(|(d, _)| d).collect(),
        samples,
        stacks: lines.len(),
        marked: marked
            .into_keys()
            .map(|m| m.replace('\u{a0}', " "))
            .collect(),
        svg,
    }))
}

/// `text` with HTML's special characters as entities: safe in text and in quoted attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(text: Option<&str>) -> String {
    text.map_or_else(|| "<span class=\"none\">none</span>".to_owned(), esc)
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#111;max-width:1400px}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%;font-size:.85em}\
th,td{border:1px solid #ccc;padding:.3em .4em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}code{font-size:.95em;word-break:break-all}.none{color:#888}\
.affected{background:#fdd}.under_investigation{background:#ffe9b3}.not_affected{background:#dfd}\
.fixed{background:#dfd}ul{margin:.2em 0;padding-left:1.2em}\
.flip{font-weight:bold;color:#900}\
.legend span.swatch{display:inline-block;width:1em;height:1em;margin-right:.4em;\
vertical-align:middle;border:1px solid #666}\
#flame g.stella-vulnerable>rect{fill:rgb(220,20,60)!important;stroke:#000;stroke-width:1}";

fn html(r: &Report) -> Result<String, CliError> {
    let mut h = String::new();
    let title = format!("Evidence report: {}", r.image.reference);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>{}</title>\n", esc(&title)));
    h.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    h.push_str(&format!("<h1>{}</h1>\n", esc(&title)));
    h.push_str(
        "<p>Everything below comes from evidence that verified: signatures by the trusted keys, \
         log entries proven against the checkpoint, the record's bindings and the citations of \
         every signed claim. Documents signed by other keys are not shown.</p>\n",
    );

    // The image.
    let i = &r.image;
    h.push_str("<h2 id=\"image\">The image</h2>\n<table>\n");
    let row = |h: &mut String, k: &str, v: String| {
        h.push_str(&format!("<tr><th>{k}</th><td>{v}</td></tr>\n"));
    };
    row(
        &mut h,
        "Reference",
        format!("<code>{}</code>", esc(&i.reference)),
    );
    row(&mut h, "Digest", format!("<code>{}</code>", esc(&i.digest)));
    row(
        &mut h,
        "SBOM canonical_id",
        format!("<code>{}</code>", opt(i.sbom.as_deref())),
    );
    row(
        &mut h,
        "Record",
        format!("<code>{}</code>", opt(i.record.as_deref())),
    );
    row(
        &mut h,
        "Log entries",
        if i.log.is_empty() {
            opt(None)
        } else {
            format!(
                "<ul>{}</ul>",
                i.log
                    .iter()
                    .map(|e| format!(
                        "<li>{}: {} #{}</li>",
                        esc(&e.artifact),
                        esc(&e.origin),
                        e.index
                    ))
                    .collect::<String>()
            )
        },
    );
    row(
        &mut h,
        "Log checkpoint",
        if i.checkpoints.is_empty() {
            opt(None)
        } else {
            format!(
                "<ul>{}</ul>",
                i.checkpoints
                    .iter()
                    .map(|c| format!(
                        "<li>{}: size {}, root <code>{}</code></li>",
                        esc(&c.origin),
                        c.size,
                        esc(&c.root_hash)
                    ))
                    .collect::<String>()
            )
        },
    );
    row(&mut h, "Artifacts verified", i.verified.to_string());
    h.push_str("</table>\n");

    // The signed documents the rest rests on.
    h.push_str(&format!(
        "<h2 id=\"documents\">Signed documents ({})</h2>\n",
        r.documents.len()
    ));
    if r.documents.is_empty() {
        h.push_str("<p>No VEX, assessment or runtime evidence is attached to the image.</p>\n");
    } else {
        h.push_str("<table class=\"documents\">\n<tr><th>Kind</th><th>Referrer</th><th>SHA-256</th></tr>\n");
        for d in &r.documents {
            h.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                esc(d.kind),
                esc(&d.referrer),
                esc(&d.sha256)
            ));
        }
        h.push_str("</table>\n");
    }

    // Findings.
    h.push_str(&format!(
        "<h2 id=\"findings\">Findings ({})</h2>\n",
        r.findings.len()
    ));
    if r.findings.is_empty() {
        h.push_str("<p>No signed assessment or VEX statement is attached to the image.</p>\n");
    } else {
        h.push_str(
            "<table class=\"findings\">\n<tr><th>Vulnerability</th><th>Binary</th>\
             <th>Component</th><th>Verdict</th><th>Static evidence</th>\
             <th>Runtime evidence</th><th>VEX statement</th><th>Superseded</th></tr>\n",
        );
        for f in &r.findings {
            h.push_str(&finding_row(f));
        }
        h.push_str("</table>\n");
    }

    // Flips.
    h.push_str("<h2 id=\"flips\">Runtime flips</h2>\n");
    if r.flips.is_empty() {
        h.push_str("<p>No verdict was decided by execution.</p>\n");
    } else {
        h.push_str("<ul class=\"flips\">\n");
        for line in &r.flips {
            h.push_str(&format!("<li class=\"flip\">{}</li>\n", esc(line)));
        }
        h.push_str("</ul>\n");
    }

    // Flame graph.
    if !r.timeline.is_empty() {
        h.push_str(&format!(
            "<h2 id=\"timeline\">Timeline ({})</h2>\n<table class=\"timeline\">\n\
             <tr><th>When (UTC)</th><th>What</th><th>Event</th></tr>\n",
            r.timeline.len()
        ));
        for e in &r.timeline {
            h.push_str(&format!(
                "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                esc(&e.kind),
                esc(&e.at),
                esc(&e.kind),
                esc(&e.summary)
            ));
        }
        h.push_str("</table>\n");
    }

    h.push_str("<h2 id=\"flame-graph\">Flame graph of the recorded stacks</h2>\n");
    match &r.flame {
        None => h.push_str(
            "<p class=\"no-profile\">No runtime profile was recorded: no signed profile is \
             attached to the image.</p>\n",
        ),
        Some(f) => {
            h.push_str(&format!(
                "<p>{} samples in {} distinct stacks from {} signed profile{} ({}). Frames of \
                 vulnerable functions are marked in red{}.</p>\n",
                f.samples,
                f.stacks,
                f.profiles.len(),
                if f.profiles.len() == 1 { "" } else { "s" },
                f.profiles
                    .iter()
                    .map(|p| format!("<code>{}</code>", esc(p)))
                    .collect::<Vec<_>>()
                    .join(", "),
                if f.marked.is_empty() {
                    String::from(" (none ran in these stacks)")
                } else {
                    format!(
                        ": {}",
                        f.marked
                            .iter()
                            .map(|m| format!("<code>{}</code>", esc(m)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
            h.push_str("<div id=\"flame\">\n");
            h.push_str(&f.svg);
            h.push_str("\n</div>\n");
        }
    }

    // Legend.
    h.push_str(
        "<h2 id=\"legend\">Legend</h2>\n<ul class=\"legend\">\n\
         <li><span class=\"swatch affected\"></span>affected: a vulnerable function is present \
         and ran (counted by a witness, or seen in sampled stacks), or the version is \
         affected</li>\n\
         <li><span class=\"swatch under_investigation\"></span>under_investigation: present, but \
         nothing proves whether it runs</li>\n\
         <li><span class=\"swatch not_affected\"></span>not_affected: the component or the \
         vulnerable code is absent (FuncProof), or a witness counted no call in its window \
         (until it expires)</li>\n\
         <li><span class=\"swatch\" style=\"background:rgb(220,20,60)\"></span>flame graph: a \
         frame of a vulnerable function (class <code>stella-vulnerable</code>); other frames \
         are coloured by name</li>\n\
         <li>Superseded: the claims the effective statement overrode, and older signed \
         verdicts about the same binary and component</li>\n</ul>\n",
    );
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

fn finding_row(f: &Finding) -> String {
    let list = |items: &[String]| -> String {
        if items.is_empty() {
            opt(None)
        } else {
            format!(
                "<ul>{}</ul>",
                items
                    .iter()
                    .map(|x| format!("<li>{}</li>", esc(x)))
                    .collect::<String>()
            )
        }
    };
    let vulnerability = format!(
        "<code>{}</code>{}",
        esc(&f.vulnerability),
        if f.aliases.is_empty() {
            String::new()
        } else {
            format!("<br>{}", esc(&f.aliases.join(", ")))
        }
    );
    let binary = format!(
        "<code>{}</code>{}",
        opt(f.binary.as_deref()),
        f.build_id.as_ref().map_or(String::new(), |b| format!(
            "<br>buildId <code>{}</code>",
            esc(b)
        ))
    );
    let verdict = format!(
        "<b>{}</b>{}<br><small>{}</small>",
        esc(&f.status),
        f.justification
            .as_ref()
            .map_or(String::new(), |j| format!("<br>{}", esc(j))),
        esc(&f.note)
    );
    let functions: Vec<String> = f
        .functions
        .iter()
        .map(|x| {
            format!(
                "{}: {}{}",
                x.name,
                x.outcome,
                if x.found.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", x.found.join(", "))
                }
            )
        })
        .collect();
    let statics = format!(
        "FuncProof <code>{}</code>{}",
        opt(f.funcproof.as_deref()),
        list(&functions)
    );
    let runtime = match &f.runtime {
        None => opt(None),
        Some(r) => {
            let counts: Vec<String> = r
                .counts
                .iter()
                .map(|c| format!("{}: {}", c.function, c.count))
                .collect();
            format!(
                "<b>{}</b><br>micro-witness <code>{}</code>{}{}{}{}",
                esc(&r.outcome),
                opt(r.micro_witness.as_deref()),
                r.method
                    .as_ref()
                    .map_or(String::new(), |m| format!("<br>method {}", esc(m))),
                match (&r.window_start, &r.window_end) {
                    (Some(s), Some(e)) => format!(
                        "<br>window {} to {}, {} instance{}",
                        esc(s),
                        esc(e),
                        r.instances,
                        if r.instances == 1 { "" } else { "s" }
                    ),
                    _ => String::new(),
                },
                r.valid_until
                    .as_ref()
                    .map_or(String::new(), |u| format!("<br>valid until {}", esc(u))),
                list(&counts)
            )
        }
    };
    let vex = match &f.vex {
        None => "<span class=\"none\">no signed VEX statement cites it</span>".to_owned(),
        Some(c) => format!(
            "{} by {}<br>at {}<br>document <code>{}</code>",
            esc(&c.status),
            esc(&c.author),
            esc(&c.timestamp),
            esc(&c.document)
        ),
    };
    format!(
        "<tr class=\"finding {}\"><td>{vulnerability}</td><td>{binary}</td><td><code>{}</code>\
         </td><td>{verdict}</td><td>{statics}</td><td>{runtime}</td><td>{vex}</td><td>{}</td>\
         </tr>\n",
        esc(&f.status),
        opt(f.component.as_deref()),
        list(&f.superseded)
    )
}

#[cfg(test)]
mod tests {
    use super::{esc, superseded_in};

    #[test]
    fn markup_is_escaped_in_text_and_attributes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn each_superseded_claim_is_one_line() {
        let notes = "Observed running. Supersedes vendor's not_affected of 2026-01-01T00:00:00Z \
                     (document sha256:a, statement 0, openvex), by runtime. Supersedes x's \
                     affected of 2025-01-01T00:00:00Z (document sha256:b, statement 1, csaf), by \
                     priority.";
        let lines = superseded_in(notes);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("Supersedes vendor's") && lines[0].ends_with("runtime."));
        assert!(lines[1].starts_with("Supersedes x's") && lines[1].ends_with("priority."));
        assert!(superseded_in("no claim").is_empty());
    }
}
