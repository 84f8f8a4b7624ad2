//! pprof output: a profile as the gzipped `profile.proto` message that `go tool pprof`,
//! Parca, Pyroscope and speedscope read.
//!
//! The mapping from Stella's profile:
//! - one `Mapping` per binary (BuildID and path; `[kernel.kallsyms]` for kernel frames, `[jit]`
//!   for anonymous memory), with `memory_start` 0, so a `Location`'s address is the frame's
//!   offset into the file (a kernel or JIT frame keeps its address): a viewer that symbolises
//!   by BuildID finds the same bytes Stella's frames name;
//! - one `Location` per distinct frame, with a `Line` naming its `Function` (mangled name as
//!   `system_name`, demangled as `name`, the DWARF file and line when known) and, innermost
//!   first, the frames inlined there;
//! - one `Sample` per stack, leaf first, with two values: samples (`count`) and CPU time
//!   (`nanoseconds`, samples × the sampling period), and the labels `pid`, `comm`,
//!   `container` and `image` where known;
//! - `time_nanos` and `duration_nanos` from the window, `period` from the frequency.
//!
//! What this module does not own: reading pprof (Stella's inputs are its JSON profile,
//! collapsed stacks and `perf script`), or naming frames (the symboliser).

use std::collections::HashMap;
use std::io::Write as _;

use prost::Message;

use crate::RuntimeError;
use crate::frame::{Frame, Location as FrameLocation};
use crate::profile::Profile;

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, Message)]
pub struct PprofProfile {
    /// What each sample value counts.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The stacks and their values.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// The binaries.
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    /// The distinct frames.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// The distinct functions.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string, by index; index 0 is empty.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    /// When the window started, Unix nanoseconds.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// How long the window was.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// What the sampling period measures.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// The sampling period (nanoseconds of CPU per sample).
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free-text comments, as string indices.
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
}

/// `perftools.profiles.ValueType`.
#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    /// The kind (string index).
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// The unit (string index).
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `perftools.profiles.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Frames, leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per sample type.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// Labels.
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `perftools.profiles.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// The key (string index).
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// A string value (string index), or 0.
    #[prost(int64, tag = "2")]
    pub str: i64,
    /// A number value.
    #[prost(int64, tag = "3")]
    pub num: i64,
}

/// `perftools.profiles.Mapping`.
#[derive(Clone, PartialEq, Message)]
pub struct Mapping {
    /// Its id (from 1).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Start address: 0, so a location address is a file offset.
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    /// End address.
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    /// Offset of `memory_start` in the file.
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    /// The path (string index).
    #[prost(int64, tag = "5")]
    pub filename: i64,
    /// The GNU BuildID (string index).
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    /// Whether its locations name functions.
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    /// Whether its locations name source files.
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    /// Whether its locations name lines.
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    /// Whether its locations list inlined frames.
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// `perftools.profiles.Location`.
#[derive(Clone, PartialEq, Message)]
pub struct Location {
    /// Its id (from 1).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its binary.
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    /// Its address (the file offset for file-backed code).
    #[prost(uint64, tag = "3")]
    pub address: u64,
    /// The functions at this address, inlined ones first.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `perftools.profiles.Line`.
#[derive(Clone, PartialEq, Message)]
pub struct Line {
    /// The function.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// The source line, or 0.
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `perftools.profiles.Function`.
#[derive(Clone, PartialEq, Message)]
pub struct Function {
    /// Its id (from 1).
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its name for people (demangled; string index).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// Its name as the binary holds it (string index).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    /// Its source file (string index).
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// The string table: index 0 is the empty string, as the format requires.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.get("");
        s
    }

    fn get(&mut self, text: &str) -> i64 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = i64::try_from(self.table.len()).unwrap_or(i64::MAX);
        self.table.push(text.to_owned());
        self.index.insert(text.to_owned(), i);
        i
    }
}

/// Ids handed out in first-seen order (pprof ids start at 1).
struct Ids<K> {
    ids: HashMap<K, u64>,
}

impl<K: std::hash::Hash + Eq> Ids<K> {
    fn new() -> Self {
        Ids {
            ids: HashMap::new(),
        }
    }

    /// The id of `key`, and whether it is new.
    fn get(&mut self, key: K) -> (u64, bool) {
        let next = self.ids.len() as u64 + 1;
        match self.ids.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => (*e.get(), false),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                (next, true)
            }
        }
    }
}

