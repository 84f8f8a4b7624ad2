//! The fallback sampler for kernels without BPF: `perf_event_open` on `cpu-clock` per CPU, with
//! the kernel's own call chains read from each event's ring buffer.
//!
//! Same selection, frequency, duration and duty cycle as the eBPF sampler ([`crate::sampler`]);
//! the differences are where the work happens and what a frame is. Every sample crosses into
//! user space (no in-kernel aggregation), and user frames arrive as raw addresses, normalised
//! through `/proc/PID/maps` when a process is first seen ([`MapsCache`]) — a process that maps a
//! library and exits between two reads can leave frames only as anonymous addresses. Selection
//! by pid or cgroup is applied in user space to the per-CPU samples.
//!
//! Needs `CAP_PERFMON` (or `perf_event_paranoid` ≤ 0) for system-wide events.
//!
//! What this module does not own: names (`symbolize`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use perf_event::data::Record as Data;
use perf_event::events::Software;
use perf_event::{Builder, SampleFlag, Sampler};

use crate::RuntimeError;
use crate::frame::{Frame, Location};
use crate::procmaps::MapsCache;
use crate::profile::{Profile, Stack, Stats, Target, Window};
use crate::sampler::{RecordOptions, Selection, rest_until};

/// `PERF_CONTEXT_*` markers in a call chain are the values at or above this (`-4095`).
const PERF_CONTEXT_MAX: u64 = (-4095i64) as u64;
/// `PERF_CONTEXT_KERNEL`: the addresses that follow are kernel addresses.
const PERF_CONTEXT_KERNEL: u64 = (-128i64) as u64;
/// `PERF_CONTEXT_USER`: the addresses that follow are user addresses.
const PERF_CONTEXT_USER: u64 = (-512i64) as u64;
/// Ring buffer per CPU: 64 pages of samples.
const RING_BYTES: usize = 64 * 4096;

fn open(cpu: usize, hz: u64) -> Result<Sampler, RuntimeError> {
    let mut builder = Builder::new(Software::CPU_CLOCK);
    builder
        .one_cpu(cpu)
        .any_pid()
        .sample_frequency(hz)
        .sample(SampleFlag::TID | SampleFlag::IP | SampleFlag::CALLCHAIN)
        .sample_max_stack(crate::sampler::MAX_FRAMES as u16)
        .wakeup_events(1);
    let counter = builder
        .build()
        .map_err(|e| perf_error("perf_event_open", e))?;
    counter
        .sampled(RING_BYTES)
        .map_err(|e| perf_error("mapping the perf ring buffer", e))
}

fn perf_error(operation: &str, error: std::io::Error) -> RuntimeError {
    if matches!(error.raw_os_error(), Some(1 | 13)) {
        RuntimeError::Permission {
            operation: operation.to_string(),
            capability: "CAP_PERFMON".to_string(),
        }
    } else {
        RuntimeError::Kernel {
            operation: operation.to_string(),
            message: error.to_string(),
        }
    }
}

/// Splits a call chain into frames, leaf first: kernel addresses as kernel locations, user
/// addresses through the process's mappings; every frame but the leaf is a return address and
/// is moved back one byte.
pub(crate) fn chain_frames(pid: u32, chain: &[u64], maps: &mut MapsCache) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut kernel = false;
    for &address in chain {
        if address >= PERF_CONTEXT_MAX {
            if address == PERF_CONTEXT_KERNEL {
                kernel = true;
            } else if address == PERF_CONTEXT_USER {
                kernel = false;
            }
            continue;
        }
        let address = address.saturating_sub(u64::from(!frames.is_empty()));
        frames.push(Frame::unresolved(if kernel {
            Location::Kernel { address }
        } else {
            maps.locate(pid, address)
        }));
    }
    frames
}

/// Whether `pid` is selected: the set, or a cgroup at or below `cgroup` (as `/proc/PID/cgroup`
/// names it).
struct Filter {
    selection: Selection,
    cgroup: Option<String>,
    decided: HashMap<u32, bool>,
}

impl Filter {
    fn wants(&mut self, pid: u32) -> bool {
        if pid == 0 {
            return false;
        }
        match &self.selection {
            Selection::All => true,
            Selection::Pids(pids) => pids.contains(&pid),
            Selection::Cgroup(_) => *self.decided.entry(pid).or_insert_with(|| {
                let Some(target) = &self.cgroup else {
                    return false;
                };
                std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .ok()
                    .and_then(|t| {
                        t.lines()
                            .find_map(|l| l.strip_prefix("0::").map(str::to_string))
                    })
                    .is_some_and(|path| path == *target || path.starts_with(&format!("{target}/")))
            }),
        }
    }
}

