//! Integration tests of Stella's servers: one test binary, one module per server.

// Test helpers may fail loudly: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod log;
