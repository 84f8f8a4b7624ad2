//! The few ELF facts symbolisation needs, read straight from the headers: the GNU BuildID, the
//! `PT_LOAD` segments that turn a file offset into a virtual address, and whether the file
//! carries DWARF.
//!
//! The BuildID is read from the `PT_NOTE` segments, as the kernel does for
//! `BPF_F_STACK_BUILD_ID`, so a file is matched against a frame by the same rule that produced
//! the frame; `SHT_NOTE` sections are the fallback for files whose notes no segment covers.
//!
//! Only headers, notes and the section-name table are read (never the whole file), each under a
//! named bound, so a hostile or truncated file costs a few reads and yields an error, not a panic.
//!
//! What this module does not own: symbols, DWARF and demangling (blazesym, in `super::file`).

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::Path;

use crate::RuntimeError;

/// Most program headers read from one file (real binaries have about a dozen).
pub const MAX_PROGRAM_HEADERS: usize = 4096;
/// Most section headers read from one file (a linked binary has tens; an unlinked object built
/// with `-ffunction-sections` may have thousands).
pub const MAX_SECTION_HEADERS: usize = 65_536;
/// Largest note segment or section examined for the BuildID.
pub const MAX_NOTE_BYTES: u64 = 64 << 10;
/// Largest section-name table read.
pub const MAX_SECTION_NAMES_BYTES: u64 = 1 << 20;
/// Longest GNU BuildID accepted, in bytes (GNU ld writes 20 for SHA-1, 16 for MD5 or UUID).
pub const MAX_BUILD_ID_BYTES: usize = 40;
/// Largest program or section header entry size accepted (the standard ones are 32 to 64).
pub const MAX_HEADER_ENTRY_BYTES: usize = 1024;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PF_X: u32 = 1;
const SHT_NOTE: u32 = 7;
const SHT_NOBITS: u32 = 8;
const NT_GNU_BUILD_ID: u32 = 3;
const PN_XNUM: u16 = 0xffff;
const SHN_XINDEX: u16 = 0xffff;

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
/// [`RuntimeError::Io`] when the file cannot be opened or read where its headers point,
/// [`RuntimeError::Parse`] when it is not ELF or its headers are out of bounds.
pub fn read_layout(path: &Path) -> Result<ElfLayout, RuntimeError> {
    let file = File::open(path).map_err(|e| RuntimeError::io(path, e))?;
    let len = file
        .metadata()
        .map_err(|e| RuntimeError::io(path, e))?
        .len();
    let source = FileSource { file: &file, len };
    parse(&source).map_err(|e| e.into_runtime(path))
}

/// Reads the layout of an ELF image held in memory.
///
/// # Errors
/// [`RuntimeError::Parse`] when `bytes` are not ELF or its headers are out of bounds.
pub fn parse_layout(bytes: &[u8]) -> Result<ElfLayout, RuntimeError> {
    parse(&bytes).map_err(|e| e.into_runtime(Path::new("-")))
}

/// Why a layout could not be read (the path is added by the caller).
enum LayoutError {
    Io(std::io::Error),
    Format(String),
}

impl LayoutError {
    fn into_runtime(self, path: &Path) -> RuntimeError {
        match self {
            LayoutError::Io(e) => RuntimeError::io(path, e),
            LayoutError::Format(message) => RuntimeError::Parse {
                origin: path.display().to_string(),
                line: 0,
                message: format!("ELF: {message}"),
            },
        }
    }
}

fn format_error(message: impl Into<String>) -> LayoutError {
    LayoutError::Format(message.into())
}

/// Bytes at an offset: a file (positioned reads) or a slice.
trait ReadAt {
    fn len(&self) -> u64;
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, LayoutError>;
}

struct FileSource<'a> {
    file: &'a File,
    len: u64,
}

impl ReadAt for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, LayoutError> {
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(format_error(format!(
                "{len} bytes at {offset:#x} lie past the end of the file ({} bytes)",
                self.len
            )));
        }
        let mut buf = vec![0; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(LayoutError::Io)?;
        Ok(buf)
    }
}

impl ReadAt for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, LayoutError> {
        let start = usize::try_from(offset).ok();
        start
            .and_then(|s| self.get(s..s.checked_add(len)?))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                format_error(format!(
                    "{len} bytes at {offset:#x} lie past the end of the file ({} bytes)",
                    <[u8]>::len(self)
                ))
            })
    }
}

/// Field reader for one ELF class and byte order.
#[derive(Clone, Copy)]
struct Decoder {
    is_64: bool,
    little: bool,
}

impl Decoder {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let raw = [byte(b, at), byte(b, at + 1)];
        if self.little {
            u16::from_le_bytes(raw)
        } else {
            u16::from_be_bytes(raw)
        }
    }

    fn u32(self, b: &[u8], at: usize) -> u32 {
        let raw = [
            byte(b, at),
            byte(b, at + 1),
            byte(b, at + 2),
            byte(b, at + 3),
        ];
        if self.little {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        }
    }

    fn u64(self, b: &[u8], at: usize) -> u64 {
        let mut raw = [0u8; 8];
        for (i, slot) in raw.iter_mut().enumerate() {
            *slot = byte(b, at + i);
        }
        if self.little {
            u64::from_le_bytes(raw)
        } else {
            u64::from_be_bytes(raw)
        }
    }

    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(self, b: &[u8], at: usize) -> u64 {
        if self.is_64 {
            self.u64(b, at)
        } else {
            u64::from(self.u32(b, at))
        }
    }
}

