//! The Sigstore trusted root: where commands find it, and `stella trust update` / `stella trust
//! show`.
//!
//! A command not given `--trusted-root` reads the copy `stella trust update` last verified and
//! stored in `$STELLA_HOME/trust/sigstore/`, else the public-good production root this build ships
//! (`trust/public-good/`, as Sigstore's TUF repository published it). Finding it is a file read:
//! nothing is fetched at verify time, only when `stella trust update` is run.
//!
//! The store, `$STELLA_HOME/trust/sigstore/`:
//! - `trusted_root.json`: the trusted root, a target of the TUF repository, verified;
//! - `signing_config.v0.2.json`: Sigstore's signing configuration, when the repository has it;
//! - `tuf/`: the TUF metadata verified last (root, timestamp, snapshot, targets), from which the
//!   next update starts and below which it refuses to roll back;
//! - `update.json`: the mirror and time of the last update.
//! - `.lock`: held by an update while it runs.
//!
//! Not here: what a trusted root means (the verifiers read it), Stella's own log's root
//! (`stella log trusted-root`), the TUF client (`tough`, driven by [`update`]).

mod summary;
mod update;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::TrustCommand;
use crate::exit::{CliError, Outcome};
use crate::print::{self, Schema};

/// The public-good production trusted root shipped with this build.
pub const PUBLIC_GOOD_TRUSTED_ROOT: &[u8] =
    include_bytes!("../trust/public-good/trusted_root.json");

/// The public-good TUF repository's root metadata shipped with this build: the trust anchor
/// `stella trust update` starts from.
pub const PUBLIC_GOOD_TUF_ROOT: &[u8] = include_bytes!("../trust/public-good/root.json");

/// Sigstore's public-good TUF repository.
pub const PUBLIC_GOOD_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";

/// The TUF target holding the trusted root.
const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// The TUF target holding Sigstore's signing configuration (kept when present).
const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";
/// The stored trusted root, in [`sigstore_dir`].
const TRUSTED_ROOT_FILE: &str = "trusted_root.json";
/// The TUF metadata, in [`sigstore_dir`].
const TUF_DIR: &str = "tuf";
/// The mirror and time of the last update, in [`sigstore_dir`].
const UPDATE_RECORD: &str = "update.json";
/// Largest trusted root read (the public-good one is under 10 KiB).
const MAX_TRUSTED_ROOT_BYTES: usize = 1 << 20;

/// Where a trusted root was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The file given with `--trusted-root`.
    Given(PathBuf),
    /// The copy `stella trust update` stored.
    Updated(PathBuf),
    /// The public-good root shipped with this build.
    Shipped,
}

impl std::fmt::Display for RootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootSource::Given(path) => write!(f, "{}", path.display()),
            RootSource::Updated(path) => write!(f, "{} (stella trust update)", path.display()),
            RootSource::Shipped => f.write_str("the shipped Sigstore public-good root"),
        }
    }
}

/// The directory `stella trust update` keeps the verified TUF metadata and targets in.
pub fn sigstore_dir(home: &Path) -> PathBuf {
    home.join("trust").join("sigstore")
}

/// The Sigstore trusted root's bytes: `given`, else the updated copy under `home`, else the
/// shipped one. A file read, never a fetch.
pub fn sigstore_trusted_root(
    home: &Path,
    given: Option<&Path>,
) -> anyhow::Result<(Vec<u8>, RootSource)> {
    if let Some(path) = given {
        let bytes = read_bounded(path)
            .with_context(|| format!("reading the trusted root {}", path.display()))?;
        return Ok((bytes, RootSource::Given(path.to_owned())));
    }
    let updated = sigstore_dir(home).join(TRUSTED_ROOT_FILE);
    match read_bounded(&updated) {
        Ok(bytes) => Ok((bytes, RootSource::Updated(updated))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((PUBLIC_GOOD_TRUSTED_ROOT.to_vec(), RootSource::Shipped))
        }
        Err(e) => Err(e).with_context(|| format!("reading the trusted root {}", updated.display())),
    }
}

/// A file's bytes, refused past [`MAX_TRUSTED_ROOT_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_TRUSTED_ROOT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_TRUSTED_ROOT_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than the limit of {MAX_TRUSTED_ROOT_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// `sha256:<hex>` of `bytes`.
fn sha256_of(bytes: &[u8]) -> String {
    stella_core::digest::Digest::sha256(bytes).to_string()
}

const TRUST_UPDATE: Schema = Schema::new("trust.update");
const TRUST_SHOW: Schema = Schema::new("trust.show");

