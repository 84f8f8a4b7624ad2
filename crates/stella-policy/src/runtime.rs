//! Runtime evidence joined to the functions an assessment found: witness reports (exact call
//! counts from uprobes) and profiles (sampled stacks), indexed by `(BuildID, function)`.
//!
//! For a vulnerable function present in a binary (by its BuildID), the evidence says one of:
//! - **executed**: a witness counted calls, or sampled stacks hold a frame in it (the function
//!   itself, or a frame inlined into another); with the counts, the share of the profile's
//!   samples, the processes, the windows and the top stacks;
//! - **never executed**: witnessed, with zero calls, on at least one instance, for a window —
//!   a zero says nothing beyond those instances and that window, so it is kept with them and
//!   expires (see [`Policy::zero_valid_for`]);
//! - nothing (neither witnessed nor sampled): a sampled profile that does not show a function
//!   never proves it did not run — sampling misses cold code.
//!
//! Frames of the binary that could not be named are counted as `unknown` for that BuildID:
//! they may hide the function, so a profile with them never helps a `not_affected`.
//!
//! A report whose witness names no BuildID cannot be tied to a binary of the image, and a report
//! or profile whose window ends before it starts (a clock that went backwards) or is not RFC
//! 3339 cannot say when: neither is used, each is named by [`Evidence::unused`]. Reports from
//! several agents add up: calls and samples are summed, a zero counts only its own instances.
//!
//! Not here: taking the evidence (`stella-runtime`), the verdict rules (`crate::assess`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use stella_runtime::frame::{Frame, Location, Symbol};
use stella_runtime::profile::{Profile, Stack};
use stella_runtime::witness::WitnessReport;

/// How runtime evidence is weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// How long after its window ends a zero count still justifies `not_affected`, in seconds.
    pub zero_valid_for: i64,
    /// The share of the sampled CPU (percent) at or above which an executed vulnerable function
    /// is called hot in the hot-symbol index.
    pub hot_share: f64,
    /// Whether a function seen in sampled stacks but never witnessed is `affected` (else it
    /// stays `under_investigation` until a witness counts a call).
    pub sampled_affects: bool,
}

impl Default for Policy {
    /// A zero is good for 7 days after its window; 1 % of the sampled CPU is hot; sampled
    /// stacks alone show execution.
    fn default() -> Self {
        Policy {
            zero_valid_for: 7 * 24 * 3600,
            hot_share: 1.0,
            sampled_affects: true,
        }
    }
}

/// A time window, RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Window {
    /// Start.
    pub start: String,
    /// End.
    pub end: String,
}

impl Window {
    /// Why the window cannot be used: times that are not RFC 3339, or an end before the start
    /// (a clock that went backwards).
    fn problem(&self) -> Option<String> {
        let start = self.start.parse::<jiff::Timestamp>();
        let end = self.end.parse::<jiff::Timestamp>();
        match (start, end) {
            (Ok(s), Ok(e)) if e < s => Some(format!(
                "the window ends ({}) before it starts ({}): a clock went backwards; not used",
                self.end, self.start
            )),
            (Ok(_), Ok(_)) => None,
            _ => Some(format!(
                "the window {:?}..{:?} is not RFC 3339; not used",
                self.start, self.end
            )),
        }
    }
}

/// What ran of one function of one binary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// Calls counted by witnesses.
    pub calls: u64,
    /// Samples whose stack holds the function.
    pub samples: u64,
    /// Samples of the profiles that saw the binary at all.
    pub profile_samples: u64,
    /// Processes seen calling it or sampled in it (`pid` or `comm`).
    pub processes: BTreeSet<String>,
    /// Containers of the sampled processes, when they ran in one.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub containers: BTreeSet<String>,
    /// Windows of the witnesses and profiles that saw it run.
    pub windows: BTreeSet<Window>,
    /// The heaviest stacks through it (at most 5).
    pub stacks: Vec<TopStack>,
    /// Witnessed with zero calls: the window and the instances covered, per report.
    pub zeros: Vec<Zero>,
}

/// A sampled stack through a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TopStack {
    /// Samples with exactly this stack.
    pub count: u64,
    /// Its frames, leaf first, by name.
    pub frames: Vec<String>,
}

/// A zero count: what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Zero {
    /// The window.
    pub window: Window,
    /// The processes that had the binary mapped (the instances the zero is about).
    pub instances: Vec<u32>,
    /// The report it came from.
    pub source: String,
}

impl Execution {
    /// Whether it ran.
    pub fn executed(&self) -> bool {
        self.calls > 0 || self.samples > 0
    }

    /// Share of the profiles' samples, in percent (0 without samples).
    pub fn cpu_share(&self) -> f64 {
        if self.profile_samples == 0 {
            0.0
        } else {
            (self.samples as f64) * 100.0 / (self.profile_samples as f64)
        }
    }
}

