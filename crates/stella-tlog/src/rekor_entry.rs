//! A Sigstore bundle's `tlogEntries[]` member from a Rekor log, checked offline against the
//! trusted root's `tlogs`: Rekor v1 (`hashedrekord` 0.0.1, `dsse` 0.0.1, `intoto` 0.0.2, with a
//! signed entry timestamp and an inclusion proof whose checkpoint origin is
//! `<host> - <tree id>`) and Rekor v2 (`hashedrekord` / `dsse` 0.0.2 with an X.509 or key
//! verifier, an inclusion proof whose checkpoint origin is the log's host, and no integrated
//! time).
//!
//! An entry is accepted when: its log is in the trusted root; its body is about this bundle
//! (same signature, same digest or payload, same certificate or key); its inclusion proof
//! leads from the body to the root hash of a checkpoint signed by the log's key (other
//! signature lines — witnesses, other keys — are ignored, a failing one by the log's key is
//! refused); and its signed entry timestamp (when present) is the log's signature over
//! `{body, integratedTime, logID, logIndex}` (RFC 8785). Only a verified signed entry timestamp
//! makes the integrated time a proven signing time.
//!
//! Not here: the certificate and the signature over the artifact (`stella-attest`), the order
//! of the whole bundle verification ([`crate::bundle_verify`]), Stella's own log's entries
//! ([`crate::verify`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use stella_attest::dsse::pae;
use stella_attest::keyless::pkix::KeyKind;
use stella_attest::keyless::trusted_root::TrustedLog as RootLog;
use stella_attest::{Envelope, keyless::TrustedRoot};

use crate::checkpoint::Checkpoint;
use crate::merkle::{self, Hash};
use crate::note;

/// Most hashes accepted in one inclusion proof (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_HASHES: usize = 64;
/// Largest canonicalized body read.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Why an entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EntryRefused(pub String);

fn refused(m: impl Into<String>) -> EntryRefused {
    EntryRefused(m.into())
}

/// An inclusion proof with its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's index in the tree the proof is for (a shard's, in Rekor v1).
    pub log_index: u64,
    /// The root hash.
    pub root: Hash,
    /// The tree size.
    pub tree_size: u64,
    /// The audit path.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// A parsed `tlogEntries[]` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorEntry {
    /// `logIndex`.
    pub log_index: u64,
    /// `logId.keyId`.
    pub log_id: Vec<u8>,
    /// `kindVersion.kind`.
    pub kind: String,
    /// `kindVersion.version`.
    pub version: String,
    /// `integratedTime`, when non-zero.
    pub integrated_time: Option<i64>,
    /// `inclusionPromise.signedEntryTimestamp`.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    /// `inclusionProof`.
    pub inclusion_proof: Option<InclusionProof>,
    /// `canonicalizedBody`, decoded.
    pub body: Vec<u8>,
    /// `canonicalizedBody` as found (the signed entry timestamp covers this string).
    pub body_b64: String,
}

fn int(value: &Value, at: &str) -> Result<i64, EntryRefused> {
    match value {
        Value::String(s) => s
            .parse::<i64>()
            .map_err(|_| refused(format!("{at} {s:?} is not an integer"))),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| refused(format!("{at} {n} is not an integer"))),
        _ => Err(refused(format!("{at} is missing or not an integer"))),
    }
}

fn index(value: &Value, at: &str) -> Result<u64, EntryRefused> {
    let n = int(value, at)?;
    u64::try_from(n).map_err(|_| refused(format!("{at} is negative ({n})")))
}

fn b64(value: &Value, at: &str) -> Result<Vec<u8>, EntryRefused> {
    value
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| refused(format!("{at} is missing or not base64")))
}

fn hash(value: &Value, at: &str) -> Result<Hash, EntryRefused> {
    b64(value, at)?
        .try_into()
        .map_err(|_| refused(format!("{at} is not 32 bytes")))
}

