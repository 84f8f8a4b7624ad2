//! The verdict rules: for every advisory that matches a component of a binary, one
//! [`Verdict`] for that binary, citing what decided it.
//!
//! # Matching
//! A component matches an advisory entry when its purl names the entry's package
//! ([`crate::components::package_of`]): the same ecosystem (an entry for `Debian` covers
//! `Debian:12`), the same name; for Stella's overlay (ecosystem `GIT`) the entry's purl, or a
//! distribution source package its `ecosystem_specific.packages` lists. A shared library whose
//! `DT_SONAME` an overlay entry's `libraries` lists, and that no component ties to that entry, is
//! that upstream library by its soname (version unknown). Advisories that share an id or alias
//! are one vulnerability: their version answers and symbols are taken together.
//!
//! # Rules, in order (DESIGN.md, "Evidence semantics")
//! 1. **Version.** Every matching entry is asked whether the component's version is affected.
//!    Any "affected" decides affected; "unknown" (git-only ranges, a version the ecosystem
//!    cannot read, an overlay entry matched through a distribution package, whose upstream
//!    ranges know nothing of backports — unless the binary's own version banner names an
//!    upstream release outside them: its code is at least that new) goes on to the symbols; all "not affected" and the
//!    advisory does not apply — it is listed only when asked about (`asked`), as `not_affected`
//!    with the version cited.
//! 2. **No symbol data** (the advisory names no vulnerable function): a version-level verdict,
//!    `under_investigation`, labelled [`Basis::Version`]. Stella says `affected` only with
//!    execution evidence, which static analysis is not.
//! 3. **Symbols.** Each vulnerable symbol is searched among the functions the binary's verified
//!    FuncProof proves, by the rules of `stella_advisory::symbols` (C names for every ecosystem but
//!    crates.io → Rust and Go → Go):
//!    - one present by a certain rule → `under_investigation`, citing each function found (name,
//!      byte range, BLAKE3) and the FuncProof (digest, log entries), with the rule it rests on;
//!    - none present, one matched only by an uncertain rule → `under_investigation`: neither
//!      presence nor absence is proven;
//!    - none matched → `not_affected` / `vulnerable_code_not_present` **only if** the FuncProof
//!      names the binary's functions fully (a static symbol table, DWARF or the Go function
//!      table): a proof that names only exported symbols (a stripped library) or none cannot
//!      show that a function is absent, and the verdict stays `under_investigation`, saying why.
//! 4. **No verified FuncProof** for the binary: version-level only, never `not_affected`.
//! 5. **Asked, and nothing matched**: a vulnerability named in `asked` whose advisory is known
//!    but matches no component of any binary is `not_affected` / `component_not_present` for the
//!    image, citing the SBOM's canonical id; one no advisory knows stays
//!    `under_investigation`.
//!
//! What this module does not own: where the advisories, the SBOM or the FuncProofs come from and
//! whether they verified (the caller passes only verified ones), writing VEX
//! ([`crate::report`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;
use stella_advisory::osv::{self, Answer};
use stella_advisory::rustsec;
use stella_advisory::symbols::{self, Candidate, Language, Search};
use stella_binary::functions::Source;
use stella_binary::proof::FuncProof;

use crate::components::{self, Binary, Component, PackageKey};

/// An advisory as read from its source.
#[derive(Debug, Clone)]
pub struct Advisory {
    /// Its id.
    pub id: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// Where it came from (`osv`, `rustsec`, `overlay`).
    pub source: String,
    /// One line.
    pub summary: Option<String>,
    /// The document.
    pub body: Body,
}

/// An advisory's document, read.
#[derive(Debug, Clone)]
pub enum Body {
    /// An OSV record (Go vulndb, the overlay, distributions, …).
    Osv(osv::Record),
    /// A RustSec advisory (with its per-function version requirements).
    RustSec(rustsec::Advisory),
}

/// A log entry that backs a FuncProof.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LogRef {
    /// The log's checkpoint origin.
    pub origin: String,
    /// The entry's index.
    pub index: u64,
}

/// A FuncProof that verified.
#[derive(Debug, Clone, Copy)]
pub struct Proven<'a> {
    /// The proof.
    pub proof: &'a FuncProof,
    /// The log entries of its signature.
    pub log: &'a [LogRef],
}

/// What an assessment is given.
pub struct Input<'a> {
    /// The image (`pkg:oci/…@sha256:…`) or subject the SBOM describes.
    pub subject: String,
    /// The SBOM's canonical id.
    pub sbom_id: String,
    /// The SBOM.
    pub sbom: &'a Value,
    /// Verified FuncProofs by their digest (`sha256:<hex>`, as the SBOM names them).
    pub proofs: &'a BTreeMap<String, Proven<'a>>,
    /// The advisories to match.
    pub advisories: &'a [Advisory],
    /// Vulnerabilities asked about, answered even when nothing matches.
    pub asked: &'a [String],
    /// Runtime evidence (witness reports, profiles), when given.
    pub runtime: Option<&'a crate::runtime::Evidence>,
    /// How runtime evidence is weighed.
    pub runtime_policy: crate::runtime::Policy,
    /// When the verdicts are made: a zero count whose validity ended before it no longer
    /// justifies `not_affected`.
    pub now: Option<jiff::Timestamp>,
}

/// A verdict's status (OpenVEX labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not affected (with a justification).
    NotAffected,
    /// Not known yet.
    UnderInvestigation,
    /// Affected.
    Affected,
}

impl Status {
    /// The OpenVEX label.
    pub fn label(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::UnderInvestigation => "under_investigation",
            Status::Affected => "affected",
        }
    }
}

/// Why not affected (OpenVEX labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Justification {
    /// The component is in no binary of the image.
    ComponentNotPresent,
    /// The component is there, its vulnerable code is not.
    VulnerableCodeNotPresent,
    /// The vulnerable code is there and was witnessed never to run.
    VulnerableCodeNotInExecutePath,
}

impl Justification {
    /// The OpenVEX label.
    pub fn label(self) -> &'static str {
        match self {
            Justification::ComponentNotPresent => "component_not_present",
            Justification::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Justification::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
        }
    }
}

/// What the verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The component's version only (the advisory names no symbol, or no FuncProof verified).
    Version,
    /// The vulnerable symbols searched in the binary's FuncProof.
    Symbols,
    /// The SBOM: no binary holds the component.
    Sbom,
}

