//! cosign's signatures and attestations of an image, beside Stella's own evidence: the legacy
//! `sha256-<hex>.sig` / `.att` tags (and what `cosign save` marks in a layout), and Sigstore
//! bundles that another tool attached as referrers (cosign 2.4+ with the bundle format). Each is
//! listed with what was checked: its kind, where it was found, the signer (the key that verified,
//! or the certificate's identity), the predicate type, and verified or why not.
//!
//! The rule (cosign's own): with keys given ([`examine`]'s `keys`), the image needs at least one
//! signature of its digest — a simple-signing payload naming the digest, or a bundle of cosign's
//! signing predicate whose statement names it — that one of the keys verifies. None, or only
//! invalid ones, and the requirement fails ([`CosignReport::ok`]); invalid signatures beside a
//! valid one are listed and do not count. Attestations are listed and checked with the same keys,
//! but are not signatures of the image and never satisfy the requirement. Without keys or an
//! identity nothing is required: what is found is listed, and never changes the verdict of
//! Stella's evidence.
//!
//! Keyless signatures (a Fulcio certificate in the layer's annotations, or a bundle with a
//! certificate) are verified when an identity is asked for ([`Keyless`]), as cosign verifies
//! them: the signing time is proven by the Rekor bundle annotation (its signed entry timestamp
//! verifies with a log of the Sigstore trusted root, and its body logs this signature, payload
//! digest and certificate) or by the RFC 3161 timestamp annotation (a timestamp authority of
//! the root, over the signature); then the certificate is checked at that time
//! ([`simple_signing::verify_keyless`]). With an identity asked for, the image needs a verified
//! signature, as with keys; keys and identity together accept either. Without one, keyless
//! signatures are listed with the identity their certificate names, not verified. Keyless
//! attestations (`.att`) are verified the same way over their envelope (the Rekor bundle's body
//! logs the envelope; a timestamp is over the envelope's bytes, as cosign stamps an attestation),
//! and their statement must name the image; as with keys, they never satisfy the requirement.
//!
//! Not here: finding the objects (`stella_oci::cosign`), the payload, signature and certificate
//! rules (`stella_attest::simple_signing`, `stella_attest::keyless`), log entries
//! (`stella_tlog::rekor_entry`), Stella's own evidence ([`crate::verify`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::Value;
use stella_attest::keyless::timestamp::verify_timestamp;
use stella_attest::keyless::{IdentityPolicy, TrustedRoot, rfc3339};
use stella_attest::simple_signing::{self, KeylessSigner, LegacyError, SigningTime, SimpleSigning};
use stella_attest::{Bundle, PublicKey};
use stella_core::{Digest, Kinded as _};
use stella_oci::ArtifactStore;
use stella_oci::cosign::{self as storage, Kind, LegacyLayer, LegacyManifest};
use stella_oci::reference::Target;
use stella_oci::store::Referrer;
use stella_tlog::bundle_verify::{Artifact, MAX_CLOCK_SKEW_SECONDS, VerifyOptions, verify_bundle};
use stella_tlog::rekor_entry::{RekorEntry, SignedContent, SignerMaterial, verify_rekor_entry};

use crate::EvidenceError;
use crate::verify::TrustedKey;

/// cosign's predicate type for an image signature made in the bundle format.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Largest Sigstore bundle read from a foreign referrer.
pub const MAX_BUNDLE_BYTES: u64 = 128 << 20;
/// Most layers read from a foreign bundle referrer.
const MAX_BUNDLE_LAYERS: usize = 16;
/// Largest Rekor bundle or RFC 3161 timestamp annotation read.
pub const MAX_TIME_PROOF_BYTES: usize = 1 << 20;

/// What keyless signatures are verified against, when an identity is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Keyless<'a> {
    /// The Sigstore trusted root: Fulcio authorities, Rekor logs, CT logs, timestamp
    /// authorities.
    pub root: &'a TrustedRoot,
    /// The identity and issuer the certificate must bind (both required).
    pub policy: &'a IdentityPolicy,
    /// Now, seconds since the epoch (integrated times after it are refused).
    pub now: i64,
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A legacy signature (`.sig`).
    Signature,
    /// A legacy attestation (`.att`).
    Attestation,
    /// A Sigstore bundle attached as a referrer by another tool.
    Bundle,
}

