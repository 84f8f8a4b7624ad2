//! `stella funcproof --callgraph` on aarch64 binaries cross-built here from C, with and without
//! `-fno-plt`, against `llvm-objdump -d` as the peer: every `bl` it shows between proven
//! functions is an edge, and calls of a shared library's functions (through the PLT, or loaded
//! from the GOT and called with `blr`/`br`) are edges to the imported name. A stripped copy
//! keeps the assembly function that has no unwind entry, found by gap disassembly.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;

const LIBRARY: &str = "int helper_in_library(int x) { return x * 3; }\n";

/// Local calls, tail calls at -O2 (`middle` from `main`, `helper_in_library` from `tail`), and
/// imports called directly (`puts`, `printf`) and as a tail call.
const PROGRAM: &str = r#"
#include <stdio.h>
int helper_in_library(int x);
__attribute__((noinline)) static int leaf(int x) { return x + 1; }
__attribute__((noinline)) int middle(int x) { puts("middle"); return leaf(x) * 2; }
__attribute__((noinline)) int tail(int x) { if (x > 5) return middle(x); return helper_in_library(x); }
/* No CFI directives: a stripped binary has no FDE for it. */
__asm__(".text\n.balign 16\n.globl asm_helper\n.type asm_helper, %function\nasm_helper:\n"
        "  add x0, x0, #1\n  cmp x0, #3\n  b.ne 1f\n  add x0, x0, #2\n1:\n  ret\n"
        ".size asm_helper, .-asm_helper\n");
int asm_helper(int x);
int main(int argc, char **argv) { (void)argv; printf("%d\n", tail(argc) + asm_helper(argc)); puts("done"); return middle(argc); }
"#;

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG").env_remove("STELLA_HOME");
    cmd
}

fn available(program: &str) -> bool {
    Process::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Process) {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the library and the program with `flags` into `dir`; the program's path.
fn build(dir: &Path, name: &str, flags: &[&str]) -> std::path::PathBuf {
    std::fs::write(dir.join("lib.c"), LIBRARY).expect("write");
    std::fs::write(dir.join("main.c"), PROGRAM).expect("write");
    run(Process::new("aarch64-linux-gnu-gcc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(dir.join("libhelper.so"))
        .arg(dir.join("lib.c")));
    let out = dir.join(name);
    run(Process::new("aarch64-linux-gnu-gcc")
        .args(["-O2"])
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(dir.join("main.c"))
        .arg("-L")
        .arg(dir)
        .arg("-lhelper"));
    out
}

/// The proof of `binary`, with its call graph.
fn prove(binary: &Path) -> serde_json::Value {
    let out = stella()
        .args(["funcproof", "--callgraph"])
        .arg(binary)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON proof")
}

/// `[start, end)` of each proven function named `name` (`None`: any name).
fn ranges(proof: &serde_json::Value, name: Option<&str>) -> BTreeSet<(String, String)> {
    proof["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .filter(|f| name.is_none_or(|n| f["sym"] == n))
        .map(|f| (f["start"].to_string(), f["end"].to_string()))
        .collect()
}

/// The proof's functions and call-graph edges.
fn stella_graph(binary: &Path) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let proof = prove(binary);
    let functions = proof["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .filter_map(|f| f["sym"].as_str().map(str::to_owned))
        .collect();
    let edges = proof["callgraph"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let name = |i: usize| e[i].as_str().expect("name").to_owned();
            (name(0), name(1))
        })
        .collect();
    (functions, edges)
}

/// `(caller, callee)` of every `bl` that `llvm-objdump -d` shows, the callee's `@plt` and
/// `+0x…` removed.
fn objdump_calls(binary: &Path) -> BTreeSet<(String, String)> {
    let out = Process::new("llvm-objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(binary)
        .output()
        .expect("llvm-objdump runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut caller = String::new();
    let mut calls = BTreeSet::new();
    for line in text.lines() {
        // `0000000000000870 <middle>:` opens a function.
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            caller = name.1.to_owned();
            continue;
        }
        let mut fields = line.split_whitespace().skip(1);
        if fields.next() != Some("bl") {
            continue;
        }
        let Some(target) = fields.nth(1) else {
            continue;
        };
        let target = target.trim_start_matches('<').trim_end_matches('>');
        let target = target.split('+').next().unwrap_or(target);
        let target = target.strip_suffix("@plt").unwrap_or(target);
        calls.insert((caller.clone(), target.to_owned()));
    }
    calls
}

fn edge(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn aarch64_call_graph_holds_every_bl_and_names_imports() {
    let name = "aarch64_call_graph_holds_every_bl_and_names_imports";
    for peer in ["aarch64-linux-gnu-gcc", "llvm-objdump", "llvm-strip"] {
        if !available(peer) {
            stella_testkit::skip(
                name,
                &format!("{peer} is missing (apt-get install gcc-aarch64-linux-gnu llvm)"),
            );
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (binary, flags) in [("plt", &[][..]), ("noplt", &["-fno-plt"][..])] {
        let binary = build(dir.path(), binary, flags);
        let (functions, edges) = stella_graph(&binary);
        let calls = objdump_calls(&binary);
        let proven: Vec<_> = calls
            .iter()
            .filter(|(a, _)| functions.contains(a))
            .collect();
        // `main → tail` and `middle → leaf` are `bl`s in both builds.
        assert!(
            proven.len() >= 2,
            "{binary:?}: llvm-objdump shows {calls:?}"
        );
        for call in proven {
            assert!(
                edges.contains(call),
                "{binary:?}: {call:?} missing from {edges:?}"
            );
        }
        for import in [
            edge("main", "puts"),
            edge("main", "printf"),
            edge("middle", "puts"),
            edge("tail", "helper_in_library"),
            // Tail calls with `b`.
            edge("main", "middle"),
            edge("tail", "middle"),
        ] {
            assert!(
                edges.contains(&import),
                "{binary:?}: {import:?} missing from {edges:?}"
            );
        }
        let proved: serde_json::Value = serde_json::from_slice(
            &stella()
                .args([
                    "funcproof",
                    "--entry",
                    "main",
                    "--sink",
                    "helper_in_library",
                ])
                .arg(&binary)
                .output()
                .expect("runs")
                .stdout,
        )
        .expect("JSON proof");
        let path: Vec<&str> = proved["traces"][0]["path"]
            .as_array()
            .expect("a trace")
            .iter()
            .filter_map(|n| n.as_str())
            .collect();
        assert_eq!(path, ["main", "tail", "helper_in_library"], "{binary:?}");

        // Stripped, the assembly function keeps its exact range (as `sub_<address>`).
        let stripped = dir.path().join("stripped");
        run(Process::new("llvm-strip")
            .arg("--strip-all")
            .arg("-o")
            .arg(&stripped)
            .arg(&binary));
        let asm = ranges(&prove(&binary), Some("asm_helper"));
        assert_eq!(asm.len(), 1, "{binary:?}: asm_helper proven once");
        let found = ranges(&prove(&stripped), None);
        assert!(
            asm.is_subset(&found),
            "{binary:?}: {asm:?} not among {found:?}"
        );
    }
}
