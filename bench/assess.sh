#!/usr/bin/env bash
# `stella assess` of the /usr/lib/x86_64-linux-gnu image (about 1,000 binaries, with this
# machine's dpkg database so that every library has its Debian package) against at least
# 20,000 advisories (the Go vulnerability database and RustSec from ../shared/fixtures, plus
# Debian-shaped records synthesised by bench/make_advisories.py): the wall time as a ratio to
# only reading and verifying the image's FuncProofs and SBOM (the same command against one
# advisory that matches nothing), and `stella advisories import` speed in records/s.
#
# Usage: bench/assess.sh [ADVISORIES=20000] [RUNS=3]
# The root filesystem (hard links to /usr/lib/x86_64-linux-gnu) and its scan are kept under
# bench/out. Exit 2 when the ratio misses its target (2x).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
count=${1:-20000}
runs=${2:-3}
out="$root/bench/out/assess"
mkdir -p "$out"
cargo build --release -q --locked -p stella
stella=${CARGO_TARGET_DIR:-$root/target}/release/stella
export STELLA_PASSWORD=bench STELLA_HOME="$out/home"

rootfs="$out/usrlib"
if [[ ! -f "$rootfs/done" ]]; then
    rm -rf "$rootfs" "$STELLA_HOME"
    mkdir -p "$rootfs/usr/lib" "$rootfs/var/lib/dpkg" "$rootfs/etc"
    cp -al /usr/lib/x86_64-linux-gnu "$rootfs/usr/lib/"
    cp /var/lib/dpkg/status "$rootfs/var/lib/dpkg/status"
    cp -r /var/lib/dpkg/info "$rootfs/var/lib/dpkg/info"
    cp /etc/os-release "$rootfs/etc/os-release"
    echo "scanning $rootfs (once)" >&2
    "$stella" -q scan "$rootfs" >/dev/null
    touch "$rootfs/done"
fi
image="oci-layout:$STELLA_HOME/oci:usrlib"

advisories="$out/advisories-$count"
if [[ ! -f "$advisories/done" ]]; then
    rm -rf "$advisories"
    python3 "$root/bench/make_advisories.py" "$advisories" "$count" "$rootfs"
    touch "$advisories/done"
fi
records=$(find "$advisories" -name '*.json' -o -name 'RUSTSEC-*.md' | wc -l)

# Import speed: a fresh database each run.
best_import=
for _ in $(seq "$runs"); do
    rm -f "$out/bench.db"
    start=$(date +%s.%N)
    "$stella" -q advisories import --db "sqlite://$out/bench.db" "$advisories" >/dev/null
    took=$(echo "$(date +%s.%N) - $start" | bc)
    if [[ -z "$best_import" ]] || (($(echo "$took < $best_import" | bc))); then best_import=$took; fi
done

# The baseline: one advisory for a package no binary holds.
baseline="$out/baseline"
mkdir -p "$baseline"
cat >"$baseline/BENCH-NONE.json" <<'JSON'
{"id": "BENCH-NONE", "modified": "2026-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "crates.io", "name": "no-such-crate-anywhere"},
               "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}
JSON
rm -f "$out/baseline.db"
"$stella" -q advisories import --db "sqlite://$out/baseline.db" "$baseline" >/dev/null

python3 "$root/bench/timeit.py" --runs "$runs" --warmup 1 --export-json "$out/times.json" \
    "$stella -q assess --image $image --advisories sqlite://$out/baseline.db --format json -o $out/baseline.json" \
    "$stella -q assess --image $image --advisories sqlite://$out/bench.db --format json -o $out/assess.json"

python3 - "$out" "$records" "$best_import" <<'PY'
import json, sys
out, records, took = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t = json.load(open(f"{out}/times.json"))["results"]
base, full = t[0]["median"], t[1]["median"]
a = json.load(open(f"{out}/assess.json"))
counts = {}
for v in a["verdicts"]:
    counts[v["status"]] = counts.get(v["status"], 0) + 1
print(f"image: {a['binaries']} binaries ({a['proven']} proven), {a['components']} components")
print(f"advisories: {records} records; import {took:.2f} s = {records / took:,.0f} records/s")
print(f"assess: {full:.2f} s (median) against {a['advisories']} matching advisories -> {len(a['verdicts'])} verdicts {counts}")
print(f"only reading the FuncProofs and SBOM: {base:.2f} s")
ratio = full / base
print(f"ratio assess / reading: {ratio:.2f}x (target <= 2x)")
sys.exit(0 if ratio <= 2 else 2)
PY
