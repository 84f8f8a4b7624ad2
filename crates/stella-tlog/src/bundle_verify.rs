//! Verifying any Sigstore bundle offline against a Sigstore trusted root, keyless or
//! key-based, in the order Sigstore's clients do:
//!
//! 1. read the bundle (v0.1–v0.3) and find the signer: a Fulcio certificate (a chain given in
//!    the bundle may hold intermediates, never a root) or a key the verifier supplies;
//! 2. check the signature: over the artifact's bytes or SHA-256 (`messageSignature`, whose
//!    `messageDigest` must be the artifact's), or over the DSSE PAE with the artifact among the
//!    statement's subjects;
//! 3. check every log entry ([`crate::rekor_entry`]): the body is about this signature and
//!    signer, the inclusion proof and checkpoint, the signed entry timestamp;
//! 4. check every RFC 3161 timestamp against the root's timestamp authorities;
//! 5. keyless: at every proven signing time (verified integrated times and timestamps; at
//!    least one is required) the certificate chains to a certificate authority of the root
//!    and is valid; at least one embedded SCT verifies against the root's CT logs; the
//!    certificate's identity satisfies the policy.
//!
//! Not here: the certificate, timestamp and policy logic (`stella-attest`'s `keyless`), where
//! the trusted root comes from, printing.

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use stella_attest::AttestError;
use stella_attest::bundle::{BundleContent, BundleVersion, SigstoreBundle, VerificationMaterial};
use stella_attest::dsse::pae;
use stella_attest::keyless::certificate::{CertificateIdentity, FulcioCertificate};
use stella_attest::keyless::pkix::{HashAlgorithm, PkixKey};
use stella_attest::keyless::timestamp::verify_timestamp;
use stella_attest::keyless::{IdentityPolicy, KeylessError, TrustedRoot, rfc3339};
use stella_core::media::IN_TOTO_PAYLOAD as PAYLOAD_TYPE_IN_TOTO;

use crate::rekor_entry::{
    EntryRefused, RekorEntry, SignedContent, SignerMaterial, VerifiedRekorEntry, verify_rekor_entry,
};

/// How far in the future an integrated time may be (clock skew between log and verifier).
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 60;

/// What was signed, as the verifier has it.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Only its SHA-256.
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => Sha256::digest(b).into(),
            Artifact::Sha256(d) => *d,
        }
    }
}

/// What the verifier trusts and requires.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The trusted root.
    pub root: &'a TrustedRoot,
    /// The identity a keyless bundle's certificate must bind (identity and issuer required).
    pub policy: Option<&'a IdentityPolicy>,
    /// The key a key-based bundle must be signed with.
    pub key: Option<&'a PkixKey>,
    /// Now, seconds since the epoch (integrated times after it are refused).
    pub now: i64,
}

/// Who signed, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSigner {
    /// A Fulcio certificate.
    Certificate {
        /// The identity it binds.
        identity: CertificateIdentity,
        /// The certificate authority of the root that issued it.
        authority: String,
        /// How many embedded SCTs verified.
        scts: usize,
        /// Validity start and end.
        validity: (i64, i64),
    },
    /// The verifier's key.
    Key {
        /// Base64 SHA-256 of its DER.
        hint: String,
    },
}

/// A proven signing time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenTime {
    /// Seconds since the epoch.
    pub time: i64,
    /// What proves it: a log's base URL (signed entry timestamp) or a TSA's URI.
    pub source: String,
    /// `"integrated-time"` or `"rfc3161"`.
    pub kind: &'static str,
}

/// What a verified bundle establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The bundle's media type.
    pub media_type: String,
    /// `"messageSignature"` or `"dsseEnvelope"`.
    pub content: &'static str,
    /// The DSSE payload's predicate type, for an in-toto statement.
    pub predicate_type: Option<String>,
    /// SHA-256 of the artifact, hex.
    pub artifact_sha256: String,
    /// The signer.
    pub signer: VerifiedSigner,
    /// The log entries.
    pub log_entries: Vec<VerifiedRekorEntry>,
    /// The proven signing times.
    pub times: Vec<ProvenTime>,
}

/// Why a bundle does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleVerifyError {
    /// The bundle cannot be read, or its envelope is wrong.
    #[error(transparent)]
    Bundle(#[from] AttestError),
    /// Certificates, timestamps, identity.
    #[error(transparent)]
    Keyless(#[from] KeylessError),
    /// A log entry was refused.
    #[error("transparency log entry {index}: {reason}")]
    Entry {
        /// Its position in the bundle.
        index: usize,
        /// Why.
        reason: EntryRefused,
    },
    /// The bundle has no log entry.
    #[error("the bundle has no transparency log entry; offline verification needs one")]
    NoEntry,
    /// The artifact is not the one signed.
    #[error("artifact: {0}")]
    Artifact(String),
    /// The signature does not verify.
    #[error("signature: {0}")]
    Signature(String),
    /// Nothing proves when the signature was made.
    #[error(
        "no proven signing time: no verified signed entry timestamp and no RFC 3161 timestamp \
         (a Rekor v2 entry carries no integrated time, so its bundle needs a timestamp)"
    )]
    NoSigningTime,
    /// An integrated time after now.
    #[error("the log's integrated time {time} is in the future (now {now})")]
    FutureTime {
        /// The time, RFC 3339.
        time: String,
        /// Now, RFC 3339.
        now: String,
    },
    /// The material and the verifier's inputs do not fit together.
    #[error("{0}")]
    Material(String),
}

