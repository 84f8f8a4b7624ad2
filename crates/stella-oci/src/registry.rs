//! The registry store: an [`ArtifactStore`] over the OCI distribution API (blobs, manifests,
//! the OCI 1.1 referrers API) with the referrers tag schema as fallback on registries without
//! the API (`sha256-<hex>` image indexes kept by read-modify-write, deduplicated and sorted).
//!
//! Plain HTTP is used only for loopback hosts or when asked
//! ([`RegistryOptions::insecure`](crate::RegistryOptions::insecure));
//! credentials come from `~/.docker/config.json` (or `$DOCKER_CONFIG`): basic auth, and bearer
//! tokens fetched from the realm a 401 names. Every pulled blob and manifest is checked against
//! its digest. Support for the referrers API is detected by a 200 answer with an index content
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

use crate::reference::{DOCKER_HUB, Target};
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
    repository: String,
    client: Client,
    basic: Option<String>,
    token: Mutex<Option<String>>,
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

fn transport(url: &str) -> impl Fn(reqwest::Error) -> OciError + '_ {
    move |source| OciError::Transport {
        url: url.to_owned(),
        source,
    }
}

/// `user:password` for `host` from the Docker config file, base64 as stored there.
fn docker_auth(host: &str) -> Option<String> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker"))
        })?;
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
    let auths = config["auths"].as_object()?;
    auths
        .iter()
        .find(|(k, _)| {
            let k = k
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            let key_host = k.split('/').next();
            // Docker Hub's credentials are stored under the index's name.
            key_host == Some(host)
                || (host == DOCKER_HUB && matches!(key_host, Some("index.docker.io" | "docker.io")))
        })
        .and_then(|(_, v)| v["auth"].as_str().map(str::to_owned))
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
    /// [`OciError::Transport`] when the HTTP client cannot be built.
    pub fn new(host: &str, repository: &str, options: &RegistryOptions) -> Result<Self, OciError> {
        let scheme = if is_loopback(host) || options.insecure {
            "http"
        } else {
            "https"
        };
        let base = format!("{scheme}://{host}");
        let client = Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(transport(&base))?;
        Ok(RegistryStore {
            basic: docker_auth(host),
            base,
            repository: repository.to_owned(),
            client,
            token: Mutex::new(None),
            referrers_api: Mutex::new(None),
            fallback: Mutex::new(()),
        })
    }

    /// `scheme://host[:port]`.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn token(&self) -> Option<String> {
        self.token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.repository)
    }

    /// Sends a request (built anew for each attempt), authenticating on a 401 and retrying 5xx
    /// answers and transport errors with backoff.
    fn send(&self, url: &str, build: &dyn Fn() -> RequestBuilder) -> Result<Response, OciError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            let mut request = build();
            if let Some(t) = self.token() {
                request = request.header(AUTHORIZATION, format!("Bearer {t}"));
            } else if let Some(b) = &self.basic {
                request = request.header(AUTHORIZATION, format!("Basic {b}"));
            }
            let response = match request.send() {
                Ok(r) => r,
                Err(e) => {
                    last = Some(transport(url)(e));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .filter(|c| c.starts_with("Bearer "))
                .map(str::to_owned);
            if status == 401
                && self.token().is_none()
                && let Some(challenge) = challenge
            {
                let token = self.fetch_token(&challenge)?;
                *self.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
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

    fn fetch_token(&self, challenge: &str) -> Result<String, OciError> {
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
        let mut request = self.client.get(realm).query(
            &params
                .iter()
                .filter(|(k, _)| k.as_str() != "realm")
                .collect::<Vec<_>>(),
        );
        if let Some(b) = &self.basic {
            request = request.header(AUTHORIZATION, format!("Basic {b}"));
        }
        let response = request.send().map_err(transport(realm))?;
        if !response.status().is_success() {
            return Err(OciError::TokenRefused {
                realm: realm.clone(),
                status: response.status().as_u16(),
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
