//! Finding the binaries of a tree: every regular file whose first bytes are an ELF, PE or
//! Mach-O header, without following symbolic links or entering what is excluded; hard links
//! are one candidate with several paths. Not here: proving them ([`super::prove`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use stella_binary::inspect;
use stella_oci::image::Exclusions;

/// Smallest file looked at: no binary format fits in fewer bytes.
const MIN_BINARY_BYTES: u64 = 64;

/// A binary found in the tree: its paths in the image (hard links share one entry).
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) paths: Vec<String>,
    pub(crate) file: PathBuf,
    pub(crate) size: u64,
}

/// A file that looked like a binary and could not be proven, or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unproven {
    /// Its path in the image.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What the walk saw.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// Regular files (every name of a hard-linked file).
    pub(crate) files: u64,
    /// Their bytes, each file once.
    pub(crate) bytes: u64,
    pub(crate) unreadable: Vec<Unproven>,
}

/// The image path of `file` under `root` (`/usr/bin/ls`).
fn image_path(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    format!("/{}", rel.to_string_lossy())
}

/// Every regular file whose first bytes are an ELF, PE or Mach-O header, without following
/// symbolic links or entering what `exclude` names; hard links are one candidate with several
/// paths.
pub(crate) fn find_binaries(
    root: &Path,
    max_size: u64,
    exclude: &Exclusions,
) -> (Vec<Candidate>, Walked) {
    use std::os::unix::fs::MetadataExt as _;
    let mut walked = Walked::default();
    let mut by_inode: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut linked: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut out: Vec<Candidate> = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir() && e.metadata().is_ok_and(|m| exclude.contains(&m)))
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| image_path(root, p));
                walked.unreadable.push(Unproven {
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                walked.unreadable.push(Unproven {
                    path: image_path(root, entry.path()),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if exclude.contains(&meta) {
            continue;
        }
        walked.files += 1;
        if meta.nlink() > 1 && !linked.insert((meta.dev(), meta.ino())) {
            // Another name of a file already counted.
            if let Some(&i) = by_inode.get(&(meta.dev(), meta.ino())) {
                out[i].paths.push(image_path(root, entry.path()));
            }
            continue;
        }
        walked.bytes += meta.len();
        if meta.len() < MIN_BINARY_BYTES {
            continue;
        }
        let path = image_path(root, entry.path());
        let mut head = [0u8; 512];
        let n = match std::fs::File::open(entry.path())
            .and_then(|mut f| read_head(&mut f, &mut head))
        {
            Ok(n) => n,
            Err(e) => {
                walked.unreadable.push(Unproven {
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if inspect::sniff(&head[..n]).is_none() {
            continue;
        }
        if meta.len() > max_size {
            walked.unreadable.push(Unproven {
                path,
                reason: format!(
                    "{} bytes: above the largest binary proven ({max_size} bytes)",
                    meta.len()
                ),
            });
            continue;
        }
        by_inode.insert((meta.dev(), meta.ino()), out.len());
        out.push(Candidate {
            paths: vec![path],
            file: entry.path().to_path_buf(),
            size: meta.len(),
        });
    }
    (out, walked)
}

fn read_head(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
