//! Kernel symbols from `/proc/kallsyms`.
//!
//! Each line is `ADDRESS TYPE NAME [MODULE]` (hex address, one-letter `nm` type). Only text
//! symbols name frames (`t`/`T`, and weak `w`/`W`); a symbol ends where the next symbol of any
//! type starts, so the last function before a data symbol or a module boundary does not swallow
//! what follows, and the very last symbol has no known end (its addresses stay unknown). Where
//! several text symbols share an address, the first listed names it.
//!
//! Without privilege (`kptr_restrict`), the kernel prints every address as zero: such a table is
//! [unavailable](Kallsyms::is_available) and every kernel frame stays unknown rather than all
//! being attributed to one symbol.
//!
//! Why this and not blazesym's `Kernel` source: both give the same name and offset for an
//! address inside a text symbol (`tests/it/blazesym_agreement.rs` compares them on this machine's
//! live table), but blazesym keeps symbols of every type without an end, so it names addresses
//! inside data symbols and past the last symbol after the nearest symbol below: a guess this
//! crate never makes. It also drops the module a symbol belongs to. Speed is comparable
//! (BENCHMARKS.md, "Runtime readers against blazesym").
//!
//! What this module does not own: kernel modules' own files or `vmlinux` DWARF (not read), or
//! BPF program names (`[bpf]` frames stay unknown).

use std::io::Read as _;
use std::path::Path;

use crate::RuntimeError;

/// Default location of the table.
pub const DEFAULT_PATH: &str = "/proc/kallsyms";
/// Largest table read (a distribution kernel with modules prints about 20 MB).
pub const MAX_BYTES: u64 = 512 << 20;

/// One kernel text symbol and the range it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// First address.
    pub start: u64,
    /// One past the last address: the next symbol's start.
    pub end: u64,
    /// The symbol.
    pub name: String,
    /// The module it belongs to (`[ext4]` without brackets), `None` for the core kernel.
    pub module: Option<String>,
}

/// A parsed kallsyms table, text symbols sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kallsyms {
    symbols: Vec<KernelSymbol>,
    available: bool,
}

