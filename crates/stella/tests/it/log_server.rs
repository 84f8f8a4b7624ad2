//! `stella log serve` for real on 127.0.0.1: attestations appended over Rekor v2's API and
//! verified offline, duplicates (409 + x-log-index), the tile read API and its path checks,
//! request limits, overload (503), SIGTERM, and a server killed with SIGKILL while clients
//! append: every acknowledged entry survives and every checkpoint handed out stays consistent.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use predicates::prelude::*;
use serde_json::{Value, json};
use stella_tlog::{Checkpoint, Log, merkle};

pub(crate) const PASSWORD: &str = "server test";

pub(crate) fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_HOME", home)
        .env("STELLA_PASSWORD", PASSWORD);
    cmd
}

/// A running `stella log serve` and the URL it listens on.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Server {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut command = Process::new(env!("CARGO_BIN_EXE_stella"));
        command
            .args([
                "log",
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--origin",
                "127.0.0.1",
                "--dir",
            ])
            .arg(dir)
            .args(extra);
        Server::spawn(command)
    }

    /// Runs `command` (a `stella log serve` however started) and waits for its banner.
    pub(crate) fn spawn(mut command: Process) -> Server {
        let mut child = command
            .env_remove("STELLA_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .expect("stella log serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        reader.read_line(&mut line).expect("banner");
        // Keep draining stderr so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_owned();
        Server { child, url }
    }

    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Process::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    stella(dir)
        .args(["key", "generate", "--out"])
        .arg(dir.join("k"))
        .assert()
        .success();
    (dir.join("k.key"), dir.join("k.pub"))
}

pub(crate) fn attest(home: &Path, url: &str, key: &Path, n: u32) -> assert_cmd::assert::Assert {
    let predicate = home.join(format!("p{n}.json"));
    std::fs::write(&predicate, format!("{{\"n\":{n}}}")).expect("write");
    stella(home)
        .args([
            "attest",
            "--type",
            "https://example.com/t/v1",
            "--log-url",
            url,
            "--key",
        ])
        .arg(key)
        .arg("--predicate")
        .arg(&predicate)
        .args([
            "--subject",
            "app=sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
        ])
        .assert()
}

