//! `stella audit export` and `stella audit verify`: the auditor's pack.
//!
//! Export copies the image (its manifests and config; its layers with `--with-binaries`) and
//! every referrer, recursively, into an OCI layout, adds the embedded log's checkpoint and the
//! hash tiles that prove each packed log entry's checkpoint consistent with it, the trusted
//! root and the public keys, the advisory documents the packed verdicts name by digest
//! (so that `stella replay TOKEN --from PACK` needs nothing else), and writes them as one pack
//! (`stella_evidence::pack`).
//!
//! Verify reads the pack (every member checked against the manifest before anything is
//! written), unpacks it into a temporary directory, and runs the same replay as `stella verify
//! --image` on the unpacked layout, with a fresh home: the packed checkpoint is the one
//! remembered for its log (once it verifies with the trusted root), and every log entry's
//! checkpoint is proven consistent with it from the packed tiles ([`open_pack`], which the
//! replay from a pack shares). The pack format lives in
//! `stella_evidence::pack`, the replay in `stella_evidence::verify`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde_json::{Value, json};
use stella_evidence::pack::{self, Member, Role};
use stella_evidence::verify::{Replay, Status};
use stella_oci::Reference;
use stella_oci::reference::Target;

use crate::cli::AuditCommand;
use crate::exit::{CliError, Outcome};
use crate::output::{write_atomically, write_stdout};
use crate::verify_image::{Opened, trusted_keys};

/// The tag the image has in the packed layout.
const TAG: &str = "image";

/// Where the checkpoint an auditor saw before (`export --since`) is packed.
const SINCE: &str = "log/since-checkpoint";

/// Where the advisory documents that packed verdicts rest on are packed.
const ADVISORIES: &str = "advisories";

pub fn run(command: AuditCommand, home: &Path) -> Result<Outcome, CliError> {
    match command {
        AuditCommand::Export {
            image,
            output,
            with_binaries,
            key,
            trusted_root,
            since,
            advisories,
            insecure,
        } => export(
            &image,
            &output,
            with_binaries,
            &key,
            trusted_root.as_deref(),
            since.as_deref(),
            &advisories,
            insecure,
            home,
        ),
        AuditCommand::Verify {
            pack,
            key,
            trusted_root,
            rootfs,
            signatures_only,
            max_size,
            json,
        } => verify(
            &pack,
            &key,
            trusted_root.as_deref(),
            rootfs.as_deref(),
            signatures_only,
            max_size as u64,
            json,
        ),
    }
}

fn failed(error: anyhow::Error) -> CliError {
    CliError {
        code: crate::exit::FAILED,
        error,
    }
}

fn environment(e: impl std::fmt::Display) -> CliError {
    CliError::environment(anyhow!("{e}"))
}

/// The layer digests of the image's own manifests (not of its referrers): its binaries.
fn layers_of(
    store: &dyn stella_oci::ArtifactStore,
    digest: &str,
) -> Result<BTreeSet<String>, CliError> {
    let stored = store
        .get_manifest(&Target::Digest(digest.to_owned()))
        .map_err(CliError::kinded)?;
    let value: Value = serde_json::from_slice(&stored.bytes).map_err(environment)?;
    let mut out = BTreeSet::new();
    if let Some(children) = value["manifests"].as_array() {
        for child in children {
            if let Some(d) = child["digest"].as_str() {
                out.extend(layers_of(store, d)?);
            }
        }
    }
    for layer in value["layers"].as_array().into_iter().flatten() {
        if let Some(d) = layer["digest"].as_str() {
            out.insert(d.to_owned());
        }
    }
    Ok(out)
}

/// Every file under `dir`, as (path relative to `dir` with `/`, bytes), sorted.
fn files_under(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, CliError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(environment)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(dir)
            .map_err(environment)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(entry.path()).map_err(environment)?;
        out.push((relative, bytes));
    }
    Ok(out)
}

/// The tree sizes of the checkpoints the log entries in the Sigstore bundles among `blobs` carry.
fn entry_sizes<'a>(blobs: impl Iterator<Item = &'a [u8]>) -> BTreeSet<u64> {
    let mut sizes = BTreeSet::new();
    for bytes in blobs {
        let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
            continue;
        };
        let Some(entries) = value
            .pointer("/verificationMaterial/tlogEntries")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for raw in entries {
            if let Ok(entry) = stella_tlog::TlogEntry::from_json(raw) {
                sizes.insert(entry.tree_size);
            }
        }
    }
    sizes
}

