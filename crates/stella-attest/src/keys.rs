//! Keys: ECDSA P-256 (cosign's default) and Ed25519, as PKCS#8 private keys and SPKI public
//! keys, and the [`Signer`] / [`Verifier`] traits the envelope code signs and verifies through.
//!
//! ECDSA signatures are ASN.1 DER over SHA-256, with the nonce derived from the key and the
//! message (RFC 6979) so that signing is reproducible; Ed25519 signatures are the 64 raw bytes.
//! Verification runs on aws-lc (both algorithms), signing ECDSA on the RustCrypto `p256` crate
//! (aws-lc's ECDSA signing draws a random nonce).
//!
//! Not here: encrypted key files (see [`crate::cosign`]) and where keys are kept.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, ED25519, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _, ParsedPublicKey,
};
use base64::Engine as _;
use p256::pkcs8::der::Decode as _;
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use p256::pkcs8::{
    DecodePrivateKey as _, EncodePublicKey as _, ObjectIdentifier, PrivateKeyInfoRef,
};
use pem_rfc7468::LineEnding;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::AttestError;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The DER of an Ed25519 SubjectPublicKeyInfo up to the 32 key bytes (RFC 8410 §4): SEQUENCE,
/// AlgorithmIdentifier { id-Ed25519 } without parameters, BIT STRING of 33 bytes (0 unused bits).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The DER SubjectPublicKeyInfo of a raw 32-byte Ed25519 public key (RFC 8410).
pub fn ed25519_spki_der(public_key: &[u8; 32]) -> Vec<u8> {
    let mut spki = ED25519_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(public_key);
    spki
}

/// A signature algorithm Stella signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA over NIST P-256 with SHA-256 (cosign's default).
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

impl Algorithm {
    /// The name used on the command line and in JSON: `ecdsa-p256` or `ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256 => "ecdsa-p256",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = AttestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" | "ecdsa" | "p256" => Ok(Algorithm::EcdsaP256),
            "ed25519" => Ok(Algorithm::Ed25519),
            other => Err(AttestError::Key(format!(
                "unknown algorithm {other:?}: expected ecdsa-p256 or ed25519"
            ))),
        }
    }
}

/// Something that signs: a key in memory today, a KMS or PKCS#11 token later.
pub trait Signer {
    /// The public half, which names the signer.
    fn public_key(&self) -> &PublicKey;
    /// The key id written next to each signature (the bundle hint).
    fn key_id(&self) -> String {
        self.public_key().hint()
    }
    /// The signature of `message`, in the algorithm's wire form.
    ///
    /// # Errors
    /// When the key cannot sign (a token that is gone, a key that was revoked).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AttestError>;
}

