//! A small debuginfod client: `GET {server}/buildid/{hex}/debuginfo` (or `/executable`) into
//! the symbol cache.
//!
//! The protocol is elfutils' (`debuginfod(8)`): servers are tried in order; `404` means the
//! server does not have the file and the next one is asked; any other failure is remembered and
//! the next one is asked too. A server that cannot be reached at all (refused, timed out) is not
//! asked again by the same client, so a dead server costs one timeout, not one per BuildID.
//! Every download is capped ([`DEFAULT_MAX_BYTES`] unless told
//! otherwise) and idle-timed-out, lands in the cache atomically, and is kept only if its GNU
//! BuildID is the one asked for: a server answering with the wrong file cannot poison the cache.
//!
//! Server lists come from the caller (`--debuginfod URL`) or from `DEBUGINFOD_URLS`
//! (whitespace-separated, as elfutils reads it).
//!
//! What this module does not own: symbolising the files fetched (`super::file`) or the cache
//! layout (`super::cache`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::cache::{CachedElf, SymbolCache};
use super::elf;
use crate::RuntimeError;

/// Default cap on one downloaded file: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Default timeout for connecting and for each read: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The environment variable elfutils reads server URLs from.
pub const URLS_ENV: &str = "DEBUGINFOD_URLS";

/// The server URLs in a `DEBUGINFOD_URLS`-style list: whitespace-separated, trailing slashes
/// removed.
pub fn parse_urls(list: &str) -> Vec<String> {
    list.split_whitespace()
        .map(|url| url.trim_end_matches('/').to_owned())
        .filter(|url| !url.is_empty())
        .collect()
}

/// The server URLs in `DEBUGINFOD_URLS` (none when unset or not UTF-8).
pub fn urls_from_env() -> Vec<String> {
    std::env::var(URLS_ENV)
        .map(|list| parse_urls(&list))
        .unwrap_or_default()
}

/// A blocking debuginfod client over a list of servers.
#[derive(Debug, Clone)]
pub struct DebuginfodClient {
    servers: Vec<String>,
    /// Per server: it could not be reached, do not ask again.
    unreachable: Arc<[AtomicBool]>,
    http: reqwest::blocking::Client,
    max_bytes: u64,
}

