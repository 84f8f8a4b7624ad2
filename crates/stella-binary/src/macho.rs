//! Function boundaries of Mach-O binaries (macOS and iOS executables, dylibs and bundles):
//! `LC_FUNCTION_STARTS`, the symbol table and the compact unwind table (`__unwind_info`); and
//! the slices of a universal ("fat") file.
//!
//! Like a PE image, a Mach-O binary has no symbol sizes (`nlist` records an address only). What
//! bounds its functions is a list of starts:
//!
//! - **`LC_FUNCTION_STARTS`**: the linker's list of every function's first address, kept by
//!   `strip`. A `LinkeditDataCommand` points into `__LINKEDIT` at a sequence of ULEB128 deltas:
//!   the first from the `__TEXT` segment's address, each next one from the previous start; a
//!   zero delta ends the list.
//! - **the symbol table** (`LC_SYMTAB`): `N_SECT` symbols (external and local, stabs skipped) in
//!   sections holding instructions name the starts; a symbol at an address no other table lists
//!   is a start too.
//! - **`__unwind_info`** (compact unwind): a header, a first-level index of
//!   {function offset, second-level page, LSDA index} entries (the last one a sentinel holding
//!   the end of the covered code), and second-level pages, either *regular* ({function offset,
//!   encoding} pairs, 8 bytes each) or *compressed* (4-byte entries: the low 24 bits an offset
//!   from the index entry's function offset, the high 8 an encoding index). Function offsets
//!   are relative to the `__TEXT` segment's address. The linker writes one entry per function
//!   but merges neighbours with the same encoding, so the table confirms a subset of the starts
//!   and adds the ones a missing `LC_FUNCTION_STARTS` would leave out.
//!
//! Each start's function ends at the next start of any of the three, or at the end of the
//! section holding it. That end includes the alignment padding before the next function: the
//! range is what the binary holds between two starts, exactly as a replay finds it.
//!
//! The Mach-O sources take the names of the ELF ones (`funcproof-v1.json` enumerates them), by
//! what they are to the binary:
//!
//! | Mach-O | [`Source`](crate::functions::Source) | why |
//! |---|---|---|
//! | `nlist` symbol table (`LC_SYMTAB`) | `symtab` | the static symbol table; external symbols are the exports |
//! | `__gopclntab` (Go) | `gopclntab` | names and exact ranges even when the symbol table is stripped |
//! | `LC_FUNCTION_STARTS`, `__unwind_info` | `eh_frame` | boundaries without names: `sub_<hex>` when no symbol names them |
//!
//! The export trie (`LC_DYLD_EXPORTS_TRIE`, `LC_DYLD_INFO`) is not read: every function it names
//! is an external `nlist` symbol as well, which `strip` keeps. Names keep Mach-O's leading `_`
//! (`_escape_unicode`), as the symbol table and every peer spell them.
//!
//! Hostile input gives warnings, never a panic: a ULEB128 that overflows 64 bits or an address
//! past 2^64 ends the list there; more than [`MAX_FUNCTION_STARTS`] starts or
//! [`MAX_UNWIND_ENTRIES`] unwind entries; starts outside every instruction section; unwind pages
//! or entry arrays outside the section; an unknown page kind or table version.
//!
//! **Universal files** ([`slices`]): a big-endian `fat_header` {magic `0xcafebabe` (32-bit
//! offsets) or `0xcafebabf` (64-bit), count} and one `fat_arch` per slice {cputype,
//! cpusubtype, offset, size, align (, reserved)}. Each slice is a thin Mach-O file of its own,
//! proved on its own (see [`crate::proof`]). The header is read by hand, before anything else,
//! so that a hostile one is refused precisely ([`UniversalError`]): more than [`MAX_SLICES`]
//! slices, a slice that is empty, lies past the end of the file, overlaps the header or another
//! slice, repeats an architecture, or is not a thin Mach-O file of the architecture the header
//! names.

use std::collections::BTreeSet;

use object::macho;
use object::read::macho::{LoadCommandVariant, MachHeader, MachOFile};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind, SymbolKind};

/// Most `LC_FUNCTION_STARTS` entries read from one binary (a large one has a few hundred
/// thousand); past this the rest are ignored, with a warning.
pub const MAX_FUNCTION_STARTS: usize = 10_000_000;

/// Most `__unwind_info` entries read from one binary, over all its second-level pages; past this
/// the rest are ignored, with a warning.
pub const MAX_UNWIND_ENTRIES: usize = 10_000_000;

/// Most slices a universal file may list. Real ones carry two to four; the count shares its
/// place with a Java class file's major version, which [`crate::inspect::sniff`] tells apart by
/// the same bound.
pub const MAX_SLICES: u32 = crate::inspect::MAX_FAT_ARCHES;

/// `__unwind_info`'s only version.
const UNWIND_SECTION_VERSION: u32 = 1;
/// A second-level page of {function offset, encoding} pairs.
const UNWIND_SECOND_LEVEL_REGULAR: u32 = 2;
/// A second-level page of 4-byte entries (24-bit offset, 8-bit encoding index).
const UNWIND_SECOND_LEVEL_COMPRESSED: u32 = 3;

/// What a Mach-O binary's tables say about its functions.
#[derive(Debug, Default)]
pub struct MachOFunctions {
    /// `[start, end)` of every function the tables bound, sorted.
    pub ranges: Vec<(u64, u64)>,
    /// What was refused or ignored.
    pub warnings: Vec<String>,
}

/// The function ranges of `file` (nothing unless it is a thin Mach-O file).
pub fn read(file: &object::File<'_>) -> MachOFunctions {
    match file {
        object::File::MachO32(m) => read_macho(m),
        object::File::MachO64(m) => read_macho(m),
        _ => MachOFunctions::default(),
    }
}

