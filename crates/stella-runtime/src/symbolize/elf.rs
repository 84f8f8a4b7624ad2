//! The few ELF facts symbolisation needs: the GNU BuildID, the `PT_LOAD` segments that turn a
//! file offset into a virtual address, and whether the file carries DWARF.
//!
//! The BuildID is read from the `PT_NOTE` segments, as the kernel does for
//! `BPF_F_STACK_BUILD_ID`, so a file is matched against a frame by the same rule that produced
//! the frame; `SHT_NOTE` sections are the fallback for files whose notes no segment covers.
//!
//! The headers are parsed by `object` over a read cache: only headers, notes and the
//! section-name table are read (never the whole file), and a note larger than
//! [`MAX_NOTE_BYTES`] is not read at all, so a hostile or truncated file costs a few reads and
//! yields an error, not a panic.
//!
//! What this module does not own: symbols, DWARF and demangling (blazesym, in `super::file`).

use std::fs::File;
use std::path::Path;

use object::elf::{NT_GNU_BUILD_ID, PF_X, PT_LOAD, PT_NOTE, SHT_NOBITS, SHT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader as _, SectionHeader as _};
use object::{Endianness, FileKind, ReadCache, ReadRef};

use crate::RuntimeError;

/// Most program headers accepted from one file (real binaries have about a dozen).
pub const MAX_PROGRAM_HEADERS: usize = 4096;
/// Largest note segment or section examined for the BuildID.
pub const MAX_NOTE_BYTES: u64 = 64 << 10;
/// Longest GNU BuildID accepted, in bytes (GNU ld writes 20 for SHA-1, 16 for MD5 or UUID).
pub const MAX_BUILD_ID_BYTES: usize = 40;

/// One `PT_LOAD` program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// `p_offset`: file offset of the segment's first byte.
    pub offset: u64,
    /// `p_vaddr`: virtual address of the segment's first byte.
    pub vaddr: u64,
    /// `p_filesz`: bytes the segment takes from the file.
    pub filesz: u64,
    /// `PF_X` is set.
    pub executable: bool,
}

impl LoadSegment {
    /// Whether file offset `offset` lies in `[p_offset, p_offset + p_filesz)`.
    pub fn contains_offset(&self, offset: u64) -> bool {
        offset
            .checked_sub(self.offset)
            .is_some_and(|into| into < self.filesz)
    }
}

/// What symbolisation needs to know about one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfLayout {
    /// The GNU BuildID, lower-case hex; `None` when the file carries none.
    pub build_id: Option<String>,
    /// The `PT_LOAD` segments, in header order.
    pub loads: Vec<LoadSegment>,
    /// A `.debug_info` (or `.zdebug_info`) section with bytes in the file is present.
    pub has_debug_info: bool,
}

impl ElfLayout {
    /// The virtual address of file offset `offset`: `offset − p_offset + p_vaddr` of the
    /// `PT_LOAD` whose file bytes hold it (an executable one where segments share file bytes).
    /// `None` outside every segment.
    pub fn file_offset_to_vaddr(&self, offset: u64) -> Option<u64> {
        file_offset_to_vaddr(&self.loads, offset)
    }

    /// Whether some executable segment has file bytes: false for the debug-only files
    /// `objcopy --only-keep-debug` writes, whose program headers no longer describe the file.
    pub fn has_executable_bytes(&self) -> bool {
        self.loads.iter().any(|l| l.executable && l.filesz > 0)
    }
}

/// The virtual address of file offset `offset` through `loads` (see
/// [`ElfLayout::file_offset_to_vaddr`]).
pub fn file_offset_to_vaddr(loads: &[LoadSegment], offset: u64) -> Option<u64> {
    let mut found: Option<&LoadSegment> = None;
    for load in loads.iter().filter(|l| l.contains_offset(offset)) {
        if found.is_none_or(|f| load.executable && !f.executable) {
            found = Some(load);
        }
    }
    let load = found?;
    load.vaddr.checked_add(offset - load.offset)
}

/// Reads the layout of the ELF file at `path`.
///
/// # Errors
/// [`RuntimeError::Io`] when the file cannot be opened, [`RuntimeError::Parse`] when it is not
/// ELF or its headers are out of bounds.
pub fn read_layout(path: &Path) -> Result<ElfLayout, RuntimeError> {
    let file = File::open(path).map_err(|e| RuntimeError::io(path, e))?;
    let cache = ReadCache::new(file);
    parse(&cache).map_err(|message| parse_error(path, message))
}

