//! Names for canonical frames: a [`Location`] becomes a [`Symbol`], or stays unknown.
//!
//! A [`Symbolizer`] never guesses. An address outside every function range a source knows is
//! unknown to that source; a symbol without a size vouches only for its first byte; a file
//! whose GNU BuildID differs from the frame's is never read for that frame. An unknown frame is
//! `None`, kept and counted ([`Stats::unknown`]), never dropped.
//!
//! For a `(BuildID, file offset)` frame the sources are asked in this order, the first answer
//! winning:
//!
//! 1. **symbol bundles** ([`Symbolizer::add_bundle_bytes`], [`Symbolizer::add_table`]): the
//!    image's [`SymbolTable`]s, shipped by `stella scan` ([`SymbolSource::Bundle`]);
//! 2. **the local cache** ([`cache`]): `<buildId>.json` tables ([`SymbolSource::Cache`]), then
//!    `<buildId>.debug` / `<buildId>.elf` files fetched earlier from debuginfod
//!    ([`SymbolSource::Debuginfod`]);
//! 3. **the binary on disk** at the frame's path, when its BuildID is the frame's (or the frame
//!    has none): `.symtab`/`.dynsym` and, where present, DWARF for inlined frames and source
//!    lines ([`SymbolSource::File`]);
//! 4. **debuginfod** ([`debuginfod`]): the debuginfo (else the executable) of the BuildID,
//!    downloaded into the cache and read from there ([`SymbolSource::Debuginfod`]).
//!
//! One refinement of that order: a file on disk *without* DWARF (a distribution's stripped
//! binary) answers only after debuginfod was asked, because the debuginfo adds the inlined
//! frames that advisories' paths need (DESIGN.md, "Evidence semantics"); with no debuginfod
//! configured, or none having the file, the disk file's symbol tables answer as in step 3.
//!
//! A separate debuginfo file has no code bytes, and `objcopy --only-keep-debug` rewrites its
//! program headers, so a file offset is turned into an address with the *original* binary's
//! `PT_LOAD` segments (`vaddr = offset − p_offset + p_vaddr`): those of the matching file on
//! disk, of the bundle's or cache's table, of a cached executable, of the debug file itself when
//! they still describe code, and failing all of these, of the executable fetched for the
//! purpose.
//!
//! Kernel frames are named from `/proc/kallsyms` ([`kallsyms`]), JIT frames from
//! `/tmp/perf-PID.map` ([`perfmap`]); both paths can be changed ([`Config`]). Frames
//! whose BuildID is that of the vDSO this host maps are named from its image ([`crate::vdso`],
//! [`SymbolSource::Vdso`]), after the bundles and the cache.
//!
//! Names are kept as the binary spells them (mangled), with the demangled form beside them,
//! computed once per distinct name.
//!
//! What this module does not own: producing locations (the sampler and `procmaps`: caller
//! frames arrive already decremented by one), building symbol tables and bundles
//! (`stella-binary`), or output formats (`profile`, `collapsed`).

pub mod cache;
pub mod debuginfod;
pub mod elf;
mod file;
pub mod kallsyms;
pub mod perfmap;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stella_binary::SymbolTable;
use stella_binary::symbols::{bundle, is_build_id};

pub use cache::{CachedElf, SymbolCache};
pub use debuginfod::DebuginfodClient;
pub use elf::{ElfLayout, LoadSegment};
pub use kallsyms::Kallsyms;
pub use perfmap::PerfMap;

use crate::RuntimeError;
use crate::frame::{Frame, Location, Symbol, SymbolSource};
use file::{Demangler, ElfSymbols};

/// Where a [`Symbolizer`] looks for symbols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The local symbol cache; required when debuginfod servers are given (downloads land
    /// there).
    pub cache_dir: Option<PathBuf>,
    /// debuginfod servers, asked in order (`--debuginfod URL`, or `DEBUGINFOD_URLS` through
    /// [`Config::from_env`]).
    pub debuginfod_urls: Vec<String>,
    /// Timeout for connecting to a server and for each read from it.
    pub debuginfod_timeout: Duration,
    /// Largest file downloaded.
    pub debuginfod_max_bytes: u64,
    /// The kernel symbol table.
    pub kallsyms: PathBuf,
    /// The directory holding JIT perf maps (`perf-PID.map`).
    pub perf_map_dir: PathBuf,
}

