//! Names from ELF files through blazesym: `.symtab`/`.dynsym`, DWARF functions, inlined frames
//! and source lines, for the binary on disk and for files fetched from debuginfod.
//!
//! blazesym keeps each file parsed between calls (re-reading it when it changes on disk), so
//! warm lookups cost about a microsecond; demangling, several times that, is done here once per
//! distinct name ([`Demangler`]).
//!
//! What this module does not own: deciding which file may answer for a frame (the BuildID
//! checks in [`super`]), or turning file offsets into virtual addresses ([`super::elf`]).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{CodeInfo, Input, Sym, Symbolized};

use crate::RuntimeError;
use crate::frame::{Inlined, Symbol, SymbolSource};

/// Most distinct names [`Demangler`] remembers before starting over.
pub const MAX_CACHED_NAMES: usize = 1 << 20;

/// Demangles each distinct name once.
#[derive(Debug, Default)]
pub(crate) struct Demangler {
    cache: HashMap<Box<str>, Option<Box<str>>>,
}

impl Demangler {
    /// The demangled form of `name`, where it is mangled (Rust legacy or v0, Itanium C++) and
    /// demangles to something else.
    pub(crate) fn demangle(&mut self, name: &str) -> Option<String> {
        // Only these prefixes can start a mangled name; C names skip the hash lookup.
        let maybe_mangled = ["_Z", "_R", "__Z", "ZN"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        if !maybe_mangled {
            return None;
        }
        if let Some(known) = self.cache.get(name) {
            return known.as_deref().map(str::to_owned);
        }
        let demangled = stella_binary::functions::demangle(name).filter(|d| d != name);
        if self.cache.len() >= MAX_CACHED_NAMES {
            self.cache.clear();
        }
        self.cache
            .insert(name.into(), demangled.as_deref().map(Box::from));
        demangled
    }
}

/// For one file: the name chosen for each `(start, size)` that several function symbols share
/// (identical-code folding, `f.localalias` beside `f`).
type Aliases = HashMap<(u64, u64), Box<str>>;

/// blazesym's symboliser, set up for canonical frames.
pub(crate) struct ElfSymbols {
    blaze: blazesym::symbolize::Symbolizer,
    inspector: blazesym::inspect::Inspector,
    aliases: HashMap<PathBuf, Aliases>,
}

impl std::fmt::Debug for ElfSymbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfSymbols").finish_non_exhaustive()
    }
}

impl ElfSymbols {
    pub(crate) fn new() -> Self {
        let blaze = blazesym::symbolize::Symbolizer::builder()
            .enable_code_info(true)
            .enable_inlined_fns(true)
            // Names stay mangled (they must match FuncProofs and advisories exactly);
            // `Demangler` adds the demangled form once per name.
            .enable_demangling(false)
            .enable_auto_reload(true)
            .build();
        ElfSymbols {
            blaze,
            inspector: blazesym::inspect::Inspector::new(),
            aliases: HashMap::new(),
        }
    }

    /// Forgets what was learnt of `path` beyond blazesym's own cache (which notices changes by
    /// itself): to be called when the file changed on disk.
    pub(crate) fn forget(&mut self, path: &Path) {
        self.aliases.remove(path);
    }

    /// One answer per virtual address in `vaddrs` of the ELF file at `path`, labelled `source`.
    ///
    /// The function and the offset into it come from the symbol table (`.symtab`, else
    /// `.dynsym`), the names FuncProofs and advisories use (a clone stays `f.constprop.0`, not
    /// DWARF's `f`); where several symbols name the same range, the one a FuncProof makes
    /// primary is chosen ([`best_alias`]). With `dwarf`, a second lookup adds the inlined frames
    /// and source lines, and names the function from DWARF where no symbol covers the address.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when blazesym cannot read the file at all.
    pub(crate) fn resolve(
        &mut self,
        path: &Path,
        vaddrs: &[u64],
        source: SymbolSource,
        dwarf: bool,
        names: &mut Demangler,
    ) -> Result<Vec<Option<Symbol>>, RuntimeError> {
        let lookup = |debug_syms: bool| {
            let mut elf = Elf::new(path);
            elf.debug_syms = debug_syms;
            self.blaze
                .symbolize(&Source::Elf(elf), Input::VirtOffset(vaddrs))
                .map_err(|source| RuntimeError::Blazesym {
                    path: path.to_owned(),
                    source,
                })
        };
        let from_symbols = lookup(false)?;
        let from_dwarf = if dwarf { lookup(true)? } else { Vec::new() };
        if !self.aliases.contains_key(path) {
            let found = collect_aliases(&self.inspector, path);
            self.aliases.insert(path.to_owned(), found);
        }
        let aliases = self.aliases.get(path);
        Ok(from_symbols
            .iter()
            .enumerate()
            .map(|(i, by_symbol)| {
                let by_dwarf = from_dwarf.get(i).and_then(Symbolized::as_sym);
                // DWARF's inlined frames and lines are looked up by address and hold even where
                // its idea of the function's extent does not: blazesym sizes a function by its
                // first range, so the `.cold` part of `f` (a symbol of its own) falls outside.
                // Naming, though, needs an answer that covers the address.
                let Some(symbol) = by_symbol.as_sym().filter(|s| covers(s)) else {
                    let named = by_dwarf.filter(|s| covers(s))?;
                    return Some(to_symbol(named, None, by_dwarf, source, names));
                };
                let size = symbol.size.unwrap_or(0) as u64;
                let alias = aliases
                    .and_then(|a| a.get(&(symbol.addr, size)))
                    .map(|name| &**name);
                Some(to_symbol(symbol, alias, by_dwarf, source, names))
            })
            .collect())
    }
}