/// Reads the layout of an ELF image held in memory.
///
/// # Errors
/// [`RuntimeError::Parse`] when `bytes` are not ELF or its headers are out of bounds.
pub fn parse_layout(bytes: &[u8]) -> Result<ElfLayout, RuntimeError> {
    parse(bytes).map_err(|message| parse_error(Path::new("-"), message))
}

fn parse_error(path: &Path, message: String) -> RuntimeError {
    RuntimeError::Parse {
        origin: path.display().to_string(),
        line: 0,
        message: format!("ELF: {message}"),
    }
}

fn parse<'d, R: ReadRef<'d>>(data: R) -> Result<ElfLayout, String> {
    match FileKind::parse(data).map_err(|e| e.to_string())? {
        FileKind::Elf32 => layout::<object::elf::FileHeader32<Endianness>, R>(data),
        FileKind::Elf64 => layout::<object::elf::FileHeader64<Endianness>, R>(data),
        other => Err(format!("not an ELF file ({other:?})")),
    }
}

fn layout<'d, Elf: FileHeader<Endian = Endianness>, R: ReadRef<'d>>(
    data: R,
) -> Result<ElfLayout, String> {
    let header = Elf::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let phdrs = header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?;
    if phdrs.len() > MAX_PROGRAM_HEADERS {
        return Err(format!(
            "{} program headers, more than {MAX_PROGRAM_HEADERS}",
            phdrs.len()
        ));
    }
    let loads = phdrs
        .iter()
        .filter(|p| p.p_type(endian) == PT_LOAD)
        .map(|p| LoadSegment {
            offset: p.p_offset(endian).into(),
            vaddr: p.p_vaddr(endian).into(),
            filesz: p.p_filesz(endian).into(),
            executable: p.p_flags(endian).0 & PF_X.0 != 0,
        })
        .collect();
    let mut build_id = phdrs
        .iter()
        .filter(|p| p.p_type(endian) == PT_NOTE && p.p_filesz(endian).into() <= MAX_NOTE_BYTES)
        .find_map(|p| gnu_build_id::<Elf>(endian, p.notes(endian, data).ok()??));
    // A file without section headers (or with broken ones) still has its segments' answers.
    let sections = header.sections(endian, data).ok();
    if build_id.is_none() {
        build_id = sections.iter().flat_map(|t| t.iter()).find_map(|s| {
            if s.sh_type(endian) != SHT_NOTE || s.sh_size(endian).into() > MAX_NOTE_BYTES {
                return None;
            }
            gnu_build_id::<Elf>(endian, s.notes(endian, data).ok()??)
        });
    }
    let has_debug_info = sections.as_ref().is_some_and(|table| {
        table.iter().any(|s| {
            s.sh_type(endian) != SHT_NOBITS
                && s.sh_size(endian).into() > 0
                && matches!(
                    table.section_name(endian, s),
                    Ok(b".debug_info" | b".zdebug_info")
                )
        })
    });
    Ok(ElfLayout {
        build_id,
        loads,
        has_debug_info,
    })
}