/// Something that checks signatures.
pub trait Verifier {
    /// The key id signatures by this key carry.
    fn key_id(&self) -> String;
    /// Whether `signature` is this key's signature of `message`.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

/// A public key: ECDSA P-256 or Ed25519, parsed once for fast verification.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: Algorithm,
    spki_der: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("hint", &self.hint())
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// [`AttestError::Key`] naming the key type found when it is not P-256 or Ed25519, or when
    /// the DER or the point is malformed.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, AttestError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| {
            AttestError::Key(format!("public key: malformed SubjectPublicKeyInfo ({e})"))
        })?;
        let oid = spki.algorithm.oid;
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            match spki.algorithm.parameters_oid() {
                Ok(curve) if curve == OID_P256 => Algorithm::EcdsaP256,
                Ok(curve) => {
                    return Err(AttestError::Key(format!(
                        "public key: an EC key on curve {curve}; Stella verifies P-256 (1.2.840.10045.3.1.7) and Ed25519"
                    )));
                }
                Err(e) => {
                    return Err(AttestError::Key(format!(
                        "public key: EC key without a named curve ({e})"
                    )));
                }
            }
        } else if oid == OID_ED25519 {
            Algorithm::Ed25519
        } else {
            return Err(AttestError::Key(format!(
                "public key: {}; Stella verifies ECDSA P-256 and Ed25519 keys",
                describe_oid(oid)
            )));
        };
        let raw = spki.subject_public_key.as_bytes().ok_or_else(|| {
            AttestError::Key("public key: the key's BIT STRING has unused bits".to_owned())
        })?;
        let parsed = match algorithm {
            Algorithm::EcdsaP256 => ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, raw),
            Algorithm::Ed25519 => ParsedPublicKey::new(&ED25519, raw),
        }
        .map_err(|e| AttestError::Key(format!("public key: not a valid {algorithm} key ({e})")))?;
        Ok(PublicKey {
            algorithm,
            spki_der: der.to_vec(),
            parsed,
        })
    }

    /// Reads a PEM `PUBLIC KEY` (SPKI), as `cosign public-key` and `stella key generate` write.
    ///
    /// # Errors
    /// [`AttestError::Key`] for a PEM that is truncated, not a public key, or of another type.
    pub fn from_pem(text: &str) -> Result<Self, AttestError> {
        let (label, der) = decode_pem(text)?;
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            l if l.contains("PRIVATE KEY") => Err(AttestError::Key(format!(
                "this is a private key (PEM {l}); verification takes the public key (the .pub file)"
            ))),
            "RSA PUBLIC KEY" => Err(AttestError::Key(
                "an RSA public key; Stella verifies ECDSA P-256 and Ed25519 keys".to_owned(),
            )),
            other => Err(AttestError::Key(format!(
                "PEM block is {other:?}; expected \"PUBLIC KEY\""
            ))),
        }
    }

    /// The PEM `PUBLIC KEY` form (SPKI, LF line endings).
    pub fn to_pem(&self) -> String {
        // Encoding a DER we hold into PEM only fails for absurd lengths; fall back to nothing
        // rather than panic.
        pem_rfc7468::encode_string("PUBLIC KEY", LineEnding::LF, &self.spki_der).unwrap_or_default()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id: base64 (standard, padded) of SHA-256 of the DER SubjectPublicKeyInfo, as
    /// cosign writes in `verificationMaterial.publicKey.hint`.
    pub fn hint(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&self.spki_der))
    }
}

impl PublicKey {
    /// Whether `signature` (DER) is an ECDSA signature of the message whose SHA-256 is
    /// `digest`: how a log checks a signature it receives with only the digest. `None` for
    /// Ed25519, whose signatures cover the whole message and cannot be checked from a digest.
    pub fn verify_sha256_prehash(&self, digest: &[u8; 32], signature: &[u8]) -> Option<bool> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        use p256::pkcs8::DecodePublicKey as _;
        match self.algorithm {
            Algorithm::Ed25519 => None,
            Algorithm::EcdsaP256 => {
                let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&self.spki_der) else {
                    return Some(false);
                };
                let Ok(sig) = p256::ecdsa::DerSignature::try_from(signature) else {
                    return Some(false);
                };
                Some(key.verify_prehash(digest, &sig).is_ok())
            }
        }
    }
}

impl Verifier for PublicKey {
    fn key_id(&self) -> String {
        self.hint()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }
}

enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(Ed25519KeyPair),
}

