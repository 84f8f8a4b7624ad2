//! [`EvidenceError`]: why a flow could not run to its end. A verification that says no is not
//! an error: it is a verdict ([`crate::verify`]); these are the inputs, stores and logs that
//! failed the flow itself.

use std::path::PathBuf;

use stella_core::{ErrorKind, Kinded};

/// Why a scan or a verification could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// An OCI store (layout or registry) failed.
    #[error("{context}: {source}")]
    Oci {
        /// What was being done.
        context: String,
        /// The store's error.
        #[source]
        source: Box<stella_oci::OciError>,
    },
    /// An SBOM could not be read, generated or enriched.
    #[error("{context}: {source}")]
    Sbom {
        /// Which SBOM.
        context: String,
        /// The SBOM crate's error.
        #[source]
        source: Box<stella_sbom::SbomError>,
    },
    /// A statement could not be built or signed.
    #[error("{context}: {source}")]
    Attest {
        /// Which statement.
        context: String,
        /// The attestation crate's error.
        #[source]
        source: Box<stella_attest::AttestError>,
    },
    /// Statements could not be signed, logged or bundled.
    #[error("{context}: {source}")]
    Sign {
        /// Which statements.
        context: String,
        /// What signing or the log said.
        #[source]
        source: Box<stella_tlog::sign::SignError>,
    },
    /// A binary's evidence could not be written.
    #[error("{context}: {source}")]
    Binary {
        /// Which binary.
        context: String,
        /// The binary crate's error.
        #[source]
        source: Box<stella_binary::BinaryError>,
    },
    /// Canonical JSON could not be written.
    #[error("{context}: {source}")]
    Json {
        /// Which document.
        context: String,
        /// The JCS error.
        #[source]
        source: Box<stella_core::jcs::JcsError>,
    },
    /// A file or directory could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The request itself is wrong: a target, a tag, an option.
    #[error("{what}: {reason}")]
    Invalid {
        /// What is wrong.
        what: String,
        /// Why, and what is expected.
        reason: String,
    },
}

impl EvidenceError {
    pub(crate) fn oci(context: impl Into<String>) -> impl FnOnce(stella_oci::OciError) -> Self {
        let context = context.into();
        move |source| EvidenceError::Oci {
            context,
            source: Box::new(source),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| EvidenceError::Io { path, source }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        EvidenceError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl Kinded for EvidenceError {
    fn kind(&self) -> ErrorKind {
        match self {
            EvidenceError::Oci { source, .. } => source.kind(),
            EvidenceError::Sbom { source, .. } => source.kind(),
            EvidenceError::Binary { source, .. } => source.kind(),
            EvidenceError::Attest { source, .. } => match source.kind() {
                // Signing what the scan built cannot be "rejected": it is the input's fault.
                ErrorKind::Rejected => ErrorKind::Invalid,
                other => other,
            },
            EvidenceError::Sign { source, .. } => source.kind(),
            EvidenceError::Json { .. } | EvidenceError::Invalid { .. } => ErrorKind::Invalid,
            EvidenceError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}
