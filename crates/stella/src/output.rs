//! Writing results: stdout (a closed pipe is not an error) and files replaced atomically. What
//! the output says and how it is formatted is [`crate::print`]'s.
//!
//! A file is written through a temporary file created exclusively (`O_EXCL`) under a random name
//! in the target's directory, then renamed into place: a link planted at a predictable name
//! cannot redirect the write, and a reader never sees half a document. Private keys are created
//! readable by their owner only from the first instant.

use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};

use crate::exit::CliError;

/// Mode of an ordinary output file before the umask: what `creat(2)` callers ask for.
const PUBLIC_MODE: u32 = 0o666;
/// Mode of a private key file: its owner's only.
const PRIVATE_MODE: u32 = 0o600;
/// Longest part of the target's name kept in its temporary name (names are at most 255 bytes).
const MAX_NAME_IN_TEMP: usize = 100;

pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::environment(anyhow!("writing to stdout: {e}"))),
    }
}

/// Writes a document made piece by piece (`write` gives the pieces to its writer, buffered) to
/// `path`, replaced atomically as [`write_atomically`] does, or to stdout without a path (a
/// closed pipe is not an error there either).
pub fn write_pieces(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    match path {
        Some(path) => write_atomically_with(path, |file| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            write(&mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("writing {}", path.display()))
                .map_err(CliError::environment)
        }),
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            match write(&mut out).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(CliError::environment(anyhow!("writing to stdout: {e}"))),
            }
        }
    }
}

/// Writes through a temporary file in the same directory and renames it into place, so a
/// reader never sees half a document and a failure leaves any previous file intact.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_atomically_with(path, |file| {
        file.write_all(bytes)
            .map_err(|e| CliError::environment(anyhow!(e)))
    })
}

/// [`write_atomically`] for documents written piece by piece: `write` fills the temporary file.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), CliError>,
) -> Result<(), CliError> {
    replace(path, PUBLIC_MODE, write)
}

/// [`write_atomically_with`] for a private key: the file is its owner's only (mode 0600) from
/// its creation, and on disk (fsynced) before it takes the name.
pub fn write_private_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), CliError>,
) -> Result<(), CliError> {
    replace(path, PRIVATE_MODE, |file| {
        write(file)?;
        file.sync_all()
            .with_context(|| format!("writing {}", path.display()))
            .map_err(CliError::environment)
    })
}

/// A temporary file beside `path` (the name's directory), created exclusively under a random
/// name with `mode` (before the umask); removed when dropped unless persisted.
pub fn temporary_beside(path: &Path, mode: u32) -> Result<tempfile::NamedTempFile, CliError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::input(anyhow!("{}: not a file name", path.display())))?
        .to_string_lossy();
    let short: String = name.chars().take(MAX_NAME_IN_TEMP).collect();
    tempfile::Builder::new()
        .prefix(&format!(".{short}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(&dir)
        .with_context(|| {
            format!(
                "writing {}: creating a temporary file in {}",
                path.display(),
                dir.display()
            )
        })
        .map_err(CliError::environment)
}

fn replace(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), CliError>,
) -> Result<(), CliError> {
    // A device, pipe or other special file (`-o /dev/null`, `-o /dev/stdout`, a FIFO) is written
    // in place: renaming a temporary file over it would replace the device with a regular file.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(CliError::environment)?;
        return write(&mut file);
    }
    let mut tmp = temporary_beside(path, mode)?;
    // On an error the temporary file is dropped, which removes it.
    write(tmp.as_file_mut())?;
    tmp.persist(path)
        .map_err(|e| CliError::environment(anyhow!("writing {}: {}", path.display(), e.error)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use std::os::unix::fs::FileTypeExt as _;

    use super::*;

    /// The temporary names the first version used: `.NAME.tmp-PID` beside the output.
    fn plant_links(dir: &Path, name: &str, victim: &Path) {
        for planted in [
            format!(".{name}.tmp-{}", std::process::id()),
            format!(".{name}.tmp"),
            format!("{name}.tmp"),
        ] {
            std::os::unix::fs::symlink(victim, dir.join(planted)).expect("plant");
        }
    }

    #[test]
    fn planted_links_do_not_redirect_a_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        plant_links(dir.path(), "out.json", &victim);
        plant_links(dir.path(), "k.key", &victim);
        let out = dir.path().join("out.json");
        write_atomically(&out, b"{}").expect("write");
        write_private_atomically_with(&dir.path().join("k.key"), |f| {
            f.write_all(b"secret")
                .map_err(|e| CliError::environment(anyhow!(e)))
        })
        .expect("write");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
        assert_eq!(std::fs::read(&out).expect("out"), b"{}");
        assert_eq!(
            std::fs::read(dir.path().join("k.key")).expect("key"),
            b"secret"
        );
    }

    #[test]
    fn private_files_are_the_owners_only_from_their_creation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("k.key");
        write_private_atomically_with(&key, |file| {
            let mode = file.metadata().expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "mode {mode:o} before anything is written");
            file.write_all(b"secret")
                .map_err(|e| CliError::environment(anyhow!(e)))
        })
        .expect("write");
        let mode = std::fs::metadata(&key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn failures_leave_no_temporary_file_and_special_files_are_written_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let failed = write_atomically_with(&out, |_| Err(CliError::input(anyhow!("no"))));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
        write_atomically(Path::new("/dev/null"), b"into the void").expect("device");
        assert!(
            std::fs::metadata("/dev/null")
                .expect("null")
                .file_type()
                .is_char_device()
        );
    }
}
