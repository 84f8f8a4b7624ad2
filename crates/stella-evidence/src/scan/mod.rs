//! The scan pipeline: from a prepared [`Target`] to signed, logged, attached evidence and a
//! typed [`ScanReport`].
//!
//! The steps, each done by its crate: find and prove the binaries (`stella-binary`), inventory
//! the packages and write or enrich the SBOM (`stella-sbom`), sign (`stella-attest`), log
//! (`stella-tlog`), attach (`stella-oci`), then sign, log and attach the artifact canonical
//! record that binds them all ([`crate::layout`]). Nothing here prints or asks: progress goes to
//! a [`Progress`], the outcome is the report.

mod prove;
pub mod target;
mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use base64::Engine as _;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use stella_attest::predicates;
use stella_attest::{Envelope, Statement, Subject};
use stella_binary::symbols::{self, SymbolTable};
use stella_core::media::{self, predicate};
use stella_core::{Digest, jcs};
use stella_oci::ArtifactStore;
use stella_oci::store::{self, Layer, Stored};
use stella_sbom::generate::{BinaryFacts, GenerateOptions, Subject as SbomSubject};
use stella_sbom::rootfs::{self, InventoryLimits};
use stella_tlog::LogBackend;
use stella_tlog::TlogEntry;
use stella_tlog::sign::{self as signing, Signed};

pub use target::{EvidenceStore, PackRequest, Target, open_image, pack_directory};
pub use walk::Unproven;

use crate::EvidenceError;
use crate::layout::{self, Kind, Record, RecordAttestation, RecordImage};
use crate::progress::{self, Event, Phase, Progress};

/// An SBOM from another generator to enrich instead of generating one.
#[derive(Debug, Clone, Copy)]
pub struct ExternalSbom<'a> {
    /// Its bytes.
    pub bytes: &'a [u8],
    /// How to name it (its path).
    pub name: &'a str,
    /// The CycloneDX version to write it in; `None`: its own.
    pub spec_version: Option<stella_sbom::SpecVersion>,
}

/// How a scan runs.
pub struct ScanOptions<'a> {
    /// The signing key.
    pub key: &'a (dyn stella_attest::Signer + Sync),
    /// Where signatures are logged.
    pub log: &'a dyn LogBackend,
    /// Worker threads for proving (`None`: one per core).
    pub jobs: Option<usize>,
    /// Larger files are listed as unproven.
    pub max_binary_size: u64,
    /// The SBOM's timestamp; `None`: `source_date_epoch`, else the image's `created`, else now.
    pub timestamp: Option<String>,
    /// `SOURCE_DATE_EPOCH`, when set: the SBOM's and the record's time.
    pub source_date_epoch: Option<i64>,
    /// An SBOM to enrich instead of generating one (CycloneDX; SPDX is converted to CycloneDX
    /// 1.7 first).
    pub external_sbom: Option<ExternalSbom<'a>>,
    /// Where the record is also kept as `<image digest hex>.json` (`$STELLA_HOME/records`).
    pub records_dir: Option<PathBuf>,
}

/// One artifact the scan attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attached {
    /// What it holds.
    pub kind: Kind,
    /// Its manifest digest.
    pub digest: Digest,
    /// How many layers.
    pub layers: usize,
}

