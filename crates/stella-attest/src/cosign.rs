//! cosign's encrypted private-key file, read and written unchanged, so `cosign.key` files work
//! with Stella and Stella's keys work with cosign.
//!
//! The file is a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign releases:
//! `ENCRYPTED COSIGN PRIVATE KEY`) whose body is a JSON document:
//! `{"kdf":{"name":"scrypt","params":{"N":…,"r":8,"p":1},"salt":…},"cipher":{"name":
//! "nacl/secretbox","nonce":…},"ciphertext":…}` (byte strings in standard base64). The password
//! goes through scrypt to a 32-byte key that opens the NaCl secretbox (XSalsa20-Poly1305)
//! holding the PKCS#8 DER of the private key. New files use N = 2^16 as current cosign does;
//! N = 2^15 (older cosign) to 2^17 is read, and nothing outside that range, so a file cannot make
//! the reader spend unbounded memory.
//!
//! An unencrypted PKCS#8 `PRIVATE KEY` PEM is read as well (for keys made by other tools); it is
//! never written.
//!
//! Not here: how the password is obtained.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use pem_rfc7468::LineEnding;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::AttestError;
use crate::keys::{PrivateKey, decode_pem};

/// The PEM label current cosign writes.
pub const LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label of keys written by cosign before 2.0.
pub const LEGACY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// log₂ N of newly written keys (N = 65536).
pub const DEFAULT_LOG_N: u8 = 16;
/// Smallest log₂ N read (older cosign wrote 2^15).
pub const MIN_LOG_N: u8 = 15;
/// Largest log₂ N read.
pub const MAX_LOG_N: u8 = 17;

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;

#[derive(Serialize, Deserialize)]
struct EncryptedKey {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Reads a private key file: cosign's encrypted format (either label), or unencrypted PKCS#8.
///
/// # Errors
/// [`AttestError::WrongPassword`] when the password does not open it; [`AttestError::Key`] for
/// a truncated or malformed file, parameters outside what cosign writes, or a key that is not
/// P-256 or Ed25519.
pub fn read_private_key(text: &str, password: &[u8]) -> Result<PrivateKey, AttestError> {
    let (label, body) = decode_pem(text)?;
    match label.as_str() {
        LABEL | LEGACY_LABEL => {
            let der = decrypt(&body, password)?;
            PrivateKey::from_pkcs8_der(&der)
        }
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&body),
        "PUBLIC KEY" => Err(AttestError::Key(
            "this is a public key; signing takes the private key (the .key file)".to_owned(),
        )),
        "RSA PRIVATE KEY" => Err(AttestError::Key(
            "an RSA private key; Stella signs with ECDSA P-256 or Ed25519 keys".to_owned(),
        )),
        other => Err(AttestError::Key(format!(
            "PEM block is {other:?}; expected {LABEL:?} (a cosign key) or \"PRIVATE KEY\""
        ))),
    }
}

/// Whether a key file needs a password to be read.
pub fn is_encrypted(text: &str) -> bool {
    text.contains(&format!("-----BEGIN {LABEL}-----"))
        || text.contains(&format!("-----BEGIN {LEGACY_LABEL}-----"))
}

/// Writes `key` in cosign's encrypted format (label [`LABEL`], N = 2^[`DEFAULT_LOG_N`], r = 8,
/// p = 1, a fresh random salt and nonce).
///
/// # Errors
/// [`AttestError::Random`] when the system has no randomness.
pub fn write_private_key(key: &PrivateKey, password: &[u8]) -> Result<String, AttestError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| AttestError::Random)?;
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| AttestError::Random)?;
    encrypt(key.pkcs8_der(), password, DEFAULT_LOG_N, &salt, &nonce)
}

