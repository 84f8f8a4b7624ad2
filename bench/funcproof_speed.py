#!/usr/bin/env python3
"""Speed and peak memory of `stella funcproof` on one large binary, against its peers in one run.

Usage: funcproof_speed.py --stella PATH --runs N [--slow-runs M] [--json FILE] BINARY

Times, each as a whole process with stdout discarded, median of N runs after one warm-up (M runs,
no warm-up, for the disassembler, which takes tens of seconds):
  b3sum --num-threads 1 BINARY                        the floor: one pass of BLAKE3 over the file
  stella funcproof BINARY -o OUT                      the proof, demangled names included
  stella funcproof --no-demangle BINARY -o OUT        the proof without demangled names
  stella funcproof --callgraph BINARY -o OUT          the proof with the direct call graph
  llvm-objdump -d --no-show-raw-insn BINARY           a full disassembly (output discarded)
Peak memory is each run's own maximum resident set (wait4), which counts the mapped input pages.
Before timing, the proof's whole-file BLAKE3 must equal b3sum's, so both read the same bytes.

Targets (exit 1 when one is missed): funcproof within 3x of b3sum; with the call graph at least
10x faster than llvm-objdump; peak memory below 2x the file size.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def run_once(argv: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS bytes) of one run of argv with stdout discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(argv)} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss * 1024


def measure(label: str, argv: list[str], runs: int, warmup: int) -> dict:
    times, peaks = [], []
    for i in range(warmup + runs):
        seconds, peak = run_once(argv)
        if i >= warmup:
            times.append(seconds)
            peaks.append(peak)
    row = {
        "label": label,
        "command": " ".join(argv),
        "runs": runs,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "peak_rss": max(peaks),
    }
    print(f"{label}: median {row['median']:.3f} s over {runs} runs, peak {row['peak_rss'] / 1e6:.0f} MB",
          file=sys.stderr)
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stella", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--slow-runs", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("binary")
    args = ap.parse_args()

    b3sum = shutil.which("b3sum")
    objdump = shutil.which("llvm-objdump") or next(
        (p for v in range(25, 13, -1) if (p := shutil.which(f"llvm-objdump-{v}"))), None)
    missing = [n for n, p in (("b3sum", b3sum), ("llvm-objdump", objdump)) if not p]
    if missing:
        print(f"FAIL: {', '.join(missing)} not installed (see bench/funcproof.sh)", file=sys.stderr)
        return 1
    size = os.path.getsize(args.binary)
    out = os.path.join(os.path.dirname(os.path.abspath(args.json or "x")), "funcproof-speed.proof.json")

    floor = subprocess.run([b3sum, "--num-threads", "1", "--no-names", args.binary],
                           check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([args.stella, "funcproof", args.binary, "-o", out], check=True,
                   stderr=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as fh:
        proof = json.load(fh)
    if proof["file"]["blake3"] != floor:
        print(f"FAIL: stella's file BLAKE3 {proof['file']['blake3']} != b3sum's {floor}", file=sys.stderr)
        return 1
    functions = len(proof["functions"])
    del proof

    s = args.stella
    rows = [
        measure("b3sum --num-threads 1", [b3sum, "--num-threads", "1", args.binary], args.runs, 1),
        measure("stella funcproof", [s, "funcproof", args.binary, "-o", out], args.runs, 1),
        measure("stella funcproof --no-demangle", [s, "funcproof", "--no-demangle", args.binary, "-o", out],
                args.runs, 1),
        measure("stella funcproof --callgraph", [s, "funcproof", "--callgraph", args.binary, "-o", out],
                args.runs, 1),
        measure("llvm-objdump -d --no-show-raw-insn", [objdump, "-d", "--no-show-raw-insn", args.binary],
                args.slow_runs, 0),
    ]
    by = {r["label"]: r for r in rows}
    print(f"\ninput: {os.path.basename(args.binary)}, {size:,} bytes ({size / 1e6:.1f} MB), "
          f"{functions:,} functions; {os.cpu_count()} CPUs\n")
    print("| command | median s | min s | max s | peak RSS MB | RSS / file |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['label']}` | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} "
              f"| {r['peak_rss'] / 1e6:.0f} | {r['peak_rss'] / size:.2f} |")
    floor_s = by["b3sum --num-threads 1"]["median"]
    checks = [
        ("funcproof / b3sum", by["stella funcproof"]["median"] / floor_s, "<=", 3.0),
        ("funcproof --no-demangle / b3sum", by["stella funcproof --no-demangle"]["median"] / floor_s, "<=", 3.0),
        ("llvm-objdump / funcproof --callgraph",
         by["llvm-objdump -d --no-show-raw-insn"]["median"] / by["stella funcproof --callgraph"]["median"], ">=", 20.0),
        ("funcproof peak RSS / file size", by["stella funcproof"]["peak_rss"] / size, "<=", 1.5),
        ("funcproof --callgraph peak RSS / file size", by["stella funcproof --callgraph"]["peak_rss"] / size, "<=", 1.5),
    ]
    print("\n| ratio | measured | target | |")
    print("|---|---:|---:|---|")
    status = 0
    for name, value, op, target in checks:
        met = value <= target if op == "<=" else value >= target if op == ">=" else value < target
        print(f"| {name} | {value:.2f}× | {op} {target:g}× | {'met' if met else 'MISSED'} |")
        status |= 0 if met else 1
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"binary": args.binary, "bytes": size, "functions": functions, "results": rows,
                       "ratios": {n: v for n, v, _, _ in checks}}, fh, indent=2, sort_keys=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
