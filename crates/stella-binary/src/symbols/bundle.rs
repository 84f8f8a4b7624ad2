//! The symbol bundle of an image: a tar (`application/vnd.stellaops.symbols+tar`) of the
//! [`SymbolTable`]s of its binaries, one per BuildID.
//!
//! Layout, written deterministically by [`write()`] (same tables, same bytes):
//!
//! 1. `index.json`, canonical JSON:
//!    `{"entries": [{"buildId", "functions": N, "path": "<buildId>.json", "sha256": "sha256:<hex>"}],
//!    "schema": "stella.symbols-bundle/v1"}`, entries sorted by `buildId`, `sha256` that of the
//!    member's bytes;
//! 2. one member per entry, in the same order: `<buildId>.json`, the table's canonical JSON.
//!
//! Every member is a plain ustar regular file with mode `0644`, uid and gid 0, empty user and
//! group names and mtime 0; the archive ends with the two zero blocks tar asks for.
//!
//! [`read`] takes bundles from registries, that is from anyone: it accepts exactly that shape
//! and refuses everything else with [`BinaryError::Bundle`] naming the member — links,
//! directories and tar extension headers, names with `/` or `..` or of any other form, members
//! the index does not list or whose SHA-256 differs from it, duplicates, members the index lists
//! but the archive lacks (a truncated download), invalid tables, and sizes over [`Limits`].
//!
//! What this module does not own: pushing or pulling bundles (`stella-oci`), or the symbol
//! tables themselves ([`super`]).

use std::collections::BTreeMap;
use std::io::Read as _;

use serde::{Deserialize, Serialize};
use stella_core::Digest;

use super::{BUNDLE_SCHEMA, SymbolTable, is_build_id};
use crate::BinaryError;

/// Name of the index member.
pub const INDEX: &str = "index.json";

/// Default [`Limits::max_bytes`]: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Default [`Limits::max_members`]: a million binaries.
pub const DEFAULT_MAX_MEMBERS: usize = 1_000_000;
/// Default [`Limits::max_member_bytes`]: 256 MiB (the table of a 1 GB C++ library is about a
/// tenth of that).
pub const DEFAULT_MAX_MEMBER_BYTES: u64 = 256 << 20;

/// Bounds [`read`] holds an untrusted bundle to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bundle, in bytes.
    pub max_bytes: u64,
    /// Most members, the index included.
    pub max_members: usize,
    /// Largest member, in bytes.
    pub max_member_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_members: DEFAULT_MAX_MEMBERS,
            max_member_bytes: DEFAULT_MAX_MEMBER_BYTES,
        }
    }
}

/// `index.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    schema: String,
    entries: Vec<IndexEntry>,
}

/// One table in `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    build_id: String,
    path: String,
    sha256: String,
    functions: u64,
}

fn bundle_error(member: Option<&str>, reason: impl Into<String>) -> BinaryError {
    BinaryError::Bundle {
        member: member.map(str::to_owned),
        reason: reason.into(),
    }
}

/// The bundle of `tables`, as tar bytes.
///
/// Tables sharing a build id are one binary seen twice (the same file in two layers) or two
/// files that claim the same id; the bundle keeps one table per build id: the one with the
/// smallest `fileSha256` (then the smallest JSON), so the choice does not depend on the order
/// of `tables`.
///
/// # Errors
/// [`BinaryError::SymbolTable`] when a table is not valid ([`SymbolTable::validate`]);
/// [`BinaryError::Bundle`] only if a valid table still cannot be put in the archive.
pub fn write(tables: &[SymbolTable]) -> Result<Vec<u8>, BinaryError> {
    let mut chosen: BTreeMap<&str, (&str, Vec<u8>, usize)> = BTreeMap::new();
    for table in tables {
        let json = table.to_canonical_json()?;
        let candidate = (table.file_sha256.as_str(), json, table.functions.len());
        match chosen.get(table.build_id.as_str()) {
            Some(kept) if (kept.0, &kept.1) <= (candidate.0, &candidate.1) => {}
            _ => {
                chosen.insert(&table.build_id, candidate);
            }
        }
    }
    let entries: Vec<IndexEntry> = chosen
        .iter()
        .map(|(&build_id, (_, json, functions))| IndexEntry {
            build_id: build_id.to_owned(),
            path: format!("{build_id}.json"),
            sha256: Digest::sha256(json).to_string(),
            functions: *functions as u64,
        })
        .collect();
    let index = Index {
        schema: BUNDLE_SCHEMA.to_owned(),
        entries,
    };
    let index_json = stella_core::jcs::to_canonical(&index).map_err(|e| BinaryError::Bundle {
        member: Some(INDEX.to_owned()),
        reason: e.to_string(),
    })?;
    let mut tar = tar::Builder::new(Vec::new());
    append(&mut tar, INDEX, &index_json)?;
    for (entry, (_, json, _)) in index.entries.iter().zip(chosen.values()) {
        append(&mut tar, &entry.path, json)?;
    }
    tar.into_inner()
        .map_err(|e| bundle_error(None, format!("finishing the archive: {e}")))
}

