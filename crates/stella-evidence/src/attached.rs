//! Documents attached to an image as OCI referrers (VEX, for one), read back with what their
//! signatures prove; and a document signed, logged and attached.
//!
//! **Attaching** ([`attach_signed`]): the document is stored as an artifact whose subject is
//! the image manifest (artifact type = the document's media type, one layer); an in-toto
//! Statement about the image (subject: the image manifest digest, predicate: the document
//! itself) is signed, logged, and its Sigstore bundle attached with the document's artifact as
//! its subject — the layout `stella scan` uses for SBOMs.
//!
//! **Finding** ([`find`]): every referrer of the image whose artifact type is one of the wanted
//! media types gives its first layer of that type; every Sigstore bundle attached directly to
//! the image whose statement has one of the wanted predicate types gives its predicate (as a
//! canonical JSON document). Each found document says what its signatures prove:
//! - with a key to check ([`Check`]), a document must carry a bundle that verifies with it,
//!   whose statement names the image and whose predicate is the document (same canonical
//!   bytes), and whose log entries verify; anything less is [`AttachedError::Refused`] naming
//!   the referrer — the caller asked for proof, so an unsigned or unproven document is a "no",
//!   never skipped;
//! - without one, a document is [`Signature::Unchecked`] (it carries bundles nobody checked) or
//!   [`Signature::NotSigned`].
//!
//! What this module does not own: what the documents mean (the VEX crate reads them), where
//! keys come from, or the image's own evidence ([`crate::verify`]).

use std::collections::BTreeMap;

use serde_json::Value;
use stella_attest::{PublicKey, SignedEvidence, Signer, Statement, Subject};
use stella_core::{Digest, ErrorKind, Kinded, jcs, media};
use stella_oci::OciError;
use stella_oci::reference::Target;
use stella_oci::store::{self, ArtifactStore, Layer, Stored};
use stella_tlog::LogBackend;
use stella_tlog::audit::EntryCheck;
use stella_tlog::sign::SignError;

use crate::attestation::{self, Expected};

/// Largest attached document read.
pub const MAX_DOCUMENT_BYTES: u64 = 256 << 20;

/// Why attached documents could not be read or attached, or did not prove what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachedError {
    /// The store failed or holds something unusable.
    #[error(transparent)]
    Store(#[from] OciError),
    /// A referrer is not what its artifact type says.
    #[error("referrer {referrer}: {reason}")]
    Malformed {
        /// The referrer's manifest digest.
        referrer: Digest,
        /// What is wrong.
        reason: String,
    },
    /// A document does not carry the proof asked for.
    #[error("referrer {referrer}: {reason}")]
    Refused {
        /// The referrer's manifest digest.
        referrer: Digest,
        /// Why.
        reason: String,
    },
    /// The document could not be signed or logged.
    #[error("signing the attached document")]
    Sign(#[source] Box<SignError>),
    /// The statement could not be made (a predicate that is not JSON).
    #[error("the document is not a JSON predicate: {0}")]
    Predicate(String),
}

impl Kinded for AttachedError {
    fn kind(&self) -> ErrorKind {
        match self {
            AttachedError::Store(e) => e.kind(),
            AttachedError::Malformed { .. } | AttachedError::Predicate(_) => ErrorKind::Invalid,
            AttachedError::Refused { .. } => ErrorKind::Rejected,
            AttachedError::Sign(e) => e.kind(),
        }
    }
}

/// What the signatures of a found document prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// A bundle verified with the key given: the key's id and the bundle's log entries.
    Verified {
        /// The key id of the signature that verified.
        key_id: String,
        /// Log entries checked.
        entries: usize,
    },
    /// Bundles are attached and nobody asked to check them.
    Unchecked {
        /// How many.
        bundles: usize,
    },
    /// No bundle is attached.
    NotSigned,
}

/// A document found attached to an image.
#[derive(Debug, Clone)]
pub struct Found {
    /// The referrer it came from (an artifact manifest, or a bundle's manifest).
    pub referrer: Digest,
    /// Its media type (the artifact type), or for a bundle's predicate the predicate type.
    pub media_type: String,
    /// The document's bytes (a bundle's predicate as canonical JSON).
    pub bytes: Vec<u8>,
    /// What its signatures prove.
    pub signature: Signature,
}

