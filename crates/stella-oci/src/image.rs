//! Container images themselves, as the [OCI image spec] describes them: a manifest naming a
//! config and an ordered list of layers (tar archives, possibly compressed), reached directly
//! or through an index that lists one manifest per platform.
//!
//! What this module owns:
//! - [`pack_directory`]: a directory as a reproducible single-layer image (an uncompressed tar
//!   layer, so its `diff_id` is its digest), stored and tagged;
//! - [`resolve`]: a reference to the image manifest for one [`Platform`] (OCI indexes and Docker
//!   manifest lists are followed, attestation entries ignored);
//! - [`unpack`]: applying an untrusted image's layers, in order, into a directory
//!   (whiteouts, path and link checks, and [`UnpackLimits`]; the rules are on the function).
//!
//! What it does not own: where blobs live (the [`ArtifactStore`] given), what is done with the
//! unpacked files (scanning happens elsewhere), and running or building images.
//!
//! File system handling is Unix's: modes, inodes, symbolic and hard links.
//!
//! [OCI image spec]: https://github.com/opencontainers/image-spec/blob/v1.1.0/spec.md

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use stella_core::digest::Sha256Writer;
use stella_core::{jcs, time};
use tar::{Builder, EntryType, Header};

pub use crate::unpack::{
    MAX_TAR_EXTENSION_BYTES, MAX_TRAILING_BYTES, UnpackLimits, Unpacked, unpack,
};

use crate::OciError;
use crate::reference::{Target, valid_digest};
use crate::store::{ArtifactStore, INDEX, MANIFEST, Stored};

/// An uncompressed tar layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip-compressed tar layer.
pub const LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// A zstd-compressed tar layer.
pub const LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// The OCI image config.
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker's gzip-compressed tar layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker's image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list, its counterpart of the OCI index.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Largest image config read.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// Most layers an image may have.
pub const MAX_LAYERS: usize = 1024;
/// Deepest nesting of indexes followed from a reference to an image manifest.
pub const MAX_INDEX_DEPTH: usize = 4;

/// An entry left out of a packed layer or of an unpacked tree, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Its path (relative; bytes that are not UTF-8 replaced).
    pub path: String,
    /// Why it was left out.
    pub reason: String,
}

/// How [`pack_directory`] packs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackOptions {
    /// Clamp every modification time to at most this (Unix seconds), as reproducible builds'
    /// `SOURCE_DATE_EPOCH` asks.
    pub source_date_epoch: Option<i64>,
}

/// What [`pack_directory`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The image manifest (canonical JSON), tagged.
    pub manifest: Stored,
    /// The layer's digest (also its `diff_id`: the layer is not compressed).
    pub layer_digest: String,
    /// Entries packed that are not directories: regular files, hard links, symbolic links.
    pub files: u64,
    /// Bytes of regular-file content packed (each inode once).
    pub bytes: u64,
    /// The config's `created`: the latest (clamped) modification time packed, RFC 3339 UTC.
    pub created: String,
    /// Sockets, FIFOs and devices left out.
    pub skipped: Vec<Skipped>,
    /// Paths left out because [`pack_directory_excluding`] was asked to (relative; bytes that
    /// are not UTF-8 replaced).
    pub excluded: Vec<String>,
}

/// Files and directories a walk leaves out, known by device and inode number, so that every
/// name of them is recognised: through a symbolic link, a bind mount or `..`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    inodes: BTreeSet<(u64, u64)>,
}

impl Exclusions {
    /// The files and directories at `paths` (symbolic links followed); a path that does not
    /// exist excludes nothing.
    ///
    /// # Errors
    /// [`OciError::Io`] when a path exists but cannot be looked at.
    pub fn of(paths: &[&Path]) -> Result<Self, OciError> {
        let mut inodes = BTreeSet::new();
        for path in paths {
            match fs::metadata(path) {
                Ok(meta) => {
                    inodes.insert((meta.dev(), meta.ino()));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_at(path)(e)),
            }
        }
        Ok(Exclusions { inodes })
    }

    /// Whether the file or directory `meta` describes is excluded.
    pub fn contains(&self, meta: &fs::Metadata) -> bool {
        self.inodes.contains(&(meta.dev(), meta.ino()))
    }
}

