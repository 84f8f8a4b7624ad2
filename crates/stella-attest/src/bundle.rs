//! Sigstore bundles, v0.1 to v0.3: `{"mediaType", "verificationMaterial": {…}, "dsseEnvelope" |
//! "messageSignature"}`.
//!
//! [`SigstoreBundle`] reads every form a verifier meets: media types
//! `application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3` and
//! `application/vnd.dev.sigstore.bundle.v0.3+json`; verification material `publicKey` (a key
//! hint), `x509CertificateChain` (v0.1/v0.2) or `certificate` (v0.3); `tlogEntries`;
//! `timestampVerificationData.rfc3161Timestamps`; content `messageSignature` (digest and
//! signature over an artifact) or `dsseEnvelope`.
//!
//! [`Bundle`] is the form Stella writes for key-based attestations (v0.3, a key hint, a DSSE
//! envelope), the one cosign writes for `--key` attestations; reading one goes through
//! [`SigstoreBundle`].
//!
//! Transparency-log entries are carried as they are (JSON objects); checking them is the
//! transparency log's work (`stella-tlog`), as is the whole keyless verification.
//!
//! Not here: the envelope's contents ([`crate::dsse`]), certificates ([`crate::keyless`]).

use serde_json::{Value, json};
use stella_core::jcs;
use stella_core::media::SIGSTORE_BUNDLE_V03;

use crate::AttestError;
use crate::dsse::Envelope;

/// Bundle media types read: v0.3 and the v0.1 / v0.2 forms.
pub const KNOWN_MEDIA_TYPES: [&str; 4] = [
    SIGSTORE_BUNDLE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// A Sigstore bundle holding a DSSE envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// The bundle's media type.
    pub media_type: String,
    /// `verificationMaterial.publicKey.hint`: the signing key's id.
    pub hint: Option<String>,
    /// `verificationMaterial.tlogEntries`, as found.
    pub tlog_entries: Vec<Value>,
    /// The envelope.
    pub envelope: Envelope,
}

impl Bundle {
    /// A v0.3 bundle around `envelope`, naming the key by `hint`, with no log entries yet.
    pub fn new(envelope: Envelope, hint: impl Into<String>) -> Self {
        Bundle {
            media_type: SIGSTORE_BUNDLE_V03.to_owned(),
            hint: Some(hint.into()),
            tlog_entries: Vec::new(),
            envelope,
        }
    }

    /// The bundle as JSON.
    pub fn to_json_value(&self) -> Value {
        let mut material = json!({ "tlogEntries": self.tlog_entries });
        if let Some(hint) = &self.hint {
            material["publicKey"] = json!({ "hint": hint });
        }
        json!({
            "mediaType": self.media_type,
            "verificationMaterial": material,
            "dsseEnvelope": self.envelope.to_json_value(),
        })
    }

    /// The bundle's canonical (RFC 8785) JSON: same envelope, same bytes.
    ///
    /// # Errors
    /// Only for numbers JSON cannot carry exactly inside log entries.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, AttestError> {
        Ok(jcs::to_canonical(&self.to_json_value())?)
    }

    /// Reads a bundle.
    ///
    /// # Errors
    /// [`AttestError::MediaType`] for an unknown media type, [`AttestError::Bundle`] for a
    /// structure that is not a DSSE bundle, and what [`Envelope::from_json_value`] reports.
    pub fn from_json_value(value: &Value) -> Result<Self, AttestError> {
        let read = SigstoreBundle::from_json_value(value)?;
        let envelope = match read.content {
            BundleContent::Dsse(envelope) => envelope,
            BundleContent::MessageSignature { .. } => {
                return Err(AttestError::Bundle(
                    "a message-signature bundle (a signed blob), not an attestation: it has no \
                     dsseEnvelope"
                        .to_owned(),
                ));
            }
        };
        let hint = match read.material {
            VerificationMaterial::PublicKey { hint } => hint,
            _ => None,
        };
        Ok(Bundle {
            media_type: read.media_type,
            hint,
            tlog_entries: read.tlog_entries,
            envelope,
        })
    }
}

/// Most certificates read from a bundle's `x509CertificateChain`.
pub const MAX_BUNDLE_CERTIFICATES: usize = 8;
/// Most log entries read from one bundle.
pub const MAX_TLOG_ENTRIES: usize = 32;
/// Most RFC 3161 timestamps read from one bundle.
pub const MAX_TIMESTAMPS: usize = 32;

/// A bundle format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    /// v0.1: a log entry must carry its signed entry timestamp.
    V01,
    /// v0.2: a log entry must carry its inclusion proof.
    V02,
    /// v0.3: a single `certificate` instead of a chain.
    V03,
}

