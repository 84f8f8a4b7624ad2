//! Package inventories of synthetic root filesystems (and of a real Debian one, when present).

use stella_sbom::SbomError;
use stella_sbom::rootfs::{Ecosystem, Inventory, InventoryLimits, Package, read_inventory};

use crate::common::{Tree, alpine_tree, debian_tree, python_tree};

fn package<'a>(inv: &'a Inventory, name: &str) -> &'a Package {
    inv.packages
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no package {name} in {:#?}", inv.packages))
}

#[test]
fn debian_status_lists_and_relations() {
    let t = debian_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let os = inv.os.as_ref().unwrap();
    assert_eq!(os.id, "debian");
    assert_eq!(os.version_id.as_deref(), Some("12"));

    let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bash",
            "bsd-mailx",
            "evil",
            "exim4-daemon-light",
            "libc6-dev",
            "libc6",
            "libgcc-s1"
        ],
        "sorted by purl; the removed and the malformed paragraphs are left out"
    );
    let purls: Vec<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
    let mut sorted = purls.clone();
    sorted.sort();
    assert_eq!(purls, sorted);

    let libc = package(&inv, "libc6");
    assert_eq!(
        libc.purl,
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12"
    );
    assert_eq!(libc.ecosystem, Ecosystem::Deb);
    assert_eq!(libc.arch.as_deref(), Some("amd64"));
    assert_eq!(
        libc.supplier.as_deref(),
        Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
    );
    assert!(libc.licenses.is_empty(), "dpkg states no licences");
    assert_eq!(libc.source, "var/lib/dpkg/status");
    assert_eq!(
        package(&inv, "libc6-dev").purl,
        "pkg:deb/debian/libc6-dev@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc",
        "the source package, named as distributions' advisories name it"
    );
    // Multi-arch `.list` name, merged /usr: `/lib/...` is recorded at its real place.
    assert_eq!(libc.files, ["/usr/lib/x86_64-linux-gnu/libc.so.6"]);
    assert_eq!(libc.depends, ["libgcc-s1"]);

    // Pre-Depends + Depends; uninstalled names dropped; `a | b:any` → the first installed.
    assert_eq!(package(&inv, "bash").depends, ["libc6"]);
    assert_eq!(package(&inv, "bash").files, ["/usr/bin/bash"]);
    // `default-mta | mail-transport-agent`: the virtual name is provided by exim.
    assert_eq!(
        package(&inv, "bsd-mailx").depends,
        ["exim4-daemon-light", "libc6"],
        "held packages are installed too"
    );
    assert_eq!(package(&inv, "libgcc-s1").depends, ["libc6"]);
    assert_eq!(
        package(&inv, "exim4-daemon-light").files,
        ["/usr/sbin/exim"]
    );

    // A listed symlink gives its target only when nobody lists the target.
    assert_eq!(
        package(&inv, "libc6-dev").files,
        ["/usr/lib/x86_64-linux-gnu/lonely.so.1"]
    );

    // The database is a symlink to /etc/hostname and lists paths through a symlink to /etc:
    // both resolve inside the root.
    assert_eq!(package(&inv, "evil").files, ["/etc/passwd"]);
    assert_eq!(
        package(&inv, "evil").purl,
        "pkg:deb/debian/evil@1?arch=all&distro=debian-12"
    );

    assert_eq!(
        inv.owner_of("/usr/lib/x86_64-linux-gnu/libc.so.6")
            .map(|p| p.name.as_str()),
        Some("libc6")
    );
    assert_eq!(
        inv.owner_of("/usr/bin/bash").map(|p| p.name.as_str()),
        Some("bash")
    );
    assert!(
        inv.owner_of("/bin/bash").is_none(),
        "walk paths, not listed ones"
    );
    assert!(
        inv.owner_of("/usr/lib").is_none(),
        "directories are not owned"
    );

    assert_eq!(
        inv.warnings,
        [
            "var/lib/dpkg/status:59: not a `Field: value` line: \"this line is not a field\"; \
          paragraph starting at line 57 skipped"
        ]
    );
}

