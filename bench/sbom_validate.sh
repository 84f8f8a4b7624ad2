#!/usr/bin/env bash
# `stella sbom validate`'s library flow (official CycloneDX schema + semantic checks) on the largest
# real SBOM in the fixtures and on a large generated one: the embedded schema's one-off compilation,
# then the median of repeated validations, against the same schema read from a directory.
#
# Usage: bench/sbom_validate.sh [MIN_MEGABYTES=5] [RUNS=15]
# Needs: cargo, python3 (bench/make_sbom.py), ../shared/fixtures beside the repository.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
min_mb=${1:-5}
runs=${2:-15}
out="$root/bench/out"
fixtures="$root/../shared/fixtures"
sbom="$out/sbom-${min_mb}mb-seed1.json"
mkdir -p "$out"

if [[ ! -s "$sbom" ]]; then
    echo "writing $sbom" >&2
    python3 "$root/bench/make_sbom.py" "$sbom" "$min_mb" 1
fi

(cd "$root" && cargo build --release --locked -p stella-sbom --example validate_speed >&2)
target=${CARGO_TARGET_DIR:-$root/target}
bin="$target/release/examples/validate_speed"

"$bin" "$fixtures/sbom/cyclonedx-py-7.5.0-spec1.7.json" $((runs * 10)) "$fixtures/cyclonedx/schema"
"$bin" "$sbom" "$runs" "$fixtures/cyclonedx/schema"
