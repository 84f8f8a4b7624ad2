//! `stella serve` end to end, on SQLite and on a real PostgreSQL server: tokens minted and
//! revoked by the CLI, each scope refused on the other's routes, pushes counted once (a retry is
//! answered as counted before, a reused batch id with other bytes is 409), malformed and
//! oversized pushes refused with the reason, the hot-symbol index read back, health, metrics,
//! the log's API folded in, two replicas on one PostgreSQL counting a batch pushed to both
//! once, and a clean stop on SIGTERM.

use std::path::Path;
use std::process::Command as Process;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::log_server::{Server, stella};

const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn token(home: &Path, db: &str, args: &[&str]) -> String {
    let out = stella(home)
        .args(["serve", "token", "--db", db])
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn serve(home: &Path, db: &str, extra: &[&str]) -> Server {
    let mut command = Process::new(env!("CARGO_BIN_EXE_stella"));
    command
        .env("STELLA_HOME", home)
        .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
        .args(extra);
    Server::spawn(command)
}

fn push_doc(agent: &str, batch: &str, total: u64) -> Value {
    json!({
        "schema": "stella.fleet.push/v1",
        "batch": batch,
        "agent": agent,
        "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:01:00Z",
                   "sampledSeconds": 10.0},
        "windowSeconds": 60,
        "observations": [
            {"image": IMAGE, "buildId": "ab12", "function": "parse",
             "windowStart": 1_796_083_200, "selfSamples": 1, "totalSamples": total, "calls": 0},
            {"image": IMAGE, "buildId": "ab12", "function": "main",
             "windowStart": 1_796_083_200, "selfSamples": 0, "totalSamples": total, "calls": 0},
        ],
    })
}

