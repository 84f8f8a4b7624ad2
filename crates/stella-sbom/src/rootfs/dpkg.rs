//! dpkg databases: `var/lib/dpkg/status` with the file lists in `var/lib/dpkg/info`, and the
//! distroless layout (`var/lib/dpkg/status.d/<name>` paragraphs, `status.d/<name>.md5sums` as
//! file lists).
//!
//! A package counts as installed when its `Status` ends in `ok installed` (the first word is the
//! selection — `install`, `hold`, `deinstall` — which does not change what is on disk); distroless
//! paragraphs carry no `Status` and are all installed. `Depends` and `Pre-Depends` are resolved
//! against what is installed: of a group of alternatives the first installed (or provided) one
//! counts; version constraints and `:arch` qualifiers are dropped. Diversions and conffiles are
//! not interpreted. Not here: anything about file contents.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Ecosystem, Found, OsRelease, Package, Paragraph, Reader, build_purl, paragraphs};
use crate::SbomError;

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d";
const INFO: &str = "var/lib/dpkg/info";

/// The fields of one installed package, before its relations are resolved.
struct Control {
    name: String,
    version: String,
    arch: Option<String>,
    depends: Vec<Vec<String>>,
    provides: Vec<String>,
    maintainer: Option<String>,
    /// The source package it was built from, when it differs: `name`, or `name@version` when
    /// the source's version differs from the package's (an epoch only the binary has, a binNMU
    /// `+bN`): what distributions' advisories name and version.
    upstream: Option<String>,
    source: String,
    /// Where its file list is: the `.list` files in `info`, or one `md5sums` file.
    list: FileList,
}

enum FileList {
    Info,
    Md5sums(String),
}

/// Reads both dpkg layouts.
pub(super) fn read(reader: &mut Reader<'_>, os: Option<&OsRelease>) -> Result<(), SbomError> {
    let mut controls = Vec::new();
    if let Some(bytes) = reader.read_database(STATUS)? {
        let text = String::from_utf8_lossy(&bytes);
        for p in paragraphs(&text, false) {
            controls.extend(control(reader, STATUS, &p, true, FileList::Info));
            reader.ensure_room(controls.len(), STATUS)?;
        }
    }
    for name in reader.resolver.list_dir(STATUS_D)? {
        if name.starts_with('.') || name.ends_with(".md5sums") {
            continue;
        }
        let path = format!("{STATUS_D}/{name}");
        let Some(bytes) = reader.read_database(&path)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for p in paragraphs(&text, false) {
            let list = FileList::Md5sums(format!("{path}.md5sums"));
            controls.extend(control(reader, &path, &p, false, list));
            reader.ensure_room(controls.len(), &path)?;
        }
    }

    let installed: HashSet<&str> = controls.iter().map(|c| c.name.as_str()).collect();
    let mut providers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in &controls {
        for virtual_name in &c.provides {
            providers
                .entry(virtual_name.as_str())
                .or_default()
                .insert(c.name.as_str());
        }
    }
    let resolved: Vec<Vec<String>> = controls
        .iter()
        .map(|c| {
            c.depends
                .iter()
                .filter_map(|alternatives| {
                    alternatives.iter().find_map(|alt| {
                        if installed.contains(alt.as_str()) {
                            Some(alt.clone())
                        } else {
                            providers
                                .get(alt.as_str())
                                .and_then(|p| p.iter().next())
                                .map(|p| (*p).to_owned())
                        }
                    })
                })
                .filter(|dep| *dep != c.name)
                .collect()
        })
        .collect();

    for (c, depends) in controls.into_iter().zip(resolved) {
        let namespace = os.map_or("debian", |o| o.id.as_str());
        let distro = os
            .and_then(|o| o.version_id.as_ref().map(|v| format!("{}-{v}", o.id)))
            .unwrap_or_default();
        let arch = c.arch.clone().unwrap_or_default();
        let Some(purl) = build_purl(
            "deb",
            Some(namespace),
            &c.name,
            &c.version,
            &[
                ("arch", &arch),
                ("distro", &distro),
                ("upstream", c.upstream.as_deref().unwrap_or_default()),
            ],
        ) else {
            let message = format!("package {:?} {:?} makes no valid purl", c.name, c.version);
            reader.warn(&c.source, None, message);
            continue;
        };
        let (files, linked) = file_list(reader, &c)?;
        reader.add(Found {
            package: Package {
                ecosystem: Ecosystem::Deb,
                name: c.name,
                version: c.version,
                arch: c.arch,
                purl,
                supplier: c.maintainer,
                licenses: Vec::new(),
                depends,
                files,
                source: c.source,
            },
            linked,
        })?;
    }
    Ok(())
}

/// The installed package a paragraph describes, or `None` (with a warning when it is malformed).
fn control(
    reader: &mut Reader<'_>,
    source: &str,
    p: &Paragraph,
    status_required: bool,
    list: FileList,
) -> Option<Control> {
    if let Some((line, why)) = &p.error {
        let message = format!("{why}; paragraph starting at line {} skipped", p.line);
        reader.warn(source, Some(*line), message);
        return None;
    }
    match p.get("Status") {
        Some(status) => {
            let words: Vec<&str> = status.split_whitespace().collect();
            if words.len() != 3 {
                reader.warn(
                    source,
                    Some(p.line),
                    format!("Status {status:?} is not three words; paragraph skipped"),
                );
                return None;
            }
            if words[1..] != ["ok", "installed"] {
                return None;
            }
        }
        None if status_required => {
            reader.warn(source, Some(p.line), "paragraph without Status skipped");
            return None;
        }
        None => {}
    }
    let name = p.get("Package").filter(|v| !v.is_empty());
    let version = p.get("Version").filter(|v| !v.is_empty());
    let (Some(name), Some(version)) = (name, version) else {
        reader.warn(
            source,
            Some(p.line),
            "paragraph without Package or Version skipped",
        );
        return None;
    };
    let mut depends = relations(p.get("Pre-Depends").unwrap_or_default());
    depends.extend(relations(p.get("Depends").unwrap_or_default()));
    let provides = relations(p.get("Provides").unwrap_or_default())
        .into_iter()
        .flatten()
        .collect();
    Some(Control {
        name: name.to_owned(),
        version: version.to_owned(),
        arch: p
            .get("Architecture")
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        depends,
        provides,
        maintainer: p
            .get("Maintainer")
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        upstream: upstream(name, version, p.get("Source")),
        source: source.to_owned(),
        list,
    })
}

