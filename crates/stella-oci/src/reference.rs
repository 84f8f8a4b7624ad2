//! Where an artifact lives: `oci-layout:PATH[:TAG|@DIGEST]` for an OCI image layout on disk,
//! `[HOST[:PORT]/]REPO[:TAG|@DIGEST]` for a registry.
//!
//! Registry references are parsed by `oci-spec`'s implementation of the distribution
//! reference grammar, with Docker Hub's normalisation: a name without a host is on Docker Hub
//! (`alpine:3.19` is `registry-1.docker.io/library/alpine:3.19`, `user/app` is
//! `registry-1.docker.io/user/app`), the host being the one that serves the registry API.
//!
//! Text that names a path is never sent to a registry: [`Reference::parse`] refuses a
//! "registry" whose host part is a path on this machine with a hint towards `oci-layout:`, and
//! [`ScanSource::classify`] tells a directory from an image for commands that take either.
//!
//! Not here: resolving a tag (each store does).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::OciError;

/// The host that serves Docker Hub's registry API, for references without a host.
pub const DOCKER_HUB: &str = "registry-1.docker.io";

/// What a reference points at inside its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A tag.
    Tag(String),
    /// A digest (`sha256:<hex>`).
    Digest(String),
    /// Nothing named (the store's default, `latest`).
    None,
}

impl From<&stella_core::Digest> for Target {
    fn from(digest: &stella_core::Digest) -> Self {
        Target::Digest(digest.to_string())
    }
}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// An OCI image layout directory.
    Layout {
        /// The directory.
        path: PathBuf,
        /// Tag or digest.
        target: Target,
    },
    /// A registry repository.
    Registry {
        /// `host[:port]`.
        host: String,
        /// Repository path.
        repository: String,
        /// Tag or digest.
        target: Target,
    },
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// Checks `sha256:<64 lower-case hex>`.
pub fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

fn split_target(text: &str, path_like: bool) -> Result<(String, Target), String> {
    if let Some((name, digest)) = text.rsplit_once('@') {
        if !valid_digest(digest) {
            return Err(format!(
                "digest {digest:?} is not sha256:<64 lower-case hex>"
            ));
        }
        return Ok((name.to_owned(), Target::Digest(digest.to_owned())));
    }
    // A tag follows the last ':' after the last '/', unless that ':' is a port.
    let last_slash = text.rfind('/').map_or(0, |i| i + 1);
    match text[last_slash..].rfind(':') {
        Some(i) if !path_like || last_slash > 0 || i > 0 => {
            let at = last_slash + i;
            let tag = &text[at + 1..];
            if !valid_tag(tag) {
                return Err(format!("tag {tag:?} is not a valid tag"));
            }
            Ok((text[..at].to_owned(), Target::Tag(tag.to_owned())))
        }
        _ => Ok((text.to_owned(), Target::None)),
    }
}

/// Whether `text` is written as a path: absolute, relative to `.` or `..`, or from `~`.
fn written_as_path(text: &str) -> bool {
    text == "."
        || text == ".."
        || text.starts_with('/')
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with('~')
}

/// The layout reference `text` probably meant when it names a path on this machine instead of
/// a registry: written as a path, a first component that starts with `.` (`.stella/oci:tag`),
/// or a first component that would be a Docker Hub namespace (no dot, no colon, not
/// `localhost`) and is a directory here. A host with a dot or a port stays a registry even
/// when a directory of that name exists.
fn path_hint(text: &str, is_dir: &dyn Fn(&Path) -> bool) -> Option<String> {
    let first = text.split('/').next().unwrap_or(text);
    let hub_namespace =
        text.contains('/') && !first.contains('.') && !first.contains(':') && first != "localhost";
    let pathy = written_as_path(text)
        || first.starts_with('.')
        || (hub_namespace && is_dir(Path::new(first)));
    pathy.then(|| format!("oci-layout:{text}"))
}

