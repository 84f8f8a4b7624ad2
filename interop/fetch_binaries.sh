#!/usr/bin/env bash
# Downloads the third-party binaries of interop/binaries.txt from PyPI and npm into
# interop/binaries/ and unpacks their native code, for the PE/Mach-O tests
# (crates/stella/tests/it/interop.rs): `<package>-<platform>-<file>.so` from wheels,
# `<package>-<file>` from npm tarballs. PE samples need no download: pip itself ships Windows
# launchers (pip/_vendor/distlib/*.exe).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/binaries"
mkdir -p "$out/wheels" "$out/npm"
python3 - "$here/binaries.txt" "$out" <<'PY'
import base64, hashlib, io, pathlib, subprocess, sys, tarfile, tempfile, zipfile

listing, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for line in listing.read_text().splitlines():
    if not line.strip() or line.startswith("#"):
        continue
    registry, platform, package, pin = line.split()
    if registry == "pypi":
        arch = platform.split("_", 3)[-1]  # macosx_10_9_x86_64 -> x86_64
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
            algorithm, digest = pin.split(":", 1)
            req.write(f"{package} --hash={algorithm}:{digest}\n")
            req.flush()
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                 "--no-deps", "--only-binary=:all:", "--platform", platform,
                 "--python-version", "3.12", "--require-hashes", "-r", req.name,
                 "-d", str(out / "wheels")],
                check=True,
            )
        name = package.split("==")[0].lower()
        version = package.split("==")[1]
        wheels = [w for w in (out / "wheels").glob("*.whl")
                  if w.name.lower().startswith(f"{name}-{version}-")
                  and hashlib.sha256(w.read_bytes()).hexdigest() == pin.split(":", 1)[1]]
        if len(wheels) != 1:
            sys.exit(f"{package} for {platform}: no wheel with the pinned hash in {out / 'wheels'}")
        with zipfile.ZipFile(wheels[0]) as z:
            for member in z.namelist():
                if member.endswith(".so"):
                    target = out / f"{name}-{arch}-{pathlib.PurePosixPath(member).name}"
                    target.write_bytes(z.read(member))
                    print(target)
    elif registry == "npm":
        algorithm, expected = pin.split("-", 1)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", "--silent", "--pack-destination", tmp, package],
                           check=True, stdout=subprocess.DEVNULL)
            (tarball,) = pathlib.Path(tmp).glob("*.tgz")
            data = tarball.read_bytes()
        actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if actual != expected:
            sys.exit(f"{package}: {algorithm} {actual}, not the pinned {expected}")
        (out / "npm" / tarball.name).write_bytes(data)
        name = package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith("package/bin/"):
                    target = out / f"{name}-{pathlib.PurePosixPath(member.name).name}"
                    target.write_bytes(tar.extractfile(member).read())
                    print(target)
    else:
        sys.exit(f"{listing}: unknown registry {registry!r} in {line!r}")
PY
