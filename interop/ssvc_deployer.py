#!/usr/bin/env python3
"""CERT/CC's SSVC Deployer Patch Application Priority table (DT_DP 1.0.0), as its reference
implementation `certcc-ssvc` ships it, printed as JSON for crates/stella/tests/it/score.rs.

certcc-ssvc 2026.10.0 requires Python >= 3.12 and pulls in mkdocs, pandas, scikit-learn and
FastAPI, so where it is not importable the table is read from the published wheel itself:
`ssvc/decision_tables/ssvc/deployer_dt.py`, the `DEPLOYER_1 = DecisionTable(...)` call parsed
with `ast` and its `mapping=` list read as a literal (no code of the package runs). The wheel is
the path given, $STELLA_SSVC_WHEEL, or downloaded from PyPI by pip into a cache directory.

Output: {"source": ..., "key": ..., "version": ..., "rows": [{decision point id: value, ...}]}.
Exit 3 when the reference cannot be had (the test reports the peer missing), 1 on a wheel whose
table is not where or what it should be.
"""

import ast
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

VERSION = "2026.10.0"
MEMBER = "ssvc/decision_tables/ssvc/deployer_dt.py"


def from_import():
    try:
        from ssvc.decision_tables.ssvc.deployer_dt import DEPLOYER_1 as table  # type: ignore
    except Exception:  # noqa: BLE001 - any failure means: not importable here
        return None
    return {
        "source": "certcc-ssvc (imported)",
        "key": table.key,
        "version": table.version,
        "rows": [dict(row) for row in table.mapping],
    }


def wheel_path(argv):
    if len(argv) > 1:
        return argv[1]
    if os.environ.get("STELLA_SSVC_WHEEL"):
        return os.environ["STELLA_SSVC_WHEEL"]
    cache = os.path.join(tempfile.gettempdir(), "stella-peers", "certcc-ssvc-" + VERSION)
    found = glob.glob(os.path.join(cache, "certcc_ssvc-%s-*.whl" % VERSION))
    if found:
        return found[0]
    os.makedirs(cache, exist_ok=True)
    # The wheel is pure Python; --python-version lets pip fetch it for this older interpreter.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
         "-d", cache, "certcc-ssvc==" + VERSION],
        capture_output=True, text=True,
    )
    found = glob.glob(os.path.join(cache, "certcc_ssvc-%s-*.whl" % VERSION))
    if done.returncode != 0 or not found:
        print("cannot download certcc-ssvc %s: %s" % (VERSION, done.stderr.strip()[-400:]),
              file=sys.stderr)
        sys.exit(3)
    return found[0]


def from_wheel(path):
    with zipfile.ZipFile(path) as z:
        source = z.read(MEMBER).decode("utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "DEPLOYER_1" for t in node.targets)
                and isinstance(node.value, ast.Call)):
            keywords = {k.arg: k.value for k in node.value.keywords}
            return {
                "source": "certcc-ssvc wheel %s" % os.path.basename(path),
                "key": ast.literal_eval(keywords["key"]),
                "version": ast.literal_eval(keywords["version"]),
                "rows": ast.literal_eval(keywords["mapping"]),
            }
    print("%s: no DEPLOYER_1 = DecisionTable(...) in %s" % (path, MEMBER), file=sys.stderr)
    sys.exit(1)


def main():
    table = from_import() or from_wheel(wheel_path(sys.argv))
    json.dump(table, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