#[test]
fn distroless_status_d_with_md5sums() {
    let t = Tree::new();
    t.symlink("lib", "usr/lib")
        .file("usr/lib/x86_64-linux-gnu/libc.so.6", "libc")
        .file("etc/debian_version", "12.8")
        .file(
            "var/lib/dpkg/status.d/libc6",
            "Package: libc6\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n",
        )
        .file(
            "var/lib/dpkg/status.d/libc6.md5sums",
            "0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\nbad\n",
        )
        .file(
            "var/lib/dpkg/status.d/base-files",
            "Package: base-files\nVersion: 12.4+deb12u8\nArchitecture: amd64\n",
        );
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    assert!(inv.os.is_none());
    let libc = package(&inv, "libc6");
    assert_eq!(
        libc.purl, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64",
        "namespace debian, no distro qualifier without os-release"
    );
    assert_eq!(libc.source, "var/lib/dpkg/status.d/libc6");
    assert_eq!(libc.files, ["/usr/lib/x86_64-linux-gnu/libc.so.6"]);
    assert!(package(&inv, "base-files").files.is_empty());
    assert_eq!(
        inv.warnings,
        ["var/lib/dpkg/status.d/libc6.md5sums:2: not a `md5  path` line"]
    );
}

#[test]
fn apk_database() {
    let t = alpine_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let musl = package(&inv, "musl");
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
    );
    assert_eq!(musl.ecosystem, Ecosystem::Apk);
    assert_eq!(musl.licenses, ["MIT"]);
    assert_eq!(
        musl.supplier.as_deref(),
        Some("Natanael Copa <ncopa@alpinelinux.org>")
    );
    assert_eq!(musl.files, ["/lib/ld-musl-x86_64.so.1"]);
    assert_eq!(musl.source, "lib/apk/db/installed");
    // `so:` dependencies resolved through `p:` provides; conflicts ignored.
    assert_eq!(package(&inv, "busybox").depends, ["musl"]);
    assert_eq!(package(&inv, "busybox").files, ["/bin/busybox"]);
    assert_eq!(package(&inv, "zlib").depends, ["musl"]);
    assert_eq!(package(&inv, "zlib").files, ["/usr/lib/libz.so.1.3.1"]);
    assert_eq!(package(&inv, "zlib").licenses, ["Zlib"]);
    assert_eq!(inv.packages.len(), 3);
    assert_eq!(inv.warnings.len(), 1, "{:?}", inv.warnings);
    assert!(
        inv.warnings[0].starts_with("lib/apk/db/installed:"),
        "{:?}",
        inv.warnings
    );
    assert_eq!(
        inv.owner_of("/usr/lib/libz.so.1.3.1")
            .map(|p| p.name.as_str()),
        Some("zlib")
    );
}

#[test]
fn python_dist_info_and_owner_precedence() {
    let t = python_tree();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    let sp = "/usr/local/lib/python3.11/site-packages";
    let arrow = package(&inv, "arrow");
    assert_eq!(arrow.purl, "pkg:pypi/arrow@1.4.0");
    assert_eq!(arrow.ecosystem, Ecosystem::Pypi);
    assert_eq!(arrow.licenses, ["Apache-2.0"]);
    assert_eq!(arrow.arch, None);
    assert_eq!(arrow.depends, ["python-dateutil", "tzdata"]);
    assert_eq!(
        arrow.source,
        "usr/local/lib/python3.11/site-packages/arrow-1.4.0.dist-info/METADATA"
    );
    assert_eq!(
        arrow.files,
        [
            "/usr/local/bin/arrow-cli".to_owned(),
            format!("{sp}/arrow-1.4.0.dist-info/METADATA"),
            format!("{sp}/arrow-1.4.0.dist-info/RECORD"),
            format!("{sp}/arrow/__init__.py"),
            format!("{sp}/arrow/_speedups.cpython-311-x86_64-linux-gnu.so"),
            format!("{sp}/arrow/odd,name.py"),
        ]
    );
    assert_eq!(
        package(&inv, "python-dateutil").purl,
        "pkg:pypi/python-dateutil@4.0.0"
    );
    assert_eq!(package(&inv, "python-dateutil").licenses, ["Dual License"]);
    assert!(
        package(&inv, "tzdata").licenses.is_empty(),
        "a multi-line License is licence text, not a name"
    );
    assert!(inv.packages.iter().all(|p| p.name != "inner"));

    // The .so is listed by both the wheel's RECORD and a dpkg package: the wheel owns it.
    let so = format!("{sp}/arrow/_speedups.cpython-311-x86_64-linux-gnu.so");
    assert_eq!(inv.owner_of(&so).map(|p| p.name.as_str()), Some("arrow"));
    assert!(package(&inv, "python3-arrow").files.contains(&so));
}

