//! Images: packing a directory, resolving through indexes, and unpacking hostile layers built
//! here with the `tar` crate into an OCI image layout; `skopeo` reads what Stella writes.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use stella_core::Digest;
use stella_oci::OciError;
use stella_oci::image::{
    self, CONFIG, Image, LAYER_TAR, LAYER_TAR_GZIP, LAYER_TAR_ZSTD, PackOptions, Platform,
    UnpackLimits, pack_directory, resolve, unpack,
};
use stella_oci::layout::LayoutStore;
use stella_oci::reference::Target;
use stella_oci::store::{ArtifactStore, INDEX, MANIFEST};
use tar::{Builder, EntryType, Header};

// ---------------------------------------------------------------- helpers

fn digest(bytes: &[u8]) -> String {
    Digest::sha256(bytes).to_string()
}

fn tar(build: impl FnOnce(&mut Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    build(&mut builder);
    builder.into_inner().expect("finish tar")
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h
}

fn file(b: &mut Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = header(EntryType::Regular, 0o644, data.len() as u64);
    b.append_data(&mut h, path, data).expect("file entry");
}

fn dir(b: &mut Builder<Vec<u8>>, path: &str) {
    let mut h = header(EntryType::Directory, 0o755, 0);
    b.append_data(&mut h, path, std::io::empty())
        .expect("dir entry");
}

fn link(b: &mut Builder<Vec<u8>>, kind: EntryType, path: &str, target: &str) {
    let mut h = header(kind, 0o777, 0);
    h.set_link_name_literal(target).expect("link name");
    b.append_data(&mut h, path, std::io::empty())
        .expect("link entry");
}

/// An entry whose name is written byte for byte (the `tar` crate refuses `..` and `/`).
fn raw(b: &mut Builder<Vec<u8>>, kind: EntryType, name: &[u8], linkname: &[u8], data: &[u8]) {
    let mut h = header(kind, 0o644, data.len() as u64);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_link_name_literal(linkname).expect("link name");
    h.set_cksum();
    b.append(&h, data).expect("raw entry");
}

/// A layer as the manifest lists it, with the uncompressed tar its `diff_id` hashes.
struct Layer {
    media_type: &'static str,
    blob: Vec<u8>,
    diff_id: String,
}

fn layer(media_type: &'static str, tar: Vec<u8>) -> Layer {
    let blob = match media_type {
        LAYER_TAR_GZIP | image::DOCKER_LAYER_GZIP => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&tar).expect("gzip");
            enc.finish().expect("gzip")
        }
        LAYER_TAR_ZSTD => {
            ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest)
        }
        _ => tar.clone(),
    };
    Layer {
        media_type,
        blob,
        diff_id: digest(&tar),
    }
}

/// Stores an image of `layers` for `platform`; the manifest's digest and size.
fn put_image(store: &LayoutStore, platform: &Platform, layers: &[Layer]) -> (String, usize) {
    let config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| &l.diff_id).collect::<Vec<_>>()},
        "config": {},
    });
    let config_bytes = serde_json::to_vec(&config).expect("config");
    let config_digest = store.put_blob(&config_bytes).expect("config blob");
    let mut descriptors = Vec::new();
    for layer in layers {
        let d = store.put_blob(&layer.blob).expect("layer blob");
        descriptors
            .push(json!({"mediaType": layer.media_type, "digest": d, "size": layer.blob.len()}));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": descriptors,
    });
    let bytes = serde_json::to_vec(&manifest).expect("manifest");
    let d = store
        .put_manifest(&bytes, MANIFEST, None)
        .expect("manifest");
    (d, bytes.len())
}

