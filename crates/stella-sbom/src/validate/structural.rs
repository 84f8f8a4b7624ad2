//! Stella's own structural checks: what the official schema says about the parts of a BOM that
//! Stella reads, without needing the schema files.
//!
//! This is not a full re-implementation of the schema: it checks the shape of the BOM root,
//! metadata, components (recursively), services, hashes, licenses, external references,
//! properties, dependencies, compositions and vulnerabilities — required members, types,
//! enumerations and the patterns that identities depend on — and leaves the long tail
//! (formulation, declarations, cryptography, the SPDX licence list) to `--schema-dir`.

use serde_json::{Map, Value};

use super::{Check, Problem};
use crate::model::SpecVersion;

/// Root members of each version (the schema's root `additionalProperties: false`).
fn root_members(version: SpecVersion) -> &'static [&'static str] {
    const V1_4: &[&str] = &[
        "$schema",
        "bomFormat",
        "specVersion",
        "serialNumber",
        "version",
        "metadata",
        "components",
        "services",
        "externalReferences",
        "dependencies",
        "compositions",
        "vulnerabilities",
        "signature",
    ];
    const V1_5: &[&str] = &[
        "$schema",
        "bomFormat",
        "specVersion",
        "serialNumber",
        "version",
        "metadata",
        "components",
        "services",
        "externalReferences",
        "dependencies",
        "compositions",
        "vulnerabilities",
        "annotations",
        "formulation",
        "properties",
        "signature",
    ];
    const V1_6: &[&str] = &[
        "$schema",
        "bomFormat",
        "specVersion",
        "serialNumber",
        "version",
        "metadata",
        "components",
        "services",
        "externalReferences",
        "dependencies",
        "compositions",
        "vulnerabilities",
        "annotations",
        "formulation",
        "declarations",
        "definitions",
        "properties",
        "signature",
    ];
    const V1_7: &[&str] = &[
        "$schema",
        "bomFormat",
        "specVersion",
        "serialNumber",
        "version",
        "metadata",
        "components",
        "services",
        "externalReferences",
        "dependencies",
        "compositions",
        "vulnerabilities",
        "annotations",
        "formulation",
        "declarations",
        "definitions",
        "citations",
        "properties",
        "signature",
    ];
    match version {
        SpecVersion::V1_4 => V1_4,
        SpecVersion::V1_5 => V1_5,
        SpecVersion::V1_6 => V1_6,
        SpecVersion::V1_7 => V1_7,
    }
}

fn component_types(version: SpecVersion) -> &'static [&'static str] {
    const V1_4: &[&str] = &[
        "application",
        "framework",
        "library",
        "container",
        "operating-system",
        "device",
        "firmware",
        "file",
    ];
    const V1_5: &[&str] = &[
        "application",
        "framework",
        "library",
        "container",
        "platform",
        "operating-system",
        "device",
        "device-driver",
        "firmware",
        "file",
        "machine-learning-model",
        "data",
    ];
    const V1_6: &[&str] = &[
        "application",
        "framework",
        "library",
        "container",
        "platform",
        "operating-system",
        "device",
        "device-driver",
        "firmware",
        "file",
        "machine-learning-model",
        "data",
        "cryptographic-asset",
    ];
    match version {
        SpecVersion::V1_4 => V1_4,
        SpecVersion::V1_5 => V1_5,
        SpecVersion::V1_6 | SpecVersion::V1_7 => V1_6,
    }
}

/// Hash algorithms (`hash-alg`); Streebog arrived in 1.7.
fn hash_algorithms(version: SpecVersion) -> &'static [&'static str] {
    const BEFORE_1_7: &[&str] = &[
        "MD5",
        "SHA-1",
        "SHA-256",
        "SHA-384",
        "SHA-512",
        "SHA3-256",
        "SHA3-384",
        "SHA3-512",
        "BLAKE2b-256",
        "BLAKE2b-384",
        "BLAKE2b-512",
        "BLAKE3",
    ];
    const V1_7: &[&str] = &[
        "MD5",
        "SHA-1",
        "SHA-256",
        "SHA-384",
        "SHA-512",
        "SHA3-256",
        "SHA3-384",
        "SHA3-512",
        "BLAKE2b-256",
        "BLAKE2b-384",
        "BLAKE2b-512",
        "BLAKE3",
        "Streebog-256",
        "Streebog-512",
    ];
    if version >= SpecVersion::V1_7 {
        V1_7
    } else {
        BEFORE_1_7
    }
}

