//! `stella scan`: from a directory or an image to signed, logged, attached evidence.
//!
//! The steps, each done by its crate: pack or unpack the image (`stella-oci`), find and prove
//! the binaries (`stella-binary`), inventory the packages and write or enrich the SBOM
//! (`stella-sbom`), sign (`stella-attest`), log (`stella-tlog`), attach (`stella-oci`). This
//! module only orders them, runs the proofs in parallel and reports.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::anyhow;
use base64::Engine as _;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use stella_attest::predicates;
use stella_attest::{Bundle, Envelope, PrivateKey, Signer as _, Statement, Subject};
use stella_binary::inspect::{self, Linkage};
use stella_binary::symbols::{self, SymbolTable};
use stella_binary::{FuncProof, MappedFile};
use stella_core::media::{self, predicate};
use stella_core::{Digest, jcs};
use stella_oci::image::{self, Exclusions, Image, PackOptions, Platform, UnpackLimits};
use stella_oci::reference::Target;
use stella_oci::store::{self, Layer, Stored};
use stella_oci::{ArtifactStore, LayoutStore, Reference};
use stella_sbom::generate::{BinaryFacts, FuncProofRef, GenerateOptions, Subject as SbomSubject};
use stella_sbom::rootfs::{self, InventoryLimits};
use stella_tlog::TlogEntry;

use crate::cli::ScanArgs;
use crate::evidence::{self, Record, RecordAttestation, RecordImage};
use crate::exit::{CliError, Outcome};
use crate::input::{Input, human_bytes};
use crate::oci::{oci_error, open_store, open_store_for_writing};
use crate::output::{print_json, write_atomically};

/// Smallest file looked at: no binary format fits in fewer bytes.
const MIN_BINARY_BYTES: u64 = 64;
/// Largest external SBOM read for `--sbom`.
const MAX_SBOM_BYTES: usize = 256 << 20;

/// A binary found in the tree: its paths in the image (hard links share one entry).
#[derive(Debug, Clone)]
struct Candidate {
    paths: Vec<String>,
    file: PathBuf,
    size: u64,
}

/// What the analysis of one binary gave.
struct Analysed {
    paths: Vec<String>,
    proof: FuncProof,
    proof_json: Vec<u8>,
    proof_digest: String,
    linkage: Linkage,
    auditable: Vec<stella_sbom::auditable::AuditablePackage>,
    symbols: Option<SymbolTable>,
}

/// A file that looked like a binary and could not be proven.
#[derive(Debug, Clone, Serialize)]
struct Unproven {
    path: String,
    reason: String,
}

/// The summary `stella scan` prints.
#[derive(Debug, Serialize)]
struct Summary {
    image: String,
    digest: String,
    packed: bool,
    /// What of a scanned directory was left out of the image and the SBOM: Stella's home and
    /// signing keys (paths relative to the directory).
    excluded: Vec<String>,
    files_walked: u64,
    bytes_walked: u64,
    binaries: usize,
    binary_paths: usize,
    functions: usize,
    unproven: Vec<Unproven>,
    packages: usize,
    components: usize,
    sbom: SbomSummary,
    signed: usize,
    key: String,
    key_created: bool,
    logged: usize,
    log: String,
    attached: Vec<Attached>,
    record: String,
}

#[derive(Debug, Serialize)]
struct SbomSummary {
    canonical_id: String,
    source: String,
    matched: usize,
    added: usize,
}

#[derive(Debug, Serialize, Clone)]
struct Attached {
    kind: String,
    digest: String,
    layers: usize,
}

