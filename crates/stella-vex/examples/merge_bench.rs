//! The VEX merge benchmark, as `bench/vex_merge.sh` runs it: `cargo run --release -p stella-vex
//! --example merge_bench -- DIR [RUNS]`, where DIR holds the OpenVEX documents
//! `bench/make_vex.py` writes.
//!
//! Every file is read once untimed, so that the page cache holds them all. Then, in one process:
//! 1. **stella**, as `stella vex merge -o FILE` does it: read each file and its document
//!    ([`openvex::read_with`], the readers sharing their purl checks) on a worker thread and,
//!    whenever the next is not ready, on the calling thread, ahead of the merge; add each to the
//!    merge in order ([`Merger::add`]), so a few documents' bytes and models are held at a time,
//!    under a policy that ranks two authors; finish the merge straight into the statements'
//!    canonical bytes ([`Merger::finish_canonical_openvex`]: the statements made, written and
//!    dropped a few thousand at a time on every CPU) and write the document piece by piece (here into SHA-256).
//!    The peak resident set of this run, measured from `VmHWM` after resetting it through
//!    `/proc/self/clear_refs`, is compared with the input size;
//! 2. **serde_json** — parse the same bytes, read into memory beforehand (not timed), into
//!    `serde_json::Value`, file by file;
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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stella_core::Digest;
use stella_core::digest::Sha256Writer;
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
    let paths = json_files(&dir);
    let input_bytes: usize = (paths.iter())
        .map(|p| std::fs::metadata(p).expect("metadata").len() as usize)
        .sum();
    let policy = policy();
    // Read once untimed, one at a time, so every run finds the files in the page cache.
    for path in &paths {
        std::fs::read(path).expect("read a document");
    }

    // The peak is measured on the first run, before serde_json has touched the heap.
    let rss_before = rss_kib("VmRSS");
    reset_peak_rss();
    let started = Stopwatch::start();
    let mut merged = Sha256Writer::default();
    let stats = stella_run(&paths, &policy, &mut merged);
    let first_stella = started.times();
    let peak = rss_kib("VmHWM") * 1024;
    let merged = merged.finish();
    let mut stella_times = vec![first_stella];
    for _ in 1..runs {
        let started = Stopwatch::start();
        let mut again = Sha256Writer::default();
        stella_run(&paths, &policy, &mut again);
        stella_times.push(started.times());
        assert!(
            again.finish() == merged,
            "the merged bytes differ between two runs"
        );
    }

    let files = read_all(&paths);
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

    drop(files);
    let mut shuffled = paths.clone();
    shuffle(&mut shuffled, 0x5EED);
    let mut merged_shuffled = Vec::new();
    stella_run(&shuffled, &policy, &mut merged_shuffled);
    let same_bytes = Digest::sha256(&merged_shuffled) == merged;
    if let Ok(path) = std::env::var("MERGE_BENCH_OUT") {
        std::fs::write(path, &merged_shuffled).expect("write the merged document");
    }

    let cpu = |times: &[(Duration, Duration)]| median(times.iter().map(|t| t.0).collect());
    let wall = |times: &[(Duration, Duration)]| median(times.iter().map(|t| t.1).collect());
    let time_ratio = cpu(&stella_times).as_secs_f64() / cpu(&serde_times).as_secs_f64();
    let wall_ratio = wall(&stella_times).as_secs_f64() / wall(&serde_times).as_secs_f64();
    let memory_ratio = peak as f64 / input_bytes as f64;

    println!(
        "input: {} documents, {} statements, {} bytes; merged document: {} statements, {} bytes",
        paths.len(),
        stats.statements,
        input_bytes,
        merged_statements(&merged_shuffled),
        merged_shuffled.len()
    );
    println!(
        "resident before the stella run: {} bytes (the program)",
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
        "phases of the first stella run (CPU): read {:.3} s (every thread) beside merge {:.3} s (calling thread) in {:.3} s wall, then finish and write {:.3} s in {:.3} s wall",
        stats.read.as_secs_f64(),
        stats.merge.as_secs_f64(),
        stats.walls[0].as_secs_f64(),
        stats.finish.as_secs_f64(),
        stats.walls[1].as_secs_f64(),
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
    /// Wall-clock time of reading and merging, and of finishing and writing.
    walls: [Duration; 2],
}

/// Read every document into the merge (files read and documents parsed on worker threads ahead
/// of the merge, as `stella vex merge` does, a few documents' bytes and models held at a time),
/// write the merged document to `out` piece by piece, as `stella vex merge -o` writes its file;
/// everything made is dropped inside.
fn stella_run(paths: &[PathBuf], policy: &Policy, out: &mut impl Write) -> RunStats {
    let mut merger = Merger::new(policy);
    let mut statements = 0;
    let mut merge_time = Duration::ZERO;
    let started_reading = Stopwatch::start();
    // Shared by the reading threads, made anew for every run: each run checks every distinct
    // purl once, as one `stella vex merge` does.
    let purls = PurlChecks::default();
    map_in_order(
        paths,
        |path| {
            let bytes = std::fs::read(path).expect("read a document");
            openvex::read_with(&bytes, &purls).expect("openvex read")
        },
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
    // (`Merger::finish` builds them for `--explain`), and the statements are made, written and
    // dropped a few thousand at a time on every CPU.
    let started = Stopwatch::start();
    let document = merger.finish_canonical_openvex().expect("finish");
    document.write_to(out).expect("write");
    let resident_written = rss_kib("VmRSS") * 1024;
    drop(document);
    let (finish, finish_wall) = started.times();
    RunStats {
        walls: [started_reading.wall.elapsed() - finish_wall, finish_wall],
        statements,
        read,
        merge: merge_time,
        finish,
        resident: [resident_added, resident_written],
    }
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

/// The `.json` files of `dir`, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no .json files in {}", dir.display());
    paths
}

fn read_all(paths: &[PathBuf]) -> Vec<Vec<u8>> {
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