impl FindingKind {
    /// The name a table prints.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Signature => "signature",
            FindingKind::Attestation => "attestation",
            FindingKind::Bundle => "bundle",
        }
    }
}

/// One signature, attestation or bundle found, with what was checked.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// Where it was found (`tag sha256-….sig`, `referrer`, `index.json kind …`).
    pub source: String,
    /// The manifest's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The layer's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Who signed: the key id that verified, a keyless certificate's identity, or the key id a
    /// bundle names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The `--cosign-key` that verified it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The image reference a simple-signing payload names (reported, never trusted).
    #[serde(rename = "dockerReference", skip_serializing_if = "Option::is_none")]
    pub docker_reference: Option<String>,
    /// The predicate type (attestations and bundles).
    #[serde(rename = "predicateType", skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Whether a given key verified it, for this image.
    pub verified: bool,
    /// Why it is not verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was found beside it and not checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Finding {
    fn new(kind: FindingKind, source: String, manifest: Option<String>) -> Self {
        Finding {
            kind,
            source,
            manifest,
            layer: None,
            signer: None,
            key: None,
            docker_reference: None,
            predicate_type: None,
            verified: false,
            reason: None,
            notes: Vec::new(),
        }
    }

    fn refuse(&mut self, why: impl std::fmt::Display) {
        self.verified = false;
        if self.reason.is_none() {
            self.reason = Some(why.to_string());
        }
    }

    /// Whether it is a verified signature of the image (what the requirement counts).
    pub fn is_verified_signature(&self) -> bool {
        self.verified
            && match self.kind {
                FindingKind::Signature => true,
                FindingKind::Bundle => {
                    self.predicate_type.as_deref() == Some(COSIGN_SIGN_PREDICATE)
                }
                FindingKind::Attestation => false,
            }
    }
}

/// Everything found, and whether the requirement (keys given) holds.
#[derive(Debug, Clone, Serialize)]
pub struct CosignReport {
    /// What was found.
    pub findings: Vec<Finding>,
    /// Whether a verified signature was required (keys were given).
    pub required: bool,
    /// Whether the requirement holds (always, when nothing is required).
    pub satisfied: bool,
    /// Why it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CosignReport {
    /// True unless a signature was required and none verified.
    pub fn ok(&self) -> bool {
        !self.required || self.satisfied
    }
}

/// Finds and checks cosign's signatures and attestations of `image` in `store` by the rule of
/// the module documentation; `keys` empty and no `keyless` identity requires nothing.
///
/// # Errors
/// Only when the store fails; everything found is a finding.
pub fn examine(
    store: &dyn ArtifactStore,
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
) -> Result<CosignReport, EvidenceError> {
    let context = format!("looking up cosign's signatures of {image}");
    let mut findings = Vec::new();
    for manifest in
        storage::find_legacy(store, image).map_err(EvidenceError::oci(context.clone()))?
    {
        legacy(&manifest, image, keys, keyless, &mut findings);
    }
    let referrers = store
        .referrers(&image.to_string(), None)
        .map_err(EvidenceError::oci(context.clone()))?;
    for r in referrers.iter().filter(|r| is_foreign_bundle(r)) {
        bundle(store, r, image, keys, keyless, &mut findings)?;
    }
    let required = !keys.is_empty() || keyless.is_some();
    let satisfied = !required || findings.iter().any(Finding::is_verified_signature);
    let reason = (!satisfied).then(|| unsatisfied(image, keys, keyless, &findings));
    Ok(CosignReport {
        findings,
        required,
        satisfied,
        reason,
    })
}

/// A Sigstore bundle referrer that Stella did not attach (Stella's carry its kind annotation).
pub fn is_foreign_bundle(r: &Referrer) -> bool {
    r.artifact_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
        && !r.annotations.contains_key(crate::layout::KIND)
}

