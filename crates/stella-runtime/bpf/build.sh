#!/usr/bin/env bash
# Rebuilds stella.bpf.o from stella.bpf.c. The object is committed, so building Stella needs no
# clang; CI runs this script and fails if the bytes differ from the committed ones.
# Needs clang (Debian 12's clang 14 made the committed object) and the kernel's UAPI headers
# (linux-libc-dev). DWARF is stripped after compiling; the BTF the loader needs stays.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
    -fdebug-prefix-map="$PWD"=. -c stella.bpf.c -o stella.bpf.o.tmp
llvm-strip -g stella.bpf.o.tmp
mv stella.bpf.o.tmp stella.bpf.o
