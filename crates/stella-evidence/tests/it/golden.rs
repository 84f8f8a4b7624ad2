//! The artifact record a scan writes, compared byte for byte with `golden/record.json`.
//! `STELLA_BLESS=1` rewrites the golden files (and says so) after a deliberate change.
//!
//! Everything that enters the record is fixed: the directory (text only, so no compiler's
//! output is involved), `SOURCE_DATE_EPOCH`, the signing key and the log's key (both test keys
//! kept beside the golden record). Signatures are deterministic (RFC 6979, Ed25519), so the
//! same inputs give the same record.

use std::path::{Path, PathBuf};

use stella_attest::{Algorithm, PrivateKey};
use stella_evidence::progress::Silent;
use stella_evidence::scan::{self, PackRequest, ScanOptions};
use stella_oci::{LayoutStore, Reference};
use stella_tlog::Log;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden")
}

fn blessing() -> bool {
    std::env::var("STELLA_BLESS").as_deref() == Ok("1")
}

/// The test signing key, made once when blessing.
fn signing_key() -> PrivateKey {
    let path = golden_dir().join("signing-key.pk8");
    if !path.exists() && blessing() {
        let key = PrivateKey::generate(Algorithm::Ed25519).expect("key");
        std::fs::write(&path, key.pkcs8_der()).expect("write key");
    }
    let der = std::fs::read(&path).expect("the golden signing key (STELLA_BLESS=1 makes it)");
    PrivateKey::from_pkcs8_der(&der).expect("key")
}

/// A copy of the test log (made once when blessing) in `dir`.
fn log_in(dir: &Path) -> Log {
    let template = golden_dir().join("log");
    if !template.exists() && blessing() {
        Log::create(&template, Some("golden.log.example")).expect("create the test log");
    }
    std::fs::create_dir_all(dir).expect("mkdir");
    for name in ["origin", "created", "log.key", "checkpoint"] {
        std::fs::copy(template.join(name), dir.join(name))
            .unwrap_or_else(|e| panic!("golden log file {name}: {e} (STELLA_BLESS=1 makes it)"));
    }
    Log::open(dir).expect("log")
}

fn compare(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if blessing() {
        std::fs::write(&path, actual).expect("bless");
        eprintln!("STELLA_BLESS=1: rewrote {}", path.display());
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} differs from {} (run with STELLA_BLESS=1 after a deliberate change):\n{}",
        path.display(),
        String::from_utf8_lossy(actual)
    );
}

#[test]
fn a_record_is_the_same_bytes_for_the_same_inputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let app = dir.path().join("docs");
    std::fs::create_dir_all(app.join("share")).expect("mkdir");
    std::fs::write(app.join("share/README"), "the same text, every time\n").expect("write");
    let home = dir.path().join("home");
    let log = log_in(&home.join("log"));
    let key = signing_key();
    let store_dir = dir.path().join("oci");
    let reference =
        Reference::parse(&format!("oci-layout:{}:docs", store_dir.display())).expect("reference");
    let request = PackRequest {
        dir: &app,
        reference: &reference,
        home: &home,
        key: None,
        source_date_epoch: Some(1_700_000_000),
    };
    let store = LayoutStore::open(&store_dir).expect("layout");
    let target = scan::pack_directory(&request, Box::new(store), &Silent).expect("packed");
    let options = ScanOptions {
        key: &key,
        log: &log,
        jobs: Some(1),
        max_binary_size: 1 << 20,
        timestamp: None,
        source_date_epoch: Some(1_700_000_000),
        external_sbom: None,
        records_dir: None,
    };
    let report = scan::run(&target, &options, &Silent).expect("scanned");
    // The record names the image by the layout's path, which differs per run: the golden
    // file holds it with the path replaced.
    let text = String::from_utf8(report.record_bytes.clone()).expect("UTF-8");
    let portable = text.replace(&store_dir.display().to_string(), "STORE");
    compare("record.json", portable.as_bytes());
    compare("sbom.cdx.json", &report.sbom.bytes);
}
