//! The cheap questions a scanner asks of every file, before (or instead of) a FuncProof.
//!
//! - [`sniff`]: is this file a binary at all? A magic check on its first bytes, so that a scan of
//!   a root file system parses only the files that can be ELF, PE or Mach-O.
//! - [`linkage`]: what the binary loads at run time — ELF `DT_NEEDED` / `DT_SONAME` /
//!   `DT_RUNPATH` / `PT_INTERP`, PE import and export DLL names, Mach-O `LC_LOAD_DYLIB` /
//!   `LC_ID_DYLIB` / `LC_RPATH`.
//! - [`cargo_auditable`]: the dependency list `cargo auditable` embeds in Rust binaries (section
//!   `.dep-v0`, zlib-compressed JSON), decompressed under [`MAX_AUDITABLE_JSON_BYTES`].
//!
//! Everything here reads untrusted files: malformed tables give what could be read, never a
//! panic, and every list is bounded by a named constant.
//!
//! What this module does not own: identity and function ranges ([`crate::identity`],
//! [`crate::functions`]), or turning the auditable JSON into SBOM components (`stella-sbom`).

use std::io::Read as _;

use object::read::elf::{Dyn as _, ElfFile, FileHeader, ProgramHeader as _, SectionHeader as _};
use object::read::macho::{LoadCommandVariant, MachHeader, MachOFile};
use object::read::pe::{ImageNtHeaders, PeFile};
use object::{Endianness, LittleEndian as LE, Object, ObjectSection, elf, macho, pe};
use serde::Serialize;

use crate::BinaryError;

/// Most architectures a Mach-O universal binary may list for [`sniff`] to take it for one. Real
/// ones carry two to four; Java class files share the magic `0xcafebabe` and put their major
/// version (45 and up) where the count would be.
pub const MAX_FAT_ARCHES: u32 = 20;

/// Largest `e_lfanew` (offset of the PE header) [`sniff`] finds plausible (256 MiB). Linkers put
/// the PE header within the first few hundred bytes; a DOS program leaves whatever it likes at
/// that offset.
pub const MAX_PE_HEADER_OFFSET: u32 = 0x1000_0000;

/// Longest name or path [`linkage`] keeps (Linux `PATH_MAX`); longer strings are cut there.
pub const MAX_LINKAGE_STRING: usize = 4096;

/// Most `needed` and `rpath` entries [`linkage`] collects, each; a hostile dynamic table can
/// repeat an entry millions of times.
pub const MAX_LINKAGE_ENTRIES: usize = 4096;

/// Most bytes the `cargo auditable` JSON may decompress to (8 MiB). Real lists are a few KiB to a
/// few hundred KiB; `auditable-info` applies the same default.
pub const MAX_AUDITABLE_JSON_BYTES: u64 = 8 * 1024 * 1024;

/// The section `cargo auditable` writes (in segment `__DATA` on Mach-O).
pub const AUDITABLE_SECTION: &str = ".dep-v0";

/// An object file format, as [`sniff`] recognises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ELF (Linux, BSDs).
    Elf,
    /// PE/COFF image (Windows).
    Pe,
    /// Mach-O, thin or universal (Apple).
    Macho,
}

/// Which object file format `head` (the first bytes of a file; give at least 64 when the file has
/// them) starts like, or `None`.
///
/// - ELF: `\x7fELF`, and when given, a valid class (32/64) and data encoding (LE/BE) byte.
/// - PE: `MZ` with an `e_lfanew` (at 0x3c) between 4 and [`MAX_PE_HEADER_OFFSET`] that points at
///   `PE\0\0` when `head` reaches that far. Fewer than 64 bytes cannot hold the DOS header.
/// - Mach-O: the thin magics of both word sizes in both byte orders; universal (`0xcafebabe`,
///   `0xcafebabf`) only with 1 to [`MAX_FAT_ARCHES`] architectures, so that Java class files are
///   not taken for binaries.
///
/// A match says "worth parsing", not "valid": the parser decides that.
pub fn sniff(head: &[u8]) -> Option<Format> {
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    match magic {
        [0x7f, b'E', b'L', b'F'] => return elf_ident_is_valid(head).then_some(Format::Elf),
        [b'M', b'Z', _, _] => return pe_header_is_plausible(head).then_some(Format::Pe),
        _ => {}
    }
    match u32::from_be_bytes(magic) {
        0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe => Some(Format::Macho),
        0xcafe_babe | 0xcafe_babf => {
            let count = u32::from_be_bytes(head.get(4..8)?.try_into().ok()?);
            (1..=MAX_FAT_ARCHES)
                .contains(&count)
                .then_some(Format::Macho)
        }
        _ => None,
    }
}

