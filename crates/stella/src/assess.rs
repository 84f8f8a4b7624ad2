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
    let Some(Assessed {
        examined,
        mut assessment,
        timestamp,
        runtime: evidence,
        ..
    }) = assess_image(
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
        },
        evidence,
        runtime_policy,
        home,
    )?
    else {
        return Ok(Outcome::Failed);
    };
    let inputs = report::ReplayInputs {
        witnesses: evidence
            .as_ref()
            .map(|r| r.witness_digests.clone())
            .unwrap_or_default(),
        profiles: evidence
            .as_ref()
            .map(|r| r.profile_digests.clone())
            .unwrap_or_default(),
        vex: priors.iter().map(|(id, _, _)| id.to_string()).collect(),
        zero_valid_for,
        sampled_affects: runtime_policy.sampled_affects,
        issued: timestamp.to_string(),
        symbol_bundle: examined
            .verdicts
            .iter()
            .find(|v| {
                v.kind == stella_evidence::verify::Scope::Symbols
                    && v.status == VerifyStatus::Verified
            })
            .map(|v| v.digest.clone()),
    };
    let micro = micro_witnesses(&mut assessment, &inputs)?;
    let (evidence_bytes, evidence_id) =
        report::evidence(&assessment).map_err(|e| CliError::environment(anyhow!("{e}")))?;
    let ours = report::vex(
        &assessment,
        &evidence_id,
        &report::VexOptions {
            author: args.author.clone(),
            timestamp,
            tooling: format!("stella {}", env!("CARGO_PKG_VERSION")),
        },
    );
    let document = if priors.is_empty() {
        ours
    } else {
        let mut merger = merge::Merger::new(&policy);
        // Evidence of execution outranks every other claim (DESIGN.md): the statements that
        // rest on it go in as a source above any the policy ranks.
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
        for (id, _, prior) in &priors {
            merger.add(id, prior).map_err(CliError::kinded)?;
        }
        with_superseded(merger.finish())
    };

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
            &args,
            home,
            &reference,
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
}

/// An image assessed: its verified evidence, the verdicts, and the time they are dated by.
pub(crate) struct Assessed {
    pub examined: stella_evidence::verify::Examined,
    pub assessment: assess::Assessment,
    pub timestamp: jiff::Timestamp,
    /// The runtime evidence used: the files given and what trusted keys attached.
    pub runtime: Option<RuntimeInputs>,
    /// The SHA-256 of each advisory document read, by `id (source)` as verdicts name them.
    pub advisories: BTreeMap<String, String>,
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
    let opened = Opened::new(
        &reference,
        asked.insecure,
        trusted_keys(asked.key, "--key", home)?,
        asked.trusted_root,
        home,
    )?;
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
    let (advisories, advisory_digests) =
        load_advisories(asked.advisories, &keys, asked.vuln, home)?;

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
        advisories: advisory_digests,
        image_digest: digest,
    }))
}

/// Largest micro-witness replayed.
const MAX_MICRO_WITNESS_BYTES: usize = 64 << 20;

