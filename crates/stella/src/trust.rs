//! Where the Sigstore trusted root comes from when a command is not given `--trusted-root`:
//! the copy `stella trust update` last verified and stored in `$STELLA_HOME/trust/sigstore/`,
//! else the public-good production root this build ships (`trust/public-good/`, as Sigstore's
//! TUF repository published it). Nothing is fetched at verify time.
//!
//! Not here: what a trusted root means (the verifiers read it), Stella's own log's root
//! (`stella log trusted-root`).

#![allow(dead_code)] // wired into verify-bundle and trust update next

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The public-good production trusted root shipped with this build.
pub const PUBLIC_GOOD_TRUSTED_ROOT: &[u8] =
    include_bytes!("../trust/public-good/trusted_root.json");

/// The public-good TUF repository's root metadata shipped with this build: the trust anchor
/// `stella trust update` starts from.
pub const PUBLIC_GOOD_TUF_ROOT: &[u8] = include_bytes!("../trust/public-good/root.json");

/// Where a trusted root was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The file given with `--trusted-root`.
    Given(PathBuf),
    /// The copy `stella trust update` stored.
    Updated(PathBuf),
    /// The public-good root shipped with this build.
    Shipped,
}

impl std::fmt::Display for RootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootSource::Given(path) => write!(f, "{}", path.display()),
            RootSource::Updated(path) => write!(f, "{} (stella trust update)", path.display()),
            RootSource::Shipped => f.write_str("the shipped Sigstore public-good root"),
        }
    }
}

/// The directory `stella trust update` keeps the verified TUF metadata and targets in.
pub fn sigstore_dir(home: &Path) -> PathBuf {
    home.join("trust").join("sigstore")
}

/// The Sigstore trusted root's bytes: `given`, else the updated copy under `home`, else the
/// shipped one.
pub fn sigstore_trusted_root(
    home: &Path,
    given: Option<&Path>,
) -> anyhow::Result<(Vec<u8>, RootSource)> {
    if let Some(path) = given {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the trusted root {}", path.display()))?;
        return Ok((bytes, RootSource::Given(path.to_owned())));
    }
    let updated = sigstore_dir(home).join("trusted_root.json");
    match std::fs::read(&updated) {
        Ok(bytes) => Ok((bytes, RootSource::Updated(updated))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((PUBLIC_GOOD_TRUSTED_ROOT.to_vec(), RootSource::Shipped))
        }
        Err(e) => Err(e).with_context(|| format!("reading the trusted root {}", updated.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_roots_are_the_public_good_ones() {
        let root: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_TRUSTED_ROOT).unwrap();
        assert_eq!(
            root["mediaType"],
            "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
        );
        let tuf: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_TUF_ROOT).unwrap();
        assert_eq!(tuf["signed"]["_type"], "root");
    }

    #[test]
    fn given_then_updated_then_shipped() {
        let home = tempfile::tempdir().unwrap();
        let (_, source) = sigstore_trusted_root(home.path(), None).unwrap();
        assert_eq!(source, RootSource::Shipped);
        std::fs::create_dir_all(sigstore_dir(home.path())).unwrap();
        let updated = sigstore_dir(home.path()).join("trusted_root.json");
        std::fs::write(&updated, b"{}").unwrap();
        let (bytes, source) = sigstore_trusted_root(home.path(), None).unwrap();
        assert_eq!(
            (bytes.as_slice(), source),
            (&b"{}"[..], RootSource::Updated(updated))
        );
        let given = home.path().join("given.json");
        std::fs::write(&given, b"[]").unwrap();
        let (bytes, source) = sigstore_trusted_root(home.path(), Some(&given)).unwrap();
        assert_eq!(
            (bytes.as_slice(), source),
            (&b"[]"[..], RootSource::Given(given))
        );
        let missing = home.path().join("missing.json");
        assert!(sigstore_trusted_root(home.path(), Some(&missing)).is_err());
    }
}
