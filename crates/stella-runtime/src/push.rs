//! The fleet push: what `stella agent` sends to `stella serve` every interval — a profile's
//! stacks aggregated per (image, BuildID, function, window), so the server keeps counts, not
//! stacks.
//!
//! JSON shape (`stella.fleet.push/v1`, camelCase):
//!
//! ```text
//! { "schema": "stella.fleet.push/v1", "batch": "<agent>-<seq>-<hash>", "agent": "node-a",
//!   "window": {"start": "2026-…Z", "end": "2026-…Z", "sampledSeconds": 10.0},
//!   "windowSeconds": 60,
//!   "observations": [{"image": "sha256:…", "buildId": "…", "function": "parse",
//!                     "windowStart": 1796083200, "selfSamples": 12, "totalSamples": 40,
//!                     "calls": 0}] }
//! ```
//!
//! How a profile is counted ([`observations`]): for every stack, each (BuildID, function) on it
//! — a frame's function and the functions inlined at that frame — counts the stack's samples
//! once in `totalSamples` however often it recurs; the leaf frame's function (and what is
//! inlined there) counts them in `selfSamples`. A frame of a binary whose function could not be
//! named counts as the function `unknown` of that BuildID; frames without a BuildID (kernel,
//! JIT, anonymous) are not counted, since no binary of an image can be tied to them. Witness
//! reports add their call counts in `calls`.
//!
//! [`Push::check`] is what the server applies before counting anything: the schema, a batch id
//! and agent of sane length, windows aligned to `windowSeconds`, BuildIDs in lower-case hex,
//! images as `sha256:<64 hex>`, bounded counts and sizes.
//!
//! Not here: sampling (`sampler`), symbolisation (`symbolize`), storing (`stella-store`),
//! HTTP (`stella-server`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::profile::{Profile, Window};
use crate::witness::WitnessReport;

/// Schema id of a push.
pub const SCHEMA: &str = "stella.fleet.push/v1";

/// The most observations one push carries.
pub const MAX_OBSERVATIONS: usize = 100_000;

/// The function a frame of a binary counts as when it could not be named.
pub const UNKNOWN_FUNCTION: &str = "unknown";

/// One push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Push {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Unique per push, the same when the push is retried.
    pub batch: String,
    /// The agent pushing (its token must be this agent's).
    pub agent: String,
    /// The time the push covers.
    pub window: Window,
    /// The length of the windows observations are counted in, seconds.
    pub window_seconds: u64,
    /// The counts.
    pub observations: Vec<PushObservation>,
}

/// Counts for one function of one binary in one window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushObservation {
    /// The image the process ran from (`sha256:<hex>`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The binary's GNU BuildID, lower-case hex.
    pub build_id: String,
    /// The function, or [`UNKNOWN_FUNCTION`].
    pub function: String,
    /// The window's start, Unix seconds, a multiple of the push's `windowSeconds`.
    pub window_start: i64,
    /// Samples whose leaf frame is in the function.
    pub self_samples: u64,
    /// Samples with the function on the stack, once per stack.
    pub total_samples: u64,
    /// Calls a witness counted.
    pub calls: u64,
}

/// Why a push is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct PushError {
    /// Where in the push (a JSON pointer).
    pub pointer: String,
    /// What is wrong.
    pub reason: String,
}

fn refuse(pointer: impl Into<String>, reason: impl Into<String>) -> PushError {
    PushError {
        pointer: pointer.into(),
        reason: reason.into(),
    }
}

fn is_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 200
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b))
}

