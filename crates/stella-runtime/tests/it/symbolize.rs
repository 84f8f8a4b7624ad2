//! Symbolisation against real binaries built here from C by gcc and clang (`-O2 -g`, and
//! stripped copies), checked against peers: elfutils' `eu-addr2line` for names, inlined frames
//! and lines, `eu-readelf` for symbols, segments and BuildIDs, and a real `debuginfod` server
//! serving the debuginfo of stripped binaries. A missing tool fails the test, naming it.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stella_binary::FuncProof;
use stella_binary::symbols::{SymbolTable, bundle};
use stella_runtime::frame::{Frame, Location, Symbol, SymbolSource};
use stella_runtime::symbolize::{Config, SymbolCache, Symbolizer};

/// The program symbolised: noinline functions (`noipa` keeps gcc from cloning them into
/// `f.constprop.0`, whose DWARF name differs from its symbol), a forced-inline helper inside a
/// loop, and an inline function inlined into another inline one.
const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>

#if defined(__clang__)
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noinline, noipa))
#endif
#define INLINE static inline __attribute__((always_inline))

INLINE int mix(int x) { int r = x * 31; r ^= r >> 3; return r + 7; }
INLINE int inner_step(int x) { return (x << 3) ^ (x >> 2); }
INLINE int outer_step(int x) { int y = inner_step(x) + 11; return y * y; }

KEEP int caller(int x) {
    int s = 0;
    for (int i = 0; i < x; i++) s += mix(i ^ x);
    return s;
}

KEEP int nested(int x) {
    int s = 1;
    for (int i = 0; i < x; i++) s ^= outer_step(s + i);
    return s;
}

KEEP static unsigned helper_hash(const char *p) {
    unsigned h = 5381;
    while (*p) h = h * 33 + (unsigned char)*p++;
    return h;
}

KEEP int parse_record(const char *p, int n) {
    int fields = 0, digits = 0;
    for (int i = 0; i < n && p[i]; i++) {
        switch (p[i]) {
        case ',': fields++; break;
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9': digits++; break;
        default: break;
        }
    }
    return fields * 100 + digits + (int)(helper_hash(p) & 7);
}

KEEP long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

#ifdef VARIANT
KEEP int variant_only(int x) { return x * VARIANT; }
#endif

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : "1,2,3";
    long r = caller(argc * 100) + nested(argc * 50) + parse_record(arg, (int)strlen(arg))
        + fib(argc + 10);
#ifdef VARIANT
    r += variant_only(argc);
#endif
    printf("%ld\n", r);
    return 0;
}
"#;

// ---------------------------------------------------------------------------------------------
// Tools and peers
// ---------------------------------------------------------------------------------------------

/// Fails the test unless `tool` runs; names the Debian package that provides it.
fn require(tool: &str, package: &str) {
    let runs = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = runs {
        panic!("`{tool}` is needed by this test but cannot be run ({e}); install `{package}`");
    }
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds `PROGRAM` with `cc` and `flags` into `dir/name`.
fn build(dir: &Path, cc: &str, flags: &[&str], name: &str) -> PathBuf {
    require(cc, cc);
    let source = dir.join("program.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let out = dir.join(name);
    run(Command::new(cc)
        .args(["-O2", "-g", "-Wl,--build-id"])
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&source));
    out
}

fn strip(binary: &Path, how: &str, out: &Path) {
    require("strip", "binutils");
    run(Command::new("strip")
        .arg(how)
        .arg("-o")
        .arg(out)
        .arg(binary));
}

/// A function symbol with a size, as `eu-readelf -s` lists it in `.symtab`.
#[derive(Debug, Clone)]
struct Function {
    name: String,
    start: u64,
    size: u64,
}

/// What `eu-readelf` says about a binary.
#[derive(Debug)]
struct Peer {
    build_id: String,
    /// `(p_offset, p_vaddr, p_filesz, executable)` of each `PT_LOAD`.
    loads: Vec<(u64, u64, u64, bool)>,
    /// Sized functions in executable segments, sorted by start.
    functions: Vec<Function>,
    /// Every symbol value (sized or not).
    starts: BTreeSet<u64>,
}

fn hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

impl Peer {
    fn of(binary: &Path) -> Peer {
        require("eu-readelf", "elfutils");
        let notes = run(Command::new("eu-readelf").arg("-n").arg(binary));
        let build_id = notes
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID:"))
            .map(|id| id.trim().to_owned())
            .expect("the test binary has a GNU BuildID");
        let headers = run(Command::new("eu-readelf").arg("-l").arg(binary));
        let loads: Vec<(u64, u64, u64, bool)> = headers
            .lines()
            .filter(|l| l.trim_start().starts_with("LOAD "))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let flags = &f[6..f.len() - 1];
                (
                    hex(f[1]),
                    hex(f[2]),
                    hex(f[4]),
                    flags.iter().any(|x| x.contains('E')),
                )
            })
            .collect();
        let symbols = run(Command::new("eu-readelf").arg("-s").arg(binary));
        let mut in_symtab = false;
        let mut functions = Vec::new();
        let mut starts = BTreeSet::new();
        for line in symbols.lines() {
            if line.starts_with("Symbol table") {
                in_symtab = line.contains("'.symtab'");
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            let numbered = f
                .first()
                .and_then(|n| n.strip_suffix(':'))
                .is_some_and(|n| n.parse::<u64>().is_ok());
            if !in_symtab || f.len() < 8 || !numbered || f[6] == "UNDEF" {
                continue;
            }
            let (value, size) = (hex(f[1]), f[2].parse::<u64>().unwrap_or(0));
            if value != 0 {
                starts.insert(value);
            }
            let executable = loads
                .iter()
                .any(|&(_, vaddr, filesz, x)| x && (vaddr..vaddr + filesz).contains(&value));
            if f[3] == "FUNC" && size > 0 && executable {
                functions.push(Function {
                    name: f[7].to_owned(),
                    start: value,
                    size,
                });
            }
        }
        functions.sort_by_key(|f| f.start);
        functions.dedup_by_key(|f| f.start);
        Peer {
            build_id,
            loads,
            functions,
            starts,
        }
    }

    fn offset_of(&self, vaddr: u64) -> u64 {
        self.loads
            .iter()
            .find(|&&(_, start, filesz, _)| (start..start + filesz).contains(&vaddr))
            .map(|&(offset, start, _, _)| vaddr - start + offset)
            .unwrap_or_else(|| panic!("{vaddr:#x} is in no PT_LOAD"))
    }

    /// `(function, k)` for every byte `start + k` of every function.
    fn every_byte(&self) -> Vec<(&Function, u64)> {
        self.functions
            .iter()
            .flat_map(|f| (0..f.size).map(move |k| (f, k)))
            .collect()
    }

    /// Addresses between functions that no symbol of any size starts at.
    fn gaps(&self) -> Vec<u64> {
        self.functions
            .windows(2)
            .flat_map(|w| w[0].start + w[0].size..w[1].start)
            .filter(|a| !self.starts.contains(a))
            .collect()
    }

    fn frame(&self, binary: Option<&Path>, vaddr: u64) -> Frame {
        Frame::unresolved(Location::File {
            build_id: Some(self.build_id.clone()),
            path: binary.map(|p| p.display().to_string()),
            file_offset: self.offset_of(vaddr),
        })
    }
}

