//! `stella record`, `stella witness` and `stella symbolize`: what ran, as canonical frames.
//!
//! The sampling, probing and naming live in `stella-runtime`; this module turns flags into
//! options (for `witness --image`, the vulnerable functions an assessment of the image found
//! present, in the files of this host that are the image's binaries), loads the symbol sources (bundle files, bundles attached to images, the cache,
//! debuginfod), stops cleanly on Ctrl-C, and writes collapsed stacks or JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::anyhow;
use serde_json::{Value, json};
use stella_policy::assess;
use stella_runtime::RuntimeError;
use stella_runtime::collapsed;
use stella_runtime::frame::Frame;
use stella_runtime::import::{self, Format};
use stella_runtime::perf_backend;
use stella_runtime::procmaps::MapsCache;
use stella_runtime::profile::Profile;
use stella_runtime::running;
use stella_runtime::sampler::{self, Duty, RecordOptions, Selection};
use stella_runtime::symbolize::{Config, Symbolizer};
use stella_runtime::witness::{self, Target, WatchOptions, WitnessOptions};

use crate::cli::{
    Backend, RecordArgs, RecordFormat, SymbolArgs, SymbolizeArgs, SymbolizeFormat, WitnessArgs,
};
use crate::exit::{CliError, Outcome};
use crate::output::{write_atomically, write_stdout};

/// Largest input `stella symbolize` reads.
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// The exit code is the error's kind's (bad input or options 2, the kernel or machine 3).
fn runtime_error(error: RuntimeError) -> CliError {
    CliError::kinded(error)
}

/// Runs `work` (a recording or a watch that sets `attached` once it is attached) and logs
/// `message` at info level the moment it is: loading the eBPF program can take a while, and a
/// user who starts the workload by hand waits for this line.
fn announcing_attachment<T>(attached: &AtomicBool, message: &str, work: impl FnOnce() -> T) -> T {
    struct Finished<'a>(&'a AtomicBool);
    impl Drop for Finished<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Acquire) {
                if attached.load(Ordering::Acquire) {
                    tracing::info!("{message}");
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
        // Set on every way out, a panic included, so the scope never waits forever.
        let _finished = Finished(&finished);
        work()
    })
}

/// A flag set by Ctrl-C (SIGINT) or SIGTERM, so a recording stops and still writes its result.
pub(crate) fn stop_on_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        });
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

/// The symboliser the flags describe, with every bundle loaded; `None` with --no-symbolize.
pub(crate) fn symbolizer(args: &SymbolArgs, home: &Path) -> Result<Option<Symbolizer>, CliError> {
    if args.no_symbolize {
        return Ok(None);
    }
    let mut config = Config::from_env();
    if !args.debuginfod.is_empty() {
        config.debuginfod_urls = args.debuginfod.clone();
    }
    config.cache_dir = Some(
        args.symbol_cache
            .clone()
            .unwrap_or_else(|| home.join("symbols")),
    );
    let mut symbolizer = Symbolizer::new(config).map_err(runtime_error)?;
    for source in &args.symbols {
        let path = PathBuf::from(source);
        if path.is_file() {
            let tables = symbolizer
                .add_bundle_file(&path)
                .map_err(|e| runtime_error(e).context(format!("--symbols {source}")))?;
            tracing::info!(bundle = %source, tables, "symbol bundle loaded");
            continue;
        }
        let tables = bundles_of_image(source, args, home, &mut symbolizer)?;
        tracing::info!(image = %source, tables, "symbol bundles of the image loaded");
    }
    Ok(Some(symbolizer))
}

/// Loads the symbol tables of the image `reference` that its verified evidence binds.
fn bundles_of_image(
    reference: &str,
    args: &SymbolArgs,
    home: &Path,
    symbolizer: &mut Symbolizer,
) -> Result<usize, CliError> {
    let tables = crate::verify_image::trusted_symbol_tables(
        reference,
        args.insecure,
        &args.symbols_key,
        args.symbols_trusted_root.as_deref(),
        home,
    )?;
    let count = tables.len();
    for table in tables {
        symbolizer
            .add_table(table)
            .map_err(|e| runtime_error(e).context(format!("--symbols {reference}")))?;
    }
    Ok(count)
}

