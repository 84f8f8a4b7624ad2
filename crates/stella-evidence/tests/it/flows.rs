//! Scan a directory holding one compiled binary into a temporary layout with an embedded log,
//! then replay it: verified, symbols present and absent, a changed binary named by function,
//! progress reported per phase, and the same SBOM wherever the store lies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use stella_attest::{Algorithm, PrivateKey, Signer as _};
use stella_evidence::progress::{Event, Phase, Progress, Silent};
use stella_evidence::scan::{self, PackRequest, ScanOptions, ScanReport, Target};
use stella_evidence::verify::{self, ReasonKind, Replay, Status, TrustedKey, Verifier};
use stella_oci::{LayoutStore, Reference};
use stella_tlog::Log;
use stella_tlog::audit::{EntryCheck, Unproven};
use stella_tlog::witness::Witness;

const SOURCE: &str = r#"
#include <stdio.h>
int vuln_parse(const char *s) { int n = 0; while (*s) n += *s++; return n; }
int main(int argc, char **argv) { printf("%d\n", vuln_parse(argc > 1 ? argv[1] : "x")); return 0; }
"#;

/// A directory `app` with `bin/hello` compiled from [`SOURCE`] (with `body` as vuln_parse's
/// loop when given) and a text file.
fn app(dir: &Path, body: Option<&str>) -> PathBuf {
    let app = dir.join("app");
    std::fs::create_dir_all(app.join("bin")).expect("mkdir");
    let source = match body {
        Some(b) => SOURCE.replace("n += *s++", b),
        None => SOURCE.to_owned(),
    };
    let c = dir.join(format!("hello-{}.c", body.is_some()));
    std::fs::write(&c, source).expect("source");
    let out = dir.join(format!("hello-{}", body.is_some()));
    let status = Command::new("cc")
        .args(["-O1", "-g0", "-o"])
        .arg(&out)
        .arg(&c)
        .status()
        .expect("cc runs (gcc is on every machine the tests run on)");
    assert!(status.success(), "cc failed");
    std::fs::copy(&out, app.join("bin/hello")).expect("copy");
    std::fs::write(app.join("README"), "hello\n").expect("readme");
    app
}

/// Records the phases that started and finished, in order, and for each phase its announced
/// total and the units reported done.
#[derive(Default)]
struct Recorder {
    phases: Mutex<Vec<(Phase, bool)>>,
    counts: Mutex<std::collections::BTreeMap<Phase, (Option<u64>, u64)>>,
}

impl Progress for Recorder {
    fn event(&self, event: Event) {
        let mut seen = self.phases.lock().expect("lock");
        let mut counts = self.counts.lock().expect("lock");
        match event {
            Event::Start { phase, total, .. } => {
                seen.push((phase, true));
                counts.insert(phase, (total, 0));
            }
            Event::Finish { phase } => seen.push((phase, false)),
            Event::Advance { phase, done, .. } => counts.entry(phase).or_default().1 += done,
        }
    }
}

struct Scanned {
    target: Target,
    report: ScanReport,
    log: Log,
    key: PrivateKey,
    home: PathBuf,
}

fn scan_into(
    dir: &Path,
    app: &Path,
    store_dir: &Path,
    key: PrivateKey,
    progress: &dyn Progress,
) -> Scanned {
    let home = dir.join("home");
    let log = Log::open_or_create(&home.join("log"), Some("log.example")).expect("log");
    let reference =
        Reference::parse(&format!("oci-layout:{}:app", store_dir.display())).expect("reference");
    let store = LayoutStore::open(store_dir).expect("layout");
    let request = PackRequest {
        dir: app,
        reference: &reference,
        home: &home,
        key: None,
        source_date_epoch: Some(1_700_000_000),
    };
    let target = scan::pack_directory(&request, Box::new(store), progress).expect("packed");
    let options = ScanOptions {
        key: &key,
        log: &log,
        jobs: Some(1),
        max_binary_size: 1 << 30,
        timestamp: None,
        source_date_epoch: Some(1_700_000_000),
        external_sbom: None,
        records_dir: None,
    };
    let report = scan::run(&target, &options, progress).expect("scanned");
    Scanned {
        target,
        report,
        log,
        key,
        home,
    }
}

