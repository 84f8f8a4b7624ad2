//! The VEX merge benchmark, as `bench/vex_merge.sh` runs it: `cargo run --release -p stella-vex
//! --example merge_bench -- DIR [RUNS]`, where DIR holds the OpenVEX documents
//! `bench/make_vex.py` writes.
//!
//! Every file is read into memory first (disk is not timed). Then, in one process:
//! 1. **stella** — read the documents ([`openvex::read_with`], the readers sharing their purl
//!    checks) on a worker thread and, while it waits, the calling thread, ahead of the merge, and add each to it in order
//!    ([`Merger::add`], so a few document models are held at a time), as `stella vex merge`
//!    does, under a policy that ranks two authors; finish the merge straight into the merged
//!    document's canonical bytes ([`Merger::finish_openvex`]: each statement written on another
//!    CPU and dropped as it is made). The peak resident set of this run, measured from `VmHWM`
//!    after resetting it through `/proc/self/clear_refs`, is compared with the input size (the
//!    input bytes themselves are part of it: nothing is subtracted);
//! 2. **serde_json** — parse the same bytes into `serde_json::Value`, file by file;
//! 3. the stella run again on the documents in a shuffled (seeded) order: the merged bytes must be
//!    identical.
//!
//! With `MERGE_BENCH_OUT=FILE` the merged document is also written to FILE.
//!
//! Each timed step runs RUNS times (default 3). The target is on the medians of wall-clock
//! time, the time a user waits; the CPU time of every thread of the process (`/proc/self/stat`)
//! is printed beside it, so that the work spread over CPUs is seen too. Exit 1 if the merged
//! bytes differ between orders, 2 if a target is missed (time ≤ 3× serde_json, peak ≤ 2× input).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stella_core::ordered::map_in_order;
use stella_vex::matching::PurlChecks;
use stella_vex::merge::{Merger, Policy};
use stella_vex::openvex;

// The allocator the `stella` binary runs with, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Time target: stella's read + merge + write over serde_json's parse of the same bytes.
const TARGET_TIME_RATIO: f64 = 3.0;
/// Memory target: peak resident set during the stella run over the input size.
const TARGET_MEMORY_RATIO: f64 = 2.0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).expect("usage: merge_bench DIR [RUNS]"));
    let runs: usize = args.get(2).map_or(3, |r| r.parse().expect("RUNS"));
    let files = read_all(&dir);
    let input_bytes: usize = files.iter().map(Vec::len).sum();
    let policy = policy();

    // The peak is measured on the first run, before serde_json has touched the heap.
    let rss_before = rss_kib("VmRSS");
    reset_peak_rss();
    let started = Stopwatch::start();
    let (merged, stats) = stella_run(&files, &policy);
    let first_stella = started.times();
    let peak = rss_kib("VmHWM") * 1024;
    let mut stella_times = vec![first_stella];
    for _ in 1..runs {
        let started = Stopwatch::start();
        let (again, _) = stella_run(&files, &policy);
        stella_times.push(started.times());
        assert!(again == merged, "the merged bytes differ between two runs");
    }

    let mut serde_times = Vec::new();
    let mut values = 0usize;
    for _ in 0..runs {
        let started = Stopwatch::start();
        for bytes in &files {
            let value: serde_json::Value = serde_json::from_slice(bytes).expect("serde_json parse");
            values += usize::from(value.is_object());
        }
        serde_times.push(started.times());
    }
    assert_eq!(values, runs * files.len(), "every file is a JSON object");

    let mut shuffled: Vec<Vec<u8>> = files.clone();
    shuffle(&mut shuffled, 0x5EED);
    let (merged_shuffled, _) = stella_run(&shuffled, &policy);
    let same_bytes = merged_shuffled == merged;
    if let Ok(path) = std::env::var("MERGE_BENCH_OUT") {
        std::fs::write(path, &merged).expect("write the merged document");
    }

    let cpu = |times: &[(Duration, Duration)]| median(times.iter().map(|t| t.0).collect());
    let wall = |times: &[(Duration, Duration)]| median(times.iter().map(|t| t.1).collect());
    let time_ratio = cpu(&stella_times).as_secs_f64() / cpu(&serde_times).as_secs_f64();
    let wall_ratio = wall(&stella_times).as_secs_f64() / wall(&serde_times).as_secs_f64();
    let memory_ratio = peak as f64 / input_bytes as f64;

    println!(
        "input: {} documents, {} statements, {} bytes; merged document: {} statements, {} bytes",
        files.len(),
        stats.statements,
        input_bytes,
        merged_statements(&merged),
        merged.len()
    );
    println!(
        "resident before the stella run: {} bytes (the input bytes and the program)",
        rss_before * 1024
    );
    println!();
    println!("| step | wall s (median) | min | max | CPU s, every thread (median) | MB/s (wall) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, times) in [
        ("serde_json::from_slice into Value", &serde_times),
        ("stella: read + merge + write", &stella_times),
    ] {
        let walls: Vec<Duration> = times.iter().map(|t| t.1).collect();
        let m = wall(times);
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} |",
            m.as_secs_f64(),
            walls.iter().min().unwrap().as_secs_f64(),
            walls.iter().max().unwrap().as_secs_f64(),
            cpu(times).as_secs_f64(),
            input_bytes as f64 / 1e6 / m.as_secs_f64()
        );
    }
    println!();
    println!("| measure | measured | target |");
    println!("|---|---:|---:|");
    println!(
        "| wall-clock time, stella / serde_json | {wall_ratio:.2}× | ≤ {TARGET_TIME_RATIO}× |"
    );
    println!("| CPU time of every thread, stella / serde_json | {time_ratio:.2}× | (beside it) |");
    println!(
        "| peak resident set / input size | {memory_ratio:.2}× ({} MB / {} MB) | ≤ {TARGET_MEMORY_RATIO}× |",
        peak / 1_000_000,
        input_bytes / 1_000_000
    );
    println!(
        "| merged bytes, shuffled input order | {} | identical |",
        if same_bytes { "identical" } else { "DIFFERENT" }
    );
    println!(
        "phases of the first stella run (CPU): read {:.3} s (every thread) beside merge {:.3} s (calling thread), then finish and write {:.3} s",
        stats.read.as_secs_f64(),
        stats.merge.as_secs_f64(),
        stats.finish.as_secs_f64(),
    );

    println!(
        "resident set (MB) after: all documents added {}, merged document written {}; peak {}",
        stats.resident[0] / 1_000_000,
        stats.resident[1] / 1_000_000,
        peak / 1_000_000
    );

    if !same_bytes {
        eprintln!("FAIL: the merged bytes depend on the input order");
        std::process::exit(1);
    }
    if wall_ratio > TARGET_TIME_RATIO || memory_ratio > TARGET_MEMORY_RATIO {
        eprintln!("FAIL: a target is missed");
        std::process::exit(2);
    }
}