impl Push {
    /// What the server checks before counting anything (see the module docs).
    ///
    /// # Errors
    /// The first problem, with its JSON pointer.
    pub fn check(&self) -> Result<(), PushError> {
        if self.schema != SCHEMA {
            return Err(refuse(
                "/schema",
                format!("{:?} is not {SCHEMA}", self.schema),
            ));
        }
        if !is_name(&self.batch) {
            return Err(refuse(
                "/batch",
                "a batch id has 1 to 200 characters of [A-Za-z0-9-_.:@]",
            ));
        }
        if !is_name(&self.agent) {
            return Err(refuse(
                "/agent",
                "an agent name has 1 to 200 characters of [A-Za-z0-9-_.:@]",
            ));
        }
        if !(1..=86_400).contains(&self.window_seconds) {
            return Err(refuse(
                "/windowSeconds",
                "a window is 1 to 86400 seconds long",
            ));
        }
        if self.observations.len() > MAX_OBSERVATIONS {
            return Err(refuse(
                "/observations",
                format!(
                    "{} observations, more than the {MAX_OBSERVATIONS} one push may carry",
                    self.observations.len()
                ),
            ));
        }
        let step = i64::try_from(self.window_seconds).unwrap_or(i64::MAX);
        let mut seen = BTreeSet::new();
        for (i, o) in self.observations.iter().enumerate() {
            let at = |field: &str| format!("/observations/{i}/{field}");
            if let Some(image) = &o.image {
                let ok = image
                    .strip_prefix("sha256:")
                    .is_some_and(|h| h.len() == 64 && is_hex(h));
                if !ok {
                    return Err(refuse(
                        at("image"),
                        "an image is sha256:<64 lower-case hex>",
                    ));
                }
            }
            if o.build_id.is_empty() || o.build_id.len() > 128 || !is_hex(&o.build_id) {
                return Err(refuse(
                    at("buildId"),
                    "a BuildID is 1 to 128 lower-case hex digits",
                ));
            }
            if o.function.is_empty() || o.function.len() > 4096 {
                return Err(refuse(
                    at("function"),
                    "a function name has 1 to 4096 bytes",
                ));
            }
            if o.window_start < 0 || o.window_start % step != 0 {
                return Err(refuse(
                    at("windowStart"),
                    format!(
                        "{} is not a non-negative multiple of windowSeconds ({step})",
                        o.window_start
                    ),
                ));
            }
            if o.self_samples > o.total_samples {
                return Err(refuse(
                    at("selfSamples"),
                    "more samples with the function as leaf than with it on the stack",
                ));
            }
            if o.total_samples > i64::MAX as u64 || o.calls > i64::MAX as u64 {
                return Err(refuse(at("totalSamples"), "a count above 2^63 - 1"));
            }
            if !seen.insert((&o.image, &o.build_id, &o.function, o.window_start)) {
                return Err(refuse(
                    at("function"),
                    "the same (image, BuildID, function, window) twice in one push",
                ));
            }
        }
        Ok(())
    }
}

type Key = (Option<String>, String, String);

#[derive(Default)]
struct Counts {
    self_samples: u64,
    total_samples: u64,
    calls: u64,
}

