//! The embedded log: C2SP tlog-tiles in a directory (`$STELLA_HOME/log`), appended to under a
//! file lock and made durable before an append is acknowledged, and never trusted blindly:
//! every tile is checked against the signed checkpoint before it is extended, used for a proof
//! or served ([`crate::verified`]), and every entry against its hash before it is returned.
//!
//! Layout: `checkpoint` (the signed note), `tile/<L>/<N>[.p/<W>]` (hash tiles),
//! `tile/entries/<N>` (full entry bundles), `tile/entries/<N>.p/open` (the one bundle still
//! filling up, appended to in place), `log.key` (the Ed25519 checkpoint key, PKCS#8 PEM,
//! owner-only), `origin` (the log's name), `created` (when: the start of the key's validity in
//! the trusted root, as a note the log key signs), `lock`.
//!
//! A log is opened ([`Log::open`]) only where one is; it is created ([`Log::create`]) only
//! where none of its files are, under the lock and without replacing any file. A directory
//! with some of the files and not others is a damaged log, never a new one.
//!
//! An append writes entry bundles and hash tiles first (fsynced, the directories fsynced) and
//! the checkpoint last (through a temporary file): a crash at any point leaves the previous
//! checkpoint, whose files are all still there, or the new one, whose files were all durable
//! before it. Entries of the filling bundle are appended to `…/<N>.p/open`, so an append writes
//! its own bytes, not the bundle again; the first entries of that file are the checkpoint's,
//! bytes after them are an unacknowledged append's and are cut off by the next. A bundle that
//! fills up is renamed to `tile/entries/<N>`. The read API still serves spec-conformant partial
//! bundles `tile/entries/<N>.p/<W>` (the first `W` entries, see [`Log::entry_bundle`]). Full
//! tiles never change; partial hash tiles are new files per width, and the narrower one is
//! removed once a later checkpoint's wider tile holds all of it (a reader of an older tree size
//! reads a prefix of the wider tile).
//!
//! Not here: serving the tiles over HTTP, remote logs.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::checkpoint::Checkpoint;
use crate::damage::{Damage, DamagedFile};
use crate::identity::{CREATED_HEADER, Identity, open_checkpoint, pem};
use crate::merkle::{self, Hash, HashSource};
use crate::note::{NoteSigner, NoteVerifier};
use crate::store::{self, io_error};
pub use crate::stored::open_bundle_path;
use crate::stored::{Bundle, DiskTiles, Source, read_bundle};
use crate::tiles::{self, TILE_HEIGHT, TILE_WIDTH};
use crate::verified::{self, VerifiedTiles, tile_width};
use crate::{ProofError, TlogError};

/// Most entries appended in one batch (a batch is one checkpoint).
pub const MAX_BATCH: usize = 65_536;

/// The origin of a log created without one.
pub const DEFAULT_ORIGIN: &str = "log.stella.local";

/// The files whose presence makes a directory a log (any one of them).
pub const LOG_FILES: [&str; 5] = ["checkpoint", "log.key", "origin", "created", "tile"];

/// Checked tiles kept between operations (about 8 KiB each); past this the cache starts over.
const MAX_CHECKED_TILES: usize = 4096;

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

/// Tiles checked against one tree `(size, root)`, kept for the next operation on that tree.
#[derive(Debug, Default)]
struct Checked {
    tree: Option<(u64, Hash)>,
    tiles: HashMap<(u32, u64), Vec<Hash>>,
}

/// A log in a directory.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    signer: NoteSigner,
    created: String,
    checked: Mutex<Checked>,
}

/// Whether `dir` holds any file of a log.
///
/// # Errors
/// [`TlogError::Io`] when the directory cannot be looked at.
pub fn is_log(dir: &Path) -> Result<bool, TlogError> {
    for name in LOG_FILES {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(false),
            Err(e) => return Err(io_error(&path, e)),
        }
    }
    Ok(false)
}

impl Log {
    /// Opens the log in `dir`, which must exist: its origin, key, creation note and checkpoint
    /// are read and checked against each other.
    ///
    /// # Errors
    /// [`TlogError::NoLog`] when `dir` holds none of the log's files; [`TlogError::Damaged`]
    /// naming each missing or damaged file when it holds some; [`TlogError::Io`] for the file
    /// system.
    pub fn open(dir: &Path) -> Result<Self, TlogError> {
        if !is_log(dir)? {
            return Err(TlogError::NoLog {
                dir: dir.to_path_buf(),
            });
        }
        let mut identity = Identity::read(dir);
        if !identity.damaged.is_empty() {
            // A log being created holds its lock until its last file is written: what looks
            // damaged may be a creation in progress. Read again once it is done (where the
            // lock can be taken at all; a read-only directory keeps the first answer).
            if let Ok(lock) = store::lock(dir) {
                identity = Identity::read(dir);
                drop(lock);
            }
        }
        match (identity.signer, identity.created, identity.checkpoint) {
            (Some(signer), Some(created), Some(_)) if identity.damaged.is_empty() => Ok(Log {
                dir: dir.to_path_buf(),
                signer,
                created,
                checked: Mutex::new(Checked::default()),
            }),
            _ => Err(TlogError::Damaged {
                files: identity.damaged.into_iter().map(|(f, _)| f).collect(),
            }),
        }
    }

