//! `stella assess` and `stella replay`: the command line of `stella_policy`. It verifies the
//! image's evidence (as `stella verify`), loads the advisories that can match its components
//! and the runtime evidence (witness reports and profiles given, and those attached to the image
//! that a trusted key signed), runs the assessment, makes the micro-witness of
//! every verdict runtime evidence decided, merges prior VEX (statements resting on execution
//! first), prints or writes the result, and with `--attach` signs and attaches the VEX, its
//! evidence and the micro-witnesses. The rules live in `stella_policy::assess`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use stella_advisory::osv::Record;
use stella_advisory::rustsec;
use stella_attest::statement::Statement;
use stella_core::Digest;
use stella_core::media::{self, predicate};
use stella_evidence::attached;
use stella_evidence::layout::VEX_KIND;
use stella_evidence::verify::claims::{ASSESSMENT_KIND, MICRO_WITNESS_KIND};
use stella_evidence::verify::{Replay, Status as VerifyStatus};
use stella_oci::Reference;
use stella_policy::assess::{self, Advisory, Body, LogRef, Proven};
use stella_policy::{components, report};
use stella_store::{AdvisoryRow, StoredDocument};
use stella_vex::{VexDocument, VexFormat, merge, read};

use crate::cli::{AssessArgs, AssessFormat, DbArgs, FailOn, ReplayArgs};
use crate::exit::{CliError, Outcome};
use crate::output::{write_atomically, write_stdout};
use crate::print::{self, Schema};
use crate::verify_image::{Opened, trusted_keys};

/// Largest prior VEX document read.
const MAX_VEX_BYTES: usize = 256 << 20;

pub fn run(args: AssessArgs, home: &Path) -> Result<Outcome, CliError> {
    let issued = match args.issued.as_deref() {
        None => None,
        // Asked for: the only place the clock is read.
        Some("now") => Some(jiff::Timestamp::now()),
        Some(text) => Some(text.parse::<jiff::Timestamp>().map_err(|e| {
            CliError::input(anyhow!(
                "--issued {text:?}: not an RFC 3339 time or `now`: {e}"
            ))
        })?),
    };
    // Prior VEX and the policy are read before anything slow, so a typo fails fast; the
    // policy's `file` sources name --vex files, as `stella vex merge`'s name its inputs.
    let priors = read_priors(&args.vex)?;
    let names: BTreeMap<Digest, String> = priors
        .iter()
        .map(|(id, name, _)| (id.clone(), name.clone()))
        .collect();
    let policy = crate::vex::policy(args.policy.as_deref(), &names)?;
    let settings = Settings::new(&args)?;
    let zero_valid_for = i64::try_from(settings.zero_valid_for.0.as_secs()).unwrap_or(i64::MAX);
    let runtime_policy = stella_policy::runtime::Policy {
        zero_valid_for,
        hot_share: settings.hot_share.0,
        sampled_affects: settings.sampled_affects.0,
    };
    let evidence = read_runtime(&args.witness, &args.profile)?;

    let reference = Reference::parse(&args.image).map_err(CliError::kinded)?;
    let Some(assessed) = assess_image(
        &Asked {
            image: &args.image,
            insecure: args.insecure,
            key: &args.key,
            trusted_root: args.trusted_root.as_deref(),
            replay: args.replay,
            advisories: &args.advisories,
            vuln: &args.vuln,
            issued,
            quiet: args.format != AssessFormat::Table,
            attached_only: None,
            advisory_documents: None,
            tiles: None,
        },
        evidence,
        runtime_policy,
        home,
    )?
    else {
        return Ok(Outcome::Failed);
    };
    let policy_digest = match &args.policy {
        Some(path) => Some(
            Digest::sha256(&crate::input::Input::new(path.clone()).read(MAX_POLICY_BYTES)?)
                .to_string(),
        ),
        None => None,
    };
    let Decided {
        assessment,
        evidence_bytes,
        evidence_id,
        document,
        micro,
    } = decide(
        assessed,
        &Deciding {
            priors: &priors,
            policy: &policy,
            policy_digest,
            vuln: &args.vuln,
            author: &args.author,
            runtime_policy,
        },
    )?;

    summary(&args.image, &assessment, &document);
    if args.explain {
        eprint!("{}", settings.explain(&policy, &assessment, &document));
    }
    let output = render(&args, &assessment, &evidence_id, &document, &micro)?;
    match (&args.output, output) {
        (Some(path), Some(bytes)) => write_atomically(path, &bytes)?,
        (None, Some(bytes)) => write_stdout(&bytes)?,
        (_, None) => {}
    }

    if args.attach {
        attach(
            &Attach {
                image: &args.image,
                reference: &reference,
                insecure: args.insecure,
                sign_key: args.sign_key.as_deref(),
            },
            home,
            &document,
            &evidence_bytes,
            (&micro, &assessment.sbom),
        )?;
    }

    let failed = settings.fail_on.0.is_some_and(|threshold| {
        let threshold = match threshold {
            FailOn::NotAffected => stella_vex::Status::NotAffected,
            FailOn::Fixed => stella_vex::Status::Fixed,
            FailOn::UnderInvestigation => stella_vex::Status::UnderInvestigation,
            FailOn::Affected => stella_vex::Status::Affected,
        };
        document.statements.iter().any(|s| s.status >= threshold)
    });
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// How an assessment's verdicts become documents: the prior VEX and the merge policy, the
/// vulnerabilities asked about, the author, and the runtime policy the verdicts were made under.
pub(crate) struct Deciding<'a> {
    pub priors: &'a [(Digest, String, VexDocument)],
    pub policy: &'a merge::Policy,
    /// `sha256:<hex>` of the policy file, when one was given.
    pub policy_digest: Option<String>,
    pub vuln: &'a [String],
    pub author: &'a str,
    pub runtime_policy: stella_policy::runtime::Policy,
}

/// An assessment written down: each runtime verdict's micro-witness, the replay record, the
/// evidence document (and its id) the statements cite, and the VEX document.
pub(crate) struct Decided {
    pub assessment: assess::Assessment,
    pub evidence_bytes: Vec<u8>,
    pub evidence_id: Digest,
    pub document: VexDocument,
    pub micro: Vec<Vec<u8>>,
}

/// Writes an assessment down (what `stella assess` prints and attaches, and what `stella
/// serve` attaches when runtime evidence changes a verdict): the micro-witnesses, the replay
/// record of everything it was made from, the evidence document, and the VEX merged with the
/// prior documents.
pub(crate) fn decide(assessed: Assessed, how: &Deciding<'_>) -> Result<Decided, CliError> {
    let Assessed {
        examined,
        mut assessment,
        timestamp,
        runtime: evidence,
        advisory_documents,
        ..
    } = assessed;
    let inputs = report::ReplayInputs {
        witnesses: evidence
            .as_ref()
            .map(|r| r.witness_digests.clone())
            .unwrap_or_default(),
        profiles: evidence
            .as_ref()
            .map(|r| r.profile_digests.clone())
            .unwrap_or_default(),
        vex: how.priors.iter().map(|(id, _, _)| id.to_string()).collect(),
        zero_valid_for: how.runtime_policy.zero_valid_for,
        sampled_affects: how.runtime_policy.sampled_affects,
        issued: timestamp.to_string(),
        symbol_bundle: examined
            .verdicts
            .iter()
            .find(|v| {
                v.kind == stella_evidence::verify::Scope::Symbols
                    && v.status == VerifyStatus::Verified
            })
            .map(|v| v.digest.clone()),
        advisory_documents: advisory_documents
            .into_iter()
            .map(|(label, d)| (label, d.digest))
            .collect(),
    };
    let micro = micro_witnesses(&mut assessment, &inputs)?;
    let record = assessment_record(
        &examined,
        &inputs,
        how.vuln,
        how.runtime_policy.hot_share,
        how.author,
        how.policy_digest.clone(),
    );
    let assessment = assessment
        .with_replay(record)
        .map_err(|e| CliError::environment(anyhow!("the assessment's replay record: {e}")))?;
    let (evidence_bytes, evidence_id) =
        report::evidence(&assessment).map_err(|e| CliError::environment(anyhow!("{e}")))?;
    let document = vex_of(
        &assessment,
        &evidence_id,
        how.author,
        timestamp,
        how.priors,
        how.policy,
    )?;
    Ok(Decided {
        assessment,
        evidence_bytes,
        evidence_id,
        document,
        micro,
    })
}

/// What to assess, and how to open its evidence.
pub(crate) struct Asked<'a> {
    pub image: &'a str,
    pub insecure: bool,
    pub key: &'a [PathBuf],
    pub trusted_root: Option<&'a Path>,
    pub replay: bool,
    pub advisories: &'a [String],
    pub vuln: &'a [String],
    pub issued: Option<jiff::Timestamp>,
    /// No progress bars (machine output on stdout).
    pub quiet: bool,
    /// Use only the attached runtime evidence with these digests (a replay); all when `None`.
    pub attached_only: Option<&'a BTreeSet<String>>,
    /// Use only the advisory documents with these digests, each of which must be found (a
    /// replay); all that can match when `None`.
    pub advisory_documents: Option<&'a BTreeSet<String>>,
    /// The hash tiles of a log that is not local (an auditor's pack).
    pub tiles: Option<&'a Path>,
}

/// An image assessed: its verified evidence, the verdicts, and the time they are dated by.
pub(crate) struct Assessed {
    pub examined: stella_evidence::verify::Examined,
    pub assessment: assess::Assessment,
    pub timestamp: jiff::Timestamp,
    /// The runtime evidence used: the files given and what trusted keys attached.
    pub runtime: Option<RuntimeInputs>,
    /// The advisory documents read, by label (`id (source)`).
    pub advisory_documents: BTreeMap<String, AdvisoryDocument>,
    /// The image's manifest digest.
    pub image_digest: String,
}

