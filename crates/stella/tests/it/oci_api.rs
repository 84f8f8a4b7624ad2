//! The registry store against a small in-test registry that follows the distribution-spec
//! endpoints and has the OCI 1.1 referrers API (paged, two per page), and against registries
//! that answer HTML, fail with 500 or hang: the API path is used (no fallback tag written), and
//! every failure is a precise error with nothing half-copied into the destination layout.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use predicates::prelude::*;
use serde_json::{Value, json};
use stella_oci::{ArtifactStore, LayoutStore};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Spec,
    Html,
    Failing,
    Hanging,
    /// Manifests answered are 5 MiB of JSON.
    Huge,
    /// Every request needs `Authorization: Basic` (user:pass).
    Basic,
    /// Every request needs a bearer token from `/token`, which needs basic credentials.
    Token,
}

const BASIC: &str = "Basic dXNlcjpwYXNz";
const BEARER: &str = "Bearer token-123";

/// Manifests by digest: bytes and media type.
type Manifests = Arc<Mutex<HashMap<String, (Vec<u8>, String)>>>;

#[derive(Clone)]
struct Registry {
    mode: Mode,
    blobs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// digest -> (bytes, media type); tags -> digest.
    manifests: Manifests,
    tags: Arc<Mutex<HashMap<String, String>>>,
    host: Arc<Mutex<String>>,
}

fn sha(bytes: &[u8]) -> String {
    stella_oci::store::digest_of(bytes)
}

async fn gate(state: &Registry, headers: &HeaderMap) -> Option<Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match state.mode {
        Mode::Failing => Some(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Mode::Hanging => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            None
        }
        Mode::Basic if auth != BASIC => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"test\"")],
            )
                .into_response(),
        ),
        Mode::Token if auth != BEARER => {
            let host = state.host.lock().expect("lock").clone();
            let challenge = format!(
                "Bearer realm=\"http://{host}/token\",service=\"test\",scope=\"repository:evidence/app:pull,push\""
            );
            Some(
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge)],
                )
                    .into_response(),
            )
        }
        _ => None,
    }
}

async fn token(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != BASIC
        || query.get("service").map(String::as_str) != Some("test")
        || query.get("scope").map(String::as_str) != Some("repository:evidence/app:pull,push")
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"token": "token-123"})).into_response()
}

/// The OAuth2 refresh-token grant: an identity token `refresh-123` buys the access token.
async fn token_by_refresh(body: String) -> Response {
    let form: HashMap<String, String> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.replace("%3A", ":")
                    .replace("%2C", ",")
                    .replace("%2F", "/"),
            )
        })
        .collect();
    let wanted = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "refresh-123"),
        ("service", "test"),
        ("scope", "repository:evidence/app:pull,push"),
    ];
    if wanted
        .iter()
        .any(|(k, v)| form.get(*k).map(String::as_str) != Some(*v))
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"access_token": "token-123"})).into_response()
}

