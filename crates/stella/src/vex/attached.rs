//! `--image REF` for the VEX commands (the VEX attached to an image, through
//! `stella_evidence::attached`) and `stella vex attach`.

use std::path::Path;

use serde::Serialize;
use stella_core::media::{self, predicate};
use stella_evidence::attached::{self, AttachedError, Check, Wanted};
use stella_evidence::layout::VEX_KIND;
use stella_oci::Reference;
use stella_tlog::audit::{EntryCheck, Unproven};
use stella_vex::VexFormat;
use stella_vex::read;

use super::{Reading, Source};
use crate::cli::VexReadArgs;
use crate::exit::{CliError, Outcome};
use crate::input::{Input, MAX_SIZE_FLAG};
use crate::print::{self, Schema};

pub use stella_evidence::attached::Signature;

/// The media types VEX is attached as; OpenVEX's second spelling is one some tools write.
const MEDIA_TYPES: [&str; 4] = [
    media::OPENVEX_JSON,
    "application/vnd.openvex+json",
    media::CYCLONEDX_JSON,
    media::CSAF_JSON,
];

/// The predicate types of VEX carried in bundles attached to the image (`https://openvex.dev/ns`
/// is what cosign's `--type openvex` writes).
const PREDICATE_TYPES: [&str; 4] = [
    predicate::OPENVEX,
    "https://openvex.dev/ns",
    predicate::CYCLONEDX_BOM,
    predicate::CSAF,
];

/// A short word for what a document's signatures prove.
pub fn signature_word(s: &Signature) -> &'static str {
    match s {
        Signature::Verified { .. } => "verified",
        Signature::Unchecked { .. } => "unchecked",
        Signature::NotSigned => "not-signed",
    }
}

fn attached_error(image: &str, e: AttachedError) -> CliError {
    CliError::kinded(e).context(format!("--image {image}"))
}

/// The VEX attached to `image`, each document named `<image>@<referrer digest>`.
pub fn fetch(
    image: &str,
    key: Option<&Path>,
    insecure: bool,
    home: &Path,
) -> Result<Vec<Source>, CliError> {
    let reference = Reference::parse(image).map_err(CliError::kinded)?;
    let store = crate::oci::open_store(&reference, insecure)?;
    let subject = store
        .get_manifest(reference.target())
        .map_err(|e| CliError::kinded(e).context(format!("--image {image}")))?;
    let key = key.map(crate::attest::load_public_key).transpose()?;
    let trusted = crate::attest::trusted_logs(None, home)?;
    let local = crate::log::open_existing(home)?;
    let witness = stella_tlog::witness::Witness::new(&home.join("witness"));
    let entry_check = trusted.as_deref().map(|logs| EntryCheck {
        logs,
        witness: &witness,
        local: local.as_ref(),
        remote: None,
        unproven: Unproven::Fails,
    });
    let check = key.as_ref().map(|key| Check {
        key,
        log: entry_check.as_ref(),
    });
    let wanted = Wanted {
        media_types: &MEDIA_TYPES,
        predicate_types: &PREDICATE_TYPES,
        kind: VEX_KIND,
    };
    let found = attached::find(store.as_ref(), &subject, &wanted, check.as_ref())
        .map_err(|e| attached_error(image, e))?;
    tracing::info!(image, documents = found.len(), "VEX attached to the image");
    Ok(found
        .into_iter()
        .map(|f| {
            if let Signature::Unchecked { bundles } = f.signature {
                tracing::warn!(
                    "{image}@{}: signed ({bundles} bundle{}) but not checked: give --key to verify",
                    f.referrer,
                    if bundles == 1 { "" } else { "s" }
                );
            }
            Source {
                name: format!("{image}@{}", f.referrer),
                bytes: f.bytes,
                signature: Some(f.signature),
            }
        })
        .collect())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachOutput {
    image: String,
    image_digest: String,
    format: &'static str,
    canonical_id: String,
    predicate_type: &'static str,
    document: String,
    bundle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_index: Option<u64>,
}

const ATTACH: Schema = Schema::new("vex.attach");

#[allow(clippy::too_many_arguments)]
pub fn attach(
    home: &Path,
    image: &str,
    key: Option<&Path>,
    insecure: bool,
    file: &Path,
    read_args: &VexReadArgs,
    json: bool,
) -> Result<Outcome, CliError> {
    let reading = Reading::of(read_args)?;
    let input = Input::with_limit_flag(file.to_path_buf(), MAX_SIZE_FLAG);
    let bytes = input.read(read_args.max_size)?;
    // What is signed must be valid VEX: checked before a key or a store is touched.
    let report = stella_vex::validate::validate(&bytes, &reading.options())
        .map_err(|e| CliError::kinded(e).context(input.name()))?;
    if !report.is_valid() {
        let mut text = format!(
            "{}: not attached: {}\n",
            input.name(),
            print::count(report.problems.len(), "problem", "problems")
        );
        for p in &report.problems {
            text.push_str(&format!("  {} [{}] {}\n", p.pointer, p.rule, p.message));
        }
        eprint!("{text}");
        return Ok(Outcome::Failed);
    }
    let read = read::read_as(&bytes, report.format, &reading.options())
        .map_err(|e| CliError::kinded(e).context(input.name()))?;
    let (media_type, predicate_type) = match report.format {
        VexFormat::OpenVex => (media::OPENVEX_JSON, predicate::OPENVEX),
        VexFormat::CycloneDx => (media::CYCLONEDX_JSON, predicate::CYCLONEDX_BOM),
        VexFormat::Csaf => (media::CSAF_JSON, predicate::CSAF),
    };
    let reference = Reference::parse(image).map_err(CliError::kinded)?;
    let store = crate::oci::open_store_for_writing(&reference, insecure)?;
    let subject = store
        .get_manifest(reference.target())
        .map_err(|e| CliError::kinded(e).context(format!("--image {image}")))?;
    let (signer, created) = crate::attest::scan_key(key, home)?;
    if created {
        eprintln!(
            "created the default signing key in {}",
            home.join("keys").display()
        );
    }
    let log = crate::attest::log_backend(home, false, None)?;
    let name = file.file_name().map_or_else(
        || "vex.json".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let attached = attached::attach_signed(
        store.as_ref(),
        &subject,
        &reference.to_string(),
        &name,
        media_type,
        &bytes,
        predicate_type,
        VEX_KIND,
        &signer,
        log.as_deref(),
    )
    .map_err(|e| attached_error(image, e))?;
    let output = AttachOutput {
        image: image.to_owned(),
        image_digest: subject.digest.to_string(),
        format: report.format.as_str(),
        canonical_id: read.canonical_id.to_string(),
        predicate_type,
        document: attached.document.digest.to_string(),
        bundle: attached.bundle.digest.to_string(),
        log_index: attached.log_index,
    };
    if json {
        print::json(&ATTACH, &output)?;
    } else {
        let logged = output
            .log_index
            .map_or_else(|| "not logged".to_owned(), |i| format!("log entry {i}"));
        eprintln!(
            "attached {} ({}, {}) to {image} ({}): document {}, bundle {} ({logged})",
            input.name(),
            output.format,
            print::count(read.document.statements.len(), "statement", "statements"),
            output.image_digest,
            output.document,
            output.bundle
        );
    }
    Ok(Outcome::Success)
}
