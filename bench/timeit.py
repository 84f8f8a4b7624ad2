#!/usr/bin/env python3
"""Time commands the way `hyperfine -N --export-json` does, for machines without hyperfine.

Usage: timeit.py --runs N --warmup W --export-json FILE CMD...
Each CMD is one string, split like a shell word list (no shell is started, so none is timed).
Writes {"results": [{"command", "times", "mean", "median", "min", "max"}]}, the subset of
hyperfine's export that report.py reads.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--export-json", required=True)
    ap.add_argument("commands", nargs="+")
    args = ap.parse_args()
    results = []
    for command in args.commands:
        argv = shlex.split(command)
        times = []
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
        results.append({"command": command, "times": times, "mean": statistics.mean(times),
                        "median": statistics.median(times), "min": min(times), "max": max(times)})
        print(f"{command}\n  median {results[-1]['median']:.3f} s over {args.runs} runs", file=sys.stderr)
    with open(args.export_json, "w") as f:
        json.dump({"results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
