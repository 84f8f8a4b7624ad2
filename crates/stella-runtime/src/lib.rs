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
//!   the `perf script` / collapsed / raw-frame inputs read back;
//! - [`push`] and [`spool`]: what `stella agent` sends to the fleet server (counts per image,
//!   BuildID, function and window) and the on-disk queue that keeps it until it is counted.
//!
//! Only canonical frames and counts are ever kept: never arguments, registers or memory.
//!
//! What this crate does not own: FuncProofs and symbol tables (`stella-binary`), joining frames
//! to SBOM components and advisories (`stella-policy`), or signing the evidence (`stella-attest`).

pub mod collapsed;
pub mod frame;
pub mod import;
pub mod perf_backend;
pub mod pprof;
pub mod procmaps;
pub mod profile;
pub mod push;
pub mod running;
pub mod sampler;
pub mod spool;
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
        #[source]
        source: std::io::Error,
    },
    /// Input in one of the formats read here was malformed.
    #[error("{origin}:{line}: {message}")]
    Parse {
        /// The file (or `-`).
        origin: String,
        /// 1-based line number (0 when the problem is not on one line).
        line: usize,
        /// What was expected.
        message: String,
    },
    /// An input is larger than the limit this crate reads.
    #[error("{path}: larger than the {limit} bytes {what} may hold")]
    TooLarge {
        /// The file (or the `/proc` file describing the mapping).
        path: PathBuf,
        /// What the file is (`a symbol table`, `a symbol bundle`, `a vDSO`, …).
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The kernel refused an operation for lack of a privilege.
    #[error("{operation}: permission denied; needs {capability} (run as root or grant it)")]
    Permission {
        /// What was attempted.
        operation: String,
        /// The capability that grants it (`CAP_BPF and CAP_PERFMON`, ...).
        capability: String,
    },
    /// `--pid` names no running process.
    #[error("--pid {pid}: no such process")]
    NoSuchProcess {
        /// The pid asked for.
        pid: u32,
    },
    /// A sampling rate outside what the sampler accepts.
    #[error("--hz {hz}: expected 1 to {MAX_HZ} samples per second")]
    Rate {
        /// The rate asked for.
        hz: u64,
    },
    /// A `--cgroup` that cannot be sampled.
    #[error("--cgroup {path}: {problem}")]
    Cgroup {
        /// The cgroup as given.
        path: String,
        /// What is wrong with it.
        problem: CgroupProblem,
    },
    /// `stella witness` was given no function to count.
    #[error("name at least one --symbol")]
    NoSymbolAsked,
    /// A function to probe that the binary does not name.
    #[error("--symbol {asked}: no function of that name in {}", binary.display())]
    SymbolNotFound {
        /// The name asked for.
        asked: String,
        /// The binary searched.
        binary: PathBuf,
    },
    /// A function name (or glob) to probe that names several functions.
    #[error("--symbol {asked}: matches {} functions ({}); name one", functions.len(), functions.join(", "))]
    AmbiguousSymbol {
        /// The name asked for.
        asked: String,
        /// The functions it matches.
        functions: Vec<String>,
    },
    /// A function whose address lies in no loadable segment: no file offset to probe.
    #[error("--symbol {asked}: {address:#x} is in no loadable segment")]
    NotLoadable {
        /// The name asked for.
        asked: String,
        /// The function's address.
        address: u64,
    },
    /// A binary, FuncProof, symbol table or bundle that `stella-binary` refused.
    #[error("{subject}: {source}")]
    Binary {
        /// What was read (a path, `--symbol NAME`, `vDSO image`).
        subject: String,
        /// Why it was refused (boxed: it is large, and every runtime result carries the
        /// error's size).
        #[source]
        source: Box<stella_binary::BinaryError>,
    },
    /// A BuildID that is not one (a cache file name is made from it).
    #[error("{input:?} is not a {}", if *gnu_only { "GNU BuildID (lower-case hex)" } else { "BuildID (lower-case hex, or sha256-<64 hex>)" })]
    NotBuildId {
        /// The text refused.
        input: String,
        /// Whether only a GNU BuildID (hex) is accepted here, not a `sha256-` file id.
        gnu_only: bool,
    },
    /// A file kept under one BuildID that holds another's symbols.
    #[error("{}: holds the symbols of BuildID {}, not {expected}", path.display(), found.as_deref().unwrap_or("(none)"))]
    WrongBuildId {
        /// The file.
        path: PathBuf,
        /// The BuildID it is kept under.
        expected: String,
        /// The BuildID it holds.
        found: Option<String>,
    },
    /// The vDSO image carries no BuildID: its frames could not be joined to a table.
    #[error("the vDSO image carries no BuildID")]
    VdsoWithoutBuildId,
    /// blazesym could not read an ELF file at all.
    #[error("{}: {source}", path.display())]
    Blazesym {
        /// The file.
        path: PathBuf,
        /// blazesym's error.
        #[source]
        source: blazesym::Error,
    },
    /// A debuginfod server URL that is not `http://` or `https://`.
    #[error("debuginfod server {url:?} is not an http:// or https:// URL")]
    DebuginfodUrl {
        /// The URL given.
        url: String,
    },
    /// debuginfod servers configured without a cache directory to download into.
    #[error("debuginfod servers are configured but no symbol cache directory to download into")]
    NoSymbolCache,
    /// The HTTP client could not be set up.
    #[error("debuginfod client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// No debuginfod server had a file, and at least one failed otherwise.
    #[error("{}", failures.join("; "))]
    Debuginfod {
        /// Each failure: the URL asked and what went wrong.
        failures: Vec<String>,
    },
    /// Anything else the kernel reported.
    #[error("{operation}: {message}")]
    Kernel {
        /// What was attempted.
        operation: String,
        /// The kernel's or loader's message, with its causes (a verifier log cut to its end).
        message: String,
    },
}