/// The sections holding instructions: `(start, end)`, sorted.
struct TextSections(Vec<(u64, u64)>);

impl TextSections {
    /// The end of the section holding `address`.
    fn end_of(&self, address: u64) -> Option<u64> {
        let i = self.0.partition_point(|&(lo, _)| lo <= address);
        let &(lo, hi) = self.0.get(i.checked_sub(1)?)?;
        (lo..hi).contains(&address).then_some(hi)
    }
}

fn read_macho<Mach: MachHeader<Endian = object::Endianness>>(
    m: &MachOFile<'_, Mach>,
) -> MachOFunctions {
    let mut out = MachOFunctions::default();
    let mut text: Vec<(u64, u64)> = m
        .sections()
        .filter(|s| s.kind() == SectionKind::Text && s.size() > 0)
        .map(|s| (s.address(), s.address().saturating_add(s.size())))
        .collect();
    text.sort_unstable();
    let text = TextSections(text);
    let text_segment = m
        .segments()
        .find(|s| s.name().ok().flatten() == Some("__TEXT"))
        .map(|s| s.address());
    let mut starts: BTreeSet<u64> = BTreeSet::new();
    let mut outside = Outside::default();
    let mut add = |address: u64, count: &mut usize| {
        if text.end_of(address).is_some() {
            starts.insert(address);
        } else {
            *count += 1;
        }
    };
    match text_segment {
        Some(base) => {
            for address in function_starts(m, base, &mut out.warnings) {
                add(address, &mut outside.function_starts);
            }
            if let Some(section) = m.section_by_name("__unwind_info") {
                match section.data() {
                    Ok(bytes) => {
                        let little = m.is_little_endian();
                        for address in unwind_starts(bytes, little, base, &mut out.warnings) {
                            add(address, &mut outside.unwind);
                        }
                    }
                    Err(_) => out
                        .warnings
                        .push("__unwind_info: its bytes lie outside the file".to_owned()),
                }
            }
        }
        None => {
            if has_function_starts(m) {
                out.warnings.push(
                    "LC_FUNCTION_STARTS: no __TEXT segment to count the starts from; ignored"
                        .to_owned(),
                );
            }
        }
    }
    for sym in m.symbols() {
        if sym.kind() == SymbolKind::Text && sym.is_definition() {
            add(sym.address(), &mut outside.symbols);
        }
    }
    out.warnings.extend(outside.into_warnings());
    let starts: Vec<u64> = starts.into_iter().collect();
    out.ranges = starts
        .iter()
        .enumerate()
        .filter_map(|(i, &start)| {
            let section_end = text.end_of(start)?;
            let end = starts
                .get(i + 1)
                .map_or(section_end, |&n| n.min(section_end));
            Some((start, end))
        })
        .collect();
    out
}

/// Starts that lie in no instruction section, by table.
#[derive(Default)]
struct Outside {
    function_starts: usize,
    unwind: usize,
    symbols: usize,
}

impl Outside {
    fn into_warnings(self) -> Vec<String> {
        [
            (self.function_starts, "LC_FUNCTION_STARTS lists"),
            (self.unwind, "__unwind_info lists"),
            (self.symbols, "the symbol table places"),
        ]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, what)| {
            format!("{what} {n} function starts outside every instruction section; ignored")
        })
        .collect()
    }
}

fn has_function_starts<Mach: MachHeader<Endian = object::Endianness>>(
    m: &MachOFile<'_, Mach>,
) -> bool {
    let Ok(mut commands) = m.macho_load_commands() else {
        return false;
    };
    while let Ok(Some(command)) = commands.next() {
        if command.cmd() == macho::LC_FUNCTION_STARTS {
            return true;
        }
    }
    false
}

/// The addresses `LC_FUNCTION_STARTS` lists, counted from the `__TEXT` segment's address
/// `base`; at most [`MAX_FUNCTION_STARTS`], and only up to a malformed delta.
fn function_starts<Mach: MachHeader<Endian = object::Endianness>>(
    m: &MachOFile<'_, Mach>,
    base: u64,
    warnings: &mut Vec<String>,
) -> Vec<u64> {
    let endian = m.endian();
    let mut out = Vec::new();
    let Ok(mut commands) = m.macho_load_commands() else {
        return out;
    };
    while let Ok(Some(command)) = commands.next() {
        let Ok(LoadCommandVariant::LinkeditData(linkedit)) = command.variant() else {
            continue;
        };
        if linkedit.cmd.get(endian) != macho::LC_FUNCTION_STARTS {
            continue;
        }
        let mut deltas = match linkedit.function_starts(endian, m.data(), base) {
            Ok(deltas) => deltas,
            Err(_) => {
                warnings.push(format!(
                    "LC_FUNCTION_STARTS: its {} bytes at file offset {:#x} lie outside the file; \
                     ignored",
                    linkedit.datasize.get(endian),
                    linkedit.dataoff.get(endian)
                ));
                continue;
            }
        };
        loop {
            if out.len() >= MAX_FUNCTION_STARTS {
                warnings.push(format!(
                    "LC_FUNCTION_STARTS: more than {MAX_FUNCTION_STARTS} starts; the rest were \
                     ignored"
                ));
                break;
            }
            match deltas.next() {
                Ok(Some(address)) => out.push(address),
                Ok(None) => break,
                Err(e) => {
                    warnings.push(format!(
                        "LC_FUNCTION_STARTS: stopped after {} starts ({e}); the rest were ignored",
                        out.len()
                    ));
                    break;
                }
            }
        }
    }
    out
}

/// A reader of `__unwind_info`'s fields in the binary's byte order; every read is bounded.
struct Words<'d> {
    bytes: &'d [u8],
    little: bool,
}

impl Words<'_> {
    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
}

