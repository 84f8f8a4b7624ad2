"""Identity of a PE or Mach-O file as third-party readers see it, for comparison with
`stella funcproof`: PyPI `pefile` (CodeView RSDS record, COFF header) and PyPI `macholib`
(LC_UUID).

Usage: binary_identity.py FILE
Prints one JSON object:
  PE:     {"format": "pe", "debugId": "<guid>-<age hex>", "codeId": "<TIMESTAMP><size of image>",
           "pdb": "<path>"}
          debugId is the Breakpad/Sentry form: the GUID in its canonical text form, lower case,
          then the age in hex; codeId is what symbol servers index PE files by
          (TimeDateStamp as 8 upper-case hex digits, SizeOfImage in lower-case hex).
  Mach-O: {"format": "macho", "uuid": "<uuid>", "debugId": "<uuid>"}; a universal file:
          {"format": "macho", "slices": [{"offset": N, "uuid": ..., "debugId": ...}, ...]}
Exit 1 when the file is neither, or carries no such record.
"""

import json
import sys
import uuid


def pe_identity(path):
    import pefile

    pe = pefile.PE(path, fast_load=True)
    pe.parse_data_directories(
        directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]]
    )
    out = {
        "format": "pe",
        "codeId": "%08X%x"
        % (pe.FILE_HEADER.TimeDateStamp, pe.OPTIONAL_HEADER.SizeOfImage),
    }
    for entry in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        cv = entry.entry
        if entry.struct.Type != pefile.DEBUG_TYPE["IMAGE_DEBUG_TYPE_CODEVIEW"] or cv is None:
            continue
        if cv.CvSignature != b"RSDS":
            continue
        # GUID fields 1-3 are little-endian integers; the last 8 bytes are taken as they are.
        tail = bytes([cv.Signature_Data4, cv.Signature_Data5]) + cv.Signature_Data6
        guid = uuid.UUID(
            fields=(
                cv.Signature_Data1,
                cv.Signature_Data2,
                cv.Signature_Data3,
                tail[0],
                tail[1],
                int.from_bytes(tail[2:], "big"),
            )
        )
        out["debugId"] = "%s-%x" % (guid, cv.Age)
        out["pdb"] = cv.PdbFileName.rstrip(b"\0").decode("utf-8", "replace")
        return out
    sys.exit("%s: PE file without a CodeView RSDS record" % path)


def macho_identity(path):
    from macholib.mach_o import LC_UUID
    from macholib.MachO import MachO

    macho = MachO(path)

    def identity(header):
        for load_command, command, _data in header.commands:
            if load_command.cmd == LC_UUID:
                text = str(uuid.UUID(bytes=bytes(command.uuid)))
                # Breakpad/Sentry name a Mach-O file by its UUID (age 0, not written).
                return {"uuid": text, "debugId": text}
        sys.exit("%s: Mach-O file without LC_UUID" % path)

    if macho.fat is None:
        return {"format": "macho", **identity(macho.headers[0])}
    slices = [{"offset": h.offset, **identity(h)} for h in macho.headers]
    return {"format": "macho", "slices": sorted(slices, key=lambda s: s["offset"])}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"MZ":
        identity = pe_identity(path)
    elif magic in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        identity = macho_identity(path)
    else:
        sys.exit("%s: neither PE nor Mach-O" % path)
    json.dump(identity, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
