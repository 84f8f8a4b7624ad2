//! Raw addresses normalised through `/proc/PID/maps`, and the BuildIDs of mapped files.
//!
//! The kernel gives most user frames as `(BuildID, file offset)` already; when it cannot (the
//! page holding the note was not resident, or an older kernel), a frame is a raw address. This
//! module turns such an address into a [`Location`] with the mapping of the process at the
//! time it was seen: [`MapsCache`] snapshots a process's mappings when it is first seen (and
//! again when an address is not covered, while the process lives), so a process that exits
//! before the end of a recording stays attributable.
//!
//! It also answers "which file has this BuildID" from the mappings it saw
//! ([`MapsCache::path_of_build_id`]), so the symboliser can use the binary on disk.
//!
//! Why this and not blazesym's normaliser (`blazesym::normalize::Normalizer`), which Stella
//! links anyway: on every file mapping of a live process both give the same `(BuildID, file
//! offset)` (`tests/it/blazesym_agreement.rs` compares them on this test process and a spawned
//! child), but blazesym answers a `[vdso]` address with a symbol name instead of the vDSO's
//! BuildID and offset (the canonical frame, named later from a bundle or the host's image), and
//! once a process has exited it normalises nothing, where our snapshot still answers; its VMA
//! cache, which would keep exited processes, never re-reads a process's mappings (a `dlopen`
//! after the first sample stays unknown), where [`MapsCache::locate`] re-reads on a miss. Cost
//! is not the reason (BENCHMARKS.md, "Runtime readers against blazesym").
//!
//! What this module does not own: reading stacks from the kernel (`sampler`), or names
//! (`symbolize`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::frame::Location;

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Whether the mapping is executable.
    pub executable: bool,
    /// Offset into the file of `start`.
    pub offset: u64,
    /// Device and inode, `0` for anonymous memory.
    pub inode: u64,
    /// The path, or the pseudo-name (`[heap]`, `[vdso]`), or empty for anonymous memory.
    pub path: String,
}

impl Mapping {
    /// Whether a file backs this mapping (not anonymous memory, not `[vdso]` and the like).
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.starts_with('/')
    }
}

/// Parses the text of `/proc/PID/maps`. Malformed lines are skipped: the kernel wrote the
/// file, so a line that does not parse is a format this code does not know, not an attack.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let _dev = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().map(str::trim_start).unwrap_or("");
    let (start, end) = range.split_once('-')?;
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        executable: perms.as_bytes().get(2) == Some(&b'x'),
        offset: u64::from_str_radix(offset, 16).ok()?,
        inode: inode.parse().ok()?,
        path: path.trim_end_matches(" (deleted)").to_string(),
    })
}

/// Mappings of processes as last seen, and the BuildIDs of the files they map.
#[derive(Debug, Default)]
pub struct MapsCache {
    proc_root: PathBuf,
    processes: HashMap<u32, Vec<Mapping>>,
    build_ids: HashMap<String, Option<String>>,
    paths_by_build_id: BTreeMap<String, String>,
    containers: HashMap<u32, String>,
    vdso: Option<NativeVdso>,
}

/// The vDSO native 64-bit processes map: its size and BuildID.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NativeVdso {
    len: u64,
    build_id: String,
}

impl MapsCache {
    /// A cache reading `/proc`, naming `[vdso]` frames of native processes with the BuildID of
    /// the vDSO this process maps (see [`crate::vdso`]).
    pub fn new() -> Self {
        let cache = Self::with_proc_root("/proc");
        match crate::vdso::Vdso::host().and_then(|v| Some((v.image.len(), v.build_id.clone()?))) {
            Some((len, id)) => cache.with_vdso(len as u64, id),
            None => cache,
        }
    }

    /// This cache, giving `[vdso]` mappings of `len` bytes above 4 GiB (a native 64-bit
    /// process's; a 32-bit one's vDSO, a different image, lies below) the BuildID `build_id`.
    pub fn with_vdso(mut self, len: u64, build_id: String) -> Self {
        self.vdso = Some(NativeVdso { len, build_id });
        self
    }

    /// A cache reading another proc root (tests).
    pub fn with_proc_root(root: impl Into<PathBuf>) -> Self {
        MapsCache {
            proc_root: root.into(),
            ..Default::default()
        }
    }

    /// Snapshots `pid`'s mappings unless already held. Returns whether the process has a
    /// snapshot (false: it exited before it could be read).
    pub fn observe(&mut self, pid: u32) -> bool {
        if self.processes.contains_key(&pid) {
            return true;
        }
        self.refresh(pid)
    }

