//! eBPF stack sampling on the `cpu-clock` software event, aggregated in the kernel.
//!
//! One perf event per online CPU at `hz` samples per second runs the `stella_sample` program
//! of `bpf/stella.bpf.c`. For each sample of a wanted process (every process, a set of pids, or
//! a cgroup and the cgroups below it — a container) it stores the user stack as
//! `(BuildID, file offset)` frames, the kernel stack as addresses, and counts the triple
//! (pid, user stack, kernel stack). User space reads the maps once, at the end; while the
//! recording runs it only notes new processes and snapshots their mappings (for the frames
//! the kernel could only give as addresses), so a process that exits stays attributable.
//!
//! A duty cycle samples `on` out of every `period` (detaching the events in between), for long
//! recordings at a bounded cost.
//!
//! Needs `CAP_BPF` and `CAP_PERFMON` (or root); without them [`record`] fails with
//! [`RuntimeError::Permission`] naming them.
//!
//! What this module does not own: names for the frames (`symbolize`), or output formats
//! (`profile`, `collapsed`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, StackTraceMap};
use aya::programs::PerfEvent;
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::{Ebpf, EbpfLoader};

use crate::frame::{Frame, Location};
use crate::procmaps::{MapsCache, build_id_hex};
use crate::profile::{Profile, Stack, Stats, Target, Window};
use crate::{CgroupProblem, RuntimeError};

/// The compiled kernel programs (`bpf/stella.bpf.c`, rebuilt by `bpf/build.sh`).
pub(crate) static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/stella.bpf.o");

/// Frames per stack the kernel keeps (`MAX_FRAMES` in the program).
pub const MAX_FRAMES: usize = 127;
const USER_STACK_BYTES: usize = 8 + MAX_FRAMES * 32;

/// Which processes to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every process on the host.
    All,
    /// These processes, all their threads.
    Pids(Vec<u32>),
    /// A cgroup v2 directory (absolute under `/sys/fs/cgroup`, or as `/proc/PID/cgroup` writes
    /// it) and everything below it.
    Cgroup(String),
}

/// A duty cycle: sample for `on` out of every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    /// How long each sampling burst lasts.
    pub on: Duration,
    /// The cycle length.
    pub period: Duration,
}

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Which processes.
    pub selection: Selection,
    /// Samples per second per CPU.
    pub hz: u64,
    /// How long to record (wall time, duty cycle included).
    pub duration: Duration,
    /// Optional duty cycle.
    pub duty: Option<Duty>,
    /// Set to stop early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Set while the sampler is attached (each burst of a duty cycle), cleared when it is
    /// detached: a caller that starts the workload itself waits for it, so the workload's first
    /// moments are not lost to loading the sampler.
    pub attached: Arc<AtomicBool>,
}

/// Clears a flag when dropped: `attached` is false again on every way out, errors included.
pub(crate) struct ClearOnDrop<'a>(pub(crate) &'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Where the cgroup v2 hierarchy is mounted: `/sys/fs/cgroup` on a unified system,
/// `/sys/fs/cgroup/unified` on a hybrid one; read from `/proc/self/mounts`.
pub fn cgroup2_root() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| dir.to_string())
    })
}

