//! `stella record`, `stella witness` and `stella symbolize` end to end, on real processes built
//! here from C with gcc, sampled with eBPF as root (CI runs as root; without root these tests
//! fail and say why). Peers: `perf record` / `perf script` name the same addresses as Stella;
//! the symbol bundle `stella scan` attaches names a stripped binary's frames.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("DEBUGINFOD_URLS")
        .env("STELLA_HOME", home);
    cmd
}

fn require_root(test: &str) {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    assert!(
        root,
        "{test}: needs root (CAP_BPF and CAP_PERFMON) to load eBPF programs; run the tests as root"
    );
}

/// Builds `tests/programs/hot.c` of stella-runtime with gcc.
fn hot_binary(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../stella-runtime/tests/programs/hot.c");
    let out = dir.join(name);
    let status = std::process::Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(source)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    out
}

/// Runs `cmd`, which must succeed, and returns its stdout as text.
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).expect("UTF-8 on stdout")
}

/// Runs `cmd`, which must succeed, and parses its stdout as JSON.
fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("JSON on stdout")
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(binary: &Path, args: &[&str]) -> Running {
    let child = std::process::Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("the test program starts");
    std::thread::sleep(std::time::Duration::from_millis(200));
    Running(child)
}

#[test]
fn record_writes_collapsed_stacks_and_json_with_the_hot_function_on_top() {
    require_root("record");
    let dir = tempfile::tempdir().unwrap();
    let binary = hot_binary(dir.path(), "hot", &["-O2", "-g", "-fno-omit-frame-pointer"]);
    let child = spawn(&binary, &["30"]);
    let pid = child.0.id().to_string();

    // By default, lines a flame graph tool takes as is: one frame per function, no offsets.
    let folded = stdout_of(stella(dir.path()).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "1s",
        "--hz",
        "99",
    ]));
    let top = folded.lines().next().expect("at least one stack");
    assert!(top.starts_with("hot;"), "{top}");
    assert!(
        top.contains(";main;") && !top.contains("+0x") && !top.contains("buildid="),
        "{top}"
    );
    let (stack, count) = top.rsplit_once(' ').expect("a count");
    assert!(stack.ends_with(";hot_loop"), "{top}");
    assert!(count.parse::<u64>().is_ok_and(|c| c > 0), "{top}");

    // With --offsets, Stella's canonical lines: BuildIDs and offsets into each function.
    let text = stdout_of(stella(dir.path()).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "2s",
        "--hz",
        "99",
        "--offsets",
    ]));
    let top = text.lines().next().expect("at least one stack");
    assert!(top.starts_with("hot;"), "{top}");
    assert!(top.contains(";main+0x"), "{top}");
    let (_, leaf) = top.rsplit_once(';').unwrap();
    assert!(leaf.starts_with("hot_loop+0x"), "{top}");
    let build_id = stella_runtime::procmaps::read_build_id(&binary).unwrap();
    assert!(top.contains(&format!("buildid={build_id};")), "{top}");

    let profile_path = dir.path().join("profile.json");
    stella(dir.path())
        .args(["record", "--pid", &pid, "--duration", "2s", "--json", "-o"])
        .arg(&profile_path)
        .assert()
        .success();
    let profile: Value = serde_json::from_slice(&std::fs::read(&profile_path).unwrap()).unwrap();
    assert_eq!(profile["schema"], "stella.runtime.profile/v1");
    assert_eq!(profile["backend"], "ebpf");
    assert_eq!(profile["hz"], 49);
    assert_eq!(
        profile["target"]["pids"][0].as_u64(),
        Some(child.0.id().into())
    );
    assert!(profile["window"]["start"].as_str().unwrap().ends_with('Z'));
    assert!(profile["stats"]["samples"].as_u64().unwrap() > 10);
    let leaf = &profile["stacks"][0]["frames"][0];
    assert_eq!(leaf["kind"], "file");
    assert_eq!(leaf["buildId"], build_id.as_str());
    assert_eq!(leaf["symbol"]["function"], "hot_loop");
    assert_eq!(leaf["symbol"]["source"], "file");

    // Raw frames from that JSON, named again by `stella symbolize`.
    let raw = format!("{} {}\n", build_id, leaf["fileOffset"].as_str().unwrap());
    let frames = json_of(
        stella(dir.path())
            .args(["symbolize", "--json", "--format", "raw", "-"])
            .write_stdin(raw.clone()),
    );
    // No path in a raw frame and the binary is nowhere known by BuildID: unknown, kept.
    assert_eq!(frames["schema"], "stella.symbolize/v1");
    let frames = &frames["frames"];
    assert_eq!(frames[0]["buildId"], build_id.as_str());
    assert!(frames[0].get("symbol").is_none(), "{frames}");

    // A flame graph: one box per function (no offsets), hot_loop on main, as inferno draws it.
    let svg = stdout_of(stella(dir.path()).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "1s",
        "--format",
        "svg",
    ]));
    assert!(
        svg.contains("<svg") && svg.contains("stella record"),
        "{svg}"
    );
    assert!(
        svg.contains("<title>hot_loop (") && svg.contains("<title>main ("),
        "{svg}"
    );
    assert!(!svg.contains("hot_loop+0x"), "{svg}");
    // A browser renders it: its script ran, the boxes are there with their names.
    match crate::report::chromium() {
        Some(browser) => {
            let file = dir.path().join("record.svg");
            std::fs::write(&file, &svg).expect("write");
            let dom = std::process::Command::new(browser)
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                .arg(format!("file://{}", file.display()))
                .output()
                .expect("chromium runs");
            let dom = String::from_utf8_lossy(&dom.stdout);
            assert!(
                dom.contains("<svg") && dom.contains("hot_loop ("),
                "the flame graph as Chromium holds it: {dom}"
            );
        }
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true") && !stella_testkit::peers_required(),
                "chromium is not installed: the flame graph was not rendered"
            );
            stella_testkit::skip("record svg", "chromium is not installed");
        }
    }
    stella(dir.path())
        .args(["record", "--pid", &pid, "--format", "svg", "--json"])
        .assert()
        .code(2);

    // pprof, read back by Go's own pprof (Debian's golang-go): the hot function, its binary by
    // BuildID, samples and CPU time.
    let pprof = dir.path().join("profile.pb.gz");
    stella(dir.path())
        .args([
            "record",
            "--pid",
            &pid,
            "--duration",
            "1s",
            "--format",
            "pprof",
            "-o",
        ])
        .arg(&pprof)
        .assert()
        .success();
    match std::process::Command::new("go")
        .args(["tool", "pprof", "-raw"])
        .arg(&pprof)
        .output()
    {
        Ok(out) if out.status.success() => {
            let raw = String::from_utf8_lossy(&out.stdout);
            assert!(raw.contains("hot_loop"), "{raw}");
            assert!(raw.contains(&build_id.to_string()), "{raw}");
            assert!(raw.contains("samples/count cpu/nanoseconds"), "{raw}");
        }
        Ok(out) => panic!(
            "go tool pprof refused the profile: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => stella_testkit::skip("record pprof", &format!("go is not installed: {e}")),
    }
    // And read back by Stella wherever stacks come in: the same hot function on top.
    let back = json_of(stella(dir.path()).args(["symbolize", "--json"]).arg(&pprof));
    assert_eq!(back["backend"], "pprof", "{back}");
    assert_eq!(
        back["stacks"][0]["frames"][0]["symbol"]["function"], "hot_loop",
        "{back}"
    );
    assert_eq!(back["stacks"][0]["frames"][0]["buildId"], build_id.as_str());
    // A pprof whose string table is cut short is named, not guessed at.
    let mut damaged = std::fs::read(&pprof).expect("read");
    damaged.truncate(damaged.len() / 2);
    let damaged_path = dir.path().join("damaged.pb.gz");
    std::fs::write(&damaged_path, &damaged).expect("write");
    stella(dir.path())
        .args(["symbolize", "--json"])
        .arg(&damaged_path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("damaged.pb.gz"));
}

