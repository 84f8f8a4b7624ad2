//! A Rekor v2-compatible log over HTTP (feature `client`): entries are created with
//! `POST <url>/api/v2/log/entries` and every answer is checked before it is believed (its body
//! binds the envelope, its inclusion proof leads to its root hash; the checkpoint's signature
//! is checked by a verifier against its trusted root); hash tiles and the checkpoint are read
//! from the C2SP tlog-tiles API (`GET <url>/checkpoint`, `GET <url>/tile/<L>/<N>[.p/<W>]`).
//!
//! A log that is busy (429, 502, 503, 504) or unreachable is tried [`ATTEMPTS`] times with a
//! growing pause; many entries are posted [`PARALLEL_REQUESTS`] at a time.
//!
//! Not here: the server side (`stella-server`), the embedded log ([`crate::log`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use stella_attest::{Envelope, PublicKey};

use crate::backend::LogBackend;
use crate::entry::check_binding;
use crate::log::TileReader;
use crate::merkle::{self, Hash};
use crate::{ProofError, TlogEntry, TlogError, rekor, tiles};

/// Attempts per request while the log is busy or unreachable.
pub const ATTEMPTS: u32 = 4;
/// Requests in flight at once when many entries are logged.
pub const PARALLEL_REQUESTS: usize = 8;
/// Time one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest checkpoint note read (C2SP notes are small; this bounds a hostile server).
pub const MAX_CHECKPOINT_BYTES: usize = 1 << 20;

/// A Rekor v2-compatible log at a base URL.
#[derive(Debug, Clone)]
pub struct RekorClient {
    base: String,
    client: reqwest::blocking::Client,
}

impl RekorClient {
    /// The log at `url` (its base, without `/api/v2/...`).
    ///
    /// # Errors
    /// [`TlogError::Network`] when no HTTP client can be made (no TLS roots).
    pub fn new(url: &str) -> Result<Self, TlogError> {
        let base = url.trim_end_matches('/').to_owned();
        let client = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| TlogError::Network {
                url: base.clone(),
                source: Box::new(e),
            })?;
        Ok(RekorClient { base, client })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Posts one create-entry request (see [`rekor::request_for`]) for `envelope` and checks
    /// the answer: the body is about `envelope` and the inclusion proof leads to the answer's
    /// root hash. Retries while the log is busy or unreachable.
    ///
    /// # Errors
    /// [`TlogError::AlreadyLogged`] for a 409; [`TlogError::Http`] for another refusal;
    /// [`TlogError::BadAnswer`] for an answer that is not a proven entry of `envelope`;
    /// [`TlogError::GaveUp`] after [`ATTEMPTS`] busy or failed attempts.
    pub fn post_entry(&self, request: &Value, envelope: &Envelope) -> Result<TlogEntry, TlogError> {
        let endpoint = format!("{}{}", self.base, rekor::ENTRIES_PATH);
        let body = serde_json::to_vec(request).map_err(|e| TlogError::Entry(e.to_string()))?;
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << attempt));
            }
            let response = match self
                .client
                .post(&endpoint)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
            {
                Ok(r) => r,
                Err(e) => {
                    last = Some(network(&endpoint, e));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let index = response
                .headers()
                .get("x-log-index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let text = match response.text() {
                Ok(text) => text,
                Err(e) => {
                    last = Some(network(&endpoint, e));
                    continue;
                }
            };
            match status {
                200 | 201 => return checked_answer(&endpoint, &text, envelope),
                409 => {
                    return Err(TlogError::AlreadyLogged {
                        url: endpoint,
                        index,
                    });
                }
                429 | 502 | 503 | 504 => {
                    last = Some(TlogError::Http {
                        url: endpoint.clone(),
                        status,
                        message: text,
                    });
                }
                _ => {
                    return Err(TlogError::Http {
                        url: endpoint,
                        status,
                        message: text,
                    });
                }
            }
        }
        Err(TlogError::GaveUp {
            attempts: ATTEMPTS,
            last: Box::new(last.unwrap_or(TlogError::Http {
                url: endpoint,
                status: 503,
                message: String::new(),
            })),
        })
    }

    /// `GET <url>/<path>`: the bytes, or `None` for a 404.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, TlogError> {
        let url = format!("{}/{path}", self.base);
        let response = self.client.get(&url).send().map_err(|e| network(&url, e))?;
        match response.status().as_u16() {
            200 => response
                .bytes()
                .map(|b| Some(b.to_vec()))
                .map_err(|e| network(&url, e)),
            404 => Ok(None),
            status => Err(TlogError::Http {
                url,
                status,
                message: response.text().unwrap_or_default(),
            }),
        }
    }
}

