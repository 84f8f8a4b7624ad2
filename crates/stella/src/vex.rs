//! `stella vex validate | convert | merge | query | attach`: VEX documents read from files and
//! images, handed to `stella-vex`, and the results printed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use stella_core::Digest;
use stella_vex::merge::{self, MergeInput, Merged, MergedStatement, Policy, Rule, Superseded};
use stella_vex::query::{self, Query};
use stella_vex::read::{self, ReadError, ReadOptions, Warning};
use stella_vex::validate::{self, Report};
use stella_vex::{Provenance, VexFormat, VexStatement};

use crate::cli::{VexCommand, VexFormatArg, VexReadArgs, VexSources};
use crate::exit::{CliError, Outcome};
use crate::input::{Input, MAX_SIZE_FLAG};
use crate::output::{write_atomically, write_pieces, write_stdout};
use crate::print::{self, Schema};

mod attached;

pub fn run(command: VexCommand, home: &Path) -> Result<Outcome, CliError> {
    match command {
        VexCommand::Validate { sources, json } => validate_command(&sources, json, home),
        VexCommand::Convert {
            sources,
            to,
            output,
        } => {
            let to = to.ok_or_else(|| {
                CliError::input(anyhow!(
                    "the format to write: --to FORMAT or -o FORMAT[=FILE] (openvex, cyclonedx, \
                     csaf)"
                ))
            })?;
            convert(&sources, home, to, output.as_deref())
        }
        VexCommand::Merge {
            sources,
            policy,
            to,
            explain,
            issued,
            output,
        } => merge_command(
            &sources,
            home,
            policy.as_deref(),
            to,
            explain,
            issued.as_deref(),
            output.as_deref(),
        ),
        VexCommand::Query {
            sources,
            vuln,
            product,
            subcomponent,
            policy,
            json,
        } => query_command(
            &sources,
            home,
            policy.as_deref(),
            Query {
                vulnerability: vuln,
                product: product.as_deref().map(stella_vex::ProductIdentity::from_id),
                subcomponent: subcomponent
                    .as_deref()
                    .map(stella_vex::ProductIdentity::from_id),
            },
            json,
        ),
        VexCommand::Attach {
            image,
            key,
            insecure,
            file,
            read,
            json,
        } => attached::attach(home, &image, key.as_deref(), insecure, &file, &read, json),
    }
}

impl From<VexFormatArg> for VexFormat {
    fn from(f: VexFormatArg) -> Self {
        match f {
            VexFormatArg::Openvex => VexFormat::OpenVex,
            VexFormatArg::Cyclonedx => VexFormat::CycloneDx,
            VexFormatArg::Csaf => VexFormat::Csaf,
        }
    }
}

/// One document to read: its bytes and how it is named in messages.
pub struct Source {
    /// A path as given, or `<image>#<digest>` for a referrer.
    pub name: String,
    /// The document itself (for a signed referrer, the predicate).
    pub bytes: Vec<u8>,
    /// For a document that came signed: whether its signature was checked.
    pub signature: Option<attached::Signature>,
}

/// What reading needs besides each document: the SBOM's bytes and the fallback time.
struct Reading {
    sbom: Option<Vec<u8>>,
    fallback: Option<jiff::Timestamp>,
}

impl Reading {
    fn of(read: &VexReadArgs) -> Result<Self, CliError> {
        let sbom = match &read.sbom {
            Some(path) => Some(
                Input::with_limit_flag(path.clone(), MAX_SIZE_FLAG)
                    .read(read.max_size)
                    .and_then(|bytes| {
                        // An SPDX SBOM is read as the CycloneDX it converts to.
                        stella_sbom::spdx::cyclonedx_bytes(bytes, Default::default())
                            .map_err(CliError::kinded)
                    })
                    .map_err(|e| e.context("--sbom"))?,
            ),
            None => None,
        };
        let fallback = match &read.timestamp {
            Some(text) => Some(text.parse::<jiff::Timestamp>().map_err(|e| {
                CliError::input(anyhow!("--timestamp {text:?}: not an RFC 3339 time: {e}"))
            })?),
            None => None,
        };
        Ok(Reading { sbom, fallback })
    }

