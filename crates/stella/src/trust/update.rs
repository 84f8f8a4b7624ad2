//! `stella trust update`: the Sigstore trusted root fetched from a TUF repository and verified
//! by its metadata before anything is stored.
//!
//! The TUF client work (the root rotation chain, signature thresholds, expiry, version rollback,
//! snapshot/timestamp consistency, target lengths and hashes, consistent snapshots) is `tough`'s;
//! here are its transport (reqwest, honouring `--ca-file`), the trust anchor it starts from, and
//! the store:
//!
//! - the anchor is the newest root already verified in the store, else `--root` (trusted on
//!   first use), else the public-good TUF root this build ships;
//! - tough works on a staged copy of the stored metadata in a temporary directory beside the
//!   store, so that a refused update, whatever step refuses it, leaves the store byte for byte as
//!   it was; only an update that verified the trusted root's target is committed, each file
//!   through a temporary file renamed into place;
//! - the stored metadata is tough's datastore, so the next update refuses a timestamp, snapshot
//!   or targets version below the one seen here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};
use tough::{
    IntoVec as _, RepositoryLoader, TargetName, Transport, TransportError, TransportErrorKind,
    TransportStream,
};

use super::{
    MAX_TRUSTED_ROOT_BYTES, PUBLIC_GOOD_TUF_ROOT, SIGNING_CONFIG_TARGET, TRUSTED_ROOT_FILE,
    TRUSTED_ROOT_TARGET, TUF_DIR, UPDATE_RECORD, sha256_of, sigstore_dir,
};
use crate::exit::{CliError, FAILED};
use crate::output::write_atomically;

/// The lock an update holds on the store, in [`sigstore_dir`].
const LOCK_FILE: &str = ".lock";
/// Largest TUF root document accepted as `--root`.
const MAX_TUF_ROOT_BYTES: usize = 1 << 20;
/// How long one request to the mirror may take, connection to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to the mirror may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `stella trust update` was asked.
#[derive(Debug)]
pub struct UpdateRequest<'a> {
    /// The TUF repository's base URL (metadata at the top, targets under `targets/`).
    pub mirror: &'a str,
    /// The TUF root trusted on first use (default: the shipped public-good one).
    pub root: Option<&'a Path>,
    /// CA files trusted besides the system's for an HTTPS mirror.
    pub ca_files: &'a [PathBuf],
}

/// What an update changed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateReport {
    /// The mirror asked.
    pub mirror: String,
    /// The store written.
    pub dir: PathBuf,
    /// Which TUF root the update started from.
    pub anchor: String,
    /// The root, timestamp, snapshot and targets metadata before and after.
    pub roles: Vec<RoleChange>,
    /// The trusted root.
    pub trusted_root: TargetChange,
    /// Sigstore's signing configuration, when the repository has one.
    pub signing_config: Option<TargetChange>,
}

/// One TUF role's metadata before and after an update.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleChange {
    /// `root`, `timestamp`, `snapshot` or `targets`.
    pub role: &'static str,
    /// The version stored before (none on the first update).
    pub previous_version: Option<u64>,
    /// The version verified now.
    pub version: u64,
    /// When it expires (RFC 3339).
    pub expires: String,
}

/// A target file before and after an update.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetChange {
    /// Where it is stored.
    pub path: PathBuf,
    /// Its SHA-256 now (`sha256:<hex>`).
    pub sha256: String,
    /// Its SHA-256 before (none when there was no copy).
    pub previous_sha256: Option<String>,
    /// Whether its content changed.
    pub changed: bool,
    /// Its length.
    pub bytes: usize,
}

/// What the store records beside tough's datastore: where it was updated from and when.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecord {
    /// The mirror of the last update.
    pub mirror: String,
    /// When it was made (RFC 3339).
    pub updated: String,
}

/// A role's version and expiry as the store holds it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRole {
    /// `root`, `timestamp`, `snapshot` or `targets`.
    pub role: &'static str,
    /// Its version.
    pub version: u64,
    /// When it expires (RFC 3339).
    pub expires: String,
}