/// The advisory documents that the micro-witnesses and assessments among `members` name by
/// digest (`replay.advisoryDocuments`), read from `sources` (default: the advisory database), as
/// members. Refused when one cannot be found: the pack would not replay its verdicts.
fn advisories_named(
    members: &[Member],
    sources: &[String],
    home: &Path,
) -> Result<Vec<Member>, CliError> {
    let mut ids = BTreeSet::new();
    let mut digests = BTreeSet::new();
    for m in members.iter().filter(|m| m.role == Role::OciBlob) {
        if !m.bytes.starts_with(b"{") || !m.bytes.windows(13).any(|w| w == b"\"replayToken\"") {
            continue;
        }
        let Ok(doc) = serde_json::from_slice::<Value>(&m.bytes) else {
            continue;
        };
        let Some(record) = doc.get("replay") else {
            continue;
        };
        for label in record["advisories"].as_array().into_iter().flatten() {
            if let Some(label) = label.as_str() {
                ids.insert(
                    label
                        .rsplit_once(" (")
                        .map_or(label, |(id, _)| id)
                        .to_owned(),
                );
            }
        }
        for d in record["advisoryDocuments"].as_array().into_iter().flatten() {
            if let Some(d) = d.as_str() {
                digests.insert(d.to_owned());
            }
        }
    }
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let (_, documents) =
        crate::assess::load_advisories(sources, &BTreeSet::new(), &ids, Some(&digests), home)
            .map_err(|e| {
                e.context(
                    "the packed micro-witnesses and assessments name advisory documents by \
                   digest, and each must be packed for their verdicts to replay (--advisories)",
                )
            })?;
    let mut out: Vec<Member> = documents
        .into_values()
        .map(|d| Member {
            path: format!("{ADVISORIES}/{}", d.file_name()),
            role: Role::Advisory,
            bytes: d.text.into_bytes(),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// The checkpoint at `path` (a signed note an auditor kept), opened with the log's key and
/// proven a prefix of the log's `current` tree from the log's own tiles: a log that forked
/// since is refused here, before anything is written.
fn since_checkpoint(
    log: &stella_tlog::Log,
    current: &stella_tlog::checkpoint::Checkpoint,
    path: &Path,
) -> Result<(stella_tlog::checkpoint::Checkpoint, String), CliError> {
    let bytes = crate::input::Input::new(path.to_path_buf()).read(64 << 10)?;
    let name = path.display();
    let note = String::from_utf8(bytes)
        .map_err(|_| CliError::input(anyhow!("--since {name}: not a signed note (UTF-8 text)")))?;
    let old = stella_tlog::checkpoint::Checkpoint::open(&note, log.verifier(), log.origin())
        .map_err(|e| {
            CliError::input(anyhow!(
                "--since {name}: not a checkpoint of the log {}: {e}",
                log.origin()
            ))
        })?;
    if old.size > current.size {
        return Err(failed(anyhow!(
            "--since {name}: a checkpoint of {} entries, but the log now holds {}: it was rolled \
             back",
            old.size,
            current.size
        )));
    }
    let proof = if old.size == 0 || old.size == current.size {
        Vec::new()
    } else {
        log.consistency_proof(old.size, current.size)
            .map_err(CliError::kinded)?
    };
    let consistent = if old.size == 0 {
        Ok(())
    } else {
        stella_tlog::merkle::verify_consistency(
            old.size,
            current.size,
            &old.root,
            &current.root,
            &proof,
        )
    };
    consistent.map_err(|e| {
        failed(anyhow!(
            "--since {name}: the log's tree of {} entries is not an extension of the one this \
             checkpoint of {} entries signs ({e}): the log forked",
            current.size,
            old.size
        ))
    })?;
    Ok((old, note))
}

#[allow(clippy::too_many_arguments)]
fn export(
    image: &str,
    output: &Path,
    with_binaries: bool,
    keys: &[PathBuf],
    trusted_root: Option<&Path>,
    since: Option<&Path>,
    advisory_sources: &[String],
    insecure: bool,
    home: &Path,
) -> Result<Outcome, CliError> {
    let reference = Reference::parse(image).map_err(CliError::kinded)?;
    let source = crate::oci::open_store(&reference, insecure)?;
    let work = tempfile::tempdir().map_err(environment)?;
    let layout = work.path().join("oci");
    let packed = Reference::parse(&format!("oci-layout:{}:{TAG}", layout.display()))
        .map_err(CliError::kinded)?;
    let target = crate::oci::open_store_for_writing(&packed, false)?;
    let copied = stella_oci::store::copy(
        source.as_ref(),
        target.as_ref(),
        reference.target(),
        Some(TAG),
    )
    .map_err(|e| CliError::kinded(e).context(format!("--image {image}")))?;
    let digest = copied.digest.to_string();
    let skipped = if with_binaries {
        BTreeSet::new()
    } else {
        layers_of(target.as_ref(), &digest)?
            .into_iter()
            .map(|d| format!("blobs/{}", d.replacen(':', "/", 1)))
            .collect()
    };
    let mut members = Vec::new();
    for (path, bytes) in files_under(&layout)? {
        if skipped.contains(&path) {
            continue;
        }
        let role = if path.starts_with("blobs/") {
            Role::OciBlob
        } else {
            Role::OciLayout
        };
        members.push(Member {
            path: format!("oci/{path}"),
            role,
            bytes,
        });
    }

    // The advisory documents the packed micro-witnesses and assessments rest on, so that their
    // verdicts replay from the pack alone.
    let advisories = advisories_named(&members, advisory_sources, home)?;
    let advisory_count = advisories.len();
    members.extend(advisories);

    // The log: its checkpoint now, and the tiles proving every packed entry's checkpoint
    // consistent with it. Without a local log (a remote one), the entries' own proofs only.
    let sizes = entry_sizes(members.iter().map(|m| m.bytes.as_slice()));
    let log = crate::log::open_existing(home)?;
    let mut tiles = 0usize;
    let mut sizes = sizes;
    if let (Some(path), None) = (since, &log) {
        return Err(CliError::input(anyhow!(
            "--since {}: no embedded log in {} to prove it consistent with",
            path.display(),
            home.display()
        )));
    }
    if let Some(log) = &log {
        let (current, note) = log.checkpoint().map_err(CliError::kinded)?;
        members.push(Member {
            path: "log/checkpoint".to_owned(),
            role: Role::Checkpoint,
            bytes: note.into_bytes(),
        });
        if let Some(path) = since {
            let (old, note) = since_checkpoint(log, &current, path)?;
            sizes.insert(old.size);
            members.push(Member {
                path: SINCE.to_owned(),
                role: Role::Checkpoint,
                bytes: note.into_bytes(),
            });
        }
        let sizes: Vec<u64> = sizes.iter().copied().collect();
        for (path, bytes) in log.consistency_tiles(&sizes).map_err(CliError::kinded)? {
            tiles += 1;
            members.push(Member {
                path: format!("log/{path}"),
                role: Role::Tile,
                bytes,
            });
        }
    }
    let root = match (trusted_root, &log) {
        (Some(path), _) => crate::input::Input::new(path.to_path_buf())
            .read(stella_tlog::audit::MAX_TRUSTED_ROOT_BYTES)?,
        (None, Some(log)) => {
            let mut text = serde_json::to_string_pretty(&log.trusted_root(&log.created()))
                .map_err(environment)?;
            text.push('\n');
            text.into_bytes()
        }
        (None, None) => {
            return Err(CliError::input(anyhow!(
                "no embedded log in {} and no --trusted-root: nothing names the log the \
                 evidence was logged in",
                home.display()
            )));
        }
    };
    members.push(Member {
        path: "trust/trusted_root.json".to_owned(),
        role: Role::TrustedRoot,
        bytes: root,
    });
    let key_paths: Vec<PathBuf> = if keys.is_empty() {
        vec![stella_evidence::keys::DefaultKey::of(home).public]
    } else {
        keys.to_vec()
    };
    // Checked as keys before they are packed.
    trusted_keys(&key_paths, "--key", home)?;
    for (i, path) in key_paths.iter().enumerate() {
        let bytes =
            std::fs::read(path).map_err(|e| CliError::input(anyhow!("{}: {e}", path.display())))?;
        members.push(Member {
            path: format!("trust/keys/{i:03}.pub"),
            role: Role::Key,
            bytes,
        });
    }
    let count = members.len();
    let (_, bytes) =
        pack::write(image, &digest, TAG, with_binaries, members).map_err(CliError::kinded)?;
    write_atomically(output, &bytes)?;
    eprintln!(
        "{}: {count} members ({} bytes): {} manifests and {} blobs of {image} ({digest}){}, \
         {tiles} log tiles, {advisory_count} advisory documents",
        output.display(),
        bytes.len(),
        copied.manifests,
        copied.blobs - skipped.len().min(copied.blobs),
        if with_binaries {
            ", layers included"
        } else {
            ", without its layers"
        },
    );
    Ok(Outcome::Success)
}

/// One check of what a signed claim cites.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Citation {
    /// What was checked (the claim and the verdict or statement).
    pub claim: String,
    /// `ok`, `expired` (a "never executed" past its validity: reported, not a failure) or
    /// `failed`.
    pub status: &'static str,
    /// Why.
    pub detail: String,
}

/// The canonical id of a JSON document's bytes.
fn canonical_id(bytes: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let canonical = stella_core::jcs::to_canonical(&value).ok()?;
    Some(stella_core::Digest::sha256(&canonical).to_string())
}

/// Every signed claim's citations checked against what the pack proves: a VEX statement's
/// assessment is in the pack; a `vulnerable_code_not_present` verdict cites a verified FuncProof
/// that indeed lacks every function it says is absent (searched again by the advisory rules); an
/// `affected` verdict resting on execution cites a signed micro-witness that counts calls; a
/// "never executed" verdict past its validity is reported expired.
pub(crate) fn citations(
    examined: &stella_evidence::verify::Examined,
    now: jiff::Timestamp,
) -> Vec<Citation> {
    use stella_evidence::verify::Scope;
    let mut out = Vec::new();
    let ids = |scope: Scope| -> BTreeMap<String, &[u8]> {
        examined
            .trusted
            .iter()
            .filter(|d| d.scope == scope)
            .filter_map(|d| Some((canonical_id(&d.bytes)?, d.bytes.as_slice())))
            .collect()
    };
    let assessments = ids(Scope::Assessment);
    let witnesses = ids(Scope::MicroWitness);
    for doc in examined.trusted.iter().filter(|d| d.scope == Scope::Vex) {
        let Ok(value) = serde_json::from_slice::<Value>(&doc.bytes) else {
            continue;
        };
        for (i, st) in value["statements"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(cited) = st["@id"]
                .as_str()
                .and_then(|id| id.strip_prefix("urn:stella:assessment:"))
                .and_then(|rest| rest.rsplit_once(':').map(|(id, _)| id.to_owned()))
            else {
                continue;
            };
            let claim = format!("vex {} statement {i}", doc.referrer);
            out.push(match assessments.contains_key(&cited) {
                true => Citation {
                    claim,
                    status: "ok",
                    detail: format!("its evidence {cited} is in the pack, signed"),
                },
                false => Citation {
                    claim,
                    status: "failed",
                    detail: format!(
                        "cites the assessment {cited}, which the pack does not hold signed"
                    ),
                },
            });
        }
    }
    for (id, bytes) in &assessments {
        let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
            continue;
        };
        for v in value["verdicts"].as_array().into_iter().flatten() {
            let claim = format!(
                "assessment {id}: {} in {}",
                v["vulnerability"].as_str().unwrap_or("?"),
                v["binary"]["path"].as_str().unwrap_or("(image)")
            );
            if v["status"] == "not_affected" && v["justification"] == "vulnerable_code_not_present"
            {
                let cited = v["binary"]["funcproof"].as_str().unwrap_or_default();
                let Some(proven) = examined.proven.iter().find(|p| p.digest == cited) else {
                    out.push(Citation {
                        claim: claim.clone(),
                        status: "failed",
                        detail: format!(
                            "cites FuncProof {cited:?}, which is not a verified FuncProof of the pack"
                        ),
                    });
                    continue;
                };
                let purl = v["component"]["purl"].as_str();
                let contradicted = v["symbols"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|s| s["outcome"] == "absent")
                    .find_map(|s| {
                        let name = s["name"].as_str()?;
                        let path = s["path"].as_str().unwrap_or_default();
                        stella_policy::assess::recheck_absence(&proven.proof, purl, path, name)
                            .map(|f| format!("says {name} is absent, but the FuncProof holds {f}"))
                    });
                out.push(match contradicted {
                    Some(detail) => Citation {
                        claim: claim.clone(),
                        status: "failed",
                        detail,
                    },
                    None => Citation {
                        claim: claim.clone(),
                        status: "ok",
                        detail: format!("absence searched again in FuncProof {cited}"),
                    },
                });
            }
            let outcome = v["runtime"]["outcome"].as_str().unwrap_or_default();
            if outcome == "executed" || outcome == "never_executed" {
                let cited = v["runtime"]["microWitness"].as_str().unwrap_or_default();
                let Some(witness) = witnesses.get(cited) else {
                    out.push(Citation {
                        claim,
                        status: "failed",
                        detail: format!(
                            "rests on runtime evidence but cites micro-witness {cited:?}, which the \
                             pack does not hold signed"
                        ),
                    });
                    continue;
                };
                let counted: u64 = serde_json::from_slice::<Value>(witness)
                    .ok()
                    .and_then(|w| {
                        w["symbols"]
                            .as_array()
                            .map(|s| s.iter().filter_map(|x| x["count"].as_u64()).sum::<u64>())
                    })
                    .unwrap_or(0);
                let until = v["runtime"]["validUntil"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok());
                out.push(match (outcome, counted, until) {
                    ("executed", 0, _) => Citation {
                        claim,
                        status: "failed",
                        detail: format!(
                            "affected on execution, but micro-witness {cited} counts no call"
                        ),
                    },
                    ("executed", n, _) => Citation {
                        claim,
                        status: "ok",
                        detail: format!("micro-witness {cited} counts {n}"),
                    },
                    (_, n, _) if n > 0 => Citation {
                        claim,
                        status: "failed",
                        detail: format!("never executed, but micro-witness {cited} counts {n}"),
                    },
                    (_, _, Some(until)) if until < now => Citation {
                        claim,
                        status: "expired",
                        detail: format!("never executed until {until}: expired, renew the witness"),
                    },
                    _ => Citation {
                        claim,
                        status: "ok",
                        detail: format!("micro-witness {cited} counts no call"),
                    },
                });
            }
        }
    }
    out
}

/// Writes the checked members of `pack` under `dir`.
fn unpack(pack: &pack::Pack, dir: &Path) -> Result<(), CliError> {
    for (path, bytes) in &pack.members {
        // Every path was checked by `pack::read`: relative, plain components, no `..`.
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(environment)?;
        }
        std::fs::write(&file, bytes).map_err(environment)?;
    }
    Ok(())
}

