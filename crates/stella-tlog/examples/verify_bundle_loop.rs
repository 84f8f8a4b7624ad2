//! Keyless bundle verifications per second of one core, as `bench/keyless.sh` runs it:
//! `cargo run --release -p stella-tlog --example verify_bundle_loop -- BUNDLE ARTIFACT
//! TRUSTED_ROOT IDENTITY ISSUER N`. Verifies the bundle N times in this process with
//! [`stella_tlog::bundle_verify::verify_bundle`] (the trusted root read once; the bundle's JSON
//! parsed, the certificate chain, SCTs, log entry, signature and identity checked every time),
//! so the figure is the library's and not a process start's. Prints one JSON line.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Instant;

use serde_json::{Value, json};
use stella_attest::keyless::{IdentityPolicy, Matcher, TrustedRoot};
use stella_tlog::bundle_verify::{Artifact, VerifyOptions, verify_bundle};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bundle, artifact, root, identity, issuer, n] = args.as_slice() else {
        eprintln!("usage: verify_bundle_loop BUNDLE ARTIFACT TRUSTED_ROOT IDENTITY ISSUER N");
        std::process::exit(2);
    };
    let n: u32 = n.parse().expect("N is a number");
    let bundle = std::fs::read(bundle).expect("bundle");
    let artifact = std::fs::read(artifact).expect("artifact");
    let root = TrustedRoot::from_json(&std::fs::read(root).expect("trusted root"))
        .expect("a trusted root");
    let policy = IdentityPolicy {
        identity: Some(Matcher::Exact(identity.clone())),
        issuer: Some(Matcher::Exact(issuer.clone())),
        ..IdentityPolicy::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let options = VerifyOptions {
        root: &root,
        policy: Some(&policy),
        key: None,
        now: i64::try_from(now).expect("now"),
    };
    let verify = || {
        let value: Value = serde_json::from_slice(&bundle).expect("JSON");
        if let Err(e) = verify_bundle(&value, Artifact::Bytes(&artifact), &options) {
            panic!("the bundle does not verify: {e}");
        }
    };
    // One untimed verification first, as the peers' loops do.
    verify();
    let start = Instant::now();
    for _ in 0..n {
        verify();
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "verifications": n,
            "seconds": seconds,
            "per_second": f64::from(n) / seconds,
        })
    );
}
