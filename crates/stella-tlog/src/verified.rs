//! Hash tiles checked against a signed root hash before anything is computed from them.
//!
//! A tree of `size` entries stored as tlog-tiles has two kinds of tiles. A *full* tile (256
//! hashes) at level `L` is summarised by one hash in the tile above it (level `L+1`, index
//! `N/256`, position `N%256`): it is checked by recomputing that hash. A *partial* tile holds
//! the last hashes of its level; the hashes of the partial tiles of every level are exactly
//! what the root hash is computed from (RFC 6962's decomposition of `size` into perfect
//! subtrees splits at the same powers of two as the tile levels), so they are checked together
//! by recomputing the root. Every tile therefore reaches the root through a chain of checks,
//! and a proof computed from checked tiles is a proof of the signed tree, never of whatever is
//! on disk. The cost is the right edge (one partial tile per level) once, plus the chain above
//! each full tile the first time it is used.
//!
//! Not here: where tiles come from ([`crate::log::TileReader`]), naming the damaged file (the
//! local log does that, [`crate::log`]).

use std::cell::RefCell;
use std::collections::HashMap;

use crate::log::TileReader;
use crate::merkle::{self, Hash, HashSource};
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH};
use crate::{ProofError, TlogError};

/// Width of tile `(level, index)` in the tree of `size` entries, or `None` when the tree has
/// no such tile.
pub fn tile_width(size: u64, level: u32, index: u64) -> Option<u64> {
    let stored = stored_at(size, level);
    let start = index.checked_mul(TILE_WIDTH)?;
    (start < stored).then(|| (stored - start).min(TILE_WIDTH))
}

/// Hashes the tree of `size` entries stores at tile level `level`.
fn stored_at(size: u64, level: u32) -> u64 {
    size.checked_shr(TILE_HEIGHT * level).unwrap_or(0)
}

/// The partial tiles of the tree of `size` entries (its right edge), lowest level first:
/// `(level, index, width)`.
pub fn right_edge(size: u64) -> Vec<(u32, u64, u64)> {
    let mut edge = Vec::new();
    let mut level = 0u32;
    loop {
        let stored = stored_at(size, level);
        if stored == 0 {
            return edge;
        }
        if !stored.is_multiple_of(TILE_WIDTH) {
            edge.push((level, stored / TILE_WIDTH, stored % TILE_WIDTH));
        }
        level += 1;
    }
}

/// The hash of a complete subtree of the tree of `tree` entries, from `tile` (which returns
/// tile `(level, index)` at its width in a tree of at least `tree` entries).
fn subtree(
    tree: u64,
    level: u32,
    index: u64,
    tile: &dyn Fn(u32, u64) -> Result<Vec<Hash>, TlogError>,
) -> Result<Hash, TlogError> {
    let tile_level = level / TILE_HEIGHT;
    let within = level % TILE_HEIGHT;
    let first = index << within;
    let count = 1u64 << within;
    if first + count > stored_at(tree, tile_level) {
        return Err(ProofError::NoSubtree {
            level,
            index,
            size: tree,
        }
        .into());
    }
    let hashes = tile(tile_level, first / TILE_WIDTH)?;
    let offset = usize::try_from(first % TILE_WIDTH).unwrap_or(usize::MAX);
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let slice = hashes
        .get(offset..offset.saturating_add(count))
        .ok_or_else(|| {
            crate::log::short_tile(
                tile_level,
                first / TILE_WIDTH,
                hashes.len(),
                tile_width(tree, tile_level, first / TILE_WIDTH).unwrap_or(TILE_WIDTH),
            )
        })?;
    Ok(merkle::perfect_root(slice))
}

/// The hash tiles of the tree of `size` entries whose root hash is `root`, each checked
/// before it is used (see the module documentation).
pub struct VerifiedTiles<'a> {
    reader: &'a dyn TileReader,
    size: u64,
    root: Hash,
    checked: RefCell<HashMap<(u32, u64), Vec<Hash>>>,
}