/// A private key in memory, with its PKCS#8 form (zeroed on drop) and its public key.
pub struct PrivateKey {
    key: SigningKey,
    pkcs8: Zeroizing<Vec<u8>>,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.public.algorithm)
            .field("hint", &self.public.hint())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A new key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`AttestError::Random`] when no randomness is available.
    pub fn generate(algorithm: Algorithm) -> Result<Self, AttestError> {
        let pkcs8 = match algorithm {
            Algorithm::EcdsaP256 => {
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).and_then(|k| k.to_pkcs8v1())
            }
            // Version 1 (no public key inside): the form Go's x509 and cosign read.
            Algorithm::Ed25519 => Ed25519KeyPair::generate().and_then(|k| k.to_pkcs8v1()),
        }
        .map_err(|_| AttestError::Random)?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (DER).
    ///
    /// # Errors
    /// [`AttestError::Key`] naming the key type when it is not P-256 or Ed25519 (an RSA key, an
    /// EC key on another curve), or when the DER is malformed.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, AttestError> {
        let info = PrivateKeyInfoRef::from_der(der)
            .map_err(|e| AttestError::Key(format!("private key: malformed PKCS#8 ({e})")))?;
        let oid = info.algorithm.oid;
        if oid == OID_EC_PUBLIC_KEY {
            match info.algorithm.parameters_oid() {
                Ok(curve) if curve == OID_P256 => {}
                Ok(curve) => {
                    return Err(AttestError::Key(format!(
                        "private key: an EC key on curve {curve}; Stella signs with P-256 (1.2.840.10045.3.1.7) or Ed25519"
                    )));
                }
                Err(e) => {
                    return Err(AttestError::Key(format!(
                        "private key: EC key without a named curve ({e})"
                    )));
                }
            }
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| {
                AttestError::Key(format!("private key: not a valid P-256 key ({e})"))
            })?;
            let spki = key
                .verifying_key()
                .to_public_key_der()
                .map_err(|e| AttestError::Key(format!("public key of a P-256 key ({e})")))?;
            Ok(PrivateKey {
                public: PublicKey::from_spki_der(spki.as_bytes())?,
                key: SigningKey::P256(key),
                pkcs8: Zeroizing::new(der.to_vec()),
            })
        } else if oid == OID_ED25519 {
            let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| {
                AttestError::Key(format!("private key: not a valid Ed25519 key ({e})"))
            })?;
            let raw: [u8; 32] =
                key.public_key().as_ref().try_into().map_err(|_| {
                    AttestError::Key("Ed25519 public key is not 32 bytes".to_owned())
                })?;
            let spki = ed25519_spki_der(&raw);
            Ok(PrivateKey {
                public: PublicKey::from_spki_der(&spki)?,
                key: SigningKey::Ed25519(key),
                pkcs8: Zeroizing::new(der.to_vec()),
            })
        } else {
            Err(AttestError::Key(format!(
                "private key: {}; Stella signs with ECDSA P-256 or Ed25519 keys (cosign \
                 generate-key-pair writes P-256)",
                describe_oid(oid)
            )))
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm
    }

    /// The PKCS#8 DER (secret: the buffer is zeroed when the key is dropped).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AttestError> {
        match &self.key {
            SigningKey::P256(key) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::DerSignature = key
                    .try_sign(message)
                    .map_err(|e| AttestError::Key(format!("ECDSA signing failed ({e})")))?;
                Ok(signature.as_bytes().to_vec())
            }
            SigningKey::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }
}

/// A PEM block's label and DER body.
pub(crate) fn decode_pem(text: &str) -> Result<(String, Vec<u8>), AttestError> {
    let trimmed = text.trim();
    if !trimmed.starts_with("-----BEGIN ") {
        return Err(AttestError::Key(
            "not a PEM file: no \"-----BEGIN\" line".to_owned(),
        ));
    }
    let (label, der) = pem_rfc7468::decode_vec(trimmed.as_bytes()).map_err(|e| {
        AttestError::Key(format!(
            "PEM is malformed or truncated ({e}); a key file has a -----BEGIN line, base64 lines and a matching -----END line"
        ))
    })?;
    Ok((label.to_owned(), der))
}

