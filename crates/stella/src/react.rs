//! What `stella serve --store REF` does when a push is counted: the image's verdicts decided
//! again by the assessment flow of `stella assess` (the same functions, not a copy), with the
//! fleet's observations of the image as its runtime evidence; when a verdict changes, the VEX,
//! the evidence document, the micro-witnesses and the fleet's profile are signed, logged and
//! attached to the image in REF, and the changes go into the image's timeline.
//!
//! **The fleet's profile.** The observations of an image (every agent, every window) are one
//! profile document (`stella.runtime.profile/v1`, backend `fleet`): one stack per (BuildID,
//! function) whose count is the samples of stacks it was on (`totalSamples`), its process the
//! agents that saw it, its frame named without an address. The assessment keeps such a name
//! only when the image's verified symbol table of that BuildID holds the function (else the
//! samples are the binary's unknown ones, which never help a `not_affected`). Its bytes are
//! canonical (RFC 8785): the same observations give the same document, and the attached
//! profile is what `stella assess --replay` finds the assessment's evidence by.
//!
//! **Whose word it is.** The fleet's evidence is what agents holding ingest tokens pushed: a
//! token is trusted to report what its node ran, no more (a push names its agent, and a token
//! pushes as its own agent only). Names are checked against the image's verified evidence;
//! counts cannot be. An image the store does not hold, or whose evidence does not verify, is
//! not assessed (a failed reaction, counted in `/metrics`; the latter also in its timeline).
//!
//! **What is decided first.** Verdicts are compared with those on record before anything is
//! attached; only a change (or a first verdict) attaches, then records: a reaction that fails
//! half-way leaves the verdicts as they were, and the next push tries again. Two replicas
//! reacting to one image at once may both attach (the same statements); the verdicts and
//! the timeline record the change once.
//!
//! Not here: the routes and the reaction thread (`stella-server::fleet`), the rules
//! (`stella-policy`), counting observations (`stella-store`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use stella_oci::Reference;
use stella_policy::assess;
use stella_runtime::frame::{Frame, Location, Symbol, SymbolSource};
use stella_runtime::profile::{Profile, Stack, Stats, Target, Window};
use stella_runtime::witness::{Witness, WitnessReport};
use stella_store::Store;
use stella_store::fleet::{
    HotQuery, HotRow, ImageBinary, ImageComponent, TimelineEntry, VerdictChange, VerdictRow,
    WatchRow,
};

use crate::assess::{Asked, Attach, Deciding, RuntimeInputs, attach, decide};
use crate::exit::CliError;

/// The reactor of `stella serve --store REF`.
#[derive(Debug)]
pub struct AssessReactor {
    /// The repository the images are in.
    pub store: Reference,
    /// The database the fleet's state is in (observations, verdicts, timeline).
    pub db: String,
    pub home: PathBuf,
    pub keys: Vec<PathBuf>,
    pub trusted_root: Option<PathBuf>,
    pub sign_key: Option<PathBuf>,
    pub advisories: Vec<String>,
    pub author: String,
    pub insecure: bool,
    pub runtime_policy: stella_policy::runtime::Policy,
    /// The reaction thread's own runtime and connection, opened on first use.
    state: Mutex<Option<(tokio::runtime::Runtime, Store)>>,
}

