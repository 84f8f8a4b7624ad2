//! Helpers the runtime integration tests share: building the test program, insisting on root,
//! and a child process that is killed when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Builds `tests/programs/hot.c` with `compiler` and `flags` into `dir/name`.
pub fn build(dir: &Path, compiler: &str, flags: &[&str], name: &str) -> PathBuf {
    let out = dir.join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/hot.c");
    let status = Command::new(compiler)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("{compiler} is needed to build the test program: {e}"));
    assert!(status.success(), "{compiler} failed");
    out
}

/// Fails the test, saying why, unless it runs as root (eBPF needs CAP_BPF and CAP_PERFMON).
pub fn require_root() {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    assert!(
        root,
        "the runtime tests need root (CAP_BPF and CAP_PERFMON); run them as root"
    );
}

/// Waits until `flag` is set (the sampler or the probes are attached), failing the test after
/// a minute: a workload started earlier could run before anything watches it.
pub fn wait_until_attached(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(Ordering::Acquire) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing was attached within a minute"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process killed and reaped when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
