//! Appends write each entry once: the bytes an append writes are within a small factor of the
//! entries' own size, however many single-entry appends fill a bundle (a partial bundle used to
//! be rewritten whole by every append: 64 entries of 64 KB wrote about 130 MB).

use stella_tlog::Log;
use stella_tlog::merkle::{self, MemoryTree};

/// Bytes this thread has passed to `write(2)` and friends (`/proc/thread-self/io`), which
/// counts every write whatever the file system (tmpfs included).
fn written_by_this_thread() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("per-thread I/O accounting");
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("wchar")
}

#[test]
fn sixty_four_single_appends_of_64_kb_write_each_entry_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(dir.path(), Some("io.example")).expect("create");
    let entries: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 65_000]).collect();
    let data: u64 = entries.iter().map(|e| e.len() as u64).sum();
    let before = written_by_this_thread();
    for e in &entries {
        log.append(std::slice::from_ref(e)).expect("append");
    }
    let written = written_by_this_thread() - before;
    eprintln!("{data} bytes of entries, {written} bytes written");
    assert!(
        written < data + data / 4,
        "{written} bytes written for {data} bytes of entries: appends rewrite what they \
         appended to"
    );
    // And the log is the one the entries make, every entry readable.
    let reference = MemoryTree::new(entries.iter().map(|e| merkle::leaf_hash(e)).collect());
    let (cp, _) = log.checkpoint().expect("checkpoint");
    assert_eq!(cp.root, reference.root(64).expect("root"));
    let reopened = Log::open(dir.path()).expect("open");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(&reopened.entry(i as u64).expect("entry"), e);
    }
    // The read API's partial bundles are the first W entries, whatever width is asked for.
    let bundle = reopened.entry_bundle(0, 3).expect("bundle").expect("there");
    assert_eq!(
        bundle,
        stella_tlog::tiles::encode_entries(&entries[..3]).expect("encode")
    );
    assert_eq!(reopened.entry_bundle(0, 65).expect("read"), None);
}

#[test]
fn a_bundle_that_fills_up_is_whole_and_the_next_one_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(dir.path(), Some("io.example")).expect("create");
    let entries: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
    for chunk in entries.chunks(7) {
        log.append(chunk).expect("append");
    }
    let full = std::fs::read(dir.path().join("tile/entries/000")).expect("full bundle");
    assert_eq!(
        full,
        stella_tlog::tiles::encode_entries(&entries[..256]).expect("encode")
    );
    assert!(!dir.path().join("tile/entries/000.p").exists());
    assert_eq!(
        std::fs::read(dir.path().join("tile/entries/001.p/open")).expect("open bundle"),
        stella_tlog::tiles::encode_entries(&entries[256..]).expect("encode")
    );
    let reopened = Log::open(dir.path()).expect("open");
    for i in [0u64, 255, 256, 299] {
        assert_eq!(reopened.entry(i).expect("entry"), entries[i as usize]);
    }
}