fn unsatisfied(
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
    findings: &[Finding],
) -> String {
    let mut names: Vec<String> = keys
        .iter()
        .map(|k| format!("--cosign-key {}", k.name))
        .collect();
    if let Some(k) = keyless {
        let shown = |m: &Option<stella_attest::keyless::Matcher>| {
            m.as_ref()
                .map_or_else(|| "any".to_owned(), ToString::to_string)
        };
        names.push(format!(
            "the identity {} (issuer {})",
            shown(&k.policy.identity),
            shown(&k.policy.issuer)
        ));
    }
    let signatures: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.kind == FindingKind::Signature
                || (f.kind == FindingKind::Bundle
                    && f.predicate_type.as_deref() == Some(COSIGN_SIGN_PREDICATE))
        })
        .collect();
    if signatures.is_empty() {
        return format!(
            "no cosign signature of {image} is stored (tag {}, or a Sigstore bundle referrer); \
             {} requires one",
            storage::tag(Kind::Signatures, image),
            names.join(" or ")
        );
    }
    let reasons: Vec<String> = signatures
        .iter()
        .filter_map(|f| f.reason.clone())
        .take(5)
        .collect();
    format!(
        "none of the {} cosign signatures of {image} verifies with {}: {}",
        signatures.len(),
        names.join(" or "),
        reasons.join("; ")
    )
}

fn public_keys(keys: &[TrustedKey]) -> Vec<PublicKey> {
    keys.iter().map(|k| k.key.clone()).collect()
}

fn key_name(keys: &[TrustedKey], key: &PublicKey) -> Option<String> {
    keys.iter().find(|k| &k.key == key).map(|k| k.name.clone())
}

fn legacy(
    manifest: &LegacyManifest,
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
    out: &mut Vec<Finding>,
) {
    let kind = match manifest.kind {
        Kind::Signatures => FindingKind::Signature,
        Kind::Attestations => FindingKind::Attestation,
    };
    let source = manifest.origin.to_string();
    let digest = manifest.digest.as_ref().map(ToString::to_string);
    if !manifest.problems.is_empty() || manifest.layers.is_empty() {
        let mut f = Finding::new(kind, source.clone(), digest.clone());
        let problems = if manifest.problems.is_empty() {
            "the manifest has no layers".to_owned()
        } else {
            manifest.problems.join("; ")
        };
        f.refuse(format!("not cosign's {}: {problems}", manifest.kind));
        out.push(f);
    }
    for layer in &manifest.layers {
        let mut f = Finding::new(kind, source.clone(), digest.clone());
        f.layer = Some(layer.digest.clone());
        // A keyless signature checked here proves its time with these; then they are checked.
        let checked = keyless.is_some() && layer.annotation(storage::CERTIFICATE).is_some();
        if !checked && layer.annotation(storage::REKOR_BUNDLE).is_some() {
            f.notes
                .push("transparency-log entry (Rekor bundle) present, not checked".to_owned());
        }
        if !checked && layer.annotation(storage::RFC3161_TIMESTAMP).is_some() {
            f.notes
                .push("RFC 3161 timestamp present, not checked".to_owned());
        }
        match &layer.content {
            Err(problem) => f.refuse(problem),
            Ok(bytes) => match manifest.kind {
                Kind::Signatures => signature(layer, bytes, image, keys, keyless, &mut f),
                Kind::Attestations => attestation(layer, bytes, image, keys, keyless, &mut f),
            },
        }
        out.push(f);
    }
}

