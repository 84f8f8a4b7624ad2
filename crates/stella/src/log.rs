//! `stella log …`: the embedded transparency log in `$STELLA_HOME/log` seen from the command
//! line. The log itself lives in `stella-tlog`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use stella_core::Kinded as _;
use stella_tlog::{Checkpoint, Log, TlogError, merkle};

use crate::cli::LogCommand;
use crate::exit::{CliError, Outcome};
use crate::input::Input;
use crate::output::{write_atomically, write_stdout};
use crate::print::{self, Schema};

/// Where the embedded log lives under the evidence home.
pub fn log_dir(home: &Path) -> PathBuf {
    home.join("log")
}

/// A log error on its way to the user: the exit code comes from its kind (a damaged or
/// missing log is bad input naming the file, the disk or a log server the environment), and
/// the two errors a newcomer meets first carry the way out.
pub fn tlog_error(e: TlogError) -> CliError {
    let code = e.kind().exit_code();
    let hint = match &e {
        TlogError::NoLog { dir } => format!(
            "{e}: it is created by the first `stella attest` or `stella log append` (or \
             check --home / --dir: {})",
            dir.display()
        ),
        TlogError::RememberedDamaged { path, .. } => format!(
            "{e}; until it is dealt with, nothing can be checked against what was seen of \
             this log before. Restore it from a backup of $STELLA_HOME/witness, or move it \
             aside deliberately (`stella log fsck --repair` does that for the embedded log; \
             else `mv {0} {0}.damaged`): the next verification then remembers afresh, and a \
             rollback to before that point can no longer be detected",
            path.display()
        ),
        _ => return CliError::kinded(e),
    };
    CliError {
        code,
        error: anyhow!(hint),
    }
}

/// Opens the embedded log, creating it when `$STELLA_HOME/log` holds none of its files: for
/// the commands that append. A damaged log is an error, never replaced by a new one.
pub fn open(home: &Path) -> Result<Log, CliError> {
    Log::open_or_create(&log_dir(home), None).map_err(tlog_error)
}

/// Opens the embedded log if there is one (`None` when `$STELLA_HOME/log` holds none of its
/// files); creates nothing.
pub fn open_existing(home: &Path) -> Result<Option<Log>, CliError> {
    match Log::open(&log_dir(home)) {
        Ok(log) => Ok(Some(log)),
        Err(TlogError::NoLog { .. }) => Ok(None),
        Err(e) => Err(tlog_error(e)),
    }
}

/// The log in `dir`, or the embedded one; creates nothing.
fn existing(home: &Path, dir: Option<&Path>) -> Result<Log, CliError> {
    let dir = dir.map_or_else(|| log_dir(home), Path::to_path_buf);
    Log::open(&dir).map_err(tlog_error)
}

