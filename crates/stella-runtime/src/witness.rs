//! Micro-witnesses: uprobes on the few functions an advisory names, counting every call.
//!
//! Sampling answers "how hot"; a witness answers "did it run at all" (DESIGN.md, decisions).
//! [`watch`] resolves each asked symbol in the binary (symbol table, dynamic symbols and
//! `.eh_frame` ranges, as the FuncProof does; by mangled name, demangled name or glob), attaches
//! the `stella_witness` program at the function's first byte with the symbol's index as the
//! attach cookie, and counts calls per process in the kernel. The first calls of each symbol
//! also keep their caller's stack as `(BuildID, file offset)` frames.
//!
//! The report says exactly what a count covers: the binary (path, BuildID), the window, the
//! scope (one pid or every process), and the processes that had the binary mapped at the start
//! or the end of the window or called it — so a zero is a statement about those instances in
//! that window, nothing more.
//!
//! What this module does not own: turning the counts into VEX (`stella-policy`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aya::maps::{HashMap as BpfHashMap, MapData};
use aya::programs::UProbe;
use aya::programs::uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeScope};
use serde::{Deserialize, Serialize};
use stella_binary::FuncProof;
use stella_binary::symbols::SymbolTable;

use crate::RuntimeError;
use crate::frame::Frame;
use crate::procmaps::{MapsCache, parse_maps, read_build_id};
use crate::profile::Window;
use crate::sampler::{
    Tables, add_targets, classify, kernel, load, missing, note_processes, read_stats,
    user_locations, user_stacks,
};

/// Schema id of the witness report.
pub const SCHEMA: &str = "stella.runtime.witness/v1";

/// What to watch.
#[derive(Debug, Clone)]
pub struct WitnessOptions {
    /// The binary or shared library holding the functions.
    pub binary: PathBuf,
    /// Names (mangled, demangled, or globs) of the functions.
    pub symbols: Vec<String>,
    /// Only this process; every process that maps the binary otherwise.
    pub pid: Option<u32>,
    /// How long to watch.
    pub duration: Duration,
    /// Calls per symbol whose stack is kept.
    pub stacks_per_symbol: u64,
    /// Set to stop early.
    pub stop: Arc<AtomicBool>,
}

/// Calls by one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCalls {
    /// Process id.
    pub pid: u32,
    /// Its command name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// Calls it made.
    pub calls: u64,
}

/// One caller stack seen for a symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStack {
    /// The process.
    pub pid: u32,
    /// How many of the recorded calls had this stack.
    pub count: u64,
    /// Frames, leaf (the watched function's entry) first.
    pub frames: Vec<Frame>,
}

/// The evidence for one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Witness {
    /// The name asked for.
    pub symbol: String,
    /// The function it resolved to (as the symbol table spells it).
    pub function: String,
    /// Demangled, where it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// The binary's path.
    pub binary: String,
    /// Its GNU BuildID, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// File offset of the probed first byte, `0x` hex.
    #[serde(with = "crate::frame::hex_u64")]
    pub file_offset: u64,
    /// Every call seen in the window, by every watched process.
    pub calls: u64,
    /// Calls per process.
    pub processes: Vec<ProcessCalls>,
    /// Caller stacks of the first calls.
    pub stacks: Vec<CallStack>,
}

/// The witness report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WitnessReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When.
    pub window: Window,
    /// The pid watched, or none for every process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Processes the counts cover: those with the binary mapped at the start or the end of the
    /// window, and those that called a watched function (with `pid`, that process only if it is
    /// one of them: otherwise none, and the counts cover nothing).
    pub instances: Vec<u32>,
    /// Calls the kernel could not count (a map was full); non-zero makes counts lower bounds.
    pub lost: u64,
    /// One entry per asked symbol, in the order asked.
    pub witnesses: Vec<Witness>,
}

/// A function to probe.
#[derive(Debug, Clone)]
struct Probe {
    asked: String,
    function: String,
    demangled: Option<String>,
    file_offset: u64,
}

