//! The canonical stack frame: where a sampled address points, and what it resolved to.
//!
//! A frame is first a [`Location`] — `(BuildID, file offset)` for code mapped from a file (what
//! `BPF_F_STACK_BUILD_ID` gives, or a raw address normalised through `/proc/PID/maps`), a kernel
//! address, or an address in anonymous memory (JIT code, found through `/tmp/perf-PID.map`). The
//! symboliser then adds a [`Symbol`]: the function, the offset into it and, from DWARF, the
//! frames inlined at that address. A frame nobody can resolve keeps its location and no symbol:
//! it is reported as unknown, never dropped or guessed.
//!
//! Caller frames are return addresses; the sampler subtracts one before building the location,
//! so the offset here always points inside the calling instruction.
//!
//! What this module does not own: reading stacks from the kernel (`sampler`), resolving names
//! (`symbolize`), or the output formats (`profile`, `collapsed`).

use serde::{Deserialize, Serialize};

/// Where a frame's address points.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Location {
    /// Code mapped from a file: its GNU BuildID (lower-case hex) where one is known, the path it
    /// was mapped from where known, and the offset into the file.
    #[serde(rename_all = "camelCase")]
    File {
        /// GNU BuildID, lower-case hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        build_id: Option<String>,
        /// The path the process mapped the file from (as the process saw it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Offset into the file, `0x` hex in JSON.
        #[serde(with = "hex_u64")]
        file_offset: u64,
    },
    /// A kernel text address.
    Kernel {
        /// The address, `0x` hex in JSON.
        #[serde(with = "hex_u64")]
        address: u64,
    },
    /// A frame another tool's output named without its address (a collapsed stack line, say):
    /// the binary where known, and the [`Symbol`] beside it carries the function and offset.
    #[serde(rename_all = "camelCase")]
    Named {
        /// GNU BuildID, lower-case hex, when the input gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        build_id: Option<String>,
        /// The binary's path, when the input gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// An address in memory no file backs (JIT code): resolvable only through the process's
    /// perf map, so the pid is part of the location.
    Anonymous {
        /// The process whose address space this is.
        pid: u32,
        /// The address, `0x` hex in JSON.
        #[serde(with = "hex_u64")]
        address: u64,
    },
}

/// Where a symbol's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SymbolSource {
    /// A symbol bundle attached to an image by `stella scan`.
    Bundle,
    /// The local symbol cache, keyed by BuildID.
    Cache,
    /// The binary on disk (its symbol table and, where present, DWARF).
    File,
    /// A debuginfod server.
    Debuginfod,
    /// `/proc/kallsyms`.
    Kallsyms,
    /// A JIT's `/tmp/perf-PID.map`.
    PerfMap,
    /// The kernel's vDSO image, as this host maps it (its BuildID checked).
    Vdso,
    /// Another tool's output (`perf script`, collapsed stacks) that already named the frame.
    Imported,
}

/// A frame inlined at the sampled address (from DWARF), innermost first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inlined {
    /// The inlined function's name as DWARF gives it (mangled where the compiler mangles).
    pub function: String,
    /// Demangled, where it differs from `function`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// Source file of the call site, where DWARF has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line, where DWARF has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// What a location resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Symbol {
    /// The function's name as the symbol table holds it (mangled names stay mangled, so they
    /// match advisories and FuncProofs exactly).
    pub function: String,
    /// Demangled, where it differs from `function`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// Offset of the address from the function's start, `0x` hex in JSON.
    #[serde(with = "hex_u64")]
    pub offset: u64,
    /// Where the name came from.
    pub source: SymbolSource,
    /// Frames inlined at this address, innermost first (empty without DWARF).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inlined: Vec<Inlined>,
    /// Source file of the address, where DWARF has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line, where DWARF has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Symbol {
    /// The name to show people: demangled where there is one.
    pub fn display_name(&self) -> &str {
        self.demangled.as_deref().unwrap_or(&self.function)
    }
}

/// One canonical frame: a location and, when resolved, its symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    /// Where the address points.
    #[serde(flatten)]
    pub location: Location,
    /// What it resolved to; absent for an unknown frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<Symbol>,
}

impl Frame {
    /// An unresolved frame at `location`.
    pub fn unresolved(location: Location) -> Self {
        Frame {
            location,
            symbol: None,
        }
    }

    /// The BuildID of the file this frame lies in, if any.
    pub fn build_id(&self) -> Option<&str> {
        match &self.location {
            Location::File { build_id, .. } | Location::Named { build_id, .. } => {
                build_id.as_deref()
            }
            _ => None,
        }
    }
}

/// Serde for `u64` as a `0x` lower-case hex string (the form FuncProofs use for addresses).
pub(crate) mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:#x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_hex(&text)
            .ok_or_else(|| D::Error::custom(format!("expected a 0x hex number, got {text:?}")))
    }
}

/// Parses `0x…` (or bare) hex into a `u64`.
pub fn parse_hex(text: &str) -> Option<u64> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_frame_round_trips_through_json_with_hex_offsets() {
        let frame = Frame {
            location: Location::File {
                build_id: Some("ab12".into()),
                path: Some("/usr/lib/libz.so.1".into()),
                file_offset: 0x1234,
            },
            symbol: Some(Symbol {
                function: "inflate".into(),
                demangled: None,
                offset: 0x3a,
                source: SymbolSource::Bundle,
                inlined: vec![],
                file: None,
                line: None,
            }),
        };
        let json = serde_json::to_string(&frame).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"kind":"file","buildId":"ab12","path":"/usr/lib/libz.so.1","fileOffset":"0x1234","symbol":{"function":"inflate","offset":"0x3a","source":"bundle"}}"#
        );
        let back: Frame = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, frame);
    }

    #[test]
    fn hex_parsing_rejects_garbage_and_overflow() {
        assert_eq!(parse_hex("0x10"), Some(16));
        assert_eq!(parse_hex("ff"), Some(255));
        assert_eq!(parse_hex("0x"), None);
        assert_eq!(parse_hex("0x1_0"), None);
        assert_eq!(parse_hex("0x10000000000000000"), None);
    }
}
