//! The registry store against a real registry: Debian's `docker-registry` (distribution 2.8),
//! which accepts `subject` but has no referrers API, so every referrer goes through the
//! `sha256-<hex>` tag-schema fallback index (read-modify-write, deduplicated, sorted).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use stella_core::{ErrorKind, Kinded};
use stella_oci::reference::Target;
use stella_oci::registry::RegistryStore;
use stella_oci::store::{self, INDEX};
use stella_oci::{ArtifactStore, LayoutStore, OciError, Reference, RegistryOptions};
use stella_testkit::registry::Registry;

use crate::store::{attach_from_threads, image, layer};

/// A registry in `dir`, or `None` after saying the test checked nothing.
fn registry(dir: &std::path::Path, test: &str) -> Option<Registry> {
    let registry = Registry::start(dir);
    if registry.is_none() {
        stella_testkit::skip(
            test,
            "docker-registry is not installed (apt-get install docker-registry)",
        );
    }
    registry
}

fn open(host: &str) -> Box<dyn ArtifactStore> {
    let reference = Reference::parse(&format!("{host}/evidence/app:app")).expect("reference");
    stella_oci::open_for_writing(&reference, &RegistryOptions::default()).expect("store")
}

#[test]
fn the_fallback_index_lists_each_artifact_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(registry) = registry(
        dir.path(),
        "the_fallback_index_lists_each_artifact_once_in_order",
    ) else {
        return;
    };
    let store = open(&registry.host);
    let img = image(&*store);
    let mut attached = Vec::new();
    for (name, bytes) in [("a", b"one".as_slice()), ("b", b"two"), ("a", b"one")] {
        let stored = store::attach_manifest(
            &*store,
            &img,
            "application/vnd.stellaops.funcproof+json",
            &[layer(name, bytes)],
            &BTreeMap::new(),
        )
        .expect("attach");
        // What attach returns is what the registry serves.
        assert_eq!(
            store
                .get_manifest(&Target::from(&stored.digest))
                .expect("pushed"),
            stored
        );
        attached.push(stored.digest);
    }
    assert_eq!(
        attached[0], attached[2],
        "the same artifact, the same digest"
    );

    let fallback = store
        .get_manifest(&Target::Tag(img.digest.to_string().replacen(':', "-", 1)))
        .expect("fallback index");
    let index: Value = serde_json::from_slice(&fallback.bytes).expect("json");
    assert_eq!(index["mediaType"], INDEX);
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("digest"))
        .collect();
    let mut expected = vec![attached[0].to_string(), attached[1].to_string()];
    expected.sort_unstable();
    assert_eq!(listed, expected, "deduplicated and sorted");

    let referrers = store
        .referrers(&img.digest.to_string(), None)
        .expect("referrers");
    assert_eq!(
        referrers
            .iter()
            .map(|r| r.digest.to_string())
            .collect::<Vec<_>>(),
        expected
    );
    assert!(referrers.iter().all(|r| {
        r.artifact_type.as_deref() == Some("application/vnd.stellaops.funcproof+json")
    }));
    assert!(
        store
            .referrers(&img.digest.to_string(), Some("text/plain"))
            .expect("filtered")
            .is_empty()
    );
}

#[test]
fn threads_sharing_one_registry_store_lose_no_referrer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(registry) = registry(
        dir.path(),
        "threads_sharing_one_registry_store_lose_no_referrer",
    ) else {
        return;
    };
    let store = open(&registry.host);
    let img = image(&*store);
    // Every attach rewrites the one fallback index: without the store serialising that
    // read-modify-write, concurrent attachers overwrite each other's entries.
    attach_from_threads(&*store, &img, 4, 5);
    assert_eq!(
        store
            .referrers(&img.digest.to_string(), None)
            .expect("referrers")
            .len(),
        20
    );
}

#[test]
fn a_copy_through_the_registry_comes_back_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(registry) = registry(
        dir.path(),
        "a_copy_through_the_registry_comes_back_byte_for_byte",
    ) else {
        return;
    };
    let layout = LayoutStore::open(&dir.path().join("src")).expect("layout");
    let img = image(&layout);
    let sbom = store::attach_manifest(
        &layout,
        &img,
        "application/vnd.cyclonedx+json",
        &[layer("bom.json", b"{}")],
        &BTreeMap::new(),
    )
    .expect("sbom");
    store::attach_manifest(
        &layout,
        &sbom,
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        &[layer("bundle.json", b"{\"b\":1}")],
        &BTreeMap::new(),
    )
    .expect("signature");

    let remote = open(&registry.host);
    let report = store::copy(&layout, &*remote, &Target::Tag("app".into()), Some("app"))
        .expect("to the registry");
    assert_eq!((report.manifests, report.referrers), (3, 2));

    let back = LayoutStore::open(&dir.path().join("back")).expect("layout");
    let report =
        store::copy(&*remote, &back, &Target::Tag("app".into()), Some("app")).expect("back");
    assert_eq!((report.manifests, report.referrers), (3, 2));
    assert_eq!(
        back.get_manifest(&Target::Tag("app".into()))
            .expect("image")
            .bytes,
        img.bytes
    );
    assert_eq!(
        back.get_manifest(&Target::from(&sbom.digest))
            .expect("sbom"),
        sbom
    );
}

