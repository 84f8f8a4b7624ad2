//! The deterministic score: every verdict of an assessment placed in CERT/CC's SSVC deployer
//! decision table, with Stella's evidence deciding the points it can see and the policy the
//! rest, as the predicate `https://stella-ops.org/attestations/score/v1`.
//!
//! # The decision model
//!
//! SSVC's *Deployer Patch Application Priority* table (namespace `ssvc`, key `DT_DP`, version
//! 1.0.0, as CERT/CC's reference implementation `certcc-ssvc` 2026.10.0 ships it in
//! `ssvc/decision_tables/ssvc/deployer_dt.py`) maps four decision points to one outcome:
//!
//! | decision point | id | values |
//! |---|---|---|
//! | Exploitation | `ssvc:E:1.1.0` | `N` none, `P` public PoC, `A` active |
//! | System Exposure | `ssvc:EXP:1.0.1` | `S` small, `C` controlled, `O` open |
//! | Automatable | `ssvc:A:2.0.0` | `N` no, `Y` yes |
//! | Human Impact | `ssvc:HI:2.0.2` | `L` low, `M` medium, `H` high, `VH` very high |
//! | → outcome | `ssvc:DSOI:1.0.0` | `D` defer, `S` scheduled, `O` out-of-cycle, `I` immediate |
//!
//! [`TABLE`] holds the 72 rows; the interop test compares every row with the reference.
//!
//! # Who decides each point (first rule that applies)
//!
//! System Exposure, from the verdict's evidence:
//! 1. `component-not-present` — no binary holds the component (SBOM): `S`, *not applicable*;
//! 2. `vulnerable-code-not-present` — the FuncProof proves the vulnerable functions absent: `S`,
//!    *not applicable*;
//! 3. `executed` — the vulnerable code ran (witnessed, or sampled where the policy lets samples
//!    decide): the policy's `executedExposure` (default `O`); execution outranks any prior claim;
//! 4. `vex-not-affected` — a prior VEX document given says `not_affected` for the vulnerability
//!    (any alias) in the component (its purl, versionless matching any version) or the image,
//!    or names no product: `S`, *not applicable*, citing that document;
//! 5. `witnessed-never-executed` — exact witnesses counted zero calls and the zero is still
//!    valid: `S` (the code is there; nothing reaches it);
//! 6. `present` — the code (or only the version) is there and nothing ran or was counted: the
//!    policy's `presentExposure` (default `C`). This is the baseline the others move from.
//!
//! Exploitation, from the policy's lists (where a KEV catalogue or threat feed is written down):
//! a vulnerability whose id or alias is in `activeExploitation` is `A`, in `publicPoc` `P`,
//! otherwise `N` (the baseline).
//!
//! Automatable and Human Impact are properties of the deployment, not of the binary: the
//! policy's `automatable` (default `Y`, the cautious answer) and `humanImpact` (default `M`).
//!
//! # The numbers
//!
//! A verdict's score is its outcome's weight: `D` 1, `S` 4, `O` 7, `I` 10; a verdict that is not
//! applicable (its vulnerable code proven absent) scores 0 whatever the table says, and its
//! outcome is still recorded. The image's score is the highest verdict score (an image is as
//! urgent as its most urgent vulnerability), with the count of verdicts per outcome beside it.
//!
//! The breakdown of a verdict names, per decision point, the rule that set it, the documents it
//! rests on (kind and digest), the baseline value and `delta`: the verdict's score minus the
//! score it would have with that one point at its baseline.
//!
//! # Determinism and the seed
//!
//! Verdicts are sorted by (vulnerability, binary path, component purl, then their canonical
//! form); documents by (kind, digest). The computation draws no random number and breaks no tie
//! by chance, so the seed changes no score: it is recorded in `inputs` and in the replay record
//! (and so in `replayToken`), naming the run. The same inputs and seed give the same bytes.
//!
//! What this module does not own: running the assessment, reading files, signing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stella_core::Digest;

use crate::assess::{Assessment, Justification, Status, Verdict};

/// The algorithm's name in the predicate.
pub const ALGORITHM: &str = "stella-ssvc-deployer";
/// The algorithm's version: a change to a rule or a weight is a new version.
pub const ALGORITHM_VERSION: &str = "1.0.0";
/// The reference implementation the decision table is copied from and checked against.
pub const REFERENCE: &str = "certcc-ssvc 2026.10.0";

/// Why a score could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// The policy's `score` section is not what it should be.
    #[error("{pointer}: {why}")]
    Policy {
        /// JSON pointer into the policy file.
        pointer: String,
        /// What was expected.
        why: String,
    },
    /// A value could not be canonicalised.
    #[error("the score cannot be canonicalised: {0}")]
    Canonical(#[from] stella_core::jcs::JcsError),
}