    fn options(&self) -> ReadOptions<'_> {
        ReadOptions {
            sbom: self.sbom.as_deref(),
            fallback_timestamp: self.fallback,
            purls: None,
        }
    }
}

fn files(paths: &[PathBuf], max_size: usize) -> Result<Vec<Source>, CliError> {
    paths
        .iter()
        .map(|p| {
            let input = Input::with_limit_flag(p.clone(), MAX_SIZE_FLAG);
            Ok(Source {
                name: input.name(),
                bytes: input.read(max_size)?,
                signature: None,
            })
        })
        .collect()
}

/// Every document the sources name: files first, in the order given, then each image's.
fn load(sources: &VexSources, home: &Path) -> Result<Vec<Source>, CliError> {
    check_sources(sources)?;
    let mut out = files(&sources.files, sources.read.max_size)?;
    out.extend(image_sources(sources, home)?);
    Ok(out)
}

/// A document to read: a file not read yet, or a document already fetched.
enum Pending<'a> {
    File(&'a Path),
    Fetched(Source),
}

impl Pending<'_> {
    /// The document's name and bytes: a file is read now.
    fn load(&self, max_size: usize) -> Result<(String, Cow<'_, [u8]>), CliError> {
        match self {
            Pending::File(path) => {
                let input = Input::with_limit_flag(path.to_path_buf(), MAX_SIZE_FLAG);
                let bytes = input.read(max_size)?;
                Ok((input.name(), Cow::Owned(bytes)))
            }
            Pending::Fetched(source) => Ok((source.name.clone(), Cow::Borrowed(&source.bytes))),
        }
    }
}

/// [`load`] with the files left to be read one by one, when they are needed: files first, in
/// the order given, then each image's documents (fetched now).
fn load_lazily<'a>(sources: &'a VexSources, home: &Path) -> Result<Vec<Pending<'a>>, CliError> {
    check_sources(sources)?;
    let mut out: Vec<Pending<'a>> = Vec::with_capacity(sources.files.len());
    for path in &sources.files {
        Input::with_limit_flag(path.clone(), MAX_SIZE_FLAG).check(sources.read.max_size)?;
        out.push(Pending::File(path.as_path()));
    }
    out.extend(
        image_sources(sources, home)?
            .into_iter()
            .map(Pending::Fetched),
    );
    Ok(out)
}

/// The documents attached to each `--image`, in the order given.
fn image_sources(sources: &VexSources, home: &Path) -> Result<Vec<Source>, CliError> {
    let mut out = Vec::new();
    for image in &sources.image {
        out.extend(attached::fetch(
            image,
            sources.key.as_deref(),
            sources.insecure,
            home,
        )?);
    }
    Ok(out)
}

/// Refuses sources that name nothing, or standard input twice.
fn check_sources(sources: &VexSources) -> Result<(), CliError> {
    if sources.files.is_empty() && sources.image.is_empty() {
        return Err(CliError::input(anyhow!(
            "no VEX documents: give FILE arguments or --image REF"
        )));
    }
    if sources
        .files
        .iter()
        .filter(|p| *p == Path::new("-"))
        .count()
        > 1
    {
        return Err(CliError::input(anyhow!(
            "standard input (-) can be read only once"
        )));
    }
    Ok(())
}

fn unreadable(name: &str, e: ReadError) -> CliError {
    CliError::kinded(e).context(name.to_owned())
}

fn warn(source: &Source, warnings: &[Warning]) {
    warn_named(&source.name, warnings);
}

fn warn_named(name: &str, warnings: &[Warning]) {
    for w in warnings {
        tracing::warn!("{name}: {} [{}]", w.message, w.rule);
    }
}

/// What signatures proved of each document that came from an image, by canonical id.
type Signatures = BTreeMap<Digest, &'static str>;
/// The name each document came as, by canonical id.
type Names = BTreeMap<Digest, String>;