impl Kallsyms {
    /// Parses kallsyms text; malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        let mut text_symbols = Vec::new();
        let mut starts = Vec::new();
        let mut any_nonzero = false;
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            let (Some(address), Some(kind), Some(name)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(address) = u64::from_str_radix(address, 16) else {
                continue;
            };
            any_nonzero |= address != 0;
            starts.push(address);
            if matches!(kind, "t" | "T" | "w" | "W") {
                let module = fields
                    .next()
                    .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'))
                    .map(str::to_owned);
                text_symbols.push((address, name.to_owned(), module));
            }
        }
        if !any_nonzero {
            return Kallsyms::default();
        }
        starts.sort_unstable();
        starts.dedup();
        // Stable: among symbols at one address, the first listed stays first.
        text_symbols.sort_by_key(|s| s.0);
        text_symbols.dedup_by_key(|s| s.0);
        let symbols = text_symbols
            .into_iter()
            .filter_map(|(start, name, module)| {
                let next = starts.partition_point(|&s| s <= start);
                let end = *starts.get(next)?;
                Some(KernelSymbol {
                    start,
                    end,
                    name,
                    module,
                })
            })
            .collect();
        Kallsyms {
            symbols,
            available: true,
        }
    }

    /// Reads and parses the table at `path` (at most [`MAX_BYTES`]).
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when it cannot be read; [`RuntimeError::Parse`] when it is larger
    /// than [`MAX_BYTES`].
    pub fn load(path: &Path) -> Result<Self, RuntimeError> {
        let file = std::fs::File::open(path).map_err(|e| RuntimeError::io(path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RuntimeError::io(path, e))?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(RuntimeError::TooLarge {
                path: path.to_owned(),
                what: "a kernel symbol table",
                limit: MAX_BYTES,
            });
        }
        Ok(Self::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Whether the table has real addresses (false when `kptr_restrict` hid them, or it was
    /// empty).
    pub fn is_available(&self) -> bool {
        self.available
    }

    /// The text symbols, sorted by address.
    pub fn symbols(&self) -> &[KernelSymbol] {
        &self.symbols
    }

    /// The text symbol containing `address`, and how far into it `address` is.
    pub fn lookup(&self, address: u64) -> Option<(&KernelSymbol, u64)> {
        let after = self.symbols.partition_point(|s| s.start <= address);
        let symbol = self.symbols.get(after.checked_sub(1)?)?;
        (address < symbol.end).then(|| (symbol, address - symbol.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81001000 t __pfx_do_one_initcall
ffffffff81001010 T do_one_initcall
ffffffff81001200 W arch_weak_hook
ffffffff81001280 D some_data
ffffffff81002000 t helper
not a line
zzzz T bad_address
ffffffff81002100 r rodata_after_text
ffffffffc0a00000 t ext4_fill_super\t[ext4]
ffffffffc0a00400 T ext4_mount\t[ext4]
ffffffffc0a00800 d ext4_data\t[ext4]
ffffffffc0b00000 t last_symbol_has_no_end\t[xfs]
";

    fn name(k: &Kallsyms, address: u64) -> Option<(&str, u64)> {
        k.lookup(address).map(|(s, off)| (s.name.as_str(), off))
    }

    #[test]
    fn text_symbols_end_at_the_next_symbol_of_any_type() {
        let k = Kallsyms::parse(FIXTURE);
        assert!(k.is_available());
        assert_eq!(name(&k, 0xffff_ffff_80ff_ffff), None, "before the first");
        assert_eq!(name(&k, 0xffff_ffff_8100_0000), Some(("_stext", 0)));
        assert_eq!(
            name(&k, 0xffff_ffff_8100_0fff),
            Some(("_stext", 0xfff)),
            "first listed of two at one address"
        );
        assert_eq!(
            name(&k, 0xffff_ffff_8100_1008),
            Some(("__pfx_do_one_initcall", 8))
        );
        assert_eq!(
            name(&k, 0xffff_ffff_8100_1010),
            Some(("do_one_initcall", 0))
        );
        assert_eq!(
            name(&k, 0xffff_ffff_8100_127f),
            Some(("arch_weak_hook", 0x7f))
        );
        assert_eq!(name(&k, 0xffff_ffff_8100_1280), None, "data is not text");
        assert_eq!(name(&k, 0xffff_ffff_8100_1fff), None);
        assert_eq!(name(&k, 0xffff_ffff_8100_20ff), Some(("helper", 0xff)));
        assert_eq!(
            name(&k, 0xffff_ffff_8100_2100),
            None,
            "ends at the rodata symbol"
        );
        let (ext4, off) = k.lookup(0xffff_ffff_c0a0_0404).unwrap();
        assert_eq!(
            (ext4.name.as_str(), ext4.module.as_deref(), off),
            ("ext4_mount", Some("ext4"), 4)
        );
        assert_eq!(name(&k, 0xffff_ffff_c0a0_0800), None);
        assert_eq!(
            name(&k, 0xffff_ffff_c0b0_0000),
            None,
            "the last symbol has no known end"
        );
        assert_eq!(name(&k, u64::MAX), None);
        assert_eq!(k.symbols().len(), 7);
    }

    #[test]
    fn hidden_addresses_make_the_table_unavailable() {
        let hidden = "0000000000000000 T _stext\n0000000000000000 t helper\n";
        let k = Kallsyms::parse(hidden);
        assert!(!k.is_available());
        assert_eq!(k.lookup(0), None);
        assert!(!Kallsyms::parse("").is_available());
        assert!(!Kallsyms::parse("garbage\n\u{0}\u{ffff}\n").is_available());
    }

    #[test]
    fn a_missing_file_is_an_error() {
        assert!(Kallsyms::load(Path::new("/nonexistent/kallsyms")).is_err());
    }
}