/// Resolves each asked name to one function of the binary; a name matching nothing, or more
/// than one distinct function, is an error that lists what it found.
fn resolve(
    binary: &Path,
    symbols: &[String],
) -> Result<(Vec<Probe>, Option<String>), RuntimeError> {
    // Read as a regular file only: a FIFO named as the binary must not block the command.
    let refused = |e| RuntimeError::binary(binary.display(), e);
    let data = stella_binary::FileSnapshot::open(binary).map_err(refused)?;
    let proof = FuncProof::build(&data).map_err(refused)?;
    let table = SymbolTable::from_proof(&proof, &data).map_err(refused)?;
    let mut probes = Vec::new();
    for asked in symbols {
        let matches = proof
            .query(asked)
            .map_err(|e| RuntimeError::binary(format_args!("--symbol {asked}"), e))?;
        let distinct: BTreeMap<u64, &stella_binary::QueryMatch> =
            matches.iter().map(|m| (m.start.0, m)).collect();
        let Some((start, found)) = distinct.iter().next() else {
            return Err(RuntimeError::SymbolNotFound {
                asked: asked.clone(),
                binary: binary.to_owned(),
            });
        };
        if distinct.len() > 1 {
            return Err(RuntimeError::AmbiguousSymbol {
                asked: asked.clone(),
                functions: distinct.values().map(|m| m.sym.clone()).collect(),
            });
        }
        let file_offset = table
            .segments
            .iter()
            .find(|s| s.vaddr.0 <= *start && start - s.vaddr.0 < s.filesz)
            .and_then(|s| (start - s.vaddr.0).checked_add(s.offset.0))
            .ok_or_else(|| RuntimeError::NotLoadable {
                asked: asked.clone(),
                address: *start,
            })?;
        probes.push(Probe {
            asked: asked.clone(),
            function: found.sym.clone(),
            demangled: found.demangled.clone().filter(|d| *d != found.sym),
            file_offset,
        });
    }
    Ok((probes, read_build_id(binary)))
}

/// Processes that have `binary` mapped right now.
fn mapping_processes(binary: &Path) -> BTreeSet<u32> {
    let wanted = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    let mut out = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("maps")) else {
            continue;
        };
        if parse_maps(&text)
            .iter()
            .any(|m| m.is_file() && Path::new(&m.path) == wanted)
        {
            out.insert(pid);
        }
    }
    out
}

