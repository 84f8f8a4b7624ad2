"""Replay a FuncProof against its ELF or Mach-O binary with third-party readers only: PyPI
`pyelftools` (ELF sections, program headers, symbol tables, the GNU build-id note), PyPI `lief`
(Mach-O slices, segments, sections, symbols, LC_UUID), PyPI `blake3` and `hashlib`.

Usage: funcproof_replay.py PROOF BINARY
Checks, independently of Stella:
  * the whole file's BLAKE3, SHA-256 and size;
  * buildId against the NT_GNU_BUILD_ID note (when the proof says it came from the note);
  * every proven section: address, size and BLAKE3 of its bytes in the file;
  * every function and fragment: its [start, end) mapped to file bytes through the PT_LOAD
    segments, BLAKE3 of those bytes; for functions whose source is symtab/dynsym, that the symbol
    table pyelftools reads has a function symbol of that name at that address;
  * the list is sorted by address and no range lies outside a loadable segment;
  * every `inactive` range (BOLT's remains): BLAKE3 of its bytes, inside an executable
    `.bolt.org.*` section, and no function symbol of either table starts there.
For Mach-O, the same per slice of a universal file (each of the proof's `slices`, found by its
offset in the file; a thin file is one slice at offset 0): the slice's size and digests, its
LC_UUID, its sections, and its functions mapped to file bytes through the slice's segments
(offsets counted from the slice's start); names from `symtab` must be N_SECT symbols of that
address.
Prints {"functions": N, "fragments": N, "sections": N, "symbols": N, "mismatches": [...]} and
exits 1 when there is any mismatch.
"""

import hashlib
import json
import sys

import blake3
from elftools.elf.elffile import ELFFile


def file_offset(segments, start, end):
    """File offset of [start, end) inside one PT_LOAD segment's file bytes, or None."""
    for vaddr, offset, filesz in segments:
        if vaddr <= start and end <= vaddr + filesz:
            return offset + (start - vaddr)
    return None


