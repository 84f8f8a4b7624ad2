//! The embedded log's files under random damage: a log of 550 entries (full and partial tiles at
//! two levels, a filling bundle) is copied, up to four of its files are flipped, truncated,
//! deleted or padded as the input says, and every read, proof and append is run on it, then
//! `fsck --repair`.
//!
//! Properties: never a panic, abort or hang; every operation answers exactly what the intact
//! log would, or fails naming a damaged file (never a wrong answer, never another file); fsck
//! names only damaged files, and after a repair it reports as repaired the log answers as the
//! intact one.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stella_tlog::fsck::{self, Repair};
use stella_tlog::merkle::{self, MemoryTree};
use stella_tlog::{Log, TlogError};

struct Template {
    _dir: tempfile::TempDir,
    path: PathBuf,
    entries: Vec<Vec<u8>>,
    files: Vec<PathBuf>,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let log = Log::create(&path, Some("fuzz.example")).expect("create");
        let mut entries = Vec::new();
        for n in [300usize, 250] {
            let batch: Vec<Vec<u8>> = (entries.len()..entries.len() + n)
                .map(|i| format!("entry {i} {}", "x".repeat(i % 23)).into_bytes())
                .collect();
            log.append(&batch).expect("append");
            entries.extend(batch);
        }
        let files = files(&path)
            .into_iter()
            .map(|p| p.strip_prefix(&path).expect("inside").to_path_buf())
            .collect();
        Template {
            _dir: dir,
            path,
            entries,
            files,
        }
    })
}

/// Every file of the log but the lock (whose content is never read).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "lock") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

fn root(entries: &[Vec<u8>]) -> merkle::Hash {
    let tree = MemoryTree::new(entries.iter().map(|e| merkle::leaf_hash(e)).collect());
    tree.root(entries.len() as u64).expect("root")
}

/// `true` for the intact answer, `false` for an error naming a damaged file; a panic for
/// anything else.
fn judge<T>(
    what: &str,
    result: Result<T, TlogError>,
    damaged: &[PathBuf],
    intact: impl FnOnce(&T) -> bool,
) -> bool {
    match result {
        Ok(v) => {
            assert!(intact(&v), "{what}: a wrong answer, silently");
            true
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                damaged
                    .iter()
                    .any(|d| text.contains(&d.display().to_string())),
                "{what}: an error naming no damaged file: {text}"
            );
            false
        }
    }
}

/// Runs every operation; `true` when all answered as the intact log.
fn operate(dir: &Path, entries: &mut Vec<Vec<u8>>, damaged: &[PathBuf]) -> bool {
    let log = match Log::open(dir) {
        Ok(log) => log,
        Err(e) => return judge("open", Err::<(), _>(e), damaged, |_| true),
    };
    let size = entries.len() as u64;
    let top = root(entries);
    let mut all = judge("checkpoint", log.checkpoint(), damaged, |(cp, _)| {
        cp.size == size && cp.root == top
    });
    for i in [0, 1, 255, 256, 300, 511, 512, size - 1] {
        all &= judge("entry", log.entry(i), damaged, |e| {
            *e == entries[i as usize]
        });
        all &= judge("inclusion", log.inclusion_proof(i, size), damaged, |p| {
            merkle::verify_inclusion(&merkle::leaf_hash(&entries[i as usize]), i, size, p, &top)
                .is_ok()
        });
    }
    for old in [1, 256, 300, size - 1] {
        let old_root = root(&entries[..old as usize]);
        all &= judge(
            "consistency",
            log.consistency_proof(old, size),
            damaged,
            |p| merkle::verify_consistency(old, size, &old_root, &top, p).is_ok(),
        );
    }
    for (level, index, width) in [
        (0u32, 0u64, 256u64),
        (0, 1, 256),
        (0, 2, size % 256),
        (1, 0, 2),
        (0, 2, 3),
    ] {
        let tree = MemoryTree::new(entries.iter().map(|e| merkle::leaf_hash(e)).collect());
        let expected: Vec<u8> = (0..width)
            .flat_map(|k| {
                let at = (index * 256 + k) << (8 * level);
                merkle::range_hash(&tree, at, at + (1 << (8 * level))).expect("hash")
            })
            .collect();
        all &= judge(
            "served tile",
            log.hash_tile(level, index, width),
            damaged,
            |t| t.as_deref() == Some(expected.as_slice()),
        );
    }
    let new = b"appended after the damage".to_vec();
    let mut extended = entries.clone();
    extended.push(new.clone());
    let appended = judge("append", log.append(&[new]), damaged, |a| {
        a.checkpoint.root == root(&extended)
    });
    if appended {
        *entries = extended;
    }
    all && appended
}

fuzz_target!(|data: &[u8]| {
    let template = template();
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().join("log");
    copy(&template.path, &dir);
    // Up to four pieces of damage, 8 bytes each: file, kind, offset (4), byte, pad length; the
    // pad bytes are the input's tail.
    let (head, pad) = data.split_at(data.len().min(32));
    let mut damaged = Vec::new();
    for chunk in head.chunks_exact(8) {
        let file = dir.join(&template.files[usize::from(chunk[0]) % template.files.len()]);
        let Ok(mut bytes) = std::fs::read(&file) else {
            continue;
        };
        let at = u32::from_le_bytes([chunk[2], chunk[3], chunk[4], chunk[5]]) as usize;
        match chunk[1] % 4 {
            0 if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] ^= chunk[6].max(1);
                std::fs::write(&file, &bytes).expect("write");
            }
            0 | 1 => {
                bytes.truncate(if bytes.is_empty() {
                    0
                } else {
                    at % bytes.len()
                });
                std::fs::write(&file, &bytes).expect("write");
            }
            2 => std::fs::remove_file(&file).expect("rm"),
            _ => {
                let n = usize::from(chunk[7]).min(pad.len()).max(1);
                bytes.extend_from_slice(pad.get(..n).unwrap_or(b"\n"));
                std::fs::write(&file, &bytes).expect("write");
            }
        }
        damaged.push(file);
    }
    let mut entries = template.entries.clone();
    let untouched = operate(&dir, &mut entries, &damaged);
    let report = fsck::fsck(&dir, true).expect("fsck runs");
    for f in &report.findings {
        // Where nothing reproduces the checkpoint, every file that disagrees is a suspect;
        // anything fsck rebuilds (or says only a backup restores) must be damaged.
        let suspect = f.repair
            == (Repair::Impossible {
                why: fsck::Unrepairable::Ambiguous,
            });
        assert!(
            suspect || damaged.contains(&f.file.path),
            "fsck blames an intact file: {}",
            f.file
        );
    }
    if report.findings.is_empty() {
        assert!(untouched, "operations refused, fsck finds nothing");
    }
    if report.is_clean() && !report.findings.is_empty() {
        let fresh: Vec<Repair> = report.findings.iter().map(|f| f.repair.clone()).collect();
        assert!(
            operate(&dir, &mut entries, &damaged),
            "refused after fsck repaired everything: {fresh:?}"
        );
    }
});
