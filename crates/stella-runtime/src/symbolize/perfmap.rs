//! JIT symbols from `/tmp/perf-PID.map`.
//!
//! The format is perf's (`tools/perf/Documentation/jit-interface.txt`): one line per code
//! region, `START SIZE NAME`, START and SIZE in hex (with or without `0x`), NAME the rest of the
//! line (it may hold spaces: `LazyCompile:~main /srv/app.js:3`). Lines that do not parse are
//! skipped and counted, never fatal: the file is written by the JIT while we read it.
//!
//! A JIT may reuse an address for new code, appending a new line; where regions overlap, the
//! line written last wins. Maps are read once per process and only re-read when an address is
//! not found and the file has grown since (only the new complete lines are parsed), or been
//! replaced by a shorter one (a new process reusing the pid: read again from the start).
//!
//! Why this and not blazesym's perf-map support (`Process { perf_map: true }`): on a clean map
//! both name the same regions (`tests/it/blazesym_agreement.rs`, on a live child with a JIT-like
//! executable page), but blazesym refuses the whole map, so every frame of the process, over one
//! line it cannot parse (a `0x` prefix, a line perf itself skips), names a line the JIT has not
//! finished writing, and lets the earlier of two overlapping regions win where the later line
//! is the code there now. It also reads the map only for addresses in anonymous mappings of a
//! process still alive; our frames arrive after the recording.
//!
//! What this module does not own: jitdump files (`jit-PID.dump`), or deciding that an address is
//! anonymous (`procmaps`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use crate::RuntimeError;

/// Largest map read per process (a node process with `--perf-basic-prof` running for days
/// writes tens of MB).
pub const MAX_BYTES: u64 = 256 << 20;
/// Longest symbol name kept; longer lines are skipped.
pub const MAX_NAME_BYTES: usize = 4096;
/// How many regions starting at or before an address are examined for one containing it (see
/// [`PerfMap::lookup`]).
pub const MAX_OVERLAP_LOOKBACK: usize = 64;

/// One JIT code region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfMapEntry {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// The name the JIT gave it.
    pub name: String,
    /// Position in the file (0-based line among the parsed ones): later wins on overlap.
    pub order: u64,
}

/// One process's perf map.
#[derive(Debug, Clone, Default)]
pub struct PerfMap {
    /// Sorted by start, then order.
    entries: Vec<PerfMapEntry>,
    /// Bytes of the file consumed (complete lines only).
    consumed: u64,
    /// Lines that did not parse.
    skipped: u64,
    next_order: u64,
}

impl PerfMap {
    /// Parses perf-map text.
    pub fn parse(text: &str) -> Self {
        let mut map = PerfMap::default();
        map.append(text);
        map
    }

    /// The regions, sorted by start.
    pub fn entries(&self) -> &[PerfMapEntry] {
        &self.entries
    }

    /// How many lines did not parse.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped
    }

    /// The region containing `address` (the latest written where several do, among the
    /// [`MAX_OVERLAP_LOOKBACK`] starting nearest before it), and the offset into it.
    pub fn lookup(&self, address: u64) -> Option<(&PerfMapEntry, u64)> {
        let after = self.entries.partition_point(|e| e.start <= address);
        self.entries[..after]
            .iter()
            .rev()
            .take(MAX_OVERLAP_LOOKBACK)
            .filter(|e| address < e.end)
            .max_by_key(|e| e.order)
            .map(|e| (e, address - e.start))
    }

    /// Adds the lines of `text` (which holds complete lines only).
    fn append(&mut self, text: &str) {
        let before = self.entries.len();
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some((start, end, name)) => {
                    self.entries.push(PerfMapEntry {
                        start,
                        end,
                        name: name.to_owned(),
                        order: self.next_order,
                    });
                    self.next_order += 1;
                }
                None => self.skipped += 1,
            }
        }
        if self.entries.len() != before {
            self.entries.sort_by_key(|e| (e.start, e.order));
        }
    }
}

/// `START SIZE NAME` → `(start, end, name)`; `None` for anything else, an empty region or one
/// running past the end of the address space.
fn parse_line(line: &str) -> Option<(u64, u64, &str)> {
    let line = line.trim_start();
    let (start, rest) = line.split_once(|c: char| c.is_ascii_whitespace())?;
    let rest = rest.trim_start();
    let (size, name) = rest.split_once(|c: char| c.is_ascii_whitespace())?;
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return None;
    }
    let start = crate::frame::parse_hex(start)?;
    let size = crate::frame::parse_hex(size)?;
    let end = start.checked_add(size).filter(|&end| end > start)?;
    Some((start, end, name))
}

/// The perf maps of every process seen, read lazily from one directory.
#[derive(Debug)]
pub(crate) struct PerfMaps {
    dir: PathBuf,
    by_pid: HashMap<u32, PerfMap>,
}

impl PerfMaps {
    pub(crate) fn new(dir: PathBuf) -> Self {
        PerfMaps {
            dir,
            by_pid: HashMap::new(),
        }
    }

    fn path(&self, pid: u32) -> PathBuf {
        self.dir.join(format!("perf-{pid}.map"))
    }

    /// The region of process `pid` containing `address`, reading the map first if it has not
    /// been read or has changed size since.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the map exists but cannot be read.
    pub(crate) fn lookup(
        &mut self,
        pid: u32,
        address: u64,
    ) -> Result<Option<(&PerfMapEntry, u64)>, RuntimeError> {
        let known = self
            .by_pid
            .get(&pid)
            .is_some_and(|map| map.lookup(address).is_some());
        if !known {
            self.refresh(pid)?;
        }
        Ok(self.by_pid.get(&pid).and_then(|map| map.lookup(address)))
    }

