//! What can go wrong with a log, a proof or a log server, as data: every variant carries the
//! fields a caller needs (the file, the URL, the sizes) and its source, and says which
//! [`ErrorKind`] it is, so the CLI's exit code and a server's HTTP status come from one table.
//!
//! The kinds follow DESIGN's contract: a damaged or missing log, a malformed note or entry,
//! a proof asked for sizes the tree does not have, are bad input naming what is wrong (exit
//! 2); a proof that does not verify, a split view or a rollback is a clean "no" (exit 1); the
//! disk is the environment and a log server that cannot be reached or fails is unavailable
//! (both exit 3).
//!
//! Not here: the hints the CLI adds for a human (`stella log fsck`, where a log is created).

use std::path::PathBuf;

use stella_core::{ErrorKind, Kinded};

use crate::damage::{self, Damage, DamagedFile};

/// Everything that can go wrong with a log or a proof.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// The file system failed.
    #[error("log storage: {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The system gave no randomness for a new log key.
    #[error("log storage: no randomness for the log key")]
    NoRandomness,
    /// A tile or entry bundle that is not local (no file to name) is damaged.
    #[error("the log is damaged: {tile}: {damage}")]
    Corrupt {
        /// The tile's path below the log's base (`tile/0/000.p/3`).
        tile: String,
        /// What is wrong with it.
        damage: Damage,
    },
    /// A proof does not verify, or cannot be made for these sizes.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// A signed note is malformed or its signatures do not verify.
    #[error("signed note: {0}")]
    Note(String),
    /// A checkpoint body is malformed or has another origin.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An entry cannot be logged or read.
    #[error("entry: {0}")]
    Entry(String),
    /// An entry is larger than a log entry may be (entry bundles use 2-byte lengths).
    #[error(
        "entry: an entry of {size} bytes; a log entry is at most {max} (log large documents by \
         digest)"
    )]
    EntryTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// More entries in one append than one checkpoint takes.
    #[error("entry: {count} entries in one batch; at most {max}")]
    BatchTooLarge {
        /// Entries given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A logged body is not about the envelope at hand.
    #[error("log entry does not match the envelope: {0}")]
    Binding(String),
    /// The trusted root is unusable or does not name the log.
    #[error("trusted root: {0}")]
    TrustedRoot(String),
    /// An entry is from a log the trusted root does not name.
    #[error(
        "trusted root: the entry is from log {}, which the trusted root does not name",
        stella_core::hex::encode(log_id)
    )]
    UnknownLog {
        /// The entry's log id.
        log_id: Vec<u8>,
    },
    /// A document read from a file is wrong (the file named, the reason its source).
    #[error("{}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: Box<TlogError>,
    },
    /// A file is larger than the reader takes.
    #[error("{}: {size} bytes is larger than the {max}-byte limit", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// JSON could not be read or written.
    #[error(transparent)]
    Json(#[from] stella_core::jcs::JcsError),
    /// The directory holds no log (none of its files): nothing to open.
    #[error("no log in {}", dir.display())]
    NoLog {
        /// The directory.
        dir: PathBuf,
    },
    /// A log is to be created where files of a log already are.
    #[error("{}: a log (or part of one) is already there", dir.display())]
    LogExists {
        /// The directory.
        dir: PathBuf,
    },
    /// Files of a local log are missing, damaged, or disagree with the signed checkpoint.
    #[error("the log is damaged: {}", damage::list(files))]
    Damaged {
        /// Every file found damaged (at least one).
        files: Vec<DamagedFile>,
    },
    /// A hash tile does not lead to the root hash the tree was checked against (tiles that
    /// are not local, where no file can be named).
    #[error(
        "hash tile {level}/{index} of the tree of {size} entries does not match {}",
        match against { Some((l, i)) => format!("the hash tile {l}/{i} above it"), None => "the checkpoint's root hash".to_owned() }
    )]
    TileMismatch {
        /// Tile level.
        level: u32,
        /// Tile index.
        index: u64,
        /// The tree size the tile was read for.
        size: u64,
        /// The tile above it that holds its hash, or `None` for the root hash.
        against: Option<(u32, u64)>,
    },
    /// The checkpoint this machine remembered for a log is unreadable or no longer verifies.
    #[error("{}: the checkpoint remembered for this log is damaged ({source})", path.display())]
    RememberedDamaged {
        /// The witness file.
        path: PathBuf,
        /// Why it is not accepted.
        source: Box<TlogError>,
    },
    /// A log holds fewer entries than this machine saw it hold before.
    #[error(
        "rollback of log {origin}: it holds {size} entries, but a checkpoint of {remembered} \
         entries was seen before"
    )]
    Rollback {
        /// The log's origin.
        origin: String,
        /// Its size now.
        size: u64,
        /// The size remembered.
        remembered: u64,
    },
    /// A checkpoint contradicts the one seen before of the same log: the log showed two
    /// histories.
    #[error(
        "split view of log {origin}: the checkpoint of {size} entries is not consistent with \
         the one of {remembered} entries seen before"
    )]
    SplitView {
        /// The log's origin.
        origin: String,
        /// The size of the checkpoint at hand.
        size: u64,
        /// The size of the checkpoint seen before.
        remembered: u64,
        /// Why they are not consistent.
        #[source]
        source: ProofError,
    },
    /// A log server answered a request with an error status.
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        /// The URL asked.
        url: String,
        /// The status.
        status: u16,
        /// What the server said (its body).
        message: String,
    },
    /// A log server could not be reached, or its answer not read.
    #[error("{url}")]
    Network {
        /// The URL asked.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A log server refused an entry that is already in the log.
    #[error(
        "{url}: this signature is already in the log at index {}",
        index.map_or_else(|| "?".to_owned(), |i| i.to_string())
    )]
    AlreadyLogged {
        /// The URL asked.
        url: String,
        /// The index the server named (`x-log-index`).
        index: Option<u64>,
    },
    /// A log server's answer is not what was asked for: not JSON, not an entry, an entry
    /// about another envelope, or a proof that does not lead to its root.
    #[error("{url}: the log's answer is not usable")]
    BadAnswer {
        /// The URL asked.
        url: String,
        /// What is wrong with the answer.
        #[source]
        source: Box<TlogError>,
    },
    /// A log server stayed busy or unreachable through every attempt.
    #[error("gave up after {attempts} attempts")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<TlogError>,
    },
}

