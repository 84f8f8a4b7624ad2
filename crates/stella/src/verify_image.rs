//! `stella verify --image`: the command line of `stella_evidence::verify`. It opens the store,
//! the image, the trusted keys and logs, runs the replay, and prints the answers to `--symbol`
//! first, then the verdicts. The rules live in the library's module documentation.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde_json::json;
use stella_attest::keyless::{IdentityPolicy, TrustedRoot};
use stella_binary::symbols::SymbolTable;
use stella_evidence::verify::{self, Examined, Replay, Status, SymbolAnswer, TrustedKey, Verifier};
use stella_oci::image::{self, Image, Platform};
use stella_oci::{ArtifactStore, Reference};
use stella_tlog::TrustedLog;
use stella_tlog::audit::{EntryCheck, Unproven};
use stella_tlog::witness::Witness;

use crate::cli::VerifyArgs;
use crate::exit::{CliError, Outcome};
use crate::oci::open_store;
use crate::output::write_stdout;

/// Most binaries listed under a symbol answer in the table (the JSON output has them all).
const MAX_LISTED: usize = 10;

/// What a verification opens: the image's store and manifest, the trusted keys and logs.
pub(crate) struct Opened {
    pub(crate) store: Box<dyn ArtifactStore>,
    pub(crate) image: Image,
    keys: Vec<TrustedKey>,
    trusted: Option<Vec<TrustedLog>>,
    local_log: Option<stella_tlog::Log>,
    /// Hash tiles of a log that is not local (an auditor's pack), for consistency proofs.
    tiles: Option<stella_tlog::log::TilesDir>,
}

impl Opened {
    pub(crate) fn new(
        reference: &Reference,
        insecure: bool,
        keys: Vec<TrustedKey>,
        trusted_root: Option<&Path>,
        home: &Path,
    ) -> Result<Self, CliError> {
        let local_log = crate::log::open_existing(home)?;
        let trusted = crate::attest::trusted_logs(trusted_root, home)?;
        let store = open_store(reference, insecure)?;
        let image = image::resolve(store.as_ref(), reference.target(), &Platform::host())
            .map_err(CliError::kinded)?;
        Ok(Opened {
            store,
            image,
            keys,
            trusted,
            local_log,
            tiles: None,
        })
    }

    /// Consistency proofs from the hash tiles under `dir` (a log that is not local).
    pub(crate) fn with_tiles(mut self, dir: &Path) -> Self {
        self.tiles = Some(stella_tlog::log::TilesDir::new(dir));
        self
    }

    /// The trusted logs.
    pub(crate) fn trusted_logs(&self) -> &[TrustedLog] {
        self.trusted.as_deref().unwrap_or_default()
    }

    pub(crate) fn examine(
        &self,
        home: &Path,
        image_name: &str,
        record: Option<&str>,
        replay: &Replay<'_>,
        progress: &dyn stella_evidence::Progress,
    ) -> Result<Examined, CliError> {
        let witness = Witness::new(&home.join("witness"));
        let tmp = home.join("tmp");
        let verifier = Verifier {
            store: self.store.as_ref(),
            image: &self.image,
            keys: &self.keys,
            log: self.trusted.as_deref().map(|logs| EntryCheck {
                logs,
                witness: &witness,
                local: self.local_log.as_ref(),
                remote: self
                    .tiles
                    .as_ref()
                    .map(|t| t as &dyn stella_tlog::log::TileReader),
                unproven: Unproven::Fails,
            }),
            tmp_dir: &tmp,
        };
        verify::examine(&verifier, image_name, record, replay, progress).map_err(CliError::kinded)
    }
}

/// The trusted keys: `given` (the repeatable `flag`), else the default key of `stella scan`.
pub(crate) fn trusted_keys(
    given: &[PathBuf],
    flag: &str,
    home: &Path,
) -> Result<Vec<TrustedKey>, CliError> {
    let paths = if given.is_empty() {
        let public = stella_evidence::keys::DefaultKey::of(home).public;
        if !public.exists() {
            return Err(CliError::input(anyhow!(
                "no {flag} given and no default key at {}: pass the public key the evidence \
                 was signed with",
                public.display()
            )));
        }
        vec![public]
    } else {
        given.to_vec()
    };
    paths
        .iter()
        .map(|p| {
            Ok(TrustedKey {
                name: p.display().to_string(),
                key: crate::attest::load_public_key(p)?,
            })
        })
        .collect()
}

