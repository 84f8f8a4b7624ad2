//! Collapsed stacks: one line per unique stack, root first, then a space and the count
//! (Brendan Gregg's format, which flame-graph tools read), with Stella's canonical segments
//! (DESIGN.md, "Collapsed stacks"):
//!
//! ```text
//! image@sha256:<hex>;container=<id>;<comm>;buildid=<hex>;main+0x20;hot_loop+0x9 1400
//! ```
//!
//! - `image@…` and `container=…` open the line when known; then the process name;
//! - `buildid=<hex>` comes before each run of frames from the same binary (`buildid=none` for
//!   a file without one, `buildid=kernel` before kernel frames, `buildid=jit` before frames in
//!   anonymous memory);
//! - a resolved frame is `function+0x<offset into it>` (demangled; `;` inside a name becomes
//!   `:` so the line stays parseable), kernel frames end in `_[k]` and JIT frames in `_[j]`
//!   (the flame-graph colour conventions);
//! - an unknown frame is `[unknown]+0x<file offset>` (or `+0x<address>` for kernel and JIT
//!   frames): its binary and offset survive, so it can be symbolised later.
//!
//! [`read`] accepts these lines and plain collapsed stacks from other tools (`comm;f;g 3`).
//! What this module does not own: the JSON form (`profile`) and `perf script` input (`import`).

use std::fmt::Write as _;

use crate::RuntimeError;
use crate::frame::{Frame, Location, Symbol, SymbolSource, parse_hex};
use crate::profile::{Profile, Stack};

/// The path a [`Location::Named`] kernel frame carries (as `perf script` names the kernel).
pub const KERNEL: &str = "[kernel.kallsyms]";
/// The path a [`Location::Named`] frame in JIT code carries.
pub const JIT: &str = "[jit]";

/// Writes a profile's stacks as collapsed lines (root first), in the profile's stack order.
pub fn write(profile: &Profile) -> String {
    let mut out = String::new();
    for stack in &profile.stacks {
        out.push_str(&line(stack));
        let _ = writeln!(out, " {}", stack.count);
    }
    out
}

fn clean(name: &str) -> String {
    name.replace([';', '\n', '\r'], ":")
}

fn line(stack: &Stack) -> String {
    let mut segments: Vec<String> = Vec::new();
    if let Some(image) = &stack.image {
        segments.push(format!("image@{image}"));
    }
    if let Some(container) = &stack.container {
        segments.push(format!("container={container}"));
    }
    segments.push(match (&stack.comm, stack.pid) {
        (Some(comm), _) => clean(comm),
        (None, Some(pid)) => format!("[pid {pid}]"),
        (None, None) => "[unknown]".to_string(),
    });
    let mut binary: Option<String> = None;
    for frame in stack.frames.iter().rev() {
        let (group, suffix, raw) = match &frame.location {
            Location::File {
                build_id,
                file_offset,
                ..
            } => (
                build_id.clone().unwrap_or_else(|| "none".into()),
                "",
                *file_offset,
            ),
            Location::Named { build_id, path } => match path.as_deref() {
                Some(KERNEL) => ("kernel".into(), "_[k]", 0),
                Some(JIT) => ("jit".into(), "_[j]", 0),
                _ => (build_id.clone().unwrap_or_else(|| "none".into()), "", 0),
            },
            Location::Kernel { address } => ("kernel".into(), "_[k]", *address),
            Location::Anonymous { address, .. } => ("jit".into(), "_[j]", *address),
        };
        if binary.as_deref() != Some(group.as_str()) {
            segments.push(format!("buildid={group}"));
            binary = Some(group);
        }
        segments.push(match &frame.symbol {
            Some(symbol) => format!(
                "{}+{:#x}{suffix}",
                clean(symbol.display_name()),
                symbol.offset
            ),
            None => format!("[unknown]+{raw:#x}{suffix}"),
        });
    }
    segments.join(";")
}

