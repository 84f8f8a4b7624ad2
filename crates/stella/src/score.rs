//! `stella score` and the score branch of `stella replay`: the command line of
//! `stella_policy::score`. The image is assessed as `stella assess` does (the same evidence
//! inputs, [`crate::assess::assess_image`]), each verdict is placed in SSVC's deployer decision
//! table by the rules of `stella_policy::score`, and the result is written as an in-toto
//! Statement (predicate `https://stella-ops.org/attestations/score/v1`, subjects the image and
//! the SBOM's canonical_id), checked against its schema; `--attach` signs, logs and attaches it.
//!
//! Replay reads the `replay` record the predicate carries (seed, settings, runtime policy, time,
//! runtime evidence by digest), assesses the image again with it and compares the predicate
//! made again with the original byte for byte (RFC 8785 forms).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use stella_attest::statement::{Statement, Subject};
use stella_core::Digest;
use stella_core::media::predicate;
use stella_evidence::attached;
use stella_oci::Reference;
use stella_policy::report::ReplayInputs;
use stella_policy::score::{self, Document, Settings};

use crate::assess::{
    Again, Asked, Assessed, Recorded, Replaying, RuntimeInputs, Source, assess_again, assess_image,
    micro_witnesses, signed_again,
};
use crate::cli::{ReplayArgs, ScoreArgs};
use crate::exit::{CliError, Outcome};
use crate::output::{write_atomically, write_stdout};

/// Largest policy file read.
const MAX_POLICY_BYTES: usize = 16 << 20;

/// What the score's `replay` record holds: everything but the files named by digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Record {
    /// `name/version` of the algorithm.
    algorithm: String,
    seed: u64,
    /// The SBOM's canonical_id.
    sbom: String,
    /// The vulnerabilities asked about (`--vuln`).
    vuln: Vec<String>,
    /// The policy file's digest, when one was given.
    policy: Option<String>,
    /// The effective score settings.
    settings: Settings,
    /// The runtime evidence by digest, the runtime policy and the time.
    runtime: ReplayInputs,
    /// The advisories read, as `id (source)`.
    advisories: Vec<String>,
    /// The SHA-256 of each advisory document read: where a replay finds them (the advisory
    /// database, --advisories, or an auditor's pack).
    advisory_documents: Vec<String>,
}

/// A score made: the predicate and its canonical bytes, and the image's manifest digest.
struct Made {
    predicate: serde_json::Value,
    bytes: Vec<u8>,
    sbom: String,
    image_digest: String,
}

pub fn run(args: ScoreArgs, home: &Path) -> Result<Outcome, CliError> {
    let (policy_digest, settings, file) = match args.policy.as_deref() {
        None => (None, Settings::default(), Default::default()),
        Some(path) => {
            let input = crate::input::Input::new(path.to_path_buf());
            let bytes = input.read(MAX_POLICY_BYTES)?;
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| CliError::input(anyhow!("{}: not JSON: {e}", input.name())))?;
            let settings = Settings::from_policy(&value)
                .map_err(|e| CliError::input(anyhow!("{}: {e}", input.name())))?;
            let file = crate::vex::assess_policy(Some(path))?;
            (Some(Digest::sha256(&bytes).to_string()), settings, file)
        }
    };
    let defaults = stella_policy::runtime::Policy::default();
    let zero_valid_for = file
        .never_executed_valid_for
        .map_or(defaults.zero_valid_for, |d| {
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
        });
    let runtime_policy = stella_policy::runtime::Policy {
        zero_valid_for,
        hot_share: file.hot_share.unwrap_or(defaults.hot_share),
        sampled_affects: file.sampled_affects.unwrap_or(defaults.sampled_affects),
    };
    let runtime = crate::assess::read_runtime(&args.witness, &args.profile)?;
    let vex = priors(&args.vex)?;
    let asked = Asked {
        image: &args.image,
        insecure: args.insecure,
        key: &args.key,
        trusted_root: args.trusted_root.as_deref(),
        replay: false,
        advisories: &args.advisories,
        vuln: &args.vuln,
        issued: None,
        quiet: true,
        attached_only: None,
        advisory_documents: None,
        tiles: None,
    };
    let Some(made) = make(
        &asked,
        runtime,
        runtime_policy,
        home,
        &vex,
        (args.seed, policy_digest, settings),
    )?
    else {
        return Ok(Outcome::Failed);
    };
    summary(&args.image, &made.predicate);
    let statement = statement(&made, &args.image)?;
    let statement_bytes = stella_core::jcs::to_canonical(&statement)
        .map_err(|e| CliError::environment(anyhow!("the score's statement: {e}")))?;
    match &args.output {
        Some(path) => write_atomically(path, &statement_bytes)?,
        None if args.json => write_stdout(&statement_bytes)?,
        None => write_stdout(table(&made.predicate).as_bytes())?,
    }
    if args.attach {
        attach(&args, home, &made)?;
    }
    Ok(Outcome::Success)
}