async fn v2(
    State(state): State<Registry>,
    method: Method,
    UrlPath(rest): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&state, &headers).await {
        return r;
    }
    let parts: Vec<&str> = rest.rsplitn(3, '/').collect();
    let [last, kind, _repo] = parts.as_slice() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match (*kind, method.as_str()) {
        ("uploads", "POST") | ("blobs", "POST") => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, "/upload/1".to_owned())],
        )
            .into_response(),
        ("blobs", "HEAD") | ("blobs", "GET") => {
            match state.blobs.lock().expect("lock").get(*last) {
                Some(b) if method == Method::GET => b.clone().into_response(),
                Some(_) => StatusCode::OK.into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        ("manifests", "PUT") => {
            let media = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let digest = sha(&body);
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            state
                .manifests
                .lock()
                .expect("lock")
                .insert(digest.clone(), (body.to_vec(), media));
            if !last.starts_with("sha256:") {
                state
                    .tags
                    .lock()
                    .expect("lock")
                    .insert((*last).to_owned(), digest.clone());
            }
            let mut response =
                (StatusCode::CREATED, [("Docker-Content-Digest", digest)]).into_response();
            if let Some(subject) = value["subject"]["digest"].as_str() {
                response
                    .headers_mut()
                    .insert("OCI-Subject", subject.parse().expect("header"));
            }
            response
        }
        ("manifests", "GET") => {
            if state.mode == Mode::Huge {
                let mut big = b"{\"schemaVersion\":2,\"pad\":\"".to_vec();
                big.resize(5 << 20, b'x');
                big.extend_from_slice(b"\"}");
                return (
                    [(
                        header::CONTENT_TYPE,
                        "application/vnd.oci.image.manifest.v1+json",
                    )],
                    big,
                )
                    .into_response();
            }
            if state.mode == Mode::Html {
                return (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body>Sign in to continue</body></html>",
                )
                    .into_response();
            }
            let digest = if last.starts_with("sha256:") {
                (*last).to_owned()
            } else {
                match state.tags.lock().expect("lock").get(*last) {
                    Some(d) => d.clone(),
                    None => return StatusCode::NOT_FOUND.into_response(),
                }
            };
            match state.manifests.lock().expect("lock").get(&digest) {
                Some((bytes, media)) => {
                    ([(header::CONTENT_TYPE, media.clone())], bytes.clone()).into_response()
                }
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        ("referrers", "GET") => {
            let mut found: Vec<Value> = state
                .manifests
                .lock()
                .expect("lock")
                .iter()
                .filter_map(|(digest, (bytes, media))| {
                    let v: Value = serde_json::from_slice(bytes).ok()?;
                    (v["subject"]["digest"].as_str() == Some(*last)).then(|| {
                        json!({"mediaType": media, "digest": digest, "size": bytes.len(),
                               "artifactType": v["artifactType"]})
                    })
                })
                .collect();
            found.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
            let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let chunk: Vec<Value> = found.iter().skip(page * 2).take(2).cloned().collect();
            let mut response = (
                [(
                    header::CONTENT_TYPE,
                    "application/vnd.oci.image.index.v1+json",
                )],
                json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": chunk})
                .to_string(),
            )
                .into_response();
            if found.len() > (page + 1) * 2 {
                let link = format!("</v2/{rest}?page={}>; rel=\"next\"", page + 1);
                response
                    .headers_mut()
                    .insert("Link", link.parse().expect("header"));
            }
            response
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn upload(
    State(state): State<Registry>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&state, &headers).await {
        return r;
    }
    let Some(digest) = query.get("digest") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if &sha(&body) != digest {
        return StatusCode::BAD_REQUEST.into_response();
    }
    state
        .blobs
        .lock()
        .expect("lock")
        .insert(digest.clone(), body.to_vec());
    StatusCode::CREATED.into_response()
}

/// Starts the registry on a loopback port; its `host:port`.
fn serve(mode: Mode) -> (String, Registry) {
    let state = Registry {
        mode,
        blobs: Arc::default(),
        manifests: Arc::default(),
        tags: Arc::default(),
        host: Arc::default(),
    };
    let app = Router::new()
        .route("/v2/", get(|| async { "{}" }))
        .route("/v2/{*rest}", any(v2))
        .route("/upload/{id}", put(upload))
        .route("/token", get(token).post(token_by_refresh))
        .with_state(state.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let host = listener.local_addr().expect("addr").to_string();
    *state.host.lock().expect("lock") = host.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    (host, state)
}

fn stella() -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env_remove("STELLA_HOME")
        .env("DOCKER_CONFIG", "/nonexistent")
        .env("STELLA_OCI_TIMEOUT", "2");
    cmd
}

/// A layout with a small image tagged `app` and `n` artifacts attached to it.
fn layout_with_referrers(dir: &Path, n: usize) -> String {
    let store = LayoutStore::open(dir).expect("layout");
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let c = store.put_blob(config).expect("config");
    let l = store.put_blob(b"layer").expect("layer");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": stella_oci::store::MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l, "size": 5}],
    }))
    .expect("json");
    let digest = store
        .put_manifest(&manifest, stella_oci::store::MANIFEST, Some("app"))
        .expect("manifest");
    let subject = store
        .get_manifest(&stella_oci::reference::Target::Tag("app".into()))
        .expect("image");
    for i in 0..n {
        stella_oci::store::attach(
            &store,
            &subject,
            if i % 2 == 0 {
                "application/vnd.cyclonedx+json"
            } else {
                "text/plain"
            },
            &[stella_oci::store::Layer {
                name: format!("e{i}"),
                media_type: "text/plain".into(),
                bytes: format!("evidence {i}").into_bytes(),
            }],
            &Default::default(),
        )
        .expect("attach");
    }
    digest
}

#[test]
fn the_referrers_api_is_used_and_paged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    let image = layout_with_referrers(&layout, 5);
    let (host, state) = serve(Mode::Spec);
    let remote = format!("{host}/evidence/app:app");
    stella()
        .args([
            "oci",
            "copy",
            &format!("oci-layout:{}:app", layout.display()),
            &remote,
        ])
        .assert()
        .success();
    // With the API present, no fallback tag is written.
    assert!(
        state
            .tags
            .lock()
            .expect("lock")
            .keys()
            .all(|t| !t.starts_with("sha256-"))
    );
    let out = stella()
        .args(["oci", "referrers", "--json", &remote])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tree: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(tree["digest"], image.as_str());
    assert_eq!(
        tree["referrers"].as_array().expect("array").len(),
        5,
        "all pages read"
    );
    let out = stella()
        .args([
            "oci",
            "referrers",
            "--json",
            "--artifact-type",
            "text/plain",
            &remote,
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let filtered: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(filtered["referrers"].as_array().expect("array").len(), 2);
}

#[test]
fn html_500s_and_hangs_are_errors_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (mode, expect) in [
        (Mode::Html, "not a manifest"),
        (Mode::Huge, "at most 4194304 are accepted"),
        (Mode::Failing, "gave up after 4 attempts"),
        (Mode::Hanging, "gave up after 4 attempts"),
    ] {
        let (host, _) = serve(mode);
        let dst = dir.path().join(format!("dst-{expect}").replace(' ', "-"));
        stella()
            .args([
                "oci",
                "copy",
                &format!("{host}/evidence/app:app"),
                &format!("oci-layout:{}:app", dst.display()),
            ])
            .assert()
            .failure()
            .stderr(predicate::str::contains(expect));
        // Nothing half-copied: the destination layout holds no manifest.
        if dst.exists() {
            let store = LayoutStore::open(&dst).expect("layout");
            assert!(store.entries().expect("entries").is_empty());
        }
    }
}

#[test]
fn credentials_from_the_docker_config_basic_and_bearer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    layout_with_referrers(&layout, 2);
    for mode in [Mode::Basic, Mode::Token] {
        let (host, _) = serve(mode);
        let docker = dir
            .path()
            .join(format!("docker-{}", host.replace(':', "-")));
        std::fs::create_dir_all(&docker).expect("mkdir");
        std::fs::write(
            docker.join("config.json"),
            json!({"auths": {host.clone(): {"auth": "dXNlcjpwYXNz"}}}).to_string(),
        )
        .expect("config");
        let remote = format!("{host}/evidence/app:app");
        let src = format!("oci-layout:{}:app", layout.display());
        // Without credentials: refused, and said so.
        stella()
            .args(["oci", "copy", &src, &remote])
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("401").or(predicate::str::contains("refused a token")),
            );
        stella()
            .env("DOCKER_CONFIG", &docker)
            .args(["oci", "copy", &src, &remote])
            .assert()
            .success();
        let out = stella()
            .env("DOCKER_CONFIG", &docker)
            .args(["oci", "referrers", "--json", &remote])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let tree: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(tree["referrers"].as_array().expect("array").len(), 2);
    }
}