/// What went wrong in `__unwind_info`, counted so that a hostile table gives a few warnings.
#[derive(Default)]
struct UnwindProblems {
    pages_outside: usize,
    unknown_kinds: usize,
    entries_outside: usize,
    too_many: bool,
}

/// The function starts `__unwind_info` (`bytes`) lists, as addresses from `base`.
fn unwind_starts(bytes: &[u8], little: bool, base: u64, warnings: &mut Vec<String>) -> Vec<u64> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let words = Words { bytes, little };
    let header = (
        words.u32(0),
        words.u32(20), // indexSectionOffset
        words.u32(24), // indexCount
    );
    let (Some(version), Some(index_offset), Some(index_count)) = header else {
        warnings.push(format!(
            "__unwind_info: {} bytes are too few for its header; ignored",
            bytes.len()
        ));
        return Vec::new();
    };
    if version != UNWIND_SECTION_VERSION {
        warnings.push(format!(
            "__unwind_info: version {version} is not {UNWIND_SECTION_VERSION}; ignored"
        ));
        return Vec::new();
    }
    let index_offset = index_offset as usize;
    let index_count = index_count as usize;
    let fits = index_count
        .checked_mul(12)
        .and_then(|n| n.checked_add(index_offset))
        .is_some_and(|end| end <= bytes.len());
    if !fits {
        warnings.push(format!(
            "__unwind_info: its index of {index_count} entries at offset {index_offset:#x} lies \
             outside the section's {} bytes; ignored",
            bytes.len()
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut problems = UnwindProblems::default();
    // The last index entry is the sentinel: its function offset is the end of the covered
    // code and it has no page.
    for i in 0..index_count.saturating_sub(1) {
        let at = index_offset + 12 * i;
        let (Some(first), Some(page)) = (words.u32(at), words.u32(at + 4)) else {
            break;
        };
        if page == 0 {
            continue;
        }
        read_page(&words, page as usize, first, base, &mut out, &mut problems);
        if problems.too_many {
            break;
        }
    }
    if problems.pages_outside > 0 {
        warnings.push(format!(
            "__unwind_info: {} second-level pages lie outside the section; ignored",
            problems.pages_outside
        ));
    }
    if problems.unknown_kinds > 0 {
        warnings.push(format!(
            "__unwind_info: {} second-level pages are of an unknown kind; ignored",
            problems.unknown_kinds
        ));
    }
    if problems.entries_outside > 0 {
        warnings.push(format!(
            "__unwind_info: the entries of {} second-level pages run past the section; those \
             past it were ignored",
            problems.entries_outside
        ));
    }
    if problems.too_many {
        warnings.push(format!(
            "__unwind_info: more than {MAX_UNWIND_ENTRIES} entries; the rest were ignored"
        ));
    }
    out
}

/// The starts of one second-level page at section offset `page`, whose index entry's function
/// offset is `first`.
fn read_page(
    words: &Words<'_>,
    page: usize,
    first: u32,
    base: u64,
    out: &mut Vec<u64>,
    problems: &mut UnwindProblems,
) {
    let header = (
        words.u32(page),
        words.u16(page.saturating_add(4)),
        words.u16(page.saturating_add(6)),
    );
    let (Some(kind), Some(entries_at), Some(count)) = header else {
        problems.pages_outside += 1;
        return;
    };
    let entries_at = page.saturating_add(usize::from(entries_at));
    let (stride, compressed) = match kind {
        UNWIND_SECOND_LEVEL_REGULAR => (8, false),
        UNWIND_SECOND_LEVEL_COMPRESSED => (4, true),
        _ => {
            problems.unknown_kinds += 1;
            return;
        }
    };
    for j in 0..usize::from(count) {
        if out.len() >= MAX_UNWIND_ENTRIES {
            problems.too_many = true;
            return;
        }
        let Some(entry) = words.u32(entries_at.saturating_add(stride * j)) else {
            problems.entries_outside += 1;
            return;
        };
        let offset = if compressed {
            u64::from(first) + u64::from(entry & 0x00ff_ffff)
        } else {
            u64::from(entry)
        };
        if let Some(address) = base.checked_add(offset) {
            out.push(address);
        }
    }
}

/// Why a universal file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UniversalError {
    /// The header or its slice table is cut short.
    #[error("a Mach-O universal binary whose header is cut short ({len} bytes)")]
    Truncated {
        /// The file's size.
        len: usize,
    },
    /// More slices than [`MAX_SLICES`], or none.
    #[error(
        "a Mach-O universal binary listing {count} slices; between 1 and {MAX_SLICES} are read \
         (a Java class file starts with the same magic)"
    )]
    SliceCount {
        /// The count the header gives.
        count: u32,
    },
    /// A slice that is empty or lies (partly) past the end of the file.
    #[error(
        "slice {index} ({arch}) of the Mach-O universal binary: bytes {offset:#x}+{size:#x} are \
         not inside the {len}-byte file"
    )]
    OutOfFile {
        /// Its place in the header's table.
        index: usize,
        /// Its architecture.
        arch: String,
        /// Its file offset.
        offset: u64,
        /// Its size.
        size: u64,
        /// The file's size.
        len: usize,
    },
    /// A slice that overlaps the header or another slice.
    #[error(
        "slice {index} ({arch}) of the Mach-O universal binary, at {offset:#x}, overlaps {other}"
    )]
    Overlap {
        /// Its place in the header's table.
        index: usize,
        /// Its architecture.
        arch: String,
        /// Its file offset.
        offset: u64,
        /// What it overlaps (the header, or another slice).
        other: String,
    },
    /// Two slices for one architecture.
    #[error("the Mach-O universal binary has two slices for {arch} (slices {first} and {second})")]
    Duplicate {
        /// The architecture.
        arch: String,
        /// The first slice's place.
        first: usize,
        /// The second slice's place.
        second: usize,
    },
    /// A slice that is not a thin Mach-O file of the architecture the header names.
    #[error("slice {index} ({arch}) of the Mach-O universal binary: {reason}")]
    NotMachO {
        /// Its place in the header's table.
        index: usize,
        /// Its architecture.
        arch: String,
        /// What it is instead.
        reason: String,
    },
}

