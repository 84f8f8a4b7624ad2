//! Stella's HTTP servers, as a library the `stella` binary (and tests) start.
//!
//! What this crate owns today:
//! - [`log`]: the embedded transparency log over HTTP — Rekor v2's create-entry write API and
//!   the C2SP tlog-tiles read API — with its timeouts, connection limit and batched durable
//!   appends.
//!
//! It will grow the fleet-scale APIs of DESIGN's map: the agent ingest API (`stella agent`
//! posting runtime evidence), the query API and the live report of `stella serve`.
//!
//! What it does not own: the log itself, the request checks and the answer's shape
//! (`stella-tlog`); argument parsing and printing (the `stella` binary).

pub mod log;

pub use log::{LogServer, LogServerOptions, ServerError};