/// What the version said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionAnswer {
    /// In an affected range or listed.
    Affected,
    /// Nothing could be said (see the reasons).
    Unknown,
    /// Outside every range.
    NotAffected,
}

/// The version finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionFinding {
    /// The component's version.
    pub version: Option<String>,
    /// The answer.
    pub answer: VersionAnswer,
    /// Why (which advisory and range, or why unknown), one line each.
    pub reasons: Vec<String>,
    /// Versions that fix it, as the advisories give them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
}

/// How thoroughly a FuncProof names its binary's functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// Static symbol table, DWARF or the Go function table: every function by name.
    Full,
    /// Only the dynamic symbol table: exported functions only.
    ExportedOnly,
    /// No names at all.
    None,
}

/// A function found for a vulnerable symbol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionFound {
    /// The symbol as the binary holds it.
    pub sym: String,
    /// Demangled, when it is mangled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// Start (`0x` hex).
    pub start: String,
    /// End (`0x` hex, exclusive).
    pub end: String,
    /// BLAKE3 of its bytes.
    pub blake3: String,
    /// The rule the match rests on.
    pub rule: &'static str,
    /// Whether that rule proves presence.
    pub certain: bool,
}

/// One vulnerable symbol, searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolFinding {
    /// The package path it lives in (Go), or empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The name as the advisory writes it.
    pub name: String,
    /// `present`, `uncertain` or `absent`.
    pub outcome: &'static str,
    /// The functions that matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<FunctionFound>,
}

/// The binary a verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryRef {
    /// Its path in the image.
    pub path: String,
    /// SHA-256 of the file (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its BuildID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// The FuncProof's digest, when one verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funcproof: Option<String>,
    /// The FuncProof's log entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogRef>,
    /// How its FuncProof names functions.
    pub naming: Naming,
    /// How many functions the FuncProof proves.
    pub functions: usize,
}

/// One verdict: a vulnerability in one binary through one component (or, for
/// [`Basis::Sbom`], in the whole image).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// The vulnerability's main id (a CVE when any advisory names one).
    pub vulnerability: String,
    /// Its other ids.
    pub aliases: Vec<String>,
    /// The advisories that matched (`id` (source)).
    pub advisories: Vec<String>,
    /// One line about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryRef>,
    /// The component, and how it is tied to the binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    /// The status.
    pub status: Status,
    /// Why not affected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<Justification>,
    /// What it rests on.
    pub basis: Basis,
    /// What the version said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionFinding>,
    /// Each vulnerable symbol searched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<SymbolFinding>,
    /// Entry → sink traces of the FuncProof that end in a function found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<TraceRef>,
    /// What runtime evidence said about the functions found, when any was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeFinding>,
    /// The verdict in one sentence, with its evidence.
    pub note: String,
}

/// What runtime evidence said about a verdict's functions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeFinding {
    /// `executed`, `never_executed` (witnessed zero, still valid), `expired` (a zero past its
    /// validity), `not_seen` (sampled, not seen: proves nothing), `unknown_state` (sampled, but
    /// in frames that could not be named), `sampled_only` (seen in sampled stacks, never
    /// witnessed, and the policy wants a witness), `no_evidence`.
    pub outcome: &'static str,
    /// Per function found (by name): what ran.
    pub functions: Vec<FunctionRun>,
    /// Samples of the binary in frames no source could name (`unknown_state`).
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_samples: u64,
    /// Until when a zero count justifies `not_affected` (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// The canonical id of the signed micro-witness that carries this evidence, once made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub micro_witness: Option<String>,
}

/// What ran of one function.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionRun {
    /// The function, as the binary names it.
    pub function: String,
    /// What ran.
    #[serde(flatten)]
    pub execution: crate::runtime::Execution,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A trace of the FuncProof that reaches a vulnerable function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TraceRef {
    /// Functions from entry to sink.
    pub path: Vec<String>,
    /// The trace's hash in the FuncProof.
    pub hash: String,
}

/// Everything an assessment found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The image or subject.
    pub subject: String,
    /// The SBOM's canonical id.
    pub sbom: String,
    /// Binaries in the SBOM.
    pub binaries: usize,
    /// Binaries with a verified FuncProof.
    pub proven: usize,
    /// Components of binaries (counted once per binary).
    pub components: usize,
    /// Advisories given.
    pub advisories: usize,
    /// The verdicts, sorted by vulnerability, binary, component.
    pub verdicts: Vec<Verdict>,
    /// The hot-symbol index: every vulnerable function that ran, hottest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hot: Vec<HotSymbol>,
    /// Every input of the assessment by digest, with the policy and the time it was made:
    /// what `stella replay` makes it again from (set with [`Assessment::with_replay`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<serde_json::Value>,
    /// `sha256:<hex>` of the RFC 8785 form of `replay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_token: Option<String>,
}

/// One vulnerable function that ran, in one binary: the hot-symbol index's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HotSymbol {
    /// The function, as the binary names it.
    pub function: String,
    /// Demangled, when it is mangled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// The binary's path in the image.
    pub binary: String,
    /// The binary's BuildID.
    pub build_id: String,
    /// The vulnerabilities whose advisories name it.
    pub vulnerabilities: Vec<String>,
    /// Samples whose stack holds it.
    pub samples: u64,
    /// Its share of the samples of the profiles that saw the binary, in percent (two decimals).
    pub cpu_share: f64,
    /// Calls witnessed.
    pub calls: u64,
    /// Whether its share reaches the policy's threshold for hot.
    pub hot: bool,
    /// Processes that ran it.
    pub processes: Vec<String>,
    /// Containers those processes ran in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// Start of the earliest window that saw it run (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// End of the latest window that saw it run (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// The heaviest stacks through it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<crate::runtime::TopStack>,
}

