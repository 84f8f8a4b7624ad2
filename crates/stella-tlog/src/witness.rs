//! What this machine has seen of each log: the largest verified checkpoint per log (by log
//! id), kept as a signed note in a directory (`$STELLA_HOME/witness`). Every new checkpoint of
//! the same log must be consistent with it: the same size with another root hash, or a
//! consistency proof that fails, is a split view (the log showed two histories) and is
//! refused; a local log smaller than what was seen of it is a rollback and is refused. When no
//! consistency proof can be had (the log is neither local nor reachable, or its tiles are
//! gone), the observation is reported as unproven and the remembered checkpoint is kept: the
//! caller decides whether that is a failure.
//!
//! Observations of one log are serialised by a lock (`<id>.lock`), so the larger checkpoint is
//! always the one kept, and the note is replaced through a uniquely named temporary file
//! renamed over it: concurrent verifications never see half a note or trip over each other's
//! temporary file.
//!
//! A remembered note that no longer verifies is reported ([`TlogError::RememberedDamaged`]),
//! never silently replaced: replacing it would forget how large the log was seen to be. It is
//! dealt with deliberately (restored from a backup, or moved aside, which `stella log fsck
//! --repair` does for the local log).
//!
//! Not here: where proofs come from (a closure the caller passes).

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::checkpoint::Checkpoint;
use crate::log::Log;
use crate::merkle::{self, Hash};
use crate::note::NoteVerifier;
use crate::{ProofError, TlogError};

/// How a checkpoint relates to the one remembered for its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Nothing was remembered for this log; this checkpoint now is.
    First,
    /// The same checkpoint as the remembered one.
    Same,
    /// Proven consistent with the remembered checkpoint of `remembered` entries.
    Consistent {
        /// Size of the remembered checkpoint.
        remembered: u64,
    },
    /// No proof could be obtained against the remembered checkpoint of `remembered` entries.
    Unproven {
        /// Size of the remembered checkpoint.
        remembered: u64,
        /// Why no proof could be had.
        why: String,
    },
}

/// The remembered checkpoints.
#[derive(Debug, Clone)]
pub struct Witness {
    dir: PathBuf,
}

impl Witness {
    /// Checkpoints kept in `dir`.
    pub fn new(dir: &Path) -> Self {
        Witness {
            dir: dir.to_path_buf(),
        }
    }

    /// The file the checkpoint of log `log_id` is remembered in.
    pub fn path(&self, log_id: &[u8]) -> PathBuf {
        self.dir.join(URL_SAFE_NO_PAD.encode(log_id))
    }

