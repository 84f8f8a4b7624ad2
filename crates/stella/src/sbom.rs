//! `stella sbom canon | id | validate | convert`.

use std::path::Path;

use serde::Serialize;
use stella_core::jcs::{self, Limits};
use stella_sbom::validate::{self, Report, SchemaSource};
use stella_sbom::{SbomDocument, SbomError};

use crate::cli::{ReadArgs, SbomCommand};
use crate::exit::{CliError, Outcome};
use crate::input::Input;
use crate::output::{write_atomically, write_stdout};
use crate::print::{self, Schema};

pub fn run(command: SbomCommand) -> Result<Outcome, CliError> {
    match command {
        SbomCommand::Canon { read, any_json } => canon(&read, any_json),
        SbomCommand::Id {
            read,
            content,
            any_json,
            json,
        } => id(&read, content, any_json, json),
        SbomCommand::Validate {
            read,
            schema_dir,
            json,
        } => validate_command(&read, schema_dir.as_deref(), json),
        SbomCommand::Convert { read, output, to } => convert(&read, output.as_deref(), to),
    }
}

fn limits(read: &ReadArgs) -> Limits {
    Limits {
        max_bytes: read.max_size,
        ..Limits::default()
    }
}

/// An error about the input, prefixed with its name; the exit code comes from the error's kind
/// (2 for anything wrong with the document itself).
fn bad(input: &Input, error: SbomError) -> CliError {
    CliError::kinded(error).context(input.name())
}

fn canon(read: &ReadArgs, any_json: bool) -> Result<Outcome, CliError> {
    let input = Input::with_limit_flag(read.file.clone(), crate::input::MAX_SIZE_FLAG);
    let bytes = input.read(read.max_size)?;
    let canonical = if any_json {
        stella_sbom::read_any_json(&bytes, limits(read))
            .map_err(|e| bad(&input, e))?
            .to_canonical()
    } else {
        SbomDocument::read(&bytes, limits(read))
            .map_err(|e| bad(&input, e))?
            .canonical_bytes()
    };
    write_stdout(&canonical)?;
    Ok(Outcome::Success)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdOutput {
    file: String,
    canonical_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec_version: Option<String>,
}

fn id(read: &ReadArgs, content: bool, any_json: bool, json: bool) -> Result<Outcome, CliError> {
    let input = Input::with_limit_flag(read.file.clone(), crate::input::MAX_SIZE_FLAG);
    let bytes = input.read(read.max_size)?;
    let output = if any_json {
        let value = stella_sbom::read_any_json(&bytes, limits(read)).map_err(|e| bad(&input, e))?;
        IdOutput {
            file: input.name(),
            canonical_id: stella_core::Digest::sha256(&value.to_canonical()).to_string(),
            content_id: None,
            spec_version: None,
        }
    } else {
        let doc = SbomDocument::read(&bytes, limits(read)).map_err(|e| bad(&input, e))?;
        IdOutput {
            file: input.name(),
            canonical_id: doc.canonical_id().to_string(),
            // Only computed when it is shown: it costs a second canonical write.
            content_id: (content || json).then(|| doc.content_id().to_string()),
            spec_version: Some(doc.spec_version().to_string()),
        }
    };
    tracing::info!(file = %output.file, id = %output.canonical_id, "canonical id");
    if json {
        return print::json(&Schema::new("sbom.id"), &output).map(|()| Outcome::Success);
    }
    let shown = match (content, &output.content_id) {
        (true, Some(content_id)) => content_id,
        _ => &output.canonical_id,
    };
    write_stdout(format!("{shown}\n").as_bytes())?;
    Ok(Outcome::Success)
}

#[derive(Serialize)]
struct ValidateOutput<'a> {
    file: String,
    valid: bool,
    #[serde(flatten)]
    report: &'a Report,
}

/// A document that cannot be validated at all (not JSON, not CycloneDX), in the report's shape.
#[derive(Serialize)]
struct UnreadableOutput {
    file: String,
    valid: bool,
    error: UnreadableError,
}

#[derive(Serialize)]
struct UnreadableError {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<usize>,
}