    /// Re-reads `pid`'s mappings (after a `dlopen`, say). Keeps the old snapshot if the
    /// process is gone.
    pub fn refresh(&mut self, pid: u32) -> bool {
        let path = self.proc_root.join(pid.to_string()).join("maps");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return self.processes.contains_key(&pid);
        };
        let maps = parse_maps(&text);
        for mapping in maps.iter().filter(|m| m.is_file() && m.executable) {
            let root = self.proc_root.join(pid.to_string()).join("root");
            if let Some(id) = self.build_id_of(&root, &mapping.path) {
                self.paths_by_build_id
                    .entry(id)
                    .or_insert_with(|| mapping.path.clone());
            }
        }
        self.processes.insert(pid, maps);
        true
    }

    /// The BuildID of the file at `path` as the process at `root` sees it, cached by path.
    fn build_id_of(&mut self, root: &Path, path: &str) -> Option<String> {
        if let Some(known) = self.build_ids.get(path) {
            return known.clone();
        }
        // Prefer the process's own view of the file system (a container's root), falling back
        // to the host path.
        let inside = root.join(path.trim_start_matches('/'));
        let id = read_build_id(&inside).or_else(|| read_build_id(Path::new(path)));
        self.build_ids.insert(path.to_string(), id.clone());
        id
    }

    /// Notes the cgroup a process runs in (as `/proc/PID/cgroup` writes it), to report its
    /// container.
    pub fn note_cgroup(&mut self, pid: u32, cgroup: &str) {
        if let Some(id) = crate::profile::container_id_from_cgroup(cgroup) {
            self.containers.insert(pid, id);
        }
    }

    /// The container a process ran in, if its cgroup named one.
    pub fn container_of(&self, pid: u32) -> Option<String> {
        self.containers.get(&pid).cloned()
    }

    /// A path seen mapped with this BuildID, if any.
    pub fn path_of_build_id(&self, build_id: &str) -> Option<&str> {
        self.paths_by_build_id.get(build_id).map(String::as_str)
    }

    /// Turns a raw user address of `pid` into a location: `(BuildID, file offset)` for a file
    /// mapping, anonymous otherwise (also when the process's mappings are unknown).
    pub fn locate(&mut self, pid: u32, address: u64) -> Location {
        if self.find(pid, address).is_none() && self.processes.contains_key(&pid) {
            self.refresh(pid);
        }
        let Some(mapping) = self.find(pid, address).cloned() else {
            return Location::Anonymous { pid, address };
        };
        if mapping.path == crate::vdso::MAPPING_NAME {
            // The kernel's own shared object, mapped from no file: an offset into the image,
            // with the image's BuildID where the mapping is the native one.
            let build_id = self
                .vdso
                .as_ref()
                .filter(|v| {
                    mapping.start > u64::from(u32::MAX) && mapping.end - mapping.start == v.len
                })
                .map(|v| v.build_id.clone());
            return Location::File {
                build_id,
                path: Some(mapping.path.clone()),
                file_offset: address - mapping.start,
            };
        }
        if !mapping.is_file() {
            return Location::Anonymous { pid, address };
        }
        let root = self.proc_root.join(pid.to_string()).join("root");
        let build_id = self.build_id_of(&root, &mapping.path);
        Location::File {
            build_id,
            path: Some(mapping.path.clone()),
            file_offset: (address - mapping.start).saturating_add(mapping.offset),
        }
    }

    fn find(&self, pid: u32, address: u64) -> Option<&Mapping> {
        self.processes
            .get(&pid)?
            .iter()
            .find(|m| m.start <= address && address < m.end)
    }
}

/// The GNU BuildID of an ELF file, lower-case hex; `None` if it is not readable, not ELF, or
/// has no note. Read by the rule the kernel uses for stack frames (`PT_NOTE` first, see
/// [`crate::symbolize::elf`]), from the headers and the note only.
pub fn read_build_id(path: &Path) -> Option<String> {
    // Regular files only: a path from another tool's output may name a FIFO or a device.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    crate::symbolize::elf::read_layout(path).ok()?.build_id
}

