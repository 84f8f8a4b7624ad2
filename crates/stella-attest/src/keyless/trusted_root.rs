//! The Sigstore trusted root v0.1 (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`):
//! the transparency logs (`tlogs`), certificate-transparency logs (`ctlogs`), certificate
//! authorities (Fulcio) and timestamp authorities a verifier trusts, each for a time range
//! (`validFor`, a closed interval whose start is required).
//!
//! Not here: where the document comes from (the CLI resolves given / updated / shipped), and
//! using the logs (`stella-tlog`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::KeylessError;
use super::pkix::PkixKey;

/// Largest trusted root read.
pub const MAX_TRUSTED_ROOT_BYTES: usize = 4 << 20;
/// Most entries of each list read.
pub const MAX_ENTRIES: usize = 256;
/// Most certificates of one authority's chain accepted.
pub const MAX_CHAIN_LENGTH: usize = 8;

/// A closed time range in seconds since the epoch: `start <= t <= end`, no end meaning open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start (inclusive).
    pub start: i64,
    /// End (inclusive), if any.
    pub end: Option<i64>,
}

impl TimeRange {
    /// Whether `t` is inside.
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }
}

impl std::fmt::Display for TimeRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.end {
            Some(end) => write!(
                f,
                "{} to {}",
                super::rfc3339(self.start),
                super::rfc3339(end)
            ),
            None => write!(f, "from {}", super::rfc3339(self.start)),
        }
    }
}

/// A log (transparency or certificate transparency) the root trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    /// `baseUrl`.
    pub base_url: String,
    /// The log id (`logId.keyId`, for CT and Rekor v1 SHA-256 of the DER key).
    pub log_id: Vec<u8>,
    /// The key.
    pub key: PkixKey,
    /// `publicKey.keyDetails`.
    pub key_details: String,
    /// When the key is trusted.
    pub valid_for: TimeRange,
}

impl TrustedLog {
    /// The host of `baseUrl`: a Rekor checkpoint's key name.
    pub fn host(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or_default()
    }
}

/// A certificate authority (Fulcio) or timestamp authority the root trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// `uri`.
    pub uri: String,
    /// The chain, DER, the issuing certificate first and the root last.
    pub chain: Vec<Vec<u8>>,
    /// When the authority is trusted.
    pub valid_for: TimeRange,
}

/// A trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<TrustedLog>,
    /// Certificate-transparency logs.
    pub ctlogs: Vec<TrustedLog>,
    /// Fulcio instances.
    pub certificate_authorities: Vec<Authority>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<Authority>,
}

fn bad(at: impl Into<String>, reason: impl Into<String>) -> KeylessError {
    KeylessError::TrustedRoot {
        at: at.into(),
        reason: reason.into(),
    }
}

/// Reads an RFC 3339 time at `at`.
fn time(value: &Value, at: &str) -> Result<i64, KeylessError> {
    let text = value
        .as_str()
        .ok_or_else(|| bad(at, "expected an RFC 3339 time string"))?;
    let t: jiff::Timestamp = text
        .parse()
        .map_err(|e| bad(at, format!("{text:?} is not an RFC 3339 time ({e})")))?;
    Ok(t.as_second())
}

fn range(value: &Value, at: &str) -> Result<TimeRange, KeylessError> {
    let object = value
        .as_object()
        .ok_or_else(|| bad(at, "validFor is required (an object with start)"))?;
    let start = match object.get("start") {
        Some(v) => time(v, &format!("{at}/start"))?,
        None => {
            return Err(bad(
                at,
                "validFor has no start: a trusted key's validity must begin somewhere",
            ));
        }
    };
    let end = match object.get("end") {
        None | Some(Value::Null) => None,
        Some(v) => Some(time(v, &format!("{at}/end"))?),
    };
    if end.is_some_and(|e| e < start) {
        return Err(bad(at, "validFor ends before it starts"));
    }
    Ok(TimeRange { start, end })
}

fn b64(value: &Value, at: &str) -> Result<Vec<u8>, KeylessError> {
    value
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| bad(at, "expected base64"))
}

fn list<'a>(root: &'a Value, name: &str) -> Result<&'a [Value], KeylessError> {
    match root.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) if a.len() <= MAX_ENTRIES => Ok(a),
        Some(Value::Array(a)) => Err(bad(
            format!("/{name}"),
            format!("{} entries; at most {MAX_ENTRIES} are read", a.len()),
        )),
        Some(_) => Err(bad(format!("/{name}"), "expected an array")),
    }
}

