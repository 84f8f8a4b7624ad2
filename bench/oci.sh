#!/usr/bin/env bash
# Copy an image with 100 referrers from an OCI layout to a registry and back with
# `stella oci copy`, against `skopeo copy` of the same image without referrers (skopeo does not
# follow referrers), on Debian's docker-registry (distribution 2.8, so the referrers fallback
# tag is maintained for every artifact) on 127.0.0.1.
#
# Usage: bench/oci.sh [REFERRERS=100] [RUNS=3]
# Needs: cargo, python3, docker-registry and skopeo (Debian: apt-get install docker-registry skopeo).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
referrers=${1:-100}
runs=${2:-3}
for tool in docker-registry skopeo; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (apt-get install docker-registry skopeo)" >&2; exit 1; }
done
cargo build --release -q
stella=$root/target/release/stella
work=$(mktemp -d)
trap 'kill $registry_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done

# An image of three 4 MiB layers, and REFERRERS artifacts of 2 KiB attached to it.
python3 - "$work/img" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{root}/blobs/sha256/{d}", "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
config = blob(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
layers = [dict(blob(os.urandom(4 << 20)), mediaType="application/vnd.oci.image.layer.v1.tar") for _ in range(3)]
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"), "layers": layers}).encode()
m = blob(manifest)
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{root}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [dict(m,
    mediaType="application/vnd.oci.image.manifest.v1+json",
    annotations={"org.opencontainers.image.ref.name": "app"})]}))
PY
for i in $(seq "$referrers"); do
    head -c 2048 /dev/urandom > "$work/evidence.bin"
    "$stella" oci attach --image "oci-layout:$work/img:app" --artifact-type application/vnd.stellaops.funcproof+json "$work/evidence.bin" >/dev/null
done

time_it() { # label command...
    local best=999999 t
    for r in $(seq "$runs"); do
        rm -rf "$work/back" "$work/skopeo-back"
        local start=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        t=$(python3 -c "import time; print(time.time() - $start)")
        best=$(python3 -c "print(min($best, $t))")
    done
    echo "$best"
}

stella_up=$(time_it "$stella" oci copy "oci-layout:$work/img:app" "127.0.0.1:$port/bench/stella-$RANDOM:app")
# The registry->layout leg needs a populated repository first.
"$stella" oci copy "oci-layout:$work/img:app" "127.0.0.1:$port/bench/stella-seed:app" >/dev/null
stella_down=$(time_it "$stella" oci copy "127.0.0.1:$port/bench/stella-seed:app" "oci-layout:$work/back:app")
count=$("$stella" oci referrers --json "oci-layout:$work/back:app" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["referrers"]))')
skopeo_up=$(time_it skopeo copy --dest-tls-verify=false "oci:$work/img:app" "docker://127.0.0.1:$port/bench/skopeo-$RANDOM:app")
skopeo copy --dest-tls-verify=false "oci:$work/img:app" "docker://127.0.0.1:$port/bench/skopeo-seed:app" >/dev/null 2>&1
skopeo_down=$(time_it skopeo copy --src-tls-verify=false "docker://127.0.0.1:$port/bench/skopeo-seed:app" "oci:$work/skopeo-back:app")

echo "image: 3 layers of 4 MiB; $referrers referrers of 2 KiB; best of $runs; $(nproc) CPU"
echo
echo "| copy | stella (image + $referrers referrers) s | skopeo (image only) s | stella / skopeo |"
echo "|---|---:|---:|---:|"
python3 - "$stella_up" "$skopeo_up" "$stella_down" "$skopeo_down" <<'PY'
import sys
su, ku, sd, kd = map(float, sys.argv[1:])
print(f"| layout -> registry | {su:.2f} | {ku:.2f} | {su / ku:.2f}x |")
print(f"| registry -> layout | {sd:.2f} | {kd:.2f} | {sd / kd:.2f}x |")
PY
echo
echo "referrers in the layout copied back: $count (expected $referrers)"
[[ "$count" == "$referrers" ]]
