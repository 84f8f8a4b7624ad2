#!/usr/bin/env bash
# FuncProof's two measured targets on the real binaries of this kind of machine:
#   1. boundary accuracy: function-start and exact-range F1 of a stripped copy against the
#      unstripped symbol table (bench/funcproof_accuracy.py), target >= 0.99 on every binary;
#   2. speed and memory on the Rust toolchain's libLLVM (bench/funcproof_speed.py): within 3x of
#      `b3sum --num-threads 1`, the call graph >= 20x faster than `llvm-objdump -d`, peak RSS
#      <= 1.5x the file.
#
# Usage: bench/funcproof.sh [RUNS=5]
# Needs: cargo, python3, binutils (readelf), llvm-strip and llvm-objdump (Debian: apt-get install llvm),
# b3sum (cargo install b3sum). The libc debug file (Debian: apt-get install libc6-dbg) makes libc's
# truth its full symbol table; without it, libc is scored against its .dynsym only.
# Exit 1 if a target is missed; a binary that is not on the machine is reported and skipped.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}
out="$root/bench/out"
mkdir -p "$out"
(cd "$root" && cargo build --release --locked -p stella >&2)
stella="$root/target/release/stella"
sysroot=$(rustc --print sysroot)
status=0

libc=$(ldd "$stella" | awk '/libc\.so\.6/ {print $3}')
libc_truth=""
if [[ -n "$libc" ]]; then
    id=$(readelf -n "$libc" | awk '/Build ID/ {print $3}')
    debug="/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
    [[ -f "$debug" ]] && libc_truth="=$debug"
fi
# The largest match: libLLVM-<v>.so next to the library is a one-line linker script.
llvm=$(ls -S "$sysroot"/lib/libLLVM*.so* 2>/dev/null | head -1 || true)
driver=$(ls "$sysroot"/lib/librustc_driver-*.so 2>/dev/null | head -1 || true)
python_lib=$(ls "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/lib/libpython3.*.so.1.0 2>/dev/null | sort -V | tail -1 || true)

echo "machine: $(nproc) CPU, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $("$stella" --version)"
echo
echo "== boundary accuracy (stripped copy vs symbol table)"
python3 "$root/bench/funcproof_accuracy.py" --stella "$stella" --out "$out/accuracy" \
    --json "$out/funcproof-accuracy.json" --min-f1 0.99 \
    "${libc}${libc_truth}" "$llvm" "$driver" /usr/bin/node "$python_lib" || status=1

echo
echo "== speed and memory on $(basename "$llvm")"
if [[ -z "$llvm" ]]; then
    echo "SKIPPED: no libLLVM*.so under $sysroot/lib" >&2
    exit 1
fi
python3 "$root/bench/funcproof_speed.py" --stella "$stella" --runs "$runs" --slow-runs 1 \
    --json "$out/funcproof-speed.json" "$llvm" || status=1
exit $status
