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
//! - [`log`]: the embedded log on disk (locked, durable appends; proofs; its trusted root);
//! - [`verify`]: offline verification of an entry against a trusted root;
//! - [`witness`]: the checkpoints seen per log, and split-view detection.
//!
//! What it does not own: signing envelopes (`stella-attest`), serving the log over HTTP or
//! talking to a remote one (the CLI's `stella log serve` and client), where `$STELLA_HOME` is.

pub mod checkpoint;
pub mod entry;
pub mod log;
pub mod merkle;
pub mod note;
pub mod rekor;
pub mod tiles;
pub mod verify;
pub mod witness;

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
}
