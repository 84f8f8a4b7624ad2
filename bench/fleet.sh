#!/usr/bin/env bash
# The fleet, measured (BENCHMARKS.md, "Fleet"):
#  1. ingest: 8 agents (threads of crates/stella-server/examples/push_load.rs, each with its own
#     ingest token) pushing PUSHES pushes of OBSERVATIONS observations to one `stella serve`
#     (release build) on SQLite, then on PostgreSQL (a throwaway cluster on 127.0.0.1): pushes/s,
#     observations/s, p50 / p99 / max push latency;
#  2. the agent's overhead (root, eBPF): the wall time of a fixed CPU-bound loop
#     (bench/programs/spin.c) alone and while `stella agent` samples the whole host at 49 Hz and
#     pushes every 5 s to a local `stella serve`, median of RUNS alternating runs (target ≤ 1.01),
#     with the agent's own CPU time (user + system) as a share of the loop's wall time;
#  3. report: an image of four shared libraries of this machine (libz, libcrypto, libssl,
#     libstdc++) scanned, served with --store, and pushed 1,000,000 samples over every function
#     their dynamic symbol tables name (Zipf-like counts; batches of 20,000 observations): the
#     reaction's time (the push counted to its VEX attached), then the evidence report of the
#     image with the fleet's profile, `stella report --image` and the live page, median of RUNS.
#
# Usage: sudo [ONLY=ingest,agent,report] bench/fleet.sh [RUNS=3] [PUSHES=200] [OBSERVATIONS=100]
# Needs: gcc, PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<major>/bin), python3.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-3}
pushes=${2:-200}
observations=${3:-100}
only=${ONLY:-ingest,agent,report}
cargo build --release -q -p stella
cargo build --release -q -p stella-server --example push_load
stella=$root/target/release/stella
load=$root/target/release/examples/push_load
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
    pkill -f "$work/" 2>/dev/null || true
    if [[ -n ${pgbin:-} && -d $work/pg ]]; then
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts `stella serve` on DB at a free port; prints the URL.
serve() {
    local db=$1 port
    port=$(free_port)
    STELLA_HOME=$work/home "$stella" serve --addr "127.0.0.1:$port" --db "$db" >/dev/null \
        2>>"$work/serve.log" &
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "http://127.0.0.1:$port"
}

ingest() {
    local name=$1 db=$2 url agents=()
    for n in $(seq 8); do
        STELLA_HOME=$work/home "$stella" serve token --db "$db" --agent "node-$n" -o "$work/$name-$n.token"
        agents+=("node-$n=$work/$name-$n.token")
    done
    url=$(serve "$db")
    echo "ingest on $name:"
    echo "  $("$load" "$url" "$pushes" "$observations" "${agents[@]}")"
    pkill -INT -f "serve --addr ${url#http://}" || true
    sleep 1
}

if [[ $only == *ingest* ]]; then
    mkdir -p "$work/home"
    ingest sqlite "sqlite://$work/fleet.db"
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [[ -n $pgbin && -x $pgbin/initdb ]]; then
        mkdir -p "$work/pg" "$work/pgsock"
        chown postgres "$work/pg" "$work/pgsock"
        runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -A trust -U stella >/dev/null
        pgport=$(free_port)
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -w \
            -o "-p $pgport -k $work/pgsock -c listen_addresses=127.0.0.1" start >/dev/null
        ingest postgresql "postgres://stella@127.0.0.1:$pgport/postgres"
    else
        echo "ingest on postgresql: SKIPPED (no PostgreSQL server binaries)"
    fi
fi

if [[ $only == *agent* ]]; then
    [[ $(id -u) == 0 ]] || { echo "FAIL: the agent needs root (eBPF)" >&2; exit 1; }
    gcc -O2 -fno-omit-frame-pointer -o "$work/spin" bench/programs/spin.c
    mkdir -p "$work/home"
    db="sqlite://$work/agent.db"
    STELLA_HOME=$work/home "$stella" serve token --db "$db" --agent bench -o "$work/agent.token"
    url=$(serve "$db")
    python3 - "$stella" "$work" "$runs" "$url" <<'PY'
import os, signal, statistics, subprocess, sys, time
stella, work, runs, url = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
env = dict(os.environ, STELLA_HOME=f"{work}/home")

