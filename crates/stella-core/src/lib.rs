//! Stella's shared ground, used by every other crate.
//!
//! What this crate owns:
//! - [`jcs`]: a strict I-JSON reader and the RFC 8785 (JSON Canonicalization Scheme) writer, which
//!   together define the bytes behind every `canonical_id`;
//! - [`digest`]: [`Digest`], an algorithm-tagged hex digest (`sha256:<hex>`), and the SHA-256
//!   helpers that compute canonical ids;
//! - [`media`]: the media types, OCI artifact types and in-toto predicate-type URIs of Stella's
//!   contracts;
//! - [`time`]: RFC 3339 UTC timestamps;
//! - [`file`]: opening a path that must be a regular file without blocking on a FIFO or device;
//! - [`error`]: [`ErrorKind`], the kind every crate's errors map to, and its one table of exit
//!   codes and HTTP statuses;
//! - [`build_id`]: [`BuildId`], a binary's build id as lower-case hex;
//! - [`hex`]: the one lower-case hex encoder;
//! - [`ordered`]: mapping items on worker threads while the caller consumes the results in order.
//!
//! What it does not own: any document model (CycloneDX lives in `stella-sbom`), any I/O beyond
//! reading the bytes it is handed (and opening the files every crate reads the same guarded
//! way), and any policy about which documents are acceptable.

pub mod build_id;
pub mod digest;
pub mod error;
pub mod file;
pub mod hex;
pub mod jcs;
pub mod media;
pub mod ordered;
pub mod time;

pub use build_id::{BuildId, BuildIdError};
pub use digest::{Digest, DigestError};
pub use error::{ErrorKind, Kinded};