/// Every buffer is read at the size its header states before it is decoded, so an index past
/// the end only happens on a bug here; it reads as zero rather than panicking.
fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// The ELF header fields used here.
struct Header {
    decoder: Decoder,
    phoff: u64,
    phentsize: usize,
    phnum: usize,
    shoff: u64,
    shentsize: usize,
    shnum: usize,
    shstrndx: usize,
}

/// One section header, the fields used here.
struct Section {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
}

fn parse(source: &impl ReadAt) -> Result<ElfLayout, LayoutError> {
    let header = read_header(source)?;
    let phdrs = read_program_headers(source, &header)?;
    let loads = phdrs
        .iter()
        .filter(|p| p.kind == PT_LOAD)
        .map(|p| LoadSegment {
            offset: p.offset,
            vaddr: p.vaddr,
            filesz: p.filesz,
            executable: p.flags & PF_X != 0,
        })
        .collect();
    let sections = read_section_headers(source, &header).unwrap_or_default();
    let mut build_id = None;
    for note in phdrs.iter().filter(|p| p.kind == PT_NOTE) {
        build_id = build_id_in(source, header.decoder, note.offset, note.filesz, note.align);
        if build_id.is_some() {
            break;
        }
    }
    if build_id.is_none() {
        for note in sections.iter().filter(|s| s.kind == SHT_NOTE) {
            build_id = build_id_in(source, header.decoder, note.offset, note.size, 4);
            if build_id.is_some() {
                break;
            }
        }
    }
    let has_debug_info = section_names(source, &header, &sections).is_some_and(|names| {
        sections.iter().any(|s| {
            s.kind != SHT_NOBITS
                && s.size > 0
                && matches!(
                    name_at(&names, s.name),
                    Some(b".debug_info" | b".zdebug_info")
                )
        })
    });
    Ok(ElfLayout {
        build_id,
        loads,
        has_debug_info,
    })
}

fn read_header(source: &impl ReadAt) -> Result<Header, LayoutError> {
    let ident = source.read_at(0, 16)?;
    if ident[..4] != *b"\x7fELF" {
        return Err(format_error("no ELF magic"));
    }
    let is_64 = match ident[4] {
        1 => false,
        2 => true,
        other => return Err(format_error(format!("unknown ELF class {other}"))),
    };
    let little = match ident[5] {
        1 => true,
        2 => false,
        other => return Err(format_error(format!("unknown ELF data encoding {other}"))),
    };
    let d = Decoder { is_64, little };
    let ehsize = if is_64 { 64 } else { 52 };
    let h = source.read_at(0, ehsize)?;
    // e_phoff, e_shoff, then e_flags, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum,
    // e_shstrndx: the same order in both classes, words 8 or 4 bytes wide.
    let (phoff_at, shoff_at, after) = if is_64 {
        (0x20, 0x28, 0x30)
    } else {
        (0x1c, 0x20, 0x24)
    };
    let phnum = d.u16(&h, after + 8);
    if phnum == PN_XNUM {
        return Err(format_error(
            "more than 65534 program headers (PN_XNUM) is not supported",
        ));
    }
    Ok(Header {
        decoder: d,
        phoff: d.word(&h, phoff_at),
        phentsize: usize::from(d.u16(&h, after + 6)),
        phnum: usize::from(phnum),
        shoff: d.word(&h, shoff_at),
        shentsize: usize::from(d.u16(&h, after + 10)),
        shnum: usize::from(d.u16(&h, after + 12)),
        shstrndx: usize::from(d.u16(&h, after + 14)),
    })
}

/// One program header, the fields used here.
struct ProgramHeader {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    align: u64,
}

fn read_program_headers(
    source: &impl ReadAt,
    header: &Header,
) -> Result<Vec<ProgramHeader>, LayoutError> {
    let d = header.decoder;
    let min_size = if d.is_64 { 56 } else { 32 };
    if header.phnum == 0 {
        return Ok(Vec::new());
    }
    if !(min_size..=MAX_HEADER_ENTRY_BYTES).contains(&header.phentsize) {
        return Err(format_error(format!(
            "program header size {} is outside {min_size}..={MAX_HEADER_ENTRY_BYTES}",
            header.phentsize
        )));
    }
    if header.phnum > MAX_PROGRAM_HEADERS {
        return Err(format_error(format!(
            "{} program headers, more than the {MAX_PROGRAM_HEADERS} read",
            header.phnum
        )));
    }
    let table = source.read_at(header.phoff, header.phentsize * header.phnum)?;
    Ok(table
        .chunks_exact(header.phentsize)
        .map(|p| {
            if d.is_64 {
                ProgramHeader {
                    kind: d.u32(p, 0),
                    flags: d.u32(p, 4),
                    offset: d.u64(p, 8),
                    vaddr: d.u64(p, 0x10),
                    filesz: d.u64(p, 0x20),
                    align: d.u64(p, 0x30),
                }
            } else {
                ProgramHeader {
                    kind: d.u32(p, 0),
                    offset: u64::from(d.u32(p, 4)),
                    vaddr: u64::from(d.u32(p, 8)),
                    filesz: u64::from(d.u32(p, 16)),
                    flags: d.u32(p, 24),
                    align: u64::from(d.u32(p, 28)),
                }
            }
        })
        .collect())
}

