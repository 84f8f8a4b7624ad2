//! The store abstraction ([`ArtifactStore`]), artifact manifests with a `subject`, and copying
//! an image with every referrer, recursively, from one store to another (the air-gap path).
//!
//! Not here: where the bytes live (see [`crate::layout`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use oci_spec::image::{ImageIndex, ImageManifest};
use serde_json::{Value, json};
use stella_core::{Digest, jcs};

use crate::layout::MAX_BLOB_BYTES;
use crate::reference::Target;
use crate::{MAX_MANIFEST_BYTES, OciError};

/// OCI image manifest media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The empty config of artifact manifests.
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// `{}`: the empty descriptor's content.
pub const EMPTY_JSON: &[u8] = b"{}";
/// The annotation naming a layer's file.
pub const TITLE: &str = "org.opencontainers.image.title";

/// A manifest that names another as its `subject`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Referrer {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Its artifact type.
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The string annotations of a manifest or descriptor (`annotations`; other values skipped).
pub fn annotations_of(value: &Value) -> BTreeMap<String, String> {
    value["annotations"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// A manifest as stored: bytes, media type, digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// Media type.
    pub media_type: String,
    /// The digest of the bytes.
    pub digest: Digest,
}

/// Where artifacts are kept.
///
/// Stores are `Send + Sync`: a server shares one store across the threads that answer its
/// requests, so an implementation keeps whatever it learns while working (a token, a probe)
/// behind a lock, and writes that must not interleave behind a file lock or the registry's own
/// read-modify-write.
pub trait ArtifactStore: Send + Sync {
    /// Stores a blob; its digest.
    ///
    /// # Errors
    /// When the store fails.
    fn put_blob(&self, bytes: &[u8]) -> Result<String, OciError>;
    /// A blob, checked against `digest`.
    ///
    /// # Errors
    /// [`OciError::NotFound`], [`OciError::DigestMismatch`], or the store failing.
    fn get_blob(&self, digest: &str) -> Result<Vec<u8>, OciError>;
    /// Whether the blob is there.
    ///
    /// # Errors
    /// When the store fails.
    fn has_blob(&self, digest: &str) -> Result<bool, OciError>;
    /// Stores a manifest (tagged when `tag` is given); its digest.
    ///
    /// # Errors
    /// [`OciError::TooLarge`], or the store failing.
    fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<String, OciError>;
    /// The manifest a tag or digest names.
    ///
    /// # Errors
    /// [`OciError::NotFound`], or the store failing.
    fn get_manifest(&self, target: &Target) -> Result<Stored, OciError>;
    /// The manifests whose `subject` is `subject`, optionally only of `artifact_type`.
    ///
    /// # Errors
    /// When the store fails.
    fn referrers(
        &self,
        subject: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, OciError>;

    /// Stores the file at `path` as a blob, streamed where the store can; its digest.
    ///
    /// The default reads the file into memory (at most [`crate::layout::MAX_BLOB_BYTES`]) and
    /// calls [`ArtifactStore::put_blob`].
    ///
    /// # Errors
    /// [`OciError::Io`] when the file cannot be read, [`OciError::Invalid`] for a file over the
    /// default's bound, or the store failing.
    fn put_blob_file(&self, path: &Path) -> Result<String, OciError> {
        let io = |e: std::io::Error| OciError::io(path, e);
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_BLOB_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_BLOB_BYTES {
            return Err(OciError::Invalid {
                what: path.display().to_string(),
                reason: format!("over {MAX_BLOB_BYTES} bytes, the most this store reads"),
            });
        }
        self.put_blob(&bytes)
    }

    /// A reader over a blob that fails (with [`std::io::ErrorKind::InvalidData`] carrying an
    /// [`OciError::DigestMismatch`] that names both digests) at the end of the stream when the
    /// bytes do not hash to `digest`. Nothing read from it is trustworthy until it has returned
    /// end of stream.
    ///
    /// The default reads the whole blob with [`ArtifactStore::get_blob`], which checks it first.
    ///
    /// # Errors
    /// [`OciError::NotFound`], [`OciError::DigestMismatch`], or the store failing.
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + '_>, OciError> {
        Ok(Box::new(std::io::Cursor::new(self.get_blob(digest)?)))
    }

    /// A blob of at most `max` bytes, checked against `digest`: what is over `max` is refused
    /// after reading `max + 1` bytes at most, so a blob announced as small cannot make the
    /// reader hold a large one.
    ///
    /// The default reads through [`ArtifactStore::open_blob`] (which streams in a layout).
    ///
    /// # Errors
    /// [`OciError::Limit`] over `max`; [`OciError::NotFound`], [`OciError::DigestMismatch`], or
    /// the store failing.
    fn get_blob_bounded(&self, digest: &str, max: u64) -> Result<Vec<u8>, OciError> {
        let reader = self.open_blob(digest)?;
        read_bounded(reader, digest, max)
    }

    /// The digests of the manifests the store lists with the annotation `key` = `value`
    /// (an image layout's `index.json` entries; a registry lists none).
    ///
    /// # Errors
    /// When the store fails.
    fn annotated_manifests(&self, key: &str, value: &str) -> Result<Vec<Digest>, OciError> {
        let _ = (key, value);
        Ok(Vec::new())
    }
}

/// Reads at most `max` bytes of the blob `digest` from `reader` (which checks the digest at the
/// end of the stream).
///
/// # Errors
/// [`OciError::Limit`] over `max`; the reader failing, a digest mismatch as
/// [`OciError::DigestMismatch`].
pub fn read_bounded(reader: impl Read, digest: &str, max: u64) -> Result<Vec<u8>, OciError> {
    let mut bytes = Vec::new();
    let read = reader.take(max.saturating_add(1)).read_to_end(&mut bytes);
    if bytes.len() as u64 > max {
        return Err(OciError::Limit {
            what: format!("blob {digest} is over {max} bytes"),
            limit: max,
        });
    }
    if let Err(e) = read {
        return Err(
            match e.get_ref().and_then(|i| i.downcast_ref::<OciError>()) {
                Some(OciError::DigestMismatch { expected, actual }) => OciError::DigestMismatch {
                    expected: expected.clone(),
                    actual: actual.clone(),
                },
                _ => OciError::Stream {
                    what: format!("reading blob {digest}"),
                    source: e,
                },
            },
        );
    }
    Ok(bytes)
}

/// `text` as a digest, or [`OciError::Invalid`] naming `what` held it.
///
/// # Errors
/// [`OciError::Invalid`] for text that is not `ALGORITHM:<hex>`.
pub fn parse_digest(text: &str, what: impl FnOnce() -> String) -> Result<Digest, OciError> {
    text.parse()
        .map_err(|e: stella_core::DigestError| OciError::Invalid {
            what: what(),
            reason: e.to_string(),
        })
}

/// The `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    Digest::sha256(bytes).to_string()
}

