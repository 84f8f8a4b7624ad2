//! Registry credentials, found where people keep them: the Docker CLI's `config.json` and its
//! credential helpers, and the containers tools' (podman, skopeo, buildah) `auth.json`.
//!
//! For a registry host, the first of these that has an answer is used:
//!
//! 1. `credHelpers[host]` in the Docker config: the helper `docker-credential-<name>`;
//! 2. `credsStore` in the Docker config: the helper `docker-credential-<name>` for every host;
//! 3. `auths[host]` in the Docker config: `auth` (base64 of `user:password`), or `username` and
//!    `password`, or `identitytoken` (an OAuth2 refresh token for the registry's token server);
//! 4. `auths[host]` in the containers auth file, the same shape.
//!
//! The Docker config is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; the
//! containers auth file is `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`.
//! A helper that answers "credentials not found" passes on to the next source; a missing file is
//! no credentials; a file that is not JSON is an error naming it.
//!
//! A credential helper follows the docker-credential-helpers protocol: `docker-credential-<name>
//! get` reads the server URL on its standard input and writes `{"Username": …, "Secret": …}` on
//! its standard output; the user name `<token>` says that the secret is an identity token. It is
//! given [`RegistryOptions::helper_timeout`](crate::RegistryOptions::helper_timeout) to answer
//! (a helper waiting on a keychain that nobody unlocks would hang the command otherwise), then
//! killed, and the error names the helper and the host.
//!
//! Keys name a host in any of the ways the Docker CLI writes them (`host:port`,
//! `https://host:port`, `https://host/v1/`); Docker Hub is one registry under its four names
//! (`docker.io`, `index.docker.io`, `registry-1.docker.io`, `https://index.docker.io/v1/`), and
//! its helpers are asked for `https://index.docker.io/v1/`, the name `docker login` stores.
//!
//! Secrets are held in [`Secret`], whose `Debug` shows nothing of them; no error of this module
//! carries a secret or a helper's standard output.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::OciError;

/// The name Docker Hub's credentials are stored and asked under.
pub const DOCKER_HUB_INDEX: &str = "https://index.docker.io/v1/";

/// The names of Docker Hub's registry, as hosts.
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The user name a helper answers when its secret is an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// What a helper says on standard error (or out) when it has nothing for a server.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// Largest configuration file and helper answer read.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// A password or token: compared and sent, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret itself, to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password, sent as HTTP basic authentication (to the registry, or to its
    /// token server).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An OAuth2 refresh token, exchanged at the registry's token server for an access token.
    IdentityToken(Secret),
}

/// Where a credential came from: said in errors, so that a refused login names what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A credential helper.
    Helper {
        /// The program, `docker-credential-<name>`.
        program: String,
        /// Which setting named it: `credHelpers` or `credsStore`.
        setting: &'static str,
        /// The file the setting is in.
        config: PathBuf,
    },
    /// An `auths` entry of a file.
    File {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        key: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Helper {
                program,
                setting,
                config,
            } => write!(
                f,
                "credential helper {program} ({setting} in {})",
                config.display()
            ),
            Origin::File { path, key } => write!(f, "auths[{key:?}] in {}", path.display()),
        }
    }
}

/// A credential and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The credential.
    pub credential: Credential,
    /// Its source.
    pub origin: Origin,
}

/// Why a credential helper gave no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelperFailure {
    /// It was not found on `PATH`, or could not be started.
    NotStarted(String),
    /// It did not answer within the timeout, and was killed.
    TimedOut(Duration),
    /// It exited with a failure status; what it said on standard error (at most 300
    /// characters).
    Failed {
        /// Its exit status.
        status: String,
        /// The start of its standard error.
        stderr: String,
    },
    /// It answered something that is not `{"Username","Secret"}` JSON (its output is not
    /// repeated: it may hold a secret).
    BadAnswer(&'static str),
}

impl fmt::Display for HelperFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelperFailure::NotStarted(e) => write!(f, "could not be started: {e}"),
            HelperFailure::TimedOut(t) => {
                write!(f, "did not answer within {} and was killed", seconds(*t))
            }
            HelperFailure::Failed { status, stderr } if stderr.is_empty() => {
                write!(f, "failed ({status})")
            }
            HelperFailure::Failed { status, stderr } => write!(f, "failed ({status}): {stderr}"),
            HelperFailure::BadAnswer(why) => write!(f, "answered {why}"),
        }
    }
}

