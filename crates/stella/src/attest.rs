//! `stella key`, `stella attest`, `stella verify-attestation` and `stella predicates`: reading
//! key files and passwords, building statements from the command line, and reporting
//! verification. Signing, verification and the formats live in `stella-attest`.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::anyhow;
use serde_json::{Value, json};
use stella_attest::predicates::{self, REGISTRY};
use stella_attest::{
    AttestError, PrivateKey, PublicKey, Signer as _, Statement, Subject, Verified, cosign,
};
use stella_core::digest::Sha256Writer;
use stella_core::{Digest, jcs};
use stella_evidence::attestation::{self, AttestationError};
use stella_evidence::keys::{self, DefaultKey, KeyError};
use stella_tlog::audit::{EntryCheck, Unproven};
use stella_tlog::log::TileReader;
use stella_tlog::sign::SignError;
use stella_tlog::{LogBackend, TrustedLog};
use zeroize::Zeroizing;

use crate::cli::{
    AttestArgs, AttestCommand, KeyCommand, SignArgs, SignedFormat, VerifyAttestationArgs,
};
use crate::exit::{CliError, Outcome};
use crate::input::{Input, human_bytes};
use crate::output::{write_atomically, write_private_atomically_with, write_stdout};
use crate::print::{self, Schema};

/// Largest key file read.
const MAX_KEY_BYTES: usize = 64 << 10;
/// Largest trusted root read.
pub(crate) const MAX_TRUSTED_ROOT_BYTES: usize = 1 << 20;
/// Largest bundle or envelope read: the largest payload in base64 plus its wrapping.
pub(crate) const MAX_BUNDLE_BYTES: usize = stella_attest::MAX_PAYLOAD_BYTES / 3 * 4 + (1 << 20);

/// The password of a key file: `STELLA_PASSWORD`, then `COSIGN_PASSWORD`, then a prompt on the
/// terminal (twice when `confirm`).
pub(crate) fn password(confirm: bool, what: &str) -> Result<Zeroizing<String>, CliError> {
    for var in ["STELLA_PASSWORD", "COSIGN_PASSWORD"] {
        if let Ok(value) = std::env::var(var) {
            return Ok(Zeroizing::new(value));
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::input(anyhow!(
            "{what} needs a password: set STELLA_PASSWORD (or COSIGN_PASSWORD), or run on a terminal"
        )));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| CliError::environment(anyhow!("reading the password: {e}")))
    };
    let first = ask(&format!("Password for {what}: "))?;
    if confirm && *ask("Again: ")? != *first {
        return Err(CliError::input(anyhow!("the two passwords differ")));
    }
    Ok(first)
}

fn read_text(path: &Path, limit: usize) -> Result<String, CliError> {
    let input = Input::new(path.to_path_buf());
    let bytes = input.read(limit)?;
    String::from_utf8(bytes)
        .map_err(|_| CliError::input(anyhow!("{}: not a text (PEM) file", input.name())))
}

fn key_error(path: &Path, e: AttestError) -> CliError {
    CliError::input(anyhow!(e)).context(path.display().to_string())
}

pub(crate) fn load_private_key(path: &Path) -> Result<PrivateKey, CliError> {
    let text = read_text(path, MAX_KEY_BYTES)?;
    let pw = if cosign::is_encrypted(&text) {
        password(false, &format!("the private key {}", path.display()))?
    } else {
        Zeroizing::new(String::new())
    };
    cosign::read_private_key(&text, pw.as_bytes()).map_err(|e| key_error(path, e))
}

pub(crate) fn load_public_key(path: &Path) -> Result<PublicKey, CliError> {
    let text = read_text(path, MAX_KEY_BYTES)?;
    PublicKey::from_pem(&text).map_err(|e| key_error(path, e))
}

