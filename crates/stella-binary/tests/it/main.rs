//! FuncProof against binaries built here from C, C++ and Rust source by gcc, clang, g++, rustc
//! and an aarch64 cross gcc: with symbols, stripped, PIE and non-PIE. `nm` is the peer for
//! symbol lists.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod fixtures;
mod languages;
mod proof;
