//! Keyless Sigstore material from arbitrary bytes: DER input goes to the certificate parser,
//! path validation, SCT and identity readers and the RFC 3161 token reader; JSON input is a
//! bundle verified offline against the public-good trusted root Stella ships (bundle reader,
//! Rekor entries, checkpoints, inclusion proofs, timestamps, certificates), and a trusted
//! root read from the same bytes.
//!
//! Properties: never a panic, abort or hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stella_attest::keyless::certificate::{FulcioCertificate, Usage};
use stella_attest::keyless::{IdentityPolicy, Matcher, TrustedRoot, timestamp};
use stella_tlog::bundle_verify::{Artifact, VerifyOptions, verify_bundle};

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        TrustedRoot::from_json(include_bytes!(
            "../../crates/stella/trust/public-good/trusted_root.json"
        ))
        .expect("the shipped root reads")
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    if data.first() == Some(&0x30) {
        if let Ok(cert) = FulcioCertificate::from_der(data, "fuzz") {
            let _ = cert.identity();
            let _ = cert.verify_path(std::slice::from_ref(&cert), 1_700_000_000, Usage::CodeSigning);
            let _ = cert.verify_chain(root, 1_700_000_000);
            let _ = cert.verify_scts(&cert, &root.ctlogs);
        }
        let _ = timestamp::verify_timestamp(data, b"signature", root, 0);
        return;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = TrustedRoot::from_json_value(&value);
    let policy = IdentityPolicy {
        identity: Matcher::regex(".*", "fuzz").ok(),
        issuer: Some(Matcher::Exact("https://token.actions.githubusercontent.com".to_owned())),
        ..IdentityPolicy::default()
    };
    let options = VerifyOptions {
        root,
        policy: Some(&policy),
        key: None,
        now: 1_800_000_000,
    };
    let _ = verify_bundle(&value, Artifact::Bytes(b"a.txt"), &options);
    let _ = verify_bundle(&value, Artifact::Sha256([7; 32]), &options);
});