pub(crate) fn with_extension(prefix: &Path, ext: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// `stella key generate | public`.
pub fn key(cmd: KeyCommand) -> Result<Outcome, CliError> {
    match cmd {
        KeyCommand::Generate {
            algorithm,
            out,
            force,
            json,
        } => {
            let algorithm =
                stella_attest::Algorithm::from_str(&algorithm).map_err(CliError::input)?;
            let (key_path, pub_path) = (with_extension(&out, "key"), with_extension(&out, "pub"));
            for path in [&key_path, &pub_path] {
                if path.exists() && !force {
                    return Err(CliError::input(anyhow!(
                        "{} exists; choose another --out or pass --force to replace it",
                        path.display()
                    )));
                }
            }
            let pw = password(true, "the new private key")?;
            let key = PrivateKey::generate(algorithm).map_err(CliError::environment)?;
            let pem =
                cosign::write_private_key(&key, pw.as_bytes()).map_err(CliError::environment)?;
            write_private_atomically_with(&key_path, |file| {
                file.write_all(pem.as_bytes())
                    .map_err(|e| CliError::environment(anyhow!(e)))
            })?;
            write_atomically(&pub_path, key.public_key().to_pem().as_bytes())?;
            if json {
                print::json(
                    &Schema::new("key.generate"),
                    &json!({
                        "algorithm": algorithm.name(),
                        "keyId": key.key_id(),
                        "privateKey": key_path,
                        "publicKey": pub_path,
                    }),
                )?;
            } else {
                eprintln!(
                    "{algorithm} key pair written: private {} (encrypted), public {}; key id {}",
                    key_path.display(),
                    pub_path.display(),
                    key.key_id()
                );
            }
            Ok(Outcome::Success)
        }
        KeyCommand::Public { key, json } => {
            let text = read_text(&key, MAX_KEY_BYTES)?;
            let public = if text.contains("-----BEGIN PUBLIC KEY-----") {
                PublicKey::from_pem(&text).map_err(|e| key_error(&key, e))?
            } else {
                load_private_key(&key)?.public_key().clone()
            };
            if json {
                print::json(
                    &Schema::new("key.public"),
                    &json!({
                        "algorithm": public.algorithm().name(),
                        "keyId": public.hint(),
                        "pem": public.to_pem(),
                    }),
                )?;
            } else {
                write_stdout(public.to_pem().as_bytes())?;
            }
            Ok(Outcome::Success)
        }
    }
}

/// `stella attest [sbom]`.
pub fn attest(args: AttestArgs, home: &Path) -> Result<Outcome, CliError> {
    match args.command {
        Some(AttestCommand::Sbom {
            sign,
            bom,
            name,
            timestamp,
            max_size,
        }) => attest_sbom(&sign, &bom, name, timestamp, max_size, home),
        None => attest_statement(args, home),
    }
}

fn attest_statement(args: AttestArgs, home: &Path) -> Result<Outcome, CliError> {
    require_keys(&args.sign)?;
    let predicate_type = required(args.predicate_type.as_deref(), "--type URI")?;
    let predicate_type = predicates::resolve(predicate_type)
        .map_err(|e| CliError::input(anyhow!("--type: {e}")))?
        .uri;
    let predicate_type = predicate_type.as_str();
    let predicate_path = required(args.predicate.as_deref(), "--predicate FILE")?;
    let mut subjects = Vec::new();
    for spec in &args.subject {
        subjects.push(parse_subject(spec)?);
    }
    for file in &args.subject_file {
        subjects.push(Subject::new(file_name(file), &file_sha256(file)?));
    }
    if subjects.is_empty() {
        return Err(CliError::input(anyhow!(
            "no subjects: name what the statement is about with --subject NAME=sha256:HEX or \
             --subject-file FILE"
        )));
    }
    let input = Input::new(predicate_path.to_path_buf());
    // The predicate travels inside the DSSE payload, whose size is bounded for every verifier.
    if let Ok(meta) = std::fs::metadata(predicate_path)
        && meta.is_file()
        && meta.len() > stella_attest::MAX_PAYLOAD_BYTES as u64
    {
        return Err(CliError::input(anyhow!(
            "{}: {} is larger than an attestation payload may be ({} at most)",
            input.name(),
            human_bytes(meta.len()),
            human_bytes(stella_attest::MAX_PAYLOAD_BYTES as u64)
        )));
    }
    let bytes = input.read(stella_attest::MAX_PAYLOAD_BYTES)?;
    let predicate = jcs::parse(&bytes)
        .map_err(|e| CliError::input(anyhow!(e)).context(input.name()))?
        .to_serde();
    predicates::validate(predicate_type, &predicate)
        .map_err(|e| CliError::input(anyhow!(e)).context(input.name()))?;
    let statement = Statement::new(subjects, predicate_type, predicate).map_err(CliError::input)?;
    // Everything checkable is checked before the password is asked for.
    sign_and_write(&statement, &args.sign, home)
}

fn attest_sbom(
    sign: &SignArgs,
    bom: &Path,
    name: Option<String>,
    timestamp: Option<String>,
    max_size: usize,
    home: &Path,
) -> Result<Outcome, CliError> {
    require_keys(sign)?;
    let input = Input::with_limit_flag(bom.to_path_buf(), crate::input::MAX_SIZE_FLAG);
    let bytes = input.read(max_size)?;
    let timestamp = match timestamp {
        Some(t) if stella_core::time::is_rfc3339_utc(&t) => t,
        Some(t) => {
            return Err(CliError::input(anyhow!(
                "--timestamp {t:?} is not an RFC 3339 UTC time such as 2026-01-01T00:00:00Z"
            )));
        }
        None => stella_core::time::rfc3339_utc(source_date_epoch()?),
    };
    let name = match name {
        Some(n) => n,
        None => sbom_name(&bytes).unwrap_or_else(|| {
            if input.is_stdin() {
                "sbom".to_owned()
            } else {
                file_name(bom)
            }
        }),
    };
    let producer = format!("stella/{}", env!("CARGO_PKG_VERSION"));
    let (statement, _) = predicates::sbom_statement(&bytes, &name, &producer, &timestamp)
        .map_err(|e| CliError::input(anyhow!(e)).context(input.name()))?;
    sign_and_write(&statement, sign, home)
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
pub(crate) fn source_date_epoch() -> Result<i64, CliError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<i64>().map_err(|_| {
            CliError::input(anyhow!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds"
            ))
        }),
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| CliError::environment(anyhow!("the clock is before 1970: {e}")))?;
            Ok(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
        }
    }
}