fn read_section_headers(
    source: &impl ReadAt,
    header: &Header,
) -> Result<Vec<Section>, LayoutError> {
    let d = header.decoder;
    let min_size = if d.is_64 { 64 } else { 40 };
    if header.shoff == 0 || !(min_size..=MAX_HEADER_ENTRY_BYTES).contains(&header.shentsize) {
        return Ok(Vec::new());
    }
    let decode = |s: &[u8]| {
        if d.is_64 {
            Section {
                name: d.u32(s, 0),
                kind: d.u32(s, 4),
                offset: d.u64(s, 0x18),
                size: d.u64(s, 0x20),
            }
        } else {
            Section {
                name: d.u32(s, 0),
                kind: d.u32(s, 4),
                offset: u64::from(d.u32(s, 16)),
                size: u64::from(d.u32(s, 20)),
            }
        }
    };
    let mut count = header.shnum;
    if count == 0 {
        // More than SHN_LORESERVE sections: the count is in section 0's `sh_size`.
        let first = source.read_at(header.shoff, header.shentsize)?;
        count = usize::try_from(decode(&first).size).unwrap_or(usize::MAX);
    }
    if count > MAX_SECTION_HEADERS {
        return Err(format_error(format!(
            "{count} section headers, more than the {MAX_SECTION_HEADERS} read"
        )));
    }
    let table = source.read_at(header.shoff, header.shentsize * count)?;
    Ok(table.chunks_exact(header.shentsize).map(decode).collect())
}

fn section_names(source: &impl ReadAt, header: &Header, sections: &[Section]) -> Option<Vec<u8>> {
    let index = if header.shstrndx == usize::from(SHN_XINDEX) {
        // The index is in section 0's `sh_link`; rare enough to go without DWARF detection.
        return None;
    } else {
        header.shstrndx
    };
    let table = sections.get(index)?;
    if table.size > MAX_SECTION_NAMES_BYTES {
        return None;
    }
    source
        .read_at(table.offset, usize::try_from(table.size).ok()?)
        .ok()
}

fn name_at(names: &[u8], offset: u32) -> Option<&[u8]> {
    let rest = names.get(usize::try_from(offset).ok()?..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..end])
}

/// The GNU BuildID in the notes at `[offset, offset + size)`, if any.
fn build_id_in(
    source: &impl ReadAt,
    d: Decoder,
    offset: u64,
    size: u64,
    align: u64,
) -> Option<String> {
    if size == 0 || size > MAX_NOTE_BYTES || size > source.len() {
        return None;
    }
    let notes = source.read_at(offset, usize::try_from(size).ok()?).ok()?;
    // Notes are 4-aligned; `.note.gnu.property` segments declare 8.
    let align = if align == 8 { 8 } else { 4 };
    let pad = |n: usize| n.checked_add(align - 1).map(|n| n & !(align - 1));
    let mut at = 0usize;
    while at + 12 <= notes.len() {
        let namesz = usize::try_from(d.u32(&notes, at)).ok()?;
        let descsz = usize::try_from(d.u32(&notes, at + 4)).ok()?;
        let kind = d.u32(&notes, at + 8);
        let name_start = at + 12;
        let desc_start = name_start.checked_add(pad(namesz)?)?;
        let desc_end = desc_start.checked_add(descsz)?;
        let name = notes.get(name_start..name_start.checked_add(namesz)?)?;
        let desc = notes.get(desc_start..desc_end)?;
        if kind == NT_GNU_BUILD_ID
            && name == b"GNU\0"
            && !desc.is_empty()
            && desc.len() <= MAX_BUILD_ID_BYTES
        {
            return Some(stella_binary::identity::hex(desc));
        }
        at = desc_start.checked_add(pad(descsz)?)?;
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
        note.extend_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
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
            PT_NOTE,
            4,
            note_at as u64,
            note_at as u64,
            note.len() as u64,
            4,
        ));
        out.extend(phdr(PT_LOAD, 5, 0x1000, 0x40_1000, 0x100, 0x1000));
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
        for len in 0..elf.len().min(400) {
            let _ = parse_layout(&elf[..len]);
        }
        for at in 0..300 {
            for value in [0u8, 0xff, 0x7f, 0x80] {
                let mut bad = elf.clone();
                bad[at] = value;
                let _ = parse_layout(&bad);
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
