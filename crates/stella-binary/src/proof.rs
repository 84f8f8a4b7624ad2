//! The FuncProof document: building it, replaying it against a binary, and querying it.
//!
//! A Mach-O universal ("fat") file holds one binary per architecture, each with its own
//! identity (`LC_UUID`), sections and functions, at its own offset in the file. Its proof is one
//! document with one entry per slice in `slices` (see [`Slice`]), in file order: the slice's
//! architecture as Apple names it (`x86_64`, `arm64`, `arm64e`), its `offset` in the whole file,
//! and, as a thin binary's proof states them, its `buildId`, `identity`, `file` (size and
//! digests of the slice's bytes), `sections` and `functions`. Addresses are the slice's own
//! virtual addresses; the bytes a range stands for are found through the slice's segments,
//! counted from `offset`, so a replay of the whole file hashes exactly the bytes the proof
//! hashed. The top level describes the file as a whole: `file` is the whole file's digest,
//! `buildId` its fallback id (`buildIdSource: "fallback"`), `identity` says `format: "macho"`,
//! `arch: "universal"`, and `sections` and `functions` are empty; warnings of a slice are in
//! `meta.warnings`, prefixed `slice ARCH: `. No call graph is computed for a universal file
//! (traces are per binary, and the entry and sink globs are not stored). A thin binary's proof
//! has no `slices` member, so every proof written before stays byte for byte what it was.
//! [`FuncProof::verify`] replays every slice; [`FuncProof::query`] searches every slice and
//! says which one matched.

use std::collections::BTreeMap;

use object::{Object, ObjectSection, SectionKind};
use serde::{Deserialize, Serialize};
use stella_core::{BuildId, Digest};

use crate::BinaryError;
use crate::callgraph::{self, CallGraph};
use crate::functions::{self, Addr, Function, Inactive, blake3_hex};
use crate::identity::{self, Identity};

mod verify;

/// The `schema` value of every FuncProof this crate writes.
pub const SCHEMA: &str = "stella.funcproof/v1";

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// BLAKE3 of the file, hex (as `b3sum` prints it).
    pub blake3: String,
    /// SHA-256 of the file, written `sha256:<hex>`.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// One section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionDigest {
    /// Virtual address.
    pub addr: Addr,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 of the section's file bytes.
    pub blake3: String,
}

/// A stored answer to "is there a call path from this entry to this sink?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The entry function.
    pub entry: String,
    /// The sink function.
    pub sink: String,
    /// Functions from entry to sink.
    pub path: Vec<String>,
    /// Hash of the edge list.
    pub hash: String,
}

/// How the proof was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Compilers named in `.comment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler: Option<String>,
    /// Compiler flags (DWARF `DW_AT_producer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// The tool that made the proof.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// What could not be used, where the rest is still sound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A FuncProof (`stella.funcproof/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuncProof {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// GNU BuildID, or the fallback id (see `identity.buildIdSource`): lower-case hex, so a
    /// proof that spells it otherwise is refused when read.
    pub build_id: Option<BuildId>,
    /// Identity under every scheme the format has.
    pub identity: Identity,
    /// The whole file.
    pub file: FileDigest,
    /// Executable sections and read-only data (ELF `.rodata`, PE `.rdata`, Mach-O `__const`), by name.
    pub sections: BTreeMap<String, SectionDigest>,
    /// Every function, sorted by start address.
    pub functions: Vec<Function>,
    /// Code the file keeps that is not a function of the program (BOLT's remains, see
    /// [`crate::bolt`]), each range with its hash and role, sorted by start address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inactive: Vec<Inactive>,
    /// Entry → sink call paths.
    #[serde(default)]
    pub traces: Vec<Trace>,
    /// The direct call graph, when it was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callgraph: Option<CallGraph>,
    /// How the proof was made.
    pub meta: Meta,
    /// The slices of a Mach-O universal file, in file order (empty for any other binary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<Slice>,
}

/// One architecture's binary inside a Mach-O universal file (see the module docs).
///
/// Fields are declared in RFC 8785 key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slice {
    /// The architecture as Apple names it (`x86_64`, `arm64`, `arm64e`, …), one slice each.
    pub arch: String,
    /// The slice's fallback id (Mach-O has no GNU build id; its `LC_UUID` is in `identity`).
    pub build_id: Option<BuildId>,
    /// Size and digests of the slice's bytes.
    pub file: FileDigest,
    /// Every function of the slice, sorted by start address.
    pub functions: Vec<Function>,
    /// The slice's identity (`uuid` and `debugId` from its `LC_UUID`).
    pub identity: Identity,
    /// Where the slice starts in the whole file.
    pub offset: u64,
    /// The slice's executable sections and read-only data, by name.
    pub sections: BTreeMap<String, SectionDigest>,
}

