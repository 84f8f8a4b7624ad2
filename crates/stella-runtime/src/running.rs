//! Which processes on this host run given binaries, in any mount namespace (any container).
//!
//! A binary of an image is named by what the image's evidence proves about it: its GNU BuildID
//! and the SHA-256 of the file. [`find`] walks `/proc/*/maps`, reads the BuildID of each file a
//! process maps executable (through `/proc/PID/root`, so a container's files are read as that
//! container sees them), and keeps the files whose BuildID is wanted. A BuildID is the
//! linker's claim, not a proof: each candidate file is then hashed, and one whose SHA-256 is not
//! the image's is an [`Impostor`] — reported, never watched, its processes never counted as
//! instances. A binary without a BuildID is looked for by file name, then by hash alike.
//!
//! [`processes_mapping`] answers the narrower question the witness asks at the start and the
//! end of its window: which processes map this very file (same device and inode).
//!
//! Not here: reading functions or attaching probes ([`crate::witness`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::procmaps::{parse_maps, read_build_id};

/// A binary to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Its GNU BuildID (lower-case hex), when it has one.
    pub build_id: Option<String>,
    /// SHA-256 of the file, lower-case hex: the file must hash to it.
    pub sha256: String,
    /// Its file name, used to find a binary without a BuildID.
    pub file_name: String,
}

/// A file on this host that is a wanted binary, and the processes mapping it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Index into the wanted list.
    pub wanted: usize,
    /// A path to the file from this process's mount namespace (`/proc/PID/root/...` for a
    /// process in another one).
    pub path: PathBuf,
    /// Processes mapping it.
    pub pids: BTreeSet<u32>,
}

/// A file with a wanted BuildID (or name) whose bytes are not the wanted binary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impostor {
    /// Index into the wanted list.
    pub wanted: usize,
    /// Where it is.
    pub path: PathBuf,
    /// Processes mapping it.
    pub pids: BTreeSet<u32>,
    /// What it hashes to, hex (empty when it could not be read).
    pub sha256: String,
}

/// What [`find`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Wanted binaries running, one entry per distinct file.
    pub running: Vec<Running>,
    /// Files claiming a wanted identity that their bytes do not have.
    pub impostors: Vec<Impostor>,
}

/// The process ids under `proc_root`, ascending.
fn pids(proc_root: &Path) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir(proc_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    out.sort_unstable();
    out
}

/// `path` as seen by `pid`, opened from here: the path itself when the process shares this
/// process's root directory, else through `/proc/PID/root`.
fn host_path(proc_root: &Path, pid: u32, path: &str, own_root: Option<(u64, u64)>) -> PathBuf {
    let root = proc_root.join(pid.to_string()).join("root");
    let same = std::fs::metadata(&root)
        .ok()
        .map(|m| (m.dev(), m.ino()))
        .is_some_and(|id| Some(id) == own_root);
    if same {
        PathBuf::from(path)
    } else {
        root.join(path.trim_start_matches('/'))
    }
}

fn root_id() -> Option<(u64, u64)> {
    std::fs::metadata("/").ok().map(|m| (m.dev(), m.ino()))
}

fn sha256_of(path: &Path) -> Option<String> {
    let data = stella_binary::FileSnapshot::open(path).ok()?;
    Some(stella_core::Digest::sha256(&data).hex().to_owned())
}

/// Every process (or only `only`) mapping a file that is one of `wanted`.
pub fn find(wanted: &[Wanted], only: Option<u32>) -> Found {
    find_under(Path::new("/proc"), wanted, only)
}

