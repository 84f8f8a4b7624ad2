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

pub(crate) fn io_error(path: &Path, e: &std::io::Error) -> TlogError {
    TlogError::Io(format!("{}: {e}", path.display()))
}

/// An exclusive lock on the log (released on drop), serialising appenders across processes.
pub(crate) fn lock(dir: &Path) -> Result<File, TlogError> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, &e))?;
    file.lock()
        .map_err(|e| TlogError::Io(format!("locking {}: {e}", path.display())))?;
    Ok(file)
}

fn temporary(dir: &Path, name: &str) -> PathBuf {
    // The thread id too: two threads of one process (a server and its tile readers) never
    // share a temporary file.
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    dir.join(format!(".{name}.tmp-{}-{thread}", std::process::id()))
}

fn write_temporary(path: &Path, tmp: &Path, bytes: &[u8], secret: bool) -> Result<(), TlogError> {
    let io = |e: std::io::Error| io_error(path, &e);
    let mut options = OpenOptions::new();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Writes `dir/name` through a temporary file: written, fsynced, renamed into place.
pub(crate) fn write_durably(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    secret: bool,
) -> Result<(), TlogError> {
    let path = dir.join(name);
    let tmp = temporary(dir, name);
    write_temporary(&path, &tmp, bytes, secret)?;
    fs::rename(&tmp, &path).map_err(|e| io_error(&path, &e))
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
    let tmp = temporary(dir, name);
    write_temporary(&path, &tmp, bytes, secret)?;
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => TlogError::LogExists {
            dir: dir.to_path_buf(),
        },
        _ => io_error(&path, &e),
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
    fs::create_dir_all(&parent).map_err(|e| io_error(&parent, &e))?;
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
        .map_err(|e| io_error(dir, &e))
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