/// Why a proof could not be written out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The destination failed.
    #[error("writing the proof: {0}")]
    Io(#[from] std::io::Error),
    /// A value has no exact JSON form.
    #[error(transparent)]
    Jcs(#[from] stella_core::jcs::JcsError),
}

/// What a [`Mismatch`] is about. Serialised (JSON output of `funcproof verify`) as the strings
/// the first versions wrote: `file`, `section`, `function`, `fragment`, `callgraph`, `trace`, and
/// the later `identity`, `file_size`, `name`, `origin`, `meta`, `slice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MismatchKind {
    /// `buildId` or a member of `identity` (format, arch, build-id source, debug id, code id,
    /// Mach-O uuid).
    Identity,
    /// `file.size`.
    FileSize,
    /// `file.sha256` or `file.blake3`.
    #[serde(rename = "file")]
    FileHash,
    /// A section's presence, address, size or hash.
    Section,
    /// A function's presence, range or hash.
    Function,
    /// A fragment's (`.cold` part's) presence, range or hash.
    Fragment,
    /// A function's or fragment's name, aliases or demangled name.
    Name,
    /// An inactive range's presence, range, hash or role.
    Inactive,
    /// Where a function came from: `source`, and the DWARF `file` and `line`.
    Origin,
    /// `meta.compiler`, `meta.flags` or `meta.warnings`.
    Meta,
    /// The stored call graph.
    Callgraph,
    /// A stored entry → sink trace.
    Trace,
    /// A slice of a universal file: its presence or offset.
    Slice,
}

impl MismatchKind {
    /// The name JSON output uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::Identity => "identity",
            MismatchKind::FileSize => "file_size",
            MismatchKind::FileHash => "file",
            MismatchKind::Section => "section",
            MismatchKind::Function => "function",
            MismatchKind::Fragment => "fragment",
            MismatchKind::Name => "name",
            MismatchKind::Inactive => "inactive",
            MismatchKind::Origin => "origin",
            MismatchKind::Meta => "meta",
            MismatchKind::Callgraph => "callgraph",
            MismatchKind::Trace => "trace",
            MismatchKind::Slice => "slice",
        }
    }
}

impl std::fmt::Display for MismatchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that no longer matches the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// What it is about.
    pub kind: MismatchKind,
    /// Its name: the function's or section's (as the proof has it, or as the binary has it
    /// when the proof leaves it out), `file`, or the identity member.
    pub name: String,
    /// Range, for functions, fragments and sections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<(Addr, Addr)>,
    /// Which of its members differs (`end`, `blake3`, `sym`, `aliases`, …), when it has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// What the proof says ([`ABSENT`] when it says nothing of a thing the binary has).
    pub expected: String,
    /// What the binary has ([`ABSENT`] when the proof's thing is not in it).
    pub actual: String,
    /// The slice of a universal file the mismatch is in (its `arch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
}

/// The value of [`Mismatch::expected`] or [`Mismatch::actual`] for a thing one side lacks.
pub const ABSENT: &str = "absent";

/// What is wrong at one place of a FuncProof document ([`BinaryError::ProofField`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofProblem {
    /// The member's type or form is not the schema's; `serde`'s description names what was
    /// expected (for an address, [`crate::functions::AddrError`]'s).
    #[error("{reason}")]
    Shape {
        /// What was found and what was expected.
        reason: String,
    },
    /// Another schema, or none.
    #[error(
        "{}, expected {SCHEMA:?}",
        match found { Some(f) => format!("schema is {f:?}"), None => "no schema string".to_owned() }
    )]
    Schema {
        /// The `schema` member, when it is a string.
        found: Option<String>,
    },
    /// A range that ends where or before it starts.
    #[error("the range [{start}, {end}) is empty or inverted")]
    EmptyRange {
        /// Its start.
        start: Addr,
        /// Its end.
        end: Addr,
    },
    /// A range not after the previous one: the list is sorted by start, then end, each range
    /// once. (One start can have two ends: in a relocatable object every section starts at 0.)
    #[error(
        "the range [{}, {}) does not come after the previous one, [{}, {}): the list is sorted \
         by start address, then end, each range once",
        range.0, range.1, previous.0, previous.1
    )]
    Unsorted {
        /// The previous entry's `[start, end)`.
        previous: (Addr, Addr),
        /// This entry's `[start, end)`.
        range: (Addr, Addr),
    },
    /// A name (or edge, or trace) not after the previous one in a sorted list.
    #[error("{name:?} is not after {previous:?}: the list is sorted and without repeats")]
    UnsortedNames {
        /// The previous entry.
        previous: String,
        /// This entry.
        name: String,
    },
}

