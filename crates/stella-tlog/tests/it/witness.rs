//! The witness under concurrent observers: every observation succeeds and the largest
//! checkpoint is the one remembered (a fixed temporary file name made some observers fail, and
//! an unlocked read-compare-write could keep a smaller checkpoint over a larger one).

use stella_tlog::Log;
use stella_tlog::witness::Witness;

#[test]
fn concurrent_observers_all_succeed_and_the_largest_checkpoint_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(&dir.path().join("log"), Some("w.example")).expect("create");
    let mut notes = Vec::new();
    for i in 0..24u32 {
        let appended = log.append(&[i.to_be_bytes().to_vec()]).expect("append");
        notes.push((appended.checkpoint, appended.note));
    }
    let witness = Witness::new(&dir.path().join("witness"));
    let id = log.log_id();
    std::thread::scope(|s| {
        for t in 0..8usize {
            let (witness, notes, log, id) = (&witness, &notes, &log, &id);
            s.spawn(move || {
                // Each thread walks the checkpoints in its own order, so larger and smaller
                // ones interleave across threads.
                for k in 0..notes.len() * 4 {
                    let (cp, note) = &notes[(k * (2 * t + 1) + t) % notes.len()];
                    let prove = |a: u64, b: u64| log.consistency_proof(a, b);
                    witness
                        .observe(id, log.verifier(), cp, note, &prove)
                        .unwrap_or_else(|e| panic!("thread {t}, observation {k}: {e}"));
                }
            });
        }
    });
    let kept = witness
        .remembered(&id, log.verifier(), log.origin())
        .expect("readable")
        .expect("remembered");
    assert_eq!(kept.size, 24, "a smaller checkpoint replaced the largest");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("witness"))
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.contains("tmp") || name.starts_with(".witness-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