/// `stella trust …`.
pub fn run(command: TrustCommand, home: &Path) -> Result<Outcome, CliError> {
    match command {
        TrustCommand::Update { mirror, root, json } => {
            let ca_files = crate::oci::registry_options(false).ca_files;
            let request = update::UpdateRequest {
                mirror: &mirror,
                root: root.as_deref(),
                ca_files: &ca_files,
            };
            let report = update::update(home, &request)?;
            if json {
                print::json(&TRUST_UPDATE, &report)?;
            } else {
                crate::output::write_stdout(update_text(&report).as_bytes())?;
            }
            Ok(Outcome::Success)
        }
        TrustCommand::Show { trusted_root, json } => {
            let shown = show(home, trusted_root.as_deref())?;
            if json {
                print::json(&TRUST_SHOW, &shown)?;
            } else {
                crate::output::write_stdout(show_text(&shown).as_bytes())?;
            }
            Ok(Outcome::Success)
        }
    }
}

fn update_text(report: &update::UpdateReport) -> String {
    let mut text = format!(
        "Updated from {} (TUF, starting from {})\n",
        report.mirror, report.anchor
    );
    for role in &report.roles {
        let versions = match role.previous_version {
            Some(old) if old == role.version => format!("v{} (unchanged)", role.version),
            Some(old) => format!("v{old} → v{}", role.version),
            None => format!("v{} (new)", role.version),
        };
        text.push_str(&format!(
            "  {:<10} {versions:<22} expires {}\n",
            role.role, role.expires
        ));
    }
    for (name, target) in [
        (TRUSTED_ROOT_TARGET, Some(&report.trusted_root)),
        (SIGNING_CONFIG_TARGET, report.signing_config.as_ref()),
    ] {
        let Some(target) = target else { continue };
        let change = match (&target.previous_sha256, target.changed) {
            (None, _) => "new".to_owned(),
            (Some(_), false) => "unchanged".to_owned(),
            (Some(old), true) => format!("changed, was {old}"),
        };
        text.push_str(&format!("  {name}: {} ({change})\n", target.sha256));
    }
    text.push_str(&format!(
        "Stored in {}; commands without --trusted-root use {}.\n",
        report.dir.display(),
        report.trusted_root.path.display()
    ));
    text
}

/// What `stella trust show` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    /// `given`, `updated` or `shipped`.
    source: &'static str,
    /// The file read (none for the shipped root).
    path: Option<PathBuf>,
    /// How the source reads in a sentence.
    described: String,
    /// `sha256:<hex>` of the trusted root's bytes.
    sha256: String,
    /// What it names.
    trusted_root: summary::Summary,
    /// The TUF metadata stored by `stella trust update` (none before the first).
    tuf: Option<TufState>,
}

/// The stored TUF metadata.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TufState {
    /// The mirror of the last update.
    mirror: Option<String>,
    /// When it was made.
    updated: Option<String>,
    /// Each role's version and expiry.
    roles: Vec<update::StoredRole>,
}

fn show(home: &Path, given: Option<&Path>) -> Result<Shown, CliError> {
    let (bytes, source) = sigstore_trusted_root(home, given).map_err(|e| {
        let missing = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound);
        if missing {
            CliError::input(e)
        } else {
            CliError::environment(e)
        }
    })?;
    let named = source.to_string();
    let summary =
        summary::summarise(&bytes).map_err(|e| CliError::input(e.context(named.clone())))?;
    let (kind, path) = match &source {
        RootSource::Given(path) => ("given", Some(path.clone())),
        RootSource::Updated(path) => ("updated", Some(path.clone())),
        RootSource::Shipped => ("shipped", None),
    };
    let dir = sigstore_dir(home);
    let roles = update::stored_roles(&dir.join(TUF_DIR))?;
    let record: Option<update::UpdateRecord> = std::fs::read(dir.join(UPDATE_RECORD))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let tuf = (!roles.is_empty() || record.is_some()).then(|| TufState {
        mirror: record.as_ref().map(|r| r.mirror.clone()),
        updated: record.map(|r| r.updated),
        roles,
    });
    Ok(Shown {
        source: kind,
        path,
        described: named,
        sha256: sha256_of(&bytes),
        trusted_root: summary,
        tuf,
    })
}