/// The evidence, indexed.
#[derive(Debug, Default)]
pub struct Evidence {
    /// `(BuildID, function)` → what ran.
    by_function: BTreeMap<(String, String), Execution>,
    /// BuildID → samples in frames that could not be named.
    unknown: BTreeMap<String, u64>,
    /// BuildID → samples of profiles that saw it.
    seen: BTreeMap<String, u64>,
    /// Witnesses that could not be tied to a binary, by report.
    unused: Vec<String>,
}

impl Evidence {
    /// Indexes `witnesses` and `profiles`, each named by where it came from.
    pub fn new(witnesses: &[(String, WitnessReport)], profiles: &[(String, Profile)]) -> Self {
        Self::with_names(witnesses, profiles, |stack, names| {
            names.extend(stack.frames.iter().map(|f| f.symbol.as_ref()));
        })
    }

    /// As [`Evidence::new`], with the frames of each stack named by `names` instead of by the
    /// symbols they carry: `names(stack, out)` pushes onto `out` the symbol of each of the
    /// stack's frames, in order (`None`: unknown). It lets the caller name frames another way
    /// (the image's verified symbol tables) without a renamed copy of every profile.
    ///
    /// Only stacks holding a frame of some function are named (their top stacks spelled out),
    /// each distinct frame name and each distinct stack once; every per-sample count is kept
    /// exactly as if each stack were added on its own.
    pub fn with_names<'a>(
        witnesses: &[(String, WitnessReport)],
        profiles: &'a [(String, Profile)],
        mut names: impl FnMut(&'a Stack, &mut Vec<Option<&'a Symbol>>),
    ) -> Self {
        let mut e = Evidence::default();
        e.add_witnesses(witnesses);
        let mut join = Join::default();
        let mut unknown: HashMap<&'a str, u64> = HashMap::new();
        let mut seen: HashMap<&'a str, u64> = HashMap::new();
        let mut symbols: Vec<Option<&'a Symbol>> = Vec::new();
        let mut keys: Vec<(&'a str, &'a str)> = Vec::new();
        let mut named: Vec<u32> = Vec::new();
        for (source, profile) in profiles {
            let window = profile.window.as_ref().map(|w| Window {
                start: w.start.clone(),
                end: w.end.clone(),
            });
            if let Some(why) = window.as_ref().and_then(Window::problem) {
                e.unused.push(format!("{source}: {why}"));
                continue;
            }
            let window = window.map(|w| join.window(w));
            let total: u64 = profile.stacks.iter().map(|s| s.count).sum();
            let mut profile_builds: HashSet<&'a str> = HashSet::new();
            for stack in &profile.stacks {
                symbols.clear();
                names(stack, &mut symbols);
                keys.clear();
                for (frame, symbol) in stack.frames.iter().zip(&symbols) {
                    let Some(build_id) = frame.build_id() else {
                        continue;
                    };
                    profile_builds.insert(build_id);
                    match symbol {
                        None => *unknown.entry(build_id).or_default() += stack.count,
                        Some(s) => {
                            keys.push((build_id, s.function.as_str()));
                            for i in &s.inlined {
                                keys.push((build_id, i.function.as_str()));
                            }
                        }
                    }
                }
                if keys.is_empty() {
                    continue;
                }
                keys.sort_unstable();
                keys.dedup();
                named.clear();
                for (frame, symbol) in stack.frames.iter().zip(&symbols) {
                    named.push(join.name(frame, *symbol));
                }
                let stack_id = join.stack(&named);
                let process = join.process(stack.pid, stack.comm.as_deref());
                let container = stack.container.as_deref().map(|c| join.container(c));
                for key in &keys {
                    let entry = join.functions.entry(*key).or_default();
                    entry.samples += stack.count;
                    push_new(&mut entry.processes, process);
                    if let Some(c) = container {
                        push_new(&mut entry.containers, c);
                    }
                    if let Some(w) = window {
                        push_new(&mut entry.windows, w);
                    }
                    entry.stacks.push((stack_id, stack.count));
                }
            }
            for b in profile_builds {
                *seen.entry(b).or_default() += total;
            }
        }
        e.unknown = unknown
            .into_iter()
            .map(|(b, n)| (b.to_owned(), n))
            .collect();
        e.seen = seen.into_iter().map(|(b, n)| (b.to_owned(), n)).collect();
        join.finish(&mut e.by_function);
        for ((build_id, _), entry) in &mut e.by_function {
            entry.profile_samples = e.seen.get(build_id).copied().unwrap_or(0);
        }
        e
    }

    /// Adds the witness reports.
    fn add_witnesses(&mut self, witnesses: &[(String, WitnessReport)]) {
        for (source, report) in witnesses {
            let window = Window {
                start: report.window.start.clone(),
                end: report.window.end.clone(),
            };
            if let Some(why) = window.problem() {
                self.unused.push(format!("{source}: {why}"));
                continue;
            }
            for w in &report.witnesses {
                let Some(build_id) = w.build_id.clone() else {
                    self.unused.push(format!(
                        "{source}: {} in {} has no BuildID",
                        w.function, w.binary
                    ));
                    continue;
                };
                let entry = self
                    .by_function
                    .entry((build_id, w.function.clone()))
                    .or_default();
                entry.calls += w.calls;
                if w.calls > 0 {
                    entry.windows.insert(window.clone());
                    for p in w.processes.iter().filter(|p| p.calls > 0) {
                        entry
                            .processes
                            .insert(process_name(Some(p.pid), p.comm.as_deref()));
                    }
                } else {
                    // A witness of one binary among several names its own instances.
                    let instances = w.instances.as_ref().unwrap_or(&report.instances);
                    if !instances.is_empty() && report.lost == 0 {
                        entry.zeros.push(Zero {
                            window: window.clone(),
                            instances: instances.clone(),
                            source: source.clone(),
                        });
                    }
                }
            }
        }
    }

    /// What ran of `function` in the binary with `build_id`.
    pub fn execution(&self, build_id: &str, function: &str) -> Option<&Execution> {
        self.by_function
            .get(&(build_id.to_owned(), function.to_owned()))
    }

    /// Samples of profiles that saw `build_id` at all.
    pub fn seen_samples(&self, build_id: &str) -> u64 {
        self.seen.get(build_id).copied().unwrap_or(0)
    }

    /// Samples in frames of `build_id` no source could name.
    pub fn unknown_samples(&self, build_id: &str) -> u64 {
        self.unknown.get(build_id).copied().unwrap_or(0)
    }

    /// Evidence that could not be tied to a binary.
    pub fn unused(&self) -> &[String] {
        &self.unused
    }

    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.by_function.is_empty() && self.unknown.is_empty() && self.unused.is_empty()
    }
}