pub fn run(cmd: LogCommand, home: &Path) -> Result<Outcome, CliError> {
    match cmd {
        LogCommand::Info { json } => {
            let log = existing(home, None)?;
            let (cp, _) = log.checkpoint().map_err(tlog_error)?;
            let info = json!({
                "dir": log.dir(),
                "origin": log.origin(),
                "size": cp.size,
                "rootHash": STANDARD.encode(cp.root),
                "logId": STANDARD.encode(log.log_id()),
                "verifierKey": log.verifier().to_vkey(),
                "created": log.created(),
            });
            if json {
                print::json(&Schema::new("log.info"), &info)?;
            } else {
                write_stdout(
                    format!(
                        "origin:       {}\nsize:         {}\nroot hash:    {}\nlog id:       {}\nverifier key: {}\ndirectory:    {}\n",
                        log.origin(),
                        cp.size,
                        stella_core::hex::encode(cp.root),
                        STANDARD.encode(log.log_id()),
                        log.verifier().to_vkey(),
                        log.dir().display()
                    )
                    .as_bytes(),
                )?;
            }
            Ok(Outcome::Success)
        }
        LogCommand::Append { files, json } => {
            let mut entries = Vec::with_capacity(files.len());
            for f in &files {
                entries.push(Input::new(f.clone()).read(stella_tlog::tiles::MAX_ENTRY_BYTES)?);
            }
            let log = open(home)?;
            let appended = log.append(&entries).map_err(tlog_error)?;
            if json {
                print::json(
                    &Schema::new("log.append"),
                    &json!({
                        "firstIndex": appended.first_index,
                        "size": appended.checkpoint.size,
                        "rootHash": STANDARD.encode(appended.checkpoint.root),
                        "checkpoint": appended.note,
                    }),
                )?;
            } else {
                write_stdout(
                    format!(
                        "appended {} entr{} at index {}; log size {}\n",
                        entries.len(),
                        if entries.len() == 1 { "y" } else { "ies" },
                        appended.first_index,
                        appended.checkpoint.size
                    )
                    .as_bytes(),
                )?;
            }
            Ok(Outcome::Success)
        }
        LogCommand::Serve {
            dir,
            addr,
            origin,
            max_pending,
        } => {
            let dir = dir.unwrap_or_else(|| log_dir(home));
            serve(dir, addr, origin, max_pending)
        }
        LogCommand::Get { index } => {
            let log = existing(home, None)?;
            let entry = log.entry(index).map_err(tlog_error)?;
            write_stdout(&entry)?;
            Ok(Outcome::Success)
        }
        LogCommand::Inclusion { index, size, json } => {
            let log = existing(home, None)?;
            let (cp, note) = log.checkpoint().map_err(tlog_error)?;
            let size = size.unwrap_or(cp.size);
            let proof = log.inclusion_proof(index, size).map_err(tlog_error)?;
            let root = log.root(size).map_err(tlog_error)?;
            let leaf = merkle::leaf_hash(&log.entry(index).map_err(tlog_error)?);
            merkle::verify_inclusion(&leaf, index, size, &proof, &root).map_err(tlog_error)?;
            let hashes: Vec<String> = proof.iter().map(|h| STANDARD.encode(h)).collect();
            if json {
                print::json(
                    &Schema::new("log.inclusion"),
                    &json!({
                        "logIndex": index,
                        "treeSize": size,
                        "rootHash": STANDARD.encode(root),
                        "leafHash": STANDARD.encode(leaf),
                        "hashes": hashes,
                        "checkpoint": (size == cp.size).then_some(note),
                    }),
                )?;
            } else {
                let mut text = format!(
                    "entry {index} of {size}: leaf {}\nroot {}\n",
                    stella_core::hex::encode(leaf),
                    stella_core::hex::encode(root)
                );
                for h in &proof {
                    text.push_str(&format!("  {}\n", stella_core::hex::encode(h)));
                }
                write_stdout(text.as_bytes())?;
            }
            Ok(Outcome::Success)
        }
        LogCommand::TrustedRoot { dir, output } => {
            let log = existing(home, dir.as_deref())?;
            let root = log.trusted_root(&log.created());
            let mut text = serde_json::to_string_pretty(&root)
                .map_err(|e| CliError::environment(anyhow!(e)))?;
            text.push('\n');
            match output {
                Some(path) => write_atomically(&path, text.as_bytes())?,
                None => write_stdout(text.as_bytes())?,
            }
            Ok(Outcome::Success)
        }
        LogCommand::Fsck { dir, repair, json } => fsck(home, dir.as_deref(), repair, json),
        LogCommand::VerifyConsistency { old, new, json } => {
            let log = existing(home, None)?;
            let read_note = |path: &Path| -> Result<String, CliError> {
                let input = Input::new(path.to_path_buf());
                String::from_utf8(input.read(1 << 16)?)
                    .map_err(|_| CliError::input(anyhow!("{}: not a signed note", input.name())))
            };
            let open_note = |note: &str, what: &str| {
                Checkpoint::open(note, log.verifier(), log.origin())
                    .map_err(|e| anyhow!("{what} checkpoint: {e}"))
            };
            let old_note = read_note(&old)?;
            let new_note = match &new {
                Some(path) => read_note(path)?,
                None => log.checkpoint().map_err(tlog_error)?.1,
            };
            let result = open_note(&old_note, "old").and_then(|o| {
                let n = open_note(&new_note, "new")?;
                if o.size > n.size {
                    return Err(anyhow!(
                        "the old checkpoint ({} entries) is larger than the new one ({})",
                        o.size,
                        n.size
                    ));
                }
                let proof = if o.size == 0 || o.size == n.size {
                    Vec::new()
                } else {
                    log.consistency_proof(o.size, n.size)?
                };
                merkle::verify_consistency(o.size, n.size, &o.root, &n.root, &proof)?;
                Ok((o, n, proof.len()))
            });
            match result {
                Ok((o, n, hashes)) => {
                    if json {
                        print::json(
                            &Schema::new("log.verify-consistency"),
                            &json!({"consistent": true, "old": o.size, "new": n.size, "proofHashes": hashes}),
                        )?;
                    } else {
                        write_stdout(
                            format!(
                                "consistent: the log of {} entries is a prefix of the log of {} entries ({hashes} proof hashes)\n",
                                o.size, n.size
                            )
                            .as_bytes(),
                        )?;
                    }
                    Ok(Outcome::Success)
                }
                Err(e) => {
                    if json {
                        print::json(
                            &Schema::new("log.verify-consistency"),
                            &json!({"consistent": false, "reason": e.to_string()}),
                        )?;
                    }
                    eprintln!("not consistent: {e}");
                    Ok(Outcome::Failed)
                }
            }
        }
    }
}

/// `stella log serve`: the log server of `stella-server`, with its banner (the first line on
/// stderr, which names the URL) and its farewell.
fn serve(
    dir: PathBuf,
    addr: String,
    origin: Option<String>,
    max_pending: usize,
) -> Result<Outcome, CliError> {
    use std::io::Write as _;
    let server = stella_server::LogServer::bind(&stella_server::LogServerOptions {
        dir,
        addr,
        origin,
        max_pending,
    })
    .map_err(server_error)?;
    // Written even when nobody reads stderr any more (a closed pipe is not a reason to stop).
    let _ = writeln!(
        std::io::stderr(),
        "serving log {} ({}) on http://{} (size {}, at most {} connections)",
        server.log().origin(),
        server.log().dir().display(),
        server.local_addr(),
        server.size(),
        server.connection_limit()
    );
    server.run().map_err(server_error)?;
    let _ = writeln!(std::io::stderr(), "log server stopped");
    Ok(Outcome::Success)
}

