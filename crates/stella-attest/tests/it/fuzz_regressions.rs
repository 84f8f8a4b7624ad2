//! Every input the signed-evidence fuzzer keeps (`tests/fuzz-regressions/`) is run with the fuzz
//! target's properties (`fuzz/fuzz_targets/attest_verify.rs`): no panic; `seed-` inputs verify
//! with the fixed key and survive their own JSON; `reject-` inputs are refused.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use stella_attest::{Envelope, PrivateKey, SignedEvidence, Signer as _};

/// The Ed25519 key with seed 0x01 × 32 (PKCS#8 v1), as in the fuzz target.
fn key() -> PrivateKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend([1u8; 32]);
    PrivateKey::from_pkcs8_der(&der).expect("fixed key")
}

fn check(data: &[u8], key: &PrivateKey) -> Result<(), String> {
    let value = stella_core::jcs::parse(data)
        .map_err(|e| e.to_string())?
        .to_serde();
    let evidence = SignedEvidence::from_json_value(&value).map_err(|e| e.to_string())?;
    let verified = evidence
        .envelope()
        .verify(key.public_key())
        .map_err(|e| e.to_string())?;
    let back = Envelope::from_json_value(&evidence.envelope().to_json_value(), "")
        .map_err(|e| format!("does not read back: {e}"))?;
    assert_eq!(&back, evidence.envelope());
    assert_eq!(
        back.verify(key.public_key()).expect("still verifies"),
        verified
    );
    Ok(())
}

#[test]
fn attest_fuzz_regressions_hold() {
    let key = key();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-regressions exists")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 4, "seeds missing in {}", dir.display());
    for path in inputs {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let data = std::fs::read(&path).expect("readable");
        match check(&data, &key) {
            Ok(()) => assert!(
                !name.starts_with("reject-"),
                "{name}: accepted, must be refused"
            ),
            Err(e) => assert!(
                !name.starts_with("seed-"),
                "{name}: refused ({e}), must verify"
            ),
        }
    }
}
