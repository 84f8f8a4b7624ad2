//! Fulcio certificates: parsing (RustCrypto `x509-cert`), the path from a leaf to a
//! certificate authority of the trusted root valid at the signing time, path validation
//! (signatures, validity at that time, CA flags, key usage and extended key usage, unknown
//! critical extensions, a depth bound), the embedded signed certificate timestamps (RFC 6962
//! precertificate SCTs, checked against the root's CT logs), and the identity the certificate
//! binds: its SAN, the OIDC issuer and the GitHub workflow claims of Fulcio's extensions
//! (OID arc 1.3.6.1.4.1.57264.1).
//!
//! The same path validation serves timestamp authorities ([`super::timestamp`]) with the
//! time-stamping usage instead of code signing.
//!
//! Not here: what the certificate signed (the bundle verifier), the policy a verifier asks for
//! ([`super::policy`]).

use der::asn1::{ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Decode as _, Encode as _};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use super::pkix::{PkixKey, SignatureScheme};
use super::trusted_root::{Authority, TrustedLog, TrustedRoot};
use super::{KeylessError, rfc3339};

/// Largest certificate read (Fulcio's carry long workflow claims, but stay well below this).
pub const MAX_CERTIFICATE_BYTES: usize = 64 << 10;
/// Most certificates on a path from a leaf to its root, the leaf included.
pub const MAX_PATH_LENGTH: usize = 9;
/// Most SCTs read from one certificate.
pub const MAX_SCTS: usize = 64;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// The precertificate SCT list extension (RFC 6962 §3.3).
pub const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// id-kp-codeSigning.
pub const OID_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// id-kp-timeStamping.
pub const OID_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// Fulcio's SAN otherName type for usernames.
const OID_OTHERNAME_USERNAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// The extensions whose criticality path validation understands.
const UNDERSTOOD_CRITICAL: [ObjectIdentifier; 4] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXT_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
];

/// What a leaf certificate must be good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Code signing (Fulcio leaves).
    CodeSigning,
    /// Time stamping (TSA leaves).
    TimeStamping,
}

/// A parsed certificate with what verification needs kept at hand.
#[derive(Debug, Clone)]
pub struct FulcioCertificate {
    der: Vec<u8>,
    cert: Certificate,
    tbs_der: Vec<u8>,
    key: PkixKey,
    not_before: i64,
    not_after: i64,
}

impl PartialEq for FulcioCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

