//! How a damaged file of a local log is named and described: the file's full path and what is
//! wrong with it, as data (the CLI prints it, `stella log fsck` reports and repairs it).
//!
//! Not here: finding the damage ([`crate::log`] on every read, [`crate::fsck`] for all files).

use std::fmt;
use std::path::{Path, PathBuf};

/// What is wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// It is not there.
    Missing,
    /// It is there but cannot be read.
    Unreadable {
        /// The error kind the file system gave.
        kind: std::io::ErrorKind,
    },
    /// A hash tile of the wrong length.
    Length {
        /// Bytes found.
        found: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// An entry bundle that does not decode: a length prefix or an entry cut short at `offset`.
    Truncated {
        /// Byte offset of the entry that is cut short.
        offset: u64,
    },
    /// An entry bundle with another number of entries than the checkpoint says.
    EntryCount {
        /// Entries found.
        found: u64,
        /// Entries expected.
        expected: u64,
    },
    /// Its content does not hash to what `other` (the tile above it, the hash tile of its
    /// entries, the checkpoint) holds for it.
    Differs {
        /// The file it was compared with.
        other: PathBuf,
    },
    /// Its content and `other`'s disagree and nothing tells which of the two is intact.
    Disagrees {
        /// The other file.
        other: PathBuf,
    },
    /// Not in the form Stella writes (origin, key, creation time, a note that is not the one
    /// the log key signs).
    Malformed {
        /// What the file must hold.
        expected: &'static str,
    },
    /// A signed note (checkpoint, creation time) whose signature does not verify with the log
    /// key under the log's origin.
    Unsigned {
        /// Why it does not verify.
        reason: String,
    },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Missing => write!(f, "missing"),
            Damage::Unreadable { kind } => write!(f, "unreadable ({kind})"),
            Damage::Length { found, expected } => {
                write!(f, "{found} bytes, expected {expected}")
            }
            Damage::Truncated { offset } => write!(f, "an entry is cut short at byte {offset}"),
            Damage::EntryCount { found, expected } => {
                write!(f, "{found} entries, expected {expected}")
            }
            Damage::Differs { other } => {
                write!(f, "does not match what {} holds for it", other.display())
            }
            Damage::Disagrees { other } => write!(
                f,
                "disagrees with {} and neither reproduces the signed checkpoint",
                other.display()
            ),
            Damage::Malformed { expected } => write!(f, "not {expected}"),
            Damage::Unsigned { reason } => write!(f, "does not verify ({reason})"),
        }
    }
}

/// A damaged file: its full path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedFile {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub damage: Damage,
}

impl DamagedFile {
    /// `path` with `damage`.
    pub fn new(path: impl Into<PathBuf>, damage: Damage) -> Self {
        DamagedFile {
            path: path.into(),
            damage,
        }
    }

    /// The damage of a file that could not be read (`NotFound` is [`Damage::Missing`]).
    pub fn unreadable(path: &Path, error: &std::io::Error) -> Self {
        let damage = match error.kind() {
            std::io::ErrorKind::NotFound => Damage::Missing,
            kind => Damage::Unreadable { kind },
        };
        DamagedFile::new(path, damage)
    }
}

impl fmt::Display for DamagedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.damage)
    }
}

/// The files, one after the other, with the way out.
pub(crate) fn list(files: &[DamagedFile]) -> String {
    let named: Vec<String> = files.iter().map(ToString::to_string).collect();
    format!(
        "{} (`stella log fsck` reports every damaged file; `--repair` rebuilds what can be \
         recomputed)",
        named.join("; ")
    )
}
