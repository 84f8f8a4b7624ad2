//! Function boundaries of PE images (Windows `.exe` and `.dll`, x64 and arm64): the exception
//! directory (`.pdata`), the export table and, where a toolchain kept one, the COFF symbol table.
//!
//! A PE image has no symbol sizes: MSVC strips the COFF symbol table and keeps names only in a PDB
//! beside the image, and the symbols a mingw-w64 image keeps have size 0. What bounds a function
//! is its unwind entry, which every x64 and arm64 function that is not a leaf needs (Windows
//! unwinds through it), and which Microsoft's toolchain writes for leaf functions on arm64 too:
//!
//! - **x64**: the exception directory is an array of `RUNTIME_FUNCTION` {`BeginAddress`,
//!   `EndAddress`, `UnwindInfoAddress`}, relative addresses (RVAs), 12 bytes each. When the
//!   `UNWIND_INFO` an entry points to has `UNW_FLAG_CHAININFO`, the entry is a part of a function
//!   placed apart from it (the compiler split it, or shrink-wrapped a prologue), and the
//!   `RUNTIME_FUNCTION` after its unwind codes names the function it continues. Chains are
//!   followed to their root (an `UnwindInfoAddress` with its low bit set points straight at
//!   another `RUNTIME_FUNCTION`, and is followed the same way), at most [`MAX_CHAIN_DEPTH`]
//!   links, so that a loop in hostile input ends; each part becomes a *fragment* of its root's
//!   function, as GCC's `.cold` parts do in ELF.
//! - **arm64**: entries are 8 bytes {`BeginAddress`, `UnwindData`}. The low two bits of
//!   `UnwindData` (`Flag`) say how to read the rest: 0, it is the RVA of an `.xdata` record whose
//!   first word holds the function's length in bits 0..18, in units of 4 bytes; 1 (packed unwind
//!   data) or 2 (packed, for a fragment without prologue or epilogue), the length is in bits
//!   2..13 of `UnwindData` itself, in units of 4 bytes; 3 is reserved. (Microsoft's "ARM64
//!   exception handling" documents these; `object`'s comment on the `.xdata` field says "words
//!   (2 bytes)", which holds for 32-bit ARM only.) arm64 has no chained entries: a fragment is an
//!   entry of its own and stays a function here.
//!
//! Other machines (x86 keeps no `.pdata`; 32-bit ARM and the rest) give no unwind ranges.
//!
//! The PE sources take the names of the ELF ones (`funcproof-v1.json` enumerates them), by what
//! they are to the image:
//!
//! | PE | [`Source`](crate::functions::Source) | why |
//! |---|---|---|
//! | COFF symbol table (mingw-w64) | `symtab` | the static symbol table, local functions included |
//! | export table | `dynsym` | the names the loader resolves, as `.dynsym`'s are |
//! | `.pdata` ranges | `eh_frame` | the unwind table: ranges without names, `sub_<hex>` when nothing names them |
//!
//! A name from a symbol or an export takes its end from the `.pdata` range at the same start; one
//! with no `.pdata` range (an x64 leaf function, which needs no unwind data, or mingw's import
//! thunks) names the piece that disassembly ([`crate::gaps`], x64 only) finds at its address, and
//! is otherwise left out with a warning. An
//! export whose address lies inside the export directory is forwarded to another DLL (its
//! "address" is the forwarder string), and one outside every executable section is data: neither
//! is a function. Addresses are virtual addresses (image base + RVA), as everywhere in a proof.
//!
//! Hostile input gives warnings, never a panic: an exception directory outside the sections, a
//! table with more than [`MAX_PDATA_ENTRIES`] entries, entries whose begin is not before their end,
//! unsorted entries (Windows binary-searches the table, so a real one is sorted), unwind data
//! outside the image, chains longer than [`MAX_CHAIN_DEPTH`] or looping. Ranges outside the file's
//! bytes and overlapping ranges are reported by [`crate::functions::extract`] as for any source.

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile};

/// Most exception-directory entries read from one image (a large DLL such as `chrome.dll` has
/// a few hundred thousand); past this the rest are ignored, with a warning.
pub const MAX_PDATA_ENTRIES: usize = 10_000_000;

/// Most chained `RUNTIME_FUNCTION` links followed from one x64 entry to its root (compilers chain
/// one or two); a longer chain, or a loop, leaves the entry a function of its own, with a warning.
pub const MAX_CHAIN_DEPTH: usize = 32;

