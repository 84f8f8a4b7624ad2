//! The apk database, `lib/apk/db/installed` (Alpine, Wolfi, Chainguard images).
//!
//! One paragraph per package, one `K:value` line per field (single-letter keys): `P` name, `V`
//! version, `A` arch, `L` licence, `m` maintainer, `D` dependencies, `p` provides, `F` a
//! directory and the `R` files under it. Dependencies name packages or virtual names (`so:`,
//! `cmd:`, `pc:` …) that other packages `p`rovide; conflicts (`!name`) are ignored; `o`, the
//! origin (source) package, becomes the purl's `upstream` qualifier when it differs from the
//! name, and the release the `distro` qualifier (`alpine-3.19.1`), which Alpine's advisories
//! are keyed by. The checksums are not used. Not here: the apk index or repositories.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Ecosystem, Found, OsRelease, Package, Reader, build_purl};
use crate::SbomError;

const INSTALLED: &str = "lib/apk/db/installed";

/// One package paragraph.
#[derive(Default)]
struct Entry {
    line: usize,
    name: String,
    version: String,
    arch: Option<String>,
    license: Option<String>,
    maintainer: Option<String>,
    origin: Option<String>,
    depends: Vec<String>,
    provides: Vec<String>,
    /// Listed paths (absolute).
    paths: Vec<String>,
    error: Option<(usize, String)>,
}

/// Reads the apk database, when there is one.
pub(super) fn read(reader: &mut Reader<'_>, os: Option<&OsRelease>) -> Result<(), SbomError> {
    let Some(bytes) = reader.read_database(INSTALLED)? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut entries = Vec::new();
    for entry in parse(&text) {
        if let Some((line, why)) = &entry.error {
            let message = format!("{why}; paragraph starting at line {} skipped", entry.line);
            reader.warn(INSTALLED, Some(*line), message);
        } else if entry.name.is_empty() || entry.version.is_empty() {
            let message = "paragraph without P: or V: skipped";
            reader.warn(INSTALLED, Some(entry.line), message);
        } else {
            entries.push(entry);
            reader.ensure_room(entries.len(), INSTALLED)?;
        }
    }

    let installed: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut providers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &entries {
        for p in &e.provides {
            providers
                .entry(strip_constraint(p))
                .or_default()
                .insert(e.name.as_str());
        }
    }
    let resolved: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            e.depends
                .iter()
                .filter(|d| !d.starts_with('!'))
                .filter_map(|d| {
                    let name = strip_constraint(d);
                    if installed.contains(name) {
                        Some(name.to_owned())
                    } else {
                        providers
                            .get(name)
                            .and_then(|p| p.iter().next())
                            .map(|p| (*p).to_owned())
                    }
                })
                .filter(|d| *d != e.name)
                .collect()
        })
        .collect();

    let namespace = os.map_or("alpine", |o| o.id.as_str());
    let distro = os
        .and_then(|o| o.version_id.as_ref().map(|v| format!("{}-{v}", o.id)))
        .unwrap_or_default();
    for (e, depends) in entries.into_iter().zip(resolved) {
        let arch = e.arch.clone().unwrap_or_default();
        let upstream = e
            .origin
            .as_deref()
            .filter(|o| *o != e.name)
            .unwrap_or_default();
        let Some(purl) = build_purl(
            "apk",
            Some(namespace),
            &e.name,
            &e.version,
            &[("arch", &arch), ("distro", &distro), ("upstream", upstream)],
        ) else {
            let message = format!("package {:?} {:?} makes no valid purl", e.name, e.version);
            reader.warn(INSTALLED, Some(e.line), message);
            continue;
        };
        let mut files = Vec::new();
        let mut linked = Vec::new();
        for path in &e.paths {
            reader.claim(path, &mut files, &mut linked);
        }
        reader.add(Found {
            package: Package {
                ecosystem: Ecosystem::Apk,
                name: e.name,
                version: e.version,
                arch: e.arch,
                purl,
                supplier: e.maintainer,
                licenses: e.license.into_iter().collect(),
                depends,
                files,
                source: INSTALLED.to_owned(),
            },
            linked,
        })?;
    }
    Ok(())
}

/// `name>=1.2`, `so:libc.musl-x86_64.so.1=1`, `name@repo` → the bare name.
fn strip_constraint(dep: &str) -> &str {
    dep.split(['=', '<', '>', '~', '@']).next().unwrap_or(dep)
}

/// Splits the database into package paragraphs.
fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut current: Option<Entry> = None;
    let mut folder = String::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            out.extend(current.take());
            folder.clear();
            continue;
        }
        let e = current.get_or_insert_with(|| Entry {
            line: number,
            ..Entry::default()
        });
        if e.error.is_some() {
            continue;
        }
        let (key, value) = match line.split_once(':') {
            Some((k, v)) if k.len() == 1 => (k, v),
            _ => {
                e.error = Some((number, format!("not a `K:value` line: {line:?}")));
                continue;
            }
        };
        let text = || (!value.is_empty()).then(|| value.to_owned());
        match key {
            "P" => e.name = value.to_owned(),
            "V" => e.version = value.to_owned(),
            "A" => e.arch = text(),
            "L" => e.license = text(),
            "m" => e.maintainer = text(),
            "o" => e.origin = text(),
            "D" => e
                .depends
                .extend(value.split_whitespace().map(str::to_owned)),
            "p" => e
                .provides
                .extend(value.split_whitespace().map(str::to_owned)),
            "F" => folder = value.trim_matches('/').to_owned(),
            "R" if !value.is_empty() => e.paths.push(if folder.is_empty() {
                format!("/{value}")
            } else {
                format!("/{folder}/{value}")
            }),
            _ => {}
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_folders_and_constraints() {
        let db = "C:Q1x=\nP:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\nP:busybox\nV:1.36\nD:so:libc.musl-x86_64.so.1 !foo\nR:top\n\nP:bad\nthis is not a field\n";
        let entries = parse(db);
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0].paths,
            ["/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"]
        );
        assert_eq!(entries[1].paths, ["/top"]);
        assert_eq!(entries[2].error.as_ref().map(|e| e.0), Some(17));
        assert_eq!(
            strip_constraint("so:libc.musl-x86_64.so.1=1"),
            "so:libc.musl-x86_64.so.1"
        );
        assert_eq!(strip_constraint("zlib>=1.3"), "zlib");
    }
}
