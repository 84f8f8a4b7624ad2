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
//! - [`rekor_entry`]: any Rekor log's entry in a Sigstore bundle (v1 with signed entry
//!   timestamps, v2), its body, inclusion proof and checkpoint, against a Sigstore trusted root;
//! - [`bundle_verify`]: a whole Sigstore bundle, keyless or key-based, verified offline;
//! - [`witness`]: the checkpoints seen per log, and split-view detection;
//! - [`backend`]: [`LogBackend`], the one way to append (the embedded [`Log`], and with the
//!   `client` feature the Rekor v2 HTTP client `client::RekorClient`);
//! - [`sign`]: sign → log → bundle, once, for one statement or a batch;
//! - [`audit`]: a bundle's log entries checked as an auditor does (witness, rollback, split
//!   view, the local log still holding the entry), and loading the logs a verifier trusts;
//! - [`TlogError`]: every failure as data, with the error kind the CLI and servers answer by.
//!
//! What it does not own: the signatures themselves (`stella-attest`), serving the log over
//! HTTP (`stella-server`), where `$STELLA_HOME` is, printing.

pub mod audit;
pub mod backend;
pub mod bundle_verify;
pub mod checkpoint;
#[cfg(feature = "client")]
pub mod client;
pub mod damage;
pub mod entry;
mod error;
pub mod fsck;
mod identity;
pub mod log;
pub mod merkle;
pub mod note;
pub mod rekor;
pub mod rekor_entry;
pub mod sign;
mod store;
mod stored;
pub mod tiles;
pub mod verified;
pub mod verify;
pub mod witness;

pub use damage::{Damage, DamagedFile};
pub use error::{ProofError, ProofKind, Side, TlogError};

pub use backend::LogBackend;
pub use checkpoint::Checkpoint;
pub use entry::TlogEntry;
pub use log::Log;
pub use verify::{TrustedLog, VerifiedEntry, trusted_logs, verify_entry};
