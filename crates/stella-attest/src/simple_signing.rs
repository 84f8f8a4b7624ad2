//! cosign's legacy signatures and attestations, as its registry tags hold them: the
//! simple-signing payload (cosign's signature spec, "Payloads": the containers/image
//! "JSON data format" with `critical.type` = [`SIGNATURE_TYPE`]), a signature over its exact
//! bytes, and a DSSE attestation whose statement must name the image.
//!
//! The payload is read strictly, as the containers signature format says a consumer must:
//! exactly the members `critical` and `optional`; in `critical` exactly `identity`, `image` and
//! `type`, and nothing unknown (an unrecognised critical field could change the meaning of what
//! was signed); `type` must be cosign's; `image` holds exactly `docker-manifest-digest`, a
//! digest that must equal the image's (cosign checks only this member: `docker-reference` is
//! reported, never trusted). Member names are exact: cosign's JSON decoder matches names
//! without regard to case, so a payload spelling a known member another way (or twice) could
//! read differently there; it is refused, as are duplicate members.
//!
//! A signature is checked with a public key (cosign's `.pub`, read by [`crate::keys`]): ECDSA
//! P-256 over SHA-256 of the payload, or Ed25519 over the payload. A keyless signature (a
//! certificate in the layer's annotations) is checked by [`verify_keyless`] as cosign checks
//! it: the signature verifies with the certificate's key; at every signing time the caller
//! proved, the certificate chains to a Fulcio authority of the Sigstore trusted root and is
//! valid; an embedded SCT verifies with a CT log of the root; the certificate's identity and
//! issuer are the ones asked for. No proven time, no verification. The chain annotation is
//! read, never trusted: authorities come from the trusted root only.
//!
//! What this module does not own: finding the payloads in a store (`stella-oci`), proving the
//! signing time from the transparency-log entry or timestamp carried beside a signature
//! (`stella-evidence`, with `stella-tlog`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use stella_core::Digest;

use crate::dsse::Envelope;
use crate::keys::{PublicKey, Verifier as _};

/// `critical.type` of a cosign container image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// Largest payload read.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Largest base64 signature read (an ECDSA P-256 DER signature is at most 72 bytes; Ed25519 64).
pub const MAX_SIGNATURE_B64: usize = 1024;
/// Largest certificate (or chain) PEM read.
pub const MAX_CERTIFICATE_PEM: usize = 64 << 10;

/// Why a legacy signature or attestation is not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// The payload breaks the simple-signing format.
    #[error("simple-signing payload: {0}")]
    Payload(String),
    /// The payload names another image.
    #[error("the payload signs image {found}, not {expected}")]
    OtherImage {
        /// The image's digest.
        expected: String,
        /// The digest the payload names.
        found: String,
    },
    /// The layer carries no signature annotation, or one that is not base64.
    #[error("signature: {0}")]
    Signature(String),
    /// No key given verifies the signature.
    #[error(
        "the signature does not verify with {keys}: signed by another key, or the payload was modified"
    )]
    NoKeyVerifies {
        /// The keys tried (their ids).
        keys: String,
    },
    /// A keyless signature whose certificate was not checked: no identity was asked for.
    #[error(
        "keyless: not checked (signed by {identity}): the expected identity and issuer are \
         needed (--certificate-identity[-regexp], --certificate-oidc-issuer[-regexp])"
    )]
    KeylessUnverified {
        /// The certificate's identity, as read.
        identity: String,
    },
    /// A keyless signature whose certificate, chain, SCTs or identity was refused.
    #[error("keyless: {0}")]
    Keyless(#[from] crate::keyless::KeylessError),
    /// A keyless signature with no proven signing time.
    #[error(
        "keyless: no proven signing time: the layer carries no verified Rekor bundle \
         (dev.sigstore.cosign/bundle) and no verified RFC 3161 timestamp \
         (dev.sigstore.cosign/rfc3161timestamp), so the short-lived certificate cannot be \
         checked at the time it signed"
    )]
    NoSigningTime,
    /// The transparency-log entry or timestamp beside a keyless signature was refused.
    #[error("keyless: {what}: {reason}")]
    SigningTime {
        /// The annotation.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A certificate that cannot be read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// An attestation envelope that does not verify or does not name the image.
    #[error(transparent)]
    Attestation(#[from] crate::AttestError),
}

/// A simple-signing payload, read strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference` (reported, never trusted).
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: Digest,
    /// The `optional` claims, when present.
    pub optional: Option<Map<String, Value>>,
}