impl RekorEntry {
    /// Reads a `tlogEntries[]` member.
    ///
    /// # Errors
    /// [`EntryRefused`] naming the member that is missing or malformed.
    pub fn from_json_value(value: &Value) -> Result<Self, EntryRefused> {
        let log_index = index(&value["logIndex"], "logIndex")?;
        let log_id = b64(&value["logId"]["keyId"], "logId.keyId")?;
        let kind = value["kindVersion"]["kind"]
            .as_str()
            .ok_or_else(|| refused("kindVersion.kind is missing"))?
            .to_owned();
        let version = value["kindVersion"]["version"]
            .as_str()
            .ok_or_else(|| refused("kindVersion.version is missing"))?
            .to_owned();
        let integrated_time = match &value["integratedTime"] {
            Value::Null => None,
            v => Some(int(v, "integratedTime")?).filter(|t| *t != 0),
        };
        if integrated_time.is_some_and(|t| t < 0) {
            return Err(refused("integratedTime is negative"));
        }
        let signed_entry_timestamp = match &value["inclusionPromise"] {
            Value::Null => None,
            p => Some(b64(
                &p["signedEntryTimestamp"],
                "inclusionPromise.signedEntryTimestamp",
            )?),
        };
        let inclusion_proof = match &value["inclusionProof"] {
            Value::Null => None,
            p => {
                let list = p["hashes"].as_array().map_or(&[][..], Vec::as_slice);
                if list.len() > MAX_PROOF_HASHES {
                    return Err(refused(format!(
                        "inclusionProof.hashes has {} hashes; at most {MAX_PROOF_HASHES}",
                        list.len()
                    )));
                }
                Some(InclusionProof {
                    log_index: index(&p["logIndex"], "inclusionProof.logIndex")?,
                    root: hash(&p["rootHash"], "inclusionProof.rootHash")?,
                    tree_size: index(&p["treeSize"], "inclusionProof.treeSize")?,
                    hashes: list
                        .iter()
                        .enumerate()
                        .map(|(i, h)| hash(h, &format!("inclusionProof.hashes[{i}]")))
                        .collect::<Result<_, _>>()?,
                    checkpoint: p["checkpoint"]["envelope"]
                        .as_str()
                        .ok_or_else(|| refused("inclusionProof.checkpoint.envelope is missing"))?
                        .to_owned(),
                })
            }
        };
        let body_b64 = value["canonicalizedBody"]
            .as_str()
            .ok_or_else(|| refused("canonicalizedBody is missing"))?
            .to_owned();
        if body_b64.len() / 4 * 3 > MAX_BODY_BYTES {
            return Err(refused(format!(
                "canonicalizedBody is larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        let body = STANDARD
            .decode(&body_b64)
            .map_err(|_| refused("canonicalizedBody is not base64"))?;
        Ok(RekorEntry {
            log_index,
            log_id,
            kind,
            version,
            integrated_time,
            signed_entry_timestamp,
            inclusion_proof,
            body,
            body_b64,
        })
    }

    /// Whether the entry is from a Rekor v2 log (entry types of version 0.0.2 other than
    /// `intoto`, no integrated time).
    pub fn is_rekor_v2(&self) -> bool {
        self.version == "0.0.2" && self.kind != "intoto"
    }
}

/// Who signed, as a log body must name it.
#[derive(Debug, Clone, Copy)]
pub enum SignerMaterial<'a> {
    /// A certificate (DER).
    Certificate(&'a [u8]),
    /// A public key (DER SubjectPublicKeyInfo).
    PublicKey(&'a [u8]),
}

/// What the bundle signed, as a log body must name it.
#[derive(Debug, Clone, Copy)]
pub enum SignedContent<'a> {
    /// A signature over an artifact whose SHA-256 is given.
    Message {
        /// SHA-256 of the artifact.
        digest: &'a [u8; 32],
        /// The signature.
        signature: &'a [u8],
    },
    /// A DSSE envelope (its first signature).
    Dsse(&'a Envelope),
}

/// What a verified entry proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRekorEntry {
    /// The log's base URL.
    pub log: String,
    /// The entry's index.
    pub log_index: u64,
    /// The integrated time, when a verified signed entry timestamp covers it.
    pub integrated_time: Option<i64>,
    /// Whether an inclusion proof was verified against a signed checkpoint.
    pub inclusion_proven: bool,
    /// Whether a signed entry timestamp was verified.
    pub promise_verified: bool,
}

/// Reads a PEM block's DER (the first block).
fn pem_der(text: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(text).ok()?;
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end = body.find("-----END ")?;
    let b64: String = body[..end].split_whitespace().collect();
    STANDARD.decode(b64).ok().map(|der| (label, der))
}

fn same_signer(
    logged_pem_b64: &Value,
    signer: SignerMaterial<'_>,
    at: &str,
) -> Result<(), EntryRefused> {
    let pem = b64(logged_pem_b64, at)?;
    let (label, der) = pem_der(&pem).ok_or_else(|| refused(format!("{at} is not PEM")))?;
    match (signer, label.as_str()) {
        (SignerMaterial::Certificate(c), "CERTIFICATE") if c == der => Ok(()),
        (SignerMaterial::PublicKey(k), "PUBLIC KEY") if k == der => Ok(()),
        _ => Err(refused(format!(
            "the logged {} is not the bundle's signer",
            label.to_lowercase()
        ))),
    }
}

fn same_verifier(verifier: &Value, signer: SignerMaterial<'_>) -> Result<(), EntryRefused> {
    match signer {
        SignerMaterial::Certificate(c) => {
            if b64(
                &verifier["x509Certificate"]["rawBytes"],
                "verifier.x509Certificate",
            )? == c
            {
                return Ok(());
            }
            Err(refused(
                "the logged certificate is not the bundle's certificate",
            ))
        }
        SignerMaterial::PublicKey(k) => {
            if b64(&verifier["publicKey"]["rawBytes"], "verifier.publicKey")? == k {
                return Ok(());
            }
            Err(refused("the logged public key is not the bundle's key"))
        }
    }
}

fn hex_member(value: &Value, at: &str) -> Result<Vec<u8>, EntryRefused> {
    if value["algorithm"].as_str() != Some("sha256") {
        return Err(refused(format!("{at}.algorithm is not sha256")));
    }
    let text = value["value"]
        .as_str()
        .ok_or_else(|| refused(format!("{at}.value is missing")))?;
    stella_core::hex::decode(text).ok_or_else(|| refused(format!("{at}.value is not hex")))
}

/// Checks that the body is about this content and signer.
///
/// # Errors
/// [`EntryRefused`] saying what differs.
pub fn check_body(
    entry: &RekorEntry,
    content: SignedContent<'_>,
    signer: SignerMaterial<'_>,
) -> Result<(), EntryRefused> {
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|e| refused(format!("canonicalizedBody is not JSON ({e})")))?;
    if body["kind"].as_str() != Some(entry.kind.as_str())
        || body["apiVersion"].as_str() != Some(entry.version.as_str())
    {
        return Err(refused(format!(
            "kindVersion {}/{} is not the body's {}/{}",
            entry.kind,
            entry.version,
            body["kind"].as_str().unwrap_or("?"),
            body["apiVersion"].as_str().unwrap_or("?")
        )));
    }
    let spec = &body["spec"];
    let signature = match content {
        SignedContent::Message { signature, .. } => signature,
        SignedContent::Dsse(env) => env
            .signatures
            .first()
            .map(|s| s.sig.as_slice())
            .ok_or_else(|| refused("the envelope has no signature"))?,
    };
    match (entry.kind.as_str(), entry.version.as_str(), content) {
        ("hashedrekord", "0.0.1", SignedContent::Message { digest, .. }) => {
            if hex_member(&spec["data"]["hash"], "spec.data.hash")? != digest.as_slice() {
                return Err(refused(
                    "the logged artifact digest is not the artifact's (wrong artifact?)",
                ));
            }
            if b64(&spec["signature"]["content"], "spec.signature.content")? != signature {
                return Err(refused("the logged signature is not the bundle's"));
            }
            same_signer(
                &spec["signature"]["publicKey"]["content"],
                signer,
                "spec.signature.publicKey.content",
            )
        }
        ("hashedrekord", "0.0.2", _) => {
            let spec = &spec["hashedRekordV002"];
            let expected: Vec<u8> = match content {
                SignedContent::Message { digest, .. } => digest.to_vec(),
                SignedContent::Dsse(env) => {
                    Sha256::digest(pae(&env.payload_type, &env.payload)).to_vec()
                }
            };
            if spec["data"]["algorithm"].as_str() != Some("SHA2_256") {
                return Err(refused("the logged digest algorithm is not SHA2_256"));
            }
            if b64(&spec["data"]["digest"], "spec.data.digest")? != expected {
                return Err(refused(match content {
                    SignedContent::Message { .. } => {
                        "the logged digest is not the artifact's (wrong artifact?)"
                    }
                    SignedContent::Dsse(_) => {
                        "the logged digest is not SHA-256 of this envelope's PAE: another \
                         envelope was logged"
                    }
                }));
            }
            if b64(&spec["signature"]["content"], "spec.signature.content")? != signature {
                return Err(refused("the logged signature is not the bundle's"));
            }
            same_verifier(&spec["signature"]["verifier"], signer)
        }
        ("dsse", "0.0.1", SignedContent::Dsse(env)) => {
            if hex_member(&spec["payloadHash"], "spec.payloadHash")?
                != Sha256::digest(&env.payload).as_slice()
            {
                return Err(refused(
                    "the logged payload hash is not this envelope's payload",
                ));
            }
            let logged = spec["signatures"].as_array().map_or(&[][..], Vec::as_slice);
            let matching = logged.iter().any(|s| {
                b64(&s["signature"], "signature").is_ok_and(|sig| sig == signature)
                    && same_signer(&s["verifier"], signer, "verifier").is_ok()
            });
            if !matching {
                return Err(refused(
                    "no logged signature is the envelope's signature by the bundle's signer",
                ));
            }
            Ok(())
        }
        ("dsse", "0.0.2", SignedContent::Dsse(env)) => {
            let spec = &spec["dsseV002"];
            if b64(&spec["payloadHash"]["digest"], "spec.payloadHash.digest")?
                != Sha256::digest(&env.payload).as_slice()
            {
                return Err(refused(
                    "the logged payload hash is not this envelope's payload",
                ));
            }
            let logged = spec["signatures"].as_array().map_or(&[][..], Vec::as_slice);
            let matching = logged.iter().any(|s| {
                b64(&s["content"], "content").is_ok_and(|sig| sig == signature)
                    && same_verifier(&s["verifier"], signer).is_ok()
            });
            if !matching {
                return Err(refused(
                    "no logged signature is the envelope's signature by the bundle's signer",
                ));
            }
            Ok(())
        }
        ("intoto", "0.0.2", SignedContent::Dsse(env)) => {
            let content = &spec["content"];
            if hex_member(&content["payloadHash"], "spec.content.payloadHash")?
                != Sha256::digest(&env.payload).as_slice()
            {
                return Err(refused(
                    "the logged payload hash is not this envelope's payload",
                ));
            }
            let logged = content["envelope"]["signatures"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            // intoto 0.0.2 stores each signature base64-encoded once more.
            let matching = logged.iter().any(|s| {
                b64(&s["sig"], "sig")
                    .ok()
                    .and_then(|inner| STANDARD.decode(inner).ok())
                    .is_some_and(|sig| sig == signature)
                    && same_signer(&s["publicKey"], signer, "publicKey").is_ok()
            });
            if !matching {
                return Err(refused(
                    "no logged signature is the envelope's signature by the bundle's signer",
                ));
            }
            Ok(())
        }
        (kind, version, content) => Err(refused(format!(
            "a {kind} {version} entry cannot log a {} bundle",
            match content {
                SignedContent::Message { .. } => "message-signature",
                SignedContent::Dsse(_) => "DSSE",
            }
        ))),
    }
}

/// Opens a checkpoint note signed by `log` (Ed25519 or ECDSA): signature lines by the log's
/// host name with the log's key hint must verify (at least one must be there); others are
/// ignored. The origin must be the host (Rekor v2) or `<host> - <tree id>` (Rekor v1).
///
/// # Errors
/// [`EntryRefused`] saying what is wrong.
pub fn open_checkpoint(text: &str, log: &RootLog) -> Result<Checkpoint, EntryRefused> {
    let (body, lines) = note::split(text).map_err(|e| refused(format!("checkpoint: {e}")))?;
    let host = log.host();
    let hint: Option<[u8; 4]> = log.log_id.get(..4).and_then(|h| h.try_into().ok());
    let ed25519_id = match log.key.kind() {
        KeyKind::Ed25519 => log
            .key
            .spki_der()
            .get(12..)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .map(|k| note::key_id(host, &k)),
        _ => None,
    };
    let scheme = log.key.default_scheme();
    let mut verified = 0;
    for (name, id, signature) in &lines {
        if name != host || !(Some(*id) == hint || Some(*id) == ed25519_id) {
            continue;
        }
        if !log.key.verify(scheme, body.as_bytes(), signature) {
            return Err(refused(format!(
                "checkpoint: the signature by {name} does not verify with the log's key"
            )));
        }
        verified += 1;
    }
    if verified == 0 {
        let names: Vec<&str> = lines.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(refused(format!(
            "checkpoint: no signature by the log {host} with its key (signed by: {})",
            names.join(", ")
        )));
    }
    let checkpoint = Checkpoint::parse(&body).map_err(|e| refused(format!("checkpoint: {e}")))?;
    let tree_id_ok = checkpoint
        .origin
        .strip_prefix(host)
        .and_then(|rest| rest.strip_prefix(" - "))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    if checkpoint.origin != host && !tree_id_ok {
        return Err(refused(format!(
            "checkpoint origin {:?} is not the log {host}",
            checkpoint.origin
        )));
    }
    Ok(checkpoint)
}

/// Verifies `entry` for `content` signed by `signer`, against the root's logs.
/// `need_promise` / `need_proof` say what the bundle version requires.
///
/// # Errors
/// [`EntryRefused`] naming the failed step.
pub fn verify_rekor_entry(
    entry: &RekorEntry,
    content: SignedContent<'_>,
    signer: SignerMaterial<'_>,
    root: &TrustedRoot,
    need_promise: bool,
    need_proof: bool,
) -> Result<VerifiedRekorEntry, EntryRefused> {
    let log = root.tlog(&entry.log_id).ok_or_else(|| {
        refused(format!(
            "logged by a log the trusted root does not know (log id {})",
            STANDARD.encode(&entry.log_id)
        ))
    })?;
    check_body(entry, content, signer)?;
    let v2 = entry.is_rekor_v2();
    if v2 && entry.inclusion_proof.is_none() {
        return Err(refused(
            "a Rekor v2 entry without an inclusion proof: nothing proves it was logged",
        ));
    }
    if need_proof && entry.inclusion_proof.is_none() {
        return Err(refused(
            "no inclusion proof (this bundle version requires one; verification is offline)",
        ));
    }
    if need_promise && entry.signed_entry_timestamp.is_none() {
        return Err(refused(
            "no signed entry timestamp (a v0.1 bundle requires the inclusion promise)",
        ));
    }
    if !v2 && entry.inclusion_proof.is_none() && entry.signed_entry_timestamp.is_none() {
        return Err(refused(
            "neither an inclusion proof nor a signed entry timestamp",
        ));
    }
    let mut inclusion_proven = false;
    if let Some(proof) = &entry.inclusion_proof {
        let checkpoint = open_checkpoint(&proof.checkpoint, log)?;
        if checkpoint.root != proof.root || checkpoint.size != proof.tree_size {
            return Err(refused(format!(
                "the inclusion proof is for a tree of {} entries with another root than the \
                 checkpoint's ({} entries)",
                proof.tree_size, checkpoint.size
            )));
        }
        merkle::verify_inclusion(
            &merkle::leaf_hash(&entry.body),
            proof.log_index,
            proof.tree_size,
            &proof.hashes,
            &proof.root,
        )
        .map_err(|e| refused(format!("inclusion proof: {e}")))?;
        inclusion_proven = true;
    }
    let mut integrated_time = None;
    let mut promise_verified = false;
    if let Some(set) = &entry.signed_entry_timestamp {
        let time = entry
            .integrated_time
            .ok_or_else(|| refused("a signed entry timestamp without an integratedTime"))?;
        let payload = json!({
            "body": entry.body_b64,
            "integratedTime": time,
            "logID": stella_core::hex::encode(&entry.log_id),
            "logIndex": entry.log_index,
        });
        let bytes = stella_core::jcs::to_canonical(&payload)
            .map_err(|e| refused(format!("signed entry timestamp payload: {e}")))?;
        if !log.key.verify(log.key.default_scheme(), &bytes, set) {
            return Err(refused(
                "the signed entry timestamp does not verify with the log's key",
            ));
        }
        if !log.valid_for.contains(time) {
            return Err(refused(format!(
                "integrated at {}, when the log's key was not trusted (trusted {})",
                stella_attest::keyless::rfc3339(time),
                log.valid_for
            )));
        }
        integrated_time = Some(time);
        promise_verified = true;
    }
    Ok(VerifiedRekorEntry {
        log: log.base_url.clone(),
        log_index: entry.log_index,
        integrated_time,
        inclusion_proven,
        promise_verified,
    })
}