fn post(http: &Client, url: &str, token: Option<&str>, body: &[u8]) -> (StatusCode, Value) {
    let mut request = http
        .post(format!("{url}/api/v1/push"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().expect("push answered");
    let status = response.status();
    (status, response.json().unwrap_or(Value::Null))
}

fn hot(http: &Client, url: &str, token: &str, query: &str) -> (StatusCode, Value) {
    let response = http
        .get(format!("{url}/api/v1/hot-symbols{query}"))
        .bearer_auth(token)
        .send()
        .expect("answered");
    let status = response.status();
    (status, response.json().unwrap_or(Value::Null))
}

fn the_api(db: &str) {
    let home = tempfile::tempdir().unwrap();
    let node_a = token(home.path(), db, &["--agent", "node-a", "--node", "host-a"]);
    let node_b = token(home.path(), db, &["--agent", "node-b"]);
    let reader = token(home.path(), db, &["--read"]);
    assert!(node_a.starts_with("stella_ingest_") && reader.starts_with("stella_read_"));
    let log = home.path().join("log");
    let server = serve(
        home.path(),
        db,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-origin",
            "127.0.0.1",
            "--max-push-bytes",
            "4096",
        ],
    );
    let http = Client::new();
    let url = server.url.clone();

    let body = serde_json::to_vec(&push_doc("node-a", "node-a-1", 7)).unwrap();
    let (status, answer) = post(&http, &url, Some(&node_a), &body);
    assert_eq!(
        (status, &answer["counted"]),
        (StatusCode::OK, &json!(2)),
        "{answer}"
    );
    let (status, answer) = post(&http, &url, Some(&node_a), &body);
    assert_eq!(
        (status, &answer["alreadyCounted"]),
        (StatusCode::OK, &json!(true))
    );
    let other = serde_json::to_vec(&push_doc("node-a", "node-a-1", 8)).unwrap();
    assert_eq!(
        post(&http, &url, Some(&node_a), &other).0,
        StatusCode::CONFLICT
    );

    // Scopes and identities.
    let as_b = serde_json::to_vec(&push_doc("node-b", "node-b-1", 1)).unwrap();
    let (status, answer) = post(&http, &url, Some(&node_a), &as_b);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        answer["error"].as_str().unwrap().contains("node-a"),
        "{answer}"
    );
    assert_eq!(
        post(&http, &url, Some(&reader), &as_b).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(post(&http, &url, None, &as_b).0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(
            &http,
            &url,
            Some("stella_ingest_not-a-token-at-all-xxxxxxxxxxx"),
            &as_b
        )
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(hot(&http, &url, &node_a, "").0, StatusCode::FORBIDDEN);
    assert_eq!(post(&http, &url, Some(&node_b), &as_b).0, StatusCode::OK);

    // Bad pushes: the reason, nothing counted.
    let (status, answer) = post(&http, &url, Some(&node_b), b"{\"schema\": ");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"].as_str().unwrap().starts_with("not a push"),
        "{answer}"
    );
    let mut misaligned = push_doc("node-b", "node-b-2", 1);
    misaligned["observations"][0]["windowStart"] = json!(1_796_083_201);
    let (status, answer) = post(
        &http,
        &url,
        Some(&node_b),
        &serde_json::to_vec(&misaligned).unwrap(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("/observations/0/windowStart"),
        "{answer}"
    );
    let huge = vec![b' '; 8192];
    assert_eq!(
        post(&http, &url, Some(&node_b), &huge).0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // The index: node-a's 7 and node-b's 1, each counted once.
    let (status, rows) = hot(&http, &url, &reader, "?function=parse");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["totalSamples"], 8);
    assert_eq!(rows[0]["agents"], json!(["node-a", "node-b"]));
    assert_eq!(rows[0]["image"], IMAGE);
    let (_, none) = hot(&http, &url, &reader, "?since=2027-01-01T00:00:00Z");
    assert_eq!(none, json!([]));
    assert_eq!(
        hot(&http, &url, &reader, "?since=yesterday").0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        hot(&http, &url, &reader, "?colour=red").0,
        StatusCode::BAD_REQUEST
    );
    let timeline = http
        .get(format!("{url}/api/v1/images/{IMAGE}/timeline"))
        .bearer_auth(&reader)
        .send()
        .unwrap();
    assert_eq!(timeline.status(), StatusCode::OK);

    // Open routes, and the log folded in.
    assert_eq!(
        http.get(format!("{url}/healthz")).send().unwrap().status(),
        StatusCode::OK
    );
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("stella_pushes_total{outcome=\"counted\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stella_pushes_total{outcome=\"already_counted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stella_pushes_total{outcome=\"conflict\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        http.get(format!("{url}/checkpoint"))
            .send()
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // A revoked token is no token.
    let file = home.path().join("node-a.token");
    std::fs::write(&file, format!("{node_a}\n")).unwrap();
    stella(home.path())
        .args(["serve", "revoke", "--db", db])
        .arg(&file)
        .assert()
        .success();
    stella(home.path())
        .args(["serve", "revoke", "--db", db])
        .arg(&file)
        .assert()
        .code(2);
    let again = serde_json::to_vec(&push_doc("node-a", "node-a-9", 1)).unwrap();
    assert_eq!(
        post(&http, &url, Some(&node_a), &again).0,
        StatusCode::UNAUTHORIZED
    );

    assert!(server.stop().success(), "a clean stop on SIGTERM");
}

#[test]
fn serve_counts_pushes_once_and_keeps_scopes_apart() {
    let dir = tempfile::tempdir().unwrap();
    the_api(&format!(
        "sqlite://{}",
        dir.path().join("fleet.db").display()
    ));
}

#[test]
fn on_postgresql_serve_counts_pushes_once_and_keeps_scopes_apart() {
    let dir = tempfile::tempdir().unwrap();
    match stella_testkit::postgres::Server::start(dir.path()) {
        Ok(pg) => the_api(&pg.url),
        Err(why) => stella_testkit::skip(
            "on_postgresql_serve_counts_pushes_once_and_keeps_scopes_apart",
            &why,
        ),
    }
}

#[test]
fn on_postgresql_two_replicas_count_a_batch_pushed_to_both_once() {
    let dir = tempfile::tempdir().unwrap();
    let pg = match stella_testkit::postgres::Server::start(dir.path()) {
        Ok(pg) => pg,
        Err(why) => {
            return stella_testkit::skip(
                "on_postgresql_two_replicas_count_a_batch_pushed_to_both_once",
                &why,
            );
        }
    };
    let home = tempfile::tempdir().unwrap();
    let agents: Vec<String> = (0..4)
        .map(|n| token(home.path(), &pg.url, &["--agent", &format!("node-{n}")]))
        .collect();
    let reader = token(home.path(), &pg.url, &["--read"]);
    let replicas = [
        serve(home.path(), &pg.url, &[]),
        serve(home.path(), &pg.url, &[]),
    ];
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    std::thread::scope(|scope| {
        for (n, token) in agents.iter().enumerate() {
            let urls = &urls;
            scope.spawn(move || {
                let http = Client::new();
                for i in 0..25u64 {
                    let body = serde_json::to_vec(&push_doc(
                        &format!("node-{n}"),
                        &format!("node-{n}-{i}"),
                        1,
                    ))
                    .unwrap();
                    // A retry that lands on the other replica.
                    for url in urls {
                        let (status, answer) = post(&http, url, Some(token), &body);
                        assert_eq!(status, StatusCode::OK, "{answer}");
                    }
                }
            });
        }
    });
    let (_, rows) = hot(&Client::new(), &urls[1], &reader, "?function=main");
    assert_eq!(rows[0]["totalSamples"], 100, "{rows}");
    for replica in replicas {
        assert!(replica.stop().success());
    }
}

/// PostgreSQL crashes (`pg_ctl stop -m immediate`) and comes back while four clients push,
/// each retrying a push until it is answered 200, as the agent's spool does: pushes made
/// while it is down are refused with 503 (never a 200 for something not counted), `/healthz`
/// says the store is down, and afterwards every push is counted exactly once.
#[test]
fn on_postgresql_a_crash_under_load_loses_nothing_and_counts_nothing_twice() {
    let test = "on_postgresql_a_crash_under_load_loses_nothing_and_counts_nothing_twice";
    let dir = tempfile::tempdir().unwrap();
    let pg = match stella_testkit::postgres::Server::start(dir.path()) {
        Ok(pg) => pg,
        Err(why) => return stella_testkit::skip(test, &why),
    };
    let home = tempfile::tempdir().unwrap();
    let agents: Vec<String> = (0..4)
        .map(|n| token(home.path(), &pg.url, &["--agent", &format!("node-{n}")]))
        .collect();
    let reader = token(home.path(), &pg.url, &["--read"]);
    let server = serve(home.path(), &pg.url, &[]);
    let url = server.url.clone();
    let refused = std::sync::atomic::AtomicU64::new(0);
    let pushed = std::sync::atomic::AtomicU64::new(0);
    let mut down_health = None;
    std::thread::scope(|scope| {
        for (n, token) in agents.iter().enumerate() {
            let (url, refused, pushed) = (&url, &refused, &pushed);
            scope.spawn(move || {
                let http = Client::builder()
                    .timeout(std::time::Duration::from_secs(30))
                    .build()
                    .unwrap();
                for i in 0..40u64 {
                    let body = serde_json::to_vec(&push_doc(
                        &format!("node-{n}"),
                        &format!("node-{n}-{i}"),
                        i + 1,
                    ))
                    .unwrap();
                    let started = std::time::Instant::now();
                    loop {
                        let answer = http
                            .post(format!("{url}/api/v1/push"))
                            .bearer_auth(token)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send();
                        match answer.map(|r| r.status()) {
                            Ok(StatusCode::OK) => break,
                            Ok(StatusCode::SERVICE_UNAVAILABLE) | Err(_) => {
                                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Ok(other) => panic!("push {n}-{i}: {other}"),
                        }
                        assert!(
                            started.elapsed() < std::time::Duration::from_secs(120),
                            "push {n}-{i} never counted"
                        );
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    pushed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            });
        }
        // Down once some pushes are in, for two seconds, then back.
        while pushed.load(std::sync::atomic::Ordering::Relaxed) < 30 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        pg.crash();
        std::thread::sleep(std::time::Duration::from_millis(500));
        down_health = Some(
            Client::new()
                .get(format!("{url}/healthz"))
                .send()
                .map(|r| r.status()),
        );
        std::thread::sleep(std::time::Duration::from_millis(1500));
        pg.boot();
    });
    assert!(
        matches!(down_health, Some(Ok(StatusCode::SERVICE_UNAVAILABLE))),
        "{down_health:?}"
    );
    assert!(
        refused.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "{test}: no push was refused while the database was down"
    );
    // Each agent pushed totals 1..=40 for `main`: 820 each.
    let (status, rows) = hot(&Client::new(), &url, &reader, "?function=main");
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(rows[0]["totalSamples"], 4 * 820, "{rows}");
    let metrics = Client::new()
        .get(format!("{url}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("stella_pushes_total{outcome=\"counted\"} 160"),
        "{metrics}"
    );
    assert!(server.stop().success());
}

#[test]
fn without_tokens_only_on_loopback() {
    let home = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", home.path().join("x.db").display());
    let out = stella(home.path())
        .args([
            "serve",
            "--insecure-loopback",
            "--addr",
            "0.0.0.0:0",
            "--db",
            &db,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let server = serve(home.path(), &db, &["--insecure-loopback"]);
    let body = serde_json::to_vec(&push_doc("node-x", "node-x-1", 1)).unwrap();
    // No token needed, but the agent must still be one the store knows.
    let (status, answer) = post(&Client::new(), &server.url, None, &body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("node-x"),
        "{answer}"
    );
    assert!(server.stop().success());
}