/// A pack read, checked member by member against its manifest and unpacked into a temporary
/// directory, with a fresh home whose only memory of the log is the packed checkpoint (once it
/// verifies with the trusted root), and the keys and trusted root to verify it with.
pub(crate) struct Unpacked {
    /// Holds the unpacked members and the home; removed when dropped.
    _work: tempfile::TempDir,
    /// The manifest.
    pub manifest: pack::Manifest,
    /// Where the members were unpacked.
    pub dir: PathBuf,
    /// The fresh home.
    pub home: PathBuf,
    /// The packed image, as an `oci-layout:` reference.
    pub image: String,
    /// The public keys trusted, and where they came from.
    pub keys: Vec<PathBuf>,
    pub key_source: &'static str,
    /// The trusted root, and where it came from.
    pub root: PathBuf,
    pub root_source: &'static str,
    /// The sizes of the checkpoint seen before (`export --since`) and of the packed one,
    /// proven consistent.
    pub since: Option<(u64, u64)>,
}

impl Unpacked {
    /// The packed image opened for verification: the trusted keys and root, the packed tiles
    /// for consistency proofs.
    pub(crate) fn opened(&self) -> Result<Opened, CliError> {
        let reference = Reference::parse(&self.image).map_err(CliError::kinded)?;
        Ok(Opened::new(
            &reference,
            false,
            trusted_keys(&self.keys, "--key", &self.home)?,
            Some(&self.root),
            &self.home,
        )?
        .with_tiles(&self.tiles()))
    }