/// `profile`'s and `witnesses`' counts per (image, BuildID, function), in the window of
/// `window_seconds` that holds the profile's start (the epoch's when it has none), sorted.
pub fn observations(
    profile: &Profile,
    witnesses: &[WitnessReport],
    window_seconds: u64,
) -> Vec<PushObservation> {
    let step = i64::try_from(window_seconds.max(1)).unwrap_or(i64::MAX);
    let start = |window: Option<&Window>| {
        window
            .and_then(|w| stella_core::time::parse_rfc3339(&w.start).ok())
            .map_or(0, |t| t.max(0))
    };
    let window_start = {
        let s = start(profile.window.as_ref());
        s - s % step
    };
    let mut counts: BTreeMap<(i64, Key), Counts> = BTreeMap::new();
    for stack in &profile.stacks {
        let mut on_stack: BTreeSet<Key> = BTreeSet::new();
        for (depth, frame) in stack.frames.iter().enumerate() {
            let Some(build_id) = frame.build_id() else {
                continue;
            };
            let mut names: Vec<&str> = match &frame.symbol {
                Some(symbol) => std::iter::once(symbol.function.as_str())
                    .chain(symbol.inlined.iter().map(|i| i.function.as_str()))
                    .collect(),
                None => vec![UNKNOWN_FUNCTION],
            };
            names.dedup();
            for name in names {
                let key = (stack.image.clone(), build_id.to_owned(), name.to_owned());
                if depth == 0 {
                    let c = counts.entry((window_start, key.clone())).or_default();
                    c.self_samples = c.self_samples.saturating_add(stack.count);
                }
                on_stack.insert(key);
            }
        }
        for key in on_stack {
            let c = counts.entry((window_start, key)).or_default();
            c.total_samples = c.total_samples.saturating_add(stack.count);
        }
    }
    for report in witnesses {
        let s = start(Some(&report.window));
        let at = s - s % step;
        for w in &report.witnesses {
            let Some(build_id) = w.build_id.as_deref() else {
                continue;
            };
            let key = (
                report.image.clone(),
                build_id.to_owned(),
                w.function.clone(),
            );
            let c = counts.entry((at, key)).or_default();
            c.calls = c.calls.saturating_add(w.calls);
        }
    }
    counts
        .into_iter()
        .map(
            |((window_start, (image, build_id, function)), c)| PushObservation {
                image,
                build_id,
                function,
                window_start,
                self_samples: c.self_samples,
                total_samples: c.total_samples,
                calls: c.calls,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(
        build_id: Option<&str>,
        function: Option<&str>,
        inlined: &[&str],
    ) -> serde_json::Value {
        let mut f = match build_id {
            Some(b) => serde_json::json!({"kind": "file", "buildId": b, "fileOffset": "0x10"}),
            None => serde_json::json!({"kind": "kernel", "address": "0xffff0000"}),
        };
        if let Some(name) = function {
            f["symbol"] = serde_json::json!({
                "function": name, "offset": "0x1", "source": "file",
                "inlined": inlined.iter().map(|i| serde_json::json!({"function": i})).collect::<Vec<_>>(),
            });
        }
        f
    }

    fn profile(stacks: serde_json::Value) -> Profile {
        serde_json::from_value(serde_json::json!({
            "schema": crate::profile::SCHEMA, "backend": "ebpf", "hz": 49,
            "target": {"kind": "all"},
            "window": {"start": "2026-12-01T00:00:30Z", "end": "2026-12-01T00:00:40Z",
                       "sampledSeconds": 10.0},
            "stats": {"samples": 0, "lost": 0, "userStacksMissing": 0,
                      "kernelStacksMissing": 0, "frames": 0, "unknownFrames": 0},
            "stacks": stacks,
        }))
        .unwrap()
    }

    const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn stacks_count_once_per_function_and_leaves_count_as_self() {
        let p = profile(serde_json::json!([
            // Recursion: `walk` twice on one stack counts the stack once.
            {"count": 5, "image": IMAGE, "frames": [
                frame(None, None, &[]),
                frame(Some("aa"), Some("walk"), &["step"]),
                frame(Some("aa"), Some("walk"), &[]),
                frame(Some("aa"), Some("main"), &[]),
            ]},
            {"count": 3, "image": IMAGE, "frames": [
                frame(Some("aa"), None, &[]),
                frame(Some("aa"), Some("main"), &[]),
            ]},
            {"count": 2, "frames": [frame(Some("bb"), Some("loop"), &[])]},
        ]));
        let got: Vec<_> = observations(&p, &[], 60)
            .into_iter()
            .map(|o| {
                (
                    o.image.is_some(),
                    o.build_id,
                    o.function,
                    o.window_start,
                    o.self_samples,
                    o.total_samples,
                )
            })
            .collect();
        let start = stella_core::time::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        let row = |image: bool, b: &str, f: &str, s: u64, t: u64| {
            (image, b.to_owned(), f.to_owned(), start, s, t)
        };
        assert_eq!(
            got,
            vec![
                // The kernel leaf has no BuildID: the first user frame is not a leaf.
                row(false, "bb", "loop", 2, 2),
                row(true, "aa", "main", 0, 8),
                row(true, "aa", "step", 0, 5),
                row(true, "aa", UNKNOWN_FUNCTION, 3, 3),
                row(true, "aa", "walk", 0, 5),
            ]
        );
    }

    fn push(observations: Vec<PushObservation>) -> Push {
        Push {
            schema: SCHEMA.to_owned(),
            batch: "node-a-1".to_owned(),
            agent: "node-a".to_owned(),
            window: Window {
                start: "2026-12-01T00:00:00Z".to_owned(),
                end: "2026-12-01T00:01:00Z".to_owned(),
                sampled_seconds: 10.0,
            },
            window_seconds: 60,
            observations,
        }
    }

    fn obs() -> PushObservation {
        PushObservation {
            image: Some(IMAGE.to_owned()),
            build_id: "ab12".to_owned(),
            function: "parse".to_owned(),
            window_start: 120,
            self_samples: 1,
            total_samples: 2,
            calls: 0,
        }
    }

    #[test]
    fn checks_name_the_field_at_fault() {
        assert_eq!(push(vec![obs()]).check(), Ok(()));
        type Change = Box<dyn Fn(&mut Push)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|p| p.schema = "other".to_owned()), "/schema"),
            (Box::new(|p| p.batch = String::new()), "/batch"),
            (Box::new(|p| p.agent = "a/../b".to_owned()), "/agent"),
            (Box::new(|p| p.window_seconds = 0), "/windowSeconds"),
            (
                Box::new(|p| p.observations[0].image = Some("sha256:XY".to_owned())),
                "/observations/0/image",
            ),
            (
                Box::new(|p| p.observations[0].build_id = "AB12".to_owned()),
                "/observations/0/buildId",
            ),
            (
                Box::new(|p| p.observations[0].function = String::new()),
                "/observations/0/function",
            ),
            (
                Box::new(|p| p.observations[0].window_start = 121),
                "/observations/0/windowStart",
            ),
            (
                Box::new(|p| p.observations[0].window_start = -60),
                "/observations/0/windowStart",
            ),
            (
                Box::new(|p| p.observations[0].self_samples = 3),
                "/observations/0/selfSamples",
            ),
            (
                Box::new(|p| {
                    p.observations[0].self_samples = 0;
                    p.observations[0].total_samples = u64::MAX;
                }),
                "/observations/0/totalSamples",
            ),
            (
                Box::new(|p| p.observations.push(obs())),
                "/observations/1/function",
            ),
        ];
        for (change, pointer) in cases {
            let mut p = push(vec![obs()]);
            change(&mut p);
            assert_eq!(p.check().map_err(|e| e.pointer), Err(pointer.to_owned()));
        }
        let mut p = push(Vec::new());
        p.observations = vec![obs(); MAX_OBSERVATIONS + 1];
        assert_eq!(
            p.check().map_err(|e| e.pointer),
            Err("/observations".to_owned())
        );
    }

    #[test]
    fn unknown_fields_are_refused_when_read() {
        let mut v = serde_json::to_value(push(vec![obs()])).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Push>(v).is_err());
    }
}
