//! Unpacking an untrusted image's layers into a directory, as the OCI image spec's "Applying
//! Changesets" section describes: each layer's tar archive applied in order, whiteouts removing
//! what lower layers put there.
//!
//! Every layer is hostile input. It is read through [`ArtifactStore::open_blob`], so its digest
//! is checked as it streams (and the stream is read to its end even after the archive's end),
//! and the uncompressed stream is hashed against the config's `diff_id`. The tar archive is read
//! here rather than by the `tar` crate's iterator so that GNU long names and PAX headers are
//! bounded ([`MAX_TAR_EXTENSION_BYTES`]) and nothing else is held in memory.
//!
//! Not here: resolving the image ([`crate::image::resolve`]) or what the files are for. The
//! destination must not be changed by anyone else while it is written; ownership and
//! modification times are not restored.

use std::collections::HashSet;
use std::error::Error;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use stella_core::digest::Sha256Writer;
use tar::{Header, PaxExtensions};

use crate::OciError;
use crate::image::{
    DOCKER_LAYER_GZIP, Image, LAYER_TAR, LAYER_TAR_GZIP, LAYER_TAR_ZSTD, LayerRef, Skipped,
};
use crate::store::ArtifactStore;

/// Largest GNU long-name, long-link or PAX header accepted in a layer.
pub const MAX_TAR_EXTENSION_BYTES: u64 = 1 << 20;

/// Bytes allowed after a layer's end-of-archive marker (tar pads to its record size, 10 KiB by
/// default) beyond what is left of [`UnpackLimits::max_total_bytes`].
pub const MAX_TRAILING_BYTES: u64 = 1 << 20;

/// Bounds on what [`unpack`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Most bytes of entry content, over all layers.
    pub max_total_bytes: u64,
    /// Most bytes of one entry.
    pub max_file_bytes: u64,
    /// Most tar entries, over all layers.
    pub max_entries: u64,
}

impl Default for UnpackLimits {
    /// 16 GiB in all, 4 GiB per file, a million entries.
    fn default() -> Self {
        UnpackLimits {
            max_total_bytes: 16 << 30,
            max_file_bytes: 4 << 30,
            max_entries: 1_000_000,
        }
    }
}

/// What [`unpack`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Unpacked {
    /// Entries written that are not directories: regular files, symbolic and hard links.
    pub files: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Whiteout entries applied (`.wh.NAME` and opaque `.wh..wh..opq`).
    pub whiteouts: u64,
    /// Entries left out, and why.
    pub skipped: Vec<Skipped>,
}

/// Applies the image's layers, lowest first, to `dest` (an empty or absent directory).
///
/// Rules, for layers that may be hostile:
/// - entry paths are taken relative to `dest` (a leading `/` or `./` is dropped); a `..`
///   component is an error;
/// - nothing is written through a symbolic link: every parent of an entry must be a real
///   directory inside `dest`, else the entry is skipped (and listed); a path an entry replaces
///   is removed first, never opened;
/// - `.wh.NAME` removes NAME (a file or a whole tree, links not followed) left by lower
///   layers; `.wh..wh..opq` empties its directory of what lower layers put there;
/// - devices and FIFOs are skipped (and listed); symbolic links are created as they are; a
///   hard link must name a regular file already unpacked inside `dest` (reached without
///   symbolic links), else it is an error; it is copied when it cannot be linked;
/// - regular files get the mode's `0o755` bits plus `0o644`, directories plus `0o700`:
///   set-user-ID, set-group-ID and sticky bits are dropped; ownership is left alone;
/// - every layer's digest, and its uncompressed digest against the config's `diff_ids`, is
///   checked; [`UnpackLimits`] bound entries and bytes.
///
/// On error `dest` holds part of the image and should be discarded.
///
/// # Errors
/// [`OciError::Invalid`] for a malformed or hostile layer (naming the layer and the entry) and
/// for an unsupported layer media type; [`OciError::Limit`] naming the limit exceeded;
/// [`OciError::DigestMismatch`] for a layer that is not what its digest or `diff_id` says;
/// [`OciError::Io`] when `dest` cannot be written; what the store reports.
pub fn unpack(
    store: &dyn ArtifactStore,
    image: &Image,
    dest: &Path,
    limits: &UnpackLimits,
) -> Result<Unpacked, OciError> {
    prepare_destination(dest)?;
    let diff_ids: Vec<Option<String>> = match image.config["rootfs"]["diff_ids"].as_array() {
        Some(ids) if ids.len() == image.layers.len() => ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect(),
        _ => vec![None; image.layers.len()],
    };
    let mut extractor = Extractor {
        dest: dest.to_path_buf(),
        limits: *limits,
        out: Unpacked::default(),
        entries: 0,
        total: 0,
        buf: vec![0; 64 << 10],
    };
    for (layer, diff_id) in image.layers.iter().zip(&diff_ids) {
        extractor.layer(store, layer, diff_id.as_deref())?;
    }
    Ok(extractor.out)
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> OciError {
    OciError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> OciError + '_ {
    move |e| OciError::io(path, e)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn prepare_destination(dest: &Path) -> Result<(), OciError> {
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(io_at(dest))
        }
        Err(e) => Err(io_at(dest)(e)),
        Ok(_) => {
            if !fs::metadata(dest).map_err(io_at(dest))?.is_dir() {
                return Err(invalid(dest.display().to_string(), "not a directory"));
            }
            let mut entries = fs::read_dir(dest).map_err(io_at(dest))?;
            if entries.next().is_some() {
                return Err(invalid(
                    dest.display().to_string(),
                    "not empty; images are unpacked into an empty or absent directory",
                ));
            }
            Ok(())
        }
    }
}

