//! `stella agent`: the sampling loop on one node, wiring the sampler, the symboliser, the push's
//! counting (`stella_runtime::push`) and the spool (`stella_runtime::spool`) to an HTTP client.
//!
//! With `--watch-findings`, every interval also asks the server what to watch (`GET
//! /api/v1/watch`: vulnerable functions by image, BuildID, SHA-256 and address), finds the files
//! this node runs that are those binaries (`stella_runtime::running`: same BuildID, same bytes;
//! an impostor is never watched), and counts their calls with uprobes while it samples. A call
//! counts for every image the server named the binary in. When the server cannot say, the last
//! list it gave is kept.
//!
//! Not here: what is counted and how (`stella-runtime`), what the server does (`stella-server`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::json;
use stella_runtime::procmaps::MapsCache;
use stella_runtime::push::{self, Push};
use stella_runtime::running;
use stella_runtime::sampler::{self, Duty, RecordOptions, Selection};
use stella_runtime::spool::{self, Disposition, Spool};
use stella_runtime::witness::{self, WitnessReport};

use crate::cli::{AgentArgs, Backend};
use crate::exit::{CliError, Outcome};

/// The largest watch list read from the server.
const MAX_WATCH_LIST: u64 = 16 << 20;

/// How long one push may take, connection to answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

struct Events {
    json: bool,
}

