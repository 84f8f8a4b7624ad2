//! `stella serve`: the fleet's server. Agents push runtime evidence (`POST /api/v1/push`, a
//! `stella.fleet.push/v1` document, `stella-runtime::push`); readers query the hot-symbol index,
//! verdicts and timelines; the embedded transparency log's API is served beside them when a log
//! directory is given. State lives in the store (`stella-store`: SQLite, or PostgreSQL shared
//! by several replicas, which then behave as one service: a batch pushed to two of them counts
//! once).
//!
//! **Access.** Every API route needs `Authorization: Bearer <token>`. An ingest token pushes,
//! as its own agent only (a push naming another agent is 403); a read token reads. Either used
//! for the other's routes is 403; no token or an unknown or revoked one is 401. Only
//! `/healthz` and `/metrics` are open. `insecure_loopback` lets requests without a token do
//! everything, and is refused unless the server listens on a loopback address.
//!
//! **Pushes** are checked before anything is counted (`Push::check`: schema, names, aligned
//! windows, bounded counts) and bounded in size ([`FleetOptions::max_push_bytes`]: larger is
//! 413); a malformed push is 400 with the JSON pointer of what is wrong. A push is counted in
//! one transaction; a retried push (same batch id, same bytes) is answered 200 with
//! `"alreadyCounted": true`; the same batch id with other bytes is 409. A database that does not
//! answer is 503, so the agent keeps the push in its spool and retries.
//!
//! Routes:
//! - `POST /api/v1/push` (ingest)
//! - `GET /api/v1/hot-symbols?image=&buildId=&function=a,b&since=&until=` (read; times RFC 3339)
//! - `GET /api/v1/images` (read): the images assessed (`--store`), with their binaries;
//!   `GET /api/v1/images/{digest}/components` (read): the components its verified SBOM names
//! - `GET /api/v1/images/{digest}/verdicts`, `GET /api/v1/images/{digest}/timeline` (read)
//! - `GET /api/v1/watch` (ingest): the vulnerable functions agents are to watch with uprobes —
//!   those present in the images' binaries whose verdicts execution can still change, as the
//!   last assessment of each image found them; a node watches those of the binaries it runs
//! - `GET /images/{digest}`: the evidence report of `stella report`, live, with the timeline
//!   (read; with a reactor only: 404 without, 422 when the evidence does not verify)
//! - `GET /healthz` (the database answers), `GET /metrics` (Prometheus text)
//!
//! **Reactions.** With a [`Reactor`], every image a counted push names is handed to it on the
//! server's reaction thread, one image at a time, the images pushed meanwhile coalesced: the
//! reactor re-decides the image's verdicts from the fleet's evidence (the `stella` binary runs
//! the assessment flow, signs and attaches what changed and records it in the timeline). A
//! reaction that fails is logged and counted in `/metrics`; the push it followed stays counted.
//! - with a log: `POST /api/v2/log/entries`, `GET /checkpoint`, `GET /tile/...` (see [`crate::log`])
//!
//! Not here: what pushes mean for verdicts (`stella-policy`), storing (`stella-store`), minting
//! a token's text beyond [`mint_token`], argument parsing (the `stella` binary).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use stella_core::Digest;
use stella_runtime::push::Push;
use stella_store::fleet::{Batch, HotQuery, Ingested, Observation, Scope, TimelineEntry};
use stella_store::{Store, StoreError};

use crate::log::{Appender, LogRoutes, ServerError, accept_loop, connection_limit, shutdown};

/// Largest push by default (a push holds at most 100,000 observations; 16 MiB is ample).
pub const DEFAULT_MAX_PUSH_BYTES: usize = 16 << 20;

/// What the server does when runtime evidence about an image was counted.
pub trait Reactor: Send + Sync + std::fmt::Debug + 'static {
    /// Reacts to new evidence about `image` (`sha256:<hex>`): a line saying what it did, or
    /// why it could not. Called on the reaction thread (blocking work is fine), never twice at
    /// once.
    ///
    /// # Errors
    /// Why the image could not be re-decided.
    fn react(&self, image: &str) -> Result<String, String>;

    /// The evidence report of `image` as an HTML page, with its `timeline` (oldest first)
    /// added: `Ok(Err(why))` when its evidence does not verify (no report is shown then).
    /// Called on a blocking thread, possibly while a reaction runs.
    ///
    /// # Errors
    /// Why the report could not be made (the store cannot be read, say).
    fn report(
        &self,
        image: &str,
        timeline: &[TimelineEntry],
    ) -> Result<Result<String, String>, String>;
}