impl Kinded for TlogError {
    fn kind(&self) -> ErrorKind {
        match self {
            TlogError::Io { source, .. } => ErrorKind::of_io(source),
            TlogError::NoRandomness => ErrorKind::Environment,
            TlogError::InFile { source, .. } => source.kind(),
            TlogError::Proof(p) => p.kind(),
            TlogError::NoLog { .. } => ErrorKind::NotFound,
            TlogError::EntryTooLarge { .. }
            | TlogError::BatchTooLarge { .. }
            | TlogError::FileTooLarge { .. } => ErrorKind::TooLarge,
            TlogError::Rollback { .. } | TlogError::SplitView { .. } => ErrorKind::Rejected,
            TlogError::Network { .. } | TlogError::GaveUp { .. } => ErrorKind::Unavailable,
            // A log server that says it failed, or answers with something else than what was
            // asked, is the server's failure, not the input's.
            TlogError::Http { status, .. } if *status >= 500 => ErrorKind::Unavailable,
            TlogError::BadAnswer { .. } => ErrorKind::Unavailable,
            // The entry was logged before: bad input as far as this request goes (exit 2, as
            // `stella attest` has always answered a 409).
            TlogError::AlreadyLogged { .. } | TlogError::Http { .. } => ErrorKind::Invalid,
            TlogError::RememberedDamaged { .. }
            | TlogError::Damaged { .. }
            | TlogError::Corrupt { .. }
            | TlogError::TileMismatch { .. }
            | TlogError::Note(_)
            | TlogError::Checkpoint(_)
            | TlogError::Entry(_)
            | TlogError::Binding(_)
            | TlogError::TrustedRoot(_)
            | TlogError::UnknownLog { .. }
            | TlogError::Json(_)
            | TlogError::LogExists { .. } => ErrorKind::Invalid,
        }
    }
}

impl TlogError {
    /// The file-system error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TlogError::Io {
            path: path.into(),
            source,
        }
    }

    /// The message with every source after it (`a: b: c`), for reports that hold text.
    pub fn with_sources(&self) -> String {
        let mut text = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            text.push_str(": ");
            text.push_str(&e.to_string());
            next = e.source();
        }
        text
    }

    /// Whether this is a clean "no" of a verification: a proof that does not hold, a split
    /// view, a rollback (as opposed to input that cannot be read or an environment that
    /// fails).
    pub fn is_verification_failure(&self) -> bool {
        self.kind() == ErrorKind::Rejected
    }
}

/// Which proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofKind {
    /// An inclusion proof (RFC 9162 §2.1.3).
    Inclusion,
    /// A consistency proof (RFC 9162 §2.1.4).
    Consistency,
}

impl std::fmt::Display for ProofKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProofKind::Inclusion => "inclusion",
            ProofKind::Consistency => "consistency",
        })
    }
}

