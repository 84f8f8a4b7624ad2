//! `stella advisories import | list | show`: advisory files read with `stella-advisory`, kept in
//! the index (`stella-store`), printed.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde::Serialize;
use stella_advisory::osv::Record;
use stella_advisory::rustsec::Advisory;
use stella_store::{AdvisoryRow, Outcome, PackageRow, Store, SymbolRow};

use crate::cli::{AdvisoriesCommand, DbArgs};
use crate::exit::{CliError, Outcome as Exit};
use crate::input::Input;
use crate::output::write_stdout;
use crate::print::{self, Schema};

/// Largest advisory file read (an OSV record's own limit is lower; this bounds the read).
const MAX_FILE_BYTES: usize = 16 << 20;

/// Most files one import reads.
const MAX_FILES: usize = 1_000_000;

pub fn run(command: AdvisoriesCommand, home: &Path) -> Result<Exit, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::environment(anyhow!("starting the database runtime: {e}")))?;
    runtime.block_on(async {
        match command {
            AdvisoriesCommand::Import {
                paths,
                skip_invalid,
                db,
                json,
            } => import(&paths, skip_invalid, &db, home, json).await,
            AdvisoriesCommand::List {
                ecosystem,
                package,
                db,
                json,
            } => list(ecosystem.as_deref(), package.as_deref(), &db, home, json).await,
            AdvisoriesCommand::Show { id, db, json } => show(&id, &db, home, json).await,
        }
    })
}

pub(crate) async fn open(db: &DbArgs, home: &Path) -> Result<Store, CliError> {
    let url = match &db.db {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(home)
                .map_err(|e| CliError::environment(anyhow!("creating {}: {e}", home.display())))?;
            format!("sqlite://{}", home.join("stella.db").display())
        }
    };
    Store::open(&url)
        .await
        .map_err(|e| CliError::kinded(e).context(url))
}

