//! Signed evidence: every piece of Stella's evidence is an in-toto Statement in a DSSE envelope,
//! signed with a cosign-compatible key and shipped as a Sigstore bundle.
//!
//! What this crate owns:
//! - [`keys`]: ECDSA P-256 and Ed25519 keys, their PEM forms, the key id every verifier agrees
//!   on (the bundle "hint", base64 of SHA-256 of the DER public key), and the [`Signer`] /
//!   [`Verifier`] traits behind which a KMS or PKCS#11 key can later sit;
//! - [`cosign`]: cosign's encrypted private-key file (scrypt + NaCl secretbox over PKCS#8);
//! - [`statement`]: in-toto Statement v1 (v0.1 read too), canonical (RFC 8785) as a payload;
//! - [`dsse`]: the DSSE envelope, its pre-authentication encoding, signing and verification with
//!   a precise reason for every refusal;
//! - [`bundle`]: Sigstore bundles (v0.1 to v0.3): the one Stella writes around an envelope, and
//!   every form a verifier reads;
//! - [`keyless`]: keyless verification material: the Sigstore trusted root, Fulcio certificate
//!   chains and SCTs, RFC 3161 timestamps, identity policies;
//! - [`predicates`]: the JSON schemas of Stella's own predicate types and the SBOM wrapper;
//! - [`simple_signing`]: cosign's legacy signatures (simple-signing payloads) and attestations
//!   as its registry tags hold them, checked with a key; keyless ones identified.
//!
//! What it does not own: the transparency log (entries are added to a bundle by `stella-tlog`),
//! where keys and bundles are stored, and how a password is obtained (the CLI asks for it).
//!
//! Signing is deterministic: ECDSA nonces follow RFC 6979 and Ed25519 is deterministic by
//! construction, so the same statement and key give the same envelope, byte for byte.

pub mod bundle;
pub mod cosign;
pub mod dsse;
pub mod keyless;
pub mod keys;
pub mod predicates;
pub mod simple_signing;
pub mod statement;

pub use bundle::{Bundle, BundleContent, SignedEvidence, SigstoreBundle, VerificationMaterial};
pub use dsse::{Envelope, Verified};
pub use keys::{Algorithm, PrivateKey, PublicKey, Signer, Verifier};
pub use statement::{Statement, Subject};

/// Largest payload accepted, decoded (160 MiB, so that its bundle, base64 and JSON around it,
/// stays within the 256 MiB an attached evidence document may be): a Statement that carries a
/// whole SBOM, or the FuncProof of a large binary (a 400 MB debug build holds about 70 MB of
/// function ranges and hashes), fits; a document meant to exhaust a verifier does not.
pub const MAX_PAYLOAD_BYTES: usize = 160 << 20;

/// Most signatures accepted on one envelope.
pub const MAX_SIGNATURES: usize = 16;

/// Everything that can go wrong reading, signing or verifying evidence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// A key that cannot be read or used: the message says what was found and what is needed.
    #[error("{0}")]
    Key(String),
    /// The password does not open the encrypted private key.
    #[error(
        "wrong password: the encrypted private key did not open (the password differs from the \
         one it was written with, or the file was modified)"
    )]
    WrongPassword,
    /// The statement breaks the in-toto Statement rules.
    #[error("statement: {0}")]
    Statement(String),
    /// The envelope's structure is wrong.
    #[error("envelope: {0}")]
    Envelope(String),
    /// A field that must be base64 is not.
    #[error("{field} is not valid base64 ({reason})")]
    Base64 {
        /// Where, as a JSON pointer.
        field: String,
        /// What the decoder said.
        reason: String,
    },
    /// The bundle's structure is wrong.
    #[error("bundle: {0}")]
    Bundle(String),
    /// The bundle declares a media type this crate does not read.
    #[error(
        "unknown bundle media type {0:?}: expected application/vnd.dev.sigstore.bundle.v0.3+json \
         (or the v0.1/v0.2 forms)"
    )]
    MediaType(String),
    /// The payload is larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload is {size} bytes; at most {max} are accepted")]
    PayloadTooLarge {
        /// Decoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The envelope carries no signature.
    #[error("the envelope carries no signatures")]
    NoSignatures,
    /// More signatures than [`MAX_SIGNATURES`].
    #[error("the envelope carries {count} signatures; at most {max} are accepted")]
    TooManySignatures {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Two signatures name the same key, or are the same bytes.
    #[error("duplicate signature: {0}")]
    DuplicateSignature(String),
    /// No signature is by the given key.
    #[error(
        "no signature by key {expected}: the envelope is signed by {found}, and no signature \
         verifies with this key (wrong key?)"
    )]
    WrongKey {
        /// The verifier's key id.
        expected: String,
        /// The key ids on the envelope.
        found: String,
    },
    /// A signature by the key does not verify over the PAE.
    #[error(
        "the signature by key {keyid} does not verify: the payload or payloadType was modified \
         after signing"
    )]
    BadSignature {
        /// The key id.
        keyid: String,
    },
    /// A signature verifies over the raw payload, not over the PAE: not a DSSE signature.
    #[error(
        "the signature by key {keyid} covers the raw payload, not the DSSE pre-authentication \
         encoding (PAE): it is not a valid DSSE signature"
    )]
    RawPayloadSignature {
        /// The key id.
        keyid: String,
    },
    /// The payloadType is not in-toto's.
    #[error("payloadType is {found:?}; an attestation's is {expected:?}")]
    PayloadType {
        /// Found.
        found: String,
        /// Expected.
        expected: &'static str,
    },
    /// A `--type` short name that neither Stella nor cosign defines.
    #[error("unknown predicate type name {name:?}: give a URI, or one of {known}")]
    UnknownPredicateName {
        /// The name given.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// The statement's predicate type is not the one asked for.
    #[error("predicateType is {found:?}, expected {expected:?}")]
    PredicateType {
        /// Found.
        found: String,
        /// Expected.
        expected: String,
    },
    /// No subject has the digest asked for.
    #[error("no subject has digest {expected}; the subjects are: {subjects}")]
    SubjectMismatch {
        /// The digest asked for.
        expected: String,
        /// The statement's subjects, as `name (alg:hex)`.
        subjects: String,
    },
    /// A predicate of a known type does not match its schema.
    #[error("predicate does not match the {predicate_type} schema: {problems}")]
    Predicate {
        /// The predicate type.
        predicate_type: String,
        /// Each violation as `pointer: message`.
        problems: String,
    },
    /// A JSON document could not be read or written.
    #[error(transparent)]
    Json(#[from] stella_core::jcs::JcsError),
    /// The system's random number generator failed.
    #[error("no randomness available from the operating system")]
    Random,
}

impl stella_core::Kinded for AttestError {
    /// Unreadable keys and wrong passwords are bad input, a missing random source the
    /// environment; everything else is evidence that does not verify.
    fn kind(&self) -> stella_core::ErrorKind {
        match self {
            AttestError::Key(_)
            | AttestError::WrongPassword
            | AttestError::UnknownPredicateName { .. } => stella_core::ErrorKind::Invalid,
            AttestError::Random => stella_core::ErrorKind::Environment,
            _ => stella_core::ErrorKind::Rejected,
        }
    }
}

impl AttestError {
    /// Whether the error is a verification saying no (a signature, key, subject or type that
    /// does not match, or a bundle that is not what it claims), as opposed to an input that
    /// cannot be read at all.
    pub fn is_verification_failure(&self) -> bool {
        !matches!(
            self,
            AttestError::Key(_)
                | AttestError::WrongPassword
                | AttestError::Random
                | AttestError::UnknownPredicateName { .. }
        )
    }
}