#[test]
fn rekor_api_tiles_limits_and_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let log_dir = d.join("served");
    let server = Server::start(&log_dir, &[]);
    let (key, public) = keygen(d);

    let out = attest(d, &server.url, &key, 1)
        .success()
        .get_output()
        .stdout
        .clone();
    let bundle: Value = serde_json::from_slice(&out).expect("bundle");
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"],
        "0"
    );
    let root = d.join("root.json");
    stella(d)
        .args(["log", "trusted-root", "--dir"])
        .arg(&log_dir)
        .arg("-o")
        .arg(&root)
        .assert()
        .success();
    let file = d.join("b.json");
    std::fs::write(&file, &out).expect("write");
    stella(d)
        .args(["verify-attestation", "--require-tlog", "--key"])
        .arg(&public)
        .arg("--trusted-root")
        .arg(&root)
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("127.0.0.1 #0"));

    // The same signature again: 409 with the index, a clear message, exit 2.
    attest(d, &server.url, &key, 1)
        .code(2)
        .stderr(predicate::str::contains("already in the log at index 0"));

    // A fresh connection per request: each check stands alone.
    let http = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let checkpoint = http
        .get(format!("{}/checkpoint", server.url))
        .send()
        .expect("GET checkpoint");
    assert_eq!(checkpoint.status(), 200);
    assert_eq!(
        checkpoint.headers()["cache-control"]
            .to_str()
            .expect("header"),
        "no-cache"
    );
    assert!(
        checkpoint
            .text()
            .expect("text")
            .starts_with("127.0.0.1\n1\n")
    );
    let tile = http
        .get(format!("{}/tile/0/000.p/1", server.url))
        .send()
        .expect("GET tile");
    assert_eq!(tile.status(), 200);
    assert_eq!(tile.bytes().expect("bytes").len(), 32);
    for bad in [
        "/tile/../log.key",
        "/tile/0/..%2F..%2Flog.key",
        "/tile/entries/abc",
    ] {
        let status = http
            .get(format!("{}{bad}", server.url))
            .send()
            .expect("GET")
            .status();
        assert!(status == 400 || status == 404, "{bad}: {status}");
    }
    let post = |body: Vec<u8>| {
        http.post(format!("{}/api/v2/log/entries", server.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("POST")
    };
    assert_eq!(post(b"{".to_vec()).status(), 400);
    assert_eq!(post(br#"{"dsseRequestV002":{}}"#.to_vec()).status(), 400);
    // Over the 4 MiB limit: a 413, or (when the server answers before the client has sent
    // everything) the connection closed under the upload; never an accepted entry.
    let oversized = http
        .post(format!("{}/api/v2/log/entries", server.url))
        .header("content-type", "application/json")
        .body(vec![b' '; 5 << 20])
        .send();
    if let Ok(response) = oversized {
        assert_eq!(response.status(), 413);
    }
    // A forged request: the digest is not what the ECDSA signature signs.
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    let body: Value = serde_json::from_slice(
        &STANDARD
            .decode(entry["canonicalizedBody"].as_str().expect("body"))
            .expect("b64"),
    )
    .expect("json");
    let spec = &body["spec"]["hashedRekordV002"];
    let forged = json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode([7u8; 32]),
        "signature": spec["signature"],
    }});
    let response = post(serde_json::to_vec(&forged).expect("json"));
    assert_eq!(response.status(), 400);
    assert!(response.text().expect("text").contains("does not verify"));

    let status = server.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

#[test]
fn a_full_queue_answers_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("served"), &["--max-pending", "1"]);
    let (key, _) = keygen(dir.path());
    let key_text = std::fs::read_to_string(&key).expect("key");
    let private =
        stella_attest::cosign::read_private_key(&key_text, PASSWORD.as_bytes()).expect("key opens");
    let barrier = std::sync::Barrier::new(48);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..48u32)
            .map(|i| {
                let (barrier, private, url) = (&barrier, &private, &server.url);
                s.spawn(move || {
                    let statement = stella_attest::Statement::new(
                        vec![stella_attest::Subject::new(
                            format!("s{i}"),
                            &stella_core::Digest::sha256(&i.to_be_bytes()),
                        )],
                        "https://example.com/t/v1",
                        json!({}),
                    )
                    .expect("statement");
                    let env = stella_attest::Envelope::sign_statement(&statement, &[private])
                        .expect("sign");
                    let request = stella_tlog::rekor::request_for(
                        &env,
                        stella_attest::Signer::public_key(private),
                    )
                    .expect("request");
                    let client = reqwest::blocking::Client::new();
                    barrier.wait();
                    client
                        .post(format!("{url}/api/v2/log/entries"))
                        .header("content-type", "application/json")
                        .body(serde_json::to_vec(&request).expect("json"))
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201), "{statuses:?}");
    assert!(
        statuses.contains(&503),
        "48 simultaneous requests against a queue of 1 all got in: {statuses:?}"
    );
}

#[test]
fn a_server_killed_mid_append_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("served");
    let (key, _) = keygen(dir.path());
    let key_text = std::fs::read_to_string(&key).expect("key");
    let private =
        stella_attest::cosign::read_private_key(&key_text, PASSWORD.as_bytes()).expect("key opens");
    let mut acknowledged: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut checkpoints: Vec<String> = Vec::new();
    let mut n = 0u32;
    for round in 0..12u64 {
        let server = Server::start(&log_dir, &[]);
        let url = server.url.clone();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let acks = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<(u64, Vec<u8>, String)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let (url, stop, private, acks) = (&url, &stop, &private, &acks);
                    let base = n + w * 10_000;
                    s.spawn(move || {
                        let client = reqwest::blocking::Client::builder()
                            .timeout(Duration::from_secs(5))
                            .build()
                            .expect("client");
                        let mut got = Vec::new();
                        let mut i = base;
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            i += 1;
                            let statement = stella_attest::Statement::new(
                                vec![stella_attest::Subject::new(
                                    format!("r{round}-{i}"),
                                    &stella_core::Digest::sha256(&i.to_be_bytes()),
                                )],
                                "https://example.com/t/v1",
                                json!({"round": round}),
                            )
                            .expect("statement");
                            let env =
                                stella_attest::Envelope::sign_statement(&statement, &[private])
                                    .expect("sign");
                            let request = stella_tlog::rekor::request_for(
                                &env,
                                stella_attest::Signer::public_key(private),
                            )
                            .expect("request");
                            let Ok(response) = client
                                .post(format!("{url}/api/v2/log/entries"))
                                .header("content-type", "application/json")
                                .body(serde_json::to_vec(&request).expect("json"))
                                .send()
                            else {
                                break;
                            };
                            if response.status() != 201 {
                                continue;
                            }
                            let Ok(value) = response
                                .bytes()
                                .map_err(|_| ())
                                .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|_| ()))
                            else {
                                break;
                            };
                            let entry = stella_tlog::TlogEntry::from_json(&value).expect("entry");
                            got.push((entry.log_index, entry.body, entry.checkpoint));
                            acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        got
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(150 + round * 37 % 200));
            // On a loaded machine the first appends can take longer than the delay: wait for a
            // few acknowledgements (at most 10 s), so every round kills a server mid-stream.
            let waited = std::time::Instant::now();
            while acks.load(std::sync::atomic::Ordering::Relaxed) < 3
                && waited.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            // SIGKILL the server in the middle of whatever it is doing.
            let mut server = server;
            let _ = server.child.kill();
            let _ = server.child.wait();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("worker"))
                .collect()
        });
        n += 100_000;
        for (index, body, note) in results {
            acknowledged.push((index, body));
            checkpoints.push(note);
        }
    }
    assert!(
        acknowledged.len() > 20,
        "too few appends to mean anything: {}",
        acknowledged.len()
    );
    let log = Log::open(&log_dir).expect("the log opens after the kills");
    let (last, _) = log.checkpoint().expect("checkpoint");
    for (index, body) in &acknowledged {
        assert_eq!(&log.entry(*index).expect("entry"), body, "entry {index}");
        let proof = log.inclusion_proof(*index, last.size).expect("proof");
        merkle::verify_inclusion(
            &merkle::leaf_hash(body),
            *index,
            last.size,
            &proof,
            &last.root,
        )
        .expect("inclusion");
    }
    for note in &checkpoints {
        let old = Checkpoint::open(note, log.verifier(), log.origin()).expect("checkpoint");
        let proof = if old.size == last.size {
            Vec::new()
        } else {
            log.consistency_proof(old.size, last.size).expect("proof")
        };
        merkle::verify_consistency(old.size, last.size, &old.root, &last.root, &proof)
            .unwrap_or_else(|e| panic!("checkpoint of {}: {e}", old.size));
    }
}