/// `metadata.component` as `name@version` (or `name`).
fn sbom_name(bytes: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(bytes).ok()?;
    let component = doc.get("metadata")?.get("component")?;
    let name = component.get("name")?.as_str()?;
    Some(match component.get("version").and_then(Value::as_str) {
        Some(v) if !v.is_empty() => format!("{name}@{v}"),
        _ => name.to_owned(),
    })
}

fn require_keys(sign: &SignArgs) -> Result<(), CliError> {
    if sign.key.is_empty() {
        return Err(CliError::input(anyhow!(
            "--key KEY is required; see stella attest --help"
        )));
    }
    Ok(())
}

fn sign_and_write(
    statement: &Statement,
    sign: &SignArgs,
    home: &Path,
) -> Result<Outcome, CliError> {
    let keys = sign
        .key
        .iter()
        .map(|path| load_private_key(path))
        .collect::<Result<Vec<_>, _>>()?;
    let signers: Vec<&dyn stella_attest::Signer> = keys
        .iter()
        .map(|k| k as &dyn stella_attest::Signer)
        .collect();
    if keys.is_empty() {
        return Err(CliError::input(anyhow!("--key KEY is required")));
    }
    let backend = log_backend(home, sign.no_tlog, sign.log_url.as_deref())?;
    // The bundle names one key (Sigstore bundles carry one key hint); every signature carries
    // its own key id. The first signature is the one logged.
    let signed = stella_tlog::sign::sign_and_log(statement, &signers, backend.as_deref())
        .map_err(sign_error)?;
    let bytes = match sign.format {
        SignedFormat::Bundle => signed.bundle.to_canonical_json().map_err(CliError::input)?,
        SignedFormat::Dsse => {
            jcs::to_canonical(&signed.envelope().to_json_value()).map_err(CliError::input)?
        }
    };
    let ids: Vec<String> = keys.iter().map(|k| k.key_id()).collect();
    let logged = signed.entries.first().map_or_else(
        || "not logged".to_owned(),
        |e| format!("log entry {}", e.log_index),
    );
    match &sign.output {
        Some(path) => {
            write_atomically(path, &bytes)?;
            eprintln!(
                "signed {} about {} with key {} ({logged}): {}",
                statement.predicate_type,
                print::count(statement.subject.len(), "subject", "subjects"),
                ids.join(", "),
                path.display()
            );
        }
        None => write_stdout(&bytes)?,
    }
    Ok(Outcome::Success)
}

