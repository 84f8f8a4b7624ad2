//! Verification of a bundle's log entries as an auditor needs it: each entry binds the
//! envelope, its checkpoint is signed by a trusted log and proves inclusion
//! ([`crate::verify_entry`]); the checkpoint does not contradict what this machine saw of the
//! same log before (the [`Witness`]: a split view or a rollback is a failure, a consistency
//! that cannot be proven fails or warns as the caller says); and the local log, when the entry
//! is from it, still holds the entry at its index. Where the trusted logs come from is here
//! too: a trusted-root document, or the embedded log's own root.
//!
//! The answer is data: the verified entries (with warnings), or an [`EntryFailure`] saying
//! which entry failed and why; only what stops the check itself (the witness directory
//! cannot be written, the local log is damaged) is an error.
//!
//! Not here: the envelope's signature (`stella-attest`), printing.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stella_attest::Envelope;

use crate::log::{Log, TileReader, TileView};
use crate::merkle::{self, Hash};
use crate::verify::{TrustedLog, VerifiedEntry, trusted_logs, verify_entry};
use crate::witness::{Observation, Witness};
use crate::{ProofError, TlogEntry, TlogError};

/// Largest trusted-root document read.
pub const MAX_TRUSTED_ROOT_BYTES: usize = 1 << 20;

/// What a consistency that cannot be proven (no proof to be had: the log is neither local nor
/// reachable, or its tiles are gone) makes of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unproven {
    /// A clean failure: nothing says the log did not show another history.
    Fails,
    /// A warning, where the log is optional.
    Warns,
}

/// What the entry checks use besides the entries.
#[derive(Clone, Copy)]
pub struct EntryCheck<'a> {
    /// The logs trusted (from a trusted root).
    pub logs: &'a [TrustedLog],
    /// What this machine saw of each log before.
    pub witness: &'a Witness,
    /// The local log, if there is one: consistency proofs, and the entry it must still hold.
    pub local: Option<&'a Log>,
    /// A log's tile API, for consistency proofs of a log that is not local.
    pub remote: Option<&'a dyn TileReader>,
    /// What an unproven consistency is.
    pub unproven: Unproven,
}

/// Which checkpoint an observation was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The local log's current checkpoint.
    TheLog,
    /// The checkpoint the entry carries.
    ItsCheckpoint,
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Observed::TheLog => "the log",
            Observed::ItsCheckpoint => "its checkpoint",
        })
    }
}

/// Why a bundle's log entry does not hold (`entry` is its position in `tlogEntries[]`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryFailure {
    /// The entry itself does not verify: malformed, about another envelope, from a log the
    /// trusted root does not name, a checkpoint that does not open, a proof that fails.
    #[error("log entry {entry}: {}", source.with_sources())]
    Invalid {
        /// Position in `tlogEntries[]`.
        entry: usize,
        /// Why.
        source: TlogError,
    },
    /// The log showed two histories: this checkpoint and the one seen before.
    #[error("log entry {entry}: {}", source.with_sources())]
    SplitView {
        /// Position in `tlogEntries[]`.
        entry: usize,
        /// The split view ([`TlogError::SplitView`]).
        source: TlogError,
    },
    /// The local log holds fewer entries than it was seen to hold.
    #[error("log entry {entry}: {}", source.with_sources())]
    Rollback {
        /// Position in `tlogEntries[]`.
        entry: usize,
        /// The rollback ([`TlogError::Rollback`]).
        source: TlogError,
    },
    /// No consistency proof could be had against the checkpoint seen before.
    #[error(
        "log entry {entry}: consistency of {observed} with the checkpoint of {remembered} \
         entries seen before was not proven ({why})"
    )]
    Unproven {
        /// Position in `tlogEntries[]`.
        entry: usize,
        /// Which checkpoint.
        observed: Observed,
        /// The size of the one seen before.
        remembered: u64,
        /// Why no proof could be had.
        why: String,
    },
    /// The local log holds another entry at the entry's index.
    #[error("log entry {entry}: the log holds another entry at index {log_index}")]
    Replaced {
        /// Position in `tlogEntries[]`.
        entry: usize,
        /// The index.
        log_index: u64,
    },
    /// The local log does not hold the entry's index (any more).
    #[error("log entry {entry}: the log does not hold entry {log_index} ({})", source.with_sources())]
    Missing {
        /// Position in `tlogEntries[]`.
        entry: usize,
        /// The index.
        log_index: u64,
        /// Why it cannot be read.
        source: TlogError,
    },
}

