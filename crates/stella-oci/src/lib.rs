//! Evidence as OCI artifacts: SBOMs, FuncProofs, bundles, VEX and symbol bundles stored as OCI
//! artifact manifests whose `subject` is the image they describe, found again through
//! referrers.
//!
//! What this crate owns:
//! - [`cosign`]: cosign's own storage found for an image: the legacy `sha256-<hex>.sig` /
//!   `.att` tags and what `cosign save` marks in a layout, read with limits;
//! - [`credentials`]: registry credentials from the Docker config, its credential helpers and
//!   the containers auth file, resolved as the Docker CLI does;
//! - [`reference`]: `oci-layout:PATH[:TAG|@DIGEST]` and `[HOST[:PORT]/]REPO[:TAG|@DIGEST]`
//!   (Docker Hub's normalisation included), and telling a path from an image reference;
//! - [`store`]: the [`ArtifactStore`] trait every store implements (`Send + Sync`, so a server
//!   shares one), artifact manifests, and copying an image with all its referrers
//!   (recursively) between stores;
//! - [`layout`]: the OCI image-layout store (`$STELLA_HOME/oci` by default);
//! - `registry` (the `registry` feature): the registry store, distribution-spec 1.1 with the
//!   referrers API and the `sha256-<hex>` tag-schema fallback;
//! - [`open`] and [`open_for_writing`]: the store a parsed reference names;
//! - [`image`]: container images themselves: packing a directory as a single-layer image,
//!   resolving a reference (through an index, to the host's platform) and unpacking the layers
//!   of an untrusted image into a directory.
//!
//! What it does not own: what the artifacts contain, signing them, logging them.
//!
//! Manifests Stella writes are RFC 8785 canonical JSON, so the same artifact is the same
//! digest. Every blob read is checked against its digest before it is used, except a layer
//! streamed into a directory by [`image::unpack`]: that is checked as it streams, and the unpack
//! fails (leaving a directory to discard) when it does not match.

pub mod cosign;
pub mod credentials;
pub mod image;
pub mod layout;
pub mod reference;
#[cfg(feature = "registry")]
pub mod registry;
pub mod store;
mod unpack;

pub use layout::LayoutStore;
pub use reference::Reference;
#[cfg(feature = "registry")]
pub use registry::RegistryStore;
pub use store::{ArtifactStore, Referrer};

use std::path::PathBuf;
use std::time::Duration;

use stella_core::{ErrorKind, Kinded};

/// How a registry is reached (layouts on disk ignore these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Plain HTTP for every host, not only loopback ones.
    pub insecure: bool,
    /// The bound of every request; a registry that hangs is an error.
    pub timeout: Duration,
    /// PEM files of certificate authorities trusted for HTTPS besides the system's roots
    /// (which `SSL_CERT_FILE` and `SSL_CERT_DIR` replace, as for OpenSSL).
    pub ca_files: Vec<PathBuf>,
    /// How long a credential helper may take to answer before it is killed.
    pub helper_timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: false,
            timeout: Duration::from_secs(60),
            ca_files: Vec::new(),
            helper_timeout: Duration::from_secs(10),
        }
    }
}

/// The store `reference` lives in, opened for reading: its existing layout directory (nothing
/// is created), or its registry repository.
///
/// # Errors
/// [`OciError::NoLayout`] naming the directory when it holds no layout; what
/// [`LayoutStore::open_existing`] reports; [`OciError::Reference`] for a registry reference when
/// the crate is built without its `registry` feature.
pub fn open(
    reference: &Reference,
    options: &RegistryOptions,
) -> Result<Box<dyn ArtifactStore>, OciError> {
    match reference {
        Reference::Layout { path, .. } => Ok(Box::new(LayoutStore::open_existing(path)?)),
        Reference::Registry {
            host, repository, ..
        } => open_registry(host, repository, options),
    }
}

/// The store `reference` lives in, opened for writing: its layout directory (an empty layout is
/// created where there is none), or its registry repository.
///
/// # Errors
/// What [`LayoutStore::open`] reports; [`OciError::Reference`] for a registry reference when the
/// crate is built without its `registry` feature.
pub fn open_for_writing(
    reference: &Reference,
    options: &RegistryOptions,
) -> Result<Box<dyn ArtifactStore>, OciError> {
    match reference {
        Reference::Layout { path, .. } => Ok(Box::new(LayoutStore::open(path)?)),
        Reference::Registry {
            host, repository, ..
        } => open_registry(host, repository, options),
    }
}

#[cfg(feature = "registry")]
fn open_registry(
    host: &str,
    repository: &str,
    options: &RegistryOptions,
) -> Result<Box<dyn ArtifactStore>, OciError> {
    Ok(Box::new(RegistryStore::new(host, repository, options)?))
}

#[cfg(not(feature = "registry"))]
fn open_registry(
    host: &str,
    repository: &str,
    _options: &RegistryOptions,
) -> Result<Box<dyn ArtifactStore>, OciError> {
    Err(OciError::Reference {
        reference: format!("{host}/{repository}"),
        reason: "this build has no registry support (stella-oci's `registry` feature)".to_owned(),
    })
}