/// Records stacks as asked and returns an unsymbolised profile: user frames as
/// `(BuildID, file offset)` (or normalised through the mappings in `maps`), kernel frames as
/// addresses; caller frames already moved back by one byte into the calling instruction.
pub fn record(options: &RecordOptions, maps: &mut MapsCache) -> Result<Profile, RuntimeError> {
    if options.hz == 0 || options.hz > crate::MAX_HZ {
        return Err(RuntimeError::Rate { hz: options.hz });
    }
    let (mode, cgroup_id, cgroup_level, target) = match &options.selection {
        Selection::All => (0u32, 0u64, 0u32, Target::All),
        Selection::Pids(pids) => {
            for pid in pids {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(RuntimeError::NoSuchProcess { pid: *pid });
                }
            }
            (1, 0, 0, Target::Pids { pids: pids.clone() })
        }
        Selection::Cgroup(path) => {
            let (dir, id, level) = resolve_cgroup(path)?;
            (2, id, level, Target::Cgroup { path: dir })
        }
    };
    // Declared before the sampler, so dropped after it, on every path.
    let _attached = ClearOnDrop(&options.attached);
    let mut bpf = load(mode, cgroup_id, cgroup_level, 0)?;
    if let Selection::Pids(pids) = &options.selection {
        add_targets(&mut bpf, pids)?;
    }
    let tables = Tables::take(&mut bpf)?;
    let program: &mut PerfEvent = bpf
        .program_mut("stella_sample")
        .ok_or_else(|| missing("stella_sample"))?
        .try_into()
        .map_err(|e| kernel("stella_sample", e))?;
    program
        .load()
        .map_err(|e| classify("loading the sampler", e))?;
    let cpus = aya::util::online_cpus().map_err(|(what, e)| RuntimeError::Io {
        path: what.into(),
        source: e,
    })?;

    let started = SystemTime::now();
    let clock = Instant::now();
    let mut sampled = Duration::ZERO;
    let mut seen: std::collections::HashSet<u32> = std::collections::HashSet::new();
    let mut processes: HashMap<u32, (String, u64)> = HashMap::new();
    loop {
        let burst = options.duty.map_or(options.duration, |d| d.on);
        let mut links = Vec::new();
        for cpu in &cpus {
            let link = program
                .attach(
                    PerfEventConfig::Software(SoftwareEvent::CpuClock),
                    PerfEventScope::AllProcessesOneCpu { cpu: *cpu },
                    SamplePolicy::Frequency(options.hz),
                    false,
                )
                .map_err(|e| classify("attaching to cpu-clock", e))?;
            links.push(link);
        }
        options.attached.store(true, Ordering::Release);
        let burst_start = Instant::now();
        let mut stopped = false;
        loop {
            std::thread::sleep(Duration::from_millis(100));
            note_processes(&tables, &mut seen, &mut processes, maps);
            if options.stop.load(Ordering::Relaxed) || clock.elapsed() >= options.duration {
                stopped = true;
            }
            if stopped || burst_start.elapsed() >= burst {
                break;
            }
        }
        sampled += burst_start.elapsed();
        for link in links {
            program
                .detach(link)
                .map_err(|e| kernel("detaching the sampler", e))?;
        }
        options.attached.store(false, Ordering::Release);
        let Some(duty) = options.duty else {
            break;
        };
        if stopped {
            break;
        }
        if !rest_until(options, clock, burst_start + duty.period) {
            break;
        }
    }
    let ended = SystemTime::now();
    note_processes(&tables, &mut seen, &mut processes, maps);

    let counters = read_stats(&tables.stats)?;
    let stacks = read_stacks(&tables, &processes, maps)?;
    let mut profile = Profile {
        schema: crate::profile::SCHEMA.to_string(),
        backend: "ebpf".to_string(),
        hz: Some(options.hz),
        target,
        window: Some(Window::new(started, ended, sampled)),
        stats: Stats {
            samples: counters[0],
            lost: counters[1],
            user_stacks_missing: counters[2],
            kernel_stacks_missing: counters[3],
            ..Stats::default()
        },
        stacks,
    };
    profile.normalize();
    Ok(profile)
}