impl SimpleSigning {
    /// Reads a payload by the rules of the module documentation.
    ///
    /// # Errors
    /// [`LegacyError::Payload`] naming the member that breaks them.
    pub fn parse(bytes: &[u8]) -> Result<Self, LegacyError> {
        let bad = |m: String| LegacyError::Payload(m);
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(bad(format!(
                "{} bytes; at most {MAX_PAYLOAD_BYTES} are read",
                bytes.len()
            )));
        }
        // Duplicate members (and other I-JSON breaks) are refused before anything is read.
        stella_core::jcs::parse(bytes).map_err(|e| bad(e.to_string()))?;
        let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let top = object(&value, "the payload")?;
        exact_members(top, "the payload", &["critical", "optional"], &["critical"])?;
        let critical = object(&top["critical"], "critical")?;
        exact_members(
            critical,
            "critical",
            &["identity", "image", "type"],
            &["identity", "image", "type"],
        )?;
        let kind = critical["type"]
            .as_str()
            .ok_or_else(|| bad("critical.type is not a string".to_owned()))?;
        if kind != SIGNATURE_TYPE {
            return Err(bad(format!(
                "critical.type is {kind:?}, not {SIGNATURE_TYPE:?}"
            )));
        }
        let image = object(&critical["image"], "critical.image")?;
        exact_members(
            image,
            "critical.image",
            &["docker-manifest-digest"],
            &["docker-manifest-digest"],
        )?;
        let digest_text = image["docker-manifest-digest"].as_str().ok_or_else(|| {
            bad("critical.image.docker-manifest-digest is not a string".to_owned())
        })?;
        let manifest_digest: Digest = digest_text.parse().map_err(|e| {
            bad(format!(
                "critical.image.docker-manifest-digest {digest_text:?}: {e}"
            ))
        })?;
        let identity = object(&critical["identity"], "critical.identity")?;
        exact_members(
            identity,
            "critical.identity",
            &["docker-reference"],
            &["docker-reference"],
        )?;
        let docker_reference = identity["docker-reference"]
            .as_str()
            .ok_or_else(|| bad("critical.identity.docker-reference is not a string".to_owned()))?
            .to_owned();
        let optional = match top.get("optional") {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o.clone()),
            Some(_) => return Err(bad("optional is neither an object nor null".to_owned())),
        };
        Ok(SimpleSigning {
            docker_reference,
            manifest_digest,
            optional,
        })
    }

    /// Fails unless the payload signs `image`.
    ///
    /// # Errors
    /// [`LegacyError::OtherImage`].
    pub fn require_image(&self, image: &Digest) -> Result<(), LegacyError> {
        if &self.manifest_digest == image {
            return Ok(());
        }
        Err(LegacyError::OtherImage {
            expected: image.to_string(),
            found: self.manifest_digest.to_string(),
        })
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, LegacyError> {
    value
        .as_object()
        .ok_or_else(|| LegacyError::Payload(format!("{what} is not a JSON object")))
}

/// Refuses members outside `allowed` (and known names in another case), and missing `required`.
fn exact_members(
    object: &Map<String, Value>,
    what: &str,
    allowed: &[&str],
    required: &[&str],
) -> Result<(), LegacyError> {
    for key in object.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        if let Some(known) = allowed.iter().find(|a| a.eq_ignore_ascii_case(key)) {
            return Err(LegacyError::Payload(format!(
                "{what} spells {known:?} as {key:?}: member names are exact"
            )));
        }
        return Err(LegacyError::Payload(format!(
            "{what} has the unknown member {key:?} (unknown critical fields are refused)"
        )));
    }
    for key in required {
        if !object.contains_key(*key) {
            return Err(LegacyError::Payload(format!("{what} has no {key:?}")));
        }
    }
    Ok(())
}