fn describe_oid(oid: ObjectIdentifier) -> String {
    if oid == OID_RSA {
        "an RSA key".to_owned()
    } else {
        format!("a key of algorithm {oid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_round_trip_through_pem() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = PrivateKey::generate(algorithm).expect("generate");
            assert_eq!(key.algorithm(), algorithm);
            let sig = key.sign(b"message").expect("sign");
            let public = PublicKey::from_pem(&key.public_key().to_pem()).expect("pem");
            assert_eq!(&public, key.public_key());
            assert!(public.verify(b"message", &sig));
            assert!(!public.verify(b"messagE", &sig));
            let again = PrivateKey::from_pkcs8_der(key.pkcs8_der()).expect("pkcs8");
            assert_eq!(again.public_key(), key.public_key());
            // Deterministic signatures: same key, same message, same bytes.
            assert_eq!(again.sign(b"message").expect("sign"), sig);
        }
    }

    #[test]
    fn ecdsa_signatures_check_from_the_digest_alone() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("generate");
        let sig = key.sign(b"message").expect("sign");
        let digest: [u8; 32] = Sha256::digest(b"message").into();
        assert_eq!(
            key.public_key().verify_sha256_prehash(&digest, &sig),
            Some(true)
        );
        let other: [u8; 32] = Sha256::digest(b"messagE").into();
        assert_eq!(
            key.public_key().verify_sha256_prehash(&other, &sig),
            Some(false)
        );
        let ed = PrivateKey::generate(Algorithm::Ed25519).expect("generate");
        assert_eq!(ed.public_key().verify_sha256_prehash(&digest, &sig), None);
    }

    /// The other valid signature of the same message: (r, n − s).
    fn high_s_twin(der: &[u8]) -> Vec<u8> {
        let sig = p256::ecdsa::Signature::from_der(der).expect("DER signature");
        let (r, s) = sig.split_scalars();
        let twin = p256::ecdsa::Signature::from_scalars(r, -s).expect("non-zero scalars");
        assert_ne!(twin, sig);
        twin.to_der().as_bytes().to_vec()
    }

    /// ECDSA signatures are malleable: (r, n − s) verifies wherever (r, s) does. Sigstore's
    /// verifiers accept both halves (cosign and sigstore-go through Go's `ecdsa.VerifyASN1`,
    /// sigstore-python and sigstore-js through OpenSSL), and so do the signers Stella verifies
    /// (OpenSSL and Go draw random nonces and do not normalise s: 34 of the 55 P-256
    /// signatures in the sigstore-conformance bundles are high-S, the happy paths among them).
    /// Refusing s > n/2 would refuse about half of their genuine signatures, so both of
    /// Stella's verification paths must agree with them, and with each other, on the twin.
    #[test]
    fn a_high_s_twin_verifies_on_both_paths_as_peers_verify_it() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("generate");
        let digest: [u8; 32] = Sha256::digest(b"message").into();
        let other: [u8; 32] = Sha256::digest(b"messagE").into();
        let sig = key.sign(b"message").expect("sign");
        for candidate in [sig.clone(), high_s_twin(&sig)] {
            let public = key.public_key();
            assert!(public.verify(b"message", &candidate));
            assert_eq!(
                public.verify_sha256_prehash(&digest, &candidate),
                Some(true)
            );
            assert!(!public.verify(b"messagE", &candidate));
            assert_eq!(
                public.verify_sha256_prehash(&other, &candidate),
                Some(false)
            );
        }
    }

    #[test]
    fn hint_is_base64_sha256_of_the_spki() {
        let key = PrivateKey::generate(Algorithm::Ed25519).expect("generate");
        let der = key.public_key().spki_der();
        assert_eq!(der.len(), 44);
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der));
        assert_eq!(key.key_id(), expected);
    }

    #[test]
    fn rsa_and_garbage_are_named() {
        // An RSA SubjectPublicKeyInfo header (rsaEncryption, NULL parameters) with a tiny key.
        let rsa_pem = "-----BEGIN PUBLIC KEY-----\nMBwwDQYJKoZIhvcNAQEBBQADCwAwCAIDAQABAgEF\n-----END PUBLIC KEY-----\n";
        let err = PublicKey::from_pem(rsa_pem).expect_err("rsa");
        assert!(err.to_string().contains("RSA"), "{err}");
        let err = PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKo").expect_err("cut");
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = PublicKey::from_pem("hello").expect_err("not pem");
        assert!(err.to_string().contains("not a PEM"), "{err}");
    }
}
