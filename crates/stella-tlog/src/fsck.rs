//! A full check of a log directory against its signed checkpoint, and the repair of what can
//! be recomputed from intact data (`stella log fsck [--repair]`).
//!
//! What is checked: the origin, the key, the creation note and the checkpoint against each
//! other ([`crate::log`]'s identity check); then every entry bundle and hash tile of the
//! checkpoint's tree. The entries are the ground truth of a tree and the checkpoint's root hash
//! is its signed summary, so:
//!
//! 1. the right edge (the partial tile of every level) is settled first: of the candidates for
//!    each (the stored tile, the tile recomputed from the entries, the tile recomputed from the
//!    stored tiles below), the combination that reproduces the signed root is the intact one;
//! 2. then, top down, every full tile is the candidate whose hash is the one the (settled) tile
//!    above holds for it, and every bundle must hash to its (settled) level-0 tile.
//!
//! A stored file that differs from the settled content is damaged. A hash tile can always be
//! rewritten from what settled it; a bundle only from another copy of its entries (a wider or
//! full bundle left by an append that did not finish). Entries, the key, the creation time and
//! a checkpoint exist nowhere else: those need a backup, and the report says so.
//!
//! Not here: the witness's remembered checkpoints (the CLI checks those too), printing.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::TlogError;
use crate::damage::{Damage, DamagedFile};
use crate::identity::{Identity, IdentityRepair};
use crate::log;
use crate::merkle::{self, Hash};
use crate::store;
use crate::stored::{self, DiskTiles, Source};
use crate::tiles::{self, TILE_WIDTH};
use crate::verified::{self, tile_width};

/// Most combinations of right-edge candidates tried before giving up on settling it.
const MAX_EDGE_COMBINATIONS: usize = 4096;

/// Why a damaged file cannot be rebuilt from the rest of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unrepairable {
    /// Entries exist only in their bundle (their hashes may survive in the tiles).
    EntriesLost,
    /// The log key exists only in `log.key`.
    KeyLost,
    /// The creation time is named by trusted roots given out; it is kept only here.
    CreatedLost,
    /// A checkpoint is a signature over the tree; an old one cannot be recomputed.
    CheckpointLost,
    /// The origin is kept in `origin` and the checkpoint, and neither is intact.
    OriginLost,
    /// The stored files disagree and nothing tells which of them are intact.
    Ambiguous,
}

impl fmt::Display for Unrepairable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unrepairable::EntriesLost => {
                "its entries are stored nowhere else: restore the file from a backup"
            }
            Unrepairable::KeyLost => {
                "the log key is stored nowhere else: restore it from a backup (without it the \
                 log cannot sign new checkpoints)"
            }
            Unrepairable::CreatedLost => {
                "the creation time is named by the trusted roots given out: restore the file \
                 from a backup"
            }
            Unrepairable::CheckpointLost => {
                "a signed checkpoint cannot be recomputed: restore it from a backup, or put back \
                 a checkpoint of this log handed out earlier (a bundle's inclusionProof \
                 checkpoint) whose size the tiles hold; a log whose creation was interrupted \
                 has no checkpoint and no tiles: remove its directory to create it again"
            }
            Unrepairable::OriginLost => {
                "neither the origin file nor the checkpoint names the origin intact: restore \
                 them from a backup"
            }
            Unrepairable::Ambiguous => {
                "the files disagree and none of them reproduces the signed checkpoint: restore \
                 the log from a backup"
            }
        })
    }
}

/// What can be done about a damaged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Rebuilt (by this check) from `from`.
    Repaired {
        /// What it was rebuilt from.
        from: PathBuf,
    },
    /// Can be rebuilt from `from` (`--repair` does it).
    Repairable {
        /// What it can be rebuilt from.
        from: PathBuf,
    },
    /// Cannot be rebuilt.
    Impossible {
        /// Why.
        why: Unrepairable,
    },
}

