//! Keyless Sigstore verification material: everything needed to decide whether a short-lived
//! Fulcio certificate vouches for a signature, offline, against a Sigstore trusted root.
//!
//! What this module owns:
//! - [`trusted_root`]: the trusted root v0.1 model (transparency logs, CT logs, certificate
//!   authorities, timestamp authorities, each with the time range it is trusted for);
//! - [`pkix`]: public keys of any algorithm a trusted root or certificate carries (ECDSA
//!   P-256/P-384, RSA PKCS#1 v1.5, Ed25519) and the signatures they check;
//! - [`certificate`]: Fulcio certificates: chain to a certificate authority of the root valid
//!   at the signing time, path validation, the embedded SCTs, and the identity the
//!   certificate binds (SAN, OIDC issuer, GitHub workflow claims);
//! - [`timestamp`]: RFC 3161 timestamp tokens (CMS SignedData around a TSTInfo) checked against
//!   the root's timestamp authorities;
//! - [`policy`]: the identity policy a verifier asks for, with cosign's flag meanings.
//!
//! What it does not own: transparency-log entries and checkpoints (`stella-tlog`, which also
//! runs the whole bundle verification), reading bundles ([`crate::bundle`]), fetching anything.
//!
//! Every parser here takes untrusted bytes: limits are named constants, failures are
//! [`KeylessError`] values that say what was expected, and nothing panics on input.

pub mod certificate;
pub mod pkix;
pub mod policy;
pub mod timestamp;
pub mod trusted_root;

#[cfg(test)]
mod tests;

pub use certificate::{CertificateIdentity, FulcioCertificate};
pub use policy::{IdentityPolicy, Matcher};
pub use trusted_root::{TimeRange, TrustedRoot};

/// A time, in seconds since the Unix epoch, written as RFC 3339 (UTC) for messages.
pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{seconds} (seconds since 1970)"))
}

/// Everything that can refuse keyless verification material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// The trusted root document is malformed: where, and what was expected.
    #[error("trusted root: {at}: {reason}")]
    TrustedRoot {
        /// A JSON pointer.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// A certificate's DER does not parse.
    #[error("{what}: malformed X.509 certificate ({reason})")]
    MalformedCertificate {
        /// Which certificate.
        what: String,
        /// The parser's words.
        reason: String,
    },
    /// A public key that cannot be used.
    #[error("{what}: {reason}")]
    Key {
        /// Which key.
        what: String,
        /// Why.
        reason: String,
    },
    /// No certificate authority of the trusted root issued the certificate (at that time).
    #[error(
        "the certificate does not chain to a certificate authority of the trusted root valid at \
         {time}: {reason}"
    )]
    UntrustedChain {
        /// The signing time, RFC 3339.
        time: String,
        /// What each candidate authority said.
        reason: String,
    },
    /// A certificate's validity period does not contain the signing time.
    #[error("{what} not valid at the signing time {time}: validity {not_before} to {not_after}")]
    NotValidAt {
        /// Which certificate.
        what: String,
        /// The time, RFC 3339.
        time: String,
        /// Start, RFC 3339.
        not_before: String,
        /// End, RFC 3339.
        not_after: String,
    },
    /// Path validation refused a certificate: an extension, a flag, a depth.
    #[error("{what}: {reason}")]
    PathValidation {
        /// Which certificate.
        what: String,
        /// Why.
        reason: String,
    },
    /// Signed certificate timestamps: none valid, or malformed.
    #[error("signed certificate timestamps: {0}")]
    Sct(String),
    /// A timestamp token that does not verify.
    #[error("RFC 3161 timestamp {index}: {reason}")]
    Timestamp {
        /// Its position in the bundle.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The certificate's identity is not the one asked for.
    #[error("identity: {0}")]
    Identity(String),
    /// A regular expression of the policy does not compile.
    #[error("{flag}: invalid regular expression ({reason})")]
    Regex {
        /// The flag.
        flag: &'static str,
        /// The compiler's words.
        reason: String,
    },
}

impl KeylessError {
    /// Whether the error is about malformed input (a document that cannot be read) rather than
    /// material that was read and refused.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            KeylessError::TrustedRoot { .. } | KeylessError::Regex { .. }
        )
    }
}

impl stella_core::Kinded for KeylessError {
    fn kind(&self) -> stella_core::ErrorKind {
        if self.is_malformed() {
            stella_core::ErrorKind::Invalid
        } else {
            stella_core::ErrorKind::Rejected
        }
    }
}