/// Verifies the image's evidence (as `stella verify`), loads the advisories that can match its
/// components and runs the assessment. `None` when the evidence does not verify (the reasons are
/// printed): nothing is assessed on evidence that does not hold.
pub(crate) fn assess_image(
    asked: &Asked<'_>,
    runtime: Option<RuntimeInputs>,
    policy: stella_policy::runtime::Policy,
    home: &Path,
) -> Result<Option<Assessed>, CliError> {
    let reference = Reference::parse(asked.image).map_err(CliError::kinded)?;
    let mut opened = Opened::new(
        &reference,
        asked.insecure,
        trusted_keys(asked.key, "--key", home)?,
        asked.trusted_root,
        home,
    )?;
    if let Some(tiles) = asked.tiles {
        opened = opened.with_tiles(tiles);
    }
    let replay = if asked.replay {
        Replay::Full {
            rootfs: None,
            jobs: None,
        }
    } else {
        Replay::SignaturesOnly
    };
    let progress = crate::bars::for_terminal(asked.quiet);
    let examined = opened.examine(home, asked.image, None, &replay, progress.as_ref())?;
    drop(progress);
    if !examined.verified() {
        let mut text = format!(
            "{}: not assessed: its evidence does not verify (run `stella verify --image {}` for \
             every reason)\n",
            asked.image, asked.image
        );
        for v in examined
            .verdicts
            .iter()
            .filter(|v| v.status == VerifyStatus::Failed)
            .take(10)
        {
            for r in &v.reasons {
                text.push_str(&format!("  {} {}: {r}\n", v.kind.as_str(), v.name));
            }
        }
        eprint!("{text}");
        return Ok(None);
    }
    let Some(sbom) = &examined.sbom else {
        return Err(CliError {
            code: crate::exit::FAILED,
            error: anyhow!("{}: the trusted record names no verified SBOM", asked.image),
        });
    };

    let logs: Vec<Vec<LogRef>> = examined
        .proven
        .iter()
        .map(|p| {
            p.log
                .iter()
                .map(|l| LogRef {
                    origin: l.origin.clone(),
                    index: l.index,
                })
                .collect()
        })
        .collect();
    let proofs: BTreeMap<String, Proven<'_>> = examined
        .proven
        .iter()
        .zip(&logs)
        .map(|(p, log)| {
            (
                p.digest.clone(),
                Proven {
                    proof: &p.proof,
                    log,
                },
            )
        })
        .collect();

    let binaries = components::binaries(&sbom.document);
    let keys: BTreeSet<(String, String)> = binaries
        .iter()
        .flat_map(|b| &b.components)
        .filter_map(|c| components::package_of(&c.purl))
        .map(|k| (k.ecosystem, k.name))
        .collect();
    let (advisories, advisory_documents) = load_advisories(
        asked.advisories,
        &keys,
        asked.vuln,
        asked.advisory_documents,
        home,
    )?;

    let subject = components::subject(&sbom.document).unwrap_or_else(|| asked.image.to_owned());
    let timestamp = match asked.issued {
        Some(t) => t,
        None => sbom_time(&sbom.document)?,
    };
    // The files given, and the runtime evidence attached to the image that trusted keys signed.
    let mut inputs = runtime.unwrap_or_default();
    let given = inputs.witness_digests.len() + inputs.profile_digests.len();
    inputs.add_attached(&examined.trusted, asked.attached_only)?;
    let attached = inputs.witness_digests.len() + inputs.profile_digests.len() - given;
    if attached > 0 {
        eprintln!(
            "runtime evidence attached to {} and signed by a trusted key: {}",
            asked.image,
            print::count(attached, "document", "documents")
        );
    }
    // A report made for another image is named; only what it says about this image's binaries
    // (by BuildID) is used.
    let digest = opened.image.root.digest.to_string();
    let mut elsewhere: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (source, report) in &inputs.witnesses {
        if let Some(other) = report.image.as_deref()
            && other != asked.image
            && !other.contains(&digest)
        {
            elsewhere.insert((source, other));
        }
    }
    for (source, other) in elsewhere {
        eprintln!(
            "{source}: a witness report made for {other}, not {}: only what it says about this \
             image's binaries (by BuildID) is used",
            asked.image
        );
    }
    let inputs = (!inputs.is_empty()).then_some(inputs);
    let runtime = inputs
        .as_ref()
        .map(|r| r.index(&examined.tables))
        .transpose()?;
    if let Some(e) = &runtime {
        let image_builds: BTreeSet<String> = examined
            .proven
            .iter()
            .filter_map(|p| p.proof.build_id.as_ref().map(ToString::to_string))
            .collect();
        let foreign: Vec<&str> = e
            .build_ids()
            .into_iter()
            .filter(|b| !image_builds.contains(*b))
            .collect();
        if !foreign.is_empty() {
            eprintln!(
                "runtime evidence about {} not in {} (not used for it): {}",
                print::count(foreign.len(), "binary", "binaries"),
                asked.image,
                foreign
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for u in e.unused() {
            eprintln!("runtime evidence not used: {u}");
        }
    }
    let assessment = assess::assess(&assess::Input {
        subject,
        sbom_id: sbom.canonical_id.clone(),
        sbom: &sbom.document,
        proofs: &proofs,
        advisories: &advisories,
        asked: asked.vuln,
        runtime: runtime.as_ref(),
        runtime_policy: policy,
        now: Some(timestamp),
    });
    Ok(Some(Assessed {
        examined,
        assessment,
        timestamp,
        runtime: inputs,
        advisory_documents,
        image_digest: digest,
    }))
}

/// Largest policy file read for its digest.
const MAX_POLICY_BYTES: usize = 1 << 20;

/// The tool named in the statements' `tooling`.
fn tooling() -> String {
    format!("stella {}", env!("CARGO_PKG_VERSION"))
}

/// Everything an assessment was made from, by digest: the SBOM, the FuncProofs, the advisory
/// documents, the vulnerabilities asked about, the runtime evidence and prior VEX, the runtime
/// policy and the time (`inputs`), the hot-share threshold, and how its VEX was written.
fn assessment_record(
    examined: &stella_evidence::verify::Examined,
    inputs: &report::ReplayInputs,
    vulnerabilities: &[String],
    hot_share: f64,
    author: &str,
    policy: Option<String>,
) -> serde_json::Value {
    let funcproofs: BTreeSet<&String> = examined.proven.iter().map(|p| &p.digest).collect();
    let documents: BTreeSet<&String> = inputs.advisory_documents.values().collect();
    let labels: Vec<&String> = inputs.advisory_documents.keys().collect();
    let asked: BTreeSet<&String> = vulnerabilities.iter().collect();
    serde_json::json!({
        "sbom": examined.sbom.as_ref().map(|s| s.canonical_id.clone()),
        "funcproofs": funcproofs,
        "advisories": labels,
        "advisoryDocuments": documents,
        "vulnerabilities": asked,
        "inputs": inputs,
        "hotShare": hot_share,
        "vex": {"author": author, "policy": policy, "tooling": tooling()},
    })
}

/// The VEX document of an assessment: its verdicts as statements (by `author`, dated
/// `timestamp`), merged with the prior documents under `policy` when there are any; evidence
/// of execution outranks every other claim (DESIGN.md).
fn vex_of(
    assessment: &assess::Assessment,
    evidence_id: &Digest,
    author: &str,
    timestamp: jiff::Timestamp,
    priors: &[(Digest, String, VexDocument)],
    policy: &merge::Policy,
) -> Result<VexDocument, CliError> {
    let ours = report::vex(
        assessment,
        evidence_id,
        &report::VexOptions {
            author: author.to_owned(),
            timestamp,
            tooling: tooling(),
        },
    );
    if priors.is_empty() {
        return Ok(ours);
    }
    let mut merger = merge::Merger::new(policy);
    // The statements that rest on execution go in as a source above any the policy ranks.
    let (executed, rest): (Vec<_>, Vec<_>) = ours
        .statements
        .iter()
        .cloned()
        .partition(|s| s.status == stella_vex::Status::Affected);
    for (statements, priority) in [(rest, None), (executed, Some(i64::MAX))] {
        if statements.is_empty() {
            continue;
        }
        let mut part = VexDocument {
            statements,
            ..ours.clone()
        };
        let bytes = read::write(&part, VexFormat::OpenVex).map_err(CliError::kinded)?;
        let id = Digest::sha256(&bytes);
        // The merge ranks a statement by the document its provenance names: this part.
        for s in &mut part.statements {
            s.provenance.document = id.clone();
        }
        if let Some(p) = priority {
            merger.set_document_priority(&id, p);
        }
        merger.add(&id, &part).map_err(CliError::kinded)?;
    }
    for (id, _, prior) in priors {
        merger.add(id, prior).map_err(CliError::kinded)?;
    }
    Ok(with_superseded(merger.finish()))
}

/// Largest micro-witness replayed.
const MAX_MICRO_WITNESS_BYTES: usize = 64 << 20;

/// Where a replay finds the image and the inputs it names.
pub(crate) struct Source {
    /// The image, as a reference.
    pub image: String,
    keys: Vec<PathBuf>,
    trusted_root: Option<PathBuf>,
    /// The advisory sources: --advisories, then the pack's.
    advisories: Vec<String>,
    /// The home the evidence is verified in (the pack's fresh one, or the user's).
    home: PathBuf,
    /// The pack, kept unpacked while the replay runs.
    pack: Option<crate::audit::Unpacked>,
}

impl Source {
    fn tiles(&self) -> Option<PathBuf> {
        self.pack.as_ref().map(crate::audit::Unpacked::tiles)
    }
}

/// Whether `text` is a replay token (`sha256:` and 64 lower-case hex digits).
fn is_token(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The micro-witness, assessment or score whose `replayToken` is `token` among those attached
/// to the image and signed by a trusted key, with the referrer it came from.
fn attached_with_token(
    source: &Source,
    insecure: bool,
    token: &str,
) -> Result<Result<(serde_json::Value, String), String>, CliError> {
    let reference = Reference::parse(&source.image).map_err(CliError::kinded)?;
    let mut opened = Opened::new(
        &reference,
        insecure,
        trusted_keys(&source.keys, "--key", &source.home)?,
        source.trusted_root.as_deref(),
        &source.home,
    )?;
    if let Some(tiles) = source.tiles() {
        opened = opened.with_tiles(&tiles);
    }
    let examined = opened.examine(
        &source.home,
        &source.image,
        None,
        &Replay::SignaturesOnly,
        &stella_evidence::progress::Silent,
    )?;
    if !examined.verified() {
        return Ok(Err(format!(
            "the evidence of {} does not verify (run `stella verify --image` for every reason)",
            source.image
        )));
    }
    let mut candidates = 0usize;
    for doc in &examined.trusted {
        use stella_evidence::verify::Scope;
        if !matches!(
            doc.scope,
            Scope::MicroWitness | Scope::Assessment | Scope::Score
        ) {
            continue;
        }
        candidates += 1;
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&doc.bytes) else {
            continue;
        };
        if value.get("replayToken").and_then(|t| t.as_str()) == Some(token) {
            return Ok(Ok((value, doc.referrer.clone())));
        }
    }
    Ok(Err(format!(
        "none of the {} attached to {} and signed by a trusted key has the replay token {token}",
        print::count(
            candidates,
            "micro-witness, assessment or score",
            "micro-witnesses, assessments and scores"
        ),
        source.image
    )))
}

/// Whether `token` is the SHA-256 of the RFC 8785 form of `record`; why not otherwise.
pub(crate) fn token_holds(record: &serde_json::Value, token: &str) -> Result<(), String> {
    let canonical = stella_core::jcs::to_canonical(record)
        .map_err(|e| format!("its replay record cannot be canonicalised: {e}"))?;
    let digest = Digest::sha256(&canonical);
    if digest.to_string() != token {
        return Err(format!(
            "its replay token {token} is not the digest of its replay record ({digest}): the \
             record was changed after the verdict was made"
        ));
    }
    Ok(())
}

/// Whether every runtime document and prior VEX a replay record names was given (as a file,
/// or attached to the image by a trusted key), and nothing else; the first that is missing or
/// extra otherwise.
fn named_inputs_given(
    inputs: &report::ReplayInputs,
    runtime: Option<&RuntimeInputs>,
    priors: &[(Digest, String, VexDocument)],
    examined: &stella_evidence::verify::Examined,
) -> Result<(), String> {
    let attached_vex: BTreeSet<String> = attached_priors(examined, &inputs.vex)
        .into_iter()
        .map(|(id, _, _)| id.to_string())
        .collect();
    let given = [
        (
            "witness report",
            "--witness (or attach it)",
            runtime
                .map(|r| r.witness_digests.clone())
                .unwrap_or_default(),
            &inputs.witnesses,
        ),
        (
            "profile",
            "--profile (or attach it)",
            runtime
                .map(|r| r.profile_digests.clone())
                .unwrap_or_default(),
            &inputs.profiles,
        ),
        (
            "prior VEX",
            "--vex (or attach it)",
            priors
                .iter()
                .map(|(id, _, _)| id.to_string())
                .chain(attached_vex)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            &inputs.vex,
        ),
    ];
    for (what, flag, have, named) in &given {
        let have: BTreeSet<&String> = have.iter().collect();
        let named: BTreeSet<&String> = named.iter().collect();
        if let Some(missing) = named.difference(&have).next() {
            return Err(format!(
                "the verdict rests on the {what} {missing}, which was not given: pass it with \
                 {flag}"
            ));
        }
        if let Some(extra) = have.difference(&named).next() {
            return Err(format!(
                "the {what} {extra} given with {flag} is not an input of this verdict"
            ));
        }
    }
    Ok(())
}

/// The VEX documents attached to the image by a trusted key whose canonical ids are `named`.
pub(crate) fn attached_priors(
    examined: &stella_evidence::verify::Examined,
    named: &[String],
) -> Vec<(Digest, String, VexDocument)> {
    examined
        .trusted
        .iter()
        .filter(|d| d.scope == stella_evidence::verify::Scope::Vex)
        .filter_map(|d| {
            let r = read::read(&d.bytes, &Default::default()).ok()?;
            named.contains(&r.canonical_id.to_string()).then(|| {
                (
                    r.canonical_id,
                    format!("attached {}", d.referrer),
                    r.document,
                )
            })
        })
        .collect()
}

/// A replay under way: what it is called and how its answer is printed.
pub(crate) struct Replaying<'a> {
    name: &'a str,
    json: bool,
}

impl Replaying<'_> {
    /// The replay's answer when the verdict is not made again: exit 1, naming why.
    pub(crate) fn fail(&self, why: String) -> Result<Outcome, CliError> {
        if self.json {
            println!("{}", serde_json::json!({"replayed": false, "reason": why}));
        }
        eprintln!("{}: not replayed: {why}", self.name);
        Ok(Outcome::Failed)
    }

    /// A document that is not what a replay reads.
    pub(crate) fn bad(&self, why: impl std::fmt::Display) -> CliError {
        CliError::input(anyhow!("{}: {why}", self.name))
    }

    /// The answer when the verdict is made again: its digest and, signed again, the envelope.
    pub(crate) fn replayed(&self, fields: serde_json::Value, line: &str, signed: Option<String>) {
        if self.json {
            let mut doc = serde_json::json!({"replayed": true, "envelope": signed});
            if let (Some(o), serde_json::Value::Object(more)) = (doc.as_object_mut(), fields) {
                o.extend(more);
            }
            println!("{doc}");
        }
        eprintln!("{}: {line}", self.name);
        if let Some(line) = signed {
            eprintln!("{}: {line}", self.name);
        }
    }
}

