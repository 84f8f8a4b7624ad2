//! Log entries: Rekor v2 `hashedrekord` v0.0.2 bodies (canonical JSON) that log a DSSE envelope
//! by the SHA-256 of its PAE and its signature; `dsse` v0.0.2 bodies are read too. And the
//! Sigstore bundle's `tlogEntries[]` member that carries an entry with its inclusion proof.
//!
//! Not here: the envelope's own verification (`stella-attest`), storage ([`crate::log`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use stella_attest::dsse::pae;
use stella_attest::{Algorithm, Envelope, PublicKey};
use stella_core::jcs;

use crate::TlogError;
use crate::merkle::Hash;

fn key_details(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        Algorithm::Ed25519 => "PKIX_ED25519",
    }
}

/// The canonical `hashedrekord` v0.0.2 body logging `envelope`'s signature `signature_index`
/// by `key`.
///
/// # Errors
/// [`TlogError::Entry`] when the envelope has no such signature.
pub fn hashedrekord_body(
    envelope: &Envelope,
    signature_index: usize,
    key: &PublicKey,
) -> Result<Vec<u8>, TlogError> {
    let sig = envelope
        .signatures
        .get(signature_index)
        .ok_or_else(|| TlogError::Entry("the envelope has no signature to log".to_owned()))?;
    let digest = Sha256::digest(pae(&envelope.payload_type, &envelope.payload));
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": {
                "content": STANDARD.encode(&sig.sig),
                "verifier": {
                    "keyDetails": key_details(key.algorithm()),
                    "publicKey": {"rawBytes": STANDARD.encode(key.spki_der())},
                },
            },
        }},
    });
    Ok(jcs::to_canonical(&body)?)
}

/// Checks that a logged body is about `envelope`: a `hashedrekord` v0.0.2 body whose digest is
/// SHA-256 of the envelope's PAE and whose signature is one of the envelope's, or a `dsse`
/// v0.0.2 body whose payload hash is SHA-256 of the payload and whose signatures include one of
/// the envelope's.
///
/// # Errors
/// [`TlogError::Binding`] saying what differs.
pub fn check_binding(body: &[u8], envelope: &Envelope) -> Result<(), TlogError> {
    let bad = |m: String| TlogError::Binding(m);
    let value = jcs::parse(body)
        .map_err(|e| bad(format!("body is not JSON ({e})")))?
        .to_serde();
    let (kind, version) = (value["kind"].as_str(), value["apiVersion"].as_str());
    let b64 = |v: &Value, what: &str| -> Result<Vec<u8>, TlogError> {
        v.as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| bad(format!("{what} is missing or not base64")))
    };
    let sigs: Vec<&[u8]> = envelope
        .signatures
        .iter()
        .map(|s| s.sig.as_slice())
        .collect();
    match (kind, version) {
        (Some("hashedrekord"), Some("0.0.2")) => {
            let spec = &value["spec"]["hashedRekordV002"];
            if spec["data"]["algorithm"].as_str() != Some("SHA2_256") {
                return Err(bad(
                    "hashedrekord digest algorithm is not SHA2_256".to_owned()
                ));
            }
            let digest = b64(&spec["data"]["digest"], "hashedrekord digest")?;
            let expected = Sha256::digest(pae(&envelope.payload_type, &envelope.payload));
            if digest != expected.as_slice() {
                return Err(bad(
                    "the logged digest is not SHA-256 of this envelope's PAE".to_owned(),
                ));
            }
            let content = b64(&spec["signature"]["content"], "hashedrekord signature")?;
            if !sigs.contains(&content.as_slice()) {
                return Err(bad(
                    "the logged signature is not one of this envelope's".to_owned()
                ));
            }
            Ok(())
        }
        (Some("dsse"), Some("0.0.2")) => {
            let spec = &value["spec"]["dsseV002"];
            let digest = b64(&spec["payloadHash"]["digest"], "dsse payloadHash")?;
            if digest != Sha256::digest(&envelope.payload).as_slice() {
                return Err(bad(
                    "the logged payload hash is not SHA-256 of this payload".to_owned(),
                ));
            }
            let logged = spec["signatures"].as_array().cloned().unwrap_or_default();
            let any = logged.iter().any(|s| {
                b64(&s["content"], "dsse signature").is_ok_and(|c| sigs.contains(&c.as_slice()))
            });
            if !any {
                return Err(bad(
                    "no logged signature is one of this envelope's".to_owned()
                ));
            }
            Ok(())
        }
        (k, v) => Err(bad(format!(
            "entry kind {} version {}: expected hashedrekord or dsse 0.0.2",
            k.unwrap_or("(none)"),
            v.unwrap_or("(none)")
        ))),
    }
}