/// Assesses the image and scores it; `None` when its evidence does not verify.
fn make(
    asked: &Asked<'_>,
    runtime: Option<RuntimeInputs>,
    runtime_policy: stella_policy::runtime::Policy,
    home: &Path,
    vex: &[(String, stella_vex::VexDocument)],
    knobs: (u64, Option<String>, Settings),
) -> Result<Option<Made>, CliError> {
    let Some(Assessed {
        examined,
        assessment,
        timestamp,
        runtime,
        advisory_documents,
        image_digest,
    }) = assess_image(asked, runtime, runtime_policy, home)?
    else {
        return Ok(None);
    };
    let inputs = ReplayInputs {
        witnesses: runtime
            .as_ref()
            .map(|r| r.witness_digests().to_vec())
            .unwrap_or_default(),
        profiles: runtime
            .as_ref()
            .map(|r| r.profile_digests().to_vec())
            .unwrap_or_default(),
        vex: vex.iter().map(|(d, _)| d.clone()).collect(),
        zero_valid_for: runtime_policy.zero_valid_for,
        sampled_affects: runtime_policy.sampled_affects,
        issued: timestamp.to_string(),
        symbol_bundle: examined
            .verdicts
            .iter()
            .find(|v| {
                v.kind == stella_evidence::verify::Scope::Symbols
                    && v.status == stella_evidence::verify::Status::Verified
            })
            .map(|v| v.digest.clone()),
        advisory_documents: advisory_documents
            .into_iter()
            .map(|(label, d)| (label, d.digest))
            .collect(),
    };
    score_of(assessment, inputs, image_digest, vex, knobs, asked.vuln).map(Some)
}

/// The score of an assessment made from `inputs` (the runtime evidence by digest, the runtime
/// policy, the time, the advisory documents read) with the prior VEX `vex` and the seed, the
/// policy file's digest and the settings.
fn score_of(
    mut assessment: stella_policy::assess::Assessment,
    inputs: ReplayInputs,
    image_digest: String,
    vex: &[(String, stella_vex::VexDocument)],
    (seed, policy, settings): (u64, Option<String>, Settings),
    vuln: &[String],
) -> Result<Made, CliError> {
    // The micro-witnesses name each runtime verdict's evidence; the score cites them.
    micro_witnesses(&mut assessment, &inputs)?;
    let mut documents: Vec<Document> = inputs
        .witnesses
        .iter()
        .map(|d| Document::new("witness-report", d.clone()))
        .chain(
            inputs
                .profiles
                .iter()
                .map(|d| Document::new("profile", d.clone())),
        )
        .collect();
    documents.sort();
    let advisories = inputs.advisory_documents.clone();
    let record = Record {
        algorithm: format!("{}/{}", score::ALGORITHM, score::ALGORITHM_VERSION),
        seed,
        sbom: assessment.sbom.clone(),
        vuln: vuln.to_vec(),
        policy: policy.clone(),
        settings: settings.clone(),
        advisories: advisories.keys().cloned().collect(),
        advisory_documents: advisories
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        runtime: inputs,
    };
    let replay = serde_json::to_value(&record)
        .map_err(|e| CliError::environment(anyhow!("the replay record: {e}")))?;
    let predicate = score::predicate(&score::Input {
        assessment: &assessment,
        settings: &settings,
        policy: policy.as_deref(),
        advisories: &advisories,
        runtime: &documents,
        vex,
        seed,
        replay,
    })
    .map_err(|e| CliError::environment(anyhow!("{e}")))?;
    stella_attest::predicates::validate(predicate::STELLA_SCORE, &predicate)
        .map_err(|e| CliError::environment(anyhow!("the score breaks its schema: {e}")))?;
    let bytes = stella_core::jcs::to_canonical(&predicate)
        .map_err(|e| CliError::environment(anyhow!("the score: {e}")))?;
    Ok(Made {
        predicate,
        bytes,
        sbom: assessment.sbom,
        image_digest,
    })
}