fn image_of(store: &LayoutStore, layers: &[Layer]) -> Image {
    let (d, _) = put_image(store, &Platform::host(), layers);
    resolve(store, &Target::Digest(d), &Platform::host()).expect("resolve")
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    store: LayoutStore,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        let store = LayoutStore::open(&root.join("layout")).expect("layout");
        Fixture {
            _tmp: tmp,
            root,
            store,
        }
    }

    fn dest(&self) -> PathBuf {
        self.root.join("rootfs")
    }

    fn unpack(&self, layers: &[Layer]) -> Result<image::Unpacked, OciError> {
        let img = image_of(&self.store, layers);
        unpack(&self.store, &img, &self.dest(), &UnpackLimits::default())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(Vec<u8>),
}

/// Every path under `root`, and which paths share an inode.
fn snapshot(root: &Path) -> (BTreeMap<String, Node>, Vec<Vec<String>>) {
    let mut nodes = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("rel")
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path).expect("meta");
            let mode = meta.mode() & 0o7777;
            let node = if meta.file_type().is_symlink() {
                Node::Symlink(
                    fs::read_link(&path)
                        .expect("link")
                        .as_os_str()
                        .as_bytes()
                        .to_vec(),
                )
            } else if meta.is_dir() {
                stack.push(path.clone());
                Node::Dir(mode)
            } else if meta.is_file() {
                if meta.nlink() > 1 {
                    inodes.entry(meta.ino()).or_default().push(rel.clone());
                }
                Node::File(mode, fs::read(&path).expect("read"))
            } else {
                continue;
            };
            nodes.insert(rel, node);
        }
    }
    let mut groups: Vec<Vec<String>> = inodes
        .into_values()
        .map(|mut g| {
            g.sort();
            g
        })
        .collect();
    groups.sort();
    (nodes, groups)
}

fn source_tree(root: &Path) {
    let set = |p: &Path, mode: u32| {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
    };
    fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
    fs::create_dir_all(root.join("empty")).expect("mkdir");
    let long_dir = root.join("l".repeat(120));
    fs::create_dir_all(&long_dir).expect("mkdir");
    fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\necho hi\n").expect("write");
    set(&root.join("usr/bin/tool"), 0o755);
    fs::write(root.join("readme"), b"hello").expect("write");
    set(&root.join("readme"), 0o644);
    fs::write(long_dir.join("f".repeat(120)), b"long name").expect("write");
    set(&long_dir.join("f".repeat(120)), 0o644);
    fs::hard_link(root.join("readme"), root.join("usr/readme-link")).expect("hard link");
    symlink("../readme", root.join("usr/rel-link")).expect("symlink");
    symlink("/etc/hostname", root.join("abs-link")).expect("symlink");
    symlink("t".repeat(150), root.join("long-target")).expect("symlink");
    symlink("./a//b/", root.join("odd-target")).expect("symlink");
    for d in ["usr", "usr/bin", "empty"] {
        set(&root.join(d), 0o755);
    }
    set(&long_dir, 0o755);
    // Not packable: listed as skipped.
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).expect("socket");
}

// ---------------------------------------------------------------- pack