fn append(tar: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) -> Result<(), BinaryError> {
    append_fixed(tar, name, bytes).map_err(|e| bundle_error(Some(name), e.to_string()))
}

/// Appends the regular file `name` with `bytes` as every deterministic archive of Stella does
/// (the symbol bundle, the auditor's pack): ustar, mode 0644, owner 0:0 without names, mtime 0,
/// so the same members give the same bytes.
///
/// # Errors
/// When the name cannot be spelled in a ustar header, or the archive cannot be written.
pub fn append_fixed<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_username("")?;
    header.set_groupname("")?;
    header.set_device_major(0)?;
    header.set_device_minor(0)?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append(&header, bytes)
}

/// Checks a member's name: `index.json` or `<buildId>.json`, nothing that could be a path.
fn member_name(raw: &[u8]) -> Result<String, BinaryError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let name =
        std::str::from_utf8(raw).map_err(|_| bundle_error(Some(&shown), "name is not UTF-8"))?;
    if name.contains(['/', '\\']) || name.contains("..") {
        return Err(bundle_error(
            Some(name),
            "name is a path; members are plain file names",
        ));
    }
    let is_table = name.strip_suffix(".json").is_some_and(is_build_id);
    if name != INDEX && !is_table {
        return Err(bundle_error(
            Some(name),
            "name is neither index.json nor <buildId>.json (lower-case hex or sha256-<hex>)",
        ));
    }
    Ok(name.to_owned())
}

fn read_index(bytes: &[u8], limits: &Limits) -> Result<BTreeMap<String, IndexEntry>, BinaryError> {
    let bad = |reason: String| bundle_error(Some(INDEX), reason);
    let json_limits = stella_core::jcs::Limits {
        max_bytes: usize::try_from(limits.max_member_bytes).unwrap_or(usize::MAX),
        ..Default::default()
    };
    let value = stella_core::jcs::parse_with(bytes, json_limits).map_err(|e| bad(e.to_string()))?;
    let index: Index = serde_json::from_value(value.to_serde()).map_err(|e| bad(e.to_string()))?;
    if index.schema != BUNDLE_SCHEMA {
        return Err(bad(format!(
            "schema is {:?}, expected {BUNDLE_SCHEMA:?}",
            index.schema
        )));
    }
    if index.entries.len() >= limits.max_members {
        return Err(bad(format!(
            "lists {} tables; the limit is {} members, the index included",
            index.entries.len(),
            limits.max_members
        )));
    }
    let mut by_path = BTreeMap::new();
    let mut previous: Option<&str> = None;
    for entry in &index.entries {
        if !is_build_id(&entry.build_id) {
            return Err(bad(format!(
                "buildId {:?} is not a build id",
                entry.build_id
            )));
        }
        if previous.is_some_and(|p| p >= entry.build_id.as_str()) {
            return Err(bad(format!(
                "entries are not sorted by buildId without repeats at {:?}",
                entry.build_id
            )));
        }
        previous = Some(&entry.build_id);
        if entry.path != format!("{}.json", entry.build_id) {
            return Err(bad(format!(
                "entry {:?} names path {:?}, expected {:?}",
                entry.build_id,
                entry.path,
                format!("{}.json", entry.build_id)
            )));
        }
        let digest = entry.sha256.parse::<Digest>().ok();
        if digest.is_none_or(|d| d.algorithm() != stella_core::digest::Algorithm::Sha256) {
            return Err(bad(format!(
                "entry {:?} has sha256 {:?}, not sha256:<64 hex>",
                entry.build_id, entry.sha256
            )));
        }
        by_path.insert(entry.path.clone(), entry.clone());
    }
    Ok(by_path)
}

