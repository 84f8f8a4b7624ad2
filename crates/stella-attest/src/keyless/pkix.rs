//! Public keys of the algorithms Sigstore material uses, read from a DER SubjectPublicKeyInfo
//! (or a bare PKCS#1 RSA key, as some trusted roots carry), and the signatures they check:
//! ECDSA P-256 / P-384 (ASN.1 signatures, SHA-256/384/512), RSA PKCS#1 v1.5 (2048–8192 bits)
//! and Ed25519. Checks run on aws-lc-rs.
//!
//! Not here: Stella's own signing keys ([`crate::keys`]), certificates.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use der::Decode as _;
use der::asn1::ObjectIdentifier;
use spki::SubjectPublicKeyInfoRef;

use super::KeylessError;

/// id-ecPublicKey.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// The P-256 curve.
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// The P-384 curve.
pub const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// rsaEncryption.
pub const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// Ed25519.
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A hash function a signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.aws(), data).as_ref().to_vec()
    }

    fn aws(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    /// The hash named by a digest-algorithm OID (NIST's sha2 family).
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match oid.to_string().as_str() {
            "2.16.840.1.101.3.4.2.1" => Some(HashAlgorithm::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(HashAlgorithm::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// What a signature-algorithm OID (of a certificate or CMS signer) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// ECDSA with this hash.
    Ecdsa(HashAlgorithm),
    /// RSA PKCS#1 v1.5 with this hash.
    RsaPkcs1(HashAlgorithm),
    /// Ed25519 (pure).
    Ed25519,
}

impl SignatureScheme {
    /// The scheme named by a signature-algorithm OID.
    ///
    /// # Errors
    /// [`KeylessError::Key`] for an algorithm not verified here.
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self, KeylessError> {
        use HashAlgorithm::*;
        Ok(match oid.to_string().as_str() {
            "1.2.840.10045.4.3.2" => SignatureScheme::Ecdsa(Sha256),
            "1.2.840.10045.4.3.3" => SignatureScheme::Ecdsa(Sha384),
            "1.2.840.10045.4.3.4" => SignatureScheme::Ecdsa(Sha512),
            "1.2.840.113549.1.1.11" => SignatureScheme::RsaPkcs1(Sha256),
            "1.2.840.113549.1.1.12" => SignatureScheme::RsaPkcs1(Sha384),
            "1.2.840.113549.1.1.13" => SignatureScheme::RsaPkcs1(Sha512),
            "1.3.101.112" => SignatureScheme::Ed25519,
            other => {
                return Err(KeylessError::Key {
                    what: "signature algorithm".to_owned(),
                    reason: format!(
                        "{other} is not verified here (ECDSA, RSA PKCS#1 v1.5 with SHA-2, Ed25519)"
                    ),
                });
            }
        })
    }
}

/// The kind of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA.
    Rsa,
    /// Ed25519.
    Ed25519,
}

/// A public key of any supported algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkixKey {
    kind: KeyKind,
    /// The key bytes aws-lc-rs takes: the EC point, the PKCS#1 RSA key, or the Ed25519 key.
    raw: Vec<u8>,
    /// The DER SubjectPublicKeyInfo (empty for a bare PKCS#1 key).
    spki: Vec<u8>,
}

impl PkixKey {
    /// Reads a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`KeylessError::Key`] naming `what` for malformed DER or an unsupported algorithm.
    pub fn from_spki_der(der: &[u8], what: &str) -> Result<Self, KeylessError> {
        let bad = |reason: String| KeylessError::Key {
            what: what.to_owned(),
            reason,
        };
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| bad(format!("malformed SubjectPublicKeyInfo ({e})")))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("the key's BIT STRING has unused bits".to_owned()))?
            .to_vec();
        let oid = spki.algorithm.oid;
        let kind = if oid == OID_EC_PUBLIC_KEY {
            match spki.algorithm.parameters_oid() {
                Ok(c) if c == OID_P256 => KeyKind::EcdsaP256,
                Ok(c) if c == OID_P384 => KeyKind::EcdsaP384,
                Ok(c) => return Err(bad(format!("EC key on unsupported curve {c}"))),
                Err(e) => return Err(bad(format!("EC key without a named curve ({e})"))),
            }
        } else if oid == OID_RSA {
            KeyKind::Rsa
        } else if oid == OID_ED25519 {
            KeyKind::Ed25519
        } else {
            return Err(bad(format!(
                "key algorithm {oid} is not supported (ECDSA P-256/P-384, RSA, Ed25519)"
            )));
        };
        Ok(PkixKey {
            kind,
            raw,
            spki: der.to_vec(),
        })
    }

    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as cosign writes `cosign.pub`.
    ///
    /// # Errors
    /// [`KeylessError::Key`] for text that is not such a PEM block, or an unsupported key.
    pub fn from_pem(text: &str, what: &str) -> Result<Self, KeylessError> {
        let (label, der) =
            pem_rfc7468::decode_vec(text.trim().as_bytes()).map_err(|e| KeylessError::Key {
                what: what.to_owned(),
                reason: format!("not a PEM block ({e})"),
            })?;
        if label != "PUBLIC KEY" {
            return Err(KeylessError::Key {
                what: what.to_owned(),
                reason: format!("PEM block is {label:?}; expected \"PUBLIC KEY\""),
            });
        }
        PkixKey::from_spki_der(&der, what)
    }

    /// Reads a key as a trusted root gives it: `rawBytes` with its `keyDetails` (a bare
    /// PKCS#1 RSAPublicKey for `PKCS1_RSA_*`, else a SubjectPublicKeyInfo).
    ///
    /// # Errors
    /// [`KeylessError::Key`] when the bytes do not hold such a key.
    pub fn from_trusted_root(der: &[u8], details: &str, what: &str) -> Result<Self, KeylessError> {
        if details.starts_with("PKCS1_RSA") && PkixKey::from_spki_der(der, what).is_err() {
            return Ok(PkixKey {
                kind: KeyKind::Rsa,
                raw: der.to_vec(),
                spki: Vec::new(),
            });
        }
        PkixKey::from_spki_der(der, what)
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER SubjectPublicKeyInfo (empty when the key was a bare PKCS#1 key).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    fn algorithm(&self, scheme: SignatureScheme) -> Option<&'static dyn VerificationAlgorithm> {
        use HashAlgorithm::*;
        Some(match (self.kind, scheme) {
            (KeyKind::EcdsaP256, SignatureScheme::Ecdsa(Sha256)) => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            (KeyKind::EcdsaP256, SignatureScheme::Ecdsa(Sha384)) => {
                &signature::ECDSA_P256_SHA384_ASN1
            }
            (KeyKind::EcdsaP256, SignatureScheme::Ecdsa(Sha512)) => {
                &signature::ECDSA_P256_SHA512_ASN1
            }
            (KeyKind::EcdsaP384, SignatureScheme::Ecdsa(Sha256)) => {
                &signature::ECDSA_P384_SHA256_ASN1
            }
            (KeyKind::EcdsaP384, SignatureScheme::Ecdsa(Sha384)) => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            (KeyKind::Rsa, SignatureScheme::RsaPkcs1(Sha256)) => {
                &signature::RSA_PKCS1_2048_8192_SHA256
            }
            (KeyKind::Rsa, SignatureScheme::RsaPkcs1(Sha384)) => {
                &signature::RSA_PKCS1_2048_8192_SHA384
            }
            (KeyKind::Rsa, SignatureScheme::RsaPkcs1(Sha512)) => {
                &signature::RSA_PKCS1_2048_8192_SHA512
            }
            (KeyKind::Ed25519, SignatureScheme::Ed25519) => &signature::ED25519,
            _ => return None,
        })
    }

    /// The scheme a signature by this key uses when nothing names it: ECDSA and RSA with
    /// SHA-256, except P-384 with SHA-384; Ed25519.
    pub fn default_scheme(&self) -> SignatureScheme {
        match self.kind {
            KeyKind::EcdsaP256 => SignatureScheme::Ecdsa(HashAlgorithm::Sha256),
            KeyKind::EcdsaP384 => SignatureScheme::Ecdsa(HashAlgorithm::Sha384),
            KeyKind::Rsa => SignatureScheme::RsaPkcs1(HashAlgorithm::Sha256),
            KeyKind::Ed25519 => SignatureScheme::Ed25519,
        }
    }

    /// Whether `signature` is this key's signature of `message` under `scheme`.
    pub fn verify(&self, scheme: SignatureScheme, message: &[u8], signature: &[u8]) -> bool {
        self.algorithm(scheme).is_some_and(|alg| {
            UnparsedPublicKey::new(alg, &self.raw)
                .verify(message, signature)
                .is_ok()
        })
    }

    /// Whether `signature` is this key's signature of the message whose digest under `hash`
    /// is `digest` (ECDSA and RSA only: Ed25519 signs whole messages).
    pub fn verify_prehashed(&self, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
        let scheme = match self.kind {
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => SignatureScheme::Ecdsa(hash),
            KeyKind::Rsa => SignatureScheme::RsaPkcs1(hash),
            KeyKind::Ed25519 => return false,
        };
        let (Some(alg), Ok(d)) = (
            self.algorithm(scheme),
            digest::Digest::import_less_safe(digest, hash.aws()),
        ) else {
            return false;
        };
        UnparsedPublicKey::new(alg, &self.raw)
            .verify_digest(&d, signature)
            .is_ok()
    }
}