#[test]
fn pack_resolve_unpack_round_trip_equals_the_source_tree() {
    let fx = Fixture::new();
    let src = fx.root.join("src");
    source_tree(&src);
    let packed = pack_directory(&fx.store, &src, "v1", &PackOptions::default()).expect("pack");
    assert_eq!(packed.skipped.len(), 1, "{:?}", packed.skipped);
    assert_eq!(packed.skipped[0].path, "sock");
    assert_eq!(packed.skipped[0].reason, "socket");
    // tool, readme, long file, hard link, four symbolic links.
    assert_eq!(packed.files, 8);
    assert_eq!(packed.bytes, 18 + 5 + 9);
    assert!(stella_core::time::is_rfc3339_utc(&packed.created));

    let img = resolve(&fx.store, &Target::Tag("v1".into()), &Platform::host()).expect("resolve");
    assert_eq!(img.root.digest, packed.manifest.digest);
    assert_eq!(img.manifest, img.root);
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.layers[0].digest, packed.layer_digest);
    assert_eq!(img.layers[0].media_type, LAYER_TAR);
    assert_eq!(img.config["rootfs"]["diff_ids"][0], packed.layer_digest);
    assert_eq!(img.config["os"], "linux");
    assert_eq!(img.config["architecture"], Platform::host().architecture);
    assert_eq!(img.config["created"], packed.created);
    let manifest: Value = serde_json::from_slice(&packed.manifest.bytes).expect("json");
    assert_eq!(manifest["mediaType"], MANIFEST);
    assert_eq!(
        stella_core::jcs::canonicalize(&packed.manifest.bytes).expect("jcs"),
        packed.manifest.bytes,
        "the manifest is canonical JSON"
    );

    let dest = fx.dest();
    let report = unpack(&fx.store, &img, &dest, &UnpackLimits::default()).expect("unpack");
    assert_eq!(report.files, 8);
    assert_eq!(report.bytes, 18 + 5 + 9);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);

    fs::remove_file(src.join("sock")).expect("rm socket");
    let (want, want_links) = snapshot(&src);
    let (got, got_links) = snapshot(&dest);
    assert_eq!(got, want);
    assert_eq!(got_links, want_links);
    assert_eq!(
        want_links,
        vec![vec!["readme".to_owned(), "usr/readme-link".to_owned()]]
    );
}

#[test]
fn packing_is_deterministic_and_clamps_to_source_date_epoch() {
    let fx = Fixture::new();
    let src = fx.root.join("src");
    source_tree(&src);
    let a = pack_directory(&fx.store, &src, "a", &PackOptions::default()).expect("pack");
    let b = pack_directory(&fx.store, &src, "b", &PackOptions::default()).expect("pack");
    assert_eq!(a.manifest.digest, b.manifest.digest);
    assert_eq!(a.manifest.bytes, b.manifest.bytes);

    // The same content made at another time packs to the same image once clamped.
    let epoch = 1_000_000_000;
    let options = PackOptions {
        source_date_epoch: Some(epoch),
    };
    let clamped = pack_directory(&fx.store, &src, "c", &options).expect("pack");
    let other = fx.root.join("other");
    source_tree(&other);
    let again = pack_directory(&fx.store, &other, "d", &options).expect("pack");
    assert_eq!(clamped.manifest.digest, again.manifest.digest);
    assert_eq!(clamped.created, "2001-09-09T01:46:40Z");

    // Every header: clamped mtime, uid/gid 0, no user or group names, a GNU header.
    let layer = fx.store.get_blob(&clamped.layer_digest).expect("layer");
    let mut archive = tar::Archive::new(&layer[..]);
    let mut names = Vec::new();
    for entry in archive.entries().expect("entries") {
        let entry = entry.expect("entry");
        let h = entry.header();
        assert_eq!(h.mtime().expect("mtime"), epoch as u64);
        assert_eq!(h.uid().expect("uid"), 0);
        assert_eq!(h.gid().expect("gid"), 0);
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        assert!(h.as_gnu().is_some());
        names.push(entry.path_bytes().into_owned());
    }
    assert_eq!(names.first().map(Vec::as_slice), Some(&b"abs-link"[..]));
    assert!(names.contains(&b"usr/".to_vec()));
    assert_eq!(names.len(), 12, "{names:?}");
}

// ---------------------------------------------------------------- resolve

fn foreign() -> Platform {
    let arch = if Platform::host().architecture == "riscv64" {
        "s390x"
    } else {
        "riscv64"
    };
    Platform {
        os: "linux".into(),
        architecture: arch.into(),
        variant: None,
    }
}

