//! `stella agent` for real (root, eBPF): agents each sampling their own busy process push to
//! `stella serve`; a server killed with SIGKILL in the middle and started again on the same
//! address — the agents keep what was not counted in their spools and deliver it, and the
//! server's index holds exactly the samples the agents recorded, none lost and none twice. On
//! SQLite with one server, and on PostgreSQL with eight agents and two replicas.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

use super::log_server::{Server, stella};

fn require_root(test: &str) {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    assert!(
        root,
        "{test}: needs root (CAP_BPF and CAP_PERFMON) to sample; run the tests as root"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(home: &Path, db: &str, port: u16) -> Server {
    let mut command = Process::new(env!("CARGO_BIN_EXE_stella"));
    command.env("STELLA_HOME", home).args([
        "serve",
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--db",
        db,
    ]);
    Server::spawn(command)
}

fn token(home: &Path, db: &str, args: &[&str]) -> std::path::PathBuf {
    let file = home.join(format!("{}.token", args.join("_").replace("--", "")));
    stella(home)
        .args(["serve", "token", "--db", db, "-o"])
        .arg(&file)
        .args(args)
        .assert()
        .success();
    file
}

struct Busy(Child);

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn busy() -> Busy {
    Busy(
        Process::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh runs"),
    )
}

fn agent(home: &Path, name: &str, port: u16, token: &Path, pid: u32, intervals: u32) -> Child {
    Process::new(env!("CARGO_BIN_EXE_stella"))
        .env("STELLA_HOME", home)
        .env_remove("STELLA_LOG")
        .args([
            "agent",
            "--json",
            "--name",
            name,
            "--interval",
            "1s",
            "--hz",
            "49",
        ])
        .args(["--server", &format!("http://127.0.0.1:{port}")])
        .arg("--token")
        .arg(token)
        .args([
            "--pid",
            &pid.to_string(),
            "--intervals",
            &intervals.to_string(),
        ])
        .arg("--spool")
        .arg(home.join(format!("spool-{name}")))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts")
}

/// Waits for `agent`; its delivered pushes (batch → self samples), whether it exited 0, and
/// how often a push stayed in its spool.
fn finish(agent: Child) -> (BTreeMap<String, u64>, bool, usize) {
    let out = agent.wait_with_output().expect("agent ends");
    let mut delivered = BTreeMap::new();
    let mut kept = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let event: Value = serde_json::from_str(line).expect("JSON lines");
        kept += usize::from(event["event"] == "kept");
        if event["event"] == "delivered" {
            delivered.insert(
                event["batch"].as_str().unwrap().to_owned(),
                event["selfSamples"].as_u64().unwrap(),
            );
        }
    }
    (delivered, out.status.success(), kept)
}

fn server_total(url: &str, reader: &Path) -> u64 {
    let token = std::fs::read_to_string(reader).unwrap();
    let rows: Value = Client::new()
        .get(format!("{url}/api/v1/hot-symbols"))
        .bearer_auth(token.trim())
        .send()
        .unwrap()
        .json()
        .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["selfSamples"].as_u64().unwrap())
        .sum()
}

/// `agents` agents spread over `replicas` servers on `db`; the first server is killed with
/// SIGKILL after two seconds and started again on its address once an agent has a push
/// waiting in its spool.
fn killed_and_restarted(db: &str, agents: usize, replicas: usize) {
    let home = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..replicas).map(|_| free_port()).collect();
    let mut servers: Vec<Option<Server>> = ports
        .iter()
        .map(|p| Some(serve(home.path(), db, *p)))
        .collect();
    let reader = token(home.path(), db, &["--read"]);
    let workloads: Vec<Busy> = (0..agents).map(|_| busy()).collect();
    let running: Vec<Child> = (0..agents)
        .map(|n| {
            let name = format!("node-{n}");
            let token = token(home.path(), db, &["--agent", &name]);
            agent(
                home.path(),
                &name,
                ports[n % replicas],
                &token,
                workloads[n].0.id(),
                5,
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let mut first = servers[0].take().unwrap();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(first);
    // Down until an agent of the killed server has a push waiting in its spool.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let waiting = |n: usize| {
        std::fs::read_dir(home.path().join(format!("spool-node-{n}")))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".push.json"))
            })
            .unwrap_or(false)
    };
    while !(0..agents).step_by(replicas).any(waiting) {
        assert!(
            std::time::Instant::now() < deadline,
            "no agent spooled a push"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    servers[0] = Some(serve(home.path(), db, ports[0]));

    let mut recorded = 0;
    let mut kept = 0;
    for (n, agent) in running.into_iter().enumerate() {
        let (delivered, ok, spooled) = finish(agent);
        kept += spooled;
        assert!(ok, "agent {n} left pushes in its spool");
        assert_eq!(
            delivered.len(),
            5,
            "agent {n}: every interval's push delivered"
        );
        recorded += delivered.values().sum::<u64>();
    }
    assert!(recorded > 0, "the busy processes were sampled");
    assert!(
        kept > 0,
        "a push waited in a spool while the server was down"
    );
    let url = servers[0].as_ref().unwrap().url.clone();
    assert_eq!(
        server_total(&url, &reader),
        recorded,
        "nothing lost, nothing twice"
    );
    for server in servers.into_iter().flatten() {
        assert!(server.stop().success());
    }
}

#[test]
fn agents_deliver_their_spools_to_a_server_killed_and_restarted() {
    require_root("agents_deliver_their_spools_to_a_server_killed_and_restarted");
    let dir = tempfile::tempdir().unwrap();
    killed_and_restarted(
        &format!("sqlite://{}", dir.path().join("fleet.db").display()),
        2,
        1,
    );
}

#[test]
fn on_postgresql_eight_agents_two_replicas_one_killed_and_restarted() {
    require_root("on_postgresql_eight_agents_two_replicas_one_killed_and_restarted");
    let dir = tempfile::tempdir().unwrap();
    match stella_testkit::postgres::Server::start(dir.path()) {
        Ok(pg) => killed_and_restarted(&pg.url, 8, 2),
        Err(why) => stella_testkit::skip(
            "on_postgresql_eight_agents_two_replicas_one_killed_and_restarted",
            &why,
        ),
    }
}