impl Default for Config {
    /// No cache, no debuginfod, `/proc/kallsyms`, perf maps in `/tmp`.
    fn default() -> Self {
        Config {
            cache_dir: None,
            debuginfod_urls: Vec::new(),
            debuginfod_timeout: debuginfod::DEFAULT_TIMEOUT,
            debuginfod_max_bytes: debuginfod::DEFAULT_MAX_BYTES,
            kallsyms: PathBuf::from(kallsyms::DEFAULT_PATH),
            perf_map_dir: PathBuf::from("/tmp"),
        }
    }
}

impl Config {
    /// The defaults, with debuginfod servers from `DEBUGINFOD_URLS`.
    pub fn from_env() -> Self {
        Config {
            debuginfod_urls: debuginfod::urls_from_env(),
            ..Config::default()
        }
    }
}

/// How many frames each source named, and how many stayed unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Named by a symbol bundle.
    pub bundle: u64,
    /// Named by a table in the local cache.
    pub cache: u64,
    /// Named by the binary on disk.
    pub file: u64,
    /// Named by a file from debuginfod (fetched now or earlier).
    pub debuginfod: u64,
    /// Named by `/proc/kallsyms`.
    pub kallsyms: u64,
    /// Named by a JIT perf map.
    pub perf_map: u64,
    /// Named from the host's vDSO image.
    #[serde(default)]
    pub vdso: u64,
    /// Left unknown.
    pub unknown: u64,
    /// Files downloaded from debuginfod.
    pub downloads: u64,
}

impl Stats {
    /// Frames named, from any source.
    pub fn resolved(&self) -> u64 {
        self.bundle
            + self.cache
            + self.file
            + self.debuginfod
            + self.kallsyms
            + self.perf_map
            + self.vdso
    }

    /// Frames seen: named or unknown.
    pub fn frames(&self) -> u64 {
        self.resolved() + self.unknown
    }

    fn count(&mut self, symbol: Option<&Symbol>) {
        let counter = match symbol.map(|s| s.source) {
            None => &mut self.unknown,
            Some(SymbolSource::Bundle) => &mut self.bundle,
            Some(SymbolSource::Cache) => &mut self.cache,
            Some(SymbolSource::File) => &mut self.file,
            Some(SymbolSource::Debuginfod) => &mut self.debuginfod,
            Some(SymbolSource::Kallsyms) => &mut self.kallsyms,
            Some(SymbolSource::PerfMap) => &mut self.perf_map,
            Some(SymbolSource::Vdso) => &mut self.vdso,
            // Never produced here: imported frames arrive already named.
            Some(SymbolSource::Imported) => return,
        };
        *counter += 1;
    }
}

/// Identifies one version of a file on disk: a replaced or rewritten file is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// What is known of one path on disk.
#[derive(Debug)]
struct DiskFile {
    stamp: FileStamp,
    /// `None` when the file is not readable ELF.
    layout: Option<Arc<ElfLayout>>,
    /// For a file without a GNU BuildID: Stella's fallback id, computed on first need.
    fallback_id: Option<Option<String>>,
}

/// An ELF file able to answer for a BuildID, and how its addresses are reached.
#[derive(Debug, Clone)]
struct ElfTarget {
    path: PathBuf,
    layout: Arc<ElfLayout>,
}

/// The debuginfod files of one BuildID found in the cache (checked against the BuildID).
#[derive(Debug, Clone, Default)]
struct CachedFiles {
    debuginfo: Option<ElfTarget>,
    executable: Option<ElfTarget>,
}

/// The outcome of resolving the frames of one file.
enum GroupOutcome {
    Resolved(Vec<Option<Symbol>>),
    /// debuginfod should be asked first; `loads_known` says whether the original binary's
    /// segments are already at hand (else the executable is fetched with the debuginfo).
    NeedsFetch {
        build_id: String,
        loads_known: bool,
    },
}