/// Each prior VEX document, by canonical id, sorted.
fn priors(
    paths: &[std::path::PathBuf],
) -> Result<Vec<(String, stella_vex::VexDocument)>, CliError> {
    let mut out: Vec<(String, stella_vex::VexDocument)> = crate::assess::read_priors(paths)?
        .into_iter()
        .map(|(id, _, doc)| (id.to_string(), doc))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// The Statement: about the image (by manifest digest) and the SBOM (by canonical_id), as a
/// micro-witness is.
fn statement(made: &Made, image: &str) -> Result<Statement, CliError> {
    let bad = |e: &dyn std::fmt::Display| CliError::environment(anyhow!("the score: {e}"));
    let image_digest: Digest = made.image_digest.parse().map_err(|e| bad(&e))?;
    let sbom: Digest = made.sbom.parse().map_err(|e| bad(&e))?;
    Statement::new(
        vec![
            Subject::new(image, &image_digest),
            Subject::new("sbom", &sbom),
        ],
        predicate::STELLA_SCORE,
        made.predicate.clone(),
    )
    .map_err(|e| bad(&e))
}

fn summary(image: &str, p: &serde_json::Value) {
    eprintln!(
        "{image}: score {} ({} verdicts; outcomes {}), seed {}, replay token {}",
        p["score"],
        p["vulnerabilities"].as_array().map_or(0, Vec::len),
        p["outcomes"],
        p["inputs"]["seed"],
        p["replayToken"].as_str().unwrap_or("?")
    );
}

fn table(p: &serde_json::Value) -> String {
    let mut out = String::new();
    for v in p["vulnerabilities"].as_array().into_iter().flatten() {
        let points: Vec<String> = v["decisionPoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "{}:{}",
                    d["id"].as_str().unwrap_or("?"),
                    d["value"].as_str().unwrap_or("?")
                )
            })
            .collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}{}\n",
            v["vulnerability"].as_str().unwrap_or("?"),
            v["binary"].as_str().unwrap_or("(image)"),
            v["score"],
            v["outcome"]["label"].as_str().unwrap_or("?"),
            points.join(" "),
            if v["applicable"] == false {
                " (not applicable)"
            } else {
                ""
            }
        ));
    }
    out.push_str(&format!("score\t{}\n", p["score"]));
    out
}

fn attach(args: &ScoreArgs, home: &Path, made: &Made) -> Result<(), CliError> {
    let reference = Reference::parse(&args.image).map_err(CliError::kinded)?;
    let err = |e| CliError::kinded(e).context(format!("--attach {}", args.image));
    let crate::attest::Attaching {
        store,
        subject,
        signer,
        log,
    } = crate::attest::Attaching::open(
        &reference,
        args.insecure,
        args.sign_key.as_deref(),
        home,
        "--image",
    )?;
    let sbom: Digest = made
        .sbom
        .parse()
        .map_err(|e| CliError::environment(anyhow!("the SBOM's canonical_id: {e}")))?;
    let attached = attached::attach_signed_about(
        store.as_ref(),
        &subject,
        &reference.to_string(),
        &[("sbom".to_owned(), sbom)],
        "score.json",
        stella_core::media::SCORE_JSON,
        &made.bytes,
        predicate::STELLA_SCORE,
        stella_evidence::verify::claims::SCORE_KIND,
        &signer,
        log.as_deref(),
    )
    .map_err(err)?;
    eprintln!(
        "attached to {} ({}): score {} (bundle {})",
        args.image, subject.digest, attached.document.digest, attached.bundle.digest
    );
    Ok(())
}

