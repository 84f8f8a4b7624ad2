#!/usr/bin/env python3
"""Write a large CycloneDX 1.7 SBOM shaped like real generator output, for benchmarks.

Usage: make_sbom.py OUT [MIN_MEGABYTES=24] [SEED=1]
The same arguments always give the same bytes. Components copy the shape cdxgen 12.8 writes
(../shared/fixtures/sbom/cdxgen-12.8.4-spec1.7.json): group, name, version, purl, bom-ref, SHA-512
hashes, SPDX licenses carrying cdxgen's license properties, generator properties, identity
evidence; plus descriptions, external references and a dependency graph. Ecosystems are mixed
(npm, PyPI, Maven, Go, Cargo, Debian) because real images are; a few strings carry non-ASCII text,
as author names and descriptions do. Written compact, as cdxgen writes it.
"""

import json
import random
import sys
import uuid

LICENSES = ["MIT", "Apache-2.0", "ISC", "BSD-3-Clause", "BSD-2-Clause", "MPL-2.0", "GPL-2.0-only",
            "LGPL-2.1-or-later", "0BSD", "Unlicense", "Zlib", "BlueOak-1.0.0"]
ECOSYSTEMS = ["npm", "npm", "npm", "pypi", "maven", "golang", "cargo", "deb"]
WORDS = ["parse", "json", "stream", "fast", "core", "util", "http", "client", "async", "crypto",
         "yaml", "log", "config", "test", "cli", "path", "glob", "time", "date", "buffer", "zlib",
         "proto", "grpc", "tls", "hash", "cache", "queue", "worker", "schema", "types", "codec"]
NON_ASCII = ["Jürgen Müller", "Zoë Ørsted", "François Lefèvre", "山田太郎", "Ğökhan Şahin",
             "Дмитрий", "naïve résumé café", "Ωmega → λ", "emoji 🚀 support"]


def license_entry(rng: random.Random, spdx: str) -> dict:
    return {"license": {"id": spdx, "url": f"https://opensource.org/licenses/{spdx}", "properties": [
        {"name": "cdx:license:category", "value": rng.choice(["Permissive", "Copyleft", "Weak Copyleft"])},
        {"name": "cdx:license:foss", "value": "true"},
        {"name": "cdx:license:osiApproved", "value": rng.choice(["true", "false"])},
        {"name": "cdx:license:fsfLibre", "value": rng.choice(["true", "false"])},
        {"name": "cdx:license:deprecated", "value": "false"},
    ]}}


def component(rng: random.Random, i: int) -> dict:
    eco = rng.choice(ECOSYSTEMS)
    name = "-".join(rng.sample(WORDS, rng.randint(1, 3))) + f"-{i}"
    version = f"{rng.randint(0, 30)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}"
    group = ""
    if eco == "npm" and rng.random() < 0.3:
        group = "@" + rng.choice(WORDS)
    elif eco == "maven":
        group = "org." + ".".join(rng.sample(WORDS, 2))
    elif eco == "golang":
        group = "github.com/" + rng.choice(WORDS)
    ns = (group.replace("@", "%40") + "/") if group else ""
    qualifiers = "?arch=amd64&distro=debian-12" if eco == "deb" else ""
    purl = f"pkg:{eco}/{ns}{name}@{version}{qualifiers}"
    src = f"/src/app/{rng.choice(['package-lock.json', 'requirements.txt', 'pom.xml', 'go.sum', 'Cargo.lock'])}"
    comp = {
        "group": group,
        "name": name,
        "version": version,
        "description": " ".join(rng.choices(WORDS, k=rng.randint(4, 14))).capitalize()
        + (f" — by {rng.choice(NON_ASCII)}" if rng.random() < 0.1 else ""),
        "hashes": [{"alg": "SHA-512", "content": "%0128x" % rng.getrandbits(512)}],
        "purl": purl,
        "type": "library",
        "bom-ref": purl,
        "properties": [
            {"name": "SrcFile", "value": src},
            {"name": "LocalNodeModulesPath", "value": f"node_modules/{group + '/' if group else ''}{name}"},
            {"name": "cdx:npm:has_binary", "value": rng.choice(["true", "false"])},
            {"name": "cdx:license:category", "value": "Permissive"},
        ],
        "evidence": {"identity": [{"field": "purl", "confidence": rng.choice([1, 0.8, 0.6]), "methods": [
            {"technique": "manifest-analysis", "confidence": 1, "value": src}], "concludedValue": src}]},
    }
    if rng.random() < 0.4:
        comp["hashes"].append({"alg": "SHA-256", "content": "%064x" % rng.getrandbits(256)})
    if rng.random() < 0.15:
        a, b = rng.sample(LICENSES, 2)
        comp["licenses"] = [{"expression": f"{a} OR {b}"}]
    else:
        comp["licenses"] = [license_entry(rng, rng.choice(LICENSES))]
    if rng.random() < 0.5:
        comp["externalReferences"] = [
            {"type": "vcs", "url": f"https://github.com/{rng.choice(WORDS)}/{name}"},
            {"type": "website", "url": f"https://{name}.example.org/docs?lang=en&v={version}"},
        ]
    return comp


def main() -> int:
    if not 2 <= len(sys.argv) <= 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = sys.argv[1]
    min_bytes = int(float(sys.argv[2]) * 1_000_000) if len(sys.argv) > 2 else 24_000_000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)

    tool = {"group": "@cyclonedx", "name": "cdxgen", "version": "12.8.4", "purl": "pkg:npm/%40cyclonedx/cdxgen@12.8.4",
            "type": "application", "bom-ref": "pkg:npm/@cyclonedx/cdxgen@12.8.4", "publisher": "OWASP Foundation",
            "authors": [{"name": "OWASP Foundation"}]}
    root = {"name": "bench-image", "group": "", "version": "1.0.0", "purl": "pkg:npm/bench-image@1.0.0",
            "bom-ref": "pkg:npm/bench-image@1.0.0", "type": "application",
            "licenses": [license_entry(rng, "Apache-2.0")],
            "properties": [{"name": "cdx:npm:scripts", "value": "test"}]}
    components, size = [], 0
    # ~1.6 kB per component; stop once the document is at least min_bytes.
    while size < min_bytes:
        c = component(rng, len(components))
        components.append(c)
        size += len(json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode()) + 120
    refs = [c["bom-ref"] for c in components]
    dependencies = [{"ref": root["bom-ref"], "dependsOn": sorted(rng.sample(refs, min(40, len(refs))))}]
    for i, ref in enumerate(refs):
        later = refs[i + 1:]
        dependencies.append({"ref": ref, "dependsOn": rng.sample(later, min(len(later), rng.randint(0, 4)))})

    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.7",
        "serialNumber": f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "version": 1,
        "metadata": {
            "timestamp": "2026-11-22T22:16:08Z",
            "tools": {"components": [tool]},
            "authors": [{"name": "OWASP Foundation"}],
            "lifecycles": [{"phase": "build"}],
            "component": root,
            "properties": [{"name": "cdx:bom:componentTypes", "value": "npm\npypi\nmaven\ngolang\ncargo\ndeb"}],
        },
        "components": components,
        "dependencies": dependencies,
        "annotations": [{"bom-ref": "metadata-annotations", "subjects": [root["bom-ref"]],
                         "annotator": {"component": tool}, "timestamp": "2026-11-22T22:16:08Z",
                         "text": f"Benchmark SBOM: {len(components)} components."}],
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(bom, f, separators=(",", ":"), ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
