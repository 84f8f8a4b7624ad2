//! `stella scan`: the command line of `stella_evidence::scan`. It reads the arguments, opens
//! the key, the log and the stores, hands them to the library, writes the files asked for and
//! prints the report.

use std::path::Path;

use anyhow::anyhow;
use stella_evidence::scan::target::EXCLUDED_WHY;
use stella_evidence::scan::{
    self, EvidenceStore, ExternalSbom, PackRequest, ScanOptions, ScanReport, Target,
};
use stella_oci::reference::ScanSource;
use stella_oci::{LayoutStore, Reference};
use stella_sbom::SpecVersion;
use stella_tlog::LogBackend;
use stella_tlog::client::RekorClient;

use crate::cli::ScanArgs;
use crate::exit::{CliError, Outcome};
use crate::input::{Input, human_bytes};
use crate::oci::{open_store, open_store_for_writing};
use crate::output::write_atomically;

/// Largest external SBOM read for `--sbom`.
const MAX_SBOM_BYTES: usize = 256 << 20;

/// `--spec-version`: a CycloneDX version an enriched SBOM can be written in (1.4 holds none of
/// the evidence Stella adds about binaries).
pub fn parse_spec_version(text: &str) -> Result<SpecVersion, String> {
    match text.parse::<SpecVersion>() {
        Ok(v) if v >= SpecVersion::V1_5 => Ok(v),
        _ => Err("expected 1.5, 1.6 or 1.7".to_owned()),
    }
}

/// `stella scan`.
pub fn run(args: ScanArgs, home: &Path) -> Result<Outcome, CliError> {
    if args.jobs == Some(0) {
        return Err(CliError::input(anyhow!("--jobs must be at least 1")));
    }
    if let Some(t) = &args.timestamp
        && !stella_core::time::is_rfc3339_utc(t)
    {
        return Err(CliError::input(anyhow!(
            "--timestamp {t:?} is not an RFC 3339 UTC time such as 2026-01-01T00:00:00Z"
        )));
    }
    let external_sbom = match &args.sbom {
        Some(path) => Some((Input::new(path.clone()).read(MAX_SBOM_BYTES)?, path.clone())),
        None => None,
    };
    // A target written as a path is a path: one that is not there stops the scan before a key
    // is made or a registry is asked; so does a reference that cannot be one.
    let source = ScanSource::classify(&args.target, |p| p.exists()).map_err(CliError::kinded)?;
    if let ScanSource::Path(dir) = &source {
        scan::target::outside_home(dir, home).map_err(CliError::kinded)?;
        directory(dir)?;
    }
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(_) => Some(crate::attest::source_date_epoch()?),
        Err(_) => None,
    };
    // The key first: a wrong password should stop the scan before the work, not after.
    let (key, key_created) = crate::attest::scan_key(args.key.as_deref(), home)?;
    let key_name = match &args.key {
        Some(p) => p.display().to_string(),
        None => stella_evidence::keys::DefaultKey::of(home)
            .private
            .display()
            .to_string(),
    };
    // The log next: a damaged one stops the scan before the work, naming the damaged file.
    let log: Box<dyn LogBackend> = match &args.log_url {
        Some(url) => Box::new(RekorClient::new(url).map_err(crate::log::tlog_error)?),
        None => Box::new(crate::log::open(home)?),
    };
    let progress = crate::bars::for_terminal(args.json);
    let target = prepare(&args, source, home, source_date_epoch, progress.as_ref())?;
    for s in &target.skipped {
        tracing::debug!("not packed or unpacked: {}: {}", s.path, s.reason);
    }
    if !target.skipped.is_empty() {
        let names: Vec<&str> = target
            .skipped
            .iter()
            .take(3)
            .map(|s| s.path.as_str())
            .collect();
        tracing::warn!(
            "left out {} entr{} ({}{}; -vv lists them): only regular files, directories and \
             links are kept",
            target.skipped.len(),
            if target.skipped.len() == 1 {
                "y"
            } else {
                "ies"
            },
            names.join(", "),
            if target.skipped.len() > 3 {
                ", …"
            } else {
                ""
            }
        );
    }
    tracing::info!(root = %target.root().display(), image = %target.reference, "scanning");
    let sbom_name = args.sbom.as_ref().map(|p| p.display().to_string());
    let options = ScanOptions {
        key: &key,
        log: log.as_ref(),
        jobs: args.jobs,
        max_binary_size: args.max_binary_size as u64,
        timestamp: args.timestamp.clone(),
        source_date_epoch,
        external_sbom: external_sbom.as_ref().zip(sbom_name.as_deref()).map(
            |((bytes, _), name)| ExternalSbom {
                bytes,
                name,
                spec_version: args.spec_version,
            },
        ),
        records_dir: Some(home.join("records")),
    };
    let report = scan::run(&target, &options, progress.as_ref()).map_err(CliError::kinded)?;
    drop(progress);
    if let Some(path) = &args.record {
        write_atomically(path, &report.record_bytes)?;
    }
    if let Some(path) = &args.sbom_out {
        write_atomically(path, &report.sbom.bytes)?;
    }
    if let Some(path) = &args.spdx_out {
        let spdx = serde_json::from_slice(&report.sbom.bytes)
            .map_err(|e| CliError::environment(anyhow::anyhow!("the scan's SBOM: {e}")))
            .and_then(|cdx| stella_sbom::spdx::to_spdx23(&cdx).map_err(CliError::kinded))
            .and_then(|spdx| {
                stella_core::jcs::to_canonical(&spdx)
                    .map_err(|e| CliError::kinded(stella_sbom::SbomError::Json(e)))
            })
            .map_err(|e| e.context(format!("writing the SBOM as SPDX to {}", path.display())))?;
        write_atomically(path, &spdx)?;
    }
    if args.json {
        crate::print::json(
            &crate::print::Schema::new("scan"),
            &Printed {
                key: &key_name,
                key_created,
                report: &report,
            },
        )?;
    } else {
        print_summary(&report, &key_name, key_created)?;
    }
    Ok(Outcome::Success)
}