/// True when `value` is a score: a Statement of the score type, or a predicate made by this
/// algorithm.
pub(crate) fn is_score(value: &serde_json::Value) -> bool {
    match value.get("predicateType").and_then(|t| t.as_str()) {
        Some(t) => t == predicate::STELLA_SCORE,
        None => value.pointer("/algorithm/name").and_then(|n| n.as_str()) == Some(score::ALGORITHM),
    }
}

/// `stella replay` of a score (`value`, the predicate or a Statement carrying it): the score
/// made again from exactly the inputs its replay record names, compared byte for byte, and
/// with --sign-key the envelope signed again.
pub(crate) fn replay(
    args: &ReplayArgs,
    r: &Replaying<'_>,
    source: &Source,
    value: &serde_json::Value,
    referrer: Option<&str>,
) -> Result<Outcome, CliError> {
    let original = value.get("predicate").unwrap_or(value);
    stella_attest::predicates::validate(predicate::STELLA_SCORE, original)
        .map_err(|e| r.bad(format!("not a score: {e}")))?;
    let (Some(record_value), Some(token)) = (
        original.get("replay"),
        original.get("replayToken").and_then(|t| t.as_str()),
    ) else {
        return Err(r.bad("no `replay` record or `replayToken`: this score cannot be replayed"));
    };
    if let Err(why) = crate::assess::token_holds(record_value, token) {
        return r.fail(why);
    }
    let record: Record =
        serde_json::from_value(record_value.clone()).map_err(|e| r.bad(format!("/replay: {e}")))?;
    let expected_algorithm = format!("{}/{}", score::ALGORITHM, score::ALGORITHM_VERSION);
    if record.algorithm != expected_algorithm {
        return r.fail(format!(
            "made by {}, this is {expected_algorithm}",
            record.algorithm
        ));
    }
    let issued: jiff::Timestamp = record
        .runtime
        .issued
        .parse()
        .map_err(|e| r.bad(format!("/replay/runtime/issued: {e}")))?;
    let recorded = Recorded {
        record: record_value,
        token,
        inputs: record.runtime.clone(),
        issued,
        advisory_documents: Some(record.advisory_documents.iter().cloned().collect()),
    };
    let Again {
        examined,
        assessment,
        inputs,
        priors,
        image_digest,
    } = match assess_again(args, source, &recorded, &record.vuln, None)? {
        Ok(again) => again,
        Err(None) => return Ok(Outcome::Failed),
        Err(Some(why)) => return r.fail(why),
    };
    // The prior VEX the score names: given as files, or attached by a trusted key.
    let mut vex: Vec<(String, stella_vex::VexDocument)> = priors
        .into_iter()
        .chain(crate::assess::attached_priors(&examined, &inputs.vex))
        .map(|(id, _, doc)| (id.to_string(), doc))
        .collect();
    vex.sort_by(|a, b| a.0.cmp(&b.0));
    vex.dedup_by(|a, b| a.0 == b.0);
    let made = score_of(
        assessment,
        inputs,
        image_digest,
        &vex,
        (record.seed, record.policy.clone(), record.settings.clone()),
        &record.vuln,
    )?;
    let expected = stella_core::jcs::to_canonical(original)
        .map_err(|e| r.bad(format!("canonical form: {e}")))?;
    if made.bytes != expected {
        return r.fail(format!(
            "the score made again differs from the original at {}",
            crate::assess::first_difference(original, &made.predicate)
        ));
    }
    let id = Digest::sha256(&made.bytes);
    let signed = match signed_again(
        args,
        source,
        referrer,
        (predicate::STELLA_SCORE, &made.bytes),
        &examined,
    )? {
        Ok(signed) => signed,
        Err(why) => return r.fail(why),
    };
    r.replayed(
        serde_json::json!({"score": id.to_string(), "token": token}),
        &format!(
            "replayed the score of {}: the same bytes ({id})",
            source.image
        ),
        signed,
    );
    Ok(Outcome::Success)
}
