#!/usr/bin/env bash
# The auditor's pack of the /usr/lib/x86_64-linux-gnu image (about 1,000 binaries): `stella audit
# export` with and without the binaries (seconds, MB), and `stella audit verify` of the pack with
# the binaries (every member checked, every signature and log proof, every FuncProof replayed
# against the packed layers), as a ratio to `sha256sum` of the same members unpacked (target
# <= 3x). Verify runs with an empty home.
#
# Usage: bench/audit_pack.sh [RUNS=3]
# The root filesystem (hard links to /usr/lib/x86_64-linux-gnu) and its scan are kept under
# bench/out/audit. Exit 2 when the ratio misses its target.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${1:-3}
out="$root/bench/out/audit"
mkdir -p "$out"
cargo build --release -q --locked -p stella
stella=${CARGO_TARGET_DIR:-$root/target}/release/stella
export STELLA_PASSWORD=bench STELLA_HOME="$out/home"

rootfs="$out/usrlib"
if [[ ! -f "$rootfs/done" ]]; then
    rm -rf "$rootfs" "$STELLA_HOME"
    mkdir -p "$rootfs/usr/lib"
    cp -al /usr/lib/x86_64-linux-gnu "$rootfs/usr/lib/"
    echo "scanning $rootfs (once)" >&2
    "$stella" -q scan "$rootfs" >/dev/null
    touch "$rootfs/done"
fi
image="oci-layout:$STELLA_HOME/oci:usrlib"

# Export: the same bytes each time; sizes of both packs.
"$stella" -q audit export --image "$image" --with-binaries -o "$out/full.tar"
"$stella" -q audit export --image "$image" -o "$out/slim.tar"
"$stella" -q audit export --image "$image" --with-binaries -o "$out/again.tar"
cmp "$out/full.tar" "$out/again.tar"

# The members as files, for sha256sum.
rm -rf "$out/members" && mkdir -p "$out/members"
tar -xf "$out/full.tar" -C "$out/members"
find "$out/members" -type f -print0 | sort -z >"$out/members.list"
cat >"$out/sha.sh" <<SH
#!/usr/bin/env bash
xargs -0 sha256sum <"$out/members.list" >/dev/null
SH
chmod +x "$out/sha.sh"
empty="$out/empty-home"
cat >"$out/verify.sh" <<SH
#!/usr/bin/env bash
rm -rf "$empty" && mkdir -p "$empty"
STELLA_HOME="$empty" exec "$stella" -q audit verify "$out/full.tar" --json >"$out/verify.json"
SH
chmod +x "$out/verify.sh"

python3 "$root/bench/timeit.py" --runs "$runs" --warmup 1 --export-json "$out/times.json" \
    "$stella -q audit export --image $image --with-binaries -o $out/full.tar" \
    "$stella -q audit export --image $image -o $out/slim.tar" \
    "$out/verify.sh" \
    "$out/sha.sh"

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
t = json.load(open(f"{out}/times.json"))["results"]
full, slim, verify, sha = (r["median"] for r in t)
v = json.load(open(f"{out}/verify.json"))
mb = lambda p: os.path.getsize(p) / 1e6
print(f"pack with binaries: {mb(out + '/full.tar'):,.0f} MB, {v['members']} members, export {full:.2f} s")
print(f"pack without: {mb(out + '/slim.tar'):,.0f} MB, export {slim:.2f} s")
print(f"verify (members, signatures, log proofs, FuncProofs replayed): {verify:.2f} s, verified={v['verified']}")
print(f"sha256sum of the same members: {sha:.2f} s")
ratio = verify / sha
print(f"ratio verify / sha256sum: {ratio:.2f}x (target <= 3x)")
sys.exit(0 if ratio <= 3 and v["verified"] else 2)
PY