/// Turns [`Location`]s into [`Symbol`]s (see the module documentation for the sources).
///
/// Not `Send`: blazesym's parsed files live inside. Downloads use a blocking HTTP client: call
/// from a plain thread (or `spawn_blocking`), not from async code.
pub struct Symbolizer {
    tables: HashMap<String, SymbolTable>,
    cache: Option<SymbolCache>,
    cached_tables: HashMap<String, Option<SymbolTable>>,
    cached_files: HashMap<String, CachedFiles>,
    disk: HashMap<PathBuf, DiskFile>,
    elf: ElfSymbols,
    names: Demangler,
    debuginfod: Option<DebuginfodClient>,
    attempted: HashSet<String>,
    kallsyms_path: PathBuf,
    kallsyms: Option<Kallsyms>,
    perf_maps: perfmap::PerfMaps,
    /// The host vDSO's table, built on first need (`None` inside: not readable here).
    vdso: Option<Option<SymbolTable>>,
    stats: Stats,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("tables", &self.tables.len())
            .field("cache", &self.cache)
            .field("debuginfod", &self.debuginfod)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Symbolizer {
    /// A symboliser over the sources `config` names.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when debuginfod servers are given without a cache directory or
    /// one is not an HTTP URL; [`RuntimeError::Io`] when the cache directory cannot be created.
    pub fn new(config: Config) -> Result<Self, RuntimeError> {
        let cache = config.cache_dir.map(SymbolCache::open).transpose()?;
        let debuginfod = if config.debuginfod_urls.is_empty() {
            None
        } else {
            if cache.is_none() {
                return Err(RuntimeError::NoSymbolCache);
            }
            Some(DebuginfodClient::new(
                &config.debuginfod_urls,
                config.debuginfod_timeout,
                config.debuginfod_max_bytes,
            )?)
        };
        Ok(Symbolizer {
            tables: HashMap::new(),
            cache,
            cached_tables: HashMap::new(),
            cached_files: HashMap::new(),
            disk: HashMap::new(),
            elf: ElfSymbols::new(),
            names: Demangler::default(),
            debuginfod,
            attempted: HashSet::new(),
            kallsyms_path: config.kallsyms,
            kallsyms: None,
            perf_maps: perfmap::PerfMaps::new(config.perf_map_dir),
            vdso: None,
            stats: Stats::default(),
        })
    }

    /// Adds one binary's symbol table. A table for a BuildID already held is ignored (the first
    /// added wins).
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when the table is not valid.
    pub fn add_table(&mut self, table: SymbolTable) -> Result<(), RuntimeError> {
        table
            .validate()
            .map_err(|e| RuntimeError::binary("symbol table", e))?;
        self.tables.entry(table.build_id.clone()).or_insert(table);
        Ok(())
    }

    /// Adds every table of a symbol bundle (`application/vnd.stellaops.symbols+tar`); returns
    /// how many it held.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when the bundle is refused (see
    /// [`stella_binary::symbols::bundle::read`]).
    pub fn add_bundle_bytes(&mut self, bytes: &[u8]) -> Result<usize, RuntimeError> {
        let tables = bundle::read(bytes, &bundle::Limits::default())
            .map_err(|e| RuntimeError::binary("symbol bundle", e))?;
        let count = tables.len();
        for table in tables {
            self.add_table(table)?;
        }
        Ok(count)
    }

    /// Adds every table of the symbol bundle in the file at `path`.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when it cannot be read, [`RuntimeError::Symbols`] when it is larger
    /// than a bundle may be or is refused.
    pub fn add_bundle_file(&mut self, path: &Path) -> Result<usize, RuntimeError> {
        use std::io::Read as _;
        let max = bundle::DEFAULT_MAX_BYTES;
        let file = std::fs::File::open(path).map_err(|e| RuntimeError::io(path, e))?;
        let mut bytes = Vec::new();
        file.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RuntimeError::io(path, e))?;
        if bytes.len() as u64 > max {
            return Err(RuntimeError::TooLarge {
                path: path.to_owned(),
                what: "a symbol bundle",
                limit: max,
            });
        }
        let tables = bundle::read(&bytes, &bundle::Limits::default())
            .map_err(|e| RuntimeError::binary(path.display(), e))?;
        let count = tables.len();
        for table in tables {
            self.add_table(table)?;
        }
        Ok(count)
    }

