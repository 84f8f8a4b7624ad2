//! Stella's index: what is looked up rather than verified — the advisory database, and the
//! fleet's agents, observations, verdicts and timelines ([`fleet`]) — in
//! SQLite (the embedded default, `$STELLA_HOME/stella.db`, made on first use) or PostgreSQL
//! (`postgres://…`, for a fleet), with one schema and one set of queries for both.
//!
//! **Schema and migrations.** The SQL files in `crates/stella-store/migrations/` are embedded and
//! applied in order, each in its own transaction, recorded in `stella_migrations` with the
//! SHA-256 of its text: a database whose recorded migration differs from the embedded one (an
//! edited migration, or a database from another build) is refused by name, never migrated on a
//! guess. A database that has migrations this build does not know is refused too.
//!
//! **Advisories** ([`AdvisoryRow`]) are stored as their documents (the OSV JSON, the RustSec
//! Markdown, Stella's overlay record) with the rows that find them by id, alias, package and
//! symbol. [`Store::import`] is one transaction: every advisory goes in, or none does. An id
//! already there is replaced when the new `modified` is later, kept otherwise
//! ([`Outcome::Unchanged`]); an id already imported from another source is kept and the new
//! one skipped by name ([`Outcome::SkippedCollision`]), since two sources' records of one id
//! are not the same document. Each document's SHA-256 is recorded at import and checked when it
//! is read back: a row changed outside Stella is refused ([`StoreError::Tampered`]), not used.
//!
//! What this crate does not own: what advisories mean (`stella-advisory`), evidence (the OCI
//! store and the transparency log), or fetching.

pub mod fleet;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr as _;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row as _};
use stella_core::{Digest, ErrorKind, Kinded};

/// The migrations, in order: (version, name, SQL).
const MIGRATIONS: [(i64, &str, &str); 3] = [
    (
        1,
        "0001_advisories.sql",
        include_str!("../migrations/0001_advisories.sql"),
    ),
    (
        2,
        "0002_fleet.sql",
        include_str!("../migrations/0002_fleet.sql"),
    ),
    (
        3,
        "0003_watch_components.sql",
        include_str!("../migrations/0003_watch_components.sql"),
    ),
];

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not one Stella opens.
    #[error("{url:?} is not a database Stella opens (sqlite://PATH or postgres://…)")]
    Url {
        /// As given.
        url: String,
    },
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A recorded migration is not the one this build embeds.
    #[error(
        "migration {version} ({name}) in the database differs from this build's: the database was \
         made by another Stella, or a migration was edited; it is not migrated on a guess"
    )]
    MigrationMismatch {
        /// The migration's version.
        version: i64,
        /// Its file name.
        name: String,
    },
    /// A stored document no longer has the digest recorded when it was imported.
    #[error(
        "advisory {id}: the stored document does not hash to the digest recorded at import; \
         the database was changed outside Stella (import the advisory again)"
    )]
    Tampered {
        /// The advisory.
        id: String,
    },
    /// A batch id pushed before with another body (or by another agent).
    #[error(
        "batch {batch_id:?} was counted before with another body: a retried push sends the same \
         bytes; not counted"
    )]
    BatchConflict {
        /// The batch id.
        batch_id: String,
    },
    /// An agent that was never registered.
    #[error("no agent {name:?} is registered")]
    UnknownAgent {
        /// The name given.
        name: String,
    },
    /// A value the store does not take.
    #[error("{reason}")]
    Invalid {
        /// Why.
        reason: String,
    },
    /// The database has migrations this build does not know.
    #[error("the database has migration {version}, newer than this build knows (latest {known})")]
    NewerDatabase {
        /// The newest recorded.
        version: i64,
        /// The newest known.
        known: i64,
    },
}

impl Kinded for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Url { .. } => ErrorKind::Invalid,
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                ErrorKind::Unavailable
            }
            StoreError::Database(_) => ErrorKind::Environment,
            StoreError::MigrationMismatch { .. } | StoreError::NewerDatabase { .. } => {
                ErrorKind::Conflict
            }
            StoreError::Tampered { .. } => ErrorKind::Rejected,
            StoreError::BatchConflict { .. } => ErrorKind::Conflict,
            StoreError::UnknownAgent { .. } => ErrorKind::NotFound,
            StoreError::Invalid { .. } => ErrorKind::Invalid,
        }
    }
}

