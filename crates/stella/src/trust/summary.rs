//! What a Sigstore trusted root names, as `stella trust show` prints it: its transparency logs,
//! certificate-transparency logs, certificate authorities and timestamp authorities, each with
//! its validity window. A description for a person, not a verifier: the verifiers read the
//! document themselves.

use serde::{Deserialize, Serialize};

/// The media type prefix every version of the trusted-root document carries.
pub const MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.trustedroot+json";

/// A trusted root's contents, as shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The document's media type (its version).
    pub media_type: String,
    /// Transparency logs (`tlogs`).
    pub tlogs: Vec<LogSummary>,
    /// Certificate-transparency logs (`ctlogs`).
    pub ctlogs: Vec<LogSummary>,
    /// Certificate authorities (Fulcio).
    pub certificate_authorities: Vec<AuthoritySummary>,
    /// Timestamp authorities.
    pub timestamp_authorities: Vec<AuthoritySummary>,
}

/// One log of a trusted root.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSummary {
    /// Where the log is.
    pub base_url: String,
    /// The log id (base64 of the key id), when given.
    pub key_id: Option<String>,
    /// The key's algorithm (`PKIX_ECDSA_P256_SHA_256`, `PKIX_ED25519`, …).
    pub key_details: Option<String>,
    /// Entries are accepted from this time …
    pub valid_from: Option<String>,
    /// … until this one (none: still open).
    pub valid_until: Option<String>,
}

/// One certificate or timestamp authority of a trusted root.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthoritySummary {
    /// The subject's organisation and common name, as `organization / commonName`.
    pub subject: String,
    /// Where the authority is.
    pub uri: Option<String>,
    /// Certificates in its chain.
    pub certificates: usize,
    /// Valid from …
    pub valid_from: Option<String>,
    /// … until (none: still open).
    pub valid_until: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<Log>,
    #[serde(default)]
    ctlogs: Vec<Log>,
    #[serde(default)]
    certificate_authorities: Vec<Authority>,
    #[serde(default)]
    timestamp_authorities: Vec<Authority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Log {
    base_url: String,
    public_key: Option<PublicKey>,
    log_id: Option<LogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKey {
    key_details: Option<String>,
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Deserialize)]
struct ValidFor {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Authority {
    subject: Option<Subject>,
    uri: Option<String>,
    cert_chain: Option<CertChain>,
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subject {
    organization: Option<String>,
    common_name: Option<String>,
}

#[derive(Deserialize)]
struct CertChain {
    #[serde(default)]
    certificates: Vec<serde::de::IgnoredAny>,
}

/// Reads a trusted-root document.
///
/// # Errors
/// The document is not JSON, lacks a field this summary needs, or is not a Sigstore trusted
/// root (its `mediaType` is another).
pub fn summarise(bytes: &[u8]) -> anyhow::Result<Summary> {
    let document: Document =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
            .map_err(|e| {
                let at = e.path().to_string();
                anyhow::anyhow!("not a Sigstore trusted root at {at}: {}", e.into_inner())
            })?;
    if !document.media_type.starts_with(MEDIA_TYPE_PREFIX) {
        anyhow::bail!(
            "mediaType {:?} is not a Sigstore trusted root ({MEDIA_TYPE_PREFIX};version=…)",
            document.media_type
        );
    }
    let logs = |logs: Vec<Log>| -> Vec<LogSummary> {
        logs.into_iter()
            .map(|log| {
                let valid_for = log.public_key.as_ref().and_then(|k| k.valid_for.as_ref());
                LogSummary {
                    key_id: log.log_id.map(|id| id.key_id),
                    key_details: log.public_key.as_ref().and_then(|k| k.key_details.clone()),
                    valid_from: valid_for.and_then(|v| v.start.clone()),
                    valid_until: valid_for.and_then(|v| v.end.clone()),
                    base_url: log.base_url,
                }
            })
            .collect()
    };
    let authorities = |authorities: Vec<Authority>| -> Vec<AuthoritySummary> {
        authorities
            .into_iter()
            .map(|a| {
                let subject = a.subject.map_or_else(String::new, |s| {
                    [s.organization, s.common_name]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" / ")
                });
                AuthoritySummary {
                    subject,
                    uri: a.uri,
                    certificates: a.cert_chain.map_or(0, |c| c.certificates.len()),
                    valid_from: a.valid_for.as_ref().and_then(|v| v.start.clone()),
                    valid_until: a.valid_for.and_then(|v| v.end),
                }
            })
            .collect()
    };
    Ok(Summary {
        media_type: document.media_type,
        tlogs: logs(document.tlogs),
        ctlogs: logs(document.ctlogs),
        certificate_authorities: authorities(document.certificate_authorities),
        timestamp_authorities: authorities(document.timestamp_authorities),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_root_names_rekor_fulcio_ct_and_the_tsa() {
        let summary = summarise(crate::trust::PUBLIC_GOOD_TRUSTED_ROOT).unwrap();
        assert!(
            summary
                .tlogs
                .iter()
                .any(|l| l.base_url == "https://rekor.sigstore.dev"
                    && l.valid_from.as_deref() == Some("2021-01-12T11:53:27Z"))
        );
        assert!(!summary.ctlogs.is_empty());
        assert!(
            summary
                .certificate_authorities
                .iter()
                .any(|a| a.uri.as_deref() == Some("https://fulcio.sigstore.dev")
                    && a.subject == "sigstore.dev / sigstore"
                    && a.certificates > 0)
        );
        assert!(!summary.timestamp_authorities.is_empty());
    }

    #[test]
    fn other_documents_are_refused_with_the_reason() {
        let e = summarise(br#"{"mediaType":"application/json"}"#).unwrap_err();
        assert!(
            e.to_string().contains("is not a Sigstore trusted root"),
            "{e}"
        );
        let e = summarise(br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("tlogs[0]"), "{e}");
        assert!(summarise(b"[").is_err());
    }
}
