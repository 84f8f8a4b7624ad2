//! Reading a CycloneDX document and computing its identities.

use stella_core::Digest;
use stella_core::jcs::{self, Limits, Value};

use crate::SbomError;
use crate::model::{Bom, SpecVersion};

/// A CycloneDX document read strictly, in canonical member order.
#[derive(Debug, Clone)]
pub struct SbomDocument<'a> {
    value: Value<'a>,
    spec_version: SpecVersion,
}

/// Members that change on every generation of an otherwise identical SBOM: a fresh random
/// `serialNumber` and the generation time. `--content` ids leave them out.
pub const VOLATILE_MEMBERS: [&str; 2] = ["/serialNumber", "/metadata/timestamp"];

/// [`SbomDocument::content_id`] of a document built in memory (an SBOM being written).
///
/// # Errors
/// [`SbomError::Json`] if the document holds a number JCS cannot represent.
pub fn content_id_of(document: &serde_json::Value) -> Result<Digest, SbomError> {
    let mut document = document.clone();
    for pointer in VOLATILE_MEMBERS {
        let (parent, member) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(serde_json::Value::Object(map)) = document.pointer_mut(parent) {
            map.remove(member);
        }
    }
    Ok(Digest::sha256(&jcs::to_canonical(&document)?))
}

/// Reads any I-JSON document (for canonicalising documents that are not SBOMs).
///
/// # Errors
/// [`SbomError::Json`] when the bytes are not I-JSON.
pub fn read_any_json(bytes: &[u8], limits: Limits) -> Result<Value<'_>, SbomError> {
    Ok(jcs::parse_with(bytes, limits)?)
}

impl<'a> SbomDocument<'a> {
    /// Reads `bytes` as a CycloneDX 1.4–1.7 document.
    ///
    /// # Errors
    /// [`SbomError::Json`] for anything that is not I-JSON; [`SbomError::NotCycloneDx`] for JSON
    /// that is not CycloneDX; [`SbomError::UnsupportedSpecVersion`] for other versions.
    pub fn read(bytes: &'a [u8], limits: Limits) -> Result<Self, SbomError> {
        Self::from_value(jcs::parse_with(bytes, limits)?)
    }

    /// Wraps an already-parsed value, checking that it is CycloneDX.
    ///
    /// # Errors
    /// As [`SbomDocument::read`], less the JSON errors.
    pub fn from_value(value: Value<'a>) -> Result<Self, SbomError> {
        let spec_version = cyclonedx_version(&value)?;
        Ok(SbomDocument {
            value,
            spec_version,
        })
    }

    /// The declared `specVersion`.
    pub fn spec_version(&self) -> SpecVersion {
        self.spec_version
    }

    /// The document.
    pub fn value(&self) -> &Value<'a> {
        &self.value
    }

    /// RFC 8785 bytes of the whole document.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        self.value.to_canonical()
    }

    /// `sha256:` + hex(sha256(JCS(document))): the canonical id of Stella's contracts.
    pub fn canonical_id(&self) -> Digest {
        Digest::sha256(&self.canonical_bytes())
    }

    /// The canonical id of the document without its volatile members ([`VOLATILE_MEMBERS`]), so
    /// that two generations of the same SBOM share it.
    pub fn content_id(&self) -> Digest {
        Digest::sha256(&self.value.to_canonical_excluding(&VOLATILE_MEMBERS))
    }

    /// The typed model of the document.
    ///
    /// # Errors
    /// [`SbomError::Model`] naming the first field that does not fit.
    pub fn to_model(&self) -> Result<Bom, SbomError> {
        let json = self.value.to_serde();
        serde_path_to_error::deserialize(json).map_err(|e| SbomError::Model {
            pointer: jcs::pointer_of(e.path()),
            source: e.into_inner(),
        })
    }
}

fn describe(value: Option<&Value<'_>>) -> String {
    match value {
        None => "nothing (the member is missing)".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(_)) => "a number".to_owned(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(Value::Array(_)) => "an array".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
    }
}