/// The signature annotation's bytes.
///
/// # Errors
/// [`LegacyError::Signature`] for a missing, oversized or non-base64 annotation.
pub fn decode_signature(annotation: Option<&str>) -> Result<Vec<u8>, LegacyError> {
    let text = annotation.ok_or_else(|| {
        LegacyError::Signature("the layer has no dev.cosignproject.cosign/signature".to_owned())
    })?;
    if text.len() > MAX_SIGNATURE_B64 {
        return Err(LegacyError::Signature(format!(
            "{} characters; at most {MAX_SIGNATURE_B64} are read",
            text.len()
        )));
    }
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| LegacyError::Signature(format!("not base64 ({e})")))?;
    if bytes.is_empty() {
        return Err(LegacyError::Signature("empty".to_owned()));
    }
    Ok(bytes)
}

/// Verifies a legacy signature of `payload` with `keys`: the payload must be a simple-signing
/// payload that signs `image`, and one key must verify the signature over its bytes. Returns
/// the payload and the key that verified.
///
/// # Errors
/// [`LegacyError::Payload`], [`LegacyError::OtherImage`], [`LegacyError::Signature`],
/// [`LegacyError::NoKeyVerifies`].
pub fn verify_signature<'k>(
    payload: &[u8],
    signature: &[u8],
    image: &Digest,
    keys: &'k [PublicKey],
) -> Result<(SimpleSigning, &'k PublicKey), LegacyError> {
    let parsed = SimpleSigning::parse(payload)?;
    parsed.require_image(image)?;
    match keys.iter().find(|k| k.verify(payload, signature)) {
        Some(key) => Ok((parsed, key)),
        None => Err(LegacyError::NoKeyVerifies {
            keys: key_list(keys),
        }),
    }
}

fn key_list(keys: &[PublicKey]) -> String {
    if keys.is_empty() {
        return "no key".to_owned();
    }
    keys.iter()
        .map(PublicKey::hint)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a verified legacy attestation says.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// The key id that verified.
    pub key_id: String,
}

/// Verifies a legacy attestation (a DSSE envelope, `bytes`) with `keys`: one key must verify
/// it (over the PAE, in-toto payload type) and a subject of its statement must be `image`.
///
/// # Errors
/// [`LegacyError::Attestation`] with the reason of the last key tried (or of the envelope).
pub fn verify_attestation(
    bytes: &[u8],
    image: &Digest,
    keys: &[PublicKey],
) -> Result<VerifiedAttestation, LegacyError> {
    let envelope = read_envelope(bytes)?;
    let mut last = None;
    for key in keys {
        match envelope.verify(key) {
            Ok(verified) => {
                verified.statement.require_subject_digest(image)?;
                return Ok(VerifiedAttestation {
                    predicate_type: verified.statement.predicate_type.clone(),
                    key_id: key.hint(),
                });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => LegacyError::Attestation(e),
        None => LegacyError::NoKeyVerifies {
            keys: key_list(keys),
        },
    })
}

/// A legacy attestation's envelope.
///
/// # Errors
/// [`LegacyError::Attestation`] when it is not a DSSE envelope.
pub fn read_envelope(bytes: &[u8]) -> Result<Envelope, LegacyError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        LegacyError::Attestation(crate::AttestError::Envelope(format!("not JSON: {e}")))
    })?;
    Ok(Envelope::from_json_value(&value, "")?)
}

/// The predicate type an unverified envelope's statement claims, for a listing.
pub fn claimed_predicate_type(envelope: &Envelope) -> Option<String> {
    let value: Value = serde_json::from_slice(&envelope.payload).ok()?;
    value["predicateType"].as_str().map(str::to_owned)
}

/// Who a signing certificate names: what a keyless signature is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateIdentity {
    /// The subject alternative names (e-mail addresses, URIs).
    pub names: Vec<String>,
    /// The OIDC issuer (Fulcio's extension), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl std::fmt::Display for CertificateIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = if self.names.is_empty() {
            "(no subject alternative name)".to_owned()
        } else {
            self.names.join(", ")
        };
        match &self.issuer {
            Some(i) => write!(f, "{names} (issuer {i})"),
            None => f.write_str(&names),
        }
    }
}

/// Fulcio's OIDC issuer extension (v1: the raw string).
const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// Fulcio's OIDC issuer extension (v2: a DER UTF8String).
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