/// `UNWIND_INFO.Flags`: the unwind info ends with the `RUNTIME_FUNCTION` this one continues.
const UNW_FLAG_CHAININFO: u8 = 0x4;

/// What a PE image's exception directory and export table say about its functions.
#[derive(Debug, Default)]
pub struct PeFunctions<'d> {
    /// `[start, end)` of each function's unwind range (chain roots and unchained entries).
    pub ranges: Vec<(u64, u64)>,
    /// Chained parts: `(start, end, start of the function they belong to)`.
    pub parts: Vec<(u64, u64, u64)>,
    /// Exported functions: address and name.
    pub exports: Vec<(u64, &'d str)>,
    /// What was refused or ignored.
    pub warnings: Vec<String>,
}

/// The functions `file` states in its exception directory and export table (nothing unless it is
/// a PE image).
pub fn read<'d>(file: &object::File<'d>) -> PeFunctions<'d> {
    match file {
        object::File::Pe32(pe) => read_pe(pe),
        object::File::Pe64(pe) => read_pe(pe),
        _ => PeFunctions::default(),
    }
}

/// The image's sections by RVA: start, file bytes (as far as both the file and the virtual size
/// go, as `object` reads them) and whether they hold code. Sorted, so that each look-up is a
/// binary search: a hostile image may declare 65,535 sections and millions of `.pdata` entries.
struct Sections<'d>(Vec<(u32, &'d [u8], bool)>);

impl<'d> Sections<'d> {
    fn new(table: &object::read::pe::SectionTable<'d>, data: &'d [u8]) -> Self {
        let code = pe::IMAGE_SCN_MEM_EXECUTE.0 | pe::IMAGE_SCN_CNT_CODE.0;
        let mut sections: Vec<(u32, &'d [u8], bool)> = table
            .iter()
            .filter_map(|s| {
                let bytes = s.pe_data(data).ok().filter(|b| !b.is_empty())?;
                let executable = s.characteristics.get(LE).0 & code != 0;
                Some((s.virtual_address.get(LE), bytes, executable))
            })
            .collect();
        sections.sort_by_key(|&(va, _, _)| va);
        Sections(sections)
    }

    /// The section holding `rva`: its bytes from `rva` on, and whether it holds code.
    fn find(&self, rva: u32) -> Option<(&'d [u8], bool)> {
        let i = self.0.partition_point(|&(va, _, _)| va <= rva);
        let &(va, bytes, executable) = self.0.get(i.checked_sub(1)?)?;
        let rest = bytes.get(usize::try_from(rva - va).ok()?..)?;
        (!rest.is_empty()).then_some((rest, executable))
    }
}

fn read_pe<'d, Pe: ImageNtHeaders>(pe: &PeFile<'d, Pe>) -> PeFunctions<'d> {
    let data = pe.data();
    let sections = pe.section_table();
    let image_base = pe.nt_headers().optional_header().image_base();
    let machine = pe.nt_headers().file_header().machine.get(LE);
    let by_rva = Sections::new(&sections, data);
    let at = |rva: u32| by_rva.find(rva).map(|(bytes, _)| bytes);
    let mut out = PeFunctions::default();
    let unwind = match pe.data_directory(pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION) {
        None => Unwind::default(),
        Some(dir) => match dir.data(data, &sections) {
            Err(_) => {
                out.warnings.push(
                    ".pdata: the exception directory lies outside the image's sections".to_owned(),
                );
                Unwind::default()
            }
            Ok(table) => match machine {
                pe::IMAGE_FILE_MACHINE_AMD64 => x64_entries(table, &at),
                pe::IMAGE_FILE_MACHINE_ARM64 => arm64_entries(table, &at),
                _ => Unwind::default(),
            },
        },
    };
    let va = |rva: u32| image_base.checked_add(u64::from(rva));
    out.warnings.extend(unwind.warnings);
    out.ranges = unwind
        .ranges
        .iter()
        .filter_map(|&(s, e)| Some((va(s)?, va(e)?)))
        .collect();
    out.parts = unwind
        .parts
        .iter()
        .filter_map(|&(s, e, root)| Some((va(s)?, va(e)?, va(root)?)))
        .collect();
    out.exports = exports(pe, &by_rva, image_base, &mut out.warnings);
    out
}

