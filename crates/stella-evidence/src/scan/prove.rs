//! Proving binaries in parallel: a FuncProof, the linkage, the cargo-auditable packages and the
//! symbol table of each; copies with the same content become one binary with several paths.
//! Not here: finding them ([`super::walk`]) or signing what they give ([`super::run`]).

use std::collections::BTreeMap;

use rayon::prelude::*;
use stella_binary::inspect::{self, Linkage};
use stella_binary::symbols::SymbolTable;
use stella_binary::{FuncProof, MappedFile};
use stella_core::Digest;
use stella_sbom::generate::{BinaryFacts, FuncProofRef};

use super::walk::{Candidate, Unproven};
use crate::EvidenceError;
use crate::progress::{Event, Phase, Progress};

/// What the analysis of one binary gave.
pub(crate) struct Analysed {
    pub(crate) paths: Vec<String>,
    pub(crate) proof: FuncProof,
    pub(crate) proof_json: Vec<u8>,
    pub(crate) proof_digest: Digest,
    pub(crate) linkage: Linkage,
    pub(crate) auditable: Vec<stella_sbom::auditable::AuditablePackage>,
    pub(crate) symbols: Option<SymbolTable>,
}

/// Proves every candidate in parallel (a progress bar on a terminal); copies with the same
/// content become one binary with several paths.
pub(crate) fn analyse(
    candidates: Vec<Candidate>,
    jobs: Option<usize>,
    progress: &dyn Progress,
) -> Result<(Vec<Analysed>, Vec<Unproven>), EvidenceError> {
    let total_bytes: u64 = candidates.iter().map(|c| c.size).sum();
    progress.event(Event::Start {
        phase: Phase::Prove,
        total: Some(total_bytes),
        detail: format!("{} binaries", candidates.len()),
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| EvidenceError::invalid("worker threads", e.to_string()))?;
    let results: Vec<Result<Analysed, Unproven>> = pool.install(|| {
        candidates
            .into_par_iter()
            .map(|c| {
                let result = analyse_one(&c);
                progress.event(Event::Advance {
                    phase: Phase::Prove,
                    done: c.size,
                    item: c.paths[0].clone(),
                });
                result
            })
            .collect()
    });
    progress.event(Event::Finish {
        phase: Phase::Prove,
    });
    let mut by_sha: BTreeMap<String, Analysed> = BTreeMap::new();
    let mut unproven = Vec::new();
    for r in results {
        match r {
            Ok(a) => match by_sha.get_mut(&a.proof.file.sha256.to_string()) {
                Some(existing) => existing.paths.extend(a.paths),
                None => {
                    by_sha.insert(a.proof.file.sha256.to_string(), a);
                }
            },
            Err(u) => unproven.push(u),
        }
    }
    let mut analysed: Vec<Analysed> = by_sha.into_values().collect();
    for a in &mut analysed {
        a.paths.sort();
        a.paths.dedup();
    }
    analysed.sort_by(|a, b| a.paths[0].cmp(&b.paths[0]));
    unproven.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((analysed, unproven))
}

fn analyse_one(c: &Candidate) -> Result<Analysed, Unproven> {
    let fail = |reason: String| Unproven {
        path: c.paths[0].clone(),
        reason,
    };
    let mapped = MappedFile::open(&c.file).map_err(|e| fail(e.to_string()))?;
    let data: &[u8] = &mapped;
    let proof = FuncProof::build(data).map_err(|e| fail(e.to_string()))?;
    let proof_json = proof.to_canonical_json().map_err(|e| fail(e.to_string()))?;
    let proof_digest = Digest::sha256(&proof_json);
    let (linkage, auditable) = match object::File::parse(data) {
        Ok(file) => {
            let linkage = inspect::linkage(&file, data);
            let auditable = match inspect::cargo_auditable(&file, data) {
                Ok(Some(json)) => match stella_sbom::auditable::parse_auditable(&json) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!("{}: cargo auditable data: {e}", c.paths[0]);
                        Vec::new()
                    }
                },
                Ok(None) => Vec::new(),
                Err(e) => {
                    tracing::warn!("{}: cargo auditable data: {e}", c.paths[0]);
                    Vec::new()
                }
            };
            (linkage, auditable)
        }
        Err(_) => (Linkage::default(), Vec::new()),
    };
    let symbols = match SymbolTable::from_proof(&proof, data) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("{}: no symbol table: {e}", c.paths[0]);
            None
        }
    };
    Ok(Analysed {
        paths: c.paths.clone(),
        proof,
        proof_json,
        proof_digest,
        linkage,
        auditable,
        symbols,
    })
}

pub(crate) fn facts_of(a: &Analysed) -> BinaryFacts {
    let identity = &a.proof.identity;
    BinaryFacts {
        path: a.paths[0].clone(),
        other_paths: a.paths[1..].to_vec(),
        sha256: a.proof.file.sha256.hex().to_owned(),
        blake3: a.proof.file.blake3.clone(),
        size: a.proof.file.size,
        format: identity.format.clone(),
        arch: identity.arch.clone(),
        kind: a.linkage.kind.to_owned(),
        build_id: a.proof.build_id.as_ref().map(ToString::to_string),
        build_id_source: identity.build_id_source.as_str().to_owned(),
        soname: a.linkage.soname.clone(),
        needed: a.linkage.needed.clone(),
        funcproof: Some(FuncProofRef {
            digest: a.proof_digest.to_string(),
            functions: a.proof.functions.len(),
        }),
        auditable: a.auditable.clone(),
    }
}
