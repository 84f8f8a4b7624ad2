//! Our readers of `/proc/PID/maps`, `/proc/kallsyms` and `/tmp/perf-PID.map` against blazesym's
//! (`blazesym::normalize::Normalizer`, `symbolize::source::Kernel`, `Process { perf_map }`) on
//! the same inputs: this machine's live processes (this test process and a spawned child), the
//! live kernel table, and perf maps written for a live child.
//!
//! Where both give the same answer the test says so; where they differ it pins the difference
//! that decides which reader Stella keeps (see the module docs of `procmaps`,
//! `symbolize::kallsyms` and `symbolize::perfmap`, and BENCHMARKS.md "Runtime readers against
//! blazesym"):
//!
//! - normalisation: the same `(BuildID, file offset)` for every address in a file mapping, but
//!   blazesym turns a vDSO address into a *name* (we need the vDSO's BuildID and offset, the
//!   canonical frame), and forgets a process once it exits (our snapshot still answers);
//! - kallsyms: the same name for every address inside a text symbol, but blazesym also names
//!   addresses in data symbols and past the last symbol (no end is known there), and drops the
//!   module;
//! - perf maps: the same name on a clean map, but blazesym drops the whole map for one
//!   malformed line, names a line the JIT is still writing, and lets the earlier of two
//!   overlapping regions win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blazesym::normalize::{Normalizer, UserMeta};
use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer as Blaze};
use blazesym::{MaybeDefault, Pid};
use stella_runtime::frame::Location;
use stella_runtime::procmaps::{MapsCache, parse_maps};
use stella_runtime::symbolize::{Config, Kallsyms, Symbolizer};

use crate::common::Running;

/// The interpreter the child runs (Debian's, not a version manager's shim: the pid must be the
/// interpreter's own).
const PYTHON: &str = "/usr/bin/python3";

