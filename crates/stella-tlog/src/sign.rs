//! Sign → log → bundle, once: an in-toto statement is signed into a DSSE envelope, its first
//! signature logged as a `hashedrekord` entry (unless there is no log: `--no-tlog`), and the
//! envelope and the entry wrapped in a Sigstore bundle v0.3 that names the first key.
//!
//! [`sign_and_log`] does it for one statement and any number of signers; [`sign_and_log_all`]
//! for many statements with one key, signed in parallel and logged as one batch (the embedded
//! log makes one durable append per [`crate::backend::EMBEDDED_BATCH`] entries).
//!
//! Not here: where keys come from and where the bundle is written (the callers').

use stella_attest::{AttestError, Bundle, Envelope, Signer, Statement};
use stella_core::{ErrorKind, Kinded};

use crate::backend::LogBackend;
use crate::{TlogEntry, TlogError};

/// A signed statement: its bundle (the envelope inside) and the log entries it carries.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The Sigstore bundle: the envelope, the first key's hint, the log entries.
    pub bundle: Bundle,
    /// The log entries (none when not logged), as in the bundle.
    pub entries: Vec<TlogEntry>,
}

impl Signed {
    /// The DSSE envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.bundle.envelope
    }
}

/// Why a statement could not be signed, logged or bundled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// No signer was given.
    #[error("no signing key")]
    NoSigner,
    /// The statement could not be signed or the bundle written.
    #[error("signing")]
    Sign(#[source] AttestError),
    /// The log refused or failed.
    #[error("transparency log")]
    Log(#[source] TlogError),
}

impl Kinded for SignError {
    fn kind(&self) -> ErrorKind {
        match self {
            // A statement Stella cannot sign is the input's (as `stella attest` has it).
            SignError::NoSigner | SignError::Sign(_) => ErrorKind::Invalid,
            SignError::Log(e) => e.kind(),
        }
    }
}

/// Signs `statement` with every signer, logs the first signature to `log` (when there is
/// one) and bundles the envelope with its entry, naming the first key.
///
/// # Errors
/// [`SignError::NoSigner`]; [`SignError::Sign`] for a statement that cannot be signed;
/// [`SignError::Log`] for what the log reports.
pub fn sign_and_log(
    statement: &Statement,
    signers: &[&dyn Signer],
    log: Option<&dyn LogBackend>,
) -> Result<Signed, SignError> {
    let first = signers.first().ok_or(SignError::NoSigner)?;
    let envelope = Envelope::sign_statement(statement, signers).map_err(SignError::Sign)?;
    let entries = match log {
        Some(log) => log
            .log_envelopes(std::slice::from_ref(&envelope), first.public_key())
            .map_err(SignError::Log)?,
        None => Vec::new(),
    };
    Ok(bundle(envelope, first.key_id(), entries))
}

/// Signs every statement with `signer` (in parallel), logs them all to `log` as one batch
/// (when there is one) and bundles each with its entry: the results in the order of
/// `statements`.
///
/// # Errors
/// As [`sign_and_log`]; nothing is logged unless every statement was signed.
pub fn sign_and_log_all(
    statements: &[Statement],
    signer: &(dyn Signer + Sync),
    log: Option<&dyn LogBackend>,
) -> Result<Vec<Signed>, SignError> {
    let envelopes = sign_all(statements, signer)?;
    let mut entries = match log {
        Some(log) => log
            .log_envelopes(&envelopes, signer.public_key())
            .map_err(SignError::Log)?
            .into_iter()
            .map(|e| vec![e])
            .collect(),
        None => vec![Vec::new(); envelopes.len()],
    };
    entries.resize_with(envelopes.len(), Vec::new);
    let hint = signer.key_id();
    Ok(envelopes
        .into_iter()
        .zip(entries)
        .map(|(envelope, entries)| bundle(envelope, hint.clone(), entries))
        .collect())
}

fn bundle(envelope: Envelope, hint: String, entries: Vec<TlogEntry>) -> Signed {
    let mut bundle = Bundle::new(envelope, hint);
    bundle.tlog_entries = entries.iter().map(TlogEntry::to_json).collect();
    Signed { bundle, entries }
}

/// Signs each statement on the machine's cores (signing is deterministic, so the order of
/// the work does not change a byte).
fn sign_all(
    statements: &[Statement],
    signer: &(dyn Signer + Sync),
) -> Result<Vec<Envelope>, SignError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(statements.len().max(1));
    let per_thread = statements.len().div_ceil(threads).max(1);
    let chunks: Vec<Result<Vec<Envelope>, AttestError>> = std::thread::scope(|s| {
        let handles: Vec<_> = statements
            .chunks(per_thread)
            .map(|chunk| {
                s.spawn(move || {
                    let signers: [&dyn Signer; 1] = [signer];
                    chunk
                        .iter()
                        .map(|st| Envelope::sign_statement(st, &signers))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut envelopes = Vec::with_capacity(statements.len());
    for chunk in chunks {
        envelopes.extend(chunk.map_err(SignError::Sign)?);
    }
    Ok(envelopes)
}