fn seconds(t: Duration) -> String {
    if t.subsec_millis() == 0 {
        format!("{} s", t.as_secs())
    } else {
        format!("{:.1} s", t.as_secs_f64())
    }
}

/// Registry credential settings: the parsed Docker config and containers auth file, each with
/// its path.
#[derive(Clone, Default)]
pub struct CredentialConfig {
    docker: Option<(PathBuf, Value)>,
    containers: Option<(PathBuf, Value)>,
}

impl fmt::Debug for CredentialConfig {
    // The files hold secrets: only their paths are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialConfig")
            .field("docker", &self.docker.as_ref().map(|(p, _)| p))
            .field("containers", &self.containers.as_ref().map(|(p, _)| p))
            .finish()
    }
}

impl CredentialConfig {
    /// The files the environment names (see the module documentation).
    ///
    /// # Errors
    /// [`OciError::CredentialConfig`] naming a file that exists but cannot be read or is not a
    /// JSON object.
    pub fn from_env() -> Result<Self, OciError> {
        let docker = std::env::var_os("DOCKER_CONFIG")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| PathBuf::from(h).join(".docker"))
            })
            .map(|d| d.join("config.json"));
        let containers = std::env::var_os("REGISTRY_AUTH_FILE")
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_RUNTIME_DIR")
                    .filter(|d| !d.is_empty())
                    .map(|d| PathBuf::from(d).join("containers/auth.json"))
            });
        Self::from_files(docker.as_deref(), containers.as_deref())
    }

    /// The Docker config at `docker` and the containers auth file at `containers` (a file that
    /// does not exist counts as empty).
    ///
    /// # Errors
    /// As [`CredentialConfig::from_env`].
    pub fn from_files(docker: Option<&Path>, containers: Option<&Path>) -> Result<Self, OciError> {
        Ok(CredentialConfig {
            docker: docker.map(load).transpose()?.flatten(),
            containers: containers.map(load).transpose()?.flatten(),
        })
    }

    /// What the settings say to do for `host` (`host[:port]`, as in a reference), in the order
    /// of the module documentation, without running any helper.
    pub fn sources(&self, host: &str) -> Vec<Source> {
        let mut out = Vec::new();
        if let Some((path, config)) = &self.docker {
            if let Some((_, name)) = entry(&config["credHelpers"], host)
                && let Some(name) = name.as_str().filter(|n| !n.is_empty())
            {
                out.push(Source::Helper(helper(name, "credHelpers", path, host)));
            }
            if let Some(name) = config["credsStore"].as_str().filter(|n| !n.is_empty()) {
                out.push(Source::Helper(helper(name, "credsStore", path, host)));
            }
        }
        for (path, config) in [&self.docker, &self.containers].into_iter().flatten() {
            if let Some((key, auth)) = entry(&config["auths"], host) {
                out.push(Source::Stored(StoredAuth {
                    path: path.clone(),
                    key: key.to_owned(),
                    entry: auth.clone(),
                }));
            }
        }
        out
    }

    /// The credentials for `host`: the first source that has some, running helpers (each
    /// bounded by `helper_timeout`); `None` when no source has any (anonymous access).
    ///
    /// # Errors
    /// [`OciError::CredentialHelper`] for a helper that cannot be started, fails (other than
    /// "credentials not found"), hangs or answers nonsense; [`OciError::CredentialConfig`] for
    /// an `auths` entry that cannot be decoded.
    pub fn resolve(
        &self,
        host: &str,
        helper_timeout: Duration,
    ) -> Result<Option<Resolved>, OciError> {
        for source in self.sources(host) {
            let found = match source {
                Source::Helper(h) => h.get(host, helper_timeout)?,
                Source::Stored(s) => s.decode()?,
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The files consulted, for an error that says where credentials were looked for.
    pub fn searched(&self) -> Vec<&Path> {
        [&self.docker, &self.containers]
            .into_iter()
            .flatten()
            .map(|(p, _)| p.as_path())
            .collect()
    }
}

/// One place credentials for a host may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A credential helper to run.
    Helper(Helper),
    /// An `auths` entry.
    Stored(StoredAuth),
}

/// A credential helper, as configured for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    /// `docker-credential-<name>`.
    pub program: String,
    /// What it is asked for: the server URL on its standard input.
    pub server_url: String,
    /// `credHelpers` or `credsStore`.
    pub setting: &'static str,
    /// The file that names it.
    pub config: PathBuf,
}