/// The verified entries, and the unproven consistencies a [`Unproven::Warns`] check let
/// through.
#[derive(Debug, Default)]
pub struct VerifiedEntries {
    /// Every entry of a trusted log, verified.
    pub entries: Vec<VerifiedEntry>,
    /// Unproven consistencies (only [`EntryFailure::Unproven`]).
    pub warnings: Vec<EntryFailure>,
}

/// Checks every entry of `raw_entries` (a bundle's `tlogEntries[]`) for `envelope`, as the
/// module documentation says. `Ok(Err(_))` is a clean verification failure.
///
/// # Errors
/// [`TlogError`] for what stops the check: a damaged remembered checkpoint or local log, the
/// witness directory.
pub fn check_entries(
    raw_entries: &[Value],
    envelope: &Envelope,
    check: &EntryCheck<'_>,
) -> Result<Result<VerifiedEntries, EntryFailure>, TlogError> {
    let mut verified = VerifiedEntries::default();
    let mut local_observed = false;
    for (i, raw) in raw_entries.iter().enumerate() {
        let checked = TlogEntry::from_json(raw).and_then(|entry| {
            let v = verify_entry(&entry, envelope, check.logs)?;
            Ok((entry, v))
        });
        let (entry, verified_entry) = match checked {
            Ok(v) => v,
            Err(source) => return Ok(Err(EntryFailure::Invalid { entry: i, source })),
        };
        let Some(trusted) = check.logs.iter().find(|l| l.log_id == entry.log_id) else {
            continue;
        };
        let here = check.local.filter(|l| l.log_id() == entry.log_id);
        // The log at hand first: smaller than it was seen is a rollback, whatever the bundle.
        if let Some(log) = here.filter(|_| !local_observed) {
            local_observed = true;
            let observation = check.witness.observe_local(log);
            if let Some(failure) = observed(i, Observed::TheLog, observation, check, &mut verified)?
            {
                return Ok(Err(failure));
            }
        }
        let prove = |old: u64, new: u64| -> Result<Vec<Hash>, TlogError> {
            if let Some(log) = here {
                return log.consistency_proof(old, new);
            }
            match check.remote {
                Some(tiles) => merkle::consistency_proof(&TileView::new(tiles, new), old, new),
                None => Err(ProofError::NoSource.into()),
            }
        };
        let observation = check.witness.observe(
            &entry.log_id,
            &trusted.verifier,
            &verified_entry.checkpoint,
            &entry.checkpoint,
            &prove,
        );
        if let Some(failure) = observed(
            i,
            Observed::ItsCheckpoint,
            observation,
            check,
            &mut verified,
        )? {
            return Ok(Err(failure));
        }
        // The log at hand must still hold the entry at its index: a log that lost or replaced
        // it no longer backs the bundle, whatever the bundle's own proof says.
        if let Some(log) = here {
            match log.entry(entry.log_index) {
                Ok(body) if body == entry.body => {}
                Ok(_) => {
                    return Ok(Err(EntryFailure::Replaced {
                        entry: i,
                        log_index: entry.log_index,
                    }));
                }
                Err(source) => {
                    return Ok(Err(EntryFailure::Missing {
                        entry: i,
                        log_index: entry.log_index,
                        source,
                    }));
                }
            }
        }
        verified.entries.push(verified_entry);
    }
    Ok(Ok(verified))
}

