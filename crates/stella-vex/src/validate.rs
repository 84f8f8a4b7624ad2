//! `stella vex validate`: is this a VEX document its own format's rules accept?
//!
//! Each document is checked three ways, every finding a [`Problem`] with a JSON pointer:
//! - **schema**: the format's official JSON schema, embedded (`crates/stella-vex/schemas`, origin
//!   and digests in its README and `SHA256SUMS`): OpenVEX 0.2.0 (which itself says that
//!   `affected` needs an `action_statement` and `not_affected` a `justification` or
//!   `impact_statement`); the CSAF 2.0 schema with the FIRST CVSS schemas it refers to; for
//!   CycloneDX the SBOM crate's validator (the official schema of the document's version and the
//!   semantic checks: unique bom-refs, resolving references);
//! - **profile**: the rules the schema cannot say —
//!   OpenVEX: statement `@id`s are unique (`openvex:duplicate-statement-id`);
//!   CSAF VEX: the profile tests of CSAF 2.0 §6.1.27 for `csaf_vex` (`csaf:6.1.27.4` product
//!   tree, `.5` vulnerability notes, `.6` product status, `.7` one of the four VEX statuses,
//!   `.8` a `cve` or `ids`, `.9` an impact statement (flag or `impact` threat) for every
//!   `known_not_affected` product, `.10` an action statement (remediation) for every
//!   `known_affected` product, `.11` vulnerabilities), and §6.1.1 / §6.1.2 (every product id
//!   referenced is defined, and once);
//! - **read**: the document reads into the canonical model (a status no format knows, a
//!   relationship cycle, an OpenVEX or CSAF statement with no time are problems here); what the
//!   reader accepted with a warning is listed as a warning and does not make the document
//!   invalid. A CycloneDX statement with no time is valid CycloneDX: it is read with the
//!   fallback time given, else the Unix epoch, with the `timestamp-from-fallback` warning.
//!
//! A document is valid when it has no problem. Problems are sorted by pointer, then rule, so a
//! report is deterministic.
//!
//! What this module does not own: reading files or deciding exit codes (the CLI).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value as Json;
use stella_core::jcs;

use crate::model::VexFormat;
use crate::read::{self, ReadError, ReadOptions, Warning};

/// Which check found a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// The format's official JSON schema.
    Schema,
    /// A profile rule the schema does not express.
    Profile,
    /// The canonical reader.
    Read,
}

impl Check {
    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Schema => "schema",
            Check::Profile => "profile",
            Check::Read => "read",
        }
    }
}

/// One thing wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// RFC 6901 pointer to the offending value (empty for the root).
    pub pointer: String,
    /// Which check found it.
    pub check: Check,
    /// The rule's stable name (`schema`, `csaf:6.1.27.9`, `openvex:duplicate-statement-id`, …).
    pub rule: String,
    /// What is wrong, in words.
    pub message: String,
}

/// The outcome of validating one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The format the document was recognised as.
    pub format: VexFormat,
    /// The schema that checked its structure (`embedded:<file>`).
    pub schema: String,
    /// Every problem, sorted.
    pub problems: Vec<Problem>,
    /// What the reader accepted but is worth saying.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// Whether the document passed every check.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The embedded OpenVEX 0.2.0 schema.
const OPENVEX_SCHEMA: &str = include_str!("../schemas/openvex-0.2.0.schema.json");
const OPENVEX_SCHEMA_NAME: &str = "openvex-0.2.0.schema.json";
/// The embedded CSAF 2.0 schema and the CVSS schemas it `$ref`s by URL.
const CSAF_SCHEMA: &str = include_str!("../schemas/csaf_json_schema.json");
const CSAF_SCHEMA_NAME: &str = "csaf_json_schema.json";
const CVSS_SCHEMAS: [(&str, &str); 3] = [
    ("cvss-v2.0.json", include_str!("../schemas/cvss-v2.0.json")),
    ("cvss-v3.0.json", include_str!("../schemas/cvss-v3.0.json")),
    ("cvss-v3.1.json", include_str!("../schemas/cvss-v3.1.json")),
];

/// The embedded schemas are fixed at build time, pinned by `SHA256SUMS` and compiled by the
/// unit tests: a failure here is a broken build, not bad input.
#[allow(clippy::expect_used)]
fn openvex_validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Json = serde_json::from_str(OPENVEX_SCHEMA).expect("embedded OpenVEX schema");
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the embedded OpenVEX schema compiles")
    })
}

