#!/usr/bin/env python3
"""Write a set of OpenVEX 0.2.0 documents shaped like real VEX feeds, for the merge benchmark.

Usage: make_vex.py OUT_DIR [DOCUMENTS=1000] [STATEMENTS_PER_DOCUMENT=1000] [SEED=1]
The same arguments always give the same bytes (OUT_DIR/vex-0000.json, ...).

Several authors (a vendor, two distributions, scanners, a GitHub-advisory-style feed) speak about
one shared pool of (vulnerability, product) keys, so most keys are claimed by several documents and
the merge has to decide between them: by author priority, by time (authors write at day or second
granularity, so equal times happen), by status. Vulnerabilities are CVEs, a third of them also known
by a GHSA id; the advisory feed names them by GHSA with the CVE as alias, so only alias linking puts
its claims in the same group as everyone else's. Products are purls with versions (Debian ones with
qualifiers, OCI images by digest with repository_url and tag); some statements name several
products, some products carry subcomponents (drawn per key, so they overlap too). All four statuses
appear with what the schema asks of them: not_affected with a justification or an impact statement,
affected with an action statement (and often its timestamp). Statements carry their own timestamp
or inherit the document's. Written compact, as vexctl writes it.
"""

import json
import os
import random
import sys

AUTHORS = [
    # (author, role, tooling, time granularity in seconds, names vulnerabilities by GHSA)
    ("Example Vendor Security <psirt@vendor.example>", "Document Creator", None, 86400, False),
    ("Debian Security Team", "Distribution", "debsecan-vex/0.4", 86400, False),
    ("Alpine Secdb", "Distribution", None, 3600, False),
    ("Scanner One", "Scanner", "scanner-one/3.2.1", 1, False),
    ("Scanner Two", "Scanner", "scanner-two/1.18.0", 1, False),
    ("GitHub Advisory Database", "Advisory Feed", None, 60, True),
    ("Internal AppSec", "Product Team", "vexctl/0.3.0", 86400, False),
]
ECOSYSTEMS = ["npm", "npm", "pypi", "maven", "golang", "cargo", "deb", "deb", "oci"]
WORDS = ["parse", "json", "stream", "fast", "core", "util", "http", "client", "async", "crypto",
         "yaml", "log", "config", "cli", "path", "glob", "time", "buffer", "zlib", "proto", "grpc",
         "tls", "hash", "cache", "queue", "worker", "schema", "codec", "image", "xml"]
JUSTIFICATIONS = ["component_not_present", "vulnerable_code_not_present",
                  "vulnerable_code_not_in_execute_path",
                  "vulnerable_code_cannot_be_controlled_by_adversary",
                  "inline_mitigations_already_exist"]
B32 = "23456789cfghjmpqrvwx"


def purl(rng: random.Random, i: int) -> str:
    eco = rng.choice(ECOSYSTEMS)
    name = "-".join(rng.sample(WORDS, rng.randint(1, 2))) + f"-{i}"
    version = f"{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}"
    if eco == "oci":
        digest = "%064x" % rng.getrandbits(256)
        return (f"pkg:oci/{name}@sha256%3A{digest}?repository_url=registry.example.com/apps/{name}"
                f"&tag=v{version}")
    if eco == "deb":
        return f"pkg:deb/debian/{name}@{version}-{rng.randint(1, 9)}?arch=amd64&distro=debian-12"
    if eco == "maven":
        return f"pkg:maven/org.{rng.choice(WORDS)}/{name}@{version}"
    if eco == "golang":
        return f"pkg:golang/github.com/{rng.choice(WORDS)}/{name}@v{version}"
    if eco == "npm" and rng.random() < 0.3:
        return f"pkg:npm/%40{rng.choice(WORDS)}/{name}@{version}"
    return f"pkg:{eco}/{name}@{version}"


def vulnerability(rng: random.Random, i: int) -> dict:
    cve = f"CVE-{rng.randint(2018, 2026)}-{10000 + i}"
    ghsa = None
    if rng.random() < 0.33:
        ghsa = "GHSA-" + "-".join("".join(rng.choices(B32, k=4)) for _ in range(3))
    words = " ".join(rng.choices(WORDS, k=rng.randint(6, 14)))
    return {"cve": cve, "ghsa": ghsa, "description": f"Improper handling of {words}."}


def product(key_rng: random.Random, p: str, with_hash: bool) -> dict:
    out = {"@id": p}
    if key_rng.random() < 0.2:
        out["identifiers"] = {"purl": p}
    if with_hash:
        out["hashes"] = {"sha-256": "%064x" % key_rng.getrandbits(256)}
    return out