#[test]
fn a_split_view_is_refused_and_growth_is_proven_from_the_tiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, public) = keygen(d);
    // Log A, and a fork of it made while empty: same key, same origin, later another history.
    let a = d.join("a");
    stella(&a).args(["log", "info"]).assert().code(2);
    Log::create(&a.join("log"), Some("127.0.0.1")).expect("log A");
    let b = d.join("b");
    std::fs::create_dir_all(b.join("log")).expect("mkdir");
    for name in ["log.key", "origin", "created", "checkpoint"] {
        std::fs::copy(a.join("log").join(name), b.join("log").join(name)).expect("copy");
    }
    let root = d.join("root.json");
    stella(&a)
        .args(["log", "trusted-root", "-o"])
        .arg(&root)
        .assert()
        .success();
    let sign = |home: &Path, n: u32| -> PathBuf {
        let predicate = d.join(format!("p{n}.json"));
        std::fs::write(&predicate, format!("{{\"n\":{n}}}")).expect("write");
        let out = d.join(format!("bundle-{n}.json"));
        stella(home)
            .args(["attest", "--type", "https://example.com/t/v1", "--key"])
            .arg(&key)
            .arg("--predicate")
            .arg(&predicate)
            .args([
                "--subject",
                "app=sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                "-o",
            ])
            .arg(&out)
            .assert()
            .success();
        out
    };
    let verifier = d.join("auditor");
    let verify = |bundle: &Path, extra: &[&str]| {
        stella(&verifier)
            .args(["verify-attestation", "--key"])
            .arg(&public)
            .arg("--trusted-root")
            .arg(&root)
            .args(extra)
            .arg(bundle)
            .assert()
    };
    let first = sign(&a, 1);
    verify(&first, &[]).success();
    // The fork's first checkpoint has the same size and another root: a split view.
    let forked = sign(&b, 2);
    verify(&forked, &[])
        .code(1)
        .stderr(predicate::str::contains("split view"));
    // Log A grows. Offline, the auditor cannot prove it grew consistently: a failure when
    // the log is required, a warning otherwise...
    let later = sign(&a, 3);
    verify(&later, &["--require-tlog"])
        .code(1)
        .stderr(predicate::str::contains("was not proven"));
    verify(&later, &[])
        .success()
        .stderr(predicate::str::contains("was not proven"));
    // ... and with the log's tile API, it proves it.
    let server = Server::start(&a.join("log"), &[]);
    verify(&later, &["--log-url", &server.url])
        .success()
        .stderr(predicate::str::contains("was not proven").not());
    // The fork is still refused, now against the larger remembered checkpoint.
    verify(&forked, &["--log-url", &server.url])
        .code(1)
        .stderr(predicate::str::contains("split view"));
}
