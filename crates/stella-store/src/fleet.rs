//! The fleet's state, on the same database as the advisories: agents and their tokens, ingest
//! batches, runtime observations aggregated per (image, BuildID, function, window, agent), the
//! binaries each image holds, verdicts and the per-image timeline of what changed them.
//!
//! **Counted once.** An agent names every push with a batch id and the SHA-256 of its body.
//! [`Store::ingest`] records the id and adds the batch's observations in one transaction: a
//! retried push (the same id and body) is [`Ingested::AlreadyCounted`] and adds nothing; the same
//! id with another body is [`StoreError::BatchConflict`] — an agent bug or a replay, never merged.
//! Two servers receiving the same batch at once on PostgreSQL serialise on the batch's primary
//! key, so one counts it and the other finds it counted. Observations are added in key order, so
//! concurrent batches touching the same rows cannot deadlock.
//!
//! **Tokens** are kept as the SHA-256 of their text. An ingest token belongs to one agent and
//! can only push as that agent; a read token belongs to none and can only read (the server
//! enforces the scopes; [`Store::authorize`] says what a token is). A revoked token is no token.
//!
//! **Verdicts** are kept per (image, vulnerability, BuildID); [`Store::record_verdict`] writes a
//! verdict and, when its status or justification changed, the change into the image's timeline
//! in the same transaction, so the timeline is the verdict's history.
//!
//! Not here: what observations mean (`stella-policy` decides verdicts), minting token text (the
//! caller draws it from a CSPRNG), HTTP (`stella-server`).

use sqlx::Row as _;
use stella_core::Digest;

use crate::{Store, StoreError};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Pushing runtime evidence, as its agent.
    Ingest,
    /// Reading images, findings, verdicts and the hot-symbol index.
    Read,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
        }
    }
}

/// What a presented token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// What it allows.
    pub scope: Scope,
    /// The agent it pushes as (ingest tokens only).
    pub agent: Option<String>,
}

/// Runtime evidence about one function of one binary in one window, from one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The image's digest (`sha256:…`), or empty when the frames were not tied to an image.
    pub image: String,
    /// The binary's BuildID (hex).
    pub build_id: String,
    /// The function (as symbolised), or `unknown` for frames of the binary that were not named.
    pub function: String,
    /// The window's start, Unix seconds (the caller aligns it).
    pub window_start: i64,
    /// Samples whose leaf frame is in the function.
    pub self_samples: u64,
    /// Samples with the function anywhere in the stack (counted once per stack).
    pub total_samples: u64,
    /// Calls counted by a witness (uprobes).
    pub calls: u64,
    /// When it was first seen in this batch (RFC 3339 UTC).
    pub first_seen: String,
    /// When it was last seen in this batch (RFC 3339 UTC).
    pub last_seen: String,
}

/// One push of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Chosen by the agent, unique per push, the same when the push is retried.
    pub id: String,
    /// The agent pushing.
    pub agent: String,
    /// The SHA-256 (hex) of the pushed body.
    pub body_sha256: String,
    /// When it was received (RFC 3339 UTC).
    pub received: String,
    /// What it says.
    pub observations: Vec<Observation>,
}

/// What ingesting a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// New: its observations were added.
    Counted {
        /// How many.
        observations: usize,
    },
    /// Pushed before with the same body: nothing added.
    AlreadyCounted,
}

/// A row of the hot-symbol index: one function of one binary in one image, summed over the
/// windows and agents asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotRow {
    /// The image's digest, or empty.
    pub image: String,
    /// The binary's BuildID.
    pub build_id: String,
    /// The function.
    pub function: String,
    /// Leaf samples.
    pub self_samples: i64,
    /// Samples with the function on the stack.
    pub total_samples: i64,
    /// Witnessed calls.
    pub calls: i64,
    /// The agents that saw it, sorted.
    pub agents: Vec<String>,
    /// First seen (RFC 3339 UTC).
    pub first_seen: String,
    /// Last seen (RFC 3339 UTC).
    pub last_seen: String,
}

