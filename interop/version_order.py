#!/usr/bin/env python3
"""Order version pairs with PyPI `univers` (the version library of aboutcode's vulnerablecode).

Usage: version_order.py < PAIRS
Each input line is `ECOSYSTEM<TAB>A<TAB>B` with ECOSYSTEM one of `Debian`, `PyPI`, `crates.io`,
`Go`; each output line is `-1`, `0` or `1` (A before, equal to, after B), or `error` when univers
refuses a version. Exit 0 when every line was answered; 2 on a malformed line.
"""

import sys

from univers.versions import DebianVersion, GolangVersion, PypiVersion, SemverVersion

KINDS = {
    "Debian": DebianVersion,
    "PyPI": PypiVersion,
    "crates.io": SemverVersion,
    "Go": GolangVersion,
}


def order(kind, a: str, b: str) -> str:
    try:
        x, y = kind(a), kind(b)
    except Exception:  # univers raises several exception types for a refused version
        return "error"
    return str((x > y) - (x < y))


def main() -> int:
    out = []
    for line in sys.stdin:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3 or parts[0] not in KINDS:
            print(f"malformed line: {line!r}", file=sys.stderr)
            return 2
        out.append(order(KINDS[parts[0]], parts[1], parts[2]))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