/// The digest mismatch an I/O error carries, however deeply a decompressor wrapped it.
fn mismatch(e: &io::Error) -> Option<OciError> {
    let mut current: Option<&(dyn Error + 'static)> = e.get_ref().map(|i| i as _);
    while let Some(err) = current {
        if let Some(OciError::DigestMismatch { expected, actual }) = err.downcast_ref::<OciError>()
        {
            return Some(OciError::DigestMismatch {
                expected: expected.clone(),
                actual: actual.clone(),
            });
        }
        current = match err.downcast_ref::<io::Error>() {
            Some(inner) => inner.get_ref().map(|i| i as _),
            None => err.source(),
        };
    }
    None
}

/// An error reading a layer's stream: the digest mismatch behind it if there is one; a
/// malformed stream; or the store's I/O failing.
fn stream_error(layer: &LayerRef, e: io::Error) -> OciError {
    if let Some(m) = mismatch(&e) {
        return m;
    }
    match e.kind() {
        io::ErrorKind::InvalidData
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::Other => invalid(format!("layer {}", layer.digest), e.to_string()),
        _ => OciError::Stream {
            what: format!("reading layer {}", layer.digest),
            source: e,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn compression(media_type: &str) -> Option<Compression> {
    match media_type {
        LAYER_TAR
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
        LAYER_TAR_GZIP
        | DOCKER_LAYER_GZIP
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Some(Compression::Gzip),
        LAYER_TAR_ZSTD | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => {
            Some(Compression::Zstd)
        }
        _ => None,
    }
}

/// Regular files: the mode's `rwxr-xr-x` bits, at least `rw-r--r--`.
fn file_mode(mode: u32) -> u32 {
    (mode & 0o755) | 0o644
}

/// Directories: the mode's `rwxr-xr-x` bits, at least `rwx------` (so we can fill them).
fn dir_mode(mode: u32) -> u32 {
    (mode & 0o755) | 0o700
}

/// The components of an entry path relative to the destination: empty and `.` components
/// dropped (so a leading `/` or `./` is), `..` refused.
fn normalise(path: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    let mut out = Vec::new();
    for component in path.split(|b| *b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("a `..` component would leave the destination"),
            c if c.contains(&0) => return Err("a NUL byte in the path"),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn rel_path(components: &[&[u8]]) -> PathBuf {
    components.iter().map(|c| OsStr::from_bytes(c)).collect()
}

/// Removes `path` (a whole tree if it is a directory), never following a symbolic link.
fn remove_tree(path: &Path) -> Result<(), OciError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(path)(e)),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).map_err(io_at(path)),
        Ok(_) => fs::remove_file(path).map_err(io_at(path)),
    }
}

/// Where a chain of parent directories leads.
enum Parent {
    /// A real directory.
    Dir(PathBuf),
    /// Not there.
    Missing,
    /// Through something that is not a real directory (why).
    Blocked(String),
}

/// Applies layers to the destination, keeping the counts the limits bound.
struct Extractor {
    dest: PathBuf,
    limits: UnpackLimits,
    out: Unpacked,
    entries: u64,
    total: u64,
    buf: Vec<u8>,
}

impl Extractor {
    fn layer(
        &mut self,
        store: &dyn ArtifactStore,
        layer: &LayerRef,
        diff_id: Option<&str>,
    ) -> Result<(), OciError> {
        let kind = compression(&layer.media_type).ok_or_else(|| {
            invalid(
                format!("layer {}", layer.digest),
                format!("unsupported layer media type {:?}", layer.media_type),
            )
        })?;
        let mut blob = store.open_blob(&layer.digest)?;
        let outcome = self.extract(&mut blob, kind, layer);
        // The blob is only known to be what its digest says once it has been read to its end;
        // a mismatch explains whatever else went wrong.
        let drained = io::copy(&mut blob, &mut io::sink());
        if let Err(e) = &drained
            && let Some(m) = mismatch(e)
        {
            return Err(m);
        }
        let diff = outcome?;
        drained.map_err(|e| stream_error(layer, e))?;
        if let Some(expected) = diff_id
            && expected != diff
        {
            return Err(OciError::DigestMismatch {
                expected: expected.to_owned(),
                actual: diff,
            });
        }
        Ok(())
    }

    /// Applies one layer's archive; the digest of its uncompressed stream.
    fn extract(
        &mut self,
        raw: &mut dyn Read,
        kind: Compression,
        layer: &LayerRef,
    ) -> Result<String, OciError> {
        let reader: Box<dyn Read + '_> = match kind {
            Compression::None => Box::new(raw),
            Compression::Gzip => Box::new(MultiGzDecoder::new(raw)),
            Compression::Zstd => Box::new(ZstdFrames::new(raw)),
        };
        let mut hashed = HashingReader {
            inner: reader,
            hasher: Sha256Writer::default(),
        };
        let mut archive = TarStream::new(&mut hashed);
        let mut touched = HashSet::new();
        while let Some(entry) = archive.next_entry().map_err(|e| stream_error(layer, e))? {
            self.count(&entry, layer)?;
            self.apply(&mut archive, &entry, layer, &mut touched)?;
        }
        // What follows the end of the archive (padding to the record size) belongs to the
        // diff_id too; it may not be used to make the stream endless.
        let budget = self
            .limits
            .max_total_bytes
            .saturating_sub(self.total)
            .saturating_add(MAX_TRAILING_BYTES);
        let trailing = io::copy(
            &mut (&mut hashed).take(budget.saturating_add(1)),
            &mut io::sink(),
        )
        .map_err(|e| stream_error(layer, e))?;
        if trailing > budget {
            return Err(OciError::Limit {
                what: format!(
                    "max_total_bytes (with {MAX_TRAILING_BYTES} bytes allowed after the end of \
                     the archive, reached after the end of layer {})",
                    layer.digest
                ),
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(hashed.hasher.finish().to_string())
    }

    fn count(&mut self, entry: &TarEntry, layer: &LayerRef) -> Result<(), OciError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(OciError::Limit {
                what: format!(
                    "max_entries (entries in all layers, reached in layer {})",
                    layer.digest
                ),
                limit: self.limits.max_entries,
            });
        }
        if entry.size > self.limits.max_file_bytes {
            return Err(OciError::Limit {
                what: format!(
                    "max_file_bytes ({:?} in layer {} has {} bytes)",
                    lossy(&entry.path),
                    layer.digest,
                    entry.size
                ),
                limit: self.limits.max_file_bytes,
            });
        }
        self.add_bytes(entry.size, &entry.path, layer)
    }

    fn add_bytes(&mut self, size: u64, path: &[u8], layer: &LayerRef) -> Result<(), OciError> {
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_total_bytes {
            return Err(OciError::Limit {
                what: format!(
                    "max_total_bytes (reached at {:?} in layer {})",
                    lossy(path),
                    layer.digest
                ),
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(())
    }

    fn skip(&mut self, path: &[u8], reason: impl Into<String>) {
        self.out.skipped.push(Skipped {
            path: lossy(path),
            reason: reason.into(),
        });
    }

    fn apply<R: Read>(
        &mut self,
        archive: &mut TarStream<R>,
        entry: &TarEntry,
        layer: &LayerRef,
        touched: &mut HashSet<PathBuf>,
    ) -> Result<(), OciError> {
        let what = || format!("layer {}", layer.digest);
        let components = normalise(&entry.path)
            .map_err(|r| invalid(what(), format!("entry {:?}: {r}", lossy(&entry.path))))?;
        let Some((name, parents)) = components.split_last() else {
            if entry.kind != Kind::Directory {
                self.skip(&entry.path, "names the destination itself");
            }
            return Ok(());
        };
        // AUFS keeps hard-link and whiteout bookkeeping under `.wh..wh.*`; none of it is
        // content.
        if parents.iter().any(|p| p.starts_with(b".wh..wh.")) {
            self.skip(&entry.path, "AUFS metadata");
            return Ok(());
        }
        if name.starts_with(b".wh.") {
            return self.whiteout(parents, name, entry, layer, touched);
        }
        match entry.kind {
            Kind::CharDevice => {
                self.skip(&entry.path, "character device");
                return Ok(());
            }
            Kind::BlockDevice => {
                self.skip(&entry.path, "block device");
                return Ok(());
            }
            Kind::Fifo => {
                self.skip(&entry.path, "FIFO");
                return Ok(());
            }
            Kind::Sparse => {
                self.skip(&entry.path, "sparse file (not supported)");
                return Ok(());
            }
            Kind::Other(flag) => {
                self.skip(
                    &entry.path,
                    format!("unsupported tar entry type {:?}", char::from(flag)),
                );
                return Ok(());
            }
            Kind::Regular | Kind::Directory | Kind::Symlink | Kind::HardLink => {}
        }
        let dir = match self.parents(parents, touched, true)? {
            Parent::Dir(dir) => dir,
            Parent::Blocked(reason) => {
                self.skip(&entry.path, reason);
                return Ok(());
            }
            Parent::Missing => {
                return Err(OciError::io(
                    &self.dest,
                    io::Error::other("a parent directory vanished"),
                ));
            }
        };
        let path = dir.join(OsStr::from_bytes(name));
        let rel = rel_path(&components);
        let written = match entry.kind {
            Kind::Directory => self.directory(&path, entry.mode)?,
            Kind::Regular => self.regular(archive, &path, entry, layer)?,
            Kind::Symlink => self.symlink(&path, entry)?,
            Kind::HardLink => self.hard_link(&path, &rel, entry, layer)?,
            _ => false,
        };
        if written {
            touched.insert(rel);
        }
        Ok(())
    }

    /// Walks `parents` from the destination: each must be a real directory. With `create`,
    /// missing ones are made (and recorded in `touched`, as are existing ones: they now hold
    /// this layer's content).
    fn parents(
        &self,
        parents: &[&[u8]],
        touched: &mut HashSet<PathBuf>,
        create: bool,
    ) -> Result<Parent, OciError> {
        let mut path = self.dest.clone();
        let mut rel = PathBuf::new();
        for component in parents {
            let name = OsStr::from_bytes(component);
            path.push(name);
            rel.push(name);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Ok(Parent::Blocked(format!(
                        "parent {} is a symbolic link",
                        rel.display()
                    )));
                }
                Ok(_) => {
                    return Ok(Parent::Blocked(format!(
                        "parent {} is not a directory",
                        rel.display()
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !create {
                        return Ok(Parent::Missing);
                    }
                    fs::create_dir(&path).map_err(io_at(&path))?;
                    fs::set_permissions(&path, Permissions::from_mode(0o755))
                        .map_err(io_at(&path))?;
                }
                Err(e) => return Err(io_at(&path)(e)),
            }
            if create {
                touched.insert(rel.clone());
            }
        }
        Ok(Parent::Dir(path))
    }

    fn whiteout(
        &mut self,
        parents: &[&[u8]],
        name: &[u8],
        entry: &TarEntry,
        layer: &LayerRef,
        touched: &mut HashSet<PathBuf>,
    ) -> Result<(), OciError> {
        let opaque = name == b".wh..wh..opq";
        if !opaque && name.starts_with(b".wh..wh.") {
            self.skip(&entry.path, "AUFS metadata");
            return Ok(());
        }
        let target = &name[4..];
        if !opaque && (target.is_empty() || target == b"." || target == b"..") {
            return Err(invalid(
                format!("layer {}", layer.digest),
                format!("entry {:?}: a whiteout naming no file", lossy(&entry.path)),
            ));
        }
        self.out.whiteouts += 1;
        let dir = match self.parents(parents, touched, false)? {
            Parent::Dir(dir) => dir,
            Parent::Missing => return Ok(()),
            Parent::Blocked(reason) => {
                self.skip(&entry.path, reason);
                return Ok(());
            }
        };
        let rel = rel_path(parents);
        if opaque {
            return clear_lower(&dir, &rel, touched);
        }
        let path = dir.join(OsStr::from_bytes(target));
        let rel = rel.join(OsStr::from_bytes(target));
        if !touched.contains(&rel) {
            return remove_tree(&path);
        }
        // This layer made it too: only what lower layers left inside goes.
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => clear_lower(&path, &rel, touched),
            _ => Ok(()),
        }
    }

    fn directory(&mut self, path: &Path, mode: u32) -> Result<bool, OciError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                fs::remove_file(path).map_err(io_at(path))?;
                fs::create_dir(path).map_err(io_at(path))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(path).map_err(io_at(path))?;
            }
            Err(e) => return Err(io_at(path)(e)),
        }
        fs::set_permissions(path, Permissions::from_mode(dir_mode(mode))).map_err(io_at(path))?;
        Ok(true)
    }

    /// A new file (`create_new`: never through an existing link) holding `reader`'s bytes.
    fn create_file(
        &mut self,
        path: &Path,
        mode: u32,
        reader: &mut dyn Read,
        layer: &LayerRef,
    ) -> Result<u64, OciError> {
        remove_tree(path)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(io_at(path))?;
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stream_error(layer, e)),
            };
            file.write_all(&self.buf[..n]).map_err(io_at(path))?;
            written += n as u64;
        }
        // The mode passed to open is cut by the umask.
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io_at(path))?;
        Ok(written)
    }

    fn regular<R: Read>(
        &mut self,
        archive: &mut TarStream<R>,
        path: &Path,
        entry: &TarEntry,
        layer: &LayerRef,
    ) -> Result<bool, OciError> {
        let mut data = archive.data();
        let written = self.create_file(path, file_mode(entry.mode), &mut data, layer)?;
        self.out.files += 1;
        self.out.bytes += written;
        Ok(true)
    }

    fn symlink(&mut self, path: &Path, entry: &TarEntry) -> Result<bool, OciError> {
        if entry.link.is_empty() || entry.link.contains(&0) {
            self.skip(&entry.path, "symbolic link without a usable target");
            return Ok(false);
        }
        remove_tree(path)?;
        std::os::unix::fs::symlink(OsStr::from_bytes(&entry.link), path).map_err(io_at(path))?;
        self.out.files += 1;
        Ok(true)
    }

    fn hard_link(
        &mut self,
        path: &Path,
        rel: &Path,
        entry: &TarEntry,
        layer: &LayerRef,
    ) -> Result<bool, OciError> {
        let refuse = |reason: &str| {
            invalid(
                format!("layer {}", layer.digest),
                format!(
                    "hard link {:?} -> {:?}: {reason}",
                    lossy(&entry.path),
                    lossy(&entry.link)
                ),
            )
        };
        let target = normalise(&entry.link).map_err(refuse)?;
        if target.is_empty() {
            return Err(refuse("no target"));
        }
        if rel_path(&target) == rel {
            self.skip(&entry.path, "hard link to itself");
            return Ok(false);
        }
        let Some(source) = self.existing_file(&target)? else {
            return Err(refuse(
                "the target is not a regular file already unpacked inside the destination \
                 (symbolic links are not followed)",
            ));
        };
        remove_tree(path)?;
        if fs::hard_link(&source, path).is_err() {
            let meta = fs::symlink_metadata(&source).map_err(io_at(&source))?;
            self.add_bytes(meta.len(), &entry.path, layer)?;
            let mut file = File::open(&source).map_err(io_at(&source))?;
            let mode = meta.permissions().mode() & 0o7777;
            let written = self.create_file(path, mode, &mut file, layer)?;
            self.out.bytes += written;
        }
        self.out.files += 1;
        Ok(true)
    }

    /// The path of `components` when it is a regular file reached through real directories.
    fn existing_file(&self, components: &[&[u8]]) -> Result<Option<PathBuf>, OciError> {
        let mut path = self.dest.clone();
        let last = components.len().saturating_sub(1);
        for (i, component) in components.iter().enumerate() {
            path.push(OsStr::from_bytes(component));
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_at(&path)(e)),
            };
            let fits = if i == last {
                meta.is_file()
            } else {
                meta.is_dir()
            };
            if !fits {
                return Ok(None);
            }
        }
        Ok(Some(path))
    }
}