/// A witness observation as the check's answer: a split view, a rollback or (when it fails)
/// an unproven consistency is a failure; a damaged remembered note or local log stops the
/// check.
fn observed(
    entry: usize,
    what: Observed,
    result: Result<Observation, TlogError>,
    check: &EntryCheck<'_>,
    verified: &mut VerifiedEntries,
) -> Result<Option<EntryFailure>, TlogError> {
    match result {
        Ok(Observation::Unproven { remembered, why }) => {
            let failure = EntryFailure::Unproven {
                entry,
                observed: what,
                remembered,
                why,
            };
            match check.unproven {
                Unproven::Fails => Ok(Some(failure)),
                Unproven::Warns => {
                    verified.warnings.push(failure);
                    Ok(None)
                }
            }
        }
        Ok(_) => Ok(None),
        Err(source @ TlogError::SplitView { .. }) => {
            Ok(Some(EntryFailure::SplitView { entry, source }))
        }
        Err(source @ TlogError::Rollback { .. }) => {
            Ok(Some(EntryFailure::Rollback { entry, source }))
        }
        Err(source @ TlogError::Proof(_)) => Ok(Some(EntryFailure::Invalid { entry, source })),
        Err(e) => Err(e),
    }
}

/// The logs a trusted-root document names.
///
/// # Errors
/// [`TlogError::Json`] for a document that is not JSON; [`TlogError::TrustedRoot`] for one
/// that is not a trusted root or names no usable log.
pub fn trusted_logs_from_document(bytes: &[u8]) -> Result<Vec<TrustedLog>, TlogError> {
    let value = stella_core::jcs::parse(bytes)?.to_serde();
    trusted_logs(&value)
}

/// The embedded log's own trusted root: the log as it names itself.
///
/// # Errors
/// [`TlogError::TrustedRoot`] when its root cannot be read back (a log key of another kind).
pub fn trusted_logs_of(log: &Log) -> Result<Vec<TrustedLog>, TlogError> {
    trusted_logs(&log.trusted_root(&log.created()))
}

/// The logs a verification trusts: those of the trusted-root file at `path`, else the
/// embedded log's own, else none (`None`: there is nothing to check log entries against).
///
/// # Errors
/// [`TlogError::InFile`] naming the file for a file that cannot be read, is too large, or is
/// not a trusted root; what [`trusted_logs_of`] reports.
pub fn load_trusted_logs(
    path: Option<&Path>,
    embedded: Option<&Log>,
) -> Result<Option<Vec<TrustedLog>>, TlogError> {
    match (path, embedded) {
        (Some(path), _) => {
            let in_file = |source: TlogError| TlogError::InFile {
                path: path.to_path_buf(),
                source: Box::new(source),
            };
            let bytes = read_bounded(path, MAX_TRUSTED_ROOT_BYTES).map_err(in_file)?;
            trusted_logs_from_document(&bytes)
                .map(Some)
                .map_err(in_file)
        }
        (None, Some(log)) => trusted_logs_of(log).map(Some),
        (None, None) => Ok(None),
    }
}

/// A regular file's bytes, at most `max` of them.
fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, TlogError> {
    let (file, metadata) =
        stella_core::file::open_regular(path).map_err(|e| open_error(path, e))?;
    let too_large = |size: u64| TlogError::FileTooLarge {
        path: PathBuf::from(path),
        size,
        max,
    };
    if metadata.len() > max as u64 {
        return Err(too_large(metadata.len()));
    }
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| TlogError::io(path, e))?;
    if bytes.len() > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

fn open_error(path: &Path, e: stella_core::file::OpenError) -> TlogError {
    match e {
        stella_core::file::OpenError::Io { source, .. } => TlogError::io(path, source),
        other => TlogError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        ),
    }
}
