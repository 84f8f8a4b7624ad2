//! `stella serve --store REF` reacting to pushes: a C program on the shared libz scanned into
//! an image, an advisory naming `inflateGetHeader`; pushes of observations (as agents send
//! them) re-decide the image's verdicts through the assessment flow. A push that shows only
//! other functions leaves libz `under_investigation`; one that shows `inflateGetHeader`
//! running flips it to `affected`, and the server signs, logs and attaches the VEX, the
//! evidence, the micro-witness and the fleet's profile to the image (which `stella verify
//! --image` then accepts, and `stella assess` finds), with the flip in the image's timeline.
//! Attacks: a function name the verified symbol table does not hold, and a BuildID the image
//! does not have, flip nothing.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use stella_testkit::skip;

use super::log_server::stella;

/// `stella serve`, its URL and everything it wrote on stderr.
struct Serving {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serving {
    fn start(home: &Path, extra: &[&str]) -> Serving {
        let mut child = Process::new(env!("CARGO_BIN_EXE_stella"))
            .env("STELLA_HOME", home)
            .env("STELLA_PASSWORD", super::log_server::PASSWORD)
            .env_remove("STELLA_LOG")
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("stella serve starts");
        let mut reader = BufReader::new(child.stderr.take().expect("stderr"));
        let mut banner = String::new();
        reader.read_line(&mut banner).expect("banner");
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {banner:?}"))
            .to_owned();
        let stderr = Arc::new(Mutex::new(banner));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Serving { child, url, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

fn token(home: &Path, args: &[&str]) -> String {
    let out = stella(home)
        .args(["serve", "token"])
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

fn push(http: &Client, url: &str, token: &str, batch: &str, observations: Value) {
    let body = json!({
        "schema": "stella.fleet.push/v1", "batch": batch, "agent": "node-a",
        "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:01:00Z",
                   "sampledSeconds": 60.0},
        "windowSeconds": 60, "observations": observations,
    });
    let response = http
        .post(format!("{url}/api/v1/push"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .expect("push answered");
    assert_eq!(response.status(), 200, "{:?}", response.text());
}

fn get(http: &Client, url: &str, token: &str, path: &str) -> Value {
    http.get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .expect("answered")
        .json()
        .expect("json")
}

/// `GET /api/v1/images/{digest}/{what}` with the read token.
fn image_api(http: &Client, url: &str, read: &str, digest: &str, what: &str) -> Value {
    get(http, url, read, &format!("/api/v1/images/{digest}/{what}"))
}

/// Waits until the timeline holds `want` entries of `kind` (a reaction finished).
fn wait_for(server: &Serving, http: &Client, read: &str, digest: &str, kind: &str, want: usize) {
    let start = Instant::now();
    loop {
        let timeline = get(
            http,
            &server.url,
            read,
            &format!("/api/v1/images/{digest}/timeline"),
        );
        let n = timeline
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == kind)
            .count();
        if n >= want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no {want} {kind} entries: {timeline:#}\nserver:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the server has finished `want` reactions (its metrics say so).
fn wait_for_reactions(server: &Serving, http: &Client, want: u64) {
    let start = Instant::now();
    loop {
        let metrics = http
            .get(format!("{}/metrics", server.url))
            .send()
            .and_then(reqwest::blocking::Response::text)
            .unwrap_or_default();
        let done: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("stella_reactions_total{outcome=\"done\"} "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(
            !metrics.contains("stella_reactions_total{outcome=\"failed\"} 1"),
            "a reaction failed:\n{}",
            server.stderr()
        );
        if done >= want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{done} reactions, not {want}:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn libz_verdict(verdicts: &Value, build_id: &str) -> Value {
    verdicts
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["buildId"] == build_id && v["vulnerability"] == "CVE-2099-0002")
        .cloned()
        .unwrap_or_else(|| panic!("no libz verdict: {verdicts:#}"))
}

fn observation(image: &str, build_id: &str, function: &str, total: u64) -> Value {
    json!({"image": image, "buildId": build_id, "function": function,
           "windowStart": 1_796_083_200, "selfSamples": total, "totalSamples": total,
           "calls": 0})
}

/// A scanned image of the zlib programs served with `--store`: the work directory, the
/// programs' root, the home, the image (as scan names it) and its digest, an agent's token (and
/// its file) and a read token. `None` (said loudly) when the programs cannot be built.
struct Fleet {
    work: tempfile::TempDir,
    root: std::path::PathBuf,
    home: std::path::PathBuf,
    image: String,
    digest: String,
    advisories: std::path::PathBuf,
    agent: String,
    agent_file: std::path::PathBuf,
    read: String,
    server: Serving,
}

impl Fleet {
    fn set_up(test: &str, advisory: &str, cve: &str) -> Option<Fleet> {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("zapps");
        if let Err(e) = super::assess_runtime::build_zlib_loop(work.path(), &root) {
            skip(test, &format!("cannot build the zlib programs: {e}"));
            return None;
        }
        let home = work.path().join("home");
        let scanned = stella(&home)
            .arg("scan")
            .arg(&root)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            scanned.status.success(),
            "{}",
            String::from_utf8_lossy(&scanned.stderr)
        );
        let scanned: Value = serde_json::from_slice(&scanned.stdout).unwrap();
        // The repository as scan names the image (its tag is replaced by each pushed digest).
        let image = scanned["image"].as_str().unwrap().to_owned();
        let digest = scanned["digest"].as_str().unwrap().to_owned();
        let advisories = super::assess::zlib_advisory(work.path(), advisory, &[cve]);
        let agent_file = work.path().join("node-a.token");
        let made = stella(&home)
            .args(["serve", "token", "--agent", "node-a", "-o"])
            .arg(&agent_file)
            .output()
            .unwrap();
        assert!(made.status.success());
        let agent = std::fs::read_to_string(&agent_file)
            .unwrap()
            .trim()
            .to_owned();
        let read = token(&home, &["--read"]);
        let server = Serving::start(
            &home,
            &[
                "--store",
                &image,
                "--advisories",
                advisories.to_str().unwrap(),
            ],
        );
        Some(Fleet {
            work,
            root,
            home,
            image,
            digest,
            advisories,
            agent,
            agent_file,
            read,
            server,
        })
    }
}

#[test]
fn a_push_that_shows_a_vulnerable_function_running_flips_the_verdict_and_attaches_signed_vex() {
    let test =
        "a_push_that_shows_a_vulnerable_function_running_flips_the_verdict_and_attaches_signed_vex";
    let Some(fleet) = Fleet::set_up(test, "TEST-ZLIB-3", "CVE-2099-0002") else {
        return;
    };
    let (home, image, digest, advisories) = (
        &fleet.home,
        fleet.image.as_str(),
        fleet.digest.as_str(),
        &fleet.advisories,
    );
    let (agent, read, server) = (&fleet.agent, &fleet.read, &fleet.server);
    // The verdict before any runtime evidence, and libz's BuildID.
    let before = stella(home)
        .args([
            "assess",
            "--image",
            image,
            "--format",
            "json",
            "--advisories",
        ])
        .arg(advisories)
        .output()
        .unwrap();
    let before: Value = serde_json::from_slice(&before.stdout).expect("assessment");
    let libz = before["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["binary"]["path"] == "/usr/lib/x86_64-linux-gnu/libz.so.1")
        .unwrap_or_else(|| panic!("no libz verdict: {before:#}"));
    assert_eq!(libz["status"], "under_investigation", "{libz:#}");
    let build_id = libz["binary"]["buildId"].as_str().unwrap().to_owned();

    let http = Client::new();
    let url = server.url.clone();

    // Other functions ran: the first verdicts are recorded, libz still under investigation.
    push(
        &http,
        &url,
        agent,
        "node-a-1",
        json!([observation(digest, &build_id, "inflate", 12)]),
    );
    wait_for(server, &http, read, digest, "attached", 1);
    let verdicts = image_api(&http, &url, read, digest, "verdicts");
    assert_eq!(
        libz_verdict(&verdicts, &build_id)["status"],
        "under_investigation"
    );

    // Attacks: a name the verified table of libz does not hold, and the vulnerable name under
    // a BuildID the image does not have, change nothing.
    push(
        &http,
        &url,
        agent,
        "node-a-2",
        json!([
            observation(digest, &build_id, "inflateGetHeader_", 50),
            observation(digest, "00ff00ff00ff", "inflateGetHeader", 50),
        ]),
    );
    wait_for_reactions(server, &http, 2);
    let verdicts = image_api(&http, &url, read, digest, "verdicts");
    assert_eq!(
        libz_verdict(&verdicts, &build_id)["status"],
        "under_investigation",
        "server:\n{}",
        server.stderr()
    );

    // The vulnerable function ran: affected, attached, in the timeline.
    push(
        &http,
        &url,
        agent,
        "node-a-3",
        json!([observation(digest, &build_id, "inflateGetHeader", 40)]),
    );
    wait_for(server, &http, read, digest, "attached", 2);
    let verdicts = image_api(&http, &url, read, digest, "verdicts");
    let flipped = libz_verdict(&verdicts, &build_id);
    assert_eq!(flipped["status"], "affected", "{verdicts:#}");
    let timeline = image_api(&http, &url, read, digest, "timeline");
    let summaries: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["summary"].as_str())
        .collect();
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("CVE-2099-0002") && s.contains("under_investigation -> affected")),
        "{timeline:#}"
    );
    let attached = timeline
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["kind"] == "attached")
        .unwrap();
    let documents: Value =
        serde_json::from_str(attached["document"].as_str().unwrap()).expect("document JSON");
    assert_eq!(
        documents["vex"].as_str().unwrap(),
        format!("sha256:{}", flipped["evidenceSha256"].as_str().unwrap())
    );
    assert_eq!(documents["microWitnesses"].as_array().unwrap().len(), 1);

    // The image is listed with its proven binaries.
    let images = get(&http, &url, read, "/api/v1/images");
    let listed = images
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["digest"] == digest)
        .unwrap_or_else(|| panic!("the image is not listed: {images:#}"));
    assert!(
        listed["binaries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["buildId"] == build_id.as_str() && b["funcproof"].is_string()),
        "{listed:#}"
    );

    let components = get(
        &http,
        &url,
        read,
        &format!("/api/v1/images/{digest}/components"),
    );
    assert!(
        components
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "headers-loop"),
        "{components:#}"
    );

    // The evidence report, live, with the timeline: read tokens only.
    let page = format!("{url}/images/{digest}");
    assert_eq!(http.get(&page).send().unwrap().status(), 401);
    assert_eq!(
        http.get(&page).bearer_auth(agent).send().unwrap().status(),
        403
    );
    let bad = http
        .get(format!("{url}/images/sha256:12"))
        .bearer_auth(read)
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    let shown = http.get(&page).bearer_auth(read).send().unwrap();
    assert_eq!(shown.status(), 200);
    assert!(
        shown.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = shown.text().unwrap();
    assert!(html.contains("id=\"timeline\""), "no timeline");
    assert!(
        html.contains("under_investigation -&gt; affected"),
        "no flip in the timeline"
    );
    assert!(html.contains("CVE-2099-0002"));
    // The fleet's frames in the flame graph: the vulnerable one named and marked; the name the
    // verified table does not hold is not shown.
    assert!(html.contains("stella-vulnerable"), "no marked frame");
    assert!(
        !html.contains("inflateGetHeader_"),
        "an unverified name is shown"
    );
    let saved = fleet.work.path().join("live.html");
    std::fs::write(&saved, &html).unwrap();
    match super::report::chromium() {
        Some(browser) => {
            let dom = Process::new(browser)
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                .arg(format!("file://{}", saved.display()))
                .output()
                .expect("chromium runs");
            let dom = String::from_utf8_lossy(&dom.stdout);
            assert!(
                dom.contains("class=\"timeline\""),
                "the timeline is not in the DOM"
            );
            assert!(
                dom.contains("under_investigation -&gt; affected"),
                "the flip is not in the DOM"
            );
        }
        None => {
            let why = "chromium is not installed (apt-get install chromium): the live report was not rendered";
            assert!(
                std::env::var("CI").as_deref() != Ok("true") && !stella_testkit::peers_required(),
                "{test}: {why}"
            );
            skip(test, why);
        }
    }

    // What the server attached verifies, and the CLI's assessment finds the fleet's profile.
    let verified = stella(home)
        .args(["verify", "--image", image])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let again = stella(home)
        .args([
            "assess",
            "--image",
            image,
            "--format",
            "json",
            "--advisories",
        ])
        .arg(advisories)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("runtime evidence attached to"), "{stderr}");
    let again: Value = serde_json::from_slice(&again.stdout).expect("assessment");
    let libz = again["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["binary"]["path"] == "/usr/lib/x86_64-linux-gnu/libz.so.1")
        .unwrap();
    assert_eq!(libz["status"], "affected", "{libz:#}");
    let referrers = stella(home)
        .args(["oci", "referrers", image, "--json"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&referrers.stdout);
    assert!(listed.contains("openvex"), "{listed}");

    // A push about an image the store does not hold: counted, its reaction fails (and says
    // so in the metrics and the log), nothing is recorded for it, and the server goes on.
    let stranger = format!("sha256:{}", "5".repeat(64));
    push(
        &http,
        &url,
        agent,
        "node-a-4",
        json!([observation(&stranger, &build_id, "inflateGetHeader", 9)]),
    );
    let start = Instant::now();
    let failed = loop {
        let metrics = http
            .get(format!("{url}/metrics"))
            .send()
            .and_then(reqwest::blocking::Response::text)
            .unwrap_or_default();
        if metrics.contains("stella_reactions_total{outcome=\"failed\"} 1") {
            break metrics;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no failed reaction:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        failed.contains("stella_pushes_total{outcome=\"counted\"} 4"),
        "{failed}"
    );
    assert!(server.stderr().contains(&stranger), "{}", server.stderr());
    let nothing = image_api(&http, &url, read, &stranger, "verdicts");
    assert_eq!(nothing, json!([]));
    assert_eq!(
        http.get(format!("{url}/healthz")).send().unwrap().status(),
        200
    );
}

/// `stella agent --watch-findings` (root: uprobes): after the server's first assessment of
/// the image, its watch list names `inflateGetHeader` in the image's libz; an agent that
/// samples only an idle process, so its samples cannot show the function, counts the calls
/// of a process looping on it with uprobes, and the push's calls flip the verdict to
/// `affected` with a witness report attached.
#[test]
fn an_agent_watching_findings_counts_the_calls_that_flip_the_verdict() {
    let test = "an_agent_watching_findings_counts_the_calls_that_flip_the_verdict";
    assert!(
        super::assess_runtime::is_root(),
        "{test}: needs root (uprobes); run the tests as root"
    );
    let Some(fleet) = Fleet::set_up(test, "TEST-ZLIB-4", "CVE-2099-0003") else {
        return;
    };
    let (home, root, digest) = (&fleet.home, &fleet.root, fleet.digest.clone());
    let (agent_token, token_file, read) = (&fleet.agent, &fleet.agent_file, &fleet.read);
    let server = &fleet.server;
    let http = Client::new();
    let url = server.url.clone();
    // The first assessment: what to watch.
    push(
        &http,
        &url,
        agent_token,
        "node-a-0",
        json!([observation(&digest, "00ff00ff00ff", "main", 1)]),
    );
    wait_for_reactions(server, &http, 1);
    let list = get(&http, &url, agent_token, "/api/v1/watch");
    let watched = list["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["function"] == "inflateGetHeader")
        .unwrap_or_else(|| panic!("inflateGetHeader is not watched: {list:#}"))
        .clone();
    assert_eq!(watched["image"], digest.as_str());
    assert_eq!(watched["path"], "/usr/lib/x86_64-linux-gnu/libz.so.1");
    assert_eq!(
        watched["vulnerabilities"],
        json!(["CVE-2099-0003"]),
        "{watched:#}"
    );
    assert_eq!(
        http.get(format!("{url}/api/v1/watch"))
            .bearer_auth(read)
            .send()
            .unwrap()
            .status(),
        403,
        "a read token is not an agent's"
    );

    let looping = super::assess_runtime::Running(
        Process::new(root.join("usr/bin/headers-loop"))
            .spawn()
            .expect("starts"),
    );
    let idle =
        super::assess_runtime::Running(Process::new("sleep").arg("60").spawn().expect("starts"));
    let agent = stella(home)
        .args(["agent", "--server", &url, "--token"])
        .arg(token_file)
        .args([
            "--name",
            "node-a",
            "--interval",
            "3s",
            "--intervals",
            "1",
            "--watch-findings",
            "--json",
            "--image-digest",
            &digest,
            "--pid",
            &idle.0.id().to_string(),
        ])
        .output()
        .unwrap();
    drop((looping, idle));
    assert!(
        agent.status.success(),
        "{}{}",
        String::from_utf8_lossy(&agent.stdout),
        String::from_utf8_lossy(&agent.stderr)
    );
    wait_for_reactions(server, &http, 2);
    let hot = get(
        &http,
        &url,
        read,
        &format!("/api/v1/hot-symbols?image={digest}&function=inflateGetHeader"),
    );
    let row = &hot[0];
    assert!(row["calls"].as_u64().is_some_and(|c| c > 10), "{hot:#}");
    assert_eq!(
        row["totalSamples"], 0,
        "the sampler saw only the idle process: {hot:#}"
    );
    let verdicts = image_api(&http, &url, read, &digest, "verdicts");
    let libz = verdicts
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["vulnerability"] == "CVE-2099-0003" && v["buildId"] == watched["buildId"])
        .unwrap_or_else(|| panic!("no libz verdict: {verdicts:#}"));
    assert_eq!(
        libz["status"],
        "affected",
        "{verdicts:#}\n{}",
        server.stderr()
    );
    let timeline = image_api(&http, &url, read, &digest, "timeline");
    let attached = timeline
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["kind"] == "attached")
        .unwrap();
    let documents: Value = serde_json::from_str(attached["document"].as_str().unwrap()).unwrap();
    assert!(documents["witnessReport"].is_string(), "{documents:#}");
}
