//! Function boundaries: symbols and `.eh_frame` FDEs, merged into exact byte ranges.
//!
//! PE images state theirs in other tables, read by [`crate::pe`] and merged here under the names
//! of the ELF sources they stand for (COFF symbols as `symtab`, exports as `dynsym`, `.pdata`
//! ranges as `eh_frame`); chained `.pdata` parts are grouped with their function as fragments.
//! Mach-O binaries state starts (`LC_FUNCTION_STARTS`, `__unwind_info`, `nlist` symbols), each
//! running to the next, read by [`crate::macho`] and merged as `eh_frame` ranges that the
//! symbol table names; clang's `.cold.N` parts are grouped with their parent as GCC's are.
//!
//! Sources, strongest first: `.symtab` (every function with its size, local ones included),
//! `.dynsym` (exported functions; what survives `strip`), DWARF subprograms (which also give the
//! declaring file and line), and `.eh_frame` FDEs (one per function
//! with unwind info, whose ranges equal the symbol sizes, so a stripped binary keeps exact
//! boundaries). Candidates are grouped by start address: several names at one address are one
//! function with aliases; a symbol's size wins over an FDE's; a range known only from an FDE is
//! named `sub_<hex>` with source `eh_frame`. Code that none of them covers is split at its
//! padding by [`crate::gaps`] (source `disasm`). GCC's `.cold` parts (`f.cold`, `f.cold.3`) are
//! grouped with their parent as fragments. In a BOLT-optimised binary, the unnamed ranges that
//! [`crate::bolt`] finds left behind are proven apart, as [`Inactive`] ranges.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Most FDEs read from one `.eh_frame` (`librustc_driver` has about 100k): past this the section
/// is treated as hostile and the rest ignored, with a warning.
pub const MAX_FDES: usize = 10_000_000;

/// A virtual address, written as `0x` lower-case hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(pub u64);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl Serialize for Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Most hex digits of an address: 64 bits.
const MAX_ADDR_DIGITS: usize = 16;

/// Why a string is not an address as FuncProofs write them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{found:?} is not an address: expected `0x` and 1 to {MAX_ADDR_DIGITS} lower-case hex \
     digits without leading zeros"
)]
pub struct AddrError {
    /// The string refused (at most 40 characters of it).
    pub found: String,
}

impl std::str::FromStr for Addr {
    type Err = AddrError;

    /// Exactly what [`Addr`]'s `Display` writes: `0x`, then lower-case hex digits, no sign, no
    /// whitespace, no leading zero (so that one address has one spelling and a proof
    /// re-serialises to the bytes it was read from). `u64::from_str_radix` alone would take a
    /// leading `+` and upper-case digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = || AddrError {
            found: s.chars().take(40).collect(),
        };
        let digits = s.strip_prefix("0x").ok_or_else(refuse)?;
        let canonical = !digits.is_empty()
            && digits.len() <= MAX_ADDR_DIGITS
            && digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return Err(refuse());
        }
        u64::from_str_radix(digits, 16)
            .map(Addr)
            .map_err(|_| refuse())
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a function's boundaries came from.
///
/// The names are ELF's; other formats' tables take the name of the ELF table they stand for. PE
/// ([`crate::pe`]): the COFF symbol table is `symtab`, the export table `dynsym`, and the
/// exception directory (`.pdata`) `eh_frame`. Mach-O ([`crate::macho`]): the `nlist` symbol
/// table is `symtab`, `__gopclntab` `gopclntab`, and `LC_FUNCTION_STARTS` and `__unwind_info`
/// (starts without names) `eh_frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The static symbol table (PE: the COFF symbol table; Mach-O: the `nlist` table).
    Symtab,
    /// The dynamic symbol table (PE: the export table).
    Dynsym,
    /// DWARF subprograms.
    Dwarf,
    /// The Go runtime's function table (`.gopclntab`), present in stripped Go binaries too.
    Gopclntab,
    /// `.eh_frame` FDEs only (PE: the exception directory, `.pdata`; Mach-O:
    /// `LC_FUNCTION_STARTS` and `__unwind_info`).
    EhFrame,
    /// Disassembly: code outside every other source's ranges, split at `int3` padding.
    Disasm,
}