    /// The packed log's hash tiles.
    pub(crate) fn tiles(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// The packed advisory documents, when there are any.
    pub(crate) fn advisories(&self) -> Option<PathBuf> {
        let dir = self.dir.join(ADVISORIES);
        dir.is_dir().then_some(dir)
    }
}

/// Reads and unpacks the pack at `path` (see [`Unpacked`]). `Ok(Err(why))` when the pack is
/// refused: a member fails its manifest, the trust it needs is missing, its checkpoint is not
/// signed by a trusted log, or its image is not the one the manifest names.
pub(crate) fn open_pack(
    path: &Path,
    keys: &[PathBuf],
    trusted_root: Option<&Path>,
    max_size: u64,
) -> Result<Result<Unpacked, String>, CliError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| CliError::input(anyhow!("{name}: {e}")))?;
    let limits = pack::Limits {
        max_bytes: max_size,
        ..Default::default()
    };
    let pack = match pack::read(std::io::BufReader::new(file), &limits) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let work = tempfile::tempdir().map_err(environment)?;
    let unpacked = work.path().join("pack");
    unpack(&pack, &unpacked)?;
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).map_err(environment)?;

    // Trust: the flags' files pin it; otherwise what the pack carries, and the output says so.
    let packed_keys: Vec<PathBuf> = pack
        .manifest
        .members
        .iter()
        .filter(|m| m.role == Role::Key)
        .map(|m| unpacked.join(&m.path))
        .collect();
    let (key_paths, key_source) = if keys.is_empty() {
        (packed_keys, "the keys in the pack")
    } else {
        (keys.to_vec(), "--key")
    };
    if key_paths.is_empty() {
        return Ok(Err(
            "the pack holds no public key and none was given with --key".into(),
        ));
    }
    let packed_root = unpacked.join("trust/trusted_root.json");
    let (root_path, root_source) = match trusted_root {
        Some(p) => (p.to_path_buf(), "--trusted-root"),
        None if packed_root.is_file() => (packed_root, "the trusted root in the pack"),
        None => {
            return Ok(Err(
                "the pack holds no trusted root and none was given".into()
            ));
        }
    };
    let pack::Pack { manifest, .. } = pack;
    let unpacked = Unpacked {
        image: format!(
            "oci-layout:{}:{}",
            unpacked.join("oci").display(),
            manifest.tag
        ),
        manifest,
        dir: unpacked,
        home,
        keys: key_paths,
        key_source,
        root: root_path,
        root_source,
        since: None,
        _work: work,
    };
    let mut unpacked = unpacked;
    let opened = unpacked.opened()?;
    if opened.image.root.digest.to_string() != unpacked.manifest.digest {
        return Ok(Err(format!(
            "the packed layout's image is {}, the manifest says {}",
            opened.image.root.digest, unpacked.manifest.digest
        )));
    }
    // The packed checkpoint is what this fresh home has seen of its log, once it verifies.
    let checkpoint = unpacked.dir.join("log/checkpoint");
    if checkpoint.is_file() {
        let note = std::fs::read_to_string(&checkpoint)
            .map_err(|e| CliError::input(anyhow!("log/checkpoint: {e}")))?;
        let log = opened.trusted_logs().iter().find(|l| {
            stella_tlog::checkpoint::Checkpoint::open(&note, &l.verifier, &l.origin).is_ok()
        });
        let Some(log) = log else {
            return Ok(Err(format!(
                "log/checkpoint: not signed by a log of {}",
                unpacked.root_source
            )));
        };
        let witness = stella_tlog::witness::Witness::new(&unpacked.home.join("witness"));
        let remembered = witness.path(&log.log_id);
        if let Some(parent) = remembered.parent() {
            std::fs::create_dir_all(parent).map_err(environment)?;
        }
        // The checkpoint the auditor saw before (export --since) is remembered first, and the
        // packed one must be proven consistent with it from the packed tiles.
        let since = unpacked.dir.join(SINCE);
        if since.is_file() {
            let old = std::fs::read_to_string(&since)
                .map_err(|e| CliError::input(anyhow!("{SINCE}: {e}")))?;
            if let Err(e) =
                stella_tlog::checkpoint::Checkpoint::open(&old, &log.verifier, &log.origin)
            {
                return Ok(Err(format!(
                    "{SINCE}: not signed by the log of log/checkpoint: {e}"
                )));
            }
            std::fs::write(&remembered, old.as_bytes()).map_err(environment)?;
            let current =
                stella_tlog::checkpoint::Checkpoint::open(&note, &log.verifier, &log.origin)
                    .map_err(|e| CliError::input(anyhow!("log/checkpoint: {e}")))?;
            let tiles = stella_tlog::log::TilesDir::new(unpacked.tiles());
            let prove = |old: u64, new: u64| {
                stella_tlog::merkle::consistency_proof(
                    &stella_tlog::log::TileView::new(&tiles, new),
                    old,
                    new,
                )
            };
            match witness.observe(&log.log_id, &log.verifier, &current, &note, &prove) {
                Ok(
                    stella_tlog::witness::Observation::First
                    | stella_tlog::witness::Observation::Same
                    | stella_tlog::witness::Observation::Consistent { .. },
                ) => {
                    let old =
                        stella_tlog::checkpoint::Checkpoint::open(&old, &log.verifier, &log.origin)
                            .map_err(|e| CliError::input(anyhow!("{SINCE}: {e}")))?;
                    unpacked.since = Some((old.size, current.size));
                }
                Ok(stella_tlog::witness::Observation::Unproven { remembered, why }) => {
                    return Ok(Err(format!(
                        "log/checkpoint: not proven consistent with {SINCE} ({remembered} \
                         entries): {why}"
                    )));
                }
                Err(e) => {
                    return Ok(Err(format!(
                        "log/checkpoint: not proven consistent with {SINCE}: {e}"
                    )));
                }
            }
        } else {
            std::fs::write(&remembered, note.as_bytes()).map_err(environment)?;
        }
    }
    Ok(Ok(unpacked))
}