fn process_name(pid: Option<u32>, comm: Option<&str>) -> String {
    match (comm, pid) {
        (Some(c), Some(p)) => format!("{c}[{p}]"),
        (Some(c), None) => c.to_owned(),
        (None, Some(p)) => format!("[{p}]"),
        (None, None) => "?".to_owned(),
    }
}

/// A frame's name in a top stack, before it is spelled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FrameName<'a> {
    /// Named: the symbol's display name.
    Symbol(&'a str),
    /// Unknown, in a file: `[unknown]+0x<offset>`.
    File(u64),
    /// Unknown, in the kernel: `[kernel]+0x<address>`.
    Kernel(u64),
    /// Unknown, elsewhere: `[unknown]`.
    Other,
}

impl FrameName<'_> {
    fn of<'a>(frame: &'a Frame, symbol: Option<&'a Symbol>) -> FrameName<'a> {
        match (symbol, &frame.location) {
            (Some(s), _) => FrameName::Symbol(s.display_name()),
            (None, Location::File { file_offset, .. }) => FrameName::File(*file_offset),
            (None, Location::Kernel { address }) => FrameName::Kernel(*address),
            (None, _) => FrameName::Other,
        }
    }

    fn spell(self) -> String {
        match self {
            FrameName::Symbol(s) => s.to_owned(),
            FrameName::File(offset) => format!("[unknown]+0x{offset:x}"),
            FrameName::Kernel(address) => format!("[kernel]+0x{address:x}"),
            FrameName::Other => "[unknown]".to_owned(),
        }
    }
}

/// What the profiles show of one function while they are joined: the processes, containers and
/// windows by number, the stacks as `(stack number, samples)`.
#[derive(Debug, Default)]
struct Sampled {
    samples: u64,
    processes: Vec<u32>,
    containers: Vec<u32>,
    windows: Vec<u32>,
    stacks: Vec<(u32, u64)>,
}

/// Pushes `id` unless it is the last one pushed (runs of the same id are common; the rest is
/// deduplicated at the end).
fn push_new(ids: &mut Vec<u32>, id: u32) {
    if ids.last() != Some(&id) {
        ids.push(id);
    }
}

/// Numbers for what recurs across the stacks of the profiles: each distinct frame name (by its
/// spelling), each distinct stack (by its frames' names), process, container and window is
/// stored once and spelled out only for the functions' entries.
#[derive(Debug, Default)]
struct Join<'a> {
    functions: HashMap<(&'a str, &'a str), Sampled>,
    /// Frame name → number of its spelling.
    frame_names: HashMap<FrameName<'a>, u32>,
    spellings: HashMap<String, u32>,
    spelled: Vec<String>,
    /// A stack's frame name numbers → its number.
    stacks: HashMap<Vec<u32>, u32>,
    processes: HashMap<(Option<u32>, Option<&'a str>), u32>,
    containers: HashMap<&'a str, u32>,
    windows: Vec<Window>,
}

