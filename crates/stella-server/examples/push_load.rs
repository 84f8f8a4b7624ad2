//! Load for `stella serve`'s push API, as `bench/fleet.sh` runs it: one thread per agent token,
//! each sending PUSHES pushes of OBSERVATIONS observations (distinct functions of one binary in
//! one window, like an agent's), one after another; prints the total time, pushes and
//! observations per second, and the p50 / p99 / max push latency.
//!
//! Usage: push_load URL PUSHES OBSERVATIONS AGENT=TOKEN_FILE...

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

fn push(agent: &str, n: usize, observations: usize) -> Vec<u8> {
    let items: Vec<serde_json::Value> = (0..observations)
        .map(|i| {
            serde_json::json!({
                "image": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                "buildId": "0123456789abcdef0123456789abcdef01234567",
                "function": format!("function_{i}"),
                "windowStart": 1_796_083_200 + 60 * (n as i64 % 60),
                "selfSamples": 1, "totalSamples": 3, "calls": 0,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schema": "stella.fleet.push/v1",
        "batch": format!("{agent}-{n}"),
        "agent": agent,
        "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:01:00Z",
                   "sampledSeconds": 60.0},
        "windowSeconds": 60,
        "observations": items,
    }))
    .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        panic!("usage: push_load URL PUSHES OBSERVATIONS AGENT=TOKEN_FILE...");
    }
    let url = format!("{}/api/v1/push", args[1].trim_end_matches('/'));
    let pushes: usize = args[2].parse().unwrap();
    let observations: usize = args[3].parse().unwrap();
    let agents: Vec<(String, String)> = args[4..]
        .iter()
        .map(|a| {
            let (name, file) = a.split_once('=').unwrap();
            (
                name.to_owned(),
                std::fs::read_to_string(file).unwrap().trim().to_owned(),
            )
        })
        .collect();
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = agents
            .iter()
            .map(|(name, token)| {
                let url = &url;
                scope.spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let mut seen = Vec::with_capacity(pushes);
                    for n in 0..pushes {
                        let body = push(name, n, observations);
                        let t = Instant::now();
                        let response = http
                            .post(url)
                            .bearer_auth(token)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .unwrap();
                        assert!(response.status().is_success(), "{}", response.status());
                        seen.push(t.elapsed());
                    }
                    seen
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut sorted = latencies;
    sorted.sort();
    let at =
        |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
    let total = sorted.len();
    println!(
        "{} agents x {pushes} pushes x {observations} observations: {elapsed:.2} s, {:.0} pushes/s, {:.0} observations/s, latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        agents.len(),
        total as f64 / elapsed,
        (total * observations) as f64 / elapsed,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}