/// `EI_CLASS` and `EI_DATA`, when present, hold one of their two defined values.
fn elf_ident_is_valid(head: &[u8]) -> bool {
    head.get(4..6)
        .is_none_or(|ident| matches!(ident, [1 | 2, 1 | 2]))
}

fn pe_header_is_plausible(head: &[u8]) -> bool {
    let Some(lfanew) = head
        .get(0x3c..0x40)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
    else {
        return false;
    };
    if !(4..=MAX_PE_HEADER_OFFSET).contains(&lfanew) {
        return false;
    }
    let Ok(at) = usize::try_from(lfanew) else {
        return false;
    };
    head.get(at..at.saturating_add(4))
        .is_none_or(|signature| signature == b"PE\0\0")
}

/// How a binary is linked: what it is, what it calls itself, and what it loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Linkage {
    /// `executable`, `shared-library`, `relocatable`, `core` or `other`.
    ///
    /// ELF: `ET_EXEC` is an executable, and so is an `ET_DYN` (a position-independent
    /// executable) with the `DF_1_PIE` flag (static-pie included), or with a `PT_INTERP` and no
    /// `DT_SONAME` (PIEs from linkers older than the flag); any other `ET_DYN` is a shared
    /// library — glibc's `libc.so.6` has a `PT_INTERP` so that it can be run, and a soname.
    /// PE: `IMAGE_FILE_DLL` makes a shared library. Mach-O: `MH_DYLIB` and `MH_BUNDLE` are
    /// shared libraries.
    pub kind: &'static str,
    /// The name the library is known by: ELF `DT_SONAME`, Mach-O `LC_ID_DYLIB`, PE export
    /// directory DLL name.
    pub soname: Option<String>,
    /// What it loads, in file order: ELF `DT_NEEDED`; PE imported then delay-loaded DLL names
    /// (each once); Mach-O `LC_LOAD_DYLIB` and its weak, re-export, lazy and upward forms.
    pub needed: Vec<String>,
    /// ELF `PT_INTERP`; Mach-O `LC_LOAD_DYLINKER`.
    pub interpreter: Option<String>,
    /// Library search paths in file order: ELF `DT_RUNPATH` and `DT_RPATH` split at `:`;
    /// Mach-O `LC_RPATH`.
    pub rpath: Vec<String>,
}

/// The [`Linkage`] of a parsed binary whose bytes are `data`.
///
/// Never panics: a malformed dynamic table, load command or import directory gives the entries
/// that could be read before it. Strings are cut at [`MAX_LINKAGE_STRING`] bytes, lists at
/// [`MAX_LINKAGE_ENTRIES`].
pub fn linkage(file: &object::File<'_>, data: &[u8]) -> Linkage {
    match file {
        object::File::Elf32(elf) => elf_linkage(elf, data),
        object::File::Elf64(elf) => elf_linkage(elf, data),
        object::File::MachO32(macho) => macho_linkage(macho),
        object::File::MachO64(macho) => macho_linkage(macho),
        object::File::Pe32(pe) => pe_linkage(pe),
        object::File::Pe64(pe) => pe_linkage(pe),
        other => Linkage {
            kind: match other.kind() {
                object::ObjectKind::Relocatable => "relocatable",
                object::ObjectKind::Executable => "executable",
                object::ObjectKind::Dynamic => "shared-library",
                object::ObjectKind::Core => "core",
                _ => "other",
            },
            ..Linkage::default()
        },
    }
}

/// A NUL-terminated (or slice-terminated) string, cut at [`MAX_LINKAGE_STRING`]; `None` when empty.
fn c_string(bytes: &[u8]) -> Option<String> {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(MAX_LINKAGE_STRING);
    let text = bytes.get(..end)?;
    (!text.is_empty()).then(|| String::from_utf8_lossy(text).into_owned())
}

