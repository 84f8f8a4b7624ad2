#!/usr/bin/env python3
"""Writes an advisory set of at least COUNT records for the assessment benchmark.

Usage: make_advisories.py OUT_DIR COUNT ROOTFS

OUT_DIR receives, flat:
- every Go vulnerability database record and every RustSec advisory of ../shared/fixtures
  (copied as they are);
- Debian-shaped OSV records (ecosystem `Debian:12`, source package names) for the packages of
  ROOTFS's dpkg database, until COUNT is reached. Each names two vulnerable functions: one the
  package's shared libraries really export (taken from `nm -D`), one no library holds, so the
  assessment's symbol search runs both ways. Half are fixed in a version above the installed
  one (affected), a quarter below it (not affected), a quarter for another release.

Seeded and sorted: the same inputs give the same files.
"""

import json
import os
import random
import shutil
import subprocess
import sys


def packages(rootfs):
    status = os.path.join(rootfs, "var/lib/dpkg/status")
    out, cur = [], {}
    with open(status, encoding="utf-8", errors="replace") as f:
        for line in f.read().split("\n") + [""]:
            if not line.strip():
                if cur.get("Package") and "installed" in cur.get("Status", ""):
                    source = cur.get("Source", cur["Package"]).split()[0]
                    out.append((cur["Package"], source, cur.get("Version", "0")))
                cur = {}
            elif not line.startswith(" ") and ":" in line:
                k, v = line.split(":", 1)
                cur[k] = v.strip()
    return sorted(out)


def exported(rootfs, package):
    listing = os.path.join(rootfs, "var/lib/dpkg/info", package + ".list")
    if not os.path.exists(listing):
        listing = os.path.join(rootfs, "var/lib/dpkg/info", package + ":amd64.list")
    names = []
    try:
        paths = open(listing, encoding="utf-8", errors="replace").read().split("\n")
    except OSError:
        return names
    for p in paths:
        if ".so" not in os.path.basename(p):
            continue
        full = os.path.join(rootfs, p.lstrip("/"))
        if not os.path.isfile(full) or os.path.islink(full):
            continue
        r = subprocess.run(["nm", "-D", "--defined-only", full], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TtWi":
                names.append(parts[2].split("@")[0])
        if len(names) > 200:
            break
    return sorted(set(names))


def main():
    out, count, rootfs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared/fixtures/advisories")
    os.makedirs(out, exist_ok=True)
    written = 0
    for sub, keep in (("go-vulndb-osv", lambda n: n.endswith(".json")),
                      ("rustsec-db", lambda n: n.startswith("RUSTSEC-") and n.endswith(".md"))):
        for d, _, names in sorted(os.walk(os.path.join(fixtures, sub))):
            for n in sorted(names):
                if keep(n):
                    shutil.copyfile(os.path.join(d, n), os.path.join(out, n))
                    written += 1
    rng = random.Random(1)
    pkgs = packages(rootfs)
    symbols = {p: exported(rootfs, p) for p, _, _ in pkgs}
    i = 0
    while written < count:
        package, source, version = pkgs[i % len(pkgs)]
        i += 1
        real = symbols[package]
        named = [rng.choice(real)] if real else []
        named.append(f"bench_absent_function_{i}")
        kind = rng.random()
        if kind < 0.5:
            ecosystem, events = "Debian:12", [{"introduced": "0"}, {"fixed": "9999:1"}]
        elif kind < 0.75:
            ecosystem, events = "Debian:12", [{"introduced": "0"}, {"fixed": "0:0~0"}]
        else:
            ecosystem, events = "Debian:11", [{"introduced": "0"}, {"fixed": "9999:1"}]
        record = {
            "schema_version": "1.6.0",
            "id": f"BENCH-DEB-{i:06d}",
            "modified": "2026-01-01T00:00:00Z",
            "aliases": [f"CVE-2099-{i:06d}"],
            "summary": f"synthetic advisory {i} for {source}",
            "affected": [{
                "package": {"ecosystem": ecosystem, "name": source,
                            "purl": f"pkg:deb/debian/{source}?distro=debian-12"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "ecosystem_specific": {"symbols": named},
            }],
        }
        with open(os.path.join(out, f"BENCH-DEB-{i:06d}.json"), "w") as f:
            json.dump(record, f, sort_keys=True)
        written += 1
    print(f"{written} advisories in {out} ({i} synthesised for {len(pkgs)} packages)", file=sys.stderr)


if __name__ == "__main__":
    main()
