//! cosign's own storage of signatures and attestations, found for an image digest: the legacy
//! tags `sha256-<hex>.sig` and `sha256-<hex>.att` in the image's repository (cosign's signature
//! spec, "Tag-based Discovery"), and in an OCI image layout that `cosign save` wrote, the
//! `index.json` entries it marks with the annotation `kind` = `dev.cosignproject.cosign/sigs` or
//! `…/atts` beside the image's own (`…/image` or `…/imageIndex`).
//!
//! Each such manifest holds one layer per signature: a simple-signing payload
//! ([`SIMPLE_SIGNING`]) with the base64 signature in the layer annotation [`SIGNATURE`], or a
//! DSSE envelope ([`DSSE_ENVELOPE`]) of an in-toto statement with its predicate type in
//! [`PREDICATE_TYPE`]; keyless signatures add the signing certificate ([`CERTIFICATE`]) and its
//! chain ([`CHAIN`]), and a transparency-log entry ([`REKOR_BUNDLE`]) or timestamp
//! ([`RFC3161_TIMESTAMP`]).
//!
//! Everything here is untrusted input read with limits: at most [`MAX_LAYERS`] layers per
//! manifest, each read only when its media type is the one its tag promises and its announced
//! size is within the kind's limit, and read bounded by that size (so a registry cannot make the
//! reader hold more than was announced). A tag whose manifest is not cosign's (an index, another
//! layer type, a missing or oversized blob) is returned with its problems, never dropped and
//! never trusted.
//!
//! What this module does not own: what the payloads mean or whether their signatures verify
//! (`stella-attest`), and Sigstore bundles attached as referrers (ordinary referrers).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use stella_core::Digest;

use crate::OciError;
use crate::reference::Target;
use crate::store::{self, ArtifactStore};

/// Media type of a simple-signing payload layer (a `.sig` manifest's layers).
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Media type of a DSSE envelope layer (a `.att` manifest's layers).
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Layer annotation: the base64 signature over the payload bytes.
pub const SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation: the PEM signing certificate of a keyless signature.
pub const CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation: the PEM chain of the signing certificate.
pub const CHAIN: &str = "dev.sigstore.cosign/chain";
/// Layer annotation: the transparency-log entry (Rekor's signed entry timestamp and body).
pub const REKOR_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation: an RFC 3161 timestamp of the signature.
pub const RFC3161_TIMESTAMP: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Layer annotation of an attestation: its statement's predicate type.
pub const PREDICATE_TYPE: &str = "predicateType";
/// The `index.json` annotation `cosign save` marks its entries with.
pub const LAYOUT_KIND: &str = "kind";

/// Most layers read from one manifest (cosign's own limit).
pub const MAX_LAYERS: usize = 1000;
/// Largest simple-signing payload read: a payload is a few hundred bytes, its optional claims
/// a few more.
pub const MAX_SIGNATURE_PAYLOAD_BYTES: u64 = 1 << 20;
/// Largest attestation envelope read (cosign's default attachment limit: an SBOM attestation
/// carries the whole SBOM).
pub const MAX_ATTESTATION_BYTES: u64 = 128 << 20;
/// Most bytes read from the layers of one manifest altogether.
pub const MAX_MANIFEST_LAYER_BYTES: u64 = 256 << 20;

/// Which of cosign's legacy objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `sha256-<hex>.sig`: simple-signing payloads and their signatures.
    Signatures,
    /// `sha256-<hex>.att`: DSSE envelopes of in-toto statements.
    Attestations,
}

impl Kind {
    /// Both, in the order they are looked up.
    pub const ALL: [Kind; 2] = [Kind::Signatures, Kind::Attestations];

    /// The tag suffix (`sig`, `att`).
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Signatures => "sig",
            Kind::Attestations => "att",
        }
    }

    /// The media type every layer must have.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Kind::Signatures => SIMPLE_SIGNING,
            Kind::Attestations => DSSE_ENVELOPE,
        }
    }

    /// The largest layer read.
    pub fn max_layer_bytes(self) -> u64 {
        match self {
            Kind::Signatures => MAX_SIGNATURE_PAYLOAD_BYTES,
            Kind::Attestations => MAX_ATTESTATION_BYTES,
        }
    }

    /// The `kind` annotation `cosign save` gives such an entry in a layout.
    pub fn layout_kind(self) -> &'static str {
        match self {
            Kind::Signatures => "dev.cosignproject.cosign/sigs",
            Kind::Attestations => "dev.cosignproject.cosign/atts",
        }
    }

    /// `signatures` or `attestations`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Signatures => "signatures",
            Kind::Attestations => "attestations",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tag cosign stores `kind` of the image `image` under: `sha256-<hex>.sig` or `.att`.
