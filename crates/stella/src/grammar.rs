//! One output grammar across commands, as syft and trivy users type it: `-o/--output
//! FORMAT[=FILE]`. A value that names one of the command's formats (`json`, `svg`, `openvex`,
//! `cyclonedx-json`, …) chooses that format, written to FILE when `=FILE` follows, else to
//! standard output; any other value is a file, as `-o FILE` always was (a file literally named
//! like a format is `./json`). It runs once, after parsing, and turns each command's `-o` into
//! the `--format` / `--json` / `--sbom-out` it means, so the commands themselves read one shape.
//!
//! Not here: what a format looks like (each command), the rest of the command line (`cli`).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::ValueEnum;

use crate::cli::{AssessFormat, Command, RecordFormat, SbomCommand, VexCommand, VexFormatArg};
use crate::exit::CliError;
use crate::sbom::ConvertTo;

/// Text or JSON: the formats of commands that print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Report {
    /// Text for a person (`text` is the same).
    #[value(alias = "text")]
    Table,
    /// JSON for machines.
    Json,
}

/// The id of the `-o/--output FORMAT` added to commands that print a report with `--json` and
/// have no `-o` of their own.
const REPORT_FORMAT: &str = "report_format";

/// Stella's command line as it is parsed: the derived definition, with `-o/--output
/// table|json` added to every command that has `--json` and no `-o` of its own, so that `-o
/// json` means `--json` everywhere.
pub fn definition() -> clap::Command {
    use clap::CommandFactory as _;
    with_report_formats(crate::cli::Cli::command())
}

fn with_report_formats(command: clap::Command) -> clap::Command {
    let has = |c: &clap::Command, f: &dyn Fn(&clap::Arg) -> bool| c.get_arguments().any(f);
    let mut command = command;
    if has(&command, &|a| a.get_id() == "json")
        && !has(&command, &|a| {
            a.get_short() == Some('o') || a.get_long() == Some("output")
        })
    {
        command = command.arg(
            clap::Arg::new(REPORT_FORMAT)
                .short('o')
                .long("output")
                .value_name("FORMAT")
                .value_parser(clap::builder::EnumValueParser::<Report>::new())
                .help("Output format, as syft and trivy take it: table (text) or json (as --json)"),
        );
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, with_report_formats);
    }
    command
}

/// Whether the command that runs was given `-o json` where `-o` is the added report format,
/// and not `--json` already (both say the same; the flag is given once).
pub fn report_json_asked(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    let json_given = m.try_get_one::<bool>("json").ok().flatten() == Some(&true);
    !json_given
        && m.try_get_one::<Report>(REPORT_FORMAT)
            .ok()
            .flatten()
            .is_some_and(|f| *f == Report::Json)
}

/// The command line with `--json` for the command that runs (before any `--`).
pub fn with_json(args: &[std::ffi::OsString]) -> Vec<std::ffi::OsString> {
    let mut out = args.to_vec();
    let at = out.iter().position(|a| a == "--").unwrap_or(out.len());
    out.insert(at, "--json".into());
    out
}

/// What a `-o` value says: a format (and where to write it), or only a file.
fn split<F: ValueEnum>(value: &std::path::Path) -> Option<(F, Option<PathBuf>)> {
    let text = value.to_str()?;
    let (name, file) = match text.split_once('=') {
        Some((name, file)) => (name, Some(file)),
        None => (text, None),
    };
    let format = F::from_str(name, true).ok()?;
    let file = file
        .filter(|f| !f.is_empty() && *f != "-")
        .map(PathBuf::from);
    Some((format, file))
}

fn conflict(what: &str) -> CliError {
    CliError::input(anyhow!(
        "-o names a format and {what} names another: give one of them"
    ))
}