/// One damaged file and what can be done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file and its damage.
    pub file: DamagedFile,
    /// What can be done.
    pub repair: Repair,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The log directory.
    pub dir: PathBuf,
    /// The size of the checkpoint the tree was checked against (`None`: no checkpoint could be
    /// verified, so the tiles were not checked).
    pub size: Option<u64>,
    /// Every damaged file.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether the log is intact now (nothing damaged, or everything repaired).
    pub fn is_clean(&self) -> bool {
        self.size.is_some()
            && self
                .findings
                .iter()
                .all(|f| matches!(f.repair, Repair::Repaired { .. }))
    }
}

/// A damaged file and the plan for it.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) file: DamagedFile,
    plan: Plan,
}

#[derive(Debug, Clone)]
enum Plan {
    Write { bytes: Vec<u8>, from: PathBuf },
    Cannot(Unrepairable),
}

impl Planned {
    fn write(file: DamagedFile, bytes: Vec<u8>, from: PathBuf) -> Self {
        Planned {
            file,
            plan: Plan::Write { bytes, from },
        }
    }

    fn cannot(file: DamagedFile, why: Unrepairable) -> Self {
        Planned {
            file,
            plan: Plan::Cannot(why),
        }
    }
}

/// Checks the log in `dir` (under its lock, so no append runs meanwhile) and, with `repair`,
/// rewrites every file that can be rebuilt from intact data.
///
/// # Errors
/// [`TlogError::NoLog`] when `dir` holds no log; [`TlogError::Io`] when the lock cannot be
/// taken or a repair cannot be written.
pub fn fsck(dir: &Path, repair: bool) -> Result<Report, TlogError> {
    if !log::is_log(dir)? {
        return Err(TlogError::NoLog {
            dir: dir.to_path_buf(),
        });
    }
    let _lock = store::lock(dir)?;
    let identity = Identity::read(dir);
    let mut planned: Vec<Planned> = identity
        .damaged
        .into_iter()
        .map(|(file, fix)| match fix {
            IdentityRepair::Rewrite { bytes, from } => Planned::write(file, bytes, from),
            IdentityRepair::Ambiguous => Planned::cannot(file, Unrepairable::Ambiguous),
            IdentityRepair::Restore => {
                let why = match file.path.file_name().and_then(|n| n.to_str()) {
                    Some("log.key") => Unrepairable::KeyLost,
                    Some("created") => Unrepairable::CreatedLost,
                    Some("origin") => Unrepairable::OriginLost,
                    _ => Unrepairable::CheckpointLost,
                };
                Planned::cannot(file, why)
            }
        })
        .collect();
    let size = identity.checkpoint.as_ref().map(|(cp, _)| cp.size);
    if let Some((cp, _)) = &identity.checkpoint {
        planned.extend(check_tree(dir, cp.size, cp.root));
    }
    let mut findings = Vec::with_capacity(planned.len());
    for p in planned {
        let repair = match p.plan {
            Plan::Cannot(why) => Repair::Impossible { why },
            Plan::Write { from, .. } if !repair => Repair::Repairable { from },
            Plan::Write { bytes, from } => {
                rewrite(&p.file.path, &bytes)?;
                Repair::Repaired { from }
            }
        };
        findings.push(Finding {
            file: p.file,
            repair,
        });
    }
    Ok(Report {
        dir: dir.to_path_buf(),
        size,
        findings,
    })
}

fn rewrite(path: &Path, bytes: &[u8]) -> Result<(), TlogError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| store::io_error(parent, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        TlogError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        )
    })?;
    let secret = name == "log.key";
    store::write_durably(parent, name, bytes, secret)?;
    store::sync_dir(parent)
}

/// One tile's candidates: its content and the file it comes from.
type Candidate = (Vec<Hash>, PathBuf);

/// What is stored for one bundle: each file that holds it (most authoritative first) with the
/// leaf hashes of its first entries, or its damage.
struct StoredBundle {
    width: u64,
    files: Vec<(PathBuf, Source, Result<Vec<Hash>, Damage>)>,
}