fn log(value: &Value, at: &str) -> Result<TrustedLog, KeylessError> {
    let key = &value["publicKey"];
    let details = key["keyDetails"].as_str().unwrap_or_default().to_owned();
    let der = b64(&key["rawBytes"], &format!("{at}/publicKey/rawBytes"))?;
    let parsed = PkixKey::from_trusted_root(&der, &details, &format!("{at}/publicKey"))?;
    let valid_for = range(&key["validFor"], &format!("{at}/publicKey/validFor"))?;
    let log_id = b64(&value["logId"]["keyId"], &format!("{at}/logId/keyId"))?;
    Ok(TrustedLog {
        base_url: value["baseUrl"].as_str().unwrap_or_default().to_owned(),
        log_id,
        key: parsed,
        key_details: details,
        valid_for,
    })
}

fn authority(value: &Value, at: &str) -> Result<Authority, KeylessError> {
    let certs = value["certChain"]["certificates"]
        .as_array()
        .ok_or_else(|| bad(format!("{at}/certChain/certificates"), "expected an array"))?;
    if certs.is_empty() {
        return Err(bad(format!("{at}/certChain"), "the chain is empty"));
    }
    if certs.len() > MAX_CHAIN_LENGTH {
        return Err(bad(
            format!("{at}/certChain"),
            format!(
                "{} certificates; chains deeper than {MAX_CHAIN_LENGTH} are refused",
                certs.len()
            ),
        ));
    }
    let chain = certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            b64(
                &c["rawBytes"],
                &format!("{at}/certChain/certificates/{i}/rawBytes"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Authority {
        uri: value["uri"].as_str().unwrap_or_default().to_owned(),
        chain,
        valid_for: range(&value["validFor"], &format!("{at}/validFor"))?,
    })
}

impl TrustedRoot {
    /// Reads a trusted root document.
    ///
    /// # Errors
    /// [`KeylessError::TrustedRoot`] naming the JSON pointer that is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeylessError> {
        if bytes.len() > MAX_TRUSTED_ROOT_BYTES {
            return Err(bad(
                "",
                format!("{} bytes; at most {MAX_TRUSTED_ROOT_BYTES}", bytes.len()),
            ));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| bad("", format!("not JSON ({e})")))?;
        Self::from_json_value(&value)
    }

    /// Reads a trusted root from JSON.
    ///
    /// # Errors
    /// [`KeylessError::TrustedRoot`] naming the JSON pointer that is wrong.
    pub fn from_json_value(value: &Value) -> Result<Self, KeylessError> {
        let media = value["mediaType"].as_str().unwrap_or_default();
        if !media.starts_with("application/vnd.dev.sigstore.trustedroot") {
            return Err(bad(
                "/mediaType",
                format!("{media:?} is not a Sigstore trusted root media type"),
            ));
        }
        let logs = |name: &str| -> Result<Vec<TrustedLog>, KeylessError> {
            list(value, name)?
                .iter()
                .enumerate()
                .map(|(i, v)| log(v, &format!("/{name}/{i}")))
                .collect()
        };
        let authorities = |name: &str| -> Result<Vec<Authority>, KeylessError> {
            list(value, name)?
                .iter()
                .enumerate()
                .map(|(i, v)| authority(v, &format!("/{name}/{i}")))
                .collect()
        };
        Ok(TrustedRoot {
            tlogs: logs("tlogs")?,
            ctlogs: logs("ctlogs")?,
            certificate_authorities: authorities("certificateAuthorities")?,
            timestamp_authorities: authorities("timestampAuthorities")?,
        })
    }

    /// The transparency log with this log id.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&TrustedLog> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_closed_and_need_a_start() {
        let r = range(
            &serde_json::json!({"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}),
            "/x",
        )
        .expect("range");
        assert!(r.contains(r.start) && r.contains(r.end.unwrap_or_default()));
        assert!(!r.contains(r.start - 1));
        let err =
            range(&serde_json::json!({"end": "2020-01-02T00:00:00Z"}), "/x").expect_err("no start");
        assert!(err.to_string().contains("no start"), "{err}");
    }
}
