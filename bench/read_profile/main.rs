//! `read-profile FILE...`: each profile read as `stella assess --profile` reads it (see
//! `read_json` in crates/stella/src/assess.rs), then dropped. Prints stacks and frames.

use std::process::ExitCode;

use stella_core::Digest;
use stella_runtime::profile::{Profile, SCHEMA};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Largest profile `stella assess` reads.
const MAX_RUNTIME_BYTES: u64 = 1 << 30;

fn read(path: &str) -> Result<(Profile, String), String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let size = file.metadata().map_err(|e| format!("{path}: {e}"))?.len();
    if size > MAX_RUNTIME_BYTES {
        return Err(format!("{path}: larger than {MAX_RUNTIME_BYTES} bytes"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_RUNTIME_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{path}: {e}"))?;
    let digest = Digest::sha256(&bytes).to_string();
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{path}: not JSON: {e}"))?;
    let found = value.get("schema").and_then(serde_json::Value::as_str);
    if found != Some(SCHEMA) {
        return Err(format!("{path}: not a profile; its schema is {found:?}"));
    }
    let profile = serde_json::from_value(value).map_err(|e| format!("{path}: {e}"))?;
    Ok((profile, digest))
}

fn main() -> ExitCode {
    for path in std::env::args().skip(1) {
        match read(&path) {
            Ok((profile, digest)) => {
                let frames: usize = profile.stacks.iter().map(|s| s.frames.len()).sum();
                println!(
                    "{path}: {} stacks, {frames} frames, {digest}",
                    profile.stacks.len()
                );
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