/// The encrypted file for `pkcs8` with explicit parameters (tests use fixed salt and nonce).
///
/// # Errors
/// [`AttestError::Key`] when `log_n` is outside [`MIN_LOG_N`]..=[`MAX_LOG_N`].
pub fn encrypt(
    pkcs8: &[u8],
    password: &[u8],
    log_n: u8,
    salt: &[u8],
    nonce: &[u8; NONCE_LEN],
) -> Result<String, AttestError> {
    let key = derive_key(password, salt, log_n)?;
    let cipher = XSalsa20Poly1305::new(key.as_slice().into());
    let ciphertext = cipher
        .encrypt(nonce.into(), pkcs8)
        .map_err(|_| AttestError::Key("secretbox encryption failed".to_owned()))?;
    let document = EncryptedKey {
        kdf: Kdf {
            name: "scrypt".to_owned(),
            params: KdfParams {
                n: 1u64 << log_n,
                r: 8,
                p: 1,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".to_owned(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(ciphertext),
    };
    let json = serde_json::to_vec(&document)
        .map_err(|e| AttestError::Key(format!("cannot encode the key file ({e})")))?;
    pem_rfc7468::encode_string(LABEL, LineEnding::LF, &json)
        .map_err(|e| AttestError::Key(format!("cannot encode the key file ({e})")))
}

/// The PKCS#8 DER inside an encrypted key file's body (the JSON document).
fn decrypt(body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, AttestError> {
    let bad = |what: String| AttestError::Key(format!("encrypted key file: {what}"));
    let doc: EncryptedKey = serde_json::from_slice(body)
        .map_err(|e| bad(format!("not cosign's key document ({e})")))?;
    if doc.kdf.name != "scrypt" {
        return Err(bad(format!(
            "key derivation {:?}; expected \"scrypt\"",
            doc.kdf.name
        )));
    }
    if doc.cipher.name != "nacl/secretbox" {
        return Err(bad(format!(
            "cipher {:?}; expected \"nacl/secretbox\"",
            doc.cipher.name
        )));
    }
    let KdfParams { n, r, p } = doc.kdf.params;
    let log_n = match n {
        n if n.is_power_of_two() => n.trailing_zeros(),
        _ => return Err(bad(format!("scrypt N = {n} is not a power of two"))),
    };
    let log_n = u8::try_from(log_n).unwrap_or(u8::MAX);
    if !(MIN_LOG_N..=MAX_LOG_N).contains(&log_n) || r != 8 || p != 1 {
        return Err(bad(format!(
            "scrypt N = {n}, r = {r}, p = {p}; cosign's keys use N = 2^15..2^17, r = 8, p = 1"
        )));
    }
    let decode = |field: &str, text: &str| {
        STANDARD.decode(text).map_err(|e| AttestError::Base64 {
            field: format!("key file {field}"),
            reason: e.to_string(),
        })
    };
    let salt = decode("kdf.salt", &doc.kdf.salt)?;
    if salt.is_empty() {
        return Err(bad("empty scrypt salt".to_owned()));
    }
    let nonce = decode("cipher.nonce", &doc.cipher.nonce)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|n: Vec<u8>| {
        bad(format!(
            "secretbox nonce is {} bytes; expected {NONCE_LEN}",
            n.len()
        ))
    })?;
    let ciphertext = decode("ciphertext", &doc.ciphertext)?;
    let key = derive_key(password, &salt, log_n)?;
    let cipher = XSalsa20Poly1305::new(key.as_slice().into());
    cipher
        .decrypt((&nonce).into(), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| AttestError::WrongPassword)
}

fn derive_key(password: &[u8], salt: &[u8], log_n: u8) -> Result<Zeroizing<[u8; 32]>, AttestError> {
    if !(MIN_LOG_N..=MAX_LOG_N).contains(&log_n) {
        return Err(AttestError::Key(format!(
            "scrypt log2(N) = {log_n}; expected {MIN_LOG_N}..={MAX_LOG_N}"
        )));
    }
    let params = scrypt::Params::new(log_n, 8, 1)
        .map_err(|e| AttestError::Key(format!("scrypt parameters ({e})")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut_slice())
        .map_err(|e| AttestError::Key(format!("scrypt ({e})")))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, Signer as _};

    #[test]
    fn written_keys_read_back_with_the_password_only() {
        let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("generate");
        let pem = encrypt(key.pkcs8_der(), b"pw", MIN_LOG_N, &[7u8; 32], &[9u8; 24]).expect("enc");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(is_encrypted(&pem));
        let back = read_private_key(&pem, b"pw").expect("read");
        assert_eq!(back.public_key(), key.public_key());
        assert!(matches!(
            read_private_key(&pem, b"wrong"),
            Err(AttestError::WrongPassword)
        ));
        let legacy = pem.replace(LABEL, LEGACY_LABEL);
        assert!(read_private_key(&legacy, b"pw").is_ok());
    }

    #[test]
    fn absurd_scrypt_costs_are_refused_before_any_work() {
        let doc = r#"{"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AAAA"}"#;
        let pem = pem_rfc7468::encode_string(LABEL, LineEnding::LF, doc.as_bytes()).expect("pem");
        let err = read_private_key(&pem, b"pw").expect_err("refused");
        assert!(err.to_string().contains("N = 1073741824"), "{err}");
    }
}