/// The identity the first certificate of `pem` names. Nothing about it is verified.
///
/// # Errors
/// [`LegacyError::Certificate`] for a PEM that holds no readable certificate.
pub fn certificate_identity(pem: &str) -> Result<CertificateIdentity, LegacyError> {
    use x509_cert::der::{Decode as _, DecodePem as _};
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;

    let bad = |m: String| LegacyError::Certificate(m);
    if pem.len() > MAX_CERTIFICATE_PEM {
        return Err(bad(format!(
            "{} bytes of PEM; at most {MAX_CERTIFICATE_PEM} are read",
            pem.len()
        )));
    }
    let first = first_pem_block(pem).ok_or_else(|| bad("no PEM certificate".to_owned()))?;
    let cert = x509_cert::Certificate::from_pem(first).map_err(|e| bad(e.to_string()))?;
    let mut identity = CertificateIdentity {
        names: Vec::new(),
        issuer: None,
    };
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let oid = ext.extn_id.to_string();
        let value = ext.extn_value.as_bytes();
        if oid == "2.5.29.17" {
            let san = SubjectAltName::from_der(value).map_err(|e| bad(e.to_string()))?;
            for name in san.0 {
                match name {
                    GeneralName::Rfc822Name(n) => identity.names.push(n.to_string()),
                    GeneralName::UniformResourceIdentifier(n) => {
                        identity.names.push(n.to_string());
                    }
                    GeneralName::DnsName(n) => identity.names.push(n.to_string()),
                    _ => {}
                }
            }
        } else if oid == OID_ISSUER_V2 {
            let s = x509_cert::der::asn1::Utf8StringRef::from_der(value)
                .map_err(|e| bad(e.to_string()))?;
            identity.issuer = Some(s.as_str().to_owned());
        } else if oid == OID_ISSUER_V1 && identity.issuer.is_none() {
            identity.issuer = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    Ok(identity)
}

fn first_pem_block(pem: &str) -> Option<&str> {
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find("-----BEGIN CERTIFICATE-----")?;
    let end = pem[start..].find(END)? + start + END.len();
    Some(&pem[start..end])
}

/// Most certificates read from a chain annotation.
pub const MAX_CHAIN_CERTIFICATES: usize = 8;

/// The DER of every `CERTIFICATE` PEM block of `pem`, in order (at most `max`).
///
/// # Errors
/// [`LegacyError::Certificate`] for oversized PEM, a block that does not decode, another
/// label, too many blocks, or none.
pub fn certificates_der(pem: &str, max: usize) -> Result<Vec<Vec<u8>>, LegacyError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let bad = |m: String| LegacyError::Certificate(m);
    if pem.len() > MAX_CERTIFICATE_PEM {
        return Err(bad(format!(
            "{} bytes of PEM; at most {MAX_CERTIFICATE_PEM} are read",
            pem.len()
        )));
    }
    let mut ders = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let end = rest[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .ok_or_else(|| bad("a PEM certificate without its END line".to_owned()))?;
        if ders.len() == max {
            return Err(bad(format!("more than {max} certificates")));
        }
        let (label, der) = pem_rfc7468::decode_vec(&rest.as_bytes()[start..end])
            .map_err(|e| bad(format!("PEM block {}: {e}", ders.len())))?;
        if label != "CERTIFICATE" {
            return Err(bad(format!("PEM block {} is a {label}", ders.len())));
        }
        ders.push(der);
        rest = &rest[end..];
    }
    if ders.is_empty() {
        return Err(bad("no PEM certificate".to_owned()));
    }
    Ok(ders)
}

/// A signing time the caller proved for a keyless signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningTime {
    /// Seconds since the epoch.
    pub time: i64,
    /// What proves it (`Rekor bundle <log>`, `RFC 3161 timestamp <authority>`).
    pub source: String,
}

/// What a verified keyless signature establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessSigner {
    /// The identity the certificate binds.
    pub identity: crate::keyless::CertificateIdentity,
    /// The certificate authority of the root that issued it.
    pub authority: String,
    /// How many embedded SCTs verified.
    pub scts: usize,
}

impl std::fmt::Display for KeylessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (issuer {})",
            self.identity.san.join(", "),
            self.identity.issuer().unwrap_or("?")
        )
    }
}

