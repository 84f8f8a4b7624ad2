//! Sign → log → bundle through the embedded log as a `LogBackend`: one statement with several
//! keys, many statements with one key in batches of `EMBEDDED_BATCH`, and the bundles the
//! entries go into verify against the log's own trusted root.

use serde_json::json;
use stella_attest::{Algorithm, PrivateKey, Signer, Statement, Subject};
use stella_core::Digest;
use stella_tlog::audit::trusted_logs_of;
use stella_tlog::backend::EMBEDDED_BATCH;
use stella_tlog::sign::{sign_and_log, sign_and_log_all};
use stella_tlog::{Log, LogBackend, TlogEntry, verify_entry};

pub(crate) fn statement(i: usize) -> Statement {
    Statement::new(
        vec![Subject::new(
            format!("file-{i}"),
            &Digest::sha256(&i.to_be_bytes()),
        )],
        "https://example.com/p/v1",
        json!({"i": i}),
    )
    .expect("statement")
}

#[test]
fn one_statement_is_signed_by_every_key_and_logged_once_for_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(dir.path(), Some("sign.example")).expect("create");
    let a = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let b = PrivateKey::generate(Algorithm::Ed25519).expect("key");
    let signed = sign_and_log(&statement(0), &[&a, &b], Some(&log)).expect("signed");
    assert_eq!(signed.envelope().signatures.len(), 2);
    assert_eq!(signed.entries.len(), 1);
    assert_eq!(signed.bundle.hint.as_deref(), Some(a.key_id().as_str()));
    assert_eq!(
        signed.bundle.tlog_entries,
        vec![signed.entries[0].to_json()]
    );
    let logs = trusted_logs_of(&log).expect("trusted root");
    let verified = verify_entry(&signed.entries[0], signed.envelope(), &logs).expect("verifies");
    assert_eq!(verified.log_index, 0);
    assert_eq!(log.checkpoint().expect("checkpoint").0.size, 1);

    // Without a log (`--no-tlog`): the same envelope, no entry, nothing appended.
    let unlogged = sign_and_log(&statement(0), &[&a, &b], None).expect("signed");
    assert_eq!(unlogged.envelope(), signed.envelope());
    assert!(unlogged.entries.is_empty() && unlogged.bundle.tlog_entries.is_empty());
    assert_eq!(log.checkpoint().expect("checkpoint").0.size, 1);
}

#[test]
fn many_statements_are_logged_in_batches_in_their_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(dir.path(), Some("batch.example")).expect("create");
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let count = EMBEDDED_BATCH + 3;
    let statements: Vec<Statement> = (0..count).map(statement).collect();
    let signed =
        sign_and_log_all(&statements, &key, Some(&log as &dyn LogBackend)).expect("signed");
    assert_eq!(signed.len(), count);
    let logs = trusted_logs_of(&log).expect("trusted root");
    for (i, s) in signed.iter().enumerate() {
        let entry: &TlogEntry = &s.entries[0];
        assert_eq!(entry.log_index, i as u64, "in the order of the statements");
        let payload: serde_json::Value =
            serde_json::from_slice(&s.envelope().payload).expect("payload");
        assert_eq!(payload["predicate"]["i"], json!(i));
        verify_entry(entry, s.envelope(), &logs).expect("verifies");
    }
    // One durable append per batch: the first batch's entries are proven in its checkpoint.
    assert_eq!(signed[0].entries[0].tree_size, EMBEDDED_BATCH as u64);
    assert_eq!(signed[count - 1].entries[0].tree_size, count as u64);
}