/// Named exports that are functions: not forwarded, and inside an executable section.
fn exports<'d, Pe: ImageNtHeaders>(
    pe: &PeFile<'d, Pe>,
    sections: &Sections<'d>,
    image_base: u64,
    warnings: &mut Vec<String>,
) -> Vec<(u64, &'d str)> {
    let table = match pe.export_table() {
        Ok(Some(table)) => table,
        Ok(None) => return Vec::new(),
        Err(e) => {
            warnings.push(format!("export table: {e}"));
            return Vec::new();
        }
    };
    let exports = match table.exports() {
        Ok(exports) => exports,
        Err(e) => {
            warnings.push(format!("export table: {e}"));
            return Vec::new();
        }
    };
    let executable = |rva: u32| sections.find(rva).is_some_and(|(_, code)| code);
    let mut not_utf8 = 0usize;
    let mut out = Vec::new();
    for export in exports {
        let (Some(name), object::read::pe::ExportTarget::Address(rva)) =
            (export.name, export.target)
        else {
            continue;
        };
        if !executable(rva) {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            not_utf8 += 1;
            continue;
        };
        if let Some(address) = image_base.checked_add(u64::from(rva))
            && !name.is_empty()
        {
            out.push((address, name));
        }
    }
    if not_utf8 > 0 {
        warnings.push(format!(
            "export table: {not_utf8} names are not UTF-8 and were left out"
        ));
    }
    out
}

/// Unwind ranges as RVAs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Unwind {
    /// `[begin, end)` of whole functions (or their main part).
    ranges: Vec<(u32, u32)>,
    /// `(begin, end, root begin)` of chained parts.
    parts: Vec<(u32, u32, u32)>,
    warnings: Vec<String>,
}

/// What went wrong with entries, counted so that a hostile table gives a few warnings, not one
/// per entry.
#[derive(Default)]
struct Problems {
    inverted: usize,
    unsorted: bool,
    no_unwind_info: usize,
    long_chains: usize,
    reserved_flag: usize,
}

impl Problems {
    fn into_warnings(self, entries: usize, size: usize, entry_size: usize) -> Vec<String> {
        let mut w = Vec::new();
        if !size.is_multiple_of(entry_size) {
            w.push(format!(
                ".pdata: its size ({size} bytes) is not a multiple of {entry_size}; the \
                 trailing bytes were ignored"
            ));
        }
        if size / entry_size > MAX_PDATA_ENTRIES {
            w.push(format!(
                ".pdata: more than {MAX_PDATA_ENTRIES} entries; the rest were ignored"
            ));
        }
        if self.inverted > 0 {
            w.push(format!(
                ".pdata: {} of {entries} entries do not begin before they end and were left out",
                self.inverted
            ));
        }
        if self.unsorted {
            w.push(".pdata: the entries are not sorted by address".to_owned());
        }
        if self.no_unwind_info > 0 {
            w.push(format!(
                ".pdata: {} entries point to unwind data outside the image's sections{}",
                self.no_unwind_info,
                if entry_size == 12 {
                    "; they were taken as functions of their own"
                } else {
                    "; they were left out (their length is in that data)"
                }
            ));
        }
        if self.long_chains > 0 {
            w.push(format!(
                ".pdata: {} chained entries lead through more than {MAX_CHAIN_DEPTH} links (or a \
                 loop); they were taken as functions of their own",
                self.long_chains
            ));
        }
        if self.reserved_flag > 0 {
            w.push(format!(
                ".pdata: {} entries have the reserved unwind flag 3 and were left out",
                self.reserved_flag
            ));
        }
        w
    }
}