/// The log signatures go to: none with `--no-tlog`, the Rekor v2-compatible log at
/// `log_url`, else the embedded log (created on first use).
pub(crate) fn log_backend(
    home: &Path,
    no_tlog: bool,
    log_url: Option<&str>,
) -> Result<Option<Box<dyn LogBackend>>, CliError> {
    if no_tlog {
        return Ok(None);
    }
    Ok(Some(match log_url {
        Some(url) => {
            Box::new(stella_tlog::client::RekorClient::new(url).map_err(crate::log::tlog_error)?)
        }
        None => Box::new(crate::log::open(home)?),
    }))
}

/// A signing failure is the input's; a log failure is named as the log's commands name it.
fn sign_error(e: SignError) -> CliError {
    match e {
        SignError::Sign(e) => CliError::input(e),
        SignError::Log(e) => crate::log::tlog_error(e).context("transparency log"),
        other => CliError::kinded(other),
    }
}

fn required<'a, T: ?Sized>(value: Option<&'a T>, flag: &str) -> Result<&'a T, CliError> {
    value.ok_or_else(|| CliError::input(anyhow!("{flag} is required; see stella attest --help")))
}

fn parse_subject(spec: &str) -> Result<Subject, CliError> {
    let (name, digest) = spec.rsplit_once('=').ok_or_else(|| {
        CliError::input(anyhow!(
            "--subject {spec:?} is not NAME=sha256:HEX (e.g. app=sha256:5891b5b5…)"
        ))
    })?;
    let digest = Digest::from_str(digest)
        .map_err(|e| CliError::input(anyhow!("--subject {spec:?}: {e}")))?;
    Ok(Subject::new(name, &digest))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// SHA-256 of a file, streamed.
fn file_sha256(path: &Path) -> Result<Digest, CliError> {
    let open_err = |e: std::io::Error| {
        let err = anyhow!("{}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::input(err)
        } else {
            CliError::environment(err)
        }
    };
    // A FIFO or a device would block the read (or never end): refused by name.
    let (mut file, _) = stella_core::file::open_regular(path).map_err(crate::input::open_error)?;
    let mut hasher = Sha256Writer::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(open_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// `stella verify-attestation`.
pub fn verify(args: VerifyAttestationArgs, home: &Path) -> Result<Outcome, CliError> {
    if let Some(t) = &args.predicate_type {
        predicates::resolve(t).map_err(|e| CliError::input(anyhow!("--type: {e}")))?;
    }
    let mut digests = Vec::new();
    for d in &args.subject_digest {
        digests.push(
            Digest::from_str(d)
                .map_err(|e| CliError::input(anyhow!("--subject-digest {d:?}: {e}")))?,
        );
    }
    for f in &args.subject_file {
        digests.push(file_sha256(f)?);
    }
    let input = Input::new(args.bundle.clone());
    let bytes = input.read(MAX_BUNDLE_BYTES)?;
    let value = jcs::parse(&bytes)
        .map_err(|e| CliError::input(anyhow!(e)).context(input.name()))?
        .to_serde();
    let fail = |reason: String| -> Result<Outcome, CliError> {
        if args.json {
            print::json(
                &VERIFY_ATTESTATION,
                &json!({"verified": false, "reason": reason}),
            )?;
        }
        eprintln!("{}: verification failed: {reason}", input.name());
        Ok(Outcome::Failed)
    };
    if is_keyless(&value) {
        return match verify_keyless(&args, &value, &digests, home)? {
            Ok(()) => Ok(Outcome::Success),
            Err(reason) => fail(reason),
        };
    }
    let Some(key_path) = &args.key else {
        return Err(CliError::input(anyhow!(
            "{}: signed with a key, not a certificate: give the public key with --key",
            input.name()
        )));
    };
    let key = load_public_key(key_path)?;
    let trusted = trusted_logs(args.trusted_root.as_deref(), home)?;
    let local = crate::log::open_existing(home)?;
    let remote = match &args.log_url {
        Some(url) => {
            Some(stella_tlog::client::RekorClient::new(url).map_err(crate::log::tlog_error)?)
        }
        None => None,
    };
    let witness = stella_tlog::witness::Witness::new(&home.join("witness"));
    let check = trusted.as_deref().map(|logs| EntryCheck {
        logs,
        witness: &witness,
        local: local.as_ref(),
        remote: remote.as_ref().map(|r| r as &dyn TileReader),
        // Where the log is optional, a consistency that cannot be proven is a warning.
        unproven: if args.require_tlog {
            Unproven::Fails
        } else {
            Unproven::Warns
        },
    });
    let expected = attestation::Expected {
        key: &key,
        predicate_type: args.predicate_type.as_deref(),
        digests: &digests,
        log_required: args.require_tlog,
    };
    let attested = match attestation::verify(&value, &expected, check.as_ref()) {
        Ok(Ok(attested)) => attested,
        Ok(Err(refusal)) => return fail(refusal.to_string()),
        Err(AttestationError::Unreadable(e)) => {
            return Err(CliError::input(anyhow!(e)).context(input.name()));
        }
        Err(AttestationError::Log(e)) => return Err(crate::log::tlog_error(*e)),
        Err(other) => return Err(CliError::kinded(other)),
    };
    for warning in &attested.warnings {
        tracing::warn!("{warning}");
    }
    let (verified, logged) = (attested.verified, attested.entries);
    report_success(&verified, &logged, args.json)?;
    Ok(Outcome::Success)
}

/// Whether a bundle is keyless: its verification material is a certificate (v0.3) or a chain.
fn is_keyless(document: &Value) -> bool {
    let material = &document["verificationMaterial"];
    material.get("certificate").is_some() || material.get("x509CertificateChain").is_some()
}

/// A keyless bundle, verified as `stella verify-bundle` verifies it, for the subject asked
/// (the first `--subject-digest`/`--subject-file`, else the statement's first sha256 subject),
/// then its statement checked as a key-based one is. `Ok(Err(reason))` is a clean "no".
fn verify_keyless(
    args: &VerifyAttestationArgs,
    document: &Value,
    digests: &[Digest],
    home: &Path,
) -> Result<Result<(), String>, CliError> {
    use stella_core::Kinded as _;
    use stella_tlog::bundle_verify::{Artifact, VerifyOptions, verify_bundle};
    let policy = args.identity.policy()?;
    let (root, source) = crate::verify_bundle::sigstore_root(home, args.trusted_root.as_deref())?;
    let bundle = stella_attest::bundle::SigstoreBundle::from_json_value(document)
        .map_err(|e| CliError::kinded(e).context(args.bundle.display().to_string()))?;
    let stella_attest::bundle::BundleContent::Dsse(envelope) = &bundle.content else {
        return Ok(Err(
            "the bundle signs a message, not an attestation: verify it with `stella \
             verify-bundle --bundle FILE ARTIFACT`"
                .to_owned(),
        ));
    };
    let statement = match Statement::from_json(&envelope.payload) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("the envelope's payload: {e}"))),
    };
    let subject = match digests.first() {
        Some(d) => d.clone(),
        None => match statement
            .subject
            .iter()
            .find_map(|s| s.digest.get("sha256"))
            .and_then(|hex| Digest::from_str(&format!("sha256:{hex}")).ok())
        {
            Some(d) => d,
            None => return Ok(Err("the statement names no sha256 subject".to_owned())),
        },
    };
    let Some(sha256) = stella_core::hex::decode_array::<32>(subject.hex()) else {
        return Err(CliError::input(anyhow!(
            "{subject}: only sha256 subjects can be checked against a keyless bundle"
        )));
    };
    let options = VerifyOptions {
        root: &root,
        policy: Some(&policy),
        key: None,
        now: crate::verify_bundle::now(),
    };
    let verified = match verify_bundle(document, Artifact::Sha256(sha256), &options) {
        Ok(v) => v,
        Err(e) if e.kind().exit_code() == crate::exit::USAGE => {
            return Err(CliError::kinded(e).context(args.bundle.display().to_string()));
        }
        Err(e) => return Ok(Err(e.to_string())),
    };
    if args.require_tlog && verified.log_entries.is_empty() {
        return Ok(Err(
            "the bundle carries no transparency-log entry (--require-tlog)".to_owned(),
        ));
    }
    if let Err(e) = predicates::check_statement(&statement, args.predicate_type.as_deref(), digests)
    {
        return Ok(Err(e.to_string()));
    }
    if args.json {
        let mut report = crate::verify_bundle::report(&verified, &source.to_string());
        report["statementType"] = json!(statement.statement_type);
        report["subjects"] = json!(statement.subject);
        report["predicate"] = statement.predicate.clone();
        print::json(&VERIFY_ATTESTATION, &report)?;
        return Ok(Ok(()));
    }
    let mut text = String::from("Verified OK\n");
    if let stella_tlog::bundle_verify::VerifiedSigner::Certificate { identity, .. } =
        &verified.signer
    {
        text.push_str(&format!(
            "  certificate:   {} (issuer {})\n",
            identity.san.join(", "),
            identity.issuer().unwrap_or("?")
        ));
    }
    text.push_str(&format!(
        "  predicateType: {}\n  statement:     {}\n",
        statement.predicate_type, statement.statement_type
    ));
    for s in &statement.subject {
        let digests: Vec<String> = s.digest.iter().map(|(a, h)| format!("{a}:{h}")).collect();
        text.push_str(&format!(
            "  subject:       {} {}\n",
            s.name,
            digests.join(" ")
        ));
    }
    for e in &verified.log_entries {
        text.push_str(&format!("  log entry:     {} #{}\n", e.log, e.log_index));
    }
    for t in &verified.times {
        text.push_str(&format!(
            "  signing time:  {} ({} {})\n",
            stella_attest::keyless::rfc3339(t.time),
            t.kind,
            t.source
        ));
    }
    text.push_str(&format!("  trusted root:  {source}\n"));
    write_stdout(text.as_bytes())?;
    Ok(Ok(()))
}