/// Attaches the probes, waits for the duration (or the stop flag), and reports the counts.
pub fn watch(
    options: &WitnessOptions,
    maps: &mut MapsCache,
) -> Result<WitnessReport, RuntimeError> {
    if options.symbols.is_empty() {
        return Err(RuntimeError::NoSymbolAsked);
    }
    let binary =
        std::fs::canonicalize(&options.binary).map_err(|e| RuntimeError::io(&options.binary, e))?;
    let (probes, build_id) = resolve(&binary, &options.symbols)?;
    let scope = match options.pid {
        Some(pid) => {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return Err(RuntimeError::NoSuchProcess { pid });
            }
            UProbeScope::OneProcess(
                NonZeroU32::new(pid).ok_or(RuntimeError::NoSuchProcess { pid })?,
            )
        }
        None => UProbeScope::AllProcesses,
    };
    let mode = u32::from(options.pid.is_some());
    let mut bpf = load(mode, 0, 0, options.stacks_per_symbol)?;
    if let Some(pid) = options.pid {
        add_targets(&mut bpf, &[pid])?;
    }
    let tables = Tables::take(&mut bpf)?;
    let calls_map: BpfHashMap<MapData, [u32; 2], u64> =
        BpfHashMap::try_from(bpf.take_map("calls").ok_or_else(|| missing("calls"))?)
            .map_err(|e| kernel("calls map", e))?;
    let stacks_map: BpfHashMap<MapData, [u64; 4], u64> = BpfHashMap::try_from(
        bpf.take_map("call_stacks")
            .ok_or_else(|| missing("call_stacks"))?,
    )
    .map_err(|e| kernel("call_stacks map", e))?;
    let program: &mut UProbe = bpf
        .program_mut("stella_witness")
        .ok_or_else(|| missing("stella_witness"))?
        .try_into()
        .map_err(|e| kernel("stella_witness", e))?;
    program
        .load()
        .map_err(|e| classify("loading the witness", e))?;

    let mut instances = mapping_processes(&binary);
    let started = SystemTime::now();
    for (index, probe) in probes.iter().enumerate() {
        program
            .attach(
                UProbeAttachPoint {
                    location: UProbeAttachLocation::AbsoluteOffset(probe.file_offset),
                    cookie: Some(index as u64),
                },
                &binary,
                scope,
            )
            .map_err(|e| classify(&format!("attaching a uprobe to {}", probe.function), e))?;
    }
    let clock = Instant::now();
    let mut seen = std::collections::HashSet::new();
    let mut processes: HashMap<u32, (String, u64)> = HashMap::new();
    while clock.elapsed() < options.duration && !options.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        note_processes(&tables, &mut seen, &mut processes, maps);
    }
    // Probes stay attached until the counts are read: read first, then let `bpf` drop.
    let ended = SystemTime::now();
    instances.extend(mapping_processes(&binary));
    note_processes(&tables, &mut seen, &mut processes, maps);
    let comms: HashMap<u32, String> = processes
        .into_iter()
        .map(|(pid, (comm, _))| (pid, comm))
        .collect();
    let counters = read_stats(&tables.stats)?;
    let mut per_symbol: BTreeMap<u32, BTreeMap<u32, u64>> = BTreeMap::new();
    for entry in calls_map.iter() {
        let (key, count) = entry.map_err(|e| kernel("reading the call counts", e))?;
        per_symbol.entry(key[1]).or_default().insert(key[0], count);
        instances.insert(key[0]);
    }
    let ustacks = user_stacks(&tables.ustacks)?;
    let mut stacks: BTreeMap<u32, Vec<CallStack>> = BTreeMap::new();
    for entry in stacks_map.iter() {
        let (key, count) = entry.map_err(|e| kernel("reading the call stacks", e))?;
        let (pid, symbol) = (key[0] as u32, (key[0] >> 32) as u32);
        let mut frames = ustacks
            .get(&[key[1], key[2]])
            .map(|raw| user_locations(pid, raw, maps))
            .unwrap_or_default();
        // The immediate caller, read from the top of the stack at the function's entry; the
        // kernel's frame-pointer walk starts one frame further up.
        if key[3] != 0 && !frames.is_empty() {
            frames.insert(1, Frame::unresolved(maps.locate(pid, key[3] - 1)));
        }
        stacks
            .entry(symbol)
            .or_default()
            .push(CallStack { pid, count, frames });
    }
    drop(bpf);

    let binary_text = binary.display().to_string();
    let witnesses = probes
        .into_iter()
        .enumerate()
        .map(|(index, probe)| {
            let by_pid = per_symbol.remove(&(index as u32)).unwrap_or_default();
            let mut call_stacks = stacks.remove(&(index as u32)).unwrap_or_default();
            call_stacks.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then(a.pid.cmp(&b.pid))
                    .then_with(|| a.frames.cmp(&b.frames))
            });
            Witness {
                symbol: probe.asked,
                function: probe.function,
                demangled: probe.demangled,
                binary: binary_text.clone(),
                build_id: build_id.clone(),
                file_offset: probe.file_offset,
                calls: by_pid.values().sum(),
                processes: by_pid
                    .into_iter()
                    .map(|(pid, calls)| ProcessCalls {
                        pid,
                        comm: comms.get(&pid).cloned(),
                        calls,
                    })
                    .collect(),
                stacks: call_stacks,
            }
        })
        .collect();
    // One process asked for is an instance only if it had the binary mapped (or called into
    // it): a zero from a process that never maps the binary covers nothing.
    let instances = match options.pid {
        Some(pid) if instances.contains(&pid) => vec![pid],
        Some(_) => Vec::new(),
        None => instances.into_iter().collect(),
    };
    Ok(WitnessReport {
        schema: SCHEMA.to_string(),
        window: Window::new(started, ended, clock.elapsed()),
        pid: options.pid,
        instances,
        lost: counters[5],
        witnesses,
    })
}
