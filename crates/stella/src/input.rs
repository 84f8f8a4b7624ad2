//! Reading the documents a command is given, within a size limit, from a file or stdin.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::exit::CliError;

/// A named input: a path, or `-` for standard input.
#[derive(Debug, Clone)]
pub struct Input {
    path: PathBuf,
}

impl Input {
    /// From a command-line argument.
    pub fn new(path: PathBuf) -> Self {
        Input { path }
    }

    /// Whether this is standard input.
    pub fn is_stdin(&self) -> bool {
        self.path == Path::new("-")
    }

    /// How the input is named in messages.
    pub fn name(&self) -> String {
        if self.is_stdin() {
            "<stdin>".to_owned()
        } else {
            self.path.display().to_string()
        }
    }

    /// Reads the whole input, refusing anything larger than `limit` bytes without reading more
    /// than `limit + 1` of it.
    pub fn read(&self, limit: usize) -> Result<Vec<u8>, CliError> {
        let too_large = |size: String| {
            CliError::input(anyhow!(
                "{}: {size} is larger than the {} limit (raise it with --max-size)",
                self.name(),
                human_bytes(limit as u64)
            ))
        };
        let mut bytes = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        if self.is_stdin() {
            io::stdin()
                .lock()
                .take(cap)
                .read_to_end(&mut bytes)
                .map_err(|e| CliError::environment(anyhow!("reading <stdin>: {e}")))?;
        } else {
            let file = File::open(&self.path).map_err(|e| self.open_error(&e))?;
            let metadata = file.metadata().map_err(|e| self.open_error(&e))?;
            if metadata.is_dir() {
                return Err(CliError::input(anyhow!("{}: is a directory", self.name())));
            }
            let size = metadata.len();
            if size > limit as u64 {
                return Err(too_large(format!("the file ({})", human_bytes(size))));
            }
            bytes.reserve(usize::try_from(size).unwrap_or(0));
            file.take(cap)
                .read_to_end(&mut bytes)
                .map_err(|e| self.open_error(&e))?;
        }
        if bytes.len() > limit {
            return Err(too_large("the input".to_owned()));
        }
        Ok(bytes)
    }

    fn open_error(&self, e: &io::Error) -> CliError {
        let error = anyhow!("{}: {e}", self.name());
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::IsADirectory | io::ErrorKind::InvalidInput => {
                CliError::input(error)
            }
            _ => CliError::environment(error),
        }
    }
}

/// Parses sizes such as `1048576`, `512K`, `256M`, `2G` (binary multiples).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 10),
        Some((i, 'm' | 'M')) => (&s[..i], 20),
        Some((i, 'g' | 'G')) => (&s[..i], 30),
        _ => (s, 0),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 512K, 256M, 2G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// `2147483648` → `2.0 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("17"), Ok(17));
        assert!(parse_size("lots").is_err());
        assert_eq!(human_bytes(2 << 30), "2.0 GiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
