//! The advisory readers and the binary component readers on arbitrary bytes: OSV records
//! (then every range evaluated for a few versions of each ecosystem, and the symbols and the
//! overlay's members listed), zip exports, RustSec advisories, Go build information blocks and
//! registry paths.
//!
//! Properties: never a panic, an abort or a hang; an OSV record that reads answers every
//! version with an answer or a typed error; a Go build information block that reads has a
//! module list whose paths are non-empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_advisory::osv::Record;
use stella_advisory::rustsec::Advisory;

const VERSIONS: [&str; 8] = [
    "0",
    "1.0.0",
    "v1.2.3",
    "1:1.2.13.dfsg-1",
    "2.0.post1",
    "0.0.0-1",
    "1.1.1n",
    "1.2.2.1",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Record::from_json(data) {
        for affected in &record.affected {
            for v in VERSIONS {
                let _ = affected.affects(v);
            }
            let _ = affected.symbols();
            let _ = affected.overlay();
        }
    }
    if let Ok(entries) = stella_advisory::export::read_zip(data) {
        let total: usize = entries.iter().map(|e| e.bytes.len()).sum();
        assert!(total as u64 <= stella_advisory::export::MAX_TOTAL_BYTES);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Advisory::from_markdown(text);
    }
    if let Ok(info) = stella_binary::gobuild::parse_block(data) {
        assert!(info.deps.iter().all(|d| !d.path.is_empty()));
    }
    let _ = stella_binary::crate_paths::crates_in(data);
    let _ = stella_binary::gopclntab::read_table(data, true);
    let _ = stella_binary::gopclntab::read_table(data, false);
});
