//! The slim symbol table of one binary, and the image's symbol bundle ([`bundle`]).
//!
//! Runtime stack samples arrive as `(BuildID, file offset)` (DESIGN.md, "Decisions": the kernel
//! reports them so with `BPF_F_STACK_BUILD_ID`), and the hosts that sample carry neither debug
//! info nor FuncProofs. So `stella scan` ships, per image, a bundle holding one [`SymbolTable`]
//! per BuildID: the FuncProof's function names and ranges (without hashes, sources or call
//! graph), plus the loadable segments that turn a file offset into a virtual address. The same
//! document, stored as `<buildId>.json`, is what a local symbol cache keeps per BuildID.
//!
//! A table is one canonical (RFC 8785) JSON document, schema [`SCHEMA`]:
//!
//! ```text
//! { "schema": "stella.symbols/v1", "buildId": "<hex>" | "sha256-<hex>",
//!   "buildIdSource": "gnu-note" | "fallback" | "file-sha256",
//!   "fileSha256": "sha256:<hex>", "format": "elf", "arch": "x86_64",
//!   "segments": [{"offset": "0x1000", "vaddr": "0x401000", "filesz": 4096, "memsz": 4096,
//!                 "executable": true}],
//!   "functions": [{"start": "0x401126", "end": "0x401140", "sym": "_ZN4demo3runEv",
//!                  "demangled": "demo::run()"}] }
//! ```
//!
//! Addresses and file offsets are `0x` lower-case hex strings (as in FuncProofs), sizes numbers.
//! `functions` is sorted by start; `.cold` fragments are entries of their own (a sample in the
//! cold part of `f` names `f.cold`), aliases are not listed (the FuncProof keeps them).
//!
//! What this module does not own: finding function ranges ([`crate::functions`]), fetching
//! bundles from a registry (`stella-oci`), or symbolising whole stacks (`stella-runtime`: a
//! caller frame is a return address, to be decremented by one before
//! [`SymbolTable::lookup_file_offset`]).

pub mod bundle;

use std::cmp::Reverse;

use object::{Object, ObjectSegment};
use serde::{Deserialize, Serialize};
use stella_core::Digest;

use crate::BinaryError;
use crate::FuncProof;
use crate::functions::Addr;

/// The `schema` value of every symbol table.
pub const SCHEMA: &str = "stella.symbols/v1";

/// The `schema` value of a bundle's `index.json`.
pub const BUNDLE_SCHEMA: &str = "stella.symbols-bundle/v1";

/// Longest hex build id a table may carry (40 bytes; GNU ld writes 20 for SHA-1, 16 for MD5 or
/// UUID). It keeps `<buildId>.json` inside a plain ustar name field (100 bytes).
pub const MAX_BUILD_ID_HEX: usize = 80;

/// How many functions starting at or before an address [`SymbolTable::lookup_vaddr`] examines
/// for one that contains it. Functions that overlap (hand-written assembly with an inner entry
/// point that has its own size) are a handful deep; the bound keeps a hostile table from making
/// every lookup a scan of the whole table.
pub const MAX_ENCLOSING_LOOKBACK: usize = 64;

/// Largest size a segment may state: JSON numbers are exact only up to 2^53, and no file or
/// address space is that large.
const MAX_SEGMENT_SIZE: u64 = stella_core::jcs::MAX_EXACT_INTEGER;

/// One loadable part of the file: ELF `PT_LOAD`, a PE section (`PointerToRawData`, and
/// `ImageBase + VirtualAddress`), a Mach-O segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    /// File offset of its first byte.
    pub offset: Addr,
    /// Virtual address of its first byte.
    pub vaddr: Addr,
    /// Bytes in the file.
    pub filesz: u64,
    /// Bytes in memory.
    pub memsz: u64,
    /// Mapped executable.
    pub executable: bool,
}

impl Segment {
    /// Whether file offset `offset` lies in `[offset, offset + filesz)`.
    pub fn contains_offset(&self, offset: u64) -> bool {
        offset
            .checked_sub(self.offset.0)
            .is_some_and(|into| into < self.filesz)
    }
}