/// The SBOM a scan wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomReport {
    /// Its canonical_id.
    pub canonical_id: Digest,
    /// `generated`, or the name of the SBOM enriched.
    pub source: String,
    /// Binaries matched to components of an enriched SBOM.
    pub matched: usize,
    /// Binaries added to it.
    pub added: usize,
    /// Components in all.
    pub components: usize,
    /// Where it is: the image reference with the SBOM artifact's digest.
    pub reference: String,
    /// Its canonical bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// What a scan did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    /// The image's reference.
    pub image: String,
    /// Its digest.
    pub digest: Digest,
    /// Whether a directory was packed into it.
    pub packed: bool,
    /// What of a scanned directory was left out (Stella's home, signing keys).
    pub excluded: Vec<String>,
    /// Regular files walked (every name of a hard-linked file).
    pub files_walked: u64,
    /// Their bytes, each file once.
    pub bytes_walked: u64,
    /// Binaries proven (distinct contents).
    pub binaries: usize,
    /// Their paths.
    pub binary_paths: usize,
    /// Functions proven.
    pub functions: usize,
    /// Files that looked like binaries and were not proven, with why.
    pub unproven: Vec<Unproven>,
    /// Packages found in package databases.
    pub packages: usize,
    /// The SBOM.
    pub sbom: SbomReport,
    /// Statements signed (the record included).
    pub signed: usize,
    /// Log entries written.
    pub logged: usize,
    /// The log's name.
    pub log: String,
    /// Artifacts attached, in order.
    pub attached: Vec<Attached>,
    /// The record's artifact digest.
    pub record: Digest,
    /// The record's canonical bytes.
    #[serde(skip)]
    pub record_bytes: Vec<u8>,
    /// Where the record was also kept, when `records_dir` was given.
    pub record_file: Option<PathBuf>,
}

