//! References: the layout form, registry references by the distribution grammar with Docker
//! Hub's normalisation, and text that names a path never taken for a registry.

use std::path::Path;

use stella_core::{ErrorKind, Kinded};
use stella_oci::OciError;
use stella_oci::reference::{DOCKER_HUB, Reference, ScanSource, Target};

fn digest() -> String {
    format!("sha256:{}", "a".repeat(64))
}

fn registry(host: &str, repository: &str, target: Target) -> Reference {
    Reference::Registry {
        host: host.into(),
        repository: repository.into(),
        target,
    }
}

/// Nothing is a directory: the parse depends on the text alone.
fn nothing(_: &Path) -> bool {
    false
}

#[test]
fn layouts_keep_their_form() {
    let d = digest();
    for (text, path, target) in [
        ("oci-layout:/tmp/x:v1", "/tmp/x", Target::Tag("v1".into())),
        (
            &*format!("oci-layout:out/img@{d}"),
            "out/img",
            Target::Digest(d.clone()),
        ),
        ("oci-layout:img", "img", Target::None),
        (
            "oci-layout:.stella/oci:x",
            ".stella/oci",
            Target::Tag("x".into()),
        ),
    ] {
        let parsed = Reference::parse_with(text, &nothing).expect(text);
        assert_eq!(
            parsed,
            Reference::Layout {
                path: path.into(),
                target
            },
            "{text}"
        );
        assert_eq!(parsed.to_string(), text);
    }
}

#[test]
fn registry_references_are_normalised_like_docker_does() {
    let d = digest();
    for (text, expected, shown) in [
        (
            "alpine:3.19",
            registry(DOCKER_HUB, "library/alpine", Target::Tag("3.19".into())),
            "registry-1.docker.io/library/alpine:3.19",
        ),
        (
            "user/app",
            registry(DOCKER_HUB, "user/app", Target::None),
            "registry-1.docker.io/user/app",
        ),
        (
            "docker.io/library/alpine:latest",
            registry(DOCKER_HUB, "library/alpine", Target::Tag("latest".into())),
            "registry-1.docker.io/library/alpine:latest",
        ),
        (
            "index.docker.io/user/app",
            registry(DOCKER_HUB, "user/app", Target::None),
            "registry-1.docker.io/user/app",
        ),
        (
            "registry-1.docker.io/library/alpine:3.19",
            registry(DOCKER_HUB, "library/alpine", Target::Tag("3.19".into())),
            "registry-1.docker.io/library/alpine:3.19",
        ),
        (
            "docker.io/alpine",
            registry(DOCKER_HUB, "library/alpine", Target::None),
            "registry-1.docker.io/library/alpine",
        ),
        (
            "127.0.0.1:5000/app/web:1.2",
            registry("127.0.0.1:5000", "app/web", Target::Tag("1.2".into())),
            "127.0.0.1:5000/app/web:1.2",
        ),
        (
            &*format!("localhost:5000/app@{d}"),
            registry("localhost:5000", "app", Target::Digest(d.clone())),
            &*format!("localhost:5000/app@{d}"),
        ),
        (
            "localhost/app",
            registry("localhost", "app", Target::None),
            "localhost/app",
        ),
        (
            "[::1]:5000/evidence/app:v1",
            registry("[::1]:5000", "evidence/app", Target::Tag("v1".into())),
            "[::1]:5000/evidence/app:v1",
        ),
        (
            "ghcr.io/org/app:v1",
            registry("ghcr.io", "org/app", Target::Tag("v1".into())),
            "ghcr.io/org/app:v1",
        ),
        // A tag and a digest: the digest names the manifest.
        (
            &*format!("example.com/app:v1@{d}"),
            registry("example.com", "app", Target::Digest(d.clone())),
            &*format!("example.com/app@{d}"),
        ),
    ] {
        let parsed = Reference::parse_with(text, &nothing).expect(text);
        assert_eq!(parsed, expected, "{text}");
        assert_eq!(parsed.to_string(), shown, "{text}");
    }
}