def timestamp(seconds: int) -> str:
    # 2024-01-01T00:00:00Z plus seconds, written by hand so no locale or timezone library decides.
    days, rest = divmod(seconds, 86400)
    year, month, day = 2024, 1, 1 + days
    lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    while day > lengths[month - 1]:
        day -= lengths[month - 1]
        month += 1
        if month > 12:
            month, year = 1, year + 1
            lengths[1] = 29 if year % 4 == 0 else 28
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{h:02d}:{m:02d}:{s:02d}Z"


def statement(rng, author, vulns, purls, subs_of, key, doc_time, granularity) -> dict:
    _, _, _, _, by_ghsa = author
    v_index, p_index = key
    v = vulns[v_index]
    vuln = {"name": v["cve"]}
    if by_ghsa and v["ghsa"]:
        vuln = {"name": v["ghsa"], "aliases": [v["cve"]]}
    elif v["ghsa"] and rng.random() < 0.5:
        vuln["aliases"] = [v["ghsa"]]
    if rng.random() < 0.6:
        vuln["@id"] = f"https://nvd.nist.gov/vuln/detail/{v['cve']}"
    if rng.random() < 0.3:
        vuln["description"] = v["description"]
    products = []
    for extra, pi in enumerate([p_index] + [rng.randrange(len(purls)) for _ in range(
            rng.choices([0, 1, 2], weights=[85, 10, 5])[0])]):
        key_rng = random.Random(f"{v_index}/{pi}")
        prod = product(key_rng, purls[pi], key_rng.random() < 0.1)
        if extra == 0 and subs_of.get(pi) and rng.random() < 0.6:
            prod["subcomponents"] = [{"@id": purls[s]} for s in subs_of[pi]]
        products.append(prod)
    status = rng.choices(["not_affected", "affected", "fixed", "under_investigation"],
                         weights=[45, 25, 20, 10])[0]
    s = {"vulnerability": vuln, "products": products, "status": status}
    if rng.random() < 0.4:
        s["@id"] = f"https://vex.example.com/statements/{rng.getrandbits(64):016x}"
    if status == "not_affected":
        if rng.random() < 0.8:
            s["justification"] = rng.choice(JUSTIFICATIONS)
        if "justification" not in s or rng.random() < 0.4:
            s["impact_statement"] = ("The vulnerable function " + rng.choice(WORDS) + "_"
                                     + rng.choice(WORDS) + " is never called by this product.")
    elif status == "affected":
        s["action_statement"] = (f"Upgrade to {rng.randint(1, 12)}.{rng.randint(0, 40)}.0 or later,"
                                 f" or disable the {rng.choice(WORDS)} feature.")
        if rng.random() < 0.5:
            s["action_statement_timestamp"] = timestamp(doc_time - rng.randrange(86400 * 30))
    elif status == "fixed" and rng.random() < 0.3:
        s["status_notes"] = "Fixed in the rebuild with the patched " + rng.choice(WORDS) + " library."
    elif status == "under_investigation" and rng.random() < 0.5:
        s["status_notes"] = "The " + rng.choice(WORDS) + " team is assessing reachability."
    if rng.random() < 0.7:
        t = doc_time - rng.randrange(86400 * 60)
        s["timestamp"] = timestamp(t - t % granularity)
    if rng.random() < 0.1:
        s["supplier"] = rng.choice(AUTHORS)[0]
    return s


def main() -> int:
    if not 2 <= len(sys.argv) <= 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = sys.argv[1]
    documents = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    per_document = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = random.Random(seed)
    total = documents * per_document

    # Pools sized so that each (vulnerability, product) key is claimed about four times.
    vulns = [vulnerability(rng, i) for i in range(max(1, total // 40))]
    purls = [purl(rng, i) for i in range(max(1, total // 50))]
    keys = [(rng.randrange(len(vulns)), rng.randrange(len(purls))) for _ in range(max(1, total // 4))]
    # One product in ten has subcomponents (libraries inside an image or application).
    subs_of = {p: sorted(rng.sample(range(len(purls)), rng.randint(1, 2)))
               for p in range(len(purls)) if rng.random() < 0.1}

    os.makedirs(out, exist_ok=True)
    for d in range(documents):
        author = AUTHORS[d % len(AUTHORS)]
        name, role, tooling, granularity, _ = author
        doc_time = 86400 * 300 + rng.randrange(86400 * 400)
        doc_time -= doc_time % granularity
        doc = {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": f"https://vex.example.com/{name.split()[0].lower()}/vex-{d:04d}",
            "author": name,
            "role": role,
            "timestamp": timestamp(doc_time),
            "version": rng.randint(1, 5),
        }
        if rng.random() < 0.3:
            doc["last_updated"] = timestamp(doc_time + rng.randrange(86400 * 10))
        if tooling:
            doc["tooling"] = tooling
        doc["statements"] = [
            statement(rng, author, vulns, purls, subs_of, keys[rng.randrange(len(keys))], doc_time,
                      granularity)
            for _ in range(per_document)
        ]
        with open(os.path.join(out, f"vex-{d:04d}.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"), ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