/// What to look for.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// Artifact types (and layer media types) of documents attached as they are.
    pub media_types: &'a [&'a str],
    /// Predicate types of bundles attached to the image that carry the document as predicate.
    pub predicate_types: &'a [&'a str],
    /// The `dev.stellaops.kind` annotation a document of the wanted media types must carry
    /// when it carries one: Stella's own artifacts of another kind (an SBOM shares CycloneDX
    /// VEX's media type) are not taken.
    pub kind: &'a str,
}

/// The proof required of every document found.
pub struct Check<'a> {
    /// The key a bundle must verify with.
    pub key: &'a PublicKey,
    /// How log entries are checked (`None`: there is no trusted root, and a bundle with entries
    /// is refused).
    pub log: Option<&'a EntryCheck<'a>>,
}

fn layer_of(
    store: &dyn ArtifactStore,
    referrer: &Digest,
    media_types: &[&str],
) -> Result<(String, Vec<u8>), AttachedError> {
    let malformed = |reason: String| AttachedError::Malformed {
        referrer: referrer.clone(),
        reason,
    };
    let manifest = store.get_manifest(&Target::Digest(referrer.to_string()))?;
    let value: Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| malformed(format!("manifest is not JSON: {e}")))?;
    let layers = value["layers"]
        .as_array()
        .ok_or_else(|| malformed("manifest has no layers".to_owned()))?;
    let layer = layers
        .iter()
        .find(|l| {
            l["mediaType"]
                .as_str()
                .is_some_and(|m| media_types.contains(&m))
        })
        .ok_or_else(|| malformed(format!("no layer of type {}", media_types.join(" or "))))?;
    let media_type = layer["mediaType"].as_str().unwrap_or_default().to_owned();
    let digest = layer["digest"]
        .as_str()
        .ok_or_else(|| malformed("a layer without digest".to_owned()))?;
    if layer["size"]
        .as_u64()
        .is_some_and(|s| s > MAX_DOCUMENT_BYTES)
    {
        return Err(malformed(format!(
            "the layer is larger than {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    Ok((media_type, store.get_blob(digest)?))
}

/// The bundles attached to `referrer` (a document's manifest), as JSON, sorted by digest.
///
/// # Errors
/// [`AttachedError::Store`] when the store fails; [`AttachedError::Malformed`] for a bundle
/// that is not JSON.
pub fn bundles_of(
    store: &dyn ArtifactStore,
    referrer: &Digest,
) -> Result<Vec<(Digest, Value)>, AttachedError> {
    let mut out = Vec::new();
    let mut found = store.referrers(&referrer.to_string(), Some(media::SIGSTORE_BUNDLE_V03))?;
    found.sort();
    for r in found {
        let (_, bytes) = layer_of(store, &r.digest, &[media::SIGSTORE_BUNDLE_V03])?;
        let value = jcs::parse(&bytes)
            .map_err(|e| AttachedError::Malformed {
                referrer: r.digest.clone(),
                reason: format!("the bundle is not JSON: {e}"),
            })?
            .to_serde();
        out.push((r.digest, value));
    }
    Ok(out)
}

/// Whether `bundle` proves the document whose canonical bytes are `canonical` about `image`
/// under `check`: `Ok(key id, entries)` or the reason it does not.
fn proves(
    bundle: &Value,
    canonical: &[u8],
    image: &Digest,
    check: &Check<'_>,
) -> Result<(String, usize), String> {
    let digests = [image.clone()];
    let expected = Expected {
        key: check.key,
        predicate_type: None,
        digests: &digests,
        log_required: false,
    };
    let attested = match attestation::verify(bundle, &expected, check.log) {
        Ok(Ok(a)) => a,
        Ok(Err(refusal)) => return Err(refusal.to_string()),
        Err(e) => return Err(e.to_string()),
    };
    let predicate = jcs::to_canonical(&attested.verified.statement.predicate)
        .map_err(|e| format!("the signed predicate is not canonical JSON: {e}"))?;
    if predicate != canonical {
        return Err("the signed predicate is not the attached document".to_owned());
    }
    let key_id = attested
        .verified
        .keyids
        .first()
        .cloned()
        .unwrap_or_default();
    Ok((key_id, attested.entries.len()))
}

/// The documents attached to `image` that `wanted` names, sorted by referrer digest, each with
/// what its signatures prove (see the module docs).
///
/// # Errors
/// [`AttachedError::Store`] when the store fails; [`AttachedError::Malformed`] for a referrer
/// that is not what it says; [`AttachedError::Refused`] for a document without the proof
/// `check` asks for.
pub fn find(
    store: &dyn ArtifactStore,
    image: &Stored,
    wanted: &Wanted<'_>,
    check: Option<&Check<'_>>,
) -> Result<Vec<Found>, AttachedError> {
    find_each(store, image, wanted, check)?
        .into_iter()
        .collect()
}

/// As [`find`], but a document that is malformed or lacks the proof `check` asks for is
/// reported in its place instead of ending the search: what an auditor's replay lists, one
/// verdict per document.
///
/// # Errors
/// [`AttachedError::Store`] when the store fails.
pub fn find_each(
    store: &dyn ArtifactStore,
    image: &Stored,
    wanted: &Wanted<'_>,
    check: Option<&Check<'_>>,
) -> Result<Vec<Result<Found, AttachedError>>, AttachedError> {
    let mut referrers = store.referrers(&image.digest.to_string(), None)?;
    referrers.sort();
    let mut found = Vec::new();
    for r in referrers {
        match one_document(store, image, wanted, check, r) {
            Ok(None) => {}
            Ok(Some(f)) => found.push(Ok(f)),
            Err(e @ AttachedError::Store(_)) => return Err(e),
            Err(e) => found.push(Err(e)),
        }
    }
    Ok(found)
}

/// The document `r` holds, if it is one `wanted` names.
fn one_document(
    store: &dyn ArtifactStore,
    image: &Stored,
    wanted: &Wanted<'_>,
    check: Option<&Check<'_>>,
    r: stella_oci::store::Referrer,
) -> Result<Option<Found>, AttachedError> {
    {
        let Some(artifact_type) = r.artifact_type.as_deref() else {
            return Ok(None);
        };
        let kind = r.annotations.get(crate::layout::KIND);
        if wanted.media_types.contains(&artifact_type)
            && kind.is_none_or(|k| k.as_str() == wanted.kind)
        {
            let (media_type, bytes) = layer_of(store, &r.digest, wanted.media_types)?;
            let bundles = bundles_of(store, &r.digest)?;
            let signature = match check {
                None if bundles.is_empty() => Signature::NotSigned,
                None => Signature::Unchecked {
                    bundles: bundles.len(),
                },
                Some(check) => {
                    // The document's canonical form, made once for all its bundles.
                    let canonical = jcs::parse(&bytes).map(|v| v.to_canonical()).map_err(|e| {
                        AttachedError::Refused {
                            referrer: r.digest.clone(),
                            reason: format!("the {artifact_type} document is not JSON: {e}"),
                        }
                    })?;
                    let mut reasons = Vec::new();
                    let mut verified = None;
                    for (digest, bundle) in &bundles {
                        match proves(bundle, &canonical, &image.digest, check) {
                            Ok(ok) => {
                                verified = Some(ok);
                                break;
                            }
                            Err(reason) => reasons.push(format!("bundle {digest}: {reason}")),
                        }
                    }
                    match verified {
                        Some((key_id, entries)) => Signature::Verified { key_id, entries },
                        None if bundles.is_empty() => {
                            return Err(AttachedError::Refused {
                                referrer: r.digest,
                                reason: format!(
                                    "the {artifact_type} document is not signed, and a key to verify it with was given"
                                ),
                            });
                        }
                        None => {
                            return Err(AttachedError::Refused {
                                referrer: r.digest,
                                reason: format!(
                                    "no bundle of the {artifact_type} document verifies: {}",
                                    reasons.join("; ")
                                ),
                            });
                        }
                    }
                }
            };
            Ok(Some(Found {
                referrer: r.digest,
                media_type,
                bytes,
                signature,
            }))
        } else if artifact_type == media::SIGSTORE_BUNDLE_V03
            && !wanted.predicate_types.is_empty()
            // A bundle Stella attached as evidence of a scan (the SBOM's CycloneDX
            // attestation) is not a claim of the kind wanted, whatever its predicate type.
            && kind.is_none_or(|k| k.as_str() == wanted.kind)
        {
            let (_, bytes) = layer_of(store, &r.digest, &[media::SIGSTORE_BUNDLE_V03])?;
            let malformed = |reason: String| AttachedError::Malformed {
                referrer: r.digest.clone(),
                reason,
            };
            let value = jcs::parse(&bytes)
                .map_err(|e| malformed(format!("the bundle is not JSON: {e}")))?
                .to_serde();
            let evidence = SignedEvidence::from_json_value(&value)
                .map_err(|e| malformed(format!("not a Sigstore bundle: {e}")))?;
            // Which predicate it carries is read before any check, only to pick the bundles
            // wanted; the check below decides whether the predicate is trusted.
            let statement = Statement::from_json(&evidence.envelope().payload)
                .map_err(|e| malformed(format!("the payload is not an in-toto Statement: {e}")))?;
            if !wanted
                .predicate_types
                .contains(&statement.predicate_type.as_str())
            {
                return Ok(None);
            }
            let document = jcs::to_canonical(&statement.predicate)
                .map_err(|e| malformed(format!("the predicate is not canonical JSON: {e}")))?;
            let signature = match check {
                None => Signature::Unchecked { bundles: 1 },
                Some(check) => match proves(&value, &document, &image.digest, check) {
                    Ok((key_id, entries)) => Signature::Verified { key_id, entries },
                    Err(reason) => {
                        return Err(AttachedError::Refused {
                            referrer: r.digest,
                            reason,
                        });
                    }
                },
            };
            Ok(Some(Found {
                referrer: r.digest,
                media_type: statement.predicate_type,
                bytes: document,
                signature,
            }))
        } else {
            Ok(None)
        }
    }
}

/// What [`attach_signed`] stored.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The document's artifact manifest (subject: the image).
    pub document: Stored,
    /// The bundle's artifact manifest (subject: the document's manifest).
    pub bundle: Stored,
    /// The log index of the signature's entry, when logged.
    pub log_index: Option<u64>,
}

/// Signs `document` as the predicate of an in-toto Statement about `image`, logs it, and
/// attaches the document (annotated with `kind`) and its bundle (see the module docs).
///
/// # Errors
/// [`AttachedError::Predicate`] for a document that is not JSON; [`AttachedError::Sign`] when
/// signing or the log fails; [`AttachedError::Store`] when the store does.
#[allow(clippy::too_many_arguments)]
pub fn attach_signed(
    store: &dyn ArtifactStore,
    image: &Stored,
    image_name: &str,
    name: &str,
    media_type: &str,
    document: &[u8],
    predicate_type: &str,
    kind: &str,
    signer: &dyn Signer,
    log: Option<&dyn LogBackend>,
) -> Result<Attached, AttachedError> {
    attach_signed_about(
        store,
        image,
        image_name,
        &[],
        name,
        media_type,
        document,
        predicate_type,
        kind,
        signer,
        log,
    )
}

/// As [`attach_signed`], the Statement naming also the subjects `also` (name, digest) after
/// the image — e.g. the SBOM a micro-witness is about, by its canonical id.
///
/// # Errors
/// As [`attach_signed`].
#[allow(clippy::too_many_arguments)]
pub fn attach_signed_about(
    store: &dyn ArtifactStore,
    image: &Stored,
    image_name: &str,
    also: &[(String, Digest)],
    name: &str,
    media_type: &str,
    document: &[u8],
    predicate_type: &str,
    kind: &str,
    signer: &dyn Signer,
    log: Option<&dyn LogBackend>,
) -> Result<Attached, AttachedError> {
    let predicate = jcs::parse(document)
        .map_err(|e| AttachedError::Predicate(e.to_string()))?
        .to_serde();
    let subjects = std::iter::once(Subject::new(image_name, &image.digest))
        .chain(also.iter().map(|(n, d)| Subject::new(n.as_str(), d)))
        .collect();
    let statement = Statement::new(subjects, predicate_type, predicate)
        .map_err(|e| AttachedError::Predicate(e.to_string()))?;
    let signed = stella_tlog::sign::sign_and_log(&statement, &[signer], log)
        .map_err(|e| AttachedError::Sign(Box::new(e)))?;
    let bundle_bytes = signed
        .bundle
        .to_canonical_json()
        .map_err(|e| AttachedError::Predicate(e.to_string()))?;
    let annotations =
        |kind: &str| BTreeMap::from([(crate::layout::KIND.to_owned(), kind.to_owned())]);
    let document_manifest = store::attach_manifest(
        store,
        image,
        media_type,
        &[Layer {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            bytes: document.to_vec(),
        }],
        &annotations(kind),
    )?;
    let bundle_manifest = store::attach_manifest(
        store,
        &document_manifest,
        media::SIGSTORE_BUNDLE_V03,
        &[Layer {
            name: format!("{name}.sigstore.json"),
            media_type: media::SIGSTORE_BUNDLE_V03.to_owned(),
            bytes: bundle_bytes,
        }],
        &annotations(crate::layout::Kind::Signatures.as_str()),
    )?;
    Ok(Attached {
        document: document_manifest,
        bundle: bundle_manifest,
        log_index: signed.entries.first().map(|e| e.log_index),
    })
}
