#!/usr/bin/env python3
"""A TUF repository built and signed by python-tuf (the reference implementation), for the tests
of `stella trust update` (crates/stella/tests/it/trust.rs).

The repository is laid out as Sigstore's TUF mirror is: metadata at the top (`N.root.json`,
`timestamp.json`, `N.snapshot.json`, `N.targets.json`: consistent snapshots), targets under
`targets/` as `<sha256>.<name>`. Root and targets keys are ECDSA P-256 (as Sigstore's are),
snapshot and timestamp keys Ed25519.

    tuf_repo.py DIR init --target FILE...       keys, version 1 of every role, the targets
    tuf_repo.py DIR publish --target FILE...    add or replace targets; new targets, snapshot,
                                                timestamp
    tuf_repo.py DIR rotate-root                 root N+1 with a new root key, signed by the old
                                                and the new key
    tuf_repo.py DIR expire-timestamp            a new timestamp that expired yesterday
    tuf_repo.py DIR rollback-timestamp          serve the previous timestamp again (a replay)
    tuf_repo.py DIR wrong-key-timestamp         a new timestamp signed by a key root does not list
    tuf_repo.py DIR tamper-target NAME          change the served bytes of target NAME
    tuf_repo.py DIR serve                       serve DIR/repo on 127.0.0.1 (a free port, printed
                                                on the first line of stdout)

A target FILE may be given as NAME=FILE to publish it under another name. DIR keeps the private
keys (`keys/`), the served repository (`repo/`) and every timestamp published (`history/`).
"""

import argparse
import functools
import hashlib
import http.server
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "targets", "snapshot", "timestamp")
LIFETIME = timedelta(days=365)


def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def new_signer(role):
    if role in ("root", "targets"):
        private = ec.generate_private_key(ec.SECP256R1())
        return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))
    return CryptoSigner.generate_ed25519()


def save_signer(path, signer):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signer.private_bytes)


def load_signer(path):
    return CryptoSigner(load_pem_private_key(path.read_bytes(), password=None))


class Repo:
    def __init__(self, base):
        self.base = Path(base)
        self.keys = self.base / "keys"
        self.repo = self.base / "repo"
        self.targets_dir = self.repo / "targets"
        self.history = self.base / "history"

    def signer(self, role):
        return load_signer(self.keys / f"{role}.pem")

    def latest(self, role):
        # The newest published, whatever is served now (a rolled-back timestamp stays behind).
        if role == "timestamp":
            versions = [int(p.name.split(".")[1]) for p in self.history.glob("timestamp.*.json")]
            return Metadata.from_file(str(self.history / f"timestamp.{max(versions)}.json"))
        versions = [int(p.name.split(".")[0]) for p in self.repo.glob(f"*.{role}.json")]
        return Metadata.from_file(str(self.repo / f"{max(versions)}.{role}.json"))

    def write(self, md, role):
        serializer = JSONSerializer(compact=False)
        if role == "timestamp":
            md.to_file(str(self.repo / "timestamp.json"), serializer)
            self.history.mkdir(parents=True, exist_ok=True)
            md.to_file(str(self.history / f"timestamp.{md.signed.version}.json"), serializer)
        else:
            md.to_file(str(self.repo / f"{md.signed.version}.{role}.json"), serializer)

    def add_targets(self, targets, files):
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        for spec in files:
            name, _, path = spec.rpartition("=")
            path = Path(path)
            name = name or path.name
            data = path.read_bytes()
            target = TargetFile.from_data(name, data, ["sha256"])
            targets.signed.targets[name] = target
            digest = hashlib.sha256(data).hexdigest()
            (self.targets_dir / f"{digest}.{name}").write_bytes(data)

    def sign(self, md, role):
        md.signatures.clear()
        md.sign(self.signer(role))
        return md

    def publish_snapshot_and_timestamp(self, targets_version, expires=None, timestamp_signer=None):
        snapshot = self.latest("snapshot")
        snapshot.signed.version += 1
        snapshot.signed.expires = now() + LIFETIME
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version)
        self.write(self.sign(snapshot, "snapshot"), "snapshot")
        self.new_timestamp(snapshot.signed.version, expires, timestamp_signer)

    def new_timestamp(self, snapshot_version=None, expires=None, signer=None):
        timestamp = self.latest("timestamp")
        timestamp.signed.version += 1
        timestamp.signed.expires = expires or now() + LIFETIME
        if snapshot_version is not None:
            timestamp.signed.snapshot_meta = MetaFile(version=snapshot_version)
        timestamp.signatures.clear()
        timestamp.sign(signer or self.signer("timestamp"))
        self.write(timestamp, "timestamp")


