//! Signed evidence from arbitrary bytes: the bundle and envelope readers, base64, the signature
//! check and the statement reader, all on hostile input; and, for input that looks like PEM, the
//! key-file readers (cosign's encrypted format included).
//!
//! Properties: never a panic, abort or hang; evidence that verifies (with the fixed key below)
//! survives its own JSON unchanged and still verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stella_attest::{PrivateKey, SignedEvidence, Signer as _, cosign};

/// The PKCS#8 v1 form of the Ed25519 key with seed 0x01 × 32 (RFC 8410 layout): the key the
/// regression seeds in `crates/stella-attest/tests/fuzz-regressions` are signed with.
fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend([1u8; 32]);
        PrivateKey::from_pkcs8_der(&der).expect("fixed key")
    })
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"-----BEGIN") {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = cosign::read_private_key(text, b"pw");
            let _ = stella_attest::PublicKey::from_pem(text);
        }
        return;
    }
    let Ok(value) = stella_core::jcs::parse(data) else {
        return;
    };
    let value = value.to_serde();
    let Ok(evidence) = SignedEvidence::from_json_value(&value) else {
        return;
    };
    let Ok(verified) = evidence.envelope().verify(key().public_key()) else {
        return;
    };
    let json = evidence.envelope().to_json_value();
    let back = stella_attest::Envelope::from_json_value(&json, "").expect("envelope reads back");
    assert_eq!(&back, evidence.envelope());
    let again = back.verify(key().public_key()).expect("still verifies");
    assert_eq!(again, verified);
});