/// The hot-symbol index of `verdicts`: one row per (binary, function) that ran, hottest first
/// (samples, then calls), then by binary and function.
pub fn hot_index(verdicts: &[Verdict], policy: &crate::runtime::Policy) -> Vec<HotSymbol> {
    let mut rows: BTreeMap<(String, String), HotSymbol> = BTreeMap::new();
    for v in verdicts {
        let (Some(binary), Some(runtime)) = (&v.binary, &v.runtime) else {
            continue;
        };
        let Some(build_id) = &binary.build_id else {
            continue;
        };
        for run in runtime.functions.iter().filter(|r| r.execution.executed()) {
            let e = &run.execution;
            let demangled = v
                .symbols
                .iter()
                .flat_map(|s| &s.found)
                .find(|f| f.sym == run.function)
                .and_then(|f| f.demangled.clone());
            let row = rows
                .entry((binary.path.clone(), run.function.clone()))
                .or_insert_with(|| {
                    let share = (e.cpu_share() * 100.0).round() / 100.0;
                    HotSymbol {
                        function: run.function.clone(),
                        demangled,
                        binary: binary.path.clone(),
                        build_id: build_id.clone(),
                        vulnerabilities: Vec::new(),
                        samples: e.samples,
                        cpu_share: share,
                        calls: e.calls,
                        hot: e.samples > 0 && share >= policy.hot_share,
                        processes: e.processes.iter().cloned().collect(),
                        containers: e.containers.iter().cloned().collect(),
                        first_seen: e
                            .windows
                            .iter()
                            .map(|w| &w.start)
                            .min_by_key(|t| t.parse::<jiff::Timestamp>().ok())
                            .cloned(),
                        last_seen: e
                            .windows
                            .iter()
                            .map(|w| &w.end)
                            .max_by_key(|t| t.parse::<jiff::Timestamp>().ok())
                            .cloned(),
                        stacks: e.stacks.clone(),
                    }
                });
            if !row.vulnerabilities.contains(&v.vulnerability) {
                row.vulnerabilities.push(v.vulnerability.clone());
                row.vulnerabilities.sort();
            }
        }
    }
    let mut out: Vec<HotSymbol> = rows.into_values().collect();
    out.sort_by(|a, b| {
        b.samples
            .cmp(&a.samples)
            .then(b.calls.cmp(&a.calls))
            .then_with(|| a.binary.cmp(&b.binary))
            .then_with(|| a.function.cmp(&b.function))
    });
    out
}

/// The evidence document's schema name.
pub const SCHEMA: &str = "stella.assessment/v1";

impl Assessment {
    /// Records `replay`, the inputs the assessment was made from, and its token (the SHA-256
    /// of its RFC 8785 form).
    ///
    /// # Errors
    /// When `replay` holds a number RFC 8785 cannot write.
    pub fn with_replay(
        mut self,
        replay: serde_json::Value,
    ) -> Result<Self, stella_core::jcs::JcsError> {
        let canonical = stella_core::jcs::to_canonical(&replay)?;
        self.replay_token = Some(stella_core::Digest::sha256(&canonical).to_string());
        self.replay = Some(replay);
        Ok(self)
    }

    /// How many verdicts have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.verdicts.iter().filter(|v| v.status == status).count()
    }
}

/// An advisory entry, located: (advisory index, entry index; `usize::MAX` for RustSec).
type EntryRef = (usize, usize);

/// An entry that speaks about a component, and whether its version ranges apply to it.
type Matched = (EntryRef, bool);

/// Where to find advisory entries by package.
struct Index {
    /// `(ecosystem base, name)` → entries (the base is the part before `:`).
    by_package: HashMap<(String, String), Vec<EntryRef>>,
    /// Upstream purl (`pkg:generic/zlib`) → overlay entries.
    by_purl: HashMap<String, Vec<EntryRef>>,
    /// `(distribution, source package)` → overlay entries that list it.
    by_distro_package: HashMap<(String, String), Vec<EntryRef>>,
    /// Soname → overlay entries whose `libraries` list it.
    by_library: HashMap<String, Vec<EntryRef>>,
}

const RUSTSEC_ENTRY: usize = usize::MAX;

fn base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

impl Index {
    fn new(advisories: &[Advisory]) -> Self {
        let mut by_package: HashMap<(String, String), Vec<EntryRef>> = HashMap::new();
        let mut by_purl: HashMap<String, Vec<EntryRef>> = HashMap::new();
        let mut by_distro_package: HashMap<(String, String), Vec<EntryRef>> = HashMap::new();
        let mut by_library: HashMap<String, Vec<EntryRef>> = HashMap::new();
        for (a, advisory) in advisories.iter().enumerate() {
            match &advisory.body {
                Body::RustSec(r) => by_package
                    .entry(("crates.io".to_owned(), r.package.clone()))
                    .or_default()
                    .push((a, RUSTSEC_ENTRY)),
                Body::Osv(record) => {
                    for (e, entry) in record.affected.iter().enumerate() {
                        let Some(p) = &entry.package else { continue };
                        by_package
                            .entry((base(&p.ecosystem).to_owned(), p.name.clone()))
                            .or_default()
                            .push((a, e));
                        if let Some(purl) = &p.purl {
                            let unversioned = purl.split(['@', '?', '#']).next().unwrap_or(purl);
                            by_purl
                                .entry(unversioned.to_owned())
                                .or_default()
                                .push((a, e));
                        }
                        for (distro, name) in overlay_packages(entry) {
                            by_distro_package
                                .entry((distro, name))
                                .or_default()
                                .push((a, e));
                        }
                        for soname in overlay_libraries(entry) {
                            by_library.entry(soname).or_default().push((a, e));
                        }
                    }
                }
            }
        }
        Index {
            by_package,
            by_purl,
            by_distro_package,
            by_library,
        }
    }