/// An `auths` entry, not yet decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAuth {
    /// The file.
    pub path: PathBuf,
    /// The entry's key.
    pub key: String,
    entry: Value,
}

impl fmt::Debug for StoredAuth {
    // The entry holds the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAuth")
            .field("path", &self.path)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn load(path: &Path) -> Result<Option<(PathBuf, Value)>, OciError> {
    let bad = |reason: String| OciError::CredentialConfig {
        path: path.to_owned(),
        reason,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(bad(format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    // serde_json's messages name a line and column, never the text around it.
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if !value.is_object() {
        return Err(bad("not a JSON object".to_owned()));
    }
    Ok(Some((path.to_owned(), value)))
}

/// The registry a key or host names, in one spelling: scheme and path dropped, Docker Hub's
/// names made one.
pub fn registry_name(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    if DOCKER_HUB_HOSTS.contains(&host) {
        "docker.io"
    } else {
        host
    }
}

/// The entry of the object `map` whose key names the same registry as `host`: an exact key
/// first, then any spelling of it.
fn entry<'a>(map: &'a Value, host: &str) -> Option<(&'a str, &'a Value)> {
    let map = map.as_object()?;
    if let Some((k, v)) = map.get_key_value(host) {
        return Some((k.as_str(), v));
    }
    let wanted = registry_name(host);
    map.iter()
        .find(|(k, _)| registry_name(k) == wanted)
        .map(|(k, v)| (k.as_str(), v))
}

fn helper(name: &str, setting: &'static str, config: &Path, host: &str) -> Helper {
    let server_url = if registry_name(host) == "docker.io" {
        DOCKER_HUB_INDEX.to_owned()
    } else {
        host.to_owned()
    };
    Helper {
        program: format!("docker-credential-{name}"),
        server_url,
        setting,
        config: config.to_owned(),
    }
}

impl StoredAuth {
    /// The credential the entry holds; `None` for an entry without one (as `docker login`
    /// leaves when a helper holds the secret).
    ///
    /// # Errors
    /// [`OciError::CredentialConfig`] for an `auth` that is not base64 of `user:password`.
    pub fn decode(&self) -> Result<Option<Resolved>, OciError> {
        let origin = Origin::File {
            path: self.path.clone(),
            key: self.key.clone(),
        };
        let text = |name: &str| self.entry[name].as_str().filter(|s| !s.is_empty());
        let credential = if let Some(token) = text("identitytoken") {
            Credential::IdentityToken(Secret::new(token))
        } else if let Some(auth) = text("auth") {
            let bad = |reason: &str| OciError::CredentialConfig {
                path: self.path.clone(),
                reason: format!("auths[{:?}].auth is {reason}", self.key),
            };
            let decoded = STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("not base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad("not UTF-8"))?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| bad("not user:password"))?;
            Credential::Basic {
                username: username.to_owned(),
                password: Secret::new(password),
            }
        } else if let (Some(username), Some(password)) = (text("username"), text("password")) {
            Credential::Basic {
                username: username.to_owned(),
                password: Secret::new(password),
            }
        } else {
            return Ok(None);
        };
        Ok(Some(Resolved { credential, origin }))
    }
}

impl Helper {
    /// Runs the helper for `host` (named in errors), killing it after `timeout`; `None` when it
    /// has no credentials for the server.
    ///
    /// # Errors
    /// [`OciError::CredentialHelper`] for a helper that cannot be started, fails, hangs or
    /// answers something else than its protocol's JSON.
    pub fn get(&self, host: &str, timeout: Duration) -> Result<Option<Resolved>, OciError> {
        let fail = |failure: HelperFailure| OciError::CredentialHelper {
            program: self.program.clone(),
            host: host.to_owned(),
            failure,
        };
        let output =
            run_bounded(&self.program, self.server_url.as_bytes(), timeout).map_err(fail)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.success {
            // The protocol's "nothing stored": some helpers say it on standard output.
            if stderr.contains(NOT_FOUND) || stdout.contains(NOT_FOUND) {
                return Ok(None);
            }
            return Err(fail(HelperFailure::Failed {
                status: output.status,
                stderr: stderr.trim().chars().take(300).collect(),
            }));
        }
        let answer: Value = serde_json::from_slice(&output.stdout)
            .map_err(|_| fail(HelperFailure::BadAnswer("something that is not JSON")))?;
        let username = answer["Username"].as_str().unwrap_or_default();
        let Some(secret) = answer["Secret"].as_str() else {
            return Err(fail(HelperFailure::BadAnswer("JSON without a Secret")));
        };
        if secret.is_empty() {
            return Ok(None);
        }
        let credential = if username == TOKEN_USERNAME {
            Credential::IdentityToken(Secret::new(secret))
        } else {
            Credential::Basic {
                username: username.to_owned(),
                password: Secret::new(secret),
            }
        };
        Ok(Some(Resolved {
            credential,
            origin: Origin::Helper {
                program: self.program.clone(),
                setting: self.setting,
                config: self.config.clone(),
            },
        }))
    }
}

struct HelperOutput {
    success: bool,
    status: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Starts `program get` with piped standard streams. A helper that was just written (installed
/// by a package manager, or by a process that forked while the file was still open for
/// writing) can be refused with "text file busy" for a moment: that is retried until
/// `deadline`, every other failure is final.
fn spawn_helper(program: &str, deadline: Instant) -> Result<std::process::Child, HelperFailure> {
    loop {
        let started = Command::new(program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match started {
            Ok(child) => return Ok(child),
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(HelperFailure::NotStarted(e.to_string())),
        }
    }
}

/// Runs `program get` with `input` on its standard input, and waits at most `timeout` for it
/// to exit and close its output; on timeout it is killed. A descendant it left holding its
/// output is not waited for.
fn run_bounded(
    program: &str,
    input: &[u8],
    timeout: Duration,
) -> Result<HelperOutput, HelperFailure> {
    let deadline = Instant::now() + timeout;
    let mut child = spawn_helper(program, deadline)?;
    // Readers on threads: a helper that writes much before reading must not block on a full
    // pipe while this thread waits.
    let (sender, receiver) = mpsc::channel();
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ];
    for (which, reader) in readers.into_iter().enumerate() {
        if let Some(reader) = reader {
            let sender = sender.clone();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = reader.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes);
                let _ = sender.send((which, bytes));
            });
        }
    }
    drop(sender);
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading closes the pipe: its exit status says more.
        let _ = stdin.write_all(input);
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperFailure::TimedOut(timeout));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperFailure::NotStarted(e.to_string()));
            }
        }
    };
    let mut outputs = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((which, bytes)) => outputs[which] = bytes,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => return Err(HelperFailure::TimedOut(timeout)),
        }
    }
    let [stdout, stderr] = outputs;
    Ok(HelperOutput {
        success: status.success(),
        status: status.to_string(),
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::os::unix::fs::PermissionsExt as _;

    use serde_json::json;

    use super::*;

    fn config(dir: &Path, name: &str, value: &Value) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    }

    fn basic(username: &str, password: &str) -> Credential {
        Credential::Basic {
            username: username.to_owned(),
            password: Secret::new(password),
        }
    }

    /// An executable shell script at `dir/name` with `body`.
    fn script(dir: &Path, name: &str, body: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn helper_at(program: String) -> Helper {
        Helper {
            program,
            server_url: "registry.example:5000".to_owned(),
            setting: "credsStore",
            config: PathBuf::from("/config.json"),
        }
    }

    #[test]
    fn helpers_come_first_then_the_store_then_auths_then_the_containers_file() {
        let dir = tempfile::tempdir().unwrap();
        let docker = config(
            dir.path(),
            "config.json",
            &json!({
                "credHelpers": {"registry.example:5000": "special"},
                "credsStore": "desktop",
                "auths": {"https://registry.example:5000": {"auth": "dXNlcjpwYXNz"}},
            }),
        );
        let containers = config(
            dir.path(),
            "auth.json",
            &json!({"auths": {"registry.example:5000": {"username": "u2", "password": "p2"}}}),
        );
        let all = CredentialConfig::from_files(Some(&docker), Some(&containers)).unwrap();
        let sources = all.sources("registry.example:5000");
        let described: Vec<String> = sources
            .iter()
            .map(|s| match s {
                Source::Helper(h) => format!("{} {} {}", h.setting, h.program, h.server_url),
                Source::Stored(a) => format!("{} {}", a.path.display(), a.key),
            })
            .collect();
        assert_eq!(
            described,
            [
                "credHelpers docker-credential-special registry.example:5000".to_owned(),
                "credsStore docker-credential-desktop registry.example:5000".to_owned(),
                format!("{} https://registry.example:5000", docker.display()),
                format!("{} registry.example:5000", containers.display()),
            ]
        );
        // Another host: no credHelpers entry, the store, no auths.
        let other = all.sources("other.example");
        assert_eq!(other.len(), 1);
        assert!(matches!(&other[0], Source::Helper(h) if h.setting == "credsStore"));
    }

    #[test]
    fn stored_entries_decode_auth_username_password_and_identity_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let docker = config(
            dir.path(),
            "config.json",
            &json!({"auths": {
                "a.example": {"auth": "dXNlcjpwYTpzcw=="},
                "b.example": {"username": "bob", "password": "pw"},
                "c.example": {"auth": "dXNlcjpwYXNz", "identitytoken": "refresh-1"},
                "d.example": {},
                "e.example": {"auth": "not base64!"},
            }}),
        );
        let all = CredentialConfig::from_files(Some(&docker), None).unwrap();
        let get = |host: &str| {
            all.resolve(host, Duration::from_secs(1))
                .map(|r| r.map(|r| r.credential))
        };
        // The password is everything after the first colon.
        assert_eq!(get("a.example").unwrap(), Some(basic("user", "pa:ss")));
        assert_eq!(get("b.example").unwrap(), Some(basic("bob", "pw")));
        assert_eq!(
            get("c.example").unwrap(),
            Some(Credential::IdentityToken(Secret::new("refresh-1")))
        );
        assert_eq!(get("d.example").unwrap(), None);
        assert_eq!(get("nowhere.example").unwrap(), None);
        let err = get("e.example").unwrap_err();
        assert!(matches!(err, OciError::CredentialConfig { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("auths[\"e.example\"].auth is not base64"),
            "{err}"
        );
    }

    #[test]
    fn docker_hub_is_one_registry_under_four_names() {
        for key in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let docker = config(
                dir.path(),
                "config.json",
                &json!({"auths": {key: {"auth": "dXNlcjpwYXNz"}}, "credHelpers": {key: "hub"}}),
            );
            let all = CredentialConfig::from_files(Some(&docker), None).unwrap();
            // The host a reference without one resolves to, and the others.
            for host in ["registry-1.docker.io", "docker.io", "index.docker.io"] {
                let sources = all.sources(host);
                assert_eq!(sources.len(), 2, "{key} for {host}");
                let Source::Helper(helper) = &sources[0] else {
                    panic!("{key} for {host}: no helper first");
                };
                assert_eq!(helper.program, "docker-credential-hub");
                assert_eq!(helper.server_url, DOCKER_HUB_INDEX);
                assert!(matches!(&sources[1], Source::Stored(s) if s.key == key));
            }
            assert!(all.sources("ghcr.io").is_empty());
        }
        assert_eq!(registry_name("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_name("http://r.example:5000/v2/"), "r.example:5000");
    }

    #[test]
    fn an_exact_key_wins_over_another_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let docker = config(
            dir.path(),
            "config.json",
            &json!({"auths": {
                "https://r.example": {"auth": "YTpi"},
                "r.example": {"auth": "Yzpk"},
            }}),
        );
        let all = CredentialConfig::from_files(Some(&docker), None).unwrap();
        let found = all.resolve("r.example", Duration::from_secs(1)).unwrap();
        assert_eq!(found.unwrap().credential, basic("c", "d"));
    }

    #[test]
    fn missing_files_are_empty_and_malformed_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        let all = CredentialConfig::from_files(Some(&missing), Some(&missing)).unwrap();
        assert!(all.searched().is_empty());
        let broken = dir.path().join("config.json");
        std::fs::write(&broken, b"{\"auths\": {\"secret-host\": ").unwrap();
        let err = CredentialConfig::from_files(Some(&broken), None).unwrap_err();
        assert!(
            err.to_string().contains(&broken.display().to_string()),
            "{err}"
        );
        assert_eq!(
            stella_core::Kinded::kind(&err),
            stella_core::ErrorKind::Invalid
        );
        std::fs::write(&broken, b"[]").unwrap();
        let err = CredentialConfig::from_files(Some(&broken), None).unwrap_err();
        assert!(err.to_string().ends_with("not a JSON object"), "{err}");
    }

    #[test]
    fn a_helper_is_asked_with_the_server_url_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(
            dir.path(),
            "docker-credential-echo",
            r#"[ "$1" = get ] || exit 9
read server
printf '{"ServerURL":"%s","Username":"u-%s","Secret":"s3cret"}' "$server" "$server""#,
        );
        let found = helper_at(program.clone())
            .get("registry.example:5000", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(found.credential, basic("u-registry.example:5000", "s3cret"));
        assert_eq!(
            found.origin.to_string(),
            format!("credential helper {program} (credsStore in /config.json)")
        );
    }

    #[test]
    fn a_token_username_makes_the_secret_an_identity_token() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(
            dir.path(),
            "docker-credential-token",
            r#"cat >/dev/null; echo '{"Username":"<token>","Secret":"refresh-2"}'"#,
        );
        let found = helper_at(program)
            .get("h", Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(
            found.credential,
            Credential::IdentityToken(Secret::new("refresh-2"))
        );
    }

    #[test]
    fn not_found_is_no_credentials_and_other_failures_are_errors_naming_the_helper() {
        let dir = tempfile::tempdir().unwrap();
        let none = script(
            dir.path(),
            "docker-credential-none",
            "echo 'credentials not found in native keychain'; exit 1",
        );
        assert_eq!(
            helper_at(none).get("h", Duration::from_secs(5)).unwrap(),
            None
        );
        let broken = script(
            dir.path(),
            "docker-credential-broken",
            "echo 'keychain locked' >&2; exit 3",
        );
        let err = helper_at(broken.clone())
            .get("r.example", Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "credential helper {broken} for r.example failed (exit status: 3): keychain locked"
            )
        );
        assert_eq!(
            stella_core::Kinded::kind(&err),
            stella_core::ErrorKind::Environment
        );
        let err = helper_at(dir.path().join("absent").display().to_string())
            .get("r.example", Duration::from_secs(5))
            .unwrap_err();
        assert!(err.to_string().contains("could not be started"), "{err}");
    }

    #[test]
    fn a_hanging_helper_is_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let hang = script(dir.path(), "docker-credential-hang", "exec sleep 600");
        let started = Instant::now();
        let err = helper_at(hang.clone())
            .get("r.example:5000", Duration::from_millis(300))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err.to_string(),
            format!(
                "credential helper {hang} for r.example:5000 did not answer within 0.3 s and was killed"
            )
        );
        // A helper that exits but leaves a child holding its output is not waited for either.
        let orphan = script(
            dir.path(),
            "docker-credential-orphan",
            "sleep 600 &\necho '{\"Username\":\"u\",\"Secret\":\"p\"}'",
        );
        let started = Instant::now();
        let _ = helper_at(orphan).get("r.example:5000", Duration::from_millis(500));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn secrets_stay_out_of_debug_output_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let docker = config(
            dir.path(),
            "config.json",
            &json!({"auths": {"r.example": {"username": "bob", "password": "hunter2-pw"}}}),
        );
        let all = CredentialConfig::from_files(Some(&docker), None).unwrap();
        let found = all.resolve("r.example", Duration::from_secs(1)).unwrap();
        let shown = format!("{all:?} {found:?} {:?}", all.sources("r.example"));
        assert!(!shown.contains("hunter2-pw"), "{shown}");
        assert!(shown.contains("bob"), "{shown}");
        // A helper answering nonsense that holds the secret: not repeated.
        let leaky = script(
            dir.path(),
            "docker-credential-leaky",
            "echo 'Secret: hunter2-pw'",
        );
        let err = helper_at(leaky)
            .get("r.example", Duration::from_secs(5))
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2-pw"), "{err:?}");
    }
}