/// Records with `perf_event_open` and returns an unsymbolised profile (backend `perf-event`).
pub fn record(options: &RecordOptions, maps: &mut MapsCache) -> Result<Profile, RuntimeError> {
    if options.hz == 0 || options.hz > crate::MAX_HZ {
        return Err(RuntimeError::Rate { hz: options.hz });
    }
    let (target, cgroup) = match &options.selection {
        Selection::All => (Target::All, None),
        Selection::Pids(pids) => (Target::Pids { pids: pids.clone() }, None),
        Selection::Cgroup(path) => {
            let root = crate::sampler::cgroup2_root().unwrap_or_default();
            let relative = path
                .strip_prefix(&root)
                .unwrap_or(path)
                .trim_end_matches('/');
            let relative = if relative.starts_with('/') {
                relative.to_string()
            } else {
                format!("/{relative}")
            };
            (
                Target::Cgroup { path: path.clone() },
                Some(relative.trim_end_matches('/').to_string()),
            )
        }
    };
    let _attached = crate::sampler::ClearOnDrop(&options.attached);
    let cpus = aya::util::online_cpus().map_err(|(what, e)| RuntimeError::io(what, e))?;
    let mut samplers = cpus
        .iter()
        .map(|cpu| open(*cpu as usize, options.hz))
        .collect::<Result<Vec<_>, _>>()?;
    let mut collected = Collected {
        filter: Filter {
            selection: options.selection.clone(),
            cgroup,
            decided: HashMap::new(),
        },
        seen: HashSet::new(),
        comms: HashMap::new(),
        merged: BTreeMap::new(),
        stats: Stats::default(),
    };

    let started = SystemTime::now();
    let clock = Instant::now();
    let mut sampled = Duration::ZERO;
    loop {
        let burst = options.duty.map_or(options.duration, |d| d.on);
        for sampler in &mut samplers {
            sampler
                .enable()
                .map_err(|e| perf_error("enabling a perf event", e))?;
        }
        options.attached.store(true, Ordering::Release);
        let burst_start = Instant::now();
        let mut stopped = false;
        loop {
            std::thread::sleep(Duration::from_millis(50));
            for sampler in &mut samplers {
                collected.drain(sampler, maps);
            }
            if options.stop.load(Ordering::Relaxed) || clock.elapsed() >= options.duration {
                stopped = true;
            }
            if stopped || burst_start.elapsed() >= burst {
                break;
            }
        }
        sampled += burst_start.elapsed();
        for sampler in &mut samplers {
            sampler
                .disable()
                .map_err(|e| perf_error("disabling a perf event", e))?;
            collected.drain(sampler, maps);
        }
        options.attached.store(false, Ordering::Release);
        let Some(duty) = options.duty else { break };
        if stopped {
            break;
        }
        if !rest_until(options, clock, burst_start + duty.period) {
            break;
        }
    }
    let ended = SystemTime::now();
    let Collected {
        comms,
        merged,
        stats,
        ..
    } = collected;
    let stacks = merged
        .into_iter()
        .map(|((pid, frames), count)| Stack {
            pid: Some(pid),
            comm: comms.get(&pid).cloned(),
            container: maps.container_of(pid),
            image: None,
            count,
            frames,
        })
        .collect();
    let mut profile = Profile {
        schema: crate::profile::SCHEMA.to_string(),
        backend: "perf-event".to_string(),
        hz: Some(options.hz),
        target,
        window: Some(Window::new(started, ended, sampled)),
        stats,
        stacks,
    };
    profile.normalize();
    Ok(profile)
}

/// What the samples so far add up to.
struct Collected {
    filter: Filter,
    seen: HashSet<u32>,
    comms: HashMap<u32, String>,
    merged: BTreeMap<(u32, Vec<Frame>), u64>,
    stats: Stats,
}

impl Collected {
    /// Reads every record waiting in `sampler`'s ring buffer.
    fn drain(&mut self, sampler: &mut Sampler, maps: &mut MapsCache) {
        let Collected {
            filter,
            seen,
            comms,
            merged,
            stats,
        } = self;
        while let Some(record) = sampler.next_record() {
            match record.parse_record() {
                Ok(Data::Sample(sample)) => {
                    let Some(pid) = sample.pid() else { continue };
                    if !filter.wants(pid) {
                        continue;
                    }
                    stats.samples += 1;
                    if seen.insert(pid) {
                        maps.observe(pid);
                        if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                            comms.insert(pid, comm.trim_end().to_string());
                        }
                        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                            && let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::"))
                        {
                            maps.note_cgroup(pid, path);
                        }
                    }
                    let chain = sample.callchain().unwrap_or(&[]);
                    let frames = chain_frames(pid, chain, maps);
                    if !frames
                        .iter()
                        .any(|f| !matches!(f.location, Location::Kernel { .. }))
                    {
                        stats.user_stacks_missing += 1;
                    }
                    if !frames
                        .iter()
                        .any(|f| matches!(f.location, Location::Kernel { .. }))
                    {
                        stats.kernel_stacks_missing += 1;
                    }
                    *merged.entry((pid, frames)).or_default() += 1;
                }
                Ok(Data::Lost(lost)) => stats.lost += lost.lost,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_chains_split_at_context_markers_and_callers_move_back_a_byte() {
        let mut maps = MapsCache::with_proc_root("/nonexistent");
        let chain = [
            PERF_CONTEXT_KERNEL,
            0xffff_ffff_8100_0010,
            0xffff_ffff_8100_0200,
            PERF_CONTEXT_USER,
            0x5555_0000_1139,
        ];
        let frames = chain_frames(9, &chain, &mut maps);
        assert_eq!(
            frames
                .iter()
                .map(|f| f.location.clone())
                .collect::<Vec<_>>(),
            vec![
                Location::Kernel {
                    address: 0xffff_ffff_8100_0010
                },
                Location::Kernel {
                    address: 0xffff_ffff_8100_01ff
                },
                Location::Anonymous {
                    pid: 9,
                    address: 0x5555_0000_1138
                },
            ]
        );
    }
}