macro_rules! decision_point {
    ($(#[$doc:meta])* $name:ident, $id:literal, $title:literal,
     $($(#[$vdoc:meta])* $variant:ident = ($key:literal, $label:literal, $ser:literal)),+ $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $ser)] $variant),+
        }
        impl $name {
            /// The decision point's SSVC id (`namespace:key:version`).
            pub const ID: &'static str = $id;
            /// Its SSVC name.
            pub const NAME: &'static str = $title;
            /// Every value, lowest first (SSVC's order).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The value's SSVC key.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }
            /// The value's SSVC name.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            /// The value's position in SSVC's order (0 for the lowest).
            pub fn index(self) -> usize {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
            }
        }
    };
}

decision_point!(
    /// SSVC Exploitation 1.1.0: evidence of attacks on the vulnerability.
    Exploitation, "ssvc:E:1.1.0", "Exploitation",
    /// No evidence of exploitation.
    None = ("N", "None", "none"),
    /// A public proof of concept.
    PublicPoc = ("P", "Public PoC", "public_poc"),
    /// Exploited in the wild.
    Active = ("A", "Active", "active"),
);
decision_point!(
    /// SSVC System Exposure 1.0.1: how reachable the vulnerable code is.
    Exposure, "ssvc:EXP:1.0.1", "System Exposure",
    /// Small: local or no access to the vulnerable code.
    Small = ("S", "Small", "small"),
    /// Controlled: reachable behind access controls.
    Controlled = ("C", "Controlled", "controlled"),
    /// Open: reachable from the internet.
    Open = ("O", "Open", "open"),
);
decision_point!(
    /// SSVC Automatable 2.0.0: whether the attack can be automated end to end.
    Automatable, "ssvc:A:2.0.0", "Automatable",
    /// No.
    No = ("N", "No", "no"),
    /// Yes.
    Yes = ("Y", "Yes", "yes"),
);
decision_point!(
    /// SSVC Human Impact 2.0.2: mission and well-being impact combined.
    HumanImpact, "ssvc:HI:2.0.2", "Human Impact",
    /// Low.
    Low = ("L", "Low", "low"),
    /// Medium.
    Medium = ("M", "Medium", "medium"),
    /// High.
    High = ("H", "High", "high"),
    /// Very high.
    VeryHigh = ("VH", "Very High", "very_high"),
);
decision_point!(
    /// SSVC DSOI 1.0.0: the deployer's patch priority.
    Priority, "ssvc:DSOI:1.0.0", "Defer, Scheduled, Out-of-Cycle, Immediate",
    /// Defer.
    Defer = ("D", "Defer", "defer"),
    /// Scheduled.
    Scheduled = ("S", "Scheduled", "scheduled"),
    /// Out of cycle.
    OutOfCycle = ("O", "Out-of-Cycle", "out_of_cycle"),
    /// Immediate.
    Immediate = ("I", "Immediate", "immediate"),
);

impl Priority {
    /// The outcome's weight in the numeric score.
    pub fn weight(self) -> u32 {
        match self {
            Priority::Defer => 1,
            Priority::Scheduled => 4,
            Priority::OutOfCycle => 7,
            Priority::Immediate => 10,
        }
    }
}

use Priority::{Defer as D, Immediate as I, OutOfCycle as O, Scheduled as S};

/// SSVC `DT_DP` 1.0.0, indexed `[exploitation][exposure][automatable][human impact]` in each
/// point's SSVC order (see the module docs).
pub const TABLE: [[[[Priority; 4]; 2]; 3]; 3] = [
    // Exploitation: none
    [
        [[D, D, S, S], [D, S, S, S]], // small
        [[D, S, S, S], [S, S, S, S]], // controlled
        [[D, S, S, S], [S, S, S, O]], // open
    ],
    // Exploitation: public PoC
    [
        [[D, S, S, S], [S, S, S, S]],
        [[D, S, S, S], [S, S, S, O]],
        [[S, S, S, O], [S, S, O, O]],
    ],
    // Exploitation: active
    [
        [[S, S, O, O], [S, O, O, O]],
        [[S, S, O, O], [O, O, O, O]],
        [[S, O, O, I], [O, O, I, I]],
    ],
];

/// The values of the four decision points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Exploitation.
    pub exploitation: Exploitation,
    /// System Exposure.
    pub exposure: Exposure,
    /// Automatable.
    pub automatable: Automatable,
    /// Human Impact.
    pub human_impact: HumanImpact,
}

impl Decision {
    /// The table's outcome.
    pub fn outcome(&self) -> Priority {
        TABLE[self.exploitation.index()][self.exposure.index()][self.automatable.index()]
            [self.human_impact.index()]
    }

    /// Every combination of values, in table order.
    pub fn all() -> Vec<Decision> {
        let mut out = Vec::new();
        for &exploitation in Exploitation::ALL {
            for &exposure in Exposure::ALL {
                for &automatable in Automatable::ALL {
                    for &human_impact in HumanImpact::ALL {
                        out.push(Decision {
                            exploitation,
                            exposure,
                            automatable,
                            human_impact,
                        });
                    }
                }
            }
        }
        out
    }
}

/// The score's settings: the policy file's `score` section over the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Exposure of vulnerable code that is present and not known to run (the baseline).
    pub present_exposure: Exposure,
    /// Exposure of vulnerable code that ran.
    pub executed_exposure: Exposure,
    /// Whether attacks on this deployment can be automated.
    pub automatable: Automatable,
    /// The deployment's mission and well-being impact.
    pub human_impact: HumanImpact,
    /// Vulnerability ids (any alias) exploited in the wild, e.g. from CISA's KEV catalogue.
    pub active_exploitation: Vec<String>,
    /// Vulnerability ids (any alias) with a public proof of concept.
    pub public_poc: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            present_exposure: Exposure::Controlled,
            executed_exposure: Exposure::Open,
            automatable: Automatable::Yes,
            human_impact: HumanImpact::Medium,
            active_exploitation: Vec::new(),
            public_poc: Vec::new(),
        }
    }
}