/// How a pack is opened and verified (`stella audit verify`'s flags).
pub(crate) struct PackTrust<'a> {
    /// Public keys that pin trust instead of the packed ones.
    pub keys: &'a [PathBuf],
    /// A trusted root that pins trust instead of the packed one.
    pub trusted_root: Option<&'a Path>,
    /// Replay FuncProofs against this root filesystem instead of the packed layers.
    pub rootfs: Option<&'a Path>,
    /// Check signatures, records and log proofs only.
    pub signatures_only: bool,
    /// Largest pack read.
    pub max_size: u64,
    /// No progress bars (machine output on stdout).
    pub quiet: bool,
}

/// A pack opened ([`open_pack`]) and examined there, as `stella audit verify` does.
pub(crate) struct OpenedPack {
    /// The pack, unpacked, with its fresh home and the trust it is verified with.
    pub pack: Unpacked,
    /// The unpacked layout, keys and trust opened.
    pub opened: Opened,
    /// What the replay found.
    pub examined: stella_evidence::verify::Examined,
    /// Every signed claim's citations checked against what the pack proves.
    pub cited: Vec<Citation>,
    /// Whether FuncProofs were recomputed (not signatures only).
    pub replayed: bool,
}

impl OpenedPack {
    /// The fresh home the pack was examined with.
    pub(crate) fn home(&self) -> PathBuf {
        self.pack.home.clone()
    }