/// Proves, signs, logs and attaches the evidence of `target`.
///
/// # Errors
/// The tree, the SBOM, the signing key, the log or the store failing. Binaries that cannot be
/// proven are not errors: the report lists them.
pub fn run(
    target: &Target,
    options: &ScanOptions<'_>,
    progress: &dyn Progress,
) -> Result<ScanReport, EvidenceError> {
    let root = target.root();
    let (candidates, walked) = progress::phase(
        progress,
        Phase::Walk,
        None,
        root.display().to_string(),
        || walk::find_binaries(root, options.max_binary_size, &target.exclude),
    );
    tracing::info!(
        files = walked.files,
        binaries = candidates.len(),
        "walked the tree"
    );
    let (analysed, mut unproven) = prove::analyse(candidates, options.jobs, progress)?;
    unproven.extend(walked.unreadable.iter().cloned());
    unproven.sort_by(|a, b| a.path.cmp(&b.path));

    let sbom = progress::phase(
        progress,
        Phase::Sbom,
        None,
        root.display().to_string(),
        || write_sbom(target, options, &analysed),
    )?;
    let SbomWritten {
        bytes: sbom_bytes,
        canonical_id,
        timestamp,
        source,
        matched,
        added,
        components,
        packages,
    } = sbom;

    // Statements: the SBOM (about its canonical_id and the image), then one per FuncProof.
    let producer = format!("stella/{}", env!("CARGO_PKG_VERSION"));
    let (sbom_statement, sbom_id) =
        predicates::sbom_statement(&sbom_bytes, &target.name, &producer, &timestamp).map_err(
            |source| EvidenceError::Attest {
                context: "the SBOM statement".to_owned(),
                source: Box::new(source),
            },
        )?;
    debug_assert_eq!(sbom_id, canonical_id);
    let image_digest = target.image.root.digest.clone();
    let subject_name = target.subject_name();
    let sbom_statement = Statement::new(
        vec![
            Subject::new(target.name.clone(), &canonical_id),
            Subject::new(subject_name.clone(), &image_digest),
        ],
        &sbom_statement.predicate_type,
        sbom_statement.predicate,
    )
    .map_err(attest_error("the SBOM statement"))?;
    // Its predicate is the one `sbom_statement` checked against the schema, unchanged.
    // The same SBOM under the CycloneDX predicate type, where cosign (`verify-attestation
    // --type cyclonedx`) and Trivy look for an SBOM attestation: the predicate is the document.
    let cyclonedx_statement = Statement::new(
        vec![
            Subject::new(target.name.clone(), &canonical_id),
            Subject::new(subject_name.clone(), &image_digest),
        ],
        predicate::CYCLONEDX_BOM,
        sbom_statement.predicate["bom"].clone(),
    )
    .map_err(attest_error("the CycloneDX SBOM statement"))?;
    // Built and checked against the predicate schema in parallel; signed and logged below as
    // one batch.
    let proof_statements = analysed
        .par_iter()
        .map(|a| {
            let digest = a.proof.file.sha256.clone();
            let predicate: Value =
                serde_json::from_slice(&a.proof_json).map_err(|e| EvidenceError::Invalid {
                    what: a.paths[0].clone(),
                    reason: format!("FuncProof JSON: {e}"),
                })?;
            let statement = Statement::new(
                vec![Subject::new(a.paths[0].clone(), &digest)],
                predicate::STELLA_FUNCPROOF,
                predicate,
            )
            .map_err(attest_error(&a.paths[0]))?;
            check_predicate(&statement, &a.paths[0])?;
            Ok(statement)
        })
        .collect::<Result<Vec<_>, EvidenceError>>()?;
    let mut statements = vec![sbom_statement, cyclonedx_statement];
    statements.extend(proof_statements);
    let key = options.key;
    let signed = progress::phase(
        progress,
        Phase::Sign,
        None,
        format!(
            "{} statements into {}",
            statements.len(),
            options.log.name()
        ),
        || {
            signing::sign_and_log_all(&statements, key, Some(options.log))
                .map_err(sign_error("the scan's statements"))
        },
    )?;
    let bundles = signed
        .par_iter()
        .map(bundle_bytes)
        .collect::<Result<Vec<_>, _>>()?;
    let logged: usize = signed.iter().map(|s| s.entries.len()).sum();

    // Attach: SBOM, FuncProofs, each with its bundles, the symbol bundle, then the record.
    let store = target.store.as_ref();
    let subject_manifest = &target.image.root;
    let mut attached = Vec::new();
    // The SBOM, its CycloneDX attestation, each FuncProof artifact, the symbol bundle, the
    // record.
    let artifacts = 4 + analysed.len().div_ceil(layout::FUNCPROOFS_PER_ARTIFACT) as u64;
    progress.event(Event::Start {
        phase: Phase::Attach,
        total: Some(artifacts),
        detail: target.reference.clone(),
    });
    let advance = |item: &str| {
        progress.event(Event::Advance {
            phase: Phase::Attach,
            done: 1,
            item: item.to_owned(),
        });
    };
    let mut sbom_annotations = annotations(Kind::Sbom);
    sbom_annotations.insert(layout::CANONICAL_ID.to_owned(), canonical_id.to_string());
    sbom_annotations.insert(layout::CREATED.to_owned(), timestamp.clone());
    let sbom_artifact = attach_with_bundles(
        store,
        subject_manifest,
        media::CYCLONEDX_JSON,
        vec![Layer {
            name: layout::SBOM_TITLE.to_owned(),
            media_type: media::CYCLONEDX_JSON.to_owned(),
            bytes: sbom_bytes.clone(),
        }],
        vec![bundles[0].clone()],
        sbom_annotations,
        &mut attached,
    )?;
    advance(layout::SBOM_TITLE);
    let attestation = store::attach(
        store,
        subject_manifest,
        media::SIGSTORE_BUNDLE_V03,
        &[Layer {
            name: layout::SBOM_ATTESTATION_TITLE.to_owned(),
            media_type: media::SIGSTORE_BUNDLE_V03.to_owned(),
            bytes: bundles[1].clone(),
        }],
        &layout::bundle_annotations(predicate::CYCLONEDX_BOM, &timestamp),
    )
    .map_err(EvidenceError::oci(
        "attaching the CycloneDX SBOM attestation",
    ))?;
    attached.push(Attached {
        kind: Kind::Signatures,
        digest: parse_digest(&attestation, "the CycloneDX SBOM attestation")?,
        layers: 1,
    });
    advance(layout::SBOM_ATTESTATION_TITLE);
    for (chunk_index, chunk) in analysed.chunks(layout::FUNCPROOFS_PER_ARTIFACT).enumerate() {
        let first = 2 + chunk_index * layout::FUNCPROOFS_PER_ARTIFACT;
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
            annotations(Kind::Funcproof),
            &mut attached,
        )?;
        advance("FuncProofs");
    }
    let tables: Vec<SymbolTable> = analysed.iter().filter_map(|a| a.symbols.clone()).collect();
    let symbol_bytes = symbols::bundle::write(&tables).map_err(|source| EvidenceError::Binary {
        context: "the symbol bundle".to_owned(),
        source: Box::new(source),
    })?;
    let symbols_digest = store::attach(
        store,
        subject_manifest,
        media::SYMBOLS_TAR,
        &[Layer {
            name: layout::SYMBOLS_TITLE.to_owned(),
            media_type: media::SYMBOLS_TAR.to_owned(),
            bytes: symbol_bytes,
        }],
        &annotations(Kind::Symbols),
    )
    .map_err(EvidenceError::oci("attaching the symbol bundle"))?;
    attached.push(Attached {
        kind: Kind::Symbols,
        digest: parse_digest(&symbols_digest, "the symbol bundle")?,
        layers: 1,
    });
    advance(layout::SYMBOLS_TITLE);

    let record = Record {
        schema_version: 1,
        canonical_id: canonical_id.clone(),
        format: "CycloneDX/1.7".to_owned(),
        sbom_ref: format!("{}@{sbom_artifact}", target.reference_without_target()),
        attestations: vec![
            record_attestation(&signed[0])?,
            record_attestation(&signed[1])?,
        ],
        referrers: attached
            .iter()
            .map(|a| a.digest.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        vex_refs: Vec::new(),
        image: RecordImage {
            reference: target.reference.clone(),
            digest: image_digest.clone(),
        },
        created: stella_core::time::rfc3339_utc(
            options.source_date_epoch.unwrap_or_else(now_seconds),
        ),
    };
    let record_value = serde_json::to_value(&record).map_err(|e| EvidenceError::Invalid {
        what: "the record".to_owned(),
        reason: e.to_string(),
    })?;
    let record_bytes = jcs::to_canonical(&record_value).map_err(|source| EvidenceError::Json {
        context: "the record".to_owned(),
        source: Box::new(source),
    })?;
    // The record is signed and logged like every other statement: its signature binds, by
    // digest, everything the scan attached (the symbol bundle included).
    let record_statement = Statement::new(
        vec![
            Subject::new(subject_name, &image_digest),
            Subject::new(target.name.clone(), &canonical_id),
        ],
        predicate::STELLA_RECORD,
        record_value,
    )
    .map_err(attest_error("the record"))?;
    check_predicate(&record_statement, "the record")?;
    let record_signed = signing::sign_and_log(&record_statement, &[key], Some(options.log))
        .map_err(sign_error("the record"))?;
    let record_bundle = bundle_bytes(&record_signed)?;
    let record_digest = attach_with_bundles(
        store,
        subject_manifest,
        layout::RECORD_JSON,
        vec![Layer {
            name: layout::RECORD_TITLE.to_owned(),
            media_type: layout::RECORD_JSON.to_owned(),
            bytes: record_bytes.clone(),
        }],
        vec![record_bundle],
        annotations(Kind::Record),
        &mut attached,
    )?;
    advance(layout::RECORD_TITLE);
    progress.event(Event::Finish {
        phase: Phase::Attach,
    });
    let record_file = match &options.records_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(EvidenceError::io(dir))?;
            let path = dir.join(format!("{}.json", image_digest.hex()));
            write_file(&path, &record_bytes)?;
            Some(path)
        }
        None => None,
    };

    Ok(ScanReport {
        image: target.reference.clone(),
        digest: image_digest,
        packed: target.packed,
        excluded: target.excluded.clone(),
        files_walked: walked.files,
        bytes_walked: walked.bytes,
        binaries: analysed.len(),
        binary_paths: analysed.iter().map(|a| a.paths.len()).sum(),
        functions: analysed.iter().map(|a| a.proof.functions.len()).sum(),
        unproven,
        packages,
        sbom: SbomReport {
            canonical_id,
            source,
            matched,
            added,
            components,
            reference: format!("{}@{sbom_artifact}", target.reference_without_target()),
            bytes: sbom_bytes,
        },
        signed: signed.len() + 1,
        logged: logged + record_signed.entries.len(),
        log: options.log.name(),
        attached,
        record: record_digest,
        record_bytes,
        record_file,
    })
}

