//! Package databases from hostile bytes: a dpkg status file, an apk installed database and a
//! Python RECORD in one small root filesystem, read as `stella scan` reads an image.
//!
//! Properties: never a panic, abort or hang; every file a package is said to own lies inside
//! the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stella_sbom::rootfs::{self, InventoryLimits};

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.splitn(3, |b| *b == 0).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |path: &str, bytes: &[u8]| {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    };
    write("var/lib/dpkg/status", parts.first().copied().unwrap_or_default());
    write("var/lib/dpkg/info/pkg.list", b"/usr/bin/tool\n/etc/../../escape\n");
    write("usr/bin/tool", b"tool");
    write("lib/apk/db/installed", parts.get(1).copied().unwrap_or_default());
    write(
        "usr/lib/python3/dist-packages/demo-1.0.dist-info/METADATA",
        b"Name: demo\nVersion: 1.0\n",
    );
    write(
        "usr/lib/python3/dist-packages/demo-1.0.dist-info/RECORD",
        parts.get(2).copied().unwrap_or_default(),
    );
    let limits = InventoryLimits {
        max_database_bytes: 1 << 20,
        max_packages: 1000,
    };
    if let Ok(inventory) = rootfs::read_inventory(root, &limits) {
        for p in &inventory.packages {
            for f in &p.files {
                assert!(f.starts_with('/') && !f.split('/').any(|c| c == ".."), "{f}");
            }
        }
    }
});
