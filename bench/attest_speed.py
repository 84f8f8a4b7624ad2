#!/usr/bin/env python3
"""Sign and verify throughput of DSSE envelopes: Stella's stella-attest against PyPI securesystemslib.

Usage: attest_speed.py [--iterations N] [--warmup W] [--rounds R] [--stella-json FILE] [--json OUT]

Measures envelopes per second, in one process on one thread, for a 1,024-byte in-toto Statement v1
(two subjects, an SLSA provenance v1 predicate) with ECDSA P-256 (SHA-256, DER signatures) and
Ed25519 keys:
  securesystemslib sign    Envelope(payload, type) + Envelope.sign(CryptoSigner) + the envelope
                           serialised to JSON text
  securesystemslib verify  that JSON text parsed + Envelope.from_dict + Envelope.verify([key], 1)
each timed over N iterations after W warm-up iterations, R rounds, the median round reported.
Stella's figures come from its own benchmark, run once per algorithm (it must run single-threaded:
its figures are taken as per core):
  cargo run --release -q -p stella-attest --example throughput -- \\
      --algorithm ecdsa-p256|ed25519 --iterations N --payload-bytes 1024
which prints one JSON line {"algorithm", "iterations", "sign_per_s", "verify_per_s"}.
--stella-json FILE reads those lines (one per algorithm) from FILE instead of running cargo.

Prints a Markdown table (implementation x algorithm: sign/s, verify/s), Stella / securesystemslib
ratios per algorithm, and the targets; exit 1 when one is missed: ECDSA P-256 verify at least
10,000 envelopes/s per core, and at least 20x securesystemslib's. --json OUT also writes the
figures as JSON.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALGORITHMS = ["ecdsa-p256", "ed25519"]
IN_TOTO = "application/vnd.in-toto+json"
PAYLOAD_BYTES = 1024
P256_VERIFY_PER_S = 10_000
P256_VERIFY_RATIO = 20.0


def statement(size: int = PAYLOAD_BYTES) -> bytes:
    """A compact in-toto Statement v1 of exactly `size` bytes: two subjects, SLSA provenance."""
    def digest(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()

    doc = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "stella-1.4.2-x86_64-unknown-linux-gnu.tar.gz",
             "digest": {"sha256": digest("stella-1.4.2-x86_64-unknown-linux-gnu.tar.gz")}},
            {"name": "stella-1.4.2.cdx.json", "digest": {"sha256": digest("stella-1.4.2.cdx.json")}},
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"ref": "refs/tags/v1.4.2",
                                                    "repository": "https://github.com/example/stella",
                                                    "path": ".github/workflows/release.yml"}},
                "resolvedDependencies": [{"uri": "git+https://github.com/example/stella@refs/tags/v1.4.2",
                                          "digest": {"gitCommit": digest("commit")[:40]}}],
            },
            "runDetails": {
                "builder": {"id": "https://github.com/actions/runner/github-hosted"},
                "metadata": {"invocationId": "", "startedOn": "2025-06-01T12:00:00Z"},
            },
        },
    }
    base = len(json.dumps(doc, separators=(",", ":")).encode())
    if base > size:
        raise ValueError(f"statement skeleton is {base} bytes, over {size}")
    prefix = "https://github.com/example/stella/actions/runs/9876543210/attempts/1#"
    pad = size - base
    doc["predicate"]["runDetails"]["metadata"]["invocationId"] = (prefix + "0" * pad)[:pad]
    out = json.dumps(doc, separators=(",", ":")).encode()
    assert len(out) == size, len(out)
    return out


def new_signer(algorithm: str) -> CryptoSigner:
    if algorithm == "ecdsa-p256":
        return CryptoSigner(ec.generate_private_key(ec.SECP256R1()))
    return CryptoSigner(ed25519.Ed25519PrivateKey.generate())


def sslib_sign(signer: CryptoSigner, payload: bytes) -> str:
    envelope = Envelope(payload, IN_TOTO, {})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict())


def sslib_verify(key, text: str) -> None:
    Envelope.from_dict(json.loads(text)).verify([key], 1)


def per_second(fn, iterations: int, warmup: int, rounds: int) -> float:
    """Median over `rounds` of iterations / seconds, each round after `warmup` untimed calls."""
    rates = []
    for _ in range(rounds):
        for _ in range(warmup):
            fn()
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        rates.append(iterations / (time.perf_counter() - start))
    return statistics.median(rates)


def measure_sslib(algorithm: str, payload: bytes, iterations: int, warmup: int, rounds: int) -> dict:
    signer = new_signer(algorithm)
    key = signer.public_key
    text = sslib_sign(signer, payload)
    sslib_verify(key, text)
    # A tampered envelope must fail, or the verify loop below would be timing a no-op.
    doc = json.loads(text)
    doc["payload"] = base64.b64encode(payload.replace(b"stella", b"STELLA", 1)).decode()
    try:
        sslib_verify(key, json.dumps(doc))
    except Exception:  # noqa: BLE001 - any refusal will do
        pass
    else:
        raise SystemExit(f"FAIL: securesystemslib accepted a tampered {algorithm} envelope")
    sign = per_second(lambda: sslib_sign(signer, payload), iterations, warmup, rounds)
    verify = per_second(lambda: sslib_verify(key, text), iterations, warmup, rounds)
    print(f"securesystemslib {algorithm}: sign {sign:,.0f}/s, verify {verify:,.0f}/s", file=sys.stderr)
    return {"implementation": "securesystemslib", "algorithm": algorithm, "iterations": iterations,
            "sign_per_s": sign, "verify_per_s": verify}


def parse_stella_line(line: str, source: str) -> dict:
    try:
        row = json.loads(line)
        if not isinstance(row, dict):
            raise ValueError("not a JSON object")
        for field in ("sign_per_s", "verify_per_s"):
            if not isinstance(row.get(field), (int, float)) or row[field] <= 0:
                raise ValueError(f"{field} is not a positive number")
        if row.get("algorithm") not in ALGORITHMS:
            raise ValueError(f"algorithm {row.get('algorithm')!r} is not one of {ALGORITHMS}")
    except ValueError as e:
        raise SystemExit(f"FAIL: {source}: bad result line {line.strip()!r}: {e}") from e
    return {"implementation": "stella-attest", **row}


def stella_from_file(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
    except OSError as e:
        raise SystemExit(f"FAIL: {path}: {e.strerror or e}") from e
    rows = {}
    for line in lines:
        row = parse_stella_line(line, path)
        rows[row["algorithm"]] = row
    missing = [a for a in ALGORITHMS if a not in rows]
    if missing:
        raise SystemExit(f"FAIL: {path}: no result line for {', '.join(missing)}")
    return rows


def stella_run(algorithm: str, iterations: int) -> dict:
    argv = ["cargo", "run", "--release", "-q", "-p", "stella-attest", "--example", "throughput", "--",
            "--algorithm", algorithm, "--iterations", str(iterations), "--payload-bytes", str(PAYLOAD_BYTES)]
    print(f"running: {' '.join(argv)}", file=sys.stderr)
    try:
        proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    except OSError as e:
        raise SystemExit(f"FAIL: cannot run cargo: {e}") from e
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(argv)} exited {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"FAIL: {' '.join(argv)} printed nothing")
    row = parse_stella_line(lines[-1], "stella-attest example throughput")
    if row["algorithm"] != algorithm:
        raise SystemExit(f"FAIL: asked the example for {algorithm}, it reported {row['algorithm']}")
    return row


def environment() -> dict:
    from cryptography.hazmat.backends.openssl.backend import backend

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "securesystemslib": metadata.version("securesystemslib"),
        "cryptography": metadata.version("cryptography"),
        "openssl": backend.openssl_version_text(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--iterations", type=int, default=2000, help="timed envelopes per round (default 2000)")
    ap.add_argument("--warmup", type=int, default=200,
                    help="untimed envelopes before each round (default 200)")
    ap.add_argument("--rounds", type=int, default=3, help="securesystemslib rounds, median taken (default 3)")
    ap.add_argument("--stella-json", default=None,
                    help="read Stella's result lines from this file instead of running cargo")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    if args.iterations < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--iterations and --rounds must be positive, --warmup not negative")

    payload = statement()
    env = environment()
    print(f"payload: {len(payload):,}-byte in-toto Statement v1; {args.iterations:,} envelopes per round, "
          f"{args.warmup:,} warm-up, {args.rounds} rounds (securesystemslib)", file=sys.stderr)

    stella = stella_from_file(args.stella_json) if args.stella_json else None
    sslib = {a: measure_sslib(a, payload, args.iterations, args.warmup, args.rounds) for a in ALGORITHMS}
    if stella is None:
        stella = {a: stella_run(a, args.iterations) for a in ALGORITHMS}

    print(f"\n{env['cpu']} ({env['cpus']} CPUs); Python {env['python']}, securesystemslib "
          f"{env['securesystemslib']}, cryptography {env['cryptography']} ({env['openssl']}); "
          f"one thread, {PAYLOAD_BYTES:,}-byte payload\n")
    print("| implementation | algorithm | sign/s | verify/s |")
    print("|---|---|---:|---:|")
    for name, rows in (("stella-attest", stella), ("securesystemslib", sslib)):
        for a in ALGORITHMS:
            print(f"| {name} | {a} | {rows[a]['sign_per_s']:,.0f} | {rows[a]['verify_per_s']:,.0f} |")
    print()
    ratios = {}
    for a in ALGORITHMS:
        ratios[a] = {op: stella[a][f"{op}_per_s"] / sslib[a][f"{op}_per_s"] for op in ("sign", "verify")}
        print(f"stella / securesystemslib, {a}: "
              f"verify {ratios[a]['verify']:.2f}x, sign {ratios[a]['sign']:.2f}x")

    checks = [
        ("ecdsa-p256 verify, envelopes/s per core", stella["ecdsa-p256"]["verify_per_s"],
         P256_VERIFY_PER_S, f"{stella['ecdsa-p256']['verify_per_s']:,.0f}", f">= {P256_VERIFY_PER_S:,}"),
        ("ecdsa-p256 verify, stella / securesystemslib", ratios["ecdsa-p256"]["verify"],
         P256_VERIFY_RATIO, f"{ratios['ecdsa-p256']['verify']:.2f}x", f">= {P256_VERIFY_RATIO:g}x"),
    ]
    print("\n| target | measured | required | |")
    print("|---|---:|---:|---|")
    status = 0
    for name, value, floor, shown, required in checks:
        met = value >= floor
        print(f"| {name} | {shown} | {required} | {'met' if met else 'MISSED'} |")
        status |= 0 if met else 1

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "payload_bytes": PAYLOAD_BYTES, "iterations": args.iterations,
                       "warmup": args.warmup, "rounds": args.rounds,
                       "results": [*stella.values(), *sslib.values()], "ratios": ratios,
                       "targets": {name: {"measured": value, "required": floor, "met": value >= floor}
                                   for name, value, floor, _, _ in checks}},
                      f, indent=2, sort_keys=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