/// What one stella run saw, and where its time went (CPU time of every thread).
struct RunStats {
    statements: usize,
    /// Reading, on every thread.
    read: Duration,
    /// Adding the documents to the merge, on the calling thread, beside the reading.
    merge: Duration,
    /// Finishing the merge and writing the merged document.
    finish: Duration,
    /// Resident set after every document was added, and after the merged document was written.
    resident: [usize; 2],
}

/// Read every document into the merge (documents parsed on worker threads ahead of the merge, as
/// `stella vex merge` does, one model per worker held at a time), write the merged document;
/// everything made is dropped inside.
fn stella_run(files: &[Vec<u8>], policy: &Policy) -> (Vec<u8>, RunStats) {
    let mut merger = Merger::new(policy);
    let mut statements = 0;
    let mut merge_time = Duration::ZERO;
    let started_reading = Stopwatch::start();
    // Shared by the reading threads, made anew for every run: each run checks every distinct
    // purl once, as one `stella vex merge` does.
    let purls = PurlChecks::default();
    map_in_order(
        files,
        |bytes| openvex::read_with(bytes, &purls).expect("openvex read"),
        |input| {
            statements += input.document.statements.len();
            let started = thread_cpu_time();
            merger
                .add(&input.canonical_id, &input.document)
                .expect("merge");
            drop(input);
            merge_time += thread_cpu_time().saturating_sub(started);
            Ok::<(), ()>(())
        },
    )
    .expect("merge");
    // Reading: everything spent meanwhile, on any thread, that was not adding.
    let read = started_reading.cpu().saturating_sub(merge_time);
    let resident_added = rss_kib("VmRSS") * 1024;
    // The merged document straight from the merge to its canonical bytes, as `stella vex merge`
    // writes OpenVEX: the superseded records, which the document does not carry, are not built
    // (`Merger::finish` builds them for `--explain`), and the statements are written and
    // dropped as they are made, on the other CPU.
    let started = Stopwatch::start();
    let bytes = merger.finish_openvex().expect("finish and write");
    let resident_written = rss_kib("VmRSS") * 1024;
    let finish = started.cpu();
    (
        bytes,
        RunStats {
            statements,
            read,
            merge: merge_time,
            finish,
            resident: [resident_added, resident_written],
        },
    )
}

/// How many statements the merged document holds (counted outside the timed runs).
fn merged_statements(merged: &[u8]) -> usize {
    let value: serde_json::Value = serde_json::from_slice(merged).expect("merged document");
    value["statements"].as_array().map_or(0, Vec::len)
}

/// The vendor outranks the distribution, which outranks everyone else (who stay equal at 0).
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy
        .author_priorities
        .insert("Example Vendor Security <psirt@vendor.example>".into(), 2);
    policy
        .author_priorities
        .insert("Debian Security Team".into(), 1);
    policy
}

fn read_all(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no .json files in {}", dir.display());
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

/// Fisher–Yates with splitmix64, so the shuffled order is the same on every run.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Wall-clock time and the CPU time of the whole process (every thread) from one point: the
/// machine is shared, so time spent waiting for a CPU is not the program's (both are reported).
struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            wall: Instant::now(),
            cpu: process_cpu_time(),
        }
    }

    /// CPU time of every thread since the start.
    fn cpu(&self) -> Duration {
        process_cpu_time().saturating_sub(self.cpu)
    }

    /// CPU and wall-clock time since the start.
    fn times(&self) -> (Duration, Duration) {
        (self.cpu(), self.wall.elapsed())
    }
}

/// Time this thread has run on a CPU (`/proc/thread-self/schedstat`, first field, ns).
fn thread_cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat run time");
    Duration::from_nanos(ns)
}

/// User and system time of the process, ended threads included (`/proc/self/stat` fields 14
/// and 15, in clock ticks of 10 ms).
fn process_cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &text[text.rfind(')').expect("stat command name") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

/// Resets the kernel's peak resident set (`VmHWM`) to the current one (Linux ≥ 4.0).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5")
        .expect("reset VmHWM through /proc/self/clear_refs");
}

/// A `/proc/self/status` field in KiB.
fn rss_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("status field")
}