/// Checks `bytes` against `expected`.
///
/// # Errors
/// [`OciError::DigestMismatch`].
pub fn check_digest(bytes: &[u8], expected: &str) -> Result<(), OciError> {
    let actual = digest_of(bytes);
    if actual != expected {
        return Err(OciError::DigestMismatch {
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(())
}

/// A file to attach.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Its name (the title annotation).
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Stores an artifact manifest (`artifactType`, the empty config, one layer per file) whose
/// subject is the manifest `subject`; returns its digest. The manifest is canonical JSON.
///
/// [`attach_manifest`] returns the whole stored manifest, for a caller that attaches to it in
/// turn (signatures to an SBOM).
///
/// # Errors
/// [`OciError::Invalid`] for a bad artifact type; what the store reports.
pub fn attach(
    store: &dyn ArtifactStore,
    subject: &Stored,
    artifact_type: &str,
    layers: &[Layer],
    annotations: &BTreeMap<String, String>,
) -> Result<String, OciError> {
    Ok(
        attach_manifest(store, subject, artifact_type, layers, annotations)?
            .digest
            .to_string(),
    )
}

/// Most blobs stored at once by [`put_blobs`].
const PARALLEL_PUTS: usize = 8;

/// Stores the layers' blobs, several at once: each waits on a disk flush (a layout) or an
/// upload (a registry), and those waits overlap. The digests in the order of `layers`.
fn put_blobs(store: &dyn ArtifactStore, layers: &[Layer]) -> Result<Vec<String>, OciError> {
    if layers.len() < 2 {
        return layers.iter().map(|l| store.put_blob(&l.bytes)).collect();
    }
    let per_worker = layers.len().div_ceil(PARALLEL_PUTS);
    std::thread::scope(|scope| {
        let workers: Vec<_> = layers
            .chunks(per_worker)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|l| store.put_blob(&l.bytes))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut digests = Vec::with_capacity(layers.len());
        for worker in workers {
            let done = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            digests.extend(done?);
        }
        Ok(digests)
    })
}

/// [`attach`], returning the manifest as it was stored (its exact bytes, media type and
/// digest), so that a caller can attach to it in turn without reading it back.
///
/// # Errors
/// [`OciError::Invalid`] for a bad artifact type; what the store reports.
pub fn attach_manifest(
    store: &dyn ArtifactStore,
    subject: &Stored,
    artifact_type: &str,
    layers: &[Layer],
    annotations: &BTreeMap<String, String>,
) -> Result<Stored, OciError> {
    if !artifact_type.contains('/') {
        return Err(OciError::Invalid {
            what: "artifact type".to_owned(),
            reason: format!("{artifact_type:?} is not a media type"),
        });
    }
    let empty = store.put_blob(EMPTY_JSON)?;
    let digests = put_blobs(store, layers)?;
    let mut descriptors = Vec::new();
    for (layer, digest) in layers.iter().zip(digests) {
        descriptors.push(json!({
            "mediaType": layer.media_type,
            "digest": digest,
            "size": layer.bytes.len(),
            "annotations": {TITLE: layer.name},
        }));
    }
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY, "digest": empty, "size": 2, "data": "e30="},
        "layers": descriptors,
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.bytes.len(),
        },
    });
    if !annotations.is_empty() {
        manifest["annotations"] = json!(annotations);
    }
    let bytes = jcs::to_canonical(&manifest).map_err(|e| OciError::Invalid {
        what: "manifest".to_owned(),
        reason: e.to_string(),
    })?;
    store.put_manifest(&bytes, MANIFEST, None)?;
    Ok(Stored {
        digest: Digest::sha256(&bytes),
        bytes,
        media_type: MANIFEST.to_owned(),
    })
}

