//! The package inventory of an unpacked root filesystem: which packages its databases say are
//! installed, which files each owns, and what each depends on.
//!
//! Databases read (every path resolved inside the root, see [`resolve_in_root`]):
//! - dpkg: `var/lib/dpkg/status` with `var/lib/dpkg/info/<name>[:<arch>].list`, and the
//!   distroless form `var/lib/dpkg/status.d/<name>` with `status.d/<name>.md5sums`;
//! - apk: `lib/apk/db/installed`;
//! - Python: every `*.dist-info` directory directly under a `site-packages` or `dist-packages`
//!   directory (`METADATA`, `RECORD`);
//! - `etc/os-release` (or `usr/lib/os-release`) for the distribution, which names deb and apk
//!   purls.
//!
//! A package's [`Package::files`] are the regular files its database lists, as the root
//! filesystem resolves them: directories are left out, a listed path whose directories go
//! through symlinks (`/lib` → `usr/lib`) is recorded at its real place, and a listed symlink
//! gives the package its target only when no package lists that target itself. Paths that no
//! longer exist are dropped.
//!
//! What this module does not do: look at file contents (binaries are analysed elsewhere), guess
//! packages from file names, or read RPM databases. Malformed entries become
//! [`Inventory::warnings`] naming the file and line; only I/O failures and the
//! [`InventoryLimits`] stop a read.

mod apk;
mod dpkg;
mod os_release;
mod paths;
mod python;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::SbomError;
pub(crate) use paths::{FollowFinal, Kind, Resolver};
pub use paths::{MAX_SYMLINK_HOPS, resolve_in_root};

/// Default for [`InventoryLimits::max_database_bytes`]: 256 MiB.
pub const MAX_DATABASE_BYTES: u64 = 256 * 1024 * 1024;

/// Default for [`InventoryLimits::max_packages`].
pub const MAX_PACKAGES: usize = 200_000;

/// The package ecosystem a database belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian packages (dpkg).
    Deb,
    /// Alpine packages (apk).
    Apk,
    /// Python distributions (`.dist-info`).
    Pypi,
}

/// The distribution, from `os-release(5)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID` (lower-case; `linux` when the file has none, as os-release(5) says).
    pub id: String,
    /// `VERSION_ID`.
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// The database it comes from.
    pub ecosystem: Ecosystem,
    /// Name as the database writes it.
    pub name: String,
    /// Version as the database writes it.
    pub version: String,
    /// Architecture (`amd64`, `x86_64`, `all`); none for Python.
    pub arch: Option<String>,
    /// Package URL: `pkg:deb/<os id>/<name>@<version>?arch=<arch>&distro=<id>-<version_id>`
    /// with `&upstream=<source package>[@<source version>]` when the source package has another
    /// name or version (as syft writes it; distributions' advisories name and version source
    /// packages), (namespace `debian` without
    /// os-release), `pkg:apk/<os id>/<name>@<version>?arch=<arch>`
    /// (namespace `alpine` without os-release), `pkg:pypi/<PEP 503 name>@<version>`.
    pub purl: String,
    /// Who supplies it, as the database states it (dpkg `Maintainer`, apk `m:`); none for Python.
    pub supplier: Option<String>,
    /// Licences the database states (apk `L:`, Python `License-Expression` or a one-line
    /// `License`); dpkg states none.
    pub licenses: Vec<String>,
    /// Names of the installed packages it depends on, resolved (alternatives → the first one
    /// installed, virtual names → their provider), sorted, without itself.
    pub depends: Vec<String>,
    /// Absolute paths of the regular files it owns, as resolved inside the root; sorted, unique.
    pub files: Vec<String>,
    /// The database file it came from, relative to the root (`var/lib/dpkg/status`).
    pub source: String,
}

/// Everything the package databases of a root filesystem say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// The distribution, when the root has an os-release file.
    pub os: Option<OsRelease>,
    /// Installed packages, sorted by purl (then source).
    pub packages: Vec<Package>,
    /// What could not be read, each naming the file (and line).
    pub warnings: Vec<String>,
}

impl Inventory {
    /// The package that owns the regular file at `path` (an absolute path inside the root as a
    /// walk that does not follow symlinks finds it, e.g. `/usr/lib/x86_64-linux-gnu/libc.so.6`).
    ///
    /// When several packages list the file, a Python distribution wins over an OS package (its
    /// `RECORD` names the file more precisely than the OS package that installed the whole
    /// tree), then the first by purl.
    pub fn owner_of(&self, path: &str) -> Option<&Package> {
        self.owner_index(path).and_then(|i| self.packages.get(i))
    }

