//! The build information the Go linker writes into every Go binary (`runtime/debug.BuildInfo`):
//! the Go version, the main module and every dependency module with its version and checksum,
//! and the build settings — what a scanner needs to name a Go binary's components even when
//! the binary is stripped.
//!
//! Where it is: the section `.go.buildinfo` (ELF), `__go_buildinfo` (Mach-O), or, wherever the
//! linker put it (PE), the 16-byte-aligned block that starts with the magic
//! `\xff Go buildinf:`. The block's 32-byte header holds the pointer size and flags; since Go
//! 1.18 (flag bit 1) the version and the module text follow inline as two varint-prefixed
//! strings. Older binaries point at the strings instead; they are reported as
//! [`GoBuildInfoError::PointerFormat`], not guessed at.
//!
//! The module text (`go version -m` prints the same) is framed by two 16-byte sentinels and
//! holds tab-separated lines: `path` (the main package), `mod` (the main module), `dep` (a
//! dependency), `=>` (the replacement of the line before), `build` (a setting `key=value`).
//!
//! Everything here reads untrusted bytes: lengths are bounded ([`MAX_GO_BUILDINFO_STRING`]),
//! a malformed block is an error naming what is wrong, never a panic.
//!
//! What this module does not own: turning modules into SBOM components (`stella-sbom`), or Go
//! function names (`.gopclntab`).

use object::{Object, ObjectSection};

/// The magic every build-info block starts with.
pub const GO_BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";

/// Longest version or module text read (1 MiB; real module lists are a few KiB).
pub const MAX_GO_BUILDINFO_STRING: usize = 1 << 20;

/// Most lines of module text read.
pub const MAX_GO_MODULES: usize = 100_000;

/// The header's size before the inline strings.
const HEADER: usize = 32;

/// The flag saying the strings are inline (Go 1.18 and later).
const FLAG_INLINE: u8 = 0x2;

/// Why the build information could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GoBuildInfoError {
    /// A block from before Go 1.18, whose strings are reached through pointers.
    #[error("build information of a Go release before 1.18 (strings by pointer) is not read")]
    PointerFormat,
    /// The block ends before what its lengths promise.
    #[error("the build information is cut short at byte {offset} of the block")]
    Truncated {
        /// Where.
        offset: usize,
    },
    /// A string longer than [`MAX_GO_BUILDINFO_STRING`].
    #[error("a build information string of {length} bytes is longer than the limit of {limit}")]
    TooLong {
        /// Its length.
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8, or a line that is not the module text's.
    #[error("malformed module information: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

/// A module as the build information names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoModule {
    /// The module path (`golang.org/x/net`).
    pub path: String,
    /// Its version (`v0.17.0`, a pseudo-version, or `(devel)` for the main module).
    pub version: String,
    /// Its `go.sum` checksum (`h1:…`), when recorded.
    pub sum: Option<String>,
    /// What replaced it (`=>` line), when something did.
    pub replaced_by: Option<Box<GoModule>>,
}

/// The build information of one Go binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// The Go toolchain that built it (`go1.21.3`).
    pub go_version: String,
    /// The main package's import path.
    pub path: Option<String>,
    /// The main module.
    pub main: Option<GoModule>,
    /// Every dependency module, in the order written.
    pub deps: Vec<GoModule>,
    /// The build settings (`-ldflags`, `GOOS`, `vcs.revision`, …), in the order written.
    pub settings: Vec<(String, String)>,
}

/// The build information of the Go binary `file` (bytes `data`), `Ok(None)` when it has none.
///
/// # Errors
/// [`GoBuildInfoError`] when a block is there and cannot be read.
pub fn go_buildinfo(
    file: &object::File<'_>,
    data: &[u8],
) -> Result<Option<GoBuildInfo>, GoBuildInfoError> {
    let section = file.sections().find(|s| {
        s.name()
            .is_ok_and(|n| n == ".go.buildinfo" || n == "__go_buildinfo")
    });
    let block = match section.and_then(|s| s.file_range()) {
        Some((offset, size)) => usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(size)).ok())
            .and_then(|(from, to)| data.get(from..to)),
        // PE, or a file stripped of its section headers: the magic, 16-byte aligned. An ELF or
        // Mach-O file with sections but without this one is not a Go binary, whatever bytes it
        // holds (a Go-aware tool keeps the magic as a constant).
        None if file.format() == object::BinaryFormat::Pe || file.sections().next().is_none() => {
            find_block(data)
        }
        None => None,
    };
    match block {
        Some(block) if block.starts_with(GO_BUILDINFO_MAGIC) => parse_block(block).map(Some),
        _ => Ok(None),
    }
}

fn find_block(data: &[u8]) -> Option<&[u8]> {
    memchr::memmem::find_iter(data, GO_BUILDINFO_MAGIC)
        .find(|start| start % 16 == 0)
        .and_then(|start| data.get(start..))
}

/// Reads a block that starts with the magic.
///
/// # Errors
/// As [`go_buildinfo`].
pub fn parse_block(block: &[u8]) -> Result<GoBuildInfo, GoBuildInfoError> {
    let flags = *block
        .get(15)
        .ok_or(GoBuildInfoError::Truncated { offset: 15 })?;
    if flags & FLAG_INLINE == 0 {
        return Err(GoBuildInfoError::PointerFormat);
    }
    let mut at = HEADER;
    let go_version = utf8(read_bytes(block, &mut at)?)?.to_owned();
    let modinfo = read_bytes(block, &mut at)?;
    // 16 bytes of sentinel (not text) at each end, the text between ending in a newline.
    let body = if modinfo.len() >= 33 && modinfo.get(modinfo.len() - 17) == Some(&b'\n') {
        &modinfo[16..modinfo.len() - 16]
    } else {
        modinfo
    };
    let mut info = parse_modinfo(utf8(body)?)?;
    info.go_version = go_version;
    Ok(info)
}

