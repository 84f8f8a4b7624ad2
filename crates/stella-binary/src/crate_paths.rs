//! Rust crates named by the registry source paths compiled into a binary.
//!
//! Cargo unpacks every registry crate to `…/registry/src/<registry>-<hash>/<name>-<version>/`,
//! and rustc writes those paths into the binary: panic locations in `.rodata`, file names in
//! DWARF. Even a binary built without `cargo auditable`, or stripped of its symbols, keeps the
//! panic locations — so the crates (and their exact versions) compiled into it can be named.
//!
//! [`crates_in`] scans the bytes for `index.crates.io-<hex>/` (the sparse index, Cargo 1.68 and
//! later) and `github.com-<hex>/` (the git index before it), and reads the directory that
//! follows as `<name>-<version>`: the split is the first `-` after which a SemVer version
//! parses (crate names may hold `-`, versions may too). Each crate is reported once, with the
//! registry directory it came from and how many paths named it.
//!
//! What this module does not own: `cargo auditable` data ([`crate::inspect`]), turning crates
//! into SBOM components (`stella-sbom`), or matching advisories (`stella-advisory`).

use std::collections::BTreeMap;

/// Most distinct crates reported for one binary.
pub const MAX_CRATES: usize = 10_000;

/// Longest `<name>-<version>` directory read.
const MAX_COMPONENT: usize = 128;

/// The registry directory prefixes, each followed by hex digits and `/`.
const REGISTRIES: [&[u8]; 2] = [b"index.crates.io-", b"github.com-"];

/// A crate compiled into the binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrateFromPath {
    /// The crate's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The registry directory (`index.crates.io-1949cf8c6b5b557f`).
    pub registry: String,
    /// How many paths in the binary name it.
    pub paths: usize,
}

/// The crates whose registry source paths appear in `data`, sorted by name and version.
pub fn crates_in(data: &[u8]) -> Vec<CrateFromPath> {
    let mut found: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    for registry in REGISTRIES {
        for start in memchr::memmem::find_iter(data, registry) {
            let Some((dir, component)) = component_after(data, start, registry.len()) else {
                continue;
            };
            let Some((name, version)) = split_name_version(component) else {
                continue;
            };
            if found.len() >= MAX_CRATES && !found.contains_key(&(name.clone(), version.clone())) {
                continue;
            }
            found.entry((name, version)).or_insert_with(|| (dir, 0)).1 += 1;
        }
    }
    found
        .into_iter()
        .map(|((name, version), (registry, paths))| CrateFromPath {
            name,
            version,
            registry,
            paths,
        })
        .collect()
}

/// The registry directory (`<prefix><hex>`) at `start` and the path component after its `/`.
fn component_after(data: &[u8], start: usize, prefix: usize) -> Option<(String, &str)> {
    let hex_start = start + prefix;
    let hex_len = data
        .get(hex_start..)?
        .iter()
        .take(64)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if hex_len < 8 || data.get(hex_start + hex_len) != Some(&b'/') {
        return None;
    }
    let dir = std::str::from_utf8(data.get(start..hex_start + hex_len)?).ok()?;
    let comp_start = hex_start + hex_len + 1;
    let comp_len = data
        .get(comp_start..)?
        .iter()
        .take(MAX_COMPONENT + 1)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
        .count();
    if comp_len == 0 || comp_len > MAX_COMPONENT {
        return None;
    }
    // The component must end the directory: a `/` follows (a file in the crate).
    if data.get(comp_start + comp_len) != Some(&b'/') {
        return None;
    }
    let component = std::str::from_utf8(data.get(comp_start..comp_start + comp_len)?).ok()?;
    Some((dir.to_owned(), component))
}

/// `serde_json-1.0.107` → (`serde_json`, `1.0.107`): the first `-` after which a SemVer version
/// parses.
fn split_name_version(component: &str) -> Option<(String, String)> {
    component.match_indices('-').find_map(|(i, _)| {
        let (name, version) = (&component[..i], &component[i + 1..]);
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        (valid_name && semver::Version::parse(version).is_ok())
            .then(|| (name.to_owned(), version.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_split_where_a_version_begins() {
        for (component, expected) in [
            ("serde_json-1.0.107", Some(("serde_json", "1.0.107"))),
            ("aho-corasick-1.1.5", Some(("aho-corasick", "1.1.5"))),
            ("foo-bar-1.0.0-alpha.1", Some(("foo-bar", "1.0.0-alpha.1"))),
            ("no-version", None),
            ("-1.0.0", None),
        ] {
            let got = split_name_version(component);
            assert_eq!(
                got.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
                expected,
                "{component}"
            );
        }
    }

    #[test]
    fn paths_in_bytes_name_each_crate_once() {
        let data = b"\0/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.228/src/de/mod.rs\0\
            index.crates.io-1949cf8c6b5b557f/serde-1.0.228/src/ser/mod.rs\0\
            github.com-1ecc6299db9ec823/libc-0.2.150/src/unix/mod.rs\0\
            index.crates.io-1949cf8c6b5b557f/broken\0index.crates.io-zz/x-1.0.0/\0";
        let crates = crates_in(data);
        assert_eq!(crates.len(), 2, "{crates:?}");
        assert_eq!(
            (crates[0].name.as_str(), crates[0].version.as_str()),
            ("libc", "0.2.150")
        );
        assert_eq!(crates[1].name, "serde");
        assert_eq!(crates[1].paths, 2);
        assert_eq!(crates[1].registry, "index.crates.io-1949cf8c6b5b557f");
    }
}
