//! The registry store: an [`ArtifactStore`] over the OCI distribution API (blobs, manifests,
//! the OCI 1.1 referrers API) with the referrers tag schema as fallback on registries without
//! the API (`sha256-<hex>` image indexes kept by read-modify-write, deduplicated and sorted).
//!
//! Plain HTTP is used only for loopback hosts or when asked
//! ([`RegistryOptions::insecure`](crate::RegistryOptions::insecure)); HTTPS trusts the system's
//! roots and the CA files given ([`RegistryOptions::ca_files`](crate::RegistryOptions::ca_files)),
//! and a certificate it does not accept is an error at once, never retried.
//!
//! Credentials are looked up only when the registry asks for them (a 401), as
//! [`crate::credentials`] resolves them (Docker config, credential helpers, containers auth
//! file), once per store: a `Basic` challenge is answered with the user name and password, a
//! `Bearer` challenge by fetching a token from the realm it names (with basic credentials, or an
//! identity token as OAuth2 refresh token, or anonymously), again when a later challenge asks
//! for another scope. Credentials refused are an error naming where they came from, never what
//! they are. Every pulled blob and manifest is checked against its digest. Support for the referrers API is detected by a 200 answer with an index content
//! type, never by headers alone (some registries send `OCI-Subject` without the API).
//!
//! The store is `Send + Sync`: the bearer token and the referrers-API probe are kept behind
//! mutexes, so one store serves many threads.
//!
//! Not here: what a reference means (see [`crate::reference`]), image layouts on disk.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::credentials::{Credential, CredentialConfig, Resolved};
use crate::reference::Target;
use crate::store::{INDEX, MANIFEST, Referrer, Stored, check_digest};
use crate::{ArtifactStore, MAX_MANIFEST_BYTES, OciError, RegistryOptions};

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// How many times a request is sent before the store gives up on a registry.
pub const ATTEMPTS: u32 = 4;

/// Most referrer entries read from a paged referrers answer; later pages are not fetched.
pub const MAX_REFERRERS: usize = 100_000;

/// A repository in a registry.
pub struct RegistryStore {
    base: String,
    /// `host[:port]`, as credentials are looked up.
    host: String,
    repository: String,
    client: Client,
    helper_timeout: Duration,
    auth: Mutex<Auth>,
    /// Whether the referrers API answered (probed once).
    referrers_api: Mutex<Option<bool>>,
    /// Held across the read-modify-write of a fallback index, so that threads sharing this
    /// store do not overwrite each other's entries (other writers of the same registry are not
    /// held back: the tag schema has no lock).
    fallback: Mutex<()>,
}

impl std::fmt::Debug for RegistryStore {
    // Credentials stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryStore")
            .field("base", &self.base)
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

/// What the store knows about authenticating to its registry.
#[derive(Default)]
struct Auth {
    /// The credentials found, once looked up (`Some(None)`: there are none).
    resolved: Option<Option<Resolved>>,
    /// Where they were looked for, for an error when there are none.
    searched: String,
    /// Whether the registry asked for basic authentication.
    basic: bool,
    /// The bearer token and the challenge it answers.
    token: Option<(String, String)>,
}

fn transport(url: &str) -> impl Fn(reqwest::Error) -> OciError + '_ {
    move |source| {
        if is_certificate_problem(&source) {
            OciError::Certificate {
                url: url.to_owned(),
                source,
            }
        } else {
            OciError::Transport {
                url: url.to_owned(),
                source,
            }
        }
    }
}

