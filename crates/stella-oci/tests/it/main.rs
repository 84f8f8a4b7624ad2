//! The OCI stores as a library: one test binary, one module per area.

// Helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod image;
mod reference;
#[cfg(feature = "registry")]
mod registry;
mod store;