/// Checks one simple-signing layer: payload, then key, then certificate.
fn signature(
    layer: &LegacyLayer,
    payload: &[u8],
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
    f: &mut Finding,
) {
    let certificate = layer.annotation(storage::CERTIFICATE);
    if let Some(pem) = certificate {
        match simple_signing::certificate_identity(pem) {
            Ok(identity) => f.signer = Some(identity.to_string()),
            Err(e) => f.notes.push(e.to_string()),
        }
    }
    let parsed = match SimpleSigning::parse(payload) {
        Ok(p) => p,
        Err(e) => return f.refuse(e),
    };
    f.docker_reference = Some(parsed.docker_reference.clone());
    if let Err(e) = parsed.require_image(image) {
        return f.refuse(e);
    }
    let sig = match simple_signing::decode_signature(layer.annotation(storage::SIGNATURE)) {
        Ok(s) => s,
        Err(e) => return f.refuse(e),
    };
    let public = public_keys(keys);
    if !public.is_empty() {
        match simple_signing::verify_signature(payload, &sig, image, &public) {
            Ok((_, key)) => {
                f.verified = true;
                f.signer = Some(key.hint());
                f.key = key_name(keys, key);
                return;
            }
            Err(e) if certificate.is_none() => return f.refuse(e),
            Err(_) => {}
        }
    }
    match (certificate, keyless) {
        (Some(pem), Some(k)) => match keyless_signature(layer, pem, &sig, payload, k) {
            Ok((signer, times)) => keyless_verified(f, &signer, &times),
            Err(e) => f.refuse(e),
        },
        (Some(_), None) => f.refuse(LegacyError::KeylessUnverified {
            identity: f.signer.clone().unwrap_or_else(|| "?".to_owned()),
        }),
        (None, _) => f.refuse("not checked: no --cosign-key given"),
    }
}

/// A keyless legacy signature: its signing times proven by the layer's Rekor bundle and RFC
/// 3161 timestamp (each present one must verify), then its certificate checked at them.
fn keyless_signature(
    layer: &LegacyLayer,
    pem: &str,
    signature: &[u8],
    payload: &[u8],
    k: &Keyless<'_>,
) -> Result<(KeylessSigner, Vec<SigningTime>), LegacyError> {
    let leaf = simple_signing::certificates_der(pem, 1)?.remove(0);
    let mut times = Vec::new();
    if let Some(bundle) = layer.annotation(storage::REKOR_BUNDLE) {
        let digest = stella_core::hex::decode_array::<32>(Digest::sha256(payload).hex())
            .ok_or_else(|| LegacyError::Payload("its SHA-256 is not 32 bytes".to_owned()))?;
        let content = SignedContent::Message {
            digest: &digest,
            signature,
        };
        times.push(rekor_time(bundle, content, &leaf, k)?);
    }
    if let Some(stamp) = layer.annotation(storage::RFC3161_TIMESTAMP) {
        times.push(timestamp_time(stamp, signature, k.root)?);
    }
    let signer = simple_signing::verify_keyless(
        pem,
        layer.annotation(storage::CHAIN),
        signature,
        payload,
        k.root,
        &times,
        k.policy,
    )?;
    Ok((signer, times))
}

