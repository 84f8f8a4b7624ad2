//! The agent's spool: pushes kept on disk until the server has counted them, so a server that is
//! down, restarting or unreachable loses nothing the agent recorded.
//!
//! Every push is written whole before it is sent (a temporary file in the spool directory,
//! fsynced, renamed to its final name, the directory fsynced), and removed only once the server
//! answered that it counted it — or had counted it before, which a retry after a lost answer
//! gets. A push is resent byte for byte, so the server recognises it by its batch id and body.
//! Names sort in creation order (`<unix nanoseconds>-<sequence>.push.json`) and pushes are sent
//! oldest first.
//!
//! The spool is bounded ([`Spool::max_bytes`]): when a new push would exceed it, the oldest are
//! dropped (and named, so the agent says so) — on a long outage recent evidence is worth more
//! than old. A push the server refuses for what it is (malformed, too large, a batch id reused
//! with other bytes) would be refused for ever: it is moved to `rejected/` with the reason beside
//! it rather than retried or deleted. Anything in the directory that is not a regular file with
//! a spool name (a link, a directory, a stray temporary file) is never sent.
//!
//! Not here: what a push holds (`push`), sending it (the agent's HTTP client), what the server
//! does with it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The suffix of a spooled push.
const SUFFIX: &str = ".push.json";

/// Why the spool cannot do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("spool {path}: {source}")]
pub struct SpoolError {
    /// The file or directory.
    pub path: String,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError {
        path: path.display().to_string(),
        source,
    }
}

/// A push waiting in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// Its file.
    pub path: PathBuf,
    /// Its bytes, as they are sent.
    pub bytes: Vec<u8>,
}

/// What an answer from the server means for a spooled push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Counted (now or before): remove it.
    Delivered,
    /// Not counted, but it may be later (the server is down or overloaded, or the token is
    /// refused and may be fixed): keep it.
    Retry,
    /// Refused for what it is: it never will be counted; set it aside.
    Rejected,
}

/// What an HTTP status from `POST /api/v1/push` means (see the server's docs).
pub fn disposition(status: u16) -> Disposition {
    match status {
        200..=299 => Disposition::Delivered,
        400 | 409 | 413 | 415 | 422 => Disposition::Rejected,
        _ => Disposition::Retry,
    }
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    sequence: AtomicU64,
}

