//! The embedded log: C2SP tlog-tiles in a directory (`$STELLA_HOME/log`), appended to under a
//! file lock and made durable before an append is acknowledged.
//!
//! Layout: `checkpoint` (the signed note), `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`,
//! `log.key` (the Ed25519 checkpoint key, PKCS#8, owner-only), `origin` (the log's name),
//! `created` (when; the start of the key's validity in the trusted root), `lock`. An append writes entry bundles and hash tiles first (each through a temporary file,
//! fsynced and renamed, then the directories fsynced) and the checkpoint last (the same way): a
//! crash at any point leaves the previous checkpoint, whose tiles are all still there, or the
//! new one, whose tiles were all durable before it. Tiles beyond the checkpoint are rewritten
//! by the next append. Full tiles never change; partial tiles are new files per width, and a
//! partial tile is removed once a later checkpoint's wider tile holds all of it (a reader of an
//! older tree size reads a prefix of the wider tile).
//!
//! Not here: serving the tiles over HTTP, remote logs.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::TlogError;
use crate::checkpoint::Checkpoint;
use crate::merkle::{self, Hash, HashSource};
use crate::note::{NoteSigner, NoteVerifier};
use crate::tiles::{self, TILE_HEIGHT, TILE_WIDTH};

/// Most entries appended in one batch (a batch is one checkpoint).
pub const MAX_BATCH: usize = 65_536;

/// The origin of a log created without one.
pub const DEFAULT_ORIGIN: &str = "log.stella.local";

/// What an append returns: the first new index and the checkpoint that includes the batch.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Index of the first appended entry (the others follow in order).
    pub first_index: u64,
    /// The new checkpoint.
    pub checkpoint: Checkpoint,
    /// Its signed note.
    pub note: String,
}

/// A log in a directory.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    signer: NoteSigner,
}

