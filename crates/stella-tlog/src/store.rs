//! The files of a log directory: the lock, durable writes (temporary file, fsync, rename),
//! exclusive creation, and reads that name the damaged file.
//!
//! Not here: what the files hold ([`crate::log`], [`crate::tiles`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::TlogError;
use crate::damage::DamagedFile;

/// The lock file: its content is never read, only its lock.
pub(crate) const LOCK: &str = "lock";

pub(crate) fn io_error(path: &Path, e: std::io::Error) -> TlogError {
    TlogError::io(path, e)
}

/// An exclusive lock on the log (released on drop), serialising appenders across processes.
pub(crate) fn lock(dir: &Path) -> Result<File, TlogError> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    file.lock().map_err(|e| io_error(&path, e))?;
    Ok(file)
}

/// A temporary file beside `dir/name` holding `bytes`, fsynced: created exclusively (`O_EXCL`)
/// under a random name, so a link planted in the log directory never redirects the write and two
/// writers never share one; owner-only from its creation when `secret`. Removed when dropped.
fn temporary(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    secret: bool,
) -> Result<tempfile::NamedTempFile, TlogError> {
    let path = dir.join(name);
    let io = |e: std::io::Error| io_error(&path, e);
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(if secret {
            0o600
        } else {
            0o644
        }));
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    Ok(tmp)
}

/// Writes `dir/name` through a temporary file: written, fsynced, renamed into place.
pub(crate) fn write_durably(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    secret: bool,
) -> Result<(), TlogError> {
    let path = dir.join(name);
    temporary(dir, name, bytes, secret)?
        .persist(&path)
        .map_err(|e| io_error(&path, e.error))?;
    Ok(())
}

/// Writes `dir/name` durably unless it exists: the file appears complete or not at all, and
/// a file already there is never replaced (a hard link fails on an existing name).
pub(crate) fn create_durably(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    secret: bool,
) -> Result<(), TlogError> {
    let path = dir.join(name);
    // The temporary file is removed when it goes out of scope, linked or not.
    let tmp = temporary(dir, name, bytes, secret)?;
    fs::hard_link(tmp.path(), &path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => TlogError::LogExists {
            dir: dir.to_path_buf(),
        },
        _ => io_error(&path, e),
    })
}

/// Writes `rel` (below `dir`) durably, creating its directory; the directory is recorded in
/// `dirs` to be fsynced before the checkpoint that needs the file.
pub(crate) fn write_file(
    dir: &Path,
    rel: &str,
    bytes: &[u8],
    dirs: &mut std::collections::BTreeSet<PathBuf>,
) -> Result<(), TlogError> {
    let path = dir.join(rel);
    let parent = path.parent().unwrap_or(dir).to_path_buf();
    fs::create_dir_all(&parent).map_err(|e| io_error(&parent, e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("tile")
        .to_owned();
    write_durably(&parent, &name, bytes, false)?;
    dirs.insert(parent);
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), TlogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

/// The bytes of a file of the log, or the damage that names it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, DamagedFile> {
    fs::read(path).map_err(|e| DamagedFile::unreadable(path, &e))
}

/// Like [`read`], with `None` for a file that is not there.
pub(crate) fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, DamagedFile> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DamagedFile::unreadable(path, &e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    /// The temporary name the log once used: `.NAME.tmp-PID-THREAD`.
    fn old_temporary_name(name: &str) -> String {
        let thread = format!("{:?}", std::thread::current().id());
        let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
        format!(".{name}.tmp-{}-{thread}", std::process::id())
    }

    #[test]
    fn a_link_planted_at_a_temporary_name_never_redirects_a_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").expect("write");
        for name in ["checkpoint", "log.key"] {
            std::os::unix::fs::symlink(&victim, dir.path().join(old_temporary_name(name)))
                .expect("plant");
        }
        write_durably(dir.path(), "checkpoint", b"note", false).expect("write");
        create_durably(dir.path(), "log.key", b"key", true).expect("create");
        assert_eq!(fs::read(&victim).expect("victim"), b"precious");
        assert_eq!(
            fs::read(dir.path().join("checkpoint")).expect("cp"),
            b"note"
        );
        assert_eq!(fs::read(dir.path().join("log.key")).expect("key"), b"key");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(dir.path().join("log.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is its owner's only");
        // Nothing but the planted links, the victim and the two files is left behind.
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 5);
        assert!(matches!(
            create_durably(dir.path(), "log.key", b"other", true),
            Err(TlogError::LogExists { .. })
        ));
        assert_eq!(fs::read(dir.path().join("log.key")).expect("key"), b"key");
    }
}