/// Highest sampling rate accepted, in samples per second per CPU.
pub const MAX_HZ: u64 = 10_000;

/// Why a `--cgroup` cannot be sampled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupProblem {
    /// The machine mounts no cgroup v2 hierarchy.
    #[error("no cgroup v2 hierarchy is mounted")]
    NoHierarchy,
    /// The path climbs out of the hierarchy.
    #[error("`..` is not allowed")]
    ParentComponent,
    /// The path names something other than a cgroup directory.
    #[error("{dir} is not a cgroup directory")]
    NotADirectory {
        /// The directory it resolves to.
        dir: String,
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

    /// A [`RuntimeError::Binary`] about `subject`.
    pub fn binary(subject: impl std::fmt::Display, source: stella_binary::BinaryError) -> Self {
        RuntimeError::Binary {
            subject: subject.to_string(),
            source: Box::new(source),
        }
    }
}

impl stella_core::Kinded for RuntimeError {
    /// Bad input and options are exit 2; what the kernel, the machine or a server refused is
    /// exit 3.
    fn kind(&self) -> stella_core::ErrorKind {
        use stella_core::ErrorKind;
        match self {
            RuntimeError::Io { source, .. } => ErrorKind::of_io(source),
            RuntimeError::Binary { source, .. } => source.kind(),
            RuntimeError::TooLarge { .. } => ErrorKind::TooLarge,
            RuntimeError::NoSuchProcess { .. } | RuntimeError::SymbolNotFound { .. } => {
                ErrorKind::NotFound
            }
            RuntimeError::Cgroup {
                problem: CgroupProblem::NoHierarchy,
                ..
            }
            | RuntimeError::Permission { .. }
            | RuntimeError::VdsoWithoutBuildId
            | RuntimeError::HttpClient(_)
            | RuntimeError::Kernel { .. } => ErrorKind::Environment,
            RuntimeError::Debuginfod { .. } => ErrorKind::Unavailable,
            RuntimeError::Parse { .. }
            | RuntimeError::Rate { .. }
            | RuntimeError::Cgroup { .. }
            | RuntimeError::NoSymbolAsked
            | RuntimeError::AmbiguousSymbol { .. }
            | RuntimeError::NotLoadable { .. }
            | RuntimeError::NotBuildId { .. }
            | RuntimeError::WrongBuildId { .. }
            | RuntimeError::Blazesym { .. }
            | RuntimeError::DebuginfodUrl { .. }
            | RuntimeError::NoSymbolCache => ErrorKind::Invalid,
        }
    }
}
