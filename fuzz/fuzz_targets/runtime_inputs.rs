//! What `stella symbolize` reads from other tools, from hostile text: collapsed stacks, `perf
//! script` output, raw frame lines, and `/proc/PID/maps`.
//!
//! Properties: never a panic; collapsed stacks that parse write back to lines that parse to
//! the same stacks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_runtime::{collapsed, import, procmaps};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = import::detect(text);
    let _ = import::perf_script(text, "fuzz");
    let _ = import::raw_frames(text, "fuzz");
    let _ = procmaps::parse_maps(text);
    if let Ok(profile) = collapsed::read(text, "fuzz") {
        let written = collapsed::write(&profile);
        let again = collapsed::read(&written, "fuzz").expect("written lines read back");
        assert_eq!(collapsed::write(&again), written);
    }
});
