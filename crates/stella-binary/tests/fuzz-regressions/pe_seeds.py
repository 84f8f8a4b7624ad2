"""Builds the PE seeds of this directory from seed.c (see the README): run from this directory.

seed-x86_64-mingw.dll         x86_64-w64-mingw32-gcc, COFF symbols, exports, .pdata and .xdata
seed-x86_64-mingw-chained.dll the same, with `_start`'s unwind info chained to `entry`'s
                              (UNW_FLAG_CHAININFO, no unwind codes, then `entry`'s RUNTIME_FUNCTION)
seed-aarch64-pe.dll           the same, with the machine set to ARM64 and .pdata rewritten as
                              arm64 entries: the first with an .xdata record, the others packed.
                              Its code is still x86-64: the seed is for the tables, not the code.

Needs gcc-mingw-w64-x86-64 and PyPI pefile.
"""

import os
import struct
import subprocess
import tempfile

import pefile

CHAININFO = 0x4


def build():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "seed.dll")
        subprocess.run(
            [
                "x86_64-w64-mingw32-gcc", "-O1", "-nostdlib", "-shared", "-fno-inline",
                "-Wl,--export-all-symbols", "-Wl,--file-alignment=16,--section-alignment=16",
                "-Wl,--disable-reloc-section", "-Wl,--no-insert-timestamp", "-Wl,--image-base=0x180000000",
                "-o", out, "seed.c",
            ],
            check=True,
        )
        with open(out, "rb") as f:
            return f.read()


def pdata(pe):
    directory = pe.OPTIONAL_HEADER.DATA_DIRECTORY[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]
    ]
    offset = pe.get_offset_from_rva(directory.VirtualAddress)
    entries = [
        struct.unpack_from("<III", pe.__data__, offset + 12 * i)
        for i in range(directory.Size // 12)
    ]
    return directory, offset, entries


def chained(data):
    data = bytearray(data)
    pe = pefile.PE(data=bytes(data))
    _, _, entries = pdata(pe)
    _, _, unwind = entries[2]
    at = pe.get_offset_from_rva(unwind)
    struct.pack_into("<BBBB", data, at, 1 | (CHAININFO << 3), 0, 0, 0)
    struct.pack_into("<III", data, at + 4, *entries[1])
    # The chained entry ends at the end of .xdata's file bytes: make them all part of it.
    xdata = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".xdata")
    struct.pack_into("<I", data, xdata.get_file_offset() + 8, xdata.SizeOfRawData)
    return bytes(data)


def arm64(data):
    data = bytearray(data)
    pe = pefile.PE(data=bytes(data))
    directory, offset, entries = pdata(pe)
    struct.pack_into("<H", data, pe.DOS_HEADER.e_lfanew + 4, 0xAA64)
    data[offset : offset + 12 * len(entries)] = bytes(12 * len(entries))
    for i, (begin, end, unwind) in enumerate(entries):
        words = (end - begin) // 4
        if i == 0:
            # An .xdata record: FunctionLength in bits 0..18 of its first word.
            struct.pack_into("<I", data, pe.get_offset_from_rva(unwind), words & 0x3FFFF)
            struct.pack_into("<II", data, offset + 8 * i, begin, unwind)
        else:
            # Packed unwind data (Flag 1): FunctionLength in bits 2..13.
            struct.pack_into("<II", data, offset + 8 * i, begin, 1 | (words << 2))
    struct.pack_into(
        "<II", data, directory.get_file_offset(), directory.VirtualAddress, 8 * len(entries)
    )
    return bytes(data)


def main():
    seed = build()
    for name, data in [
        ("seed-x86_64-mingw.dll", seed),
        ("seed-x86_64-mingw-chained.dll", chained(seed)),
        ("seed-aarch64-pe.dll", arm64(seed)),
    ]:
        with open(name, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