/// `Ok` when every range is non-empty and each comes after the one before (by start, then end);
/// else the index of the first one that does not, and why.
fn check_ranges(ranges: impl Iterator<Item = (Addr, Addr)>) -> Result<(), (usize, ProofProblem)> {
    let mut previous: Option<(Addr, Addr)> = None;
    for (i, (start, end)) in ranges.enumerate() {
        if end <= start {
            return Err((i, ProofProblem::EmptyRange { start, end }));
        }
        if let Some(previous) = previous.filter(|&p| p >= (start, end)) {
            let range = (start, end);
            return Err((i, ProofProblem::Unsorted { previous, range }));
        }
        previous = Some((start, end));
    }
    Ok(())
}

/// `Ok` when `names` is sorted and unique, else the index of the first entry out of place.
fn check_sorted_names(names: &[String]) -> Result<(), (usize, ProofProblem)> {
    match names.windows(2).position(|w| w[0] >= w[1]) {
        None => Ok(()),
        Some(i) => Err((
            i + 1,
            ProofProblem::UnsortedNames {
                previous: names[i].clone(),
                name: names[i + 1].clone(),
            },
        )),
    }
}

/// A function a query matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryMatch {
    /// Primary name.
    pub sym: String,
    /// Demangled name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// Which name matched.
    pub matched: String,
    /// First byte.
    pub start: Addr,
    /// One past the last byte.
    pub end: Addr,
    /// BLAKE3 of the bytes.
    pub blake3: String,
    /// The slice of a universal file the function is in (its `arch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
}

fn parse(data: &[u8]) -> Result<object::File<'_>, BinaryError> {
    object::File::parse(data).map_err(|e| BinaryError::Format {
        reason: e.to_string(),
    })
}

fn file_digest(data: &[u8]) -> FileDigest {
    FileDigest {
        blake3: blake3_hex(data),
        sha256: Digest::sha256(data),
        size: data.len() as u64,
    }
}

/// The proof of one slice of a universal file, its warnings prefixed with its architecture.
fn prove_slice(
    slice: crate::macho::SliceBytes<'_>,
    demangle: bool,
    warnings: &mut Vec<String>,
    producers: &mut Vec<String>,
) -> Result<Slice, BinaryError> {
    let data = slice.data;
    let file = object::File::parse(data).map_err(|e| BinaryError::Format {
        reason: format!(
            "slice {} of the Mach-O universal binary, at {:#x}: {e}",
            slice.arch, slice.offset
        ),
    })?;
    let mut own = Vec::new();
    let sections = proved_sections(&file, data, &mut own);
    let (build_id, identity) = identity::identify(&file, data);
    let extracted = functions::extract(&file, data, demangle);
    warnings.extend(
        extracted
            .warnings
            .into_iter()
            .chain(own)
            .map(|w| format!("slice {}: {w}", slice.arch)),
    );
    producers.extend(extracted.producers);
    Ok(Slice {
        arch: slice.arch,
        build_id: Some(build_id),
        file: file_digest(data),
        functions: extracted.functions,
        identity,
        offset: slice.offset,
        sections,
    })
}

fn proved_sections(
    file: &object::File<'_>,
    data: &[u8],
    warnings: &mut Vec<String>,
) -> BTreeMap<String, SectionDigest> {
    let mut out = BTreeMap::new();
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        // Read-only data by its ELF, PE and Mach-O names.
        let wanted =
            section.kind() == SectionKind::Text || matches!(name, ".rodata" | ".rdata" | "__const");
        let Some((offset, size)) = section.file_range() else {
            continue;
        };
        if !wanted {
            continue;
        }
        let bytes = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(size)).ok())
            .and_then(|(from, to)| data.get(from..to));
        let Some(bytes) = bytes else {
            warnings.push(format!(
                "section {name} claims file bytes {offset:#x}+{size:#x}, past the end of the \
                 {}-byte file; not proven",
                data.len()
            ));
            continue;
        };
        let mut key = name.to_owned();
        let mut n = 1;
        while out.contains_key(&key) {
            n += 1;
            key = format!("{name}#{n}");
        }
        out.insert(
            key,
            SectionDigest {
                addr: Addr(section.address()),
                size,
                blake3: blake3_hex(bytes),
            },
        );
    }
    out
}

