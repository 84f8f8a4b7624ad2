//! The ELF facts the symboliser reads from files it did not build (a container's binaries,
//! debuginfod downloads, the vDSO image): BuildID notes and `PT_LOAD` segments, from hostile
//! bytes.
//!
//! Properties: never a panic; a BuildID found is lower-case hex of at most the accepted length;
//! a vDSO image that parses yields a symbol table or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_runtime::symbolize::elf::{MAX_BUILD_ID_BYTES, parse_layout};
use stella_runtime::vdso::Vdso;

fuzz_target!(|data: &[u8]| {
    if let Ok(layout) = parse_layout(data) {
        if let Some(id) = &layout.build_id {
            assert!(id.len() <= 2 * MAX_BUILD_ID_BYTES);
            assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }
    if let Ok(vdso) = Vdso::from_image(data.to_vec()) {
        let _ = vdso.symbol_table();
    }
});