    /// Creates a log in `dir` (made if missing) with a new key, named `origin` or
    /// [`DEFAULT_ORIGIN`]: only where none of the log's files are, under the log's lock, and
    /// without replacing any file (a crash leaves a directory [`Log::open`] calls damaged,
    /// never a log that silently starts over).
    ///
    /// # Errors
    /// [`TlogError::LogExists`] when any file of a log is there; [`TlogError::Note`] for an
    /// origin that cannot name a key; [`TlogError::Io`] for the file system.
    pub fn create(dir: &Path, origin: Option<&str>) -> Result<Self, TlogError> {
        let origin = origin.unwrap_or(DEFAULT_ORIGIN);
        let key = Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map_err(|_| TlogError::NoRandomness)?;
        let signer = NoteSigner::from_pkcs8(origin, key.as_ref())?;
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let lock = store::lock(dir)?;
        if is_log(dir)? {
            return Err(TlogError::LogExists {
                dir: dir.to_path_buf(),
            });
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let created = stella_core::time::rfc3339_utc(now);
        let created_note = signer.sign(&format!("{CREATED_HEADER}\n{created}\n"))?;
        let empty = Checkpoint {
            origin: origin.to_owned(),
            size: 0,
            root: merkle::empty_root(),
            extensions: Vec::new(),
        };
        store::create_durably(dir, "origin", format!("{origin}\n").as_bytes(), false)?;
        store::create_durably(dir, "created", created_note.as_bytes(), false)?;
        store::create_durably(dir, "log.key", pem(key.as_ref()).as_bytes(), true)?;
        store::create_durably(dir, "checkpoint", empty.sign(&signer)?.as_bytes(), false)?;
        store::sync_dir(dir)?;
        drop(lock);
        Log::open(dir)
    }

    /// Opens the log in `dir`, creating it (as [`Log::create`] does) when `dir` holds none of
    /// its files: what the commands that append do on first use.
    ///
    /// # Errors
    /// What [`Log::open`] and [`Log::create`] report.
    pub fn open_or_create(dir: &Path, origin: Option<&str>) -> Result<Self, TlogError> {
        match Log::open(dir) {
            Err(TlogError::NoLog { .. }) => match Log::create(dir, origin) {
                // Another process created it first.
                Err(TlogError::LogExists { .. }) => Log::open(dir),
                created => created,
            },
            opened => opened,
        }
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

    /// The current checkpoint and its signed note, verified with the log's own key and byte
    /// for byte the note the key signs for it.
    ///
    /// # Errors
    /// [`TlogError::Damaged`] when the checkpoint is missing, malformed or badly signed.
    pub fn checkpoint(&self) -> Result<(Checkpoint, String), TlogError> {
        let path = self.dir.join("checkpoint");
        let damaged = |damage| TlogError::Damaged {
            files: vec![DamagedFile::new(&path, damage)],
        };
        let bytes = store::read(&path).map_err(|f| TlogError::Damaged { files: vec![f] })?;
        let note = String::from_utf8(bytes).map_err(|_| {
            damaged(Damage::Malformed {
                expected: "a signed note",
            })
        })?;
        let checkpoint = open_checkpoint(&note, &self.signer).map_err(|e| {
            damaged(Damage::Unsigned {
                reason: e.to_string(),
            })
        })?;
        Ok((checkpoint, note))
    }

    /// Appends `entries` as one batch and returns once they and the new checkpoint are durable.
    /// The tiles and the bundle being extended are checked against the current checkpoint
    /// first: a damaged log is never extended.
    ///
    /// # Errors
    /// [`TlogError::Entry`] for an entry over 64 KiB or a batch over [`MAX_BATCH`];
    /// [`TlogError::Damaged`] naming what is damaged; [`TlogError::Io`] when the disk fails
    /// (the log stays at its previous checkpoint).
    pub fn append(&self, entries: &[Vec<u8>]) -> Result<Appended, TlogError> {
        if entries.len() > MAX_BATCH {
            return Err(TlogError::BatchTooLarge {
                count: entries.len(),
                max: MAX_BATCH,
            });
        }
        if let Some(e) = entries.iter().find(|e| e.len() > tiles::MAX_ENTRY_BYTES) {
            return Err(TlogError::EntryTooLarge {
                size: e.len(),
                max: tiles::MAX_ENTRY_BYTES,
            });
        }
        let _lock = store::lock(&self.dir)?;
        let (old, _) = self.checkpoint()?;
        let mut cache = self.cache();
        let disk = DiskTiles { dir: &self.dir };
        let tiles = self.checked_tiles(&mut cache, &disk, &old)?;
        let n = old.size;
        let partial = if n.is_multiple_of(TILE_WIDTH) {
            None
        } else {
            let bundle = read_bundle(&self.dir, n / TILE_WIDTH, n % TILE_WIDTH)?;
            self.check_bundle(&tiles, n / TILE_WIDTH, &bundle)
                .map_err(|e| self.named(e, &old))?;
            Some(bundle)
        };

        let mut writes = Writes::default();
        self.write_bundles(n, partial, entries, &mut writes)?;
        let written = self
            .write_hash_tiles(&tiles, n, entries, &mut writes)
            .map_err(|e| self.named(e, &old))?;
        for d in &writes.dirs {
            store::sync_dir(d)?;
        }

        // The new root from what was just written and the unchanged part of the checked tree.
        let size = n + entries.len() as u64;
        let root = verified::root_of(size, &|level, index| match written.get(&(level, index)) {
            Some(hashes) => Ok(hashes.clone()),
            None => tiles.tile(level, index),
        })
        .map_err(|e| self.named(e, &old))?;
        let checkpoint = Checkpoint {
            origin: self.origin().to_owned(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = checkpoint.sign(&self.signer)?;
        store::write_durably(&self.dir, "checkpoint", note.as_bytes(), false)?;
        store::sync_dir(&self.dir)?;
        // The wider (or full) tile now holds everything the old partial one did; readers of
        // older tree sizes read its prefix. A crash before this leaves only unused files.
        for path in writes.superseded {
            let _ = fs::remove_file(self.dir.join(path));
        }
        for path in writes.emptied {
            let _ = fs::remove_dir(self.dir.join(path));
        }
        // What was written is the new tree's, and so are the old tree's tiles it left alone.
        let mut checked = tiles.into_checked();
        checked.extend(written);
        keep(&mut cache, (size, root), checked);
        Ok(Appended {
            first_index: n,
            checkpoint,
            note,
        })
    }

    /// Completes the filling bundle (appending to its `open` file), writes the full bundles of
    /// the batch, and starts the next `open` file with what is left.
    fn write_bundles(
        &self,
        n: u64,
        partial: Option<Bundle>,
        entries: &[Vec<u8>],
        writes: &mut Writes,
    ) -> Result<(), TlogError> {
        let width = usize::try_from(TILE_WIDTH).unwrap_or(usize::MAX);
        let mut index = n / TILE_WIDTH;
        let mut rest = entries;
        if let Some(bundle) = partial {
            let take = rest.len().min(width - bundle.entries.len());
            let (now, later) = rest.split_at(take);
            let open = self.dir.join(open_bundle_path(index));
            let mut file = if bundle.source == Source::Open {
                // Bytes after the checkpoint's entries are an unacknowledged append's.
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(&open)
                    .map_err(|e| io_error(&open, e))?;
                file.set_len(bundle.len).map_err(|e| io_error(&open, e))?;
                file.seek(SeekFrom::End(0))
                    .map_err(|e| io_error(&open, e))?;
                file
            } else {
                if bundle.source == Source::Exact {
                    writes
                        .superseded
                        .push(tiles::entries_path(index, n % TILE_WIDTH));
                }
                self.start_open_bundle(index, &bundle.entries, writes)?
            };
            file.write_all(&tiles::encode_entries(now)?)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(&open, e))?;
            if bundle.entries.len() + take == width {
                let full = self.dir.join(tiles::entries_path(index, TILE_WIDTH));
                fs::rename(&open, &full).map_err(|e| io_error(&full, e))?;
                writes.dir_of(&full);
                writes
                    .emptied
                    .push(format!("{}.p", tiles::entries_path(index, TILE_WIDTH)));
                index += 1;
            }
            rest = later;
        }
        while rest.len() >= width {
            let (full, later) = rest.split_at(width);
            let path = tiles::entries_path(index, TILE_WIDTH);
            store::write_file(
                &self.dir,
                &path,
                &tiles::encode_entries(full)?,
                &mut writes.dirs,
            )?;
            index += 1;
            rest = later;
        }
        if !rest.is_empty() {
            let open = self.dir.join(open_bundle_path(index));
            let mut file = self.start_open_bundle(index, &[], writes)?;
            file.write_all(&tiles::encode_entries(rest)?)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(&open, e))?;
        }
        Ok(())
    }

    /// A new `open` file for bundle `index` holding `entries` (not yet synced).
    fn start_open_bundle(
        &self,
        index: u64,
        entries: &[Vec<u8>],
        writes: &mut Writes,
    ) -> Result<fs::File, TlogError> {
        let open = self.dir.join(open_bundle_path(index));
        let parent = open.parent().unwrap_or(&self.dir).to_path_buf();
        fs::create_dir_all(&parent).map_err(|e| io_error(&parent, e))?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&open)
            .map_err(|e| io_error(&open, e))?;
        file.write_all(&tiles::encode_entries(entries)?)
            .map_err(|e| io_error(&open, e))?;
        writes.dirs.insert(parent);
        Ok(file)
    }

    /// Hash tiles, level by level: each full tile below gives one hash to the level above. The
    /// partial tiles extended come from the checked tree. Returns every tile written.
    fn write_hash_tiles(
        &self,
        tiles: &VerifiedTiles<'_>,
        n: u64,
        entries: &[Vec<u8>],
        writes: &mut Writes,
    ) -> Result<HashMap<(u32, u64), Vec<Hash>>, TlogError> {
        let mut written = HashMap::new();
        let mut new: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        let mut level = 0u32;
        let mut before = n;
        while !new.is_empty() {
            let mut index = before / TILE_WIDTH;
            let have = before % TILE_WIDTH;
            let mut tile = if have > 0 {
                writes.superseded.push(tiles::tile_path(level, index, have));
                tiles.tile(level, index)?
            } else {
                Vec::new()
            };
            let mut up = Vec::new();
            for h in new {
                tile.push(h);
                if tile.len() as u64 == TILE_WIDTH {
                    let path = tiles::tile_path(level, index, TILE_WIDTH);
                    store::write_file(
                        &self.dir,
                        &path,
                        &tiles::encode_hashes(&tile),
                        &mut writes.dirs,
                    )?;
                    up.push(merkle::perfect_root(&tile));
                    written.insert((level, index), std::mem::take(&mut tile));
                    index += 1;
                }
            }
            if !tile.is_empty() {
                let path = tiles::tile_path(level, index, tile.len() as u64);
                store::write_file(
                    &self.dir,
                    &path,
                    &tiles::encode_hashes(&tile),
                    &mut writes.dirs,
                )?;
                written.insert((level, index), tile);
            }
            new = up;
            before /= TILE_WIDTH;
            level += 1;
        }
        Ok(written)
    }

    /// The entry at `index` (which must be below the current size), checked against the
    /// checkpoint with the rest of its bundle.
    ///
    /// # Errors
    /// [`TlogError::Proof`] for an index past the end, [`TlogError::Damaged`] naming a damaged
    /// bundle or tile.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        if index >= cp.size {
            return Err(ProofError::PastEnd {
                index,
                size: cp.size,
            }
            .into());
        }
        let bundle_index = index / TILE_WIDTH;
        let bundle = self.checked_bundle(&cp, bundle_index)?;
        let at = usize::try_from(index % TILE_WIDTH).unwrap_or(usize::MAX);
        bundle
            .entries
            .get(at)
            .cloned()
            .ok_or_else(|| TlogError::Damaged {
                files: vec![DamagedFile::new(
                    &bundle.path,
                    Damage::EntryCount {
                        found: bundle.entries.len() as u64,
                        expected: at as u64 + 1,
                    },
                )],
            })
    }

    /// Every entry of the tree of `size` entries, bundle by bundle, with its index; each
    /// bundle checked against the checkpoint before its entries are handed out.
    ///
    /// # Errors
    /// [`TlogError::Damaged`] for a missing or damaged bundle or tile.
    pub fn for_each_entry(
        &self,
        size: u64,
        mut f: impl FnMut(u64, &[u8]),
    ) -> Result<(), TlogError> {
        let (cp, _) = self.checkpoint()?;
        check_size(size, &cp)?;
        let mut index = 0u64;
        while index * TILE_WIDTH < size {
            let bundle = self.checked_bundle(&cp, index)?;
            for (i, e) in bundle.entries.iter().enumerate() {
                let at = index * TILE_WIDTH + i as u64;
                if at < size {
                    f(at, e);
                }
            }
            index += 1;
        }
        Ok(())
    }

    /// The bundle member for entry `index` (whose logged bytes are `body`), proven in the
    /// signed `checkpoint` (`note`) from tiles checked against that checkpoint.
    ///
    /// # Errors
    /// What proof generation reports; [`TlogError::Damaged`] for a damaged tile.
    pub fn tlog_entry(
        &self,
        index: u64,
        body: Vec<u8>,
        checkpoint: &Checkpoint,
        note: &str,
    ) -> Result<crate::TlogEntry, TlogError> {
        let hashes = self.with_tree(checkpoint, |tiles| {
            merkle::inclusion_proof(tiles, index, checkpoint.size)
        })?;
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

    /// The inclusion proof of entry `index` in the tree of `size` entries, from tiles checked
    /// against the current checkpoint.
    ///
    /// # Errors
    /// [`TlogError::Proof`] when `index ≥ size` or `size` is past the current checkpoint;
    /// [`TlogError::Damaged`] for a damaged tile.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        check_size(size, &cp)?;
        self.with_tree(&cp, |tiles| {
            merkle::inclusion_proof(&tiles.prefix(size)?, index, size)
        })
    }

    /// The consistency proof from the tree of `old` entries to the tree of `new` entries, from
    /// tiles checked against the current checkpoint.
    ///
    /// # Errors
    /// [`TlogError::Proof`] unless `0 < old ≤ new ≤` the current size; [`TlogError::Damaged`]
    /// for a damaged tile.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        check_size(new, &cp)?;
        self.with_tree(&cp, |tiles| {
            merkle::consistency_proof(&tiles.prefix(new)?, old, new)
        })
    }

    /// The root hash of the first `size` entries, from tiles checked against the current
    /// checkpoint.
    ///
    /// # Errors
    /// [`TlogError::Proof`] for a size past the current checkpoint; [`TlogError::Damaged`]
    /// for a damaged tile.
    pub fn root(&self, size: u64) -> Result<Hash, TlogError> {
        let (cp, _) = self.checkpoint()?;
        check_size(size, &cp)?;
        self.with_tree(&cp, |tiles| {
            merkle::range_hash(&tiles.prefix(size)?, 0, size)
        })
    }

    /// Hash tile `(level, index)` with its first `width` hashes, as the tlog-tiles read API
    /// serves it: checked against the current checkpoint. `None` when the current tree has no
    /// such tile (or fewer hashes in it).
    ///
    /// # Errors
    /// [`TlogError::Damaged`] for a damaged tile.
    pub fn hash_tile(
        &self,
        level: u32,
        index: u64,
        width: u64,
    ) -> Result<Option<Vec<u8>>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        if tile_width(cp.size, level, index).is_none_or(|w| width > w) || width == 0 {
            return Ok(None);
        }
        let hashes = self.with_tree(&cp, |tiles| tiles.tile(level, index))?;
        let width = usize::try_from(width).unwrap_or(usize::MAX);
        Ok(Some(tiles::encode_hashes(
            &hashes[..width.min(hashes.len())],
        )))
    }

    /// Entry bundle `index` with its first `width` entries, as the tlog-tiles read API serves
    /// it (`tile/entries/<N>.p/<W>` is the first `W` entries): checked against the current
    /// checkpoint. `None` when the current tree has no such bundle (or fewer entries in it).
    ///
    /// # Errors
    /// [`TlogError::Damaged`] for a damaged bundle or tile.
    pub fn entry_bundle(&self, index: u64, width: u64) -> Result<Option<Vec<u8>>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        if tile_width(cp.size, 0, index).is_none_or(|w| width > w) || width == 0 {
            return Ok(None);
        }
        let bundle = self.checked_bundle(&cp, index)?;
        let width = usize::try_from(width).unwrap_or(usize::MAX);
        Ok(Some(tiles::encode_entries(
            &bundle.entries[..width.min(bundle.entries.len())],
        )?))
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

    /// When the log was created (RFC 3339), the start of its key's validity (checked when the
    /// log was opened).
    pub fn created(&self) -> String {
        self.created.clone()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cache(&self) -> MutexGuard<'_, Checked> {
        self.checked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The checked tiles of `checkpoint`'s tree: kept from the last operation on the same tree,
    /// or read now with the right edge checked against its root.
    fn checked_tiles<'a>(
        &self,
        cache: &mut Checked,
        disk: &'a DiskTiles<'a>,
        checkpoint: &Checkpoint,
    ) -> Result<VerifiedTiles<'a>, TlogError> {
        let tree = (checkpoint.size, checkpoint.root);
        if cache.tree == Some(tree) {
            return Ok(VerifiedTiles::resume(
                disk,
                tree.0,
                tree.1,
                std::mem::take(&mut cache.tiles),
            ));
        }
        cache.tree = None;
        cache.tiles.clear();
        VerifiedTiles::new(disk, tree.0, tree.1).map_err(|e| self.named(e, checkpoint))
    }

    /// Runs `f` on the checked tiles of `checkpoint`'s tree, keeping them for the next call.
    fn with_tree<T>(
        &self,
        checkpoint: &Checkpoint,
        f: impl FnOnce(&VerifiedTiles<'_>) -> Result<T, TlogError>,
    ) -> Result<T, TlogError> {
        let mut cache = self.cache();
        let disk = DiskTiles { dir: &self.dir };
        let tiles = self.checked_tiles(&mut cache, &disk, checkpoint)?;
        let result = f(&tiles).map_err(|e| self.named(e, checkpoint));
        keep(
            &mut cache,
            (checkpoint.size, checkpoint.root),
            tiles.into_checked(),
        );
        result
    }

    /// Bundle `index` of `checkpoint`'s tree, checked against its hash tile.
    fn checked_bundle(&self, checkpoint: &Checkpoint, index: u64) -> Result<Bundle, TlogError> {
        let width = tile_width(checkpoint.size, 0, index).ok_or_else(|| {
            TlogError::from(ProofError::NoBundle {
                index,
                size: checkpoint.size,
            })
        })?;
        let bundle = read_bundle(&self.dir, index, width)?;
        self.with_tree(checkpoint, |tiles| self.check_bundle(tiles, index, &bundle))?;
        Ok(bundle)
    }

    /// The leaf hashes of `bundle` against the checked level-0 tile: a difference is the
    /// bundle's damage (the tile is proven by the checkpoint).
    fn check_bundle(
        &self,
        tiles: &VerifiedTiles<'_>,
        index: u64,
        bundle: &Bundle,
    ) -> Result<(), TlogError> {
        let hashes = tiles.tile(0, index)?;
        let differs = hashes.len() != bundle.entries.len()
            || bundle
                .entries
                .iter()
                .zip(&hashes)
                .any(|(e, h)| merkle::leaf_hash(e) != *h);
        if differs {
            let tile = tiles::tile_path(0, index, hashes.len() as u64);
            return Err(TlogError::Damaged {
                files: vec![DamagedFile::new(
                    &bundle.path,
                    Damage::Differs {
                        other: self.dir.join(tile),
                    },
                )],
            });
        }
        Ok(())
    }

    /// A tile that does not match the checkpoint is some file's damage: the whole tree is
    /// checked to name it (only on this path, which a healthy log never takes).
    fn named(&self, e: TlogError, checkpoint: &Checkpoint) -> TlogError {
        if !matches!(e, TlogError::TileMismatch { .. }) {
            return e;
        }
        let files: Vec<DamagedFile> =
            crate::fsck::check_tree(&self.dir, checkpoint.size, checkpoint.root)
                .into_iter()
                .map(|f| f.file)
                .collect();
        if files.is_empty() {
            return e;
        }
        TlogError::Damaged { files }
    }
}