impl Log {
    /// Opens the log in `dir`, creating it (with a new key, and `origin` or
    /// [`DEFAULT_ORIGIN`]) when it does not exist.
    ///
    /// # Errors
    /// [`TlogError::Io`] for the file system, [`TlogError::Corrupt`] for a damaged log.
    pub fn open(dir: &Path, origin: Option<&str>) -> Result<Self, TlogError> {
        let io = |e: std::io::Error, what: &Path| TlogError::Io(format!("{}: {e}", what.display()));
        fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
        let lock = lock(dir)?;
        let key_path = dir.join("log.key");
        let origin_path = dir.join("origin");
        if !key_path.exists() {
            let origin = origin.unwrap_or(DEFAULT_ORIGIN);
            let key = Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| TlogError::Io("no randomness for the log key".to_owned()))?;
            let signer = NoteSigner::from_pkcs8(origin, key.as_ref())?;
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                STANDARD.encode(key.as_ref())
            );
            write_durably(dir, "log.key", pem.as_bytes(), true)?;
            write_durably(dir, "origin", format!("{origin}\n").as_bytes(), false)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let created = stella_core::time::rfc3339_utc(now);
            write_durably(dir, "created", format!("{created}\n").as_bytes(), false)?;
            let empty = Checkpoint {
                origin: origin.to_owned(),
                size: 0,
                root: merkle::empty_root(),
                extensions: Vec::new(),
            };
            write_durably(dir, "checkpoint", empty.sign(&signer)?.as_bytes(), false)?;
            sync_dir(dir)?;
        }
        drop(lock);
        let origin_text = fs::read_to_string(&origin_path).map_err(|e| io(e, &origin_path))?;
        let origin = origin_text.trim();
        let pem = fs::read_to_string(&key_path).map_err(|e| io(e, &key_path))?;
        let der = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        let der = STANDARD
            .decode(der)
            .map_err(|_| TlogError::Corrupt(format!("{}: not a PEM key", key_path.display())))?;
        let signer = NoteSigner::from_pkcs8(origin, &der)?;
        let log = Log {
            dir: dir.to_path_buf(),
            signer,
        };
        log.checkpoint()?;
        Ok(log)
    }

    /// The log's origin (its name, and the name its checkpoints are signed under).
    pub fn origin(&self) -> &str {
        &self.signer.verifier().name
    }

    /// The checkpoint verifier.
    pub fn verifier(&self) -> &NoteVerifier {
        self.signer.verifier()
    }

    /// The log id: SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key), whose first 4 bytes are the
    /// checkpoint key id.
    pub fn log_id(&self) -> Vec<u8> {
        log_id(self.verifier())
    }

    /// The current checkpoint and its signed note, verified with the log's own key.
    ///
    /// # Errors
    /// [`TlogError::Corrupt`] when the checkpoint is missing, malformed or badly signed.
    pub fn checkpoint(&self) -> Result<(Checkpoint, String), TlogError> {
        let path = self.dir.join("checkpoint");
        let note = fs::read_to_string(&path)
            .map_err(|e| TlogError::Corrupt(format!("{}: {e}", path.display())))?;
        let cp = Checkpoint::open(&note, self.verifier(), self.origin())
            .map_err(|e| TlogError::Corrupt(format!("{}: {e}", path.display())))?;
        Ok((cp, note))
    }

    /// Appends `entries` as one batch and returns once they and the new checkpoint are durable.
    ///
    /// # Errors
    /// [`TlogError::Entry`] for an entry over 64 KiB or a batch over [`MAX_BATCH`];
    /// [`TlogError::Io`] when the disk fails (the log stays at its previous checkpoint).
    pub fn append(&self, entries: &[Vec<u8>]) -> Result<Appended, TlogError> {
        if entries.len() > MAX_BATCH {
            return Err(TlogError::Entry(format!(
                "{} entries in one batch; at most {MAX_BATCH}",
                entries.len()
            )));
        }
        if let Some(e) = entries.iter().find(|e| e.len() > tiles::MAX_ENTRY_BYTES) {
            return Err(TlogError::Entry(format!(
                "an entry of {} bytes; a log entry is at most {} (log large documents by digest)",
                e.len(),
                tiles::MAX_ENTRY_BYTES
            )));
        }
        let _lock = lock(&self.dir)?;
        let (old, _) = self.checkpoint()?;
        let n = old.size;
        let mut dirs = BTreeSet::new();
        // Partial tiles this batch supersedes, removed once the new checkpoint is durable.
        let mut superseded: Vec<String> = Vec::new();

        // Entry bundles.
        let mut index = n / TILE_WIDTH;
        let have = n % TILE_WIDTH;
        let mut bundle = if have > 0 {
            let path = tiles::entries_path(index, have);
            let bundle = tiles::decode_entries(&self.read(&path)?, have, &path)?;
            superseded.push(path);
            bundle
        } else {
            Vec::new()
        };
        for e in entries {
            bundle.push(e.clone());
            if bundle.len() as u64 == TILE_WIDTH {
                self.write_tile(
                    &tiles::entries_path(index, TILE_WIDTH),
                    &tiles::encode_entries(&bundle)?,
                    &mut dirs,
                )?;
                index += 1;
                bundle.clear();
            }
        }
        if !bundle.is_empty() {
            let path = tiles::entries_path(index, bundle.len() as u64);
            self.write_tile(&path, &tiles::encode_entries(&bundle)?, &mut dirs)?;
        }

        // Hash tiles, level by level: each full tile below gives one hash to the level above.
        let mut new: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let mut level = 0u32;
        let mut before = n;
        while !new.is_empty() {
            let mut index = before / TILE_WIDTH;
            let have = before % TILE_WIDTH;
            let mut tile = if have > 0 {
                let path = tiles::tile_path(level, index, have);
                let tile = tiles::decode_hashes(&self.read(&path)?, have, &path)?;
                superseded.push(path);
                tile
            } else {
                Vec::new()
            };
            let mut up = Vec::new();
            for h in new {
                tile.push(h);
                if tile.len() as u64 == TILE_WIDTH {
                    let path = tiles::tile_path(level, index, TILE_WIDTH);
                    self.write_tile(&path, &tiles::encode_hashes(&tile), &mut dirs)?;
                    up.push(merkle::perfect_root(&tile));
                    index += 1;
                    tile.clear();
                }
            }
            if !tile.is_empty() {
                let path = tiles::tile_path(level, index, tile.len() as u64);
                self.write_tile(&path, &tiles::encode_hashes(&tile), &mut dirs)?;
            }
            new = up;
            before /= TILE_WIDTH;
            level += 1;
        }
        for d in &dirs {
            sync_dir(d)?;
        }

        let size = n + entries.len() as u64;
        let root = merkle::range_hash(&self.view(size), 0, size)?;
        let checkpoint = Checkpoint {
            origin: self.origin().to_owned(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = checkpoint.sign(&self.signer)?;
        write_durably(&self.dir, "checkpoint", note.as_bytes(), false)?;
        sync_dir(&self.dir)?;
        // The wider (or full) tile now holds everything the old partial one did; readers of
        // older tree sizes read its prefix. A crash before this leaves only unused files.
        for path in superseded {
            let _ = fs::remove_file(self.dir.join(path));
        }
        Ok(Appended {
            first_index: n,
            checkpoint,
            note,
        })
    }

    /// The entry at `index` (which must be below the current size).
    ///
    /// # Errors
    /// [`TlogError::Proof`] for an index past the end, [`TlogError::Corrupt`] for a damaged
    /// bundle.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        if index >= cp.size {
            return Err(TlogError::Proof(format!(
                "entry {index} is past the end of the log ({} entries)",
                cp.size
            )));
        }
        let bundle = index / TILE_WIDTH;
        let width = (cp.size - bundle * TILE_WIDTH).min(TILE_WIDTH);
        let path = tiles::entries_path(bundle, width);
        let entries = tiles::decode_entries(&self.read(&path)?, width, &path)?;
        let at = usize::try_from(index % TILE_WIDTH).unwrap_or(usize::MAX);
        entries
            .get(at)
            .cloned()
            .ok_or_else(|| TlogError::Corrupt(format!("{path}: entry {index} missing")))
    }

    /// Every entry of the tree of `size` entries, bundle by bundle, with its index.
    ///
    /// # Errors
    /// [`TlogError::Corrupt`] for a missing or damaged bundle.
    pub fn for_each_entry(
        &self,
        size: u64,
        mut f: impl FnMut(u64, &[u8]),
    ) -> Result<(), TlogError> {
        self.check_size(size)?;
        let mut bundle = 0u64;
        while bundle * TILE_WIDTH < size {
            let width = (size - bundle * TILE_WIDTH).min(TILE_WIDTH);
            let path = tiles::entries_path(bundle, width);
            let entries = match self.read(&path) {
                Ok(bytes) => tiles::decode_entries(&bytes, width, &path)?,
                Err(_) => {
                    let full = tiles::entries_path(bundle, TILE_WIDTH);
                    let mut all = tiles::decode_entries(&self.read(&full)?, TILE_WIDTH, &full)?;
                    all.truncate(usize::try_from(width).unwrap_or(usize::MAX));
                    all
                }
            };
            for (i, e) in entries.iter().enumerate() {
                f(bundle * TILE_WIDTH + i as u64, e);
            }
            bundle += 1;
        }
        Ok(())
    }

    /// The bundle member for entry `index` (whose logged bytes are `body`), proven in the
    /// signed `checkpoint` (`note`).
    ///
    /// # Errors
    /// What proof generation reports.
    pub fn tlog_entry(
        &self,
        index: u64,
        body: Vec<u8>,
        checkpoint: &Checkpoint,
        note: &str,
    ) -> Result<crate::TlogEntry, TlogError> {
        let hashes = merkle::inclusion_proof(&self.view(checkpoint.size), index, checkpoint.size)?;
        Ok(crate::TlogEntry {
            log_index: index,
            log_id: self.log_id(),
            kind: "hashedrekord".to_owned(),
            version: "0.0.2".to_owned(),
            body,
            tree_size: checkpoint.size,
            root: checkpoint.root,
            hashes,
            checkpoint: note.to_owned(),
        })
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    ///
    /// # Errors
    /// [`TlogError::Proof`] when `index ≥ size` or `size` is past the current checkpoint.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TlogError> {
        self.check_size(size)?;
        merkle::inclusion_proof(&self.view(size), index, size)
    }

    /// The consistency proof from the tree of `old` entries to the tree of `new` entries.
    ///
    /// # Errors
    /// [`TlogError::Proof`] unless `0 < old ≤ new ≤` the current size.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, TlogError> {
        self.check_size(new)?;
        merkle::consistency_proof(&self.view(new), old, new)
    }

    /// The root hash of the first `size` entries.
    ///
    /// # Errors
    /// [`TlogError::Proof`] for a size past the current checkpoint.
    pub fn root(&self, size: u64) -> Result<Hash, TlogError> {
        self.check_size(size)?;
        merkle::range_hash(&self.view(size), 0, size)
    }

    fn check_size(&self, size: u64) -> Result<(), TlogError> {
        let (cp, _) = self.checkpoint()?;
        if size > cp.size {
            return Err(TlogError::Proof(format!(
                "tree size {size} is past the log's checkpoint ({})",
                cp.size
            )));
        }
        Ok(())
    }

    /// The Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`)
    /// naming this log: base URL `https://<origin>`, its Ed25519 key valid from `valid_from`
    /// (RFC 3339), log id and checkpoint key id.
    pub fn trusted_root(&self, valid_from: &str) -> Value {
        let spki = stella_attest::keys::ed25519_spki_der(&self.verifier().public_key);
        let id = STANDARD.encode(self.log_id());
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": format!("https://{}", self.origin()),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(spki),
                    "keyDetails": "PKIX_ED25519",
                    "validFor": {"start": valid_from},
                },
                "logId": {"keyId": id},
                "checkpointKeyId": {"keyId": id},
            }],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": [],
        })
    }

    /// When the log was created (RFC 3339), the start of its key's validity.
    pub fn created(&self) -> String {
        fs::read_to_string(self.dir.join("created"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn view(&self, size: u64) -> TileView<'_> {
        TileView::new(self, size)
    }

    /// The first `width` hashes of tile `(level, index)`: from the partial tile of exactly that
    /// width (written when a checkpoint had that size), else from the full tile or a wider
    /// partial one (a tree size between checkpoints reads a prefix, as tlog-tiles clients do).
    fn read_hashes(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        let exact = tiles::tile_path(level, index, width);
        if self.dir.join(&exact).exists() {
            return tiles::decode_hashes(&self.read(&exact)?, width, &exact);
        }
        let full = tiles::tile_path(level, index, TILE_WIDTH);
        let wider = if self.dir.join(&full).exists() {
            Some((TILE_WIDTH, full))
        } else {
            let partials = self.dir.join(format!("{full}.p"));
            fs::read_dir(&partials)
                .ok()
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
                .filter(|&w| w > width && w < TILE_WIDTH)
                .min()
                .map(|w| (w, tiles::tile_path(level, index, w)))
        };
        let Some((w, path)) = wider else {
            return Err(TlogError::Corrupt(format!(
                "{}: missing (no tile holds its first {width} hashes)",
                self.dir.join(&exact).display()
            )));
        };
        let mut hashes = tiles::decode_hashes(&self.read(&path)?, w, &path)?;
        hashes.truncate(usize::try_from(width).unwrap_or(usize::MAX));
        Ok(hashes)
    }

    fn read(&self, rel: &str) -> Result<Vec<u8>, TlogError> {
        let path = self.dir.join(rel);
        fs::read(&path).map_err(|e| TlogError::Corrupt(format!("{}: {e}", path.display())))
    }

    fn write_tile(
        &self,
        rel: &str,
        bytes: &[u8],
        dirs: &mut BTreeSet<PathBuf>,
    ) -> Result<(), TlogError> {
        let path = self.dir.join(rel);
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        fs::create_dir_all(&parent)
            .map_err(|e| TlogError::Io(format!("{}: {e}", parent.display())))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tile")
            .to_owned();
        write_durably(&parent, &name, bytes, false)?;
        dirs.insert(parent);
        Ok(())
    }
}

/// The log id of a checkpoint key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
pub fn log_id(verifier: &NoteVerifier) -> Vec<u8> {
    crate::note::key_hash(&verifier.name, &verifier.public_key).to_vec()
}

/// Where hash tiles come from: the log's directory, or a log server's tile API.
pub trait TileReader {
    /// The first `width` hashes of hash tile `(level, index)`.
    ///
    /// # Errors
    /// When the tile is missing or damaged.
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError>;
}

impl TileReader for Log {
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        self.read_hashes(level, index, width)
    }
}

