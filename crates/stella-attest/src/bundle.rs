//! The Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) for key-based
//! signing: `{"mediaType", "verificationMaterial": {"publicKey": {"hint"}, "tlogEntries": [...]},
//! "dsseEnvelope": {...}}`, the form cosign writes for `--key` attestations and sigstore-js and
//! sigstore-go verify with a trusted key.
//!
//! Transparency-log entries are carried as they are (JSON objects); adding and checking them is
//! the transparency log's work. Certificate-based (keyless) bundles are read but their
//! certificates are not checked here.
//!
//! Not here: the envelope's contents ([`crate::dsse`]).

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
        let object = value
            .as_object()
            .ok_or_else(|| AttestError::Bundle("not a JSON object".to_owned()))?;
        let media_type = match object.get("mediaType") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(AttestError::Bundle("no \"mediaType\" string".to_owned())),
        };
        if !KNOWN_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(AttestError::MediaType(media_type));
        }
        let material = object
            .get("verificationMaterial")
            .and_then(Value::as_object)
            .ok_or_else(|| AttestError::Bundle("no \"verificationMaterial\" object".to_owned()))?;
        let hint = match material.get("publicKey") {
            None => None,
            Some(pk) => match pk.get("hint") {
                Some(Value::String(h)) => Some(h.clone()),
                None => None,
                Some(_) => {
                    return Err(AttestError::Bundle(
                        "/verificationMaterial/publicKey/hint is not a string".to_owned(),
                    ));
                }
            },
        };
        let tlog_entries = match material.get("tlogEntries") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                return Err(AttestError::Bundle(
                    "/verificationMaterial/tlogEntries is not an array".to_owned(),
                ));
            }
        };
        let envelope = match object.get("dsseEnvelope") {
            Some(env) => Envelope::from_json_value(env, "/dsseEnvelope")?,
            None if object.contains_key("messageSignature") => {
                return Err(AttestError::Bundle(
                    "a message-signature bundle (a signed blob), not an attestation: it has no \
                     dsseEnvelope"
                        .to_owned(),
                ));
            }
            None => return Err(AttestError::Bundle("no \"dsseEnvelope\"".to_owned())),
        };
        Ok(Bundle {
            media_type,
            hint,
            tlog_entries,
            envelope,
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
