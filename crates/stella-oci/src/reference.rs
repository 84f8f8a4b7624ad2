//! Where an artifact lives: `oci-layout:PATH[:TAG|@DIGEST]` for an OCI image layout on disk,
//! `HOST[:PORT]/REPO[:TAG|@DIGEST]` for a registry.
//!
//! Not here: resolving a tag (each store does).

use std::fmt;
use std::path::PathBuf;

use crate::OciError;

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

impl Reference {
    /// Parses a reference.
    ///
    /// # Errors
    /// [`OciError::Reference`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, OciError> {
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
        let (name, target) = split_target(text, false).map_err(bad)?;
        let (host, repository) = name
            .split_once('/')
            .ok_or_else(|| bad("expected HOST[:PORT]/REPO or oci-layout:PATH".to_owned()))?;
        if host.is_empty() || !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(bad(format!(
                "{host:?} is not a registry host (HOST[:PORT] with a dot or a port, or localhost)"
            )));
        }
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !repo_ok {
            return Err(bad(format!(
                "repository {repository:?} must be lower-case path components"
            )));
        }
        Ok(Reference::Registry {
            host: host.to_owned(),
            repository: repository.to_owned(),
            target,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_registries() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            Reference::parse("oci-layout:/tmp/x:v1").expect("ok"),
            Reference::Layout {
                path: "/tmp/x".into(),
                target: Target::Tag("v1".into())
            }
        );
        assert_eq!(
            Reference::parse(&format!("oci-layout:out/img@{d}")).expect("ok"),
            Reference::Layout {
                path: "out/img".into(),
                target: Target::Digest(d.clone())
            }
        );
        assert_eq!(
            Reference::parse("oci-layout:img").expect("ok"),
            Reference::Layout {
                path: "img".into(),
                target: Target::None
            }
        );
        assert_eq!(
            Reference::parse("127.0.0.1:5000/app/web:1.2").expect("ok"),
            Reference::Registry {
                host: "127.0.0.1:5000".into(),
                repository: "app/web".into(),
                target: Target::Tag("1.2".into())
            }
        );
        let r = Reference::parse(&format!("localhost:5000/app@{d}")).expect("ok");
        assert_eq!(r.to_string(), format!("localhost:5000/app@{d}"));
        for bad in [
            "app",
            "oci-layout:",
            "Host/App",
            "example.com/App",
            "example.com/app@sha256:xyz",
            "example.com/app:bad tag",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
