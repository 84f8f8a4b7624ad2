//! Test binaries compiled from `tests/fixtures/` (C, C++, Rust) into Cargo's per-target temp
//! directory, by gcc, clang, g++, rustc and the aarch64 cross gcc.
//!
//! A compiler that is missing makes the test that needs it say so loudly on stderr and return;
//! with `STELLA_REQUIRE_PEERS=1` (as `.ci/run` sets, after installing them) it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// How a fixture is built.
#[derive(Debug, Clone, Copy)]
pub struct Build {
    pub name: &'static str,
    /// The compiler driver, and the `strip` that matches its target.
    pub compiler: &'static str,
    pub strip_tool: &'static str,
    /// File name under `tests/fixtures/`.
    pub source: &'static str,
    pub flags: &'static [&'static str],
    pub strip: bool,
}

const GCC_C: Build = Build {
    name: "",
    compiler: "gcc",
    strip_tool: "strip",
    source: "vuln.c",
    flags: &[],
    strip: false,
};

pub const WITH_SYMBOLS: Build = Build {
    name: "vuln-pie-g",
    flags: &["-O2", "-g", "-fPIE", "-pie", "-fno-omit-frame-pointer"],
    ..GCC_C
};
pub const STRIPPED: Build = Build {
    name: "vuln-pie-stripped",
    strip: true,
    ..WITH_SYMBOLS
};
pub const NO_PIE: Build = Build {
    name: "vuln-nopie",
    flags: &["-O2", "-fno-pie", "-no-pie"],
    ..GCC_C
};
pub const NO_PLT: Build = Build {
    name: "vuln-noplt",
    flags: &["-O2", "-fno-plt"],
    ..GCC_C
};
pub const CLANG: Build = Build {
    name: "vuln-clang-g",
    compiler: "clang",
    flags: &["-O2", "-g", "-fPIE", "-pie"],
    ..GCC_C
};
pub const CLANG_STRIPPED: Build = Build {
    name: "vuln-clang-stripped",
    strip: true,
    ..CLANG
};
pub const CXX: Build = Build {
    name: "vuln-cxx-g",
    compiler: "g++",
    source: "vuln.cpp",
    flags: &["-O2", "-g"],
    ..GCC_C
};
pub const RUST_LEGACY: Build = Build {
    name: "vuln-rust-legacy",
    compiler: "rustc",
    source: "vuln.rs",
    flags: &["-O", "-g"],
    ..GCC_C
};
pub const RUST_V0: Build = Build {
    name: "vuln-rust-v0",
    flags: &["-O", "-g", "-C", "symbol-mangling-version=v0"],
    ..RUST_LEGACY
};
pub const AARCH64: Build = Build {
    name: "vuln-aarch64-g",
    compiler: "aarch64-linux-gnu-gcc",
    strip_tool: "aarch64-linux-gnu-strip",
    flags: &["-O2", "-g"],
    ..GCC_C
};
pub const AARCH64_STRIPPED: Build = Build {
    name: "vuln-aarch64-stripped",
    strip: true,
    ..AARCH64
};

/// Whether `build`'s tools run here. When they do not, says so loudly, or fails the test under
/// `STELLA_REQUIRE_PEERS=1`.
pub fn available(build: Build, test: &str) -> bool {
    let missing: Vec<&str> = [build.compiler, build.strip_tool]
        .into_iter()
        .filter(|tool| {
            !Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    stella_testkit::skip(
        test,
        &format!(
            "{} not installed (Debian: apt-get install clang g++ gcc-aarch64-linux-gnu \
             libc6-dev-arm64-cross)",
            missing.join(", ")
        ),
    );
    false
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds `build` (once per test run) and returns the binary's path.
pub fn vuln(build: Build) -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stella-binary-fixtures");
    std::fs::create_dir_all(&out_dir).expect("fixture dir");
    let out = out_dir.join(build.name);
    if out.exists() {
        return out;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(build.source);
    let tmp = out_dir.join(format!("{}.tmp", build.name));
    let status = Command::new(build.compiler)
        .args(build.flags)
        .arg("-o")
        .arg(&tmp)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("{} runs: {e}", build.compiler));
    assert!(
        status.success(),
        "{} failed for {}",
        build.compiler,
        build.name
    );
    if build.strip {
        let status = Command::new(build.strip_tool)
            .arg(&tmp)
            .status()
            .unwrap_or_else(|e| panic!("{} runs: {e}", build.strip_tool));
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