fn put_index(store: &LayoutStore, entries: &[(String, usize, Value)], tag: &str) -> String {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|(d, size, platform)| {
            json!({"mediaType": MANIFEST, "digest": d, "size": size, "platform": platform})
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
    let bytes = serde_json::to_vec(&index).expect("index");
    store.put_manifest(&bytes, INDEX, Some(tag)).expect("index")
}

#[test]
fn an_index_resolves_to_the_host_platform_or_lists_what_it_has() {
    let fx = Fixture::new();
    let host = Platform::host();
    let other = foreign();
    let tar_host = tar(|b| file(b, "which", b"host"));
    let tar_other = tar(|b| file(b, "which", b"other"));
    let (host_d, host_n) = put_image(&fx.store, &host, &[layer(LAYER_TAR, tar_host)]);
    let (other_d, other_n) = put_image(&fx.store, &other, &[layer(LAYER_TAR, tar_other)]);
    let platform = |p: &Platform| json!({"os": p.os, "architecture": p.architecture});
    let unknown = json!({"os": "unknown", "architecture": "unknown"});
    let index = put_index(
        &fx.store,
        &[
            (other_d.clone(), other_n, platform(&other)),
            (host_d.clone(), host_n, platform(&host)),
            (other_d.clone(), other_n, unknown.clone()),
        ],
        "multi",
    );
    let img = resolve(&fx.store, &Target::Tag("multi".into()), &host).expect("resolve");
    assert_eq!(img.root.digest.to_string(), index);
    assert_eq!(img.manifest.digest.to_string(), host_d);
    let dest = fx.dest();
    unpack(&fx.store, &img, &dest, &UnpackLimits::default()).expect("unpack");
    assert_eq!(fs::read(dest.join("which")).expect("read"), b"host");

    let other_img = resolve(&fx.store, &Target::Tag("multi".into()), &other).expect("other");
    assert_eq!(other_img.manifest.digest.to_string(), other_d);

    // Without the host's image, the error lists what there is (the attestation is no platform).
    put_index(
        &fx.store,
        &[
            (other_d.clone(), other_n, platform(&other)),
            (other_d.clone(), other_n, unknown),
        ],
        "foreign",
    );
    let err = resolve(&fx.store, &Target::Tag("foreign".into()), &host).expect_err("no host");
    match &err {
        OciError::NoPlatform {
            wanted, available, ..
        } => {
            assert_eq!(wanted, &host.to_string());
            assert_eq!(available, &vec![other.to_string()]);
        }
        e => panic!("unexpected {e}"),
    }
    assert!(err.to_string().contains(&other.to_string()), "{err}");
}

#[test]
fn docker_manifest_lists_and_artifacts() {
    let fx = Fixture::new();
    let host = Platform::host();
    let config = serde_json::to_vec(&json!({"architecture": host.architecture, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}}))
    .expect("config");
    let config_d = fx.store.put_blob(&config).expect("config");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": image::DOCKER_MANIFEST,
        "config": {"mediaType": image::DOCKER_CONFIG, "digest": config_d, "size": config.len()},
        "layers": [],
    }))
    .expect("manifest");
    let manifest_d = fx
        .store
        .put_manifest(&manifest, image::DOCKER_MANIFEST, None)
        .expect("put");
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": image::DOCKER_MANIFEST_LIST,
        "manifests": [{"mediaType": image::DOCKER_MANIFEST, "digest": manifest_d,
            "size": manifest.len(), "platform": {"os": "linux", "architecture": host.architecture}}],
    }))
    .expect("list");
    fx.store
        .put_manifest(&list, image::DOCKER_MANIFEST_LIST, Some("docker"))
        .expect("put");
    let img = resolve(&fx.store, &Target::Tag("docker".into()), &host).expect("resolve");
    assert_eq!(img.manifest.digest.to_string(), manifest_d);
    assert_eq!(img.config_digest, config_d);

    // An artifact manifest is not an image.
    let empty = fx.store.put_blob(b"{}").expect("empty");
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": "text/plain",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
    }))
    .expect("artifact");
    fx.store
        .put_manifest(&artifact, MANIFEST, Some("artifact"))
        .expect("put");
    assert!(matches!(
        resolve(&fx.store, &Target::Tag("artifact".into()), &host),
        Err(OciError::Invalid { .. })
    ));
}

// ---------------------------------------------------------------- hostile layers