#[test]
fn registry_failures_carry_their_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(registry) = registry(dir.path(), "registry_failures_carry_their_kind") else {
        return;
    };
    let store = open(&registry.host);
    let img = image(&*store);

    let missing = store
        .get_manifest(&Target::Tag("nope".into()))
        .expect_err("no such tag");
    assert!(matches!(missing, OciError::NotFound { .. }), "{missing:?}");
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    // A blob the registry serves changed on its disk: refused by digest.
    let (blobs, _) = store::children(&img).expect("children");
    let hex = &blobs[1][7..];
    let data = dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    std::fs::write(&data, b"changed").expect("tamper");
    let mismatch = store.get_blob(&blobs[1]).expect_err("tampered");
    assert!(
        matches!(mismatch, OciError::DigestMismatch { .. }),
        "{mismatch:?}"
    );
    assert_eq!(mismatch.kind(), ErrorKind::Rejected);

    // Nobody listening: the registry is unavailable, after the retries, with the cause kept.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let nobody = RegistryStore::new(
        &format!("127.0.0.1:{closed}"),
        "evidence/app",
        &RegistryOptions {
            timeout: Duration::from_secs(2),
            ..RegistryOptions::default()
        },
    )
    .expect("store");
    let unreachable = nobody
        .get_manifest(&Target::Tag("app".into()))
        .expect_err("nobody there");
    match &unreachable {
        OciError::GaveUp { attempts, last, .. } => {
            assert_eq!(*attempts, stella_oci::registry::ATTEMPTS);
            assert!(matches!(**last, OciError::Transport { .. }), "{last:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(unreachable.kind(), ErrorKind::Unavailable);
    assert_eq!(unreachable.kind().exit_code(), 3);
}

#[test]
fn https_with_the_ca_file_and_a_precise_refusal_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = stella_testkit::registry::Options {
        tls: true,
        ..Default::default()
    };
    let registry = match Registry::start_with(dir.path(), &options) {
        Ok(r) => r,
        Err(why) => {
            stella_testkit::skip(
                "https_with_the_ca_file_and_a_precise_refusal_without_it",
                &why,
            );
            return;
        }
    };
    let ca = registry.ca.clone().expect("a CA file");
    let store_with = |ca_files: Vec<std::path::PathBuf>| {
        RegistryStore::new(
            &registry.host,
            "evidence/app",
            &RegistryOptions {
                timeout: Duration::from_secs(10),
                ca_files,
                ..RegistryOptions::default()
            },
        )
        .expect("store")
    };

    // The system's roots do not hold the test CA: refused at once, naming the problem.
    let untrusted = store_with(Vec::new());
    assert!(
        untrusted.base().starts_with("https://"),
        "{}",
        untrusted.base()
    );
    let started = std::time::Instant::now();
    let err = untrusted.put_blob(b"layer").expect_err("untrusted");
    assert!(matches!(err, OciError::Certificate { .. }), "{err:?}");
    let said = error_chain(&err);
    assert!(said.contains("certificate"), "{said}");
    assert!(said.contains("UnknownIssuer"), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "retried: {said}"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);

    // With the CA file: blobs and manifests go through.
    let trusted = store_with(vec![ca]);
    let digest = trusted.put_blob(b"layer").expect("blob");
    assert_eq!(trusted.get_blob(&digest).expect("read back"), b"layer");

    // A CA file that is not one is bad input naming the file.
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, b"not a certificate").expect("write");
    let err = RegistryStore::new(
        &registry.host,
        "evidence/app",
        &RegistryOptions {
            ca_files: vec![bogus.clone()],
            ..RegistryOptions::default()
        },
    )
    .expect_err("bogus CA file");
    assert!(
        err.to_string().contains(&bogus.display().to_string()),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut said = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        said.push_str(": ");
        said.push_str(&e.to_string());
        cause = e.source();
    }
    said
}
