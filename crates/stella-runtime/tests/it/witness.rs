//! Uprobe witnesses against real processes: every call counted exactly, per process, with
//! the caller's stack; a zero count says which window and instances it covers. Runs as root.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use stella_runtime::frame::Location;
use stella_runtime::procmaps::{MapsCache, read_build_id};
use stella_runtime::witness::{WitnessOptions, watch};

use crate::common::{build, require_root, wait_until_attached};

fn options(binary: &Path, symbols: &[&str], pid: Option<u32>, seconds: u64) -> WitnessOptions {
    WitnessOptions {
        binary: binary.to_path_buf(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        pid,
        duration: Duration::from_secs(seconds),
        stacks_per_symbol: 4,
        stop: Arc::new(AtomicBool::new(false)),
        attached: Arc::new(AtomicBool::new(false)),
    }
}

#[test]
fn every_call_is_counted_with_its_callers_and_a_zero_names_its_instances() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    for compiler in ["gcc", "clang"] {
        let binary = build(
            dir.path(),
            compiler,
            &["-O2", "-g"],
            &format!("hot-{compiler}"),
        );
        let opts = options(&binary, &["vuln_parse", "hot_*"], None, 4);
        let attached = Arc::clone(&opts.attached);
        let handle = std::thread::spawn(move || watch(&opts, &mut MapsCache::new()));
        wait_until_attached(&attached);
        // 12,345 calls of vuln_parse, then one second in hot_loop.
        let output = Command::new(&binary).args(["1", "12345"]).output().unwrap();
        assert!(output.status.success());
        let report = handle
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("{compiler}: {e}"));
        let vuln = &report.witnesses[0];
        assert_eq!(vuln.function, "vuln_parse");
        assert_eq!(vuln.calls, 12_345, "{compiler}: {vuln:?}");
        assert_eq!(vuln.processes.len(), 1);
        assert_eq!(vuln.build_id, read_build_id(&binary));
        assert_eq!(report.lost, 0);
        // The kept stacks start at the probed function and have main among the callers.
        assert!(!vuln.stacks.is_empty());
        let stack = &vuln.stacks[0];
        assert!(matches!(
            stack.frames[0].location,
            Location::File { file_offset, .. } if file_offset == vuln.file_offset
        ));
        assert!(stack.frames.len() >= 2, "{stack:?}");
        let data = std::fs::read(&binary).unwrap();
        let proof = stella_binary::FuncProof::build(&data).unwrap();
        let table = stella_binary::SymbolTable::from_proof(&proof, &data).unwrap();
        assert!(
            matches!(&stack.frames[1].location, Location::File { file_offset, .. }
                if table.lookup_file_offset(*file_offset).is_some_and(|(e, _)| e.sym == "main")),
            "{compiler}: the caller is not main: {stack:?}"
        );
        let hot = &report.witnesses[1];
        assert_eq!(hot.function, "hot_loop");
        assert!(hot.calls > 0);
        assert!(report.instances.contains(&vuln.processes[0].pid));
    }
}

#[test]
fn a_pid_scope_counts_only_that_process_and_reports_zero_for_an_uncalled_function() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path(), "gcc", &["-O2", "-g"], "hot-pid");
    // Both call vuln_parse 100 times once told to, after the probes are attached.
    let waiting = || {
        Command::new(&binary)
            .args(["2", "100", "-1"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut watched = waiting();
    let mut other = waiting();
    let opts = options(&binary, &["vuln_parse", "work"], Some(watched.id()), 3);
    let attached = Arc::clone(&opts.attached);
    let handle = std::thread::spawn(move || watch(&opts, &mut MapsCache::new()));
    wait_until_attached(&attached);
    for child in [&mut watched, &mut other] {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    let report = handle.join().unwrap().unwrap();
    watched.wait().unwrap();
    other.wait().unwrap();
    assert_eq!(report.pid, Some(watched.id()));
    assert_eq!(report.instances, vec![watched.id()]);
    assert_eq!(report.witnesses[0].calls, 100);
    assert!(
        report.witnesses[0]
            .processes
            .iter()
            .all(|p| p.pid == watched.id())
    );

    // A function never called in the window: an exact zero over the named instances.
    let mut idle = Command::new(&binary).args(["2", "0"]).spawn().unwrap();
    let report = watch(
        &options(&binary, &["vuln_parse"], None, 1),
        &mut MapsCache::new(),
    )
    .unwrap();
    idle.wait().unwrap();
    assert_eq!(report.witnesses[0].calls, 0);
    assert!(
        report.instances.contains(&idle.id()),
        "{:?}",
        report.instances
    );
}

#[test]
fn unknown_or_ambiguous_symbols_are_refused_before_anything_is_attached() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path(), "gcc", &["-O2", "-g"], "hot-bad");
    let error = watch(
        &options(&binary, &["no_such_fn"], None, 1),
        &mut MapsCache::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("no function of that name"), "{error}");
    let error = watch(&options(&binary, &["*"], None, 1), &mut MapsCache::new())
        .unwrap_err()
        .to_string();
    assert!(error.contains("name one"), "{error}");
    let error = watch(
        &options(Path::new("/nonexistent"), &["f"], None, 1),
        &mut MapsCache::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("/nonexistent"), "{error}");
}