/// Distinct compiler identifications in `.comment` (NUL-separated strings).
fn compilers(file: &object::File<'_>) -> Option<String> {
    let data = file.section_by_name(".comment")?.uncompressed_data().ok()?;
    let mut seen: Vec<String> = data
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).trim().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    (!seen.is_empty()).then(|| seen.join("; "))
}

/// What to compute beyond identity, sections and functions.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Compute the direct call graph.
    pub callgraph: bool,
    /// Globs naming trace entry points (imply the call graph).
    pub entries: Vec<String>,
    /// Globs naming trace sinks (imply the call graph).
    pub sinks: Vec<String>,
    /// Store each mangled name's demangled form (on by default). Demangling C++ is most of the
    /// work on a large C++ library (150,000 names in `libLLVM`); [`FuncProof::query`] demangles
    /// on the fly when a proof was built without it.
    pub demangle: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            callgraph: false,
            entries: Vec::new(),
            sinks: Vec::new(),
            demangle: true,
        }
    }
}

fn globs(patterns: &[String]) -> Result<Vec<globset::GlobMatcher>, BinaryError> {
    patterns.iter().map(|p| glob(p)).collect()
}

/// A symbol glob as `--entry`, `--sink` and queries read it.
pub(crate) fn glob(pattern: &str) -> Result<globset::GlobMatcher, BinaryError> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|source| BinaryError::Pattern {
            pattern: pattern.to_owned(),
            source,
        })
}

impl FuncProof {
    /// Builds the proof of the binary `data` (no call graph).
    ///
    /// # Errors
    /// [`BinaryError::Format`] when `data` is not a readable ELF, PE or Mach-O file.
    pub fn build(data: &[u8]) -> Result<Self, BinaryError> {
        Self::build_with(data, &BuildOptions::default())
    }

    /// Builds the proof of the binary `data` with `options`.
    ///
    /// # Errors
    /// [`BinaryError::Format`] for an unreadable binary, [`BinaryError::Pattern`] for a bad glob.
    pub fn build_with(data: &[u8], options: &BuildOptions) -> Result<Self, BinaryError> {
        let (entries, sinks) = (globs(&options.entries)?, globs(&options.sinks)?);
        if let Some(slices) = crate::macho::slices(data)? {
            return Self::build_universal(data, slices, options);
        }
        let file = parse(data)?;
        // The whole-file and section digests read every byte once and share nothing with the
        // functions: one core hashes while the other extracts.
        let (((blake3, sha256), sections, section_warnings), (build_id, identity, mut extracted)) =
            rayon::join(
                || {
                    let mut warnings = Vec::new();
                    let sections = proved_sections(&file, data, &mut warnings);
                    let digests = (blake3_hex(data), Digest::sha256(data));
                    (digests, sections, warnings)
                },
                || {
                    let (build_id, identity) = identity::identify(&file, data);
                    let extracted = functions::extract(&file, data, options.demangle);
                    (build_id, identity, extracted)
                },
            );
        extracted.warnings.extend(section_warnings);
        let wants_graph = options.callgraph || !entries.is_empty() || !sinks.is_empty();
        let graph = wants_graph.then(|| callgraph::build(&file, data, &extracted.functions));
        let traces = match &graph {
            Some(g) if !entries.is_empty() && !sinks.is_empty() => {
                callgraph::traces(g, &entries, &sinks)
            }
            _ => Vec::new(),
        };
        Ok(FuncProof {
            schema: SCHEMA.to_owned(),
            build_id: Some(build_id),
            identity,
            file: FileDigest {
                blake3,
                sha256,
                size: data.len() as u64,
            },
            sections,
            functions: extracted.functions,
            inactive: extracted.inactive,
            traces,
            callgraph: graph,
            meta: Meta {
                compiler: compilers(&file),
                flags: (!extracted.producers.is_empty()).then(|| extracted.producers.join("; ")),
                tool: "stella".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                warnings: extracted.warnings,
            },
            slices: Vec::new(),
        })
    }

