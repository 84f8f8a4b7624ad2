//! DSSE (Dead Simple Signing Envelope): a payload, its type and signatures over the
//! pre-authentication encoding `PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP
//! body` (lengths as ASCII decimal), never over the payload alone.
//!
//! Verification answers with the reason it refuses: no signatures, too many, a duplicate, a
//! signature by another key, a payload or payloadType modified after signing, a signature over
//! the raw payload instead of the PAE, a payloadType that is not in-toto's, malformed base64.
//!
//! Not here: the bundle around the envelope ([`crate::bundle`]) and the statement's meaning.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use stella_core::media::IN_TOTO_PAYLOAD;

use crate::keys::{Signer, Verifier};
use crate::statement::Statement;
use crate::{AttestError, MAX_PAYLOAD_BYTES, MAX_SIGNATURES};

/// The pre-authentication encoding of `payload_type` and `payload`: the bytes signatures cover.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The signer's key id (may be empty: DSSE makes it optional).
    pub keyid: String,
    /// The signature bytes.
    pub sig: Vec<u8>,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The payload (for Stella, a canonical in-toto Statement).
    pub payload: Vec<u8>,
    /// The payload's media type.
    pub payload_type: String,
    /// Signatures over [`pae`].
    pub signatures: Vec<Signature>,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The key ids whose signatures verified.
    pub keyids: Vec<String>,
    /// The statement inside.
    pub statement: Statement,
}

impl Envelope {
    /// Signs `statement` (its canonical JSON, payloadType in-toto) with every signer.
    ///
    /// # Errors
    /// What a signer reports, or [`AttestError::PayloadTooLarge`].
    pub fn sign_statement(
        statement: &Statement,
        signers: &[&dyn Signer],
    ) -> Result<Self, AttestError> {
        statement.validate()?;
        Self::sign(IN_TOTO_PAYLOAD, statement.to_payload()?, signers)
    }