#[test]
fn bearer_tokens_for_credentials_from_a_helper_and_for_an_identity_token() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    layout_with_referrers(&layout, 2);
    let (host, _) = serve(Mode::Token);
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    // `user`/`pass` as basic credentials for the token server; `<token>` makes the secret an
    // identity token, exchanged by the refresh-token grant.
    for (name, username, secret) in [
        ("basic", "user", "pass"),
        ("identity", "<token>", "refresh-123"),
    ] {
        let helper = bin.join(format!("docker-credential-{name}"));
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\nread server\n[ \"$server\" = \"{host}\" ] || exit 1\n\
                 echo '{{\"Username\":\"{username}\",\"Secret\":\"{secret}\"}}'\n"
            ),
        )
        .expect("helper");
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let src = format!("oci-layout:{}:app", layout.display());
    for name in ["basic", "identity"] {
        let docker = dir.path().join(format!("docker-{name}"));
        std::fs::create_dir_all(&docker).expect("mkdir");
        std::fs::write(
            docker.join("config.json"),
            json!({"credsStore": name}).to_string(),
        )
        .expect("config");
        let remote = format!("{host}/evidence/app:{name}");
        stella()
            .env("PATH", &path)
            .env("DOCKER_CONFIG", &docker)
            .args(["oci", "copy", &src, &remote])
            .assert()
            .success();
    }
    // A helper with nothing for the host: the token server refuses, and the error says that no
    // credentials were found, and where they were looked for.
    let docker = dir.path().join("docker-none");
    std::fs::create_dir_all(&docker).expect("mkdir");
    std::fs::write(
        docker.join("config.json"),
        r#"{"credHelpers":{"elsewhere.example":"basic"}}"#,
    )
    .expect("config");
    stella()
        .env("PATH", &path)
        .env("DOCKER_CONFIG", &docker)
        .args(["oci", "copy", &src, &format!("{host}/evidence/app:none")])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "/token refused a token (HTTP 401): no credentials for {host} (looked in {})",
            docker.join("config.json").display()
        )));
}

#[test]
fn a_hostile_layout_index_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    layout_with_referrers(&layout, 1);
    let index_path = layout.join("index.json");
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("index")).expect("json");
    for digest in ["sha256:../../../../etc/passwd", "sha256:ZZZ"] {
        index["manifests"][0]["digest"] = json!(digest);
        std::fs::write(&index_path, index.to_string()).expect("write");
        let out = dir.path().join("out");
        stella()
            .args([
                "oci",
                "copy",
                &format!("oci-layout:{}:app", layout.display()),
            ])
            .arg(format!("oci-layout:{}:app", out.display()))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not sha256:<64 lower-case hex>"));
        if out.exists() {
            assert!(
                LayoutStore::open(&out)
                    .expect("layout")
                    .entries()
                    .expect("entries")
                    .is_empty()
            );
        }
    }
}
