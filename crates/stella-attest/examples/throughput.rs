//! Sign and verify throughput of DSSE envelopes on one thread, as `bench/attest_speed.py` runs
//! it: `cargo run --release -p stella-attest --example throughput -- --algorithm ecdsa-p256
//! --iterations 20000 --payload-bytes 1024`. Prints one JSON line: `{"algorithm", "iterations",
//! "payload_bytes", "sign_per_s", "verify_per_s"}`.
//!
//! Signing covers building the canonical statement payload, the PAE, the signature and the
//! envelope's JSON; verification covers parsing that JSON, base64, the signature over the PAE
//! and reading the statement back: what a verifier of stored evidence does per envelope.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Instant;

use serde_json::json;
use stella_attest::{Algorithm, Envelope, PrivateKey, Statement, Subject};
use stella_core::Digest;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let algorithm: Algorithm = arg(&args, "--algorithm", "ecdsa-p256")
        .parse()
        .expect("algorithm");
    let iterations: usize = arg(&args, "--iterations", "20000")
        .parse()
        .expect("iterations");
    let payload_bytes: usize = arg(&args, "--payload-bytes", "1024")
        .parse()
        .expect("bytes");
    let key = PrivateKey::generate(algorithm).expect("key");

    // A statement of about `payload_bytes` canonical bytes: two subjects and a predicate padded
    // with a note.
    let subjects = vec![
        Subject::new("registry.example/app@1.2.3", &Digest::sha256(b"image")),
        Subject::new("app", &Digest::sha256(b"binary")),
    ];
    let mut note = String::new();
    let statement = loop {
        let s = Statement::new(
            subjects.clone(),
            "https://example.com/review/v1",
            json!({"reviewer": "ada", "result": "pass", "note": note}),
        )
        .expect("statement");
        if s.to_payload().expect("payload").len() >= payload_bytes {
            break s;
        }
        note.push('x');
    };
    let actual_bytes = statement.to_payload().expect("payload").len();

    let sign_once = || {
        let env = Envelope::sign_statement(&statement, &[&key]).expect("sign");
        serde_json::to_vec(&env.to_json_value()).expect("json")
    };
    let signed = sign_once();
    for _ in 0..iterations / 10 {
        std::hint::black_box(sign_once());
    }
    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(sign_once());
    }
    let sign_per_s = iterations as f64 / started.elapsed().as_secs_f64();

    let public = stella_attest::Signer::public_key(&key).clone();
    let verify_once = || {
        let value: serde_json::Value = serde_json::from_slice(&signed).expect("json");
        let env = Envelope::from_json_value(&value, "").expect("envelope");
        env.verify(&public).expect("verifies")
    };
    for _ in 0..iterations / 10 {
        std::hint::black_box(verify_once());
    }
    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(verify_once());
    }
    let verify_per_s = iterations as f64 / started.elapsed().as_secs_f64();

    println!(
        "{}",
        json!({
            "algorithm": algorithm.name(),
            "iterations": iterations,
            "payload_bytes": actual_bytes,
            "sign_per_s": sign_per_s.round(),
            "verify_per_s": verify_per_s.round(),
        })
    );
}
