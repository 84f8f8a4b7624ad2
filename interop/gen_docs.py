#!/usr/bin/env python3
"""Write random I-JSON documents that stress RFC 8785 canonicalisers where they tend to differ.

Usage: gen_docs.py SEED COUNT OUTDIR
Writes OUTDIR/doc-0000.json ... The same SEED always gives the same bytes.

What the documents exercise, and why:
- member names mixing ASCII, U+0080-U+07FF, U+E000-U+FFFF and supplementary-plane characters,
  often with a shared prefix: UTF-16 order (RFC 8785 §3.2.3) puts a supplementary character
  (a surrogate pair, 0xD800...) *before* U+E000-U+FFFF, code-point or UTF-8 order puts it after;
- control characters, quotes, backslashes, U+007F, U+2028/U+2029, written raw or as \\u escapes
  in either case, and surrogate pairs written as escapes: one string, many spellings;
- numbers whose ECMAScript form is easy to get wrong: exponent thresholds (1e21, 1e-7), the
  smallest subnormal (5e-324), -0.0, 0.1+0.2, 2**53, the largest double, non-shortest and
  non-canonical spellings (1.50, 1E+2, 0.000001, 17 significant digits);
- random nesting depth and width, and random insignificant whitespace.

Every document is valid I-JSON (RFC 7493), so every correct canonicaliser must accept it and agree:
no duplicate member names after unescaping, no lone surrogates, no NaN or infinities, and integer
literals only within ±(2**53 - 1) (PyPI rfc8785 refuses 2**53 itself as an integer, so that value
is written as a float literal).
"""

import os
import random
import struct
import sys

MAX_SAFE = 2**53 - 1

EDGE_FLOATS = [
    1e21, 1e20, 999999999999999900000.0, 1e-7, 1e-6, 0.000001, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, -0.0, 0.1 + 0.2, float(2**53), float(2**53 + 2), -float(2**53),
    123456789012345680000.0, 1.5, 4.5, 0.002, 1e30, 1e-30, 333333333.3333333, 9.999999999999999e22,
    295147905179352830000.0, 1e23, 5e-7, 1.0000000000000002, 100.0, -1e-7,
]
# Literals as a document author might write them, each spelling a double exactly or by rounding.
EDGE_LITERALS = [
    "1E+2", "1e2", "1.50", "-0", "-0.0", "0.0", "0e10", "1E-7", "1e+21", "100e-2",
    "2.4703282292062328e-324", "0.30000000000000004", "0.3000000000000000444089209850062616169452667236328125",
    "9007199254740992.0", "9007199254740993.0", "1.7976931348623157E308", "4.9e-324", "123456789e-9",
    "0.000000123", "12345678901234567890.0", "1e-0", "-1E-0", "0.1e1",
]
SAFE_INTS = [0, 1, -1, MAX_SAFE, -MAX_SAFE, MAX_SAFE - 1, 2**31, -(2**31), 2**32, 10**15, 42]

ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. $"
SPECIAL = ['"', "\\", "/", "\x7f", "\u2028", "\u2029", "\ufeff", "\u00e9", "\u20ac"]


