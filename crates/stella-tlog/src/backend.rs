//! The one way to append to a transparency log: [`LogBackend`], given DSSE envelopes and the
//! key whose (first) signature is logged as a Rekor v2 `hashedrekord` v0.0.2 entry, returns
//! each entry with its inclusion proof and signed checkpoint, in the order given. It also
//! gives what a verifier needs: the current signed checkpoint and the hash tiles
//! ([`TileReader`]).
//!
//! Two implementations: the embedded tile log ([`Log`], one durable append per
//! [`EMBEDDED_BATCH`] entries) and, with the `client` feature, a Rekor v2-compatible log over
//! HTTP ([`crate::client::RekorClient`]).
//!
//! Not here: signing (`stella-attest`), the bundle ([`crate::sign`]).

use stella_attest::{Envelope, PublicKey};

use crate::entry::hashedrekord_body;
use crate::log::{Log, TileReader};
use crate::merkle::Hash;
use crate::{ProofError, TlogEntry, TlogError, tiles};

/// Entries the embedded log appends in one durable batch (one checkpoint, one fsync round):
/// hundreds of FuncProofs of a scan cost a handful of appends, not one each.
pub const EMBEDDED_BATCH: usize = 4096;

/// A transparency log that entries are appended to and proofs read from.
pub trait LogBackend: TileReader + Send + Sync {
    /// What the log is called in messages: its directory or its URL.
    fn name(&self) -> String;

    /// Logs the first signature of each envelope, by `key`, as a `hashedrekord` v0.0.2 entry;
    /// the entries with their inclusion proofs, in the order of `envelopes`. Each entry is
    /// checked before it is returned: it binds its envelope, and its proof leads to the root
    /// of its checkpoint.
    ///
    /// # Errors
    /// [`TlogError`]: an envelope without a signature, an entry too large, a damaged log, the
    /// disk, or the server's refusal or failure.
    fn log_envelopes(
        &self,
        envelopes: &[Envelope],
        key: &PublicKey,
    ) -> Result<Vec<TlogEntry>, TlogError>;

    /// The log's current checkpoint as the signed note it serves (a verifier opens it with
    /// the log's key from its trusted root).
    ///
    /// # Errors
    /// [`TlogError`] when it cannot be read.
    fn checkpoint_note(&self) -> Result<String, TlogError>;
}

impl TileReader for Log {
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        let Some(bytes) = self.hash_tile(level, index, width)? else {
            let size = self.checkpoint()?.0.size;
            return Err(ProofError::NoTile { level, index, size }.into());
        };
        tiles::decode_hashes(&bytes, width, &tiles::tile_path(level, index, width))
    }
}

impl LogBackend for Log {
    fn name(&self) -> String {
        self.dir().display().to_string()
    }

    fn log_envelopes(
        &self,
        envelopes: &[Envelope],
        key: &PublicKey,
    ) -> Result<Vec<TlogEntry>, TlogError> {
        let bodies = envelopes
            .iter()
            .map(|e| hashedrekord_body(e, 0, key))
            .collect::<Result<Vec<_>, _>>()?;
        let mut entries = Vec::with_capacity(bodies.len());
        for chunk in bodies.chunks(EMBEDDED_BATCH) {
            let appended = self.append(chunk)?;
            for (i, body) in chunk.iter().enumerate() {
                entries.push(self.tlog_entry(
                    appended.first_index + i as u64,
                    body.clone(),
                    &appended.checkpoint,
                    &appended.note,
                )?);
            }
        }
        Ok(entries)
    }

    fn checkpoint_note(&self) -> Result<String, TlogError> {
        Ok(self.checkpoint()?.1)
    }
}