impl Reference {
    /// Parses a reference; a registry reference whose host part is a directory here is refused
    /// with a hint (see [`Reference::parse_with`]).
    ///
    /// # Errors
    /// [`OciError::Reference`] naming what is wrong; [`OciError::LooksLikePath`] for text that
    /// names a path on this machine rather than a registry.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        Self::parse_with(text, &|p: &Path| p.is_dir())
    }

    /// [`Reference::parse`], asking `is_dir` whether a path is a directory.
    ///
    /// # Errors
    /// As [`Reference::parse`].
    pub fn parse_with(text: &str, is_dir: &dyn Fn(&Path) -> bool) -> Result<Self, OciError> {
        let bad = |reason: String| OciError::Reference {
            reference: text.to_owned(),
            reason,
        };
        if let Some(rest) = text.strip_prefix("oci-layout:") {
            let (path, target) = split_target(rest, true).map_err(bad)?;
            if path.is_empty() {
                return Err(bad("no layout directory".to_owned()));
            }
            return Ok(Reference::Layout {
                path: PathBuf::from(path),
                target,
            });
        }
        if let Some(suggestion) = path_hint(text, is_dir) {
            return Err(OciError::LooksLikePath {
                reference: text.to_owned(),
                suggestion,
            });
        }
        parse_registry(text).map_err(bad)
    }

    /// The tag or digest.
    pub fn target(&self) -> &Target {
        match self {
            Reference::Layout { target, .. } | Reference::Registry { target, .. } => target,
        }
    }

    /// The same place, pointing at `digest`.
    pub fn with_digest(&self, digest: &str) -> Self {
        let mut r = self.clone();
        match &mut r {
            Reference::Layout { target, .. } | Reference::Registry { target, .. } => {
                *target = Target::Digest(digest.to_owned());
            }
        }
        r
    }
}

/// A registry reference, by the distribution grammar (`oci-spec`), normalised for Docker Hub.
fn parse_registry(text: &str) -> Result<Reference, String> {
    const EXPECTED: &str =
        "expected [HOST[:PORT]/]REPO[:TAG|@DIGEST] or oci-layout:PATH[:TAG|@DIGEST]";
    // The grammar has no IPv6 literals: parse the rest under a stand-in host.
    let (literal_host, grammar_text) = match ipv6_host(text) {
        Some((host, rest)) => (Some(host), format!("localhost/{rest}")),
        None => (None, text.to_owned()),
    };
    let parsed: oci_spec::distribution::Reference = grammar_text
        .parse()
        .map_err(|e: oci_spec::distribution::ParseError| format!("{e}; {EXPECTED}"))?;
    let host = match (literal_host, parsed.registry()) {
        (Some(host), _) => host.to_owned(),
        (None, "docker.io") => DOCKER_HUB.to_owned(),
        (None, host) => host.to_owned(),
    };
    let target = match (parsed.digest(), parsed.tag()) {
        (Some(digest), _) => {
            if !valid_digest(digest) {
                return Err(format!(
                    "digest {digest:?} is not sha256:<64 lower-case hex>"
                ));
            }
            Target::Digest(digest.to_owned())
        }
        // The parser fills in `latest` when no tag is written; the store's default is the same
        // tag, but the reference keeps saying what was written.
        (None, Some("latest")) if !text.ends_with(":latest") => Target::None,
        (None, Some(tag)) => Target::Tag(tag.to_owned()),
        (None, None) => Target::None,
    };
    Ok(Reference::Registry {
        host,
        repository: parsed.repository().to_owned(),
        target,
    })
}

/// `[ADDR][:PORT]` and the rest, for a reference that starts with an IPv6 literal host.
fn ipv6_host(text: &str) -> Option<(&str, &str)> {
    if !text.starts_with('[') {
        return None;
    }
    let (host, rest) = text.split_once('/')?;
    let close = host.find(']')?;
    let port = &host[close + 1..];
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok.then_some((host, rest))
}

/// What a command that takes "a directory or an image" (`stella scan`) was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanSource {
    /// A path on this machine (which may not exist: the caller says so, never a registry).
    Path(PathBuf),
    /// An image: in an OCI layout or in a registry.
    Image(Reference),
}

impl ScanSource {
    /// Classifies `text`: a text written as a path (starting with `/`, `./`, `../` or `~`, or
    /// `.` or `..`) or naming something that `exists` is a [`ScanSource::Path`], never a
    /// registry; `oci-layout:…` and registry references are a [`ScanSource::Image`].
    ///
    /// # Errors
    /// What [`Reference::parse_with`] reports for text that is neither (with `exists` standing
    /// in for "is a directory"): a malformed reference, or one that names a path.
    pub fn classify(text: &str, exists: impl Fn(&Path) -> bool) -> Result<Self, OciError> {
        if text.starts_with("oci-layout:") {
            return Ok(ScanSource::Image(Reference::parse_with(text, &exists)?));
        }
        if written_as_path(text) || exists(Path::new(text)) {
            return Ok(ScanSource::Path(PathBuf::from(text)));
        }
        Ok(ScanSource::Image(Reference::parse_with(text, &exists)?))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, target) = match self {
            Reference::Layout { path, target } => {
                (format!("oci-layout:{}", path.display()), target)
            }
            Reference::Registry {
                host,
                repository,
                target,
            } => (format!("{host}/{repository}"), target),
        };
        match target {
            Target::Tag(t) => write!(f, "{base}:{t}"),
            Target::Digest(d) => write!(f, "{base}@{d}"),
            Target::None => write!(f, "{base}"),
        }
    }
}
