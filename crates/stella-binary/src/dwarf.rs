//! DWARF: where each function was written (`DW_TAG_subprogram` → file and line) and how the
//! binary was compiled (`DW_AT_producer`: compiler and flags).
//!
//! This is the symbol-map concordance `{function, file, address range, BuildID, debug-id}`: with
//! it an auditor can tie a proven byte range to a line of source without having the source. Only
//! out-of-line subprograms with an address range are used; names and declarations are followed
//! through `DW_AT_abstract_origin` / `DW_AT_specification` chains within the unit.

use std::borrow::Cow;

use gimli::{AttributeValue, DwAt, EndianSlice, RunTimeEndian, UnitOffset};
use object::{Object, ObjectSection};

/// Most subprograms read from one binary's DWARF (LLVM has a few hundred thousand).
pub const MAX_SUBPROGRAMS: usize = 20_000_000;

/// `DW_AT_abstract_origin` / `DW_AT_specification` links followed from a subprogram (a cycle in
/// corrupt DWARF ends here too).
const MAX_ORIGIN_LINKS: usize = 4;

/// A function as DWARF describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subprogram {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Linkage (mangled) name, else the plain name.
    pub name: Option<String>,
    /// Declaring source file.
    pub file: Option<String>,
    /// Declaring line.
    pub line: Option<u32>,
}

/// What DWARF says about a binary.
#[derive(Debug, Default)]
pub struct DebugInfo {
    /// Subprograms with an address range.
    pub subprograms: Vec<Subprogram>,
    /// Distinct `DW_AT_producer` strings.
    pub producers: Vec<String>,
    /// What could not be read.
    pub warnings: Vec<String>,
}

type Reader<'a> = EndianSlice<'a, RunTimeEndian>;

/// Reads the subprograms and producers of `file`; empty when it carries no DWARF.
pub fn read(file: &object::File<'_>) -> DebugInfo {
    let mut info = DebugInfo::default();
    if file.section_by_name(".debug_info").is_none() {
        return info;
    }
    let load = |id: gimli::SectionId| -> Result<Cow<'_, [u8]>, gimli::Error> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[])))
    };
    let sections = match gimli::DwarfSections::load(load) {
        Ok(s) => s,
        Err(e) => {
            info.warnings
                .push(format!("DWARF could not be loaded: {e}"));
            return info;
        }
    };
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let dwarf = sections.borrow(|s| EndianSlice::new(s, endian));
    if let Err(e) = walk(&dwarf, &mut info) {
        info.warnings
            .push(format!("DWARF: stopped at a malformed unit ({e})"));
    }
    info.producers.sort();
    info.producers.dedup();
    info.subprograms.sort_by_key(|s| (s.start, s.end));
    info.subprograms.dedup_by_key(|s| s.start);
    info
}

/// Whether `entry`'s `DW_AT_high_pc` is a length that, added to its `DW_AT_low_pc`, passes the
/// end of the address space. gimli adds the two unchecked, so such an entry (malformed: no
/// compiler writes one) is kept from it.
fn high_pc_wraps<'data>(
    unit: &gimli::UnitRef<'_, Reader<'data>>,
    entry: &gimli::DebuggingInformationEntry<Reader<'data>>,
) -> bool {
    let Some(gimli::AttributeValue::Udata(length)) = entry.attr_value(gimli::DW_AT_high_pc) else {
        return false;
    };
    entry
        .attr_value(gimli::DW_AT_low_pc)
        .and_then(|v| unit.attr_address(v).ok().flatten())
        .is_some_and(|low| low.checked_add(length).is_none())
}

