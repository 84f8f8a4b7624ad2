//! Binary identity: the keys under which symbol servers, runtime frames and advisories find a
//! binary.
//!
//! - **ELF**: the GNU BuildID note (`NT_GNU_BUILD_ID`). Some toolchains write none (the Rust
//!   toolchain's own `librustc_driver`); then the id is a *fallback* and says so
//!   (`buildIdSource: "fallback"`): hex of the first 16 bytes of
//!   SHA-256(first 4 KiB ‖ last 4 KiB ‖ file length as 8 bytes little-endian), the shape of the
//!   OpenTelemetry profiler's file id — cheap on huge files, and stable for a given file.
//! - **Breakpad / Sentry debug-id** from an ELF build id: its first 16 bytes (zero-padded) read as
//!   a GUID whose first three fields are little-endian, age 0; the code-id is the build id's hex.
//! - **PE**: CodeView RSDS GUID and age (`debugId` = `<guid>-<age>`), code-id =
//!   `TimeDateStamp` (8 hex) ‖ `SizeOfImage` (hex), as symbol servers index them.
//! - **Mach-O**: `LC_UUID`.

use object::Object;
use serde::{Deserialize, Serialize};
use stella_core::BuildId;
use stella_core::hex::encode as hex;

use crate::BinaryError;

/// Where a proof's `buildId` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildIdSource {
    /// The ELF GNU build-id note.
    GnuNote,
    /// Computed from the file's bytes because it carries no build id.
    Fallback,
}

impl BuildIdSource {
    /// The name a proof writes (`gnu-note`, `fallback`).
    pub fn as_str(self) -> &'static str {
        match self {
            BuildIdSource::GnuNote => "gnu-note",
            BuildIdSource::Fallback => "fallback",
        }
    }
}

/// The identity section of a FuncProof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// `elf`, `pe` or `macho`.
    pub format: String,
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// Where `buildId` came from.
    pub build_id_source: BuildIdSource,
    /// Breakpad/Sentry debug identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_id: Option<String>,
    /// Breakpad/Sentry code identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    /// Mach-O `LC_UUID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// Identity and build id of a parsed binary.
pub fn identify(file: &object::File<'_>, data: &[u8]) -> (BuildId, Identity) {
    let format = match file.format() {
        object::BinaryFormat::Elf => "elf",
        object::BinaryFormat::Pe => "pe",
        object::BinaryFormat::MachO => "macho",
        object::BinaryFormat::Coff => "coff",
        _ => "other",
    }
    .to_owned();
    let arch = arch_name(file.architecture()).to_owned();
    // A note longer than a build id can be is no build id: the file gets the fallback.
    let gnu = file
        .build_id()
        .ok()
        .flatten()
        .and_then(|id| Some((id, BuildId::from_bytes(id)?)));
    let (build_id, source) = match &gnu {
        Some((_, id)) => (id.clone(), BuildIdSource::GnuNote),
        None => (fallback_id(data), BuildIdSource::Fallback),
    };
    let mut identity = Identity {
        format,
        arch,
        build_id_source: source,
        debug_id: None,
        code_id: None,
        uuid: None,
    };
    if let Some((raw, id)) = gnu {
        identity.debug_id = Some(debug_id_from_build_id(raw));
        identity.code_id = Some(id.as_str().to_owned());
    }
    if let Ok(Some(cv)) = file.pdb_info() {
        identity.debug_id = Some(format!("{}-{:x}", guid(&cv.guid()), cv.age()));
        identity.code_id = pe_code_id(data);
    }
    if let Ok(Some(uuid)) = file.mach_uuid() {
        identity.uuid = Some(uuid_string(&uuid));
        identity.debug_id = Some(uuid_string(&uuid));
    }
    (build_id, identity)
}

fn arch_name(arch: object::Architecture) -> &'static str {
    use object::Architecture as A;
    match arch {
        A::X86_64 | A::X86_64_X32 => "x86_64",
        A::Aarch64 | A::Aarch64_Ilp32 => "aarch64",
        A::I386 => "x86",
        A::Arm => "arm",
        A::Riscv64 => "riscv64",
        A::PowerPc64 => "ppc64",
        A::S390x => "s390x",
        _ => "unknown",
    }
}

/// A Windows GUID from its 16 stored bytes (`Data1`–`Data3` little-endian), as
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
fn guid(b: &[u8; 16]) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        hex([b[3], b[2], b[1], b[0]]),
        hex([b[5], b[4]]),
        hex([b[7], b[6]]),
        hex(&b[8..10]),
        hex(&b[10..16])
    )
}

fn uuid_string(b: &[u8; 16]) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        hex(&b[0..4]),
        hex(&b[4..6]),
        hex(&b[6..8]),
        hex(&b[8..10]),
        hex(&b[10..16])
    )
}

