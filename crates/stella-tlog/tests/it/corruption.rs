//! Random damage to any file of a log (a flipped byte, a truncation, a deletion, bytes added):
//! no damage is ever accepted silently. Every operation afterwards either answers exactly what
//! the intact log would (the damage did not touch what it read, or was beyond the checkpoint)
//! or fails naming the damaged file; `fsck` names it too, and either repairs it (after which
//! everything answers as the intact log) or says it cannot.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use stella_tlog::fsck::{self, Repair};
use stella_tlog::merkle::{self, MemoryTree};
use stella_tlog::{Log, TlogError};

#[derive(Debug, Clone, Copy)]
enum Harm {
    Flip,
    Truncate,
    Delete,
    Pad,
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

/// What the intact log holds.
struct Reference {
    entries: Vec<Vec<u8>>,
}

impl Reference {
    fn root(&self) -> merkle::Hash {
        let tree = MemoryTree::new(self.entries.iter().map(|e| merkle::leaf_hash(e)).collect());
        tree.root(self.entries.len() as u64).expect("root")
    }
}

/// Ok when `result` is the intact answer (`true`), or an error naming one of the `damaged`
/// files (`false`); the description of what went wrong otherwise.
fn accepted<T>(
    what: &str,
    result: Result<T, TlogError>,
    damaged: &[PathBuf],
    intact: impl FnOnce(&T) -> bool,
) -> Result<bool, String> {
    match result {
        Ok(v) if intact(&v) => Ok(true),
        Ok(_) => Err(format!("{what}: a wrong answer, silently")),
        Err(e) => {
            let text = e.to_string();
            if damaged
                .iter()
                .any(|d| text.contains(&d.display().to_string()))
            {
                Ok(false)
            } else {
                Err(format!(
                    "{what}: an error that names no damaged file: {text}"
                ))
            }
        }
    }
}

/// Runs every operation; `Ok(true)` when all answered as the intact log, `Ok(false)` when
/// some refused naming a damaged file.
fn operate(dir: &Path, reference: &mut Reference, damaged: &[PathBuf]) -> Result<bool, String> {
    let log = match Log::open(dir) {
        Ok(log) => log,
        Err(e) => return accepted("open", Err::<(), _>(e), damaged, |_| true),
    };
    let size = reference.entries.len() as u64;
    let root = reference.root();
    let mut all = true;
    all &= accepted("checkpoint", log.checkpoint(), damaged, |(cp, _)| {
        cp.size == size && cp.root == root
    })?;
    for i in (0..size).step_by(37).chain(std::iter::once(size - 1)) {
        all &= accepted(&format!("entry {i}"), log.entry(i), damaged, |e| {
            *e == reference.entries[i as usize]
        })?;
        all &= accepted(
            &format!("inclusion {i}"),
            log.inclusion_proof(i, size),
            damaged,
            |p| {
                let leaf = merkle::leaf_hash(&reference.entries[i as usize]);
                merkle::verify_inclusion(&leaf, i, size, p, &root).is_ok()
            },
        )?;
    }
    for old in [1, size / 2, size - 1] {
        if old == 0 || old >= size {
            continue;
        }
        let old_tree = MemoryTree::new(
            reference.entries[..old as usize]
                .iter()
                .map(|e| merkle::leaf_hash(e))
                .collect(),
        );
        let old_root = old_tree.root(old).expect("root");
        all &= accepted(
            &format!("consistency {old}"),
            log.consistency_proof(old, size),
            damaged,
            |p| merkle::verify_consistency(old, size, &old_root, &root, p).is_ok(),
        )?;
    }
    let mut seen = Vec::new();
    let each = log.for_each_entry(size, |_, e| seen.push(e.to_vec()));
    all &= accepted("every entry", each, damaged, |()| seen == reference.entries)?;
    for index in 0..size.div_ceil(256) {
        let width = (size - index * 256).min(256);
        let expected = stella_tlog::tiles::encode_entries(
            &reference.entries[(index * 256) as usize..(index * 256 + width) as usize],
        )
        .expect("encode");
        all &= accepted(
            &format!("served bundle {index}"),
            log.entry_bundle(index, width),
            damaged,
            |b| b.as_ref() == Some(&expected),
        )?;
    }
    // An append extends the intact tree or refuses naming the damage.
    let new = format!("appended after damage to {damaged:?}").into_bytes();
    let appended = log.append(std::slice::from_ref(&new));
    let mut extended = reference.entries.clone();
    extended.push(new);
    let extended = Reference { entries: extended };
    let ok = accepted("append", appended, damaged, |a| {
        a.checkpoint.root == extended.root()
    })?;
    if ok {
        *reference = extended;
    }
    Ok(all && ok)
}

fn build(sizes: &[usize]) -> (tempfile::TempDir, Reference) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(dir.path(), Some("damage.example")).expect("create");
    let mut entries = Vec::new();
    for &n in sizes {
        let batch: Vec<Vec<u8>> = (entries.len()..entries.len() + n)
            .map(|i| format!("entry {i} {}", "x".repeat(i % 23)).into_bytes())
            .collect();
        log.append(&batch).expect("append");
        entries.extend(batch);
    }
    (dir, Reference { entries })
}

