//! Opening a path that must name a regular file, without ever blocking on something that is not.
//!
//! `open(2)` of a FIFO for reading waits for a writer, forever if none comes; reading a character
//! device may never end; opening some devices has side effects. A command handed such a path
//! where it expects a file must refuse it by name instead. [`open_regular`] checks the type
//! before opening (so no device is ever opened), opens with `O_NONBLOCK` (so a FIFO swapped in
//! between the check and the open cannot block), and checks the type again on the descriptor it
//! got (so what is read is what was checked). `O_NONBLOCK` has no effect on regular files.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// What a path names when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe).
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// Anything else the kernel reports.
    Other,
}

impl FileKind {
    fn of(metadata: &Metadata) -> Option<Self> {
        let t = metadata.file_type();
        if t.is_file() {
            None
        } else if t.is_dir() {
            Some(FileKind::Directory)
        } else if t.is_fifo() {
            Some(FileKind::Fifo)
        } else if t.is_socket() {
            Some(FileKind::Socket)
        } else if t.is_char_device() {
            Some(FileKind::CharDevice)
        } else if t.is_block_device() {
            Some(FileKind::BlockDevice)
        } else {
            Some(FileKind::Other)
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a file",
        })
    }
}

/// Why a path could not be opened as a regular file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The path names something other than a regular file.
    #[error("{}: is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it names.
        kind: FileKind,
    },
    /// The path could not be examined or opened.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl OpenError {
    /// The path concerned.
    pub fn path(&self) -> &Path {
        match self {
            OpenError::NotRegular { path, .. } | OpenError::Io { path, .. } => path,
        }
    }
}

/// Opens `path` (following symbolic links) for reading, refusing anything but a regular file;
/// the file and its metadata, taken from the open descriptor.
///
/// # Errors
/// [`OpenError::NotRegular`] for a directory, FIFO, socket or device; [`OpenError::Io`] when the
/// path does not exist or cannot be opened.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), OpenError> {
    let io = |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_regular = |kind| OpenError::NotRegular {
        path: path.to_path_buf(),
        kind,
    };
    if let Some(kind) = FileKind::of(&std::fs::metadata(path).map_err(io)?) {
        return Err(not_regular(kind));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if let Some(kind) = FileKind::of(&metadata) {
        return Err(not_regular(kind));
    }
    Ok((file, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
    }

    /// Runs `f` on another thread; a call that blocks fails the test instead of hanging it.
    fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("open_regular returned within 10 s instead of blocking")
    }

    #[test]
    fn a_fifo_without_a_writer_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let link = dir.path().join("link-to-pipe");
        std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
        for path in [fifo, link] {
            let err = within_seconds({
                let path = path.clone();
                move || open_regular(&path).map(|_| ())
            })
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    OpenError::NotRegular {
                        kind: FileKind::Fifo,
                        ..
                    }
                ),
                "{err}"
            );
            assert_eq!(err.path(), path);
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
    }

    #[test]
    fn devices_and_directories_are_named_and_files_open() {
        let err = open_regular(Path::new("/dev/null")).unwrap_err();
        assert!(
            matches!(
                err,
                OpenError::NotRegular {
                    kind: FileKind::CharDevice,
                    ..
                }
            ),
            "{err}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let err = open_regular(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let missing = open_regular(&dir.path().join("missing")).unwrap_err();
        assert!(
            matches!(&missing, OpenError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{missing}"
        );
        let file = dir.path().join("f");
        std::fs::write(&file, b"bytes").expect("write");
        let (_, metadata) = open_regular(&file).expect("a regular file opens");
        assert_eq!(metadata.len(), 5);
    }
}