/// One function (or `.cold` fragment): `[start, end)` in virtual addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolEntry {
    /// First byte.
    pub start: Addr,
    /// One past the last byte.
    pub end: Addr,
    /// The symbol, as the binary spells it (mangled).
    pub sym: String,
    /// The demangled name, when the symbol is mangled and the proof carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
}

/// The slim symbol table of one binary (`stella.symbols/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolTable {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The FuncProof's `buildId`, or `sha256-<hex of the file>` when the proof has none.
    pub build_id: String,
    /// `gnu-note` or `fallback` (as the FuncProof's `identity.buildIdSource`), or `file-sha256`.
    pub build_id_source: String,
    /// `sha256:<hex>` of the whole file.
    pub file_sha256: String,
    /// `elf`, `pe` or `macho`.
    pub format: String,
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// Loadable segments with file bytes, sorted by file offset.
    pub segments: Vec<Segment>,
    /// Functions and fragments, sorted by start (then longest first).
    pub functions: Vec<SymbolEntry>,
}

/// Whether `id` is a build id a table may carry: 1 to [`MAX_BUILD_ID_HEX`] lower-case hex
/// digits, or `sha256-` and 64 of them.
pub fn is_build_id(id: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match id.strip_prefix("sha256-") {
        Some(rest) => rest.len() == 64 && hex(rest),
        None => (1..=MAX_BUILD_ID_HEX).contains(&id.len()) && hex(id),
    }
}

/// The entries a table made from `proof` lists, in table order: every function (primary name and
/// demangled form) and every `.cold` fragment as an entry of its own, sorted by start, longer
/// ranges first at an equal start, exact repeats removed. A verifier compares a bundle's table
/// against this list of the binary's proof.
pub fn entries_of(proof: &FuncProof) -> Vec<SymbolEntry> {
    let mut entries = Vec::with_capacity(proof.functions.len());
    for f in &proof.functions {
        entries.push(SymbolEntry {
            start: f.start,
            end: f.end,
            sym: f.sym.clone(),
            demangled: f.demangled.clone(),
        });
        entries.extend(f.fragments.iter().map(|frag| SymbolEntry {
            start: frag.start,
            end: frag.end,
            sym: frag.sym.clone(),
            demangled: None,
        }));
    }
    entries
        .sort_by(|a, b| (a.start, Reverse(a.end), &a.sym).cmp(&(b.start, Reverse(b.end), &b.sym)));
    entries.dedup();
    entries
}

fn invalid(reason: impl Into<String>) -> BinaryError {
    BinaryError::SymbolTable {
        reason: reason.into(),
    }
}

impl SymbolTable {
    /// The table of the binary `data`, from its FuncProof `proof`.
    ///
    /// # Errors
    /// [`BinaryError::FileMismatch`] when `data` is not the file the proof describes (its SHA-256
    /// differs from `proof.file.sha256`), [`BinaryError::Proof`] when the proof's build id is
    /// not hex or a function ends before it starts, [`BinaryError::Format`] when `data` cannot
    /// be parsed.
    pub fn from_proof(proof: &FuncProof, data: &[u8]) -> Result<Self, BinaryError> {
        let sha256 = Digest::sha256(data);
        if sha256 != proof.file.sha256 {
            return Err(BinaryError::FileMismatch {
                expected: proof.file.sha256.clone(),
                actual: sha256,
            });
        }
        // A FuncProof's build id is hex by type; a table also bounds its length (it names a
        // file in a bundle).
        let (build_id, build_id_source) = match &proof.build_id {
            Some(id) if is_build_id(id.as_str()) => (
                id.as_str().to_owned(),
                proof.identity.build_id_source.as_str(),
            ),
            Some(id) => {
                return Err(BinaryError::Proof {
                    reason: format!("buildId {id:?} is longer than {MAX_BUILD_ID_HEX} hex digits"),
                });
            }
            None => (format!("sha256-{}", sha256.hex()), "file-sha256"),
        };
        let file = object::File::parse(data).map_err(|e| BinaryError::Format {
            reason: e.to_string(),
        })?;
        let functions = entries_of(proof);
        if let Some(bad) = functions.iter().find(|f| f.start > f.end) {
            return Err(BinaryError::Proof {
                reason: format!(
                    "function {} ends at {} before its start {}",
                    bad.sym, bad.end, bad.start
                ),
            });
        }
        Ok(SymbolTable {
            schema: SCHEMA.to_owned(),
            build_id,
            build_id_source: build_id_source.to_owned(),
            file_sha256: sha256.to_string(),
            format: proof.identity.format.clone(),
            arch: proof.identity.arch.clone(),
            segments: loadable_segments(&file),
            functions,
        })
    }