fn network(url: &str, e: reqwest::Error) -> TlogError {
    TlogError::Network {
        url: url.to_owned(),
        source: Box::new(e),
    }
}

/// A 200/201 answer, believed only once it is an entry of `envelope` whose inclusion proof
/// leads to its root hash.
fn checked_answer(endpoint: &str, text: &str, envelope: &Envelope) -> Result<TlogEntry, TlogError> {
    let bad = |source: TlogError| TlogError::BadAnswer {
        url: endpoint.to_owned(),
        source: Box::new(source),
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| bad(TlogError::Entry(format!("the answer is not JSON ({e})"))))?;
    let entry = TlogEntry::from_json(&value).map_err(bad)?;
    check_binding(&entry.body, envelope).map_err(bad)?;
    merkle::verify_inclusion(
        &merkle::leaf_hash(&entry.body),
        entry.log_index,
        entry.tree_size,
        &entry.hashes,
        &entry.root,
    )
    .map_err(bad)?;
    Ok(entry)
}

impl TileReader for RekorClient {
    /// A tree size between checkpoints reads a prefix of the full tile when the partial one
    /// is gone.
    fn read_tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<Hash>, TlogError> {
        let exact = tiles::tile_path(level, index, width);
        if let Some(bytes) = self.get(&exact)? {
            return tiles::decode_hashes(&bytes, width, &exact);
        }
        let full = tiles::tile_path(level, index, tiles::TILE_WIDTH);
        let bytes = self.get(&full)?.ok_or_else(|| ProofError::TileNotServed {
            base: self.base.clone(),
            exact: exact.clone(),
            full: full.clone(),
        })?;
        let mut hashes = tiles::decode_hashes(&bytes, tiles::TILE_WIDTH, &full)?;
        hashes.truncate(usize::try_from(width).unwrap_or(usize::MAX));
        Ok(hashes)
    }
}

impl LogBackend for RekorClient {
    fn name(&self) -> String {
        self.base.clone()
    }

    /// Posts [`PARALLEL_REQUESTS`] requests at a time; the first failure stops the others
    /// from starting.
    fn log_envelopes(
        &self,
        envelopes: &[Envelope],
        key: &PublicKey,
    ) -> Result<Vec<TlogEntry>, TlogError> {
        let requests = envelopes
            .iter()
            .map(|e| rekor::request_for(e, key))
            .collect::<Result<Vec<_>, _>>()?;
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<TlogEntry, TlogError>>>> =
            Mutex::new((0..envelopes.len()).map(|_| None).collect());
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..PARALLEL_REQUESTS.min(envelopes.len()) {
                s.spawn(|| {
                    loop {
                        if failed.load(Ordering::Acquire) {
                            return;
                        }
                        let i = next.fetch_add(1, Ordering::AcqRel);
                        let (Some(request), Some(envelope)) = (requests.get(i), envelopes.get(i))
                        else {
                            return;
                        };
                        let result = self.post_entry(request, envelope);
                        if result.is_err() {
                            failed.store(true, Ordering::Release);
                        }
                        if let Some(slot) = results
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .get_mut(i)
                        {
                            *slot = Some(result);
                        }
                    }
                });
            }
        });
        let results = results
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The first failure in order; a request never started behind it is not one.
        let mut entries = Vec::with_capacity(results.len());
        let mut missing = false;
        for result in results {
            match result {
                Some(Ok(entry)) => entries.push(entry),
                Some(Err(e)) => return Err(e),
                None => missing = true,
            }
        }
        if missing {
            // Only possible when a failure stopped the workers; it was returned above.
            return Err(TlogError::Entry(
                "an entry was not logged (the posting stopped)".to_owned(),
            ));
        }
        Ok(entries)
    }

    fn checkpoint_note(&self) -> Result<String, TlogError> {
        let bytes = self.get("checkpoint")?.ok_or_else(|| TlogError::Http {
            url: format!("{}/checkpoint", self.base),
            status: 404,
            message: "no checkpoint".to_owned(),
        })?;
        if bytes.len() > MAX_CHECKPOINT_BYTES {
            return Err(TlogError::Note(format!(
                "{}/checkpoint is {} bytes; at most {MAX_CHECKPOINT_BYTES}",
                self.base,
                bytes.len()
            )));
        }
        String::from_utf8(bytes)
            .map_err(|_| TlogError::Note(format!("{}/checkpoint is not text", self.base)))
    }
}