/// Every advisory file under `paths`: `.json` (OSV) and `RUSTSEC-*.md`, sorted.
pub(crate) fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path)
                .follow_links(false)
                .sort_by_file_name()
            {
                let entry =
                    entry.map_err(|e| CliError::input(anyhow!("{}: {e}", path.display())))?;
                let name = entry.file_name().to_string_lossy();
                let wanted = name.ends_with(".json")
                    || (name.starts_with("RUSTSEC-") && name.ends_with(".md"));
                if entry.file_type().is_file() && wanted {
                    out.push(entry.into_path());
                }
                if out.len() > MAX_FILES {
                    return Err(CliError::input(anyhow!(
                        "{}: more than {MAX_FILES} advisory files",
                        path.display()
                    )));
                }
            }
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// One file as a stored advisory.
pub(crate) fn row_of(path: &Path) -> Result<AdvisoryRow, CliError> {
    let input = Input::new(path.to_path_buf());
    let bytes = input.read(MAX_FILE_BYTES)?;
    let bad = |e: &dyn std::fmt::Display| CliError::input(anyhow!("{}: {e}", input.name()));
    let is_markdown = path.extension().is_some_and(|e| e == "md");
    if is_markdown {
        let text = String::from_utf8(bytes).map_err(|e| bad(&e))?;
        let a = Advisory::from_markdown(&text).map_err(|e| bad(&e))?;
        let symbols = a
            .functions
            .iter()
            .map(|f| SymbolRow {
                path: String::new(),
                name: f.path.clone(),
                versions: f
                    .versions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        return Ok(AdvisoryRow {
            id: a.id.clone(),
            source: "rustsec".to_owned(),
            modified: a.date.clone().unwrap_or_default(),
            withdrawn: a.withdrawn.clone(),
            summary: a.title.clone(),
            aliases: a.aliases.clone(),
            packages: vec![PackageRow {
                ecosystem: "crates.io".to_owned(),
                purl: Some(format!("pkg:cargo/{}", a.package)),
                name: a.package.clone(),
                symbols,
            }],
            document: text,
        });
    }
    let record = Record::from_json(&bytes).map_err(|e| bad(&e))?;
    let document = String::from_utf8(bytes).map_err(|e| bad(&e))?;
    let packages = record
        .affected
        .iter()
        .filter_map(|a| {
            let p = a.package.as_ref()?;
            Some(PackageRow {
                ecosystem: p.ecosystem.clone(),
                name: p.name.clone(),
                purl: p.purl.clone(),
                symbols: a
                    .symbols()
                    .into_iter()
                    .map(|s| SymbolRow {
                        path: s.path,
                        name: s.name,
                        versions: String::new(),
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(AdvisoryRow {
        id: record.id.clone(),
        source: "osv".to_owned(),
        modified: record.modified.clone(),
        withdrawn: record.withdrawn.clone(),
        summary: record.summary.clone(),
        aliases: record.aliases.clone(),
        packages,
        document,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportOutput {
    files: usize,
    added: usize,
    replaced: usize,
    unchanged: usize,
    skipped: Vec<Skipped>,
    total: i64,
}

#[derive(Serialize)]
struct Skipped {
    file: String,
    reason: String,
}

const IMPORT: Schema = Schema::new("advisories.import");

async fn import(
    paths: &[PathBuf],
    skip_invalid: bool,
    db: &DbArgs,
    home: &Path,
    json: bool,
) -> Result<Exit, CliError> {
    let files = files(paths)?;
    // Everything read and checked before the database is touched.
    let mut rows = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    let mut sources = Vec::with_capacity(files.len());
    for f in &files {
        match row_of(f) {
            Ok(row) => {
                sources.push(f.display().to_string());
                rows.push(row);
            }
            Err(e) if skip_invalid => skipped.push(Skipped {
                file: f.display().to_string(),
                reason: print::error_line(&e.error),
            }),
            Err(e) => return Err(e),
        }
    }
    let store = open(db, home).await?;
    let outcomes = store.import(&rows).await.map_err(CliError::kinded)?;
    let count = |o: fn(&Outcome) -> bool| outcomes.iter().filter(|x| o(x)).count();
    for (outcome, file) in outcomes.iter().zip(&sources) {
        if let Outcome::SkippedCollision { existing_source } = outcome {
            skipped.push(Skipped {
                file: file.clone(),
                reason: format!("its id was imported from {existing_source} before; kept"),
            });
        }
    }
    let output = ImportOutput {
        files: files.len(),
        added: count(|o| matches!(o, Outcome::Added)),
        replaced: count(|o| matches!(o, Outcome::Replaced)),
        unchanged: count(|o| matches!(o, Outcome::Unchanged)),
        total: store.count().await.map_err(CliError::kinded)?,
        skipped,
    };
    store.close().await;
    if json {
        print::json(&IMPORT, &output)?;
    } else {
        let mut text = format!(
            "{}: {} added, {} replaced, {} unchanged, {} skipped; {} in the database\n",
            print::count(output.files, "file", "files"),
            output.added,
            output.replaced,
            output.unchanged,
            output.skipped.len(),
            output.total
        );
        for s in &output.skipped {
            text.push_str(&format!("  skipped {}: {}\n", s.file, s.reason));
        }
        eprint!("{text}");
    }
    Ok(Exit::Success)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedOut {
    id: String,
    source: String,
    modified: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
}

#[derive(Serialize)]
struct ListOutput {
    advisories: Vec<ListedOut>,
}

const LIST: Schema = Schema::new("advisories.list");

async fn list(
    ecosystem: Option<&str>,
    package: Option<&str>,
    db: &DbArgs,
    home: &Path,
    json: bool,
) -> Result<Exit, CliError> {
    let store = open(db, home).await?;
    let listed = store
        .list(ecosystem, package)
        .await
        .map_err(CliError::kinded)?;
    store.close().await;
    let advisories: Vec<ListedOut> = listed
        .into_iter()
        .map(|l| ListedOut {
            id: l.id,
            source: l.source,
            modified: l.modified,
            summary: l.summary,
        })
        .collect();
    if json {
        print::json(&LIST, &ListOutput { advisories })?;
    } else {
        let mut text = String::new();
        for a in &advisories {
            text.push_str(&format!(
                "{}\t{}\t{}\n",
                a.id,
                a.source,
                a.summary.as_deref().unwrap_or("")
            ));
        }
        write_stdout(text.as_bytes())?;
    }
    Ok(Exit::Success)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ShowOutput {
    id: String,
    source: String,
    modified: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdrawn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    aliases: Vec<String>,
    packages: Vec<PackageOut>,
    document: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PackageOut {
    ecosystem: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    symbols: Vec<SymbolOut>,
}

#[derive(Serialize)]
struct SymbolOut {
    path: String,
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    versions: String,
}

const SHOW: Schema = Schema::new("advisories.show");

async fn show(id: &str, db: &DbArgs, home: &Path, json: bool) -> Result<Exit, CliError> {
    let store = open(db, home).await?;
    let found = store.get(id).await.map_err(CliError::kinded)?;
    store.close().await;
    let Some(a) = found else {
        return Err(CliError::input(anyhow!(
            "{id}: no advisory has this id or alias (stella advisories import first)"
        )));
    };
    let output = ShowOutput {
        id: a.id,
        source: a.source,
        modified: a.modified,
        withdrawn: a.withdrawn,
        summary: a.summary,
        aliases: a.aliases,
        packages: a
            .packages
            .into_iter()
            .map(|p| PackageOut {
                ecosystem: p.ecosystem,
                name: p.name,
                purl: p.purl,
                symbols: p
                    .symbols
                    .into_iter()
                    .map(|s| SymbolOut {
                        path: s.path,
                        name: s.name,
                        versions: s.versions,
                    })
                    .collect(),
            })
            .collect(),
        document: a.document,
    };
    if json {
        print::json(&SHOW, &output)?;
        return Ok(Exit::Success);
    }
    let mut text = format!(
        "{} ({}, modified {})\n",
        output.id, output.source, output.modified
    );
    if let Some(s) = &output.summary {
        text.push_str(&format!("  {s}\n"));
    }
    if !output.aliases.is_empty() {
        text.push_str(&format!("  aliases: {}\n", output.aliases.join(", ")));
    }
    if let Some(w) = &output.withdrawn {
        text.push_str(&format!("  withdrawn {w}\n"));
    }
    for p in &output.packages {
        text.push_str(&format!("  {} {}\n", p.ecosystem, p.name));
        for s in &p.symbols {
            let name = if s.path.is_empty() {
                s.name.clone()
            } else {
                format!("{}.{}", s.path, s.name)
            };
            if s.versions.is_empty() {
                text.push_str(&format!("    {name}\n"));
            } else {
                text.push_str(&format!("    {name} ({})\n", s.versions));
            }
        }
    }
    write_stdout(text.as_bytes())?;
    Ok(Exit::Success)
}
