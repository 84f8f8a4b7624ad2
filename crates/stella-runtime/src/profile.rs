//! The recorded profile: canonical stacks with counts, the window they cover, and what could
//! not be resolved.
//!
//! JSON shape (`stella.runtime.profile/v1`, camelCase, frames leaf first):
//!
//! ```text
//! { "schema": "stella.runtime.profile/v1", "backend": "ebpf", "hz": 49,
//!   "target": {"kind": "pids", "pids": [1234]},
//!   "window": {"start": "2026-…Z", "end": "2026-…Z", "sampledSeconds": 30.0},
//!   "stats": {"samples": 1470, "lost": 0, "userStacksMissing": 0, "kernelStacksMissing": 1400,
//!             "frames": 9000, "unknownFrames": 12},
//!   "stacks": [{"pid": 1234, "comm": "hot", "container": "…", "count": 1400,
//!               "frames": [{"kind": "file", "buildId": "…", "path": "/usr/bin/hot",
//!                           "fileOffset": "0x1139", "symbol": {"function": "hot_loop",
//!                           "offset": "0x9", "source": "file"}}, …]}] }
//! ```
//!
//! Stacks are sorted (count descending, then pid, then frames) so the same samples give the
//! same bytes. What this module does not own: the collapsed-stack text form (`collapsed`).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::frame::Frame;

/// Schema id of the profile JSON.
pub const SCHEMA: &str = "stella.runtime.profile/v1";

/// Which processes were sampled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Target {
    /// Every process on the host.
    All,
    /// These processes (all their threads).
    Pids {
        /// Process ids.
        pids: Vec<u32>,
    },
    /// Every process in this cgroup or below it (a container).
    Cgroup {
        /// The cgroup directory.
        path: String,
    },
    /// Stacks read from another tool's output.
    Imported {
        /// Where they came from.
        origin: String,
    },
}

/// The time the profile covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// End, RFC 3339 UTC.
    pub end: String,
    /// Seconds during which sampling was on (less than end − start with a duty cycle).
    pub sampled_seconds: f64,
}

impl Window {
    /// The window from `start` to `end`, `active` of which was spent sampling or watching
    /// (to the millisecond).
    pub fn new(start: SystemTime, end: SystemTime, active: Duration) -> Self {
        Window {
            start: rfc3339(start),
            end: rfc3339(end),
            sampled_seconds: (active.as_millis() as f64) / 1000.0,
        }
    }
}

/// `time` as RFC 3339 UTC to the second (times before 1970 as the epoch).
fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    stella_core::time::rfc3339_utc(secs)
}

/// Counters of what was seen and what was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Samples taken for the target processes.
    pub samples: u64,
    /// Samples dropped because an in-kernel map was full.
    pub lost: u64,
    /// Samples without a user stack (kernel threads, or the read failed).
    pub user_stacks_missing: u64,
    /// Samples without a kernel stack (the CPU was in user mode).
    pub kernel_stacks_missing: u64,
    /// Frames in all stacks.
    pub frames: u64,
    /// Frames no source could resolve (kept, with their BuildID and offset).
    pub unknown_frames: u64,
}

/// One unique stack and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    /// The process, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Its command name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// The container id, when the process ran in a container's cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The image the process ran from (`sha256:<hex>`), when told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How many samples (or calls) had exactly this stack.
    pub count: u64,
    /// Frames, leaf first: user frames, then (for samples taken in the kernel) kernel frames
    /// before them.
    pub frames: Vec<Frame>,
}

/// A recorded or imported profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `ebpf`, `perf-event` or the import format.
    pub backend: String,
    /// Sampling frequency per CPU, when sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hz: Option<u64>,
    /// What was sampled.
    pub target: Target,
    /// When, when sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Counters.
    pub stats: Stats,
    /// The stacks.
    pub stacks: Vec<Stack>,
}

impl Profile {
    /// Sorts stacks into their canonical order and recomputes the frame counters.
    pub fn normalize(&mut self) {
        self.stacks.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.pid.cmp(&b.pid))
                .then_with(|| a.comm.cmp(&b.comm))
                .then_with(|| a.frames.cmp(&b.frames))
        });
        self.stats.frames = self.stacks.iter().map(|s| s.frames.len() as u64).sum();
        self.stats.unknown_frames = self
            .stacks
            .iter()
            .flat_map(|s| &s.frames)
            .filter(|f| f.symbol.is_none())
            .count() as u64;
    }
}

/// The container id in a cgroup path (`/system.slice/docker-<id>.scope`,
/// `/kubepods/…/cri-containerd-<id>.scope`, `/docker/<id>`, `…/libpod-<id>.scope`): the last
/// path component that is 64 hex digits once a runtime prefix and `.scope` are removed.
pub fn container_id_from_cgroup(path: &str) -> Option<String> {
    path.rsplit('/').find_map(|component| {
        let name = component.strip_suffix(".scope").unwrap_or(component);
        let id = [
            "docker-",
            "cri-containerd-",
            "crio-",
            "libpod-",
            "containerd-",
        ]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .unwrap_or(name);
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_come_from_the_usual_cgroup_layouts() {
        let id = "a".repeat(64);
        for path in [
            format!("/system.slice/docker-{id}.scope"),
            format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope"),
            format!("/docker/{id}"),
            format!("/machine.slice/libpod-{id}.scope/container"),
        ] {
            assert_eq!(container_id_from_cgroup(&path), Some(id.clone()), "{path}");
        }
        assert_eq!(
            container_id_from_cgroup("/user.slice/session-2.scope"),
            None
        );
        assert_eq!(container_id_from_cgroup("/"), None);
    }
}
