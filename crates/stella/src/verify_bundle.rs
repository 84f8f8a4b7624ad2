//! `stella verify-bundle`: any Sigstore bundle (v0.1–v0.3, keyless or key-based, message
//! signature or DSSE), or a file of bundles one per line (GitHub's offline
//! `sha256:<digest>.jsonl`), verified offline for an artifact against a Sigstore trusted root.
//! The identity flags are shared with `stella verify-attestation`.
//!
//! Not here: what verification means (`stella_tlog::bundle_verify`), where the trusted root
//! comes from (`crate::trust`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;
use serde_json::{Value, json};
use stella_attest::keyless::pkix::PkixKey;
use stella_attest::keyless::{IdentityPolicy, Matcher, TrustedRoot, rfc3339};
use stella_core::Kinded as _;
use stella_tlog::bundle_verify::{
    Artifact, BundleVerifyError, VerifiedBundle, VerifiedSigner, VerifyOptions, verify_bundle,
};

use crate::exit::{CliError, Outcome};
use crate::input::Input;
use crate::print::{self, Schema};

/// Artifacts up to this size are read whole (an Ed25519 or SHA-384/512 message signature
/// needs the bytes); larger ones are hashed as they stream.
const MAX_ARTIFACT_IN_MEMORY: u64 = 64 << 20;
/// Largest bundle file read (a `.jsonl` of many bundles included).
const MAX_BUNDLE_FILE_BYTES: usize = 64 << 20;

/// The identity a keyless certificate must bind, with cosign's flags.
#[derive(Debug, Clone, Default, Args)]
pub struct IdentityArgs {
    /// The signer's identity: exactly one SAN of the certificate (a workflow URI, an email).
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,
    /// The signer's identity as a regular expression, matched anywhere in a SAN (anchor it
    /// with ^…$).
    #[arg(long, value_name = "RE")]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer the certificate names, exactly
    /// (e.g. https://token.actions.githubusercontent.com).
    #[arg(
        long,
        value_name = "ISSUER",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer as a regular expression.
    #[arg(long, value_name = "RE")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// GitHub workflow repository (`owner/name`) the certificate must name.
    #[arg(long, value_name = "OWNER/NAME")]
    pub certificate_github_workflow_repository: Option<String>,
    /// GitHub workflow git ref (e.g. refs/heads/main).
    #[arg(long, value_name = "REF")]
    pub certificate_github_workflow_ref: Option<String>,
    /// GitHub workflow name.
    #[arg(long, value_name = "NAME")]
    pub certificate_github_workflow_name: Option<String>,
    /// GitHub workflow trigger (e.g. push).
    #[arg(long, value_name = "EVENT")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// GitHub workflow commit SHA.
    #[arg(long, value_name = "SHA")]
    pub certificate_github_workflow_sha: Option<String>,
    /// GitHub runner environment (github-hosted or self-hosted).
    #[arg(long, value_name = "ENV")]
    pub certificate_github_runner_environment: Option<String>,
}

impl IdentityArgs {
    /// Whether no identity flag was given.
    pub fn is_empty(&self) -> bool {
        [
            &self.certificate_identity,
            &self.certificate_identity_regexp,
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
            &self.certificate_github_workflow_repository,
            &self.certificate_github_workflow_ref,
            &self.certificate_github_workflow_name,
            &self.certificate_github_workflow_trigger,
            &self.certificate_github_workflow_sha,
            &self.certificate_github_runner_environment,
        ]
        .iter()
        .all(|f| f.is_none())
    }

    /// The policy the flags describe.
    ///
    /// # Errors
    /// Exit 2 for a regular expression that does not compile.
    pub fn policy(&self) -> Result<IdentityPolicy, CliError> {
        let matcher =
            |exact: &Option<String>, re: &Option<String>, flag: &'static str| match (exact, re) {
                (Some(s), _) => Ok(Some(Matcher::Exact(s.clone()))),
                (None, Some(r)) => Matcher::regex(r, flag).map(Some),
                (None, None) => Ok(None),
            };
        Ok(IdentityPolicy {
            identity: matcher(
                &self.certificate_identity,
                &self.certificate_identity_regexp,
                "--certificate-identity-regexp",
            )
            .map_err(CliError::input)?,
            issuer: matcher(
                &self.certificate_oidc_issuer,
                &self.certificate_oidc_issuer_regexp,
                "--certificate-oidc-issuer-regexp",
            )
            .map_err(CliError::input)?,
            github_trigger: self.certificate_github_workflow_trigger.clone(),
            github_sha: self.certificate_github_workflow_sha.clone(),
            github_workflow_name: self.certificate_github_workflow_name.clone(),
            github_repository: self.certificate_github_workflow_repository.clone(),
            github_ref: self.certificate_github_workflow_ref.clone(),
            runner_environment: self.certificate_github_runner_environment.clone(),
        })
    }
}