/// The BuildID in a kernel stack frame (`struct bpf_stack_build_id`, always 20 bytes, zero
/// padded) as hex. A 16-byte id (MD5 or UUID style) leaves four zero bytes at the end, which
/// are dropped; a 20-byte id is kept whole.
pub fn build_id_hex(raw: &[u8; 20]) -> String {
    let used = if raw[16..].iter().all(|b| *b == 0) {
        16
    } else {
        20
    };
    stella_core::hex::encode(&raw[..used])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234                       /usr/bin/hot
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234                       /usr/bin/hot
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000001000 r-xp 00000000 00:00 0 
7ffd4e1f0000-7ffd4e1f2000 r-xp 00000000 00:00 0                          [vdso]
7f1000000000-7f1000100000 r-xp 00028000 08:01 99                         /usr/lib/libc.so.6 (deleted)
garbage line
";

    #[test]
    fn maps_lines_parse_with_paths_and_pseudo_names() {
        let maps = parse_maps(MAPS);
        assert_eq!(maps.len(), 6);
        assert_eq!(maps[1].path, "/usr/bin/hot");
        assert!(maps[1].executable && !maps[0].executable);
        assert_eq!(maps[1].offset, 0x1000);
        assert!(!maps[2].is_file() && !maps[3].is_file() && !maps[4].is_file());
        assert_eq!(maps[5].path, "/usr/lib/libc.so.6");
    }

    #[test]
    fn an_address_becomes_a_file_offset_or_stays_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("42")).unwrap();
        std::fs::write(dir.path().join("42/maps"), MAPS).unwrap();
        let mut cache = MapsCache::with_proc_root(dir.path());
        assert!(cache.observe(42));
        assert_eq!(
            cache.locate(42, 0x55d0c0a01010),
            Location::File {
                build_id: None,
                path: Some("/usr/bin/hot".into()),
                file_offset: 0x1010
            }
        );
        assert_eq!(
            cache.locate(42, 0x7f1000000010),
            Location::File {
                build_id: None,
                path: Some("/usr/lib/libc.so.6".into()),
                file_offset: 0x28010
            }
        );
        assert_eq!(
            cache.locate(42, 0x7ffd4e1f0010),
            Location::File {
                build_id: None,
                path: Some("[vdso]".into()),
                file_offset: 0x10
            }
        );
        assert_eq!(
            cache.locate(42, 0x7f0000000010),
            Location::Anonymous {
                pid: 42,
                address: 0x7f0000000010
            }
        );
        // With the native vDSO known, its frames carry its BuildID; a mapping of another size
        // (or a 32-bit process's, below 4 GiB) does not.
        let vdso_id = "e0".repeat(20);
        let mut native = MapsCache::with_proc_root(dir.path()).with_vdso(0x2000, vdso_id.clone());
        assert!(native.observe(42));
        assert!(matches!(
            native.locate(42, 0x7ffd4e1f0010),
            Location::File { build_id: Some(id), file_offset: 0x10, .. } if *id == vdso_id
        ));
        let mut other = MapsCache::with_proc_root(dir.path()).with_vdso(0x3000, vdso_id.clone());
        assert!(other.observe(42));
        assert!(matches!(
            other.locate(42, 0x7ffd4e1f0010),
            Location::File { build_id: None, .. }
        ));
        std::fs::create_dir_all(dir.path().join("43")).unwrap();
        std::fs::write(
            dir.path().join("43/maps"),
            "f7fc1000-f7fc3000 r-xp 00000000 00:00 0 [vdso]\n",
        )
        .unwrap();
        assert!(native.observe(43));
        assert!(matches!(
            native.locate(43, 0xf7fc1010),
            Location::File { build_id: None, .. }
        ));
        // The process is gone: its snapshot still answers.
        std::fs::remove_dir_all(dir.path().join("42")).unwrap();
        assert!(matches!(
            cache.locate(42, 0x55d0c0a01010),
            Location::File { .. }
        ));
        // Never seen: anonymous.
        assert!(matches!(cache.locate(7, 1), Location::Anonymous { .. }));
    }

    #[test]
    fn kernel_build_ids_drop_only_the_padding_of_16_byte_ids() {
        let mut raw = [0u8; 20];
        raw[..16].copy_from_slice(&[0xab; 16]);
        assert_eq!(build_id_hex(&raw).len(), 32);
        raw[19] = 1;
        assert_eq!(build_id_hex(&raw).len(), 40);
    }

    #[test]
    fn the_build_id_of_this_test_binary_is_read_from_its_note() {
        let exe = std::env::current_exe().unwrap();
        let id = read_build_id(&exe);
        // rustc passes --build-id to the linker on Linux.
        assert!(id.as_deref().is_some_and(|id| id.len() == 40), "{id:?}");
        assert_eq!(read_build_id(Path::new("/nonexistent")), None);
    }
}
