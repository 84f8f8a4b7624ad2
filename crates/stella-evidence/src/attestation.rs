//! One signed attestation checked on its own, as `stella verify-attestation` does: a Sigstore
//! bundle or a bare DSSE envelope, its signature by the key given, its statement (predicate
//! type, subjects, the predicate's schema for Stella's types), and its log entries against the
//! trusted logs and what this machine saw of them before.
//!
//! The log is optional here unless the caller requires it: a bundle without entries verifies
//! when none is required, and an unproven consistency is then a warning. Entries that are
//! there are always checked.
//!
//! Not here: reading the bundle, the key or the trusted root (the caller), image evidence as a
//! whole ([`crate::verify`]).

use serde_json::Value;
use stella_attest::{AttestError, PublicKey, SignedEvidence, Verified, predicates};
use stella_core::Digest;
use stella_tlog::audit::{EntryCheck, EntryFailure};
use stella_tlog::{TlogError, VerifiedEntry};

/// What the attestation must be.
pub struct Expected<'a> {
    /// The key whose signature must verify.
    pub key: &'a PublicKey,
    /// The predicate type (a URI, or the short name of one of Stella's).
    pub predicate_type: Option<&'a str>,
    /// Digests every one of which a subject must have.
    pub digests: &'a [Digest],
    /// Whether a log entry is required (else a bundle without one verifies).
    pub log_required: bool,
}

/// An attestation that holds.
#[derive(Debug)]
pub struct Attested {
    /// The verified signature and statement.
    pub verified: Verified,
    /// Its log entries, each verified.
    pub entries: Vec<VerifiedEntry>,
    /// What could not be proven where the log is optional (an unproven consistency).
    pub warnings: Vec<EntryFailure>,
}

/// Why an attestation does not hold: a clean "no".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The signature, the statement or the predicate does not hold.
    #[error(transparent)]
    Attestation(Box<AttestError>),
    /// A log entry is required and there is none.
    #[error("the bundle carries no transparency-log entry (--require-tlog)")]
    NotLogged,
    /// There are log entries and nothing to check them against.
    #[error(
        "the bundle has {entries} log entr{} and there is no trusted root to check them \
         against: pass --trusted-root (`stella log trusted-root` writes the embedded log's)",
        if *entries == 1 { "y" } else { "ies" }
    )]
    NoTrustedRoot {
        /// How many entries.
        entries: usize,
    },
    /// A log entry does not hold.
    #[error(transparent)]
    Log(EntryFailure),
}

/// Why an attestation could not be checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// The document is not a bundle or envelope, or the key cannot be used.
    #[error(transparent)]
    Unreadable(Box<AttestError>),
    /// The log's state or the witness could not be read.
    #[error(transparent)]
    Log(Box<TlogError>),
}

impl stella_core::Kinded for AttestationError {
    fn kind(&self) -> stella_core::ErrorKind {
        match self {
            AttestationError::Unreadable(_) => stella_core::ErrorKind::Invalid,
            AttestationError::Log(e) => e.kind(),
        }
    }
}

/// Checks `document` (a bundle or envelope as JSON) against `expected`, its log entries with
/// `log` (`None`: no trusted root).
///
/// # Errors
/// [`AttestationError`] when the check cannot be made; `Ok(Err(_))` is a clean "no".
pub fn verify(
    document: &Value,
    expected: &Expected<'_>,
    log: Option<&EntryCheck<'_>>,
) -> Result<Result<Attested, Refusal>, AttestationError> {
    let refused = |e: AttestError| {
        if e.is_verification_failure() {
            Ok(Err(Refusal::Attestation(Box::new(e))))
        } else {
            Err(AttestationError::Unreadable(Box::new(e)))
        }
    };
    let evidence = match SignedEvidence::from_json_value(document) {
        Ok(e) => e,
        Err(e) => return refused(e),
    };
    let verified = match evidence.envelope().verify(expected.key) {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    if let Err(e) = predicates::check_statement(
        &verified.statement,
        expected.predicate_type,
        expected.digests,
    ) {
        return refused(e);
    }
    let raw = match &evidence {
        SignedEvidence::Bundle(b) => b.tlog_entries.as_slice(),
        SignedEvidence::Envelope(_) => &[],
    };
    if raw.is_empty() {
        if expected.log_required {
            return Ok(Err(Refusal::NotLogged));
        }
        return Ok(Ok(Attested {
            verified,
            entries: Vec::new(),
            warnings: Vec::new(),
        }));
    }
    let Some(check) = log else {
        return Ok(Err(Refusal::NoTrustedRoot { entries: raw.len() }));
    };
    match stella_tlog::audit::check_entries(raw, evidence.envelope(), check)
        .map_err(|e| AttestationError::Log(Box::new(e)))?
    {
        Ok(logged) => Ok(Ok(Attested {
            verified,
            entries: logged.entries,
            warnings: logged.warnings,
        })),
        Err(failure) => Ok(Err(Refusal::Log(failure))),
    }
}
