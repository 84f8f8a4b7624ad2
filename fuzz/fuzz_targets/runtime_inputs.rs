//! What `stella symbolize` and `stella assess --profile` read from other tools, from hostile
//! bytes: pprof profiles (gzipped or not), and as text collapsed stacks, `perf script` output,
//! raw frame lines, and `/proc/PID/maps`.
//!
//! Properties: never a panic; a pprof profile that reads writes back to pprof that reads again
//! to as many stacks with the same counts; collapsed stacks that parse write back to lines that
//! parse to the same stacks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_runtime::{collapsed, import, pprof, procmaps};

fuzz_target!(|data: &[u8]| {
    if let Ok(profile) = pprof::read(data, "fuzz") {
        let written = pprof::write(&profile).expect("a profile read writes as pprof");
        let again = pprof::read(&written, "fuzz").expect("written pprof reads back");
        let counts = |p: &stella_runtime::profile::Profile| {
            let mut c: Vec<u64> = p.stacks.iter().map(|s| s.count).collect();
            c.sort_unstable();
            c
        };
        assert_eq!(counts(&again), counts(&profile));
    }
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
