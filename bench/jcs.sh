#!/usr/bin/env bash
# Canonical id (read + parse + RFC 8785 + SHA-256) of a large, real-shaped CycloneDX 1.7 SBOM:
# Stella's release binary against the peers it is verified with, PyPI rfc8785 and npm canonicalize.
#
# Usage: bench/jcs.sh [MIN_MEGABYTES=24] [RUNS=7]
# Needs: cargo, python3 with interop/requirements.txt, node with `(cd interop && npm ci)`;
# hyperfine if installed (Debian: apt-get install hyperfine), else bench/timeit.py.
# Every implementation runs as a whole process on the same file, so each figure includes process
# start-up (milliseconds against seconds of work). The three digests must agree before anything
# is timed. Exit 1 if they do not, or if Stella is under 4x Python or 2x node (median over RUNS).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
min_mb=${1:-24}
runs=${2:-7}
out="$root/bench/out"
sbom="$out/sbom-${min_mb}mb-seed1.json"
mkdir -p "$out"

if [[ ! -s "$sbom" ]]; then
    echo "writing $sbom" >&2
    python3 "$root/bench/make_sbom.py" "$sbom" "$min_mb" 1
fi
size=$(stat -c %s "$sbom")

(cd "$root" && cargo build --release --locked -p stella >&2)
stella="$root/target/release/stella"
# The interpreter itself, not a version manager's shim: a shim's own start-up would be timed too.
python=$(python3 -c 'import sys; print(sys.executable)')
node=$(command -v node)
peer_py="$root/interop/jcs_rfc8785.py"
peer_node="$root/interop/jcs_canonicalize.mjs"

cmd_stella="$stella sbom id $sbom"
cmd_python="$python $peer_py --id $sbom"
cmd_node="$node $peer_node --id $sbom"

id_stella=$($cmd_stella)
id_python=$($cmd_python)
id_node=$($cmd_node)
echo "stella: $id_stella"
echo "python: $id_python"
echo "node:   $id_node"
if [[ "$id_stella" != "$id_python" || "$id_stella" != "$id_node" ]]; then
    echo "FAIL: the three canonical ids differ" >&2
    exit 1
fi

echo
echo "machine: $(nproc) CPU, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "stella $("$stella" --version | awk '{print $2}'); Python $("$python" -c 'import platform; print(platform.python_version())'), rfc8785 $("$python" -c 'import importlib.metadata as m; print(m.version("rfc8785"))'); node $("$node" --version), canonicalize $("$node" -p 'require(process.argv[1]).version' "$root/interop/node_modules/canonicalize/package.json")"

export_json="$out/jcs-timings.json"
if command -v hyperfine >/dev/null; then
    echo "timing with $(hyperfine --version), $runs runs + 1 warm-up each"
    hyperfine -N --warmup 1 --runs "$runs" --style basic --export-json "$export_json" \
        "$cmd_stella" "$cmd_python" "$cmd_node" >&2
else
    echo "timing with bench/timeit.py (hyperfine not installed), $runs runs + 1 warm-up each"
    python3 "$root/bench/timeit.py" --runs "$runs" --warmup 1 --export-json "$export_json" \
        "$cmd_stella" "$cmd_python" "$cmd_node"
fi
echo
python3 "$root/bench/report.py" "$export_json" "$size"
