//! Checks no JSON schema can express: identities and references across the whole document.
//!
//! - every `bom-ref` is unique in the document (CycloneDX: "unique within the BOM"); the same
//!   element written out twice (cdxgen repeats its tool component under `annotations`) names one
//!   thing and is accepted, two different elements sharing a `bom-ref` are not;
//! - every reference resolves: `dependencies[].ref`, `dependsOn[]`, `provides[]`,
//!   `vulnerabilities[].affects[].ref`, `compositions[]` assemblies/dependencies/vulnerabilities,
//!   `annotations[].subjects[]` — to a local `bom-ref`, or as a BOM-Link
//!   (`urn:cdx:<serial>/<version>[#<bom-ref>]`) that is well-formed and, when it names this very
//!   BOM, resolves here too;
//! - every `purl` parses as a package URL;
//! - every hash has the hex length its algorithm produces;
//! - each component appears at most once as a `dependencies[].ref`.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::{Check, Problem};

/// Runs the semantic checks.
pub(super) fn check(doc: &Value) -> Vec<Problem> {
    let mut s = Semantic::default();
    s.collect(doc, "", None);
    s.references(doc);
    s.problems
}

#[derive(Default)]
struct Semantic<'v> {
    /// `bom-ref` → pointer and element of its first definition.
    refs: BTreeMap<String, (String, &'v Map<String, Value>)>,
    problems: Vec<Problem>,
}

/// Hex length of each CycloneDX hash algorithm's output; BLAKE3 is extendable, so any of the
/// lengths the schema allows is accepted for it.
fn hash_hex_len(alg: &str) -> Option<&'static [usize]> {
    Some(match alg {
        "MD5" => &[32],
        "SHA-1" => &[40],
        "SHA-256" | "SHA3-256" | "BLAKE2b-256" | "Streebog-256" => &[64],
        "SHA-384" | "SHA3-384" | "BLAKE2b-384" => &[96],
        "SHA-512" | "SHA3-512" | "BLAKE2b-512" | "Streebog-512" => &[128],
        "BLAKE3" => &[32, 40, 64, 96, 128],
        _ => return None,
    })
}

impl<'v> Semantic<'v> {
    fn problem(&mut self, pointer: String, message: String) {
        self.problems.push(Problem {
            pointer,
            message,
            check: Check::Semantic,
        });
    }

    /// One walk over the whole document for bom-refs, purls and hashes, wherever they occur.
    fn collect(&mut self, value: &'v Value, pointer: &str, key: Option<&str>) {
        match value {
            Value::Object(map) => {
                self.object_members(map, pointer, key);
                for (k, v) in map {
                    let here = format!("{pointer}/{}", stella_core::jcs::escape_pointer_segment(k));
                    self.collect(v, &here, Some(k));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.collect(v, &format!("{pointer}/{i}"), key);
                }
            }
            _ => {}
        }
    }

    fn object_members(&mut self, map: &'v Map<String, Value>, pointer: &str, key: Option<&str>) {
        if let Some(Value::String(r)) = map.get("bom-ref") {
            let here = format!("{pointer}/bom-ref");
            if !r.is_empty() {
                match self.refs.get(r) {
                    Some((_, first)) if *first == map => {}
                    Some((first, _)) => {
                        let message = format!(
                            "bom-ref {r:?} is already used at {first} by a different element"
                        );
                        self.problem(here, message);
                    }
                    None => {
                        self.refs.insert(r.clone(), (here, map));
                    }
                }
            }
        }
        if let Some(Value::String(purl)) = map.get("purl")
            && let Err(e) = packageurl::PackageUrl::from_str(purl)
        {
            self.problem(
                format!("{pointer}/purl"),
                format!("{purl:?} is not a valid package URL: {e}"),
            );
        }
        // A hash object: `{alg, content}` inside a `hashes` array.
        if key == Some("hashes")
            && let (Some(Value::String(alg)), Some(Value::String(content))) =
                (map.get("alg"), map.get("content"))
            && let Some(lengths) = hash_hex_len(alg)
            && !lengths.contains(&content.len())
        {
            self.problem(
                format!("{pointer}/content"),
                format!(
                    "a {alg} hash is {} hex digits, this one has {}",
                    lengths
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    content.len()
                ),
            );
        }
    }

