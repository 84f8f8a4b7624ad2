//! What ran: stack samples and exact call counts from live processes, as canonical frames.
//!
//! The build-time FuncProof says which functions a binary holds; this crate says which of them
//! executed, in a form later stages can join to FuncProofs, SBOMs and advisories without loss:
//!
//! - [`frame`]: the canonical frame — `(BuildID, file offset)` resolved to
//!   `(BuildID, function, offset)`, an unknown frame kept as such;
//! - [`procmaps`]: raw addresses normalised through `/proc/PID/maps`, cached so a process that
//!   exits stays attributable;
//! - [`symbolize`]: names from symbol bundles, the local cache, the binary on disk, debuginfod,
//!   `/proc/kallsyms` and JIT perf maps;
//! - [`sampler`]: eBPF stack sampling on `cpu-clock` with in-kernel aggregation (and a
//!   `perf_event_open` fallback); [`witness`]: uprobes that count every call of named functions;
//! - [`profile`] and [`collapsed`]: the JSON document and the collapsed-stack lines written, and
//!   the `perf script` / collapsed / raw-frame inputs read back.
//!
//! Only canonical frames and counts are ever kept: never arguments, registers or memory.
//!
//! What this crate does not own: FuncProofs and symbol tables (`stella-binary`), joining frames
//! to SBOM components and advisories (`stella-policy`), or signing the evidence (`stella-attest`).

pub mod collapsed;
pub mod frame;
pub mod import;
pub mod perf_backend;
pub mod procmaps;
pub mod profile;
pub mod sampler;
pub mod symbolize;
pub mod vdso;
pub mod witness;

use std::path::PathBuf;

/// Why a runtime operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Input in one of the formats read here was malformed.
    #[error("{origin}:{line}: {message}")]
    Parse {
        /// The file (or `-`).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// The kernel refused an operation for lack of a privilege.
    #[error("{operation}: permission denied; needs {capability} (run as root or grant it)")]
    Permission {
        /// What was attempted.
        operation: String,
        /// The capability that grants it (`CAP_BPF and CAP_PERFMON`, ...).
        capability: String,
    },
    /// The kernel or machine cannot do what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// A symbol source failed (debuginfod unreachable, a bundle unreadable...).
    #[error("{0}")]
    Symbols(String),
    /// Anything else the kernel reported.
    #[error("{operation}: {message}")]
    Kernel {
        /// What was attempted.
        operation: String,
        /// The kernel's or loader's message.
        message: String,
    },
}

impl RuntimeError {
    /// An [`RuntimeError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }
}