fn push_bounded(list: &mut Vec<String>, value: String) {
    if list.len() < MAX_LINKAGE_ENTRIES {
        list.push(value);
    }
}

fn elf_linkage<Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'_, Elf>,
    data: &[u8],
) -> Linkage {
    let endian = file.endian();
    let phdrs = file.elf_program_headers();
    let interpreter = phdrs
        .iter()
        .find(|p| p.p_type(endian) == elf::PT_INTERP)
        .and_then(|p| p.data(endian, data).ok())
        .and_then(c_string);
    let entries = dynamic_entries(file, data);
    let strings = dynamic_strings(file, data, &entries);
    let string_at = |offset: u64| {
        let at = usize::try_from(offset).ok()?;
        c_string(strings.get(at..)?)
    };
    let mut out = Linkage {
        interpreter,
        ..Linkage::default()
    };
    let mut pie_flag = false;
    for &(tag, val) in &entries {
        match tag {
            // Full lists are checked first: a hostile table can repeat an entry for as long as
            // the file lasts, and each string costs an allocation.
            elf::DT_NEEDED if out.needed.len() < MAX_LINKAGE_ENTRIES => {
                if let Some(name) = string_at(val) {
                    out.needed.push(name);
                }
            }
            elf::DT_SONAME if out.soname.is_none() => out.soname = string_at(val),
            elf::DT_RUNPATH | elf::DT_RPATH if out.rpath.len() < MAX_LINKAGE_ENTRIES => {
                for path in string_at(val).iter().flat_map(|s| s.split(':')) {
                    if !path.is_empty() {
                        push_bounded(&mut out.rpath, path.to_owned());
                    }
                }
            }
            elf::DT_FLAGS_1 => pie_flag |= val & elf::DF_1_PIE.0 != 0,
            _ => {}
        }
    }
    out.kind = match file.elf_header().e_type(endian) {
        elf::ET_EXEC => "executable",
        elf::ET_DYN if pie_flag || (out.interpreter.is_some() && out.soname.is_none()) => {
            "executable"
        }
        elf::ET_DYN => "shared-library",
        elf::ET_REL => "relocatable",
        elf::ET_CORE => "core",
        _ => "other",
    };
    out
}

/// `(tag, value)` of the dynamic table up to `DT_NULL`: from `PT_DYNAMIC`, as the loader reads
/// it, else from the `SHT_DYNAMIC` section. A table whose size is not a whole number of entries
/// gives its whole entries.
fn dynamic_entries<Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'_, Elf>,
    data: &[u8],
) -> Vec<(elf::DynamicTag, u64)> {
    let endian = file.endian();
    let from_segment = file
        .elf_program_headers()
        .iter()
        .find(|p| p.p_type(endian) == elf::PT_DYNAMIC)
        .and_then(|p| p.data(endian, data).ok());
    let from_section = || {
        file.elf_section_table()
            .iter()
            .find(|s| s.sh_type(endian) == elf::SHT_DYNAMIC)
            .and_then(|s| s.data(endian, data).ok())
    };
    let bytes = from_segment.or_else(from_section).unwrap_or_default();
    let count = bytes.len() / size_of::<Elf::Dyn>();
    let Ok((dyns, _)) = object::pod::slice_from_bytes::<Elf::Dyn>(bytes, count) else {
        return Vec::new();
    };
    dyns.iter()
        .map(|d| (d.tag(endian), d.val(endian)))
        .take_while(|&(tag, _)| tag != elf::DT_NULL)
        .collect()
}