/// `stella verify --image`.
pub fn run(args: VerifyArgs, home: &Path) -> Result<Outcome, CliError> {
    if args.jobs == Some(0) {
        return Err(CliError::input(anyhow!("--jobs must be at least 1")));
    }
    if let Some(dir) = &args.rootfs
        && !dir.is_dir()
    {
        return Err(CliError::input(anyhow!(
            "--rootfs {}: not a directory",
            dir.display()
        )));
    }
    let reference = Reference::parse(&args.image).map_err(CliError::kinded)?;
    let opened = Opened::new(
        &reference,
        args.insecure,
        trusted_keys(&args.key, "--key", home)?,
        args.trusted_root.as_deref(),
        home,
    )?;
    let replay = Replay::Full {
        rootfs: args.rootfs.as_deref(),
        jobs: args.jobs,
    };
    let progress = crate::bars::for_terminal(args.json);
    let examined = opened.examine(
        home,
        &args.image,
        args.record.as_deref(),
        &replay,
        progress.as_ref(),
    )?;
    drop(progress);
    let cosign_keys: Vec<TrustedKey> = args
        .cosign_key
        .iter()
        .map(|p| {
            Ok(TrustedKey {
                name: p.display().to_string(),
                key: crate::attest::load_public_key(p)?,
            })
        })
        .collect::<Result<_, CliError>>()?;
    let keyless = cosign_keyless(&args, home)?;
    let cosign = stella_evidence::cosign::examine(
        opened.store.as_ref(),
        &opened.image.root.digest,
        &cosign_keys,
        keyless
            .as_ref()
            .map(|(root, policy)| stella_evidence::cosign::Keyless {
                root,
                policy,
                now: crate::verify_bundle::now(),
            })
            .as_ref(),
    )
    .map_err(CliError::kinded)?;
    let ok = examined.verified() && cosign.ok();
    let answers: Vec<SymbolAnswer> = args
        .symbol
        .iter()
        .map(|name| examined.symbol(name).map_err(CliError::kinded))
        .collect::<Result<_, _>>()?;
    let digest = &opened.image.root.digest;
    if args.json {
        crate::print::json(
            &crate::print::Schema::new("verify"),
            &json!({
                "image": args.image,
                "digest": digest,
                "verified": ok,
                "record": examined.record,
                "artifacts": examined.verdicts,
                "failed": examined.count(Status::Failed),
                "untrusted": examined.count(Status::Untrusted),
                "superseded": examined.count(Status::Superseded),
                "symbols": answers,
                "cosign": cosign,
            }),
        )?;
    } else {
        let mut text = String::new();
        for a in &answers {
            text.push_str(&answer_text(a));
        }
        // With a question asked, the answer comes first and the table shows only what did not
        // verify; without one, every artifact.
        text.push_str(&rows(
            &args.image,
            &digest.to_string(),
            &examined,
            answers.is_empty(),
        ));
        // The closing line says the whole verdict, cosign's requirement included.
        text.push_str(&cosign_table(&cosign));
        text.push_str(&summary(&examined, ok));
        write_stdout(text.as_bytes())?;
    }
    // A question answers as grep does: yes only when the evidence verifies and every symbol
    // asked about is present.
    Ok(if ok && answers.iter().all(|a| a.present) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The trusted root and identity keyless cosign signatures are held to, when an identity flag
/// was given (then both the identity and the issuer are required, as cosign requires them).
fn cosign_keyless(
    args: &VerifyArgs,
    home: &Path,
) -> Result<Option<(TrustedRoot, IdentityPolicy)>, CliError> {
    if args.identity.is_empty() {
        if args.cosign_trusted_root.is_some() {
            return Err(CliError::input(anyhow!(
                "--cosign-trusted-root is for keyless cosign signatures: give the expected \
                 --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp] with it"
            )));
        }
        return Ok(None);
    }
    let policy = args.identity.policy()?;
    if !policy.is_complete() {
        return Err(CliError::input(anyhow!(
            "a keyless cosign signature is checked against both the signer's identity \
             (--certificate-identity or --certificate-identity-regexp) and its OIDC issuer \
             (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp): give both"
        )));
    }
    let (root, _) = crate::verify_bundle::sigstore_root(home, args.cosign_trusted_root.as_deref())?;
    Ok(Some((root, policy)))
}

/// The symbol tables of `reference` that a trusted record binds and a signed FuncProof of the
/// image backs: what `--symbols IMAGE` may name frames with. Refuses an image whose evidence
/// does not verify (signatures and bindings; the binaries are not replayed).
pub(crate) fn trusted_symbol_tables(
    reference: &str,
    insecure: bool,
    keys: &[PathBuf],
    trusted_root: Option<&Path>,
    home: &Path,
) -> Result<Vec<SymbolTable>, CliError> {
    let parsed = Reference::parse(reference).map_err(|e| {
        CliError::input(anyhow!(
            "--symbols {reference}: neither a file nor an image reference ({e})"
        ))
    })?;
    let opened = Opened::new(
        &parsed,
        insecure,
        trusted_keys(keys, "--symbols-key", home)?,
        trusted_root,
        home,
    )?;
    let examined = opened.examine(
        home,
        reference,
        None,
        &Replay::SignaturesOnly,
        &stella_evidence::progress::Traced,
    )?;
    if !examined.verified() {
        let reasons: Vec<String> = examined
            .verdicts
            .iter()
            .filter(|v| v.status == Status::Failed)
            .flat_map(|v| {
                v.reasons
                    .iter()
                    .map(move |r| format!("{} {}: {r}", v.kind.as_str(), v.name))
            })
            .take(5)
            .collect();
        return Err(CliError {
            code: crate::exit::FAILED,
            error: anyhow!(
                "--symbols {reference}: the image's evidence does not verify, so its symbols are \
                 not used: {}",
                reasons.join("; ")
            ),
        });
    }
    Ok(examined.tables)
}

fn answer_text(a: &SymbolAnswer) -> String {
    let mut text = String::new();
    if a.present {
        text.push_str(&format!(
            "symbol {}: PRESENT in {} function{} of verified FuncProofs\n",
            a.symbol,
            a.found.len(),
            if a.found.len() == 1 { "" } else { "s" }
        ));
        for f in a.found.iter().take(MAX_LISTED) {
            let log = f
                .log
                .iter()
                .map(|l| format!("log #{}", l.index))
                .collect::<Vec<_>>()
                .join(", ");
            text.push_str(&format!(
                "  {} (buildId {}) {} [{}, {}) blake3 {} {log}\n",
                f.binary,
                f.build_id.as_deref().unwrap_or("none"),
                f.sym,
                f.start,
                f.end,
                f.blake3,
            ));
        }
        if a.found.len() > MAX_LISTED {
            text.push_str(&format!(
                "  … and {} more (--json lists all)\n",
                a.found.len() - MAX_LISTED
            ));
        }
    } else {
        text.push_str(&format!(
            "symbol {}: ABSENT from all {} verified FuncProofs\n",
            a.symbol, a.binaries
        ));
        let unnamed: Vec<_> = a.unnamed().collect();
        if !unnamed.is_empty() {
            text.push_str(&format!(
                "  but {} of them name{} no function (stripped): absence by name proves nothing \
                 there: {}\n",
                unnamed.len(),
                if unnamed.len() == 1 { "s" } else { "" },
                unnamed
                    .iter()
                    .take(MAX_LISTED)
                    .map(|u| u.binary.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if a.absent_from.len() <= MAX_LISTED {
            for f in &a.absent_from {
                text.push_str(&format!(
                    "  {} (buildId {}, {} functions) {}\n",
                    f.binary,
                    f.build_id.as_deref().unwrap_or("none"),
                    f.functions,
                    f.funcproof,
                ));
            }
        } else {
            text.push_str("  (--json lists each FuncProof that shows it)\n");
        }
    }
    text.push('\n');
    text
}

/// cosign's signatures and attestations, when any were found or required.
fn cosign_table(report: &stella_evidence::cosign::CosignReport) -> String {
    if report.findings.is_empty() && !report.required {
        return String::new();
    }
    let mut text = String::from("\ncosign\n");
    if !report.findings.is_empty() {
        text.push_str(&format!(
            "{:<12} {:<10} {:<44} DETAIL\n",
            "KIND", "VERDICT", "SIGNER"
        ));
    }
    for f in &report.findings {
        let verdict = if f.verified { "ok" } else { "unverified" };
        let mut detail = vec![f.source.clone()];
        if let Some(layer) = f.layer.as_ref().or(f.manifest.as_ref()) {
            detail.push(layer.clone());
        }
        if let Some(t) = &f.predicate_type {
            detail.push(format!("predicate {t}"));
        }
        if let Some(r) = &f.docker_reference {
            detail.push(format!("reference {r}"));
        }
        if let Some(k) = &f.key {
            detail.push(format!("key {k}"));
        }
        if let Some(r) = &f.reason {
            detail.push(r.clone());
        }
        detail.extend(f.notes.iter().cloned());
        text.push_str(&format!(
            "{:<12} {verdict:<10} {:<44} {}\n",
            f.kind.as_str(),
            f.signer.as_deref().unwrap_or("-"),
            detail.join("; ")
        ));
    }
    if report.required {
        text.push_str(&match &report.reason {
            None => "cosign signature required: present and verified\n".to_owned(),
            Some(r) => format!("cosign signature required: FAILED: {r}\n"),
        });
    }
    text
}

pub(crate) fn table(image: &str, digest: &str, examined: &Examined, every_row: bool) -> String {
    let mut text = rows(image, digest, examined, every_row);
    text.push_str(&summary(examined, examined.verified()));
    text
}

/// The image, its record and one row per verdict, without the closing line.
fn rows(image: &str, digest: &str, examined: &Examined, every_row: bool) -> String {
    let verdicts: Vec<_> = examined
        .verdicts
        .iter()
        .filter(|v| every_row || v.status == Status::Failed)
        .collect();
    let mut text = format!("image {image}\ndigest {digest}\n");
    if let Some(r) = &examined.record {
        text.push_str(&format!("record {r}\n"));
    }
    if !verdicts.is_empty() {
        text.push('\n');
        let width = verdicts
            .iter()
            .map(|v| v.name.chars().count())
            .max()
            .unwrap_or(8)
            .clamp(8, 60);
        text.push_str(&format!(
            "{:<10} {:<width$} {:<10} DETAIL\n",
            "KIND", "ARTIFACT", "VERDICT"
        ));
        for v in verdicts {
            let log = v
                .log
                .iter()
                .map(|l| format!("log #{}", l.index))
                .collect::<Vec<_>>()
                .join(", ");
            let detail = match v.status {
                Status::Failed => v
                    .reasons
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                Status::Verified => [v.detail.clone().unwrap_or_default(), log]
                    .into_iter()
                    .chain(v.notes.iter().cloned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
                Status::Untrusted | Status::Superseded => v.notes.join("; "),
            };
            let verdict = match v.status {
                Status::Verified => "ok",
                Status::Failed => "FAILED",
                Status::Untrusted => "untrusted",
                Status::Superseded => "superseded",
            };
            text.push_str(&format!(
                "{:<10} {:<width$} {verdict:<10} {detail}\n",
                v.kind.as_str(),
                v.name,
            ));
        }
    }
    text
}

/// The closing line: the counts, and the verdict `verified`.
fn summary(examined: &Examined, verified: bool) -> String {
    let verified_count = examined.count(Status::Verified);
    let failed = examined.count(Status::Failed);
    let ignored = examined.count(Status::Untrusted) + examined.count(Status::Superseded);
    format!(
        "\n{verified_count} verified, {failed} failed, {ignored} ignored (untrusted or superseded): {}\n",
        if verified { "VERIFIED" } else { "NOT VERIFIED" }
    )
}