/// Keeps `tiles` as the checked tiles of `tree`, within [`MAX_CHECKED_TILES`].
fn keep(cache: &mut Checked, tree: (u64, Hash), tiles: HashMap<(u32, u64), Vec<Hash>>) {
    if tiles.len() > MAX_CHECKED_TILES {
        cache.tree = None;
        cache.tiles.clear();
    } else {
        cache.tree = Some(tree);
        cache.tiles = tiles;
    }
}

fn check_size(size: u64, checkpoint: &Checkpoint) -> Result<(), TlogError> {
    if size > checkpoint.size {
        return Err(ProofError::PastCheckpoint {
            size,
            checkpoint: checkpoint.size,
        }
        .into());
    }
    Ok(())
}

/// Files an append wrote or will remove.
#[derive(Debug, Default)]
struct Writes {
    /// Directories to fsync before the checkpoint.
    dirs: BTreeSet<PathBuf>,
    /// Partial files a wider one replaces, removed after the checkpoint.
    superseded: Vec<String>,
    /// `.p` directories left empty, removed after the checkpoint if they are.
    emptied: Vec<String>,
}

impl Writes {
    fn dir_of(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            self.dirs.insert(parent.to_path_buf());
        }
    }
}

/// The log id of a checkpoint key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
pub fn log_id(verifier: &NoteVerifier) -> Vec<u8> {
    crate::note::key_hash(&verifier.name, &verifier.public_key).to_vec()
}