/// Reads collapsed lines into a profile whose target says where they came from. Frames that
/// carry a name become [`Location::Named`] frames with an imported symbol; `[unknown]+0x…`
/// frames under a `buildid=` segment become [`Location::File`] frames with that offset, ready
/// to be symbolised.
pub fn read(text: &str, origin: &str) -> Result<Profile, RuntimeError> {
    let mut stacks = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        // What the writer would turn into `:` is turned so on reading, so a line read and
        // written again is the same line.
        let cleaned = raw.trim_end().replace('\r', ":");
        let raw = cleaned.as_str();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let parse_error = |message: &str| RuntimeError::Parse {
            origin: origin.to_string(),
            line: index + 1,
            message: message.to_string(),
        };
        let (path, count) = raw
            .rsplit_once(' ')
            .ok_or_else(|| parse_error("expected `frame;frame;… COUNT`"))?;
        let count: u64 = count
            .parse()
            .map_err(|_| parse_error("the count after the last space is not a number"))?;
        let mut segments = path.split(';').peekable();
        let mut stack = Stack {
            pid: None,
            comm: None,
            container: None,
            image: None,
            count,
            frames: Vec::new(),
        };
        while let Some(segment) = segments.peek() {
            if let Some(image) = segment.strip_prefix("image@") {
                stack.image = Some(image.to_string());
            } else if let Some(container) = segment.strip_prefix("container=") {
                stack.container = Some(container.to_string());
            } else {
                break;
            }
            segments.next();
        }
        if let Some(comm) = segments.next() {
            if let Some(pid) = comm
                .strip_prefix("[pid ")
                .and_then(|p| p.strip_suffix(']'))
                .and_then(|p| p.parse().ok())
            {
                stack.pid = Some(pid);
            } else if comm != "[unknown]" {
                stack.comm = Some(comm.to_string());
            }
        }
        let mut group: Option<String> = None;
        for segment in segments {
            if let Some(id) = segment.strip_prefix("buildid=") {
                group = Some(id.to_string());
                continue;
            }
            stack
                .frames
                .push(frame_of(segment, group.as_deref()).map_err(|m| parse_error(&m))?);
        }
        stack.frames.reverse();
        stacks.push(stack);
    }
    let mut profile = Profile {
        schema: crate::profile::SCHEMA.to_string(),
        backend: "collapsed".to_string(),
        hz: None,
        target: crate::profile::Target::Imported {
            origin: origin.to_string(),
        },
        window: None,
        stats: Default::default(),
        stacks,
    };
    profile.normalize();
    Ok(profile)
}

