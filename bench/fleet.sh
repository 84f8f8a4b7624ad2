#!/usr/bin/env bash
# The fleet, measured (BENCHMARKS.md, "Fleet"):
#  1. ingest: 8 agents (threads of crates/stella-server/examples/push_load.rs, each with its own
#     ingest token) pushing PUSHES pushes of OBSERVATIONS observations to one `stella serve`
#     (release build) on SQLite, then on PostgreSQL (a throwaway cluster on 127.0.0.1): pushes/s,
#     observations/s, p50 / p99 / max push latency;
#  2. the agent's overhead (root, eBPF): the wall time of a fixed CPU-bound loop
#     (bench/programs/spin.c) alone and while `stella agent` samples the whole host at 49 Hz and
#     pushes every 5 s to a local `stella serve`, median of RUNS alternating runs (target ≤ 1.01),
#     with the agent's own CPU time (user + system) as a share of the loop's wall time.
#
# Usage: sudo [ONLY=ingest,agent] bench/fleet.sh [RUNS=3] [PUSHES=200] [OBSERVATIONS=100]
# Needs: gcc, PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<major>/bin), python3.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-3}
pushes=${2:-200}
observations=${3:-100}
only=${ONLY:-ingest,agent}
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