/// A replay record, read and its token checked.
pub(crate) struct Recorded<'a> {
    pub record: &'a serde_json::Value,
    pub token: &'a str,
    pub inputs: report::ReplayInputs,
    pub issued: jiff::Timestamp,
    /// The advisory documents by digest (a micro-witness made before they were recorded names
    /// its advisories by id only: then every advisory the sources hold can match).
    pub advisory_documents: Option<BTreeSet<String>>,
}

impl<'a> Recorded<'a> {
    /// The record of `original` (a `what`), or why it cannot be replayed: `Ok(Err(why))` when
    /// its token is not its record's digest.
    fn of(
        r: &Replaying<'_>,
        original: &'a serde_json::Value,
        what: &str,
    ) -> Result<Result<Self, String>, CliError> {
        let (Some(record), Some(token)) = (
            original.get("replay"),
            original.get("replayToken").and_then(|t| t.as_str()),
        ) else {
            return Err(r.bad(format!(
                "no `replay` record or `replayToken`: this {what} cannot be replayed"
            )));
        };
        if let Err(why) = token_holds(record, token) {
            return Ok(Err(why));
        }
        let inputs: report::ReplayInputs = record
            .get("inputs")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| r.bad(format!("replay.inputs: {e}")))?
            .ok_or_else(|| r.bad("replay.inputs is missing"))?;
        let issued = inputs
            .issued
            .parse()
            .map_err(|e| r.bad(format!("replay.inputs.issued: {e}")))?;
        let advisory_documents = record
            .get("advisoryDocuments")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| r.bad(format!("replay.advisoryDocuments: {e}")))?;
        Ok(Ok(Recorded {
            record,
            token,
            inputs,
            issued,
            advisory_documents,
        }))
    }

    /// A list of strings of the record.
    fn strings(&self, r: &Replaying<'_>, key: &str) -> Result<Vec<String>, CliError> {
        let value = self
            .record
            .get(key)
            .ok_or_else(|| r.bad(format!("replay.{key} is missing")))?;
        serde_json::from_value(value.clone()).map_err(|e| r.bad(format!("replay.{key}: {e}")))
    }
}

/// The assessment made again from a replay record.
pub(crate) struct Again {
    pub examined: stella_evidence::verify::Examined,
    pub assessment: assess::Assessment,
    /// The record's inputs, with the digests of the advisory documents read.
    pub inputs: report::ReplayInputs,
    /// The prior VEX given as files.
    pub priors: Vec<(Digest, String, VexDocument)>,
    /// The image's manifest digest.
    pub image_digest: String,
}

/// Verifies the image's evidence and assesses it again about `vulnerabilities` from exactly
/// the inputs `recorded` names (each must be found, and nothing else given), under its policy
/// and time. `Ok(Err(None))` when the evidence does not verify (the reasons are printed);
/// `Ok(Err(Some(why)))` when an input is missing, extra or not the one recorded.
pub(crate) fn assess_again(
    args: &ReplayArgs,
    source: &Source,
    recorded: &Recorded<'_>,
    vulnerabilities: &[String],
    hot_share: Option<f64>,
) -> Result<Result<Again, Option<String>>, CliError> {
    let inputs = &recorded.inputs;
    let runtime = read_runtime(&args.witness, &args.profile)?;
    let priors = read_priors(&args.vex)?;
    let named_runtime: BTreeSet<String> = inputs
        .witnesses
        .iter()
        .chain(&inputs.profiles)
        .cloned()
        .collect();
    let tiles = source.tiles();
    let defaults = stella_policy::runtime::Policy::default();
    let assessed = match assess_image(
        &Asked {
            image: &source.image,
            insecure: args.insecure,
            key: &source.keys,
            trusted_root: source.trusted_root.as_deref(),
            replay: false,
            advisories: &source.advisories,
            vuln: vulnerabilities,
            issued: Some(recorded.issued),
            quiet: true,
            attached_only: Some(&named_runtime),
            advisory_documents: recorded.advisory_documents.as_ref(),
            tiles: tiles.as_deref(),
        },
        runtime,
        stella_policy::runtime::Policy {
            zero_valid_for: inputs.zero_valid_for,
            sampled_affects: inputs.sampled_affects,
            hot_share: hot_share.unwrap_or(defaults.hot_share),
        },
        &source.home,
    ) {
        Ok(Some(a)) => a,
        Ok(None) => return Ok(Err(None)),
        // An input the verdict names that cannot be found is the replay's answer, not an error
        // of the command.
        Err(e) if e.code == crate::exit::FAILED => return Ok(Err(Some(format!("{:#}", e.error)))),
        Err(e) => return Err(e),
    };
    let Assessed {
        examined,
        assessment,
        runtime,
        advisory_documents: read_documents,
        image_digest,
        ..
    } = assessed;
    if let Err(why) = named_inputs_given(inputs, runtime.as_ref(), &priors, &examined) {
        return Ok(Err(Some(why)));
    }
    let sbom = examined.sbom.as_ref().map(|s| s.canonical_id.clone());
    let recorded_sbom = recorded.record.get("sbom").and_then(|s| s.as_str());
    if sbom.as_deref() != recorded_sbom {
        return Ok(Err(Some(format!(
            "the verdict was made on SBOM {}, {} holds {}",
            recorded_sbom.unwrap_or("?"),
            source.image,
            sbom.as_deref().unwrap_or("none that verifies")
        ))));
    }
    let inputs = report::ReplayInputs {
        advisory_documents: read_documents
            .into_iter()
            .map(|(label, d)| (label, d.digest))
            .collect(),
        ..inputs.clone()
    };
    Ok(Ok(Again {
        examined,
        assessment,
        inputs,
        priors,
        image_digest,
    }))
}

/// With --sign-key (and a token, so that the attached document is known): the document made
/// again (`bytes`, a `predicate_type`) signed again and compared with the envelope attached
/// at `referrer` and its log entry; the line that says so, or why not.
pub(crate) fn signed_again(
    args: &ReplayArgs,
    source: &Source,
    referrer: Option<&str>,
    document: (&str, &[u8]),
    examined: &stella_evidence::verify::Examined,
) -> Result<Result<Option<String>, String>, CliError> {
    match (&args.sign_key, referrer) {
        (Some(key), Some(referrer)) => {
            Ok(same_envelope(source, args.insecure, key, referrer, document, examined)?.map(Some))
        }
        (Some(_), None) => Err(CliError::input(anyhow!(
            "--sign-key compares the envelope attached to the image: give the replay token, \
             not a file"
        ))),
        (None, _) => Ok(Ok(None)),
    }
}

/// `stella replay`: a micro-witness or an assessment made again from the inputs it names.
pub fn replay(args: ReplayArgs, home: &Path) -> Result<Outcome, CliError> {
    let r = Replaying {
        name: &args.target,
        json: args.json,
    };
    // Where the image and the inputs are: a pack, or the image and the user's home.
    let source = match (&args.from, &args.image) {
        (Some(pack), _) => {
            let unpacked = match crate::audit::open_pack(
                pack,
                &args.key,
                args.trusted_root.as_deref(),
                args.max_size as u64,
            )? {
                Ok(u) => u,
                Err(why) => return r.fail(format!("--from {}: {why}", pack.display())),
            };
            let mut advisories = args.advisories.clone();
            if let Some(dir) = unpacked.advisories() {
                advisories.push(dir.display().to_string());
            }
            Source {
                image: unpacked.image.clone(),
                keys: unpacked.keys.clone(),
                trusted_root: Some(unpacked.root.clone()),
                advisories,
                home: unpacked.home.clone(),
                pack: Some(unpacked),
            }
        }
        (None, Some(image)) => Source {
            image: image.clone(),
            keys: args.key.clone(),
            trusted_root: args.trusted_root.clone(),
            advisories: args.advisories.clone(),
            home: home.to_path_buf(),
            pack: None,
        },
        (None, None) => {
            return Err(CliError::input(anyhow!(
                "name the image the verdict is about with --image, or replay from a pack with \
                 --from"
            )));
        }
    };

    // The document: a file, or the attached one with this token.
    let file = PathBuf::from(&args.target);
    let (value, referrer) = if is_token(&args.target) && !file.exists() {
        match attached_with_token(&source, args.insecure, &args.target)? {
            Ok((value, referrer)) => (value, Some(referrer)),
            Err(why) => return r.fail(why),
        }
    } else {
        let input = crate::input::Input::new(file);
        let bytes = input.read(MAX_MICRO_WITNESS_BYTES)?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| r.bad(format!("not JSON: {e}")))?;
        (value, None)
    };
    // The predicate, or an in-toto Statement carrying one.
    let predicate_type = value.get("predicateType").and_then(|t| t.as_str());
    let original = match (value.get("predicate"), predicate_type) {
        (Some(p), Some(predicate::STELLA_MICRO_WITNESS)) => p.clone(),
        (Some(p), Some(predicate::STELLA_ASSESSMENT)) => {
            return replay_assessment(&args, &r, &source, p, referrer.as_deref());
        }
        (Some(p), Some(predicate::STELLA_SCORE)) => {
            return crate::score::replay(&args, &r, &source, p, referrer.as_deref());
        }
        (Some(_), _) => return Err(r.bad("a Statement of another predicate type")),
        (None, _) if value.get("schema").and_then(|s| s.as_str()) == Some(assess::SCHEMA) => {
            return replay_assessment(&args, &r, &source, &value, referrer.as_deref());
        }
        (None, _) if crate::score::is_score(&value) => {
            return crate::score::replay(&args, &r, &source, &value, referrer.as_deref());
        }
        (None, _) => value,
    };
    replay_micro_witness(&args, &r, &source, &original, referrer.as_deref())
}