    /// Whether everything holds: the replay and every citation.
    pub(crate) fn verified(&self) -> bool {
        self.examined.verified() && self.cited.iter().all(|c| c.status != "failed")
    }
}

/// Reads, unpacks and examines the pack at `path`. `Ok(Err(why))` when the pack is refused
/// before it can be examined (a bad member, no trust, nothing to replay against).
pub(crate) fn open_verified(
    path: &Path,
    trust: &PackTrust<'_>,
) -> Result<Result<OpenedPack, String>, CliError> {
    if let Some(dir) = trust.rootfs
        && !dir.is_dir()
    {
        return Err(CliError::input(anyhow!(
            "--rootfs {}: not a directory",
            dir.display()
        )));
    }
    let unpacked = match open_pack(path, trust.keys, trust.trusted_root, trust.max_size)? {
        Ok(u) => u,
        Err(why) => return Ok(Err(why)),
    };
    let opened = unpacked.opened()?;
    let replay = match (
        trust.rootfs,
        unpacked.manifest.binaries,
        trust.signatures_only,
    ) {
        (_, _, true) => Replay::SignaturesOnly,
        (Some(dir), _, false) => Replay::Full {
            rootfs: Some(dir),
            jobs: None,
        },
        (None, true, false) => Replay::Full {
            rootfs: None,
            jobs: None,
        },
        (None, false, false) => {
            return Ok(Err(
                "its FuncProofs cannot be replayed: the pack holds no binaries (export with \
                 --with-binaries) and no --rootfs was given; --signatures-only checks the \
                 signatures alone"
                    .into(),
            ));
        }
    };
    let progress = crate::bars::for_terminal(trust.quiet);
    let examined = opened.examine(
        &unpacked.home,
        &unpacked.manifest.image,
        None,
        &replay,
        progress.as_ref(),
    )?;
    drop(progress);
    let cited = citations(&examined, jiff::Timestamp::now());
    Ok(Ok(OpenedPack {
        pack: unpacked,
        opened,
        examined,
        cited,
        replayed: !matches!(replay, Replay::SignaturesOnly),
    }))
}

