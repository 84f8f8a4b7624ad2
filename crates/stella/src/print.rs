//! The printing layer: how every command's results meet a person or a program.
//!
//! - Machine output (`--json`) goes through [`json`]: the document gets a top-level
//!   `"schema": "stella.<command>/v1"` so a reader knows what it holds and which version, and
//!   (in debug builds, so every end-to-end test checks it) its field names are camelCase, the
//!   convention of the FuncProof and runtime documents.
//! - Errors are written as one line by [`error_line`], which says each phrase of an error's
//!   chain once.
//! - Counts read as English with [`count`] (`1 binary`, `2 binaries`, never `1 binary(s)`).
//! - Byte progress on a terminal uses [`bytes_bar`], which shows no time estimate until it rests
//!   on a few seconds of measured rate.
//!
//! Not here: what a command reports (each command builds its report from the library crates'
//! typed results) and where files are written ([`crate::output`]).

// The commands adopt these one by one (their files are being moved into the library crates);
// until each has, some items are used only by the tests.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;

use crate::exit::CliError;
use crate::output::write_stdout;

/// The kind and version of a command's `--json` document: `stella.<command>/v1`.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The command path, words joined by dots: `scan`, `sbom.id`, `funcproof.verify`.
    command: &'static str,
    /// JSON pointers of objects whose keys are data (file paths, section names, annotation
    /// keys), not field names: they are not held to camelCase. `*` stands for any one segment.
    data_maps: &'static [&'static str],
}

impl Schema {
    /// The `--json` document of `command` (`"sbom.id"` for `stella sbom id`).
    pub const fn new(command: &'static str) -> Self {
        Schema {
            command,
            data_maps: &[],
        }
    }

    /// Declares the objects (by JSON pointer, `*` for any segment) whose keys are data.
    pub const fn with_data_maps(self, data_maps: &'static [&'static str]) -> Self {
        Schema { data_maps, ..self }
    }

    /// `stella.<command>/v1`.
    pub fn id(&self) -> String {
        format!("stella.{}/v1", self.command)
    }
}

/// A command's document with its schema first.
#[derive(Serialize)]
struct Stamped<'a, T: ?Sized> {
    schema: &'a str,
    #[serde(flatten)]
    document: &'a T,
}

/// Prints `document` (which must serialise as a JSON object) on stdout as pretty JSON with its
/// `schema` field first and a final newline.
///
/// # Errors
/// Exit 3 when the document cannot be serialised (it is not an object) or stdout fails.
///
/// # Panics
/// In debug builds, when a field name is not camelCase or the document carries its own `schema`:
/// a programming error that every end-to-end test of the command then reports.
pub fn json<T: Serialize + ?Sized>(schema: &Schema, document: &T) -> Result<(), CliError> {
    let mut text = to_json(schema, document)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// [`json`]'s text, for a command that writes it elsewhere (`-o FILE`).
///
/// # Errors
/// Exit 3 when the document cannot be serialised (it is not an object).
pub fn to_json<T: Serialize + ?Sized>(schema: &Schema, document: &T) -> Result<String, CliError> {
    if cfg!(debug_assertions) {
        let value = serde_json::to_value(document)
            .map_err(|e| CliError::environment(anyhow!("serialising output: {e}")))?;
        let problems = key_problems(&value, schema.data_maps);
        assert!(
            problems.is_empty(),
            "{} output breaks the key convention: {problems:?}",
            schema.id()
        );
    }
    let id = schema.id();
    serde_json::to_string_pretty(&Stamped {
        schema: &id,
        document,
    })
    .map_err(|e| CliError::environment(anyhow!("serialising {id} output: {e}")))
}

/// What keeps `value` from being a command document: each field name that is not camelCase
/// (`/pointer/to/key`), outside the objects `data_maps` declares, and a `schema` field of its
/// own (the printing layer sets it).
pub fn key_problems(value: &Value, data_maps: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    match value {
        Value::Object(map) if map.contains_key("schema") => {
            problems.push("/schema is set by the printing layer".to_owned());
        }
        Value::Object(_) => {}
        _ => problems.push("the document is not a JSON object".to_owned()),
    }
    let mut path = Vec::new();
    walk_keys(value, data_maps, &mut path, &mut problems);
    problems
}

fn walk_keys(
    value: &Value,
    data_maps: &[&str],
    path: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            let keys_are_data = data_maps.iter().any(|p| pointer_matches(p, path));
            for (key, child) in map {
                path.push(key.clone());
                if !keys_are_data && !is_camel_case(key) {
                    problems.push(pointer(path));
                }
                walk_keys(child, data_maps, path, problems);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                walk_keys(child, data_maps, path, problems);
                path.pop();
            }
        }
        _ => {}
    }
}