fn examine(s: &Scanned, rootfs: Option<&Path>) -> verify::Examined {
    let trusted =
        stella_tlog::trusted_logs(&s.log.trusted_root(&s.log.created())).expect("trusted root");
    let keys = [TrustedKey {
        name: "test".to_owned(),
        key: s.key.public_key().clone(),
    }];
    let tmp = s.home.join("tmp");
    let witness = Witness::new(&s.home.join("witness"));
    let verifier = Verifier {
        store: s.target.store.as_ref(),
        image: &s.target.image,
        keys: &keys,
        log: Some(EntryCheck {
            logs: &trusted,
            witness: &witness,
            local: Some(&s.log),
            remote: None,
            unproven: Unproven::Fails,
        }),
        tmp_dir: &tmp,
    };
    verify::examine(
        &verifier,
        "app",
        None,
        &Replay::Full {
            rootfs,
            jobs: Some(1),
        },
        &Silent,
    )
    .expect("examined")
}

#[test]
fn a_scanned_directory_verifies_and_answers_presence_and_absence() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(dir.path(), None);
    let recorder = Recorder::default();
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let s = scan_into(dir.path(), &app, &dir.path().join("oci"), key, &recorder);
    assert_eq!(s.report.binaries, 1, "{:?}", s.report);
    assert_eq!(
        s.report.signed, 4,
        "the SBOM (Stella's wrapper and CycloneDX's predicate), one FuncProof, the record"
    );
    assert_eq!(s.report.logged, 4);
    let phases = recorder.phases.lock().expect("lock").clone();
    for phase in [
        Phase::Pack,
        Phase::Walk,
        Phase::Prove,
        Phase::Sbom,
        Phase::Sign,
        Phase::Attach,
    ] {
        let start = phases.iter().position(|p| *p == (phase, true));
        let end = phases.iter().position(|p| *p == (phase, false));
        assert!(
            matches!((start, end), (Some(a), Some(b)) if a < b),
            "{phase:?} started and finished: {phases:?}"
        );
    }
    // A phase that announces a total reaches it exactly: a bar never ends at 4/3.
    for (phase, (total, done)) in recorder.counts.lock().expect("lock").iter() {
        if let Some(total) = total {
            assert_eq!(done, total, "{phase:?}");
        }
    }

    let examined = examine(&s, None);
    assert!(
        examined.verified(),
        "{:#?}",
        examined
            .verdicts
            .iter()
            .filter(|v| !v.ok)
            .collect::<Vec<_>>()
    );
    assert_eq!(examined.proven.len(), 1);
    let present = examined.symbol("vuln_parse").expect("query");
    assert!(present.present, "{present:?}");
    let hit = &present.found[0];
    assert_eq!(hit.binary, "/bin/hello");
    assert!(
        hit.start.starts_with("0x") && hit.start < hit.end,
        "{hit:?}"
    );
    assert_eq!(hit.log.len(), 1, "the FuncProof's log entry is cited");
    let absent = examined.symbol("no_such_function").expect("query");
    assert!(!absent.present);
    assert_eq!(
        absent.absent_from.len(),
        1,
        "the one FuncProof shows absence"
    );
    assert!(absent.absent_from[0].named > 0, "{absent:?}");
}

#[test]
fn a_binary_that_differs_from_its_funcproof_is_named_by_function() {
    let dir = tempfile::tempdir().expect("tmp");
    let app_dir = app(dir.path(), None);
    let key = PrivateKey::generate(Algorithm::Ed25519).expect("key");
    let s = scan_into(dir.path(), &app_dir, &dir.path().join("oci"), key, &Silent);
    // The deployed tree: the same program built with another body for vuln_parse.
    let other = tempfile::tempdir().expect("tmp");
    let deployed = app(other.path(), Some("n ^= *s++"));
    let examined = examine(&s, Some(&deployed));
    assert!(!examined.verified());
    let failed: Vec<_> = examined
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let reason = &failed[0].reasons[0];
    assert_eq!(reason.kind, ReasonKind::Binary, "{reason:?}");
    assert_eq!(reason.path.as_deref(), Some("/bin/hello"));
    assert!(
        reason
            .functions
            .iter()
            .any(|f| f.starts_with("vuln_parse ")),
        "{reason:?}"
    );
}