/// A child that maps one page of anonymous executable memory, as a JIT does, says where, and
/// sleeps; returned once it has said so (its mappings are then complete).
fn jit_like_child() -> (Running, u64) {
    use std::io::BufRead as _;
    let script = "import mmap, ctypes, sys, time\n\
                  m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, \
                  prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n\
                  print(ctypes.addressof(ctypes.c_char.from_buffer(m)), flush=True)\n\
                  time.sleep(30)\n";
    let mut child = Command::new(PYTHON)
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{PYTHON} is needed for the JIT-like child: {e}"));
    let stdout = child.stdout.take().expect("piped");
    let running = Running(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the child says where its page is");
    let page = line.trim().parse().expect("an address");
    (running, page)
}

/// First, middle and last address of every executable file mapping of `pid`, and one of its
/// vDSO.
fn probe_addresses(pid: u32) -> (Vec<u64>, Option<u64>) {
    let maps = parse_maps(&std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps"));
    let mut addresses: Vec<u64> = maps
        .iter()
        .filter(|m| m.executable && m.is_file())
        .flat_map(|m| [m.start, m.start + (m.end - m.start) / 2, m.end - 1])
        .collect();
    addresses.sort_unstable();
    let vdso = maps
        .iter()
        .find(|m| m.path == "[vdso]")
        .map(|m| m.start + 0x10);
    (addresses, vdso)
}

/// What blazesym says of each address: `(build id hex, path, file offset)` for an ELF file, or
/// how it answered otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Normalised {
    File {
        build_id: Option<String>,
        path: String,
        file_offset: u64,
    },
    Named(String),
    Unknown,
}

fn blazesym_normalise(pid: u32, addresses: &[u64]) -> Result<Vec<Normalised>, blazesym::Error> {
    let normalizer = Normalizer::builder().enable_build_ids(true).build();
    let out = normalizer.normalize_user_addrs(Pid::from(pid), addresses)?;
    Ok(out
        .outputs
        .iter()
        .map(|&(file_offset, meta)| match &out.meta[meta] {
            UserMeta::Elf(elf) => Normalised::File {
                build_id: elf.build_id.as_deref().map(stella_core::hex::encode),
                path: elf.path.display().to_string(),
                file_offset,
            },
            UserMeta::Sym(sym) => Normalised::Named(sym.name.to_string()),
            _ => Normalised::Unknown,
        })
        .collect())
}

fn ours(cache: &mut MapsCache, pid: u32, address: u64) -> Normalised {
    match cache.locate(pid, address) {
        Location::File {
            build_id,
            path,
            file_offset,
        } => Normalised::File {
            build_id,
            path: path.unwrap_or_default(),
            file_offset,
        },
        _ => Normalised::Unknown,
    }
}

#[test]
fn normalisation_agrees_on_file_mappings_of_live_processes_but_not_on_the_vdso() {
    let (child, _) = jit_like_child();
    for pid in [std::process::id(), child.0.id()] {
        let (addresses, vdso) = probe_addresses(pid);
        assert!(addresses.len() >= 6, "pid {pid}: {addresses:?}");
        let theirs = blazesym_normalise(pid, &addresses).expect("blazesym normalises");
        let mut cache = MapsCache::new();
        assert!(cache.observe(pid));
        for (address, theirs) in addresses.iter().zip(&theirs) {
            let mine = ours(&mut cache, pid, *address);
            assert!(
                matches!(
                    &mine,
                    Normalised::File {
                        build_id: Some(_),
                        ..
                    }
                ),
                "pid {pid} {address:#x}: {mine:?}"
            );
            assert_eq!(&mine, theirs, "pid {pid} {address:#x}");
        }
        // The vDSO: we give its BuildID and offset (a canonical frame a bundle or the host's
        // image names later); blazesym names it on the spot and keeps no BuildID.
        let vdso = vdso.expect("x86-64 processes map a vDSO");
        let mine = ours(&mut cache, pid, vdso);
        assert!(
            matches!(&mine, Normalised::File { build_id: Some(_), path, file_offset: 0x10 } if path == "[vdso]"),
            "{mine:?}"
        );
        let theirs = blazesym_normalise(pid, &[vdso]).expect("blazesym normalises");
        assert!(
            !matches!(theirs[0], Normalised::File { .. }),
            "blazesym gives the vDSO as a file now: {theirs:?}; reconsider keeping ours"
        );
    }
}

#[test]
fn an_exited_process_stays_attributable_only_through_our_snapshot() {
    let (mut child, _) = jit_like_child();
    let pid = child.0.id();
    let (addresses, _) = probe_addresses(pid);
    let mut cache = MapsCache::new();
    assert!(cache.observe(pid));
    let before = blazesym_normalise(pid, &addresses).expect("blazesym normalises");
    child.0.kill().expect("kill");
    child.0.wait().expect("reap");
    // The kernel forgets the process; our snapshot, taken when it was first seen, does not.
    for (address, then) in addresses.iter().zip(&before) {
        assert_eq!(&ours(&mut cache, pid, *address), then, "{address:#x}");
    }
    let after = blazesym_normalise(pid, &addresses);
    assert!(
        after.is_err()
            || after
                .as_ref()
                .is_ok_and(|n| n.iter().all(|n| *n == Normalised::Unknown)),
        "blazesym normalised an exited process: {after:?}"
    );
}

/// A name and offset per address asked, `None` where the reader does not know it.
type Names = Vec<Option<(String, u64)>>;

/// Names from our symboliser and from blazesym's `Kernel` source for each address of a
/// kallsyms file.
fn kernel_names(kallsyms: &Path, addresses: &[u64]) -> (Names, Names) {
    let mut mine = Symbolizer::new(Config {
        kallsyms: kallsyms.to_owned(),
        ..Config::default()
    })
    .expect("symbolizer");
    let ours: Vec<_> = addresses
        .iter()
        .map(|&address| {
            mine.symbolize(&Location::Kernel { address })
                .map(|s| (s.function, s.offset))
        })
        .collect();
    let kernel = Kernel {
        kallsyms: MaybeDefault::Some(kallsyms.to_owned()),
        vmlinux: MaybeDefault::None,
        // The table's addresses are the running kernel's already.
        kaslr_offset: Some(0),
        debug_syms: false,
        ..Kernel::default()
    };
    let blaze = Blaze::new();
    let theirs = blaze
        .symbolize(&Source::Kernel(kernel), Input::AbsAddr(addresses))
        .expect("blazesym symbolises")
        .into_iter()
        .map(|s| match s {
            Symbolized::Sym(sym) => Some((sym.name.to_string(), sym.offset as u64)),
            Symbolized::Unknown(_) => None,
        })
        .collect();
    (ours, theirs)
}

const KALLSYMS: &str = "\
ffffffff81000000 T _stext
ffffffff81001010 T do_one_initcall
ffffffff81001200 W arch_weak_hook
ffffffff81001280 D some_data
ffffffff81002000 t helper
ffffffffc0a00000 t ext4_fill_super\t[ext4]
ffffffffc0a00400 T ext4_mount\t[ext4]
ffffffffc0b00000 t last_symbol_has_no_end\t[xfs]
";

#[test]
fn kallsyms_names_agree_inside_text_symbols_and_differ_where_we_refuse_to_guess() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kallsyms");
    std::fs::write(&path, KALLSYMS).unwrap();
    let inside = [
        0xffff_ffff_8100_0010,
        0xffff_ffff_8100_1018,
        0xffff_ffff_c0a0_0404,
    ];
    let (ours, theirs) = kernel_names(&path, &inside);
    assert_eq!(ours, theirs);
    assert_eq!(ours[2], Some(("ext4_mount".to_owned(), 4)));
    // Inside a data symbol, and past the last symbol (no end known): we say unknown, blazesym
    // names the nearest symbol below.
    let guessed = [0xffff_ffff_8100_1290, 0xffff_ffff_c0b0_0100];
    let (ours, theirs) = kernel_names(&path, &guessed);
    assert_eq!(ours, [None, None]);
    assert_eq!(
        theirs,
        [
            Some(("some_data".to_owned(), 0x10)),
            Some(("last_symbol_has_no_end".to_owned(), 0x100))
        ]
    );
    // The module is part of our answer only.
    let table = Kallsyms::parse(KALLSYMS);
    let (symbol, _) = table.lookup(inside[2]).expect("ext4_mount");
    assert_eq!(symbol.module.as_deref(), Some("ext4"));
}

