//! Reading the documents a command is given, within a size limit, from a file or stdin.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use stella_core::file::{OpenError, open_regular};

use crate::exit::CliError;

/// The flag by which the commands that have it (`sbom canon|id|validate|convert`, `attest sbom`)
/// set their document size limit.
pub const MAX_SIZE_FLAG: &str = "--max-size";

/// A named input: a path, or `-` for standard input.
#[derive(Debug, Clone)]
pub struct Input {
    path: PathBuf,
    /// The command-line flag that sets this input's size limit, when the command has one.
    limit_flag: Option<&'static str>,
}

impl Input {
    /// From a command-line argument, read under a limit the user cannot change.
    pub fn new(path: PathBuf) -> Self {
        Input {
            path,
            limit_flag: None,
        }
    }

    /// From a command-line argument, read under the limit that `flag` (e.g. `--max-size`) sets:
    /// the refusal of a larger input tells the user how to raise it.
    pub fn with_limit_flag(path: PathBuf, flag: &'static str) -> Self {
        Input {
            path,
            limit_flag: Some(flag),
        }
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
    /// than `limit + 1` of it. A path must name a regular file: a FIFO or a device is refused
    /// before anything waits on it (standard input is `-`).
    pub fn read(&self, limit: usize) -> Result<Vec<u8>, CliError> {
        let too_large = |size: String| self.too_large(&size, limit);
        let mut bytes = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        if self.is_stdin() {
            io::stdin()
                .lock()
                .take(cap)
                .read_to_end(&mut bytes)
                .map_err(|e| CliError::environment(anyhow!("reading <stdin>: {e}")))?;
        } else {
            let (file, metadata) = open_regular(&self.path).map_err(open_error)?;
            let size = metadata.len();
            if size > limit as u64 {
                return Err(too_large(format!("the file ({})", human_bytes(size))));
            }
            bytes.reserve(usize::try_from(size).unwrap_or(0));
            file.take(cap)
                .read_to_end(&mut bytes)
                .map_err(|e| self.read_error(&e))?;
        }
        if bytes.len() > limit {
            return Err(too_large("the input".to_owned()));
        }
        Ok(bytes)
    }

    /// What [`Input::read`] would refuse before reading a byte: a path that is missing, not a
    /// regular file, or larger than `limit`. For a caller that reads many inputs later, one at
    /// a time, so that a typo in the last is found before the first is read.
    pub fn check(&self, limit: usize) -> Result<(), CliError> {
        if self.is_stdin() {
            return Ok(());
        }
        let (_, metadata) = open_regular(&self.path).map_err(open_error)?;
        let size = metadata.len();
        if size > limit as u64 {
            return Err(self.too_large(&format!("the file ({})", human_bytes(size)), limit));
        }
        Ok(())
    }

    fn too_large(&self, size: &str, limit: usize) -> CliError {
        let hint = match self.limit_flag {
            Some(flag) => format!(" (raise it with {flag})"),
            None => String::new(),
        };
        CliError::input(anyhow!(
            "{}: {size} is larger than the {} limit{hint}",
            self.name(),
            human_bytes(limit as u64)
        ))
    }

    fn read_error(&self, e: &io::Error) -> CliError {
        CliError::environment(anyhow!("{}: {e}", self.name()))
    }
}

/// A path that is missing or not a regular file is the user's input (exit 2); a permission or
/// an I/O failure is the environment's (exit 3).
pub fn open_error(e: OpenError) -> CliError {
    let usage = match &e {
        OpenError::NotRegular { .. } => true,
        OpenError::Io { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::IsADirectory | io::ErrorKind::InvalidInput
        ),
        _ => false,
    };
    if usage {
        CliError::input(anyhow!(e))
    } else {
        CliError::environment(anyhow!(e))
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

/// A duration as people type it, above zero: plain seconds (`7`), or jiff's friendly format
/// (`500ms`, `30s`, `1m30s`, `1.5s`, `2h 15m`, `7d`, a day being 24 hours) or ISO 8601 (`PT90S`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let refused = || format!("{s:?} is not a duration (e.g. 500ms, 30s, 1m30s, 1.5s, 2h, 7d)");
    let duration = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = s.parse().map_err(|_| format!("{s:?} is too long"))?;
        std::time::Duration::from_secs(n)
    } else {
        let span: jiff::Span = s.parse().map_err(|_| refused())?;
        let signed = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|e| format!("{s:?}: {e}"))?;
        std::time::Duration::try_from(signed)
            .map_err(|_| format!("{s:?}: the duration must be above zero"))?
    };
    if duration.is_zero() {
        return Err(format!("{s:?}: the duration must be above zero"));
    }
    Ok(duration)
}

/// `10s/60s` → (on, period), with on ≤ period.
pub fn parse_duty(s: &str) -> Result<(std::time::Duration, std::time::Duration), String> {
    let (on, period) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a duty cycle (e.g. 10s/60s)"))?;
    let (on, period) = (parse_duration(on)?, parse_duration(period)?);
    if on > period {
        return Err(format!(
            "{s:?}: the sampling part is longer than the period"
        ));
    }
    Ok((on, period))
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

    #[test]
    fn durations_and_duty_cycles_parse_and_nonsense_is_refused() {
        use std::time::Duration;
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h 15m"), Ok(Duration::from_secs(8100)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("PT90S"), Ok(Duration::from_secs(90)));
        for bad in ["0s", "-1s", "soon", "99999999999999999h", "", "1 fortnight"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duty("10s/60s"),
            Ok((Duration::from_secs(10), Duration::from_secs(60)))
        );
        assert!(parse_duty("60s/10s").is_err());
        assert!(parse_duty("10s").is_err());
    }
}
