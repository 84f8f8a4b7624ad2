//! The eBPF sampler against real processes: a C program built here with gcc and clang, with
//! and without frame pointers, sampled by pid and by cgroup. Runs as root (CI does); without
//! the privileges it fails loudly instead of passing.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use stella_binary::FuncProof;
use stella_binary::symbols::SymbolTable;
use stella_runtime::frame::Location;
use stella_runtime::procmaps::{MapsCache, read_build_id};
use stella_runtime::sampler::{RecordOptions, Selection, record};

use crate::common::{Running, build, require_root, wait_until_attached};

/// Options for a recording of `seconds` at `hz`.
fn options(selection: Selection, hz: u64, seconds: u64) -> RecordOptions {
    RecordOptions {
        selection,
        hz,
        duration: Duration::from_secs(seconds),
        duty: None,
        stop: Arc::new(AtomicBool::new(false)),
        attached: Arc::new(AtomicBool::new(false)),
    }
}

/// Share of samples of `pid` whose leaf frame lies in `function` of `binary`.
fn leaf_share(profile: &stella_runtime::profile::Profile, binary: &Path, function: &str) -> f64 {
    let data = std::fs::read(binary).unwrap();
    let proof = FuncProof::build(&data).unwrap();
    let table = SymbolTable::from_proof(&proof, &data).unwrap();
    let id = read_build_id(binary).unwrap();
    let (mut total, mut hits) = (0u64, 0u64);
    for stack in &profile.stacks {
        total += stack.count;
        let leaf = stack
            .frames
            .iter()
            .find(|f| !matches!(f.location, Location::Kernel { .. }));
        if let Some(Location::File {
            build_id: Some(b),
            file_offset,
            ..
        }) = leaf.map(|f| &f.location)
            && *b == id
            && table
                .lookup_file_offset(*file_offset)
                .is_some_and(|(e, _)| e.sym == function)
        {
            hits += stack.count;
        }
    }
    assert!(total > 0, "no samples at all");
    hits as f64 / total as f64
}

#[test]
fn a_hot_function_is_the_leaf_of_nearly_every_sample_for_gcc_and_clang_binaries() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    for (compiler, flags, name) in [
        (
            "gcc",
            &["-O2", "-g", "-fno-omit-frame-pointer"][..],
            "hot-gcc-fp",
        ),
        (
            "clang",
            &["-O2", "-g", "-fno-omit-frame-pointer"][..],
            "hot-clang-fp",
        ),
        ("gcc", &["-O2", "-fomit-frame-pointer"][..], "hot-gcc-nofp"),
    ] {
        let binary = build(dir.path(), compiler, flags, name);
        let child = Running(Command::new(&binary).arg("4").spawn().unwrap());
        std::thread::sleep(Duration::from_millis(200));
        let mut maps = MapsCache::new();
        let profile = record(
            &options(Selection::Pids(vec![child.0.id()]), 199, 2),
            &mut maps,
        )
        .unwrap_or_else(|e| panic!("recording {name}: {e}"));
        // Only the target process was sampled.
        assert!(profile.stacks.iter().all(|s| s.pid == Some(child.0.id())));
        // 2 s at 199 Hz is ~400 samples on an idle CPU; tests share the CPUs.
        assert!(profile.stats.samples >= 50, "{name}: {:?}", profile.stats);
        let share = leaf_share(&profile, &binary, "hot_loop");
        eprintln!(
            "{name}: {} samples, hot_loop leaf share {share:.3}",
            profile.stats.samples
        );
        assert!(
            share >= 0.95,
            "{name}: hot_loop was the leaf of only {share:.3} of samples"
        );
        // With frame pointers, the caller chain is there: main below work below hot_loop.
        if flags.contains(&"-fno-omit-frame-pointer") {
            let data = std::fs::read(&binary).unwrap();
            let proof = FuncProof::build(&data).unwrap();
            let table = SymbolTable::from_proof(&proof, &data).unwrap();
            let top = &profile.stacks[0];
            let names: Vec<String> = top
                .frames
                .iter()
                .filter_map(|f| match &f.location {
                    Location::File { file_offset, .. } => table
                        .lookup_file_offset(*file_offset)
                        .map(|(e, _)| e.sym.clone()),
                    _ => None,
                })
                .collect();
            let main = names.iter().position(|n| n == "main");
            let hot = names.iter().position(|n| n == "hot_loop");
            assert!(
                matches!((hot, main), (Some(h), Some(m)) if h < m),
                "{name}: top stack {names:?}"
            );
        }
    }
}