/// The integrated time cosign's Rekor bundle annotation proves: `{"SignedEntryTimestamp",
/// "Payload": {"body", "integratedTime", "logIndex", "logID"}}`, whose signed entry timestamp
/// must verify with a log of the root and whose body must log `content` signed by this
/// certificate (a `hashedrekord` for a signature; `intoto` or `dsse` for an attestation).
fn rekor_time(
    annotation: &str,
    content: SignedContent<'_>,
    certificate: &[u8],
    k: &Keyless<'_>,
) -> Result<SigningTime, LegacyError> {
    let bad = |reason: String| LegacyError::SigningTime {
        what: "Rekor bundle (dev.sigstore.cosign/bundle)",
        reason,
    };
    if annotation.len() > MAX_TIME_PROOF_BYTES {
        return Err(bad(format!(
            "{} bytes; at most {MAX_TIME_PROOF_BYTES} are read",
            annotation.len()
        )));
    }
    let value: Value =
        serde_json::from_str(annotation).map_err(|e| bad(format!("not JSON ({e})")))?;
    let set = value["SignedEntryTimestamp"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| bad("SignedEntryTimestamp is missing or not base64".to_owned()))?;
    let p = &value["Payload"];
    let body_b64 = p["body"]
        .as_str()
        .ok_or_else(|| bad("Payload.body is missing".to_owned()))?
        .to_owned();
    let body = STANDARD
        .decode(&body_b64)
        .map_err(|e| bad(format!("Payload.body is not base64 ({e})")))?;
    let logged: Value = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("Payload.body is not JSON ({e})")))?;
    let log_id = p["logID"]
        .as_str()
        .and_then(stella_core::hex::decode)
        .ok_or_else(|| bad("Payload.logID is missing or not hex".to_owned()))?;
    let log_index = p["logIndex"]
        .as_u64()
        .ok_or_else(|| bad("Payload.logIndex is missing or not an integer".to_owned()))?;
    let integrated = p["integratedTime"]
        .as_i64()
        .ok_or_else(|| bad("Payload.integratedTime is missing or not an integer".to_owned()))?;
    let entry = RekorEntry {
        log_index,
        log_id,
        kind: logged["kind"].as_str().unwrap_or_default().to_owned(),
        version: logged["apiVersion"].as_str().unwrap_or_default().to_owned(),
        integrated_time: Some(integrated),
        signed_entry_timestamp: Some(set),
        inclusion_proof: None,
        body,
        body_b64,
    };
    let verified = verify_rekor_entry(
        &entry,
        content,
        SignerMaterial::Certificate(certificate),
        k.root,
        true,
        false,
    )
    .map_err(|e| bad(e.to_string()))?;
    let time = verified
        .integrated_time
        .ok_or_else(|| bad("no verified integrated time".to_owned()))?;
    if time > k.now + MAX_CLOCK_SKEW_SECONDS {
        return Err(bad(format!(
            "the integrated time {} is in the future (now {})",
            rfc3339(time),
            rfc3339(k.now)
        )));
    }
    Ok(SigningTime {
        time,
        source: format!("signed entry timestamp of {} #{log_index}", verified.log),
    })
}

