//! A bundle's log entries checked as an auditor does (`audit::check_entries`): the typed
//! answer for a verified entry, an entry of another envelope, a log that lost or replaced the
//! entry, and an unproven consistency that fails or warns; and the exit codes the kinds of
//! log errors earn (one table, not four rules).

use std::path::Path;

use stella_attest::{Algorithm, PrivateKey};
use stella_core::Kinded as _;
use stella_tlog::audit::{EntryCheck, EntryFailure, Unproven, check_entries, trusted_logs_of};
use stella_tlog::sign::sign_and_log;
use stella_tlog::witness::Witness;
use stella_tlog::{Log, ProofError, TlogError, TrustedLog};

use crate::signing::statement;

fn check<'a>(
    logs: &'a [TrustedLog],
    witness: &'a Witness,
    local: Option<&'a Log>,
    unproven: Unproven,
) -> EntryCheck<'a> {
    EntryCheck {
        logs,
        witness,
        local,
        remote: None,
        unproven,
    }
}

#[test]
fn entries_verify_and_every_failure_is_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(&dir.path().join("log"), Some("audit.example")).expect("create");
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let first = sign_and_log(&statement(1), &[&key], Some(&log)).expect("signed");
    let second = sign_and_log(&statement(2), &[&key], Some(&log)).expect("signed");
    let logs = trusted_logs_of(&log).expect("trusted root");
    let witness = Witness::new(&dir.path().join("witness"));
    let ctx = check(&logs, &witness, Some(&log), Unproven::Fails);

    let verified = check_entries(&second.bundle.tlog_entries, second.envelope(), &ctx)
        .expect("check runs")
        .expect("verified");
    assert_eq!(verified.entries.len(), 1);
    assert_eq!(verified.entries[0].log_index, 1);
    assert!(verified.warnings.is_empty());

    // The first bundle's entries for the second envelope: not about it.
    let failure = check_entries(&first.bundle.tlog_entries, second.envelope(), &ctx)
        .expect("check runs")
        .expect_err("another envelope's entry");
    assert!(
        matches!(
            &failure,
            EntryFailure::Invalid {
                entry: 0,
                source: TlogError::Binding(_)
            }
        ),
        "{failure:?}"
    );

    // An entry whose index was rewritten no longer agrees with its own inclusion proof.
    let mut moved = second.bundle.tlog_entries.clone();
    moved[0]["logIndex"] = serde_json::json!("5");
    let failure = check_entries(&moved, second.envelope(), &ctx)
        .expect("check runs")
        .expect_err("index moved");
    assert!(
        matches!(failure, EntryFailure::Invalid { entry: 0, .. }),
        "{failure:?}"
    );
}

#[test]
fn an_unproven_consistency_fails_or_warns_as_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::create(&dir.path().join("log"), Some("unproven.example")).expect("create");
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let first = sign_and_log(&statement(1), &[&key], Some(&log)).expect("signed");
    let second = sign_and_log(&statement(2), &[&key], Some(&log)).expect("signed");
    let logs = trusted_logs_of(&log).expect("trusted root");
    let witness = Witness::new(&dir.path().join("witness"));
    // Seen: the checkpoint of 2 entries. Then offline (no local log, no tiles), the bundle of
    // the checkpoint of 1 entry cannot be proven a prefix of it.
    check_entries(
        &second.bundle.tlog_entries,
        second.envelope(),
        &check(&logs, &witness, None, Unproven::Fails),
    )
    .expect("check runs")
    .expect("first sight");
    let failure = check_entries(
        &first.bundle.tlog_entries,
        first.envelope(),
        &check(&logs, &witness, None, Unproven::Fails),
    )
    .expect("check runs")
    .expect_err("unproven fails");
    match &failure {
        EntryFailure::Unproven {
            entry: 0,
            remembered: 2,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(failure.to_string().contains("was not proven"), "{failure}");
    let warned = check_entries(
        &first.bundle.tlog_entries,
        first.envelope(),
        &check(&logs, &witness, None, Unproven::Warns),
    )
    .expect("check runs")
    .expect("unproven warns");
    assert_eq!(warned.entries.len(), 1);
    assert!(matches!(
        warned.warnings.as_slice(),
        [EntryFailure::Unproven { .. }]
    ));
}

#[test]
fn a_log_error_earns_its_exit_code_from_its_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A missing log: bad input (2).
    let missing = Log::open(&dir.path().join("none")).expect_err("no log");
    assert!(matches!(missing, TlogError::NoLog { .. }));
    assert_eq!(missing.kind().exit_code(), 2);
    // A damaged log: bad input naming the file (2).
    let damaged_dir = dir.path().join("damaged");
    Log::create(&damaged_dir, None).expect("create");
    std::fs::remove_file(damaged_dir.join("log.key")).expect("remove key");
    let damaged = Log::open(&damaged_dir).expect_err("damaged");
    assert!(matches!(damaged, TlogError::Damaged { .. }));
    assert_eq!(damaged.kind().exit_code(), 2);
    // The disk: the environment (3), with the path and the system's own error as its source.
    let io = TlogError::io(
        Path::new("/x"),
        std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    );
    assert_eq!(io.kind().exit_code(), 3);
    assert!(std::error::Error::source(&io).is_some());
    // An index past the end is bad input; a proof that does not hold is a clean "no".
    let log = Log::create(&dir.path().join("log"), None).expect("create");
    let past = log.entry(3).expect_err("past the end");
    assert!(matches!(
        past,
        TlogError::Proof(ProofError::PastEnd { index: 3, size: 0 })
    ));
    assert_eq!(past.kind().exit_code(), 2);
    let wrong = stella_tlog::merkle::verify_inclusion(&[0; 32], 0, 1, &[], &[1; 32])
        .expect_err("another root");
    assert_eq!(wrong.kind().exit_code(), 1);
}