/// Which observations the hot-symbol index sums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HotQuery {
    /// Only this image.
    pub image: Option<String>,
    /// Only this BuildID.
    pub build_id: Option<String>,
    /// Only these functions (empty: all).
    pub functions: Vec<String>,
    /// Only windows starting at or after this (Unix seconds).
    pub since: Option<i64>,
    /// Only windows starting before this (Unix seconds).
    pub until: Option<i64>,
}

/// A binary an image holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageBinary {
    /// Its BuildID.
    pub build_id: String,
    /// Its path in the image.
    pub path: String,
    /// The digest of its FuncProof, when one was made.
    pub funcproof: Option<String>,
}

/// The verdict on one vulnerability for one binary of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRow {
    /// The image's digest.
    pub image: String,
    /// The vulnerability.
    pub vulnerability: String,
    /// The binary's BuildID.
    pub build_id: String,
    /// The VEX status (`affected`, `not_affected`, `fixed`, `under_investigation`).
    pub status: String,
    /// The justification, for `not_affected`.
    pub justification: Option<String>,
    /// The SHA-256 of the evidence it rests on (the signed VEX or micro-witness).
    pub evidence_sha256: String,
    /// When it was decided (RFC 3339 UTC).
    pub decided: String,
}

/// One event in an image's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The image's digest.
    pub image: String,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// What kind of event (`verdict`, `observed`, `attached`, …).
    pub kind: String,
    /// One line.
    pub summary: String,
    /// The document it concerns (JSON), if any.
    pub document: Option<String>,
}

impl TimelineEntry {
    /// The entry's id: the SHA-256 of its content, so the same event recorded twice is one entry.
    pub fn id(&self) -> String {
        let mut text = String::new();
        for part in [
            self.image.as_str(),
            self.at.as_str(),
            self.kind.as_str(),
            self.summary.as_str(),
            self.document.as_deref().unwrap_or(""),
        ] {
            text.push_str(&part.len().to_string());
            text.push(':');
            text.push_str(part);
        }
        Digest::sha256(text.as_bytes()).hex().to_owned()
    }
}

fn count(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Invalid {
        reason: format!("{what} {value} is larger than the store counts"),
    })
}

fn token_digest(token: &str) -> String {
    Digest::sha256(token.as_bytes()).hex().to_owned()
}

