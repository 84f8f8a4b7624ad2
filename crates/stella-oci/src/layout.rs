//! The OCI image-layout store (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), the embedded
//! default under `$STELLA_HOME/oci`.
//!
//! Blobs are written through a temporary file, fsynced and renamed, so a reader never sees half
//! a blob; a blob is stored only under the digest of its bytes. `index.json` is changed by
//! read-modify-write under an exclusive file lock and replaced atomically, so two `stella`
//! processes attaching at once lose nothing. Tags are `org.opencontainers.image.ref.name`
//! annotations; referrers are untagged entries with their `artifactType`. A blob path that is a
//! symbolic link, or a digest that is not `sha256:<hex>`, is refused. Temporary files are created
//! exclusively (`O_EXCL`), so a link planted at a temporary name is never written through.
//!
//! Readers open a layout with [`LayoutStore::open_existing`], which creates nothing; only writers
//! use [`LayoutStore::open`], which makes an empty layout where there is none.
//!
//! Not here: registries.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use stella_core::Digest;
use stella_core::digest::Sha256Writer;

use crate::reference::{Target, valid_digest};
use crate::store::{ArtifactStore, INDEX, MANIFEST, Referrer, Stored, check_digest, digest_of};
use crate::{MAX_MANIFEST_BYTES, OciError};

/// The tag annotation of `index.json` entries.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Largest blob read into memory.
pub const MAX_BLOB_BYTES: u64 = 1 << 30;