impl StoredBundle {
    fn read(dir: &Path, index: u64, width: u64) -> Self {
        let mut files = Vec::new();
        for (path, source) in stored::bundle_sources(dir, index, width) {
            let leaves = match store::read_if_present(&path) {
                Ok(None) => continue,
                Ok(Some(bytes)) => stored::decode_bundle(&bytes, width, source)
                    .map(|(entries, _)| entries.iter().map(|e| merkle::leaf_hash(e)).collect()),
                Err(f) => Err(f.damage),
            };
            files.push((path, source, leaves));
        }
        StoredBundle { width, files }
    }

    /// The leaves of the most authoritative file that decodes.
    fn leaves(&self) -> Option<Candidate> {
        self.files
            .iter()
            .find_map(|(p, _, l)| l.as_ref().ok().map(|l| (l.clone(), p.clone())))
    }
}

/// The damaged files of the tree of `size` entries with root `root` in `dir`, each with its
/// plan. Empty for an intact tree.
pub(crate) fn check_tree(dir: &Path, size: u64, root: Hash) -> Vec<Planned> {
    let disk = DiskTiles { dir };
    let mut levels = Vec::new();
    let mut level = 0u32;
    while let Some(width) = tile_width(size, level, 0) {
        let count = (size >> (8 * level)).div_ceil(TILE_WIDTH);
        levels.push((level, count, width));
        level += 1;
    }
    // What is stored.
    let stored: Vec<Vec<Result<Candidate, DamagedFile>>> = levels
        .iter()
        .map(|&(level, count, _)| {
            (0..count)
                .map(|i| {
                    let width = tile_width(size, level, i).unwrap_or(0);
                    disk.locate(level, i, width)
                })
                .collect()
        })
        .collect();
    let bundles: Vec<StoredBundle> = (0..size.div_ceil(TILE_WIDTH))
        .map(|i| StoredBundle::read(dir, i, tile_width(size, 0, i).unwrap_or(0)))
        .collect();

    // The candidates: recomputed from the entries, and recomputed from the stored level below.
    let from_entries = derive(
        dir,
        size,
        bundles.iter().map(StoredBundle::leaves).collect(),
        "tile/entries",
    );
    let from_below: Vec<Vec<Option<Candidate>>> = (0..levels.len())
        .map(|l| {
            if l == 0 {
                return vec![None; stored[0].len()];
            }
            let below: Vec<Option<&Vec<Hash>>> = stored[l - 1]
                .iter()
                .map(|s| s.as_ref().ok().map(|(h, _)| h))
                .collect();
            summarise(size, l as u32, &below)
                .into_iter()
                .map(|c| c.map(|h| (h, dir.join(format!("tile/{}", l - 1)))))
                .collect()
        })
        .collect();
    let candidates = |l: usize, i: usize| -> Vec<Candidate> {
        let mut all: Vec<Candidate> = Vec::new();
        let options = [
            stored[l][i].as_ref().ok().cloned(),
            from_entries[l][i].clone(),
            from_below[l][i].clone(),
        ];
        for c in options.into_iter().flatten() {
            if !all.iter().any(|(h, _)| *h == c.0) {
                all.push(c);
            }
        }
        all
    };

    // 1. The right edge, settled by the root hash.
    let edge = verified::right_edge(size);
    let edge_candidates: Vec<Vec<Candidate>> = edge
        .iter()
        .map(|&(l, i, _)| candidates(l as usize, i as usize))
        .collect();
    let Some(settled_edge) = settle_edge(size, root, &edge, &edge_candidates) else {
        return unresolved(dir, &stored, &bundles, &edge, &edge_candidates);
    };

    // 2. Top down: every full tile is the candidate the settled tile above holds.
    let mut settled: HashMap<(u32, u64), Candidate> = HashMap::new();
    for ((l, i, _), c) in edge.iter().zip(settled_edge) {
        settled.insert((*l, *i), c);
    }
    for &(level, count, _) in levels.iter().rev() {
        for index in 0..count {
            if settled.contains_key(&(level, index)) {
                continue;
            }
            let Some((above, _)) = settled.get(&(level + 1, index / TILE_WIDTH)) else {
                continue;
            };
            let at = usize::try_from(index % TILE_WIDTH).unwrap_or(usize::MAX);
            let Some(expected) = above.get(at).copied() else {
                continue;
            };
            if let Some(c) = candidates(level as usize, index as usize)
                .into_iter()
                .find(|(h, _)| merkle::perfect_root(h) == expected)
            {
                settled.insert((level, index), c);
            }
        }
    }

    let mut planned = Vec::new();
    for &(level, count, _) in &levels {
        for index in 0..count {
            let width = tile_width(size, level, index).unwrap_or(0);
            let exact = dir.join(tiles::tile_path(level, index, width));
            let stored = &stored[level as usize][index as usize];
            let above = if width == TILE_WIDTH {
                dir.join(tiles::tile_path(
                    level + 1,
                    index / TILE_WIDTH,
                    tile_width(size, level + 1, index / TILE_WIDTH).unwrap_or(0),
                ))
            } else {
                dir.join("checkpoint")
            };
            let damage = match stored {
                Err(f) => Some(f.clone()),
                Ok((hashes, read)) => match settled.get(&(level, index)) {
                    Some((good, _)) if good != hashes => {
                        Some(DamagedFile::new(read, Damage::Differs { other: above }))
                    }
                    Some(_) if *read != exact => Some(DamagedFile::new(&exact, Damage::Missing)),
                    Some(_) => None,
                    None => Some(DamagedFile::new(read, Damage::Differs { other: above })),
                },
            };
            let Some(file) = damage else { continue };
            planned.push(match settled.get(&(level, index)) {
                Some((good, from)) => {
                    let from = if stored.as_ref().is_ok_and(|(h, _)| h == good) {
                        stored.as_ref().map(|(_, p)| p.clone()).unwrap_or_default()
                    } else {
                        from.clone()
                    };
                    let target = DamagedFile::new(&exact, file.damage.clone());
                    let file = if file.path == exact { file } else { target };
                    Planned::write(file, tiles::encode_hashes(good), from)
                }
                None => Planned::cannot(file, Unrepairable::EntriesLost),
            });
        }
    }
    for (index, bundle) in bundles.iter().enumerate() {
        let index = index as u64;
        let tile = dir.join(tiles::tile_path(0, index, bundle.width));
        let Some((good, _)) = settled.get(&(0, index)) else {
            if let Some(f) = bundle_damage(dir, index, bundle, None, &tile) {
                planned.push(Planned::cannot(f, Unrepairable::Ambiguous));
            }
            continue;
        };
        let Some(file) = bundle_damage(dir, index, bundle, Some(good), &tile) else {
            continue;
        };
        let sibling = bundle
            .files
            .iter()
            .skip(1)
            .find(|(_, _, l)| l.as_ref().is_ok_and(|l| l == good));
        let rebuilt = sibling.and_then(|(path, source, _)| {
            let bytes = store::read(path).ok()?;
            let (entries, _) = stored::decode_bundle(&bytes, bundle.width, *source).ok()?;
            Some((tiles::encode_entries(&entries).ok()?, path.clone()))
        });
        planned.push(match rebuilt {
            Some((bytes, from)) => Planned::write(file, bytes, from),
            None => Planned::cannot(file, Unrepairable::EntriesLost),
        });
    }
    planned
}

