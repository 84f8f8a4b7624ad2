//! Offline verification of a bundle's log entries against a Sigstore trusted root: the entry's
//! body is about this envelope, its checkpoint is signed by a log the trusted root names (under
//! that log's origin), and its inclusion proof leads from the body to the checkpoint's root.
//!
//! Not here: the envelope's signature (`stella-attest`), fetching anything.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use stella_attest::Envelope;

use crate::checkpoint::Checkpoint;
use crate::entry::{TlogEntry, check_binding};
use crate::merkle;
use crate::note::NoteVerifier;
use crate::{ProofError, TlogError};

/// A log a trusted root names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    /// The base URL.
    pub base_url: String,
    /// The checkpoint origin: the bare host name of the base URL.
    pub origin: String,
    /// The checkpoint key.
    pub verifier: NoteVerifier,
    /// The log id entries carry.
    pub log_id: Vec<u8>,
}

/// The Ed25519 logs of a trusted root (`tlogs[]`); logs with other keys are skipped.
///
/// # Errors
/// [`TlogError::TrustedRoot`] for a document that is not a trusted root or names no usable log.
pub fn trusted_logs(root: &Value) -> Result<Vec<TrustedLog>, TlogError> {
    let bad = |m: String| TlogError::TrustedRoot(m);
    let media = root["mediaType"].as_str().unwrap_or_default();
    if !media.starts_with("application/vnd.dev.sigstore.trustedroot") {
        return Err(bad(format!(
            "mediaType {media:?} is not a Sigstore trusted root"
        )));
    }
    let mut out = Vec::new();
    for (i, tlog) in root["tlogs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if tlog["publicKey"]["keyDetails"].as_str() != Some("PKIX_ED25519") {
            continue;
        }
        let der = tlog["publicKey"]["rawBytes"]
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| bad(format!("tlogs[{i}].publicKey.rawBytes is not base64")))?;
        let key: [u8; 32] = der
            .get(12..)
            .and_then(|k| k.try_into().ok())
            .filter(|k| stella_attest::keys::ed25519_spki_der(k) == der)
            .ok_or_else(|| bad(format!("tlogs[{i}].publicKey is not an Ed25519 SPKI")))?;
        let base_url = tlog["baseUrl"].as_str().unwrap_or_default().to_owned();
        let origin = base_url
            .split("://")
            .nth(1)
            .unwrap_or(&base_url)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let verifier =
            NoteVerifier::new(&origin, key).map_err(|e| bad(format!("tlogs[{i}]: {e}")))?;
        let id = tlog["checkpointKeyId"]["keyId"]
            .as_str()
            .or_else(|| tlog["logId"]["keyId"].as_str())
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| bad(format!("tlogs[{i}] has no logId")))?;
        out.push(TrustedLog {
            base_url,
            origin,
            verifier,
            log_id: id,
        });
    }
    if out.is_empty() {
        return Err(bad("no Ed25519 transparency log in tlogs[]".to_owned()));
    }
    Ok(out)
}

/// What a verified log entry establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// The log's origin.
    pub origin: String,
    /// The entry's index.
    pub log_index: u64,
    /// The checkpoint it is proven against.
    pub checkpoint: Checkpoint,
}

/// Verifies `entry` for `envelope` against `logs`.
///
/// # Errors
/// [`TlogError`] naming the failed step: unknown log, body, checkpoint, inclusion.
pub fn verify_entry(
    entry: &TlogEntry,
    envelope: &Envelope,
    logs: &[TrustedLog],
) -> Result<VerifiedEntry, TlogError> {
    let log = logs
        .iter()
        .find(|l| l.log_id == entry.log_id)
        .ok_or_else(|| TlogError::UnknownLog {
            log_id: entry.log_id.clone(),
        })?;
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|e| TlogError::Binding(format!("body is not JSON ({e})")))?;
    if body["kind"].as_str() != Some(entry.kind.as_str())
        || body["apiVersion"].as_str() != Some(entry.version.as_str())
    {
        return Err(TlogError::Binding(format!(
            "kindVersion {}/{} differs from the body's",
            entry.kind, entry.version
        )));
    }
    check_binding(&entry.body, envelope)?;
    let checkpoint = Checkpoint::open(&entry.checkpoint, &log.verifier, &log.origin)?;
    if checkpoint.size != entry.tree_size || checkpoint.root != entry.root {
        return Err(ProofError::OtherTree {
            proof: entry.tree_size,
            checkpoint: checkpoint.size,
        }
        .into());
    }
    merkle::verify_inclusion(
        &merkle::leaf_hash(&entry.body),
        entry.log_index,
        entry.tree_size,
        &entry.hashes,
        &checkpoint.root,
    )?;
    Ok(VerifiedEntry {
        origin: log.origin.clone(),
        log_index: entry.log_index,
        checkpoint,
    })
}
