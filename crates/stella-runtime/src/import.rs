//! Stacks from other tools: `perf script` output and raw `(BuildID, offset)` frame lists.
//!
//! **`perf script`** (the default text form of `perf record -g` data): a header line per
//! sample (`comm pid [cpu] time: period event:`) followed by one indented line per frame
//! (`ip symbol+0xoff (dso)`), leaf first, and a blank line. When the output also holds the
//! mapping events (`perf script --show-mmap-events`), each user address is turned into
//! `(BuildID, file offset)` of the file — `offset = ip − start + pgoff` for an address inside
//! a mapping, or through the file's `PT_LOAD` segments for the dso-relative virtual address
//! perf prints once it resolved the frame — so Stella names the frame itself, from the same
//! address perf did; otherwise the frame keeps perf's name as an imported symbol of the dso. Kernel frames (`[kernel.kallsyms]`) keep their
//! address. Identical stacks are merged and counted.
//!
//! **Raw frames**: one frame per line, `BUILDID 0xOFFSET` or `BUILDID+0xOFFSET` (file offsets,
//! as a BPF program with `BPF_F_USER_BUILD_ID` reports them); `#` starts a comment.
//!
//! What this module does not own: collapsed lines (`collapsed`), or naming (`symbolize`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::RuntimeError;
use crate::frame::{Frame, Location, Symbol, SymbolSource, parse_hex};
use crate::procmaps::read_build_id;
use crate::profile::{Profile, SCHEMA, Stack, Stats, Target};

/// The input formats [`detect`] tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `perf script` text.
    PerfScript,
    /// Collapsed stack lines.
    Collapsed,
    /// Raw `(BuildID, offset)` lines.
    Raw,
}

/// Guesses the format from the text: indented `ip sym (dso)` lines mean `perf script`, lines
/// of a hex BuildID and a hex offset mean raw frames, anything else is collapsed.
pub fn detect(text: &str) -> Format {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .take(64)
        .collect();
    if lines
        .iter()
        .any(|l| l.starts_with(char::is_whitespace) && frame_line(l).is_some())
    {
        return Format::PerfScript;
    }
    if !lines.is_empty() && lines.iter().all(|l| raw_line(l).is_some()) {
        return Format::Raw;
    }
    Format::Collapsed
}

/// One parsed `ip sym (dso)` line.
struct PerfFrame<'a> {
    ip: u64,
    symbol: Option<(&'a str, u64)>,
    dso: &'a str,
}

fn frame_line(line: &str) -> Option<PerfFrame<'_>> {
    let line = line.trim();
    let (ip, rest) = line.split_once(char::is_whitespace)?;
    let ip = u64::from_str_radix(ip, 16).ok()?;
    let rest = rest.trim();
    let open = rest.rfind('(')?;
    let dso = rest[open + 1..].strip_suffix(')')?;
    let name = rest[..open].trim();
    let symbol = if name.is_empty() || name == "[unknown]" {
        None
    } else {
        Some(match name.rsplit_once("+0x") {
            Some((n, off)) => match parse_hex(off) {
                Some(off) => (n, off),
                None => (name, 0),
            },
            None => (name, 0),
        })
    };
    Some(PerfFrame { ip, symbol, dso })
}

/// A mapping from a `PERF_RECORD_MMAP2` (or `MMAP`) line.
#[derive(Debug, Clone)]
struct PerfMapping {
    start: u64,
    len: u64,
    pgoff: u64,
    path: String,
}

/// Parses `… PERF_RECORD_MMAP2 PID/TID: [0xSTART(0xLEN) @ 0xPGOFF …]: PROT PATH`.
fn mmap_line(line: &str) -> Option<(u32, PerfMapping)> {
    let at = line.find("PERF_RECORD_MMAP")?;
    let rest = &line[at..];
    let (_, rest) = rest.split_once(' ')?;
    let (pid, rest) = rest.split_once('/')?;
    let pid: u32 = pid.trim().parse().ok()?;
    let bracket = rest.find("[0x")?;
    let rest = &rest[bracket + 3..];
    let (start, rest) = rest.split_once("(0x")?;
    let (len, rest) = rest.split_once(')')?;
    let rest = rest.trim_start().strip_prefix("@ ")?;
    let (pgoff, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let (_, tail) = rest.split_once("]: ")?;
    let (_, path) = tail.split_once(' ')?;
    Some((
        pid,
        PerfMapping {
            start: u64::from_str_radix(start, 16).ok()?,
            len: u64::from_str_radix(len, 16).ok()?,
            pgoff: parse_hex(pgoff.trim_end_matches(']'))?,
            path: path.trim().to_string(),
        },
    ))
}

/// The pid in a sample header: the first token after the command that is `PID` or `PID/TID`.
fn header_pid(line: &str) -> (Option<u32>, Option<String>) {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    for (i, token) in tokens.iter().enumerate() {
        let pid = token.split('/').next().unwrap_or("");
        if i > 0 && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            return (pid.parse().ok(), Some(tokens[..i].join(" ")));
        }
    }
    (None, tokens.first().map(|t| t.to_string()))
}