impl AssessReactor {
    /// A reactor; nothing is opened until the first reaction.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Reference,
        db: String,
        home: PathBuf,
        keys: Vec<PathBuf>,
        trusted_root: Option<PathBuf>,
        sign_key: Option<PathBuf>,
        advisories: Vec<String>,
        author: String,
        insecure: bool,
    ) -> Self {
        AssessReactor {
            store,
            db,
            home,
            keys,
            trusted_root,
            sign_key,
            advisories,
            author,
            insecure,
            runtime_policy: stella_policy::runtime::Policy::default(),
            state: Mutex::new(None),
        }
    }

    /// Runs `work` against the store on the reaction thread's runtime.
    fn with_store<T>(
        &self,
        work: impl AsyncFnOnce(&Store) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| "a reaction panicked before".to_owned())?;
        if state.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting the reaction runtime: {e}"))?;
            let store = runtime
                .block_on(Store::open(&self.db))
                .map_err(|e| format!("opening the store: {e}"))?;
            *state = Some((runtime, store));
        }
        let Some((runtime, store)) = state.as_ref() else {
            return Err("the store is not open".to_owned());
        };
        runtime.block_on(work(store))
    }

    fn react_to(&self, image: &str) -> Result<String, String> {
        let rows = self.with_store(async |store| {
            store
                .hot_symbols(&HotQuery {
                    image: Some(image.to_owned()),
                    ..HotQuery::default()
                })
                .await
                .map_err(|e| format!("reading the observations: {e}"))
        })?;
        let profile = fleet_profile(image, &rows);
        let bytes = stella_core::jcs::to_canonical(&profile)
            .map_err(|e| format!("the fleet's profile: {e}"))?;
        let calls = fleet_calls(image, &rows);
        let call_bytes = calls
            .as_ref()
            .map(stella_core::jcs::to_canonical)
            .transpose()
            .map_err(|e| format!("the fleet's witness report: {e}"))?;
        let now = jiff::Timestamp::now();
        let decided_at = stella_core::time::rfc3339_utc(now.as_second());
        let reference = self.store.with_digest(image);
        let name = reference.to_string();
        let none = BTreeSet::new();
        let asked = Asked {
            image: &name,
            insecure: self.insecure,
            key: &self.keys,
            trusted_root: self.trusted_root.as_deref(),
            replay: false,
            advisories: &self.advisories,
            vuln: &[],
            issued: Some(now),
            quiet: true,
            // Only this profile: the fleet's earlier profiles attached to the image hold the
            // same observations (fewer of them), and would count them twice.
            attached_only: Some(&none),
            advisory_documents: None,
            tiles: None,
        };
        let runtime = RuntimeInputs::of_documents(
            "the fleet's observations",
            (profile, &bytes),
            calls.zip(call_bytes.as_deref()),
        );
        let cli = |e: CliError| format!("{:#}", e.error);
        let Some(assessed) =
            crate::assess::assess_image(&asked, Some(runtime), self.runtime_policy, &self.home)
                .map_err(cli)?
        else {
            let entry = TimelineEntry {
                image: image.to_owned(),
                at: decided_at.clone(),
                kind: "refused".to_owned(),
                summary: format!("not assessed: the evidence of {name} does not verify"),
                document: None,
            };
            self.with_store(async |store| {
                store.add_timeline(&entry).await.map_err(|e| e.to_string())
            })?;
            return Err(format!("the evidence of {name} does not verify"));
        };
        // The image and its proven binaries, as the verified evidence names them.
        let binaries: Vec<ImageBinary> = assessed
            .examined
            .proven
            .iter()
            .map(|p| ImageBinary {
                build_id: p
                    .proof
                    .build_id
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                path: p.path.clone(),
                funcproof: Some(p.digest.clone()),
            })
            .collect();
        let components = assessed
            .examined
            .sbom
            .as_ref()
            .map(|s| sbom_components(&s.document))
            .unwrap_or_default();
        self.with_store(async |store| {
            store
                .record_image(image, Some(&name), &binaries, &decided_at)
                .await
                .map_err(|e| format!("recording the image: {e}"))?;
            store
                .set_components(image, &components)
                .await
                .map_err(|e| format!("recording the image's components: {e}"))
        })?;
        let policy = crate::vex::policy(None, &Default::default()).map_err(cli)?;
        let decided = decide(
            assessed,
            &Deciding {
                priors: &[],
                policy: &policy,
                policy_digest: None,
                vuln: &[],
                author: &self.author,
                runtime_policy: self.runtime_policy,
            },
        )
        .map_err(cli)?;
        let mut verdicts = verdict_rows(image, &decided.assessment, &decided_at);
        let watch = watch_rows(image, &decided.assessment, &decided_at);
        self.with_store(async |store| {
            store
                .set_watched(image, &watch)
                .await
                .map_err(|e| format!("recording what to watch: {e}"))
        })?;
        let on_record =
            self.with_store(async |store| store.verdicts(image).await.map_err(|e| e.to_string()))?;
        verdicts.retain(|v| {
            !on_record.iter().any(|r| {
                r.vulnerability == v.vulnerability
                    && r.build_id == v.build_id
                    && r.status == v.status
                    && r.justification == v.justification
            })
        });
        if verdicts.is_empty() {
            return Ok(format!(
                "{} unchanged",
                crate::print::count(decided.assessment.verdicts.len(), "verdict", "verdicts")
            ));
        }
        // Attached before recorded: a verdict on record always has its documents in the store.
        let witness_digest = match &call_bytes {
            Some(b) => Some(
                crate::assess::attach_runtime(
                    &name,
                    self.insecure,
                    self.sign_key.as_deref(),
                    &self.home,
                    crate::assess::RuntimeKind::WitnessReport,
                    b,
                )
                .map_err(cli)?,
            ),
            None => None,
        };
        let profile_digest = crate::assess::attach_runtime(
            &name,
            self.insecure,
            self.sign_key.as_deref(),
            &self.home,
            crate::assess::RuntimeKind::Profile,
            &bytes,
        )
        .map_err(cli)?;
        let attached = attach(
            &Attach {
                image: &name,
                reference: &reference,
                insecure: self.insecure,
                sign_key: self.sign_key.as_deref(),
            },
            &self.home,
            &decided.document,
            &decided.evidence_bytes,
            (&decided.micro, &decided.assessment.sbom),
        )
        .map_err(cli)?;
        let Some(vex_digest) = attached.vex.clone() else {
            return Err("the assessment has no statement to attach".to_owned());
        };
        for v in &mut verdicts {
            v.evidence_sha256 = vex_digest.hex().to_owned();
        }
        let document = serde_json::json!({
            "vex": attached.vex.as_ref().map(ToString::to_string),
            "evidence": attached.evidence.as_ref().map(ToString::to_string),
            "microWitnesses": attached.micro_witnesses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "profile": profile_digest.to_string(),
            "witnessReport": witness_digest.as_ref().map(ToString::to_string),
        });
        let entry = TimelineEntry {
            image: image.to_owned(),
            at: decided_at.clone(),
            kind: "attached".to_owned(),
            summary: format!(
                "signed and attached: VEX {vex_digest} ({}), {}, the fleet's profile {profile_digest}",
                crate::print::count(decided.document.statements.len(), "statement", "statements"),
                crate::print::count(
                    attached.micro_witnesses.len(),
                    "micro-witness",
                    "micro-witnesses"
                ),
            ),
            document: Some(document.to_string()),
        };
        let changes = self.with_store(async |store| {
            let mut flips = Vec::new();
            for v in &verdicts {
                match store.record_verdict(v).await.map_err(|e| e.to_string())? {
                    VerdictChange::Changed(before) => flips.push(format!(
                        "{} in {}: {} → {}",
                        v.vulnerability, v.build_id, before.status, v.status
                    )),
                    VerdictChange::First => flips.push(format!(
                        "{} in {}: {}",
                        v.vulnerability, v.build_id, v.status
                    )),
                    VerdictChange::Unchanged => {}
                }
            }
            store
                .add_timeline(&entry)
                .await
                .map_err(|e| e.to_string())?;
            Ok(flips)
        })?;
        Ok(format!(
            "VEX {vex_digest} attached to {name}; {}",
            if changes.is_empty() {
                "recorded by another replica first".to_owned()
            } else {
                changes.join("; ")
            }
        ))
    }
}

