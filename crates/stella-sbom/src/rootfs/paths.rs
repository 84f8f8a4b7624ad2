//! Paths inside an unpacked root filesystem, resolved as a process chrooted into it would see
//! them, and bounded reads of the package databases found there.
//!
//! Owns: chroot-style resolution ([`resolve_in_root`]), a per-inventory [`Resolver`] that caches
//! directory resolutions, and [`Resolver::read_database`], the only way the database readers
//! open files. Not here: what the databases mean (`dpkg`, `apk`, `python`).
//!
//! Why chroot-style: an image is data, not the host. A symlink `/lib -> usr/lib` must be followed
//! (merged-`/usr` Debian lists `/lib/x86_64-linux-gnu/libc.so.6`, the file is under `/usr/lib`),
//! but an absolute target such as `/etc/shadow` means the image's `/etc/shadow`, and `..` stops at
//! the image's root. Nothing is ever read from outside `root`.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::SbomError;

/// Most symlinks followed while resolving one path (Linux `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Resolves the absolute path `path` as the root filesystem at `root` would (chroot-style).
///
/// Symlinks are followed in every component, the last included; an absolute link target is taken
/// relative to `root`; `..` never climbs above `root`; at most [`MAX_SYMLINK_HOPS`] links are
/// followed. The result is the path of the real file or directory inside the root
/// (`/usr/lib/x86_64-linux-gnu/libc.so.6`), or `None` when it does not exist, a link loops, a
/// component that must be a directory is not one, or a link target is not UTF-8.
pub fn resolve_in_root(root: &Path, path: &str) -> Option<String> {
    Resolver::new(root)
        .resolve(path, FollowFinal::Yes)
        .map(|r| r.path)
}

/// What the last component of a resolved path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symlink (only when the final link was not followed).
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// Whether a symlink in the last component is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowFinal {
    /// Follow it, as `open` does.
    Yes,
    /// Report the link itself, as `lstat` does.
    No,
}

/// A path resolved inside the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// Absolute path inside the root (`/usr/bin/bash`).
    pub path: String,
    /// What is there.
    pub kind: Kind,
}

/// Resolves many paths inside one root, remembering the directories it has resolved (package
/// file lists name the same few thousand directories over and over).
pub(crate) struct Resolver<'r> {
    root: &'r Path,
    dirs: HashMap<String, Option<Vec<String>>>,
}

impl<'r> Resolver<'r> {
    /// A resolver for the root filesystem at `root`.
    pub fn new(root: &'r Path) -> Self {
        Resolver {
            root,
            dirs: HashMap::new(),
        }
    }

    /// The root filesystem.
    pub fn root(&self) -> &Path {
        self.root
    }

    /// The host path of `components` under the root.
    fn host_path(&self, components: &[String]) -> PathBuf {
        let mut p = self.root.to_path_buf();
        p.extend(components);
        p
    }

    /// Resolves `path` (absolute, or taken as absolute).
    pub fn resolve(&mut self, path: &str, follow: FollowFinal) -> Option<Resolved> {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let (stack, kind) = if matches!(name, "" | "." | "..") {
            walk(self.root, Vec::new(), pending(path), follow)?
        } else {
            let dir = self.resolve_dir(parent)?;
            walk(self.root, dir, VecDeque::from([name.to_owned()]), follow)?
        };
        Some(Resolved {
            path: to_absolute(&stack),
            kind,
        })
    }

    /// The components of directory `dir`, resolved and cached.
    fn resolve_dir(&mut self, dir: &str) -> Option<Vec<String>> {
        if let Some(hit) = self.dirs.get(dir) {
            return hit.clone();
        }
        let resolved = walk(self.root, Vec::new(), pending(dir), FollowFinal::Yes)
            .filter(|(_, kind)| *kind == Kind::Dir)
            .map(|(stack, _)| stack);
        self.dirs.insert(dir.to_owned(), resolved.clone());
        resolved
    }