fn word(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// An x64 `RUNTIME_FUNCTION` at the start of `bytes`: (begin, end, unwind info).
fn runtime_function(bytes: &[u8]) -> Option<(u32, u32, u32)> {
    Some((word(bytes, 0)?, word(bytes, 4)?, word(bytes, 8)?))
}

/// Why a chain could not be followed to its root.
#[derive(Debug, PartialEq, Eq)]
enum ChainError {
    /// Unwind data outside the image.
    Unreadable,
    /// More than [`MAX_CHAIN_DEPTH`] links (a loop ends here too).
    TooLong,
}

/// The begin RVA of the function an x64 entry with unwind info `unwind` is a part of, following
/// chained unwind info to the root; `None` when the entry is not chained.
fn chain_root<'d>(
    at: &impl Fn(u32) -> Option<&'d [u8]>,
    unwind: u32,
) -> Result<Option<u32>, ChainError> {
    let mut unwind = unwind;
    let mut root = None;
    for _ in 0..=MAX_CHAIN_DEPTH {
        let parent = if unwind & 1 == 1 {
            // Not unwind info but the RVA of the RUNTIME_FUNCTION whose unwind info applies.
            at(unwind & !1).and_then(runtime_function)
        } else {
            let info = at(unwind).ok_or(ChainError::Unreadable)?;
            // UNWIND_INFO: Version:3 Flags:5, SizeOfProlog, CountOfCodes, FrameRegister:4
            // FrameOffset:4, then the codes (2 bytes each, padded to an even count).
            let flags = info.first().ok_or(ChainError::Unreadable)? >> 3;
            if flags & UNW_FLAG_CHAININFO == 0 {
                return Ok(root);
            }
            let codes = usize::from(*info.get(2).ok_or(ChainError::Unreadable)?);
            let offset = 4 + 2 * (codes + (codes & 1));
            info.get(offset..).and_then(runtime_function)
        };
        let (begin, _, next) = parent.ok_or(ChainError::Unreadable)?;
        root = Some(begin);
        unwind = next;
    }
    Err(ChainError::TooLong)
}

/// The x64 exception directory `table`, with `at` giving the image's bytes from an RVA to the end
/// of its section.
fn x64_entries<'d>(table: &[u8], at: &impl Fn(u32) -> Option<&'d [u8]>) -> Unwind {
    let mut out = Unwind::default();
    let mut problems = Problems::default();
    let mut previous = 0u32;
    let entries = table.chunks_exact(12).take(MAX_PDATA_ENTRIES);
    let count = entries.len();
    for entry in entries {
        let Some((begin, end, unwind)) = runtime_function(entry) else {
            continue;
        };
        if begin >= end {
            problems.inverted += 1;
            continue;
        }
        problems.unsorted |= begin < previous;
        previous = begin;
        match chain_root(at, unwind) {
            Ok(Some(root)) if root != begin => out.parts.push((begin, end, root)),
            Ok(_) => out.ranges.push((begin, end)),
            Err(e) => {
                match e {
                    ChainError::Unreadable => problems.no_unwind_info += 1,
                    ChainError::TooLong => problems.long_chains += 1,
                }
                out.ranges.push((begin, end));
            }
        }
    }
    out.warnings = problems.into_warnings(count, table.len(), 12);
    out
}

/// The length in bytes of an arm64 function from its entry's `UnwindData`: `Ok(None)` for the
/// reserved flag, `Err` when the `.xdata` record is outside the image.
fn arm64_length<'d>(
    at: &impl Fn(u32) -> Option<&'d [u8]>,
    unwind_data: u32,
) -> Result<Option<u32>, ChainError> {
    match unwind_data & 0b11 {
        // Packed: FunctionLength is bits 2..13, in 4-byte units.
        1 | 2 => Ok(Some(((unwind_data >> 2) & 0x7ff) * 4)),
        3 => Ok(None),
        // An `.xdata` record: FunctionLength is bits 0..18 of its first word, in 4-byte units.
        _ => {
            let header = at(unwind_data)
                .and_then(|x| word(x, 0))
                .ok_or(ChainError::Unreadable)?;
            Ok(Some((header & 0x3ffff) * 4))
        }
    }
}

