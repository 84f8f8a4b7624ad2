#!/usr/bin/env python3
"""Validate SARIF 2.1.0 logs with Microsoft's SARIF SDK (npm @microsoft/sarif-multitool-linux).

Usage: sarif_validate.py FILE...
       sarif_validate.py --probe

Two judges, both from outside this repository, and a file must satisfy each:
  1. the SARIF 2.1.0 JSON schema the SDK package ships (sarif-2.1.0.json, the SDK's Draft 2020-12
     rendering of the OASIS schema), applied with PyPI `jsonschema` and its format checks;
  2. the SDK's `Sarif.Multitool validate` with that schema: its own schema check (JSON1xxx) and
     the rules it reports at level error (SARIF1xxx, the specification's "SHALL"s). Its
     warnings and notes are advice (GitHub's ingestion preferences, help URIs) and do not fail
     a file. The rule that fetches every URI in the log over HTTP (SARIF2006) is disabled: the
     tests run without a network.
The Multitool alone is not enough: a log it cannot load into its object model (an unknown
`level`, say) is skipped with no result and exit 0, which is why the schema is also applied here.

The SDK package is found in interop/node_modules (installed by `npm ci` in interop/).
Exit 0 if every file is valid; 1 if any is invalid, each problem printed as
`FILE: where: message`; 2 if a file cannot be read as JSON or the validator cannot run.
`--probe` exits 0 when both judges can run.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

SDK = Path(__file__).resolve().parent / "node_modules" / "@microsoft" / "sarif-multitool-linux"
MULTITOOL = SDK / "Sarif.Multitool"
SCHEMA = SDK / "sarif-2.1.0.json"

# The SDK is a .NET program: without this it needs the ICU libraries, which nothing it checks
# depends on.
DOTNET_ENV = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"}

# Rule options as `Sarif.Multitool export-validation-config` writes them; everything not named
# keeps its default.
CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<Properties>
  <Properties Key="SARIF2006.UrisShouldBeReachable.Options">
    <Property Key="RuleEnabled" Value="Disabled" Type="Driver.RuleEnabledState" />
  </Properties>
</Properties>
"""


def pointer(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def schema_problems(validator, doc) -> list:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{pointer(e.absolute_path)}: {e.message}" for e in errors]


def message_of(result: dict, rules: dict) -> str:
    """A Multitool result's message: its text, or its rule's template filled with arguments."""
    message = result.get("message", {})
    if "text" in message:
        return message["text"]
    template = rules.get(result.get("ruleId"), {}).get(message.get("id"), "")
    arguments = message.get("arguments", [])
    for i, argument in enumerate(arguments):
        template = template.replace("{" + str(i) + "}", str(argument))
    return template or f"{message.get('id')} {arguments}"


def multitool_problems(paths: list, work: Path) -> dict:
    """Error-level results of `Sarif.Multitool validate`, by the file they are about."""
    config = work / "validation.xml"
    config.write_text(CONFIG, encoding="utf-8")
    out = work / "validation.sarif"
    run = subprocess.run(
        [str(MULTITOOL), "validate", "--json-schema", str(SCHEMA),
         "--config", str(config), "--output", str(out), *[str(Path(p).resolve()) for p in paths]],
        capture_output=True, text=True, check=False, env=DOTNET_ENV,
    )
    if run.returncode != 0 or not out.exists():
        # Its usage text follows the reason: keep the reason.
        said = (run.stdout + run.stderr).strip().splitlines()[:6]
        raise RuntimeError(f"Sarif.Multitool validate failed ({run.returncode}): " + " / ".join(said))
    log = json.loads(out.read_text(encoding="utf-8"))
    by_file = {str(Path(p).resolve()): [] for p in paths}
    for run_ in log.get("runs", []):
        notifications = [
            n for i in run_.get("invocations", [])
            for n in i.get("toolExecutionNotifications", []) + i.get("toolConfigurationNotifications", [])
            if n.get("level") == "error"
        ]
        if notifications:
            raise RuntimeError("Sarif.Multitool could not run: " + "; ".join(
                n.get("message", {}).get("text", "?") for n in notifications))
        rules = {
            r.get("id"): {k: v.get("text", "") for k, v in r.get("messageStrings", {}).items()}
            for r in run_.get("tool", {}).get("driver", {}).get("rules", [])
        }
        for result in run_.get("results", []):
            if result.get("level", "warning") != "error":
                continue
            location = (result.get("locations") or [{}])[0].get("physicalLocation", {})
            uri = location.get("artifactLocation", {}).get("uri", "")
            file = uri.removeprefix("file://")
            problem = f"{result.get('ruleId')}: {message_of(result, rules)}"
            by_file.setdefault(file, []).append(problem)
    return by_file


def main(args: list) -> int:
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(SCHEMA, encoding="utf-8") as f:
            validator = Draft202012Validator(json.load(f), format_checker=FormatChecker())
    except OSError as e:
        print(f"sarif_validate: the SARIF SDK is not installed ({e}); run `npm ci` in interop/",
              file=sys.stderr)
        return 2
    if args == ["--probe"]:
        run = subprocess.run([str(MULTITOOL), "--version"], capture_output=True, text=True,
                             check=False, env=DOTNET_ENV)
        if run.returncode != 0:
            print(f"sarif_validate: {MULTITOOL} does not run: {run.stderr.strip()}",
                  file=sys.stderr)
            return 2
        return 0
    problems = {}
    for path in args:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"sarif_validate: {path}: {e}", file=sys.stderr)
            return 2
        problems[path] = [f"schema {p}" for p in schema_problems(validator, doc)]
    with tempfile.TemporaryDirectory() as work:
        try:
            found = multitool_problems(args, Path(work))
        except (OSError, ValueError, RuntimeError) as e:
            print(f"sarif_validate: {e}", file=sys.stderr)
            return 2
    for path in args:
        problems[path] += found.pop(str(Path(path).resolve()), [])
    # A result about a file it was not given (it should not happen) is not lost either.
    for uri, list_ in found.items():
        if list_:
            problems[uri] = list_
    status = 0
    for path, list_ in problems.items():
        for p in list_:
            print(f"{path}: {p}")
        if list_:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