/// Which root a consistency proof failed to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The smaller tree's.
    Old,
    /// The larger tree's.
    New,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Old => "old",
            Side::New => "new",
        })
    }
}

/// Why a proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// A leaf index outside the tree.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    OutsideTree {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// An entry index past the end of the log.
    #[error("entry {index} is past the end of the log ({size} entries)")]
    PastEnd {
        /// The index.
        index: u64,
        /// The log's size.
        size: u64,
    },
    /// Sizes between which there is no consistency proof (`0 < old ≤ new` is needed).
    #[error("no consistency proof from {old} to {new} leaves")]
    NoConsistency {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// A tree size past what the log (or the checked tree) holds.
    #[error("tree size {size} is past the log's checkpoint ({checkpoint})")]
    PastCheckpoint {
        /// The size asked for.
        size: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// A complete subtree the tree does not have.
    #[error("subtree {level}/{index} is not complete in a tree of {size} entries")]
    NoSubtree {
        /// Tree level.
        level: u32,
        /// Index at that level.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A hash tile the tree does not have.
    #[error("the tree of {size} entries has no tile {level}/{index}")]
    NoTile {
        /// Tile level.
        level: u32,
        /// Tile index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// An entry bundle the tree does not have.
    #[error("the tree of {size} entries has no bundle {index}")]
    NoBundle {
        /// Bundle index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tile that is on neither the checked right edge nor served.
    #[error("tile {level}/{index} is not on the right edge")]
    NotOnEdge {
        /// Tile level.
        level: u32,
        /// Tile index.
        index: u64,
    },
    /// A tile a log's tile API serves in no width (`<N>.p/<W>` nor `<N>`).
    #[error("{base}: neither {exact} nor {full}")]
    TileNotServed {
        /// The log's base URL.
        base: String,
        /// The partial tile's path.
        exact: String,
        /// The full tile's path.
        full: String,
    },
    /// No proof can be had: the log is neither local nor reachable.
    #[error("the log is not local and no --log-url was given")]
    NoSource,
    /// A proof longer than the tree is deep.
    #[error("the {proof} proof has more hashes than the tree has levels")]
    TooManyHashes {
        /// Which proof.
        proof: ProofKind,
    },
    /// A proof shorter than the tree is deep.
    #[error("the {proof} proof has fewer hashes than the tree has levels")]
    TooFewHashes {
        /// Which proof.
        proof: ProofKind,
    },
    /// An inclusion proof that leads to another root hash.
    #[error("the inclusion proof leads to another root hash")]
    OtherRoot,
    /// A consistency proof that does not lead to one of the two roots.
    #[error("the consistency proof does not lead to the {side} root hash")]
    NotConsistent {
        /// The root missed.
        side: Side,
    },
    /// The older tree of a consistency check is the larger.
    #[error("the old tree is larger than the new one")]
    OldLarger,
    /// Two root hashes for one tree size.
    #[error("two different root hashes for the same tree size: a split view")]
    TwoRoots,
    /// A consistency proof where none is needed (equal sizes, or from the empty tree).
    #[error("a consistency proof between equal sizes or from the empty tree must be empty")]
    NotEmpty,
    /// An empty consistency proof between different, non-empty trees.
    #[error("the consistency proof is empty")]
    Empty,
    /// A bundle's inclusion proof for another tree than its checkpoint's.
    #[error(
        "the inclusion proof is for a tree of {proof} entries, the checkpoint for {checkpoint}: \
         a proof for another tree size"
    )]
    OtherTree {
        /// The proof's tree size.
        proof: u64,
        /// The checkpoint's tree size.
        checkpoint: u64,
    },
}

impl ProofError {
    /// Asking for what the tree does not have is bad input; a proof that does not hold is a
    /// clean "no"; a log whose proof cannot be had is unavailable.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProofError::OutsideTree { .. }
            | ProofError::PastEnd { .. }
            | ProofError::NoConsistency { .. }
            | ProofError::PastCheckpoint { .. }
            | ProofError::NoSubtree { .. }
            | ProofError::NoTile { .. }
            | ProofError::NoBundle { .. }
            | ProofError::NotOnEdge { .. } => ErrorKind::Invalid,
            ProofError::TileNotServed { .. } | ProofError::NoSource => ErrorKind::Unavailable,
            ProofError::TooManyHashes { .. }
            | ProofError::TooFewHashes { .. }
            | ProofError::OtherRoot
            | ProofError::NotConsistent { .. }
            | ProofError::OldLarger
            | ProofError::TwoRoots
            | ProofError::NotEmpty
            | ProofError::Empty
            | ProofError::OtherTree { .. } => ErrorKind::Rejected,
        }
    }
}