fn find_under(proc_root: &Path, wanted: &[Wanted], only: Option<u32>) -> Found {
    let by_build: HashMap<&str, Vec<usize>> =
        wanted
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, w)| {
                if let Some(b) = &w.build_id {
                    m.entry(b.as_str()).or_default().push(i);
                }
                m
            });
    let by_name: HashMap<&str, Vec<usize>> =
        wanted
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, w)| {
                if w.build_id.is_none() {
                    m.entry(w.file_name.as_str()).or_default().push(i);
                }
                m
            });
    let own_root = root_id();
    // Per distinct file (device, inode): its path, processes, and what it is.
    let mut files: BTreeMap<(u64, u64), (PathBuf, BTreeSet<u32>)> = BTreeMap::new();
    let mut build_ids: HashMap<(u64, u64), Option<String>> = HashMap::new();
    for pid in pids(proc_root) {
        if only.is_some_and(|o| o != pid) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(proc_root.join(pid.to_string()).join("maps")) else {
            continue;
        };
        let paths: BTreeSet<String> = parse_maps(&text)
            .into_iter()
            .filter(|m| m.is_file() && m.executable)
            .map(|m| m.path)
            .collect();
        for path in paths {
            let name = path.rsplit('/').next().unwrap_or_default();
            let host = host_path(proc_root, pid, &path, own_root);
            let Ok(meta) = std::fs::metadata(&host) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let id = (meta.dev(), meta.ino());
            let build_id = build_ids
                .entry(id)
                .or_insert_with(|| read_build_id(&host))
                .clone();
            let candidate = match &build_id {
                Some(b) => by_build.contains_key(b.as_str()),
                None => by_name.contains_key(name),
            };
            if candidate {
                files
                    .entry(id)
                    .or_insert_with(|| (host, BTreeSet::new()))
                    .1
                    .insert(pid);
            }
        }
    }
    let mut found = Found::default();
    for (id, (path, pids)) in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let indices = match build_ids.get(&id).cloned().flatten() {
            Some(b) => by_build.get(b.as_str()).cloned().unwrap_or_default(),
            None => by_name.get(name).cloned().unwrap_or_default(),
        };
        let sha256 = sha256_of(&path).unwrap_or_default();
        match indices.iter().find(|i| wanted[**i].sha256 == sha256) {
            Some(&wanted) => found.running.push(Running { wanted, path, pids }),
            None => {
                for wanted in indices {
                    found.impostors.push(Impostor {
                        wanted,
                        path: path.clone(),
                        pids: pids.clone(),
                        sha256: sha256.clone(),
                    });
                }
            }
        }
    }
    found
}

/// Processes mapping the file at `path` (the same device and inode), in any mount namespace.
pub fn processes_mapping(path: &Path) -> BTreeSet<u32> {
    let Ok(meta) = std::fs::metadata(path) else {
        return BTreeSet::new();
    };
    let proc_root = Path::new("/proc");
    let own_root = root_id();
    let mut out = BTreeSet::new();
    for pid in pids(proc_root) {
        let Ok(text) = std::fs::read_to_string(proc_root.join(pid.to_string()).join("maps")) else {
            continue;
        };
        // The inode in the maps line is a cheap first filter; the device is checked on the file.
        let paths: BTreeSet<String> = parse_maps(&text)
            .into_iter()
            .filter(|m| m.is_file() && m.inode == meta.ino())
            .map(|m| m.path)
            .collect();
        let maps_it = paths.iter().any(|p| {
            std::fs::metadata(host_path(proc_root, pid, p, own_root))
                .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        });
        if maps_it {
            out.insert(pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary runs: it is found by its BuildID and hash, with this process mapping it.
    #[test]
    fn the_running_test_binary_is_found_and_a_wrong_hash_is_an_impostor() {
        let exe = std::fs::canonicalize("/proc/self/exe").expect("exe");
        let build_id = read_build_id(&exe)
            .expect("the test binary carries a GNU BuildID (the linker's --build-id)");
        let sha256 = sha256_of(&exe).expect("readable");
        let me = std::process::id();
        let wanted = vec![Wanted {
            build_id: Some(build_id.clone()),
            sha256: sha256.clone(),
            file_name: "x".into(),
        }];
        let found = find(&wanted, Some(me));
        assert_eq!(found.running.len(), 1, "{found:?}");
        assert!(found.running[0].pids.contains(&me));
        assert!(processes_mapping(&found.running[0].path).contains(&me));

        let forged = vec![Wanted {
            build_id: Some(build_id),
            sha256: "00".repeat(32),
            file_name: "x".into(),
        }];
        let found = find(&forged, Some(me));
        assert!(found.running.is_empty(), "{found:?}");
        assert_eq!(found.impostors.len(), 1);
        assert_eq!(found.impostors[0].sha256, sha256);
    }

    #[test]
    fn nothing_is_found_under_an_empty_proc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wanted = vec![Wanted {
            build_id: None,
            sha256: "00".repeat(32),
            file_name: "x".into(),
        }];
        assert_eq!(find_under(dir.path(), &wanted, None), Found::default());
    }
}