fn validate_command(
    read: &ReadArgs,
    schema_dir: Option<&Path>,
    json: bool,
) -> Result<Outcome, CliError> {
    let input = Input::with_limit_flag(read.file.clone(), crate::input::MAX_SIZE_FLAG);
    let bytes = input.read(read.max_size)?;
    // Any JSON document gets a report: one that is not CycloneDX is an invalid document (exit 1).
    // Only bytes that are not JSON, or a CycloneDX version with no schema, cannot be judged.
    let report = stella_sbom::read_any_json(&bytes, limits(read))
        .and_then(|value| match stella_sbom::spdx::detect(&value) {
            Some(version) => Err(SbomError::IsSpdx { version }),
            None => Ok(value),
        })
        .and_then(|value| validate::validate_value(&value, schema_dir));
    let report = match report {
        Ok(report) => report,
        Err(e @ (SbomError::Schema { .. } | SbomError::Open(_))) => {
            return Err(CliError::kinded(e).context("--schema-dir"));
        }
        Err(e) => {
            if json {
                print::json(&VALIDATE, &unreadable(&input, &e))?;
            }
            return Err(bad(&input, e));
        }
    };
    if json {
        print::json(
            &VALIDATE,
            &ValidateOutput {
                file: input.name(),
                valid: report.is_valid(),
                report: &report,
            },
        )?;
    } else {
        write_stdout(render(&input, &report).as_bytes())?;
    }
    Ok(if report.is_valid() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `stella sbom validate --json`.
const VALIDATE: Schema = Schema::new("sbom.validate");

/// The JSON answer for a document that cannot be validated at all.
fn unreadable(input: &Input, e: &SbomError) -> UnreadableOutput {
    let location = match e {
        SbomError::Json(j) => j.location().cloned(),
        _ => None,
    };
    let pointer = match e {
        SbomError::UnsupportedSpecVersion { .. } => Some("/specVersion".to_owned()),
        _ => location.as_ref().map(|l| l.pointer.clone()),
    };
    UnreadableOutput {
        file: input.name(),
        valid: false,
        error: UnreadableError {
            message: e.to_string(),
            pointer,
            offset: location.and_then(|l| l.offset),
        },
    }
}

fn render(input: &Input, report: &Report) -> String {
    let checks = match &report.schema {
        SchemaSource::Embedded(version) => {
            format!("official CycloneDX {version} schema, embedded, and semantic checks")
        }
        other => format!("official schema {other} and semantic checks"),
    };
    let what = match &report.spec_version {
        Some(version) => format!("CycloneDX {version}"),
        None => "CycloneDX document".to_owned(),
    };
    if report.is_valid() {
        return format!("{}: valid {what} ({checks})\n", input.name());
    }
    let n = report.problems.len();
    let mut out = format!(
        "{}: invalid {what}: {n} problem{} ({checks})\n",
        input.name(),
        if n == 1 { "" } else { "s" }
    );
    for p in &report.problems {
        let pointer = if p.pointer.is_empty() {
            "(root)"
        } else {
            &p.pointer
        };
        let check = serde_json::to_value(p.check)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!("  {pointer}: {} [{check}]\n", p.message));
    }
    out
}

/// What `stella sbom convert --to` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertTo {
    /// CycloneDX 1.7 JSON.
    #[value(alias = "cyclonedx-json")]
    Cyclonedx,
    /// SPDX 2.3 JSON.
    #[value(alias = "spdx-json")]
    Spdx,
}

/// `stella sbom convert --help`, after the options.
pub const CONVERT_HELP: &str = "\
The input's format is recognised: CycloneDX 1.4-1.7 (bomFormat), SPDX 2.2/2.3 JSON (spdxVersion) \
or SPDX 3.0 JSON-LD (an @context naming spdx.org/rdf/3.0 and an @graph of elements).

CycloneDX in: every member is kept; the version marker and $schema change, and a legacy \
metadata.tools array (CycloneDX <= 1.4) becomes tool components.
SPDX in: packages and files become components (bom-ref = SPDX id), relationships the dependency \
graph (cycles kept), what the document describes metadata.component; whatever has no CycloneDX \
field is kept as a property named spdx:<member>.
--to spdx: SPDX 2.3 JSON, each binary's FuncProof an external reference (OTHER \
stella-funcproof urn:stella:funcproof:sha256:...) and, when its SHA-1 is known, a package \
verification code over its file; CycloneDX properties as annotations; documentNamespace from the \
CycloneDX document's canonical id.
The output is RFC 8785 canonical JSON.

Examples:
  stella sbom convert old-bom.json -o bom-1.7.json
  stella sbom convert npm.spdx.json -o bom.cdx.json
  stella sbom convert bom.json --to spdx -o bom.spdx.json";

fn convert(read: &ReadArgs, output: Option<&Path>, to: ConvertTo) -> Result<Outcome, CliError> {
    let input = Input::with_limit_flag(read.file.clone(), crate::input::MAX_SIZE_FLAG);
    let bytes = input.read(read.max_size)?;
    let parsed = stella_sbom::read_any_json(&bytes, limits(read)).map_err(|e| bad(&input, e))?;
    let value = match stella_sbom::spdx::detect(&parsed) {
        Some(version) => {
            tracing::info!(file = %input.name(), %version, "read as SPDX");
            stella_sbom::spdx::value_to_cyclonedx(&parsed, Default::default())
                .map_err(|e| bad(&input, e))?
        }
        None => {
            let doc = SbomDocument::from_value(parsed).map_err(|e| bad(&input, e))?;
            let mut bom = doc.to_model().map_err(|e| bad(&input, e))?;
            bom.upgrade_to_written_version();
            serde_json::to_value(&bom).map_err(|e| CliError::input(anyhow::anyhow!(e)))?
        }
    };
    let value = match to {
        ConvertTo::Cyclonedx => value,
        ConvertTo::Spdx => stella_sbom::spdx::to_spdx23(&value).map_err(|e| bad(&input, e))?,
    };
    let canonical = jcs::to_canonical(&value).map_err(|e| bad(&input, SbomError::Json(e)))?;
    match output {
        None => write_stdout(&canonical)?,
        Some(path) => write_atomically(path, &canonical)?,
    }
    Ok(Outcome::Success)
}