/// The purl's `upstream` qualifier for a package built from `source` (dpkg's `Source: name` or
/// `Source: name (version)`): the source name when it differs from `name`, with `@<version>`
/// when the source's version differs from the package's. Without a version in the field, the
/// source's is the package's less a binNMU suffix (`+b1`), as dpkg-source and Debian policy
/// define binNMUs. `None` when both are the package's own.
fn upstream(name: &str, version: &str, source: Option<&str>) -> Option<String> {
    let field = source.map(str::trim).unwrap_or_default();
    let mut parts = field.splitn(2, char::is_whitespace);
    let source_name = parts.next().filter(|s| !s.is_empty()).unwrap_or(name);
    let source_version = parts
        .next()
        .and_then(|v| v.trim().strip_prefix('('))
        .and_then(|v| v.strip_suffix(')'))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| without_binnmu(version).to_owned());
    match (source_name != name, source_version != version) {
        (_, true) => Some(format!("{source_name}@{source_version}")),
        (true, false) => Some(source_name.to_owned()),
        (false, false) => None,
    }
}

/// `1.2-3+b2` → `1.2-3`: a binary-only rebuild's suffix removed.
fn without_binnmu(version: &str) -> &str {
    match version.rsplit_once("+b") {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => version,
    }
}

/// A relationship field (`a (>= 1) | b:any, c [amd64]`) as groups of alternative package names.
fn relations(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt
                        .trim()
                        .split(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '<'))
                        .next()?;
                    let name = name.split(':').next()?;
                    (!name.is_empty()).then(|| name.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// The files of a package: its `.list` (multi-arch name first) or its `md5sums`.
fn file_list(
    reader: &mut Reader<'_>,
    c: &Control,
) -> Result<(Vec<String>, Vec<String>), SbomError> {
    let (path, bytes) = match &c.list {
        FileList::Info => {
            let mut found = None;
            let arch_list = c
                .arch
                .as_ref()
                .map(|a| format!("{INFO}/{}:{a}.list", c.name));
            for path in arch_list
                .into_iter()
                .chain([format!("{INFO}/{}.list", c.name)])
            {
                if let Some(bytes) = reader.read_database(&path)? {
                    found = Some((path, bytes));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => {
                    let message = format!("no file list for {} in {INFO}", c.name);
                    reader.warn(&c.source, None, message);
                    return Ok((Vec::new(), Vec::new()));
                }
            }
        }
        FileList::Md5sums(path) => match reader.read_database(path)? {
            Some(bytes) => (path.clone(), bytes),
            None => return Ok((Vec::new(), Vec::new())),
        },
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut files = Vec::new();
    let mut linked = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = match c.list {
            FileList::Info => line.to_owned(),
            FileList::Md5sums(_) => {
                let Some((_, rest)) = line.split_once(char::is_whitespace) else {
                    if !line.trim().is_empty() {
                        reader.warn(&path, Some(i + 1), "not a `md5  path` line");
                    }
                    continue;
                };
                format!("/{}", rest.trim_start())
            }
        };
        if !entry.trim().is_empty() {
            reader.claim(&entry, &mut files, &mut linked);
        }
    }
    Ok((files, linked))
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_source_package_and_its_version_go_in_upstream() {
        let up = |name, version, source| super::upstream(name, version, source);
        assert_eq!(
            up("zlib1g", "1:1.2.13.dfsg-1", Some("zlib")),
            Some("zlib".to_owned())
        );
        assert_eq!(
            up(
                "bsdutils",
                "1:2.38.1-5+deb12u3",
                Some("util-linux (2.38.1-5+deb12u3)")
            ),
            Some("util-linux@2.38.1-5+deb12u3".to_owned())
        );
        assert_eq!(
            up("bash", "5.2.15-2+b2", None),
            Some("bash@5.2.15-2".to_owned())
        );
        assert_eq!(
            up("libfoo1", "1.0-1+b1", Some("foo")),
            Some("foo@1.0-1".to_owned())
        );
        assert_eq!(up("tar", "1.34+dfsg-1.2", None), None);
        assert_eq!(up("tar", "1.34+dfsg-1.2", Some("tar")), None);
        assert_eq!(up("x", "1+bad", None), None, "not a binNMU suffix");
    }

    use super::*;

    #[test]
    fn relations_drop_versions_and_arch() {
        assert_eq!(
            relations(
                "libc6 (>= 2.36), default-mta | mail-transport-agent, python3:any (>= 3.11~), foo [amd64] <!nocheck>"
            ),
            vec![
                vec!["libc6".to_owned()],
                vec!["default-mta".to_owned(), "mail-transport-agent".to_owned()],
                vec!["python3".to_owned()],
                vec!["foo".to_owned()],
            ]
        );
        assert!(relations("").is_empty());
    }
}
