//! What a scan looks at: a directory packed into an image, or an image resolved (copied into
//! the embedded layout when its evidence stays local) and unpacked. Either way the result is an
//! [`Target`]: the image, the tree of its files, and the store its evidence goes to.
//!
//! Not here: choosing which store a reference names or opening it (the caller does, with
//! `stella-oci`), nor what is done with the tree ([`super::run`]).

use std::path::{Path, PathBuf};

use serde::Serialize;
use stella_oci::image::{self, Exclusions, Image, PackOptions, Platform, UnpackLimits};
use stella_oci::reference::Target as OciTarget;
use stella_oci::store;
use stella_oci::{ArtifactStore, LayoutStore, Reference};

use crate::EvidenceError;
use crate::progress::{self, Phase, Progress};

/// Why a scanned directory leaves things out, as a summary says it.
pub const EXCLUDED_WHY: &str = "Stella's home and signing keys are never packed";

/// Something packing or unpacking left out (a device, a FIFO, a socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Its path in the tree.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The image a scan proves and where its evidence goes.
pub struct Target {
    /// The image.
    pub image: Image,
    /// The image's reference as printed (tag or digest included).
    pub reference: String,
    /// Its name (repository or directory name).
    pub name: String,
    /// Its tag, when it has one.
    pub tag: Option<String>,
    /// Where evidence is attached.
    pub store: Box<dyn ArtifactStore>,
    /// Whether a directory was packed into the image.
    pub packed: bool,
    /// What of a scanned directory was left out (relative paths): Stella's home, signing keys.
    pub excluded: Vec<String>,
    /// Entries packing or unpacking left out.
    pub skipped: Vec<Skipped>,
    /// Whether the image's reference depends on where the store lies (an OCI layout path):
    /// such a reference stays out of the SBOM, so the same input gives the same SBOM wherever
    /// the store is.
    pub(crate) location_bound: bool,
    pub(crate) root: PathBuf,
    pub(crate) exclude: Exclusions,
    _unpacked: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("reference", &self.reference)
            .field("digest", &self.image.root.digest)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The tree of the image's files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The reference without tag or digest (`oci-layout:PATH` or `HOST/REPO`).
    pub fn reference_without_target(&self) -> String {
        strip_target(&self.reference)
    }

    /// The name a signed statement gives the image: the reference without tag or digest, or,
    /// for an OCI layout whose path depends on where the store lies, the image's name.
    pub(crate) fn subject_name(&self) -> String {
        if self.location_bound {
            self.name.clone()
        } else {
            self.reference_without_target()
        }
    }
}

/// A reference without its tag or digest.
pub fn strip_target(reference: &str) -> String {
    match Reference::parse(reference) {
        Ok(Reference::Layout { path, .. }) => format!("oci-layout:{}", path.display()),
        Ok(Reference::Registry {
            host, repository, ..
        }) => format!("{host}/{repository}"),
        Err(_) => reference.to_owned(),
    }
}

/// A valid tag from a directory name (`my dir` → `my-dir`, `/` → `rootfs`).
pub fn tag_for(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut tag: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if !tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        tag.insert(0, '_');
        tag.truncate(128);
    }
    if tag == "_" || tag.is_empty() {
        "rootfs".to_owned()
    } else {
        tag
    }
}

/// What of `dir` is never packed nor proven: `home` (the default signing key, the log's key,
/// the evidence) and the signing key `key`, wherever they lie in it and by whatever name (they
/// are known by device and inode). A directory inside the home is refused: everything in it is
/// Stella's.
pub fn exclusions(
    dir: &Path,
    home: &Path,
    key: Option<&Path>,
) -> Result<Exclusions, EvidenceError> {
    // The home exists from here on anyway (the log, the records); made now, it is known by its
    // inode before anything is packed.
    std::fs::create_dir_all(home).map_err(EvidenceError::io(home))?;
    let canonical = |p: &Path| std::fs::canonicalize(p).map_err(EvidenceError::io(p));
    if canonical(dir)?.starts_with(canonical(home)?) {
        return Err(inside_home(dir, home));
    }
    let mut paths = vec![home];
    paths.extend(key);
    Exclusions::of(&paths).map_err(EvidenceError::oci("excluding Stella's home"))
}