/// Largest number of ids in one exploitation list.
pub const MAX_LISTED_IDS: usize = 100_000;

impl Settings {
    /// The settings of a policy file (`stella.vex-policy/v1`) whose parsed form is `policy`:
    /// its `score` section, or the defaults without one. The lists are sorted and deduplicated.
    ///
    /// # Errors
    /// [`ScoreError::Policy`] naming the pointer of a value that is not one of the documented.
    pub fn from_policy(policy: &Value) -> Result<Settings, ScoreError> {
        let Some(section) = policy.get("score") else {
            return Ok(Settings::default());
        };
        let mut settings: Settings =
            serde_json::from_value(section.clone()).map_err(|e| ScoreError::Policy {
                pointer: "/score".to_owned(),
                why: format!(
                    "{e} (expected presentExposure, executedExposure: small|controlled|open; \
                     automatable: no|yes; humanImpact: low|medium|high|very_high; \
                     activeExploitation, publicPoc: lists of ids)"
                ),
            })?;
        for (name, list) in [
            ("activeExploitation", &mut settings.active_exploitation),
            ("publicPoc", &mut settings.public_poc),
        ] {
            if list.len() > MAX_LISTED_IDS {
                return Err(ScoreError::Policy {
                    pointer: format!("/score/{name}"),
                    why: format!("{} ids, at most {MAX_LISTED_IDS}", list.len()),
                });
            }
            if let Some(i) = list.iter().position(|id| id.trim().is_empty()) {
                return Err(ScoreError::Policy {
                    pointer: format!("/score/{name}/{i}"),
                    why: "an empty id".to_owned(),
                });
            }
            list.sort();
            list.dedup();
        }
        Ok(settings)
    }
}

/// One evidence document the score rests on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Document {
    /// What it is: `sbom`, `funcproof`, `advisory`, `micro-witness`, `witness-report`,
    /// `profile`, `vex`, `policy`.
    pub kind: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

impl Document {
    /// A document of `kind` with `digest`.
    pub fn new(kind: &str, digest: impl Into<String>) -> Self {
        Document {
            kind: kind.to_owned(),
            digest: digest.into(),
        }
    }
}

/// What a score is computed from beyond the assessment.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The assessment (with each runtime verdict's micro-witness named).
    pub assessment: &'a Assessment,
    /// The settings.
    pub settings: &'a Settings,
    /// The policy file's digest, when one was given.
    pub policy: Option<&'a str>,
    /// The digest of each advisory by `id (source)`, as verdicts name them.
    pub advisories: &'a BTreeMap<String, String>,
    /// Runtime evidence read (witness reports, profiles), as documents.
    pub runtime: &'a [Document],
    /// Prior VEX documents by canonical id.
    pub vex: &'a [(String, stella_vex::VexDocument)],
    /// The seed.
    pub seed: u64,
    /// The record that reproduces the score (settings, seed, runtime inputs, time); the
    /// predicate carries it as `replay`, and its digest as `replayToken`.
    pub replay: Value,
}

/// How one decision point was set.
struct Set<T> {
    value: T,
    baseline: T,
    rule: &'static str,
    evidence: Vec<Document>,
}