impl std::fmt::Debug for VerifiedTiles<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTiles")
            .field("size", &self.size)
            .field("checked", &self.checked.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<'a> VerifiedTiles<'a> {
    /// The tiles `reader` serves for the tree of `size` entries with root hash `root` (from a
    /// checkpoint whose signature was verified). Reads and checks the right edge now.
    ///
    /// # Errors
    /// What the reader reports; [`TlogError::TileMismatch`] (against the root) when the
    /// partial tiles do not lead to `root`.
    pub fn new(reader: &'a dyn TileReader, size: u64, root: Hash) -> Result<Self, TlogError> {
        let mut edge = HashMap::new();
        for (level, index, width) in right_edge(size) {
            let hashes = reader.read_tile(level, index, width)?;
            if hashes.len() as u64 != width {
                return Err(crate::log::short_tile(level, index, hashes.len(), width));
            }
            edge.insert((level, index), hashes);
        }
        let from_edge = |level: u32, index: u64| {
            edge.get(&(level, index))
                .cloned()
                .ok_or_else(|| TlogError::from(ProofError::NotOnEdge { level, index }))
        };
        let computed =
            merkle::range_hash(&Source(&|l, i| subtree(size, l, i, &from_edge)), 0, size)?;
        if computed != root {
            let (level, index, _) = right_edge(size).first().copied().unwrap_or((0, 0, 0));
            return Err(TlogError::TileMismatch {
                level,
                index,
                size,
                against: None,
            });
        }
        Ok(VerifiedTiles {
            reader,
            size,
            root,
            checked: RefCell::new(edge),
        })
    }

    /// Tiles already checked for this `(size, root)` (kept from an earlier check), and the
    /// reader for the others.
    pub(crate) fn resume(
        reader: &'a dyn TileReader,
        size: u64,
        root: Hash,
        checked: HashMap<(u32, u64), Vec<Hash>>,
    ) -> Self {
        VerifiedTiles {
            reader,
            size,
            root,
            checked: RefCell::new(checked),
        }
    }

    /// The checked tiles, to be kept for the next use of the same tree.
    pub(crate) fn into_checked(self) -> HashMap<(u32, u64), Vec<Hash>> {
        self.checked.into_inner()
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash every tile was checked against.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Tile `(level, index)` at its width in this tree, checked.
    ///
    /// # Errors
    /// [`TlogError::Proof`] for a tile the tree does not have; what the reader reports;
    /// [`TlogError::TileMismatch`] when the tile does not match the tile above it.
    pub fn tile(&self, level: u32, index: u64) -> Result<Vec<Hash>, TlogError> {
        if let Some(hashes) = self.checked.borrow().get(&(level, index)) {
            return Ok(hashes.clone());
        }
        let width = tile_width(self.size, level, index).ok_or(ProofError::NoTile {
            level,
            index,
            size: self.size,
        })?;
        if width < TILE_WIDTH {
            // Every partial tile is on the right edge, read and checked by `new`.
            return Err(TlogError::TileMismatch {
                level,
                index,
                size: self.size,
                against: None,
            });
        }
        let hashes = self.reader.read_tile(level, index, width)?;
        if hashes.len() as u64 != width {
            return Err(crate::log::short_tile(level, index, hashes.len(), width));
        }
        let above = self.tile(level + 1, index / TILE_WIDTH)?;
        let at = usize::try_from(index % TILE_WIDTH).unwrap_or(usize::MAX);
        if above.get(at) != Some(&merkle::perfect_root(&hashes)) {
            return Err(TlogError::TileMismatch {
                level,
                index,
                size: self.size,
                against: Some((level + 1, index / TILE_WIDTH)),
            });
        }
        self.checked
            .borrow_mut()
            .insert((level, index), hashes.clone());
        Ok(hashes)
    }

    /// The tree of the first `size` entries (at most this tree's), read from these tiles.
    ///
    /// # Errors
    /// [`TlogError::Proof`] for a size past this tree.
    pub fn prefix(&self, size: u64) -> Result<Prefix<'_, 'a>, TlogError> {
        if size > self.size {
            return Err(ProofError::PastCheckpoint {
                size,
                checkpoint: self.size,
            }
            .into());
        }
        Ok(Prefix { tiles: self, size })
    }
}

impl HashSource for VerifiedTiles<'_> {
    fn hash(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        subtree(self.size, level, index, &|l, i| self.tile(l, i))
    }
}

/// An older tree (the first `size` entries) read from the checked tiles of a larger one: a
/// tile of the smaller tree is a prefix of the same tile in the larger.
#[derive(Debug)]
pub struct Prefix<'t, 'a> {
    tiles: &'t VerifiedTiles<'a>,
    size: u64,
}

impl HashSource for Prefix<'_, '_> {
    fn hash(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        subtree(self.size, level, index, &|l, i| self.tiles.tile(l, i))
    }
}

/// A closure as a [`HashSource`].
struct Source<'f>(&'f dyn Fn(u32, u64) -> Result<Hash, TlogError>);

