//! `stella oci attach | referrers | pull | copy`: references parsed, stores opened, results
//! printed. The stores and the copy live in `stella-oci`.
//!
//! Reading a layout never creates one: readers open stores with [`open_store`], which fails
//! (exit 2, naming the path) where there is no layout; only writers (attach, copy's
//! destination, scan) use [`open_store_for_writing`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};
use stella_oci::reference::Target;
use stella_oci::store::{self, Layer};
use stella_oci::{ArtifactStore, Reference, RegistryOptions};

use crate::cli::OciCommand;
use crate::exit::{CliError, Outcome};
use crate::input::Input;
use crate::output::{write_atomically, write_stdout};
use crate::print::{self, Schema};

/// Largest file attached.
const MAX_FILE_BYTES: usize = 256 << 20;
/// How deep a referrers tree is followed.
const MAX_DEPTH: usize = 8;

/// The global `--ca-file`s, set once before the command runs.
static CA_FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Trusts the CA files in `files` for every registry the command reaches.
pub(crate) fn trust_ca_files(files: Vec<PathBuf>) {
    let _ = CA_FILES.set(files);
}

/// How registries are reached: `--insecure`, the global `--ca-file`s, `STELLA_OCI_TIMEOUT`
/// (seconds) bounding every request so that a registry that hangs is an error, and
/// `STELLA_CREDENTIAL_HELPER_TIMEOUT` (seconds) bounding a credential helper.
pub(crate) fn registry_options(insecure: bool) -> RegistryOptions {
    let mut options = RegistryOptions {
        insecure,
        ca_files: CA_FILES.get().cloned().unwrap_or_default(),
        ..RegistryOptions::default()
    };
    let seconds = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    };
    if let Some(timeout) = seconds("STELLA_OCI_TIMEOUT") {
        options.timeout = timeout;
    }
    if let Some(timeout) = seconds("STELLA_CREDENTIAL_HELPER_TIMEOUT") {
        options.helper_timeout = timeout;
    }
    options
}

/// Whether a command only reads a store or also writes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

fn open(
    reference: &str,
    insecure: bool,
    access: Access,
) -> Result<(Box<dyn ArtifactStore>, Reference), CliError> {
    let parsed = Reference::parse(reference).map_err(CliError::kinded)?;
    let store = match access {
        Access::Read => open_store(&parsed, insecure)?,
        Access::Write => open_store_for_writing(&parsed, insecure)?,
    };
    Ok((store, parsed))
}

/// The store a parsed reference lives in, for reading: its existing layout directory (nothing
/// is created; a missing layout is exit 2 naming the path), or its registry repository.
pub(crate) fn open_store(
    reference: &Reference,
    insecure: bool,
) -> Result<Box<dyn ArtifactStore>, CliError> {
    stella_oci::open(reference, &registry_options(insecure)).map_err(CliError::kinded)
}

/// The store a parsed reference lives in, for writing: its layout directory (an empty layout is
/// created where there is none), or its registry repository.
pub(crate) fn open_store_for_writing(
    reference: &Reference,
    insecure: bool,
) -> Result<Box<dyn ArtifactStore>, CliError> {
    stella_oci::open_for_writing(reference, &registry_options(insecure)).map_err(CliError::kinded)
}