/// The off part of a duty cycle: waits until `until`, watching for the stop flag and the end of
/// the recording; false when the recording is over.
pub(crate) fn rest_until(options: &RecordOptions, clock: Instant, until: Instant) -> bool {
    while Instant::now() < until {
        if options.stop.load(Ordering::Relaxed) || clock.elapsed() >= options.duration {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Loads the object with its settings (before the kernel verifies it).
pub(crate) fn load(
    mode: u32,
    cgroup_id: u64,
    cgroup_level: u32,
    witness_stacks: u64,
) -> Result<Ebpf, RuntimeError> {
    EbpfLoader::new()
        .override_global("filter_mode", &mode, true)
        .override_global("target_cgroup", &cgroup_id, true)
        .override_global("target_cgroup_level", &cgroup_level, true)
        .override_global("witness_stacks_per_symbol", &witness_stacks, true)
        .load(BPF_OBJECT)
        .map_err(|e| classify("loading the eBPF object", e))
}

/// Puts `pids` into the program's `targets` set.
pub(crate) fn add_targets(bpf: &mut Ebpf, pids: &[u32]) -> Result<(), RuntimeError> {
    let map = bpf.map_mut("targets").ok_or_else(|| missing("targets"))?;
    let mut targets: BpfHashMap<&mut MapData, u32, u8> =
        BpfHashMap::try_from(map).map_err(|e| kernel("targets map", e))?;
    for pid in pids {
        targets
            .insert(pid, 1, 0)
            .map_err(|e| kernel("adding a target pid", e))?;
    }
    Ok(())
}

/// Resolves a cgroup argument to its directory, id (the directory's inode) and depth.
pub(crate) fn resolve_cgroup(path: &str) -> Result<(String, u64, u32), RuntimeError> {
    use std::os::unix::fs::MetadataExt;
    let root = cgroup2_root().ok_or_else(|| RuntimeError::Cgroup {
        path: path.to_owned(),
        problem: CgroupProblem::NoHierarchy,
    })?;
    resolve_cgroup_in(&root, path).map(|(dir, level)| {
        let id = std::fs::metadata(&dir).map(|m| m.ino()).unwrap_or(0);
        (dir, id, level)
    })
}

/// The directory and depth of a cgroup given absolute (under `root`) or as `/proc/PID/cgroup`
/// writes it (relative to `root`).
fn resolve_cgroup_in(root: &str, path: &str) -> Result<(String, u32), RuntimeError> {
    let relative = path.strip_prefix(root).unwrap_or(path).trim_matches('/');
    if relative.split('/').any(|c| c == "..") {
        return Err(RuntimeError::Cgroup {
            path: path.to_owned(),
            problem: CgroupProblem::ParentComponent,
        });
    }
    let dir = if relative.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{relative}")
    };
    let meta = std::fs::metadata(&dir).map_err(|e| RuntimeError::io(&dir, e))?;
    if !meta.is_dir() {
        return Err(RuntimeError::Cgroup {
            path: path.to_owned(),
            problem: CgroupProblem::NotADirectory { dir },
        });
    }
    let level = if relative.is_empty() {
        0
    } else {
        relative.split('/').count() as u32
    };
    Ok((dir, level))
}

/// Reads the `processes` map for pids not seen yet: their name and cgroup, and a snapshot of
/// their mappings while they still run.
pub(crate) fn note_processes(
    tables: &Tables,
    seen: &mut std::collections::HashSet<u32>,
    processes: &mut HashMap<u32, (String, u64)>,
    maps: &mut MapsCache,
) {
    for (pid, info) in tables.processes.iter().flatten() {
        if !seen.insert(pid) {
            continue;
        }
        maps.observe(pid);
        let comm_len = info[..16].iter().position(|b| *b == 0).unwrap_or(16);
        let comm = String::from_utf8_lossy(&info[..comm_len]).into_owned();
        let mut cgroup = [0u8; 8];
        cgroup.copy_from_slice(&info[16..24]);
        processes.insert(pid, (comm, u64::from_ne_bytes(cgroup)));
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) {
            let path = text
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("")
                .to_string();
            maps.note_cgroup(pid, &path);
        }
    }
}

/// The maps user space reads, taken out of the loaded object.
pub(crate) struct Tables {
    pub(crate) processes: BpfHashMap<MapData, u32, [u8; 24]>,
    pub(crate) ustacks: BpfHashMap<MapData, [u64; 2], [u8; USER_STACK_BYTES]>,
    pub(crate) stats: PerCpuArray<MapData, u64>,
    counts: BpfHashMap<MapData, [u64; 4], u64>,
    kstacks: StackTraceMap<MapData>,
}

impl Tables {
    pub(crate) fn take(bpf: &mut Ebpf) -> Result<Self, RuntimeError> {
        let mut take = |name: &str| bpf.take_map(name).ok_or_else(|| missing(name));
        Ok(Tables {
            processes: BpfHashMap::try_from(take("processes")?)
                .map_err(|e| kernel("processes map", e))?,
            ustacks: BpfHashMap::try_from(take("ustacks")?)
                .map_err(|e| kernel("ustacks map", e))?,
            stats: PerCpuArray::try_from(take("stats")?).map_err(|e| kernel("stats map", e))?,
            counts: BpfHashMap::try_from(take("counts")?).map_err(|e| kernel("counts map", e))?,
            kstacks: StackTraceMap::try_from(take("kstacks")?)
                .map_err(|e| kernel("kstacks map", e))?,
        })
    }
}

pub(crate) fn read_stats(stats: &PerCpuArray<MapData, u64>) -> Result<[u64; 8], RuntimeError> {
    let mut totals = [0u64; 8];
    for (index, total) in totals.iter_mut().enumerate() {
        let values = stats
            .get(&(index as u32), 0)
            .map_err(|e| kernel("reading the counters", e))?;
        *total = values.iter().sum();
    }
    Ok(totals)
}

/// One user frame as the kernel gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawUserFrame {
    /// `(BuildID, file offset)`.
    BuildId([u8; 20], u64),
    /// A raw address (the kernel could not read the BuildID).
    Address(u64),
}

