//! Advisory database exports as zip archives — OSV's per-ecosystem `all.zip` (flat `<ID>.json`
//! entries), or a zip of a RustSec checkout — read into memory with limits, since an archive
//! fetched from anywhere is untrusted input.
//!
//! **What is kept.** Entries named `*.json` (OSV records) and `RUSTSEC-*.md` (RustSec
//! advisories); directories and other files (a README, a licence) are passed over.
//!
//! **What is refused, naming the entry, before anything is used:**
//! - an entry whose name is absolute (`/etc/passwd`, `C:\…`) or has a `..` component — even one
//!   that would be passed over: an archive that tries to leave its directory is not trusted for
//!   the rest either ([`ExportError::UnsafePath`]);
//! - an entry larger than [`MAX_ENTRY_BYTES`] once inflated, or an archive whose entries add up
//!   to more than [`MAX_TOTAL_BYTES`], whatever the archive's directory declares (the bytes
//!   are counted as they are inflated, so a lying header does not help);
//! - an entry over [`RATIO_FLOOR_BYTES`] that inflates more than [`MAX_RATIO`] times its
//!   compressed size: records compress about tenfold, a zip bomb a thousandfold;
//! - more than [`MAX_ENTRIES`] entries; bytes that are not a zip archive.
//!
//! What this module does not own: fetching the archive, reading the records.

use std::io::{Cursor, Read as _};

use stella_core::{ErrorKind, Kinded};

/// Largest entry, inflated.
pub const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// Largest archive, all entries inflated (OSV's largest ecosystem export is a few hundred MiB).
pub const MAX_TOTAL_BYTES: u64 = 2 << 30;

/// Highest ratio of an entry's inflated size to its compressed size.
pub const MAX_RATIO: u64 = 100;

/// Entries up to this size are not held to [`MAX_RATIO`]: a small record of repeated text
/// compresses well and costs nothing.
pub const RATIO_FLOOR_BYTES: u64 = 64 << 10;

/// Most entries in one archive.
pub const MAX_ENTRIES: usize = 1_000_000;

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Not a zip archive, or a damaged one.
    #[error("not a readable zip archive: {reason}")]
    NotZip {
        /// What the zip reader said.
        reason: String,
    },
    /// An entry's name leaves the archive's directory.
    #[error("entry {name:?}: an absolute path or a '..' component; the archive is refused")]
    UnsafePath {
        /// The name as stored.
        name: String,
    },
    /// An entry inflates past [`MAX_ENTRY_BYTES`].
    #[error("entry {name:?} inflates to more than {limit} bytes")]
    EntryTooLarge {
        /// The entry.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// The entries inflate past [`MAX_TOTAL_BYTES`] together.
    #[error("the archive inflates to more than {limit} bytes (at entry {name:?})")]
    TooLarge {
        /// The entry at which the limit was passed.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// An entry inflates more than [`MAX_RATIO`] times its compressed size.
    #[error(
        "entry {name:?} inflates from {compressed} to {size} bytes, more than {limit} times: \
         refused as a zip bomb"
    )]
    Ratio {
        /// The entry.
        name: String,
        /// Its inflated size (as far as it was read).
        size: u64,
        /// Its compressed size.
        compressed: u64,
        /// The limit.
        limit: u64,
    },
    /// More than [`MAX_ENTRIES`] entries.
    #[error("the archive has {count} entries, more than {limit}")]
    TooManyEntries {
        /// How many it has.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry could not be inflated.
    #[error("entry {name:?}: {reason}")]
    Entry {
        /// The entry.
        name: String,
        /// What failed.
        reason: String,
    },
}

impl Kinded for ExportError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExportError::EntryTooLarge { .. }
            | ExportError::TooLarge { .. }
            | ExportError::Ratio { .. }
            | ExportError::TooManyEntries { .. } => ErrorKind::TooLarge,
            _ => ErrorKind::Invalid,
        }
    }
}

/// One advisory document taken from an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the archive.
    pub name: String,
    /// Its bytes, inflated.
    pub bytes: Vec<u8>,
}

impl Entry {
    /// Whether it is a RustSec advisory (Markdown) rather than an OSV record.
    pub fn is_rustsec(&self) -> bool {
        is_rustsec_name(&self.name)
    }
}

/// Whether a file name (its last path segment) is a RustSec advisory's, `RUSTSEC-*.md`.
pub fn is_rustsec_name(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.starts_with("RUSTSEC-") && base.ends_with(".md")
}

/// Whether `bytes` start as a zip archive does (a local file header, or the end record of an
/// empty archive).
pub fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Whether an entry name stays inside the archive's directory.
fn is_safe(name: &str) -> bool {
    let absolute =
        name.starts_with('/') || name.starts_with('\\') || name.as_bytes().get(1) == Some(&b':');
    !absolute && !name.split(['/', '\\']).any(|part| part == "..")
}

/// The advisory documents of a zip archive, in archive order (see the module docs).
///
/// # Errors
/// [`ExportError`] naming the entry and the rule it breaks; nothing is returned then.
pub fn read_zip(bytes: &[u8]) -> Result<Vec<Entry>, ExportError> {
    let not_zip = |e: zip::result::ZipError| ExportError::NotZip {
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(not_zip)?;
    if archive.len() > MAX_ENTRIES {
        return Err(ExportError::TooManyEntries {
            count: archive.len(),
            limit: MAX_ENTRIES,
        });
    }
    // Every name first: an unsafe one refuses the archive before anything is inflated.
    for name in archive.file_names() {
        let name = name.map_err(not_zip)?;
        if !is_safe(&name) {
            return Err(ExportError::UnsafePath {
                name: name.into_owned(),
            });
        }
    }
    let mut total = 0u64;
    let mut out = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(not_zip)?;
        let name = file.name().map_err(not_zip)?.into_owned();
        if file.is_dir() || !(name.ends_with(".json") || is_rustsec_name(&name)) {
            continue;
        }
        let compressed = file.compressed_size();
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ExportError::Entry {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        let size = bytes.len() as u64;
        if size > MAX_ENTRY_BYTES {
            return Err(ExportError::EntryTooLarge {
                name,
                limit: MAX_ENTRY_BYTES,
            });
        }
        if size > RATIO_FLOOR_BYTES && size > compressed.saturating_mul(MAX_RATIO) {
            return Err(ExportError::Ratio {
                name,
                size,
                compressed,
                limit: MAX_RATIO,
            });
        }
        total += size;
        if total > MAX_TOTAL_BYTES {
            return Err(ExportError::TooLarge {
                name,
                limit: MAX_TOTAL_BYTES,
            });
        }
        out.push(Entry { name, bytes });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_directory_are_unsafe() {
        for bad in [
            "../x.json",
            "a/../../x.json",
            "/etc/x.json",
            "\\x.json",
            "C:\\x.json",
            "a\\..\\x.json",
        ] {
            assert!(!is_safe(bad), "{bad}");
        }
        for good in [
            "GO-2022-0969.json",
            "crates/x/RUSTSEC-2019-0033.md",
            "a..b.json",
        ] {
            assert!(is_safe(good), "{good}");
        }
    }

    #[test]
    fn bytes_that_are_not_a_zip_are_refused() {
        assert!(matches!(
            read_zip(b"{\"id\":\"X\"}"),
            Err(ExportError::NotZip { .. })
        ));
        assert!(!looks_like_zip(b"{}"));
    }
}
