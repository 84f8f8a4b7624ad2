//! The store on SQLite and on a real PostgreSQL server (started by the test,
//! `stella_testkit::postgres`), the same tests on both: advisories imported, found by id and alias, listed by
//! package, replaced only by later versions, kept against another source's record of the same
//! id; a document edited in the database, or migrations that differ from this build's, are
//! refused by name.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use stella_store::{AdvisoryRow, Outcome, PackageRow, Store, StoreError, SymbolRow};

fn row(id: &str, source: &str, modified: &str) -> AdvisoryRow {
    AdvisoryRow {
        id: id.to_owned(),
        source: source.to_owned(),
        modified: modified.to_owned(),
        withdrawn: None,
        summary: Some(format!("summary of {id}")),
        document: format!("{{\"id\":\"{id}\",\"modified\":\"{modified}\"}}"),
        aliases: vec!["CVE-2022-27664".to_owned(), id.to_owned()],
        packages: vec![PackageRow {
            ecosystem: "Go".to_owned(),
            name: "stdlib".to_owned(),
            purl: None,
            symbols: vec![SymbolRow {
                path: "net/http".to_owned(),
                name: "Server.Serve".to_owned(),
                versions: String::new(),
            }],
        }],
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `test` on a fresh SQLite database.
fn on_sqlite(test: impl FnOnce(&str)) {
    let dir = tempfile::tempdir().unwrap();
    test(&format!(
        "sqlite://{}",
        dir.path().join("stella.db").display()
    ));
}

/// Runs `test` on a fresh PostgreSQL server, or records why it cannot (SKIPPED; a failure
/// under `STELLA_REQUIRE_PEERS=1`).
fn on_postgres(name: &str, test: impl FnOnce(&str)) {
    let dir = tempfile::tempdir().unwrap();
    match stella_testkit::postgres::Server::start(dir.path()) {
        Ok(server) => test(&server.url),
        Err(why) => stella_testkit::skip(name, &why),
    }
}

/// Runs `sql` on the database behind Stella's back.
fn tamper(url: &str, sql: &str) {
    runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

#[test]
fn advisories_import_replace_and_collide_by_the_documented_rules() {
    on_sqlite(import_replace_and_collide);
}

#[test]
fn on_postgresql_advisories_import_replace_and_collide_by_the_documented_rules() {
    on_postgres(
        "on_postgresql_advisories_import_replace_and_collide_by_the_documented_rules",
        import_replace_and_collide,
    );
}

#[test]
fn a_database_changed_outside_stella_is_refused_by_name() {
    on_sqlite(changed_outside_stella);
}

#[test]
fn on_postgresql_a_database_changed_outside_stella_is_refused_by_name() {
    on_postgres(
        "on_postgresql_a_database_changed_outside_stella_is_refused_by_name",
        changed_outside_stella,
    );
}

fn import_replace_and_collide(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        assert_eq!(
            store
                .import(&[row("GO-2022-0969", "osv", "2023-01-01T00:00:00Z")])
                .await
                .unwrap(),
            [Outcome::Added]
        );
        // Found by id and by alias, with its package and symbol.
        let got = store.get("CVE-2022-27664").await.unwrap().unwrap();
        assert_eq!(got.id, "GO-2022-0969");
        assert_eq!(got.aliases, ["CVE-2022-27664"]);
        assert_eq!(got.packages[0].symbols[0].name, "Server.Serve");
        // Same or older: kept. Later: replaced.
        let outcomes = store
            .import(&[
                row("GO-2022-0969", "osv", "2023-01-01T00:00:00Z"),
                row("GO-2022-0969", "osv", "2022-01-01T00:00:00Z"),
            ])
            .await
            .unwrap();
        assert_eq!(outcomes, [Outcome::Unchanged, Outcome::Unchanged]);
        let mut newer = row("GO-2022-0969", "osv", "2024-01-01T00:00:00Z");
        newer.summary = Some("revised".to_owned());
        assert_eq!(store.import(&[newer]).await.unwrap(), [Outcome::Replaced]);
        assert_eq!(
            store
                .get("GO-2022-0969")
                .await
                .unwrap()
                .unwrap()
                .summary
                .as_deref(),
            Some("revised")
        );
        // Another source's record of the id: skipped by name.
        assert_eq!(
            store
                .import(&[row("GO-2022-0969", "overlay", "2030-01-01T00:00:00Z")])
                .await
                .unwrap(),
            [Outcome::SkippedCollision {
                existing_source: "osv".to_owned()
            }]
        );
        store
            .import(&[row("RUSTSEC-2019-0033", "rustsec", "2019-11-16")])
            .await
            .unwrap();
        let go: Vec<String> = store
            .list(Some("Go"), Some("stdlib"))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(go, ["GO-2022-0969", "RUSTSEC-2019-0033"]);
        assert!(
            store
                .list(Some("crates.io"), None)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.count().await.unwrap(), 2);
        store.close().await;
        // Reopened: the same rows, no migration run twice.
        let store = Store::open(url).await.unwrap();
        assert_eq!(store.count().await.unwrap(), 2);
        store.close().await;
    });
}

fn changed_outside_stella(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        store.close().await;
    });
    // A document edited behind Stella's back is refused when read.
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        store
            .import(&[row("GO-X", "osv", "2024-01-01T00:00:00Z")])
            .await
            .unwrap();
        store.close().await;
    });
    tamper(
        url,
        "UPDATE advisories SET document = '{\"id\":\"GO-X\",\"affected\":[]}' WHERE id = 'GO-X'",
    );
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        assert!(matches!(
            store.get("GO-X").await,
            Err(StoreError::Tampered { id }) if id == "GO-X"
        ));
        store.close().await;
    });
    tamper(
        url,
        "UPDATE stella_migrations SET sha256 = 'edited' WHERE version = 1",
    );
    runtime().block_on(async {
        match Store::open(url).await {
            Err(StoreError::MigrationMismatch { version: 1, name }) => {
                assert_eq!(name, "0001_advisories.sql");
            }
            other => panic!("{other:?}"),
        }
    });
    tamper(url, "DELETE FROM stella_migrations");
    tamper(
        url,
        "INSERT INTO stella_migrations VALUES (1, '0001_advisories.sql', 'x')",
    );
    tamper(
        url,
        "INSERT INTO stella_migrations VALUES (99, '0099_future.sql', 'y')",
    );
    runtime().block_on(async {
        assert!(matches!(
            Store::open(url).await,
            Err(StoreError::NewerDatabase { version: 99, .. }
                | StoreError::MigrationMismatch { .. })
        ));
    });
}

