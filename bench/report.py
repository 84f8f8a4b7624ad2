#!/usr/bin/env python3
"""Summarise a timing export (hyperfine's, or timeit.py's) of bench/jcs.sh as throughput.

Usage: report.py EXPORT_JSON INPUT_BYTES
The export's commands must be, in order: stella, Python rfc8785, node canonicalize.
Prints a Markdown table (median seconds, MB/s with MB = 10^6 bytes) and the speed-ups of Stella
over each peer. Exit 1 if Stella misses a target: 4x Python rfc8785, 2x node canonicalize.
"""

import json
import sys

NAMES = ["stella sbom id", "Python rfc8785 + hashlib", "node canonicalize + crypto"]
TARGETS = {1: 4.0, 2: 2.0}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        results = json.load(f)["results"]
    size = int(sys.argv[2])
    medians = [r["median"] for r in results]
    print(f"input: {size:,} bytes ({size / 1e6:.1f} MB); {len(results[0]['times'])} timed runs each\n")
    print("| implementation | median s | min s | max s | MB/s (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in zip(NAMES, results):
        print(f"| {name} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | {size / 1e6 / r['median']:.1f} |")
    print()
    status = 0
    for i, target in TARGETS.items():
        ratio = medians[i] / medians[0]
        verdict = "met" if ratio >= target else "MISSED"
        print(f"stella / {NAMES[i]}: {ratio:.2f}x (target {target:g}x: {verdict})")
        if ratio < target:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
