#!/usr/bin/env python3
"""Store cosign-style legacy signatures and attestations of an image in a registry without cosign
or Stella, with `cryptography` and the registry's HTTP API (urllib): the layout Stella's
`stella verify --image --cosign-key` and `stella oci referrers` are checked against.

Usage:
  cosign_legacy.py keygen --out PREFIX
      PREFIX.key (unencrypted PKCS#8 PEM, ECDSA P-256) and PREFIX.pub (SPKI PEM, as cosign's
      `cosign.pub`).
  cosign_legacy.py sign --registry HOST:PORT --repository REPO --image sha256:HEX --key KEY
                        [--payload-digest sha256:HEX] [--tamper] [--size-lie N] [--huge N]
                        [--keyless-identity EMAIL] [--append]
      A simple-signing payload naming the image (or --payload-digest), signed with KEY (ECDSA
      P-256 over SHA-256 of the payload bytes, DER), stored as a layer of media type
      application/vnd.dev.cosign.simplesigning.v1+json with the base64 signature in the
      annotation dev.cosignproject.cosign/signature, in an OCI image manifest tagged
      sha256-HEX.sig. --append adds the layer to the manifest already under the tag (cosign
      keeps every signature of an image in one manifest).
      Attacks: --tamper stores other payload bytes than were signed; --huge N stores a payload
      blob of N bytes; --size-lie N announces the payload as N bytes in the manifest.
      --keyless-identity adds a self-signed certificate naming EMAIL (and Fulcio's OIDC issuer
      extension) in dev.sigstore.cosign/certificate, as a keyless signature carries.
  cosign_legacy.py attest --registry HOST:PORT --repository REPO --image sha256:HEX --key KEY
                          [--subject-digest sha256:HEX] [--predicate-type URI] [--append]
      An in-toto Statement v0.1 (as cosign writes) about the image (or --subject-digest) in a
      DSSE envelope signed with KEY over the PAE, stored as a layer of media type
      application/vnd.dsse.envelope.v1+json with the annotation predicateType, tagged
      sha256-HEX.att.

  cosign_legacy.py bundle --image sha256:HEX --key KEY --out FILE [--predicate-type URI]
      A Sigstore bundle v0.3 holding a DSSE envelope of a Statement v1 about the image
      (predicate type cosign's https://sigstore.dev/cosign/sign/v1 unless given), signed with KEY
      and naming it by its hint, no log entries: what cosign 2.4+ attaches as a referrer in the
      bundle format, for the caller to attach.

The layout is cosign's signature spec (specs/SIGNATURE_SPEC.md, "Storage", "Payloads") and its
attestation spec. Prints {"tag", "manifest", "layer"} as JSON. Exit 1 when the registry refuses.
"""

import argparse
import base64
import datetime
import hashlib
import json
import sys
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
SIGNATURE_TYPE = "cosign container image signature"
FULCIO_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tag_of(image: str, suffix: str) -> str:
    algorithm, hexpart = image.split(":", 1)
    return f"{algorithm}-{hexpart}.{suffix}"


