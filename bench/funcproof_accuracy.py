#!/usr/bin/env python3
"""Function-boundary accuracy of `stella funcproof` on stripped copies of real binaries.

Usage: funcproof_accuracy.py --stella PATH [--out DIR] [--json FILE] [--min-f1 0.99] BINARY[=TRUTH]...

For every BINARY:
  * truth: the function symbols `readelf -sW` lists in its `.symtab` and `.dynsym` (or in TRUTH,
    e.g. a separate debug file found by GNU BuildID, plus BINARY's own `.dynsym`): type FUNC or
    IFUNC, defined, size > 0; one entry per start address (aliases collapse; where aliases disagree
    on the size, the largest wins, as a linker-generated alias of a shorter prefix is rare and the
    longer one is the real body);
  * prediction: `stella funcproof` run on `strip --strip-all` of BINARY (only `.dynsym` and
    `.eh_frame` survive), every function's `[start, end)` and every fragment's;
  * function-start F1 (start addresses) and exact-range F1 (start and end both equal).

Prints one table row per binary and the worst misses, writes the figures as JSON with --json,
exits 1 if any F1 is below --min-f1. A missing input is reported and skipped, not counted.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time



# binutils `strip` moves BOLT-laid-out segments to other addresses (it warns "can't be allocated
# in segment"), so its copy of libLLVM or librustc_driver holds different bytes at each address;
# llvm-strip keeps every address. Use it when it is installed.
STRIP = shutil.which("llvm-strip") or shutil.which("llvm-strip-14") or "strip"

def readelf_functions(path: str) -> dict[int, tuple[int, str]]:
    """start -> (end, name) of the defined, sized FUNC/IFUNC symbols of both symbol tables."""
    out = subprocess.run(
        ["readelf", "-sW", "--wide", path], check=True, capture_output=True, text=True
    ).stdout
    found: dict[int, tuple[int, str]] = {}
    for line in out.splitlines():
        parts = line.split()
        # "  Num:    Value          Size Type    Bind   Vis      Ndx Name"
        if len(parts) < 8 or not parts[0].endswith(":") or not parts[0][:-1].isdigit():
            continue
        value, size, kind, ndx, name = parts[1], parts[2], parts[3], parts[6], parts[7]
        if kind not in ("FUNC", "IFUNC") or ndx in ("UND", "ABS"):
            continue
        size_n = int(size, 0) if size.startswith("0x") else int(size)
        if size_n == 0:
            continue
        start = int(value, 16)
        end = start + size_n
        name = name.split("@")[0]
        if start not in found or found[start][0] < end:
            found[start] = (end, name)
    return found


def stella_functions(stella: str, binary: str, proof: str) -> tuple[dict[int, tuple[int, str]], float]:
    t0 = time.monotonic()
    subprocess.run([stella, "funcproof", binary, "-o", proof], check=True)
    elapsed = time.monotonic() - t0
    with open(proof, encoding="utf-8") as fh:
        doc = json.load(fh)
    found: dict[int, tuple[int, str]] = {}
    for f in doc["functions"]:
        for part in [f] + f.get("fragments", []):
            start, end = int(part["start"], 16), int(part["end"], 16)
            if start not in found or found[start][0] < end:
                found[start] = (end, part["sym"])
    return found, elapsed


def f1(truth: set, predicted: set) -> tuple[float, float, float]:
    hit = len(truth & predicted)
    precision = hit / len(predicted) if predicted else 0.0
    recall = hit / len(truth) if truth else 0.0
    score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, score


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stella", required=True)
    ap.add_argument("--out", default=None, help="directory for stripped copies and proofs")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--min-f1", type=float, default=0.99)
    ap.add_argument("--show", type=int, default=5, help="misses to show per binary and kind")
    ap.add_argument("binaries", nargs="+", help="BINARY or BINARY=TRUTH_FILE")
    args = ap.parse_args()

    work = args.out or tempfile.mkdtemp(prefix="funcproof-accuracy-")
    os.makedirs(work, exist_ok=True)
    rows = []
    failed = False
    for spec in args.binaries:
        binary, _, truth_file = spec.partition("=")
        if not os.path.isfile(binary) or (truth_file and not os.path.isfile(truth_file)):
            print(f"SKIPPED {spec}: not on this machine", file=sys.stderr)
            continue
        binary = os.path.realpath(binary)
        with open(binary, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                print(f"SKIPPED {spec}: not an ELF file", file=sys.stderr)
                continue
        truth = readelf_functions(binary)
        if truth_file:
            truth.update(readelf_functions(truth_file))
        name = os.path.basename(binary)
        stripped = os.path.join(work, name + ".stripped")
        shutil.copyfile(binary, stripped)
        subprocess.run([STRIP, "--strip-all", stripped], check=True)
        left = readelf_functions(stripped)
        predicted, seconds = stella_functions(args.stella, stripped, os.path.join(work, name + ".proof.json"))

        starts = f1(set(truth), set(predicted))
        truth_ranges = {(s, e) for s, (e, _) in truth.items()}
        pred_ranges = {(s, e) for s, (e, _) in predicted.items()}
        ranges = f1(truth_ranges, pred_ranges)
        row = {
            "binary": binary,
            "truth": truth_file or binary,
            "bytes": os.path.getsize(binary),
            "truth_functions": len(truth),
            "dynsym_after_strip": len(left),
            "predicted_functions": len(predicted),
            "start": {"precision": starts[0], "recall": starts[1], "f1": starts[2]},
            "range": {"precision": ranges[0], "recall": ranges[1], "f1": ranges[2]},
            "seconds": round(seconds, 3),
        }
        rows.append(row)
        if starts[2] < args.min_f1 or ranges[2] < args.min_f1:
            failed = True

        missed = sorted(set(truth) - set(predicted))
        extra = sorted(set(predicted) - set(truth))
        wrong_end = sorted(s for s in set(truth) & set(predicted) if truth[s][0] != predicted[s][0])
        print(
            f"{name}: {len(truth)} true, {len(predicted)} found; start F1 {starts[2]:.4f} "
            f"(P {starts[0]:.4f} R {starts[1]:.4f}); range F1 {ranges[2]:.4f} "
            f"(P {ranges[0]:.4f} R {ranges[1]:.4f}); {seconds:.2f} s",
            file=sys.stderr,
        )
        for label, items, show in (
            ("missed", missed, lambda s: f"{s:#x}+{truth[s][0] - s:#x} {truth[s][1]}"),
            ("extra", extra, lambda s: f"{s:#x}+{predicted[s][0] - s:#x} {predicted[s][1]}"),
            (
                "wrong end",
                wrong_end,
                lambda s: f"{s:#x} true +{truth[s][0] - s:#x} found +{predicted[s][0] - s:#x} {truth[s][1]}",
            ),
        ):
            if items:
                print(f"  {label} ({len(items)}): " + "; ".join(show(s) for s in items[: args.show]), file=sys.stderr)

    print("| binary | size MB | true functions | found | start P / R / F1 | range P / R / F1 | s |")
    print("|---|---:|---:|---:|---|---|---:|")
    for r in rows:
        s, g = r["start"], r["range"]
        print(
            f"| `{os.path.basename(r['binary'])}` | {r['bytes'] / 1e6:.1f} | {r['truth_functions']:,} "
            f"| {r['predicted_functions']:,} | {s['precision']:.4f} / {s['recall']:.4f} / **{s['f1']:.4f}** "
            f"| {g['precision']:.4f} / {g['recall']:.4f} / **{g['f1']:.4f}** | {r['seconds']:.2f} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"min_f1": args.min_f1, "binaries": rows}, fh, indent=2, sort_keys=True)
    if not rows:
        print("FAIL: none of the binaries is on this machine", file=sys.stderr)
        return 1
    if failed:
        print(f"FAIL: an F1 is below {args.min_f1}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