/// What a manifest refers to: blob digests, and child manifests as (digest, media type).
pub type Children = (Vec<String>, Vec<(String, String)>);

/// The blobs and child manifests a manifest or index refers to.
///
/// # Errors
/// [`OciError::Invalid`] for a document that is neither an image manifest nor an index.
pub fn children(stored: &Stored) -> Result<Children, OciError> {
    let invalid = |reason: String| OciError::Invalid {
        what: format!("manifest {}", stored.digest),
        reason,
    };
    let value: Value = serde_json::from_slice(&stored.bytes).map_err(|e| invalid(e.to_string()))?;
    let media = value["mediaType"].as_str().unwrap_or(&stored.media_type);
    if media == INDEX || value.get("manifests").is_some() {
        let index: ImageIndex =
            serde_json::from_slice(&stored.bytes).map_err(|e| invalid(e.to_string()))?;
        let manifests = index
            .manifests()
            .iter()
            .map(|d| (d.digest().to_string(), d.media_type().to_string()))
            .collect();
        return Ok((Vec::new(), manifests));
    }
    let manifest: ImageManifest =
        serde_json::from_slice(&stored.bytes).map_err(|e| invalid(e.to_string()))?;
    let mut blobs = vec![manifest.config().digest().to_string()];
    blobs.extend(manifest.layers().iter().map(|l| l.digest().to_string()));
    Ok((blobs, Vec::new()))
}

