//! Go function names and exact ranges from the runtime's own table, `.gopclntab`: every Go
//! binary carries it (the runtime needs it for stack traces and garbage collection), stripped or
//! not, so a stripped Go binary's functions are named as precisely as an unstripped one's.
//!
//! Layout read (Go 1.16 and later; the header's magic says which):
//!
//! | magic | Go | header after magic, pad, pad, quantum, pointer size | function table entry |
//! |---|---|---|---|
//! | `0xfffffffa` | 1.16, 1.17 | nfunc, nfiles, then the offsets of funcname, cu, filetab, pctab, pcln tables (pointer-sized) | (entry PC, func offset), pointer-sized |
//! | `0xfffffff0` / `0xfffffff1` | 1.18–1.19 / 1.20 and later | nfunc, nfiles, text start, then the five offsets | (entry offset from text start, func offset), 32-bit |
//!
//! The table has one entry per function plus a final one whose PC is the end of the last
//! function, so each function ends where the next begins. A function's name is a
//! NUL-terminated string in the funcname table, at the offset its `_func` record gives (the
//! 32-bit field after the entry). Offsets are relative to the table's start; every read is
//! bounds-checked, and a table that does not hold together is an error, never a panic.
//!
//! Entries of the 1.18 layout are offsets from the header's text start; a position-independent
//! binary (every Go Mach-O executable, ELF built with `-buildmode=pie`) holds 0 there until a
//! relocation fills it in at load time, and the address of `runtime.text` is taken instead: its
//! symbol's, or without one the text section's (where Go's own linker puts it). Mach-O names the table's section `__gopclntab`.
//!
//! Older tables (Go 1.2–1.15, magic `0xfffffffb`) are reported as
//! [`GoPclntabError::Unsupported`].
//!
//! What this module does not own: merging these ranges with the other sources
//! ([`crate::functions`]), Go build information ([`crate::gobuild`]).

use object::{Object, ObjectSection, ObjectSymbol};

/// Most functions read from one table.
pub const MAX_GO_FUNCTIONS: usize = 4_000_000;

/// Longest function name read.
const MAX_NAME: usize = 4096;

/// Why the table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GoPclntabError {
    /// A table layout this reader does not know.
    #[error("a .gopclntab with magic {magic:#x} (Go before 1.16, or unknown) is not read")]
    Unsupported {
        /// The magic found.
        magic: u32,
    },
    /// A read past the table's end.
    #[error("the table is cut short: {what} at offset {offset:#x} lies past its {len:#x} bytes")]
    OutOfBounds {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: u64,
        /// The table's size.
        len: usize,
    },
    /// Values that cannot be right.
    #[error("malformed table: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

/// One Go function: name and `[start, end)` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoFunction<'d> {
    /// The name as the runtime prints it (`net/http.(*Server).Serve`).
    pub name: &'d str,
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
}

/// The Go functions of `file` (bytes `data`); empty when it has no `.gopclntab`.
///
/// # Errors
/// [`GoPclntabError`] when the table is there and does not hold together.
pub fn go_functions<'d>(
    file: &object::File<'d>,
    data: &'d [u8],
) -> Result<Vec<GoFunction<'d>>, GoPclntabError> {
    let Some(section) = file.sections().find(|s| {
        s.name()
            .is_ok_and(|n| n == ".gopclntab" || n == "__gopclntab")
    }) else {
        return Ok(Vec::new());
    };
    let Some(table) = section.file_range().and_then(|(offset, size)| {
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(size)).ok())
            .and_then(|(from, to)| data.get(from..to))
    }) else {
        return Ok(Vec::new());
    };
    // The base of the table's entries is `runtime.text`: its symbol where the binary keeps one
    // (an external linker may put C code before it), else the start of the text section, where
    // Go's own linker puts it.
    let symbol = file
        .symbols()
        .find(|s| {
            // Mach-O gives Go symbols a leading `_` in some build modes (plugins, c-shared).
            matches!(s.name(), Ok("runtime.text" | "_runtime.text")) && s.is_definition()
        })
        .map(|s| s.address());
    let text = symbol.or_else(|| {
        file.section_by_name(".text")
            .filter(|s| s.kind() == object::SectionKind::Text)
            .map(|s| s.address())
    });
    read_table_with_text(table, file.is_little_endian(), text)
}

struct Reader<'d> {
    table: &'d [u8],
    little: bool,
    ptr: usize,
}