/// The arm64 exception directory `table` (see [`x64_entries`]).
fn arm64_entries<'d>(table: &[u8], at: &impl Fn(u32) -> Option<&'d [u8]>) -> Unwind {
    let mut out = Unwind::default();
    let mut problems = Problems::default();
    let mut previous = 0u32;
    let entries = table.chunks_exact(8).take(MAX_PDATA_ENTRIES);
    let count = entries.len();
    for entry in entries {
        let (Some(begin), Some(unwind_data)) = (word(entry, 0), word(entry, 4)) else {
            continue;
        };
        let length = match arm64_length(at, unwind_data) {
            Ok(Some(length)) => length,
            Ok(None) => {
                problems.reserved_flag += 1;
                continue;
            }
            Err(_) => {
                problems.no_unwind_info += 1;
                continue;
            }
        };
        let Some(end) = begin.checked_add(length).filter(|&e| e > begin) else {
            problems.inverted += 1;
            continue;
        };
        problems.unsorted |= begin < previous;
        previous = begin;
        out.ranges.push((begin, end));
    }
    out.warnings = problems.into_warnings(count, table.len(), 8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image of one section holding `bytes` at RVA `base`.
    fn image<'a>(base: u32, bytes: &'a [u8]) -> impl Fn(u32) -> Option<&'a [u8]> + 'a {
        move |rva| bytes.get(usize::try_from(rva.checked_sub(base)?).ok()?..)
    }

    fn x64_entry(begin: u32, end: u32, unwind: u32) -> Vec<u8> {
        [begin, end, unwind]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }

    /// UNWIND_INFO version 1 with `codes` unwind code slots, chained to `parent` when given.
    fn unwind_info(codes: u8, parent: Option<(u32, u32, u32)>) -> Vec<u8> {
        let flags = if parent.is_some() {
            UNW_FLAG_CHAININFO
        } else {
            0
        };
        let mut info = vec![1 | (flags << 3), 0, codes, 0];
        info.extend(std::iter::repeat_n(
            0u8,
            2 * usize::from(codes + (codes & 1)),
        ));
        if let Some((b, e, u)) = parent {
            info.extend(x64_entry(b, e, u));
        }
        info
    }

    #[test]
    fn x64_chained_parts_fold_into_their_root() {
        // Unwind infos at 0x2000 (root, 3 codes: padded to 4), 0x2010 (chained to the root),
        // 0x2030 (chained to the part at 0x2010, so to the root through two links).
        let mut xdata = vec![0u8; 0x60];
        let root = unwind_info(3, None);
        xdata[..root.len()].copy_from_slice(&root);
        let part = unwind_info(1, Some((0x1000, 0x1040, 0x2000)));
        xdata[0x10..0x10 + part.len()].copy_from_slice(&part);
        let part2 = unwind_info(0, Some((0x1800, 0x1820, 0x2010)));
        xdata[0x30..0x30 + part2.len()].copy_from_slice(&part2);
        let at = image(0x2000, &xdata);
        let table: Vec<u8> = [
            x64_entry(0x1000, 0x1040, 0x2000),
            x64_entry(0x1800, 0x1820, 0x2010),
            x64_entry(0x1900, 0x1910, 0x2030),
        ]
        .concat();
        let unwind = x64_entries(&table, &at);
        assert_eq!(unwind.ranges, vec![(0x1000, 0x1040)]);
        assert_eq!(
            unwind.parts,
            vec![(0x1800, 0x1820, 0x1000), (0x1900, 0x1910, 0x1000)]
        );
        assert!(unwind.warnings.is_empty(), "{:?}", unwind.warnings);
    }

    #[test]
    fn x64_indirect_entries_are_followed_like_chains() {
        // The second entry's unwind address has its low bit set: it names the first entry.
        let xdata = unwind_info(0, None);
        let table: Vec<u8> = [
            x64_entry(0x1000, 0x1040, 0x2000),
            x64_entry(0x1080, 0x10a0, 0x3000 | 1),
        ]
        .concat();
        let (xdata_at, pdata_at) = (image(0x2000, &xdata), image(0x3000, &table));
        let at = |rva: u32| {
            if rva < 0x3000 {
                xdata_at(rva)
            } else {
                pdata_at(rva)
            }
        };
        let unwind = x64_entries(&table, &at);
        assert_eq!(unwind.ranges, vec![(0x1000, 0x1040)]);
        assert_eq!(unwind.parts, vec![(0x1080, 0x10a0, 0x1000)]);
    }

    #[test]
    fn x64_chain_loops_and_unreadable_unwind_info_are_warned_about() {
        // 0x2000 chains to an entry whose unwind info is 0x2000 again: a loop.
        let mut info = unwind_info(0, Some((0x1000, 0x1040, 0x2000)));
        let cut_short = 0x2000 + u32::try_from(info.len()).expect("small");
        // A chained info cut short: its parent entry is not all there.
        info.extend(&unwind_info(0, Some((0x1000, 0x1040, 0x2000)))[..10]);
        let at = image(0x2000, &info);
        let table: Vec<u8> = [
            x64_entry(0x1000, 0x1040, 0x2000),
            // Unwind info outside the image.
            x64_entry(0x1100, 0x1140, 0x9000),
            x64_entry(0x1200, 0x1240, cut_short),
        ]
        .concat();
        let unwind = x64_entries(&table, &at);
        assert_eq!(
            unwind.ranges,
            vec![(0x1000, 0x1040), (0x1100, 0x1140), (0x1200, 0x1240)]
        );
        assert!(unwind.parts.is_empty());
        let text = unwind.warnings.join("\n");
        assert!(
            text.contains("1 chained entries lead through more than 32"),
            "{text}"
        );
        assert!(
            text.contains("2 entries point to unwind data outside"),
            "{text}"
        );
    }

    #[test]
    fn x64_inverted_unsorted_and_ragged_tables_are_warned_about() {
        let info = unwind_info(0, None);
        let at = image(0x2000, &info);
        let mut table: Vec<u8> = [
            x64_entry(0x1100, 0x1140, 0x2000),
            x64_entry(0x1000, 0x1040, 0x2000),
            x64_entry(0x1200, 0x1200, 0x2000),
            x64_entry(0x1300, 0x1280, 0x2000),
        ]
        .concat();
        table.extend([0xff; 5]);
        let unwind = x64_entries(&table, &at);
        assert_eq!(unwind.ranges, vec![(0x1100, 0x1140), (0x1000, 0x1040)]);
        let text = unwind.warnings.join("\n");
        assert!(text.contains("not a multiple of 12"), "{text}");
        assert!(
            text.contains("2 of 4 entries do not begin before they end"),
            "{text}"
        );
        assert!(text.contains("not sorted"), "{text}");
    }

    #[test]
    fn x64_huge_tables_are_cut_at_the_bound() {
        // Only the count is checked: building MAX_PDATA_ENTRIES entries would take 120 MB.
        let problems = Problems::default();
        let w = problems.into_warnings(MAX_PDATA_ENTRIES, (MAX_PDATA_ENTRIES + 1) * 12, 12);
        assert!(
            w.iter().any(|w| w.contains("more than 10000000 entries")),
            "{w:?}"
        );
    }

    #[test]
    fn arm64_lengths_come_from_packed_data_or_xdata() {
        // .xdata at 0x3000: FunctionLength 0x2a (bits 0..18) with Vers/X/E/epilog/code-word bits
        // set above it, which must not leak into the length.
        let header: u32 = 0x2a | (1 << 20) | (1 << 21) | (3 << 22) | (5 << 27);
        let xdata = header.to_le_bytes();
        let at = image(0x3000, &xdata);
        // Packed (Flag 1): FunctionLength 0x7ff (the largest) with every other field set.
        let packed: u32 = 1 | (0x7ff << 2) | (0x7ffff << 13);
        // Packed fragment (Flag 2), FunctionLength 3.
        let fragment: u32 = 2 | (3 << 2);
        let entry = |begin: u32, data: u32| [begin.to_le_bytes(), data.to_le_bytes()].concat();
        let table: Vec<u8> = [
            entry(0x1000, 0x3000),
            entry(0x1100, packed),
            entry(0x4000, fragment),
            // Reserved flag.
            entry(0x5000, 3 | (4 << 2)),
            // .xdata outside the image.
            entry(0x6000, 0x9000),
            // Packed with length 0.
            entry(0x7000, 1),
        ]
        .concat();
        let unwind = arm64_entries(&table, &at);
        assert_eq!(
            unwind.ranges,
            vec![
                (0x1000, 0x1000 + 0x2a * 4),
                (0x1100, 0x1100 + 0x7ff * 4),
                (0x4000, 0x4000 + 12)
            ]
        );
        assert!(unwind.parts.is_empty());
        let text = unwind.warnings.join("\n");
        assert!(
            text.contains("1 entries have the reserved unwind flag"),
            "{text}"
        );
        assert!(
            text.contains("1 entries point to unwind data outside"),
            "{text}"
        );
        assert!(
            text.contains("1 of 6 entries do not begin before they end"),
            "{text}"
        );
    }

    #[test]
    fn arm64_lengths_never_overflow() {
        let at = image(0, &[]);
        let packed: u32 = 1 | (0x7ff << 2);
        let table = [u32::MAX - 4, packed]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>();
        let unwind = arm64_entries(&table, &at);
        assert!(unwind.ranges.is_empty());
        assert_eq!(unwind.warnings.len(), 1, "{:?}", unwind.warnings);
    }
}