/// The time cosign's RFC 3161 timestamp annotation proves: `{"SignedRFC3161Timestamp"}`, a
/// token over the signature's bytes by a timestamp authority of the root.
fn timestamp_time(
    annotation: &str,
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<SigningTime, LegacyError> {
    let bad = |reason: String| LegacyError::SigningTime {
        what: "RFC 3161 timestamp (dev.sigstore.cosign/rfc3161timestamp)",
        reason,
    };
    if annotation.len() > MAX_TIME_PROOF_BYTES {
        return Err(bad(format!(
            "{} bytes; at most {MAX_TIME_PROOF_BYTES} are read",
            annotation.len()
        )));
    }
    let value: Value =
        serde_json::from_str(annotation).map_err(|e| bad(format!("not JSON ({e})")))?;
    let token = value["SignedRFC3161Timestamp"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| bad("SignedRFC3161Timestamp is missing or not base64".to_owned()))?;
    let stamp = verify_timestamp(&token, signature, root, 0).map_err(|e| bad(e.to_string()))?;
    Ok(SigningTime {
        time: stamp.time,
        source: format!("RFC 3161 timestamp of {}", stamp.authority),
    })
}

/// Checks one DSSE attestation layer: envelope, then key, then certificate.
fn attestation(
    layer: &LegacyLayer,
    bytes: &[u8],
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
    f: &mut Finding,
) {
    f.predicate_type = layer.annotation(storage::PREDICATE_TYPE).map(str::to_owned);
    let certificate = layer.annotation(storage::CERTIFICATE);
    if let Some(pem) = certificate {
        match simple_signing::certificate_identity(pem) {
            Ok(identity) => f.signer = Some(identity.to_string()),
            Err(e) => f.notes.push(e.to_string()),
        }
    }
    let envelope = match simple_signing::read_envelope(bytes) {
        Ok(e) => e,
        Err(e) => return f.refuse(e),
    };
    let claimed = simple_signing::claimed_predicate_type(&envelope);
    if f.predicate_type.is_none() {
        f.predicate_type = claimed.clone();
    } else if claimed.is_some() && claimed != f.predicate_type {
        f.notes.push(format!(
            "the layer's predicateType annotation differs from the statement's ({})",
            claimed.unwrap_or_default()
        ));
    }
    let public = public_keys(keys);
    if !public.is_empty() {
        match simple_signing::verify_attestation(bytes, image, &public) {
            Ok(v) => {
                f.verified = true;
                f.predicate_type = Some(v.predicate_type);
                f.key = keys
                    .iter()
                    .find(|k| k.key.hint() == v.key_id)
                    .map(|k| k.name.clone());
                f.signer = Some(v.key_id);
                return;
            }
            Err(e) if certificate.is_none() || keyless.is_none() => return f.refuse(e),
            Err(_) => {}
        }
    }
    match (certificate, keyless) {
        (Some(pem), Some(k)) => match keyless_attestation(layer, pem, bytes, &envelope, image, k) {
            Ok((signer, times, predicate_type)) => {
                f.verified = true;
                f.predicate_type = Some(predicate_type);
                keyless_verified(f, &signer, &times);
            }
            Err(e) => f.refuse(e),
        },
        (Some(_), None) => f.refuse(LegacyError::KeylessUnverified {
            identity: f.signer.clone().unwrap_or_else(|| "?".to_owned()),
        }),
        (None, _) => f.refuse("not checked: no --cosign-key given"),
    }
}

/// A keyless legacy attestation: its signing times proven by the layer's Rekor bundle (an
/// entry logging this envelope) and RFC 3161 timestamp (over the envelope, as cosign stamps an
/// attestation), its certificate checked at them over the envelope's PAE, and its statement
/// naming the image.
fn keyless_attestation(
    layer: &LegacyLayer,
    pem: &str,
    bytes: &[u8],
    envelope: &stella_attest::Envelope,
    image: &Digest,
    k: &Keyless<'_>,
) -> Result<(KeylessSigner, Vec<SigningTime>, String), LegacyError> {
    let [signature] = envelope.signatures.as_slice() else {
        return Err(LegacyError::Signature(format!(
            "the envelope carries {} signatures; a keyless attestation carries one",
            envelope.signatures.len()
        )));
    };
    if envelope.payload_type != stella_core::media::IN_TOTO_PAYLOAD {
        return Err(LegacyError::Attestation(
            stella_attest::AttestError::Envelope(format!(
                "payloadType {:?} is not an in-toto statement",
                envelope.payload_type
            )),
        ));
    }
    let leaf = simple_signing::certificates_der(pem, 1)?.remove(0);
    let mut times = Vec::new();
    if let Some(bundle) = layer.annotation(storage::REKOR_BUNDLE) {
        times.push(rekor_time(bundle, SignedContent::Dsse(envelope), &leaf, k)?);
    }
    if let Some(stamp) = layer.annotation(storage::RFC3161_TIMESTAMP) {
        times.push(timestamp_time(stamp, bytes, k.root)?);
    }
    let signer = simple_signing::verify_keyless(
        pem,
        layer.annotation(storage::CHAIN),
        &signature.sig,
        &stella_attest::dsse::pae(&envelope.payload_type, &envelope.payload),
        k.root,
        &times,
        k.policy,
    )?;
    let statement = stella_attest::Statement::from_json(&envelope.payload)?;
    statement.require_subject_digest(image)?;
    Ok((signer, times, statement.predicate_type))
}

/// Marks `f` verified by a keyless signer, with the proven times and the authority.
fn keyless_verified(f: &mut Finding, signer: &KeylessSigner, times: &[SigningTime]) {
    f.verified = true;
    f.signer = Some(signer.to_string());
    f.notes.extend(
        times
            .iter()
            .map(|t| format!("signed at {} (proven by the {})", rfc3339(t.time), t.source)),
    );
    f.notes.push(format!(
        "certificate issued by {}, {} SCT{} verified",
        signer.authority,
        signer.scts,
        if signer.scts == 1 { "" } else { "s" }
    ));
}

/// Reads and checks a foreign Sigstore bundle referrer.
fn bundle(
    store: &dyn ArtifactStore,
    referrer: &Referrer,
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
    out: &mut Vec<Finding>,
) -> Result<(), EvidenceError> {
    let digest = referrer.digest.to_string();
    let mut f = Finding::new(
        FindingKind::Bundle,
        "referrer".to_owned(),
        Some(digest.clone()),
    );
    f.predicate_type = referrer
        .annotations
        .get(crate::layout::BUNDLE_PREDICATE_TYPE)
        .cloned();
    let manifest = match store.get_manifest(&Target::Digest(digest.clone())) {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                stella_core::ErrorKind::Unavailable | stella_core::ErrorKind::Environment
            ) =>
        {
            return Err(EvidenceError::oci(format!("reading the referrer {digest}"))(e));
        }
        Err(e) => {
            f.refuse(e);
            out.push(f);
            return Ok(());
        }
    };
    let value: Value = match serde_json::from_slice(&manifest.bytes) {
        Ok(v) => v,
        Err(e) => {
            f.refuse(format!("the manifest is not JSON: {e}"));
            out.push(f);
            return Ok(());
        }
    };
    let layers: Vec<&Value> = value["layers"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|d| {
                    d["mediaType"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
                })
                .take(MAX_BUNDLE_LAYERS)
                .collect()
        })
        .unwrap_or_default();
    if layers.is_empty() {
        f.refuse("the referrer holds no Sigstore bundle layer");
        out.push(f);
        return Ok(());
    }
    for layer in layers {
        let mut one = f.clone();
        let layer_digest = layer["digest"].as_str().unwrap_or_default().to_owned();
        one.layer = Some(layer_digest.clone());
        match store.get_blob_bounded(&layer_digest, MAX_BUNDLE_BYTES) {
            Ok(bytes) => check_bundle(&bytes, image, keys, keyless, &mut one),
            Err(e) => one.refuse(e),
        }
        out.push(one);
    }
    Ok(())
}