impl stella_server::Reactor for AssessReactor {
    fn react(&self, image: &str) -> Result<String, String> {
        self.react_to(image)
    }

    fn report(
        &self,
        image: &str,
        timeline: &[TimelineEntry],
    ) -> Result<Result<String, String>, String> {
        let name = self.store.with_digest(image).to_string();
        let timeline = timeline
            .iter()
            .map(|e| crate::report::TimelineView {
                at: e.at.clone(),
                kind: e.kind.clone(),
                summary: e.summary.clone(),
            })
            .collect();
        crate::report::live(
            &name,
            self.insecure,
            &self.keys,
            self.trusted_root.as_deref(),
            timeline,
            &self.home,
        )
        .map_err(|e| format!("{:#}", e.error))
    }
}

/// The verdicts of `assessment` as the store keeps them: one per (vulnerability, BuildID) —
/// a binary with several components under one vulnerability has the most severe of their
/// statuses (affected, under_investigation, fixed, not_affected, in that order), so that one
/// reaction records one status and the next finds it unchanged. The evidence digest is filled
/// in once the VEX is attached.
pub fn verdict_rows(
    image: &str,
    assessment: &assess::Assessment,
    decided: &str,
) -> Vec<VerdictRow> {
    let rank = |s: &str| match s {
        "affected" => 3,
        "under_investigation" => 2,
        "fixed" => 1,
        _ => 0,
    };
    let mut rows: BTreeMap<(String, String), VerdictRow> = BTreeMap::new();
    for v in &assessment.verdicts {
        let row = VerdictRow {
            image: image.to_owned(),
            vulnerability: v.vulnerability.clone(),
            build_id: v
                .binary
                .as_ref()
                .and_then(|b| b.build_id.clone())
                .unwrap_or_else(|| "-".to_owned()),
            status: v.status.label().to_owned(),
            justification: v.justification.map(|j| j.label().to_owned()),
            evidence_sha256: String::new(),
            decided: decided.to_owned(),
        };
        let key = (row.vulnerability.clone(), row.build_id.clone());
        match rows.get(&key) {
            Some(kept) if rank(&kept.status) >= rank(&row.status) => {}
            _ => {
                rows.insert(key, row);
            }
        }
    }
    rows.into_values().collect()
}