/// The damage of bundle `index` given its settled leaves `good` (`None`: not settled, so only
/// what fails to decode or is missing is damage).
fn bundle_damage(
    dir: &Path,
    index: u64,
    bundle: &StoredBundle,
    good: Option<&Vec<Hash>>,
    tile: &Path,
) -> Option<DamagedFile> {
    let Some((path, _, leaves)) = bundle.files.first() else {
        let expected = if bundle.width < TILE_WIDTH {
            stored::open_bundle_path(index)
        } else {
            tiles::entries_path(index, TILE_WIDTH)
        };
        return Some(DamagedFile::new(dir.join(expected), Damage::Missing));
    };
    match (leaves, good) {
        (Err(damage), _) => Some(DamagedFile::new(path, damage.clone())),
        (Ok(leaves), Some(good)) if leaves != good => Some(DamagedFile::new(
            path,
            Damage::Differs {
                other: tile.to_path_buf(),
            },
        )),
        _ => None,
    }
}

/// The tiles of every level recomputed from the level-0 `leaves` (each bundle's, with the file
/// it came from), where all they need is there.
fn derive(
    dir: &Path,
    size: u64,
    leaves: Vec<Option<Candidate>>,
    from: &str,
) -> Vec<Vec<Option<Candidate>>> {
    let mut out = vec![leaves];
    let mut level = 1u32;
    while tile_width(size, level, 0).is_some() {
        let below: Vec<Option<&Vec<Hash>>> = out
            .last()
            .map(|l| l.iter().map(|c| c.as_ref().map(|(h, _)| h)).collect())
            .unwrap_or_default();
        let up = summarise(size, level, &below)
            .into_iter()
            .map(|c| c.map(|h| (h, dir.join(from))))
            .collect();
        out.push(up);
        level += 1;
    }
    out
}

