//! Installed Python distributions: every `*.dist-info` directory directly under a
//! `site-packages` or `dist-packages` directory, found by one walk of the root that does not
//! follow symlinks.
//!
//! From `METADATA` (core metadata, an RFC 822 header block): `Name`, `Version`, the licence
//! (`License-Expression`, else a one-line `License` of at most [`MAX_LICENSE_FIELD`] characters —
//! many projects paste whole licence texts there), and the `Requires-Dist` entries without an
//! `extra` marker, resolved against what is installed (other environment markers are not
//! evaluated). From `RECORD` (CSV): the files, relative to the `site-packages` directory (they
//! may start with `../`), resolved inside the root. Not here: `.egg-info`, wheels or sdists.

use std::collections::BTreeMap;

use walkdir::WalkDir;

use super::{Ecosystem, Found, Package, Reader, build_purl, paragraphs, pep503_normalise};
use crate::SbomError;

/// Longest free-text `License` value taken as a licence name.
pub const MAX_LICENSE_FIELD: usize = 256;

/// Deepest directory the walk enters (far below any real layout; bounds the walk's stack).
const MAX_WALK_DEPTH: usize = 64;

/// One distribution, before its requirements are resolved.
struct Dist {
    package: Package,
    requires: Vec<String>,
    linked: Vec<String>,
}

/// Finds and reads every `dist-info` directory.
pub(super) fn read(reader: &mut Reader<'_>) -> Result<(), SbomError> {
    let mut dirs = Vec::new();
    let mut unreadable = 0usize;
    let root = reader.resolver.root().to_path_buf();
    let mut walk = WalkDir::new(&root)
        .follow_links(false)
        .max_depth(MAX_WALK_DEPTH)
        .into_iter();
    while let Some(entry) = walk.next() {
        let Ok(entry) = entry else {
            unreadable += 1;
            continue;
        };
        if !entry.file_type().is_dir() {
            continue;
        }
        let is_dist_info = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(".dist-info"));
        if !is_dist_info {
            continue;
        }
        walk.skip_current_dir();
        let in_site_packages = entry
            .path()
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "site-packages" || n == "dist-packages");
        let relative = entry
            .path()
            .strip_prefix(&root)
            .ok()
            .and_then(|p| p.to_str());
        if let (true, Some(relative)) = (in_site_packages, relative) {
            dirs.push(relative.to_owned());
        }
    }
    if unreadable > 0 {
        let message = format!(
            "{unreadable} entries could not be read while looking for Python distributions"
        );
        reader.warn("/", None, message);
    }
    dirs.sort();

    let mut dists = Vec::new();
    for dir in dirs {
        if let Some(dist) = dist_info(reader, &dir)? {
            dists.push(dist);
            reader.ensure_room(dists.len(), &dir)?;
        }
    }

    let mut by_name: BTreeMap<String, &str> = BTreeMap::new();
    for d in &dists {
        by_name
            .entry(pep503_normalise(&d.package.name))
            .or_insert(d.package.name.as_str());
    }
    let resolved: Vec<Vec<String>> = dists
        .iter()
        .map(|d| {
            d.requires
                .iter()
                .filter_map(|r| by_name.get(r).map(|n| (*n).to_owned()))
                .filter(|n| *n != d.package.name)
                .collect()
        })
        .collect();
    for (mut d, depends) in dists.into_iter().zip(resolved) {
        d.package.depends = depends;
        reader.add(Found {
            package: d.package,
            linked: d.linked,
        })?;
    }
    Ok(())
}

