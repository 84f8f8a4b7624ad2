//! Read-only memory maps of the binaries being analysed.

use std::fs::File;
use std::ops::Deref;
use std::path::Path;

use crate::BinaryError;

/// A file mapped read-only into memory (empty files are held as an empty slice, which cannot be
/// mapped).
pub struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps `path` read-only.
    ///
    /// # Errors
    /// [`BinaryError::Io`] when the file cannot be opened or mapped.
    pub fn open(path: &Path) -> Result<Self, BinaryError> {
        let io = |source| BinaryError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        if metadata.is_dir() {
            return Err(io(std::io::Error::other("is a directory")));
        }
        if metadata.len() == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and private to this process. Another process truncating the
        // file while it is mapped would fault on access; binaries under analysis are release
        // artefacts that are not being rewritten, and `verify` re-reads nothing after hashing.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(MappedFile { map: Some(map) })
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }
}