impl Source {
    /// Whether a function from this source has a real name (a symbol's or DWARF's), not one
    /// made up from its address.
    pub fn is_named(self) -> bool {
        match self {
            Source::Symtab | Source::Dynsym | Source::Dwarf | Source::Gopclntab => true,
            Source::EhFrame | Source::Disasm => false,
        }
    }

    /// The name a proof writes (`symtab`, `dynsym`, `dwarf`, `gopclntab`, `eh_frame`, `disasm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Symtab => "symtab",
            Source::Dynsym => "dynsym",
            Source::Dwarf => "dwarf",
            Source::Gopclntab => "gopclntab",
            Source::EhFrame => "eh_frame",
            Source::Disasm => "disasm",
        }
    }
}

/// A part of a function placed apart from it (GCC `.cold`, BOLT split fragments).
///
/// Fields are declared in RFC 8785 key order: proofs write functions with `serde_json` directly
/// (see [`crate::proof::FuncProof::write_canonical_json`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    /// BLAKE3 of the file bytes of `[start, end)`.
    pub blake3: String,
    /// One past the last byte.
    pub end: Addr,
    /// First byte.
    pub start: Addr,
    /// The fragment's symbol.
    pub sym: String,
}

/// One function of a FuncProof.
///
/// Fields are declared in RFC 8785 key order (see [`Fragment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// Other names of the same range.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// BLAKE3 of the file bytes of `[start, end)`.
    pub blake3: String,
    /// The demangled primary name, when it is mangled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// One past the last byte.
    pub end: Addr,
    /// Source file (from DWARF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Parts placed apart from the function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fragments: Vec<Fragment>,
    /// Source line (from DWARF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Where the boundaries came from.
    pub source: Source,
    /// First byte.
    pub start: Addr,
    /// The primary (mangled) name.
    pub sym: String,
}

/// Virtual address → file offset, from the loadable segments (or sections when there are none).
#[derive(Debug, Clone, Default)]
pub struct AddressMap {
    /// `(address, file size, file offset)`, sorted by address.
    ranges: Vec<(u64, u64, u64)>,
}

impl AddressMap {
    /// The map of a parsed file.
    pub fn new(file: &object::File<'_>) -> Self {
        let mut ranges: Vec<(u64, u64, u64)> = file
            .segments()
            .filter_map(|seg| {
                let (offset, size) = seg.file_range();
                (size > 0).then_some((seg.address(), size, offset))
            })
            .collect();
        if ranges.is_empty() {
            ranges = file
                .sections()
                .filter_map(|sec| {
                    let (offset, size) = sec.file_range()?;
                    (size > 0).then_some((sec.address(), size, offset))
                })
                .collect();
        }
        ranges.sort_unstable();
        AddressMap { ranges }
    }

    /// The file bytes of `[start, end)`, when they lie inside one mapped range of `data`.
    pub fn bytes<'d>(&self, data: &'d [u8], start: u64, end: u64) -> Option<&'d [u8]> {
        let i = self.ranges.partition_point(|&(addr, _, _)| addr <= start);
        let &(addr, size, offset) = self.ranges.get(i.checked_sub(1)?)?;
        if end < start || end > addr.checked_add(size)? {
            return None;
        }
        let from = usize::try_from(offset.checked_add(start - addr)?).ok()?;
        let to = usize::try_from(offset.checked_add(end - addr)?).ok()?;
        data.get(Range {
            start: from,
            end: to,
        })
    }
}

/// BLAKE3 hex of a byte slice.
pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Functions found in a file, and what could not be used.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Functions sorted by start address.
    pub functions: Vec<Function>,
    /// Problems that did not stop extraction (recorded in the proof's `meta.warnings`).
    pub warnings: Vec<String>,
    /// DWARF `DW_AT_producer` strings: compilers and their flags.
    pub producers: Vec<String>,
    /// Code ranges the file keeps that are not functions of the program (see [`Inactive`]).
    pub inactive: Vec<Inactive>,
}