/// One `eu-addr2line -f` answer.
#[derive(Debug, PartialEq)]
struct Addr2line {
    /// The function containing the address (`??` when none).
    function: String,
    /// The innermost inlined function, when the address is in one.
    inlined: Option<String>,
    /// The source line, when known.
    line: Option<u32>,
}

fn eu_addr2line(binary: &Path, vaddrs: &[u64]) -> Vec<Addr2line> {
    require("eu-addr2line", "elfutils");
    let mut child = Command::new("eu-addr2line")
        .arg("-f")
        .arg("-e")
        .arg(binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = vaddrs.iter().map(|a| format!("{a:#x}\n")).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), vaddrs.len() * 2, "eu-addr2line output: {text}");
    lines
        .chunks(2)
        .map(|pair| {
            let (function, inlined) = match pair[0].split_once(" inlined at ") {
                Some((inner, rest)) => {
                    let outer = rest.rsplit_once(" in ").map(|(_, o)| o).unwrap_or("??");
                    (outer.to_owned(), Some(inner.to_owned()))
                }
                None => (pair[0].to_owned(), None),
            };
            let parts: Vec<&str> = pair[1].rsplitn(3, ':').collect();
            let number = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
            let line = match (number(0), number(1)) {
                (Some(_), Some(line)) => Some(line),
                (Some(line), None) => Some(line),
                _ => None,
            }
            .filter(|&l| l > 0);
            Addr2line {
                function,
                inlined,
                line,
            }
        })
        .collect()
}

fn symbolize_all(symbolizer: &mut Symbolizer, frames: &[Frame]) -> Vec<Option<Symbol>> {
    let mut frames = frames.to_vec();
    symbolizer.symbolize_frames(&mut frames);
    frames.into_iter().map(|f| f.symbol).collect()
}