static TMP: AtomicU64 = AtomicU64::new(0);

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct LayoutStore {
    root: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> OciError {
    OciError::io(path, e)
}

impl LayoutStore {
    /// Opens the layout at `root`, creating an empty one when the directory has none.
    ///
    /// # Errors
    /// [`OciError::Invalid`] for a directory whose `oci-layout` is not version 1.0.0;
    /// [`OciError::Io`].
    pub fn open(root: &Path) -> Result<Self, OciError> {
        fs::create_dir_all(root.join("blobs/sha256")).map_err(|e| io(root, e))?;
        let store = LayoutStore {
            root: root.to_path_buf(),
        };
        let layout = root.join("oci-layout");
        match fs::read(&layout) {
            Ok(bytes) => check_layout_version(&layout, &bytes)?,
            Err(_) => store.write_atomically(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?,
        }
        if !root.join("index.json").exists() {
            let _lock = store.lock()?;
            if !root.join("index.json").exists() {
                store.write_index(
                    &json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}),
                )?;
            }
        }
        Ok(store)
    }

    /// Opens the existing layout at `root` for reading; creates nothing.
    ///
    /// # Errors
    /// [`OciError::NoLayout`] when `root` holds no layout (no `oci-layout` file or no
    /// `index.json`); [`OciError::Invalid`] for an `oci-layout` that is not version 1.0.0;
    /// [`OciError::Io`].
    pub fn open_existing(root: &Path) -> Result<Self, OciError> {
        let missing = |name: &'static str| OciError::NoLayout {
            path: root.to_path_buf(),
            missing: name,
        };
        let layout = root.join("oci-layout");
        let bytes = match fs::read(&layout) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(missing("oci-layout"));
            }
            Err(e) => return Err(io(&layout, e)),
        };
        check_layout_version(&layout, &bytes)?;
        if !root.join("index.json").is_file() {
            return Err(missing("index.json"));
        }
        Ok(LayoutStore {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, OciError> {
        if !valid_digest(digest) {
            return Err(OciError::Invalid {
                what: "digest".to_owned(),
                reason: format!("{digest:?} is not sha256:<64 lower-case hex>"),
            });
        }
        Ok(self.root.join("blobs/sha256").join(&digest[7..]))
    }

    /// The path and metadata of a blob that is present as a regular file (a symbolic link in
    /// `blobs/` is refused).
    fn existing_blob(&self, digest: &str) -> Result<(PathBuf, fs::Metadata), OciError> {
        let path = self.blob_path(digest)?;
        let meta = fs::symlink_metadata(&path).map_err(|_| OciError::NotFound {
            what: format!("blob {digest}"),
            location: self.root.display().to_string(),
        })?;
        if !meta.file_type().is_file() {
            return Err(OciError::Invalid {
                what: path.display().to_string(),
                reason: "not a regular file (a symbolic link in blobs/ is refused)".to_owned(),
            });
        }
        Ok((path, meta))
    }

    /// A temporary file in `dir`, created exclusively (renamed into place, or removed, by the
    /// caller): a name already taken, by a leftover or a planted link, is passed over.
    fn temp_in(dir: &Path) -> Result<(PathBuf, File), OciError> {
        let mut tries = 0;
        loop {
            let tmp = dir.join(format!(
                ".tmp-{}-{}",
                std::process::id(),
                TMP.fetch_add(1, Ordering::Relaxed)
            ));
            match File::create_new(&tmp) {
                Ok(file) => return Ok((tmp, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 64 => {
                    tries += 1;
                }
                Err(e) => return Err(io(&tmp, e)),
            }
        }
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), OciError> {
        let dir = path.parent().unwrap_or(&self.root);
        let (tmp, mut f) = Self::temp_in(dir)?;
        let result = (|| {
            f.write_all(bytes).map_err(|e| io(&tmp, e))?;
            f.sync_all().map_err(|e| io(&tmp, e))?;
            fs::rename(&tmp, path).map_err(|e| io(path, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn lock(&self) -> Result<File, OciError> {
        let path = self.root.join("index.json.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.lock().map_err(|e| io(&path, e))?;
        Ok(file)
    }

    fn read_index(&self) -> Result<Value, OciError> {
        let path = self.root.join("index.json");
        let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| OciError::Invalid {
            what: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if !v["manifests"].is_array() {
            return Err(OciError::Invalid {
                what: path.display().to_string(),
                reason: "no \"manifests\" array".to_owned(),
            });
        }
        Ok(v)
    }

    fn write_index(&self, index: &Value) -> Result<(), OciError> {
        let bytes = stella_core::jcs::to_canonical(index).map_err(|e| OciError::Invalid {
            what: "index.json".to_owned(),
            reason: e.to_string(),
        })?;
        self.write_atomically(&self.root.join("index.json"), &bytes)
    }

    /// Moves the finished temporary file `tmp` into place as the blob `digest`, unless an
    /// intact copy is already there.
    fn install_blob(&self, tmp: &Path, digest: &str, size: u64) -> Result<(), OciError> {
        let path = self.blob_path(digest)?;
        if let Ok(meta) = fs::symlink_metadata(&path) {
            if meta.file_type().is_symlink() {
                return Err(OciError::Invalid {
                    what: path.display().to_string(),
                    reason: "a symbolic link in blobs/".to_owned(),
                });
            }
            if meta.len() == size {
                let _ = fs::remove_file(tmp);
                return Ok(());
            }
        }
        fs::rename(tmp, &path).map_err(|e| io(&path, e))
    }

    /// The `index.json` entries.
    ///
    /// # Errors
    /// [`OciError::Invalid`] for a malformed index.
    pub fn entries(&self) -> Result<Vec<Value>, OciError> {
        Ok(self.read_index()?["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

/// Checks the `oci-layout` file's `imageLayoutVersion` (1.0.0).
fn check_layout_version(layout: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| OciError::Invalid {
        what: layout.display().to_string(),
        reason: e.to_string(),
    })?;
    if v["imageLayoutVersion"] != "1.0.0" {
        return Err(OciError::Invalid {
            what: layout.display().to_string(),
            reason: format!(
                "imageLayoutVersion {}; expected \"1.0.0\"",
                v["imageLayoutVersion"]
            ),
        });
    }
    Ok(())
}

impl ArtifactStore for LayoutStore {
    fn put_blob(&self, bytes: &[u8]) -> Result<String, OciError> {
        let digest = digest_of(bytes);
        let path = self.blob_path(&digest)?;
        if let Ok(meta) = fs::symlink_metadata(&path) {
            if meta.file_type().is_symlink() {
                return Err(OciError::Invalid {
                    what: path.display().to_string(),
                    reason: "a symbolic link in blobs/".to_owned(),
                });
            }
            if meta.len() == bytes.len() as u64 {
                return Ok(digest);
            }
        }
        self.write_atomically(&path, bytes)?;
        Ok(digest)
    }

    fn get_blob(&self, digest: &str) -> Result<Vec<u8>, OciError> {
        let (path, meta) = self.existing_blob(digest)?;
        if meta.len() > MAX_BLOB_BYTES {
            return Err(OciError::Invalid {
                what: path.display().to_string(),
                reason: format!("{} bytes; at most {MAX_BLOB_BYTES} are read", meta.len()),
            });
        }
        let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
        check_digest(&bytes, digest)?;
        Ok(bytes)
    }

    /// Copies the file into a temporary file in `blobs/sha256`, hashing as it goes, fsyncs it
    /// and renames it to its digest; nothing is held in memory.
    fn put_blob_file(&self, path: &Path) -> Result<String, OciError> {
        let mut src = File::open(path).map_err(|e| io(path, e))?;
        let (tmp, mut out) = Self::temp_in(&self.root.join("blobs/sha256"))?;
        let result = (|| {
            let mut hasher = Sha256Writer::default();
            let mut buf = vec![0u8; COPY_BUFFER];
            let mut size = 0u64;
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io(path, e)),
                };
                let chunk = &buf[..n];
                hasher.update(chunk);
                out.write_all(chunk).map_err(|e| io(&tmp, e))?;
                size += n as u64;
            }
            out.sync_all().map_err(|e| io(&tmp, e))?;
            let digest = hasher.finish().to_string();
            self.install_blob(&tmp, &digest, size)?;
            Ok(digest)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Opens the blob file (a symbolic link is refused) and hashes while it is read.
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + '_>, OciError> {
        let (path, _) = self.existing_blob(digest)?;
        let file = File::open(&path).map_err(|e| io(&path, e))?;
        Ok(Box::new(VerifyingReader {
            inner: BufReader::with_capacity(COPY_BUFFER, file),
            hasher: Some(Sha256Writer::default()),
            expected: digest.to_owned(),
            mismatch: None,
        }))
    }

    fn annotated_manifests(&self, key: &str, value: &str) -> Result<Vec<Digest>, OciError> {
        let mut out = Vec::new();
        for entry in self.entries()? {
            if entry["annotations"][key].as_str() != Some(value) {
                continue;
            }
            let digest = entry["digest"].as_str().unwrap_or_default();
            out.push(crate::store::parse_digest(digest, || {
                format!("index.json entry {key}={value}")
            })?);
        }
        Ok(out)
    }

    fn has_blob(&self, digest: &str) -> Result<bool, OciError> {
        let path = self.blob_path(digest)?;
        Ok(fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()))
    }

    fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<String, OciError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(OciError::TooLarge { size: bytes.len() });
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| OciError::Invalid {
            what: "manifest".to_owned(),
            reason: e.to_string(),
        })?;
        let digest = self.put_blob(bytes)?;
        let mut entry = json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
        if let Some(t) = value["artifactType"].as_str() {
            entry["artifactType"] = json!(t);
        }
        if let Some(t) = tag {
            entry["annotations"] = json!({REF_NAME: t});
        }
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let mut manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        // A tag names one manifest: moving it drops the old entry (an untagged copy of the old
        // manifest stays only if something else keeps it listed).
        if let Some(t) = tag {
            manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(t));
        }
        let present = manifests
            .iter()
            .any(|m| m["digest"] == entry["digest"] && m["annotations"][REF_NAME].as_str() == tag);
        if !present {
            if tag.is_none() && manifests.iter().any(|m| m["digest"] == entry["digest"]) {
                // Already listed under a tag: an untagged duplicate adds nothing.
            } else {
                manifests.push(entry);
            }
        }
        manifests.sort_by(|a, b| {
            let key = |m: &Value| {
                (
                    m["annotations"][REF_NAME].as_str().unwrap_or("").to_owned(),
                    m["digest"].as_str().unwrap_or("").to_owned(),
                )
            };
            key(a).cmp(&key(b))
        });
        index["manifests"] = Value::Array(manifests);
        self.write_index(&index)?;
        Ok(digest)
    }

    fn get_manifest(&self, target: &Target) -> Result<Stored, OciError> {
        let entries = self.entries()?;
        let (digest, media) = match target {
            Target::Digest(d) => {
                let media = entries
                    .iter()
                    .find(|m| m["digest"].as_str() == Some(d))
                    .and_then(|m| m["mediaType"].as_str().map(str::to_owned));
                (d.clone(), media)
            }
            Target::Tag(_) | Target::None => {
                let tag = match target {
                    Target::Tag(t) => t.as_str(),
                    _ => "latest",
                };
                let entry = entries
                    .iter()
                    .find(|m| m["annotations"][REF_NAME].as_str() == Some(tag))
                    .ok_or_else(|| OciError::NotFound {
                        what: format!("tag {tag}"),
                        location: self.root.display().to_string(),
                    })?;
                let digest = entry["digest"].as_str().unwrap_or_default().to_owned();
                (digest, entry["mediaType"].as_str().map(str::to_owned))
            }
        };
        let bytes = self.get_blob(&digest)?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(OciError::TooLarge { size: bytes.len() });
        }
        let media_type = match media {
            Some(m) => m,
            None => serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
                .unwrap_or_else(|| MANIFEST.to_owned()),
        };
        // `get_blob` checked the bytes against `digest`, so it is well formed.
        let digest = crate::store::parse_digest(&digest, || "manifest digest".to_owned())?;
        Ok(Stored {
            bytes,
            media_type,
            digest,
        })
    }

    fn referrers(
        &self,
        subject: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, OciError> {
        let mut out = Vec::new();
        for entry in self.entries()? {
            let Some(digest) = entry["digest"].as_str() else {
                continue;
            };
            if entry["mediaType"].as_str() != Some(MANIFEST) {
                continue;
            }
            // A listed manifest that is missing, changed or unreadable is an error, never a
            // referrer silently left out.
            let bytes = self.get_blob(digest)?;
            let manifest: Value =
                serde_json::from_slice(&bytes).map_err(|e| OciError::Invalid {
                    what: format!("manifest {digest}"),
                    reason: e.to_string(),
                })?;
            if manifest["subject"]["digest"].as_str() != Some(subject) {
                continue;
            }
            let kind = manifest["artifactType"]
                .as_str()
                .or_else(|| manifest["config"]["mediaType"].as_str())
                .map(str::to_owned);
            if artifact_type.is_some_and(|t| kind.as_deref() != Some(t)) {
                continue;
            }
            let annotations = crate::store::annotations_of(&manifest);
            out.push(Referrer {
                digest: crate::store::parse_digest(digest, || "manifest digest".to_owned())?,
                media_type: MANIFEST.to_owned(),
                size: bytes.len() as u64,
                artifact_type: kind,
                annotations,
            });
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Buffer size of streamed blob copies and reads.
const COPY_BUFFER: usize = 64 << 10;

/// Hashes a blob while it is read; at end of stream, a digest other than the expected one is
/// an [`std::io::ErrorKind::InvalidData`] error carrying [`OciError::DigestMismatch`], returned
/// again on every later read.
struct VerifyingReader<R> {
    inner: R,
    hasher: Option<Sha256Writer>,
    expected: String,
    mismatch: Option<String>,
}

impl<R> VerifyingReader<R> {
    fn mismatch_error(&self, actual: &str) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            OciError::DigestMismatch {
                expected: self.expected.clone(),
                actual: actual.to_owned(),
            },
        )
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(actual) = &self.mismatch {
            return Err(self.mismatch_error(actual));
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(hasher) = &mut self.hasher {
                hasher.update(&buf[..n]);
            }
            return Ok(n);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(hasher) = self.hasher.take() {
            let actual = hasher.finish().to_string();
            if actual != self.expected {
                let error = self.mismatch_error(&actual);
                self.mismatch = Some(actual);
                return Err(error);
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::{Layer, attach, copy};

    /// A tiny image: an empty config and one layer, tagged `v1`.
    pub(crate) fn image(store: &LayoutStore) -> Stored {
        let config = store
            .put_blob(br#"{"architecture":"amd64","os":"linux"}"#)
            .expect("config");
        let layer = store.put_blob(b"layer bytes").expect("layer");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 37},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 11}],
        });
        let bytes = serde_json::to_vec(&manifest).expect("json");
        store
            .put_manifest(&bytes, MANIFEST, Some("v1"))
            .expect("manifest");
        store
            .get_manifest(&Target::Tag("v1".into()))
            .expect("tagged")
    }

    #[test]
    fn attach_find_and_copy_with_referrers_of_referrers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(&dir.path().join("a")).expect("open");
        let img = image(&store);
        let sbom = attach(
            &store,
            &img,
            "application/vnd.cyclonedx+json",
            &[Layer {
                name: "bom.json".into(),
                media_type: "application/vnd.cyclonedx+json".into(),
                bytes: b"{}".to_vec(),
            }],
            &BTreeMap::new(),
        )
        .expect("attach");
        let sbom_manifest = store
            .get_manifest(&Target::Digest(sbom.clone()))
            .expect("sbom");
        let sig = attach(
            &store,
            &sbom_manifest,
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            &[Layer {
                name: "b.json".into(),
                media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
                bytes: b"{\"x\":1}".to_vec(),
            }],
            &BTreeMap::new(),
        )
        .expect("attach");
        let refs = store
            .referrers(&img.digest.to_string(), None)
            .expect("referrers");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].digest.to_string(), sbom);
        assert!(
            store
                .referrers(&img.digest.to_string(), Some("text/plain"))
                .expect("filtered")
                .is_empty()
        );
        assert_eq!(
            store.referrers(&sbom, None).expect("nested")[0]
                .digest
                .to_string(),
            sig
        );
        // Attaching the same artifact again changes nothing.
        let again = attach(
            &store,
            &img,
            "application/vnd.cyclonedx+json",
            &[Layer {
                name: "bom.json".into(),
                media_type: "application/vnd.cyclonedx+json".into(),
                bytes: b"{}".to_vec(),
            }],
            &BTreeMap::new(),
        )
        .expect("again");
        assert_eq!(again, sbom);
        assert_eq!(store.entries().expect("entries").len(), 3);

        let other = LayoutStore::open(&dir.path().join("b")).expect("open");
        let report = copy(&store, &other, &Target::Tag("v1".into()), Some("v1")).expect("copy");
        assert_eq!(report.manifests, 3);
        assert_eq!(report.referrers, 2);
        assert_eq!(
            other
                .get_manifest(&Target::Tag("v1".into()))
                .expect("copied")
                .bytes,
            img.bytes
        );
        assert_eq!(
            other.referrers(&sbom, None).expect("nested")[0]
                .digest
                .to_string(),
            sig
        );
    }

    #[test]
    fn tampered_and_hostile_layouts_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(dir.path()).expect("open");
        let img = image(&store);
        let path = store.blob_path(&img.digest.to_string()).expect("path");
        fs::write(&path, b"{\"tampered\":true}").expect("tamper");
        assert!(matches!(
            store.get_manifest(&Target::Tag("v1".into())),
            Err(OciError::DigestMismatch { .. })
        ));
        fs::remove_file(&path).expect("rm");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/passwd", &path).expect("symlink");
            assert!(matches!(
                store.get_blob(&img.digest.to_string()),
                Err(OciError::Invalid { .. })
            ));
        }
        assert!(store.get_blob("sha256:../../etc/passwd").is_err());
        assert!(matches!(
            store.put_manifest(&vec![b' '; MAX_MANIFEST_BYTES + 1], MANIFEST, None),
            Err(OciError::TooLarge { .. })
        ));
    }

    #[test]
    fn reading_opens_only_an_existing_layout_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing");
        let err = LayoutStore::open_existing(&missing).expect_err("no layout");
        assert!(matches!(&err, OciError::NoLayout { path, .. } if *path == missing));
        assert!(err.to_string().contains(&*missing.to_string_lossy()));
        assert_eq!(
            stella_core::Kinded::kind(&err),
            stella_core::ErrorKind::NotFound
        );
        assert!(!missing.exists());
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).expect("mkdir");
        assert!(matches!(
            LayoutStore::open_existing(&empty),
            Err(OciError::NoLayout { .. })
        ));
        assert_eq!(fs::read_dir(&empty).expect("ls").count(), 0);

        let made = LayoutStore::open(&dir.path().join("made")).expect("open");
        let img = image(&made);
        let read = LayoutStore::open_existing(made.root()).expect("existing");
        assert_eq!(
            read.get_manifest(&Target::Tag("v1".into())).expect("v1"),
            img
        );
        fs::write(
            made.root().join("oci-layout"),
            br#"{"imageLayoutVersion":"9"}"#,
        )
        .expect("write");
        assert!(matches!(
            LayoutStore::open_existing(made.root()),
            Err(OciError::Invalid { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_at_temporary_names_are_not_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(&dir.path().join("l")).expect("open");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").expect("write");
        // The next temporary names this process would take, in both directories written.
        let next = TMP.load(Ordering::Relaxed);
        for n in next..next + 64 {
            let name = format!(".tmp-{}-{n}", std::process::id());
            for sub in ["", "blobs/sha256"] {
                std::os::unix::fs::symlink(&victim, store.root().join(sub).join(&name))
                    .expect("plant");
            }
        }
        let img = image(&store);
        assert_eq!(fs::read(&victim).expect("victim"), b"precious");
        assert_eq!(
            store
                .get_manifest(&Target::Tag("v1".into()))
                .expect("tagged"),
            img
        );
    }

    #[test]
    fn concurrent_attachers_lose_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(dir.path()).expect("open");
        let img = image(&store);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (store, img) = (store.clone(), img.clone());
                s.spawn(move || {
                    for i in 0..10 {
                        attach(
                            &store,
                            &img,
                            "text/plain",
                            &[Layer {
                                name: "n".into(),
                                media_type: "text/plain".into(),
                                bytes: format!("{t}-{i}").into_bytes(),
                            }],
                            &BTreeMap::new(),
                        )
                        .expect("attach");
                    }
                });
            }
        });
        assert_eq!(
            store
                .referrers(&img.digest.to_string(), None)
                .expect("referrers")
                .len(),
            40
        );
    }
}
