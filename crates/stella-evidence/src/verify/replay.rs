//! Replaying FuncProofs against files: every checked FuncProof at every path of its binary, in
//! parallel, against the deployed files or the image's layers unpacked.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use stella_binary::{FuncProof, MappedFile};
use stella_core::Digest;
use stella_oci::image::{self, UnpackLimits};

use super::checks::Checked;
use super::{MAX_NAMED_MISMATCHES, ProvenBinary, Reason, ReasonKind, Verdict, Verifier};
use crate::EvidenceError;
use crate::progress::{self, Event, Phase, Progress};

/// Replays every checked FuncProof at every path of its binary, in parallel.
pub(super) fn all(
    v: &Verifier<'_>,
    checked: Vec<Checked<'_>>,
    rootfs: Option<&Path>,
    jobs: Option<usize>,
    progress: &dyn Progress,
) -> Result<(Vec<Verdict>, Vec<ProvenBinary>), EvidenceError> {
    let (root, _unpacked) = if checked.is_empty() {
        (PathBuf::new(), None)
    } else {
        root_of(v, rootfs, progress)?
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| EvidenceError::invalid("worker threads", e.to_string()))?;
    let total: u64 = checked
        .iter()
        .filter_map(|c| c.proof.as_ref().map(|p| p.file.size))
        .sum();
    let replayed: Vec<(Verdict, Option<ProvenBinary>)> = progress::phase(
        progress,
        Phase::Replay,
        Some(total),
        format!("{} binaries", checked.len()),
        || {
            pool.install(|| {
                checked
                    .into_par_iter()
                    .map(|c| {
                        let out = one(&root, c);
                        if let (_, Some(p)) = &out {
                            progress.event(Event::Advance {
                                phase: Phase::Replay,
                                done: p.proof.file.size,
                                item: p.path.clone(),
                            });
                        }
                        out
                    })
                    .collect()
            })
        },
    );
    let mut verdicts = Vec::new();
    let mut proven = Vec::new();
    for (verdict, p) in replayed {
        verdicts.push(verdict);
        proven.extend(p);
    }
    Ok((verdicts, proven))
}

fn one(root: &Path, c: Checked<'_>) -> (Verdict, Option<ProvenBinary>) {
    let Checked {
        verdict: mut v,
        proof,
        layer,
        paths,
    } = c;
    let Some(proof) = proof else {
        return (v, None);
    };
    let paths = if paths.is_empty() {
        vec![layer.title.clone()]
    } else {
        paths
    };
    // The first path is re-derived in full; every other one must hold the same bytes (its
    // SHA-256 equals the verified file's), and is re-derived only to name what differs when it
    // does not.
    let mut verified_once = false;
    for path in &paths {
        verified_once = at(root, path, &proof, verified_once, &mut v);
    }
    if v.ok {
        v.detail = Some(format!(
            "{} functions and {} sections replayed at {} path{}",
            proof.functions.len(),
            proof.sections.len(),
            paths.len(),
            if paths.len() == 1 { "" } else { "s" }
        ));
    }
    let proven = ProvenBinary {
        path: layer.title.clone(),
        digest: layer.digest.clone(),
        log: v.log.clone(),
        proof,
    };
    let ok = v.ok;
    (v, ok.then_some(proven))
}

/// The directory the FuncProofs are replayed against: `rootfs`, or the image's layers
/// unpacked into a temporary directory.
fn root_of(
    v: &Verifier<'_>,
    rootfs: Option<&Path>,
    progress: &dyn Progress,
) -> Result<(PathBuf, Option<tempfile::TempDir>), EvidenceError> {
    if let Some(dir) = rootfs {
        return Ok((dir.to_path_buf(), None));
    }
    std::fs::create_dir_all(v.tmp_dir).map_err(EvidenceError::io(v.tmp_dir))?;
    let tmp = tempfile::Builder::new()
        .prefix("verify-")
        .tempdir_in(v.tmp_dir)
        .map_err(EvidenceError::io(v.tmp_dir))?;
    progress::phase(
        progress,
        Phase::Unpack,
        None,
        v.image.root.digest.to_string(),
        || image::unpack(v.store, v.image, tmp.path(), &UnpackLimits::default()),
    )
    .map_err(EvidenceError::oci(format!(
        "unpacking {}",
        v.image.root.digest
    )))?;
    Ok((tmp.path().to_path_buf(), Some(tmp)))
}

/// Replays `proof` against the binary at `path` under `root`; true when the proof holds there.
/// With `same_bytes_suffice` (the proof already held at another path), a file whose SHA-256
/// equals the proof's needs no re-derivation: it is the same bytes.
fn at(
    root: &Path,
    path: &str,
    proof: &FuncProof,
    same_bytes_suffice: bool,
    v: &mut Verdict,
) -> bool {
    let Some(real) = stella_sbom::rootfs::resolve_in_root(root, path) else {
        v.fail(
            Reason::new(
                ReasonKind::Missing,
                format!("binary {path} is not in the image"),
            )
            .at(path),
        );
        return false;
    };
    let file = root.join(real.trim_start_matches('/'));
    let mapped = match MappedFile::open(&file) {
        Ok(m) => m,
        Err(e) => {
            v.fail(Reason::new(ReasonKind::Unreadable, format!("binary {path}: {e}")).at(path));
            return false;
        }
    };
    if same_bytes_suffice && Digest::sha256(&mapped) == proof.file.sha256 {
        return true;
    }
    use stella_binary::MismatchKind::{Fragment, Function};
    match proof.verify(&mapped) {
        Ok(mismatches) if mismatches.is_empty() => true,
        Ok(mismatches) => {
            let functions: Vec<String> = mismatches
                .iter()
                .filter(|m| matches!(m.kind, Function | Fragment))
                .map(|m| match m.range {
                    Some((s, e)) => format!("{} [{s}, {e})", m.name),
                    None => m.name.clone(),
                })
                .collect();
            let others: Vec<String> = mismatches
                .iter()
                .filter(|m| !matches!(m.kind, Function | Fragment))
                .map(|m| format!("{} {}", m.kind, m.name))
                .collect();
            let mut message = format!("binary {path} differs from its FuncProof:");
            if !functions.is_empty() {
                message.push_str(&format!(
                    " function{} {}",
                    if functions.len() == 1 { "" } else { "s" },
                    functions
                        .iter()
                        .take(MAX_NAMED_MISMATCHES)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if functions.len() > MAX_NAMED_MISMATCHES {
                    message.push_str(&format!(
                        " and {} more",
                        functions.len() - MAX_NAMED_MISMATCHES
                    ));
                }
                message.push(';');
            }
            if !others.is_empty() {
                message.push_str(&format!(" {}", others.join(", ")));
            }
            let mut reason =
                Reason::new(ReasonKind::Binary, message.trim_end_matches(';').to_owned()).at(path);
            reason.functions = functions;
            v.fail(reason);
            false
        }
        Err(e) => {
            v.fail(Reason::new(ReasonKind::Unreadable, format!("binary {path}: {e}")).at(path));
            false
        }
    }
}