    /// The proof of a Mach-O universal file: one [`Slice`] per architecture (module docs).
    fn build_universal(
        data: &[u8],
        slices: Vec<crate::macho::SliceBytes<'_>>,
        options: &BuildOptions,
    ) -> Result<Self, BinaryError> {
        let mut warnings = Vec::new();
        let mut producers = Vec::new();
        let slices = slices
            .into_iter()
            .map(|s| prove_slice(s, options.demangle, &mut warnings, &mut producers))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FuncProof {
            schema: SCHEMA.to_owned(),
            build_id: Some(identity::fallback_id(data)),
            identity: Identity {
                format: "macho".to_owned(),
                arch: "universal".to_owned(),
                build_id_source: identity::BuildIdSource::Fallback,
                debug_id: None,
                code_id: None,
                uuid: None,
            },
            file: file_digest(data),
            sections: BTreeMap::new(),
            functions: Vec::new(),
            inactive: Vec::new(),
            traces: Vec::new(),
            callgraph: None,
            meta: Meta {
                compiler: None,
                flags: (!producers.is_empty()).then(|| producers.join("; ")),
                tool: "stella".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                warnings,
            },
            slices,
        })
    }

    /// How many functions the proof states: its own, and those of every slice.
    pub fn function_count(&self) -> usize {
        self.functions.len() + self.slices.iter().map(|s| s.functions.len()).sum::<usize>()
    }

    /// How many sections the proof states: its own, and those of every slice.
    pub fn section_count(&self) -> usize {
        self.sections.len() + self.slices.iter().map(|s| s.sections.len()).sum::<usize>()
    }

    /// Reads a proof from JSON, strictly: addresses as DESIGN.md writes them (`0x` and
    /// lower-case hex, see [`Addr`]'s `FromStr`), functions and fragments sorted by start then
    /// end with each range once, every range non-empty, aliases sorted, call-graph edges
    /// sorted and unique, traces sorted by entry and sink. Ranges may overlap: hand-written
    /// assembly has inner entry points with their own sizes, which a proof states as claimed
    /// (with a warning); [`Self::verify`] is what tells a claimed range from a forged one.
    ///
    /// # Errors
    /// [`BinaryError::ProofSyntax`] when the bytes are not JSON (naming the byte offset),
    /// [`BinaryError::ProofField`] naming the JSON pointer of the first member that breaks the
    /// format.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BinaryError> {
        let value =
            stella_core::jcs::parse(bytes).map_err(|source| BinaryError::ProofSyntax { source })?;
        let json = value.to_serde();
        // Another schema (or another kind of document) is named as such, not by the first
        // member it lacks.
        match json.get("schema").and_then(serde_json::Value::as_str) {
            Some(SCHEMA) => {}
            found => {
                return Err(BinaryError::ProofField {
                    pointer: "/schema".to_owned(),
                    problem: ProofProblem::Schema {
                        found: found.map(str::to_owned),
                    },
                });
            }
        }
        // Tracking the path of every member costs time on a 70 MB proof; it is only needed to
        // name the member once something is wrong.
        let proof: FuncProof = match serde_json::from_value(json) {
            Ok(proof) => proof,
            Err(plain) => {
                let located: Result<FuncProof, _> =
                    serde_path_to_error::deserialize(value.to_serde());
                return Err(match located {
                    Err(e) => BinaryError::ProofField {
                        pointer: stella_core::jcs::pointer_of(e.path()),
                        problem: ProofProblem::Shape {
                            reason: e.into_inner().to_string(),
                        },
                    },
                    Ok(_) => BinaryError::ProofField {
                        pointer: String::new(),
                        problem: ProofProblem::Shape {
                            reason: plain.to_string(),
                        },
                    },
                });
            }
        };
        proof.check_form()?;
        Ok(proof)
    }

    /// What the types alone do not say about a proof's form (see [`Self::from_json`]).
    fn check_form(&self) -> Result<(), BinaryError> {
        let at =
            |pointer: String, problem: ProofProblem| BinaryError::ProofField { pointer, problem };
        if self.schema != SCHEMA {
            return Err(at(
                "/schema".to_owned(),
                ProofProblem::Schema {
                    found: Some(self.schema.clone()),
                },
            ));
        }
        check_functions(&self.functions, "")?;
        let ranges = self.inactive.iter().map(|r| (r.start, r.end));
        check_ranges(ranges).map_err(|(i, problem)| at(format!("/inactive/{i}"), problem))?;
        for (k, slice) in self.slices.iter().enumerate() {
            check_functions(&slice.functions, &format!("/slices/{k}"))?;
        }
        // One slice per architecture, in file order.
        let names: Vec<String> = self
            .slices
            .iter()
            .map(|s| format!("{:020} {}", s.offset, s.arch))
            .collect();
        if let Err((k, _)) = check_sorted_names(&names) {
            return Err(at(
                format!("/slices/{k}"),
                ProofProblem::UnsortedNames {
                    previous: self.slices[k - 1].arch.clone(),
                    name: self.slices[k].arch.clone(),
                },
            ));
        }
        let mut arches: Vec<&str> = self.slices.iter().map(|s| s.arch.as_str()).collect();
        arches.sort_unstable();
        if let Some(w) = arches.windows(2).find(|w| w[0] == w[1]) {
            let k = self
                .slices
                .iter()
                .rposition(|s| s.arch == w[1])
                .unwrap_or(0);
            return Err(at(
                format!("/slices/{k}/arch"),
                ProofProblem::UnsortedNames {
                    previous: w[0].to_owned(),
                    name: w[1].to_owned(),
                },
            ));
        }
        if let Some(graph) = &self.callgraph {
            // `CallGraph::has_edge` searches the edges by bisection.
            if let Some(i) = graph.edges.windows(2).position(|w| w[0] >= w[1]) {
                let edge =
                    |e: &(std::sync::Arc<str>, std::sync::Arc<str>)| format!("{} -> {}", e.0, e.1);
                return Err(at(
                    format!("/callgraph/edges/{}", i + 1),
                    ProofProblem::UnsortedNames {
                        previous: edge(&graph.edges[i]),
                        name: edge(&graph.edges[i + 1]),
                    },
                ));
            }
        }
        fn key(t: &Trace) -> (&str, &str) {
            (&t.entry, &t.sink)
        }
        if let Some(i) = self.traces.windows(2).position(|w| key(&w[0]) > key(&w[1])) {
            let pair = |t: &Trace| format!("{} -> {}", t.entry, t.sink);
            return Err(at(
                format!("/traces/{}", i + 1),
                ProofProblem::UnsortedNames {
                    previous: pair(&self.traces[i]),
                    name: pair(&self.traces[i + 1]),
                },
            ));
        }
        Ok(())
    }

    /// The canonical (RFC 8785) JSON of the proof: same binary, same bytes.
    ///
    /// # Errors
    /// Only if a number exceeds what JSON can carry exactly (sizes beyond 2^53 bytes).
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, stella_core::jcs::JcsError> {
        let mut out = Vec::new();
        match self.write_canonical_json(&mut out) {
            Ok(()) => Ok(out),
            Err(WriteError::Jcs(e)) => Err(e),
            // Writing into memory does not fail, and these types always serialise.
            Err(WriteError::Io(e)) => Err(stella_core::jcs::JcsError::Unrepresentable {
                at: stella_core::jcs::Location::root(),
                what: format!("a proof that failed to serialise ({e})"),
            }),
        }
    }

    /// Writes [`Self::to_canonical_json`]'s bytes to `out` without building them in memory
    /// first: a proof of a 200 MB binary is 70 MB of JSON.
    ///
    /// The members are written in RFC 8785 order by hand; functions and the call graph (the
    /// bulk) go through `serde_json`, whose output for them is already canonical: their fields
    /// are declared in key order, they hold only strings, string arrays and `u32` lines, and
    /// `serde_json` escapes strings exactly as RFC 8785 asks (`\b \t \n \f \r \" \\`, other
    /// controls as lower-case `\u00xx`, everything else literal). The rest is small and goes
    /// through [`stella_core::jcs::to_canonical`]. Tests hold the two paths to the same bytes.
    ///
    /// # Errors
    /// [`WriteError::Io`] when `out` fails, [`WriteError::Jcs`] as [`Self::to_canonical_json`].
    pub fn write_canonical_json<W: std::io::Write>(&self, out: W) -> Result<(), WriteError> {
        use std::io::Write as _;
        use stella_core::jcs::to_canonical;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        out.write_all(b"{\"buildId\":")?;
        out.write_all(&to_canonical(&self.build_id)?)?;
        if let Some(graph) = &self.callgraph {
            out.write_all(b",\"callgraph\":")?;
            serde_json::to_writer(&mut out, graph).map_err(std::io::Error::from)?;
        }
        out.write_all(b",\"file\":")?;
        out.write_all(&to_canonical(&self.file)?)?;
        out.write_all(b",\"functions\":[")?;
        for (i, f) in self.functions.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut out, f).map_err(std::io::Error::from)?;
        }
        out.write_all(b"],\"identity\":")?;
        out.write_all(&to_canonical(&self.identity)?)?;
        if !self.inactive.is_empty() {
            out.write_all(b",\"inactive\":")?;
            serde_json::to_writer(&mut out, &self.inactive).map_err(std::io::Error::from)?;
        }
        out.write_all(b",\"meta\":")?;
        out.write_all(&to_canonical(&self.meta)?)?;
        out.write_all(b",\"schema\":")?;
        out.write_all(&to_canonical(&self.schema)?)?;
        out.write_all(b",\"sections\":")?;
        out.write_all(&to_canonical(&self.sections)?)?;
        if !self.slices.is_empty() {
            out.write_all(b",\"slices\":[")?;
            for (i, slice) in self.slices.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_slice(&mut out, slice)?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b",\"traces\":")?;
        out.write_all(&to_canonical(&self.traces)?)?;
        out.write_all(b"}")?;
        out.flush()?;
        Ok(())
    }

    /// How many functions (of the proof and of its slices) carry a name from a symbol table or DWARF (sources `symtab`,
    /// `dynsym`, `dwarf`); the rest are named after their address (`sub_<hex>`, from
    /// `.eh_frame` or disassembly). Zero means the binary was stripped of every name: a query
    /// by name then finds nothing whether the function is there or not.
    pub fn named_functions(&self) -> usize {
        std::iter::once(&self.functions)
            .chain(self.slices.iter().map(|s| &s.functions))
            .flatten()
            .filter(|f| f.source.is_named())
            .count()
    }

    /// Functions whose name, alias or demangled name matches `pattern`: a glob (`*`, `?`,
    /// `[...]`) or an exact name. A demangled name also matches without its generic arguments
    /// and parameter list (`foo::bar` matches `foo::bar<T>(int)`).
    ///
    /// # Errors
    /// [`BinaryError::Pattern`] for an invalid glob.
    pub fn query(&self, pattern: &str) -> Result<Vec<QueryMatch>, BinaryError> {
        let matcher = glob(pattern)?;
        let mut out = Vec::new();
        let own = self.functions.iter().map(|f| (None, f));
        let sliced = self
            .slices
            .iter()
            .flat_map(|s| s.functions.iter().map(move |f| (Some(&s.arch), f)));
        for (slice, f) in own.chain(sliced) {
            // A proof built without demangling is still queried by demangled name.
            let demangled = f.demangled.clone().or_else(|| functions::demangle(&f.sym));
            let demangled_base = demangled.as_deref().map(strip_signature);
            let candidates = std::iter::once(f.sym.as_str())
                .chain(f.aliases.iter().map(String::as_str))
                .chain(demangled.as_deref())
                .chain(demangled_base.as_deref());
            if let Some(matched) = candidates.into_iter().find(|n| matcher.is_match(n)) {
                out.push(QueryMatch {
                    sym: f.sym.clone(),
                    demangled: demangled.clone(),
                    matched: matched.to_owned(),
                    start: f.start,
                    end: f.end,
                    blake3: f.blake3.clone(),
                    slice: slice.cloned(),
                });
            }
        }
        Ok(out)
    }
}