fn server_error(e: stella_server::ServerError) -> CliError {
    match e {
        // A damaged log is named as the log's own commands name it.
        stella_server::ServerError::Log(e) => tlog_error(e),
        other => CliError::kinded(other),
    }
}

/// `stella log fsck`: every damaged or missing file of the log, what `--repair` rebuilt (or
/// can rebuild) and what needs a backup; and the checkpoint this machine remembers for the log
/// (a damaged one is moved aside by `--repair`; a larger one means the log was rolled back).
fn fsck(home: &Path, dir: Option<&Path>, repair: bool, json: bool) -> Result<Outcome, CliError> {
    use stella_tlog::fsck::Repair;
    let dir = dir.map_or_else(|| log_dir(home), Path::to_path_buf);
    let report = stella_tlog::fsck::fsck(&dir, repair).map_err(tlog_error)?;
    let mut rows: Vec<(String, String, Value)> = report
        .findings
        .iter()
        .map(|f| {
            let (text, value) = match &f.repair {
                Repair::Repaired { from } => (
                    format!("repaired from {}", from.display()),
                    json!({"repair": "repaired", "from": from}),
                ),
                Repair::Repairable { from } => (
                    format!("can be rebuilt from {} (--repair)", from.display()),
                    json!({"repair": "repairable", "from": from}),
                ),
                Repair::Impossible { why } => (
                    format!("cannot be repaired: {why}"),
                    json!({"repair": "impossible", "why": why.to_string()}),
                ),
            };
            (f.file.to_string(), text, value_with(value, &f.file))
        })
        .collect();
    let mut clean = report.is_clean();
    // What this machine remembers of the log, once the log itself opens.
    if let Ok(log) = Log::open(&dir) {
        let witness = stella_tlog::witness::Witness::new(&home.join("witness"));
        let path = witness.path(&log.log_id());
        match witness.remembered(&log.log_id(), log.verifier(), log.origin()) {
            Err(TlogError::RememberedDamaged { source, .. }) => {
                let file = stella_tlog::DamagedFile::new(
                    &path,
                    stella_tlog::Damage::Unsigned {
                        reason: source.to_string(),
                    },
                );
                let (text, value) = if repair {
                    let aside = witness.set_aside(&log.log_id()).map_err(tlog_error)?;
                    (
                        format!(
                            "moved aside to {} (a rollback to before now can no longer be \
                             detected)",
                            aside.display()
                        ),
                        json!({"repair": "repaired", "movedTo": aside}),
                    )
                } else {
                    clean = false;
                    (
                        "--repair moves it aside (the next verification remembers afresh)"
                            .to_owned(),
                        json!({"repair": "repairable"}),
                    )
                };
                rows.push((file.to_string(), text, value_with(value, &file)));
            }
            Err(e) => return Err(tlog_error(e)),
            Ok(Some(seen)) => {
                let (cp, _) = log.checkpoint().map_err(tlog_error)?;
                if seen.size > cp.size {
                    clean = false;
                    let file = stella_tlog::DamagedFile::new(
                        dir.join("checkpoint"),
                        stella_tlog::Damage::Differs {
                            other: path.clone(),
                        },
                    );
                    let why = format!(
                        "rolled back: the log holds {} entries, a checkpoint of {} was seen \
                         before; restore the newer copy of the log",
                        cp.size, seen.size
                    );
                    rows.push((
                        file.to_string(),
                        why.clone(),
                        value_with(json!({"repair": "impossible", "why": why}), &file),
                    ));
                }
            }
            Ok(None) => {}
        }
    }
    if json {
        print::json(
            &Schema::new("log.fsck"),
            &json!({
                "dir": report.dir,
                "size": report.size,
                "clean": clean,
                "findings": rows.iter().map(|(_, _, v)| v).collect::<Vec<_>>(),
            }),
        )?;
    } else {
        let mut text = match report.size {
            Some(size) => format!("log {}: checkpoint of {size} entries\n", dir.display()),
            None => format!(
                "log {}: no verified checkpoint, so the tiles were not checked\n",
                dir.display()
            ),
        };
        for (file, what, _) in &rows {
            text.push_str(&format!("  damaged: {file}\n           {what}\n"));
        }
        text.push_str(if clean {
            "clean\n"
        } else {
            "damaged: see above\n"
        });
        write_stdout(text.as_bytes())?;
    }
    Ok(if clean {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn value_with(mut value: Value, file: &stella_tlog::DamagedFile) -> Value {
    value["file"] = json!(file.path);
    value["problem"] = json!(file.damage.to_string());
    value
}