    /// Index into [`Inventory::packages`] of [`Inventory::owner_of`].
    fn owner_index(&self, path: &str) -> Option<usize> {
        let owns = |p: &Package| p.files.binary_search_by(|f| f.as_str().cmp(path)).is_ok();
        let position = |python: bool| {
            self.packages
                .iter()
                .position(|p| (p.ecosystem == Ecosystem::Pypi) == python && owns(p))
        };
        position(true).or_else(|| position(false))
    }

    /// Every owned path → the index of its owner, as [`Inventory::owner_of`] decides: for many
    /// look-ups at once.
    pub(crate) fn owners(&self) -> HashMap<&str, usize> {
        let mut out = HashMap::new();
        for python in [true, false] {
            for (i, p) in self.packages.iter().enumerate() {
                if (p.ecosystem == Ecosystem::Pypi) == python {
                    for f in &p.files {
                        out.entry(f.as_str()).or_insert(i);
                    }
                }
            }
        }
        out
    }
}

/// Bounds on what a root filesystem's databases may make the reader do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryLimits {
    /// Largest single database file read (a status file, a file list, a `RECORD`).
    pub max_database_bytes: u64,
    /// Most packages, all databases together.
    pub max_packages: usize,
}

impl Default for InventoryLimits {
    fn default() -> Self {
        InventoryLimits {
            max_database_bytes: MAX_DATABASE_BYTES,
            max_packages: MAX_PACKAGES,
        }
    }
}

/// Reads every package database under `root`.
///
/// # Errors
/// [`SbomError::NotADirectory`] when `root` is not a directory; [`SbomError::Io`] when it does
/// not exist or an existing database cannot be read;
/// [`SbomError::DatabaseTooLarge`] and [`SbomError::TooManyPackages`] when a limit is reached.
/// Malformed entries are warnings, not errors.
pub fn read_inventory(root: &Path, limits: &InventoryLimits) -> Result<Inventory, SbomError> {
    let meta = std::fs::metadata(root).map_err(|source| SbomError::Io {
        path: root.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(SbomError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut reader = Reader {
        resolver: Resolver::new(root),
        limits: *limits,
        warnings: Vec::new(),
        found: Vec::new(),
    };
    let os = os_release::read(&mut reader)?;
    dpkg::read(&mut reader, os.as_ref())?;
    apk::read(&mut reader, os.as_ref())?;
    python::read(&mut reader)?;
    let Reader {
        warnings, found, ..
    } = reader;
    Ok(Inventory {
        os,
        packages: settle(found),
        warnings,
    })
}

/// A package as a database reader found it, before ownership of symlink targets is settled.
pub(crate) struct Found {
    pub package: Package,
    /// Targets of the symlinks its database lists.
    pub linked: Vec<String>,
}

/// State shared by the database readers.
pub(crate) struct Reader<'r> {
    pub resolver: Resolver<'r>,
    pub limits: InventoryLimits,
    pub warnings: Vec<String>,
    found: Vec<Found>,
}

impl Reader<'_> {
    /// Reads a database file (path relative to the root) under the size limit.
    pub fn read_database(&mut self, path: &str) -> Result<Option<Vec<u8>>, SbomError> {
        self.resolver
            .read_database(path, self.limits.max_database_bytes)
    }

    /// Records a package, enforcing [`InventoryLimits::max_packages`].
    pub fn add(&mut self, found: Found) -> Result<(), SbomError> {
        if self.found.len() >= self.limits.max_packages {
            return Err(SbomError::TooManyPackages {
                path: found.package.source,
                limit: self.limits.max_packages,
            });
        }
        self.found.push(found);
        Ok(())
    }

    /// Fails when `pending` more packages (read but not yet added) pass
    /// [`InventoryLimits::max_packages`], so a huge database stops early.
    pub fn ensure_room(&self, pending: usize, path: &str) -> Result<(), SbomError> {
        if self.found.len().saturating_add(pending) > self.limits.max_packages {
            return Err(SbomError::TooManyPackages {
                path: path.to_owned(),
                limit: self.limits.max_packages,
            });
        }
        Ok(())
    }

    /// Adds the listed path `entry` to `files` (a regular file) or `linked` (a symlink to one).
    pub fn claim(&mut self, entry: &str, files: &mut Vec<String>, linked: &mut Vec<String>) {
        let Some(resolved) = self.resolver.resolve(entry, FollowFinal::No) else {
            return;
        };
        match resolved.kind {
            Kind::File => files.push(resolved.path),
            Kind::Symlink => {
                if let Some(target) = self.resolver.resolve(entry, FollowFinal::Yes)
                    && target.kind == Kind::File
                {
                    linked.push(target.path);
                }
            }
            Kind::Dir | Kind::Other => {}
        }
    }

    /// Records a warning about `file` (relative to the root), at `line` when known.
    pub fn warn(&mut self, file: &str, line: Option<usize>, message: impl std::fmt::Display) {
        self.warnings.push(match line {
            Some(line) => format!("{file}:{line}: {message}"),
            None => format!("{file}: {message}"),
        });
    }
}

/// Gives symlink targets to the packages that list the link when nobody lists the target, then
/// sorts everything.
fn settle(found: Vec<Found>) -> Vec<Package> {
    let listed: HashSet<&str> = found
        .iter()
        .flat_map(|f| f.package.files.iter().map(String::as_str))
        .collect();
    let adopted: Vec<Vec<String>> = found
        .iter()
        .map(|f| {
            f.linked
                .iter()
                .filter(|t| !listed.contains(t.as_str()))
                .cloned()
                .collect()
        })
        .collect();
    let mut packages: Vec<Package> = found
        .into_iter()
        .zip(adopted)
        .map(|(f, adopted)| {
            let mut p = f.package;
            p.files.extend(adopted);
            p.files.sort();
            p.files.dedup();
            p.depends.sort();
            p.depends.dedup();
            p
        })
        .collect();
    packages.sort_by(|a, b| a.purl.cmp(&b.purl).then_with(|| a.source.cmp(&b.source)));
    packages
}

/// One paragraph of a deb822 or RFC 822-style database.
pub(crate) struct Paragraph {
    /// First line of the paragraph (1-based).
    pub line: usize,
    /// Fields in order; continuation lines are joined with `\n`.
    pub fields: Vec<(String, String)>,
    /// The first malformed line and why, when there is one.
    pub error: Option<(usize, String)>,
}

impl Paragraph {
    /// The value of the first field named `name` (case-insensitive, as deb822 says).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the fields named `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `text` into paragraphs; with `stop_at_first`, only the first (a header block).
///
/// Shared by the dpkg (deb822) and Python `METADATA` (RFC 822 header) readers: a field line is
/// `Name: value`, a line starting with a space or tab continues the previous field, a blank line
/// ends the paragraph. A line that is neither becomes the paragraph's error.
pub(crate) fn paragraphs(text: &str, stop_at_first: bool) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut current: Option<Paragraph> = None;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            if let Some(p) = current.take() {
                out.push(p);
                if stop_at_first {
                    return out;
                }
            }
            continue;
        }
        let p = current.get_or_insert_with(|| Paragraph {
            line: number,
            fields: Vec::new(),
            error: None,
        });
        if p.error.is_some() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match p.fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                None => p.error = Some((number, "continuation line without a field".to_owned())),
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                p.fields.push((name.to_owned(), value.trim().to_owned()));
            }
            _ => {
                p.error = Some((number, format!("not a `Field: value` line: {line:?}")));
            }
        }
    }
    out.extend(current);
    out
}

