//! The auditor's pack: one tar file that holds everything `stella audit verify` needs to
//! verify an image's evidence on a machine with no registry, no log server and an empty home.
//!
//! A pack is a ustar archive written the same way every time (members sorted by path, mode
//! 0644, owner 0:0, mtime 0, no extension headers), so the same inputs give the same bytes. Its
//! first member is `manifest.json`, the RFC 8785 form of [`Manifest`]: every other member's
//! path, SHA-256, size and [`Role`]. Reading a pack ([`read`]) refuses, before anything is
//! used or written, a pack over its size limit, a member whose path is absolute, holds `..`
//! or is not plain UTF-8, anything that is not a regular file (links, devices, extension
//! headers), a duplicate path, a member the manifest does not list or whose bytes do not
//! hash to what it says, and a listed member that is missing. Each refusal names the member
//! and the check.
//!
//! The members are laid out as:
//! - `oci/…`: an OCI image layout holding the image (with `--with-binaries`, its layers;
//!   otherwise its manifests and config only) and every referrer, recursively;
//! - `log/checkpoint` and `log/tile/…`: the log's signed checkpoint when the pack was made and
//!   the hash tiles that prove every packed log entry's checkpoint consistent with it;
//! - `trust/trusted_root.json` and `trust/keys/*.pub`: the trusted root naming the log and the
//!   public keys the evidence was signed with.
//!
//! What this module does not own: choosing what goes in (the caller walks the store and the
//! log), or verifying the evidence (the [`crate::verify`] replay, run on the unpacked layout).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use stella_core::Digest;

/// The manifest's member path.
pub const MANIFEST: &str = "manifest.json";

/// The manifest's `schema`.
pub const SCHEMA: &str = "stella.audit-pack/v1";

/// What a member is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// `oci/oci-layout` and `oci/index.json`.
    OciLayout,
    /// A blob of the OCI layout: a manifest, a config, a layer, an evidence document.
    OciBlob,
    /// The log's signed checkpoint.
    Checkpoint,
    /// A hash tile of the log.
    Tile,
    /// The Sigstore trusted root.
    TrustedRoot,
    /// A public key.
    Key,
    /// An advisory document a packed verdict rests on, as imported (its SHA-256 is the
    /// digest the verdict's replay record names).
    Advisory,
}

/// One member listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listed {
    /// Its path in the pack.
    pub path: String,
    /// `sha256:<hex>` of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// What it is for.
    pub role: Role,
}

/// The pack's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The image, as it was named when the pack was made.
    pub image: String,
    /// The image's manifest digest.
    pub digest: String,
    /// The tag the image has in the packed OCI layout.
    pub tag: String,
    /// Whether the image's layers (its binaries) are packed.
    pub binaries: bool,
    /// Every other member, sorted by path.
    pub members: Vec<Listed>,
}

/// A member to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its path in the pack.
    pub path: String,
    /// What it is for.
    pub role: Role,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// How large a pack may be when read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The whole archive.
    pub max_bytes: u64,
    /// Members.
    pub max_members: usize,
}

impl Default for Limits {
    /// 8 GiB, a million members.
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 30,
            max_members: 1_000_000,
        }
    }
}

/// Why a pack cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// A member was refused.
    #[error("{member}: {reason}")]
    Member {
        /// The member's path (as the archive spells it).
        member: String,
        /// Which check failed.
        reason: String,
    },
    /// The archive as a whole was refused.
    #[error("{0}")]
    Archive(String),
}

impl PackError {
    fn member(member: &str, reason: impl Into<String>) -> Self {
        PackError::Member {
            member: member.to_owned(),
            reason: reason.into(),
        }
    }
}

impl stella_core::Kinded for PackError {
    fn kind(&self) -> stella_core::ErrorKind {
        stella_core::ErrorKind::Invalid
    }
}

/// Whether `path` may name a member: relative, plain UTF-8 components, no `.` or `..`, no
/// backslashes or NUL, at most 255 bytes.
fn valid_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > 255 {
        return Err("an empty path, or one longer than 255 bytes".to_owned());
    }
    if path.contains(['\\', '\0']) || path.ends_with('/') || path.contains("//") {
        return Err("a path with a backslash, NUL or empty component".to_owned());
    }
    for c in Path::new(path).components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => return Err("a path that climbs out with `..`".to_owned()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path".to_owned());
            }
            Component::CurDir => return Err("a path with a `.` component".to_owned()),
        }
    }
    Ok(())
}

fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) -> Result<(), PackError> {
    stella_binary::symbols::bundle::append_fixed(tar, path, bytes)
        .map_err(|e| PackError::member(path, e.to_string()))
}

