//! The fleet's state on SQLite and on PostgreSQL, the same tests on both: tokens by scope and
//! revocation, batches counted once (a retried push adds nothing, the same id with another body
//! is refused, concurrent replicas pushing the same batches count each once), the hot-symbol
//! index summed and filtered, verdicts whose changes make the image's timeline, and a database
//! of the previous schema brought up to date with its advisories kept.

use stella_store::fleet::ImageComponent;
use stella_store::fleet::{
    Batch, HotQuery, ImageBinary, Ingested, Observation, Scope, TimelineEntry, VerdictChange,
    VerdictRow, WatchRow,
};
use stella_store::{Store, StoreError};

use super::{on_postgres, on_sqlite, row, runtime, tamper};

const T0: &str = "2026-12-01T00:00:00Z";
const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const TOKEN_A: &str = "stella_ingest_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_R: &str = "stella_read_rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr";

fn obs(
    function: &str,
    window_start: i64,
    self_samples: u64,
    total: u64,
    calls: u64,
) -> Observation {
    Observation {
        image: IMAGE.to_owned(),
        build_id: "b0b0".to_owned(),
        function: function.to_owned(),
        window_start,
        self_samples,
        total_samples: total,
        calls,
        first_seen: format!("2026-12-01T00:00:{:02}Z", window_start % 60),
        last_seen: format!("2026-12-01T00:01:{:02}Z", window_start % 60),
    }
}

fn batch(id: &str, agent: &str, body: &str, observations: Vec<Observation>) -> Batch {
    Batch {
        id: id.to_owned(),
        agent: agent.to_owned(),
        body_sha256: body.to_owned(),
        received: T0.to_owned(),
        observations,
    }
}

macro_rules! on_both {
    ($sqlite:ident, $postgres:ident, $body:ident) => {
        #[test]
        fn $sqlite() {
            on_sqlite($body);
        }
        #[test]
        fn $postgres() {
            on_postgres(stringify!($postgres), $body);
        }
    };
}

on_both!(
    the_watch_list_is_replaced_per_image_and_images_list_their_binaries,
    on_postgresql_the_watch_list_is_replaced_per_image_and_images_list_their_binaries,
    watch_and_images
);
fn watch_and_images(url: &str) {
    const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let watched = |image: &str, function: &str, start: u64| WatchRow {
        image: image.to_owned(),
        build_id: "b0b0".to_owned(),
        function: function.to_owned(),
        sha256: "ab".repeat(32),
        path: "/usr/lib/libz.so.1".to_owned(),
        demangled: None,
        symbol: function.to_owned(),
        start_vaddr: start,
        vulnerabilities: "CVE-1,CVE-2".to_owned(),
        decided: T0.to_owned(),
    };
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        store
            .set_watched(
                IMAGE,
                &[
                    watched(IMAGE, "inflate", 0x10),
                    watched(IMAGE, "crc32", 0x20),
                ],
            )
            .await
            .unwrap();
        store
            .set_watched(OTHER, &[watched(OTHER, "inflate", 0x10)])
            .await
            .unwrap();
        let all = store.watched().await.unwrap();
        let names: Vec<(&str, &str)> = all
            .iter()
            .map(|w| (&w.image[..10], w.function.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("sha256:111", "crc32"),
                ("sha256:111", "inflate"),
                ("sha256:222", "inflate")
            ]
        );
        assert_eq!(all[0].start_vaddr, 0x20);
        // A new assessment replaces the image's list whole.
        store
            .set_watched(IMAGE, &[watched(IMAGE, "inflate", 0x10)])
            .await
            .unwrap();
        assert_eq!(store.watched().await.unwrap().len(), 2);
        store.set_watched(IMAGE, &[]).await.unwrap();
        assert_eq!(store.watched().await.unwrap().len(), 1);
        // Refused: a row about another image, an address past i64 (nothing kept).
        assert!(matches!(
            store.set_watched(IMAGE, &[watched(OTHER, "x", 1)]).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store
                .set_watched(OTHER, &[watched(OTHER, "x", u64::MAX)])
                .await,
            Err(StoreError::Invalid { .. })
        ));
        assert_eq!(store.watched().await.unwrap().len(), 1);

        let binary = |b: &str, p: &str| ImageBinary {
            build_id: b.to_owned(),
            path: p.to_owned(),
            funcproof: Some(format!("sha256:{b}")),
        };
        store
            .record_image(
                OTHER,
                Some("r/app@x"),
                &[binary("c1", "/b"), binary("a0", "/a")],
                T0,
            )
            .await
            .unwrap();
        store
            .record_image(IMAGE, None, &[binary("a0", "/a")], "2026-12-02T00:00:00Z")
            .await
            .unwrap();
        let images = store.images().await.unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].digest, IMAGE);
        assert_eq!(images[0].reference, None);
        assert_eq!(images[1].reference.as_deref(), Some("r/app@x"));
        let paths: Vec<&str> = images[1].binaries.iter().map(|b| b.path.as_str()).collect();
        assert_eq!(paths, ["/a", "/b"]);

        let component = |r: &str, v: Option<&str>| ImageComponent {
            bom_ref: r.to_owned(),
            name: r.to_owned(),
            version: v.map(str::to_owned),
            purl: Some(format!("pkg:generic/{r}")),
        };
        store
            .set_components(
                IMAGE,
                &[component("zlib", Some("1.3")), component("ssl", None)],
            )
            .await
            .unwrap();
        store
            .set_components(IMAGE, &[component("zlib", Some("1.3.1"))])
            .await
            .unwrap();
        assert_eq!(
            store.components(IMAGE).await.unwrap(),
            [component("zlib", Some("1.3.1"))]
        );
        // An image never recorded has no components to replace.
        let unknown = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
        if url.starts_with("postgres") {
            assert!(
                store
                    .set_components(unknown, &[component("z", None)])
                    .await
                    .is_err()
            );
        }
        store.close().await;
    });
}

