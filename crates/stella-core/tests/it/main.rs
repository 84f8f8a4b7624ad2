//! Integration tests of stella-core: one test binary, one module per area.

mod fuzz_regressions;