/// `stella replay` of a micro-witness: its verdict made again, compared byte for byte.
fn replay_micro_witness(
    args: &ReplayArgs,
    r: &Replaying<'_>,
    source: &Source,
    original: &serde_json::Value,
    referrer: Option<&str>,
) -> Result<Outcome, CliError> {
    stella_attest::predicates::validate(predicate::STELLA_MICRO_WITNESS, original)
        .map_err(|e| r.bad(format!("not a micro-witness: {e}")))?;
    let recorded = match Recorded::of(r, original, "micro-witness")? {
        Ok(recorded) => recorded,
        Err(why) => return r.fail(why),
    };
    let text = |pointer: &str, what: &str| {
        original
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| r.bad(format!("no {what} named")))
    };
    let vulnerability = text("/vulnerability", "vulnerability")?;
    let path = text("/binary/path", "binary path")?;
    let Again {
        examined,
        mut assessment,
        inputs,
        ..
    } = match assess_again(
        args,
        source,
        &recorded,
        std::slice::from_ref(&vulnerability),
        None,
    )? {
        Ok(again) => again,
        Err(None) => return Ok(Outcome::Failed),
        Err(Some(why)) => return r.fail(why),
    };
    let again = micro_witnesses(&mut assessment, &inputs)?;
    let mine = again.iter().find_map(|bytes| {
        let doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        (doc["vulnerability"] == vulnerability.as_str() && doc["binary"]["path"] == path.as_str())
            .then_some((bytes, doc))
    });
    let Some((bytes, doc)) = mine else {
        return r.fail(format!(
            "the assessment made again has no runtime verdict on {vulnerability} in {path}"
        ));
    };
    let expected = stella_core::jcs::to_canonical(original)
        .map_err(|e| r.bad(format!("canonical form: {e}")))?;
    if *bytes != expected {
        return r.fail(format!(
            "the verdict made again differs from the original at {}",
            first_difference(original, &doc)
        ));
    }
    let id = Digest::sha256(bytes);
    // With the signing key: the envelope signed again is the attached one, byte for byte, and
    // the log's entry for it is the one the original's bundle carries.
    let signed = match signed_again(
        args,
        source,
        referrer,
        (predicate::STELLA_MICRO_WITNESS, bytes),
        &examined,
    )? {
        Ok(signed) => signed,
        Err(why) => return r.fail(why),
    };
    r.replayed(
        serde_json::json!({"microWitness": id.to_string(), "token": recorded.token}),
        &format!("replayed {vulnerability} in {path}: the same bytes ({id})"),
        signed,
    );
    Ok(Outcome::Success)
}

/// `stella replay` of an assessment (the evidence document behind a VEX verdict): made again
/// from the inputs its `replay` record names, compared byte for byte, then its VEX document
/// made again and compared with the VEX document attached to the image that cites it.
fn replay_assessment(
    args: &ReplayArgs,
    r: &Replaying<'_>,
    source: &Source,
    original: &serde_json::Value,
    referrer: Option<&str>,
) -> Result<Outcome, CliError> {
    let recorded = match Recorded::of(r, original, "assessment")? {
        Ok(recorded) => recorded,
        Err(why) => return r.fail(why),
    };
    let record = recorded.record;
    let field = |key: &str| {
        record
            .get(key)
            .ok_or_else(|| r.bad(format!("replay.{key} is missing")))
    };
    if recorded.advisory_documents.is_none() {
        return Err(r.bad("replay.advisoryDocuments is missing"));
    }
    let funcproofs: BTreeSet<String> = recorded.strings(r, "funcproofs")?.into_iter().collect();
    let vulnerabilities = recorded.strings(r, "vulnerabilities")?;
    let hot_share = field("hotShare")?
        .as_f64()
        .ok_or_else(|| r.bad("replay.hotShare: not a number"))?;
    let author = field("vex")?
        .get("author")
        .and_then(|a| a.as_str())
        .ok_or_else(|| r.bad("replay.vex.author is missing"))?
        .to_owned();
    let policy_digest = field("vex")?
        .get("policy")
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    let Again {
        examined,
        mut assessment,
        inputs,
        mut priors,
        ..
    } = match assess_again(args, source, &recorded, &vulnerabilities, Some(hot_share))? {
        Ok(again) => again,
        Err(None) => return Ok(Outcome::Failed),
        Err(Some(why)) => return r.fail(why),
    };
    let issued = recorded.issued;
    let verified: BTreeSet<String> = examined.proven.iter().map(|p| p.digest.clone()).collect();
    if let Some(missing) = funcproofs.difference(&verified).next() {
        return r.fail(format!(
            "the assessment rests on the FuncProof {missing}, which {} does not carry verified",
            source.image
        ));
    }
    if let Some(extra) = verified.difference(&funcproofs).next() {
        return r.fail(format!(
            "{} carries the verified FuncProof {extra}, which the assessment did not rest on",
            source.image
        ));
    }
    micro_witnesses(&mut assessment, &inputs)?;
    let assessment = assessment
        .with_replay(record.clone())
        .map_err(|e| CliError::environment(anyhow!("the replay record: {e}")))?;
    let (bytes, evidence_id) =
        report::evidence(&assessment).map_err(|e| CliError::environment(anyhow!("{e}")))?;
    let expected = stella_core::jcs::to_canonical(original)
        .map_err(|e| r.bad(format!("canonical form: {e}")))?;
    if bytes != expected {
        let again =
            serde_json::to_value(&assessment).map_err(|e| CliError::environment(anyhow!("{e}")))?;
        return r.fail(format!(
            "the assessment made again differs from the original at {}",
            first_difference(original, &again)
        ));
    }

    // Its VEX document, made again with the recorded author and merge policy, against the one
    // attached that cites it.
    let mut attached = attached_priors(&examined, &inputs.vex);
    for prior in attached.drain(..) {
        if !priors.iter().any(|(id, _, _)| *id == prior.0) {
            priors.push(prior);
        }
    }
    // The merge ranks the priors in the order the record lists them.
    priors.sort_by_key(|(id, _, _)| {
        inputs
            .vex
            .iter()
            .position(|v| *v == id.to_string())
            .unwrap_or(usize::MAX)
    });
    let names: BTreeMap<Digest, String> = priors
        .iter()
        .map(|(id, name, _)| (id.clone(), name.clone()))
        .collect();
    match (&policy_digest, &args.policy) {
        (Some(recorded), Some(path)) => {
            let given =
                Digest::sha256(&crate::input::Input::new(path.clone()).read(MAX_POLICY_BYTES)?)
                    .to_string();
            if given != *recorded {
                return r.fail(format!(
                    "--policy {}: {given}, but the assessment was made under the policy file \
                     {recorded}",
                    path.display()
                ));
            }
        }
        (Some(recorded), None) => {
            return r.fail(format!(
                "the assessment was made under the policy file {recorded}: pass it with --policy"
            ));
        }
        (None, Some(path)) => {
            return r.fail(format!(
                "--policy {}: the assessment was made without a policy file",
                path.display()
            ));
        }
        (None, None) => {}
    }
    let policy = crate::vex::policy(args.policy.as_deref(), &names)?;
    let document = vex_of(&assessment, &evidence_id, &author, issued, &priors, &policy)?;
    let vex = read::write(&document, VexFormat::OpenVex).map_err(CliError::kinded)?;
    let vex_id = Digest::sha256(&vex);
    let citing: Vec<&stella_evidence::verify::claims::TrustedDocument> = examined
        .trusted
        .iter()
        .filter(|d| d.scope == stella_evidence::verify::Scope::Vex)
        .filter(|d| {
            d.bytes
                .windows(evidence_id.hex().len())
                .any(|w| w == evidence_id.hex().as_bytes())
        })
        .collect();
    let vex_line = if citing.iter().any(|d| d.bytes == vex) {
        format!("its VEX document is the one attached, byte for byte ({vex_id})")
    } else if let Some(other) = citing.first() {
        let theirs: serde_json::Value = serde_json::from_slice(&other.bytes).unwrap_or_default();
        let ours: serde_json::Value = serde_json::from_slice(&vex).unwrap_or_default();
        return r.fail(format!(
            "the VEX document made again differs from the one attached ({}) at {}",
            other.referrer,
            first_difference(&theirs, &ours)
        ));
    } else {
        format!("its VEX document made again is {vex_id} (none attached cites it)")
    };
    let id = Digest::sha256(&bytes);
    let signed = match signed_again(
        args,
        source,
        referrer,
        (predicate::STELLA_ASSESSMENT, &bytes),
        &examined,
    )? {
        Ok(signed) => signed,
        Err(why) => return r.fail(why),
    };
    r.replayed(
        serde_json::json!({
            "assessment": id.to_string(),
            "vex": vex_id.to_string(),
            "token": recorded.token,
        }),
        &format!(
            "replayed the assessment of {} ({} verdicts): the same bytes ({id}); {vex_line}",
            source.image,
            assessment.verdicts.len()
        ),
        signed,
    );
    Ok(Outcome::Success)
}