#[test]
fn kallsyms_names_agree_on_the_live_kernel_table() {
    crate::common::require_root();
    let live = Path::new("/proc/kallsyms");
    let table = Kallsyms::load(live).expect("kallsyms");
    assert!(table.is_available(), "root sees real addresses");
    // Every 97th text symbol, a few bytes in (where no other symbol starts).
    let addresses: Vec<u64> = table
        .symbols()
        .iter()
        .step_by(97)
        .filter(|s| s.end - s.start > 4)
        .map(|s| s.start + 4)
        .collect();
    assert!(addresses.len() > 100, "{}", addresses.len());
    // Both read the same (changing) file; read it once so both see the same table.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kallsyms");
    std::fs::copy(live, &copy).expect("copy kallsyms");
    let (ours, theirs) = kernel_names(&copy, &addresses);
    let differ: Vec<_> = addresses
        .iter()
        .zip(ours.iter().zip(&theirs))
        .filter(|(_, (a, b))| a != b)
        .collect();
    assert!(ours.iter().all(Option::is_some));
    // Where several symbols share an address each reader may keep another of them.
    assert!(
        differ.len() * 100 <= addresses.len(),
        "{} of {} differ: {:?}",
        differ.len(),
        addresses.len(),
        &differ[..differ.len().min(10)]
    );
}

