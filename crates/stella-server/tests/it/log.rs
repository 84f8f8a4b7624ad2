//! The log server as a library, started on 127.0.0.1:0 and talked to with the Rekor v2 client
//! of `stella-tlog`: entries are appended and proven, a duplicate is refused with its index,
//! the checkpoint and tiles prove what was appended, and a stop finishes cleanly. A log
//! server that fails (HTTP 500) is the environment's failure, not bad input.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;

use serde_json::json;
use stella_attest::{Algorithm, Envelope, PrivateKey, Signer as _, Statement, Subject};
use stella_core::{Digest, Kinded as _};
use stella_server::{LogServer, LogServerOptions};
use stella_tlog::client::RekorClient;
use stella_tlog::log::TileView;
use stella_tlog::{Checkpoint, LogBackend, TlogError, merkle, rekor};

fn envelope(key: &PrivateKey, i: u32) -> Envelope {
    let statement = Statement::new(
        vec![Subject::new(
            format!("f{i}"),
            &Digest::sha256(&i.to_be_bytes()),
        )],
        "https://example.com/p/v1",
        json!({"i": i}),
    )
    .expect("statement");
    Envelope::sign_statement(&statement, &[key]).expect("sign")
}

#[test]
fn entries_are_appended_proven_and_served_until_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = LogServer::bind(&LogServerOptions {
        dir: dir.path().join("log"),
        addr: "127.0.0.1:0".to_owned(),
        origin: Some("127.0.0.1".to_owned()),
        max_pending: 64,
    })
    .expect("binds");
    let url = format!("http://{}", server.local_addr());
    let verifier = server.log().verifier().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        server.run_until(async {
            let _ = stopped.await;
        })
    });

    let client = RekorClient::new(&url).expect("client");
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let envelopes: Vec<Envelope> = (0..20).map(|i| envelope(&key, i)).collect();
    let entries = client
        .log_envelopes(&envelopes, key.public_key())
        .expect("logged");
    assert_eq!(entries.len(), 20);
    let mut indexes: Vec<u64> = entries.iter().map(|e| e.log_index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..20).collect::<Vec<_>>(), "each entry once");

    // The same signature again: refused, naming where it is; bad input (exit 2).
    let again = client
        .post_entry(
            &rekor::request_for(&envelopes[3], key.public_key()).expect("request"),
            &envelopes[3],
        )
        .expect_err("duplicate");
    assert!(
        matches!(again, TlogError::AlreadyLogged { index: Some(i), .. } if i == entries[3].log_index),
        "{again:?}"
    );
    assert_eq!(again.kind().exit_code(), 2);

    // The served checkpoint and tiles prove every entry and the growth from the first one.
    let note = client.checkpoint_note().expect("checkpoint");
    let checkpoint = Checkpoint::open(&note, &verifier, "127.0.0.1").expect("signed");
    assert_eq!(checkpoint.size, 20);
    let view = TileView::new(&client, checkpoint.size);
    let root = merkle::range_hash(&view, 0, checkpoint.size).expect("root from tiles");
    assert_eq!(root, checkpoint.root);
    for entry in &entries {
        let proof = merkle::inclusion_proof(&view, entry.log_index, checkpoint.size)
            .expect("proof from tiles");
        merkle::verify_inclusion(
            &merkle::leaf_hash(&entry.body),
            entry.log_index,
            checkpoint.size,
            &proof,
            &checkpoint.root,
        )
        .expect("included");
    }
    let first = &entries[0];
    let proof = merkle::consistency_proof(&view, first.tree_size, checkpoint.size)
        .expect("consistency from tiles");
    merkle::verify_consistency(
        first.tree_size,
        checkpoint.size,
        &first.root,
        &checkpoint.root,
        &proof,
    )
    .expect("consistent");

    stop.send(()).expect("stop");
    running.join().expect("joins").expect("stops cleanly");
    assert!(
        RekorClient::new(&url)
            .expect("client")
            .checkpoint_note()
            .is_err(),
        "nothing listens after the stop"
    );
}

/// A stand-in log that answers every request with `status` (after reading it whole).
fn answering(status: &'static str) -> (String, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        // The client makes at most this many attempts.
        while served < stella_tlog::client::ATTEMPTS as usize {
            let Ok((stream, _)) = listener.accept() else {
                break;
            };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom"
            );
            served += 1;
            if !status.starts_with("503") {
                break;
            }
        }
        served
    });
    (url, handle)
}

#[test]
fn a_failing_log_server_is_the_environment_and_a_refusal_bad_input() {
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let env = envelope(&key, 1);
    let request = rekor::request_for(&env, key.public_key()).expect("request");

    // Regression: a 500 was answered with exit 2, as if the input were wrong.
    let (url, server) = answering("500 Internal Server Error");
    let failed = RekorClient::new(&url)
        .expect("client")
        .post_entry(&request, &env)
        .expect_err("500");
    assert!(
        matches!(failed, TlogError::Http { status: 500, .. }),
        "{failed:?}"
    );
    assert_eq!(failed.kind().exit_code(), 3);
    assert_eq!(
        server.join().expect("served"),
        1,
        "a failure is not retried"
    );

    let (url, server) = answering("400 Bad Request");
    let refused = RekorClient::new(&url)
        .expect("client")
        .post_entry(&request, &env)
        .expect_err("400");
    assert_eq!(refused.kind().exit_code(), 2);
    server.join().expect("served");

    // Busy every time: retried, then given up on, with the last answer as the source.
    let (url, server) = answering("503 Service Unavailable");
    let busy = RekorClient::new(&url)
        .expect("client")
        .post_entry(&request, &env)
        .expect_err("503");
    assert!(
        matches!(&busy, TlogError::GaveUp { attempts: 4, last } if matches!(**last, TlogError::Http { status: 503, .. })),
        "{busy:?}"
    );
    assert_eq!(busy.kind().exit_code(), 3);
    assert_eq!(server.join().expect("served"), 4);
}