/// External reference types of 1.7 (older versions define a subset; an older document using a
/// newer type is left to the official schema).
const EXTERNAL_REFERENCE_TYPES: &[&str] = &[
    "vcs",
    "issue-tracker",
    "website",
    "advisories",
    "bom",
    "mailing-list",
    "social",
    "chat",
    "documentation",
    "support",
    "source-distribution",
    "distribution",
    "distribution-intake",
    "license",
    "build-meta",
    "build-system",
    "release-notes",
    "security-contact",
    "model-card",
    "log",
    "configuration",
    "evidence",
    "formulation",
    "attestation",
    "threat-model",
    "adversary-model",
    "risk-assessment",
    "vulnerability-assertion",
    "exploitability-statement",
    "pentest-report",
    "static-analysis-report",
    "dynamic-analysis-report",
    "runtime-analysis-report",
    "component-analysis-report",
    "maturity-report",
    "certification-report",
    "codified-infrastructure",
    "quality-metrics",
    "poam",
    "electronic-signature",
    "digital-signature",
    "rfc-9116",
    "patent",
    "patent-family",
    "patent-assertion",
    "citation",
    "other",
];

const SCOPES: &[&str] = &["required", "optional", "excluded"];
const PATCH_TYPES: &[&str] = &["unofficial", "monkey", "backport", "cherry-pick"];
const ISSUE_TYPES: &[&str] = &["defect", "enhancement", "security"];
const DATA_FLOWS: &[&str] = &["inbound", "outbound", "bi-directional", "unknown"];
const AGGREGATES: &[&str] = &[
    "complete",
    "incomplete",
    "incomplete_first_party_only",
    "incomplete_first_party_proprietary_only",
    "incomplete_first_party_opensource_only",
    "incomplete_third_party_only",
    "incomplete_third_party_proprietary_only",
    "incomplete_third_party_opensource_only",
    "unknown",
    "not_specified",
];
const IMPACT_STATES: &[&str] = &[
    "resolved",
    "resolved_with_pedigree",
    "exploitable",
    "in_triage",
    "false_positive",
    "not_affected",
];
const JUSTIFICATIONS: &[&str] = &[
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];
const RESPONSES: &[&str] = &[
    "can_not_fix",
    "will_not_fix",
    "update",
    "rollback",
    "workaround_available",
];
const SEVERITIES: &[&str] = &[
    "critical", "high", "medium", "low", "info", "none", "unknown",
];

/// Runs the structural checks on a CycloneDX document.
pub(super) fn check(doc: &Value, version: SpecVersion) -> Vec<Problem> {
    let mut checker = Checker {
        version,
        problems: Vec::new(),
    };
    checker.root(doc);
    checker.problems
}

struct Checker {
    version: SpecVersion,
    problems: Vec<Problem>,
}