/// `stella scan`.
pub fn run(args: ScanArgs, home: &Path) -> Result<Outcome, CliError> {
    if args.jobs == Some(0) {
        return Err(CliError::input(anyhow!("--jobs must be at least 1")));
    }
    let timestamp_arg = match &args.timestamp {
        Some(t) if stella_core::time::is_rfc3339_utc(t) => Some(t.clone()),
        Some(t) => {
            return Err(CliError::input(anyhow!(
                "--timestamp {t:?} is not an RFC 3339 UTC time such as 2026-01-01T00:00:00Z"
            )));
        }
        None => None,
    };
    let external_sbom = match &args.sbom {
        Some(path) => Some((Input::new(path.clone()).read(MAX_SBOM_BYTES)?, path.clone())),
        None => None,
    };
    // The key first: a wrong password should stop the scan before the work, not after.
    let (key, key_created) = crate::attest::scan_key(args.key.as_deref(), home)?;
    let key_name = match &args.key {
        Some(p) => p.display().to_string(),
        None => crate::attest::default_key_paths(home)
            .0
            .display()
            .to_string(),
    };

    // The log next: a damaged one stops the scan before the work, naming the damaged file.
    let embedded_log = match args.log_url {
        Some(_) => None,
        None => Some(crate::log::open(home)?),
    };
    let prepared = prepare(&args, home)?;
    let root = prepared.root();
    tracing::info!(root = %root.display(), image = %prepared.image_ref, "scanning");

    let (candidates, walked) = find_binaries(root, args.max_binary_size as u64, &prepared.exclude)?;
    tracing::info!(
        files = walked.files,
        binaries = candidates.len(),
        "walked the tree"
    );
    let (analysed, mut unproven) = analyse(candidates, args.jobs, args.json)?;
    tracing::info!(
        binaries = analysed.len(),
        unproven = unproven.len(),
        "proven"
    );
    unproven.extend(walked.unreadable.iter().cloned());

    let inventory = rootfs::read_inventory(root, &InventoryLimits::default())
        .map_err(|e| CliError::input(anyhow!(e)).context(root.display().to_string()))?;
    for w in &inventory.warnings {
        tracing::warn!("{w}");
    }
    let timestamp = match timestamp_arg {
        Some(t) => t,
        None => default_timestamp(&prepared.image)?,
    };
    let facts: Vec<BinaryFacts> = analysed.iter().map(facts_of).collect();
    let subject = SbomSubject {
        name: prepared.name.clone(),
        version: prepared.tag.clone(),
        image_digest: Some(prepared.image.root.digest.clone()),
        image_ref: Some(prepared.image_ref.clone()),
    };
    let options = GenerateOptions {
        timestamp: Some(timestamp.clone()),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let (sbom_value, sbom_summary_source, matched, added) = match &external_sbom {
        Some((bytes, path)) => {
            let (value, report) =
                stella_sbom::enrich::enrich(bytes, &inventory, &facts, &subject, &options)
                    .map_err(|e| CliError::input(anyhow!(e)).context(path.display().to_string()))?;
            (
                value,
                path.display().to_string(),
                report.matched.len(),
                report.added.len(),
            )
        }
        None => {
            let value = stella_sbom::generate::generate(&inventory, &facts, &subject, &options)
                .map_err(|e| CliError::input(anyhow!(e)))?;
            (value, "generated".to_owned(), 0, facts.len())
        }
    };
    let sbom_bytes = jcs::to_canonical(&sbom_value).map_err(|e| CliError::input(anyhow!(e)))?;
    tracing::info!(bytes = sbom_bytes.len(), "SBOM written");
    let components = stella_sbom::SbomDocument::read(&sbom_bytes, Default::default())
        .and_then(|d| d.to_model())
        .map(|bom| bom.all_components().len())
        .unwrap_or(0);

    // Statements: the SBOM (about its canonical_id and the image), then one per FuncProof.
    let producer = format!("stella/{}", env!("CARGO_PKG_VERSION"));
    let (sbom_statement, canonical_id) =
        predicates::sbom_statement(&sbom_bytes, &prepared.name, &producer, &timestamp)
            .map_err(|e| CliError::input(anyhow!(e)))?;
    let image_digest = Digest::from_str(&prepared.image.root.digest)
        .map_err(|e| CliError::input(anyhow!("image digest: {e}")))?;
    let sbom_statement = Statement::new(
        vec![
            Subject::new(prepared.name.clone(), &canonical_id),
            Subject::new(prepared.image_ref_without_target(), &image_digest),
        ],
        &sbom_statement.predicate_type,
        sbom_statement.predicate,
    )
    .map_err(CliError::input)?;
    // Built and signed in parallel: each FuncProof is parsed and canonicalised into its payload.
    let proof_statements = analysed
        .par_iter()
        .map(|a| {
            let digest = Digest::from_str(&a.proof.file.sha256)
                .map_err(|e| CliError::input(anyhow!("{}: {e}", a.paths[0])))?;
            let predicate: Value = serde_json::from_slice(&a.proof_json)
                .map_err(|e| CliError::input(anyhow!("{}: {e}", a.paths[0])))?;
            Statement::new(
                vec![Subject::new(a.paths[0].clone(), &digest)],
                predicate::STELLA_FUNCPROOF,
                predicate,
            )
            .map_err(|e| CliError::input(anyhow!(e)).context(a.paths[0].clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut statements = vec![sbom_statement];
    statements.extend(proof_statements);
    let envelopes = statements
        .par_iter()
        .map(|s| Envelope::sign_statement(s, &[&key as &dyn stella_attest::Signer]))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::input)?;
    tracing::info!(statements = envelopes.len(), "signed");
    let (entries, log_name) = log_all(
        &envelopes,
        &key,
        embedded_log.as_ref(),
        home,
        args.log_url.as_deref(),
    )?;
    tracing::info!(entries = entries.len(), "logged");
    let bundles = envelopes
        .par_iter()
        .zip(&entries)
        .map(|(envelope, entry)| {
            let mut bundle = Bundle::new(envelope.clone(), key.key_id());
            bundle.tlog_entries = vec![entry.to_json()];
            bundle.to_canonical_json().map_err(CliError::input)
        })
        .collect::<Result<Vec<_>, _>>()?;

    // Attach: SBOM, FuncProofs, each with its bundles, the symbol bundle, then the record.
    let store = prepared.evidence_store.as_ref();
    let subject_manifest = &prepared.image.root;
    let mut attached = Vec::new();
    let kind = |k: &str| BTreeMap::from([(evidence::KIND.to_owned(), k.to_owned())]);
    let mut sbom_annotations = kind("sbom");
    sbom_annotations.insert(evidence::CANONICAL_ID.to_owned(), canonical_id.to_string());
    sbom_annotations.insert(evidence::CREATED.to_owned(), timestamp.clone());
    let sbom_artifact = attach_with_bundles(
        store,
        subject_manifest,
        media::CYCLONEDX_JSON,
        vec![Layer {
            name: evidence::SBOM_TITLE.to_owned(),
            media_type: media::CYCLONEDX_JSON.to_owned(),
            bytes: sbom_bytes.clone(),
        }],
        vec![bundles[0].clone()],
        sbom_annotations,
        &mut attached,
    )?;
    for (chunk_index, chunk) in analysed
        .chunks(evidence::FUNCPROOFS_PER_ARTIFACT)
        .enumerate()
    {
        let first = 1 + chunk_index * evidence::FUNCPROOFS_PER_ARTIFACT;
        let layers = chunk
            .iter()
            .map(|a| Layer {
                name: a.paths[0].clone(),
                media_type: media::FUNCPROOF_JSON.to_owned(),
                bytes: a.proof_json.clone(),
            })
            .collect();
        let chunk_bundles = bundles[first..first + chunk.len()].to_vec();
        attach_with_bundles(
            store,
            subject_manifest,
            media::FUNCPROOF_JSON,
            layers,
            chunk_bundles,
            kind("funcproof"),
            &mut attached,
        )?;
    }
    let tables: Vec<SymbolTable> = analysed.iter().filter_map(|a| a.symbols.clone()).collect();
    let symbol_bytes = symbols::bundle::write(&tables).map_err(|e| CliError::input(anyhow!(e)))?;
    let symbols_digest = store::attach(
        store,
        subject_manifest,
        media::SYMBOLS_TAR,
        &[Layer {
            name: evidence::SYMBOLS_TITLE.to_owned(),
            media_type: media::SYMBOLS_TAR.to_owned(),
            bytes: symbol_bytes,
        }],
        &kind("symbols"),
    )
    .map_err(oci_error)?;
    attached.push(Attached {
        kind: "symbols".to_owned(),
        digest: symbols_digest,
        layers: 1,
    });

    tracing::info!(artifacts = attached.len() + 1, "attached");
    let record = Record {
        schema_version: 1,
        canonical_id: canonical_id.to_string(),
        format: "CycloneDX/1.7".to_owned(),
        sbom_ref: format!("{}@{}", prepared.image_ref_without_target(), sbom_artifact),
        attestations: vec![record_attestation(&envelopes[0], &entries[0])?],
        referrers: attached
            .iter()
            .map(|a| a.digest.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        vex_refs: Vec::new(),
        image: RecordImage {
            reference: prepared.image_ref.clone(),
            digest: prepared.image.root.digest.clone(),
        },
        created: stella_core::time::rfc3339_utc(crate::attest::source_date_epoch()?),
    };
    let record_value = serde_json::to_value(&record).map_err(|e| CliError::input(anyhow!(e)))?;
    let record_bytes = jcs::to_canonical(&record_value).map_err(|e| CliError::input(anyhow!(e)))?;
    // The record is signed and logged like every other statement: its signature binds, by
    // digest, everything the scan attached (the symbol bundle included).
    predicates::validate(predicate::STELLA_RECORD, &record_value).map_err(CliError::input)?;
    let record_statement = Statement::new(
        vec![
            Subject::new(prepared.image_ref_without_target(), &image_digest),
            Subject::new(prepared.name.clone(), &canonical_id),
        ],
        predicate::STELLA_RECORD,
        record_value,
    )
    .map_err(CliError::input)?;
    let record_envelope =
        Envelope::sign_statement(&record_statement, &[&key as &dyn stella_attest::Signer])
            .map_err(CliError::input)?;
    let (record_entries, _) = log_all(
        std::slice::from_ref(&record_envelope),
        &key,
        embedded_log.as_ref(),
        home,
        args.log_url.as_deref(),
    )?;
    let record_bundle = {
        let mut bundle = Bundle::new(record_envelope.clone(), key.key_id());
        bundle.tlog_entries = record_entries.iter().map(TlogEntry::to_json).collect();
        bundle.to_canonical_json().map_err(CliError::input)?
    };
    attach_with_bundles(
        store,
        subject_manifest,
        evidence::RECORD_JSON,
        vec![Layer {
            name: evidence::RECORD_TITLE.to_owned(),
            media_type: evidence::RECORD_JSON.to_owned(),
            bytes: record_bytes.clone(),
        }],
        vec![record_bundle],
        kind("record"),
        &mut attached,
    )?;
    let records_dir = home.join("records");
    std::fs::create_dir_all(&records_dir)
        .map_err(|e| CliError::environment(anyhow!("{}: {e}", records_dir.display())))?;
    let record_path = records_dir.join(format!(
        "{}.json",
        prepared.image.root.digest.trim_start_matches("sha256:")
    ));
    write_atomically(&record_path, &record_bytes)?;
    if let Some(path) = &args.record {
        write_atomically(path, &record_bytes)?;
    }
    if let Some(path) = &args.sbom_out {
        write_atomically(path, &sbom_bytes)?;
    }

    let summary = Summary {
        image: prepared.image_ref.clone(),
        digest: prepared.image.root.digest.clone(),
        packed: prepared.packed,
        excluded: prepared.excluded.clone(),
        files_walked: walked.files,
        bytes_walked: walked.bytes,
        binaries: analysed.len(),
        binary_paths: analysed.iter().map(|a| a.paths.len()).sum(),
        functions: analysed.iter().map(|a| a.proof.functions.len()).sum(),
        unproven,
        packages: inventory.packages.len(),
        components,
        sbom: SbomSummary {
            canonical_id: canonical_id.to_string(),
            source: sbom_summary_source,
            matched,
            added,
        },
        signed: envelopes.len() + 1,
        key: key_name,
        key_created,
        logged: entries.len() + record_entries.len(),
        log: log_name,
        attached,
        record: record_path.display().to_string(),
    };
    if args.json {
        print_json(&summary)?;
    } else {
        print_summary(&summary)?;
    }
    Ok(Outcome::Success)
}

/// The image being scanned and the directory holding its files.
struct Prepared {
    image: Image,
    /// The image's reference as printed (tag or digest included).
    image_ref: String,
    /// Its name (repository or directory name) and tag.
    name: String,
    tag: Option<String>,
    /// Where evidence is attached.
    evidence_store: Box<dyn ArtifactStore>,
    /// The scanned tree: the directory itself, or the unpacked layers.
    root: PathBuf,
    _unpacked: Option<tempfile::TempDir>,
    packed: bool,
    /// Left out of the walk, as they were left out of the packed image.
    exclude: Exclusions,
    /// What was left out, relative to the scanned directory.
    excluded: Vec<String>,
}

impl Prepared {
    fn root(&self) -> &Path {
        &self.root
    }

    /// The reference without tag or digest (`oci-layout:PATH` or `HOST/REPO`).
    fn image_ref_without_target(&self) -> String {
        strip_target(&self.image_ref)
    }
}

fn strip_target(reference: &str) -> String {
    match Reference::parse(reference) {
        Ok(Reference::Layout { path, .. }) => format!("oci-layout:{}", path.display()),
        Ok(Reference::Registry {
            host, repository, ..
        }) => format!("{host}/{repository}"),
        Err(_) => reference.to_owned(),
    }
}

/// A valid tag from a directory name.
fn tag_for(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut tag: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if !tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        tag.insert(0, '_');
        tag.truncate(128);
    }
    if tag == "_" || tag.is_empty() {
        "rootfs".to_owned()
    } else {
        tag
    }
}

/// Packs a directory or resolves an image; unpacks the image's layers when needed; picks the
/// store the evidence goes to.
fn prepare(args: &ScanArgs, home: &Path) -> Result<Prepared, CliError> {
    let target_path = Path::new(&args.target);
    let is_reference = args.target.starts_with("oci-layout:")
        || (!target_path.exists() && Reference::parse(&args.target).is_ok());
    if !is_reference {
        let meta = std::fs::metadata(target_path).map_err(|e| {
            CliError::input(anyhow!(
                "{}: {e}; TARGET is a directory, oci-layout:PATH[:TAG] or HOST/REPO[:TAG]",
                args.target
            ))
        })?;
        if !meta.is_dir() {
            return Err(CliError::input(anyhow!(
                "{} is a file; stella scan takes a directory, a root filesystem or an image \
                 (stella funcproof proves a single binary)",
                args.target
            )));
        }
        let image_ref = match &args.image {
            Some(r) => r.clone(),
            None => format!(
                "oci-layout:{}:{}",
                home.join("oci").display(),
                tag_for(target_path)
            ),
        };
        let reference = Reference::parse(&image_ref).map_err(oci_error)?;
        let tag = match reference.target() {
            Target::Tag(t) => t.clone(),
            Target::None => "latest".to_owned(),
            Target::Digest(_) => {
                return Err(CliError::input(anyhow!(
                    "--image {image_ref}: a directory is packed under a tag, not a digest"
                )));
            }
        };
        if matches!(reference, Reference::Registry { .. }) && !args.push {
            return Err(CliError::input(anyhow!(
                "--image {image_ref} is a registry: pass --push to pack the directory there, or \
                 name an oci-layout:PATH:TAG"
            )));
        }
        let store = open_store_for_writing(&reference, args.insecure)?;
        let exclude = exclusions(target_path, home, args.key.as_deref())?;
        let sde = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(_) => Some(crate::attest::source_date_epoch()?),
            Err(_) => None,
        };
        progress(&format!("packing {} as {image_ref}", target_path.display()));
        let packed = image::pack_directory_excluding(
            store.as_ref(),
            target_path,
            &tag,
            &PackOptions {
                source_date_epoch: sde,
            },
            &exclude,
        )
        .map_err(oci_error)?;
        warn_skipped("not packed", &packed.skipped);
        if !packed.excluded.is_empty() {
            tracing::info!(
                "not packed: {} ({EXCLUDED_WHY})",
                packed.excluded.join(", ")
            );
        }
        let image = image::resolve(
            store.as_ref(),
            &Target::Digest(packed.manifest.digest.clone()),
            &Platform::host(),
        )
        .map_err(oci_error)?;
        let name = match &reference {
            Reference::Layout { .. } => tag.clone(),
            Reference::Registry { repository, .. } => repository.clone(),
        };
        return Ok(Prepared {
            image,
            image_ref: format!("{}:{tag}", strip_target(&image_ref)),
            name,
            tag: Some(tag),
            evidence_store: store,
            root: target_path.to_path_buf(),
            _unpacked: None,
            packed: true,
            exclude,
            excluded: packed.excluded,
        });
    }

    if args.image.is_some() {
        return Err(CliError::input(anyhow!(
            "--image names where a directory is packed; TARGET {} is already an image",
            args.target
        )));
    }
    let reference = Reference::parse(&args.target).map_err(oci_error)?;
    let source = open_store(&reference, args.insecure)?;
    let image = image::resolve(source.as_ref(), reference.target(), &Platform::host())
        .map_err(oci_error)?;
    let (name, tag) = match &reference {
        Reference::Layout { path, target } => (
            match target {
                Target::Tag(t) => t.clone(),
                _ => path
                    .file_name()
                    .map_or_else(|| "image".to_owned(), |n| n.to_string_lossy().into_owned()),
            },
            match target {
                Target::Tag(t) => Some(t.clone()),
                _ => None,
            },
        ),
        Reference::Registry {
            repository, target, ..
        } => (
            repository.clone(),
            match target {
                Target::Tag(t) => Some(t.clone()),
                _ => None,
            },
        ),
    };
    let (evidence_store, image_ref): (Box<dyn ArtifactStore>, String) = match &reference {
        Reference::Registry { .. } if !args.push => {
            // Evidence stays local: the image is copied into the embedded layout (so that
            // `stella verify` works air-gapped) and the evidence refers to it there.
            let layout_dir = home.join("oci");
            let local = LayoutStore::open(&layout_dir).map_err(oci_error)?;
            let local_tag = tag_for(Path::new(&name));
            eprintln!("copying {} into {}", args.target, layout_dir.display());
            store::copy_with(
                source.as_ref(),
                &local,
                &Target::Digest(image.root.digest.clone()),
                Some(&local_tag),
                false,
            )
            .map_err(oci_error)?;
            (
                Box::new(local),
                format!("oci-layout:{}@{}", layout_dir.display(), image.root.digest),
            )
        }
        _ => {
            let again = open_store_for_writing(&reference, args.insecure)?;
            (
                again,
                format!("{}@{}", strip_target(&args.target), image.root.digest),
            )
        }
    };
    let tmp_parent = home.join("tmp");
    std::fs::create_dir_all(&tmp_parent)
        .map_err(|e| CliError::environment(anyhow!("{}: {e}", tmp_parent.display())))?;
    let unpacked = tempfile::Builder::new()
        .prefix("scan-")
        .tempdir_in(&tmp_parent)
        .map_err(|e| CliError::environment(anyhow!("{}: {e}", tmp_parent.display())))?;
    progress(&format!(
        "unpacking {} layer(s) of {}",
        image.layers.len(),
        image.root.digest
    ));
    // The layers come from where the evidence goes: the local copy when there is one.
    let report = image::unpack(
        evidence_store.as_ref(),
        &image,
        unpacked.path(),
        &UnpackLimits::default(),
    )
    .map_err(oci_error)?;
    warn_skipped("not unpacked", &report.skipped);
    Ok(Prepared {
        image,
        image_ref,
        name,
        tag,
        evidence_store,
        root: unpacked.path().to_path_buf(),
        _unpacked: Some(unpacked),
        packed: false,
        exclude: Exclusions::default(),
        excluded: Vec::new(),
    })
}

/// Why [`exclusions`] leaves things out, as the summary says it.
const EXCLUDED_WHY: &str = "Stella's home and signing keys are never packed";

/// What of the directory `dir` is never packed nor proven: `$STELLA_HOME` (the default signing
/// key, the log's key, the evidence) and the signing key given with `--key`, wherever they lie
/// in it and by whatever name (they are known by device and inode). A directory inside the
/// home is refused: everything in it is Stella's.
fn exclusions(dir: &Path, home: &Path, key: Option<&Path>) -> Result<Exclusions, CliError> {
    // The home exists from here on anyway (the log, the records); made now, it is known by its
    // inode before anything is packed.
    std::fs::create_dir_all(home)
        .map_err(|e| CliError::environment(anyhow!("{}: {e}", home.display())))?;
    let canonical = |p: &Path| {
        std::fs::canonicalize(p).map_err(|e| CliError::environment(anyhow!("{}: {e}", p.display())))
    };
    if canonical(dir)?.starts_with(canonical(home)?) {
        return Err(CliError::input(anyhow!(
            "{} is inside STELLA_HOME ({}), which holds signing keys and is never packed; scan \
             another directory, or set --home elsewhere",
            dir.display(),
            home.display()
        )));
    }
    let mut paths = vec![home];
    paths.extend(key);
    Exclusions::of(&paths).map_err(oci_error)
}

/// One warning for what packing or unpacking left out (device files, FIFOs, …), each at debug.
fn warn_skipped(what: &str, skipped: &[image::Skipped]) {
    if skipped.is_empty() {
        return;
    }
    for s in skipped {
        tracing::debug!("{what}: {}: {}", s.path, s.reason);
    }
    let names: Vec<&str> = skipped.iter().take(3).map(|s| s.path.as_str()).collect();
    tracing::warn!(
        "{what}: {} entr{} ({}{}; -vv lists them): only regular files, directories and links are \
         kept",
        skipped.len(),
        if skipped.len() == 1 { "y" } else { "ies" },
        names.join(", "),
        if skipped.len() > 3 { ", …" } else { "" }
    );
}

/// A step of long work: on a terminal, a line on stderr; otherwise a log event (`-v`).
fn progress(message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{message}");
    } else {
        tracing::info!("{message}");
    }
}

/// What the walk saw.
#[derive(Debug, Default)]
struct Walked {
    /// Regular files (every name of a hard-linked file).
    files: u64,
    /// Their bytes, each file once.
    bytes: u64,
    unreadable: Vec<Unproven>,
}

/// The image path of `file` under `root` (`/usr/bin/ls`).
fn image_path(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    format!("/{}", rel.to_string_lossy())
}

/// Every regular file whose first bytes are an ELF, PE or Mach-O header, without following
/// symbolic links or entering what `exclude` names; hard links are one candidate with several
/// paths.
fn find_binaries(
    root: &Path,
    max_size: u64,
    exclude: &Exclusions,
) -> Result<(Vec<Candidate>, Walked), CliError> {
    use std::os::unix::fs::MetadataExt as _;
    let mut walked = Walked::default();
    let mut by_inode: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut linked: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut out: Vec<Candidate> = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir() && e.metadata().is_ok_and(|m| exclude.contains(&m)))
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| image_path(root, p));
                walked.unreadable.push(Unproven {
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                walked.unreadable.push(Unproven {
                    path: image_path(root, entry.path()),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if exclude.contains(&meta) {
            continue;
        }
        walked.files += 1;
        if meta.nlink() > 1 && !linked.insert((meta.dev(), meta.ino())) {
            // Another name of a file already counted.
            if let Some(&i) = by_inode.get(&(meta.dev(), meta.ino())) {
                out[i].paths.push(image_path(root, entry.path()));
            }
            continue;
        }
        walked.bytes += meta.len();
        if meta.len() < MIN_BINARY_BYTES {
            continue;
        }
        let path = image_path(root, entry.path());
        let mut head = [0u8; 512];
        let n = match std::fs::File::open(entry.path())
            .and_then(|mut f| read_head(&mut f, &mut head))
        {
            Ok(n) => n,
            Err(e) => {
                walked.unreadable.push(Unproven {
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if inspect::sniff(&head[..n]).is_none() {
            continue;
        }
        if meta.len() > max_size {
            walked.unreadable.push(Unproven {
                path,
                reason: format!("{} is above --max-binary-size", human_bytes(meta.len())),
            });
            continue;
        }
        by_inode.insert((meta.dev(), meta.ino()), out.len());
        out.push(Candidate {
            paths: vec![path],
            file: entry.path().to_path_buf(),
            size: meta.len(),
        });
    }
    Ok((out, walked))
}

fn read_head(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Proves every candidate in parallel (a progress bar on a terminal); copies with the same
/// content become one binary with several paths.
fn analyse(
    candidates: Vec<Candidate>,
    jobs: Option<usize>,
    quiet: bool,
) -> Result<(Vec<Analysed>, Vec<Unproven>), CliError> {
    let total_bytes: u64 = candidates.iter().map(|c| c.size).sum();
    let bar = if std::io::stderr().is_terminal() && !quiet {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} proving binaries {binary_bytes}/{binary_total_bytes} [{elapsed_precise}, {eta} left] {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_length(total_bytes);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| CliError::environment(anyhow!("worker threads: {e}")))?;
    let results: Vec<Result<Analysed, Unproven>> = pool.install(|| {
        candidates
            .into_par_iter()
            .map(|c| {
                let result = analyse_one(&c);
                bar.inc(c.size);
                bar.set_message(c.paths[0].clone());
                result
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut by_sha: BTreeMap<String, Analysed> = BTreeMap::new();
    let mut unproven = Vec::new();
    for r in results {
        match r {
            Ok(a) => match by_sha.get_mut(&a.proof.file.sha256) {
                Some(existing) => existing.paths.extend(a.paths),
                None => {
                    by_sha.insert(a.proof.file.sha256.clone(), a);
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
    let proof_digest = Digest::sha256(&proof_json).to_string();
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

fn facts_of(a: &Analysed) -> BinaryFacts {
    let identity = &a.proof.identity;
    BinaryFacts {
        path: a.paths[0].clone(),
        other_paths: a.paths[1..].to_vec(),
        sha256: a.proof.file.sha256.trim_start_matches("sha256:").to_owned(),
        blake3: a.proof.file.blake3.clone(),
        size: a.proof.file.size,
        format: identity.format.clone(),
        arch: identity.arch.clone(),
        kind: a.linkage.kind.to_owned(),
        build_id: a.proof.build_id.clone(),
        build_id_source: serde_json::to_value(identity.build_id_source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "fallback".to_owned()),
        soname: a.linkage.soname.clone(),
        needed: a.linkage.needed.clone(),
        funcproof: Some(FuncProofRef {
            digest: a.proof_digest.clone(),
            functions: a.proof.functions.len(),
        }),
        auditable: a.auditable.clone(),
    }
}

/// The SBOM's time: SOURCE_DATE_EPOCH, else the image's `created` (to the second, in UTC), else
/// now. A `created` that is not an RFC 3339 time is the image author's problem, not a reason to
/// refuse the scan: it is named in a warning and the fallback applies.
fn default_timestamp(image: &Image) -> Result<String, CliError> {
    if std::env::var("SOURCE_DATE_EPOCH").is_ok() {
        return Ok(stella_core::time::rfc3339_utc(
            crate::attest::source_date_epoch()?,
        ));
    }
    if let Some(created) = image.config["created"].as_str() {
        match stella_core::time::parse_rfc3339(created) {
            Ok(seconds) => return Ok(stella_core::time::rfc3339_utc(seconds)),
            Err(e) => tracing::warn!("image config: created: {e}; the SBOM takes the current time"),
        }
    }
    Ok(stella_core::time::rfc3339_utc(
        crate::attest::source_date_epoch()?,
    ))
}

/// Appends every signature to the log (the embedded one in batches, one durable write each; or
/// the log at `log_url`, several requests at a time). Entries in the order of `envelopes`.
fn log_all(
    envelopes: &[Envelope],
    key: &PrivateKey,
    log: Option<&stella_tlog::Log>,
    home: &Path,
    log_url: Option<&str>,
) -> Result<(Vec<TlogEntry>, String), CliError> {
    // A damaged log is named as the log's own commands name it (exit 2), the network as exit 3.
    let tlog_error =
        |e: stella_tlog::TlogError| crate::log::tlog_error(e).context("transparency log");
    if let Some(url) = log_url {
        let requests = envelopes
            .iter()
            .map(|e| stella_tlog::rekor::request_for(e, key.public_key()).map_err(tlog_error))
            .collect::<Result<Vec<_>, _>>()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(8)
            .build()
            .map_err(|e| CliError::environment(anyhow!("worker threads: {e}")))?;
        let entries = pool.install(|| {
            requests
                .par_iter()
                .zip(envelopes)
                .map(|(request, envelope)| crate::log::post_entry(url, request, envelope))
                .collect::<Result<Vec<_>, _>>()
        })?;
        return Ok((entries, url.to_owned()));
    }
    let log = match log {
        Some(log) => log,
        None => &crate::log::open(home)?,
    };
    let bodies = envelopes
        .iter()
        .map(|e| stella_tlog::entry::hashedrekord_body(e, 0, key.public_key()).map_err(tlog_error))
        .collect::<Result<Vec<_>, _>>()?;
    let mut entries = Vec::with_capacity(bodies.len());
    for chunk in bodies.chunks(4096) {
        let appended = log.append(chunk).map_err(tlog_error)?;
        for (i, body) in chunk.iter().enumerate() {
            entries.push(
                log.tlog_entry(
                    appended.first_index + i as u64,
                    body.clone(),
                    &appended.checkpoint,
                    &appended.note,
                )
                .map_err(tlog_error)?,
            );
        }
    }
    Ok((entries, log.dir().display().to_string()))
}

/// Attaches an artifact with `layers` to `subject`, then the bundles (one per layer, same
/// title) as an artifact whose subject is that artifact. The artifact's digest.
fn attach_with_bundles(
    store: &dyn ArtifactStore,
    subject: &Stored,
    artifact_type: &str,
    layers: Vec<Layer>,
    bundles: Vec<Vec<u8>>,
    annotations: BTreeMap<String, String>,
    attached: &mut Vec<Attached>,
) -> Result<String, CliError> {
    let kind = annotations.get(evidence::KIND).cloned().unwrap_or_default();
    let bundle_layers: Vec<Layer> = layers
        .iter()
        .zip(bundles)
        .map(|(l, bytes)| Layer {
            name: l.name.clone(),
            media_type: media::SIGSTORE_BUNDLE_V03.to_owned(),
            bytes,
        })
        .collect();
    let count = layers.len();
    let digest =
        store::attach(store, subject, artifact_type, &layers, &annotations).map_err(oci_error)?;
    let artifact = store
        .get_manifest(&Target::Digest(digest.clone()))
        .map_err(oci_error)?;
    let bundle_annotations = BTreeMap::from([(evidence::KIND.to_owned(), "signatures".to_owned())]);
    let bundle_digest = store::attach(
        store,
        &artifact,
        media::SIGSTORE_BUNDLE_V03,
        &bundle_layers,
        &bundle_annotations,
    )
    .map_err(oci_error)?;
    attached.push(Attached {
        kind,
        digest: digest.clone(),
        layers: count,
    });
    attached.push(Attached {
        kind: "signatures".to_owned(),
        digest: bundle_digest,
        layers: count,
    });
    Ok(digest)
}

/// The record's view of one attestation.
fn record_attestation(
    envelope: &Envelope,
    entry: &TlogEntry,
) -> Result<RecordAttestation, CliError> {
    let envelope_json =
        jcs::to_canonical(&envelope.to_json_value()).map_err(|e| CliError::input(anyhow!(e)))?;
    let statement: Value = serde_json::from_slice(&envelope.payload).unwrap_or(Value::Null);
    let leaf = stella_tlog::merkle::leaf_hash(&entry.body);
    let origin = entry
        .checkpoint
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(RecordAttestation {
        predicate_type: statement["predicateType"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        dsse_b64: base64::engine::general_purpose::STANDARD.encode(envelope_json),
        // The entry bundle as it stands in the tree of the bundle's checkpoint (a partial
        // tile `.p/W` while the 256 entries are not all there).
        rekor_tile: {
            let width = stella_tlog::tiles::TILE_WIDTH;
            let tile = entry.log_index / width;
            stella_tlog::tiles::entries_path(
                tile,
                entry.tree_size.saturating_sub(tile * width).min(width),
            )
        },
        entry_id: leaf.iter().map(|b| format!("{b:02x}")).collect(),
        log_index: entry.log_index,
        log_origin: origin,
    })
}

fn print_summary(s: &Summary) -> Result<(), CliError> {
    let mut text = String::new();
    text.push_str(&format!("image       {}\n", s.image));
    text.push_str(&format!(
        "scanned     {} files, {}{}\n",
        s.files_walked,
        human_bytes(s.bytes_walked),
        if s.packed {
            " (packed as the image's one layer)"
        } else {
            ""
        }
    ));
    if !s.excluded.is_empty() {
        text.push_str(&format!(
            "excluded    {} ({EXCLUDED_WHY})\n",
            s.excluded.join(", ")
        ));
    }
    text.push_str(&format!(
        "binaries    {} ({} paths), {} functions proven\n",
        s.binaries, s.binary_paths, s.functions
    ));
    if !s.unproven.is_empty() {
        text.push_str(&format!("not proven  {}\n", s.unproven.len()));
        for u in s.unproven.iter().take(10) {
            text.push_str(&format!("            {}: {}\n", u.path, u.reason));
        }
        if s.unproven.len() > 10 {
            text.push_str(&format!(
                "            … and {} more (--json lists all)\n",
                s.unproven.len() - 10
            ));
        }
    }
    text.push_str(&format!(
        "sbom        {} ({}), {} components, {} packages\n",
        s.sbom.canonical_id, s.sbom.source, s.components, s.packages
    ));
    if s.sbom.source != "generated" {
        text.push_str(&format!(
            "            {} binaries matched to its components, {} added\n",
            s.sbom.matched, s.sbom.added
        ));
    }
    text.push_str(&format!(
        "signed      {} statements with {}{}\n",
        s.signed,
        s.key,
        if s.key_created { " (created now)" } else { "" }
    ));
    text.push_str(&format!("logged      {} entries in {}\n", s.logged, s.log));
    for a in &s.attached {
        text.push_str(&format!(
            "attached    {:<10} {} ({} layer{})\n",
            a.kind,
            a.digest,
            a.layers,
            if a.layers == 1 { "" } else { "s" }
        ));
    }
    text.push_str(&format!("record      {}\n", s.record));
    text.push_str(&format!("verify with: stella verify --image {}\n", s.image));
    crate::output::write_stdout(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_from_directory_names() {
        assert_eq!(tag_for(Path::new("/")), "rootfs");
        let dir = tempfile::tempdir().expect("tmp");
        let odd = dir.path().join("my dir+x");
        std::fs::create_dir(&odd).expect("mkdir");
        assert_eq!(tag_for(&odd), "my-dir-x");
        let dotted = dir.path().join(".hidden");
        std::fs::create_dir(&dotted).expect("mkdir");
        assert_eq!(tag_for(&dotted), "_.hidden");
    }

    #[test]
    fn references_lose_their_target() {
        assert_eq!(strip_target("oci-layout:/a/b:tag"), "oci-layout:/a/b");
        assert_eq!(
            strip_target(
                "localhost:5000/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"
            ),
            "localhost:5000/app"
        );
    }
}