/// Decodes a `struct user_stack` value.
pub(crate) fn decode_user_stack(bytes: &[u8]) -> Vec<RawUserFrame> {
    let len = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0) as usize;
    let frames = bytes.get(8..).unwrap_or(&[]);
    let len = len.min(frames.len());
    frames[..len]
        .chunks_exact(32)
        .filter_map(|frame| {
            let status = i32::from_ne_bytes(frame[..4].try_into().ok()?);
            let mut id = [0u8; 20];
            id.copy_from_slice(&frame[4..24]);
            let value = u64::from_ne_bytes(frame[24..32].try_into().ok()?);
            match status {
                1 => Some(RawUserFrame::BuildId(id, value)),
                2 => Some(RawUserFrame::Address(value)),
                _ => None,
            }
        })
        .collect()
}

/// Turns a decoded user stack (leaf first) into locations; caller frames are return
/// addresses, moved back one byte into the call.
pub(crate) fn user_locations(
    pid: u32,
    frames: &[RawUserFrame],
    maps: &mut MapsCache,
) -> Vec<Frame> {
    frames
        .iter()
        .enumerate()
        .map(|(depth, frame)| {
            let back = u64::from(depth > 0);
            let location = match *frame {
                RawUserFrame::BuildId(id, offset) => {
                    let build_id = build_id_hex(&id);
                    let path = maps.path_of_build_id(&build_id).map(str::to_string);
                    Location::File {
                        build_id: Some(build_id),
                        path,
                        file_offset: offset.saturating_sub(back),
                    }
                }
                RawUserFrame::Address(address) => maps.locate(pid, address.saturating_sub(back)),
            };
            Frame::unresolved(location)
        })
        .collect()
}