    fn refresh(&mut self, pid: u32) -> Result<(), RuntimeError> {
        let path = self.path(pid);
        let len = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(RuntimeError::io(&path, e)),
        };
        let map = self.by_pid.entry(pid).or_default();
        if len < map.consumed {
            *map = PerfMap::default();
        }
        if len > map.consumed {
            read_new_lines(&path, map)?;
        }
        Ok(())
    }
}

/// Appends the complete lines written to `path` since `map.consumed`.
fn read_new_lines(path: &Path, map: &mut PerfMap) -> Result<(), RuntimeError> {
    let io = |e| RuntimeError::io(path, e);
    let budget = MAX_BYTES.saturating_sub(map.consumed);
    if budget == 0 {
        return Ok(());
    }
    let mut file = File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(map.consumed)).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(budget).read_to_end(&mut bytes).map_err(io)?;
    // A line still being written has no newline yet: leave it for the next read.
    let Some(last_newline) = bytes.iter().rposition(|&b| b == b'\n') else {
        return Ok(());
    };
    let complete = &bytes[..=last_newline];
    map.consumed += complete.len() as u64;
    map.append(&String::from_utf8_lossy(complete));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn name(map: &PerfMap, address: u64) -> Option<(&str, u64)> {
        map.lookup(address).map(|(e, off)| (e.name.as_str(), off))
    }

    #[test]
    fn lines_parse_with_or_without_0x_and_names_keep_their_spaces() {
        let map = PerfMap::parse(
            "7f0000001000 40 LazyCompile:~main /srv/app.js:3\n\
             0x7f0000002000 0x10 Builtin:ArgumentsAdaptorTrampoline\n\
             7F0000003000 8 upper_case_hex\n",
        );
        assert_eq!(map.skipped_lines(), 0);
        assert_eq!(
            name(&map, 0x7f00_0000_1000),
            Some(("LazyCompile:~main /srv/app.js:3", 0))
        );
        assert_eq!(
            name(&map, 0x7f00_0000_103f),
            Some(("LazyCompile:~main /srv/app.js:3", 0x3f))
        );
        assert_eq!(name(&map, 0x7f00_0000_1040), None, "end is exclusive");
        assert_eq!(
            name(&map, 0x7f00_0000_2008),
            Some(("Builtin:ArgumentsAdaptorTrampoline", 8))
        );
        assert_eq!(name(&map, 0x7f00_0000_3007), Some(("upper_case_hex", 7)));
        assert_eq!(name(&map, 0x1000), None);
    }

    #[test]
    fn garbage_lines_are_skipped_not_fatal() {
        let long_name = "x".repeat(MAX_NAME_BYTES + 1);
        let text = format!(
            "garbage\n1000\n1000 10\n1000 10   \nzz 10 f\n1000 zz f\n1000 0 empty\n\
             ffffffffffffffff 2 wraps\n10000000000000000 1 too_big\n1000 10 {long_name}\n\
             \u{0}\u{7f} \u{ffff}\n   \n2000 10 good\n"
        );
        let map = PerfMap::parse(&text);
        assert_eq!(map.entries().len(), 1);
        assert_eq!(map.skipped_lines(), 11);
        assert_eq!(name(&map, 0x2001), Some(("good", 1)));
        assert_eq!(name(&map, 0x1001), None);
    }

    #[test]
    fn the_latest_line_wins_where_regions_overlap() {
        let map = PerfMap::parse("1000 100 old\n1000 10 newer\n1080 10 inner\n1000 100 newest\n");
        assert_eq!(name(&map, 0x1004), Some(("newest", 4)));
        assert_eq!(name(&map, 0x1084), Some(("newest", 0x84)));
        let map = PerfMap::parse("1000 100 outer\n1080 10 inner\n");
        assert_eq!(name(&map, 0x1084), Some(("inner", 4)));
        assert_eq!(name(&map, 0x1090), Some(("outer", 0x90)));
    }

    #[test]
    fn a_growing_file_is_read_again_only_for_unknown_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let mut maps = PerfMaps::new(dir.path().to_path_buf());
        assert!(maps.lookup(42, 0x1000).unwrap().is_none(), "no map yet");
        let path = dir.path().join("perf-42.map");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"1000 10 first\n2000 10 half").unwrap();
        file.flush().unwrap();
        let found = maps
            .lookup(42, 0x1004)
            .unwrap()
            .map(|(e, o)| (e.name.clone(), o));
        assert_eq!(found, Some(("first".to_owned(), 4)));
        assert!(
            maps.lookup(42, 0x2004).unwrap().is_none(),
            "an unterminated line is not read yet"
        );
        file.write_all(b"_written\n3000 10 third\n").unwrap();
        file.flush().unwrap();
        let found = maps
            .lookup(42, 0x2004)
            .unwrap()
            .map(|(e, _)| e.name.clone());
        assert_eq!(found.as_deref(), Some("half_written"));
        let found = maps
            .lookup(42, 0x3000)
            .unwrap()
            .map(|(e, _)| e.name.clone());
        assert_eq!(found.as_deref(), Some("third"));
        assert_eq!(maps.by_pid[&42].entries().len(), 3);

        // Replaced by a shorter file (a new process with the same pid): read from the start.
        std::fs::write(&path, b"5000 10 reborn\n").unwrap();
        let found = maps
            .lookup(42, 0x5001)
            .unwrap()
            .map(|(e, _)| e.name.clone());
        assert_eq!(found.as_deref(), Some("reborn"));
        assert!(maps.lookup(42, 0x1004).unwrap().is_none());
    }
}
