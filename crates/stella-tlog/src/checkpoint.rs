//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the note text
//! `origin\nsize\nbase64(root)\n` followed by optional extension lines, signed as a note.
//!
//! Not here: signing and opening notes ([`crate::note`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::TlogError;
use crate::merkle::Hash;
use crate::note::{self, NoteSigner, NoteVerifier};

/// A checkpoint: the log's origin, its size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (its name).
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// The tree hash of those entries.
    pub root: Hash,
    /// Extension lines, as found.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Reads the note text.
    ///
    /// # Errors
    /// [`TlogError::Checkpoint`] naming the line that is wrong.
    pub fn parse(text: &str) -> Result<Self, TlogError> {
        let bad = |m: String| TlogError::Checkpoint(m);
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("does not end with a newline".to_owned()))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line".to_owned()))?;
        let size = lines.next().ok_or_else(|| bad("no size line".to_owned()))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad(format!("size {size:?} is not a decimal number")));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad(format!("size {size:?} is too large")))?;
        let root_b64 = lines
            .next()
            .ok_or_else(|| bad("no root hash line".to_owned()))?;
        let root: Hash = STANDARD
            .decode(root_b64)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad(format!("root hash {root_b64:?} is not 32 bytes of base64")))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line".to_owned()));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint: the signed note.
    ///
    /// # Errors
    /// What [`NoteSigner::sign`] reports.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, TlogError> {
        signer.sign(&self.to_text())
    }

    /// Opens a signed checkpoint with the log's verifier, and checks that its origin is the
    /// expected one.
    ///
    /// # Errors
    /// [`TlogError::Note`] for a bad or missing signature, [`TlogError::Checkpoint`] for a bad
    /// body or another origin.
    pub fn open(note: &str, verifier: &NoteVerifier, origin: &str) -> Result<Self, TlogError> {
        let opened = note::open(note, std::slice::from_ref(verifier))?;
        let checkpoint = Checkpoint::parse(&opened.text)?;
        if checkpoint.origin != origin {
            return Err(TlogError::Checkpoint(format!(
                "origin is {:?}, expected {origin:?}",
                checkpoint.origin
            )));
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let cp = Checkpoint {
            origin: "log.example".into(),
            size: 42,
            root: [3u8; 32],
            extensions: vec![],
        };
        let text = cp.to_text();
        assert_eq!(Checkpoint::parse(&text).expect("parse"), cp);
        for bad in [
            "log\n042\nAAAA\n",
            "log\n-1\n",
            "log\n1\nAAAA\n",
            "\n1\n",
            "log\n1\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
        let signer = NoteSigner::from_seed("log.example", &[1u8; 32]).expect("signer");
        let note = cp.sign(&signer).expect("sign");
        assert_eq!(
            Checkpoint::open(&note, signer.verifier(), "log.example").expect("open"),
            cp
        );
        assert!(Checkpoint::open(&note, signer.verifier(), "other.example").is_err());
        let wrong = NoteSigner::from_seed("log.example", &[2u8; 32]).expect("signer");
        assert!(Checkpoint::open(&note, wrong.verifier(), "log.example").is_err());
    }
}
