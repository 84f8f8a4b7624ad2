//! Integration tests of stella-attest: one test binary, one module per area.

mod fuzz_regressions;