/// Complete-subtree hashes of the tree of `size` entries, read from hash tiles (each tile
/// read once).
pub struct TileView<'a> {
    reader: &'a dyn TileReader,
    size: u64,
    cache: RefCell<HashMap<(u32, u64), Vec<Hash>>>,
}

impl<'a> TileView<'a> {
    /// The tree of `size` entries whose tiles `reader` serves.
    pub fn new(reader: &'a dyn TileReader, size: u64) -> Self {
        TileView {
            reader,
            size,
            cache: RefCell::new(HashMap::new()),
        }
    }
}

impl HashSource for TileView<'_> {
    fn hash(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        let tile_level = level / TILE_HEIGHT;
        let within = level % TILE_HEIGHT;
        let stored_at_level = self.size >> (TILE_HEIGHT * tile_level);
        let first = index << within;
        let count = 1u64 << within;
        if first + count > stored_at_level {
            return Err(TlogError::Proof(format!(
                "subtree {level}/{index} is not complete in a tree of {} entries",
                self.size
            )));
        }
        let tile_index = first / TILE_WIDTH;
        let width = (stored_at_level - tile_index * TILE_WIDTH).min(TILE_WIDTH);
        let mut cache = self.cache.borrow_mut();
        let hashes = match cache.get(&(tile_level, tile_index)) {
            Some(h) => h.clone(),
            None => {
                let h = self.reader.read_tile(tile_level, tile_index, width)?;
                if h.len() as u64 != width {
                    return Err(TlogError::Corrupt(format!(
                        "tile {tile_level}/{tile_index}: {} hashes, expected {width}",
                        h.len()
                    )));
                }
                cache.insert((tile_level, tile_index), h.clone());
                h
            }
        };
        let offset = usize::try_from(first % TILE_WIDTH).unwrap_or(usize::MAX);
        let slice = hashes
            .get(offset..offset + usize::try_from(count).unwrap_or(0))
            .ok_or_else(|| {
                TlogError::Corrupt(format!("tile {tile_level}/{tile_index} too short"))
            })?;
        Ok(merkle::perfect_root(slice))
    }
}

