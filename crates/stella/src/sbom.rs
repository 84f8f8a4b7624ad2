//! `stella sbom canon | id | validate | convert`.

use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;
use stella_core::jcs::{self, Limits};
use stella_sbom::validate::{self, OfficialSchema, Report};
use stella_sbom::{SbomDocument, SbomError};

use crate::cli::{ReadArgs, SbomCommand};
use crate::exit::{CliError, Outcome};
use crate::input::Input;
use crate::output::{print_json, write_atomically, write_stdout};

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
        SbomCommand::Convert { read, output } => convert(&read, output.as_deref()),
    }
}

fn limits(read: &ReadArgs) -> Limits {
    Limits {
        max_bytes: read.max_size,
        ..Limits::default()
    }
}

/// Reading errors are the user's input: exit 2, prefixed with the input's name.
fn bad(input: &Input, error: SbomError) -> CliError {
    CliError::input(anyhow!(error)).context(input.name())
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
        return print_json(&output).map(|()| Outcome::Success);
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
    let doc = match SbomDocument::read(&bytes, limits(read)) {
        Ok(doc) => doc,
        Err(e) => {
            if json {
                let location = match &e {
                    SbomError::Json(j) => j.location().cloned(),
                    _ => None,
                };
                let pointer = match &e {
                    SbomError::NotCycloneDx { pointer, .. } => Some(pointer.clone()),
                    _ => location.as_ref().map(|l| l.pointer.clone()),
                };
                print_json(&UnreadableOutput {
                    file: input.name(),
                    valid: false,
                    error: UnreadableError {
                        message: e.to_string(),
                        pointer,
                        offset: location.and_then(|l| l.offset),
                    },
                })?;
            }
            return Err(bad(&input, e));
        }
    };
    let schema = schema_dir
        .map(|dir| OfficialSchema::load(dir, doc.spec_version()))
        .transpose()
        .map_err(|e| CliError::input(anyhow!(e)).context("--schema-dir"))?;
    let report = validate::validate(&doc, schema.as_ref());
    if json {
        print_json(&ValidateOutput {
            file: input.name(),
            valid: report.is_valid(),
            report: &report,
        })?;
    } else {
        write_stdout(render(&input, &report).as_bytes())?;
    }
    Ok(if report.is_valid() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn render(input: &Input, report: &Report) -> String {
    let checks = if report.schema == "builtin" {
        "built-in structure and semantic checks".to_owned()
    } else {
        format!("official schema {} and semantic checks", report.schema)
    };
    if report.is_valid() {
        return format!(
            "{}: valid CycloneDX {} ({checks})\n",
            input.name(),
            report.spec_version
        );
    }
    let n = report.problems.len();
    let mut out = format!(
        "{}: invalid CycloneDX {}: {n} problem{} ({checks})\n",
        input.name(),
        report.spec_version,
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

fn convert(read: &ReadArgs, output: Option<&Path>) -> Result<Outcome, CliError> {
    let input = Input::with_limit_flag(read.file.clone(), crate::input::MAX_SIZE_FLAG);
    let bytes = input.read(read.max_size)?;
    let doc = SbomDocument::read(&bytes, limits(read)).map_err(|e| bad(&input, e))?;
    let mut bom = doc.to_model().map_err(|e| bad(&input, e))?;
    bom.upgrade_to_written_version();
    let canonical = jcs::to_canonical(&bom).map_err(|e| bad(&input, SbomError::Json(e)))?;
    match output {
        None => write_stdout(&canonical)?,
        Some(path) => write_atomically(path, &canonical)?,
    }
    Ok(Outcome::Success)
}
