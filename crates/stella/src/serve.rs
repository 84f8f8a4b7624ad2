//! `stella log serve`: the embedded log over HTTP. Rekor v2's `POST /api/v2/log/entries`
//! (requests are batched by one appender thread and answered once their batch is durable) and
//! the C2SP tlog-tiles read API (`GET /checkpoint`, `GET /tile/...`). The log itself, the
//! request checks and the answer's shape live in `stella-tlog`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stella_tlog::merkle::{self, Hash};
use stella_tlog::{Log, rekor, tiles};
use tokio::sync::{mpsc, oneshot};

use crate::exit::{CliError, Outcome};

/// Largest request body (Rekor v2's limit).
const MAX_REQUEST_BYTES: usize = 4 << 20;
/// Most entries appended as one batch.
const BATCH: usize = 256;

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
    dir: Arc<PathBuf>,
}

pub fn serve(
    dir: &Path,
    addr: &str,
    origin: Option<&str>,
    max_pending: usize,
) -> Result<Outcome, CliError> {
    let tlog = |e: stella_tlog::TlogError| CliError::input(anyhow!(e));
    let log = Log::open(dir, origin).map_err(tlog)?;
    let (checkpoint, _) = log.checkpoint().map_err(tlog)?;
    let mut seen: HashMap<Hash, u64> = HashMap::new();
    log.for_each_entry(checkpoint.size, |i, e| {
        seen.insert(merkle::leaf_hash(e), i);
    })
    .map_err(tlog)?;
    let origin = log.origin().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::environment(anyhow!("starting the server runtime: {e}")))?;
    let (jobs, queue) = mpsc::channel(max_pending.max(1));
    let appender = std::thread::spawn(move || append_loop(&log, seen, queue));
    let state = AppState {
        jobs,
        dir: Arc::new(dir.to_path_buf()),
    };
    let app = Router::new()
        .route(rekor::ENTRIES_PATH, post(create))
        .route("/checkpoint", get(checkpoint_file))
        .route("/tile/{*path}", get(tile))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state);
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::environment(anyhow!("listening on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::environment(anyhow!(e)))?;
        // Written even when nobody reads stderr any more (a closed pipe is not a reason to stop).
        let _ = writeln!(
            std::io::stderr(),
            "serving log {origin} ({}) on http://{local} (size {})",
            dir.display(),
            checkpoint.size
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| CliError::environment(anyhow!("serving: {e}")))
    });
    // The router (and its sender) is gone: the appender finishes what is queued and stops.
    drop(runtime);
    if appender.join().is_err() {
        return Err(CliError::environment(anyhow!("the appender thread failed")));
    }
    served?;
    let _ = writeln!(std::io::stderr(), "log server stopped");
    Ok(Outcome::Success)
}

async fn shutdown() {
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
/// durable batch and answers each request with its entry and inclusion proof.
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

async fn create(State(state): State<AppState>, body: Bytes) -> Response {
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

async fn checkpoint_file(State(state): State<AppState>) -> Response {
    match tokio::fs::read(state.dir.join("checkpoint")).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, "no checkpoint"),
    }
}

/// Whether `path` (below `tile/`) is a tlog-tiles path: `<L>/<N>[.p/<W>]` or
/// `entries/<N>[.p/<W>]` with `N` in `x`-prefixed groups of three digits.
fn valid_tile_path(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() < 2 {
        return false;
    }
    let level = parts.remove(0);
    if level != "entries" && !(level.len() <= 2 && level.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let width = match parts.as_slice() {
        [.., last, w] if last.ends_with(".p") => Some(*w),
        _ => None,
    };
    if let Some(w) = width {
        parts.pop();
        if w.is_empty() || w.len() > 3 || !w.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if let Some(last) = parts.last_mut() {
            *last = last.trim_end_matches(".p");
        }
    }
    let Some((last, groups)) = parts.split_last() else {
        return false;
    };
    let three = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    three(last)
        && groups
            .iter()
            .all(|g| g.strip_prefix('x').is_some_and(three))
}

async fn tile(State(state): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    if !valid_tile_path(&path) {
        return error(StatusCode::BAD_REQUEST, "not a tile path");
    }
    let immutable = !path.contains(".p/");
    match tokio::fs::read(state.dir.join("tile").join(&path)).await {
        Ok(bytes) => (
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
        Err(_) => error(StatusCode::NOT_FOUND, format!("no tile {path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_tile_path;

    #[test]
    fn tile_paths_are_checked() {
        for ok in [
            "0/000",
            "1/x001/x234/067",
            "0/005.p/7",
            "entries/007.p/5",
            "entries/x001/000",
        ] {
            assert!(valid_tile_path(ok), "{ok}");
        }
        for bad in [
            "../log.key",
            "0/../../log.key",
            "0/5",
            "0/000.p/",
            "entries",
            "0/x01/000",
            "0/000/..",
            "a/000",
        ] {
            assert!(!valid_tile_path(bad), "{bad}");
        }
    }
}
