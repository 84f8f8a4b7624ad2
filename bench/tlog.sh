#!/usr/bin/env bash
# Durable append throughput of the embedded transparency log, proofs made and checked per
# second, and storage per entry, for 1 KiB entries appended in batches of 256 (what a log
# server batches from concurrent requests), 16, and 1 (one `stella attest` at a time).
#
# Usage: bench/tlog.sh            Needs: cargo. Writes into bench/out/tlog-*.
# Target (exit 1 when missed): >= 5,000 durable appends/s with batches of 256.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cargo build --release -q -p stella-tlog --example append_bench
bin=target/release/examples/append_bench
mkdir -p bench/out
echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); filesystem of bench/out: $(df -T bench/out | awk 'NR==2 {print $2}')"
echo
echo "| batch | entries | durable appends/s | proofs made/s | proofs checked/s | bytes/entry |"
echo "|---:|---:|---:|---:|---:|---:|"
status=0
for spec in "256 200000" "16 20000" "1 2000"; do
    set -- $spec
    line=$("$bin" --batch "$1" --entries "$2" --entry-bytes 1024 --dir "bench/out/tlog-$1")
    python3 - "$line" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print(f"| {d['batch']} | {d['entries']:,} | {d['appends_per_s']:,.0f} | {d['proofs_per_s']:,.0f} | "
      f"{d['verifications_per_s']:,.0f} | {d['bytes_per_entry']:,.1f} |")
PY
    if [[ "$1" == 256 ]]; then
        rate=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["appends_per_s"]))' "$line")
        first_rate=$rate
    fi
    rm -rf "bench/out/tlog-$1"
done
echo
if (( first_rate >= 5000 )); then
    echo "target: >= 5,000 durable appends/s (batches of 256): ${first_rate}/s, met"
else
    echo "target: >= 5,000 durable appends/s (batches of 256): ${first_rate}/s, MISSED"
    status=1
fi
exit $status