/// Reads one `dist-info` directory (`dir` relative to the root).
fn dist_info(reader: &mut Reader<'_>, dir: &str) -> Result<Option<Dist>, SbomError> {
    let metadata_path = format!("{dir}/METADATA");
    let Some(bytes) = reader.read_database(&metadata_path)? else {
        reader.warn(dir, None, "no METADATA; distribution skipped");
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let headers = paragraphs(&text, true);
    let Some(header) = headers.first() else {
        reader.warn(&metadata_path, None, "empty; distribution skipped");
        return Ok(None);
    };
    if let Some((line, why)) = &header.error {
        reader.warn(
            &metadata_path,
            Some(*line),
            format!("{why}; distribution skipped"),
        );
        return Ok(None);
    }
    let name = header.get("Name").filter(|n| !n.is_empty());
    let version = header.get("Version").filter(|v| !v.is_empty());
    let (Some(name), Some(version)) = (name, version) else {
        reader.warn(
            &metadata_path,
            Some(1),
            "no Name or Version; distribution skipped",
        );
        return Ok(None);
    };
    let normalised = pep503_normalise(name);
    let Some(purl) = build_purl("pypi", None, &normalised, version, &[]) else {
        let message = format!("{name:?} {version:?} makes no valid purl; distribution skipped");
        reader.warn(&metadata_path, None, message);
        return Ok(None);
    };
    let license = header
        .get("License-Expression")
        .filter(|l| !l.is_empty())
        .or_else(|| {
            header.get("License").filter(|l| {
                !l.is_empty()
                    && !l.contains('\n')
                    && l.len() <= MAX_LICENSE_FIELD
                    && !l.eq_ignore_ascii_case("UNKNOWN")
            })
        });
    let requires = header
        .get_all("Requires-Dist")
        .filter_map(requirement_name)
        .collect();

    let mut files = Vec::new();
    let mut linked = Vec::new();
    let site_packages = dir.rsplit_once('/').map_or("", |(parent, _)| parent);
    let record_path = format!("{dir}/RECORD");
    if let Some(bytes) = reader.read_database(&record_path)? {
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            let path = first_csv_field(line);
            if path.is_empty() {
                continue;
            }
            let absolute = if path.starts_with('/') {
                path
            } else {
                format!("/{site_packages}/{path}")
            };
            reader.claim(&absolute, &mut files, &mut linked);
        }
    }

    Ok(Some(Dist {
        package: Package {
            ecosystem: Ecosystem::Pypi,
            name: name.to_owned(),
            version: version.to_owned(),
            arch: None,
            purl,
            supplier: None,
            licenses: license.map(str::to_owned).into_iter().collect(),
            depends: Vec::new(),
            files,
            source: metadata_path,
        },
        requires,
        linked,
    }))
}

/// The normalised project name of a `Requires-Dist` value, unless it only applies to an extra.
fn requirement_name(value: &str) -> Option<String> {
    let (requirement, marker) = value.split_once(';').unwrap_or((value, ""));
    if marker.contains("extra") {
        return None;
    }
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    let name = requirement.get(..end)?.trim();
    (!name.is_empty()).then(|| pep503_normalise(name))
}

/// The first field of a CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote).
fn first_csv_field(line: &str) -> String {
    let Some(quoted) = line.strip_prefix('"') else {
        return line.split(',').next().unwrap_or_default().to_owned();
    };
    let mut out = String::new();
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                out.push('"');
                chars.next();
            } else {
                break;
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_and_csv() {
        assert_eq!(
            requirement_name("python-dateutil>=2.7.0").as_deref(),
            Some("python-dateutil")
        );
        assert_eq!(
            requirement_name("Typing_Extensions (>=4) ; python_version < \"3.9\"").as_deref(),
            Some("typing-extensions")
        );
        assert_eq!(requirement_name("pytest ; extra == 'test'"), None);
        assert_eq!(
            requirement_name("jsonschema[format]>=4").as_deref(),
            Some("jsonschema")
        );
        assert_eq!(first_csv_field("a/b.py,sha256=x,12"), "a/b.py");
        assert_eq!(first_csv_field("\"a,\"\"b\"\".py\",,"), "a,\"b\".py");
        assert_eq!(first_csv_field(""), "");
    }
}