fn harm(path: &Path, harm: Harm, at: usize, byte: u8, pad: &[u8]) {
    let mut bytes = std::fs::read(path).expect("read");
    match harm {
        Harm::Flip if !bytes.is_empty() => {
            let at = at % bytes.len();
            bytes[at] ^= byte.max(1);
            std::fs::write(path, &bytes).expect("write");
        }
        Harm::Truncate | Harm::Flip => {
            let len = if bytes.is_empty() {
                0
            } else {
                at % bytes.len()
            };
            bytes.truncate(len);
            std::fs::write(path, &bytes).expect("write");
        }
        Harm::Delete => std::fs::remove_file(path).expect("rm"),
        Harm::Pad => {
            bytes.extend_from_slice(pad);
            std::fs::write(path, &bytes).expect("write");
        }
    }
}

/// One piece of damage: which file (an index into the sorted files, modulo their number), what
/// is done to it, where, with which byte.
type Piece = (usize, Harm, usize, u8);

fn check(sizes: &[usize], pieces: &[Piece], pad: &[u8]) -> Result<(), String> {
    let (dir, mut reference) = build(sizes);
    let all = files(dir.path());
    let mut damaged: Vec<PathBuf> = Vec::new();
    for &(target, kind, at, byte) in pieces {
        let path = all[target % all.len()].clone();
        if !path.exists() {
            continue;
        }
        harm(&path, kind, at, byte, pad);
        if !damaged.contains(&path) {
            damaged.push(path);
        }
    }
    let context = |m: String| format!("{pieces:?} on {damaged:?}: {m}");
    let untouched = operate(dir.path(), &mut reference, &damaged).map_err(context)?;

    let report = fsck::fsck(dir.path(), true).map_err(|e| context(format!("fsck: {e}")))?;
    for f in &report.findings {
        // With one damaged file fsck names exactly it; with several, where nothing reproduces
        // the checkpoint, every file that disagrees is a suspect and said to need a backup.
        let suspect = damaged.len() > 1
            && f.repair
                == (Repair::Impossible {
                    why: fsck::Unrepairable::Ambiguous,
                });
        if !suspect && !damaged.contains(&f.file.path) {
            return Err(context(format!("fsck blames another file: {}", f.file)));
        }
    }
    if report.findings.is_empty() {
        return if untouched {
            Ok(())
        } else {
            Err(context(
                "operations refused naming the file, fsck finds nothing".to_owned(),
            ))
        };
    }
    if report
        .findings
        .iter()
        .any(|f| matches!(f.repair, Repair::Repairable { .. }))
    {
        return Err(context("--repair did not repair".to_owned()));
    }
    if report.is_clean() {
        // Everything repaired: the log answers as the intact one, and fsck finds nothing more.
        if !operate(dir.path(), &mut reference, &damaged).map_err(context)? {
            return Err(context("still refused after the repair".to_owned()));
        }
        let again = fsck::fsck(dir.path(), false).map_err(|e| context(e.to_string()))?;
        if !again.is_clean() || !again.findings.is_empty() {
            return Err(context(format!("not clean after the repair: {again:?}")));
        }
    }
    Ok(())
}

fn harms() -> impl Strategy<Value = Harm> {
    prop_oneof![
        Just(Harm::Flip),
        Just(Harm::Truncate),
        Just(Harm::Delete),
        Just(Harm::Pad)
    ]
}

fn pieces(max: usize) -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(
        (any::<usize>(), harms(), any::<usize>(), any::<u8>()),
        1..=max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("STELLA_PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(96),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_damage_is_accepted_silently(
        sizes in prop::collection::vec(1usize..200, 1..5),
        pieces in pieces(1),
        pad in prop::collection::vec(any::<u8>(), 1..40),
    ) {
        if let Err(m) = check(&sizes, &pieces, &pad) {
            return Err(TestCaseError::fail(m));
        }
    }

    #[test]
    fn no_combination_of_damage_is_accepted_silently(
        sizes in prop::collection::vec(1usize..200, 1..5),
        pieces in pieces(4),
        pad in prop::collection::vec(any::<u8>(), 1..40),
    ) {
        if let Err(m) = check(&sizes, &pieces, &pad) {
            return Err(TestCaseError::fail(m));
        }
    }
}

/// Each kind of damage on each kind of file of a log with full and partial tiles at two
/// levels, exhaustively over the files (the property test samples; this names every file).
#[test]
fn every_file_of_a_two_level_log_is_covered() {
    let (dir, _) = build(&[300, 250]);
    let count = files(dir.path()).len();
    for i in 0..count {
        for kind in [Harm::Flip, Harm::Truncate, Harm::Delete, Harm::Pad] {
            if let Err(m) = check(&[300, 250], &[(i, kind, 1_000_003, 0x20)], b"\n\n") {
                panic!("{m}");
            }
        }
    }
}