#[allow(clippy::expect_used)]
fn csaf_validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let mut registry = jsonschema::Registry::new();
        for (name, text) in CVSS_SCHEMAS {
            let schema: Json = serde_json::from_str(text).expect("embedded CVSS schema");
            registry = registry
                .add(format!("https://www.first.org/cvss/{name}"), schema)
                .expect("the embedded CVSS schemas register");
        }
        let registry = registry
            .prepare()
            .expect("the embedded CVSS schemas register");
        let schema: Json = serde_json::from_str(CSAF_SCHEMA).expect("embedded CSAF schema");
        jsonschema::options()
            .should_validate_formats(true)
            .with_registry(&registry)
            .build(&schema)
            .expect("the embedded CSAF schema compiles")
    })
}

/// Validates one document (format recognised as [`read::detect`] does).
///
/// # Errors
/// [`ReadError::Json`] for bytes that are not JSON and [`ReadError::UnknownFormat`] for JSON that
/// is no VEX format: there is nothing to check such a document against.
pub fn validate(bytes: &[u8], options: &ReadOptions<'_>) -> Result<Report, ReadError> {
    let format = read::detect(bytes)?;
    let value = jcs::parse(bytes).map_err(|source| ReadError::Json { source })?;
    let json = value.to_serde();
    let mut problems = Vec::new();
    let schema = match format {
        VexFormat::OpenVex => {
            schema_problems(openvex_validator(), &json, &mut problems);
            openvex_profile(&json, &mut problems);
            format!("embedded:{OPENVEX_SCHEMA_NAME}")
        }
        VexFormat::Csaf => {
            schema_problems(csaf_validator(), &json, &mut problems);
            csaf_profile(&json, &mut problems);
            format!("embedded:{CSAF_SCHEMA_NAME}")
        }
        VexFormat::CycloneDx => match stella_sbom::validate::validate_value(&value, None) {
            Ok(report) => {
                for p in report.problems {
                    let check = match p.check {
                        stella_sbom::validate::Check::Schema => Check::Schema,
                        _ => Check::Profile,
                    };
                    problems.push(Problem {
                        pointer: p.pointer,
                        check,
                        rule: check.as_str().to_owned(),
                        message: p.message,
                    });
                }
                report.schema.to_string()
            }
            Err(e) => {
                problems.push(Problem {
                    pointer: "/specVersion".to_owned(),
                    check: Check::Schema,
                    rule: "schema".to_owned(),
                    message: e.to_string(),
                });
                "none".to_owned()
            }
        },
    };
    let mut warnings = Vec::new();
    // CycloneDX makes every time optional; a statement with none is valid CycloneDX, and only
    // merging needs a time. It reads here with a fallback, and says so as a warning.
    let options = ReadOptions {
        sbom: options.sbom,
        fallback_timestamp: options
            .fallback_timestamp
            .or(Some(jiff::Timestamp::UNIX_EPOCH)),
        purls: options.purls,
    };
    match read::read_as(bytes, format, &options) {
        Ok(read) => {
            for w in read.warnings {
                // CSAF's mandatory tests 6.1.1 and 6.1.2 fail a document the reader can still
                // read: they are problems here, not warnings.
                match w.rule {
                    "unknown-product-id" | "duplicate-product-id" => {
                        let rule = if w.rule == "unknown-product-id" {
                            "csaf:6.1.1"
                        } else {
                            "csaf:6.1.2"
                        };
                        problems.push(Problem {
                            pointer: w.pointer,
                            check: Check::Profile,
                            rule: rule.to_owned(),
                            message: w.message,
                        });
                    }
                    _ => warnings.push(w),
                }
            }
        }
        Err(e) => problems.push(Problem {
            pointer: String::new(),
            check: Check::Read,
            rule: "read".to_owned(),
            message: e.to_string(),
        }),
    }
    problems.sort();
    problems.dedup();
    Ok(Report {
        format,
        schema,
        problems,
        warnings,
    })
}

fn schema_problems(validator: &Validator, json: &Json, out: &mut Vec<Problem>) {
    for p in stella_sbom::validate::problems(validator, json) {
        out.push(Problem {
            pointer: p.pointer,
            check: Check::Schema,
            rule: "schema".to_owned(),
            message: p.message,
        });
    }
}

fn profile(out: &mut Vec<Problem>, pointer: String, rule: &str, message: String) {
    out.push(Problem {
        pointer,
        check: Check::Profile,
        rule: rule.to_owned(),
        message,
    });
}

