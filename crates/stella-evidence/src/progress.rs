//! What long work reports while it runs. The flows call a [`Progress`] with [`Event`]s; the CLI
//! draws them as bars on a terminal (or log lines elsewhere) and a server logs them, from the
//! same code. Reporting never changes the result.

/// A step of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Phase {
    /// Packing a directory into an image layer (bytes unknown up front).
    Pack,
    /// Copying an image from a registry into the embedded layout.
    Copy,
    /// Unpacking an image's layers.
    Unpack,
    /// Walking the tree for binaries.
    Walk,
    /// Proving binaries (units: bytes).
    Prove,
    /// Reading package databases and writing the SBOM.
    Sbom,
    /// Signing statements and logging their signatures.
    Sign,
    /// Attaching artifacts to the image (units: artifacts).
    Attach,
    /// Fetching an image's referrers and their blobs.
    Fetch,
    /// Checking signatures and log entries (units: bundles).
    Check,
    /// Replaying FuncProofs against the image's binaries (units: bytes).
    Replay,
}

impl Phase {
    /// What the phase does, as a progress line says it.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Pack => "packing",
            Phase::Copy => "copying",
            Phase::Unpack => "unpacking",
            Phase::Walk => "walking",
            Phase::Prove => "proving binaries",
            Phase::Sbom => "writing the SBOM",
            Phase::Sign => "signing and logging",
            Phase::Attach => "attaching",
            Phase::Fetch => "fetching evidence",
            Phase::Check => "checking signatures",
            Phase::Replay => "replaying FuncProofs",
        }
    }

    /// Whether the phase counts bytes (else items).
    pub fn counts_bytes(self) -> bool {
        matches!(self, Phase::Prove | Phase::Replay)
    }
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A phase starts; `total` units when known, `detail` says what it works on.
    Start {
        /// The phase.
        phase: Phase,
        /// Units to do, when known.
        total: Option<u64>,
        /// What it works on (a path, a reference).
        detail: String,
    },
    /// Units done within the current phase; `item` names the last one.
    Advance {
        /// The phase.
        phase: Phase,
        /// Units just done.
        done: u64,
        /// The item just finished.
        item: String,
    },
    /// The phase ended.
    Finish {
        /// The phase.
        phase: Phase,
    },
}

/// Receives progress events; called from worker threads.
pub trait Progress: Sync {
    /// One event.
    fn event(&self, event: Event);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _event: Event) {}
}

/// Reports each phase's start and end as `tracing` events: what a server or a log file gets.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traced;

impl Progress for Traced {
    fn event(&self, event: Event) {
        match event {
            Event::Start {
                phase,
                total,
                detail,
            } => tracing::info!(phase = phase.label(), total, "{detail}"),
            Event::Finish { phase } => tracing::debug!(phase = phase.label(), "done"),
            Event::Advance { .. } => {}
        }
    }
}

/// Runs `work` as `phase`: the start and finish events around it.
pub(crate) fn phase<T>(
    progress: &dyn Progress,
    phase: Phase,
    total: Option<u64>,
    detail: impl Into<String>,
    work: impl FnOnce() -> T,
) -> T {
    progress.event(Event::Start {
        phase,
        total,
        detail: detail.into(),
    });
    let out = work();
    progress.event(Event::Finish { phase });
    out
}
