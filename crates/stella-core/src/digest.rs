//! Algorithm-tagged digests (`sha256:<hex>`), the form every Stella identifier takes.
//!
//! A [`Digest`] is what the OCI specs call a digest and what in-toto subjects carry: an algorithm name
//! and the lower-case hex of the hash. Parsing is strict (known algorithm, exact length, lower-case
//! hex) because these strings are compared byte for byte across tools.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

/// Hash algorithms Stella names in digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 (FIPS 180-4): 32-byte digests.
    Sha256,
    /// SHA-512 (FIPS 180-4): 64-byte digests.
    Sha512,
}

impl Algorithm {
    /// The name used in `name:hex` digests.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the digest in hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// An algorithm-tagged digest such as `sha256:9f86d0…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// Shared: a digest is copied onto everything derived from one document (every statement
    /// of a VEX document names its source), and a copy is then a count, not 64 bytes.
    hex: Arc<str>,
}

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// No `algorithm:` prefix.
    #[error("digest {input:?} has no `algorithm:` prefix (expected e.g. `sha256:<64 hex>`)")]
    MissingAlgorithm {
        /// The rejected input.
        input: String,
    },
    /// The algorithm is not one Stella knows.
    #[error("digest algorithm {algorithm:?} is not supported (expected sha256 or sha512)")]
    UnknownAlgorithm {
        /// The rejected algorithm name.
        algorithm: String,
    },
    /// The hex part has the wrong length or characters.
    #[error("{algorithm} digest must be {expected} lower-case hex characters, got {input:?}")]
    BadHex {
        /// The algorithm name.
        algorithm: &'static str,
        /// Expected number of hex characters.
        expected: usize,
        /// The rejected hex part.
        input: String,
    },
}

impl Digest {
    /// SHA-256 of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Self {
        Self::from_sha256_bytes(Sha256::digest(bytes).into())
    }

    /// A SHA-256 digest from its raw 32 bytes.
    pub fn from_sha256_bytes(raw: [u8; 32]) -> Self {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: crate::hex::encode(raw).into(),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex of the hash, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingAlgorithm {
                input: s.to_owned(),
            })?;
        let algorithm = match name {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(DigestError::UnknownAlgorithm {
                    algorithm: other.to_owned(),
                });
            }
        };
        let well_formed = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed {
            return Err(DigestError::BadHex {
                algorithm: algorithm.name(),
                expected: algorithm.hex_len(),
                input: hex.to_owned(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.into(),
        })
    }
}

/// A streaming SHA-256 that yields a [`Digest`]; for inputs that arrive in pieces.
#[derive(Default, Clone)]
pub struct Sha256Writer(Sha256);

impl Sha256Writer {
    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Finish and return the digest.
    pub fn finish(self) -> Digest {
        Digest::from_sha256_bytes(self.0.finalize().into())
    }
}

impl std::io::Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_matches_fips_vector() {
        assert_eq!(
            Digest::sha256(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn streaming_and_one_shot_agree() {
        let mut w = Sha256Writer::default();
        w.update(b"ab");
        w.update(b"c");
        assert_eq!(w.finish(), Digest::sha256(b"abc"));
    }

    #[test]
    fn parse_round_trips_and_rejects_malformed() {
        let d = Digest::sha256(b"abc");
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        assert!(matches!(
            "abc".parse::<Digest>(),
            Err(DigestError::MissingAlgorithm { .. })
        ));
        assert!(matches!(
            "md5:00".parse::<Digest>(),
            Err(DigestError::UnknownAlgorithm { .. })
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestError::BadHex { .. })
        ));
        assert!(matches!(
            "sha256:abcd".parse::<Digest>(),
            Err(DigestError::BadHex { .. })
        ));
    }
}
