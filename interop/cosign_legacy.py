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
      With --keyless-root DIR (made by `keyless-root`), the certificate is a Fulcio-shaped leaf
      for KEY issued by DIR's CA (SAN EMAIL, issuer --keyless-issuer, codeSigning, an embedded
      SCT by DIR's CT log), the CA in dev.sigstore.cosign/chain, and dev.sigstore.cosign/bundle
      holds a Rekor bundle: a hashedrekord 0.0.1 body logging this signature, the payload's
      SHA-256 and the certificate, integrated now, with a signed entry timestamp by DIR's Rekor
      key over the RFC 8785 form of {body, integratedTime, logID, logIndex}. Attacks:
      --expired issues a certificate that expired an hour before the integrated time;
      --tamper-set moves integratedTime a second after the log signed it; --no-rekor-bundle
      leaves the time unproven; --bad-timestamp adds an RFC 3161 timestamp annotation that holds
      no timestamp token. --rfc3161 adds dev.sigstore.cosign/rfc3161timestamp: a token over the
      signature's bytes by DIR's TSA, generated now.
  cosign_legacy.py keyless-root --out DIR
      A test Fulcio CA (self-signed, ECDSA P-256), a CT log key, a Rekor key and a timestamp
      authority (a TSA certificate with timeStamping under its own root) in DIR, and
      DIR/trusted_root.json naming them (a Sigstore trusted root v0.1).
  cosign_legacy.py attest --registry HOST:PORT --repository REPO --image sha256:HEX --key KEY
                          [--subject-digest sha256:HEX] [--predicate-type URI] [--append]
      An in-toto Statement v0.1 (as cosign writes) about the image (or --subject-digest) in a
      DSSE envelope signed with KEY over the PAE, stored as a layer of media type
      application/vnd.dsse.envelope.v1+json with the annotation predicateType, tagged
      sha256-HEX.att. --keyless-identity EMAIL --keyless-root DIR make it keyless as `sign`
      does, the Rekor bundle's body an intoto 0.0.2 entry logging the envelope.

  cosign_legacy.py bundle --image sha256:HEX --key KEY --out FILE [--predicate-type URI]
      A Sigstore bundle v0.3 holding a DSSE envelope of a Statement v1 about the image
      (predicate type cosign's https://sigstore.dev/cosign/sign/v1 unless given), signed with KEY
      and naming it by its hint, no log entries: what cosign 2.4+ attaches as a referrer in the
      bundle format, for the caller to attach. With --keyless-identity EMAIL --keyless-root DIR,
      keyless instead: a Fulcio-shaped certificate from DIR and a Rekor v1 entry with its signed
      entry timestamp and an inclusion proof in a checkpoint signed by DIR's Rekor key.

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
FULCIO_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


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


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def write_key(path: str, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def cmd_keyless_root(args):
    import os
    os.makedirs(args.out, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ca_key, ctlog_key, rekor_key, tsa_ca_key, tsa_key = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(5))
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stella.test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "test fulcio")])
    ca = (x509.CertificateBuilder()
          .subject_name(name).issuer_name(name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    tsa_ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test tsa root")])
    tsa_ca = (x509.CertificateBuilder()
              .subject_name(tsa_ca_name).issuer_name(tsa_ca_name)
              .public_key(tsa_ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1))
              .not_valid_after(now + datetime.timedelta(days=365))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                           False), critical=True)
              .sign(tsa_ca_key, hashes.SHA256()))
    tsa = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test tsa")]))
           .issuer_name(tsa_ca_name)
           .public_key(tsa_key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(days=1))
           .not_valid_after(now + datetime.timedelta(days=365))
           .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                        False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.TIME_STAMPING]),
                          critical=True)
           .sign(tsa_ca_key, hashes.SHA256()))
    for file, key in (("ca.key", ca_key), ("ctlog.key", ctlog_key), ("rekor.key", rekor_key),
                      ("tsa.key", tsa_key)):
        write_key(f"{args.out}/{file}", key)
    for file, cert in (("ca.pem", ca), ("tsa.pem", tsa)):
        with open(f"{args.out}/{file}", "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    def log(url, key):
        der = spki_der(key.public_key())
        return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": base64.b64encode(der).decode(),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": start}},
                "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()}}
    root = {
        "mediaType": TRUSTED_ROOT,
        "tlogs": [log("https://rekor.stella.test", rekor_key)],
        "ctlogs": [log("https://ctfe.stella.test", ctlog_key)],
        "certificateAuthorities": [{
            "subject": {"organization": "stella.test", "commonName": "test fulcio"},
            "uri": "https://fulcio.stella.test",
            "certChain": {"certificates": [{"rawBytes": base64.b64encode(
                ca.public_bytes(serialization.Encoding.DER)).decode()}]},
            "validFor": {"start": start},
        }],
        "timestampAuthorities": [{
            "subject": {"commonName": "test tsa"},
            "uri": "https://tsa.stella.test",
            "certChain": {"certificates": [
                {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
                for c in (tsa, tsa_ca)]},
            "validFor": {"start": start},
        }],
    }
    with open(f"{args.out}/trusted_root.json", "w") as f:
        json.dump(root, f, indent=1)
    print(json.dumps({"trustedRoot": f"{args.out}/trusted_root.json"}))


def der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_length(len(content)) + content


def der_seq(*items: bytes) -> bytes:
    return der(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    return der(0x31, b"".join(sorted(items)))  # DER orders a SET OF by encoding


def der_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.insert(0, 0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(chunk)
    return der(0x06, bytes(body))


def der_int(n: int) -> bytes:
    return der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))


SHA256_OID = "2.16.840.1.101.3.4.2.1"
TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"


def rfc3161_token(root_dir: str, message: bytes, when) -> bytes:
    """An RFC 3161 timestamp token (CMS SignedData around a TSTInfo) over MESSAGE at WHEN,
    signed by ROOT_DIR's TSA with the content-type and message-digest signed attributes."""
    with open(f"{root_dir}/tsa.key", "rb") as f:
        tsa_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(f"{root_dir}/tsa.pem", "rb") as f:
        tsa = x509.load_pem_x509_certificate(f.read())
    sha256_alg = der_seq(der_oid(SHA256_OID))
    tst_info = der_seq(
        der_int(1), der_oid("1.3.6.1.4.1.57264.2"),
        der_seq(sha256_alg, der(0x04, hashlib.sha256(message).digest())),
        der_int(x509.random_serial_number()),
        der(0x18, when.strftime("%Y%m%d%H%M%SZ").encode()))
    attributes = [
        der_seq(der_oid("1.2.840.113549.1.9.3"), der_set(der_oid(TST_INFO_OID))),
        der_seq(der_oid("1.2.840.113549.1.9.4"),
                der_set(der(0x04, hashlib.sha256(tst_info).digest()))),
    ]
    attributes_content = b"".join(sorted(attributes))
    signed_attributes = der(0x31, attributes_content)
    signature = tsa_key.sign(signed_attributes, ec.ECDSA(hashes.SHA256()))
    signer_info = der_seq(
        der_int(1),
        der_seq(tsa.issuer.public_bytes(), der_int(tsa.serial_number)),
        sha256_alg,
        der(0xA0, attributes_content),  # [0] IMPLICIT: signed as a SET, stored as [0]
        der_seq(der_oid("1.2.840.10045.4.3.2")),
        der(0x04, signature))
    signed_data = der_seq(
        der_int(3), der_set(sha256_alg),
        der_seq(der_oid(TST_INFO_OID), der(0xA0, der(0x04, tst_info))),
        der_set(signer_info))
    return der_seq(der_oid("1.2.840.113549.1.7.2"), der(0xA0, signed_data))


def fulcio_leaf(key, root_dir: str, email: str, issuer: str, not_before, not_after) -> str:
    """A leaf for KEY issued by ROOT_DIR's CA, as Fulcio issues it, with an embedded SCT: the
    CT log signs the certificate without its SCT extension (RFC 6962 precert_entry), and the
    SCT list is then added as the last extension, so removing it gives the signed bytes."""
    with open(f"{root_dir}/ca.key", "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(f"{root_dir}/ctlog.key", "rb") as f:
        ctlog_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(f"{root_dir}/ca.pem", "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    serial = x509.random_serial_number()
    issuer_utf8 = issuer.encode()

    def builder():
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([])).issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CODE_SIGNING]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]),
                               critical=True)
                .add_extension(x509.UnrecognizedExtension(FULCIO_ISSUER_V1, issuer_utf8),
                               critical=False)
                .add_extension(x509.UnrecognizedExtension(
                    FULCIO_ISSUER_V2, b"\x0c" + der_length(len(issuer_utf8)) + issuer_utf8),
                    critical=False))

    precert = builder().sign(ca_key, hashes.SHA256())
    tbs = precert.tbs_certificate_bytes
    issuer_key_hash = hashlib.sha256(spki_der(ca.public_key())).digest()
    log_id = hashlib.sha256(spki_der(ctlog_key.public_key())).digest()
    timestamp = int(not_before.timestamp() * 1000) + 1000
    signed = (bytes([0, 0]) + timestamp.to_bytes(8, "big") + (1).to_bytes(2, "big")
              + issuer_key_hash + len(tbs).to_bytes(3, "big") + tbs + (0).to_bytes(2, "big"))
    sct_signature = ctlog_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = (bytes([0]) + log_id + timestamp.to_bytes(8, "big") + (0).to_bytes(2, "big")
           + bytes([4, 3]) + len(sct_signature).to_bytes(2, "big") + sct_signature)
    sct_list = len(sct).to_bytes(2, "big") + sct
    sct_list = len(sct_list).to_bytes(2, "big") + sct_list
    value = b"\x04" + der_length(len(sct_list)) + sct_list
    leaf = (builder().add_extension(x509.UnrecognizedExtension(SCT_LIST, value), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return leaf.public_bytes(serialization.Encoding.PEM).decode()


def hashedrekord_body(payload: bytes, signature: bytes, certificate_pem: str) -> bytes:
    """Rekor's hashedrekord 0.0.1 entry for a signature of PAYLOAD by the certificate."""
    return json.dumps({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256",
                              "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": base64.b64encode(signature).decode(),
                          "publicKey": {"content": base64.b64encode(
                              certificate_pem.encode()).decode()}},
        },
    }, separators=(",", ":")).encode()