/// `Ok` when functions are sorted by range with each range once, and each one's aliases and
/// fragments are sorted; else the error naming the first member (under `prefix`) that is not.
fn check_functions(functions: &[Function], prefix: &str) -> Result<(), BinaryError> {
    let at = |pointer: String, problem: ProofProblem| BinaryError::ProofField { pointer, problem };
    let ranges = functions.iter().map(|f| (f.start, f.end));
    check_ranges(ranges).map_err(|(i, problem)| at(format!("{prefix}/functions/{i}"), problem))?;
    for (i, f) in functions.iter().enumerate() {
        let here = format!("{prefix}/functions/{i}");
        check_sorted_names(&f.aliases)
            .map_err(|(j, problem)| at(format!("{here}/aliases/{j}"), problem))?;
        check_ranges(f.fragments.iter().map(|g| (g.start, g.end)))
            .map_err(|(j, problem)| at(format!("{here}/fragments/{j}"), problem))?;
    }
    Ok(())
}

/// One slice as RFC 8785 writes it (members in key order; functions through `serde_json`, as
/// [`FuncProof::write_canonical_json`] explains).
fn write_slice<W: std::io::Write>(out: &mut W, slice: &Slice) -> Result<(), WriteError> {
    use stella_core::jcs::to_canonical;
    out.write_all(b"{\"arch\":")?;
    out.write_all(&to_canonical(&slice.arch)?)?;
    out.write_all(b",\"buildId\":")?;
    out.write_all(&to_canonical(&slice.build_id)?)?;
    out.write_all(b",\"file\":")?;
    out.write_all(&to_canonical(&slice.file)?)?;
    out.write_all(b",\"functions\":[")?;
    for (i, f) in slice.functions.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, f).map_err(std::io::Error::from)?;
    }
    out.write_all(b"],\"identity\":")?;
    out.write_all(&to_canonical(&slice.identity)?)?;
    out.write_all(b",\"offset\":")?;
    out.write_all(&to_canonical(&slice.offset)?)?;
    out.write_all(b",\"sections\":")?;
    out.write_all(&to_canonical(&slice.sections)?)?;
    out.write_all(b"}")?;
    Ok(())
}