def spin(n):
    out = subprocess.run([f"{work}/spin", "work", n], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1e9

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

iterations = "1200000000"
spin("100000000")
base, sampled, shares = [], [], []
for _ in range(runs):
    base.append(spin(iterations))
    agent = subprocess.Popen([stella, "agent", "--server", url, "--token", f"{work}/agent.token",
                              "--name", "bench", "--interval", "5s",
                              "--spool", f"{work}/spool"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    before = cpu_seconds(agent.pid)
    wall = spin(iterations)
    used = cpu_seconds(agent.pid) - before
    sampled.append(wall)
    shares.append(used / wall)
    agent.send_signal(signal.SIGINT)
    agent.wait(timeout=120)
b, s = statistics.median(base), statistics.median(sampled)
print(f"agent overhead (whole host, 49 Hz, pushing every 5 s, median of {runs}):")
print(f"  loop without {b:8.3f} s   with {s:8.3f} s   ratio {s / b:.4f} (target <= 1.01)")
print(f"  the agent's own CPU: {100 * statistics.median(shares):.2f} % of one CPU during the loop")
PY
fi

if [[ $only == *report* ]]; then
    mkdir -p "$work/report/root/usr/lib" "$work/report/home"
    for lib in libz.so.1 libcrypto.so.3 libssl.so.3 libstdc++.so.6; do
        cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$work/report/root/usr/lib/$lib"
    done
    export STELLA_PASSWORD=bench
    rhome=$work/report/home
    STELLA_HOME=$rhome "$stella" scan "$work/report/root" --json >"$work/report/scan.json" 2>/dev/null
    image=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image"])' "$work/report/scan.json")
    digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$work/report/scan.json")
    mkdir -p "$work/report/advisories"
    cat >"$work/report/advisories/BENCH-ZLIB.json" <<'JSON'
{"id": "BENCH-ZLIB", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-1000"],
 "affected": [{"package": {"ecosystem": "GIT", "name": "https://github.com/madler/zlib", "purl": "pkg:generic/zlib"},
               "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
               "ecosystem_specific": {"symbols": ["inflateGetHeader", "crc32"]}}]}
JSON
    db="sqlite://$work/report/fleet.db"
    STELLA_HOME=$rhome "$stella" serve token --db "$db" --agent bench -o "$work/report/agent.token"
    STELLA_HOME=$rhome "$stella" serve token --db "$db" --read -o "$work/report/read.token"
    port=$(free_port)
    STELLA_HOME=$rhome "$stella" serve --addr "127.0.0.1:$port" --db "$db" --store "$image" \
        --advisories "$work/report/advisories" >/dev/null 2>>"$work/serve.log" &
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    python3 - "$stella" "$work/report" "$runs" "http://127.0.0.1:$port" "$image" "$digest" <<'PY'
import json, os, statistics, subprocess, sys, time, urllib.request
stella, work, runs, url, image, digest = sys.argv[1:7]
runs = int(runs)
env = dict(os.environ, STELLA_HOME=f"{work}/home")
scan = json.load(open(f"{work}/scan.json"))
agent = open(f"{work}/agent.token").read().strip()
reader = open(f"{work}/read.token").read().strip()

def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    return next(l.split()[-1] for l in out.splitlines() if "Build ID" in l)

functions = []
for lib in sorted(os.listdir(f"{work}/root/usr/lib")):
    path = f"{work}/root/usr/lib/{lib}"
    b = build_id(path)
    nm = subprocess.run(["nm", "-D", "--defined-only", "--format=posix", path],
                        capture_output=True, text=True).stdout
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ("T", "t"):
            functions.append((b, parts[0].split("@")[0]))
functions = sorted(set(functions))
# Zipf-like: the k-th function gets about 1/k of the samples; exactly 1,000,000 in all.
weights = [1.0 / (k + 1) for k in range(len(functions))]
scale = 1_000_000 / sum(weights)
counts = [max(1, int(w * scale)) for w in weights]
counts[0] += 1_000_000 - sum(counts)

def metric(name):
    text = urllib.request.urlopen(f"{url}/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith(name):
            return int(line.split()[-1])
    return 0

start = time.monotonic()
observations = [{"image": digest, "buildId": b, "function": f, "windowStart": 1796083200,
                 "selfSamples": c, "totalSamples": c, "calls": 0}
                for (b, f), c in zip(functions, counts)]
for i in range(0, len(observations), 20000):
    body = json.dumps({"schema": "stella.fleet.push/v1", "batch": f"bench-{i}", "agent": "bench",
                       "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:01:00Z",
                                  "sampledSeconds": 60.0},
                       "windowSeconds": 60, "observations": observations[i:i + 20000]}).encode()
    request = urllib.request.Request(f"{url}/api/v1/push", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {agent}",
                                              "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
pushed = time.monotonic() - start
while metric('stella_reactions_total{outcome="done"}') + metric('stella_reactions_total{outcome="failed"}') == 0:
    time.sleep(0.05)
# Pushes were coalesced into one or more reactions: wait for the queue to drain.
last, quiet = -1, 0
while quiet < 20:
    done = metric('stella_reactions_total{outcome="done"}')
    quiet = quiet + 1 if done == last else 0
    last = done
    time.sleep(0.1)
reacted = time.monotonic() - start - 2.0
assert metric('stella_reactions_total{outcome="failed"}') == 0, "a reaction failed"

cli, live = [], []
for _ in range(runs):
    t = time.monotonic()
    subprocess.run([stella, "report", "--image", image, "-o", f"{work}/report.html"], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli.append(time.monotonic() - t)
    t = time.monotonic()
    request = urllib.request.Request(f"{url}/images/{digest}",
                                     headers={"Authorization": f"Bearer {reader}"})
    page = urllib.request.urlopen(request, timeout=600).read()
    live.append(time.monotonic() - t)
size = os.path.getsize(f"{work}/report.html")
print(f"report of an image with the fleet's 1,000,000 samples ({len(functions):,} functions of "
      f"{scan['binaries']} libraries, median of {runs}):")
print(f"  {len(observations):,} observations pushed in {pushed:.2f} s; the reactions done "
      f"{reacted:.2f} s after the first push")
print(f"  stella report --image: {statistics.median(cli):.2f} s ({size / 1e6:.1f} MB of HTML)")
print(f"  live GET /images/<digest>: {statistics.median(live):.2f} s ({len(page) / 1e6:.1f} MB)")
PY
    pkill -INT -f "serve --addr 127.0.0.1:$port" || true
    sleep 1
fi