on_both!(
    tokens_have_one_scope_and_revoked_ones_are_none,
    on_postgresql_tokens_have_one_scope_and_revoked_ones_are_none,
    tokens
);
fn tokens(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        assert!(matches!(
            store.add_token(TOKEN_A, Scope::Ingest, Some("node-a"), T0).await,
            Err(StoreError::UnknownAgent { name }) if name == "node-a"
        ));
        store.register_agent("node-a", "host-a", T0).await.unwrap();
        store
            .add_token(TOKEN_A, Scope::Ingest, Some("node-a"), T0)
            .await
            .unwrap();
        store
            .add_token(TOKEN_R, Scope::Read, None, T0)
            .await
            .unwrap();
        for (token, scope, agent) in [
            (TOKEN_A, Scope::Read, Some("node-a")),
            (TOKEN_R, Scope::Ingest, None),
            ("short", Scope::Read, None),
        ] {
            assert!(matches!(
                store.add_token(token, scope, agent, T0).await,
                Err(StoreError::Invalid { .. })
            ));
        }
        // The same token twice is refused by the database, not silently re-scoped.
        assert!(
            store
                .add_token(TOKEN_R, Scope::Read, None, T0)
                .await
                .is_err()
        );

        let ingest = store.authorize(TOKEN_A).await.unwrap().unwrap();
        assert_eq!(
            (ingest.scope, ingest.agent.as_deref()),
            (Scope::Ingest, Some("node-a"))
        );
        let read = store.authorize(TOKEN_R).await.unwrap().unwrap();
        assert_eq!((read.scope, read.agent), (Scope::Read, None));
        assert_eq!(
            store
                .authorize("stella_read_unknown_unknown_unknown_")
                .await
                .unwrap(),
            None
        );

        assert!(store.revoke_token(TOKEN_A, T0).await.unwrap());
        assert!(!store.revoke_token(TOKEN_A, T0).await.unwrap());
        assert_eq!(store.authorize(TOKEN_A).await.unwrap(), None);
        store.close().await;
    });
    // Tokens are kept as digests: the text is nowhere in the database.
    runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens WHERE sha256 LIKE 'stella_%' OR sha256 = $1",
        )
        .bind(TOKEN_R)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 0);
        pool.close().await;
    });
}