    /// The virtual address of file offset `offset`, through the segment whose file bytes hold it
    /// (an executable one when segments overlap in the file). `None` outside every segment.
    pub fn file_offset_to_vaddr(&self, offset: u64) -> Option<u64> {
        let mut found: Option<&Segment> = None;
        for segment in self.segments.iter().filter(|s| s.contains_offset(offset)) {
            if found.is_none_or(|f| segment.executable && !f.executable) {
                found = Some(segment);
            }
        }
        let segment = found?;
        segment.vaddr.0.checked_add(offset - segment.offset.0)
    }

    /// The function containing virtual address `vaddr`, and how far into it `vaddr` is.
    ///
    /// Binary search for the last function starting at or before `vaddr`; where functions
    /// overlap, the one starting nearest before `vaddr` that contains it wins (an inner entry
    /// point over its enclosing routine), looking back at most [`MAX_ENCLOSING_LOOKBACK`]
    /// functions. `None` in padding, PLT stubs and other code no function covers.
    pub fn lookup_vaddr(&self, vaddr: u64) -> Option<(&SymbolEntry, u64)> {
        let after = self.functions.partition_point(|f| f.start.0 <= vaddr);
        self.functions[..after]
            .iter()
            .rev()
            .take(MAX_ENCLOSING_LOOKBACK)
            .find(|f| vaddr < f.end.0)
            .map(|f| (f, vaddr - f.start.0))
    }

    /// The function containing file offset `offset` and the offset into it:
    /// [`Self::file_offset_to_vaddr`], then [`Self::lookup_vaddr`].
    pub fn lookup_file_offset(&self, offset: u64) -> Option<(&SymbolEntry, u64)> {
        self.lookup_vaddr(self.file_offset_to_vaddr(offset)?)
    }

    /// Checks what a reader relies on: the schema, the build id's form, the file digest's form,
    /// segment bounds, and functions sorted by start with none ending before it starts.
    ///
    /// # Errors
    /// [`BinaryError::SymbolTable`] naming the first problem.
    pub fn validate(&self) -> Result<(), BinaryError> {
        if self.schema != SCHEMA {
            return Err(invalid(format!(
                "schema is {:?}, expected {SCHEMA:?}",
                self.schema
            )));
        }
        if !is_build_id(&self.build_id) {
            return Err(invalid(format!(
                "buildId {:?} is neither 1 to {MAX_BUILD_ID_HEX} lower-case hex digits nor \
                 sha256-<64 hex>",
                self.build_id
            )));
        }
        let sha256 = self.file_sha256.parse::<Digest>().ok();
        if sha256.is_none_or(|d| d.algorithm() != stella_core::digest::Algorithm::Sha256) {
            return Err(invalid(format!(
                "fileSha256 {:?} is not sha256:<64 hex>",
                self.file_sha256
            )));
        }
        for (i, s) in self.segments.iter().enumerate() {
            let fits = s.offset.0.checked_add(s.filesz).is_some()
                && s.vaddr.0.checked_add(s.memsz).is_some()
                && s.filesz <= MAX_SEGMENT_SIZE
                && s.memsz <= MAX_SEGMENT_SIZE;
            if !fits {
                return Err(invalid(format!(
                    "segments[{i}] runs past the end of the address space"
                )));
            }
        }
        for (i, f) in self.functions.iter().enumerate() {
            if f.start > f.end {
                return Err(invalid(format!(
                    "functions[{i}] ({}) ends at {} before its start {}",
                    f.sym, f.end, f.start
                )));
            }
        }
        if let Some(i) = self
            .functions
            .windows(2)
            .position(|w| w[0].start > w[1].start)
        {
            return Err(invalid(format!(
                "functions are not sorted by start: [{i}] starts at {}, [{}] at {}",
                self.functions[i].start,
                i + 1,
                self.functions[i + 1].start
            )));
        }
        Ok(())
    }