/// The dynamic string table: `DT_STRTAB` (an address) and `DT_STRSZ` mapped through `PT_LOAD`,
/// else the string table the `SHT_DYNAMIC` section links to.
fn dynamic_strings<'data, Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'data, Elf>,
    data: &'data [u8],
    entries: &[(elf::DynamicTag, u64)],
) -> &'data [u8] {
    let endian = file.endian();
    let value = |wanted| {
        entries
            .iter()
            .find(|&&(tag, _)| tag == wanted)
            .map(|&(_, v)| v)
    };
    let mapped = value(elf::DT_STRTAB).and_then(|addr| {
        let size = value(elf::DT_STRSZ).unwrap_or(u64::MAX);
        file.elf_program_headers()
            .iter()
            .filter(|p| p.p_type(endian) == elf::PT_LOAD)
            .find_map(|p| {
                let vaddr: u64 = p.p_vaddr(endian).into();
                let offset: u64 = p.p_offset(endian).into();
                let filesz: u64 = p.p_filesz(endian).into();
                let into = addr.checked_sub(vaddr).filter(|&d| d < filesz)?;
                let start = offset.checked_add(into)?;
                let end = start.saturating_add(size.min(filesz - into));
                let (start, end) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
                data.get(start..end.min(data.len()))
            })
    });
    mapped
        .or_else(|| {
            let sections = file.elf_section_table();
            let dynamic = sections
                .iter()
                .find(|s| s.sh_type(endian) == elf::SHT_DYNAMIC)?;
            let link = object::SectionIndex(dynamic.sh_link(endian) as usize);
            sections.section(link).ok()?.data(endian, data).ok()
        })
        .unwrap_or_default()
}

fn pe_linkage<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> Linkage {
    let characteristics = file.nt_headers().file_header().characteristics.get(LE);
    let kind = if characteristics.0 & pe::IMAGE_FILE_DLL.0 != 0 {
        "shared-library"
    } else if characteristics.0 & pe::IMAGE_FILE_EXECUTABLE_IMAGE.0 != 0 {
        "executable"
    } else {
        "other"
    };
    // Each descriptor table is walked for at most MAX_LINKAGE_ENTRIES descriptors: a hostile
    // one can repeat one name for as long as its section lasts.
    let mut needed: Vec<String> = Vec::new();
    if let Ok(Some(imports)) = file.import_table()
        && let Ok(mut descriptors) = imports.descriptors()
    {
        for _ in 0..MAX_LINKAGE_ENTRIES {
            let Ok(Some(descriptor)) = descriptors.next() else {
                break;
            };
            if let Ok(name) = imports.name(descriptor.name.get(LE)) {
                push_once(&mut needed, name);
            }
        }
    }
    if let Ok(Some(delayed)) = file.delay_load_import_table()
        && let Ok(mut descriptors) = delayed.descriptors()
    {
        for _ in 0..MAX_LINKAGE_ENTRIES {
            let Ok(Some(descriptor)) = descriptors.next() else {
                break;
            };
            if let Ok(name) = delayed.name(descriptor.dll_name_rva.get(LE)) {
                push_once(&mut needed, name);
            }
        }
    }
    let soname = file.export_table().ok().flatten().and_then(|exports| {
        let name = exports.directory().name.get(LE);
        c_string(exports.name_from_pointer(name).ok()?)
    });
    Linkage {
        kind,
        soname,
        needed,
        interpreter: None,
        rpath: Vec::new(),
    }
}

/// Adds a DLL name that is not in `list` yet.
fn push_once(list: &mut Vec<String>, name: &[u8]) {
    if let Some(name) = c_string(name)
        && !list.contains(&name)
    {
        push_bounded(list, name);
    }
}

fn macho_linkage<Mach: MachHeader<Endian = Endianness>>(file: &MachOFile<'_, Mach>) -> Linkage {
    let endian = file.endian();
    let mut out = Linkage {
        kind: match file.macho_header().filetype(endian) {
            macho::MH_EXECUTE => "executable",
            macho::MH_DYLIB | macho::MH_BUNDLE => "shared-library",
            macho::MH_OBJECT => "relocatable",
            macho::MH_CORE => "core",
            _ => "other",
        },
        ..Linkage::default()
    };
    let Ok(mut commands) = file.macho_load_commands() else {
        return out;
    };
    while let Ok(Some(command)) = commands.next() {
        let Ok(variant) = command.variant() else {
            continue;
        };
        let string = |s| command.string(endian, s).ok().and_then(c_string);
        match variant {
            LoadCommandVariant::Dylib(dylib) => {
                if let Some(name) = string(dylib.dylib.name) {
                    push_bounded(&mut out.needed, name);
                }
            }
            LoadCommandVariant::IdDylib(dylib) => {
                out.soname = out.soname.take().or_else(|| string(dylib.dylib.name));
            }
            LoadCommandVariant::LoadDylinker(dylinker) => {
                out.interpreter = out.interpreter.take().or_else(|| string(dylinker.name));
            }
            LoadCommandVariant::Rpath(rpath) => {
                if let Some(path) = string(rpath.path) {
                    push_bounded(&mut out.rpath, path);
                }
            }
            _ => {}
        }
    }
    out
}

