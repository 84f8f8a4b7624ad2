//! FuncProof against binaries built here from C source: with symbols, stripped, PIE and
//! non-PIE. `nm` is the peer for symbol lists.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod fixtures;
mod proof;
