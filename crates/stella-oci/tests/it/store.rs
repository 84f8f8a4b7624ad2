//! The store as a library: opening the store a reference names (reading never creates a
//! layout), one store shared by many threads, attach returning what it stored, and the error
//! kinds the CLI and a server read.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use stella_core::{ErrorKind, Kinded};
use stella_oci::reference::Target;
use stella_oci::store::{self, Layer, MANIFEST, Stored};
use stella_oci::{ArtifactStore, LayoutStore, OciError, Reference, RegistryOptions};

/// A small image tagged `app` in `store`.
pub(crate) fn image(store: &dyn ArtifactStore) -> Stored {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = store.put_blob(config).expect("config");
    let layer = b"layer bytes";
    let layer_digest = store.put_blob(layer).expect("layer");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    });
    let bytes = serde_json::to_vec(&manifest).expect("json");
    store
        .put_manifest(&bytes, MANIFEST, Some("app"))
        .expect("manifest");
    store
        .get_manifest(&Target::Tag("app".into()))
        .expect("tagged")
}

pub(crate) fn layer(name: &str, bytes: &[u8]) -> Layer {
    Layer {
        name: name.into(),
        media_type: "text/plain".into(),
        bytes: bytes.to_vec(),
    }
}

fn layout_ref(path: &Path) -> Reference {
    Reference::Layout {
        path: path.to_path_buf(),
        target: Target::Tag("app".into()),
    }
}

#[test]
fn reading_never_creates_a_layout_and_names_the_missing_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let Err(err) = stella_oci::open(&layout_ref(&missing), &RegistryOptions::default()) else {
        panic!("opened a layout that is not there");
    };
    assert!(
        matches!(&err, OciError::NoLayout { path, .. } if *path == missing),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(&*missing.to_string_lossy()));
    assert!(!missing.exists(), "reading created nothing");

    let written = stella_oci::open_for_writing(&layout_ref(&missing), &RegistryOptions::default())
        .expect("writing creates the layout");
    let img = image(&*written);
    let read = stella_oci::open(&layout_ref(&missing), &RegistryOptions::default())
        .expect("now there is one");
    assert_eq!(
        read.get_manifest(&Target::Tag("app".into())).expect("app"),
        img
    );
}

#[test]
fn attach_returns_the_manifest_it_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LayoutStore::open(dir.path()).expect("layout");
    let img = image(&store);
    let annotations = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
    let stored = store::attach_manifest(
        &store,
        &img,
        "application/vnd.cyclonedx+json",
        &[layer("bom.json", b"{}")],
        &annotations,
    )
    .expect("attach");
    // Exactly what a read gives back, so nobody needs to read it.
    assert_eq!(
        stored,
        store
            .get_manifest(&Target::from(&stored.digest))
            .expect("read back")
    );
    assert_eq!(stored.media_type, MANIFEST);
    // Attaching to it in turn needs nothing more.
    let signature = store::attach_manifest(
        &store,
        &stored,
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        &[layer("bundle.json", b"{\"sig\":1}")],
        &BTreeMap::new(),
    )
    .expect("attach to the attached");
    let referrers = store
        .referrers(&stored.digest.to_string(), None)
        .expect("referrers");
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, signature.digest);
    // The old form returns the same digest.
    let again = store::attach(
        &store,
        &img,
        "application/vnd.cyclonedx+json",
        &[layer("bom.json", b"{}")],
        &annotations,
    )
    .expect("attach");
    assert_eq!(again, stored.digest.to_string());
}

/// Attaches from several threads through one shared store: a server's shape.
pub(crate) fn attach_from_threads(
    store: &dyn ArtifactStore,
    subject: &Stored,
    threads: usize,
    each: usize,
) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..each {
                    store::attach_manifest(
                        store,
                        subject,
                        "text/plain",
                        &[layer("n", format!("{t}-{i}").as_bytes())],
                        &BTreeMap::new(),
                    )
                    .expect("attach");
                }
            });
        }
    });
}

#[test]
fn one_store_is_shared_by_many_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Opened as a server would: a boxed store behind the trait, then lent to every thread.
    let store: Box<dyn ArtifactStore> =
        stella_oci::open_for_writing(&layout_ref(dir.path()), &RegistryOptions::default())
            .expect("layout");
    let img = image(&*store);
    attach_from_threads(&*store, &img, 4, 10);
    assert_eq!(
        store
            .referrers(&img.digest.to_string(), None)
            .expect("referrers")
            .len(),
        40
    );
    // And moved into threads that outlive the opener's scope.
    let shared: std::sync::Arc<dyn ArtifactStore> = std::sync::Arc::from(store);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (store, digest) = (shared.clone(), img.digest.to_string());
            std::thread::spawn(move || store.referrers(&digest, None).expect("referrers").len())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), 40);
    }
}

#[test]
fn every_error_has_the_kind_the_cli_and_a_server_answer_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LayoutStore::open(dir.path()).expect("layout");
    let img = image(&store);
    let kind = |r: Result<Stored, OciError>| r.expect_err("fails").kind();

    assert_eq!(
        kind(store.get_manifest(&Target::Tag("nope".into()))),
        ErrorKind::NotFound
    );
    let too_large = store
        .put_manifest(
            &vec![b' '; stella_oci::MAX_MANIFEST_BYTES + 1],
            MANIFEST,
            None,
        )
        .expect_err("too large");
    assert!(
        matches!(too_large, OciError::TooLarge { size } if size == stella_oci::MAX_MANIFEST_BYTES + 1)
    );
    assert_eq!(too_large.kind(), ErrorKind::TooLarge);

    // Content that does not hash to its digest: a check that said no.
    let blob = dir.path().join("blobs/sha256").join(img.digest.hex());
    std::fs::write(&blob, b"{\"tampered\":true}").expect("tamper");
    let mismatch = store
        .get_manifest(&Target::Tag("app".into()))
        .expect_err("tampered");
    assert!(matches!(mismatch, OciError::DigestMismatch { .. }));
    assert_eq!(mismatch.kind(), ErrorKind::Rejected);
    assert_eq!(mismatch.kind().exit_code(), 1);

    // The disk failing: the environment, with the path and the system's error as its source.
    let unreadable = store
        .put_blob_file(&dir.path().join("no-such-dir/file"))
        .expect_err("missing");
    match &unreadable {
        OciError::Io { path, source } => {
            assert!(path.ends_with("no-such-dir/file"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&unreadable).is_some());
    assert_eq!(unreadable.kind(), ErrorKind::Environment);

    let reference = Reference::parse("Not/A Reference").expect_err("bad");
    assert_eq!(reference.kind(), ErrorKind::Invalid);
}