/// Removes from `dir` everything this layer has not written (lower layers' content), keeping
/// what it has, for an opaque whiteout.
fn clear_lower(dir: &Path, rel: &Path, touched: &HashSet<PathBuf>) -> Result<(), OciError> {
    let mut stack = vec![(dir.to_path_buf(), rel.to_path_buf())];
    while let Some((abs, rel)) = stack.pop() {
        for child in fs::read_dir(&abs).map_err(io_at(&abs))? {
            let name = child.map_err(io_at(&abs))?.file_name();
            let child_abs = abs.join(&name);
            let child_rel = rel.join(&name);
            if !touched.contains(&child_rel) {
                remove_tree(&child_abs)?;
            } else if fs::symlink_metadata(&child_abs).is_ok_and(|m| m.is_dir()) {
                stack.push((child_abs, child_rel));
            }
        }
    }
    Ok(())
}

/// Passes reads through, hashing them.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256Writer,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A zstd stream of any number of frames (skippable frames skipped), decoded as it is read.
struct ZstdFrames<R> {
    source: BufReader<R>,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: Read> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            source: BufReader::with_capacity(64 << 10, source),
            decoder: FrameDecoder::new(),
            in_frame: false,
        }
    }
}

fn zstd_error(e: FrameDecoderError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.decoder.init(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let length = u64::from(length);
                        let skipped =
                            io::copy(&mut (&mut self.source).take(length), &mut io::sink())?;
                        if skipped < length {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "truncated zstd skippable frame",
                            ));
                        }
                        continue;
                    }
                    Err(e) => return Err(zstd_error(e)),
                }
            }
            while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(zstd_error)?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                if let (Some(stored), Some(computed)) = (
                    self.decoder.get_checksum_from_data(),
                    self.decoder.get_calculated_checksum(),
                ) && stored != computed
                {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "zstd frame checksum mismatch",
                    ));
                }
                self.in_frame = false;
            }
        }
    }
}