/// The logs a verification trusts: those of the trusted-root file at `path` (read as every
/// input is, so `-` is standard input), else the embedded log's own root, else none.
pub(crate) fn trusted_logs(
    path: Option<&Path>,
    home: &Path,
) -> Result<Option<Vec<TrustedLog>>, CliError> {
    match path {
        Some(path) => {
            let input = Input::new(path.to_path_buf());
            let bytes = input.read(MAX_TRUSTED_ROOT_BYTES)?;
            stella_tlog::audit::trusted_logs_from_document(&bytes)
                .map(Some)
                .map_err(|e| CliError::input(anyhow!(e)).context(input.name()))
        }
        None => match crate::log::open_existing(home)? {
            Some(log) => stella_tlog::audit::trusted_logs_of(&log)
                .map(Some)
                .map_err(CliError::kinded),
            None => Ok(None),
        },
    }
}

fn report_success(
    verified: &Verified,
    logged: &[stella_tlog::VerifiedEntry],
    as_json: bool,
) -> Result<(), CliError> {
    let statement = &verified.statement;
    if as_json {
        let entries: Vec<Value> = logged
            .iter()
            .map(|e| {
                json!({
                    "origin": e.origin,
                    "logIndex": e.log_index,
                    "treeSize": e.checkpoint.size,
                })
            })
            .collect();
        return print::json(
            &VERIFY_ATTESTATION,
            &json!({
                "verified": true,
                "keyIds": verified.keyids,
                "statementType": statement.statement_type,
                "predicateType": statement.predicate_type,
                "subjects": statement.subject,
                "tlogEntries": entries,
                "predicate": statement.predicate,
            }),
        );
    }
    let mut text = format!(
        "Verified OK\n  key:           {}\n  predicateType: {}\n  statement:     {}\n",
        verified.keyids.join(", "),
        statement.predicate_type,
        statement.statement_type
    );
    for subject in &statement.subject {
        let digests: Vec<String> = subject
            .digest
            .iter()
            .map(|(a, h)| format!("{a}:{h}"))
            .collect();
        text.push_str(&format!(
            "  subject:       {} {}\n",
            subject.name,
            digests.join(" ")
        ));
    }
    if logged.is_empty() {
        text.push_str("  log entries:   none (not logged)\n");
    }
    for e in logged {
        text.push_str(&format!(
            "  log entry:     {} #{} (inclusion proven in checkpoint of {} entries)\n",
            e.origin, e.log_index, e.checkpoint.size
        ));
    }
    write_stdout(text.as_bytes())
}