    /// The local symbol cache, when one is configured.
    pub fn cache(&self) -> Option<&SymbolCache> {
        self.cache.as_ref()
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The symbol at `location`, or `None` when no source knows it. Counted in [`Self::stats`].
    pub fn symbolize(&mut self, location: &Location) -> Option<Symbol> {
        let symbol = match location {
            Location::File {
                build_id,
                path,
                file_offset,
            } => {
                let build_id = build_id.as_deref().map(str::to_ascii_lowercase);
                let offsets = [*file_offset];
                self.resolve_with_fetch(build_id.as_deref(), path.as_deref(), &offsets)
                    .pop()
                    .flatten()
            }
            Location::Kernel { address } => self.kernel_symbol(*address),
            Location::Anonymous { pid, address } => self.jit_symbol(*pid, *address),
            // Named by another tool's output without an address: nothing here can add to it.
            Location::Named { .. } => None,
        };
        self.stats.count(symbol.as_ref());
        symbol
    }

    /// Names every frame of `frames` that has no symbol yet, in place; frames already named are
    /// left alone and not counted.
    ///
    /// Frames are grouped by file (each distinct offset resolved once), every local source is
    /// asked first, and the BuildIDs that still need debuginfod are then fetched in parallel.
    pub fn symbolize_frames(&mut self, frames: &mut [Frame]) {
        type Key = (Option<String>, Option<String>);
        let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        for (i, frame) in frames.iter_mut().enumerate() {
            if frame.symbol.is_some() {
                continue;
            }
            match &frame.location {
                Location::File { build_id, path, .. } => {
                    let key = (
                        build_id.as_deref().map(str::to_ascii_lowercase),
                        path.clone(),
                    );
                    groups.entry(key).or_default().push(i);
                }
                other => {
                    let other = other.clone();
                    frame.symbol = self.symbolize(&other);
                }
            }
        }

        let offsets_of = |indices: &[usize], frames: &[Frame]| {
            let mut offsets: Vec<u64> = indices
                .iter()
                .filter_map(|&i| match frames[i].location {
                    Location::File { file_offset, .. } => Some(file_offset),
                    _ => None,
                })
                .collect();
            offsets.sort_unstable();
            offsets.dedup();
            offsets
        };

        let mut deferred = Vec::new();
        let mut fetches: BTreeMap<String, bool> = BTreeMap::new();
        for (key, indices) in &groups {
            let offsets = offsets_of(indices, frames);
            match self.resolve_group(key.0.as_deref(), key.1.as_deref(), &offsets, false) {
                GroupOutcome::Resolved(symbols) => {
                    self.assign(frames, indices, &offsets, &symbols);
                }
                GroupOutcome::NeedsFetch {
                    build_id,
                    loads_known,
                } => {
                    *fetches.entry(build_id).or_default() |= loads_known;
                    deferred.push((key, indices));
                }
            }
        }
        if deferred.is_empty() {
            return;
        }
        self.fetch_all(fetches.into_iter().collect());
        for ((build_id, path), indices) in deferred {
            let offsets = offsets_of(indices, frames);
            let symbols = self.resolve_with_fetch(build_id.as_deref(), path.as_deref(), &offsets);
            self.assign(frames, indices, &offsets, &symbols);
        }
    }

    fn assign(
        &mut self,
        frames: &mut [Frame],
        indices: &[usize],
        offsets: &[u64],
        symbols: &[Option<Symbol>],
    ) {
        for &i in indices {
            let Location::File { file_offset, .. } = frames[i].location else {
                continue;
            };
            let symbol = offsets
                .binary_search(&file_offset)
                .ok()
                .and_then(|at| symbols.get(at).cloned().flatten());
            self.stats.count(symbol.as_ref());
            frames[i].symbol = symbol;
        }
    }

    /// Resolves the frames of one file, fetching from debuginfod on the way when needed.
    fn resolve_with_fetch(
        &mut self,
        build_id: Option<&str>,
        path: Option<&str>,
        offsets: &[u64],
    ) -> Vec<Option<Symbol>> {
        match self.resolve_group(build_id, path, offsets, false) {
            GroupOutcome::Resolved(symbols) => symbols,
            GroupOutcome::NeedsFetch {
                build_id: id,
                loads_known,
            } => {
                self.fetch_all(vec![(id, loads_known)]);
                match self.resolve_group(build_id, path, offsets, true) {
                    GroupOutcome::Resolved(symbols) => symbols,
                    GroupOutcome::NeedsFetch { .. } => vec![None; offsets.len()],
                }
            }
        }
    }

    /// Runs the sources over `offsets` of the file `(build_id, path)`. Unless `fetched`, stops
    /// before a disk file without DWARF when debuginfod may still be asked.
    fn resolve_group(
        &mut self,
        build_id: Option<&str>,
        path: Option<&str>,
        offsets: &[u64],
        fetched: bool,
    ) -> GroupOutcome {
        let mut out: Vec<Option<Symbol>> = vec![None; offsets.len()];
        let pending = |out: &[Option<Symbol>]| out.iter().any(Option::is_none);
        let valid_id = build_id.filter(|id| is_build_id(id));
        let gnu_id = valid_id.filter(|id| !id.starts_with("sha256-"));

        // 1. Bundles.
        if let Some(table) = build_id.and_then(|id| self.tables.get(id)) {
            fill_from_table(
                table,
                offsets,
                &mut out,
                SymbolSource::Bundle,
                &mut self.names,
            );
        }
        // 2. The cache: tables, then files fetched earlier.
        if let Some(id) = valid_id
            && pending(&out)
        {
            self.load_cached_table(id);
            if let Some(Some(table)) = self.cached_tables.get(id) {
                fill_from_table(
                    table,
                    offsets,
                    &mut out,
                    SymbolSource::Cache,
                    &mut self.names,
                );
            }
        }
        // The vDSO, mapped from no file: the image this host maps, when its BuildID is the
        // frame's.
        if let Some(id) = valid_id
            && pending(&out)
            && let Some(host) =
                crate::vdso::Vdso::host().filter(|v| v.build_id.as_deref() == Some(id))
        {
            let table = self.vdso.get_or_insert_with(|| {
                host.symbol_table()
                    .map_err(|e| tracing::debug!("not naming vDSO frames: {e}"))
                    .ok()
            });
            if let Some(table) = table.as_ref() {
                fill_from_table(
                    table,
                    offsets,
                    &mut out,
                    SymbolSource::Vdso,
                    &mut self.names,
                );
            }
        }
        let disk = path.and_then(|p| self.disk_file(Path::new(p), build_id));
        if let Some(id) = gnu_id
            && pending(&out)
        {
            self.fill_from_cached_files(id, disk.as_ref(), offsets, &mut out);
        }
        // 3. The binary on disk, when it carries DWARF.
        if let Some(target) = &disk
            && target.layout.has_debug_info
        {
            self.fill_from_elf(
                target,
                &target.layout.loads,
                offsets,
                &mut out,
                SymbolSource::File,
            );
        }
        // 4. debuginfod, for whatever is left.
        let may_fetch =
            self.debuginfod.is_some() && !disk.as_ref().is_some_and(|d| d.layout.has_debug_info);
        if let Some(id) = gnu_id
            && pending(&out)
            && may_fetch
            && !fetched
            && !self.attempted.contains(id)
        {
            let loads_known = disk.is_some() || self.table_segments(id).is_some();
            return GroupOutcome::NeedsFetch {
                build_id: id.to_owned(),
                loads_known,
            };
        }
        // 3'. The binary on disk without DWARF: its symbol tables.
        if let Some(target) = &disk
            && !target.layout.has_debug_info
            && pending(&out)
        {
            self.fill_from_elf(
                target,
                &target.layout.loads,
                offsets,
                &mut out,
                SymbolSource::File,
            );
        }
        GroupOutcome::Resolved(out)
    }

    /// Fetches the files of each `(BuildID, loads_known)` from debuginfod, in parallel, once per
    /// BuildID for the life of the symboliser.
    fn fetch_all(&mut self, jobs: Vec<(String, bool)>) {
        let jobs: Vec<(String, bool)> = jobs
            .into_iter()
            .filter(|(id, _)| self.attempted.insert(id.clone()))
            .collect();
        let (Some(client), Some(cache)) = (&self.debuginfod, &self.cache) else {
            return;
        };
        let reports: Vec<(String, FetchReport)> = jobs
            .par_iter()
            .map(|(id, loads_known)| (id.clone(), fetch_files(client, cache, id, *loads_known)))
            .collect();
        for (id, report) in reports {
            self.stats.downloads += report.downloads;
            if !report.failures.is_empty() {
                tracing::warn!(
                    build_id = %id,
                    "debuginfod: {}; its frames stay unknown unless another source names them",
                    report.failures.join("; ")
                );
            }
            self.cached_files.remove(&id);
        }
    }

    fn load_cached_table(&mut self, id: &str) {
        if self.cached_tables.contains_key(id) {
            return;
        }
        let table = match &self.cache {
            Some(cache) => cache.load_table(id).unwrap_or_else(|e| {
                tracing::warn!("symbol cache: {e}; ignoring it");
                None
            }),
            None => None,
        };
        self.cached_tables.insert(id.to_owned(), table);
    }

    /// The original binary's segments from a bundle's or the cache's table of `id`.
    fn table_segments(&self, id: &str) -> Option<Vec<LoadSegment>> {
        let table = self
            .tables
            .get(id)
            .or_else(|| self.cached_tables.get(id).and_then(Option::as_ref))?;
        let loads: Vec<LoadSegment> = table
            .segments
            .iter()
            .map(|s| LoadSegment {
                offset: s.offset.0,
                vaddr: s.vaddr.0,
                filesz: s.filesz,
                executable: s.executable,
            })
            .collect();
        (!loads.is_empty()).then_some(loads)
    }

    /// The file at `path` when it may answer for `build_id`: readable ELF and, when the frame
    /// has a BuildID, the same one (its GNU note, or Stella's fallback id for a file without).
    fn disk_file(&mut self, path: &Path, build_id: Option<&str>) -> Option<ElfTarget> {
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
        let stamp = FileStamp::of(&meta);
        let known = self.disk.get(path).is_some_and(|d| d.stamp == stamp);
        if !known {
            self.elf.forget(path);
            let layout = match elf::read_layout(path) {
                Ok(layout) => Some(Arc::new(layout)),
                Err(e) => {
                    tracing::debug!("not symbolising from {}: {e}", path.display());
                    None
                }
            };
            self.disk.insert(
                path.to_owned(),
                DiskFile {
                    stamp,
                    layout,
                    fallback_id: None,
                },
            );
        }
        let entry = self.disk.get_mut(path)?;
        let layout = entry.layout.clone()?;
        if let Some(wanted) = build_id {
            let matches = match &layout.build_id {
                Some(id) => id == wanted,
                None => {
                    let fallback = entry.fallback_id.get_or_insert_with(|| fallback_id(path));
                    fallback.as_deref() == Some(wanted)
                }
            };
            if !matches {
                return None;
            }
        }
        Some(ElfTarget {
            path: path.to_owned(),
            layout,
        })
    }

    /// Resolves from `<id>.debug` then `<id>.elf` in the cache.
    fn fill_from_cached_files(
        &mut self,
        id: &str,
        disk: Option<&ElfTarget>,
        offsets: &[u64],
        out: &mut [Option<Symbol>],
    ) {
        let files = self.cached_files_of(id);
        if let Some(debug) = &files.debuginfo {
            let loads = disk
                .map(|d| d.layout.loads.clone())
                .or_else(|| self.table_segments(id))
                .or_else(|| files.executable.as_ref().map(|e| e.layout.loads.clone()))
                .or_else(|| {
                    debug
                        .layout
                        .has_executable_bytes()
                        .then(|| debug.layout.loads.clone())
                });
            match loads {
                Some(loads) => {
                    self.fill_from_elf(debug, &loads, offsets, out, SymbolSource::Debuginfod)
                }
                None => tracing::debug!(
                    build_id = %id,
                    "debuginfo cached but no program headers of the original binary to place it"
                ),
            }
        }
        if let Some(exe) = &files.executable {
            self.fill_from_elf(
                exe,
                &exe.layout.loads,
                offsets,
                out,
                SymbolSource::Debuginfod,
            );
        }
    }

    fn cached_files_of(&mut self, id: &str) -> CachedFiles {
        if let Some(files) = self.cached_files.get(id) {
            return files.clone();
        }
        let target = |kind| {
            let path = self.cache.as_ref()?.elf(id, kind)?;
            match elf::read_layout(&path) {
                Ok(layout) if layout.build_id.as_deref() == Some(id) => Some(ElfTarget {
                    path,
                    layout: Arc::new(layout),
                }),
                Ok(layout) => {
                    tracing::warn!(
                        "symbol cache: {} has BuildID {}; ignoring it",
                        path.display(),
                        layout.build_id.as_deref().unwrap_or("(none)")
                    );
                    None
                }
                Err(e) => {
                    tracing::warn!("symbol cache: {e}; ignoring it");
                    None
                }
            }
        };
        let files = CachedFiles {
            debuginfo: target(CachedElf::Debuginfo),
            executable: target(CachedElf::Executable),
        };
        self.cached_files.insert(id.to_owned(), files.clone());
        files
    }

    /// Resolves the still-unknown `offsets` through the ELF file `target`, placing offsets
    /// with `loads`.
    fn fill_from_elf(
        &mut self,
        target: &ElfTarget,
        loads: &[LoadSegment],
        offsets: &[u64],
        out: &mut [Option<Symbol>],
        source: SymbolSource,
    ) {
        let (slots, vaddrs): (Vec<usize>, Vec<u64>) = out
            .iter()
            .zip(offsets)
            .enumerate()
            .filter(|(_, (known, _))| known.is_none())
            .filter_map(|(i, (_, &offset))| Some((i, elf::file_offset_to_vaddr(loads, offset)?)))
            .unzip();
        if vaddrs.is_empty() {
            return;
        }
        let dwarf = target.layout.has_debug_info;
        match self
            .elf
            .resolve(&target.path, &vaddrs, source, dwarf, &mut self.names)
        {
            Ok(symbols) => {
                for (slot, symbol) in slots.into_iter().zip(symbols) {
                    if let Some(place) = out.get_mut(slot) {
                        *place = symbol;
                    }
                }
            }
            Err(e) => tracing::debug!("{e}"),
        }
    }

    fn kernel_symbol(&mut self, address: u64) -> Option<Symbol> {
        let kallsyms = self.kallsyms.get_or_insert_with(|| {
            let loaded = Kallsyms::load(&self.kallsyms_path).unwrap_or_else(|e| {
                tracing::warn!("{e}; kernel frames stay unknown");
                Kallsyms::default()
            });
            if !loaded.is_available() {
                tracing::warn!(
                    "{}: no kernel addresses (kptr_restrict hides them without privilege); \
                     kernel frames stay unknown",
                    self.kallsyms_path.display()
                );
            }
            loaded
        });
        let (symbol, offset) = kallsyms.lookup(address)?;
        Some(Symbol {
            demangled: self.names.demangle(&symbol.name),
            function: symbol.name.clone(),
            offset,
            source: SymbolSource::Kallsyms,
            inlined: Vec::new(),
            file: None,
            line: None,
        })
    }

    fn jit_symbol(&mut self, pid: u32, address: u64) -> Option<Symbol> {
        let (entry, offset) = match self.perf_maps.lookup(pid, address) {
            Ok(found) => found?,
            Err(e) => {
                tracing::debug!("{e}");
                return None;
            }
        };
        Some(Symbol {
            demangled: self.names.demangle(&entry.name),
            function: entry.name.clone(),
            offset,
            source: SymbolSource::PerfMap,
            inlined: Vec::new(),
            file: None,
            line: None,
        })
    }
}

/// Fills the still-unknown `offsets` from a symbol table.
fn fill_from_table(
    table: &SymbolTable,
    offsets: &[u64],
    out: &mut [Option<Symbol>],
    source: SymbolSource,
    names: &mut Demangler,
) {
    for (slot, &offset) in out.iter_mut().zip(offsets) {
        if slot.is_some() {
            continue;
        }
        if let Some((entry, into)) = table.lookup_file_offset(offset) {
            *slot = Some(Symbol {
                function: entry.sym.clone(),
                demangled: entry
                    .demangled
                    .clone()
                    .filter(|d| *d != entry.sym)
                    .or_else(|| names.demangle(&entry.sym)),
                offset: into,
                source,
                inlined: Vec::new(),
                file: None,
                line: None,
            });
        }
    }
}

/// Stella's fallback id of the file at `path` (see [`stella_binary::identity::fallback_id`]).
fn fallback_id(path: &Path) -> Option<String> {
    stella_binary::identity::fallback_id_of_file(path)
        .ok()
        .map(|id| id.as_str().to_owned())
}

/// What fetching one BuildID's files did.
#[derive(Debug, Default)]
struct FetchReport {
    downloads: u64,
    failures: Vec<String>,
}

/// Fetches the debuginfo of `id` into `cache` unless it is there; then the executable when no
/// debuginfo was found, or when nothing else gives the original binary's segments.
fn fetch_files(
    client: &DebuginfodClient,
    cache: &SymbolCache,
    id: &str,
    loads_known: bool,
) -> FetchReport {
    let mut report = FetchReport::default();
    let mut fetch = |kind| match cache.elf(id, kind) {
        Some(path) => Some(path),
        None => match client.fetch(id, kind, cache) {
            Ok(Some(path)) => {
                report.downloads += 1;
                Some(path)
            }
            Ok(None) => None,
            Err(e) => {
                report.failures.push(e.to_string());
                None
            }
        },
    };
    let debuginfo = fetch(CachedElf::Debuginfo);
    let places_itself = debuginfo
        .as_deref()
        .and_then(|p| elf::read_layout(p).ok())
        .is_some_and(|layout| layout.has_executable_bytes());
    if debuginfo.is_none() || !(loads_known || places_itself) {
        fetch(CachedElf::Executable);
    }
    report
}

/// A symbol table for unit tests: one executable segment (file offset `0x1000` at
/// `0x40_1000`) and the functions `(start, end, name)` given by virtual address.
#[cfg(test)]
pub(crate) fn test_table(build_id: &str, functions: &[(u64, u64, &str)]) -> SymbolTable {
    use stella_binary::functions::Addr;
    use stella_binary::{Segment, SymbolEntry};
    SymbolTable {
        schema: stella_binary::symbols::SCHEMA.to_owned(),
        build_id: build_id.to_owned(),
        build_id_source: "gnu-note".to_owned(),
        file_sha256: stella_core::Digest::sha256(b"file").to_string(),
        format: "elf".to_owned(),
        arch: "x86_64".to_owned(),
        segments: vec![Segment {
            offset: Addr(0x1000),
            vaddr: Addr(0x40_1000),
            filesz: 0x1000,
            memsz: 0x1000,
            executable: true,
        }],
        functions: functions
            .iter()
            .map(|&(start, end, sym)| SymbolEntry {
                start: Addr(start),
                end: Addr(end),
                sym: sym.to_owned(),
                demangled: None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    fn table(build_id: &str) -> SymbolTable {
        test_table(
            build_id,
            &[
                (0x40_1000, 0x40_1010, "main"),
                (0x40_1020, 0x40_1040, "_ZN4demo3runEv"),
            ],
        )
    }
    fn at(build_id: Option<&str>, file_offset: u64) -> Location {
        Location::File {
            build_id: build_id.map(str::to_owned),
            path: None,
            file_offset,
        }
    }

    #[test]
    fn debuginfod_needs_a_cache_and_http_urls() {
        let err = Symbolizer::new(Config {
            debuginfod_urls: vec!["http://127.0.0.1:1".to_owned()],
            ..Config::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("no symbol cache directory"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = Symbolizer::new(Config {
            cache_dir: Some(dir.path().to_path_buf()),
            debuginfod_urls: vec!["ftp://mirror".to_owned()],
            ..Config::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("not an http"), "{err}");
    }

    #[test]
    fn tables_answer_by_build_id_and_only_inside_functions() {
        let mut symbolizer = Symbolizer::new(Config::default()).unwrap();
        symbolizer.add_table(table(ID)).unwrap();
        let mut other = table(ID);
        other.functions.truncate(1);
        other.functions[0].sym = "ignored".to_owned();
        symbolizer.add_table(other).unwrap();

        let main = symbolizer.symbolize(&at(Some(ID), 0x1004)).unwrap();
        assert_eq!(
            (main.function.as_str(), main.offset, main.source),
            ("main", 4, SymbolSource::Bundle),
            "the first table added for a BuildID wins"
        );
        let run = symbolizer.symbolize(&at(Some(ID), 0x1021)).unwrap();
        assert_eq!(run.function, "_ZN4demo3runEv");
        assert_eq!(run.demangled.as_deref(), Some("demo::run()"));
        assert_eq!(run.display_name(), "demo::run()");

        for (build_id, offset) in [
            (Some(ID), 0x1010),   // padding between functions
            (Some(ID), 0x0fff),   // before the segment
            (Some(ID), 0x2000),   // past it
            (Some(ID), u64::MAX), // nowhere
            (Some("ab"), 0x1004), // another binary
            (None, 0x1004),       // no BuildID, no path
        ] {
            assert_eq!(
                symbolizer.symbolize(&at(build_id, offset)),
                None,
                "{build_id:?} {offset:#x}"
            );
        }
        assert_eq!(
            symbolizer.symbolize(&Location::Named {
                build_id: Some(ID.to_owned()),
                path: None
            }),
            None
        );
        let stats = symbolizer.stats();
        assert_eq!((stats.bundle, stats.unknown), (2, 7));
    }

    #[test]
    fn a_batch_resolves_each_distinct_offset_once_and_fills_every_frame() {
        let mut symbolizer = Symbolizer::new(Config::default()).unwrap();
        symbolizer.add_table(table(ID)).unwrap();
        let mut frames: Vec<Frame> = [0x1004, 0x1030, 0x1004, 0x1010, 0x1004]
            .into_iter()
            .map(|offset| Frame::unresolved(at(Some(ID), offset)))
            .collect();
        symbolizer.symbolize_frames(&mut frames);
        let named: Vec<Option<(&str, u64)>> = frames
            .iter()
            .map(|f| f.symbol.as_ref().map(|s| (s.function.as_str(), s.offset)))
            .collect();
        assert_eq!(
            named,
            vec![
                Some(("main", 4)),
                Some(("_ZN4demo3runEv", 0x10)),
                Some(("main", 4)),
                None,
                Some(("main", 4)),
            ]
        );
        // A second pass leaves named frames alone and counts nothing new for them.
        symbolizer.symbolize_frames(&mut frames);
        assert_eq!(
            symbolizer.stats(),
            Stats {
                bundle: 4,
                unknown: 2,
                ..Stats::default()
            }
        );
    }

    #[test]
    fn stats_serialise_in_camel_case() {
        let stats = Stats {
            perf_map: 2,
            vdso: 1,
            unknown: 1,
            ..Stats::default()
        };
        let json = serde_json::to_string(&stats).unwrap();
        assert_eq!(
            json,
            r#"{"bundle":0,"cache":0,"file":0,"debuginfod":0,"kallsyms":0,"perfMap":2,"vdso":1,"unknown":1,"downloads":0}"#
        );
        assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), stats);
        assert_eq!((stats.resolved(), stats.frames()), (3, 4));
    }
}