pub fn run(cmd: OciCommand, insecure: bool) -> Result<Outcome, CliError> {
    match cmd {
        OciCommand::Attach {
            image,
            artifact_type,
            media_type,
            annotation,
            files,
        } => {
            let (store, reference) = open(&image, insecure, Access::Write)?;
            let subject = store
                .get_manifest(reference.target())
                .map_err(CliError::kinded)?;
            let mut annotations = BTreeMap::new();
            for a in &annotation {
                let (k, v) = a.split_once('=').ok_or_else(|| {
                    CliError::input(anyhow!("--annotation {a:?} is not KEY=VALUE"))
                })?;
                annotations.insert(k.to_owned(), v.to_owned());
            }
            let mut layers = Vec::new();
            for f in &files {
                let bytes = Input::new(f.clone()).read(MAX_FILE_BYTES)?;
                let name = f.file_name().map_or_else(
                    || "artifact".to_owned(),
                    |n| n.to_string_lossy().into_owned(),
                );
                layers.push(Layer {
                    name,
                    media_type: media_type.clone().unwrap_or_else(|| artifact_type.clone()),
                    bytes,
                });
            }
            let digest = store::attach(&*store, &subject, &artifact_type, &layers, &annotations)
                .map_err(CliError::kinded)?;
            write_stdout(format!("{digest}\n").as_bytes())?;
            Ok(Outcome::Success)
        }
        OciCommand::Referrers {
            reference,
            artifact_type,
            json,
        } => {
            let (store, parsed) = open(&reference, insecure, Access::Read)?;
            let root = store
                .get_manifest(parsed.target())
                .map_err(CliError::kinded)?;
            let mut tree = referrer_tree(
                &*store,
                &root.digest.to_string(),
                artifact_type.as_deref(),
                0,
            )?;
            if artifact_type.is_none() {
                tree.extend(cosign_legacy(&*store, &root.digest)?);
            }
            if json {
                print::json(
                    &Schema::new("oci.referrers").with_data_maps(&["/**/annotations"]),
                    &json!({"digest": root.digest, "referrers": tree}),
                )?;
            } else {
                let mut text = format!("{}\n", root.digest);
                render(&tree, "", &mut text);
                write_stdout(text.as_bytes())?;
            }
            Ok(Outcome::Success)
        }
        OciCommand::Pull { reference, output } => {
            let (store, parsed) = open(&reference, insecure, Access::Read)?;
            if !matches!(parsed.target(), Target::Digest(_)) {
                return Err(CliError::input(anyhow!(
                    "{reference}: pull takes REF@DIGEST (the artifact's digest, as attach and \
                     referrers print it)"
                )));
            }
            let manifest = store
                .get_manifest(parsed.target())
                .map_err(CliError::kinded)?;
            let value: Value = serde_json::from_slice(&manifest.bytes)
                .map_err(|e| CliError::input(anyhow!("{reference}: {e}")))?;
            std::fs::create_dir_all(&output)
                .map_err(|e| CliError::environment(anyhow!("{}: {e}", output.display())))?;
            for (i, layer) in value["layers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let digest = layer["digest"].as_str().unwrap_or_default();
                let bytes = store.get_blob(digest).map_err(CliError::kinded)?;
                let name = safe_name(layer["annotations"][store::TITLE].as_str())
                    .unwrap_or_else(|| format!("layer-{i}"));
                write_atomically(&output.join(&name), &bytes)?;
                eprintln!("{digest} -> {}", output.join(&name).display());
            }
            Ok(Outcome::Success)
        }
        OciCommand::Copy { src, dst, json } => {
            let (from, src_ref) = open(&src, insecure, Access::Read)?;
            let (to, dst_ref) = open(&dst, insecure, Access::Write)?;
            let tag = match dst_ref.target() {
                Target::Tag(t) => Some(t.as_str()),
                _ => match src_ref.target() {
                    Target::Tag(t) => Some(t.as_str()),
                    _ => None,
                },
            };
            let report =
                store::copy(&*from, &*to, src_ref.target(), tag).map_err(CliError::kinded)?;
            if json {
                print::json(&Schema::new("oci.copy"), &report)?;
            } else {
                write_stdout(
                    format!(
                        "{}: {} manifests ({} referrers) and {} blobs copied\n",
                        report.digest, report.manifests, report.referrers, report.blobs
                    )
                    .as_bytes(),
                )?;
            }
            Ok(Outcome::Success)
        }
    }
}

