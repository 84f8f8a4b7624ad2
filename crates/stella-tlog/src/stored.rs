//! The entry bundles and hash tiles of a local log as they are on disk, unchecked: which file
//! holds a bundle (the filling bundle's `open` file, a partial or full bundle), how a bundle
//! and a tile decode, and the damage that names the file when they do not.
//!
//! Not here: checking them against the checkpoint ([`crate::verified`], [`crate::log`]).

use std::fs;
use std::path::{Path, PathBuf};

use crate::TlogError;
use crate::damage::{Damage, DamagedFile};
use crate::log::TileReader;
use crate::merkle::Hash;
use crate::store;
use crate::tiles::{self, TILE_WIDTH};

/// The path of the bundle still filling up: `tile/entries/<N>.p/open`.
pub fn open_bundle_path(index: u64) -> String {
    format!("{}.p/open", tiles::entries_path(index, TILE_WIDTH))
}

/// Where a bundle's entries were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `tile/entries/<N>.p/open`: its first entries (bytes after them are an unfinished
    /// append's).
    Open,
    /// The file of exactly that width (`tile/entries/<N>` when full, a partial bundle written
    /// before bundles were appended in place).
    Exact,
    /// A wider partial bundle or the full one: its first entries.
    Wider,
}

/// A bundle's entries and where they came from.
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    pub(crate) entries: Vec<Vec<u8>>,
    pub(crate) path: PathBuf,
    pub(crate) source: Source,
    /// Bytes the entries take at the start of the file.
    pub(crate) len: u64,
}

/// The files that may hold bundle `index`'s first `width` entries, most authoritative first
/// (whether they exist or not: the first one that does is the bundle's).
pub(crate) fn bundle_sources(dir: &Path, index: u64, width: u64) -> Vec<(PathBuf, Source)> {
    let full = tiles::entries_path(index, TILE_WIDTH);
    if width >= TILE_WIDTH {
        return vec![(dir.join(&full), Source::Exact)];
    }
    let mut sources = vec![
        (dir.join(open_bundle_path(index)), Source::Open),
        (dir.join(tiles::entries_path(index, width)), Source::Exact),
    ];
    let mut wider: Vec<u64> = fs::read_dir(dir.join(format!("{full}.p")))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|&w| w > width && w < TILE_WIDTH)
        .collect();
    wider.sort_unstable();
    for w in wider {
        sources.push((dir.join(tiles::entries_path(index, w)), Source::Wider));
    }
    // Last: a bundle that filled up is renamed here while a reader may be looking for it.
    sources.push((dir.join(&full), Source::Wider));
    sources
}

/// The first `width` entries of a bundle file: exactly `width` for an [`Source::Exact`] file,
/// at least for the others.
pub(crate) fn decode_bundle(
    bytes: &[u8],
    width: u64,
    source: Source,
) -> Result<(Vec<Vec<u8>>, u64), Damage> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while (entries.len() as u64) < width {
        let Some(prefix) = bytes.get(at..at + 2) else {
            return Err(if at == bytes.len() && source == Source::Exact {
                Damage::EntryCount {
                    found: entries.len() as u64,
                    expected: width,
                }
            } else {
                Damage::Truncated { offset: at as u64 }
            });
        };
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        let entry = bytes
            .get(at + 2..at + 2 + len)
            .ok_or(Damage::Truncated { offset: at as u64 })?;
        entries.push(entry.to_vec());
        at += 2 + len;
    }
    if source == Source::Exact && at != bytes.len() {
        return Err(Damage::Length {
            found: bytes.len() as u64,
            expected: at as u64,
        });
    }
    Ok((entries, at as u64))
}

/// Bundle `index` with `width` entries from its most authoritative file (unchecked).
pub(crate) fn read_bundle(dir: &Path, index: u64, width: u64) -> Result<Bundle, TlogError> {
    for (path, source) in bundle_sources(dir, index, width) {
        let Some(bytes) =
            store::read_if_present(&path).map_err(|f| TlogError::Damaged { files: vec![f] })?
        else {
            continue;
        };
        let (entries, len) =
            decode_bundle(&bytes, width, source).map_err(|damage| TlogError::Damaged {
                files: vec![DamagedFile::new(&path, damage)],
            })?;
        return Ok(Bundle {
            entries,
            path,
            source,
            len,
        });
    }
    let expected = if width < TILE_WIDTH {
        open_bundle_path(index)
    } else {
        tiles::entries_path(index, TILE_WIDTH)
    };
    Err(TlogError::Damaged {
        files: vec![DamagedFile::new(dir.join(expected), Damage::Missing)],
    })
}

/// The hash tiles of a local log, as stored (unchecked): the tile of exactly the width asked
/// for, else the first hashes of a wider one (a partial tile removed once a wider one held
/// it). Damage names the file.
pub(crate) struct DiskTiles<'a> {
    pub(crate) dir: &'a Path,
}

impl DiskTiles<'_> {
    /// The tile and the file it was read from.
    pub(crate) fn locate(
        &self,
        level: u32,
        index: u64,
        width: u64,
    ) -> Result<(Vec<Hash>, PathBuf), DamagedFile> {
        let exact = self.dir.join(tiles::tile_path(level, index, width));
        if let Some(bytes) = store::read_if_present(&exact)? {
            return decode_tile(&exact, &bytes, width).map(|h| (h, exact));
        }
        let full = tiles::tile_path(level, index, TILE_WIDTH);
        let mut wider: Vec<u64> = fs::read_dir(self.dir.join(format!("{full}.p")))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .filter(|&w| w > width && w < TILE_WIDTH)
            .collect();
        wider.sort_unstable();
        wider.push(TILE_WIDTH);
        for w in wider {
            let path = self.dir.join(tiles::tile_path(level, index, w));
            if let Some(bytes) = store::read_if_present(&path)? {
                let mut hashes = decode_tile(&path, &bytes, w)?;
                hashes.truncate(usize::try_from(width).unwrap_or(usize::MAX));
                return Ok((hashes, path));
            }
        }
        Err(DamagedFile::new(exact, Damage::Missing))
    }
}

fn decode_tile(path: &Path, bytes: &[u8], width: u64) -> Result<Vec<Hash>, DamagedFile> {
    if bytes.len() as u64 != width * 32 {
        return Err(DamagedFile::new(
            path,
            Damage::Length {
                found: bytes.len() as u64,
                expected: width * 32,
            },
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

impl TileReader for DiskTiles<'_> {
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        self.locate(level, index, width)
            .map(|(hashes, _)| hashes)
            .map_err(|f| TlogError::Damaged { files: vec![f] })
    }
}