/// Names for `addresses` of `pid` from our symboliser (perf maps in /tmp) and from blazesym's
/// `Process` source with perf maps on (or its error, which covers every address asked).
fn jit_names(pid: u32, addresses: &[u64]) -> (Names, Result<Names, blazesym::Error>) {
    let mut mine = Symbolizer::new(Config {
        perf_map_dir: PathBuf::from("/tmp"),
        ..Config::default()
    })
    .expect("symbolizer");
    let ours = addresses
        .iter()
        .map(|&address| {
            mine.symbolize(&Location::Anonymous { pid, address })
                .map(|s| (s.function, s.offset))
        })
        .collect();
    let mut process = Process::new(Pid::from(pid));
    process.perf_map = true;
    process.debug_syms = false;
    let theirs = Blaze::new()
        .symbolize(&Source::Process(process), Input::AbsAddr(addresses))
        .map(|symbols| {
            symbols
                .into_iter()
                .map(|s| match s {
                    Symbolized::Sym(sym) => Some((sym.name.to_string(), sym.offset as u64)),
                    Symbolized::Unknown(_) => None,
                })
                .collect()
        });
    (ours, theirs)
}

/// A perf map of a live process, removed when dropped.
struct PerfMapFile(PathBuf);

impl Drop for PerfMapFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn perf_maps_agree_when_clean_and_differ_on_what_a_jit_writes() {
    let (child, page) = jit_like_child();
    let pid = child.0.id();
    let file = PerfMapFile(PathBuf::from(format!("/tmp/perf-{pid}.map")));
    // blazesym reads a perf map only for addresses in anonymous memory: the regions are in the
    // child's executable page.
    let map = |text: &str| {
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            let (start, rest) = line.split_once(' ').expect("START ...");
            let hex = start.strip_prefix("0x");
            let offset = u64::from_str_radix(hex.unwrap_or(start), 16).expect("offset");
            let prefix = if hex.is_some() { "0x" } else { "" };
            out.push_str(&format!("{prefix}{:x} {rest}", page + offset));
        }
        out
    };
    let at = |offsets: &[u64]| -> Vec<u64> { offsets.iter().map(|o| page + o).collect() };
    let clean = map("0 100 LazyCompile:~main /srv/app.js:3\n100 80 Builtin:Trampoline\n");
    std::fs::write(&file.0, clean).unwrap();
    let addresses = at(&[0, 0x42, 0x100, 0x17f, 0x180]);
    let (ours, theirs) = jit_names(pid, &addresses);
    assert_eq!(ours, theirs.expect("blazesym reads a clean map"));
    assert_eq!(
        ours[1],
        Some(("LazyCompile:~main /srv/app.js:3".to_owned(), 0x42))
    );
    assert_eq!(ours[4], None);

    // What a JIT writes in practice: a line with `0x`, a line perf would skip, a region
    // rewritten later (the later line is the code there now), and a line still being written.
    let written = map("0x0 0x100 first\n\
         100 80 old_code\n\
         100 40 new_code\n\
         200 10 half_writ")
    .replacen("old_code\n", "old_code\ngarbage\n", 1);
    std::fs::write(&file.0, written).unwrap();
    let addresses = at(&[0x10, 0x110, 0x204]);
    let (ours, theirs) = jit_names(pid, &addresses);
    let named = |v: &Names| -> BTreeMap<u64, Option<String>> {
        addresses
            .iter()
            .zip(v)
            .map(|(a, n)| (*a, n.as_ref().map(|(f, _)| f.clone())))
            .collect()
    };
    let mine = named(&ours);
    assert_eq!(mine[&addresses[0]].as_deref(), Some("first"));
    assert_eq!(mine[&addresses[1]].as_deref(), Some("new_code"));
    assert_eq!(
        mine[&addresses[2]], None,
        "an unfinished line is not read yet"
    );
    // blazesym refuses the whole map (every frame of the process) over one line it cannot
    // parse: here the `0x` one.
    let refused = theirs.expect_err("blazesym now reads this map; reconsider keeping ours");
    assert!(format!("{refused:#}").contains("perf map"), "{refused:#}");
    // Without the malformed lines, it still lets the earlier region win and names the
    // unfinished line.
    let parsable = map("100 80 old_code\n100 40 new_code\n200 10 half_writ");
    std::fs::write(&file.0, parsable).unwrap();
    let (_, theirs) = jit_names(pid, &addresses);
    let theirs = named(&theirs.expect("blazesym reads a map without malformed lines"));
    assert_ne!(
        theirs[&addresses[1]].as_deref(),
        Some("new_code"),
        "{theirs:?}"
    );
    assert_eq!(theirs[&addresses[2]].as_deref(), Some("half_writ"));
    drop(child);
}