def init(repo, args):
    if repo.base.exists() and any(repo.base.iterdir()):
        sys.exit(f"{repo.base} is not empty")
    signers = {role: new_signer(role) for role in ROLES}
    for role, signer in signers.items():
        save_signer(repo.keys / f"{role}.pem", signer)
    repo.repo.mkdir(parents=True)
    expires = now() + LIFETIME

    root = Metadata(Root(expires=expires, consistent_snapshot=True))
    for role, signer in signers.items():
        root.signed.add_key(signer.public_key, role)
    root.sign(signers["root"])
    repo.write(root, "root")

    targets = Metadata(Targets(expires=expires))
    repo.add_targets(targets, args.target)
    targets.sign(signers["targets"])
    repo.write(targets, "targets")

    snapshot = Metadata(Snapshot(expires=expires))
    snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    snapshot.sign(signers["snapshot"])
    repo.write(snapshot, "snapshot")

    timestamp = Metadata(Timestamp(expires=expires))
    timestamp.signed.snapshot_meta = MetaFile(version=1)
    timestamp.sign(signers["timestamp"])
    repo.write(timestamp, "timestamp")


def publish(repo, args):
    targets = repo.latest("targets")
    targets.signed.version += 1
    targets.signed.expires = now() + LIFETIME
    repo.add_targets(targets, args.target)
    repo.write(repo.sign(targets, "targets"), "targets")
    repo.publish_snapshot_and_timestamp(targets.signed.version)


def rotate_root(repo, _args):
    root = repo.latest("root")
    old = repo.signer("root")
    new = new_signer("root")
    root.signed.revoke_key(old.public_key.keyid, "root")
    root.signed.add_key(new.public_key, "root")
    root.signed.version += 1
    root.signed.expires = now() + LIFETIME
    root.signatures.clear()
    # TUF 5.3.4: version N+1 is signed by a threshold of N's root keys and of its own.
    root.sign(old, append=True)
    root.sign(new, append=True)
    repo.write(root, "root")
    save_signer(repo.keys / "root.pem", new)


def expire_timestamp(repo, _args):
    repo.new_timestamp(expires=now() - timedelta(days=1))


def rollback_timestamp(repo, _args):
    current = Metadata.from_file(str(repo.repo / "timestamp.json")).signed.version
    older = repo.history / f"timestamp.{current - 1}.json"
    if not older.exists():
        sys.exit(f"no timestamp version {current - 1} to roll back to")
    shutil.copyfile(older, repo.repo / "timestamp.json")


def wrong_key_timestamp(repo, _args):
    repo.new_timestamp(signer=CryptoSigner.generate_ed25519())


def tamper_target(repo, args):
    found = list(repo.targets_dir.glob(f"*.{args.name}"))
    if not found:
        sys.exit(f"no target {args.name}")
    for path in found:
        data = bytearray(path.read_bytes())
        data[-2] ^= 0x01
        path.write_bytes(bytes(data))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args):
        pass


def serve(repo, _args):
    handler = functools.partial(QuietHandler, directory=str(repo.repo))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("init", "publish"):
        command = commands.add_parser(name)
        command.add_argument("--target", action="append", required=True, metavar="[NAME=]FILE")
    for name in (
        "rotate-root",
        "expire-timestamp",
        "rollback-timestamp",
        "wrong-key-timestamp",
        "serve",
    ):
        commands.add_parser(name)
    commands.add_parser("tamper-target").add_argument("name")
    args = parser.parse_args()
    handlers = {
        "init": init,
        "publish": publish,
        "rotate-root": rotate_root,
        "expire-timestamp": expire_timestamp,
        "rollback-timestamp": rollback_timestamp,
        "wrong-key-timestamp": wrong_key_timestamp,
        "tamper-target": tamper_target,
        "serve": serve,
    }
    handlers[args.command](Repo(args.dir), args)


if __name__ == "__main__":
    main()