/// One slice of a universal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceBytes<'d> {
    /// Apple's name of its architecture (`x86_64`, `arm64`, `arm64e`, …; `cpu<type>-<subtype>`
    /// for one without a name here).
    pub arch: String,
    /// Where it starts in the whole file.
    pub offset: u64,
    /// Its bytes.
    pub data: &'d [u8],
}

/// Apple's name for a (cputype, cpusubtype) pair, as `lipo` prints it.
pub fn arch_name(cputype: u32, cpusubtype: u32) -> String {
    let subtype = cpusubtype & !macho::CPU_SUBTYPE_MASK;
    let name = match cputype {
        0x0100_0007 if subtype == 8 => "x86_64h",
        0x0100_0007 => "x86_64",
        0x0100_000c if subtype == 2 => "arm64e",
        0x0100_000c => "arm64",
        0x0200_000c => "arm64_32",
        7 => "i386",
        12 => match subtype {
            9 => "armv7",
            11 => "armv7s",
            12 => "armv7k",
            _ => "arm",
        },
        18 => "ppc",
        0x0100_0012 => "ppc64",
        _ => return format!("cpu{cputype:#x}-{subtype:#x}"),
    };
    name.to_owned()
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// The slices of a universal file, in file order; `Ok(None)` when `data` is not one.
///
/// # Errors
/// [`UniversalError`] when the header lists more than [`MAX_SLICES`] slices (or none), or a slice
/// is empty, out of the file, overlapping, repeated or not a thin Mach-O file of its architecture.
pub fn slices(data: &[u8]) -> Result<Option<Vec<SliceBytes<'_>>>, UniversalError> {
    let wide = match be32(data, 0) {
        Some(macho::FAT_MAGIC) => false,
        Some(macho::FAT_MAGIC_64) => true,
        _ => return Ok(None),
    };
    let truncated = UniversalError::Truncated { len: data.len() };
    let count = be32(data, 4).ok_or_else(|| truncated.clone())?;
    if count == 0 || count > MAX_SLICES {
        return Err(UniversalError::SliceCount { count });
    }
    let entry = if wide { 32 } else { 20 };
    let header_end = 8 + entry * count as usize;
    if data.len() < header_end {
        return Err(truncated);
    }
    let mut out: Vec<(usize, u32, u32, SliceBytes<'_>)> = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let at = 8 + entry * index;
        let field = |n: usize| be32(data, at + 4 * n).ok_or_else(|| truncated.clone());
        let (cputype, cpusubtype) = (field(0)?, field(1)?);
        let (offset, size) = if wide {
            let offset = be64(data, at + 8).ok_or_else(|| truncated.clone())?;
            let size = be64(data, at + 16).ok_or_else(|| truncated.clone())?;
            (offset, size)
        } else {
            (u64::from(field(2)?), u64::from(field(3)?))
        };
        let arch = arch_name(cputype, cpusubtype);
        let bytes = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .filter(|&(_, size)| size > 0)
            .and_then(|(from, size)| data.get(from..from.checked_add(size)?));
        let Some(bytes) = bytes else {
            return Err(UniversalError::OutOfFile {
                index,
                arch,
                offset,
                size,
                len: data.len(),
            });
        };
        if offset < header_end as u64 {
            return Err(UniversalError::Overlap {
                index,
                arch,
                offset,
                other: format!("the header and its table (bytes 0..{header_end:#x})"),
            });
        }
        if let Some(&(first, ..)) = out.iter().find(|(_, t, s, _)| arch_name(*t, *s) == arch) {
            return Err(UniversalError::Duplicate {
                arch,
                first,
                second: index,
            });
        }
        out.push((
            index,
            cputype,
            cpusubtype,
            SliceBytes {
                arch,
                offset,
                data: bytes,
            },
        ));
    }
    out.sort_by_key(|(_, _, _, s)| s.offset);
    for pair in out.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.3.offset + a.3.data.len() as u64 > b.3.offset {
            return Err(UniversalError::Overlap {
                index: b.0,
                arch: b.3.arch.clone(),
                offset: b.3.offset,
                other: format!(
                    "slice {} ({}, bytes {:#x}+{:#x})",
                    a.0,
                    a.3.arch,
                    a.3.offset,
                    a.3.data.len()
                ),
            });
        }
    }
    for (index, cputype, _, slice) in &out {
        check_thin(slice, *cputype).map_err(|reason| UniversalError::NotMachO {
            index: *index,
            arch: slice.arch.clone(),
            reason,
        })?;
    }
    Ok(Some(out.into_iter().map(|(_, _, _, s)| s).collect()))
}