/// Checks the two members that make a document CycloneDX and returns its version.
fn cyclonedx_version(value: &Value<'_>) -> Result<SpecVersion, SbomError> {
    if value.as_object().is_none() {
        return Err(SbomError::NotCycloneDx {
            pointer: "the document root".to_owned(),
            expected: "an object",
            found: describe(Some(value)),
        });
    }
    let format = value.get("bomFormat");
    if format.is_none()
        && let Some(version) = crate::spdx::detect(value)
    {
        return Err(SbomError::IsSpdx { version });
    }
    if format.and_then(Value::as_str) != Some("CycloneDX") {
        return Err(SbomError::NotCycloneDx {
            pointer: "/bomFormat".to_owned(),
            expected: "\"CycloneDX\"",
            found: describe(format),
        });
    }
    let version = value.get("specVersion");
    let Some(version) = version.and_then(Value::as_str) else {
        return Err(SbomError::NotCycloneDx {
            pointer: "/specVersion".to_owned(),
            expected: "a version string such as \"1.7\"",
            found: describe(version),
        });
    };
    version
        .parse()
        .map_err(|found| SbomError::UnsupportedSpecVersion { found })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_cyclonedx_is_named_precisely() {
        let err =
            SbomDocument::read(br#"{"spdxVersion": "SPDX-2.3"}"#, Limits::default()).unwrap_err();
        assert!(matches!(&err, SbomError::IsSpdx { .. }), "{err}");
        assert!(err.to_string().contains("stella sbom convert"), "{err}");
        let err =
            SbomDocument::read(br#"{"spdxVersion": "SPDX-9"}"#, Limits::default()).unwrap_err();
        assert!(
            matches!(&err, SbomError::NotCycloneDx { pointer, .. } if pointer == "/bomFormat"),
            "{err}"
        );
        let err = SbomDocument::read(b"[1]", Limits::default()).unwrap_err();
        assert!(matches!(err, SbomError::NotCycloneDx { .. }));
        let err = SbomDocument::read(
            br#"{"bomFormat": "CycloneDX", "specVersion": "1.2"}"#,
            Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, SbomError::UnsupportedSpecVersion { .. }));
    }

    #[test]
    fn errors_say_their_kind() {
        use stella_core::{ErrorKind, Kinded};
        let small = Limits {
            max_bytes: 8,
            ..Limits::default()
        };
        let err = SbomDocument::read(br#"{"bomFormat": "CycloneDX"}"#, small).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
        let err = SbomDocument::read(b"{", Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        let err =
            SbomDocument::read(br#"{"spdxVersion": "SPDX-2.3"}"#, Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        let err = crate::parse_auditable(&vec![b' '; crate::auditable::MAX_AUDITABLE_BYTES + 1])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    }

    #[test]
    fn content_id_ignores_only_the_volatile_members() {
        let a = br#"{"bomFormat":"CycloneDX","specVersion":"1.7","serialNumber":"urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427","version":1,"metadata":{"timestamp":"2026-01-01T00:00:00Z","component":{"type":"application","name":"x"}}}"#;
        let b = br#"{"bomFormat":"CycloneDX","specVersion":"1.7","serialNumber":"urn:uuid:2b4e28ba-2fa1-11d2-883f-0016d3cca427","version":1,"metadata":{"timestamp":"2026-02-02T00:00:00Z","component":{"type":"application","name":"x"}}}"#;
        let c = br#"{"bomFormat":"CycloneDX","specVersion":"1.7","serialNumber":"urn:uuid:2b4e28ba-2fa1-11d2-883f-0016d3cca427","version":1,"metadata":{"timestamp":"2026-02-02T00:00:00Z","component":{"type":"application","name":"y"}}}"#;
        let read = |bytes| SbomDocument::read(bytes, Limits::default()).expect("valid");
        let (a, b, c) = (read(a), read(b), read(c));
        assert_ne!(a.canonical_id(), b.canonical_id());
        assert_eq!(a.content_id(), b.content_id());
        assert_ne!(b.content_id(), c.content_id());
    }

    #[test]
    fn content_id_of_a_value_is_the_documents() {
        let bytes = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427","version":3,"metadata":{"timestamp":"2026-01-01T00:00:00Z","tools":[{"name":"x"}]},"components":[{"type":"library","name":"\u00e9","evidence":{"identity":{"field":"name","confidence":0.5}}}]}"#;
        let doc = SbomDocument::read(bytes, Limits::default()).expect("valid");
        let mut value: serde_json::Value = serde_json::from_slice(bytes).expect("json");
        assert_eq!(content_id_of(&value).expect("id"), doc.content_id());
        value["metadata"]["timestamp"] = "2027-01-01T00:00:00Z".into();
        value
            .as_object_mut()
            .expect("object")
            .remove("serialNumber");
        assert_eq!(content_id_of(&value).expect("id"), doc.content_id());
        value["version"] = 4.into();
        assert_ne!(content_id_of(&value).expect("id"), doc.content_id());
    }

    #[test]
    fn model_errors_carry_a_pointer() {
        let doc = SbomDocument::read(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library"}]}"#,
            Limits::default(),
        )
        .expect("CycloneDX");
        let err = doc.to_model().unwrap_err();
        assert!(
            matches!(&err, SbomError::Model { pointer, source } if pointer == "/components/0" && source.to_string().contains("name")),
            "{err}"
        );
    }
}
