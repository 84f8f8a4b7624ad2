//! Writing results: stdout (a closed pipe is not an error) and files replaced atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use serde::Serialize;

use crate::exit::CliError;

pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::environment(anyhow!("writing to stdout: {e}"))),
    }
}

pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::environment(anyhow!("serialising output: {e}")))?;
    text.push('\n');
    write_stdout(text.as_bytes())
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
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::input(anyhow!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .with_context(|| format!("writing {}", path.display()))
        .map_err(CliError::environment)
        .and_then(|mut file| write(&mut file))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("writing {}", path.display()))
                .map_err(CliError::environment)
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