#[test]
fn the_same_directory_gives_the_same_sbom_wherever_the_store_lies() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = app(dir.path(), None);
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let der = key.pkcs8_der().to_vec();
    let first_dir = dir.path().join("one");
    let second_dir = dir.path().join("two");
    std::fs::create_dir_all(&first_dir).expect("mkdir");
    std::fs::create_dir_all(&second_dir).expect("mkdir");
    let first = scan_into(&first_dir, &app, &first_dir.join("store-a"), key, &Silent);
    let again = PrivateKey::from_pkcs8_der(&der).expect("same key");
    let second = scan_into(
        &second_dir,
        &app,
        &second_dir.join("elsewhere/store-b"),
        again,
        &Silent,
    );
    assert_eq!(first.report.digest, second.report.digest, "the same image");
    assert_eq!(
        first.report.sbom.bytes, second.report.sbom.bytes,
        "the SBOM does not say where the store is"
    );
    assert_eq!(
        first.report.sbom.canonical_id,
        second.report.sbom.canonical_id
    );
    let text = String::from_utf8_lossy(&first.report.sbom.bytes);
    assert!(!text.contains("store-a"), "{text}");
}

/// The verdicts of `examined` about claims of `scope`: (status, reasons and notes).
fn claim_verdicts(examined: &verify::Examined, scope: verify::Scope) -> Vec<(Status, String)> {
    examined
        .verdicts
        .iter()
        .filter(|v| v.kind == scope)
        .map(|v| {
            let words: Vec<String> = v
                .reasons
                .iter()
                .map(ToString::to_string)
                .chain(v.notes.iter().cloned())
                .collect();
            (v.status, words.join("; "))
        })
        .collect()
}

/// A claim of one kind attached beside the evidence, and the change an attacker makes to it.
struct Claim<'a> {
    scope: verify::Scope,
    kind: &'a str,
    media_type: &'a str,
    predicate_type: &'a str,
    document: &'a [u8],
    from: &'a str,
    to: &'a str,
}

#[test]
fn vex_attached_beside_the_evidence_is_judged_by_its_own_signature() {
    claim_judged_by_its_own_signature(&Claim {
        scope: verify::Scope::Vex,
        kind: stella_evidence::layout::VEX_KIND,
        media_type: stella_core::media::OPENVEX_JSON,
        predicate_type: stella_core::media::predicate::OPENVEX,
        document: br#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"urn:x","author":"a","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2026-0001"},"products":[{"@id":"pkg:oci/app"}],"status":"not_affected","justification":"component_not_present"}]}"#,
        from: "CVE-2026-0001",
        to: "CVE-2026-0002",
    });
}

/// Runtime evidence with its counts changed after signing: the micro-witness a verdict rests
/// on, and the witness report `stella assess` reads, each fail the image.
#[test]
fn runtime_evidence_with_tampered_counts_fails_the_image() {
    use stella_evidence::verify::claims::{MICRO_WITNESS_KIND, WITNESS_REPORT_KIND};
    claim_judged_by_its_own_signature(&Claim {
        scope: verify::Scope::MicroWitness,
        kind: MICRO_WITNESS_KIND,
        media_type: stella_core::media::MICRO_WITNESS_JSON,
        predicate_type: stella_core::media::predicate::STELLA_MICRO_WITNESS,
        document: br#"{"binary":{"buildId":"ab"},"method":"uprobe","window":{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T01:00:00Z"},"symbols":[{"symbol":"inflate","count":0}]}"#,
        from: r#""count":0"#,
        to: r#""count":1"#,
    });
    claim_judged_by_its_own_signature(&Claim {
        scope: verify::Scope::WitnessReport,
        kind: WITNESS_REPORT_KIND,
        media_type: stella_core::media::WITNESS_REPORT_JSON,
        predicate_type: stella_core::media::predicate::STELLA_RUNTIME_WITNESS,
        document: br#"{"schema":"stella.runtime.witness/v1","window":{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T01:00:00Z","sampledSeconds":3600.0},"instances":[7],"lost":0,"witnesses":[{"symbol":"inflate","function":"inflate","binary":"/usr/lib/libz.so.1","buildId":"ab","fileOffset":"0x10","calls":12,"processes":[],"stacks":[]}]}"#,
        from: r#""calls":12"#,
        to: r#""calls":0"#,
    });
}