/// PEP 503 normalised Python project name: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn pep503_normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// Builds a purl, or `None` when the parts do not make one (the reader then warns).
pub(crate) fn build_purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> Option<String> {
    if version.is_empty() {
        return None;
    }
    let mut purl = packageurl::PackageUrl::new(ty.to_owned(), name.to_owned()).ok()?;
    if let Some(ns) = namespace {
        purl.with_namespace(ns.to_owned()).ok()?;
    }
    purl.with_version(version.to_owned()).ok()?;
    for (k, v) in qualifiers {
        if !v.is_empty() {
            purl.add_qualifier(k.to_string(), v.to_string()).ok()?;
        }
    }
    Some(purl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        assert_eq!(pep503_normalise("Typing_Extensions"), "typing-extensions");
        assert_eq!(pep503_normalise("boolean.py"), "boolean-py");
        assert_eq!(pep503_normalise("a-_.b"), "a-b");
    }

    #[test]
    fn paragraphs_and_continuations() {
        let text = "A: 1\nB: two\n words\n\n\nA: 3\nbroken line\nC: x\n\nD:\n .\n";
        let ps = paragraphs(text, false);
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].get("b"), Some("two\nwords"));
        assert_eq!(ps[1].line, 6);
        assert_eq!(ps[1].error.as_ref().map(|e| e.0), Some(7));
        assert_eq!(ps[2].get("D"), Some("\n."));
        assert_eq!(paragraphs(text, true).len(), 1);
    }

    #[test]
    fn purls_encode_what_they_must() {
        assert_eq!(
            build_purl(
                "deb",
                Some("debian"),
                "libstdc++6",
                "12.2.0-14+deb12u1",
                &[("distro", "debian-12"), ("arch", "amd64")]
            )
            .as_deref(),
            Some("pkg:deb/debian/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1?arch=amd64&distro=debian-12")
        );
        assert_eq!(build_purl("pypi", None, "x", "", &[]), None);
    }
}