fn read_stacks(
    tables: &Tables,
    processes: &HashMap<u32, (String, u64)>,
    maps: &mut MapsCache,
) -> Result<Vec<Stack>, RuntimeError> {
    let counts = &tables.counts;
    let ustacks = user_stacks(&tables.ustacks)?;
    let kstacks = &tables.kstacks;

    let mut kernel_frames: HashMap<i64, Vec<Frame>> = HashMap::new();
    let mut merged: BTreeMap<(u32, Vec<Frame>), u64> = BTreeMap::new();
    for entry in counts.iter() {
        let (key, count) = entry.map_err(|e| kernel("reading the counts", e))?;
        let pid = key[0] as u32;
        let kernel_stack = key[3] as i64;
        let mut frames = Vec::new();
        if kernel_stack >= 0 {
            let stack = kernel_frames.entry(kernel_stack).or_insert_with(|| {
                kstacks
                    .get(&(kernel_stack as u32), 0)
                    .map(|trace| {
                        trace
                            .frames()
                            .iter()
                            .enumerate()
                            .map(|(depth, f)| {
                                Frame::unresolved(Location::Kernel {
                                    address: f.ip.saturating_sub(u64::from(depth > 0)),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            });
            frames.extend(stack.iter().cloned());
        }
        if (key[1] != 0 || key[2] != 0)
            && let Some(raw) = ustacks.get(&[key[1], key[2]])
        {
            frames.extend(user_locations(pid, raw, maps));
        }
        *merged.entry((pid, frames)).or_default() += count;
    }
    Ok(merged
        .into_iter()
        .map(|((pid, frames), count)| {
            let (comm, container) = match processes.get(&pid) {
                Some((comm, _)) => (Some(comm.clone()), maps.container_of(pid)),
                None => (None, None),
            };
            Stack {
                pid: Some(pid),
                comm,
                container,
                image: None,
                count,
                frames,
            }
        })
        .collect())
}

/// Reads every deduplicated user stack.
pub(crate) fn user_stacks(
    table: &BpfHashMap<MapData, [u64; 2], [u8; USER_STACK_BYTES]>,
) -> Result<HashMap<[u64; 2], Vec<RawUserFrame>>, RuntimeError> {
    let mut out = HashMap::new();
    for entry in table.iter() {
        let (key, value) = entry.map_err(|e| kernel("reading the user stacks", e))?;
        out.insert(key, decode_user_stack(&value));
    }
    Ok(out)
}

pub(crate) fn missing(name: &str) -> RuntimeError {
    RuntimeError::Kernel {
        operation: format!("the eBPF object has no `{name}`"),
        message: "rebuild it with bpf/build.sh".to_string(),
    }
}

pub(crate) fn kernel(operation: &str, error: impl std::error::Error) -> RuntimeError {
    RuntimeError::Kernel {
        operation: operation.to_string(),
        message: chain(&error),
    }
}

/// An error from the loader, as a permission error when the kernel said EPERM/EACCES.
pub(crate) fn classify(operation: &str, error: impl std::error::Error + 'static) -> RuntimeError {
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(1 | 13))
        {
            return RuntimeError::Permission {
                operation: operation.to_string(),
                capability: "CAP_BPF and CAP_PERFMON".to_string(),
            };
        }
        source = e.source();
    }
    kernel(operation, error)
}

/// The error and its causes, one line; a verifier log is cut to its last lines (the reason
/// is at the end, and the whole log can be megabytes).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    const KEEP: usize = 2000;
    if text.len() > KEEP {
        let mut cut = text.len() - KEEP;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text = format!("…{}", &text[cut..]);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_stack_values_decode_build_id_and_address_frames() {
        let mut value = vec![0u8; USER_STACK_BYTES];
        value[..4].copy_from_slice(&(3u32 * 32).to_ne_bytes());
        // frame 0: valid build id
        value[8..12].copy_from_slice(&1i32.to_ne_bytes());
        value[12..32].copy_from_slice(&[0xab; 20]);
        value[32..40].copy_from_slice(&0x1139u64.to_ne_bytes());
        // frame 1: address only
        value[40..44].copy_from_slice(&2i32.to_ne_bytes());
        value[64..72].copy_from_slice(&0x7f00_0000_1000u64.to_ne_bytes());
        // frame 2: empty
        let frames = decode_user_stack(&value);
        assert_eq!(
            frames,
            vec![
                RawUserFrame::BuildId([0xab; 20], 0x1139),
                RawUserFrame::Address(0x7f00_0000_1000)
            ]
        );
        // A length beyond the buffer is clamped, a short buffer yields nothing.
        value[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(decode_user_stack(&value).len(), 2);
        assert!(decode_user_stack(&[1, 2]).is_empty());
    }

    #[test]
    fn caller_frames_move_back_one_byte() {
        let mut maps = MapsCache::with_proc_root("/nonexistent");
        let frames = user_locations(
            1,
            &[
                RawUserFrame::BuildId([0xab; 20], 0x1139),
                RawUserFrame::BuildId([0xab; 20], 0x1190),
            ],
            &mut maps,
        );
        let offsets: Vec<u64> = frames
            .iter()
            .map(|f| match f.location {
                Location::File { file_offset, .. } => file_offset,
                _ => 0,
            })
            .collect();
        assert_eq!(offsets, vec![0x1139, 0x118f]);
    }

    #[test]
    fn cgroup_paths_resolve_under_the_root_and_refuse_dot_dot() {
        let root = tempfile::tempdir().unwrap();
        let root_text = root.path().to_str().unwrap();
        std::fs::create_dir_all(root.path().join("a/b")).unwrap();
        assert!(resolve_cgroup_in(root_text, &format!("{root_text}/../etc")).is_err());
        assert_eq!(
            resolve_cgroup_in(root_text, "/").unwrap(),
            (root_text.to_string(), 0)
        );
        assert_eq!(
            resolve_cgroup_in(root_text, "/a/b").unwrap(),
            (format!("{root_text}/a/b"), 2)
        );
        assert_eq!(
            resolve_cgroup_in(root_text, &format!("{root_text}/a"))
                .unwrap()
                .1,
            1
        );
        assert!(resolve_cgroup_in(root_text, "/missing").is_err());
    }
}