on_both!(
    a_batch_counts_once_and_its_id_cannot_carry_another_body,
    on_postgresql_a_batch_counts_once_and_its_id_cannot_carry_another_body,
    batches_count_once
);
fn batches_count_once(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        assert!(matches!(
            store.ingest(&batch("b1", "ghost", "aa", vec![])).await,
            Err(StoreError::UnknownAgent { .. })
        ));
        store.register_agent("node-a", "host-a", T0).await.unwrap();
        store.register_agent("node-b", "host-b", T0).await.unwrap();
        let first = batch(
            "b1",
            "node-a",
            "aa",
            vec![obs("parse", 60, 5, 7, 0), obs("main", 60, 0, 7, 0)],
        );
        assert_eq!(
            store.ingest(&first).await.unwrap(),
            Ingested::Counted { observations: 2 }
        );
        assert_eq!(
            store.ingest(&first).await.unwrap(),
            Ingested::AlreadyCounted
        );
        let mut other = first.clone();
        other.body_sha256 = "bb".to_owned();
        assert!(matches!(
            store.ingest(&other).await,
            Err(StoreError::BatchConflict { batch_id }) if batch_id == "b1"
        ));
        let mut stolen = first.clone();
        stolen.agent = "node-b".to_owned();
        assert!(matches!(
            store.ingest(&stolen).await,
            Err(StoreError::BatchConflict { .. })
        ));
        // A refused batch left nothing behind; counts it could not hold are refused whole.
        let mut huge = batch("b2", "node-a", "cc", vec![obs("parse", 60, 1, 1, 0)]);
        huge.observations.push(obs("main", 60, u64::MAX, 0, 0));
        assert!(matches!(
            store.ingest(&huge).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store.ingest(&batch("", "node-a", "dd", vec![])).await,
            Err(StoreError::Invalid { .. })
        ));

        store
            .ingest(&batch(
                "b3",
                "node-b",
                "ee",
                vec![obs("parse", 60, 2, 3, 4)],
            ))
            .await
            .unwrap();
        store
            .ingest(&batch(
                "b4",
                "node-a",
                "ff",
                vec![obs("parse", 120, 1, 1, 0)],
            ))
            .await
            .unwrap();
        let hot = store.hot_symbols(&HotQuery::default()).await.unwrap();
        let summary: Vec<_> = hot
            .iter()
            .map(|h| {
                (
                    h.function.as_str(),
                    h.self_samples,
                    h.total_samples,
                    h.calls,
                    h.agents.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "parse",
                    8,
                    11,
                    4,
                    vec!["node-a".to_owned(), "node-b".to_owned()]
                ),
                ("main", 0, 7, 0, vec!["node-a".to_owned()]),
            ]
        );
        assert_eq!(hot[0].first_seen, "2026-12-01T00:00:00Z");
        assert_eq!(hot[0].last_seen, "2026-12-01T00:01:00Z");
        let windowed = store
            .hot_symbols(&HotQuery {
                since: Some(100),
                functions: vec!["parse".to_owned(), "absent".to_owned()],
                ..HotQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(windowed.len(), 1);
        assert_eq!(
            (windowed[0].total_samples, windowed[0].agents.len()),
            (1, 1)
        );
        let elsewhere = store
            .hot_symbols(&HotQuery {
                image: Some("sha256:other".to_owned()),
                ..HotQuery::default()
            })
            .await
            .unwrap();
        assert!(elsewhere.is_empty());
        store.close().await;
    });
}

on_both!(
    replicas_pushing_the_same_batches_at_once_count_each_once,
    on_postgresql_replicas_pushing_the_same_batches_at_once_count_each_once,
    concurrent_replicas
);
fn concurrent_replicas(url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Two stores on one database: two servers.
        let a = Store::open(url).await.unwrap();
        let b = Store::open(url).await.unwrap();
        for n in 0..4 {
            a.register_agent(&format!("node-{n}"), "host", T0)
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for i in 0..40u64 {
            for store in [a.clone(), b.clone()] {
                // Every batch goes to both replicas (a retry that raced the first attempt).
                let agent = format!("node-{}", i % 4);
                let body = format!("body-{i}");
                tasks.push(tokio::spawn(async move {
                    let pushed = batch(
                        &format!("batch-{i}"),
                        &agent,
                        &body,
                        vec![obs("parse", 60, 1, i + 1, 0), obs("main", 60, 0, i + 1, 0)],
                    );
                    store.ingest(&pushed).await.unwrap()
                }));
            }
        }
        let mut counted = 0;
        for t in tasks {
            if let Ingested::Counted { .. } = t.await.unwrap() {
                counted += 1;
            }
        }
        assert_eq!(counted, 40, "each batch counted by exactly one replica");
        let hot = a.hot_symbols(&HotQuery::default()).await.unwrap();
        let expected: i64 = (1..=40).sum();
        assert_eq!(hot.len(), 2);
        assert!(hot.iter().all(|h| h.total_samples == expected), "{hot:?}");
        assert_eq!(
            hot.iter()
                .find(|h| h.function == "parse")
                .unwrap()
                .self_samples,
            40
        );
        a.close().await;
        b.close().await;
    });
}