/// The JSON dependency list `cargo auditable` embedded in the binary whose bytes are `data`:
/// section [`AUDITABLE_SECTION`] (ELF, PE; in segment `__DATA` on Mach-O), zlib-compressed.
///
/// `Ok(None)` when the binary has no such section; `Ok(Some(json))` with the decompressed bytes,
/// which are checked to be JSON but not interpreted.
///
/// # Errors
/// [`BinaryError::CargoAuditable`] when the section's bytes lie outside the file, are not a
/// zlib stream, decompress to more than [`MAX_AUDITABLE_JSON_BYTES`], or are not JSON.
pub fn cargo_auditable(
    file: &object::File<'_>,
    data: &[u8],
) -> Result<Option<Vec<u8>>, BinaryError> {
    let fail = |reason: String| BinaryError::CargoAuditable { reason };
    let is_macho = file.format() == object::BinaryFormat::MachO;
    let Some(section) = file.sections().find(|s| {
        s.name().is_ok_and(|n| n == AUDITABLE_SECTION)
            && (!is_macho || s.segment_name().ok().flatten() == Some("__DATA"))
    }) else {
        return Ok(None);
    };
    let (offset, size) = section
        .file_range()
        .ok_or_else(|| fail("the section has no bytes in the file".to_owned()))?;
    let compressed = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(offset.saturating_add(size)).ok())
        .and_then(|(from, to)| data.get(from..to))
        .ok_or_else(|| {
            fail(format!(
                "the section claims file bytes {offset:#x}+{size:#x}, past the end of the {}-byte \
                 file",
                data.len()
            ))
        })?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_AUDITABLE_JSON_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| fail(format!("not a zlib stream: {e}")))?;
    if json.len() as u64 > MAX_AUDITABLE_JSON_BYTES {
        return Err(fail(format!(
            "decompresses to more than {MAX_AUDITABLE_JSON_BYTES} bytes (the limit)"
        )));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&json)
        .map_err(|e| fail(format!("decompressed bytes are not JSON: {e}")))?;
    Ok(Some(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic bytes without a dependency.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    fn mz(lfanew: u32, len: usize) -> Vec<u8> {
        let mut head = vec![0u8; len];
        head[..2].copy_from_slice(b"MZ");
        head[0x3c..0x40].copy_from_slice(&lfanew.to_le_bytes());
        head
    }

    #[test]
    fn sniff_knows_each_format_by_its_magic() {
        let mut elf = vec![0u8; 64];
        elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        assert_eq!(sniff(&elf), Some(Format::Elf));
        assert_eq!(sniff(&elf[..4]), Some(Format::Elf), "ident bytes not given");
        elf[4] = 7;
        assert_eq!(sniff(&elf), None, "ELF class 7 does not exist");

        assert_eq!(
            sniff(&mz(0x40, 64)),
            Some(Format::Pe),
            "PE header beyond the head"
        );
        let mut pe = mz(0x40, 0x80);
        pe[0x40..0x44].copy_from_slice(b"PE\0\0");
        assert_eq!(sniff(&pe), Some(Format::Pe));
        pe[0x40..0x44].copy_from_slice(b"NE\0\0");
        assert_eq!(sniff(&pe), None, "a 16-bit NE program is not PE");
        assert_eq!(sniff(&mz(0, 64)), None);
        assert_eq!(sniff(&mz(MAX_PE_HEADER_OFFSET + 1, 64)), None);
        assert_eq!(sniff(b"MZ\x90\x00\x03"), None, "too short for a DOS header");

        for magic in [
            [0xfe, 0xed, 0xfa, 0xce],
            [0xfe, 0xed, 0xfa, 0xcf],
            [0xce, 0xfa, 0xed, 0xfe],
            [0xcf, 0xfa, 0xed, 0xfe],
        ] {
            let mut head = magic.to_vec();
            head.resize(64, 0);
            assert_eq!(sniff(&head), Some(Format::Macho), "{magic:x?}");
        }
        let fat = |magic: u32, count: u32| {
            let mut head = magic.to_be_bytes().to_vec();
            head.extend_from_slice(&count.to_be_bytes());
            head.resize(64, 0);
            head
        };
        assert_eq!(sniff(&fat(0xcafe_babe, 2)), Some(Format::Macho));
        assert_eq!(sniff(&fat(0xcafe_babf, 20)), Some(Format::Macho));
        assert_eq!(sniff(&fat(0xcafe_babe, 0)), None);
        assert_eq!(sniff(&fat(0xcafe_babe, 21)), None);
        assert_eq!(
            sniff(&0xcafe_babe_u32.to_be_bytes()),
            None,
            "no count given"
        );
    }

    #[test]
    fn sniff_refuses_java_classes_scripts_and_noise() {
        // A Java 8 class file: magic, minor 0, major 52, constant pool count.
        let mut class = vec![0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x34, 0x00, 0x1d];
        class.resize(64, 0x0a);
        assert_eq!(sniff(&class), None);
        // The oldest class file version, 45.3 (minor 3, major 45).
        assert_eq!(sniff(&[0xca, 0xfe, 0xba, 0xbe, 0, 3, 0, 45]), None);
        for text in [
            &b"#!/bin/sh\nexec true\n"[..],
            b"PK\x03\x04\x14\x00\x00\x00",
            b"%PDF-1.7\n",
            b"\x1f\x8b\x08\x00",
            b"",
            b"\x7fEL",
        ] {
            assert_eq!(sniff(text), None, "{text:?}");
        }
        let magics: [&[u8]; 8] = [
            b"\x7fELF",
            b"MZ",
            &[0xfe, 0xed, 0xfa],
            &[0xce, 0xfa, 0xed, 0xfe],
            &[0xcf, 0xfa, 0xed, 0xfe],
            &[0xca, 0xfe, 0xba, 0xbe],
            &[0xca, 0xfe, 0xba, 0xbf],
            &[0xfe, 0xed, 0xfa],
        ];
        let mut found = 0;
        for seed in 0..20_000u64 {
            let head = noise(seed, 64);
            for len in [0, 1, 3, 4, 7, 8, 63, 64] {
                if sniff(&head[..len]).is_some() {
                    found += 1;
                    assert!(
                        magics.iter().any(|m| head.starts_with(m)),
                        "{:x?}",
                        &head[..8]
                    );
                }
            }
        }
        assert!(found < 20, "{found} random heads taken for binaries");
    }

    fn lc_with_string(cmd: u32, fixed: &[u8], text: &str) -> Vec<u8> {
        // cmd, cmdsize, then `fixed` (whose first u32 is the string offset), then the string.
        let mut out = Vec::new();
        out.extend_from_slice(&cmd.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(fixed);
        out.extend_from_slice(text.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(8), 0);
        let size = u32::try_from(out.len()).unwrap();
        out[4..8].copy_from_slice(&size.to_le_bytes());
        out
    }

    fn dylib_command(cmd: u32, name: &str) -> Vec<u8> {
        let mut fixed = 24u32.to_le_bytes().to_vec();
        fixed.extend_from_slice(&[0u8; 12]); // timestamp, current and compatibility version
        lc_with_string(cmd, &fixed, name)
    }

    fn name16(name: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..name.len()].copy_from_slice(name.as_bytes());
        out
    }

    /// A 64-bit little-endian Mach-O dylib with the load commands `linkage` reads and a
    /// `__DATA,.dep-v0` section holding `dep`.
    fn macho_dylib(dep: &[u8]) -> Vec<u8> {
        let data_offset = 0x400u64;
        let mut segment = Vec::new();
        segment.extend_from_slice(&0x19u32.to_le_bytes()); // LC_SEGMENT_64
        segment.extend_from_slice(&(72u32 + 80).to_le_bytes());
        segment.extend_from_slice(&name16("__DATA"));
        for v in [0x1000u64, 0x1000, data_offset, dep.len() as u64] {
            segment.extend_from_slice(&v.to_le_bytes()); // vmaddr, vmsize, fileoff, filesize
        }
        for v in [3u32, 3, 1, 0] {
            segment.extend_from_slice(&v.to_le_bytes()); // maxprot, initprot, nsects, flags
        }
        segment.extend_from_slice(&name16(".dep-v0"));
        segment.extend_from_slice(&name16("__DATA"));
        segment.extend_from_slice(&0x1000u64.to_le_bytes());
        segment.extend_from_slice(&(dep.len() as u64).to_le_bytes());
        for v in [data_offset as u32, 0, 0, 0, 0, 0, 0, 0] {
            segment.extend_from_slice(&v.to_le_bytes());
        }
        let commands = [
            segment,
            dylib_command(0xd, "@rpath/libdemo.1.dylib"),
            dylib_command(0xc, "/usr/lib/libSystem.B.dylib"),
            dylib_command(0x8000_0018, "@rpath/libweak.dylib"),
            lc_with_string(0x8000_001c, &12u32.to_le_bytes(), "@loader_path/../lib"),
            lc_with_string(0xe, &12u32.to_le_bytes(), "/usr/lib/dyld"),
        ];
        let sizeofcmds: usize = commands.iter().map(Vec::len).sum();
        let mut out = Vec::new();
        for v in [
            0xfeed_facf_u32,
            0x0100_0007,
            3,
            6,
            commands.len() as u32,
            sizeofcmds as u32,
            0,
            0,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for c in &commands {
            out.extend_from_slice(c);
        }
        out.resize(data_offset as usize, 0);
        out.extend_from_slice(dep);
        out
    }

    /// A PE32+ DLL exporting as `demo.dll`, importing `KERNEL32.dll` and `libfoo.dll`, with a
    /// `.dep-v0` section holding `dep`.
    fn pe_dll(dep: &[u8]) -> Vec<u8> {
        let mut out = mz(0x40, 0x40);
        out.extend_from_slice(b"PE\0\0");
        // COFF header: x86-64, 2 sections, optional header 240 bytes, DLL | EXECUTABLE | LARGE_ADDRESS_AWARE.
        for (v, n) in [
            (0x8664u64, 2),
            (2, 2),
            (0, 4),
            (0, 4),
            (0, 4),
            (240, 2),
            (0x2022, 2),
        ] {
            out.extend_from_slice(&v.to_le_bytes()[..n]);
        }
        let optional = [
            (0x20bu64, 2), // PE32+
            (0, 2),
            (0, 4),
            (0, 4),
            (0, 4),
            (0, 4),
            (0, 4),
            (0x1_8000_0000, 8), // ImageBase
            (0x1000, 4),
            (0x200, 4),
            (0, 2),
            (0, 2),
            (0, 2),
            (0, 2),
            (6, 2),
            (0, 2),
            (0, 4),
            (0x3000, 4), // SizeOfImage
            (0x200, 4),  // SizeOfHeaders
            (0, 4),
            (3, 2),
            (0, 2),
            (0, 8),
            (0, 8),
            (0, 8),
            (0, 8),
            (0, 4),
            (16, 4), // NumberOfRvaAndSizes
        ];
        for (v, n) in optional {
            out.extend_from_slice(&v.to_le_bytes()[..n]);
        }
        let mut directories = [[0u32; 2]; 16];
        directories[0] = [0x1000, 0x40]; // exports
        directories[1] = [0x1080, 60]; // imports
        for [rva, size] in directories {
            out.extend_from_slice(&rva.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
        }
        let dep_raw = u32::try_from(dep.len().next_multiple_of(0x200).max(0x200)).unwrap();
        for (name, va, vsize, raw, ptr, chars) in [
            (
                ".rdata",
                0x1000u32,
                0x200u32,
                0x200u32,
                0x200u32,
                0x4000_0040u32,
            ),
            (
                ".dep-v0",
                0x2000,
                dep.len() as u32,
                dep_raw,
                0x400,
                0x4200_0040,
            ),
        ] {
            let mut n = [0u8; 8];
            n[..name.len()].copy_from_slice(name.as_bytes());
            out.extend_from_slice(&n);
            for v in [vsize, va, raw, ptr, 0, 0] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&[0u8; 4]); // relocation and line-number counts
            out.extend_from_slice(&chars.to_le_bytes());
        }
        out.resize(0x200, 0);
        let mut rdata = vec![0u8; 0x200];
        let put = |buf: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes)
        };
        // Export directory: Name, Base, counts 0, table addresses inside the directory.
        put(&mut rdata, 12, &0x1028u32.to_le_bytes());
        put(&mut rdata, 16, &1u32.to_le_bytes());
        for at in [28, 32, 36] {
            put(&mut rdata, at, &0x1028u32.to_le_bytes());
        }
        put(&mut rdata, 0x28, b"demo.dll\0");
        // Import descriptors at 0x1080: OriginalFirstThunk, TimeDateStamp, ForwarderChain, Name, FirstThunk.
        for (i, name_rva) in [0x1140u32, 0x1150].into_iter().enumerate() {
            let at = 0x80 + 20 * i;
            put(&mut rdata, at, &0x1100u32.to_le_bytes());
            put(&mut rdata, at + 12, &name_rva.to_le_bytes());
            put(&mut rdata, at + 16, &0x1100u32.to_le_bytes());
        }
        put(&mut rdata, 0x140, b"KERNEL32.dll\0");
        put(&mut rdata, 0x150, b"libfoo.dll\0");
        out.extend_from_slice(&rdata);
        out.extend_from_slice(dep);
        out.resize(0x400 + dep_raw as usize, 0);
        out
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    const AUDIT_JSON: &[u8] =
        br#"{"packages":[{"name":"demo","version":"0.1.0","source":"local","root":true}]}"#;

    #[test]
    fn macho_linkage_and_auditable_section() {
        let data = macho_dylib(&zlib(AUDIT_JSON));
        assert_eq!(sniff(&data), Some(Format::Macho));
        let file = object::File::parse(&*data).unwrap();
        let linkage = linkage(&file, &data);
        assert_eq!(
            linkage,
            Linkage {
                kind: "shared-library",
                soname: Some("@rpath/libdemo.1.dylib".into()),
                needed: vec![
                    "/usr/lib/libSystem.B.dylib".into(),
                    "@rpath/libweak.dylib".into()
                ],
                interpreter: Some("/usr/lib/dyld".into()),
                rpath: vec!["@loader_path/../lib".into()],
            }
        );
        assert_eq!(
            cargo_auditable(&file, &data).unwrap().as_deref(),
            Some(AUDIT_JSON)
        );
    }

    #[test]
    fn pe_linkage_and_auditable_section() {
        let data = pe_dll(&zlib(AUDIT_JSON));
        assert_eq!(sniff(&data), Some(Format::Pe));
        let file = object::File::parse(&*data).unwrap();
        let linkage = linkage(&file, &data);
        assert_eq!(
            linkage,
            Linkage {
                kind: "shared-library",
                soname: Some("demo.dll".into()),
                needed: vec!["KERNEL32.dll".into(), "libfoo.dll".into()],
                interpreter: None,
                rpath: Vec::new(),
            }
        );
        assert_eq!(
            cargo_auditable(&file, &data).unwrap().as_deref(),
            Some(AUDIT_JSON)
        );
    }

    #[test]
    fn damaged_macho_and_pe_give_what_could_be_read() {
        for original in [macho_dylib(&zlib(AUDIT_JSON)), pe_dll(&zlib(AUDIT_JSON))] {
            let mut parsed = 0;
            for seed in 0..2_000u64 {
                let mut data = original.clone();
                let flips = noise(seed, 8);
                for pair in flips.chunks(2) {
                    let at = (usize::from(pair[0]) * 7 + usize::from(pair[1]) * 3) % 0x200;
                    data[at] ^= pair[1] | 1;
                }
                if let Ok(file) = object::File::parse(&*data) {
                    parsed += 1;
                    let _ = linkage(&file, &data);
                    let _ = cargo_auditable(&file, &data);
                }
            }
            assert!(parsed > 500, "only {parsed} damaged copies parsed");
        }
    }
}