/// `stella verify-bundle`
#[derive(Debug, Args)]
#[command(after_help = "\
Checks, offline and in order: the bundle (v0.1, v0.2, v0.3); the signature over ARTIFACT (a \
message signature whose digest must be the artifact's, or a DSSE envelope whose in-toto statement \
names the artifact as a subject); every transparency-log entry (Rekor v1 or v2: the logged body is \
this signature and signer, the inclusion proof leads to a checkpoint signed by a log of the \
trusted root, the signed entry timestamp verifies); every RFC 3161 timestamp (signed by a \
timestamp authority of the trusted root valid at its time). Keyless: at every proven signing time \
the certificate chains to a Fulcio authority of the trusted root and is valid, at least one \
embedded SCT verifies with a CT log of the root, and the certificate's identity and issuer are \
the expected ones (both required). Key-based: the signature is by --key.

ARTIFACT is a file, or sha256:<hex> when only its digest is at hand. BUNDLE may hold one bundle, \
or one per line (GitHub's offline sha256:<digest>.jsonl): it verifies when one of them verifies.
The trusted root is --trusted-root, else the one `stella trust update` stored in \
$STELLA_HOME/trust/sigstore, else the Sigstore public-good root this build ships.

Exit codes: 0 verified, 1 not verified (the reason on stderr), 2 unreadable input or bad flags.

Examples:
  stella verify-bundle --bundle app.sigstore.json \\
      --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz
  stella verify-bundle --bundle sha256:5891b5b5…jsonl --certificate-identity-regexp '^https://github.com/acme/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
      --certificate-github-workflow-repository acme/app sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
  stella verify-bundle --bundle blob.sigstore.json --key cosign.pub blob.bin
  stella verify-bundle --bundle staging.sigstore.json --trusted-root staging_trusted_root.json --json \\
      --certificate-identity me@example.com --certificate-oidc-issuer https://accounts.google.com a.txt")]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (or a file of bundles one per line), or - for stdin.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The signed artifact: a file, or sha256:<hex>.
    #[arg(value_name = "ARTIFACT")]
    pub artifact: String,
    /// The expected identity.
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// The public key (PEM) a key-based bundle must be signed with.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// The Sigstore trusted root (default: updated, else shipped public-good).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Print what was checked as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `stella verify-bundle --json`.
const VERIFY_BUNDLE: Schema = Schema::new("verify-bundle");

/// The artifact as the verifier needs it.
enum ArtifactInput {
    Bytes(Vec<u8>),
    Digest([u8; 32]),
}

impl ArtifactInput {
    fn read(arg: &str) -> Result<Self, CliError> {
        if let Some(hex) = arg.strip_prefix("sha256:") {
            let digest = stella_core::hex::decode_array::<32>(&hex.to_ascii_lowercase())
                .ok_or_else(|| {
                    CliError::input(anyhow!(
                        "ARTIFACT {arg:?}: sha256: must be followed by 64 hex digits"
                    ))
                })?;
            return Ok(ArtifactInput::Digest(digest));
        }
        let path = Path::new(arg);
        let file = std::fs::File::open(path)
            .map_err(|e| CliError::input(anyhow!("ARTIFACT {}: {e}", path.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        let mut reader = std::io::BufReader::new(file);
        if size <= MAX_ARTIFACT_IN_MEMORY {
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .map_err(|e| CliError::input(anyhow!("ARTIFACT {}: {e}", path.display())))?;
            return Ok(ArtifactInput::Bytes(bytes));
        }
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = reader
                .read(&mut buffer)
                .map_err(|e| CliError::input(anyhow!("ARTIFACT {}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(ArtifactInput::Digest(hasher.finalize().into()))
    }

    fn as_artifact(&self) -> Artifact<'_> {
        match self {
            ArtifactInput::Bytes(b) => Artifact::Bytes(b),
            ArtifactInput::Digest(d) => Artifact::Sha256(*d),
        }
    }
}

/// The bundles of a file: one JSON document, or one per non-empty line.
fn bundles(bytes: &[u8], name: &str) -> Result<Vec<Value>, CliError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => Ok(vec![value]),
        Err(whole) => {
            let lines: Vec<&[u8]> = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .collect();
            if lines.len() < 2 {
                return Err(CliError::input(anyhow!(
                    "{name}: not a JSON bundle ({whole})"
                )));
            }
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    serde_json::from_slice(line).map_err(|e| {
                        CliError::input(anyhow!("{name}: line {}: not a JSON bundle ({e})", i + 1))
                    })
                })
                .collect()
        }
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The `--json` document of a verified bundle.
pub fn report(verified: &VerifiedBundle, root_source: &str) -> Value {
    let signer = match &verified.signer {
        VerifiedSigner::Certificate {
            identity,
            authority,
            scts,
            validity,
        } => json!({
            "kind": "certificate",
            "identity": identity.san,
            "issuer": identity.issuer(),
            "githubWorkflowRepository": identity.github_repository(),
            "githubWorkflowRef": identity.github_ref(),
            "githubWorkflowTrigger": identity.github_trigger(),
            "githubWorkflowSha": identity.github_sha(),
            "githubWorkflowName": identity.github_workflow_name(),
            "runnerEnvironment": identity.runner_environment(),
            "certificateAuthority": authority,
            "verifiedScts": scts,
            "notBefore": rfc3339(validity.0),
            "notAfter": rfc3339(validity.1),
        }),
        VerifiedSigner::Key { hint } => json!({"kind": "key", "hint": hint}),
    };
    json!({
        "verified": true,
        "mediaType": verified.media_type,
        "content": verified.content,
        "predicateType": verified.predicate_type,
        "artifactSha256": verified.artifact_sha256,
        "signer": signer,
        "logEntries": verified.log_entries.iter().map(|e| json!({
            "log": e.log,
            "logIndex": e.log_index,
            "inclusionProof": e.inclusion_proven,
            "signedEntryTimestamp": e.promise_verified,
            "integratedTime": e.integrated_time.map(rfc3339),
        })).collect::<Vec<_>>(),
        "signingTimes": verified.times.iter().map(|t| json!({
            "time": rfc3339(t.time),
            "kind": t.kind,
            "source": t.source,
        })).collect::<Vec<_>>(),
        "trustedRoot": root_source,
    })
}

/// The Sigstore trusted root (`given`, else updated, else shipped), read, and where it came
/// from.
///
/// # Errors
/// Exit 2 for a root that cannot be read or is malformed.
pub(crate) fn sigstore_root(
    home: &Path,
    given: Option<&Path>,
) -> Result<(TrustedRoot, crate::trust::RootSource), CliError> {
    let (bytes, source) =
        crate::trust::sigstore_trusted_root(home, given).map_err(CliError::input)?;
    let root = TrustedRoot::from_json(&bytes)
        .map_err(|e| CliError::kinded(e).context(source.to_string()))?;
    Ok((root, source))
}

/// `stella verify-bundle`.
pub fn run(args: VerifyBundleArgs, home: &Path) -> Result<Outcome, CliError> {
    let policy = args.identity.policy()?;
    let key = match &args.key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::input(anyhow!("--key {}: {e}", path.display())))?;
            Some(
                PkixKey::from_pem(&text, &format!("--key {}", path.display()))
                    .map_err(CliError::input)?,
            )
        }
        None => None,
    };
    let (root, root_source) = sigstore_root(home, args.trusted_root.as_deref())?;
    let artifact = ArtifactInput::read(&args.artifact)?;
    let input = Input::new(args.bundle.clone());
    let bytes = input.read(MAX_BUNDLE_FILE_BYTES)?;
    let documents = bundles(&bytes, &input.name())?;
    let options = VerifyOptions {
        root: &root,
        policy: Some(&policy),
        key: key.as_ref(),
        now: now(),
    };
    let mut refusals: Vec<(usize, BundleVerifyError)> = Vec::new();
    for (i, document) in documents.iter().enumerate() {
        match verify_bundle(document, artifact.as_artifact(), &options) {
            Ok(verified) => {
                return verified_ok(&verified, &root_source.to_string(), &input, args.json);
            }
            Err(e) => refusals.push((i, e)),
        }
    }
    // One bundle: an unreadable one is bad input (exit 2); a refused one a clean "no".
    if let [(_, e)] = refusals.as_slice()
        && e.kind().exit_code() == crate::exit::USAGE
    {
        let (_, e) = refusals.remove(0);
        return Err(CliError::kinded(e).context(input.name()));
    }
    let reason = if let [(_, e)] = refusals.as_slice() {
        e.to_string()
    } else {
        refusals
            .iter()
            .map(|(i, e)| format!("line {}: {e}", i + 1))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if args.json {
        print::json(
            &VERIFY_BUNDLE,
            &json!({"verified": false, "reason": reason, "trustedRoot": root_source.to_string()}),
        )?;
    }
    eprintln!("{}: verification failed: {reason}", input.name());
    Ok(Outcome::Failed)
}

fn verified_ok(
    verified: &VerifiedBundle,
    root_source: &str,
    input: &Input,
    as_json: bool,
) -> Result<Outcome, CliError> {
    if as_json {
        print::json(&VERIFY_BUNDLE, &report(verified, root_source))?;
        return Ok(Outcome::Success);
    }
    let who = match &verified.signer {
        VerifiedSigner::Certificate { identity, .. } => format!(
            "{} (issuer {})",
            identity.san.join(", "),
            identity.issuer().unwrap_or("?")
        ),
        VerifiedSigner::Key { hint } => format!("key {hint}"),
    };
    let times: Vec<String> = verified
        .times
        .iter()
        .map(|t| format!("{} ({} {})", rfc3339(t.time), t.kind, t.source))
        .collect();
    let text = format!(
        "{}: verified: {} of sha256:{} signed by {who}; {} log entr{}; signing time {}; \
         trusted root: {root_source}\n",
        input.name(),
        verified.content,
        verified.artifact_sha256,
        verified.log_entries.len(),
        if verified.log_entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        if times.is_empty() {
            "not proven (key-based)".to_owned()
        } else {
            times.join(", ")
        },
    );
    crate::output::write_stdout(text.as_bytes())?;
    Ok(Outcome::Success)
}