on_both!(
    verdict_changes_make_the_timeline,
    on_postgresql_verdict_changes_make_the_timeline,
    verdicts_and_timeline
);
fn verdicts_and_timeline(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        store
            .record_image(
                IMAGE,
                Some("registry.example/app:1"),
                &[
                    ImageBinary {
                        build_id: "b0b0".to_owned(),
                        path: "/usr/bin/app".to_owned(),
                        funcproof: Some("sha256:ab".to_owned()),
                    },
                    ImageBinary {
                        build_id: "c1c1".to_owned(),
                        path: "/usr/lib/libx.so".to_owned(),
                        funcproof: None,
                    },
                ],
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            store.images_with("b0b0").await.unwrap(),
            vec![IMAGE.to_owned()]
        );
        assert!(store.images_with("ffff").await.unwrap().is_empty());

        let mut v = VerdictRow {
            image: IMAGE.to_owned(),
            vulnerability: "CVE-2026-0001".to_owned(),
            build_id: "b0b0".to_owned(),
            status: "not_affected".to_owned(),
            justification: Some("vulnerable_code_not_in_execute_path".to_owned()),
            evidence_sha256: "11".to_owned(),
            decided: "2026-12-01T00:00:00Z".to_owned(),
        };
        assert_eq!(
            store.record_verdict(&v).await.unwrap(),
            VerdictChange::First
        );
        let mut again = v.clone();
        again.decided = "2026-12-01T01:00:00Z".to_owned();
        again.evidence_sha256 = "12".to_owned();
        assert_eq!(
            store.record_verdict(&again).await.unwrap(),
            VerdictChange::Unchanged
        );
        let first = v.clone();
        v.status = "affected".to_owned();
        v.justification = None;
        v.evidence_sha256 = "22".to_owned();
        v.decided = "2026-12-02T00:00:00Z".to_owned();
        assert_eq!(
            store.record_verdict(&v).await.unwrap(),
            VerdictChange::Changed(Box::new(first))
        );
        assert_eq!(store.verdicts(IMAGE).await.unwrap(), vec![v.clone()]);

        let attached = TimelineEntry {
            image: IMAGE.to_owned(),
            at: "2026-12-01T12:00:00Z".to_owned(),
            kind: "attached".to_owned(),
            summary: "signed VEX attached".to_owned(),
            document: Some("{}".to_owned()),
        };
        assert!(store.add_timeline(&attached).await.unwrap());
        assert!(!store.add_timeline(&attached).await.unwrap());
        let timeline = store.timeline(IMAGE).await.unwrap();
        let kinds: Vec<_> = timeline
            .iter()
            .map(|e| (e.at.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("2026-12-01T00:00:00Z", "verdict"),
                ("2026-12-01T12:00:00Z", "attached"),
                ("2026-12-02T00:00:00Z", "verdict"),
            ]
        );
        assert!(
            timeline[2].summary.contains("not_affected -> affected"),
            "{}",
            timeline[2].summary
        );
        store.close().await;
    });
}

on_both!(
    a_database_of_the_advisory_schema_is_brought_up_to_date,
    on_postgresql_a_database_of_the_advisory_schema_is_brought_up_to_date,
    upgrade
);
fn upgrade(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        store.import(&[row("GO-U", "osv", T0)]).await.unwrap();
        store.close().await;
    });
    // As a build that knew only the advisories left it.
    for table in [
        "image_components",
        "watched",
        "timeline",
        "verdicts",
        "image_binaries",
        "images",
        "observations",
        "ingest_batches",
        "tokens",
        "agents",
    ] {
        tamper(url, &format!("DROP TABLE {table}"));
    }
    tamper(url, "DELETE FROM stella_migrations WHERE version >= 2");
    runtime().block_on(async {
        let store = Store::open(url).await.unwrap();
        assert!(store.get("GO-U").await.unwrap().is_some());
        store.register_agent("node-a", "host-a", T0).await.unwrap();
        assert!(store.watched().await.unwrap().is_empty());
        store.close().await;
    });
}
