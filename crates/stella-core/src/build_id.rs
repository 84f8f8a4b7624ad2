//! [`BuildId`]: the key under which symbol servers, runtime frames, FuncProofs and advisories
//! find one binary — the GNU build-id note's bytes, or a computed fallback, as lower-case hex.
//!
//! This module owns only the value and its spelling; how a build id is read from a binary lives
//! in `stella-binary`, how a kernel frame carries one in `stella-runtime`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest build id accepted, in bytes (GNU notes are 20 bytes for SHA-1, 16 for MD5/UUID;
/// some linkers write up to 32).
pub const MAX_BUILD_ID_BYTES: usize = 64;

/// A binary's build id: 1 to [`MAX_BUILD_ID_BYTES`] bytes, written as lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuildId(String);

/// Why a string is not a build id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "build id {input:?} is not 1 to {MAX_BUILD_ID_BYTES} bytes of lower-case hex (an even number of 0-9a-f)"
)]
pub struct BuildIdError {
    /// The rejected text.
    pub input: String,
}

impl crate::error::Kinded for BuildIdError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Invalid
    }
}

impl BuildId {
    /// The build id of these raw bytes; `None` when empty or longer than the limit.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (!bytes.is_empty() && bytes.len() <= MAX_BUILD_ID_BYTES)
            .then(|| BuildId(crate::hex::encode(bytes)))
    }

    /// The lower-case hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The raw bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::hex::decode(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for BuildId {
    type Err = BuildIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len().is_multiple_of(2)
            && s.len() <= 2 * MAX_BUILD_ID_BYTES
            && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(BuildId(s.to_owned()))
        } else {
            Err(BuildIdError {
                input: s.to_owned(),
            })
        }
    }
}

impl AsRef<str> for BuildId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for BuildId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for BuildId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for BuildId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BuildId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lower_hex_and_refuses_the_rest() {
        assert!("8f3e".parse::<BuildId>().is_ok());
        for bad in ["", "8F3E", "8f3", "xyz0", &"ab".repeat(65)] {
            assert!(bad.parse::<BuildId>().is_err(), "{bad:?}");
        }
        let id = BuildId::from_bytes(&[0xde, 0xad]).expect("two bytes");
        assert_eq!(id.as_str(), "dead");
        assert_eq!(id.to_bytes(), vec![0xde, 0xad]);
        assert_eq!(BuildId::from_bytes(&[]), None);
    }

    #[test]
    fn serde_is_the_bare_string_and_checks_it() {
        let id: BuildId = serde_json::from_str("\"00ff\"").expect("valid");
        assert_eq!(serde_json::to_string(&id).expect("serialises"), "\"00ff\"");
        assert!(serde_json::from_str::<BuildId>("\"00FF\"").is_err());
    }
}