#[derive(Deserialize)]
struct Envelope {
    signed: RoleHead,
}

#[derive(Deserialize)]
struct RoleHead {
    version: u64,
    expires: String,
}

/// The top-level roles, in the order a client verifies them.
const ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// The versions and expiry of the metadata stored in `tuf_dir` (empty when there is none).
///
/// # Errors
/// A stored file that cannot be read or parsed (exit 2, naming it).
pub fn stored_roles(tuf_dir: &Path) -> Result<Vec<StoredRole>, CliError> {
    let mut roles = Vec::new();
    for role in ROLES {
        let path = tuf_dir.join(format!("{role}.json"));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(CliError::environment(
                    anyhow!(e).context(format!("reading {}", path.display())),
                ));
            }
        };
        let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| {
            CliError::input(anyhow!(e).context(format!(
                "{}: not TUF {role} metadata (remove {} and update again)",
                path.display(),
                tuf_dir.display()
            )))
        })?;
        roles.push(StoredRole {
            role,
            version: envelope.signed.version,
            expires: envelope.signed.expires,
        });
    }
    Ok(roles)
}

/// Updates the store under `home` from `request.mirror`; on any refusal the store is left as it
/// was.
///
/// # Errors
/// Exit 1 when the repository's metadata or targets do not verify (expired, rolled back, badly
/// signed, a hash that does not match, a trusted root that is not one); exit 2 for a bad URL or
/// `--root`; exit 3 when the mirror cannot be reached or the store cannot be written.
pub fn update(home: &Path, request: &UpdateRequest<'_>) -> Result<UpdateReport, CliError> {
    let mirror = mirror_url(request.mirror)?;
    let dir = sigstore_dir(home);
    let existed = dir.exists();
    let result = update_in(&dir, &mirror, request);
    if result.is_err() && !existed {
        // Only what this update created, and only if empty: `trust/sigstore`, then `trust`.
        let _ = std::fs::remove_file(dir.join(LOCK_FILE));
        let _ = std::fs::remove_dir(&dir);
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
    result
}

fn update_in(
    dir: &Path,
    mirror: &reqwest::Url,
    request: &UpdateRequest<'_>,
) -> Result<UpdateReport, CliError> {
    std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
    let _lock = lock(dir)?;
    let live_tuf = dir.join(TUF_DIR);
    let before = stored_roles(&live_tuf)?;
    let stage = stage(dir, &live_tuf)?;
    let staged_tuf = stage.path().join(TUF_DIR);
    let (anchor_bytes, anchor) = anchor(&staged_tuf, &before, request.root)?;

    let transport = HttpTransport::new(request.ca_files)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::environment(anyhow!("starting the TUF client's runtime: {e}")))?;
    let fetched = runtime
        .block_on(fetch(&anchor_bytes, mirror, &staged_tuf, transport))
        .and_then(|fetched| {
            super::summary::summarise(&fetched.trusted_root)
                .map(|_| fetched)
                .map_err(|e| CliError {
                    code: FAILED,
                    error: e.context(format!("its {TRUSTED_ROOT_TARGET} target")),
                })
        })
        .map_err(|e| {
            let outcome = if e.code == FAILED {
                "refused"
            } else {
                "failed"
            };
            e.context(format!(
                "TUF update from {mirror} {outcome}, {} unchanged",
                dir.display()
            ))
        })?;

    // Everything verified: commit the metadata, then the targets, then the record.
    commit_files(&staged_tuf, &live_tuf)?;
    let trusted_root = replace_target(&dir.join(TRUSTED_ROOT_FILE), &fetched.trusted_root)?;
    let signing_config_path = dir.join(SIGNING_CONFIG_TARGET);
    let signing_config = match &fetched.signing_config {
        Some(bytes) => Some(replace_target(&signing_config_path, bytes)?),
        // No longer listed, so no longer vouched for.
        None => match std::fs::remove_file(&signing_config_path) {
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(io_error(format!(
                    "removing {}",
                    signing_config_path.display()
                ))(e));
            }
        },
    };
    let now = jiff::Timestamp::now();
    let record = UpdateRecord {
        mirror: mirror.to_string(),
        updated: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
    };
    let record_bytes =
        serde_json::to_vec_pretty(&record).map_err(|e| CliError::environment(anyhow!(e)))?;
    write_atomically(&dir.join(UPDATE_RECORD), &record_bytes)?;

    let roles = fetched
        .roles
        .into_iter()
        .map(|now| RoleChange {
            role: now.role,
            previous_version: before
                .iter()
                .find(|b| b.role == now.role)
                .map(|b| b.version),
            version: now.version,
            expires: now.expires,
        })
        .collect();
    Ok(UpdateReport {
        mirror: mirror.to_string(),
        dir: dir.to_path_buf(),
        anchor,
        roles,
        trusted_root,
        signing_config,
    })
}

