//! Stella's own predicate types (`https://stella-ops.org/attestations/<name>/v1`), each with a
//! versioned JSON Schema (draft 2020-12) kept in `schemas/`, and the SBOM wrapper predicate.
//!
//! A predicate of a known type is checked against its schema before it is signed and after it
//! is verified; a predicate of any other type is signed as given. A new version of a predicate
//! is a new type URI with its own schema, never an edit of an old one.
//!
//! Not here: building FuncProofs, witnesses or scores (their crates do), only their shape.

use std::sync::OnceLock;

use serde_json::{Value, json};
use stella_core::media::predicate;
use stella_core::{Digest, jcs};

use crate::AttestError;
use crate::statement::{Statement, Subject};

/// One of Stella's predicate types.
#[derive(Debug, Clone, Copy)]
pub struct PredicateType {
    /// The type URI.
    pub uri: &'static str,
    /// Short name (`sbom`, `funcproof`, …).
    pub name: &'static str,
    /// What the predicate says and what its subject is.
    pub description: &'static str,
    /// The JSON Schema, as text.
    pub schema: &'static str,
}

/// Every predicate type Stella defines, by name.
pub const REGISTRY: [PredicateType; 5] = [
    PredicateType {
        uri: predicate::STELLA_FUNCPROOF,
        name: "funcproof",
        description: "a binary's identity, section digests and every function's byte range and BLAKE3; subject: the binary",
        schema: include_str!("../schemas/funcproof-v1.json"),
    },
    PredicateType {
        uri: predicate::STELLA_MICRO_WITNESS,
        name: "micro-witness",
        description: "call or sample counts of named symbols of one binary in one window, with what could not be attributed; subject: the binary",
        schema: include_str!("../schemas/micro-witness-v1.json"),
    },
    PredicateType {
        uri: predicate::STELLA_RECORD,
        name: "record",
        description: "the artifact canonical record of one scan: the SBOM's canonical_id, its log entries and the digest of every referrer attached; subjects: the image and the SBOM",
        schema: include_str!("../schemas/record-v1.json"),
    },
    PredicateType {
        uri: predicate::STELLA_SBOM,
        name: "sbom",
        description: "a whole SBOM with its format, producer and time; subject digest: the SBOM's canonical_id",
        schema: include_str!("../schemas/sbom-v1.json"),
    },
    PredicateType {
        uri: predicate::STELLA_SCORE,
        name: "score",
        description: "a deterministic score: every verdict in SSVC's deployer decision table, with the evidence behind each point and every input by digest; subjects: the image and the SBOM",
        schema: include_str!("../schemas/score-v1.json"),
    },
];

/// The predicate type with this URI or short name.
pub fn find(uri_or_name: &str) -> Option<&'static PredicateType> {
    REGISTRY
        .iter()
        .find(|p| p.uri == uri_or_name || p.name == uri_or_name)
}

/// A short name that stands for a predicate type URI: Stella's own (see [`REGISTRY`]) and the
/// names cosign's `attest --type` and `verify-attestation --type` take, with the same meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortName {
    /// The name (`cyclonedx`, `slsaprovenance1`, `funcproof`, …).
    pub name: &'static str,
    /// The URI a statement made under this name carries.
    pub uri: &'static str,
    /// Every URI a statement verified under this name may carry (`uri` first).
    pub accepts: &'static [&'static str],
}

const SLSA_02: &str = "https://slsa.dev/provenance/v0.2";
const SLSA_1: &str = "https://slsa.dev/provenance/v1";
const SPDX: &str = "https://spdx.dev/Document";
/// OpenVEX without a version, as cosign names it; Stella writes the versioned URI.
const OPENVEX_UNVERSIONED: &str = "https://openvex.dev/ns";