/// The Exposure of a verdict, and whether the verdict applies at all.
fn exposure(v: &Verdict, input: &Input<'_>) -> (Set<Exposure>, bool) {
    let (sbom, settings) = (input.assessment.sbom.as_str(), input.settings);
    let baseline = settings.present_exposure;
    let funcproof = || {
        v.binary
            .as_ref()
            .and_then(|b| b.funcproof.clone())
            .map(|d| Document::new("funcproof", d))
            .into_iter()
            .collect::<Vec<_>>()
    };
    let micro = || {
        v.runtime
            .as_ref()
            .and_then(|r| r.micro_witness.clone())
            .map(|d| Document::new("micro-witness", d))
            .into_iter()
            .collect::<Vec<_>>()
    };
    let set = |value, rule, evidence| Set {
        value,
        baseline,
        rule,
        evidence,
    };
    let outcome = v.runtime.as_ref().map(|r| r.outcome);
    match (v.status, v.justification, outcome) {
        (Status::NotAffected, Some(Justification::ComponentNotPresent), _) => (
            set(
                Exposure::Small,
                "component-not-present",
                vec![Document::new("sbom", sbom)],
            ),
            false,
        ),
        (Status::NotAffected, Some(Justification::VulnerableCodeNotPresent), _) => (
            set(Exposure::Small, "vulnerable-code-not-present", funcproof()),
            false,
        ),
        (Status::Affected, _, Some("executed")) => {
            (set(settings.executed_exposure, "executed", micro()), true)
        }
        _ if !prior_not_affected(v, input).is_empty() => (
            set(
                Exposure::Small,
                "vex-not-affected",
                prior_not_affected(v, input),
            ),
            false,
        ),
        (Status::NotAffected, Some(Justification::VulnerableCodeNotInExecutePath), _) => (
            set(Exposure::Small, "witnessed-never-executed", micro()),
            true,
        ),
        _ => {
            let mut evidence = funcproof();
            if evidence.is_empty() {
                evidence.push(Document::new("sbom", sbom));
            }
            (set(baseline, "present", evidence), true)
        }
    }
}

/// The prior VEX documents that say `not_affected` for the verdict's vulnerability in its
/// component or the image.
fn prior_not_affected(v: &Verdict, input: &Input<'_>) -> Vec<Document> {
    use stella_vex::model::ProductIdentity;
    let identity = |name: &str| {
        if name.starts_with("pkg:") {
            ProductIdentity {
                purl: Some(name.to_owned()),
                ..Default::default()
            }
        } else {
            ProductIdentity {
                id: Some(name.to_owned()),
                ..Default::default()
            }
        }
    };
    let mut products = vec![identity(&input.assessment.subject)];
    if let Some(c) = &v.component {
        products.push(identity(&c.purl));
    }
    let ids: Vec<&String> = std::iter::once(&v.vulnerability)
        .chain(&v.aliases)
        .collect();
    input
        .vex
        .iter()
        .filter(|(_, doc)| {
            doc.statements.iter().any(|s| {
                s.status == stella_vex::Status::NotAffected
                    && ids.iter().any(|id| {
                        products
                            .iter()
                            .any(|p| stella_vex::matching::statement_matches(s, id, p, None))
                    })
            })
        })
        .map(|(digest, _)| Document::new("vex", digest.clone()))
        .collect()
}

fn exploitation(v: &Verdict, settings: &Settings, policy: Option<&str>) -> Set<Exploitation> {
    let named = |list: &[String]| {
        list.iter()
            .any(|id| *id == v.vulnerability || v.aliases.contains(id))
    };
    let evidence = policy
        .map(|p| vec![Document::new("policy", p)])
        .unwrap_or_default();
    let (value, rule) = if named(&settings.active_exploitation) {
        (Exploitation::Active, "policy-active-exploitation")
    } else if named(&settings.public_poc) {
        (Exploitation::PublicPoc, "policy-public-poc")
    } else {
        (Exploitation::None, "no-exploitation-known")
    };
    Set {
        value,
        baseline: Exploitation::None,
        rule,
        evidence: if value == Exploitation::None {
            Vec::new()
        } else {
            evidence
        },
    }
}

fn from_policy<T: Copy + PartialEq>(value: T, default: T, policy: Option<&str>) -> Set<T> {
    let moved = value != default;
    Set {
        value,
        baseline: default,
        rule: if moved { "policy" } else { "default" },
        evidence: match (moved, policy) {
            (true, Some(p)) => vec![Document::new("policy", p)],
            _ => Vec::new(),
        },
    }
}

fn verdict_score(decision: &Decision, applicable: bool) -> u32 {
    if applicable {
        decision.outcome().weight()
    } else {
        0
    }
}