/// Signs the micro-witness made again (`bytes`) as `stella assess --attach` does, with the key
/// at `key`, and compares the envelope with each trusted bundle attached to `referrer`: `Ok`
/// (what matched) when one carries the same envelope byte for byte and a log entry whose body
/// is the one the log would hold for it; else why not.
fn same_envelope(
    source: &Source,
    insecure: bool,
    key: &Path,
    referrer: &str,
    (predicate_type, bytes): (&str, &[u8]),
    examined: &stella_evidence::verify::Examined,
) -> Result<Result<String, String>, CliError> {
    let signer = crate::attest::load_private_key(key)?;
    let reference = Reference::parse(&source.image).map_err(CliError::kinded)?;
    let store = crate::oci::open_store(&reference, insecure)?;
    let referrer_digest: Digest = referrer
        .parse()
        .map_err(|e| CliError::environment(anyhow!("referrer {referrer}: {e}")))?;
    let bundles = attached::bundles_of(store.as_ref(), &referrer_digest)
        .map_err(|e| CliError::kinded(e).context(format!("the bundles of {referrer}")))?;
    let predicate = stella_core::jcs::parse(bytes)
        .map_err(|e| CliError::environment(anyhow!("micro-witness: {e}")))?
        .to_serde();
    let sbom = examined.sbom.as_ref().map(|s| s.canonical_id.clone());
    let image = stella_oci::image::resolve(
        store.as_ref(),
        reference.target(),
        &stella_oci::image::Platform::host(),
    )
    .map_err(CliError::kinded)?
    .root
    .digest
    .to_string();
    let mut reasons = Vec::new();
    for (digest, bundle) in bundles {
        let Some(original) = bundle.get("dsseEnvelope") else {
            reasons.push(format!("{digest}: no envelope"));
            continue;
        };
        // The subjects as the original names them; their digests must be the image's and the
        // SBOM's as verified now.
        let statement = stella_attest::bundle::SignedEvidence::from_json_value(&bundle)
            .ok()
            .and_then(|e| Statement::from_json(&e.envelope().payload).ok());
        let Some(statement) = statement else {
            reasons.push(format!("{digest}: the envelope carries no Statement"));
            continue;
        };
        let digests: Vec<Option<String>> = statement
            .subject
            .iter()
            .map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
            .collect();
        // A micro-witness or a score is about the image and the SBOM; an assessment about the
        // image.
        let expected = if predicate_type == predicate::STELLA_ASSESSMENT {
            vec![Some(image.clone())]
        } else {
            vec![Some(image.clone()), sbom.clone()]
        };
        if digests != expected {
            reasons.push(format!(
                "{digest}: its subjects are not the image (and SBOM) verified now"
            ));
            continue;
        }
        let subjects = statement.subject.clone();
        let again = Statement::new(subjects, predicate_type, predicate.clone())
            .map_err(|e| CliError::environment(anyhow!("the Statement: {e}")))?;
        let envelope = stella_attest::dsse::Envelope::sign_statement(&again, &[&signer])
            .map_err(|e| CliError::environment(anyhow!("signing: {e}")))?;
        let ours = stella_attest::bundle::Bundle::new(
            envelope.clone(),
            stella_attest::keys::Signer::key_id(&signer),
        )
        .to_json_value();
        if ours.get("dsseEnvelope") != Some(original) {
            reasons.push(format!(
                "{digest}: the envelope signed again with {} differs",
                key.display()
            ));
            continue;
        }
        let body = stella_tlog::entry::hashedrekord_body(
            &envelope,
            0,
            stella_attest::keys::Signer::public_key(&signer),
        )
        .map_err(|e| CliError::environment(anyhow!("the log entry: {e}")))?;
        let logged = bundle
            .pointer("/verificationMaterial/tlogEntries")
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
            .find_map(|e| {
                let text = e.get("canonicalizedBody")?.as_str()?;
                let decoded =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
                        .ok()?;
                (decoded == body).then(|| e.get("logIndex").cloned())
            });
        let Some(index) = logged else {
            reasons.push(format!(
                "{digest}: the same envelope, but no log entry of its bundle holds it"
            ));
            continue;
        };
        return Ok(Ok(format!(
            "signed again with {}: the same DSSE envelope as the bundle {digest}, and the log \
             holds it as entry {} (not a new one)",
            key.display(),
            index
                .as_ref()
                .and_then(|i| i.as_str().map(str::to_owned))
                .unwrap_or_else(|| "?".to_owned())
        )));
    }
    Ok(Err(if reasons.is_empty() {
        format!("no bundle is attached to {referrer}")
    } else {
        reasons.join("; ")
    }))
}

/// The JSON pointer of the first place `a` and `b` differ (members in sorted order).
pub(crate) fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> String {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p == q => continue,
                    (Some(p), Some(q)) => {
                        return format!("/{k}{}", first_difference(p, q));
                    }
                    _ => return format!("/{k}"),
                }
            }
            String::new()
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return format!("/{i}{}", first_difference(p, q));
                }
            }
            if x.len() != y.len() {
                format!("/{}", x.len().min(y.len()))
            } else {
                String::new()
            }
        }
        _ => format!(" ({a} then, {b} now)"),
    }
}

/// What runtime evidence is attached as.
pub(crate) enum RuntimeKind {
    WitnessReport,
    Profile,
}

/// Signs `bytes` (a witness report or a profile), logs it and attaches it to `image`, where
/// `stella assess` finds it when a trusted key signed it.
pub(crate) fn attach_runtime(
    image: &str,
    insecure: bool,
    sign_key: Option<&Path>,
    home: &Path,
    kind: RuntimeKind,
    bytes: &[u8],
) -> Result<Digest, CliError> {
    let (media_type, predicate_type, kind, name) = match kind {
        RuntimeKind::WitnessReport => (
            media::WITNESS_REPORT_JSON,
            predicate::STELLA_RUNTIME_WITNESS,
            stella_evidence::verify::claims::WITNESS_REPORT_KIND,
            "witness-report.json",
        ),
        RuntimeKind::Profile => (
            media::PROFILE_JSON,
            predicate::STELLA_RUNTIME_PROFILE,
            stella_evidence::verify::claims::PROFILE_KIND,
            "profile.json",
        ),
    };
    let reference = Reference::parse(image).map_err(CliError::kinded)?;
    let err = |e| CliError::kinded(e).context(format!("--attach {image}"));
    let crate::attest::Attaching {
        store,
        subject,
        signer,
        log,
    } = crate::attest::Attaching::open(&reference, insecure, sign_key, home, "--attach")?;
    let attached = attached::attach_signed(
        store.as_ref(),
        &subject,
        &reference.to_string(),
        name,
        media_type,
        bytes,
        predicate_type,
        kind,
        &signer,
        log.as_deref(),
    )
    .map_err(err)?;
    eprintln!(
        "attached to {image} ({}): {kind} {} (bundle {})",
        subject.digest, attached.document.digest, attached.bundle.digest
    );
    Ok(attached.document.digest)
}

/// The SBOM's `metadata.timestamp`: the time the statements are dated by default.
fn sbom_time(sbom: &serde_json::Value) -> Result<jiff::Timestamp, CliError> {
    let text = sbom
        .pointer("/metadata/timestamp")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            CliError::input(anyhow!(
                "the SBOM has no metadata.timestamp to date the statements by: pass --issued"
            ))
        })?;
    text.parse().map_err(|e| {
        CliError::input(anyhow!(
            "the SBOM's metadata.timestamp {text:?} is not RFC 3339 ({e}): pass --issued"
        ))
    })
}

/// The micro-witness of every verdict runtime evidence decided, checked against its schema and
/// canonical; each verdict names its micro-witness by canonical id.
pub(crate) fn micro_witnesses(
    assessment: &mut assess::Assessment,
    inputs: &report::ReplayInputs,
) -> Result<Vec<Vec<u8>>, CliError> {
    let mut out = Vec::new();
    for i in 0..assessment.verdicts.len() {
        let Some(doc) = report::micro_witness(assessment, i, inputs)
            .map_err(|e| CliError::environment(anyhow!("micro-witness of verdict {i}: {e}")))?
        else {
            continue;
        };
        stella_attest::predicates::validate(predicate::STELLA_MICRO_WITNESS, &doc).map_err(
            |e| {
                CliError::environment(anyhow!(
                    "the micro-witness of verdict {i} breaks its schema: {e}"
                ))
            },
        )?;
        let bytes = stella_core::jcs::to_canonical(&doc)
            .map_err(|e| CliError::environment(anyhow!("micro-witness: {e}")))?;
        let id = Digest::sha256(&bytes).to_string();
        let v = &mut assessment.verdicts[i];
        if let Some(r) = v.runtime.as_mut() {
            r.micro_witness = Some(id.clone());
        }
        v.note.push_str(&format!(" Micro-witness {id}."));
        out.push(bytes);
    }
    Ok(out)
}

/// Largest witness report or profile read.
const MAX_RUNTIME_BYTES: usize = 1 << 30;

/// Runtime evidence read, with the digests of the files it came from.
#[derive(Default)]
pub(crate) struct RuntimeInputs {
    witnesses: Vec<(String, stella_runtime::witness::WitnessReport)>,
    profiles: Vec<(String, stella_runtime::profile::Profile)>,
    witness_digests: Vec<String>,
    profile_digests: Vec<String>,
    /// Each witness observation read, as a key (see [`RuntimeInputs::add_witnesses`]).
    observed: BTreeSet<String>,
}