impl DebuginfodClient {
    /// A client asking `servers` in order, downloading at most `max_bytes` per file, giving up
    /// on a server that does not connect or send data within `timeout`.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when a URL is not `http://` or `https://`, or the HTTP client
    /// cannot be set up.
    pub fn new(
        servers: &[String],
        timeout: Duration,
        max_bytes: u64,
    ) -> Result<Self, RuntimeError> {
        let servers: Vec<String> = servers
            .iter()
            .map(|s| s.trim_end_matches('/').to_owned())
            .collect();
        if let Some(bad) = servers
            .iter()
            .find(|s| !(s.starts_with("http://") || s.starts_with("https://")))
        {
            return Err(RuntimeError::DebuginfodUrl { url: bad.clone() });
        }
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("stella/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(RuntimeError::HttpClient)?;
        Ok(DebuginfodClient {
            unreachable: servers.iter().map(|_| AtomicBool::new(false)).collect(),
            servers,
            http,
            max_bytes,
        })
    }

    /// The servers asked, in order.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Fetches the `kind` file of `build_id` into `cache`: its path, or `None` when every
    /// server answered 404.
    ///
    /// # Errors
    /// [`RuntimeError::Symbols`] when no server had the file and at least one failed otherwise
    /// (unreachable, an error status, too large, a file with another BuildID), naming each
    /// failure; or when `build_id` is not a GNU BuildID.
    pub fn fetch(
        &self,
        build_id: &str,
        kind: CachedElf,
        cache: &SymbolCache,
    ) -> Result<Option<PathBuf>, RuntimeError> {
        cache.elf_path(build_id, kind)?;
        let mut failures = Vec::new();
        for (server, unreachable) in self.servers.iter().zip(self.unreachable.iter()) {
            if unreachable.load(Ordering::Relaxed) {
                failures.push(format!("{server}: not asked, unreachable earlier"));
                continue;
            }
            let url = format!("{server}/buildid/{build_id}/{}", kind.debuginfod_name());
            match self.fetch_from(&url, build_id, kind, cache) {
                Ok(Some(path)) => return Ok(Some(path)),
                Ok(None) => {}
                Err(Failure::Unreachable(e)) => {
                    unreachable.store(true, Ordering::Relaxed);
                    failures.push(format!("{url}: {e}"));
                }
                Err(Failure::Refused(e)) => failures.push(format!("{url}: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(None)
        } else {
            Err(RuntimeError::Debuginfod { failures })
        }
    }

    fn fetch_from(
        &self,
        url: &str,
        build_id: &str,
        kind: CachedElf,
        cache: &SymbolCache,
    ) -> Result<Option<PathBuf>, Failure> {
        let mut response = self.http.get(url).send().map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                Failure::Unreachable(e.to_string())
            } else {
                Failure::Refused(e.to_string())
            }
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Failure::Refused(format!("HTTP {status}")));
        }
        if let Some(length) = response.content_length()
            && length > self.max_bytes
        {
            return Err(Failure::Refused(format!(
                "{length} bytes, more than the {} allowed",
                self.max_bytes
            )));
        }
        let same_build_id = |path: &std::path::Path| {
            let found = elf::read_layout(path)?.build_id;
            if found.as_deref() == Some(build_id) {
                Ok(())
            } else {
                Err(RuntimeError::WrongBuildId {
                    path: path.to_owned(),
                    expected: build_id.to_owned(),
                    found,
                })
            }
        };
        cache
            .store_elf(build_id, kind, &mut response, self.max_bytes, same_build_id)
            .map(Some)
            .map_err(|e| Failure::Refused(e.to_string()))
    }
}

/// Why one server did not deliver a file.
enum Failure {
    /// No connection, or no answer in time: the server is not asked again.
    Unreachable(String),
    /// An error status, a file too large or with another BuildID, a broken transfer.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lists_split_on_whitespace_and_lose_trailing_slashes() {
        assert_eq!(
            parse_urls("  https://debuginfod.debian.net/ \n\thttp://127.0.0.1:8002//  "),
            vec![
                "https://debuginfod.debian.net".to_owned(),
                "http://127.0.0.1:8002".to_owned()
            ]
        );
        assert!(parse_urls("   ").is_empty());
        assert!(parse_urls("/").is_empty());
    }

    #[test]
    fn only_http_urls_make_a_client() {
        let ok = DebuginfodClient::new(
            &["http://127.0.0.1:1/".to_owned()],
            DEFAULT_TIMEOUT,
            DEFAULT_MAX_BYTES,
        )
        .unwrap();
        assert_eq!(ok.servers(), ["http://127.0.0.1:1".to_owned()]);
        let err = DebuginfodClient::new(
            &["file:///srv/debug".to_owned()],
            DEFAULT_TIMEOUT,
            DEFAULT_MAX_BYTES,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not an http"), "{err}");
    }

    #[test]
    fn an_unreachable_server_is_an_error_and_bad_ids_never_reach_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SymbolCache::open(dir.path()).unwrap();
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let client = DebuginfodClient::new(
            &["http://127.0.0.1:1".to_owned()],
            Duration::from_secs(2),
            DEFAULT_MAX_BYTES,
        )
        .unwrap();
        let id = "ab".repeat(20);
        let err = client
            .fetch(&id, CachedElf::Debuginfo, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("127.0.0.1:1/buildid/"), "{err}");
        // Refused once, not asked again.
        let err = client
            .fetch(&id, CachedElf::Executable, &cache)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not asked, unreachable earlier"), "{err}");
        assert!(
            client
                .fetch("../../etc", CachedElf::Debuginfo, &cache)
                .is_err()
        );
        let none = DebuginfodClient::new(&[], DEFAULT_TIMEOUT, DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(
            none.fetch(&id, CachedElf::Executable, &cache).unwrap(),
            None
        );
    }
}
