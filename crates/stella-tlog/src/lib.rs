//! The transparency log: an append-only Merkle tree (RFC 6962 / 9162) stored as C2SP
//! tlog-tiles, with C2SP signed-note checkpoints signed by an Ed25519 log key, holding Rekor v2
//! `hashedrekord` v0.0.2 entries for DSSE envelopes.
//!
//! What this crate owns:
//! - [`merkle`]: hashing, tree hashes, inclusion and consistency proofs (make and verify);
//! - [`note`] and [`checkpoint`]: signed notes and checkpoints;
//! - [`tiles`]: tile paths and the hash-tile and entry-bundle formats;
//! - [`entry`]: the logged bodies and the bundle's `tlogEntries[]` member;
//! - [`rekor`]: Rekor v2 create-entry requests and the bodies made of them;
//! - [`log`]: the embedded log on disk (locked, durable appends; proofs; its trusted root),
//!   which checks every tile against its signed checkpoint before using it ([`verified`]);
//! - [`fsck`]: a full check of a log directory, and the repair of what can be recomputed;
//! - [`damage`]: how a damaged file of a log is named and described;
//! - [`verify`]: offline verification of an entry against a trusted root;
//! - [`witness`]: the checkpoints seen per log, and split-view detection.
//!
//! What it does not own: signing envelopes (`stella-attest`), serving the log over HTTP or
//! talking to a remote one (the CLI's `stella log serve` and client), where `$STELLA_HOME` is.

pub mod checkpoint;
pub mod damage;
pub mod entry;
pub mod fsck;
mod identity;
pub mod log;
pub mod merkle;
pub mod note;
pub mod rekor;
mod store;
mod stored;
pub mod tiles;
pub mod verified;
pub mod verify;
pub mod witness;

use std::path::PathBuf;

pub use damage::{Damage, DamagedFile};

pub use checkpoint::Checkpoint;
pub use entry::TlogEntry;
pub use log::Log;
pub use verify::{TrustedLog, VerifiedEntry, trusted_logs, verify_entry};

/// Everything that can go wrong with a log or a proof.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// The file system failed.
    #[error("log storage: {0}")]
    Io(String),
    /// Stored data is damaged (truncated tile, bad checkpoint signature, missing file).
    #[error("the log is damaged: {0}")]
    Corrupt(String),
    /// A proof does not verify, or cannot be made for these sizes.
    #[error("proof: {0}")]
    Proof(String),
    /// A signed note is malformed or its signatures do not verify.
    #[error("signed note: {0}")]
    Note(String),
    /// A checkpoint body is malformed or has another origin.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An entry cannot be logged or read.
    #[error("entry: {0}")]
    Entry(String),
    /// A logged body is not about the envelope at hand.
    #[error("log entry does not match the envelope: {0}")]
    Binding(String),
    /// The trusted root is unusable or does not name the log.
    #[error("trusted root: {0}")]
    TrustedRoot(String),
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
}
