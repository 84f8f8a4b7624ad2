//! The local symbol cache: one directory, files named by BuildID.
//!
//! - `<buildId>.json`: a [`SymbolTable`]'s canonical JSON (what a bundle holds per binary);
//! - `<buildId>.debug`: a debuginfo file fetched from debuginfod;
//! - `<buildId>.elf`: an executable (or shared object) fetched from debuginfod.
//!
//! Names are built only from validated BuildIDs ([`is_build_id`]: lower-case hex, or
//! `sha256-<hex>` for tables), so no frame can make the cache read or write outside its
//! directory. Every write goes to a fresh temporary file in the same directory and is renamed
//! into place: a reader sees a whole file or none, and an interrupted download leaves only a
//! `.tmp` file behind, never a truncated entry.
//!
//! What this module does not own: fetching (`super::debuginfod`) or checking that a cached file
//! really has the BuildID it is filed under (the symboliser does that before use).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use stella_binary::SymbolTable;
use stella_binary::symbols::is_build_id;

use crate::RuntimeError;

/// Largest cached table read, in bytes (the limit [`SymbolTable::from_json`] holds JSON to).
pub const MAX_TABLE_BYTES: u64 = stella_core::jcs::MAX_DOCUMENT_BYTES as u64;

/// The kinds of ELF file the cache keeps beside tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CachedElf {
    /// Separate debug information (`/buildid/<id>/debuginfo`), `<buildId>.debug`.
    Debuginfo,
    /// The binary itself (`/buildid/<id>/executable`), `<buildId>.elf`.
    Executable,
}

impl CachedElf {
    /// The file-name extension used in the cache.
    pub fn extension(self) -> &'static str {
        match self {
            CachedElf::Debuginfo => "debug",
            CachedElf::Executable => "elf",
        }
    }

    /// The last segment of the debuginfod URL that serves it.
    pub fn debuginfod_name(self) -> &'static str {
        match self {
            CachedElf::Debuginfo => "debuginfo",
            CachedElf::Executable => "executable",
        }
    }
}

/// A symbol cache directory.
#[derive(Debug, Clone)]
pub struct SymbolCache {
    dir: PathBuf,
}

impl SymbolCache {
    /// The cache in `dir`, created if missing.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the directory cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, RuntimeError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| RuntimeError::io(&dir, e))?;
        Ok(SymbolCache { dir })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the table of `build_id` is kept.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when `build_id` is not a valid BuildID.
    pub fn table_path(&self, build_id: &str) -> Result<PathBuf, RuntimeError> {
        checked(build_id)?;
        Ok(self.dir.join(format!("{build_id}.json")))
    }

    /// Where the ELF file of kind `kind` for `build_id` is kept.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when `build_id` is not a GNU BuildID (lower-case hex).
    pub fn elf_path(&self, build_id: &str, kind: CachedElf) -> Result<PathBuf, RuntimeError> {
        checked_gnu(build_id)?;
        Ok(self.dir.join(format!("{build_id}.{}", kind.extension())))
    }

    /// The cached ELF file of kind `kind` for `build_id`, if there is one.
    pub fn elf(&self, build_id: &str, kind: CachedElf) -> Option<PathBuf> {
        self.elf_path(build_id, kind).ok().filter(|p| p.is_file())
    }

    /// The cached table of `build_id`: `None` when there is none.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when it cannot be read, [`RuntimeError::Symbols`] when it is not a
    /// valid table or is the table of another BuildID.
    pub fn load_table(&self, build_id: &str) -> Result<Option<SymbolTable>, RuntimeError> {
        let path = self.table_path(build_id)?;
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RuntimeError::io(&path, e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_TABLE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RuntimeError::io(&path, e))?;
        if bytes.len() as u64 > MAX_TABLE_BYTES {
            return Err(RuntimeError::TooLarge {
                path,
                what: "a symbol table",
                limit: MAX_TABLE_BYTES,
            });
        }
        let table =
            SymbolTable::from_json(&bytes).map_err(|e| RuntimeError::binary(path.display(), e))?;
        if table.build_id != build_id {
            return Err(RuntimeError::WrongBuildId {
                path,
                expected: build_id.to_owned(),
                found: Some(table.build_id),
            });
        }
        Ok(Some(table))
    }

    /// Stores `table` as `<buildId>.json`, atomically.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when the table is not valid, [`RuntimeError::Io`] when it
    /// cannot be written.
    pub fn store_table(&self, table: &SymbolTable) -> Result<PathBuf, RuntimeError> {
        let path = self.table_path(&table.build_id)?;
        let json = table
            .to_canonical_json()
            .map_err(|e| RuntimeError::binary("symbol table", e))?;
        write_atomically(&path, |file| {
            file.write_all(&json)
                .map_err(|e| RuntimeError::io(&path, e))
        })?;
        Ok(path)
    }

    /// Stores at most `max_bytes` read from `body` as the ELF file of kind `kind` for
    /// `build_id`, atomically; `check` sees the complete temporary file first and may refuse it.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when `build_id` is not a GNU BuildID or `body` holds more than
    /// `max_bytes`; [`RuntimeError::Io`] on a failed read or write; whatever `check` returns.
    pub fn store_elf(
        &self,
        build_id: &str,
        kind: CachedElf,
        body: &mut dyn Read,
        max_bytes: u64,
        check: impl FnOnce(&Path) -> Result<(), RuntimeError>,
    ) -> Result<PathBuf, RuntimeError> {
        let path = self.elf_path(build_id, kind)?;
        let mut temp = TempFile::create(&path)?;
        let copied = std::io::copy(&mut body.take(max_bytes.saturating_add(1)), &mut temp.file)
            .map_err(|e| RuntimeError::io(&temp.path, e))?;
        if copied > max_bytes {
            return Err(RuntimeError::TooLarge {
                path,
                what: "a downloaded file",
                limit: max_bytes,
            });
        }
        temp.finish(&path, check)?;
        Ok(path)
    }
}