/// How to serve the fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The database URL (`sqlite://PATH` or `postgres://…`).
    pub db: String,
    /// The address to listen on (`127.0.0.1:0` picks a port).
    pub addr: String,
    /// The embedded log to serve beside the fleet API, if any: its directory, the origin of a
    /// log created now, and the appends that may wait.
    pub log: Option<(PathBuf, Option<String>, usize)>,
    /// Requests without a token may do everything (loopback addresses only).
    pub insecure_loopback: bool,
    /// Largest push body.
    pub max_push_bytes: usize,
    /// What to do when a push is counted, if anything.
    pub reactor: Option<Arc<dyn Reactor>>,
}

/// Why the fleet server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The store cannot be opened.
    #[error("opening the store")]
    Store(#[from] StoreError),
    /// The log or the listener.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// `insecure_loopback` on an address that is not loopback.
    #[error(
        "--insecure-loopback serves without tokens and only on a loopback address; {addr} is not one"
    )]
    NotLoopback {
        /// The address.
        addr: SocketAddr,
    },
}

impl stella_core::Kinded for FleetError {
    fn kind(&self) -> stella_core::ErrorKind {
        match self {
            FleetError::Store(e) => e.kind(),
            FleetError::Server(e) => e.kind(),
            FleetError::NotLoopback { .. } => stella_core::ErrorKind::Invalid,
        }
    }
}

#[derive(Default)]
struct Metrics {
    pushes_counted: AtomicU64,
    pushes_already_counted: AtomicU64,
    pushes_refused: AtomicU64,
    pushes_conflict: AtomicU64,
    pushes_failed: AtomicU64,
    observations: AtomicU64,
    unauthorized: AtomicU64,
    forbidden: AtomicU64,
    reads: AtomicU64,
    reactions: AtomicU64,
    reactions_failed: AtomicU64,
}

#[derive(Clone)]
struct FleetState {
    store: Store,
    insecure: bool,
    metrics: Arc<Metrics>,
    /// The reaction thread's queue, when there is a reactor.
    react: Option<std::sync::mpsc::Sender<String>>,
    /// The reactor, for reports.
    reactor: Option<Arc<dyn Reactor>>,
}