/// A symbol an advisory names for a package, with the versions it is vulnerable in (as the
/// source writes them; empty: wherever the package is affected).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SymbolRow {
    /// The package path it lives in (a Go import path), or empty.
    pub path: String,
    /// The symbol.
    pub name: String,
    /// Version requirements, joined by `, ` (RustSec's per-function requirements), or empty.
    pub versions: String,
}

/// A package an advisory affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    /// The OSV ecosystem (`Go`, `crates.io`, `Debian:12`).
    pub ecosystem: String,
    /// The package name.
    pub name: String,
    /// Its purl, when the source gives one.
    pub purl: Option<String>,
    /// Its vulnerable symbols.
    pub symbols: Vec<SymbolRow>,
}

/// One advisory as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryRow {
    /// Its id.
    pub id: String,
    /// Where it came from (`osv`, `rustsec`, `overlay`).
    pub source: String,
    /// When it last changed (RFC 3339, or the day for RustSec), as the source writes it.
    pub modified: String,
    /// When it was withdrawn, if it was.
    pub withdrawn: Option<String>,
    /// One line.
    pub summary: Option<String>,
    /// The document as imported.
    pub document: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// The packages it affects.
    pub packages: Vec<PackageRow>,
}

/// What importing one advisory did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New.
    Added,
    /// There before, older: replaced.
    Replaced,
    /// There before, as recent: kept.
    Unchanged,
    /// The id was imported from another source before: kept, this one skipped.
    SkippedCollision {
        /// The source it was imported from.
        existing_source: String,
    },
}

/// An advisory's document as stored, with what finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// Its id.
    pub id: String,
    /// Where it came from (`osv`, `rustsec`, `overlay`).
    pub source: String,
    /// One line.
    pub summary: Option<String>,
    /// The document as imported (its SHA-256 checked).
    pub document: String,
    /// Other ids of the same vulnerability, sorted.
    pub aliases: Vec<String>,
    /// The `(ecosystem, name)` of each package it affects, sorted.
    pub packages: Vec<(String, String)>,
}

/// An advisory's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its id.
    pub id: String,
    /// Where it came from.
    pub source: String,
    /// When it last changed.
    pub modified: String,
    /// One line.
    pub summary: Option<String>,
}