/// Hash tiles in a directory laid out as C2SP tlog-tiles (`tile/<L>/<N>[.p/<W>]`), read as they
/// are: what an auditor's pack holds (a consistency proof made from them is checked against both
/// signed roots, so a changed tile fails the proof).
pub struct TilesDir {
    dir: PathBuf,
}

impl TilesDir {
    /// The tiles under `dir` (the directory holding `tile/`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        TilesDir { dir: dir.into() }
    }
}

impl TileReader for TilesDir {
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        DiskTiles { dir: &self.dir }.read_tile(level, index, width)
    }
}

/// Reads hash tiles from a log (each checked against its checkpoint) and keeps what was read.
struct Recording<'a> {
    log: &'a Log,
    read: RefCell<std::collections::BTreeMap<String, Vec<u8>>>,
}

impl TileReader for Recording<'_> {
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        let path = tiles::tile_path(level, index, width);
        let bytes = self
            .log
            .hash_tile(level, index, width)?
            .ok_or(ProofError::NoSource)?;
        let hashes = tiles::decode_hashes(&bytes, width, &path)?;
        self.read.borrow_mut().insert(path, bytes);
        Ok(hashes)
    }
}

impl Log {
    /// The hash tiles (path → bytes, at the widths the current tree has) from which the
    /// consistency of each tree size in `sizes` with the current checkpoint is proven: exactly
    /// what an offline verifier needs besides the two signed checkpoints.
    ///
    /// # Errors
    /// [`TlogError`] for a damaged log, or a size larger than the current tree.
    pub fn consistency_tiles(
        &self,
        sizes: &[u64],
    ) -> Result<std::collections::BTreeMap<String, Vec<u8>>, TlogError> {
        let (cp, _) = self.checkpoint()?;
        let recording = Recording {
            log: self,
            read: RefCell::new(std::collections::BTreeMap::new()),
        };
        let view = TileView::new(&recording, cp.size);
        for &old in sizes {
            if old > 0 && old < cp.size {
                merkle::consistency_proof(&view, old, cp.size)?;
            }
        }
        Ok(recording.read.into_inner())
    }
}