/// The tiles of `level` from the full tiles of the level below (`None` where one is missing).
fn summarise(size: u64, level: u32, below: &[Option<&Vec<Hash>>]) -> Vec<Option<Vec<Hash>>> {
    let count = (size >> (8 * level)).div_ceil(TILE_WIDTH);
    (0..count)
        .map(|index| {
            let width = tile_width(size, level, index).unwrap_or(0);
            (0..width)
                .map(|k| {
                    let child = usize::try_from(index * TILE_WIDTH + k).ok()?;
                    let hashes = below.get(child).copied().flatten()?;
                    (hashes.len() as u64 == TILE_WIDTH).then(|| merkle::perfect_root(hashes))
                })
                .collect()
        })
        .collect()
}

/// The combination of right-edge candidates that reproduces `root`, if one does.
fn settle_edge(
    size: u64,
    root: Hash,
    edge: &[(u32, u64, u64)],
    candidates: &[Vec<Candidate>],
) -> Option<Vec<Candidate>> {
    if candidates.iter().any(Vec::is_empty) {
        return None;
    }
    let mut choice = vec![0usize; edge.len()];
    for _ in 0..MAX_EDGE_COMBINATIONS {
        let tiles: HashMap<(u32, u64), &Vec<Hash>> = edge
            .iter()
            .zip(&choice)
            .zip(candidates)
            .map(|((&(l, i, _), &c), cands)| ((l, i), &cands[c].0))
            .collect();
        let computed = verified::root_of(size, &|l, i| {
            tiles.get(&(l, i)).map(|h| (*h).clone()).ok_or_else(|| {
                TlogError::Proof(crate::ProofError::NotOnEdge { level: l, index: i })
            })
        });
        if computed.ok() == Some(root) {
            return Some(
                choice
                    .iter()
                    .zip(candidates)
                    .map(|(&c, cands)| cands[c].clone())
                    .collect(),
            );
        }
        // The next combination (an odometer over the candidates).
        let mut k = 0;
        loop {
            if k == choice.len() {
                return None;
            }
            choice[k] += 1;
            if choice[k] < candidates[k].len() {
                break;
            }
            choice[k] = 0;
            k += 1;
        }
    }
    None
}

