"""Functions of a Mach-O file (thin or universal) as PyPI `lief` sees them, for comparison with
`stella funcproof`.

Usage: macho_functions.py FILE
Prints one JSON object with one entry per slice (a thin file is one slice at offset 0), in file
order:
  {"slices": [{"cpu": "ARM64" | "X86_64" | ...,
               "offset": the slice's offset in the file,
               "uuid": LC_UUID as text, or null,
               "function_starts": [address, ...],   LC_FUNCTION_STARTS, as addresses (the
                                                    __TEXT segment's address plus lief's offsets)
               "symbols": [[address, name], ...]}]} N_SECT symbols (stabs left out) in sections
                                                    holding instructions
Each list is sorted.
"""

import json
import sys
import uuid

import lief

N_STAB = 0xE0
N_TYPE = 0x0E
N_SECT = 0x0E
CODE = {lief.MachO.Section.FLAGS.PURE_INSTRUCTIONS, lief.MachO.Section.FLAGS.SOME_INSTRUCTIONS}


def slice_functions(binary):
    text = binary.get_segment("__TEXT")
    base = text.virtual_address if text is not None else 0
    starts = []
    if binary.has_function_starts:
        starts = sorted(base + offset for offset in binary.function_starts.functions)
    sections = list(binary.sections)
    code = {i + 1 for i, s in enumerate(sections) if CODE & set(s.flags_list)}
    symbols = sorted(
        (s.value, s.name)
        for s in binary.symbols
        if s.raw_type & N_STAB == 0
        and s.raw_type & N_TYPE == N_SECT
        and s.numberof_sections in code
    )
    return {
        "cpu": str(binary.header.cpu_type).split(".")[-1],
        "offset": binary.fat_offset,
        "uuid": str(uuid.UUID(bytes=bytes(binary.uuid.uuid))) if binary.has_uuid else None,
        "function_starts": starts,
        "symbols": symbols,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    fat = lief.MachO.parse(sys.argv[1])
    if fat is None:
        sys.exit(f"{sys.argv[1]}: lief cannot read it")
    slices = sorted((slice_functions(b) for b in fat), key=lambda s: s["offset"])
    print(json.dumps({"slices": slices}))


if __name__ == "__main__":
    main()