/// What a tar entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    HardLink,
    Symlink,
    CharDevice,
    BlockDevice,
    Directory,
    Fifo,
    /// A PAX-described sparse file, whose data is a map followed by fragments.
    Sparse,
    Other(u8),
}

/// A tar entry's header, extensions applied.
#[derive(Debug, Clone)]
struct TarEntry {
    kind: Kind,
    path: Vec<u8>,
    link: Vec<u8>,
    mode: u32,
    size: u64,
}

const BLOCK: u64 = 512;

fn bad(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn trim_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(end) = bytes.iter().position(|b| *b == 0) {
        bytes.truncate(end);
    }
    bytes
}

/// A tar archive read as a stream (ustar, GNU and PAX), one entry at a time; an entry's data
/// is read through [`TarStream::data`] and whatever is left of it skipped by the next call.
struct TarStream<R> {
    inner: R,
    remaining: u64,
    padding: u64,
}

impl<R: Read> TarStream<R> {
    fn new(inner: R) -> Self {
        TarStream {
            inner,
            remaining: 0,
            padding: 0,
        }
    }

    /// Fills `block`; false at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8]) -> io::Result<bool> {
        let mut filled = 0;
        while filled < block.len() {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(false);
        }
        if filled < block.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated tar header",
            ));
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if skipped < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated tar entry",
            ));
        }
        Ok(())
    }

    fn read_extension(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > MAX_TAR_EXTENSION_BYTES {
            return Err(bad(format!(
                "a tar extension header of {size} bytes; at most {MAX_TAR_EXTENSION_BYTES} are read"
            )));
        }
        let mut data = Vec::new();
        (&mut self.inner).take(size).read_to_end(&mut data)?;
        if (data.len() as u64) < size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated tar extension header",
            ));
        }
        self.skip(padding(size))?;
        Ok(data)
    }

    /// The next entry; `None` at the end of the archive.
    fn next_entry(&mut self) -> io::Result<Option<TarEntry>> {
        let rest = self.remaining.saturating_add(self.padding);
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest)?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<u8>> = None;
        loop {
            let mut header = Header::new_old();
            let pending = long_name.is_some() || long_link.is_some() || pax.is_some();
            if !self.read_block(header.as_mut_bytes())? || header.as_bytes().iter().all(|b| *b == 0)
            {
                if pending {
                    return Err(bad("tar extension headers describe no entry"));
                }
                return Ok(None);
            }
            check_checksum(&header)?;
            let flag = header.as_old().linkflag[0];
            let size = header.entry_size()?;
            match flag {
                b'L' | b'K' | b'x' => {
                    let slot = match flag {
                        b'L' => &mut long_name,
                        b'K' => &mut long_link,
                        _ => &mut pax,
                    };
                    if slot.is_some() {
                        return Err(bad("two tar extension headers of one kind for one entry"));
                    }
                    let data = self.read_extension(size)?;
                    *slot = Some(if flag == b'x' { data } else { trim_nul(data) });
                }
                b'g' => {
                    self.read_extension(size)?;
                }
                b'S' => return Err(bad("GNU sparse entries are not supported")),
                _ => {
                    return self
                        .entry(&header, flag, size, long_name, long_link, pax)
                        .map(Some);
                }
            }
        }
    }

    fn entry(
        &mut self,
        header: &Header,
        flag: u8,
        size: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax: Option<Vec<u8>>,
    ) -> io::Result<TarEntry> {
        let mut entry = TarEntry {
            kind: Kind::Other(flag),
            path: long_name.unwrap_or_else(|| header.path_bytes().into_owned()),
            link: long_link.unwrap_or_else(|| {
                header
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default()
            }),
            mode: mode_of(header)?,
            size,
        };
        let mut sparse = false;
        if let Some(pax) = &pax {
            for field in PaxExtensions::new(pax) {
                let field = field.map_err(|e| bad(format!("PAX header: {e}")))?;
                let value = field.value_bytes();
                match field.key_bytes() {
                    b"path" => entry.path = value.to_vec(),
                    b"linkpath" => entry.link = value.to_vec(),
                    b"size" => {
                        entry.size = std::str::from_utf8(value)
                            .ok()
                            .and_then(|v| v.parse().ok())
                            .ok_or_else(|| bad("PAX size is not a number"))?;
                    }
                    key if key.starts_with(b"GNU.sparse.") => sparse = true,
                    _ => {}
                }
            }
        }
        entry.kind = match flag {
            _ if sparse => Kind::Sparse,
            // Before ustar, a directory was a regular entry whose name ends in `/`.
            b'0' | b'\0' | b'7' if entry.path.ends_with(b"/") => Kind::Directory,
            b'0' | b'\0' | b'7' => Kind::Regular,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' => Kind::CharDevice,
            b'4' => Kind::BlockDevice,
            b'5' => Kind::Directory,
            b'6' => Kind::Fifo,
            other => Kind::Other(other),
        };
        self.remaining = entry.size;
        self.padding = padding(entry.size);
        Ok(entry)
    }

    /// The current entry's data.
    fn data(&mut self) -> EntryData<'_, R> {
        EntryData { stream: self }
    }
}