/// Why a range of code is proven apart from the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Code BOLT left at its original address after moving or folding it: in an executable
    /// `.bolt.org.*` section, known only from its FDE, and referred to by nothing live (the
    /// rule, checkable with any disassembler, is [`crate::bolt`]'s).
    #[serde(rename = "bolt-original")]
    BoltOriginal,
}

impl Role {
    /// The name a proof writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::BoltOriginal => crate::bolt::ROLE,
        }
    }
}

/// A range of code the file keeps that is not a function of the program, proven like one.
///
/// Fields are declared in RFC 8785 key order (see [`Fragment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inactive {
    /// BLAKE3 of the file bytes of `[start, end)`.
    pub blake3: String,
    /// One past the last byte.
    pub end: Addr,
    /// Why it is not a function.
    pub role: Role,
    /// First byte.
    pub start: Addr,
}

#[derive(Default)]
struct Candidate {
    /// `(source, not global, name)` so that the best name sorts first.
    names: Vec<(Source, bool, String)>,
    symbol_end: Option<u64>,
    dwarf_end: Option<u64>,
    fde_end: Option<u64>,
    file: Option<String>,
    line: Option<u32>,
}

/// One statement about the function at an address.
enum Fact<'d> {
    Symbol {
        source: Source,
        local: bool,
        name: &'d str,
        size: u64,
    },
    Dwarf(crate::dwarf::Subprogram),
    Fde(u64),
}

impl Candidate {
    fn add_name(&mut self, source: Source, local: bool, name: &str) {
        if !self.names.iter().any(|(_, _, n)| n == name) {
            self.names.push((source, local, name.to_owned()));
        }
    }

    fn add(&mut self, start: u64, fact: Fact<'_>) {
        match fact {
            Fact::Symbol {
                source,
                local,
                name,
                size,
            } => {
                if size > 0 && self.symbol_end.is_none() {
                    // An overflowing size is kept as claimed, to be refused (and reported) later.
                    self.symbol_end = Some(start.saturating_add(size));
                }
                self.add_name(source, local, name);
            }
            Fact::Dwarf(sub) => {
                self.dwarf_end = Some(sub.end);
                self.file = sub.file;
                self.line = sub.line;
                if let Some(name) = sub.name {
                    self.add_name(Source::Dwarf, true, &name);
                }
            }
            Fact::Fde(end) => self.fde_end = Some(end),
        }
    }
}

