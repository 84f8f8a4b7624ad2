//! A symbol bundle (`application/vnd.stellaops.symbols+tar`) from hostile bytes: the tar reader,
//! the index, every table's JSON and its ordering checks.
//!
//! Properties: never a panic, abort or hang; what is read writes back to a bundle that reads to
//! the same tables.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_binary::symbols::bundle;

fuzz_target!(|data: &[u8]| {
    let limits = bundle::Limits {
        max_bytes: 1 << 20,
        max_members: 64,
        max_member_bytes: 256 << 10,
    };
    let Ok(tables) = bundle::read(data, &limits) else {
        return;
    };
    let written = bundle::write(&tables).expect("tables that were read write back");
    let again = bundle::read(&written, &bundle::Limits::default()).expect("a written bundle reads");
    assert_eq!(again, tables);
});