#[test]
fn limits_are_precise_errors() {
    let t = debian_tree();
    let limits = InventoryLimits {
        max_database_bytes: 100,
        ..InventoryLimits::default()
    };
    let err = read_inventory(t.root(), &limits).unwrap_err();
    assert!(
        matches!(&err, SbomError::DatabaseTooLarge { path, limit: 100, size } if path == "var/lib/dpkg/status" && *size > 100),
        "{err}"
    );
    assert_eq!(
        stella_core::Kinded::kind(&err),
        stella_core::ErrorKind::TooLarge
    );
    let limits = InventoryLimits {
        max_packages: 3,
        ..InventoryLimits::default()
    };
    let err = read_inventory(t.root(), &limits).unwrap_err();
    assert!(
        matches!(&err, SbomError::TooManyPackages { path, limit: 3 } if path == "var/lib/dpkg/status"),
        "{err}"
    );
    let limits = InventoryLimits {
        max_packages: 7,
        ..InventoryLimits::default()
    };
    assert_eq!(read_inventory(t.root(), &limits).unwrap().packages.len(), 7);

    let err = read_inventory(&t.root().join("missing"), &InventoryLimits::default()).unwrap_err();
    assert!(matches!(err, SbomError::Io { .. }), "{err}");
    assert_eq!(
        stella_core::Kinded::kind(&err),
        stella_core::ErrorKind::NotFound
    );
    let err = read_inventory(
        &t.root().join("etc/os-release"),
        &InventoryLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, SbomError::NotADirectory { .. }), "{err}");
    assert_eq!(
        stella_core::Kinded::kind(&err),
        stella_core::ErrorKind::Invalid
    );
}

#[test]
fn empty_root_has_no_packages() {
    let t = Tree::new();
    let inv = read_inventory(t.root(), &InventoryLimits::default()).unwrap();
    assert_eq!(inv, Inventory::default());
}

/// The Debian 12 minbase root filesystem `.ci/run` makes with debootstrap
/// (`$STELLA_TEST_ROOTFS`); without it the test says loudly that it checked nothing, and fails
/// under `STELLA_REQUIRE_PEERS=1`.
#[test]
fn real_debian_rootfs_when_present() {
    let root = match stella_testkit::debian_rootfs() {
        Ok(root) => root,
        Err(looked_at) => {
            stella_testkit::skip(
                "real_debian_rootfs_when_present",
                &format!(
                    "no Debian root filesystem at {}: {}",
                    looked_at.display(),
                    stella_testkit::DEBIAN_ROOTFS_HOWTO
                ),
            );
            return;
        }
    };
    let inv = read_inventory(&root, &InventoryLimits::default()).unwrap();
    assert!(inv.packages.len() >= 80, "{}", inv.packages.len());
    assert!(inv.warnings.is_empty(), "{:#?}", inv.warnings);
    let owner = |p: &str| inv.owner_of(p).map(|p| p.name.as_str());
    assert_eq!(owner("/usr/lib/x86_64-linux-gnu/libc.so.6"), Some("libc6"));
    assert_eq!(owner("/usr/bin/bash"), Some("bash"));
    let bash = package(&inv, "bash");
    assert!(
        bash.depends.contains(&"libc6".to_owned()),
        "{:?}",
        bash.depends
    );
    assert!(
        bash.purl.starts_with("pkg:deb/debian/bash@"),
        "{}",
        bash.purl
    );
    assert!(
        bash.purl.contains("?arch=amd64&distro=debian-12"),
        "{}",
        bash.purl
    );
    // Debian's bash is a binNMU (`+bN`): advisories version its source without the suffix.
    if let Some((_, nmu)) = bash.version.rsplit_once("+b") {
        assert!(nmu.bytes().all(|b| b.is_ascii_digit()), "{}", bash.version);
        assert!(bash.purl.contains("&upstream=bash%40"), "{}", bash.purl);
    }
}