fn frame_of(segment: &str, group: Option<&str>) -> Result<Frame, String> {
    if segment.is_empty() {
        return Err("an empty frame (two `;` in a row, or one at the end)".to_string());
    }
    let (body, kernel, jit) = if let Some(body) = segment.strip_suffix("_[k]") {
        (body, true, false)
    } else if let Some(body) = segment.strip_suffix("_[j]") {
        (body, false, true)
    } else {
        (segment, false, false)
    };
    let (name, offset) = match body.rsplit_once("+0x") {
        Some((name, hex)) if !name.is_empty() => match parse_hex(hex) {
            Some(offset) => (name, Some(offset)),
            None => (body, None),
        },
        _ => (body, None),
    };
    let build_id = match group {
        Some("none" | "kernel" | "jit") | None => None,
        Some(id) => Some(id.to_string()),
    };
    if name == "[unknown]" {
        let raw =
            offset.ok_or_else(|| format!("`{segment}`: an unknown frame needs +0x<offset>"))?;
        let location = if kernel || group == Some("kernel") {
            Location::Kernel { address: raw }
        } else if jit || group == Some("jit") {
            // The pid is not part of a collapsed line; 0 marks it as not known.
            Location::Anonymous {
                pid: 0,
                address: raw,
            }
        } else {
            Location::File {
                build_id,
                path: None,
                file_offset: raw,
            }
        };
        return Ok(Frame::unresolved(location));
    }
    let path = if kernel || group == Some("kernel") {
        Some(KERNEL.to_string())
    } else if jit || group == Some("jit") {
        Some(JIT.to_string())
    } else {
        None
    };
    Ok(Frame {
        location: Location::Named { build_id, path },
        symbol: Some(Symbol {
            function: name.to_string(),
            demangled: None,
            offset: offset.unwrap_or(0),
            source: SymbolSource::Imported,
            inlined: Vec::new(),
            file: None,
            line: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Target;

    fn profile(stacks: Vec<Stack>) -> Profile {
        Profile {
            schema: crate::profile::SCHEMA.into(),
            backend: "ebpf".into(),
            hz: Some(49),
            target: Target::All,
            window: None,
            stats: Default::default(),
            stacks,
        }
    }

    fn named(function: &str, offset: u64) -> Option<Symbol> {
        Some(Symbol {
            function: function.into(),
            demangled: None,
            offset,
            source: SymbolSource::File,
            inlined: vec![],
            file: None,
            line: None,
        })
    }

    #[test]
    fn a_stack_is_written_root_first_with_build_id_segments() {
        let stack = Stack {
            pid: Some(7),
            comm: Some("hot".into()),
            container: Some("c".repeat(64)),
            image: Some("sha256:ab".into()),
            count: 12,
            frames: vec![
                Frame {
                    location: Location::Kernel {
                        address: 0xffff_ffff_8100_0010,
                    },
                    symbol: named("do_syscall_64", 0x10),
                },
                Frame::unresolved(Location::File {
                    build_id: Some("bb".into()),
                    path: None,
                    file_offset: 0x2a0,
                }),
                Frame {
                    location: Location::File {
                        build_id: Some("aa".into()),
                        path: Some("/usr/bin/hot".into()),
                        file_offset: 0x1139,
                    },
                    symbol: named("hot_loop", 0x9),
                },
                Frame {
                    location: Location::File {
                        build_id: Some("aa".into()),
                        path: Some("/usr/bin/hot".into()),
                        file_offset: 0x1190,
                    },
                    symbol: named("main", 0x20),
                },
            ],
        };
        let text = write(&profile(vec![stack]));
        assert_eq!(
            text,
            format!(
                "image@sha256:ab;container={};hot;buildid=aa;main+0x20;hot_loop+0x9;buildid=bb;\
                 [unknown]+0x2a0;buildid=kernel;do_syscall_64+0x10_[k] 12\n",
                "c".repeat(64)
            )
        );
        let back = read(&text, "t").unwrap();
        let stack = &back.stacks[0];
        assert_eq!(stack.count, 12);
        assert_eq!(stack.comm.as_deref(), Some("hot"));
        assert_eq!(stack.image.as_deref(), Some("sha256:ab"));
        assert_eq!(stack.frames.len(), 4);
        assert_eq!(
            stack.frames[1].location,
            Location::File {
                build_id: Some("bb".into()),
                path: None,
                file_offset: 0x2a0
            }
        );
        assert_eq!(stack.frames[2].build_id(), Some("aa"));
        assert_eq!(
            stack.frames[3]
                .symbol
                .as_ref()
                .map(|s| (s.function.as_str(), s.offset)),
            Some(("main", 0x20))
        );
        // Written again, the same line.
        assert_eq!(write(&back), text);
    }

    #[test]
    fn fuzzer_finds_stay_fixed() {
        // Empty frames could not be written back as they were read.
        for input in [" ]0\0; 0\n\n", "; 0"] {
            assert!(read(input, "fuzz").is_err(), "{input:?}");
        }
        // A carriage return inside a line is read as the `:` it is written as.
        let input = " !  \r`\r 77\n: 777 `\r 77\n";
        let once = write(&read(input, "fuzz").unwrap());
        assert_eq!(write(&read(&once, "fuzz").unwrap()), once);
    }

    #[test]
    fn plain_collapsed_lines_from_other_tools_are_read() {
        let back = read("bash;main;readline 3\nbash;main 1\n\n", "other").unwrap();
        assert_eq!(back.stacks.len(), 2);
        assert_eq!(
            back.stacks[0].frames[0].symbol.as_ref().unwrap().function,
            "readline"
        );
    }

    #[test]
    fn malformed_lines_name_the_line() {
        for bad in [
            "a;b;c",
            "a;b x",
            "a;buildid=aa;[unknown] 3",
            "a;;b 1",
            "a; 0",
        ] {
            let error = read(&format!("ok 1\n{bad}\n"), "in.txt")
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("in.txt:2:"), "{error}");
        }
    }
}