/// `/a/b~1c` for the segments `a`, `b/c` (RFC 6901 escaping).
fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Whether `pattern` (a JSON pointer whose `*` segments match anything) names `path`.
fn pointer_matches(pattern: &str, path: &[String]) -> bool {
    let segments: Vec<&str> = pattern.split('/').skip(1).collect();
    segments.len() == path.len()
        && segments.iter().zip(path).all(|(want, got)| {
            *want == "*" || want.replace("~1", "/").replace("~0", "~") == got.as_str()
        })
}

/// `canonicalId`, `buildId`, `verified`: a lower-case ASCII letter, then letters and digits.
fn is_camel_case(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// An error as one line for a person: the messages of its chain joined by `: `, each phrase
/// once. A library error often quotes its source in its own message (`{path}: {source}`) and
/// still reports it as its source, and a caller's context often names the path that the error
/// names again; printed naively that reads "x: No such file or directory: No such file or
/// directory" or "/tmp: /tmp: is a directory".
pub fn error_line(error: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        match said.last_mut() {
            _ if text.is_empty() => {}
            // The wrapper already quoted this cause.
            Some(last) if last.contains(&text) => {}
            // This cause repeats its wrapper's context (typically a path) and says more.
            Some(last) if text.contains(last.as_str()) => *last = text,
            _ => said.push(text),
        }
    }
    said.join(": ")
}

/// `1 binary`, `3 binaries`, `0 attestations`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// How long a bar runs before it offers a time estimate: indicatif's rate starts from the first
/// few updates, so an early estimate is noise ("24m left" at the start of a 10 s scan).
pub const ETA_AFTER: Duration = Duration::from_secs(3);

/// `, 12s left` once the bar has run [`ETA_AFTER`] and moved; nothing before.
pub fn time_left(elapsed: Duration, position: u64, eta: Duration) -> String {
    if elapsed < ETA_AFTER || position == 0 || eta.is_zero() {
        return String::new();
    }
    format!(", {} left", indicatif::HumanDuration(eta))
}

