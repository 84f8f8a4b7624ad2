//! The auditor's pack, end to end: exported twice to the same bytes, verified with an empty
//! home, and attacked — a flipped byte, a member changed with its manifest line, a dropped log
//! tile, another key, a member whose path climbs out.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use stella_evidence::pack;

fn stella(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("stella").expect("stella binary is built");
    cmd.env_remove("STELLA_LOG")
        .env("STELLA_PASSWORD", "audit-tests")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("STELLA_HOME", home);
    cmd
}

struct Scanned {
    work: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    image: String,
}

/// `stella scan` of `root` into `home`: the image reference.
fn scan(home: &Path, root: &Path) -> String {
    let out = stella(home)
        .arg("scan")
        .arg(root)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).expect("json")["image"]
        .as_str()
        .expect("image")
        .to_owned()
}

fn scanned() -> Scanned {
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("app");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::copy("/bin/true", root.join("bin/true")).expect("copy");
    let home = work.path().join("home");
    let image = scan(&home, &root);
    Scanned {
        work,
        home,
        root,
        image,
    }
}

fn export(s: &Scanned, name: &str, extra: &[&str]) -> PathBuf {
    let out = s.work.path().join(name);
    let o = stella(&s.home)
        .args(["audit", "export", "--image", &s.image, "-o"])
        .arg(&out)
        .args(extra)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// `stella` with `home`, in a network namespace of its own (no interface up, no route), as an
/// auditor's machine without network: `unshare --net` (root). Without it the command runs
/// here, and says so; under `STELLA_REQUIRE_PEERS=1` that fails the test.
pub(crate) fn offline(home: &Path) -> std::process::Command {
    let bin = assert_cmd::cargo::cargo_bin("stella");
    let isolated = std::process::Command::new("unshare")
        .args(["--net", "--", "cat", "/proc/net/route"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count() <= 1);
    let mut cmd = match isolated {
        Some(true) => {
            let mut c = std::process::Command::new("unshare");
            c.args(["--net", "--"]).arg(bin);
            c
        }
        _ => {
            stella_testkit::skip(
                "offline",
                "`unshare --net` cannot make a namespace without routes here (needs root): \
                 running with the host's network",
            );
            std::process::Command::new(bin)
        }
    };
    cmd.env_remove("STELLA_LOG")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DEBUGINFOD_URLS")
        .env("STELLA_HOME", home);
    cmd
}

/// `stella audit verify` with a fresh, empty home and no network: (exit code, stdout, stderr).
fn verify(s: &Scanned, pack: &Path, extra: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let empty = tempfile::tempdir().expect("tempdir");
    let o = offline(empty.path())
        .args(["audit", "verify"])
        .arg(pack)
        .args(extra)
        .output()
        .expect("runs");
    let _ = s;
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The pack at `path` rewritten by `change` (its manifest made to agree).
fn rewrite(path: &Path, out: &Path, change: impl FnOnce(&mut Vec<pack::Member>)) {
    let read = pack::read(
        std::fs::File::open(path).expect("open"),
        &pack::Limits::default(),
    )
    .expect("reads");
    let mut members: Vec<pack::Member> = read
        .manifest
        .members
        .iter()
        .map(|l| pack::Member {
            path: l.path.clone(),
            role: l.role,
            bytes: read.members[&l.path].clone(),
        })
        .collect();
    change(&mut members);
    let (_, bytes) = pack::write(
        &read.manifest.image,
        &read.manifest.digest,
        &read.manifest.tag,
        read.manifest.binaries,
        members,
    )
    .expect("written");
    std::fs::write(out, bytes).expect("write");
}

#[test]
fn a_pack_is_deterministic_and_verifies_on_an_empty_home() {
    let s = scanned();
    let one = export(&s, "one.tar", &["--with-binaries"]);
    let two = export(&s, "two.tar", &["--with-binaries"]);
    assert_eq!(
        std::fs::read(&one).expect("read"),
        std::fs::read(&two).expect("read"),
        "the same image exports to the same bytes"
    );
    let (code, stdout, stderr) = verify(&s, &one, &[std::ffi::OsStr::new("--json")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["verified"], true, "{report:#}");
    assert_eq!(report["replayed"], true);
    assert_eq!(report["keys"], "the keys in the pack");

    // Without the binaries, FuncProofs replay only against a root filesystem given, or the
    // signatures alone are checked when asked; never a silent pass.
    let slim = export(&s, "slim.tar", &[]);
    let (code, _, stderr) = verify(&s, &slim, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot be replayed"), "{stderr}");
    let (code, stdout, stderr) = verify(&s, &slim, &[std::ffi::OsStr::new("--signatures-only")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("FuncProofs not replayed"), "{stdout}");
    let (code, stdout, stderr) = verify(
        &s,
        &slim,
        &[std::ffi::OsStr::new("--rootfs"), s.root.as_os_str()],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("VERIFIED"), "{stdout}");
}

#[test]
fn every_attack_on_a_pack_is_named() {
    let s = scanned();
    let good = export(&s, "good.tar", &["--with-binaries"]);
    let bytes = std::fs::read(&good).expect("read");
    let read = pack::read(&bytes[..], &pack::Limits::default()).expect("reads");

    // A flipped byte in the SBOM's blob: the member and the check are named.
    let sbom = read
        .members
        .iter()
        .find(|(p, b)| p.starts_with("oci/blobs/") && b.starts_with(b"{\"bomFormat\""))
        .map(|(p, b)| (p.clone(), b.clone()))
        .expect("the SBOM is packed");
    let at = bytes
        .windows(sbom.1.len())
        .position(|w| w == sbom.1.as_slice())
        .expect("the SBOM's bytes are in the archive");
    let mut flipped = bytes.clone();
    flipped[at + 20] ^= 1;
    let path = s.work.path().join("flipped.tar");
    std::fs::write(&path, &flipped).expect("write");
    let (code, _, stderr) = verify(&s, &path, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&sbom.0) && stderr.contains("its bytes hash to"),
        "{stderr}"
    );

    // One byte flipped in a member of each kind: each is named, with the check that failed.
    let mut kinds = std::collections::BTreeSet::new();
    for listed in &read.manifest.members {
        if !kinds.insert(format!("{:?}", listed.role)) {
            continue;
        }
        let member = &read.members[&listed.path];
        let at = bytes
            .windows(member.len())
            .position(|w| w == member.as_slice())
            .expect("each member's bytes are in the archive");
        let mut flipped = bytes.clone();
        flipped[at + member.len() / 2] ^= 0x20;
        let path = s.work.path().join("flipped-kind.tar");
        std::fs::write(&path, &flipped).expect("write");
        let (code, _, stderr) = verify(&s, &path, &[]);
        assert_eq!(code, Some(1), "{:?}: {stderr}", listed.role);
        assert!(
            stderr.contains(&listed.path) && stderr.contains("its bytes hash to"),
            "{:?}: {stderr}",
            listed.role
        );
    }
    for kind in [
        "OciLayout",
        "OciBlob",
        "Checkpoint",
        "Tile",
        "TrustedRoot",
        "Key",
    ] {
        assert!(kinds.contains(kind), "{kind} is packed: {kinds:?}");
    }

    // The same change made by someone who also rewrote the manifest: the pack reads, and the
    // evidence no longer verifies.
    let forged = s.work.path().join("forged.tar");
    rewrite(&good, &forged, |members| {
        for m in members.iter_mut().filter(|m| m.path == sbom.0) {
            m.bytes[20] ^= 1;
        }
    });
    let (code, stdout, stderr) = verify(&s, &forged, &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAILED") || stdout.contains("failed"),
        "{stdout}{stderr}"
    );

    // A log tile dropped: the entries' checkpoints can no longer be proven consistent with the
    // packed one.
    let tiles = read
        .manifest
        .members
        .iter()
        .filter(|l| l.role == pack::Role::Tile)
        .count();
    assert!(
        tiles > 0,
        "the pack holds the tiles of its consistency proofs"
    );
    let untiled = s.work.path().join("untiled.tar");
    rewrite(&good, &untiled, |members| {
        members.retain(|m| m.role != pack::Role::Tile);
    });
    let (code, stdout, stderr) = verify(&s, &untiled, &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("consisten"),
        "the unproven consistency is named: {stdout}{stderr}"
    );

    // Another key pinned: nothing the pack holds is trusted.
    stella(&s.home)
        .args(["key", "generate", "--out"])
        .arg(s.work.path().join("other"))
        .assert()
        .success();
    let other = s.work.path().join("other.pub");
    let (code, stdout, stderr) = verify(
        &s,
        &good,
        &[std::ffi::OsStr::new("--key"), other.as_os_str()],
    );
    assert_eq!(code, Some(1), "{stdout}{stderr}");

    // A member whose path climbs out: refused before anything is written.
    let mut tar = tar::Builder::new(Vec::new());
    let manifest = serde_json::to_vec(&read.manifest).expect("json");
    let mut header = tar::Header::new_ustar();
    header.set_path(pack::MANIFEST).expect("path");
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append(&header, &manifest[..]).expect("append");
    let mut header = tar::Header::new_gnu();
    let name = b"../../escaped";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(1);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append(&header, &b"x"[..]).expect("append");
    let hostile = s.work.path().join("deep/er/hostile.tar");
    std::fs::create_dir_all(hostile.parent().expect("parent")).expect("mkdir");
    std::fs::write(&hostile, tar.into_inner().expect("tar")).expect("write");
    let (code, _, stderr) = verify(&s, &hostile, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("../../escaped: a path that climbs out"),
        "{stderr}"
    );
    assert!(!s.work.path().join("escaped").exists());
    assert!(!s.work.path().join("deep/escaped").exists());

    // Over the size limit: refused as a whole.
    let (code, _, stderr) = verify(
        &s,
        &good,
        &[
            std::ffi::OsStr::new("--max-size"),
            std::ffi::OsStr::new("1K"),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("larger than the limit"), "{stderr}");
}

#[test]
fn the_evidence_a_signed_verdict_cites_is_checked_in_the_pack() {
    let test = "the_evidence_a_signed_verdict_cites_is_checked_in_the_pack";
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("capps");
    if let Err(e) = crate::assess::build_c(work.path(), &root) {
        stella_testkit::skip(test, &format!("cannot build the zlib programs: {e}"));
        return;
    }
    let home = work.path().join("home");
    let image = scan(&home, &root);
    let advisories = crate::assess::zlib_advisory(work.path(), "TEST-ZLIB-3", &[]);
    let assessed = stella(&home)
        .args(["assess", "--image", &image, "--advisories"])
        .arg(&advisories)
        .arg("--attach")
        .output()
        .expect("runs");
    assert!(
        assessed.status.success(),
        "{}",
        String::from_utf8_lossy(&assessed.stderr)
    );
    let pack = work.path().join("capps.pack.tar");
    let exported = stella(&home)
        .args([
            "audit",
            "export",
            "--image",
            &image,
            "--with-binaries",
            "-o",
        ])
        .arg(&pack)
        .arg("--advisories")
        .arg(&advisories)
        .output()
        .expect("runs");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let empty = tempfile::tempdir().expect("tempdir");
    let o = stella(empty.path())
        .args(["audit", "verify", "--json"])
        .arg(&pack)
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    let cited = report["citations"].as_array().expect("citations");
    // The compressor's not_affected: its FuncProof searched again, inflateGetHeader still absent.
    assert!(
        cited.iter().any(|c| c["status"] == "ok"
            && c["claim"]
                .as_str()
                .is_some_and(|s| s.contains("/usr/bin/compressor"))
            && c["detail"]
                .as_str()
                .is_some_and(|d| d.contains("absence searched again"))),
        "{report:#}"
    );
    // Every VEX statement's evidence is in the pack.
    assert!(
        cited
            .iter()
            .any(|c| c["claim"].as_str().is_some_and(|s| s.starts_with("vex "))),
        "{report:#}"
    );
    assert!(cited.iter().all(|c| c["status"] == "ok"), "{report:#}");
}

/// A copy of the directory tree at `from` in `to`.
fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("under"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_pack_since_a_checkpoint_proves_the_log_only_grew() {
    let s = scanned();
    let seen = s.work.path().join("seen.checkpoint");
    std::fs::copy(s.home.join("log/checkpoint"), &seen).expect("copy");
    // A copy of the log that then takes other entries: the same key, another history.
    let fork = s.work.path().join("fork");
    copy_tree(&s.home, &fork);
    let other = s.work.path().join("other");
    std::fs::create_dir_all(other.join("bin")).expect("mkdir");
    std::fs::copy("/bin/false", other.join("bin/false")).expect("copy");
    scan(&fork, &other);
    // The log grows: more entries than the fork holds.
    scan(&s.home, &other);
    scan(&s.home, &s.root);

    let pack = export(
        &s,
        "since.tar",
        &["--with-binaries", "--since", &seen.to_string_lossy()],
    );
    let (code, stdout, stderr) = verify(&s, &pack, &[std::ffi::OsStr::new("--json")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let seen_size = std::fs::read_to_string(&seen)
        .expect("read")
        .lines()
        .nth(1)
        .and_then(|l| l.parse::<u64>().ok())
        .expect("a size");
    assert_eq!(report["since"]["checkpoint"], seen_size, "{report:#}");
    assert!(
        report["since"]["packed"].as_u64() > Some(seen_size),
        "{report:#}"
    );

    // Without the tiles between the two, the packed checkpoint is not proven to extend it.
    let untiled = s.work.path().join("since-untiled.tar");
    rewrite(&pack, &untiled, |members| {
        members.retain(|m| m.role != pack::Role::Tile);
    });
    let (code, stdout, stderr) = verify(&s, &untiled, &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("not proven consistent with log/since-checkpoint"),
        "{stderr}"
    );

    // The fork's checkpoint is signed by the same key, and the log does not extend it.
    let forked = stella(&s.home)
        .args(["audit", "export", "--image", &s.image, "-o"])
        .arg(s.work.path().join("forked.tar"))
        .arg("--since")
        .arg(fork.join("log/checkpoint"))
        .output()
        .expect("runs");
    assert_eq!(forked.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&forked.stderr);
    assert!(stderr.contains("the log forked"), "{stderr}");
    assert!(!s.work.path().join("forked.tar").exists());

    // A note of another log entirely is not a checkpoint of this one.
    let stranger = s.work.path().join("stranger");
    scan(&stranger, &other);
    let foreign = stella(&s.home)
        .args(["audit", "export", "--image", &s.image, "-o"])
        .arg(s.work.path().join("foreign.tar"))
        .arg("--since")
        .arg(stranger.join("log/checkpoint"))
        .output()
        .expect("runs");
    assert_eq!(foreign.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&foreign.stderr).contains("not a checkpoint of the log"),
        "{}",
        String::from_utf8_lossy(&foreign.stderr)
    );
}
