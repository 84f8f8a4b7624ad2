//! Inventory, generation and enrichment against synthetic root filesystems built in temporary
//! directories, the official CycloneDX 1.7 schema, SBOMs written by real generators
//! (`../shared/fixtures/sbom/`), and golden files (`golden/`, rewritten with `STELLA_BLESS=1`).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
mod enrich;
mod generate;
mod golden;
mod rootfs;
mod spdx_property;