/// A Sigstore bundle `tlogEntries[]` member, as found or as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// The entry's index.
    pub log_index: u64,
    /// The log id (SHA-256 of the checkpoint key material; its first 4 bytes are the note key id).
    pub log_id: Vec<u8>,
    /// `kind` of `kindVersion`.
    pub kind: String,
    /// `version` of `kindVersion`.
    pub version: String,
    /// The logged body.
    pub body: Vec<u8>,
    /// The inclusion proof's tree size.
    pub tree_size: u64,
    /// The inclusion proof's root hash.
    pub root: Hash,
    /// The inclusion proof, deepest sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (note) for `tree_size`.
    pub checkpoint: String,
}

impl TlogEntry {
    /// The protobuf-JSON form (int64 as strings, bytes as base64).
    pub fn to_json(&self) -> Value {
        json!({
            "logIndex": self.log_index.to_string(),
            "logId": {"keyId": STANDARD.encode(&self.log_id)},
            "kindVersion": {"kind": self.kind, "version": self.version},
            "canonicalizedBody": STANDARD.encode(&self.body),
            "inclusionProof": {
                "logIndex": self.log_index.to_string(),
                "rootHash": STANDARD.encode(self.root),
                "treeSize": self.tree_size.to_string(),
                "hashes": self.hashes.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": self.checkpoint},
            },
        })
    }

    /// Reads the protobuf-JSON form.
    ///
    /// # Errors
    /// [`TlogError::Entry`] naming the member that is missing or malformed.
    pub fn from_json(v: &Value) -> Result<Self, TlogError> {
        let bad = |m: &str| TlogError::Entry(format!("tlog entry: {m}"));
        let int = |v: &Value, what: &str| -> Result<u64, TlogError> {
            match v {
                Value::String(s) => s
                    .parse()
                    .map_err(|_| bad(&format!("{what} is not a number"))),
                Value::Number(n) => n
                    .as_u64()
                    .ok_or_else(|| bad(&format!("{what} is not a number"))),
                _ => Err(bad(&format!("{what} is missing"))),
            }
        };
        let bytes = |v: &Value, what: &str| -> Result<Vec<u8>, TlogError> {
            v.as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(|| bad(&format!("{what} is missing or not base64")))
        };
        let hash = |v: &Value, what: &str| -> Result<Hash, TlogError> {
            bytes(v, what)?
                .try_into()
                .map_err(|_| bad(&format!("{what} is not 32 bytes")))
        };
        let proof = &v["inclusionProof"];
        if proof.is_null() {
            return Err(bad(
                "no inclusionProof (entries with only a promise are not verified offline)",
            ));
        }
        let log_index = int(&v["logIndex"], "logIndex")?;
        if int(&proof["logIndex"], "inclusionProof.logIndex")? != log_index {
            return Err(bad("inclusionProof.logIndex differs from logIndex"));
        }
        let hashes = proof["hashes"]
            .as_array()
            .ok_or_else(|| bad("inclusionProof.hashes is missing"))?
            .iter()
            .map(|h| hash(h, "inclusionProof.hashes[]"))
            .collect::<Result<Vec<_>, _>>()?;
        if hashes.len() > 64 {
            return Err(bad("inclusionProof has more than 64 hashes"));
        }
        Ok(TlogEntry {
            log_index,
            log_id: bytes(&v["logId"]["keyId"], "logId.keyId")?,
            kind: v["kindVersion"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            version: v["kindVersion"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            body: bytes(&v["canonicalizedBody"], "canonicalizedBody")?,
            tree_size: int(&proof["treeSize"], "inclusionProof.treeSize")?,
            root: hash(&proof["rootHash"], "inclusionProof.rootHash")?,
            hashes,
            checkpoint: proof["checkpoint"]["envelope"]
                .as_str()
                .ok_or_else(|| bad("inclusionProof.checkpoint.envelope is missing"))?
                .to_owned(),
        })
    }
}