/// Refuses a directory inside `home`, whether it exists yet or not: everything in the home is
/// Stella's, signing keys included. [`exclusions`] checks again, by the resolved path, before
/// anything is packed.
///
/// # Errors
/// [`EvidenceError::Invalid`] naming the directory and the home.
pub fn outside_home(dir: &Path, home: &Path) -> Result<(), EvidenceError> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let resolved = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| absolute(p));
    if absolute(dir).starts_with(absolute(home)) || resolved(dir).starts_with(resolved(home)) {
        return Err(inside_home(dir, home));
    }
    Ok(())
}

fn inside_home(dir: &Path, home: &Path) -> EvidenceError {
    EvidenceError::invalid(
        dir.display().to_string(),
        format!(
            "is inside STELLA_HOME ({}), which holds signing keys and is never packed; scan \
             another directory, or set --home elsewhere",
            home.display()
        ),
    )
}

fn skipped(list: Vec<image::Skipped>) -> Vec<Skipped> {
    list.into_iter()
        .map(|s| Skipped {
            path: s.path,
            reason: s.reason,
        })
        .collect()
}

/// How a directory is packed.
#[derive(Debug, Clone)]
pub struct PackRequest<'a> {
    /// The directory.
    pub dir: &'a Path,
    /// The reference it is packed under (an OCI layout or registry repository, with a tag).
    pub reference: &'a Reference,
    /// `$STELLA_HOME`: never packed.
    pub home: &'a Path,
    /// The signing key file: never packed.
    pub key: Option<&'a Path>,
    /// Clamp for modification times (reproducible images).
    pub source_date_epoch: Option<i64>,
}

/// Packs a directory into `store` (the store `request.reference` names, opened for writing) as
/// a one-layer image under the reference's tag (`latest` without one).
///
/// # Errors
/// A reference with a digest, a directory inside the home, or the store failing.
pub fn pack_directory(
    request: &PackRequest<'_>,
    store: Box<dyn ArtifactStore>,
    progress: &dyn Progress,
) -> Result<Target, EvidenceError> {
    let reference = request.reference;
    let tag = match reference.target() {
        OciTarget::Tag(t) => t.clone(),
        OciTarget::None => "latest".to_owned(),
        OciTarget::Digest(_) => {
            return Err(EvidenceError::invalid(
                format!("--image {}", reference_text(reference)),
                "a directory is packed under a tag, not a digest",
            ));
        }
    };
    let exclude = exclusions(request.dir, request.home, request.key)?;
    let image_ref = format!("{}:{tag}", strip_target(&reference_text(reference)));
    let packed = progress::phase(
        progress,
        Phase::Pack,
        None,
        format!("{} as {image_ref}", request.dir.display()),
        || {
            image::pack_directory_excluding(
                store.as_ref(),
                request.dir,
                &tag,
                &PackOptions {
                    source_date_epoch: request.source_date_epoch,
                },
                &exclude,
            )
        },
    )
    .map_err(EvidenceError::oci(format!(
        "packing {}",
        request.dir.display()
    )))?;
    let image = image::resolve(
        store.as_ref(),
        &OciTarget::from(&packed.manifest.digest),
        &Platform::host(),
    )
    .map_err(EvidenceError::oci("reading the packed image"))?;
    let name = match reference {
        Reference::Layout { .. } => tag.clone(),
        Reference::Registry { repository, .. } => repository.clone(),
    };
    Ok(Target {
        image,
        reference: image_ref,
        name,
        tag: Some(tag),
        store,
        packed: true,
        excluded: packed.excluded,
        skipped: skipped(packed.skipped),
        location_bound: matches!(reference, Reference::Layout { .. }),
        root: request.dir.to_path_buf(),
        exclude,
        _unpacked: None,
    })
}

/// Where the evidence of a scanned image goes.
pub enum EvidenceStore {
    /// Beside the image, in its own store (opened for writing).
    Beside(Box<dyn ArtifactStore>),
    /// In the embedded layout at the path: the image is copied there first, so that
    /// verification works air-gapped, and the evidence refers to the copy.
    Copy(LayoutStore, PathBuf),
}