/// The fleet server bound to its address, not yet serving.
pub struct FleetServer {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    app: Router,
    appender: Option<Appender>,
    store: Store,
    limit: usize,
    reactions: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FleetServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetServer")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl FleetServer {
    /// Opens the store (running its migrations) and the log, if any, and binds the address.
    ///
    /// # Errors
    /// [`FleetError::Store`], [`FleetError::Server`], [`FleetError::NotLoopback`].
    pub fn bind(options: &FleetOptions) -> Result<Self, FleetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(&options.addr))
            .map_err(|source| ServerError::Bind {
                addr: options.addr.clone(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: options.addr.clone(),
            source,
        })?;
        if options.insecure_loopback && !local.ip().is_loopback() {
            return Err(FleetError::NotLoopback { addr: local });
        }
        let store = runtime.block_on(Store::open(&options.db))?;
        let counters = Arc::new(Metrics::default());
        let (react, reactions) = match &options.reactor {
            Some(reactor) => {
                let (send, receive) = std::sync::mpsc::channel();
                let thread = std::thread::Builder::new()
                    .name("reactions".to_owned())
                    .spawn({
                        let reactor = Arc::clone(reactor);
                        let counters = Arc::clone(&counters);
                        move || react_loop(&receive, reactor.as_ref(), &counters)
                    })
                    .map_err(ServerError::Runtime)?;
                (Some(send), Some(thread))
            }
            None => (None, None),
        };
        let state = FleetState {
            store: store.clone(),
            insecure: options.insecure_loopback,
            metrics: counters,
            react,
            reactor: options.reactor.clone(),
        };
        let mut app = Router::new()
            .route(
                "/api/v1/push",
                post(push).layer(DefaultBodyLimit::max(options.max_push_bytes)),
            )
            .route("/api/v1/hot-symbols", get(hot_symbols))
            .route("/api/v1/images", get(images))
            .route("/api/v1/images/{digest}/verdicts", get(verdicts))
            .route("/api/v1/images/{digest}/components", get(components))
            .route("/api/v1/images/{digest}/timeline", get(timeline))
            .route("/images/{digest}", get(report))
            .route("/api/v1/watch", get(watch))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(state);
        let mut appender = None;
        if let Some((dir, origin, max_pending)) = &options.log {
            let (routes, thread) = LogRoutes::open(dir, origin.as_deref(), *max_pending)?.split();
            app = app.merge(routes);
            appender = Some(thread);
        }
        Ok(FleetServer {
            runtime,
            listener,
            local,
            app,
            appender,
            store,
            limit: connection_limit(),
            reactions,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until SIGINT or SIGTERM.
    ///
    /// # Errors
    /// [`ServerError::Appender`] when the log's appender failed.
    pub fn run(self) -> Result<(), ServerError> {
        self.run_until(shutdown())
    }

    /// Serves until `stop` completes, then finishes the requests in progress (for at most
    /// 30 s), the log's queued appends, and closes the store.
    ///
    /// # Errors
    /// [`ServerError::Appender`] when the log's appender failed.
    pub fn run_until(self, stop: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let FleetServer {
            runtime,
            listener,
            app,
            appender,
            store,
            limit,
            reactions,
            ..
        } = self;
        runtime.block_on(async move {
            accept_loop(listener, app, limit, stop).await;
            store.close().await;
        });
        drop(runtime);
        // The routes (and with them the queue's senders) are gone: the reactions queued finish.
        if let Some(thread) = reactions
            && thread.join().is_err()
        {
            tracing::error!("the reaction thread panicked");
        }
        match appender {
            Some(a) => a.join(),
            None => Ok(()),
        }
    }
}

/// The reaction thread: each image queued is handed to the reactor once, however often it
/// was queued while the reactor was busy; ends when the server's routes are gone.
fn react_loop(queue: &std::sync::mpsc::Receiver<String>, reactor: &dyn Reactor, metrics: &Metrics) {
    while let Ok(first) = queue.recv() {
        let mut images = std::collections::BTreeSet::from([first]);
        images.extend(queue.try_iter());
        for image in images {
            match reactor.react(&image) {
                Ok(line) => {
                    metrics.reactions.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("{image}: {line}");
                }
                Err(why) => {
                    metrics.reactions_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("{image}: no reaction: {why}");
                }
            }
        }
    }
}

/// A new token's text: a prefix naming its scope and 256 random bits (base64url).
///
/// # Errors
/// When the system's random source fails.
pub fn mint_token(scope: Scope) -> Result<String, std::io::Error> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the random source failed"))?;
    let prefix = match scope {
        Scope::Ingest => "stella_ingest_",
        Scope::Read => "stella_read_",
    };
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, json!({ "error": message.into() }))
}

/// What the request's token allows: `Ok(agent)` when it has `scope` (the agent for ingest
/// tokens), else the answer to give.
async fn authorize(
    state: &FleetState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Option<String>, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let Some(presented) = presented else {
        if state.insecure {
            return Ok(None);
        }
        state.metrics.unauthorized.fetch_add(1, Ordering::Relaxed);
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "a token is required: Authorization: Bearer <token>",
        ));
    };
    let token = presented
        .strip_prefix("Bearer ")
        .or_else(|| presented.strip_prefix("bearer "))
        .unwrap_or("")
        .trim();
    let grant = match state.store.authorize(token).await {
        Ok(grant) => grant,
        Err(e) => {
            tracing::warn!("checking a token: {e}");
            return Err(refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer; retry",
            ));
        }
    };
    match grant {
        None => {
            state.metrics.unauthorized.fetch_add(1, Ordering::Relaxed);
            Err(refused(
                StatusCode::UNAUTHORIZED,
                "the token is unknown or revoked",
            ))
        }
        Some(g) if g.scope != scope => {
            state.metrics.forbidden.fetch_add(1, Ordering::Relaxed);
            Err(refused(
                StatusCode::FORBIDDEN,
                match scope {
                    Scope::Ingest => "this route pushes; a read token cannot",
                    Scope::Read => "this route reads; an ingest token cannot",
                },
            ))
        }
        Some(g) => Ok(g.agent),
    }
}

