//! Synthetic root filesystems, binary facts and the validation every generated document passes.

use std::path::{Path, PathBuf};

use stella_core::jcs::Limits;
use stella_sbom::generate::{BinaryFacts, FuncProofRef};
use stella_sbom::validate::validate_value;
use stella_sbom::{SbomDocument, SpecVersion};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// Asserts that `doc` is CycloneDX 1.7, valid against the official (embedded) schema, with no
/// semantic problem.
pub fn assert_valid(doc: &serde_json::Value) {
    assert_valid_as(doc, SpecVersion::V1_7);
}

/// Asserts that `doc` is CycloneDX `version`, valid against that version's official schema (the
/// shared fixtures' copy; 1.4 from the embedded one), with no semantic problem.
pub fn assert_valid_as(doc: &serde_json::Value, version: SpecVersion) {
    let bytes = serde_json::to_vec(doc).unwrap();
    let read = SbomDocument::read(&bytes, Limits::default()).expect("CycloneDX");
    assert_eq!(read.spec_version(), version);
    let report = validate_value(read.value(), Some(&fixtures().join("cyclonedx/schema"))).unwrap();
    assert!(
        report.is_valid(),
        "{:#?}\n{}",
        report.problems,
        serde_json::to_string_pretty(doc).unwrap()
    );
}

/// RFC 8785 text (a string, so that a failed comparison prints readably).
pub fn canonical(doc: &serde_json::Value) -> String {
    String::from_utf8(stella_core::jcs::to_canonical(doc).unwrap()).unwrap()
}

/// A directory tree under construction.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, path: &str) -> PathBuf {
        let p = self.root().join(path.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        p
    }

    pub fn file(&self, path: &str, contents: impl AsRef<[u8]>) -> &Self {
        std::fs::write(self.host(path), contents).unwrap();
        self
    }

    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.host(path)).unwrap();
        self
    }
}

/// dpkg status of the Debian tree: multi-arch names, Pre-Depends, alternatives, Provides, a held
/// package, a removed one, a malformed paragraph.
const DPKG_STATUS: &str = "\
Package: libc6
Status: install ok installed
Priority: optional
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u14
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 More text.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Version: 12.2.0-14+deb12u1
Depends: gcc-12-base (= 12.2.0-14+deb12u1), libc6 (>= 2.35)

Package: bash
Essential: yes
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b13
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1) | libc6:any

Package: bsd-mailx
Status: hold ok installed
Architecture: amd64
Version: 8.1.2-0.20220412cvs-1
Depends: default-mta | mail-transport-agent, libc6 (>= 2.34)

Package: exim4-daemon-light
Status: install ok installed
Architecture: amd64
Version: 4.96-15+deb12u4
Provides: mail-transport-agent, mail-transport-agent:amd64 (= 4.96)

Package: libc6-dev
Status: install ok installed
Architecture: amd64
Source: glibc (2.36-9+deb12u14)
Version: 2.36-9+deb12u14
Depends: libc6 (= 2.36-9+deb12u14)

Package: removed
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: evil
Status: install ok installed
Architecture: all
Version: 1

Package: broken
Status: install ok installed
this line is not a field
Version: 1
";