/// Resolves the image `reference` names in `source`, puts it where its evidence goes, and
/// unpacks its layers into a temporary directory under `tmp_parent`.
///
/// # Errors
/// The store failing, an image that cannot be resolved for this platform, or unpacking limits.
pub fn open_image(
    reference: &Reference,
    source: Box<dyn ArtifactStore>,
    evidence: EvidenceStore,
    tmp_parent: &Path,
    progress: &dyn Progress,
) -> Result<Target, EvidenceError> {
    let text = reference_text(reference);
    let image = image::resolve(source.as_ref(), reference.target(), &Platform::host())
        .map_err(EvidenceError::oci(format!("resolving {text}")))?;
    let tag = match reference.target() {
        OciTarget::Tag(t) => Some(t.clone()),
        _ => None,
    };
    let name = match reference {
        Reference::Layout { path, target } => match target {
            OciTarget::Tag(t) => t.clone(),
            _ => path
                .file_name()
                .map_or_else(|| "image".to_owned(), |n| n.to_string_lossy().into_owned()),
        },
        Reference::Registry { repository, .. } => repository.clone(),
    };
    let (store, image_ref, location_bound): (Box<dyn ArtifactStore>, String, bool) = match evidence
    {
        EvidenceStore::Copy(local, dir) => {
            let local_tag = tag_for(Path::new(&name));
            progress::phase(
                progress,
                Phase::Copy,
                None,
                format!("{text} into {}", dir.display()),
                || {
                    store::copy_with(
                        source.as_ref(),
                        &local,
                        &OciTarget::from(&image.root.digest),
                        Some(&local_tag),
                        false,
                    )
                },
            )
            .map_err(EvidenceError::oci(format!("copying {text}")))?;
            (
                Box::new(local),
                format!("oci-layout:{}@{}", dir.display(), image.root.digest),
                true,
            )
        }
        EvidenceStore::Beside(store) => (
            store,
            format!("{}@{}", strip_target(&text), image.root.digest),
            matches!(reference, Reference::Layout { .. }),
        ),
    };
    std::fs::create_dir_all(tmp_parent).map_err(EvidenceError::io(tmp_parent))?;
    let unpacked = tempfile::Builder::new()
        .prefix("scan-")
        .tempdir_in(tmp_parent)
        .map_err(EvidenceError::io(tmp_parent))?;
    // The layers come from where the evidence goes: the local copy when there is one.
    let report = progress::phase(
        progress,
        Phase::Unpack,
        Some(image.layers.len() as u64),
        format!(
            "{} layer{} of {}",
            image.layers.len(),
            if image.layers.len() == 1 { "" } else { "s" },
            image.root.digest
        ),
        || {
            image::unpack(
                store.as_ref(),
                &image,
                unpacked.path(),
                &UnpackLimits::default(),
            )
        },
    )
    .map_err(EvidenceError::oci(format!("unpacking {text}")))?;
    Ok(Target {
        image,
        reference: image_ref,
        name,
        tag,
        store,
        packed: false,
        excluded: Vec::new(),
        skipped: skipped(report.skipped),
        location_bound,
        root: unpacked.path().to_path_buf(),
        exclude: Exclusions::default(),
        _unpacked: Some(unpacked),
    })
}

/// A parsed reference written back as text.
fn reference_text(reference: &Reference) -> String {
    let target = match reference.target() {
        OciTarget::Tag(t) => format!(":{t}"),
        OciTarget::Digest(d) => format!("@{d}"),
        OciTarget::None => String::new(),
    };
    match reference {
        Reference::Layout { path, .. } => format!("oci-layout:{}{target}", path.display()),
        Reference::Registry {
            host, repository, ..
        } => format!("{host}/{repository}{target}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_from_directory_names() {
        assert_eq!(tag_for(Path::new("/")), "rootfs");
        let dir = tempfile::tempdir().expect("tmp");
        let odd = dir.path().join("my dir+x");
        std::fs::create_dir(&odd).expect("mkdir");
        assert_eq!(tag_for(&odd), "my-dir-x");
        let dotted = dir.path().join(".hidden");
        std::fs::create_dir(&dotted).expect("mkdir");
        assert_eq!(tag_for(&dotted), "_.hidden");
    }

    #[test]
    fn references_lose_their_target() {
        assert_eq!(strip_target("oci-layout:/a/b:tag"), "oci-layout:/a/b");
        assert_eq!(
            strip_target(
                "localhost:5000/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"
            ),
            "localhost:5000/app"
        );
    }
}
