#!/usr/bin/env python3
"""Canonicalise JSON documents with PyPI `rfc8785`, the peer Stella's JCS is compared with.

Usage: jcs_rfc8785.py FILE|-
       jcs_rfc8785.py --id FILE|-
       jcs_rfc8785.py --out-dir DIR FILE...
The first form writes rfc8785.dumps(json.load(FILE)) to stdout, without a trailing newline; --id
prints the canonical id instead, `sha256:` + the hex SHA-256 of those bytes, and a newline. The
--out-dir form writes each file's canonical form to DIR/<file name>: one interpreter start for a
whole corpus instead of one per document.
Exit 2 if any document cannot be read or canonicalised (the others are still written).
"""

import hashlib
import json
import os
import sys

import rfc8785


def canonical(path: str) -> bytes:
    if path == "-":
        return rfc8785.dumps(json.load(sys.stdin.buffer))
    with open(path, "rb") as f:
        return rfc8785.dumps(json.load(f))


def main(argv: list) -> int:
    mode, out_dir = "canon", None
    if len(argv) >= 3 and argv[0] == "--out-dir":
        mode, out_dir, paths = "out-dir", argv[1], argv[2:]
    elif len(argv) == 2 and argv[0] == "--id":
        mode, paths = "id", argv[1:]
    elif len(argv) == 1:
        paths = argv
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            canon = canonical(path)
        except (OSError, ValueError) as e:
            print(f"jcs_rfc8785: {path}: {e}", file=sys.stderr)
            status = 2
            continue
        if mode == "id":
            sys.stdout.write("sha256:" + hashlib.sha256(canon).hexdigest() + "\n")
        elif mode == "out-dir":
            with open(os.path.join(out_dir, os.path.basename(path)), "wb") as f:
                f.write(canon)
        else:
            sys.stdout.buffer.write(canon)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
