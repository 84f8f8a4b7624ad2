//! The kernel's vDSO: the one shared object every process maps from no file.
//!
//! A frame in `[vdso]` (a program sampled inside `clock_gettime`) has no file on disk behind
//! it, so neither the kernel's `BPF_F_USER_BUILD_ID` lookup nor a read of the mapped path can
//! give its BuildID. The image itself carries one, though (a GNU note, like any ELF shared
//! object), and all 64-bit processes on a host map the same image. This module reads that
//! image out of a process's memory (`/proc/PID/mem` over the `[vdso]` range of
//! `/proc/PID/maps`, its own by default), so that `procmaps` can give vDSO frames a BuildID and
//! `symbolize` can name them from the image's `.dynsym`.
//!
//! What this module does not own: placing addresses into mappings (`procmaps`) or naming
//! (`symbolize`).

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use stella_binary::{FuncProof, SymbolTable};

use crate::RuntimeError;
use crate::procmaps::parse_maps;

/// The name `/proc/PID/maps` gives the vDSO mapping.
pub const MAPPING_NAME: &str = "[vdso]";

/// Largest vDSO image read (real ones are two or three pages).
pub const MAX_IMAGE_BYTES: u64 = 1 << 20;

/// One vDSO image, as mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vdso {
    /// The image's GNU BuildID, lower-case hex; `None` if it carries none.
    pub build_id: Option<String>,
    /// The mapped bytes: the whole ELF image, from its header.
    pub image: Vec<u8>,
}

impl Vdso {
    /// The vDSO of the process whose proc directory is `proc_dir` (`/proc/self`, `/proc/PID`).
    /// `Ok(None)` when the process maps none.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when its maps or memory cannot be read (another user's process
    /// without `CAP_SYS_PTRACE`, or one that exited); [`RuntimeError::Symbols`] when the
    /// mapping is larger than [`MAX_IMAGE_BYTES`] or the image is not ELF.
    pub fn read(proc_dir: &Path) -> Result<Option<Self>, RuntimeError> {
        let maps_path = proc_dir.join("maps");
        let maps =
            std::fs::read_to_string(&maps_path).map_err(|e| RuntimeError::io(&maps_path, e))?;
        let Some(mapping) = parse_maps(&maps)
            .into_iter()
            .find(|m| m.path == MAPPING_NAME)
        else {
            return Ok(None);
        };
        let len = mapping.end.saturating_sub(mapping.start);
        if len > MAX_IMAGE_BYTES {
            return Err(RuntimeError::TooLarge {
                path: maps_path,
                what: "a vDSO",
                limit: MAX_IMAGE_BYTES,
            });
        }
        let mem_path: PathBuf = proc_dir.join("mem");
        let mut mem = std::fs::File::open(&mem_path).map_err(|e| RuntimeError::io(&mem_path, e))?;
        mem.seek(SeekFrom::Start(mapping.start))
            .map_err(|e| RuntimeError::io(&mem_path, e))?;
        let mut image = Vec::new();
        mem.take(len)
            .read_to_end(&mut image)
            .map_err(|e| RuntimeError::io(&mem_path, e))?;
        Self::from_image(image).map(Some)
    }

    /// A vDSO from its image bytes.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when the bytes are not an ELF image.
    pub fn from_image(image: Vec<u8>) -> Result<Self, RuntimeError> {
        let layout = crate::symbolize::elf::parse_layout(&image).map_err(|e| match e {
            // The image has no file name: say what it is.
            RuntimeError::Parse { line, message, .. } => RuntimeError::Parse {
                origin: "vDSO image".to_owned(),
                line,
                message,
            },
            other => other,
        })?;
        Ok(Vdso {
            build_id: layout.build_id,
            image,
        })
    }

    /// The vDSO this process maps: the one every native process on this host maps, read once.
    /// `None` when it cannot be read (reported once, at debug level).
    pub fn host() -> Option<&'static Vdso> {
        static HOST: OnceLock<Option<Vdso>> = OnceLock::new();
        HOST.get_or_init(|| match Vdso::read(Path::new("/proc/self")) {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!("the vDSO cannot be read: {e}");
                None
            }
        })
        .as_ref()
    }

    /// The image's symbol table (its `.dynsym` functions), for naming frames.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when the image has no BuildID or no table can be built.
    pub fn symbol_table(&self) -> Result<SymbolTable, RuntimeError> {
        if self.build_id.is_none() {
            return Err(RuntimeError::VdsoWithoutBuildId);
        }
        let proof =
            FuncProof::build(&self.image).map_err(|e| RuntimeError::binary("vDSO image", e))?;
        SymbolTable::from_proof(&proof, &self.image)
            .map_err(|e| RuntimeError::binary("vDSO image", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_vdso_has_a_build_id_and_named_functions() {
        let Some(vdso) = Vdso::host() else {
            stella_testkit::skip(
                "this_process_vdso_has_a_build_id_and_named_functions",
                "this process maps no readable vDSO",
            );
            return;
        };
        let id = vdso
            .build_id
            .as_deref()
            .expect("the vDSO carries a GNU BuildID");
        assert!(
            id.len() >= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        let table = vdso.symbol_table().expect("a table of the vDSO");
        assert_eq!(table.build_id, id);
        assert!(
            table
                .functions
                .iter()
                .any(|f| f.sym.contains("clock_gettime")),
            "{:?}",
            table.functions.iter().map(|f| &f.sym).collect::<Vec<_>>()
        );
        // Read again from the same process: the same bytes.
        let again = Vdso::read(Path::new("/proc/self"))
            .expect("read")
            .expect("mapped");
        assert_eq!(&again, vdso);
    }

    #[test]
    fn a_process_without_a_vdso_mapping_has_none_and_bad_images_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("maps"),
            "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/true\n",
        )
        .expect("write maps");
        assert_eq!(Vdso::read(dir.path()).expect("read"), None);

        std::fs::write(
            dir.path().join("maps"),
            "7ffd4e1f0000-7ffd4e1f2000 r-xp 00000000 00:00 0 [vdso]\n",
        )
        .expect("write maps");
        // No mem file: an I/O error naming it.
        let err = Vdso::read(dir.path()).expect_err("no mem");
        assert!(err.to_string().contains("mem"), "{err}");
        // A mem file whose bytes at the range are not ELF.
        let err = Vdso::from_image(vec![0u8; 64]).expect_err("not ELF");
        assert!(err.to_string().contains("vDSO image"), "{err}");
    }
}
