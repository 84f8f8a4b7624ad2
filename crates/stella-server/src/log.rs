//! The embedded log over HTTP. Rekor v2's `POST /api/v2/log/entries` (requests are batched by
//! one appender thread and answered once their batch is durable) and the C2SP tlog-tiles read
//! API (`GET /checkpoint`, `GET /tile/...`), every tile checked against the signed checkpoint
//! before it is served. The log itself, the request checks (every entry's signature) and the
//! answer's shape live in `stella-tlog`.
//!
//! Connections are bounded, so slow or idle clients cannot starve the server: request headers
//! must arrive within [`HEADER_TIMEOUT`] (an idle keep-alive connection is closed after as
//! long), a request body within [`BODY_TIMEOUT`], and at most [`connection_limit`] connections
//! are open (below the process's file limit). At the limit a new connection takes the place of
//! the oldest one that has no request in progress; when every connection has one, it is
//! refused with 503.
//!
//! [`LogServer::bind`] opens (or creates) the log and binds the address; [`LogServer::run`]
//! serves until SIGINT or SIGTERM, [`LogServer::run_until`] until a future completes; either
//! finishes the requests in progress and the queued appends before it returns.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use stella_core::{ErrorKind, Kinded};
use stella_tlog::merkle::{self, Hash};
use stella_tlog::{Log, TlogError, rekor, tiles};
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// Largest request body (Rekor v2's limit).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;
/// Most entries appended as one batch.
pub const BATCH: usize = 256;
/// Time a client has to send a request's headers (and an idle connection stays open).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request's body (4 MiB at 140 KB/s).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections when the file limit does not say otherwise.
const DEFAULT_CONNECTIONS: usize = 1024;
/// File descriptors kept for the log's own files, the listener and the runtime.
const RESERVED_FILES: usize = 48;
/// Time connections get to finish their requests after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the log server cannot start or stopped badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The log cannot be opened or created.
    #[error("opening the log")]
    Log(#[from] TlogError),
    /// The async runtime cannot start.
    #[error("starting the server runtime")]
    Runtime(#[source] std::io::Error),
    /// The address cannot be listened on.
    #[error("listening on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The thread that appends to the log failed.
    #[error("the appender thread failed")]
    Appender,
}

impl Kinded for ServerError {
    fn kind(&self) -> ErrorKind {
        match self {
            ServerError::Log(e) => e.kind(),
            ServerError::Runtime(_) | ServerError::Bind { .. } | ServerError::Appender => {
                ErrorKind::Environment
            }
        }
    }
}

/// How to serve a log.
#[derive(Debug, Clone)]
pub struct LogServerOptions {
    /// The log's directory (created with a new log when it holds none).
    pub dir: PathBuf,
    /// The address to listen on (`127.0.0.1:0` picks a port).
    pub addr: String,
    /// The origin of a log created now (an existing log keeps its own).
    pub origin: Option<String>,
    /// Entries waiting to be appended before new ones are refused with 503.
    pub max_pending: usize,
}

enum Refused {
    Duplicate(u64),
    Failed(String),
}

struct Job {
    body: Vec<u8>,
    reply: oneshot::Sender<Result<Value, Refused>>,
}

#[derive(Clone)]
struct AppState {
    jobs: mpsc::Sender<Job>,
    log: Arc<Log>,
}

/// A log server bound to its address, not yet serving.
pub struct LogServer {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    app: Router,
    appender: std::thread::JoinHandle<()>,
    log: Arc<Log>,
    size: u64,
    limit: usize,
}

impl std::fmt::Debug for LogServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogServer")
            .field("local", &self.local)
            .field("dir", &self.log.dir())
            .finish_non_exhaustive()
    }
}

/// The log's routes (Rekor v2's create-entry API, the tiles, the checkpoint) and the thread
/// that appends to it, for a server that serves the log beside other things.
pub struct LogRoutes {
    /// The routes, their state applied. Every clone holds the appender's queue: the appender
    /// stops once the last clone is dropped.
    pub router: Router,
    appender: std::thread::JoinHandle<()>,
    log: Arc<Log>,
    size: u64,
}