/// How the bundle says who signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationMaterial {
    /// A key the verifier must supply, named by its hint.
    PublicKey {
        /// `publicKey.hint`.
        hint: Option<String>,
    },
    /// Certificates, DER, the signing (leaf) certificate first.
    Certificates(Vec<Vec<u8>>),
}

/// What the bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleContent {
    /// A signature over an artifact's bytes.
    MessageSignature {
        /// `messageDigest`: the algorithm name (`SHA2_256`, …) and digest, if given.
        digest: Option<(String, Vec<u8>)>,
        /// The signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope.
    Dsse(Envelope),
}

impl BundleContent {
    /// The signature bytes a log entry and a timestamp cover (a DSSE envelope's first).
    pub fn signature(&self) -> Option<&[u8]> {
        match self {
            BundleContent::MessageSignature { signature, .. } => Some(signature),
            BundleContent::Dsse(envelope) => envelope.signatures.first().map(|s| s.sig.as_slice()),
        }
    }
}

/// Any Sigstore bundle, v0.1 to v0.3.
#[derive(Debug, Clone, PartialEq)]
pub struct SigstoreBundle {
    /// The media type as found.
    pub media_type: String,
    /// Its version.
    pub version: BundleVersion,
    /// Key hint or certificates.
    pub material: VerificationMaterial,
    /// `verificationMaterial.tlogEntries`, as found.
    pub tlog_entries: Vec<Value>,
    /// `verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp`,
    /// DER.
    pub timestamps: Vec<Vec<u8>>,
    /// The signed content.
    pub content: BundleContent,
}

fn bundle_error(m: impl Into<String>) -> AttestError {
    AttestError::Bundle(m.into())
}

fn b64_member(value: &Value, at: &str) -> Result<Vec<u8>, AttestError> {
    use base64::Engine as _;
    let text = value
        .as_str()
        .ok_or_else(|| bundle_error(format!("{at} is missing or not a string")))?;
    // Line breaks inside base64 are skipped, as Go's and protobuf's JSON decoders skip them.
    let text: std::borrow::Cow<'_, str> = if text.contains(['\n', '\r']) {
        text.replace(['\n', '\r'], "").into()
    } else {
        text.into()
    };
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| AttestError::Base64 {
            field: at.to_owned(),
            reason: e.to_string(),
        })
}

fn array<'v>(value: Option<&'v Value>, at: &str, max: usize) -> Result<&'v [Value], AttestError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) if a.len() <= max => Ok(a),
        Some(Value::Array(a)) => Err(bundle_error(format!(
            "{at} has {} members; at most {max} are read",
            a.len()
        ))),
        Some(_) => Err(bundle_error(format!("{at} is not an array"))),
    }
}