impl RuntimeInputs {
    /// Adds the runtime evidence attached to the image that a trusted key signed (of `only`,
    /// when given). A document also given as a file (the same digest) is read once.
    fn add_attached(
        &mut self,
        documents: &[stella_evidence::verify::claims::TrustedDocument],
        only: Option<&BTreeSet<String>>,
    ) -> Result<(), CliError> {
        use stella_evidence::verify::Scope;
        for d in documents {
            let name = format!("attached {}", d.referrer);
            let digest = Digest::sha256(&d.bytes).to_string();
            if only.is_some_and(|o| !o.contains(&digest)) {
                continue;
            }
            match d.scope {
                Scope::WitnessReport if !self.witness_digests.contains(&digest) => {
                    let (reports, digest) = parse_witness(&d.bytes, &name)?;
                    self.witness_digests.push(digest);
                    self.add_witnesses(&name, reports);
                }
                Scope::Profile if !self.profile_digests.contains(&digest) => {
                    let (profile, digest) =
                        parse_json(&d.bytes, &name, stella_runtime::profile::SCHEMA, "profile")?;
                    self.profile_digests.push(digest);
                    self.profiles.push((name, profile));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds the witnesses of `reports` (read from `name`), one report per witness, each
    /// observation once: the same count of the same function of the same binary over the same
    /// window and instances, read from two documents (the file `stella witness --json -o`
    /// wrote and the report it attached hold it as an array and as one object), is one
    /// observation, not two.
    fn add_witnesses(&mut self, name: &str, reports: Vec<stella_runtime::witness::WitnessReport>) {
        for report in reports {
            for witness in &report.witnesses {
                let instances = witness.instances.as_ref().unwrap_or(&report.instances);
                let key = serde_json::json!([
                    report.window,
                    report.pid,
                    witness.build_id,
                    witness.binary,
                    witness.file_offset,
                    witness.function,
                    witness.calls,
                    instances,
                ])
                .to_string();
                if !self.observed.insert(key) {
                    continue;
                }
                let one = stella_runtime::witness::WitnessReport {
                    witnesses: vec![witness.clone()],
                    ..report.clone()
                };
                self.witnesses.push((name.to_owned(), one));
            }
        }
    }

    /// Evidence of one profile document and, when given, one witness report (`bytes` are
    /// what each digest is of), named `name`.
    pub(crate) fn of_documents(
        name: &str,
        (profile, profile_bytes): (stella_runtime::profile::Profile, &[u8]),
        witness: Option<(stella_runtime::witness::WitnessReport, &[u8])>,
    ) -> Self {
        let mut inputs = RuntimeInputs {
            profiles: vec![(name.to_owned(), profile)],
            profile_digests: vec![Digest::sha256(profile_bytes).to_string()],
            ..RuntimeInputs::default()
        };
        if let Some((report, bytes)) = witness {
            inputs
                .witness_digests
                .push(Digest::sha256(bytes).to_string());
            inputs.add_witnesses(name, vec![report]);
        }
        inputs
    }

    fn is_empty(&self) -> bool {
        self.witnesses.is_empty() && self.profiles.is_empty()
    }

    /// `sha256:<hex>` of each witness report read.
    pub(crate) fn witness_digests(&self) -> &[String] {
        &self.witness_digests
    }

    /// `sha256:<hex>` of each profile read.
    pub(crate) fn profile_digests(&self) -> &[String] {
        &self.profile_digests
    }

    /// The evidence, indexed, after naming the profiles' frames of the image's binaries with
    /// the image's verified symbol tables: a frame is `(BuildID, file offset)` as observed, and
    /// its function is what the verified evidence says lies there, whatever name the profile
    /// carried. Frames of other binaries keep theirs; in a stack that holds a frame of the
    /// image, those without a name are named as the symboliser can.
    ///
    /// Each distinct location is named once, and the profiles are not copied: the index reads
    /// each frame's name from the locations named.
    fn index(
        &self,
        tables: &[stella_binary::SymbolTable],
    ) -> Result<stella_policy::runtime::Evidence, CliError> {
        use std::collections::{HashMap, HashSet};
        use stella_runtime::frame::{Frame, Location};
        use stella_runtime::profile::Stack;

        if tables.is_empty() || self.profiles.is_empty() {
            return Ok(stella_policy::runtime::Evidence::new(
                &self.witnesses,
                &self.profiles,
            ));
        }
        let ours: HashSet<&str> = tables.iter().map(|t| t.build_id.as_str()).collect();
        let is_ours = |frame: &Frame| frame.build_id().is_some_and(|b| ours.contains(b));
        let known = KnownNames::of(tables);
        let by_name = |frame: &Frame| matches!(frame.location, Location::Named { .. });
        fn carried<'f>(
            frame: &'f Frame,
            known: &KnownNames<'_>,
        ) -> Option<&'f stella_runtime::frame::Symbol> {
            frame.symbol.as_ref().filter(|_| known.keeps(frame))
        }
        // A frame is (re)named when it lies at an address in a binary of the image, or has no
        // name and its stack holds such a frame.
        let renamed = |stack: &Stack| -> Option<Vec<bool>> {
            let mine: Vec<bool> = stack
                .frames
                .iter()
                .map(|f| is_ours(f) && !by_name(f))
                .collect();
            mine.contains(&true).then(|| {
                stack
                    .frames
                    .iter()
                    .zip(mine)
                    .map(|(f, m)| m || (f.symbol.is_none() && !by_name(f)))
                    .collect()
            })
        };
        let mut at: HashMap<&Location, usize> = HashMap::new();
        let mut located: Vec<Frame> = Vec::new();
        for stack in self.profiles.iter().flat_map(|(_, p)| &p.stacks) {
            let Some(renamed) = renamed(stack) else {
                continue;
            };
            for (frame, _) in stack.frames.iter().zip(renamed).filter(|(_, r)| *r) {
                at.entry(&frame.location).or_insert_with(|| {
                    located.push(Frame::unresolved(frame.location.clone()));
                    located.len() - 1
                });
            }
        }
        let mut names = stella_runtime::symbolize::Symbolizer::new(
            stella_runtime::symbolize::Config::default(),
        )
        .map_err(CliError::kinded)?;
        for t in tables {
            names.add_table(t.clone()).map_err(CliError::kinded)?;
        }
        names.symbolize_frames(&mut located);
        Ok(stella_policy::runtime::Evidence::with_names(
            &self.witnesses,
            &self.profiles,
            |stack, out| match renamed(stack) {
                None => out.extend(stack.frames.iter().map(|f| carried(f, &known))),
                Some(renamed) => out.extend(stack.frames.iter().zip(renamed).map(|(f, r)| {
                    if r {
                        at.get(&f.location)
                            .and_then(|&i| located[i].symbol.as_ref())
                    } else {
                        carried(f, &known)
                    }
                })),
            },
        ))
    }
}

/// The functions of the image's verified symbol tables, by BuildID and name (mangled and
/// demangled): what a frame named without its address (a fleet's aggregated observation) must
/// be to keep its name.
pub(crate) struct KnownNames<'t> {
    names: std::collections::HashSet<(&'t str, &'t str)>,
    ours: std::collections::HashSet<&'t str>,
}

impl<'t> KnownNames<'t> {
    pub(crate) fn of(tables: &'t [stella_binary::SymbolTable]) -> Self {
        KnownNames {
            names: tables
                .iter()
                .flat_map(|t| {
                    t.functions.iter().flat_map(move |f| {
                        std::iter::once((t.build_id.as_str(), f.sym.as_str()))
                            .chain(f.demangled.as_deref().map(|d| (t.build_id.as_str(), d)))
                    })
                })
                .collect(),
            ours: tables.iter().map(|t| t.build_id.as_str()).collect(),
        }
    }

    /// Whether `frame` keeps the symbol it carries: always, unless it is named without an
    /// address in a binary of the image whose verified table has no function of that name.
    pub(crate) fn keeps(&self, frame: &stella_runtime::frame::Frame) -> bool {
        match (&frame.location, frame.build_id(), &frame.symbol) {
            (stella_runtime::frame::Location::Named { .. }, Some(b), Some(s))
                if self.ours.contains(b) =>
            {
                self.names.contains(&(b, s.function.as_str()))
            }
            _ => true,
        }
    }
}

/// The witness reports and profiles; `None` when none is given.
pub(crate) fn read_runtime(
    witnesses: &[PathBuf],
    profiles: &[PathBuf],
) -> Result<Option<RuntimeInputs>, CliError> {
    if witnesses.is_empty() && profiles.is_empty() {
        return Ok(None);
    }
    let mut inputs = RuntimeInputs::default();
    for p in witnesses {
        let (reports, digest) = read_witness(p)?;
        inputs.witness_digests.push(digest);
        inputs.add_witnesses(&p.display().to_string(), reports);
    }
    let mut profile_digests = Vec::new();
    let mut read_profiles = Vec::new();
    for p in profiles {
        let (profile, digest) = read_profile(p)?;
        profile_digests.push(digest);
        read_profiles.push((p.display().to_string(), profile));
    }
    inputs.profiles = read_profiles;
    inputs.profile_digests = profile_digests;
    Ok(Some(inputs))
}

/// A witness report: `stella witness --json`'s array (one object per symbol, each with its
/// window and instances), or one report object.
fn read_witness(
    path: &Path,
) -> Result<(Vec<stella_runtime::witness::WitnessReport>, String), CliError> {
    let input = crate::input::Input::new(path.to_path_buf());
    let bytes = input.read(MAX_RUNTIME_BYTES)?;
    parse_witness(&bytes, &input.name())
}

/// A witness report's bytes, read as [`read_witness`] reads a file named `name`.
fn parse_witness(
    bytes: &[u8],
    name: &str,
) -> Result<(Vec<stella_runtime::witness::WitnessReport>, String), CliError> {
    let digest = Digest::sha256(bytes).to_string();
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| CliError::input(anyhow!("{name}: not JSON: {e}")))?;
    let objects = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let bad = |i: usize, why: String| CliError::input(anyhow!("{}: /{i}: {why}", name));
    let mut out = Vec::new();
    for (i, mut object) in objects.into_iter().enumerate() {
        let found = object.get("schema").and_then(serde_json::Value::as_str);
        if found != Some(stella_runtime::witness::SCHEMA) {
            return Err(bad(
                i,
                format!(
                    "not a witness report ({}); its schema is {found:?}",
                    stella_runtime::witness::SCHEMA
                ),
            ));
        }
        if object.get("witnesses").is_none() {
            // One symbol's object: its own fields are the witness, the rest the report's.
            let witness = object.clone();
            if let Some(map) = object.as_object_mut() {
                map.insert(
                    "witnesses".to_owned(),
                    serde_json::Value::Array(vec![witness]),
                );
            }
        }
        out.push(serde_json::from_value(object).map_err(|e| bad(i, e.to_string()))?);
    }
    Ok((out, digest))
}

/// A profile: Stella's JSON (`stella record --json`), or pprof (gzipped or not) from
/// `stella record --format pprof`, Go, Parca or Pyroscope; with the digest of its bytes.
fn read_profile(path: &Path) -> Result<(stella_runtime::profile::Profile, String), CliError> {
    let input = crate::input::Input::new(path.to_path_buf());
    let bytes = input.read(MAX_RUNTIME_BYTES)?;
    let json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if json {
        return parse_json(
            &bytes,
            &input.name(),
            stella_runtime::profile::SCHEMA,
            "profile",
        );
    }
    let profile = stella_runtime::pprof::read(&bytes, &input.name()).map_err(|e| {
        CliError::kinded(e).context(format!(
            "{}: neither a Stella profile (JSON) nor pprof",
            input.name()
        ))
    })?;
    Ok((profile, Digest::sha256(&bytes).to_string()))
}

/// A JSON document of `schema` in `bytes` (from `name`), refused by name when it is another.
fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    name: &str,
    schema: &str,
    what: &str,
) -> Result<(T, String), CliError> {
    let digest = Digest::sha256(bytes).to_string();
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| CliError::input(anyhow!("{name}: not JSON: {e}")))?;
    let found = value.get("schema").and_then(serde_json::Value::as_str);
    if found != Some(schema) {
        return Err(CliError::input(anyhow!(
            "{name}: not a {what} ({schema}); its schema is {found:?}"
        )));
    }
    let parsed =
        serde_json::from_value(value).map_err(|e| CliError::input(anyhow!("{name}: {e}")))?;
    Ok((parsed, digest))
}

/// Each prior VEX document: its canonical id, its name (the file as given), the document.
pub(crate) fn read_priors(
    paths: &[PathBuf],
) -> Result<Vec<(Digest, String, VexDocument)>, CliError> {
    paths
        .iter()
        .map(|p| {
            let input = crate::input::Input::new(p.clone());
            let bytes = input.read(MAX_VEX_BYTES)?;
            let r = read::read(&bytes, &Default::default())
                .map_err(|e| CliError::kinded(e).context(input.name()))?;
            Ok((r.canonical_id, input.name(), r.document))
        })
        .collect()
}

/// The advisory a stored row holds.
fn advisory_of(row: StoredDocument) -> Result<Advisory, CliError> {
    let bad = |e: &dyn std::fmt::Display| {
        CliError::input(anyhow!("advisory {} ({}): {e}", row.id, row.source))
    };
    let body = if row.source == "rustsec" {
        Body::RustSec(rustsec::Advisory::from_markdown(&row.document).map_err(|e| bad(&e))?)
    } else {
        Body::Osv(Record::from_json(row.document.as_bytes()).map_err(|e| bad(&e))?)
    };
    Ok(Advisory {
        id: row.id,
        aliases: row.aliases,
        source: row.source,
        summary: row.summary,
        body,
    })
}

fn is_database_url(text: &str) -> bool {
    ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|p| text.starts_with(p))
}

