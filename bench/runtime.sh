#!/usr/bin/env bash
# Runtime evidence costs, each against its baseline in the same run (run as root: eBPF):
#  1. sampling overhead: the wall time of a fixed CPU-bound loop with `stella record --all
#     --hz 49` sampling the whole host vs without; median of RUNS alternating runs (target ≤ 1.01);
#  2. uprobe cost per hit: a loop of 2,000,000 calls with `stella witness` counting them vs
#     without (target ≤ 1 µs per call), and the count must be exact; beside it the kernel's own
#     uprobe path without BPF (`perf probe` + `perf stat`), the floor any uprobe tool pays;
#  3. symbolisation throughput, warm: 20,000 file offsets of a large binary with symbols named
#     by `stella symbolize` vs `eu-addr2line -f` on the same addresses (ratio);
#  4. attribution: share of samples of a process whose leaf is its known hot function
#     (target ≥ 95 %), at the default 49 Hz for 10 s.
#
# Usage: sudo [ONLY=overhead,uprobe,symbolize,attribution] bench/runtime.sh [RUNS=5] [BINARY=target/release/stella]
# Needs: gcc, eu-addr2line (elfutils), perf (linux-perf), python3.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-5}
[[ $(id -u) == 0 ]] || { echo "FAIL: run as root (eBPF needs CAP_BPF and CAP_PERFMON)" >&2; exit 1; }
command -v eu-addr2line >/dev/null || { echo "FAIL: eu-addr2line not installed (apt-get install elfutils)" >&2; exit 1; }
command -v perf >/dev/null || { echo "FAIL: perf not installed (apt-get install linux-perf)" >&2; exit 1; }
cargo build --release -q -p stella
stella=$root/target/release/stella
symbols_binary=${2:-$stella}
work=$(mktemp -d)
trap 'pkill -INT -f "$work/" 2>/dev/null || true; rm -rf "$work"' EXIT
gcc -O2 -fno-omit-frame-pointer -o "$work/spin" bench/programs/spin.c
gcc -O2 -g -fno-omit-frame-pointer -o "$work/hot" crates/stella-runtime/tests/programs/hot.c

python3 - "$stella" "$work" "$runs" "$symbols_binary" <<'PY'
import json, os, random, signal, statistics, subprocess, sys, time
stella, work, runs, symbols_binary = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
home = f"{work}/home"
env = dict(os.environ, STELLA_HOME=home)