/// What `--json` prints: the report with the key that signed.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Printed<'a> {
    key: &'a str,
    key_created: bool,
    #[serde(flatten)]
    report: &'a ScanReport,
}

/// `target` as a directory to scan: missing, or a file, is bad input.
fn directory(path: &Path) -> Result<&Path, CliError> {
    let target = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        CliError::input(anyhow!(
            "{target}: {e}; TARGET is a directory, oci-layout:PATH[:TAG] or HOST/REPO[:TAG]"
        ))
    })?;
    if !meta.is_dir() {
        return Err(CliError::input(anyhow!(
            "{target} is a file; stella scan takes a directory, a root filesystem or an image \
             (stella funcproof proves a single binary)"
        )));
    }
    Ok(path)
}

/// Packs a directory or resolves an image, and picks the store the evidence goes to.
fn prepare(
    args: &ScanArgs,
    source: ScanSource,
    home: &Path,
    source_date_epoch: Option<i64>,
    progress: &dyn stella_evidence::Progress,
) -> Result<Target, CliError> {
    let reference = match source {
        ScanSource::Image(reference) => reference,
        ScanSource::Path(dir) => {
            let target_path = directory(&dir)?;
            let image_ref = match &args.image {
                Some(r) => r.clone(),
                None => format!(
                    "oci-layout:{}:{}",
                    home.join("oci").display(),
                    scan::target::tag_for(target_path)
                ),
            };
            let reference = Reference::parse(&image_ref).map_err(CliError::kinded)?;
            if matches!(reference, Reference::Registry { .. }) && !args.push {
                return Err(CliError::input(anyhow!(
                    "--image {image_ref} is a registry: pass --push to pack the directory there, or \
                 name an oci-layout:PATH:TAG"
                )));
            }
            let store = open_store_for_writing(&reference, args.insecure)?;
            let request = PackRequest {
                dir: target_path,
                reference: &reference,
                home,
                key: args.key.as_deref(),
                source_date_epoch,
            };
            return scan::pack_directory(&request, store, progress).map_err(CliError::kinded);
        }
    };
    if args.image.is_some() {
        return Err(CliError::input(anyhow!(
            "--image names where a directory is packed; TARGET {} is already an image",
            args.target
        )));
    }
    let source = open_store(&reference, args.insecure)?;
    let evidence = match &reference {
        // Evidence stays local: the image is copied into the embedded layout (so that
        // `stella verify` works air-gapped) and the evidence refers to it there.
        Reference::Registry { .. } if !args.push => {
            let layout_dir = home.join("oci");
            let local = LayoutStore::open(&layout_dir).map_err(CliError::kinded)?;
            EvidenceStore::Copy(local, layout_dir)
        }
        _ => EvidenceStore::Beside(open_store_for_writing(&reference, args.insecure)?),
    };
    scan::open_image(&reference, source, evidence, &home.join("tmp"), progress)
        .map_err(CliError::kinded)
}

fn print_summary(s: &ScanReport, key: &str, key_created: bool) -> Result<(), CliError> {
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
        s.sbom.canonical_id, s.sbom.source, s.sbom.components, s.packages
    ));
    if s.sbom.source != "generated" {
        text.push_str(&format!(
            "            {} binaries matched to its components, {} added\n",
            s.sbom.matched, s.sbom.added
        ));
    }
    text.push_str(&format!("            at {}\n", s.sbom.reference));
    text.push_str(&format!(
        "signed      {} statements with {key}{}\n",
        s.signed,
        if key_created { " (created now)" } else { "" }
    ));
    text.push_str(&format!("logged      {} entries in {}\n", s.logged, s.log));
    for a in &s.attached {
        text.push_str(&format!(
            "attached    {:<10} {} ({} layer{})\n",
            a.kind.as_str(),
            a.digest,
            a.layers,
            if a.layers == 1 { "" } else { "s" }
        ));
    }
    match &s.record_file {
        Some(path) => text.push_str(&format!("record      {} ({})\n", s.record, path.display())),
        None => text.push_str(&format!("record      {}\n", s.record)),
    }
    text.push_str(&format!("verify with: stella verify --image {}\n", s.image));
    crate::output::write_stdout(text.as_bytes())
}