fn seconds(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn path_error(what: &str, reason: impl Into<String>) -> KeylessError {
    KeylessError::PathValidation {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

impl FulcioCertificate {
    /// Parses a DER certificate; `what` names it in errors.
    ///
    /// # Errors
    /// [`KeylessError::MalformedCertificate`] for bytes that are not a certificate,
    /// [`KeylessError::Key`] for a key of an unsupported algorithm.
    pub fn from_der(der: &[u8], what: &str) -> Result<Self, KeylessError> {
        let malformed = |reason: String| KeylessError::MalformedCertificate {
            what: what.to_owned(),
            reason,
        };
        if der.is_empty() {
            return Err(malformed("empty".to_owned()));
        }
        if der.len() > MAX_CERTIFICATE_BYTES {
            return Err(malformed(format!(
                "{} bytes; at most {MAX_CERTIFICATE_BYTES}",
                der.len()
            )));
        }
        let cert = Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
        let tbs_der = cert
            .tbs_certificate
            .to_der()
            .map_err(|e| malformed(e.to_string()))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| malformed(e.to_string()))?;
        let key = PkixKey::from_spki_der(&spki, &format!("{what}'s public key"))?;
        let validity = &cert.tbs_certificate.validity;
        Ok(FulcioCertificate {
            not_before: seconds(&validity.not_before),
            not_after: seconds(&validity.not_after),
            der: der.to_vec(),
            cert,
            tbs_der,
            key,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PkixKey {
        &self.key
    }

    /// Validity start and end (inclusive), seconds since the epoch.
    pub fn validity(&self) -> (i64, i64) {
        (self.not_before, self.not_after)
    }

    /// Whether subject and issuer are the same name (a root, or a self-issued certificate).
    pub fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate.subject == self.cert.tbs_certificate.issuer
    }

    /// Whether basicConstraints marks the certificate as a CA.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|b| b.ca)
    }

    /// Checks that `time` is inside the validity period.
    ///
    /// # Errors
    /// [`KeylessError::NotValidAt`] naming `what` and both times.
    pub fn check_valid_at(&self, time: i64, what: &str) -> Result<(), KeylessError> {
        if self.not_before <= time && time <= self.not_after {
            return Ok(());
        }
        Err(KeylessError::NotValidAt {
            what: what.to_owned(),
            time: rfc3339(time),
            not_before: rfc3339(self.not_before),
            not_after: rfc3339(self.not_after),
        })
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_deref()
            .and_then(|exts| exts.iter().find(|e| e.extn_id == oid))
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>, der::Error> {
        self.extension(OID_BASIC_CONSTRAINTS)
            .map(|e| BasicConstraints::from_der(e.extn_value.as_bytes()))
            .transpose()
    }
}

/// Most CA links remembered as verified; past it the memory starts over.
const MAX_REMEMBERED_LINKS: usize = 1024;

/// Whether `issuer`'s key signed the CA certificate `cert`, remembered by SHA-256 of both
/// certificates once it verified (a failure is never remembered).
fn ca_link_verified(
    cert: &FulcioCertificate,
    issuer: &FulcioCertificate,
) -> Result<bool, KeylessError> {
    static VERIFIED: std::sync::Mutex<std::collections::BTreeSet<[u8; 32]>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut hasher = Sha256::new();
    hasher.update(Sha256::digest(cert.der()));
    hasher.update(Sha256::digest(issuer.der()));
    let link: [u8; 32] = hasher.finalize().into();
    if VERIFIED.lock().is_ok_and(|known| known.contains(&link)) {
        return Ok(true);
    }
    let signed = cert.signed_by(issuer)?;
    if signed && let Ok(mut known) = VERIFIED.lock() {
        if known.len() >= MAX_REMEMBERED_LINKS {
            known.clear();
        }
        known.insert(link);
    }
    Ok(signed)
}

impl FulcioCertificate {
    /// Whether `issuer`'s key signed this certificate.
    fn signed_by(&self, issuer: &FulcioCertificate) -> Result<bool, KeylessError> {
        let scheme = SignatureScheme::from_oid(&self.cert.signature_algorithm.oid)?;
        let Some(signature) = self.cert.signature.as_bytes() else {
            return Ok(false);
        };
        Ok(issuer.key.verify(scheme, &self.tbs_der, signature))
    }

    /// Checks the extensions of a certificate at `depth` on a path (0 = the leaf) with
    /// `below` CA certificates under it.
    fn check_extensions(
        &self,
        what: &str,
        depth: usize,
        below: usize,
        usage: Usage,
    ) -> Result<(), KeylessError> {
        if let Some(exts) = self.cert.tbs_certificate.extensions.as_deref() {
            for ext in exts {
                if ext.critical && !UNDERSTOOD_CRITICAL.contains(&ext.extn_id) {
                    return Err(path_error(
                        what,
                        format!(
                            "unknown critical extension {}: a verifier must refuse a \
                             certificate whose critical extension it does not understand",
                            ext.extn_id
                        ),
                    ));
                }
            }
        }
        let bc = self
            .basic_constraints()
            .map_err(|e| path_error(what, format!("malformed basicConstraints ({e})")))?;
        let key_usage = self
            .extension(OID_KEY_USAGE)
            .map(|e| KeyUsage::from_der(e.extn_value.as_bytes()))
            .transpose()
            .map_err(|e| path_error(what, format!("malformed keyUsage ({e})")))?;
        if depth == 0 {
            if bc.as_ref().is_some_and(|b| b.ca) {
                return Err(path_error(
                    what,
                    "the signing certificate is marked as a CA (basicConstraints cA=true), \
                     which a leaf must not be",
                ));
            }
            let needs_signature = key_usage.as_ref().is_none_or(|k| !k.digital_signature());
            if needs_signature {
                return Err(path_error(what, "keyUsage does not allow digitalSignature"));
            }
            let eku = self
                .extension(OID_EXT_KEY_USAGE)
                .map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()))
                .transpose()
                .map_err(|e| path_error(what, format!("malformed extKeyUsage ({e})")))?;
            let (needed, name) = match usage {
                Usage::CodeSigning => (OID_CODE_SIGNING, "codeSigning"),
                Usage::TimeStamping => (OID_TIME_STAMPING, "timeStamping"),
            };
            if !eku.is_some_and(|e| e.0.contains(&needed)) {
                return Err(path_error(
                    what,
                    format!("extKeyUsage does not include {name} ({needed})"),
                ));
            }
        } else {
            let Some(bc) = bc.filter(|b| b.ca) else {
                return Err(path_error(
                    what,
                    "issues a certificate but is not a CA (basicConstraints cA is not true)",
                ));
            };
            if let Some(limit) = bc.path_len_constraint
                && below > usize::from(limit)
            {
                return Err(path_error(
                    what,
                    format!(
                        "pathLenConstraint {limit} allows {limit} CA certificates below it, the \
                         path has {below}"
                    ),
                ));
            }
            if key_usage.is_some_and(|k| !k.key_cert_sign()) {
                return Err(path_error(what, "keyUsage does not allow keyCertSign"));
            }
        }
        Ok(())
    }

    /// Validates the path `self` → `chain[0]` → … → `chain[last]` (a self-signed root) at
    /// `time`, for `usage`.
    ///
    /// # Errors
    /// [`KeylessError`] naming the certificate and what failed.
    pub fn verify_path(
        &self,
        chain: &[FulcioCertificate],
        time: i64,
        usage: Usage,
    ) -> Result<(), KeylessError> {
        // The leaf may be given again as the chain's first certificate.
        let chain = match chain.first() {
            Some(first) if first == self => &chain[1..],
            _ => chain,
        };
        if chain.len() + 1 > MAX_PATH_LENGTH {
            return Err(path_error(
                "certificate chain",
                format!(
                    "{} certificates deep; paths longer than {MAX_PATH_LENGTH} are refused",
                    chain.len() + 1
                ),
            ));
        }
        let path: Vec<&FulcioCertificate> = std::iter::once(self).chain(chain).collect();
        for (depth, cert) in path.iter().enumerate() {
            let what = if depth == 0 {
                "the signing certificate".to_owned()
            } else {
                format!("chain certificate {depth}")
            };
            cert.check_valid_at(time, &what)?;
            let below = depth.saturating_sub(1);
            cert.check_extensions(&what, depth, below, usage)?;
            let issuer = path.get(depth + 1).copied().unwrap_or(cert);
            if cert.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
                return Err(path_error(
                    &what,
                    "its issuer name is not the next certificate's subject",
                ));
            }
            // A CA certificate's link to its issuer is a fact about their bytes: checked once
            // per process (a trusted root's chains), while the leaf is checked every time.
            let signed = if depth == 0 {
                cert.signed_by(issuer)?
            } else {
                ca_link_verified(cert, issuer)?
            };
            if !signed {
                return Err(path_error(
                    &what,
                    if depth + 1 == path.len() {
                        "the root is not self-signed".to_owned()
                    } else {
                        "its signature does not verify with the issuing certificate's key"
                            .to_owned()
                    },
                ));
            }
        }
        Ok(())
    }

    /// Finds a certificate authority of `root`, trusted at `time`, whose chain issued this
    /// (leaf) certificate, and validates the path at `time`. Returns the authority.
    ///
    /// # Errors
    /// [`KeylessError::NotValidAt`] when the leaf is not valid at `time`,
    /// [`KeylessError::UntrustedChain`] with each authority's refusal otherwise.
    pub fn verify_chain<'r>(
        &self,
        root: &'r TrustedRoot,
        time: i64,
    ) -> Result<&'r Authority, KeylessError> {
        self.check_valid_at(time, "the signing certificate")?;
        let mut reasons = Vec::new();
        for (i, authority) in root.certificate_authorities.iter().enumerate() {
            if !authority.valid_for.contains(time) {
                reasons.push(format!(
                    "authority {i} ({}) is trusted {}",
                    authority.uri, authority.valid_for
                ));
                continue;
            }
            let chain = match parse_chain(&authority.chain, "certificate authority") {
                Ok(chain) => chain,
                Err(e) => {
                    reasons.push(format!("authority {i}: {e}"));
                    continue;
                }
            };
            match self.verify_path(&chain, time, Usage::CodeSigning) {
                Ok(()) => return Ok(authority),
                Err(e) => reasons.push(format!("authority {i} ({}): {e}", authority.uri)),
            }
        }
        if reasons.is_empty() {
            reasons.push("the trusted root has no certificate authorities".to_owned());
        }
        Err(KeylessError::UntrustedChain {
            time: rfc3339(time),
            reason: reasons.join("; "),
        })
    }

    /// Verifies the embedded SCTs against `ctlogs`, `issuer` being the certificate that
    /// issued this one. Returns how many verified; at least one must.
    ///
    /// # Errors
    /// [`KeylessError::Sct`] when none verifies, with each SCT's reason.
    pub fn verify_scts(
        &self,
        issuer: &FulcioCertificate,
        ctlogs: &[TrustedLog],
    ) -> Result<usize, KeylessError> {
        let ext = self.extension(OID_SCT_LIST).ok_or_else(|| {
            KeylessError::Sct("the certificate carries no embedded SCT list".to_owned())
        })?;
        let list = OctetString::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            KeylessError::Sct(format!("the SCT extension is not an OCTET STRING ({e})"))
        })?;
        let scts = parse_sct_list(list.as_bytes())?;
        let mut tbs = self.cert.tbs_certificate.clone();
        if let Some(exts) = tbs.extensions.as_mut() {
            exts.retain(|e| e.extn_id != OID_SCT_LIST);
        }
        let precert_tbs = tbs
            .to_der()
            .map_err(|e| KeylessError::Sct(format!("re-encoding the precertificate ({e})")))?;
        let issuer_spki = issuer
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| KeylessError::Sct(format!("encoding the issuer key ({e})")))?;
        let issuer_key_hash = Sha256::digest(&issuer_spki);
        let mut verified = 0;
        let mut reasons = Vec::new();
        for (i, sct) in scts.iter().enumerate() {
            match sct.verify(&precert_tbs, &issuer_key_hash, ctlogs) {
                Ok(()) => verified += 1,
                Err(reason) => reasons.push(format!("SCT {i}: {reason}")),
            }
        }
        if verified == 0 {
            return Err(KeylessError::Sct(format!(
                "none of the {} SCTs verifies with a CT log of the trusted root ({})",
                scts.len(),
                reasons.join("; ")
            )));
        }
        Ok(verified)
    }

    /// The identity the certificate binds.
    ///
    /// # Errors
    /// [`KeylessError::Identity`] for a malformed SAN or Fulcio extension.
    pub fn identity(&self) -> Result<CertificateIdentity, KeylessError> {
        let mut id = CertificateIdentity::default();
        if let Some(ext) = self.extension(OID_SUBJECT_ALT_NAME) {
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
                .map_err(|e| KeylessError::Identity(format!("malformed subjectAltName ({e})")))?;
            for name in san.0 {
                match name {
                    GeneralName::UniformResourceIdentifier(s) => {
                        id.san.push(s.as_str().to_owned());
                    }
                    GeneralName::Rfc822Name(s) => id.san.push(s.as_str().to_owned()),
                    GeneralName::OtherName(other) if other.type_id == OID_OTHERNAME_USERNAME => {
                        if let Ok(s) = other.value.decode_as::<Utf8StringRef<'_>>() {
                            id.san.push(s.as_str().to_owned());
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(exts) = self.cert.tbs_certificate.extensions.as_deref() {
            for ext in exts {
                let oid = ext.extn_id.to_string();
                let Some(n) = oid.strip_prefix("1.3.6.1.4.1.57264.1.") else {
                    continue;
                };
                let Ok(n) = n.parse::<u32>() else { continue };
                let raw = ext.extn_value.as_bytes();
                // Arcs 1 to 6 hold the value's bytes as they are; arcs from 8 on a DER
                // UTF8String.
                let value = if n <= 6 {
                    String::from_utf8(raw.to_vec()).map_err(|_| {
                        KeylessError::Identity(format!("Fulcio extension {oid} is not UTF-8"))
                    })?
                } else {
                    match Utf8StringRef::from_der(raw) {
                        Ok(s) => s.as_str().to_owned(),
                        Err(_) => continue,
                    }
                };
                id.extensions.insert(n, value);
            }
        }
        Ok(id)
    }
}

/// Parses each DER certificate of a chain.
///
/// # Errors
/// The first certificate's failure.
pub fn parse_chain(chain: &[Vec<u8>], what: &str) -> Result<Vec<FulcioCertificate>, KeylessError> {
    chain
        .iter()
        .enumerate()
        .map(|(i, der)| FulcioCertificate::from_der(der, &format!("{what} certificate {i}")))
        .collect()
}

/// The identity a Fulcio certificate binds: SAN values and Fulcio's extensions by arc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// URI, email and username SAN values.
    pub san: Vec<String>,
    /// Fulcio extensions `1.3.6.1.4.1.57264.1.N`, by `N`.
    pub extensions: std::collections::BTreeMap<u32, String>,
}

impl CertificateIdentity {
    fn ext(&self, n: u32) -> Option<&str> {
        self.extensions.get(&n).map(String::as_str)
    }

    /// The OIDC issuer (extension .8, else the legacy .1).
    pub fn issuer(&self) -> Option<&str> {
        self.ext(8).or_else(|| self.ext(1))
    }

    /// The GitHub workflow trigger (.2, else build trigger .20).
    pub fn github_trigger(&self) -> Option<&str> {
        self.ext(2).or_else(|| self.ext(20))
    }

    /// The commit SHA (.3, else source repository digest .13).
    pub fn github_sha(&self) -> Option<&str> {
        self.ext(3).or_else(|| self.ext(13))
    }

    /// The workflow name (.4).
    pub fn github_workflow_name(&self) -> Option<&str> {
        self.ext(4)
    }

    /// The repository `owner/name` (.5, else from the source repository URI .12).
    pub fn github_repository(&self) -> Option<String> {
        self.ext(5).map(str::to_owned).or_else(|| {
            self.ext(12).map(|uri| {
                uri.split_once("://")
                    .and_then(|(_, rest)| rest.split_once('/'))
                    .map_or(uri, |(_, path)| path)
                    .to_owned()
            })
        })
    }

    /// The git ref (.6, else source repository ref .14).
    pub fn github_ref(&self) -> Option<&str> {
        self.ext(6).or_else(|| self.ext(14))
    }

    /// The runner environment (.11).
    pub fn runner_environment(&self) -> Option<&str> {
        self.ext(11)
    }
}

/// A signed certificate timestamp (RFC 6962 §3.2), as embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sct {
    log_id: [u8; 32],
    timestamp_ms: u64,
    extensions: Vec<u8>,
    hash: u8,
    signature_algorithm: u8,
    signature: Vec<u8>,
}

/// A cursor over TLS-encoded bytes.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeylessError> {
        if self.0.len() < n {
            return Err(KeylessError::Sct("the SCT list is truncated".to_owned()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, KeylessError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, KeylessError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn vector16(&mut self) -> Result<&'a [u8], KeylessError> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn parse_sct_list(bytes: &[u8]) -> Result<Vec<Sct>, KeylessError> {
    let mut outer = Tls(bytes);
    let mut list = Tls(outer.vector16()?);
    if !outer.0.is_empty() {
        return Err(KeylessError::Sct("bytes after the SCT list".to_owned()));
    }
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        if scts.len() >= MAX_SCTS {
            return Err(KeylessError::Sct(format!("more than {MAX_SCTS} SCTs")));
        }
        let mut sct = Tls(list.vector16()?);
        let version = sct.u8()?;
        if version != 0 {
            return Err(KeylessError::Sct(format!(
                "SCT version {version}; v1 (0) is read"
            )));
        }
        let log_id: [u8; 32] = sct
            .take(32)?
            .try_into()
            .map_err(|_| KeylessError::Sct("short log id".to_owned()))?;
        let ts = sct.take(8)?;
        let mut ts8 = [0u8; 8];
        ts8.copy_from_slice(ts);
        let extensions = sct.vector16()?.to_vec();
        let hash = sct.u8()?;
        let signature_algorithm = sct.u8()?;
        let signature = sct.vector16()?.to_vec();
        if !sct.0.is_empty() {
            return Err(KeylessError::Sct(
                "bytes after an SCT's signature".to_owned(),
            ));
        }
        scts.push(Sct {
            log_id,
            timestamp_ms: u64::from_be_bytes(ts8),
            extensions,
            hash,
            signature_algorithm,
            signature,
        });
    }
    if scts.is_empty() {
        return Err(KeylessError::Sct("the SCT list is empty".to_owned()));
    }
    Ok(scts)
}

impl Sct {
    fn verify(
        &self,
        precert_tbs: &[u8],
        issuer_key_hash: &[u8],
        ctlogs: &[TrustedLog],
    ) -> Result<(), String> {
        use super::pkix::HashAlgorithm;
        let log = ctlogs
            .iter()
            .find(|l| l.log_id == self.log_id)
            .ok_or_else(|| {
                format!(
                    "by a CT log the trusted root does not know (log id {}); not counted",
                    stella_core::hex::encode(self.log_id)
                )
            })?;
        let seconds = i64::try_from(self.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.valid_for.contains(seconds) {
            return Err(format!(
                "issued at {} by CT log {}, trusted {}",
                rfc3339(seconds),
                log.base_url,
                log.valid_for
            ));
        }
        let hash = match self.hash {
            4 => HashAlgorithm::Sha256,
            5 => HashAlgorithm::Sha384,
            6 => HashAlgorithm::Sha512,
            h => return Err(format!("hash algorithm {h} is not SHA-2")),
        };
        let scheme = match self.signature_algorithm {
            1 => SignatureScheme::RsaPkcs1(hash),
            3 => SignatureScheme::Ecdsa(hash),
            s => return Err(format!("signature algorithm {s} is not RSA or ECDSA")),
        };
        let tbs_len = u32::try_from(precert_tbs.len()).map_err(|_| "precertificate too large")?;
        let ext_len = u16::try_from(self.extensions.len()).map_err(|_| "extensions too large")?;
        let mut signed = Vec::with_capacity(precert_tbs.len() + 64);
        signed.extend_from_slice(&[0, 0]); // v1, certificate_timestamp
        signed.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]); // precert_entry
        signed.extend_from_slice(issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(precert_tbs);
        signed.extend_from_slice(&ext_len.to_be_bytes());
        signed.extend_from_slice(&self.extensions);
        if log.key.verify(scheme, &signed, &self.signature) {
            Ok(())
        } else {
            Err(format!(
                "the signature does not verify with CT log {}'s key",
                log.base_url
            ))
        }
    }
}
