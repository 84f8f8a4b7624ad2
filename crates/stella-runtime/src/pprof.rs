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
//! [`read`] takes pprof back (gzipped or not, from Stella or from Go, Parca, Pyroscope): every
//! string, mapping, location and function index is checked, a frame's file offset is its
//! address less its mapping's start plus the mapping's offset, a location's last line is its
//! function and the lines before it the frames inlined there.
//!
//! What this module does not own: naming frames (the symboliser).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};

use prost::Message;

use crate::RuntimeError;
use crate::frame::{Frame, Inlined, Location as FrameLocation, Symbol, SymbolSource};
use crate::profile::{Profile, Stack, Target, Window};

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

/// Largest pprof read once decompressed.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// A pprof profile (`bytes`, gzipped or not, read from `origin`) as Stella's profile.
///
/// # Errors
/// [`RuntimeError::Parse`] naming what is wrong: not gzip or protobuf, larger than
/// [`MAX_DECOMPRESSED_BYTES`] once decompressed, an index (string, mapping, location,
/// function) out of range, or a sample with no value.
pub fn read(bytes: &[u8], origin: &str) -> Result<Profile, RuntimeError> {
    let bad = |message: String| RuntimeError::Parse {
        origin: origin.to_owned(),
        line: 0,
        message,
    };
    let raw;
    let message_bytes: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("not a gzipped pprof profile: {e}")))?;
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(bad(format!(
                "larger than {MAX_DECOMPRESSED_BYTES} bytes once decompressed"
            )));
        }
        raw = out;
        &raw
    } else {
        bytes
    };
    let p = PprofProfile::decode(message_bytes)
        .map_err(|e| bad(format!("not a pprof profile (profile.proto): {e}")))?;
    let string = |i: i64, what: &str| -> Result<&str, RuntimeError> {
        usize::try_from(i)
            .ok()
            .and_then(|i| p.string_table.get(i))
            .map(String::as_str)
            .ok_or_else(|| {
                bad(format!(
                    "{what}: string index {i} out of range (the table holds {})",
                    p.string_table.len()
                ))
            })
    };
    if p.string_table.first().is_some_and(|s| !s.is_empty()) {
        return Err(bad("string_table[0] must be the empty string".to_owned()));
    }
    let mappings: HashMap<u64, &Mapping> = p.mapping.iter().map(|m| (m.id, m)).collect();
    let functions: HashMap<u64, &Function> = p.function.iter().map(|f| (f.id, f)).collect();
    let mut locations: HashMap<u64, Frame> = HashMap::new();
    for l in &p.location {
        let at = format!("location {}", l.id);
        let mapping = match l.mapping_id {
            0 => None,
            id => Some(
                *mappings
                    .get(&id)
                    .ok_or_else(|| bad(format!("{at}: mapping {id} is not in the profile")))?,
            ),
        };
        let mut names = Vec::new();
        for line in &l.line {
            let f = functions.get(&line.function_id).ok_or_else(|| {
                bad(format!(
                    "{at}: function {} is not in the profile",
                    line.function_id
                ))
            })?;
            let name = string(f.name, &at)?;
            let system = string(f.system_name, &at)?;
            let file = string(f.filename, &at)?;
            names.push((
                if system.is_empty() { name } else { system }.to_owned(),
                name.to_owned(),
                file.to_owned(),
                line.line,
            ));
        }
        let location = match mapping {
            Some(m) => {
                let path = string(m.filename, &at)?;
                let build_id = string(m.build_id, &at)?;
                if path == crate::collapsed::KERNEL || path.starts_with("[kernel") {
                    FrameLocation::Kernel { address: l.address }
                } else {
                    FrameLocation::File {
                        build_id: (!build_id.is_empty()).then(|| build_id.to_lowercase()),
                        path: (!path.is_empty()).then(|| path.to_owned()),
                        file_offset: l
                            .address
                            .checked_sub(m.memory_start)
                            .and_then(|a| a.checked_add(m.file_offset))
                            .unwrap_or(l.address),
                    }
                }
            }
            None => FrameLocation::Named {
                build_id: None,
                path: None,
            },
        };
        // The last line is the function the address is in; those before it were inlined there.
        let symbol = names.pop().map(|(function, name, file, line)| Symbol {
            demangled: (name != function && !name.is_empty()).then_some(name),
            function,
            offset: 0,
            source: SymbolSource::Imported,
            inlined: names
                .into_iter()
                .map(|(function, name, file, line)| Inlined {
                    demangled: (name != function && !name.is_empty()).then_some(name),
                    function,
                    file: (!file.is_empty()).then_some(file),
                    line: u32::try_from(line).ok().filter(|&l| l > 0),
                })
                .collect(),
            file: (!file.is_empty()).then_some(file),
            line: u32::try_from(line).ok().filter(|&l| l > 0),
        });
        locations.insert(l.id, Frame { location, symbol });
    }
    // The value counted: samples when the profile has them, else its first value.
    let value_index = p
        .sample_type
        .iter()
        .position(|t| {
            string(t.r#type, "sample_type").is_ok_and(|s| s == "samples")
                || string(t.unit, "sample_type").is_ok_and(|s| s == "count")
        })
        .unwrap_or(0);
    let mut stacks = Vec::with_capacity(p.sample.len());
    for (i, sample) in p.sample.iter().enumerate() {
        let at = format!("sample {i}");
        let value = *sample
            .value
            .get(value_index)
            .ok_or_else(|| bad(format!("{at}: no value {value_index}")))?;
        let Ok(count) = u64::try_from(value) else {
            return Err(bad(format!("{at}: a negative count ({value})")));
        };
        if count == 0 {
            continue;
        }
        let frames = sample
            .location_id
            .iter()
            .map(|id| {
                locations
                    .get(id)
                    .cloned()
                    .ok_or_else(|| bad(format!("{at}: location {id} is not in the profile")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut stack = Stack {
            pid: None,
            comm: None,
            container: None,
            image: None,
            count,
            frames,
        };
        for label in &sample.label {
            let key = string(label.key, &at)?;
            let text = string(label.str, &at)?;
            match key {
                "pid" | "process_id" => stack.pid = u32::try_from(label.num).ok(),
                "comm" | "thread_name" if !text.is_empty() => stack.comm = Some(text.to_owned()),
                "container" if !text.is_empty() => stack.container = Some(text.to_owned()),
                "image" if !text.is_empty() => stack.image = Some(text.to_owned()),
                _ => {}
            }
        }
        stacks.push(stack);
    }
    let hz = match (&p.period_type, p.period) {
        (Some(t), period) if period > 0 && string(t.unit, "period_type")? == "nanoseconds" => {
            u64::try_from(1_000_000_000 / period)
                .ok()
                .filter(|&h| h > 0)
        }
        _ => None,
    };
    // Years 1970 to 9999, the range RFC 3339 text is written for; any other time is dropped.
    const LAST_SECOND: i64 = 253_402_300_799;
    let start = p.time_nanos / 1_000_000_000;
    let end = p.time_nanos.saturating_add(p.duration_nanos.max(0)) / 1_000_000_000;
    let window = (p.time_nanos > 0 && end <= LAST_SECOND).then(|| Window {
        start: stella_core::time::rfc3339_utc(start),
        end: stella_core::time::rfc3339_utc(end),
        #[allow(clippy::cast_precision_loss)]
        sampled_seconds: p.duration_nanos.max(0) as f64 / 1e9,
    });
    let mut profile = Profile {
        schema: crate::profile::SCHEMA.to_owned(),
        backend: "pprof".to_owned(),
        hz,
        target: Target::Imported {
            origin: origin.to_owned(),
        },
        window,
        stats: Default::default(),
        stacks,
    };
    profile.stats.samples = profile.stacks.iter().map(|s| s.count).sum();
    profile.normalize();
    Ok(profile)
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
        let gz = write(&profile).expect("gzip");
        assert!(gz.starts_with(&[0x1f, 0x8b]));

        // Read back: the same stacks, frames and names.
        let back = read(&gz, "p.pb.gz").expect("reads");
        assert_eq!(back.stacks.len(), 1);
        assert_eq!(back.stacks[0].count, 5);
        assert_eq!(back.stacks[0].pid, Some(7));
        assert_eq!(back.stacks[0].comm.as_deref(), Some("app"));
        assert_eq!(back.hz, Some(49));
        let leaf = &back.stacks[0].frames[0];
        assert_eq!(
            leaf.location,
            FrameLocation::File {
                build_id: Some("ab".into()),
                path: Some("/app".into()),
                file_offset: 0x1010
            }
        );
        let symbol = leaf.symbol.as_ref().expect("named");
        assert_eq!(symbol.function, "_ZN3app3hot17h0E");
        assert_eq!(symbol.demangled.as_deref(), Some("app::hot"));
        assert!(back.stacks[0].frames[1].symbol.is_none());
        assert!(matches!(
            back.stacks[0].frames[2].location,
            FrameLocation::Kernel { .. }
        ));
    }

    #[test]
    fn indices_out_of_range_and_garbage_are_named() {
        let base = || PprofProfile {
            string_table: vec![String::new(), "samples".into(), "count".into()],
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            mapping: vec![Mapping {
                id: 1,
                filename: 0,
                build_id: 0,
                ..Default::default()
            }],
            function: vec![Function {
                id: 1,
                name: 1,
                system_name: 1,
                filename: 0,
            }],
            location: vec![Location {
                id: 1,
                mapping_id: 1,
                address: 16,
                line: vec![Line {
                    function_id: 1,
                    line: 3,
                }],
            }],
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![2],
                label: vec![],
            }],
            ..Default::default()
        };
        assert!(read(&base().encode_to_vec(), "ok").is_ok());
        let cases: Vec<(PprofProfile, &str)> = vec![
            (
                PprofProfile {
                    function: vec![Function {
                        id: 1,
                        name: 99,
                        system_name: 1,
                        filename: 0,
                    }],
                    ..base()
                },
                "string index 99 out of range",
            ),
            (
                PprofProfile {
                    sample: vec![Sample {
                        location_id: vec![7],
                        value: vec![1],
                        label: vec![],
                    }],
                    ..base()
                },
                "location 7 is not in the profile",
            ),
            (
                PprofProfile {
                    location: vec![Location {
                        id: 1,
                        mapping_id: 5,
                        address: 0,
                        line: vec![],
                    }],
                    ..base()
                },
                "mapping 5 is not in the profile",
            ),
            (
                PprofProfile {
                    sample: vec![Sample {
                        location_id: vec![1],
                        value: vec![-3],
                        label: vec![],
                    }],
                    ..base()
                },
                "negative count",
            ),
        ];
        for (profile, expected) in cases {
            let err = read(&profile.encode_to_vec(), "bad.pb").expect_err(expected);
            assert!(err.to_string().contains(expected), "{err}");
        }
        let err = read(b"\x1f\x8bnot gzip at all", "x").expect_err("garbage");
        assert!(err.to_string().contains("gzip"), "{err}");
        let err = read(&[0xff; 16], "x").expect_err("garbage");
        assert!(err.to_string().contains("not a pprof profile"), "{err}");
    }
}