impl std::fmt::Debug for LogRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRoutes")
            .field("dir", &self.log.dir())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl LogRoutes {
    /// Opens the log in `dir` (creating it, named `origin`, where none is), reads every entry
    /// once (to answer duplicates with 409) and starts the appender, which holds at most
    /// `max_pending` requests before new ones get 503.
    ///
    /// # Errors
    /// [`ServerError::Log`] for a damaged log or the disk.
    pub fn open(dir: &Path, origin: Option<&str>, max_pending: usize) -> Result<Self, ServerError> {
        let log = Arc::new(Log::open_or_create(dir, origin)?);
        let (checkpoint, _) = log.checkpoint()?;
        let mut seen: HashMap<Hash, u64> = HashMap::new();
        log.for_each_entry(checkpoint.size, |i, e| {
            seen.insert(merkle::leaf_hash(e), i);
        })?;
        let (jobs, queue) = mpsc::channel(max_pending.max(1));
        let appender = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || append_loop(&log, seen, queue))
        };
        let state = AppState {
            jobs,
            log: Arc::clone(&log),
        };
        let router = Router::new()
            .route(rekor::ENTRIES_PATH, post(create))
            .route("/checkpoint", get(checkpoint_file))
            .route("/tile/{*path}", get(tile))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(state);
        Ok(LogRoutes {
            router,
            appender,
            log,
            size: checkpoint.size,
        })
    }

    /// The log served.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// The log's size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The routes, and the appender to wait for once every clone of them is gone.
    pub fn split(self) -> (Router, Appender) {
        (
            self.router,
            Appender {
                thread: self.appender,
            },
        )
    }
}

/// The log's appender thread, waited for once the routes are gone.
#[derive(Debug)]
pub struct Appender {
    thread: std::thread::JoinHandle<()>,
}

impl Appender {
    /// Waits for the appender to finish what is queued (every clone of the routes must be
    /// dropped first, or this waits for ever).
    ///
    /// # Errors
    /// [`ServerError::Appender`] when the appender thread failed.
    pub fn join(self) -> Result<(), ServerError> {
        self.thread.join().map_err(|_| ServerError::Appender)
    }
}

impl LogServer {
    /// Opens the log in `options.dir` (creating it where none is), reads every entry once (to
    /// answer duplicates with 409), starts the appender and binds the address.
    ///
    /// # Errors
    /// [`ServerError::Log`] for a damaged log or the disk; [`ServerError::Runtime`];
    /// [`ServerError::Bind`] when the address cannot be listened on.
    pub fn bind(options: &LogServerOptions) -> Result<Self, ServerError> {
        let routes = LogRoutes::open(&options.dir, options.origin.as_deref(), options.max_pending)?;
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
        let LogRoutes {
            router,
            appender,
            log,
            size,
        } = routes;
        let app = router.route("/healthz", get(|| async { "ok\n" }));
        Ok(LogServer {
            runtime,
            listener,
            local,
            app,
            appender,
            log,
            size,
            limit: connection_limit(),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The log served.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The log's size when the server started.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The most connections open at once.
    pub fn connection_limit(&self) -> usize {
        self.limit
    }

    /// Serves until SIGINT or SIGTERM.
    ///
    /// # Errors
    /// [`ServerError::Appender`] when the appender thread failed.
    pub fn run(self) -> Result<(), ServerError> {
        self.run_until(shutdown())
    }

    /// Serves until `stop` completes, then finishes the requests in progress (for at most
    /// 30 s) and the queued appends.
    ///
    /// # Errors
    /// [`ServerError::Appender`] when the appender thread failed.
    pub fn run_until(self, stop: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let LogServer {
            runtime,
            listener,
            app,
            appender,
            limit,
            ..
        } = self;
        runtime.block_on(accept_loop(listener, app, limit, stop));
        // The router (and its sender) is gone: the appender finishes what is queued and stops.
        drop(runtime);
        appender.join().map_err(|_| ServerError::Appender)
    }
}

/// Serves the log in `dir` on `addr` until SIGINT or SIGTERM (see [`LogServer`]).
///
/// # Errors
/// What [`LogServer::bind`] and [`LogServer::run`] report.
pub fn serve(
    dir: &Path,
    addr: &str,
    origin: Option<&str>,
    max_pending: usize,
) -> Result<(), ServerError> {
    LogServer::bind(&LogServerOptions {
        dir: dir.to_path_buf(),
        addr: addr.to_owned(),
        origin: origin.map(str::to_owned),
        max_pending,
    })?
    .run()
}

/// Open connections below the process's soft file limit (`/proc/self/limits`), keeping
/// [`RESERVED_FILES`] for everything else.
pub fn connection_limit() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        });
    match soft {
        Some(files) => files
            .saturating_sub(RESERVED_FILES)
            .clamp(8, DEFAULT_CONNECTIONS),
        None => DEFAULT_CONNECTIONS,
    }
}