/// One verdict scored: its decision, outcome, score and breakdown, as the predicate writes it.
fn scored(v: &Verdict, input: &Input<'_>) -> (u32, Priority, bool, Value) {
    let settings = input.settings;
    let defaults = Settings::default();
    let (exp, applicable) = exposure(v, input);
    let e = exploitation(v, settings, input.policy);
    let a = from_policy(settings.automatable, defaults.automatable, input.policy);
    let h = from_policy(settings.human_impact, defaults.human_impact, input.policy);
    let decision = Decision {
        exploitation: e.value,
        exposure: exp.value,
        automatable: a.value,
        human_impact: h.value,
    };
    let score = verdict_score(&decision, applicable);
    let outcome = decision.outcome();
    let signed = |other: u32| i64::from(score) - i64::from(other);
    let row = |id: &str, rule: &str, from: &str, to: &str, delta: i64, ev: &[Document]| {
        let mut r = json!({
            "decisionPoint": id,
            "rule": rule,
            "baseline": from,
            "value": to,
            "delta": delta,
        });
        if !ev.is_empty() {
            r["evidence"] = json!(ev);
        }
        r
    };
    let breakdown = vec![
        row(
            Exploitation::ID,
            e.rule,
            e.baseline.key(),
            e.value.key(),
            signed(verdict_score(
                &Decision {
                    exploitation: e.baseline,
                    ..decision
                },
                applicable,
            )),
            &e.evidence,
        ),
        row(
            Exposure::ID,
            exp.rule,
            exp.baseline.key(),
            exp.value.key(),
            signed(verdict_score(
                &Decision {
                    exposure: exp.baseline,
                    ..decision
                },
                true,
            )),
            &exp.evidence,
        ),
        row(
            Automatable::ID,
            a.rule,
            a.baseline.key(),
            a.value.key(),
            signed(verdict_score(
                &Decision {
                    automatable: a.baseline,
                    ..decision
                },
                applicable,
            )),
            &a.evidence,
        ),
        row(
            HumanImpact::ID,
            h.rule,
            h.baseline.key(),
            h.value.key(),
            signed(verdict_score(
                &Decision {
                    human_impact: h.baseline,
                    ..decision
                },
                applicable,
            )),
            &h.evidence,
        ),
    ];
    let point = |id: &str, name: &str, key: &str, label: &str| json!({"id": id, "name": name, "value": key, "label": label});
    let mut entry = json!({
        "vulnerability": v.vulnerability,
        "status": v.status.label(),
        "applicable": applicable,
        "decisionPoints": [
            point(Exploitation::ID, Exploitation::NAME, e.value.key(), e.value.label()),
            point(Exposure::ID, Exposure::NAME, exp.value.key(), exp.value.label()),
            point(Automatable::ID, Automatable::NAME, a.value.key(), a.value.label()),
            point(HumanImpact::ID, HumanImpact::NAME, h.value.key(), h.value.label()),
        ],
        "outcome": point(Priority::ID, Priority::NAME, outcome.key(), outcome.label()),
        "score": score,
        "breakdown": breakdown,
    });
    if !v.aliases.is_empty() {
        entry["aliases"] = json!(v.aliases);
    }
    if let Some(j) = v.justification {
        entry["justification"] = json!(j.label());
    }
    if let Some(b) = &v.binary {
        entry["binary"] = json!(b.path);
    }
    if let Some(c) = &v.component {
        entry["component"] = json!(c.purl);
    }
    (score, outcome, applicable, entry)
}