/// Median of `runs` timings of `f`, in microseconds.
fn median_micros(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// The measurement BENCHMARKS.md quotes ("Runtime readers against blazesym"): each reader
/// built fresh (as a recording starts), then asked. Run in release:
/// `cargo test -p stella-runtime --release --test it blazesym_agreement::timing -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it by name in release"]
fn timing() {
    let (child, page) = jit_like_child();
    let pid = child.0.id();
    let (addresses, _) = probe_addresses(pid);
    let ours_maps = median_micros(51, || {
        let mut cache = MapsCache::with_proc_root("/proc");
        cache.observe(pid);
        for &a in &addresses {
            std::hint::black_box(cache.locate(pid, a));
        }
    });
    let theirs_maps = median_micros(51, || {
        std::hint::black_box(blazesym_normalise(pid, &addresses).expect("normalised"));
    });
    println!(
        "normalise {} addresses of a live process (with BuildIDs): ours {ours_maps:.0} µs, blazesym {theirs_maps:.0} µs",
        addresses.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let kallsyms = dir.path().join("kallsyms");
    std::fs::copy("/proc/kallsyms", &kallsyms).expect("copy kallsyms");
    let table = Kallsyms::load(&kallsyms).expect("kallsyms");
    let kernel: Vec<u64> = table
        .symbols()
        .iter()
        .step_by(table.symbols().len() / 1000 + 1)
        .map(|s| s.start + 1)
        .collect();
    let ours_kernel = median_micros(9, || {
        std::hint::black_box(kernel_names_ours(&kallsyms, &kernel));
    });
    let theirs_kernel = median_micros(9, || {
        std::hint::black_box(kernel_names(&kallsyms, &kernel).1);
    }) - ours_kernel;
    println!(
        "load /proc/kallsyms ({} text symbols) and name {} addresses: ours {:.1} ms, blazesym {:.1} ms",
        table.symbols().len(),
        kernel.len(),
        ours_kernel / 1e3,
        theirs_kernel / 1e3
    );

    let file = PerfMapFile(PathBuf::from(format!("/tmp/perf-{pid}.map")));
    let lines: String = (0..100_000u64)
        .map(|i| {
            format!(
                "{:x} 20 LazyCompile:~f{i} /srv/app.js:{i}\n",
                page + (i % 128) * 0x20
            )
        })
        .collect();
    std::fs::write(&file.0, lines).unwrap();
    let jit: Vec<u64> = (0..1000u64).map(|i| page + (i % 128) * 0x20 + 4).collect();
    let both = median_micros(9, || {
        drop(std::hint::black_box(jit_names(pid, &jit)));
    });
    let ours_jit = median_micros(9, || {
        let mut mine = Symbolizer::new(Config {
            perf_map_dir: PathBuf::from("/tmp"),
            ..Config::default()
        })
        .expect("symbolizer");
        for &address in &jit {
            std::hint::black_box(mine.symbolize(&Location::Anonymous { pid, address }));
        }
    });
    println!(
        "load a 100,000-line perf map and name {} addresses: ours {:.1} ms, blazesym {:.1} ms",
        jit.len(),
        ours_jit / 1e3,
        (both - ours_jit) / 1e3
    );
    drop(child);
}

/// Our half of [`kernel_names`], for timing alone.
fn kernel_names_ours(kallsyms: &Path, addresses: &[u64]) -> Vec<Option<String>> {
    let mut mine = Symbolizer::new(Config {
        kallsyms: kallsyms.to_owned(),
        ..Config::default()
    })
    .expect("symbolizer");
    addresses
        .iter()
        .map(|&address| {
            mine.symbolize(&Location::Kernel { address })
                .map(|s| s.function)
        })
        .collect()
}