/// An open connection: how many of its requests are in progress, and how to close it.
struct Connection {
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Connections {
    next: u64,
    open: BTreeMap<u64, Connection>,
}

impl Connections {
    /// Admits a new connection within `limit`: at the limit, the oldest connection without a
    /// request in progress is closed to make room; `None` when every one has a request.
    fn admit(&mut self, limit: usize) -> Option<(u64, Arc<AtomicUsize>, Arc<Notify>)> {
        if self.open.len() >= limit {
            let idle = self
                .open
                .iter()
                .find(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(evicted) = self.open.remove(&idle) {
                evicted.close.notify_one();
            }
        }
        let id = self.next;
        self.next += 1;
        let busy = Arc::new(AtomicUsize::new(0));
        let close = Arc::new(Notify::new());
        self.open.insert(
            id,
            Connection {
                busy: Arc::clone(&busy),
                close: Arc::clone(&close),
            },
        );
        Some((id, busy, close))
    }
}

pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Router,
    limit: usize,
    signal: impl Future<Output = ()>,
) {
    let connections = Arc::new(Mutex::new(Connections::default()));
    let (stop, stopping) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before it was
                        // accepted: wait a little instead of spinning.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let admitted = connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .admit(limit);
                let Some((id, busy, close)) = admitted else {
                    // Every connection has a request in progress: say so and hang up.
                    let _ = stream.try_write(
                        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                };
                let (app, stopping, connections) =
                    (app.clone(), stopping.clone(), Arc::clone(&connections));
                tasks.spawn(async move {
                    serve_connection(stream, app, busy, close, stopping).await;
                    connections
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .open
                        .remove(&id);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
}

/// One connection: HTTP/1.1 with the header timeout, until the client is done, the connection
/// is closed to make room, or the server stops (requests in progress are finished first).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
    mut stopping: watch::Receiver<bool>,
) {
    let service = Counted {
        inner: TowerToHyperService::new(app),
        busy: Arc::clone(&busy),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            () = close.notified(), if !draining => {
                // Chosen as idle, but a request may have started since: then it is finished.
                if busy.load(Ordering::Acquire) == 0 {
                    return;
                }
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = stopping.changed(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The router, counting the connection's requests in progress.
#[derive(Clone)]
struct Counted {
    inner: TowerToHyperService<Router>,
    busy: Arc<AtomicUsize>,
}

/// Counts one request in progress until dropped.
struct InProgress(Arc<AtomicUsize>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type Answer = Result<Response, std::convert::Infallible>;

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Counted {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        self.busy.fetch_add(1, Ordering::AcqRel);
        let in_progress = InProgress(Arc::clone(&self.busy));
        let answer = hyper::service::Service::call(&self.inner, request);
        Box::pin(async move {
            let answer = answer.await;
            drop(in_progress);
            answer
        })
    }
}

pub(crate) async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// One thread owns the log: it takes what is queued (up to [`BATCH`]), appends it as one
/// durable batch and answers each request with its entry and inclusion proof. Requests that
/// arrive while a batch is being made durable wait in the queue and make the next batch, so a
/// busy log writes each entry once and fsyncs once per batch, not per entry.
fn append_loop(log: &Log, mut seen: HashMap<Hash, u64>, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut fresh: Vec<Job> = Vec::new();
        let mut repeats: Vec<(Job, usize)> = Vec::new();
        let mut in_batch: HashMap<Hash, usize> = HashMap::new();
        for job in jobs {
            let leaf = merkle::leaf_hash(&job.body);
            if let Some(&index) = seen.get(&leaf) {
                let _ = job.reply.send(Err(Refused::Duplicate(index)));
            } else if let Some(&at) = in_batch.get(&leaf) {
                repeats.push((job, at));
            } else {
                in_batch.insert(leaf, fresh.len());
                fresh.push(job);
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let bodies: Vec<Vec<u8>> = fresh.iter().map(|j| j.body.clone()).collect();
        match log.append(&bodies) {
            Ok(appended) => {
                for (k, job) in fresh.into_iter().enumerate() {
                    let index = appended.first_index + k as u64;
                    seen.insert(merkle::leaf_hash(&job.body), index);
                    let answer = log
                        .tlog_entry(index, job.body, &appended.checkpoint, &appended.note)
                        .map(|e| e.to_json())
                        .map_err(|e| Refused::Failed(e.to_string()));
                    let _ = job.reply.send(answer);
                }
                for (job, at) in repeats {
                    let _ = job
                        .reply
                        .send(Err(Refused::Duplicate(appended.first_index + at as u64)));
                }
            }
            Err(e) => {
                tracing::error!("append failed: {e}");
                for job in fresh.into_iter().chain(repeats.into_iter().map(|(j, _)| j)) {
                    let _ = job.reply.send(Err(Refused::Failed(e.to_string())));
                }
            }
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "message": message.into()})),
    )
        .into_response()
}

async fn create(State(state): State<AppState>, request: Request) -> Response {
    let body = match tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(request, &state)).await
    {
        Ok(Ok(body)) => body,
        Ok(Err(rejection)) => return rejection.into_response(),
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            );
        }
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("request is not JSON: {e}")),
    };
    let entry = match rekor::body_from_request(&request) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if entry.len() > tiles::MAX_ENTRY_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the entry would be {} bytes; at most {}",
                entry.len(),
                tiles::MAX_ENTRY_BYTES
            ),
        );
    }
    let (reply, answer) = oneshot::channel();
    if state.jobs.try_send(Job { body: entry, reply }).is_err() {
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the log is busy: too many entries are waiting to be appended; retry shortly",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    match answer.await {
        Ok(Ok(entry)) => (StatusCode::CREATED, axum::Json(entry)).into_response(),
        Ok(Err(Refused::Duplicate(index))) => {
            let mut response = error(
                StatusCode::CONFLICT,
                format!("an equivalent entry already exists in the log at index {index}"),
            );
            if let Ok(v) = HeaderValue::from_str(&index.to_string()) {
                response.headers_mut().insert("x-log-index", v);
            }
            response
        }
        Ok(Err(Refused::Failed(m))) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "the log is shutting down"),
    }
}