/// A title usable as a file name inside the output directory: no separators, no `..`.
fn safe_name(title: Option<&str>) -> Option<String> {
    let t = title?;
    let ok = !t.is_empty()
        && t != "."
        && t != ".."
        && !t.contains('/')
        && !t.contains('\\')
        && !t.contains('\0')
        && Path::new(t).components().count() == 1;
    ok.then(|| t.to_owned())
}

fn referrer_tree(
    store: &dyn ArtifactStore,
    digest: &str,
    artifact_type: Option<&str>,
    depth: usize,
) -> Result<Vec<Value>, CliError> {
    if depth >= MAX_DEPTH {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for r in store
        .referrers(digest, artifact_type)
        .map_err(CliError::kinded)?
    {
        let children = referrer_tree(store, &r.digest.to_string(), None, depth + 1)?;
        let mut v = serde_json::to_value(&r).map_err(|e| CliError::environment(anyhow!(e)))?;
        // A Sigstore bundle another tool (cosign) attached: listed, marked, never taken for
        // one of Stella's.
        v["kind"] = json!(if stella_evidence::cosign::is_foreign_bundle(&r) {
            "sigstore-bundle"
        } else {
            "referrer"
        });
        v["referrers"] = Value::Array(children);
        out.push(v);
    }
    Ok(out)
}

/// cosign's legacy `.sig` / `.att` manifests of `image`, as nodes beside the referrers: kind
/// `cosign-signatures` or `cosign-attestations`, where they were found, their layers, and what
/// makes them not cosign's.
fn cosign_legacy(
    store: &dyn ArtifactStore,
    image: &stella_core::Digest,
) -> Result<Vec<Value>, CliError> {
    let found = stella_oci::cosign::find_legacy(store, image).map_err(CliError::kinded)?;
    Ok(found
        .iter()
        .map(|m| {
            let mut problems = m.problems.clone();
            let layers: Vec<Value> = m
                .layers
                .iter()
                .map(|l| {
                    if let Err(p) = &l.content {
                        problems.push(format!("layer {}: {p}", l.index));
                    }
                    json!({
                        "mediaType": l.media_type,
                        "digest": l.digest,
                        "size": l.size,
                        "annotations": l.annotations,
                    })
                })
                .collect();
            json!({
                "kind": format!("cosign-{}", m.kind),
                "foundBy": m.origin,
                "digest": m.digest,
                "layers": layers,
                "problems": problems,
                "referrers": [],
            })
        })
        .collect())
}

fn render(tree: &[Value], prefix: &str, out: &mut String) {
    for (i, node) in tree.iter().enumerate() {
        let last = i + 1 == tree.len();
        let label = match node["kind"].as_str() {
            Some(kind) if kind.starts_with("cosign-") => format!(
                "{kind} ({} {}, {} layer{}{})",
                node["foundBy"]["by"].as_str().unwrap_or_default(),
                node["foundBy"]["name"].as_str().unwrap_or_default(),
                node["layers"].as_array().map_or(0, Vec::len),
                if node["layers"].as_array().map_or(0, Vec::len) == 1 {
                    ""
                } else {
                    "s"
                },
                match node["problems"].as_array().map_or(0, Vec::len) {
                    0 => String::new(),
                    n => format!(
                        ", {n} problem{}: not cosign's as stored",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            ),
            Some("sigstore-bundle") => format!(
                "{} (foreign Sigstore bundle)",
                node["artifactType"].as_str().unwrap_or("(no type)")
            ),
            _ => node["artifactType"]
                .as_str()
                .unwrap_or("(no type)")
                .to_owned(),
        };
        out.push_str(&format!(
            "{prefix}{} {label} {}\n",
            if last { "└──" } else { "├──" },
            node["digest"].as_str().unwrap_or("(unreadable)")
        ));
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        render(
            node["referrers"]
                .as_array()
                .map_or(&[][..], |v| v.as_slice()),
            &deeper,
            out,
        );
    }
}