/// A merged-/usr Debian 12 root filesystem in miniature.
pub fn debian_tree() -> Tree {
    let t = Tree::new();
    t.file(
        "usr/lib/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    )
    .symlink("etc/os-release", "../usr/lib/os-release")
    .symlink("lib", "usr/lib")
    .symlink("bin", "usr/bin")
    .symlink("sbin", "usr/sbin")
    .file("usr/lib/x86_64-linux-gnu/libc.so.6", "libc")
    .file("usr/lib/x86_64-linux-gnu/libgcc_s.so.1", "libgcc")
    .symlink("usr/lib/x86_64-linux-gnu/libc.so", "libc.so.6")
    .file("usr/lib/x86_64-linux-gnu/lonely.so.1", "nobody lists me")
    .symlink("usr/bin/only-link", "../lib/x86_64-linux-gnu/lonely.so.1")
    .file("usr/bin/bash", "bash")
    .file("usr/bin/mail", "mail")
    .file("usr/sbin/exim", "exim")
    .file("etc/passwd", "root:x:0:0")
    // A symlink escaping to /etc: resolved inside the root, never on the host.
    .symlink("usr/share/evil", "/etc")
    .file("var/lib/dpkg/status", DPKG_STATUS)
    .file(
        "var/lib/dpkg/info/libc6:amd64.list",
        "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n",
    )
    .file(
        "var/lib/dpkg/info/libgcc-s1:amd64.list",
        "/.\n/lib/x86_64-linux-gnu/libgcc_s.so.1\n",
    )
    .file(
        "var/lib/dpkg/info/bash.list",
        "/.\n/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n",
    )
    .file("var/lib/dpkg/info/bsd-mailx.list", "/usr/bin/mail\n")
    .file("var/lib/dpkg/info/exim4-daemon-light.list", "/sbin/exim\n")
    .file(
        "var/lib/dpkg/info/libc6-dev.list",
        "/usr/lib/x86_64-linux-gnu/libc.so\n/usr/bin/only-link\n",
    )
    // The database itself is an absolute symlink: it must be read from the root's /etc.
    .symlink("var/lib/dpkg/info/evil.list", "/etc/hostname")
    .file(
        "etc/hostname",
        "/usr/share/evil/passwd\n/../../../etc/passwd\n/usr/share/evil/../../../../shadow\n",
    );
    t
}

/// An Alpine root filesystem in miniature.
pub fn alpine_tree() -> Tree {
    let t = Tree::new();
    t.file(
        "etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    )
    .file("lib/ld-musl-x86_64.so.1", "musl")
    .symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1")
    .file("bin/busybox", "busybox")
    .symlink("bin/sh", "/bin/busybox")
    .file("usr/lib/libz.so.1.3.1", "zlib")
    .symlink("usr/lib/libz.so.1", "libz.so.1.3.1")
    .file(
        "lib/apk/db/installed",
        "\
C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1xyz=
R:libc.musl-x86_64.so.1

C:Q1def=
P:busybox
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
D:so:libc.musl-x86_64.so.1 !busybox-extras
p:cmd:busybox=1.36.1-r29 /bin/sh
F:bin
R:busybox
R:sh

C:Q1ghi=
P:zlib
V:1.3.1-r1
A:x86_64
L:Zlib
D:so:libc.musl-x86_64.so.1 musl>=1.2
p:so:libz.so.1=1.3.1
F:usr/lib
R:libz.so.1
R:libz.so.1.3.1

P:no-version
A:x86_64
",
    );
    t
}

/// Python distributions under a site-packages directory, plus a dpkg package listing one of the
/// same files.
pub fn python_tree() -> Tree {
    let t = Tree::new();
    let sp = "usr/local/lib/python3.11/site-packages";
    t.file(
        "etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .file(
        &format!("{sp}/arrow-1.4.0.dist-info/METADATA"),
        "\
Metadata-Version: 2.4
Name: arrow
Version: 1.4.0
Summary: Better dates & times for Python
License-Expression: Apache-2.0
Requires-Dist: python-dateutil>=2.7.0
Requires-Dist: tzdata ; python_version >= \"3.9\"
Requires-Dist: pytest ; extra == \"test\"
Requires-Dist: not-installed

Long description, not headers: Name: nope
",
    )
    .file(
        &format!("{sp}/arrow-1.4.0.dist-info/RECORD"),
        "\
arrow/__init__.py,sha256=abc,100
arrow/_speedups.cpython-311-x86_64-linux-gnu.so,sha256=def,200
\"arrow/odd,name.py\",,
../../../bin/arrow-cli,,
arrow-1.4.0.dist-info/RECORD,,
arrow-1.4.0.dist-info/METADATA,,
",
    )
    .file(&format!("{sp}/arrow/__init__.py"), "")
    .file(
        &format!("{sp}/arrow/_speedups.cpython-311-x86_64-linux-gnu.so"),
        "elf",
    )
    .file(&format!("{sp}/arrow/odd,name.py"), "")
    .file("usr/local/bin/arrow-cli", "#!python")
    .file(
        &format!("{sp}/python_dateutil-4.0.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: python-dateutil\nVersion: 4.0.0\nLicense: Dual License\n",
    )
    .file(
        &format!("{sp}/tzdata-2026.6.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: tzdata\nVersion: 2026.6\nLicense: Apache-2.0\n Apache License text\n",
    )
    // Not directly under site-packages: not a distribution.
    .file(
        &format!("{sp}/vendored/inner-1.0.dist-info/METADATA"),
        "Name: inner\nVersion: 1.0\n",
    )
    .file("usr/lib/x86_64-linux-gnu/libc.so.6", "libc")
    .file(
        "var/lib/dpkg/status",
        "Package: python3-arrow\nStatus: install ok installed\nArchitecture: all\nVersion: 1.4.0-1\n\n\
         Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u14\n",
    )
    .file(
        "var/lib/dpkg/info/python3-arrow.list",
        format!("/{sp}/arrow/_speedups.cpython-311-x86_64-linux-gnu.so\n"),
    )
    .file(
        "var/lib/dpkg/info/libc6:amd64.list",
        "/usr/lib/x86_64-linux-gnu/libc.so.6\n",
    );
    t
}

/// Facts about a binary; hashes derived from `seed` so each binary differs.
pub fn binary(path: &str, kind: &str, seed: u8) -> BinaryFacts {
    BinaryFacts {
        path: path.to_owned(),
        other_paths: Vec::new(),
        sha256: format!("{seed:02x}").repeat(32),
        blake3: format!("{:02x}", seed.wrapping_add(128)).repeat(32),
        sha1: None,
        size: 1000 + u64::from(seed),
        format: "elf".to_owned(),
        arch: "x86_64".to_owned(),
        kind: kind.to_owned(),
        build_id: Some(format!("{seed:02x}").repeat(20)),
        build_id_source: "gnu-note".to_owned(),
        soname: None,
        needed: Vec::new(),
        funcproof: None,
        auditable: Vec::new(),
        embedded: Vec::new(),
    }
}

/// A FuncProof reference.
pub fn funcproof(seed: u8, functions: usize) -> Option<FuncProofRef> {
    Some(FuncProofRef {
        digest: format!("sha256:{}", format!("{seed:02x}").repeat(32)),
        functions,
    })
}
