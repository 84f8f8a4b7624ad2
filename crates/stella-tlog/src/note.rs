//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and the verifier-key
//! string form `name+hex(keyid)+base64(0x01 ‖ pubkey)`.
//!
//! A note is text ending in a newline, a blank line, then signature lines
//! `— <name> base64(keyid[4] ‖ signature)`. The key id is the first 4 bytes of
//! SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key). Verifiers ignore signatures by keys they do
//! not know, reject the note when a known key's signature fails, and require at least one known
//! key's signature to verify.
//!
//! Not here: what the text says (see [`crate::checkpoint`]).

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::TlogError;

/// The signature type byte of Ed25519 note keys.
pub const ED25519_TYPE: u8 = 0x01;
/// Most signature lines read from one note.
pub const MAX_SIGNATURES: usize = 100;

/// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key): its first 4 bytes are the note key id, and the
/// whole hash is the log id Sigstore trusted roots carry.
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, ED25519_TYPE]);
    h.update(public_key);
    h.finalize().into()
}

/// The key id of an Ed25519 note key.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let d = key_hash(name, public_key);
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// A note verifier: a name and an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    /// The key name.
    pub name: String,
    /// The key id.
    pub id: [u8; 4],
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
}

impl NoteVerifier {
    /// A verifier for `public_key` under `name`.
    ///
    /// # Errors
    /// [`TlogError::Note`] for a name with spaces or `+`.
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<Self, TlogError> {
        if !valid_name(name) {
            return Err(TlogError::Note(format!(
                "key name {name:?} must be non-empty, without spaces or '+'"
            )));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            id: key_id(name, &public_key),
            public_key,
        })
    }

    /// Reads `name+hex(keyid)+base64(0x01 ‖ key)`.
    ///
    /// # Errors
    /// [`TlogError::Note`] for a malformed key, another algorithm, or a key id that does not
    /// match the key.
    pub fn parse(vkey: &str) -> Result<Self, TlogError> {
        let bad = |m: &str| TlogError::Note(format!("verifier key {vkey:?}: {m}"));
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+keyid+key"));
        };
        let raw = STANDARD.decode(key).map_err(|_| bad("key is not base64"))?;
        let Some((&ED25519_TYPE, public)) = raw.split_first() else {
            return Err(bad("not an Ed25519 (type 0x01) key"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("Ed25519 keys are 32 bytes"))?;
        let verifier = NoteVerifier::new(name, public)?;
        let hex_id = stella_core::hex::encode(verifier.id);
        if hex_id != id {
            return Err(bad(&format!(
                "key id {id} does not match the key ({hex_id})"
            )));
        }
        Ok(verifier)
    }

    /// The `name+hex(keyid)+base64(0x01 ‖ key)` form.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(&self.public_key);
        let hex_id = stella_core::hex::encode(self.id);
        format!("{}+{hex_id}+{}", self.name, STANDARD.encode(raw))
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(text, signature)
            .is_ok()
    }
}

/// A note signer: a name and an Ed25519 key pair.
pub struct NoteSigner {
    key: Ed25519KeyPair,
    verifier: NoteVerifier,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`TlogError::Note`] for a bad name or seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, TlogError> {
        let key = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| TlogError::Note(format!("Ed25519 seed rejected ({e})")))?;
        Self::from_key_pair(name, key)
    }

    /// A signer from a PKCS#8 Ed25519 key.
    ///
    /// # Errors
    /// [`TlogError::Note`] for a bad name or key.
    pub fn from_pkcs8(name: &str, der: &[u8]) -> Result<Self, TlogError> {
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| TlogError::Note(format!("log key is not an Ed25519 PKCS#8 key ({e})")))?;
        Self::from_key_pair(name, key)
    }

    fn from_key_pair(name: &str, key: Ed25519KeyPair) -> Result<Self, TlogError> {
        let public: [u8; 32] = key
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| TlogError::Note("Ed25519 public key is not 32 bytes".to_owned()))?;
        Ok(NoteSigner {
            verifier: NoteVerifier::new(name, public)?,
            key,
        })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// `text` (which must end in a newline) signed: the whole note.
    ///
    /// # Errors
    /// [`TlogError::Note`] when `text` does not end in a newline or contains control characters.
    pub fn sign(&self, text: &str) -> Result<String, TlogError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut payload = self.verifier.id.to_vec();
        payload.extend_from_slice(signature.as_ref());
        Ok(format!(
            "{text}\n\u{2014} {} {}\n",
            self.verifier.name,
            STANDARD.encode(payload)
        ))
    }
}