    /// Signs `payload` of `payload_type` with every signer.
    ///
    /// # Errors
    /// What a signer reports, or [`AttestError::PayloadTooLarge`].
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signers: &[&dyn Signer],
    ) -> Result<Self, AttestError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(AttestError::PayloadTooLarge {
                size: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let message = pae(payload_type, &payload);
        let signatures = signers
            .iter()
            .map(|s| {
                Ok(Signature {
                    keyid: s.key_id(),
                    sig: s.sign(&message)?,
                })
            })
            .collect::<Result<Vec<_>, AttestError>>()?;
        Ok(Envelope {
            payload,
            payload_type: payload_type.to_owned(),
            signatures,
        })
    }

    /// The envelope as JSON: `{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}`,
    /// byte strings in standard base64.
    pub fn to_json_value(&self) -> Value {
        let signatures: Vec<Value> = self
            .signatures
            .iter()
            .map(|s| json!({"keyid": s.keyid, "sig": STANDARD.encode(&s.sig)}))
            .collect();
        json!({
            "payload": STANDARD.encode(&self.payload),
            "payloadType": self.payload_type,
            "signatures": signatures,
        })
    }

    /// Reads an envelope from its JSON (`at` is the JSON pointer of the envelope, for errors).
    /// Base64 may be standard or URL-safe, as DSSE allows.
    ///
    /// # Errors
    /// [`AttestError::Envelope`] for a missing or mistyped member, [`AttestError::Base64`],
    /// [`AttestError::PayloadTooLarge`], [`AttestError::TooManySignatures`].
    pub fn from_json_value(value: &Value, at: &str) -> Result<Self, AttestError> {
        let object = value
            .as_object()
            .ok_or_else(|| AttestError::Envelope(format!("{at} is not a JSON object")))?;
        let payload_b64 = string_member(object, "payload", at)?;
        // Refuse before decoding: base64 is 4/3 of the bytes it carries.
        if payload_b64.len() / 4 * 3 > MAX_PAYLOAD_BYTES + 3 {
            return Err(AttestError::PayloadTooLarge {
                size: payload_b64.len() / 4 * 3,
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let payload = decode_b64(payload_b64, &format!("{at}/payload"))?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(AttestError::PayloadTooLarge {
                size: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let payload_type = string_member(object, "payloadType", at)?.to_owned();
        let list = object
            .get("signatures")
            .ok_or_else(|| AttestError::Envelope(format!("{at} has no \"signatures\"")))?
            .as_array()
            .ok_or_else(|| AttestError::Envelope(format!("{at}/signatures is not an array")))?;
        if list.len() > MAX_SIGNATURES {
            return Err(AttestError::TooManySignatures {
                count: list.len(),
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let here = format!("{at}/signatures/{i}");
            let entry = entry
                .as_object()
                .ok_or_else(|| AttestError::Envelope(format!("{here} is not an object")))?;
            let keyid = match entry.get("keyid") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => {
                    return Err(AttestError::Envelope(format!(
                        "{here}/keyid is not a string"
                    )));
                }
            };
            let sig = decode_b64(string_member(entry, "sig", &here)?, &format!("{here}/sig"))?;
            if sig.is_empty() {
                return Err(AttestError::Envelope(format!("{here}/sig is empty")));
            }
            signatures.push(Signature { keyid, sig });
        }
        Ok(Envelope {
            payload,
            payload_type,
            signatures,
        })
    }

    /// Verifies the envelope with `key`: a signature by it over the PAE, the in-toto
    /// payloadType, and a valid statement inside.
    ///
    /// Signatures whose key id names another key are not tried against `key`; signatures
    /// without a key id are. The first reason found is returned.
    ///
    /// # Errors
    /// The reason, as one of [`AttestError`]'s verification variants.
    pub fn verify(&self, key: &dyn Verifier) -> Result<Verified, AttestError> {
        if self.signatures.is_empty() {
            return Err(AttestError::NoSignatures);
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(AttestError::TooManySignatures {
                count: self.signatures.len(),
                max: MAX_SIGNATURES,
            });
        }
        let mut keyids = BTreeSet::new();
        let mut sigs = BTreeSet::new();
        for s in &self.signatures {
            if !s.keyid.is_empty() && !keyids.insert(s.keyid.as_str()) {
                return Err(AttestError::DuplicateSignature(format!(
                    "two signatures by key {}",
                    s.keyid
                )));
            }
            if !sigs.insert(s.sig.as_slice()) {
                return Err(AttestError::DuplicateSignature(
                    "the same signature bytes appear twice".to_owned(),
                ));
            }
        }
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(AttestError::PayloadTooLarge {
                size: self.payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let expected = key.key_id();
        let message = pae(&self.payload_type, &self.payload);
        let candidates: Vec<&Signature> = self
            .signatures
            .iter()
            .filter(|s| s.keyid.is_empty() || s.keyid == expected)
            .collect();
        let verified = candidates.iter().any(|s| key.verify(&message, &s.sig));
        if !verified {
            let named = candidates.iter().find(|s| s.keyid == expected);
            if let Some(s) = named.or(candidates.first()) {
                let keyid = if s.keyid.is_empty() {
                    format!("{expected} (signature without key id)")
                } else {
                    s.keyid.clone()
                };
                if key.verify(&self.payload, &s.sig) {
                    return Err(AttestError::RawPayloadSignature { keyid });
                }
                if named.is_some() {
                    return Err(AttestError::BadSignature { keyid });
                }
            }
            let found: Vec<String> = self
                .signatures
                .iter()
                .map(|s| {
                    if s.keyid.is_empty() {
                        "(no key id)".to_owned()
                    } else {
                        s.keyid.clone()
                    }
                })
                .collect();
            return Err(AttestError::WrongKey {
                expected,
                found: found.join(", "),
            });
        }
        if self.payload_type != IN_TOTO_PAYLOAD {
            return Err(AttestError::PayloadType {
                found: self.payload_type.clone(),
                expected: IN_TOTO_PAYLOAD,
            });
        }
        let statement = Statement::from_json(&self.payload)?;
        Ok(Verified {
            keyids: vec![expected],
            statement,
        })
    }
}

fn string_member<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<&'a str, AttestError> {
    match object.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(AttestError::Envelope(format!(
            "{at}/{name} is not a string"
        ))),
        None => Err(AttestError::Envelope(format!("{at} has no {name:?}"))),
    }
}

fn decode_b64(text: &str, field: &str) -> Result<Vec<u8>, AttestError> {
    STANDARD
        .decode(text)
        .or_else(|e| {
            URL_SAFE
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
                .map_err(|_| e)
        })
        .map_err(|e| AttestError::Base64 {
            field: field.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, PrivateKey};
    use crate::statement::Subject;
    use stella_core::Digest;

    #[test]
    fn pae_matches_the_dsse_specification_example() {
        // The example from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    fn statement() -> Statement {
        Statement::new(
            vec![Subject::new("a", &Digest::sha256(b"a"))],
            "https://example.com/p/v1",
            serde_json::json!({"k": "v"}),
        )
        .expect("statement")
    }

    #[test]
    fn sign_verify_and_every_refusal() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
        let other = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
        let env = Envelope::sign_statement(&statement(), &[&key]).expect("sign");
        let ok = env.verify(key.public_key()).expect("verifies");
        assert_eq!(ok.statement, statement());
        let back = Envelope::from_json_value(&env.to_json_value(), "").expect("json");
        assert_eq!(back, env);

        assert!(matches!(
            env.verify(other.public_key()),
            Err(AttestError::WrongKey { .. })
        ));
        let mut modified = env.clone();
        modified.payload.push(b' ');
        assert!(matches!(
            modified.verify(key.public_key()),
            Err(AttestError::BadSignature { .. })
        ));
        let mut retyped = env.clone();
        retyped.payload_type = "application/json".into();
        assert!(matches!(
            retyped.verify(key.public_key()),
            Err(AttestError::BadSignature { .. })
        ));
        let mut raw = env.clone();
        raw.signatures[0].sig = key.sign(&env.payload).expect("sign raw");
        assert!(matches!(
            raw.verify(key.public_key()),
            Err(AttestError::RawPayloadSignature { .. })
        ));
        let mut none = env.clone();
        none.signatures.clear();
        assert!(matches!(
            none.verify(key.public_key()),
            Err(AttestError::NoSignatures)
        ));
        let mut dup = env.clone();
        dup.signatures.push(env.signatures[0].clone());
        assert!(matches!(
            dup.verify(key.public_key()),
            Err(AttestError::DuplicateSignature(_))
        ));
        let mut json = env.to_json_value();
        json["payload"] = Value::String("!!not base64!!".into());
        assert!(matches!(
            Envelope::from_json_value(&json, ""),
            Err(AttestError::Base64 { .. })
        ));
    }

    #[test]
    fn identical_inputs_give_identical_envelopes() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = PrivateKey::generate(algorithm).expect("key");
            let a = Envelope::sign_statement(&statement(), &[&key]).expect("a");
            let b = Envelope::sign_statement(&statement(), &[&key]).expect("b");
            assert_eq!(a, b, "{algorithm}");
        }
    }

    #[test]
    fn two_signers_both_verify() {
        let p = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
        let e = PrivateKey::generate(Algorithm::Ed25519).expect("key");
        let env = Envelope::sign_statement(&statement(), &[&p, &e]).expect("sign");
        assert_eq!(env.signatures.len(), 2);
        assert!(env.verify(p.public_key()).is_ok());
        assert!(env.verify(e.public_key()).is_ok());
    }
}