/// Whether the address lies inside the function blazesym names: a symbol without a size vouches
/// only for its first byte.
fn covers(sym: &Sym<'_>) -> bool {
    let inside = match sym.size {
        Some(size) => sym.offset < size,
        None => sym.offset == 0,
    };
    inside && !sym.name.is_empty()
}

/// The function symbols of the file at `path` that share a `(start, size)` with another, each
/// group reduced to its [`best_alias`]. Empty when the file cannot be listed.
fn collect_aliases(inspector: &blazesym::inspect::Inspector, path: &Path) -> Aliases {
    let mut elf = blazesym::inspect::source::Elf::new(path);
    elf.debug_syms = false;
    let mut by_range: HashMap<(u64, u64), Vec<String>> = HashMap::new();
    let listed = inspector.for_each(&blazesym::inspect::source::Source::Elf(elf), |info| {
        if info.sym_type == blazesym::SymType::Function && info.addr != 0 {
            let size = info.size.unwrap_or(0) as u64;
            by_range
                .entry((info.addr, size))
                .or_default()
                .push(info.name.to_string());
        }
        ControlFlow::Continue(())
    });
    if let Err(e) = listed {
        tracing::debug!("{}: symbols not listed: {e}", path.display());
        return Aliases::new();
    }
    by_range
        .into_iter()
        .filter_map(|(range, mut names)| {
            // `.symtab` and `.dynsym` both list an exported function.
            names.sort_unstable();
            names.dedup();
            if names.len() < 2 {
                return None;
            }
            Some((range, best_alias(names)?.into_boxed_str()))
        })
        .collect()
}

/// The name a FuncProof makes primary among symbols of one range (`stella-binary`'s
/// `functions` module): fewest leading underscores, then shortest, then first in byte order.
/// (A FuncProof prefers global symbols first; blazesym does not report binding, and the rule
/// without it agrees in the cases seen: `f` over `f.localalias`, `_a_18` over `_a_20`.)
fn best_alias(names: Vec<String>) -> Option<String> {
    let underscores = |name: &str| name.bytes().take_while(|&b| b == b'_').count();
    names
        .into_iter()
        .min_by(|a, b| (underscores(a), a.len(), a).cmp(&(underscores(b), b.len(), b)))
}

/// The canonical symbol named by `named` (or by `alias`, its preferred name), with inlined
/// frames and source lines from `dwarf`.
fn to_symbol(
    named: &Sym<'_>,
    alias: Option<&str>,
    dwarf: Option<&Sym<'_>>,
    source: SymbolSource,
    names: &mut Demangler,
) -> Symbol {
    let function = alias.map_or_else(|| named.name.to_string(), str::to_owned);
    let mut symbol = Symbol {
        demangled: names.demangle(&function),
        function,
        offset: named.offset as u64,
        source,
        inlined: Vec::new(),
        file: None,
        line: None,
    };
    let Some(sym) = dwarf else {
        return symbol;
    };
    // blazesym lists inlined functions outermost first and gives each frame the location
    // *inside* it: the outer function's is the call site of the first inlined one, the innermost
    // one's is the address itself. The model wants innermost first, each with its call site.
    let call_site = |i: usize| match i {
        0 => sym.code_info.as_deref(),
        _ => sym.inlined.get(i - 1).and_then(|f| f.code_info.as_ref()),
    };
    symbol.inlined = (0..sym.inlined.len())
        .rev()
        .filter_map(|i| {
            let f = sym.inlined.get(i)?;
            let site = call_site(i);
            Some(Inlined {
                function: f.name.to_string(),
                demangled: names.demangle(&f.name),
                file: site.map(file_of),
                line: site.and_then(|c| c.line),
            })
        })
        .collect();
    let here = match sym.inlined.last() {
        Some(innermost) => innermost.code_info.as_ref(),
        None => sym.code_info.as_deref(),
    };
    symbol.file = here.map(file_of);
    symbol.line = here.and_then(|c| c.line);
    symbol
}

fn file_of(code: &CodeInfo<'_>) -> String {
    code.to_path().display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_rust_and_cpp_once_and_leaves_c_alone() {
        let mut names = Demangler::default();
        assert_eq!(names.demangle("main"), None);
        assert_eq!(names.demangle("_Z"), None);
        assert_eq!(
            names.demangle("_ZN4demo3runEv").as_deref(),
            Some("demo::run()")
        );
        assert_eq!(
            names.demangle("_ZN4demo3runEv").as_deref(),
            Some("demo::run()")
        );
        assert_eq!(
            names.demangle("_ZN3std2io5stdio6_print17h0123456789abcdefE"),
            Some("std::io::stdio::_print".to_owned())
        );
        assert_eq!(names.cache.len(), 3, "C names are never cached");
    }

    #[test]
    fn the_alias_a_funcproof_prefers_is_chosen() {
        let best = |names: &[&str]| best_alias(names.iter().map(|n| (*n).to_owned()).collect());
        assert_eq!(
            best(&["PyImport_Import.localalias", "PyImport_Import"]).as_deref(),
            Some("PyImport_Import")
        );
        assert_eq!(
            best(&["_gather_20_rule", "_gather_18_rule"]).as_deref(),
            Some("_gather_18_rule")
        );
        assert_eq!(best(&["__memcpy_avx", "memcpy"]).as_deref(), Some("memcpy"));
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn a_file_blazesym_cannot_read_is_an_error() {
        let mut elf = ElfSymbols::new();
        let mut names = Demangler::default();
        let missing = Path::new("/nonexistent/stella/binary");
        assert!(
            elf.resolve(missing, &[0x1000], SymbolSource::File, true, &mut names)
                .is_err()
        );
    }
}
