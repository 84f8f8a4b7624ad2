//! Crash safety of the embedded log: appenders killed with SIGKILL at random points, many
//! times. Afterwards every acknowledged entry is in the log at the index it was given, every
//! inclusion proof verifies, and the final checkpoint is consistent with every checkpoint that
//! was handed out.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stella_tlog::{Checkpoint, Log, merkle};

/// A small deterministic generator; the seed is printed so a failure can be replayed with
/// `STELLA_CRASH_SEED`.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn append(home: &Path, entry: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stella"))
        .env("STELLA_HOME", home)
        .env_remove("STELLA_LOG")
        .args(["log", "append", "--json"])
        .arg(entry)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("stella runs")
}

#[test]
fn appenders_killed_at_random_points_lose_nothing_acknowledged() {
    let seed = std::env::var("STELLA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("crash test seed: {seed} (STELLA_CRASH_SEED={seed} replays it)");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    // The log exists before the first appender so that every process races on appends only.
    Log::create(&home.join("log"), None).expect("log");

    let mut acknowledged: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut checkpoints: Vec<String> = Vec::new();
    let mut killed = 0usize;
    for round in 0..60 {
        let mut children = Vec::new();
        for p in 0..3 {
            let content = format!("round {round} appender {p} seed {seed}").into_bytes();
            let file = dir.path().join(format!("e-{round}-{p}"));
            std::fs::write(&file, &content).expect("write");
            children.push((append(&home, &file), content));
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 25_000));
        for (child, _) in &mut children {
            if rng.next().is_multiple_of(2) {
                // SIGKILL: no destructor, no flush, wherever the process is.
                let _ = child.kill();
            }
        }
        for (child, content) in children {
            let out = child.wait_with_output().expect("wait");
            if !out.status.success() {
                killed += 1;
                continue;
            }
            let ack: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON ack");
            acknowledged.push((ack["firstIndex"].as_u64().expect("index"), content));
            checkpoints.push(ack["checkpoint"].as_str().expect("note").to_owned());
        }
    }
    eprintln!(
        "{} appends acknowledged, {killed} killed before acknowledging",
        acknowledged.len()
    );
    assert!(
        killed > 0,
        "no appender was killed: the test did not test anything"
    );
    assert!(!acknowledged.is_empty(), "no append survived");

    let log = Log::open(&home.join("log")).expect("the log opens after the crashes");
    let (last, _) = log.checkpoint().expect("checkpoint verifies");
    for (index, content) in &acknowledged {
        assert_eq!(&log.entry(*index).expect("entry"), content, "entry {index}");
        let proof = log.inclusion_proof(*index, last.size).expect("proof");
        merkle::verify_inclusion(
            &merkle::leaf_hash(content),
            *index,
            last.size,
            &proof,
            &last.root,
        )
        .expect("inclusion verifies");
    }
    for note in &checkpoints {
        let old =
            Checkpoint::open(note, log.verifier(), log.origin()).expect("handed-out checkpoint");
        let proof = if old.size == last.size {
            Vec::new()
        } else {
            log.consistency_proof(old.size, last.size)
                .expect("consistency proof")
        };
        merkle::verify_consistency(old.size, last.size, &old.root, &last.root, &proof)
            .unwrap_or_else(|e| panic!("checkpoint of {} entries: {e}", old.size));
    }
    // One more append works on top of whatever the crashes left.
    let file = dir.path().join("after");
    std::fs::write(&file, b"after the crashes").expect("write");
    let out = append(&home, &file).wait_with_output().expect("wait");
    assert!(out.status.success());
}