/// `unsigned ns::C<T>::f<U>(int) const` → `ns::C::f`: the path an advisory names, without
/// return type, template or generic arguments, parameters and qualifiers. A leading qualified
/// self type (`<T as Trait>::f`, Rust) is kept whole: it is part of the path.
fn strip_signature(demangled: &str) -> String {
    let (prefix, rest) = match demangled.strip_prefix('<') {
        Some(_) => match matching_angle(demangled) {
            Some(end) => demangled.split_at(end + 1),
            None => return demangled.to_owned(),
        },
        None => ("", demangled),
    };
    let mut path = String::with_capacity(rest.len());
    let mut depth = 0usize;
    for c in rest.chars() {
        let after_operator = path.ends_with("operator") || path.ends_with("operator<");
        match c {
            '<' if !after_operator || depth > 0 => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            // `operator()` is a name; any other `(` opens the parameters.
            '(' if !path.ends_with("operator") => break,
            _ => path.push(c),
        }
    }
    while let Some(at) = path.find("::::") {
        path.replace_range(at..at + 4, "::");
    }
    let path = path.trim_end_matches("::").trim_end();
    // C++ template functions demangle with their return type first.
    let head = path.find("operator").map_or(path, |i| &path[..i]);
    let path = match head.rfind(' ') {
        Some(space) if prefix.is_empty() => &path[space + 1..],
        _ => path,
    };
    format!("{prefix}{path}")
}