impl<'d> Reader<'d> {
    fn bytes(&self, what: &'static str, offset: u64, n: usize) -> Result<&'d [u8], GoPclntabError> {
        let out = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(n).map(|e| (o, e)))
            .and_then(|(o, e)| self.table.get(o..e));
        out.ok_or(GoPclntabError::OutOfBounds {
            what,
            offset,
            len: self.table.len(),
        })
    }

    fn u32(&self, what: &'static str, offset: u64) -> Result<u32, GoPclntabError> {
        let b: [u8; 4] =
            self.bytes(what, offset, 4)?
                .try_into()
                .map_err(|_| GoPclntabError::Malformed {
                    reason: "a 4-byte read".to_owned(),
                })?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn word(&self, what: &'static str, offset: u64) -> Result<u64, GoPclntabError> {
        if self.ptr == 4 {
            return self.u32(what, offset).map(u64::from);
        }
        let b: [u8; 8] =
            self.bytes(what, offset, 8)?
                .try_into()
                .map_err(|_| GoPclntabError::Malformed {
                    reason: "an 8-byte read".to_owned(),
                })?;
        Ok(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    fn name(&self, offset: u64) -> Result<&'d str, GoPclntabError> {
        let start = usize::try_from(offset).map_err(|_| GoPclntabError::Malformed {
            reason: "a name offset beyond the address space".to_owned(),
        })?;
        let rest = self.table.get(start..).ok_or(GoPclntabError::OutOfBounds {
            what: "function name",
            offset,
            len: self.table.len(),
        })?;
        let len = rest
            .iter()
            .take(MAX_NAME + 1)
            .position(|&b| b == 0)
            .ok_or_else(|| GoPclntabError::Malformed {
                reason: format!("the name at {offset:#x} has no end within {MAX_NAME} bytes"),
            })?;
        std::str::from_utf8(&rest[..len]).map_err(|_| GoPclntabError::Malformed {
            reason: format!("the name at {offset:#x} is not UTF-8"),
        })
    }
}

/// Reads a whole table (its bytes, and whether the binary is little-endian).
///
/// # Errors
/// As [`go_functions`].
pub fn read_table(table: &[u8], little: bool) -> Result<Vec<GoFunction<'_>>, GoPclntabError> {
    read_table_with_text(table, little, None)
}

/// [`read_table`], with the address of the binary's text section for a table whose stored text
/// start is 0: in a position-independent binary (every Go Mach-O executable, ELF with
/// `-buildmode=pie`) the field is filled in by a relocation at load time, and the file holds 0.
///
/// # Errors
/// As [`go_functions`].
pub fn read_table_with_text(
    table: &[u8],
    little: bool,
    text: Option<u64>,
) -> Result<Vec<GoFunction<'_>>, GoPclntabError> {
    let mut r = Reader {
        table,
        little,
        ptr: 8,
    };
    let magic = r.u32("magic", 0)?;
    let header = r.bytes("header", 4, 4)?;
    let ptr = usize::from(header[3]);
    if header[0] != 0 || header[1] != 0 || !matches!(ptr, 4 | 8) {
        return Err(GoPclntabError::Malformed {
            reason: format!("header padding {:?} or pointer size {ptr}", &header[..2]),
        });
    }
    r.ptr = ptr;
    let w = ptr as u64;
    let (new_layout, offsets_at) = match magic {
        0xffff_fffa => (false, 8 + 2 * w),
        0xffff_fff0 | 0xffff_fff1 => (true, 8 + 3 * w),
        _ => return Err(GoPclntabError::Unsupported { magic }),
    };
    let nfunc = r.word("nfunc", 8)?;
    let nfunc = usize::try_from(nfunc)
        .ok()
        .filter(|&n| n <= MAX_GO_FUNCTIONS)
        .ok_or_else(|| GoPclntabError::Malformed {
            reason: format!("{nfunc} functions, more than the limit of {MAX_GO_FUNCTIONS}"),
        })?;
    let text_start = if new_layout {
        match r.word("text start", 8 + 2 * w)? {
            0 => text.unwrap_or(0),
            stored => stored,
        }
    } else {
        0
    };
    let funcnames = r.word("funcname offset", offsets_at)?;
    let pcln = r.word("pcln offset", offsets_at + 4 * w)?;
    // Function table entries: (entry, func offset), each 32-bit in the new layout.
    let entry_size = if new_layout { 8 } else { 2 * w };
    let half = entry_size / 2;
    let entry_at = |i: usize| -> Result<(u64, u64), GoPclntabError> {
        let at = pcln + i as u64 * entry_size;
        if new_layout {
            Ok((
                u64::from(r.u32("function table", at)?),
                u64::from(r.u32("function table", at + half)?),
            ))
        } else {
            Ok((
                r.word("function table", at)?,
                r.word("function table", at + half)?,
            ))
        }
    };
    let mut out = Vec::with_capacity(nfunc);
    let mut next = entry_at(0)?;
    for i in 0..nfunc {
        let (entry, func) = next;
        next = entry_at(i + 1)?;
        let (start, end) = (
            text_start.wrapping_add(entry),
            text_start.wrapping_add(next.0),
        );
        if end <= start {
            return Err(GoPclntabError::Malformed {
                reason: format!("function {i} ends at {end:#x}, not after its start {start:#x}"),
            });
        }
        // `_func` begins with the entry (32-bit offset, or a pointer before 1.18), then the
        // 32-bit name offset.
        let name_field = pcln + func + if new_layout { 4 } else { w };
        let name_off = u64::from(r.u32("function record", name_field)?);
        let name = r.name(funcnames + name_off)?;
        out.push(GoFunction { name, start, end });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal Go 1.20 table with the given functions (name, entry offset) and end offset.
    fn table(functions: &[(&str, u32)], end: u32) -> Vec<u8> {
        let w = 8u64;
        let header_len = 8 + 8 * w;
        let mut names = Vec::new();
        let mut name_offs = Vec::new();
        for (n, _) in functions {
            name_offs.push(names.len() as u32);
            names.extend_from_slice(n.as_bytes());
            names.push(0);
        }
        let funcnames = header_len;
        let pcln = funcnames + names.len() as u64;
        let ftab_len = (functions.len() as u64 + 1) * 8;
        let mut t = Vec::new();
        t.extend_from_slice(&0xffff_fff1u32.to_le_bytes());
        t.extend_from_slice(&[0, 0, 1, 8]);
        for v in [
            functions.len() as u64,
            0,
            0x40_0000,
            funcnames,
            0,
            0,
            0,
            pcln,
        ] {
            t.extend_from_slice(&v.to_le_bytes());
        }
        t.extend_from_slice(&names);
        for (i, (_, entry)) in functions.iter().enumerate() {
            t.extend_from_slice(&entry.to_le_bytes());
            t.extend_from_slice(&((ftab_len + i as u64 * 8) as u32).to_le_bytes());
        }
        t.extend_from_slice(&end.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        for (i, (_, entry)) in functions.iter().enumerate() {
            t.extend_from_slice(&entry.to_le_bytes());
            t.extend_from_slice(&name_offs[i].to_le_bytes());
        }
        t
    }

    #[test]
    fn functions_end_where_the_next_begins() {
        let t = table(&[("main.main", 0x100), ("main.helper", 0x180)], 0x200);
        let f = read_table(&t, true).unwrap();
        assert_eq!(
            f,
            vec![
                GoFunction {
                    name: "main.main",
                    start: 0x40_0100,
                    end: 0x40_0180
                },
                GoFunction {
                    name: "main.helper",
                    start: 0x40_0180,
                    end: 0x40_0200
                },
            ]
        );
    }

    #[test]
    fn a_text_start_of_zero_counts_from_the_text_section() {
        let mut t = table(&[("main.main", 0x100)], 0x180);
        // The text start (third header word): 0, as a position-independent binary holds it.
        t[24..32].copy_from_slice(&0u64.to_le_bytes());
        let f = read_table_with_text(&t, true, Some(0x1_0000_1000)).unwrap();
        assert_eq!((f[0].start, f[0].end), (0x1_0000_1100, 0x1_0000_1180));
        // A stored text start is the table's own, whatever the section says.
        let t = table(&[("main.main", 0x100)], 0x180);
        let f = read_table_with_text(&t, true, Some(0x1_0000_1000)).unwrap();
        assert_eq!(f[0].start, 0x40_0100);
    }

    #[test]
    fn damaged_tables_are_errors_not_panics() {
        let t = table(&[("main.main", 0x100), ("main.helper", 0x180)], 0x200);
        for cut in 0..t.len() {
            let _ = read_table(&t[..cut], true);
        }
        for i in 0..t.len() {
            let mut bad = t.clone();
            bad[i] ^= 0xff;
            let _ = read_table(&bad, true);
        }
        let mut old = t.clone();
        old[..4].copy_from_slice(&0xffff_fffbu32.to_le_bytes());
        assert!(matches!(
            read_table(&old, true),
            Err(GoPclntabError::Unsupported { .. })
        ));
    }
}