    fn references(&mut self, doc: &Value) {
        let serial = doc
            .get("serialNumber")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("urn:uuid:"))
            .map(str::to_owned);
        let version = doc.get("version").and_then(Value::as_u64).unwrap_or(1);
        let here = BomIdentity { serial, version };

        let mut listed: BTreeMap<String, String> = BTreeMap::new();
        for (i, dep) in array(doc, "dependencies") {
            let base = format!("/dependencies/{i}");
            if let Some(r) = dep.get("ref").and_then(Value::as_str) {
                let p = format!("{base}/ref");
                self.resolve(&here, r, &p);
                if let Some(first) = listed.get(r) {
                    let message = format!("{r:?} already has a dependencies entry at {first}");
                    self.problem(p, message);
                } else {
                    listed.insert(r.to_owned(), p);
                }
            }
            for key in ["dependsOn", "provides"] {
                for (j, target) in array(dep, key) {
                    if let Some(t) = target.as_str() {
                        self.resolve(&here, t, &format!("{base}/{key}/{j}"));
                    }
                }
            }
        }
        for (i, vuln) in array(doc, "vulnerabilities") {
            for (j, affects) in array(vuln, "affects") {
                if let Some(r) = affects.get("ref").and_then(Value::as_str) {
                    self.resolve(&here, r, &format!("/vulnerabilities/{i}/affects/{j}/ref"));
                }
            }
        }
        for (i, comp) in array(doc, "compositions") {
            for key in ["assemblies", "dependencies", "vulnerabilities"] {
                for (j, r) in array(comp, key) {
                    if let Some(r) = r.as_str() {
                        self.resolve(&here, r, &format!("/compositions/{i}/{key}/{j}"));
                    }
                }
            }
        }
        for (i, ann) in array(doc, "annotations") {
            for (j, r) in array(ann, "subjects") {
                if let Some(r) = r.as_str() {
                    self.resolve(&here, r, &format!("/annotations/{i}/subjects/{j}"));
                }
            }
        }
    }

    fn resolve(&mut self, here: &BomIdentity, reference: &str, pointer: &str) {
        if reference.is_empty() {
            return; // reported by the structural checks
        }
        if let Some(link) = reference.strip_prefix("urn:cdx:") {
            self.resolve_link(here, reference, link, pointer);
        } else if !self.refs.contains_key(reference) {
            self.problem(
                pointer.to_owned(),
                format!("reference {reference:?} matches no bom-ref in this document"),
            );
        }
    }

    /// BOM-Link: `urn:cdx:<serial-uuid>/<version>[#<percent-encoded bom-ref>]`.
    fn resolve_link(&mut self, here: &BomIdentity, reference: &str, link: &str, pointer: &str) {
        let (document, fragment) = match link.split_once('#') {
            Some((d, f)) => (d, Some(f)),
            None => (link, None),
        };
        let parsed = document
            .split_once('/')
            .filter(|(uuid, _)| is_uuid(uuid))
            .and_then(|(uuid, v)| Some((uuid, v.parse::<u64>().ok().filter(|&v| v >= 1)?)));
        let Some((uuid, version)) = parsed else {
            self.problem(
                pointer.to_owned(),
                format!("{reference:?} is not a valid BOM-Link (urn:cdx:<serial-uuid>/<version>[#<bom-ref>])"),
            );
            return;
        };
        // A link into another BOM cannot be resolved from this document alone.
        if here.serial.as_deref() != Some(uuid) || here.version != version {
            return;
        }
        let Some(fragment) = fragment else {
            return;
        };
        let target = percent_decode(fragment);
        if !self.refs.contains_key(&target) {
            self.problem(
                pointer.to_owned(),
                format!("BOM-Link {reference:?} points into this BOM, but no bom-ref {target:?} exists here"),
            );
        }
    }
}

struct BomIdentity {
    serial: Option<String>,
    version: u64,
}

fn array<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = (usize, &'v Value)> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// Decodes `%XX` escapes (BOM-Link fragments are percent-encoded bom-refs); malformed escapes
/// are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// 8-4-4-4-12 lower-case hex: the UUID of a BOM-Link (`urn:cdx:<uuid>/<version>`), written as the
/// schema's `serialNumber` pattern writes it.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}