    /// The remembered checkpoint of the log `log_id`, opened with its key.
    ///
    /// # Errors
    /// [`TlogError::RememberedDamaged`] when the remembered note no longer verifies;
    /// [`TlogError::Io`] when it cannot be read.
    pub fn remembered(
        &self,
        log_id: &[u8],
        verifier: &NoteVerifier,
        origin: &str,
    ) -> Result<Option<Checkpoint>, TlogError> {
        let path = self.path(log_id);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TlogError::io(&path, e)),
        };
        let damaged = |source: TlogError| TlogError::RememberedDamaged {
            path: path.clone(),
            source: Box::new(source),
        };
        let note = String::from_utf8(bytes)
            .map_err(|_| damaged(TlogError::Note("not UTF-8 text".to_owned())))?;
        Checkpoint::open(&note, verifier, origin)
            .map(Some)
            .map_err(damaged)
    }

    /// Checks the verified checkpoint `checkpoint` (its note `note`) of log `log_id` against
    /// the remembered one; `prove(old, new)` gives a consistency proof between two sizes.
    /// Remembers the larger of the two once they are proven consistent.
    ///
    /// # Errors
    /// [`TlogError::SplitView`]; [`TlogError::RememberedDamaged`];
    /// [`TlogError::Io`] when the directory cannot be written.
    pub fn observe(
        &self,
        log_id: &[u8],
        verifier: &NoteVerifier,
        checkpoint: &Checkpoint,
        note: &str,
        prove: &dyn Fn(u64, u64) -> Result<Vec<Hash>, TlogError>,
    ) -> Result<Observation, TlogError> {
        let _lock = self.lock(log_id)?;
        self.observe_locked(log_id, verifier, checkpoint, note, prove)
    }

    /// Observes the current checkpoint of a local log (proofs from its own tiles): a log that
    /// now holds fewer entries than a checkpoint of it seen before was rolled back.
    ///
    /// # Errors
    /// [`TlogError::Rollback`]; what [`Witness::observe`] and the log report.
    pub fn observe_local(&self, log: &Log) -> Result<Observation, TlogError> {
        let id = log.log_id();
        let _lock = self.lock(&id)?;
        // Read under the lock: a checkpoint read before it could be older than one another
        // observer remembers meanwhile, which would look like a rollback.
        let (checkpoint, note) = log.checkpoint()?;
        if let Some(old) = self.remembered(&id, log.verifier(), log.origin())?
            && old.size > checkpoint.size
        {
            return Err(TlogError::Rollback {
                origin: checkpoint.origin,
                size: checkpoint.size,
                remembered: old.size,
            });
        }
        let prove = |a: u64, b: u64| log.consistency_proof(a, b);
        self.observe_locked(&id, log.verifier(), &checkpoint, &note, &prove)
    }

    fn observe_locked(
        &self,
        log_id: &[u8],
        verifier: &NoteVerifier,
        checkpoint: &Checkpoint,
        note: &str,
        prove: &dyn Fn(u64, u64) -> Result<Vec<Hash>, TlogError>,
    ) -> Result<Observation, TlogError> {
        let Some(old) = self.remembered(log_id, verifier, &checkpoint.origin)? else {
            self.remember(log_id, note)?;
            return Ok(Observation::First);
        };
        let split = |why: ProofError| TlogError::SplitView {
            origin: checkpoint.origin.clone(),
            size: checkpoint.size,
            remembered: old.size,
            source: why,
        };
        if old.size == checkpoint.size {
            return if old.root == checkpoint.root {
                Ok(Observation::Same)
            } else {
                Err(split(ProofError::TwoRoots))
            };
        }
        let (small, large) = if old.size < checkpoint.size {
            (&old, checkpoint)
        } else {
            (checkpoint, &old)
        };
        let proof = match prove(small.size, large.size) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Observation::Unproven {
                    remembered: old.size,
                    why: e.with_sources(),
                });
            }
        };
        merkle::verify_consistency(small.size, large.size, &small.root, &large.root, &proof)
            .map_err(|e| match e {
                TlogError::Proof(why) => split(why),
                other => other,
            })?;
        if checkpoint.size > old.size {
            self.remember(log_id, note)?;
        }
        Ok(Observation::Consistent {
            remembered: old.size,
        })
    }

    /// The lock serialising observations of one log (released on drop).
    fn lock(&self, log_id: &[u8]) -> Result<File, TlogError> {
        let io = |e: std::io::Error| TlogError::io(&self.dir, e);
        fs::create_dir_all(&self.dir).map_err(io)?;
        let path = self.path(log_id).with_extension("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    /// Replaces the remembered note: a temporary file of its own in the same directory,
    /// written, fsynced and renamed over the old one.
    fn remember(&self, log_id: &[u8], note: &str) -> Result<(), TlogError> {
        let io = |e: std::io::Error| TlogError::io(&self.dir, e);
        fs::create_dir_all(&self.dir).map_err(io)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".witness-")
            .tempfile_in(&self.dir)
            .map_err(io)?;
        tmp.write_all(note.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(self.path(log_id)).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Moves the damaged note of log `log_id` aside (to `<id>.damaged-<unix seconds>`), so the
    /// next observation starts afresh; returns where it went.
    ///
    /// # Errors
    /// [`TlogError::Io`] when it cannot be moved.
    pub fn set_aside(&self, log_id: &[u8]) -> Result<PathBuf, TlogError> {
        let _lock = self.lock(log_id)?;
        let path = self.path(log_id);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let aside = path.with_extension(format!("damaged-{now}"));
        fs::rename(&path, &aside).map_err(|e| TlogError::io(&path, e))?;
        Ok(aside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Log;

    #[test]
    fn growth_is_accepted_and_a_split_view_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::create(&dir.path().join("log"), Some("w.example")).expect("log");
        let witness = Witness::new(&dir.path().join("witness"));
        let id = log.log_id();
        // A copy of the empty log, same key: the same log showing another history later.
        let fork = dir.path().join("fork");
        std::fs::create_dir_all(&fork).expect("mkdir");
        for name in ["log.key", "origin", "created", "checkpoint"] {
            std::fs::copy(dir.path().join("log").join(name), fork.join(name)).expect("copy");
        }
        let prove = |a: u64, b: u64| log.consistency_proof(a, b);
        let first = log.append(&[b"a".to_vec()]).expect("append");
        assert_eq!(
            witness
                .observe(&id, log.verifier(), &first.checkpoint, &first.note, &prove)
                .expect("first"),
            Observation::First
        );
        let second = log.append(&[b"b".to_vec(), b"c".to_vec()]).expect("append");
        assert_eq!(
            witness
                .observe(
                    &id,
                    log.verifier(),
                    &second.checkpoint,
                    &second.note,
                    &prove
                )
                .expect("grows"),
            Observation::Consistent { remembered: 1 }
        );
        // An older checkpoint is still consistent with what is remembered.
        assert_eq!(
            witness
                .observe(&id, log.verifier(), &first.checkpoint, &first.note, &prove)
                .expect("older"),
            Observation::Consistent { remembered: 3 }
        );
        // Another history of the same size, signed by the same key: a split view.
        let fork_log = Log::open(&fork).expect("fork");
        let forked = fork_log
            .append(&[b"x".to_vec(), b"y".to_vec(), b"z".to_vec()])
            .expect("append");
        let err = witness
            .observe(
                &id,
                log.verifier(),
                &forked.checkpoint,
                &forked.note,
                &prove,
            )
            .expect_err("split view");
        assert!(err.to_string().contains("split view"), "{err}");
        // Without a way to get a proof, a larger checkpoint is reported unproven.
        let third = log.append(&[b"d".to_vec()]).expect("append");
        let no_proof = |_: u64, _: u64| Err(TlogError::Proof(ProofError::NoSource));
        assert!(matches!(
            witness
                .observe(
                    &id,
                    log.verifier(),
                    &third.checkpoint,
                    &third.note,
                    &no_proof
                )
                .expect("unproven"),
            Observation::Unproven { remembered: 3, .. }
        ));
    }
}