/// The documents every verdict rests on, with the SBOM, the policy and the runtime evidence
/// read: sorted by (kind, digest), each once.
fn documents(input: &Input<'_>) -> Vec<Document> {
    let mut out: Vec<Document> = vec![Document::new("sbom", input.assessment.sbom.clone())];
    if let Some(p) = input.policy {
        out.push(Document::new("policy", p));
    }
    out.extend(input.runtime.iter().cloned());
    out.extend(
        input
            .vex
            .iter()
            .map(|(digest, _)| Document::new("vex", digest.clone())),
    );
    for v in &input.assessment.verdicts {
        if let Some(f) = v.binary.as_ref().and_then(|b| b.funcproof.as_ref()) {
            out.push(Document::new("funcproof", f.clone()));
        }
        if let Some(m) = v.runtime.as_ref().and_then(|r| r.micro_witness.as_ref()) {
            out.push(Document::new("micro-witness", m.clone()));
        }
        for a in &v.advisories {
            if let Some(d) = input.advisories.get(a) {
                out.push(Document::new("advisory", d.clone()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The score predicate (`https://stella-ops.org/attestations/score/v1`) of an assessment:
/// `algorithm`, `inputs` (seed, canonical_id, documents), `score` and `outcomes` (the count of
/// applicable verdicts per outcome), `vulnerabilities` (sorted), `replay` and `replayToken`.
///
/// # Errors
/// [`ScoreError::Canonical`] when the replay record or a verdict cannot be canonicalised.
pub fn predicate(input: &Input<'_>) -> Result<Value, ScoreError> {
    let mut entries: Vec<(Vec<u8>, Value)> = Vec::new();
    let mut total = 0;
    let mut counts: BTreeMap<&'static str, u32> =
        Priority::ALL.iter().map(|p| (serialized(*p), 0)).collect();
    for v in &input.assessment.verdicts {
        let (score, outcome, applicable, entry) = scored(v, input);
        total = total.max(score);
        if applicable {
            *counts.entry(serialized(outcome)).or_default() += 1;
        }
        entries.push((stella_core::jcs::to_canonical(&entry)?, entry));
    }
    let key = |e: &Value| {
        [
            e["vulnerability"].as_str().unwrap_or_default().to_owned(),
            e["binary"].as_str().unwrap_or_default().to_owned(),
            e["component"].as_str().unwrap_or_default().to_owned(),
        ]
    };
    entries.sort_by(|(a_bytes, a), (b_bytes, b)| key(a).cmp(&key(b)).then(a_bytes.cmp(b_bytes)));
    let weights: BTreeMap<&str, u32> = Priority::ALL
        .iter()
        .map(|p| (p.key(), p.weight()))
        .collect();
    let mut doc = json!({
        "algorithm": {
            "name": ALGORITHM,
            "version": ALGORITHM_VERSION,
            "decisionTable": {
                "namespace": "ssvc",
                "key": "DT_DP",
                "version": "1.0.0",
                "name": "Deployer Patch Application Priority",
                "reference": REFERENCE,
            },
            "weights": weights,
            "aggregate": "max",
        },
        "inputs": {
            "seed": input.seed,
            "canonicalId": input.assessment.sbom,
            "documents": documents(input),
        },
        "score": total,
        "outcomes": counts,
        "vulnerabilities": entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
    });
    let token = stella_core::jcs::to_canonical(&input.replay)?;
    doc["replayToken"] = json!(Digest::sha256(&token).to_string());
    doc["replay"] = input.replay.clone();
    Ok(doc)
}

fn serialized(p: Priority) -> &'static str {
    match p {
        Priority::Defer => "defer",
        Priority::Scheduled => "scheduled",
        Priority::OutOfCycle => "out_of_cycle",
        Priority::Immediate => "immediate",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::assess::{Basis, BinaryRef, Naming, RuntimeFinding};

    fn verdict(status: Status, justification: Option<Justification>) -> Verdict {
        Verdict {
            vulnerability: "CVE-2026-0001".into(),
            aliases: vec!["GHSA-xxxx".into()],
            advisories: vec!["TEST-1 (osv)".into()],
            summary: None,
            binary: Some(BinaryRef {
                path: "/usr/bin/app".into(),
                sha256: None,
                build_id: Some("ab".into()),
                funcproof: Some(format!("sha256:{}", "f".repeat(64))),
                log: vec![],
                naming: Naming::Full,
                functions: 3,
            }),
            component: None,
            status,
            justification,
            basis: Basis::Symbols,
            version: None,
            symbols: vec![],
            traces: vec![],
            runtime: None,
            note: String::new(),
        }
    }

    fn with_runtime(mut v: Verdict, outcome: &'static str) -> Verdict {
        v.runtime = Some(RuntimeFinding {
            outcome,
            functions: vec![],
            unknown_samples: 0,
            valid_until: None,
            micro_witness: Some(format!("sha256:{}", "a".repeat(64))),
        });
        v
    }

    fn assessment(verdicts: Vec<Verdict>) -> Assessment {
        Assessment {
            schema: "stella.assessment/v1",
            subject: "pkg:oci/app".into(),
            sbom: format!("sha256:{}", "5".repeat(64)),
            binaries: 1,
            proven: 1,
            components: 1,
            advisories: 1,
            verdicts,
            hot: vec![],
            replay: None,
            replay_token: None,
        }
    }

    fn score_of(verdicts: Vec<Verdict>, settings: &Settings, policy: Option<&str>) -> Value {
        let a = assessment(verdicts);
        let advisories = BTreeMap::from([(
            "TEST-1 (osv)".to_owned(),
            format!("sha256:{}", "d".repeat(64)),
        )]);
        predicate(&Input {
            assessment: &a,
            settings,
            policy,
            advisories: &advisories,
            runtime: &[],
            vex: &[],
            seed: 7,
            replay: json!({"seed": 7}),
        })
        .expect("scores")
    }

    fn point(entry: &Value, id: &str) -> String {
        entry["decisionPoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["value"].as_str().unwrap().to_owned())
            .unwrap()
    }

    fn breakdown<'a>(entry: &'a Value, id: &str) -> &'a Value {
        entry["breakdown"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["decisionPoint"] == id)
            .unwrap()
    }

    #[test]
    fn the_table_has_the_reference_corners_and_rises_with_every_point() {
        let d = |e, x, a, h| {
            Decision {
                exploitation: e,
                exposure: x,
                automatable: a,
                human_impact: h,
            }
            .outcome()
        };
        use Automatable as A;
        use Exploitation as E;
        use Exposure as X;
        use HumanImpact as H;
        assert_eq!(d(E::None, X::Small, A::No, H::Low), Priority::Defer);
        assert_eq!(
            d(E::Active, X::Open, A::Yes, H::VeryHigh),
            Priority::Immediate
        );
        assert_eq!(
            d(E::Active, X::Open, A::No, H::VeryHigh),
            Priority::Immediate
        );
        assert_eq!(
            d(E::None, X::Open, A::Yes, H::VeryHigh),
            Priority::OutOfCycle
        );
        assert_eq!(Decision::all().len(), 72);
        // Monotone: raising any one point never lowers the outcome.
        for x in Decision::all() {
            let o = x.outcome();
            for y in Decision::all() {
                if y.exploitation >= x.exploitation
                    && y.exposure >= x.exposure
                    && y.automatable >= x.automatable
                    && y.human_impact >= x.human_impact
                {
                    assert!(
                        y.outcome() >= o,
                        "{x:?} → {o:?} but {y:?} → {:?}",
                        y.outcome()
                    );
                }
            }
        }
    }

    #[test]
    fn absent_code_is_small_and_not_applicable_citing_the_funcproof() {
        let doc = score_of(
            vec![verdict(
                Status::NotAffected,
                Some(Justification::VulnerableCodeNotPresent),
            )],
            &Settings::default(),
            None,
        );
        let e = &doc["vulnerabilities"][0];
        assert_eq!(point(e, Exposure::ID), "S");
        assert_eq!(e["applicable"], false);
        assert_eq!(e["score"], 0);
        let b = breakdown(e, Exposure::ID);
        assert_eq!(b["rule"], "vulnerable-code-not-present");
        assert_eq!(b["baseline"], "C");
        // With the default policy (N, C, Y, M) the table says Scheduled: 4 → 0.
        assert_eq!(b["delta"], -4);
        assert_eq!(b["evidence"][0]["kind"], "funcproof");
        assert_eq!(doc["score"], 0);
    }

    #[test]
    fn a_missing_component_is_not_applicable_citing_the_sbom() {
        let mut v = verdict(
            Status::NotAffected,
            Some(Justification::ComponentNotPresent),
        );
        v.binary = None;
        let doc = score_of(vec![v], &Settings::default(), None);
        let e = &doc["vulnerabilities"][0];
        assert_eq!(e["applicable"], false);
        let b = breakdown(e, Exposure::ID);
        assert_eq!(b["rule"], "component-not-present");
        assert_eq!(b["evidence"][0]["kind"], "sbom");
    }

    #[test]
    fn witnessed_never_executed_is_small_and_still_applicable() {
        let v = with_runtime(
            verdict(
                Status::NotAffected,
                Some(Justification::VulnerableCodeNotInExecutePath),
            ),
            "never_executed",
        );
        let doc = score_of(vec![v], &Settings::default(), None);
        let e = &doc["vulnerabilities"][0];
        assert_eq!(point(e, Exposure::ID), "S");
        assert_eq!(e["applicable"], true);
        // (N, S, Y, M) is Scheduled, as (N, C, Y, M): the zero moved nothing here.
        assert_eq!(e["outcome"]["value"], "S");
        let b = breakdown(e, Exposure::ID);
        assert_eq!(b["rule"], "witnessed-never-executed");
        assert_eq!(b["delta"], 0);
        assert_eq!(b["evidence"][0]["kind"], "micro-witness");
    }

    #[test]
    fn executed_code_takes_the_policys_exposure_and_says_by_how_much() {
        let v = with_runtime(verdict(Status::Affected, None), "executed");
        let settings = Settings {
            human_impact: HumanImpact::VeryHigh,
            ..Settings::default()
        };
        let doc = score_of(vec![v.clone()], &settings, Some("sha256:pol"));
        let e = &doc["vulnerabilities"][0];
        assert_eq!(point(e, Exposure::ID), "O");
        // (N, O, Y, VH) is Out-of-Cycle (7); at the baseline (N, C, Y, VH) Scheduled (4).
        assert_eq!(e["outcome"]["value"], "O");
        assert_eq!(e["score"], 7);
        assert_eq!(breakdown(e, Exposure::ID)["delta"], 3);
        assert_eq!(breakdown(e, HumanImpact::ID)["rule"], "policy");
        assert_eq!(
            breakdown(e, HumanImpact::ID)["evidence"][0]["digest"],
            "sha256:pol"
        );
        let controlled = Settings {
            executed_exposure: Exposure::Controlled,
            ..settings
        };
        let doc = score_of(vec![v], &controlled, Some("sha256:pol"));
        assert_eq!(point(&doc["vulnerabilities"][0], Exposure::ID), "C");
    }

    #[test]
    fn exploitation_comes_from_the_policys_lists_by_id_or_alias() {
        let settings = Settings {
            active_exploitation: vec!["GHSA-xxxx".into()],
            human_impact: HumanImpact::High,
            ..Settings::default()
        };
        let v = with_runtime(verdict(Status::Affected, None), "executed");
        let doc = score_of(vec![v.clone()], &settings, Some("sha256:pol"));
        let e = &doc["vulnerabilities"][0];
        assert_eq!(point(e, Exploitation::ID), "A");
        // (A, O, Y, H) is Immediate; (N, O, Y, H) Scheduled.
        assert_eq!(e["score"], 10);
        assert_eq!(breakdown(e, Exploitation::ID)["delta"], 6);
        assert_eq!(
            breakdown(e, Exploitation::ID)["rule"],
            "policy-active-exploitation"
        );
        let poc = Settings {
            public_poc: vec!["CVE-2026-0001".into()],
            ..Settings::default()
        };
        let doc = score_of(vec![v.clone()], &poc, None);
        assert_eq!(point(&doc["vulnerabilities"][0], Exploitation::ID), "P");
        let doc = score_of(vec![v], &Settings::default(), None);
        assert_eq!(point(&doc["vulnerabilities"][0], Exploitation::ID), "N");
    }

    #[test]
    fn present_code_without_runtime_evidence_sits_at_the_baseline() {
        let doc = score_of(
            vec![verdict(Status::UnderInvestigation, None)],
            &Settings::default(),
            None,
        );
        let e = &doc["vulnerabilities"][0];
        assert_eq!(point(e, Exposure::ID), "C");
        assert_eq!(breakdown(e, Exposure::ID)["rule"], "present");
        assert_eq!(breakdown(e, Exposure::ID)["delta"], 0);
        assert_eq!(e["score"], 4);
        assert_eq!(doc["outcomes"]["scheduled"], 1);
    }

    #[test]
    fn the_aggregate_is_the_highest_score_and_verdicts_are_sorted() {
        let mut late = verdict(Status::UnderInvestigation, None);
        late.vulnerability = "CVE-2026-9999".into();
        let early = with_runtime(verdict(Status::Affected, None), "executed");
        let doc = score_of(vec![late, early], &Settings::default(), None);
        assert_eq!(doc["vulnerabilities"][0]["vulnerability"], "CVE-2026-0001");
        assert_eq!(
            doc["score"],
            4.max(doc["vulnerabilities"][0]["score"].as_u64().unwrap())
        );
        let kinds: Vec<&str> = doc["inputs"]["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["advisory", "funcproof", "micro-witness", "sbom"]);
    }

    #[test]
    fn a_prior_not_affected_makes_a_verdict_not_applicable_unless_it_ran() {
        let openvex =
            br#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1",
            "author": "Vendor", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "GHSA-xxxx"},
              "products": [{"@id": "pkg:oci/app"}],
              "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}"#;
        let read = stella_vex::read::read(openvex, &Default::default()).expect("OpenVEX");
        let vex = vec![(read.canonical_id.to_string(), read.document)];
        let a = assessment(vec![verdict(Status::UnderInvestigation, None)]);
        let adv = BTreeMap::new();
        let make = |a: &Assessment| {
            predicate(&Input {
                assessment: a,
                settings: &Settings::default(),
                policy: None,
                advisories: &adv,
                runtime: &[],
                vex: &vex,
                seed: 0,
                replay: json!({}),
            })
            .unwrap()
        };
        let doc = make(&a);
        let e = &doc["vulnerabilities"][0];
        assert_eq!(e["applicable"], false, "{e:#}");
        assert_eq!(breakdown(e, Exposure::ID)["rule"], "vex-not-affected");
        assert_eq!(
            breakdown(e, Exposure::ID)["evidence"][0]["digest"],
            json!(vex[0].0)
        );
        // Execution outranks the claim.
        let ran = assessment(vec![with_runtime(
            verdict(Status::Affected, None),
            "executed",
        )]);
        let doc = make(&ran);
        assert_eq!(doc["vulnerabilities"][0]["applicable"], true);
        assert_eq!(
            breakdown(&doc["vulnerabilities"][0], Exposure::ID)["rule"],
            "executed"
        );
        // Another image's claim says nothing here.
        let mut other = assessment(vec![verdict(Status::UnderInvestigation, None)]);
        other.subject = "pkg:oci/other".into();
        assert_eq!(make(&other)["vulnerabilities"][0]["applicable"], true);
    }

    #[test]
    fn the_seed_is_recorded_and_moves_no_number() {
        let a = assessment(vec![verdict(Status::UnderInvestigation, None)]);
        let adv = BTreeMap::new();
        let make = |seed| {
            predicate(&Input {
                assessment: &a,
                settings: &Settings::default(),
                policy: None,
                advisories: &adv,
                runtime: &[],
                vex: &[],
                seed,
                replay: json!({"seed": seed}),
            })
            .unwrap()
        };
        let (one, two) = (make(1), make(2));
        assert_eq!(one["inputs"]["seed"], 1);
        assert_eq!(two["inputs"]["seed"], 2);
        assert_ne!(one["replayToken"], two["replayToken"]);
        assert_eq!(one["vulnerabilities"], two["vulnerabilities"]);
        assert_eq!(
            stella_core::jcs::to_canonical(&make(1)).unwrap(),
            stella_core::jcs::to_canonical(&one).unwrap()
        );
    }

    #[test]
    fn the_policy_section_is_validated_with_its_pointer() {
        let ok = Settings::from_policy(&json!({"schema": "stella.vex-policy/v1", "score": {
            "executedExposure": "controlled", "humanImpact": "very_high",
            "activeExploitation": ["CVE-2", "CVE-1", "CVE-1"]}}))
        .unwrap();
        assert_eq!(ok.executed_exposure, Exposure::Controlled);
        assert_eq!(ok.active_exploitation, ["CVE-1", "CVE-2"]);
        assert_eq!(
            Settings::from_policy(&json!({})).unwrap(),
            Settings::default()
        );
        let err = Settings::from_policy(&json!({"score": {"humanImpact": "huge"}})).unwrap_err();
        assert!(err.to_string().starts_with("/score:"), "{err}");
        let err = Settings::from_policy(&json!({"score": {"exposure": "open"}})).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = Settings::from_policy(&json!({"score": {"publicPoc": [" "]}})).unwrap_err();
        assert!(err.to_string().starts_with("/score/publicPoc/0"), "{err}");
    }
}