/// The first well-formed GNU BuildID among `notes`, lower-case hex.
fn gnu_build_id<Elf: FileHeader<Endian = Endianness>>(
    endian: Endianness,
    mut notes: object::read::elf::NoteIterator<'_, Elf>,
) -> Option<String> {
    while let Ok(Some(note)) = notes.next() {
        let desc = note.desc();
        if note.n_type(endian) == NT_GNU_BUILD_ID
            && note.name() == b"GNU"
            && !desc.is_empty()
            && desc.len() <= MAX_BUILD_ID_BYTES
        {
            return Some(stella_core::hex::encode(desc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 little-endian file: header, two program headers (a note holding a GNU
    /// BuildID, and an executable load), no sections.
    fn tiny_elf(build_id: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // ELF64
        out[5] = 1; // little-endian
        out[6] = 1;
        out[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        out[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes()); // e_phnum
        let note_at = 64 + 2 * 56;
        let mut note = Vec::new();
        note.extend_from_slice(&4u32.to_le_bytes());
        note.extend_from_slice(&(build_id.len() as u32).to_le_bytes());
        note.extend_from_slice(&NT_GNU_BUILD_ID.0.to_le_bytes());
        note.extend_from_slice(b"GNU\0");
        note.extend_from_slice(build_id);
        while note.len() % 4 != 0 {
            note.push(0);
        }
        let phdr = |kind: u32, flags: u32, offset: u64, vaddr: u64, size: u64, align: u64| {
            let mut p = Vec::new();
            p.extend_from_slice(&kind.to_le_bytes());
            p.extend_from_slice(&flags.to_le_bytes());
            p.extend_from_slice(&offset.to_le_bytes());
            p.extend_from_slice(&vaddr.to_le_bytes());
            p.extend_from_slice(&vaddr.to_le_bytes());
            p.extend_from_slice(&size.to_le_bytes());
            p.extend_from_slice(&size.to_le_bytes());
            p.extend_from_slice(&align.to_le_bytes());
            p
        };
        out.extend(phdr(
            PT_NOTE.0,
            4,
            note_at as u64,
            note_at as u64,
            note.len() as u64,
            4,
        ));
        out.extend(phdr(PT_LOAD.0, 5, 0x1000, 0x40_1000, 0x100, 0x1000));
        out.extend(note);
        out.resize(0x1100, 0xcc);
        out
    }

    #[test]
    fn reads_the_build_id_and_the_loads() {
        let elf = tiny_elf(&[0xab, 0xcd, 0xef, 0x01]);
        let layout = parse_layout(&elf).unwrap();
        assert_eq!(layout.build_id.as_deref(), Some("abcdef01"));
        assert_eq!(
            layout.loads,
            vec![LoadSegment {
                offset: 0x1000,
                vaddr: 0x40_1000,
                filesz: 0x100,
                executable: true
            }]
        );
        assert!(!layout.has_debug_info);
        assert!(layout.has_executable_bytes());
        assert_eq!(layout.file_offset_to_vaddr(0x1010), Some(0x40_1010));
        assert_eq!(layout.file_offset_to_vaddr(0x10ff), Some(0x40_10ff));
        assert_eq!(layout.file_offset_to_vaddr(0x1100), None);
        assert_eq!(layout.file_offset_to_vaddr(0xfff), None);
    }

    #[test]
    fn an_empty_build_id_note_is_no_build_id() {
        let layout = parse_layout(&tiny_elf(&[])).unwrap();
        assert_eq!(layout.build_id, None);
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_or_a_smaller_answer_never_a_panic() {
        let elf = tiny_elf(&[1; 20]);
        let full = parse_layout(&elf).unwrap();
        // A refusal is a parse error; an answer says no more than the whole file does.
        let check = |bytes: &[u8], what: &str| match parse_layout(bytes) {
            Ok(layout) => assert!(
                layout.loads.len() <= full.loads.len() + 1
                    && layout
                        .build_id
                        .as_ref()
                        .is_none_or(|id| id.len() <= 2 * 20 + 2),
                "{what}: {layout:?}"
            ),
            Err(e) => assert!(matches!(e, RuntimeError::Parse { .. }), "{what}: {e}"),
        };
        for len in 0..elf.len().min(400) {
            check(&elf[..len], &format!("cut at {len}"));
        }
        for at in 0..300 {
            for value in [0u8, 0xff, 0x7f, 0x80] {
                let mut bad = elf.clone();
                bad[at] = value;
                check(&bad, &format!("byte {at} = {value:#x}"));
            }
        }
        assert!(parse_layout(b"").is_err());
        assert!(parse_layout(b"\x7fELF").is_err());
        assert!(parse_layout(b"MZ\x90\x00 definitely not elf").is_err());
    }

    #[test]
    fn overlapping_loads_prefer_the_executable_one_and_never_overflow() {
        let loads = [
            LoadSegment {
                offset: 0,
                vaddr: 0x50_0000,
                filesz: 0x2000,
                executable: false,
            },
            LoadSegment {
                offset: 0x1000,
                vaddr: 0x40_1000,
                filesz: 0x1000,
                executable: true,
            },
            LoadSegment {
                offset: 0x10_0000,
                vaddr: u64::MAX - 1,
                filesz: 0x10,
                executable: true,
            },
        ];
        assert_eq!(file_offset_to_vaddr(&loads, 0x1100), Some(0x40_1100));
        assert_eq!(file_offset_to_vaddr(&loads, 0x100), Some(0x50_0100));
        assert_eq!(file_offset_to_vaddr(&loads, 0x10_0001), Some(u64::MAX));
        assert_eq!(file_offset_to_vaddr(&loads, 0x10_0002), None);
    }
}
