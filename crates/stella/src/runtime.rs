//! `stella record`, `stella witness` and `stella symbolize`: what ran, as canonical frames.
//!
//! The sampling, probing and naming live in `stella-runtime`; this module turns flags into
//! options, loads the symbol sources (bundle files, bundles attached to images, the cache,
//! debuginfod), stops cleanly on Ctrl-C, and writes collapsed stacks or JSON.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::anyhow;
use serde_json::{Value, json};
use stella_runtime::RuntimeError;
use stella_runtime::collapsed;
use stella_runtime::frame::Frame;
use stella_runtime::import::{self, Format};
use stella_runtime::perf_backend;
use stella_runtime::procmaps::MapsCache;
use stella_runtime::profile::Profile;
use stella_runtime::sampler::{self, Duty, RecordOptions, Selection};
use stella_runtime::symbolize::{Config, Symbolizer};
use stella_runtime::witness::{self, WitnessOptions};

use crate::cli::{Backend, RecordArgs, SymbolArgs, SymbolizeArgs, SymbolizeFormat, WitnessArgs};
use crate::exit::{CliError, Outcome};
use crate::output::{write_atomically, write_stdout};

/// Largest input `stella symbolize` reads.
const MAX_INPUT_BYTES: u64 = 1 << 30;

/// The exit code is the error's kind's (bad input or options 2, the kernel or machine 3).
fn runtime_error(error: RuntimeError) -> CliError {
    CliError::kinded(error)
}

/// A flag set by Ctrl-C (SIGINT) or SIGTERM, so a recording stops and still writes its result.
fn stop_on_signal() -> Arc<AtomicBool> {
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
fn symbolizer(args: &SymbolArgs, home: &Path) -> Result<Option<Symbolizer>, CliError> {
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

fn name_profile(profile: &mut Profile, symbolizer: Option<&mut Symbolizer>) {
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
    };
    tracing::info!(
        hz = args.hz,
        duration = ?args.duration,
        "recording (Ctrl-C stops and writes what was recorded)"
    );
    let mut maps = MapsCache::new();
    let mut profile = match args.backend {
        Backend::Ebpf => sampler::record(&options, &mut maps),
        Backend::PerfEvent => perf_backend::record(&options, &mut maps),
    }
    .map_err(runtime_error)?;
    if let Some(digest) = &args.image_digest {
        for stack in &mut profile.stacks {
            stack.image = Some(digest.clone());
        }
    }
    name_profile(&mut profile, names.as_mut());
    let bytes = if args.json {
        json_bytes(&profile)?
    } else {
        collapsed::write(&profile).into_bytes()
    };
    write_out(args.output.as_deref(), &bytes)?;
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
    let options = WitnessOptions {
        binary: args.binary.clone(),
        symbols: args.symbol.clone(),
        pid: args.pid,
        duration: args.duration,
        stacks_per_symbol: args.stacks,
        stop: stop_on_signal(),
    };
    let mut maps = MapsCache::new();
    let mut report = witness::watch(&options, &mut maps).map_err(runtime_error)?;
    if let Some(symbolizer) = names.as_mut() {
        for w in &mut report.witnesses {
            for stack in &mut w.stacks {
                symbolizer.symbolize_frames(&mut stack.frames);
            }
        }
    }
    if let Some(pid) = report.pid
        && report.instances.is_empty()
    {
        eprintln!(
            "pid {pid} never mapped {} during the window: its counts cover nothing",
            args.binary.display()
        );
    }
    let bytes = if args.json {
        // One object per symbol, each saying what its count covers.
        let objects: Vec<Value> = report
            .witnesses
            .iter()
            .map(|w| {
                let mut value = serde_json::to_value(w).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut value {
                    map.insert("schema".into(), json!(witness::SCHEMA));
                    map.insert("window".into(), json!(report.window));
                    map.insert("pid".into(), json!(report.pid));
                    map.insert("instances".into(), json!(report.instances));
                    map.insert("lost".into(), json!(report.lost));
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
                w.binary,
                w.build_id.as_deref().unwrap_or("no BuildID"),
                w.file_offset
            ));
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
    Ok(Outcome::Success)
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
    let text = String::from_utf8(raw).map_err(|e| {
        CliError::input(anyhow!(
            "{origin}: not UTF-8 text at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let format = match args.format {
        Some(SymbolizeFormat::Raw) => Format::Raw,
        Some(SymbolizeFormat::Collapsed) => Format::Collapsed,
        Some(SymbolizeFormat::PerfScript) => Format::PerfScript,
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
                collapsed::write(&profile).into_bytes()
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