impl SigstoreBundle {
    /// Reads a bundle of any version.
    ///
    /// # Errors
    /// [`AttestError::MediaType`] for an unknown media type, [`AttestError::Bundle`] naming the
    /// JSON pointer of a missing or malformed member, [`AttestError::Base64`], and what
    /// [`Envelope::from_json_value`] reports.
    pub fn from_json_value(value: &Value) -> Result<Self, AttestError> {
        let object = value
            .as_object()
            .ok_or_else(|| bundle_error("not a JSON object"))?;
        let media_type = match object.get("mediaType") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(bundle_error("no \"mediaType\" string")),
        };
        let version = match media_type.as_str() {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => BundleVersion::V01,
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => BundleVersion::V02,
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => BundleVersion::V03,
            _ => return Err(AttestError::MediaType(media_type)),
        };
        let material = object
            .get("verificationMaterial")
            .and_then(Value::as_object)
            .ok_or_else(|| bundle_error("no \"verificationMaterial\" object"))?;
        let at = "/verificationMaterial";
        let mut found = Vec::new();
        if let Some(pk) = material.get("publicKey") {
            let hint = match pk.get("hint") {
                Some(Value::String(h)) => Some(h.clone()),
                None | Some(Value::Null) => None,
                Some(_) => {
                    return Err(bundle_error(format!("{at}/publicKey/hint is not a string")));
                }
            };
            found.push(VerificationMaterial::PublicKey { hint });
        }
        if let Some(chain) = material.get("x509CertificateChain") {
            if version == BundleVersion::V03 {
                return Err(bundle_error(format!(
                    "{at}/x509CertificateChain in a v0.3 bundle, which carries a single \
                     \"certificate\""
                )));
            }
            let here = format!("{at}/x509CertificateChain/certificates");
            let certs = array(chain.get("certificates"), &here, MAX_BUNDLE_CERTIFICATES)?;
            if certs.is_empty() {
                return Err(bundle_error(format!(
                    "{here} is empty: no signing certificate"
                )));
            }
            let ders = certs
                .iter()
                .enumerate()
                .map(|(i, c)| b64_member(&c["rawBytes"], &format!("{here}/{i}/rawBytes")))
                .collect::<Result<Vec<_>, _>>()?;
            found.push(VerificationMaterial::Certificates(ders));
        }
        if let Some(cert) = material.get("certificate") {
            let der = b64_member(&cert["rawBytes"], &format!("{at}/certificate/rawBytes"))?;
            found.push(VerificationMaterial::Certificates(vec![der]));
        }
        let material_found = match found.len() {
            1 => found.remove(0),
            // Nothing names the signer: only a key given to the verifier can check it.
            0 => VerificationMaterial::PublicKey { hint: None },
            _ => {
                return Err(bundle_error(format!(
                    "{at} has more than one of publicKey, x509CertificateChain, certificate"
                )));
            }
        };
        let tlog_entries = array(
            material.get("tlogEntries"),
            &format!("{at}/tlogEntries"),
            MAX_TLOG_ENTRIES,
        )?
        .to_vec();
        let here = format!("{at}/timestampVerificationData/rfc3161Timestamps");
        let timestamps = array(
            material
                .get("timestampVerificationData")
                .and_then(|t| t.get("rfc3161Timestamps")),
            &here,
            MAX_TIMESTAMPS,
        )?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            b64_member(
                &t["signedTimestamp"],
                &format!("{here}/{i}/signedTimestamp"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
        let content = match (object.get("dsseEnvelope"), object.get("messageSignature")) {
            (Some(env), None) => {
                BundleContent::Dsse(Envelope::from_json_value(env, "/dsseEnvelope")?)
            }
            (None, Some(ms)) => {
                let signature = b64_member(&ms["signature"], "/messageSignature/signature")?;
                let digest = match ms.get("messageDigest") {
                    None | Some(Value::Null) => None,
                    Some(d) => Some((
                        d["algorithm"].as_str().unwrap_or_default().to_owned(),
                        b64_member(&d["digest"], "/messageSignature/messageDigest/digest")?,
                    )),
                };
                BundleContent::MessageSignature { digest, signature }
            }
            (Some(_), Some(_)) => {
                return Err(bundle_error(
                    "both dsseEnvelope and messageSignature: a bundle carries one",
                ));
            }
            (None, None) => {
                return Err(bundle_error("neither dsseEnvelope nor messageSignature"));
            }
        };
        Ok(SigstoreBundle {
            media_type,
            version,
            material: material_found,
            tlog_entries,
            timestamps,
            content,
        })
    }
}

/// Signed evidence as found in a file: a Sigstore bundle, or a bare DSSE envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum SignedEvidence {
    /// A Sigstore bundle.
    Bundle(Bundle),
    /// A DSSE envelope on its own.
    Envelope(Envelope),
}

impl SignedEvidence {
    /// Reads either form: an object with `mediaType` is a bundle, one with `payloadType` an
    /// envelope.
    ///
    /// # Errors
    /// [`AttestError::Bundle`] when it is neither, and what the form's reader reports.
    pub fn from_json_value(value: &Value) -> Result<Self, AttestError> {
        if value.get("mediaType").is_some() {
            Bundle::from_json_value(value).map(SignedEvidence::Bundle)
        } else if value.get("payloadType").is_some() {
            Envelope::from_json_value(value, "").map(SignedEvidence::Envelope)
        } else {
            Err(AttestError::Bundle(
                "neither a Sigstore bundle (no \"mediaType\") nor a DSSE envelope (no \
                 \"payloadType\")"
                    .to_owned(),
            ))
        }
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        match self {
            SignedEvidence::Bundle(b) => &b.envelope,
            SignedEvidence::Envelope(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, PrivateKey, Signer as _};
    use crate::statement::{Statement, Subject};
    use stella_core::Digest;

    #[test]
    fn bundles_round_trip_and_unknown_media_types_are_refused() {
        let key = PrivateKey::generate(Algorithm::Ed25519).expect("key");
        let statement = Statement::new(
            vec![Subject::new("a", &Digest::sha256(b"a"))],
            "https://example.com/p/v1",
            json!({}),
        )
        .expect("statement");
        let env = Envelope::sign_statement(&statement, &[&key]).expect("sign");
        let bundle = Bundle::new(env, key.key_id());
        let value = bundle.to_json_value();
        assert_eq!(value["verificationMaterial"]["tlogEntries"], json!([]));
        assert_eq!(Bundle::from_json_value(&value).expect("read"), bundle);
        let mut unknown = value.clone();
        unknown["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v9+json");
        assert!(matches!(
            Bundle::from_json_value(&unknown),
            Err(AttestError::MediaType(_))
        ));
        let either = SignedEvidence::from_json_value(&value["dsseEnvelope"]).expect("envelope");
        assert_eq!(either.envelope(), &bundle.envelope);
    }
}