impl Spool {
    /// Opens (creating, mode 0700) the spool in `dir`, holding at most `max_bytes`; temporary
    /// files a crash left behind are removed.
    ///
    /// # Errors
    /// [`SpoolError`] when the directory cannot be made or read.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && name.to_string_lossy().starts_with(".tmp-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            sequence: AtomicU64::new(0),
        })
    }

    /// The most bytes it keeps.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Keeps `bytes` (durably, before this returns), then drops the oldest pushes while the
    /// spool holds more than its bound; returns the files dropped.
    ///
    /// # Errors
    /// [`SpoolError`] when it cannot be written (nothing is then half-written under a spool
    /// name).
    pub fn put(&self, bytes: &[u8]) -> Result<Vec<PathBuf>, SpoolError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!("{nanos:024}-{sequence:08}{SUFFIX}");
        let target = self.dir.join(&name);
        let temporary = self.dir.join(format!(".tmp-{name}"));
        {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temporary)
                .map_err(io(&temporary))?;
            let written = file.write_all(bytes).and_then(|()| file.sync_all());
            if let Err(e) = written {
                let _ = std::fs::remove_file(&temporary);
                return Err(io(&temporary)(e));
            }
        }
        if let Err(e) = std::fs::rename(&temporary, &target) {
            let _ = std::fs::remove_file(&temporary);
            return Err(io(&target)(e));
        }
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        self.enforce_bound()
    }

    fn names(&self) -> Result<Vec<(PathBuf, u64)>, SpoolError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(SUFFIX) {
                continue;
            }
            // Links and directories under a spool name are not the agent's: never sent.
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.file_type().is_file() {
                found.push((entry.path(), meta.len()));
            }
        }
        found.sort();
        Ok(found)
    }

    fn enforce_bound(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let names = self.names()?;
        let mut total: u64 = names.iter().map(|(_, len)| len).sum();
        let mut dropped = Vec::new();
        // The newest push is always kept, even alone above the bound.
        let older = names.len().saturating_sub(1);
        for (path, len) in names.into_iter().take(older) {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(len);
                dropped.push(path);
            }
        }
        Ok(dropped)
    }

    /// The pushes waiting, oldest first.
    ///
    /// # Errors
    /// [`SpoolError`] when the directory or a file cannot be read.
    pub fn pending(&self) -> Result<Vec<Spooled>, SpoolError> {
        self.names()?
            .into_iter()
            .map(|(path, _)| {
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                Ok(Spooled { path, bytes })
            })
            .collect()
    }

    /// How many pushes wait.
    ///
    /// # Errors
    /// [`SpoolError`] when the directory cannot be read.
    pub fn len(&self) -> Result<usize, SpoolError> {
        Ok(self.names()?.len())
    }

    /// Whether nothing waits.
    ///
    /// # Errors
    /// [`SpoolError`] when the directory cannot be read.
    pub fn is_empty(&self) -> Result<bool, SpoolError> {
        Ok(self.names()?.is_empty())
    }

    /// Removes a delivered push.
    ///
    /// # Errors
    /// [`SpoolError`] when it cannot be removed (it is then sent again, and the server
    /// recognises it).
    pub fn delivered(&self, push: &Spooled) -> Result<(), SpoolError> {
        match std::fs::remove_file(&push.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&push.path)(e)),
        }
    }

    /// Moves a refused push to `rejected/`, with `reason` in a `.reason` file beside it.
    ///
    /// # Errors
    /// [`SpoolError`] when it cannot be moved.
    pub fn rejected(&self, push: &Spooled, reason: &str) -> Result<PathBuf, SpoolError> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let name = push.path.file_name().map(PathBuf::from).unwrap_or_default();
        let target = dir.join(&name);
        std::fs::rename(&push.path, &target).map_err(io(&target))?;
        let mut why = target.clone().into_os_string();
        why.push(".reason");
        std::fs::write(&why, format!("{reason}\n")).map_err(io(Path::new(&why)))?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_wait_in_order_until_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(&dir.path().join("spool"), 1 << 20).unwrap();
        assert!(spool.is_empty().unwrap());
        for n in 0..3 {
            assert!(
                spool
                    .put(format!("push {n}").as_bytes())
                    .unwrap()
                    .is_empty()
            );
        }
        let pending = spool.pending().unwrap();
        let bodies: Vec<_> = pending.iter().map(|p| p.bytes.clone()).collect();
        assert_eq!(
            bodies,
            vec![b"push 0".to_vec(), b"push 1".to_vec(), b"push 2".to_vec()]
        );
        spool.delivered(&pending[0]).unwrap();
        spool.delivered(&pending[0]).unwrap();
        let moved = spool.rejected(&pending[1], "400: not a push").unwrap();
        assert!(moved.exists());
        assert_eq!(spool.pending().unwrap().len(), 1);
        // A reopened spool (the agent restarted) finds what is left.
        drop(spool);
        let again = Spool::open(&dir.path().join("spool"), 1 << 20).unwrap();
        assert_eq!(again.pending().unwrap()[0].bytes, b"push 2");
    }

    #[test]
    fn the_bound_drops_the_oldest_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 25).unwrap();
        spool.put(&[b'a'; 10]).unwrap();
        spool.put(&[b'b'; 10]).unwrap();
        let dropped = spool.put(&[b'c'; 10]).unwrap();
        assert_eq!(dropped.len(), 1);
        let left: Vec<u8> = spool
            .pending()
            .unwrap()
            .iter()
            .map(|p| p.bytes[0])
            .collect();
        assert_eq!(left, b"bc");
        // One push larger than the bound is kept alone.
        spool.put(&[b'd'; 40]).unwrap();
        let left: Vec<u8> = spool
            .pending()
            .unwrap()
            .iter()
            .map(|p| p.bytes[0])
            .collect();
        assert_eq!(left, b"d");
    }

    #[test]
    fn only_regular_files_under_spool_names_are_sent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".tmp-0-0.push.json"), b"half").unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(!dir.path().join(".tmp-0-0.push.json").exists());
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("1-1.push.json")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("2-2.push.json")).unwrap();
        assert!(spool.pending().unwrap().is_empty());
    }

    #[test]
    fn answers_decide_what_happens_to_a_push() {
        assert_eq!(disposition(200), Disposition::Delivered);
        for refused in [400, 409, 413] {
            assert_eq!(disposition(refused), Disposition::Rejected);
        }
        for later in [401, 403, 429, 500, 502, 503] {
            assert_eq!(disposition(later), Disposition::Retry);
        }
    }
}
