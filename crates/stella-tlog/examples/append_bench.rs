//! Durable append throughput, proof throughput and storage per entry of the embedded log, as
//! `bench/tlog.sh` runs it: `cargo run --release -p stella-tlog --example append_bench --
//! --entries 200000 --batch 256 --entry-bytes 1024 --dir DIR`. Prints one JSON line.
//!
//! Appends are batched as a server batches concurrent requests: every batch is durable (entry
//! bundles, tiles and the checkpoint fsynced) before the next starts.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Instant;

use serde_json::json;
use stella_tlog::{Log, merkle};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                dir_size(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = arg(&args, "--entries", "200000").parse().expect("entries");
    let batch: usize = arg(&args, "--batch", "256").parse().expect("batch");
    let size: usize = arg(&args, "--entry-bytes", "1024").parse().expect("bytes");
    let dir = std::path::PathBuf::from(arg(&args, "--dir", "bench/out/tlog"));
    let _ = std::fs::remove_dir_all(&dir);
    let log = Log::create(&dir, Some("bench.stella.local")).expect("log");

    let mut appended = 0usize;
    let started = Instant::now();
    while appended < total {
        let n = batch.min(total - appended);
        let entries: Vec<Vec<u8>> = (appended..appended + n)
            .map(|i| {
                let mut e = format!("entry {i} ").into_bytes();
                e.resize(size, b'x');
                e
            })
            .collect();
        log.append(&entries).expect("append");
        appended += n;
    }
    let append_s = started.elapsed().as_secs_f64();
    let storage = dir_size(&dir);

    let (checkpoint, _) = log.checkpoint().expect("checkpoint");
    let tree = checkpoint.size;
    let probes = 20_000u64.min(tree);
    let started = Instant::now();
    let mut proofs = Vec::new();
    for k in 0..probes {
        let index = (k * 7_919) % tree;
        proofs.push((index, log.inclusion_proof(index, tree).expect("proof")));
    }
    let prove_s = started.elapsed().as_secs_f64();
    let leaves: Vec<_> = proofs
        .iter()
        .map(|(i, _)| merkle::leaf_hash(&log.entry(*i).expect("entry")))
        .collect();
    let started = Instant::now();
    for ((index, proof), leaf) in proofs.iter().zip(&leaves) {
        merkle::verify_inclusion(leaf, *index, tree, proof, &checkpoint.root).expect("verifies");
    }
    let verify_s = started.elapsed().as_secs_f64();

    println!(
        "{}",
        json!({
            "entries": total,
            "batch": batch,
            "entry_bytes": size,
            "appends_per_s": (total as f64 / append_s).round(),
            "append_seconds": append_s,
            "proofs_per_s": (probes as f64 / prove_s).round(),
            "verifications_per_s": (probes as f64 / verify_s).round(),
            "storage_bytes": storage,
            "bytes_per_entry": (storage as f64 / total as f64 * 10.0).round() / 10.0,
        })
    );
}