fn names(symbols: &[Option<Symbol>]) -> Vec<Option<(String, u64, Vec<String>)>> {
    symbols
        .iter()
        .map(|s| {
            s.as_ref().map(|s| {
                let inlined = s.inlined.iter().map(|i| i.function.clone()).collect();
                (s.function.clone(), s.offset, inlined)
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The binary on disk, against eu-addr2line
// ---------------------------------------------------------------------------------------------

#[test]
fn every_byte_of_every_function_is_named_as_eu_addr2line_names_it() {
    for cc in ["gcc", "clang"] {
        let dir = tempfile::tempdir().unwrap();
        let binary = build(dir.path(), cc, &[], "program");
        let peer = Peer::of(&binary);
        for wanted in [
            "caller",
            "nested",
            "helper_hash",
            "parse_record",
            "fib",
            "main",
        ] {
            assert!(
                peer.functions.iter().any(|f| f.name == wanted),
                "{cc}: {wanted} missing from {:?}",
                peer.functions
            );
        }
        let inside = peer.every_byte();
        let vaddrs: Vec<u64> = inside.iter().map(|(f, k)| f.start + k).collect();
        let frames: Vec<Frame> = vaddrs
            .iter()
            .map(|&a| peer.frame(Some(&binary), a))
            .collect();
        let mut symbolizer = Symbolizer::new(Config::default()).unwrap();
        let ours = symbolize_all(&mut symbolizer, &frames);
        let theirs = eu_addr2line(&binary, &vaddrs);

        let mut disagreements = Vec::new();
        let (mut inlined_seen, mut lines_compared) = (0, 0);
        for (((function, k), ours), theirs) in inside.iter().zip(&ours).zip(&theirs) {
            let at = format!("{cc} {}+{k:#x}", function.name);
            let Some(ours) = ours else {
                disagreements.push(format!("{at}: unknown to us, eu-addr2line: {theirs:?}"));
                continue;
            };
            assert_eq!(ours.source, SymbolSource::File, "{at}");
            assert_eq!(
                (ours.function.as_str(), ours.offset),
                (function.name.as_str(), *k),
                "{at}: the symbol table's function"
            );
            if theirs.function != "??" && theirs.function != ours.function {
                disagreements.push(format!("{at}: we say {ours:?}, eu-addr2line {theirs:?}"));
            }
            if let Some(inner) = &theirs.inlined {
                inlined_seen += 1;
                if ours.inlined.first().map(|i| &i.function) != Some(inner) {
                    disagreements.push(format!(
                        "{at}: inlined {:?}, eu-addr2line {inner}",
                        ours.inlined
                    ));
                }
            }
            if theirs.line.is_some() {
                lines_compared += 1;
                if ours.line != theirs.line {
                    disagreements.push(format!(
                        "{at}: line {:?}, eu-addr2line {:?}",
                        ours.line, theirs.line
                    ));
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} of {} addresses disagree:\n{}",
            disagreements.len(),
            inside.len(),
            disagreements[..disagreements.len().min(20)].join("\n")
        );
        if cc == "gcc" {
            // elfutils 0.188 reads gcc's DWARF fully; clang 14's line tables it does not (it
            // answers `??:0` and names from the symbol table), so for clang only names compare.
            assert!(
                inlined_seen > 0,
                "gcc: eu-addr2line reported no inlined frame"
            );
            assert!(
                lines_compared > inside.len() / 2,
                "gcc: too few lines compared"
            );
        }

        // The forced-inline helpers show up, innermost first, on both compilers.
        let inlined_in = |outer: &str| -> BTreeSet<Vec<String>> {
            inside
                .iter()
                .zip(&ours)
                .filter(|((f, _), _)| f.name == outer)
                .filter_map(|(_, s)| s.as_ref())
                .map(|s| s.inlined.iter().map(|i| i.function.clone()).collect())
                .collect()
        };
        assert!(
            inlined_in("caller").contains(&vec!["mix".to_owned()]),
            "{cc}: {:?}",
            inlined_in("caller")
        );
        assert!(
            inlined_in("nested").contains(&vec!["inner_step".to_owned(), "outer_step".to_owned()]),
            "{cc}: {:?}",
            inlined_in("nested")
        );
        let mix = ours
            .iter()
            .flatten()
            .find_map(|s| s.inlined.first().filter(|i| i.function == "mix"))
            .unwrap();
        assert!(
            mix.file
                .as_deref()
                .is_some_and(|f| f.ends_with("program.c"))
                && mix.line == Some(18),
            "{cc}: the call site of mix is caller's loop, line 18: {mix:?}"
        );

        // Padding between functions is in no function: unknown, never the function before.
        let gaps = peer.gaps();
        let frames: Vec<Frame> = gaps.iter().map(|&a| peer.frame(Some(&binary), a)).collect();
        let before = symbolizer.stats().unknown;
        let answers = symbolize_all(&mut symbolizer, &frames);
        for (gap, answer) in gaps.iter().zip(&answers) {
            assert_eq!(answer, &None, "{cc}: padding at {gap:#x}");
        }
        assert_eq!(symbolizer.stats().unknown - before, gaps.len() as u64);
        assert_eq!(symbolizer.stats().file, inside.len() as u64);
    }
}

#[test]
fn the_file_on_disk_answers_only_for_its_own_build_id() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path(), "gcc", &[], "program");
    let variant = build(dir.path(), "gcc", &["-DVARIANT=3"], "variant");
    let peer = Peer::of(&binary);
    let other = Peer::of(&variant);
    assert_ne!(peer.build_id, other.build_id);
    let caller = peer.functions.iter().find(|f| f.name == "caller").unwrap();
    let offset = peer.offset_of(caller.start + 4);
    let at = |build_id: Option<&str>, path: Option<&Path>, file_offset: u64| Location::File {
        build_id: build_id.map(str::to_owned),
        path: path.map(|p| p.display().to_string()),
        file_offset,
    };
    let mut symbolizer = Symbolizer::new(Config::default()).unwrap();
    let mut name = |location: Location| {
        symbolizer
            .symbolize(&location)
            .map(|s| (s.function, s.offset, s.source))
    };
    let id = Some(peer.build_id.as_str());
    let caller_at_4 = Some(("caller".to_owned(), 4, SymbolSource::File));
    assert_eq!(name(at(id, Some(&binary), offset)), caller_at_4);
    let upper = peer.build_id.to_uppercase();
    assert_eq!(name(at(Some(&upper), Some(&binary), offset)), caller_at_4);
    assert_eq!(
        name(at(None, Some(&binary), offset)),
        caller_at_4,
        "no BuildID: nothing to check"
    );
    assert_eq!(
        name(at(Some(&other.build_id), Some(&binary), offset)),
        None,
        "the frame is from another build"
    );
    assert_eq!(
        name(at(id, Some(&variant), offset)),
        None,
        "the file is another build"
    );
    assert_eq!(name(at(Some("not-hex"), Some(&binary), offset)), None);
    assert_eq!(
        name(at(id, Some(Path::new("/nonexistent/bin")), offset)),
        None
    );
    assert_eq!(name(at(id, None, offset)), None, "no path, no other source");
    assert_eq!(name(at(None, None, offset)), None);

    // Offsets in no function: the ELF header, past the end of the file, the top of the range.
    let len = std::fs::metadata(&binary).unwrap().len();
    for outside in [0, 0x40, len, len + 0x1000, u64::MAX] {
        assert_eq!(name(at(id, Some(&binary), outside)), None, "{outside:#x}");
    }

    // The file replaced on disk by another build is noticed.
    let moving = dir.path().join("moving");
    std::fs::copy(&binary, &moving).unwrap();
    assert_eq!(name(at(id, Some(&moving), offset)), caller_at_4);
    std::fs::copy(&variant, &moving).unwrap();
    assert_eq!(name(at(id, Some(&moving), offset)), None);

    // Truncated and garbage files at the path: unknown, no panic.
    let bytes = std::fs::read(&binary).unwrap();
    for cut in [
        0,
        4,
        16,
        63,
        64,
        200,
        1000,
        4096,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let truncated = dir.path().join(format!("truncated-{cut}"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        assert_eq!(name(at(id, Some(&truncated), offset)), None, "cut at {cut}");
        assert_eq!(
            name(at(None, Some(&truncated), offset)),
            None,
            "cut at {cut}"
        );
    }
    let garbage = dir.path().join("garbage");
    let noise: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &noise).unwrap();
    assert_eq!(name(at(None, Some(&garbage), offset)), None);
    let mut elf_noise = bytes[..64].to_vec();
    elf_noise.extend_from_slice(&noise);
    std::fs::write(&garbage, &elf_noise).unwrap();
    assert_eq!(name(at(None, Some(&garbage), offset)), None);
    assert_eq!(
        name(at(None, Some(dir.path()), offset)),
        None,
        "a directory"
    );

    let stats = symbolizer.stats();
    assert_eq!(stats.file, 4);
    assert_eq!(stats.frames(), stats.file + stats.unknown);
}

#[test]
fn a_function_with_a_local_alias_is_named_as_its_funcproof_names_it() {
    // `-fno-semantic-interposition` makes gcc call `parse_header` through a local alias,
    // `parse_header.localalias`, at the same address and size: the frame must carry the public
    // name an advisory would use, as the FuncProof does.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("lib.c");
    std::fs::write(
        &source,
        "__attribute__((noinline)) int parse_header(const char *p) {\n\
             int n = 0; while (*p && *p != ':') { n = n * 31 + *p++; } return n; }\n\
         int parse_request(const char *p) { return parse_header(p) + parse_header(p + 1); }\n",
    )
    .unwrap();
    let library = dir.path().join("libparse.so");
    require("gcc", "gcc");
    run(Command::new("gcc")
        .args([
            "-O2",
            "-g",
            "-fPIC",
            "-shared",
            "-fno-semantic-interposition",
        ])
        .arg("-o")
        .arg(&library)
        .arg(&source));
    let peer = Peer::of(&library);
    let symbols = run(Command::new("eu-readelf").arg("-s").arg(&library));
    assert!(
        symbols.contains("parse_header.localalias"),
        "gcc made no local alias: {symbols}"
    );
    let header = peer
        .functions
        .iter()
        .find(|f| f.name.starts_with("parse_header"))
        .unwrap();
    let bytes = std::fs::read(&library).unwrap();
    let table = SymbolTable::from_proof(&FuncProof::build(&bytes).unwrap(), &bytes).unwrap();
    let mut from_file = Symbolizer::new(Config::default()).unwrap();
    let mut from_bundle = Symbolizer::new(Config::default()).unwrap();
    from_bundle.add_table(table).unwrap();
    for k in 0..header.size {
        let frame = peer.frame(Some(&library), header.start + k);
        let file = from_file.symbolize(&frame.location).unwrap();
        let bundle = from_bundle.symbolize(&frame.location).unwrap();
        assert_eq!((file.function.as_str(), file.offset), ("parse_header", k));
        assert_eq!(
            (file.source, bundle.source),
            (SymbolSource::File, SymbolSource::Bundle)
        );
        assert_eq!(bundle.function, file.function);
    }
}

// ---------------------------------------------------------------------------------------------
// debuginfod
// ---------------------------------------------------------------------------------------------

/// A `debuginfod` process serving one directory; killed when dropped.
struct Debuginfod {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Debuginfod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Debuginfod {
    /// Starts `debuginfod -F dir` and waits until it serves every `(build id, kind)` of `wanted`.
    fn serve(dir: &Path, state: &Path, wanted: &[(&str, &str)]) -> Debuginfod {
        require("debuginfod", "debuginfod");
        let port = free_port();
        let log = state.join("debuginfod.log");
        let child = Command::new("debuginfod")
            .arg("-F")
            .arg(dir)
            .args(["-p", &port.to_string()])
            .arg("-d")
            .arg(state.join("debuginfod.sqlite"))
            .env_remove("DEBUGINFOD_URLS")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::create(state.join("debuginfod.err")).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("`debuginfod` could not be started: {e}"));
        let server = Debuginfod {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        for (id, kind) in wanted {
            let url = format!("{}/buildid/{id}/{kind}", server.url);
            loop {
                let status = http.get(&url).send().map(|r| r.status().as_u16()).ok();
                if status == Some(200) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "debuginfod did not serve {url} within 90 s (last: {status:?}); log: {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        server
    }
}

fn with_debuginfod(cache: &Path, url: &str) -> Symbolizer {
    Symbolizer::new(Config {
        cache_dir: Some(cache.to_path_buf()),
        debuginfod_urls: vec![url.to_owned()],
        debuginfod_timeout: Duration::from_secs(10),
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn stripped_binaries_are_named_through_a_real_debuginfod_and_the_cache_keeps_the_files() {
    require("objcopy", "binutils");
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path(), "gcc", &[], "program");
    let peer = Peer::of(&binary);
    let id = peer.build_id.clone();
    let strip_all = dir.path().join("program.strip-all");
    let strip_debug = dir.path().join("program.strip-debug");
    strip(&binary, "--strip-all", &strip_all);
    strip(&binary, "--strip-debug", &strip_debug);
    assert_eq!(Peer::of(&strip_all).build_id, id);

    // What the server holds: the separate debuginfo (`objcopy --only-keep-debug`: program
    // headers rewritten, no code bytes) and the stripped executable.
    let served = dir.path().join("served");
    std::fs::create_dir(&served).unwrap();
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(&binary)
        .arg(served.join("program.debug")));
    std::fs::copy(&strip_all, served.join("program")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let server = Debuginfod::serve(
        &served,
        state.path(),
        &[(&id, "debuginfo"), (&id, "executable")],
    );

    let vaddrs: Vec<u64> = peer
        .every_byte()
        .iter()
        .step_by(3)
        .map(|(f, k)| f.start + k)
        .collect();
    let frames = |path: Option<&Path>| -> Vec<Frame> {
        vaddrs.iter().map(|&a| peer.frame(path, a)).collect()
    };
    let expected = {
        let mut local = Symbolizer::new(Config::default()).unwrap();
        let symbols = symbolize_all(&mut local, &frames(Some(&binary)));
        assert!(symbols.iter().all(Option::is_some));
        assert!(
            symbols.iter().flatten().any(|s| !s.inlined.is_empty()),
            "the program has inlined frames"
        );
        symbols
    };
    let same_as_unstripped = |what: &str, symbols: &[Option<Symbol>]| {
        assert_eq!(names(symbols), names(&expected), "{what}: names");
        for (ours, theirs) in symbols.iter().zip(&expected) {
            let (ours, theirs) = (ours.as_ref().unwrap(), theirs.as_ref().unwrap());
            assert_eq!(ours.source, SymbolSource::Debuginfod, "{what}");
            assert_eq!(
                (&ours.file, ours.line),
                (&theirs.file, theirs.line),
                "{what}"
            );
        }
    };

    // Without debuginfod: strip --strip-debug keeps the symbol table (names, no inlined frames);
    // strip --strip-all leaves nothing that covers these functions.
    let mut offline = Symbolizer::new(Config::default()).unwrap();
    let symbols = symbolize_all(&mut offline, &frames(Some(&strip_debug)));
    for (ours, theirs) in symbols.iter().zip(&expected) {
        let (ours, theirs) = (ours.as_ref().unwrap(), theirs.as_ref().unwrap());
        assert_eq!(
            (&ours.function, ours.offset),
            (&theirs.function, theirs.offset)
        );
        assert_eq!(ours.source, SymbolSource::File);
        assert!(ours.inlined.is_empty() && ours.line.is_none());
    }
    let symbols = symbolize_all(&mut offline, &frames(Some(&strip_all)));
    assert!(symbols.iter().all(Option::is_none), "{symbols:?}");

    // strip --strip-all on disk: the debuginfo comes from the server, placed with the segments
    // of the file on disk; the executable is not needed.
    let cache_a = tempfile::tempdir().unwrap();
    let mut symbolizer = with_debuginfod(cache_a.path(), &server.url);
    same_as_unstripped(
        "strip-all",
        &symbolize_all(&mut symbolizer, &frames(Some(&strip_all))),
    );
    assert_eq!(symbolizer.stats().downloads, 1);
    assert!(cache_a.path().join(format!("{id}.debug")).is_file());
    assert!(!cache_a.path().join(format!("{id}.elf")).exists());

    // strip --strip-debug on disk: its symbol table would name the functions, but the
    // debuginfo adds inlined frames and lines, so debuginfod is asked first.
    let cache_b = tempfile::tempdir().unwrap();
    let mut symbolizer = with_debuginfod(cache_b.path(), &server.url);
    same_as_unstripped(
        "strip-debug",
        &symbolize_all(&mut symbolizer, &frames(Some(&strip_debug))),
    );

    // No file at all, only the BuildID: the debuginfo cannot place file offsets by itself, so
    // the executable is fetched too; one address at a time goes through the same path.
    let cache_c = tempfile::tempdir().unwrap();
    let mut symbolizer = with_debuginfod(cache_c.path(), &server.url);
    let first = symbolizer.symbolize(&frames(None)[0].location);
    assert_eq!(
        first,
        expected[0].clone().map(|s| Symbol {
            source: SymbolSource::Debuginfod,
            ..s
        })
    );
    same_as_unstripped(
        "BuildID only",
        &symbolize_all(&mut symbolizer, &frames(None)),
    );
    assert_eq!(symbolizer.stats().downloads, 2);
    assert!(cache_c.path().join(format!("{id}.debug")).is_file());
    assert!(cache_c.path().join(format!("{id}.elf")).is_file());

    // A BuildID the server does not have: 404, unknown.
    let missing = Frame::unresolved(Location::File {
        build_id: Some("ab".repeat(20)),
        path: None,
        file_offset: 0x1100,
    });
    assert_eq!(
        symbolize_all(&mut symbolizer, std::slice::from_ref(&missing)),
        vec![None]
    );

    // The server gone: everything fetched before still resolves from the cache, and what was
    // never fetched stays unknown, without a panic.
    drop(server);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut from_cache = with_debuginfod(cache_c.path(), &dead);
    same_as_unstripped(
        "from the cache",
        &symbolize_all(&mut from_cache, &frames(None)),
    );
    assert_eq!(symbolize_all(&mut from_cache, &[missing]), vec![None]);
    let stats = from_cache.stats();
    assert_eq!(
        (stats.debuginfod, stats.unknown, stats.downloads),
        (vaddrs.len() as u64, 1, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// Bundles and the cache
// ---------------------------------------------------------------------------------------------

#[test]
fn a_bundle_built_from_a_funcproof_names_frames_as_the_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path(), "gcc", &[], "program");
    let peer = Peer::of(&binary);
    let bytes = std::fs::read(&binary).unwrap();
    let proof = FuncProof::build(&bytes).unwrap();
    let table = SymbolTable::from_proof(&proof, &bytes).unwrap();
    assert_eq!(table.build_id, peer.build_id);

    let vaddrs: Vec<u64> = peer.every_byte().iter().map(|(f, k)| f.start + k).collect();
    let frames = |path: Option<&Path>| -> Vec<Frame> {
        vaddrs.iter().map(|&a| peer.frame(path, a)).collect()
    };
    let from_file = symbolize_all(
        &mut Symbolizer::new(Config::default()).unwrap(),
        &frames(Some(&binary)),
    );
    let function_and_offset = |symbols: &[Option<Symbol>], source: SymbolSource| {
        symbols
            .iter()
            .map(|s| {
                let s = s.as_ref().unwrap();
                assert_eq!(s.source, source);
                (s.function.clone(), s.offset)
            })
            .collect::<Vec<_>>()
    };
    let expected = function_and_offset(&from_file, SymbolSource::File);

    // The bundle answers before the file on disk, and needs no file.
    let tar = bundle::write(std::slice::from_ref(&table)).unwrap();
    let mut symbolizer = Symbolizer::new(Config::default()).unwrap();
    assert_eq!(symbolizer.add_bundle_bytes(&tar).unwrap(), 1);
    for path in [None, Some(binary.as_path())] {
        let symbols = symbolize_all(&mut symbolizer, &frames(path));
        assert_eq!(
            function_and_offset(&symbols, SymbolSource::Bundle),
            expected
        );
    }
    let bundle_file = dir.path().join("symbols.tar");
    std::fs::write(&bundle_file, &tar).unwrap();
    let mut from_file_bundle = Symbolizer::new(Config::default()).unwrap();
    assert_eq!(from_file_bundle.add_bundle_file(&bundle_file).unwrap(), 1);
    let symbols = symbolize_all(&mut from_file_bundle, &frames(None));
    assert_eq!(
        function_and_offset(&symbols, SymbolSource::Bundle),
        expected
    );

    // The same table in the local cache.
    let cache = tempfile::tempdir().unwrap();
    SymbolCache::open(cache.path())
        .unwrap()
        .store_table(&table)
        .unwrap();
    let mut cached = Symbolizer::new(Config {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Config::default()
    })
    .unwrap();
    let symbols = symbolize_all(&mut cached, &frames(None));
    assert_eq!(function_and_offset(&symbols, SymbolSource::Cache), expected);
    assert_eq!(cached.stats().cache, vaddrs.len() as u64);

    // Refused bundles: errors, never panics, and nothing half-added.
    let mut refused = Symbolizer::new(Config::default()).unwrap();
    assert!(refused.add_bundle_bytes(b"").is_err());
    assert!(
        refused
            .add_bundle_bytes(b"garbage that is not a tar")
            .is_err()
    );
    // Every cut before the end-of-archive blocks loses part of a member.
    for cut in (0..tar.len() - 1024).step_by(97) {
        assert!(
            refused.add_bundle_bytes(&tar[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let inside_table = tar
        .windows(11)
        .rposition(|w| w == b"\"functions\"")
        .unwrap();
    let mut flipped = tar.clone();
    flipped[inside_table + 2] ^= 0x20;
    assert!(
        refused.add_bundle_bytes(&flipped).is_err(),
        "a table whose digest differs"
    );
    assert!(
        refused
            .add_bundle_file(&dir.path().join("no-such.tar"))
            .is_err()
    );
    let mut unsorted = table.clone();
    unsorted.functions.reverse();
    assert!(refused.add_table(unsorted).is_err());
    assert_eq!(
        symbolize_all(&mut refused, &frames(None)),
        vec![None; vaddrs.len()]
    );
}

// ---------------------------------------------------------------------------------------------
// Kernel and JIT frames
// ---------------------------------------------------------------------------------------------

#[test]
fn kernel_frames_are_named_from_kallsyms() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("kallsyms");
    std::fs::write(
        &fixture,
        "ffffffff81000000 T _stext\nffffffff81000100 t handle_irq\nffffffff81000180 T vfs_read\n\
         ffffffff81000300 D jiffies\n",
    )
    .unwrap();
    let mut symbolizer = Symbolizer::new(Config {
        kallsyms: fixture,
        ..Config::default()
    })
    .unwrap();
    let mut name = |address: u64| {
        symbolizer
            .symbolize(&Location::Kernel { address })
            .map(|s| (s.function, s.offset, s.source))
    };
    assert_eq!(
        name(0xffff_ffff_8100_0185),
        Some(("vfs_read".to_owned(), 5, SymbolSource::Kallsyms))
    );
    assert_eq!(
        name(0xffff_ffff_8100_0100),
        Some(("handle_irq".to_owned(), 0, SymbolSource::Kallsyms))
    );
    assert_eq!(name(0xffff_ffff_8100_0300), None, "data");
    assert_eq!(name(0x1000), None);

    // Addresses hidden by kptr_restrict: every kernel frame unknown.
    let hidden = dir.path().join("hidden");
    std::fs::write(
        &hidden,
        "0000000000000000 T _stext\n0000000000000000 T vfs_read\n",
    )
    .unwrap();
    let mut restricted = Symbolizer::new(Config {
        kallsyms: hidden,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(restricted.symbolize(&Location::Kernel { address: 0 }), None);
    assert_eq!(restricted.symbolize(&Location::Kernel { address: 5 }), None);

    // The running kernel, when its addresses are visible (root, as CI runs).
    let real = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let entries: Vec<(u64, &str, &str)> = real
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let address = u64::from_str_radix(f.next()?, 16).ok()?;
            Some((address, f.next()?, f.next()?))
        })
        .collect();
    if entries.iter().all(|e| e.0 == 0) {
        stella_testkit::skip(
            "kernel_frames_are_named_from_kallsyms (the running kernel part)",
            "/proc/kallsyms addresses are hidden (kptr_restrict); run the tests as root",
        );
        return;
    }
    let mut addresses: Vec<u64> = entries.iter().map(|e| e.0).collect();
    addresses.sort_unstable();
    let unique = |a: u64| entries.iter().filter(|e| e.0 == a).count() == 1;
    let next_after = |a: u64| {
        addresses[addresses.partition_point(|&x| x <= a)..]
            .first()
            .copied()
    };
    let (address, _, wanted) = ["vfs_read", "schedule", "do_sys_openat2"]
        .iter()
        .find_map(|want| {
            entries.iter().find(|e| {
                e.2 == *want
                    && e.1 == "T"
                    && unique(e.0)
                    && next_after(e.0).is_some_and(|n| n > e.0 + 8)
            })
        })
        .copied()
        .expect("vfs_read, schedule or do_sys_openat2 in /proc/kallsyms");
    let mut live = Symbolizer::new(Config::default()).unwrap();
    let found = live.symbolize(&Location::Kernel {
        address: address + 8,
    });
    assert_eq!(
        found.map(|s| (s.function, s.offset, s.source)),
        Some((wanted.to_owned(), 8, SymbolSource::Kallsyms))
    );
}

#[test]
fn jit_frames_are_named_from_a_growing_perf_map() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("perf-4242.map");
    std::fs::write(
        &map,
        "7f0000001000 40 LazyCompile:~main /srv/app.js:3\nnot a line at all\n\
         7f0000002000 zz bad_size\n0x7f0000003000 0x20 Builtin:CallFunction\n",
    )
    .unwrap();
    let mut symbolizer = Symbolizer::new(Config {
        perf_map_dir: dir.path().to_path_buf(),
        ..Config::default()
    })
    .unwrap();
    let jit = |pid: u32, address: u64| Frame::unresolved(Location::Anonymous { pid, address });
    let mut frames = vec![
        jit(4242, 0x7f00_0000_1010),
        jit(4242, 0x7f00_0000_3000),
        jit(4242, 0x7f00_0000_2000),
        jit(4242, 0x7f00_0000_4008),
        jit(77, 0x7f00_0000_1010),
    ];
    symbolizer.symbolize_frames(&mut frames);
    let got = |frames: &[Frame]| -> Vec<Option<(String, u64)>> {
        frames
            .iter()
            .map(|f| {
                f.symbol.as_ref().map(|s| {
                    assert_eq!(s.source, SymbolSource::PerfMap);
                    (s.function.clone(), s.offset)
                })
            })
            .collect()
    };
    assert_eq!(
        got(&frames),
        vec![
            Some(("LazyCompile:~main /srv/app.js:3".to_owned(), 0x10)),
            Some(("Builtin:CallFunction".to_owned(), 0)),
            None,
            None,
            None,
        ]
    );

    // The JIT appends code: the unknown address is found once the map has it.
    let mut file = std::fs::OpenOptions::new().append(true).open(&map).unwrap();
    file.write_all(b"7f0000004000 100 LazyCompile:*hot /srv/app.js:9\n")
        .unwrap();
    let mut later = vec![jit(4242, 0x7f00_0000_4008), jit(4242, 0x7f00_0000_1010)];
    symbolizer.symbolize_frames(&mut later);
    assert_eq!(
        got(&later),
        vec![
            Some(("LazyCompile:*hot /srv/app.js:9".to_owned(), 8)),
            Some(("LazyCompile:~main /srv/app.js:3".to_owned(), 0x10)),
        ]
    );
    let stats = symbolizer.stats();
    assert_eq!((stats.perf_map, stats.unknown), (4, 3));
}

// ---------------------------------------------------------------------------------------------
// Batches and counts
// ---------------------------------------------------------------------------------------------

#[test]
fn a_batch_names_only_unnamed_frames_and_counts_each_source() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path(), "gcc", &[], "program");
    let peer = Peer::of(&binary);
    let kallsyms = dir.path().join("kallsyms");
    std::fs::write(
        &kallsyms,
        "ffffffff81000000 T _stext\nffffffff81000100 T _etext\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("perf-9.map"), "1000 10 jitted\n").unwrap();
    let mut symbolizer = Symbolizer::new(Config {
        kallsyms,
        perf_map_dir: dir.path().to_path_buf(),
        ..Config::default()
    })
    .unwrap();
    let fib = peer.functions.iter().find(|f| f.name == "fib").unwrap();
    let already = Symbol {
        function: "imported".to_owned(),
        demangled: None,
        offset: 0,
        source: SymbolSource::Imported,
        inlined: Vec::new(),
        file: None,
        line: None,
    };
    let mut frames = vec![
        peer.frame(Some(&binary), fib.start + 1),
        peer.frame(Some(&binary), fib.start + 1),
        peer.frame(Some(&binary), fib.start + 2),
        Frame::unresolved(Location::Kernel {
            address: 0xffff_ffff_8100_0010,
        }),
        Frame::unresolved(Location::Anonymous {
            pid: 9,
            address: 0x1004,
        }),
        Frame::unresolved(Location::Anonymous {
            pid: 9,
            address: 0x2000,
        }),
        Frame {
            symbol: Some(already.clone()),
            ..peer.frame(Some(&binary), fib.start)
        },
    ];
    symbolizer.symbolize_frames(&mut frames);
    let described: Vec<Option<(&str, u64, SymbolSource)>> = frames
        .iter()
        .map(|f| {
            f.symbol
                .as_ref()
                .map(|s| (s.function.as_str(), s.offset, s.source))
        })
        .collect();
    assert_eq!(
        described,
        vec![
            Some(("fib", 1, SymbolSource::File)),
            Some(("fib", 1, SymbolSource::File)),
            Some(("fib", 2, SymbolSource::File)),
            Some(("_stext", 0x10, SymbolSource::Kallsyms)),
            Some(("jitted", 4, SymbolSource::PerfMap)),
            None,
            Some(("imported", 0, SymbolSource::Imported)),
        ]
    );
    let stats = symbolizer.stats();
    assert_eq!(
        (stats.file, stats.kallsyms, stats.perf_map, stats.unknown),
        (3, 1, 1, 1)
    );
    assert_eq!((stats.resolved(), stats.frames()), (5, 6));
    let json = serde_json::to_value(stats).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"bundle": 0, "cache": 0, "file": 3, "debuginfod": 0, "kallsyms": 1,
            "perfMap": 1, "vdso": 0, "unknown": 1, "downloads": 0})
    );
}

// ---------------------------------------------------------------------------------------------
// Throughput (run by hand: `cargo test --release -p stella-runtime --test symbolize -- --ignored
// --nocapture`; `STELLA_SYMBOLIZE_BENCH=/path/to/elf` measures an existing binary instead of the
// generated one)
// ---------------------------------------------------------------------------------------------

/// A generated program: `count` functions in one compilation unit, each with a loop and an
/// inlined helper.
fn many_functions(dir: &Path, count: usize) -> PathBuf {
    let mut source = String::from(
        "static inline __attribute__((always_inline)) int step(int x) { return x * 31 ^ (x >> 3); }\n",
    );
    for i in 0..count {
        source.push_str(&format!(
            "__attribute__((noinline)) int f{i}(int x) {{ int s = {i}; \
             for (int j = 0; j < x; j++) s += step(s + j) ^ {i}; return s; }}\n"
        ));
    }
    source.push_str("int main(int c, char **v) { (void)v; int s = 0;\n");
    for i in 0..count {
        source.push_str(&format!("s += f{i}(c);\n"));
    }
    source.push_str("return s & 1; }\n");
    let path = dir.join("many.c");
    std::fs::write(&path, source).unwrap();
    let binary = dir.join("many");
    run(Command::new("gcc")
        .args(["-O2", "-g", "-o"])
        .arg(&binary)
        .arg(&path));
    binary
}

#[test]
#[ignore = "a measurement, not a check"]
fn warm_throughput_against_eu_addr2line() {
    let dir = tempfile::tempdir().unwrap();
    let binary = match std::env::var_os("STELLA_SYMBOLIZE_BENCH") {
        Some(path) => PathBuf::from(path),
        None => many_functions(dir.path(), 3000),
    };
    let peer = Peer::of(&binary);
    let all = peer.every_byte();
    // A deterministic spread of distinct addresses.
    let mut vaddrs: Vec<u64> = (0..200_000u64)
        .map(|i| {
            let (f, k) = all[(i.wrapping_mul(2_654_435_761) % all.len() as u64) as usize];
            f.start + k
        })
        .collect();
    vaddrs.sort_unstable();
    vaddrs.dedup();
    let frames: Vec<Frame> = vaddrs
        .iter()
        .map(|&a| peer.frame(Some(&binary), a))
        .collect();

    let mut symbolizer = Symbolizer::new(Config::default()).unwrap();
    let cold = Instant::now();
    symbolize_all(&mut symbolizer, &frames);
    let cold = cold.elapsed();
    let warm = Instant::now();
    let answers = symbolize_all(&mut symbolizer, &frames);
    let warm = warm.elapsed();
    let resolved = answers.iter().filter(|a| a.is_some()).count();
    let single = Instant::now();
    for frame in &frames {
        symbolizer.symbolize(&frame.location);
    }
    let single = single.elapsed();

    // eu-addr2line can take a millisecond per address: it gets an even sample of at most 5,000.
    let sample: Vec<u64> = vaddrs
        .iter()
        .step_by(vaddrs.len().div_ceil(5000))
        .copied()
        .collect();
    let eu = Instant::now();
    let theirs = eu_addr2line(&binary, &sample);
    let eu = eu.elapsed();
    assert_eq!(theirs.len(), sample.len());

    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{}: {} distinct addresses in {} functions ({resolved} named): batch cold {:.0}/s, \
         batch warm {:.0}/s, one at a time warm {:.0}/s; eu-addr2line -f on {} of them \
         (one process, stdin) {:.0}/s",
        binary.display(),
        vaddrs.len(),
        peer.functions.len(),
        rate(vaddrs.len(), cold),
        rate(vaddrs.len(), warm),
        rate(vaddrs.len(), single),
        sample.len(),
        rate(sample.len(), eu)
    );
}