impl Events {
    fn say(&self, event: serde_json::Value, text: String) {
        if self.json {
            let _ = writeln!(std::io::stdout(), "{event}");
        } else {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

pub fn run(args: AgentArgs, home: &Path) -> Result<Outcome, CliError> {
    let token = std::fs::read_to_string(&args.token)
        .map_err(|e| CliError::input(anyhow!("reading the token {}: {e}", args.token.display())))?
        .trim()
        .to_owned();
    if token.is_empty() {
        return Err(CliError::input(anyhow!(
            "the token file {} is empty",
            args.token.display()
        )));
    }
    let name = match args.name.clone().or_else(host_name) {
        Some(name) => name,
        None => {
            return Err(CliError::input(anyhow!(
                "no host name to use as the agent's name: pass --name"
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
    let window = args.window.as_secs();
    if !(1..=86_400).contains(&window) {
        return Err(CliError::input(anyhow!(
            "--window is 1 s to 24 h in whole seconds"
        )));
    }
    let push_url = format!("{}/api/v1/push", args.server.trim_end_matches('/'));
    let http = reqwest::blocking::Client::builder()
        .timeout(PUSH_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| CliError::environment(anyhow!("the HTTP client: {e}")))?;
    let spool_dir = args
        .spool
        .clone()
        .unwrap_or_else(|| home.join("agent").join("spool"));
    let spool = Spool::open(&spool_dir, args.spool_max).map_err(CliError::environment)?;
    let mut names = crate::runtime::symbolizer(&args.symbols, home)?;
    let selection = match (&args.pid[..], &args.cgroup) {
        ([], None) => Selection::All,
        ([], Some(cgroup)) => Selection::Cgroup(cgroup.clone()),
        (pids, _) => Selection::Pids(pids.to_vec()),
    };
    let stop = crate::runtime::stop_on_signal();
    let events = Events { json: args.json };
    let _ = writeln!(
        std::io::stderr(),
        "agent {name}: sampling at {} Hz, pushing every {:?} to {} ({} waiting in {})",
        args.hz,
        args.interval,
        args.server,
        spool.len().map_err(CliError::environment)?,
        spool_dir.display()
    );
    let mut maps = MapsCache::new();
    let mut sequence: u64 = 0;
    let watch_url = format!("{}/api/v1/watch", args.server.trim_end_matches('/'));
    let mut watch_list: Vec<WatchItem> = Vec::new();
    loop {
        let watching = if args.watch_findings {
            match fetch_watch(&http, &watch_url, &token) {
                Ok(list) => watch_list = list,
                Err(why) => events.say(
                    json!({"event": "watch-list-kept", "reason": why}),
                    format!("the server did not say what to watch ({why}); the last list is kept"),
                ),
            }
            let (targets, images) = watch_targets(&watch_list, &events);
            let options = witness::WatchOptions {
                image: None,
                pid: None,
                duration: args.interval,
                stacks_per_symbol: 1,
                stop: stop.clone(),
                attached: Default::default(),
            };
            (!targets.is_empty()).then(|| {
                let thread = std::thread::spawn(move || {
                    witness::watch_targets(&targets, &options, &mut MapsCache::new())
                });
                (thread, images)
            })
        } else {
            None
        };
        let options = RecordOptions {
            selection: selection.clone(),
            hz: args.hz,
            duration: args.interval,
            duty: args.duty.map(|(on, period)| Duty { on, period }),
            stop: stop.clone(),
            attached: Default::default(),
        };
        let recorded = match args.backend {
            Backend::Ebpf => sampler::record(&options, &mut maps),
            Backend::PerfEvent => stella_runtime::perf_backend::record(&options, &mut maps),
        };
        let mut profile = recorded.map_err(CliError::kinded)?;
        if let Some(digest) = &args.image_digest {
            for stack in &mut profile.stacks {
                stack.image = Some(digest.clone());
            }
        }
        crate::runtime::name_profile(&mut profile, names.as_mut());
        sequence += 1;
        let reports = match watching {
            None => Vec::new(),
            Some((thread, images)) => match thread.join() {
                Ok(Ok(report)) => per_image(&report, &images),
                Ok(Err(e)) => {
                    events.say(
                        json!({"event": "watch-failed", "reason": e.to_string()}),
                        format!("warning: counting calls failed this interval: {e}"),
                    );
                    Vec::new()
                }
                Err(_) => {
                    return Err(CliError::environment(anyhow!("the uprobe thread panicked")));
                }
            },
        };
        let observations = push::observations(&profile, &reports, window);
        let total: u64 = observations.iter().map(|o| o.self_samples).sum();
        let start = profile
            .window
            .as_ref()
            .and_then(|w| stella_core::time::parse_rfc3339(&w.start).ok())
            .unwrap_or(0);
        let document = Push {
            schema: push::SCHEMA.to_owned(),
            batch: format!("{name}-{start}-{sequence}-{}", std::process::id()),
            agent: name.clone(),
            window: profile.window.clone().unwrap_or_else(|| {
                stella_runtime::profile::Window::new(
                    std::time::SystemTime::now(),
                    std::time::SystemTime::now(),
                    Duration::ZERO,
                )
            }),
            window_seconds: window,
            observations,
        };
        let bytes = serde_json::to_vec(&document)
            .map_err(|e| CliError::environment(anyhow!("writing the push: {e}")))?;
        for dropped in spool.put(&bytes).map_err(CliError::environment)? {
            events.say(
                json!({"event": "dropped", "file": dropped.display().to_string()}),
                format!(
                    "warning: the spool is full ({} bytes): dropped the oldest push {}",
                    spool.max_bytes(),
                    dropped.display()
                ),
            );
        }
        tracing::info!(batch = %document.batch, samples = total, "recorded");
        deliver(&http, &push_url, &token, &spool, &events)?;
        let done = args.intervals.is_some_and(|n| sequence >= n);
        if done || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let left = spool.len().map_err(CliError::environment)?;
    if left > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "agent {name}: {left} push(es) not yet counted are kept in {}; they are sent when \
             the agent runs again",
            spool_dir.display()
        );
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

/// One function the server asks agents to watch.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatchItem {
    image: String,
    build_id: String,
    function: String,
    demangled: Option<String>,
    symbol: String,
    sha256: String,
    path: String,
    start: String,
}

#[derive(serde::Deserialize)]
struct WatchList {
    functions: Vec<WatchItem>,
}

/// The server's watch list.
fn fetch_watch(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
) -> Result<Vec<WatchItem>, String> {
    let response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            response.text().unwrap_or_default().trim()
        ));
    }
    // Bounded: a watch list is a few functions per image, never this much.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(response, MAX_WATCH_LIST + 1),
        &mut bytes,
    )
    .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_WATCH_LIST {
        return Err(format!("the watch list is over {MAX_WATCH_LIST} bytes"));
    }
    serde_json::from_slice::<WatchList>(&bytes)
        .map(|l| l.functions)
        .map_err(|e| format!("not a watch list: {e}"))
}

/// The images each watched (BuildID, function) is in.
type Images = BTreeMap<(String, String), BTreeSet<String>>;

/// A binary to watch: its path in an image and its functions, by name.
type Binary<'a> = (String, BTreeMap<String, &'a WatchItem>);

/// The uprobe targets of `list` among the files this node runs, and the images of each
/// function. A file claiming a wanted BuildID with other bytes is named and not watched.
fn watch_targets(list: &[WatchItem], events: &Events) -> (Vec<witness::Target>, Images) {
    let mut images: Images = BTreeMap::new();
    // One wanted binary per (BuildID, SHA-256): its path in some image and its functions.
    let mut binaries: BTreeMap<(String, String), Binary<'_>> = BTreeMap::new();
    for item in list {
        images
            .entry((item.build_id.clone(), item.function.clone()))
            .or_default()
            .insert(item.image.clone());
        binaries
            .entry((item.build_id.clone(), item.sha256.clone()))
            .or_insert_with(|| (item.path.clone(), BTreeMap::new()))
            .1
            .insert(item.function.clone(), item);
    }
    let keys: Vec<&(String, String)> = binaries.keys().collect();
    let wanted: Vec<running::Wanted> = binaries
        .iter()
        .map(|((build_id, sha256), (path, _))| running::Wanted {
            build_id: Some(build_id.clone()),
            sha256: sha256.clone(),
            file_name: path.rsplit('/').next().unwrap_or(path).to_owned(),
        })
        .collect();
    let found = running::find(&wanted, None);
    for i in &found.impostors {
        events.say(
            json!({"event": "impostor", "file": i.path.display().to_string(),
                   "buildId": keys[i.wanted].0}),
            format!(
                "warning: {} carries BuildID {} but not the image's bytes: not watched",
                i.path.display(),
                keys[i.wanted].0
            ),
        );
    }
    let mut targets = Vec::new();
    for r in &found.running {
        let key = keys[r.wanted];
        let (path, functions) = &binaries[key];
        let segments = match stella_binary::FileSnapshot::open(&r.path)
            .map_err(|e| e.to_string())
            .and_then(|data| stella_binary::symbols::segments_of(&data).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("{}: not watched: {e}", r.path.display());
                continue;
            }
        };
        let probes: Vec<witness::Probe> = functions
            .values()
            .filter_map(|item| {
                let start = u64::from_str_radix(item.start.strip_prefix("0x")?, 16).ok()?;
                Some(witness::Probe {
                    asked: item.symbol.clone(),
                    function: item.function.clone(),
                    demangled: item.demangled.clone(),
                    file_offset: stella_binary::symbols::vaddr_to_file_offset(&segments, start)?,
                })
            })
            .collect();
        if !probes.is_empty() {
            targets.push(witness::Target {
                binary: r.path.clone(),
                image_path: Some(path.clone()),
                build_id: Some(key.0.clone()),
                probes,
            });
        }
    }
    (targets, images)
}

/// The report of one interval's uprobes, once per image its functions are in.
fn per_image(report: &WitnessReport, images: &Images) -> Vec<WitnessReport> {
    let mut by_image: BTreeMap<&str, Vec<witness::Witness>> = BTreeMap::new();
    for w in &report.witnesses {
        let Some(build_id) = &w.build_id else {
            continue;
        };
        for image in images
            .get(&(build_id.clone(), w.function.clone()))
            .into_iter()
            .flatten()
        {
            by_image.entry(image).or_default().push(w.clone());
        }
    }
    by_image
        .into_iter()
        .map(|(image, witnesses)| WitnessReport {
            image: Some(image.to_owned()),
            witnesses,
            ..report.clone()
        })
        .collect()
}

/// Sends every waiting push, oldest first; stops at the first the server does not take now.
fn deliver(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    spool: &Spool,
    events: &Events,
) -> Result<(), CliError> {
    for waiting in spool.pending().map_err(CliError::environment)? {
        let batch = serde_json::from_slice::<serde_json::Value>(&waiting.bytes)
            .ok()
            .and_then(|v| v.get("batch").and_then(|b| b.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let samples: u64 = serde_json::from_slice::<Push>(&waiting.bytes)
            .map(|p| p.observations.iter().map(|o| o.self_samples).sum())
            .unwrap_or(0);
        let answer = http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(waiting.bytes.clone())
            .send();
        let (status, body) = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().unwrap_or_default())
            }
            Err(e) => {
                events.say(
                    json!({"event": "kept", "batch": batch, "reason": e.to_string()}),
                    format!("the server did not answer ({e}); {batch} stays in the spool"),
                );
                return Ok(());
            }
        };
        match spool::disposition(status) {
            Disposition::Delivered => {
                spool.delivered(&waiting).map_err(CliError::environment)?;
                let again = body.contains("\"alreadyCounted\":true");
                events.say(
                    json!({"event": "delivered", "batch": batch, "selfSamples": samples,
                           "alreadyCounted": again}),
                    format!(
                        "pushed {batch}: {samples} samples{}",
                        if again { " (counted before)" } else { "" }
                    ),
                );
            }
            Disposition::Retry => {
                events.say(
                    json!({"event": "kept", "batch": batch, "status": status, "reason": body}),
                    format!(
                        "the server answered {status} ({}); {batch} stays in the spool",
                        body.trim()
                    ),
                );
                return Ok(());
            }
            Disposition::Rejected => {
                let reason = format!("{status}: {}", body.trim());
                let moved = spool
                    .rejected(&waiting, &reason)
                    .map_err(CliError::environment)?;
                events.say(
                    json!({"event": "rejected", "batch": batch, "status": status, "reason": body,
                           "file": moved.display().to_string()}),
                    format!(
                        "warning: the server refused {batch} ({reason}); moved to {}",
                        moved.display()
                    ),
                );
            }
        }
    }
    Ok(())
}
