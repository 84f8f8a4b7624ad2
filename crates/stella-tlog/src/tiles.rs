//! C2SP tlog-tiles paths and formats (<https://c2sp.org/tlog-tiles>): hash tiles of height 8
//! (`tile/<L>/<N>[.p/<W>]`), entry bundles (`tile/entries/<N>[.p/<W>]`, each entry a 2-byte
//! big-endian length and its bytes), with `N` written in groups of three digits, all but the
//! last prefixed by `x`.
//!
//! Not here: reading and writing files ([`crate::log`]).

use crate::TlogError;
use crate::damage::Damage;
use crate::merkle::Hash;

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Tile height: a tile at level `L` holds hashes of tree level `8·L`.
pub const TILE_HEIGHT: u32 = 8;
/// Largest entry: entry bundles prefix each entry with a 2-byte length.
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// `N` as tile path segments: `1234067` → `x001/x234/067`.
pub fn encode_index(n: u64) -> String {
    let digits = format!("{n}");
    let pad = (3 - digits.len() % 3) % 3;
    let padded = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> = (0..padded.len())
        .step_by(3)
        .map(|i| &padded[i..i + 3])
        .collect();
    let last = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g}")
            } else {
                (*g).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn width_suffix(width: u64) -> String {
    if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// The path of hash tile `(level, index)` holding `width` hashes.
pub fn tile_path(level: u32, index: u64, width: u64) -> String {
    format!(
        "tile/{level}/{}{}",
        encode_index(index),
        width_suffix(width)
    )
}

/// The path of entry bundle `index` holding `width` entries.
pub fn entries_path(index: u64, width: u64) -> String {
    format!(
        "tile/entries/{}{}",
        encode_index(index),
        width_suffix(width)
    )
}

/// A hash tile's bytes: the hashes, concatenated.
pub fn encode_hashes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.iter().copied()).collect()
}

/// Reads a hash tile that must hold `width` hashes.
///
/// # Errors
/// [`TlogError::Corrupt`] for a tile of the wrong length (a truncated tile).
pub fn decode_hashes(bytes: &[u8], width: u64, path: &str) -> Result<Vec<Hash>, TlogError> {
    if bytes.len() as u64 != width * 32 {
        return Err(TlogError::Corrupt {
            tile: path.to_owned(),
            damage: Damage::Length {
                found: bytes.len() as u64,
                expected: width * 32,
            },
        });
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

/// An entry bundle's bytes.
///
/// # Errors
/// [`TlogError::Entry`] for an entry longer than [`MAX_ENTRY_BYTES`].
pub fn encode_entries(entries: &[Vec<u8>]) -> Result<Vec<u8>, TlogError> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| TlogError::EntryTooLarge {
            size: e.len(),
            max: MAX_ENTRY_BYTES,
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Reads an entry bundle that must hold `width` entries.
///
/// # Errors
/// [`TlogError::Corrupt`] for a truncated or overlong bundle.
pub fn decode_entries(bytes: &[u8], width: u64, path: &str) -> Result<Vec<Vec<u8>>, TlogError> {
    let at = |rest: &[u8]| (bytes.len() - rest.len()) as u64;
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let [a, b, tail @ ..] = rest else {
            return Err(corrupt(path, Damage::Truncated { offset: at(rest) }));
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if tail.len() < len {
            return Err(corrupt(path, Damage::Truncated { offset: at(rest) }));
        }
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if out.len() as u64 != width {
        return Err(corrupt(
            path,
            Damage::EntryCount {
                found: out.len() as u64,
                expected: width,
            },
        ));
    }
    Ok(out)
}

fn corrupt(path: &str, damage: Damage) -> TlogError {
    TlogError::Corrupt {
        tile: path.to_owned(),
        damage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_specification() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(1, 5, 7), "tile/1/005.p/7");
        assert_eq!(entries_path(7, 5), "tile/entries/007.p/5");
    }

    #[test]
    fn bundles_round_trip_and_truncation_is_caught() {
        let entries = vec![b"a".to_vec(), Vec::new(), vec![7u8; 300]];
        let bytes = encode_entries(&entries).expect("encode");
        assert_eq!(decode_entries(&bytes, 3, "b").expect("decode"), entries);
        assert!(decode_entries(&bytes[..bytes.len() - 1], 3, "b").is_err());
        assert!(decode_entries(&bytes, 4, "b").is_err());
        assert!(encode_entries(&[vec![0u8; 70_000]]).is_err());
        assert!(decode_hashes(&[0u8; 63], 2, "t").is_err());
    }
}
