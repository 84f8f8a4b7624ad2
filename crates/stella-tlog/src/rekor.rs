//! Rekor v2 wire shapes: the create-entry request (`POST /api/v2/log/entries` with
//! `hashedRekordRequestV002`), the body a log makes of it, and the `TransparencyLogEntry` it
//! answers with (the same JSON a bundle's `tlogEntries[]` holds).
//!
//! Not here: HTTP (the CLI's `stella log serve` and client).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use stella_attest::dsse::pae;
use stella_attest::{Envelope, PublicKey};
use stella_core::jcs;

use crate::TlogError;

/// The path entries are created at.
pub const ENTRIES_PATH: &str = "/api/v2/log/entries";

/// The create-entry request logging `envelope`'s first signature by `key`.
///
/// # Errors
/// [`TlogError::Entry`] when the envelope has no signature.
pub fn request_for(envelope: &Envelope, key: &PublicKey) -> Result<Value, TlogError> {
    let sig = envelope
        .signatures
        .first()
        .ok_or_else(|| TlogError::Entry("the envelope has no signature to log".to_owned()))?;
    let digest = Sha256::digest(pae(&envelope.payload_type, &envelope.payload));
    Ok(json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(digest),
        "signature": {
            "content": STANDARD.encode(&sig.sig),
            "verifier": {
                "keyDetails": key_details(key),
                "publicKey": {"rawBytes": STANDARD.encode(key.spki_der())},
            },
        },
    }}))
}

fn key_details(key: &PublicKey) -> &'static str {
    match key.algorithm() {
        stella_attest::Algorithm::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        stella_attest::Algorithm::Ed25519 => "PKIX_ED25519",
    }
}

/// The canonical body a log stores for a create-entry request, after checking it as Rekor v2
/// does: a SHA-256 digest, a key Stella verifies, and a signature that verifies over the digest
/// with that key. A `hashedrekord` signature must be one over the digest (ECDSA P-256 with
/// SHA-256): pure Ed25519 signs the whole message, which the request does not carry, so no log
/// can check it and Rekor v2 refuses it (`PKIX_ED25519` has no digest algorithm); so does this
/// one, rather than log a signature nobody checked.
///
/// # Errors
/// [`TlogError::Entry`] saying what is wrong with the request.
pub fn body_from_request(request: &Value) -> Result<Vec<u8>, TlogError> {
    let bad = |m: &str| TlogError::Entry(m.to_owned());
    if request.get("dsseRequestV002").is_some() {
        return Err(bad(
            "dsse entries are not accepted: log DSSE envelopes as hashedrekord v0.0.2 \
             (digest = SHA-256 of the PAE)",
        ));
    }
    let req = request
        .get("hashedRekordRequestV002")
        .ok_or_else(|| bad("expected a hashedRekordRequestV002"))?;
    let b64 = |v: &Value, what: &str| -> Result<Vec<u8>, TlogError> {
        v.as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| bad(&format!("{what} is missing or not base64")))
    };
    let digest: [u8; 32] = b64(&req["digest"], "digest")?
        .try_into()
        .map_err(|_| bad("digest is not a SHA-256 (32 bytes)"))?;
    let sig = b64(&req["signature"]["content"], "signature.content")?;
    let der = b64(
        &req["signature"]["verifier"]["publicKey"]["rawBytes"],
        "signature.verifier.publicKey.rawBytes",
    )?;
    let key = PublicKey::from_spki_der(&der).map_err(|e| bad(&e.to_string()))?;
    let details = req["signature"]["verifier"]["keyDetails"]
        .as_str()
        .unwrap_or_default();
    if details != key_details(&key) {
        return Err(bad(&format!(
            "keyDetails {details:?} does not describe the key ({})",
            key_details(&key)
        )));
    }
    match key.verify_sha256_prehash(&digest, &sig) {
        Some(true) => {}
        Some(false) => {
            return Err(bad(
                "the signature does not verify over the digest with this key",
            ));
        }
        None => {
            return Err(bad(&format!(
                "a {details} signature covers the whole message, not the digest a hashedrekord \
                 request carries, so it cannot be checked: sign with an ECDSA P-256 key \
                 (PKIX_ECDSA_P256_SHA_256) to log through the Rekor v2 API, or log to the \
                 embedded log"
            )));
        }
    }
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": {
                "content": STANDARD.encode(&sig),
                "verifier": {
                    "keyDetails": details,
                    "publicKey": {"rawBytes": STANDARD.encode(&der)},
                },
            },
        }},
    });
    Ok(jcs::to_canonical(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stella_attest::{Algorithm, PrivateKey, Signer as _, Statement, Subject};
    use stella_core::Digest;

    #[test]
    fn a_request_makes_the_body_the_embedded_log_makes_and_every_signature_is_checked() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = PrivateKey::generate(algorithm).expect("key");
            let statement = Statement::new(
                vec![Subject::new("a", &Digest::sha256(b"a"))],
                "https://example.com/p/v1",
                json!({}),
            )
            .expect("statement");
            let env = Envelope::sign_statement(&statement, &[&key]).expect("sign");
            let request = request_for(&env, key.public_key()).expect("request");
            if algorithm == Algorithm::Ed25519 {
                // Nothing in the request lets a log check a pure Ed25519 signature.
                let err = body_from_request(&request).expect_err("unchecked signature logged");
                assert!(err.to_string().contains("PKIX_ED25519"), "{err}");
                continue;
            }
            let body = body_from_request(&request).expect("body");
            assert_eq!(
                body,
                crate::entry::hashedrekord_body(&env, 0, key.public_key()).expect("body")
            );
            crate::entry::check_binding(&body, &env).expect("binds");
            let mut forged = request.clone();
            forged["hashedRekordRequestV002"]["digest"] = json!(STANDARD.encode([1u8; 32]));
            assert!(body_from_request(&forged).is_err());
            let mut garbage = request.clone();
            garbage["hashedRekordRequestV002"]["signature"]["content"] =
                json!(STANDARD.encode([0u8; 64]));
            assert!(body_from_request(&garbage).is_err());
        }
        assert!(body_from_request(&json!({"dsseRequestV002": {}})).is_err());
    }
}
