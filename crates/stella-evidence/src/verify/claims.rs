//! The claims attached beside the evidence: VEX (`kind=vex`), assessment evidence
//! (`kind=assessment`) and the micro-witnesses runtime verdicts rest on (`kind=micro-witness`),
//! from `stella assess --attach`; and the runtime evidence itself, witness reports
//! (`kind=witness-report`, `stella witness --attach`) and profiles (`kind=profile`, `stella
//! record --attach`), which `stella assess` reads when a trusted key signed them. They are not bound by the scan's record
//! — they come later — so each is judged on its own signature:
//! - a bundle verifies with a trusted key, names the image and signs exactly the attached
//!   document → verified;
//! - a bundle verifies with a trusted key but signs another document (the attached one was
//!   changed after signing), or the referrer is not what its type says → **failed**: trusted
//!   evidence was tampered with;
//! - unsigned, or signed only by keys not trusted → untrusted: ignored, as another key's scan
//!   is, with the reason.
//!
//! What this module does not own: what the claims say (VEX is read by `stella-vex`), or
//! whether a consumer may use an untrusted one (it may not: `stella vex … --key` refuses it).

use stella_core::media;

use super::{Reason, ReasonKind, Scope, Status, Verdict, Verifier};
use crate::EvidenceError;
use crate::attached::{self, AttachedError, Check, Signature, Wanted};
use crate::layout::VEX_KIND;

/// The `kind` annotation of an assessment's evidence.
pub const ASSESSMENT_KIND: &str = "assessment";

/// The `kind` annotation of a micro-witness (runtime evidence an assessment rests on).
pub const MICRO_WITNESS_KIND: &str = "micro-witness";

/// The `kind` annotation of a witness report.
pub const WITNESS_REPORT_KIND: &str = "witness-report";

/// The `kind` annotation of a profile.
pub const PROFILE_KIND: &str = "profile";

/// The `kind` annotation of a score.
pub const SCORE_KIND: &str = "score";

/// An attached document a trusted key signed.
#[derive(Debug, Clone)]
pub struct TrustedDocument {
    /// What it is.
    pub scope: Scope,
    /// The referrer it came from.
    pub referrer: String,
    /// Its bytes, as attached.
    pub bytes: Vec<u8>,
}

const VEX_MEDIA: [&str; 4] = [
    media::OPENVEX_JSON,
    "application/vnd.openvex+json",
    media::CYCLONEDX_JSON,
    media::CSAF_JSON,
];

/// One verdict per attached VEX document and assessment.
///
/// # Errors
/// Only when the store fails.
pub fn claims(v: &Verifier<'_>) -> Result<Vec<Verdict>, EvidenceError> {
    claims_with_runtime(v).map(|(verdicts, _)| verdicts)
}

/// As [`claims`], with every claim a trusted key signed (VEX, assessments, micro-witnesses,
/// witness reports, profiles, scores).
///
/// # Errors
/// Only when the store fails.
pub fn claims_with_runtime(
    v: &Verifier<'_>,
) -> Result<(Vec<Verdict>, Vec<TrustedDocument>), EvidenceError> {
    let mut out = Vec::new();
    let mut runtime = Vec::new();
    for (scope, wanted) in [
        (
            Scope::Vex,
            Wanted {
                media_types: &VEX_MEDIA,
                predicate_types: &[],
                kind: VEX_KIND,
            },
        ),
        (
            Scope::Assessment,
            Wanted {
                media_types: &[media::ASSESSMENT_JSON],
                predicate_types: &[],
                kind: ASSESSMENT_KIND,
            },
        ),
        (
            Scope::MicroWitness,
            Wanted {
                media_types: &[media::MICRO_WITNESS_JSON],
                predicate_types: &[],
                kind: MICRO_WITNESS_KIND,
            },
        ),
        (
            Scope::WitnessReport,
            Wanted {
                media_types: &[media::WITNESS_REPORT_JSON],
                predicate_types: &[],
                kind: WITNESS_REPORT_KIND,
            },
        ),
        (
            Scope::Profile,
            Wanted {
                media_types: &[media::PROFILE_JSON],
                predicate_types: &[],
                kind: PROFILE_KIND,
            },
        ),
        (
            Scope::Score,
            Wanted {
                media_types: &[media::SCORE_JSON],
                predicate_types: &[],
                kind: SCORE_KIND,
            },
        ),
    ] {
        // Unchecked first: what is there, whoever signed it.
        let present =
            attached::find_each(v.store, &v.image.root, &wanted, None).map_err(store_error)?;
        let mut per_key = Vec::new();
        for key in v.keys {
            let check = Check {
                key: &key.key,
                log: v.log.as_ref(),
            };
            per_key.push(
                attached::find_each(v.store, &v.image.root, &wanted, Some(&check))
                    .map_err(store_error)?,
            );
        }
        for (i, doc) in present.iter().enumerate() {
            let (referrer, name) = match doc {
                Ok(f) => (f.referrer.to_string(), f.media_type.clone()),
                Err(
                    AttachedError::Malformed { referrer, .. }
                    | AttachedError::Refused { referrer, .. },
                ) => (referrer.to_string(), String::from("(unreadable)")),
                Err(_) => (String::new(), String::new()),
            };
            let mut verdict = Verdict::new(scope, &name, &referrer);
            if let Err(e) = doc {
                verdict.fail(Reason::new(ReasonKind::Unreadable, e.to_string()));
                out.push(verdict);
                continue;
            }
            let results: Vec<&Result<attached::Found, AttachedError>> =
                per_key.iter().filter_map(|r| r.get(i)).collect();
            let verified = results.iter().find_map(|r| match r {
                Ok(f) => match &f.signature {
                    Signature::Verified { key_id, entries } => Some((key_id.clone(), *entries)),
                    _ => None,
                },
                Err(_) => None,
            });
            if let Some((key_id, entries)) = verified {
                verdict.detail = Some(format!(
                    "signed by key {key_id}, {entries} log entr{}",
                    if entries == 1 { "y" } else { "ies" }
                ));
                if let Ok(found) = doc {
                    runtime.push(TrustedDocument {
                        scope,
                        referrer: referrer.clone(),
                        bytes: found.bytes.clone(),
                    });
                }
                out.push(verdict);
                continue;
            }
            let reasons: Vec<String> = results
                .iter()
                .filter_map(|r| r.as_ref().err().map(ToString::to_string))
                .collect();
            let tampered = reasons
                .iter()
                .find(|r| r.contains("the signed predicate is not the attached document"));
            match tampered {
                Some(reason) => verdict.fail(Reason::new(
                    ReasonKind::Mismatch,
                    format!("changed after a trusted key signed it: {reason}"),
                )),
                None => {
                    verdict = verdict.ignored(
                        Status::Untrusted,
                        match reasons.first() {
                            Some(r) => format!("no signature by a trusted key: {r}"),
                            None => "no signature by a trusted key".to_owned(),
                        },
                    );
                }
            }
            out.push(verdict);
        }
    }
    Ok((out, runtime))
}

fn store_error(e: AttachedError) -> EvidenceError {
    match e {
        AttachedError::Store(source) => {
            EvidenceError::oci("reading the claims attached to the image")(source)
        }
        other => EvidenceError::invalid("the claims attached to the image", other.to_string()),
    }
}