    /// Reads the database file at `path` (relative to the root, e.g. `var/lib/dpkg/status`),
    /// resolved inside the root. `Ok(None)` when it does not exist or is not a regular file.
    ///
    /// # Errors
    /// [`SbomError::DatabaseTooLarge`] beyond `limit` bytes; [`SbomError::Io`] when an existing
    /// file cannot be read.
    pub fn read_database(&mut self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, SbomError> {
        let Some(resolved) = self.resolve(path, FollowFinal::Yes) else {
            return Ok(None);
        };
        if resolved.kind != Kind::File {
            return Ok(None);
        }
        let host = self.root.join(resolved.path.trim_start_matches('/'));
        let io = |source: std::io::Error| SbomError::Io {
            path: path.to_owned(),
            source,
        };
        // Resolved as a regular file above; opened so that a FIFO swapped in since cannot block.
        let (file, metadata) = stella_core::file::open_regular(&host).map_err(|e| match e {
            stella_core::file::OpenError::Io { source, .. } => io(source),
            other => SbomError::Open(other),
        })?;
        let size = metadata.len();
        let too_large = |size| SbomError::DatabaseTooLarge {
            path: path.to_owned(),
            size,
            limit,
        };
        if size > limit {
            return Err(too_large(size));
        }
        let mut bytes = Vec::new();
        // The file may grow between `metadata` and `read`: read at most one byte past the limit.
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(Some(bytes))
    }

    /// Names in the directory at `path` (resolved inside the root), sorted; empty when it is
    /// not a directory. Names that are not UTF-8 are skipped.
    ///
    /// # Errors
    /// [`SbomError::Io`] when an existing directory cannot be listed.
    pub fn list_dir(&mut self, path: &str) -> Result<Vec<String>, SbomError> {
        let Some(dir) = self.resolve_dir(path) else {
            return Ok(Vec::new());
        };
        let io = |source: std::io::Error| SbomError::Io {
            path: path.to_owned(),
            source,
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(self.host_path(&dir)).map_err(io)? {
            if let Ok(name) = entry.map_err(io)?.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// The components of `path`, in order, as a queue.
fn pending(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect()
}

fn to_absolute(stack: &[String]) -> String {
    if stack.is_empty() {
        "/".to_owned()
    } else {
        stack.iter().fold(String::new(), |mut acc, c| {
            acc.push('/');
            acc.push_str(c);
            acc
        })
    }
}

/// Resolves the components in `pending` starting from the directory `stack` (already resolved).
fn walk(
    root: &Path,
    mut stack: Vec<String>,
    mut pending: VecDeque<String>,
    follow: FollowFinal,
) -> Option<(Vec<String>, Kind)> {
    let mut kind = Kind::Dir;
    let mut hops = 0;
    while let Some(component) = pending.pop_front() {
        if component.is_empty() || component == "." {
            continue;
        }
        // Whatever comes after a component must be looked up inside it: it must be a directory.
        if kind != Kind::Dir {
            return None;
        }
        if component == ".." {
            stack.pop();
            continue;
        }
        let mut host = root.to_path_buf();
        host.extend(&stack);
        host.push(&component);
        let file_type = fs::symlink_metadata(&host).ok()?.file_type();
        if file_type.is_symlink() {
            if pending.is_empty() && follow == FollowFinal::No {
                stack.push(component);
                kind = Kind::Symlink;
                continue;
            }
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return None;
            }
            let target = fs::read_link(&host).ok()?;
            let target = target.to_str()?;
            if target.is_empty() {
                return None;
            }
            if target.starts_with('/') {
                stack.clear();
            }
            for c in target.split('/').rev() {
                pending.push_front(c.to_owned());
            }
            kind = Kind::Dir;
        } else {
            stack.push(component);
            kind = if file_type.is_dir() {
                Kind::Dir
            } else if file_type.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
        }
    }
    Some((stack, kind))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs::write(r.join("usr/lib/x86_64-linux-gnu/libc.so.6"), b"elf").unwrap();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/secret"), b"image's own").unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/etc", r.join("usr/lib/escape")).unwrap();
        symlink("../../../../../../etc", r.join("usr/lib/climb")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        symlink("libc.so.6", r.join("usr/lib/x86_64-linux-gnu/libc.so")).unwrap();
        dir
    }

    #[test]
    fn merged_usr_and_escapes_stay_inside_the_root() {
        let t = tree();
        let r = t.path();
        let resolve = |p| resolve_in_root(r, p);
        assert_eq!(
            resolve("/lib/x86_64-linux-gnu/libc.so.6").as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(
            resolve("/lib/x86_64-linux-gnu/libc.so").as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(
            resolve("/lib/escape/secret").as_deref(),
            Some("/etc/secret")
        );
        assert_eq!(resolve("/lib/climb/secret").as_deref(), Some("/etc/secret"));
        assert_eq!(
            resolve("/../../../etc/secret").as_deref(),
            Some("/etc/secret")
        );
        assert_eq!(resolve("/").as_deref(), Some("/"));
        assert_eq!(resolve("/lib/").as_deref(), Some("/usr/lib"));
        assert_eq!(resolve("/loop1"), None);
        assert_eq!(resolve("/missing"), None);
        assert_eq!(resolve("/etc/secret/x"), None, "a file is not a directory");
        assert_eq!(resolve("/etc/secret/.."), None, "a file is not a directory");
    }

    #[test]
    fn the_final_link_can_be_reported_as_a_link() {
        let t = tree();
        let mut r = Resolver::new(t.path());
        let link = r
            .resolve("/lib/x86_64-linux-gnu/libc.so", FollowFinal::No)
            .unwrap();
        assert_eq!(link.path, "/usr/lib/x86_64-linux-gnu/libc.so");
        assert_eq!(link.kind, Kind::Symlink);
        let dir = r.resolve("/lib", FollowFinal::Yes).unwrap();
        assert_eq!(dir.kind, Kind::Dir);
    }

    #[test]
    fn database_reads_are_bounded_and_never_leave_the_root() {
        let t = tree();
        symlink("/etc/secret", t.path().join("usr/db")).unwrap();
        let mut r = Resolver::new(t.path());
        assert_eq!(
            r.read_database("usr/db", 100).unwrap().as_deref(),
            Some(&b"image's own"[..])
        );
        let err = r.read_database("usr/db", 4).unwrap_err();
        assert!(
            matches!(&err, SbomError::DatabaseTooLarge { path, size: 11, limit: 4 } if path == "usr/db"),
            "{err}"
        );
        assert_eq!(r.read_database("usr/lib", 100).unwrap(), None);
        assert_eq!(r.read_database("nope", 100).unwrap(), None);
    }

    #[test]
    fn hop_limit() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f0"), b"x").unwrap();
        for i in 1..=MAX_SYMLINK_HOPS + 1 {
            symlink(format!("f{}", i - 1), t.path().join(format!("f{i}"))).unwrap();
        }
        assert_eq!(
            resolve_in_root(t.path(), &format!("/f{MAX_SYMLINK_HOPS}")).as_deref(),
            Some("/f0")
        );
        assert_eq!(
            resolve_in_root(t.path(), &format!("/f{}", MAX_SYMLINK_HOPS + 1)),
            None
        );
    }
}