fn walk(dwarf: &gimli::Dwarf<Reader<'_>>, info: &mut DebugInfo) -> gimli::Result<()> {
    let mut wrapped = false;
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let unit = unit.unit_ref(dwarf);
        let mut entries = unit.entries();
        while let Some(entry) = entries.next_dfs()? {
            if entry.tag() == gimli::DW_TAG_compile_unit {
                if let Some(p) = entry
                    .attr_value(gimli::DW_AT_producer)
                    .and_then(|v| unit.attr_string(v).ok())
                {
                    info.producers.push(p.to_string_lossy().into_owned());
                }
                continue;
            }
            if entry.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            // A contiguous function has low_pc/high_pc; one split into hot and cold parts has
            // DW_AT_ranges, and its name belongs to the part holding the entry point.
            if high_pc_wraps(&unit, entry) {
                if !wrapped {
                    wrapped = true;
                    info.warnings.push(
                        "DWARF: a subprogram's DW_AT_high_pc length wraps the address space; \
                         such subprograms were ignored"
                            .to_owned(),
                    );
                }
                continue;
            }
            let mut ranges = Vec::new();
            let mut iter = unit.die_ranges(entry)?;
            while let Some(r) = iter.next()? {
                if r.end > r.begin {
                    ranges.push((r.begin, r.end));
                }
            }
            if ranges.is_empty() {
                continue;
            }
            let entry_pc = entry
                .attr_value(gimli::DW_AT_entry_pc)
                .and_then(|v| unit.attr_address(v).ok().flatten())
                .or(entry
                    .attr_value(gimli::DW_AT_low_pc)
                    .and_then(|v| unit.attr_address(v).ok().flatten()));
            if info.subprograms.len() >= MAX_SUBPROGRAMS {
                info.warnings.push(format!(
                    "DWARF: more than {MAX_SUBPROGRAMS} subprograms; the rest were ignored"
                ));
                return Ok(());
            }
            // An out-of-line clone points at its abstract instance, which may itself point at
            // the declaration inside a class or namespace: follow the chain a few links.
            let mut chain = vec![entry.clone()];
            while chain.len() < MAX_ORIGIN_LINKS {
                let Some(next) = chain.last().and_then(origin_of) else {
                    break;
                };
                match unit.entry(next) {
                    Ok(die) => chain.push(die),
                    Err(_) => break,
                }
            }
            let attr = |name: DwAt| -> Option<AttributeValue<Reader<'_>>> {
                chain.iter().find_map(|die| die.attr_value(name))
            };
            let name = attr(gimli::DW_AT_linkage_name)
                .or_else(|| attr(gimli::DW_AT_name))
                .and_then(|v| unit.attr_string(v).ok())
                .map(|s| s.to_string_lossy().into_owned());
            let file = match attr(gimli::DW_AT_decl_file) {
                Some(AttributeValue::FileIndex(i)) => file_name(&unit, i),
                Some(AttributeValue::Udata(i)) => file_name(&unit, i),
                _ => None,
            };
            let line = match attr(gimli::DW_AT_decl_line) {
                // Lines beyond u32 are not real (and not exact in JSON past 2^53).
                Some(AttributeValue::Udata(l)) => u32::try_from(l).ok(),
                _ => None,
            };
            let single = ranges.len() == 1;
            for (start, end) in ranges {
                let named = single || entry_pc.is_some_and(|pc| (start..end).contains(&pc));
                info.subprograms.push(Subprogram {
                    start,
                    end,
                    name: if named { name.clone() } else { None },
                    file: file.clone(),
                    line,
                });
            }
        }
    }
    Ok(())
}

fn origin_of(entry: &gimli::DebuggingInformationEntry<Reader<'_>>) -> Option<UnitOffset> {
    [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification]
        .into_iter()
        .find_map(|name| match entry.attr_value(name) {
            Some(AttributeValue::UnitRef(offset)) => Some(offset),
            _ => None,
        })
}

/// `directory/file` of a line-program file index.
fn file_name(unit: &gimli::UnitRef<'_, Reader<'_>>, index: u64) -> Option<String> {
    let program = unit.line_program.as_ref()?;
    let header = program.header();
    let entry = header.file(index)?;
    let name = unit.attr_string(entry.path_name()).ok()?;
    let name = name.to_string_lossy().into_owned();
    if name.starts_with('/') {
        return Some(name);
    }
    let dir = entry
        .directory(header)
        .and_then(|d| unit.attr_string(d).ok())
        .map(|d| d.to_string_lossy().into_owned());
    Some(match dir {
        Some(d) if !d.is_empty() => format!("{}/{name}", d.trim_end_matches('/')),
        _ => name,
    })
}