pub(crate) fn name_profile(profile: &mut Profile, symbolizer: Option<&mut Symbolizer>) {
    if let Some(symbolizer) = symbolizer {
        for stack in &mut profile.stacks {
            symbolizer.symbolize_frames(&mut stack.frames);
        }
    }
    profile.normalize();
}

fn write_out(output: Option<&Path>, bytes: &[u8]) -> Result<(), CliError> {
    match output {
        Some(path) => write_atomically(path, bytes),
        None => write_stdout(bytes),
    }
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CliError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| CliError::environment(anyhow!("writing JSON: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// `stella record`.
pub fn record(args: RecordArgs, home: &Path) -> Result<Outcome, CliError> {
    let selection = match (&args.pid[..], &args.cgroup, args.all) {
        ([], None, true) => Selection::All,
        ([], Some(cgroup), false) => Selection::Cgroup(cgroup.clone()),
        (pids, None, false) if !pids.is_empty() => Selection::Pids(pids.to_vec()),
        _ => {
            return Err(CliError::input(anyhow!(
                "say what to sample: --pid PID (repeatable), --cgroup PATH or --all"
            )));
        }
    };
    if let Some(digest) = &args.image_digest
        && digest.parse::<stella_core::Digest>().is_err()
    {
        return Err(CliError::input(anyhow!(
            "--image-digest {digest}: expected sha256:<64 hex digits>"
        )));
    }
    // Symbol sources are checked before sampling, so a typo does not cost a recording.
    let mut names = symbolizer(&args.symbols, home)?;
    let options = RecordOptions {
        selection,
        hz: args.hz,
        duration: args.duration,
        duty: args.duty.map(|(on, period)| Duty { on, period }),
        stop: stop_on_signal(),
        attached: Default::default(),
    };
    tracing::info!(
        hz = args.hz,
        duration = ?args.duration,
        "recording (Ctrl-C stops and writes what was recorded)"
    );
    let mut maps = MapsCache::new();
    let mut profile = announcing_attachment(&options.attached, "sampling", || match args.backend {
        Backend::Ebpf => sampler::record(&options, &mut maps),
        Backend::PerfEvent => perf_backend::record(&options, &mut maps),
    })
    .map_err(runtime_error)?;
    if let Some(digest) = &args.image_digest {
        for stack in &mut profile.stacks {
            stack.image = Some(digest.clone());
        }
    }
    name_profile(&mut profile, names.as_mut());
    let format = match (args.format, args.json) {
        (Some(format), _) => format,
        (None, true) => RecordFormat::Json,
        (None, false) => RecordFormat::Collapsed,
    };
    let bytes = match format {
        RecordFormat::Json => json_bytes(&profile)?,
        RecordFormat::Collapsed => collapsed_text(&profile, args.offsets),
        RecordFormat::Svg => crate::flame::svg(
            &crate::flame::lines_of(&profile.stacks),
            &crate::flame::Drawing {
                title: "stella record",
                width: 1200,
                marked: &std::collections::BTreeMap::new(),
            },
        )?
        .into_bytes(),
        RecordFormat::Pprof => stella_runtime::pprof::write(&profile).map_err(runtime_error)?,
    };
    write_out(args.output.as_deref(), &bytes)?;
    if let Some(image) = &args.attach {
        // The JSON profile, the very bytes written when JSON was asked.
        let document = if format == RecordFormat::Json {
            bytes.clone()
        } else {
            json_bytes(&profile)?
        };
        crate::assess::attach_runtime(
            image,
            args.symbols.insecure,
            args.sign_key.as_deref(),
            home,
            crate::assess::RuntimeKind::Profile,
            &document,
        )?;
    }
    let processes: std::collections::BTreeSet<_> =
        profile.stacks.iter().filter_map(|s| s.pid).collect();
    tracing::info!(
        samples = profile.stats.samples,
        lost = profile.stats.lost,
        processes = processes.len(),
        stacks = profile.stacks.len(),
        frames = profile.stats.frames,
        unknown = profile.stats.unknown_frames,
        "recorded"
    );
    if profile.stats.samples == 0 {
        eprintln!("warning: no samples: the selected processes did not run on a CPU");
    }
    Ok(Outcome::Success)
}

/// `stella witness`.
pub fn witness(args: WitnessArgs, home: &Path) -> Result<Outcome, CliError> {
    let mut names = symbolizer(&args.symbols, home)?;
    let stop = stop_on_signal();
    let mut maps = MapsCache::new();
    let mut report = match (&args.binary, &args.image) {
        (Some(binary), _) => {
            let options = WitnessOptions {
                binary: binary.clone(),
                symbols: args.symbol.clone(),
                pid: args.pid,
                duration: args.duration,
                stacks_per_symbol: args.stacks,
                stop,
                attached: Default::default(),
            };
            announcing_attachment(&options.attached, "probes attached, watching", || {
                witness::watch(&options, &mut maps)
            })
            .map_err(runtime_error)?
        }
        (None, Some(image)) => {
            let Some(targets) = targets_of_image(image, &args, home)? else {
                return Ok(Outcome::Failed);
            };
            let options = WatchOptions {
                image: Some(image.clone()),
                pid: args.pid,
                duration: args.duration,
                stacks_per_symbol: args.stacks,
                stop,
                attached: Default::default(),
            };
            tracing::info!(
                binaries = targets.len(),
                functions = targets.iter().map(|t| t.probes.len()).sum::<usize>(),
                duration = ?args.duration,
                "witnessing (Ctrl-C stops and writes what was counted)"
            );
            announcing_attachment(&options.attached, "probes attached, watching", || {
                witness::watch_targets(&targets, &options, &mut maps)
            })
            .map_err(runtime_error)?
        }
        (None, None) => {
            return Err(CliError::input(anyhow!(
                "say what to watch: --binary PATH --symbol NAME, or --image REF --vuln ID"
            )));
        }
    };
    if let Some(symbolizer) = names.as_mut() {
        for w in &mut report.witnesses {
            for stack in &mut w.stacks {
                symbolizer.symbolize_frames(&mut stack.frames);
            }
        }
    }
    if let (Some(pid), Some(binary)) = (report.pid, &args.binary)
        && report.instances.is_empty()
    {
        eprintln!(
            "pid {pid} never mapped {} during the window: its counts cover nothing",
            binary.display()
        );
    }
    let bytes = if args.json {
        // One object per function, each saying what its count covers.
        let objects: Vec<Value> = report
            .witnesses
            .iter()
            .map(|w| {
                let mut value = serde_json::to_value(w).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut value {
                    map.insert("schema".into(), json!(witness::SCHEMA));
                    map.insert("window".into(), json!(report.window));
                    map.insert("pid".into(), json!(report.pid));
                    // A function of one binary among several covers that binary's instances.
                    map.entry("instances")
                        .or_insert_with(|| json!(report.instances));
                    map.insert("lost".into(), json!(report.lost));
                    if let Some(image) = &report.image {
                        map.insert("image".into(), json!(image));
                    }
                }
                value
            })
            .collect();
        json_bytes(&objects)?
    } else {
        let mut text = format!(
            "window {} .. {} ({:.1} s), {}, instances {:?}{}\n",
            report.window.start,
            report.window.end,
            report.window.sampled_seconds,
            report
                .pid
                .map_or("every process".to_string(), |p| format!("pid {p}")),
            report.instances,
            if report.lost > 0 {
                format!(", {} calls lost (counts are lower bounds)", report.lost)
            } else {
                String::new()
            }
        );
        for w in &report.witnesses {
            text.push_str(&format!(
                "{:<32} calls {:>10}  {} ({}) @ {:#x}\n",
                w.demangled.as_deref().unwrap_or(&w.function),
                w.calls,
                w.image_path.as_deref().unwrap_or(&w.binary),
                w.build_id.as_deref().unwrap_or("no BuildID"),
                w.file_offset
            ));
            if let Some(instances) = &w.instances {
                text.push_str(&format!("    instances {instances:?}\n"));
            }
            for p in &w.processes {
                text.push_str(&format!(
                    "    pid {:<8} {:<16} {}\n",
                    p.pid,
                    p.comm.as_deref().unwrap_or("?"),
                    p.calls
                ));
            }
            if let Some(stack) = w.stacks.first() {
                let names: Vec<String> = stack.frames.iter().map(frame_text).collect();
                text.push_str(&format!("    first caller stack: {}\n", names.join(" <- ")));
            }
        }
        text.into_bytes()
    };
    write_out(args.output.as_deref(), &bytes)?;
    if let (true, Some(image)) = (args.attach, &args.image) {
        crate::assess::attach_runtime(
            image,
            args.symbols.insecure,
            args.sign_key.as_deref(),
            home,
            crate::assess::RuntimeKind::WitnessReport,
            &json_bytes(&report)?,
        )?;
    }
    Ok(Outcome::Success)
}

/// A binary of the image with vulnerable functions present, as its verified evidence names it.
#[derive(Default)]
struct Watched {
    build_id: Option<String>,
    sha256: String,
    /// `(advisory symbol, function, demangled, start vaddr)`.
    functions: BTreeSet<(String, String, Option<String>, u64)>,
    vulnerabilities: BTreeSet<String>,
}

/// The functions `stella witness --image` watches, in the files of this host that are the
/// image's binaries; `None` (after saying why) when there is nothing to watch.
fn targets_of_image(
    image: &str,
    args: &WitnessArgs,
    home: &Path,
) -> Result<Option<Vec<Target>>, CliError> {
    let Some(assessed) = crate::assess::assess_image(
        &crate::assess::Asked {
            image,
            insecure: args.symbols.insecure,
            key: &args.key,
            trusted_root: args.trusted_root.as_deref(),
            replay: false,
            advisories: &args.advisories,
            vuln: &args.vuln,
            issued: None,
            quiet: args.json,
            // The static verdicts: what runtime evidence already says is to be renewed, not
            // trusted to skip a function.
            attached_only: Some(&BTreeSet::new()),
            advisory_documents: None,
            tiles: None,
        },
        None,
        stella_policy::runtime::Policy::default(),
        home,
    )?
    else {
        return Ok(None);
    };
    let asked: BTreeSet<&str> = args.vuln.iter().map(String::as_str).collect();
    let mut by_binary: BTreeMap<String, Watched> = BTreeMap::new();
    let mut unwatchable: BTreeSet<String> = BTreeSet::new();
    for v in &assessed.assessment.verdicts {
        let wanted = if args.findings {
            v.status == assess::Status::UnderInvestigation
        } else {
            asked.contains(v.vulnerability.as_str())
                || v.aliases.iter().any(|a| asked.contains(a.as_str()))
        };
        if !wanted {
            continue;
        }
        let found: Vec<_> = v
            .symbols
            .iter()
            .filter(|f| f.outcome != "absent")
            .flat_map(|f| f.found.iter().map(move |x| (f, x)))
            .collect();
        let binary = match (&v.binary, found.is_empty()) {
            (Some(b), false) if b.sha256.is_some() => b,
            _ => {
                if v.status != assess::Status::NotAffected {
                    unwatchable.insert(format!(
                        "{} in {}: {}",
                        v.vulnerability,
                        v.binary.as_ref().map_or("the image", |b| b.path.as_str()),
                        match v.basis {
                            assess::Basis::Symbols => "no function found to watch",
                            _ => "judged by version only: no function to watch",
                        }
                    ));
                }
                continue;
            }
        };
        let entry = by_binary.entry(binary.path.clone()).or_default();
        entry.build_id = binary.build_id.clone();
        entry.sha256 = binary.sha256.clone().unwrap_or_default();
        entry.vulnerabilities.insert(v.vulnerability.clone());
        for (finding, f) in found {
            let Some(start) = f
                .start
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
            else {
                continue;
            };
            entry.functions.insert((
                finding.name.clone(),
                f.sym.clone(),
                f.demangled.clone(),
                start,
            ));
        }
    }
    for u in &unwatchable {
        eprintln!("not watched: {u}");
    }
    if by_binary.is_empty() {
        eprintln!(
            "{image}: no vulnerable function {} present in a binary of the image: nothing to witness",
            if args.findings {
                "of an under_investigation verdict".to_owned()
            } else {
                format!("of {}", args.vuln.join(", "))
            }
        );
        return Ok(None);
    }
    let paths: Vec<&String> = by_binary.keys().collect();
    let wanted: Vec<running::Wanted> = by_binary
        .iter()
        .map(|(path, w)| running::Wanted {
            build_id: w.build_id.clone(),
            sha256: w.sha256.clone(),
            file_name: path.rsplit('/').next().unwrap_or(path).to_owned(),
        })
        .collect();
    let found = running::find(&wanted, args.pid);
    for i in &found.impostors {
        eprintln!(
            "{} (pid {}) carries the identity of {} in {image} but its bytes are not the \
             image's (SHA-256 {}): not watched, not an instance",
            i.path.display(),
            i.pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            paths[i.wanted],
            if i.sha256.is_empty() {
                "unreadable"
            } else {
                &i.sha256
            }
        );
    }
    let mut targets = Vec::new();
    for r in &found.running {
        let path = paths[r.wanted];
        let w = &by_binary[path];
        let data = stella_binary::FileSnapshot::open(&r.path)
            .map_err(|e| CliError::environment(anyhow!("{}: {e}", r.path.display())))?;
        let segments = stella_binary::symbols::segments_of(&data)
            .map_err(|e| CliError::environment(anyhow!("{}: {e}", r.path.display())))?;
        let mut probes = Vec::new();
        for (asked, function, demangled, start) in &w.functions {
            let Some(file_offset) = stella_binary::symbols::vaddr_to_file_offset(&segments, *start)
            else {
                eprintln!(
                    "not watched: {function} in {path}: {start:#x} is in no loadable segment"
                );
                continue;
            };
            probes.push(witness::Probe {
                asked: asked.clone(),
                function: function.clone(),
                demangled: demangled.clone().filter(|d| d != function),
                file_offset,
            });
        }
        tracing::info!(
            binary = %path,
            file = %r.path.display(),
            processes = r.pids.len(),
            functions = probes.len(),
            vulnerabilities = ?w.vulnerabilities,
            "watching"
        );
        targets.push(Target {
            binary: r.path.clone(),
            image_path: Some(path.clone()),
            build_id: w.build_id.clone(),
            probes,
        });
    }
    targets.retain(|t| !t.probes.is_empty());
    if targets.is_empty() {
        eprintln!(
            "{image}: no process on this host{} runs a binary of the image holding the functions \
             to watch ({}): nothing can be witnessed",
            args.pid.map_or(String::new(), |p| format!(" (of pid {p})")),
            paths
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(None);
    }
    Ok(Some(targets))
}

fn frame_text(frame: &Frame) -> String {
    match &frame.symbol {
        Some(s) => format!("{}+{:#x}", s.display_name(), s.offset),
        None => match &frame.location {
            stella_runtime::frame::Location::File {
                build_id,
                file_offset,
                ..
            } => format!(
                "[unknown] {}+{file_offset:#x}",
                build_id.as_deref().unwrap_or("no-buildid")
            ),
            stella_runtime::frame::Location::Kernel { address }
            | stella_runtime::frame::Location::Anonymous { address, .. } => {
                format!("[unknown] {address:#x}")
            }
            stella_runtime::frame::Location::Named { .. } => "[unknown]".to_string(),
        },
    }
}

/// `stella symbolize`.
pub fn symbolize(args: SymbolizeArgs, home: &Path) -> Result<Outcome, CliError> {
    let origin = args
        .input
        .as_ref()
        .filter(|p| p.as_os_str() != "-")
        .map_or("-".to_string(), |p| p.display().to_string());
    let mut raw = Vec::new();
    let read = match args.input.as_ref().filter(|p| p.as_os_str() != "-") {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut raw))
            .map_err(|e| CliError::input(anyhow!("{}: {e}", path.display()))),
        None => std::io::stdin()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut raw)
            .map_err(|e| CliError::input(anyhow!("stdin: {e}"))),
    };
    read?;
    if raw.len() as u64 > MAX_INPUT_BYTES {
        return Err(CliError::input(anyhow!(
            "{origin}: larger than {MAX_INPUT_BYTES} bytes"
        )));
    }
    // pprof is binary: asked for, or recognised by its gzip header.
    if args.format == Some(SymbolizeFormat::Pprof)
        || (args.format.is_none() && raw.starts_with(&[0x1f, 0x8b]))
    {
        let mut profile = stella_runtime::pprof::read(&raw, &origin).map_err(runtime_error)?;
        let mut names = symbolizer(&args.symbols, home)?;
        name_profile(&mut profile, names.as_mut());
        let bytes = if args.json {
            json_bytes(&profile)?
        } else {
            collapsed_text(&profile, args.offsets)
        };
        write_out(args.output.as_deref(), &bytes)?;
        return Ok(Outcome::Success);
    }
    let text = String::from_utf8(raw).map_err(|e| {
        CliError::input(anyhow!(
            "{origin}: not UTF-8 text at byte {} (a pprof profile? --format pprof)",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let format = match args.format {
        Some(SymbolizeFormat::Raw) => Format::Raw,
        Some(SymbolizeFormat::Collapsed) => Format::Collapsed,
        Some(SymbolizeFormat::PerfScript | SymbolizeFormat::Pprof) => Format::PerfScript,
        None => import::detect(&text),
    };
    let mut names = symbolizer(&args.symbols, home)?;
    let bytes = match format {
        Format::Raw => {
            let mut frames = import::raw_frames(&text, &origin).map_err(runtime_error)?;
            if let Some(symbolizer) = names.as_mut() {
                symbolizer.symbolize_frames(&mut frames);
            }
            if args.json {
                crate::print::to_json(
                    &crate::print::Schema::new("symbolize"),
                    &json!({ "frames": frames }),
                )?
                .into_bytes()
                .into_iter()
                .chain(*b"\n")
                .collect()
            } else {
                let mut out = String::new();
                for frame in &frames {
                    if let stella_runtime::frame::Location::File {
                        build_id,
                        file_offset,
                        ..
                    } = &frame.location
                    {
                        out.push_str(&format!(
                            "{} {file_offset:#x} {}\n",
                            build_id.as_deref().unwrap_or("-"),
                            frame
                                .symbol
                                .as_ref()
                                .map_or("[unknown]".to_string(), |s| format!(
                                    "{}+{:#x}",
                                    s.display_name(),
                                    s.offset
                                ))
                        ));
                    }
                }
                out.into_bytes()
            }
        }
        Format::Collapsed | Format::PerfScript => {
            let mut profile = if format == Format::Collapsed {
                collapsed::read(&text, &origin)
            } else {
                import::perf_script(&text, &origin)
            }
            .map_err(runtime_error)?;
            name_profile(&mut profile, names.as_mut());
            if args.json {
                json_bytes(&profile)?
            } else {
                collapsed_text(&profile, args.offsets)
            }
        }
    };
    write_out(args.output.as_deref(), &bytes)?;
    if let Some(symbolizer) = &names {
        let stats = symbolizer.stats();
        tracing::info!(?stats, "symbolised");
    }
    Ok(Outcome::Success)
}

/// Collapsed stacks: Stella's canonical lines with `--offsets` (BuildIDs and offsets, which
/// `symbolize`, `assess --profile` and `replay` join to FuncProofs), else the lines a flame
/// graph tool takes as is.
fn collapsed_text(profile: &stella_runtime::profile::Profile, offsets: bool) -> Vec<u8> {
    if offsets {
        collapsed::write(profile).into_bytes()
    } else {
        crate::flame::folded(&profile.stacks).into_bytes()
    }
}