/// cosign's predicate names (its `--type` values), in its order.
pub const COSIGN_NAMES: [ShortName; 10] = [
    ShortName {
        name: "slsaprovenance",
        uri: SLSA_02,
        accepts: &[SLSA_02],
    },
    ShortName {
        name: "slsaprovenance02",
        uri: SLSA_02,
        accepts: &[SLSA_02],
    },
    ShortName {
        name: "slsaprovenance1",
        uri: SLSA_1,
        accepts: &[SLSA_1],
    },
    ShortName {
        name: "spdx",
        uri: SPDX,
        accepts: &[SPDX],
    },
    ShortName {
        name: "spdxjson",
        uri: SPDX,
        accepts: &[SPDX],
    },
    ShortName {
        name: "cyclonedx",
        uri: predicate::CYCLONEDX_BOM,
        accepts: &[predicate::CYCLONEDX_BOM],
    },
    ShortName {
        name: "link",
        uri: "https://in-toto.io/Link/v1",
        accepts: &["https://in-toto.io/Link/v1"],
    },
    ShortName {
        name: "vuln",
        uri: "https://cosign.sigstore.dev/attestation/vuln/v1",
        accepts: &["https://cosign.sigstore.dev/attestation/vuln/v1"],
    },
    ShortName {
        name: "openvex",
        uri: predicate::OPENVEX,
        accepts: &[predicate::OPENVEX, OPENVEX_UNVERSIONED],
    },
    ShortName {
        name: "custom",
        uri: "https://cosign.sigstore.dev/attestation/v1",
        accepts: &["https://cosign.sigstore.dev/attestation/v1"],
    },
];

/// The predicate type `--type` asked for: the URI a statement made under it carries, and every
/// URI a statement verified under it may carry (`uri` first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The URI to write.
    pub uri: String,
    /// The URIs to accept.
    pub accepts: Vec<String>,
}

/// What `--type` says: a URI (anything with `://`, taken as written) or a short name, one of
/// Stella's or cosign's.
///
/// # Errors
/// [`AttestError::UnknownPredicateName`] for a short name nobody defines, listing the known ones.
pub fn resolve(uri_or_name: &str) -> Result<Asked, AttestError> {
    let one = |uri: &str| Asked {
        uri: uri.to_owned(),
        accepts: vec![uri.to_owned()],
    };
    if uri_or_name.contains("://") {
        return Ok(one(uri_or_name));
    }
    if let Some(p) = REGISTRY.iter().find(|p| p.name == uri_or_name) {
        return Ok(one(p.uri));
    }
    COSIGN_NAMES
        .iter()
        .find(|n| n.name == uri_or_name)
        .map(|n| Asked {
            uri: n.uri.to_owned(),
            accepts: n.accepts.iter().map(|&a| a.to_owned()).collect(),
        })
        .ok_or_else(|| AttestError::UnknownPredicateName {
            name: uri_or_name.to_owned(),
            known: known_names(),
        })
}

/// Every short name `--type` takes, Stella's first.
pub fn known_names() -> String {
    REGISTRY
        .iter()
        .map(|p| p.name)
        .chain(COSIGN_NAMES.iter().map(|n| n.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn validators() -> &'static Vec<Result<jsonschema::Validator, String>> {
    static VALIDATORS: OnceLock<Vec<Result<jsonschema::Validator, String>>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        REGISTRY
            .iter()
            .map(|p| {
                let schema: Value = serde_json::from_str(p.schema).map_err(|e| e.to_string())?;
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .build(&schema)
                    .map_err(|e| e.to_string())
            })
            .collect()
    })
}

/// Checks `predicate` against the schema of `predicate_type` when it is one of Stella's types;
/// any other type passes.
///
/// # Errors
/// [`AttestError::Predicate`] listing every violation (up to 20) as `pointer: message`.
pub fn validate(predicate_type: &str, predicate: &Value) -> Result<(), AttestError> {
    let Some(index) = REGISTRY.iter().position(|p| p.uri == predicate_type) else {
        return Ok(());
    };
    let fail = |problems: String| AttestError::Predicate {
        predicate_type: predicate_type.to_owned(),
        problems,
    };
    let validator = match validators().get(index) {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(fail(format!("the schema does not compile ({e})"))),
        None => return Ok(()),
    };
    // Most predicates are valid: the yes/no check is several times cheaper than collecting
    // errors, which only an invalid predicate needs.
    if validator.is_valid(predicate) {
        return Ok(());
    }
    let problems: Vec<String> = validator
        .iter_errors(predicate)
        .take(20)
        .map(|e| {
            let at = e.instance_path().as_str().to_owned();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.join("; ")))
    }
}