/// The pack of `members` about `image`: the manifest first, then the members sorted by path.
///
/// # Errors
/// [`PackError::Member`] for a path a pack may not hold, a duplicate path, or one the archive
/// format cannot spell.
pub fn write(
    image: &str,
    digest: &str,
    tag: &str,
    binaries: bool,
    mut members: Vec<Member>,
) -> Result<(Manifest, Vec<u8>), PackError> {
    members.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in members.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(PackError::member(&pair[0].path, "appears twice"));
        }
    }
    for m in &members {
        valid_path(&m.path).map_err(|why| PackError::member(&m.path, why))?;
        if m.path == MANIFEST {
            return Err(PackError::member(MANIFEST, "is the manifest's own path"));
        }
    }
    let manifest = Manifest {
        schema: SCHEMA.to_owned(),
        image: image.to_owned(),
        digest: digest.to_owned(),
        tag: tag.to_owned(),
        binaries,
        members: members
            .iter()
            .map(|m| Listed {
                path: m.path.clone(),
                sha256: Digest::sha256(&m.bytes).to_string(),
                size: m.bytes.len() as u64,
                role: m.role,
            })
            .collect(),
    };
    let json = stella_core::jcs::to_canonical(&manifest)
        .map_err(|e| PackError::member(MANIFEST, e.to_string()))?;
    let mut tar = tar::Builder::new(Vec::new());
    append(&mut tar, MANIFEST, &json)?;
    for m in &members {
        append(&mut tar, &m.path, &m.bytes)?;
    }
    let bytes = tar
        .into_inner()
        .map_err(|e| PackError::Archive(format!("finishing the archive: {e}")))?;
    Ok((manifest, bytes))
}

/// A pack read and checked: its manifest and every member's bytes by path.
#[derive(Debug)]
pub struct Pack {
    /// The manifest.
    pub manifest: Manifest,
    /// Every member but the manifest, by path.
    pub members: BTreeMap<String, Vec<u8>>,
}