/// Which image of an index to take: `os/architecture[/variant]` in Go's spelling, as indexes
/// write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture (`amd64`, `arm64`, …).
    pub architecture: String,
    /// CPU variant (`v7`, `v8`), when it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux` on this machine's architecture, spelled as Go's `GOARCH` spells it (`x86_64` is
    /// `amd64`, `aarch64` is `arm64`).
    pub fn host() -> Self {
        Platform {
            os: "linux".to_owned(),
            architecture: goarch(std::env::consts::ARCH).to_owned(),
            variant: None,
        }
    }

    /// Whether an index entry for `offered` serves a request for `self`: same OS and
    /// architecture, and the variant asked for (none asked matches any; `arm64` without a
    /// variant is `v8`).
    pub fn accepts(&self, offered: &Platform) -> bool {
        if self.os != offered.os || self.architecture != offered.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(wanted) => match &offered.variant {
                Some(have) => have == wanted,
                None => self.architecture == "arm64" && wanted == "v8",
            },
        }
    }

    /// The platform of an index entry's `platform` object.
    fn from_descriptor(value: &Value) -> Option<Platform> {
        Some(Platform {
            os: value["os"].as_str()?.to_owned(),
            architecture: value["architecture"].as_str()?.to_owned(),
            variant: value["variant"]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        })
    }

    fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = OciError;

    /// Parses `os/architecture[/variant]`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let invalid = || OciError::Invalid {
            what: "platform".to_owned(),
            reason: format!("{text:?} is not os/architecture[/variant]"),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, variant] => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(invalid()),
        }
    }
}

/// Go's name for a Rust target architecture.
fn goarch(arch: &str) -> &str {
    let little = cfg!(target_endian = "little");
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if little => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips64" if little => "mips64le",
        "mips" if little => "mipsle",
        other => other,
    }
}

/// A layer of an image, as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// Its digest.
    pub digest: String,
    /// Its media type (which says how it is compressed).
    pub media_type: String,
    /// Its size as the manifest gives it.
    pub size: u64,
}

/// An image resolved to one platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// What the reference names (an index or a manifest): evidence is attached to this digest.
    pub root: Stored,
    /// The platform's image manifest (the same as `root` when the reference names a manifest).
    pub manifest: Stored,
    /// The image config.
    pub config: Value,
    /// The config's digest.
    pub config_digest: String,
    /// The layers, lowest first.
    pub layers: Vec<LayerRef>,
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

fn canonical(value: &Value, what: &str) -> Result<Vec<u8>, OciError> {
    jcs::to_canonical(value).map_err(|e| invalid(what, e.to_string()))
}

/// Packs `dir` as a single-layer image, stores its layer, config and manifest in `store`, and
/// tags the manifest `tag`.
///
/// The layer is an uncompressed tar (so its `diff_id` is its digest), written to a temporary
/// file while it is hashed and stored with [`ArtifactStore::put_blob_file`]; nothing the size of
/// the tree is held in memory. The walk never follows symbolic links (`dir` itself may be one)
/// and visits names in byte order; entries carry uid and gid 0, no user or group names, the
/// mode's permission bits, and the modification time clamped to
/// [`PackOptions::source_date_epoch`], so the same tree packs to the same manifest digest.
/// Symbolic links keep their target verbatim; the second and later paths of an inode become
/// hard-link entries to the first; sockets, FIFOs and devices are left out and listed in
/// [`Packed::skipped`]. Long names use GNU long-name entries. The config names the host's
/// platform ([`Platform::host`]).
///
/// # Errors
/// [`OciError::Io`] when the tree cannot be read (or a file changes size while it is packed);
/// [`OciError::Invalid`] when `dir` is not a directory; what the store reports.
pub fn pack_directory(
    store: &dyn ArtifactStore,
    dir: &Path,
    tag: &str,
    options: &PackOptions,
) -> Result<Packed, OciError> {
    pack_directory_excluding(store, dir, tag, options, &Exclusions::default())
}