    /// The canonical (RFC 8785) JSON of the table: same table, same bytes.
    ///
    /// # Errors
    /// [`BinaryError::SymbolTable`] when the table is not valid ([`Self::validate`]).
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, BinaryError> {
        self.validate()?;
        stella_core::jcs::to_canonical(self).map_err(|e| invalid(e.to_string()))
    }

    /// Reads and validates a table from JSON (strict I-JSON, at most
    /// [`stella_core::jcs::MAX_DOCUMENT_BYTES`]).
    ///
    /// # Errors
    /// [`BinaryError::SymbolTable`] when the bytes are not JSON, not a table, or not a valid one.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BinaryError> {
        Self::from_json_limited(bytes, stella_core::jcs::MAX_DOCUMENT_BYTES)
    }

    pub(crate) fn from_json_limited(bytes: &[u8], max_bytes: usize) -> Result<Self, BinaryError> {
        let limits = stella_core::jcs::Limits {
            max_bytes,
            ..Default::default()
        };
        let value =
            stella_core::jcs::parse_with(bytes, limits).map_err(|e| invalid(e.to_string()))?;
        let table: SymbolTable =
            serde_json::from_value(value.to_serde()).map_err(|e| invalid(e.to_string()))?;
        table.validate()?;
        Ok(table)
    }
}

/// The loadable segments of the binary `data` (as a table carries them), without building its
/// FuncProof: what turns a FuncProof's virtual address into the file offset a uprobe needs.
pub fn segments_of(data: &[u8]) -> Result<Vec<Segment>, BinaryError> {
    let file = object::File::parse(data).map_err(|e| BinaryError::Format {
        reason: e.to_string(),
    })?;
    Ok(loadable_segments(&file))
}

/// The file offset of virtual address `vaddr`: through the segment whose file bytes hold it (an
/// executable one when several do). `None` when no segment's file bytes hold it.
pub fn vaddr_to_file_offset(segments: &[Segment], vaddr: u64) -> Option<u64> {
    let mut found: Option<&Segment> = None;
    for s in segments {
        let inside = vaddr
            .checked_sub(s.vaddr.0)
            .is_some_and(|into| into < s.filesz);
        if inside && found.is_none_or(|f| s.executable && !f.executable) {
            found = Some(s);
        }
    }
    let s = found?;
    (vaddr - s.vaddr.0).checked_add(s.offset.0)
}