#[test]
fn record_refuses_bad_usage_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["record"][..],
        &["record", "--pid", "1", "--all"],
        &["record", "--all", "--hz", "0"],
        &["record", "--all", "--duration", "soon"],
        &["record", "--all", "--duty", "60s/10s"],
        &["record", "--all", "--image-digest", "nope"],
        &["record", "--all", "--symbols", "/nonexistent/bundle.tar"],
        &["witness", "--binary", "/bin/true"],
        &["symbolize", "/nonexistent/frames.txt"],
    ] {
        stella(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("panicked").not());
    }
    // Malformed input names the line.
    stella(dir.path())
        .args(["symbolize", "--format", "raw", "-"])
        .write_stdin("abcdef0123456789 0x10\nnot a frame\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-:2:"));
    // A process that is not there is bad input (exit 2), not a failing environment.
    for command in ["record", "witness"] {
        let mut cmd = stella(dir.path());
        cmd.args([command, "--pid", "999999999", "--duration", "1s"]);
        if command == "witness" {
            let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../stella-binary/tests/fuzz-regressions/seed-x86_64.elf");
            cmd.arg("--binary").arg(seed).args(["--symbol", "entry"]);
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains("--pid 999999999: no such process"));
    }
}

#[test]
fn witness_counts_every_call_and_prints_one_object_per_symbol() {
    require_root("witness");
    let dir = tempfile::tempdir().unwrap();
    let binary = hot_binary(dir.path(), "hot", &["-O2", "-g"]);
    // The program calls vuln_parse 777 times once told to, and is told once stella says (with
    // -v) that the probes are attached: no call can fall before the watch begins.
    let mut child = Running(
        std::process::Command::new(&binary)
            .args(["3", "777", "-1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the test program starts"),
    );
    let mut watcher = std::process::Command::new(assert_cmd::cargo::cargo_bin("stella"))
        .env_remove("STELLA_LOG")
        .env_remove("DEBUGINFOD_URLS")
        .env("STELLA_HOME", dir.path())
        .args(["-v", "witness", "--binary"])
        .arg(&binary)
        .args([
            "--symbol",
            "vuln_parse",
            "--symbol",
            "hot_loop",
            "--pid",
            &child.0.id().to_string(),
            "--duration",
            "3s",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stella starts");
    let stderr = watcher.stderr.take().unwrap();
    let (attached, told) = std::sync::mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.contains("probes attached") {
                let _ = attached.send(());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    let said = told.recv_timeout(std::time::Duration::from_secs(60));
    std::io::Write::write_all(&mut child.0.stdin.take().unwrap(), b"\n").unwrap();
    let output = watcher.wait_with_output().unwrap();
    let log = log.join().unwrap();
    assert!(
        said.is_ok(),
        "stella never said the probes were attached:\n{log}"
    );
    assert!(output.status.success(), "{log}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let objects = report.as_array().expect("an array, one object per symbol");
    assert_eq!(objects.len(), 2);
    let vuln = &objects[0];
    assert_eq!(vuln["symbol"], "vuln_parse");
    assert_eq!(vuln["calls"], 777);
    assert_eq!(vuln["binary"], binary.to_str().unwrap());
    assert_eq!(
        vuln["buildId"].as_str(),
        stella_runtime::procmaps::read_build_id(&binary).as_deref()
    );
    assert_eq!(vuln["instances"][0].as_u64(), Some(child.0.id().into()));
    // The caller of the first calls, named.
    let caller = &vuln["stacks"][0]["frames"][1]["symbol"]["function"];
    assert_eq!(caller, "main", "{vuln}");
    assert!(objects[1]["calls"].as_u64().unwrap() > 0);
}

/// perf's names for the frames of `binary` in `perf script` output, in order.
fn perf_names(script: &str, binary: &str) -> Vec<String> {
    script
        .lines()
        .filter(|l| {
            l.starts_with(char::is_whitespace) && l.trim_end().ends_with(&format!("({binary})"))
        })
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|s| s.rsplit_once("+0x").map_or(s, |(n, _)| n).to_string())
        .collect()
}

#[test]
fn perf_script_addresses_get_the_names_perf_gave_them() {
    require_root("perf script");
    let dir = tempfile::tempdir().unwrap();
    let binary = hot_binary(dir.path(), "hot", &["-O2", "-g", "-fno-omit-frame-pointer"]);
    let data = dir.path().join("perf.data");
    let status = std::process::Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-F", "499", "-g", "-o"])
        .arg(&data)
        .arg("--")
        .arg(&binary)
        .arg("2")
        .stdout(Stdio::null())
        .status()
        .expect("perf is installed (apt-get install linux-perf)");
    assert!(status.success());
    let script = std::process::Command::new("perf")
        .args(["script", "--show-mmap-events", "-i"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(script.status.success());
    let script = String::from_utf8(script.stdout).unwrap();
    let theirs = perf_names(&script, binary.to_str().unwrap());
    // On an idle CPU about 2,000 frames; tests share the CPUs, so ask for far fewer.
    assert!(theirs.len() > 30, "perf saw {} frames", theirs.len());

    let profile = json_of(
        stella(dir.path())
            .args(["symbolize", "--json", "-"])
            .write_stdin(script.clone()),
    );
    assert_eq!(profile["backend"], "perf-script");
    // Every frame of the binary: Stella named it from (BuildID, file offset), as perf did.
    let mut ours = std::collections::BTreeMap::<String, u64>::new();
    let mut compared = 0u64;
    for stack in profile["stacks"].as_array().unwrap() {
        let count = stack["count"].as_u64().unwrap();
        for frame in stack["frames"].as_array().unwrap() {
            if frame["path"] != binary.to_str().unwrap() {
                continue;
            }
            assert_eq!(frame["kind"], "file", "{frame}");
            let name = frame["symbol"]["function"].as_str().unwrap_or("[unknown]");
            *ours.entry(name.to_string()).or_default() += count;
            compared += count;
        }
    }
    let mut theirs_count = std::collections::BTreeMap::<String, u64>::new();
    for name in &theirs {
        *theirs_count.entry(name.clone()).or_default() += 1;
    }
    assert_eq!(compared, theirs.len() as u64);
    assert_eq!(ours, theirs_count, "Stella's names differ from perf's");
}

#[test]
fn a_stripped_binary_is_named_from_the_symbol_bundle_scan_attached() {
    require_root("symbol bundle");
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("bin")).unwrap();
    let binary = hot_binary(&app.join("bin"), "hot", &["-O2", "-fno-omit-frame-pointer"]);
    let home = dir.path().join("home");
    stella(&home)
        .env("STELLA_PASSWORD", "runtime-tests")
        .args(["scan", "-q"])
        .arg(&app)
        .assert()
        .success();
    // What runs is a stripped copy: same code, same BuildID, no symbol table.
    let stripped = dir.path().join("hot-stripped");
    let status = std::process::Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(&binary)
        .status()
        .unwrap();
    assert!(status.success());
    let child = spawn(&stripped, &["4"]);
    let pid = child.0.id().to_string();
    let without = stdout_of(stella(&home).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "1s",
        "--hz",
        "99",
        "--offsets",
    ]));
    assert!(!without.contains("hot_loop"), "{without}");
    assert!(without.contains("[unknown]+0x"), "{without}");
    // Folded, an unnamed frame is one readable frame per binary.
    let unnamed = stdout_of(
        stella(&home)
            .args(["symbolize", "-"])
            .write_stdin(without.clone()),
    );
    assert!(
        unnamed.contains("[unknown in buildid=") && !unnamed.contains("+0x"),
        "{unnamed}"
    );

    // The same raw frames, named by the image's bundle (stripped hosts carry no symbols).
    let named = stdout_of(
        stella(&home)
            .args([
                "symbolize",
                "--offsets",
                "--symbols",
                "oci-layout:home/oci:app",
                "-",
            ])
            .current_dir(dir.path())
            .write_stdin(without.clone()),
    );
    let top = named.lines().next().unwrap();
    assert!(
        top.contains(";main+0x") && top.contains(";hot_loop+0x"),
        "{top}"
    );
    // Without --offsets: the folded lines, the same frames by name.
    let folded = stdout_of(
        stella(&home)
            .args(["symbolize", "--symbols", "oci-layout:home/oci:app", "-"])
            .current_dir(dir.path())
            .write_stdin(without.clone()),
    );
    let top = folded.lines().next().unwrap();
    assert!(
        top.contains(";main;hot_loop ") && !top.contains("+0x"),
        "{top}"
    );
    // An image without a bundle is refused with the reason.
    stella(&home)
        .args([
            "symbolize",
            "--symbols",
            "oci-layout:home/oci:nothing-here",
            "-",
        ])
        .current_dir(dir.path())
        .write_stdin(without)
        .assert()
        .code(2);
}

#[test]
fn the_perf_event_backend_sees_what_ebpf_sees_and_a_duty_cycle_samples_part_of_the_time() {
    require_root("perf-event backend");
    let dir = tempfile::tempdir().unwrap();
    let binary = hot_binary(dir.path(), "hot", &["-O2", "-fno-omit-frame-pointer"]);
    let child = spawn(&binary, &["9"]);
    let pid = child.0.id().to_string();
    let mut leaves = Vec::new();
    for backend in ["ebpf", "perf-event"] {
        let profile = json_of(
            stella(dir.path())
                .args([
                    "record",
                    "--backend",
                    backend,
                    "--pid",
                    &pid,
                    "--duration",
                    "2s",
                ])
                .args(["--hz", "99", "--json"]),
        );
        assert_eq!(profile["backend"], backend);
        let stacks = profile["stacks"].as_array().unwrap();
        let total: u64 = stacks.iter().map(|s| s["count"].as_u64().unwrap()).sum();
        let hot: u64 = stacks
            .iter()
            .filter(|s| s["frames"][0]["symbol"]["function"] == "hot_loop")
            .map(|s| s["count"].as_u64().unwrap())
            .sum();
        assert!(total > 20, "{backend}: {total} samples");
        assert!(
            hot * 100 >= total * 95,
            "{backend}: hot_loop leaf in {hot} of {total}"
        );
        leaves.push(stacks[0]["frames"][0]["buildId"].clone());
    }
    assert_eq!(leaves[0], leaves[1]);

    // 300 ms out of every second, for 2 s: about 0.6 s sampled.
    let profile = json_of(stella(dir.path()).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "2s",
        "--duty",
        "300ms/1s",
        "--json",
    ]));
    let sampled = profile["window"]["sampledSeconds"].as_f64().unwrap();
    assert!((0.4..1.2).contains(&sampled), "sampled {sampled} s");
}

#[test]
fn jit_frames_are_named_from_the_perf_map_node_writes() {
    require_root("JIT frames");
    let dir = tempfile::tempdir().unwrap();
    let script = "function hotJs(){let s=0; for(let i=0;i<1e7;i++) s+=i*i; return s;} \
                  const end=Date.now()+6000; while(Date.now()<end) hotJs();";
    let child = std::process::Command::new("node")
        .args(["--perf-basic-prof", "-e", script])
        // V8 may write an isolate log into its working directory.
        .current_dir(dir.path())
        .spawn()
        .expect("node is installed");
    let child = Running(child);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let profile = json_of(
        stella(dir.path())
            .args([
                "record",
                "--pid",
                &child.0.id().to_string(),
                "--duration",
                "2s",
            ])
            .args(["--hz", "99", "--json"]),
    );
    let stacks = profile["stacks"].as_array().unwrap();
    let total: u64 = stacks.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    let in_js: u64 = stacks
        .iter()
        .filter(|s| {
            let leaf = &s["frames"][0];
            leaf["kind"] == "anonymous"
                && leaf["symbol"]["source"] == "perf-map"
                && leaf["symbol"]["function"]
                    .as_str()
                    .is_some_and(|f| f.contains("hotJs"))
        })
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert!(
        in_js * 2 > total,
        "hotJs (from /tmp/perf-PID.map) is the leaf of {in_js} of {total} samples"
    );
}

#[test]
fn vdso_frames_carry_the_vdso_build_id_and_are_named_from_its_image() {
    require_root("vDSO frames");
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("clock.c");
    std::fs::write(
        &source,
        "#include <time.h>\n\
         int main(void) { struct timespec t; long n = 0;\n\
         for (;;) { clock_gettime(CLOCK_MONOTONIC, &t); n += t.tv_nsec & 1; }\n\
         return (int)n; }\n",
    )
    .unwrap();
    let binary = dir.path().join("clock");
    let built = std::process::Command::new("gcc")
        .args(["-O2", "-fno-omit-frame-pointer", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("gcc runs");
    assert!(built.success());
    let host = stella_runtime::vdso::Vdso::host().expect("this process maps a readable vDSO");
    let vdso_id = host.build_id.clone().expect("the vDSO carries a BuildID");

    let child = spawn(&binary, &[]);
    let pid = child.0.id().to_string();
    let profile = json_of(stella(dir.path()).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "2s",
        "--hz",
        "99",
        "--json",
    ]));
    let stacks = profile["stacks"].as_array().unwrap();
    let total: u64 = stacks.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    let in_vdso: Vec<&Value> = stacks
        .iter()
        .flat_map(|s| s["frames"].as_array().unwrap())
        .filter(|f| f["path"] == "[vdso]")
        .collect();
    assert!(!in_vdso.is_empty(), "no [vdso] frame in {total} samples");
    for frame in &in_vdso {
        assert_eq!(frame["buildId"], vdso_id.as_str(), "{frame}");
        assert_eq!(frame["symbol"]["source"], "vdso", "{frame}");
        let function = frame["symbol"]["function"].as_str().unwrap();
        assert!(
            function.contains("clock_gettime"),
            "a vDSO frame named {function}: {frame}"
        );
    }

    // The collapsed form carries the vDSO's BuildID, and `stella symbolize` names its frames
    // from it again.
    let text = stdout_of(stella(dir.path()).args([
        "record",
        "--pid",
        &pid,
        "--duration",
        "2s",
        "--hz",
        "99",
        "--offsets",
    ]));
    let segment = format!("buildid={vdso_id};");
    assert!(text.contains(&segment), "{text}");
    let offset = in_vdso[0]["fileOffset"].as_str().unwrap();
    let named = json_of(
        stella(dir.path())
            .args(["symbolize", "--json", "--format", "raw", "-"])
            .write_stdin(format!("{vdso_id} {offset}\n")),
    );
    assert_eq!(named["frames"][0]["symbol"]["source"], "vdso", "{named}");
}

#[test]
fn without_the_capabilities_the_error_names_them_and_exits_3() {
    require_root("dropping privileges");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let open = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    };
    open(dir.path());
    open(&home);
    let binary = assert_cmd::cargo::cargo_bin("stella");
    let hot = hot_binary(dir.path(), "hot", &["-O2"]);
    let hot = hot.to_str().unwrap();
    for (args, needs) in [
        (
            &["record", "--all", "--duration", "1s"][..],
            "CAP_BPF and CAP_PERFMON",
        ),
        (
            &[
                "record",
                "--all",
                "--duration",
                "1s",
                "--backend",
                "perf-event",
            ],
            "CAP_PERFMON",
        ),
        (
            &[
                "witness",
                "--binary",
                hot,
                "--symbol",
                "vuln_parse",
                "--duration",
                "1s",
            ],
            "CAP_BPF and CAP_PERFMON",
        ),
    ] {
        // As `nobody`, with no capabilities.
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&binary)
            .args(args)
            .env("STELLA_HOME", &home)
            .output()
            .expect("setpriv (util-linux) runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(needs), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_process_that_never_maps_the_binary_is_no_instance_of_it() {
    require_root("witness");
    let dir = tempfile::tempdir().unwrap();
    let binary = hot_binary(dir.path(), "hot", &["-O2", "-g"]);
    // `sleep` never maps the hot binary: a zero from it would mean nothing.
    let other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep starts");
    let other = Running(other);
    let out = stella(dir.path())
        .args(["witness", "--binary"])
        .arg(&binary)
        .args([
            "--symbol",
            "vuln_parse",
            "--pid",
            &other.0.id().to_string(),
            "--duration",
            "1s",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report[0]["calls"], 0);
    assert_eq!(report[0]["instances"], serde_json::json!([]), "{report}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its counts cover nothing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
