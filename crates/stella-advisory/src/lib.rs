//! Advisories for Stella: what an advisory says is vulnerable, in which versions, and how that
//! is matched to what an image holds.
//!
//! What this crate owns so far:
//! - [`version`]: how each ecosystem orders its versions (SemVer for crates.io, npm and Go,
//!   PEP 440 for PyPI, dpkg for Debian and Ubuntu, upstream release numbers for the C libraries
//!   of Stella's overlay), so that advisory ranges are read as the
//!   ecosystem means them;
//! - [`apk`]: Alpine's version order, as apk-tools 2.x decides it;
//! - [`osv`]: OSV records read and checked, whether a version is affected, which symbols are
//!   vulnerable;
//! - [`export`]: database exports as zip archives (OSV's `all.zip`), read with limits that
//!   refuse zip bombs and entries that leave the archive's directory;
//! - [`rustsec`]: RustSec advisories with the per-function version requirements the OSV
//!   export drops;
//! - [`symbols`]: the rules that match an advisory's vulnerable symbol to a binary's functions
//!   (C versioned symbols, Go receivers, generics and closures, Rust defining paths and what
//!   inlining leaves), each match naming its rule, an uncertain match never read as absence.
//!
//! What it does not own: FuncProofs and SBOMs (`stella-binary`, `stella-sbom`), VEX
//! (`stella-vex`), storage (`stella-store`).

pub mod apk;
pub mod export;
pub mod osv;
pub mod rustsec;
pub mod symbols;
pub mod version;
