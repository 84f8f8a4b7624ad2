//! The printing layer: how every command's results meet a person or a program.
//!
//! - Machine output (`--json`) goes through [`json`]: the document gets a top-level
//!   `"schema": "stella.<command>/v1"` so a reader knows what it holds and which version, and
//!   (in debug builds, so every end-to-end test checks it) its field names are camelCase, the
//!   convention of the FuncProof and runtime documents.
//! - Errors are written as one line by [`error_line`], which says each phrase of an error's
//!   chain once.
//! - Counts read as English with [`count`] (`1 binary`, `2 binaries`, never `1 binary(s)`).
//!
//! Not here: what a command reports (each command builds its report from the library crates'
//! typed results), where files are written ([`crate::output`]) and progress bars
//! ([`crate::bars`]).

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;

use crate::exit::CliError;
use crate::output::write_stdout;

/// The kind and version of a command's `--json` document: `stella.<command>/v1`.
///
/// Where the document holds things that are not its own fields, it says so by JSON pointer
/// patterns, in which `*` stands for any one segment and `**` for any number of them.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The command path, words joined by dots: `scan`, `sbom.id`, `funcproof.verify`.
    command: &'static str,
    /// Objects whose keys are data (file paths, section names, annotation keys, digest
    /// algorithms), not field names: their keys are not held to camelCase, their values are.
    data_maps: &'static [&'static str],
    /// Documents of other formats carried whole (a signed predicate, an OCI manifest): not
    /// checked at all.
    embedded: &'static [&'static str],
}

impl Schema {
    /// The `--json` document of `command` (`"sbom.id"` for `stella sbom id`).
    pub const fn new(command: &'static str) -> Self {
        Schema {
            command,
            data_maps: &[],
            embedded: &[],
        }
    }

    /// Declares the objects whose keys are data (`/sections`, `/referrers/**/annotations`).
    pub const fn with_data_maps(self, data_maps: &'static [&'static str]) -> Self {
        Schema { data_maps, ..self }
    }

    /// Declares the values that are documents of another format (`/predicate`).
    pub const fn with_embedded(self, embedded: &'static [&'static str]) -> Self {
        Schema { embedded, ..self }
    }

    /// `stella.<command>/v1`.
    pub fn id(&self) -> String {
        format!("stella.{}/v1", self.command)
    }

    /// What keeps `document` from being this command's document: each field name that is not
    /// camelCase (as `/pointer/to/key`), outside the data maps and embedded documents, and a
    /// `schema` field of its own (the printing layer sets it).
    pub fn key_problems(&self, document: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        match document {
            Value::Object(map) if map.contains_key("schema") => {
                problems.push("/schema is set by the printing layer".to_owned());
            }
            Value::Object(_) => {}
            _ => problems.push("the document is not a JSON object".to_owned()),
        }
        self.walk_keys(document, &mut Vec::new(), &mut problems);
        problems
    }

    fn walk_keys(&self, value: &Value, path: &mut Vec<String>, problems: &mut Vec<String>) {
        if self.embedded.iter().any(|p| pointer_matches(p, path)) {
            return;
        }
        match value {
            Value::Object(map) => {
                let keys_are_data = self.data_maps.iter().any(|p| pointer_matches(p, path));
                for (key, child) in map {
                    path.push(key.clone());
                    if !keys_are_data && !is_camel_case(key) {
                        problems.push(pointer(path));
                    }
                    self.walk_keys(child, path, problems);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(i.to_string());
                    self.walk_keys(child, path, problems);
                    path.pop();
                }
            }
            _ => {}
        }
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
        let problems = schema.key_problems(&value);
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

/// `/a/b~1c` for the segments `a`, `b/c` (RFC 6901 escaping).
fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Whether `pattern` (a JSON pointer in which `*` matches any one segment and `**` any number
/// of them) names `path`.
fn pointer_matches(pattern: &str, path: &[String]) -> bool {
    let segments: Vec<String> = pattern
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    segments_match(&segments, path)
}

fn segments_match(pattern: &[String], path: &[String]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((p, rest)), _) if p == "**" => {
            segments_match(rest, path)
                || path
                    .split_first()
                    .is_some_and(|(_, tail)| segments_match(pattern, tail))
        }
        (Some((p, rest)), Some((segment, tail))) => {
            (p == "*" || p == segment) && segments_match(rest, tail)
        }
        _ => false,
    }
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
            Schema::new("predicates").key_problems(&json!(["sbom"])),
            ["the document is not a JSON object"]
        );
    }

    /// The key convention over `--json` documents as the commands print them today (trimmed):
    /// what breaks it is named, declared data and embedded documents are left alone.
    #[test]
    fn key_convention_names_every_offending_field() {
        // `stella scan --json`.
        let scan = json!({
            "image": "oci-layout:.stella/oci:app",
            "binary_paths": 3,
            "key_created": false,
            "sbom": {"canonical_id": "sha256:00", "components": 3},
            "attached": [{"kind": "sbom", "digest": "sha256:11"}],
        });
        assert_eq!(
            Schema::new("scan").key_problems(&scan),
            ["/binary_paths", "/key_created", "/sbom/canonical_id"]
        );
        // `stella key generate --json`; `keyid` is one lower-case word to a machine, so the
        // check cannot see that it should be `keyId` (the report to the owners lists it).
        let generated = json!({"algorithm": "ed25519", "keyid": "x", "private_key": "k.key"});
        assert_eq!(
            Schema::new("key.generate").key_problems(&generated),
            ["/private_key"]
        );
        // `stella oci referrers --json`: annotations at every depth of the tree are data.
        let tree = json!({
            "digest": "sha256:00",
            "referrers": [{
                "artifactType": "application/vnd.stellaops.record+json",
                "annotations": {"org.opencontainers.image.created": "now"},
                "referrers": [{"annotations": {"dev.stellaops.kind": "signatures"}}],
            }],
        });
        let referrers = Schema::new("oci.referrers");
        assert_eq!(
            referrers.key_problems(&tree),
            [
                "/referrers/0/annotations/org.opencontainers.image.created",
                "/referrers/0/referrers/0/annotations/dev.stellaops.kind",
            ]
        );
        let referrers = referrers.with_data_maps(&["/**/annotations"]);
        assert!(referrers.key_problems(&tree).is_empty());
        // `stella verify-attestation --json`: the predicate is the signed document itself, in
        // its own format (a FuncProof keyed by section name, an SBOM wrapper in snake_case).
        let verified = json!({
            "verified": true,
            "predicate": {"bom_format": "CycloneDX", "sections": {".text": {}}},
            "subjects": [{"name": "libz.so.1", "digest": {"sha256": "00"}}],
        });
        let verify = Schema::new("verify-attestation");
        assert_eq!(
            verify.key_problems(&verified),
            ["/predicate/bom_format", "/predicate/sections/.text"]
        );
        assert!(
            verify
                .with_embedded(&["/predicate"])
                .key_problems(&verified)
                .is_empty()
        );
        // `stella sbom validate --json` names the schema it validated against as `schema`.
        assert_eq!(
            Schema::new("sbom.validate").key_problems(&json!({"valid": true, "schema": "builtin"})),
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
}