/// An exclusive lock on the log (released on drop), serialising appenders across processes.
fn lock(dir: &Path) -> Result<File, TlogError> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| TlogError::Io(format!("{}: {e}", path.display())))?;
    file.lock()
        .map_err(|e| TlogError::Io(format!("locking {}: {e}", path.display())))?;
    Ok(file)
}

/// Writes `dir/name` through a temporary file: written, fsynced, renamed into place.
fn write_durably(dir: &Path, name: &str, bytes: &[u8], secret: bool) -> Result<(), TlogError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e: std::io::Error| TlogError::Io(format!("{}: {e}", path.display()));
    let mut options = OpenOptions::new();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), TlogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TlogError::Io(format!("{}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;

    #[test]
    fn appends_match_the_reference_tree_across_tile_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(dir.path(), Some("test.example")).expect("open");
        let mut all: Vec<Vec<u8>> = Vec::new();
        // Batches that cross tile and level boundaries: 1, 255, 1, 300, 65,000 + change.
        for batch in [1usize, 255, 1, 300, 700, 66_000 - 1257] {
            let entries: Vec<Vec<u8>> = (all.len()..all.len() + batch)
                .map(|i| format!("entry {i}").into_bytes())
                .collect();
            let appended = log.append(&entries).expect("append");
            assert_eq!(appended.first_index, all.len() as u64);
            all.extend(entries);
            let reference = MemoryTree::new(all.iter().map(|e| merkle::leaf_hash(e)).collect());
            let size = all.len() as u64;
            assert_eq!(appended.checkpoint.size, size);
            assert_eq!(
                appended.checkpoint.root,
                reference.root(size).expect("root")
            );
        }
        let size = all.len() as u64;
        let root = log.root(size).expect("root");
        for index in [0u64, 1, 255, 256, 257, 65_535, 65_536, size - 1] {
            let proof = log.inclusion_proof(index, size).expect("proof");
            let leaf = merkle::leaf_hash(&log.entry(index).expect("entry"));
            merkle::verify_inclusion(&leaf, index, size, &proof, &root).expect("verifies");
        }
        for old in [1u64, 256, 257, 65_536, size - 1] {
            let proof = log.consistency_proof(old, size).expect("proof");
            let old_root = log.root(old).expect("root");
            merkle::verify_consistency(old, size, &old_root, &root, &proof).expect("consistent");
        }
        // Reopening reads the same log.
        let again = Log::open(dir.path(), None).expect("reopen");
        assert_eq!(again.checkpoint().expect("cp").0.size, size);
        assert_eq!(again.origin(), "test.example");
    }

    #[test]
    fn damage_is_reported_not_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(dir.path(), None).expect("open");
        log.append(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
            .expect("append");
        // A truncated tile.
        let tile = dir.path().join("tile/0/000.p/3");
        let bytes = fs::read(&tile).expect("tile");
        fs::write(&tile, &bytes[..40]).expect("truncate");
        assert!(matches!(
            log.inclusion_proof(0, 3),
            Err(TlogError::Corrupt(_))
        ));
        fs::write(&tile, &bytes).expect("restore");
        // A corrupted checkpoint.
        let cp = dir.path().join("checkpoint");
        let note = fs::read_to_string(&cp).expect("cp");
        fs::write(&cp, note.replacen('3', "4", 1)).expect("corrupt");
        assert!(matches!(log.checkpoint(), Err(TlogError::Corrupt(_))));
        fs::write(&cp, &note).expect("restore");
        assert!(
            log.inclusion_proof(0, 4).is_err(),
            "a size past the checkpoint"
        );
        assert!(log.append(&[vec![0u8; 70_000]]).is_err());
    }
}