/// The SBOM of a scan and what the summary says of it.
struct SbomWritten {
    bytes: Vec<u8>,
    canonical_id: Digest,
    timestamp: String,
    source: String,
    matched: usize,
    added: usize,
    components: usize,
    packages: usize,
}

/// An SPDX SBOM given to enrich, as canonical CycloneDX 1.7 bytes (`None` for anything else,
/// which the enrichment reads as CycloneDX).
fn spdx_as_cyclonedx(bytes: &[u8]) -> Result<Option<Vec<u8>>, stella_sbom::SbomError> {
    if !stella_sbom::spdx::may_be_spdx(bytes) {
        return Ok(None);
    }
    let read = stella_sbom::spdx::read_as_cyclonedx(bytes, jcs::Limits::default())?;
    match read.spdx {
        Some(_) => Ok(Some(jcs::to_canonical(&read.cyclonedx)?)),
        None => Ok(None),
    }
}

fn write_sbom(
    target: &Target,
    options: &ScanOptions<'_>,
    analysed: &[prove::Analysed],
) -> Result<SbomWritten, EvidenceError> {
    let root = target.root();
    let inventory =
        rootfs::read_inventory(root, &InventoryLimits::default()).map_err(|source| {
            EvidenceError::Sbom {
                context: root.display().to_string(),
                source: Box::new(source),
            }
        })?;
    for w in &inventory.warnings {
        tracing::warn!("{w}");
    }
    let timestamp = match &options.timestamp {
        Some(t) if stella_core::time::is_rfc3339_utc(t) => t.clone(),
        Some(t) => {
            return Err(EvidenceError::invalid(
                format!("timestamp {t:?}"),
                "not an RFC 3339 UTC time such as 2026-01-01T00:00:00Z",
            ));
        }
        None => default_timestamp(target, options.source_date_epoch),
    };
    let facts: Vec<BinaryFacts> = analysed.iter().map(prove::facts_of).collect();
    let subject = SbomSubject {
        name: target.name.clone(),
        version: target.tag.clone(),
        image_digest: Some(target.image.root.digest.to_string()),
        // A layout's path says where the store lies, not what the image is: left out, so the
        // same input gives the same SBOM wherever `$STELLA_HOME` is.
        image_ref: (!target.location_bound).then(|| target.reference.clone()),
    };
    let generate = GenerateOptions {
        timestamp: Some(timestamp.clone()),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let (value, source, matched, added) = match &options.external_sbom {
        Some(external) => {
            let sbom_error = |source| EvidenceError::Sbom {
                context: external.name.to_owned(),
                source: Box::new(source),
            };
            let spdx = spdx_as_cyclonedx(external.bytes).map_err(sbom_error)?;
            let (value, report) = stella_sbom::enrich::enrich(
                spdx.as_deref().unwrap_or(external.bytes),
                &inventory,
                &facts,
                &subject,
                &generate,
                external.spec_version,
            )
            .map_err(sbom_error)?;
            (
                value,
                external.name.to_owned(),
                report.matched.len(),
                report.added.len(),
            )
        }
        None => {
            let value = stella_sbom::generate::generate(&inventory, &facts, &subject, &generate)
                .map_err(|source| EvidenceError::Sbom {
                    context: "the generated SBOM".to_owned(),
                    source: Box::new(source),
                })?;
            (value, "generated".to_owned(), 0, facts.len())
        }
    };
    let bytes = jcs::to_canonical(&value).map_err(|source| EvidenceError::Json {
        context: "the SBOM".to_owned(),
        source: Box::new(source),
    })?;
    let canonical_id = Digest::sha256(&bytes);
    let components = stella_sbom::SbomDocument::read(&bytes, Default::default())
        .and_then(|d| d.to_model())
        .map(|bom| bom.all_components().len())
        .unwrap_or(0);
    Ok(SbomWritten {
        bytes,
        canonical_id,
        timestamp,
        source,
        matched,
        added,
        components,
        packages: inventory.packages.len(),
    })
}

/// The SBOM's time: `SOURCE_DATE_EPOCH`, else the image's `created` (to the second, in UTC),
/// else now. A `created` that is not an RFC 3339 time is the image author's problem, not a
/// reason to refuse the scan: it is named in a warning and the fallback applies.
fn default_timestamp(target: &Target, source_date_epoch: Option<i64>) -> String {
    if let Some(seconds) = source_date_epoch {
        return stella_core::time::rfc3339_utc(seconds);
    }
    if let Some(created) = target.image.config["created"].as_str() {
        match stella_core::time::parse_rfc3339(created) {
            Ok(seconds) => return stella_core::time::rfc3339_utc(seconds),
            Err(e) => tracing::warn!("image config: created: {e}; the SBOM takes the current time"),
        }
    }
    stella_core::time::rfc3339_utc(now_seconds())
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn parse_digest(text: &str, what: &str) -> Result<Digest, EvidenceError> {
    text.parse()
        .map_err(|e: stella_core::DigestError| EvidenceError::invalid(what, e.to_string()))
}

fn attest_error(context: &str) -> impl FnOnce(stella_attest::AttestError) -> EvidenceError {
    let context = context.to_owned();
    move |source| EvidenceError::Attest {
        context,
        source: Box::new(source),
    }
}

/// The predicate-schema check `stella attest` applies, applied to what a scan signs.
fn check_predicate(statement: &Statement, what: &str) -> Result<(), EvidenceError> {
    predicates::validate(&statement.predicate_type, &statement.predicate)
        .map_err(attest_error(what))
}

fn sign_error(context: &str) -> impl FnOnce(signing::SignError) -> EvidenceError {
    let context = context.to_owned();
    move |source| EvidenceError::Sign {
        context,
        source: Box::new(source),
    }
}

fn bundle_bytes(signed: &Signed) -> Result<Vec<u8>, EvidenceError> {
    signed
        .bundle
        .to_canonical_json()
        .map_err(attest_error("a bundle"))
}

fn annotations(kind: Kind) -> BTreeMap<String, String> {
    BTreeMap::from([(layout::KIND.to_owned(), kind.as_str().to_owned())])
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
) -> Result<Digest, EvidenceError> {
    let kind = Kind::of_artifact_type(artifact_type).unwrap_or(Kind::Signatures);
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
    let what = format!("attaching the {kind} artifact");
    // The artifact as stored is the subject of its signatures: not read back.
    let artifact = store::attach_manifest(store, subject, artifact_type, &layers, &annotations)
        .map_err(EvidenceError::oci(what.clone()))?;
    let digest = artifact.digest.clone();
    let bundle_digest = store::attach(
        store,
        &artifact,
        media::SIGSTORE_BUNDLE_V03,
        &bundle_layers,
        &self::annotations(Kind::Signatures),
    )
    .map_err(EvidenceError::oci(what.clone()))?;
    attached.push(Attached {
        kind,
        digest: digest.clone(),
        layers: count,
    });
    attached.push(Attached {
        kind: Kind::Signatures,
        digest: parse_digest(&bundle_digest, &what)?,
        layers: count,
    });
    Ok(digest)
}

/// The record's view of one attestation.
fn record_attestation(signed: &Signed) -> Result<RecordAttestation, EvidenceError> {
    let envelope: &Envelope = signed.envelope();
    let entry: &TlogEntry = signed.entries.first().ok_or_else(|| {
        EvidenceError::invalid("the SBOM statement", "the log returned no entry for it")
    })?;
    let envelope_json =
        jcs::to_canonical(&envelope.to_json_value()).map_err(|source| EvidenceError::Json {
            context: "an envelope".to_owned(),
            source: Box::new(source),
        })?;
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
        entry_id: stella_core::hex::encode(leaf),
        log_index: entry.log_index,
        log_origin: origin,
    })
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees half.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(EvidenceError::io(dir))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(EvidenceError::io(path))?;
    tmp.persist(path)
        .map_err(|e| EvidenceError::io(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_predicate_its_schema_rejects_is_never_signed() {
        let digest = Digest::sha256(b"binary");
        let broken = serde_json::json!({ "schema": "stella.funcproof/v1", "functions": "none" });
        let statement = Statement::new(
            vec![Subject::new("/bin/x".to_owned(), &digest)],
            predicate::STELLA_FUNCPROOF,
            broken,
        )
        .expect("a statement");
        let refused = check_predicate(&statement, "/bin/x");
        assert!(
            matches!(
                &refused,
                Err(EvidenceError::Attest { context, .. }) if context == "/bin/x"
            ),
            "{refused:?}"
        );
    }
}
