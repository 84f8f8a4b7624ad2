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

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use stella_runtime::frame::{Frame, Location};
use stella_runtime::profile::Profile;
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
        let mut e = Evidence::default();
        for (source, report) in witnesses {
            let window = Window {
                start: report.window.start.clone(),
                end: report.window.end.clone(),
            };
            if let Some(why) = window.problem() {
                e.unused.push(format!("{source}: {why}"));
                continue;
            }
            for w in &report.witnesses {
                let Some(build_id) = w.build_id.clone() else {
                    e.unused.push(format!(
                        "{source}: {} in {} has no BuildID",
                        w.function, w.binary
                    ));
                    continue;
                };
                let entry = e
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
        for (source, profile) in profiles {
            let window = profile.window.as_ref().map(|w| Window {
                start: w.start.clone(),
                end: w.end.clone(),
            });
            if let Some(why) = window.as_ref().and_then(Window::problem) {
                e.unused.push(format!("{source}: {why}"));
                continue;
            }
            let total: u64 = profile.stacks.iter().map(|s| s.count).sum();
            let mut profile_builds: BTreeSet<String> = BTreeSet::new();
            for stack in &profile.stacks {
                let mut in_stack: BTreeSet<(String, String)> = BTreeSet::new();
                for frame in &stack.frames {
                    let Some(build_id) = frame.build_id() else {
                        continue;
                    };
                    profile_builds.insert(build_id.to_owned());
                    match &frame.symbol {
                        None => *e.unknown.entry(build_id.to_owned()).or_default() += stack.count,
                        Some(s) => {
                            in_stack.insert((build_id.to_owned(), s.function.clone()));
                            for i in &s.inlined {
                                in_stack.insert((build_id.to_owned(), i.function.clone()));
                            }
                        }
                    }
                }
                let names: Vec<String> = stack.frames.iter().map(frame_name).collect();
                for key in in_stack {
                    let entry = e.by_function.entry(key).or_default();
                    entry.samples += stack.count;
                    entry
                        .processes
                        .insert(process_name(stack.pid, stack.comm.as_deref()));
                    if let Some(c) = &stack.container {
                        entry.containers.insert(c.clone());
                    }
                    if let Some(w) = &window {
                        entry.windows.insert(w.clone());
                    }
                    entry.stacks.push(TopStack {
                        count: stack.count,
                        frames: names.clone(),
                    });
                }
            }
            for b in profile_builds {
                *e.seen.entry(b).or_default() += total;
            }
        }
        for ((build_id, _), entry) in &mut e.by_function {
            entry.profile_samples = e.seen.get(build_id).copied().unwrap_or(0);
            // Stacks that read the same by name are one (they differed only in offsets).
            let mut by_names: BTreeMap<Vec<String>, u64> = BTreeMap::new();
            for stack in entry.stacks.drain(..) {
                *by_names.entry(stack.frames).or_default() += stack.count;
            }
            entry.stacks = by_names
                .into_iter()
                .map(|(frames, count)| TopStack { count, frames })
                .collect();
            entry
                .stacks
                .sort_by(|a, b| b.count.cmp(&a.count).then(a.frames.cmp(&b.frames)));
            entry.stacks.truncate(5);
        }
        e
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

fn frame_name(frame: &Frame) -> String {
    match (&frame.symbol, &frame.location) {
        (Some(s), _) => s.display_name().to_owned(),
        (None, Location::File { file_offset, .. }) => format!("[unknown]+0x{file_offset:x}"),
        (None, Location::Kernel { address }) => format!("[kernel]+0x{address:x}"),
        (None, _) => "[unknown]".to_owned(),
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