class Registry:
    def __init__(self, host: str, repository: str):
        self.base = f"http://{host}/v2/{repository}"

    def _send(self, request):
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def put_blob(self, data: bytes) -> str:
        digest = sha256(data)
        status, headers, body = self._send(
            urllib.request.Request(f"{self.base}/blobs/uploads/", method="POST"))
        if status != 202:
            raise SystemExit(f"blob upload refused: HTTP {status} {body[:200]!r}")
        location = headers.get("Location") or headers.get("location")
        if location.startswith("/"):
            location = self.base.split("/v2/")[0] + location
        separator = "&" if "?" in location else "?"
        status, _, body = self._send(urllib.request.Request(
            f"{location}{separator}digest={digest}", data=data, method="PUT",
            headers={"Content-Type": "application/octet-stream"}))
        if status != 201:
            raise SystemExit(f"blob {digest} refused: HTTP {status} {body[:200]!r}")
        return digest

    def get_manifest(self, reference: str):
        status, _, body = self._send(urllib.request.Request(
            f"{self.base}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}))
        return json.loads(body) if status == 200 else None

    def put_manifest(self, manifest: dict, tag: str) -> str:
        data = json.dumps(manifest, separators=(",", ":")).encode()
        status, _, body = self._send(urllib.request.Request(
            f"{self.base}/manifests/{tag}", data=data, method="PUT",
            headers={"Content-Type": OCI_MANIFEST}))
        if status != 201:
            print(json.dumps({"refused": status, "body": body[:300].decode(errors="replace")}))
            sys.exit(1)
        return sha256(data)


def load_key(path: str):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign_bytes(key, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def keyless_certificate(key, email: str) -> str:
    """A self-signed certificate for KEY naming EMAIL, shaped as Fulcio's: no CA trusts it."""
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=True)
            .add_extension(x509.UnrecognizedExtension(
                FULCIO_ISSUER_V1, b"https://accounts.example.com"), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def store_layer(registry: Registry, tag: str, blob: bytes, descriptor: dict, append: bool):
    """Adds DESCRIPTOR (blob already pushed) as a layer of the manifest under TAG."""
    layers = []
    if append:
        existing = registry.get_manifest(tag)
        if existing:
            layers = existing.get("layers", [])
    layers.append(descriptor)
    # cosign's signature image config: one diff_id per layer, no platform.
    config = json.dumps({
        "architecture": "", "os": "", "created": "0001-01-01T00:00:00Z",
        "config": {}, "rootfs": {"type": "layers",
                                 "diff_ids": [layer["digest"] for layer in layers]},
    }, separators=(",", ":")).encode()
    config_digest = registry.put_blob(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": config_digest},
        "layers": layers,
    }
    return registry.put_manifest(manifest, tag)


def cmd_keygen(args):
    key = ec.generate_private_key(ec.SECP256R1())
    with open(args.out + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(args.out + ".pub", "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    print(json.dumps({"key": args.out + ".key", "public": args.out + ".pub"}))


def cmd_sign(args):
    registry = Registry(args.registry, args.repository)
    key = load_key(args.key)
    payload = json.dumps({
        "critical": {
            "identity": {"docker-reference": f"{args.registry}/{args.repository}"},
            "image": {"docker-manifest-digest": args.payload_digest or args.image},
            "type": SIGNATURE_TYPE,
        },
        "optional": None,
    }, separators=(",", ":")).encode()
    signature = sign_bytes(key, payload)
    stored = payload
    if args.tamper:
        stored = payload.replace(b'"optional":null', b'"optional":{"x":1}')
    if args.huge:
        stored = payload + b" " * (args.huge - len(payload))
    digest = registry.put_blob(stored)
    annotations = {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()}
    if args.keyless_identity:
        annotations["dev.sigstore.cosign/certificate"] = keyless_certificate(
            key, args.keyless_identity)
    descriptor = {"mediaType": SIMPLE_SIGNING,
                  "size": args.size_lie if args.size_lie is not None else len(stored),
                  "digest": digest, "annotations": annotations}
    tag = tag_of(args.image, "sig")
    manifest = store_layer(registry, tag, stored, descriptor, args.append)
    print(json.dumps({"tag": tag, "manifest": manifest, "layer": digest}))


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def cmd_attest(args):
    registry = Registry(args.registry, args.repository)
    key = load_key(args.key)
    subject = args.subject_digest or args.image
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": args.predicate_type,
        "subject": [{"name": f"{args.registry}/{args.repository}",
                     "digest": {"sha256": subject.split(":", 1)[1]}}],
        "predicate": {"Data": "built by the vendor", "Timestamp": "2026-01-01T00:00:00Z"},
    }, separators=(",", ":")).encode()
    envelope = json.dumps({
        "payloadType": IN_TOTO,
        "payload": base64.b64encode(statement).decode(),
        "signatures": [{"keyid": "",
                        "sig": base64.b64encode(sign_bytes(key, pae(IN_TOTO, statement))).decode()}],
    }, separators=(",", ":")).encode()
    digest = registry.put_blob(envelope)
    descriptor = {"mediaType": DSSE, "size": len(envelope), "digest": digest,
                  "annotations": {"predicateType": args.predicate_type}}
    tag = tag_of(args.image, "att")
    manifest = store_layer(registry, tag, envelope, descriptor, args.append)
    print(json.dumps({"tag": tag, "manifest": manifest, "layer": digest}))


def cmd_bundle(args):
    key = load_key(args.key)
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": args.predicate_type,
        "subject": [{"name": "image", "digest": {"sha256": args.image.split(":", 1)[1]}}],
        "predicate": {},
    }, separators=(",", ":")).encode()
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    hint = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payloadType": IN_TOTO,
            "payload": base64.b64encode(statement).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(
                sign_bytes(key, pae(IN_TOTO, statement))).decode()}],
        },
    }
    with open(args.out, "w") as f:
        json.dump(bundle, f)
    print(json.dumps({"bundle": args.out, "hint": hint}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen")
    keygen.add_argument("--out", required=True)
    for name in ("sign", "attest"):
        p = sub.add_parser(name)
        p.add_argument("--registry", required=True)
        p.add_argument("--repository", required=True)
        p.add_argument("--image", required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--append", action="store_true")
    sign = sub.choices["sign"]
    sign.add_argument("--payload-digest")
    sign.add_argument("--tamper", action="store_true")
    sign.add_argument("--huge", type=int)
    sign.add_argument("--size-lie", type=int)
    sign.add_argument("--keyless-identity")
    attest = sub.choices["attest"]
    attest.add_argument("--subject-digest")
    attest.add_argument("--predicate-type", default="https://cosign.sigstore.dev/attestation/v1")
    bundle = sub.add_parser("bundle")
    bundle.add_argument("--image", required=True)
    bundle.add_argument("--key", required=True)
    bundle.add_argument("--out", required=True)
    bundle.add_argument("--predicate-type", default="https://sigstore.dev/cosign/sign/v1")
    args = parser.parse_args()
    {"keygen": cmd_keygen, "sign": cmd_sign, "attest": cmd_attest,
     "bundle": cmd_bundle}[args.command](args)


if __name__ == "__main__":
    main()