/// An I/O failure of the environment, with what was being done.
fn io_error(what: String) -> impl FnOnce(std::io::Error) -> CliError {
    move |e| CliError::environment(anyhow!(e).context(what))
}

/// Holds `dir`'s update lock (`.lock`, exclusive) until dropped: two updates at once would
/// otherwise interleave their commits.
fn lock(dir: &Path) -> Result<std::fs::File, CliError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(format!("opening {}", path.display())))?;
    file.lock()
        .map_err(io_error(format!("locking {}", path.display())))?;
    Ok(file)
}

/// A temporary directory beside the store holding a copy of its TUF metadata in `tuf/`: what
/// the TUF client reads and writes; removed when dropped.
fn stage(dir: &Path, live_tuf: &Path) -> Result<tempfile::TempDir, CliError> {
    let stage = tempfile::Builder::new()
        .prefix(".update.")
        .tempdir_in(dir)
        .map_err(io_error(format!("staging the update in {}", dir.display())))?;
    let staged_tuf = stage.path().join(TUF_DIR);
    std::fs::create_dir(&staged_tuf)
        .map_err(io_error(format!("creating {}", staged_tuf.display())))?;
    copy_files(live_tuf, &staged_tuf)?;
    Ok(stage)
}

/// The TUF root the update starts from, and how to name it.
fn anchor(
    staged_tuf: &Path,
    before: &[StoredRole],
    given: Option<&Path>,
) -> Result<(Vec<u8>, String), CliError> {
    let stored = staged_tuf.join("root.json");
    match std::fs::read(&stored) {
        Ok(bytes) => {
            let version = before
                .iter()
                .find(|r| r.role == "root")
                .map_or(0, |r| r.version);
            if let Some(given) = given {
                tracing::warn!(
                    "--root {} is not used: the store already trusts root version {version}, \
                     verified by an earlier update (remove {} to start over from --root)",
                    given.display(),
                    staged_tuf
                        .parent()
                        .and_then(Path::parent)
                        .unwrap_or(staged_tuf)
                        .display()
                );
            }
            Ok((bytes, format!("the stored root, version {version}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match given {
            Some(path) => {
                let input = crate::input::Input::new(path.to_path_buf());
                let bytes = input.read(MAX_TUF_ROOT_BYTES)?;
                Ok((bytes, format!("{} (trusted on first use)", path.display())))
            }
            None => Ok((
                PUBLIC_GOOD_TUF_ROOT.to_vec(),
                "the shipped public-good TUF root (trusted on first use)".to_owned(),
            )),
        },
        Err(e) => Err(CliError::environment(
            anyhow!(e).context(format!("reading {}", stored.display())),
        )),
    }
}

/// What a verified update brought.
struct Fetched {
    roles: Vec<StoredRole>,
    trusted_root: Vec<u8>,
    signing_config: Option<Vec<u8>>,
}

async fn fetch(
    anchor: &[u8],
    mirror: &reqwest::Url,
    datastore: &Path,
    transport: HttpTransport,
) -> Result<Fetched, CliError> {
    let targets_url = mirror
        .join("targets/")
        .map_err(|e| CliError::input(anyhow!("{mirror}: {e}")))?;
    let failures = transport.failures.clone();
    let loaded = RepositoryLoader::new(&anchor, mirror.clone(), targets_url)
        .transport(transport)
        .datastore(datastore)
        .load()
        .await;
    let repository = loaded.map_err(|e| match unreachable(&failures) {
        // tough takes any failure to fetch root N+1 for "no newer root" and goes on: what it
        // reports next (an expired root, a timestamp it could not fetch) is a consequence.
        Some(first) => {
            tracing::debug!("the TUF client stopped at: {e}");
            CliError::environment(anyhow!("the mirror could not be reached: {first}"))
        }
        None => refusal(e),
    })?;
    let roles = vec![
        role(
            "root",
            repository.root().signed.version,
            repository.root().signed.expires,
        ),
        role(
            "timestamp",
            repository.timestamp().signed.version,
            repository.timestamp().signed.expires,
        ),
        role(
            "snapshot",
            repository.snapshot().signed.version,
            repository.snapshot().signed.expires,
        ),
        role(
            "targets",
            repository.targets().signed.version,
            repository.targets().signed.expires,
        ),
    ];
    let trusted_root = read_target(&repository, TRUSTED_ROOT_TARGET)
        .await?
        .ok_or_else(|| CliError {
            code: FAILED,
            error: anyhow!(
                "the repository's targets metadata (version {}) lists no {TRUSTED_ROOT_TARGET}",
                repository.targets().signed.version
            ),
        })?;
    let signing_config = read_target(&repository, SIGNING_CONFIG_TARGET).await?;
    Ok(Fetched {
        roles,
        trusted_root,
        signing_config,
    })
}

fn role(role: &'static str, version: std::num::NonZeroU64, expires: jiff::Timestamp) -> StoredRole {
    StoredRole {
        role,
        version: version.get(),
        expires: expires.to_string(),
    }
}

/// A target's bytes, verified against the targets metadata (length and SHA-256) as they arrive;
/// `None` when the metadata does not list it.
async fn read_target(
    repository: &tough::Repository,
    name: &str,
) -> Result<Option<Vec<u8>>, CliError> {
    let target_name = TargetName::new(name).map_err(refusal)?;
    if let Some(listed) = repository.targets().signed.targets.get(&target_name)
        && listed.length > MAX_TRUSTED_ROOT_BYTES as u64
    {
        return Err(CliError {
            code: FAILED,
            error: anyhow!(
                "the target {name} is listed with {} bytes, more than the limit of \
                 {MAX_TRUSTED_ROOT_BYTES}",
                listed.length
            ),
        });
    }
    match repository
        .read_target(&target_name)
        .await
        .map_err(refusal)?
    {
        Some(stream) => stream.into_vec().await.map(Some).map_err(refusal),
        None => Ok(None),
    }
}

/// A refusal by the TUF client with the exit code it earns: a trust anchor that is no TUF root is
/// bad input (2), the mirror or the disk failing us the environment (3), anything else the
/// repository not verifying (1).
fn refusal(e: tough::error::Error) -> CliError {
    use tough::error::Error as E;
    // tough checks a target's length and hash on the stream it reads, so those refusals reach
    // us as a transport error whose cause is the refusal: the repository, not the network.
    if let E::Transport { source, .. } = &e {
        let mut cause = std::error::Error::source(source);
        while let Some(inner) = cause {
            if let Some(refused @ (E::HashMismatch { .. } | E::MaxSizeExceeded { .. })) =
                inner.downcast_ref::<E>()
            {
                return CliError {
                    code: FAILED,
                    error: anyhow!("{refused}"),
                };
            }
            cause = inner.source();
        }
    }
    let environment = matches!(
        e,
        E::Transport { .. }
            | E::DatastoreInit { .. }
            | E::DatastoreCreate { .. }
            | E::DatastoreOpen { .. }
            | E::DatastoreRemove { .. }
            | E::DatastoreSerialize { .. }
            | E::SystemTimeSteppedBackward { .. }
    );
    // The anchor itself (--root, or the stored root) is not a TUF root signed by its threshold.
    let bad_anchor = matches!(
        e,
        E::ParseTrustedMetadata { .. } | E::VerifyTrustedMetadata { .. }
    );
    let error = anyhow!(e);
    if bad_anchor {
        CliError::input(error)
    } else if environment {
        CliError::environment(error)
    } else {
        CliError {
            code: FAILED,
            error,
        }
    }
}

/// The mirror's base URL, ending in `/` so that metadata names join below it.
fn mirror_url(mirror: &str) -> Result<reqwest::Url, CliError> {
    let with_slash = if mirror.ends_with('/') {
        mirror.to_owned()
    } else {
        format!("{mirror}/")
    };
    let url = reqwest::Url::parse(&with_slash)
        .map_err(|e| CliError::input(anyhow!("--mirror {mirror}: not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(CliError::input(anyhow!(
            "--mirror {mirror}: expected an http or https URL of a TUF repository"
        )));
    }
    Ok(url)
}

/// Copies the regular files of `from` (none when it does not exist) into `to`.
fn copy_files(from: &Path, to: &Path) -> Result<(), CliError> {
    for (name, path) in files(from)? {
        std::fs::copy(&path, to.join(&name))
            .with_context(|| format!("copying {}", path.display()))
            .map_err(CliError::environment)?;
    }
    Ok(())
}

/// Makes `live` hold exactly the files of `staged`: each written through a temporary file
/// renamed into place, then the files the update dropped (tough removes a trusted timestamp
/// and snapshot when their keys rotate) removed.
fn commit_files(staged: &Path, live: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(live)
        .with_context(|| format!("creating {}", live.display()))
        .map_err(CliError::environment)?;
    let keep = files(staged)?;
    for (name, path) in &keep {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(CliError::environment)?;
        write_atomically(&live.join(name), &bytes)?;
    }
    for (name, path) in files(live)? {
        if !keep.iter().any(|(kept, _)| *kept == name) {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing {}", path.display()))
                .map_err(CliError::environment)?;
        }
    }
    Ok(())
}

/// The regular files directly in `dir`, by name (none when `dir` does not exist).
fn files(dir: &Path) -> Result<Vec<(std::ffi::OsString, PathBuf)>, CliError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(CliError::environment(
                anyhow!(e).context(format!("reading {}", dir.display())),
            ));
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry
            .with_context(|| format!("reading {}", dir.display()))
            .map_err(CliError::environment)?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file {
            found.push((entry.file_name(), entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Writes a verified target over its stored copy, saying what changed.
fn replace_target(path: &Path, bytes: &[u8]) -> Result<TargetChange, CliError> {
    let previous_sha256 = match std::fs::read(path) {
        Ok(old) => Some(sha256_of(&old)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(CliError::environment(
                anyhow!(e).context(format!("reading {}", path.display())),
            ));
        }
    };
    let sha256 = sha256_of(bytes);
    write_atomically(path, bytes)?;
    Ok(TargetChange {
        path: path.to_path_buf(),
        changed: previous_sha256.as_deref() != Some(sha256.as_str()),
        previous_sha256,
        sha256,
        bytes: bytes.len(),
    })
}

/// The first failure of the transport itself, if any (not a file the mirror does not have).
fn unreachable(failures: &Failures) -> Option<String> {
    failures.lock().ok().and_then(|first| first.clone())
}

/// Where the transport keeps its first failure.
type Failures = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// The mirror reached over HTTP(S) by reqwest: metadata and targets as byte streams, so that
/// tough stops reading at the size it allows.
#[derive(Debug, Clone)]
struct HttpTransport {
    client: reqwest::Client,
    /// The first request that failed other than by the file being absent.
    failures: Failures,
}

impl HttpTransport {
    /// The transport's own failure fetching `url`, remembered when it is the first.
    fn failed(
        &self,
        url: &reqwest::Url,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TransportError {
        let cause = cause.into();
        if let Ok(mut first) = self.failures.lock()
            && first.is_none()
        {
            // The whole chain: reqwest's own message stops at "error sending request".
            let mut said = format!("{url}: {cause}");
            let mut next = cause.source();
            while let Some(inner) = next {
                said.push_str(&format!(": {inner}"));
                next = inner.source();
            }
            *first = Some(said);
        }
        TransportError::new_with_cause(TransportErrorKind::Other, url.as_str(), cause)
    }
}

impl HttpTransport {
    fn new(ca_files: &[PathBuf]) -> Result<Self, CliError> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        let mut roots = Vec::new();
        for path in ca_files {
            let pem = std::fs::read(path)
                .with_context(|| format!("--ca-file {}", path.display()))
                .map_err(CliError::input)?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| {
                    format!("--ca-file {}: not a PEM certificate bundle", path.display())
                })
                .map_err(CliError::input)?;
            roots.extend(certificates);
        }
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots);
        }
        let client = builder
            .build()
            .map_err(|e| CliError::environment(anyhow!("building the HTTP client: {e}")))?;
        Ok(HttpTransport {
            client,
            failures: Failures::default(),
        })
    }
}

#[tough::async_trait]
impl Transport for HttpTransport {
    async fn fetch(&self, url: reqwest::Url) -> Result<TransportStream, TransportError> {
        let failed = |e: reqwest::Error| self.failed(&url, e);
        let response = self.client.get(url.clone()).send().await.map_err(failed)?;
        let status = response.status();
        if matches!(status.as_u16(), 403 | 404 | 410) {
            return Err(TransportError::new(
                TransportErrorKind::FileNotFound,
                url.as_str(),
            ));
        }
        if !status.is_success() {
            return Err(self.failed(&url, format!("the server answered {status}")));
        }
        let transport = self.clone();
        let stream = futures_util::stream::try_unfold(response, move |mut response| {
            let (url, transport) = (url.clone(), transport.clone());
            async move {
                match response.chunk().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, response))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(transport.failed(&url, e)),
                }
            }
        });
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_http_urls_joined_below_their_path() {
        let url = mirror_url("https://tuf-repo-cdn.sigstore.dev").unwrap();
        assert_eq!(
            url.join("timestamp.json").unwrap().as_str(),
            "https://tuf-repo-cdn.sigstore.dev/timestamp.json"
        );
        let url = mirror_url("http://127.0.0.1:8080/repo").unwrap();
        assert_eq!(
            url.join("targets/").unwrap().as_str(),
            "http://127.0.0.1:8080/repo/targets/"
        );
        assert_eq!(
            mirror_url("file:///tmp/repo").unwrap_err().code,
            crate::exit::USAGE
        );
        assert_eq!(
            mirror_url("not a url").unwrap_err().code,
            crate::exit::USAGE
        );
    }

    #[test]
    fn the_shipped_tuf_root_is_signed_by_its_own_threshold() {
        let root: tough::schema::Signed<tough::schema::Root> =
            serde_json::from_slice(PUBLIC_GOOD_TUF_ROOT).unwrap();
        root.signed.verify_role(&root).unwrap();
    }

    #[test]
    fn a_commit_replaces_and_drops_files_and_keeps_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (staged, live) = (dir.path().join("staged"), dir.path().join("live"));
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::create_dir_all(&live).unwrap();
        std::fs::write(staged.join("root.json"), b"new root").unwrap();
        std::fs::write(live.join("root.json"), b"old root").unwrap();
        std::fs::write(live.join("timestamp.json"), b"old timestamp").unwrap();
        commit_files(&staged, &live).unwrap();
        let names: Vec<_> = files(&live).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["root.json"]);
        assert_eq!(std::fs::read(live.join("root.json")).unwrap(), b"new root");
    }

    #[test]
    fn an_update_that_cannot_start_leaves_no_store_behind() {
        let home = tempfile::tempdir().unwrap();
        let missing = home.path().join("missing.root.json");
        let request = UpdateRequest {
            mirror: "http://127.0.0.1:9/",
            root: Some(&missing),
            ca_files: &[],
        };
        let e = update(home.path(), &request).unwrap_err();
        assert_eq!(e.code, crate::exit::USAGE, "{:#}", e.error);
        assert!(!home.path().join("trust").exists());
    }
}
