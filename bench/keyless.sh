#!/usr/bin/env bash
# Keyless Sigstore bundle verifications per second of one core, in one run, on the same bundle
# (the conformance suite's happy-path-v0.3: a Fulcio certificate with an embedded SCT, a Rekor v1
# entry with a signed entry timestamp and an inclusion proof; the public-good trusted root):
#   Stella          stella_tlog::bundle_verify::verify_bundle in a loop (the
#                   verify_bundle_loop example, release build): what `stella verify-bundle` runs
#   sigstore-python sigstore.verify.Verifier.verify_artifact in a loop in one process
#   sigstore-js     @sigstore/verify's Verifier.verify in a loop in one process
#                   (interop/sigstore_verify_keyless.mjs --repeat)
# Each parses the bundle's JSON every time and builds its trust material once, and verifies once
# untimed before its timed loop. Every loop is single-threaded, so each figure is per core.
# Prints a table and the ratios.
#
# Usage: bench/keyless.sh [N=2000]     Needs: cargo, python3 with PyPI sigstore (interop/
# requirements.txt), node with interop/node_modules (cd interop && npm ci).
# Target (exit 1 when missed): Stella >= 10x sigstore-python.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${1:-2000}
suite=$root/../shared/fixtures/sigstore-conformance
case_dir=$suite/bundle-verify/happy-path-v0.3
bundle=$case_dir/bundle.sigstore.json
artifact=$suite/bundle-verify/a.txt
trusted_root=$suite/public-good/production-trusted_root.json
identity=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
issuer=https://token.actions.githubusercontent.com

cargo build --release -q --locked -p stella-tlog --example verify_bundle_loop
bin=${CARGO_TARGET_DIR:-$root/target}/release/examples/verify_bundle_loop
echo "machine: $(nproc) CPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "bundle: ${case_dir#"$root"/../}"
echo

stella=$("$bin" "$bundle" "$artifact" "$trusted_root" "$identity" "$issuer" "$n")
python_n=$(( n / 10 > 50 ? n / 10 : 50 ))
python=$(python3 - "$bundle" "$artifact" "$trusted_root" "$identity" "$issuer" "$python_n" <<'PY'
import json, sys, time
from importlib.metadata import version
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy
bundle_path, artifact_path, root_path, identity, issuer, n = sys.argv[1:]
n = int(n)
verifier = Verifier(trusted_root=TrustedRoot.from_file(root_path))
text = open(bundle_path).read()
artifact = open(artifact_path, "rb").read()
wanted = policy.Identity(identity=identity, issuer=issuer)
verifier.verify_artifact(artifact, Bundle.from_json(text), wanted)  # untimed warm-up
start = time.perf_counter()
for _ in range(n):
    verifier.verify_artifact(artifact, Bundle.from_json(text), wanted)
seconds = time.perf_counter() - start
print(json.dumps({"verifications": n, "seconds": seconds, "per_second": n / seconds,
                  "version": version("sigstore")}))
PY
)
js_n=$(( n / 20 > 50 ? n / 20 : 50 ))
js=$(node interop/sigstore_verify_keyless.mjs "$bundle" "$artifact" "$trusted_root" "$identity" \
    "$issuer" --repeat "$js_n" 2>/dev/null)
js_version=$(node -p 'require("./interop/node_modules/@sigstore/verify/package.json").version')

python3 - "$stella" "$python" "$js" "$js_version" <<'PY'
import json, sys
stella, python, js = (json.loads(a) for a in sys.argv[1:4])
js_version = sys.argv[4]
js_rate = js["repeat"] / js["seconds"]
rows = [("Stella (verify_bundle, release)", stella["verifications"], stella["per_second"]),
        (f"sigstore-python {python['version']}", python["verifications"], python["per_second"]),
        (f"@sigstore/verify {js_version} (Node {__import__('subprocess').check_output(['node', '--version'], text=True).strip()})",
         js["repeat"], js_rate)]
print("| verifier | verifications | verifications/s (one core) | Stella is |")
print("|---|---:|---:|---:|")
for name, count, rate in rows:
    ratio = "" if name.startswith("Stella") else f"{stella['per_second'] / rate:,.1f}x faster"
    print(f"| {name} | {count:,} | {rate:,.0f} | {ratio} |")
PY
echo
ratio=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["per_second"] / json.loads(sys.argv[2])["per_second"])' "$stella" "$python")
if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 10 else 1)' "$ratio"; then
    printf 'target: >= 10x sigstore-python: %.1fx, met\n' "$ratio"
else
    printf 'target: >= 10x sigstore-python: %.1fx, MISSED\n' "$ratio"
    exit 1
fi