/// The mode field; an empty one (some writers leave it so for links) is 0.
fn mode_of(header: &Header) -> io::Result<u32> {
    if header.as_old().mode.iter().all(|b| *b == 0 || *b == b' ') {
        return Ok(0);
    }
    header.mode()
}

fn check_checksum(header: &Header) -> io::Result<()> {
    let bytes = header.as_bytes();
    // The checksum field counts as eight spaces.
    let sum: u32 = bytes[..148]
        .iter()
        .chain(&[b' '; 8])
        .chain(&bytes[156..])
        .map(|b| u32::from(*b))
        .sum();
    if header.cksum()? != sum {
        return Err(bad("tar header checksum mismatch"));
    }
    Ok(())
}

/// Reads the current entry's data, and no further.
struct EntryData<'a, R> {
    stream: &'a mut TarStream<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.stream.remaining;
        if remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let n = self.stream.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated tar entry",
            ));
        }
        self.stream.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().expect("finish")
    }

    fn entries(bytes: &[u8]) -> io::Result<Vec<(TarEntry, Vec<u8>)>> {
        let mut stream = TarStream::new(bytes);
        let mut out = Vec::new();
        while let Some(entry) = stream.next_entry()? {
            let mut data = Vec::new();
            stream.data().read_to_end(&mut data)?;
            out.push((entry, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_gnu_long_names_and_pax_paths() {
        let long = format!("{}/file", "d".repeat(150));
        let target = "t".repeat(200);
        let bytes = archive(|b| {
            let mut h = Header::new_gnu();
            h.set_size(3);
            h.set_mode(0o644);
            b.append_data(&mut h, &long, &b"abc"[..]).expect("file");
            let mut h = Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "link", &target).expect("link");
            let mut h = Header::new_ustar();
            h.set_size(2);
            h.set_mode(0o600);
            b.append_pax_extensions([("path", &b"pax/name"[..])])
                .expect("pax");
            b.append_data(&mut h, "short", &b"hi"[..])
                .expect("pax file");
        });
        let got = entries(&bytes).expect("entries");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0.path, long.as_bytes());
        assert_eq!(got[0].1, b"abc");
        assert_eq!(got[1].0.kind, Kind::Symlink);
        assert_eq!(got[1].0.link, target.as_bytes());
        assert_eq!(got[2].0.path, b"pax/name");
        assert_eq!(got[2].0.mode, 0o600);
        assert_eq!(got[2].1, b"hi");
    }

    #[test]
    fn refuses_oversized_extensions_bad_checksums_and_truncation() {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(MAX_TAR_EXTENSION_BYTES + 1);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(vec![b'a'; 4096]);
        let e = entries(&bytes).expect_err("oversized");
        assert!(e.to_string().contains("extension header"), "{e}");

        let mut good = archive(|b| {
            let mut h = Header::new_gnu();
            h.set_size(3);
            b.append_data(&mut h, "f", &b"abc"[..]).expect("file");
        });
        let mut corrupt = good.clone();
        corrupt[0] = b'g';
        assert!(entries(&corrupt).is_err(), "checksum");
        good.truncate(600);
        assert!(entries(&good).is_err(), "truncated data");
        assert!(entries(&[]).expect("empty").is_empty());
    }

    #[test]
    fn paths_are_normalised_and_dotdot_refused() {
        assert_eq!(
            normalise(b"/etc/./x//y/").expect("ok"),
            vec![&b"etc"[..], b"x", b"y"]
        );
        assert!(normalise(b"./").expect("ok").is_empty());
        assert!(normalise(b"a/../b").is_err());
        assert!(normalise(b"..").is_err());
        assert_eq!(file_mode(0o4777), 0o755);
        assert_eq!(file_mode(0o600), 0o644);
        assert_eq!(dir_mode(0o1500), 0o700 | 0o500);
    }

    #[test]
    fn media_types() {
        assert_eq!(compression(LAYER_TAR), Some(Compression::None));
        assert_eq!(compression(DOCKER_LAYER_GZIP), Some(Compression::Gzip));
        assert_eq!(compression(LAYER_TAR_ZSTD), Some(Compression::Zstd));
        assert_eq!(compression("application/x-rar"), None);
    }

    #[test]
    fn zstd_frames_and_skippable_frames_decode_in_order() {
        use ruzstd::encoding::{CompressionLevel, compress_to_vec};
        let mut stream = compress_to_vec(&b"hello "[..], CompressionLevel::Fastest);
        // A skippable frame: magic 0x184D2A50, length 4, payload.
        stream.extend_from_slice(&[0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);
        stream.extend(compress_to_vec(&b"world"[..], CompressionLevel::Fastest));
        let mut out = Vec::new();
        ZstdFrames::new(&stream[..])
            .read_to_end(&mut out)
            .expect("decode");
        assert_eq!(out, b"hello world");
        let mut garbage = Vec::new();
        assert!(
            ZstdFrames::new(&b"not zstd at all"[..])
                .read_to_end(&mut garbage)
                .is_err()
        );
    }
}