/// A sample's process, command and frames: what identical samples share.
type SampleKey = (Option<u32>, Option<String>, Vec<Frame>);

/// Reads `perf script` output into a profile.
pub fn perf_script(text: &str, origin: &str) -> Result<Profile, RuntimeError> {
    let mut mappings: HashMap<u32, Vec<PerfMapping>> = HashMap::new();
    let mut build_ids: HashMap<String, Option<String>> = HashMap::new();
    let mut merged: BTreeMap<SampleKey, u64> = BTreeMap::new();
    let mut current: Option<SampleKey> = None;
    let mut samples = 0u64;
    let flush = |current: &mut Option<SampleKey>, merged: &mut BTreeMap<_, u64>| {
        if let Some(stack) = current.take() {
            *merged.entry(stack).or_default() += 1;
        }
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            flush(&mut current, &mut merged);
            continue;
        }
        if let Some((pid, mapping)) = mmap_line(line) {
            mappings.entry(pid).or_default().push(mapping);
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let Some(frame) = frame_line(line) else {
                return Err(RuntimeError::Parse {
                    origin: origin.to_string(),
                    line: index + 1,
                    message: "expected a frame `ADDRESS SYMBOL+0xOFF (DSO)`".to_string(),
                });
            };
            let Some((pid, _, frames)) = current.as_mut() else {
                return Err(RuntimeError::Parse {
                    origin: origin.to_string(),
                    line: index + 1,
                    message: "a frame line before any sample header".to_string(),
                });
            };
            let depth = frames.len() as u64;
            let address = frame.ip.saturating_sub(u64::from(depth > 0));
            frames.push(perf_frame(&frame, address, *pid, &mappings, &mut build_ids));
            continue;
        }
        flush(&mut current, &mut merged);
        let (pid, comm) = header_pid(line);
        samples += 1;
        current = Some((pid, comm, Vec::new()));
    }
    flush(&mut current, &mut merged);
    let mut profile = Profile {
        schema: SCHEMA.to_string(),
        backend: "perf-script".to_string(),
        hz: None,
        target: Target::Imported {
            origin: origin.to_string(),
        },
        window: None,
        stats: Stats {
            samples,
            ..Stats::default()
        },
        stacks: merged
            .into_iter()
            .map(|((pid, comm, frames), count)| Stack {
                pid,
                comm,
                container: None,
                image: None,
                count,
                frames,
            })
            .collect(),
    };
    profile.normalize();
    Ok(profile)
}

fn perf_frame(
    frame: &PerfFrame<'_>,
    address: u64,
    pid: Option<u32>,
    mappings: &HashMap<u32, Vec<PerfMapping>>,
    build_ids: &mut HashMap<String, Option<String>>,
) -> Frame {
    if frame.dso.starts_with("[kernel") {
        return Frame::unresolved(Location::Kernel { address });
    }
    let mapped = pid.and_then(|pid| mappings.get(&pid)).and_then(|maps| {
        maps.iter()
            .rev()
            .find(|m| m.start <= address && address - m.start < m.len && m.path == frame.dso)
    });
    let build_id = |path: &str, ids: &mut HashMap<String, Option<String>>| {
        ids.entry(path.to_string())
            .or_insert_with(|| read_build_id(Path::new(path)))
            .clone()
    };
    if let Some((m, file_offset)) =
        mapped.and_then(|m| Some((m, (address - m.start).checked_add(m.pgoff)?)))
    {
        return Frame::unresolved(Location::File {
            build_id: build_id(&m.path, build_ids),
            path: Some(m.path.clone()),
            file_offset,
        });
    }
    // perf prints a resolved user frame's address relative to its dso: the ELF virtual
    // address, which the file's PT_LOAD segments turn into a file offset.
    if frame.dso.starts_with('/')
        && pid.is_some_and(|p| mappings.contains_key(&p))
        && let Some(file_offset) = vaddr_to_file_offset(Path::new(frame.dso), address)
    {
        return Frame::unresolved(Location::File {
            build_id: build_id(frame.dso, build_ids),
            path: Some(frame.dso.to_string()),
            file_offset,
        });
    }
    let path = if frame.dso == "[unknown]" {
        None
    } else {
        Some(frame.dso.to_string())
    };
    Frame {
        location: Location::Named {
            build_id: path.as_deref().and_then(|p| build_id(p, build_ids)),
            path,
        },
        symbol: frame.symbol.map(|(name, offset)| Symbol {
            function: name.to_string(),
            demangled: None,
            offset,
            source: SymbolSource::Imported,
            inlined: Vec::new(),
            file: None,
            line: None,
        }),
    }
}

