//! An image layer from hostile bytes, unpacked: decompression by media type, the tar reader,
//! path normalisation, whiteouts, links and limits.
//!
//! Properties: never a panic, abort or hang; nothing is ever written outside the destination
//! directory (the sibling `outside` directory stays empty).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use stella_oci::image::{self, Image, LayerRef, UnpackLimits};
use stella_oci::store::{ArtifactStore, Stored};
use stella_oci::LayoutStore;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, layer)) = data.split_first() else {
        return;
    };
    let media_type = match selector % 3 {
        0 => image::LAYER_TAR,
        1 => image::LAYER_TAR_GZIP,
        _ => image::LAYER_TAR_ZSTD,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LayoutStore::open(&dir.path().join("layout")).expect("layout");
    let digest = store.put_blob(layer).expect("blob");
    let config = json!({"rootfs": {"type": "layers", "diff_ids": []}});
    let manifest = Stored {
        bytes: b"{}".to_vec(),
        media_type: stella_oci::store::MANIFEST.to_owned(),
        digest: digest.parse::<stella_core::Digest>().expect("a stored digest"),
    };
    let img = Image {
        root: manifest.clone(),
        manifest,
        config,
        config_digest: digest.clone(),
        layers: vec![LayerRef {
            digest,
            media_type: media_type.to_owned(),
            size: layer.len() as u64,
        }],
    };
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let limits = UnpackLimits {
        max_total_bytes: 4 << 20,
        max_file_bytes: 1 << 20,
        max_entries: 1000,
    };
    let _ = image::unpack(&store, &img, &dir.path().join("root"), &limits);
    assert!(
        std::fs::read_dir(&outside).expect("outside").next().is_none(),
        "an entry escaped the destination"
    );
});