/// The advisories that can match `keys` (ecosystem, package) or are asked about, from every
/// source; an id seen twice is kept once (the first source wins). With `only`, just the
/// documents with those digests, each of which must be found. The documents read, by label.
pub(crate) fn load_advisories(
    sources: &[String],
    keys: &BTreeSet<(String, String)>,
    asked: &[String],
    only: Option<&BTreeSet<String>>,
    home: &Path,
) -> Result<(Vec<Advisory>, BTreeMap<String, AdvisoryDocument>), CliError> {
    let mut rows: Vec<StoredDocument> = Vec::new();
    let default = [String::new()];
    let sources: &[String] = if sources.is_empty() {
        &default
    } else {
        sources
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::environment(anyhow!("starting the database runtime: {e}")))?;
    for source in sources {
        if source.is_empty() || is_database_url(source) {
            let db = DbArgs {
                db: (!source.is_empty()).then(|| source.clone()),
            };
            if source.is_empty() && !home.join("stella.db").exists() {
                return Err(CliError::input(anyhow!(
                    "no advisory database at {}: import advisories first (`stella advisories \
                     import PATH`) or pass --advisories PATH",
                    home.join("stella.db").display()
                )));
            }
            rows.extend(runtime.block_on(from_store(&db, keys, asked, home))?);
        } else {
            let files = crate::advisories::files(&[PathBuf::from(source)])?;
            for f in files {
                rows.push(stored(crate::advisories::row_of(&f)?));
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut documents = BTreeMap::new();
    for row in rows {
        let digest = Digest::sha256(row.document.as_bytes()).to_string();
        if only.is_some_and(|only| !only.contains(&digest)) {
            continue;
        }
        if seen.insert(row.id.clone()) {
            let document = AdvisoryDocument {
                digest,
                id: row.id.clone(),
                rustsec: row.source == "rustsec",
                text: row.document.clone(),
            };
            let advisory = advisory_of(row)?;
            documents.insert(format!("{} ({})", advisory.id, advisory.source), document);
            out.push(advisory);
        }
    }
    if let Some(only) = only {
        let found: BTreeSet<&String> = documents.values().map(|d| &d.digest).collect();
        if let Some(missing) = only.iter().find(|d| !found.contains(d)) {
            return Err(CliError {
                code: crate::exit::FAILED,
                error: anyhow!(
                    "the advisory document {missing} the verdict rests on is in none of the \
                     advisory sources ({}): pass it with --advisories",
                    if sources.iter().all(String::is_empty) {
                        "the advisory database".to_owned()
                    } else {
                        sources.join(", ")
                    }
                ),
            });
        }
    }
    if out.is_empty() && sources.iter().all(|s| !s.is_empty() && !is_database_url(s)) {
        return Err(CliError::input(anyhow!(
            "--advisories {}: no advisory files found",
            sources.join(" ")
        )));
    }
    tracing::info!(advisories = out.len(), "advisories that can match");
    Ok((out, documents))
}

/// An advisory document as read, by the SHA-256 of its text.
#[derive(Debug, Clone)]
pub(crate) struct AdvisoryDocument {
    pub digest: String,
    pub id: String,
    /// A RustSec advisory (Markdown), else an OSV record (JSON).
    pub rustsec: bool,
    pub text: String,
}

impl AdvisoryDocument {
    /// A file name for it that `stella assess --advisories DIR` reads back as the same
    /// advisory: `RUSTSEC-….<hex>.md` or `<id>.<hex>.json`, the id reduced to safe characters.
    pub fn file_name(&self) -> String {
        let id: String = self
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let hex = self.digest.trim_start_matches("sha256:");
        if self.rustsec {
            format!("RUSTSEC-{}.{hex}.md", id.trim_start_matches("RUSTSEC-"))
        } else {
            format!("{id}.{hex}.json")
        }
    }
}

async fn from_store(
    db: &DbArgs,
    keys: &BTreeSet<(String, String)>,
    asked: &[String],
    home: &Path,
) -> Result<Vec<StoredDocument>, CliError> {
    let store = crate::advisories::open(db, home).await?;
    let total = store.count().await.map_err(CliError::kinded)?;
    if total == 0 {
        store.close().await;
        return Err(CliError::input(anyhow!(
            "the advisory database {} is empty: nothing to assess against (`stella advisories \
             import PATH`)",
            db.db.as_deref().unwrap_or("$STELLA_HOME/stella.db")
        )));
    }
    // One pass over the packages the image's components name (and the overlay), filtered
    // here by ecosystem; then each asked id.
    let names: Vec<String> = keys
        .iter()
        .filter(|(e, _)| e != "GIT")
        .map(|(_, n)| n.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let wanted: BTreeSet<(&str, &str)> = keys
        .iter()
        .map(|(e, n)| (e.split(':').next().unwrap_or(e), n.as_str()))
        .collect();
    let mut docs: Vec<StoredDocument> = store
        .documents_for(&names)
        .await
        .map_err(CliError::kinded)?
        .into_iter()
        .filter(|d| {
            d.packages.iter().any(|(e, n)| {
                e == "GIT" || wanted.contains(&(e.split(':').next().unwrap_or(e), n.as_str()))
            })
        })
        .collect();
    for id in asked {
        if docs.iter().any(|d| d.id == *id || d.aliases.contains(id)) {
            continue;
        }
        if let Some(row) = store.get(id).await.map_err(CliError::kinded)? {
            docs.push(stored(row));
        }
    }
    store.close().await;
    Ok(docs)
}

/// A row read from a file, as the store would give it.
fn stored(row: AdvisoryRow) -> StoredDocument {
    StoredDocument {
        packages: row
            .packages
            .iter()
            .map(|p| (p.ecosystem.clone(), p.name.clone()))
            .collect(),
        id: row.id,
        source: row.source,
        summary: row.summary,
        document: row.document,
        aliases: row.aliases,
    }
}

fn summary(image: &str, a: &assess::Assessment, document: &VexDocument) {
    let count =
        |s: stella_vex::Status| document.statements.iter().filter(|x| x.status == s).count();
    eprintln!(
        "{image}: {} over {} ({} proven), {} against {}: {} not_affected, {} fixed, {} \
         under_investigation, {} affected",
        print::count(a.verdicts.len(), "verdict", "verdicts"),
        print::count(a.binaries, "binary", "binaries"),
        a.proven,
        print::count(a.components, "component", "components"),
        print::count(a.advisories, "advisory", "advisories"),
        count(stella_vex::Status::NotAffected),
        count(stella_vex::Status::Fixed),
        count(stella_vex::Status::UnderInvestigation),
        count(stella_vex::Status::Affected),
    );
    // The flips, each in one line a person reads.
    for v in a
        .verdicts
        .iter()
        .filter(|v| v.runtime.as_ref().is_some_and(|r| r.outcome == "executed"))
    {
        eprintln!("  {}", flip_line(&v.note));
    }
    if !a.hot.is_empty() {
        eprintln!("hot vulnerable symbols:");
        for h in a.hot.iter().take(10) {
            eprintln!(
                "  {:>6.2}% {:>8} samples {:>8} calls  {} in {} ({}){}",
                h.cpu_share,
                h.samples,
                h.calls,
                h.demangled.as_deref().unwrap_or(&h.function),
                h.binary,
                h.vulnerabilities.join(", "),
                if h.hot { "  HOT" } else { "" }
            );
        }
    }
}

/// The human line of a runtime flip: the verdict's note up to its `VEX → affected.`, what
/// `stella assess` prints and `stella report` shows for every verdict execution decided.
pub(crate) fn flip_line(note: &str) -> String {
    let line = note
        .split_once("VEX → affected.")
        .map_or(note, |(head, _)| head);
    format!("{line}VEX → affected.")
}

/// The words that open the record of a superseded claim in a statement's status notes.
const SUPERSEDES: &str = "Supersedes ";

/// The merged document, each effective statement naming in its status notes the claims it
/// superseded (author, status, justification, time, source document and statement, and the
/// rule that decided), so an overridden vendor claim stays visible beside the one that won.
fn with_superseded(mut merged: merge::Merged) -> VexDocument {
    for m in &mut merged.statements {
        if m.superseded.is_empty() {
            continue;
        }
        let lines: Vec<String> = m
            .superseded
            .iter()
            .map(|x| {
                format!(
                    "{SUPERSEDES}{}'s {}{} of {} (document {}, statement {}, {}), by {}.",
                    x.provenance.author,
                    x.status.openvex_label(),
                    x.justification
                        .as_ref()
                        .map_or(String::new(), |j| format!(" ({})", j.label)),
                    x.timestamp,
                    x.provenance.document,
                    x.provenance.statement_index,
                    x.provenance.format.as_str(),
                    x.rule.as_str()
                )
            })
            .collect();
        let notes = &mut m.statement.status_notes;
        *notes = Some(match notes.take() {
            Some(n) if !n.is_empty() => format!("{n} {}", lines.join(" ")),
            _ => lines.join(" "),
        });
    }
    merged.into_document()
}

/// A setting and where its value comes from.
type Sourced<T> = (T, &'static str);

/// The settings of one assessment: flags over the policy file over the defaults.
struct Settings {
    zero_valid_for: Sourced<std::time::Duration>,
    sampled_affects: Sourced<bool>,
    hot_share: Sourced<f64>,
    fail_on: Sourced<Option<FailOn>>,
}

impl Settings {
    fn new(args: &AssessArgs) -> Result<Self, CliError> {
        let file = crate::vex::assess_policy(args.policy.as_deref())?;
        let defaults = stella_policy::runtime::Policy::default();
        let pick = |flag: Option<_>, file: Option<_>, default| match (flag, file) {
            (Some(v), _) => (v, "flag"),
            (None, Some(v)) => (v, "policy file"),
            (None, None) => (default, "default"),
        };
        Ok(Settings {
            zero_valid_for: pick(
                args.zero_valid_for,
                file.never_executed_valid_for,
                std::time::Duration::from_secs(defaults.zero_valid_for.unsigned_abs()),
            ),
            sampled_affects: match file.sampled_affects {
                Some(v) => (v, "policy file"),
                None => (defaults.sampled_affects, "default"),
            },
            hot_share: match file.hot_share {
                Some(v) => (v, "policy file"),
                None => (defaults.hot_share, "default"),
            },
            fail_on: match (args.fail_on, file.fail_on) {
                (Some(v), _) => (Some(v), "flag"),
                (None, Some(v)) => (Some(v), "policy file"),
                (None, None) => (None, "default"),
            },
        })
    }

    /// The effective policy and the rule behind every final statement, for a person.
    fn explain(
        &self,
        merge: &stella_vex::merge::Policy,
        a: &assess::Assessment,
        document: &VexDocument,
    ) -> String {
        let mut out = String::from("policy:\n");
        out.push_str(&format!(
            "  never executed (witnessed zero) valid for  {}s  ({})\n",
            self.zero_valid_for.0.as_secs(),
            self.zero_valid_for.1
        ));
        out.push_str(&format!(
            "  sampled without a witness                  {}  ({})\n",
            if self.sampled_affects.0 {
                "affected"
            } else {
                "under_investigation"
            },
            self.sampled_affects.1
        ));
        out.push_str(&format!(
            "  hot from                                   {}% of sampled CPU  ({})\n",
            self.hot_share.0, self.hot_share.1
        ));
        out.push_str(&format!(
            "  gate (--fail-on)                           {}  ({})\n",
            self.fail_on
                .0
                .and_then(|f| clap::ValueEnum::to_possible_value(&f))
                .map_or("none".to_owned(), |v| v.get_name().to_owned()),
            self.fail_on.1
        ));
        out.push_str(
            "  execution evidence outranks every prior statement; then the merge rules of \
             `stella vex merge`\n",
        );
        for (author, priority) in &merge.author_priorities {
            out.push_str(&format!("  source author {author:?} priority {priority}\n"));
        }
        for (digest, priority) in &merge.document_priorities {
            out.push_str(&format!("  source document {digest} priority {priority}\n"));
        }
        out.push_str("verdicts:\n");
        for v in &a.verdicts {
            out.push_str(&format!(
                "  {} {} [{}]: {}{} — {}\n",
                v.vulnerability,
                v.binary.as_ref().map_or("(image)", |b| b.path.as_str()),
                v.component.as_ref().map_or("-", |c| c.purl.as_str()),
                v.status.label(),
                v.justification
                    .map_or(String::new(), |j| format!(" ({})", j.label())),
                v.note
            ));
        }
        let superseded = document
            .statements
            .iter()
            .filter(|s| {
                s.status_notes
                    .as_deref()
                    .is_some_and(|n| n.contains(SUPERSEDES))
            })
            .count();
        if superseded > 0 {
            out.push_str(&format!(
                "{superseded} final statement(s) superseded a prior one; each says which in its \
                 status notes\n"
            ));
        }
        out
    }
}

const ASSESS: Schema = Schema::new("assess");

/// The output bytes, or `None` when there is nothing to write (no statement in a VEX format).
fn render(
    args: &AssessArgs,
    assessment: &assess::Assessment,
    evidence_id: &Digest,
    document: &VexDocument,
    micro: &[Vec<u8>],
) -> Result<Option<Vec<u8>>, CliError> {
    let vex_format = match args.format {
        AssessFormat::Openvex => Some(VexFormat::OpenVex),
        AssessFormat::Cyclonedx => Some(VexFormat::CycloneDx),
        AssessFormat::Csaf => Some(VexFormat::Csaf),
        _ => None,
    };
    if let Some(format) = vex_format {
        if document.statements.is_empty() {
            eprintln!("no statement to write: no advisory matched a component of the image");
            return Ok(None);
        }
        return read::write(document, format)
            .map(Some)
            .map_err(CliError::kinded);
    }
    match args.format {
        AssessFormat::Json => {
            let mut value = serde_json::to_value(assessment)
                .map_err(|e| CliError::environment(anyhow!("serialising the assessment: {e}")))?;
            if let Some(o) = value.as_object_mut() {
                o.remove("schema");
                o.insert("image".to_owned(), serde_json::json!(args.image));
                o.insert(
                    "evidence".to_owned(),
                    serde_json::json!(evidence_id.to_string()),
                );
                let docs: Vec<serde_json::Value> = micro
                    .iter()
                    .filter_map(|m| serde_json::from_slice(m).ok())
                    .collect();
                if !docs.is_empty() {
                    o.insert("microWitnesses".to_owned(), serde_json::Value::Array(docs));
                }
            }
            let mut text = print::to_json(&ASSESS, &value)?;
            text.push('\n');
            Ok(Some(text.into_bytes()))
        }
        AssessFormat::Sarif => {
            let value = report::sarif(assessment, env!("CARGO_PKG_VERSION"));
            let mut text = serde_json::to_string_pretty(&value)
                .map_err(|e| CliError::environment(anyhow!("serialising SARIF: {e}")))?;
            text.push('\n');
            Ok(Some(text.into_bytes()))
        }
        _ => Ok(Some(table(assessment, document).into_bytes())),
    }
}

fn table(assessment: &assess::Assessment, document: &VexDocument) -> String {
    let mut text = String::new();
    if assessment.verdicts.is_empty() {
        text.push_str("no advisory matches a component of the image\n");
    }
    for v in &assessment.verdicts {
        let status = match v.justification {
            Some(j) => format!("{} ({})", v.status.label(), j.label()),
            None => v.status.label().to_owned(),
        };
        let binary = v.binary.as_ref().map_or("(image)", |b| b.path.as_str());
        let component = v.component.as_ref().map_or("-", |c| c.purl.as_str());
        let basis = match v.basis {
            assess::Basis::Symbols => {
                let parts: Vec<String> = v
                    .symbols
                    .iter()
                    .map(|s| format!("{} {}", s.name, s.outcome))
                    .collect();
                format!("symbols: {}", parts.join(", "))
            }
            assess::Basis::Version => "version-level".to_owned(),
            assess::Basis::Sbom => "sbom".to_owned(),
        };
        text.push_str(&format!(
            "{}\t{status}\t{binary}\t{component}\t{basis}\n",
            v.vulnerability
        ));
    }
    // Statements from prior VEX that changed a verdict are worth a line each.
    let ours: BTreeSet<&str> = assessment
        .verdicts
        .iter()
        .map(|v| v.vulnerability.as_str())
        .collect();
    for s in &document.statements {
        if !s
            .id
            .as_deref()
            .is_some_and(|i| i.starts_with(report::STATEMENT_ID_PREFIX))
            && !ours.contains(s.vulnerability.name.as_str())
        {
            text.push_str(&format!(
                "{}\t{}\t(prior VEX: {})\n",
                s.vulnerability.name,
                s.status.openvex_label(),
                s.provenance.author
            ));
        }
    }
    text
}

/// Where an assessment's documents go: the image (as given, for messages, and parsed), and
/// the key that signs them (the default key of the home when `None`).
pub(crate) struct Attach<'a> {
    pub image: &'a str,
    pub reference: &'a Reference,
    pub insecure: bool,
    pub sign_key: Option<&'a Path>,
}

/// What [`attach`] attached: the digests of the VEX, the evidence document and each
/// micro-witness (the documents, not their bundles).
#[derive(Debug, Default)]
pub(crate) struct AttachedAssessment {
    pub vex: Option<Digest>,
    pub evidence: Option<Digest>,
    pub micro_witnesses: Vec<Digest>,
}

/// Signs, logs and attaches the evidence document, each micro-witness and the VEX (OpenVEX)
/// to the image; nothing when the VEX has no statement.
pub(crate) fn attach(
    to: &Attach<'_>,
    home: &Path,
    document: &VexDocument,
    evidence: &[u8],
    (micro, sbom_id): (&[Vec<u8>], &str),
) -> Result<AttachedAssessment, CliError> {
    if document.statements.is_empty() {
        eprintln!("nothing attached: no statement");
        return Ok(AttachedAssessment::default());
    }
    let vex = read::write(document, VexFormat::OpenVex).map_err(CliError::kinded)?;
    let crate::attest::Attaching {
        store,
        subject,
        signer,
        log,
    } = crate::attest::Attaching::open(to.reference, to.insecure, to.sign_key, home, "--image")?;
    let name = to.reference.to_string();
    let err = |e| CliError::kinded(e).context(format!("--image {}", to.image));
    let evidence_attached = attached::attach_signed(
        store.as_ref(),
        &subject,
        &name,
        "assessment.json",
        media::ASSESSMENT_JSON,
        evidence,
        predicate::STELLA_ASSESSMENT,
        ASSESSMENT_KIND,
        &signer,
        log.as_deref(),
    )
    .map_err(err)?;
    // A micro-witness is about the image and about the SBOM its verdict rests on.
    let sbom: Vec<(String, Digest)> = sbom_id
        .parse::<Digest>()
        .ok()
        .map(|d| ("sbom".to_owned(), d))
        .into_iter()
        .collect();
    let mut micro_witnesses = Vec::new();
    for (i, m) in micro.iter().enumerate() {
        let one = attached::attach_signed_about(
            store.as_ref(),
            &subject,
            &name,
            &sbom,
            &format!("micro-witness-{i}.json"),
            media::MICRO_WITNESS_JSON,
            m,
            predicate::STELLA_MICRO_WITNESS,
            MICRO_WITNESS_KIND,
            &signer,
            log.as_deref(),
        )
        .map_err(err)?;
        micro_witnesses.push(one.document.digest);
    }
    let vex_attached = attached::attach_signed(
        store.as_ref(),
        &subject,
        &name,
        "assessment.openvex.json",
        media::OPENVEX_JSON,
        &vex,
        predicate::OPENVEX,
        VEX_KIND,
        &signer,
        log.as_deref(),
    )
    .map_err(err)?;
    eprintln!(
        "attached to {} ({}): VEX {} (bundle {}), evidence {} (bundle {}), {}",
        to.image,
        subject.digest,
        vex_attached.document.digest,
        vex_attached.bundle.digest,
        evidence_attached.document.digest,
        evidence_attached.bundle.digest,
        print::count(micro.len(), "micro-witness", "micro-witnesses")
    );
    Ok(AttachedAssessment {
        vex: Some(vex_attached.document.digest),
        evidence: Some(evidence_attached.document.digest),
        micro_witnesses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of two functions, as one object (what `--attach` signs) and as the array of
    /// per-function objects `stella witness --json` writes.
    fn report_forms() -> (Vec<u8>, Vec<u8>) {
        let witness = |function: &str, offset: &str, calls: u64| {
            serde_json::json!({
                "symbol": function, "function": function, "binary": "/usr/bin/app",
                "buildId": "ab12", "fileOffset": offset, "calls": calls,
                "processes": [{"pid": 7, "calls": calls}], "stacks": [],
            })
        };
        let object = serde_json::json!({
            "schema": stella_runtime::witness::SCHEMA,
            "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T01:00:00Z",
                       "sampledSeconds": 3600.0},
            "instances": [7], "lost": 0,
            "witnesses": [witness("hot", "0x1000", 42), witness("cold", "0x2000", 0)],
        });
        let array: Vec<serde_json::Value> = object["witnesses"]
            .as_array()
            .expect("witnesses")
            .iter()
            .map(|w| {
                let mut one = w.clone();
                for key in ["schema", "window", "instances", "lost"] {
                    one[key] = object[key].clone();
                }
                one
            })
            .collect();
        (
            serde_json::to_vec(&object).expect("json"),
            serde_json::to_vec(&array).expect("json"),
        )
    }

    #[test]
    fn a_profile_is_read_as_json_or_as_pprof() {
        let json = serde_json::json!({
            "schema": stella_runtime::profile::SCHEMA,
            "backend": "ebpf", "hz": 49, "target": {"kind": "all"},
            "stats": {"samples": 3, "lost": 0, "userStacksMissing": 0,
                      "kernelStacksMissing": 0, "frames": 1, "unknownFrames": 0},
            "stacks": [{"pid": 9, "comm": "app", "count": 3, "frames": [
                {"kind": "file", "buildId": "cd", "path": "/app", "fileOffset": "0x40"}]}]
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let as_json = dir.path().join("p.json");
        std::fs::write(&as_json, serde_json::to_vec(&json).expect("json")).expect("write");
        let (profile, _) = read_profile(&as_json).expect("JSON profile");
        let as_pprof = dir.path().join("p.pb.gz");
        let bytes = stella_runtime::pprof::write(&profile).expect("pprof");
        std::fs::write(&as_pprof, &bytes).expect("write");
        let (again, digest) = read_profile(&as_pprof).expect("pprof profile");
        assert_eq!(digest, Digest::sha256(&bytes).to_string());
        assert_eq!(again.stacks[0].frames, profile.stacks[0].frames);
        assert_eq!(again.stacks[0].count, 3);
        let garbage = dir.path().join("g.bin");
        std::fs::write(&garbage, [0xff_u8; 32]).expect("write");
        let err = read_profile(&garbage).expect_err("neither");
        assert!(
            format!("{:#}", err.error).contains("neither a Stella profile"),
            "{:#}",
            err.error
        );
    }

    #[test]
    fn an_observation_read_from_two_documents_counts_once() {
        let (object, array) = report_forms();
        let mut inputs = RuntimeInputs::default();
        let (reports, _) = parse_witness(&array, "file").expect("array");
        inputs.add_witnesses("file", reports);
        let (reports, _) = parse_witness(&object, "attached").expect("object");
        inputs.add_witnesses("attached", reports);
        let calls: Vec<(String, u64)> = inputs
            .witnesses
            .iter()
            .flat_map(|(_, r)| r.witnesses.iter().map(|w| (w.function.clone(), w.calls)))
            .collect();
        assert_eq!(calls, [("hot".to_owned(), 42), ("cold".to_owned(), 0)]);

        // Another window is another observation.
        let later = String::from_utf8(object)
            .expect("utf-8")
            .replace("01:00:00Z", "02:00:00Z");
        let (reports, _) = parse_witness(later.as_bytes(), "later").expect("object");
        inputs.add_witnesses("later", reports);
        assert_eq!(inputs.witnesses.len(), 4);
    }
}
