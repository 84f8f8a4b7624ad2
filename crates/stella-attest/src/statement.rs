//! in-toto Statement v1 (`https://in-toto.io/Statement/v1`): the subjects (artifacts by digest)
//! a predicate speaks about. Statement v0.1 is read too (cosign still writes it); Stella writes
//! v1 only. As a DSSE payload a statement is its RFC 8785 canonical JSON, so the same statement
//! is always the same bytes.
//!
//! Not here: what a predicate contains (see [`crate::predicates`]) and signing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stella_core::Digest;
use stella_core::jcs;

use crate::AttestError;

/// The Statement v1 `_type`.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The Statement v0.1 `_type` (read only).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// Most subjects accepted on one statement.
pub const MAX_SUBJECTS: usize = 100_000;

/// An artifact the statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's name (a file name, an image reference, a purl).
    #[serde(default)]
    pub name: String,
    /// Its digests by algorithm (`sha256` → lower-case hex).
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with one SHA-256 (or other `stella_core` digest).
    pub fn new(name: impl Into<String>, digest: &Digest) -> Self {
        Subject {
            name: name.into(),
            digest: BTreeMap::from([(
                digest.algorithm().name().to_owned(),
                digest.hex().to_owned(),
            )]),
        }
    }

    fn describe(&self) -> String {
        let digests: Vec<String> = self
            .digest
            .iter()
            .map(|(a, h)| format!("{a}:{h}"))
            .collect();
        format!("{:?} ({})", self.name, digests.join(", "))
    }
}

/// An in-toto Statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// The statement's type URI.
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What it is about.
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A v1 statement.
    ///
    /// # Errors
    /// [`AttestError::Statement`] when the subjects or the predicate type break the rules
    /// (see [`Statement::validate`]).
    pub fn new(
        subject: Vec<Subject>,
        predicate_type: impl Into<String>,
        predicate: serde_json::Value,
    ) -> Result<Self, AttestError> {
        let statement = Statement {
            statement_type: STATEMENT_V1.to_owned(),
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        };
        statement.validate()?;
        Ok(statement)
    }

    /// Reads a statement (a DSSE payload): strict JSON (no duplicate keys, I-JSON numbers),
    /// then the rules of [`Statement::validate`].
    ///
    /// # Errors
    /// [`AttestError::Json`] for malformed JSON, [`AttestError::Statement`] for a document that
    /// is not a valid statement.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AttestError> {
        let value = jcs::parse(bytes)?;
        let statement: Statement = serde_json::from_value(value.to_serde())
            .map_err(|e| AttestError::Statement(e.to_string()))?;
        statement.validate()?;
        Ok(statement)
    }

    /// Checks the rules: a known `_type`, at least one subject, each with at least one digest,
    /// the usual algorithms as lower-case hex of their length, and a predicate type URI.
    ///
    /// # Errors
    /// [`AttestError::Statement`] naming the first broken rule.
    pub fn validate(&self) -> Result<(), AttestError> {
        let fail = |m: String| Err(AttestError::Statement(m));
        if self.statement_type != STATEMENT_V1 && self.statement_type != STATEMENT_V01 {
            return fail(format!(
                "_type is {:?}; expected {STATEMENT_V1:?} (or {STATEMENT_V01:?})",
                self.statement_type
            ));
        }
        if self.subject.is_empty() {
            return fail("no subjects: a statement must name at least one artifact".to_owned());
        }
        if self.subject.len() > MAX_SUBJECTS {
            return fail(format!(
                "{} subjects; at most {MAX_SUBJECTS} are accepted",
                self.subject.len()
            ));
        }
        for (i, subject) in self.subject.iter().enumerate() {
            if subject.digest.is_empty() {
                return fail(format!("subject {i} ({:?}) has no digest", subject.name));
            }
            for (algorithm, value) in &subject.digest {
                let hex_len = match algorithm.as_str() {
                    "sha256" => Some(64),
                    "sha512" => Some(128),
                    "sha384" => Some(96),
                    "sha224" => Some(56),
                    "sha1" | "gitCommit" => Some(40),
                    // Other algorithms (blake3, sha3_256, …) need only a non-empty value.
                    _ => None,
                };
                let is_hex = value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if value.is_empty() || hex_len.is_some_and(|n| value.len() != n || !is_hex) {
                    return fail(format!(
                        "subject {i} ({:?}): {algorithm} digest {value:?} is not {} lower-case hex digits",
                        subject.name,
                        hex_len.unwrap_or(0)
                    ));
                }
            }
        }
        if self.predicate_type.is_empty() || !self.predicate_type.contains(':') {
            return fail(format!(
                "predicateType {:?} is not a URI",
                self.predicate_type
            ));
        }
        Ok(())
    }

    /// The canonical (RFC 8785) JSON: the DSSE payload.
    ///
    /// # Errors
    /// [`AttestError::Json`] when the predicate holds a number JSON cannot carry exactly.
    pub fn to_payload(&self) -> Result<Vec<u8>, AttestError> {
        Ok(jcs::to_canonical(self)?)
    }

    /// Whether a subject carries `digest`.
    pub fn has_subject_digest(&self, digest: &Digest) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get(digest.algorithm().name())
                .is_some_and(|hex| hex.eq_ignore_ascii_case(digest.hex()))
        })
    }

    /// Fails unless a subject carries `digest`.
    ///
    /// # Errors
    /// [`AttestError::SubjectMismatch`] listing the subjects.
    pub fn require_subject_digest(&self, digest: &Digest) -> Result<(), AttestError> {
        if self.has_subject_digest(digest) {
            return Ok(());
        }
        let subjects: Vec<String> = self.subject.iter().map(Subject::describe).collect();
        Err(AttestError::SubjectMismatch {
            expected: digest.to_string(),
            subjects: subjects.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest() -> Digest {
        Digest::sha256(b"artifact")
    }

    #[test]
    fn payload_is_canonical_and_reads_back() {
        let s = Statement::new(
            vec![Subject::new("a.bin", &digest())],
            "https://example.com/p/v1",
            json!({"z": 1, "a": [true, null]}),
        )
        .expect("valid");
        let payload = s.to_payload().expect("payload");
        let text = String::from_utf8(payload.clone()).expect("utf8");
        assert!(
            text.starts_with(
                r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":[true,null],"z":1}"#
            ),
            "{text}"
        );
        assert_eq!(Statement::from_json(&payload).expect("read"), s);
        assert!(s.has_subject_digest(&digest()));
        assert!(s.require_subject_digest(&Digest::sha256(b"other")).is_err());
    }

    #[test]
    fn rules_are_enforced() {
        let no_subjects = Statement::new(vec![], "https://x/y", json!({}));
        assert!(
            no_subjects
                .expect_err("empty")
                .to_string()
                .contains("no subjects")
        );
        let mut bad = Subject::new("a", &digest());
        bad.digest.insert("sha256".into(), "ABC".into());
        let err = Statement::new(vec![bad], "https://x/y", json!({})).expect_err("hex");
        assert!(err.to_string().contains("lower-case hex"), "{err}");
        let v01 = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"n","digest":{"sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}],"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{}}"#;
        assert!(Statement::from_json(v01).is_ok());
        let dup = br#"{"_type":"https://in-toto.io/Statement/v1","_type":"x","subject":[],"predicateType":"a:b"}"#;
        assert!(Statement::from_json(dup).is_err());
    }
}