/// Rewrites every command's `-o FORMAT[=FILE]` into what it means.
///
/// # Errors
/// `-o` naming a format that `--format`/`--json` contradicts, or a format the command does not
/// write to a file: exit 2.
pub fn normalise(command: &mut Command) -> Result<(), CliError> {
    // A positional image reference, as cosign and oras take it, is --image.
    match command {
        Command::Verify(a) => a.image = a.target.take(),
        Command::Assess(a) => a.image = a.target.take(),
        Command::Score(a) => a.image = a.target.take(),
        _ => {}
    }
    match command {
        Command::Record(a) => {
            if let Some((format, file)) = a.output.as_deref().and_then(split::<RecordFormat>) {
                if a.json && format != RecordFormat::Json || a.format.is_some_and(|f| f != format) {
                    return Err(conflict("--format or --json"));
                }
                a.format = Some(format);
                a.json = false;
                a.output = file;
            }
        }
        Command::Assess(a) => {
            if let Some((format, file)) = a.output.as_deref().and_then(split::<AssessFormat>) {
                a.format = format;
                a.output = file;
            }
        }
        Command::Symbolize(a) => {
            if let Some((format, file)) = a.output.as_deref().and_then(split::<Report>) {
                a.json |= format == Report::Json;
                a.output = file;
            }
        }
        Command::Witness(a) => {
            if let Some((format, file)) = a.output.as_deref().and_then(split::<Report>) {
                a.json |= format == Report::Json;
                a.output = file;
            }
        }
        Command::Vex(VexCommand::Convert { to, output, .. }) => {
            if let Some((format, file)) = output.as_deref().and_then(split::<VexFormatArg>) {
                if to.is_some_and(|t| t != format) {
                    return Err(conflict("--to"));
                }
                *to = Some(format);
                *output = file;
            }
        }
        Command::Vex(VexCommand::Merge { to, output, .. }) => {
            if let Some((format, file)) = output.as_deref().and_then(split::<VexFormatArg>) {
                *to = format;
                *output = file;
            }
        }
        Command::Sbom(SbomCommand::Convert { to, output, .. }) => {
            if let Some((format, file)) = output.as_deref().and_then(split::<ConvertTo>) {
                *to = format;
                *output = file;
            }
        }
        Command::Score(a) => {
            if let Some((format, file)) = a.output.as_deref().and_then(split::<Report>) {
                // The Statement to a file is -o FILE; json alone prints it instead of the table.
                a.json |= format == Report::Json && file.is_none();
                a.output = file;
            }
        }
        Command::Report(a) => {
            if let Some((format, file)) = a.output.as_deref().and_then(split::<Page>) {
                match (format, file) {
                    (Page::Json, None) => {
                        a.json = true;
                        a.output = None;
                    }
                    (Page::Json, Some(_)) => {
                        return Err(CliError::input(anyhow!(
                            "-o json prints the report's model on standard output; -o \
                             html=FILE writes the page"
                        )));
                    }
                    (Page::Html, None) => {
                        return Err(CliError::input(anyhow!(
                            "-o html needs a file (-o html=FILE): the page is not written to a \
                             terminal"
                        )));
                    }
                    (Page::Html, Some(file)) => a.output = Some(file),
                }
            }
        }
        Command::Verify(a) => {
            if let Some(format) = a.format {
                a.json |= format == Report::Json;
            }
        }
        Command::Scan(a) => {
            for value in std::mem::take(&mut a.output) {
                match split::<ScanOutput>(&value) {
                    Some((ScanOutput::Json, None)) => a.json = true,
                    Some((ScanOutput::Table, None)) => {}
                    Some((ScanOutput::CyclonedxJson, Some(file))) => {
                        if a.sbom_out.as_ref().is_some_and(|f| *f != file) {
                            return Err(conflict("--sbom-out"));
                        }
                        a.sbom_out = Some(file);
                    }
                    Some((ScanOutput::SpdxJson, Some(file))) => a.spdx_out = Some(file),
                    Some((sbom @ (ScanOutput::CyclonedxJson | ScanOutput::SpdxJson), None)) => {
                        return Err(CliError::input(anyhow!(
                            "-o {0} needs a file (-o {0}=FILE): the scan's summary goes to \
                             standard output",
                            if sbom == ScanOutput::SpdxJson {
                                "spdx-json"
                            } else {
                                "cyclonedx-json"
                            }
                        )));
                    }
                    Some((ScanOutput::Table | ScanOutput::Json, Some(_))) => {
                        return Err(CliError::input(anyhow!(
                            "-o {}: the scan's summary goes to standard output; -o \
                             cyclonedx-json=FILE writes the SBOM",
                            value.display()
                        )));
                    }
                    None => {
                        return Err(CliError::input(anyhow!(
                            "-o {}: scan writes table, json, cyclonedx-json=FILE or \
                             spdx-json=FILE",
                            value.display()
                        )));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// What `stella report -o` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Page {
    /// The HTML page, to a file.
    Html,
    /// The report's model as JSON, on standard output.
    Json,
}

/// What `stella scan -o` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanOutput {
    /// The summary as text.
    #[value(alias = "text")]
    Table,
    /// The summary as JSON.
    Json,
    /// The SBOM (CycloneDX 1.7 JSON, canonical), to a file.
    #[value(alias = "cyclonedx")]
    CyclonedxJson,
    /// The SBOM as SPDX 2.3 JSON (canonical), to a file.
    #[value(alias = "spdx")]
    SpdxJson,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_value_is_a_format_with_its_file_or_else_a_file() {
        assert_eq!(
            split::<RecordFormat>(Path::new("pprof=out.pb.gz")),
            Some((RecordFormat::Pprof, Some(PathBuf::from("out.pb.gz"))))
        );
        assert_eq!(
            split::<RecordFormat>(Path::new("svg")),
            Some((RecordFormat::Svg, None))
        );
        assert_eq!(
            split::<RecordFormat>(Path::new("json=-")),
            Some((RecordFormat::Json, None))
        );
        assert_eq!(split::<RecordFormat>(Path::new("app.folded")), None);
        assert_eq!(split::<RecordFormat>(Path::new("./json")), None);
        assert_eq!(split::<RecordFormat>(Path::new("dir/a=b")), None);
        assert_eq!(
            split::<Report>(Path::new("text")),
            Some((Report::Table, None))
        );
        assert_eq!(
            split::<ScanOutput>(Path::new("cyclonedx-json=sbom.json")),
            Some((ScanOutput::CyclonedxJson, Some(PathBuf::from("sbom.json"))))
        );
    }
}