/// `stella verify-attestation --json`: the signed predicate is another format's document, and
/// the subjects' digests are keyed by algorithm.
const VERIFY_ATTESTATION: Schema = Schema::new("verify-attestation")
    .with_embedded(&["/predicate"])
    .with_data_maps(&["/subjects/*/digest"]);

/// `stella predicates [TYPE] [--json]`.
pub fn predicates(name: Option<&str>, as_json: bool) -> Result<Outcome, CliError> {
    match name {
        Some(n) => {
            let p = predicates::find(n).ok_or_else(|| {
                let known: Vec<&str> = REGISTRY.iter().map(|p| p.name).collect();
                CliError::input(anyhow!(
                    "unknown predicate type {n:?}; Stella's are: {}",
                    known.join(", ")
                ))
            })?;
            write_stdout(p.schema.as_bytes())?;
        }
        None if as_json => {
            let list: Vec<Value> = REGISTRY
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name,
                        "uri": p.uri,
                        "description": p.description,
                        "predicateSchema": serde_json::from_str::<Value>(p.schema).unwrap_or(Value::Null),
                    })
                })
                .collect();
            print::json(
                &Schema::new("predicates").with_embedded(&["/predicates/*/predicateSchema"]),
                &json!({ "predicates": list }),
            )?;
        }
        None => {
            let mut text = String::new();
            for p in &REGISTRY {
                text.push_str(&format!(
                    "{:<14} {}\n{:<14} {}\n",
                    p.name, p.uri, "", p.description
                ));
            }
            write_stdout(text.as_bytes())?;
        }
    }
    Ok(Outcome::Success)
}