/// Reads every source into merge inputs, with maps from canonical id to the name it came as
/// and, for a document from an image, what its signatures proved.
fn read_all(
    sources: &[Source],
    reading: &Reading,
) -> Result<(Vec<MergeInput>, Names, Signatures), CliError> {
    let mut inputs = Vec::with_capacity(sources.len());
    let mut names: BTreeMap<Digest, String> = BTreeMap::new();
    let mut signatures = Signatures::new();
    for source in sources {
        let read = read::read(&source.bytes, &reading.options())
            .map_err(|e| unreadable(&source.name, e))?;
        warn(source, &read.warnings);
        names
            .entry(read.canonical_id.clone())
            .or_insert_with(|| source.name.clone());
        if let Some(signature) = &source.signature {
            signatures.insert(
                read.canonical_id.clone(),
                attached::signature_word(signature),
            );
        }
        inputs.push(read.into());
    }
    Ok((inputs, names, signatures))
}

// ---------------------------------------------------------------------------------------------
// validate

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateDocument {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_source: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<ProblemOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<WarningOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct ProblemOut {
    pointer: String,
    check: &'static str,
    rule: String,
    message: String,
}

#[derive(Serialize)]
struct WarningOut {
    pointer: String,
    rule: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ValidateOutput {
    valid: bool,
    documents: Vec<ValidateDocument>,
}

const VALIDATE: Schema = Schema::new("vex.validate");

fn validate_command(sources: &VexSources, json: bool, home: &Path) -> Result<Outcome, CliError> {
    let reading = Reading::of(&sources.read)?;
    let loaded = load(sources, home)?;
    let mut documents = Vec::with_capacity(loaded.len());
    let mut first_error: Option<CliError> = None;
    let mut text = String::new();
    for source in &loaded {
        let signature = source.signature.as_ref().map(attached::signature_word);
        match validate::validate(&source.bytes, &reading.options()) {
            Ok(report) => {
                text.push_str(&render(&source.name, &report));
                documents.push(ValidateDocument {
                    file: source.name.clone(),
                    valid: report.is_valid(),
                    format: Some(report.format.as_str()),
                    schema_source: Some(report.schema.clone()),
                    problems: report
                        .problems
                        .into_iter()
                        .map(|p| ProblemOut {
                            pointer: p.pointer,
                            check: p.check.as_str(),
                            rule: p.rule,
                            message: p.message,
                        })
                        .collect(),
                    warnings: report
                        .warnings
                        .into_iter()
                        .map(|w| WarningOut {
                            pointer: w.pointer,
                            rule: w.rule,
                            message: w.message,
                        })
                        .collect(),
                    signature,
                    error: None,
                });
            }
            Err(e) => {
                let e = unreadable(&source.name, e);
                text.push_str(&format!(
                    "{}: cannot be validated: {}\n",
                    source.name,
                    print::error_line(&e.error)
                ));
                documents.push(ValidateDocument {
                    file: source.name.clone(),
                    valid: false,
                    format: None,
                    schema_source: None,
                    problems: Vec::new(),
                    warnings: Vec::new(),
                    signature,
                    error: Some(print::error_line(&e.error)),
                });
                first_error.get_or_insert(e);
            }
        }
    }
    let valid = documents.iter().all(|d| d.valid);
    if json {
        print::json(&VALIDATE, &ValidateOutput { valid, documents })?;
    } else {
        write_stdout(text.as_bytes())?;
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn render(name: &str, report: &Report) -> String {
    let mut out = format!(
        "{name}: {} ({}, {})\n",
        if report.is_valid() {
            "valid".to_owned()
        } else {
            print::count(report.problems.len(), "problem", "problems")
        },
        report.format.as_str(),
        report.schema
    );
    for p in &report.problems {
        let at = if p.pointer.is_empty() {
            "(document)"
        } else {
            &p.pointer
        };
        out.push_str(&format!("  {at} [{}] {}\n", p.rule, p.message));
    }
    for w in &report.warnings {
        out.push_str(&format!("  warning [{}] {}\n", w.rule, w.message));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// convert

fn convert(
    sources: &VexSources,
    home: &Path,
    to: VexFormatArg,
    output: Option<&Path>,
) -> Result<Outcome, CliError> {
    let reading = Reading::of(&sources.read)?;
    let mut loaded = load(sources, home)?;
    if loaded.len() != 1 {
        return Err(CliError::input(anyhow!(
            "convert takes one document and {} were given; merge several with `stella vex merge --to FORMAT`",
            loaded.len()
        )));
    }
    let source = loaded
        .pop()
        .ok_or_else(|| CliError::input(anyhow!("no document")))?;
    let read =
        read::read(&source.bytes, &reading.options()).map_err(|e| unreadable(&source.name, e))?;
    warn(&source, &read.warnings);
    let format = VexFormat::from(to);
    let bytes = match (&reading.sbom, format) {
        (Some(sbom), VexFormat::CycloneDx) => {
            stella_vex::cyclonedx::write_into(&read.document, sbom)
                .map_err(|e| CliError::kinded(e).context("--sbom"))?
        }
        _ => read::write(&read.document, format).map_err(CliError::kinded)?,
    };
    tracing::info!(
        from = read.format.as_str(),
        to = format.as_str(),
        statements = read.document.statements.len(),
        "converted"
    );
    emit(&bytes, output)
}

fn emit(bytes: &[u8], output: Option<&Path>) -> Result<Outcome, CliError> {
    match output {
        Some(path) => write_atomically(path, bytes)?,
        None => write_stdout(bytes)?,
    }
    Ok(Outcome::Success)
}

// ---------------------------------------------------------------------------------------------
// policy

/// The policy file's version marker.
const POLICY_SCHEMA: &str = "stella.vex-policy/v1";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    schema: String,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    sources: Vec<PolicySource>,
    /// How `stella assess` weighs runtime evidence (ignored by `vex merge`).
    #[serde(default)]
    runtime: Option<RuntimeSection>,
    /// The gate of `stella assess` (as --fail-on).
    #[serde(default, rename = "failOn")]
    fail_on: Option<String>,
    /// The settings of `stella score` (read and checked by `stella_policy::score`).
    #[serde(default)]
    #[allow(dead_code)]
    score: Option<serde_json::Value>,
}

/// The `runtime` section of a policy file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuntimeSection {
    /// How long after its window a witnessed zero justifies not_affected (`7d`, `12h`, ...).
    #[serde(default)]
    never_executed_valid_for: Option<String>,
    /// What a vulnerable function seen in sampled stacks but never witnessed is:
    /// `affected` (the default) or `under_investigation` (a witness must confirm).
    #[serde(default)]
    sampled_without_witness: Option<String>,
    /// CPU share (percent) from which an executed vulnerable function is hot.
    #[serde(default)]
    hot_share: Option<f64>,
}

/// What a policy file says to `stella assess` beyond the merge: each setting, when it says it.
#[derive(Debug, Default, Clone)]
pub(crate) struct AssessPolicy {
    pub never_executed_valid_for: Option<std::time::Duration>,
    pub sampled_affects: Option<bool>,
    pub hot_share: Option<f64>,
    pub fail_on: Option<crate::cli::FailOn>,
}

/// The assess settings of the policy file at `path` (none without one).
pub(crate) fn assess_policy(path: Option<&Path>) -> Result<AssessPolicy, CliError> {
    let Some(path) = path else {
        return Ok(AssessPolicy::default());
    };
    let input = Input::new(path.to_path_buf());
    let bytes = input.read(16 * 1024 * 1024)?;
    let bad = |what: String| CliError::input(anyhow!("{}: {what}", input.name()));
    let file: PolicyFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut out = AssessPolicy::default();
    if let Some(text) = file.fail_on {
        out.fail_on = Some(
            <crate::cli::FailOn as clap::ValueEnum>::from_str(&text, false).map_err(|_| {
                bad(format!(
                    "/failOn: {text:?} is not one of not_affected, fixed, under_investigation, \
                     affected"
                ))
            })?,
        );
    }
    let Some(runtime) = file.runtime else {
        return Ok(out);
    };
    if let Some(text) = runtime.never_executed_valid_for {
        out.never_executed_valid_for = Some(
            crate::input::parse_duration(&text)
                .map_err(|e| bad(format!("/runtime/neverExecutedValidFor: {e}")))?,
        );
    }
    out.sampled_affects = match runtime.sampled_without_witness.as_deref() {
        None => None,
        Some("affected") => Some(true),
        Some("under_investigation") => Some(false),
        Some(other) => {
            return Err(bad(format!(
                "/runtime/sampledWithoutWitness: {other:?} is neither \"affected\" nor \
                 \"under_investigation\" (sampled stacks never justify not_affected)"
            )));
        }
    };
    if let Some(share) = runtime.hot_share {
        if !(0.0..=100.0).contains(&share) {
            return Err(bad(format!(
                "/runtime/hotShare: {share} is not a percentage (0 to 100)"
            )));
        }
        out.hot_share = Some(share);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySource {
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    document: Option<String>,
    priority: i64,
}

/// A policy's sources named by file: the name, and the priority with the source's index.
type ByFile = BTreeMap<String, (i64, usize)>;

/// The policy in `path`, with its `file` sources (by the name a document is given as) apart:
/// a document's canonical id is known only once it is read.
fn policy_file(path: Option<&Path>) -> Result<(Policy, ByFile), CliError> {
    let mut by_file = BTreeMap::new();
    let mut policy = Policy::default();
    let Some(path) = path else {
        return Ok((policy, by_file));
    };
    let input = Input::new(path.to_path_buf());
    let bytes = input.read(16 * 1024 * 1024)?;
    let bad = |what: String| CliError::input(anyhow!("{}: {what}", input.name()));
    let file: PolicyFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if file.schema != POLICY_SCHEMA {
        return Err(bad(format!(
            "schema is {:?}; this Stella reads {POLICY_SCHEMA:?}",
            file.schema
        )));
    }
    if let Some(author) = file.author {
        policy.author = author;
    }
    for (i, s) in file.sources.into_iter().enumerate() {
        let at = format!("/sources/{i}");
        match (s.author, s.file, s.document) {
            (Some(author), None, None) => {
                policy.author_priorities.insert(author, s.priority);
            }
            (None, Some(file), None) => {
                by_file.insert(file, (s.priority, i));
            }
            (None, None, Some(document)) => {
                let digest: Digest = document
                    .parse()
                    .map_err(|_| bad(format!("{at}/document: {document:?} is not sha256:<hex>")))?;
                policy.document_priorities.insert(digest, s.priority);
            }
            _ => {
                return Err(bad(format!(
                    "{at}: name a source by exactly one of author, file, document"
                )));
            }
        }
    }
    Ok((policy, by_file))
}

/// The policy in `path`, its `file` sources resolved through the inputs' names.
pub(crate) fn policy(
    path: Option<&Path>,
    names: &BTreeMap<Digest, String>,
) -> Result<Policy, CliError> {
    let (mut policy, by_file) = policy_file(path)?;
    for (file, (priority, i)) in by_file {
        let digest = names
            .iter()
            .find(|(_, name)| **name == file)
            .map(|(d, _)| d.clone())
            .ok_or_else(|| {
                CliError::input(anyhow!(
                    "{}: /sources/{i}/file: {file:?} is not one of the documents given",
                    path.map_or_else(String::new, |p| p.display().to_string())
                ))
            })?;
        policy.document_priorities.insert(digest, priority);
    }
    Ok(policy)
}

// ---------------------------------------------------------------------------------------------
// merge

fn merge_command(
    sources: &VexSources,
    home: &Path,
    policy_path: Option<&Path>,
    to: VexFormatArg,
    explain: bool,
    issued: Option<&str>,
    output: Option<&Path>,
) -> Result<Outcome, CliError> {
    let issued = match issued {
        None => None,
        // Asked for: the only place the clock is read.
        Some("now") => Some(jiff::Timestamp::now()),
        Some(text) => Some(text.parse::<jiff::Timestamp>().map_err(|e| {
            CliError::input(anyhow!(
                "--issued {text:?}: not an RFC 3339 time or `now`: {e}"
            ))
        })?),
    };
    let reading = Reading::of(&sources.read)?;
    let pending = load_lazily(sources, home)?;
    let (policy, by_file) = policy_file(policy_path)?;
    // Documents are read (from their files too) on worker threads a few ahead of the merge,
    // which takes them in the order given: a few documents' bytes and models are held at a
    // time, each added and dropped.
    let mut merger = merge::Merger::new(&policy);
    let mut names: BTreeMap<Digest, String> = BTreeMap::new();
    // Documents about the same products share their purl checks: each distinct purl is parsed
    // once, whichever thread reads it.
    let purls = stella_vex::matching::PurlChecks::default();
    let options = ReadOptions {
        purls: Some(&purls),
        ..reading.options()
    };
    let max_size = sources.read.max_size;
    stella_core::ordered::map_in_order(
        &pending,
        |pending| {
            let (name, bytes) = pending.load(max_size)?;
            let read = read::read(&bytes, &options);
            Ok::<_, CliError>((name, read))
        },
        |loaded| {
            let (name, read) = loaded?;
            let read = read.map_err(|e| unreadable(&name, e))?;
            warn_named(&name, &read.warnings);
            if let Some(&(priority, _)) = by_file.get(&name) {
                merger.set_document_priority(&read.canonical_id, priority);
            }
            names.entry(read.canonical_id.clone()).or_insert(name);
            // Copying the winners keeps the merge compact; the document is dropped here.
            merger
                .add(&read.canonical_id, &read.document)
                .map_err(CliError::kinded)
        },
    )?;
    if let Some((file, (_, i))) = by_file
        .iter()
        .find(|(f, _)| !names.values().any(|n| n == *f))
    {
        return Err(CliError::input(anyhow!(
            "{}: /sources/{i}/file: {file:?} is not one of the documents given",
            policy_path.map_or_else(String::new, |p| p.display().to_string())
        )));
    }
    if !explain && issued.is_none() && matches!(to, VexFormatArg::Openvex) {
        // Straight to the canonical bytes: the merged document is never held whole.
        let document = merger
            .finish_canonical_openvex()
            .map_err(|e| CliError::kinded(read::WriteError::OpenVex(e.into())))?;
        write_pieces(output, |out| document.write_to(out))?;
        return Ok(Outcome::Success);
    }
    let document = if explain || issued.is_some() {
        let mut merged = merger.finish();
        if issued.is_some() {
            merged.timestamp = issued;
        }
        if explain {
            let mut text = String::new();
            for m in &merged.statements {
                text.push_str(&explain_line(m, &names));
            }
            eprint!("{text}");
        }
        tracing::info!(
            inputs = merged.inputs.len(),
            statements = merged.statements.len(),
            id = %merged.id,
            "merged"
        );
        merged.into_document()
    } else {
        merger.finish_document()
    };
    let bytes = read::write(&document, to.into()).map_err(CliError::kinded)?;
    emit(&bytes, output)
}

fn source_name(p: &Provenance, names: &BTreeMap<Digest, String>) -> String {
    let name = names
        .get(&p.document)
        .cloned()
        .unwrap_or_else(|| p.document.to_string());
    format!("{name} statement {}", p.statement_index)
}

fn subject(s: &VexStatement) -> String {
    let product = s.products.first();
    let name = |i: &stella_vex::ProductIdentity| {
        i.purl
            .clone()
            .or_else(|| i.bom_link.clone())
            .or_else(|| i.id.clone())
            .unwrap_or_else(|| "(unnamed)".to_owned())
    };
    match product {
        None => format!("{} (any product)", s.vulnerability.name),
        Some(p) => match p.subcomponents.first() {
            None => format!("{} in {}", s.vulnerability.name, name(&p.identity)),
            Some(sub) => format!(
                "{} in {} / {}",
                s.vulnerability.name,
                name(&p.identity),
                name(sub)
            ),
        },
    }
}

fn label(status: stella_vex::Status, j: Option<&stella_vex::Justification>) -> String {
    match j {
        Some(j) => format!("{} ({})", status.openvex_label(), j.label),
        None => status.openvex_label().to_owned(),
    }
}

fn explain_line(m: &MergedStatement, names: &BTreeMap<Digest, String>) -> String {
    let s = &m.statement;
    let mut out = format!(
        "{}: {} from {} (author {}, {}, priority {})\n",
        subject(s),
        label(s.status, s.justification.as_ref()),
        source_name(&s.provenance, names),
        s.provenance.author,
        s.timestamp,
        m.priority
    );
    for l in &m.superseded {
        out.push_str(&format!(
            "  over {} from {} (author {}, {}, priority {}), by {}\n",
            label(l.status, l.justification.as_ref()),
            source_name(&l.provenance, names),
            l.provenance.author,
            l.timestamp,
            l.priority,
            rule_words(l.rule)
        ));
    }
    out
}

fn rule_words(rule: Rule) -> &'static str {
    match rule {
        Rule::Priority => "priority (policy)",
        Rule::Timestamp => "timestamp (later wins)",
        Rule::Status => "status (more conservative wins)",
        Rule::SourceOrder => "source order (equal claims)",
    }
}

// ---------------------------------------------------------------------------------------------
// query

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceOut {
    file: String,
    /// For a document from an image: `verified`, `unchecked` or `not-signed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'static str>,
    canonical_id: String,
    format: &'static str,
    statement_index: usize,
    author: String,
    priority: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatementOut {
    effective: bool,
    product: Option<String>,
    subcomponent: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    impact_statement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_statement: Option<String>,
    timestamp: String,
    source: SourceOut,
    /// For a statement that is not the effective one: the rule by which it lost to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    lost_by: Option<&'static str>,
    superseded: Vec<SupersededOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SupersededOut {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<String>,
    timestamp: String,
    source: SourceOut,
    lost_by: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryOutput {
    vulnerability: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subcomponent: Option<String>,
    /// The effective status, when a product was asked about and anything speaks about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    inputs: Vec<String>,
    statements: Vec<StatementOut>,
}

const QUERY: Schema = Schema::new("vex.query");

/// How the documents a query read are named, and what their signatures proved.
struct Sources<'a> {
    names: &'a BTreeMap<Digest, String>,
    signatures: &'a Signatures,
}

fn source_out(p: &Provenance, priority: i64, sources: &Sources<'_>) -> SourceOut {
    let names = sources.names;
    SourceOut {
        signature: sources.signatures.get(&p.document).copied(),
        file: names
            .get(&p.document)
            .cloned()
            .unwrap_or_else(|| p.document.to_string()),
        canonical_id: p.document.to_string(),
        format: p.format.as_str(),
        statement_index: p.statement_index,
        author: p.author.clone(),
        priority,
    }
}

fn identity_text(i: &stella_vex::ProductIdentity) -> Option<String> {
    i.purl
        .clone()
        .or_else(|| i.bom_link.clone())
        .or_else(|| i.id.clone())
}

fn statement_out(
    m: &MergedStatement,
    effective: bool,
    lost_by: Option<Rule>,
    sources: &Sources<'_>,
) -> StatementOut {
    let s = &m.statement;
    let product = s.products.first();
    StatementOut {
        effective,
        product: product.and_then(|p| identity_text(&p.identity)),
        subcomponent: product
            .and_then(|p| p.subcomponents.first())
            .and_then(identity_text),
        status: s.status.openvex_label(),
        justification: s.justification.as_ref().map(|j| j.label.clone()),
        impact_statement: s.impact_statement.clone(),
        action_statement: s.action_statement.clone(),
        timestamp: s.timestamp.to_string(),
        source: source_out(&s.provenance, m.priority, sources),
        lost_by: lost_by.map(Rule::as_str),
        superseded: m
            .superseded
            .iter()
            .map(|l: &Superseded| SupersededOut {
                status: l.status.openvex_label(),
                justification: l.justification.as_ref().map(|j| j.label.clone()),
                timestamp: l.timestamp.to_string(),
                source: source_out(&l.provenance, l.priority, sources),
                lost_by: l.rule.as_str(),
            })
            .collect(),
    }
}

fn query_command(
    sources: &VexSources,
    home: &Path,
    policy_path: Option<&Path>,
    query: Query,
    json: bool,
) -> Result<Outcome, CliError> {
    let reading = Reading::of(&sources.read)?;
    let loaded = load(sources, home)?;
    let (inputs, names, signatures) = read_all(&loaded, &reading)?;
    let policy = policy(policy_path, &names)?;
    let merged: Merged = merge::merge(&inputs, &policy).map_err(CliError::kinded)?;
    let answer = query::answer(&merged, &query);
    let statements: Vec<StatementOut> = answer
        .statements
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let sources = Sources {
                names: &names,
                signatures: &signatures,
            };
            statement_out(
                m,
                answer.effective == Some(i),
                answer.decided_by[i],
                &sources,
            )
        })
        .collect();
    let status = answer
        .effective
        .map(|e| answer.statements[e].statement.status.openvex_label());
    let output = QueryOutput {
        vulnerability: query.vulnerability.clone(),
        product: query.product.as_ref().and_then(identity_text),
        subcomponent: query.subcomponent.as_ref().and_then(identity_text),
        status,
        inputs: merged.inputs.iter().map(ToString::to_string).collect(),
        statements,
    };
    if json {
        print::json(&QUERY, &output)?;
    } else {
        write_stdout(render_query(&output).as_bytes())?;
    }
    Ok(if output.statements.is_empty() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn render_query(q: &QueryOutput) -> String {
    let asked = match (&q.product, &q.subcomponent) {
        (Some(p), Some(s)) => format!("{} in {p} / {s}", q.vulnerability),
        (Some(p), None) => format!("{} in {p}", q.vulnerability),
        _ => q.vulnerability.clone(),
    };
    if q.statements.is_empty() {
        return format!(
            "{asked}: no statement of the {} speaks about it\n",
            print::count(q.inputs.len(), "document", "documents")
        );
    }
    let mut out = match q.status {
        Some(status) => format!("{asked}: {status}\n"),
        None => format!(
            "{asked}: {}\n",
            print::count(
                q.statements.len(),
                "effective statement",
                "effective statements"
            )
        ),
    };
    for s in &q.statements {
        let what = match &s.justification {
            Some(j) => format!("{} ({j})", s.status),
            None => s.status.to_owned(),
        };
        let on = match (&s.product, &s.subcomponent) {
            (Some(p), Some(c)) => format!(" for {p} / {c}"),
            (Some(p), None) => format!(" for {p}"),
            _ => String::new(),
        };
        let mark = if s.effective { "*" } else { "-" };
        let signed = s
            .source
            .signature
            .map_or_else(String::new, |sig| format!(", signature {sig}"));
        out.push_str(&format!(
            "  {mark} {what}{on}: {} statement {} (author {}, {}, priority {}{signed})",
            s.source.file,
            s.source.statement_index,
            s.source.author,
            s.timestamp,
            s.source.priority
        ));
        if let Some(rule) = s.lost_by {
            out.push_str(&format!("; loses by {rule}"));
        }
        out.push('\n');
        if let Some(a) = &s.action_statement {
            out.push_str(&format!("      action: {a}\n"));
        }
        if let Some(i) = &s.impact_statement {
            out.push_str(&format!("      impact: {i}\n"));
        }
        for l in &s.superseded {
            out.push_str(&format!(
                "      over {}: {} statement {} (author {}, {}), by {}\n",
                l.status,
                l.source.file,
                l.source.statement_index,
                l.source.author,
                l.timestamp,
                l.lost_by
            ));
        }
    }
    out
}
