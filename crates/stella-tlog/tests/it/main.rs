//! Integration tests of the embedded log: one test binary, one module per area.

// Test helpers may fail loudly: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod append_io;
mod audit;
mod corruption;
mod signing;
mod witness;
