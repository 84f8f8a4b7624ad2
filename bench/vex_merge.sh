#!/usr/bin/env bash
# VEX merge of 1,000 OpenVEX documents holding 1,000,000 statements: Stella's read + merge + write
# against serde_json parsing the same bytes into `Value`, peak memory against the input size, and
# the same merged bytes for a shuffled input order (crates/stella-vex/examples/merge_bench.rs).
#
# Usage: bench/vex_merge.sh [DOCUMENTS=1000] [STATEMENTS_PER_DOCUMENT=1000] [RUNS=3]
# The documents are written once by bench/make_vex.py (seed 1) and kept under bench/out.
# Exit 1 if the merged bytes depend on the input order, 2 if a target is missed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
documents=${1:-1000}
per_document=${2:-1000}
runs=${3:-3}
out="$root/bench/out"
docs="$out/vex-${documents}x${per_document}-seed1"

if [[ ! -f "$docs/done" ]]; then
    echo "writing $documents OpenVEX documents to $docs" >&2
    rm -rf "$docs"
    python3 "$root/bench/make_vex.py" "$docs" "$documents" "$per_document" 1
    touch "$docs/done"
fi

echo "machine: $(nproc) CPU, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(rustc --version)"
cd "$root"
cargo build --release --locked -p stella-vex --example merge_bench >&2
target=${CARGO_TARGET_DIR:-$root/target}
"$target/release/examples/merge_bench" "$docs" "$runs"