/// The binary a frame belongs to, as a mapping key: (BuildID, path).
fn mapping_key(frame: &Frame) -> (String, String) {
    match &frame.location {
        FrameLocation::File { build_id, path, .. } | FrameLocation::Named { build_id, path } => (
            build_id.clone().unwrap_or_default(),
            path.clone().unwrap_or_else(|| "[unknown]".to_owned()),
        ),
        FrameLocation::Kernel { .. } => (String::new(), crate::collapsed::KERNEL.to_owned()),
        FrameLocation::Anonymous { .. } => (String::new(), crate::collapsed::JIT.to_owned()),
    }
}

/// The address a location carries: the file offset (mappings start at 0), or the address for
/// kernel and JIT frames, or the symbol's offset for a named frame without one.
fn address(frame: &Frame) -> u64 {
    match &frame.location {
        FrameLocation::File { file_offset, .. } => *file_offset,
        FrameLocation::Kernel { address } | FrameLocation::Anonymous { address, .. } => *address,
        FrameLocation::Named { .. } => frame.symbol.as_ref().map_or(0, |s| s.offset),
    }
}

fn nanos(rfc3339: &str) -> Option<i64> {
    stella_core::time::parse_rfc3339(rfc3339)
        .ok()?
        .checked_mul(1_000_000_000)
}

/// The profile as a pprof message (not compressed).
pub fn to_message(profile: &Profile) -> PprofProfile {
    let mut strings = Strings::new();
    let mut mappings: Ids<(String, String)> = Ids::new();
    let mut locations: Ids<(u64, u64, String)> = Ids::new();
    let mut functions: Ids<(String, String, String)> = Ids::new();
    let mut out = PprofProfile {
        sample_type: vec![
            ValueType {
                r#type: strings.get("samples"),
                unit: strings.get("count"),
            },
            ValueType {
                r#type: strings.get("cpu"),
                unit: strings.get("nanoseconds"),
            },
        ],
        ..Default::default()
    };
    let period = profile
        .hz
        .filter(|&hz| hz > 0)
        .map_or(0, |hz| i64::try_from(1_000_000_000 / hz).unwrap_or(0));
    out.period_type = Some(ValueType {
        r#type: strings.get("cpu"),
        unit: strings.get("nanoseconds"),
    });
    out.period = period;
    if let Some(w) = &profile.window
        && let (Some(start), Some(end)) = (nanos(&w.start), nanos(&w.end))
    {
        out.time_nanos = start;
        out.duration_nanos = end.saturating_sub(start).max(0);
    }
    out.comment = vec![strings.get(&format!("{} ({})", profile.schema, profile.backend))];

    for stack in &profile.stacks {
        let mut ids = Vec::with_capacity(stack.frames.len());
        for frame in &stack.frames {
            let key = mapping_key(frame);
            let (mapping_id, new_mapping) = mappings.get(key.clone());
            if new_mapping {
                let (build_id, path) = key;
                out.mapping.push(Mapping {
                    id: mapping_id,
                    memory_start: 0,
                    memory_limit: u64::MAX,
                    file_offset: 0,
                    filename: strings.get(&path),
                    build_id: strings.get(&build_id),
                    has_functions: true,
                    has_filenames: false,
                    has_line_numbers: false,
                    has_inline_frames: false,
                });
            }
            let name = frame
                .symbol
                .as_ref()
                .map(|s| s.function.clone())
                .unwrap_or_default();
            let (location_id, new_location) =
                locations.get((mapping_id, address(frame), name.clone()));
            if new_location {
                let mut lines = Vec::new();
                if let Some(symbol) = &frame.symbol {
                    // Inlined frames first (innermost first), then the function itself.
                    for inlined in &symbol.inlined {
                        let (id, new) = functions.get((
                            inlined.function.clone(),
                            inlined.function.clone(),
                            inlined.file.clone().unwrap_or_default(),
                        ));
                        if new {
                            out.function.push(Function {
                                id,
                                name: strings.get(&inlined.function),
                                system_name: strings.get(&inlined.function),
                                filename: strings.get(inlined.file.as_deref().unwrap_or("")),
                            });
                        }
                        lines.push(Line {
                            function_id: id,
                            line: i64::from(inlined.line.unwrap_or(0)),
                        });
                    }
                    let display = symbol.display_name().to_owned();
                    let file = symbol.file.clone().unwrap_or_default();
                    let (id, new) =
                        functions.get((display.clone(), symbol.function.clone(), file.clone()));
                    if new {
                        out.function.push(Function {
                            id,
                            name: strings.get(&display),
                            system_name: strings.get(&symbol.function),
                            filename: strings.get(&file),
                        });
                    }
                    lines.push(Line {
                        function_id: id,
                        line: i64::from(symbol.line.unwrap_or(0)),
                    });
                }
                out.location.push(Location {
                    id: location_id,
                    mapping_id,
                    address: address(frame),
                    line: lines,
                });
            }
            ids.push(location_id);
        }
        let count = i64::try_from(stack.count).unwrap_or(i64::MAX);
        let mut labels = Vec::new();
        if let Some(pid) = stack.pid {
            labels.push(Label {
                key: strings.get("pid"),
                str: 0,
                num: i64::from(pid),
            });
        }
        for (key, value) in [
            ("comm", &stack.comm),
            ("container", &stack.container),
            ("image", &stack.image),
        ] {
            if let Some(value) = value {
                labels.push(Label {
                    key: strings.get(key),
                    str: strings.get(value),
                    num: 0,
                });
            }
        }
        out.sample.push(Sample {
            location_id: ids,
            value: vec![count, count.saturating_mul(period)],
            label: labels,
        });
    }
    out.string_table = strings.table;
    out
}

