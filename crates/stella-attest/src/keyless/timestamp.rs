//! RFC 3161 timestamp tokens as Sigstore bundles carry them
//! (`timestampVerificationData.rfc3161Timestamps[].signedTimestamp`): a CMS `ContentInfo`
//! holding `SignedData` (RFC 5652) whose encapsulated content is a `TSTInfo` (RFC 3161 §2.4.2).
//!
//! A token proves the signing time when: its `messageImprint` is the hash of the bundle's
//! signature bytes; its signer's signed attributes carry the content type `id-ct-TSTInfo` and
//! the digest of the `TSTInfo`; their signature verifies with the TSA certificate (embedded in
//! the token or given by the trusted root); and that certificate chains, at `genTime`, to a
//! timestamp authority of the trusted root whose `validFor` contains `genTime`.
//!
//! Not here: which signature a token covers (the bundle verifier), the certificate being valid
//! at that time (the bundle verifier checks it against every proven time).

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Reader as _, SliceReader, Tagged as _};
use spki::AlgorithmIdentifierOwned;

use super::KeylessError;
use super::certificate::{FulcioCertificate, Usage, parse_chain};
use super::pkix::{HashAlgorithm, KeyKind, SignatureScheme};
use super::trusted_root::TrustedRoot;

/// Largest timestamp token read.
pub const MAX_TOKEN_BYTES: usize = 64 << 10;
/// Most certificates read from one token.
pub const MAX_EMBEDDED_CERTIFICATES: usize = 8;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// A timestamp that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime`, seconds since the epoch.
    pub time: i64,
    /// The timestamp authority's `uri` in the trusted root.
    pub authority: String,
}

/// The parts of a TSTInfo a verifier uses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TstInfo {
    hash: HashAlgorithm,
    hashed_message: Vec<u8>,
    gen_time: i64,
}

/// Reads `YYYYMMDDHHMMSS[.f*]Z` (RFC 3161 allows fractions of a second; they are dropped).
fn generalized_time(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_suffix('Z')?;
    let whole = text.split('.').next()?;
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &whole[0..4],
        &whole[4..6],
        &whole[6..8],
        &whole[8..10],
        &whole[10..12],
        &whole[12..14]
    );
    iso.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo, String> {
    let mut reader = SliceReader::new(der).map_err(|e| e.to_string())?;
    let (alg, hashed, generated) = reader
        .sequence(|r| {
            let _version: Any = r.decode()?;
            let _policy: ObjectIdentifier = r.decode()?;
            let (alg, hashed) = r.sequence(|r| {
                let alg: AlgorithmIdentifierOwned = r.decode()?;
                let hashed: OctetString = r.decode()?;
                Ok((alg, hashed))
            })?;
            let _serial: Any = r.decode()?;
            let generated: Any = r.decode()?;
            while !r.is_finished() {
                let _rest: Any = r.decode()?;
            }
            Ok((alg, hashed, generated))
        })
        .map_err(|e| format!("malformed TSTInfo ({e})"))?;
    let hash = HashAlgorithm::from_oid(&alg.oid)
        .ok_or_else(|| format!("messageImprint hash {} is not SHA-2", alg.oid))?;
    if generated.tag() != der::Tag::GeneralizedTime {
        return Err("genTime is not a GeneralizedTime".to_owned());
    }
    let gen_time = generalized_time(generated.value())
        .ok_or_else(|| "genTime is not YYYYMMDDHHMMSS[.f]Z".to_owned())?;
    Ok(TstInfo {
        hash,
        hashed_message: hashed.as_bytes().to_vec(),
        gen_time,
    })
}

/// The token's `ContentInfo`: the bytes are either the token itself or a whole
/// `TimeStampResp` (RFC 3161 §2.4.2: `SEQUENCE { status PKIStatusInfo, timeStampToken }`), as
/// Sigstore clients store what the TSA answered.
fn token_content(bytes: &[u8]) -> Result<ContentInfo, String> {
    let mut reader = SliceReader::new(bytes).map_err(|e| e.to_string())?;
    let items: Vec<Any> = reader
        .sequence(|r| {
            let mut items = Vec::new();
            while !r.is_finished() && items.len() < 4 {
                items.push(r.decode::<Any>()?);
            }
            Ok(items)
        })
        .map_err(|e| format!("not a timestamp token or response ({e})"))?;
    match items.first().map(|a| a.tag()) {
        Some(der::Tag::ObjectIdentifier) => {
            ContentInfo::from_der(bytes).map_err(|e| format!("not a CMS ContentInfo ({e})"))
        }
        Some(der::Tag::Sequence) => {
            let status = SliceReader::new(items[0].value())
                .and_then(|mut r| r.decode::<u8>())
                .map_err(|e| format!("malformed PKIStatusInfo ({e})"))?;
            // 0 granted, 1 grantedWithMods; anything else carries no token.
            if status > 1 {
                return Err(format!("the TSA refused the request (PKIStatus {status})"));
            }
            let token = items
                .get(1)
                .ok_or("a granted TimeStampResp without its timeStampToken")?;
            token
                .decode_as::<ContentInfo>()
                .map_err(|e| format!("timeStampToken is not a CMS ContentInfo ({e})"))
        }
        _ => Err("neither a TimeStampResp nor a timestamp token".to_owned()),
    }
}