/// `stella replay`: the verdict of a micro-witness made again from the inputs it names.
pub fn replay(args: ReplayArgs, home: &Path) -> Result<Outcome, CliError> {
    let input = crate::input::Input::new(args.file.clone());
    let bytes = input.read(MAX_MICRO_WITNESS_BYTES)?;
    let bad = |why: String| CliError::input(anyhow!("{}: {why}", input.name()));
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    // A score (Statement or predicate) is replayed by its own module.
    if crate::score::is_score(&value) {
        return crate::score::replay(&args, home, &input.name(), value);
    }
    // The predicate, or an in-toto Statement carrying one.
    let original = match value.get("predicate") {
        Some(p)
            if value.get("predicateType").and_then(|t| t.as_str())
                == Some(predicate::STELLA_MICRO_WITNESS) =>
        {
            p.clone()
        }
        Some(_) => return Err(bad("a Statement of another predicate type".into())),
        None => value,
    };
    stella_attest::predicates::validate(predicate::STELLA_MICRO_WITNESS, &original)
        .map_err(|e| bad(format!("not a micro-witness: {e}")))?;
    let (Some(record), Some(token)) = (
        original.get("replay"),
        original.get("replayToken").and_then(|t| t.as_str()),
    ) else {
        return Err(bad(
            "no `replay` record or `replayToken`: this micro-witness cannot be replayed".into(),
        ));
    };
    let fail = |why: String| -> Result<Outcome, CliError> {
        if args.json {
            let doc = serde_json::json!({"replayed": false, "reason": why});
            println!("{doc}");
        }
        eprintln!("{}: not replayed: {why}", input.name());
        Ok(Outcome::Failed)
    };
    let canonical = stella_core::jcs::to_canonical(record)
        .map_err(|e| bad(format!("the replay record: {e}")))?;
    if Digest::sha256(&canonical).to_string() != token {
        return fail(format!(
            "its replay token {token} is not the digest of its replay record ({}): the record \
             was changed after the verdict was made",
            Digest::sha256(&canonical)
        ));
    }
    let inputs: report::ReplayInputs = record
        .get("inputs")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| bad(format!("replay.inputs: {e}")))?
        .ok_or_else(|| bad("replay.inputs is missing".into()))?;
    let issued: jiff::Timestamp = inputs
        .issued
        .parse()
        .map_err(|e| bad(format!("replay.inputs.issued: {e}")))?;

    let runtime = read_runtime(&args.witness, &args.profile)?;
    let priors = read_priors(&args.vex)?;
    let vulnerability = original
        .get("vulnerability")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no vulnerability named".into()))?
        .to_owned();
    let path = original
        .pointer("/binary/path")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no binary path".into()))?
        .to_owned();
    let vuln = vec![vulnerability.clone()];
    let named_runtime: BTreeSet<String> = inputs
        .witnesses
        .iter()
        .chain(&inputs.profiles)
        .cloned()
        .collect();
    let Some(Assessed {
        examined,
        mut assessment,
        runtime,
        ..
    }) = assess_image(
        &Asked {
            image: &args.image,
            insecure: args.insecure,
            key: &args.key,
            trusted_root: args.trusted_root.as_deref(),
            replay: false,
            advisories: &args.advisories,
            vuln: &vuln,
            issued: Some(issued),
            quiet: true,
            attached_only: Some(&named_runtime),
        },
        runtime,
        stella_policy::runtime::Policy {
            zero_valid_for: inputs.zero_valid_for,
            sampled_affects: inputs.sampled_affects,
            ..Default::default()
        },
        home,
    )?
    else {
        return Ok(Outcome::Failed);
    };
    // Every input named must be given (as a file, or attached to the image), and nothing else.
    let given = [
        (
            "witness report",
            "--witness (or attach it)",
            runtime
                .as_ref()
                .map(|r| r.witness_digests.clone())
                .unwrap_or_default(),
            &inputs.witnesses,
        ),
        (
            "profile",
            "--profile (or attach it)",
            runtime
                .as_ref()
                .map(|r| r.profile_digests.clone())
                .unwrap_or_default(),
            &inputs.profiles,
        ),
        (
            "prior VEX",
            "--vex",
            priors.iter().map(|(id, _, _)| id.to_string()).collect(),
            &inputs.vex,
        ),
    ];
    for (what, flag, have, named) in &given {
        let have: BTreeSet<&String> = have.iter().collect();
        let named: BTreeSet<&String> = named.iter().collect();
        if let Some(missing) = named.difference(&have).next() {
            return fail(format!(
                "the verdict rests on the {what} {missing}, which was not given: pass it with \
                 {flag}"
            ));
        }
        if let Some(extra) = have.difference(&named).next() {
            return fail(format!(
                "the {what} {extra} given with {flag} is not an input of this verdict"
            ));
        }
    }

    let sbom = examined.sbom.as_ref().map(|s| s.canonical_id.clone());
    let recorded_sbom = record.get("sbom").and_then(|s| s.as_str());
    if sbom.as_deref() != recorded_sbom {
        return fail(format!(
            "the verdict was made on SBOM {}, {} holds {}",
            recorded_sbom.unwrap_or("?"),
            args.image,
            sbom.as_deref().unwrap_or("none that verifies")
        ));
    }
    let again = micro_witnesses(&mut assessment, &inputs)?;
    let mine = again.iter().find_map(|bytes| {
        let doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        (doc["vulnerability"] == vulnerability.as_str() && doc["binary"]["path"] == path.as_str())
            .then_some((bytes, doc))
    });
    let Some((bytes, doc)) = mine else {
        return fail(format!(
            "the assessment made again has no runtime verdict on {vulnerability} in {path}"
        ));
    };
    let expected = stella_core::jcs::to_canonical(&original)
        .map_err(|e| bad(format!("canonical form: {e}")))?;
    if *bytes != expected {
        let field = first_difference(&original, &doc);
        return fail(format!(
            "the verdict made again differs from the original at {field}"
        ));
    }
    let id = Digest::sha256(bytes);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"replayed": true, "microWitness": id.to_string(), "token": token})
        );
    }
    eprintln!(
        "{}: replayed {vulnerability} in {path}: the same bytes ({id})",
        input.name()
    );
    Ok(Outcome::Success)
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
) -> Result<(), CliError> {
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
    let store = crate::oci::open_store_for_writing(&reference, insecure)?;
    let err = |e| CliError::kinded(e).context(format!("--attach {image}"));
    let subject = store
        .get_manifest(reference.target())
        .map_err(|e| CliError::kinded(e).context(format!("--attach {image}")))?;
    let (signer, created) = crate::attest::scan_key(sign_key, home)?;
    if created {
        eprintln!(
            "created the default signing key in {}",
            home.join("keys").display()
        );
    }
    let log = crate::attest::log_backend(home, false, None)?;
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
    Ok(())
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
                    self.witnesses
                        .extend(reports.into_iter().map(|r| (name.clone(), r)));
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
        // A frame is (re)named when it lies in a binary of the image, or has no name and its
        // stack holds a frame of the image.
        let renamed = |stack: &Stack| -> Option<Vec<bool>> {
            let mine: Vec<bool> = stack.frames.iter().map(is_ours).collect();
            mine.contains(&true).then(|| {
                stack
                    .frames
                    .iter()
                    .zip(mine)
                    .map(|(f, m)| m || f.symbol.is_none())
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
                None => out.extend(stack.frames.iter().map(|f| f.symbol.as_ref())),
                Some(renamed) => out.extend(stack.frames.iter().zip(renamed).map(|(f, r)| {
                    if r {
                        at.get(&f.location)
                            .and_then(|&i| located[i].symbol.as_ref())
                    } else {
                        f.symbol.as_ref()
                    }
                })),
            },
        ))
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
    let mut w = Vec::new();
    let mut witness_digests = Vec::new();
    for p in witnesses {
        let (reports, digest) = read_witness(p)?;
        witness_digests.push(digest);
        for report in reports {
            w.push((p.display().to_string(), report));
        }
    }
    let mut profile_digests = Vec::new();
    let mut read_profiles = Vec::new();
    for p in profiles {
        let (profile, digest): (stella_runtime::profile::Profile, String) =
            read_json(p, stella_runtime::profile::SCHEMA, "profile")?;
        profile_digests.push(digest);
        read_profiles.push((p.display().to_string(), profile));
    }
    Ok(Some(RuntimeInputs {
        witnesses: w,
        profiles: read_profiles,
        witness_digests,
        profile_digests,
    }))
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

/// A JSON document of `schema`, refused by name when it is another.
fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    schema: &str,
    what: &str,
) -> Result<(T, String), CliError> {
    let input = crate::input::Input::new(path.to_path_buf());
    let bytes = input.read(MAX_RUNTIME_BYTES)?;
    parse_json(&bytes, &input.name(), schema, what)
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
/// source; an id seen twice is kept once (the first source wins). With them, the SHA-256 of
/// each one's document by `id (source)`.
fn load_advisories(
    sources: &[String],
    keys: &BTreeSet<(String, String)>,
    asked: &[String],
    home: &Path,
) -> Result<(Vec<Advisory>, BTreeMap<String, String>), CliError> {
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
    let mut digests = BTreeMap::new();
    for row in rows {
        if seen.insert(row.id.clone()) {
            digests.insert(
                format!("{} ({})", row.id, row.source),
                Digest::sha256(row.document.as_bytes()).to_string(),
            );
            out.push(advisory_of(row)?);
        }
    }
    if out.is_empty() && sources.iter().all(|s| !s.is_empty() && !is_database_url(s)) {
        return Err(CliError::input(anyhow!(
            "--advisories {}: no advisory files found",
            sources.join(" ")
        )));
    }
    tracing::info!(advisories = out.len(), "advisories that can match");
    Ok((out, digests))
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
        let line = v
            .note
            .split_once("VEX → affected.")
            .map_or(v.note.as_str(), |(head, _)| head);
        eprintln!("  {line}VEX → affected.");
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

fn attach(
    args: &AssessArgs,
    home: &Path,
    reference: &Reference,
    document: &VexDocument,
    evidence: &[u8],
    (micro, sbom_id): (&[Vec<u8>], &str),
) -> Result<(), CliError> {
    if document.statements.is_empty() {
        eprintln!("nothing attached: no statement");
        return Ok(());
    }
    let vex = read::write(document, VexFormat::OpenVex).map_err(CliError::kinded)?;
    let store = crate::oci::open_store_for_writing(reference, args.insecure)?;
    let subject = store
        .get_manifest(reference.target())
        .map_err(|e| CliError::kinded(e).context(format!("--image {}", args.image)))?;
    let (signer, created) = crate::attest::scan_key(args.sign_key.as_deref(), home)?;
    if created {
        eprintln!(
            "created the default signing key in {}",
            home.join("keys").display()
        );
    }
    let log = crate::attest::log_backend(home, false, None)?;
    let name = reference.to_string();
    let err = |e| CliError::kinded(e).context(format!("--image {}", args.image));
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
    for (i, m) in micro.iter().enumerate() {
        attached::attach_signed_about(
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
        args.image,
        subject.digest,
        vex_attached.document.digest,
        vex_attached.bundle.digest,
        evidence_attached.document.digest,
        evidence_attached.bundle.digest,
        print::count(micro.len(), "micro-witness", "micro-witnesses")
    );
    Ok(())
}
