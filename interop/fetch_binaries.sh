#!/usr/bin/env bash
# Downloads the third-party binaries of interop/binaries.txt from PyPI into interop/binaries/
# and unpacks their native libraries, for the PE/Mach-O identity tests
# (crates/stella/tests/it/interop.rs). PE samples need no download: pip itself ships Windows
# launchers (pip/_vendor/distlib/*.exe).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/binaries"
mkdir -p "$out/wheels"
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform macosx_11_0_arm64 --python-version 3.12 --require-hashes \
    -r "$here/binaries.txt" -d "$out/wheels"
python3 - "$out" <<'PY'
import pathlib, sys, zipfile
out = pathlib.Path(sys.argv[1])
for wheel in sorted((out / "wheels").glob("*.whl")):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.endswith(".so"):
                target = out / (wheel.name.split("-")[0].lower() + "-" + pathlib.PurePosixPath(name).name)
                target.write_bytes(z.read(name))
                print(target)
PY