/// What [`copy`] moved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// The copied root manifest's digest.
    pub digest: Digest,
    /// Manifests copied (the image's and every referrer's).
    pub manifests: usize,
    /// Blobs copied (those already there are not counted).
    pub blobs: usize,
    /// Referrers found (recursively).
    pub referrers: usize,
}

/// Copies the manifest `target` names, with its blobs, child manifests and every referrer
/// (recursively), from `src` to `dst`, byte for byte; tags it `tag` in `dst` when given.
///
/// Everything is read (and every manifest checked) before anything is written; then blobs are
/// copied (each checked against its digest) before the manifests that name them, children and
/// subjects before the manifests that point at them. A failure while reading or while copying
/// blobs leaves no manifest of the copy in `dst` (at most unreferenced blobs).
///
/// # Errors
/// What either store reports.
pub fn copy(
    src: &dyn ArtifactStore,
    dst: &dyn ArtifactStore,
    target: &Target,
    tag: Option<&str>,
) -> Result<CopyReport, OciError> {
    copy_with(src, dst, target, tag, true)
}

/// [`copy`], following referrers only when `referrers` is set: without them, just the image
/// (its manifests and blobs) is copied, as a scan that makes its own evidence wants it.
///
/// # Errors
/// What either store reports.
pub fn copy_with(
    src: &dyn ArtifactStore,
    dst: &dyn ArtifactStore,
    target: &Target,
    tag: Option<&str>,
    referrers: bool,
) -> Result<CopyReport, OciError> {
    let root = src.get_manifest(target)?;
    let mut report = CopyReport {
        digest: root.digest.clone(),
        manifests: 0,
        blobs: 0,
        referrers: 0,
    };
    let mut plan: Vec<(Stored, Vec<String>)> = Vec::new();
    let mut seen = BTreeSet::new();
    collect(src, root, referrers, &mut plan, &mut seen, &mut report)?;
    for (_, blobs) in &plan {
        for blob in blobs {
            if !dst.has_blob(blob)? {
                let bytes = src.get_blob(blob)?;
                dst.put_blob(&bytes)?;
                report.blobs += 1;
            }
        }
    }
    for (stored, _) in &plan {
        let tagged = if stored.digest == report.digest {
            tag
        } else {
            None
        };
        dst.put_manifest(&stored.bytes, &stored.media_type, tagged)?;
        report.manifests += 1;
    }
    Ok(report)
}

/// Reads the tree under `stored` into `plan`, in write order: each manifest after its child
/// manifests, each referrer after its subject.
fn collect(
    src: &dyn ArtifactStore,
    stored: Stored,
    referrers: bool,
    plan: &mut Vec<(Stored, Vec<String>)>,
    seen: &mut BTreeSet<String>,
    report: &mut CopyReport,
) -> Result<(), OciError> {
    if !seen.insert(stored.digest.to_string()) {
        return Ok(());
    }
    if stored.bytes.len() > MAX_MANIFEST_BYTES {
        return Err(OciError::TooLarge {
            size: stored.bytes.len(),
        });
    }
    let (blobs, manifests) = children(&stored)?;
    let mut kids = Vec::new();
    for (digest, _) in manifests {
        kids.push(src.get_manifest(&Target::Digest(digest))?);
    }
    let digest = stored.digest.to_string();
    for kid in kids {
        collect(src, kid, referrers, plan, seen, report)?;
    }
    plan.push((stored, blobs));
    if !referrers {
        return Ok(());
    }
    for referrer in src.referrers(&digest, None)? {
        report.referrers += 1;
        let child = src.get_manifest(&Target::Digest(referrer.digest.to_string()))?;
        collect(src, child, referrers, plan, seen, report)?;
    }
    Ok(())
}