def intoto_body(envelope: bytes, statement: bytes, signature: bytes, certificate_pem: str) -> bytes:
    """Rekor's intoto 0.0.2 entry for a DSSE envelope (each signature base64 once more)."""
    return json.dumps({
        "apiVersion": "0.0.2", "kind": "intoto",
        "spec": {"content": {
            "envelope": {"payloadType": IN_TOTO, "signatures": [{
                "publicKey": base64.b64encode(certificate_pem.encode()).decode(),
                "sig": base64.b64encode(base64.b64encode(signature)).decode()}]},
            "hash": {"algorithm": "sha256", "value": hashlib.sha256(envelope).hexdigest()},
            "payloadHash": {"algorithm": "sha256",
                            "value": hashlib.sha256(statement).hexdigest()},
        }},
    }, separators=(",", ":")).encode()


def rekor_bundle(root_dir: str, body: bytes, integrated_time: int, tamper_set: bool) -> str:
    """cosign's dev.sigstore.cosign/bundle: a log entry's BODY and its SET."""
    with open(f"{root_dir}/rekor.key", "rb") as f:
        rekor_key = serialization.load_pem_private_key(f.read(), password=None)
    entry = {
        "body": base64.b64encode(body).decode(),
        "integratedTime": integrated_time,
        "logID": hashlib.sha256(spki_der(rekor_key.public_key())).hexdigest(),
        "logIndex": 4242,
    }
    # RFC 8785 of these members (ASCII strings and integers): sorted keys, no whitespace.
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    set_signature = rekor_key.sign(canonical, ec.ECDSA(hashes.SHA256()))
    if tamper_set:
        entry["integratedTime"] = integrated_time + 1
    return json.dumps({"SignedEntryTimestamp": base64.b64encode(set_signature).decode(),
                       "Payload": entry})


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


