#!/usr/bin/env bash
# The runtime join of `stella assess --profile`: the image and advisories of bench/assess.sh (the
# /usr/lib/x86_64-linux-gnu image, about 1,000 binaries; 20,000 advisories) and a profile of
# FRAMES sampled frames (default 10,000,000) from 100 processes written by bench/make_profile.py:
# unnamed `(BuildID, file offset)` frames, as `stella record --no-symbolize` writes them, in real
# functions of the image's binaries (from its symbol bundle), some in binaries the image does not
# have, some in functions the advisories name.
#
# Timed in one run, RUNS times each, medians, peak RSS from wait4:
#  (a) `stella assess ... --profile P`;
#  (b) the same assess without the profile (bench/assess.sh's full assessment);
#  (c) only reading the profile as assess reads it: bench/read_profile, which runs the same code
#      (`read_json` of crates/stella/src/assess.rs: the file, its SHA-256, a JSON value, the
#      schema, `Profile`) with the same allocator and release profile, and nothing else.
# Prints the join's frames/s, FRAMES / ((a) - (b)), and the ratio ((a) - (b)) / (c) (the join and
# the reading it needs, over the reading alone). Target: <= 2x; exit 2 when missed.
#
# Usage: bench/assess_runtime.sh [RUNS=3] [FRAMES=10000000]
# Reuses bench/out/assess (ASSESS_OUT=DIR to point at another checkout's), running bench/assess.sh
# once when it is missing (its scan takes several minutes). The profile is kept there too.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-3}
frames=${2:-10000000}
count=20000
out=${ASSESS_OUT:-$root/bench/out/assess}
target=${CARGO_TARGET_DIR:-$root/target}
export STELLA_PASSWORD=bench STELLA_HOME="$out/home"

if [[ ! -f "$out/usrlib/done" || ! -f "$out/advisories-$count/done" || ! -f "$out/bench.db" ]]; then
    if [[ "$out" != "$root/bench/out/assess" ]]; then
        echo "FAIL: $out holds no image, advisories and database of bench/assess.sh" >&2
        exit 1
    fi
    echo "building the image and advisories with bench/assess.sh (once)" >&2
    status=0
    bench/assess.sh "$count" 1 >&2 || status=$?
    [[ $status == 0 || $status == 2 ]] || exit "$status"
fi
cargo build --release -q --locked -p stella
cargo build --release -q --locked --manifest-path bench/read_profile/Cargo.toml
stella=$target/release/stella
reader=$target/release/read-profile
image="oci-layout:$STELLA_HOME/oci:usrlib"

profile="$out/profile-$frames.json"
if [[ ! -f "$profile" || "$profile" -ot bench/make_profile.py ]]; then
    python3 bench/make_profile.py "$profile.tmp" "$STELLA_HOME/oci" "$out/advisories-$count" "$frames" 100
    mv "$profile.tmp" "$profile"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$runs" "$frames" "$profile" "$work" "$stella" "$reader" "$image" "$out/bench.db" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
runs, frames, profile, work, stella, reader, image, db = sys.argv[1:]
runs, frames = int(runs), int(frames)

def run(argv):
    """Wall seconds and peak RSS (MiB) of one run."""
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}")
    return took, usage.ru_maxrss / 1024

assess = [stella, "-q", "assess", "--image", image, "--advisories", f"sqlite://{db}", "--format", "json"]
commands = {
    "a": assess + ["--profile", profile, "-o", f"{work}/with.json"],
    "b": assess + ["-o", f"{work}/without.json"],
    "c": [reader, profile],
}
for argv in commands.values():  # warm-up: the page cache holds the image and the profile
    run(argv)
times = {k: [] for k in commands}
rss = {k: 0.0 for k in commands}
for _ in range(runs):  # interleaved, so that drift touches all three alike
    for k, argv in commands.items():
        took, peak = run(argv)
        times[k].append(took)
        rss[k] = max(rss[k], peak)
m = {k: statistics.median(v) for k, v in times.items()}

with_profile = json.load(open(f"{work}/with.json"))
without = json.load(open(f"{work}/without.json"))
outcomes = {}
for v in with_profile["verdicts"]:
    o = (v.get("runtime") or {}).get("outcome")
    if o:
        outcomes[o] = outcomes.get(o, 0) + 1
changed = sum(1 for x, y in zip(with_profile["verdicts"], without["verdicts"]) if x["status"] != y["status"])
hot = with_profile.get("hot") or []
size = os.path.getsize(profile)
print(f"profile: {frames:,} frames, {size / 1e6:,.0f} MB; {len(with_profile['verdicts'])} verdicts, "
      f"runtime outcomes {outcomes}, {changed} statuses changed by it, {len(hot)} functions in the hot-symbol index ({sum(1 for h in hot if h.get('hot'))} hot)")
for k, name in (("a", "(a) assess --profile"), ("b", "(b) assess without the profile"),
                ("c", "(c) only reading the profile")):
    t = times[k]
    print(f"{name}: median {m[k]:.2f} s (min {min(t):.2f}, max {max(t):.2f}, {runs} runs), "
          f"peak RSS {rss[k]:,.0f} MiB")
join = m["a"] - m["b"]
ratio = join / m["c"]
print(f"join: (a) - (b) = {join:.2f} s = {frames / join:,.0f} frames/s")
print(f"ratio ((a) - (b)) / (c): {ratio:.2f}x (target <= 2x)")
shutil.move(f"{work}/with.json", os.path.join(os.path.dirname(profile), "assess-runtime.json"))
sys.exit(0 if ratio <= 2 else 2)
PY