/// Reads the pack in `reader` (at most `limits.max_bytes`), checking every member as the
/// module documentation says.
///
/// # Errors
/// [`PackError`] naming the member and the check, for the first that fails.
pub fn read(reader: impl std::io::Read, limits: &Limits) -> Result<Pack, PackError> {
    let mut limited = reader.take(limits.max_bytes.saturating_add(1));
    let mut bytes = Vec::new();
    limited
        .read_to_end(&mut bytes)
        .map_err(|e| PackError::Archive(format!("unreadable: {e}")))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(PackError::Archive(format!(
            "larger than the limit of {} bytes",
            limits.max_bytes
        )));
    }
    let damaged = |e: std::io::Error| PackError::Archive(format!("not a tar archive: {e}"));
    let mut archive = tar::Archive::new(&bytes[..]);
    // Raw: extension headers (PAX, GNU long names) are members like any other, and refused.
    let entries = archive.entries().map_err(damaged)?.raw(true);
    let mut manifest: Option<Manifest> = None;
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (count, entry) in entries.enumerate() {
        let mut entry = entry.map_err(damaged)?;
        if count >= limits.max_members {
            return Err(PackError::Archive(format!(
                "more than {} members",
                limits.max_members
            )));
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = std::str::from_utf8(&raw)
            .map_err(|_| PackError::member(&shown, "a path that is not UTF-8"))?
            .to_owned();
        valid_path(&path).map_err(|why| PackError::member(&path, why))?;
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(PackError::member(
                &path,
                format!(
                    "is not a regular file (tar type {:?}): a pack holds files only",
                    char::from(kind.as_byte())
                ),
            ));
        }
        let size = entry.size();
        let mut content = Vec::new();
        (&mut entry)
            .take(size)
            .read_to_end(&mut content)
            .map_err(|e| PackError::member(&path, format!("unreadable: {e}")))?;
        if content.len() as u64 != size {
            return Err(PackError::member(
                &path,
                format!(
                    "truncated: the header says {size} bytes, the archive holds {}",
                    content.len()
                ),
            ));
        }
        let Some(listed) = &manifest else {
            if path != MANIFEST {
                return Err(PackError::member(
                    &path,
                    "comes before manifest.json, which must be the first member",
                ));
            }
            let m: Manifest = serde_json::from_slice(&content)
                .map_err(|e| PackError::member(MANIFEST, format!("not a pack manifest: {e}")))?;
            if m.schema != SCHEMA {
                return Err(PackError::member(
                    MANIFEST,
                    format!("schema {:?}, this Stella reads {SCHEMA:?}", m.schema),
                ));
            }
            manifest = Some(m);
            continue;
        };
        if path == MANIFEST || members.contains_key(&path) {
            return Err(PackError::member(&path, "appears twice"));
        }
        let Some(entry) = listed.members.iter().find(|l| l.path == path) else {
            return Err(PackError::member(&path, "is not listed in manifest.json"));
        };
        let actual = Digest::sha256(&content).to_string();
        if actual != entry.sha256 {
            return Err(PackError::member(
                &path,
                format!(
                    "its bytes hash to {actual}, manifest.json says {}: the member was changed",
                    entry.sha256
                ),
            ));
        }
        members.insert(path, content);
    }
    let manifest = manifest.ok_or_else(|| PackError::Archive("an empty archive".to_owned()))?;
    if let Some(missing) = manifest
        .members
        .iter()
        .find(|l| !members.contains_key(&l.path))
    {
        return Err(PackError::member(
            &missing.path,
            "is listed in manifest.json but not in the pack",
        ));
    }
    Ok(Pack { manifest, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(path: &str, bytes: &[u8]) -> Member {
        Member {
            path: path.to_owned(),
            role: Role::OciBlob,
            bytes: bytes.to_vec(),
        }
    }

    fn pack(members: Vec<Member>) -> Vec<u8> {
        write("img", "sha256:00", "image", false, members)
            .expect("written")
            .1
    }

    #[test]
    fn the_same_members_in_any_order_give_the_same_bytes_and_read_back() {
        let a = pack(vec![member("oci/b", b"two"), member("oci/a", b"one")]);
        let b = pack(vec![member("oci/a", b"one"), member("oci/b", b"two")]);
        assert_eq!(a, b);
        let read = read(&a[..], &Limits::default()).expect("reads");
        assert_eq!(read.members["oci/a"], b"one");
        assert_eq!(read.manifest.members.len(), 2);
    }

    /// A raw tar with one member after the manifest of `listed`, the header written by hand.
    fn raw_pack(listed: &[Listed], path: &str, kind: tar::EntryType, bytes: &[u8]) -> Vec<u8> {
        let manifest = Manifest {
            schema: SCHEMA.to_owned(),
            image: "img".to_owned(),
            digest: "sha256:00".to_owned(),
            tag: "image".to_owned(),
            binaries: false,
            members: listed.to_vec(),
        };
        let json = serde_json::to_vec(&manifest).expect("json");
        let mut tar = tar::Builder::new(Vec::new());
        append(&mut tar, MANIFEST, &json).expect("manifest");
        let mut header = tar::Header::new_gnu();
        // Written into the raw name field: `set_path` itself refuses `..` and absolute paths.
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(kind);
        header.set_cksum();
        tar.append(&header, bytes).expect("member");
        tar.into_inner().expect("archive")
    }

    fn listed(path: &str, bytes: &[u8]) -> Listed {
        Listed {
            path: path.to_owned(),
            sha256: Digest::sha256(bytes).to_string(),
            size: bytes.len() as u64,
            role: Role::OciBlob,
        }
    }

    #[test]
    fn hostile_members_are_refused_by_name() {
        let limits = Limits::default();
        let refused = |bytes: Vec<u8>, expected: &str| {
            let e = read(&bytes[..], &limits).expect_err("refused");
            assert!(e.to_string().contains(expected), "{e}");
        };
        refused(
            raw_pack(&[], "../etc/passwd", tar::EntryType::Regular, b"x"),
            "../etc/passwd: a path that climbs out",
        );
        refused(
            raw_pack(&[], "/etc/passwd", tar::EntryType::Regular, b"x"),
            "/etc/passwd: an absolute path",
        );
        refused(
            raw_pack(&[], "oci/link", tar::EntryType::Symlink, b""),
            "oci/link: is not a regular file",
        );
        refused(
            raw_pack(&[], "oci/extra", tar::EntryType::Regular, b"x"),
            "oci/extra: is not listed",
        );
        refused(
            raw_pack(
                &[listed("oci/a", b"x")],
                "oci/a",
                tar::EntryType::Regular,
                b"y",
            ),
            "oci/a: its bytes hash to",
        );
        refused(
            raw_pack(
                &[listed("oci/a", b"x"), listed("oci/b", b"z")],
                "oci/a",
                tar::EntryType::Regular,
                b"x",
            ),
            "oci/b: is listed in manifest.json but not in the pack",
        );
        let mut twice = raw_pack(
            &[listed("oci/a", b"x")],
            "oci/a",
            tar::EntryType::Regular,
            b"x",
        );
        let end = twice.len() - 1024;
        let again = twice[end - 1024..end].to_vec();
        twice.splice(end..end, again);
        refused(twice, "oci/a: appears twice");
        let small = Limits {
            max_bytes: 100,
            max_members: 10,
        };
        let e = read(&pack(vec![member("oci/a", b"x")])[..], &small).expect_err("too large");
        assert!(e.to_string().contains("larger than the limit"), "{e}");
        assert!(read(&b"not a tar"[..], &limits).is_err());
        assert!(write("i", "d", "t", false, vec![member("a/../b", b"")]).is_err());
    }
}