/// The profile as a gzipped `profile.proto` message, the bytes a `.pb.gz` file holds.
///
/// # Errors
/// [`RuntimeError::Io`] only if compressing into memory fails.
pub fn write(profile: &Profile) -> Result<Vec<u8>, RuntimeError> {
    let bytes = to_message(profile).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let io = |source| RuntimeError::Io {
        path: "profile.pb.gz".into(),
        source,
    };
    gz.write_all(&bytes).map_err(io)?;
    gz.finish().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_start_empty_and_are_shared() {
        let mut s = Strings::new();
        assert_eq!(s.get(""), 0);
        let a = s.get("main");
        assert_eq!(s.get("main"), a);
        assert_eq!(s.table, ["", "main"]);
    }

    #[test]
    fn a_profile_round_trips_through_the_message() {
        let profile: Profile = serde_json::from_value(serde_json::json!({
            "schema": "stella.runtime.profile/v1",
            "backend": "ebpf",
            "hz": 49,
            "target": {"kind": "all"},
            "window": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T00:00:10Z",
                       "sampledSeconds": 10.0},
            "stats": {"samples": 5, "lost": 0, "userStacksMissing": 0, "kernelStacksMissing": 0,
                      "frames": 3, "unknownFrames": 1},
            "stacks": [{
                "pid": 7, "comm": "app", "count": 5,
                "frames": [
                    {"kind": "file", "buildId": "ab", "path": "/app", "fileOffset": "0x1010",
                     "symbol": {"function": "_ZN3app3hot17h0E", "demangled": "app::hot",
                                "offset": "0x10", "source": "file"}},
                    {"kind": "file", "buildId": "ab", "path": "/app", "fileOffset": "0x2000"},
                    {"kind": "kernel", "address": "0xffffffff81000000"}
                ]
            }]
        }))
        .expect("a profile");
        let message = to_message(&profile);
        let decoded = PprofProfile::decode(message.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded, message);
        assert_eq!(decoded.sample.len(), 1);
        assert_eq!(decoded.sample[0].value, [5, 5 * (1_000_000_000 / 49)]);
        assert_eq!(decoded.mapping.len(), 2);
        assert_eq!(decoded.location.len(), 3);
        let name = |i: i64| decoded.string_table[usize::try_from(i).expect("index")].as_str();
        assert_eq!(name(decoded.function[0].name), "app::hot");
        assert_eq!(name(decoded.function[0].system_name), "_ZN3app3hot17h0E");
        assert_eq!(name(decoded.mapping[0].build_id), "ab");
        assert_eq!(decoded.location[0].address, 0x1010);
        assert_eq!(decoded.duration_nanos, 10_000_000_000);
        assert!(write(&profile).expect("gzip").starts_with(&[0x1f, 0x8b]));
    }
}