impl HashSource for Source<'_> {
    fn hash(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        (self.0)(level, index)
    }
}

/// The root hash of the tree of `size` entries from tiles held in memory (every tile it
/// needs, at its width in that tree).
///
/// # Errors
/// [`TlogError::Proof`] when a tile is not in `tiles`.
pub(crate) fn root_of(
    size: u64,
    tiles: &dyn Fn(u32, u64) -> Result<Vec<Hash>, TlogError>,
) -> Result<Hash, TlogError> {
    merkle::range_hash(&Source(&|l, i| subtree(size, l, i, tiles)), 0, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;

    /// Tiles computed from leaves, with a way to damage one.
    struct Memory {
        levels: Vec<Vec<Hash>>,
        damaged: Option<(u32, u64)>,
    }

    impl Memory {
        fn new(leaves: Vec<Hash>) -> Self {
            let mut levels = vec![leaves];
            while let Some(last) = levels.last() {
                if last.len() < TILE_WIDTH as usize {
                    break;
                }
                let up: Vec<Hash> = last
                    .chunks_exact(TILE_WIDTH as usize)
                    .map(merkle::perfect_root)
                    .collect();
                levels.push(up);
            }
            Memory {
                levels,
                damaged: None,
            }
        }
    }

    impl TileReader for Memory {
        fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
            let start = (index * TILE_WIDTH) as usize;
            let mut hashes = self.levels[level as usize][start..start + width as usize].to_vec();
            if self.damaged == Some((level, index)) {
                hashes[0][0] ^= 1;
            }
            Ok(hashes)
        }
    }

    #[test]
    fn the_right_edge_is_the_partial_tiles() {
        assert_eq!(right_edge(0), []);
        assert_eq!(right_edge(5), [(0, 0, 5)]);
        assert_eq!(right_edge(256), [(1, 0, 1)]);
        assert_eq!(right_edge(1000), [(0, 3, 232), (1, 0, 3)]);
        assert_eq!(right_edge(65_792), [(1, 1, 1), (2, 0, 1)]);
        assert_eq!(tile_width(1000, 0, 3), Some(232));
        assert_eq!(tile_width(1000, 0, 4), None);
        assert_eq!(tile_width(1000, 1, 0), Some(3));
    }

    #[test]
    fn every_damaged_tile_is_caught_and_proofs_match_the_reference() {
        let size = 70_000u64;
        let leaves: Vec<Hash> = (0..size)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        let reference = MemoryTree::new(leaves.clone());
        let root = reference.root(size).expect("root");
        let mut memory = Memory::new(leaves);
        let tiles = VerifiedTiles::new(&memory, size, root).expect("checks");
        for (index, tree) in [(0u64, size), (65_535, size), (69_999, size), (300, 1000)] {
            let from_tiles = if tree == size {
                merkle::inclusion_proof(&tiles, index, tree)
            } else {
                merkle::inclusion_proof(&tiles.prefix(tree).expect("prefix"), index, tree)
            }
            .expect("proof");
            assert_eq!(
                from_tiles,
                merkle::inclusion_proof(&reference, index, tree).expect("reference")
            );
        }
        // A damaged partial tile fails the root check; a damaged full tile fails against the
        // tile above it, wherever it is.
        for damaged in [(0u32, 273u64), (1, 1), (0, 0), (0, 200), (1, 0), (2, 0)] {
            memory.damaged = Some(damaged);
            let result = VerifiedTiles::new(&memory, size, root).and_then(|tiles| {
                let mut all = Vec::new();
                for index in [0u64, 200 * 256, 69_999] {
                    all.push(merkle::inclusion_proof(&tiles, index, size)?);
                }
                Ok(all)
            });
            assert!(
                matches!(result, Err(TlogError::TileMismatch { .. })),
                "{damaged:?}: {result:?}"
            );
        }
        // Another root hash: nothing is accepted.
        memory.damaged = None;
        assert!(VerifiedTiles::new(&memory, size, [0u8; 32]).is_err());
    }
}