fn checked(build_id: &str) -> Result<(), RuntimeError> {
    if is_build_id(build_id) {
        Ok(())
    } else {
        Err(RuntimeError::NotBuildId {
            input: build_id.to_owned(),
            gnu_only: false,
        })
    }
}

fn checked_gnu(build_id: &str) -> Result<(), RuntimeError> {
    if is_build_id(build_id) && !build_id.starts_with("sha256-") {
        Ok(())
    } else {
        Err(RuntimeError::NotBuildId {
            input: build_id.to_owned(),
            gnu_only: true,
        })
    }
}

/// Writes `path` by filling a temporary file beside it and renaming it into place.
fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), RuntimeError>,
) -> Result<(), RuntimeError> {
    let mut temp = TempFile::create(path)?;
    fill(&mut temp.file)?;
    temp.finish(path, |_| Ok(()))
}

/// A temporary file in the cache directory, removed unless renamed into place.
struct TempFile {
    path: PathBuf,
    file: File,
    renamed: bool,
}

impl TempFile {
    fn create(target: &Path) -> Result<Self, RuntimeError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = target.parent().unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
        // `create_new`: never follow or reuse a file someone else put there.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| RuntimeError::io(&path, e))?;
        Ok(TempFile {
            path,
            file,
            renamed: false,
        })
    }

    fn finish(
        mut self,
        target: &Path,
        check: impl FnOnce(&Path) -> Result<(), RuntimeError>,
    ) -> Result<(), RuntimeError> {
        self.file
            .sync_all()
            .map_err(|e| RuntimeError::io(&self.path, e))?;
        check(&self.path)?;
        fs::rename(&self.path, target).map_err(|e| RuntimeError::io(target, e))?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    fn table(build_id: &str) -> SymbolTable {
        super::super::test_table(build_id, &[(0x40_1000, 0x40_1010, "f")])
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn tables_round_trip_and_are_checked_against_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SymbolCache::open(dir.path().join("sub")).unwrap();
        assert_eq!(cache.load_table(ID).unwrap(), None);
        let path = cache.store_table(&table(ID)).unwrap();
        assert_eq!(path, cache.dir().join(format!("{ID}.json")));
        assert_eq!(cache.load_table(ID).unwrap(), Some(table(ID)));
        assert_eq!(leftovers(cache.dir()), vec![format!("{ID}.json")]);

        // A table filed under another BuildID is refused.
        let other = "ab".repeat(20);
        fs::copy(&path, cache.dir().join(format!("{other}.json"))).unwrap();
        match cache.load_table(&other) {
            Err(RuntimeError::WrongBuildId {
                expected, found, ..
            }) => assert_eq!((expected, found), (other.clone(), Some(ID.to_owned()))),
            refused => panic!("{refused:?}"),
        }
        // Garbage is an error, not a panic.
        fs::write(&path, b"{\"schema\":").unwrap();
        assert!(cache.load_table(ID).is_err());
    }

    #[test]
    fn names_come_only_from_valid_build_ids() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SymbolCache::open(dir.path()).unwrap();
        for bad in ["../etc/passwd", "", "AB", "ab/cd", "ab.json", "x"] {
            assert!(cache.table_path(bad).is_err(), "{bad:?}");
            assert!(
                cache.elf_path(bad, CachedElf::Debuginfo).is_err(),
                "{bad:?}"
            );
            assert_eq!(cache.elf(bad, CachedElf::Executable), None);
        }
        let sha = format!("sha256-{}", "0".repeat(64));
        assert!(cache.table_path(&sha).is_ok());
        assert!(cache.elf_path(&sha, CachedElf::Debuginfo).is_err());
    }

    #[test]
    fn elf_writes_are_atomic_capped_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SymbolCache::open(dir.path()).unwrap();
        let kind = CachedElf::Debuginfo;

        let err = cache
            .store_elf(ID, kind, &mut &[7u8; 100][..], 99, |_| Ok(()))
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::TooLarge { limit: 99, .. }),
            "{err}"
        );
        assert_eq!(cache.elf(ID, kind), None);

        let err = cache
            .store_elf(ID, kind, &mut &[7u8; 100][..], 100, |_| {
                Err(RuntimeError::WrongBuildId {
                    path: "test".into(),
                    expected: ID.to_owned(),
                    found: None,
                })
            })
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::WrongBuildId { found: None, .. }),
            "the check's refusal is returned: {err}"
        );
        assert_eq!(cache.elf(ID, kind), None);
        assert!(leftovers(cache.dir()).is_empty(), "no temporary file left");

        let path = cache
            .store_elf(ID, kind, &mut &[7u8; 100][..], 100, |temp| {
                assert_eq!(fs::read(temp).unwrap().len(), 100);
                Ok(())
            })
            .unwrap();
        assert_eq!(cache.elf(ID, kind), Some(path.clone()));
        assert_eq!(fs::read(&path).unwrap(), vec![7u8; 100]);
        assert_eq!(leftovers(cache.dir()), vec![format!("{ID}.debug")]);
    }
}