fn verify(
    path: &Path,
    keys: &[PathBuf],
    trusted_root: Option<&Path>,
    rootfs: Option<&Path>,
    signatures_only: bool,
    max_size: u64,
    json: bool,
) -> Result<Outcome, CliError> {
    let name = path.display().to_string();
    let refused = |why: String| -> Result<Outcome, CliError> {
        if json {
            crate::print::json(
                &crate::print::Schema::new("audit.verify"),
                &json!({"pack": name, "verified": false, "refused": why}),
            )?;
        }
        eprintln!("{name}: not verified: {why}");
        Ok(Outcome::Failed)
    };
    let opened = match open_verified(
        path,
        &PackTrust {
            keys,
            trusted_root,
            rootfs,
            signatures_only,
            max_size,
            quiet: json,
        },
    )? {
        Ok(o) => o,
        Err(why) => return refused(why),
    };
    let ok = opened.verified();
    let OpenedPack {
        pack,
        examined,
        cited,
        replayed,
        ..
    } = &opened;
    let (key_source, root_source) = (pack.key_source, pack.root_source);
    let roles: BTreeMap<String, usize> =
        pack.manifest
            .members
            .iter()
            .fold(BTreeMap::new(), |mut m, l| {
                *m.entry(format!("{:?}", l.role)).or_default() += 1;
                m
            });
    if json {
        crate::print::json(
            &crate::print::Schema::new("audit.verify"),
            &json!({
                "pack": name,
                "image": pack.manifest.image,
                "digest": pack.manifest.digest,
                "verified": ok,
                "keys": key_source,
                "trustedRoot": root_source,
                "replayed": replayed,
                "since": pack.since.map(|(old, new)| json!({"checkpoint": old, "packed": new})),
                "members": pack.manifest.members.len() + 1,
                "record": examined.record,
                "artifacts": examined.verdicts,
                "citations": cited,
                "failed": examined.count(Status::Failed)
                    + cited.iter().filter(|c| c.status == "failed").count(),
            }),
        )?;
    } else {
        let mut text = format!(
            "{name}: {} members ({}) match the manifest; trusting {key_source} and \
             {root_source}{}\n",
            pack.manifest.members.len() + 1,
            roles
                .iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect::<Vec<_>>()
                .join(", "),
            if !*replayed {
                "; FuncProofs not replayed (--signatures-only)"
            } else {
                ""
            }
        );
        if let Some((old, new)) = pack.since {
            text.push_str(&format!(
                "the log's packed checkpoint ({new} entries) is proven consistent with the one \
                 seen before ({old} entries, --since)\n"
            ));
        }
        text.push_str(&crate::verify_image::table(
            &pack.manifest.image,
            &pack.manifest.digest,
            examined,
            true,
        ));
        if !cited.is_empty() {
            text.push_str("\nCITED EVIDENCE\n");
            for c in cited {
                text.push_str(&format!(
                    "{:<8} {}: {}\n",
                    c.status.to_uppercase(),
                    c.claim,
                    c.detail
                ));
            }
        }
        write_stdout(text.as_bytes())?;
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
