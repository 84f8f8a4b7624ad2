//! Evidence as OCI artifacts: SBOMs, FuncProofs, bundles, VEX and symbol bundles stored as OCI
//! artifact manifests whose `subject` is the image they describe, found again through
//! referrers.
//!
//! What this crate owns:
//! - [`reference`]: `oci-layout:PATH[:TAG|@DIGEST]` and `HOST[:PORT]/REPO[:TAG|@DIGEST]`;
//! - [`store`]: the [`ArtifactStore`] trait every store implements, artifact manifests, and
//!   copying an image with all its referrers (recursively) between stores;
//! - [`layout`]: the OCI image-layout store (`$STELLA_HOME/oci` by default);
//! - [`image`]: container images themselves: packing a directory as a single-layer image,
//!   resolving a reference (through an index, to the host's platform) and unpacking the layers
//!   of an untrusted image into a directory.
//!
//! What it does not own: what the artifacts contain, signing them, registries' HTTP (the
//! registry store comes with its own module).
//!
//! Manifests Stella writes are RFC 8785 canonical JSON, so the same artifact is the same
//! digest. Every blob read is checked against its digest before it is used, except a layer
//! streamed into a directory by [`image::unpack`]: that is checked as it streams, and the unpack
//! fails (leaving a directory to discard) when it does not match.

pub mod image;
pub mod layout;
pub mod reference;
pub mod store;
mod unpack;

pub use layout::LayoutStore;
pub use reference::Reference;
pub use store::{ArtifactStore, Referrer};

/// Largest manifest accepted (the distribution spec's common limit).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Everything that can go wrong storing or finding artifacts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A reference that cannot be parsed.
    #[error("reference {reference:?}: {reason}")]
    Reference {
        /// The text given.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// Content whose digest is not the one it is stored or announced under.
    #[error("digest mismatch for {expected}: the content hashes to {actual}")]
    DigestMismatch {
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// Nothing under that tag or digest.
    #[error("not found: {0}")]
    NotFound(String),
    /// A manifest, index or layout file that is not what it must be.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which document.
        what: String,
        /// Why.
        reason: String,
    },
    /// A manifest over [`MAX_MANIFEST_BYTES`].
    #[error("manifest of {0} bytes; at most {MAX_MANIFEST_BYTES} are accepted")]
    TooLarge(usize),
    /// The file system failed.
    #[error("{0}")]
    Io(String),
    /// Input over one of the limits set for reading it.
    #[error("limit exceeded: {what}; the limit is {limit}")]
    Limit {
        /// Which limit, and what went over it.
        what: String,
        /// The limit's value.
        limit: u64,
    },
    /// An index with no manifest for the platform asked for.
    #[error(
        "index {index} has no image for {wanted}; it has: {}",
        if available.is_empty() { "no platform-specific images".to_owned() } else { available.join(", ") }
    )]
    NoPlatform {
        /// The index's digest.
        index: String,
        /// The platform asked for (`os/architecture[/variant]`).
        wanted: String,
        /// The platforms the index lists.
        available: Vec<String>,
    },
}