/// Breakpad/Sentry: the first 16 bytes of the build id (zero-padded) as a little-endian GUID.
pub fn debug_id_from_build_id(build_id: &[u8]) -> String {
    let mut b = [0u8; 16];
    let n = build_id.len().min(16);
    b[..n].copy_from_slice(&build_id[..n]);
    guid(&b)
}

/// `TimeDateStamp` (8 upper-case hex digits, as symbol servers spell it) ‖ `SizeOfImage` (hex).
fn pe_code_id(data: &[u8]) -> Option<String> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let pe = usize::try_from(u32_at(0x3c)?).ok()?;
    let timestamp = u32_at(pe.checked_add(8)?)?;
    // Optional header starts after the 4-byte signature and 20-byte COFF header; SizeOfImage is
    // at offset 56 in both PE32 and PE32+.
    let size_of_image = u32_at(pe.checked_add(24 + 56)?)?;
    Some(format!("{timestamp:08X}{size_of_image:x}"))
}

/// How much of each end of a file the fallback id covers.
const FALLBACK_PAGE: usize = 4096;

/// The fallback id: first 16 bytes (hex) of
/// SHA-256(first 4 KiB ‖ last 4 KiB ‖ length as u64 little-endian).
pub fn fallback_id(data: &[u8]) -> BuildId {
    let head = &data[..data.len().min(FALLBACK_PAGE)];
    let tail = &data[data.len().saturating_sub(FALLBACK_PAGE)..];
    fallback_id_of(head, tail, data.len() as u64)
}

/// [`fallback_id`] of the regular file at `path`, reading only its two ends (a runtime frame in
/// a file of gigabytes costs two pages, not the file).
///
/// # Errors
/// [`BinaryError::Open`] when `path` is not a regular file; [`BinaryError::Io`] when it cannot
/// be read, or shrinks while it is (its ends are then not where its length said).
pub fn fallback_id_of_file(path: &std::path::Path) -> Result<BuildId, BinaryError> {
    use std::os::unix::fs::FileExt as _;
    let (file, metadata) = stella_core::file::open_regular(path)?;
    let len = metadata.len();
    let io = |source| BinaryError::Io {
        path: path.display().to_string(),
        source,
    };
    // Both ends are at most a page, so these fit in usize.
    let head_len = usize::try_from(len.min(FALLBACK_PAGE as u64)).unwrap_or(FALLBACK_PAGE);
    let mut head = vec![0u8; head_len];
    file.read_exact_at(&mut head, 0).map_err(io)?;
    let mut tail = vec![0u8; head_len];
    file.read_exact_at(&mut tail, len - head_len as u64)
        .map_err(io)?;
    Ok(fallback_id_of(&head, &tail, len))
}

fn fallback_id_of(head: &[u8], tail: &[u8], len: u64) -> BuildId {
    let mut hasher = stella_core::digest::Sha256Writer::default();
    hasher.update(head);
    hasher.update(tail);
    hasher.update(&len.to_le_bytes());
    // SHA-256 hex is 64 lower-case digits: its first 32 are always a build id.
    hasher.finish().hex()[..32]
        .parse()
        .unwrap_or_else(|_| unreachable!("16 bytes of lower-case hex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_id_of_a_file_reads_its_ends_and_equals_that_of_its_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        for len in [0usize, 1, 100, 4095, 4096, 4097, 8191, 8192, 8193, 100_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).expect("write");
            assert_eq!(
                fallback_id_of_file(&path).expect("reads"),
                fallback_id(&bytes),
                "{len} bytes"
            );
        }
        let err = fallback_id_of_file(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn breakpad_debug_id_swaps_the_first_three_guid_fields() {
        let build_id: Vec<u8> = (0u8..20).collect();
        assert_eq!(
            debug_id_from_build_id(&build_id),
            "03020100-0504-0706-0809-0a0b0c0d0e0f"
        );
        // Short build ids are zero-padded.
        assert_eq!(
            debug_id_from_build_id(&[0xaa, 0xbb]),
            "0000bbaa-0000-0000-0000-000000000000"
        );
    }

    #[test]
    fn build_id_source_names_are_the_serialised_ones() {
        for source in [BuildIdSource::GnuNote, BuildIdSource::Fallback] {
            assert_eq!(
                serde_json::to_value(source).expect("json"),
                serde_json::json!(source.as_str())
            );
        }
    }

    #[test]
    fn fallback_id_depends_on_head_tail_and_length() {
        let a = vec![1u8; 10_000];
        let mut b = a.clone();
        b[5000] = 2; // the middle is not sampled
        let mut c = a.clone();
        c.push(1);
        assert_eq!(fallback_id(&a), fallback_id(&b));
        assert_ne!(fallback_id(&a), fallback_id(&c));
        assert_eq!(fallback_id(&a).as_str().len(), 32);
    }
}