/// What signing evidence and attaching it to an image needs: the image's store and manifest,
/// the signing key (`sign_key`, else the default key, made when missing, and said so) and the
/// log the signature goes into. `flag` names the image in errors (`--image`, `--attach`).
pub(crate) struct Attaching {
    pub store: Box<dyn stella_oci::ArtifactStore>,
    pub subject: stella_oci::store::Stored,
    pub signer: PrivateKey,
    pub log: Option<Box<dyn LogBackend>>,
}

impl Attaching {
    pub(crate) fn open(
        reference: &stella_oci::Reference,
        insecure: bool,
        sign_key: Option<&Path>,
        home: &Path,
        flag: &str,
    ) -> Result<Self, CliError> {
        let store = crate::oci::open_store_for_writing(reference, insecure)?;
        let subject = store
            .get_manifest(reference.target())
            .map_err(|e| CliError::kinded(e).context(format!("{flag} {reference}")))?;
        let (signer, created) = scan_key(sign_key, home)?;
        if created {
            eprintln!(
                "created the default signing key in {}",
                home.join("keys").display()
            );
        }
        let log = log_backend(home, false, None)?;
        Ok(Attaching {
            store,
            subject,
            signer,
            log,
        })
    }
}

/// The signing key of `stella scan`: `explicit` when given, else the default key of `home`,
/// made on first use (see `stella_evidence::keys`). The key and whether it was just made.
///
/// A new default key always has a password: STELLA_PASSWORD or COSIGN_PASSWORD (not empty),
/// else one asked twice on the terminal; without either it is exit 2. An existing default key
/// opens with whatever password it has, the empty one of older homes included.
pub(crate) fn scan_key(
    explicit: Option<&Path>,
    home: &Path,
) -> Result<(PrivateKey, bool), CliError> {
    if let Some(path) = explicit {
        return Ok((load_private_key(path)?, false));
    }
    let default = DefaultKey::of(home);
    if let Some(key) = open_default_key(&default)? {
        return Ok((key, false));
    }
    // Asked before anything is made, so that a missing password leaves the home untouched.
    let pw = new_key_password(&default.private)?;
    default.create(pw.as_bytes()).map_err(|e| match e {
        KeyError::WrongPassword { .. } => wrong_password(&default.private),
        other => CliError::kinded(other),
    })
}

