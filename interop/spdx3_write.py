"""Write an SPDX 3.0.1 JSON-LD SBOM of interop/package-lock.json with spdx-python-model.

Usage: python3 interop/spdx3_write.py PACKAGE_LOCK OUT.spdx3.json

The packages and their dependency edges come from the lock file (name, version, purl, the
integrity hash); the document, its creation information, agents and relationships are made by
spdx-python-model's own classes and serialiser, so Stella reads JSON-LD written by the SPDX
project's bindings, not by Stella. Prints the number of packages written.
"""

import base64
import datetime
import json
import sys

from spdx_python_model import v3_0_1 as spdx

BASE = "https://stella-ops.org/interop/spdx3/"


def main() -> None:
    lock_path, out_path = sys.argv[1], sys.argv[2]
    with open(lock_path, encoding="utf-8") as f:
        lock = json.load(f)
    objects = spdx.SHACLObjectSet()
    created = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    info = spdx.CreationInfo(specVersion="3.0.1", created=created)
    info._id = "_:creationinfo"
    tool = spdx.Tool(_id=BASE + "tool", name="spdx-python-model", creationInfo=info)
    person = spdx.Person(_id=BASE + "person", name="Interop Test", creationInfo=info)
    info.createdBy = [person]
    info.createdUsing = [tool]
    objects.add(tool)
    objects.add(person)

    packages = {}
    for path, meta in sorted(lock.get("packages", {}).items()):
        if not path:
            continue
        name = meta.get("name") or path.split("node_modules/")[-1]
        version = meta.get("version")
        if not version:
            continue
        ident = f"{BASE}package/{len(packages)}"
        pkg = spdx.software_Package(
            _id=ident,
            name=name,
            software_packageVersion=version,
            software_packageUrl=f"pkg:npm/{name.replace('@', '%40')}@{version}",
            software_primaryPurpose=spdx.software_SoftwarePurpose.library,
            creationInfo=info,
        )
        integrity = meta.get("integrity", "")
        if integrity.startswith("sha512-"):
            digest = base64.b64decode(integrity[len("sha512-"):]).hex()
            pkg.verifiedUsing = [
                spdx.Hash(algorithm=spdx.HashAlgorithm.sha512, hashValue=digest)
            ]
        if meta.get("resolved"):
            pkg.software_downloadLocation = meta["resolved"]
        objects.add(pkg)
        packages[path] = (pkg, meta)

    root = spdx.software_Package(
        _id=BASE + "package/root",
        name=lock.get("name", "interop"),
        software_packageVersion=lock.get("version", "0.0.0"),
        software_primaryPurpose=spdx.software_SoftwarePurpose.application,
        creationInfo=info,
    )
    objects.add(root)
    licence = spdx.simplelicensing_LicenseExpression(
        _id=BASE + "licence/0",
        simplelicensing_licenseExpression="Apache-2.0",
        creationInfo=info,
    )
    objects.add(licence)
    relationships = [
        spdx.Relationship(
            _id=BASE + "relationship/licence",
            from_=root,
            to=[licence],
            relationshipType=spdx.RelationshipType.hasDeclaredLicense,
            creationInfo=info,
        )
    ]

    def resolve(from_path: str, dep: str):
        # node's lookup: the nearest node_modules up the tree.
        base = from_path
        while True:
            candidate = f"{base}/node_modules/{dep}" if base else f"node_modules/{dep}"
            if candidate in packages:
                return packages[candidate][0]
            if not base:
                return None
            cut = base.rfind("/node_modules/")
            base = base[:cut] if cut >= 0 else ""

    top = [resolve("", d) for d in lock.get("packages", {}).get("", {}).get("dependencies", {})]
    edges = [(root, [p for p in top if p is not None])]
    for path, (pkg, meta) in packages.items():
        deps = [resolve(path, d) for d in meta.get("dependencies", {})]
        edges.append((pkg, [d for d in deps if d is not None]))
    for i, (source, targets) in enumerate(edges):
        if targets:
            relationships.append(
                spdx.Relationship(
                    _id=f"{BASE}relationship/{i}",
                    from_=source,
                    to=targets,
                    relationshipType=spdx.RelationshipType.dependsOn,
                    creationInfo=info,
                )
            )
    for r in relationships:
        objects.add(r)

    sbom = spdx.software_Sbom(
        _id=BASE + "sbom",
        rootElement=[root],
        element=[root] + [p for p, _ in packages.values()] + relationships,
        software_sbomType=[spdx.software_SbomType.build],
        creationInfo=info,
    )
    objects.add(sbom)
    document = spdx.SpdxDocument(
        _id=BASE + "document",
        name="interop npm dependencies",
        rootElement=[sbom],
        element=[sbom],
        profileConformance=[
            spdx.ProfileIdentifierType.core,
            spdx.ProfileIdentifierType.software,
        ],
        creationInfo=info,
    )
    objects.add(document)
    with open(out_path, "wb") as f:
        spdx.JSONLDSerializer().write(objects, f, indent=2)
    print(len(packages) + 1)


if __name__ == "__main__":
    main()