MACHO_MAGICS = {b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"}
N_STAB, N_TYPE, N_SECT = 0xE0, 0x0E, 0x0E


def replay_functions(functions, segments, data, check, bad, symbols, counts):
    """Every function and fragment hashed from `data` through `segments`; symtab names looked up."""
    previous = -1
    for f in functions:
        start = int(f["start"], 16)
        if start < previous:
            bad.append({"kind": "order", "name": f["sym"], "expected": "sorted", "actual": f["start"]})
        previous = start
        for kind, part in [("functions", f)] + [("fragments", g) for g in f.get("fragments", [])]:
            lo, hi = int(part["start"], 16), int(part["end"], 16)
            offset = file_offset(segments, lo, hi)
            if offset is None:
                bad.append({"kind": "range", "name": part["sym"], "expected": "inside a segment",
                            "actual": f"{part['start']}..{part['end']}"})
                continue
            counts[kind] += 1
            check(kind, part["sym"], part["blake3"], blake3.blake3(data[offset:offset + hi - lo]).hexdigest())
        if f["source"] in ("symtab", "dynsym"):
            counts["symbols"] += 1
            if start not in symbols.get(f["sym"], set()):
                bad.append({"kind": "symbol", "name": f["sym"], "expected": f["start"],
                            "actual": sorted(hex(a) for a in symbols.get(f["sym"], set()))})


def replay_macho(proof, path, data, check, bad):
    import uuid

    import lief

    fat = lief.MachO.parse(path)
    if fat is None:
        sys.exit(f"{path}: lief cannot read it")
    by_offset = {b.fat_offset: b for b in fat}
    units = proof.get("slices") or [dict(proof, offset=0, arch="thin")]
    counts = {"functions": 0, "fragments": 0, "symbols": 0, "sections": 0, "slices": 0}
    if proof.get("slices"):
        check("slices", "count", len(units), len(by_offset))
    for unit in units:
        binary = by_offset.get(unit["offset"])
        if binary is None:
            bad.append({"kind": "slice", "name": unit["arch"], "expected": unit["offset"], "actual": "absent"})
            continue
        counts["slices"] += 1
        lo, size = unit["offset"], unit["file"]["size"]
        own = data[lo:lo + size]
        if proof.get("slices"):
            check("slice", unit["arch"] + " size", size, len(own))
            check("slice", unit["arch"] + " blake3", unit["file"]["blake3"], blake3.blake3(own).hexdigest())
            check("slice", unit["arch"] + " sha256", unit["file"]["sha256"], "sha256:" + hashlib.sha256(own).hexdigest())
        if binary.has_uuid:
            check("identity", unit["arch"] + " uuid", unit["identity"].get("uuid"),
                  str(uuid.UUID(bytes=bytes(binary.uuid.uuid))))
        # Sections by name; a repeated name is proven as `name#2`, `name#3`, … in header order.
        sections = {}
        for section in binary.sections:
            n = sum(1 for k in sections if k.split("#")[0] == section.name) + 1
            sections[section.name if n == 1 else f"{section.name}#{n}"] = section
        for name, claimed in sorted(unit["sections"].items()):
            section = sections.get(name)
            if section is None:
                bad.append({"kind": "section", "name": name, "expected": "present", "actual": "missing"})
                continue
            counts["sections"] += 1
            check("section", name + " addr", claimed["addr"], hex(section.virtual_address))
            check("section", name + " size", claimed["size"], section.size)
            body = own[section.offset:section.offset + section.size]
            check("section", name + " blake3", claimed["blake3"], blake3.blake3(body).hexdigest())
        segments = [(seg.virtual_address, seg.file_offset, seg.file_size)
                    for seg in binary.segments if seg.file_size > 0]
        symbols = {}
        for sym in binary.symbols:
            if sym.raw_type & N_STAB == 0 and sym.raw_type & N_TYPE == N_SECT:
                symbols.setdefault(sym.name, set()).add(sym.value)
        replay_functions(unit["functions"], segments, own, check, bad, symbols, counts)
    return counts


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as fh:
        proof = json.load(fh)
    with open(sys.argv[2], "rb") as fh:
        data = fh.read()
    bad = []

    def check(kind, name, expected, actual):
        if expected != actual:
            bad.append({"kind": kind, "name": name, "expected": expected, "actual": actual})

    check("file", "blake3", proof["file"]["blake3"], blake3.blake3(data).hexdigest())
    check("file", "sha256", proof["file"]["sha256"], "sha256:" + hashlib.sha256(data).hexdigest())
    check("file", "size", proof["file"]["size"], len(data))
    if data[:4] in MACHO_MAGICS:
        counts = replay_macho(proof, sys.argv[2], data, check, bad)
        print(json.dumps({**counts, "mismatches": bad[:20], "mismatch_count": len(bad)},
                         sort_keys=True))
        return 1 if bad else 0
    elf = ELFFile(open(sys.argv[2], "rb"))

    if proof["identity"].get("buildIdSource") == "gnu-note":
        note_id = None
        for section in elf.iter_sections():
            if section["sh_type"] != "SHT_NOTE":
                continue
            for note in section.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    note_id = note["n_desc"]
        check("identity", "buildId", proof["buildId"], note_id)

    sections = 0
    for name, claimed in sorted(proof["sections"].items()):
        section = elf.get_section_by_name(name)
        if section is None:
            bad.append({"kind": "section", "name": name, "expected": "present", "actual": "missing"})
            continue
        sections += 1
        check("section", name + " addr", claimed["addr"], hex(section["sh_addr"]))
        check("section", name + " size", claimed["size"], section["sh_size"])
        check("section", name + " blake3", claimed["blake3"], blake3.blake3(section.data()).hexdigest())

    segments = [
        (seg["p_vaddr"], seg["p_offset"], seg["p_filesz"])
        for seg in elf.iter_segments()
        if seg["p_type"] == "PT_LOAD"
    ]
    symbols = {}
    for table in (".symtab", ".dynsym"):
        section = elf.get_section_by_name(table)
        if section is None:
            continue
        for sym in section.iter_symbols():
            if sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and sym["st_shndx"] != "SHN_UNDEF":
                symbols.setdefault(sym.name.split("@")[0], set()).add(sym["st_value"])

    counts = {"functions": 0, "fragments": 0, "symbols": 0}
    previous = -1
    for f in proof["functions"]:
        start = int(f["start"], 16)
        if start < previous:
            bad.append({"kind": "order", "name": f["sym"], "expected": "sorted", "actual": f["start"]})
        previous = start
        for kind, part in [("functions", f)] + [("fragments", g) for g in f.get("fragments", [])]:
            lo, hi = int(part["start"], 16), int(part["end"], 16)
            offset = file_offset(segments, lo, hi)
            if offset is None:
                bad.append({"kind": "range", "name": part["sym"], "expected": "inside PT_LOAD",
                            "actual": f"{part['start']}..{part['end']}"})
                continue
            counts[kind] += 1
            check(kind, part["sym"], part["blake3"], blake3.blake3(data[offset:offset + hi - lo]).hexdigest())
        if f["source"] in ("symtab", "dynsym"):
            counts["symbols"] += 1
            if start not in symbols.get(f["sym"], set()):
                bad.append({"kind": "symbol", "name": f["sym"], "expected": f["start"],
                            "actual": sorted(hex(a) for a in symbols.get(f["sym"], set()))})

    org = [
        (sec["sh_addr"], sec["sh_addr"] + sec["sh_size"])
        for sec in elf.iter_sections()
        if sec.name.startswith(".bolt.org.") and sec["sh_flags"] & 0x4
    ]
    named = set().union(*symbols.values()) if symbols else set()
    counts["inactive"] = 0
    for r in proof.get("inactive", []):
        lo, hi = int(r["start"], 16), int(r["end"], 16)
        what = f"{r['role']} {r['start']}"
        offset = file_offset(segments, lo, hi)
        if offset is None:
            bad.append({"kind": "range", "name": what, "expected": "inside PT_LOAD",
                        "actual": f"{r['start']}..{r['end']}"})
            continue
        counts["inactive"] += 1
        check("inactive", what, r["blake3"], blake3.blake3(data[offset:offset + hi - lo]).hexdigest())
        if not any(a <= lo and hi <= b for a, b in org):
            bad.append({"kind": "inactive", "name": what, "expected": "inside .bolt.org.*",
                        "actual": f"{r['start']}..{r['end']}"})
        if lo in named:
            bad.append({"kind": "inactive", "name": what, "expected": "no symbol",
                        "actual": "a function symbol starts there"})

    print(json.dumps({**counts, "sections": sections, "mismatches": bad[:20],
                      "mismatch_count": len(bad)}, sort_keys=True))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