def keyless_annotations(args, key, annotations: dict, body_for, timestamped: bytes):
    """The certificate, chain and Rekor bundle (of the body BODY_FOR(certificate PEM) makes) of a
    keyless signature by KEY, and with --rfc3161 a timestamp over TIMESTAMPED, as --keyless-root
    and the attack flags say."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if getattr(args, "expired", False):
        not_before, not_after = (now - datetime.timedelta(hours=2),
                                 now - datetime.timedelta(hours=1))
    else:
        not_before, not_after = (now - datetime.timedelta(minutes=1),
                                 now + datetime.timedelta(minutes=9))
    pem = fulcio_leaf(key, args.keyless_root, args.keyless_identity, args.keyless_issuer,
                      not_before, not_after)
    annotations["dev.sigstore.cosign/certificate"] = pem
    with open(f"{args.keyless_root}/ca.pem") as f:
        annotations["dev.sigstore.cosign/chain"] = f.read()
    if not getattr(args, "no_rekor_bundle", False):
        annotations["dev.sigstore.cosign/bundle"] = rekor_bundle(
            args.keyless_root, body_for(pem), int(now.timestamp()),
            getattr(args, "tamper_set", False))
    if getattr(args, "rfc3161", False):
        annotations["dev.sigstore.cosign/rfc3161timestamp"] = json.dumps(
            {"SignedRFC3161Timestamp": base64.b64encode(
                rfc3161_token(args.keyless_root, timestamped, now)).decode()})
    if getattr(args, "bad_timestamp", False):
        # A token that is no timestamp at all, beside a good Rekor bundle.
        annotations["dev.sigstore.cosign/rfc3161timestamp"] = json.dumps(
            {"SignedRFC3161Timestamp": base64.b64encode(b"0\x03\x02\x01\x00").decode()})


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
    if args.keyless_identity and args.keyless_root:
        # cosign timestamps a signature's raw bytes.
        keyless_annotations(args, key, annotations,
                            lambda pem: hashedrekord_body(payload, signature, pem), signature)
    elif args.keyless_identity:
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
    signature = sign_bytes(key, pae(IN_TOTO, statement))
    envelope = json.dumps({
        "payloadType": IN_TOTO,
        "payload": base64.b64encode(statement).decode(),
        "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
    }, separators=(",", ":")).encode()
    digest = registry.put_blob(envelope)
    annotations = {"predicateType": args.predicate_type}
    if args.keyless_identity and args.keyless_root:
        # cosign timestamps an attestation's envelope.
        keyless_annotations(args, key, annotations,
                            lambda pem: intoto_body(envelope, statement, signature, pem), envelope)
    descriptor = {"mediaType": DSSE, "size": len(envelope), "digest": digest,
                  "annotations": annotations}
    tag = tag_of(args.image, "att")
    manifest = store_layer(registry, tag, envelope, descriptor, args.append)
    print(json.dumps({"tag": tag, "manifest": manifest, "layer": digest}))


def keyless_bundle(args, key, statement: bytes, signature: bytes, envelope: dict) -> dict:
    """A Sigstore bundle v0.3 of ENVELOPE signed keyless: a Fulcio-shaped leaf from
    --keyless-root, and one Rekor v1 entry (intoto 0.0.2) with its signed entry timestamp and an
    inclusion proof in a one-entry tree whose checkpoint the test Rekor key signs (a C2SP signed
    note, origin `<host> - <tree id>`, key hint the log id's first 4 bytes)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    pem = fulcio_leaf(key, args.keyless_root, args.keyless_identity, args.keyless_issuer,
                      now - datetime.timedelta(minutes=1), now + datetime.timedelta(minutes=9))
    leaf_der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(
        serialization.Encoding.DER)
    envelope_bytes = json.dumps(envelope, separators=(",", ":")).encode()
    body = intoto_body(envelope_bytes, statement, signature, pem)
    promise = json.loads(rekor_bundle(args.keyless_root, body, int(now.timestamp()), False))
    with open(f"{args.keyless_root}/rekor.key", "rb") as f:
        rekor_key = serialization.load_pem_private_key(f.read(), password=None)
    log_id = hashlib.sha256(spki_der(rekor_key.public_key())).digest()
    root_hash = hashlib.sha256(b"\x00" + body).digest()
    text = f"rekor.stella.test - 1193050959916656506\n1\n{base64.b64encode(root_hash).decode()}\n"
    note_signature = rekor_key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    checkpoint = (text + "\n\u2014 rekor.stella.test "
                  + base64.b64encode(log_id[:4] + note_signature).decode() + "\n")
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": base64.b64encode(leaf_der).decode()},
            "tlogEntries": [{
                "logIndex": str(promise["Payload"]["logIndex"]),
                "logId": {"keyId": base64.b64encode(log_id).decode()},
                "kindVersion": {"kind": "intoto", "version": "0.0.2"},
                "integratedTime": str(promise["Payload"]["integratedTime"]),
                "inclusionPromise": {"signedEntryTimestamp": promise["SignedEntryTimestamp"]},
                "inclusionProof": {"logIndex": "0", "rootHash": base64.b64encode(
                    root_hash).decode(), "treeSize": "1", "hashes": [],
                    "checkpoint": {"envelope": checkpoint}},
                "canonicalizedBody": base64.b64encode(body).decode(),
            }],
        },
        "dsseEnvelope": envelope,
    }


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
    if args.keyless_identity and args.keyless_root:
        signature = sign_bytes(key, pae(IN_TOTO, statement))
        envelope = {"payloadType": IN_TOTO, "payload": base64.b64encode(statement).decode(),
                    "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}]}
        with open(args.out, "w") as f:
            json.dump(keyless_bundle(args, key, statement, signature, envelope), f)
        print(json.dumps({"bundle": args.out}))
        return
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
    sign.add_argument("--keyless-root")
    sign.add_argument("--keyless-issuer", default="https://accounts.example.com")
    sign.add_argument("--expired", action="store_true")
    sign.add_argument("--tamper-set", action="store_true")
    sign.add_argument("--no-rekor-bundle", action="store_true")
    sign.add_argument("--bad-timestamp", action="store_true")
    sign.add_argument("--rfc3161", action="store_true")
    attest = sub.choices["attest"]
    attest.add_argument("--subject-digest")
    attest.add_argument("--keyless-identity")
    attest.add_argument("--keyless-root")
    attest.add_argument("--keyless-issuer", default="https://accounts.example.com")
    attest.add_argument("--predicate-type", default="https://cosign.sigstore.dev/attestation/v1")
    keyless_root = sub.add_parser("keyless-root")
    keyless_root.add_argument("--out", required=True)
    bundle = sub.add_parser("bundle")
    bundle.add_argument("--image", required=True)
    bundle.add_argument("--key", required=True)
    bundle.add_argument("--out", required=True)
    bundle.add_argument("--predicate-type", default="https://sigstore.dev/cosign/sign/v1")
    bundle.add_argument("--keyless-identity")
    bundle.add_argument("--keyless-root")
    bundle.add_argument("--keyless-issuer", default="https://accounts.example.com")
    args = parser.parse_args()
    {"keygen": cmd_keygen, "sign": cmd_sign, "attest": cmd_attest,
     "bundle": cmd_bundle, "keyless-root": cmd_keyless_root}[args.command](args)


if __name__ == "__main__":
    main()