/// Segments with bytes in the file, sorted by file offset; sizes JSON cannot carry exactly are
/// left out (no real file has them).
fn loadable_segments(file: &object::File<'_>) -> Vec<Segment> {
    let mut out: Vec<Segment> = file
        .segments()
        .filter_map(|segment| {
            let (offset, filesz) = segment.file_range();
            let memsz = segment.size();
            let usable = filesz > 0
                && filesz <= MAX_SEGMENT_SIZE
                && memsz <= MAX_SEGMENT_SIZE
                && offset.checked_add(filesz).is_some()
                && segment.address().checked_add(memsz).is_some();
            usable.then(|| Segment {
                offset: Addr(offset),
                vaddr: Addr(segment.address()),
                filesz,
                memsz,
                executable: segment.permissions().executable(),
            })
        })
        .collect();
    out.sort_by_key(|s| (s.offset, s.vaddr, s.filesz, s.memsz, s.executable));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_address_maps_to_the_file_offset_of_its_segment() {
        let segments = vec![
            Segment {
                offset: Addr(0),
                vaddr: Addr(0x400000),
                filesz: 0x1000,
                memsz: 0x1000,
                executable: false,
            },
            Segment {
                offset: Addr(0x1000),
                vaddr: Addr(0x401000),
                filesz: 0x200,
                memsz: 0x800,
                executable: true,
            },
        ];
        assert_eq!(vaddr_to_file_offset(&segments, 0x401126), Some(0x1126));
        assert_eq!(vaddr_to_file_offset(&segments, 0x400010), Some(0x10));
        // In memory only (.bss-like tail), or outside every segment: no file byte holds it.
        assert_eq!(vaddr_to_file_offset(&segments, 0x401300), None);
        assert_eq!(vaddr_to_file_offset(&segments, 0x10), None);
        assert!(segments_of(b"not a binary").is_err());
    }

    fn entry(start: u64, end: u64, sym: &str) -> SymbolEntry {
        SymbolEntry {
            start: Addr(start),
            end: Addr(end),
            sym: sym.to_owned(),
            demangled: None,
        }
    }

    fn segment(offset: u64, vaddr: u64, filesz: u64, executable: bool) -> Segment {
        Segment {
            offset: Addr(offset),
            vaddr: Addr(vaddr),
            filesz,
            memsz: filesz,
            executable,
        }
    }

    fn table(functions: Vec<SymbolEntry>) -> SymbolTable {
        SymbolTable {
            schema: SCHEMA.to_owned(),
            build_id: "0123456789abcdef0123456789abcdef01234567".to_owned(),
            build_id_source: "gnu-note".to_owned(),
            file_sha256: Digest::sha256(b"file").to_string(),
            format: "elf".to_owned(),
            arch: "x86_64".to_owned(),
            segments: vec![
                segment(0, 0x40_0000, 0x1000, false),
                segment(0x1000, 0x40_1000, 0x2000, true),
            ],
            functions,
        }
    }

    fn found(t: &SymbolTable, vaddr: u64) -> Option<(&str, u64)> {
        t.lookup_vaddr(vaddr).map(|(f, off)| (f.sym.as_str(), off))
    }

    #[test]
    fn lookup_finds_the_function_and_the_offset_into_it() {
        let t = table(vec![
            entry(0x40_1000, 0x40_1010, "a"),
            entry(0x40_1020, 0x40_1030, "b"),
        ]);
        assert_eq!(found(&t, 0x40_0fff), None, "before the first function");
        assert_eq!(found(&t, 0x40_1000), Some(("a", 0)));
        assert_eq!(found(&t, 0x40_100f), Some(("a", 0xf)));
        assert_eq!(found(&t, 0x40_1010), None, "end is exclusive; padding");
        assert_eq!(found(&t, 0x40_1025), Some(("b", 5)));
        assert_eq!(found(&t, 0x40_1030), None);
        assert_eq!(found(&t, u64::MAX), None);
        assert_eq!(found(&table(Vec::new()), 0x40_1000), None);
    }

    #[test]
    fn overlapping_functions_resolve_to_the_nearest_start() {
        // `outer` has an inner entry point `inner` running to the same end, and a nested helper.
        let t = table(vec![
            entry(0x40_1000, 0x40_1100, "outer"),
            entry(0x40_1040, 0x40_1050, "nested"),
            entry(0x40_1080, 0x40_1100, "inner"),
        ]);
        t.validate().unwrap();
        assert_eq!(found(&t, 0x40_1010), Some(("outer", 0x10)));
        assert_eq!(found(&t, 0x40_1044), Some(("nested", 4)));
        assert_eq!(
            found(&t, 0x40_1060),
            Some(("outer", 0x60)),
            "past nested, still outer"
        );
        assert_eq!(found(&t, 0x40_1090), Some(("inner", 0x10)));
        // Equal starts: the shorter range sorts last and is the one found.
        let mut same = vec![
            entry(0x40_1000, 0x40_1004, "short"),
            entry(0x40_1000, 0x40_1100, "long"),
        ];
        same.sort_by_key(|a| (a.start, Reverse(a.end)));
        let t = table(same);
        assert_eq!(found(&t, 0x40_1002), Some(("short", 2)));
        assert_eq!(found(&t, 0x40_1010), Some(("long", 0x10)));
    }

    #[test]
    fn lookback_is_bounded() {
        let mut functions = vec![entry(0x1000, 0x10_0000, "huge")];
        functions.extend((0..MAX_ENCLOSING_LOOKBACK as u64).map(|i| {
            let start = 0x2000 + i * 0x10;
            entry(start, start + 4, &format!("f{i}"))
        }));
        let t = table(functions);
        let last = 0x2000 + (MAX_ENCLOSING_LOOKBACK as u64 - 1) * 0x10;
        assert_eq!(found(&t, last + 8), None, "beyond the lookback window");
        assert_eq!(found(&t, last - 8), Some(("huge", last - 8 - 0x1000)));
    }

    #[test]
    fn file_offsets_map_through_the_segment_holding_them() {
        let mut t = table(vec![entry(0x40_1100, 0x40_1200, "f")]);
        assert_eq!(t.file_offset_to_vaddr(0), Some(0x40_0000));
        assert_eq!(t.file_offset_to_vaddr(0xfff), Some(0x40_0fff));
        assert_eq!(t.file_offset_to_vaddr(0x1100), Some(0x40_1100));
        assert_eq!(t.file_offset_to_vaddr(0x2fff), Some(0x40_2fff));
        assert_eq!(t.file_offset_to_vaddr(0x3000), None, "past every segment");
        assert_eq!(
            t.lookup_file_offset(0x1103)
                .map(|(f, o)| (f.sym.as_str(), o)),
            Some(("f", 3))
        );
        // Two segments sharing file bytes: the executable one answers.
        t.segments = vec![
            segment(0, 0x50_0000, 0x2000, false),
            segment(0x1000, 0x40_1000, 0x1000, true),
        ];
        assert_eq!(t.file_offset_to_vaddr(0x1100), Some(0x40_1100));
        assert_eq!(t.file_offset_to_vaddr(0x100), Some(0x50_0100));
        // A segment at the top of the address space does not overflow.
        t.segments = vec![segment(0, u64::MAX - 1, 0x10, true)];
        assert_eq!(t.file_offset_to_vaddr(1), Some(u64::MAX));
        assert_eq!(t.file_offset_to_vaddr(2), None);
    }

    #[test]
    fn build_ids_are_hex_or_a_file_digest() {
        assert!(is_build_id("ab"));
        assert!(is_build_id(&"a".repeat(MAX_BUILD_ID_HEX)));
        assert!(is_build_id(&format!("sha256-{}", "0".repeat(64))));
        for bad in [
            "",
            "AB",
            "xyz",
            "../ab",
            "ab.json",
            "sha256-",
            "sha256-00",
            "sha512-00",
        ] {
            assert!(!is_build_id(bad), "{bad:?}");
        }
        assert!(!is_build_id(&"a".repeat(MAX_BUILD_ID_HEX + 1)));
    }

    #[test]
    fn json_round_trips_and_invalid_tables_are_refused() {
        let t = table(vec![SymbolEntry {
            demangled: Some("demo::run()".to_owned()),
            ..entry(0x40_1000, 0x40_1010, "_ZN4demo3runEv")
        }]);
        let json = t.to_canonical_json().unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.starts_with(r#"{"arch":"x86_64","buildId":"#), "{text}");
        assert!(text.contains(r#"{"executable":true,"filesz":8192,"memsz":8192,"offset":"0x1000","vaddr":"0x401000"}"#), "{text}");
        assert!(text.contains(r#"{"demangled":"demo::run()","end":"0x401010","start":"0x401000","sym":"_ZN4demo3runEv"}"#), "{text}");
        assert_eq!(SymbolTable::from_json(&json).unwrap(), t);

        let refused = |t: SymbolTable, what: &str| {
            let err = t.validate().unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
            // The same problem is caught when reading.
            let json = stella_core::jcs::to_canonical(&t).unwrap();
            assert!(SymbolTable::from_json(&json).is_err());
        };
        refused(
            SymbolTable {
                schema: "stella.symbols/v0".into(),
                ..t.clone()
            },
            "schema",
        );
        refused(
            SymbolTable {
                build_id: "../etc".into(),
                ..t.clone()
            },
            "buildId",
        );
        refused(
            SymbolTable {
                file_sha256: "sha256:00".into(),
                ..t.clone()
            },
            "fileSha256",
        );
        refused(
            table(vec![entry(0x20, 0x10, "inverted")]),
            "before its start",
        );
        refused(
            table(vec![entry(0x20, 0x30, "b"), entry(0x10, 0x18, "a")]),
            "not sorted",
        );
        let mut huge = t.clone();
        huge.segments = vec![segment(u64::MAX, 0, 2, false)];
        refused(huge, "segments[0]");
        assert!(SymbolTable::from_json(b"{}").is_err());
        assert!(SymbolTable::from_json(b"\xff").is_err());
        let err = SymbolTable::from_json(br#"{"schema":"stella.symbols/v1","schema":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("uplicate"), "{err}");
    }
}
