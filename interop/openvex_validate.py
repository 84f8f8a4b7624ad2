#!/usr/bin/env python3
"""Validate OpenVEX documents against the OpenVEX JSON schema with PyPI `jsonschema`.

Usage: openvex_validate.py SCHEMA FILE...
SCHEMA is the OpenVEX 0.2.0 JSON schema (the copy in the shared fixtures, as openvex/spec
publishes it). Draft 2020-12, with the formats `jsonschema` checks (date-time among them).
The script applies whichever draft 2020-12 schema it is given: the overlay's OSV records are
checked with it too (interop/osv-schema).
Exit 0 if every file is valid; 1 if any is invalid, each problem printed as
`FILE: JSON-pointer: message`; 2 if a file cannot be read as JSON.
"""

import json
import sys

from jsonschema import Draft202012Validator, FormatChecker


def pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def main(args: list) -> int:
    if len(args) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        validator = Draft202012Validator(json.load(f), format_checker=FormatChecker())
    status = 0
    for path in args[1:]:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            print(f"{path}: {pointer(e.absolute_path)}: {e.message}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