/// The file offset of virtual address `vaddr` of the ELF file at `path` (an executable
/// `PT_LOAD` first), if the file is readable and a segment holds the address.
fn vaddr_to_file_offset(path: &Path, vaddr: u64) -> Option<u64> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let layout = crate::symbolize::elf::read_layout(path).ok()?;
    let mut loads = layout.loads;
    loads.sort_by_key(|l| !l.executable);
    loads
        .iter()
        .find(|l| vaddr >= l.vaddr && vaddr - l.vaddr < l.filesz)
        .map(|l| vaddr - l.vaddr + l.offset)
}

fn raw_line(line: &str) -> Option<(String, u64)> {
    let line = line.trim();
    let (id, offset) = line
        .split_once(char::is_whitespace)
        .or_else(|| line.split_once('+'))?;
    let id = id.trim();
    let offset = parse_hex(offset.trim())?;
    (id.len() >= 16 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (id.to_ascii_lowercase(), offset))
}

/// Reads raw `(BuildID, file offset)` lines, one frame each, in input order.
pub fn raw_frames(text: &str, origin: &str) -> Result<Vec<Frame>, RuntimeError> {
    let mut frames = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let body = line.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        let (build_id, file_offset) = raw_line(body).ok_or_else(|| RuntimeError::Parse {
            origin: origin.to_string(),
            line: index + 1,
            message: "expected `BUILDID 0xOFFSET` (hex BuildID, hex file offset)".to_string(),
        })?;
        frames.push(Frame::unresolved(Location::File {
            build_id: Some(build_id),
            path: None,
            file_offset,
        }));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERF: &str = "\
hot 4242 12.5: PERF_RECORD_MMAP2 4242/4242: [0x55d0c0a01000(0x1000) @ 0x1000 08:01 1234 0]: r-xp /nonexistent/hot
hot 4242 [001]  1234.567890:   10101010 cpu-clock:ppp: 
\t    55d0c0a01139 hot_loop+0x9 (/nonexistent/hot)
\t    55d0c0a01190 main+0x20 (/nonexistent/hot)
\t    7f0000029d90 __libc_start_call_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\tffffffff81000010 do_syscall_64+0x10 ([kernel.kallsyms])

hot 4242 [001]  1234.587890:   10101010 cpu-clock:ppp: 
\t    55d0c0a01139 hot_loop+0x9 (/nonexistent/hot)
\t    55d0c0a01190 main+0x20 (/nonexistent/hot)
\t    7f0000029d90 __libc_start_call_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\tffffffff81000010 do_syscall_64+0x10 ([kernel.kallsyms])

my prog 77/78 [000] 1.0: 1 cpu-clock:
\t    7f00000011aa [unknown] ([unknown])
";

    #[test]
    fn perf_script_stacks_merge_and_mapped_addresses_become_file_offsets() {
        assert_eq!(detect(PERF), Format::PerfScript);
        let profile = perf_script(PERF, "perf.txt").unwrap();
        assert_eq!(profile.stats.samples, 3);
        assert_eq!(profile.stacks.len(), 2);
        let top = &profile.stacks[0];
        assert_eq!((top.pid, top.count), (Some(4242), 2));
        assert_eq!(
            top.frames[0].location,
            Location::File {
                build_id: None,
                path: Some("/nonexistent/hot".into()),
                file_offset: 0x1139
            }
        );
        // A caller: its return address moved back one byte.
        assert!(matches!(
            top.frames[1].location,
            Location::File {
                file_offset: 0x118f,
                ..
            }
        ));
        // Not mapped in the output: perf's name is kept.
        assert_eq!(
            top.frames[2].symbol.as_ref().map(|s| s.function.as_str()),
            Some("__libc_start_call_main")
        );
        assert!(matches!(top.frames[3].location, Location::Kernel { .. }));
        let other = &profile.stacks[1];
        assert_eq!(other.comm.as_deref(), Some("my prog"));
        assert_eq!(other.pid, Some(77));
        assert!(other.frames[0].symbol.is_none());
    }

    #[test]
    fn raw_frames_parse_and_bad_lines_are_named() {
        let text =
            "# frames\nabcdef0123456789abcdef0123456789abcdef01 0x1139\nABCDEF0123456789+0x10\n";
        assert_eq!(detect(text), Format::Raw);
        let frames = raw_frames(text, "in").unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].build_id(), Some("abcdef0123456789"));
        let error = raw_frames("abcdef0123456789 zz\n", "in")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("in:1:"), "{error}");
        assert_eq!(detect("a;b;c 1\n"), Format::Collapsed);
    }

    #[test]
    fn a_frame_before_a_header_is_an_error() {
        let error = perf_script("\t    55d0 f+0x1 (/x)\n", "p")
            .unwrap_err()
            .to_string();
        assert!(error.contains("before any sample header"), "{error}");
    }
}