async fn push(State(state): State<FleetState>, headers: HeaderMap, body: Bytes) -> Response {
    let agent = match authorize(&state, &headers, Scope::Ingest).await {
        Ok(agent) => agent,
        Err(response) => return response,
    };
    let metrics = &state.metrics;
    let pushed: Push = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            metrics.pushes_refused.fetch_add(1, Ordering::Relaxed);
            return refused(StatusCode::BAD_REQUEST, format!("not a push: {e}"));
        }
    };
    if let Err(e) = pushed.check() {
        metrics.pushes_refused.fetch_add(1, Ordering::Relaxed);
        return refused(StatusCode::BAD_REQUEST, e.to_string());
    }
    if let Some(agent) = &agent
        && *agent != pushed.agent
    {
        metrics.forbidden.fetch_add(1, Ordering::Relaxed);
        return refused(
            StatusCode::FORBIDDEN,
            format!(
                "the token is agent {agent:?}'s; it cannot push as {:?}",
                pushed.agent
            ),
        );
    }
    let received = stella_core::time::rfc3339_utc(jiff::Timestamp::now().as_second());
    let batch = Batch {
        id: pushed.batch.clone(),
        agent: pushed.agent.clone(),
        body_sha256: Digest::sha256(&body).hex().to_owned(),
        received,
        observations: pushed
            .observations
            .iter()
            .map(|o| Observation {
                image: o.image.clone().unwrap_or_default(),
                build_id: o.build_id.clone(),
                function: o.function.clone(),
                window_start: o.window_start,
                self_samples: o.self_samples,
                total_samples: o.total_samples,
                calls: o.calls,
                first_seen: pushed.window.start.clone(),
                last_seen: pushed.window.end.clone(),
            })
            .collect(),
    };
    match state.store.ingest(&batch).await {
        Ok(Ingested::Counted { observations }) => {
            metrics.pushes_counted.fetch_add(1, Ordering::Relaxed);
            if let Some(queue) = &state.react {
                let images: std::collections::BTreeSet<&str> = batch
                    .observations
                    .iter()
                    .map(|o| o.image.as_str())
                    .filter(|i| !i.is_empty())
                    .collect();
                for image in images {
                    // The thread ends only with the server: a send never fails before.
                    let _ = queue.send(image.to_owned());
                }
            }
            metrics
                .observations
                .fetch_add(observations as u64, Ordering::Relaxed);
            answer(
                StatusCode::OK,
                json!({ "batch": batch.id, "counted": observations }),
            )
        }
        Ok(Ingested::AlreadyCounted) => {
            metrics
                .pushes_already_counted
                .fetch_add(1, Ordering::Relaxed);
            answer(
                StatusCode::OK,
                json!({ "batch": batch.id, "alreadyCounted": true }),
            )
        }
        Err(e @ StoreError::BatchConflict { .. }) => {
            metrics.pushes_conflict.fetch_add(1, Ordering::Relaxed);
            refused(StatusCode::CONFLICT, e.to_string())
        }
        Err(e @ (StoreError::UnknownAgent { .. } | StoreError::Invalid { .. })) => {
            metrics.pushes_refused.fetch_add(1, Ordering::Relaxed);
            refused(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => {
            metrics.pushes_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("counting batch {}: {e}", batch.id);
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store could not count the push; keep it and retry",
            )
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HotParams {
    image: Option<String>,
    build_id: Option<String>,
    function: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

fn unavailable(e: &StoreError) -> Response {
    tracing::warn!("reading the store: {e}");
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "the store does not answer; retry",
    )
}

async fn hot_symbols(
    State(state): State<FleetState>,
    headers: HeaderMap,
    params: Result<Query<HotParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, Scope::Read).await {
        return response;
    }
    let Query(params) = match params {
        Ok(p) => p,
        Err(e) => return refused(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let time = |name: &str, value: &Option<String>| match value {
        None => Ok(None),
        Some(text) => stella_core::time::parse_rfc3339(text)
            .map(Some)
            .map_err(|e| format!("{name}: {e}")),
    };
    let (since, until) = match (time("since", &params.since), time("until", &params.until)) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(e), _) | (_, Err(e)) => return refused(StatusCode::BAD_REQUEST, e),
    };
    let query = HotQuery {
        image: params.image,
        build_id: params.build_id,
        functions: params
            .function
            .map(|f| f.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        since,
        until,
    };
    state.metrics.reads.fetch_add(1, Ordering::Relaxed);
    match state.store.hot_symbols(&query).await {
        Ok(rows) => answer(
            StatusCode::OK,
            Value::Array(
                rows.into_iter()
                    .map(|r| {
                        json!({
                            "image": (!r.image.is_empty()).then_some(r.image),
                            "buildId": r.build_id,
                            "function": r.function,
                            "selfSamples": r.self_samples,
                            "totalSamples": r.total_samples,
                            "calls": r.calls,
                            "agents": r.agents,
                            "firstSeen": r.first_seen,
                            "lastSeen": r.last_seen,
                        })
                    })
                    .collect(),
            ),
        ),
        Err(e) => unavailable(&e),
    }
}

/// A read route's answer: the read token checked, then the rows `fetch` reads from the store as
/// a JSON array, each made by `to_json`; 503 when the store does not answer.
async fn read_rows<'s, T, F>(
    state: &'s FleetState,
    headers: &HeaderMap,
    fetch: impl FnOnce(&'s Store) -> F,
    to_json: impl Fn(T) -> Value,
) -> Response
where
    F: Future<Output = Result<Vec<T>, StoreError>>,
{
    if let Err(response) = authorize(state, headers, Scope::Read).await {
        return response;
    }
    state.metrics.reads.fetch_add(1, Ordering::Relaxed);
    match fetch(&state.store).await {
        Ok(rows) => answer(
            StatusCode::OK,
            Value::Array(rows.into_iter().map(to_json).collect()),
        ),
        Err(e) => unavailable(&e),
    }
}

async fn images(State(state): State<FleetState>, headers: HeaderMap) -> Response {
    read_rows(&state, &headers, Store::images, |i| {
        json!({
            "digest": i.digest,
            "reference": i.reference,
            "firstSeen": i.first_seen,
            "lastSeen": i.last_seen,
            "binaries": i.binaries.into_iter().map(|b| json!({
                "path": b.path,
                "buildId": b.build_id,
                "funcproof": b.funcproof,
            })).collect::<Vec<_>>(),
        })
    })
    .await
}

async fn components(
    State(state): State<FleetState>,
    headers: HeaderMap,
    UrlPath(digest): UrlPath<String>,
) -> Response {
    read_rows(
        &state,
        &headers,
        |s| s.components(&digest),
        |c| {
            json!({
                "bomRef": c.bom_ref,
                "name": c.name,
                "version": c.version,
                "purl": c.purl,
            })
        },
    )
    .await
}

async fn verdicts(
    State(state): State<FleetState>,
    headers: HeaderMap,
    UrlPath(digest): UrlPath<String>,
) -> Response {
    read_rows(
        &state,
        &headers,
        |s| s.verdicts(&digest),
        |v| {
            json!({
                "vulnerability": v.vulnerability,
                "buildId": v.build_id,
                "status": v.status,
                "justification": v.justification,
                "evidenceSha256": v.evidence_sha256,
                "decided": v.decided,
            })
        },
    )
    .await
}

async fn timeline(
    State(state): State<FleetState>,
    headers: HeaderMap,
    UrlPath(digest): UrlPath<String>,
) -> Response {
    read_rows(
        &state,
        &headers,
        |s| s.timeline(&digest),
        |e| {
            json!({
                "at": e.at,
                "kind": e.kind,
                "summary": e.summary,
                "document": e.document,
            })
        },
    )
    .await
}

/// `GET /api/v1/watch`: what the agent presenting the token is to watch.
async fn watch(State(state): State<FleetState>, headers: HeaderMap) -> Response {
    if let Err(response) = authorize(&state, &headers, Scope::Ingest).await {
        return response;
    }
    match state.store.watched().await {
        Ok(rows) => answer(
            StatusCode::OK,
            json!({
                "functions": rows.into_iter().map(|w| json!({
                    "image": w.image,
                    "buildId": w.build_id,
                    "function": w.function,
                    "demangled": w.demangled,
                    "symbol": w.symbol,
                    "sha256": w.sha256,
                    "path": w.path,
                    "start": format!("{:#x}", w.start_vaddr),
                    "vulnerabilities": w.vulnerabilities.split(',').filter(|v| !v.is_empty()).collect::<Vec<_>>(),
                    "decided": w.decided,
                })).collect::<Vec<_>>()
            }),
        ),
        Err(e) => unavailable(&e),
    }
}

/// `GET /images/{digest}`: the evidence report, live (read).
async fn report(
    State(state): State<FleetState>,
    headers: HeaderMap,
    UrlPath(digest): UrlPath<String>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, Scope::Read).await {
        return response;
    }
    state.metrics.reads.fetch_add(1, Ordering::Relaxed);
    let Some(reactor) = state.reactor.clone() else {
        return refused(
            StatusCode::NOT_FOUND,
            "no reports: the server was started without --store",
        );
    };
    let well_formed = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if !well_formed {
        return refused(
            StatusCode::BAD_REQUEST,
            format!("{digest:?} is not an image digest (sha256:<64 hex>)"),
        );
    }
    let timeline = match state.store.timeline(&digest).await {
        Ok(t) => t,
        Err(e) => return unavailable(&e),
    };
    let made = tokio::task::spawn_blocking(move || reactor.report(&digest, &timeline)).await;
    match made {
        Ok(Ok(Ok(html))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Ok(Ok(Err(why))) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no report: the image's evidence does not verify: {why}"),
        ),
        Ok(Err(why)) => refused(StatusCode::BAD_GATEWAY, format!("no report: {why}")),
        Err(e) => {
            tracing::error!("the report panicked: {e}");
            refused(StatusCode::INTERNAL_SERVER_ERROR, "no report: it failed")
        }
    }
}

async fn healthz(State(state): State<FleetState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!("health check: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer\n",
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<FleetState>) -> Response {
    let m = &state.metrics;
    let read = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut text = String::new();
    text.push_str(
        "# HELP stella_pushes_total Pushes received, by outcome.\n# TYPE stella_pushes_total counter\n",
    );
    for (outcome, counter) in [
        ("counted", &m.pushes_counted),
        ("already_counted", &m.pushes_already_counted),
        ("refused", &m.pushes_refused),
        ("conflict", &m.pushes_conflict),
        ("failed", &m.pushes_failed),
    ] {
        text.push_str(&format!(
            "stella_pushes_total{{outcome=\"{outcome}\"}} {}\n",
            read(counter)
        ));
    }
    text.push_str(&format!(
        "# HELP stella_observations_total Observations counted.\n\
         # TYPE stella_observations_total counter\nstella_observations_total {}\n\
         # HELP stella_denied_total Requests denied, by reason.\n\
         # TYPE stella_denied_total counter\n\
         stella_denied_total{{reason=\"unauthorized\"}} {}\n\
         stella_denied_total{{reason=\"forbidden\"}} {}\n\
         # HELP stella_reads_total Read API requests answered.\n\
         # TYPE stella_reads_total counter\nstella_reads_total {}\n\
         # HELP stella_reactions_total Images re-decided after a push, by outcome.\n\
         # TYPE stella_reactions_total counter\n\
         stella_reactions_total{{outcome=\"done\"}} {}\n\
         stella_reactions_total{{outcome=\"failed\"}} {}\n",
        read(&m.observations),
        read(&m.unauthorized),
        read(&m.forbidden),
        read(&m.reads),
        read(&m.reactions),
        read(&m.reactions_failed),
    ));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