/// Verifies a keyless signature by the rules of the module documentation: `certificate` (the
/// PEM of the layer's certificate annotation; `chain`, the chain annotation, is read only) must
/// have made `signature` over `payload`, chain to an authority of `root` and be valid at every
/// time of `times`, carry an SCT of a CT log of `root`, and bind an identity `policy` accepts.
///
/// # Errors
/// [`LegacyError::Certificate`] for unreadable certificates, [`LegacyError::NoKeyVerifies`]
/// when the signature is not the certificate key's, [`LegacyError::NoSigningTime`] when
/// `times` is empty, [`LegacyError::Keyless`] with the refusal of the chain, validity, SCTs or
/// identity.
pub fn verify_keyless(
    certificate: &str,
    chain: Option<&str>,
    signature: &[u8],
    payload: &[u8],
    root: &crate::keyless::TrustedRoot,
    times: &[SigningTime],
    policy: &crate::keyless::IdentityPolicy,
) -> Result<KeylessSigner, LegacyError> {
    use crate::keyless::{FulcioCertificate, KeylessError};
    if !policy.is_complete() {
        return Err(LegacyError::KeylessUnverified {
            identity: certificate_identity(certificate)?.to_string(),
        });
    }
    let leaf_der = certificates_der(certificate, 1)?.remove(0);
    let leaf = FulcioCertificate::from_der(&leaf_der, "the signing certificate")?;
    if let Some(chain) = chain {
        for (i, der) in certificates_der(chain, MAX_CHAIN_CERTIFICATES)?
            .iter()
            .enumerate()
        {
            FulcioCertificate::from_der(der, &format!("chain certificate {i}"))?;
        }
    }
    let key = leaf.public_key();
    if !key.verify(key.default_scheme(), payload, signature) {
        return Err(LegacyError::NoKeyVerifies {
            keys: "the signing certificate's key".to_owned(),
        });
    }
    if times.is_empty() {
        return Err(LegacyError::NoSigningTime);
    }
    let mut authority = None;
    for t in times {
        let found = leaf.verify_chain(root, t.time).map_err(|e| match e {
            KeylessError::NotValidAt {
                what,
                time,
                not_before,
                not_after,
            } => KeylessError::NotValidAt {
                what: format!("{what} (time proven by the {})", t.source),
                time,
                not_before,
                not_after,
            },
            other => other,
        })?;
        authority.get_or_insert(found);
    }
    let authority = authority.ok_or(LegacyError::NoSigningTime)?;
    let issuer_der = authority.chain.first().ok_or_else(|| {
        LegacyError::Certificate("the certificate authority has no chain".to_owned())
    })?;
    let issuer = FulcioCertificate::from_der(issuer_der, "the issuing certificate")?;
    let scts = leaf.verify_scts(&issuer, &root.ctlogs)?;
    let identity = leaf.identity()?;
    policy.check(&identity)?;
    Ok(KeylessSigner {
        identity,
        authority: authority.uri.clone(),
        scts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, PrivateKey, Signer as _};

    const IMAGE: &str = "sha256:97fc222cee7991b5b061d4d4afdb5f3428fcb0c9054e1690313786befa1e4e36";

    fn payload(image: &str) -> String {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"registry.example/app"}},"image":{{"docker-manifest-digest":"{image}"}},"type":"cosign container image signature"}},"optional":{{"creator":"test"}}}}"#
        )
    }

    fn refusal(text: &str) -> String {
        match SimpleSigning::parse(text.as_bytes()) {
            Err(LegacyError::Payload(m)) => m,
            other => panic!("expected a refusal of {text}, got {other:?}"),
        }
    }

    #[test]
    fn cosigns_payload_is_read() {
        let parsed = SimpleSigning::parse(payload(IMAGE).as_bytes()).expect("parses");
        assert_eq!(parsed.docker_reference, "registry.example/app");
        assert_eq!(parsed.manifest_digest.to_string(), IMAGE);
        assert_eq!(parsed.optional.expect("optional")["creator"], "test");
        // `optional` may be null or absent, as cosign writes it without annotations.
        let bare = payload(IMAGE).replace(r#","optional":{"creator":"test"}"#, "");
        assert!(SimpleSigning::parse(bare.as_bytes()).is_ok());
        let null = payload(IMAGE).replace(r#"{"creator":"test"}"#, "null");
        assert!(SimpleSigning::parse(null.as_bytes()).is_ok());
    }

    #[test]
    fn anything_else_is_refused() {
        let good = payload(IMAGE);
        let m = refusal(&good.replace(
            "cosign container image signature",
            "atomic container signature",
        ));
        assert!(m.contains("critical.type"), "{m}");
        let m = refusal(&good.replace(r#""docker-manifest-digest":"#, r#""digest":"#));
        assert!(m.contains("unknown member"), "{m}");
        let m = refusal(&good.replace(
            r#"{"docker-manifest-digest":"sha256:97fc222cee7991b5b061d4d4afdb5f3428fcb0c9054e1690313786befa1e4e36"}"#,
            "{}",
        ));
        assert!(m.contains("no \"docker-manifest-digest\""), "{m}");
        let m = refusal(&good.replace(r#","type":"#, r#","extra":1,"type":"#));
        assert!(m.contains("unknown member \"extra\""), "{m}");
        let m = refusal(
            &good
                .replace("Docker-manifest-digest", "x")
                .replace(r#""docker-manifest-digest""#, r#""Docker-manifest-digest""#),
        );
        assert!(m.contains("member names are exact"), "{m}");
        let m = refusal(&good.replace(IMAGE, "sha256:abc"));
        assert!(m.contains("docker-manifest-digest"), "{m}");
        let m = refusal(&good.replace(r#""optional""#, r#""critical""#));
        assert!(m.contains("duplicate"), "{m}");
        let m = refusal(&good.replace(r#"{"critical""#, r#"{"other":1,"critical""#));
        assert!(m.contains("unknown member"), "{m}");
        refusal("[]");
        refusal(r#"{"optional":{}}"#);
    }

    #[test]
    fn signatures_verify_only_for_their_image_and_key() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
        let other = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
        let bytes = payload(IMAGE).into_bytes();
        let signature = key.sign(&bytes).expect("signs");
        let image: Digest = IMAGE.parse().expect("digest");
        let keys = [key.public_key().clone()];
        let (parsed, by) = verify_signature(&bytes, &signature, &image, &keys).expect("ok");
        assert_eq!(by.hint(), key.public_key().hint());
        assert_eq!(parsed.manifest_digest, image);
        assert!(matches!(
            verify_signature(&bytes, &signature, &image, &[other.public_key().clone()]),
            Err(LegacyError::NoKeyVerifies { .. })
        ));
        let tampered = payload(IMAGE).replace("test", "tesT").into_bytes();
        assert!(matches!(
            verify_signature(&tampered, &signature, &image, &keys),
            Err(LegacyError::NoKeyVerifies { .. })
        ));
        let elsewhere: Digest = format!("sha256:{}", "0".repeat(64)).parse().expect("d");
        assert!(matches!(
            verify_signature(&bytes, &signature, &elsewhere, &keys),
            Err(LegacyError::OtherImage { .. })
        ));
    }

    #[test]
    fn certificate_annotations_are_bounded_pem() {
        let block = |label: &str, body: &str| {
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
        };
        let two = format!(
            "{}{}",
            block("CERTIFICATE", "AQID"),
            block("CERTIFICATE", "BAUG")
        );
        assert_eq!(
            certificates_der(&two, 2).expect("two blocks"),
            vec![vec![1, 2, 3], vec![4, 5, 6]]
        );
        let refusal = |pem: &str, max: usize| match certificates_der(pem, max) {
            Err(LegacyError::Certificate(m)) => m,
            other => panic!("expected a refusal of {pem:?}, got {other:?}"),
        };
        assert!(refusal(&two, 1).contains("more than 1"));
        assert!(refusal("", 1).contains("no PEM certificate"));
        assert!(refusal(&block("CERTIFICATE", "!!"), 1).contains("PEM block 0"));
        assert!(refusal(&block("PUBLIC KEY", "AQID"), 1).contains("no PEM certificate"));
        assert!(refusal("-----BEGIN CERTIFICATE-----\nAQID\n", 1).contains("without its END"));
        assert!(refusal(&"A".repeat(MAX_CERTIFICATE_PEM + 1), 1).contains("at most"));
    }

    #[test]
    fn signature_annotations_are_bounded_base64() {
        assert!(decode_signature(None).is_err());
        assert!(decode_signature(Some("not base64!")).is_err());
        assert!(decode_signature(Some(&"A".repeat(MAX_SIGNATURE_B64 + 4))).is_err());
        assert_eq!(decode_signature(Some("c2ln")).expect("b64"), b"sig");
    }
}
