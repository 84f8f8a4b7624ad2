//! Stella's HTTP servers, as a library the `stella` binary (and tests) start.
//!
//! What this crate owns today:
//! - [`log`]: the embedded transparency log over HTTP — Rekor v2's create-entry write API and
//!   the C2SP tlog-tiles read API — with its timeouts, connection limit and batched durable
//!   appends.
//!
//! - [`fleet`]: `stella serve`, the agents' ingest API, the query API, health and metrics, with
//!   the log's API folded in.
//!
//! What it does not own: the log itself, the request checks and the answer's shape
//! (`stella-tlog`); argument parsing and printing (the `stella` binary).

pub mod fleet;
pub mod log;

pub use fleet::{FleetError, FleetOptions, FleetServer, Reactor};
pub use log::{LogServer, LogServerOptions, ServerError};
