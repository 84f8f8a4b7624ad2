#!/usr/bin/env bash
# `stella scan` of a directory of real binaries (default: /usr/lib/x86_64-linux-gnu, which must
# hold at least 500 MB), against `b3sum` hashing the same files in the same run: files/s, MB/s
# and the ratio of wall times; then `stella verify --image` of the image the scan made. Each
# scan starts from an empty $STELLA_HOME (new key, new log, new layout), so nothing is cached
# but the page cache, which a warm-up run fills for both tools.
#
# Usage: bench/scan.sh [DIR=/usr/lib/x86_64-linux-gnu] [RUNS=3]
# Needs: cargo, python3, b3sum (cargo install b3sum, or Debian's b3sum on newer releases).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${1:-/usr/lib/x86_64-linux-gnu}
runs=${2:-3}
command -v b3sum >/dev/null || { echo "FAIL: b3sum not installed (cargo install b3sum)" >&2; exit 1; }
cargo build --release -q -p stella
stella=$root/target/release/stella
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The files both tools read: every regular file once (hard links once), as the scan walks them.
python3 - "$dir" "$work/files" <<'PY'
import os, sys
root, out = sys.argv[1], sys.argv[2]
seen, files, total = set(), [], 0
for d, dirs, names in os.walk(root):
    dirs.sort()
    for n in sorted(names):
        p = os.path.join(d, n)
        st = os.lstat(p)
        if not os.path.isfile(p) or os.path.islink(p) or (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        files.append(p)
        total += st.st_size
open(out, "wb").write(b"\0".join(f.encode() for f in files))
print(f"{len(files)} files, {total / 1e6:.1f} MB in {root}", file=sys.stderr)
if total < 500e6:
    print(f"WARNING: {root} holds {total / 1e6:.0f} MB, below the 500 MB the benchmark asks for", file=sys.stderr)
PY

python3 - "$stella" "$dir" "$work" "$runs" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
stella, target, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
files = open(f"{work}/files", "rb").read().split(b"\0")

def b3sum():
    start = time.perf_counter()
    # xargs batches the names; b3sum hashes each file with all cores (its default).
    subprocess.run(["xargs", "-0", "b3sum", "--no-names"], input=b"\0".join(files),
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start

def scan(home):
    shutil.rmtree(home, ignore_errors=True)
    start = time.perf_counter()
    out = subprocess.run([stella, "--home", home, "scan", "--json", "-q", target],
                         stdout=subprocess.PIPE, check=True, env=dict(os.environ, STELLA_PASSWORD="bench"))
    return time.perf_counter() - start, json.loads(out.stdout)

def verify(home, image):
    start = time.perf_counter()
    subprocess.run([stella, "--home", home, "verify", "--image", image, "--json"],
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start

home = f"{work}/home"
b3sum(); scan(home)  # warm-up: the page cache holds the files for both
b3, sc, ve = [], [], []
summary = None
for _ in range(runs):
    b3.append(b3sum())
    t, summary = scan(home)
    sc.append(t)
    ve.append(verify(home, summary["image"]))
m_b3, m_sc, m_ve = statistics.median(b3), statistics.median(sc), statistics.median(ve)
files_n, mb = summary["filesWalked"], summary["bytesWalked"] / 1e6
print(f"\n{target}: {files_n} files, {mb:.1f} MB; {summary['binaries']} binaries "
      f"({summary['binaryPaths']} paths), {summary['functions']} functions, "
      f"{summary['sbom']['components']} SBOM components; median of {runs} runs")
print(f"  b3sum (all cores)      {m_b3:8.2f} s  {files_n / m_b3:9.0f} files/s  {mb / m_b3:8.1f} MB/s")
print(f"  stella scan            {m_sc:8.2f} s  {files_n / m_sc:9.0f} files/s  {mb / m_sc:8.1f} MB/s")
print(f"  ratio scan / b3sum     {m_sc / m_b3:8.1f}x")
print(f"  stella verify --image  {m_ve:8.2f} s  ({summary['binaries']} FuncProofs replayed, "
      f"{summary['signed']} bundles verified)")
PY
