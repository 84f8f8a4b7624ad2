#!/usr/bin/env python3
"""Write and read cosign's encrypted private key files without cosign, with `cryptography`,
PyNaCl and hashlib.scrypt: the peer Stella's key files are checked against.

Usage:
  cosign_key.py write --algorithm ecdsa-p256|ed25519 --password PW [--n 32768|65536]
                      [--legacy-label] --out PREFIX
  cosign_key.py read --key FILE --password PW [--private-out PRIV.pem]

The format (sigstore/cosign pkg/cosign, sigstore/sigstore pkg/encrypted): a PEM block labelled
"ENCRYPTED SIGSTORE PRIVATE KEY" (older cosign: "ENCRYPTED COSIGN PRIVATE KEY") whose body is the
compact JSON
  {"kdf":{"name":"scrypt","params":{"N":N,"r":8,"p":1},"salt":B64(32 bytes)},
   "cipher":{"name":"nacl/secretbox","nonce":B64(24 bytes)},
   "ciphertext":B64(secretbox(PKCS#8 DER private key))}
with the secretbox key scrypt(password, salt, N, r, p, 32 bytes) and B64 standard, padded base64.

write: a new key pair; PREFIX.key in that format (the modern label unless --legacy-label) and
  PREFIX.pub (SPKI PEM). Prints {"algorithm", "hint", "key", "public"}.
read: decrypts FILE (either label) and prints
  {"algorithm": "ecdsa-p256"|"ed25519", "hint": HINT, "public_pem": PEM, "label": LABEL,
   "kdf": {"N", "r", "p"}}
  where HINT is base64(SHA-256(DER SubjectPublicKeyInfo)), cosign's key hint. --private-out also
  writes the decrypted key as an unencrypted PKCS#8 PEM (for interop/dsse_sslib.py sign).
Exit 1 when FILE cannot be decrypted (wrong password) or is not a cosign key file, 2 on bad usage.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import sys

import nacl.exceptions
import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
LEGACY_LABEL = "ENCRYPTED COSIGN PRIVATE KEY"
R, P = 8, 1
SALT_BYTES = 32
# scrypt needs 128 * r * N * p bytes; allow what cosign itself would ever write, and some.
MAX_SCRYPT_MEMORY = 1 << 30


class UsageError(Exception):
    """Bad arguments or unwritable/unreadable paths: exit 2."""


class KeyFileError(Exception):
    """The key file is not a decryptable cosign key: exit 1."""


def hint(public_key) -> str:
    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def public_pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scrypt_key(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=MAX_SCRYPT_MEMORY)


def pem_encode(label: str, body: bytes) -> str:
    text = b64(body)
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def pem_decode(text: str) -> tuple[str, bytes]:
    """(label, body) of the first cosign encrypted-key PEM block in text."""
    m = re.search(r"-----BEGIN ([A-Z ]+)-----\s*(.*?)\s*-----END \1-----", text, re.S)
    if not m:
        raise KeyFileError("no PEM block found")
    label = m.group(1)
    if label not in (LABEL, LEGACY_LABEL):
        raise KeyFileError(f"PEM label is {label!r}, not {LABEL!r} or {LEGACY_LABEL!r}")
    try:
        return label, base64.b64decode("".join(m.group(2).split()), validate=True)
    except binascii.Error as e:
        raise KeyFileError(f"PEM body is not base64: {e}") from e


def algorithm_of(private) -> str:
    if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
        return "ecdsa-p256"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "ed25519"
    name = getattr(getattr(private, "curve", None), "name", None) or type(private).__name__
    raise KeyFileError(f"decrypted key is {name}, not ECDSA P-256 or Ed25519")


def encrypt(der: bytes, password: str, n: int) -> bytes:
    """The JSON body of a cosign encrypted key holding the PKCS#8 DER key `der`."""
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(scrypt_key(password, salt, n, R, P))
    ciphertext = box.encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": R, "p": P}, "salt": b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
        "ciphertext": b64(ciphertext),
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def decrypt(body: bytes, password: str) -> tuple[bytes, dict]:
    """(PKCS#8 DER private key, scrypt params) from a cosign encrypted key's JSON body."""
    try:
        doc = json.loads(body)
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt":
            raise KeyFileError(f"unsupported kdf {kdf['name']!r} (expected scrypt)")
        if cipher["name"] != "nacl/secretbox":
            raise KeyFileError(f"unsupported cipher {cipher['name']!r} (expected nacl/secretbox)")
        params = {k: int(kdf["params"][k]) for k in ("N", "r", "p")}
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(cipher["nonce"], validate=True)
        ciphertext = base64.b64decode(doc["ciphertext"], validate=True)
    except KeyFileError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise KeyFileError(f"not a cosign encrypted key body: {type(e).__name__}: {e}") from e
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise KeyFileError(f"nonce is {len(nonce)} bytes, not {nacl.secret.SecretBox.NONCE_SIZE}")
    try:
        key = scrypt_key(password, salt, params["N"], params["r"], params["p"])
    except (ValueError, MemoryError) as e:
        raise KeyFileError(f"bad scrypt parameters {params}: {e}") from e
    try:
        der = nacl.secret.SecretBox(key).decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError as e:
        raise KeyFileError("decryption failed: wrong password (or a corrupted key file)") from e
    return der, params


