//! The flows as a library: a scan of a small directory, its replay, and the answers both give.

// Test helpers may fail loudly: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod flows;
mod golden;
