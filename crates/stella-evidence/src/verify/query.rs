//! The symbol presence/absence answer over an image's verified FuncProofs: where a symbol is
//! (binary, BuildID, byte range, BLAKE3, the FuncProof and its log entries), or the FuncProofs
//! that show it is nowhere. What `stella verify --symbol` prints and what an assessment cites.

use serde::Serialize;

use super::{LogRef, ProvenBinary};
use crate::EvidenceError;

/// One function that matches the symbol asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// The binary's path in the image.
    pub binary: String,
    /// Its BuildID.
    pub build_id: Option<String>,
    /// The symbol as the binary holds it.
    pub sym: String,
    /// Demangled, when it is mangled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    /// Start address (`0x` hex).
    pub start: String,
    /// End address (`0x` hex, exclusive).
    pub end: String,
    /// BLAKE3 of the function's bytes.
    pub blake3: String,
    /// The FuncProof layer's digest.
    pub funcproof: String,
    /// The log entries of the FuncProof's signature.
    pub log: Vec<LogRef>,
}

/// A verified FuncProof in which the symbol is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Absence {
    /// The binary's path in the image.
    pub binary: String,
    /// Its BuildID.
    pub build_id: Option<String>,
    /// The FuncProof layer's digest.
    pub funcproof: String,
    /// How many functions it proves.
    pub functions: usize,
    /// How many of them have a name: a proof of a stripped binary names none, and then its
    /// absence by name proves nothing.
    pub named: usize,
}

/// Where a symbol is, or the proofs that it is nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolAnswer {
    /// The name or glob asked about.
    pub symbol: String,
    /// Whether any verified FuncProof holds it.
    pub present: bool,
    /// Each function that matches.
    pub found: Vec<Presence>,
    /// When absent: every verified FuncProof, each showing it is not there.
    pub absent_from: Vec<Absence>,
    /// Verified FuncProofs asked.
    pub binaries: usize,
}

impl SymbolAnswer {
    /// Absences from FuncProofs that name no function (stripped binaries): they do not prove
    /// absence by name.
    pub fn unnamed(&self) -> impl Iterator<Item = &Absence> {
        self.absent_from.iter().filter(|a| a.named == 0)
    }
}

pub(super) fn answer(name: &str, proven: &[ProvenBinary]) -> Result<SymbolAnswer, EvidenceError> {
    let mut found = Vec::new();
    let mut absent_from = Vec::new();
    for p in proven {
        let matches = p
            .proof
            .query(name)
            .map_err(|source| EvidenceError::Binary {
                context: format!("symbol {name:?}"),
                source: Box::new(source),
            })?;
        if matches.is_empty() {
            absent_from.push(Absence {
                binary: p.path.clone(),
                build_id: p.proof.build_id.as_ref().map(ToString::to_string),
                funcproof: p.digest.clone(),
                functions: p.proof.functions.len(),
                named: p
                    .proof
                    .functions
                    .iter()
                    .filter(|f| {
                        !matches!(
                            f.source,
                            stella_binary::functions::Source::EhFrame
                                | stella_binary::functions::Source::Disasm
                        )
                    })
                    .count(),
            });
        }
        for m in matches {
            found.push(Presence {
                binary: p.path.clone(),
                build_id: p.proof.build_id.as_ref().map(ToString::to_string),
                sym: m.sym.clone(),
                demangled: m.demangled.clone(),
                start: m.start.to_string(),
                end: m.end.to_string(),
                blake3: m.blake3.clone(),
                funcproof: p.digest.clone(),
                log: p.log.clone(),
            });
        }
    }
    let present = !found.is_empty();
    Ok(SymbolAnswer {
        symbol: name.to_owned(),
        present,
        found,
        absent_from: if present { Vec::new() } else { absent_from },
        binaries: proven.len(),
    })
}