fn openvex_profile(json: &Json, out: &mut Vec<Problem>) {
    let Some(statements) = json.get("statements").and_then(Json::as_array) else {
        return;
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in statements.iter().enumerate() {
        let Some(id) = s.get("@id").and_then(Json::as_str) else {
            continue;
        };
        if let Some(first) = seen.insert(id, i) {
            seen.insert(id, first);
            profile(
                out,
                format!("/statements/{i}/@id"),
                "openvex:duplicate-statement-id",
                format!("statement @id {id:?} is also the id of /statements/{first}"),
            );
        }
    }
}

/// The product ids a CSAF object names by `product_ids` and by `group_ids` through `groups`.
fn product_ids_of<'a>(
    obj: &'a Json,
    groups: &'a BTreeMap<&'a str, Vec<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut ids: BTreeSet<&str> = strings(obj.get("product_ids")).collect();
    for g in strings(obj.get("group_ids")) {
        if let Some(members) = groups.get(g) {
            ids.extend(members.iter().copied());
        }
    }
    ids
}

fn strings(value: Option<&Json>) -> impl Iterator<Item = &str> {
    value
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
}

/// CSAF 2.0 §6.1.27's tests for documents of category `csaf_vex`.
fn csaf_profile(json: &Json, out: &mut Vec<Problem>) {
    let category = json
        .pointer("/document/category")
        .and_then(Json::as_str)
        .unwrap_or_default();
    if category != "csaf_vex" {
        profile(
            out,
            "/document/category".to_owned(),
            "csaf:vex-category",
            format!("the category is {category:?}; the VEX profile is csaf_vex"),
        );
        return;
    }
    if json.get("product_tree").is_none() {
        profile(
            out,
            String::new(),
            "csaf:6.1.27.4",
            "a csaf_vex document must have a product_tree".to_owned(),
        );
    }
    let Some(vulnerabilities) = json.get("vulnerabilities").and_then(Json::as_array) else {
        profile(
            out,
            String::new(),
            "csaf:6.1.27.11",
            "a csaf_vex document must have vulnerabilities".to_owned(),
        );
        return;
    };
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in json
        .pointer("/product_tree/product_groups")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = g.get("group_id").and_then(Json::as_str) {
            groups
                .entry(id)
                .or_default()
                .extend(strings(g.get("product_ids")));
        }
    }
    for (i, v) in vulnerabilities.iter().enumerate() {
        let at = format!("/vulnerabilities/{i}");
        if v.get("notes").is_none() {
            profile(
                out,
                at.clone(),
                "csaf:6.1.27.5",
                "a vulnerability of a csaf_vex document must have notes".to_owned(),
            );
        }
        if v.get("cve").is_none() && v.get("ids").is_none() {
            profile(
                out,
                at.clone(),
                "csaf:6.1.27.8",
                "a vulnerability of a csaf_vex document must have a cve or ids".to_owned(),
            );
        }
        let Some(status) = v.get("product_status") else {
            profile(
                out,
                at.clone(),
                "csaf:6.1.27.6",
                "a vulnerability of a csaf_vex document must have a product_status".to_owned(),
            );
            continue;
        };
        let vex_lists = [
            "fixed",
            "known_affected",
            "known_not_affected",
            "under_investigation",
        ];
        if !vex_lists.iter().any(|l| status.get(*l).is_some()) {
            profile(
                out,
                format!("{at}/product_status"),
                "csaf:6.1.27.7",
                "the product_status must have at least one of fixed, known_affected, known_not_affected, under_investigation".to_owned(),
            );
        }
        // 6.1.27.9: every known_not_affected product has an impact statement (a flag, or a
        // threat of category impact).
        let mut impact: BTreeSet<&str> = BTreeSet::new();
        for f in v
            .get("flags")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            impact.extend(product_ids_of(f, &groups));
        }
        for t in v
            .get("threats")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if t.get("category").and_then(Json::as_str) == Some("impact") {
                impact.extend(product_ids_of(t, &groups));
            }
        }
        for (j, id) in strings(status.get("known_not_affected")).enumerate() {
            if !impact.contains(id) {
                profile(
                    out,
                    format!("{at}/product_status/known_not_affected/{j}"),
                    "csaf:6.1.27.9",
                    format!(
                        "{id:?} is known_not_affected without an impact statement (a flag or an impact threat naming it)"
                    ),
                );
            }
        }
        // 6.1.27.10: every known_affected product has an action statement (a remediation).
        let mut action: BTreeSet<&str> = BTreeSet::new();
        for r in v
            .get("remediations")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            action.extend(product_ids_of(r, &groups));
        }
        for (j, id) in strings(status.get("known_affected")).enumerate() {
            if !action.contains(id) {
                profile(
                    out,
                    format!("{at}/product_status/known_affected/{j}"),
                    "csaf:6.1.27.10",
                    format!(
                        "{id:?} is known_affected without an action statement (a remediation naming it)"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded schema file matches `schemas/SHA256SUMS`, every file is listed, and each
    /// compiles.
    #[test]
    fn embedded_schemas_match_their_sums_and_compile() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        stella_testkit::assert_vendored(&dir, "json");
        openvex_validator();
        csaf_validator();
    }
}
