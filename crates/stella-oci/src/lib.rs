//! Evidence as OCI artifacts: SBOMs, FuncProofs, bundles, VEX and symbol bundles stored as OCI
//! artifact manifests whose `subject` is the image they describe, found again through
//! referrers.
//!
//! What this crate owns:
//! - [`reference`]: `oci-layout:PATH[:TAG|@DIGEST]` and `HOST[:PORT]/REPO[:TAG|@DIGEST]`;
//! - [`store`]: the [`ArtifactStore`] trait every store implements, artifact manifests, and
//!   copying an image with all its referrers (recursively) between stores;
//! - [`layout`]: the OCI image-layout store (`$STELLA_HOME/oci` by default).
//!
//! What it does not own: what the artifacts contain, signing them, registries' HTTP (the
//! registry store comes with its own module).
//!
//! Manifests Stella writes are RFC 8785 canonical JSON, so the same artifact is the same
//! digest. Every blob read is checked against its digest before it is used.

pub mod layout;
pub mod reference;
pub mod store;

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
}