    /// The entries that speak about `key`, each with whether its version ranges apply (an
    /// overlay entry reached through a distribution package gives symbols only).
    fn entries(&self, key: &PackageKey, advisories: &[Advisory]) -> Vec<Matched> {
        let mut out: Vec<Matched> = Vec::new();
        if key.ecosystem == "GIT" {
            for &r in self.by_purl.get(&key.name).into_iter().flatten() {
                out.push((r, true));
            }
        } else {
            let b = base(&key.ecosystem);
            for &r in self
                .by_package
                .get(&(b.to_owned(), key.name.clone()))
                .into_iter()
                .flatten()
            {
                // `Debian` covers every release; `Debian:11` only its own.
                let applies = match &advisories[r.0].body {
                    Body::RustSec(_) => true,
                    Body::Osv(record) => record.affected[r.1]
                        .package
                        .as_ref()
                        .is_some_and(|p| p.ecosystem == b || p.ecosystem == key.ecosystem),
                };
                if applies {
                    out.push((r, true));
                }
            }
            for &r in self
                .by_distro_package
                .get(&(b.to_owned(), key.name.clone()))
                .into_iter()
                .flatten()
            {
                out.push((r, false));
            }
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }
}

/// An overlay entry's `ecosystem_specific.packages`: `(distribution, source package)`.
fn overlay_packages(entry: &osv::Affected) -> Vec<(String, String)> {
    entry
        .ecosystem_specific
        .as_ref()
        .and_then(|s| s.get("packages"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let e = p.get("ecosystem")?.as_str()?;
            let n = p.get("name")?.as_str()?;
            Some((base(e).to_owned(), n.to_owned()))
        })
        .collect()
}

/// An overlay entry's `ecosystem_specific.libraries`: the sonames that carry the library.
fn overlay_libraries(entry: &osv::Affected) -> Vec<String> {
    entry
        .ecosystem_specific
        .as_ref()
        .and_then(|s| s.get("libraries"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect()
}

/// The functions of one proof, as symbol searches see them.
struct Names<'p> {
    proof: &'p FuncProof,
    /// Every name and alias of every named function.
    candidates: Vec<Candidate<'p>>,
    /// For each candidate, the index of its function.
    functions: Vec<usize>,
    naming: Naming,
}

impl<'p> Names<'p> {
    fn new(proof: &'p FuncProof, demangled: &'p [Option<String>]) -> Self {
        let mut candidates = Vec::new();
        let mut functions = Vec::new();
        let mut full = false;
        let mut exported = false;
        for (i, f) in proof.functions.iter().enumerate() {
            match f.source {
                Source::Symtab | Source::Dwarf | Source::Gopclntab => full = true,
                Source::Dynsym => exported = true,
                Source::EhFrame | Source::Disasm => continue,
            }
            for name in std::iter::once(&f.sym).chain(&f.aliases) {
                candidates.push(Candidate {
                    name,
                    demangled: demangled[i].as_deref(),
                });
                functions.push(i);
            }
        }
        let naming = if full {
            Naming::Full
        } else if exported {
            Naming::ExportedOnly
        } else {
            Naming::None
        };
        Names {
            proof,
            candidates,
            functions,
            naming,
        }
    }
}

/// Every function's demangled name (the proof's, else demangled now).
fn demangled_names(proof: &FuncProof) -> Vec<Option<String>> {
    proof
        .functions
        .iter()
        .map(|f| {
            f.demangled
                .clone()
                .or_else(|| stella_binary::functions::demangle(&f.sym))
        })
        .collect()
}

/// The function of `proof` that the advisory symbol `path`/`name` names, by the naming rules
/// of the component `purl`'s ecosystem (all three languages' when the purl says none): an
/// auditor's recheck of a verdict that cites the symbol's absence. `None` when no rule matches
/// a named function — the absence holds.
pub fn recheck_absence(
    proof: &FuncProof,
    purl: Option<&str>,
    path: &str,
    name: &str,
) -> Option<String> {
    let demangled = demangled_names(proof);
    let names = Names::new(proof, &demangled);
    let symbol = osv::Symbol {
        path: path.to_owned(),
        name: name.to_owned(),
    };
    let languages = match purl.and_then(crate::components::package_of) {
        Some(key) => vec![language_of(&key.ecosystem)],
        None => vec![Language::Rust, Language::Go, Language::C],
    };
    for language in languages {
        match symbols::search(&symbol, language, &names.candidates) {
            Search::Present(hits) | Search::Uncertain(hits) => {
                let i = names.functions[hits[0].index];
                return Some(names.proof.functions[i].sym.clone());
            }
            Search::Absent => {}
        }
    }
    None
}

/// The language whose naming rules apply to an ecosystem's symbols.
fn language_of(ecosystem: &str) -> Language {
    match base(ecosystem) {
        "crates.io" => Language::Rust,
        "Go" => Language::Go,
        _ => Language::C,
    }
}

/// Runs the rules of the module documentation.
pub fn assess(input: &Input<'_>) -> Assessment {
    let index = Index::new(input.advisories);
    let binaries = components::binaries(input.sbom);
    let mut verdicts = Vec::new();
    let mut matched_ids: BTreeSet<String> = BTreeSet::new();
    let mut components_count = 0;
    let mut proven = 0;
    for binary in &binaries {
        components_count += binary.components.len();
        let proof = input.proofs.get(&binary.funcproof).copied();
        proven += usize::from(proof.is_some());
        // The library releases the binary's own banners name (`pkg:generic/zlib` → `1.2.13`).
        let banners: BTreeMap<String, String> = binary
            .components
            .iter()
            .filter_map(|c| components::package_of(&c.purl))
            .filter(|k| k.ecosystem == "GIT")
            .filter_map(|k| Some((k.name, k.version?)))
            .collect();
        let mut covered: BTreeSet<EntryRef> = BTreeSet::new();
        let mut tied: Vec<(Component, PackageKey, Vec<Matched>)> = Vec::new();
        for component in &binary.components {
            let Some(key) = components::package_of(&component.purl) else {
                continue;
            };
            let entries = index.entries(&key, input.advisories);
            covered.extend(entries.iter().map(|(r, _)| *r));
            if !entries.is_empty() {
                tied.push((component.clone(), key, entries));
            }
        }
        // A shared library no component names is still the library its soname says.
        if let Some(soname) = &binary.soname {
            tied.extend(by_soname(
                &index,
                input.advisories,
                binary,
                soname,
                &covered,
            ));
        }
        if tied.is_empty() {
            continue;
        }
        // The binary's names, demangled once, only for binaries some advisory speaks about.
        let demangled = proof.map(|p| demangled_names(p.proof)).unwrap_or_default();
        let names = proof.map(|p| Names::new(p.proof, &demangled));
        for (component, key, entries) in &tied {
            for group in groups(entries, input.advisories) {
                let verdict = decide(
                    input,
                    binary,
                    component,
                    key,
                    &group,
                    proof,
                    names.as_ref(),
                    &banners,
                );
                for &((a, _), _) in &group {
                    matched_ids.insert(input.advisories[a].id.clone());
                    matched_ids.extend(input.advisories[a].aliases.iter().cloned());
                }
                if let Some(v) = verdict {
                    verdicts.push(v);
                }
            }
        }
    }
    // Asked about, nothing matched.
    for asked in input.asked {
        if matched_ids.contains(asked) {
            continue;
        }
        verdicts.push(unmatched(input, asked));
    }
    // Asked about, matched, but every version outside the ranges: listed only when asked.
    let asked: BTreeSet<&str> = input.asked.iter().map(String::as_str).collect();
    verdicts.retain(|v| {
        v.version
            .as_ref()
            .is_none_or(|f| f.answer != VersionAnswer::NotAffected)
            || asked.contains(v.vulnerability.as_str())
            || v.aliases.iter().any(|a| asked.contains(a.as_str()))
    });
    verdicts.sort_by(|a, b| {
        let key = |v: &Verdict| {
            (
                v.vulnerability.clone(),
                v.binary.as_ref().map(|b| b.path.clone()),
                v.component.as_ref().map(|c| c.purl.clone()),
            )
        };
        key(a).cmp(&key(b))
    });
    Assessment {
        schema: SCHEMA,
        subject: input.subject.clone(),
        sbom: input.sbom_id.clone(),
        binaries: binaries.len(),
        proven,
        components: components_count,
        advisories: input.advisories.len(),
        hot: hot_index(&verdicts, &input.runtime_policy),
        verdicts,
        replay: None,
        replay_token: None,
    }
}

/// The overlay entries whose `libraries` name `soname` and no component of the binary reached,
/// as components of the binary by its soname (one per upstream library).
fn by_soname(
    index: &Index,
    advisories: &[Advisory],
    binary: &Binary,
    soname: &str,
    covered: &BTreeSet<EntryRef>,
) -> Vec<(Component, PackageKey, Vec<Matched>)> {
    let mut by_purl: BTreeMap<String, Vec<Matched>> = BTreeMap::new();
    for &r in index.by_library.get(soname).into_iter().flatten() {
        if covered.contains(&r) {
            continue;
        }
        let Body::Osv(record) = &advisories[r.0].body else {
            continue;
        };
        let purl = record.affected[r.1]
            .package
            .as_ref()
            .and_then(|p| p.purl.as_deref());
        if let Some(purl) = purl {
            let unversioned = purl.split(['@', '?', '#']).next().unwrap_or(purl);
            by_purl
                .entry(unversioned.to_owned())
                .or_default()
                .push((r, true));
        }
    }
    by_purl
        .into_iter()
        .map(|(purl, entries)| {
            (
                Component {
                    purl: purl.clone(),
                    bom_ref: binary.bom_ref.clone(),
                    how: components::How::Soname {
                        soname: soname.to_owned(),
                    },
                },
                PackageKey {
                    ecosystem: "GIT".to_owned(),
                    name: purl,
                    version: None,
                },
                entries,
            )
        })
        .collect()
}

/// Entries grouped by vulnerability: advisories that share an id or alias are one.
fn groups(entries: &[Matched], advisories: &[Advisory]) -> Vec<Vec<Matched>> {
    let mut groups: Vec<(BTreeSet<&str>, Vec<Matched>)> = Vec::new();
    for &(r, ranges) in entries {
        let a = &advisories[r.0];
        let names: BTreeSet<&str> = std::iter::once(a.id.as_str())
            .chain(a.aliases.iter().map(String::as_str))
            .collect();
        let joined: Vec<usize> = groups
            .iter()
            .enumerate()
            .filter(|(_, (g, _))| !g.is_disjoint(&names))
            .map(|(i, _)| i)
            .collect();
        let mut merged = (names, vec![(r, ranges)]);
        for i in joined.into_iter().rev() {
            let (g, e) = groups.remove(i);
            merged.0.extend(g);
            merged.1.extend(e);
        }
        groups.push(merged);
    }
    let mut out: Vec<Vec<Matched>> = groups
        .into_iter()
        .map(|(_, mut e)| {
            e.sort();
            e
        })
        .collect();
    out.sort();
    out
}

/// The vulnerability's name (the smallest CVE id among the group's ids and aliases, else the
/// smallest id), its other names, the advisories, a summary.
fn naming(
    group: &[Matched],
    advisories: &[Advisory],
) -> (String, Vec<String>, Vec<String>, Option<String>) {
    let mut all: BTreeSet<String> = BTreeSet::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut listed = Vec::new();
    let mut summary = None;
    for &((a, _), _) in group {
        let adv = &advisories[a];
        all.insert(adv.id.clone());
        all.extend(adv.aliases.iter().cloned());
        ids.insert(adv.id.clone());
        let line = format!("{} ({})", adv.id, adv.source);
        if !listed.contains(&line) {
            listed.push(line);
        }
        if summary.is_none() {
            summary.clone_from(&adv.summary);
        }
    }
    let name = all
        .iter()
        .find(|n| n.starts_with("CVE-"))
        .or_else(|| ids.iter().next())
        .cloned()
        .unwrap_or_default();
    let aliases = all.into_iter().filter(|n| *n != name).collect();
    listed.sort();
    (name, aliases, listed, summary)
}

fn binary_ref(binary: &Binary, proof: Option<Proven<'_>>, naming: Naming) -> BinaryRef {
    BinaryRef {
        path: binary.path.clone(),
        sha256: binary
            .sha256
            .clone()
            .or_else(|| proof.map(|p| p.proof.file.sha256.hex().to_owned())),
        build_id: proof.and_then(|p| p.proof.build_id.as_ref().map(ToString::to_string)),
        funcproof: proof.map(|_| binary.funcproof.clone()),
        log: proof.map(|p| p.log.to_vec()).unwrap_or_default(),
        naming,
        functions: proof.map_or(0, |p| p.proof.functions.len()),
    }
}

/// The version answer of every entry of `group` that has ranges for the component, and the
/// symbols of every entry (RustSec's only those of functions vulnerable in that version).
fn version_and_symbols(
    key: &PackageKey,
    group: &[Matched],
    advisories: &[Advisory],
    banners: &BTreeMap<String, String>,
) -> (VersionFinding, Vec<osv::Symbol>, Language) {
    let mut reasons = Vec::new();
    let mut fixed = BTreeSet::new();
    let mut affected = false;
    let mut unknown = false;
    let mut symbols: BTreeSet<osv::Symbol> = BTreeSet::new();
    let mut language = language_of(&key.ecosystem);
    let version = key.version.clone();
    for &((a, e), ranges) in group {
        let adv = &advisories[a];
        match &adv.body {
            Body::RustSec(r) => {
                language = Language::Rust;
                let parsed = version.as_deref().map(semver::Version::parse);
                match parsed {
                    Some(Ok(v)) => {
                        if r.affects(&v) {
                            affected = true;
                            reasons.push(format!(
                                "{}: {} {v} matches no patched or unaffected requirement",
                                adv.id, r.package
                            ));
                        } else {
                            reasons.push(format!(
                                "{}: {} {v} is patched or unaffected",
                                adv.id, r.package
                            ));
                        }
                        for f in r.functions_in(&v) {
                            symbols.insert(osv::Symbol {
                                path: String::new(),
                                name: f.path.clone(),
                            });
                        }
                    }
                    other => {
                        unknown = true;
                        reasons.push(match other {
                            Some(Err(err)) => {
                                format!("{}: the version is not SemVer ({err})", adv.id)
                            }
                            _ => format!("{}: the component has no version", adv.id),
                        });
                        for f in &r.functions {
                            symbols.insert(osv::Symbol {
                                path: String::new(),
                                name: f.path.clone(),
                            });
                        }
                    }
                }
                fixed.extend(r.patched.iter().map(ToString::to_string));
            }
            Body::Osv(record) => {
                let entry = &record.affected[e];
                if let Some(p) = &entry.package {
                    language = if p.ecosystem == "GIT" {
                        Language::C
                    } else {
                        language_of(&p.ecosystem)
                    };
                }
                symbols.extend(entry.symbols());
                for range in &entry.ranges {
                    fixed.extend(range.events.iter().filter_map(|ev| ev.fixed.clone()));
                }
                if !ranges {
                    // A distribution's release may carry backported fixes, so the upstream
                    // ranges cannot judge it; but when the binary's own banner names an
                    // upstream release outside them, its code is at least that new.
                    let banner = entry
                        .package
                        .as_ref()
                        .and_then(|p| p.purl.as_deref())
                        .and_then(|purl| {
                            banners.get(purl.split(['@', '?', '#']).next().unwrap_or(purl))
                        });
                    if let Some(release) = banner
                        && let Ok(Answer::NotAffected) = entry.affects(release)
                    {
                        reasons.push(format!(
                            "{}: the library's own version banner in the binary names release \
                             {release}, outside every affected range",
                            adv.id
                        ));
                        continue;
                    }
                    unknown = true;
                    reasons.push(format!(
                        "{}: names the vulnerable functions of the upstream library this \
                         distribution package ships; its upstream ranges do not account for \
                         the distribution's backported fixes, so the version is not judged",
                        adv.id
                    ));
                    continue;
                }
                let Some(v) = version.as_deref() else {
                    unknown = true;
                    reasons.push(format!("{}: the component has no version", adv.id));
                    continue;
                };
                match entry.affects(v) {
                    Ok(Answer::Affected { range }) => {
                        affected = true;
                        reasons.push(match range {
                            Some(i) => format!("{}: {v} is in affected range {i}", adv.id),
                            None => format!("{}: {v} is listed as affected", adv.id),
                        });
                    }
                    Ok(Answer::NotAffected) => {
                        reasons.push(format!("{}: {v} is outside every affected range", adv.id));
                    }
                    Ok(Answer::Unknown { reason }) => {
                        unknown = true;
                        reasons.push(format!("{}: {reason}", adv.id));
                    }
                    Err(err) => {
                        unknown = true;
                        reasons.push(format!("{}: {err}", adv.id));
                    }
                }
            }
        }
    }
    let answer = if affected {
        VersionAnswer::Affected
    } else if unknown {
        VersionAnswer::Unknown
    } else {
        VersionAnswer::NotAffected
    };
    (
        VersionFinding {
            version,
            answer,
            reasons,
            fixed: fixed.into_iter().collect(),
        },
        symbols.into_iter().collect(),
        language,
    )
}

#[allow(clippy::too_many_arguments)]
fn decide(
    input: &Input<'_>,
    binary: &Binary,
    component: &Component,
    key: &PackageKey,
    group: &[Matched],
    proof: Option<Proven<'_>>,
    names: Option<&Names<'_>>,
    banners: &BTreeMap<String, String>,
) -> Option<Verdict> {
    let (vulnerability, aliases, advisories, summary) = naming(group, input.advisories);
    let (version, symbols, language) = version_and_symbols(key, group, input.advisories, banners);
    let naming_level = names.map_or(Naming::None, |n| n.naming);
    let mut verdict = Verdict {
        vulnerability,
        aliases,
        advisories,
        summary,
        binary: Some(binary_ref(binary, proof, naming_level)),
        component: Some(component.clone()),
        status: Status::UnderInvestigation,
        justification: None,
        basis: Basis::Version,
        version: Some(version.clone()),
        symbols: Vec::new(),
        traces: Vec::new(),
        runtime: None,
        note: String::new(),
    };
    let who = format!(
        "{} in {} ({})",
        component.purl,
        binary.path,
        component.how.phrase()
    );
    let version_words = match version.answer {
        VersionAnswer::Affected => format!(
            "version {} is affected",
            version.version.as_deref().unwrap_or("?")
        ),
        VersionAnswer::Unknown => "the version could not be judged".to_owned(),
        VersionAnswer::NotAffected => format!(
            "version {} is outside the affected ranges",
            version.version.as_deref().unwrap_or("?")
        ),
    };
    if version.answer == VersionAnswer::NotAffected {
        verdict.status = Status::NotAffected;
        verdict.justification = Some(Justification::VulnerableCodeNotPresent);
        verdict.note = format!("{who}: {version_words} (version-level).");
        return Some(verdict);
    }
    if symbols.is_empty() {
        verdict.note = format!(
            "{who}: {version_words}; the advisory names no vulnerable function, so this is a \
             version-level verdict."
        );
        return Some(verdict);
    }
    let (Some(proof), Some(names)) = (proof, names) else {
        verdict.note = format!(
            "{who}: {version_words}; no verified FuncProof of the binary, so its functions were \
             not searched (version-level)."
        );
        return Some(verdict);
    };
    verdict.basis = Basis::Symbols;
    let mut any_present = false;
    let mut any_uncertain = false;
    for symbol in &symbols {
        let search = symbols::search(symbol, language, &names.candidates);
        let (outcome, hits) = match search {
            Search::Present(h) => {
                any_present = true;
                ("present", h)
            }
            Search::Uncertain(h) => {
                any_uncertain = true;
                ("uncertain", h)
            }
            Search::Absent => ("absent", Vec::new()),
        };
        let mut found: Vec<FunctionFound> = hits
            .iter()
            .map(|h| {
                let i = names.functions[h.index];
                let f = &names.proof.functions[i];
                FunctionFound {
                    sym: f.sym.clone(),
                    demangled: names.candidates[h.index].demangled.map(str::to_owned),
                    start: f.start.to_string(),
                    end: f.end.to_string(),
                    blake3: f.blake3.clone(),
                    rule: h.rule.as_str(),
                    certain: h.rule.is_certain(),
                }
            })
            .collect();
        found.sort();
        found.dedup();
        verdict.symbols.push(SymbolFinding {
            path: symbol.path.clone(),
            name: symbol.name.clone(),
            outcome,
            found,
        });
    }
    let found_names: BTreeSet<&str> = verdict
        .symbols
        .iter()
        .flat_map(|s| s.found.iter().map(|f| f.sym.as_str()))
        .collect();
    verdict.traces = proof
        .proof
        .traces
        .iter()
        .filter(|t| found_names.contains(t.sink.as_str()))
        .map(|t| TraceRef {
            path: t.path.clone(),
            hash: t.hash.clone(),
        })
        .collect();
    verdict.traces.sort();
    let searched: Vec<String> = symbols.iter().map(symbol_text).collect();
    let cite = format!(
        "FuncProof {} ({} functions{})",
        binary.funcproof,
        proof.proof.functions.len(),
        log_words(proof.log)
    );
    if any_present {
        let shown: Vec<String> = verdict
            .symbols
            .iter()
            .filter(|s| s.outcome == "present")
            .flat_map(|s| {
                s.found.iter().filter(|f| f.certain).map(|f| {
                    format!(
                        "{} [{}, {}) blake3 {} ({})",
                        f.demangled.as_deref().unwrap_or(&f.sym),
                        f.start,
                        f.end,
                        f.blake3,
                        f.rule
                    )
                })
            })
            .take(5)
            .collect();
        verdict.note = format!(
            "{who}: {version_words}; the vulnerable code is present: {} — {cite}. No runtime \
             evidence yet.",
            shown.join("; ")
        );
        runtime_rules(input, &mut verdict, proof);
    } else if any_uncertain {
        verdict.note = format!(
            "{who}: {version_words}; only rules that cannot prove presence matched (a closure \
             or an inlined helper of a vulnerable function) — {cite}; neither presence nor \
             absence is proven."
        );
        runtime_rules(input, &mut verdict, proof);
    } else if naming_level == Naming::Full {
        verdict.status = Status::NotAffected;
        verdict.justification = Some(Justification::VulnerableCodeNotPresent);
        verdict.note = format!(
            "{who}: {version_words}, but none of the vulnerable functions ({}) is among the \
             binary's functions — {cite}.",
            searched.join(", ")
        );
    } else {
        let why = match naming_level {
            Naming::ExportedOnly => "names only exported functions (a stripped binary)",
            _ => "names no function",
        };
        verdict.note = format!(
            "{who}: {version_words}; the vulnerable functions ({}) were not found, but the \
             binary's FuncProof {why}, which cannot show a function is absent — {cite}.",
            searched.join(", ")
        );
        unknown_state(input, &mut verdict, proof);
    }
    Some(verdict)
}

/// Runtime evidence about a binary whose vulnerable functions could not be named: whatever
/// its samples ran is `unknown_state`, never evidence for or against the vulnerability.
fn unknown_state(input: &Input<'_>, verdict: &mut Verdict, proof: Proven<'_>) {
    let (Some(evidence), Some(build_id)) = (input.runtime, proof.proof.build_id.as_ref()) else {
        return;
    };
    let build_id = build_id.to_string();
    let samples = evidence.seen_samples(&build_id);
    if samples == 0 {
        return;
    }
    let unknown = evidence.unknown_samples(&build_id);
    verdict.note.push_str(&format!(
        " Profiles sampled this binary ({samples} samples of the profiles that saw it), but its \
         FuncProof cannot name the vulnerable functions: what ran is unknown_state."
    ));
    verdict.runtime = Some(RuntimeFinding {
        outcome: "unknown_state",
        functions: Vec::new(),
        unknown_samples: unknown,
        valid_until: None,
        micro_witness: None,
    });
}

/// The runtime rows of the evidence table, for a verdict whose functions were found: executed
/// → `affected`; witnessed zero on its instances, still valid → `not_affected`
/// (`vulnerable_code_not_in_execute_path`); anything else leaves `under_investigation`, saying
/// why.
fn runtime_rules(input: &Input<'_>, verdict: &mut Verdict, proof: Proven<'_>) {
    let Some(evidence) = input.runtime else {
        return;
    };
    let Some(build_id) = proof.proof.build_id.as_ref().map(ToString::to_string) else {
        verdict
            .note
            .push_str(" The binary has no BuildID, so runtime evidence cannot name it.");
        return;
    };
    let found: BTreeSet<&str> = verdict
        .symbols
        .iter()
        .flat_map(|s| s.found.iter().map(|f| f.sym.as_str()))
        .collect();
    let mut functions = BTreeMap::new();
    for f in &found {
        if let Some(e) = evidence.execution(&build_id, f) {
            functions.insert((*f).to_owned(), e.clone());
        }
    }
    let unknown_samples = evidence.unknown_samples(&build_id);
    let policy = &input.runtime_policy;
    let executed: Vec<(&String, &crate::runtime::Execution)> = functions
        .iter()
        .filter(|(_, e)| e.calls > 0 || (e.samples > 0 && policy.sampled_affects))
        .collect();
    let sampled_only: Vec<&String> = functions
        .iter()
        .filter(|(_, e)| e.calls == 0 && e.samples > 0)
        .map(|(f, _)| f)
        .collect();
    let short_id: String = build_id.chars().take(12).collect();
    let mut finding = RuntimeFinding {
        outcome: "no_evidence",
        functions: Vec::new(),
        unknown_samples,
        valid_until: None,
        micro_witness: None,
    };
    if !executed.is_empty() {
        let (name, e) = executed
            .iter()
            .max_by(|a, b| (a.1.calls + a.1.samples).cmp(&(b.1.calls + b.1.samples)))
            .copied()
            .unwrap_or(executed[0]);
        let windows: Vec<String> = e
            .windows
            .iter()
            .map(|w| format!("{}–{}", w.start, w.end))
            .collect();
        let how = match (e.calls, e.samples) {
            (c, 0) => format!("{c} calls witnessed"),
            (0, _) => format!("{:.1}% of the sampled CPU", e.cpu_share()),
            (c, _) => format!(
                "{c} calls witnessed, {:.1}% of the sampled CPU",
                e.cpu_share()
            ),
        };
        let processes: Vec<&str> = e.processes.iter().map(String::as_str).take(5).collect();
        verdict.status = Status::Affected;
        verdict.justification = None;
        verdict.note = format!(
            "{} observed in {name} (BuildID {short_id}…), {how} in {} between {} UTC; VEX → \
             affected. {}",
            verdict.vulnerability,
            if processes.is_empty() {
                "(processes unknown)".to_owned()
            } else {
                processes.join(", ")
            },
            windows.join(", "),
            verdict.note
        );
        finding.outcome = "executed";
    } else if !sampled_only.is_empty() {
        // The policy asks for a witness before sampled stacks alone say `affected`.
        let samples: u64 = sampled_only
            .iter()
            .filter_map(|f| functions.get(*f))
            .map(|e| e.samples)
            .sum();
        verdict.note.push_str(&format!(
            " Sampled stacks hold {} ({samples} samples), but no witness counted a call; the \
             policy asks for one before affected.",
            sampled_only
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        finding.outcome = "sampled_only";
    } else {
        let zeros_for_all = !found.is_empty()
            && found
                .iter()
                .all(|f| functions.get(*f).is_some_and(|e| !e.zeros.is_empty()));
        if zeros_for_all {
            let last_end = functions
                .values()
                .flat_map(|e| e.zeros.iter())
                .filter_map(|z| z.window.end.parse::<jiff::Timestamp>().ok())
                .max();
            let valid_until = last_end.and_then(|end| {
                end.checked_add(jiff::SignedDuration::from_secs(
                    input.runtime_policy.zero_valid_for,
                ))
                .ok()
            });
            finding.valid_until = valid_until.map(|t| t.to_string());
            let instances: BTreeSet<u32> = functions
                .values()
                .flat_map(|e| e.zeros.iter().flat_map(|z| z.instances.iter().copied()))
                .collect();
            let still_valid = match (valid_until, input.now) {
                (Some(until), Some(now)) => now <= until,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if still_valid {
                verdict.status = Status::NotAffected;
                verdict.justification = Some(Justification::VulnerableCodeNotInExecutePath);
                verdict.note = format!(
                    "{} never ran: every call of {} was counted on {} instance(s) ({}) and none \
                     was seen; valid until {}. {}",
                    verdict.vulnerability,
                    found.iter().copied().collect::<Vec<_>>().join(", "),
                    instances.len(),
                    instances
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    finding.valid_until.as_deref().unwrap_or("?"),
                    verdict.note
                );
                finding.outcome = "never_executed";
            } else {
                verdict.note.push_str(&format!(
                    " A zero count was witnessed, but its validity ended at {}: renew it.",
                    finding.valid_until.as_deref().unwrap_or("?")
                ));
                finding.outcome = "expired";
            }
        } else if unknown_samples > 0 {
            // Unnamed frames may hide it; the note below counts them.
            verdict.note.push_str(
                " Sampled stacks did not show it, which proves nothing: sampling misses cold code.",
            );
            finding.outcome = "unknown_state";
        } else if functions.values().any(|e| e.profile_samples > 0)
            || evidence.seen_samples(&build_id) > 0
        {
            verdict.note.push_str(
                " Sampled stacks did not show it, which proves nothing: sampling misses cold code.",
            );
            finding.outcome = "not_seen";
        }
        if unknown_samples > 0 && verdict.status != Status::NotAffected {
            verdict.note.push_str(&format!(
                " {unknown_samples} samples of this binary could not be named (unknown_state)."
            ));
        }
    }
    finding.functions = functions
        .into_iter()
        .map(|(function, execution)| FunctionRun {
            function,
            execution,
        })
        .collect();
    verdict.runtime = Some(finding);
}

fn symbol_text(s: &osv::Symbol) -> String {
    if s.path.is_empty() {
        s.name.clone()
    } else {
        format!("{}.{}", s.path, s.name)
    }
}

fn log_words(log: &[LogRef]) -> String {
    match log.first() {
        Some(l) => format!(", log {} entry {}", l.origin, l.index),
        None => String::new(),
    }
}

/// Rule 5.
fn unmatched(input: &Input<'_>, asked: &str) -> Verdict {
    let known: Vec<&Advisory> = input
        .advisories
        .iter()
        .filter(|a| a.id == asked || a.aliases.iter().any(|x| x == asked))
        .collect();
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    for a in &known {
        aliases.insert(a.id.clone());
        aliases.extend(a.aliases.iter().cloned());
    }
    aliases.remove(asked);
    let mut listed: Vec<String> = known
        .iter()
        .map(|a| format!("{} ({})", a.id, a.source))
        .collect();
    listed.sort();
    let base = Verdict {
        vulnerability: asked.to_owned(),
        aliases: aliases.into_iter().collect(),
        advisories: listed,
        summary: known.iter().find_map(|a| a.summary.clone()),
        binary: None,
        component: None,
        status: Status::UnderInvestigation,
        justification: None,
        basis: Basis::Sbom,
        version: None,
        symbols: Vec::new(),
        traces: Vec::new(),
        runtime: None,
        note: String::new(),
    };
    if known.is_empty() {
        return Verdict {
            note: format!(
                "{asked}: no advisory in the database names it, so Stella cannot tell which \
                 component it concerns."
            ),
            ..base
        };
    }
    let packages: BTreeSet<String> = known
        .iter()
        .flat_map(|a| match &a.body {
            Body::RustSec(r) => vec![format!("crates.io/{}", r.package)],
            Body::Osv(r) => r
                .affected
                .iter()
                .filter_map(|e| e.package.as_ref())
                .map(|p| format!("{}/{}", p.ecosystem, p.name))
                .collect(),
        })
        .collect();
    Verdict {
        status: Status::NotAffected,
        justification: Some(Justification::ComponentNotPresent),
        note: format!(
            "{asked}: no binary of {} holds an affected package ({}) — SBOM {}.",
            input.subject,
            packages.into_iter().collect::<Vec<_>>().join(", "),
            input.sbom_id
        ),
        ..base
    }
}