/// The statement of the SBOM wrapper predicate for `bom` (the SBOM's bytes): subject `name`
/// with the SBOM's canonical_id as its sha256 digest, predicate `{bom_format, bom, producer,
/// timestamp}` (`timestamp` RFC 3339 UTC, given so that the caller decides reproducibility).
///
/// # Errors
/// [`AttestError::Json`] when `bom` is not strict JSON, [`AttestError::Predicate`] when it is
/// not a CycloneDX document.
pub fn sbom_statement(
    bom: &[u8],
    name: &str,
    producer: &str,
    timestamp: &str,
) -> Result<(Statement, Digest), AttestError> {
    let parsed = jcs::parse(bom)?;
    let canonical_id = Digest::sha256(&parsed.to_canonical());
    let bom_value = parsed.to_serde();
    let predicate = json!({
        "bom_format": "CycloneDX",
        "bom": bom_value,
        "producer": producer,
        "timestamp": timestamp,
    });
    validate(predicate::STELLA_SBOM, &predicate)?;
    let statement = Statement::new(
        vec![Subject::new(name, &canonical_id)],
        predicate::STELLA_SBOM,
        predicate,
    )?;
    Ok((statement, canonical_id))
}

/// What a verified statement must say: the predicate type asked for (a short name such as
/// `sbom` stands for Stella's URI), every digest among its subjects, and — for a predicate of
/// one of Stella's types — a predicate its schema accepts.
///
/// # Errors
/// [`AttestError::PredicateType`], [`AttestError::SubjectMismatch`] or
/// [`AttestError::Predicate`].
pub fn check_statement(
    statement: &crate::Statement,
    predicate_type: Option<&str>,
    digests: &[stella_core::Digest],
) -> Result<(), AttestError> {
    if let Some(expected) = predicate_type {
        let expected = resolve(expected)?;
        if !expected.accepts.contains(&statement.predicate_type) {
            return Err(AttestError::PredicateType {
                found: statement.predicate_type.clone(),
                expected: expected.accepts.join(" or "),
            });
        }
    }
    for digest in digests {
        statement.require_subject_digest(digest)?;
    }
    validate(&statement.predicate_type, &statement.predicate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_mean_what_they_mean_to_cosign_and_stella() {
        let cdx = resolve("cyclonedx").expect("cosign's name");
        assert_eq!(cdx.uri, predicate::CYCLONEDX_BOM);
        assert_eq!(
            resolve("sbom").expect("Stella's").uri,
            predicate::STELLA_SBOM
        );
        assert_eq!(
            resolve("slsaprovenance1").expect("cosign's").uri,
            "https://slsa.dev/provenance/v1"
        );
        // OpenVEX is written versioned, and read under either URI.
        let vex = resolve("openvex").expect("cosign's");
        assert_eq!(vex.uri, predicate::OPENVEX);
        assert!(vex.accepts.contains(&"https://openvex.dev/ns".to_owned()));
        // A URI is taken as written; an unknown name lists the known ones.
        assert_eq!(
            resolve("https://x.example/p/v1").expect("uri").uri,
            "https://x.example/p/v1"
        );
        let err = resolve("cyclone").expect_err("unknown").to_string();
        assert!(
            err.contains("cyclonedx") && err.contains("funcproof"),
            "{err}"
        );
        let names = known_names();
        for n in COSIGN_NAMES {
            assert!(names.contains(n.name));
            assert_eq!(n.accepts[0], n.uri);
        }
    }

    #[test]
    fn every_schema_compiles() {
        for (p, v) in REGISTRY.iter().zip(validators()) {
            assert!(v.is_ok(), "{}: {:?}", p.name, v.as_ref().err());
            assert!(p.uri.ends_with(&format!("/{}/v1", p.name)));
        }
    }

    #[test]
    fn sbom_wrapper_validates_and_names_problems() {
        let bom = br#"{"bomFormat":"CycloneDX","specVersion":"1.7","version":1}"#;
        let (statement, id) =
            sbom_statement(bom, "bom.json", "stella/0.1.0", "2026-01-01T00:00:00Z").expect("ok");
        assert_eq!(statement.subject[0].digest["sha256"], id.hex());
        assert!(validate(predicate::STELLA_SBOM, &statement.predicate).is_ok());
        let err = sbom_statement(br#"{"a":1}"#, "x", "p", "2026-01-01T00:00:00Z").expect_err("no");
        assert!(err.to_string().contains("/bom"), "{err}");
        let bad =
            json!({"bom_format": "SPDX", "bom": {}, "producer": "", "timestamp": "yesterday"});
        let err = validate(predicate::STELLA_SBOM, &bad).expect_err("bad");
        assert!(err.to_string().contains("/timestamp"), "{err}");
        assert!(validate("https://example.com/unknown", &bad).is_ok());
    }
}