impl stella_core::Kinded for BundleVerifyError {
    fn kind(&self) -> stella_core::ErrorKind {
        use stella_core::ErrorKind;
        match self {
            BundleVerifyError::Bundle(
                AttestError::Bundle(_)
                | AttestError::MediaType(_)
                | AttestError::Base64 { .. }
                | AttestError::Envelope(_)
                | AttestError::PayloadTooLarge { .. }
                | AttestError::TooManySignatures { .. }
                | AttestError::Json(_),
            ) => ErrorKind::Invalid,
            BundleVerifyError::Bundle(e) => e.kind(),
            BundleVerifyError::Keyless(e) => e.kind(),
            _ => ErrorKind::Rejected,
        }
    }
}

/// The sha256 digests of an in-toto statement's subjects, and its predicate type.
fn statement_subjects(payload: &[u8]) -> Result<(Vec<String>, Option<String>), String> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the DSSE payload is not JSON ({e})"))?;
    let subjects = value["subject"]
        .as_array()
        .ok_or("the in-toto statement has no subject array")?
        .iter()
        .filter_map(|s| s["digest"]["sha256"].as_str().map(str::to_ascii_lowercase))
        .collect();
    Ok((subjects, value["predicateType"].as_str().map(str::to_owned)))
}

/// Verifies a bundle (its JSON) for `artifact`.
///
/// # Errors
/// [`BundleVerifyError`] naming the first check that failed.
pub fn verify_bundle(
    bundle: &Value,
    artifact: Artifact<'_>,
    options: &VerifyOptions<'_>,
) -> Result<VerifiedBundle, BundleVerifyError> {
    let bundle = SigstoreBundle::from_json_value(bundle)?;
    let artifact_digest = artifact.sha256();

    // 1. The signer.
    let (leaf, key): (Option<FulcioCertificate>, PkixKey) = match &bundle.material {
        VerificationMaterial::Certificates(ders) => {
            let policy = options.policy.filter(|p| p.is_complete()).ok_or_else(|| {
                BundleVerifyError::Material(
                    "a keyless (certificate) bundle needs the expected identity \
                     (--certificate-identity or --certificate-identity-regexp) and issuer \
                     (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp)"
                        .to_owned(),
                )
            })?;
            let _ = policy;
            let leaf = FulcioCertificate::from_der(&ders[0], "the signing certificate")?;
            for (i, der) in ders.iter().enumerate().skip(1) {
                let cert = FulcioCertificate::from_der(der, &format!("bundle certificate {i}"))?;
                if cert.is_self_issued() {
                    return Err(BundleVerifyError::Material(format!(
                        "the bundle's certificate chain contains a root certificate (certificate \
                         {i}): roots come from the trusted root only"
                    )));
                }
            }
            let key = leaf.public_key().clone();
            (Some(leaf), key)
        }
        VerificationMaterial::PublicKey { hint } => {
            let key = options.key.ok_or_else(|| {
                BundleVerifyError::Material(format!(
                    "the bundle is signed with a key{}, not a certificate: give the public key \
                     with --key",
                    hint.as_deref()
                        .map_or(String::new(), |h| format!(" (hint {h})"))
                ))
            })?;
            (None, key.clone())
        }
    };
    let signer_material = match &leaf {
        Some(cert) => SignerMaterial::Certificate(cert.der()),
        None => SignerMaterial::PublicKey(key.spki_der()),
    };

    // 2. The signature over the artifact.
    let (content_kind, predicate_type, signed_content) = match &bundle.content {
        BundleContent::MessageSignature { digest, signature } => {
            if let Some((algorithm, digest)) = digest {
                let computed = match (algorithm.as_str(), artifact) {
                    ("SHA2_256", _) => artifact_digest.to_vec(),
                    ("SHA2_384", Artifact::Bytes(b)) => HashAlgorithm::Sha384.digest(b),
                    ("SHA2_512", Artifact::Bytes(b)) => HashAlgorithm::Sha512.digest(b),
                    (other, _) => {
                        return Err(BundleVerifyError::Artifact(format!(
                            "messageDigest algorithm {other:?} cannot be checked against a \
                             SHA-256 digest"
                        )));
                    }
                };
                if &computed != digest {
                    return Err(BundleVerifyError::Artifact(
                        "the bundle's messageDigest is not the artifact's digest: the bundle \
                         is for another artifact"
                            .to_owned(),
                    ));
                }
            }
            let ok = match artifact {
                Artifact::Bytes(bytes) => key.verify(key.default_scheme(), bytes, signature),
                Artifact::Sha256(d) => key.verify_prehashed(HashAlgorithm::Sha256, &d, signature),
            };
            if !ok {
                return Err(BundleVerifyError::Signature(
                    "the signature does not verify over the artifact with the signer's key"
                        .to_owned(),
                ));
            }
            (
                "messageSignature",
                None,
                SignedContent::Message {
                    digest: &artifact_digest,
                    signature,
                },
            )
        }
        BundleContent::Dsse(envelope) => {
            let [sig] = envelope.signatures.as_slice() else {
                return Err(BundleVerifyError::Signature(format!(
                    "the envelope carries {} signatures; a Sigstore bundle's carries one",
                    envelope.signatures.len()
                )));
            };
            let message = pae(&envelope.payload_type, &envelope.payload);
            if !key.verify(key.default_scheme(), &message, &sig.sig) {
                return Err(BundleVerifyError::Signature(
                    "the envelope's signature does not verify over its PAE with the signer's key"
                        .to_owned(),
                ));
            }
            if envelope.payload_type != PAYLOAD_TYPE_IN_TOTO {
                return Err(BundleVerifyError::Artifact(format!(
                    "payloadType {:?} is not an in-toto statement, so no subject names the \
                     artifact",
                    envelope.payload_type
                )));
            }
            let (subjects, predicate) =
                statement_subjects(&envelope.payload).map_err(BundleVerifyError::Artifact)?;
            let hex = stella_core::hex::encode(artifact_digest);
            if !subjects.contains(&hex) {
                return Err(BundleVerifyError::Artifact(format!(
                    "no subject of the statement has sha256 {hex} (subjects: {})",
                    subjects.join(", ")
                )));
            }
            ("dsseEnvelope", predicate, SignedContent::Dsse(envelope))
        }
    };
    let signature_bytes = bundle.content.signature().unwrap_or_default();

    // 3. Log entries.
    if bundle.tlog_entries.is_empty() {
        return Err(BundleVerifyError::NoEntry);
    }
    let mut log_entries = Vec::new();
    let mut times = Vec::new();
    for (index, value) in bundle.tlog_entries.iter().enumerate() {
        let entry_error = |reason| BundleVerifyError::Entry { index, reason };
        let entry = RekorEntry::from_json_value(value).map_err(entry_error)?;
        let verified = verify_rekor_entry(
            &entry,
            signed_content,
            signer_material,
            options.root,
            bundle.version == BundleVersion::V01,
            bundle.version >= BundleVersion::V02,
        )
        .map_err(entry_error)?;
        if let Some(time) = verified.integrated_time {
            if time > options.now + MAX_CLOCK_SKEW_SECONDS {
                return Err(BundleVerifyError::FutureTime {
                    time: rfc3339(time),
                    now: rfc3339(options.now),
                });
            }
            times.push(ProvenTime {
                time,
                source: verified.log.clone(),
                kind: "integrated-time",
            });
        }
        log_entries.push(verified);
    }

    // 4. Timestamps.
    for (index, token) in bundle.timestamps.iter().enumerate() {
        let stamp = verify_timestamp(token, signature_bytes, options.root, index)?;
        times.push(ProvenTime {
            time: stamp.time,
            source: stamp.authority,
            kind: "rfc3161",
        });
    }

    // 5. The certificate at every proven time, its SCTs, its identity.
    let signer = match &leaf {
        None => VerifiedSigner::Key {
            hint: {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(key.spki_der()))
            },
        },
        Some(leaf) => {
            if times.is_empty() {
                return Err(BundleVerifyError::NoSigningTime);
            }
            let mut authority = None;
            for t in &times {
                let found = leaf
                    .verify_chain(options.root, t.time)
                    .map_err(|e| match e {
                        KeylessError::NotValidAt {
                            what,
                            time,
                            not_before,
                            not_after,
                        } => KeylessError::NotValidAt {
                            what: format!("{what} (time proven by {} {})", t.kind, t.source),
                            time,
                            not_before,
                            not_after,
                        },
                        other => other,
                    })?;
                authority.get_or_insert(found);
            }
            let authority = authority.ok_or(BundleVerifyError::NoSigningTime)?;
            let issuer_der = authority.chain.first().ok_or_else(|| {
                BundleVerifyError::Material("the certificate authority has no chain".to_owned())
            })?;
            let issuer = FulcioCertificate::from_der(issuer_der, "the issuing certificate")?;
            let scts = leaf.verify_scts(&issuer, &options.root.ctlogs)?;
            let identity = leaf.identity()?;
            if let Some(policy) = options.policy {
                policy.check(&identity)?;
            }
            VerifiedSigner::Certificate {
                identity,
                authority: authority.uri.clone(),
                scts,
                validity: leaf.validity(),
            }
        }
    };
    Ok(VerifiedBundle {
        media_type: bundle.media_type,
        content: content_kind,
        predicate_type,
        artifact_sha256: stella_core::hex::encode(artifact_digest),
        signer,
        log_entries,
        times,
    })
}