/// Whether a slice is a thin Mach-O file whose own header names `cputype`.
fn check_thin(slice: &SliceBytes<'_>, cputype: u32) -> Result<(), String> {
    let magic = be32(slice.data, 0).ok_or("it is shorter than a Mach-O header")?;
    let own = match magic {
        0xfeed_face | 0xfeed_facf => be32(slice.data, 4),
        0xcefa_edfe | 0xcffa_edfe => be32(slice.data, 4).map(u32::swap_bytes),
        macho::FAT_MAGIC | macho::FAT_MAGIC_64 => {
            return Err("it is a universal binary itself".to_owned());
        }
        _ => return Err(format!("it starts with {magic:#010x}, not a Mach-O magic")),
    }
    .ok_or("it is shorter than a Mach-O header")?;
    if own != cputype {
        return Err(format!(
            "its own header says {}, the universal header {}",
            arch_name(own, 0),
            arch_name(cputype, 0)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FuncProof;

    const TEXT: u64 = 0x400;
    const TEXT_SIZE: u64 = 0x100;
    const UNWIND: u64 = 0x500;
    const LINKEDIT: usize = 0x800;
    const ARM64: u32 = 0x0100_000c;
    const X86_64: u32 = 0x0100_0007;

    /// A 64-bit little-endian Mach-O bundle of `cputype`: `__TEXT` (file and addresses 0..0x800)
    /// with `__text` at 0x400 (0x100 bytes of `fill`) and `__unwind_info` at 0x500 (`unwind`),
    /// `__LINKEDIT` at 0x800 with the `LC_FUNCTION_STARTS` bytes `starts`, then an `nlist`
    /// table of `symbols` (name, address; in section 1, external) and its strings, and an
    /// `LC_UUID` of `uuid`.
    struct Thin<'a> {
        cputype: u32,
        fill: &'a [u8],
        starts: &'a [u8],
        unwind: &'a [u8],
        symbols: &'a [(&'a str, u64)],
        uuid: u8,
    }

    fn put32(out: &mut Vec<u8>, words: &[u32]) {
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }

    fn put64(out: &mut Vec<u8>, words: &[u64]) {
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }

    fn name16(name: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..name.len()].copy_from_slice(name.as_bytes());
        out
    }

    fn section(out: &mut Vec<u8>, name: &str, addr: u64, size: u64, flags: u32) {
        out.extend_from_slice(&name16(name));
        out.extend_from_slice(&name16("__TEXT"));
        put64(out, &[addr, size]);
        // offset, align, reloff, nreloc, flags, reserved1..3
        put32(out, &[addr as u32, 2, 0, 0, flags, 0, 0, 0]);
    }

    impl Thin<'_> {
        fn build(&self) -> Vec<u8> {
            let mut linkedit = self.starts.to_vec();
            while !linkedit.len().is_multiple_of(8) {
                linkedit.push(0);
            }
            let symoff = LINKEDIT + linkedit.len();
            let mut strings = vec![0u8];
            for &(name, address) in self.symbols {
                // n_strx, n_type (N_SECT | N_EXT), n_sect, n_desc, n_value
                put32(&mut linkedit, &[strings.len() as u32]);
                linkedit.extend_from_slice(&[0x0f, 1, 0, 0]);
                put64(&mut linkedit, &[address]);
                strings.extend_from_slice(name.as_bytes());
                strings.push(0);
            }
            let stroff = LINKEDIT + linkedit.len();
            linkedit.extend_from_slice(&strings);

            let mut commands = Vec::new();
            // LC_SEGMENT_64 __TEXT with two sections.
            put32(&mut commands, &[0x19, 72 + 2 * 80]);
            commands.extend_from_slice(&name16("__TEXT"));
            put64(&mut commands, &[0, LINKEDIT as u64, 0, LINKEDIT as u64]);
            put32(&mut commands, &[5, 5, 2, 0]);
            section(&mut commands, "__text", TEXT, TEXT_SIZE, 0x8000_0400);
            section(
                &mut commands,
                "__unwind_info",
                UNWIND,
                self.unwind.len() as u64,
                0,
            );
            // LC_SEGMENT_64 __LINKEDIT.
            put32(&mut commands, &[0x19, 72]);
            commands.extend_from_slice(&name16("__LINKEDIT"));
            let size = linkedit.len() as u64;
            put64(
                &mut commands,
                &[LINKEDIT as u64, 0x1000, LINKEDIT as u64, size],
            );
            put32(&mut commands, &[1, 1, 0, 0]);
            // LC_SYMTAB, LC_FUNCTION_STARTS, LC_UUID.
            put32(
                &mut commands,
                &[
                    0x2,
                    24,
                    symoff as u32,
                    self.symbols.len() as u32,
                    stroff as u32,
                    strings.len() as u32,
                ],
            );
            put32(
                &mut commands,
                &[0x26, 16, LINKEDIT as u32, self.starts.len() as u32],
            );
            put32(&mut commands, &[0x1b, 24]);
            commands.extend_from_slice(&[self.uuid; 16]);

            let mut out = Vec::new();
            // mach_header_64: magic, cputype, cpusubtype, MH_BUNDLE, ncmds, sizeofcmds, flags,
            // reserved.
            put32(
                &mut out,
                &[
                    0xfeed_facf,
                    self.cputype,
                    0,
                    8,
                    5,
                    commands.len() as u32,
                    0,
                    0,
                ],
            );
            out.extend_from_slice(&commands);
            out.resize(TEXT as usize, 0);
            while out.len() < (TEXT + TEXT_SIZE) as usize {
                out.extend_from_slice(self.fill);
            }
            out.truncate((TEXT + TEXT_SIZE) as usize);
            out.extend_from_slice(self.unwind);
            assert!(
                out.len() <= LINKEDIT,
                "__unwind_info too large for the test layout"
            );
            out.resize(LINKEDIT, 0);
            out.extend_from_slice(&linkedit);
            out
        }
    }

    /// `ret` of each architecture, the filler of `__text`.
    fn ret(cputype: u32) -> &'static [u8] {
        if cputype == ARM64 {
            &[0xc0, 0x03, 0x5f, 0xd6]
        } else {
            &[0xc3]
        }
    }

    fn uleb(mut value: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// `LC_FUNCTION_STARTS` bytes for `starts` (addresses from 0), zero-terminated.
    fn starts(addresses: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut last = 0;
        for &a in addresses {
            uleb(a - last, &mut out);
            last = a;
        }
        out.push(0);
        out
    }

    /// `__unwind_info`: version 1, no common encodings or personalities, an index of `pages`
    /// (function offset, page bytes or none) and a sentinel at `end`; the pages follow it.
    fn unwind(pages: &[(u32, Option<Vec<u8>>)], end: u32) -> Vec<u8> {
        let index_at = 28u32;
        let pages_at = index_at + 12 * (pages.len() as u32 + 1);
        let mut out = Vec::new();
        put32(
            &mut out,
            &[1, 28, 0, 28, 0, index_at, pages.len() as u32 + 1],
        );
        let mut body = Vec::new();
        for (first, page) in pages {
            let offset = match page {
                Some(bytes) => {
                    let at = pages_at + body.len() as u32;
                    body.extend_from_slice(bytes);
                    at
                }
                None => 0,
            };
            put32(&mut out, &[*first, offset, 0]);
        }
        put32(&mut out, &[end, 0, 0]);
        out.extend_from_slice(&body);
        out
    }

    /// A regular second-level page of {function offset, encoding} pairs.
    fn regular(offsets: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        put32(&mut out, &[2]);
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&(offsets.len() as u16).to_le_bytes());
        for &o in offsets {
            put32(&mut out, &[o, 0x0200_0000]);
        }
        out
    }

    /// A compressed second-level page: entries are offsets from the index entry's.
    fn compressed(deltas: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        put32(&mut out, &[3]);
        for half in [12u16, deltas.len() as u16, 0, 0] {
            out.extend_from_slice(&half.to_le_bytes());
        }
        for &d in deltas {
            put32(&mut out, &[d]);
        }
        out
    }

    fn thin(starts: &[u8], unwind: &[u8], symbols: &[(&str, u64)]) -> Vec<u8> {
        Thin {
            cputype: ARM64,
            fill: ret(ARM64),
            starts,
            unwind,
            symbols,
            uuid: 0x11,
        }
        .build()
    }

    fn ranges(data: &[u8]) -> MachOFunctions {
        let file = object::File::parse(data).expect("a Mach-O file");
        read(&file)
    }

    #[test]
    fn starts_from_every_table_run_to_the_next_one() {
        let data = thin(
            &starts(&[0x400, 0x420, 0x460]),
            &unwind(
                &[
                    (0x400, Some(regular(&[0x400, 0x4a0]))),
                    (0x4c0, Some(compressed(&[0, 0x20]))),
                ],
                0x500,
            ),
            &[("_named", 0x420), ("_only_in_symtab", 0x480)],
        );
        let found = ranges(&data);
        assert_eq!(found.warnings, Vec::<String>::new());
        assert_eq!(
            found.ranges,
            vec![
                (0x400, 0x420),
                (0x420, 0x460),
                (0x460, 0x480),
                (0x480, 0x4a0),
                (0x4a0, 0x4c0),
                (0x4c0, 0x4e0),
                (0x4e0, 0x500)
            ]
        );
        let proof = FuncProof::build(&data).expect("proof");
        let names: Vec<(&str, &str)> = proof
            .functions
            .iter()
            .map(|f| (f.sym.as_str(), f.source.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("sub_400", "eh_frame"),
                ("_named", "symtab"),
                ("sub_460", "eh_frame"),
                ("_only_in_symtab", "symtab"),
                ("sub_4a0", "eh_frame"),
                ("sub_4c0", "eh_frame"),
                ("sub_4e0", "eh_frame"),
            ]
        );
        assert_eq!(
            proof.identity.uuid.as_deref(),
            Some("11111111-1111-1111-1111-111111111111")
        );
        assert!(proof.verify(&data).expect("verify").is_empty());
    }

    #[test]
    fn overflowing_uleb128_ends_the_list_with_a_warning() {
        // 0x400, then eleven continuation bytes: more than 64 bits.
        let mut bytes = starts(&[0x400]);
        bytes.pop();
        bytes.extend_from_slice(&[0xff; 11]);
        bytes.push(0x01);
        let found = ranges(&thin(&bytes, &[], &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x500)]);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(
            found.warnings[0].starts_with("LC_FUNCTION_STARTS: ")
                && found.warnings[0].contains("after 1 starts"),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn an_address_past_2_64_ends_the_list_with_a_warning() {
        let mut bytes = starts(&[0x400]);
        bytes.pop();
        uleb(u64::MAX - 0x10, &mut bytes);
        bytes.push(0);
        let found = ranges(&thin(&bytes, &[], &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x500)]);
        assert!(
            found.warnings.iter().any(|w| w.contains("after 1 starts")),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn a_zero_delta_ends_the_list_and_huge_ones_land_outside_the_text() {
        // 0x400, 0 (the end: what follows is padding), 0x10.
        let found = ranges(&thin(&[0x80, 0x08, 0x00, 0x10], &[], &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x500)]);
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        // 0x400, then 0x7fff_0000 past it, then 0x10 past that: two starts outside __text.
        let found = ranges(&thin(&starts(&[0x400, 0x7fff_0400, 0x7fff_0410]), &[], &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x500)]);
        assert_eq!(
            found.warnings,
            vec![
                "LC_FUNCTION_STARTS lists 2 function starts outside every instruction section; \
                 ignored"
            ]
        );
    }

    #[test]
    fn unwind_pages_out_of_bounds_are_warned_about() {
        let starts = starts(&[0x400]);
        // A page offset far past the section.
        let mut far = unwind(&[(0x400, None)], 0x500);
        far[28 + 4..28 + 8].copy_from_slice(&0xffffu32.to_le_bytes());
        let found = ranges(&thin(&starts, &far, &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x500)]);
        assert_eq!(
            found.warnings,
            vec!["__unwind_info: 1 second-level pages lie outside the section; ignored"]
        );
        // A page claiming 65,535 entries: the ones in the section are read.
        let mut page = regular(&[0x400, 0x480]);
        page[6..8].copy_from_slice(&u16::MAX.to_le_bytes());
        let found = ranges(&thin(&starts, &unwind(&[(0x400, Some(page))], 0x500), &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x480), (0x480, 0x500)]);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0].contains("run past the section"));
        // An unknown page kind, an index past the end, another version.
        let mut odd = regular(&[0x480]);
        odd[0] = 9;
        let found = ranges(&thin(&starts, &unwind(&[(0x400, Some(odd))], 0x500), &[]));
        assert_eq!(found.ranges, vec![(0x400, 0x500)]);
        assert!(
            found.warnings[0].contains("unknown kind"),
            "{:?}",
            found.warnings
        );
        let mut index = unwind(&[], 0x500);
        index[24..28].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        let found = ranges(&thin(&starts, &index, &[]));
        assert!(
            found.warnings[0].contains("its index of"),
            "{:?}",
            found.warnings
        );
        let mut version = unwind(&[], 0x500);
        version[0] = 2;
        let found = ranges(&thin(&starts, &version, &[]));
        assert!(
            found.warnings[0].contains("version 2"),
            "{:?}",
            found.warnings
        );
        // Too short for a header.
        let found = ranges(&thin(&starts, &[1, 0, 0, 0], &[]));
        assert!(
            found.warnings[0].contains("too few"),
            "{:?}",
            found.warnings
        );
    }

    /// A universal file of `slices` (cputype, bytes), each at the next 0x1000 boundary.
    fn fat(slices: &[(u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [macho::FAT_MAGIC, slices.len() as u32] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        let mut offset = 0x1000u32;
        let mut placed = Vec::new();
        for &(cputype, bytes) in slices {
            for w in [cputype, 0, offset, bytes.len() as u32, 12] {
                out.extend_from_slice(&w.to_be_bytes());
            }
            placed.push((offset as usize, bytes));
            offset += (bytes.len() as u32).div_ceil(0x1000) * 0x1000;
        }
        for (at, bytes) in placed {
            out.resize(at, 0);
            out.extend_from_slice(bytes);
        }
        out
    }

    fn two_slices() -> Vec<u8> {
        let starts = starts(&[0x400, 0x440]);
        let arm = thin(&starts, &[], &[("_f", 0x400)]);
        let x86 = Thin {
            cputype: X86_64,
            fill: ret(X86_64),
            starts: &starts,
            unwind: &[],
            symbols: &[("_g", 0x440)],
            uuid: 0x22,
        }
        .build();
        fat(&[(X86_64, &x86), (ARM64, &arm)])
    }

    #[test]
    fn a_universal_file_is_proved_slice_by_slice() {
        let data = two_slices();
        let proof = FuncProof::build(&data).expect("proof");
        assert!(proof.functions.is_empty() && proof.sections.is_empty());
        assert_eq!(proof.identity.arch, "universal");
        let slices: Vec<(&str, u64, usize)> = proof
            .slices
            .iter()
            .map(|s| (s.arch.as_str(), s.offset, s.functions.len()))
            .collect();
        assert_eq!(slices, vec![("x86_64", 0x1000, 2), ("arm64", 0x2000, 2)]);
        assert_eq!(proof.slices[1].functions[0].sym, "_f");
        assert_eq!(proof.slices[0].functions[1].sym, "_g");
        assert_eq!(
            proof.slices[1].identity.uuid.as_deref(),
            Some("11111111-1111-1111-1111-111111111111")
        );
        assert_eq!(proof.function_count(), 4);
        assert!(proof.verify(&data).expect("verify").is_empty());
        let hits = proof.query("_f").expect("query");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].slice.as_deref(), Some("arm64"));

        // The proof survives its own JSON, and the slices keep their place in it.
        let json = proof.to_canonical_json().expect("json");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(
            stella_core::jcs::canonicalize(&json).expect("canonical"),
            json,
            "written in RFC 8785 form"
        );
        assert_eq!(value["slices"][1]["offset"], 0x2000);
        let back = FuncProof::from_json(&json).expect("reads back");
        assert_eq!(back, proof);

        // One byte of the arm64 slice's `_f` changed: that function of that slice, and the
        // files (whole and slice) and its section, no more.
        let mut patched = data.clone();
        patched[0x2000 + 0x404] ^= 0xff;
        let mismatches = proof.verify(&patched).expect("verify");
        let functions: Vec<(&str, Option<&str>)> = mismatches
            .iter()
            .filter(|m| m.kind == crate::MismatchKind::Function)
            .map(|m| (m.name.as_str(), m.slice.as_deref()))
            .collect();
        assert_eq!(functions, vec![("_f", Some("arm64"))]);
        assert!(
            mismatches
                .iter()
                .all(|m| m.slice.as_deref() != Some("x86_64"))
        );
    }

    #[test]
    fn a_thin_proof_does_not_verify_a_universal_file() {
        let data = two_slices();
        let proof = FuncProof::build(&data).expect("proof");
        let mut thin = proof.clone();
        thin.slices.pop();
        let mismatches = thin.verify(&data).expect("verify");
        assert!(
            mismatches
                .iter()
                .any(|m| m.kind == crate::MismatchKind::Slice && m.name == "arm64"),
            "{mismatches:#?}"
        );
    }

    fn header(count: u32, entries: &[[u32; 5]]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [macho::FAT_MAGIC, count] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for e in entries {
            for w in e {
                out.extend_from_slice(&w.to_be_bytes());
            }
        }
        out
    }

    #[test]
    fn hostile_fat_headers_are_refused_precisely() {
        let body = thin(&starts(&[0x400]), &[], &[]);
        let len = body.len() as u32;
        let with_body = |mut head: Vec<u8>, at: usize| {
            head.resize(at, 0);
            head.extend_from_slice(&body);
            head.resize(0x4000, 0);
            head
        };
        // 10,000 slices.
        let e = slices(&header(10_000, &[])).expect_err("too many");
        assert_eq!(e, UniversalError::SliceCount { count: 10_000 });
        assert_eq!(
            e.to_string(),
            "a Mach-O universal binary listing 10000 slices; between 1 and 20 are read (a Java \
             class file starts with the same magic)"
        );
        assert_eq!(
            slices(&header(0, &[])).expect_err("none"),
            UniversalError::SliceCount { count: 0 }
        );
        // A table cut short.
        assert_eq!(
            slices(&header(2, &[[ARM64, 0, 0x1000, len, 12]])).expect_err("short"),
            UniversalError::Truncated { len: 28 }
        );
        // Two slices overlapping.
        let data = with_body(
            header(
                2,
                &[[ARM64, 0, 0x1000, len, 12], [X86_64, 0, 0x1100, len, 12]],
            ),
            0x1000,
        );
        let e = slices(&data).expect_err("overlap");
        assert!(
            matches!(&e, UniversalError::Overlap { index: 1, arch, offset: 0x1100, .. } if arch == "x86_64"),
            "{e}"
        );
        assert!(e.to_string().contains("overlaps slice 0 (arm64"), "{e}");
        // A slice over the header.
        let data = with_body(
            header(
                2,
                &[[ARM64, 0, 0x1000, len, 12], [X86_64, 0, 0x20, 0x10, 12]],
            ),
            0x1000,
        );
        let e = slices(&data).expect_err("header");
        assert!(
            e.to_string().contains(
                "slice 1 (x86_64) of the Mach-O universal binary, at 0x20, overlaps the header"
            ),
            "{e}"
        );
        // Out of the file, empty, and at an offset past 2^32 in a 64-bit table.
        let data = with_body(header(1, &[[ARM64, 0, 0x3f00, len, 12]]), 0x1000);
        assert!(matches!(
            slices(&data).expect_err("out"),
            UniversalError::OutOfFile {
                index: 0,
                offset: 0x3f00,
                ..
            }
        ));
        let data = with_body(header(1, &[[ARM64, 0, 0x1000, 0, 12]]), 0x1000);
        assert!(matches!(
            slices(&data).expect_err("empty"),
            UniversalError::OutOfFile { size: 0, .. }
        ));
        let mut wide = Vec::new();
        for w in [macho::FAT_MAGIC_64, 1, ARM64, 0] {
            wide.extend_from_slice(&w.to_be_bytes());
        }
        for w in [u64::MAX - 4, 0x100] {
            wide.extend_from_slice(&w.to_be_bytes());
        }
        wide.extend_from_slice(&[0; 8]);
        assert!(matches!(
            slices(&wide).expect_err("wide"),
            UniversalError::OutOfFile { .. }
        ));
        // The same architecture twice.
        let data = with_body(
            header(
                2,
                &[[ARM64, 0, 0x1000, len, 12], [ARM64, 0, 0x2000, len, 12]],
            ),
            0x1000,
        );
        let e = slices(&data).expect_err("duplicate");
        assert_eq!(
            e,
            UniversalError::Duplicate {
                arch: "arm64".to_owned(),
                first: 0,
                second: 1
            }
        );
        // A slice that says another architecture, one that is not Mach-O.
        let data = with_body(header(1, &[[X86_64, 0, 0x1000, len, 12]]), 0x1000);
        let e = slices(&data).expect_err("other arch");
        assert!(e.to_string().contains("its own header says arm64"), "{e}");
        let data = with_body(header(1, &[[X86_64, 0, 0x3000, 0x100, 12]]), 0x1000);
        let e = slices(&data).expect_err("not Mach-O");
        assert!(e.to_string().contains("not a Mach-O magic"), "{e}");
        // And through the proof: an error, never a panic.
        assert!(matches!(
            FuncProof::build(&header(10_000, &[])),
            Err(crate::BinaryError::Universal(
                UniversalError::SliceCount { .. }
            ))
        ));
    }

    #[test]
    fn architectures_are_named_as_apple_names_them() {
        assert_eq!(arch_name(X86_64, 3), "x86_64");
        assert_eq!(arch_name(X86_64, 8), "x86_64h");
        assert_eq!(arch_name(ARM64, 0), "arm64");
        assert_eq!(arch_name(ARM64, 0x8000_0002), "arm64e");
        assert_eq!(arch_name(12, 9), "armv7");
        assert_eq!(arch_name(0x99, 1), "cpu0x99-0x1");
    }

    /// The Mach-O seeds of the fuzz target (`tests/fuzz-regressions/seed-*.macho`) are this
    /// builder's output; `STELLA_BLESS=1` writes them again.
    #[test]
    fn fuzz_seeds_are_built_here() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
        let unwind_info = unwind(
            &[
                (0x400, Some(regular(&[0x400, 0x4a0]))),
                (0x4c0, Some(compressed(&[0, 0x20]))),
            ],
            0x500,
        );
        let starts = starts(&[0x400, 0x420, 0x460]);
        let symbols = [("_entry", 0x400), ("_helper", 0x420), ("_main", 0x480)];
        let seeds = [
            ("seed-arm64.macho", thin(&starts, &unwind_info, &symbols)),
            (
                "seed-x86_64.macho",
                Thin {
                    cputype: X86_64,
                    fill: ret(X86_64),
                    starts: &starts,
                    unwind: &unwind_info,
                    symbols: &symbols,
                    uuid: 0x33,
                }
                .build(),
            ),
            ("seed-universal.macho", two_slices()),
        ];
        for (name, bytes) in seeds {
            let path = dir.join(name);
            if std::env::var("STELLA_BLESS").as_deref() == Ok("1") {
                std::fs::write(&path, &bytes).expect("write seed");
            }
            let committed = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e}; rerun with STELLA_BLESS=1", path.display()));
            assert!(
                committed == bytes,
                "{name} differs; rerun with STELLA_BLESS=1"
            );
        }
    }
}