/// The components a CycloneDX SBOM names (nested ones included), by `bom-ref`; one without a
/// `bom-ref` is keyed by its purl, else by name and version.
pub fn sbom_components(sbom: &serde_json::Value) -> Vec<ImageComponent> {
    let mut out: BTreeMap<String, ImageComponent> = BTreeMap::new();
    let mut pending: Vec<&serde_json::Value> = sbom
        .get("components")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    while let Some(c) = pending.pop() {
        if let Some(children) = c.get("components").and_then(serde_json::Value::as_array) {
            pending.extend(children);
        }
        let text = |k: &str| {
            c.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let Some(name) = text("name") else {
            continue;
        };
        let (version, purl) = (text("version"), text("purl"));
        let key = text("bom-ref")
            .or_else(|| purl.clone())
            .unwrap_or_else(|| format!("{name}@{}", version.as_deref().unwrap_or("")));
        out.entry(key.clone()).or_insert(ImageComponent {
            bom_ref: key,
            name,
            version,
            purl,
        });
    }
    out.into_values().collect()
}

/// What agents with `--watch-findings` are to watch in `image`: every vulnerable function found
/// present in a binary (by BuildID and SHA-256) whose verdict execution can still change — one
/// `under_investigation`, or `not_affected` on a witnessed zero (to renew it before it
/// expires) — as `stella witness --image --findings` picks them.
pub fn watch_rows(image: &str, assessment: &assess::Assessment, decided: &str) -> Vec<WatchRow> {
    let mut rows: BTreeMap<(String, String), WatchRow> = BTreeMap::new();
    for v in &assessment.verdicts {
        let renewable = v.status == assess::Status::UnderInvestigation
            || (v.status == assess::Status::NotAffected
                && v.runtime
                    .as_ref()
                    .is_some_and(|r| matches!(r.outcome, "never_executed" | "expired")));
        let Some(binary) = v.binary.as_ref().filter(|_| renewable) else {
            continue;
        };
        let (Some(build_id), Some(sha256)) = (&binary.build_id, &binary.sha256) else {
            continue;
        };
        for finding in v.symbols.iter().filter(|f| f.outcome != "absent") {
            for f in &finding.found {
                let Some(start) = f
                    .start
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                else {
                    continue;
                };
                let row = rows
                    .entry((build_id.clone(), f.sym.clone()))
                    .or_insert_with(|| WatchRow {
                        image: image.to_owned(),
                        build_id: build_id.clone(),
                        function: f.sym.clone(),
                        sha256: sha256.clone(),
                        path: binary.path.clone(),
                        demangled: f.demangled.clone().filter(|d| *d != f.sym),
                        symbol: finding.name.clone(),
                        start_vaddr: start,
                        vulnerabilities: String::new(),
                        decided: decided.to_owned(),
                    });
                let mut ids: BTreeSet<&str> = row
                    .vulnerabilities
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .collect();
                ids.insert(&v.vulnerability);
                row.vulnerabilities = ids.into_iter().collect::<Vec<_>>().join(",");
            }
        }
    }
    rows.into_values().collect()
}

/// The calls the fleet's agents counted with uprobes in `image` (`--watch-findings`), as one
/// witness report: a witness per (BuildID, function) that was called, its processes the agents.
/// `None` when nothing was called. A zero is never reported: summed over agents and windows,
/// it cannot say which instances it covers, so it could not justify a `not_affected`.
pub fn fleet_calls(image: &str, rows: &[HotRow]) -> Option<WitnessReport> {
    let called: Vec<&HotRow> = rows.iter().filter(|r| r.calls > 0).collect();
    let start = called.iter().map(|r| r.first_seen.as_str()).min()?;
    let end = called.iter().map(|r| r.last_seen.as_str()).max()?;
    Some(WitnessReport {
        schema: stella_runtime::witness::SCHEMA.to_owned(),
        image: Some(image.to_owned()),
        window: Window {
            start: start.to_owned(),
            end: end.to_owned(),
            sampled_seconds: seconds_between(start, end),
        },
        pid: None,
        instances: Vec::new(),
        lost: 0,
        witnesses: called
            .iter()
            .map(|r| Witness {
                symbol: r.function.clone(),
                function: r.function.clone(),
                demangled: None,
                binary: format!("buildid:{}", r.build_id),
                build_id: Some(r.build_id.clone()),
                file_offset: 0,
                image_path: None,
                instances: None,
                calls: u64::try_from(r.calls).unwrap_or(0),
                processes: Vec::new(),
                stacks: Vec::new(),
            })
            .collect(),
    })
}

/// The fleet's observations of `image` as one profile (see the module's doc).
pub fn fleet_profile(image: &str, rows: &[HotRow]) -> Profile {
    let mut stacks = Vec::new();
    let mut start: Option<&str> = None;
    let mut end: Option<&str> = None;
    for row in rows.iter().filter(|r| r.total_samples > 0) {
        let symbol = (row.function != stella_runtime::push::UNKNOWN_FUNCTION).then(|| Symbol {
            function: row.function.clone(),
            demangled: None,
            offset: 0,
            source: SymbolSource::Imported,
            inlined: Vec::new(),
            file: None,
            line: None,
        });
        stacks.push(Stack {
            pid: None,
            comm: Some(row.agents.join(",")),
            container: None,
            image: Some(image.to_owned()),
            count: u64::try_from(row.total_samples).unwrap_or(0),
            frames: vec![Frame {
                location: Location::Named {
                    build_id: Some(row.build_id.clone()),
                    path: None,
                },
                symbol,
            }],
        });
        start = Some(start.map_or(row.first_seen.as_str(), |s| s.min(&row.first_seen)));
        end = Some(end.map_or(row.last_seen.as_str(), |e| e.max(&row.last_seen)));
    }
    let samples = stacks.iter().map(|s| s.count).sum();
    let window = match (start, end) {
        (Some(start), Some(end)) => Some(Window {
            start: start.to_owned(),
            end: end.to_owned(),
            sampled_seconds: seconds_between(start, end),
        }),
        _ => None,
    };
    let mut profile = Profile {
        schema: stella_runtime::profile::SCHEMA.to_owned(),
        backend: "fleet".to_owned(),
        hz: None,
        target: Target::Imported {
            origin: format!("stella serve: the fleet's observations of {image}"),
        },
        window,
        stats: Stats {
            samples,
            ..Stats::default()
        },
        stacks,
    };
    profile.normalize();
    profile
}

fn seconds_between(start: &str, end: &str) -> f64 {
    match (
        start.parse::<jiff::Timestamp>(),
        end.parse::<jiff::Timestamp>(),
    ) {
        (Ok(s), Ok(e)) => (e.as_second() - s.as_second()).max(0) as f64,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(function: &str, total: i64, agents: &[&str], first: &str, last: &str) -> HotRow {
        HotRow {
            image: "sha256:aa".to_owned(),
            build_id: "ab12".to_owned(),
            function: function.to_owned(),
            self_samples: 0,
            total_samples: total,
            calls: 0,
            agents: agents.iter().map(|a| (*a).to_owned()).collect(),
            first_seen: first.to_owned(),
            last_seen: last.to_owned(),
        }
    }

    #[test]
    fn the_fleets_profile_is_one_stack_per_function_and_canonical() {
        let rows = [
            row(
                "parse",
                7,
                &["node-a", "node-b"],
                "2026-12-01T00:01:00Z",
                "2026-12-01T00:02:00Z",
            ),
            row(
                stella_runtime::push::UNKNOWN_FUNCTION,
                3,
                &["node-a"],
                "2026-12-01T00:00:00Z",
                "2026-12-01T00:01:00Z",
            ),
            row(
                "cold",
                0,
                &["node-b"],
                "2026-11-01T00:00:00Z",
                "2026-12-02T00:00:00Z",
            ),
        ];
        let profile = fleet_profile("sha256:aa", &rows);
        assert_eq!(
            profile.stacks.len(),
            2,
            "a function never sampled is no stack"
        );
        assert_eq!(profile.stats.samples, 10);
        assert_eq!(profile.stats.unknown_frames, 1);
        assert_eq!(profile.stacks[0].count, 7);
        assert_eq!(profile.stacks[0].comm.as_deref(), Some("node-a,node-b"));
        let window = profile.window.as_ref().expect("a window");
        assert_eq!(
            (window.start.as_str(), window.end.as_str()),
            ("2026-12-01T00:00:00Z", "2026-12-01T00:02:00Z")
        );
        assert!((window.sampled_seconds - 120.0).abs() < f64::EPSILON);
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(
            stella_core::jcs::to_canonical(&fleet_profile("sha256:aa", &reversed)).expect("jcs"),
            stella_core::jcs::to_canonical(&profile).expect("jcs")
        );
        // It reads back as a profile.
        let bytes = serde_json::to_vec(&profile).expect("json");
        let again: Profile = serde_json::from_slice(&bytes).expect("a profile");
        assert_eq!(again, profile);
    }
}