/// Whether the TLS handshake failed on the server's certificate (the TLS client says so in
/// its message; reqwest keeps the rustls error's type private to it).
fn is_certificate_problem(error: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = cause {
        if e.to_string().contains("certificate") {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The certificates of every CA file, each file checked to hold at least one.
fn ca_certificates(files: &[std::path::PathBuf]) -> Result<Vec<reqwest::Certificate>, OciError> {
    let mut all = Vec::new();
    for path in files {
        let bad = |reason: String| OciError::CaFile {
            path: path.clone(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("not a PEM certificate bundle: {e}")))?;
        if certificates.is_empty() {
            return Err(bad("holds no PEM certificate".to_owned()));
        }
        all.extend(certificates);
    }
    Ok(all)
}

/// The scheme of a `WWW-Authenticate` challenge, lower case.
fn challenge_scheme(challenge: &str) -> String {
    challenge
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn basic_header(username: &str, password: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    name == "localhost" || name == "127.0.0.1" || name == "[::1]"
}

impl RegistryStore {
    /// The repository `repository` at `host`: HTTPS, or plain HTTP for a loopback host or
    /// when [`RegistryOptions::insecure`].
    ///
    /// # Errors
    /// [`OciError::CaFile`] for a CA file that cannot be read or holds no PEM certificate;
    /// [`OciError::Transport`] when the HTTP client cannot be built.
    pub fn new(host: &str, repository: &str, options: &RegistryOptions) -> Result<Self, OciError> {
        let scheme = if is_loopback(host) || options.insecure {
            "http"
        } else {
            "https"
        };
        let base = format!("{scheme}://{host}");
        let mut builder = Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)));
        let extra_roots = ca_certificates(&options.ca_files)?;
        if !extra_roots.is_empty() {
            builder = builder.tls_certs_merge(extra_roots);
        }
        let client = builder.build().map_err(transport(&base))?;
        Ok(RegistryStore {
            base,
            host: host.to_owned(),
            repository: repository.to_owned(),
            client,
            helper_timeout: options.helper_timeout,
            auth: Mutex::new(Auth::default()),
            referrers_api: Mutex::new(None),
            fallback: Mutex::new(()),
        })
    }

    /// `scheme://host[:port]`.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn auth(&self) -> std::sync::MutexGuard<'_, Auth> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The credentials for this registry, looked up on first use.
    fn credentials(&self) -> Result<Option<Resolved>, OciError> {
        let mut auth = self.auth();
        if let Some(known) = &auth.resolved {
            return Ok(known.clone());
        }
        let config = CredentialConfig::from_env()?;
        let found = config.resolve(&self.host, self.helper_timeout)?;
        let files: Vec<String> = config
            .searched()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        auth.searched = if files.is_empty() {
            "found no Docker config or containers auth file".to_owned()
        } else {
            format!("looked in {}", files.join(", "))
        };
        auth.resolved = Some(found.clone());
        Ok(found)
    }

    /// Which credentials were offered and where they came from, or where none were found.
    fn credentials_said(&self) -> String {
        let auth = self.auth();
        match &auth.resolved {
            Some(Some(resolved)) => format!(
                "the credentials for {} from {} were refused",
                self.host, resolved.origin
            ),
            Some(None) => format!("no credentials for {} ({})", self.host, auth.searched),
            None => format!("no credentials for {} were offered", self.host),
        }
    }

    /// The `Authorization` header for the next request, if any.
    fn authorization(&self) -> Option<String> {
        let auth = self.auth();
        if let Some((_, token)) = &auth.token {
            return Some(format!("Bearer {token}"));
        }
        if !auth.basic {
            return None;
        }
        match &auth.resolved {
            Some(Some(Resolved {
                credential: Credential::Basic { username, password },
                ..
            })) => Some(basic_header(username, password.expose())),
            _ => None,
        }
    }

    /// Answers a 401's challenge so that the request can be sent again; an error when it
    /// cannot be (no credentials, or the ones sent were refused).
    fn authenticate(&self, url: &str, challenge: Option<&str>) -> Result<(), OciError> {
        let unauthorized = || OciError::Unauthorized {
            url: url.to_owned(),
            status: 401,
            credentials: self.credentials_said(),
        };
        let challenge = challenge.unwrap_or("Basic");
        if challenge_scheme(challenge) == "bearer" {
            let same = self
                .auth()
                .token
                .as_ref()
                .is_some_and(|(answered, _)| answered == challenge);
            if same {
                return Err(unauthorized());
            }
            let credentials = self.credentials()?;
            let token = self.fetch_token(challenge, credentials.as_ref())?;
            self.auth().token = Some((challenge.to_owned(), token));
            return Ok(());
        }
        let credentials = self.credentials()?;
        let mut auth = self.auth();
        let has_basic = matches!(
            credentials,
            Some(Resolved {
                credential: Credential::Basic { .. },
                ..
            })
        );
        if let Some(Resolved {
            credential: Credential::IdentityToken(_),
            origin,
        }) = &credentials
        {
            return Err(OciError::Unauthorized {
                url: url.to_owned(),
                status: 401,
                credentials: format!(
                    "the credentials for {} from {origin} are an identity token, and the \
                     registry asks for a user name and password",
                    self.host
                ),
            });
        }
        if auth.basic || !has_basic {
            drop(auth);
            return Err(unauthorized());
        }
        auth.basic = true;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    /// Sends a request (built anew for each attempt), authenticating on a 401 and retrying 5xx
    /// answers and transport errors with backoff.
    fn send(&self, url: &str, build: &dyn Fn() -> RequestBuilder) -> Result<Response, OciError> {
        let mut last = None;
        let mut failed = false;
        for attempt in 0..ATTEMPTS {
            if failed {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            failed = true;
            let mut request = build();
            if let Some(header) = self.authorization() {
                request = request.header(AUTHORIZATION, header);
            }
            let response = match request.send() {
                Ok(r) => r,
                Err(e) => match transport(url)(e) {
                    e @ OciError::Certificate { .. } => return Err(e),
                    e => {
                        last = Some(e);
                        continue;
                    }
                },
            };
            let status = response.status().as_u16();
            if status == 401 {
                let challenge = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                self.authenticate(url, challenge.as_deref())?;
                failed = false;
                continue;
            }
            if status >= 500 {
                last = Some(OciError::Status {
                    url: url.to_owned(),
                    status,
                    body: String::new(),
                });
                continue;
            }
            return Ok(response);
        }
        Err(OciError::GaveUp {
            url: url.to_owned(),
            attempts: ATTEMPTS,
            last: Box::new(last.unwrap_or(OciError::Protocol {
                url: url.to_owned(),
                reason: "no answer",
            })),
        })
    }

    fn fetch_token(
        &self,
        challenge: &str,
        credentials: Option<&Resolved>,
    ) -> Result<String, OciError> {
        // key="value" pairs separated by commas outside the quotes (a scope holds "pull,push").
        let mut params = BTreeMap::new();
        let mut rest = challenge.trim_start_matches("Bearer ").trim();
        while let Some((key, after)) = rest.split_once('=') {
            let key = key.trim().trim_start_matches(',').trim().to_owned();
            let (value, tail) = match after.strip_prefix('"') {
                Some(quoted) => match quoted.split_once('"') {
                    Some((v, t)) => (v.to_owned(), t),
                    None => (quoted.to_owned(), ""),
                },
                None => match after.split_once(',') {
                    Some((v, t)) => (v.trim().to_owned(), t),
                    None => (after.trim().to_owned(), ""),
                },
            };
            params.insert(key, value);
            rest = tail.trim_start_matches(',').trim();
        }
        let realm = params.get("realm").ok_or_else(|| OciError::Protocol {
            url: self.base.clone(),
            reason: "a 401 answer without a token realm",
        })?;
        let others: Vec<(&String, &String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "realm")
            .collect();
        let request = match credentials.map(|r| &r.credential) {
            // The OAuth2 refresh-token grant, as the distribution token spec describes it.
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = reqwest::Url::parse("http://form.invalid/").map_err(|_| {
                    OciError::Protocol {
                        url: realm.clone(),
                        reason: "a form could not be built",
                    }
                })?;
                form.query_pairs_mut()
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("client_id", "stella")
                    .append_pair("refresh_token", refresh.expose())
                    .extend_pairs(others.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                self.client
                    .post(realm)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.query().unwrap_or_default().to_owned())
            }
            Some(Credential::Basic { username, password }) => self
                .client
                .get(realm)
                .query(&others)
                .header(AUTHORIZATION, basic_header(username, password.expose())),
            None => self.client.get(realm).query(&others),
        };
        let response = request.send().map_err(transport(realm))?;
        if !response.status().is_success() {
            return Err(OciError::TokenRefused {
                realm: realm.clone(),
                status: response.status().as_u16(),
                credentials: self.credentials_said(),
            });
        }
        let body: Value = response.json().map_err(transport(realm))?;
        body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| OciError::Protocol {
                url: realm.clone(),
                reason: "no token in the token server's answer",
            })
    }

    /// The error of an answer the request cannot go on with: 404 is [`OciError::NotFound`]
    /// (`what` in this repository), anything else [`OciError::Status`].
    fn fail(&self, url: &str, what: &str, response: Response) -> OciError {
        let status = response.status().as_u16();
        if status == 404 {
            return OciError::NotFound {
                what: what.to_owned(),
                location: format!("{}/{}", self.base, self.repository),
            };
        }
        let body: String = response
            .text()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        OciError::Status {
            url: url.to_owned(),
            status,
            body,
        }
    }

    fn get_index_or_empty(&self, tag: &str) -> Result<Vec<Value>, OciError> {
        match self.get_manifest(&Target::Tag(tag.to_owned())) {
            Ok(stored) => {
                let v: Value =
                    serde_json::from_slice(&stored.bytes).map_err(|e| OciError::Invalid {
                        what: format!("referrers index {tag}"),
                        reason: e.to_string(),
                    })?;
                // A registry may resolve the tag to something that is not an index (the image
                // itself, on some registries): that is not a referrers list.
                if v["mediaType"] != INDEX || !v["manifests"].is_array() {
                    return Ok(Vec::new());
                }
                Ok(v["manifests"].as_array().cloned().unwrap_or_default())
            }
            Err(OciError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn has_referrers_api(&self, subject: &str) -> Result<bool, OciError> {
        if let Some(known) = *self
            .referrers_api
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Ok(known);
        }
        let url = self.url(&format!("referrers/{subject}"));
        let response = self.send(&url, &|| self.client.get(&url))?;
        let is_index = response.status().as_u16() == 200
            && response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with(INDEX));
        *self
            .referrers_api
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(is_index);
        Ok(is_index)
    }
}

fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

impl ArtifactStore for RegistryStore {
    fn put_blob(&self, bytes: &[u8]) -> Result<String, OciError> {
        let digest = crate::store::digest_of(bytes);
        if self.has_blob(&digest)? {
            return Ok(digest);
        }
        let start = self.url("blobs/uploads/");
        let response = self.send(&start, &|| self.client.post(&start))?;
        if response.status().as_u16() != 202 {
            return Err(self.fail(&start, "the blob upload endpoint", response));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| OciError::Protocol {
                url: start.clone(),
                reason: "a blob upload started without a Location",
            })?
            .to_owned();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        let response = self.send(&put, &|| {
            self.client
                .put(&put)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec())
        })?;
        if response.status().as_u16() != 201 {
            return Err(self.fail(&put, &format!("the upload of blob {digest}"), response));
        }
        Ok(digest)
    }

    fn get_blob(&self, digest: &str) -> Result<Vec<u8>, OciError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(&url, &|| self.client.get(&url))?;
        if !response.status().is_success() {
            return Err(self.fail(&url, &format!("blob {digest}"), response));
        }
        let bytes = response.bytes().map_err(transport(&url))?.to_vec();
        check_digest(&bytes, digest)?;
        Ok(bytes)
    }

    /// Refuses a blob whose announced length is over `max` before reading it, and reads at
    /// most `max + 1` bytes of one that announces none or lies.
    fn get_blob_bounded(&self, digest: &str, max: u64) -> Result<Vec<u8>, OciError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(&url, &|| self.client.get(&url))?;
        if !response.status().is_success() {
            return Err(self.fail(&url, &format!("blob {digest}"), response));
        }
        if let Some(length) = response.content_length()
            && length > max
        {
            return Err(OciError::Limit {
                what: format!("blob {digest} is {length} bytes"),
                limit: max,
            });
        }
        let bytes = crate::store::read_bounded(response, digest, max)?;
        check_digest(&bytes, digest)?;
        Ok(bytes)
    }

    fn has_blob(&self, digest: &str) -> Result<bool, OciError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(&url, &|| self.client.head(&url))?;
        Ok(response.status().is_success())
    }

    fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<String, OciError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(OciError::TooLarge { size: bytes.len() });
        }
        let digest = crate::store::digest_of(bytes);
        let reference = tag.unwrap_or(&digest).to_owned();
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.send(&url, &|| {
            self.client
                .put(&url)
                .header(CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
        })?;
        if response.status().as_u16() != 201 {
            return Err(self.fail(&url, &format!("the push of manifest {digest}"), response));
        }
        let subject_api = response.headers().get("OCI-Subject").is_some();
        // Registries without the referrers API: list the artifact in its subject's fallback
        // index, by read-modify-write.
        let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        if let Some(subject) = value["subject"]["digest"].as_str()
            && !(subject_api && self.has_referrers_api(subject)?)
        {
            let tag = fallback_tag(subject);
            let _held = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
            let mut entries = self.get_index_or_empty(&tag)?;
            let mut entry = json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
            if let Some(t) = value["artifactType"].as_str() {
                entry["artifactType"] = json!(t);
            }
            if let Some(a) = value["annotations"].as_object() {
                entry["annotations"] = Value::Object(a.clone());
            }
            if !entries.iter().any(|e| e["digest"] == entry["digest"]) {
                entries.push(entry);
                entries.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
                let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries});
                let index_bytes =
                    stella_core::jcs::to_canonical(&index).map_err(|e| OciError::Invalid {
                        what: "referrers index".to_owned(),
                        reason: e.to_string(),
                    })?;
                self.put_manifest(&index_bytes, INDEX, Some(&tag))?;
            }
        }
        Ok(digest)
    }

    fn get_manifest(&self, target: &Target) -> Result<Stored, OciError> {
        let reference = match target {
            Target::Tag(t) => t.clone(),
            Target::Digest(d) => d.clone(),
            Target::None => "latest".to_owned(),
        };
        let url = self.url(&format!("manifests/{reference}"));
        let response = self.send(&url, &|| {
            self.client.get(&url).header(ACCEPT, ACCEPT_MANIFESTS)
        })?;
        if !response.status().is_success() {
            return Err(self.fail(&url, &format!("manifest {reference}"), response));
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(MANIFEST)
            .split(';')
            .next()
            .unwrap_or(MANIFEST)
            .trim()
            .to_owned();
        if !media_type.contains("json") {
            return Err(OciError::Invalid {
                what: format!("manifest {reference}"),
                reason: format!("the registry answered {media_type}, not a manifest"),
            });
        }
        let bytes = response.bytes().map_err(transport(&url))?.to_vec();
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(OciError::TooLarge { size: bytes.len() });
        }
        let digest = stella_core::Digest::sha256(&bytes);
        if let Target::Digest(d) = target {
            check_digest(&bytes, d)?;
        }
        Ok(Stored {
            bytes,
            media_type,
            digest,
        })
    }

    fn referrers(
        &self,
        subject: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, OciError> {
        let entries = if self.has_referrers_api(subject)? {
            let mut all = Vec::new();
            let mut next = Some(self.url(&format!("referrers/{subject}")));
            while let Some(url) = next.take() {
                let response = self.send(&url, &|| self.client.get(&url))?;
                if !response.status().is_success() {
                    return Err(self.fail(&url, &format!("the referrers of {subject}"), response));
                }
                next = response
                    .headers()
                    .get("Link")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| l.split(';').next())
                    .map(|u| {
                        u.trim()
                            .trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_owned()
                    })
                    .map(|u| {
                        if u.starts_with('/') {
                            format!("{}{u}", self.base)
                        } else {
                            u
                        }
                    });
                let index: Value = response.json().map_err(transport(&url))?;
                all.extend(index["manifests"].as_array().cloned().unwrap_or_default());
                if all.len() > MAX_REFERRERS {
                    break;
                }
            }
            all
        } else {
            self.get_index_or_empty(&fallback_tag(subject))?
        };
        let mut out = Vec::new();
        for e in entries
            .iter()
            .filter(|e| artifact_type.is_none_or(|t| e["artifactType"].as_str() == Some(t)))
        {
            let Some(digest) = e["digest"].as_str() else {
                continue;
            };
            // A listed digest that is not one is an error, never a referrer left out.
            let digest = crate::store::parse_digest(digest, || {
                format!(
                    "referrers of {subject} in {}/{}",
                    self.base, self.repository
                )
            })?;
            out.push(Referrer {
                digest,
                media_type: e["mediaType"].as_str().unwrap_or(MANIFEST).to_owned(),
                size: e["size"].as_u64().unwrap_or(0),
                artifact_type: e["artifactType"].as_str().map(str::to_owned),
                annotations: crate::store::annotations_of(e),
            });
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