fn claim_judged_by_its_own_signature(claim: &Claim<'_>) {
    use std::collections::BTreeMap;
    use stella_evidence::attached;
    use stella_evidence::layout::KIND;
    use stella_oci::store::{self, Layer};

    let dir = tempfile::tempdir().expect("tmp");
    let app = app(dir.path(), None);
    let key = PrivateKey::generate(Algorithm::EcdsaP256).expect("key");
    let s = scan_into(dir.path(), &app, &dir.path().join("oci"), key, &Silent);
    let store = s.target.store.as_ref();
    let image = &s.target.image.root;
    let vex = claim.document;
    let vex_verdicts = |e: &verify::Examined| claim_verdicts(e, claim.scope);

    // Signed by the trusted key: verified.
    let signed = attached::attach_signed(
        store,
        image,
        "app",
        "claim.json",
        claim.media_type,
        vex,
        claim.predicate_type,
        claim.kind,
        &s.key,
        Some(&s.log),
    )
    .expect("attached");
    let examined = examine(&s, None);
    assert!(examined.verified());
    assert_eq!(vex_verdicts(&examined), [(Status::Verified, String::new())]);

    // Unsigned, pushed by anyone: listed as untrusted, not used, not failing.
    let annotations = BTreeMap::from([(KIND.to_owned(), claim.kind.to_owned())]);
    let forged = String::from_utf8(vex.to_vec())
        .expect("utf-8")
        .replace(claim.from, claim.to)
        .into_bytes();
    assert_ne!(forged, vex, "the attacker's change applies");
    let unsigned = store::attach_manifest(
        store,
        image,
        claim.media_type,
        &[Layer {
            name: "claim.json".to_owned(),
            media_type: claim.media_type.to_owned(),
            bytes: forged.clone(),
        }],
        &annotations,
    )
    .expect("attached");
    let examined = examine(&s, None);
    assert!(
        examined.verified(),
        "an untrusted claim does not fail the image"
    );
    let verdicts = vex_verdicts(&examined);
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(
        verdicts
            .iter()
            .any(|(st, why)| *st == Status::Untrusted
                && why.contains("no signature by a trusted key")),
        "{verdicts:?}"
    );

    // The trusted signature moved onto a changed document: the image fails, naming it.
    let bundle = store
        .referrers(&signed.document.digest.to_string(), None)
        .expect("referrers");
    let bundle = bundle.first().expect("the bundle");
    let bundle_bytes = {
        let manifest = store
            .get_manifest(&stella_oci::reference::Target::Digest(
                bundle.digest.to_string(),
            ))
            .expect("bundle manifest");
        let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).expect("json");
        let digest = manifest["layers"][0]["digest"].as_str().expect("digest");
        store.get_blob(digest).expect("bundle blob")
    };
    store::attach_manifest(
        store,
        &unsigned,
        stella_core::media::SIGSTORE_BUNDLE_V03,
        &[Layer {
            name: "bundle.json".to_owned(),
            media_type: stella_core::media::SIGSTORE_BUNDLE_V03.to_owned(),
            bytes: bundle_bytes,
        }],
        &BTreeMap::new(),
    )
    .expect("attached");
    let examined = examine(&s, None);
    assert!(
        !examined.verified(),
        "a changed trusted claim fails the image"
    );
    assert!(
        vex_verdicts(&examined)
            .iter()
            .any(|(st, why)| *st == Status::Failed
                && why.contains("changed after a trusted key signed it")),
        "{:?}",
        vex_verdicts(&examined)
    );
}
