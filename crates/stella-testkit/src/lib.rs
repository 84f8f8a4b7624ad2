//! What Stella's tests share: the one way a test says that it checked nothing.
//!
//! Some checks need something the machine may lack: a peer tool (`skopeo`, `nm`, a Python
//! package), a fixture prepared by `.ci/run` (the Debian root filesystem), a kernel feature. A
//! test that returns early without it is counted as passed, and the harness swallows whatever it
//! printed with `println!`/`eprintln!`, so CI could go green on a check that never ran. Every such
//! early return goes through [`skip`] instead, which
//!
//! - writes a banner straight to the process's standard error (not through the macros the
//!   harness captures), so a developer sees what was not checked; and
//! - panics when `STELLA_REQUIRE_PEERS=1`, which `.ci/run` sets after installing every peer: in
//!   CI a skipped check is a failed test.
//!
//! Beside it, [`debian_rootfs`]: where the real Debian root filesystem that `.ci/run` prepares is,
//! [`registry::Registry`]: a real OCI registry (`docker-registry`) on a loopback port,
//! [`postgres::Server`]: a real PostgreSQL server on a loopback port, and
//! [`assert_vendored`]: the check that files vendored into a crate are the ones its
//! `SHA256SUMS` pins.
//!
//! ```
//! fn nm_agrees() {
//!     let nm_runs = std::process::Command::new("nm").arg("--version").output().is_ok();
//!     if !nm_runs {
//!         stella_testkit::skip("nm_agrees", "nm is not installed (apt-get install binutils)");
//!         return;
//!     }
//!     // ... the check itself
//! }
//! # if !stella_testkit::peers_required() { nm_agrees(); }
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub mod postgres;
pub mod registry;

/// The environment variable that turns every skip into a failure when set to `1`.
pub const REQUIRE_PEERS: &str = "STELLA_REQUIRE_PEERS";

/// Whether skipped checks fail (`STELLA_REQUIRE_PEERS=1`, as CI runs the tests).
pub fn peers_required() -> bool {
    std::env::var(REQUIRE_PEERS).as_deref() == Ok("1")
}

/// Records that `test` checked nothing because `why` (what is missing, and how to install it).
/// The caller returns right after.
///
/// # Panics
/// Under `STELLA_REQUIRE_PEERS=1`: the test fails, naming what is missing.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    skip_unless_required(peers_required(), test, why);
}

#[track_caller]
// Failing the calling test is this function's purpose under STELLA_REQUIRE_PEERS=1.
#[allow(clippy::panic)]
fn skip_unless_required(required: bool, test: &str, why: &str) {
    if required {
        panic!("{test}: {why}; {REQUIRE_PEERS}=1 makes a skipped check a failure");
    }
    // Straight to the stream: `eprintln!` output of a passing test is captured and never shown.
    let _ = writeln!(std::io::stderr(), "\n!!!!! {test}: SKIPPED ({why}) !!!!!\n");
}

/// Where `.ci/run` builds the Debian 12 minbase root filesystem (debootstrap) when
/// `STELLA_TEST_ROOTFS` does not say otherwise.
pub const DEFAULT_DEBIAN_ROOTFS: &str = "/var/cache/stella-tests/bookworm-minbase";

/// The real Debian root filesystem the tests read (`$STELLA_TEST_ROOTFS`, else
/// [`DEFAULT_DEBIAN_ROOTFS`]), when it holds a dpkg database; otherwise the path that was looked
/// at, for the caller's [`skip`] message.
///
/// # Errors
/// The path looked at, when it has no `var/lib/dpkg/status`.
pub fn debian_rootfs() -> Result<PathBuf, PathBuf> {
    let path = std::env::var_os("STELLA_TEST_ROOTFS")
        .map_or_else(|| PathBuf::from(DEFAULT_DEBIAN_ROOTFS), PathBuf::from);
    if path.join("var/lib/dpkg/status").is_file() {
        Ok(path)
    } else {
        Err(path)
    }
}

/// How to make the root filesystem [`debian_rootfs`] looks for, for skip messages.
pub const DEBIAN_ROOTFS_HOWTO: &str = "build it with `debootstrap --variant=minbase bookworm \
     /var/cache/stella-tests/bookworm-minbase` (as .ci/run does) or set STELLA_TEST_ROOTFS";

/// Asserts that the files with extension `ext` in `dir` are exactly those its `SHA256SUMS`
/// lists (`<hex>  <name>` lines, as `sha256sum` writes them) and that each has its digest, as
/// `sha256sum --check --strict` (coreutils) computes it: a vendored file changes only on
/// purpose.
///
/// # Panics
/// When a file differs, is missing, or is present without being listed.
#[allow(clippy::panic, clippy::expect_used)] // Failing the calling test is the purpose.
pub fn assert_vendored(dir: &Path, ext: &str) {
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("SHA256SUMS").display()));
    let mut listed: Vec<String> = sums
        .lines()
        .map(|line| {
            line.split_once("  ")
                .map(|(_, name)| name.to_owned())
                .unwrap_or_else(|| panic!("SHA256SUMS: {line:?} is not `<hex>  <name>`"))
        })
        .collect();
    let check = std::process::Command::new("sha256sum")
        .args(["--check", "--strict", "--quiet", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum (coreutils) runs");
    assert!(
        check.status.success(),
        "{}: files differ from SHA256SUMS:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| Path::new(n).extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    present.sort();
    listed.sort();
    assert_eq!(
        listed,
        present,
        "{}: SHA256SUMS and the files differ",
        dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "nm_agrees: nm is not installed; STELLA_REQUIRE_PEERS=1 makes")]
    fn a_skip_fails_when_peers_are_required() {
        skip_unless_required(true, "nm_agrees", "nm is not installed");
    }

    #[test]
    fn a_skip_returns_when_peers_are_optional() {
        skip_unless_required(false, "nm_agrees", "nm is not installed");
    }
}
