//! The advisory crate against peers: version ordering compared with `dpkg --compare-versions`
//! and PyPI `univers` on generated pairs.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod export;
mod osv;
mod overlay;
mod rustsec;
mod symbols;
mod versions;
