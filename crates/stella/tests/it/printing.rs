//! The printing layer seen from outside: logs and output written to files and pipes.

use std::process::Stdio;

use assert_cmd::Command;
use predicates::prelude::*;

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .env_remove("NO_COLOR");
    cmd
}

/// A log read from a file or a pipe (CI logs, `2>log`) has no ANSI escape sequences: they used
/// to colour every level and field name wherever stderr went.
#[test]
fn logs_into_a_pipe_carry_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let out = stella()
        .args(["-v", "funcproof", "/bin/true", "-o"])
        .arg(dir.path().join("true.funcproof.json"))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("INFO") && stderr.contains("proved"),
        "the -v log is missing: {stderr:?}"
    );
    assert!(!stderr.contains("\x1b["), "escape sequences: {stderr:?}");
}

/// `stella completions bash | head -1`: a reader that stops early is not a crash (it panicked
/// with "failed to write completion file: Broken pipe").
#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    // The reading end is gone before stella writes a byte: every write fails with EPIPE.
    drop(reader);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("stella"))
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(predicate::str::is_empty().eval(&stderr), "{stderr}");
}