def spin(*args):
    out = subprocess.run([f"{work}/spin", *args], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1e9

only = set(filter(None, os.environ.get("ONLY", "").split(",")))
def want(section):
    return not only or section in only

# 1. Sampling overhead.
if want("overhead"):
    iterations = "1200000000"
    spin("work", "100000000")  # warm-up
    base, sampled = [], []
    for _ in range(runs):
        base.append(spin("work", iterations))
        rec = subprocess.Popen([stella, "record", "--all", "--hz", "49", "--duration", "1h",
                                "--no-symbolize", "-o", f"{work}/all.folded"], env=env,
                               stderr=subprocess.DEVNULL)
        time.sleep(1.5)  # loaded and attached
        sampled.append(spin("work", iterations))
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    m_base, m_sampled = statistics.median(base), statistics.median(sampled)
    print(f"sampling overhead (whole host, 49 Hz, median of {runs}):")
    print(f"  without {m_base:8.3f} s   with {m_sampled:8.3f} s   ratio {m_sampled / m_base:.4f} (target <= 1.01)")

# 2. Uprobe cost per hit, for a function opening with `push %rbp` (breakpoint trap, the push
# emulated) and for one opening with a 5-byte NOP (Linux >= 6.18: a call into the uprobe
# trampoline after the first hit). The BPF program's own share comes from the kernel's BPF
# statistics (`kernel.bpf_stats_enabled`, read from the witness's program fd), in one extra run.
if want("uprobe"):
    def witness_run(symbol, variant, stats=False):
        wit = subprocess.Popen([stella, "witness", "--binary", f"{work}/spin", "--symbol", symbol,
                                "--duration", "1h", "--json", "--no-symbolize"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        elapsed = spin("calls", str(calls), "0", variant)
        prog_ns = None
        if stats:
            for fd in os.listdir(f"/proc/{wit.pid}/fdinfo"):
                try:
                    info = dict(line.split(":", 1) for line in
                                open(f"/proc/{wit.pid}/fdinfo/{fd}").read().splitlines() if ":" in line)
                except OSError:
                    continue
                if "run_cnt" in info and int(info["run_cnt"]) > 0:
                    prog_ns = int(info["run_time_ns"]) / int(info["run_cnt"])
        wit.send_signal(signal.SIGINT)
        out, _ = wit.communicate(timeout=60)
        counted = json.loads(out)[0]["calls"]
        assert counted == calls, f"witness counted {counted} of {calls} calls of {symbol}"
        return elapsed, prog_ns

    calls = 2_000_000
    print(f"uprobe cost ({calls} calls, each counted exactly, median of {runs}):")
    for symbol, variant, entry in [("probed", "push", "push %rbp entry (trap, emulated push)"),
                                   ("probed_nop5", "nop5", "5-byte NOP entry (optimised uprobe)  ")]:
        plain = statistics.median(spin("calls", str(calls), "0", variant) for _ in range(runs))
        m_probed = statistics.median(witness_run(symbol, variant)[0] for _ in range(runs))
        per_hit = (m_probed - plain) / calls * 1e6
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            saved = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        try:
            _, prog_ns = witness_run(symbol, variant, stats=True)
        finally:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(saved)
        line = f"  {entry}: without {plain:6.3f} s   stella witness {m_probed:6.3f} s = {per_hit:.3f} us per hit (target <= 1)"
        if prog_ns is not None:
            line += f"; Stella's BPF program {prog_ns:.0f} ns of it"
        print(line)
        if variant == "push":
            # The peer: a plain kernel uprobe counted by perf (no BPF), same function, same calls.
            subprocess.run(["perf", "probe", "-q", "-d", "probe_spin:*"], capture_output=True)
            subprocess.run(["perf", "probe", "-q", "-x", f"{work}/spin", symbol], check=True,
                           capture_output=True)
            perf_times = []
            for _ in range(runs):
                out = subprocess.run(["perf", "stat", "-x,", "-e", f"probe_spin:{symbol}", f"{work}/spin",
                                      "calls", str(calls), "0", variant],
                                     capture_output=True, text=True, check=True)
                perf_times.append(int(out.stdout.split()[0]) / 1e9)
                assert out.stderr.split(",")[0].strip() == str(calls), out.stderr
            subprocess.run(["perf", "probe", "-q", "-d", "probe_spin:*"], capture_output=True)
            m_perf = statistics.median(perf_times)
            perf_hit = (m_perf - plain) / calls * 1e6
            print(f"  {'':38}  kernel uprobe alone (perf probe + perf stat) {m_perf:6.3f} s = "
                  f"{perf_hit:.3f} us per hit; stella / perf {per_hit / perf_hit:.2f}")

# 3. Symbolisation throughput: the same addresses through both tools.
if want("symbolize"):
    proof = json.loads(subprocess.run([stella, "--home", home, "funcproof", symbols_binary],
                                      capture_output=True, check=True).stdout)
    bid = proof["buildId"]
    # Named functions only: ranges found by disassembly alone carry a made-up name.
    funcs = [f for f in proof["functions"]
             if int(f["end"], 16) > int(f["start"], 16) and f.get("source") != "disasm"]
    random.seed(7)
    picked = [random.choice(funcs) for _ in range(20_000)]
    vaddrs = [random.randrange(int(f["start"], 16), int(f["end"], 16)) for f in picked]
    # File offsets through the PT_LOAD segments (readelf -lW).
    loads = []
    for line in subprocess.run(["readelf", "-lW", symbols_binary], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            off, va, _, filesz = (int(x, 16) for x in parts[1:5])
            loads.append((va, filesz, off))
    def to_off(va):
        for base_va, size, off in loads:
            if base_va <= va < base_va + size:
                return va - base_va + off
        raise SystemExit(f"address {va:#x} in no PT_LOAD")
    cache = f"{work}/cache"
    os.makedirs(cache, exist_ok=True)
    subprocess.run(["cp", symbols_binary, f"{cache}/{bid}.elf"], check=True)
    with open(f"{work}/frames.txt", "w") as f:
        for va in vaddrs:
            f.write(f"{bid} {to_off(va):#x}\n")
    with open(f"{work}/addrs.txt", "w") as f:
        for va in vaddrs:
            f.write(f"{va:#x}\n")
    def timed(cmd, stdin):
        with open(stdin) as i:
            start = time.perf_counter()
            subprocess.run(cmd, stdin=i, stdout=subprocess.DEVNULL, check=True)
            return time.perf_counter() - start
    ours_cmd = [stella, "symbolize", "--format", "raw", "--symbol-cache", cache, "-"]
    theirs_cmd = ["eu-addr2line", "-f", "-e", symbols_binary]
    timed(ours_cmd, f"{work}/frames.txt"); timed(theirs_cmd, f"{work}/addrs.txt")  # warm the page cache
    t_ours = statistics.median(timed(ours_cmd, f"{work}/frames.txt") for _ in range(3))
    t_theirs = statistics.median(timed(theirs_cmd, f"{work}/addrs.txt") for _ in range(3))
    n = len(vaddrs)
    print(f"symbolisation of {n} addresses in {os.path.basename(symbols_binary)} ({len(funcs)} functions, median of 3):")
    print(f"  stella symbolize {t_ours:7.3f} s ({n / t_ours:10.0f} addr/s)   eu-addr2line {t_theirs:7.3f} s ({n / t_theirs:10.0f} addr/s)   ratio {t_theirs / t_ours:.1f}x")

# 4. Attribution.
if want("attribution"):
    hot = subprocess.Popen([f"{work}/hot", "14"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    out = subprocess.run([stella, "record", "--pid", str(hot.pid), "--duration", "10s", "--json"],
                         env=env, capture_output=True, check=True)
    hot.wait()
    profile = json.loads(out.stdout)
    total = sum(s["count"] for s in profile["stacks"])
    leaf_hot = sum(s["count"] for s in profile["stacks"]
                   if s["frames"] and s["frames"][0].get("symbol", {}).get("function") == "hot_loop")
    print(f"attribution (49 Hz, 10 s): {leaf_hot} of {total} samples have hot_loop as leaf: "
          f"{100 * leaf_hot / max(total, 1):.1f} % (target >= 95 %)")
PY