fn expect_invalid(result: Result<image::Unpacked, OciError>, needles: &[&str]) {
    match result {
        Err(OciError::Invalid { what, reason }) => {
            let text = format!("{what}: {reason}");
            for needle in needles {
                assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            }
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn dotdot_is_refused_naming_layer_and_entry() {
    let fx = Fixture::new();
    let l = layer(
        LAYER_TAR,
        tar(|b| raw(b, EntryType::Regular, b"a/../../x", b"", b"escape")),
    );
    let layer_digest = digest(&l.blob);
    expect_invalid(fx.unpack(&[l]), &[&layer_digest, "a/../../x", ".."]);
    assert!(!fx.root.join("x").exists());
}

#[test]
fn absolute_paths_land_inside_the_destination() {
    let fx = Fixture::new();
    let l = layer(
        LAYER_TAR,
        tar(|b| {
            raw(b, EntryType::Regular, b"/etc/x", b"", b"inside");
            raw(b, EntryType::Regular, b"./etc/y", b"", b"too");
        }),
    );
    fx.unpack(&[l]).expect("unpack");
    assert_eq!(fs::read(fx.dest().join("etc/x")).expect("x"), b"inside");
    assert_eq!(fs::read(fx.dest().join("etc/y")).expect("y"), b"too");
}

#[test]
fn nothing_is_written_through_a_symbolic_link() {
    let fx = Fixture::new();
    let outside = fx.root.join("outside");
    fs::create_dir(&outside).expect("mkdir");
    fs::write(outside.join("file"), b"original").expect("write");
    let outside_str = outside.to_str().expect("utf-8");
    let file_str = format!("{outside_str}/file");
    let lower = layer(
        LAYER_TAR,
        tar(|b| {
            link(b, EntryType::Symlink, "evil", outside_str);
            file(b, "evil/x", b"through the link");
            link(b, EntryType::Symlink, "replaced", &file_str);
        }),
    );
    let upper = layer(
        LAYER_TAR,
        tar(|b| {
            file(b, "evil/y", b"through the link, a layer later");
            file(b, "replaced", b"new");
        }),
    );
    let report = fx.unpack(&[lower, upper]).expect("unpack");
    assert!(!outside.join("x").exists());
    assert!(!outside.join("y").exists());
    assert_eq!(fs::read(outside.join("file")).expect("read"), b"original");
    let replaced = fs::symlink_metadata(fx.dest().join("replaced")).expect("meta");
    assert!(replaced.is_file());
    assert_eq!(fs::read(fx.dest().join("replaced")).expect("read"), b"new");
    let skipped: Vec<_> = report.skipped.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(skipped, ["evil/x", "evil/y"]);
    assert!(
        report.skipped[0].reason.contains("symbolic link"),
        "{:?}",
        report.skipped
    );
}

#[test]
fn hard_links_must_name_a_file_already_inside() {
    for (target, needle) in [
        ("../outside", ".."),
        ("/etc/passwd", "not a regular file"),
        ("sl", "not a regular file"),
        ("sl/passwd", "not a regular file"),
    ] {
        let fx = Fixture::new();
        let l = layer(
            LAYER_TAR,
            tar(|b| {
                link(b, EntryType::Symlink, "sl", "/etc");
                raw(b, EntryType::Link, b"h", target.as_bytes(), b"");
            }),
        );
        let d = digest(&l.blob);
        expect_invalid(fx.unpack(&[l]), &[&d, "\"h\"", needle]);
    }
    // A good one is a real hard link.
    let fx = Fixture::new();
    let l = layer(
        LAYER_TAR,
        tar(|b| {
            file(b, "a", b"shared");
            link(b, EntryType::Link, "b", "a");
        }),
    );
    fx.unpack(&[l]).expect("unpack");
    let a = fs::metadata(fx.dest().join("a")).expect("a");
    let b = fs::metadata(fx.dest().join("b")).expect("b");
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn devices_and_fifos_are_skipped() {
    let fx = Fixture::new();
    let l = layer(
        LAYER_TAR,
        tar(|b| {
            raw(b, EntryType::Char, b"dev/null", b"", b"");
            raw(b, EntryType::Block, b"dev/sda", b"", b"");
            raw(b, EntryType::Fifo, b"run/fifo", b"", b"");
        }),
    );
    let report = fx.unpack(&[l]).expect("unpack");
    let reasons: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.path.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("dev/null", "character device"),
            ("dev/sda", "block device"),
            ("run/fifo", "FIFO")
        ]
    );
    assert!(!fx.dest().join("dev/null").exists());
    assert_eq!(report.files, 0);
}

#[test]
fn modes_drop_special_bits() {
    let fx = Fixture::new();
    let l = layer(
        LAYER_TAR,
        tar(|b| {
            let mut h = header(EntryType::Regular, 0o4777, 2);
            b.append_data(&mut h, "suid", &b"#!"[..]).expect("suid");
            let mut h = header(EntryType::Regular, 0o600, 2);
            b.append_data(&mut h, "private", &b"pw"[..])
                .expect("private");
            let mut h = header(EntryType::Directory, 0o1777, 0);
            b.append_data(&mut h, "tmp/", std::io::empty())
                .expect("sticky");
        }),
    );
    fx.unpack(&[l]).expect("unpack");
    let mode = |p: &str| fs::symlink_metadata(fx.dest().join(p)).expect(p).mode() & 0o7777;
    assert_eq!(mode("suid"), 0o755);
    assert_eq!(mode("private"), 0o644);
    assert_eq!(mode("tmp"), 0o755);
}

#[test]
fn whiteouts_and_opaque_whiteouts_remove_lower_layers_content() {
    let fx = Fixture::new();
    let lower = layer(
        LAYER_TAR,
        tar(|b| {
            dir(b, "a/");
            file(b, "a/old", b"1");
            dir(b, "a/sub/");
            file(b, "a/sub/deep", b"2");
            file(b, "b/keep", b"3");
            file(b, "c", b"4");
            dir(b, "d/");
            file(b, "d/x", b"5");
            link(b, EntryType::Symlink, "e", "/etc");
        }),
    );
    let upper = layer(
        LAYER_TAR_GZIP,
        tar(|b| {
            file(b, "c.wh-not-a-whiteout", b"6");
            raw(b, EntryType::Regular, b".wh.c", b"", b"");
            // Order does not matter: what this layer writes survives its opaque whiteout.
            file(b, "a/new", b"7");
            raw(b, EntryType::Regular, b"a/.wh..wh..opq", b"", b"");
            raw(b, EntryType::Regular, b"d/.wh.x", b"", b"");
            // The symbolic link goes, not what it points at.
            raw(b, EntryType::Regular, b".wh.e", b"", b"");
            raw(b, EntryType::Regular, b"gone/.wh.nothing", b"", b"");
            raw(b, EntryType::Regular, b".wh..wh.plnk/1.2", b"", b"aufs");
        }),
    );
    let report = fx.unpack(&[lower, upper]).expect("unpack");
    assert_eq!(report.whiteouts, 5);
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert_eq!(report.skipped[0].reason, "AUFS metadata");
    let (nodes, _) = snapshot(&fx.dest());
    let paths: Vec<_> = nodes.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        ["a", "a/new", "b", "b/keep", "c.wh-not-a-whiteout", "d"]
    );
    assert!(Path::new("/etc").is_dir());
}

#[test]
fn limits_name_the_limit_and_its_value() {
    let limit = |result: Result<image::Unpacked, OciError>| match result {
        Err(OciError::Limit { what, limit }) => (what, limit),
        other => panic!("expected a limit, got {other:?}"),
    };
    let run = |limits: UnpackLimits| {
        let fx = Fixture::new();
        let l = layer(
            LAYER_TAR,
            tar(|b| {
                file(b, "one", b"12345678");
                file(b, "two", b"12345678");
                file(b, "three", b"1");
            }),
        );
        let img = image_of(&fx.store, &[l]);
        unpack(&fx.store, &img, &fx.dest(), &limits)
    };
    let (what, value) = limit(run(UnpackLimits {
        max_file_bytes: 7,
        ..UnpackLimits::default()
    }));
    assert!(
        what.contains("max_file_bytes") && what.contains("one"),
        "{what}"
    );
    assert_eq!(value, 7);
    let (what, value) = limit(run(UnpackLimits {
        max_total_bytes: 10,
        ..UnpackLimits::default()
    }));
    assert!(
        what.contains("max_total_bytes") && what.contains("two"),
        "{what}"
    );
    assert_eq!(value, 10);
    let (what, value) = limit(run(UnpackLimits {
        max_entries: 2,
        ..UnpackLimits::default()
    }));
    assert!(what.contains("max_entries"), "{what}");
    assert_eq!(value, 2);
    let exact = UnpackLimits {
        max_total_bytes: 17,
        max_file_bytes: 8,
        max_entries: 3,
    };
    assert_eq!(run(exact).expect("at the limits").bytes, 17);
}

#[test]
fn a_tampered_layer_is_reported_as_a_digest_mismatch() {
    for garbage in [false, true] {
        let fx = Fixture::new();
        let l = layer(LAYER_TAR, tar(|b| file(b, "f", b"genuine")));
        let img = image_of(&fx.store, &[l]);
        let blob = fx
            .root
            .join("layout/blobs/sha256")
            .join(&img.layers[0].digest[7..]);
        let forged = if garbage {
            b"not a tar archive at all".repeat(40)
        } else {
            tar(|b| file(b, "f", b"forged!"))
        };
        fs::write(&blob, forged).expect("tamper");
        match unpack(&fx.store, &img, &fx.dest(), &UnpackLimits::default()) {
            Err(OciError::DigestMismatch { expected, actual }) => {
                assert_eq!(expected, img.layers[0].digest);
                assert_ne!(actual, expected);
            }
            other => panic!("expected a digest mismatch, got {other:?}"),
        }
    }
}

#[test]
fn a_wrong_diff_id_is_reported() {
    let fx = Fixture::new();
    let mut l = layer(LAYER_TAR_GZIP, tar(|b| file(b, "f", b"x")));
    l.diff_id = digest(b"something else");
    let expected = l.diff_id.clone();
    match fx.unpack(&[l]) {
        Err(OciError::DigestMismatch { expected: e, .. }) => assert_eq!(e, expected),
        other => panic!("expected a diff_id mismatch, got {other:?}"),
    }
}

#[test]
fn gzip_and_zstd_layers_unpack() {
    let fx = Fixture::new();
    let layers = [
        layer(LAYER_TAR_GZIP, tar(|b| file(b, "gz", b"gzip layer"))),
        layer(LAYER_TAR_ZSTD, tar(|b| file(b, "zst", b"zstd layer"))),
        layer(
            image::DOCKER_LAYER_GZIP,
            tar(|b| file(b, "docker", b"docker layer")),
        ),
    ];
    let report = fx.unpack(&layers).expect("unpack");
    assert_eq!(report.files, 3);
    assert_eq!(fs::read(fx.dest().join("gz")).expect("gz"), b"gzip layer");
    assert_eq!(fs::read(fx.dest().join("zst")).expect("zst"), b"zstd layer");
    assert_eq!(
        fs::read(fx.dest().join("docker")).expect("docker"),
        b"docker layer"
    );
}

#[test]
fn an_unknown_layer_media_type_is_named() {
    let fx = Fixture::new();
    let l = Layer {
        media_type: "application/x-rar",
        blob: b"Rar!".to_vec(),
        diff_id: digest(b"Rar!"),
    };
    expect_invalid(fx.unpack(&[l]), &["application/x-rar"]);
}

#[test]
fn the_destination_must_be_empty() {
    let fx = Fixture::new();
    fs::create_dir_all(fx.dest()).expect("mkdir");
    fs::write(fx.dest().join("already"), b"here").expect("write");
    let l = layer(LAYER_TAR, tar(|b| file(b, "f", b"x")));
    expect_invalid(fx.unpack(&[l]), &["not empty"]);
}

#[test]
fn put_blob_file_streams_and_open_blob_verifies() {
    let fx = Fixture::new();
    let path = fx.root.join("big");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(&path, &content).expect("write");
    let d = fx.store.put_blob_file(&path).expect("put");
    assert_eq!(d, digest(&content));
    let mut read = Vec::new();
    fx.store
        .open_blob(&d)
        .expect("open")
        .read_to_end(&mut read)
        .expect("read");
    assert_eq!(read, content);
    fs::write(
        fx.root.join("layout/blobs/sha256").join(&d[7..]),
        b"tampered",
    )
    .expect("tamper");
    let err = fx
        .store
        .open_blob(&d)
        .expect("open")
        .read_to_end(&mut Vec::new())
        .expect_err("mismatch");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains(&d), "{err}");
    assert!(err.to_string().contains(&digest(b"tampered")), "{err}");
}

