//! The VEX model against real documents (`../shared/fixtures/openvex/`), the OpenVEX 0.2.0 JSON
//! schema as a validator we did not write checks it, and the reader's refusals.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod bad_input;
mod csaf;
mod cyclonedx;
mod matching;
mod merge;
mod openvex_read;
mod openvex_write;
mod validate;

use std::path::PathBuf;

/// A file under the shared fixtures (`<repo>/../shared/fixtures/<rel>`).
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