/// The password of a key file from the environment: STELLA_PASSWORD, else COSIGN_PASSWORD (the
/// variable's name with it).
fn env_password() -> Option<(&'static str, Zeroizing<String>)> {
    ["STELLA_PASSWORD", "COSIGN_PASSWORD"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().map(|v| (var, Zeroizing::new(v))))
}

/// The password a new default key is made with: never empty.
fn new_key_password(key_path: &Path) -> Result<Zeroizing<String>, CliError> {
    let refuse = |why: String| {
        CliError::input(anyhow!(
            "{why}: a new default signing key ({}) is never created without a password; set \
             STELLA_PASSWORD to one, or pass --key KEY",
            key_path.display()
        ))
    };
    match env_password() {
        Some((var, pw)) if pw.is_empty() => Err(refuse(format!("{var} is empty"))),
        Some((_, pw)) => Ok(pw),
        None if !std::io::stdin().is_terminal() => Err(refuse(
            "neither STELLA_PASSWORD nor COSIGN_PASSWORD is set and there is no terminal to \
             ask on"
                .to_owned(),
        )),
        None => {
            let pw = password(
                true,
                &format!("the new default signing key {}", key_path.display()),
            )?;
            if pw.is_empty() {
                return Err(refuse("the password given is empty".to_owned()));
            }
            Ok(pw)
        }
    }
}

fn wrong_password(key_path: &Path) -> CliError {
    CliError::input(anyhow!(
        "{}: the password does not open the default key; set STELLA_PASSWORD to the password \
         it was created with, or pass --key",
        key_path.display()
    ))
}

/// The default key when there is one, opened with the environment's password, else the empty
/// one of older homes (then a prompt on a terminal).
fn open_default_key(default: &DefaultKey) -> Result<Option<PrivateKey>, CliError> {
    if !default.exists() {
        return Ok(None);
    }
    let path = &default.private;
    let text = default.text().map_err(CliError::kinded)?;
    let open = |pw: &[u8]| keys::open_text(path, &text, pw).map_err(CliError::kinded);
    if let Some((_, pw)) = env_password() {
        return open(pw.as_bytes())?
            .map(Some)
            .ok_or_else(|| wrong_password(path));
    }
    if let Some(key) = open(b"")? {
        return Ok(Some(key));
    }
    if !std::io::stdin().is_terminal() {
        return Err(wrong_password(path));
    }
    let pw = password(false, &format!("the default key {}", path.display()))?;
    open(pw.as_bytes())?
        .map(Some)
        .ok_or_else(|| wrong_password(path))
}