/// A progress bar over `total` bytes labelled `label` (`proving binaries`), drawn on stderr
/// only when it is a terminal and the user did not ask for quiet; hidden otherwise.
pub fn bytes_bar(total: u64, label: &str, quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let template = format!(
        "{{spinner}} {label} {{binary_bytes}}/{{binary_total_bytes}} [{{elapsed_precise}}{{time_left}}] {{wide_msg}}"
    );
    let style = indicatif::ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .with_key(
            "time_left",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = out.write_str(&time_left(state.elapsed(), state.pos(), state.eta()));
            },
        );
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn documents_carry_their_schema_first() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct IdOutput {
            canonical_id: &'static str,
            spec_version: &'static str,
        }
        let text = to_json(
            &Schema::new("sbom.id"),
            &IdOutput {
                canonical_id: "sha256:00",
                spec_version: "1.7",
            },
        )
        .unwrap();
        assert!(
            text.starts_with("{\n  \"schema\": \"stella.sbom.id/v1\",\n"),
            "{text}"
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["canonicalId"], "sha256:00");
    }

    #[test]
    fn a_document_that_is_not_an_object_is_refused() {
        let refused = std::panic::catch_unwind(|| to_json(&Schema::new("predicates"), &["sbom"]));
        // Debug builds assert; release builds get serde's refusal to flatten a sequence.
        assert!(matches!(refused, Err(_) | Ok(Err(_))));
        assert_eq!(
            key_problems(&json!(["sbom"]), &[]),
            ["the document is not a JSON object"]
        );
    }

    /// The key convention over the `--json` documents the commands print today: what each
    /// prints now (snake_case and lower-case run-together keys) is named, what they should
    /// print passes.
    #[test]
    fn key_convention_names_every_offending_field() {
        // `stella scan --json` today.
        let scan = json!({
            "image": "oci-layout:.stella/oci:app",
            "sbom": {"canonical_id": "sha256:00", "components": 3},
            "binaries": [{"path": "/usr/bin/x", "build_id": "ab"}],
        });
        assert_eq!(
            key_problems(&scan, &[]),
            ["/binaries/0/build_id", "/sbom/canonical_id"]
        );
        // `stella key public --json` today says `keyid`: camelCase has no way to tell that from
        // one word, so the check cannot find it; the audit in the printing tests lists it.
        assert!(key_problems(&json!({"keyid": "x", "publicKey": "y"}), &[]).is_empty());
        // A FuncProof's sections are keyed by section name and an OCI descriptor's annotations
        // by annotation key: data, declared as such.
        let proof = json!({
            "buildId": "ab",
            "sections": {".text": {"addr": "0x1", "blake3": "00"}},
            "referrers": [{"annotations": {"org.opencontainers.image.created": "now"}}],
        });
        assert_eq!(
            key_problems(&proof, &[]),
            [
                "/referrers/0/annotations/org.opencontainers.image.created",
                "/sections/.text"
            ]
        );
        assert!(
            key_problems(&proof, &["/sections", "/referrers/*/annotations"]).is_empty(),
            "{:?}",
            key_problems(&proof, &["/sections", "/referrers/*/annotations"])
        );
        assert_eq!(
            key_problems(&json!({"schema": "mine"}), &[]),
            ["/schema is set by the printing layer"]
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    fn debug_builds_refuse_snake_case_output() {
        let printed = std::panic::catch_unwind(|| {
            to_json(&Schema::new("scan"), &json!({"canonical_id": "sha256:00"}))
        });
        assert!(printed.is_err());
    }

    #[test]
    fn errors_say_each_phrase_once() {
        // A library error quoting its source in its message ("{path}: {source}").
        let Err(open) = stella_core::file::open_regular(std::path::Path::new("/nonexistent/x"))
        else {
            panic!("/nonexistent/x opened");
        };
        assert_eq!(
            error_line(&anyhow::Error::new(open)),
            "/nonexistent/x: No such file or directory (os error 2)"
        );
        // A context naming the path the error names again.
        let error = anyhow!("/tmp: is a directory, not a regular file").context("/tmp");
        assert_eq!(
            error_line(&error),
            "/tmp: is a directory, not a regular file"
        );
        // Distinct phrases are all kept, outermost first.
        let error = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound))
            .context("reading the key");
        assert_eq!(error_line(&error), "reading the key: entity not found");
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(1, "attestation", "attestations"), "1 attestation");
        assert_eq!(count(0, "attestation", "attestations"), "0 attestations");
        assert_eq!(count(2, "binary", "binaries"), "2 binaries");
    }

    #[test]
    fn no_time_estimate_before_the_rate_is_known() {
        let long = Duration::from_secs(24 * 60);
        // The first updates of a 10 s scan: indicatif estimates 24 minutes.
        assert_eq!(time_left(Duration::from_millis(200), 1 << 20, long), "");
        assert_eq!(time_left(Duration::from_secs(5), 0, long), "");
        assert_eq!(
            time_left(Duration::from_secs(4), 1 << 30, Duration::from_secs(6)),
            ", 6 seconds left"
        );
    }
}