#[test]
fn malformed_references_are_invalid_and_say_why() {
    for (text, says) in [
        ("oci-layout:", "no layout directory"),
        ("Host/App", "format"),
        ("example.com/App", "format"),
        ("example.com/app@sha256:xyz", "format"),
        ("example.com/app:bad tag", "format"),
        (
            &*format!("example.com/app@sha512:{}", "a".repeat(128)),
            "sha256:<64 lower-case hex>",
        ),
        (
            &*format!("example.com/app@sha256:{}", "A".repeat(64)),
            "sha256:<64 lower-case hex>",
        ),
    ] {
        let err = Reference::parse_with(text, &nothing).expect_err(text);
        assert!(matches!(err, OciError::Reference { .. }), "{text}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::Invalid, "{text}");
        assert!(err.to_string().contains(says), "{text}: {err}");
    }
}

#[test]
fn text_that_names_a_path_gets_a_hint_instead_of_a_registry() {
    let only_out = |p: &Path| p == Path::new("out");
    for (text, suggestion) in [
        (".stella/oci:x", "oci-layout:.stella/oci:x"),
        ("./out:v1", "oci-layout:./out:v1"),
        ("../images/app", "oci-layout:../images/app"),
        ("/var/lib/layout:app", "oci-layout:/var/lib/layout:app"),
        ("~/layout", "oci-layout:~/layout"),
        (".", "oci-layout:."),
        // `out/app` would be Docker Hub's `out/app`, but `out` is a directory here.
        ("out/app:v1", "oci-layout:out/app:v1"),
    ] {
        let err = Reference::parse_with(text, &only_out).expect_err(text);
        match &err {
            OciError::LooksLikePath {
                suggestion: s,
                reference,
            } => {
                assert_eq!(s, suggestion, "{text}");
                assert_eq!(reference, text);
            }
            other => panic!("{text}: {other:?}"),
        }
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(
            err.to_string().contains("did you mean oci-layout:"),
            "{err}"
        );
    }
    // Without the directory it is Docker Hub; a host with a dot or a port stays a registry even
    // when a directory of that name exists.
    assert_eq!(
        Reference::parse_with("out/app", &nothing).expect("hub"),
        registry(DOCKER_HUB, "out/app", Target::None)
    );
    let everything = |_: &Path| true;
    assert_eq!(
        Reference::parse_with("example.com/app", &everything).expect("registry"),
        registry("example.com", "app", Target::None)
    );
    assert_eq!(
        Reference::parse_with("localhost:5000/app", &everything).expect("registry"),
        registry("localhost:5000", "app", Target::None)
    );
}

#[test]
fn a_directory_or_an_image_is_classified_without_the_network() {
    let exists = |p: &Path| p == Path::new("rootfs") || p == Path::new("alpine:3.19");
    for (text, expected) in [
        ("./nonexistent", ScanSource::Path("./nonexistent".into())),
        ("../x", ScanSource::Path("../x".into())),
        ("/srv/app", ScanSource::Path("/srv/app".into())),
        ("~/app", ScanSource::Path("~/app".into())),
        (".", ScanSource::Path(".".into())),
        ("..", ScanSource::Path("..".into())),
        ("rootfs", ScanSource::Path("rootfs".into())),
        // Something on disk by that name is a path, even when it reads as a reference.
        ("alpine:3.19", ScanSource::Path("alpine:3.19".into())),
        (
            "alpine:3.20",
            ScanSource::Image(registry(
                DOCKER_HUB,
                "library/alpine",
                Target::Tag("3.20".into()),
            )),
        ),
        (
            "oci-layout:rootfs:v1",
            ScanSource::Image(Reference::Layout {
                path: "rootfs".into(),
                target: Target::Tag("v1".into()),
            }),
        ),
        (
            "localhost:5000/app:v1",
            ScanSource::Image(registry("localhost:5000", "app", Target::Tag("v1".into()))),
        ),
    ] {
        assert_eq!(
            ScanSource::classify(text, exists).expect(text),
            expected,
            "{text}"
        );
    }
    assert!(matches!(
        ScanSource::classify(".stella/oci:x", exists),
        Err(OciError::LooksLikePath { .. })
    ));
    // A reference under a directory that exists is a layout given without its prefix.
    assert!(matches!(
        ScanSource::classify("rootfs/app:v1", exists),
        Err(OciError::LooksLikePath { .. })
    ));
    assert!(matches!(
        ScanSource::classify("Not A Reference", exists),
        Err(OciError::Reference { .. })
    ));
}