/// Where hash tiles come from: the log's directory, or a log server's tile API.
pub trait TileReader {
    /// The first `width` hashes of hash tile `(level, index)`.
    ///
    /// # Errors
    /// When the tile is missing or damaged.
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError>;
}

/// Complete-subtree hashes of the tree of `size` entries, read from hash tiles as they are
/// (each tile read once), for tiles that are checked otherwise (a consistency proof is checked
/// against both roots). [`VerifiedTiles`] checks each tile first.
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
            return Err(ProofError::NoSubtree {
                level,
                index,
                size: self.size,
            }
            .into());
        }
        let tile_index = first / TILE_WIDTH;
        let width = (stored_at_level - tile_index * TILE_WIDTH).min(TILE_WIDTH);
        let mut cache = self.cache.borrow_mut();
        let hashes = match cache.get(&(tile_level, tile_index)) {
            Some(h) => h.clone(),
            None => {
                let h = self.reader.read_tile(tile_level, tile_index, width)?;
                if h.len() as u64 != width {
                    return Err(short_tile(tile_level, tile_index, h.len(), width));
                }
                cache.insert((tile_level, tile_index), h.clone());
                h
            }
        };
        let offset = usize::try_from(first % TILE_WIDTH).unwrap_or(usize::MAX);
        let slice = hashes
            .get(offset..offset + usize::try_from(count).unwrap_or(0))
            .ok_or_else(|| short_tile(tile_level, tile_index, hashes.len(), width))?;
        Ok(merkle::perfect_root(slice))
    }
}

