//! End-to-end tests of the `stella` binary: one test binary, one module per area.

// Test helpers may fail loudly: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod advisories;
mod assess;
mod assess_runtime;
mod attest;
mod audit;
mod callgraph_arm64;
mod cli;
mod cosign_storage;
mod fleet;
mod fleet_agents;
mod fleet_reactions;
mod funcproof;
mod inputs;
mod interop;
mod keys_files;
mod log_hardening;
mod log_server;
mod newcomer;
mod oci;
mod oci_api;
mod oci_credentials;
mod printing;
mod report;
mod runtime;
mod sbom;
mod scan;
mod score;
mod sigstore_conformance;
mod sigstore_rs;
mod spdx;
mod tlog_crash;
mod trust;
mod verify_trust;
mod vex;