def rand_char(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return rng.choice(ASCII)
    if r < 0.55:
        return chr(rng.randrange(0x00, 0x20))
    if r < 0.62:
        return rng.choice(SPECIAL)
    if r < 0.70:
        return chr(rng.randrange(0x80, 0x800))
    if r < 0.78:
        return chr(rng.randrange(0x800, 0xD800))
    if r < 0.89:
        return chr(rng.randrange(0xE000, 0x10000))
    return chr(rng.randrange(0x10000, 0x110000))


def rand_str(rng: random.Random, max_len: int) -> str:
    return "".join(rand_char(rng) for _ in range(rng.randrange(0, max_len + 1)))


def rand_key(rng: random.Random, prefixes: list) -> str:
    # Shared prefixes force the comparison down to the characters whose order differs.
    if prefixes and rng.random() < 0.5:
        return rng.choice(prefixes) + rand_str(rng, 3)
    return rand_str(rng, 8)


def write_str(rng: random.Random, s: str) -> str:
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif cp < 0x20 or rng.random() < 0.1:
            short = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "/": "\\/"}
            if ch in short and rng.random() < 0.5:
                out.append(short[ch])
            elif cp >= 0x10000:
                hi, lo = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
                fmt = "\\u%04x\\u%04x" if rng.random() < 0.5 else "\\u%04X\\u%04X"
                out.append(fmt % (hi, lo))
            else:
                out.append(("\\u%04x" if rng.random() < 0.5 else "\\u%04X") % cp)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def rand_double(rng: random.Random) -> float:
    while True:
        (f,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        if f == f and abs(f) != float("inf"):
            return f


def write_number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25:
        return repr(rng.choice(EDGE_FLOATS))
    if r < 0.40:
        return rng.choice(EDGE_LITERALS)
    if r < 0.55:
        return str(rng.choice(SAFE_INTS) if rng.random() < 0.3 else rng.randint(-MAX_SAFE, MAX_SAFE))
    if r < 0.75:
        return repr(rand_double(rng))
    if r < 0.90:
        # A decimal with a random exponent near the ECMAScript switch points (1e21, 1e-7).
        return "%de%d" % (rng.randint(1, 999999), rng.randint(-30, 30))
    # 17 significant digits: often not the shortest spelling of the double it rounds to.
    lit = "%.17g" % rand_double(rng) if rng.random() < 0.5 else "%.17e" % rng.uniform(-1e6, 1e6)
    # %g can print a large double as digits alone, which readers take as an (unsafe) integer.
    return lit if any(c in lit for c in ".eE") else lit + ".0"


def ws(rng: random.Random) -> str:
    return "" if rng.random() < 0.7 else rng.choice([" ", "\n", "\t", "\r\n", "  "])


def write_value(rng: random.Random, depth: int, prefixes: list) -> str:
    r = rng.random()
    if depth < 12 and r < 0.22:
        keys, members = set(), []
        for _ in range(rng.randrange(0, 9)):
            k = rand_key(rng, prefixes)
            if k in keys:
                continue
            keys.add(k)
            member = write_str(rng, k) + ws(rng) + ":" + ws(rng) + write_value(rng, depth + 1, prefixes)
            members.append(member)
        return "{" + ws(rng) + ("," + ws(rng)).join(members) + ws(rng) + "}"
    if depth < 12 and r < 0.38:
        items = [write_value(rng, depth + 1, prefixes) for _ in range(rng.randrange(0, 7))]
        return "[" + ws(rng) + ("," + ws(rng)).join(items) + ws(rng) + "]"
    if r < 0.62:
        return write_number(rng)
    if r < 0.92:
        return write_str(rng, rand_str(rng, 12))
    return rng.choice(["true", "false", "null"])


def write_document(rng: random.Random) -> str:
    prefixes = [rand_str(rng, 2) + c for c in ("\ue000", "\U0001f600", "\uffff", "\U00010000", "a")]
    # Mostly an object at the top, like the SBOMs canonical ids are taken of; some arrays and
    # scalars because RFC 8785 canonicalises any JSON text.
    r = rng.random()
    if r < 0.85:
        keys, members = set(), []
        for _ in range(rng.randrange(1, 25)):
            k = rand_key(rng, prefixes)
            if k not in keys:
                keys.add(k)
                members.append(write_str(rng, k) + ":" + ws(rng) + write_value(rng, 1, prefixes))
        body = "{" + ("," + ws(rng)).join(members) + "}"
    elif r < 0.95:
        body = "[" + ",".join(write_value(rng, 1, prefixes) for _ in range(rng.randrange(0, 20))) + "]"
    else:
        body = write_value(rng, 12, prefixes)
    return ws(rng) + body + ws(rng)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    seed, count, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    for i in range(count):
        with open(os.path.join(out_dir, "doc-%04d.json" % i), "w", encoding="utf-8", newline="") as f:
            f.write(write_document(rng))
    return 0


if __name__ == "__main__":
    sys.exit(main())