/// The next number of a table of `len` items.
fn next_id(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl<'a> Join<'a> {
    fn name(&mut self, frame: &'a Frame, symbol: Option<&'a Symbol>) -> u32 {
        let name = FrameName::of(frame, symbol);
        if let Some(&id) = self.frame_names.get(&name) {
            return id;
        }
        let spelling = name.spell();
        let id = match self.spellings.get(&spelling) {
            Some(&id) => id,
            None => {
                let id = next_id(self.spelled.len());
                self.spelled.push(spelling.clone());
                self.spellings.insert(spelling, id);
                id
            }
        };
        self.frame_names.insert(name, id);
        id
    }

    fn stack(&mut self, names: &[u32]) -> u32 {
        if let Some(&id) = self.stacks.get(names) {
            return id;
        }
        let id = next_id(self.stacks.len());
        self.stacks.insert(names.to_vec(), id);
        id
    }

    fn process(&mut self, pid: Option<u32>, comm: Option<&'a str>) -> u32 {
        let next = next_id(self.processes.len());
        *self.processes.entry((pid, comm)).or_insert(next)
    }

    fn container(&mut self, id: &'a str) -> u32 {
        let next = next_id(self.containers.len());
        *self.containers.entry(id).or_insert(next)
    }

    fn window(&mut self, window: Window) -> u32 {
        self.windows.push(window);
        next_id(self.windows.len() - 1)
    }

    /// Adds what the profiles showed to `by_function`: the processes, containers and windows
    /// spelled out, and the top 5 stacks, those that read the same by name being one (they
    /// differed only in offsets), heaviest first, then by their names.
    fn finish(self, by_function: &mut BTreeMap<(String, String), Execution>) {
        let spelled = self.spelled;
        let mut stacks: Vec<Vec<u32>> = vec![Vec::new(); self.stacks.len()];
        for (names, id) in self.stacks {
            stacks[id as usize] = names;
        }
        let mut processes: Vec<String> = vec![String::new(); self.processes.len()];
        for ((pid, comm), id) in self.processes {
            processes[id as usize] = process_name(pid, comm);
        }
        let mut containers: Vec<&str> = vec![""; self.containers.len()];
        for (c, id) in self.containers {
            containers[id as usize] = c;
        }
        let by_names = |a: u32, b: u32| {
            let names = |id: u32| stacks[id as usize].iter().map(|&n| &spelled[n as usize]);
            names(a).cmp(names(b))
        };
        for ((build_id, function), mut sampled) in self.functions {
            let entry = by_function
                .entry((build_id.to_owned(), function.to_owned()))
                .or_default();
            entry.samples += sampled.samples;
            sampled.processes.sort_unstable();
            sampled.processes.dedup();
            for p in sampled.processes {
                entry.processes.insert(processes[p as usize].clone());
            }
            sampled.containers.sort_unstable();
            sampled.containers.dedup();
            for c in sampled.containers {
                entry.containers.insert(containers[c as usize].to_owned());
            }
            sampled.windows.sort_unstable();
            sampled.windows.dedup();
            for w in sampled.windows {
                entry.windows.insert(self.windows[w as usize].clone());
            }
            let mut counted = sampled.stacks;
            counted.sort_unstable_by_key(|&(id, _)| id);
            counted.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 += later.1;
                }
                same
            });
            // The 5 heaviest, then by names: one pass, most stacks lighter than the fifth.
            let mut top: Vec<(u32, u64)> = Vec::with_capacity(6);
            for (id, count) in counted {
                if let Some(&(last, least)) = top.get(4)
                    && (count < least || (count == least && by_names(id, last).is_gt()))
                {
                    continue;
                }
                let at = top.partition_point(|&(other, more)| {
                    more > count || (more == count && by_names(other, id).is_lt())
                });
                top.insert(at, (id, count));
                top.truncate(5);
            }
            entry.stacks = top
                .into_iter()
                .map(|(id, count)| TopStack {
                    count,
                    frames: stacks[id as usize]
                        .iter()
                        .map(|&n| spelled[n as usize].clone())
                        .collect(),
                })
                .collect();
        }
    }
}

impl Evidence {
    /// Every BuildID the evidence names.
    pub fn build_ids(&self) -> BTreeSet<&str> {
        self.by_function
            .keys()
            .map(|(b, _)| b.as_str())
            .chain(self.unknown.keys().map(String::as_str))
            .collect()
    }
}
