//! `stella funcproof BINARY | verify PROOF BINARY | query PROOF SYMBOL`.

use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;
use stella_binary::{BinaryError, BuildOptions, FuncProof, MappedFile, Mismatch, WriteError};

use crate::cli::{FuncproofArgs, FuncproofCommand};
use crate::exit::{CliError, Outcome};
use crate::output::{write_atomically_with, write_stdout};
use crate::print::{self, Schema};

/// Largest proof document read (a proof of `librustc_driver` is tens of MiB).
const MAX_PROOF_BYTES: u64 = 1 << 30;

pub fn run(args: FuncproofArgs) -> Result<Outcome, CliError> {
    match (args.command, args.binary) {
        (
            Some(FuncproofCommand::Verify {
                proof,
                binary,
                json,
            }),
            _,
        ) => verify(&proof, &binary, json),
        (
            Some(FuncproofCommand::Query {
                proof,
                symbol,
                binary,
                json,
            }),
            _,
        ) => query(&proof, &symbol, binary.as_deref(), json),
        (None, Some(binary)) => {
            let options = BuildOptions {
                callgraph: args.callgraph,
                entries: args.entry,
                sinks: args.sink,
                demangle: !args.no_demangle,
            };
            prove(&binary, args.output.as_deref(), &options)
        }
        (None, None) => Err(CliError::input(anyhow!(
            "stella funcproof needs a BINARY (or verify / query); see --help"
        ))),
    }
}

/// The exit code is the error's kind's; the message names the file unless the error already
/// does.
fn binary_error(e: BinaryError, path: &Path) -> CliError {
    match e {
        // A FIFO or device is refused by name (exit 2) instead of being waited on.
        BinaryError::Open(e) => crate::input::open_error(e),
        e @ (BinaryError::Changed { .. } | BinaryError::Io { .. }) => CliError::kinded(e),
        other => CliError::kinded(other).context(path.display().to_string()),
    }
}

fn prove(
    binary: &Path,
    output: Option<&Path>,
    options: &BuildOptions,
) -> Result<Outcome, CliError> {
    let data = MappedFile::open(binary).map_err(|e| binary_error(e, binary))?;
    let proof = FuncProof::build_with(&data, options).map_err(|e| binary_error(e, binary))?;
    tracing::info!(
        binary = %binary.display(),
        functions = proof.function_count(),
        build_id = proof.build_id.as_ref().map_or("-", |id| id.as_str()),
        "proved"
    );
    for warning in &proof.meta.warnings {
        tracing::warn!("{}: {warning}", binary.display());
    }
    let failed = |e: WriteError| match e {
        // Writing failed: the environment's doing, whatever the I/O error says.
        WriteError::Io(e) => CliError::environment(anyhow!(e)),
        e => CliError::kinded(e).context(binary.display().to_string()),
    };
    match output {
        Some(path) => {
            write_atomically_with(path, |file| {
                proof.write_canonical_json(file).map_err(failed)
            })?;
            eprintln!("{}", wrote_message(path, &proof));
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            // A terminal gets a final newline so the prompt starts on its own line; a pipe or
            // file gets the canonical bytes exactly (the proof's digest is over them).
            let terminal = std::io::IsTerminal::is_terminal(&stdout);
            let written = proof.write_canonical_json(&mut stdout).and_then(|()| {
                if terminal {
                    std::io::Write::write_all(&mut stdout, b"\n")?;
                }
                Ok(())
            });
            match written {
                // A closed pipe (`| head`) is the reader's choice, not an error of ours.
                Err(WriteError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.map_err(failed)?,
            }
        }
    }
    // The process ends here: freeing 100,000 functions' strings one by one would only delay it.
    std::mem::forget(proof);
    Ok(Outcome::Success)
}

/// What `-o OUT` reports on stderr: `wrote OUT (N functions, BuildID …)`.
fn wrote_message(path: &Path, proof: &FuncProof) -> String {
    let functions = proof.function_count();
    let plural = if functions == 1 { "" } else { "s" };
    let build_id = match &proof.build_id {
        Some(id) => format!("BuildID {id}"),
        None => "no BuildID".to_owned(),
    };
    format!(
        "wrote {} ({functions} function{plural}{}, {build_id})",
        path.display(),
        inactive_note(proof, ", ")
    )
}

/// `, N inactive ranges` (after `lead`) when the proof has any ranges apart from its functions.
fn inactive_note(proof: &FuncProof, lead: &str) -> String {
    match proof.inactive.len() {
        0 => String::new(),
        1 => format!("{lead}1 inactive range"),
        n => format!("{lead}{n} inactive ranges"),
    }
}

fn read_proof(path: &Path) -> Result<FuncProof, CliError> {
    let input = crate::input::Input::new(path.to_path_buf());
    let bytes = input.read(usize::try_from(MAX_PROOF_BYTES).unwrap_or(usize::MAX))?;
    FuncProof::from_json(&bytes).map_err(|e| binary_error(e, path))
}

#[derive(Serialize)]
struct VerifyOutput<'a> {
    verified: bool,
    proof: String,
    binary: String,
    mismatches: &'a [Mismatch],
}

