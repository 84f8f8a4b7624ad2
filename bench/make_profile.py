#!/usr/bin/env python3
"""Writes a `stella.runtime.profile/v1` document for the runtime-join benchmark of `stella assess`.

Usage: make_profile.py OUT.json OCI_DIR ADVISORIES_DIR [FRAMES=10000000] [PROCESSES=100]

The frames are unnamed, as `stella record --no-symbolize` writes them:
`{"kind":"file","buildId":"<hex>","fileOffset":"0x…"}`, leaf first. Their BuildIDs and offsets
come from the image's symbol bundle (the `application/vnd.stellaops.symbols+tar` blob in the OCI
layout `OCI_DIR`): each offset lies inside a real function of that binary, turned from its virtual
address into a file offset through the binary's executable segments. Besides them:
- about 4 % of the frames are in binaries the image does not have (made-up BuildIDs);
- about 1 in 12 stacks has its leaf in a function an advisory of ADVISORIES_DIR names
  (`ecosystem_specific.symbols` of the BENCH-DEB records), so the join finds hot symbols.

Each of PROCESSES processes maps a fixed set of binaries and draws its stacks from a pool of call
sites, as real programs do (the same functions recur, at a few offsets each). Exactly FRAMES
frames in all; seeded, so the same inputs give the same bytes.
"""

import glob
import json
import os
import random
import sys
import tarfile

BUNDLE_SCHEMA = "stella.symbols-bundle/v1"


def bundle_tables(oci):
    """The symbol tables of the first blob that is a symbol bundle."""
    for blob in sorted(glob.glob(os.path.join(oci, "blobs", "sha256", "*"))):
        with open(blob, "rb") as f:
            head = f.read(512)
        if len(head) < 512 or not head.startswith(b"index.json\0") or head[257:262] != b"ustar":
            continue
        tables = []
        with tarfile.open(blob) as tar:
            index = json.load(tar.extractfile("index.json"))
            if index.get("schema") != BUNDLE_SCHEMA:
                continue
            for entry in index["entries"]:
                tables.append(json.load(tar.extractfile(entry["path"])))
        return blob, tables
    sys.exit(f"no symbol bundle in {oci}")


def functions(table):
    """(sym, first file offset, size) of each function lying in an executable segment."""
    segs = [(int(s["offset"], 16), int(s["vaddr"], 16), s["filesz"])
            for s in table["segments"] if s["executable"]]
    out = []
    for f in table["functions"]:
        start, end = int(f["start"], 16), int(f["end"], 16)
        if end <= start:
            continue
        for off, vaddr, size in segs:
            if vaddr <= start and end <= vaddr + size:
                out.append((f["sym"], start - vaddr + off, end - start))
                break
    return out


def advisory_symbols(directory):
    names = set()
    for path in glob.glob(os.path.join(directory, "BENCH-DEB-*.json")):
        with open(path) as f:
            record = json.load(f)
        for affected in record.get("affected", []):
            names.update(affected.get("ecosystem_specific", {}).get("symbols", []))
    return names


def main():
    out, oci, advisories = sys.argv[1], sys.argv[2], sys.argv[3]
    total_frames = int(sys.argv[4]) if len(sys.argv) > 4 else 10_000_000
    processes = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    rng = random.Random(20260101)

    blob, tables = bundle_tables(oci)
    named = advisory_symbols(advisories)
    binaries = []  # (buildId, [(sym, offset, size)])
    hot = []  # (buildId, sym, offset, size) of functions an advisory names
    for t in sorted(tables, key=lambda t: t["buildId"]):
        fns = functions(t)
        if len(fns) < 4:
            continue
        binaries.append((t["buildId"], fns))
        hot.extend((t["buildId"], s, o, n) for s, o, n in fns if s in named)
    if not binaries or not hot:
        sys.exit(f"{blob}: {len(binaries)} binaries with functions, {len(hot)} advisory-named functions")
    foreign = ["%040x" % rng.getrandbits(160) for _ in range(20)]

    def frame(build_id, offset):
        return '{"kind":"file","buildId":"%s","fileOffset":"0x%x"}' % (build_id, offset)

    def site(fn):
        _, offset, size = fn
        return offset + rng.randrange(size)

    # Per process: the binaries it maps (a few shared by all, as libc is) and its call sites.
    common = rng.sample(binaries, 5)
    plans = []
    for p in range(processes):
        mapped = common + rng.sample(binaries, 15)
        pool = []
        for build_id, fns in mapped:
            for fn in rng.sample(fns, min(len(fns), 40)):
                pool.extend(frame(build_id, site(fn)) for _ in range(2))
        pool.extend(frame(rng.choice(foreign), rng.randrange(0x1000, 0x400000, 4)) for _ in range(60))
        hot_here = [frame(b, o + rng.randrange(n)) for b, _, o, n in rng.sample(hot, min(len(hot), 8))]
        plans.append((1000 + p * 7, f"worker-{p % 10}", pool, hot_here))

    stacks = []
    frames = 0
    while frames < total_frames:
        pid, comm, pool, hot_here = rng.choice(plans)
        depth = min(rng.randint(6, 50), total_frames - frames)
        body = [rng.choice(pool) for _ in range(depth)]
        if rng.random() < 1 / 12:
            body[0] = rng.choice(hot_here)
        count = max(1, int(rng.paretovariate(1.2)))
        stacks.append((count, pid, comm, body))
        frames += depth
    stacks.sort(key=lambda s: (-s[0], s[1]))
    samples = sum(s[0] for s in stacks)

    with open(out, "w") as f:
        f.write('{"schema":"stella.runtime.profile/v1","backend":"ebpf","hz":49,'
                '"target":{"kind":"all"},'
                '"window":{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T01:00:00Z",'
                '"sampledSeconds":3600.0},')
        f.write('"stats":{"samples":%d,"lost":0,"userStacksMissing":0,"kernelStacksMissing":%d,'
                '"frames":%d,"unknownFrames":%d},"stacks":[' % (samples, samples, frames, frames))
        for i, (count, pid, comm, body) in enumerate(stacks):
            if i:
                f.write(",")
            f.write('{"pid":%d,"comm":"%s","count":%d,"frames":[%s]}' % (pid, comm, count, ",".join(body)))
        f.write("]}\n")
    print(f"{out}: {frames} frames in {len(stacks)} stacks ({samples} samples) of {processes} processes, "
          f"{len(binaries)} binaries of the image, {len(hot)} advisory-named functions",
          file=sys.stderr)


if __name__ == "__main__":
    main()