/// Nothing reproduces the root: every file that fails to read, every bundle that disagrees with
/// its tile, and the right edge, none of them repairable.
fn unresolved(
    dir: &Path,
    stored: &[Vec<Result<Candidate, DamagedFile>>],
    bundles: &[StoredBundle],
    edge: &[(u32, u64, u64)],
    edge_candidates: &[Vec<Candidate>],
) -> Vec<Planned> {
    let checkpoint = dir.join("checkpoint");
    let mut planned = Vec::new();
    for level in stored {
        for tile in level {
            if let Err(f) = tile {
                planned.push(Planned::cannot(f.clone(), Unrepairable::Ambiguous));
            }
        }
    }
    for (index, bundle) in bundles.iter().enumerate() {
        let index = index as u64;
        let tile = dir.join(tiles::tile_path(0, index, bundle.width));
        let good = stored
            .first()
            .and_then(|l| l.get(index as usize))
            .and_then(|s| s.as_ref().ok())
            .map(|(h, _)| h);
        if let Some(mut f) = bundle_damage(dir, index, bundle, good, &tile) {
            if let Damage::Differs { other } = f.damage {
                f.damage = Damage::Disagrees { other };
            }
            planned.push(Planned::cannot(f, Unrepairable::Ambiguous));
        }
    }
    for (&(level, index, width), cands) in edge.iter().zip(edge_candidates) {
        if cands.len() > 1 || stored[level as usize][index as usize].is_err() {
            let path = dir.join(tiles::tile_path(level, index, width));
            if !planned.iter().any(|p| p.file.path == path) {
                planned.push(Planned::cannot(
                    DamagedFile::new(
                        path,
                        Damage::Disagrees {
                            other: checkpoint.clone(),
                        },
                    ),
                    Unrepairable::Ambiguous,
                ));
            }
        }
    }
    if planned.is_empty() {
        // Tiles and entries agree with each other, not with the signed root.
        let first = edge.first().map_or_else(
            || dir.join("tile"),
            |&(l, i, w)| dir.join(tiles::tile_path(l, i, w)),
        );
        planned.push(Planned::cannot(
            DamagedFile::new(checkpoint, Damage::Disagrees { other: first }),
            Unrepairable::Ambiguous,
        ));
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Log;

    fn log_of(n: usize) -> (tempfile::TempDir, Log) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::create(dir.path(), Some("fsck.example")).expect("create");
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        for chunk in entries.chunks(100) {
            log.append(chunk).expect("append");
        }
        (dir, log)
    }

    #[test]
    fn an_intact_log_is_clean() {
        let (dir, _log) = log_of(700);
        let report = fsck(dir.path(), false).expect("fsck");
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.size, Some(700));
    }

    #[test]
    fn tiles_are_rebuilt_and_lost_entries_are_named() {
        let (dir, log) = log_of(700);
        let d = dir.path();
        // A flipped byte in a full level-0 tile, a truncated level-1 tile, a deleted partial.
        let mut t = std::fs::read(d.join("tile/0/000")).expect("tile");
        t[5] ^= 0x40;
        std::fs::write(d.join("tile/0/000"), &t).expect("write");
        std::fs::write(d.join("tile/1/000.p/2"), [0u8; 10]).expect("write");
        std::fs::remove_file(d.join("tile/0/002.p/188")).expect("rm");
        let report = fsck(d, false).expect("fsck");
        assert!(!report.is_clean());
        let named: Vec<String> = report
            .findings
            .iter()
            .map(|f| {
                f.file
                    .path
                    .strip_prefix(d)
                    .expect("in dir")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(named, ["tile/0/000", "tile/0/002.p/188", "tile/1/000.p/2"]);
        assert!(
            report
                .findings
                .iter()
                .all(|f| matches!(f.repair, Repair::Repairable { .. }))
        );
        let repaired = fsck(d, true).expect("repair");
        assert!(repaired.is_clean(), "{repaired:?}");
        assert!(fsck(d, false).expect("again").findings.is_empty());
        let size = 700;
        let proof = log.inclusion_proof(3, size).expect("proof");
        let root = log.checkpoint().expect("cp").0.root;
        merkle::verify_inclusion(&merkle::leaf_hash(b"entry 3"), 3, size, &proof, &root)
            .expect("proves");

        // A changed entry: the tile says what it was, nothing says what it held.
        let bundle = d.join("tile/entries/001");
        let mut b = std::fs::read(&bundle).expect("bundle");
        b[10] ^= 1;
        std::fs::write(&bundle, &b).expect("write");
        let report = fsck(d, true).expect("fsck");
        assert_eq!(report.findings.len(), 1, "{report:?}");
        assert_eq!(report.findings[0].file.path, bundle);
        assert_eq!(
            report.findings[0].repair,
            Repair::Impossible {
                why: Unrepairable::EntriesLost
            }
        );
        assert!(log.entry(300).is_err());
        assert!(
            log.append(&[b"more".to_vec()]).is_ok(),
            "bundle 1 is not touched"
        );
    }
}