// ---------------------------------------------------------------- peers

/// `skopeo` reads the layout Stella wrote: the manifest bytes it returns are Stella's, and it
/// copies the image out.
#[test]
fn skopeo_reads_a_packed_image() {
    if Command::new("skopeo").arg("--version").output().is_err() {
        stella_testkit::skip(
            "skopeo_reads_a_packed_image",
            "skopeo not installed (apt-get install skopeo)",
        );
        return;
    }
    let fx = Fixture::new();
    let src = fx.root.join("src");
    source_tree(&src);
    let packed = pack_directory(&fx.store, &src, "v1", &PackOptions::default()).expect("pack");
    let reference = format!("oci:{}:v1", fx.root.join("layout").display());
    let inspect = Command::new("skopeo")
        .args(["inspect", "--raw", &reference])
        .output()
        .expect("skopeo inspect");
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    assert_eq!(inspect.stdout, packed.manifest.bytes);

    let out = fx.root.join("copied");
    let copy = Command::new("skopeo")
        .args(["--insecure-policy", "copy", &reference])
        .arg(format!("dir:{}", out.display()))
        .output()
        .expect("skopeo copy");
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let layer = fs::read(out.join(&packed.layer_digest[7..])).expect("copied layer");
    assert_eq!(digest(&layer), packed.layer_digest);

    // skopeo compresses the layer on its way into another layout (its own gzip and zstd
    // writers); Stella unpacks what it wrote to the same tree.
    fs::remove_file(src.join("sock")).expect("rm socket");
    let (want, want_links) = snapshot(&src);
    for (format, media_type) in [("gzip", LAYER_TAR_GZIP), ("zstd", LAYER_TAR_ZSTD)] {
        let layout = fx.root.join(format!("peer-{format}"));
        let copy = Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--dest-compress-format",
                format,
            ])
            .arg(&reference)
            .arg(format!("oci:{}:{format}", layout.display()))
            .output()
            .expect("skopeo copy");
        assert!(
            copy.status.success(),
            "{}",
            String::from_utf8_lossy(&copy.stderr)
        );
        let peer = LayoutStore::open(&layout).expect("peer layout");
        let img = resolve(&peer, &Target::Tag(format.into()), &Platform::host()).expect("resolve");
        assert_eq!(img.layers[0].media_type, media_type);
        assert_ne!(img.layers[0].digest, packed.layer_digest);
        let dest = fx.root.join(format!("rootfs-{format}"));
        unpack(&peer, &img, &dest, &UnpackLimits::default()).expect("unpack");
        let (got, got_links) = snapshot(&dest);
        assert_eq!(got, want, "{format}");
        assert_eq!(got_links, want_links, "{format}");
    }
}