/// The index, on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Opens (and, for SQLite, creates) the database at `url` — `sqlite://PATH` or
    /// `postgres://…` — and brings its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Url`] for another scheme; [`StoreError::Database`] when it cannot be
    /// opened; [`StoreError::MigrationMismatch`] / [`StoreError::NewerDatabase`] for a schema
    /// this build cannot trust.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(StoreError::Url {
                url: url.to_owned(),
            });
        }
        let url = if is_sqlite && !url.contains('?') {
            // Created on first use; foreign keys on, so deletes cascade.
            format!("{url}?mode=rwc")
        } else {
            url.to_owned()
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 1 } else { 8 })
            // A server that is down is said so within seconds (a push is answered 503 and
            // kept by the agent), not after sqlx's default 30 s; SQLite's one connection may
            // wait longer behind a burst of writes.
            .acquire_timeout(std::time::Duration::from_secs(if is_sqlite {
                30
            } else {
                5
            }))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS stella_migrations (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, sha256 TEXT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        let recorded = sqlx::query("SELECT version, name, sha256 FROM stella_migrations")
            .fetch_all(&self.pool)
            .await?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        for row in &recorded {
            let version: i64 = row.try_get(0)?;
            let sha: String = row.try_get(2)?;
            match MIGRATIONS.iter().find(|m| m.0 == version) {
                None => return Err(StoreError::NewerDatabase { version, known }),
                Some((_, name, sql)) if Digest::sha256(sql.as_bytes()).hex() != sha => {
                    return Err(StoreError::MigrationMismatch {
                        version,
                        name: (*name).to_owned(),
                    });
                }
                Some(_) => {}
            }
        }
        for (version, name, sql) in MIGRATIONS {
            let done = recorded
                .iter()
                .any(|r| r.try_get::<i64, _>(0).is_ok_and(|v| v == version));
            if done {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            // Statements end with `;`; a migration never puts one inside a literal or comment.
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                let statement: String = statement
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n");
                if statement.trim().is_empty() {
                    continue;
                }
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO stella_migrations (version, name, sha256) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(Digest::sha256(sql.as_bytes()).hex().to_owned())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Imports `rows` in one transaction (see the crate docs for what replaces what).
    ///
    /// # Errors
    /// [`StoreError::Database`]: nothing of this import is kept.
    pub async fn import(&self, rows: &[AdvisoryRow]) -> Result<Vec<Outcome>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            let existing = sqlx::query("SELECT source, modified FROM advisories WHERE id = $1")
                .bind(&row.id)
                .fetch_optional(&mut *tx)
                .await?;
            let outcome = match existing {
                Some(e) => {
                    let (source, modified): (String, String) = (e.try_get(0)?, e.try_get(1)?);
                    if source != row.source {
                        outcomes.push(Outcome::SkippedCollision {
                            existing_source: source,
                        });
                        continue;
                    }
                    if row.modified <= modified {
                        outcomes.push(Outcome::Unchanged);
                        continue;
                    }
                    sqlx::query("DELETE FROM advisories WHERE id = $1")
                        .bind(&row.id)
                        .execute(&mut *tx)
                        .await?;
                    Outcome::Replaced
                }
                None => Outcome::Added,
            };
            insert(&mut tx, row).await?;
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The advisory `id` (or the one that has `id` as an alias), with its rows.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn get(&self, id: &str) -> Result<Option<AdvisoryRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, source, modified, withdrawn, summary, document, document_sha256 FROM advisories \
             WHERE id = $1 OR id IN (SELECT advisory_id FROM advisory_aliases WHERE alias = $2) \
             ORDER BY id LIMIT 1",
        )
        .bind(id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get(0)?;
        let document: String = row.try_get(5)?;
        let recorded: String = row.try_get(6)?;
        if Digest::sha256(document.as_bytes()).hex() != recorded {
            return Err(StoreError::Tampered { id });
        }
        let aliases =
            sqlx::query("SELECT alias FROM advisory_aliases WHERE advisory_id = $1 ORDER BY alias")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<String>, _>>()?;
        let mut packages = Vec::new();
        for p in sqlx::query(
            "SELECT idx, ecosystem, name, purl FROM advisory_packages WHERE advisory_id = $1 \
             ORDER BY idx",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?
        {
            let idx: i64 = p.try_get(0)?;
            let symbols = sqlx::query(
                "SELECT path, name, versions FROM advisory_symbols WHERE advisory_id = $1 \
                 AND package_idx = $2 ORDER BY path, name",
            )
            .bind(&id)
            .bind(idx)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|s| {
                Ok(SymbolRow {
                    path: s.try_get(0)?,
                    name: s.try_get(1)?,
                    versions: s.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            packages.push(PackageRow {
                ecosystem: p.try_get(1)?,
                name: p.try_get(2)?,
                purl: p.try_get(3)?,
                symbols,
            });
        }
        Ok(Some(AdvisoryRow {
            id,
            source: row.try_get(1)?,
            modified: row.try_get(2)?,
            withdrawn: row.try_get(3)?,
            summary: row.try_get(4)?,
            document,
            aliases,
            packages,
        }))
    }

    /// Advisories, by id; only those affecting `ecosystem` (and `package`) when given.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn list(
        &self,
        ecosystem: Option<&str>,
        package: Option<&str>,
    ) -> Result<Vec<Listed>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, source, modified, summary FROM advisories a WHERE \
             ($1 = '' OR EXISTS (SELECT 1 FROM advisory_packages p WHERE p.advisory_id = a.id \
              AND (p.ecosystem = $2 OR p.ecosystem LIKE $3) AND ($4 = '' OR p.name = $5))) \
             ORDER BY id",
        )
        .bind(ecosystem.unwrap_or_default())
        .bind(ecosystem.unwrap_or_default())
        .bind(format!("{}:%", ecosystem.unwrap_or_default()))
        .bind(package.unwrap_or_default())
        .bind(package.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Listed {
                    id: r.try_get(0)?,
                    source: r.try_get(1)?,
                    modified: r.try_get(2)?,
                    summary: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every advisory that affects a package named one of `names` (any ecosystem: the caller
    /// filters), and every advisory with a package of ecosystem `GIT` (Stella's overlay names
    /// upstream libraries by repository): their documents, checked against their recorded
    /// SHA-256, with their aliases. What an assessment needs, in a few queries.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::Tampered`] for a document changed outside Stella.
    pub async fn documents_for(&self, names: &[String]) -> Result<Vec<StoredDocument>, StoreError> {
        /// Names per query: within SQLite's and PostgreSQL's parameter limits.
        const CHUNK: usize = 500;
        let mut found: BTreeMap<String, StoredDocument> = BTreeMap::new();
        let mut packages: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        let select = "SELECT a.id, a.source, a.summary, a.document, a.document_sha256, \
                      p.ecosystem, p.name FROM advisories a JOIN advisory_packages p \
                      ON p.advisory_id = a.id WHERE ";
        let mut queries: Vec<(String, Vec<&str>)> =
            vec![(format!("{select}p.ecosystem = $1"), vec!["GIT"])];
        for chunk in names.chunks(CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            queries.push((
                format!("{select}p.name IN ({})", placeholders.join(", ")),
                chunk.iter().map(String::as_str).collect(),
            ));
        }
        for (sql, binds) in &queries {
            let mut query = sqlx::query(sql);
            for b in binds {
                query = query.bind(*b);
            }
            for row in query.fetch_all(&self.pool).await? {
                let id: String = row.try_get(0)?;
                packages
                    .entry(id.clone())
                    .or_default()
                    .insert((row.try_get(5)?, row.try_get(6)?));
                if found.contains_key(&id) {
                    continue;
                }
                let document: String = row.try_get(3)?;
                let recorded: String = row.try_get(4)?;
                if Digest::sha256(document.as_bytes()).hex() != recorded {
                    return Err(StoreError::Tampered { id });
                }
                found.insert(
                    id.clone(),
                    StoredDocument {
                        id,
                        source: row.try_get(1)?,
                        summary: row.try_get(2)?,
                        document,
                        aliases: Vec::new(),
                        packages: Vec::new(),
                    },
                );
            }
        }
        let ids: Vec<String> = found.keys().cloned().collect();
        for chunk in ids.chunks(CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT advisory_id, alias FROM advisory_aliases WHERE advisory_id IN ({}) \
                 ORDER BY advisory_id, alias",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                let id: String = row.try_get(0)?;
                if let Some(d) = found.get_mut(&id) {
                    d.aliases.push(row.try_get(1)?);
                }
            }
        }
        for (id, d) in &mut found {
            d.packages = packages
                .remove(id)
                .unwrap_or_default()
                .into_iter()
                .collect();
        }
        Ok(found.into_values().collect())
    }

    /// How many advisories are stored.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM advisories")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (waits for them).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &AdvisoryRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO advisories (id, source, modified, withdrawn, summary, document, \
         document_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.id)
    .bind(&row.source)
    .bind(&row.modified)
    .bind(row.withdrawn.clone())
    .bind(row.summary.clone())
    .bind(&row.document)
    .bind(Digest::sha256(row.document.as_bytes()).hex().to_owned())
    .execute(&mut **tx)
    .await?;
    let mut aliases = row.aliases.clone();
    aliases.sort();
    aliases.dedup();
    for alias in aliases.iter().filter(|a| **a != row.id) {
        sqlx::query("INSERT INTO advisory_aliases (advisory_id, alias) VALUES ($1, $2)")
            .bind(&row.id)
            .bind(alias)
            .execute(&mut **tx)
            .await?;
    }
    for (idx, p) in row.packages.iter().enumerate() {
        let idx = i64::try_from(idx).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO advisory_packages (advisory_id, idx, ecosystem, name, purl) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(idx)
        .bind(&p.ecosystem)
        .bind(&p.name)
        .bind(p.purl.clone())
        .execute(&mut **tx)
        .await?;
        let mut symbols = p.symbols.clone();
        symbols.sort();
        symbols.dedup_by(|a, b| a.path == b.path && a.name == b.name);
        for s in &symbols {
            sqlx::query(
                "INSERT INTO advisory_symbols (advisory_id, package_idx, path, name, versions) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.id)
            .bind(idx)
            .bind(&s.path)
            .bind(&s.name)
            .bind(&s.versions)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
