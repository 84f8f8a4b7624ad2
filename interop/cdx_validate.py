#!/usr/bin/env python3
"""Validate a CycloneDX 1.7 JSON document with PyPI `cyclonedx-python-lib`.

Usage: cdx_validate.py [--spec-version 1.5|1.6|1.7] FILE...
The library's own copy of the 1.7 schema (JsonStrictValidator; for 1.6 and later the strict and
the plain schema are one file) is used, not the copy in the fixtures, so the check does not rest
on anything this repository supplies. The document must also declare specVersion "1.7".
With --spec-version, that version's schema instead, and the document must declare it.
Exit 0 if every file is valid; 1 if any is invalid, each problem printed as
`FILE: JSON-pointer: message`; 2 if any is unreadable. Several files share one interpreter start.
"""

import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


VERSIONS = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}


def problems_of(validator: JsonStrictValidator, version: str, text: str) -> list:
    doc = json.loads(text)
    problems = []
    if not isinstance(doc, dict) or doc.get("specVersion") != version:
        found = doc.get("specVersion") if isinstance(doc, dict) else type(doc).__name__
        problems.append(f"/specVersion: expected \"{version}\", found {found!r}")
    for e in validator.validate_str(text, all_errors=True) or ():
        problems.append(f"{pointer(e.data.absolute_path)}: {e.data.message}")
    return problems


def main(paths: list) -> int:
    version = "1.7"
    if paths[:1] == ["--spec-version"]:
        version, paths = (paths[1] if len(paths) > 1 else ""), paths[2:]
    if not paths or version not in VERSIONS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    validator = JsonStrictValidator(VERSIONS[version])
    status = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                problems = problems_of(validator, version, f.read())
        except (OSError, ValueError) as e:
            print(f"cdx_validate: {path}: {e}", file=sys.stderr)
            status = 2
            continue
        for p in problems:
            print(f"{path}: {p}")
        if problems and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