/// A read of the log on a blocking thread; damage is the server's (500), named in the log.
async fn read_log<T: Send + 'static>(
    log: &Arc<Log>,
    read: impl FnOnce(&Log) -> Result<T, TlogError> + Send + 'static,
) -> Result<T, Response> {
    let log = Arc::clone(log);
    match tokio::task::spawn_blocking(move || read(&log)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            tracing::error!("reading the log: {e}");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        }
        Err(_) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the log failed",
        )),
    }
}

async fn checkpoint_file(State(state): State<AppState>) -> Response {
    match read_log(&state.log, |log| log.checkpoint()).await {
        Ok((_, note)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            note,
        )
            .into_response(),
        Err(response) => response,
    }
}

/// A tile the read API serves: hash tile `level` or an entry bundle (`None`), its index and
/// width.
#[derive(Debug, PartialEq, Eq)]
struct TileRef {
    level: Option<u32>,
    index: u64,
    width: u64,
}

/// Reads a tlog-tiles path below `tile/`: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, `N` in
/// `x`-prefixed groups of three digits, `W` from 1 to 255.
fn parse_tile_path(path: &str) -> Option<TileRef> {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() < 2 {
        return None;
    }
    let level = match parts.remove(0) {
        "entries" => None,
        l if l.len() <= 2 && l.bytes().all(|b| b.is_ascii_digit()) => Some(l.parse().ok()?),
        _ => return None,
    };
    let width = match parts.as_slice() {
        [.., last, w] if last.ends_with(".p") => {
            if w.is_empty() || w.len() > 3 || !w.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let w: u64 = w.parse().ok()?;
            parts.pop();
            if let Some(last) = parts.last_mut() {
                *last = last.trim_end_matches(".p");
            }
            (1..tiles::TILE_WIDTH).contains(&w).then_some(w)?
        }
        _ => tiles::TILE_WIDTH,
    };
    let (last, groups) = parts.split_last()?;
    let three = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !three(last)
        || !groups
            .iter()
            .all(|g| g.strip_prefix('x').is_some_and(three))
    {
        return None;
    }
    let digits: String = groups
        .iter()
        .map(|g| g.trim_start_matches('x'))
        .chain(std::iter::once(*last))
        .collect();
    Some(TileRef {
        level,
        index: digits.parse().ok()?,
        width,
    })
}

async fn tile(State(state): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(tile) = parse_tile_path(&path) else {
        return error(StatusCode::BAD_REQUEST, "not a tile path");
    };
    let immutable = tile.width == tiles::TILE_WIDTH;
    let read = read_log(&state.log, move |log| match tile.level {
        Some(level) => log.hash_tile(level, tile.index, tile.width),
        None => log.entry_bundle(tile.index, tile.width),
    })
    .await;
    match read {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CACHE_CONTROL,
                    if immutable {
                        "public, max-age=31536000, immutable"
                    } else {
                        "public, max-age=60"
                    },
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no tile {path}")),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::{TileRef, parse_tile_path};

    #[test]
    fn tile_paths_are_checked() {
        for (ok, level, index, width) in [
            ("0/000", Some(0), 0, 256),
            ("1/x001/x234/067", Some(1), 1_234_067, 256),
            ("0/005.p/7", Some(0), 5, 7),
            ("entries/007.p/5", None, 7, 5),
            ("entries/x001/000", None, 1000, 256),
        ] {
            assert_eq!(
                parse_tile_path(ok),
                Some(TileRef {
                    level,
                    index,
                    width
                }),
                "{ok}"
            );
        }
        for bad in [
            "../log.key",
            "0/../../log.key",
            "0/5",
            "0/000.p/",
            "0/000.p/0",
            "0/000.p/256",
            "entries",
            "0/x01/000",
            "0/000/..",
            "a/000",
            "entries/000.p/open",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }
}