pub fn tag(kind: Kind, image: &Digest) -> String {
    format!(
        "{}-{}.{}",
        image.algorithm().name(),
        image.hex(),
        kind.suffix()
    )
}

/// Where a legacy manifest was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "by", content = "name")]
pub enum Origin {
    /// Under this tag.
    Tag(String),
    /// An image layout's `index.json` entry with this `kind` annotation.
    LayoutKind(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Tag(t) => write!(f, "tag {t}"),
            Origin::LayoutKind(k) => write!(f, "index.json kind {k}"),
        }
    }
}

/// One layer of a legacy manifest, with its blob when it could be read.
#[derive(Debug)]
pub struct LegacyLayer {
    /// Its position in the manifest.
    pub index: usize,
    /// Its media type.
    pub media_type: String,
    /// Its digest, as the manifest names it.
    pub digest: String,
    /// Its size, as the manifest announces it.
    pub size: u64,
    /// Its string annotations.
    pub annotations: BTreeMap<String, String>,
    /// The blob (checked against its digest and announced size), or why it was not read.
    pub content: Result<Vec<u8>, LayerProblem>,
}

impl LegacyLayer {
    /// The annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

/// Why a layer's blob was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerProblem {
    /// Not the media type its tag promises.
    #[error("layer media type {found:?} is not cosign's {expected:?}")]
    MediaType {
        /// Found.
        found: String,
        /// The kind's.
        expected: &'static str,
    },
    /// Announced over the kind's limit, or over what is left of the manifest's.
    #[error("layer announced as {size} bytes; at most {limit} are read")]
    TooLarge {
        /// Announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The descriptor has no usable digest or size.
    #[error("layer descriptor: {0}")]
    Descriptor(String),
    /// The store could not give the blob as announced (missing, another size, another digest).
    #[error(transparent)]
    Store(#[from] OciError),
}

/// A legacy manifest found for an image.
#[derive(Debug)]
pub struct LegacyManifest {
    /// Signatures or attestations.
    pub kind: Kind,
    /// Where it was found.
    pub origin: Origin,
    /// Its digest (`None` when it could not even be read).
    pub digest: Option<Digest>,
    /// Its layers (at most [`MAX_LAYERS`]).
    pub layers: Vec<LegacyLayer>,
    /// What makes it not cosign's (not a manifest, too many layers, unreadable): reported,
    /// never trusted.
    pub problems: Vec<String>,
}

/// Every legacy signature and attestation manifest stored for `image` in `store`: the tags in a
/// registry or layout, and the entries `cosign save` marks in a layout.
///
/// # Errors
/// Only when the store fails (unreachable, refusing access); a tag that is absent is no
/// manifest, and one that is not cosign's is returned with its problems.
pub fn find_legacy(
    store: &dyn ArtifactStore,
    image: &Digest,
) -> Result<Vec<LegacyManifest>, OciError> {
    let mut found = Vec::new();
    for kind in Kind::ALL {
        let tag = tag(kind, image);
        match store.get_manifest(&Target::Tag(tag.clone())) {
            Ok(stored) => found.push(read_manifest(store, kind, Origin::Tag(tag), &stored)),
            Err(OciError::NotFound { .. }) => {}
            Err(e) if is_content_problem(&e) => found.push(LegacyManifest {
                kind,
                origin: Origin::Tag(tag),
                digest: None,
                layers: Vec::new(),
                problems: vec![e.to_string()],
            }),
            Err(e) => return Err(e),
        }
    }
    found.extend(saved_layout(store, image)?);
    Ok(found)
}

/// What `cosign save` wrote into a layout: its signature and attestation entries, when the
/// layout's image (or index) entry is `image`.
fn saved_layout(
    store: &dyn ArtifactStore,
    image: &Digest,
) -> Result<Vec<LegacyManifest>, OciError> {
    let mut images = store.annotated_manifests(LAYOUT_KIND, "dev.cosignproject.cosign/image")?;
    images.extend(store.annotated_manifests(LAYOUT_KIND, "dev.cosignproject.cosign/imageIndex")?);
    if !images.contains(image) {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for kind in Kind::ALL {
        for digest in store.annotated_manifests(LAYOUT_KIND, kind.layout_kind())? {
            let origin = Origin::LayoutKind(kind.layout_kind().to_owned());
            match store.get_manifest(&Target::from(&digest)) {
                Ok(stored) => found.push(read_manifest(store, kind, origin, &stored)),
                Err(e) if is_content_problem(&e) || matches!(e, OciError::NotFound { .. }) => {
                    found.push(LegacyManifest {
                        kind,
                        origin,
                        digest: Some(digest),
                        layers: Vec::new(),
                        problems: vec![e.to_string()],
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(found)
}

/// Errors that say the content is bad, not that the store failed.
fn is_content_problem(e: &OciError) -> bool {
    matches!(
        e,
        OciError::Invalid { .. }
            | OciError::TooLarge { .. }
            | OciError::DigestMismatch { .. }
            | OciError::Limit { .. }
    )
}

/// The manifest's layers, each read when it is what `kind` promises.
fn read_manifest(
    store: &dyn ArtifactStore,
    kind: Kind,
    origin: Origin,
    stored: &store::Stored,
) -> LegacyManifest {
    let mut out = LegacyManifest {
        kind,
        origin,
        digest: Some(stored.digest.clone()),
        layers: Vec::new(),
        problems: Vec::new(),
    };
    let value: Value = match serde_json::from_slice(&stored.bytes) {
        Ok(v) => v,
        Err(e) => {
            out.problems.push(format!("the manifest is not JSON: {e}"));
            return out;
        }
    };
    if value.get("manifests").is_some() || stored.media_type == store::INDEX {
        out.problems
            .push("an image index, not the image manifest cosign writes".to_owned());
        return out;
    }
    let Some(layers) = value["layers"].as_array() else {
        out.problems.push("the manifest has no layers".to_owned());
        return out;
    };
    if layers.len() > MAX_LAYERS {
        out.problems.push(format!(
            "{} layers; only the first {MAX_LAYERS} are read",
            layers.len()
        ));
    }
    let mut budget = MAX_MANIFEST_LAYER_BYTES;
    for (index, layer) in layers.iter().take(MAX_LAYERS).enumerate() {
        let read = read_layer(store, kind, index, layer, budget);
        if let Ok(bytes) = &read.content {
            budget = budget.saturating_sub(bytes.len() as u64);
        }
        out.layers.push(read);
    }
    out
}

fn read_layer(
    store: &dyn ArtifactStore,
    kind: Kind,
    index: usize,
    layer: &Value,
    budget: u64,
) -> LegacyLayer {
    let media_type = layer["mediaType"].as_str().unwrap_or_default().to_owned();
    let digest = layer["digest"].as_str().unwrap_or_default().to_owned();
    let size = layer["size"].as_u64();
    let mut out = LegacyLayer {
        index,
        media_type,
        digest,
        size: size.unwrap_or(0),
        annotations: store::annotations_of(layer),
        content: Ok(Vec::new()),
    };
    out.content = (|| {
        if out.media_type != kind.layer_media_type() {
            return Err(LayerProblem::MediaType {
                found: out.media_type.clone(),
                expected: kind.layer_media_type(),
            });
        }
        if !crate::reference::valid_digest(&out.digest) {
            return Err(LayerProblem::Descriptor(format!(
                "digest {:?} is not a digest",
                out.digest
            )));
        }
        let size = size.ok_or_else(|| LayerProblem::Descriptor("no size".to_owned()))?;
        let limit = kind.max_layer_bytes().min(budget);
        if size > limit {
            return Err(LayerProblem::TooLarge { size, limit });
        }
        let bytes = store.get_blob_bounded(&out.digest, size)?;
        if bytes.len() as u64 != size {
            return Err(LayerProblem::Descriptor(format!(
                "the blob is {} bytes; the manifest announces {size}",
                bytes.len()
            )));
        }
        Ok(bytes)
    })();
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::LayoutStore;
    use crate::store::MANIFEST;

    fn digest(hex_byte: char) -> Digest {
        format!("sha256:{}", hex_byte.to_string().repeat(64))
            .parse()
            .expect("digest")
    }

    #[test]
    fn tags_are_cosigns() {
        let d = digest('a');
        assert_eq!(
            tag(Kind::Signatures, &d),
            format!("sha256-{}.sig", "a".repeat(64))
        );
        assert_eq!(
            tag(Kind::Attestations, &d),
            format!("sha256-{}.att", "a".repeat(64))
        );
    }

    fn put_sig_manifest(store: &LayoutStore, image: &Digest, layers: Value) -> String {
        let config = store.put_blob(b"{}").expect("config");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": layers,
        });
        store
            .put_manifest(
                &serde_json::to_vec(&manifest).expect("json"),
                MANIFEST,
                Some(&tag(Kind::Signatures, image)),
            )
            .expect("manifest")
    }

    #[test]
    fn layers_are_read_only_as_announced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(dir.path()).expect("layout");
        let image = digest('b');
        assert!(find_legacy(&store, &image).expect("find").is_empty());
        let payload = br#"{"critical":{}}"#;
        let good = store.put_blob(payload).expect("blob");
        let big = store
            .put_blob(&vec![b' '; (MAX_SIGNATURE_PAYLOAD_BYTES + 1) as usize])
            .expect("blob");
        let missing = format!("sha256:{}", "c".repeat(64));
        put_sig_manifest(
            &store,
            &image,
            json!([
                {"mediaType": SIMPLE_SIGNING, "digest": good, "size": payload.len(),
                 "annotations": {SIGNATURE: "c2ln"}},
                {"mediaType": SIMPLE_SIGNING, "digest": big, "size": MAX_SIGNATURE_PAYLOAD_BYTES + 1},
                {"mediaType": SIMPLE_SIGNING, "digest": missing, "size": 10},
                {"mediaType": "application/octet-stream", "digest": good, "size": payload.len()},
                // Announced smaller than it is: never read past the announcement.
                {"mediaType": SIMPLE_SIGNING, "digest": good, "size": 3},
            ]),
        );
        let found = find_legacy(&store, &image).expect("find");
        assert_eq!(found.len(), 1);
        let m = &found[0];
        assert_eq!(m.kind, Kind::Signatures);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(m.layers.len(), 5);
        assert_eq!(m.layers[0].content.as_deref().ok(), Some(&payload[..]));
        assert_eq!(m.layers[0].annotation(SIGNATURE), Some("c2ln"));
        assert!(matches!(
            m.layers[1].content,
            Err(LayerProblem::TooLarge { .. })
        ));
        assert!(matches!(
            m.layers[2].content,
            Err(LayerProblem::Store(OciError::NotFound { .. }))
        ));
        assert!(matches!(
            m.layers[3].content,
            Err(LayerProblem::MediaType { .. })
        ));
        assert!(matches!(
            m.layers[4].content,
            Err(LayerProblem::Store(OciError::Limit { .. }))
        ));
    }

    #[test]
    fn what_cosign_save_marks_in_a_layout_is_found_for_its_image_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(dir.path()).expect("layout");
        let image = crate::layout::tests::image(&store).digest;
        let payload = br#"{"critical":{}}"#;
        let blob = store.put_blob(payload).expect("blob");
        let config = store.put_blob(b"{}").expect("config");
        let sigs = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [{"mediaType": SIMPLE_SIGNING, "digest": blob, "size": payload.len()}],
        });
        let sigs = store
            .put_manifest(&serde_json::to_vec(&sigs).expect("json"), MANIFEST, None)
            .expect("manifest");
        // `cosign save` names its entries by the `kind` annotation, not by tags.
        let mark = |marks: &[(&str, &str)]| {
            let path = dir.path().join("index.json");
            let mut index: Value =
                serde_json::from_slice(&std::fs::read(&path).expect("index")).expect("json");
            for entry in index["manifests"].as_array_mut().expect("manifests") {
                for (digest, kind) in marks {
                    if entry["digest"] == *digest {
                        entry["annotations"] = json!({LAYOUT_KIND: kind});
                    }
                }
            }
            std::fs::write(&path, serde_json::to_vec(&index).expect("json")).expect("write");
        };
        mark(&[(&sigs, Kind::Signatures.layout_kind())]);
        assert!(
            find_legacy(&store, &image).expect("find").is_empty(),
            "not without the image's own mark"
        );
        mark(&[(&image.to_string(), "dev.cosignproject.cosign/image")]);
        let found = find_legacy(&store, &image).expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].origin,
            Origin::LayoutKind("dev.cosignproject.cosign/sigs".to_owned())
        );
        assert_eq!(
            found[0].layers[0].content.as_deref().ok(),
            Some(&payload[..])
        );
        assert!(find_legacy(&store, &digest('e')).expect("find").is_empty());
    }

    #[test]
    fn an_index_under_the_tag_is_reported_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LayoutStore::open(dir.path()).expect("layout");
        let image = digest('d');
        let index = json!({"schemaVersion": 2, "mediaType": store::INDEX, "manifests": []});
        store
            .put_manifest(
                &serde_json::to_vec(&index).expect("json"),
                store::INDEX,
                Some(&tag(Kind::Attestations, &image)),
            )
            .expect("index");
        let found = find_legacy(&store, &image).expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::Attestations);
        assert!(
            found[0].problems[0].contains("index"),
            "{:?}",
            found[0].problems
        );
    }
}