/// A tile that holds `found` hashes where the tree needs `width`: damage of a tile that is
/// not local (a local one is named by its file).
pub(crate) fn short_tile(level: u32, index: u64, found: usize, width: u64) -> TlogError {
    TlogError::Corrupt {
        tile: tiles::tile_path(level, index, width),
        damage: Damage::Length {
            found: found as u64 * 32,
            expected: width * 32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;

    #[test]
    fn appends_match_the_reference_tree_across_tile_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::create(dir.path(), Some("test.example")).expect("create");
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
        // Reopening reads the same log; every entry comes back in order.
        let again = Log::open(dir.path()).expect("reopen");
        assert_eq!(again.checkpoint().expect("cp").0.size, size);
        assert_eq!(again.origin(), "test.example");
        let mut seen = 0u64;
        again
            .for_each_entry(size, |i, e| {
                assert_eq!(e, all[i as usize].as_slice());
                seen += 1;
            })
            .expect("entries");
        assert_eq!(seen, size);
    }

    #[test]
    fn the_tiles_of_a_consistency_proof_alone_prove_it_elsewhere() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::create(dir.path(), Some("test.example")).expect("create");
        let mut sizes = Vec::new();
        for batch in [3usize, 300, 70] {
            let from = log.checkpoint().map(|(c, _)| c.size).unwrap_or(0) as usize;
            let entries: Vec<Vec<u8>> = (from..from + batch)
                .map(|i| format!("entry {i}").into_bytes())
                .collect();
            sizes.push(log.append(&entries).expect("append").checkpoint.size);
        }
        let size = *sizes.last().expect("size");
        let tiles = log.consistency_tiles(&sizes).expect("tiles");
        let packed = tempfile::tempdir().expect("tempdir");
        for (path, bytes) in &tiles {
            let file = packed.path().join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, bytes).expect("write");
        }
        let reader = TilesDir::new(packed.path());
        let root = log.root(size).expect("root");
        for &old in &sizes[..2] {
            let proof =
                merkle::consistency_proof(&TileView::new(&reader, size), old, size).expect("proof");
            let old_root = log.root(old).expect("root");
            merkle::verify_consistency(old, size, &old_root, &root, &proof).expect("consistent");
        }
        // Fewer tiles than the proof needs: a clean error, not a proof.
        let (first, _) = tiles.iter().next().expect("a tile");
        std::fs::remove_file(packed.path().join(first)).expect("remove");
        let missing = sizes[..2].iter().any(|&old| {
            merkle::consistency_proof(&TileView::new(&reader, size), old, size).is_err()
        });
        assert!(missing);
    }

    #[test]
    fn damage_is_reported_not_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::create(dir.path(), None).expect("create");
        log.append(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
            .expect("append");
        // A truncated tile.
        let tile = dir.path().join("tile/0/000.p/3");
        let bytes = fs::read(&tile).expect("tile");
        fs::write(&tile, &bytes[..40]).expect("truncate");
        // (This instance checked the tile when it wrote it and proves from what it checked;
        // any other reader checks it again.)
        let reader = Log::open(dir.path()).expect("open");
        let err = reader.inclusion_proof(0, 3).expect_err("damaged");
        assert!(err.to_string().contains("tile/0/000.p/3"), "{err}");
        fs::write(&tile, &bytes).expect("restore");
        // A corrupted checkpoint.
        let cp = dir.path().join("checkpoint");
        let note = fs::read_to_string(&cp).expect("cp");
        fs::write(&cp, note.replacen('3', "4", 1)).expect("corrupt");
        assert!(matches!(log.checkpoint(), Err(TlogError::Damaged { .. })));
        fs::write(&cp, &note).expect("restore");
        assert!(
            log.inclusion_proof(0, 4).is_err(),
            "a size past the checkpoint"
        );
        assert!(log.append(&[vec![0u8; 70_000]]).is_err());
    }

    #[test]
    fn a_log_being_created_is_waited_for_not_called_damaged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = dir.path().join("made");
        Log::create(&made, None).expect("create");
        // A creation in progress: under the lock, the origin written, the rest not yet.
        let path = dir.path().join("log");
        fs::create_dir_all(&path).expect("mkdir");
        let lock = store::lock(&path).expect("lock");
        fs::copy(made.join("origin"), path.join("origin")).expect("copy");
        std::thread::scope(|s| {
            let opening = s.spawn(|| Log::open(&path).map(|l| l.log_id()));
            std::thread::sleep(std::time::Duration::from_millis(200));
            for name in ["created", "log.key", "checkpoint"] {
                fs::copy(made.join(name), path.join(name)).expect("copy");
            }
            drop(lock);
            let id = opening.join().expect("thread").expect("opens once created");
            assert_eq!(id, Log::open(&made).expect("open").log_id());
        });
    }

    #[test]
    fn open_never_creates_and_create_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        assert!(matches!(Log::open(&path), Err(TlogError::NoLog { .. })));
        assert!(!path.exists(), "opening created the directory");
        let log = Log::create(&path, None).expect("create");
        log.append(&[b"a".to_vec()]).expect("append");
        assert!(matches!(
            Log::create(&path, None),
            Err(TlogError::LogExists { .. })
        ));
        // Without its key, the log is damaged, not new; creating is refused too.
        fs::remove_file(path.join("log.key")).expect("rm");
        let err = Log::open(&path).expect_err("damaged");
        assert!(err.to_string().contains("log.key: missing"), "{err}");
        assert!(Log::open_or_create(&path, None).is_err());
        assert!(matches!(
            Log::create(&path, None),
            Err(TlogError::LogExists { .. })
        ));
        assert_eq!(
            fs::read_to_string(path.join("checkpoint"))
                .expect("cp")
                .lines()
                .nth(1),
            Some("1"),
            "the checkpoint was not replaced"
        );
    }
}
