//! FuncProof against binaries built here from C, C++ and Rust source by gcc, clang, g++, rustc
//! and an aarch64 cross gcc: with symbols, stripped, PIE and non-PIE. `nm` is the peer for
//! symbol lists. The same fixtures, and a shared library linked against by gcc here, exercise
//! `inspect` (with `readelf` as the peer) and the symbol tables and bundles of `symbols`. The
//! committed seed binaries give the golden FuncProofs ([`golden`]) and, with the fuzzer's finds,
//! the fuzz regressions ([`fuzz_regressions`]).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod bolt;
mod fixtures;
mod fuzz_regressions;
mod gobuild;
mod golden;
mod inspect;
mod languages;
mod pe;
mod proof;
mod symbols;
mod verify;