/// Largest manifest accepted (the distribution spec's common limit).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Everything that can go wrong storing or finding artifacts.
///
/// Each variant says which [`ErrorKind`] it is (through [`Kinded`]), so the CLI's exit code and a
/// server's HTTP status come from the one table in `stella-core`: a remote registry failing is
/// [`ErrorKind::Unavailable`], the local disk [`ErrorKind::Environment`], something named that is
/// not there [`ErrorKind::NotFound`], content that does not hash to its digest
/// [`ErrorKind::Rejected`], input over a limit [`ErrorKind::TooLarge`], and a malformed reference
/// or document [`ErrorKind::Invalid`].
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
    /// A registry reference whose host part is a path on this machine: almost certainly an OCI
    /// layout given without its `oci-layout:` prefix, so no registry is asked.
    #[error("{reference:?} names a path, not a registry: did you mean {suggestion}?")]
    LooksLikePath {
        /// The text given.
        reference: String,
        /// The layout reference it probably meant (`oci-layout:…`).
        suggestion: String,
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
    #[error("{what} not found in {location}")]
    NotFound {
        /// What was asked for (`tag v1`, `blob sha256:…`, `manifest …`).
        what: String,
        /// Where it was looked for: a layout directory or a registry repository URL.
        location: String,
    },
    /// A directory that holds no OCI image layout, opened for reading.
    #[error("no OCI image layout at {} (it has no {missing})", path.display())]
    NoLayout {
        /// The directory.
        path: PathBuf,
        /// The file a layout has and this directory lacks.
        missing: &'static str,
    },
    /// A manifest, index or layout file that is not what it must be.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which document.
        what: String,
        /// Why.
        reason: String,
    },
    /// A manifest over [`MAX_MANIFEST_BYTES`].
    #[error("manifest of {size} bytes; at most {MAX_MANIFEST_BYTES} are accepted")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
    },
    /// The file system failed at `path`.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a stream that is not a file of its own failed (a layer streamed from
    /// a store, the tar of a layer being packed).
    #[error("{what}")]
    Stream {
        /// Which stream (`reading layer sha256:…`, `writing the layer`).
        what: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
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
    /// A registry request that could not be sent or whose answer could not be read.
    #[cfg(feature = "registry")]
    #[error("{url}")]
    Transport {
        /// The URL asked.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// A registry answered with a status the request cannot go on with.
    #[error("{url}: the registry answered HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body (at most 300 characters).
        body: String,
    },
    /// A registry that kept failing (transport errors or 5xx answers) through every retry.
    #[error("{url}: gave up after {attempts} attempts")]
    GaveUp {
        /// The URL asked.
        url: String,
        /// How many times it was asked.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<OciError>,
    },
    /// A registry that does not follow the distribution protocol (an upload without a
    /// `Location`, a 401 without a token realm, a token answer without a token).
    #[error("{url}: {reason}")]
    Protocol {
        /// The URL asked.
        url: String,
        /// What was missing or wrong.
        reason: &'static str,
    },
    /// The token server of a registry refused the credentials (or their absence).
    #[error("{realm} refused a token (HTTP {status}): {credentials}")]
    TokenRefused {
        /// The token server's URL.
        realm: String,
        /// The HTTP status it answered.
        status: u16,
        /// Which credentials were offered and where they came from, or where none were found
        /// (never the credentials themselves).
        credentials: String,
    },
    /// A registry that answered 401 to a request with the credentials found for it, or asked
    /// for credentials where none were found.
    #[error("{url}: the registry answered HTTP {status}: {credentials}")]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// The HTTP status (401).
        status: u16,
        /// As for [`OciError::TokenRefused`].
        credentials: String,
    },
    /// A credential settings file that exists but cannot be used.
    #[error("registry credentials in {}: {reason}", path.display())]
    CredentialConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the secret).
        reason: String,
    },
    /// A credential helper that gave no answer for a host.
    #[error("credential helper {program} for {host} {failure}")]
    CredentialHelper {
        /// The program (`docker-credential-<name>`).
        program: String,
        /// The registry host it was asked about.
        host: String,
        /// What went wrong.
        failure: credentials::HelperFailure,
    },
    /// A file of certificate authorities to trust that cannot be used.
    #[error("CA file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A registry whose TLS certificate is not trusted (or does not name it): not retried.
    #[cfg(feature = "registry")]
    #[error(
        "{url}: the registry's TLS certificate is not accepted (trust its CA with a CA file, \
         SSL_CERT_FILE or the system's roots)"
    )]
    Certificate {
        /// The URL asked.
        url: String,
        /// What the TLS client said (the certificate problem).
        #[source]
        source: reqwest::Error,
    },
}

impl Kinded for OciError {
    fn kind(&self) -> ErrorKind {
        match self {
            OciError::Reference { .. }
            | OciError::LooksLikePath { .. }
            | OciError::Invalid { .. }
            | OciError::CredentialConfig { .. }
            | OciError::CaFile { .. } => ErrorKind::Invalid,
            OciError::CredentialHelper { .. } => ErrorKind::Environment,
            OciError::DigestMismatch { .. } => ErrorKind::Rejected,
            OciError::NotFound { .. } | OciError::NoLayout { .. } | OciError::NoPlatform { .. } => {
                ErrorKind::NotFound
            }
            OciError::TooLarge { .. } | OciError::Limit { .. } => ErrorKind::TooLarge,
            OciError::Io { .. } | OciError::Stream { .. } => ErrorKind::Environment,
            #[cfg(feature = "registry")]
            OciError::Transport { .. } | OciError::Certificate { .. } => ErrorKind::Unavailable,
            OciError::Status { .. }
            | OciError::GaveUp { .. }
            | OciError::Protocol { .. }
            | OciError::TokenRefused { .. }
            | OciError::Unauthorized { .. } => ErrorKind::Unavailable,
        }
    }
}

impl OciError {
    /// The file-system failure `source` at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        OciError::Io {
            path: path.into(),
            source,
        }
    }
}