fn check_bundle(
    bytes: &[u8],
    image: &Digest,
    keys: &[TrustedKey],
    keyless: Option<&Keyless<'_>>,
    f: &mut Finding,
) {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return f.refuse(format!("the bundle is not JSON: {e}")),
    };
    let material = &value["verificationMaterial"];
    let has_certificate =
        material.get("certificate").is_some() || material.get("x509CertificateChain").is_some();
    if let (true, Some(k)) = (has_certificate, keyless) {
        return keyless_bundle(&value, image, k, f);
    }
    let parsed = match Bundle::from_json_value(&value) {
        Ok(b) => b,
        Err(e) => return f.refuse(e),
    };
    if !parsed.tlog_entries.is_empty() {
        f.notes.push(format!(
            "{} transparency-log entr{} present, not checked",
            parsed.tlog_entries.len(),
            if parsed.tlog_entries.len() == 1 {
                "y"
            } else {
                "ies"
            }
        ));
    }
    f.signer = parsed.hint.clone();
    if f.predicate_type.is_none() {
        f.predicate_type = simple_signing::claimed_predicate_type(&parsed.envelope);
    }
    if has_certificate {
        f.notes.push(
            "keyless: not checked without the expected identity and issuer \
             (--certificate-identity[-regexp], --certificate-oidc-issuer[-regexp])"
                .to_owned(),
        );
    }
    let public = public_keys(keys);
    if public.is_empty() {
        return f.refuse("not checked: no --cosign-key given");
    }
    let mut last = None;
    for key in &public {
        match parsed.envelope.verify(key) {
            Ok(verified) => {
                if let Err(e) = verified.statement.require_subject_digest(image) {
                    return f.refuse(e);
                }
                f.verified = true;
                f.predicate_type = Some(verified.statement.predicate_type.clone());
                f.signer = Some(key.hint());
                f.key = key_name(keys, key);
                return;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        f.refuse(LegacyError::Attestation(e));
    }
}

/// A keyless bundle referrer, verified as `stella verify-bundle` verifies a bundle whose
/// artifact is the image (its statement must name the image's digest).
fn keyless_bundle(value: &Value, image: &Digest, k: &Keyless<'_>, f: &mut Finding) {
    let Some(digest) = stella_core::hex::decode_array::<32>(image.hex()) else {
        return f.refuse(format!(
            "{image}: only sha256 images can be checked against a bundle"
        ));
    };
    let options = VerifyOptions {
        root: k.root,
        policy: Some(k.policy),
        key: None,
        now: k.now,
    };
    match verify_bundle(value, Artifact::Sha256(digest), &options) {
        Ok(verified) => {
            f.verified = true;
            if verified.predicate_type.is_some() {
                f.predicate_type = verified.predicate_type.clone();
            }
            if let stella_tlog::bundle_verify::VerifiedSigner::Certificate { identity, .. } =
                &verified.signer
            {
                f.signer = Some(format!(
                    "{} (issuer {})",
                    identity.san.join(", "),
                    identity.issuer().unwrap_or("?")
                ));
            }
            f.notes.extend(
                verified
                    .times
                    .iter()
                    .map(|t| format!("signed at {} ({} {})", rfc3339(t.time), t.kind, t.source)),
            );
        }
        Err(e) => f.refuse(format!("keyless: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stella_core::media;

    #[test]
    fn only_bundles_without_stellas_kind_are_foreign() {
        let mut r = Referrer {
            digest: Digest::sha256(b"m"),
            media_type: stella_oci::store::MANIFEST.to_owned(),
            size: 1,
            artifact_type: Some(media::SIGSTORE_BUNDLE_V03.to_owned()),
            annotations: Default::default(),
        };
        assert!(is_foreign_bundle(&r));
        r.annotations
            .insert(crate::layout::KIND.to_owned(), "signatures".to_owned());
        assert!(!is_foreign_bundle(&r));
        r.annotations.clear();
        r.artifact_type = Some(media::CYCLONEDX_JSON.to_owned());
        assert!(!is_foreign_bundle(&r));
    }

    /// Malformed time proofs are refused with the annotation and what is wrong, before any key
    /// is tried.
    #[test]
    fn malformed_time_proofs_are_refused_by_name() {
        let root = TrustedRoot {
            tlogs: Vec::new(),
            ctlogs: Vec::new(),
            certificate_authorities: Vec::new(),
            timestamp_authorities: Vec::new(),
        };
        let policy = IdentityPolicy::default();
        let k = Keyless {
            root: &root,
            policy: &policy,
            now: 1_800_000_000,
        };
        let digest = [0u8; 32];
        let content = || SignedContent::Message {
            digest: &digest,
            signature: b"sig",
        };
        let rekor = |annotation: &str| match rekor_time(annotation, content(), b"cert", &k) {
            Err(LegacyError::SigningTime { what, reason }) => format!("{what}: {reason}"),
            other => panic!("expected a refusal of {annotation}, got {other:?}"),
        };
        assert!(rekor("{").contains("not JSON"));
        assert!(rekor("{}").contains("SignedEntryTimestamp is missing"));
        let payload = |p: &str| format!(r#"{{"SignedEntryTimestamp":"c2V0","Payload":{p}}}"#);
        assert!(rekor(&payload("{}")).contains("Payload.body is missing"));
        let body = STANDARD.encode(r#"{"kind":"hashedrekord","apiVersion":"0.0.1"}"#);
        let m = rekor(&payload(&format!(
            r#"{{"body":"{body}","logID":"zz","logIndex":1,"integratedTime":1}}"#
        )));
        assert!(m.contains("logID"), "{m}");
        let m = rekor(&payload(&format!(
            r#"{{"body":"{body}","logID":"00","logIndex":1,"integratedTime":1}}"#
        )));
        assert!(m.contains("does not know"), "{m}");
        assert!(rekor(&" ".repeat(MAX_TIME_PROOF_BYTES + 1)).contains("at most"));

        let stamp = |annotation: &str| match timestamp_time(annotation, b"sig", &root) {
            Err(LegacyError::SigningTime { what, reason }) => format!("{what}: {reason}"),
            other => panic!("expected a refusal of {annotation}, got {other:?}"),
        };
        assert!(stamp("[]").contains("SignedRFC3161Timestamp is missing"));
        let m = stamp(r#"{"SignedRFC3161Timestamp":"MAMCAQA="}"#);
        assert!(m.starts_with("RFC 3161 timestamp"), "{m}");
    }
}