fn child(pointer: &str, key: &str) -> String {
    format!(
        "{pointer}/{}",
        stella_core::jcs::escape_pointer_segment(key)
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Checker {
    fn problem(&mut self, pointer: String, message: String) {
        self.problems.push(Problem {
            pointer,
            message,
            check: Check::Structure,
        });
    }

    fn object<'v>(&mut self, pointer: &str, value: &'v Value) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.problem(
                    pointer.to_owned(),
                    format!("expected an object, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Each element of the array at `map[key]`, if present, with its pointer.
    fn each<'v>(
        &mut self,
        pointer: &str,
        map: &'v Map<String, Value>,
        key: &str,
    ) -> Vec<(String, &'v Value)> {
        let Some(value) = map.get(key) else {
            return Vec::new();
        };
        let here = child(pointer, key);
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{here}/{i}"), v))
                .collect(),
            other => {
                self.problem(
                    here,
                    format!("expected an array, found {}", type_name(other)),
                );
                Vec::new()
            }
        }
    }

    /// A string member: present when `required`, non-empty when `non_empty`.
    fn string<'v>(
        &mut self,
        pointer: &str,
        map: &'v Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'v str> {
        match map.get(key) {
            None if required => {
                self.problem(
                    pointer.to_owned(),
                    format!("required member {key:?} is missing"),
                );
                None
            }
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                self.problem(
                    child(pointer, key),
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A reference-typed member (`bom-ref`, `ref`): a non-empty string.
    fn reference(&mut self, pointer: &str, map: &Map<String, Value>, key: &str, required: bool) {
        if self.string(pointer, map, key, required) == Some("") {
            self.problem(child(pointer, key), format!("{key:?} must not be empty"));
        }
    }

    fn one_of(
        &mut self,
        pointer: &str,
        map: &Map<String, Value>,
        key: &str,
        required: bool,
        allowed: &[&str],
    ) {
        if let Some(s) = self.string(pointer, map, key, required)
            && !allowed.contains(&s)
        {
            self.problem(
                child(pointer, key),
                format!(
                    "{s:?} is not a valid {key} in CycloneDX {} (expected one of: {})",
                    self.version,
                    allowed.join(", ")
                ),
            );
        }
    }

    fn only_members(&mut self, pointer: &str, map: &Map<String, Value>, allowed: &[&str]) {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    child(pointer, key),
                    format!(
                        "unexpected member {key:?} (allowed: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn root(&mut self, doc: &Value) {
        let Some(map) = self.object("", doc) else {
            return;
        };
        self.only_members("", map, root_members(self.version));
        if let Some(serial) = self.string("", map, "serialNumber", false)
            && !is_urn_uuid(serial)
        {
            self.problem(
                "/serialNumber".to_owned(),
                format!("{serial:?} is not a urn:uuid (RFC 4122, lower-case hex)"),
            );
        }
        if let Some(version) = map.get("version")
            && version.as_u64().is_none_or(|v| v < 1)
        {
            self.problem(
                "/version".to_owned(),
                "expected an integer of at least 1".to_owned(),
            );
        }
        if let Some(metadata) = map.get("metadata") {
            self.metadata("/metadata", metadata);
        }
        for (p, c) in self.each("", map, "components") {
            self.component(&p, c);
        }
        for (p, s) in self.each("", map, "services") {
            self.service(&p, s);
        }
        for (p, r) in self.each("", map, "externalReferences") {
            self.external_reference(&p, r);
        }
        for (p, d) in self.each("", map, "dependencies") {
            self.dependency(&p, d);
        }
        for (p, c) in self.each("", map, "compositions") {
            if let Some(m) = self.object(&p, c) {
                self.one_of(&p, m, "aggregate", true, AGGREGATES);
            }
        }
        for (p, v) in self.each("", map, "vulnerabilities") {
            self.vulnerability(&p, v);
        }
        self.properties("", map);
    }

    fn metadata(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        if let Some(ts) = self.string(pointer, map, "timestamp", false)
            && !is_rfc3339(ts)
        {
            self.problem(
                child(pointer, "timestamp"),
                format!("{ts:?} is not an RFC 3339 date-time"),
            );
        }
        match map.get("tools") {
            Some(Value::Array(_)) => {
                for (p, t) in self.each(pointer, map, "tools") {
                    if let Some(tool) = self.object(&p, t) {
                        self.hashes(&p, tool);
                    }
                }
            }
            Some(Value::Object(tools)) => {
                let here = child(pointer, "tools");
                for (p, c) in self.each(&here, tools, "components") {
                    self.component(&p, c);
                }
                for (p, s) in self.each(&here, tools, "services") {
                    self.service(&p, s);
                }
            }
            Some(other) => self.problem(
                child(pointer, "tools"),
                format!("expected an array or an object, found {}", type_name(other)),
            ),
            None => {}
        }
        if let Some(component) = map.get("component") {
            self.component(&child(pointer, "component"), component);
        }
        if map.contains_key("distribution") && self.version >= SpecVersion::V1_5 {
            // 1.5 moved this into `distributionConstraints.tlp`.
            self.problem(
                child(pointer, "distribution"),
                "unexpected member \"distribution\" (use distributionConstraints.tlp)".to_owned(),
            );
        }
        self.licenses(pointer, map);
        self.properties(pointer, map);
    }

    fn component(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        self.one_of(pointer, map, "type", true, component_types(self.version));
        self.string(pointer, map, "name", true);
        self.reference(pointer, map, "bom-ref", false);
        for key in [
            "version",
            "group",
            "purl",
            "cpe",
            "description",
            "mime-type",
        ] {
            self.string(pointer, map, key, false);
        }
        self.one_of(pointer, map, "scope", false, SCOPES);
        if self.version >= SpecVersion::V1_7 {
            let external = map.get("isExternal").and_then(Value::as_bool) == Some(true);
            if map.contains_key("versionRange") && !external {
                self.problem(
                    child(pointer, "versionRange"),
                    "versionRange is only allowed on a component with \"isExternal\": true"
                        .to_owned(),
                );
            }
            if map.contains_key("versionRange") && map.contains_key("version") {
                self.problem(
                    pointer.to_owned(),
                    "a component has either version or versionRange, not both".to_owned(),
                );
            }
        }
        if let Some(swid) = map.get("swid") {
            let here = child(pointer, "swid");
            if let Some(s) = self.object(&here, swid) {
                self.string(&here, s, "tagId", true);
                self.string(&here, s, "name", true);
            }
        }
        if let Some(pedigree) = map.get("pedigree") {
            let here = child(pointer, "pedigree");
            if let Some(p) = self.object(&here, pedigree) {
                for (pp, patch) in self.each(&here, p, "patches") {
                    if let Some(patch) = self.object(&pp, patch) {
                        self.one_of(&pp, patch, "type", true, PATCH_TYPES);
                        for (ip, issue) in self.each(&pp, patch, "resolves") {
                            if let Some(issue) = self.object(&ip, issue) {
                                self.one_of(&ip, issue, "type", true, ISSUE_TYPES);
                            }
                        }
                    }
                }
                for key in ["ancestors", "descendants", "variants"] {
                    for (cp, c) in self.each(&here, p, key) {
                        self.component(&cp, c);
                    }
                }
            }
        }
        self.hashes(pointer, map);
        self.licenses(pointer, map);
        for (p, r) in self.each(pointer, map, "externalReferences") {
            self.external_reference(&p, r);
        }
        self.properties(pointer, map);
        for (p, c) in self.each(pointer, map, "components") {
            self.component(&p, c);
        }
    }

    fn service(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        self.string(pointer, map, "name", true);
        self.reference(pointer, map, "bom-ref", false);
        for (p, d) in self.each(pointer, map, "data") {
            if let Some(d) = self.object(&p, d) {
                self.one_of(&p, d, "flow", true, DATA_FLOWS);
                self.string(&p, d, "classification", true);
            }
        }
        self.licenses(pointer, map);
        for (p, r) in self.each(pointer, map, "externalReferences") {
            self.external_reference(&p, r);
        }
        self.properties(pointer, map);
        for (p, s) in self.each(pointer, map, "services") {
            self.service(&p, s);
        }
    }

    fn hashes(&mut self, pointer: &str, map: &Map<String, Value>) {
        for (p, h) in self.each(pointer, map, "hashes") {
            let Some(h) = self.object(&p, h) else {
                continue;
            };
            self.only_members(&p, h, &["alg", "content"]);
            self.one_of(&p, h, "alg", true, hash_algorithms(self.version));
            if let Some(content) = self.string(&p, h, "content", true) {
                let hex = content.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex || ![32, 40, 64, 96, 128].contains(&content.len()) {
                    self.problem(
                        child(&p, "content"),
                        format!(
                            "hash content must be 32, 40, 64, 96 or 128 hex digits, found {} characters{}",
                            content.len(),
                            if hex { "" } else { " that are not all hex" }
                        ),
                    );
                }
            }
        }
    }

    fn licenses(&mut self, pointer: &str, map: &Map<String, Value>) {
        for (p, choice) in self.each(pointer, map, "licenses") {
            let Some(choice) = self.object(&p, choice) else {
                continue;
            };
            match (choice.get("license"), choice.get("expression")) {
                (Some(_), Some(_)) => self.problem(
                    p.clone(),
                    "a license choice holds either \"license\" or \"expression\", not both"
                        .to_owned(),
                ),
                (None, None) => self.problem(
                    p.clone(),
                    "a license choice needs \"license\" or \"expression\"".to_owned(),
                ),
                (Some(license), None) => self.license(&child(&p, "license"), license),
                (None, Some(_)) => {
                    self.string(&p, choice, "expression", true);
                }
            }
        }
    }

    fn license(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        match (map.get("id"), map.get("name")) {
            (None, None) => self.problem(
                pointer.to_owned(),
                "a license needs an SPDX \"id\" or a \"name\"".to_owned(),
            ),
            (Some(_), Some(_)) => self.problem(
                pointer.to_owned(),
                "a license has an SPDX \"id\" or a \"name\", not both".to_owned(),
            ),
            _ => {
                self.string(pointer, map, "id", false);
                self.string(pointer, map, "name", false);
            }
        }
        if let Some(text) = map.get("text") {
            let here = child(pointer, "text");
            if let Some(t) = self.object(&here, text) {
                self.string(&here, t, "content", true);
                self.one_of(&here, t, "encoding", false, &["base64"]);
            }
        }
        self.properties(pointer, map);
    }

    fn external_reference(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        self.string(pointer, map, "url", true);
        self.one_of(pointer, map, "type", true, EXTERNAL_REFERENCE_TYPES);
        self.hashes(pointer, map);
        self.properties(pointer, map);
    }

    fn properties(&mut self, pointer: &str, map: &Map<String, Value>) {
        for (p, prop) in self.each(pointer, map, "properties") {
            if let Some(prop) = self.object(&p, prop) {
                self.only_members(&p, prop, &["name", "value"]);
                self.string(&p, prop, "name", true);
                self.string(&p, prop, "value", false);
            }
        }
    }

    fn dependency(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        self.reference(pointer, map, "ref", true);
        for key in ["dependsOn", "provides"] {
            let mut seen = std::collections::BTreeMap::new();
            for (p, r) in self.each(pointer, map, key) {
                match r.as_str() {
                    Some("") => self.problem(p, "a reference must not be empty".to_owned()),
                    Some(s) => {
                        if let Some(first) = seen.insert(s.to_owned(), p.clone()) {
                            self.problem(
                                p,
                                format!("{s:?} is listed twice in {key} (first at {first})"),
                            );
                        }
                    }
                    None => self.problem(
                        p,
                        format!("expected a string reference, found {}", type_name(r)),
                    ),
                }
            }
        }
    }

    fn vulnerability(&mut self, pointer: &str, value: &Value) {
        let Some(map) = self.object(pointer, value) else {
            return;
        };
        self.reference(pointer, map, "bom-ref", false);
        self.string(pointer, map, "id", false);
        for (p, a) in self.each(pointer, map, "affects") {
            if let Some(a) = self.object(&p, a) {
                self.reference(&p, a, "ref", true);
            }
        }
        for (p, r) in self.each(pointer, map, "ratings") {
            if let Some(r) = self.object(&p, r) {
                self.one_of(&p, r, "severity", false, SEVERITIES);
                if r.get("score").is_some_and(|s| !s.is_number()) {
                    self.problem(child(&p, "score"), "expected a number".to_owned());
                }
            }
        }
        if let Some(analysis) = map.get("analysis") {
            let here = child(pointer, "analysis");
            if let Some(a) = self.object(&here, analysis) {
                self.one_of(&here, a, "state", false, IMPACT_STATES);
                self.one_of(&here, a, "justification", false, JUSTIFICATIONS);
                for (p, r) in self.each(&here, a, "response") {
                    match r.as_str() {
                        Some(s) if RESPONSES.contains(&s) => {}
                        _ => self.problem(
                            p,
                            format!(
                                "not a valid response (expected one of: {})",
                                RESPONSES.join(", ")
                            ),
                        ),
                    }
                }
            }
        }
        self.properties(pointer, map);
    }
}

/// `urn:uuid:` + an RFC 4122 UUID in lower-case hex (the schema's `serialNumber` pattern).
pub(super) fn is_urn_uuid(s: &str) -> bool {
    s.strip_prefix("urn:uuid:").is_some_and(is_uuid)
}

/// 8-4-4-4-12 lower-case hex.
pub(super) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with field ranges checked.
pub(super) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let date_ok = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    if !date_ok {
        return false;
    }
    let fields = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    );
    let (Some(_), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields else {
        return false;
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &frac[digits..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (u32::from(*h1 - b'0') * 10 + u32::from(*h2 - b'0')) <= 23
                && (u32::from(*m1 - b'0') * 10 + u32::from(*m2 - b'0')) <= 59
        }
        _ => false,
    }
}