/// Index of the `>` closing the `<` at the start of `s`.
fn matching_angle(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_binaries_with_a_slice_past_the_end_are_refused_naming_it() {
        // fat_header (big-endian): magic, two fat_arch records (cputype, subtype, offset, size,
        // align) for x86-64 and arm64, pointing past the end.
        let mut fat = Vec::new();
        for word in [0xcafe_babe_u32, 2] {
            fat.extend_from_slice(&word.to_be_bytes());
        }
        for cpu in [0x0100_0007_u32, 0x0100_000c] {
            for word in [cpu, 3, 0x4000, 0x100, 14] {
                fat.extend_from_slice(&word.to_be_bytes());
            }
        }
        let e = FuncProof::build(&fat).expect_err("its slices are not in the file");
        assert_eq!(
            e.to_string(),
            "slice 0 (x86_64) of the Mach-O universal binary: bytes 0x4000+0x100 are not inside \
             the 48-byte file"
        );
    }

    #[test]
    fn signatures_are_stripped_to_the_path() {
        for (demangled, path) in [
            ("ns::f<int>(int) const", "ns::f"),
            ("foo(int)", "foo"),
            (
                "openssl::ssl::select_next_proto",
                "openssl::ssl::select_next_proto",
            ),
            (
                "unsigned long codec::checksum<unsigned long>(std::string const&) [clone .isra.0]",
                "codec::checksum",
            ),
            (
                "std::vector<int, std::allocator<int> >::push_back(int&&)",
                "std::vector::push_back",
            ),
            ("vuln::ssl::checksum::<u8>", "vuln::ssl::checksum"),
            (
                "<vuln::ssl::Context as vuln::ssl::Select>::select_next_proto",
                "<vuln::ssl::Context as vuln::ssl::Select>::select_next_proto",
            ),
            ("operator new(unsigned long)", "operator new"),
            (
                "ns::operator<<(std::ostream&, ns::T const&)",
                "ns::operator<<",
            ),
            ("ns::operator<(ns::T, ns::T)", "ns::operator<"),
            ("<unbalanced", "<unbalanced"),
        ] {
            assert_eq!(strip_signature(demangled), path, "{demangled}");
        }
    }
}