#[test]
fn another_scheme_is_refused_by_name() {
    runtime().block_on(async {
        assert!(matches!(
            Store::open("mysql://x").await,
            Err(StoreError::Url { .. })
        ));
    });
}

#[test]
fn documents_for_packages_come_in_one_pass_with_their_aliases() {
    on_sqlite(documents_for_packages);
}

#[test]
fn on_postgresql_documents_for_packages_come_in_one_pass_with_their_aliases() {
    on_postgres(
        "on_postgresql_documents_for_packages_come_in_one_pass_with_their_aliases",
        documents_for_packages,
    );
}

fn documents_for_packages(url: &str) {
    let mut overlay = row("STELLA-CVE-2022-37434", "overlay", "2024-01-01T00:00:00Z");
    overlay.aliases = vec!["CVE-2022-37434".to_owned()];
    overlay.packages[0].ecosystem = "GIT".to_owned();
    overlay.packages[0].name = "https://github.com/madler/zlib".to_owned();
    let mut other = row("RUSTSEC-2021-0003", "rustsec", "2021-01-01");
    other.aliases = Vec::new();
    other.packages[0].ecosystem = "crates.io".to_owned();
    other.packages[0].name = "smallvec".to_owned();
    // Many names, more than one query's worth.
    let names: Vec<String> = (0..1200)
        .map(|i| format!("pkg{i}"))
        .chain(["stdlib".to_owned()])
        .collect();
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        store
            .import(&[
                row("GO-2022-0969", "osv", "2024-01-01T00:00:00Z"),
                overlay,
                other,
            ])
            .await
            .unwrap();
        let docs = store.documents_for(&names).await.unwrap();
        let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            ["GO-2022-0969", "STELLA-CVE-2022-37434"],
            "the overlay always"
        );
        assert_eq!(docs[0].aliases, ["CVE-2022-27664"]);
        assert_eq!(docs[0].packages, [("Go".to_owned(), "stdlib".to_owned())]);
        assert!(docs[0].document.contains("GO-2022-0969"));
        store.close().await;
    });
    tamper(
        url,
        "UPDATE advisories SET document = '{}' WHERE id = 'GO-2022-0969'",
    );
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        assert!(matches!(
            store.documents_for(&names).await,
            Err(StoreError::Tampered { id }) if id == "GO-2022-0969"
        ));
        store.close().await;
    });
}

mod fleet;