#[test]
fn a_rust_binary_is_sampled_to_its_mangled_hot_function() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("hot-rs");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/hot.rs");
    let status = Command::new("rustc")
        .args(["-O", "-C", "force-frame-pointers=yes", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("rustc runs");
    assert!(status.success());
    let child = Running(Command::new(&binary).arg("4").spawn().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let profile = record(
        &options(Selection::Pids(vec![child.0.id()]), 199, 2),
        &mut MapsCache::new(),
    )
    .unwrap();
    // The symbol table holds the mangled name (`_ZN6hot_rs8hot_loop17h…E`).
    let data = std::fs::read(&binary).unwrap();
    let proof = FuncProof::build(&data).unwrap();
    let mangled = proof
        .functions
        .iter()
        .find(|f| f.sym.contains("hot_loop"))
        .map(|f| f.sym.clone())
        .expect("hot_loop is in the symbol table");
    let share = leaf_share(&profile, &binary, &mangled);
    assert!(
        share >= 0.95,
        "{mangled} was the leaf of only {share:.3} of samples"
    );
}

#[test]
fn a_cgroup_selects_its_processes_and_only_them() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let binary = build(
        dir.path(),
        "gcc",
        &["-O2", "-fno-omit-frame-pointer"],
        "hot-cg",
    );
    let root = stella_runtime::sampler::cgroup2_root().expect("a cgroup v2 hierarchy is mounted");
    let cgroup = format!("{root}/stella-test-{}", std::process::id());
    std::fs::create_dir(&cgroup).unwrap_or_else(|e| panic!("cgroup v2 at {cgroup}: {e}"));
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _remove = Remove(cgroup.clone());
    let inside = Running(Command::new(&binary).arg("4").spawn().unwrap());
    let outside = Running(Command::new(&binary).arg("4").spawn().unwrap());
    std::fs::write(format!("{cgroup}/cgroup.procs"), inside.0.id().to_string()).unwrap();
    let profile = record(
        &options(Selection::Cgroup(cgroup.clone()), 99, 2),
        &mut MapsCache::new(),
    )
    .unwrap();
    let pids: std::collections::BTreeSet<_> = profile.stacks.iter().filter_map(|s| s.pid).collect();
    assert!(pids.contains(&inside.0.id()), "{pids:?}");
    assert!(!pids.contains(&outside.0.id()), "{pids:?}");
    drop(inside);
    drop(outside);
}

#[test]
fn a_process_that_exits_during_the_recording_keeps_its_build_id_frames() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let binary = build(
        dir.path(),
        "gcc",
        &["-O2", "-fno-omit-frame-pointer"],
        "hot-short",
    );
    let options = options(Selection::All, 99, 5);
    let attached = Arc::clone(&options.attached);
    let handle = std::thread::spawn(move || record(&options, &mut MapsCache::new()));
    // Started once the sampler runs; gone well before the recording ends.
    wait_until_attached(&attached);
    let mut child = Command::new(&binary).arg("1").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let profile = handle.join().unwrap().unwrap();
    let id = read_build_id(&binary).unwrap();
    let mine: Vec<_> = profile
        .stacks
        .iter()
        .filter(|s| s.pid == Some(pid))
        .collect();
    assert!(!mine.is_empty(), "the exited process left no samples");
    assert!(
        mine.iter()
            .any(|s| s.frames.iter().any(|f| f.build_id() == Some(id.as_str()))),
        "no frame carries the exited binary's BuildID"
    );
    assert!(profile.stats.samples > 0);
}
