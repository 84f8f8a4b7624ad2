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
use crate::procmaps::{MapsCache, read_build_id};
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
    /// Set once every probe is attached, cleared when they are detached: a caller that starts
    /// the workload itself waits for it, so no call falls before the watch begins.
    pub attached: Arc<AtomicBool>,
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
    /// The binary's path in the image, when the functions were resolved from an image's
    /// evidence (`stella witness --image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_path: Option<String>,
    /// Processes this count covers: those that mapped this binary at the start or the end of
    /// the window or called into it. Absent in reports about one binary, where the report's
    /// `instances` say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<u32>>,
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
    /// The image whose binaries were watched (`stella witness --image`), as asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The name asked for (or the advisory's symbol it was resolved from).
    pub asked: String,
    /// The function, as the binary's symbol table spells it.
    pub function: String,
    /// Demangled, where it differs.
    pub demangled: Option<String>,
    /// File offset of its first byte.
    pub file_offset: u64,
}

/// One binary to watch and its functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The file to attach to (every process mapping it is watched).
    pub binary: PathBuf,
    /// Its path in the image, when it was found from one.
    pub image_path: Option<String>,
    /// Its BuildID.
    pub build_id: Option<String>,
    /// The functions.
    pub probes: Vec<Probe>,
}

/// How to watch several targets.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The image the targets come from, as asked.
    pub image: Option<String>,
    /// Only this process.
    pub pid: Option<u32>,
    /// How long to watch.
    pub duration: Duration,
    /// Calls per symbol whose stack is kept.
    pub stacks_per_symbol: u64,
    /// Set to stop early.
    pub stop: Arc<AtomicBool>,
    /// Set once every probe is attached, cleared when they are detached: a caller that starts
    /// the workload itself waits for it, so no call falls before the watch begins.
    pub attached: Arc<AtomicBool>,
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

/// Resolves the asked symbols in `options.binary`, attaches the probes, waits for the duration
/// (or the stop flag), and reports the counts.
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
    let target = Target {
        binary,
        image_path: None,
        build_id,
        probes,
    };
    let mut report = watch_targets(
        &[target],
        &WatchOptions {
            image: None,
            pid: options.pid,
            duration: options.duration,
            stacks_per_symbol: options.stacks_per_symbol,
            stop: Arc::clone(&options.stop),
            attached: Arc::clone(&options.attached),
        },
        maps,
    )?;
    // One binary: the report's instances say it all.
    for w in &mut report.witnesses {
        w.instances = None;
    }
    Ok(report)
}

/// Attaches a probe to every function of every target, waits for the duration (or the stop
/// flag), and reports the counts; each witness names the instances of its own binary.
pub fn watch_targets(
    targets: &[Target],
    options: &WatchOptions,
    maps: &mut MapsCache,
) -> Result<WitnessReport, RuntimeError> {
    if targets.iter().all(|t| t.probes.is_empty()) {
        return Err(RuntimeError::NoSymbolAsked);
    }
    // Declared before the probes, so dropped after them, on every path.
    let _attached = crate::sampler::ClearOnDrop(&options.attached);
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

    // Probe `index` (the attach cookie) is the index-th function over all targets, in order.
    let owner: Vec<usize> = targets
        .iter()
        .enumerate()
        .flat_map(|(t, target)| std::iter::repeat_n(t, target.probes.len()))
        .collect();
    let mut mapped: Vec<BTreeSet<u32>> = targets
        .iter()
        .map(|t| crate::running::processes_mapping(&t.binary))
        .collect();
    let started = SystemTime::now();
    let mut index = 0u64;
    for target in targets {
        for probe in &target.probes {
            program
                .attach(
                    UProbeAttachPoint {
                        location: UProbeAttachLocation::AbsoluteOffset(probe.file_offset),
                        cookie: Some(index),
                    },
                    &target.binary,
                    scope,
                )
                .map_err(|e| {
                    classify(
                        &format!(
                            "attaching a uprobe to {} in {}",
                            probe.function,
                            target.binary.display()
                        ),
                        e,
                    )
                })?;
            index += 1;
        }
    }
    options.attached.store(true, Ordering::Release);
    let clock = Instant::now();
    let mut seen = std::collections::HashSet::new();
    let mut processes: HashMap<u32, (String, u64)> = HashMap::new();
    while clock.elapsed() < options.duration && !options.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        note_processes(&tables, &mut seen, &mut processes, maps);
    }
    // Probes stay attached until the counts are read: read first, then let `bpf` drop.
    let ended = SystemTime::now();
    for (t, target) in targets.iter().enumerate() {
        mapped[t].extend(crate::running::processes_mapping(&target.binary));
    }
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
        if let Some(&t) = owner.get(key[1] as usize) {
            mapped[t].insert(key[0]);
        }
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

    // A process asked for is an instance only if it had the binary mapped (or called into it):
    // a zero from a process that never maps the binary covers nothing.
    let instances_of = |t: usize| -> Vec<u32> {
        match options.pid {
            Some(pid) if mapped[t].contains(&pid) => vec![pid],
            Some(_) => Vec::new(),
            None => mapped[t].iter().copied().collect(),
        }
    };
    let mut witnesses = Vec::new();
    let mut index = 0u32;
    for (t, target) in targets.iter().enumerate() {
        let binary_text = target.binary.display().to_string();
        let instances = instances_of(t);
        for probe in &target.probes {
            let by_pid = per_symbol.remove(&index).unwrap_or_default();
            let mut call_stacks = stacks.remove(&index).unwrap_or_default();
            index += 1;
            call_stacks.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then(a.pid.cmp(&b.pid))
                    .then_with(|| a.frames.cmp(&b.frames))
            });
            witnesses.push(Witness {
                symbol: probe.asked.clone(),
                function: probe.function.clone(),
                demangled: probe.demangled.clone(),
                binary: binary_text.clone(),
                build_id: target.build_id.clone(),
                file_offset: probe.file_offset,
                image_path: target.image_path.clone(),
                instances: Some(instances.clone()),
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
            });
        }
    }
    let all: BTreeSet<u32> = (0..targets.len()).flat_map(instances_of).collect();
    Ok(WitnessReport {
        schema: SCHEMA.to_string(),
        image: options.image.clone(),
        window: Window::new(started, ended, clock.elapsed()),
        pid: options.pid,
        instances: all.into_iter().collect(),
        lost: counters[5],
        witnesses,
    })
}
