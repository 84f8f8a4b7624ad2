#!/usr/bin/env python3
"""Sign and verify DSSE envelopes with PyPI `securesystemslib`, the peer Stella's attestations
are checked against.

Usage:
  dsse_sslib.py verify --envelope FILE --pub PUB.pem [--keyid ID]
  dsse_sslib.py sign --key PRIV.pem --payload-file FILE [--payload-type TYPE] [--keyid ID] -o OUT
  dsse_sslib.py genkey --algorithm ecdsa-p256|ed25519 --out PREFIX

verify: FILE is a bare DSSE envelope or a Sigstore bundle (its `dsseEnvelope` is taken). The
  envelope is checked with securesystemslib.dsse.Envelope.verify against the one public key in
  PUB.pem (SPKI PEM, ECDSA P-256 or Ed25519). securesystemslib only tries a key on signatures
  whose keyid equals the key's, so ID defaults to the key's cosign hint: base64 of the SHA-256 of
  its DER SubjectPublicKeyInfo. Prints one JSON object:
    {"verified": bool, "keyid": ID, "payloadType": str|null, "statement": object|null,
     "error": str|null}
  where "statement" is the decoded JSON payload of a verified envelope (null otherwise).
  Exit 0 if verified, 1 if not (a malformed envelope included), 2 on bad usage (unreadable file,
  public key that is not P-256 or Ed25519).
sign: PRIV.pem is an unencrypted PKCS#8 PEM private key (ECDSA P-256 or Ed25519); signs with
  securesystemslib's CryptoSigner and writes the envelope JSON to OUT. TYPE defaults to
  application/vnd.in-toto+json and ID to the key's hint. Prints {"keyid", "out"}.
genkey: writes PREFIX.pem (unencrypted PKCS#8 PEM) and PREFIX.pub (SPKI PEM) with
  `cryptography`. Prints {"algorithm", "hint", "private", "public"}.
"""

import argparse
import base64
import copy
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

IN_TOTO = "application/vnd.in-toto+json"


class UsageError(Exception):
    """Bad arguments or unreadable inputs: exit 2."""


def hint(public_key) -> str:
    """cosign's key hint: base64(SHA-256(DER SubjectPublicKeyInfo))."""
    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def algorithm_of(key) -> str:
    """'ecdsa-p256' or 'ed25519' for a public or private key; UsageError for anything else."""
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return "ecdsa-p256"
        raise UsageError(f"unsupported curve {key.curve.name} (only P-256)")
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    raise UsageError(f"unsupported key type {type(key).__name__} (ECDSA P-256 or Ed25519 only)")


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror or e}") from e


def load_public(path: str):
    try:
        key = serialization.load_pem_public_key(read_bytes(path))
    except ValueError as e:
        raise UsageError(f"{path}: not a PEM public key: {e}") from e
    algorithm_of(key)
    return key


def load_private(path: str):
    try:
        key = serialization.load_pem_private_key(read_bytes(path), password=None)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{path}: not an unencrypted PEM private key: {e}") from e
    algorithm_of(key)
    return key


def envelope_dict(doc) -> dict:
    """The DSSE envelope in a parsed document: the document itself or a bundle's dsseEnvelope."""
    if isinstance(doc, dict) and "dsseEnvelope" in doc:
        doc = doc["dsseEnvelope"]
    if not isinstance(doc, dict):
        raise ValueError("not a DSSE envelope or Sigstore bundle (expected a JSON object)")
    missing = [k for k in ("payload", "payloadType", "signatures") if k not in doc]
    if missing:
        raise ValueError(f"not a DSSE envelope: missing {', '.join(missing)}")
    if not isinstance(doc["signatures"], list) or not all(isinstance(s, dict) for s in doc["signatures"]):
        raise ValueError("not a DSSE envelope: signatures is not a list of objects")
    return doc


def cmd_verify(args) -> int:
    public = load_public(args.pub)
    keyid = args.keyid if args.keyid is not None else hint(public)
    raw = read_bytes(args.envelope)
    result = {"verified": False, "keyid": keyid, "payloadType": None, "statement": None, "error": None}
    doc = None
    try:
        doc = envelope_dict(json.loads(raw))
        result["payloadType"] = doc["payloadType"]
        # from_dict rewrites the signature objects it is given.
        envelope = Envelope.from_dict(copy.deepcopy(doc))
        envelope.verify([SSlibKey.from_crypto(public, keyid=keyid)], 1)
        result["verified"] = True
        try:
            result["statement"] = json.loads(envelope.payload)
        except ValueError:
            result["statement"] = None
    except Exception as e:  # noqa: BLE001 - any failure is "not verified", reported by name
        result["error"] = f"{type(e).__name__}: {e}"
        keyids = [sig.get("keyid") for sig in doc["signatures"]] if doc else []
        if keyids and keyid not in keyids:
            result["error"] += f" (no signature has keyid {keyid!r}; the envelope's: {keyids!r})"
    print(json.dumps(result))
    return 0 if result["verified"] else 1


def cmd_sign(args) -> int:
    private = load_private(args.key)
    payload = read_bytes(args.payload_file)
    keyid = args.keyid if args.keyid is not None else hint(private.public_key())
    signer = CryptoSigner(private, SSlibKey.from_crypto(private.public_key(), keyid=keyid))
    envelope = Envelope(payload, args.payload_type, {})
    envelope.sign(signer)
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(envelope.to_dict(), f)
    except OSError as e:
        raise UsageError(f"{args.out}: {e.strerror or e}") from e
    print(json.dumps({"keyid": keyid, "out": args.out}))
    return 0


def cmd_genkey(args) -> int:
    if args.algorithm == "ecdsa-p256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    paths = {"private": args.out + ".pem", "public": args.out + ".pub"}
    try:
        for path, data in ((paths["private"], pem), (paths["public"], pub)):
            with open(path, "wb") as f:
                f.write(data)
    except OSError as e:
        raise UsageError(f"{e.filename}: {e.strerror or e}") from e
    print(json.dumps({"algorithm": args.algorithm, "hint": hint(private.public_key()), **paths}))
    return 0


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="verify a DSSE envelope or Sigstore bundle")
    v.add_argument("--envelope", required=True, help="envelope or bundle JSON file")
    v.add_argument("--pub", required=True, help="SPKI PEM public key")
    v.add_argument("--keyid", default=None, help="keyid the signature must carry (default: the key's hint)")
    v.set_defaults(run=cmd_verify)

    s = sub.add_parser("sign", help="sign a payload into a DSSE envelope")
    s.add_argument("--key", required=True, help="unencrypted PKCS#8 PEM private key")
    s.add_argument("--payload-file", required=True)
    s.add_argument("--payload-type", default=IN_TOTO)
    s.add_argument("--keyid", default=None, help="keyid to record (default: the key's hint)")
    s.add_argument("-o", "--out", required=True, help="envelope JSON to write")
    s.set_defaults(run=cmd_sign)

    g = sub.add_parser("genkey", help="generate a key pair")
    g.add_argument("--algorithm", required=True, choices=["ecdsa-p256", "ed25519"])
    g.add_argument("--out", required=True, help="writes PREFIX.pem and PREFIX.pub")
    g.set_defaults(run=cmd_genkey)

    args = ap.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as e:
        print(f"dsse_sslib: {e}", file=sys.stderr)
        if args.command == "verify":
            print(json.dumps({"verified": False, "keyid": args.keyid, "payloadType": None,
                              "statement": None, "error": str(e)}))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