fn utf8(bytes: &[u8]) -> Result<&str, GoBuildInfoError> {
    std::str::from_utf8(bytes).map_err(|e| GoBuildInfoError::Malformed {
        reason: format!("not UTF-8: {e}"),
    })
}

fn read_bytes<'b>(block: &'b [u8], at: &mut usize) -> Result<&'b [u8], GoBuildInfoError> {
    let mut length: u64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *block
            .get(*at)
            .ok_or(GoBuildInfoError::Truncated { offset: *at })?;
        *at += 1;
        if shift > 63 {
            return Err(GoBuildInfoError::Malformed {
                reason: "a length varint longer than ten bytes".to_owned(),
            });
        }
        length |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let limit = MAX_GO_BUILDINFO_STRING;
    let len = usize::try_from(length)
        .ok()
        .filter(|&l| l <= limit)
        .ok_or(GoBuildInfoError::TooLong { length, limit })?;
    let end =
        at.checked_add(len)
            .filter(|&e| e <= block.len())
            .ok_or(GoBuildInfoError::Truncated {
                offset: block.len(),
            })?;
    let bytes = &block[*at..end];
    *at = end;
    Ok(bytes)
}

/// The module text (sentinels stripped) as [`GoBuildInfo`] (without the Go version).
fn parse_modinfo(body: &str) -> Result<GoBuildInfo, GoBuildInfoError> {
    let mut info = GoBuildInfo {
        go_version: String::new(),
        path: None,
        main: None,
        deps: Vec::new(),
        settings: Vec::new(),
    };
    let malformed = |line: &str| GoBuildInfoError::Malformed {
        reason: format!("line {line:?}"),
    };
    for (n, line) in body.lines().enumerate() {
        if n >= MAX_GO_MODULES {
            return Err(GoBuildInfoError::Malformed {
                reason: format!("more than {MAX_GO_MODULES} lines"),
            });
        }
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let module = |f: &[&str]| -> Option<GoModule> {
            Some(GoModule {
                path: (*f.get(1)?).to_owned(),
                version: f.get(2).map_or_else(String::new, |v| (*v).to_owned()),
                sum: f.get(3).map(|s| (*s).to_owned()).filter(|s| !s.is_empty()),
                replaced_by: None,
            })
        };
        match fields[0] {
            "path" => info.path = fields.get(1).map(|p| (*p).to_owned()),
            "mod" => info.main = Some(module(&fields).ok_or_else(|| malformed(line))?),
            "dep" => info
                .deps
                .push(module(&fields).ok_or_else(|| malformed(line))?),
            "=>" => {
                let replacement = module(&fields).ok_or_else(|| malformed(line))?;
                let target = match info.deps.last_mut() {
                    Some(dep) => dep,
                    None => info.main.as_mut().ok_or_else(|| malformed(line))?,
                };
                target.replaced_by = Some(Box::new(replacement));
            }
            "build" => {
                let setting = fields.get(1).ok_or_else(|| malformed(line))?;
                let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
                info.settings.push((key.to_owned(), value.to_owned()));
            }
            _ => return Err(malformed(line)),
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn block(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = GO_BUILDINFO_MAGIC.to_vec();
        b.push(8);
        b.push(FLAG_INLINE);
        b.resize(HEADER, 0);
        varint(version.len(), &mut b);
        b.extend_from_slice(version.as_bytes());
        varint(modinfo.len(), &mut b);
        b.extend_from_slice(modinfo.as_bytes());
        b
    }

    const SENTINEL_START: &str = "0123456789abcdef";
    const SENTINEL_END: &str = "fedcba9876543210";

    #[test]
    fn modules_replacements_and_settings_are_read() {
        let text = format!(
            "{SENTINEL_START}path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
             dep\tgolang.org/x/net\tv0.17.0\th1:abc=\n\
             dep\tgithub.com/a/b\tv1.0.0\th1:def=\n=>\t../b\t(devel)\t\n\
             build\t-compiler=gc\nbuild\tGOOS=linux\n{SENTINEL_END}"
        );
        let info = parse_block(&block("go1.21.3", &text)).unwrap();
        assert_eq!(info.go_version, "go1.21.3");
        assert_eq!(info.path.as_deref(), Some("example.com/app"));
        assert_eq!(info.main.as_ref().unwrap().version, "(devel)");
        assert_eq!(info.deps.len(), 2);
        assert_eq!(info.deps[0].sum.as_deref(), Some("h1:abc="));
        assert_eq!(info.deps[1].replaced_by.as_ref().unwrap().path, "../b");
        assert_eq!(info.settings[1], ("GOOS".to_owned(), "linux".to_owned()));
    }

    #[test]
    fn bad_blocks_are_errors_not_panics() {
        let good = block("go1.21.3", "path\tx\n");
        for cut in 0..good.len() {
            let _ = parse_block(&good[..cut]);
        }
        let mut old = good.clone();
        old[15] = 0;
        assert_eq!(parse_block(&old), Err(GoBuildInfoError::PointerFormat));
        let mut long = GO_BUILDINFO_MAGIC.to_vec();
        long.extend_from_slice(&[8, FLAG_INLINE]);
        long.resize(HEADER, 0);
        long.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(matches!(
            parse_block(&long),
            Err(GoBuildInfoError::TooLong { .. })
        ));
        assert!(matches!(
            parse_block(&block("go1", "nonsense\tline\n")),
            Err(GoBuildInfoError::Malformed { .. })
        ));
    }
}