/// Finds every function of `file`, hashing its bytes from `data`; with `demangle`, each mangled
/// name's demangled form is stored too.
pub fn extract(file: &object::File<'_>, data: &[u8], demangle: bool) -> Extracted {
    let mut warnings = Vec::new();
    // Everything each source says, by address; a stable sort keeps the sources' order (symtab,
    // dynsym, DWARF, FDEs) within one address, which decides names and ends below.
    let mut facts: Vec<(u64, Fact<'_>)> = Vec::new();
    for (symbols, source) in [
        (file.symbols(), Source::Symtab),
        (file.dynamic_symbols(), Source::Dynsym),
    ] {
        for sym in symbols {
            if sym.kind() != SymbolKind::Text || !sym.is_definition() {
                continue;
            }
            let Ok(name) = sym.name() else { continue };
            if name.is_empty() {
                continue;
            }
            let fact = Fact::Symbol {
                source,
                local: !sym.is_global(),
                name,
                size: sym.size(),
            };
            facts.push((sym.address(), fact));
        }
    }
    // A PE image's exports are its dynamic symbols; its unwind table bounds its functions, and
    // says which ranges are parts of another function (see `crate::pe`).
    let pe = crate::pe::read(file);
    warnings.extend(pe.warnings);
    facts.extend(pe.exports.iter().map(|&(address, name)| {
        let fact = Fact::Symbol {
            source: Source::Dynsym,
            local: false,
            name,
            size: 0,
        };
        (address, fact)
    }));
    facts.extend(
        pe.ranges
            .iter()
            .map(|&(start, end)| (start, Fact::Fde(end))),
    );
    facts.extend(
        pe.parts
            .iter()
            .map(|&(start, end, _)| (start, Fact::Fde(end))),
    );
    // Go's own table names every Go function with its exact range, stripped or not.
    match crate::gopclntab::go_functions(file, data) {
        Ok(go) => facts.extend(go.into_iter().map(|f| {
            (
                f.start,
                Fact::Symbol {
                    source: Source::Gopclntab,
                    local: false,
                    name: f.name,
                    size: f.end - f.start,
                },
            )
        })),
        Err(e) => warnings.push(format!(".gopclntab: {e}")),
    }
    let debug = crate::dwarf::read(file);
    warnings.extend(debug.warnings);
    facts.extend(
        debug
            .subprograms
            .into_iter()
            .map(|sub| (sub.start, Fact::Dwarf(sub))),
    );
    // FDEs covering PLT stubs describe linker trampolines, not functions of the program.
    let plt: Vec<(u64, u64)> = file
        .sections()
        .filter(|s| s.name().is_ok_and(|n| n.starts_with(".plt")))
        .map(|s| (s.address(), s.address().saturating_add(s.size())))
        .collect();
    for (start, end) in fde_ranges(file, &mut warnings) {
        if !plt.iter().any(|&(lo, hi)| (lo..hi).contains(&start)) {
            facts.push((start, Fact::Fde(end)));
        }
    }
    // Mach-O states starts, not ranges: each runs to the next start (see `crate::macho`). Put
    // after the FDEs, so that at one start the Mach-O end is the one kept.
    let macho = crate::macho::read(file);
    warnings.extend(macho.warnings);
    facts.extend(
        macho
            .ranges
            .iter()
            .map(|&(start, end)| (start, Fact::Fde(end))),
    );
    facts.sort_by_key(|&(start, _)| start);
    let mut by_start: Vec<(u64, Candidate)> = Vec::new();
    for (start, fact) in facts {
        if by_start.last().is_none_or(|&(s, _)| s != start) {
            by_start.push((start, Candidate::default()));
        }
        let Some((_, c)) = by_start.last_mut() else {
            continue;
        };
        c.add(start, fact);
    }
    let map = AddressMap::new(file);
    let mut unmapped = 0usize;
    let mut mended: Vec<String> = Vec::new();
    // A PE name with no `.pdata` range (an x64 leaf function needs no unwind data) names the
    // piece that disassembly finds at its address.
    let pe_image = matches!(file, object::File::Pe32(_) | object::File::Pe64(_));
    let mut endless: HashMap<u64, Candidate> = HashMap::new();
    let ranged: Vec<(u64, u64, Candidate)> = by_start
        .into_iter()
        .filter_map(|(start, c)| {
            // The strongest source whose range lies in the file's bytes: a symbol size that
            // runs past them (corrupt, or hostile) gives way to DWARF's or the FDE's.
            let ends = [c.symbol_end, c.dwarf_end, c.fde_end];
            let mut claimed = ends.iter().flatten().filter(|&&e| e > start).peekable();
            let Some(&&strongest) = claimed.peek() else {
                if pe_image && !c.names.is_empty() {
                    endless.insert(start, c);
                }
                return None;
            };
            let Some(end) = claimed.find(|&&e| map.bytes(data, start, e).is_some()) else {
                unmapped += 1;
                return None;
            };
            if *end != strongest {
                mended.push(format!("{start:#x}"));
            }
            Some((start, *end, c))
        })
        .collect();
    if unmapped > 0 {
        warnings.push(format!(
            "{unmapped} function ranges lie outside the file's loadable bytes and were left out"
        ));
    }
    if let Some(first) = mended.first() {
        warnings.push(format!(
            "{} functions (first at {first}) have a symbol size running outside the file's \
             bytes; their DWARF or .eh_frame range was used",
            mended.len()
        ));
    }
    let mut covered: Vec<(u64, u64)> = ranged.iter().map(|&(s, e, _)| (s, e)).collect();
    if !endless.is_empty() {
        // An empty range at each such name: disassembly starts a piece there.
        covered.extend(endless.keys().map(|&s| (s, s)));
        covered.sort_unstable();
    }
    let found = crate::gaps::pieces(file, data, &map, &covered, &mut warnings);
    let mut ranged = ranged;
    if !found.is_empty() {
        ranged.extend(
            found
                .into_iter()
                .map(|(s, e)| (s, e, endless.remove(&s).unwrap_or_default())),
        );
        ranged.sort_by_key(|&(s, e, _)| (s, e));
        // Every section of a relocatable object starts at address 0, so two sections' unnamed
        // code can be the same range: one statement, made once (the sort is stable, so a named
        // range comes first and stays).
        ranged.dedup_by(|later, earlier| {
            (later.0, later.1) == (earlier.0, earlier.1) && later.2.names.is_empty()
        });
    }
    if !endless.is_empty() {
        let mut left: Vec<u64> = endless.into_keys().collect();
        left.sort_unstable();
        warnings.push(format!(
            "{} named functions (exports or COFF symbols; first at {:#x}) have no .pdata range \
             and no code was found at their address; they were left out",
            left.len(),
            left[0]
        ));
    }
    if let Some(w) = overlaps(&ranged) {
        warnings.push(w);
    }
    let flags: Vec<(u64, u64, bool)> = ranged
        .iter()
        .map(|(s, e, c)| (*s, *e, !c.names.is_empty()))
        .collect();
    let remains = crate::bolt::remains(file, data, &map, &flags);
    let mut inactive_ranges = Vec::with_capacity(remains.len());
    if !remains.is_empty() {
        let mut next = remains.iter().peekable();
        let mut i = 0usize;
        ranged.retain(|&(s, e, _)| {
            let out = next.next_if(|&&k| k == i).is_some();
            if out {
                inactive_ranges.push((s, e));
            }
            i += 1;
            !out
        });
    }
    let inactive: Vec<Inactive> = inactive_ranges
        .into_par_iter()
        .filter_map(|(start, end)| {
            let bytes = map.bytes(data, start, end)?;
            Some(Inactive {
                blake3: blake3_hex(bytes),
                end: Addr(end),
                role: Role::BoltOriginal,
                start: Addr(start),
            })
        })
        .collect();
    // Hashing and demangling dominate on large binaries and are independent per function. Each
    // range was kept above because its bytes are in the file; an indexed collect then writes
    // each function into its place in one allocation (a filtering one grows a vector per thread
    // and joins them: twice the list at its peak).
    ranged.retain(|&(start, end, _)| map.bytes(data, start, end).is_some());
    let functions: Vec<Function> = ranged
        .into_par_iter()
        .map(|(start, end, c)| {
            let bytes = map.bytes(data, start, end).unwrap_or_default();
            function(start, end, c, bytes, demangle)
        })
        .collect();
    let functions = group_cold_fragments(functions);
    let functions = group_chained_parts(functions, &pe.parts, &mut warnings);
    Extracted {
        functions,
        warnings,
        producers: debug.producers,
        inactive,
    }
}

/// How many ranges (sorted by start) run into the next one, as a warning. Hand-written assembly
/// does this legitimately (an inner entry point with its own size), a corrupt symbol table does
/// it by accident: either way each range is still proven as claimed, and the reader is told.
fn overlaps(ranged: &[(u64, u64, Candidate)]) -> Option<String> {
    let mut count = 0usize;
    let mut first = None;
    for pair in ranged.windows(2) {
        let ((start, end, _), (next, _, _)) = (&pair[0], &pair[1]);
        if end > next {
            count += 1;
            first.get_or_insert((*start, *next));
        }
    }
    let (start, next) = first?;
    Some(format!(
        "{count} function ranges overlap the next function (first: {start:#x} runs past {next:#x})"
    ))
}

/// The function at `[start, end)`: best name first, the others as aliases.
fn function(start: u64, end: u64, mut c: Candidate, bytes: &[u8], demangle: bool) -> Function {
    c.names.sort_by(|a, b| {
        (a.0, a.1, leading_underscores(&a.2), a.2.len(), &a.2).cmp(&(
            b.0,
            b.1,
            leading_underscores(&b.2),
            b.2.len(),
            &b.2,
        ))
    });
    let mut names = c.names.into_iter();
    let (source, sym) = match names.next() {
        Some((source, _, name)) => (source, name),
        None if c.fde_end.is_some() => (Source::EhFrame, format!("sub_{start:x}")),
        None => (Source::Disasm, format!("sub_{start:x}")),
    };
    let mut aliases: Vec<String> = names.map(|(_, _, n)| n).collect();
    aliases.sort();
    Function {
        // Demangled text is written piece by piece; the slack of its growth is not kept.
        demangled: if demangle {
            self::demangle(&sym).map(|mut d| {
                d.shrink_to_fit();
                d
            })
        } else {
            None
        },
        sym,
        aliases,
        start: Addr(start),
        end: Addr(end),
        blake3: blake3_hex(bytes),
        source,
        file: c.file,
        line: c.line,
        fragments: Vec::new(),
    }
}

fn leading_underscores(name: &str) -> usize {
    name.bytes().take_while(|&b| b == b'_').count()
}

/// `f.cold` / `f.cold.7` → `f`.
fn cold_parent(name: &str) -> Option<&str> {
    let (base, suffix) = name.rsplit_once(".cold")?;
    let numbered = suffix
        .strip_prefix('.')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (!base.is_empty() && (suffix.is_empty() || numbered)).then_some(base)
}

fn group_cold_fragments(functions: Vec<Function>) -> Vec<Function> {
    let cold: Vec<(usize, &str)> = functions
        .iter()
        .enumerate()
        .filter_map(|(i, f)| cold_parent(&f.sym).map(|base| (i, base)))
        .collect();
    if cold.is_empty() {
        return functions;
    }
    // Only the names some fragment asks for; the last function holding a name wins.
    let wanted: HashSet<&str> = cold.iter().map(|&(_, base)| base).collect();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(wanted.len());
    for (i, f) in functions.iter().enumerate() {
        for name in std::iter::once(&f.sym).chain(&f.aliases) {
            if wanted.contains(name.as_str()) {
                index.insert(name.as_str(), i);
            }
        }
    }
    let parent_of: HashMap<usize, usize> = cold
        .iter()
        .filter_map(|&(i, base)| index.get(base).filter(|&&p| p != i).map(|&p| (i, p)))
        .collect();
    let mut fragments: BTreeMap<usize, Vec<Fragment>> = BTreeMap::new();
    let mut kept = Vec::with_capacity(functions.len());
    for (i, f) in functions.into_iter().enumerate() {
        match parent_of.get(&i) {
            Some(&p) => fragments.entry(p).or_default().push(Fragment {
                sym: f.sym,
                start: f.start,
                end: f.end,
                blake3: f.blake3,
            }),
            None => kept.push((i, f)),
        }
    }
    kept.into_iter()
        .map(|(i, mut f)| {
            if let Some(frags) = fragments.remove(&i) {
                f.fragments = frags;
            }
            f
        })
        .collect()
}

/// Moves each PE chained unwind part (`(start, end, root start)`, see [`crate::pe`]) into the
/// fragments of the function at its root's start. A part whose root is no function (its entry
/// was refused) stays a function of its own, with a warning.
fn group_chained_parts(
    functions: Vec<Function>,
    parts: &[(u64, u64, u64)],
    warnings: &mut Vec<String>,
) -> Vec<Function> {
    if parts.is_empty() {
        return functions;
    }
    let root_of: HashMap<(u64, u64), u64> = parts.iter().map(|&(s, e, r)| ((s, e), r)).collect();
    let index: HashMap<u64, usize> = functions
        .iter()
        .enumerate()
        .filter(|(_, f)| !root_of.contains_key(&(f.start.0, f.end.0)))
        .map(|(i, f)| (f.start.0, i))
        .collect();
    let mut fragments: BTreeMap<usize, Vec<Fragment>> = BTreeMap::new();
    let mut orphans = 0usize;
    let mut kept = Vec::with_capacity(functions.len());
    for (i, f) in functions.into_iter().enumerate() {
        let parent = root_of
            .get(&(f.start.0, f.end.0))
            .map(|root| index.get(root).copied());
        match parent {
            Some(Some(p)) => fragments.entry(p).or_default().push(Fragment {
                sym: f.sym,
                start: f.start,
                end: f.end,
                blake3: f.blake3,
            }),
            Some(None) => {
                orphans += 1;
                kept.push((i, f));
            }
            None => kept.push((i, f)),
        }
    }
    if orphans > 0 {
        warnings.push(format!(
            ".pdata: {orphans} chained entries continue a function that is not in the table; \
             they were taken as functions of their own"
        ));
    }
    kept.into_iter()
        .map(|(i, mut f)| {
            if let Some(frags) = fragments.remove(&i) {
                f.fragments.extend(frags);
                f.fragments.sort_by_key(|g| (g.start, g.end));
            }
            f
        })
        .collect()
}

/// Rust (legacy and v0, without the hash suffix) or Itanium C++ demangling; `None` when the name
/// is not mangled.
pub fn demangle(name: &str) -> Option<String> {
    if let Ok(d) = rustc_demangle::try_demangle(name) {
        return Some(format!("{d:#}"));
    }
    // Mach-O prefixes every C and C++ name with `_`: `__Z…` is the Itanium `_Z…`.
    let itanium = name
        .strip_prefix('_')
        .filter(|n| n.starts_with("_Z"))
        .unwrap_or(name);
    if itanium.starts_with("_Z") {
        let symbol = cpp_demangle::Symbol::new(itanium).ok()?;
        return symbol.demangle().ok().filter(|d| d != itanium);
    }
    None
}

/// `[start, end)` of every FDE in `.eh_frame`.
fn fde_ranges(file: &object::File<'_>, warnings: &mut Vec<String>) -> Vec<(u64, u64)> {
    use gimli::{BaseAddresses, CieOrFde, EhFrame, RunTimeEndian, UnwindSection};
    let Some(section) = file.section_by_name(".eh_frame") else {
        return Vec::new();
    };
    let Ok(data) = section.uncompressed_data() else {
        warnings.push(".eh_frame could not be read".to_owned());
        return Vec::new();
    };
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let mut eh_frame = EhFrame::new(&data, endian);
    eh_frame.set_address_size(if file.is_64() { 8 } else { 4 });
    let mut bases = BaseAddresses::default().set_eh_frame(section.address());
    if let Some(text) = file.section_by_name(".text") {
        bases = bases.set_text(text.address());
    }
    if let Some(got) = file.section_by_name(".got") {
        bases = bases.set_got(got.address());
    }
    let mut out = Vec::new();
    let mut entries = eh_frame.entries(&bases);
    let mut bad_fdes = 0usize;
    for _ in 0..MAX_FDES {
        match entries.next() {
            Ok(None) => return finish(out, bad_fdes, warnings),
            Ok(Some(CieOrFde::Cie(_))) => {}
            Ok(Some(CieOrFde::Fde(partial))) => match partial.parse(EhFrame::cie_from_offset) {
                Ok(fde) if fde.len() > 0 => {
                    if let Some(end) = fde.initial_address().checked_add(fde.len()) {
                        out.push((fde.initial_address(), end));
                    }
                }
                Ok(_) => {}
                Err(_) => bad_fdes += 1,
            },
            Err(e) => {
                warnings.push(format!(".eh_frame: stopped at a malformed entry ({e})"));
                return finish(out, bad_fdes, warnings);
            }
        }
    }
    warnings.push(format!(
        ".eh_frame: more than {MAX_FDES} entries; the rest were ignored"
    ));
    finish(out, bad_fdes, warnings)
}

fn finish(out: Vec<(u64, u64)>, bad: usize, warnings: &mut Vec<String>) -> Vec<(u64, u64)> {
    if bad > 0 {
        warnings.push(format!(".eh_frame: {bad} FDEs could not be parsed"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_are_the_serialised_ones() {
        for source in [
            Source::Symtab,
            Source::Dynsym,
            Source::Dwarf,
            Source::Gopclntab,
            Source::EhFrame,
            Source::Disasm,
        ] {
            assert_eq!(
                serde_json::to_value(source).expect("json"),
                serde_json::json!(source.as_str())
            );
        }
    }

    fn unnamed(start: u64, end: u64) -> Function {
        Function {
            aliases: Vec::new(),
            blake3: format!("{start:x}"),
            demangled: None,
            end: Addr(end),
            file: None,
            fragments: Vec::new(),
            line: None,
            source: Source::EhFrame,
            start: Addr(start),
            sym: format!("sub_{start:x}"),
        }
    }

    #[test]
    fn chained_pe_parts_become_fragments_of_their_root() {
        let functions = vec![
            unnamed(0x1000, 0x1040),
            unnamed(0x1040, 0x1080),
            unnamed(0x1800, 0x1820),
            unnamed(0x1900, 0x1910),
            unnamed(0x1a00, 0x1a10),
        ];
        // 0x1900 and 0x1800 continue 0x1000 (listed out of order); 0x1a00 continues a function
        // that is not there.
        let parts = [
            (0x1900, 0x1910, 0x1000),
            (0x1800, 0x1820, 0x1000),
            (0x1a00, 0x1a10, 0x1f00),
        ];
        let mut warnings = Vec::new();
        let grouped = group_chained_parts(functions, &parts, &mut warnings);
        let starts: Vec<u64> = grouped.iter().map(|f| f.start.0).collect();
        assert_eq!(starts, vec![0x1000, 0x1040, 0x1a00]);
        let fragments: Vec<(u64, u64, &str)> = grouped[0]
            .fragments
            .iter()
            .map(|g| (g.start.0, g.end.0, g.sym.as_str()))
            .collect();
        assert_eq!(
            fragments,
            vec![(0x1800, 0x1820, "sub_1800"), (0x1900, 0x1910, "sub_1900")]
        );
        assert_eq!(
            grouped[0].fragments[0].blake3, "1800",
            "the part's own hash"
        );
        assert!(grouped[1].fragments.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("1 chained entries"), "{warnings:?}");
    }

    #[test]
    fn cold_parts_name_their_parent() {
        assert_eq!(cold_parent("main.cold"), Some("main"));
        assert_eq!(cold_parent("f.part.0.cold.12"), Some("f.part.0"));
        assert_eq!(cold_parent("f.coldish"), None);
        assert_eq!(cold_parent(".cold"), None);
        assert_eq!(cold_parent("f.cold."), None);
    }

    #[test]
    fn demangles_rust_and_cpp_and_leaves_c_alone() {
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE").as_deref(),
            Some("core::fmt::write")
        );
        assert_eq!(
            demangle("_RNvCs1234_7mycrate3foo").as_deref(),
            Some("mycrate::foo")
        );
        assert_eq!(demangle("_Z3fooi").as_deref(), Some("foo(int)"));
        assert_eq!(demangle("inflateGetHeader"), None);
    }

    #[test]
    fn addresses_are_read_only_as_written() {
        for (text, value) in [
            ("0x0", 0),
            ("0x3be0", 0x3be0),
            ("0xffffffffffffffff", u64::MAX),
        ] {
            assert_eq!(text.parse::<Addr>(), Ok(Addr(value)), "{text}");
            assert_eq!(Addr(value).to_string(), text);
        }
        for text in [
            "0x+3be0",
            "0x-1",
            "0X10",
            "0x",
            "0x3BE0",
            "0x3bE0",
            "+0x10",
            " 0x10",
            "0x10 ",
            "0x 10",
            "0x10\n",
            "0x010",
            "0x00",
            "0x1ffffffffffffffff",
            "0x0000000000000000001",
            "10",
            "3be0",
            "0b101",
            "0x1_0",
            "",
        ] {
            let e = text.parse::<Addr>().expect_err(text);
            assert_eq!(e.found, text, "the refusal quotes the input");
        }
    }

    #[test]
    fn address_map_refuses_ranges_outside_the_file() {
        let map = AddressMap {
            ranges: vec![(0x1000, 0x100, 0x0)],
        };
        let data = vec![7u8; 0x100];
        assert_eq!(
            map.bytes(&data, 0x1010, 0x1020).map(<[u8]>::len),
            Some(0x10)
        );
        assert!(map.bytes(&data, 0x10f0, 0x1101).is_none());
        assert!(map.bytes(&data, 0x0fff, 0x1001).is_none());
        assert!(map.bytes(&data, 0x1020, 0x1010).is_none());
        // A segment that claims more bytes than the file has.
        assert!(map.bytes(&data[..0x10], 0x1000, 0x1020).is_none());
    }
}