fn show_text(shown: &Shown) -> String {
    let window = |from: &Option<String>, until: &Option<String>| {
        format!(
            "valid {} → {}",
            from.as_deref().unwrap_or("?"),
            until.as_deref().unwrap_or("open")
        )
    };
    let root = &shown.trusted_root;
    let mut text = format!(
        "Trusted root: {}\n  {}\n  {}\n",
        shown.described, shown.sha256, root.media_type
    );
    for (title, logs) in [
        ("Transparency logs", &root.tlogs),
        ("CT logs", &root.ctlogs),
    ] {
        text.push_str(&format!("{title} ({}):\n", logs.len()));
        for log in logs {
            text.push_str(&format!(
                "  {}  {}  key {}  {}\n",
                log.base_url,
                log.key_details.as_deref().unwrap_or("?"),
                log.key_id.as_deref().unwrap_or("?"),
                window(&log.valid_from, &log.valid_until)
            ));
        }
    }
    for (title, authorities) in [
        ("Certificate authorities", &root.certificate_authorities),
        ("Timestamp authorities", &root.timestamp_authorities),
    ] {
        text.push_str(&format!("{title} ({}):\n", authorities.len()));
        for a in authorities {
            text.push_str(&format!(
                "  {}  {}  {}  {}\n",
                a.uri.as_deref().unwrap_or("?"),
                a.subject,
                print::count(a.certificates, "certificate", "certificates"),
                window(&a.valid_from, &a.valid_until)
            ));
        }
    }
    match &shown.tuf {
        Some(tuf) => {
            text.push_str(&format!(
                "TUF metadata (updated {} from {}):\n",
                tuf.updated.as_deref().unwrap_or("?"),
                tuf.mirror.as_deref().unwrap_or("?")
            ));
            for role in &tuf.roles {
                text.push_str(&format!(
                    "  {:<10} v{:<6} expires {}\n",
                    role.role, role.version, role.expires
                ));
            }
        }
        None => text.push_str("TUF metadata: none (`stella trust update` has not run)\n"),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_roots_are_the_public_good_ones() {
        let root: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_TRUSTED_ROOT).unwrap();
        assert_eq!(
            root["mediaType"],
            "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
        );
        let tuf: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD_TUF_ROOT).unwrap();
        assert_eq!(tuf["signed"]["_type"], "root");
    }

    /// Verification commands find the trusted root with a file read: a store whose last update
    /// came from a mirror that is listening here, and whose TUF metadata has long expired, is
    /// read as it is, and the mirror never hears from us.
    #[test]
    fn finding_the_trusted_root_never_touches_the_network() {
        let mirror = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        mirror.set_nonblocking(true).unwrap();
        let home = tempfile::tempdir().unwrap();
        let dir = sigstore_dir(home.path());
        std::fs::create_dir_all(dir.join(TUF_DIR)).unwrap();
        std::fs::write(dir.join(TRUSTED_ROOT_FILE), PUBLIC_GOOD_TRUSTED_ROOT).unwrap();
        std::fs::write(
            dir.join(UPDATE_RECORD),
            format!(
                r#"{{"mirror":"http://{}/","updated":"2020-01-01T00:00:00Z"}}"#,
                mirror.local_addr().unwrap()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join(TUF_DIR).join("timestamp.json"),
            br#"{"signed":{"version":1,"expires":"2020-01-02T00:00:00Z"}}"#,
        )
        .unwrap();
        let (bytes, source) = sigstore_trusted_root(home.path(), None).unwrap();
        assert_eq!(bytes, PUBLIC_GOOD_TRUSTED_ROOT);
        assert_eq!(source, RootSource::Updated(dir.join(TRUSTED_ROOT_FILE)));
        let shown = show(home.path(), None).unwrap();
        assert_eq!(shown.source, "updated");
        assert_eq!(shown.tuf.unwrap().roles[0].version, 1);
        assert_eq!(
            mirror.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "the mirror was contacted"
        );
    }

    #[test]
    fn a_trusted_root_past_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; MAX_TRUSTED_ROOT_BYTES + 1]).unwrap();
        let e = sigstore_trusted_root(dir.path(), Some(&big)).unwrap_err();
        assert!(format!("{e:#}").contains("limit"), "{e:#}");
    }

    #[test]
    fn given_then_updated_then_shipped() {
        let home = tempfile::tempdir().unwrap();
        let (_, source) = sigstore_trusted_root(home.path(), None).unwrap();
        assert_eq!(source, RootSource::Shipped);
        std::fs::create_dir_all(sigstore_dir(home.path())).unwrap();
        let updated = sigstore_dir(home.path()).join("trusted_root.json");
        std::fs::write(&updated, b"{}").unwrap();
        let (bytes, source) = sigstore_trusted_root(home.path(), None).unwrap();
        assert_eq!(
            (bytes.as_slice(), source),
            (&b"{}"[..], RootSource::Updated(updated))
        );
        let given = home.path().join("given.json");
        std::fs::write(&given, b"[]").unwrap();
        let (bytes, source) = sigstore_trusted_root(home.path(), Some(&given)).unwrap();
        assert_eq!(
            (bytes.as_slice(), source),
            (&b"[]"[..], RootSource::Given(given))
        );
        let missing = home.path().join("missing.json");
        assert!(sigstore_trusted_root(home.path(), Some(&missing)).is_err());
    }
}
