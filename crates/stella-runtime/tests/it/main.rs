//! stella-runtime against real processes and real peers, in one test binary (one link on a
//! 2-core machine): the eBPF sampler ([`sampler`]), uprobe witnesses ([`witness`]), symbolisation
//! checked against elfutils and a real debuginfod ([`symbolize`]), and what blazesym answers for
//! the same inputs as our `/proc/PID/maps` normalisation, kallsyms and perf-map readers
//! ([`blazesym_agreement`]). The eBPF parts need root; without it they fail loudly.

// Test helpers may fail loudly: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod blazesym_agreement;
mod common;
mod sampler;
mod symbolize;
mod witness;
