//! `stella advisories import | list | show`: advisory files read with `stella-advisory`, kept in
//! the index (`stella-store`), printed.
//!
//! An import takes files, directories, zip exports (OSV's `all.zip`) and `http(s)://` URLs of
//! a file or a zip; everything is fetched, unpacked and checked before the database is
//! touched, and the import is one transaction. Records whose id starts with `STELLA-` are
//! Stella's overlay and are stored with the source `overlay`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde::Serialize;
use stella_advisory::export;
use stella_advisory::osv::{OVERLAY_ID_PREFIX, Record};
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

/// Largest body fetched from a URL, and largest zip export read from a file (OSV's largest
/// ecosystem export is well under this; the zip reader bounds what it inflates on its own).
const MAX_DOWNLOAD_BYTES: usize = 1 << 30;

/// How long one download may take, connection to last byte.
const DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

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

/// One advisory document to import, wherever it came from.
struct Document {
    /// Where it came from, for messages: a path, `archive.zip!entry`, or a URL.
    origin: String,
    /// Its bytes.
    bytes: Vec<u8>,
    /// A RustSec advisory (Markdown) rather than an OSV record.
    rustsec: bool,
}

/// The `http://` or `https://` URL an argument names, if it names one.
fn url_of(path: &Path) -> Option<&str> {
    path.to_str()
        .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
}

/// Every advisory file under `paths`: `.json` (OSV) and `RUSTSEC-*.md` under a directory,
/// sorted; any other path as it is.
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
                let wanted = name.ends_with(".json") || export::is_rustsec_name(&name);
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

/// Every advisory document the arguments name: the [`files`] of paths (a zip export's
/// entries for a zip), and the body of each `http(s)://` URL (a zip's entries for a zip).
async fn documents(paths: &[PathBuf]) -> Result<Vec<Document>, CliError> {
    let mut out = Vec::new();
    for path in paths {
        if let Some(url) = url_of(path) {
            let bytes = download(url).await?;
            let path_part = url.split(['?', '#']).next().unwrap_or(url);
            push_file(&mut out, url.to_owned(), path_part, bytes)?;
            continue;
        }
        for file in files(std::slice::from_ref(path))? {
            let input = Input::new(file.clone());
            let limit = if file.extension().is_some_and(|e| e == "zip") {
                MAX_DOWNLOAD_BYTES
            } else {
                MAX_FILE_BYTES
            };
            let bytes = input.read(limit)?;
            push_file(&mut out, input.name(), &file.to_string_lossy(), bytes)?;
        }
    }
    Ok(out)
}

/// One file's documents: a zip export's entries (by its name or its first bytes), or the
/// file itself (RustSec by its name, OSV otherwise).
fn push_file(
    out: &mut Vec<Document>,
    origin: String,
    name: &str,
    bytes: Vec<u8>,
) -> Result<(), CliError> {
    if name.ends_with(".zip") || export::looks_like_zip(&bytes) {
        let entries =
            export::read_zip(&bytes).map_err(|e| CliError::kinded(e).context(origin.clone()))?;
        if out.len() + entries.len() > MAX_FILES {
            return Err(CliError::input(anyhow!(
                "{origin}: more than {MAX_FILES} advisory files"
            )));
        }
        out.extend(entries.into_iter().map(|e| Document {
            origin: format!("{origin}!{}", e.name),
            rustsec: e.is_rustsec(),
            bytes: e.bytes,
        }));
    } else {
        out.push(Document {
            origin,
            rustsec: name.ends_with(".md"),
            bytes,
        });
    }
    Ok(())
}

/// The body of `url`, refused when the server does not answer 2xx, or declares or sends more
/// than [`MAX_DOWNLOAD_BYTES`].
async fn download(url: &str) -> Result<Vec<u8>, CliError> {
    download_capped(url, MAX_DOWNLOAD_BYTES).await
}

/// [`download`] with the limit given.
async fn download_capped(url: &str, limit: usize) -> Result<Vec<u8>, CliError> {
    let client = reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .map_err(|e| CliError::environment(anyhow!("{url}: {e}")))?;
    let unreachable = |e: reqwest::Error| CliError::environment(anyhow!("{url}: {e}"));
    let mut response = client.get(url).send().await.map_err(unreachable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(CliError::input(anyhow!(
            "{url}: the server answered {status}; nothing was imported"
        )));
    }
    let too_large = || {
        CliError::input(anyhow!(
            "{url}: the body is larger than the limit of {limit} bytes; nothing was imported"
        ))
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One file as a stored advisory (`RUSTSEC-*.md`, or an OSV record; the overlay's by its id).
pub(crate) fn row_of(path: &Path) -> Result<AdvisoryRow, CliError> {
    let input = Input::new(path.to_path_buf());
    let bytes = input.read(MAX_FILE_BYTES)?;
    row_of_document(Document {
        origin: input.name(),
        rustsec: path.extension().is_some_and(|e| e == "md"),
        bytes,
    })
}

/// One document as a stored advisory.
fn row_of_document(doc: Document) -> Result<AdvisoryRow, CliError> {
    let bad = |e: &dyn std::fmt::Display| CliError::input(anyhow!("{}: {e}", doc.origin));
    if doc.rustsec {
        let text = String::from_utf8(doc.bytes.clone()).map_err(|e| bad(&e))?;
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
    let record = Record::from_json(&doc.bytes).map_err(|e| bad(&e))?;
    let overlay = record.id.starts_with(OVERLAY_ID_PREFIX);
    if overlay {
        // The overlay's own members are checked here, so a misspelt one is an import error.
        for (i, a) in record.affected.iter().enumerate() {
            a.overlay()
                .map_err(|e| bad(&format!("/affected/{i}/{e}")))?;
        }
    }
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
    let document = String::from_utf8(doc.bytes).map_err(|e| bad(&e))?;
    Ok(AdvisoryRow {
        id: record.id.clone(),
        source: if overlay { "overlay" } else { "osv" }.to_owned(),
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
    // Everything fetched, read and checked before the database is touched.
    let documents = documents(paths).await?;
    let files = documents.len();
    let mut rows = Vec::with_capacity(files);
    let mut skipped = Vec::new();
    let mut sources = Vec::with_capacity(files);
    for doc in documents {
        let origin = doc.origin.clone();
        match row_of_document(doc) {
            Ok(row) => {
                sources.push(origin);
                rows.push(row);
            }
            Err(e) if skip_invalid => skipped.push(Skipped {
                file: origin,
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
        files,
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};

    use super::*;

    /// A body sent in chunks with no declared length is counted as it arrives.
    #[test]
    fn a_body_past_the_limit_is_refused_while_it_streams() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/all.zip", listener.local_addr().expect("bound"));
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("one request");
            let mut reader = BufReader::new(stream.try_clone().expect("the stream"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            );
            for _ in 0..16 {
                let _ = stream.write_all(format!("400\r\n{}\r\n", "x".repeat(0x400)).as_bytes());
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let refused = runtime
            .block_on(download_capped(&url, 4096))
            .expect_err("16 KiB over a 4 KiB limit");
        assert_eq!(refused.code, crate::exit::USAGE);
        assert!(
            refused
                .error
                .to_string()
                .contains("larger than the limit of 4096 bytes"),
            "{:#}",
            refused.error
        );
        let _ = server.join();
    }
}