/// [`pack_directory`], leaving out every file and directory (with all it holds) in `exclude`,
/// listed in [`Packed::excluded`].
///
/// # Errors
/// As [`pack_directory`].
pub fn pack_directory_excluding(
    store: &dyn ArtifactStore,
    dir: &Path,
    tag: &str,
    options: &PackOptions,
    exclude: &Exclusions,
) -> Result<Packed, OciError> {
    let root = fs::metadata(dir).map_err(io_at(dir))?;
    if !root.is_dir() {
        return Err(invalid(dir.display().to_string(), "not a directory"));
    }
    let (temp, file) = TempLayer::create()?;
    let own = file.metadata().map_err(io_at(&temp.path))?;
    let writer = HashingWriter {
        inner: BufWriter::with_capacity(64 << 10, file),
        hasher: Sha256Writer::default(),
        size: 0,
    };
    let mut packer = Packer {
        builder: Builder::new(writer),
        clamp: options.source_date_epoch,
        own: (own.dev(), own.ino()),
        exclude,
        first_paths: HashMap::new(),
        skipped: Vec::new(),
        excluded: Vec::new(),
        files: 0,
        bytes: 0,
        latest: None,
    };
    packer.walk(dir)?;
    let Packer {
        builder,
        skipped,
        excluded,
        files,
        bytes,
        latest,
        ..
    } = packer;
    let temp_io = io_at(&temp.path);
    let mut writer = builder.into_inner().map_err(&temp_io)?;
    writer.inner.flush().map_err(&temp_io)?;
    let layer_digest = writer.hasher.finish().to_string();
    let layer_size = writer.size;
    drop(writer.inner);

    let stored = store.put_blob_file(&temp.path)?;
    if stored != layer_digest {
        return Err(OciError::DigestMismatch {
            expected: layer_digest,
            actual: stored,
        });
    }
    let created_secs = latest.unwrap_or_else(|| clamp_mtime(root.mtime(), options));
    let created = time::rfc3339_utc(i64::try_from(created_secs).unwrap_or(i64::MAX));
    let host = Platform::host();
    let mut config = json!({
        "architecture": host.architecture,
        "os": host.os,
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    if let Some(variant) = host.variant {
        config["variant"] = json!(variant);
    }
    let config_bytes = canonical(&config, "config")?;
    let config_digest = store.put_blob(&config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": [{"mediaType": LAYER_TAR, "digest": layer_digest, "size": layer_size}],
    });
    let manifest_bytes = canonical(&manifest, "manifest")?;
    store.put_manifest(&manifest_bytes, MANIFEST, Some(tag))?;
    Ok(Packed {
        manifest: Stored {
            digest: stella_core::Digest::sha256(&manifest_bytes),
            bytes: manifest_bytes,
            media_type: MANIFEST.to_owned(),
        },
        layer_digest,
        files,
        bytes,
        created,
        skipped,
        excluded,
    })
}

/// A modification time as packed: clamped to the source date epoch, and not before 1970.
fn clamp_mtime(mtime: i64, options: &PackOptions) -> u64 {
    let clamped = match options.source_date_epoch {
        Some(epoch) => mtime.min(epoch),
        None => mtime,
    };
    u64::try_from(clamped).unwrap_or(0)
}

/// The temporary file a layer is written to, removed when dropped.
struct TempLayer {
    path: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempLayer {
    fn create() -> Result<(Self, File), OciError> {
        let dir = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last = None;
        for _ in 0..16 {
            let path = dir.join(format!(
                ".stella-layer-{}-{}-{nanos}.tar",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match File::create_new(&path) {
                Ok(file) => return Ok((TempLayer { path }, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(io_at(&path)(e)),
            }
        }
        Err(OciError::io(
            dir,
            last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)),
        ))
    }
}

impl Drop for TempLayer {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Passes writes through, hashing and counting them.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256Writer,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Yields exactly `remaining` bytes of a file whose size was written in a tar header before
/// its content: a file that shrank meanwhile is an error (a grown one is cut at the size).
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was packed",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Tar `linkname` field size; longer targets take a GNU long-link entry.
const LINKNAME_FIELD: usize = 100;

/// The walk of [`pack_directory`].
struct Packer<'x, W: Write> {
    builder: Builder<W>,
    clamp: Option<i64>,
    /// The layer's own temporary file, never packed (it may lie inside the tree).
    own: (u64, u64),
    exclude: &'x Exclusions,
    /// First path packed of each multiply-linked inode.
    first_paths: HashMap<(u64, u64), Vec<u8>>,
    skipped: Vec<Skipped>,
    excluded: Vec<String>,
    files: u64,
    bytes: u64,
    latest: Option<u64>,
}

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The children of `abs`, sorted by the bytes of their names, with their archive paths.
fn children(abs: &Path, rel: &[u8]) -> Result<Vec<(PathBuf, Vec<u8>)>, OciError> {
    let mut names: Vec<OsString> = Vec::new();
    for entry in fs::read_dir(abs).map_err(io_at(abs))? {
        names.push(entry.map_err(io_at(abs))?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names
        .into_iter()
        .map(|name| {
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            (abs.join(&name), child)
        })
        .collect())
}

fn kind_of(file_type: fs::FileType) -> &'static str {
    if file_type.is_socket() {
        "socket"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else {
        "unsupported file type"
    }
}

impl<W: Write> Packer<'_, W> {
    fn walk(&mut self, root: &Path) -> Result<(), OciError> {
        // Depth first, children in byte order: the stack holds them reversed.
        let mut stack = children(root, b"")?;
        stack.reverse();
        while let Some((abs, rel)) = stack.pop() {
            let meta = fs::symlink_metadata(&abs).map_err(io_at(&abs))?;
            if (meta.dev(), meta.ino()) == self.own {
                continue;
            }
            if self.exclude.contains(&meta) {
                self.excluded.push(lossy(&rel));
                continue;
            }
            let file_type = meta.file_type();
            if file_type.is_dir() {
                self.directory(&rel, &meta)?;
                let mut kids = children(&abs, &rel)?;
                kids.reverse();
                stack.extend(kids);
            } else if file_type.is_file() {
                self.file(&abs, &rel, &meta)?;
            } else if file_type.is_symlink() {
                self.symlink(&abs, &rel, &meta)?;
            } else {
                self.skipped.push(Skipped {
                    path: lossy(&rel),
                    reason: kind_of(file_type).to_owned(),
                });
            }
        }
        Ok(())
    }

    fn header(&mut self, kind: EntryType, meta: &fs::Metadata, size: u64) -> Header {
        let mtime = match self.clamp {
            Some(epoch) => meta.mtime().min(epoch),
            None => meta.mtime(),
        };
        let mtime = u64::try_from(mtime).unwrap_or(0);
        self.latest = Some(self.latest.map_or(mtime, |l| l.max(mtime)));
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_size(size);
        header
    }

    fn tar_error(e: io::Error) -> OciError {
        OciError::Stream {
            what: "writing the layer".to_owned(),
            source: e,
        }
    }

    fn directory(&mut self, rel: &[u8], meta: &fs::Metadata) -> Result<(), OciError> {
        let mut header = self.header(EntryType::Directory, meta, 0);
        let mut name = rel.to_vec();
        name.push(b'/');
        self.builder
            .append_data(&mut header, path_of(&name), io::empty())
            .map_err(Self::tar_error)
    }

    fn file(&mut self, abs: &Path, rel: &[u8], meta: &fs::Metadata) -> Result<(), OciError> {
        let inode = (meta.dev(), meta.ino());
        if meta.nlink() > 1 {
            if let Some(first) = self.first_paths.get(&inode).cloned() {
                let mut header = self.header(EntryType::Link, meta, 0);
                self.link_name(&mut header, &first)?;
                self.builder
                    .append_data(&mut header, path_of(rel), io::empty())
                    .map_err(Self::tar_error)?;
                self.files += 1;
                return Ok(());
            }
            self.first_paths.insert(inode, rel.to_vec());
        }
        let file = File::open(abs).map_err(io_at(abs))?;
        let opened = file.metadata().map_err(io_at(abs))?;
        if !opened.is_file() || (opened.dev(), opened.ino()) != inode {
            return Err(OciError::io(
                abs,
                io::Error::other("replaced while it was packed"),
            ));
        }
        let size = opened.len();
        let mut header = self.header(EntryType::Regular, &opened, size);
        let content = ExactReader {
            inner: file,
            remaining: size,
        };
        self.builder
            .append_data(&mut header, path_of(rel), content)
            .map_err(io_at(abs))?;
        self.files += 1;
        self.bytes += size;
        Ok(())
    }

    fn symlink(&mut self, abs: &Path, rel: &[u8], meta: &fs::Metadata) -> Result<(), OciError> {
        let target = fs::read_link(abs).map_err(io_at(abs))?;
        let mut header = self.header(EntryType::Symlink, meta, 0);
        self.link_name(&mut header, target.as_os_str().as_bytes())?;
        self.builder
            .append_data(&mut header, path_of(rel), io::empty())
            .map_err(Self::tar_error)?;
        self.files += 1;
        Ok(())
    }

    /// Sets a link target byte for byte; one longer than the header's field is written first
    /// as a GNU long-link entry, as GNU tar does.
    fn link_name(&mut self, header: &mut Header, target: &[u8]) -> Result<(), OciError> {
        if target.len() <= LINKNAME_FIELD {
            return header
                .set_link_name_literal(target)
                .map_err(Self::tar_error);
        }
        let mut long = Header::new_gnu();
        long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        long.set_entry_type(EntryType::GNULongLink);
        long.set_mode(0o644);
        long.set_uid(0);
        long.set_gid(0);
        long.set_mtime(0);
        long.set_size(target.len() as u64 + 1);
        long.set_cksum();
        self.builder
            .append(&long, target.chain(&[0u8][..]))
            .map_err(Self::tar_error)?;
        header
            .set_link_name_literal(&target[..LINKNAME_FIELD])
            .map_err(Self::tar_error)
    }
}

/// Resolves `target` in `store` to an image for `platform`.
///
/// An index (OCI index or Docker manifest list) is followed to the entry whose platform
/// [`Platform::accepts`]; entries for `unknown/unknown` (attestation manifests) are ignored, and
/// an index listing no platform at all is followed when it has exactly one entry. The config is
/// read (and checked against its digest and size); it must be an image config, not an
/// artifact's.
///
/// # Errors
/// [`OciError::NoPlatform`] (listing what the index has), [`OciError::Invalid`] for documents
/// that are not images, [`OciError::NotFound`], [`OciError::DigestMismatch`], or the store
/// failing.
pub fn resolve(
    store: &dyn ArtifactStore,
    target: &Target,
    platform: &Platform,
) -> Result<Image, OciError> {
    let root = store.get_manifest(target)?;
    let mut current = root.clone();
    for _ in 0..=MAX_INDEX_DEPTH {
        let value: Value = serde_json::from_slice(&current.bytes)
            .map_err(|e| invalid(format!("manifest {}", current.digest), e.to_string()))?;
        if !is_index(&current, &value) {
            return image_of(store, root, current, &value);
        }
        let digest = select(&current, &value, platform)?;
        current = store.get_manifest(&Target::Digest(digest))?;
    }
    Err(invalid(
        format!("index {}", root.digest),
        format!("indexes nested more than {MAX_INDEX_DEPTH} deep"),
    ))
}

fn is_index(stored: &Stored, value: &Value) -> bool {
    let media = value["mediaType"].as_str().unwrap_or(&stored.media_type);
    media == INDEX
        || media == DOCKER_MANIFEST_LIST
        || (value["manifests"].is_array() && value.get("layers").is_none())
}

/// The digest of the index entry for `platform`.
fn select(index: &Stored, value: &Value, platform: &Platform) -> Result<String, OciError> {
    let what = || format!("index {}", index.digest);
    let entries = value["manifests"]
        .as_array()
        .ok_or_else(|| invalid(what(), "no \"manifests\" array"))?;
    let mut available: Vec<String> = Vec::new();
    let mut any_platform = false;
    for entry in entries {
        let Some(offered) = entry.get("platform").and_then(Platform::from_descriptor) else {
            continue;
        };
        any_platform = true;
        if offered.is_unknown() {
            continue;
        }
        if platform.accepts(&offered) {
            return entry_digest(entry, &what);
        }
        let name = offered.to_string();
        if !available.contains(&name) {
            available.push(name);
        }
    }
    if !any_platform && entries.len() == 1 {
        return entry_digest(&entries[0], &what);
    }
    Err(OciError::NoPlatform {
        index: index.digest.to_string(),
        wanted: platform.to_string(),
        available,
    })
}

fn entry_digest(entry: &Value, what: &dyn Fn() -> String) -> Result<String, OciError> {
    match entry["digest"].as_str() {
        Some(d) if valid_digest(d) => Ok(d.to_owned()),
        other => Err(invalid(
            what(),
            format!("entry digest {other:?} is not sha256:<64 lower-case hex>"),
        )),
    }
}

fn image_of(
    store: &dyn ArtifactStore,
    root: Stored,
    manifest: Stored,
    value: &Value,
) -> Result<Image, OciError> {
    let what = format!("manifest {}", manifest.digest);
    let media = value["mediaType"].as_str().unwrap_or(&manifest.media_type);
    if media != MANIFEST && media != DOCKER_MANIFEST {
        return Err(invalid(
            what,
            format!("media type {media:?} is not an image manifest"),
        ));
    }
    let config = &value["config"];
    let config_media = config["mediaType"].as_str().unwrap_or_default();
    if config_media != CONFIG && config_media != DOCKER_CONFIG {
        return Err(invalid(
            what,
            format!("config media type {config_media:?}: an artifact, not an image"),
        ));
    }
    let config_digest = match config["digest"].as_str() {
        Some(d) if valid_digest(d) => d.to_owned(),
        other => return Err(invalid(what, format!("config digest {other:?}"))),
    };
    let config_size = config["size"].as_u64().unwrap_or(u64::MAX);
    if config_size > MAX_CONFIG_BYTES {
        return Err(OciError::Limit {
            what: format!("config of {what} announced at {config_size} bytes"),
            limit: MAX_CONFIG_BYTES,
        });
    }
    let config_bytes = store.get_blob(&config_digest)?;
    if config_bytes.len() as u64 != config_size {
        return Err(invalid(
            what,
            format!(
                "config is {} bytes; the manifest says {config_size}",
                config_bytes.len()
            ),
        ));
    }
    let config: Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| invalid(format!("config {config_digest}"), e.to_string()))?;

    let listed = value["layers"]
        .as_array()
        .ok_or_else(|| invalid(what.clone(), "no \"layers\" array"))?;
    if listed.len() > MAX_LAYERS {
        return Err(OciError::Limit {
            what: format!("layers of {what}: {}", listed.len()),
            limit: MAX_LAYERS as u64,
        });
    }
    let mut layers = Vec::with_capacity(listed.len());
    for layer in listed {
        let digest = match layer["digest"].as_str() {
            Some(d) if valid_digest(d) => d.to_owned(),
            other => return Err(invalid(what, format!("layer digest {other:?}"))),
        };
        layers.push(LayerRef {
            digest,
            media_type: layer["mediaType"].as_str().unwrap_or_default().to_owned(),
            size: layer["size"].as_u64().unwrap_or(0),
        });
    }
    if let Some(diff_ids) = config["rootfs"]["diff_ids"].as_array()
        && diff_ids.len() != layers.len()
    {
        return Err(invalid(
            format!("config {config_digest}"),
            format!("{} diff_ids for {} layers", diff_ids.len(), layers.len()),
        ));
    }
    Ok(Image {
        root,
        manifest,
        config,
        config_digest,
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_print_and_match() {
        let amd: Platform = "linux/amd64".parse().expect("parse");
        assert_eq!(amd.to_string(), "linux/amd64");
        let v8: Platform = "linux/arm64/v8".parse().expect("parse");
        assert_eq!(v8.variant.as_deref(), Some("v8"));
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//v8".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
        let arm64: Platform = "linux/arm64".parse().expect("parse");
        assert!(v8.accepts(&arm64), "arm64 without a variant is v8");
        assert!(arm64.accepts(&v8), "no variant asked matches any");
        assert!(!amd.accepts(&arm64));
        let v7: Platform = "linux/arm/v7".parse().expect("parse");
        let v6: Platform = "linux/arm/v6".parse().expect("parse");
        assert!(!v7.accepts(&v6));
        assert_eq!(goarch("x86_64"), "amd64");
        assert_eq!(goarch("aarch64"), "arm64");
        assert_eq!(goarch("riscv64"), "riscv64");
        assert_eq!(Platform::host().os, "linux");
    }

    #[test]
    fn mtimes_are_clamped_and_never_negative() {
        let sde = PackOptions {
            source_date_epoch: Some(100),
        };
        assert_eq!(clamp_mtime(50, &sde), 50);
        assert_eq!(clamp_mtime(500, &sde), 100);
        assert_eq!(clamp_mtime(-5, &PackOptions::default()), 0);
    }

    #[test]
    fn exact_reader_refuses_a_shrunk_file() {
        let mut short = ExactReader {
            inner: &b"abc"[..],
            remaining: 5,
        };
        let mut out = Vec::new();
        assert!(short.read_to_end(&mut out).is_err());
        let mut long = ExactReader {
            inner: &b"abcdef"[..],
            remaining: 2,
        };
        out.clear();
        long.read_to_end(&mut out).expect("read");
        assert_eq!(out, b"ab");
    }
}
