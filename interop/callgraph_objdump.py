"""Every `bl` that `llvm-objdump -d` shows, looked up in `stella funcproof --callgraph`'s graph by
address: the call site's proven function must have an edge to the callee (the proven function
holding the target, or the import a `<name@plt>` target names). Works on stripped binaries,
where objdump's labels are only the nearest dynamic symbol.

Usage: callgraph_objdump.py STELLA BINARY
Prints the counts; exit 1 when an edge is missing (each one listed, up to 20).
"""

import bisect
import json
import re
import subprocess
import sys


def main() -> int:
    stella, binary = sys.argv[1], sys.argv[2]
    proof = json.loads(
        subprocess.run(
            [stella, "funcproof", "--callgraph", binary], capture_output=True, check=True
        ).stdout
    )
    functions = sorted(
        (int(f["start"], 16), int(f["end"], 16), f["sym"]) for f in proof["functions"]
    )
    starts = [f[0] for f in functions]

    def owner(address: int):
        i = bisect.bisect_right(starts, address) - 1
        if i < 0:
            return None
        start, end, name = functions[i]
        return name if start <= address < max(end, start + 1) else None

    edges = {tuple(e) for e in proof["callgraph"]["edges"]}
    listing = subprocess.run(
        ["llvm-objdump", "-d", "--no-show-raw-insn", binary],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    calls = checked = outside = 0
    missing = []
    # `   6d0:      	bl	0x8b0 <tail>`
    call = re.compile(r"^\s*([0-9a-f]+):\s+bl\s+0x([0-9a-f]+)(?:\s+<([^>]*)>)?")
    for line in listing.splitlines():
        m = call.match(line)
        if not m:
            continue
        calls += 1
        pc, target, label = int(m.group(1), 16), int(m.group(2), 16), m.group(3) or ""
        caller = owner(pc)
        callee = label[: -len("@plt")] if label.endswith("@plt") else owner(target)
        if caller is None or callee is None:
            outside += 1
            continue
        if caller == callee:
            continue
        checked += 1
        if (caller, callee) not in edges:
            missing.append((hex(pc), caller, callee))
    print(
        f"{binary}: {len(functions)} functions, {len(edges)} edges; llvm-objdump: {calls} bl, "
        f"{checked} between two proven functions checked, {outside} outside them, "
        f"{len(missing)} missing"
    )
    for m in missing[:20]:
        print("  missing", *m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