fn verify(proof_path: &Path, binary: &Path, json: bool) -> Result<Outcome, CliError> {
    let proof = read_proof(proof_path)?;
    let data = MappedFile::open(binary).map_err(|e| binary_error(e, binary))?;
    let mismatches = proof.verify(&data).map_err(|e| binary_error(e, binary))?;
    if json {
        print::json(
            &Schema::new("funcproof.verify"),
            &VerifyOutput {
                verified: mismatches.is_empty(),
                proof: proof_path.display().to_string(),
                binary: binary.display().to_string(),
                mismatches: &mismatches,
            },
        )?;
    } else if mismatches.is_empty() {
        write_stdout(
            format!(
                "{}: verified: file, {} sections and {} functions{} match {}\n",
                binary.display(),
                proof.section_count(),
                proof.function_count(),
                inactive_note(&proof, " and "),
                proof_path.display()
            )
            .as_bytes(),
        )?;
    } else {
        let mut text = format!(
            "{}: {} mismatch{} against {}\n",
            binary.display(),
            mismatches.len(),
            if mismatches.len() == 1 { "" } else { "es" },
            proof_path.display()
        );
        for m in &mismatches {
            text.push_str(&format!("  {}\n", describe(m)));
        }
        write_stdout(text.as_bytes())?;
    }
    Ok(if mismatches.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `[SLICE: ]KIND NAME [START, END) FIELD: expected …, found …`
fn describe(m: &Mismatch) -> String {
    let slice = m
        .slice
        .as_deref()
        .map(|s| format!("slice {s}: "))
        .unwrap_or_default();
    let range = m
        .range
        .map(|(s, e)| format!(" [{s}, {e})"))
        .unwrap_or_default();
    let field = m.field.map(|f| format!(" {f}")).unwrap_or_default();
    format!(
        "{slice}{} {}{range}{field}: expected {}, found {}",
        m.kind, m.name, m.expected, m.actual
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryOutput<'a> {
    symbol: &'a str,
    present: bool,
    /// The binary the proof was verified against before answering (`--binary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_binary: Option<String>,
    build_id: Option<&'a str>,
    file_sha256: String,
    /// Present (and true) when no function of the proof has a name from a symbol table or
    /// DWARF: the binary is stripped, so "absent by name" proves nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    functions_unnamed: bool,
    matches: Vec<stella_binary::QueryMatch>,
}

/// Refuses to answer from a proof that `binary` contradicts: "absent" from a forged proof is
/// the one answer that must never come out (exit 1 would read as "absent"), so the refusal is an
/// input error (exit 2).
fn check_against(proof: &FuncProof, proof_path: &Path, binary: &Path) -> Result<(), CliError> {
    let data = MappedFile::open(binary).map_err(|e| binary_error(e, binary))?;
    let mismatches = proof.verify(&data).map_err(|e| binary_error(e, binary))?;
    let Some(first) = mismatches.first() else {
        return Ok(());
    };
    Err(CliError::input(anyhow!(
        "{} does not describe {}: {} mismatch{} (first: {}); not answering from it. \
         `stella funcproof verify {} {}` lists them all",
        proof_path.display(),
        binary.display(),
        mismatches.len(),
        if mismatches.len() == 1 { "" } else { "es" },
        describe(first),
        proof_path.display(),
        binary.display(),
    )))
}

fn query(
    proof_path: &Path,
    symbol: &str,
    binary: Option<&Path>,
    json: bool,
) -> Result<Outcome, CliError> {
    let proof = read_proof(proof_path)?;
    if let Some(binary) = binary {
        check_against(&proof, proof_path, binary)?;
    }
    let matches = proof.query(symbol).map_err(CliError::kinded)?;
    let present = !matches.is_empty();
    let unnamed = proof.named_functions() == 0;
    if json {
        print::json(
            &Schema::new("funcproof.query"),
            &QueryOutput {
                symbol,
                present,
                verified_binary: binary.map(|b| b.display().to_string()),
                build_id: proof.build_id.as_ref().map(|id| id.as_str()),
                file_sha256: proof.file.sha256.to_string(),
                functions_unnamed: unnamed,
                matches,
            },
        )?;
    } else if present {
        let mut text = String::new();
        for m in &matches {
            text.push_str(&format!(
                "present {}{} [{}, {}) blake3:{}{}\n",
                m.slice
                    .as_deref()
                    .map(|s| format!("{s}: "))
                    .unwrap_or_default(),
                m.sym,
                m.start,
                m.end,
                m.blake3,
                m.demangled
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
        write_stdout(text.as_bytes())?;
    } else if unnamed {
        write_stdout(
            format!(
                "absent {symbol}: the {} functions of {} (file {}) are all unnamed (the binary \
                 is stripped), so absence by name proves nothing; query a proof of the \
                 unstripped build or its debug file\n",
                proof.function_count(),
                proof
                    .build_id
                    .as_ref()
                    .map_or("the binary", |id| id.as_str()),
                proof.file.sha256
            )
            .as_bytes(),
        )?;
    } else {
        write_stdout(
            format!(
                "absent {symbol}: no function of {} ({} functions, file {}) matches\n",
                proof
                    .build_id
                    .as_ref()
                    .map_or("the binary", |id| id.as_str()),
                proof.function_count(),
                proof.file.sha256
            )
            .as_bytes(),
        )?;
    }
    Ok(if present {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
