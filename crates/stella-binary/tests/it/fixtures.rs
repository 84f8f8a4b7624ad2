//! Test binaries compiled from `tests/fixtures/*.c` into Cargo's per-target temp directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// How a fixture is built.
#[derive(Debug, Clone, Copy)]
pub struct Build {
    pub name: &'static str,
    pub flags: &'static [&'static str],
    pub strip: bool,
}

pub const WITH_SYMBOLS: Build = Build {
    name: "vuln-pie-g",
    flags: &["-O2", "-g", "-fPIE", "-pie", "-fno-omit-frame-pointer"],
    strip: false,
};
pub const STRIPPED: Build = Build {
    name: "vuln-pie-stripped",
    flags: &["-O2", "-g", "-fPIE", "-pie", "-fno-omit-frame-pointer"],
    strip: true,
};
pub const NO_PIE: Build = Build {
    name: "vuln-nopie",
    flags: &["-O2", "-fno-pie", "-no-pie"],
    strip: false,
};

pub const NO_PLT: Build = Build {
    name: "vuln-noplt",
    flags: &["-O2", "-fno-plt"],
    strip: false,
};

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds `vuln.c` as `build` (once per test run) and returns the binary's path.
pub fn vuln(build: Build) -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stella-binary-fixtures");
    std::fs::create_dir_all(&out_dir).expect("fixture dir");
    let out = out_dir.join(build.name);
    if out.exists() {
        return out;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vuln.c");
    let tmp = out_dir.join(format!("{}.tmp", build.name));
    let status = Command::new("gcc")
        .args(build.flags)
        .arg("-o")
        .arg(&tmp)
        .arg(&source)
        .status()
        .expect("gcc runs (it is on every machine of this kind)");
    assert!(status.success(), "gcc failed for {}", build.name);
    if build.strip {
        let status = Command::new("strip")
            .arg(&tmp)
            .status()
            .expect("strip runs");
        assert!(status.success());
    }
    std::fs::rename(&tmp, &out).expect("rename fixture");
    out
}

/// `nm -S --defined-only` text symbols with a size: `(address, size, name)`.
pub fn nm_functions(path: &Path) -> Vec<(u64, u64, String)> {
    let out = Command::new("nm")
        .args(["-S", "--defined-only"])
        .arg(path)
        .output()
        .expect("nm runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let addr = u64::from_str_radix(parts.next()?, 16).ok()?;
            let size = u64::from_str_radix(parts.next()?, 16).ok()?;
            let kind = parts.next()?;
            let name = parts.next()?;
            matches!(kind, "T" | "t" | "W" | "w" | "i").then(|| (addr, size, name.to_owned()))
        })
        .filter(|(_, size, _)| *size > 0)
        .collect()
}