fn check_text(text: &str) -> Result<(), TlogError> {
    if !text.ends_with('\n') {
        return Err(TlogError::Note(
            "note text must end with a newline".to_owned(),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(TlogError::Note(
            "note text contains control characters".to_owned(),
        ));
    }
    Ok(())
}

/// A note whose signature by one of the given keys verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The note text (with its final newline).
    pub text: String,
    /// The names of the keys whose signatures verified.
    pub verified_by: Vec<String>,
}

/// One signature line: key name, key id, signature bytes.
pub type SignatureLine = (String, [u8; 4], Vec<u8>);

/// Splits a note into its text and its signature lines.
///
/// # Errors
/// [`TlogError::Note`] for a malformed note.
pub fn split(note: &str) -> Result<(String, Vec<SignatureLine>), TlogError> {
    let bad = |m: &str| TlogError::Note(format!("malformed note: {m}"));
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line between text and signatures"))?;
    let (text, sigs) = (&note[..=at], &note[at + 2..]);
    check_text(text)?;
    if !sigs.ends_with('\n') {
        return Err(bad("the last signature line does not end with a newline"));
    }
    let mut out = Vec::new();
    for line in sigs.lines() {
        if out.len() >= MAX_SIGNATURES {
            return Err(bad(&format!("more than {MAX_SIGNATURES} signatures")));
        }
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("a signature line does not start with \"\u{2014} \""))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("a signature line has no signature"))?;
        if !valid_name(name) {
            return Err(bad("a signature line has an invalid key name"));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| bad("a signature is not base64"))?;
        if raw.len() < 5 {
            return Err(bad("a signature is shorter than its key id"));
        }
        let id = [raw[0], raw[1], raw[2], raw[3]];
        out.push((name.to_owned(), id, raw[4..].to_vec()));
    }
    if out.is_empty() {
        return Err(bad("no signatures"));
    }
    Ok((text.to_owned(), out))
}

/// Opens a note with `verifiers`.
///
/// # Errors
/// [`TlogError::Note`] when malformed, when a known key's signature fails, or when no known
/// key signed it.
pub fn open(note: &str, verifiers: &[NoteVerifier]) -> Result<Opened, TlogError> {
    let (text, signatures) = split(note)?;
    let mut verified_by = Vec::new();
    for (name, id, sig) in &signatures {
        let Some(v) = verifiers.iter().find(|v| &v.name == name && &v.id == id) else {
            continue;
        };
        if !v.verify(text.as_bytes(), sig) {
            return Err(TlogError::Note(format!(
                "the signature by {name} does not verify: the note was modified or signed by \
                 another key"
            )));
        }
        verified_by.push(name.clone());
    }
    if verified_by.is_empty() {
        let names: Vec<&str> = signatures.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(TlogError::Note(format!(
            "no signature by a trusted key (signed by: {})",
            names.join(", ")
        )));
    }
    Ok(Opened { text, verified_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the C2SP signed-note specification.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn the_specification_example_verifies() {
        let v = NoteVerifier::parse(SPEC_VKEY).expect("vkey");
        assert_eq!(v.id, [0x53, 0x0d, 0x90, 0x3a]);
        assert_eq!(v.to_vkey(), SPEC_VKEY);
        let opened = open(SPEC_NOTE, std::slice::from_ref(&v)).expect("verifies");
        assert_eq!(opened.text, "This is an example message.\n");
        let tampered = SPEC_NOTE.replace("example message", "exemplary message");
        assert!(open(&tampered, std::slice::from_ref(&v)).is_err());
        // An unknown key's signature is ignored; with no known key, the note is refused.
        let other = NoteVerifier::new("example.com/bar", v.public_key).expect("v");
        assert!(open(SPEC_NOTE, &[other]).is_err());
    }

    #[test]
    fn signing_round_trips_and_extra_signatures_are_tolerated() {
        let a = NoteSigner::from_seed("log.example", &[7u8; 32]).expect("signer");
        let b = NoteSigner::from_seed("witness.example", &[9u8; 32]).expect("signer");
        let note = a.sign("hello\n").expect("sign");
        let cosigned = b.sign("hello\n").expect("sign");
        let both = format!("{}{}", note, cosigned.split_once("\n\n").expect("sep").1);
        let opened = open(&both, &[a.verifier().clone()]).expect("opens");
        assert_eq!(opened.verified_by, ["log.example"]);
        assert!(a.sign("no newline").is_err());
        assert!(open("text\n\n\u{2014} x AAAA\n", &[a.verifier().clone()]).is_err());
    }
}