def cmd_write(args) -> int:
    if args.algorithm == "ecdsa-p256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    label = LEGACY_LABEL if args.legacy_label else LABEL
    pem = pem_encode(label, encrypt(der, args.password, args.n))
    paths = {"key": args.out + ".key", "public": args.out + ".pub"}
    try:
        for path, text in ((paths["key"], pem), (paths["public"], public_pem(private.public_key()))):
            with open(path, "w", encoding="ascii") as f:
                f.write(text)
    except OSError as e:
        raise UsageError(f"{e.filename}: {e.strerror or e}") from e
    print(json.dumps({"algorithm": args.algorithm, "hint": hint(private.public_key()), **paths}))
    return 0


def cmd_read(args) -> int:
    try:
        with open(args.key, "r", encoding="ascii") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"{args.key}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise KeyFileError("not a PEM text file") from e
    label, body = pem_decode(text)
    der, params = decrypt(body, args.password)
    try:
        private = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"decrypted bytes are not a PKCS#8 private key: {e}") from e
    algorithm = algorithm_of(private)
    if args.private_out:
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        try:
            with open(args.private_out, "wb") as f:
                f.write(pem)
        except OSError as e:
            raise UsageError(f"{args.private_out}: {e.strerror or e}") from e
    print(json.dumps({
        "algorithm": algorithm,
        "hint": hint(private.public_key()),
        "public_pem": public_pem(private.public_key()),
        "label": label,
        "kdf": params,
    }))
    return 0


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    w = sub.add_parser("write", help="write a new key pair in cosign's encrypted format")
    w.add_argument("--algorithm", required=True, choices=["ecdsa-p256", "ed25519"])
    w.add_argument("--password", required=True)
    w.add_argument("--n", type=int, default=32768, choices=[32768, 65536], help="scrypt N")
    w.add_argument("--legacy-label", action="store_true", help=f"label the PEM {LEGACY_LABEL!r}")
    w.add_argument("--out", required=True, help="writes PREFIX.key and PREFIX.pub")
    w.set_defaults(run=cmd_write)

    r = sub.add_parser("read", help="decrypt a cosign encrypted key file")
    r.add_argument("--key", required=True)
    r.add_argument("--password", required=True)
    r.add_argument("--private-out", default=None, help="also write the key as unencrypted PKCS#8 PEM")
    r.set_defaults(run=cmd_read)

    args = ap.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as e:
        print(f"cosign_key: {e}", file=sys.stderr)
        return 2
    except KeyFileError as e:
        print(f"cosign_key: {args.key}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
