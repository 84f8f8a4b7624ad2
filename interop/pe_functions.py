"""Functions of a PE image as third-party readers see them, for comparison with
`stella funcproof`: PyPI `lief` (the exception directory, `.pdata`, x64 and arm64) and PyPI
`pefile` (the export table).

Usage: pe_functions.py FILE
Prints one JSON object, addresses as virtual addresses (image base + RVA):
  {"machine": "AMD64" | "ARM64" | ...,
   "functions": [[start, end], ...],       lief's .pdata ranges that are not chained parts
   "parts": [[start, end, root], ...],     chained x64 parts and the start of the entry their
                                           chain ends at
   "exports": [[name, address], ...]}      pefile's named exports that are not forwarded and lie
                                           in an executable section
Each list is sorted.
"""

import json
import sys

import lief
import pefile

MAX_CHAIN = 32


def unwind_ranges(path):
    config = lief.PE.ParserConfig()
    config.parse_exceptions = True
    binary = lief.PE.parse(path, config)
    if binary is None:
        sys.exit(f"{path}: lief cannot read it")
    base = binary.imagebase
    functions, parts = set(), set()
    for entry in binary.exceptions:
        start, end = base + entry.rva_start, base + entry.rva_end
        root = None
        info = getattr(entry, "unwind_info", None)
        for _ in range(MAX_CHAIN):
            if info is None or not info.has(lief.PE.RuntimeFunctionX64.UNWIND_FLAGS.CHAIN_INFO):
                break
            parent = info.chained
            if parent is None:
                break
            root = base + parent.rva_start
            info = parent.unwind_info
        if root is None or root == start:
            functions.add((start, end))
        else:
            parts.add((start, end, root))
    return str(binary.header.machine).split(".")[-1], functions, parts


def exports(path):
    pe = pefile.PE(path, fast_load=True)
    pe.parse_data_directories(
        directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]]
    )
    executable = pefile.SECTION_CHARACTERISTICS["IMAGE_SCN_MEM_EXECUTE"] | pefile.SECTION_CHARACTERISTICS["IMAGE_SCN_CNT_CODE"]
    out = set()
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    for symbol in directory.symbols if directory else []:
        if symbol.name is None or symbol.forwarder is not None:
            continue
        section = pe.get_section_by_rva(symbol.address)
        if section is None or not section.Characteristics & executable:
            continue
        out.add((symbol.name.decode(), pe.OPTIONAL_HEADER.ImageBase + symbol.address))
    return out


def main():
    path = sys.argv[1]
    machine, functions, parts = unwind_ranges(path)
    print(
        json.dumps(
            {
                "machine": machine,
                "functions": sorted(functions),
                "parts": sorted(parts),
                "exports": sorted(exports(path)),
            }
        )
    )


if __name__ == "__main__":
    main()
