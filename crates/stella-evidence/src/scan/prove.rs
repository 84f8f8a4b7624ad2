//! Proving binaries in parallel: a FuncProof, the linkage, the cargo-auditable packages, the
//! components found inside (Go build information, crate registry paths) and the symbol table of
//! each; copies with the same content become one binary with several paths.
//! Not here: finding them ([`super::walk`]) or signing what they give ([`super::run`]).

use std::collections::BTreeMap;

use rayon::prelude::*;
use stella_binary::inspect::{self, Linkage};
use stella_binary::symbols::SymbolTable;
use stella_binary::{FuncProof, MappedFile};
use stella_core::Digest;
use stella_sbom::EmbeddedComponent;
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
    /// SHA-1 of the file (hex), for SPDX.
    pub(crate) sha1: String,
    pub(crate) linkage: Linkage,
    pub(crate) auditable: Vec<stella_sbom::auditable::AuditablePackage>,
    pub(crate) embedded: Vec<EmbeddedComponent>,
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
    let sha1 = stella_core::hex::encode(<sha1::Sha1 as sha1::Digest>::digest(data));
    let (linkage, auditable, embedded) = match object::File::parse(data) {
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
            let mut embedded = go_components(&file, data, &c.paths[0]);
            embedded.extend(path_crates(&file, data));
            embedded.extend(banner_libraries(&file, data));
            (linkage, auditable, embedded)
        }
        Err(_) => (Linkage::default(), Vec::new(), Vec::new()),
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
        sha1,
        linkage,
        auditable,
        embedded,
        symbols,
    })
}

/// The Go toolchain's standard library and the modules the build information names; a module
/// replaced by another module is that other module, one replaced by a directory keeps its own
/// name and version with less confidence (the code came from the directory).
fn go_components(file: &object::File<'_>, data: &[u8], path: &str) -> Vec<EmbeddedComponent> {
    let info = match stella_binary::gobuild::go_buildinfo(file, data) {
        Ok(Some(info)) => info,
        Ok(None) => return Vec::new(),
        Err(e) => {
            tracing::warn!("{path}: Go build information: {e}");
            return Vec::new();
        }
    };
    let place = match buildinfo_section(file) {
        Some(name) => format!("section {name}"),
        None => "the block found by its magic".to_owned(),
    };
    let evidence =
        |line: String| format!("Go build information (runtime/debug.BuildInfo) in {place}: {line}");
    let mut out = Vec::new();
    out.extend(EmbeddedComponent::go_stdlib(
        &info.go_version,
        evidence(info.go_version.clone()),
    ));
    let modules = info
        .main
        .iter()
        .map(|m| ("mod", m))
        .chain(info.deps.iter().map(|m| ("dep", m)));
    for (kind, m) in modules {
        let line = format!("{kind} {} {}", m.path, m.version);
        let found = match m.replaced_by.as_deref() {
            Some(r) if !replaced_by_directory(r) => EmbeddedComponent::go_module(
                &r.path,
                &r.version,
                evidence(format!("{line} => {} {}", r.path, r.version)),
            ),
            Some(r) => EmbeddedComponent::go_module(
                &m.path,
                &m.version,
                evidence(format!("{line} => {}", r.path)),
            )
            .map(|mut e| {
                e.confidence_percent = LOCAL_REPLACEMENT_CONFIDENCE;
                e
            }),
            None => EmbeddedComponent::go_module(&m.path, &m.version, evidence(line)),
        };
        out.extend(found);
    }
    out
}

/// Whether a replacement is a directory (`=> ./fork (devel)`), not a module: Go writes
/// directory replacements as file paths (`./`, `../`, `/`, or a Windows drive) without a version.
fn replaced_by_directory(r: &stella_binary::gobuild::GoModule) -> bool {
    let p = r.path.as_str();
    p.starts_with("./")
        || p.starts_with("../")
        || p.starts_with('/')
        || p.starts_with(".\\")
        || p.starts_with("..\\")
        || p.as_bytes().get(1) == Some(&b':')
        || r.version.is_empty()
        || r.version == "(devel)"
}

/// Confidence in a module's identity when a local directory replaced it.
const LOCAL_REPLACEMENT_CONFIDENCE: u8 = 50;

/// The section that holds the build information, when it has one of its own.
fn buildinfo_section(file: &object::File<'_>) -> Option<String> {
    use object::{Object as _, ObjectSection as _};
    file.sections()
        .filter_map(|s| s.name().ok().map(str::to_owned))
        .find(|n| n == ".go.buildinfo" || n == "__go_buildinfo")
}

/// The crates.io crates named by registry source paths, each with its first path and the
/// section holding it.
fn path_crates(file: &object::File<'_>, data: &[u8]) -> Vec<EmbeddedComponent> {
    stella_binary::crate_paths::crates_in(data)
        .into_iter()
        .filter_map(|c| {
            let place = match section_at(file, c.offset) {
                Some(name) => format!("in {name}"),
                None => format!("at file offset {}", c.offset),
            };
            EmbeddedComponent::crate_from_path(
                &c.name,
                &c.version,
                format!("crate registry path {place}: {}", c.example),
            )
        })
        .collect()
}

/// C library releases named by their version banners.
fn banner_libraries(file: &object::File<'_>, data: &[u8]) -> Vec<EmbeddedComponent> {
    stella_binary::banners::banners_in(data)
        .into_iter()
        .filter_map(|b| {
            let place = match section_at(file, b.offset) {
                Some(name) => format!("in {name}"),
                None => format!("at file offset {}", b.offset),
            };
            EmbeddedComponent::c_library(
                b.library,
                &b.version,
                format!("version banner {place}: {:?}", b.text),
            )
        })
        .collect()
}

/// The name of the section whose file bytes hold `offset`.
fn section_at(file: &object::File<'_>, offset: usize) -> Option<String> {
    use object::{Object as _, ObjectSection as _};
    let offset = u64::try_from(offset).ok()?;
    file.sections()
        .filter(|s| s.kind() != object::SectionKind::UninitializedData)
        .find(|s| {
            s.file_range()
                .is_some_and(|(start, size)| offset >= start && offset - start < size)
        })
        .and_then(|s| s.name().ok().map(str::to_owned))
}

pub(crate) fn facts_of(a: &Analysed) -> BinaryFacts {
    let identity = &a.proof.identity;
    BinaryFacts {
        path: a.paths[0].clone(),
        other_paths: a.paths[1..].to_vec(),
        sha256: a.proof.file.sha256.hex().to_owned(),
        blake3: a.proof.file.blake3.clone(),
        sha1: Some(a.sha1.clone()),
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
        embedded: a.embedded.clone(),
    }
}