/// Verifies a DER timestamp token over `signature` (the bundle's signature bytes) against the
/// root's timestamp authorities; `index` names it in errors.
///
/// # Errors
/// [`KeylessError::Timestamp`] saying which step failed.
pub fn verify_timestamp(
    token: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
    index: usize,
) -> Result<VerifiedTimestamp, KeylessError> {
    let fail = |reason: String| KeylessError::Timestamp { index, reason };
    if token.len() > MAX_TOKEN_BYTES {
        return Err(fail(format!(
            "{} bytes; at most {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    let info = token_content(token).map_err(&fail)?;
    if info.content_type != OID_SIGNED_DATA {
        return Err(fail(format!(
            "content type {} is not SignedData",
            info.content_type
        )));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| fail(format!("malformed SignedData ({e})")))?;
    if signed.encap_content_info.econtent_type != OID_TST_INFO {
        return Err(fail(format!(
            "encapsulated content {} is not a TSTInfo",
            signed.encap_content_info.econtent_type
        )));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| fail("no encapsulated TSTInfo".to_owned()))?
        .decode_as::<OctetString>()
        .map_err(|e| fail(format!("eContent is not an OCTET STRING ({e})")))?;
    let tst = parse_tst_info(econtent.as_bytes()).map_err(&fail)?;
    if tst.hash.digest(signature) != tst.hashed_message {
        return Err(fail(
            "its messageImprint is not the hash of this bundle's signature: the timestamp is \
             for other bytes"
                .to_owned(),
        ));
    }
    let signers: Vec<_> = signed.signer_infos.0.iter().collect();
    let [signer] = signers.as_slice() else {
        return Err(fail(format!(
            "{} signers; a timestamp token has exactly one",
            signers.len()
        )));
    };
    let digest_hash = HashAlgorithm::from_oid(&signer.digest_alg.oid).ok_or_else(|| {
        fail(format!(
            "signer digest algorithm {} is not SHA-2",
            signer.digest_alg.oid
        ))
    })?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| fail("the signer has no signed attributes".to_owned()))?;
    let attr = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let content_type = attr(OID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| fail("no content-type signed attribute".to_owned()))?;
    if content_type != OID_TST_INFO {
        return Err(fail(format!(
            "signed content type {content_type} is not id-ct-TSTInfo"
        )));
    }
    let message_digest = attr(OID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| fail("no message-digest signed attribute".to_owned()))?;
    if message_digest.as_bytes() != digest_hash.digest(econtent.as_bytes()).as_slice() {
        return Err(fail(
            "the signed message digest is not the digest of the TSTInfo".to_owned(),
        ));
    }
    let signed_bytes = attrs
        .to_der()
        .map_err(|e| fail(format!("re-encoding the signed attributes ({e})")))?;
    // Candidate signing certificates: the token's own, then each authority's first.
    let mut candidates = Vec::new();
    if let Some(set) = &signed.certificates {
        for (i, choice) in set.0.iter().enumerate() {
            if i >= MAX_EMBEDDED_CERTIFICATES {
                return Err(fail(format!(
                    "more than {MAX_EMBEDDED_CERTIFICATES} embedded certificates"
                )));
            }
            if let CertificateChoices::Certificate(cert) = choice {
                let der = cert
                    .to_der()
                    .map_err(|e| fail(format!("re-encoding an embedded certificate ({e})")))?;
                candidates.push(FulcioCertificate::from_der(
                    &der,
                    &format!("embedded TSA certificate {i}"),
                )?);
            }
        }
    }
    for authority in &root.timestamp_authorities {
        if let Some(first) = authority.chain.first()
            && let Ok(cert) = FulcioCertificate::from_der(first, "timestamp authority certificate")
            && !candidates.contains(&cert)
        {
            candidates.push(cert);
        }
    }
    let signature_bytes = signer.signature.as_bytes();
    let signing_cert = candidates
        .iter()
        .find(|cert| {
            let scheme = SignatureScheme::from_oid(&signer.signature_algorithm.oid).unwrap_or(
                match cert.public_key().kind() {
                    KeyKind::Rsa => SignatureScheme::RsaPkcs1(digest_hash),
                    KeyKind::Ed25519 => SignatureScheme::Ed25519,
                    _ => SignatureScheme::Ecdsa(digest_hash),
                },
            );
            cert.public_key()
                .verify(scheme, &signed_bytes, signature_bytes)
        })
        .ok_or_else(|| {
            fail(
                "its signature verifies with no certificate embedded in it nor any timestamp \
                 authority of the trusted root: signed by a TSA outside the root"
                    .to_owned(),
            )
        })?;
    let mut reasons = Vec::new();
    for (i, authority) in root.timestamp_authorities.iter().enumerate() {
        if !authority.valid_for.contains(tst.gen_time) {
            reasons.push(format!(
                "authority {i} ({}) is trusted {}",
                authority.uri, authority.valid_for
            ));
            continue;
        }
        let result = parse_chain(&authority.chain, "timestamp authority")
            .and_then(|chain| signing_cert.verify_path(&chain, tst.gen_time, Usage::TimeStamping));
        match result {
            Ok(()) => {
                return Ok(VerifiedTimestamp {
                    time: tst.gen_time,
                    authority: authority.uri.clone(),
                });
            }
            Err(e) => reasons.push(format!("authority {i} ({}): {e}", authority.uri)),
        }
    }
    if reasons.is_empty() {
        reasons.push("the trusted root has no timestamp authorities".to_owned());
    }
    Err(fail(format!(
        "generated at {}, but no timestamp authority of the trusted root vouches for its \
         signer then: {}",
        super::rfc3339(tst.gen_time),
        reasons.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_times_with_and_without_fractions() {
        assert_eq!(generalized_time(b"20250612120220Z"), Some(1_749_729_740));
        assert_eq!(
            generalized_time(b"20250612120220.123Z"),
            Some(1_749_729_740)
        );
        assert_eq!(generalized_time(b"2025061212022Z"), None);
        assert_eq!(generalized_time(b"20250612120220"), None);
    }
}