/// Reads a bundle from untrusted bytes; the tables come back sorted by build id.
///
/// # Errors
/// [`BinaryError::Bundle`] for anything but the layout [`write()`] produces (see the module
/// documentation), naming the member concerned when there is one.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Vec<SymbolTable>, BinaryError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(bundle_error(
            None,
            format!(
                "{} bytes, larger than the limit of {} bytes",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    let damaged =
        |e: std::io::Error| bundle_error(None, format!("not a tar archive, or damaged: {e}"));
    let mut archive = tar::Archive::new(bytes);
    // Raw: extension headers (PAX, GNU long names) are members like any other, and refused.
    let entries = archive.entries().map_err(damaged)?.raw(true);
    let mut index: Option<BTreeMap<String, IndexEntry>> = None;
    let mut tables: BTreeMap<String, SymbolTable> = BTreeMap::new();
    let mut members = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(damaged)?;
        members += 1;
        if members > limits.max_members {
            return Err(bundle_error(
                None,
                format!("more than {} members", limits.max_members),
            ));
        }
        let name = member_name(&entry.path_bytes())?;
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(bundle_error(
                Some(&name),
                format!(
                    "is not a regular file (tar type {:?})",
                    char::from(kind.as_byte())
                ),
            ));
        }
        let size = entry.size();
        if size > limits.max_member_bytes {
            return Err(bundle_error(
                Some(&name),
                format!(
                    "{size} bytes, larger than the limit of {} bytes",
                    limits.max_member_bytes
                ),
            ));
        }
        let mut content = Vec::new();
        (&mut entry)
            .take(size)
            .read_to_end(&mut content)
            .map_err(|e| bundle_error(Some(&name), format!("unreadable: {e}")))?;
        if content.len() as u64 != size {
            return Err(bundle_error(
                Some(&name),
                format!(
                    "truncated: the header says {size} bytes, the archive holds {}",
                    content.len()
                ),
            ));
        }
        let Some(listed) = &index else {
            if name != INDEX {
                return Err(bundle_error(
                    Some(&name),
                    "comes before index.json, which must be the first member",
                ));
            }
            index = Some(read_index(&content, limits)?);
            continue;
        };
        let Some(expected) = listed.get(&name) else {
            let why = if name == INDEX {
                "appears twice"
            } else {
                "is not listed in index.json"
            };
            return Err(bundle_error(Some(&name), why));
        };
        if tables.contains_key(&expected.build_id) {
            return Err(bundle_error(Some(&name), "appears twice"));
        }
        let actual = Digest::sha256(&content).to_string();
        if actual != expected.sha256 {
            return Err(bundle_error(
                Some(&name),
                format!("has sha256 {actual}, index.json says {}", expected.sha256),
            ));
        }
        let max = usize::try_from(limits.max_member_bytes).unwrap_or(usize::MAX);
        let table = SymbolTable::from_json_limited(&content, max)
            .map_err(|e| bundle_error(Some(&name), e.to_string()))?;
        if table.build_id != expected.build_id {
            return Err(bundle_error(
                Some(&name),
                format!("holds the table of build id {:?}", table.build_id),
            ));
        }
        if table.functions.len() as u64 != expected.functions {
            return Err(bundle_error(
                Some(&name),
                format!(
                    "has {} functions, index.json says {}",
                    table.functions.len(),
                    expected.functions
                ),
            ));
        }
        tables.insert(table.build_id.clone(), table);
    }
    let Some(listed) = index else {
        return Err(bundle_error(
            None,
            "no index.json: empty, or not a symbol bundle",
        ));
    };
    if let Some(missing) = listed.values().find(|e| !tables.contains_key(&e.build_id)) {
        return Err(bundle_error(
            Some(&missing.path),
            "is listed in index.json but not in the archive (truncated?)",
        ));
    }
    Ok(tables.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_plain_and_of_two_forms() {
        assert_eq!(member_name(b"index.json").unwrap(), "index.json");
        assert!(member_name(b"0123abcd.json").is_ok());
        assert!(member_name(format!("sha256-{}.json", "f".repeat(64)).as_bytes()).is_ok());
        for bad in [
            &b"../x.json"[..],
            b"..",
            b"a/0123.json",
            b"/etc/passwd",
            b"0123..json",
            b"ab\\cd.json",
            b"ABCD.json",
            b".json",
            b"0123.JSON",
            b"0123.json.gz",
            b"index.json/",
            b"\xff.json",
            b"",
        ] {
            assert!(
                member_name(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn an_empty_bundle_is_an_index_alone() {
        let bytes = write(&[]).unwrap();
        assert_eq!(bytes.len() % 512, 0);
        assert!(read(&bytes, &Limits::default()).unwrap().is_empty());
        let header = tar::Header::from_byte_slice(&bytes[..512]);
        assert_eq!(&*header.path_bytes(), b"index.json");
        assert_eq!(header.mode().unwrap(), 0o644);
        assert_eq!(header.mtime().unwrap(), 0);
        assert_eq!(header.username_bytes(), Some(&b""[..]));
        let index = br#"{"entries":[],"schema":"stella.symbols-bundle/v1"}"#;
        assert_eq!(header.size().unwrap(), index.len() as u64);
        assert_eq!(&bytes[512..512 + index.len()], index);
        // Header, one data block, two zero blocks.
        assert_eq!(bytes.len(), 4 * 512);
    }

    #[test]
    fn size_and_count_limits_hold() {
        let bytes = write(&[]).unwrap();
        let tight = Limits {
            max_bytes: bytes.len() as u64 - 1,
            ..Limits::default()
        };
        let err = read(&bytes, &tight).unwrap_err().to_string();
        assert!(err.contains("larger than the limit"), "{err}");
        let no_members = Limits {
            max_members: 0,
            ..Limits::default()
        };
        let err = read(&bytes, &no_members).unwrap_err().to_string();
        assert!(err.contains("more than 0 members"), "{err}");
        let small_members = Limits {
            max_member_bytes: 8,
            ..Limits::default()
        };
        let err = read(&bytes, &small_members).unwrap_err().to_string();
        assert!(err.contains("index.json") && err.contains("limit"), "{err}");
    }
}