impl Store {
    /// Registers the agent `name` on `node` (again: its node is updated).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn register_agent(&self, name: &str, node: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agents (name, node, registered) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET node = excluded.node",
        )
        .bind(name)
        .bind(node)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds `token` (kept as its SHA-256) with `scope`; an ingest token names its agent, a read
    /// token none.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an ingest token without an agent or a read token with one,
    /// or a token shorter than 32 characters; [`StoreError::UnknownAgent`];
    /// [`StoreError::Database`] (a token already there).
    pub async fn add_token(
        &self,
        token: &str,
        scope: Scope,
        agent: Option<&str>,
        at: &str,
    ) -> Result<(), StoreError> {
        if token.len() < 32 {
            return Err(StoreError::Invalid {
                reason: "a token has at least 32 characters".to_owned(),
            });
        }
        if (scope == Scope::Ingest) != agent.is_some() {
            return Err(StoreError::Invalid {
                reason: "an ingest token belongs to one agent, a read token to none".to_owned(),
            });
        }
        if let Some(agent) = agent {
            self.require_agent(agent).await?;
        }
        sqlx::query("INSERT INTO tokens (sha256, scope, agent, created) VALUES ($1, $2, $3, $4)")
            .bind(token_digest(token))
            .bind(scope.as_str())
            .bind(agent.map(str::to_owned))
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes `token`; whether it was there and not yet revoked.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn revoke_token(&self, token: &str, at: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE tokens SET revoked = $1 WHERE sha256 = $2 AND revoked IS NULL")
                .bind(at)
                .bind(token_digest(token))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// What `token` allows, or `None` for a token that is unknown or revoked.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Tampered`] for a scope the schema does not allow.
    pub async fn authorize(&self, token: &str) -> Result<Option<Grant>, StoreError> {
        let row =
            sqlx::query("SELECT scope, agent FROM tokens WHERE sha256 = $1 AND revoked IS NULL")
                .bind(token_digest(token))
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let scope: String = row.try_get(0)?;
        let agent: Option<String> = row.try_get(1)?;
        let scope = match (scope.as_str(), &agent) {
            ("ingest", Some(_)) => Scope::Ingest,
            ("read", None) => Scope::Read,
            _ => {
                return Err(StoreError::Tampered {
                    id: format!("token scope {scope:?}"),
                });
            }
        };
        Ok(Some(Grant { scope, agent }))
    }

    async fn require_agent(&self, agent: &str) -> Result<(), StoreError> {
        let known = sqlx::query("SELECT 1 FROM agents WHERE name = $1")
            .bind(agent)
            .fetch_optional(&self.pool)
            .await?;
        match known {
            Some(_) => Ok(()),
            None => Err(StoreError::UnknownAgent {
                name: agent.to_owned(),
            }),
        }
    }

    /// Adds `batch`'s observations unless the batch was counted before (see the module docs).
    ///
    /// # Errors
    /// [`StoreError::BatchConflict`] for a batch id seen with another body;
    /// [`StoreError::UnknownAgent`]; [`StoreError::Invalid`] for counts the store cannot hold
    /// or an empty batch id; [`StoreError::Database`] (nothing of the batch is kept).
    pub async fn ingest(&self, batch: &Batch) -> Result<Ingested, StoreError> {
        if batch.id.is_empty() || batch.id.len() > 200 {
            return Err(StoreError::Invalid {
                reason: "a batch id has 1 to 200 characters".to_owned(),
            });
        }
        let mut rows = Vec::with_capacity(batch.observations.len());
        for o in &batch.observations {
            rows.push((
                o,
                count(o.self_samples, "self_samples")?,
                count(o.total_samples, "total_samples")?,
                count(o.calls, "calls")?,
            ));
        }
        rows.sort_by(|a, b| {
            (&a.0.image, &a.0.build_id, &a.0.function, a.0.window_start).cmp(&(
                &b.0.image,
                &b.0.build_id,
                &b.0.function,
                b.0.window_start,
            ))
        });
        self.require_agent(&batch.agent).await?;
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO ingest_batches (batch_id, agent, body_sha256, received, observations) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id) DO NOTHING",
        )
        .bind(&batch.id)
        .bind(&batch.agent)
        .bind(&batch.body_sha256)
        .bind(&batch.received)
        .bind(count(rows.len() as u64, "observations")?)
        .execute(&mut *tx)
        .await?;
        if fresh.rows_affected() == 0 {
            let seen =
                sqlx::query("SELECT agent, body_sha256 FROM ingest_batches WHERE batch_id = $1")
                    .bind(&batch.id)
                    .fetch_one(&mut *tx)
                    .await?;
            let (agent, body): (String, String) = (seen.try_get(0)?, seen.try_get(1)?);
            tx.rollback().await?;
            return if agent == batch.agent && body == batch.body_sha256 {
                Ok(Ingested::AlreadyCounted)
            } else {
                Err(StoreError::BatchConflict {
                    batch_id: batch.id.clone(),
                })
            };
        }
        for (o, self_samples, total_samples, calls) in &rows {
            sqlx::query(
                "INSERT INTO observations (image, build_id, function, window_start, agent, \
                 self_samples, total_samples, calls, first_seen, last_seen) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (image, build_id, function, window_start, agent) DO UPDATE SET \
                 self_samples = observations.self_samples + excluded.self_samples, \
                 total_samples = observations.total_samples + excluded.total_samples, \
                 calls = observations.calls + excluded.calls, \
                 first_seen = CASE WHEN excluded.first_seen < observations.first_seen \
                   THEN excluded.first_seen ELSE observations.first_seen END, \
                 last_seen = CASE WHEN excluded.last_seen > observations.last_seen \
                   THEN excluded.last_seen ELSE observations.last_seen END",
            )
            .bind(&o.image)
            .bind(&o.build_id)
            .bind(&o.function)
            .bind(o.window_start)
            .bind(&batch.agent)
            .bind(*self_samples)
            .bind(*total_samples)
            .bind(*calls)
            .bind(&o.first_seen)
            .bind(&o.last_seen)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE agents SET last_seen = $1 WHERE name = $2")
            .bind(&batch.received)
            .bind(&batch.agent)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ingested::Counted {
            observations: rows.len(),
        })
    }

    /// The hot-symbol index: observations matching `query`, summed per (image, BuildID,
    /// function), hottest first (total samples, then calls), then by key.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn hot_symbols(&self, query: &HotQuery) -> Result<Vec<HotRow>, StoreError> {
        let mut sql = String::from(
            "SELECT image, build_id, function, agent, CAST(SUM(self_samples) AS BIGINT), \
             CAST(SUM(total_samples) AS BIGINT), CAST(SUM(calls) AS BIGINT), MIN(first_seen), \
             MAX(last_seen) FROM observations WHERE 1 = 1",
        );
        let mut binds: Vec<Bind> = Vec::new();
        let mut param = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(image) = &query.image {
            param(&mut sql, " AND image = ?", Bind::Text(image.clone()));
        }
        if let Some(build_id) = &query.build_id {
            param(&mut sql, " AND build_id = ?", Bind::Text(build_id.clone()));
        }
        if let Some(since) = query.since {
            param(&mut sql, " AND window_start >= ?", Bind::Int(since));
        }
        if let Some(until) = query.until {
            param(&mut sql, " AND window_start < ?", Bind::Int(until));
        }
        if !query.functions.is_empty() {
            sql.push_str(" AND function IN (");
            for (i, f) in query.functions.iter().enumerate() {
                let clause = if i == 0 { "?" } else { ", ?" };
                param(&mut sql, clause, Bind::Text(f.clone()));
            }
            sql.push(')');
        }
        // Per agent in SQL, summed over agents here: one query gives the sums and who saw it.
        sql.push_str(" GROUP BY image, build_id, function, agent");
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = match b {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let mut summed: std::collections::BTreeMap<(String, String, String), HotRow> =
            std::collections::BTreeMap::new();
        for r in q.fetch_all(&self.pool).await? {
            let key: (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let agent: String = r.try_get(3)?;
            let (self_samples, total_samples, calls): (i64, i64, i64) =
                (r.try_get(4)?, r.try_get(5)?, r.try_get(6)?);
            let (first_seen, last_seen): (String, String) = (r.try_get(7)?, r.try_get(8)?);
            let row = summed.entry(key.clone()).or_insert_with(|| HotRow {
                image: key.0,
                build_id: key.1,
                function: key.2,
                self_samples: 0,
                total_samples: 0,
                calls: 0,
                agents: Vec::new(),
                first_seen: first_seen.clone(),
                last_seen: last_seen.clone(),
            });
            row.self_samples = row.self_samples.saturating_add(self_samples);
            row.total_samples = row.total_samples.saturating_add(total_samples);
            row.calls = row.calls.saturating_add(calls);
            row.agents.push(agent);
            if first_seen < row.first_seen {
                row.first_seen = first_seen;
            }
            if last_seen > row.last_seen {
                row.last_seen = last_seen;
            }
        }
        let mut rows: Vec<HotRow> = summed.into_values().collect();
        for row in &mut rows {
            row.agents.sort();
        }
        rows.sort_by(|a, b| {
            (b.total_samples, b.calls)
                .cmp(&(a.total_samples, a.calls))
                .then_with(|| {
                    (&a.image, &a.build_id, &a.function).cmp(&(&b.image, &b.build_id, &b.function))
                })
        });
        Ok(rows)
    }

    /// Records that the image `digest` (known as `reference`) holds `binaries`, seen at `at`.
    ///
    /// # Errors
    /// [`StoreError::Database`] (nothing of it is kept).
    pub async fn record_image(
        &self,
        digest: &str,
        reference: Option<&str>,
        binaries: &[ImageBinary],
        at: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO images (digest, reference, first_seen, last_seen) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (digest) DO UPDATE SET last_seen = excluded.last_seen, \
             reference = COALESCE(excluded.reference, images.reference)",
        )
        .bind(digest)
        .bind(reference.map(str::to_owned))
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let mut sorted = binaries.to_vec();
        sorted.sort();
        for b in &sorted {
            sqlx::query(
                "INSERT INTO image_binaries (image, build_id, path, funcproof) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (image, build_id, path) \
                 DO UPDATE SET funcproof = excluded.funcproof",
            )
            .bind(digest)
            .bind(&b.build_id)
            .bind(&b.path)
            .bind(b.funcproof.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The images holding a binary with `build_id`, sorted.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn images_with(&self, build_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query(
            "SELECT DISTINCT image FROM image_binaries WHERE build_id = $1 ORDER BY image",
        )
        .bind(build_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
    }

    /// Every image recorded, by digest, with its binaries.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn images(&self) -> Result<Vec<ImageRow>, StoreError> {
        let mut images: Vec<ImageRow> = sqlx::query(
            "SELECT digest, reference, first_seen, last_seen FROM images ORDER BY digest",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ImageRow {
                digest: r.try_get(0)?,
                reference: r.try_get(1)?,
                first_seen: r.try_get(2)?,
                last_seen: r.try_get(3)?,
                binaries: Vec::new(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let rows = sqlx::query(
            "SELECT image, build_id, path, funcproof FROM image_binaries \
             ORDER BY image, build_id, path",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let image: String = r.try_get(0)?;
            if let Ok(i) = images.binary_search_by(|x| x.digest.as_str().cmp(&image)) {
                images[i].binaries.push(ImageBinary {
                    build_id: r.try_get(1)?,
                    path: r.try_get(2)?,
                    funcproof: r.try_get(3)?,
                });
            }
        }
        Ok(images)
    }

    /// Replaces the components recorded for `image` (recorded by [`Store::record_image`]
    /// before) by `components`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`] (nothing of it is kept; an image not recorded is one).
    pub async fn set_components(
        &self,
        image: &str,
        components: &[ImageComponent],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM image_components WHERE image = $1")
            .bind(image)
            .execute(&mut *tx)
            .await?;
        for c in components {
            sqlx::query(
                "INSERT INTO image_components (image, bom_ref, name, version, purl) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (image, bom_ref) DO NOTHING",
            )
            .bind(image)
            .bind(&c.bom_ref)
            .bind(&c.name)
            .bind(c.version.clone())
            .bind(c.purl.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The components of `image`, by `bom-ref`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn components(&self, image: &str) -> Result<Vec<ImageComponent>, StoreError> {
        sqlx::query(
            "SELECT bom_ref, name, version, purl FROM image_components WHERE image = $1 \
             ORDER BY bom_ref",
        )
        .bind(image)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ImageComponent {
                bom_ref: r.try_get(0)?,
                name: r.try_get(1)?,
                version: r.try_get(2)?,
                purl: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
    }

    /// Replaces the functions watched in `image` by `rows` (all about `image`), in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a row about another image or an address past `i64::MAX`;
    /// [`StoreError::Database`] (nothing of it is kept).
    pub async fn set_watched(&self, image: &str, rows: &[WatchRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM watched WHERE image = $1")
            .bind(image)
            .execute(&mut *tx)
            .await?;
        for r in rows {
            let start = i64::try_from(r.start_vaddr).map_err(|_| StoreError::Invalid {
                reason: format!(
                    "{} in {}: address {:#x}",
                    r.function, r.build_id, r.start_vaddr
                ),
            })?;
            if r.image != image {
                return Err(StoreError::Invalid {
                    reason: format!("a watched function of {} given for {image}", r.image),
                });
            }
            sqlx::query(
                "INSERT INTO watched (image, build_id, function, sha256, path, demangled, symbol, \
                 start_vaddr, vulnerabilities, decided) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9, $10) ON CONFLICT (image, build_id, function) DO UPDATE SET \
                 vulnerabilities = excluded.vulnerabilities",
            )
            .bind(&r.image)
            .bind(&r.build_id)
            .bind(&r.function)
            .bind(&r.sha256)
            .bind(&r.path)
            .bind(r.demangled.clone())
            .bind(&r.symbol)
            .bind(start)
            .bind(&r.vulnerabilities)
            .bind(&r.decided)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every function to watch, sorted by image, BuildID and function.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn watched(&self) -> Result<Vec<WatchRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT image, build_id, function, sha256, path, demangled, symbol, start_vaddr, \
             vulnerabilities, decided FROM watched ORDER BY image, build_id, function",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let start: i64 = r.try_get(7)?;
                Ok(WatchRow {
                    image: r.try_get(0)?,
                    build_id: r.try_get(1)?,
                    function: r.try_get(2)?,
                    sha256: r.try_get(3)?,
                    path: r.try_get(4)?,
                    demangled: r.try_get(5)?,
                    symbol: r.try_get(6)?,
                    start_vaddr: u64::try_from(start).unwrap_or(0),
                    vulnerabilities: r.try_get(8)?,
                    decided: r.try_get(9)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Writes `verdict`; when it changes the status or justification on record (or is the
    /// first), the change goes into the image's timeline in the same transaction. Returns the
    /// verdict it replaced, if it changed one.
    ///
    /// # Errors
    /// [`StoreError::Database`] (nothing of it is kept).
    pub async fn record_verdict(&self, verdict: &VerdictRow) -> Result<VerdictChange, StoreError> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query(
            "SELECT status, justification, evidence_sha256, decided FROM verdicts \
             WHERE image = $1 AND vulnerability = $2 AND build_id = $3",
        )
        .bind(&verdict.image)
        .bind(&verdict.vulnerability)
        .bind(&verdict.build_id)
        .fetch_optional(&mut *tx)
        .await?;
        let before = match before {
            Some(r) => Some(VerdictRow {
                image: verdict.image.clone(),
                vulnerability: verdict.vulnerability.clone(),
                build_id: verdict.build_id.clone(),
                status: r.try_get(0)?,
                justification: r.try_get(1)?,
                evidence_sha256: r.try_get(2)?,
                decided: r.try_get(3)?,
            }),
            None => None,
        };
        let same = before.as_ref().is_some_and(|b| {
            b.status == verdict.status && b.justification == verdict.justification
        });
        if same {
            tx.rollback().await?;
            return Ok(VerdictChange::Unchanged);
        }
        sqlx::query(
            "INSERT INTO verdicts (image, vulnerability, build_id, status, justification, \
             evidence_sha256, decided) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (image, vulnerability, build_id) DO UPDATE SET status = excluded.status, \
             justification = excluded.justification, evidence_sha256 = excluded.evidence_sha256, \
             decided = excluded.decided",
        )
        .bind(&verdict.image)
        .bind(&verdict.vulnerability)
        .bind(&verdict.build_id)
        .bind(&verdict.status)
        .bind(verdict.justification.clone())
        .bind(&verdict.evidence_sha256)
        .bind(&verdict.decided)
        .execute(&mut *tx)
        .await?;
        let from = before
            .as_ref()
            .map_or_else(|| "no verdict".to_owned(), |b| b.status.clone());
        let entry = TimelineEntry {
            image: verdict.image.clone(),
            at: verdict.decided.clone(),
            kind: "verdict".to_owned(),
            summary: format!(
                "{} in {}: {} -> {}{} (evidence sha256:{})",
                verdict.vulnerability,
                verdict.build_id,
                from,
                verdict.status,
                verdict
                    .justification
                    .as_deref()
                    .map(|j| format!(" ({j})"))
                    .unwrap_or_default(),
                verdict.evidence_sha256
            ),
            document: None,
        };
        insert_timeline(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(match before {
            Some(b) => VerdictChange::Changed(Box::new(b)),
            None => VerdictChange::First,
        })
    }

    /// The verdicts on `image`, by vulnerability and BuildID.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn verdicts(&self, image: &str) -> Result<Vec<VerdictRow>, StoreError> {
        sqlx::query(
            "SELECT vulnerability, build_id, status, justification, evidence_sha256, decided \
             FROM verdicts WHERE image = $1 ORDER BY vulnerability, build_id",
        )
        .bind(image)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(VerdictRow {
                image: image.to_owned(),
                vulnerability: r.try_get(0)?,
                build_id: r.try_get(1)?,
                status: r.try_get(2)?,
                justification: r.try_get(3)?,
                evidence_sha256: r.try_get(4)?,
                decided: r.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
    }

    /// Adds `entry` to its image's timeline; whether it was new (the same event twice is one
    /// entry).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn add_timeline(&self, entry: &TimelineEntry) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let new = insert_timeline(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// The timeline of `image`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn timeline(&self, image: &str) -> Result<Vec<TimelineEntry>, StoreError> {
        sqlx::query(
            "SELECT at, kind, summary, document FROM timeline WHERE image = $1 ORDER BY at, id",
        )
        .bind(image)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(TimelineEntry {
                image: image.to_owned(),
                at: r.try_get(0)?,
                kind: r.try_get(1)?,
                summary: r.try_get(2)?,
                document: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
    }
}

/// An image the server has assessed, with its binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Its digest.
    pub digest: String,
    /// The reference it was last read by.
    pub reference: Option<String>,
    /// The first time it was recorded (RFC 3339 UTC).
    pub first_seen: String,
    /// The last time it was recorded (RFC 3339 UTC).
    pub last_seen: String,
    /// Its binaries, sorted.
    pub binaries: Vec<ImageBinary>,
}

/// A component an image's verified SBOM names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageComponent {
    /// Its `bom-ref` (unique in the SBOM).
    pub bom_ref: String,
    /// Its name.
    pub name: String,
    /// Its version, when the SBOM gives one.
    pub version: Option<String>,
    /// Its package URL, when the SBOM gives one.
    pub purl: Option<String>,
}

/// A vulnerable function present in a binary of an image, for agents to watch with uprobes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WatchRow {
    /// The image's digest.
    pub image: String,
    /// The binary's BuildID.
    pub build_id: String,
    /// The function, as the binary's symbol table spells it.
    pub function: String,
    /// SHA-256 of the binary (hex): a file on a node must hash to it to be watched.
    pub sha256: String,
    /// The binary's path in the image.
    pub path: String,
    /// Demangled, where it differs.
    pub demangled: Option<String>,
    /// The advisory's symbol it was found for.
    pub symbol: String,
    /// The function's first byte (virtual address, as the FuncProof has it).
    pub start_vaddr: u64,
    /// The vulnerabilities it is watched for, comma-separated.
    pub vulnerabilities: String,
    /// When the assessment that found it was made (RFC 3339 UTC).
    pub decided: String,
}

/// What [`Store::record_verdict`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictChange {
    /// The first verdict on this (image, vulnerability, BuildID).
    First,
    /// It replaced this one.
    Changed(Box<VerdictRow>),
    /// The same status and justification were on record: nothing written.
    Unchanged,
}

enum Bind {
    Text(String),
    Int(i64),
}

async fn insert_timeline(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entry: &TimelineEntry,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO timeline (image, id, at, kind, summary, document) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (image, id) DO NOTHING",
    )
    .bind(&entry.image)
    .bind(entry.id())
    .bind(&entry.at)
    .bind(&entry.kind)
    .bind(&entry.summary)
    .bind(entry.document.clone())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
